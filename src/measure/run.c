/* SPDX-License-Identifier: Apache-2.0 */
/* One measurement: warm-up, windows until the stability rule holds (or the window cap), merged
 * figures of the last windows, the load generator's self-check, and the result as JSON and as
 * trial metrics. */
#include "measure/measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mp_measure_opts_init(struct mp_measure_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->load.threads = 1;
    o->load.connections = 10;
    o->load.timeout_ns = INT64_C(2000000000);
    o->load.late_threshold_ns = INT64_C(1000000);
    o->warmup_ns = INT64_C(1000000000);
    o->window_ns = INT64_C(1000000000);
    o->stable_windows = 3;
    o->max_windows = 10;
    o->tolerance = 0.10;
    o->min_window_requests = 50;
    o->saturation_cpu_share = 0.9;
}

struct run_ctx {
    const struct mp_measure_opts *opts;
    struct mp_window_stats *stats; /* max_windows */
    size_t n;
    bool stable, pruned, unreachable;
};

double mp_measure_t975(size_t df)
{
    static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                               2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                               2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                               2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    return df == 0 ? INFINITY : df <= 30 ? t[df - 1] : 1.960 + 2.4 / (double)df;
}

/* Mean and standard deviation of the throughputs of w[0..n) less w[skip] (skip >= n: none). */
static void throughput_moments(const struct mp_window_stats *w, size_t n, size_t skip, double *mean,
                               double *sd)
{
    double sum = 0, sq = 0, k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i != skip) {
            sum += w[i].throughput_rps;
            k++;
        }
    }
    *mean = k > 0 ? sum / k : 0;
    for (size_t i = 0; i < n; i++) {
        if (i != skip) {
            sq += (w[i].throughput_rps - *mean) * (w[i].throughput_rps - *mean);
        }
    }
    *sd = k > 1 ? sqrt(sq / (k - 1)) : 0;
}

double mp_measure_ci(const struct mp_window_stats *w, size_t n, double *mean)
{
    double m, sd;
    throughput_moments(w, n, n, &m, &sd);
    if (mean) {
        *mean = m;
    }
    if (n < 2 || !(m > 0)) {
        return INFINITY;
    }
    return mp_measure_t975(n - 1) * sd / sqrt((double)n) / m;
}

bool mp_measure_may_settle(const struct mp_window_stats *w, size_t n, size_t m, double ci_target)
{
    if (n < 4 || m < 2 || !(ci_target > 0)) {
        return true;
    }
    /* Drift: the halves' means differ by more than their own spread allows (pooled t test). */
    size_t n1 = n / 2, n2 = n - n1;
    double m1, s1, m2, s2;
    throughput_moments(w, n1, n, &m1, &s1);
    throughput_moments(w + n1, n2, n, &m2, &s2);
    double pooled =
        sqrt(((double)(n1 - 1) * s1 * s1 + (double)(n2 - 1) * s2 * s2) / (double)(n - 2));
    double diff = fabs(m2 - m1), se = pooled * sqrt(1.0 / (double)n1 + 1.0 / (double)n2);
    if (diff > 0 && !(diff <= mp_measure_t975(n - 2) * se)) {
        return true;
    }
    /* Steady noise: the half-width m windows of it would give, leaving out the window farthest
     * from the mean (one burst of the machine's own noise). */
    double mean, sd;
    throughput_moments(w, n, n, &mean, &sd);
    size_t far = 0;
    for (size_t i = 1; i < n; i++) {
        if (fabs(w[i].throughput_rps - mean) > fabs(w[far].throughput_rps - mean)) {
            far = i;
        }
    }
    throughput_moments(w, n, n >= 5 ? far : n, &mean, &sd);
    if (!(mean > 0)) {
        return true;
    }
    return mp_measure_t975(m - 1) * sd / sqrt((double)m) / mean <=
           MP_MEASURE_SETTLE_MARGIN * ci_target;
}

/* The confidence rule: enough windows, each with enough responses, and a narrow interval. */
static bool ci_reached(const struct mp_measure_opts *o, const struct mp_window_stats *w, size_t n)
{
    size_t need = o->stable_windows > 3 ? o->stable_windows : 3;
    if (n < need) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (w[i].requests < o->min_window_requests) {
            return false;
        }
    }
    return mp_measure_ci(w, n, NULL) <= o->ci_target;
}

/* A closed port: 10 windows of connect errors were run and reported as zeros. Every window so far
 * had no connection and no request, and the first connect errors just ended (with nothing else):
 * a host that drops SYNs fails its connects only at --timeout, after a first window of nothing. */
static bool unreachable_so_far(const struct mp_lg_window *windows, size_t n)
{
    struct mp_lg_counts c = {0};
    for (size_t i = 0; i < n; i++) {
        mp_lg_counts_add(&c, &windows[i].counts);
    }
    uint64_t now_failed = windows[n - 1].counts.errors[MP_LG_ERR_CONNECT];
    return c.connects == 0 && c.requests == 0 && now_failed > 0 &&
           now_failed == c.errors[MP_LG_ERR_CONNECT] &&
           mp_lg_counts_errors(&c) == c.errors[MP_LG_ERR_CONNECT];
}

static bool on_window(void *arg, const struct mp_lg_window *windows, size_t n)
{
    struct run_ctx *ctx = arg;
    mp_window_stats_from(&ctx->stats[n - 1], &windows[n - 1]);
    ctx->n = n;
    const struct mp_measure_opts *o = ctx->opts;
    ctx->stable = mp_measure_stable(ctx->stats, n, o->stable_windows, o->tolerance,
                                    o->min_window_requests, NULL);
    if (o->ci_target > 0) {
        ctx->stable = ci_reached(o, ctx->stats, n);
    }
    ctx->pruned = o->prune_windows > 0 && n >= o->prune_windows &&
                  mp_measure_prune_due(ctx->stats + n - o->prune_windows, o->prune_windows,
                                       &o->prune_slo, o->prune_factor);
    ctx->unreachable = o->stop_unreachable && unreachable_so_far(windows, n);
    return (ctx->stable && !o->fixed) || ctx->pruned || ctx->unreachable;
}

static int check_opts(const struct mp_measure_opts *o, struct mp_error *err)
{
    if (o->window_ns <= 0 || o->warmup_ns < 0) {
        return mp_error_set(err, MP_EINVALID, "the window must be positive, the warm-up >= 0");
    }
    if (o->max_windows == 0 || o->max_windows > 10000 || o->stable_windows == 0 ||
        o->stable_windows > 64 || (o->stable_windows > o->max_windows && !o->fixed)) {
        return mp_error_set(err, MP_EINVALID,
                            "need 1 <= stable windows (%u) <= max windows (%u) <= 10000",
                            o->stable_windows, o->max_windows);
    }
    if (o->stable_windows < 2 && !o->fixed && !(o->ci_target > 0)) {
        return mp_error_set(err, MP_EINVALID,
                            "the stability rule compares at least 2 windows (stable windows 1)");
    }
    /* Window end times are offsets from the start in int64 nanoseconds (and a remeasure doubles
     * the windows): 3 windows of 1,000,000 h overflowed them. */
    if ((double)o->warmup_ns + (double)o->window_ns * (2.0 * o->max_windows + 1) >
        MP_MEASURE_MAX_NS) {
        return mp_error_set(err, MP_EINVALID,
                            "the warm-up and %u windows of %g s add up to more than 30 years",
                            o->max_windows, (double)o->window_ns / 1e9);
    }
    if (!(o->tolerance >= 0)) {
        return mp_error_set(err, MP_EINVALID, "the stability tolerance must be >= 0");
    }
    return 0;
}

/* Whether a window of w[0..n) had fewer answers than the stability rule judges. */
static bool too_few_answers(const struct mp_measure_opts *o, const struct mp_window_stats *w,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (w[i].requests + w[i].errors < o->min_window_requests) {
            return true;
        }
    }
    return false;
}

size_t mp_measure_merged(const struct mp_measure_opts *o, const struct mp_window_stats *w, size_t n,
                         bool pruned)
{
    size_t m = n < o->stable_windows ? n : o->stable_windows;
    if (pruned) {
        m = o->prune_windows; /* the windows that broke the SLO, not one before them */
    } else if (o->fixed || o->ci_target > 0 || too_few_answers(o, w + (n - m), m)) {
        m = n;
    }
    return m < n ? m : n;
}

static void fill_result(struct mp_measure_result *r, const struct mp_measure_opts *o,
                        const struct mp_lg_result *lr, struct run_ctx *ctx)
{
    r->stable = ctx->stable;
    r->pruned = ctx->pruned;
    r->unreachable = ctx->unreachable;
    r->windows = (unsigned)lr->n_windows;
    r->per_window = ctx->stats;
    r->n_windows = lr->n_windows;
    ctx->stats = NULL;
    size_t m = mp_measure_merged(o, r->per_window, lr->n_windows, ctx->pruned);
    r->merged = (unsigned)m;
    /* The spreads over the merged windows (all of them with `fixed`), not the last few the
     * stability rule looked at. */
    mp_measure_stable(r->per_window, r->n_windows, (unsigned)m, o->tolerance,
                      o->min_window_requests, &r->spread);
    r->ci = mp_measure_ci(r->per_window + (r->n_windows - m), m, NULL);
    struct mp_lg_window all;
    mp_lg_window_init(&all);
    for (size_t i = lr->n_windows - m; i < lr->n_windows; i++) {
        mp_lg_window_merge(&all, &lr->windows[i]);
        r->duration_s += (double)(lr->windows[i].end_ns - lr->windows[i].start_ns) / 1e9;
    }
    const struct mp_lg_counts *c = &all.counts;
    r->requests = c->requests;
    memcpy(r->errors, c->errors, sizeof(r->errors));
    r->errors_total = mp_lg_counts_errors(c);
    r->error_rate = r->requests + r->errors_total
                        ? (double)r->errors_total / (double)(r->requests + r->errors_total)
                        : 0.0;
    r->sends = c->sends;
    r->late_sends = c->late_sends;
    r->late_busy = c->late_busy;
    r->connects = c->connects;
    r->bytes_read = c->bytes_read;
    r->late_fraction = c->sends ? (double)c->late_sends / (double)c->sends : 0.0;
    r->throughput_rps = r->duration_s > 0 ? (double)r->requests / r->duration_s : 0.0;
    r->read_bytes_per_s = r->duration_s > 0 ? (double)r->bytes_read / r->duration_s : 0.0;
    r->offered_rps = o->load.rate_rps;
    mp_latency_from_hist(&r->latency, &all.latency);
    mp_latency_from_hist(&r->latency_sent, &all.latency_sent);
    r->hist = all.latency;
    mp_lg_hist_release(&all.latency_sent);
    r->lg_cpu_s = lr->cpu_s;
    r->lg_cpu_share = lr->cpu_share;
    r->lg_saturated = lr->cpu_share >= o->saturation_cpu_share;
    /* Only the messages of errors in these figures: one seen during the warm-up or a window left
     * out would sit beside a count of 0. */
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (r->errors[e]) {
            memcpy(r->first_error[e], lr->first_error[e], sizeof(r->first_error[e]));
        }
    }
    r->first_status = r->errors[MP_LG_ERR_STATUS] ? lr->first_status : 0;
}

int mp_measure_run(const struct mp_measure_opts *opts, struct mp_measure_result *result,
                   const atomic_bool *cancel, struct mp_error *err)
{
    memset(result, 0, sizeof(*result));
    mp_lg_hist_init(&result->hist);
    int rc = check_opts(opts, err);
    if (rc < 0) {
        return rc;
    }
    struct mp_lg *lg = NULL;
    rc = mp_lg_new(&opts->load, &lg, err);
    if (rc < 0) {
        return rc;
    }
    struct run_ctx ctx = {.opts = opts};
    ctx.stats = mp_xcalloc(opts->max_windows, sizeof(*ctx.stats));
    struct mp_lg_phase phase = {.warmup_ns = opts->warmup_ns,
                                .window_ns = opts->window_ns,
                                .max_windows = opts->max_windows,
                                .on_window = on_window,
                                .arg = &ctx};
    struct mp_lg_result lr;
    rc = mp_lg_run(lg, &phase, &lr, cancel, err);
    if (rc == 0 || rc == MP_ECANCELLED) {
        mp_lg_hist_release(&result->hist);
        fill_result(result, opts, &lr, &ctx);
    }
    mp_lg_result_release(&lr);
    free(ctx.stats);
    mp_lg_free(lg);
    return rc;
}

/* Whether a second measurement with twice the windows and a quarter of the warm-up ends before
 * the deadline, with a window to spare for starting and stopping the load generator. */
static bool second_fits(const struct mp_measure_opts *mo, int64_t deadline_ns)
{
    double need_ns =
        (double)mo->warmup_ns / 4 + (2.0 * mo->max_windows + 1) * (double)mo->window_ns;
    return (double)deadline_ns - (double)mp_mono_ns() > need_ns;
}

int mp_measure_settled(struct mp_measure_opts *opts, bool remeasure, int64_t deadline_ns,
                       struct mp_measure_result *result, const atomic_bool *cancel,
                       struct mp_error *err)
{
    int rc = mp_measure_run(opts, result, cancel, err);
    bool again = rc == 0 && remeasure && !result->stable && !result->pruned &&
                 !result->unreachable && opts->max_windows <= 5000 &&
                 !(cancel && atomic_load(cancel)) && second_fits(opts, deadline_ns) &&
                 mp_measure_may_settle(result->per_window, result->n_windows,
                                       2 * (size_t)opts->max_windows, opts->ci_target);
    if (again) {
        mp_measure_result_release(result);
        opts->max_windows *= 2;
        opts->warmup_ns /= 4;
        rc = mp_measure_run(opts, result, cancel, err);
        result->remeasured = true;
    }
    return rc;
}

void mp_measure_result_release(struct mp_measure_result *r)
{
    mp_lg_hist_release(&r->hist);
    free(r->per_window);
    r->per_window = NULL;
    r->n_windows = 0;
}

void mp_measure_result_metrics(const struct mp_measure_result *r, bool bounds, struct mp_metrics *m)
{
    mp_metrics_set(m, "throughput_rps", r->throughput_rps);
    /* No request answered is no latency measured: zero answers are not zero latency (a trial
     * whose service crashed or answered only errors recorded p99_ms = 0, which the search took
     * for the best latency there and a margin far inside every latency limit). */
    for (int s = 0; r->requests > 0 && s < MP_STAT_COUNT; s++) {
        char name[32];
        snprintf(name, sizeof(name), "latency_%s_us", mp_stat_name((enum mp_stat)s));
        mp_metrics_set(m, name, r->latency.us[s]);
        /* The same in milliseconds under the short names specs use: p99_ms <= 200. */
        snprintf(name, sizeof(name), "%s_ms", mp_stat_name((enum mp_stat)s));
        mp_metrics_set(m, name, r->latency.us[s] / 1000.0);
        double pct = mp_stat_percentile((enum mp_stat)s);
        if (bounds && pct > 0 && pct < 100) {
            snprintf(name, sizeof(name), "latency_%s_us_upper", mp_stat_name((enum mp_stat)s));
            mp_metrics_set(m, name, r->latency.upper_us[s]);
            snprintf(name, sizeof(name), "%s_ms_upper", mp_stat_name((enum mp_stat)s));
            mp_metrics_set(m, name, r->latency.upper_us[s] / 1000.0);
        }
    }
    /* Half the relative spread (max/min - 1) of the merged windows, as an absolute uncertainty of
     * the throughput (reports use it to say when two configurations are within noise). */
    if (r->merged > 3 && isfinite(r->ci)) {
        /* Enough windows for a confidence interval: its half-width (95 %). */
        mp_metrics_set(m, "throughput_rps_uncertainty", r->throughput_rps * r->ci);
    } else if (r->spread.throughput >= 0 && isfinite(r->spread.throughput)) {
        mp_metrics_set(m, "throughput_rps_uncertainty",
                       r->throughput_rps * r->spread.throughput / 2.0);
    }
    mp_metrics_set(m, "windows", (double)r->windows);
    mp_metrics_set(m, "error_rate", r->error_rate);
    mp_metrics_set(m, "late_fraction", r->late_fraction);
    mp_metrics_set(m, "stable", r->stable ? 1.0 : 0.0);
    mp_metrics_set(m, "pruned", r->pruned ? 1.0 : 0.0);
    mp_metrics_set(m, "requests", (double)r->requests);
    mp_metrics_set(m, "lg_cpu_share", r->lg_cpu_share);
}
