/* SPDX-License-Identifier: Apache-2.0 */
/* JSON output with canonical numbers: jansson writes reals with 17 significant digits
 * (0.1 -> 0.10000000000000001); we write the shortest text that reads back exactly. */
#include "doc/doc.h"

#include <jansson.h>

#include <math.h>
#include <stdlib.h>

static void indent_to(struct mp_buf *b, int indent, int depth)
{
    if (indent > 0) {
        mp_buf_addc(b, '\n');
        for (int i = 0; i < indent * depth; i++) {
            mp_buf_addc(b, ' ');
        }
    }
}

void mp_json_quote(struct mp_buf *b, const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    mp_buf_adds(b, text ? text : "\"\"");
    free(text);
    json_decref(j);
}

static void dump(struct mp_buf *b, const json_t *j, int indent, int depth)
{
    char buf[MP_FMT_DOUBLE_MAX];
    const char *sep = indent > 0 ? ": " : ":";
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        const char *key;
        const json_t *v;
        size_t i = 0;
        mp_buf_addc(b, '{');
        json_object_foreach ((json_t *)j, key, v) {
            mp_buf_adds(b, i++ ? "," : "");
            indent_to(b, indent, depth + 1);
            mp_json_quote(b, key);
            mp_buf_adds(b, sep);
            dump(b, v, indent, depth + 1);
        }
        if (i) {
            indent_to(b, indent, depth);
        }
        mp_buf_addc(b, '}');
        break;
    }
    case JSON_ARRAY:
        mp_buf_addc(b, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            mp_buf_adds(b, i ? "," : "");
            indent_to(b, indent, depth + 1);
            dump(b, json_array_get(j, i), indent, depth + 1);
        }
        if (json_array_size(j)) {
            indent_to(b, indent, depth);
        }
        mp_buf_addc(b, ']');
        break;
    case JSON_STRING:
        mp_json_quote(b, json_string_value(j));
        break;
    case JSON_INTEGER:
        mp_buf_addf(b, "%lld", (long long)json_integer_value(j));
        break;
    case JSON_REAL:
        mp_buf_adds(b,
                    isfinite(json_real_value(j)) ? mp_fmt_double(buf, json_real_value(j)) : "null");
        break;
    case JSON_TRUE:
        mp_buf_adds(b, "true");
        break;
    case JSON_FALSE:
        mp_buf_adds(b, "false");
        break;
    default:
        mp_buf_adds(b, "null");
    }
}

char *mp_json_dumps(const void *j, int indent)
{
    struct mp_buf b = MP_BUF_INIT;
    dump(&b, j, indent, 0);
    return mp_buf_detach(&b);
}

void mp_json_print(FILE *f, const void *j)
{
    char *s = mp_json_dumps(j, 2);
    fputs(s, f);
    fputc('\n', f);
    free(s);
}
