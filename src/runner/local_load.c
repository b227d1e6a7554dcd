/* SPDX-License-Identifier: Apache-2.0 */
/* The local runner's load-test step: runner.load settings and the call into the measurement
 * protocol (src/measure). This is the one place the runner depends on the load generator;
 * tests replace it through mp_local_runner.load. */
#include "runner/local_int.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "measure/measure.h"
#include "settings/settings.h"

enum load_mode { LOAD_MEASURE, LOAD_CAPACITY };

/* The time cap of the confidence rule, in windows (of 1 s by default). */

struct load_cfg {
    const char *path, *method, *body, *body_text, *slo;
    int mode;                               /* enum load_mode */
    const char *headers[16];                /* "Name: value" items; NULL for a map item */
    const struct mp_node *header_nodes[16]; /* every item, maps read by mp_spec_header_line */
    size_t n_headers;
    int64_t connections, threads, windows, stable_windows, expect_status;
    double rate, tolerance, max_error_rate, ci;
    int64_t warmup_ns, window_ns, timeout_ns, max_time_ns;
    bool prune, remeasure;
};

static int parse_headers(const struct mp_node *h, void *base, struct mp_error *err)
{
    struct load_cfg *c = base;
    int rc = mp_doc_expect(h, MP_NODE_SEQ, err);
    if (rc == 0 && h->n > MP_ARRAY_LEN(c->headers)) {
        rc = mp_doc_error(err, h, "at most %zu headers", MP_ARRAY_LEN(c->headers));
    }
    for (size_t i = 0; rc == 0 && i < h->n; i++) {
        c->header_nodes[i] = h->items[i];
        c->n_headers = i + 1;
        if (h->items[i]->kind == MP_NODE_MAP) {
            continue; /* {Name: value or secret}: its form was checked with the spec */
        }
        rc = mp_doc_string(h->items[i], &c->headers[i], err);
        if (rc == 0 && (!strchr(c->headers[i], ':') || strpbrk(c->headers[i], "\r\n"))) {
            rc = mp_doc_error(err, h->items[i], "expected \"Name: value\"");
        }
    }
    return rc;
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(lines[i]);
    }
}

/* Reads the {Name: value} items (secrets included) into owned lines that c->headers borrows. */
static int read_header_maps(const struct mp_spec *spec, struct load_cfg *c, char **owned,
                            struct mp_error *err)
{
    for (size_t i = 0; i < c->n_headers; i++) {
        if (!c->headers[i]) {
            int rc = mp_spec_header_line(spec, c->header_nodes[i], &owned[i], err);
            if (rc != 0) {
                return rc;
            }
            c->headers[i] = owned[i];
        }
    }
    return 0;
}

static bool url_path(const char *s)
{
    return s[0] == '/' && !strpbrk(s, " \r\n");
}

/* A request method is a token (RFC 9110 §9.1), as the load generator requires. */
static bool method_token(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    return *s && strspn(s, tchar) == strlen(s);
}

static const char *const modes[] = {"measure", "capacity", NULL};

#define FIELD(f) offsetof(struct load_cfg, f)
static const struct mp_setting load_table[] = {
    {MP_SETTING_KEY("path", MP_SETTING_STRING, FIELD(path)), .valid = url_path,
     .expect = "a URL path starting with '/'"},
    {MP_SETTING_KEY("method", MP_SETTING_STRING, FIELD(method)), .valid = method_token,
     .expect = "a method token such as GET or POST"},
    {MP_SETTING_KEY("body", MP_SETTING_STRING, FIELD(body))},
    {MP_SETTING_KEY("body_text", MP_SETTING_STRING, FIELD(body_text))},
    {MP_SETTING_KEY("headers", MP_SETTING_CUSTOM, 0), .parse = parse_headers},
    {MP_SETTING_KEY("connections", MP_SETTING_INT, FIELD(connections)), .min = 1, .max = 10000},
    {MP_SETTING_KEY("threads", MP_SETTING_INT, FIELD(threads)), .min = 1, .max = 256},
    {MP_SETTING_KEY("rate", MP_SETTING_NUMBER, FIELD(rate)), .min = 0, .max = 1e8},
    {MP_SETTING_KEY("warmup", MP_SETTING_DURATION, FIELD(warmup_ns)), .min = 1},
    {MP_SETTING_KEY("window", MP_SETTING_DURATION, FIELD(window_ns)),
     .min = MP_MEASURE_MIN_WINDOW_NS,
     .expect = "a window must hold enough requests to measure; 1s is usual"},
    {MP_SETTING_KEY("windows", MP_SETTING_INT, FIELD(windows)), .min = 1, .max = 1000},
    {MP_SETTING_KEY("stable_windows", MP_SETTING_INT, FIELD(stable_windows)), .min = 2, .max = 64},
    {MP_SETTING_KEY("tolerance", MP_SETTING_NUMBER, FIELD(tolerance)), .min = 0, .max = 10},
    {MP_SETTING_KEY("timeout", MP_SETTING_DURATION, FIELD(timeout_ns)), .min = 1},
    {MP_SETTING_KEY("expect_status", MP_SETTING_INT, FIELD(expect_status)), .min = 200, .max = 599},
    {MP_SETTING_KEY("max_error_rate", MP_SETTING_NUMBER, FIELD(max_error_rate)), .min = 0,
     .max = 1},
    {MP_SETTING_KEY("mode", MP_SETTING_CHOICE, FIELD(mode)), .choices = modes},
    {MP_SETTING_KEY("slo", MP_SETTING_STRING, FIELD(slo))},
    {MP_SETTING_KEY("max_time", MP_SETTING_DURATION, FIELD(max_time_ns)), .min = 1},
    {MP_SETTING_KEY("prune", MP_SETTING_BOOL, FIELD(prune))},
    {MP_SETTING_KEY("ci", MP_SETTING_NUMBER, FIELD(ci)), .min = 0, .max = 1},
    {MP_SETTING_KEY("remeasure", MP_SETTING_BOOL, FIELD(remeasure))},
    {.name = NULL},
};
#undef FIELD

/* Keys one mode does not read: given, they would be ignored without a word (as `morphling load`
 * refuses --window with --capacity and --slo without it). */
static const char *const measure_keys[] = {"rate",           "warmup",    "window", "windows",
                                           "stable_windows", "tolerance", "ci",     "prune",
                                           "remeasure",      NULL};
static const char *const capacity_keys[] = {"slo", "max_time", NULL};

static int refuse_other_mode(const struct mp_node *m, int mode, struct mp_error *err)
{
    const char *const *keys = mode == LOAD_CAPACITY ? measure_keys : capacity_keys;
    for (size_t i = 0; keys[i]; i++) {
        const struct mp_node *n = mp_doc_value(m, keys[i]);
        if (n) {
            return mode == LOAD_CAPACITY
                       ? mp_doc_error(err, n,
                                      "not used with mode: capacity (the capacity search sets "
                                      "its own rates and times its own steps; bound it with "
                                      "max_time)")
                       : mp_doc_error(err, n, "only used with mode: capacity");
        }
    }
    return 0;
}

static int load_cfg_parse(const struct mp_node *m, struct load_cfg *c, struct mp_error *err)
{
    memset(c, 0, sizeof(*c));
    c->path = "/";
    c->mode = LOAD_MEASURE;
    c->max_error_rate = 0.01;
    c->prune = true;
    c->remeasure = true;
    c->ci = 0.02;
    int rc = mp_settings_parse(m, load_table, c, err);
    if (rc == 0 && c->body && c->body_text) {
        rc = mp_doc_error(err, mp_doc_get(m, "body_text"),
                          "give either body or body_text, not both");
    }
    /* The measurement refuses more stable windows than windows in all (10 by default, the
     * `morphling load` default the kubernetes runner gets too): say so here, not per trial. */
    int64_t windows = c->windows ? c->windows : 10,
            stable = c->stable_windows ? c->stable_windows : 3;
    if (rc == 0 && c->mode == LOAD_MEASURE && stable > windows) {
        rc = mp_doc_error(err, mp_doc_get(m, c->stable_windows ? "stable_windows" : "windows"),
                          "stable_windows (%lld%s) exceeds windows (%lld%s)", (long long)stable,
                          c->stable_windows ? "" : " by default", (long long)windows,
                          c->windows ? "" : " by default");
    }
    /* The measurement's limit on its length (a remeasure doubles the windows). */
    double warmup_ns = c->warmup_ns ? (double)c->warmup_ns : 1e9;
    double windows_ns = (c->window_ns ? (double)c->window_ns : 1e9) *
                        (2.0 * (double)(c->windows  ? c->windows
                                        : c->ci > 0 ? MP_MEASURE_CI_WINDOWS
                                                    : 10) +
                         1);
    if (rc == 0 && c->mode == LOAD_MEASURE && warmup_ns + windows_ns > MP_MEASURE_MAX_NS) {
        rc = mp_doc_error(err, mp_doc_get(m, warmup_ns > windows_ns ? "warmup" : "window"),
                          "the warm-up and the windows (twice, for a remeasure) add up to more "
                          "than 30 years");
    }
    /* Each thread drives connections of its own (10 by default). */
    int64_t conns = c->connections ? c->connections : 10;
    if (rc == 0 && c->threads > conns) {
        rc = mp_doc_error(err, mp_doc_get(m, "threads"),
                          "threads (%lld) exceeds connections (%lld%s): each thread needs a "
                          "connection of its own",
                          (long long)c->threads, (long long)conns,
                          c->connections ? "" : " by default");
    }
    if (rc == 0) {
        rc = refuse_other_mode(m, c->mode, err);
    }
    if (rc == 0 && c->mode == LOAD_CAPACITY && !c->slo) {
        rc = mp_doc_error(err, m, "mode capacity needs an 'slo' such as \"p99<=200ms\"");
    }
    /* The capacity search refuses a budget shorter than its probe (300 ms + 2 x 500 ms). */
    if (rc == 0 && c->mode == LOAD_CAPACITY && c->max_time_ns && c->max_time_ns < 1300000000) {
        rc = mp_doc_error(err, mp_doc_get(m, "max_time"),
                          "shorter than one step of the capacity search (1.3s)");
    }
    return rc;
}

int mp_local_load_validate(const struct mp_node *load, struct mp_error *err)
{
    struct load_cfg c;
    int rc = load_cfg_parse(load, &c, err);
    struct mp_slo slo;
    if (rc == 0 && c.slo) {
        rc = mp_slo_parse(c.slo, &slo, err);
        if (rc != 0) {
            rc = mp_doc_error(err, mp_doc_get(load, "slo"), "%s", err ? err->msg : "bad SLO");
        }
    }
    return rc;
}

/* The request bodies: the file `path` names, or every regular file of the folder it names in
 * name order (at most 1024), so a load test rotates over varied real payloads. Owned paths. */
static int body_files(const char *path, char ***out, size_t *n, struct mp_error *err)
{
    struct stat st;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        return mp_dir_files(path, NULL, 1024, out, n, err);
    }
    *n = 0;
    *out = mp_xcalloc(1, sizeof(char *));
    if (path) {
        (*out)[(*n)++] = mp_xstrdup(path);
    }
    return 0;
}

static void fill_measure(struct mp_measure_opts *o, const struct load_cfg *c, const char *url,
                         const char **body, size_t n_bodies)
{
    mp_measure_opts_init(o);
    o->load.url = url;
    o->load.method = c->method;
    o->load.headers = c->headers;
    o->load.n_headers = c->n_headers;
    o->load.body_files = n_bodies ? body : NULL;
    o->load.n_body_files = n_bodies;
    o->load.rate_rps = c->rate;
    if (c->connections) {
        o->load.connections = (unsigned)c->connections;
    }
    if (c->threads) {
        o->load.threads = (unsigned)c->threads;
    }
    if (c->timeout_ns) {
        o->load.timeout_ns = c->timeout_ns;
    }
    o->load.expect_status = (int)c->expect_status;
    if (c->warmup_ns) {
        o->warmup_ns = c->warmup_ns;
    }
    if (c->window_ns) {
        o->window_ns = c->window_ns;
    }
    if (c->windows) {
        o->max_windows = (unsigned)c->windows;
    }
    if (c->stable_windows) {
        o->stable_windows = (unsigned)c->stable_windows;
    }
    if (c->tolerance > 0) {
        o->tolerance = c->tolerance;
    }
    if (c->mode == LOAD_MEASURE && c->ci > 0) {
        o->ci_target = c->ci;
        o->max_windows = c->windows ? (unsigned)c->windows : MP_MEASURE_CI_WINDOWS;
    }
}

/* The first message of the most frequent error class ("status: HTTP status 500"), or "". */
static const char *main_error(const struct mp_measure_result *m)
{
    int top = -1;
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (m->errors[e] && m->first_error[e][0] && (top < 0 || m->errors[e] > m->errors[top])) {
            top = e;
        }
    }
    return top < 0 ? "" : m->first_error[top];
}

/* The field to fix when the most frequent error is a 4xx answer (a 404 of a service serving
 * /predict, not the default /): " (runner.load.path: GET /)", or "". The readiness probe's
 * reason names its field; this one said only "HTTP status 404". */
static void client_error_hint(const struct mp_measure_result *m, const struct load_cfg *c,
                              const char *what, char *hint, size_t size)
{
    hint[0] = '\0';
    if (what != m->first_error[MP_LG_ERR_STATUS] || m->first_status < 400 ||
        m->first_status > 499) {
        return;
    }
    const char *method = c->method ? c->method : (c->body || c->body_text ? "POST" : "GET");
    snprintf(hint, size, " (runner.load.path: %s %s)", method, c->path);
}

static void judge_errors(const struct mp_measure_result *m, const struct load_cfg *c,
                         struct mp_trial_result *res)
{
    /* What the failures were (a 500, a malformed response, refused connections): the count
     * alone said "did not answer" of a service that answered every request with an error. */
    const char *what = main_error(m);
    char hint[192]; /* a long path is cut: the reason stays short */
    client_error_hint(m, c, what, hint, sizeof(hint));
    if (m->requests == 0 && m->errors_total == 0) {
        /* Zero answers also mean zero latency: never a measurement that meets an SLO. */
        mp_trial_result_fail(res, MP_FAILURE_LOAD_ERRORS,
                             "no request was answered in the %.1f s measured (0 failed): the "
                             "service was ready but did not answer the load test",
                             m->duration_s);
    } else if (m->requests == 0) {
        mp_trial_result_fail(res, MP_FAILURE_LOAD_ERRORS,
                             "no request succeeded in the %.1f s measured: all %llu failed%s%s%s",
                             m->duration_s, (unsigned long long)m->errors_total,
                             *what ? ", most with " : "", what, hint);
    } else if (m->error_rate > c->max_error_rate) {
        mp_trial_result_fail(
            res, MP_FAILURE_LOAD_ERRORS, "%.2f %% of %llu requests failed (limit %.2f %%)%s%s%s",
            100.0 * m->error_rate, (unsigned long long)(m->requests + m->errors_total),
            100.0 * c->max_error_rate, *what ? ": " : "", what, hint);
    }
}

static int run_capacity(const struct load_cfg *c, struct mp_measure_opts *mo,
                        const struct mp_local_target *t, struct mp_trial_result *res,
                        const atomic_bool *stop, struct mp_error *err)
{
    struct mp_capacity_opts co;
    mp_capacity_opts_init(&co);
    co.measure = *mo;
    int rc = mp_slo_parse(c->slo, &co.slo, err);
    if (rc != 0) {
        return rc;
    }
    co.max_error_rate = c->max_error_rate;
    int64_t left = t->deadline_ns - mp_mono_ns();
    int64_t one_step = co.step_warmup_ns + (int64_t)co.step_windows * co.step_window_ns;
    if (left < one_step) {
        /* The trial's deadline, not the search's options: a TIMEOUT of this trial (a budget cut
         * below one step was refused as invalid options, an INFRA failure retried twice; one
         * already passed ran a whole max_time). */
        mp_trial_result_fail(res, MP_FAILURE_TIMEOUT,
                             "the trial deadline left %.2f s for the capacity search, less than "
                             "one of its steps (%.1f s)",
                             left > 0 ? (double)left / 1e9 : 0.0, (double)one_step / 1e9);
        return 0;
    }
    co.max_time_ns = c->max_time_ns ? c->max_time_ns : co.max_time_ns;
    co.max_time_ns = left < co.max_time_ns ? left : co.max_time_ns;
    struct mp_capacity_result cr;
    memset(&cr, 0, sizeof(cr));
    rc = mp_measure_capacity(&co, &cr, stop, err);
    if (rc == 0 || rc == MP_ECANCELLED) {
        /* Without a rate at capacity there is no measurement there: zero answers are not zero
         * latency (a service 50 ms a request under 'p99<=10ms' read p99_ms = 0). */
        if (cr.at_capacity.requests > 0) {
            mp_measure_result_metrics(&cr.at_capacity, false, &res->metrics);
        }
        mp_metrics_set(&res->metrics, "capacity_rps", cr.found ? cr.capacity_rps : 0.0);
        mp_metrics_set(&res->metrics, "saturation_rps", cr.saturation_rps);
        if (rc == 0 && !cr.found) {
            mp_trial_result_fail(res, MP_FAILURE_SLO_VIOLATED, "no request rate met the SLO %s%s%s",
                                 c->slo, cr.why[0] ? ": " : "", cr.why);
        }
        rc = 0;
    }
    mp_capacity_result_release(&cr);
    return rc;
}

/* One measurement, and a second with twice the windows when the first did not settle and may
 * (mp_measure_settled) and fits before the trial deadline: one that ran past it failed the
 * trial as TIMEOUT and lost the first measurement. */
static int measure_settled(const struct load_cfg *c, struct mp_measure_opts *mo,
                           int64_t deadline_ns, struct mp_trial_result *res,
                           const atomic_bool *stop, struct mp_error *err)
{
    struct mp_measure_result mr;
    int rc = mp_measure_settled(mo, c->remeasure, deadline_ns, &mr, stop, err);
    /* Stopped (the trial deadline, the service's exit, a cancel) before a window was measured,
     * in the warm-up: nothing was, and throughput_rps 0 and error_rate 0 read as figures of it. */
    if (rc == MP_ECANCELLED && mr.windows == 0) {
        mp_measure_result_release(&mr);
        return 0;
    }
    if (rc == 0 || rc == MP_ECANCELLED) {
        mp_measure_result_metrics(&mr, true, &res->metrics);
        mp_metrics_set(&res->metrics, "remeasured", mr.remeasured ? 1.0 : 0.0);
        if (rc == 0) {
            judge_errors(&mr, c, res);
        }
        rc = 0;
    }
    mp_measure_result_release(&mr);
    return rc;
}

int mp_local_load_measure(const struct mp_local_target *t, struct mp_trial_result *res,
                          const atomic_bool *stop, struct mp_error *err)
{
    struct load_cfg c;
    char *lines[MP_ARRAY_LEN(c.headers)] = {0};
    int rc = load_cfg_parse(t->load, &c, err);
    if (rc == 0) {
        rc = read_header_maps(t->spec, &c, lines, err);
    }
    if (rc != 0) {
        free_lines(lines, MP_ARRAY_LEN(lines));
        return rc;
    }
    char *url = mp_xasprintf("http://%s:%d%s", t->host, t->port, c.path);
    char *body = c.body ? mp_spec_resolve_path(t->spec, c.body) : NULL;
    char **bodies = NULL;
    size_t n_bodies = 0;
    if ((rc = body_files(body, &bodies, &n_bodies, err)) != 0) {
        free(url);
        free(body);
        return rc;
    }
    struct mp_measure_opts mo;
    fill_measure(&mo, &c, url, (const char **)bodies, n_bodies);
    mo.load.cpu_mask = t->lg_cpu_mask; /* both modes: the service has the other CPUs */
    if (c.mode == LOAD_CAPACITY) {
        rc = run_capacity(&c, &mo, t, res, stop, err);
    } else {
        if (c.prune && mp_runner_prune_slo(t->spec, &mo.prune_slo) > 0) {
            mo.prune_windows = 2;
            mo.prune_factor = 2.0;
        }
        rc = measure_settled(&c, &mo, t->deadline_ns, res, stop, err);
    }
    for (size_t i = 0; i < n_bodies; i++) {
        free(bodies[i]);
    }
    free(bodies);
    free(url);
    free(body);
    free_lines(lines, MP_ARRAY_LEN(lines));
    return rc;
}
