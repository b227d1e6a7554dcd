/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP/1.1 load generator: a log-linear latency histogram, an incremental HTTP response
 * parser, and an epoll client (one event loop per thread) that drives a closed loop (N
 * connections, one request in flight each) or an open loop at a target rate (latency measured
 * from each request's scheduled send time, late sends counted).
 *
 * Mechanism only: the client runs a warm-up and then fixed-length windows, and asks a callback
 * after each window whether to stop. The policy (stability, percentile trust, capacity search)
 * lives in src/measure.
 *
 * Ownership: mp_lg_opts borrows every string for the duration of mp_lg_new(), which copies what
 * it keeps. mp_lg_new returns an owned client (mp_lg_free). Results own their windows
 * (mp_lg_result_release). Histograms own their counts (mp_lg_hist_release).
 * Thread-safety: a histogram or parser is used by one thread at a time. One mp_lg_run() per
 * client at a time; the client spawns and joins its own worker threads inside mp_lg_run().
 * Different clients are independent. */
#ifndef MP_LOADGEN_H
#define MP_LOADGEN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- Latency histogram ------------------------------------------------------------------- */

/* Log-linear buckets (HdrHistogram layout): values below 2048 us are exact, above that each
 * power-of-two range is split into 1024 linear sub-buckets, so any recorded value is known to
 * within 1/1024 (3 significant digits). Range 0 .. MP_LG_HIST_MAX_US (~67 s); larger values are
 * clamped to the top bucket and counted in `overflow`. Counts take ~136 KiB, allocated zeroed
 * (untouched pages cost no memory). */
#define MP_LG_HIST_SUB_BITS 10
#define MP_LG_HIST_BUCKETS  16
#define MP_LG_HIST_LEN      ((MP_LG_HIST_BUCKETS + 1) << MP_LG_HIST_SUB_BITS)
#define MP_LG_HIST_MAX_US   ((UINT64_C(1) << (MP_LG_HIST_BUCKETS + MP_LG_HIST_SUB_BITS)) - 1)

struct mp_lg_hist {
    uint64_t *counts; /* MP_LG_HIST_LEN entries */
    uint64_t total;
    uint64_t overflow; /* values above MP_LG_HIST_MAX_US (recorded as the maximum) */
    uint64_t min_us, max_us;
    double sum_us; /* exact sum of recorded (unclamped) values, for the mean */
};

void mp_lg_hist_init(struct mp_lg_hist *h);
void mp_lg_hist_release(struct mp_lg_hist *h);
void mp_lg_hist_reset(struct mp_lg_hist *h);
static inline void mp_lg_hist_record(struct mp_lg_hist *h, uint64_t value_us);
/* Adds src's counts into dst. */
void mp_lg_hist_merge(struct mp_lg_hist *dst, const struct mp_lg_hist *src);
/* Value at percentile p (0..100): the highest value equivalent to the bucket holding the
 * ceil(p/100 * total)-th smallest sample, capped at max_us. 0 for an empty histogram. */
uint64_t mp_lg_hist_percentile(const struct mp_lg_hist *h, double p);
double mp_lg_hist_mean(const struct mp_lg_hist *h);
/* Bucket index of a value (<= MP_LG_HIST_MAX_US) and the value range a bucket covers. */
static inline size_t mp_lg_hist_index(uint64_t value_us);
uint64_t mp_lg_hist_lowest(size_t index);
uint64_t mp_lg_hist_highest(size_t index);

static inline size_t mp_lg_hist_index(uint64_t value_us)
{
    if (value_us < (UINT64_C(2) << MP_LG_HIST_SUB_BITS)) {
        return (size_t)value_us;
    }
    unsigned msb = 63u - (unsigned)__builtin_clzll(value_us);
    unsigned shift = msb - MP_LG_HIST_SUB_BITS;
    uint64_t sub = value_us >> shift; /* in [1024, 2048) */
    return ((size_t)(shift + 1) << MP_LG_HIST_SUB_BITS) +
           (size_t)(sub - (UINT64_C(1) << MP_LG_HIST_SUB_BITS));
}

static inline void mp_lg_hist_record(struct mp_lg_hist *h, uint64_t value_us)
{
    uint64_t v = value_us;
    if (v > MP_LG_HIST_MAX_US) {
        v = MP_LG_HIST_MAX_US;
        h->overflow++;
    }
    h->counts[mp_lg_hist_index(v)]++;
    if (h->total == 0 || value_us < h->min_us) {
        h->min_us = value_us;
    }
    if (value_us > h->max_us) {
        h->max_us = value_us;
    }
    h->total++;
    h->sum_us += (double)value_us;
}

/* ---- HTTP/1.1 response parser ------------------------------------------------------------ */

/* Incremental, byte-exact, no allocation: feed it whatever read() returned, as often as needed.
 * Handles the status line, headers (Content-Length, Transfer-Encoding: chunked, Connection),
 * Content-Length bodies, chunked bodies with trailers, bodies delimited by connection close,
 * responses without a body (HEAD, 1xx, 204, 304). Interim 1xx responses are skipped. */
enum mp_lg_http_state {
    MP_LG_HTTP_STATUS,
    MP_LG_HTTP_HEADER,
    MP_LG_HTTP_BODY_LENGTH,
    MP_LG_HTTP_CHUNK_SIZE,
    MP_LG_HTTP_CHUNK_EXT,
    MP_LG_HTTP_CHUNK_DATA,
    MP_LG_HTTP_CHUNK_DATA_END,
    MP_LG_HTTP_TRAILER,
    MP_LG_HTTP_BODY_EOF,
    MP_LG_HTTP_DONE,
};

/* Streaming substring matcher (Knuth-Morris-Pratt) for the optional body check. The pattern
 * and table are borrowed from an mp_lg_http_needle that outlives the parser. */
#define MP_LG_HTTP_NEEDLE_MAX 256
struct mp_lg_http_needle {
    char text[MP_LG_HTTP_NEEDLE_MAX];
    uint16_t fail[MP_LG_HTTP_NEEDLE_MAX];
    size_t len;
};
/* Fails with MP_ETOOBIG over MP_LG_HTTP_NEEDLE_MAX - 1 bytes. */
int mp_lg_http_needle_init(struct mp_lg_http_needle *n, const char *text,
                           struct mp_error *err) MP_WUR;

struct mp_lg_http_limits {
    size_t max_header_bytes; /* status line + headers; default 64 KiB */
    uint64_t max_body_bytes; /* default 64 MiB */
};
#define MP_LG_HTTP_DEFAULT_HEADER_BYTES (64u << 10)
#define MP_LG_HTTP_DEFAULT_BODY_BYTES   (UINT64_C(64) << 20)

struct mp_lg_http_parser {
    enum mp_lg_http_state state;
    struct mp_lg_http_limits limits;
    const struct mp_lg_http_needle *needle; /* NULL: no body check */
    bool head_request;                      /* response to HEAD: no body */
    /* Results of the response being parsed (valid once DONE). */
    int status;
    int minor_version;
    bool keep_alive;   /* false when the server will close (Connection: close, HTTP/1.0) */
    const char *why;   /* after an error: what was wrong, a static string ("an invalid chunk
                          size"); NULL otherwise */
    bool body_matched; /* needle found (true when there is no needle) */
    uint64_t body_len; /* bytes of body seen */
    /* Internal cursor state. */
    uint32_t step; /* position inside the status line / current header */
    uint32_t header_bytes;
    uint32_t needle_pos;
    uint64_t remaining; /* body or chunk bytes left */
    uint64_t content_length;
    bool has_length, chunked, conn_close, conn_keep_alive, in_value, saw_cr;
    bool has_coding; /* a Transfer-Encoding coding other than identity */
    bool folding;    /* inside a continuation line (obsolete line folding), skipped */
    uint8_t kind;    /* of the current header: framing and list headers are interpreted */
    uint8_t name_len, value_len;
    char name[24];
    char value[24];
};

/* parse() results besides negative errors. */
enum { MP_LG_HTTP_MORE = 0, MP_LG_HTTP_COMPLETE = 1 };

void mp_lg_http_parser_init(struct mp_lg_http_parser *p, const struct mp_lg_http_limits *limits,
                            const struct mp_lg_http_needle *needle);
/* Starts a new response on the same parser (keeps limits and needle). */
void mp_lg_http_parser_reset(struct mp_lg_http_parser *p, bool head_request);
/* Consumes bytes from data[0..len). Returns MP_LG_HTTP_COMPLETE when a response ended (then
 * *consumed < len means the remaining bytes belong to the next response), MP_LG_HTTP_MORE when all
 * input was consumed and more is needed, MP_EPARSE on malformed input, MP_ETOOBIG when a limit
 * is exceeded. After an error the parser must be reset. */
int mp_lg_http_parse(struct mp_lg_http_parser *p, const char *data, size_t len, size_t *consumed);
/* The peer closed the connection: completes a body delimited by close (returns
 * MP_LG_HTTP_COMPLETE), else MP_EPARSE (truncated response). */
int mp_lg_http_parse_eof(struct mp_lg_http_parser *p);

enum mp_lg_arrival { MP_LG_CONSTANT, MP_LG_POISSON };

/* ---- Target and request templates -------------------------------------------------------- */

/* Parsed http:// URL (https is refused with MP_EUNSUPPORTED). */
struct mp_lg_url {
    char host[256];
    char port[8];
    char path[2048]; /* path and query, at least "/" */
};
int mp_lg_url_parse(const char *url, struct mp_lg_url *out, struct mp_error *err) MP_WUR;
/* Whether a header name (len bytes) is one the load generator writes itself, which no request
 * may carry: Content-Length (from the body) and Transfer-Encoding. A second length, or a chunked
 * coding the body lacks, had the service read the next request as this one's body. */
bool mp_lg_framing_header(const char *name, size_t len);

/* ---- The client -------------------------------------------------------------------------- */

#define MP_LG_ERROR_MAP(X)                                                                         \
    X(CONNECT, "connect")                                                                          \
    X(READ, "read")                                                                                \
    X(WRITE, "write")                                                                              \
    X(TIMEOUT, "timeout")                                                                          \
    X(STATUS, "status")                                                                            \
    X(PARSE, "parse")                                                                              \
    X(BODY, "body")

enum mp_lg_error {
#define MP_LG_ERR_ENUM(name, text) MP_LG_ERR_##name,
    MP_LG_ERROR_MAP(MP_LG_ERR_ENUM)
#undef MP_LG_ERR_ENUM
        MP_LG_ERR_COUNT
};
/* "connect", "read", ... */
const char *mp_lg_error_name(enum mp_lg_error e);

/* Open-loop arrival schedule (pure, used by the client's threads and by tests). The total rate is
 * split evenly over the connections; each connection sends its next request one interval
 * (constant, or exponentially distributed for Poisson arrivals) after the previous one's
 * scheduled time, or as soon as the previous response completes if that is later: such a send
 * is late, and its latency still counts from the schedule (no coordinated omission). */
struct mp_lg_schedule {
    double interval_ns; /* mean interval between sends of one connection */
    double spacing_ns;  /* mean interval between sends of all connections together */
    enum mp_lg_arrival arrival;
    struct mp_rng rng;
};
void mp_lg_schedule_init(struct mp_lg_schedule *s, double total_rate_rps, unsigned connections,
                         enum mp_lg_arrival arrival, uint64_t seed);
/* The latest offset a schedule gives (about 73 years): a send that far away never comes. */
#define MP_LG_SCHEDULE_MAX_NS (INT64_MAX / 4)
/* Offset from the start of the run of connection index's first send (index over all threads):
 * staggered by spacing_ns for constant arrivals, an exponential draw for Poisson. */
int64_t mp_lg_schedule_first(struct mp_lg_schedule *s, unsigned index);
/* Scheduled time of the request after one scheduled at prev_sched_ns. */
int64_t mp_lg_schedule_next(struct mp_lg_schedule *s, int64_t prev_sched_ns);
/* A send at sent_ns of a request due at sched_ns is late beyond threshold_ns. */
static inline bool mp_lg_send_late(int64_t sched_ns, int64_t sent_ns, int64_t threshold_ns)
{
    return sent_ns - sched_ns > threshold_ns;
}

struct mp_lg_opts {
    const char *url;
    const char *method;         /* NULL: GET, or POST when there is a body */
    const char *const *headers; /* "Name: value" lines */
    size_t n_headers;
    const char *const *body_files; /* rotated across requests; NULL/0 for no body */
    size_t n_body_files;
    unsigned threads;           /* default 1 */
    unsigned connections;       /* total across threads, >= threads; default 10 */
    double rate_rps;            /* 0: closed loop; > 0: open loop at this total rate */
    enum mp_lg_arrival arrival; /* open loop: constant or Poisson inter-arrival times */
    int64_t timeout_ns;         /* per request; default 2 s */
    int64_t late_threshold_ns;  /* a send later than this past its schedule is late; 1 ms */
    int expect_status;          /* 0: any 2xx/3xx is success; else exactly this status */
    const char *expect_body;    /* substring required in the body; NULL: no check */
    struct mp_lg_http_limits limits;
    uint64_t seed; /* Poisson arrivals */
    /* CPUs the worker threads may run on (bit i = CPU i, CPUs 0-63); 0: no pinning. The local
     * runner keeps the generator off the service's CPUs with it. */
    uint64_t cpu_mask;
};

/* Counters of one window (or of a whole run, merged). */
struct mp_lg_counts {
    uint64_t requests; /* completed successfully */
    uint64_t errors[MP_LG_ERR_COUNT];
    uint64_t sends;      /* requests written */
    uint64_t late_sends; /* open loop: sent later than their schedule + late threshold */
    uint64_t late_busy;  /* of those, due while their connection was still busy: more
                            connections are needed (the others waited for the generator) */
    uint64_t connects;   /* connections opened */
    uint64_t bytes_read;
};
uint64_t mp_lg_counts_errors(const struct mp_lg_counts *c);
void mp_lg_counts_add(struct mp_lg_counts *dst, const struct mp_lg_counts *src);

/* One measurement window, merged over all threads. */
struct mp_lg_window {
    int64_t start_ns, end_ns; /* relative to the end of warm-up */
    struct mp_lg_counts counts;
    struct mp_lg_hist latency;      /* corrected: from scheduled send time (open loop) */
    struct mp_lg_hist latency_sent; /* uncorrected: from actual send time */
};
void mp_lg_window_init(struct mp_lg_window *w);
void mp_lg_window_release(struct mp_lg_window *w);
void mp_lg_window_merge(struct mp_lg_window *dst, const struct mp_lg_window *src);

/* How long to run: a warm-up whose results are discarded, then windows of window_ns until the
 * callback says stop or max_windows have run. */
struct mp_lg_phase {
    int64_t warmup_ns;
    int64_t window_ns;
    unsigned max_windows;
    /* Called on the calling thread after each window closes with all windows so far; return
     * true to stop. NULL: run max_windows. */
    bool (*on_window)(void *arg, const struct mp_lg_window *windows, size_t n);
    void *arg;
};

struct mp_lg_result {
    struct mp_lg_window *windows; /* owned, n_windows entries */
    size_t n_windows;
    int64_t elapsed_ns; /* measured part (windows), excluding warm-up */
    double cpu_s;       /* CPU time of the load generator's threads (user + system) */
    double cpu_share;   /* cpu_s / (wall time x threads): near 1 means the generator saturates */
    unsigned threads;
    /* First error message seen per class ("connect: Connection refused"), "" if none. */
    char first_error[MP_LG_ERR_COUNT][128];
    int first_status; /* the HTTP status of first_error[MP_LG_ERR_STATUS]; 0 if none */
};
void mp_lg_result_release(struct mp_lg_result *r);

struct mp_lg;

/* Validates opts, parses the URL, resolves the host, reads body files and preformats the
 * requests. Raises the process's soft open-file limit when the connections need it. Fails with
 * MP_EINVALID (bad options, URL, more connections than the hard open-file limit allows),
 * MP_ENOTFOUND (unresolvable host), MP_ETOOBIG (body files over 64 MiB in all) or -errno. */
int mp_lg_new(const struct mp_lg_opts *opts, struct mp_lg **out, struct mp_error *err) MP_WUR;
void mp_lg_free(struct mp_lg *lg);
/* The most connections that threads worker threads can open under the hard open-file limit
 * (mp_lg_new refuses more), at most the 100000 of any client. */
unsigned mp_lg_max_connections(unsigned threads);
/* Changes the open-loop rate (0: closed loop) for the next run. */
void mp_lg_set_rate(struct mp_lg *lg, double rate_rps);
/* Runs one phase. Returns 0 with the windows that completed (a run stopped by *cancel returns
 * MP_ECANCELLED with what it measured so far); -errno when threads or sockets could not be
 * created. Per-request failures are counted in the windows, never returned. */
int mp_lg_run(struct mp_lg *lg, const struct mp_lg_phase *phase, struct mp_lg_result *res,
              const atomic_bool *cancel, struct mp_error *err) MP_WUR;

#endif
