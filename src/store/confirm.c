/* SPDX-License-Identifier: Apache-2.0 */
/* Confirmation runs: the best candidates of a search measured again before the recommendation
 * (docs/internals/engine.md, "Confirmation"). One row per run, written once. */
#include "store/store_int.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void mp_confirm_rows_free(struct mp_confirm_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].reason);
        mp_metrics_release(&rows[i].metrics);
    }
    free(rows);
}

static char *metrics_text(const struct mp_metrics *m)
{
    json_t *j = json_object();
    for (size_t i = 0; i < m->n; i++) {
        if (isfinite(m->values[i])) {
            json_object_set_new(j, m->names[i], json_real(m->values[i]));
        }
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *out = mp_xstrdup(s ? s : "{}");
    free(s);
    return out;
}

int mp_store_confirm_add(struct mp_store *st, int64_t exp_id, int64_t number, int64_t run,
                         const struct mp_trial_result *res, struct mp_error *err)
{
    return mp_store_confirm_add_ev(st, exp_id, number, run, res, NULL, 0, err);
}

int mp_store_confirm_add_ev(struct mp_store *st, int64_t exp_id, int64_t number, int64_t run,
                            const struct mp_trial_result *res, const struct mp_store_event *events,
                            size_t n, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    char *metrics = metrics_text(&res->metrics);
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, exp_id, err);
    }
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "INSERT INTO confirm_runs(experiment_id, trial_number, "
                                          "run, state, failure, reason, settled, metrics_json, "
                                          "at_ns) VALUES (?,?,?,?,?,?,?,?,?)",
                                          &stmt, err)) == 0) {
        sqlite3_bind_int64(stmt, 1, exp_id);
        sqlite3_bind_int64(stmt, 2, number);
        sqlite3_bind_int64(stmt, 3, run);
        sqlite3_bind_text(stmt, 4, mp_trial_state_name(res->state), -1, SQLITE_STATIC);
        if (res->failure != MP_FAILURE_NONE) {
            sqlite3_bind_text(stmt, 5, mp_failure_name(res->failure), -1, SQLITE_STATIC);
        }
        sqlite3_bind_text(stmt, 6, res->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 7, res->unsettled ? 0 : 1);
        sqlite3_bind_text(stmt, 8, metrics, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 9, mp_wall_ns());
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_PRIMARYKEY
                     ? mp_error_set(err, MP_EEXISTS,
                                    "confirmation run %lld of trial %lld is already recorded",
                                    (long long)run, (long long)number)
                     : mp_store_fail(st, err, "record confirmation run");
        }
    }
    sqlite3_finalize(stmt);
    free(metrics);
    if (rc == 0) {
        rc = mp_store_insert_events(st, exp_id, number, events, n, err);
    }
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

static void read_metrics(const char *text, struct mp_metrics *m)
{
    json_t *j = text ? json_loads(text, 0, NULL) : NULL;
    const char *key;
    json_t *v;
    json_object_foreach (j, key, v) {
        if (json_is_number(v)) {
            mp_metrics_set(m, key, json_number_value(v));
        }
    }
    json_decref(j);
}

static void read_row(sqlite3_stmt *stmt, struct mp_confirm_row *r)
{
    memset(r, 0, sizeof(*r));
    r->trial_number = sqlite3_column_int64(stmt, 0);
    r->run = sqlite3_column_int64(stmt, 1);
    const char *s = (const char *)sqlite3_column_text(stmt, 2);
    int state = s ? mp_trial_state_parse(s) : -1;
    r->state = state < 0 ? MP_TRIAL_FAILED : (enum mp_trial_state)state;
    const char *f = (const char *)sqlite3_column_text(stmt, 3);
    int fc = f ? mp_failure_parse(f) : 0;
    r->failure = fc < 0 ? MP_FAILURE_INFRA : (enum mp_failure)fc;
    r->reason = mp_store_col_text(stmt, 4);
    r->settled = sqlite3_column_int(stmt, 5) != 0;
    read_metrics((const char *)sqlite3_column_text(stmt, 6), &r->metrics);
    r->at_ns = sqlite3_column_int64(stmt, 7);
}

int mp_store_confirm_list(struct mp_store *st, int64_t exp_id, struct mp_confirm_row **rows,
                          size_t *n, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *rows = NULL;
    *n = 0;
    int rc = mp_store_prepare(st,
                              "SELECT trial_number, run, state, failure, reason, settled, "
                              "metrics_json, at_ns FROM confirm_runs WHERE experiment_id = ? "
                              "ORDER BY trial_number, run",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        *rows = mp_xreallocarray(*rows, *n + 1, sizeof(**rows));
        read_row(stmt, &(*rows)[(*n)++]);
    }
    rc = mp_store_step_done(st, step, err, "list confirmation runs");
    sqlite3_finalize(stmt);
    if (rc != 0) {
        mp_confirm_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}
