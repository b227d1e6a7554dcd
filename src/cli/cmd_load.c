/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling load`: the HTTP load generator and the measurement protocol on the command line —
 * one measurement (closed or open loop, until stable or for a fixed duration) or a capacity
 * search under an SLO. User documentation: docs/load.md. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure.h"

#define MAX_LIST   256
#define HELP_SHOWN 3 /* parse_args: help printed, nothing to run */

static atomic_bool cancelled;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&cancelled, true);
}

struct load_args {
    struct mp_capacity_opts cap;
    const char *headers[MAX_LIST];
    const char *bodies[MAX_LIST];
    bool json, capacity, have_slo, have_duration;
    int64_t duration_ns;
};

enum {
    OPT_RATE = 256,
    OPT_POISSON,
    OPT_BODY,
    OPT_TIMEOUT,
    OPT_EXPECT_STATUS,
    OPT_EXPECT_BODY,
    OPT_WARMUP,
    OPT_WINDOW,
    OPT_MAX_WINDOWS,
    OPT_STABLE_WINDOWS,
    OPT_TOLERANCE,
    OPT_JSON,
    OPT_CAPACITY,
    OPT_SLO,
    OPT_MAX_ERROR_RATE,
    OPT_MAX_TIME,
    OPT_PRECISION,
    OPT_MAX_HEADER,
    OPT_MAX_BODY,
    OPT_LATE,
    OPT_SEED,
};

static const struct option long_opts[] = {
    {"threads", required_argument, NULL, 't'},
    {"connections", required_argument, NULL, 'c'},
    {"duration", required_argument, NULL, 'd'},
    {"header", required_argument, NULL, 'H'},
    {"method", required_argument, NULL, 'm'},
    {"rate", required_argument, NULL, OPT_RATE},
    {"poisson", no_argument, NULL, OPT_POISSON},
    {"body", required_argument, NULL, OPT_BODY},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"expect-status", required_argument, NULL, OPT_EXPECT_STATUS},
    {"expect-body", required_argument, NULL, OPT_EXPECT_BODY},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"max-windows", required_argument, NULL, OPT_MAX_WINDOWS},
    {"stable-windows", required_argument, NULL, OPT_STABLE_WINDOWS},
    {"tolerance", required_argument, NULL, OPT_TOLERANCE},
    {"json", no_argument, NULL, OPT_JSON},
    {"capacity", no_argument, NULL, OPT_CAPACITY},
    {"slo", required_argument, NULL, OPT_SLO},
    {"max-error-rate", required_argument, NULL, OPT_MAX_ERROR_RATE},
    {"max-time", required_argument, NULL, OPT_MAX_TIME},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER},
    {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY},
    {"late-threshold", required_argument, NULL, OPT_LATE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int parse_count(const char *name, const char *v, int64_t lo, int64_t hi, int64_t *out)
{
    if (mp_parse_int64(v, out) < 0 || *out < lo || *out > hi) {
        return mp_cli_usage("load", "--%s: '%s' is not an integer in %lld..%lld", name, v,
                            (long long)lo, (long long)hi);
    }
    return 0;
}

static int parse_real(const char *name, const char *v, double lo, double hi, double *out)
{
    if (mp_parse_double(v, out) < 0 || *out < lo || *out > hi) {
        return mp_cli_usage("load", "--%s: '%s' is not a number in %g..%g", name, v, lo, hi);
    }
    return 0;
}

static int parse_dur(const char *name, const char *v, int64_t *out)
{
    if (mp_parse_duration_ns(v, out) < 0 || *out < 0 || *out > INT64_C(86400000000000)) {
        return mp_cli_usage("load", "--%s: '%s' is not a duration (e.g. 500ms, 10s)", name, v);
    }
    return 0;
}

static int add_list(const char **list, size_t *n, const char *v, const char *what)
{
    if (*n >= MAX_LIST) {
        return mp_cli_usage("load", "at most %d %s", MAX_LIST, what);
    }
    list[(*n)++] = v;
    return 0;
}

/* Options of the client itself (target, requests, checks). */
static int client_opt(struct load_args *a, int c, const char *v)
{
    struct mp_lg_opts *lo = &a->cap.measure.load;
    int64_t i;
    int rc = 0;
    switch (c) {
    case 't':
        rc = parse_count("threads", v, 1, 256, &i);
        lo->threads = (unsigned)i;
        break;
    case 'c':
        rc = parse_count("connections", v, 1, 100000, &i);
        lo->connections = (unsigned)i;
        break;
    case 'H':
        rc = add_list(a->headers, &lo->n_headers, v, "headers");
        break;
    case 'm':
        lo->method = v;
        break;
    case OPT_RATE:
        rc = parse_real("rate", v, 0, 1e8, &lo->rate_rps);
        break;
    case OPT_POISSON:
        lo->arrival = MP_LG_POISSON;
        break;
    case OPT_BODY:
        rc = add_list(a->bodies, &lo->n_body_files, v, "body files");
        break;
    case OPT_TIMEOUT:
        rc = parse_dur("timeout", v, &lo->timeout_ns);
        break;
    case OPT_EXPECT_STATUS:
        rc = parse_count("expect-status", v, 100, 999, &i);
        lo->expect_status = (int)i;
        break;
    case OPT_EXPECT_BODY:
        lo->expect_body = v;
        break;
    case OPT_MAX_HEADER:
        rc = parse_count("max-header-bytes", v, 64, 64 << 20, &i);
        lo->limits.max_header_bytes = (size_t)i;
        break;
    case OPT_MAX_BODY:
        rc = parse_count("max-body-bytes", v, 1, INT64_C(1) << 40, &i);
        lo->limits.max_body_bytes = (uint64_t)i;
        break;
    case OPT_LATE:
        rc = parse_dur("late-threshold", v, &lo->late_threshold_ns);
        break;
    case OPT_SEED:
        rc = parse_count("seed", v, 0, INT64_MAX, &i);
        lo->seed = (uint64_t)i;
        break;
    default:
        return 1; /* not a client option */
    }
    return rc;
}

/* Options of the protocol (windows, stability, capacity search, output). */
static int protocol_opt(struct load_args *a, int c, const char *v)
{
    struct mp_measure_opts *mo = &a->cap.measure;
    struct mp_error err = {0};
    int64_t i;
    switch (c) {
    case 'd':
        a->have_duration = true;
        return parse_dur("duration", v, &a->duration_ns);
    case OPT_WARMUP:
        return parse_dur("warmup", v, &mo->warmup_ns);
    case OPT_WINDOW:
        return parse_dur("window", v, &mo->window_ns);
    case OPT_MAX_WINDOWS: {
        int rc = parse_count("max-windows", v, 1, 10000, &i);
        mo->max_windows = (unsigned)i;
        return rc;
    }
    case OPT_STABLE_WINDOWS: {
        int rc = parse_count("stable-windows", v, 1, 64, &i);
        mo->stable_windows = (unsigned)i;
        return rc;
    }
    case OPT_TOLERANCE:
        return parse_real("tolerance", v, 0, 100, &mo->tolerance);
    case OPT_JSON:
        a->json = true;
        return 0;
    case OPT_CAPACITY:
        a->capacity = true;
        return 0;
    case OPT_SLO:
        a->have_slo = true;
        return mp_slo_parse(v, &a->cap.slo, &err) < 0 ? mp_cli_usage("load", "%s", err.msg) : 0;
    case OPT_MAX_ERROR_RATE:
        return parse_real("max-error-rate", v, 0, 1, &a->cap.max_error_rate);
    case OPT_MAX_TIME:
        return parse_dur("max-time", v, &a->cap.max_time_ns);
    case OPT_PRECISION:
        return parse_real("precision", v, 0.001, 1, &a->cap.precision);
    default:
        return mp_cli_usage("load", "unknown option (see 'morphling help load')");
    }
}

static int finish_args(struct load_args *a)
{
    struct mp_measure_opts *mo = &a->cap.measure;
    mo->load.headers = a->headers;
    mo->load.body_files = a->bodies;
    if (a->capacity && !a->have_slo) {
        return mp_cli_usage("load", "--capacity needs --slo (e.g. --slo 'p99<=200ms')");
    }
    if (a->capacity && mo->load.rate_rps > 0) {
        return mp_cli_usage("load", "--capacity chooses the rate itself; drop --rate");
    }
    if (a->have_duration) {
        if (a->duration_ns <= 0) {
            return mp_cli_usage("load", "--duration must be positive");
        }
        if (mo->window_ns > a->duration_ns) {
            mo->window_ns = a->duration_ns;
        }
        int64_t n = a->duration_ns / mo->window_ns;
        mo->max_windows = (unsigned)(n < 1 ? 1 : n > 10000 ? 10000 : n);
        if (mo->stable_windows > mo->max_windows) {
            mo->stable_windows = mo->max_windows;
        }
        mo->fixed = true;
    }
    if (mo->stable_windows > mo->max_windows) {
        return mp_cli_usage("load", "--stable-windows (%u) exceeds --max-windows (%u)",
                            mo->stable_windows, mo->max_windows);
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct load_args *a)
{
    memset(a, 0, sizeof(*a));
    mp_capacity_opts_init(&a->cap);
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "t:c:d:H:m:h", long_opts, NULL)) != -1) {
        if (c == 'h') {
            static char help_word[] = "help", load_word[] = "load";
            char *help_argv[] = {help_word, load_word, NULL};
            mp_cmd_help(2, help_argv);
            return HELP_SHOWN;
        }
        if (c == '?' || c == ':') {
            return mp_cli_usage("load", "unknown option or missing value: '%s'", argv[optind - 1]);
        }
        int rc = client_opt(a, c, optarg);
        if (rc == 1) {
            rc = protocol_opt(a, c, optarg);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if (optind != argc - 1) {
        return mp_cli_usage("load", optind >= argc ? "missing URL" : "expected one URL");
    }
    a->cap.measure.load.url = argv[optind];
    return finish_args(a);
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

static void print_measure(const struct mp_measure_opts *o, const struct mp_measure_result *r)
{
    const struct mp_lg_opts *l = &o->load;
    if (l->rate_rps > 0) {
        printf("target       %s, open loop at %.0f req/s (%s), %u thread(s), %u connections\n",
               l->url, l->rate_rps, l->arrival == MP_LG_POISSON ? "Poisson" : "constant",
               l->threads, l->connections);
    } else {
        printf("target       %s, closed loop, %u thread(s), %u connections\n", l->url, l->threads,
               l->connections);
    }
    printf("windows      %u of %.2f s after %.2f s warm-up, figures over the last %u: %s\n",
           r->windows, (double)o->window_ns / 1e9, (double)o->warmup_ns / 1e9, r->merged,
           r->stable ? "stable" : "NOT stable");
    printf("spread       throughput %.1f%%, mean latency %.1f%%, ", 100 * r->spread.throughput,
           100 * r->spread.latency_mean);
    if (isnan(r->spread.latency_p99)) {
        printf("p99 not compared (too few samples)");
    } else {
        printf("p99 %.1f%%", 100 * r->spread.latency_p99);
    }
    printf(" (tolerance %.0f%%)\n", 100 * o->tolerance);
    printf("requests     %llu in %.2f s: %.1f req/s\n", (unsigned long long)r->requests,
           r->duration_s, r->throughput_rps);
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

static void print_capacity(const struct mp_capacity_opts *o, const struct mp_capacity_result *r)
{
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct mp_capacity_step *s = &r->steps[i];
        printf("step %-8s offered %9.1f  achieved %9.1f req/s  p99 %8.0f us  %s %s\n", s->kind,
               s->offered_rps, s->throughput_rps, s->p99_us, s->pass ? "pass" : "FAIL", s->why);
    }
    if (!r->found) {
        printf("capacity     none found: no tested rate met the SLO (%.1f s)\n", r->search_s);
        return;
    }
    printf("capacity     %.1f req/s (+/- %.1f) meeting the SLO, %.1f s search, %s\n",
           r->capacity_rps, r->uncertainty_rps, r->search_s,
           r->converged ? "converged" : "stopped early (time limit)");
    printf("saturation   %.1f req/s (closed loop), precision %.1f%%\n", r->saturation_rps,
           100 * o->precision);
    print_latency("latency", &r->at_capacity.latency);
}

static int run_capacity(struct load_args *a)
{
    struct mp_capacity_result r;
    struct mp_error err = {0};
    int rc = mp_measure_capacity(&a->cap, &r, &cancelled, &err);
    int status = MP_EXIT_OK;
    if (rc < 0 && rc != MP_ECANCELLED) {
        status = mp_cli_fail(&err);
    } else if (a->json) {
        struct mp_buf b = MP_BUF_INIT;
        mp_capacity_result_json(&r, &b);
        printf("%s\n", b.data);
        mp_buf_release(&b);
    } else {
        print_capacity(&a->cap, &r);
    }
    if (status == MP_EXIT_OK && (!r.found || rc == MP_ECANCELLED)) {
        status = MP_EXIT_FAILURE;
    }
    mp_capacity_result_release(&r);
    return status;
}

static int run_measure(struct load_args *a)
{
    struct mp_measure_result r;
    struct mp_error err = {0};
    int rc = mp_measure_run(&a->cap.measure, &r, &cancelled, &err);
    if (rc < 0 && rc != MP_ECANCELLED) {
        mp_measure_result_release(&r);
        return mp_cli_fail(&err);
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
    if (r.requests == 0 && r.errors_total > 0) {
        for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
            if (r.first_error[e][0]) {
                fprintf(stderr, "morphling load: every request failed: %s\n", r.first_error[e]);
                break;
            }
        }
        status = MP_EXIT_FAILURE;
    }
    mp_measure_result_release(&r);
    return status;
}

int mp_cmd_load(int argc, char **argv)
{
    struct load_args *a = mp_xcalloc(1, sizeof(*a));
    int status = parse_args(argc, argv, a);
    if (status == 0) {
        struct sigaction sa = {0}, old_int, old_term;
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        status = a->capacity ? run_capacity(a) : run_measure(a);
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    free(a);
    return status == HELP_SHOWN ? MP_EXIT_OK : status;
}
