/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the example server's batching queue: limits, batching, close semantics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "../batchq.h"

static int items[64];

static void push_ok(struct batchq *q, int i)
{
    int rc = batchq_push(q, &items[i]);
    if (rc != 0) {
        fail_msg("push of item %d returned %d, expected 0", i, rc);
    }
}

static void limit_refuses_with_busy(void **state)
{
    (void)state;
    struct batchq *q = batchq_new(3);
    for (int i = 0; i < 3; i++) {
        push_ok(q, i);
    }
    assert_int_equal(batchq_push(q, &items[3]), MP_EBUSY);
    assert_int_equal(batchq_depth(q), 3);
    void *got[2];
    assert_int_equal(batchq_pop_batch(q, got, 2, 0), 2);
    assert_ptr_equal(got[0], &items[0]);
    assert_ptr_equal(got[1], &items[1]);
    assert_int_equal(batchq_depth(q), 1);
    push_ok(q, 4); /* room again */
    batchq_close(q);
    assert_int_equal(batchq_push(q, &items[5]), MP_ECANCELLED);
    /* Items queued before close are still handed out, in order, then 0. */
    assert_int_equal(batchq_pop_batch(q, got, 2, 1000000), 2);
    assert_ptr_equal(got[0], &items[2]);
    assert_ptr_equal(got[1], &items[4]);
    assert_int_equal(batchq_pop_batch(q, got, 2, 0), 0);
    batchq_free(q);
}

static void timeout_returns_partial_batch(void **state)
{
    (void)state;
    struct batchq *q = batchq_new(16);
    for (int i = 0; i < 3; i++) {
        push_ok(q, i);
    }
    void *got[8];
    /* Fewer than max are queued: the worker waits the (short) timeout, then takes all 3. */
    assert_int_equal(batchq_pop_batch(q, got, 8, 20000), 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(got[i], &items[i]);
    }
    assert_int_equal(batchq_depth(q), 0);
    batchq_free(q);
}

struct consumer {
    struct batchq *q;
    size_t max;
    int64_t timeout_us;
    size_t n;
    void *got[8];
};

static void *consume(void *p)
{
    struct consumer *c = p;
    c->n = batchq_pop_batch(c->q, c->got, c->max, c->timeout_us);
    return NULL;
}

static void batch_fills_before_timeout(void **state)
{
    (void)state;
    struct batchq *q = batchq_new(16);
    /* A long timeout: the worker must return as soon as the batch is full, with both items. */
    struct consumer c = {.q = q, .max = 2, .timeout_us = 30000000};
    pthread_t t;
    push_ok(q, 0);
    assert_int_equal(pthread_create(&t, NULL, consume, &c), 0);
    push_ok(q, 1);
    pthread_join(t, NULL);
    assert_int_equal(c.n, 2);
    assert_ptr_equal(c.got[0], &items[0]);
    assert_ptr_equal(c.got[1], &items[1]);
    batchq_free(q);
}

static void collector_is_not_split(void **state)
{
    (void)state;
    struct batchq *q = batchq_new(16);
    struct consumer a = {.q = q, .max = 4, .timeout_us = 30000000};
    struct consumer b = a;
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, consume, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, consume, &b), 0);
    for (int i = 0; i < 8; i++) {
        push_ok(q, i);
    }
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    /* One worker collects at a time, so the 8 items form two full batches of 4. */
    if (a.n != 4 || b.n != 4) {
        fail_msg("batch sizes %zu and %zu, expected 4 and 4", a.n, b.n);
    }
    batchq_free(q);
}

static void close_wakes_waiting_workers(void **state)
{
    (void)state;
    struct batchq *q = batchq_new(4);
    struct consumer a = {.q = q, .max = 4, .timeout_us = 0};
    struct consumer b = a;
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, consume, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, consume, &b), 0);
    batchq_close(q);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.n, 0);
    assert_int_equal(b.n, 0);
    batchq_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limit_refuses_with_busy),
        cmocka_unit_test(timeout_returns_partial_batch),
        cmocka_unit_test(batch_fills_before_timeout),
        cmocka_unit_test(collector_is_not_split),
        cmocka_unit_test(close_wakes_waiting_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
