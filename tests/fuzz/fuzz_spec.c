/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the experiment spec loader (YAML/JSON parsing, bounds, validation). */
#include <stdint.h>
#include <stdlib.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse((const char *)data, size, "fuzz.yaml", "/nonexistent", NULL, 0, &spec,
                      &err) == 0) {
        char *json = mp_spec_to_json(spec);
        struct mp_spec *again = NULL;
        /* What the store keeps must load again. */
        if (mp_spec_parse(json, __builtin_strlen(json), "stored", "/nonexistent", NULL, 0, &again,
                          &err) != 0) {
            abort();
        }
        mp_spec_free(again);
        free(json);
        mp_spec_free(spec);
    }
    return 0;
}
