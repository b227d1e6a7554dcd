/* SPDX-License-Identifier: Apache-2.0 */
/* Counters, windows and results of the load generator: merging and release. */
#include "loadgen/loadgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const error_names[] = {
#define MP_LG_ERR_NAME(name, text) text,
    MP_LG_ERROR_MAP(MP_LG_ERR_NAME)
#undef MP_LG_ERR_NAME
};

const char *mp_lg_error_name(enum mp_lg_error e)
{
    return (unsigned)e < MP_LG_ERR_COUNT ? error_names[e] : "unknown";
}

uint64_t mp_lg_counts_errors(const struct mp_lg_counts *c)
{
    uint64_t n = 0;
    for (int i = 0; i < MP_LG_ERR_COUNT; i++) {
        n += c->errors[i];
    }
    return n;
}

void mp_lg_counts_add(struct mp_lg_counts *dst, const struct mp_lg_counts *src)
{
    dst->requests += src->requests;
    for (int i = 0; i < MP_LG_ERR_COUNT; i++) {
        dst->errors[i] += src->errors[i];
    }
    dst->sends += src->sends;
    dst->late_sends += src->late_sends;
    dst->late_busy += src->late_busy;
    dst->connects += src->connects;
    dst->bytes_read += src->bytes_read;
}

void mp_lg_window_init(struct mp_lg_window *w)
{
    memset(w, 0, sizeof(*w));
    mp_lg_hist_init(&w->latency);
    mp_lg_hist_init(&w->latency_sent);
}

void mp_lg_window_release(struct mp_lg_window *w)
{
    mp_lg_hist_release(&w->latency);
    mp_lg_hist_release(&w->latency_sent);
}

void mp_lg_window_merge(struct mp_lg_window *dst, const struct mp_lg_window *src)
{
    mp_lg_counts_add(&dst->counts, &src->counts);
    mp_lg_hist_merge(&dst->latency, &src->latency);
    mp_lg_hist_merge(&dst->latency_sent, &src->latency_sent);
}

void mp_lg_result_release(struct mp_lg_result *r)
{
    for (size_t i = 0; i < r->n_windows; i++) {
        mp_lg_window_release(&r->windows[i]);
    }
    free(r->windows);
    r->windows = NULL;
    r->n_windows = 0;
}

void mp_lg_schedule_init(struct mp_lg_schedule *s, double total_rate_rps, unsigned connections,
                         enum mp_lg_arrival arrival, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->arrival = arrival;
    if (total_rate_rps > 0 && connections > 0) {
        s->spacing_ns = 1e9 / total_rate_rps;
        s->interval_ns = s->spacing_ns * connections;
    }
    mp_rng_init(&s->rng, seed);
}

/* An offset of nanoseconds, at most MP_LG_SCHEDULE_MAX_NS: a rate as low as the options allow
 * (1e-9 requests/s, or a spec's 1e-300) puts the next send centuries away, beyond an int64_t of
 * nanoseconds (--rate 1e-9 -c 10 overflowed the schedule); such a send never comes in a run. */
static int64_t offset_ns(double ns)
{
    return ns < (double)MP_LG_SCHEDULE_MAX_NS ? (int64_t)ns : MP_LG_SCHEDULE_MAX_NS;
}

static int64_t draw(struct mp_lg_schedule *s)
{
    if (s->arrival == MP_LG_POISSON) {
        /* Inverse transform of an exponential; 1 - u is in (0, 1], so the log is finite. */
        return offset_ns(-log(1.0 - mp_rng_uniform(&s->rng)) * s->interval_ns);
    }
    return offset_ns(s->interval_ns);
}

int64_t mp_lg_schedule_first(struct mp_lg_schedule *s, unsigned index)
{
    if (s->arrival == MP_LG_POISSON) {
        return draw(s);
    }
    return offset_ns((double)index * s->spacing_ns);
}

int64_t mp_lg_schedule_next(struct mp_lg_schedule *s, int64_t prev_sched_ns)
{
    int64_t d = draw(s);
    return prev_sched_ns < INT64_MAX - d ? prev_sched_ns + d : INT64_MAX;
}
