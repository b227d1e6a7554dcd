/* SPDX-License-Identifier: Apache-2.0 */
/* /metrics in the Prometheus text format (version 0.0.4): API request counts and latencies
 * counted in memory, experiments and trials by state and trial durations read from the store at
 * scrape time. */
#include "server/server_int.h"

#include <stdlib.h>
#include <string.h>

#define MAX_COUNT_KEYS 256

static const double latency_bounds_s[MP_LATENCY_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05,
                                                            0.1,   0.25,  1,    5};
static const double trial_bounds_s[] = {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600};

void mp_srv_metrics_init(struct metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void mp_srv_metrics_release(struct metrics *m)
{
    free(m->counts);
    pthread_mutex_destroy(&m->lock);
}

void mp_srv_metrics_method(struct request *req, const char *method, size_t len)
{
    static const char *const known[] = {"GET",   "HEAD",    "POST",  "PUT",    "DELETE",
                                        "PATCH", "OPTIONS", "TRACE", "CONNECT"};
    const char *label = "other";
    for (size_t i = 0; i < MP_ARRAY_LEN(known); i++) {
        if (strlen(known[i]) == len && memcmp(method, known[i], len) == 0) {
            label = known[i];
        }
    }
    snprintf(req->method, sizeof(req->method), "%s", label);
}

void mp_srv_metrics_record(struct metrics *m, const struct request *req)
{
    double s = (double)(mp_mono_ns() - req->start_ns) / 1e9;
    pthread_mutex_lock(&m->lock);
    struct req_count *hit = NULL;
    for (size_t i = 0; i < m->n_counts && !hit; i++) {
        struct req_count *k = &m->counts[i];
        if (k->status == req->status && strcmp(k->route, req->route) == 0 &&
            strcmp(k->method, req->method) == 0) {
            hit = k;
        }
    }
    if (!hit && m->n_counts < MAX_COUNT_KEYS) {
        m->counts = mp_xreallocarray(m->counts, m->n_counts + 1, sizeof(*m->counts));
        hit = &m->counts[m->n_counts++];
        memset(hit, 0, sizeof(*hit));
        snprintf(hit->route, sizeof(hit->route), "%s", req->route);
        snprintf(hit->method, sizeof(hit->method), "%s", req->method);
        hit->status = req->status;
    }
    if (hit) {
        hit->count++;
    }
    for (size_t i = 0; i < MP_LATENCY_BUCKETS; i++) {
        if (s <= latency_bounds_s[i]) {
            m->latency_buckets[i]++;
            break;
        }
    }
    m->latency_count++;
    m->latency_sum_s += s;
    pthread_mutex_unlock(&m->lock);
}

static void add_double(struct mp_buf *b, double v)
{
    char num[MP_FMT_DOUBLE_MAX];
    mp_buf_adds(b, mp_fmt_double(num, v));
}

/* One histogram: HELP and TYPE, the cumulative buckets (per-bucket counts in, each value counted
 * in the first bucket whose bound it does not exceed), +Inf, sum and count. */
static void add_histogram(struct mp_buf *b, const char *name, const char *help,
                          const double *bounds, const uint64_t *buckets, size_t n, uint64_t count,
                          double sum)
{
    mp_buf_addf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += buckets[i];
        mp_buf_addf(b, "%s_bucket{le=\"", name);
        add_double(b, bounds[i]);
        mp_buf_addf(b, "\"} %llu\n", (unsigned long long)cum);
    }
    mp_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name, (unsigned long long)count, name);
    add_double(b, sum);
    mp_buf_addf(b, "\n%s_count %llu\n", name, (unsigned long long)count);
}

static void http_metrics(struct metrics *m, struct mp_buf *b)
{
    pthread_mutex_lock(&m->lock);
    mp_buf_adds(b, "# HELP morphling_http_requests_total API and page requests served.\n"
                   "# TYPE morphling_http_requests_total counter\n");
    for (size_t i = 0; i < m->n_counts; i++) {
        const struct req_count *k = &m->counts[i];
        mp_buf_addf(b,
                    "morphling_http_requests_total{route=\"%s\",method=\"%s\",code=\"%u\"} %llu\n",
                    k->route, k->method, k->status, (unsigned long long)k->count);
    }
    add_histogram(b, "morphling_http_request_duration_seconds", "Time to answer a request.",
                  latency_bounds_s, m->latency_buckets, MP_LATENCY_BUCKETS, m->latency_count,
                  m->latency_sum_s);
    pthread_mutex_unlock(&m->lock);
}

struct trial_stats {
    uint64_t by_state[MP_TRIAL_CANCELLED + 1];
    uint64_t buckets[MP_ARRAY_LEN(trial_bounds_s)];
    uint64_t count;
    double sum_s;
};

static void add_trials(struct trial_stats *ts, const struct mp_trial_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct mp_trial_row *t = &rows[i];
        if ((size_t)t->state < MP_ARRAY_LEN(ts->by_state)) {
            ts->by_state[t->state]++;
        }
        if (t->finished_at_ns <= 0 || t->started_at_ns <= 0) {
            continue;
        }
        double s = (double)(t->finished_at_ns - t->started_at_ns) / 1e9;
        for (size_t k = 0; k < MP_ARRAY_LEN(trial_bounds_s); k++) {
            if (s <= trial_bounds_s[k]) {
                ts->buckets[k]++;
                break;
            }
        }
        ts->count++;
        ts->sum_s += s;
    }
}

static void print_trial_stats(struct mp_buf *b, const struct trial_stats *ts)
{
    mp_buf_adds(b, "# HELP morphling_trials Trials in the store by state.\n"
                   "# TYPE morphling_trials gauge\n");
    for (int s = MP_TRIAL_PENDING; s <= MP_TRIAL_CANCELLED; s++) {
        mp_buf_addf(b, "morphling_trials{state=\"%s\"} %llu\n",
                    mp_trial_state_name((enum mp_trial_state)s),
                    (unsigned long long)ts->by_state[s]);
    }
    add_histogram(b, "morphling_trial_duration_seconds", "Duration of finished trials.",
                  trial_bounds_s, ts->buckets, MP_ARRAY_LEN(trial_bounds_s), ts->count, ts->sum_s);
}

static int store_metrics(struct mp_server *srv, struct mp_buf *b, struct mp_error *err)
{
    struct mp_store *st = NULL;
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    uint64_t by_state[MP_EXPERIMENT_CANCELLED + 1] = {0};
    struct trial_stats ts = {0};
    int rc = mp_srv_open_store(srv, &st, err);
    if (rc == 0) {
        rc = mp_store_experiment_list(st, &rows, &n, err);
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct mp_trial_row *trials = NULL;
        size_t nt = 0;
        by_state[rows[i].state]++;
        rc = mp_store_trial_list(st, rows[i].id, &trials, &nt, err);
        add_trials(&ts, trials, nt);
        mp_trial_rows_free(trials, nt);
    }
    mp_experiment_rows_free(rows, n);
    mp_store_close(st);
    if (rc != 0) {
        return rc;
    }
    mp_buf_adds(b, "# HELP morphling_experiments Experiments in the store by state.\n"
                   "# TYPE morphling_experiments gauge\n");
    for (int s = MP_EXPERIMENT_CREATED; s <= MP_EXPERIMENT_CANCELLED; s++) {
        mp_buf_addf(b, "morphling_experiments{state=\"%s\"} %llu\n",
                    mp_experiment_state_name((enum mp_experiment_state)s),
                    (unsigned long long)by_state[s]);
    }
    print_trial_stats(b, &ts);
    return 0;
}

mhd_result mp_srv_metrics_serve(struct mp_server *srv, struct MHD_Connection *c,
                                struct request *req)
{
    struct mp_buf b = MP_BUF_INIT;
    struct mp_error err = {0};
    int rc = store_metrics(srv, &b, &err);
    if (rc != 0) {
        mp_buf_release(&b);
        return mp_srv_send_error(c, req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err.msg);
    }
    http_metrics(&srv->metrics, &b);
    pthread_mutex_lock(&srv->streams_lock);
    size_t streams = srv->n_streams;
    pthread_mutex_unlock(&srv->streams_lock);
    mp_buf_addf(&b,
                "# HELP morphling_event_streams Open event streams (at most %u).\n"
                "# TYPE morphling_event_streams gauge\nmorphling_event_streams %zu\n",
                MP_SERVER_MAX_STREAMS, streams);
    mhd_result r =
        mp_srv_send_bytes(c, req, MHD_HTTP_OK, "text/plain; version=0.0.4", b.data, b.len, true);
    mp_buf_release(&b);
    return r;
}
