/* SPDX-License-Identifier: Apache-2.0 */
/* Server metrics: fixed-bucket histograms with atomic counters, and their text exposition. */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
static const double seconds_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};

static const int statuses[] = {
#define STATUS_ENTRY(code) code,
    METRICS_STATUSES(STATUS_ENTRY)
#undef STATUS_ENTRY
};

static const char *const endpoint_names[EP_COUNT] = {"infer", "healthz", "metrics", "other"};

static void histogram_init(struct histogram *h, const double *bounds, size_t n)
{
    h->bounds = bounds;
    h->n_bounds = n;
    for (size_t i = 0; i <= METRICS_MAX_BUCKETS; i++) {
        atomic_init(&h->counts[i], 0);
    }
    atomic_init(&h->count, 0);
    atomic_init(&h->sum_micro, 0);
}

void metrics_init(struct metrics *m, const char *model)
{
    memset(m, 0, sizeof(*m));
    m->model = model;
    for (size_t e = 0; e < EP_COUNT; e++) {
        for (size_t s = 0; s < METRICS_N_STATUS; s++) {
            atomic_init(&m->requests[e][s], 0);
        }
    }
    histogram_init(&m->batch_size, batch_bounds, MP_ARRAY_LEN(batch_bounds));
    histogram_init(&m->inference_seconds, seconds_bounds, MP_ARRAY_LEN(seconds_bounds));
    histogram_init(&m->request_seconds, seconds_bounds, MP_ARRAY_LEN(seconds_bounds));
    atomic_init(&m->rejected_queue_full, 0);
    atomic_init(&m->in_flight, 0);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(statuses); i++) {
        if (statuses[i] == status) {
            return i;
        }
    }
    return METRICS_N_STATUS - 1;
}

void metrics_count(struct metrics *m, enum metrics_endpoint ep, int status)
{
    atomic_fetch_add_explicit(&m->requests[ep][status_slot(status)], 1, memory_order_relaxed);
}

void histogram_observe(struct histogram *h, double v)
{
    size_t i = 0;
    while (i < h->n_bounds && v > h->bounds[i]) {
        i++;
    }
    /* Buckets are stored non-cumulative and summed when rendered. */
    atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_micro, (uint_fast64_t)(v * 1e6 + 0.5), memory_order_relaxed);
}

static void render_histogram(struct mp_buf *out, const char *name, const char *help,
                             const char *model, struct histogram *h)
{
    char num[MP_FMT_DOUBLE_MAX];
    mp_buf_addf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i <= h->n_bounds; i++) {
        cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        const char *le = i < h->n_bounds ? mp_fmt_double(num, h->bounds[i]) : "+Inf";
        mp_buf_addf(out, "%s_bucket{model=\"%s\",le=\"%s\"} %llu\n", name, model, le,
                    (unsigned long long)cum);
    }
    double sum = (double)atomic_load_explicit(&h->sum_micro, memory_order_relaxed) / 1e6;
    mp_buf_addf(out, "%s_sum{model=\"%s\"} %s\n", name, model, mp_fmt_double(num, sum));
    mp_buf_addf(out, "%s_count{model=\"%s\"} %llu\n", name, model,
                (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

static void render_gauge(struct mp_buf *out, const char *name, const char *help, const char *model,
                         long long v)
{
    mp_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n%s{model=\"%s\"} %lld\n", name, help, name,
                name, model, v);
}

static void render_requests(struct metrics *m, struct mp_buf *out)
{
    mp_buf_adds(out, "# HELP inference_requests_total HTTP requests answered, by endpoint and "
                     "status code.\n# TYPE inference_requests_total counter\n");
    for (size_t e = 0; e < EP_COUNT; e++) {
        for (size_t s = 0; s < METRICS_N_STATUS; s++) {
            uint64_t v = atomic_load_explicit(&m->requests[e][s], memory_order_relaxed);
            char code[16];
            if (s < MP_ARRAY_LEN(statuses)) {
                snprintf(code, sizeof(code), "%d", statuses[s]);
            } else {
                snprintf(code, sizeof(code), "other");
            }
            /* Always list the inference series so that scrapers see zeros, not absences. */
            if (v > 0 || (e == EP_INFER && (s == status_slot(200) || s == status_slot(503)))) {
                mp_buf_addf(out,
                            "inference_requests_total{model=\"%s\",endpoint=\"%s\",code=\"%s\"} "
                            "%llu\n",
                            m->model, endpoint_names[e], code, (unsigned long long)v);
            }
        }
    }
}

void metrics_render(struct metrics *m, struct mp_buf *out, size_t queue_depth, int ready)
{
    const char *model = m->model;
    render_requests(m, out);
    mp_buf_addf(
        out,
        "# HELP inference_rejected_total Inference requests refused with 503 because the "
        "queue was full.\n# TYPE inference_rejected_total counter\n"
        "inference_rejected_total{model=\"%s\"} %llu\n",
        model,
        (unsigned long long)atomic_load_explicit(&m->rejected_queue_full, memory_order_relaxed));
    render_gauge(out, "inference_queue_depth", "Requests waiting for a worker.", model,
                 (long long)queue_depth);
    render_gauge(out, "inference_in_flight", "Requests queued or being inferred.", model,
                 (long long)atomic_load_explicit(&m->in_flight, memory_order_relaxed));
    render_gauge(out, "inference_ready", "1 once every worker has loaded the model.", model, ready);
    render_gauge(out, "inference_workers", "Worker threads (--workers).", model, m->workers);
    render_gauge(out, "inference_omp_threads", "Threads per inference (--omp-threads).", model,
                 m->omp_threads);
    render_gauge(out, "inference_max_batch", "Largest batch (--max-batch).", model, m->max_batch);
    render_gauge(out, "inference_batch_timeout_microseconds",
                 "Longest wait for a fuller batch (--batch-timeout-us).", model,
                 m->batch_timeout_us);
    render_gauge(out, "inference_queue_limit", "Queue capacity (--queue-limit).", model,
                 m->queue_limit);
    render_histogram(out, "inference_batch_size", "Requests per model call.", model,
                     &m->batch_size);
    render_histogram(out, "inference_seconds", "Duration of one model call (a whole batch).", model,
                     &m->inference_seconds);
    render_histogram(out, "inference_request_seconds",
                     "Time from queueing a request to its response being ready.", model,
                     &m->request_seconds);
}
