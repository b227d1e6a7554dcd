/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/engine with an injected in-process runner: determinism, no duplicates
 * under parallelism, failure handling, exhaustion, resumption, creation and cancellation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "engine/engine.h"
#include "engine/events.h"
#include "testlib.h"

/* A runner whose objective is known: qps = 100 - (a-7)^2 - (b-3)^2. Configurations with
 * a == fail_a fail with OOM_KILLED; after `interrupt_after` finished trials it raises cancel
 * (with cancel_in_run, inside that trial, which it then reports CANCELLED). */
struct fake_runner {
    struct mp_runner base;
    double fail_a;
    int calls;
    int interrupt_after;
    bool cancel_in_run;
    atomic_bool *cancel;
    bool slow;
    int run_error_at;      /* this call sets run_error (0: none) */
    bool run_error_failed; /* ... and fails INFRA instead of measuring */
    int infra_at;          /* this call fails INFRA with a runner error (0: none) */
    int inf_at;            /* this call measures qps = +inf (0: none) */
    const char *beat_db;   /* the first call waits until this store's heartbeat moves */
    bool saw_beat;
    const char *finished_db; /* the first call waits until this store holds a finished trial,
                                then fails INFRA */
    bool saw_finished;
};

static int64_t db_value(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
        v = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    return v;
}

/* Whether the value of sql in the store at path grows above floor (-1: above its first value)
 * while the caller (a trial) is busy: polled every 5 ms, at most 2000 times (a hang guard, not a
 * timing assertion). */
static bool db_value_grows(const char *path, const char *sql, int64_t floor)
{
    sqlite3 *db = NULL;
    bool grew = false;
    if (sqlite3_open(path, &db) == SQLITE_OK) {
        int64_t first = floor >= 0 ? floor : db_value(db, sql);
        for (int i = 0; i < 2000 && !grew; i++) {
            struct timespec ts = {0, 5 * 1000000};
            nanosleep(&ts, NULL);
            grew = db_value(db, sql) > first;
        }
    }
    sqlite3_close(db);
    return grew;
}

static int fake_run(struct mp_runner *base, const struct mp_trial_request *req,
                    struct mp_trial_result *res, const atomic_bool *cancel)
{
    struct fake_runner *r = (struct fake_runner *)base;
    if (r->slow) {
        struct timespec ts = {0, 2 * 1000000};
        nanosleep(&ts, NULL);
    }
    if (cancel && atomic_load(cancel)) {
        res->state = MP_TRIAL_CANCELLED;
        return 0;
    }
    int calls = __atomic_add_fetch(&r->calls, 1, __ATOMIC_SEQ_CST);
    if (r->beat_db && calls == 1) {
        r->saw_beat = db_value_grows(r->beat_db, "SELECT heartbeat_at_ns FROM experiments", -1);
    }
    if (r->finished_db && calls == 1) {
        r->saw_finished = db_value_grows(
            r->finished_db, "SELECT count(*) FROM trials WHERE state = 'SUCCEEDED'", 0);
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "the node went away");
        return MP_ERUNTIME;
    }
    if (r->interrupt_after && calls >= r->interrupt_after) {
        atomic_store(r->cancel, true);
        if (r->cancel_in_run) {
            res->state = MP_TRIAL_CANCELLED;
            return 0;
        }
    }
    double a = req->x[0], b = req->x[1];
    if (calls == r->infra_at) {
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "the node went away");
        res->meta_json = mp_xstrdup("{\"attempt\": \"lost\"}");
        return MP_ERUNTIME;
    }
    if (calls == r->run_error_at) {
        res->run_error = mp_xstrdup("forbidden, objects left");
        if (r->run_error_failed) {
            mp_trial_result_fail(res, MP_FAILURE_INFRA, "forbidden");
            return MP_EFORBIDDEN;
        }
    }
    if (a == r->fail_a) {
        mp_trial_result_fail(res, MP_FAILURE_OOM_KILLED, "a=%g is too big", a);
        return 0;
    }
    mp_metrics_set(&res->metrics, "qps",
                   calls == r->inf_at ? INFINITY : 100 - (a - 7) * (a - 7) - (b - 3) * (b - 3));
    mp_metrics_set(&res->metrics, "p99_ms", a * 10);
    return 0;
}

static const struct mp_runner_ops fake_ops = {.name = "fake", .concurrent = true, .run = fake_run};

/* make_spec with --set overrides (sets, n_sets) applied to the document, as a spec file would
 * have them. */
static struct mp_spec *make_spec_set(const char *algo, int max_trials, int parallelism,
                                     const char *extra, const char *const *sets, size_t n_sets)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "name: e\n"
             "parameters:\n"
             "  - {name: a, type: int, min: 1, max: 10}\n"
             "  - {name: b, type: int, min: 1, max: 5}\n"
             "objective: {metric: qps}\n"
             "algorithm: {name: %s, max_trials: %d, parallelism: %d, seed: 11}\n"
             "runner: {kind: replay, surface: unused.csv}\n%s",
             algo, max_trials, parallelism, extra ? extra : "");
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(text, strlen(text), "e.yaml", NULL, sets, n_sets, &spec, &err) != 0) {
        fail_msg("spec: %s", err.msg);
    }
    return spec;
}

static struct mp_spec *make_spec(const char *algo, int max_trials, int parallelism,
                                 const char *extra)
{
    return make_spec_set(algo, max_trials, parallelism, extra, NULL, 0);
}

struct run {
    struct mp_store *st;
    struct mp_engine_summary sum;
    struct mp_trial_row *rows;
    size_t n;
};

static void run_engine_opts(struct run *run, const struct mp_spec *spec, struct fake_runner *fr,
                            struct mp_engine_opts o, bool keep_store)
{
    struct mp_error err = {0};
    if (!run->st && mp_store_open(":memory:", NULL, &run->st, &err) != 0) {
        fail_msg("store: %s", err.msg);
    }
    fr->base.ops = &fake_ops;
    fr->base.spec = spec;
    fr->cancel = (atomic_bool *)o.cancel;
    o.runner = &fr->base;
    if (mp_engine_run(run->st, spec, &o, &run->sum, &err) != 0) {
        fail_msg("engine: %s", err.msg);
    }
    mp_trial_rows_free(run->rows, run->n);
    assert_int_equal(
        mp_store_trial_list(run->st, run->sum.experiment_id, &run->rows, &run->n, NULL), 0);
    if (!keep_store) {
        mp_store_close(run->st);
        run->st = NULL;
    }
}

static void run_engine(struct run *run, const struct mp_spec *spec, struct fake_runner *fr,
                       atomic_bool *cancel, bool keep_store)
{
    run_engine_opts(run, spec, fr, (struct mp_engine_opts){.cancel = cancel}, keep_store);
}

/* The kind of the experiment's first event. Owned. */
static char *first_event(struct mp_store *st, int64_t exp_id)
{
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(st, exp_id, 0, 1, &ev, &n, NULL), 0);
    assert_int_equal(n, 1);
    char *kind = mp_xstrdup(ev[0].kind);
    mp_event_rows_free(ev, n);
    return kind;
}

/* Every trial of run is terminal, and the CANCELLED ones carry reason. Returns how many were
 * CANCELLED. */
static size_t assert_closed(const struct run *run, const char *reason)
{
    size_t cancelled = 0;
    for (size_t i = 0; i < run->n; i++) {
        if (!mp_trial_state_terminal(run->rows[i].state)) {
            fail_msg("trial %lld left %s", (long long)run->rows[i].number,
                     mp_trial_state_name(run->rows[i].state));
        }
        if (run->rows[i].state == MP_TRIAL_CANCELLED) {
            assert_string_equal(run->rows[i].reason, reason);
            cancelled++;
        }
    }
    return cancelled;
}

static void run_release(struct run *run)
{
    mp_trial_rows_free(run->rows, run->n);
    mp_store_close(run->st);
    memset(run, 0, sizeof(*run));
}

static void assert_unique(const struct run *run)
{
    struct mp_strset keys = MP_STRSET_INIT;
    for (size_t i = 0; i < run->n; i++) {
        if (!mp_strset_add(&keys, run->rows[i].config_key)) {
            fail_msg("configuration %s ran twice", run->rows[i].config_key);
        }
    }
    mp_strset_release(&keys);
}

static void same_seed_same_sequence(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 15, 1, NULL);
    struct run a = {0}, b = {0};
    struct fake_runner fa = {.fail_a = -1}, fb = {.fail_a = -1};
    run_engine(&a, spec, &fa, NULL, false);
    run_engine(&b, spec, &fb, NULL, false);
    assert_int_equal(a.n, 15);
    assert_int_equal(b.n, 15);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.rows[i].config_key, b.rows[i].config_key);
    }
    assert_unique(&a);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_string_equal(a.sum.stop_reason, "reached max_trials (15)");
    run_release(&a);
    run_release(&b);
    mp_spec_free(spec);
}

static void parallel_trials_never_duplicate(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 40, 4, NULL);
    struct run a = {0};
    struct fake_runner fa = {.fail_a = -1, .slow = true};
    run_engine(&a, spec, &fa, NULL, false);
    assert_int_equal(a.n, 40);
    assert_int_equal(fa.calls, 40);
    assert_unique(&a);
    run_release(&a);
    mp_spec_free(spec);
}

static void failures_are_infeasible_and_budgeted(void **state)
{
    (void)state;
    /* Minimising qps: a failed trial must never "win" with a fake 0. */
    struct mp_spec *spec = make_spec("grid", 50, 1, NULL);
    free(spec->objective_metric);
    spec->objective_metric = mp_xstrdup("qps");
    spec->direction = MP_MINIMIZE;
    struct run a = {0};
    struct fake_runner fa = {.fail_a = 1};
    spec->max_failed_trials = 10;
    run_engine(&a, spec, &fa, NULL, false);
    /* Grid order: the first 5 trials have a == 1 and fail; the rest succeed. */
    assert_int_equal(a.n, 50);
    assert_int_equal(a.sum.failed, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(a.rows[i].state, MP_TRIAL_FAILED);
        assert_int_equal(a.rows[i].failure, MP_FAILURE_OOM_KILLED);
        assert_int_equal(a.rows[i].metrics.n, 0);
    }
    run_release(&a);

    spec->max_failed_trials = 2;
    struct fake_runner fb = {.fail_a = 1};
    run_engine(&a, spec, &fb, NULL, false);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_FAILED);
    assert_int_equal(a.sum.failed, 3);
    assert_int_equal(a.n, 3);
    assert_non_null(strstr(a.sum.stop_reason, "max_failed_trials = 2"));
    run_release(&a);

    /* No trial succeeded: said without "(0 violated a constraint)" and, of one trial, without
     * "none of the 1 trials". */
    spec->max_failed_trials = 10;
    for (int64_t n = 1; n <= 4; n += 3) {
        spec->max_trials = n;
        struct fake_runner fc = {.fail_a = 1};
        run_engine(&a, spec, &fc, NULL, false);
        assert_int_equal(a.sum.state, MP_EXPERIMENT_FAILED);
        assert_string_equal(a.sum.stop_reason,
                            n == 1 ? "its one trial did not succeed: no configuration to recommend"
                                   : "none of the 4 trials succeeded: no configuration to "
                                     "recommend");
        run_release(&a);
    }
    mp_spec_free(spec);
}

static void constraints_mark_slo_violations(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("grid", 50, 1, "constraints: ['p99_ms <= 50']\n");
    struct run a = {0};
    struct fake_runner fa = {.fail_a = -1};
    run_engine(&a, spec, &fa, NULL, false);
    size_t violated = 0;
    for (size_t i = 0; i < a.n; i++) {
        if (a.rows[i].failure == MP_FAILURE_SLO_VIOLATED) {
            violated++;
            assert_int_equal(a.rows[i].state, MP_TRIAL_FAILED);
            double qps;
            assert_true(mp_metrics_get(&a.rows[i].metrics, "qps", &qps));
        }
    }
    assert_int_equal(violated, 25);                         /* a = 6..10 */
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED); /* SLO misses are not failures */
    run_release(&a);
    mp_spec_free(spec);
}

/* The spec of YAML text, searched as the engine checks it. */
static struct mp_spec *spec_of(const char *text)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(text, strlen(text), "e.yaml", NULL, NULL, 0, &spec, &err) != 0 ||
        mp_engine_validate_search(spec, &err) != 0) {
        fail_msg("spec: %s", err.msg);
    }
    return spec;
}

/* A spec of make_spec's space with parameter a the CPU cores (an int, or a float without a
 * step), priced at 0.1 per core-hour under the constraint cost_per_hour <= 0.4: a <= 4 alone. */
static struct mp_spec *priced_spec_to(const char *algo, int max_trials, bool finite, int max_a)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "name: e\n"
             "parameters:\n"
             "  - {name: a, type: %s, min: 1, max: %d, target: {resource: cpu}}\n"
             "  - {name: b, type: int, min: 1, max: 5}\n"
             "objective: {metric: qps}\n"
             "constraints: ['cost_per_hour <= 0.4']\n"
             "cost: {cpu_core_hour: 0.1}\n"
             "algorithm: {name: %s, max_trials: %d, parallelism: 2, seed: 11}\n"
             "runner: {kind: replay, surface: unused.csv}\n",
             finite ? "int" : "float", max_a, algo, max_trials);
    return spec_of(text);
}

static struct mp_spec *priced_spec(const char *algo, int max_trials, bool finite)
{
    return priced_spec_to(algo, max_trials, finite, 10);
}

/* A price limit that a sliver of a continuous space meets (a <= 4 of 1..100000): the samples
 * miss it, and random and bo end the search at once; they say why and what to do (it read as if
 * every configuration had been tried). */
static void priced_sliver_of_continuous_space(void **state)
{
    (void)state;
    static const char *const algos[] = {"random", "bo"};
    for (size_t k = 0; k < MP_ARRAY_LEN(algos); k++) {
        struct mp_spec *spec = priced_spec_to(algos[k], 8, false, 100000);
        struct run a = {0};
        struct fake_runner fa = {.fail_a = -1};
        run_engine(&a, spec, &fa, NULL, false);
        assert_int_equal(a.n, 0);
        if (!strstr(a.sum.stop_reason, "none of 1024 samples was untried and clear of a "
                                       "constraint on cost_per_hour: the configurations it "
                                       "leaves are too few to sample; narrow the parameters' "
                                       "ranges to them")) {
            fail_msg("%s: %s", algos[k], a.sum.stop_reason);
        }
        run_release(&a);
        mp_spec_free(spec);
    }
}

/* A configuration whose price alone breaks a constraint on cost_per_hour is never tried (every
 * one of its trials could only violate it): every algorithm, on a finite space until the
 * affordable configurations are exhausted, and on a continuous one. */
static void priced_out_configurations_are_skipped(void **state)
{
    (void)state;
    static const char *const algos[] = {"grid", "random", "bo"}; /* morphling: its own test */
    for (size_t k = 0; k < MP_ARRAY_LEN(algos); k++) {
        /* a an int, then a float (not for grid, which needs a finite space) */
        for (int finite = 1; finite >= (strcmp(algos[k], "grid") == 0); finite--) {
            struct mp_spec *spec = priced_spec(algos[k], finite ? 30 : 12, finite);
            struct run a = {0};
            struct fake_runner fa = {.fail_a = -1};
            run_engine(&a, spec, &fa, NULL, false);
            for (size_t i = 0; i < a.n; i++) {
                if (a.rows[i].failure == MP_FAILURE_SLO_VIOLATED) {
                    fail_msg("%s: trial %zu (%s) ran, priced out: %s", algos[k], i + 1,
                             a.rows[i].config_key, a.rows[i].reason);
                }
            }
            assert_unique(&a);
            /* 4 x 5 affordable configurations of 50; the float space: the budget. */
            assert_int_equal(a.n, finite ? 20 : 12);
            if (finite) {
                assert_string_equal(a.sum.stop_reason,
                                    "search space exhausted (all 50 configurations have been "
                                    "tried or break a constraint on cost_per_hour before a "
                                    "trial)");
            }
            run_release(&a);
            mp_spec_free(spec);
        }
    }
}

/* A search that ends with no trial succeeded says too that the untried configurations broke the
 * price limit: "none of the 4 trials succeeded" alone hid why it stopped after 4 of 30. */
static void priced_out_failure_says_exhausted(void **state)
{
    (void)state;
    const char *text = "name: e\n"
                       "parameters:\n"
                       "  - {name: a, type: int, min: 1, max: 10, target: {resource: cpu}}\n"
                       "objective: {metric: qps}\n"
                       "constraints: ['cost_per_hour <= 0.4', 'qps >= 1e9']\n"
                       "cost: {cpu_core_hour: 0.1}\n"
                       "algorithm: {name: grid, max_trials: 30, seed: 11}\n"
                       "runner: {kind: replay, surface: unused.csv}\n";
    struct mp_spec *spec = spec_of(text);
    struct run a = {0};
    struct fake_runner fa = {.fail_a = -1};
    run_engine(&a, spec, &fa, NULL, false);
    assert_int_equal(a.n, 4);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_FAILED);
    assert_string_equal(a.sum.stop_reason,
                        "none of the 4 trials succeeded (4 violated a constraint): no "
                        "configuration to recommend; search space exhausted (all 10 "
                        "configurations have been tried or break a constraint on cost_per_hour "
                        "before a trial)");
    run_release(&a);
    mp_spec_free(spec);
}

/* Grid skips the runs of configurations under a lower price limit (a scan of every one took
 * minutes per trial on large spaces) and still suggests, in enumeration order, every one that
 * meets it: b (unpriced) fastest, then a >= 7 of 1..10. */
static void grid_skips_priced_out_runs(void **state)
{
    (void)state;
    const char *text = "name: e\n"
                       "parameters:\n"
                       "  - {name: a, type: int, min: 1, max: 10, target: {resource: cpu}}\n"
                       "  - {name: b, type: int, min: 1, max: 5}\n"
                       "objective: {metric: qps}\n"
                       "constraints: ['cost_per_hour >= 0.7', 'cost_per_hour <= 0.9']\n"
                       "cost: {cpu_core_hour: 0.1}\n"
                       "algorithm: {name: grid, max_trials: 40, seed: 11}\n"
                       "runner: {kind: replay, surface: unused.csv}\n";
    struct mp_spec *spec = spec_of(text);
    struct run a = {0};
    struct fake_runner fa = {.fail_a = -1};
    run_engine(&a, spec, &fa, NULL, false);
    assert_int_equal(a.n, 15);
    for (size_t i = 0; i < a.n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "a=%zu,b=%zu", 7 + i / 5, 1 + i % 5);
        assert_string_equal(a.rows[i].config_key, want);
    }
    run_release(&a);
    mp_spec_free(spec);
}

static void exhausts_small_spaces(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 200, 3, NULL);
    struct run a = {0};
    struct fake_runner fa = {.fail_a = -1};
    run_engine(&a, spec, &fa, NULL, false);
    assert_int_equal(a.n, 50);
    assert_unique(&a);
    assert_non_null(strstr(a.sum.stop_reason, "search space exhausted"));
    run_release(&a);
    mp_spec_free(spec);
}

static void resumes_to_exactly_max_trials(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 20, 2, NULL);
    struct run ref = {0};
    struct fake_runner fr = {.fail_a = -1};
    run_engine(&ref, spec, &fr, NULL, false);

    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner f1 = {.fail_a = -1, .interrupt_after = 7};
    run_engine(&a, spec, &f1, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_INTERRUPTED);
    assert_true(a.n < 20);
    atomic_store(&cancel, false);
    struct fake_runner f2 = {.fail_a = -1};
    run_engine(&a, spec, &f2, &cancel, true);
    assert_true(a.sum.resumed);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(a.n, 20);
    assert_unique(&a);
    size_t terminal = 0;
    for (size_t i = 0; i < a.n; i++) {
        terminal += mp_trial_state_terminal(a.rows[i].state);
        /* The resumed run replays the uninterrupted sequence exactly. */
        assert_string_equal(a.rows[i].config_key, ref.rows[i].config_key);
    }
    assert_int_equal(terminal, 20);
    /* A finished experiment is not run again. */
    struct fake_runner f3 = {.fail_a = -1};
    run_engine(&a, spec, &f3, &cancel, true);
    assert_true(a.sum.already_finished);
    assert_int_equal(f3.calls, 0);
    run_release(&a);
    run_release(&ref);
    mp_spec_free(spec);
}

/* An interrupt raised while the last trial runs, which then finishes, interrupts nothing: the
 * experiment ends SUCCEEDED (it was left INTERRUPTED, "after 5 of 5 trials"). */
static void interrupt_after_the_last_trial(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 5, 1, NULL);
    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner fr = {.fail_a = -1, .interrupt_after = 5};
    run_engine(&a, spec, &fr, &cancel, false);
    assert_true(atomic_load(&cancel));
    assert_int_equal(a.n, 5);
    assert_string_equal(mp_experiment_state_name(a.sum.state), "SUCCEEDED");
    assert_string_equal(a.sum.stop_reason, "reached max_trials (5)");
    run_release(&a);
    mp_spec_free(spec);
}

/* Running spec on the store is refused as invalid, with a message containing want. */
static void assert_refused(struct mp_store *st, const struct mp_spec *spec, const char *want)
{
    struct fake_runner fr = {.fail_a = -1, .base.ops = &fake_ops, .base.spec = spec};
    struct mp_engine_summary sum;
    struct mp_error err = {0};
    assert_int_equal(
        mp_engine_run(st, spec, &(struct mp_engine_opts){.runner = &fr.base}, &sum, &err),
        MP_EINVALID);
    if (!strstr(err.msg, want)) {
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    }
}

/* A spec written otherwise that takes effect the same (`max` for `maximize`, a constraint's
 * spacing, a default written out, a duration in other units) continues the experiment: each was
 * refused as another spec. A change that takes effect is still refused, named as written. */
static void equivalent_spec_continues(void **state)
{
    (void)state;
    const char *const first[] = {"runner.trial_timeout=2s"};
    const char *const same[] = {"objective.direction=max", "runner.trial_timeout=2000ms",
                                "algorithm.confirm=false"};
    const char *const other[] = {"objective.direction=min", "runner.trial_timeout=2s"};
    struct mp_spec *a6 = make_spec_set("random", 6, 1, "constraints: ['qps >= 1']\n", first, 1);
    struct mp_spec *b8 = make_spec_set("random", 8, 1, "constraints: ['qps>=1.0']\n", same, 3);
    struct mp_spec *c8 = make_spec_set("random", 8, 1, "constraints: ['qps >= 1']\n", other, 2);
    struct run r = {0};
    struct fake_runner f1 = {.fail_a = -1}, f2 = {.fail_a = -1};
    run_engine(&r, a6, &f1, NULL, true);
    run_engine(&r, b8, &f2, NULL, true);
    assert_true(r.sum.resumed);
    assert_int_equal(f2.calls, 2);
    assert_int_equal(r.n, 8);
    assert_refused(r.st, c8, "(it differs at 'objective.direction')");
    run_release(&r);
    mp_spec_free(a6);
    mp_spec_free(b8);
    mp_spec_free(c8);
}

/* A spec that differs only in max_trials continues the experiment: a finished one runs the trials
 * a raised budget adds (the same sequence as a run with that budget from the start) and stores
 * the new spec; an interrupted one takes a lowered budget that is not below its trials. A budget
 * below the trials is refused, any other change too (it was refused for every change, so adding
 * trials to a finished experiment meant --restart and losing it). */
static void raised_budget_continues(void **state)
{
    (void)state;
    struct mp_spec *spec8 = make_spec("random", 8, 1, NULL);
    struct mp_spec *spec12 = make_spec("random", 12, 1, NULL);
    struct mp_spec *spec5 = make_spec("random", 5, 1, NULL);
    struct mp_spec *other = make_spec("random", 12, 1, "constraints: ['qps >= 1']\n");
    struct mp_spec *described = make_spec("random", 12, 1, "description: changed\n");
    struct run ref = {0};
    struct fake_runner fr = {.fail_a = -1};
    run_engine(&ref, spec12, &fr, NULL, false);

    struct run a = {0};
    struct fake_runner f1 = {.fail_a = -1};
    run_engine(&a, spec8, &f1, NULL, true);
    assert_int_equal(a.n, 8);
    struct fake_runner f2 = {.fail_a = -1};
    run_engine(&a, spec12, &f2, NULL, true);
    assert_true(a.sum.resumed);
    assert_false(a.sum.already_finished);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(f2.calls, 4);
    assert_int_equal(a.n, 12);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.rows[i].config_key, ref.rows[i].config_key);
    }
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, NULL), 0);
    assert_non_null(strstr(row.spec_json, "\"max_trials\":12"));
    mp_experiment_row_release(&row);

    /* The same budget again: finished, nothing runs; a lower one is refused, as is any other
     * change. */
    struct fake_runner f3 = {.fail_a = -1};
    run_engine(&a, spec12, &f3, NULL, true);
    assert_true(a.sum.already_finished);
    assert_int_equal(f3.calls, 0);
    assert_refused(a.st, spec8, "has 12 trials already; max_trials = 8 is below them");
    assert_refused(a.st, other, "with a different spec (it differs at 'constraints')");
    /* A description is free text morphling ignores: changed, the experiment stands (it was
     * refused, so that a typo fixed meant --restart). */
    struct fake_runner f4 = {.fail_a = -1};
    run_engine(&a, described, &f4, NULL, true);
    assert_true(a.sum.already_finished);
    assert_int_equal(f4.calls, 0);
    run_release(&a);

    /* Interrupted after 7: a budget of 5 is below them, one of 9 ends it at 9. */
    atomic_bool cancel = false;
    struct run b = {0};
    struct fake_runner g1 = {.fail_a = -1, .interrupt_after = 7};
    run_engine(&b, spec12, &g1, &cancel, true);
    assert_int_equal(b.sum.state, MP_EXPERIMENT_INTERRUPTED);
    atomic_store(&cancel, false);
    assert_refused(b.st, spec5, "max_trials = 5 is below them");
    struct mp_spec *spec9 = make_spec("random", 9, 1, NULL);
    struct fake_runner g3 = {.fail_a = -1};
    run_engine(&b, spec9, &g3, &cancel, true);
    assert_int_equal(b.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(b.n, 9);
    run_release(&b);
    run_release(&ref);
    mp_spec_free(spec9);
    mp_spec_free(other);
    mp_spec_free(described);
    mp_spec_free(spec5);
    mp_spec_free(spec12);
    mp_spec_free(spec8);
}

/* make_spec's grid of max_trials with algorithm.max_failed_trials set. */
static struct mp_spec *grid_failing(int max_trials, int max_failed)
{
    char set[64];
    snprintf(set, sizeof(set), "algorithm.max_failed_trials=%d", max_failed);
    const char *sets[] = {set};
    return make_spec_set("grid", max_trials, 1, NULL, sets, 1);
}

/* An experiment stopped by max_failed_trials (the service was broken for a while) continues under
 * a raised one, as under a raised max_trials (it was refused as another spec, so going on meant
 * --restart and losing its trials); one below the failures so far is refused, and so is a raised
 * max_trials alone, which would stop again at once. */
static void raised_failure_budget_continues(void **state)
{
    (void)state;
    struct mp_spec *strict = grid_failing(12, 2), *lenient = grid_failing(12, 10);
    struct mp_spec *stricter = grid_failing(12, 1), *longer = grid_failing(20, 2);
    struct run a = {0};
    struct fake_runner f1 = {.fail_a = 1}; /* grid order: the first 5 trials fail */
    run_engine(&a, strict, &f1, NULL, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_FAILED);
    assert_int_equal(a.n, 3);
    assert_refused(a.st, stricter, "has 3 failed trials already; max_failed_trials = 1 is below");
    assert_refused(a.st, longer, "max_failed_trials = 2 is below them");
    struct fake_runner f2 = {.fail_a = 1};
    run_engine(&a, lenient, &f2, NULL, true);
    assert_true(a.sum.resumed);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(a.n, 12);
    assert_int_equal(f2.calls, 9);
    assert_int_equal(a.sum.failed, 5);
    run_release(&a);
    mp_spec_free(strict);
    mp_spec_free(lenient);
    mp_spec_free(stricter);
    mp_spec_free(longer);
}

/* The trial numbers of the experiment's new_best events, as "1 3 7 ". Owned. */
static char *new_bests(const struct run *run)
{
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(run->st, run->sum.experiment_id, 0, 1000, &ev, &n, NULL),
                     0);
    char *out = mp_xcalloc(n * 24 + 1, 1);
    for (size_t i = 0, len = 0; i < n; i++) {
        if (strcmp(ev[i].kind, mp_engine_event_name(MP_EVENT_NEW_BEST)) == 0) {
            len += (size_t)snprintf(out + len, 24, "%lld ", (long long)ev[i].trial_number);
        }
    }
    mp_event_rows_free(ev, n);
    return out;
}

/* An infinite objective (a service's metric can be +Inf) is no value, fresh or read back from
 * the store: after a resume, later trials still become the best (new_best events, progress) as
 * in the uninterrupted run, and the search suggests the same configurations. */
static void infinite_values_count_for_nothing(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("bo", 10, 1, NULL);
    struct run ref = {0};
    struct fake_runner fr = {.fail_a = -1, .inf_at = 2};
    run_engine(&ref, spec, &fr, NULL, true);
    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner f1 = {.fail_a = -1, .inf_at = 2, .interrupt_after = 4};
    run_engine(&a, spec, &f1, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_INTERRUPTED);
    atomic_store(&cancel, false);
    struct fake_runner f2 = {.fail_a = -1};
    run_engine(&a, spec, &f2, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(a.n, ref.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.rows[i].config_key, ref.rows[i].config_key);
    }
    char *want = new_bests(&ref), *got = new_bests(&a);
    assert_null(strstr(want, " 2 "));
    assert_string_equal(got, want);
    free(want);
    free(got);
    assert_int_equal(a.sum.recommended, ref.sum.recommended);
    run_release(&a);
    run_release(&ref);
    mp_spec_free(spec);
}

/* --restart never deletes an experiment a live process is running: that process would go on
 * writing its results into the new experiment (SQLite reuses the id), onto trials of other
 * configurations. Our parent stands for that process. */
static void restart_refuses_a_live_owner(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 6, 1, NULL);
    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner f1 = {.fail_a = -1, .interrupt_after = 3};
    run_engine(&a, spec, &f1, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_INTERRUPTED);
    size_t before = a.n;
    int64_t id = a.sum.experiment_id;
    struct mp_error err = {0};
    assert_int_equal(mp_store_experiment_claim(a.st, id, getppid(), 60000, &err), 0);

    struct fake_runner f2 = {.fail_a = -1, .base = {.ops = &fake_ops, .spec = spec}};
    struct mp_engine_opts o = {.restart = true, .runner = &f2.base};
    struct mp_engine_summary sum;
    assert_int_equal(mp_engine_run(a.st, spec, &o, &sum, &err), MP_EBUSY);
    assert_non_null(strstr(err.msg, "is being run by process"));
    assert_int_equal(f2.calls, 0);
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_trial_list(a.st, id, &rows, &n, NULL), 0);
    assert_int_equal(n, before);
    mp_trial_rows_free(rows, n);

    /* Once that process is gone (released), --restart replaces the experiment. */
    assert_int_equal(mp_store_experiment_release(a.st, id, &err), 0);
    struct fake_runner f3 = {.fail_a = -1};
    run_engine_opts(&a, spec, &f3, (struct mp_engine_opts){.restart = true}, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(a.n, 6);
    assert_int_equal(f3.calls, 6);
    run_release(&a);
    mp_spec_free(spec);
}

/* The claim's heartbeat is renewed while a trial runs: it was only renewed after each trial,
 * so a trial longer than the claim's 60 s let a second `run` take a live, healthy run over
 * (measured: a replay trial of 66 s, a second run started after 63 s took it over; the first
 * exited 1 saying it had been stopped). */
static void heartbeat_beats_during_a_trial(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 2, 1, NULL);
    char *path = mp_xasprintf("/tmp/mp-test-engine-%d.db", (int)getpid());
    struct run a = {0};
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &a.st, &err), 0);
    struct fake_runner fr = {.fail_a = -1, .beat_db = path};
    run_engine_opts(&a, spec, &fr, (struct mp_engine_opts){.heartbeat_ms = 10}, false);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_true(fr.saw_beat);
    run_release(&a);
    remove_db(path);
    mp_spec_free(spec);
}

/* Two runs of a new spec started together: both find no experiment, one creates it first.
 * The other said "experiment 'e' already exists" (exit 1, about one such pair in five); it
 * continues the one just created instead, whose claim then decides which of the two runs it.
 * Here the other run has inserted the experiment and commits 200 ms later: our lookup does not
 * see it, our insert waits for its commit. */
static void *commit_later(void *p)
{
    usleep(200000);
    assert_int_equal(sqlite3_exec(p, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    return NULL;
}

static void experiment_created_meanwhile(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 4, 1, NULL);
    char *path = mp_xasprintf("/tmp/mp-test-engine-%d.db", (int)getpid());
    struct run a = {0};
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &a.st, &err), 0);
    char *json = mp_spec_to_json(spec);
    char *sql = mp_xasprintf("BEGIN IMMEDIATE; INSERT INTO experiments(name, spec_json, "
                             "spec_hash, state, seed, created_at_ns, updated_at_ns) VALUES "
                             "('e', '{}', '%016llx', 'CREATED', 11, 1, 1)",
                             (unsigned long long)mp_hash_str(json));
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, sql, NULL, NULL, NULL), SQLITE_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, commit_later, other), 0);
    struct fake_runner fr = {.fail_a = -1};
    run_engine(&a, spec, &fr, NULL, true);
    pthread_join(t, NULL);
    sqlite3_close(other);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_false(a.sum.resumed);
    assert_int_equal(a.n, 4);
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_experiment_list(a.st, &rows, &n, NULL), 0);
    assert_int_equal(n, 1);
    mp_experiment_rows_free(rows, n);
    run_release(&a);
    remove_db(path);
    free(sql);
    free(json);
    mp_spec_free(spec);
}

/* An experiment created first (as the API does) starts, with the spec's seed; it does not
 * resume. */
static void created_experiment_starts(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 5, 1, NULL);
    struct run a = {0};
    struct mp_error err = {0};
    int64_t id = 0;
    assert_int_equal(mp_store_open(":memory:", NULL, &a.st, &err), 0);
    assert_int_equal(mp_engine_create(a.st, spec, &id, &err), 0);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, &err), 0);
    assert_int_equal(row.seed, 11);
    assert_int_equal(row.state, MP_EXPERIMENT_CREATED);
    mp_experiment_row_release(&row);
    struct fake_runner fr = {.fail_a = -1};
    run_engine(&a, spec, &fr, NULL, true);
    assert_int_equal(a.sum.experiment_id, id);
    assert_false(a.sum.resumed);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    char *kind = first_event(a.st, id);
    assert_string_equal(kind, "experiment_started");
    free(kind);
    run_release(&a);
    mp_spec_free(spec);
}

/* A store that lacks a number below its last (the operator's cache, rebuilt from Trial objects
 * after trial 1's could not be created while trial 2's was): the next trial takes the missing
 * number, the one after goes on past the last. It was numbered 3, trial 1 never existed. */
static void a_missing_number_is_given_again(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 3, 1, NULL);
    struct run a = {0};
    struct mp_error err = {0};
    int64_t id = 0, attempt = 0;
    assert_int_equal(mp_store_open(":memory:", NULL, &a.st, &err), 0);
    assert_int_equal(mp_engine_create(a.st, spec, &id, &err), 0);
    double x[2] = {7, 3};
    char *params = mp_space_config_json(&spec->space, x);
    char *key = mp_space_key(&spec->space, x);
    assert_int_equal(mp_store_trial_create(a.st, id, 2, params, key, &err), 0);
    assert_int_equal(mp_store_trial_start(a.st, id, 2, &attempt, &err), 0);
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    res.state = MP_TRIAL_SUCCEEDED;
    mp_metrics_set(&res.metrics, "qps", 100);
    assert_int_equal(mp_store_trial_finish(a.st, id, 2, &res, &err), 0);
    mp_trial_result_release(&res);
    struct fake_runner fr = {.fail_a = -1};
    run_engine(&a, spec, &fr, NULL, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(fr.calls, 2);
    assert_int_equal(a.n, 3);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.rows[i].number, (int64_t)i + 1);
        assert_string_equal(mp_trial_state_name(a.rows[i].state), "SUCCEEDED");
    }
    assert_string_equal(a.rows[1].config_key, key);
    free(params);
    free(key);
    run_release(&a);
    mp_spec_free(spec);
}

/* A final cancel ends the experiment CANCELLED, the trial it stopped included. */
static void final_cancel_closes_the_experiment(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 20, 1, NULL);
    atomic_bool cancel = false, final = true;
    struct run a = {0};
    struct fake_runner fr = {.fail_a = -1, .interrupt_after = 4, .cancel_in_run = true};
    struct mp_engine_opts o = {
        .cancel = &cancel, .cancel_final = &final, .cancel_reason = "cancelled through the API"};
    run_engine_opts(&a, spec, &fr, o, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_CANCELLED);
    assert_string_equal(a.sum.stop_reason, "cancelled through the API");
    assert_int_equal(a.n, 4);
    assert_int_equal(assert_closed(&a, "experiment cancelled through the API"), 1);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_CANCELLED);
    mp_experiment_row_release(&row);
    run_release(&a);
    mp_spec_free(spec);
}

/* Without the final flag the same stop leaves the experiment resumable; mp_engine_cancel then
 * ends it for good. */
static void cancel_ends_an_interrupted_experiment(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 20, 1, NULL);
    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner fr = {.fail_a = -1, .interrupt_after = 3, .cancel_in_run = true};
    run_engine(&a, spec, &fr, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_INTERRUPTED);
    assert_int_equal(a.rows[2].state, MP_TRIAL_RUNNING);
    struct mp_error err = {0};
    assert_int_equal(mp_engine_cancel(a.st, a.sum.experiment_id, "stopped", &err), 0);
    mp_trial_rows_free(a.rows, a.n);
    assert_int_equal(mp_store_trial_list(a.st, a.sum.experiment_id, &a.rows, &a.n, NULL), 0);
    assert_int_equal(assert_closed(&a, "experiment stopped"), 1);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_CANCELLED);
    assert_string_equal(row.stop_reason, "stopped");
    mp_experiment_row_release(&row);
    run_release(&a);
    mp_spec_free(spec);
}

/* A cancelled experiment whose cancel closed a trial in flight is not continued by a raised
 * max_trials: the trial was never measured and its configuration cannot run again, so the search
 * went on without it (a grid skipped it: not the trials of a run with that budget from the
 * start). One cancelled before any trial ran continues. */
static void cancelled_is_not_continued(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("grid", 6, 1, NULL);
    struct mp_spec *more = make_spec("grid", 8, 1, NULL);
    atomic_bool cancel = false;
    struct run a = {0};
    struct fake_runner fr = {.fail_a = -1, .interrupt_after = 3, .cancel_in_run = true};
    run_engine(&a, spec, &fr, &cancel, true);
    struct mp_error err = {0};
    assert_int_equal(mp_engine_cancel(a.st, a.sum.experiment_id, "stopped", &err), 0);
    assert_refused(a.st, more, "was cancelled with 1 trial in flight, never measured");
    /* The same spec reports it, as any finished experiment. */
    atomic_store(&cancel, false);
    struct fake_runner f2 = {.fail_a = -1};
    run_engine(&a, spec, &f2, &cancel, true);
    assert_true(a.sum.already_finished);
    assert_int_equal(f2.calls, 0);
    run_release(&a);

    struct run b = {0};
    assert_int_equal(mp_store_open(":memory:", NULL, &b.st, &err), 0);
    int64_t id = 0;
    assert_int_equal(mp_engine_create(b.st, spec, &id, &err), 0);
    assert_int_equal(mp_engine_cancel(b.st, id, "stopped", &err), 0);
    struct fake_runner f3 = {.fail_a = -1};
    run_engine(&b, more, &f3, &cancel, true);
    assert_int_equal(b.sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(b.n, 8);
    run_release(&b);
    mp_spec_free(more);
    mp_spec_free(spec);
}

/* A process that claimed the experiment after the caller saw none drive it (serve's cancel
 * checks, then cancels: a `morphling run` resuming it in between) keeps it: mp_engine_cancel
 * claims first and is refused, instead of closing the run's trials and ending the experiment
 * CANCELLED under it. */
static void cancel_refuses_a_live_owner(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 20, 1, NULL);
    char *path = mp_xasprintf("/tmp/mp-test-engine-%d.db", (int)getpid());
    atomic_bool cancel = false;
    struct run a = {0};
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &a.st, &err), 0);
    struct fake_runner fr = {.fail_a = -1, .interrupt_after = 3, .cancel_in_run = true};
    run_engine(&a, spec, &fr, &cancel, true);
    assert_int_equal(a.sum.state, MP_EXPERIMENT_INTERRUPTED);
    struct mp_store *other = NULL;
    assert_int_equal(mp_store_open(path, NULL, &other, &err), 0);
    assert_int_equal(mp_store_experiment_claim(other, a.sum.experiment_id, (int64_t)getppid(),
                                               MP_STORE_STALE_MS, &err),
                     0);
    assert_int_equal(mp_engine_cancel(a.st, a.sum.experiment_id, "stopped", &err), MP_EBUSY);
    assert_non_null(strstr(err.msg, "being run by process"));
    mp_error_clear(&err);
    mp_trial_rows_free(a.rows, a.n);
    assert_int_equal(mp_store_trial_list(a.st, a.sum.experiment_id, &a.rows, &a.n, NULL), 0);
    assert_int_equal(a.rows[2].state, MP_TRIAL_RUNNING);
    struct mp_experiment_row row = {0};
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, NULL), 0);
    assert_int_not_equal(row.state, MP_EXPERIMENT_CANCELLED);
    assert_int_equal(row.owner_pid, (int64_t)getppid());
    mp_experiment_row_release(&row);
    /* Released, it is cancelled, and the claim taken for that is given back. */
    assert_int_equal(mp_store_experiment_release(other, a.sum.experiment_id, &err), 0);
    assert_int_equal(mp_engine_cancel(a.st, a.sum.experiment_id, "stopped", &err), 0);
    assert_int_equal(mp_store_experiment_find(a.st, "e", &row, NULL), 0);
    assert_int_equal(row.state, MP_EXPERIMENT_CANCELLED);
    assert_int_equal(row.owner_pid, 0);
    mp_experiment_row_release(&row);
    mp_store_close(other);
    run_release(&a);
    remove_db(path);
    mp_spec_free(spec);
}

/* A runner this build lacks is named with the ones it has. */
static void unknown_runner_lists_the_build(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 5, 1, NULL);
    free(spec->runner);
    spec->runner = mp_xstrdup("docker");
    struct mp_error err = {0};
    assert_int_equal(mp_engine_validate(spec, &err), MP_EUNSUPPORTED);
    if (!strstr(err.msg, "runner 'docker' is not available in this build (available: replay, "
                         "local, kubernetes)")) {
        fail_msg("message: %s", err.msg);
    }
    mp_spec_free(spec);
}

/* A run error stops the run (INTERRUPTED, resumable) after the trial that raised it; its
 * result is stored when it is a verdict, else the trial stays RUNNING and runs again. */
static void run_error_stops_the_run(void **state)
{
    (void)state;
    for (int failed = 0; failed < 2; failed++) {
        struct mp_spec *spec = make_spec("random", 4, 1, NULL);
        struct fake_runner fr = {.fail_a = -1, .run_error_at = 2, .run_error_failed = failed};
        struct run run = {0};
        struct mp_error err = {0};
        assert_int_equal(mp_store_open(":memory:", NULL, &run.st, &err), 0);
        fr.base.ops = &fake_ops;
        fr.base.spec = spec;
        struct mp_engine_opts o = {.runner = &fr.base};
        assert_int_equal(mp_engine_run(run.st, spec, &o, &run.sum, &err), MP_ERUNTIME);
        assert_string_equal(err.msg, "trial 2: forbidden, objects left");
        assert_int_equal(fr.calls, 2); /* not retried, no third trial */
        assert_int_equal(
            mp_store_trial_list(run.st, run.sum.experiment_id, &run.rows, &run.n, NULL), 0);
        assert_int_equal(run.n, 2);
        assert_string_equal(mp_trial_state_name(run.rows[1].state),
                            failed ? "RUNNING" : "SUCCEEDED");
        struct mp_experiment_row row = {0};
        assert_int_equal(mp_store_experiment_find(run.st, "e", &row, NULL), 0);
        assert_string_equal(mp_experiment_state_name(row.state), "INTERRUPTED");
        mp_experiment_row_release(&row);
        /* Resumed: the rest of the experiment, the unfinished trial at its next attempt. */
        fr.run_error_at = 0;
        mp_error_clear(&err);
        run_engine(&run, spec, &fr, NULL, false);
        assert_int_equal(run.n, 4);
        for (size_t i = 0; i < run.n; i++) {
            assert_string_equal(mp_trial_state_name(run.rows[i].state), "SUCCEEDED");
        }
        assert_int_equal(run.rows[1].attempt, failed ? 1 : 0);
        mp_trial_rows_free(run.rows, run.n);
        mp_spec_free(spec);
    }
}

/* A trial that fails INFRA while the run stops on another trial's run error is not retried
 * (a new attempt would start in a run that is ending): it stays RUNNING and runs again when the
 * run resumes. The INFRA one fails only once the other's verdict is stored, so the engine has
 * seen the run error first. */
static void no_retry_after_a_run_error(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 4, 2, NULL);
    char *path = mp_xasprintf("/tmp/mp-test-engine-%d.db", (int)getpid());
    struct run run = {0};
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(path, NULL, &run.st, &err), 0);
    struct fake_runner fr = {.fail_a = -1, .finished_db = path, .run_error_at = 2};
    fr.base.ops = &fake_ops;
    fr.base.spec = spec;
    struct mp_engine_opts o = {.runner = &fr.base};
    assert_int_equal(mp_engine_run(run.st, spec, &o, &run.sum, &err), MP_ERUNTIME);
    assert_true(fr.saw_finished);
    assert_int_equal(fr.calls, 2); /* no retry */
    assert_int_equal(mp_store_trial_list(run.st, run.sum.experiment_id, &run.rows, &run.n, NULL),
                     0);
    assert_int_equal(run.n, 2);
    size_t running = 0;
    for (size_t i = 0; i < run.n; i++) {
        running += run.rows[i].state == MP_TRIAL_RUNNING;
    }
    assert_int_equal(running, 1);
    fr.finished_db = NULL;
    fr.run_error_at = 0;
    run_engine(&run, spec, &fr, NULL, false);
    assert_int_equal(run.n, 4);
    for (size_t i = 0; i < run.n; i++) {
        assert_string_equal(mp_trial_state_name(run.rows[i].state), "SUCCEEDED");
    }
    run_release(&run);
    remove_db(path);
    mp_spec_free(spec);
}

/* An attempt the runner could not complete (INFRA, a negative return) runs again under the same
 * number; the retry event keeps its reason, and its result (reason, meta) is released before the
 * next attempt fills a fresh one (the sanitizer build's leak check sees it). */
static void infra_failure_is_retried(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 3, 1, NULL);
    struct fake_runner fr = {.fail_a = -1, .infra_at = 2};
    struct run run = {0};
    run_engine(&run, spec, &fr, NULL, true);
    assert_int_equal(fr.calls, 4);
    assert_int_equal(run.n, 3);
    for (size_t i = 0; i < run.n; i++) {
        assert_string_equal(mp_trial_state_name(run.rows[i].state), "SUCCEEDED");
    }
    assert_int_equal(run.rows[1].attempt, 1);
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(run.st, run.sum.experiment_id, 0, 1000, &ev, &n, NULL), 0);
    int retries = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(ev[i].kind, "trial_retry") == 0) {
            retries++;
            assert_int_equal(ev[i].trial_number, 2);
            assert_non_null(strstr(ev[i].detail_json, "the node went away"));
        }
    }
    assert_int_equal(retries, 1);
    mp_event_rows_free(ev, n);
    mp_trial_rows_free(run.rows, run.n);
    mp_store_close(run.st);
    mp_spec_free(spec);
}

/* An attempt that fails INFRA after the interrupt is not retried then (no new attempt starts
 * while the user waits for the stop): the trial stays RUNNING at its attempt and runs again when
 * the experiment continues. */
static void infra_failure_after_interrupt_waits_for_resumption(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("random", 3, 1, NULL);
    struct fake_runner fr = {.fail_a = -1, .infra_at = 2, .interrupt_after = 2};
    struct run run = {0};
    atomic_bool cancel = false;
    run_engine(&run, spec, &fr, &cancel, true);
    assert_string_equal(mp_experiment_state_name(run.sum.state), "INTERRUPTED");
    assert_int_equal(run.n, 2);
    assert_string_equal(mp_trial_state_name(run.rows[1].state), "RUNNING");
    assert_int_equal(run.rows[1].attempt, 0);
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(run.st, run.sum.experiment_id, 0, 1000, &ev, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(ev[i].kind, "trial_retry");
    }
    mp_event_rows_free(ev, n);
    /* Resumed: trial 2 at its next attempt, then trial 3. */
    atomic_store(&cancel, false);
    struct fake_runner fr2 = {.fail_a = -1};
    run_engine(&run, spec, &fr2, &cancel, false);
    assert_int_equal(run.n, 3);
    for (size_t i = 0; i < run.n; i++) {
        assert_string_equal(mp_trial_state_name(run.rows[i].state), "SUCCEEDED");
    }
    assert_int_equal(run.rows[1].attempt, 1);
    mp_trial_rows_free(run.rows, run.n);
    mp_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_seed_same_sequence),
        cmocka_unit_test(parallel_trials_never_duplicate),
        cmocka_unit_test(failures_are_infeasible_and_budgeted),
        cmocka_unit_test(constraints_mark_slo_violations),
        cmocka_unit_test(priced_out_configurations_are_skipped),
        cmocka_unit_test(priced_out_failure_says_exhausted),
        cmocka_unit_test(priced_sliver_of_continuous_space),
        cmocka_unit_test(grid_skips_priced_out_runs),
        cmocka_unit_test(exhausts_small_spaces),
        cmocka_unit_test(resumes_to_exactly_max_trials),
        cmocka_unit_test(interrupt_after_the_last_trial),
        cmocka_unit_test(raised_budget_continues),
        cmocka_unit_test(equivalent_spec_continues),
        cmocka_unit_test(raised_failure_budget_continues),
        cmocka_unit_test(cancelled_is_not_continued),
        cmocka_unit_test(infinite_values_count_for_nothing),
        cmocka_unit_test(restart_refuses_a_live_owner),
        cmocka_unit_test(heartbeat_beats_during_a_trial),
        cmocka_unit_test(created_experiment_starts),
        cmocka_unit_test(a_missing_number_is_given_again),
        cmocka_unit_test(final_cancel_closes_the_experiment),
        cmocka_unit_test(cancel_ends_an_interrupted_experiment),
        cmocka_unit_test(cancel_refuses_a_live_owner),
        cmocka_unit_test(unknown_runner_lists_the_build),
        cmocka_unit_test(run_error_stops_the_run),
        cmocka_unit_test(no_retry_after_a_run_error),
        cmocka_unit_test(infra_failure_is_retried),
        cmocka_unit_test(infra_failure_after_interrupt_waits_for_resumption),
        cmocka_unit_test(experiment_created_meanwhile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
