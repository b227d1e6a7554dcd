/* SPDX-License-Identifier: Apache-2.0 */
/* The `parameters:` section of a spec and {placeholder} templates. */
#include "spec/spec_int.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

/* 2^53 - 1: the largest integer every double around it represents exactly. */
#define MAX_EXACT_INT 9007199254740991.0

/* Placeholders every runner provides besides the parameters. */
static const char *const builtin_placeholders[] = {"port",    "nonce",      "trial",
                                                   "attempt", "experiment", NULL};

bool mp_spec_is_identifier(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_')) {
        return false;
    }
    for (; *s; s++) {
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '-')) {
            return false;
        }
    }
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct indexed {
    double v;
    size_t i;
};

static int cmp_indexed(const void *a, const void *b)
{
    const struct indexed *x = a, *y = b;
    int c = cmp_double(&x->v, &y->v);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* The index of the first value in list order that repeats an earlier one (*same: the first of
 * those), or SIZE_MAX. Sorting takes O(n log n): comparing each value with all before it took
 * 6 s for 100,000 values. */
static size_t first_duplicate(const double *values, size_t n, size_t *same)
{
    struct indexed *s = mp_xreallocarray(NULL, n, sizeof(*s));
    for (size_t i = 0; i < n; i++) {
        s[i] = (struct indexed){values[i], i};
    }
    qsort(s, n, sizeof(*s), cmp_indexed);
    size_t dup = SIZE_MAX, first = 0;
    for (size_t k = 1; k < n; k++) {
        first = s[k].v == s[k - 1].v ? first : k;
        if (s[k].v == s[k - 1].v && s[k].i < dup) {
            dup = s[k].i;
            *same = s[first].i;
        }
    }
    free(s);
    return dup;
}

char *mp_spec_unit_hint(const struct mp_param *p, const char *text)
{
    bool cpu = p->resource == MP_RESOURCE_CPU;
    if (p->target != MP_TARGET_RESOURCE || (!cpu && p->resource != MP_RESOURCE_MEMORY)) {
        return NULL;
    }
    const char *unit = cpu ? "cores" : "MiB";
    struct mp_kube_quantity q;
    if (!text || mp_kube_quantity_parse(text, &q, NULL) != 0 || q.negative || q.saturated) {
        return mp_xasprintf("a %s target is in %s", cpu ? "cpu" : "memory", unit);
    }
    /* A size in bytes for a cpu ("1Gi": 1073741824 cores), millibytes for a memory ("512m" is
     * half a byte, not 512 MiB): the number is no help there. */
    size_t n = strlen(text);
    bool binary = n >= 2 && text[n - 1] == 'i', milli = n >= 1 && text[n - 1] == 'm';
    if ((cpu && binary) || (!cpu && milli)) {
        return mp_xasprintf("a %s target is in %s; %s is %s", cpu ? "cpu" : "memory", unit, text,
                            cpu ? "a size in bytes" : "thousandths of a byte, not MiB");
    }
    char buf[MP_FMT_DOUBLE_MAX];
    double v = cpu ? (double)q.milli / 1000.0 : (double)q.units / 1048576.0;
    mp_fmt_double(buf, v);
    return mp_xasprintf("a %s target is in %s: %s is %s %s; write %s", cpu ? "cpu" : "memory", unit,
                        text, buf, unit, buf);
}

/* The resource target that item (a parameter not parsed yet) names, in p->target and
 * p->resource, so that a number refused before its target is read can say its unit. */
static void peek_target(const struct mp_node *item, struct mp_param *p)
{
    const struct mp_node *r = mp_doc_get(mp_doc_get(item, "target"), "resource");
    p->target = MP_TARGET_NONE;
    if (r && r->kind == MP_NODE_SCALAR) {
        p->resource = strcmp(r->scalar, "cpu") == 0 ? MP_RESOURCE_CPU : MP_RESOURCE_MEMORY;
        bool known = p->resource == MP_RESOURCE_CPU || strcmp(r->scalar, "memory") == 0;
        p->target = known ? MP_TARGET_RESOURCE : MP_TARGET_NONE;
    }
}

/* mp_doc_number for a value of parameter item: a cpu or memory one says its unit when the text
 * is no number ("1Gi" is 1024 MiB). A null stays "got null" (`--set parameters[0].min=` read
 * 'got "" (a cpu target is in cores)'). */
static int param_number(const struct mp_node *item, const struct mp_node *n, double *out,
                        struct mp_error *err)
{
    int rc = mp_doc_number(n, out, err);
    if (rc == 0 || !n || n->kind != MP_NODE_SCALAR || mp_doc_is_null(n)) {
        return rc;
    }
    struct mp_param t = {0};
    peek_target(item, &t);
    char *hint = mp_spec_unit_hint(&t, n->scalar);
    if (hint) {
        rc = mp_doc_error(err, n, "expected a number, got \"%s\" (%s)", n->scalar, hint);
        free(hint);
    }
    return rc;
}

static int parse_numbers(const struct mp_node *item, const struct mp_node *list, struct mp_param *p,
                         struct mp_error *err)
{
    int rc = mp_doc_expect(list, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    if (list->n == 0) {
        return mp_doc_error(err, list, "expected a non-empty list of numbers");
    }
    p->values = mp_xreallocarray(NULL, list->n, sizeof(double));
    for (size_t i = 0; i < list->n; i++) {
        if ((rc = param_number(item, list->items[i], &p->values[i], err)) != 0) {
            return rc;
        }
        if (p->log_scale && p->values[i] <= 0) {
            return mp_doc_error(err, list->items[i], "log scale needs positive values, got \"%s\"",
                                list->items[i]->scalar);
        }
        p->n_values++;
    }
    size_t same = 0, dup = first_duplicate(p->values, p->n_values, &same);
    if (dup != SIZE_MAX) {
        /* The earlier item as written (a PE's quantities are converted: "1e9" and "1G"). */
        return mp_doc_error(err, list->items[dup],
                            "duplicate value \"%s\": the same as item [%zu] (line %u, column %u)",
                            list->items[dup]->scalar, same, list->items[same]->line,
                            list->items[same]->col);
    }
    qsort(p->values, p->n_values, sizeof(double), cmp_double);
    return 0;
}

static int parse_choices(const struct mp_node *list, struct mp_param *p, struct mp_error *err)
{
    int rc = mp_doc_expect(list, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    if (list->n == 0) {
        return mp_doc_error(err, list, "expected a non-empty list of choices");
    }
    p->choices = mp_xcalloc(list->n, sizeof(char *));
    struct mp_strset seen = MP_STRSET_INIT; /* pairwise strcmp took 46 s for 100,000 choices */
    for (size_t i = 0; i < list->n; i++) {
        const char *s = NULL;
        if ((rc = mp_doc_string(list->items[i], &s, err)) != 0) {
            break;
        }
        if (!mp_strset_add(&seen, s)) {
            rc = mp_doc_error(err, list->items[i], "duplicate choice \"%s\"", s);
            break;
        }
        p->choices[p->n_choices++] = mp_xstrdup(s);
    }
    mp_strset_release(&seen);
    return rc;
}

static int parse_range(const struct mp_node *item, struct mp_param *p, struct mp_error *err)
{
    struct mp_node *min = NULL, *max = NULL;
    int rc;
    if ((rc = mp_doc_require(item, "min", &min, err)) != 0 ||
        (rc = mp_doc_require(item, "max", &max, err)) != 0 ||
        (rc = param_number(item, min, &p->min, err)) != 0 ||
        (rc = param_number(item, max, &p->max, err)) != 0) {
        return rc;
    }
    struct mp_node *step = mp_doc_get(item, "step");
    p->step = p->type == MP_PARAM_INT ? 1 : 0;
    if ((rc = param_number(item, step, &p->step, err)) != 0) {
        return rc;
    }
    if (step && !(p->step > 0)) {
        return mp_doc_error(err, step, "expected a positive number, got \"%s\"", step->scalar);
    }
    if (p->type == MP_PARAM_INT) {
        const struct mp_node *nodes[] = {min, max, step};
        const double vals[] = {p->min, p->max, p->step};
        for (size_t i = 0; i < 3; i++) {
            /* Written as an integer: "4.0" and "1e3" are refused, as in every integer field
             * (docs/spec.md); they passed here. */
            int64_t written;
            if (nodes[i] && mp_parse_int64(nodes[i]->scalar, &written) != 0) {
                return mp_doc_error(err, nodes[i], "expected an integer, got \"%s\"",
                                    nodes[i]->scalar);
            }
            /* Values are held as doubles, which represent every integer only up to 2^53. */
            if (nodes[i] && fabs(vals[i]) > MAX_EXACT_INT) {
                return mp_doc_error(err, nodes[i],
                                    "integer \"%s\" is too large: parameter values are exact only "
                                    "up to 2^53 - 1 (9007199254740991) in magnitude",
                                    nodes[i]->scalar);
            }
        }
    }
    if (p->min > p->max) {
        return mp_doc_error(err, max, "max (%s) is below min (%s)", max->scalar, min->scalar);
    }
    if (p->log_scale && p->min <= 0) {
        return mp_doc_error(err, min, "log scale needs min > 0, got \"%s\"", min->scalar);
    }
    if (p->step > 0 && (p->max - p->min) / p->step > 1e12) {
        /* Without `step` (an int's default of 1), the range itself is too wide. */
        return mp_doc_error(err, step ? step : max, "more than 10^12 steps between min and max%s",
                            step ? "" : " (give a larger step)");
    }
    return 0;
}

static const char *const resource_keys[] = {"cpu",      "memory", "gpu", "gpu_memory_share",
                                            "gpu_type", NULL};

static int check_resource(const struct mp_node *node, const struct mp_param *p,
                          struct mp_error *err)
{
    bool categorical = p->type == MP_PARAM_CATEGORICAL;
    if ((p->resource == MP_RESOURCE_GPU_TYPE) != categorical) {
        return mp_doc_error(err, node, "resource '%s' needs a %s parameter",
                            mp_resource_name(p->resource), categorical ? "numeric" : "categorical");
    }
    if (categorical) {
        return 0;
    }
    double lo = p->type == MP_PARAM_DISCRETE ? p->values[0] : p->min;
    double hi = p->type == MP_PARAM_DISCRETE ? p->values[p->n_values - 1] : p->max;
    bool ok = lo > 0;
    if (p->resource == MP_RESOURCE_GPU) {
        ok = lo >= 0;
    } else if (p->resource == MP_RESOURCE_GPU_MEMORY_SHARE) {
        ok = lo > 0 && hi <= 1;
    }
    if (!ok) {
        return mp_doc_error(err, node, "values out of range for resource '%s' (%s)",
                            mp_resource_name(p->resource),
                            p->resource == MP_RESOURCE_GPU_MEMORY_SHARE ? "must lie in (0, 1]"
                            : p->resource == MP_RESOURCE_GPU            ? "must be >= 0"
                                                                        : "must be > 0");
    }
    return 0;
}

static int parse_target(const struct mp_node *node, struct mp_param *p, struct mp_error *err)
{
    static const char *const keys[] = {"resource", "env", "arg", NULL};
    int rc;
    if ((rc = mp_doc_expect(node, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(node, keys, err)) != 0) {
        return rc;
    }
    if (node->n != 1) {
        return mp_doc_error(err, node, "expected exactly one of resource, env or arg");
    }
    const char *v = NULL;
    if ((rc = mp_doc_string(node->items[0], &v, err)) != 0) {
        return rc;
    }
    const char *key = node->keys[0];
    if (strcmp(key, "resource") == 0) {
        for (size_t i = 0; resource_keys[i]; i++) {
            if (strcmp(resource_keys[i], v) == 0) {
                p->target = MP_TARGET_RESOURCE;
                p->resource = (enum mp_resource)i;
                return check_resource(node->items[0], p, err);
            }
        }
        return mp_doc_error(err, node->items[0],
                            "unknown resource \"%s\" (cpu, memory, gpu, gpu_memory_share, "
                            "gpu_type)",
                            v);
    }
    if (strcmp(key, "env") == 0 && !mp_spec_is_identifier(v)) {
        return mp_doc_error(err, node->items[0], "\"%s\" is not a valid environment name", v);
    }
    if (strcmp(key, "arg") == 0 && (!*v || strchr(v, '\n'))) {
        return mp_doc_error(err, node->items[0], "expected a command-line flag, got \"%s\"", v);
    }
    p->target = strcmp(key, "env") == 0 ? MP_TARGET_ENV : MP_TARGET_ARG;
    p->target_name = mp_xstrdup(v);
    return 0;
}

/* An explicit role must be a known one; a resource target implies its role. */
static int parse_role(const struct mp_node *node, struct mp_param *p, struct mp_error *err)
{
    const char *role = NULL;
    int rc = mp_doc_string(node, &role, err);
    if (rc != 0) {
        return rc;
    }
    if (!role) {
        if (p->target == MP_TARGET_RESOURCE) {
            p->role = mp_xstrdup(mp_resource_name(p->resource));
        }
        return 0;
    }
    for (size_t i = 0; mp_param_roles[i]; i++) {
        if (strcmp(mp_param_roles[i], role) == 0 && !mp_param_role_fits(p, role)) {
            return mp_doc_error(err, node, "role %s needs a %s parameter", role,
                                p->type == MP_PARAM_CATEGORICAL ? "numeric" : "categorical");
        }
        if (strcmp(mp_param_roles[i], role) == 0) {
            p->role = mp_xstrdup(role);
            return 0;
        }
    }
    return mp_doc_error(err, node,
                        "unknown role \"%s\" (batch_size, threads, workers, instances, "
                        "batch_timeout, cpu, memory, gpu, gpu_memory_share, gpu_type)",
                        role);
}

static int parse_type(const struct mp_node *item, struct mp_param *p, struct mp_error *err)
{
    static const char *const names[] = {"int", "float", "discrete", "categorical"};
    struct mp_node *t = NULL;
    const char *s = NULL;
    int rc;
    if ((rc = mp_doc_require(item, "type", &t, err)) != 0 ||
        (rc = mp_doc_string(t, &s, err)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            p->type = (enum mp_param_type)i;
            return 0;
        }
    }
    return mp_doc_error(err, t, "expected int, float, discrete or categorical, got \"%s\"", s);
}

static int parse_param(const struct mp_node *item, struct mp_param *p, struct mp_error *err)
{
    static const char *const keys[] = {"name",   "type",   "min",  "max",         "step", "log",
                                       "values", "target", "role", "description", NULL};
    int rc;
    struct mp_node *name = NULL;
    const char *s = NULL;
    if ((rc = mp_doc_expect(item, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(item, keys, err)) != 0 ||
        (rc = mp_doc_require(item, "name", &name, err)) != 0 ||
        (rc = mp_doc_string(name, &s, err)) != 0) {
        return rc;
    }
    if (!*s || strlen(s) > 64 || strchr(s, '{') || strchr(s, '}') || strchr(s, ',') ||
        strchr(s, '=')) {
        return mp_doc_error(err, name, "\"%s\" is not a valid parameter name", s);
    }
    p->name = mp_xstrdup(s);
    if ((rc = parse_type(item, p, err)) != 0 ||
        (rc = mp_doc_bool(mp_doc_get(item, "log"), &p->log_scale, err)) != 0) {
        return rc;
    }
    bool ranged = p->type == MP_PARAM_INT || p->type == MP_PARAM_FLOAT;
    const char *const misplaced = ranged ? "values" : "min";
    struct mp_node *bad = mp_doc_get(item, misplaced);
    if (!bad && !ranged) {
        bad = mp_doc_get(item, "max") ? mp_doc_get(item, "max") : mp_doc_get(item, "step");
    }
    if (bad) {
        return mp_doc_error(err, bad, "not allowed for %s %s parameter (use %s)",
                            p->type == MP_PARAM_INT ? "an" : "a", mp_param_type_name(p->type),
                            ranged ? "min/max/step" : "values");
    }
    if (p->type == MP_PARAM_CATEGORICAL && mp_doc_get(item, "log")) {
        return mp_doc_error(err, mp_doc_get(item, "log"),
                            "not allowed for a categorical parameter");
    }
    struct mp_node *values = NULL;
    if (ranged) {
        rc = parse_range(item, p, err);
    } else if ((rc = mp_doc_require(item, "values", &values, err)) == 0) {
        rc = p->type == MP_PARAM_DISCRETE ? parse_numbers(item, values, p, err)
                                          : parse_choices(values, p, err);
    }
    struct mp_node *target = mp_doc_get(item, "target");
    if (rc == 0 && target) {
        rc = parse_target(target, p, err);
    }
    if (rc == 0) {
        rc = parse_role(mp_doc_get(item, "role"), p, err);
    }
    return rc;
}

int mp_spec_parse_params(struct mp_spec *spec, const struct mp_node *list, struct mp_error *err)
{
    int rc = mp_doc_expect(list, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    if (list->n == 0) {
        return mp_doc_error(err, list, "expected at least one parameter");
    }
    if (list->n > 64) {
        return mp_doc_error(err, list, "at most 64 parameters are supported");
    }
    for (size_t i = 0; i < list->n; i++) {
        struct mp_param p = {0};
        if ((rc = parse_param(list->items[i], &p, err)) != 0) {
            mp_param_release(&p);
            return rc;
        }
        if (mp_space_find(&spec->space, p.name) >= 0) {
            rc = mp_doc_error(err, mp_doc_get(list->items[i], "name"),
                              "duplicate parameter name \"%s\"", p.name);
            mp_param_release(&p);
            return rc;
        }
        for (size_t j = 0; p.target == MP_TARGET_RESOURCE && j < spec->space.n; j++) {
            const struct mp_param *q = &spec->space.params[j];
            if (q->target == MP_TARGET_RESOURCE && q->resource == p.resource) {
                rc = mp_doc_error(err, mp_doc_get(list->items[i], "target"),
                                  "resource '%s' is already set by parameter '%s'",
                                  mp_resource_name(p.resource), q->name);
                mp_param_release(&p);
                return rc;
            }
        }
        /* Two parameters setting one variable (or flag): the service saw only the last one's
         * value, and the search tuned the other for nothing. */
        for (size_t j = 0; p.target_name && j < spec->space.n; j++) {
            const struct mp_param *q = &spec->space.params[j];
            if (q->target == p.target && strcmp(q->target_name, p.target_name) == 0) {
                rc = mp_doc_error(err, mp_doc_get(list->items[i], "target"),
                                  "%s '%s' is already set by parameter '%s'",
                                  p.target == MP_TARGET_ENV ? "environment variable" : "flag",
                                  p.target_name, q->name);
                mp_param_release(&p);
                return rc;
            }
        }
        mp_space_add(&spec->space, &p);
    }
    return 0;
}

/* A placeholder naming neither a parameter nor a built-in: the error lists both and suggests the
 * one it was likely meant as ({worker} for {workers}, {Port} for {port}). */
static int unknown_placeholder(const struct mp_spec *spec, const struct mp_node *node,
                               const char *name, struct mp_error *err)
{
    size_t nb = MP_ARRAY_LEN(builtin_placeholders) - 1;
    const char **names = mp_xcalloc(spec->space.n + nb + 1, sizeof(*names));
    struct mp_buf list = {0};
    for (size_t i = 0; i < spec->space.n; i++) {
        names[i] = spec->space.params[i].name;
        mp_buf_addf(&list, "%s%s", i ? ", " : "", names[i]);
    }
    struct mp_buf builtins = {0};
    for (size_t b = 0; b < nb; b++) {
        names[spec->space.n + b] = builtin_placeholders[b];
        mp_buf_addf(&builtins, "%s{%s}", b ? ", " : "", builtin_placeholders[b]);
    }
    const char *near = mp_suggest(name, names);
    int rc = mp_doc_error(err, node,
                          "placeholder {%s} names no parameter (the parameters: %s; built-ins: "
                          "%s)%s%s%s",
                          name, list.data ? list.data : "none", builtins.data,
                          near ? "; did you mean {" : "", near ? near : "", near ? "}?" : "");
    mp_buf_release(&list);
    mp_buf_release(&builtins);
    free(names);
    return rc;
}

int mp_spec_check_template(const struct mp_spec *spec, const struct mp_node *node, bool *used,
                           struct mp_error *err)
{
    const char *s = node->scalar;
    for (size_t i = 0; s[i]; i++) {
        if ((s[i] == '{' && s[i + 1] == '{') || (s[i] == '}' && s[i + 1] == '}')) {
            i++;
            continue;
        }
        if (s[i] == '}') {
            return mp_doc_error(err, node, "unmatched '}' at offset %zu (write '}}' for a brace)",
                                i);
        }
        if (s[i] != '{') {
            continue;
        }
        const char *end = strchr(s + i, '}');
        if (!end) {
            return mp_doc_error(err, node,
                                "unterminated '{' at offset %zu (write '{{' for a brace)", i);
        }
        char *name = mp_xstrndup(s + i + 1, (size_t)(end - s - i - 1));
        int idx = mp_space_find(&spec->space, name);
        bool builtin = false;
        for (size_t b = 0; builtin_placeholders[b]; b++) {
            builtin |= strcmp(builtin_placeholders[b], name) == 0;
        }
        if (idx < 0 && !builtin) {
            int rc = unknown_placeholder(spec, node, name, err);
            free(name);
            return rc;
        }
        if (idx >= 0 && builtin) {
            /* The parameter's value took the place of the built-in: `{port}` of a parameter
             * named port sent the service its value instead of the port the runner probes. */
            int rc = mp_doc_error(err, node,
                                  "placeholder {%s} names both parameter '%s' and the built-in "
                                  "{%s}: rename the parameter",
                                  name, name, name);
            free(name);
            return rc;
        }
        if (idx >= 0 && used) {
            used[idx] = true;
        }
        free(name);
        i = (size_t)(end - s);
    }
    return 0;
}
