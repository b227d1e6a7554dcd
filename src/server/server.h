/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve`: a local HTTP server with a JSON API under /api/v1/, Server-Sent Events for
 * live updates, Prometheus metrics and the embedded web dashboard. Submitted experiments run on
 * one background thread each with the same engine as `morphling run`. API and security rules:
 * docs/api.md.
 *
 * Safety rules enforced here:
 * - every request but /healthz and the dashboard's static files needs the token as a bearer
 *   header, or the session the login URL /?token=... hands to the page (new at each start, sent
 *   the same way; never a cookie, which browsers send to every port of the host); without a
 *   token (--no-auth) the listener must be a loopback address;
 * - the Host header must name this server (no DNS rebinding);
 * - an Origin header on a POST/DELETE must be the server's own origin;
 * - request bodies, heads, connection counts (per client address too), event streams, idle
 *   times and the experiments running at once are bounded.
 *
 * Ownership: options are borrowed for the call to mp_server_start and copied.
 * Thread-safety: mp_server_start/stop are called from one thread; the server runs its own
 * threads, each with its own store handle. */
#ifndef MP_SERVER_H
#define MP_SERVER_H

#include <stdatomic.h>

#include "core/core.h"

#define MP_SERVER_MAX_BODY_BYTES          (1u << 20)  /* request bodies (a spec) */
#define MP_SERVER_MAX_HEADER_BYTES        (32u << 10) /* the request head: line and headers */
#define MP_SERVER_MAX_REQUEST_LINE_BYTES  (8u << 10)
#define MP_SERVER_MAX_HEADER_FIELDS       100u /* in one head (gate.c says why these counts) */
#define MP_SERVER_MAX_COOKIES             200u /* pairs in the Cookie fields */
#define MP_SERVER_MAX_QUERY_ARGS          100u
#define MP_SERVER_HEAD_TIMEOUT_S          10   /* the whole head must arrive within this */
#define MP_SERVER_BODY_TIMEOUT_S          60   /* and the body within this after the head */
#define MP_SERVER_IDLE_TIMEOUT_S          30u  /* a connection the daemon serves, idle */
#define MP_SERVER_MAX_PENDING             512u /* connections waiting for their head */
#define MP_SERVER_MAX_CONNECTIONS         256u /* requests being served, streams included */
#define MP_SERVER_MAX_PER_ADDRESS         32u  /* of each of the two above, per client address */
#define MP_SERVER_MAX_STREAMS             64u  /* open event streams */
#define MP_SERVER_MAX_STREAMS_PER_ADDRESS 16u
#define MP_SERVER_MIN_TOKEN_LEN           16u
#define MP_SERVER_DEFAULT_MAX_RUNNING     4u /* experiments the API runs at once */
#define MP_SERVER_MAX_MAX_RUNNING         64u

struct mp_server_opts {
    const char *listen;      /* "HOST:PORT", "[V6]:PORT"; default "127.0.0.1:8080"; port 0 = any */
    const char *db_path;     /* store file */
    const char *token;       /* access token; NULL = no authentication (loopback only) */
    const char *public_host; /* extra accepted Host value ("name:port") when a token is set */
    const char *base_dir;    /* relative paths in submitted specs resolve here; NULL = cwd */
    /* Non-NULL: the store is a mirror (serve --kube); requests that create, cancel or delete
     * experiments are refused with 409 "read_only" and this message. */
    const char *read_only;
    /* Experiments the API runs at once (1..MP_SERVER_MAX_MAX_RUNNING; 0: the default). One
     * more is refused with 429 "too_many_running" before anything is stored. */
    unsigned max_running;
};

struct mp_server;

/* Binds and starts serving. Refuses a non-loopback address without a token. */
int mp_server_start(const struct mp_server_opts *opts, struct mp_server **out,
                    struct mp_error *err) MP_WUR;
/* The bound port (useful with port 0). */
unsigned mp_server_port(const struct mp_server *srv);
/* Stops accepting requests, ends event streams, interrupts running experiments (they stay
 * INTERRUPTED and resume with `morphling run`) and frees the server. NULL is allowed. */
void mp_server_stop(struct mp_server *srv);

/* `serve --kube`: a mirror of a cluster's ProfilingExperiments and Trials in a store
 * (kube_mirror.c). Two threads list and watch them and copy experiments (the object's spec, its
 * state from the conditions) and trials (number, configuration, state, metrics, failure) as the
 * operator wrote them; an experiment deleted from the cluster is deleted from the store. Store
 * names: the object's name, or "NAMESPACE.NAME" when ns is NULL (every namespace). The client
 * is borrowed and must outlive the mirror. */
struct mp_kube_client;
struct mp_kube_mirror_opts {
    struct mp_kube_client *client;
    const char *ns; /* NULL: every namespace */
    const char *db_path;
};
struct mp_kube_mirror;
int mp_kube_mirror_start(const struct mp_kube_mirror_opts *o, struct mp_kube_mirror **out,
                         struct mp_error *err) MP_WUR;
/* Stops both threads and frees the mirror. NULL is allowed. */
void mp_kube_mirror_stop(struct mp_kube_mirror *m);

/* Request checks, exposed for unit tests. */
/* Whether a numeric address or "localhost" is a loopback address. */
bool mp_server_host_is_loopback(const char *host);
/* Splits "HOST:PORT" / "[V6]:PORT" into host (without brackets) and port. */
int mp_server_parse_listen(const char *listen, char *host, size_t host_len, unsigned *port,
                           struct mp_error *err) MP_WUR;
/* Whether a Host header value names this server: 127.0.0.1:PORT, localhost:PORT, [::1]:PORT,
 * or `extra` (may be NULL). */
bool mp_server_host_allowed(const char *host_header, unsigned port, const char *extra);
/* Whether an Origin header is acceptable for a state-changing request: absent, or exactly
 * "http://" or "https://" + the (already accepted) Host header. */
bool mp_server_origin_allowed(const char *origin, const char *host_header);
/* Checks a whole request head (up to and including its blank line) for what the HTTP library
 * would refuse with an HTML page: 0 when fine, else the status (400, 411 for a chunked body,
 * 413 for a bad or too large Content-Length, 414 for too many query arguments, 431 for too many
 * header fields or cookies) with a JSON error code and message (static). */
unsigned mp_server_head_check(const char *head, size_t len, const char **code, const char **msg);
/* Constant-time check of an "Authorization: Bearer TOKEN" header value. */
bool mp_server_token_ok(const char *authorization, const char *token);
/* Constant-time comparison of a given token (may be NULL) with the expected one. */
bool mp_server_token_equal(const char *given, const char *token);

/* A login session's value: 64 hex digits from getrandom, new at each start of the server.
 * Returns owned in *out. */
int mp_server_session_new(char **out, struct mp_error *err) MP_WUR;
/* The access token kept in `path`: read when the file exists (it must be a regular file of this
 * user, closed to group and others, holding one word of at least MP_SERVER_MIN_TOKEN_LEN
 * characters of printable ASCII), else created there (mode 0600) from getrandom as 64 hex
 * digits, *created set. Returns owned in *token. */
int mp_server_token_load(const char *path, char **token, bool *created,
                         struct mp_error *err) MP_WUR;

/* Embedded dashboard files. */
struct mp_asset {
    const char *path; /* URL path, e.g. "/app.js" */
    const char *content_type;
    const unsigned char *data;
    size_t len;
    const char *etag; /* a strong validator, quoted: the first 16 hex digits of its SHA-256 */
};
/* NULL when absent. */
const struct mp_asset *mp_server_asset(const char *path);

#endif
