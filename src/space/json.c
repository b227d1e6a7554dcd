/* SPDX-License-Identifier: Apache-2.0 */
/* Configurations as JSON objects, with numbers written canonically. */
#include "space/space.h"

#include "doc/doc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    default:
        return "a value of another type";
    }
}

char *mp_space_config_json(const struct mp_space *s, const double *x)
{
    struct mp_buf b = MP_BUF_INIT;
    char buf[MP_FMT_DOUBLE_MAX];
    mp_buf_addc(&b, '{');
    for (size_t i = 0; i < s->n; i++) {
        if (i) {
            mp_buf_addc(&b, ',');
        }
        mp_json_quote(&b, s->params[i].name);
        mp_buf_addc(&b, ':');
        const char *v = mp_space_format(s, i, x[i], buf);
        if (s->params[i].type == MP_PARAM_CATEGORICAL) {
            mp_json_quote(&b, v);
        } else {
            mp_buf_adds(&b, v);
        }
    }
    mp_buf_addc(&b, '}');
    return mp_buf_detach(&b);
}

int mp_space_config_from_json(const struct mp_space *s, const char *text, double *x,
                              struct mp_error *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!root) {
        return mp_error_set(err, MP_EPARSE, "configuration: %d:%d: %s", jerr.line, jerr.column,
                            jerr.text);
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return mp_error_set(err, MP_EPARSE, "configuration: expected a JSON object");
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->n; i++) {
        json_t *v = json_object_get(root, s->params[i].name);
        char buf[MP_FMT_DOUBLE_MAX];
        if (json_is_string(v)) {
            rc = mp_space_parse(s, i, json_string_value(v), &x[i], err);
        } else if (json_is_number(v)) {
            rc = mp_space_parse(s, i, mp_fmt_double(buf, json_number_value(v)), &x[i], err);
        } else if (!v) {
            rc = mp_error_set(err, MP_EINVALID, "configuration: parameter '%s' is missing",
                              s->params[i].name);
        } else { /* it was called missing: a true for a choice "true", a [4] for 4 */
            rc = mp_error_set(err, MP_EINVALID,
                              "configuration: parameter '%s': expected a number or a string, "
                              "not %s",
                              s->params[i].name, json_type_name(v));
        }
    }
    json_decref(root);
    return rc;
}
