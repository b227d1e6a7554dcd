/* SPDX-License-Identifier: Apache-2.0 */
/* The batching queue: a ring of pointers under one mutex, with two condition variables (items
 * arrived, collector role free). Deadlines use CLOCK_MONOTONIC. */
#include "batchq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct batchq {
    pthread_mutex_t mu;
    pthread_cond_t items_cv; /* waited on by the collector only */
    pthread_cond_t turn_cv;  /* waited on by workers waiting to become the collector */
    void **ring;
    size_t cap;
    size_t head;
    size_t count;
    bool collecting;
    bool closed;
};

struct batchq *batchq_new(size_t limit)
{
    struct batchq *q = mp_xcalloc(1, sizeof(*q));
    q->cap = limit ? limit : 1;
    q->ring = mp_xreallocarray(NULL, q->cap, sizeof(void *));
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->items_cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&q->turn_cv, NULL);
    return q;
}

void batchq_free(struct batchq *q)
{
    if (q == NULL) {
        return;
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->items_cv);
    pthread_cond_destroy(&q->turn_cv);
    free(q->ring);
    free(q);
}

int batchq_push(struct batchq *q, void *item)
{
    int rc = 0;
    pthread_mutex_lock(&q->mu);
    if (q->closed) {
        rc = MP_ECANCELLED;
    } else if (q->count == q->cap) {
        rc = MP_EBUSY;
    } else {
        q->ring[(q->head + q->count) % q->cap] = item;
        q->count++;
        pthread_cond_signal(&q->items_cv);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* Moves queued items into items[n..max). Called with the mutex held. */
static size_t take(struct batchq *q, void **items, size_t n, size_t max)
{
    while (n < max && q->count > 0) {
        items[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->count--;
    }
    return n;
}

static struct timespec deadline_after(int64_t us)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (us % 1000000) * 1000;
    ts.tv_sec += (time_t)(us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return ts;
}

size_t batchq_pop_batch(struct batchq *q, void **items, size_t max, int64_t timeout_us)
{
    if (max == 0) {
        return 0;
    }
    pthread_mutex_lock(&q->mu);
    while (q->collecting) {
        pthread_cond_wait(&q->turn_cv, &q->mu);
    }
    q->collecting = true;
    while (q->count == 0 && !q->closed) {
        pthread_cond_wait(&q->items_cv, &q->mu);
    }
    size_t n = take(q, items, 0, max);
    if (n > 0 && n < max && timeout_us > 0) {
        struct timespec deadline = deadline_after(timeout_us);
        while (n < max && !q->closed) {
            if (pthread_cond_timedwait(&q->items_cv, &q->mu, &deadline) == ETIMEDOUT) {
                n = take(q, items, n, max);
                break;
            }
            n = take(q, items, n, max);
        }
    }
    n = take(q, items, n, max);
    q->collecting = false;
    pthread_cond_signal(&q->turn_cv);
    pthread_mutex_unlock(&q->mu);
    return n;
}

void batchq_close(struct batchq *q)
{
    pthread_mutex_lock(&q->mu);
    q->closed = true;
    pthread_cond_broadcast(&q->items_cv);
    pthread_cond_broadcast(&q->turn_cv);
    pthread_mutex_unlock(&q->mu);
}

size_t batchq_depth(struct batchq *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->count;
    pthread_mutex_unlock(&q->mu);
    return n;
}
