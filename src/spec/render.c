/* SPDX-License-Identifier: Apache-2.0 */
/* The service's command line and environment for one configuration. */
#include "spec/spec.h"

#include <stdlib.h>
#include <string.h>

void mp_rendered_release(struct mp_rendered *r)
{
    for (size_t i = 0; i < r->argc; i++) {
        free(r->argv[i]);
    }
    for (size_t i = 0; i < r->envc; i++) {
        free(r->env[i]);
    }
    free(r->argv);
    free(r->env);
    memset(r, 0, sizeof(*r));
}

static void push(char ***list, size_t *n, char *owned)
{
    *list = mp_xreallocarray(*list, *n + 2, sizeof(char *));
    (*list)[(*n)++] = owned;
    (*list)[*n] = NULL;
}

/* Sets NAME=value, replacing an earlier entry of the same name. */
static void set_env(struct mp_rendered *r, const char *name, size_t len, const char *value)
{
    char *entry = mp_xasprintf("%.*s=%s", (int)len, name, value);
    for (size_t i = 0; i < r->envc; i++) {
        if (strncmp(r->env[i], name, len) == 0 && r->env[i][len] == '=') {
            free(r->env[i]);
            r->env[i] = entry;
            return;
        }
    }
    push(&r->env, &r->envc, entry);
}

/* The value of service.env entry i: its template rendered, or its secret read. Owned. */
static int env_value(const struct mp_spec *spec, size_t i, const struct mp_spec_template_var *vars,
                     size_t n_vars, char **out, struct mp_error *err)
{
    const struct mp_service *svc = &spec->service;
    const struct mp_node *node = svc->env_nodes ? svc->env_nodes[i] : NULL;
    if (mp_spec_is_secret_ref(node)) {
        return mp_spec_value(spec, node, out, err);
    }
    return mp_spec_template_render(strchr(svc->env[i], '=') + 1, vars, n_vars, out, err);
}

static int render_all(const struct mp_spec *spec, const struct mp_spec_template_var *vars,
                      size_t n_vars, struct mp_rendered *r, struct mp_error *err)
{
    const struct mp_service *svc = &spec->service;
    const struct mp_space *s = &spec->space;
    for (size_t i = 0; i < svc->argc; i++) {
        char *el = NULL;
        int rc = mp_spec_template_render(svc->argv[i], vars, n_vars, &el, err);
        if (rc != 0) {
            return rc;
        }
        push(&r->argv, &r->argc, el);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->params[i].target == MP_TARGET_ARG) {
            push(&r->argv, &r->argc, mp_xstrdup(s->params[i].target_name));
            push(&r->argv, &r->argc, mp_xstrdup(vars[i].value));
        }
    }
    for (size_t i = 0; i < svc->n_env; i++) {
        const char *eq = strchr(svc->env[i], '=');
        char *v = NULL;
        int rc = env_value(spec, i, vars, n_vars, &v, err);
        if (rc != 0) {
            return rc;
        }
        set_env(r, svc->env[i], (size_t)(eq - svc->env[i]), v);
        free(v);
    }
    for (size_t i = 0; i < s->n; i++) {
        if (s->params[i].target == MP_TARGET_ENV) {
            const char *name = s->params[i].target_name;
            set_env(r, name, strlen(name), vars[i].value);
        }
    }
    return 0;
}

int mp_spec_render_service(const struct mp_spec *spec, const double *x,
                           const struct mp_spec_template_var *builtins, size_t n_builtins,
                           struct mp_rendered *out, struct mp_error *err)
{
    const struct mp_space *s = &spec->space;
    size_t n_vars = s->n + n_builtins;
    struct mp_spec_template_var *vars = mp_xcalloc(n_vars + 1, sizeof(*vars));
    char(*bufs)[MP_FMT_DOUBLE_MAX] = mp_xcalloc(s->n + 1, sizeof(*bufs));
    for (size_t i = 0; i < s->n; i++) {
        vars[i].name = s->params[i].name;
        vars[i].value = mp_space_format(s, i, x[i], bufs[i]);
    }
    for (size_t k = 0; k < n_builtins; k++) {
        vars[s->n + k] = builtins[k];
    }
    memset(out, 0, sizeof(*out));
    int rc = render_all(spec, vars, n_vars, out, err);
    if (rc != 0) {
        mp_rendered_release(out);
    }
    free(bufs);
    free(vars);
    return rc;
}
