/* SPDX-License-Identifier: Apache-2.0 */
/* Reader for the IDX files of (Fashion-)MNIST, plain or gzip-compressed (as Debian's
 * dataset-fashion-mnist ships them): unsigned-byte tensors of rank 1 (labels) or 3 (images).
 *
 * Ownership: idx_load fills a caller-owned struct idx whose data it owns; idx_release frees it
 * and accepts a zeroed struct. Thread-safety: reentrant. */
#ifndef INFER_IDX_H
#define INFER_IDX_H

#include "core/core.h"

#include <stddef.h>
#include <stdint.h>

/* Largest file accepted (the Fashion-MNIST training images are 47 MB). */
#define IDX_MAX_BYTES ((size_t)256 << 20)

struct idx {
    uint8_t *data; /* count * item_bytes bytes */
    size_t count;  /* first dimension */
    size_t rows;   /* 1 for labels */
    size_t cols;   /* 1 for labels */
    size_t item_bytes;
};

/* Loads PATH (".gz" or not: decided by the gzip magic). want_rank is 1 or 3. */
int idx_load(struct idx *out, const char *path, int want_rank, struct mp_error *err) MP_WUR;
void idx_release(struct idx *idx);

/* Decodes an IDX image in memory (used by idx_load and by its unit test). Copies the data. */
int idx_parse(struct idx *out, const uint8_t *buf, size_t len, int want_rank,
              struct mp_error *err) MP_WUR;

#endif
