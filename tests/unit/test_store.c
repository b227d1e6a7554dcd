/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/store: migrations, trial state transitions, ownership, events, logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_int.h"
#include "testlib.h"

static char *temp_db(void)
{
    char *path =
        mp_xasprintf("/tmp/mp-test-store-%d-%lld.db", (int)getpid(), (long long)mp_mono_ns());
    return path;
}

static struct mp_store *open_ok(const char *path, int max_version)
{
    struct mp_store_opts o = {.max_version = max_version};
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    if (mp_store_open(path, &o, &st, &err) != 0) {
        fail_msg("open %s: %s", path, err.msg);
    }
    return st;
}

/* A new store at path holding experiment "e" (*id) and its PENDING trial 1. */
static struct mp_store *store_with_trial(const char *path, int64_t *id)
{
    struct mp_store *st = open_ok(path, 0);
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, id, NULL), 0);
    assert_int_equal(mp_store_trial_create(st, *id, 1, "{}", "k1", NULL), 0);
    return st;
}

static void migrations_upgrade_and_refuse_newer(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = open_ok(path, 1);
    int v = 0;
    assert_int_equal(mp_store_schema_version(st, &v, NULL), 0);
    assert_int_equal(v, 1);
    mp_store_close(st);
    /* An experiment and a trial as the first schema holds them (a build of that time wrote
     * them; this build's statements need the later tables). */
    sqlite3 *old = NULL;
    assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(old,
                     "INSERT INTO experiments(id, name, spec_json, base_dir, spec_hash, state, "
                     "seed, created_at_ns, updated_at_ns) VALUES (7, 'e', '{}', '/tmp', 'h', "
                     "'CREATED', 3, 1, 1);"
                     "INSERT INTO trials(experiment_id, number, params_json, config_key, state, "
                     "created_at_ns) VALUES (7, 1, '{\"a\":1}', 'a=1', 'PENDING', 1);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(old);
    int64_t id = 7;

    st = open_ok(path, 0);
    assert_int_equal(mp_store_schema_version(st, &v, NULL), 0);
    assert_int_equal(v, MP_STORE_SCHEMA_VERSION);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(st, id, &rows, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].config_key, "a=1");
    mp_trial_rows_free(rows, n);
    assert_int_equal(mp_store_event_add(st, id, 0, "hello", NULL, NULL), 0);
    /* Ids go on from the highest the old store held, and none is used twice: the newest
     * experiment deleted and created again took its id (a page showing it switched to the new
     * one without a word). */
    int64_t a = 0, b = 0;
    assert_int_equal(mp_store_experiment_create(st, "a", "{}", NULL, 1, &a, NULL), 0);
    assert_int_equal(a, 8);
    assert_int_equal(mp_store_experiment_delete(st, a, NULL), 0);
    assert_int_equal(mp_store_experiment_create(st, "a", "{}", NULL, 1, &b, NULL), 0);
    assert_int_equal(b, 9);
    mp_store_close(st);
    st = open_ok(path, 0);
    assert_int_equal(mp_store_experiment_delete(st, b, NULL), 0);
    assert_int_equal(mp_store_experiment_create(st, "b", "{}", NULL, 1, &b, NULL), 0);
    assert_int_equal(b, 10);
    mp_store_close(st);

    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &st, &err), MP_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "newer morphling"));
    remove_db(path);
}

static void assert_replaced(struct mp_store *st, const char *name, const char *want)
{
    struct mp_replaced_run *runs = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_replaced_list(st, name, &runs, &n, NULL), 0);
    char got[256] = "";
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof(got) - len, "%s%s=%s", i ? "," : "", runs[i].run_id,
                 runs[i].spec_json);
    }
    mp_replaced_runs_free(runs, n);
    assert_string_equal(got, want);
}

/* `run --restart`: the old experiment deleted, its run kept for the runner's sweep and the new
 * experiment created in one transaction; kept until dropped (a run killed before its sweep
 * forgot it), several restarts in a row all kept. A store of version 5 gains the table. */
static void replaced_runs_kept_until_dropped(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = open_ok(path, 5);
    int64_t a = 0, b = 0, c = 0, other = 0;
    assert_int_equal(mp_store_experiment_create(st, "e", "{\"v\":1}", NULL, 1, &a, NULL), 0);
    assert_int_equal(mp_store_experiment_create(st, "o", "{}", NULL, 1, &other, NULL), 0);
    mp_store_close(st);
    st = open_ok(path, 0);
    assert_replaced(st, "e", "");

    assert_int_equal(
        mp_store_experiment_replace(st, a, "r1", "{\"v\":1}", "e", "{\"v\":2}", NULL, 2, &b, NULL),
        0);
    assert_true(b > other);
    struct mp_experiment_row row = {0};
    char ref[24];
    snprintf(ref, sizeof(ref), "%lld", (long long)a);
    assert_int_equal(mp_store_experiment_find(st, ref, &row, NULL), MP_ENOTFOUND);
    assert_int_equal(mp_store_experiment_find(st, "e", &row, NULL), 0);
    assert_int_equal(row.id, b);
    assert_string_equal(row.spec_json, "{\"v\":2}");
    mp_experiment_row_release(&row);
    assert_replaced(st, "e", "r1={\"v\":1}");

    /* Restarted again before any sweep: both kept, oldest first. Nothing to sweep (NULL): none
     * added. */
    assert_int_equal(
        mp_store_experiment_replace(st, b, "r2", "{\"v\":2}", "e", "{\"v\":3}", NULL, 3, &c, NULL),
        0);
    assert_int_equal(
        mp_store_experiment_replace(st, c, NULL, NULL, "e", "{\"v\":4}", NULL, 4, &c, NULL), 0);
    assert_replaced(st, "e", "r1={\"v\":1},r2={\"v\":2}");
    assert_replaced(st, "o", "");

    /* One transaction: a create that fails (the name is taken) deletes and keeps nothing. */
    int64_t d = 0;
    assert_int_equal(mp_store_experiment_replace(st, c, "r3", "{}", "o", "{}", NULL, 5, &d, NULL),
                     MP_EEXISTS);
    assert_int_equal(mp_store_experiment_find(st, "e", &row, NULL), 0);
    assert_int_equal(row.id, c);
    mp_experiment_row_release(&row);
    assert_replaced(st, "o", "");
    assert_replaced(st, "e", "r1={\"v\":1},r2={\"v\":2}");

    /* Dropped once swept, one at a time; an absent one is no error. A deleted experiment's are
     * kept (by name): a later run of it sweeps them. */
    assert_int_equal(mp_store_replaced_drop(st, "e", "r1", NULL), 0);
    assert_replaced(st, "e", "r2={\"v\":2}");
    assert_int_equal(mp_store_replaced_drop(st, "e", "r1", NULL), 0);
    assert_int_equal(mp_store_experiment_delete(st, c, NULL), 0);
    assert_replaced(st, "e", "r2={\"v\":2}");
    assert_int_equal(mp_store_replaced_drop(st, "e", "r2", NULL), 0);
    assert_replaced(st, "e", "");
    mp_store_close(st);
    remove_db(path);
}

static void finish(struct mp_store *st, int64_t id, int64_t number, enum mp_trial_state s,
                   int expect)
{
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    res.state = s;
    mp_metrics_set(&res.metrics, "qps", 12.5);
    mp_metrics_set(&res.resources, "cpu_seconds", 0.25);
    res.stdout_log = mp_xstrdup("hello\n");
    res.meta_json = mp_xstrdup("{\"k\":1}");
    if (s == MP_TRIAL_FAILED) {
        res.failure = MP_FAILURE_OOM_KILLED;
        res.reason = mp_xstrdup("killed");
    }
    struct mp_error err = {0};
    int rc = mp_store_trial_finish(st, id, number, &res, &err);
    if (rc != expect) {
        fail_msg("finish trial %lld -> %s: got %d (%s), want %d", (long long)number,
                 mp_trial_state_name(s), rc, err.msg, expect);
    }
    mp_trial_result_release(&res);
}

/* Another process finishes trial 1 when the reader's metrics query starts (after its trials
 * query): the reader's trace callback stands in for that moment. */
struct finish_meanwhile {
    struct mp_store *writer;
    int64_t exp_id;
    bool done;
};

static int finish_at_metrics(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    (void)x;
    struct finish_meanwhile *f = ctx;
    const char *sql = sqlite3_sql(p);
    if (!f->done && sql && strstr(sql, "FROM trial_metrics")) {
        f->done = true;
        finish(f->writer, f->exp_id, 1, MP_TRIAL_SUCCEEDED, 0);
    }
    return 0;
}

/* The trials and their metrics are read from one snapshot: `show --json` of an experiment being
 * run gave a trial PENDING or RUNNING with the metrics of the result stored in between. */
static void trial_list_reads_one_snapshot(void **state)
{
    (void)state;
    char *path = temp_db();
    int64_t id = 0, attempt = 0;
    struct mp_store *st = store_with_trial(path, &id);
    assert_int_equal(mp_store_trial_start(st, id, 1, &attempt, NULL), 0);
    struct finish_meanwhile f = {.writer = open_ok(path, 0), .exp_id = id};
    struct mp_store *reader = open_ok(path, 0);
    sqlite3_trace_v2(reader->db, SQLITE_TRACE_STMT, finish_at_metrics, &f);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(reader, id, &rows, &n, NULL), 0);
    assert_true(f.done);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].state, MP_TRIAL_RUNNING);
    assert_int_equal(rows[0].metrics.n, 0);
    assert_int_equal(rows[0].resources.n, 0);
    mp_trial_rows_free(rows, n);
    /* The next read sees the result whole. */
    assert_int_equal(mp_store_trial_list(reader, id, &rows, &n, NULL), 0);
    assert_int_equal(rows[0].state, MP_TRIAL_SUCCEEDED);
    assert_int_equal(rows[0].metrics.n, 1);
    mp_trial_rows_free(rows, n);
    mp_store_close(reader);
    mp_store_close(f.writer);
    mp_store_close(st);
    remove_db(path);
}

static void trial_states_move_forward_only(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = open_ok(path, 0);
    int64_t id = 0, attempt = -1;
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, NULL), 0);
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, NULL), MP_EEXISTS);
    assert_int_equal(mp_store_trial_create(st, id, 1, "{}", "k1", NULL), 0);
    assert_int_equal(mp_store_trial_create(st, id, 2, "{}", "k1", NULL), MP_EEXISTS);
    assert_int_equal(mp_store_trial_create(st, id, 1, "{}", "k2", NULL), MP_EEXISTS);
    assert_int_equal(mp_store_trial_create(st, id, 2, "{}", "k2", NULL), 0);
    assert_int_equal(mp_store_trial_create(st, id, 3, "{}", "k3", NULL), 0);

    finish(st, id, 1, MP_TRIAL_SUCCEEDED, MP_ESTATE); /* PENDING -> SUCCEEDED: no */
    assert_int_equal(mp_store_trial_start(st, id, 1, &attempt, NULL), 0);
    assert_int_equal(attempt, 0);
    assert_int_equal(mp_store_trial_start(st, id, 1, &attempt, NULL), 0); /* re-run */
    assert_int_equal(attempt, 1);
    finish(st, id, 1, MP_TRIAL_SUCCEEDED, 0);
    finish(st, id, 1, MP_TRIAL_FAILED, MP_ESTATE); /* terminal stays terminal */
    assert_int_equal(mp_store_trial_start(st, id, 1, &attempt, NULL), MP_ESTATE);
    finish(st, id, 2, MP_TRIAL_FAILED, 0); /* PENDING -> FAILED: yes */
    assert_int_equal(mp_store_trial_start(st, id, 3, &attempt, NULL), 0);
    finish(st, id, 3, MP_TRIAL_CANCELLED, 0);

    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(st, id, &rows, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(rows[0].state, MP_TRIAL_SUCCEEDED);
    assert_int_equal(rows[0].attempt, 1);
    double v = 0;
    assert_true(mp_metrics_get(&rows[0].metrics, "qps", &v) && v == 12.5);
    assert_true(mp_metrics_get(&rows[0].resources, "cpu_seconds", &v) && v == 0.25);
    assert_string_equal(rows[0].meta_json, "{\"k\":1}");
    assert_int_equal(rows[1].state, MP_TRIAL_FAILED);
    assert_int_equal(rows[1].failure, MP_FAILURE_OOM_KILLED);
    assert_string_equal(rows[1].reason, "killed");
    assert_int_equal(rows[2].state, MP_TRIAL_CANCELLED);
    mp_trial_rows_free(rows, n);
    char *log = NULL;
    assert_int_equal(mp_store_trial_log(st, id, 1, "stdout", &log, NULL), 0);
    assert_string_equal(log, "hello\n");
    free(log);
    assert_int_equal(mp_store_trial_log(st, id, 1, "stderr", &log, NULL), 0);
    assert_string_equal(log, "");
    free(log);
    mp_store_close(st);

    /* Even raw SQL cannot move a terminal trial (schema trigger). */
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_not_equal(
        sqlite3_exec(db, "UPDATE trials SET state = 'RUNNING' WHERE number = 1", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    remove_db(path);
}

/* A trial's start and its event are one transaction: a start refused stores no event (the event
 * was a second transaction, so a run killed between them left a RUNNING trial unannounced). */
static void trial_start_stores_its_event(void **state)
{
    (void)state;
    char *path = temp_db();
    int64_t id = 0, attempt = -1;
    struct mp_store *st = store_with_trial(path, &id);
    struct mp_store_event ev = {"trial_started", "{\"state\":\"RUNNING\"}"};
    assert_int_equal(mp_store_trial_start_ev(st, id, 1, &attempt, &ev, 1, NULL), 0);
    finish(st, id, 1, MP_TRIAL_SUCCEEDED, 0);
    assert_int_equal(mp_store_trial_start_ev(st, id, 1, &attempt, &ev, 1, NULL), MP_ESTATE);
    struct mp_event_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(st, id, 0, 10, &rows, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].kind, "trial_started");
    assert_int_equal(rows[0].trial_number, 1);
    assert_string_equal(rows[0].detail_json, "{\"state\":\"RUNNING\"}");
    mp_event_rows_free(rows, n);
    mp_store_close(st);
    remove_db(path);
}

/* A full disk (here the file may not grow) refuses the change that needs more room, says what to
 * do, and leaves what was written before; once there is room, writes go on. It said only
 * "database or disk is full". */
static void full_disk_keeps_what_was_written(void **state)
{
    (void)state;
    char *path = temp_db();
    int64_t id = 0;
    struct mp_store *st = store_with_trial(path, &id);
    assert_int_equal(sqlite3_exec(st->db, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_exec(st->db, "PRAGMA max_page_count=1", NULL, NULL, NULL), SQLITE_OK);
    char big[20000];
    memset(big, 'x', sizeof(big) - 3);
    memcpy(big, "{\"", 2);
    memcpy(big + sizeof(big) - 6, "\":1}", 5);
    big[sizeof(big) - 1] = '\0';
    struct mp_error err = {0};
    assert_int_equal(mp_store_trial_create(st, id, 2, big, "k2", &err), MP_ESTORE);
    if (!strstr(err.msg, "full (free space on its disk: this change was not written; what was "
                         "written before it stays")) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(sqlite3_exec(st->db, "PRAGMA max_page_count=1000000", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(mp_store_trial_create(st, id, 2, big, "k2", NULL), 0);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(st, id, &rows, &n, NULL), 0);
    assert_int_equal(n, 2);
    mp_trial_rows_free(rows, n);
    mp_store_close(st);
    remove_db(path);
}

/* A NaN metric (nothing measured: e.g. cost_per_million_requests of an infinite cost over an
 * infinite rate) is left out; the trial and its other metrics are stored. SQLite bound it as
 * NULL, the NOT NULL column refused the whole trial, and each resume ran it and failed again. */
static void nan_metric_is_not_stored(void **state)
{
    (void)state;
    char *path = temp_db();
    int64_t id = 0, attempt = -1;
    struct mp_store *st = store_with_trial(path, &id);
    assert_int_equal(mp_store_trial_start(st, id, 1, &attempt, NULL), 0);
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    res.state = MP_TRIAL_SUCCEEDED;
    mp_metrics_set(&res.metrics, "cost_per_million_requests", NAN);
    mp_metrics_set(&res.metrics, "cost_per_hour", INFINITY);
    mp_metrics_set(&res.metrics, "qps", 12.5);
    mp_metrics_set(&res.resources, "cpu_seconds", NAN);
    struct mp_error err = {0};
    if (mp_store_trial_finish(st, id, 1, &res, &err) != 0) {
        fail_msg("finish: %s", err.msg);
    }
    mp_trial_result_release(&res);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(st, id, &rows, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].state, MP_TRIAL_SUCCEEDED);
    double v = 0;
    assert_false(mp_metrics_get(&rows[0].metrics, "cost_per_million_requests", &v));
    assert_false(mp_metrics_get(&rows[0].resources, "cpu_seconds", &v));
    assert_true(mp_metrics_get(&rows[0].metrics, "cost_per_hour", &v) && isinf(v));
    assert_true(mp_metrics_get(&rows[0].metrics, "qps", &v) && v == 12.5);
    mp_trial_rows_free(rows, n);
    mp_store_close(st);
    remove_db(path);
}

static int start(struct mp_store *st, int64_t id, int64_t number, struct mp_error *err)
{
    int64_t attempt = 0;
    return mp_store_trial_start(st, id, number, &attempt, err);
}

/* A run stopped past its claim (a) writes no trial of the experiment once another run (b) took
 * it over, nor once b replaced it with run --restart, which SQLite gives the same id: a's
 * results landed on b's trials of other configurations. A handle that claimed nothing (the
 * API's, the operator's) writes as before. */
static void taken_over_handle_writes_nothing(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *a = open_ok(path, 0), *b = open_ok(path, 0), *c = open_ok(path, 0);
    int64_t id = 0, again = 0;
    struct mp_error err = {0};
    assert_int_equal(mp_store_experiment_create(a, "e", "{}", NULL, 1, &id, NULL), 0);
    assert_int_equal(mp_store_experiment_claim(a, id, getpid(), 60000, NULL), 0);
    assert_int_equal(mp_store_trial_create(a, id, 1, "{}", "k1", NULL), 0);
    assert_int_equal(mp_store_trial_create(a, id, 2, "{}", "k2", NULL), 0);
    assert_int_equal(start(a, id, 1, NULL), 0);
    /* b takes it over (a's heartbeat is stale: limit 0 ms), in the name of our parent. */
    assert_int_equal(mp_store_experiment_claim(b, id, getppid(), 0, NULL), 0);
    assert_int_equal(start(b, id, 1, NULL), 0);
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    res.state = MP_TRIAL_SUCCEEDED;
    mp_metrics_set(&res.metrics, "qps", 1);
    assert_int_equal(mp_store_trial_finish(a, id, 1, &res, &err), MP_ESTATE);
    assert_non_null(strstr(err.msg, "is no longer run by process"));
    assert_int_equal(start(a, id, 2, NULL), MP_ESTATE);
    assert_int_equal(mp_store_trial_create(a, id, 3, "{}", "k3", NULL), MP_ESTATE);
    /* Nor a confirmation run, an event or the experiment's state: a run stopped during its
     * confirmation set b's finished experiment INTERRUPTED ("run 1 of trial 1 is already
     * recorded"), and its release let a third run start beside b. */
    assert_int_equal(mp_store_confirm_add(a, id, 1, 1, &res, NULL), MP_ESTATE);
    assert_int_equal(mp_store_event_add(a, id, 1, "confirm_run", NULL, NULL), MP_ESTATE);
    assert_int_equal(mp_store_experiment_set_state(a, id, MP_EXPERIMENT_INTERRUPTED, "x", NULL),
                     MP_ESTATE);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(c, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_CREATED);
    assert_int_equal(row.owner_pid, getppid());
    mp_experiment_row_release(&row);
    assert_int_equal(mp_store_confirm_add(b, id, 1, 1, &res, NULL), 0);
    assert_int_equal(mp_store_event_add(b, id, 1, "confirm_run", NULL, NULL), 0);
    assert_int_equal(mp_store_experiment_set_state(b, id, MP_EXPERIMENT_RUNNING, NULL, NULL), 0);
    assert_int_equal(mp_store_trial_finish(b, id, 1, &res, NULL), 0);
    assert_int_equal(start(c, id, 2, NULL), 0);

    /* b replaces it: same name, a new id (none is used twice: a's id is the old one's); a
     * writes to neither. */
    assert_int_equal(mp_store_experiment_delete(b, id, NULL), 0);
    assert_int_equal(mp_store_experiment_create(b, "e", "{}", NULL, 2, &again, NULL), 0);
    assert_int_equal(again, id + 1);
    assert_int_equal(mp_store_trial_create(a, id, 1, "{}", "k8", NULL), MP_ESTATE);
    int64_t gone = id;
    id = again;
    assert_int_equal(mp_store_experiment_claim(b, id, getppid(), 60000, NULL), 0);
    assert_int_equal(mp_store_trial_create(b, id, 1, "{}", "k9", NULL), 0);
    assert_int_equal(start(b, id, 1, NULL), 0);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(b, id, &rows, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rows[0].state, MP_TRIAL_RUNNING);
    mp_trial_rows_free(rows, n);
    /* a's release (of its experiment, gone) leaves b's claim; once released, a handle writes
     * as one that never claimed. */
    assert_int_equal(mp_store_experiment_release(a, gone, NULL), 0);
    assert_int_equal(mp_store_experiment_find(c, "e", &row, NULL), 0);
    assert_int_equal(row.owner_pid, getppid());
    mp_experiment_row_release(&row);
    assert_int_equal(mp_store_trial_finish(a, id, 1, &res, NULL), 0);
    assert_int_equal(mp_store_experiment_release(b, id, NULL), 0);
    assert_int_equal(mp_store_experiment_find(c, "e", &row, NULL), 0);
    assert_int_equal(row.owner_pid, 0);
    mp_experiment_row_release(&row);
    mp_trial_result_release(&res);
    mp_store_close(a);
    mp_store_close(b);
    mp_store_close(c);
    remove_db(path);
}

/* Sets the owner of experiment id as another pid namespace (another container sharing the store)
 * would record it: pid, that namespace, and a heartbeat now. */
static void owned_in_another_pidns(const char *path, int64_t id, int64_t pid)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *sql =
        mp_xasprintf("UPDATE experiments SET owner_pid = %lld, owner_pidns = 'other/pid:[1]', "
                     "heartbeat_at_ns = %lld WHERE id = %lld",
                     (long long)pid, (long long)mp_wall_ns(), (long long)id);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(db);
}

/* A claim from another pid namespace is judged by its heartbeat alone: its pid means nothing
 * here. One that no process here has was taken over at once; one equal to ours (every
 * container's first process is pid 1) was taken for our own, and both wrote the trials. */
static void claims_across_pid_namespaces(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *a = open_ok(path, 0), *b = open_ok(path, 0);
    int64_t id = 0;
    struct mp_error err = {0};
    assert_int_equal(mp_store_experiment_create(a, "e", "{}", NULL, 1, &id, NULL), 0);
    assert_int_equal(mp_store_experiment_claim(a, id, getpid(), 60000, NULL), 0);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(b, "e", &row, NULL), 0);
    assert_true(mp_experiment_row_mine(&row));
    assert_true(mp_experiment_row_driven(&row, 60000));
    mp_experiment_row_release(&row);

    owned_in_another_pidns(path, id, getpid());
    assert_int_equal(mp_store_experiment_find(b, "e", &row, NULL), 0);
    assert_false(mp_experiment_row_mine(&row));
    assert_true(mp_experiment_row_driven(&row, 60000));
    mp_experiment_row_release(&row);
    assert_int_equal(mp_store_experiment_claim(b, id, getpid(), 60000, &err), MP_EBUSY);
    assert_int_equal(mp_store_trial_create(a, id, 1, "{}", "k1", NULL), MP_ESTATE);

    owned_in_another_pidns(path, id, 2147483646); /* no such process here */
    assert_int_equal(mp_store_experiment_claim(b, id, getpid(), 60000, &err), MP_EBUSY);
    assert_non_null(strstr(err.msg, "being run by process 2147483646"));
    /* Its heartbeat stale (limit 0 ms): taken over. */
    assert_int_equal(mp_store_experiment_claim(b, id, getpid(), 0, NULL), 0);
    assert_int_equal(mp_store_trial_create(b, id, 1, "{}", "k1", NULL), 0);
    assert_int_equal(mp_store_experiment_release(b, id, NULL), 0);
    assert_int_equal(mp_store_experiment_find(b, "e", &row, NULL), 0);
    assert_int_equal(row.owner_pid, 0);
    assert_null(row.owner_pidns);
    mp_experiment_row_release(&row);
    mp_store_close(a);
    mp_store_close(b);
    remove_db(path);
}

static void ownership_and_events(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = open_ok(path, 0);
    int64_t id = 0;
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, NULL), 0);
    /* Our parent is alive: a claim in its name blocks ours. */
    assert_int_equal(mp_store_experiment_claim(st, id, getppid(), 60000, NULL), 0);
    struct mp_error err = {0};
    assert_int_equal(mp_store_experiment_claim(st, id, getpid(), 60000, &err), MP_EBUSY);
    assert_non_null(strstr(err.msg, "experiment 'e' is being run by process"));
    /* A stale heartbeat (limit 0 ms) is taken over. */
    assert_int_equal(mp_store_experiment_claim(st, id, getpid(), 0, NULL), 0);
    assert_int_equal(mp_store_experiment_release(st, id, NULL), 0);
    assert_int_equal(mp_store_experiment_set_state(st, id, MP_EXPERIMENT_SUCCEEDED, "done", NULL),
                     0);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(st, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_SUCCEEDED);
    assert_string_equal(row.stop_reason, "done");
    assert_true(row.finished_at_ns > 0);
    mp_experiment_row_release(&row);
    assert_int_equal(mp_store_experiment_find(st, "1", &row, NULL), 0);
    assert_string_equal(row.name, "e");
    mp_experiment_row_release(&row);
    assert_int_equal(mp_store_experiment_find(st, "nope", &row, NULL), MP_ENOTFOUND);

    for (int i = 0; i < 5; i++) {
        assert_int_equal(mp_store_event_add(st, id, i, "k", "{\"i\":1}", NULL), 0);
    }
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(st, id, 2, 10, &ev, &n, NULL), 0);
    assert_int_equal(n, 3);
    assert_int_equal(ev[0].id, 3);
    assert_int_equal(ev[0].trial_number, 2);
    mp_event_rows_free(ev, n);
    int64_t other = 0, newest = -1;
    assert_int_equal(mp_store_experiment_create(st, "f", "{}", NULL, 1, &other, NULL), 0);
    assert_int_equal(mp_store_event_newest(st, other, &newest, NULL), 0);
    assert_int_equal(newest, 0); /* none yet */
    assert_int_equal(mp_store_event_add(st, other, 0, "k", NULL, NULL), 0);
    assert_int_equal(mp_store_event_newest(st, id, &newest, NULL), 0);
    assert_int_equal(newest, 5);
    assert_int_equal(mp_store_event_newest(st, 0, &newest, NULL), 0);
    assert_int_equal(newest, 6);
    assert_int_equal(mp_store_experiment_delete(st, id, NULL), 0);
    assert_int_equal(mp_store_event_list(st, id, 0, 10, &ev, &n, NULL), 0);
    assert_int_equal(n, 0);
    mp_event_rows_free(ev, n);
    mp_store_close(st);
    remove_db(path);
}

/* A new store opens while another process writes the file: SQLite refuses the switch to WAL at
 * once, without its busy handler, while another connection holds the write lock, so two
 * processes starting on a new store together (run and serve, two runs) could fail "configure:
 * database is locked" (about 1 open in 300 when 12 start at once). Here another connection
 * holds the lock for 200 ms. */
static void *commit_later(void *p)
{
    usleep(200000);
    assert_int_equal(sqlite3_exec(p, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return NULL;
}

static void new_store_opened_while_locked(void **state)
{
    (void)state;
    char *path = temp_db();
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, commit_later, other), 0);
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    int rc = mp_store_open(path, NULL, &st, &err);
    pthread_join(t, NULL);
    if (rc != 0) {
        fail_msg("open %s: %s", path, err.msg);
    }
    mp_store_close(st);
    sqlite3_close(other);
    remove_db(path);
}

/* A store at its schema opens while a writer holds the write lock (a long run's transaction):
 * opening only reads. It took the write lock at every open, so each API request waited for the
 * writers, and failed "database is locked" past the busy timeout. */
static void current_store_opens_beside_a_writer(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &st, &err), 0);
    mp_store_close(st);
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct mp_store_opts o = {.busy_timeout_ms = 50};
    int rc = mp_store_open(path, &o, &st, &err);
    if (rc != 0) {
        fail_msg("open beside a writer: %s", err.msg);
    }
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(st, "none", &row, &err), MP_ENOTFOUND);
    mp_store_close(st);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    remove_db(path);
}

/* A write that waits past the busy timeout for another process's lock says who holds it and
 * what it cost: it said only "begin: database is locked", and a run stopped so (its trial in
 * flight lost) gave no word of another process, nor of running again. */
static void locked_store_says_who_and_what_to_do(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_store_opts o = {.busy_timeout_ms = 50};
    assert_int_equal(mp_store_open(path, &o, &st, &err), 0);
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int64_t id = 0;
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, &err), MP_EBUSY);
    assert_non_null(strstr(err.msg, "database is locked"));
    assert_non_null(strstr(err.msg, "another process held the store's lock for over 0.05 s"));
    assert_non_null(strstr(err.msg, "a run continues when run again"));
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, &err), 0);
    mp_store_close(st);
    remove_db(path);
}

/* Overwrites the first page of table `name` with 0xff bytes (an invalid page type). */
static void damage_table(const char *path, const char *name)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT rootpage, (SELECT page_size FROM "
                                        "pragma_page_size) FROM sqlite_master WHERE name = ?",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long root = (long)sqlite3_column_int64(stmt, 0);
    long page = (long)sqlite3_column_int64(stmt, 1);
    sqlite3_finalize(stmt);
    sqlite3_close(db); /* the last connection: the WAL is checkpointed into the file */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (root - 1) * page, SEEK_SET), 0);
    for (long i = 0; i < page; i++) {
        fputc(0xff, f);
    }
    fclose(f);
}

/* Issue 13: reads that stopped at the first non-ROW result reported a damaged store as an
 * empty one. Every read now tells SQLITE_DONE from an error, names the file, and a handle that
 * saw damage writes nothing more. */
static void damaged_store_is_an_error(void **state)
{
    (void)state;
    char *path = temp_db();
    struct mp_store *st = open_ok(path, 0);
    int64_t id = 0;
    assert_int_equal(mp_store_experiment_create(st, "e", "{}", NULL, 1, &id, NULL), 0);
    for (int i = 1; i <= 55; i++) {
        char params[32], key[32];
        snprintf(params, sizeof(params), "{\"a\":%d}", i);
        snprintf(key, sizeof(key), "a=%d", i);
        assert_int_equal(mp_store_trial_create(st, id, i, params, key, NULL), 0);
    }
    mp_store_close(st);
    damage_table(path, "trials");

    st = open_ok(path, 0);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    struct mp_error err = {0};
    assert_int_equal(mp_store_trial_list(st, id, &rows, &n, &err), MP_ESTORE);
    assert_int_equal(n, 0);
    assert_null(rows);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "malformed"));
    /* Nothing is written over it, even to the tables that still read. */
    mp_error_clear(&err);
    assert_int_equal(mp_store_event_add(st, id, 0, "k", NULL, &err), MP_ESTORE);
    assert_non_null(strstr(err.msg, "damaged"));
    assert_int_equal(mp_store_experiment_set_state(st, id, MP_EXPERIMENT_INTERRUPTED, "x", NULL),
                     MP_ESTORE);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(st, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_CREATED);
    mp_experiment_row_release(&row);
    mp_store_close(st);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(migrations_upgrade_and_refuse_newer),
        cmocka_unit_test(replaced_runs_kept_until_dropped),
        cmocka_unit_test(trial_states_move_forward_only),
        cmocka_unit_test(trial_start_stores_its_event),
        cmocka_unit_test(full_disk_keeps_what_was_written),
        cmocka_unit_test(trial_list_reads_one_snapshot),
        cmocka_unit_test(nan_metric_is_not_stored),
        cmocka_unit_test(taken_over_handle_writes_nothing),
        cmocka_unit_test(ownership_and_events),
        cmocka_unit_test(claims_across_pid_namespaces),
        cmocka_unit_test(damaged_store_is_an_error),
        cmocka_unit_test(new_store_opened_while_locked),
        cmocka_unit_test(current_store_opens_beside_a_writer),
        cmocka_unit_test(locked_store_says_who_and_what_to_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
