/* SPDX-License-Identifier: Apache-2.0 */
/* Capacity search: the highest open-loop request rate a service sustains while meeting its SLO.
 * A closed-loop probe estimates the saturation throughput; open-loop steps around it bracket the
 * answer, bisection narrows the bracket to the requested precision, and a longer run confirms it
 * (docs/internals/measure.md has the reasoning and the pass rule). */
#include "measure/measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIRST_STEPS   8 /* more as the search needs (tests exercise the growth) */
#define MAX_STEP_CONN 1024
#define MAX_CONFIRM   16  /* confirmation runs at most (a retried step counts once) */
#define MIN_RATE_RPS  1.0 /* the lowest open-loop rate a step tries */

void mp_capacity_opts_init(struct mp_capacity_opts *o)
{
    memset(o, 0, sizeof(*o));
    mp_measure_opts_init(&o->measure);
    o->max_error_rate = 0.001;
    o->max_late_fraction = 1.0; /* off: late sends already raise the corrected latency */
    o->min_throughput_ratio = 0.985;
    o->max_time_ns = INT64_C(60000000000);
    o->precision = 0.02;
    o->step_window_ns = INT64_C(500000000);
    o->step_windows = 2;
    o->step_warmup_ns = INT64_C(300000000);
}

void mp_capacity_result_release(struct mp_capacity_result *r)
{
    mp_measure_result_release(&r->at_capacity);
    free(r->steps);
    r->steps = NULL;
    r->n_steps = 0;
}

struct search {
    const struct mp_capacity_opts *o;
    struct mp_capacity_result *res;
    const atomic_bool *cancel;
    int64_t deadline_ns;
    double slo_max_s;     /* largest latency bound of the SLO, to size open-loop connections */
    double slo_min_s;     /* smallest bound: a send late by a tenth of it does not matter */
    uint64_t min_samples; /* samples the strictest SLO percentile needs */
};

static int64_t step_ns(const struct search *s, unsigned windows)
{
    return s->o->step_warmup_ns + (int64_t)windows * s->o->step_window_ns;
}

/* Windows needed for the SLO's percentiles to be trustworthy at this rate (at least the
 * configured number, at most 4x). */
static unsigned windows_for(const struct search *s, double rate, unsigned base)
{
    double per_window = rate * (double)s->o->step_window_ns / 1e9;
    unsigned need = per_window > 0 ? (unsigned)ceil((double)s->min_samples / per_window) : base;
    if (need < base) {
        need = base;
    }
    return need > 4 * base ? 4 * base : need;
}

/* The verdict of one step. *suspect is set when only the SLO failed while every response that
 * was due came back: the service kept up, so a latency spike (a stalled machine, a collector
 * pause) rather than overload may be to blame, and the step deserves one retry. */
static bool judge(const struct search *s, const struct mp_measure_result *m, bool open_loop,
                  char *why, size_t why_size, bool *suspect)
{
    const struct mp_capacity_opts *o = s->o;
    why[0] = '\0';
    *suspect = false;
    if (m->requests == 0) {
        snprintf(why, why_size, "no successful responses");
        return false;
    }
    if (m->error_rate > o->max_error_rate) {
        snprintf(why, why_size, "error rate %.4f > %.4f", m->error_rate, o->max_error_rate);
        return false;
    }
    double ratio = m->sends ? (double)m->requests / (double)m->sends : 0.0;
    bool kept_up = !open_loop || ratio >= o->min_throughput_ratio;
    if (!mp_slo_met(&o->slo, &m->latency, why, why_size)) {
        *suspect = kept_up;
        return false;
    }
    if (!open_loop) {
        return true;
    }
    if (m->late_fraction > o->max_late_fraction) {
        snprintf(why, why_size, "%.1f%% of sends late", 100.0 * m->late_fraction);
        return false;
    }
    if (!kept_up) {
        snprintf(why, why_size, "completed %.1f%% of the requests sent", 100.0 * ratio);
        return false;
    }
    return true;
}

static void add_step(struct search *s, const char *kind, double rate,
                     const struct mp_measure_result *m, bool pass, const char *why)
{
    struct mp_capacity_result *r = s->res;
    if (r->n_steps >= FIRST_STEPS && (r->n_steps & (r->n_steps - 1)) == 0) {
        r->steps = mp_xreallocarray(r->steps, 2 * r->n_steps, sizeof(*r->steps));
    }
    struct mp_capacity_step *st = &r->steps[r->n_steps++];
    snprintf(st->kind, sizeof(st->kind), "%s", kind);
    st->offered_rps = rate;
    st->throughput_rps = m->throughput_rps;
    st->p99_us = m->latency.us[MP_STAT_P99];
    st->error_rate = m->error_rate;
    st->late_fraction = m->late_fraction;
    st->pass = pass;
    snprintf(st->why, sizeof(st->why), "%s", why);
}

/* After the probe or a failed step the service may still hold a queue of accepted requests: wait
 * about as long as the slowest request took (at most 2 s, or the request timeout when that is
 * longer) so the next step does not inherit it. */
static void cool_down(const struct search *s, const struct mp_measure_result *m)
{
    int64_t wait_ns = (int64_t)(m->latency_sent.us[MP_STAT_MAX] * 1000.0) + INT64_C(50000000);
    int64_t cap_ns = s->o->measure.load.timeout_ns > INT64_C(2000000000)
                         ? s->o->measure.load.timeout_ns
                         : INT64_C(2000000000);
    if (wait_ns > cap_ns) {
        wait_ns = cap_ns;
    }
    int64_t until = mp_mono_ns() + wait_ns;
    until = until < s->deadline_ns ? until : s->deadline_ns; /* the budget holds (max_time) */
    while (mp_mono_ns() < until && !(s->cancel && atomic_load(s->cancel))) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
}

static void step_opts(const struct search *s, double rate, unsigned windows,
                      struct mp_measure_opts *mo)
{
    *mo = s->o->measure;
    mo->load.rate_rps = rate;
    mo->warmup_ns = s->o->step_warmup_ns;
    mo->window_ns = s->o->step_window_ns;
    mo->max_windows = windows;
    mo->stable_windows = windows;
    mo->fixed = true;
    mo->prune_windows = 0; /* every step runs whole: the search judges the SLO itself */
    int64_t late_ns = (int64_t)(s->slo_min_s * 0.1 * 1e9);
    if (late_ns > mo->load.late_threshold_ns) {
        mo->load.late_threshold_ns = late_ns;
    }
    if (rate > 0) {
        /* Enough connections that a request at the SLO bound does not delay the next send. */
        double need = ceil(rate * s->slo_max_s * 1.2);
        unsigned threads = mo->load.threads ? mo->load.threads : 1;
        unsigned cap = mp_lg_max_connections(threads);
        cap = cap < MAX_STEP_CONN ? cap : MAX_STEP_CONN;
        if (need > mo->load.connections && cap > mo->load.connections) {
            mo->load.connections = need > cap ? cap : (unsigned)need;
        }
    }
}

/* Runs one step at rate (0: closed loop), and once more when the first verdict is suspect.
 * *pass tells the verdict; keep (if non-NULL) receives the last measurement. Returns 0,
 * MP_ECANCELLED, MP_EBUSY when the time budget is exhausted, or an error of mp_measure_run. */
static int step(struct search *s, const char *kind, double rate, unsigned windows, bool *pass,
                struct mp_measure_result *keep, struct mp_error *err)
{
    int rc = 0;
    *pass = false;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (mp_mono_ns() + step_ns(s, windows) > s->deadline_ns) {
            return attempt == 0 ? MP_EBUSY : 0;
        }
        struct mp_measure_opts mo;
        step_opts(s, rate, windows, &mo);
        struct mp_measure_result m;
        rc = mp_measure_run(&mo, &m, s->cancel, err);
        bool suspect = false;
        if (rc == 0) {
            char why[96];
            *pass = judge(s, &m, rate > 0, why, sizeof(why), &suspect);
            add_step(s, attempt ? "retry" : kind, rate, &m, *pass, why);
            if (rate == 0) {
                s->res->saturation_rps = m.throughput_rps;
                /* The probe's connections each left a request at the service. */
                cool_down(s, &m);
            } else if (!*pass) {
                cool_down(s, &m);
            }
        }
        if (rc == 0 && keep) {
            mp_measure_result_release(keep);
            *keep = m;
        } else {
            mp_measure_result_release(&m);
        }
        if (rc != 0 || *pass || !suspect) {
            break;
        }
    }
    return rc;
}

/* Whether a step of this many windows still leaves the time to confirm lo. */
static bool time_for_confirm(const struct search *s, unsigned windows, double lo)
{
    unsigned confirm_windows = windows_for(s, lo, 2 * s->o->step_windows);
    return mp_mono_ns() + step_ns(s, windows) + step_ns(s, confirm_windows) <= s->deadline_ns;
}

/* Finds lo (passes) < hi (fails) around the probe's estimate; hi stays infinite when every rate
 * passed until only the time to confirm lo was left. */
static int bracket(struct search *s, double *lo, double *hi, struct mp_error *err)
{
    double rate = 0.95 * s->res->saturation_rps;
    *lo = 0;
    *hi = INFINITY;
    while (*lo <= 0 || isinf(*hi)) {
        if (rate < MIN_RATE_RPS || rate < 0.02 * s->res->saturation_rps) {
            return 0; /* nothing passes: the SLO cannot be met at any useful rate */
        }
        unsigned windows = windows_for(s, rate, s->o->step_windows);
        if (*lo > 0 && !time_for_confirm(s, windows, *lo)) {
            return 0; /* every rate so far passed: confirm the highest while there is time */
        }
        bool pass = false;
        int rc = step(s, "bracket", rate, windows, &pass, NULL, err);
        if (rc < 0) {
            return rc;
        }
        if (pass) {
            *lo = rate;
            rate *= 1.05;
        } else {
            /* The first step down is small (the probe's estimate is usually close), then halve. */
            double failed = rate;
            rate *= isinf(*hi) ? 0.85 : 0.5;
            *hi = failed;
        }
        if (*lo > 0 && !isinf(*hi)) {
            break;
        }
    }
    return 0;
}

static int bisect(struct search *s, double *lo, double *hi, struct mp_error *err)
{
    while ((*hi - *lo) / *lo > s->o->precision) {
        double mid = 0.5 * (*lo + *hi);
        if (!time_for_confirm(s, windows_for(s, mid, s->o->step_windows), *lo)) {
            return 0; /* keep the time the confirmation needs */
        }
        bool pass = false;
        int rc = step(s, "bisect", mid, windows_for(s, mid, s->o->step_windows), &pass, NULL, err);
        if (rc < 0) {
            return rc;
        }
        if (pass) {
            *lo = mid;
        } else {
            *hi = mid;
        }
    }
    return 0;
}

/* A longer run at lo. lo passed a step before, so it is given up only after failing twice; each
 * lower rate gets one run. The next rate is lo less twice the precision, then less twice as much
 * each time (always at most 25 %), or just below the successful responses per second the service
 * gave in the failed run when that is lower: a service that answered 5,000 of 10,000 requests per
 * second will not pass at 9,600. The time budget ends it, or a rate below what the bracket would
 * try (2 % of the saturation estimate), or MAX_CONFIRM runs. */
static int confirm(struct search *s, double *lo, double *hi, struct mp_error *err)
{
    /* Twice the precision, at most 25 %: --precision 0.5 stepped down by 100 %, to 0. */
    const double first = 2.0 * s->o->precision < 0.25 ? 2.0 * s->o->precision : 0.25;
    double down = first, delivered = 0;
    for (int run = 0; run < MAX_CONFIRM; run++) {
        bool pass = false;
        unsigned windows = windows_for(s, *lo, 2 * s->o->step_windows);
        int rc = step(s, "confirm", *lo, windows, &pass, &s->res->at_capacity, err);
        if (rc < 0) {
            return rc;
        }
        if (pass) {
            /* A confirmed run at a fixed rate is the settled figure at capacity: its stability
             * flag asked for windows a step never runs (stable 0, so every capacity-mode trial
             * was unsettled: never the best in the search, a warning in show). */
            s->res->found = true;
            s->res->at_capacity.stable = true;
            return 0;
        }
        double got = s->res->at_capacity.throughput_rps;
        delivered = got > delivered ? got : delivered;
        if (run == 0) {
            continue; /* the rate that passed a step gets a second run */
        }
        double next = *lo * (1.0 - down), below = delivered * (1.0 - first);
        *hi = *lo;
        *lo = below < next ? below : next;
        down = down * 2 < 0.25 ? down * 2 : 0.25;
        delivered = 0;
        if (*lo < MIN_RATE_RPS || *lo < 0.02 * s->res->saturation_rps) {
            return 0;
        }
    }
    return 0;
}

static void init_search(struct search *s, const struct mp_capacity_opts *o)
{
    s->slo_max_s = 0.1;
    s->slo_min_s = 0.1;
    s->min_samples = 1;
    for (size_t i = 0; i < o->slo.n; i++) {
        double lim = o->slo.clause[i].limit_us / 1e6;
        s->slo_max_s = i == 0 || lim > s->slo_max_s ? lim : s->slo_max_s;
        s->slo_min_s = i == 0 || lim < s->slo_min_s ? lim : s->slo_min_s;
        uint64_t need = mp_stat_min_samples(o->slo.clause[i].stat);
        s->min_samples = need > s->min_samples ? need : s->min_samples;
    }
    if (s->slo_max_s > 1.0) {
        s->slo_max_s = 1.0;
    }
}

/* The first error message of m, by class ("status: HTTP status 500"). */
static const char *first_error(const struct mp_measure_result *m)
{
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (m->first_error[e][0]) {
            return m->first_error[e];
        }
    }
    return "no message";
}

int mp_measure_capacity(const struct mp_capacity_opts *o, struct mp_capacity_result *res,
                        const atomic_bool *cancel, struct mp_error *err)
{
    memset(res, 0, sizeof(*res));
    mp_lg_hist_init(&res->at_capacity.hist);
    res->steps = mp_xcalloc(FIRST_STEPS, sizeof(*res->steps));
    if (o->max_time_ns <= 0) {
        return mp_error_set(err, MP_EINVALID,
                            "capacity search: the time budget (max time) must be positive");
    }
    if (o->precision <= 0 || o->step_windows == 0 || o->step_window_ns <= 0 ||
        o->min_throughput_ratio > 1) {
        return mp_error_set(err, MP_EINVALID, "capacity search: invalid precision or step sizes");
    }
    int64_t start = mp_mono_ns();
    struct search s = {.o = o, .res = res, .cancel = cancel, .deadline_ns = start + o->max_time_ns};
    if (o->max_time_ns < step_ns(&s, o->step_windows)) {
        /* Not even the probe would run: no step, and no verdict on the SLO. */
        return mp_error_set(err, MP_EINVALID,
                            "capacity search: the time budget (max time %.3g s) is shorter than "
                            "one step (%.3g s)",
                            (double)o->max_time_ns / 1e9,
                            (double)step_ns(&s, o->step_windows) / 1e9);
    }
    init_search(&s, o);
    bool pass = false;
    double lo = 0, hi = INFINITY;
    struct mp_measure_result probe;
    memset(&probe, 0, sizeof(probe));
    int rc = step(&s, "probe", 0, o->step_windows, &pass, &probe, err);
    if (rc == 0 && probe.requests == 0 && probe.errors_total > 0) {
        /* Not a slow service: one that answers with errors (500, refused connects). */
        snprintf(res->why, sizeof(res->why),
                 "every request of the closed-loop probe failed (%llu errors in %.1f s; %s)",
                 (unsigned long long)probe.errors_total, probe.duration_s, first_error(&probe));
    } else if (rc == 0 && 0.95 * res->saturation_rps < MIN_RATE_RPS) {
        /* The bracket would start below the lowest rate it tries: say why instead of reporting
         * that no tested rate met the SLO when none was tested. */
        snprintf(res->why, sizeof(res->why),
                 "the closed-loop probe measured %.2f req/s (%llu responses in %.1f s): the "
                 "search steps at %.0f req/s or more and needs several responses per %.1f s "
                 "step; measure a service this slow at a fixed rate (--rate) instead",
                 res->saturation_rps, (unsigned long long)probe.requests, probe.duration_s,
                 MIN_RATE_RPS, (double)step_ns(&s, o->step_windows) / 1e9);
    } else if (rc == 0) {
        rc = bracket(&s, &lo, &hi, err);
    }
    mp_measure_result_release(&probe);
    if (rc == 0 && lo > 0 && isfinite(hi)) {
        rc = bisect(&s, &lo, &hi, err);
    }
    if ((rc == 0 || rc == MP_EBUSY) && lo > 0) {
        rc = confirm(&s, &lo, &hi, err);
    }
    if (res->found) {
        res->capacity_rps = lo;
        res->uncertainty_rps = 0.5 * (hi - lo); /* infinite when no rate failed */
    }
    /* A confirmation that stepped down leaves a bracket wider than the precision again. */
    res->converged = res->found && (hi - lo) / lo <= o->precision;
    for (size_t i = 0; i < res->n_steps && !res->found; i++) {
        const struct mp_capacity_step *st = &res->steps[i];
        if (st->pass && st->offered_rps > res->unconfirmed_rps) {
            res->unconfirmed_rps = st->offered_rps;
        }
    }
    res->search_s = (double)(mp_mono_ns() - start) / 1e9;
    if (rc == MP_EBUSY) {
        mp_error_clear(err);
        rc = 0; /* out of time: report what was found, converged says how far it got */
    }
    return rc;
}
