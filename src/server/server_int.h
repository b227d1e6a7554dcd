/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the server's files: the server object, per-request state, response
 * helpers, the job table (experiments running in this process), event streams and metrics. */
#ifndef MP_SERVER_INT_H
#define MP_SERVER_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>

#include "server/server.h"
#include "spec/spec.h"
#include "store/store.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

/* 413 as a number: libmicrohttpd renamed its constant (REQUEST_ENTITY_TOO_LARGE, then
 * PAYLOAD_TOO_LARGE, now CONTENT_TOO_LARGE) and warns on the old names, so no one name builds
 * cleanly against every version. */
#define HTTP_TOO_LARGE 413u

struct job;
struct gate;
struct stream;

/* Request counters for /metrics, keyed by (route, method, status). */
struct req_count {
    char route[32];
    char method[8];
    unsigned status;
    uint64_t count;
};

#define MP_LATENCY_BUCKETS 9

struct metrics {
    pthread_mutex_t lock;
    struct req_count *counts;
    size_t n_counts;
    uint64_t latency_buckets[MP_LATENCY_BUCKETS]; /* cumulative at output time */
    uint64_t latency_count;
    double latency_sum_s;
};

struct mp_server {
    struct MHD_Daemon *daemon;
    char *db_path;
    char *token;
    char *public_host;
    char *base_dir;
    char *read_only;        /* serve --kube: why experiments cannot be changed here */
    char *listen_host_port; /* accepted as Host when a token is set */
    /* The dashboard's credential, a bearer like the token: new at each start, never the token.
     * A tab left open on a stopped server sends it to whoever binds the port next, and that
     * port's pages can read what the page kept: a value of this start opens no later one. */
    char *session;
    unsigned port;
    atomic_bool stopping;
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_cond; /* a job stopped by mp_srv_job_stop_wait left the list */
    struct job *jobs;
    unsigned max_running;
    unsigned jobs_reserved; /* slots taken by requests between reserve and start (jobs_lock) */
    struct metrics metrics;
    struct gate *gate;
    pthread_mutex_t streams_lock;
    struct stream *streams; /* open event streams, at most MP_SERVER_MAX_STREAMS */
    size_t n_streams;
};

/* One request: its body and what the response was (for metrics). */
struct request {
    struct mp_buf body;
    bool too_big;
    bool answered; /* a response was queued early */
    int64_t start_ns;
    unsigned status;
    const char *route; /* static label for metrics */
    char method[8];
    const char *allow;      /* a 405's Allow header (static): the route's methods */
    const json_t *warnings; /* borrowed, while answering: strings sent as Warning headers */
};

/* Responses. Each returns the MHD result of queueing and records the status in req. */
mhd_result mp_srv_send_json(struct MHD_Connection *c, struct request *req, unsigned status,
                            json_t *body); /* takes ownership of body */
mhd_result mp_srv_send_error(struct MHD_Connection *c, struct request *req, unsigned status,
                             const char *code, const char *fmt, ...) MP_PRINTF(5, 6);
mhd_result mp_srv_send_bytes(struct MHD_Connection *c, struct request *req, unsigned status,
                             const char *content_type, const void *data, size_t len, bool copy);
void mp_srv_add_common_headers(struct MHD_Response *resp, bool is_html);
/* The query argument `name` (NULL when absent or empty); MP_EINVALID when it is given twice
 * (the library would answer the first, the client may have meant the other). */
int mp_srv_query_arg(struct MHD_Connection *c, const char *name, const char **out,
                     struct mp_error *err) MP_WUR;
/* MP_EINVALID naming the first query argument not in known (NULL-terminated), with the ones the
 * route takes: a misspelt argument (?fromat=) is refused, not ignored. */
int mp_srv_query_known(struct MHD_Connection *c, const char *const *known,
                       struct mp_error *err) MP_WUR;
/* Status and code for a store/spec error code. */
unsigned mp_srv_status_for(int code, const char **code_name);

/* The embedded files (generated at build time). */
extern const struct mp_asset mp_server_assets_table[];
extern const size_t mp_server_assets_count;

/* The listening socket and the gate in front of the daemon (gate.c). */
int mp_srv_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len,
                    struct mp_error *err) MP_WUR;
int mp_srv_listen(const char *host, unsigned port, int *fd, unsigned *bound_port,
                  struct mp_error *err) MP_WUR;
/* Takes ownership of listen_fd; needs srv->daemon. */
int mp_srv_gate_start(struct mp_server *srv, int listen_fd, struct mp_error *err) MP_WUR;
/* Stops accepting and closes the connections still waiting for their head. */
void mp_srv_gate_stop(struct mp_server *srv);
/* Whether two clients share the per-address limits: the same IPv4 address, or the same IPv6 /64
 * (IPv4-mapped IPv6 addresses compared whole). */
bool mp_srv_same_address(const struct sockaddr *a, const struct sockaddr *b);

/* Opens a fresh store handle for this thread. */
int mp_srv_open_store(struct mp_server *srv, struct mp_store **st, struct mp_error *err) MP_WUR;

/* API routes (api.c). Path is the part after "/api/v1". */
mhd_result mp_srv_api(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                      const char *method, const char *path);
/* GET /api/v1/info and GET /api/v1/experiments/{ref}/export (api_info.c). */
mhd_result mp_srv_api_info(struct MHD_Connection *c, struct request *req);
mhd_result mp_srv_api_session(struct mp_server *srv, struct MHD_Connection *c, struct request *req);
mhd_result mp_srv_api_export(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref);

/* Jobs (jobs.c). A request takes one of the max_running slots before it stores an experiment
 * (MP_ETHROTTLED when none is free) and either gives it back or hands it to mp_srv_job_start,
 * which keeps it until the job ends, or frees it when the job cannot start. */
int mp_srv_job_reserve(struct mp_server *srv, struct mp_error *err) MP_WUR;
void mp_srv_job_unreserve(struct mp_server *srv);
/* How the engine of a resumed experiment began (mp_srv_job_start with a wait). */
struct mp_srv_job_wait {
    bool decided;
    int rc;
    struct mp_error err;
};
/* Takes ownership of spec. With wait, returns once the engine has claimed the experiment and set
 * it RUNNING (0), or with the error that stopped it before (the engine's own refusal: run by
 * another process, a spec it refuses, MP_ESTATE for one found finished). */
int mp_srv_job_start(struct mp_server *srv, struct mp_spec *spec, int64_t exp_id,
                     struct mp_srv_job_wait *wait, struct mp_error *err) MP_WUR;
/* 1 when a running job was told to cancel, 0 when no job runs it. */
int mp_srv_job_cancel(struct mp_server *srv, int64_t exp_id);
/* Cancels and waits for the job of exp_id, if any. */
void mp_srv_job_stop_wait(struct mp_server *srv, int64_t exp_id);
bool mp_srv_job_running(struct mp_server *srv, int64_t exp_id);
void mp_srv_jobs_shutdown(struct mp_server *srv);

/* Event streams (sse.c). exp_id 0 = all experiments. */
mhd_result mp_srv_sse(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                      int64_t exp_id);

/* Metrics (metrics.c). */
void mp_srv_metrics_init(struct metrics *m);
void mp_srv_metrics_release(struct metrics *m);
/* Sets req's method label from the len bytes at method: a standard method by name, any other
 * (or none) "other", so a client choosing methods adds no series (PROPFIND was PROPFIN). */
void mp_srv_metrics_method(struct request *req, const char *method, size_t len);
void mp_srv_metrics_record(struct metrics *m, const struct request *req);
mhd_result mp_srv_metrics_serve(struct mp_server *srv, struct MHD_Connection *c,
                                struct request *req);

#endif
