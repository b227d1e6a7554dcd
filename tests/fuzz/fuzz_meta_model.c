/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the meta-model file parser (versions 1 to 3). The input is tried as a whole file
 * and, so that mutations get past the checksum, as a payload behind a valid header (version from
 * the first byte: 0, 1, 2 for versions 1, 2, 3). A file that parses must encode to bytes that parse
 * again to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_le(struct mp_buf *b, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        char c = (char)(unsigned char)(v >> (8 * i));
        mp_buf_add(b, &c, 1);
    }
}

static void check(const void *data, size_t size)
{
    struct mp_meta_model *m = NULL;
    if (mp_meta_model_decode(data, size, "fuzz.model", &m, NULL) != 0) {
        return;
    }
    struct mp_buf a = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_decode(a.data, a.len, "again", &back, NULL) != 0) {
        abort(); /* what we write must read back */
    }
    mp_meta_model_encode(back, &b);
    if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
        abort();
    }
    mp_meta_model_free(back);
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_meta_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size >= 1) {
        struct mp_buf f = MP_BUF_INIT;
        mp_buf_add(&f, "MPMETA\r\n", 8);
        put_le(&f, 1 + data[0] % 3, 4);
        put_le(&f, 0, 4);
        put_le(&f, size - 1, 8);
        put_le(&f, mp_hash_bytes(data + 1, size - 1), 8);
        mp_buf_add(&f, data + 1, size - 1);
        check(f.data, f.len);
        mp_buf_release(&f);
    }
    return 0;
}
