/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the meta-model file parser (versions 1 and 2). A file that parses must encode to
 * bytes that parse again to the same encoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp_meta_model *m = NULL;
    if (mp_meta_model_decode(data, size, "fuzz.model", &m, NULL) != 0) {
        return 0;
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
    return 0;
}
