/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling validate` and `morphling run`. */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "report/report.h"

#define SET_HELP                                                                                   \
    "override a spec field before validation, e.g. --set algorithm.max_trials=10 or --set "        \
    "parameters.batch.max=64; KEY=null removes KEY (docs/spec.md); repeatable"

struct validate_args {
    struct mp_cli_list sets;
    bool json;
    bool offline;
};

static const struct mp_opt validate_opts[] = {
    {"set", 's', MP_OPT_LIST, MP_OPT_AT(struct validate_args, sets), "KEY=VALUE", SET_HELP},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct validate_args, json), NULL,
     "print the verdict as JSON: {valid, name, parameters, configurations, algorithm, runner, "
     "max_trials, warnings} or {valid: false, error}"},
    {"offline", 0, MP_OPT_FLAG, MP_OPT_AT(struct validate_args, offline), NULL,
     "ask no cluster: the kubernetes runner's settings, files and pod template are checked, not "
     "its kubeconfig, namespace, rights or the API server's verdict on the pod (for a spec's "
     "CI; `run` checks them all)"},
};

/* The spec's own warnings (mp_spec_warnings: a bare duration that looks like milliseconds, a
 * service never told its port): appended to list, else printed on stderr for verb. */
static void spec_warnings(const struct mp_spec *spec, const char *verb, json_t *list)
{
    size_t n = 0;
    char **w = mp_spec_warnings(spec, &n);
    char *prefix = mp_xasprintf("morphling %s: warning: ", verb);
    for (size_t i = 0; i < n; i++) {
        if (list) {
            char *msg = mp_xstrdup(w[i]); /* as the error's: a file name may be no UTF-8 */
            mp_utf8_scrub(msg, strlen(msg));
            json_array_append_new(list, json_string(msg));
            free(msg);
        } else {
            mp_cli_print_message(prefix, w[i]);
        }
    }
    free(prefix);
    mp_spec_warnings_free(w, n);
}

static int validate_run(void *args, char **operands, size_t n)
{
    (void)n;
    const struct validate_args *a = args;
    const char *file = operands[0];
    bool json = a->json;
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    int rc = mp_spec_load(file, a->sets.v, a->sets.n, &spec, &err);
    if (rc == 0) {
        rc = a->offline ? mp_engine_validate_offline(spec, &err) : mp_engine_validate(spec, &err);
        if (rc != 0) {
            mp_spec_hint_joined(a->sets.v, a->sets.n, &err);
        }
    }
    if (rc != 0) {
        if (json) {
            /* The message may quote bytes that are no UTF-8 (a file name), which JSON cannot
             * hold. */
            char *msg = mp_xstrdup(err.msg);
            mp_utf8_scrub(msg, strlen(msg));
            json_t *j = json_pack("{s:b, s:s}", "valid", 0, "error", msg);
            mp_json_print(stdout, j);
            json_decref(j);
            free(msg);
        }
        mp_spec_free(spec);
        return mp_cli_fail(&err);
    }
    double size = mp_space_size(&spec->space);
    char *warning = mp_engine_spec_warning(spec);
    if (json) {
        json_t *j = json_pack("{s:b, s:s, s:I, s:f, s:s, s:s, s:I, s:[]}", "valid", 1, "name",
                              spec->name, "parameters", (json_int_t)spec->space.n, "configurations",
                              isinf(size) ? -1.0 : size, "algorithm", spec->algorithm, "runner",
                              spec->runner, "max_trials", (json_int_t)spec->max_trials, "warnings");
        if (warning) {
            json_array_append_new(json_object_get(j, "warnings"), json_string(warning));
        }
        spec_warnings(spec, "validate", json_object_get(j, "warnings"));
        mp_json_print(stdout, j);
        json_decref(j);
    } else {
        printf("%s: valid: experiment '%s', %zu parameter%s, ",
               strcmp(file, "-") == 0 ? "<stdin>" : file, spec->name, spec->space.n,
               spec->space.n == 1 ? "" : "s");
        if (isinf(size)) {
            printf("continuous space");
        } else {
            printf("%.0f configuration%s", size, size == 1 ? "" : "s");
        }
        printf(", algorithm %s, runner %s, up to %lld trial%s\n", spec->algorithm, spec->runner,
               (long long)spec->max_trials, spec->max_trials == 1 ? "" : "s");
        if (warning) {
            mp_cli_print_message("morphling validate: warning: ", warning);
        }
        spec_warnings(spec, "validate", NULL);
    }
    free(warning);
    mp_spec_free(spec);
    return MP_EXIT_OK;
}

const struct mp_verb mp_verb_validate = {
    .name = "validate",
    .run = validate_run,
    .operands = "FILE",
    .min_operands = 1,
    .max_operands = 1,
    .operand_paths = true,
    .summary = "check an experiment spec without running anything",
    .description = "Loads FILE (YAML or JSON, morphling-spec(5); - reads standard input, relative "
                   "paths then resolving in the current folder), applies the --set overrides and "
                   "checks every field, the runner's settings and the algorithm's settings. An "
                   "error names the file, line, column and field, and exits with status 2.",
    .opts = validate_opts,
    .n_opts = MP_ARRAY_LEN(validate_opts),
    .args_size = sizeof(struct validate_args),
};

/* One step of the progress per finished trial. */
static void progress(void *ctx, const struct mp_spec *spec, int64_t number,
                     const struct mp_trial_result *res, size_t done, int64_t max_trials,
                     double best, bool have_best)
{
    struct mp_cli_progress *p = ctx;
    struct mp_buf note = MP_BUF_INIT;
    double v = 0;
    mp_buf_addf(&note, "trial %lld %s", (long long)number, mp_trial_state_name(res->state));
    if (mp_metrics_get(&res->metrics, spec->objective_metric, &v)) {
        mp_buf_addf(&note, " %s=%.6g", spec->objective_metric, v);
    }
    if (res->failure) {
        mp_buf_addf(&note, " (%s)", mp_failure_name(res->failure));
    }
    /* Else a higher figure than the best that follows reads as a wrong best. */
    if (res->unsettled) {
        mp_buf_addf(&note, " (unsettled)");
    }
    if (have_best) {
        mp_buf_addf(&note, "; best %.6g", best);
    }
    p->total = (size_t)max_trials;
    mp_cli_progress_step(p, done, "%s", note.data);
    mp_buf_release(&note);
}

/* Confirmation runs: the trials' bar ends and one for the runs takes its place. */
static void confirm_progress(void *ctx, const struct mp_spec *spec, int64_t number, int64_t run,
                             const struct mp_trial_result *res, size_t done, size_t total)
{
    struct mp_cli_progress *p = ctx;
    if (strcmp(p->what, "confirm") != 0) {
        mp_cli_progress_next(p, "confirm", total);
    }
    struct mp_buf note = MP_BUF_INIT;
    double v = 0;
    mp_buf_addf(&note, "trial %lld run %lld %s", (long long)number, (long long)run,
                mp_trial_state_name(res->state));
    if (mp_metrics_get(&res->metrics, spec->objective_metric, &v)) {
        mp_buf_addf(&note, " %s=%.6g", spec->objective_metric, v);
    }
    if (res->failure) {
        mp_buf_addf(&note, " (%s)", mp_failure_name(res->failure));
    }
    p->total = total;
    mp_cli_progress_step(p, done, "%s", note.data);
    mp_buf_release(&note);
}

struct run_args {
    struct mp_cli_list sets;
    const char *db;
    bool json, restart, quiet;
};

static const struct mp_opt run_opts[] = {
    {"set", 's', MP_OPT_LIST, MP_OPT_AT(struct run_args, sets), "KEY=VALUE", SET_HELP},
    MP_CLI_DB_OPT(struct run_args),
    {"restart", 0, MP_OPT_FLAG, MP_OPT_AT(struct run_args, restart), NULL,
     "replace a stored experiment of the same name (its trials are deleted) instead of "
     "continuing or reporting it"},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct run_args, json), NULL,
     "print the report as JSON (the document of 'show --json')"},
    {"quiet", 'q', MP_OPT_FLAG, MP_OPT_AT(struct run_args, quiet), NULL, "no progress on stderr"},
};

/* s as one word of a POSIX shell command: as it is when it holds nothing a shell reads, else in
 * single quotes (each ' written '\''), so that the command printed can be pasted as it stands. */
static void print_shell_word(FILE *f, const char *s)
{
    if (*s &&
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=.,:/@%") ==
            strlen(s)) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') {
            fputs("'\\''", f);
        } else {
            fputc(*s, f);
        }
    }
    fputc('\'', f);
}

/* The spec's warnings and how its algorithm will search, once the run goes ahead: a spec the
 * store refuses (changed since it ran) gets the refusal alone. */
static void run_warnings(void *ctx, const struct mp_spec *spec, bool resumed)
{
    (void)ctx;
    (void)resumed;
    char *warning = mp_engine_spec_warning(spec);
    if (warning) {
        mp_cli_print_message("morphling run: warning: ", warning);
        free(warning);
    }
    spec_warnings(spec, "run", NULL);
}

/* A rerun of a finished experiment runs nothing. The way on that keeps the results (a larger
 * budget, when the budget is what stopped it) comes before --restart, which deletes them. */
static void print_already_finished(const json_t *report)
{
    const char *reason = json_string_value(json_object_get(report, "stop_reason"));
    json_int_t max = json_integer_value(json_object_get(report, "max_trials"));
    json_int_t total =
        json_integer_value(json_object_get(json_object_get(report, "counts"), "total"));
    printf("Experiment already finished earlier: nothing ran. ");
    if (reason && strncmp(reason, "reached max_trials", 18) == 0 && max > 0) {
        printf("A larger budget continues it (--set algorithm.max_trials=%lld); ",
               (long long)max * 2);
    }
    printf("--restart runs it anew, deleting its %lld trial%s.\n", (long long)total,
           total == 1 ? "" : "s");
}

static void print_outcome(const struct run_args *a, const struct mp_engine_summary *sum,
                          const json_t *report, const char *db)
{
    if (a->json) {
        mp_json_print(stdout, report);
        return;
    }
    if (sum->already_finished) {
        print_already_finished(report);
    }
    mp_report_print_summary(stdout, report);
    printf("\n");
    mp_report_print_recommendation(stdout, report);
    /* The path quoted where a shell would split or expand it ('dir with space/x.db'). */
    printf(
        "\nResults are stored in %s (experiment id %lld); to see them:\n  morphling show %s --db ",
        db, (long long)sum->experiment_id, json_string_value(json_object_get(report, "name")));
    print_shell_word(stdout, db);
    printf("\n");
}

static int run_run(void *args, char **operands, size_t n)
{
    (void)n;
    const struct run_args *a = args;
    struct mp_error err = {0};
    struct mp_spec *spec = NULL;
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a->db);
    json_t *report = NULL;
    struct mp_engine_summary sum = {0};
    int rc = mp_spec_load(operands[0], a->sets.v, a->sets.n, &spec, &err);
    if (rc == 0 && (rc = mp_engine_validate(spec, &err)) != 0) {
        mp_spec_hint_joined(a->sets.v, a->sets.n, &err);
    }
    if (rc == 0) {
        rc = mp_store_open(db, NULL, &st, &err);
    }
    if (rc == 0) {
        struct mp_cli_progress p;
        mp_cli_progress_start(&p, "run", (size_t)spec->max_trials, a->quiet);
        struct mp_engine_opts eo = {.cancel = &mp_cli_interrupted,
                                    .restart = a->restart,
                                    .progress = progress,
                                    .confirm_progress = confirm_progress,
                                    .started = run_warnings,
                                    .progress_ctx = &p};
        mp_cli_catch_interrupts();
        rc = mp_engine_run(st, spec, &eo, &sum, &err);
        mp_cli_restore_interrupts();
        mp_cli_progress_end(&p);
    }
    if (rc == 0) {
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", (long long)sum.experiment_id);
        rc = mp_report_experiment(st, ref, &report, &err);
    }
    if (rc == 0) {
        print_outcome(a, &sum, report, db);
        if (sum.state == MP_EXPERIMENT_INTERRUPTED) {
            fprintf(stderr, "%sinterrupted; run the same command again to continue\n",
                    mp_cli_prefix());
            rc = mp_cli_interrupted_status(); /* 130 on SIGINT, 143 on SIGTERM */
        } else if (sum.state == MP_EXPERIMENT_FAILED) {
            rc = MP_EXIT_FAILURE;
        }
    } else {
        rc = mp_cli_fail(&err);
    }
    json_decref(report);
    mp_store_close(st);
    mp_spec_free(spec);
    free(db);
    return rc;
}

const struct mp_verb mp_verb_run = {
    .name = "run",
    .run = run_run,
    .operands = "FILE",
    .min_operands = 1,
    .max_operands = 1,
    .operand_paths = true,
    .summary = "run (or continue) an experiment and print the recommendation",
    .description =
        "Runs the experiment of spec FILE (- reads standard input) trial by trial and stores "
        "every trial. When the store "
        "holds an unfinished experiment of the same name with the same spec, it continues where "
        "that one stopped (Ctrl-C, a crash, kill -9) and ends with exactly max_trials trials; a "
        "finished one is reported again; a changed spec is refused unless --restart, but a larger "
        "algorithm.max_trials continues it, finished or not (one stopped by "
        "algorithm.max_failed_trials, under a larger max_failed_trials). The same spec in another "
        "folder "
        "(whose relative paths name other files) is refused while the stored one's folder "
        "exists.\n\n"
        "Progress goes to stderr, one line per trial (a bar on a terminal); the recommendation "
        "to stdout. Ctrl-C stops after cancelling the running trials, whose services get "
        "runner.grace_period to exit; a second Ctrl-C kills them at once (exit status 130; 143 "
        "on SIGTERM, 128 + the signal as shells report it).",
    .opts = run_opts,
    .n_opts = MP_ARRAY_LEN(run_opts),
    .args_size = sizeof(struct run_args),
};
