/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling list` and `show`: reading stored experiments. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "report/report.h"

struct read_args {
    const char *db;
    const char *ref;
    bool json;
    double target_rps;
    double headroom;
};

static const struct mp_opt list_opts[] = {
    MP_CLI_DB_OPT(struct read_args),
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct read_args, json), NULL,
     "print [{id, name, state, created_at, objective, algorithm, max_trials, counts, "
     "best_value, best_settled, error}] (best_settled: false when best_value rests on a "
     "measurement that did not settle, which the table marks '~'; error: only for an experiment "
     "whose stored spec cannot be read; its objective, algorithm, max_trials, best_value and "
     "best_settled are then null)"},
};

static const struct mp_opt show_opts[] = {
    MP_CLI_DB_OPT(struct read_args),
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct read_args, json), NULL,
     "print the report as one JSON document (docs/spec.md, \"Results\")"},
    MP_CLI_CAPACITY_OPTS(struct read_args),
};

int mp_cli_load_report(const char *db_flag, const char *ref, double target_rps, double headroom,
                       json_t **out)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(db_flag);
    int rc = mp_cli_open_store(db, ref, &st, &err);
    if (rc == 0) {
        /* One snapshot for the whole report: its queries apart, a run writing meanwhile tore it
         * (counts, trials and confirmation of different moments). */
        bool began = mp_store_snapshot_begin(st);
        rc = ref ? mp_report_experiment(st, ref, out, &err) : mp_report_list(st, out, &err);
        mp_store_snapshot_end(st, began);
    }
    if (rc == 0 && ref && target_rps != 0) {
        rc = mp_report_capacity_plan(*out, target_rps, headroom, &err);
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
    int rc = mp_cli_load_report(a->db, NULL, 0, 0, &list);
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
    int rc = mp_cli_load_report(a->db, a->ref, a->target_rps, a->headroom, &rep);
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
