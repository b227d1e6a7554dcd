/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the experiment spec loader (YAML/JSON parsing, --set overrides, bounds,
 * validation, warnings), as from a file and as submitted to the API (paths confined to a base
 * folder, secret references read). Input: the spec text, optionally followed by a NUL byte and
 * newline-separated KEY=VALUE overrides. The seed corpus has one input per validation branch
 * (tests/fuzz/corpus/spec, each named after it); tests/fuzz/spec.dict holds every key, keyword
 * and numeric extreme. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Splits the text after the first NUL into override lines (owned copy in *buf). */
static size_t overrides(const uint8_t *data, size_t size, size_t *spec_len, char **buf,
                        const char *sets[8])
{
    const uint8_t *nul = memchr(data, '\0', size);
    *spec_len = nul ? (size_t)(nul - data) : size;
    *buf = NULL;
    if (!nul) {
        return 0;
    }
    *buf = mp_xstrndup((const char *)nul + 1, size - *spec_len - 1);
    size_t n = 0;
    for (char *line = *buf; line && n < 8; n++) {
        sets[n] = line;
        line = strchr(line, '\n');
        if (line) {
            *line++ = '\0';
        }
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    const char *sets[8];
    char *buf = NULL;
    size_t len = 0;
    size_t n_sets = overrides(data, size, &len, &buf, sets);
    if (mp_spec_parse((const char *)data, len, "fuzz.yaml", "/nonexistent", sets, n_sets, &spec,
                      &err) == 0) {
        char *json = mp_spec_to_json(spec);
        struct mp_spec *again = NULL;
        /* What the store keeps must load again. */
        if (mp_spec_parse(json, strlen(json), "stored", "/nonexistent", NULL, 0, &again, &err) !=
            0) {
            abort();
        }
        mp_spec_free(again);
        free(json);
        size_t n_warnings = 0;
        char **warnings = mp_spec_warnings(spec, &n_warnings);
        mp_spec_warnings_free(warnings, n_warnings);
        mp_spec_free(spec);
    }
    /* As submitted to `serve`: every path must stay inside the base folder (here /tmp), and the
     * secret references are read (a missing one is an error naming the field). */
    if (mp_spec_parse_confined((const char *)data, len, "spec", "/tmp", &spec, &err) == 0) {
        mp_error_clear(&err);
        if (mp_spec_check_secrets(spec, &err) != 0 && !err.msg[0]) {
            abort(); /* an error always says why */
        }
        mp_spec_free(spec);
    }
    free(buf);
    return 0;
}
