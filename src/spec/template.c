/* SPDX-License-Identifier: Apache-2.0 */
/* {param} placeholder rendering for argv elements and environment values. The output is
 * always one string handed to execve as one element: values are never re-parsed. */
#include "spec/spec.h"

#include <string.h>

/* Walks tmpl; for each placeholder calls on_var with its name (len bytes). Literal text goes to
 * out when out is non-NULL. Returns 0 or MP_EINVALID with the position in err. */
typedef int var_fn(void *ctx, const char *name, size_t len, struct mp_buf *out,
                   struct mp_error *err);

static int walk(const char *tmpl, struct mp_buf *out, var_fn *on_var, void *ctx,
                struct mp_error *err)
{
    for (size_t i = 0; tmpl[i];) {
        char c = tmpl[i];
        if ((c == '{' || c == '}') && tmpl[i + 1] == c) {
            if (out) {
                mp_buf_addc(out, c);
            }
            i += 2;
            continue;
        }
        if (c == '}') {
            return mp_error_set(err, MP_EINVALID,
                                "template \"%s\": lone '}' at offset %zu (write '}}' for a brace)",
                                tmpl, i);
        }
        if (c != '{') {
            if (out) {
                mp_buf_addc(out, c);
            }
            i++;
            continue;
        }
        const char *end = strchr(tmpl + i + 1, '}');
        if (!end) {
            return mp_error_set(err, MP_EINVALID, "template \"%s\": unclosed '{' at offset %zu",
                                tmpl, i);
        }
        size_t len = (size_t)(end - (tmpl + i + 1));
        if (len == 0 || memchr(tmpl + i + 1, '{', len)) {
            return mp_error_set(err, MP_EINVALID, "template \"%s\": bad placeholder at offset %zu",
                                tmpl, i);
        }
        int rc = on_var(ctx, tmpl + i + 1, len, out, err);
        if (rc != 0) {
            return rc;
        }
        i += len + 2;
    }
    return 0;
}

struct render_ctx {
    const char *tmpl;
    const struct mp_spec_template_var *vars;
    size_t n;
};

static int render_var(void *ctx, const char *name, size_t len, struct mp_buf *out,
                      struct mp_error *err)
{
    const struct render_ctx *r = ctx;
    for (size_t k = 0; k < r->n; k++) {
        if (strlen(r->vars[k].name) == len && memcmp(r->vars[k].name, name, len) == 0) {
            mp_buf_adds(out, r->vars[k].value);
            if (out->len > MP_SPEC_TEMPLATE_MAX_BYTES) {
                return mp_error_set(err, MP_ETOOBIG, "template \"%s\": result over %u bytes",
                                    r->tmpl, MP_SPEC_TEMPLATE_MAX_BYTES);
            }
            return 0;
        }
    }
    return mp_error_set(err, MP_EINVALID, "template \"%s\": unknown placeholder {%.*s}", r->tmpl,
                        (int)len, name);
}

int mp_spec_template_render(const char *tmpl, const struct mp_spec_template_var *vars,
                            size_t n_vars, char **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    struct render_ctx ctx = {tmpl, vars, n_vars};
    mp_buf_adds(&b, "");
    int rc = walk(tmpl, &b, render_var, &ctx, err);
    if (rc == 0 && b.len > MP_SPEC_TEMPLATE_MAX_BYTES) {
        rc = mp_error_set(err, MP_ETOOBIG, "template \"%s\": result over %u bytes", tmpl,
                          MP_SPEC_TEMPLATE_MAX_BYTES);
    }
    if (rc != 0) {
        mp_buf_release(&b);
        *out = NULL;
        return rc;
    }
    *out = mp_buf_detach(&b);
    return 0;
}

struct check_ctx {
    const char *tmpl;
    const char *const *names;
    size_t n;
    const char *want; /* for mp_spec_template_uses */
    bool found;
};

static int check_var(void *ctx, const char *name, size_t len, struct mp_buf *out,
                     struct mp_error *err)
{
    struct check_ctx *c = ctx;
    (void)out;
    if (c->want) {
        if (strlen(c->want) == len && memcmp(c->want, name, len) == 0) {
            c->found = true;
        }
        return 0;
    }
    for (size_t k = 0; k < c->n; k++) {
        if (strlen(c->names[k]) == len && memcmp(c->names[k], name, len) == 0) {
            return 0;
        }
    }
    return mp_error_set(err, MP_EINVALID, "template \"%s\": unknown placeholder {%.*s}", c->tmpl,
                        (int)len, name);
}

int mp_spec_template_check(const char *tmpl, const char *const *names, size_t n_names,
                           struct mp_error *err)
{
    struct check_ctx c = {tmpl, names, n_names, NULL, false};
    return walk(tmpl, NULL, check_var, &c, err);
}

bool mp_spec_template_uses(const char *tmpl, const char *name)
{
    struct check_ctx c = {tmpl, NULL, 0, name, false};
    return walk(tmpl, NULL, check_var, &c, NULL) == 0 && c.found;
}
