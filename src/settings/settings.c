/* SPDX-License-Identifier: Apache-2.0 */
/* Settings tables (settings.h): one reader per setting type, driven by a back end's table. */
#include "settings/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_number(const struct mp_setting *s, const struct mp_node *n, double *out,
                       struct mp_error *err)
{
    double v = 0;
    int rc = mp_doc_number(n, &v, err);
    if (rc != 0) {
        return rc;
    }
    bool low = s->flags & MP_SETTING_MIN_OPEN ? !(v > s->min) : !(v >= s->min);
    bool high = s->flags & MP_SETTING_MAX_OPEN ? !(v < s->max) : !(v <= s->max);
    if (low || high) {
        if (s->expect) {
            return mp_doc_error(err, n, "expected %s, got \"%s\"", s->expect, n->scalar);
        }
        return mp_doc_error(err, n, "expected a number in %c%g, %g%c, got \"%s\"",
                            s->flags & MP_SETTING_MIN_OPEN ? '(' : '[', s->min, s->max,
                            s->flags & MP_SETTING_MAX_OPEN ? ')' : ']', n->scalar);
    }
    *out = v;
    return 0;
}

static int read_choice(const struct mp_setting *s, const struct mp_node *n, int *out,
                       struct mp_error *err)
{
    const char *v = NULL;
    int rc = mp_doc_string(n, &v, err);
    if (rc != 0) {
        return rc;
    }
    size_t k = 0;
    for (; s->choices[k]; k++) {
        if (strcmp(v, s->choices[k]) == 0) {
            *out = (int)k;
            return 0;
        }
    }
    struct mp_buf b = MP_BUF_INIT;
    for (size_t i = 0; i < k; i++) {
        mp_buf_addf(&b, "%s\"%s\"", i == 0 ? "" : i + 1 == k ? " or " : ", ", s->choices[i]);
    }
    rc = mp_doc_error(err, n, "expected %s, got \"%s\"", b.data ? b.data : "nothing", v);
    mp_buf_release(&b);
    return rc;
}

static int read_string(const struct mp_setting *s, const struct mp_node *n, const char **out,
                       struct mp_error *err)
{
    int rc = mp_doc_string(n, out, err);
    if (rc == 0 && s->valid && !s->valid(*out)) {
        rc = mp_doc_error(err, n, "expected %s", s->expect ? s->expect : "a valid value");
    }
    return rc;
}

static int read_duration(const struct mp_setting *s, const struct mp_node *n, int64_t *out,
                         struct mp_error *err)
{
    const char *v = NULL;
    int64_t ns = 0;
    int rc = mp_doc_string(n, &v, err);
    if (rc == 0 && (mp_parse_duration_ns(v, &ns) != 0 || ns < 0 || (ns == 0 && s->min > 0))) {
        return mp_doc_error(err, n, "expected a %sduration such as \"5s\" or \"250ms\", got \"%s\"",
                            s->min > 0 ? "positive " : "", v);
    }
    if (rc == 0 && (double)ns < s->min) {
        return mp_doc_error(err, n, "expected a duration of at least %g ms, got \"%s\"%s%s%s",
                            s->min / 1e6, v, s->expect ? " (" : "", s->expect ? s->expect : "",
                            s->expect ? ")" : "");
    }
    if (rc == 0) {
        *out = ns;
    }
    return rc;
}

static int read_one(const struct mp_setting *s, const struct mp_node *n, void *base,
                    struct mp_error *err)
{
    void *field = (char *)base + s->offset;
    int64_t i = 0;
    const char *str = NULL;
    int rc = 0;
    switch (s->type) {
    case MP_SETTING_BOOL:
        return mp_doc_bool(n, field, err);
    case MP_SETTING_INT:
        rc = mp_doc_int(n, (int64_t)s->min, (int64_t)s->max, &i, err);
        if (rc == 0) {
            *(int64_t *)field = s->scale > 1 ? i * s->scale : i;
        }
        return rc;
    case MP_SETTING_NUMBER:
        return read_number(s, n, field, err);
    case MP_SETTING_STRING:
        return read_string(s, n, field, err);
    case MP_SETTING_STRDUP:
        rc = read_string(s, n, &str, err);
        if (rc == 0) {
            free(*(char **)field);
            *(char **)field = mp_xstrdup(str);
        }
        return rc;
    case MP_SETTING_CHOICE:
        return read_choice(s, n, field, err);
    case MP_SETTING_DURATION:
        return read_duration(s, n, field, err);
    case MP_SETTING_CUSTOM:
        return s->parse(n, base, err);
    case MP_SETTING_IGNORED:
        return 0;
    }
    return mp_error_set(err, MP_EINVALID, "setting '%s': unknown type", s->name);
}

int mp_settings_parse(const struct mp_node *block, const struct mp_setting *table, void *base,
                      struct mp_error *err)
{
    if (!block || mp_doc_is_null(block)) {
        return 0;
    }
    size_t n = 0;
    while (table[n].name) {
        n++;
    }
    const char **keys = mp_xcalloc(n + 1, sizeof(*keys));
    for (size_t k = 0; k < n; k++) {
        keys[k] = table[k].name;
    }
    int rc = mp_doc_expect(block, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = mp_doc_check_keys(block, keys, err);
    }
    for (size_t k = 0; rc == 0 && k < n; k++) {
        const struct mp_node *v = mp_doc_value(block, table[k].name);
        if (v) {
            rc = read_one(&table[k], v, base, err);
        }
    }
    free(keys);
    return rc;
}
