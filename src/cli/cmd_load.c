/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling load`: the HTTP load generator and the measurement protocol on the command line —
 * one measurement (closed or open loop, until stable or for a fixed duration) or a capacity
 * search under an SLO. User documentation: docs/load.md. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"
#include "measure/measure.h"

#define MAX_LIST 1024

struct load_args {
    struct mp_capacity_opts cap; /* cap.max_time_ns < 0: --max-time not given */
    struct mp_cli_list headers, bodies;
    struct mp_cli_paths body_files;
    bool json, capacity, have_slo, poisson, remeasure;
    int64_t duration_ns;
    const char *result; /* --result FILE */
};

static int parse_slo(void *args, const char *value, struct mp_error *err)
{
    struct load_args *a = args;
    a->have_slo = true;
    return mp_slo_parse(value, &a->cap.slo, err);
}

/* --prune SLO: the pruning rule of a trial's measurement (two windows in a row over twice a
 * limit end it). */
static int parse_prune(void *args, const char *value, struct mp_error *err)
{
    struct mp_measure_opts *mo = &((struct load_args *)args)->cap.measure;
    mo->prune_windows = 2;
    mo->prune_factor = 2.0;
    return mp_slo_parse(value, &mo->prune_slo, err);
}

static void load_init(void *args)
{
    struct load_args *a = args;
    mp_capacity_opts_init(&a->cap);
    a->cap.max_time_ns = -1;
}

#define T  struct load_args
#define LO cap.measure.load
static const struct mp_opt load_opts[] = {
    {"threads", 't', MP_OPT_INT, MP_OPT_AT(T, LO.threads), "N", "event-loop threads", .min = 1,
     .max = 256},
    {"connections", 'c', MP_OPT_INT, MP_OPT_AT(T, LO.connections), "N", "connections in total",
     .min = 1, .max = 100000},
    {"duration", 'd', MP_OPT_DURATION, MP_OPT_AT(T, duration_ns), "D",
     "measure for D after the warm-up and merge every window (default: until stable)", .max = 1000},
    {"rate", 0, MP_OPT_NUM, MP_OPT_AT(T, LO.rate_rps), "R",
     "open loop: R requests/s in total (default: closed loop)", .min = 1e-9, .max = 1e8},
    {"poisson", 0, MP_OPT_FLAG, MP_OPT_AT(T, poisson), NULL,
     "open loop with exponential inter-arrival times"},
    {"header", 'H', MP_OPT_LIST, MP_OPT_AT(T, headers), "'NAME: VALUE'",
     "an extra request header; repeatable"},
    {"method", 'm', MP_OPT_STR, MP_OPT_AT(T, LO.method), "M",
     "the request method (default: GET, or POST with a body)"},
    {"body", 0, MP_OPT_LIST, MP_OPT_AT(T, bodies), "FILE|DIR",
     "a request body from a file, or every file of a folder; repeat to rotate several bodies "
     "across requests",
     .flags = MP_OPT_PATH},
    {"timeout", 0, MP_OPT_DURATION, MP_OPT_AT(T, LO.timeout_ns), "D", "per-request timeout",
     .max = 100},
    {"expect-status", 0, MP_OPT_INT, MP_OPT_AT(T, LO.expect_status), "N",
     "success means exactly this status (default: any 2xx or 3xx)", .min = 100, .max = 999},
    {"expect-body", 0, MP_OPT_STR, MP_OPT_AT(T, LO.expect_body), "TEXT",
     "success also needs TEXT in the response body"},
    {"warmup", 0, MP_OPT_DURATION, MP_OPT_AT(T, cap.measure.warmup_ns), "D",
     "load before the first window, discarded", .max = 100},
    {"window", 0, MP_OPT_DURATION, MP_OPT_AT(T, cap.measure.window_ns), "D",
     "length of one measurement window", .max = 100},
    {"max-windows", 0, MP_OPT_INT, MP_OPT_AT(T, cap.measure.max_windows), "N",
     "give up on stability after N windows", .min = 1, .max = 10000},
    {"stable-windows", 0, MP_OPT_INT, MP_OPT_AT(T, cap.measure.stable_windows), "N",
     "the last N windows must agree (at least 2)", .min = 2, .max = 64},
    {"tolerance", 0, MP_OPT_NUM, MP_OPT_AT(T, cap.measure.tolerance), "X",
     "windows agree when max/min <= 1+X for throughput and latency", .min = 0, .max = 100},
    {"ci", 0, MP_OPT_NUM, MP_OPT_AT(T, cap.measure.ci_target), "X",
     "the confidence rule instead: measure until the 95 % confidence interval of the mean "
     "throughput is within +-X of it (0.02 is +-2 %), or --max-windows; 0: the stability rule",
     .min = 0, .max = 1},
    {"prune", 0, MP_OPT_FN, 0, 0, "SLO",
     "stop once two windows in a row miss these latency limits by more than twice, e.g. "
     "'p99<=200ms' (a trial that fails its constraints costs less)",
     .fn = parse_prune},
    {"remeasure", 0, MP_OPT_FLAG, MP_OPT_AT(T, remeasure), NULL,
     "when the measurement did not settle, and may with more windows, measure once more with "
     "twice the windows (within --max-time when given); its figures stand"},
    {"capacity", 0, MP_OPT_FLAG, MP_OPT_AT(T, capacity), NULL,
     "find the highest request rate that meets --slo"},
    {"slo", 0, MP_OPT_FN, 0, 0, "SLO",
     "latency limits with units, e.g. 'p99<=200ms' or 'p50<=20ms,p99<=200ms' (p50 p90 p95 p99 "
     "p999 max mean)",
     .fn = parse_slo},
    {"max-error-rate", 0, MP_OPT_NUM, MP_OPT_AT(T, cap.max_error_rate), "X",
     "capacity: errors allowed at a rate that passes", .min = 0, .max = 1},
    {"max-time", 0, MP_OPT_DURATION, MP_OPT_AT(T, cap.max_time_ns), "D",
     "capacity: time budget of the search (default: 60s); with --remeasure: the time both "
     "measurements must fit in (default: none)",
     .max = 1000},
    {"precision", 0, MP_OPT_NUM, MP_OPT_AT(T, cap.precision), "X",
     "capacity: stop when the bracket is this tight ((hi - lo) / lo)", .min = 0.001, .max = 1},
    {"late-threshold", 0, MP_OPT_DURATION, MP_OPT_AT(T, LO.late_threshold_ns), "D",
     "open loop: a send later than this past its schedule counts as late", .max = 100},
    {"max-header-bytes", 0, MP_OPT_INT, MP_OPT_AT(T, LO.limits.max_header_bytes), "N",
     "larger response heads are parse errors (default: 64 KiB)", .min = 64, .max = 64 << 20},
    {"max-body-bytes", 0, MP_OPT_INT, MP_OPT_AT(T, LO.limits.max_body_bytes), "N",
     "larger response bodies are parse errors (default: 64 MiB)", .min = 1,
     .max = (double)(INT64_C(1) << 40)},
    {"seed", 0, MP_OPT_INT, MP_OPT_AT(T, LO.seed), "N", "seed of the Poisson arrivals", .min = 0,
     .max = (double)INT64_MAX},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(T, json), NULL,
     "print one JSON object on stdout (docs/load.md), nothing else"},
    {"result", 0, MP_OPT_STR, MP_OPT_AT(T, result), "FILE",
     "also write a compact JSON result (the trial metrics, under 4 KiB) to FILE, such as a "
     "Kubernetes termination message (/dev/termination-log)",
     .flags = MP_OPT_PATH},
};
#undef LO
#undef T

/* Whether an option of the measurement's windows was given: a capacity search sets them for
 * each of its steps, so they would be ignored. */
static bool measure_options_given(const struct load_args *a)
{
    struct mp_measure_opts d;
    mp_measure_opts_init(&d);
    const struct mp_measure_opts *mo = &a->cap.measure;
    return a->duration_ns != 0 || mo->warmup_ns != d.warmup_ns || mo->window_ns != d.window_ns ||
           mo->max_windows != d.max_windows || mo->stable_windows != d.stable_windows ||
           mo->tolerance != d.tolerance || mo->ci_target != d.ci_target || mo->prune_windows ||
           a->remeasure;
}

/* Options of one mode given in another, where nothing would read them (as --slo and --max-time
 * without --capacity): refused, not ignored. */
static int refuse_ignored(const struct load_args *a)
{
    struct mp_capacity_opts d;
    mp_capacity_opts_init(&d);
    const struct mp_lg_opts *lo = &a->cap.measure.load;
    if (!a->capacity &&
        (a->cap.max_error_rate != d.max_error_rate || a->cap.precision != d.precision)) {
        return mp_cli_usage("load", "%s is for --capacity",
                            a->cap.max_error_rate != d.max_error_rate ? "--max-error-rate"
                                                                      : "--precision");
    }
    if (!a->capacity && lo->rate_rps <= 0 &&
        lo->late_threshold_ns != d.measure.load.late_threshold_ns) {
        return mp_cli_usage("load", "--late-threshold is for the open loop: add --rate R");
    }
    if (a->duration_ns > 0 && a->cap.measure.max_windows != d.measure.max_windows) {
        return mp_cli_usage("load", "-d sets the number of windows itself (D / --window): drop "
                                    "--max-windows");
    }
    if (!a->poisson && lo->seed != d.measure.load.seed) {
        return mp_cli_usage("load", "--seed is for --poisson arrivals");
    }
    return 0;
}

/* Checks the combination of options and fills what they imply. */
static int finish_args(struct load_args *a)
{
    struct mp_measure_opts *mo = &a->cap.measure;
    if (a->capacity && !a->have_slo) {
        return mp_cli_usage("load", "--capacity needs --slo (e.g. --slo 'p99<=200ms')");
    }
    if (a->have_slo && !a->capacity) {
        return mp_cli_usage("load", "--slo is for --capacity");
    }
    if (a->capacity && mo->load.rate_rps > 0) {
        return mp_cli_usage("load", "--capacity chooses the rate itself; drop --rate");
    }
    if (a->capacity && measure_options_given(a)) {
        return mp_cli_usage("load", "--capacity times its own steps (docs/load.md): drop -d, "
                                    "--warmup, --window, --max-windows, --stable-windows, "
                                    "--tolerance, --ci, --prune and --remeasure, and bound the "
                                    "search with --max-time");
    }
    if (a->duration_ns > 0 && (mo->ci_target > 0 || a->remeasure)) {
        return mp_cli_usage("load",
                            "-d measures for a fixed time; %s measures until the "
                            "figures settle: choose one",
                            a->remeasure ? "--remeasure" : "--ci");
    }
    if (!a->capacity && a->cap.max_time_ns >= 0 && !a->remeasure) {
        return mp_cli_usage("load", "--max-time bounds --capacity's search or --remeasure's "
                                    "measurements");
    }
    if (a->capacity && a->cap.max_time_ns < 0) {
        struct mp_capacity_opts d;
        mp_capacity_opts_init(&d);
        a->cap.max_time_ns = d.max_time_ns;
    }
    if (a->poisson && mo->load.rate_rps <= 0) {
        return mp_cli_usage("load", "--poisson is for the open loop: add --rate R");
    }
    int rc = refuse_ignored(a);
    if (rc != 0) {
        return rc;
    }
    mo->load.arrival = a->poisson ? MP_LG_POISSON : mo->load.arrival;
    for (size_t i = 0; i < a->bodies.n; i++) {
        rc = mp_cli_add_files("load", a->bodies.v[i], NULL, MAX_LIST, &a->body_files);
        if (rc != 0) {
            return rc;
        }
    }
    mo->load.headers = a->headers.v;
    mo->load.n_headers = a->headers.n;
    mo->load.body_files = (const char *const *)a->body_files.v;
    mo->load.n_body_files = a->body_files.n;
    if ((double)mo->window_ns < MP_MEASURE_MIN_WINDOW_NS ||
        (a->duration_ns > 0 && (double)a->duration_ns < MP_MEASURE_MIN_WINDOW_NS)) {
        return mp_cli_usage("load",
                            "%s must be at least %g ms: a window must hold enough requests to "
                            "measure (1s is usual)",
                            (double)mo->window_ns < MP_MEASURE_MIN_WINDOW_NS ? "--window" : "-d",
                            MP_MEASURE_MIN_WINDOW_NS / 1e6);
    }
    if (a->duration_ns > 0) {
        /* Windows no longer than --window (nor shorter than the least) that add up to the whole
         * duration: 1.5s with 1s windows is two of 750ms, not one of 1s; past 10,000 windows
         * (the most a measurement keeps) they are longer than --window (docs/load.md). */
        int64_t n = (a->duration_ns + mo->window_ns - 1) / mo->window_ns;
        int64_t most = (int64_t)((double)a->duration_ns / MP_MEASURE_MIN_WINDOW_NS);
        n = n > most ? most : n;
        n = n < 1 ? 1 : n > 10000 ? 10000 : n;
        mo->window_ns = a->duration_ns / n;
        mo->max_windows = (unsigned)n;
        mo->fixed = true; /* `stable` still judges --stable-windows: false when fewer ran */
    }
    if (mo->stable_windows > mo->max_windows && !mo->fixed) {
        return mp_cli_usage("load", "--stable-windows (%u) exceeds --max-windows (%u)",
                            mo->stable_windows, mo->max_windows);
    }
    return 0;
}

static void print_latency(const char *title, const struct mp_latency *l)
{
    printf("%-12s", title);
    for (int s = 0; s < MP_STAT_COUNT; s++) {
        printf(" %s %.0f%s", mp_stat_name((enum mp_stat)s), l->us[s], l->trusted[s] ? "" : "*");
    }
    printf("  (us)\n");
}

static void print_errors(const struct mp_measure_result *r)
{
    printf("errors       %llu", (unsigned long long)r->errors_total);
    if (r->errors_total) {
        printf(" (");
        bool first = true;
        for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
            if (r->errors[e]) {
                printf("%s%s %llu", first ? "" : ", ", mp_lg_error_name((enum mp_lg_error)e),
                       (unsigned long long)r->errors[e]);
                first = false;
            }
        }
        printf(")");
    }
    printf(", error rate %.4f\n", r->error_rate);
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (r->first_error[e][0]) {
            printf("  first %s\n", r->first_error[e]);
        }
    }
}

static void print_spread(double spread)
{
    if (isfinite(spread)) {
        printf("%.1f%%", 100 * spread);
    } else {
        printf("n/a");
    }
}

static void print_measure(const struct mp_measure_opts *o, const struct mp_measure_result *r)
{
    const struct mp_lg_opts *l = &o->load;
    if (l->rate_rps > 0) {
        /* %g: a rate under one per second is not "0 req/s". */
        printf("target       %s, open loop at %.*g req/s (%s), %u thread(s), %u connections\n",
               l->url, l->rate_rps < 1e6 ? 6 : 9, l->rate_rps,
               l->arrival == MP_LG_POISSON ? "Poisson" : "constant", l->threads, l->connections);
    } else {
        printf("target       %s, closed loop, %u thread(s), %u connections\n", l->url, l->threads,
               l->connections);
    }
    /* Under the stability rule, more merged windows than it compares: they had too few answers. */
    bool few = !o->fixed && !(o->ci_target > 0) && !r->pruned && r->merged > o->stable_windows;
    printf("windows      %u of %.2f s after %.2f s warm-up, figures over %s %u: %s%s%s%s\n",
           r->windows, (double)o->window_ns / 1e9, (double)o->warmup_ns / 1e9,
           r->merged == r->windows ? "all" : "the last", r->merged,
           r->stable ? (o->ci_target > 0 ? "settled" : "stable")
                     : (o->ci_target > 0 ? "NOT settled" : "NOT stable"),
           r->pruned ? ", pruned (the latency limits were missed by more than twice)" : "",
           r->remeasured ? " (a second measurement: the first did not settle)" : "",
           few ? " (windows of too few answers for the stability rule, so every one is merged; "
                 "-d D or a longer --window measures a slow rate)"
               : "");
    /* A minimum of 0 (no window, or one without requests) has no ratio: null in --json. */
    printf("spread       throughput ");
    print_spread(r->spread.throughput);
    printf(", mean latency ");
    print_spread(r->spread.latency_mean);
    printf(", ");
    if (isnan(r->spread.latency_p99)) {
        printf("p99 not compared (too few samples)");
    } else {
        printf("p99 %.1f%%", 100 * r->spread.latency_p99);
    }
    printf(" (tolerance %.0f%%)\n", 100 * o->tolerance);
    /* Connections opened: about one a request when the service does not keep them alive (each
     * request then also pays a connect; the requests lost to it are resent, not errors). */
    printf("requests     %llu in %.2f s: %.1f req/s, %llu connection(s) opened\n",
           (unsigned long long)r->requests, r->duration_s, r->throughput_rps,
           (unsigned long long)r->connects);
    printf("transfer     %.2f MB/s read (%llu bytes, errors' answers included)\n",
           r->read_bytes_per_s / 1e6, (unsigned long long)r->bytes_read);
    print_errors(r);
    print_latency("latency", &r->latency);
    if (l->rate_rps > 0) {
        print_latency("uncorrected", &r->latency_sent);
        printf("late sends   %llu of %llu (%.2f%%), %llu of them due while their connection "
               "was busy%s\n",
               (unsigned long long)r->late_sends, (unsigned long long)r->sends,
               100 * r->late_fraction, (unsigned long long)r->late_busy,
               r->sends && r->late_busy * 100 > r->sends ? ": add connections" : "");
    }
    if (r->latency.samples < mp_stat_min_samples(MP_STAT_P999)) {
        printf("             * too few samples for that percentile to be trusted\n");
    }
    printf("load gen     %.2f s CPU, %.0f%% of %u thread(s)%s\n", r->lg_cpu_s,
           100 * r->lg_cpu_share, l->threads,
           r->lg_saturated ? ": SATURATED, the load generator may be the bottleneck" : "");
}

static void print_capacity(const struct mp_capacity_opts *o, const struct mp_capacity_result *r,
                           bool interrupted)
{
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct mp_capacity_step *s = &r->steps[i];
        printf("step %-8s offered %9.1f  achieved %9.1f req/s  p99 %8.0f us  %s %s\n", s->kind,
               s->offered_rps, s->throughput_rps, s->p99_us, s->pass ? "pass" : "FAIL", s->why);
    }
    if (interrupted) { /* not "none found": the search did not get to say */
        printf("capacity     interrupted after %.1f s, before an answer\n", r->search_s);
        return;
    }
    if (!r->found && r->unconfirmed_rps > 0) {
        printf("capacity     not confirmed: %.1f req/s passed a short step, but no longer run at "
               "or below it met the SLO (%.1f s); the SLO is within this service's noise: allow "
               "more time (--max-time) or a looser SLO\n",
               r->unconfirmed_rps, r->search_s);
        return;
    }
    bool stepped = false; /* an open-loop step ran: a rate was tested */
    for (size_t i = 0; i < r->n_steps; i++) {
        stepped = stepped || r->steps[i].offered_rps > 0;
    }
    if (!r->found && !stepped && 0.95 * r->saturation_rps >= 1.0) {
        printf("capacity     none found: no open-loop step fit in the time left after the probe "
               "(%.1f s); allow more time (--max-time)\n",
               r->search_s);
        return;
    }
    if (!r->found && r->why[0]) {
        printf("capacity     none found: %s (%.1f s)\n", r->why, r->search_s);
        return;
    }
    if (!r->found) {
        printf("capacity     none found: no tested rate met the SLO (%.1f s)\n", r->search_s);
        return;
    }
    if (isinf(r->uncertainty_rps)) {
        printf("capacity     at least %.1f req/s meeting the SLO (every rate tried passed), %.1f s "
               "search, stopped early (time limit)\n",
               r->capacity_rps, r->search_s);
    } else {
        bool down = false; /* a confirming run failed: the answer is below the bisected rate */
        for (size_t i = 0; i < r->n_steps; i++) {
            down = down || (strcmp(r->steps[i].kind, "confirm") == 0 && !r->steps[i].pass);
        }
        printf("capacity     %.1f req/s (+/- %.1f) meeting the SLO, %.1f s search, %s\n",
               r->capacity_rps, r->uncertainty_rps, r->search_s,
               r->converged ? "converged"
               : down       ? "confirmed below the rate that passed a short step"
                            : "stopped early (time limit)");
    }
    printf("saturation   %.1f req/s (closed loop), precision %.1f%%\n", r->saturation_rps,
           100 * o->precision);
    print_latency("latency", &r->at_capacity.latency);
}

/* --result: {"metrics": {...}, "requests", "errors", "error_rate"[, "capacity": {...}]}, the
 * figures a runner turns into a trial's metrics, compact enough for a termination message
 * (4096 bytes). */
static bool write_result(const char *path, const struct mp_measure_result *m, bool bounds,
                         const struct mp_capacity_result *cap)
{
    struct mp_metrics metrics = MP_METRICS_INIT;
    /* Nothing at capacity (no rate met the SLO) is no measurement: zero answers are not zero
     * latency, as the local runner records it. */
    if (!cap || m->requests > 0) {
        mp_measure_result_metrics(m, bounds, &metrics);
    }
    if (!cap) {
        mp_metrics_set(&metrics, "remeasured", m->remeasured ? 1.0 : 0.0);
    }
    json_t *mj = json_object();
    for (size_t i = 0; i < metrics.n; i++) {
        if (isfinite(metrics.values[i])) {
            json_object_set_new(mj, metrics.names[i], json_real(metrics.values[i]));
        }
    }
    mp_metrics_release(&metrics);
    json_t *doc =
        json_pack("{s:o, s:I, s:I, s:f}", "metrics", mj, "requests", (json_int_t)m->requests,
                  "errors", (json_int_t)m->errors_total, "error_rate", m->error_rate);
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (m->first_error[e][0]) {
            json_object_set_new(doc, "first_error", json_string(m->first_error[e]));
            break;
        }
    }
    if (cap) {
        json_object_set_new(doc, "capacity",
                            json_pack("{s:b, s:f, s:f}", "found", cap->found, "capacity_rps",
                                      cap->found ? cap->capacity_rps : 0.0, "saturation_rps",
                                      cap->saturation_rps));
        if (cap->why[0]) {
            json_object_set_new(json_object_get(doc, "capacity"), "why", json_string(cap->why));
        }
    }
    char *text = mp_json_dumps(doc, 0);
    json_decref(doc);
    /* Not written is a failure (exit 1): a runner reading the file found none, or an old one,
     * after an exit 0. The file is closed whatever failed. */
    FILE *f = fopen(path, "w");
    bool ok = f && fprintf(f, "%s", text) >= 0;
    ok = f && fclose(f) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "morphling load: cannot write %s: %s\n", path, strerror(errno));
    }
    free(text);
    return ok;
}

static int run_capacity(struct load_args *a)
{
    struct mp_capacity_result r;
    struct mp_error err = {0};
    int rc = mp_measure_capacity(&a->cap, &r, &mp_cli_interrupted, &err);
    int status = MP_EXIT_OK;
    if (rc < 0 && rc != MP_ECANCELLED) {
        status = mp_cli_fail(&err);
    } else if (a->json) {
        struct mp_buf b = MP_BUF_INIT;
        mp_capacity_result_json(&r, &b);
        printf("%s\n", b.data);
        mp_buf_release(&b);
    } else {
        print_capacity(&a->cap, &r, rc == MP_ECANCELLED);
    }
    if (rc == MP_ECANCELLED) { /* the JSON alone reads as a search that found nothing */
        fprintf(stderr, "morphling load: interrupted after %.1f s, before an answer\n", r.search_s);
    }
    if (status == MP_EXIT_OK && a->result && !write_result(a->result, &r.at_capacity, false, &r)) {
        status = MP_EXIT_FAILURE;
    }
    if (status == MP_EXIT_OK && (!r.found || rc == MP_ECANCELLED)) {
        status = MP_EXIT_FAILURE;
    }
    mp_capacity_result_release(&r);
    return status;
}

/* No connection could be made before the first connects failed: the error, naming the target and
 * the first connect error, and exit 1 (the JSON figures still on stdout with --json). */
static int unreachable(const struct load_args *a, const struct mp_measure_result *r)
{
    if (a->json) {
        struct mp_buf b = MP_BUF_INIT;
        mp_measure_result_json(r, &b);
        printf("%s\n", b.data);
        mp_buf_release(&b);
    }
    char *msg = mp_xasprintf("no connection to %s could be made in the first %.2f s (%llu "
                             "attempts): %s; is the service listening there?",
                             a->cap.measure.load.url, r->duration_s,
                             (unsigned long long)r->errors[MP_LG_ERR_CONNECT],
                             r->first_error[MP_LG_ERR_CONNECT]);
    mp_cli_print_message("morphling load: ", msg);
    free(msg);
    return MP_EXIT_FAILURE;
}

static int run_measure(struct load_args *a)
{
    struct mp_measure_result r;
    struct mp_error err = {0};
    int64_t deadline = a->cap.max_time_ns >= 0 ? mp_mono_ns() + a->cap.max_time_ns : INT64_MAX;
    /* Until stable, a target that refuses every connect would run every window (--max-windows)
     * of zeros; -d keeps its length (a service may come up during it). */
    a->cap.measure.stop_unreachable = !a->cap.measure.fixed;
    int rc =
        mp_measure_settled(&a->cap.measure, a->remeasure, deadline, &r, &mp_cli_interrupted, &err);
    if (rc < 0 && rc != MP_ECANCELLED) {
        mp_measure_result_release(&r);
        return mp_cli_fail(&err);
    }
    bool written = !a->result || write_result(a->result, &r, true, NULL);
    if (r.unreachable) {
        int status = unreachable(a, &r);
        mp_measure_result_release(&r);
        return written ? status : MP_EXIT_FAILURE;
    }
    if (a->json) {
        struct mp_buf b = MP_BUF_INIT;
        mp_measure_result_json(&r, &b);
        printf("%s\n", b.data);
        mp_buf_release(&b);
    } else {
        print_measure(&a->cap.measure, &r);
    }
    int status = rc == MP_ECANCELLED ? MP_EXIT_FAILURE : MP_EXIT_OK;
    if (rc == MP_ECANCELLED) { /* else the summary reads as a whole run that was NOT stable */
        fprintf(stderr,
                "morphling load: interrupted after %u whole window(s); the figures are theirs\n",
                r.windows);
    }
    if (r.requests == 0 && r.errors_total == 0 && rc != MP_ECANCELLED) {
        /* Nothing answered and nothing failed yet: requests still waiting for their timeout
         * when the run ended. Throughput 0 with no errors is no measurement. */
        if (r.sends > 0) {
            fprintf(stderr,
                    "morphling load: no request completed during the measurement (%llu sent): "
                    "the service did not answer, and none reached --timeout before the end\n",
                    (unsigned long long)r.sends);
        } else {
            fprintf(stderr, "morphling load: no request completed or was sent during the "
                            "measurement: the connections were waiting for earlier responses, "
                            "or the rate is too low for the run's length\n");
        }
        status = MP_EXIT_FAILURE;
    }
    if (r.requests == 0 && r.errors_total > 0) {
        for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
            if (r.first_error[e][0]) {
                mp_cli_print_message("morphling load: every request failed: ", r.first_error[e]);
                break;
            }
        }
        status = MP_EXIT_FAILURE;
    }
    mp_measure_result_release(&r);
    return written ? status : MP_EXIT_FAILURE;
}

static int load_run(void *args, char **operands, size_t n)
{
    (void)n;
    struct load_args *a = args;
    a->cap.measure.load.url = operands[0];
    int status = finish_args(a);
    if (status == 0) {
        mp_cli_catch_interrupts();
        status = a->capacity ? run_capacity(a) : run_measure(a);
        mp_cli_restore_interrupts();
    }
    mp_cli_paths_release(&a->body_files);
    return status;
}

const struct mp_verb mp_verb_load = {
    .name = "load",
    .run = load_run,
    .operands = "URL",
    .min_operands = 1,
    .max_operands = 1,
    .summary = "generate HTTP load; measure until stable, or find capacity under an SLO",
    .description =
        "Drives an HTTP/1.1 service at URL with keep-alive connections and reports throughput, "
        "latency percentiles and errors (docs/load.md). By default it measures in windows until "
        "the last --stable-windows agree; --duration measures for a fixed time; --capacity "
        "searches for the highest rate that meets --slo. A duration D takes a unit (500ms, 10s, "
        "1.5m); a bare number is seconds, and one that looks meant as milliseconds is warned "
        "of.\n\nExit status: 0 when the "
        "measurement ran, 1 when every request failed or none completed (without --duration it "
        "stops at the first connect errors when no connection could be made), no rate met the SLO, "
        "the --result file could not be written or it was interrupted, 2 for invalid options.",
    .opts = load_opts,
    .n_opts = MP_ARRAY_LEN(load_opts),
    .args_size = sizeof(struct load_args),
    .init = load_init,
};
