/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded request queue with dynamic batching, shared by the I/O thread (producer) and the
 * worker threads (consumers).
 *
 * Batching: one worker at a time is the "collector". It blocks until a first item is queued,
 * then keeps taking items until it holds max items or timeout_us have passed since it took the
 * first one, whichever comes first; then it hands the collector role to the next worker. So a
 * batch never waits more than timeout_us for company, and idle workers do not split a batch
 * that is being formed (the scheme of Triton's dynamic batcher with one scheduler).
 *
 * Ownership: items are opaque pointers owned by whoever pushed them until a pop returns them.
 * batchq_free does not free items still queued (drain them first).
 * Thread-safety: every function except batchq_new/batchq_free is safe to call concurrently. */
#ifndef INFER_BATCHQ_H
#define INFER_BATCHQ_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

struct batchq;

/* A queue holding at most limit items (limit >= 1) waiting to be taken. */
struct batchq *batchq_new(size_t limit);
void batchq_free(struct batchq *q);

/* Queues item. Returns 0, MP_EBUSY when limit items are waiting (the caller answers 503), or
 * MP_ECANCELLED once the queue is closed. */
int batchq_push(struct batchq *q, void *item) MP_WUR;

/* Takes a batch of 1..max items into items[], as described above; timeout_us 0 takes what is
 * queued at that moment without waiting. Blocks while the queue is empty and open. Returns the
 * number of items, or 0 when the queue is closed and empty. */
size_t batchq_pop_batch(struct batchq *q, void **items, size_t max, int64_t timeout_us);

/* Refuses further pushes and wakes every waiting worker; queued items are still handed out. */
void batchq_close(struct batchq *q);

/* Items waiting now (not yet taken by a worker). */
size_t batchq_depth(struct batchq *q);

#endif
