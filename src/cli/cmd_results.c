/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling list`, `show` and `export`: reading stored experiments. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "report/report.h"

struct read_args {
    const char *db;
    const char *ref;
    const char *format;
    bool json;
    double target_rps;
    double headroom;
    const char *container;
    int64_t port;
};

/* clang-format off */
#define CAPACITY_OPTS(T)                                                                           \
    {"target-rps", 0, MP_OPT_NUM, MP_OPT_AT(T, target_rps), "R",                                  \
     "add a capacity plan: the replicas of the recommended configuration that serve R "           \
     "requests/s", .min = 1e-9, .max = 1e12},                                                     \
    {"headroom", 0, MP_OPT_NUM, MP_OPT_AT(T, headroom), "X",                                      \
     "spare capacity of the plan (0.2 = 20 %)", "0.2", .min = 0, .max = 10}
/* clang-format on */

static const struct mp_opt list_opts[] = {
    MP_CLI_DB_OPT(struct read_args),
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct read_args, json), NULL,
     "print {experiments: [{id, name, state, created_at, objective, algorithm, max_trials, "
     "counts, best_value}]}"},
};

static const struct mp_opt show_opts[] = {
    MP_CLI_DB_OPT(struct read_args),
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct read_args, json), NULL,
     "print the report as one JSON document (docs/spec.md, \"Results\")"},
    CAPACITY_OPTS(struct read_args),
};

static const struct mp_opt export_opts[] = {
    {"format", 'f', MP_OPT_CHOICE, MP_OPT_AT(struct read_args, format), "FORMAT",
     "csv: every trial, one row each; json: the report; deploy: the recommended configuration's "
     "argv, env and resources as JSON; k8s: a Deployment patch for it",
     .choices = "csv|json|deploy|k8s", .flags = MP_OPT_REQUIRED},
    MP_CLI_DB_OPT(struct read_args),
    {"container", 'c', MP_OPT_STR, MP_OPT_AT(struct read_args, container), "NAME",
     "k8s: the container to configure"},
    {"port", 'p', MP_OPT_INT, MP_OPT_AT(struct read_args, port), "P",
     "deploy, k8s: the port the service listens on ({port} in the command)", "8080", 1, 65535},
    CAPACITY_OPTS(struct read_args),
};

/* Opens the store and builds the report (or list) the command prints. */
static int load(const struct read_args *a, json_t **out)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a->db);
    int rc = mp_store_open(db, NULL, &st, &err);
    if (rc == 0) {
        rc = a->ref ? mp_report_experiment(st, a->ref, out, &err) : mp_report_list(st, out, &err);
    }
    if (rc == 0 && a->ref && a->target_rps != 0) {
        rc = mp_report_capacity_plan(*out, a->target_rps, a->headroom, &err);
    }
    mp_store_close(st);
    free(db);
    return rc == 0 ? 0 : mp_cli_fail(&err);
}

static void print_json(const json_t *j)
{
    mp_json_print(stdout, j);
}

static int list_run(void *args, char **operands, size_t n)
{
    struct read_args *a = args;
    json_t *list = NULL;
    (void)operands;
    (void)n;
    int rc = load(a, &list);
    if (rc == 0) {
        if (a->json) {
            print_json(list);
        } else {
            mp_report_print_list(stdout, list);
        }
    }
    json_decref(list);
    return rc;
}

const struct mp_verb mp_verb_list = {
    .name = "list",
    .run = list_run,
    .summary = "list the experiments in the store",
    .opts = list_opts,
    .n_opts = MP_ARRAY_LEN(list_opts),
    .args_size = sizeof(struct read_args),
};

static int show_run(void *args, char **operands, size_t n)
{
    struct read_args *a = args;
    json_t *rep = NULL;
    (void)n;
    a->ref = operands[0];
    int rc = load(a, &rep);
    if (rc == 0) {
        if (a->json) {
            print_json(rep);
        } else {
            mp_report_print_summary(stdout, rep);
            printf("\n");
            mp_report_print_trials(stdout, rep);
            printf("\n");
            mp_report_print_recommendation(stdout, rep);
        }
    }
    json_decref(rep);
    return rc;
}

const struct mp_verb mp_verb_show = {
    .name = "show",
    .run = show_run,
    .operands = "EXPERIMENT",
    .min_operands = 1,
    .max_operands = 1,
    .summary = "show an experiment's trials, failures and recommendation",
    .description = "EXPERIMENT is a name or an id from 'morphling list'.",
    .opts = show_opts,
    .n_opts = MP_ARRAY_LEN(show_opts),
    .args_size = sizeof(struct read_args),
};

static int export_deployment(const struct read_args *a)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a->db);
    json_t *d = NULL;
    struct mp_deploy_opts o = {
        .port = (int)a->port, .target_rps = a->target_rps, .headroom = a->headroom};
    int rc = mp_store_open(db, NULL, &st, &err);
    if (rc == 0) {
        rc = mp_report_deployment(st, a->ref, &o, &d, &err);
    }
    if (rc == 0 && strcmp(a->format, "k8s") == 0) {
        mp_report_write_k8s_patch(stdout, d, a->container);
    } else if (rc == 0) {
        mp_json_print(stdout, d);
    }
    json_decref(d);
    mp_store_close(st);
    free(db);
    return rc == 0 ? 0 : mp_cli_fail(&err);
}

static int export_run(void *args, char **operands, size_t n)
{
    struct read_args *a = args;
    json_t *rep = NULL;
    (void)n;
    a->ref = operands[0];
    if (strcmp(a->format, "deploy") == 0 || strcmp(a->format, "k8s") == 0) {
        return export_deployment(a);
    }
    int rc = load(a, &rep);
    if (rc == 0) {
        if (strcmp(a->format, "json") == 0) {
            print_json(rep);
        } else {
            mp_report_write_csv(stdout, rep);
        }
    }
    json_decref(rep);
    return rc;
}

const struct mp_verb mp_verb_export = {
    .name = "export",
    .run = export_run,
    .operands = "EXPERIMENT",
    .min_operands = 1,
    .max_operands = 1,
    .summary = "export trials (csv, json) or the recommended configuration (deploy, k8s)",
    .description = "EXPERIMENT is a name or an id from 'morphling list'.",
    .opts = export_opts,
    .n_opts = MP_ARRAY_LEN(export_opts),
    .args_size = sizeof(struct read_args),
};
