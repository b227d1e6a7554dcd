/* SPDX-License-Identifier: Apache-2.0 */
/* The runs that `run --restart` replaced, kept until the runner swept what they left
 * (docs/internals/store.md, "Replaced runs"). */
#include "store/store_int.h"

#include <stdlib.h>

void mp_replaced_runs_free(struct mp_replaced_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(runs[i].run_id);
        free(runs[i].spec_json);
    }
    free(runs);
}

static int keep_replaced(struct mp_store *st, const char *name, const char *run_id,
                         const char *spec_json, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "INSERT OR REPLACE INTO replaced_runs(experiment, run_id, spec_json, "
                              "at_ns) VALUES (?,?,?,?)",
                              &stmt, err);
    if (rc == 0) {
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, run_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, spec_json ? spec_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, mp_wall_ns());
        rc = mp_store_step_done(st, sqlite3_step(stmt), err, "keep the replaced run");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_experiment_replace(struct mp_store *st, int64_t old_id, const char *replaced_run_id,
                                const char *replaced_spec, const char *name, const char *spec_json,
                                const char *base_dir, uint64_t seed, int64_t *id,
                                struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0 &&
        (rc = mp_store_prepare(st, "DELETE FROM experiments WHERE id = ?", &stmt, err)) == 0) {
        sqlite3_bind_int64(stmt, 1, old_id);
        rc = mp_store_step_done(st, sqlite3_step(stmt), err, "delete experiment");
        if (rc == 0 && sqlite3_changes(st->db) != 1) {
            rc = mp_error_set(err, MP_ENOTFOUND, "%s: delete experiment: no such experiment",
                              st->path);
        }
    }
    sqlite3_finalize(stmt);
    if (rc == 0 && replaced_run_id) {
        rc = keep_replaced(st, name, replaced_run_id, replaced_spec, err);
    }
    if (rc == 0) {
        rc = mp_store_insert_experiment(st, name, spec_json, base_dir, seed, id, err);
    }
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

int mp_store_replaced_list(struct mp_store *st, const char *name, struct mp_replaced_run **runs,
                           size_t *n, struct mp_error *err)
{
    *runs = NULL;
    *n = 0;
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "SELECT run_id, spec_json FROM replaced_runs WHERE experiment = ? "
                              "ORDER BY at_ns, run_id",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            *runs = mp_xrealloc(*runs, cap * sizeof(**runs));
        }
        (*runs)[*n].run_id = mp_store_col_text(stmt, 0);
        (*runs)[*n].spec_json = mp_store_col_text(stmt, 1);
        (*n)++;
    }
    rc = mp_store_step_done(st, step, err, "list replaced runs");
    sqlite3_finalize(stmt);
    if (rc != 0) {
        mp_replaced_runs_free(*runs, *n);
        *runs = NULL;
        *n = 0;
    }
    return rc;
}

int mp_store_replaced_drop(struct mp_store *st, const char *name, const char *run_id,
                           struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "DELETE FROM replaced_runs WHERE experiment = ? AND "
                                          "run_id = ?",
                                          &stmt, err)) == 0) {
        sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, run_id, -1, SQLITE_STATIC);
        rc = mp_store_step_done(st, sqlite3_step(stmt), err, "drop the replaced run");
    }
    sqlite3_finalize(stmt);
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}
