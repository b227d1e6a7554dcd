/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/store only. */
#ifndef MP_STORE_INT_H
#define MP_STORE_INT_H

#include <sqlite3.h>

#include "store/store.h"

extern const char *const mp_store_migrations[];
extern const int mp_store_n_migrations;

struct mp_store {
    sqlite3 *db;
    char *path;
    /* Set by the first corruption or I/O error: from then on every write is refused with it,
     * so nothing is ever written over a store that failed to read. */
    struct mp_error damaged;
    /* The experiment this handle claimed (mp_store_experiment_claim) and for which process; 0:
     * none. Its trials are written only while that process still owns it (mp_store_owned). */
    int64_t claimed_exp, claimed_pid;
    /* How long a statement waits for another connection's lock (the busy timeout), for errors. */
    int busy_ms;
};

/* Error from the connection's last failure, prefixed with what we were doing. A corruption or
 * I/O error also marks the handle damaged. */
int mp_store_fail(struct mp_store *st, struct mp_error *err, const char *what);
/* After a loop of sqlite3_step: 0 when the last result was SQLITE_DONE, else the error. */
int mp_store_step_done(struct mp_store *st, int step, struct mp_error *err, const char *what);
int mp_store_begin(struct mp_store *st, struct mp_error *err);
int mp_store_commit(struct mp_store *st, struct mp_error *err);
void mp_store_rollback(struct mp_store *st);
int mp_store_prepare(struct mp_store *st, const char *sql, sqlite3_stmt **stmt,
                     struct mp_error *err);
/* Inside a write transaction on experiment exp_id: 0 unless this handle claimed exp_id and
 * another process owns it now, or it is gone (deleted, or replaced by run --restart under the
 * same id); then MP_ESTATE, so that a run stopped past its claim writes nothing over the run
 * that took the experiment over. */
int mp_store_owned(struct mp_store *st, int64_t exp_id, struct mp_error *err);
/* Inside a write transaction: appends events[0..n) of trial trial_number (0: the experiment). */
int mp_store_insert_events(struct mp_store *st, int64_t exp_id, int64_t trial_number,
                           const struct mp_store_event *events, size_t n, struct mp_error *err);
/* Inside a write transaction: inserts a new experiment (state CREATED) under the next id never
 * used (mp_store_experiment_create). MP_EEXISTS when the name is taken. */
int mp_store_insert_experiment(struct mp_store *st, const char *name, const char *spec_json,
                               const char *base_dir, uint64_t seed, int64_t *id,
                               struct mp_error *err);
/* Owned copy of a text column (NULL stays NULL). */
char *mp_store_col_text(sqlite3_stmt *stmt, int col);

#endif
