/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/operator: the work queue (one entry per key however many changes, never
 * handed out twice at once, a change during processing comes back after done, per-key
 * exponential backoff, shutdown), the experiment's finished test and the spec a run goes on
 * with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "operator/op_int.h"

static char *get(struct op_queue *q)
{
    int64_t added = 0;
    return op_queue_get(q, &added);
}

static void queue_dedups_and_orders(void **state)
{
    (void)state;
    struct op_queue q;
    op_queue_init(&q);
    op_queue_add(&q, "ns/a");
    op_queue_add(&q, "ns/b");
    op_queue_add(&q, "ns/a"); /* already queued: no second entry, keeps its place */
    char *k1 = get(&q), *k2 = get(&q);
    assert_string_equal(k1, "ns/a");
    assert_string_equal(k2, "ns/b");
    op_queue_done(&q, k1);
    op_queue_done(&q, k2);
    assert_int_equal(q.n, 0); /* keys with nothing pending are forgotten */
    free(k1);
    free(k2);
    op_queue_release(&q);
}

struct getter {
    struct op_queue *q;
    char *key;
};

static void *get_thread(void *p)
{
    struct getter *g = p;
    g->key = get(g->q);
    return NULL;
}

static void queue_never_hands_a_key_out_twice(void **state)
{
    (void)state;
    struct op_queue q;
    op_queue_init(&q);
    op_queue_add(&q, "ns/a");
    char *k = get(&q);
    op_queue_add(&q, "ns/a"); /* changed while processing: comes back only after done */
    struct getter g = {&q, NULL};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, get_thread, &g), 0);
    pthread_mutex_lock(&q.lock);
    bool dirty = q.n == 1 && q.items[0].dirty && q.items[0].processing;
    pthread_mutex_unlock(&q.lock);
    assert_true(dirty);
    op_queue_done(&q, k);
    pthread_join(t, NULL);
    assert_non_null(g.key);
    assert_string_equal(g.key, "ns/a");
    op_queue_done(&q, g.key);
    free(k);
    free(g.key);
    op_queue_release(&q);
}

static void queue_backs_off_per_key(void **state)
{
    (void)state;
    struct op_queue q;
    op_queue_init(&q);
    op_queue_add(&q, "ns/a");
    char *k = get(&q);
    for (int i = 0; i < 5; i++) {
        op_queue_fail(&q, k); /* backoffs of 5, 10, 20, 40 and 80 ms */
    }
    pthread_mutex_lock(&q.lock);
    unsigned failures = q.items[0].failures;
    int64_t wait_ns = q.items[0].ready_ns - mp_mono_ns();
    pthread_mutex_unlock(&q.lock);
    assert_int_equal(failures, 5);
    /* Each fail queues at its own backoff; the earliest (the first, 5 ms) wins. */
    assert_true(wait_ns <= 5 * 1000000);
    op_queue_done(&q, k);
    free(k);
    k = get(&q); /* comes back after the backoff */
    assert_string_equal(k, "ns/a");
    op_queue_fail(&q, k);
    pthread_mutex_lock(&q.lock);
    wait_ns = q.items[0].ready_ns - mp_mono_ns();
    pthread_mutex_unlock(&q.lock);
    assert_true(wait_ns > 100 * 1000000); /* the 6th failure: 5 ms << 5 = 160 ms */
    op_queue_forget(&q, k);
    pthread_mutex_lock(&q.lock);
    failures = q.items[0].failures;
    pthread_mutex_unlock(&q.lock);
    assert_int_equal(failures, 0);
    op_queue_done(&q, k);
    free(k);
    op_queue_shutdown(&q);
    assert_null(get(&q)); /* shut down: no more keys, even a delayed one */
    op_queue_release(&q);
}

static void finished_experiments(void **state)
{
    (void)state;
    json_t *pe = json_pack("{s:{s:[{s:s, s:s}, {s:s, s:s}]}}", "status", "conditions", "type",
                           "Created", "status", "True", "type", "Running", "status", "True");
    assert_false(op_pe_finished(pe));
    json_t *conds = json_object_get(json_object_get(pe, "status"), "conditions");
    json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "Succeeded", "status", "False"));
    assert_false(op_pe_finished(pe));
    json_array_append_new(conds, json_pack("{s:s, s:s}", "type", "Failed", "status", "True"));
    assert_true(op_pe_finished(pe));
    json_decref(pe);
    assert_false(op_pe_finished(NULL));
}

/* A run goes on with status.runSpec, whatever the spec says now; without one, the spec. */
static void runs_keep_their_spec(void **state)
{
    (void)state;
    json_t *pe = json_pack("{s:s, s:{s:s}, s:{s:i}}", "kind", "ProfilingExperiment", "metadata",
                           "name", "e", "spec", "maxNumTrials", 4);
    json_t *run = op_pe_for_run(pe);
    assert_ptr_equal(run, pe);
    json_decref(run);
    json_object_set_new(pe, "status", json_pack("{s:{s:i}}", "runSpec", "maxNumTrials", 8));
    run = op_pe_for_run(pe);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(run, "spec"), "maxNumTrials")), 8);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(run, "metadata"), "name")), "e");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(pe, "spec"), "maxNumTrials")), 4);
    json_decref(run);
    json_decref(pe);
}

/* A status's name lists keep the last OP_STATUS_MAX_NAMES names of each state; the counts are
 * complete (25,000 trials' names made an object over the API server's 1.5 MiB limit). */
static void status_lists_are_bounded(void **state)
{
    (void)state;
    size_t n = OP_STATUS_MAX_NAMES * 2 + 10;
    struct op_trec *t = calloc(n, sizeof(*t));
    for (size_t i = 0; i < n; i++) {
        t[i].number = (int64_t)i + 1;
        t[i].state = i % 2 ? MP_TRIAL_FAILED : MP_TRIAL_SUCCEEDED;
        t[i].name = mp_xasprintf("exp-%zu", i + 1);
    }
    t[n - 1].state = MP_TRIAL_RUNNING;
    json_t *s = json_object();
    op_status_trial_lists(t, n, s);
    assert_int_equal(json_integer_value(json_object_get(s, "trialsTotal")), n);
    assert_int_equal(json_integer_value(json_object_get(s, "trialsSucceeded")), n / 2);
    assert_int_equal(json_integer_value(json_object_get(s, "trialsFailed")), n / 2 - 1);
    const json_t *ok = json_object_get(s, "succeededTrialList");
    assert_int_equal(json_array_size(ok), OP_STATUS_MAX_NAMES);
    assert_string_equal(json_string_value(json_array_get(ok, OP_STATUS_MAX_NAMES - 1)),
                        "exp-2009"); /* the last succeeded, in trial order */
    assert_string_equal(json_string_value(json_array_get(ok, 0)), "exp-11");
    const json_t *run = json_object_get(s, "runningTrialList");
    assert_int_equal(json_array_size(run), 1);
    assert_string_equal(json_string_value(json_array_get(run, 0)), "exp-2010");
    assert_int_equal(json_array_size(json_object_get(s, "killedTrialList")), 0);
    json_decref(s);
    for (size_t i = 0; i < n; i++) {
        free(t[i].name);
    }
    free(t);
}

/* The run's trial table is in number order whatever order its trials come in (parallel trials
 * whose Trials are created out of order, or Trials listed by name after a restart: exp-10 before
 * exp-2), so that the status lists are too, and keep the last names by number: they read
 * exp-2, exp-1, exp-3. */
static void trial_table_in_number_order(void **state)
{
    (void)state;
    struct op_exp x;
    memset(&x, 0, sizeof(x));
    char name[] = "exp";
    x.name = name;
    static const int64_t order[] = {2, 1, 10, 3, 11};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        struct op_trec *t = op_trec(&x, order[i]);
        assert_int_equal(t->number, order[i]);
        t->state = MP_TRIAL_SUCCEEDED;
    }
    assert_ptr_equal(op_trec(&x, 3), op_trec_find(&x, 3));
    assert_int_equal(x.n_trials, 5);
    json_t *s = json_object();
    op_status_trial_lists(x.trials, x.n_trials, s);
    char *list = json_dumps(json_object_get(s, "succeededTrialList"), JSON_COMPACT);
    assert_string_equal(list, "[\"exp-1\",\"exp-2\",\"exp-3\",\"exp-10\",\"exp-11\"]");
    free(list);
    json_decref(s);
    for (size_t i = 0; i < x.n_trials; i++) {
        free(x.trials[i].name);
    }
    free(x.trials);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queue_dedups_and_orders),
        cmocka_unit_test(queue_never_hands_a_key_out_twice),
        cmocka_unit_test(queue_backs_off_per_key),
        cmocka_unit_test(finished_experiments),
        cmocka_unit_test(runs_keep_their_spec),
        cmocka_unit_test(status_lists_are_bounded),
        cmocka_unit_test(trial_table_in_number_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
