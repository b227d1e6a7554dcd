/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling validate` and `morphling run`. */
#include "cli/cli.h"

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"
#include "report/report.h"

static atomic_bool interrupted;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted, true);
}

struct spec_args {
    const char *file;
    const char **sets;
    size_t n_sets;
};

static void add_set(struct spec_args *a, const char *kv)
{
    a->sets = mp_xreallocarray(a->sets, a->n_sets + 1, sizeof(*a->sets));
    a->sets[a->n_sets++] = kv;
}

int mp_cmd_validate(int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'}, {0}};
    struct spec_args a = {0};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
        if (c == 's') {
            add_set(&a, optarg);
        } else if (c == 'j') {
            json = true;
        } else {
            free(a.sets);
            return mp_cli_usage("validate", "unknown option");
        }
    }
    if (optind + 1 != argc) {
        free(a.sets);
        return mp_cli_usage("validate", "expected one spec FILE");
    }
    a.file = argv[optind];
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    int rc = mp_spec_load(a.file, a.sets, a.n_sets, &spec, &err);
    if (rc == 0) {
        rc = mp_engine_validate(spec, &err);
    }
    free(a.sets);
    if (rc != 0) {
        if (json) {
            json_t *j = json_pack("{s:b, s:s}", "valid", 0, "error", err.msg);
            mp_json_print(stdout, j);
            json_decref(j);
        }
        mp_spec_free(spec);
        return mp_cli_fail(&err);
    }
    double size = mp_space_size(&spec->space);
    if (json) {
        json_t *j = json_pack("{s:b, s:s, s:I, s:f, s:s, s:s}", "valid", 1, "name", spec->name,
                              "parameters", (json_int_t)spec->space.n, "configurations",
                              isinf(size) ? -1.0 : size, "algorithm", spec->algorithm, "runner",
                              spec->runner);
        mp_json_print(stdout, j);
        json_decref(j);
    } else {
        printf("%s: valid: experiment '%s', %zu parameters, ", a.file, spec->name, spec->space.n);
        if (isinf(size)) {
            printf("continuous space");
        } else {
            printf("%.0f configurations", size);
        }
        printf(", algorithm %s, runner %s, up to %lld trials\n", spec->algorithm, spec->runner,
               (long long)spec->max_trials);
    }
    mp_spec_free(spec);
    return MP_EXIT_OK;
}

static void progress(void *ctx, const struct mp_spec *spec, int64_t number,
                     const struct mp_trial_result *res, size_t done, int64_t max_trials,
                     double best, bool have_best)
{
    (void)ctx;
    double v = 0;
    bool has = mp_metrics_get(&res->metrics, spec->objective_metric, &v);
    fprintf(stderr, "[%zu/%lld] trial %lld %s", done, (long long)max_trials, (long long)number,
            mp_trial_state_name(res->state));
    if (has) {
        fprintf(stderr, " %s=%.6g", spec->objective_metric, v);
    }
    if (res->failure) {
        fprintf(stderr, " (%s)", mp_failure_name(res->failure));
    }
    if (have_best) {
        fprintf(stderr, "; best %.6g", best);
    }
    fprintf(stderr, "\n");
}

struct run_args {
    struct spec_args spec;
    const char *db;
    bool json, restart, quiet;
};

static int parse_run_args(int argc, char **argv, struct run_args *a)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'}, {"db", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},      {"restart", no_argument, NULL, 'r'},
        {"quiet", no_argument, NULL, 'q'},     {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:d:q", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            add_set(&a->spec, optarg);
            break;
        case 'd':
            a->db = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'r':
            a->restart = true;
            break;
        case 'q':
            a->quiet = true;
            break;
        default:
            return mp_cli_usage("run", "unknown option");
        }
    }
    if (optind + 1 != argc) {
        return mp_cli_usage("run", "expected one spec FILE");
    }
    a->spec.file = argv[optind];
    return 0;
}

static void print_outcome(const struct run_args *a, const struct mp_engine_summary *sum,
                          const json_t *report, const char *db)
{
    if (a->json) {
        mp_json_print(stdout, report);
        return;
    }
    if (sum->already_finished) {
        printf("Experiment already finished earlier (use --restart to run it again).\n");
    }
    mp_report_print_summary(stdout, report);
    printf("\n");
    mp_report_print_recommendation(stdout, report);
    printf("\nResults are stored in %s (experiment id %lld): see 'morphling show %s --db %s'.\n",
           db, (long long)sum->experiment_id, json_string_value(json_object_get(report, "name")),
           db);
}

int mp_cmd_run(int argc, char **argv)
{
    struct run_args a = {0};
    int rc = parse_run_args(argc, argv, &a);
    if (rc != 0) {
        free(a.spec.sets);
        return rc;
    }
    struct mp_error err = {0};
    struct mp_spec *spec = NULL;
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a.db);
    json_t *report = NULL;
    struct mp_engine_summary sum = {0};
    rc = mp_spec_load(a.spec.file, a.spec.sets, a.spec.n_sets, &spec, &err);
    if (rc == 0) {
        rc = mp_engine_validate(spec, &err);
    }
    if (rc == 0) {
        rc = mp_store_open(db, NULL, &st, &err);
    }
    if (rc == 0) {
        struct sigaction sa = {0};
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct mp_engine_opts eo = {.cancel = &interrupted, .restart = a.restart};
        if (!a.quiet && !a.json && isatty(STDERR_FILENO)) {
            eo.progress = progress;
        }
        rc = mp_engine_run(st, spec, &eo, &sum, &err);
    }
    if (rc == 0) {
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", (long long)sum.experiment_id);
        rc = mp_report_experiment(st, ref, &report, &err);
    }
    if (rc == 0) {
        print_outcome(&a, &sum, report, db);
        if (sum.state == MP_EXPERIMENT_INTERRUPTED) {
            fprintf(stderr, "morphling: interrupted; run the same command again to continue\n");
            rc = MP_EXIT_INTERRUPTED;
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
    free(a.spec.sets);
    return rc;
}
