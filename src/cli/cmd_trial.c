/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling trial FILE --set name=value ... [--json]`: runs one trial of one configuration
 * with the spec's runner and prints its record (state, failure class, metrics, resource usage,
 * enforced limits, logs). Nothing is stored. */
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "report/report.h"
#include "runner/runner.h"

struct trial_args {
    struct mp_cli_list sets; /* every --set, as given */
    bool json, logs, quiet;
};

static const struct mp_opt trial_opts[] = {
    {"set", 's', MP_OPT_LIST, MP_OPT_AT(struct trial_args, sets), "NAME=VALUE",
     "the value of parameter NAME (every parameter needs one); other keys override spec fields "
     "as in 'run --set'; repeatable"},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct trial_args, json), NULL,
     "print the trial record as JSON (experiment, runner, params (as in 'show --json'), config "
     "(each value as text), state, failure, reason, "
     "settled, metrics, resources, meta, stdout, stderr)"},
    {"logs", 0, MP_OPT_FLAG, MP_OPT_AT(struct trial_args, logs), NULL,
     "also print the service's stdout and stderr"},
    {"quiet", 'q', MP_OPT_FLAG, MP_OPT_AT(struct trial_args, quiet), NULL, "no progress on stderr"},
};

/* While the trial runs: how long it has been running, against its time limit. */
struct ticker {
    struct mp_cli_progress p;
    int64_t timeout_ms;
    atomic_bool stop;
};

static void *tick(void *arg)
{
    struct ticker *t = arg;
    while (!atomic_load(&t->stop)) {
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
        long s = (long)((mp_mono_ns() - t->p.t0_ns) / 1000000000);
        if (t->timeout_ms > 0) {
            mp_cli_progress_status(&t->p, "running for %lds (the trial stops at %llds)", s,
                                   (long long)(t->timeout_ms / 1000));
        } else {
            mp_cli_progress_status(&t->p, "running for %lds", s);
        }
    }
    return NULL;
}

/* An undotted --set name that is neither a parameter nor a field of the spec's top level (pe: a
 * ProfilingExperiment, whose fields are others): MP_EINVALID naming the parameters and the
 * closest name (it was "--set:1:3: 'threds': unknown key"). */
static int no_field(const struct mp_space *s, const char *name, bool pe, struct mp_error *err)
{
    for (size_t i = 0; mp_spec_keys[i]; i++) {
        if (strcmp(name, mp_spec_keys[i]) == 0) {
            return 0;
        }
    }
    if (pe) {
        return 0; /* its top level has other keys, which its own check names */
    }
    const char **names = mp_xcalloc(s->n + 1, sizeof(*names));
    struct mp_buf list = {0};
    for (size_t i = 0; i < s->n; i++) {
        names[i] = s->params[i].name;
        mp_buf_addf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    const char *near = mp_suggest(name, names);
    int rc = mp_error_set(err, MP_EINVALID,
                          "--set %s: no parameter or spec field of that name (the parameters: "
                          "%s)%s%s%s",
                          name, list.data ? list.data : "none", near ? "; did you mean '" : "",
                          near ? near : "", near ? "'?" : "");
    mp_buf_release(&list);
    free(names);
    return rc;
}

/* A --set value that parameter p refuses: err's message after "--set NAME=VALUE: ", and for
 * pairs joined with commas, one --set per key, or for a text that is no number, the unit of a
 * cpu or memory parameter (it said "expected a number" of "2Gi", not that memory is in MiB). */
static int value_error(const struct mp_param *p, const char *set, const char *value, int rc,
                       struct mp_error *err)
{
    double d;
    char *hint = mp_spec_set_joined_hint(set);
    if (!hint && mp_parse_double(value, &d) != 0) {
        hint = mp_spec_unit_hint(p, value);
    }
    if (hint && err) {
        char *msg = mp_xstrdup(err->msg); /* not formatted into itself */
        mp_error_set(err, rc, "--set %s: %s (%s)", set, msg, hint);
        free(msg);
    } else {
        mp_error_prefix(err, rc, "--set %s", set);
    }
    free(hint);
    return rc;
}

/* Splits --set pairs into parameter values (name is a parameter) and spec overrides; with x
 * NULL, only the overrides (the parameters' names are known, their ranges may change). */
static int split_sets(const struct trial_args *a, const struct mp_space *s, bool pe, double *x,
                      bool *given, const char **overrides, size_t *n_over, struct mp_error *err)
{
    *n_over = 0;
    for (size_t i = 0; i < a->sets.n; i++) {
        const char *set = a->sets.v[i];
        const char *eq = strchr(set, '=');
        if (!eq || eq == set) {
            return mp_error_set(err, MP_EINVALID, "--set '%s': expected NAME=VALUE", set);
        }
        char *name = mp_xstrndup(set, (size_t)(eq - set));
        int idx = s ? mp_space_find(s, name) : -1;
        int rc = idx < 0 && s && !strchr(name, '.') ? no_field(s, name, pe, err) : 0;
        free(name);
        if (rc != 0) {
            return rc;
        }
        if (idx < 0) {
            overrides[(*n_over)++] = set;
            continue;
        }
        if (!x) {
            continue; /* names only: the value is checked against the spec as overridden */
        }
        rc = mp_space_parse(s, (size_t)idx, eq + 1, &x[idx], err);
        if (rc != 0) {
            return value_error(&s->params[idx], set, eq + 1, rc, err);
        }
        given[idx] = true;
    }
    return 0;
}

/* The --set pairs that override spec fields when the parameters' names are unknown: dotted
 * names and the spec's top-level keys. */
static void fields_only(const struct trial_args *a, const char **overrides, size_t *n_over)
{
    for (size_t i = 0; i < a->sets.n; i++) {
        const char *set = a->sets.v[i];
        size_t len = strcspn(set, "=");
        bool field = memchr(set, '.', len) != NULL;
        for (size_t k = 0; !field && mp_spec_keys[k]; k++) {
            field = strlen(mp_spec_keys[k]) == len && strncmp(set, mp_spec_keys[k], len) == 0;
        }
        if (field) {
            overrides[(*n_over)++] = set;
        }
    }
}

/* Loads the spec (overrides applied) and the configuration. *x is owned. */
static int load(const char *file, const struct trial_args *a, struct mp_spec **spec, double **x,
                struct mp_error *err)
{
    const char **over = mp_xcalloc(a->sets.n + 1, sizeof(*over));
    size_t n_over = 0;
    struct mp_spec *probe = NULL;
    /* First pass without overrides, only to learn the parameter names. */
    int rc = mp_spec_load(file, NULL, 0, &probe, err);
    if (rc == 0) {
        rc = split_sets(a, &probe->space, probe->from_pe, NULL, NULL, over, &n_over, err);
    } else {
        /* Not valid as written: maybe once overridden (as `run --set` takes it); the spec's own
         * error stands otherwise. */
        rc = 0;
        fields_only(a, over, &n_over);
    }
    mp_spec_free(probe);
    if (rc == 0) {
        rc = mp_spec_load(file, over, n_over, spec, err);
    }
    if (rc == 0) {
        const struct mp_space *s = &(*spec)->space;
        *x = mp_xcalloc(s->n + 1, sizeof(double));
        bool *given = mp_xcalloc(s->n + 1, sizeof(bool));
        rc = split_sets(a, s, (*spec)->from_pe, *x, given, over, &n_over, err);
        for (size_t i = 0; rc == 0 && i < s->n; i++) {
            if (!given[i]) {
                rc = mp_error_set(err, MP_EINVALID, "parameter '%s' needs a value: --set %s=...",
                                  s->params[i].name, s->params[i].name);
            }
        }
        free(given);
    }
    free(over);
    return rc;
}

static json_t *metrics_json(const struct mp_metrics *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++) {
        json_object_set_new(o, m->names[i], json_real(m->values[i]));
    }
    return o;
}

static json_t *record_json(const struct mp_spec *spec, const double *x,
                           const struct mp_trial_result *res)
{
    json_t *cfg = json_object();
    char buf[MP_FMT_DOUBLE_MAX];
    for (size_t i = 0; i < spec->space.n; i++) {
        json_object_set_new(cfg, spec->space.params[i].name,
                            json_string(mp_space_format(&spec->space, i, x[i], buf)));
    }
    /* The configuration as show --json and the API give a trial's (numbers as numbers); config
     * keeps each value's canonical text. */
    char *params_text = mp_space_config_json(&spec->space, x);
    json_t *params = json_loads(params_text, 0, NULL);
    free(params_text);
    json_t *meta = res->meta_json ? json_loads(res->meta_json, 0, NULL) : NULL;
    mp_report_redact_argv(json_object_get(meta, "argv")); /* as show and the API show it */
    /* Only a value settles or not, as show says (null: nothing measured). */
    double v;
    bool measured = mp_metrics_get(&res->metrics, spec->objective_metric, &v) && isfinite(v);
    return json_pack(
        "{s:s, s:s, s:o, s:o, s:s, s:s, s:s?, s:o, s:o, s:o, s:o, s:s, s:s}", "experiment",
        spec->name, "runner", spec->runner, "params", params ? params : json_object(), "config",
        cfg, "state", mp_trial_state_name(res->state), "failure", mp_failure_name(res->failure),
        "reason", res->reason, "settled", measured ? json_boolean(!res->unsettled) : json_null(),
        "metrics", metrics_json(&res->metrics), "resources", metrics_json(&res->resources), "meta",
        meta ? meta : json_object(), "stdout", res->stdout_log ? res->stdout_log : "", "stderr",
        res->stderr_log ? res->stderr_log : "");
}

/* A number with three significant digits and no exponent: 0.00111, 8.21, 542236. */
static void sig3(char *buf, size_t len, double v)
{
    int mag = v != 0 && isfinite(v) ? (int)floor(log10(fabs(v))) : 0;
    int decimals = mag >= 2 ? 0 : 2 - mag;
    snprintf(buf, len, "%.*f", decimals > 9 ? 9 : decimals, v);
}

/* A metric's value in its unit (mp_metric_unit), readable: "0.12 %", "21.6 MiB", "$0.00111". */
static void fmt_metric(char *buf, size_t len, const char *name, double v)
{
    const char *unit = mp_metric_unit(name);
    char n[64];
    sig3(n, sizeof(n), v);
    if (!unit) {
        mp_fmt_double(n, v);
        snprintf(buf, len, "%s", n);
    } else if (strcmp(unit, "fraction") == 0) {
        sig3(n, sizeof(n), 100 * v);
        snprintf(buf, len, "%s %%", n);
    } else if (strcmp(unit, "flag") == 0) {
        snprintf(buf, len, "%s", v != 0 ? "yes" : "no");
    } else if (strcmp(unit, "count") == 0) {
        snprintf(buf, len, "%.0f", v);
    } else if (strcmp(unit, "bytes") == 0) {
        static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
        size_t k = 0;
        while (fabs(v) >= 1024 && k + 1 < MP_ARRAY_LEN(units)) {
            v /= 1024;
            k++;
        }
        if (k == 0) {
            snprintf(n, sizeof(n), "%.0f", v);
        } else {
            sig3(n, sizeof(n), v);
        }
        snprintf(buf, len, "%s %s", n, units[k]);
    } else if (unit[0] == '$') {
        snprintf(buf, len, "$%s%s", n, unit + 1);
    } else {
        snprintf(buf, len, "%s %s", n, unit);
    }
}

/* The figures of m under label, but those `shown` already lists with the same value (the run's
 * metrics carry its resource figures too). */
static void print_metrics(const char *label, const struct mp_metrics *m,
                          const struct mp_metrics *shown)
{
    bool head = false;
    for (size_t i = 0; i < m->n; i++) {
        double v;
        if (shown && mp_metrics_get(shown, m->names[i], &v) &&
            (v == m->values[i] || (isnan(v) && isnan(m->values[i])))) {
            continue;
        }
        if (!head) {
            printf("  %s\n", label);
            head = true;
        }
        char value[96];
        fmt_metric(value, sizeof(value), m->names[i], m->values[i]);
        printf("    %-28s %s\n", m->names[i], value);
    }
}

static void print_limits(const json_t *meta)
{
    const json_t *cg = json_object_get(meta, "cgroup");
    if (cg) {
        const char *warn = json_string_value(json_object_get(cg, "warning"));
        printf("  %-10scgroup %s%s%s%s\n", "isolation",
               json_string_value(json_object_get(cg, "mode")),
               json_object_get(cg, "path") ? " " : "",
               json_object_get(cg, "path") ? json_string_value(json_object_get(cg, "path")) : "",
               warn ? " (warning: see limits)" : "");
        if (warn) {
            printf("  %-10s%s\n", "warning", warn);
        }
    }
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)json_object_get(meta, "limits"), key, v) {
        const json_t *req = json_object_get(v, "requested");
        char buf[MP_FMT_DOUBLE_MAX];
        printf("  %-10s%s %s: %s (%s)\n", "limit", key,
               json_is_string(req) ? json_string_value(req)
                                   : mp_fmt_double(buf, json_number_value(req)),
               json_is_true(json_object_get(v, "enforced")) ? "enforced" : "NOT enforced",
               json_string_value(json_object_get(v, "how")));
    }
}

static void print_text(const struct mp_spec *spec, const double *x,
                       const struct mp_trial_result *res, bool logs)
{
    char *key = mp_space_key(&spec->space, x);
    printf("trial of %s [%s]: %s", spec->name, key, mp_trial_state_name(res->state));
    free(key);
    if (res->state == MP_TRIAL_FAILED) {
        printf(" (%s: %s)", mp_failure_name(res->failure), mp_failure_text(res->failure));
    }
    printf("\n");
    if (res->reason) {
        printf("  %-10s%s\n", "reason", res->reason);
    }
    if (res->unsettled) {
        printf("  %-10s%s\n", "note",
               "the measurement did not settle (stable = 0, or an uncertainty over "
               "algorithm.confirm.max_uncertainty): run never recommends it on this alone");
    }
    print_metrics("metrics", &res->metrics, NULL);
    print_metrics("resources", &res->resources, &res->metrics);
    json_t *meta = res->meta_json ? json_loads(res->meta_json, 0, NULL) : NULL;
    if (meta) {
        print_limits(meta);
        json_decref(meta);
    }
    if (logs) {
        printf("--- stdout\n%s\n--- stderr\n%s\n", res->stdout_log ? res->stdout_log : "",
               res->stderr_log ? res->stderr_log : "");
    }
}

static int run_one(const struct mp_spec *spec, const double *x, bool quiet,
                   struct mp_trial_result *res, struct mp_error *err)
{
    struct mp_runner *runner = NULL;
    const struct mp_runner_ops *ops = mp_runner_find(spec->runner);
    int rc = ops && ops->validate ? ops->validate(spec, err) : 0;
    if (rc == 0) {
        /* Every {from_env}/{from_file} secret must be readable before anything runs, as in
         * `run`: an unset variable is an error of the spec, not a trial that crashed. */
        rc = mp_spec_check_secrets(spec, err);
    }
    if (rc == 0) {
        rc = mp_runner_new(spec, &runner, err);
    }
    if (rc != 0) {
        return rc;
    }
    struct ticker t = {.timeout_ms = spec->trial_timeout_ms};
    atomic_init(&t.stop, false);
    mp_cli_progress_start(&t.p, "trial", 0, quiet);
    pthread_t thread;
    bool ticking = pthread_create(&thread, NULL, tick, &t) == 0;
    mp_cli_catch_interrupts();
    /* The experiment id is this process's pid, so that concurrent `morphling trial` runs of one
     * spec never share a cgroup or port lease name. */
    struct mp_trial_request req = {spec->name, (int64_t)getpid(), 1, 1, x, spec->trial_timeout_ms};
    rc = runner->ops->run(runner, &req, res, &mp_cli_interrupted);
    mp_cli_restore_interrupts();
    atomic_store(&t.stop, true);
    if (ticking) {
        pthread_join(thread, NULL);
    }
    mp_cli_progress_end(&t.p);
    if (rc != 0 && res->state == MP_TRIAL_SUCCEEDED) {
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "runner failure: %s", mp_strerror(rc));
    }
    /* Judged as `run` judges it (the engine does this to every result): the replay runner
     * answers its row as recorded, so a row that breaks a constraint was SUCCEEDED here, exit 0,
     * without the cost metrics. */
    mp_spec_evaluate(spec, x, res);
    /* The secrets the service repeated are <redacted>, as in the record `run` stores. */
    mp_spec_scrub_result(spec, res);
    double v;
    res->unsettled = mp_metrics_get(&res->metrics, spec->objective_metric, &v) && isfinite(v) &&
                     mp_engine_unsettled(spec, &res->metrics);
    mp_runner_free(runner);
    return 0;
}

static int trial_run(void *args, char **operands, size_t n)
{
    (void)n;
    const struct trial_args *a = args;
    struct mp_spec *spec = NULL;
    double *x = NULL;
    struct mp_error err = {0, ""};
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    int rc = load(operands[0], a, &spec, &x, &err);
    if (rc == 0 && (rc = run_one(spec, x, a->quiet, &res, &err)) != 0) {
        mp_spec_hint_joined(a->sets.v, a->sets.n, &err); /* the runner's checks of the spec */
    }
    int status = MP_EXIT_OK;
    if (rc != 0) {
        status = mp_cli_fail(&err);
    } else {
        if (a->json) {
            json_t *j = record_json(spec, x, &res);
            mp_json_print(stdout, j);
            json_decref(j);
        } else {
            print_text(spec, x, &res, a->logs);
        }
        status = res.state == MP_TRIAL_SUCCEEDED ? MP_EXIT_OK : MP_EXIT_FAILURE;
        if (res.state == MP_TRIAL_CANCELLED && atomic_load(&mp_cli_interrupted)) {
            status = mp_cli_interrupted_status(); /* 130 on SIGINT, 143 on SIGTERM */
        }
    }
    mp_trial_result_release(&res);
    mp_spec_free(spec);
    free(x);
    return status;
}

const struct mp_verb mp_verb_trial = {
    .name = "trial",
    .run = trial_run,
    .operands = "FILE",
    .min_operands = 1,
    .max_operands = 1,
    .operand_paths = true,
    .summary = "run one trial of one configuration and print its record (nothing is stored)",
    .description =
        "Starts the service of spec FILE with the configuration given by --set NAME=VALUE (one "
        "per parameter), measures it as 'run' would and prints the record: state, failure "
        "class, metrics, resource use, the limits that were and were not enforced, and with "
        "--logs the service's output. Exit status 0 when the trial succeeded, 1 when it "
        "failed, 130 when interrupted (143 on SIGTERM).",
    .opts = trial_opts,
    .n_opts = MP_ARRAY_LEN(trial_opts),
    .args_size = sizeof(struct trial_args),
};
