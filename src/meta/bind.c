/* SPDX-License-Identifier: Apache-2.0 */
/* Aligns a search space with a model's features by parameter name, else by role, and the prior
 * mean. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

struct mp_meta_binding {
    const struct mp_meta_model *model;
    const struct mp_space *space;
    int *feature_param; /* per feature: the space parameter */
    int **choice_map;   /* per categorical feature: space choice index -> model choice or -1 */
    double *xf;         /* scratch: natural values in feature order */
    double *in;         /* scratch: network inputs */
};

void mp_meta_binding_free(struct mp_meta_binding *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->model->n_features; i++) {
        free(b->choice_map[i]);
    }
    free(b->choice_map);
    free(b->feature_param);
    free(b->xf);
    free(b->in);
    free(b);
}

/* The space parameter for feature i: the one of its name, else (second pass, by_role) the first
 * one of its role that no feature has claimed; -1 when none. */
static int find_param(const struct mp_meta_binding *b, size_t i, bool by_role)
{
    const struct mp_meta_feature *f = &b->model->features[i];
    if (!by_role) {
        return mp_space_find(b->space, f->name);
    }
    for (size_t k = 0; f->role && k < b->space->n; k++) {
        const struct mp_param *p = &b->space->params[k];
        bool claimed = false;
        for (size_t j = 0; j < b->model->n_features; j++) {
            claimed |= b->feature_param[j] == (int)k;
        }
        if (!claimed && p->role && strcmp(p->role, f->role) == 0) {
            return (int)k;
        }
    }
    return -1;
}

static int bind_feature(struct mp_meta_binding *b, size_t i, int pi, struct mp_error *err)
{
    const struct mp_meta_feature *f = &b->model->features[i];
    const struct mp_param *p = &b->space->params[pi];
    bool cat = p->type == MP_PARAM_CATEGORICAL;
    if (cat != (f->kind == MP_META_CATEGORICAL)) {
        return mp_error_set(
            err, MP_EINVALID, "parameter '%s' is %s, but the meta-model learned '%s' as %s",
            p->name, cat ? "categorical" : "numeric", f->name, cat ? "numeric" : "categorical");
    }
    b->feature_param[i] = pi;
    if (!cat) {
        return 0;
    }
    b->choice_map[i] = mp_xcalloc(p->n_choices + 1, sizeof(int));
    for (size_t c = 0; c < p->n_choices; c++) {
        b->choice_map[i][c] = -1; /* unknown to the model: an all-zero one-hot block */
        for (size_t k = 0; k < f->n_choices; k++) {
            if (strcmp(f->choices[k], p->choices[c]) == 0) {
                b->choice_map[i][c] = (int)k;
            }
        }
    }
    return 0;
}

/* Names first, so that a parameter named like a feature is never taken by another feature's
 * role; then roles for the features still unbound. */
static int bind_all(struct mp_meta_binding *b, struct mp_error *err)
{
    const struct mp_meta_model *m = b->model;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < m->n_features; i++) {
            int pi = b->feature_param[i] < 0 ? find_param(b, i, pass == 1) : -1;
            int rc = pi >= 0 ? bind_feature(b, i, pi, err) : 0;
            if (rc != 0) {
                return rc;
            }
        }
    }
    for (size_t i = 0; i < m->n_features; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        if (b->feature_param[i] < 0) {
            return mp_error_set(err, MP_EINVALID,
                                "the meta-model needs parameter '%s'%s%s%s, which the search "
                                "space lacks (by name%s)",
                                f->name, f->role ? " (role " : "", f->role ? f->role : "",
                                f->role ? ")" : "", f->role ? " or role" : "");
        }
    }
    for (size_t k = 0; k < b->space->n; k++) {
        bool claimed = false;
        for (size_t i = 0; i < m->n_features; i++) {
            claimed |= b->feature_param[i] == (int)k;
        }
        if (!claimed) {
            return mp_error_set(err, MP_EINVALID,
                                "parameter '%s' is unknown to the meta-model (trained on other "
                                "parameters; give it the role of one of them, use algorithm bo, "
                                "or retrain the model)",
                                b->space->params[k].name);
        }
    }
    return 0;
}

int mp_meta_bind(const struct mp_meta_model *m, const struct mp_space *space,
                 struct mp_meta_binding **out, struct mp_error *err)
{
    *out = NULL;
    struct mp_meta_binding *b = mp_xcalloc(1, sizeof(*b));
    b->model = m;
    b->space = space;
    b->feature_param = mp_xcalloc(m->n_features, sizeof(int));
    for (size_t i = 0; i < m->n_features; i++) {
        b->feature_param[i] = -1;
    }
    b->choice_map = mp_xcalloc(m->n_features, sizeof(int *));
    b->xf = mp_xcalloc(m->n_features, sizeof(double));
    b->in = mp_xcalloc(m->net.n_in + 1, sizeof(double));
    int rc = bind_all(b, err);
    if (rc != 0) {
        mp_meta_binding_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int mp_meta_binding_param(const struct mp_meta_binding *b, size_t feature)
{
    return feature < b->model->n_features ? b->feature_param[feature] : -1;
}

size_t mp_meta_binding_inputs(const struct mp_meta_binding *b)
{
    return b->model->net.n_in;
}

void mp_meta_binding_encode(const struct mp_meta_binding *b, const double *x, double *in)
{
    const struct mp_meta_model *m = b->model;
    double *xf = b->xf;
    for (size_t i = 0; i < m->n_features; i++) {
        double v = x[b->feature_param[i]];
        if (m->features[i].kind == MP_META_CATEGORICAL) {
            v = b->choice_map[i][(size_t)v];
        }
        xf[i] = v;
    }
    mp_meta_encode(m->features, m->n_features, xf, in);
}

double mp_meta_prior_mean(const struct mp_meta_binding *b, const double *x)
{
    const struct mp_meta_model *m = b->model;
    size_t p = mp_net_size(&m->net);
    mp_meta_binding_encode(b, x, b->in);
    double s = 0;
    for (size_t k = 0; k < m->members; k++) {
        s += mp_net_forward(&m->net, m->theta + k * p, b->in);
    }
    return s / (double)m->members;
}

/* The smallest and largest value of numeric parameter p. */
static void param_range(const struct mp_param *p, double *lo, double *hi)
{
    if (p->type == MP_PARAM_DISCRETE) {
        *lo = *hi = p->values[0];
        for (size_t k = 1; k < p->n_values; k++) {
            *lo = fmin(*lo, p->values[k]);
            *hi = fmax(*hi, p->values[k]);
        }
        return;
    }
    *lo = p->min;
    *hi = p->max;
}

/* Appends one finding to buf (at *used of len bytes). */
static void add_finding(char *buf, size_t len, size_t *used, const char *text)
{
    if (*used < len) {
        int n = snprintf(buf + *used, len - *used, "%s%s", *used ? "; " : "", text);
        *used += n > 0 ? (size_t)n : 0;
    }
}

/* Up to 8 of the names, ", " between them. */
static void list_names(struct mp_buf *out, char *const *names, size_t n)
{
    for (size_t k = 0; k < n && k < 8; k++) {
        mp_buf_addf(out, "%s%s", k ? ", " : "", names[k]);
    }
    if (n > 8) {
        mp_buf_addf(out, ", ... (%zu in all)", n);
    }
}

static bool choices_unknown(const struct mp_meta_binding *b, size_t i)
{
    const struct mp_param *p = &b->space->params[b->feature_param[i]];
    for (size_t c = 0; c < p->n_choices; c++) {
        if (b->choice_map[i][c] >= 0) {
            return false;
        }
    }
    return true;
}

bool mp_meta_binding_mismatch(const struct mp_meta_binding *b, char *buf, size_t len)
{
    const struct mp_meta_model *m = b->model;
    size_t used = 0;
    if (len > 0) {
        buf[0] = '\0';
    }
    for (size_t i = 0; i < m->n_features; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        const struct mp_param *p = &b->space->params[b->feature_param[i]];
        struct mp_buf t = MP_BUF_INIT;
        double lo, hi;
        if (f->kind == MP_META_NUMERIC) {
            param_range(p, &lo, &hi);
            if (hi < f->lo || lo > f->hi) {
                char a[MP_FMT_DOUBLE_MAX], z[MP_FMT_DOUBLE_MAX], fa[MP_FMT_DOUBLE_MAX],
                    fz[MP_FMT_DOUBLE_MAX];
                mp_buf_addf(&t,
                            "parameter '%s' takes values %s..%s, all outside the %s..%s the "
                            "meta-model learned",
                            p->name, mp_fmt_double(a, lo), mp_fmt_double(z, hi),
                            mp_fmt_double(fa, f->lo), mp_fmt_double(fz, f->hi));
                if (strcmp(f->name, p->name) != 0) {
                    mp_buf_addf(&t, " for '%s'", f->name);
                }
                mp_buf_addf(&t, " (another unit?): its predictions there only extrapolate");
            }
        } else if (p->n_choices > 0 && choices_unknown(b, i)) {
            mp_buf_addf(&t, "parameter '%s': the meta-model knows none of its choices (", p->name);
            list_names(&t, p->choices, p->n_choices);
            mp_buf_addf(&t, "; it learned ");
            list_names(&t, f->choices, f->n_choices);
            mp_buf_addf(&t, "): it predicts as if the parameter did not matter");
        }
        if (t.data && t.data[0]) {
            add_finding(buf, len, &used, t.data);
        }
        mp_buf_release(&t);
    }
    return used > 0;
}
