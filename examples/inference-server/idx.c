/* SPDX-License-Identifier: Apache-2.0 */
/* IDX tensor files (the MNIST format): a 4-byte magic 0x0000TTRR (type, rank), one big-endian
 * 32-bit size per dimension, then the data. Only type 0x08 (unsigned byte) is accepted. */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int idx_parse(struct idx *out, const uint8_t *buf, size_t len, int want_rank, struct mp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (len < 4 || buf[0] != 0 || buf[1] != 0) {
        return mp_error_set(err, MP_EPARSE, "not an IDX file (bad magic)");
    }
    if (buf[2] != 0x08) {
        return mp_error_set(err, MP_EUNSUPPORTED, "IDX element type 0x%02x (only 0x08)", buf[2]);
    }
    int rank = buf[3];
    if (rank != want_rank) {
        return mp_error_set(err, MP_EPARSE, "IDX rank %d, expected %d", rank, want_rank);
    }
    size_t header = 4 + 4 * (size_t)rank;
    if (len < header) {
        return mp_error_set(err, MP_EPARSE, "IDX header truncated");
    }
    size_t dims[3] = {1, 1, 1};
    for (int i = 0; i < rank; i++) {
        dims[i] = be32(buf + 4 + 4 * (size_t)i);
    }
    size_t item = 1;
    size_t total = 0;
    if (!mp_size_mul(dims[1], dims[2], &item) || !mp_size_mul(item, dims[0], &total) ||
        total > IDX_MAX_BYTES) {
        return mp_error_set(err, MP_ETOOBIG, "IDX dimensions too large");
    }
    if (len - header != total) {
        return mp_error_set(err, MP_EPARSE, "IDX data has %zu bytes, header says %zu", len - header,
                            total);
    }
    out->data = mp_xmalloc(total ? total : 1);
    memcpy(out->data, buf + header, total);
    out->count = dims[0];
    out->rows = dims[1];
    out->cols = dims[2];
    out->item_bytes = item;
    return 0;
}

/* Reads a whole file through zlib, which passes uncompressed files through unchanged. */
static int read_maybe_gz(const char *path, struct mp_buf *b, struct mp_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (f == NULL) {
        int e = errno ? errno : ENOMEM;
        return mp_error_set(err, -e, "'%s': %s", path, strerror(e));
    }
    int rc = 0;
    char chunk[1 << 16];
    for (;;) {
        int n = gzread(f, chunk, sizeof(chunk));
        if (n < 0) {
            int errnum = 0;
            const char *msg = gzerror(f, &errnum);
            rc = mp_error_set(err, MP_EPARSE, "'%s': %s", path, msg);
            goto out;
        }
        if (n == 0) {
            break;
        }
        if (b->len + (size_t)n > IDX_MAX_BYTES) {
            rc = mp_error_set(err, MP_ETOOBIG, "'%s': larger than %zu bytes", path, IDX_MAX_BYTES);
            goto out;
        }
        mp_buf_add(b, chunk, (size_t)n);
    }
out:
    gzclose(f);
    return rc;
}

int idx_load(struct idx *out, const char *path, int want_rank, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    memset(out, 0, sizeof(*out));
    int rc = read_maybe_gz(path, &b, err);
    if (rc == 0) {
        rc = idx_parse(out, (const uint8_t *)b.data, b.len, want_rank, err);
        if (rc != 0) {
            mp_error_prefix(err, rc, "'%s'", path);
        }
    }
    mp_buf_release(&b);
    return rc;
}

void idx_release(struct idx *idx)
{
    if (idx == NULL) {
        return;
    }
    free(idx->data);
    memset(idx, 0, sizeof(*idx));
}
