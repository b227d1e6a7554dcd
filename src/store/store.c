/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the store, migrations, transactions and experiment rows. */
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const experiment_states[] = {"CREATED",   "RUNNING", "INTERRUPTED",
                                                "SUCCEEDED", "FAILED",  "CANCELLED"};

const char *mp_experiment_state_name(enum mp_experiment_state s)
{
    return (size_t)s < MP_ARRAY_LEN(experiment_states) ? experiment_states[s] : "UNKNOWN";
}

int mp_experiment_state_parse(const char *name)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(experiment_states); i++) {
        if (strcmp(experiment_states[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static bool damage(int code)
{
    int primary = code & 0xff;
    return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB || primary == SQLITE_IOERR ||
           primary == SQLITE_FORMAT;
}

int mp_store_fail(struct mp_store *st, struct mp_error *err, const char *what)
{
    int code = sqlite3_extended_errcode(st->db);
    int rc = (code & 0xff) == SQLITE_BUSY ? MP_EBUSY : MP_ESTORE;
    if ((code & 0xff) == SQLITE_NOTADB) {
        what = "not a morphling store"; /* a --db naming some other file: bad input */
        rc = MP_EINVALID;
    }
    if (damage(code) && st->damaged.code == 0) {
        mp_error_set(&st->damaged, MP_ESTORE,
                     "%s: %s: %s (the store is damaged: nothing more "
                     "is written to it)",
                     st->path, what, sqlite3_errmsg(st->db));
    }
    /* What a full disk cost, and what to do (it said only "database or disk is full"); what a
     * store this user may not write needs (it said "attempt to write a readonly database" of a
     * file it could write, in a folder it could not); who holds a lock past the busy timeout (it
     * said only "database is locked": a run stopped so, its trial in flight lost, with no word
     * of another process or of running again). */
    char busy[256];
    snprintf(busy, sizeof(busy),
             " (another process held the store's lock for over %.3g s, e.g. an sqlite3 shell "
             "in a transaction: this change was not written; what was written before it stays, "
             "and a run continues when run again)",
             (double)st->busy_ms / 1000);
    const char *hint = (code & 0xff) == SQLITE_FULL
                           ? " (free space on its disk: this change was not written; what was "
                             "written before it stays, and a run continues when run again)"
                       : (code & 0xff) == SQLITE_READONLY
                           ? " (this user may not write the store file or its folder, where SQLite "
                             "keeps its -wal and -shm files)"
                       : code == SQLITE_BUSY ? busy
                                             : "";
    return mp_error_set(err, rc, "%s: %s: %s%s", st->path, what, sqlite3_errmsg(st->db), hint);
}

int mp_store_step_done(struct mp_store *st, int step, struct mp_error *err, const char *what)
{
    return step == SQLITE_DONE ? 0 : mp_store_fail(st, err, what);
}

int mp_store_prepare(struct mp_store *st, const char *sql, sqlite3_stmt **stmt,
                     struct mp_error *err)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        return mp_store_fail(st, err, "prepare");
    }
    return 0;
}

int mp_store_begin(struct mp_store *st, struct mp_error *err)
{
    if (st->damaged.code != 0) {
        return mp_error_set(err, st->damaged.code, "%s", st->damaged.msg);
    }
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        return mp_store_fail(st, err, "begin");
    }
    return 0;
}

int mp_store_commit(struct mp_store *st, struct mp_error *err)
{
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = mp_store_fail(st, err, "commit");
        mp_store_rollback(st);
        return rc;
    }
    return 0;
}

void mp_store_rollback(struct mp_store *st)
{
    if (!sqlite3_get_autocommit(st->db)) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

bool mp_store_snapshot_begin(struct mp_store *st)
{
    return sqlite3_get_autocommit(st->db) &&
           sqlite3_exec(st->db, "BEGIN DEFERRED", NULL, NULL, NULL) == SQLITE_OK;
}

void mp_store_snapshot_end(struct mp_store *st, bool began)
{
    if (began) {
        mp_store_rollback(st); /* nothing was written: ending it releases the snapshot */
    }
}

char *mp_store_col_text(sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    return t ? mp_xstrdup((const char *)t) : NULL;
}

int mp_store_schema_version(struct mp_store *st, int *version, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st, "PRAGMA user_version", &stmt, err);
    if (rc == 0) {
        if (sqlite3_step(stmt) == SQLITE_ROW) {
            *version = sqlite3_column_int(stmt, 0);
        } else {
            rc = mp_store_fail(st, err, "read schema version");
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

static int migrate(struct mp_store *st, int target, struct mp_error *err)
{
    int rc = mp_store_begin(st, err);
    int version = 0;
    if (rc == 0) {
        rc = mp_store_schema_version(st, &version, err);
    }
    if (rc == 0 && version > mp_store_n_migrations) {
        rc = mp_error_set(err, MP_EUNSUPPORTED,
                          "%s: written by a newer morphling (schema %d; this one knows up to %d)",
                          st->path, version, mp_store_n_migrations);
    }
    for (int v = version; rc == 0 && v < target; v++) {
        char pragma[64];
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(st->db, mp_store_migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(st->db, pragma, NULL, NULL, NULL) != SQLITE_OK) {
            rc = mp_store_fail(st, err, "migrate");
            mp_error_prefix(err, rc, "schema %d", v + 1);
        }
    }
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

/* A new store file is created readable by its owner only (SQLite gives its -wal and -shm files
 * the same mode); an existing one is left as it is. The path is followed as SQLite follows it:
 * a link to a file that did not exist yet had SQLite create it with the umask's mode (0644),
 * readable by all. Anything but a regular file is refused by name: SQLite said "unable to open
 * database file" for a folder and "disk I/O error" for a fifo. An existing file is never opened
 * here: closing any descriptor of a file drops every POSIX lock the process holds on it, the
 * locks of this process's other connections to the store included (the heartbeat's handle). */
static int create_private(const char *path, bool existing, struct mp_error *err)
{
    if (strcmp(path, ":memory:") == 0) {
        return 0;
    }
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            return mp_error_set(err, MP_EINVALID, "%s: a %s, not a store file", path,
                                S_ISDIR(sb.st_mode) ? "folder" : "fifo, socket or device");
        }
        /* SQLite takes an empty file for an empty database: a reader wrote a schema into it. */
        return sb.st_size == 0 && existing
                   ? mp_error_set(err, MP_ENOTFOUND,
                                  "there is no store %s (an empty file: nothing has run with it)",
                                  path)
                   : 0;
    }
    if (errno == ENOENT && existing) {
        return mp_error_set(err, MP_ENOTFOUND, "there is no store %s (nothing has run with it)",
                            path);
    }
    if (errno != ENOENT) {
        return mp_error_set(err, -errno, "%s: cannot open the store: %s", path, strerror(errno));
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return mp_error_set(err, -errno, "%s: cannot create the store: %s", path, strerror(errno));
    }
    close(fd);
    return 0;
}

/* The switch to WAL, which a new file needs: while another process switches the same new file,
 * SQLite answers SQLITE_BUSY at once, without the busy handler (the handler would deadlock
 * with a connection upgrading from the shared lock this statement holds), so two processes
 * starting on a new store together (run and serve, two runs) failed "configure: database is
 * locked". The statement ends and drops its lock before each retry. */
static int set_wal(struct mp_store *st, int timeout_ms)
{
    int64_t deadline = mp_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
        if ((rc & 0xff) != SQLITE_BUSY || mp_mono_ns() > deadline) {
            return rc;
        }
        usleep(5000);
    }
}

/* Whether a reader must take the store as it is: this process may write neither the file nor its
 * folder (a copy kept read-only, another user's results), where WAL needs its -shm file. */
static bool unwritable(const char *path)
{
    char *dir = mp_xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    bool ro = (access(path, W_OK) != 0 && (errno == EACCES || errno == EROFS)) ||
              (access(slash ? dir : ".", W_OK) != 0 && (errno == EACCES || errno == EROFS));
    free(dir);
    return ro;
}

/* Whether a -wal file with frames is beside path: what a killed writer left there, which an
 * immutable read does not see. */
static bool wal_left(const char *path)
{
    char *wal = mp_xasprintf("%s-wal", path);
    struct stat sb;
    bool left = stat(wal, &sb) == 0 && sb.st_size > 0;
    free(wal);
    return left;
}

/* The URI that opens path immutable: read as it is, without locks or WAL's shared memory (what
 * a last writer left in a -wal file is not seen). */
static char *immutable_uri(const char *path)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "file:");
    for (const char *p = path; *p; p++) {
        if (strchr("%?#", *p)) {
            mp_buf_addf(&b, "%%%02X", (unsigned char)*p);
        } else {
            mp_buf_addc(&b, *p);
        }
    }
    mp_buf_adds(&b, "?immutable=1");
    return mp_buf_detach(&b);
}

/* A read-only store is read at its schema: one that needs a migration must be opened once by a
 * process that may write it. */
static int check_version(struct mp_store *st, int target, struct mp_error *err)
{
    int version = 0;
    int rc = mp_store_schema_version(st, &version, err);
    if (rc == 0 && version != target) {
        rc = mp_error_set(err, MP_EUNSUPPORTED,
                          "%s: a read-only store of schema %d, this morphling's is %d: %s",
                          st->path, version, target,
                          version > target ? "written by a newer morphling"
                                           : "open it once where it may be written, to upgrade it");
    }
    return rc;
}

/* Whether the file is a morphling store, read before anything is written (WAL is a setting the
 * file keeps): another program's SQLite database (tables, none of them `experiments`) is refused
 * by name, as any other file; list and run wrote morphling's tables into it. A database with no
 * table is no store for a reader (a first run whose schema could not be written: a full disk),
 * as an empty file. A version above this build's is left to migrate's "newer morphling". */
static int check_ours(struct mp_store *st, bool existing, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st,
                              "SELECT (SELECT user_version FROM pragma_user_version), "
                              "(SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                              "ORDER BY name LIMIT 1), "
                              "EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'experiments')",
                              &stmt, err);
    if (rc == 0 && sqlite3_step(stmt) != SQLITE_ROW) {
        rc = mp_store_fail(st, err, "read schema");
    }
    if (rc == 0 && sqlite3_column_int(stmt, 0) <= mp_store_n_migrations) {
        const unsigned char *table = sqlite3_column_text(stmt, 1);
        if (table && !sqlite3_column_int(stmt, 2)) {
            rc = mp_error_set(err, MP_EINVALID,
                              "%s: not a morphling store (it holds another program's table '%s')",
                              st->path, (const char *)table);
        } else if (!table && existing) {
            rc = mp_error_set(err, MP_ENOTFOUND,
                              "there is no store %s (a database with no table: nothing has run "
                              "with it)",
                              st->path);
        }
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* No page cache allocated in bulk at a connection's first read (20 pages, about 90 KiB): the
 * operator holds two connections per running experiment, and pages come one by one as needed.
 * A process that initialised SQLite before keeps its setting (SQLITE_MISUSE, ignored). */
static void sqlite_setup(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

int mp_store_open(const char *path, const struct mp_store_opts *opts, struct mp_store **out,
                  struct mp_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    struct mp_store *st = mp_xcalloc(1, sizeof(*st));
    st->path = mp_xstrdup(path);
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = create_private(path, opts && opts->existing, err);
    if (rc != 0) {
        goto out;
    }
    int target = opts && opts->max_version > 0 ? opts->max_version : mp_store_n_migrations;
    if (opts && opts->existing && strcmp(path, ":memory:") != 0 && unwritable(path)) {
        char *uri = immutable_uri(path);
        int orc = sqlite3_open_v2(
            uri, &st->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
        free(uri);
        if (orc != SQLITE_OK) {
            rc = st->db ? mp_store_fail(st, err, "open read-only")
                        : mp_error_set(err, -ENOMEM, "%s: cannot open", path);
            goto out;
        }
        sqlite3_extended_result_codes(st->db, 1);
        rc = check_ours(st, true, err);
        if (rc == MP_ENOTFOUND && wal_left(path)) {
            rc = mp_error_set(err, MP_EUNSUPPORTED,
                              "%s: its results are still in its -wal file (a run stopped before "
                              "it moved them into the store), which only a process that may "
                              "write the store can read: open it once there (e.g. its owner's "
                              "`morphling list`)",
                              path);
        }
        rc = rc ? rc : check_version(st, target, err);
        goto out;
    }
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        rc = st->db ? mp_store_fail(st, err, "open")
                    : mp_error_set(err, -ENOMEM, "%s: cannot open", path);
        goto out;
    }
    int timeout_ms = opts && opts->busy_timeout_ms ? opts->busy_timeout_ms : 10000;
    st->busy_ms = timeout_ms;
    sqlite3_busy_timeout(st->db, timeout_ms);
    sqlite3_extended_result_codes(st->db, 1);
    rc = strcmp(path, ":memory:") != 0 ? check_ours(st, opts && opts->existing, err) : 0;
    if (rc != 0) {
        goto out;
    }
    if (set_wal(st, timeout_ms) != SQLITE_OK ||
        sqlite3_exec(st->db, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", NULL, NULL,
                     NULL) != SQLITE_OK) {
        rc = mp_store_fail(st, err, "configure");
        goto out;
    }
    /* A store already at its schema is only read here: taking the write lock (migrate's BEGIN
     * IMMEDIATE) at every open made each API request and reader wait for the writers. */
    int version = -1;
    rc = mp_store_schema_version(st, &version, err);
    if (rc == 0 && version != target) {
        rc = migrate(st, target, err);
    }
out:
    if (rc != 0) {
        mp_store_close(st);
        return rc;
    }
    *out = st;
    return 0;
}

const char *mp_store_path(const struct mp_store *st)
{
    return st->path;
}

void mp_store_close(struct mp_store *st)
{
    if (!st) {
        return;
    }
    sqlite3_close(st->db);
    free(st->path);
    free(st);
}

void mp_experiment_row_release(struct mp_experiment_row *row)
{
    free(row->name);
    free(row->spec_json);
    free(row->base_dir);
    free(row->spec_hash);
    free(row->stop_reason);
    free(row->owner_pidns);
    memset(row, 0, sizeof(*row));
}

void mp_experiment_rows_free(struct mp_experiment_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mp_experiment_row_release(&rows[i]);
    }
    free(rows);
}

int mp_store_insert_experiment(struct mp_store *st, const char *name, const char *spec_json,
                               const char *base_dir, uint64_t seed, int64_t *id,
                               struct mp_error *err)
{
    char hash[32];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)mp_hash_str(spec_json));
    int64_t now = mp_wall_ns();
    sqlite3_stmt *stmt = NULL;
    int rc = 0;
    if ((rc = mp_store_prepare(st,
                               "INSERT INTO experiments(id, name, spec_json, "
                               "base_dir, spec_hash, state, seed, created_at_ns, "
                               "updated_at_ns) VALUES ((SELECT max(last, "
                               "coalesce((SELECT max(id) FROM experiments), 0)) + 1 "
                               "FROM experiment_ids),?,?,?,?,'CREATED',?,?,?)",
                               &stmt, err)) != 0) {
        goto out;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, spec_json, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, base_dir, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)seed);
    sqlite3_bind_int64(stmt, 6, now);
    sqlite3_bind_int64(stmt, 7, now);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_UNIQUE)
                 ? mp_error_set(err, MP_EEXISTS, "experiment '%s' already exists", name)
                 : mp_store_fail(st, err, "create experiment");
        goto out;
    }
    *id = sqlite3_last_insert_rowid(st->db);
out:
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_experiment_create(struct mp_store *st, const char *name, const char *spec_json,
                               const char *base_dir, uint64_t seed, int64_t *id,
                               struct mp_error *err)
{
    int rc = mp_store_begin(st, err);
    if (rc == 0 &&
        (rc = mp_store_insert_experiment(st, name, spec_json, base_dir, seed, id, err)) == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

#define EXPERIMENT_COLUMNS                                                                         \
    "id, name, spec_json, base_dir, spec_hash, state, stop_reason, seed, created_at_ns, "          \
    "updated_at_ns, finished_at_ns, owner_pid, heartbeat_at_ns, owner_pidns"

static void read_experiment(sqlite3_stmt *stmt, struct mp_experiment_row *row)
{
    memset(row, 0, sizeof(*row));
    row->id = sqlite3_column_int64(stmt, 0);
    row->name = mp_store_col_text(stmt, 1);
    row->spec_json = mp_store_col_text(stmt, 2);
    row->base_dir = mp_store_col_text(stmt, 3);
    row->spec_hash = mp_store_col_text(stmt, 4);
    const char *state = (const char *)sqlite3_column_text(stmt, 5);
    int s = state ? mp_experiment_state_parse(state) : -1;
    row->state = s < 0 ? MP_EXPERIMENT_FAILED : (enum mp_experiment_state)s;
    row->stop_reason = mp_store_col_text(stmt, 6);
    row->seed = (uint64_t)sqlite3_column_int64(stmt, 7);
    row->created_at_ns = sqlite3_column_int64(stmt, 8);
    row->updated_at_ns = sqlite3_column_int64(stmt, 9);
    row->finished_at_ns = sqlite3_column_int64(stmt, 10);
    row->owner_pid = sqlite3_column_int64(stmt, 11);
    row->heartbeat_at_ns = sqlite3_column_int64(stmt, 12);
    row->owner_pidns = mp_store_col_text(stmt, 13);
}

int mp_store_experiment_find(struct mp_store *st, const char *ref, struct mp_experiment_row *row,
                             struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int64_t id = 0;
    bool by_id = mp_parse_int64(ref, &id) == 0;
    int rc =
        mp_store_prepare(st,
                         by_id ? "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE id = ?"
                               : "SELECT " EXPERIMENT_COLUMNS " FROM experiments WHERE name = ?",
                         &stmt, err);
    if (rc != 0) {
        return rc;
    }
    if (by_id) {
        sqlite3_bind_int64(stmt, 1, id);
    } else {
        sqlite3_bind_text(stmt, 1, ref, -1, SQLITE_STATIC);
    }
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        read_experiment(stmt, row);
    } else if (step == SQLITE_DONE) {
        rc = mp_error_set(err, MP_ENOTFOUND, "no experiment '%s' in %s", ref, st->path);
    } else {
        rc = mp_store_fail(st, err, "find experiment");
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_experiment_list(struct mp_store *st, struct mp_experiment_row **rows, size_t *n,
                             struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st, "SELECT " EXPERIMENT_COLUMNS " FROM experiments ORDER BY id",
                              &stmt, err);
    *rows = NULL;
    *n = 0;
    if (rc != 0) {
        return rc;
    }
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        *rows = mp_xreallocarray(*rows, *n + 1, sizeof(**rows));
        read_experiment(stmt, &(*rows)[(*n)++]);
    }
    rc = mp_store_step_done(st, step, err, "list experiments");
    sqlite3_finalize(stmt);
    return rc;
}

/* Runs a one-statement write inside BEGIN IMMEDIATE; binds text (if non-NULL) to ?1 and the
 * integers to ?2, ?3, ?4; checks that exactly one row changed. */
static int exec_one(struct mp_store *st, const char *sql, const char *text, int64_t a, int64_t b,
                    int64_t c, const char *what, struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0 && (rc = mp_store_prepare(st, sql, &stmt, err)) == 0) {
        int np = sqlite3_bind_parameter_count(stmt);
        if (np >= 1) {
            sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
        }
        const int64_t ints[] = {a, b, c};
        for (int i = 2; i <= np && i <= 4; i++) {
            sqlite3_bind_int64(stmt, i, ints[i - 2]);
        }
        if (sqlite3_step(stmt) != SQLITE_DONE) {
            rc = mp_store_fail(st, err, what);
        } else if (sqlite3_changes(st->db) != 1) {
            rc = mp_error_set(err, MP_ENOTFOUND, "%s: %s: no such experiment", st->path, what);
        }
    }
    sqlite3_finalize(stmt);
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

/* Steps stmt, a one-row UPDATE of experiment id prepared after mp_store_begin (rc: how that
 * went), appends the experiment-level events[0..n), then commits, or rolls back on any failure;
 * MP_ENOTFOUND when no row changed. */
static int update_experiment(struct mp_store *st, sqlite3_stmt *stmt, int rc, int64_t id,
                             const struct mp_store_event *events, size_t n, const char *what,
                             struct mp_error *err)
{
    if (rc == 0 && sqlite3_step(stmt) != SQLITE_DONE) {
        rc = mp_store_fail(st, err, what);
    } else if (rc == 0 && sqlite3_changes(st->db) != 1) {
        rc = mp_error_set(err, MP_ENOTFOUND, "no experiment with id %lld", (long long)id);
    }
    sqlite3_finalize(stmt);
    if (rc == 0) {
        rc = mp_store_insert_events(st, id, 0, events, n, err);
    }
    if (rc == 0) {
        return mp_store_commit(st, err);
    }
    mp_store_rollback(st);
    return rc;
}

int mp_store_experiment_set_spec(struct mp_store *st, int64_t id, const char *spec_json,
                                 const char *base_dir, struct mp_error *err)
{
    char hash[32];
    snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)mp_hash_str(spec_json));
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "UPDATE experiments SET spec_json = ?1, spec_hash = ?2, "
                                          "base_dir = coalesce(?5, base_dir), updated_at_ns = ?3 "
                                          "WHERE id = ?4",
                                          &stmt, err)) == 0) {
        sqlite3_bind_text(stmt, 1, spec_json, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, mp_wall_ns());
        sqlite3_bind_int64(stmt, 4, id);
        sqlite3_bind_text(stmt, 5, base_dir, -1, SQLITE_STATIC);
    }
    return update_experiment(st, stmt, rc, id, NULL, 0, "set experiment spec", err);
}

int mp_store_experiment_set_state(struct mp_store *st, int64_t id, enum mp_experiment_state state,
                                  const char *reason, struct mp_error *err)
{
    return mp_store_experiment_set_state_ev(st, id, state, reason, NULL, 0, err);
}

int mp_store_experiment_set_state_ev(struct mp_store *st, int64_t id,
                                     enum mp_experiment_state state, const char *reason,
                                     const struct mp_store_event *events, size_t n,
                                     struct mp_error *err)
{
    bool done = state >= MP_EXPERIMENT_SUCCEEDED;
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc == 0) {
        rc = mp_store_owned(st, id, err);
    }
    if (rc == 0 && (rc = mp_store_prepare(st,
                                          "UPDATE experiments SET state = ?1, stop_reason = ?2, "
                                          "updated_at_ns = ?3, finished_at_ns = ?4 WHERE id = ?5",
                                          &stmt, err)) == 0) {
        int64_t now = mp_wall_ns();
        sqlite3_bind_text(stmt, 1, mp_experiment_state_name(state), -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 3, now);
        if (done) {
            sqlite3_bind_int64(stmt, 4, now);
        }
        sqlite3_bind_int64(stmt, 5, id);
    }
    return update_experiment(st, stmt, rc, id, events, n, "set experiment state", err);
}

static char pidns[160];

static void read_pidns(void)
{
    char boot[64] = "", ns[64] = "";
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (f) {
        if (!fgets(boot, sizeof(boot), f)) {
            boot[0] = '\0';
        }
        boot[strcspn(boot, "\n")] = '\0';
        fclose(f);
    }
    ssize_t n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
    if (boot[0] && n > 0) {
        ns[n] = '\0';
        snprintf(pidns, sizeof(pidns), "%s/%s", boot, ns);
    }
}

/* The pid namespace of this process's pids, as a claim records it: the boot and the namespace
 * ("BOOT_ID/pid:[INODE]"); NULL when /proc does not say. */
static const char *pid_namespace(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, read_pidns);
    return pidns[0] ? pidns : NULL;
}

/* Whether a pid recorded with namespace ns is one of ours (either unknown: assumed so). */
static bool our_pidns(const char *ns)
{
    const char *mine = pid_namespace();
    return !ns || !mine || strcmp(ns, mine) == 0;
}

/* Whether process pid exists and is not a zombie: a process killed but not yet waited for by its
 * parent (a driver that starts the next run before it reaps the last, a container's process 1
 * that reaps no orphans) answers kill(pid, 0), and was taken for a live owner until its
 * heartbeat was stale. */
static bool pid_alive(pid_t pid)
{
    if (kill(pid, 0) != 0 && errno != EPERM) {
        return false;
    }
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f) { /* no /proc here, or the process is gone in between: kill tells again */
        return kill(pid, 0) == 0 || errno == EPERM;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the last ')' ends it. */
    const char *paren = strrchr(buf, ')');
    return !paren || paren[1] != ' ' || (paren[2] != 'Z' && paren[2] != 'X');
}

static bool owner_live(int64_t owner, const char *ns, int64_t beat_ns, int64_t stale_ms)
{
    if (owner <= 0 || mp_wall_ns() - beat_ns >= stale_ms * 1000000) {
        return false;
    }
    /* A pid of another namespace cannot be looked up from here: the heartbeat decides. */
    return !our_pidns(ns) || pid_alive((pid_t)owner);
}

bool mp_experiment_row_driven(const struct mp_experiment_row *row, int64_t stale_ms)
{
    return owner_live(row->owner_pid, row->owner_pidns, row->heartbeat_at_ns, stale_ms);
}

bool mp_experiment_row_mine(const struct mp_experiment_row *row)
{
    return row->owner_pid == (int64_t)getpid() && our_pidns(row->owner_pidns);
}

int mp_store_experiment_claim(struct mp_store *st, int64_t id, int64_t pid, int64_t stale_ms,
                              struct mp_error *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_begin(st, err);
    if (rc != 0 || (rc = mp_store_prepare(st,
                                          "SELECT owner_pid, heartbeat_at_ns, owner_pidns, "
                                          "name FROM experiments WHERE id = ?",
                                          &stmt, err)) != 0) {
        goto out;
    }
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    if (step != SQLITE_ROW) {
        rc = step == SQLITE_DONE
                 ? mp_error_set(err, MP_ENOTFOUND, "no experiment with id %lld", (long long)id)
                 : mp_store_fail(st, err, "claim experiment");
        goto out;
    }
    int64_t owner = sqlite3_column_int64(stmt, 0);
    int64_t beat = sqlite3_column_int64(stmt, 1);
    const char *ns = (const char *)sqlite3_column_text(stmt, 2);
    int64_t now = mp_wall_ns();
    bool own = owner == pid && our_pidns(ns);
    if (!own && owner_live(owner, ns, beat, stale_ms)) {
        rc = mp_error_set(err, MP_EBUSY,
                          "experiment '%s' is being run by process %lld (last heartbeat %.0f s "
                          "ago)",
                          (const char *)sqlite3_column_text(stmt, 3), (long long)owner,
                          (double)(now - beat) / 1e9);
        goto out;
    }
    sqlite3_finalize(stmt);
    stmt = NULL;
    if ((rc = mp_store_prepare(st,
                               "UPDATE experiments SET owner_pid = ?, heartbeat_at_ns = ?, "
                               "owner_pidns = ? WHERE id = ?",
                               &stmt, err)) != 0) {
        goto out;
    }
    sqlite3_bind_int64(stmt, 1, pid);
    sqlite3_bind_int64(stmt, 2, now);
    sqlite3_bind_text(stmt, 3, pid_namespace(), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, id);
    if (sqlite3_step(stmt) != SQLITE_DONE) {
        rc = mp_store_fail(st, err, "claim experiment");
    }
out:
    sqlite3_finalize(stmt);
    if (rc == 0 && (rc = mp_store_commit(st, err)) == 0) {
        st->claimed_exp = id;
        st->claimed_pid = pid;
        return 0;
    }
    mp_store_rollback(st);
    return rc;
}

int mp_store_owned(struct mp_store *st, int64_t exp_id, struct mp_error *err)
{
    if (st->claimed_exp == 0 || st->claimed_exp != exp_id) {
        return 0;
    }
    sqlite3_stmt *stmt = NULL;
    int rc = mp_store_prepare(st, "SELECT owner_pid, owner_pidns FROM experiments WHERE id = ?",
                              &stmt, err);
    if (rc != 0) {
        return rc;
    }
    sqlite3_bind_int64(stmt, 1, exp_id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_DONE) {
        rc = mp_error_set(err, MP_ESTATE,
                          "experiment %lld is no longer in the store: another process deleted it",
                          (long long)exp_id);
    } else if (step != SQLITE_ROW) {
        rc = mp_store_fail(st, err, "read experiment owner");
    } else if (sqlite3_column_int64(stmt, 0) != st->claimed_pid ||
               !our_pidns((const char *)sqlite3_column_text(stmt, 1))) {
        rc = mp_error_set(err, MP_ESTATE, "experiment %lld is no longer run by process %lld",
                          (long long)exp_id, (long long)st->claimed_pid);
    }
    sqlite3_finalize(stmt);
    return rc;
}

int mp_store_experiment_heartbeat(struct mp_store *st, int64_t id, struct mp_error *err)
{
    return exec_one(st, "UPDATE experiments SET heartbeat_at_ns = ?2 WHERE id = ?3", NULL,
                    mp_wall_ns(), id, 0, "heartbeat", err);
}

int mp_store_experiment_beat(struct mp_store *st, int64_t id, int64_t pid, struct mp_error *err)
{
    return exec_one(st,
                    "UPDATE experiments SET heartbeat_at_ns = ?2 WHERE id = ?3 AND owner_pid = ?4 "
                    "AND owner_pidns IS ?1",
                    pid_namespace(), mp_wall_ns(), id, pid, "heartbeat", err);
}

int mp_store_experiment_release(struct mp_store *st, int64_t id, struct mp_error *err)
{
    if (st->claimed_exp != id) {
        return exec_one(st,
                        "UPDATE experiments SET owner_pid = NULL, owner_pidns = NULL WHERE id = ?2",
                        NULL, id, 0, 0, "release experiment", err);
    }
    /* Only our own claim: a run stopped past it and taken over released the new owner's, so
     * that a third run could start beside it. */
    int64_t pid = st->claimed_pid;
    st->claimed_exp = st->claimed_pid = 0;
    int rc = exec_one(st,
                      "UPDATE experiments SET owner_pid = NULL, owner_pidns = NULL WHERE id = ?2 "
                      "AND ((owner_pid = ?3 AND owner_pidns IS ?1) OR owner_pid IS NULL)",
                      pid_namespace(), id, pid, 0, "release experiment", err);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err); /* another process owns it now, or it is gone: nothing of ours */
        return 0;
    }
    return rc;
}

int mp_store_experiment_delete(struct mp_store *st, int64_t id, struct mp_error *err)
{
    return exec_one(st, "DELETE FROM experiments WHERE id = ?2", NULL, id, 0, 0,
                    "delete experiment", err);
}
