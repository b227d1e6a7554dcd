/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/spec and src/doc: every validation error path, positions in messages,
 * overrides, JSON input and the document bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/spec.h"

#define HEAD "name: t\nobjective: {metric: qps}\nrunner: {kind: replay, surface: x.csv}\n"
#define P1   "parameters:\n  - {name: a, type: int, min: 1, max: 4}\n"

static struct mp_spec *parse_ok(const char *text, const char *const *sets, size_t n)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    int rc = mp_spec_parse(text, strlen(text), "t.yaml", "/tmp", sets, n, &spec, &err);
    if (rc != 0) {
        fail_msg("unexpected error: %s", err.msg);
    }
    return spec;
}

/* Parses text and checks that the error message contains `want`. */
static void expect_error(const char *text, const char *want)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    int rc = mp_spec_parse(text, strlen(text), "t.yaml", "/tmp", NULL, 0, &spec, &err);
    if (rc == 0) {
        mp_spec_free(spec);
        fail_msg("expected an error containing [%s], but the spec was accepted:\n%s", want, text);
    }
    if (!strstr(err.msg, want)) {
        fail_msg("error [%s] does not contain [%s]", err.msg, want);
    }
}

static void valid_spec_fields(void **state)
{
    (void)state;
    struct mp_spec *s = parse_ok(
        "name: demo\n"
        "service:\n"
        "  command: [./server, --threads, '{threads}', --port, '{port}']\n"
        "  env: {OMP: '{omp}'}\n"
        "  readiness: {http: /ready, interval: 100ms, startup_timeout: 30s}\n"
        "parameters:\n"
        "  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: cpu}}\n"
        "  - {name: threads, type: int, min: 1, max: 8, step: 1}\n"
        "  - {name: omp, type: discrete, values: [4, 1, 2]}\n"
        "  - {name: gpu, type: categorical, values: [T4, V100], target: {resource: gpu_type}}\n"
        "  - {name: batch, type: int, min: 1, max: 64, target: {arg: --batch}, role: batch_size}\n"
        "objective: {metric: throughput_per_cost, direction: maximize}\n"
        "constraints: ['p99_ms <= 200', \"\\terror_rate\\t<0.01 \", 'p99_ms >= 200']\n"
        "cost: {cpu_core_hour: 0.04, gpu_type_hour: {T4: 0.35, V100: 2.48}}\n"
        "algorithm: {name: grid, max_trials: 30, parallelism: 2, seed: 5}\n"
        "runner: {kind: local, trial_timeout: 5m}\n",
        NULL, 0);
    assert_string_equal(s->name, "demo");
    assert_int_equal(s->space.n, 5);
    assert_int_equal(s->service.argc, 5);
    assert_string_equal(s->service.argv[2], "{threads}");
    assert_string_equal(s->service.env[0], "OMP={omp}");
    assert_string_equal(s->service.probe_path, "/ready");
    assert_int_equal(s->service.probe_interval_ms, 100);
    assert_int_equal(s->service.startup_timeout_ms, 30000);
    assert_true(s->space.params[2].values[0] == 1 && s->space.params[2].values[2] == 4);
    assert_int_equal(s->space.params[3].resource, MP_RESOURCE_GPU_TYPE);
    assert_int_equal(s->space.params[4].target, MP_TARGET_ARG);
    assert_int_equal(s->n_constraints, 3); /* p99_ms == 200 meets the first and the last */
    assert_int_equal(s->constraints[0].op, MP_CMP_LE);
    assert_true(s->constraints[0].bound == 200);
    assert_string_equal(s->constraints[1].metric, "error_rate");
    assert_int_equal(s->constraints[1].op, MP_CMP_LT);
    assert_true(s->constraints[1].bound == 0.01); /* blanks around the parts are dropped */
    assert_true(s->cost.gpu_type_hour[1] == 2.48);
    assert_int_equal(s->max_trials, 30);
    assert_int_equal(s->parallelism, 2);
    assert_true(s->seed_given && s->seed == 5);
    assert_int_equal(s->trial_timeout_ms, 300000);
    assert_true(mp_spec_metric_derived(s, "throughput_per_cost"));
    assert_true(mp_spec_metric_derived(s, "items_per_s"));
    assert_string_equal(s->space.params[0].role, "cpu");
    assert_null(s->space.params[1].role);
    assert_int_equal(mp_space_find_role(&s->space, "batch_size"), 4);
    /* Derived metrics: 1.5 cores at 0.04 + one T4 at 0.35 per hour; batches of 8. */
    double x[5] = {1.5, 2, 1, 0, 8};
    struct mp_metrics m = MP_METRICS_INIT;
    mp_metrics_set(&m, "throughput_rps", 100);
    mp_spec_derive_metrics(s, x, &m);
    double v = 0;
    assert_true(mp_metrics_get(&m, "items_per_s", &v) && v == 800);
    assert_true(mp_metrics_get(&m, "cost_per_hour", &v) && fabs(v - 0.41) < 1e-12);
    assert_true(mp_metrics_get(&m, "throughput_per_cost", &v) && fabs(v - 100 / 0.41) < 1e-9);
    assert_true(mp_metrics_get(&m, "cost_per_million_requests", &v) &&
                fabs(v - 0.41 / 360000 * 1e6) < 1e-9);
    /* Rounded to 12 significant digits, as the price: 205 / 0.41 is 500.00000000000006 in
     * binary, which went out so in every export. */
    mp_metrics_set(&m, "throughput_rps", 205);
    mp_spec_derive_metrics(s, x, &m);
    assert_true(mp_metrics_get(&m, "throughput_per_cost", &v) && v == 500);
    assert_true(mp_metrics_get(&m, "cost_per_million_requests", &v) && v == 0.555555555556);
    mp_metrics_release(&m);
    mp_spec_free(s);
}

static void error_messages_name_file_line_and_field(void **state)
{
    (void)state;
    expect_error(HEAD "parameters:\n  - {name: a, type: int, min: 1, max: 4}\n"
                      "  - {name: b, type: int, min: 1, max: 4}\n"
                      "  - name: c\n    type: int\n    min: 1\n    max: 4\n    step: 0\n",
                 "t.yaml:11:11: 'parameters[2].step': expected a positive number, got \"0\"");
    expect_error(HEAD "paramters: []\n", "t.yaml:4:1: 'paramters': unknown key; did you mean "
                                         "'parameters'?");
    expect_error(HEAD P1 "algorithm: {max_trial: 3}\n", "did you mean 'max_trials'?");
    expect_error(HEAD "parameters:\n  - {name: a, type: int, min: 1, max: 4, stepp: 2}\n",
                 "'parameters[0].stepp': unknown key; did you mean 'step'?");
    expect_error(HEAD P1 "bogus_key_entirely: 1\n", "'bogus_key_entirely': unknown key");
}

static void structural_errors(void **state)
{
    (void)state;
    expect_error("", "the document is empty");
    expect_error("name: [unclosed\n", "t.yaml:");
    expect_error("- a\n- b\n", "expected a mapping, got a list");
    expect_error("objective: {metric: q}\n" P1, "'name': required key is missing");
    expect_error("name: 9lives\nobjective: {metric: q}\n" P1, "expected a name of letters");
    expect_error("name: t\nname: u\n", "t.yaml:2:1: 'name': duplicate key (first at line 1)");
    expect_error("algorithm:\n  seed: 1\n  max_trials: 3\n  seed: 2\n",
                 "t.yaml:4:3: 'algorithm.seed': duplicate key (first at line 2)");
    /* Keys are checked with a set, not pairwise (a map of 90,000 keys took 76 s). */
    struct mp_buf big = MP_BUF_INIT;
    mp_buf_adds(&big, "x:\n");
    for (int i = 0; i < 5000; i++) {
        mp_buf_addf(&big, "  k%d: 1\n", i);
    }
    mp_buf_adds(&big, "  k7: 2\n");
    expect_error(big.data, "t.yaml:5002:3: 'x.k7': duplicate key (first at line 9)");
    mp_buf_release(&big);
    expect_error("name: t\n" P1, "'objective': required key is missing");
    expect_error(HEAD, "'parameters': required key is missing");
    expect_error("a: 1\n---\nb: 2\n", "only one YAML document");
    expect_error("runner: {[kind]: local}\n",
                 "t.yaml:1:10: 'runner': mapping keys must be scalars");
    expect_error("name: &n t\nrunner: {*n : local}\n",
                 "t.yaml:2:10: 'runner': an alias cannot be a mapping key");
    /* An escaped NUL would cut the string short in C: refused, in values and in keys. */
    expect_error("name: \"ab\\0c\"\n", "t.yaml:1:7: 'name': a value contains a NUL");
    expect_error("{\"name\": \"j\\u0000t\"}", "t.yaml:1:10: 'name': a value contains a NUL");
    expect_error("\"na\\0me\": t\n", "t.yaml:1:1: a key contains a NUL character");
}

/* A spec of one parameter, each case's, refused with the case's message. */
struct param_case {
    const char *param;
    const char *want;
};

static void expect_param_errors(const struct param_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char text[1024];
        snprintf(text, sizeof(text), HEAD "parameters:\n  - %s\n", cases[i].param);
        expect_error(text, cases[i].want);
    }
}

static void parameter_errors(void **state)
{
    (void)state;
    static const struct param_case cases[] = {
        {"{name: a, min: 1, max: 2}", "'parameters[0].type': required key is missing"},
        {"{name: a, type: integer, min: 1, max: 2}", "expected int, float, discrete or"},
        {"{type: int, min: 1, max: 2}", "'parameters[0].name': required key is missing"},
        {"{name: 'a,b', type: int, min: 1, max: 2}", "is not a valid parameter name"},
        /* An empty name passed, and so did `{}` naming it; rendering refused `{}` in every
         * trial (CRASHED). */
        {"{name: '', type: int, min: 1, max: 2}", "'parameters[0].name': \"\" is not a valid "
                                                  "parameter name"},
        {"{name: a, type: int, max: 2}", "required key is missing"},
        {"{name: a, type: int, min: 1, max: x}", "'parameters[0].max': expected a number, got"},
        {"{name: a, type: int, min: 5, max: 2}", "max (2) is below min (5)"},
        {"{name: a, type: int, min: 1.5, max: 2}", "'parameters[0].min': expected an integer"},
        {"{name: a, type: int, min: 1, max: 9, step: 0.5}", "expected an integer, got \"0.5\""},
        /* An integer field refuses a fraction or an exponent (docs/spec.md); these passed. */
        {"{name: a, type: int, min: 1, max: 4.0}", "'parameters[0].max': expected an integer, "
                                                   "got \"4.0\""},
        {"{name: a, type: int, min: 1, max: 1e3}", "'parameters[0].max': expected an integer, "
                                                   "got \"1e3\""},
        {"{name: a, type: int, min: 1, max: 9, step: 2.}", "'parameters[0].step': expected an "
                                                           "integer, got \"2.\""},
        {"{name: a, type: int, min: 1, max: 9, step: -1}", "expected a positive number"},
        {"{name: a, type: float, min: 0, max: 1, log: true}", "log scale needs min > 0"},
        {"{name: a, type: float, min: 0, max: 1, log: yes}", "expected true or false"},
        {"{name: a, type: float, min: 0, max: 1e15, step: 1e-3}", "more than 10^12 steps"},
        /* Without a step the error is reported at max (issue 13: it crashed on the NULL step). */
        {"{name: a, type: int, min: 1, max: 1000000000002}",
         "'parameters[0].max': more than 10^12 steps between min and max (give a larger step)"},
        {"{name: a, type: int, min: 1, max: 9007199254740993, step: 1000000}",
         "'parameters[0].max': integer \"9007199254740993\" is too large: parameter values are "
         "exact only up to 2^53 - 1"},
        {"{name: a, type: int, min: -9007199254740992, max: 0, step: 1000000}",
         "'parameters[0].min': integer \"-9007199254740992\" is too large"},
        {"{name: a, type: int, min: 1, max: 2, values: [1]}", "not allowed for an int parameter"},
        {"{name: a, type: discrete, min: 1, values: [1]}", "not allowed for a discrete"},
        {"{name: a, type: discrete}", "required key is missing"},
        {"{name: a, type: discrete, values: []}", "expected a non-empty list of numbers"},
        {"{name: a, type: discrete, values: 3}", "expected a list, got \"3\""},
        {"{name: a, type: discrete, values: [1, two]}", "'parameters[0].values[1]': expected a "
                                                        "number, got \"two\""},
        {"{name: a, type: discrete, values: [1, 2, 1]}", "duplicate value \"1\""},
        /* Numbers are decimal (docs/spec.md): hexadecimal is refused everywhere. */
        {"{name: a, type: discrete, values: [1, 0x2]}",
         "'parameters[0].values[1]': expected a number, got \"0x2\""},
        {"{name: a, type: float, min: 0x1p0, max: 2}",
         "'parameters[0].min': expected a number, got \"0x1p0\""},
        {"{name: a, type: int, min: 0x1, max: 2}",
         "'parameters[0].min': expected a number, got \"0x1\""},
        {"{name: a, type: discrete, values: [0, 2], log: true}", "log scale needs positive"},
        {"{name: a, type: categorical, values: []}", "non-empty list of choices"},
        {"{name: a, type: categorical, values: [x, y, x]}", "duplicate choice \"x\""},
        {"{name: a, type: categorical, values: [[x]]}", "expected a string, got a list"},
        {"{name: a, type: categorical, values: [x], log: true}", "not allowed for a categorical"},
        {"{name: a, type: int, min: 1, max: 2, target: cpu}", "expected a mapping, got \"cpu\""},
        {"{name: a, type: int, min: 1, max: 2, target: {resource: disk}}", "unknown resource"},
        {"{name: a, type: int, min: 1, max: 2, target: {resource: cpu, env: X}}",
         "exactly one of resource, env or arg"},
        {"{name: a, type: int, min: 1, max: 2, target: {env: 'A B'}}", "valid environment name"},
        {"{name: a, type: int, min: 1, max: 2, target: {file: x}}",
         "'parameters[0].target.file': unknown key (the keys here: resource, env, arg)"},
        /* No key is close to "kind" (it was "did you mean 'min'?"): every key is listed. */
        {"{name: a, kind: int, min: 1, max: 2}",
         "'parameters[0].kind': unknown key (the keys here: name, type, min, max, step, log, "
         "values, target, role, description)"},
        {"{name: a, type: int, min: 1, max: 2, target: {resource: gpu_type}}",
         "needs a categorical parameter"},
        {"{name: a, type: categorical, values: [x], target: {resource: cpu}}",
         "needs a numeric parameter"},
        {"{name: a, type: float, min: 0.5, max: 2, target: {resource: gpu_memory_share}}",
         "must lie in (0, 1]"},
        {"{name: a, type: float, min: 0, max: 2, target: {resource: cpu}}", "must be > 0"},
        {"{name: a, type: int, min: -1, max: 2, target: {resource: gpu}}", "must be >= 0"},
        {"{name: a, type: int, min: 1, max: 2, role: batch}", "unknown role \"batch\""},
    };
    expect_param_errors(cases, MP_ARRAY_LEN(cases));
}

/* gpu_type is for a categorical parameter, every other role for a numeric one: a choice's
 * position stood for the batch size (items_per_s = throughput x 0, 1, 2). */
static void role_errors(void **state)
{
    (void)state;
    static const struct param_case cases[] = {
        {"{name: a, type: categorical, values: [\"4\", \"8\", auto], role: batch_size}",
         "role batch_size needs a numeric parameter"},
        {"{name: a, type: categorical, values: [\"1\", \"2\"], role: instances}",
         "role instances needs a numeric parameter"},
        {"{name: a, type: discrete, values: [1, 2], role: gpu_type}",
         "role gpu_type needs a categorical parameter"},
    };
    expect_param_errors(cases, MP_ARRAY_LEN(cases));
}

/* A cpu or memory value written as a Kubernetes quantity says the target's unit and the number it
 * is there (it said "expected a number, got \"1Gi\"" alone). */
static void unit_errors(void **state)
{
    (void)state;
    static const struct param_case cases[] = {
        {"{name: m, type: discrete, values: [512, 1Gi], target: {resource: memory}}",
         "t.yaml:5:45: 'parameters[0].values[1]': expected a number, got \"1Gi\" (a memory "
         "target is in MiB: 1Gi is 1024 MiB; write 1024)"},
        {"{name: m, type: int, min: 256, max: 1.5Gi, target: {resource: memory}}",
         "'parameters[0].max': expected a number, got \"1.5Gi\" (a memory target is in MiB: "
         "1.5Gi is 1536 MiB; write 1536)"},
        {"{name: c, type: float, min: 500m, max: 2, target: {resource: cpu}}",
         "'parameters[0].min': expected a number, got \"500m\" (a cpu target is in cores: 500m "
         "is 0.5 cores; write 0.5)"},
        {"{name: c, type: float, min: 0.5, max: 2, step: 250m, target: {resource: cpu}}",
         "'parameters[0].step': expected a number, got \"250m\" (a cpu target is in cores: "
         "250m is 0.25 cores; write 0.25)"},
        /* A quantity of the other resource's kind: its unit, not a number (1Gi read "1073741824
         * cores", 512m "4.88e-07 MiB"). */
        {"{name: c, type: discrete, values: [1Gi], target: {resource: cpu}}",
         "got \"1Gi\" (a cpu target is in cores; 1Gi is a size in bytes)"},
        {"{name: m, type: discrete, values: [512m], target: {resource: memory}}",
         "got \"512m\" (a memory target is in MiB; 512m is thousandths of a byte, not MiB)"},
        /* No quantity: the unit alone. */
        {"{name: m, type: discrete, values: [2GB], target: {resource: memory}}",
         "'parameters[0].values[0]': expected a number, got \"2GB\" (a memory target is in "
         "MiB)"},
        /* Other parameters have no unit to say. */
        {"{name: a, type: discrete, values: [1Gi], target: {env: MEM}}",
         "'parameters[0].values[0]': expected a number, got \"1Gi\""},
        /* A null is no text (`--set parameters[0].min=` read 'got "" (a cpu target is in
         * cores)'). */
        {"{name: c, type: float, min: null, max: 2, target: {resource: cpu}}",
         "'parameters[0].min': expected a number, got null"},
    };
    expect_param_errors(cases, MP_ARRAY_LEN(cases));
    char text[1024];
    snprintf(text, sizeof(text), HEAD "parameters:\n  - %s\n", cases[7].param);
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    assert_int_not_equal(mp_spec_parse(text, strlen(text), "t.yaml", "/tmp", NULL, 0, &spec, &err),
                         0);
    if (strstr(err.msg, "target is in")) {
        fail_msg("an env parameter was given a unit: %s", err.msg);
    }
}

/* The warnings of a valid spec, each naming file, line and field, or none. */
static void expect_warnings(const char *text, const char *want)
{
    struct mp_spec *spec = parse_ok(text, NULL, 0);
    size_t n = 0;
    char **w = mp_spec_warnings(spec, &n);
    struct mp_buf all = MP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        mp_buf_addf(&all, "%s\n", w[i]);
    }
    if (!want && n != 0) {
        fail_msg("expected no warning, got [%s] for:\n%s", all.data, text);
    }
    if (want && (n != 1 || !strstr(w[0], want))) {
        fail_msg("expected one warning containing [%s], got %zu: [%s] for:\n%s", want, n,
                 all.data ? all.data : "", text);
    }
    mp_buf_release(&all);
    mp_spec_warnings_free(w, n);
    mp_spec_free(spec);
}

#define LOCAL "name: t\nobjective: {metric: qps}\n" P1

/* A service never told its port validated clean, and every trial failed STARTUP_TIMEOUT. */
static void untold_port_warns(void **state)
{
    (void)state;
    expect_warnings(LOCAL "service: {command: [srv, '{a}']}\n",
                    "t.yaml:5:20: 'service.command': no {port} in service.command or "
                    "service.env: each trial's service must listen on the port the runner gives "
                    "it");
    expect_warnings(LOCAL "service: {command: [srv, --port, '{port}', '{a}']}\n", NULL);
    expect_warnings(LOCAL "service: {command: [srv, '--port={port}', '{a}']}\n", NULL);
    expect_warnings(LOCAL "service: {command: [srv, '{a}'], env: {PORT: '{port}'}}\n", NULL);
    /* A service that reads $MORPHLING_PORT itself says so, and is warned no more. */
    expect_warnings(LOCAL "service: {command: [srv, '{a}'], env: {MORPHLING_PORT: '{port}'}}\n",
                    NULL);
    expect_warnings(LOCAL "service: {command: [sh, -c, 'srv --port $MORPHLING_PORT', '{a}']}\n",
                    NULL);
    /* A pinned port is the one a fixed service listens on. */
    expect_warnings(LOCAL "service: {command: [srv, '{a}']}\nrunner: {ports: 8080-8080}\n", NULL);
    expect_warnings(LOCAL "service: {command: [srv, '{a}']}\nrunner: {ports: 8080-8090}\n",
                    "'service.command': no {port}");
    /* {{port}} is a literal brace, no placeholder. */
    expect_warnings(LOCAL "service: {command: [srv, '{{port}}', '{a}']}\n", "no {port}");
    /* The replay runner starts nothing. */
    expect_warnings(HEAD P1, NULL);
}

/* A bare duration is seconds (docs/spec.md): one that looks like milliseconds is said so. */
static void bare_durations_warn(void **state)
{
    (void)state;
#define SVC LOCAL "service: {command: [srv, '{port}', '{a}']}\n"
    expect_warnings(SVC "runner: {load: {window: 500}}\n",
                    "t.yaml:6:25: 'runner.load.window': a bare number is seconds: 500 is read as "
                    "500s (8.3 minutes); write 500ms for milliseconds, or 500s to say seconds");
    expect_warnings(SVC "runner: {load: {window: 500ms}}\n", NULL);
    expect_warnings(SVC "runner: {load: {window: 500s}}\n", NULL);
    expect_warnings(SVC "runner: {load: {window: 2, warmup: 99}}\n", NULL);
    expect_warnings(SVC "runner: {load: {warmup: '100'}}\n", "'runner.load.warmup': a bare");
    /* Fields of minutes: 600 s is plausibly meant, 3600 less so. */
    expect_warnings(SVC "runner: {trial_timeout: 600}\n", NULL);
    expect_warnings(SVC "runner: {trial_timeout: 3600}\n",
                    "'runner.trial_timeout': a bare number is seconds: 3600 is read as 3600s");
    expect_warnings(LOCAL
                    "service: {command: [srv, '{port}', '{a}'], readiness: {interval: 200}}\n",
                    "'service.readiness.interval': a bare number is seconds: 200 is read as 200s");
    expect_warnings("name: t\nobjective: {metric: qps}\nrunner: {kind: replay, surface: x.csv, "
                    "delay: 250}\n" P1,
                    "t.yaml:3:47: 'runner.delay': a bare number is seconds");
#undef SVC
}

/* A cpu parameter above the CPUs the service may run on: its top configurations measure alike
 * and cost more, each a trial of the budget; validate said nothing. */
static void cpus_short_warn(void **state)
{
    (void)state;
#define CPU(range)                                                                                 \
    "name: t\nobjective: {metric: qps}\nservice: {command: [srv, '{port}']}\nparameters:\n"        \
    "  - {name: c, " range ", target: {resource: cpu}}\n"
    expect_warnings(CPU("type: float, min: 0.5, max: 2, step: 0.5") "runner: {cpuset: '0'}\n",
                    "t.yaml:5:5: 'parameters[0]': parameter 'c' goes up to 2 cores, but the "
                    "service can run on 1 CPU (runner.cpuset): its configurations above 1 core "
                    "measure alike and cost more");
    expect_warnings(CPU("type: discrete, values: [1, 3]") "runner: {cpuset: '0'}\n",
                    "goes up to 3 cores");
    expect_warnings(CPU("type: discrete, values: [0.5, 1]") "runner: {cpuset: '0'}\n", NULL);
    /* Without a cpuset: the CPUs this process may use (no machine has 5000). */
    expect_warnings(CPU("type: int, min: 1, max: 5000"),
                    "goes up to 5000 cores, but the service can run on");
    expect_warnings(CPU("type: float, min: 0.1, max: 0.5, step: 0.1"), NULL);
    /* The kubernetes runner's pods run on the cluster's nodes. */
    expect_warnings(CPU("type: int, min: 1, max: 5000") "runner: {kind: kubernetes}\n", NULL);
#undef CPU
}

/* The list of parameters: not empty, names and targets each once. */
static void parameter_list_errors(void **state)
{
    (void)state;
    expect_error(HEAD "parameters: []\n", "expected at least one parameter");
    expect_error(HEAD "parameters: {a: 1}\n", "expected a list, got a mapping");
    expect_error(HEAD "parameters:\n  - {name: a, type: int, min: 1, max: 2}\n"
                      "  - {name: a, type: int, min: 1, max: 2}\n",
                 "duplicate parameter name \"a\"");
    expect_error(HEAD "parameters:\n"
                      "  - {name: a, type: int, min: 1, max: 2, target: {resource: cpu}}\n"
                      "  - {name: b, type: int, min: 1, max: 2, target: {resource: cpu}}\n",
                 "resource 'cpu' is already set by parameter 'a'");
    /* Two parameters on one variable or flag: the service saw only the last one's value. */
    expect_error(HEAD "parameters:\n"
                      "  - {name: a, type: int, min: 1, max: 2, target: {env: X}}\n"
                      "  - {name: b, type: int, min: 1, max: 2, target: {env: X}}\n",
                 "t.yaml:6:50: 'parameters[1].target': environment variable 'X' is already set by "
                 "parameter 'a'");
    expect_error(HEAD "parameters:\n"
                      "  - {name: a, type: int, min: 1, max: 2, target: {arg: --x}}\n"
                      "  - {name: b, type: int, min: 1, max: 2, target: {arg: --x}}\n",
                 "'parameters[1].target': flag '--x' is already set by parameter 'a'");
    /* A variable and a flag of the same name are different targets. */
    struct mp_spec *s =
        parse_ok(HEAD "parameters:\n"
                      "  - {name: a, type: int, min: 1, max: 2, target: {env: X}}\n"
                      "  - {name: b, type: int, min: 1, max: 2, target: {arg: X}}\n",
                 NULL, 0);
    mp_spec_free(s);
}

/* 2^53 - 1 is the largest magnitude a parameter value holds exactly, and is accepted. */
static void integer_limits(void **state)
{
    (void)state;
    struct mp_spec *s = parse_ok(HEAD "parameters:\n  - {name: a, type: int, min: "
                                      "-9007199254740991, max: 9007199254740991, step: "
                                      "1000000000000}\n",
                                 NULL, 0);
    assert_non_null(s);
    assert_true(s->space.params[0].max == 9007199254740991.0);
    assert_true(s->space.params[0].min == -9007199254740991.0);
    mp_spec_free(s);
}

static void section_errors(void **state)
{
    (void)state;
    const char *base = "name: t\nrunner: {kind: replay, surface: x.csv}\n" P1;
    static const struct {
        const char *tail;
        const char *want;
    } cases[] = {
        {"objective: qps\n", "'objective': expected a mapping"},
        {"objective: {direction: max}\n", "'objective.metric': required key is missing"},
        {"objective: {metric: q, direction: up}\n", "expected maximize or minimize"},
        {"objective: {metric: q}\nconstraints: 'p99 <= 1'\n", "expected a list"},
        {"objective: {metric: q}\nconstraints: ['p99 = 1']\n", "expected \"METRIC <= NUMBER\""},
        {"objective: {metric: q}\nconstraints: ['<= 1']\n", "expected \"METRIC <= NUMBER\""},
        {"objective: {metric: q}\nconstraints: ['p99 <= fast']\n", "got \"p99 <= fast\""},
        /* A unit on the bound: said, with the fix (it was only "expected METRIC <= NUMBER"). */
        {"objective: {metric: q}\nconstraints: ['p99_ms <= 500ms']\n",
         "the bound is a plain number in the metric's own unit (p99_ms is in ms): write "
         "\"p99_ms <= 500\", got \"p99_ms <= 500ms\""},
        {"objective: {metric: q}\nconstraints: ['p99_ms<2 s']\n", "write \"p99_ms < 2\""},
        {"objective: {metric: q}\nconstraints: ['p 99 <= 1']\n", "contains a space"},
        /* A parameter is no metric: a replay surface's column of it failed every trial
         * METRIC_MISSING. */
        {"objective: {metric: a}\n", "t.yaml:5:21: 'objective.metric': \"a\" is a parameter, "
                                     "not a metric"},
        {"objective: {metric: q}\nconstraints: ['a <= 1']\n",
         "'constraints[0]': \"a\" is a parameter, not a metric"},
        {"objective: {metric: q}\nconstraints: [\"p\\t99 <= 1\"]\n", "contains a space"},
        {"objective: {metric: q}\nconstraints: [p99 <= 10, e < 1, p99 >= 20]\n",
         "'constraints[2]': no value of p99 meets both this and constraints[0] (\"p99 <= 10\")"},
        {"objective: {metric: q}\nconstraints: [p99 > 5, p99 <= 5]\n", "constraints[0]"},
        {"objective: {metric: q}\nconstraints: [p99 >= 5, p99 < 5]\n", "constraints[0]"},
        {"objective: {metric: q}\ncost: {cpu_core_hour: -1}\n",
         "expected 0 or a price in [1e-12, 1e12]"},
        {"objective: {metric: q}\ncost: {base_hour: 1e308}\n",
         "'cost.base_hour': expected 0 or a price in [1e-12, 1e12] per hour, got \"1e308\""},
        /* A price so small that requests per dollar overflowed to infinity. */
        {"objective: {metric: q}\ncost: {base_hour: 1e-320}\n",
         "'cost.base_hour': expected 0 or a price in [1e-12, 1e12] per hour, got \"1e-320\""},
        {"objective: {metric: q}\ncost: {gpu_type_hour: {T4: 1e-13}}\n",
         "'cost.gpu_type_hour.T4': expected 0 or a price in [1e-12, 1e12]"},
        {"objective: {metric: q}\ncost: {gpu_type_hour: [1]}\n", "expected a mapping"},
        {"objective: {metric: q}\ncost: {gpu_type_hour: {T4: x}}\n", "expected a number"},
        {"objective: {metric: q}\ncost: {cpu_hour: 1}\n", "did you mean 'cpu_core_hour'?"},
        {"objective: {metric: q}\nalgorithm: {max_trials: 0}\n", "expected an integer in [1,"},
        {"objective: {metric: q}\nalgorithm: {parallelism: 0}\n", "expected an integer in [1,"},
        {"objective: {metric: q}\nalgorithm: {seed: -3}\n", "expected an integer in [0,"},
        {"objective: {metric: q}\nalgorithm: {max_trials: many}\n", "expected an integer, got"},
        {"objective: {metric: q}\nalgorithm: {settings: [1]}\n", "expected a mapping, got a list"},
        {"objective: {metric: q}\nalgorithm: bo\n", "'algorithm': expected a mapping"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "%s%s", base, cases[i].tail);
        expect_error(text, cases[i].want);
    }
    expect_error("name: t\nobjective: {metric: q}\nrunner: {kind: docker}\n" P1,
                 "expected local, replay or kubernetes, got \"docker\"");
    expect_error("name: t\nobjective: {metric: q}\nrunner: {kind: local, trial_timeout: soon}\n" P1,
                 "expected a duration");
    expect_error("name: t\nobjective: {metric: q}\n" P1,
                 "'service': required key is missing (runner 'local' starts the service)");
}

/* A mistyped placeholder: the message named the built-ins only, neither the parameters nor the
 * one it was likely meant as. */
static void placeholder_suggestions(void **state)
{
    (void)state;
    expect_error("name: t\nobjective: {metric: q}\nparameters: [{name: workers, type: int, min: "
                 "1, max: 2}, {name: a, type: int, min: 1, max: 2, target: {env: A}}]\nservice: "
                 "{command: [srv, --port, '{Port}', --workers, '{worker}']}\n",
                 "t.yaml:4:34: 'service.command[2]': placeholder {Port} names no parameter (the "
                 "parameters: workers, a; built-ins: {port}, {nonce}, {trial}, {attempt}, "
                 "{experiment}); did you mean {port}?");
    expect_error("name: t\nobjective: {metric: q}\nparameters: [{name: workers, type: int, min: "
                 "1, max: 2}]\nservice: {command: [srv, '{port}'], env: {W: '{worker}'}}\n",
                 "'service.env.W': placeholder {worker} names no parameter (the parameters: "
                 "workers; built-ins: {port}, {nonce}, {trial}, {attempt}, {experiment}); did you "
                 "mean {workers}?");
}

static void service_errors(void **state)
{
    (void)state;
    static const struct {
        const char *service;
        const char *want;
    } cases[] = {
        {"service: [x]\n", "'service': expected a mapping"},
        {"service: {env: {}}\n", "'service.command': required key is missing"},
        {"service: {command: []}\n", "expected a non-empty list"},
        /* A command line in one string: the list it means (it said only "expected a list"). */
        {"service: {command: 'srv --a {a}  \"x y\"'}\n",
         "'service.command': expected a list (the program and its arguments: never run through a "
         "shell), got \"srv --a {a}  \"x y\"\": write [srv, --a, \"{a}\", \"\\\"x\", "
         "\"y\\\"\"]"},
        {"service: {command: srv}\n", "'service.command': expected a list, got \"srv\""},
        {"service: {command: [srv, '{aa}']}\n", "placeholder {aa} names no parameter"},
        {"service: {command: [srv, '{a']}\n", "unterminated '{'"},
        {"service: {command: [srv, 'a}']}\n", "unmatched '}'"},
        {"service: {command: [srv, '{a}'], env: {'1X': y}}\n", "not a valid environment name"},
        {"service: {command: [srv, '{a}'], env: {X: '{nope}'}}\n", "{nope} names no parameter"},
        {"service: {command: [srv, '{a}{}']}\n", "placeholder {} names no parameter"},
        {"service: {command: [srv]}\n", "parameter 'a' reaches the service nowhere"},
        {"service: {command: [srv, '{a}'], readiness: {http: /h, tcp: true}}\n",
         "give either http or tcp"},
        {"service: {command: [srv, '{a}'], readiness: {http: health}}\n",
         "expected a path starting with '/'"},
        {"service: {command: [srv, '{a}'], readiness: {interval: 0ms}}\n",
         "expected a positive duration"},
        {"service: {command: [srv, '{a}'], readiness: {timeout: x}}\n", "expected a duration"},
        /* A zero probe timeout or startup_timeout failed every trial; 100us is 0 ms. */
        {"service: {command: [srv, '{a}'], readiness: {timeout: 0s}}\n",
         "'service.readiness.timeout': expected a positive duration (at least 1ms), got \"0s\""},
        {"service: {command: [srv, '{a}'], readiness: {startup_timeout: 100us}}\n",
         "'service.readiness.startup_timeout': expected a positive duration (at least 1ms)"},
        {"service: {command: [srv, '{a}']}\nrunner: {trial_timeout: 0}\n",
         "'runner.trial_timeout': expected a positive duration (at least 1ms), got \"0\""},
        {"service: {command: [srv, '{a}'], cmd: 1}\n", "did you mean 'command'?"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char text[1024];
        snprintf(text, sizeof(text), "name: t\nobjective: {metric: q}\n" P1 "%s", cases[i].service);
        expect_error(text, cases[i].want);
    }
    /* A variable that a parameter's target sets too: the parameter's value replaced it. */
    expect_error("name: t\nobjective: {metric: q}\nservice: {command: [srv], env: {X: '1'}}\n"
                 "parameters: [{name: b, type: int, min: 1, max: 2, target: {env: X}}]\n",
                 "t.yaml:3:33: 'service.env.X': parameter 'b' sets this variable (its target); "
                 "give it in one place");
    /* Built-ins and escaped braces are accepted. */
    struct mp_spec *s = parse_ok("name: t\nobjective: {metric: q}\n" P1
                                 "service: {command: [srv, '{a}', '{port}', '{nonce}', '{{x}}']}\n",
                                 NULL, 0);
    assert_int_equal(s->service.argc, 5);
    mp_spec_free(s);
    /* A parameter named like a built-in: {port} sent its value, not the trial's port, and every
     * trial failed STARTUP_TIMEOUT; {nonce} and the others likewise. */
    static const char *const builtins[] = {"port", "nonce", "trial", "attempt", "experiment"};
    for (size_t i = 0; i < MP_ARRAY_LEN(builtins); i++) {
        char text[512], want[256];
        snprintf(text, sizeof(text),
                 "name: t\nobjective: {metric: q}\nparameters: [{name: %s, type: int, min: 1, "
                 "max: 4}]\nservice: {command: [srv, '--x={%s}']}\n",
                 builtins[i], builtins[i]);
        snprintf(want, sizeof(want),
                 "'service.command[1]': placeholder {%s} names both parameter '%s' and the "
                 "built-in {%s}",
                 builtins[i], builtins[i], builtins[i]);
        expect_error(text, want);
    }
}

static void overrides_use_the_same_path(void **state)
{
    (void)state;
    const char *sets[] = {"algorithm.max_trials=7", "parameters.a.max=9", "parameters[0].min=2",
                          "cost.cpu_core_hour=0.5"};
    struct mp_spec *s = parse_ok(HEAD P1, sets, 4);
    assert_int_equal(s->max_trials, 7);
    assert_true(s->space.params[0].max == 9);
    assert_true(s->space.params[0].min == 2);
    assert_true(s->cost.cpu_core_hour == 0.5);
    char *json = mp_spec_to_json(s);
    assert_non_null(strstr(json, "\"max_trials\":7"));
    mp_spec_free(s);
    /* The stored JSON reloads to the same spec. */
    s = parse_ok(json, NULL, 0);
    assert_int_equal(s->max_trials, 7);
    char *again = mp_spec_to_json(s);
    assert_string_equal(json, again);
    free(json);
    free(again);
    mp_spec_free(s);

    struct mp_error err = {0};
    const char *bad[] = {"algorithm.max_trials=0"};
    assert_int_equal(mp_spec_parse(HEAD P1, strlen(HEAD P1), "t.yaml", NULL, bad, 1, &s, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "--set:1:22: 'algorithm.max_trials': expected an integer in"));
    const char *nokey[] = {"parameters.zz.max=1"};
    assert_int_equal(mp_spec_parse(HEAD P1, strlen(HEAD P1), "t.yaml", NULL, nokey, 1, &s, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "no item named 'zz'"));
    const char *noeq[] = {"algorithm"};
    assert_int_equal(mp_spec_parse(HEAD P1, strlen(HEAD P1), "t.yaml", NULL, noeq, 1, &s, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "expected KEY=VALUE"));
    /* A key that --set added is reported at the --set argument, not in the file. */
    const char *unknown[] = {"parameters.a.bogus=1"};
    assert_int_equal(mp_spec_parse(HEAD P1, strlen(HEAD P1), "t.yaml", NULL, unknown, 1, &s, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "--set:1:20: 'parameters[0].bogus': unknown key"));
}

/* A map value merges into the map it is set on (it replaced the whole section: max_trials and
 * seed fell back to their defaults without a word); lists and scalars replace. */
static void override_maps_merge(void **state)
{
    (void)state;
    const char *sets[] = {"algorithm={name: random, parallelism: 2}", "parameters[0]={max: 8}"};
    struct mp_spec *s =
        parse_ok(HEAD P1 "algorithm: {name: grid, max_trials: 7, seed: 3}\n", sets, 2);
    assert_string_equal(s->algorithm, "random");
    assert_int_equal(s->max_trials, 7);
    assert_true(s->seed_given && s->seed == 3);
    assert_int_equal(s->parallelism, 2);
    assert_true(s->space.params[0].min == 1 && s->space.params[0].max == 8);
    mp_spec_free(s);
}

/* A key that holds dots (a label key, a resource name) is written with "\\." as Helm's --set
 * writes it; "\\\\" is a backslash. */
static void override_keys_with_dots(void **state)
{
    (void)state;
    const char *sets[] = {"runner.labels.app\\.kubernetes\\.io/name=web", "runner.labels.a\\\\b=c",
                          "runner.limits={nvidia.com/gpu: 1}"};
    struct mp_spec *s = parse_ok(HEAD P1, sets, 3);
    const struct mp_node *labels = mp_doc_get(s->runner_node, "labels");
    assert_non_null(labels);
    assert_string_equal(mp_doc_get(labels, "app.kubernetes.io/name")->scalar, "web");
    assert_string_equal(mp_doc_get(labels, "a\\b")->scalar, "c");
    assert_null(mp_doc_get(labels, "app"));
    assert_string_equal(mp_doc_get(mp_doc_get(s->runner_node, "limits"), "nvidia.com/gpu")->scalar,
                        "1");
    mp_spec_free(s);
}

static void expect_set_error(const char *set, const char *want)
{
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    const char *sets[] = {set};
    if (mp_spec_parse(HEAD P1, strlen(HEAD P1), "t.yaml", NULL, sets, 1, &s, &err) == 0) {
        mp_spec_free(s);
        fail_msg("--set %s was accepted", set);
    }
    if (!strstr(err.msg, want)) {
        fail_msg("--set %s: error [%s] does not contain [%s]", set, err.msg, want);
    }
}

/* `run --set a=2` names a parameter, no spec field: the error says where its values go (it said
 * "'a': unknown key" alone); another unknown key is refused as before. */
static void set_of_a_parameter_name(void **state)
{
    (void)state;
    expect_set_error("a=2", "--set:1:3: 'a': unknown key: a parameter is no spec field (its "
                            "values: parameters.a.values, .min, .max; one value for one trial: "
                            "morphling trial --set a=VALUE)");
    expect_set_error("b=2", "--set:1:3: 'b': unknown key");
}

/* KEY=null (or ~) removes KEY: the spec means what it means without it (a fixed seed dropped for
 * a random one read "expected an integer, got null"); an absent KEY is no error; a list item is
 * no key. An empty value stays an error (below). */
static void override_null_removes_the_key(void **state)
{
    (void)state;
    const char *sets[] = {"algorithm.seed=null", "algorithm.max_trials=~", "no.such.key=null"};
    struct mp_spec *s =
        parse_ok(HEAD P1 "algorithm: {name: grid, max_trials: 7, seed: 3}\n", sets, 3);
    assert_false(s->seed_given);
    assert_int_equal(s->max_trials, 20);
    assert_string_equal(s->algorithm, "grid");
    char *json = mp_spec_to_json(s);
    assert_null(strstr(json, "\"no\""));
    assert_null(strstr(json, "\"seed\""));
    free(json);
    mp_spec_free(s);
    expect_set_error("parameters[0]=null", "'parameters[0]' is not a key of a mapping");
    expect_set_error("name=null", "'name': required key is missing");
    /* A member that says null (or ~) removes its key, as a --set of that key does: it was set
     * null, which algorithm.seed refused ("expected an integer, got null") and which left a
     * discrete parameter's values in an int one. An empty member stays null, as "KEY=" does. */
    const char *unset[] = {"algorithm={seed: null, max_trials: ~, no_such: null}",
                           "parameters[0]={type: int, min: 1, max: 3, values: null}"};
    s = parse_ok(HEAD "parameters:\n  - {name: a, type: discrete, values: [1, 2]}\n"
                      "algorithm: {name: grid, max_trials: 7, seed: 3}\n",
                 unset, 2);
    assert_false(s->seed_given);
    assert_int_equal(s->max_trials, 20);
    assert_true(s->space.params[0].type == MP_PARAM_INT && s->space.params[0].max == 3);
    json = mp_spec_to_json(s);
    assert_null(strstr(json, "no_such"));
    free(json);
    mp_spec_free(s);
    /* Where no map was to merge into, too: KEY=null of an absent KEY is no error. */
    const char *fresh[] = {"algorithm={name: grid, seed: null}", "cost={cpu_core_hour: ~}"};
    s = parse_ok(HEAD P1, fresh, 2);
    assert_false(s->seed_given);
    assert_string_equal(s->algorithm, "grid");
    mp_spec_free(s);
    expect_set_error("algorithm={seed: }", "'algorithm.seed': expected an integer, got null");
}

/* An empty --set value read "--set:1:1: the document is empty", naming no field; errors in the
 * value's YAML counted columns from the value, not the argument, and named no field; a value's
 * nested nodes kept the value's own columns; a whole named item read "no item named". */
static void override_errors_point_into_the_argument(void **state)
{
    (void)state;
    expect_set_error("algorithm.max_trials=",
                     "--set:1:22: 'algorithm.max_trials': expected an integer, got null");
    expect_set_error("name=", "--set:1:6: 'name': expected a string, got null");
    expect_set_error("algorithm.seed=!foo 1", "--set:1:16: 'algorithm.seed': the tag '!foo' is");
    expect_set_error("algorithm.seed=[1, *x]", "--set:1:20: 'algorithm.seed[1]': unknown alias");
    expect_set_error("algorithm.seed=\x01", "--set:1:16: control characters are not allowed");
    expect_set_error("algorithm.seed=[1, \"a", "--set:1:22: found unexpected end of stream");
    expect_set_error("algorithm={max_trials: 0}",
                     "--set:1:24: 'algorithm.max_trials': expected an integer in");
    expect_set_error("parameters.a=5",
                     "--set: 'parameters.a' is a whole item; set one of its fields");
    /* A list index under a key that the --set creates read "'(null)': no list item" (a NULL
     * %s); an index of sign or spaces read as a number. */
    expect_set_error("foo[0]=1", "--set: 'foo': no list item [0] here");
    expect_set_error("a.b[0].c=1", "--set: 'a.b': no list item [0] here");
    expect_set_error("parameters[ 0].max=3", "--set: 'parameters': no list item [ 0] here");
    expect_set_error("parameters[+0].max=3", "--set: 'parameters': no list item [+0] here");
    expect_set_error("parameters[-0].max=3", "--set: 'parameters': no list item [-0] here");
    expect_set_error("parameters[].max=3", "--set: 'parameters': no list item [] here");
}

/* The stored JSON wrote every plain scalar that reads as a number in canonical form, so a spec
 * reloaded from the store (export deploy, reports, the API) had other command arguments ("0.10"
 * became 0.1, "08080" 8080, "1e3" 1000, "-0" 0) and other categorical values ("1.0" became "1",
 * no longer the value its trials recorded). */
static void stored_json_keeps_the_text(void **state)
{
    (void)state;
    struct mp_spec *s =
        parse_ok("name: t\nobjective: {metric: qps}\n"
                 "service:\n  command: [./srv, 0.10, 08080, 1e3, -0, +5, .5, 7, 2.5]\n"
                 "  env: {A: 1.50, B: '3'}\n"
                 "parameters: [{name: a, type: float, min: 0.50, max: 1e1, "
                 "target: {resource: cpu}}, {name: b, type: categorical, "
                 "values: [1.0, 2.0, x], target: {env: C}}]\n"
                 "algorithm: {max_trials: 010}\n",
                 NULL, 0);
    char *json = mp_spec_to_json(s);
    struct mp_spec *again = parse_ok(json, NULL, 0);
    assert_int_equal(again->service.argc, s->service.argc);
    for (size_t i = 0; i < s->service.argc; i++) {
        assert_string_equal(again->service.argv[i], s->service.argv[i]);
    }
    assert_string_equal(again->service.env[0], "A=1.50");
    assert_string_equal(again->service.env[1], "B=3");
    assert_true(again->space.params[0].min == 0.5 && again->space.params[0].max == 10);
    assert_string_equal(again->space.params[1].choices[0], "1.0");
    assert_string_equal(again->space.params[1].choices[1], "2.0");
    assert_int_equal(again->max_trials, 10);
    /* Canonical numbers stay JSON numbers. */
    assert_non_null(strstr(json, "\"command\":[\"./srv\",\"0.10\",\"08080\",\"1e3\",\"-0\",\"+5\","
                                 "\".5\",7,2.5]"));
    char *twice = mp_spec_to_json(again);
    assert_string_equal(json, twice);
    free(twice);
    free(json);
    mp_spec_free(again);
    mp_spec_free(s);
    /* Names, targets, metrics and paths are text too: a parameter named 1.10 came back as 1.1,
     * and its trials' values (recorded under 1.10) were found nowhere. */
    s = parse_ok("name: t\nobjective: {metric: 2.50}\nrunner: {kind: replay, surface: 1.0}\n"
                 "parameters: [{name: 1.10, type: int, min: 1, max: 2, target: {arg: 08}}]\n"
                 "algorithm: {prior: 1e3}\n",
                 NULL, 0);
    json = mp_spec_to_json(s);
    again = parse_ok(json, NULL, 0);
    assert_string_equal(again->space.params[0].name, "1.10");
    assert_string_equal(again->space.params[0].target_name, "08");
    assert_string_equal(again->objective_metric, "2.50");
    assert_string_equal(mp_doc_get(again->runner_node, "surface")->scalar, "1.0");
    assert_string_equal(again->prior_path, s->prior_path);
    free(json);
    mp_spec_free(again);
    mp_spec_free(s);
}

static void json_spec_is_equivalent(void **state)
{
    (void)state;
    const char *json = "{\"name\": \"t\", \"objective\": {\"metric\": \"qps\"},"
                       " \"runner\": {\"kind\": \"replay\", \"surface\": \"x.csv\"},"
                       " \"parameters\": [{\"name\": \"a\", \"type\": \"float\", \"min\": 0.1,"
                       " \"max\": 0.3, \"step\": 0.1}]}";
    struct mp_spec *s = parse_ok(json, NULL, 0);
    assert_int_equal(mp_space_levels(&s->space, 0), 3);
    mp_spec_free(s);
    expect_error("{\"name\": \"t\", \"objective\": {\"metric\": \"qps\"}, \"parameters\": "
                 "[{\"name\": \"a\", \"type\": \"int\", \"min\": 1, \"max\": 2, \"step\": 0}]}",
                 "t.yaml:1:119: 'parameters[0].step': expected a positive number");
}

static void documents_are_bounded(void **state)
{
    (void)state;
    /* A billion-laughs document: 9 levels of 9 aliases would expand to 387M nodes. */
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        mp_buf_addf(&b, "a%d: &a%d [", i, i);
        for (int k = 0; k < 9; k++) {
            mp_buf_addf(&b, "%s*a%d", k ? ", " : "", i - 1);
        }
        mp_buf_adds(&b, "]\n");
    }
    expect_error(b.data, "t.yaml:6:10: 'a5[0]': document expands to more than 100000 nodes (alias");
    mp_buf_release(&b);
    /* Without aliases, no talk of a bomb. */
    mp_buf_adds(&b, "name: [");
    for (int i = 0; i < 100001; i++) {
        mp_buf_adds(&b, i ? ",1" : "1");
    }
    mp_buf_adds(&b, "]\n");
    expect_error(b.data, "t.yaml:1:200004: 'name[99998]': document has more than 100000 nodes");
    mp_buf_release(&b);
    /* Over 1 MiB. */
    size_t big = (1u << 20) + 10;
    char *text = mp_xmalloc(big + 1);
    memset(text, '#', big);
    text[big] = '\0';
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_parse(text, big, "big.yaml", NULL, NULL, 0, &s, &err), MP_ETOOBIG);
    free(text);
    /* Deep nesting. */
    mp_buf_adds(&b, "name: ");
    for (int i = 0; i < 100; i++) {
        mp_buf_addc(&b, '[');
    }
    expect_error(b.data, "nesting deeper than");
    mp_buf_release(&b);
    expect_error("a: *nothing\n", "unknown alias");
    /* Aliases within the bound are expanded. */
    s = parse_ok("name: t\nobjective: {metric: q}\nrunner: {kind: replay, surface: x}\n"
                 "parameters:\n  - &p {name: a, type: int, min: 1, max: 2}\n",
                 NULL, 0);
    assert_int_equal(s->space.n, 1);
    mp_spec_free(s);
}

/* Within the node bound, aliases of one long string still expanded to gigabytes (a 200 KB spec
 * made validate abort out of memory), and an alias could nest past the depth bound. */
static void aliases_are_bounded_by_text_and_depth(void **state)
{
    (void)state;
    /* 1,000 copies of a 100 KB string: 100 MB of text from a 100 KB document. */
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "name: t\ndescription: &a \"");
    for (int i = 0; i < 100000; i++) {
        mp_buf_addc(&b, 'x');
    }
    mp_buf_adds(&b, "\"\n");
    for (int i = 1; i <= 3; i++) {
        mp_buf_addf(&b, "x%d: &x%d [", i, i);
        for (int k = 0; k < 10; k++) {
            mp_buf_addf(&b, "%s*%s", k ? ", " : "", i == 1 ? "a" : "x");
            if (i > 1) {
                mp_buf_addf(&b, "%d", i - 1);
            }
        }
        mp_buf_adds(&b, "]\n");
    }
    expect_error(b.data, "t.yaml:5:10: 'x3[0]': document expands to more than 16777216 bytes");
    mp_buf_release(&b);
    /* 40 levels aliased 40 levels down: 80 levels. */
    mp_buf_adds(&b, "a: &a ");
    for (int i = 0; i < 80; i++) {
        mp_buf_addc(&b, i < 40 ? '[' : ']');
    }
    mp_buf_adds(&b, "\nb: ");
    for (int i = 0; i < 40; i++) {
        mp_buf_addc(&b, '[');
    }
    mp_buf_adds(&b, "*a");
    for (int i = 0; i < 40; i++) {
        mp_buf_addc(&b, ']');
    }
    expect_error(b.data, "t.yaml:2:44: "
                         "'b[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]["
                         "0][0][0][0][0][0][0]"
                         "[0][0][0][0][0][0][0][0][0][0]': nesting deeper than 64 (alias '*a')");
    mp_buf_release(&b);
}

/* Every node kept its whole path: a 10 KB key above a list of 10,000 numbers (30 KB of YAML) made
 * 100 MB of paths, and 1 MiB could make 50 GB. */
static void long_paths_are_shortened(void **state)
{
    (void)state;
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "? ");
    for (int i = 0; i < 10000; i++) {
        mp_buf_addc(&b, 'k');
    }
    mp_buf_adds(&b, "\n: [1, 2, {a: 3}]\n");
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_doc_parse(b.data, b.len, "t.yaml", &doc, &err), 0);
    const struct mp_node *a = mp_doc_get(doc->items[0]->items[2], "a");
    assert_int_equal(strlen(a->path), MP_DOC_MAX_PATH);
    assert_true(strncmp(a->path, "...kkk", 6) == 0);
    assert_string_equal(a->path + strlen(a->path) - 8, "kkk[2].a");
    assert_int_equal(strlen(doc->items[0]->items[0]->path), MP_DOC_MAX_PATH);
    /* Short paths are whole. */
    assert_string_equal(doc->items[0]->path + MP_DOC_MAX_PATH - 4, "kkkk");
    mp_doc_free(doc);
    /* An unknown key of 10,000 bytes filled the whole message, which never said what was
     * wrong. */
    b.len = 0;
    mp_buf_adds(&b, "name: t\n? ");
    for (int i = 0; i < 10000; i++) {
        mp_buf_addc(&b, 'k');
    }
    mp_buf_adds(&b, "\n: 1\n");
    expect_error(b.data, "t.yaml:2:3: '...kkk");
    expect_error(b.data, "kkk': unknown key");
    mp_buf_release(&b);
}

/* libyaml's reader errors (encoding, control characters) have no mark: they all read 1:1. */
static void reader_errors_name_their_line(void **state)
{
    (void)state;
    expect_error("name: t\ndescription: caf\xe9 au lait\n", "t.yaml:2:18: invalid trailing UTF-8");
    expect_error("name: t\na: \xc3\xa9\x01\n", "t.yaml:2:5: control characters");
    expect_error("\xef\xbb\xbf"
                 "name: t\r\n\r\nx: \x02",
                 "t.yaml:3:4: control characters");
    static const char nul[] = "name: t\nparameters: [a\0b]\n";
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_doc_parse(nul, sizeof(nul) - 1, "t.yaml", &doc, &err), MP_EPARSE);
    assert_string_equal(err.msg, "t.yaml:2:15: control characters are not allowed");
    /* UTF-16 counts two bytes a character. */
    static const char u16[] = "\xff\xfe"
                              "a\0:\0 \0b\0\n\0c\0:\0 \0\x03\0";
    assert_int_equal(mp_doc_parse(u16, sizeof(u16) - 1, "t.yaml", &doc, &err), MP_EPARSE);
    assert_string_equal(err.msg, "t.yaml:2:4: control characters are not allowed");
    /* A tab where YAML wants spaces: libyaml's message alone named no tab. */
    expect_error("name: t\nservice:\n\tcommand: [a]\n",
                 "t.yaml:3:1: found character that cannot start any token while scanning for "
                 "the next token (a tab: YAML indents with spaces)");
    expect_error("name: t\nservice:\n  command: [a]\n  env: {A: b}\n  \t\n",
                 "(a tab: YAML indents with spaces)");
    expect_error("name: t\r\nservice:\r\n\tcommand: [a]\r\n", "t.yaml:3:1: found character");
    expect_error("name: t\rservice:\r\tcommand: [a]\r", "(a tab: YAML indents with spaces)");
    /* libyaml's words alone on the common slips of indentation and quoting, now with a hint. */
    expect_error("name: t\nservice:\n    command: [a]\n  env: {}\n",
                 "t.yaml:4:3: did not find expected key while parsing a block mapping (a line "
                 "indented unlike the keys above it: the keys of one mapping start in one "
                 "column)");
    expect_error("name: t\ndescription: a: b\n",
                 "t.yaml:2:15: mapping values are not allowed in this context (a ': ' inside an "
                 "unquoted value: quote the value; or a key indented deeper than the line "
                 "before it)");
    expect_error("name: t\ndescription: \"ab\nservice: {}\n",
                 "while scanning a quoted scalar (the quote opened at line 2, column 14 is "
                 "never closed)");
}

/* Tags were dropped: !foo 40 read as 40, !!binary aGk= as the text "aGk=", !!int "5" as 5. */
/* YAML 1.2's core schema: Null and NULL are null as ~ is (a workdir named NULL before), True
 * and FALSE booleans; yes and on stay errors. */
static void core_schema_nulls_and_booleans(void **state)
{
    (void)state;
    expect_error(HEAD P1 "service: {command: [x], workdir: NULL}\n",
                 "'service.workdir': expected a string, got null");
    expect_error(HEAD P1 "service: {command: [x], workdir: Null}\n",
                 "'service.workdir': expected a string, got null");
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    const char *text = "a: True\nb: FALSE\nc: yes\nd: 'NULL'\n";
    assert_int_equal(mp_doc_parse(text, strlen(text), "b.yaml", &doc, &err), 0);
    bool a = false, b = true, c = false;
    assert_int_equal(mp_doc_bool(mp_doc_get(doc, "a"), &a, &err), 0);
    assert_int_equal(mp_doc_bool(mp_doc_get(doc, "b"), &b, &err), 0);
    assert_true(a && !b);
    assert_int_equal(mp_doc_bool(mp_doc_get(doc, "c"), &c, &err), MP_EINVALID);
    assert_false(mp_doc_is_null(mp_doc_get(doc, "d"))); /* quoted: the text NULL */
    mp_doc_free(doc);
}

/* mp_doc_find: the node at a path, or its deepest ancestor there is (a field the document
 * lacks is pointed at where it would go). */
static void find_points_at_the_field(void **state)
{
    (void)state;
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    const char *text = "a:\n  b: 1\n  list:\n    - {name: x, max: 3}\n    - {name: y, max: 4}\n";
    assert_int_equal(mp_doc_parse(text, strlen(text), "f.yaml", &doc, &err), 0);
    const struct mp_node *n = mp_doc_find(doc, "a.b");
    assert_int_equal(n->line, 2);
    assert_string_equal(n->scalar, "1");
    n = mp_doc_find(doc, "a.list[1].max");
    assert_int_equal(n->line, 5);
    assert_string_equal(n->scalar, "4");
    assert_string_equal(mp_doc_find(doc, "a.list.x.max")->scalar, "3"); /* by name */
    assert_string_equal(mp_doc_find(doc, "a.list[1].min")->path, "a.list[1]");
    assert_string_equal(mp_doc_find(doc, "a.list[7].max")->path, "a.list");
    assert_ptr_equal(mp_doc_find(doc, "z.b"), doc);
    assert_ptr_equal(mp_doc_find(doc, ""), doc);
    assert_ptr_equal(mp_doc_find(doc, "a..b"), doc); /* not a path */
    mp_doc_free(doc);
}

/* A null in algorithm.confirm is the default, as in the settings blocks (`--set KEY=`). */
static void null_confirm_keys_are_defaults(void **state)
{
    (void)state;
    static const char *const texts[] = {
        HEAD P1 "algorithm: {name: grid, confirm: ~}\n",
        HEAD P1 "algorithm: {name: grid, confirm: {top: 5, runs: ~, max_runs: null,"
                " max_uncertainty: }}\n",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(texts); i++) {
        struct mp_spec *spec = parse_ok(texts[i], NULL, 0);
        assert_int_equal(spec->confirm_top, i == 0 ? 0 : 5); /* replay: off by default */
        assert_int_equal(spec->confirm_runs, 2);
        assert_int_equal(spec->confirm_max_runs, 4);
        assert_true(spec->max_uncertainty == 0.05);
        mp_spec_free(spec);
    }
}

/* A null runner.kind, runner.trial_timeout or algorithm.settings is the default, as docs/spec.md
 * says of the settings blocks (`--set runner.trial_timeout=`): they read "expected a string" and
 * "expected a duration" or "expected a mapping, got null". */
static void null_runner_keys_are_defaults(void **state)
{
    (void)state;
    const char *sets[] = {"runner.trial_timeout=", "algorithm.settings=", "runner.kind="};
    struct mp_spec *s = parse_ok("name: t\nobjective: {metric: qps}\n" P1
                                 "runner: {kind: replay, trial_timeout: 5s}\n"
                                 "algorithm: {settings: {a: 1}}\n"
                                 "service: {command: [x, '{a}']}\n",
                                 sets, 3);
    assert_string_equal(s->runner, "local");
    assert_int_equal(s->trial_timeout_ms, 0);
    assert_null(s->algorithm_settings);
    mp_spec_free(s);
}

/* A plain << key merges maps (as kubectl reads it): the map's own keys win, then earlier maps
 * of a list. It was an unknown key '<<'. */
static void merge_keys(void **state)
{
    (void)state;
    const char *text = "base: &b {cpu: 1, mem: 2, gpu: 0}\n"
                       "more: &m {gpu: 1, disk: 5}\n"
                       "one: {<<: *b, mem: 4}\n"
                       "two:\n  mem: 8\n  <<: [*m, *b]\n"
                       "quoted: {'<<': 1}\n";
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    if (mp_doc_parse(text, strlen(text), "m.yaml", &doc, &err) != 0) {
        fail_msg("parse: %s", err.msg);
    }
    const struct mp_node *one = mp_doc_get(doc, "one"), *two = mp_doc_get(doc, "two");
    assert_int_equal(one->n, 3);
    assert_null(mp_doc_get(one, "<<"));
    assert_string_equal(mp_doc_get(one, "cpu")->scalar, "1");
    assert_string_equal(mp_doc_get(one, "mem")->scalar, "4"); /* its own key wins */
    assert_string_equal(mp_doc_get(one, "cpu")->path, "one.cpu");
    assert_int_equal(two->n, 4);
    assert_string_equal(mp_doc_get(two, "mem")->scalar, "8");
    assert_string_equal(mp_doc_get(two, "gpu")->scalar, "1"); /* the first map of the list */
    assert_string_equal(mp_doc_get(two, "disk")->scalar, "5");
    assert_string_equal(mp_doc_get(two, "cpu")->scalar, "1");
    assert_non_null(mp_doc_get(mp_doc_get(doc, "quoted"), "<<")); /* quoted: a plain key */
    mp_doc_free(doc);
    static const struct {
        const char *text, *want;
    } bad[] = {
        {"a: {<<: 1}\n", "m.yaml:1:5: 'a.<<': a merge key (<<) takes a mapping or a list"},
        {"x: &x 1\na: {<<: [*x]}\n", "a merge key (<<) takes a mapping or a list"},
        {"x: &x {k: 1}\na: {<<: *x, <<: *x}\n", "duplicate merge key (<<)"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        doc = NULL;
        assert_int_equal(mp_doc_parse(bad[i].text, strlen(bad[i].text), "m.yaml", &doc, &err),
                         MP_EPARSE);
        if (!strstr(err.msg, bad[i].want)) {
            fail_msg("%s: [%s] lacks [%s]", bad[i].text, err.msg, bad[i].want);
        }
    }
    /* In a spec: the merged keys are read and checked as if written in place. */
    struct mp_spec *spec =
        parse_ok(HEAD "parameters:\n  - &a {name: a, type: int, min: 1, max: 4}\n"
                      "  - {<<: *a, name: b, max: 8}\n",
                 NULL, 0);
    assert_int_equal(spec->space.n, 2);
    assert_string_equal(spec->space.params[1].name, "b");
    assert_true(spec->space.params[1].min == 1 && spec->space.params[1].max == 8);
    mp_spec_free(spec);
    expect_error(HEAD "parameters:\n  - &a {name: a, type: int, min: 1, max: 4}\n"
                      "  - {<<: *a, name: b, step: 0}\n",
                 "t.yaml:6:29: 'parameters[1].step': expected a positive number");
}

static void tags_are_refused_unless_harmless(void **state)
{
    (void)state;
    expect_error(HEAD P1 "algorithm: {max_trials: !foo 40}\n",
                 "t.yaml:6:25: 'algorithm.max_trials': the tag '!foo' is not supported");
    expect_error(HEAD P1 "description: !!binary aGk=\n",
                 "t.yaml:6:14: 'description': the tag '!!binary' is not");
    expect_error(HEAD P1 "algorithm: {max_trials: !!int \"5\"}\n",
                 "6:25: 'algorithm.max_trials': the tag '!!int' is not");
    expect_error(HEAD P1 "cost: !!seq {}\n",
                 "t.yaml:6:7: 'cost': the tag '!!seq' is not supported");
    expect_error(HEAD P1 "!!binary bmFtZQ==: x\n", "t.yaml:6:1: the tag '!!binary' is not");
    expect_error("%TAG !e! tag:example.com,2000:\n---\n" HEAD P1 "description: !e!x y\n",
                 "t.yaml:8:14: 'description': the tag 'tag:example.com,2000:x' is not");
    /* Tags that change nothing pass; !!str makes a string as quotes do. */
    struct mp_spec *s = parse_ok(HEAD P1 "description: !!str 5\ncost: !!map {base_hour: ! 2}\n"
                                         "constraints: !!seq [!!str qps >= 1]\n",
                                 NULL, 0);
    const struct mp_node *d = mp_doc_get(s->doc, "description");
    assert_true(d->quoted);
    assert_string_equal(d->scalar, "5");
    assert_int_equal(s->n_constraints, 1);
    mp_spec_free(s);
}

/* Duplicates are found by sorting or a set, not pairwise; the error names the first repeat in
 * list order, and -0 repeats 0. */
static void duplicates_are_named_in_list_order(void **state)
{
    (void)state;
    expect_error(HEAD "parameters: [{name: a, type: discrete, values: [3, 1, 2, 1.0, 3]}]\n",
                 "'parameters[0].values[3]': duplicate value \"1.0\"");
    expect_error(HEAD "parameters: [{name: a, type: discrete, values: [0, 5, -0]}]\n",
                 "'parameters[0].values[2]': duplicate value \"-0\"");
    expect_error(HEAD "parameters: [{name: a, type: categorical, values: [z, x, y, x, z]}]\n",
                 "'parameters[0].values[3]': duplicate choice \"x\"");
}

static void evaluation_judges_results(void **state)
{
    (void)state;
    struct mp_spec *s =
        parse_ok(HEAD P1 "constraints: ['peak_memory_bytes <= 1000', 'p99_ms < 5']\n", NULL, 0);
    double x[1] = {2};
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    mp_metrics_set(&res.metrics, "qps", 10);
    mp_metrics_set(&res.metrics, "p99_ms", 4);
    mp_metrics_set(&res.resources, "peak_memory_bytes", 999);
    mp_spec_evaluate(s, x, &res);
    assert_int_equal(res.state, MP_TRIAL_SUCCEEDED);
    double v = 0;
    assert_true(mp_metrics_get(&res.metrics, "peak_memory_bytes", &v) && v == 999);
    /* Resource use can break a constraint like any metric. */
    mp_metrics_set(&res.resources, "peak_memory_bytes", 5000);
    mp_metrics_set(&res.metrics, "peak_memory_bytes", 5000);
    mp_spec_evaluate(s, x, &res);
    assert_int_equal(res.state, MP_TRIAL_FAILED);
    assert_int_equal(res.failure, MP_FAILURE_SLO_VIOLATED);
    assert_non_null(strstr(res.reason, "peak_memory_bytes = 5000 violates"));
    mp_trial_result_release(&res);
    /* An upper limit must hold for the metric's upper confidence bound too, when there is one;
     * a lower limit ignores it. */
    struct mp_spec *u = parse_ok(HEAD P1 "constraints: ['p99_ms < 5', 'qps >= 1']\n", NULL, 0);
    double uppers[] = {4.5, 6};
    for (size_t i = 0; i < 2; i++) {
        mp_trial_result_init(&res);
        mp_metrics_set(&res.metrics, "qps", 10);
        mp_metrics_set(&res.metrics, "qps_upper", 0);
        mp_metrics_set(&res.metrics, "p99_ms", 4);
        mp_metrics_set(&res.metrics, "p99_ms_upper", uppers[i]);
        mp_spec_evaluate(u, x, &res);
        assert_int_equal(res.state, i == 0 ? MP_TRIAL_SUCCEEDED : MP_TRIAL_FAILED);
        if (i == 1) {
            assert_int_equal(res.failure, MP_FAILURE_SLO_VIOLATED);
            assert_non_null(strstr(res.reason, "p99_ms = 4, but its 99 % upper confidence bound "
                                               "6 violates p99_ms < 5"));
        }
        mp_trial_result_release(&res);
    }
    mp_spec_free(u);
    /* So for a long metric name (a surface's column): its bound was looked up under a name cut
     * at 159 bytes, never found, and the limit held on the measured value alone. */
    char name[201], text[512];
    memset(name, 'm', 200);
    name[200] = '\0';
    snprintf(text, sizeof(text), HEAD P1 "constraints: ['%s < 5']\n", name);
    u = parse_ok(text, NULL, 0);
    mp_trial_result_init(&res);
    mp_metrics_set(&res.metrics, "qps", 10);
    mp_metrics_set(&res.metrics, name, 4);
    char *upper = mp_xasprintf("%s_upper", name);
    mp_metrics_set(&res.metrics, upper, 6);
    free(upper);
    mp_spec_evaluate(u, x, &res);
    assert_int_equal(res.failure, MP_FAILURE_SLO_VIOLATED);
    mp_trial_result_release(&res);
    mp_spec_free(u);
    /* No objective: METRIC_MISSING; a failed result is left as it is. */
    mp_trial_result_init(&res);
    mp_spec_evaluate(s, x, &res);
    assert_int_equal(res.failure, MP_FAILURE_METRIC_MISSING);
    assert_string_equal(res.reason, "the trial produced no value for the objective 'qps'");
    mp_trial_result_release(&res);
    /* One that overflowed was produced: the reason says what it was. */
    mp_trial_result_init(&res);
    mp_metrics_set(&res.metrics, "qps", INFINITY);
    mp_spec_evaluate(s, x, &res);
    assert_int_equal(res.failure, MP_FAILURE_METRIC_MISSING);
    assert_string_equal(res.reason, "the objective 'qps' is no finite number (inf)");
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    mp_trial_result_fail(&res, MP_FAILURE_CRASHED, "boom");
    mp_spec_evaluate(s, x, &res);
    assert_int_equal(res.failure, MP_FAILURE_CRASHED);
    mp_trial_result_release(&res);
    mp_spec_free(s);
}

/* Requests per dollar of a configuration that costs nothing: the reason says so (it read
 * "produced no value" of a cost table pricing only what the space does not set). */
static void zero_cost_reason(void **state)
{
    (void)state;
    struct mp_spec *free_cpu =
        parse_ok("name: t\nobjective: {metric: throughput_per_cost}\n"
                 "runner: {kind: replay, surface: x.csv}\n"
                 "parameters:\n  - {name: cpu, type: discrete, values: [1, 2], "
                 "target: {resource: cpu}}\n"
                 "cost: {cpu_core_hour: 0, memory_gib_hour: 0.1}\n",
                 NULL, 0);
    double one_cpu[1] = {1};
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    mp_metrics_set(&res.metrics, "throughput_rps", 100);
    mp_spec_evaluate(free_cpu, one_cpu, &res);
    assert_int_equal(res.failure, MP_FAILURE_METRIC_MISSING);
    if (!strstr(res.reason, "'throughput_per_cost' (this configuration's cost_per_hour is 0")) {
        fail_msg("unexpected reason \"%s\"", res.reason);
    }
    mp_trial_result_release(&res);
    mp_spec_free(free_cpu);
}

/* A configuration of 0 GPUs pays for none (it paid for one: a gpu parameter, set at all, counted
 * as "a GPU type alone"); a GPU share is a fraction of one; a type without a count is one. */
static void gpu_count_cost(void **state)
{
    (void)state;
    struct mp_spec *s = parse_ok("name: t\nobjective: {metric: throughput_per_cost}\n"
                                 "runner: {kind: replay, surface: x.csv}\n"
                                 "parameters:\n  - {name: g, type: discrete, values: [0, 1, 2], "
                                 "target: {resource: gpu}}\n"
                                 "  - {name: t, type: categorical, values: [T4, V100], "
                                 "target: {resource: gpu_type}}\n"
                                 "cost: {base_hour: 0.5, gpu_type_hour: {T4: 0.35, V100: 2.48}}\n",
                                 NULL, 0);
    static const struct {
        double g, t, want;
    } cases[] = {{0, 0, 0.5}, {0, 1, 0.5}, {1, 0, 0.85}, {2, 1, 0.5 + 2 * 2.48}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double x[2] = {cases[i].g, cases[i].t}, v = -1;
        struct mp_metrics m = MP_METRICS_INIT;
        mp_spec_derive_metrics(s, x, &m);
        assert_true(mp_metrics_get(&m, "cost_per_hour", &v));
        if (fabs(v - cases[i].want) > 1e-12) {
            fail_msg("%g GPUs of type %g: cost %g, want %g", cases[i].g, cases[i].t, v,
                     cases[i].want);
        }
        mp_metrics_release(&m);
    }
    mp_spec_free(s);
    struct mp_spec *shared =
        parse_ok("name: t\nobjective: {metric: throughput_per_cost}\n"
                 "runner: {kind: replay, surface: x.csv}\n"
                 "parameters:\n  - {name: s, type: discrete, values: [0.25, 1], "
                 "target: {resource: gpu_memory_share}}\n"
                 "  - {name: t, type: categorical, values: [T4], target: {resource: gpu_type}}\n"
                 "cost: {gpu_type_hour: {T4: 0.4}}\n",
                 NULL, 0);
    double quarter[2] = {0.25, 0}, v = -1;
    struct mp_metrics m = MP_METRICS_INIT;
    mp_spec_derive_metrics(shared, quarter, &m);
    assert_true(mp_metrics_get(&m, "cost_per_hour", &v) && fabs(v - 0.1) < 1e-12);
    mp_metrics_release(&m);
    mp_spec_free(shared);
}

/* Checks mp_spec_check_cost of a spec: want NULL (accepted) or a part of the error. */
static void expect_cost_check(const char *text, const char *want)
{
    struct mp_spec *s = parse_ok(text, NULL, 0);
    struct mp_error err = {0};
    int rc = mp_spec_check_cost(s, &err);
    mp_spec_free(s);
    if (!want && rc != 0) {
        fail_msg("unexpected error: %s", err.msg);
    }
    if (want && (rc == 0 || !strstr(err.msg, want))) {
        fail_msg("error [%s] does not contain [%s]:\n%s", rc ? err.msg : "(none)", want, text);
    }
}

/* Requests per dollar judged where a configuration of the space costs 0 per hour: refused when
 * the spec is validated (each such trial failed METRIC_MISSING, one at a time). */
static void zero_cost_refused(void **state)
{
    (void)state;
#define ZC_HEAD "name: t\nrunner: {kind: replay, surface: x.csv}\n"
#define ZC_SPACE                                                                                   \
    "parameters:\n  - {name: cpu, type: float, min: 0.5, max: 2, target: {resource: cpu}}\n"       \
    "  - {name: g, type: discrete, values: [2, 0, 1], target: {resource: gpu}}\n"                  \
    "  - {name: t, type: categorical, values: [V100, T4], target: {resource: gpu_type}}\n"
    expect_cost_check(ZC_HEAD ZC_SPACE "objective: {metric: throughput_per_cost}\n"
                                       "cost: {gpu_type_hour: {T4: 0.35, V100: 2.48}}\n",
                      "t.yaml:7:21: 'objective.metric': throughput_per_cost is undefined for a "
                      "configuration that costs 0 per hour, as cpu = 0.5, g = 0, t = T4 does (the "
                      "cost table prices nothing it uses): price those resources or set "
                      "cost.base_hour");
    expect_cost_check(ZC_HEAD ZC_SPACE
                      "objective: {metric: throughput_per_cost}\n"
                      "cost: {cpu_core_hour: 0.1, gpu_type_hour: {T4: 0.35, V100: 2.48}}\n",
                      NULL);
    expect_cost_check(ZC_HEAD ZC_SPACE "objective: {metric: throughput_per_cost}\n"
                                       "cost: {base_hour: 0.01}\n",
                      NULL);
    /* Cost itself can be 0: minimising it is fine. */
    expect_cost_check(ZC_HEAD ZC_SPACE "objective: {metric: cost_per_hour, direction: minimize}\n"
                                       "cost: {gpu_hour: 1}\n",
                      NULL);
    /* The cheapest GPU type of a type alone (one GPU), in a constraint. */
    expect_cost_check(ZC_HEAD "parameters:\n  - {name: t, type: categorical, values: [V100, T4], "
                              "target: {resource: gpu_type}}\n"
                              "objective: {metric: throughput_rps}\n"
                              "constraints: ['cost_per_million_requests <= 5']\n"
                              "cost: {gpu_hour: 1, gpu_type_hour: {T4: 0}}\n",
                      "'constraints[0]': cost_per_million_requests is undefined for a "
                      "configuration that costs 0 per hour, as t = T4 does");
    expect_cost_check(ZC_HEAD "parameters:\n  - {name: t, type: categorical, values: [V100, T4], "
                              "target: {resource: gpu_type}}\n"
                              "objective: {metric: throughput_per_cost}\n"
                              "cost: {gpu_hour: 1, gpu_type_hour: {T4: 0.2}}\n",
                      NULL);
    /* Nothing priced is set at all. */
    expect_cost_check(ZC_HEAD "parameters:\n  - {name: a, type: int, min: 1, max: 4}\n"
                              "objective: {metric: throughput_per_cost}\n"
                              "cost: {cpu_core_hour: 1}\n",
                      "and every configuration does (no parameter sets a resource the cost table "
                      "prices): set cost.base_hour");
#undef ZC_HEAD
#undef ZC_SPACE
}

/* An upper limit on cost_per_hour that even the cheapest configuration breaks is refused: every
 * trial could only violate it. */
static void price_limit_nothing_meets(void **state)
{
    (void)state;
#define PL_SPEC(limit)                                                                             \
    "name: t\nrunner: {kind: replay, surface: x.csv}\n"                                            \
    "parameters:\n  - {name: cpu, type: float, min: 0.5, max: 2, target: {resource: cpu}}\n"       \
    "  - {name: t, type: categorical, values: [V100, T4], target: {resource: gpu_type}}\n"         \
    "objective: {metric: throughput_rps}\n"                                                        \
    "constraints: ['p99_ms <= 100', 'cost_per_hour " limit "']\n"                                  \
    "cost: {cpu_core_hour: 0.1, gpu_type_hour: {T4: 0.35, V100: 2.48}}\n"
    expect_cost_check(PL_SPEC("<= 0.3"),
                      "t.yaml:7:32: 'constraints[1]': 'cost_per_hour <= 0.3' holds for no "
                      "configuration: the cheapest (cpu = 0.5, t = T4) costs 0.4 per hour by the "
                      "cost table");
    expect_cost_check(PL_SPEC("< 0.4"), "'cost_per_hour < 0.4' holds for no configuration");
    expect_cost_check(PL_SPEC("<= 0.400000000001"), NULL);
    /* The pods of a configuration are named too: the price is theirs. */
    expect_cost_check("name: t\nrunner: {kind: replay, surface: x.csv}\n"
                      "parameters:\n  - {name: cpu, type: int, min: 1, max: 2, "
                      "target: {resource: cpu}}\n"
                      "  - {name: pods, type: int, min: 2, max: 4, role: instances}\n"
                      "objective: {metric: throughput_rps}\n"
                      "constraints: ['cost_per_hour <= 0.1']\n"
                      "cost: {cpu_core_hour: 0.1}\n",
                      "'cost_per_hour <= 0.1' holds for no configuration: the cheapest (cpu = 1, "
                      "pods = 2) costs 0.2 per hour by the cost table");
    expect_cost_check(PL_SPEC("<= 0.4"), NULL);
    /* A lower limit that even the most expensive configuration breaks (2 cores and a V100:
     * 2.68): the run ended at once, FAILED with no trial. */
    expect_cost_check(PL_SPEC(">= 10"),
                      "t.yaml:7:32: 'constraints[1]': 'cost_per_hour >= 10' holds for no "
                      "configuration: the most expensive (cpu = 2, t = V100) costs 2.68 per hour "
                      "by the cost table");
    expect_cost_check(PL_SPEC("> 2.68"), "'cost_per_hour > 2.68' holds for no configuration");
    expect_cost_check(PL_SPEC(">= 2.68"), NULL);
    /* Limits that no price meets together: 1 or 2 cores of a T4 or a V100 cost 0.45, 0.55,
     * 2.58 or 2.68. A continuous space's prices are not judged so. */
#define PL_GAP(limits)                                                                             \
    "name: t\nrunner: {kind: replay, surface: x.csv}\n"                                            \
    "parameters:\n  - {name: cpu, type: int, min: 1, max: 2, target: {resource: cpu}}\n"           \
    "  - {name: t, type: categorical, values: [V100, T4], target: {resource: gpu_type}}\n"         \
    "objective: {metric: throughput_rps}\n"                                                        \
    "constraints: [" limits "]\n"                                                                  \
    "cost: {cpu_core_hour: 0.1, gpu_type_hour: {T4: 0.35, V100: 2.48}}\n"
    expect_cost_check(PL_GAP("'cost_per_hour >= 1', 'p99_ms <= 9', 'cost_per_hour <= 2'"),
                      "t.yaml:7:15: 'constraints[0]': the constraints on cost_per_hour hold "
                      "together for none of the 4 configurations: no configuration's price lies "
                      "within them");
    expect_cost_check(PL_GAP("'cost_per_hour > 0.45', 'cost_per_hour < 0.55'"),
                      "hold together for none of the 4 configurations");
    expect_cost_check(PL_GAP("'cost_per_hour >= 0.55', 'cost_per_hour < 2.58'"), NULL);
    expect_cost_check(PL_SPEC(">= 1', 'cost_per_hour <= 2"), NULL);
#undef PL_GAP
    /* Prices are decimal: 0.2 + 1 core at 0.1 is 0.3, not 0.30000000000000004. */
    expect_cost_check("name: t\nrunner: {kind: replay, surface: x.csv}\n"
                      "parameters:\n  - {name: cpu, type: int, min: 1, max: 2, "
                      "target: {resource: cpu}}\n"
                      "objective: {metric: throughput_rps}\n"
                      "constraints: ['cost_per_hour <= 0.3']\n"
                      "cost: {cpu_core_hour: 0.1, base_hour: 0.2}\n",
                      NULL);
#undef PL_SPEC
}

/* mp_spec_price_skip never skips a configuration that meets the price limits, and skips the
 * runs that break them: every index, on spaces whose fastest parameters set no price, a GPU type
 * or a numeric resource, under lower, upper and both kinds of limit. */
static void price_skip(void **state)
{
    (void)state;
    static const char *const spaces[] = {
        "  - {name: t, type: categorical, values: [A100, T4], target: {resource: gpu_type}}\n"
        "  - {name: cpu, type: int, min: 1, max: 6, target: {resource: cpu}}\n"
        "  - {name: batch, type: int, min: 1, max: 3}\n"
        "  - {name: mem, type: discrete, values: [512, 1024], target: {resource: memory}}\n",
        "  - {name: cpu, type: int, min: 1, max: 40, target: {resource: cpu}}\n"
        "  - {name: batch, type: int, min: 1, max: 3}\n"
        "  - {name: t, type: categorical, values: [A100, T4], target: {resource: gpu_type}}\n",
        "  - {name: batch, type: int, min: 1, max: 5}\n"
        "  - {name: cpu, type: float, min: 0.5, max: 8, step: 0.5, target: {resource: cpu}}\n",
    };
    static const char *const limits[] = {"'cost_per_hour >= 3'", "'cost_per_hour <= 1.2'",
                                         "'cost_per_hour > 1', 'cost_per_hour < 3'",
                                         "'cost_per_hour >= 2.85', 'cost_per_hour <= 2.9'"};
    uint64_t skipped = 0;
    for (size_t a = 0; a < MP_ARRAY_LEN(spaces); a++) {
        for (size_t b = 0; b < MP_ARRAY_LEN(limits); b++) {
            char text[2048];
            snprintf(text, sizeof(text),
                     "name: t\nrunner: {kind: replay, surface: x.csv}\nparameters:\n%s"
                     "objective: {metric: throughput_rps}\nconstraints: [%s]\n"
                     "cost: {cpu_core_hour: 0.1, memory_gib_hour: 0.2, "
                     "gpu_type_hour: {T4: 0.35, A100: 2.5}}\n",
                     spaces[a], limits[b]);
            struct mp_spec *s = parse_ok(text, NULL, 0);
            uint64_t count = 0;
            assert_true(mp_space_count(&s->space, &count));
            double x[8];
            for (uint64_t i = 0; i < count; i++) {
                uint64_t next = mp_spec_price_skip(s, i);
                assert_true(next > i && next <= count);
                for (uint64_t k = i + 1; k < next; k++) {
                    mp_space_from_index(&s->space, k, x);
                    if (!mp_spec_breaks_by_price(s, x)) {
                        fail_msg("space %zu, %s: %llu skipped from %llu, and it meets them", a,
                                 limits[b], (unsigned long long)k, (unsigned long long)i);
                    }
                }
                mp_space_from_index(&s->space, i, x);
                assert_true(mp_spec_breaks_by_price(s, x) || next == i + 1);
                skipped += next - i - 1;
            }
            mp_spec_free(s);
        }
    }
    assert_true(skipped > 100); /* it does skip */
}

/* A GPU type that a per-type price table leaves out, with no cost.gpu_hour to fall back on, is
 * refused: it cost nothing, and the search recommended the unpriced type as the cheapest. */
static void gpu_type_price_missing(void **state)
{
    (void)state;
#define GT_HEAD                                                                                    \
    "name: t\nrunner: {kind: replay, surface: x.csv}\n"                                            \
    "parameters:\n  - {name: cpu, type: float, min: 0.5, max: 2, target: {resource: cpu}}\n"       \
    "  - {name: t, type: categorical, values: [T4, A100], target: {resource: gpu_type}}\n"         \
    "objective: {metric: throughput_per_cost}\n"
    expect_cost_check(GT_HEAD "cost: {cpu_core_hour: 1, gpu_type_hour: {T4: 0.5}}\n",
                      "t.yaml:7:41: 'cost.gpu_type_hour': no price for t = A100 (a GPU type "
                      "without one costs cost.gpu_hour, which is not set): price it here, or set "
                      "cost.gpu_hour");
    /* Whatever the objective: cost_per_hour itself would be wrong. */
    expect_cost_check("name: t\nrunner: {kind: replay, surface: x.csv}\n"
                      "parameters:\n  - {name: t, type: categorical, values: [T4, A100, L4], "
                      "target: {resource: gpu_type}}\n"
                      "objective: {metric: throughput_rps}\n"
                      "cost: {gpu_type_hour: {T4: 0.5, A100: 3}}\n",
                      "'cost.gpu_type_hour': no price for t = L4");
    /* A fallback price, a complete table, or no table at all (GPUs priced by gpu_hour alone, or
     * not priced) are accepted. */
    expect_cost_check(GT_HEAD "cost: {cpu_core_hour: 1, gpu_hour: 2, gpu_type_hour: {T4: 0.5}}\n",
                      NULL);
    expect_cost_check(GT_HEAD "cost: {cpu_core_hour: 1, gpu_type_hour: {T4: 0.5, A100: 3}}\n",
                      NULL);
    expect_cost_check(GT_HEAD "cost: {cpu_core_hour: 1}\n", NULL);
    /* A price under another case is a typo, with a fallback too (A100 cost gpu_hour). */
    expect_cost_check(GT_HEAD "cost: {gpu_hour: 2, gpu_type_hour: {T4: 0.5, a100: 3}}\n",
                      "t.yaml:7:52: 'cost.gpu_type_hour.a100': 'a100' is priced, and t = A100 is "
                      "not: GPU type names are case-sensitive");
#undef GT_HEAD
}

/* A deployment never reads nor shows a secret: a host sees it redacted, a pod drops it. */
static void check_deploy_hides_secrets(const struct mp_spec *s, const double *x)
{
    struct mp_rendered r;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_render_deploy(s, x, 0, MP_DEPLOY_HOST, &r, &err), 0);
    assert_int_equal(r.envc, 4);
    assert_string_equal(r.env[0], "API_TOKEN=<redacted>");
    assert_string_equal(r.env[1], "DB_PASSWORD=<redacted>");
    assert_string_equal(r.env[2], "SESSION_SECRET=<redacted>");
    assert_string_equal(r.env[3], "PLAIN=3");
    mp_rendered_release(&r);
    assert_int_equal(mp_spec_render_deploy(s, x, 0, MP_DEPLOY_PORTABLE, &r, &err), 0);
    assert_int_equal(r.envc, 1);
    assert_string_equal(r.env[0], "PLAIN=3");
    mp_rendered_release(&r);
}

/* Secret references (issue 13): the document and the stored JSON keep only the reference; the
 * value is read when the service is rendered; a deployment hides it; errors name the field. */
static void secret_references(void **state)
{
    (void)state;
    char dir[] = "/tmp/mp-test-secret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *file = mp_xasprintf("%s/db.txt", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs("pa55-from-file\n", f);
    fclose(f);
    setenv("MP_TEST_TOKEN", "tok-from-env", 1);
    const char *text =
        "name: t\nobjective: {metric: q}\n" P1 "service:\n  command: [srv, '{a}']\n  env:\n"
        "    API_TOKEN: {from_env: MP_TEST_TOKEN}\n"
        "    DB_PASSWORD: {from_file: db.txt}\n"
        "    SESSION_SECRET: literal-secret\n"
        "    PLAIN: '{a}'\n"
        "runner:\n  kind: local\n  load:\n    headers:\n"
        "      - 'X-Trace: 1'\n"
        "      - Authorization: {from_env: MP_TEST_TOKEN}\n";
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_parse(text, strlen(text), "t.yaml", dir, NULL, 0, &s, &err), 0);
    char *json = mp_spec_to_json(s);
    assert_non_null(strstr(json, "{\"from_env\":\"MP_TEST_TOKEN\"}"));
    assert_non_null(strstr(json, "{\"from_file\":\"db.txt\"}"));
    assert_null(strstr(json, "tok-from-env"));
    free(json);
    assert_int_equal(mp_spec_check_secrets(s, &err), 0);

    double x[1] = {3};
    struct mp_rendered r;
    assert_int_equal(mp_spec_render_service(s, x, NULL, 0, &r, &err), 0);
    assert_int_equal(r.envc, 4);
    assert_string_equal(r.env[0], "API_TOKEN=tok-from-env");
    assert_string_equal(r.env[1], "DB_PASSWORD=pa55-from-file");
    assert_string_equal(r.env[2], "SESSION_SECRET=literal-secret");
    assert_string_equal(r.env[3], "PLAIN=3");
    mp_rendered_release(&r);
    check_deploy_hides_secrets(s, x);
    const struct mp_node *h = mp_doc_get(mp_doc_get(s->runner_node, "load"), "headers");
    char *line = NULL;
    assert_int_equal(mp_spec_header_line(s, h->items[1], &line, &err), 0);
    assert_string_equal(line, "Authorization: tok-from-env");
    free(line);

    /* Missing: the error names the field and the variable, never a value. */
    unsetenv("MP_TEST_TOKEN");
    assert_int_equal(mp_spec_check_secrets(s, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "t.yaml:8:16: 'service.env.API_TOKEN': environment variable "
                                    "MP_TEST_TOKEN is not set"));
    assert_int_equal(mp_spec_render_service(s, x, NULL, 0, &r, &err), MP_EINVALID);
    unlink(file);
    setenv("MP_TEST_TOKEN", "tok-from-env", 1);
    assert_int_equal(mp_spec_check_secrets(s, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'service.env.DB_PASSWORD': cannot read the secret file"));
    assert_null(strstr(err.msg, "pa55"));
    mp_spec_free(s);
    unsetenv("MP_TEST_TOKEN");
    rmdir(dir);
    free(file);
}

/* Malformed secret references and headers are errors naming the field; which names look
 * secret. */
static void secret_reference_errors(void **state)
{
    (void)state;
    static const struct {
        const char *tail;
        const char *want;
    } bad[] = {
        {"service: {command: [srv, '{a}'], env: {X: {from_env: '1A'}}}\n",
         "'service.env.X.from_env': \"1A\" is not a valid environment variable name"},
        {"service: {command: [srv, '{a}'], env: {X: {from_vault: y}}}\n",
         "'service.env.X': expected a string, {from_env: NAME} or {from_file: PATH}"},
        {"service: {command: [srv, '{a}'], env: {X: {from_env: A, from_file: b}}}\n",
         "expected a string, {from_env: NAME} or {from_file: PATH}"},
        {"service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {headers: ['X']}}\n",
         "'runner.load.headers[0]': expected \"Name: value\""},
        {"service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {headers: [{'A B': "
         "x}]}}\n",
         "expected \"Name: value\" or {Name: value}"},
        {"service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {headers: [{A: "
         "{from_env: '-'}}]}}\n",
         "is not a valid environment variable name"},
        /* Framing is the load generator's: a second length desynchronised the connection. */
        {"service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {headers: "
         "['content-length: 3']}}\n",
         "'runner.load.headers[0]': the load generator frames each request itself"},
        {"service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {headers: "
         "[{Transfer-Encoding: chunked}]}}\n",
         "'runner.load.headers[0]': the load generator frames each request itself"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        char t[1024];
        snprintf(t, sizeof(t), "name: t\nobjective: {metric: q}\n" P1 "%s", bad[i].tail);
        expect_error(t, bad[i].want);
    }
    assert_true(mp_spec_secret_name("HF_TOKEN"));
    assert_true(mp_spec_secret_name("Authorization"));
    assert_true(mp_spec_secret_name("db_Password"));
    assert_true(mp_spec_secret_name("X-Api-Key"));
    assert_false(mp_spec_secret_name("OMP_NUM_THREADS"));
    assert_false(mp_spec_secret_name("Content-Type"));
}

/* Issue 13: a spec submitted through the API may name files inside the base folder only, after
 * following symlinks; anything else is the same error naming the field. */
/* Helm's --set joins pairs with commas; ours takes one pair per --set. */
static void set_joined_hint(void **state)
{
    (void)state;
    char *h = mp_spec_set_joined_hint("cpu=2,memory=2048,threads=4");
    assert_string_equal(h, "one --set per key: --set cpu=2 --set memory=2048 --set threads=4");
    free(h);
    h = mp_spec_set_joined_hint("algorithm.max_trials=3,algorithm.name=grid");
    assert_string_equal(
        h, "one --set per key: --set algorithm.max_trials=3 --set algorithm.name=grid");
    free(h);
    assert_null(mp_spec_set_joined_hint("cpu=2"));
    assert_null(mp_spec_set_joined_hint("name=a,b"));  /* a comma in a value */
    assert_null(mp_spec_set_joined_hint("name=a,=b")); /* no key before the '=' */
    assert_null(mp_spec_set_joined_hint("name,x=1"));  /* the pair's own key holds the comma */
    assert_null(mp_spec_set_joined_hint("no-equals-sign"));
}

static void confined_paths(void **state)
{
    (void)state;
    char root[] = "/tmp/mp-test-confine-XXXXXX";
    assert_non_null(mkdtemp(root));
    char *base = mp_xasprintf("%s/base", root);
    char *secret = mp_xasprintf("%s/secret.csv", root);
    char *inside = mp_xasprintf("%s/base/in.csv", root);
    char *link = mp_xasprintf("%s/base/link.csv", root);
    assert_int_equal(mkdir(base, 0700), 0);
    FILE *f = fopen(secret, "w");
    fputs("cpu,q\n1,2\n", f);
    fclose(f);
    f = fopen(inside, "w");
    fputs("a,q\n1,2\n", f);
    fclose(f);
    assert_int_equal(symlink(secret, link), 0);
    static const char *const paths[] = {"../secret.csv", "link.csv", "nope.csv", "/etc/passwd",
                                        "/tmp"};
    for (size_t i = 0; i < MP_ARRAY_LEN(paths); i++) {
        char *text = mp_xasprintf("name: t\nobjective: {metric: q}\n" P1
                                  "runner: {kind: replay, surface: '%s'}\n",
                                  paths[i]);
        struct mp_spec *s = NULL;
        struct mp_error err = {0};
        assert_int_equal(mp_spec_parse_confined(text, strlen(text), "spec", base, &s, &err),
                         MP_EINVALID);
        assert_string_equal(err.msg, "spec:5:33: 'runner.surface': not found inside the folder "
                                     "that submitted specs may read (serve's --base-dir, the "
                                     "operator's --files-dir)");
        /* The same spec from the user's own file may name any path. */
        assert_int_equal(mp_spec_parse(text, strlen(text), "spec", base, NULL, 0, &s, &err), 0);
        mp_spec_free(s);
        free(text);
    }
    static const char *const fields[] = {
        "service: {command: [srv, '{a}'], workdir: ..}\n",
        "service: {command: [srv, '{a}'], env: {K: {from_file: ../secret.csv}}}\n",
        "algorithm: {prior: /etc/passwd}\nrunner: {kind: replay, surface: in.csv}\n",
        "service: {command: [srv, '{a}']}\nrunner: {kind: local, load: {body: ../secret.csv}}\n"};
    static const char *const names[] = {"'service.workdir'", "'service.env.K.from_file'",
                                        "'algorithm.prior'", "'runner.load.body'"};
    for (size_t i = 0; i < MP_ARRAY_LEN(fields); i++) {
        char *text = mp_xasprintf("name: t\nobjective: {metric: q}\n" P1 "%s", fields[i]);
        struct mp_spec *s = NULL;
        struct mp_error err = {0};
        assert_int_equal(mp_spec_parse_confined(text, strlen(text), "spec", base, &s, &err),
                         MP_EINVALID);
        if (!strstr(err.msg, names[i]) || !strstr(err.msg, "not found inside")) {
            fail_msg("[%s] does not name %s", err.msg, names[i]);
        }
        free(text);
    }
    const char *ok =
        "name: t\nobjective: {metric: q}\n" P1 "runner: {kind: replay, surface: in.csv}\n";
    struct mp_spec *s = NULL;
    assert_int_equal(mp_spec_parse_confined(ok, strlen(ok), "spec", base, &s, NULL), 0);
    char *resolved = mp_spec_resolve_path(s, "in.csv");
    char real[PATH_MAX];
    assert_non_null(realpath(inside, real));
    assert_string_equal(resolved, real);
    free(resolved);
    resolved = mp_spec_resolve_path(s, "link.csv");
    assert_null(fopen(resolved, "r"));
    free(resolved);
    mp_spec_free(s);
    unlink(link);
    unlink(inside);
    unlink(secret);
    rmdir(base);
    rmdir(root);
    free(link);
    free(inside);
    free(secret);
    free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_spec_fields),
        cmocka_unit_test(error_messages_name_file_line_and_field),
        cmocka_unit_test(structural_errors),
        cmocka_unit_test(parameter_errors),
        cmocka_unit_test(role_errors),
        cmocka_unit_test(unit_errors),
        cmocka_unit_test(untold_port_warns),
        cmocka_unit_test(bare_durations_warn),
        cmocka_unit_test(cpus_short_warn),
        cmocka_unit_test(set_of_a_parameter_name),
        cmocka_unit_test(parameter_list_errors),
        cmocka_unit_test(integer_limits),
        cmocka_unit_test(section_errors),
        cmocka_unit_test(service_errors),
        cmocka_unit_test(placeholder_suggestions),
        cmocka_unit_test(overrides_use_the_same_path),
        cmocka_unit_test(find_points_at_the_field),
        cmocka_unit_test(override_maps_merge),
        cmocka_unit_test(override_keys_with_dots),
        cmocka_unit_test(override_null_removes_the_key),
        cmocka_unit_test(override_errors_point_into_the_argument),
        cmocka_unit_test(stored_json_keeps_the_text),
        cmocka_unit_test(json_spec_is_equivalent),
        cmocka_unit_test(documents_are_bounded),
        cmocka_unit_test(duplicates_are_named_in_list_order),
        cmocka_unit_test(aliases_are_bounded_by_text_and_depth),
        cmocka_unit_test(long_paths_are_shortened),
        cmocka_unit_test(reader_errors_name_their_line),
        cmocka_unit_test(null_confirm_keys_are_defaults),
        cmocka_unit_test(null_runner_keys_are_defaults),
        cmocka_unit_test(merge_keys),
        cmocka_unit_test(tags_are_refused_unless_harmless),
        cmocka_unit_test(core_schema_nulls_and_booleans),
        cmocka_unit_test(evaluation_judges_results),
        cmocka_unit_test(zero_cost_reason),
        cmocka_unit_test(gpu_count_cost),
        cmocka_unit_test(zero_cost_refused),
        cmocka_unit_test(price_limit_nothing_meets),
        cmocka_unit_test(price_skip),
        cmocka_unit_test(gpu_type_price_missing),
        cmocka_unit_test(secret_references),
        cmocka_unit_test(secret_reference_errors),
        cmocka_unit_test(confined_paths),
        cmocka_unit_test(set_joined_hint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
