/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/kube (and by its tests and fuzz drivers): the configuration's fields, the
 * credential cache, the Status and watch-stream decoders, and small codecs. */
#ifndef MP_KUBE_INT_H
#define MP_KUBE_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "kube/kube.h"

#define MP_KUBE_MAX_EVENT_BYTES (16u << 20) /* one watch event line */
#define MP_KUBE_EXEC_MAX_OUTPUT (1u << 20)  /* an exec plugin's stdout */
#define MP_KUBE_MAX_FIELD_FILE  (1u << 20)  /* a token, CA or key file a kubeconfig names */

/* Bytes decoded from a *-data field, or read from a file. */
struct mp_kube_blob {
    unsigned char *data;
    size_t len;
};

/* users[].user.exec */
struct mp_kube_exec {
    char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
    char *command;
    char **argv; /* command, args..., NULL */
    char **env;  /* "NAME=value", NULL-terminated */
    char *install_hint;
    bool provide_cluster_info;
    char *cluster_config; /* JSON of the cluster's exec extension, or NULL */
    char *where;          /* "FILE:LINE:COL: 'users[0].user.exec'" for messages */
};

struct mp_kube_config {
    char *source;
    char *context;
    char *ns;
    char *server;
    char *tls_where;  /* where the cluster was defined, for TLS errors */
    char *auth_note;  /* for a 401: whose credentials were refused, or why none were sent */
    char *cert_where; /* where the client certificate and key were given, for TLS errors */
    char *ca_file;
    struct mp_kube_blob ca_data;
    bool insecure;
    /* tls-server-name: requests go to tls_url (server with the host replaced by that name, which
     * TLS sends and verifies) over a connection to the server's own host, curl's CONNECT_TO
     * entry connect_to ("NAME:PORT:HOST:PORT"); NULL when unset or for http://. */
    char *tls_server_name, *tls_url, *connect_to;
    char *proxy_url;
    char *token;
    char *token_file;
    char *cert_file;
    char *key_file;
    struct mp_kube_blob cert_data;
    struct mp_kube_blob key_data;
    struct mp_kube_exec *exec;
    bool in_cluster;
};

/* ---- credentials (cred.c, exec.c) ---- */

/* What one try authenticates with; owned copies. */
struct mp_kube_auth_snap {
    char *token;    /* bearer token or NULL */
    char *cert_pem; /* client certificate from an exec plugin, or NULL */
    char *key_pem;  /* its key */
    unsigned gen;   /* generation of the credential, for mp_kube_cred_invalidate */
    bool refreshable;
};

struct mp_kube_cred {
    pthread_mutex_t mu;
    pthread_cond_t done; /* an exec plugin run has ended (CLOCK_MONOTONIC) */
    bool refreshing;     /* a call runs the exec plugin, without mu held */
    const struct mp_kube_config *cfg;
    mp_kube_clock_fn clock;
    void *clock_ud;
    char *token;
    char *cert_pem, *key_pem;
    int64_t expiry_ns; /* 0: none */
    unsigned gen;
    bool stale; /* refresh before the next use */
    /* token file identity when last read */
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns;
    off_t size;
};

void mp_kube_cred_init(struct mp_kube_cred *cr, const struct mp_kube_config *cfg,
                       mp_kube_clock_fn clock, void *clock_ud);
void mp_kube_cred_release(struct mp_kube_cred *cr);
/* Current credential, refreshing it first when expired, changed on disk or invalidated.
 * deadline_ns (monotonic, 0: none) bounds an exec plugin run, and the wait for one that another
 * call runs (MP_EDEADLINE): a plugin that hangs for one call holds no other past its deadline. */
int mp_kube_cred_get(struct mp_kube_cred *cr, int64_t deadline_ns, struct mp_kube_auth_snap *out,
                     struct mp_error *err) MP_WUR;
/* The server refused the credential of generation gen (401): refresh before the next use. */
void mp_kube_cred_invalidate(struct mp_kube_cred *cr, unsigned gen);
void mp_kube_auth_snap_release(struct mp_kube_auth_snap *s);

/* The result of an exec plugin run. */
struct mp_kube_exec_cred {
    char *token;
    char *cert_pem, *key_pem;
    int64_t expiry_ns; /* 0: does not expire */
};
/* Runs the plugin (explicit argv, no shell) with KUBERNETES_EXEC_INFO and decodes its
 * ExecCredential. */
int mp_kube_exec_run(const struct mp_kube_config *cfg, int64_t deadline_ns,
                     struct mp_kube_exec_cred *out, struct mp_error *err) MP_WUR;
/* Decodes an ExecCredential (stdout of a plugin); `where` names the plugin in messages. */
int mp_kube_exec_decode(const char *text, size_t len, const char *api_version, const char *where,
                        struct mp_kube_exec_cred *out, struct mp_error *err) MP_WUR;
void mp_kube_exec_cred_release(struct mp_kube_exec_cred *ec);

/* ---- Status and errors (status.c) ---- */

/* The error code for a Status reason, or for the HTTP status when reason is NULL or unknown. */
int mp_kube_reason_code(const char *reason, long http_status);
/* Sets err from a failed answer: decodes a Status body when there is one, else quotes the
 * start of the body. verb and path name the call. Returns the code. retry_after_s (may be
 * NULL) receives details.retryAfterSeconds, or -1. */
int mp_kube_status_error(const char *verb, const char *path, long http_status, const char *body,
                         size_t len, int64_t *retry_after_s, struct mp_error *err);
/* Same for a decoded Status object (a watch ERROR event). */
int mp_kube_status_json_error(const char *verb, const char *path, const json_t *status,
                              long http_status, struct mp_error *err);

/* ---- watch stream decoder (status.c) ---- */

/* Splits a watch body into lines of JSON and hands each event to fn. */
struct mp_kube_wdec {
    struct mp_buf line;
    size_t max_line;
    mp_kube_event_fn fn;
    void *ud;
    const char *verb, *path; /* for messages */
    unsigned events;
};

void mp_kube_wdec_init(struct mp_kube_wdec *d, mp_kube_event_fn fn, void *ud, const char *verb,
                       const char *path);
void mp_kube_wdec_release(struct mp_kube_wdec *d);
/* Feeds n bytes. Returns 0, fn's non-zero value, MP_EPARSE / MP_ETOOBIG for a malformed
 * stream, or the code of an ERROR event (MP_EEXPIRED for 410). */
int mp_kube_wdec_feed(struct mp_kube_wdec *d, const char *data, size_t n, struct mp_error *err);
/* End of stream: a last line without a newline is decoded. */
int mp_kube_wdec_finish(struct mp_kube_wdec *d, struct mp_error *err);

/* ---- transport (client.c) ---- */

/* One call: what to send and how it may be retried. */
struct mp_kube_req {
    const char *verb;   /* for messages: "get", "create", ... */
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *path;   /* below the server, without the query (messages quote it) */
    const char *query;  /* "" or "?k=v&..." */
    const char *content_type;
    const char *body;
    size_t body_len;
    bool idempotent;            /* may be resent after a lost answer */
    struct mp_kube_wdec *watch; /* non-NULL: stream a 2xx body into it */
    int64_t stream_ms;          /* watch: how long the open stream may last (0: unbounded) */
};

/* Sends r with retries (see kube.h). On 0, body (may be NULL for a watch) holds the 2xx
 * answer. */
int mp_kube_send(struct mp_kube_client *c, const struct mp_kube_req *r,
                 const struct mp_kube_opts *o, struct mp_buf *body, struct mp_error *err) MP_WUR;
/* Exponential backoff with jitter for try number `attempt` (1 = first retry). */
int64_t mp_kube_backoff_ms(struct mp_kube_client *c, unsigned attempt);
/* Waits delay_ms unless cancel fires first (MP_ECANCELLED) or the client's sleep seam says
 * stop (MP_ECANCELLED). */
int mp_kube_pause(struct mp_kube_client *c, struct mp_kube_cancel *cancel, int64_t delay_ms);
/* The client's default call timeout. */
int64_t mp_kube_default_timeout_ms(const struct mp_kube_client *c);

/* ---- codecs (object.c) ---- */

/* Standard base64 with padding; whitespace is skipped. MP_EINVALID when malformed. */
int mp_kube_base64_decode(const char *in, struct mp_kube_blob *out) MP_WUR;
char *mp_kube_base64_encode(const unsigned char *data, size_t len);
void mp_kube_blob_release(struct mp_kube_blob *b);
/* Whether s can go into an HTTP header: no control characters (a token with a newline would
 * inject headers). */
bool mp_kube_header_safe(const char *s);

#endif
