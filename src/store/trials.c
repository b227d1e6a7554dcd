/* SPDX-License-Identifier: Apache-2.0 */
/* Trial rows, their metrics, logs and metadata, and the event log. */
#include "store/store_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void mp_trial_row_release(struct mp_trial_row *row)
{
    free(row->params_json);
    free(row->config_key);
    free(row->reason);
    free(row->meta_json);
    mp_metrics_release(&row->metrics);
    mp_metrics_release(&row->resources);
    memset(row, 0, sizeof(*row));
}

void mp_trial_rows_free(struct mp_trial_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mp_trial_row_release(&rows[i]);
    }
    free(rows);
}

static int finish_txn(struct mp_store *st, int rc, struct mp_error *err)
{
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

int mp_store_trial_create(struct mp_store *st, int64_t exp_id, int64_t number,
                          const char *params_json, const char *config_key, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, exp_id, err);
    }
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "INSERT INTO trials(experiment_id, number, params_json, "
                                          "config_key, state, created_at_ns) "
                                          "VALUES (?,?,?,?,'PENDING',?)",
                                          &stmt, err)) == 0) {
        sqlite3_bind_int64(stmt, 1, exp_id);
        sqlite3_bind_int64(stmt, 2, number);
        sqlite3_bind_text(stmt, 3, params_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, config_key, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 5, mp_wall_ns());
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc =
                sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE
                    ? mp_error_set(err, MP_EEXISTS, "trial %lld or configuration %s already exists",
                                   (long long)number, config_key)
                    : mp_store_fail(st, err, "create trial");
        }
    }
    sqlite3_finalize(stmt);
    return finish_txn(st, rc, err);
}

/* A damaged or unknown state reads as FAILED, which nothing can move on from. */
static enum mp_trial_state state_column(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    int s = text ? mp_trial_state_parse(text) : -1;
    return s < 0 ? MP_TRIAL_FAILED : (enum mp_trial_state)s;
}

/* Reads the state and id of a trial inside the current transaction. */
static int trial_state(struct mp_store *st, int64_t exp_id, int64_t number, int64_t *trial_id,
                       enum mp_trial_state *state, int64_t *attempt, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "SELECT id, state, attempt FROM trials WHERE experiment_id = ? AND "
                              "number = ?",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    sqlite3_bind_int64(stmt, 2, number);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        *trial_id = sqlite3_column_int64(stmt, 0);
        *state = state_column(stmt, 1);
        *attempt = sqlite3_column_int64(stmt, 2);
    } else if (step == SQLITE_DONE) {
        rc = mp_error_set(err, MP_ENOTFOUND, "no trial %lld in experiment %lld", (long long)number,
                          (long long)exp_id);
    } else {
        rc = mp_store_fail(st, err, "read trial");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_trial_start(struct mp_store *st, int64_t exp_id, int64_t number, int64_t *attempt,
                         struct mp_error *err)
{
    return mp_store_trial_start_ev(st, exp_id, number, attempt, NULL, 0, err);
}

int mp_store_trial_start_ev(struct mp_store *st, int64_t exp_id, int64_t number, int64_t *attempt,
                            const struct mp_store_event *events, size_t n, struct mp_error *err)
{
    int64_t id = 0, att = 0;
    enum mp_trial_state state = MP_TRIAL_PENDING;
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, exp_id, err);
    }
    if (rc == 0) {
        rc = trial_state(st, exp_id, number, &id, &state, &att, err);
    }
    if (rc == 0 && state != MP_TRIAL_PENDING && state != MP_TRIAL_RUNNING) {
        rc = mp_error_set(err, MP_ESTATE, "trial %lld is %s and cannot start", (long long)number,
                          mp_trial_state_name(state));
    }
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "UPDATE trials SET state = 'RUNNING', attempt = ?, "
                                          "started_at_ns = ? WHERE id = ?",
                                          &stmt, err)) == 0) {
        att += state == MP_TRIAL_RUNNING ? 1 : 0;
        sqlite3_bind_int64(stmt, 1, att);
        sqlite3_bind_int64(stmt, 2, mp_wall_ns());
        sqlite3_bind_int64(stmt, 3, id);
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, "start trial");
        }
        *attempt = att;
    }
    sqlite3_finalize(stmt);
    if (rc == 0) {
        rc = mp_store_insert_events(st, exp_id, number, events, n, err);
    }
    return finish_txn(st, rc, err);
}

static int insert_metrics(struct mp_store *st, int64_t trial_id, const char *kind,
                          const struct mp_metrics *m, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "INSERT OR REPLACE INTO trial_metrics(trial_id, kind, name, value) "
                              "VALUES (?,?,?,?)",
                              &stmt, err);
    for (size_t i = 0; rc == 0 && i < m->n; i++) {
        if (isnan(m->values[i])) {
            /* Nothing measured, as for a confirmation run. SQLite binds NaN as NULL, which the
             * NOT NULL column refused: the whole trial was lost, and again on every resume. */
            continue;
        }
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, trial_id);
        sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, m->names[i], -1, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 4, m->values[i]);
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, "store metric");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int insert_text(struct mp_store *st, const char *sql, int64_t trial_id, const char *a,
                       const char *b, struct mp_error *err)
{
    if (!b) {
        return 0;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st, sql, &stmt, err);
    if (rc == 0) {
        sqlite3_bind_int64(stmt, 1, trial_id);
        sqlite3_bind_text(stmt, 2, a, -1, SQLITE_STATIC);
        if (sqlite3_bind_parameter_count(stmt) >= 3) {
            sqlite3_bind_text(stmt, 3, b, -1, SQLITE_STATIC);
        }
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, "store trial detail");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int update_terminal(struct mp_store *st, int64_t trial_id, const struct mp_trial_result *res,
                           struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "UPDATE trials SET state = ?, failure = ?, reason = ?, "
                              "finished_at_ns = ?, settled = ? WHERE id = ?",
                              &stmt, err);
    if (rc == 0) {
        sqlite3_bind_text(stmt, 1, mp_trial_state_name(res->state), -1, SQLITE_STATIC);
        if (res->failure != MP_FAILURE_NONE) {
            sqlite3_bind_text(stmt, 2, mp_failure_name(res->failure), -1, SQLITE_STATIC);
        }
        sqlite3_bind_text(stmt, 3, res->reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 4, mp_wall_ns());
        sqlite3_bind_int(stmt, 5, res->unsettled ? 0 : 1);
        sqlite3_bind_int64(stmt, 6, trial_id);
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, "finish trial");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_trial_finish(struct mp_store *st, int64_t exp_id, int64_t number,
                          const struct mp_trial_result *res, struct mp_error *err)
{
    return mp_store_trial_finish_ev(st, exp_id, number, res, NULL, 0, err);
}

int mp_store_trial_finish_ev(struct mp_store *st, int64_t exp_id, int64_t number,
                             const struct mp_trial_result *res, const struct mp_store_event *events,
                             size_t n, struct mp_error *err)
{
    int64_t id = 0, att = 0;
    enum mp_trial_state state = MP_TRIAL_PENDING;
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, exp_id, err);
    }
    if (rc == 0) {
        rc = trial_state(st, exp_id, number, &id, &state, &att, err);
    }
    if (rc == 0 && !mp_trial_transition_allowed(state, res->state)) {
        rc = mp_error_set(err, MP_ESTATE, "trial %lld: %s -> %s is not allowed", (long long)number,
                          mp_trial_state_name(state), mp_trial_state_name(res->state));
    }
    if (rc == 0) {
        rc = update_terminal(st, id, res, err);
    }
    if (rc == 0) {
        rc = insert_metrics(st, id, "metric", &res->metrics, err);
    }
    if (rc == 0) {
        rc = insert_metrics(st, id, "resource", &res->resources, err);
    }
    static const char log_sql[] =
        "INSERT OR REPLACE INTO trial_logs(trial_id, stream, content) VALUES (?,?,?)";
    if (rc == 0) {
        rc = insert_text(st, log_sql, id, "stdout", res->stdout_log, err);
    }
    if (rc == 0) {
        rc = insert_text(st, log_sql, id, "stderr", res->stderr_log, err);
    }
    if (rc == 0) {
        rc = insert_text(st, "INSERT OR REPLACE INTO trial_meta(trial_id, meta_json) VALUES (?,?)",
                         id, res->meta_json, res->meta_json, err);
    }
    if (rc == 0) {
        rc = mp_store_insert_events(st, exp_id, number, events, n, err);
    }
    return finish_txn(st, rc, err);
}

static int load_metrics(struct mp_store *st, struct mp_trial_row *rows, size_t n, int64_t exp_id,
                        struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "SELECT t.number, m.kind, m.name, m.value FROM trial_metrics m "
                              "JOIN trials t ON t.id = m.trial_id WHERE t.experiment_id = ? "
                              "ORDER BY t.number, m.rowid",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    size_t at = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t number = sqlite3_column_int64(stmt, 0);
        while (at < n && rows[at].number < number) {
            at++;
        }
        const char *kind = (const char *)sqlite3_column_text(stmt, 1);
        const char *name = (const char *)sqlite3_column_text(stmt, 2);
        if (at == n || !kind || !name) {
            continue; /* read on, so an error later in the table is still seen */
        }
        struct mp_metrics *m =
            strcmp(kind, "metric") == 0 ? &rows[at].metrics : &rows[at].resources;
        mp_metrics_set(m, name, sqlite3_column_double(stmt, 3));
    }
    rc = mp_store_step_done(st, step, err, "read trial metrics");
    sqlite3_finalize(stmt);
    return rc;
}

static int trial_list(struct mp_store *st, int64_t exp_id, struct mp_trial_row **rows, size_t *n,
                      struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *rows = NULL;
    *n = 0;
    int rc = mp_store_prepare(
        st,
        "SELECT t.id, t.number, t.attempt, t.params_json, t.config_key, "
        "t.state, t.failure, t.reason, t.created_at_ns, t.started_at_ns, "
        "t.finished_at_ns, m.meta_json, t.settled FROM trials t LEFT JOIN trial_meta m "
        "ON m.trial_id = t.id WHERE t.experiment_id = ? ORDER BY t.number",
        &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        *rows = mp_xreallocarray(*rows, *n + 1, sizeof(**rows));
        struct mp_trial_row *r = &(*rows)[(*n)++];
        memset(r, 0, sizeof(*r));
        r->id = sqlite3_column_int64(stmt, 0);
        r->experiment_id = exp_id;
        r->number = sqlite3_column_int64(stmt, 1);
        r->attempt = sqlite3_column_int64(stmt, 2);
        r->params_json = mp_store_col_text(stmt, 3);
        r->config_key = mp_store_col_text(stmt, 4);
        r->state = state_column(stmt, 5);
        const char *f = (const char *)sqlite3_column_text(stmt, 6);
        int fc = f ? mp_failure_parse(f) : 0;
        r->failure = fc < 0 ? MP_FAILURE_INFRA : (enum mp_failure)fc;
        r->reason = mp_store_col_text(stmt, 7);
        r->created_at_ns = sqlite3_column_int64(stmt, 8);
        r->started_at_ns = sqlite3_column_int64(stmt, 9);
        r->finished_at_ns = sqlite3_column_int64(stmt, 10);
        r->meta_json = mp_store_col_text(stmt, 11);
        r->settled = sqlite3_column_int(stmt, 12) != 0;
    }
    rc = mp_store_step_done(st, step, err, "list trials");
    sqlite3_finalize(stmt);
    if (rc == 0) {
        rc = load_metrics(st, *rows, *n, exp_id, err);
    }
    if (rc != 0) {
        mp_trial_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

/* The trials and their metrics from one snapshot: read apart, a trial stored in between came
 * PENDING or RUNNING with the metrics of its result. */
int mp_store_trial_list(struct mp_store *st, int64_t exp_id, struct mp_trial_row **rows, size_t *n,
                        struct mp_error *err)
{
    bool began = mp_store_snapshot_begin(st);
    int rc = trial_list(st, exp_id, rows, n, err);
    mp_store_snapshot_end(st, began);
    return rc;
}

int mp_store_trial_log(struct mp_store *st, int64_t exp_id, int64_t number, const char *stream,
                       char **out, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "SELECT l.content FROM trial_logs l JOIN trials t ON t.id = "
                              "l.trial_id WHERE t.experiment_id = ? AND t.number = ? AND "
                              "l.stream = ?",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    sqlite3_bind_int64(stmt, 2, number);
    sqlite3_bind_text(stmt, 3, stream, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    *out = step == SQLITE_ROW ? mp_store_col_text(stmt, 0) : NULL;
    if (step != SQLITE_ROW) {
        rc = mp_store_step_done(st, step, err, "read trial log");
    }
    if (!*out) {
        *out = mp_xstrdup("");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_insert_events(struct mp_store *st, int64_t exp_id, int64_t trial_number,
                           const struct mp_store_event *events, size_t n, struct mp_error *err)
{
    if (n == 0) {
        return 0;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "INSERT INTO events(experiment_id, trial_number, at_ns, kind, "
                              "detail_json) VALUES (?,?,?,?,?)",
                              &stmt, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sqlite3_reset(stmt);
        sqlite3_bind_int64(stmt, 1, exp_id);
        sqlite3_bind_int64(stmt, 2, trial_number);
        sqlite3_bind_int64(stmt, 3, mp_wall_ns());
        sqlite3_bind_text(stmt, 4, events[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 5, events[i].detail_json ? events[i].detail_json : "{}", -1,
                          SQLITE_STATIC);
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, "add event");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_event_add(struct mp_store *st, int64_t exp_id, int64_t trial_number, const char *kind,
                       const char *detail_json, struct mp_error *err)
{
    const struct mp_store_event ev = {.kind = kind, .detail_json = detail_json};
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, exp_id, err);
    }
    if (rc == 0) {
        rc = mp_store_insert_events(st, exp_id, trial_number, &ev, 1, err);
    }
    return finish_txn(st, rc, err);
}

int mp_store_event_list(struct mp_store *st, int64_t exp_id, int64_t after_id, size_t limit,
                        struct mp_event_row **rows, size_t *n, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *rows = NULL;
    *n = 0;
    int rc = mp_store_prepare(st,
                              "SELECT id, experiment_id, trial_number, at_ns, kind, detail_json "
                              "FROM events WHERE id > ?1 AND (?2 = 0 OR experiment_id = ?2) "
                              "ORDER BY id LIMIT ?3",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, after_id);
    sqlite3_bind_int64(stmt, 2, exp_id);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)limit);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        *rows = mp_xreallocarray(*rows, *n + 1, sizeof(**rows));
        struct mp_event_row *e = &(*rows)[(*n)++];
        e->id = sqlite3_column_int64(stmt, 0);
        e->experiment_id = sqlite3_column_int64(stmt, 1);
        e->trial_number = sqlite3_column_int64(stmt, 2);
        e->at_ns = sqlite3_column_int64(stmt, 3);
        e->kind = mp_store_col_text(stmt, 4);
        e->detail_json = mp_store_col_text(stmt, 5);
    }
    rc = mp_store_step_done(st, step, err, "list events");
    sqlite3_finalize(stmt);
    if (rc != 0) {
        mp_event_rows_free(*rows, *n);
        *rows = NULL;
        *n = 0;
    }
    return rc;
}

int mp_store_event_newest(struct mp_store *st, int64_t exp_id, int64_t *id, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    *id = 0;
    /* Two statements, so that each is one lookup: the primary key's end, or the end of the
     * experiment's range in events_by_experiment. */
    int rc = mp_store_prepare(st,
                              exp_id == 0 ? "SELECT max(id) FROM events"
                                          : "SELECT max(id) FROM events WHERE experiment_id = ?1",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    if (exp_id != 0) {
        sqlite3_bind_int64(stmt, 1, exp_id);
    }
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(stmt, 0); /* NULL (no event) reads 0 */
        step = sqlite3_step(stmt);
    }
    rc = mp_store_step_done(st, step, err, "find the newest event");
    sqlite3_finalize(stmt);
    return rc;
}

void mp_event_rows_free(struct mp_event_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(rows[i].kind);
        free(rows[i].detail_json);
    }
    free(rows);
}
