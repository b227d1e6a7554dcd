/* SPDX-License-Identifier: Apache-2.0 */
/* The trial measurement protocol (docs/internals/measure.md): warm-up discarded, measurement in
 * windows, stability when the last windows agree, percentiles reported only with enough samples,
 * a guard for a saturated load generator, and a capacity search that finds the highest request
 * rate a service sustains while meeting a latency SLO. Built on src/loadgen.
 *
 * Typical use by a trial runner:
 *
 *     struct mp_measure_opts o;
 *     mp_measure_opts_init(&o);
 *     o.load.url = "http://127.0.0.1:8080/infer";
 *     struct mp_measure_result r;
 *     if (mp_measure_run(&o, &r, &cancel, &err) == 0) { ... r.throughput_rps ... }
 *     mp_measure_result_release(&r);
 *
 * Ownership: options borrow their strings for the duration of the call. Results own their
 * arrays: mp_measure_run and mp_measure_capacity always initialise the result, even when they
 * fail, and the caller always releases it (the *_release functions also accept zeroed or
 * released results).
 * Thread-safety: every call is independent; several may run at once from different threads
 * (each spawns its own load generator threads). *cancel is polled about every 10 ms. */
#ifndef MP_MEASURE_H
#define MP_MEASURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "loadgen/loadgen.h"
#include "trial/trial.h"

/* ---- Latency statistics and SLOs ---------------------------------------------------------- */

#define MP_STAT_MAP(X)                                                                             \
    X(P50, "p50", 50.0)                                                                            \
    X(P90, "p90", 90.0)                                                                            \
    X(P95, "p95", 95.0)                                                                            \
    X(P99, "p99", 99.0)                                                                            \
    X(P999, "p999", 99.9)                                                                          \
    X(MAX, "max", 100.0)                                                                           \
    X(MEAN, "mean", -1.0)

enum mp_stat {
#define MP_STAT_ENUM(name, text, pct) MP_STAT_##name,
    MP_STAT_MAP(MP_STAT_ENUM)
#undef MP_STAT_ENUM
        MP_STAT_COUNT
};
const char *mp_stat_name(enum mp_stat s);
/* Percentile of a stat (50.0 ... 100.0), or a negative value for the mean. */
double mp_stat_percentile(enum mp_stat s);

/* Samples needed before a percentile is trustworthy: MLPerf's early-stopping bound at 99 %
 * confidence with one sample over the bound allowed (p90 64, p95 130, p99 662, p99.9 6636).
 * 11 for p50, 1 for the mean, 0 (always trusted) for max. */
uint64_t mp_stat_min_samples(enum mp_stat s);

/* Latency summary in microseconds, one entry per mp_stat, with a trust flag each and, for the
 * percentiles, the one-sided 99 % upper confidence bound of the true percentile: the sample at
 * rank n q + 2.326 sqrt(n q (1 - q)) + 1 (the normal approximation of the binomial count of
 * samples below the true q-quantile). Equal to the percentile itself for max and the mean. A
 * tail that holds about 1 - q of the samples (a CPU quota's throttling stalls, say) puts the
 * bound in the tail while the percentile itself may land on either side of it. */
struct mp_latency {
    double us[MP_STAT_COUNT];
    double upper_us[MP_STAT_COUNT];
    bool trusted[MP_STAT_COUNT];
    uint64_t samples;
};
void mp_latency_from_hist(struct mp_latency *out, const struct mp_lg_hist *h);

/* A latency SLO: every clause must hold, e.g. "p99<=200ms" or "p50<=20ms,p99<=200ms". */
#define MP_SLO_MAX_CLAUSES 8
struct mp_slo {
    struct {
        enum mp_stat stat;
        double limit_us;
        bool strict; /* '<': the figure must stay below the limit, not reach it */
    } clause[MP_SLO_MAX_CLAUSES];
    size_t n;
};
/* Grammar: CLAUSE (',' CLAUSE)*, CLAUSE = STAT '<=' DURATION (or '<', strict), STAT one of p50 p90
 * p95 p99 p999 p99.9 max mean, DURATION as mp_parse_duration_ns ("200ms", "1.5s", "800us"). Fails
 * with MP_EINVALID and a message naming the bad clause. */
int mp_slo_parse(const char *text, struct mp_slo *out, struct mp_error *err) MP_WUR;
/* True when every clause holds. When why is non-NULL and the SLO fails, writes
 * "p99 312ms > 200ms" there. */
bool mp_slo_met(const struct mp_slo *slo, const struct mp_latency *lat, char *why, size_t why_size);

/* ---- One measurement ---------------------------------------------------------------------- */

/* The longest measurement: warm-up plus twice the windows (a remeasure), about 31 years. */
#define MP_MEASURE_MAX_NS 1e18
/* The shortest window a spec or `morphling load` may ask for: a window must hold requests to
 * measure (windows of microseconds, a unit mistyped, measured nothing, trial after trial). */
#define MP_MEASURE_MIN_WINDOW_NS 1e7

/* The runners' longest first measurement under the confidence rule when runner.load.windows is
 * not given (a second one doubles it). */
#define MP_MEASURE_CI_WINDOWS 15

struct mp_measure_opts {
    struct mp_lg_opts load;       /* target and client settings; load.rate_rps = 0 is closed loop */
    int64_t warmup_ns;            /* discarded; default 1 s */
    int64_t window_ns;            /* default 1 s (perf_analyzer uses 5 s) */
    unsigned stable_windows;      /* windows that must agree; default 3 */
    unsigned max_windows;         /* give up after this many; default 10 */
    double tolerance;             /* max/min - 1 allowed in those windows; default 0.10 */
    uint64_t min_window_requests; /* a window with fewer requests is not comparable; 50 */
    double saturation_cpu_share;  /* generator CPU share above which it is the bottleneck; 0.9 */
    bool fixed; /* run all max_windows and merge them all (a fixed duration); `stable` still
                   reports the rule over the last stable_windows (false when fewer ran, and
                   stable_windows may then exceed max_windows) */
    /* Pruning, off while prune_windows is 0: stop once that many windows in a row break a clause
     * of prune_slo by more than prune_factor times its limit (mp_measure_prune_due); the result
     * says `pruned` and merges those windows. A configuration that misses its SLO by that much
     * then costs a fraction of a full measurement. */
    struct mp_slo prune_slo;
    unsigned prune_windows;
    double prune_factor;
    /* > 0: the confidence rule replaces the stability rule. The run continues until the 95 %
     * confidence interval of the mean throughput over every window (mp_measure_ci) is within
     * +-ci_target of the mean, over at least max(3, stable_windows) windows each with
     * min_window_requests, or max_windows (the time cap); every window is merged and `stable`
     * says whether the interval got there. 0: the stability rule above. */
    double ci_target;
    /* Stop after the first window that ends with connect errors when no connection could be
     * made before: every attempt failed to connect (refused, unreachable, timed out: a connect
     * that times out fails after a first window of nothing), none connected and no request
     * completed.
     * The result says `unreachable`. Off by default: `morphling load` sets it outside a fixed
     * duration; a trial's load test leaves it off (a service that dies is the runner's to see). */
    bool stop_unreachable;
};
/* Fills the defaults above and mp_lg_opts defaults (1 thread, 10 connections, 2 s timeout). */
void mp_measure_opts_init(struct mp_measure_opts *o);

/* Figures of one window. */
struct mp_window_stats {
    double duration_s;
    double throughput_rps; /* successful responses per second */
    uint64_t requests;
    uint64_t errors;
    uint64_t late_sends;
    struct mp_latency latency; /* corrected latency */
};
void mp_window_stats_from(struct mp_window_stats *out, const struct mp_lg_window *w);

/* The stability rule, pure: true when the last k windows (k >= 2) each have at least
 * min_requests requests and agree within max/min <= 1 + tolerance for throughput, mean latency
 * and (when every window has enough samples for it) p99 latency. Always writes the spreads seen
 * (max/min - 1) over the last min(k, n) windows; infinity where a minimum is 0. */
struct mp_spread {
    double throughput;
    double latency_mean;
    double latency_p99; /* NAN when p99 was not trusted in every window */
};
bool mp_measure_stable(const struct mp_window_stats *w, size_t n, unsigned k, double tolerance,
                       uint64_t min_requests, struct mp_spread *spread);

/* Student's t quantile for a two-sided 95 % interval with df degrees of freedom (infinity for 0).
 */
double mp_measure_t975(size_t df);

/* The 95 % confidence interval of the mean throughput over windows w[0..n), pure: its
 * half-width relative to the mean (Student's t over the per-window throughputs); infinity for
 * fewer than 2 windows or a mean of 0. Writes the mean to *mean when non-NULL. */
double mp_measure_ci(const struct mp_window_stats *w, size_t n, double *mean);

/* Whether a fresh measurement of m windows under the confidence rule may reach ci_target, judged
 * from the windows w[0..n) of one that did not, pure. False only for steady noise too wide for m
 * windows: the two halves of w agree on throughput (a pooled t test at 95 %; a service still
 * warming up, or a machine that got busier or quieter, deserves a fresh look), and Student's t
 * over m windows with the windows' standard deviation (less the window farthest from the mean
 * when n >= 5: one burst of noise) gives a relative half-width over MP_MEASURE_SETTLE_MARGIN
 * times ci_target. True with fewer than 4 windows, a mean of 0, or ci_target 0. */
#define MP_MEASURE_SETTLE_MARGIN 1.25
bool mp_measure_may_settle(const struct mp_window_stats *w, size_t n, size_t m, double ci_target);

/* The pruning rule, pure: true when each of the k windows w[0..k-1] breaks some clause of the
 * SLO by more than factor times its limit, counting only latency figures the window trusts
 * (enough samples, mp_stat_min_samples). */
bool mp_measure_prune_due(const struct mp_window_stats *w, size_t k, const struct mp_slo *slo,
                          double factor);

/* Windows merged into the figures of a run that ran the n windows w, pure: the last
 * prune_windows when the pruning rule stopped it (the windows that broke the SLO), else every
 * window with `fixed` or the confidence rule, else the last stable_windows (all n when fewer
 * ran), or all n when one of those had fewer than min_window_requests answers (the rule could not
 * judge them: at 0.5 req/s the last three 1 s windows read 0.33 or 0.67 req/s). */
size_t mp_measure_merged(const struct mp_measure_opts *o, const struct mp_window_stats *w, size_t n,
                         bool pruned);

struct mp_measure_result {
    bool stable;             /* the stability rule held before max_windows */
    bool pruned;             /* stopped early by the pruning rule */
    bool remeasured;         /* the figures of mp_measure_settled's second measurement */
    bool unreachable;        /* stopped by stop_unreachable: no connection before connects failed */
    unsigned windows;        /* windows run (excluding warm-up) */
    unsigned merged;         /* windows merged into the figures below (mp_measure_merged) */
    struct mp_spread spread; /* over the merged windows */
    double ci;               /* mp_measure_ci over the merged windows (relative half-width) */
    /* Figures over the merged windows. */
    double duration_s;
    double throughput_rps;
    double offered_rps; /* open loop target; 0 in closed loop */
    uint64_t requests;
    uint64_t errors[MP_LG_ERR_COUNT];
    uint64_t errors_total;
    double error_rate; /* errors / (requests + errors) */
    uint64_t sends;
    uint64_t late_sends;
    uint64_t late_busy;  /* late because their connection was busy: add connections */
    uint64_t connects;   /* connections opened (about one a request: no keep-alive) */
    uint64_t bytes_read; /* every byte of every response, errors' too (wrk's Transfer/sec) */
    double read_bytes_per_s;
    double late_fraction;
    struct mp_latency latency;      /* corrected (from scheduled send time) */
    struct mp_latency latency_sent; /* uncorrected (from actual send time) */
    struct mp_lg_hist hist;         /* merged corrected histogram (owned) */
    /* Load generator self-check. */
    double lg_cpu_s;
    double lg_cpu_share;
    bool lg_saturated; /* its CPU share says it, not the service, may be the bottleneck */
    /* Every window, in order (owned). */
    struct mp_window_stats *per_window;
    size_t n_windows;
    char first_error[MP_LG_ERR_COUNT][128];
    int first_status; /* the HTTP status of first_error[MP_LG_ERR_STATUS]; 0 if none */
};
void mp_measure_result_release(struct mp_measure_result *r);

/* Runs warm-up and windows until stable or max_windows, then merges the last stable_windows.
 * Returns 0 (stable or not: see result->stable), MP_ECANCELLED when *cancel became true
 * (result holds what was measured), MP_EINVALID/MP_ENOTFOUND for bad options or target, or
 * -errno. A service that refuses or fails every request is a successful measurement with
 * errors counted, not a failure of this call. cancel may be NULL. */
int mp_measure_run(const struct mp_measure_opts *opts, struct mp_measure_result *result,
                   const atomic_bool *cancel, struct mp_error *err) MP_WUR;

/* mp_measure_run, and when remeasure is on and that measurement neither settled nor was pruned,
 * one more with twice the windows and a quarter of the warm-up (the service is warm), whose
 * figures stand (result->remeasured; opts is changed so), if the first may settle
 * (mp_measure_may_settle) and the second ends before deadline_ns (monotonic, mp_mono_ns;
 * INT64_MAX: no limit) with a window to spare. Returns the last measurement's code. */
int mp_measure_settled(struct mp_measure_opts *opts, bool remeasure, int64_t deadline_ns,
                       struct mp_measure_result *result, const atomic_bool *cancel,
                       struct mp_error *err) MP_WUR;

/* Adds the figures as trial metrics: throughput_rps, latency_p50_us ... latency_max_us,
 * latency_mean_us (and p50_ms ... mean_ms), error_rate, late_fraction, stable and pruned (0/1),
 * requests, lg_cpu_share; with bounds, also the percentiles' upper confidence bounds
 * latency_p50_us_upper ... (and p50_ms_upper ...), which constraints must meet too. Not for a
 * run at capacity: the capacity search has judged the SLO there, and the percentile sits at its
 * limit by design. Without a request answered (requests 0) there are no latency figures: zero
 * answers are not zero latency. */
void mp_measure_result_metrics(const struct mp_measure_result *r, bool bounds,
                               struct mp_metrics *m);
/* Appends the result as one JSON object (the `morphling load --json` format). */
void mp_measure_result_json(const struct mp_measure_result *r, struct mp_buf *out);

/* ---- Capacity under an SLO ---------------------------------------------------------------- */

struct mp_capacity_opts {
    struct mp_measure_opts measure; /* target and client; rate and windows are set per step */
    struct mp_slo slo;
    double max_error_rate;       /* default 0.001 */
    double max_late_fraction;    /* sends allowed late (by a tenth of the tightest SLO bound);
                                    default 1.0 = off, as late sends already raise the corrected
                                    latency the SLO is checked on */
    double min_throughput_ratio; /* responses / requests sent at a sustained rate; 0.985 */
    int64_t max_time_ns;         /* whole search; default 60 s */
    double precision;            /* stop bisecting when (hi - lo) / lo <= this; default 0.02 */
    int64_t step_window_ns;      /* window length of each step; default 500 ms */
    unsigned step_windows;       /* windows per step; default 2 */
    int64_t step_warmup_ns;      /* default 300 ms */
};
void mp_capacity_opts_init(struct mp_capacity_opts *o);

/* One step of the search, for the report. */
struct mp_capacity_step {
    char kind[12];      /* "probe", "bracket", "bisect", "confirm", "retry" */
    double offered_rps; /* 0 for the closed-loop probe */
    double throughput_rps;
    double p99_us;
    double error_rate;
    double late_fraction;
    bool pass;
    char why[96]; /* why it failed, "" when it passed */
};

struct mp_capacity_result {
    bool found;             /* some rate met the SLO */
    double capacity_rps;    /* highest rate confirmed to meet the SLO */
    double uncertainty_rps; /* half the final bracket width (the true capacity is within
                               [capacity_rps, capacity_rps + 2 * uncertainty_rps]); infinity when
                               every rate tried passed (no upper bound found in the time) */
    double saturation_rps;  /* closed-loop throughput estimate from the probe */
    double search_s;        /* wall time of the whole search */
    bool converged;         /* found, and the final bracket is within the precision (not when
                               the time ran out first or a confirmation stepped down) */
    double unconfirmed_rps; /* !found: the highest rate that passed a step, 0 when none did */
    char why[256];          /* !found: why the search could not run its steps (a service too
                               slow for them, or every probe request failed), "" otherwise */
    struct mp_measure_result at_capacity; /* the confirming measurement (owned) */
    struct mp_capacity_step *steps;       /* owned */
    size_t n_steps;
};
void mp_capacity_result_release(struct mp_capacity_result *r);

/* Closed-loop probe for the saturation throughput, then open-loop steps that bracket and bisect
 * the rate, then a confirming run at the answer. A step passes when the SLO holds, the error
 * rate and late-send fraction are within bounds and achieved throughput >= min_throughput_ratio
 * x offered. Returns 0 (result->found says whether any rate passed), MP_ECANCELLED, or an error
 * as mp_measure_run. */
int mp_measure_capacity(const struct mp_capacity_opts *opts, struct mp_capacity_result *result,
                        const atomic_bool *cancel, struct mp_error *err) MP_WUR;
void mp_capacity_result_json(const struct mp_capacity_result *r, struct mp_buf *out);

#endif
