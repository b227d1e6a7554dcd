/* SPDX-License-Identifier: Apache-2.0 */
/* The work queue, as client-go's: a key is queued at most once however many events name it,
 * never handed to two workers at once (a change during processing queues it again for after
 * op_queue_done), and a failed key waits out a per-key exponential backoff. */
#include "operator/op_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_BASE_MS 5
#define BACKOFF_MAX_MS  60000

void op_queue_init(struct op_queue *q)
{
    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &a);
    pthread_condattr_destroy(&a);
}

void op_queue_release(struct op_queue *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->items[i].key);
    }
    free(q->items);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

static struct op_qitem *item(struct op_queue *q, const char *key, bool create)
{
    for (size_t i = 0; i < q->n; i++) {
        if (strcmp(q->items[i].key, key) == 0) {
            return &q->items[i];
        }
    }
    if (!create) {
        return NULL;
    }
    q->items = mp_xreallocarray(q->items, q->n + 1, sizeof(*q->items));
    struct op_qitem *it = &q->items[q->n++];
    memset(it, 0, sizeof(*it));
    it->key = mp_xstrdup(key);
    return it;
}

/* Queues key for ready_ns (an earlier time wins when it is queued already). */
static void add_at(struct op_queue *q, const char *key, int64_t ready_ns)
{
    pthread_mutex_lock(&q->lock);
    struct op_qitem *it = item(q, key, true);
    if (!it->dirty || ready_ns < it->ready_ns) {
        it->ready_ns = ready_ns;
    }
    if (!it->dirty) {
        it->added_ns = mp_mono_ns();
    }
    it->dirty = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void op_queue_add(struct op_queue *q, const char *key)
{
    add_at(q, key, mp_mono_ns());
}

void op_queue_add_after(struct op_queue *q, const char *key, int64_t delay_ms)
{
    add_at(q, key, mp_mono_ns() + delay_ms * 1000000);
}

void op_queue_fail(struct op_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct op_qitem *it = item(q, key, true);
    unsigned n = it->failures < 20 ? it->failures : 20;
    it->failures++;
    pthread_mutex_unlock(&q->lock);
    int64_t delay = (int64_t)BACKOFF_BASE_MS << n;
    op_queue_add_after(q, key, delay < BACKOFF_MAX_MS ? delay : BACKOFF_MAX_MS);
}

void op_queue_forget(struct op_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct op_qitem *it = item(q, key, false);
    if (it) {
        it->failures = 0;
    }
    pthread_mutex_unlock(&q->lock);
}

/* The ready item queued first, else NULL with *wake_ns the earliest future ready time (0: none). */
static struct op_qitem *next_ready(struct op_queue *q, int64_t now, int64_t *wake_ns)
{
    struct op_qitem *best = NULL;
    *wake_ns = 0;
    for (size_t i = 0; i < q->n; i++) {
        struct op_qitem *it = &q->items[i];
        if (!it->dirty || it->processing) {
            continue;
        }
        if (it->ready_ns <= now) {
            if (!best || it->ready_ns < best->ready_ns) {
                best = it;
            }
        } else if (*wake_ns == 0 || it->ready_ns < *wake_ns) {
            *wake_ns = it->ready_ns;
        }
    }
    return best;
}

char *op_queue_get(struct op_queue *q, int64_t *added_ns)
{
    pthread_mutex_lock(&q->lock);
    char *key = NULL;
    while (!q->shutdown) {
        int64_t wake = 0;
        struct op_qitem *it = next_ready(q, mp_mono_ns(), &wake);
        if (it) {
            it->dirty = false;
            it->processing = true;
            key = mp_xstrdup(it->key);
            *added_ns = it->added_ns;
            break;
        }
        if (wake == 0) {
            pthread_cond_wait(&q->cond, &q->lock);
        } else {
            struct timespec ts = {.tv_sec = wake / 1000000000, .tv_nsec = wake % 1000000000};
            int rc = pthread_cond_timedwait(&q->cond, &q->lock, &ts);
            (void)rc; /* ETIMEDOUT or a wake-up: look again */
        }
    }
    pthread_mutex_unlock(&q->lock);
    return key;
}

void op_queue_done(struct op_queue *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    struct op_qitem *it = item(q, key, false);
    if (it) {
        it->processing = false;
        if (!it->dirty && it->failures == 0) {
            /* Forget keys with nothing pending, so deleted experiments leave no entry. */
            free(it->key);
            *it = q->items[--q->n];
        }
    }
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

void op_queue_shutdown(struct op_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutdown = true;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}
