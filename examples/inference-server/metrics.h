/* SPDX-License-Identifier: Apache-2.0 */
/* Counters and histograms of the example server, rendered in the Prometheus text format
 * (version 0.0.4) for GET /metrics.
 *
 * Ownership: struct metrics is caller-owned storage (metrics_init, no release needed).
 * Thread-safety: the observe/count functions use atomics and may be called from any thread;
 * metrics_render reads a consistent-enough snapshot (each value atomically). */
#ifndef INFER_METRICS_H
#define INFER_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/core.h"

#define METRICS_MAX_BUCKETS 20

enum metrics_endpoint { EP_INFER, EP_HEALTHZ, EP_METRICS, EP_OTHER, EP_COUNT };

/* Status codes counted separately; anything else counts as "other". */
#define METRICS_STATUSES(X) X(200) X(400) X(404) X(405) X(413) X(431) X(500) X(501) X(503) X(505)
#define METRICS_N_STATUS    11

struct histogram {
    const double *bounds; /* upper bounds, ascending; +Inf is implicit */
    size_t n_bounds;
    atomic_uint_fast64_t counts[METRICS_MAX_BUCKETS + 1];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_micro; /* sum of observations times 1e6 */
};

struct metrics {
    const char *model; /* "fmnist" or "ocr": a label on every series */
    atomic_uint_fast64_t requests[EP_COUNT][METRICS_N_STATUS];
    struct histogram batch_size;        /* requests per model call */
    struct histogram inference_seconds; /* one model call (a whole batch) */
    struct histogram request_seconds;   /* queued request: enqueue to response ready */
    atomic_uint_fast64_t rejected_queue_full;
    atomic_int_fast64_t in_flight; /* queued or running inference requests */
    int64_t workers, omp_threads, max_batch, batch_timeout_us, queue_limit;
};

void metrics_init(struct metrics *m, const char *model);
void metrics_count(struct metrics *m, enum metrics_endpoint ep, int status);
void histogram_observe(struct histogram *h, double v);
/* Appends the exposition text; queue_depth and ready are sampled by the caller. */
void metrics_render(struct metrics *m, struct mp_buf *out, size_t queue_depth, int ready);

#endif
