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
};

/* Error from the connection's last failure, prefixed with what we were doing. */
int mp_store_fail(struct mp_store *st, struct mp_error *err, const char *what);
int mp_store_begin(struct mp_store *st, struct mp_error *err);
int mp_store_commit(struct mp_store *st, struct mp_error *err);
void mp_store_rollback(struct mp_store *st);
int mp_store_prepare(struct mp_store *st, const char *sql, sqlite3_stmt **stmt,
                     struct mp_error *err);
/* Owned copy of a text column (NULL stays NULL). */
char *mp_store_col_text(sqlite3_stmt *stmt, int col);

#endif
