/* SPDX-License-Identifier: Apache-2.0 */
/* Meta-training tasks: services' measured configurations aligned to one feature layout by
 * parameter name or role, from surface CSVs or from recorded experiments' trials (which the
 * caller reads from the store). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

static void feature_release(struct mp_meta_feature *f)
{
    free(f->name);
    free(f->role);
    for (size_t i = 0; i < f->n_choices; i++) {
        free(f->choices[i]);
    }
    free(f->choices);
}

void mp_meta_taskset_release(struct mp_meta_taskset *ts)
{
    for (size_t i = 0; i < ts->n_features; i++) {
        feature_release(&ts->features[i]);
    }
    free(ts->features);
    for (size_t i = 0; i < ts->n_tasks; i++) {
        free(ts->tasks[i].name);
        free(ts->tasks[i].x);
        free(ts->tasks[i].y);
    }
    free(ts->tasks);
    memset(ts, 0, sizeof(*ts));
}

/* The feature of this name, else the one of this role (role may be NULL); -1 when none. */
static int find_feature(const struct mp_meta_taskset *ts, const char *name, const char *role)
{
    for (size_t i = 0; i < ts->n_features; i++) {
        if (strcmp(ts->features[i].name, name) == 0) {
            return (int)i;
        }
    }
    for (size_t i = 0; role && i < ts->n_features; i++) {
        if (ts->features[i].role && strcmp(ts->features[i].role, role) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int set_features(struct mp_meta_taskset *ts, const char *name, const struct mp_space *space,
                        struct mp_error *err)
{
    if (space->n == 0 || space->n > MP_META_MAX_FEATURES) {
        return mp_error_set(err, MP_EINVALID, "%s: a meta-model takes 1 to %d parameters, not %zu",
                            name, MP_META_MAX_FEATURES, space->n);
    }
    for (size_t i = 0; i < space->n; i++) {
        if (strlen(space->params[i].name) > MP_META_MAX_NAME) {
            return mp_error_set(err, MP_EINVALID,
                                "%s: parameter '%.40s...': name longer than %d bytes", name,
                                space->params[i].name, MP_META_MAX_NAME);
        }
    }
    ts->features = mp_xcalloc(space->n, sizeof(*ts->features));
    ts->n_features = space->n;
    for (size_t i = 0; i < space->n; i++) {
        const struct mp_param *p = &space->params[i];
        struct mp_meta_feature *f = &ts->features[i];
        f->name = mp_xstrdup(p->name);
        f->role = p->role ? mp_xstrdup(p->role) : NULL;
        f->kind = p->type == MP_PARAM_CATEGORICAL ? MP_META_CATEGORICAL : MP_META_NUMERIC;
        f->lo = INFINITY;
        f->hi = -INFINITY;
    }
    return 0;
}

/* Checks that feature f may take parameter p: kinds agree, roles do not conflict. */
static int check_pair(const struct mp_meta_feature *f, const struct mp_param *p, const char *name,
                      struct mp_error *err)
{
    bool cat = p->type == MP_PARAM_CATEGORICAL;
    if (cat != (f->kind == MP_META_CATEGORICAL)) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: parameter '%s' is %s here but not in the other services", name,
                            p->name, cat ? "categorical" : "numeric");
    }
    if (p->role && f->role && strcmp(p->role, f->role) != 0) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: parameter '%s' has role %s here, but %s in the other services",
                            name, p->name, p->role, f->role);
    }
    return 0;
}

/* Feature index of every space parameter (by name, else by role); MP_EINVALID when the
 * parameters cannot be aligned one to one. */
static int align(struct mp_meta_taskset *ts, const char *name, const struct mp_space *space,
                 int *map, struct mp_error *err)
{
    if (space->n != ts->n_features) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: %zu parameters, but the other services have %zu (%s, ...)", name,
                            space->n, ts->n_features, ts->features[0].name);
    }
    for (size_t i = 0; i < space->n; i++) {
        const struct mp_param *p = &space->params[i];
        map[i] = find_feature(ts, p->name, p->role);
        if (map[i] < 0) {
            return mp_error_set(err, MP_EINVALID,
                                "%s: parameter '%s'%s%s is not among the other services' "
                                "parameters (by name or role)",
                                name, p->name, p->role ? " with role " : "",
                                p->role ? p->role : "");
        }
        for (size_t k = 0; k < i; k++) {
            if (map[k] == map[i]) {
                return mp_error_set(err, MP_EINVALID,
                                    "%s: parameters '%s' and '%s' both align with '%s'", name,
                                    space->params[k].name, p->name, ts->features[map[i]].name);
            }
        }
        int rc = check_pair(&ts->features[map[i]], p, name, err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Index of choice `text` in feature f, appending it when new. */
static int choice_index(struct mp_meta_feature *f, const char *text, const char *name,
                        struct mp_error *err)
{
    for (size_t k = 0; k < f->n_choices; k++) {
        if (strcmp(f->choices[k], text) == 0) {
            return (int)k;
        }
    }
    if (strlen(text) > MP_META_MAX_NAME) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: parameter '%s': choice '%.40s...' longer than %d bytes", name,
                            f->name, text, MP_META_MAX_NAME);
    }
    if (f->n_choices >= MP_META_MAX_CHOICES) {
        return mp_error_set(err, MP_EINVALID, "%s: parameter '%s': more than %d choices", name,
                            f->name, MP_META_MAX_CHOICES);
    }
    f->choices = mp_xreallocarray(f->choices, f->n_choices + 1, sizeof(char *));
    f->choices[f->n_choices] = mp_xstrdup(text);
    return (int)f->n_choices++;
}

static int fill_task(struct mp_meta_taskset *ts, struct mp_meta_task *t,
                     const struct mp_space *space, const int *map, const double *x,
                     const double *score, size_t n, struct mp_error *err)
{
    size_t d = ts->n_features, valued = 0;
    double scale = 0;
    for (size_t r = 0; r < n; r++) {
        if (isnan(score[r]) || score[r] == INFINITY) {
            continue;
        }
        for (size_t i = 0; i < space->n; i++) {
            struct mp_meta_feature *f = &ts->features[map[i]];
            double v = x[r * space->n + i];
            if (f->kind == MP_META_CATEGORICAL) {
                int k = choice_index(f, space->params[i].choices[(size_t)v], t->name, err);
                if (k < 0) {
                    return k;
                }
                v = k;
            }
            t->x[t->n * d + (size_t)map[i]] = v;
        }
        t->y[t->n++] = score[r];
        if (isfinite(score[r])) {
            scale = fmax(scale, fabs(score[r]));
            valued++;
        }
    }
    if (valued < 2 || scale <= 0) {
        return mp_error_set(err, MP_EINVALID, "%s: needs at least 2 measured, non-zero values",
                            t->name);
    }
    /* Failed configurations are trained at the task's lowest measured value, so that the prior
     * ranks them last (docs/internals/meta.md, "Failed configurations"). */
    double lowest = INFINITY;
    for (size_t r = 0; r < t->n; r++) {
        t->y[r] /= scale;
        if (isfinite(t->y[r])) {
            lowest = fmin(lowest, t->y[r]);
        }
    }
    for (size_t r = 0; r < t->n; r++) {
        if (!isfinite(t->y[r])) {
            t->y[r] = lowest;
        }
    }
    return 0;
}

static void widen_ranges(struct mp_meta_taskset *ts, const struct mp_meta_task *t)
{
    for (size_t r = 0; r < t->n; r++) {
        for (size_t i = 0; i < ts->n_features; i++) {
            struct mp_meta_feature *f = &ts->features[i];
            if (f->kind == MP_META_NUMERIC) {
                f->lo = fmin(f->lo, t->x[r * ts->n_features + i]);
                f->hi = fmax(f->hi, t->x[r * ts->n_features + i]);
            }
        }
    }
}

/* Drops the choices a refused task appended (features keep the first `kept[i]`). */
static void drop_new_choices(struct mp_meta_taskset *ts, const size_t *kept)
{
    for (size_t i = 0; i < ts->n_features; i++) {
        struct mp_meta_feature *f = &ts->features[i];
        while (f->n_choices > kept[i]) {
            free(f->choices[--f->n_choices]);
            f->choices[f->n_choices] = NULL;
        }
    }
}

int mp_meta_taskset_add(struct mp_meta_taskset *ts, const char *name, const struct mp_space *space,
                        const double *x, const double *score, size_t n, struct mp_error *err)
{
    int *map = mp_xcalloc(space->n + 1, sizeof(int));
    size_t *kept = NULL;
    struct mp_meta_task t = {mp_xstrdup(name), 0, NULL, NULL};
    int rc = 0;
    if (ts->n_features == 0 && (rc = set_features(ts, name, space, err)) != 0) {
        goto out;
    }
    if ((rc = align(ts, name, space, map, err)) != 0) {
        goto out;
    }
    t.x = mp_xcalloc(n * ts->n_features + 1, sizeof(double));
    t.y = mp_xcalloc(n + 1, sizeof(double));
    kept = mp_xcalloc(ts->n_features, sizeof(size_t));
    for (size_t i = 0; i < ts->n_features; i++) {
        kept[i] = ts->features[i].n_choices;
    }
    if ((rc = fill_task(ts, &t, space, map, x, score, n, err)) != 0) {
        drop_new_choices(ts, kept);
        goto out;
    }
    widen_ranges(ts, &t);
    for (size_t i = 0; i < space->n; i++) { /* a role the features lack is adopted */
        struct mp_meta_feature *f = &ts->features[map[i]];
        if (space->params[i].role && !f->role) {
            f->role = mp_xstrdup(space->params[i].role);
        }
    }
    ts->tasks = mp_xreallocarray(ts->tasks, ts->n_tasks + 1, sizeof(*ts->tasks));
    ts->tasks[ts->n_tasks++] = t;
    memset(&t, 0, sizeof(t));
out:
    if (rc != 0 && ts->n_tasks == 0) {
        mp_meta_taskset_release(ts); /* a failed first task must not fix the layout */
    }
    free(t.name);
    free(t.x);
    free(t.y);
    free(kept);
    free(map);
    return rc;
}

/* A failure that says nothing about the configuration: the infrastructure's, or a replay's that
 * found no row for it (it was never measured). Such a point is left out, not trained as the
 * service's worst. */
static bool says_nothing(enum mp_failure f)
{
    return f == MP_FAILURE_INFRA || f == MP_FAILURE_NOT_RECORDED;
}

static void surface_rows(const struct mp_surface *s, const struct mp_space *space, const int *cols,
                         int obj, int failure, bool minimize, double *x, double *score)
{
    for (size_t r = 0; r < s->n_rows; r++) {
        const char *const *cells = (const char *const *)s->cells + r * s->n_cols;
        double v = s->numbers[r * s->n_cols + (size_t)obj];
        const char *failed = failure >= 0 ? cells[failure] : "";
        if (*failed) {
            score[r] = says_nothing((enum mp_failure)mp_failure_parse(failed)) ? NAN : -INFINITY;
        } else {
            score[r] = !isfinite(v) ? NAN : minimize ? -v : v;
        }
        for (size_t i = 0; i < space->n; i++) {
            const struct mp_param *p = &space->params[i];
            double *xv = &x[r * space->n + i];
            *xv = s->numbers[r * s->n_cols + (size_t)cols[i]];
            for (size_t k = 0; p->type == MP_PARAM_CATEGORICAL && k < p->n_choices; k++) {
                /* as the space read them: an export's '-O2 is the choice -O2 */
                if (strcmp(p->choices[k], mp_surface_choice(s, r, (size_t)cols[i])) == 0) {
                    *xv = (double)k;
                }
            }
        }
    }
}

int mp_meta_taskset_add_surface(struct mp_meta_taskset *ts, const struct mp_surface *s,
                                const struct mp_meta_surface_opts *o, struct mp_error *err)
{
    struct mp_surface_columns cols;
    int rc = mp_surface_columns(s, o->params, o->n_params, o->objective, &cols, err);
    if (rc != 0) {
        return rc;
    }
    struct mp_space space = {0};
    double *x = NULL, *score = NULL;
    mp_surface_infer_space(s, cols.params, cols.n_params, &space);
    /* Before the rows are read: each of them looks its text up among the choices, so a column
     * of 10^5 distinct texts (an id) took 10^10 comparisons before the choice cap refused it. */
    for (size_t i = 0; i < space.n; i++) {
        if (space.params[i].n_choices > MP_META_MAX_CHOICES) {
            rc = mp_error_set(err, MP_EINVALID,
                              "%s: parameter '%s' has %zu distinct values, a meta-model takes at "
                              "most %d per categorical parameter (is it a parameter? --params "
                              "names the parameter columns)",
                              s->path, space.params[i].name, space.params[i].n_choices,
                              MP_META_MAX_CHOICES);
            goto out;
        }
    }
    /* A configuration on two rows (a parameter column the default layout left out, as one
     * after the first metric) was trained on twice, with two values; replay refuses it. */
    struct mp_surface_index *idx = NULL;
    rc = mp_surface_index_new(s, &space, &idx, err);
    mp_surface_index_free(idx);
    if (rc != 0) {
        goto out;
    }
    x = mp_xcalloc(s->n_rows * cols.n_params + 1, sizeof(double));
    score = mp_xcalloc(s->n_rows + 1, sizeof(double));
    surface_rows(s, &space, cols.params, cols.objective, cols.failure, o->minimize, x, score);
    rc = mp_surface_set_roles(&space, o->roles, o->n_roles, err);
    if (rc == 0) {
        rc = mp_meta_taskset_add(ts, s->path, &space, x, score, s->n_rows, err);
    }
out:
    free(x);
    free(score);
    mp_surface_columns_release(&cols);
    mp_space_release(&space);
    return rc;
}

bool mp_meta_taskset_add_trials(struct mp_meta_taskset *ts, const char *name,
                                const struct mp_space *space, bool minimize,
                                const struct mp_meta_trial *trials, size_t n, size_t min_points)
{
    size_t d = space->n, valued = 0, used = 0;
    double *x = mp_xcalloc(n * d + 1, sizeof(double));
    double *score = mp_xcalloc(n + 1, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        const struct mp_meta_trial *t = &trials[i];
        score[i] = NAN;
        if (!t->x) {
            continue;
        }
        memcpy(&x[i * d], t->x, d * sizeof(double));
        if (t->state == MP_TRIAL_FAILED && !says_nothing(t->failure)) {
            score[i] = -INFINITY; /* a verdict on the configuration, measured or not */
            used++;
        } else if (t->state == MP_TRIAL_SUCCEEDED && isfinite(t->value)) {
            score[i] = minimize ? -t->value : t->value;
            valued++;
            used++;
        }
    }
    bool added = used >= min_points && valued >= 2 &&
                 mp_meta_taskset_add(ts, name, space, x, score, n, NULL) == 0;
    free(x);
    free(score);
    return added;
}
