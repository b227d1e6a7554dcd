/* SPDX-License-Identifier: Apache-2.0 */
/* The `bo` back end's models: a Gaussian process on the objective (optionally rank-warped and
 * on top of a meta-learned prior), two +-1 feasibility regressions, kriging-believer batches,
 * and the acquisition (EI or UCB) times the probability of feasibility. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/bo_int.h"

#define MAX_MODEL_POINTS 400
/* Hyper-parameters are fit on at most this many observations (the posterior uses all): keeps a
 * suggestion with 100 observations near 10 ms. */
#define MAX_FIT_POINTS 64
/* Probit squash of the +-1 feasibility regression: P = Phi(mu / sqrt(s^2 + var)). */
#define FEAS_PROBIT_S 0.25
#define LABEL_LOG_LS  (-0.6931471805599453) /* ln 0.5 */
#define POF_PENALTY   1000.0
/* Measurement noise of a constraint margin (log units) in P(margin <= 0). */
#define MARGIN_NOISE 0.1

static bool is_pending(const struct mp_observation *o)
{
    return o->state == MP_TRIAL_PENDING || o->state == MP_TRIAL_RUNNING;
}

/* An informative trial with a measured, finite objective. */
bool mp_bo_has_score(const struct mp_observation *o)
{
    return mp_observation_informative(o) && o->has_value && isfinite(o->score);
}

void mp_bo_model_init(struct bo_model *m, const struct bo *bo)
{
    memset(m, 0, sizeof(*m));
    const struct mp_space *s = bo->base.space;
    for (size_t k = 0; k < s->n && m->n_trend < MP_BO_MAX_TREND; k++) {
        const struct mp_param *p = &s->params[k];
        if (p->target == MP_TARGET_RESOURCE && p->type != MP_PARAM_CATEGORICAL &&
            !bo->dims[k].cat) {
            m->trend_in[m->n_trend++] = bo->dims[k].off;
        }
    }
    m->log_min_pof = log(bo->set.min_pof);
    mp_gp_init(&m->obj, bo->dz, bo->cat);
    mp_gp_init(&m->runs, bo->dz, bo->cat);
    mp_gp_init(&m->slo, bo->dz, bo->cat);
    /* Failure regions have edges: the label models start from short length scales. */
    struct mp_gp *labels[2] = {&m->runs, &m->slo};
    for (int t = 0; t < 2; t++) {
        labels[t]->normalize = false;
        labels[t]->prior_log_ls = LABEL_LOG_LS;
        for (size_t k = 0; k < bo->dz; k++) {
            labels[t]->log_ls[k] = labels[t]->prior_log_ls;
        }
    }
}

void mp_bo_model_release(struct bo_model *m)
{
    mp_gp_release(&m->obj);
    mp_gp_release(&m->runs);
    mp_gp_release(&m->slo);
    free(m->dominators);
    free(m->dominator_oom);
}

/* Leaves only the feasible trials in idx when at least two of them are there (and some trial is
 * not): the objective model then predicts the value a configuration has when it meets the
 * constraints. Where breaking them comes with a higher value (a service throttled by its CPU
 * quota answered more requests per dollar at a p99 five times its limit), a model fitted on all
 * trials promises that value next to the feasible ones and keeps sending trials there. */
static void keep_feasible(const struct mp_history *h, size_t *idx, size_t *n)
{
    size_t feasible = 0;
    for (size_t i = 0; i < *n; i++) {
        feasible += h->obs[idx[i]].feasible;
    }
    if (feasible < 2 || feasible == *n) {
        return;
    }
    size_t w = 0;
    for (size_t i = 0; i < *n; i++) {
        if (h->obs[idx[i]].feasible) {
            idx[w++] = idx[i];
        }
    }
    *n = w;
}

/* Keeps the model affordable on long histories: the best half and the most recent half. */
static void select_points(const struct mp_history *h, size_t *idx, size_t *n)
{
    if (*n <= MAX_MODEL_POINTS) {
        return;
    }
    size_t keep = MAX_MODEL_POINTS, total = *n;
    unsigned char *take = mp_xcalloc(total, 1);
    for (size_t t = 0; t < keep / 2; t++) {
        size_t best = total;
        for (size_t i = 0; i < total; i++) {
            if (!take[i] && (best == total || h->obs[idx[i]].score > h->obs[idx[best]].score)) {
                best = i;
            }
        }
        take[best] = 1;
    }
    size_t taken = keep / 2;
    for (size_t i = total; i-- > 0 && taken < keep;) {
        if (!take[i]) {
            take[i] = 1;
            taken++;
        }
    }
    size_t w = 0;
    for (size_t i = 0; i < total; i++) {
        if (take[i]) {
            idx[w++] = idx[i];
        }
    }
    *n = w;
    free(take);
}

/* Kriging believer: conditions gp on its own posterior mean at the pending inputs, so their
 * neighbourhoods lose variance (and so acquisition) without inventing outcomes. */
static int add_believed(struct mp_gp *gp, const double *zp, size_t np, struct mp_error *err)
{
    if (np == 0) {
        return 0;
    }
    size_t n = gp->n, d = gp->d;
    double *x = mp_xmalloc((n + np) * d * sizeof(double));
    double *y = mp_xmalloc((n + np) * sizeof(double));
    memcpy(x, gp->x, n * d * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        y[i] = gp->y_mean + gp->y_scale * gp->y[i];
    }
    memcpy(x + n * d, zp, np * d * sizeof(double));
    mp_gp_predict(gp, zp, np, y + n, NULL);
    int rc = mp_gp_condition(gp, x, y, n + np, err);
    free(x);
    free(y);
    return rc;
}

struct ranked {
    double v;
    size_t i;
};

static int by_value(const void *a, const void *b)
{
    const struct ranked *p = a, *q = b;
    return p->v < q->v ? -1 : p->v > q->v;
}

/* Replaces y by the normal scores of its ranks, Phi^-1((rank + 1/2) / n), ties sharing their
 * mean rank: a Gaussian-copula output warping (Salinas et al., "A Quantile-based Approach for
 * Hyperparameter Transfer Learning", ICML 2020; HEBO, Cowen-Rivers et al. 2022). The model then
 * sees how configurations rank, not how far apart a few outliers are. */
static void rank_warp(double *y, size_t n)
{
    struct ranked *r = mp_xmalloc((n ? n : 1) * sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        r[i] = (struct ranked){y[i], i};
    }
    qsort(r, n, sizeof(*r), by_value);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && r[j + 1].v == r[i].v) {
            j++;
        }
        double q = mp_norm_ppf(((double)(i + j) / 2 + 0.5) / (double)n);
        for (size_t k = i; k <= j; k++) {
            y[r[k].i] = q;
        }
        i = j + 1;
    }
    free(r);
}

/* Fits gp to the n points z -> y (both owned: freed here), then adds the pending points zp as
 * believed observations. */
static int fit_owned(struct mp_gp *gp, double *z, double *y, size_t n, const double *zp, size_t np,
                     struct mp_rng *rng, struct mp_error *err)
{
    struct mp_gp_fit_opts fo = MP_GP_FIT_OPTS_INIT;
    fo.restarts = n <= 30 ? 1u : 0u;
    fo.max_fit_points = MAX_FIT_POINTS;
    int rc = mp_gp_fit(gp, z, y, n, &fo, rng, err);
    if (rc == 0) {
        rc = add_believed(gp, zp, np, err);
    }
    free(z);
    free(y);
    return rc;
}

/* A +-1 label regression: `slo` false labels every informative trial by whether it ran (+1) or
 * failed without a value (-1); `slo` true labels the trials with a value by whether they met
 * every constraint. The most recent 2 x MAX_MODEL_POINTS labels are used. */
static int fit_labels(const struct bo *bo, const struct mp_history *h, bool slo, const double *zp,
                      size_t np, struct mp_rng *rng, struct mp_gp *gp, struct mp_error *err)
{
    size_t d = bo->dz, n = 0;
    double *z = mp_xmalloc((h->n + 1) * d * sizeof(double));
    double *y = mp_xmalloc((h->n + 1) * sizeof(double));
    for (size_t i = h->n; i-- > 0 && n < 2 * MAX_MODEL_POINTS;) {
        const struct mp_observation *o = &h->obs[i];
        if (!mp_observation_informative(o) || (slo && !mp_bo_has_score(o))) {
            continue;
        }
        mp_bo_encode(bo, o->x, z + n * d);
        y[n++] = (slo ? o->feasible : mp_bo_has_score(o)) ? 1.0 : -1.0;
    }
    return fit_owned(gp, z, y, n, zp, np, rng, err);
}

/* Solves the k x k system a x = b in place (Gaussian elimination with partial pivoting); false
 * when singular. */
static bool solve_small(double *a, double *b, size_t k)
{
    for (size_t c = 0; c < k; c++) {
        size_t p = c;
        for (size_t r = c + 1; r < k; r++) {
            p = fabs(a[r * k + c]) > fabs(a[p * k + c]) ? r : p;
        }
        if (fabs(a[p * k + c]) < 1e-12) {
            return false;
        }
        for (size_t j = 0; j < k; j++) {
            double t = a[c * k + j];
            a[c * k + j] = a[p * k + j];
            a[p * k + j] = t;
        }
        double t = b[c];
        b[c] = b[p];
        b[p] = t;
        for (size_t r = c + 1; r < k; r++) {
            double f = a[r * k + c] / a[c * k + c];
            for (size_t j = c; j < k; j++) {
                a[r * k + j] -= f * a[c * k + j];
            }
            b[r] -= f * b[c];
        }
    }
    for (size_t c = k; c-- > 0;) {
        for (size_t j = c + 1; j < k; j++) {
            b[c] -= a[c * k + j] * b[j];
        }
        b[c] /= a[c * k + c];
    }
    return true;
}

/* The margin's trend in the resources, fitted by ridge least squares on the scaled resource
 * inputs: margin ~ c0 + sum c_j z_j with every c_j <= 0 (less of a resource never helps; a
 * positive coefficient is dropped and the rest refitted). With a few trials, the GP alone cannot
 * tell that the CPU quota, not the batch timeout, separates a failing configuration from a
 * passing one; the trend says so from the first violation on. */
static void fit_trend(struct bo_model *m, const double *z, const double *y, size_t n, size_t d)
{
    bool use[MP_BO_MAX_TREND] = {0};
    for (size_t j = 0; j < m->n_trend; j++) {
        use[j] = true;
        m->trend[j + 1] = 0;
    }
    m->trend[0] = 0;
    for (size_t round = 0; round <= m->n_trend && n >= 2; round++) {
        size_t k = 1, col[MP_BO_MAX_TREND + 1] = {0};
        for (size_t j = 0; j < m->n_trend; j++) {
            if (use[j]) {
                col[k++] = j + 1;
            }
        }
        double a[(MP_BO_MAX_TREND + 1) * (MP_BO_MAX_TREND + 1)] = {0}, b[MP_BO_MAX_TREND + 1] = {0};
        for (size_t i = 0; i < n; i++) {
            double f[MP_BO_MAX_TREND + 1] = {1};
            for (size_t c = 1; c < k; c++) {
                f[c] = z[i * d + m->trend_in[col[c] - 1]];
            }
            for (size_t r = 0; r < k; r++) {
                for (size_t c = 0; c < k; c++) {
                    a[r * k + c] += f[r] * f[c];
                }
                b[r] += f[r] * y[i];
            }
        }
        for (size_t r = 1; r < k; r++) {
            a[r * k + r] += 1e-3 * (double)n; /* ridge: a handful of points */
        }
        if (!solve_small(a, b, k)) {
            return;
        }
        bool positive = false;
        for (size_t c = 1; c < k; c++) {
            if (b[c] > 0) {
                use[col[c] - 1] = false;
                positive = true;
            }
        }
        if (!positive) {
            for (size_t j = 0; j <= m->n_trend; j++) {
                m->trend[j] = 0;
            }
            for (size_t c = 0; c < k; c++) {
                m->trend[col[c]] = b[c];
            }
            return;
        }
    }
}

static double trend_at(const struct bo_model *m, const double *z)
{
    double t = m->trend[0];
    for (size_t j = 0; j < m->n_trend; j++) {
        t += m->trend[j + 1] * z[m->trend_in[j]];
    }
    return t;
}

/* The distinct values of each trend input among the margin model's points into m->levels,
 * ascending; of more than MP_BO_MAX_LEVELS, that many spread evenly over them, the largest
 * included (each level costs one more prediction per candidate). */
static void resource_levels(struct bo_model *m)
{
    const struct mp_gp *gp = &m->slo;
    double *l = mp_xmalloc((gp->n + 1) * sizeof(double));
    for (size_t j = 0; j < m->n_trend; j++) {
        size_t nl = 0;
        for (size_t i = 0; i < gp->n; i++) {
            double v = gp->x[i * gp->d + m->trend_in[j]];
            size_t k = 0;
            while (k < nl && l[k] < v) {
                k++;
            }
            if (k == nl || l[k] != v) {
                memmove(l + k + 1, l + k, (nl - k) * sizeof(double));
                l[k] = v;
                nl++;
            }
        }
        size_t keep = nl < MP_BO_MAX_LEVELS ? nl : MP_BO_MAX_LEVELS;
        for (size_t k = 0; k < keep; k++) {
            m->levels[j][k] = l[keep < nl ? k * (nl - 1) / (keep - 1) : k];
        }
        m->n_levels[j] = keep;
    }
    free(l);
}

/* The margin model: a regression on the measured constraint margins of the trials with a value
 * (log of value over limit, > 0 breaks a constraint), so a p99 at 5 times its limit teaches more
 * than one at 1.1 times, and P(feasible) = P(margin <= 0). A monotone trend in the resources
 * plus a GP on the residual with the default length-scale prior (not the label models' short
 * one), targets standardised. */
static int fit_margins(const struct bo *bo, const struct mp_history *h, const double *zp, size_t np,
                       struct mp_rng *rng, struct bo_model *m, struct mp_error *err)
{
    struct mp_gp *gp = &m->slo;
    size_t d = bo->dz, n = 0;
    double *z = mp_xmalloc((h->n + 1) * d * sizeof(double));
    double *y = mp_xmalloc((h->n + 1) * sizeof(double));
    for (size_t i = h->n; i-- > 0 && n < 2 * MAX_MODEL_POINTS;) {
        const struct mp_observation *o = &h->obs[i];
        if (mp_bo_has_score(o) && o->has_margin) {
            mp_bo_encode(bo, o->x, z + n * d);
            y[n++] = o->margin;
        }
    }
    fit_trend(m, z, y, n, d);
    for (size_t i = 0; i < n; i++) {
        y[i] -= trend_at(m, z + i * d);
    }
    mp_gp_release(gp);
    mp_gp_init(gp, bo->dz, bo->cat);
    int rc = fit_owned(gp, z, y, n, zp, np, rng, err);
    if (rc == 0 && bo->set.monotone) {
        resource_levels(m);
    }
    return rc;
}

/* Whether every trial with a value has a margin (at least two of them): the margin model then
 * replaces the pass/fail labels. */
static bool margins_usable(const struct bo *bo, const struct mp_history *h)
{
    size_t with = 0;
    for (size_t i = 0; bo->set.margins && i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        if (mp_bo_has_score(o) && !o->has_margin) {
            return false;
        }
        with += mp_bo_has_score(o);
    }
    return with >= 2;
}

/* Collects the configurations that broke a constraint or ran out of memory: with the same other
 * values, less of every resource can only do worse (monotone infeasibility). */
static void collect_dominators(const struct bo *bo, const struct mp_history *h, struct bo_model *m)
{
    const struct mp_space *s = bo->base.space;
    bool any_resource = false;
    for (size_t k = 0; k < s->n; k++) {
        any_resource |=
            s->params[k].target == MP_TARGET_RESOURCE && s->params[k].type != MP_PARAM_CATEGORICAL;
    }
    if (!bo->set.monotone || !any_resource) {
        return;
    }
    m->dominators = mp_xmalloc((h->n + 1) * s->n * sizeof(double));
    m->dominator_oom = mp_xcalloc(h->n + 1, sizeof(bool));
    for (size_t i = 0; i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        bool slo = mp_bo_has_score(o) && !o->feasible;
        bool oom = o->state == MP_TRIAL_FAILED && o->failure == MP_FAILURE_OOM_KILLED;
        if (mp_observation_informative(o) && (slo || oom)) {
            m->dominator_oom[m->n_dominators] = oom;
            memcpy(m->dominators + m->n_dominators++ * s->n, o->x, s->n * sizeof(double));
        }
    }
}

/* True when x has the other values of a dominator and no more of any resource (of memory, for a
 * dominator that ran out of memory). */
static bool dominated(const struct bo *bo, const struct bo_model *m, const double *x)
{
    const struct mp_space *s = bo->base.space;
    for (size_t j = 0; j < m->n_dominators; j++) {
        const double *y = m->dominators + j * s->n;
        bool below = true;
        for (size_t k = 0; k < s->n && below; k++) {
            const struct mp_param *p = &s->params[k];
            bool resource = p->target == MP_TARGET_RESOURCE && p->type != MP_PARAM_CATEGORICAL;
            /* Out of memory: more CPU does not help, less memory cannot. */
            bool free_cpu = m->dominator_oom[j] && p->resource != MP_RESOURCE_MEMORY;
            below = !resource ? x[k] == y[k] : free_cpu || x[k] <= y[k];
        }
        if (below) {
            return true;
        }
    }
    return false;
}

/* log P(label +1) of a label model: a probit squash of the regression. */
static double log_prob(double mu, double var)
{
    return mp_norm_logcdf(mu / sqrt(FEAS_PROBIT_S * FEAS_PROBIT_S + var));
}

/* Scales the meta-learned prior to the data by least squares (score ~ a * prior + b, a >= 0)
 * and leaves the residuals in y for the GP: where the prior ranks configurations well, the GP
 * only has to learn the difference (docs/internals/bo.md, "Prior mean"). */
static void fit_prior(const struct bo *bo, const struct mp_history *h, const size_t *vidx,
                      double *y, size_t n, struct bo_model *m)
{
    double *p = mp_xmalloc(n * sizeof(double));
    double mp = 0, my = 0, cov = 0, var = 0;
    for (size_t k = 0; k < n; k++) {
        p[k] = mp_meta_prior_mean(bo->prior_bind, h->obs[vidx[k]].x);
        mp += p[k] / (double)n;
        my += y[k] / (double)n;
    }
    for (size_t k = 0; k < n; k++) {
        cov += (p[k] - mp) * (y[k] - my);
        var += (p[k] - mp) * (p[k] - mp);
    }
    m->prior_a = var > 1e-12 && cov > 0 ? cov / var : 0;
    m->prior_b = my - m->prior_a * mp;
    for (size_t k = 0; k < n; k++) {
        y[k] -= m->prior_a * p[k] + m->prior_b;
    }
    m->have_prior = true;
    free(p);
}

/* Fits the objective model on the valued trials vidx[0..nv) (selected and warped here), with
 * the np pending points zp believed at its mean. */
static int fit_objective(const struct bo *bo, const struct mp_history *h, size_t *vidx, size_t nv,
                         const double *zp, size_t np, struct mp_rng *rng, struct bo_model *m,
                         struct mp_error *err)
{
    size_t d = bo->dz;
    struct mp_gp_fit_opts fo = MP_GP_FIT_OPTS_INIT;
    /* Restarts matter with few points and cost most with many (docs/internals/bo.md). */
    fo.restarts = bo->set.restarts >= 0 ? (unsigned)bo->set.restarts
                  : nv <= 30            ? 2u
                  : nv <= 60            ? 1u
                                        : 0u;
    fo.max_fit_points = MAX_FIT_POINTS;
    select_points(h, vidx, &nv);
    double *z = mp_xmalloc((nv + 1) * d * sizeof(double));
    double *y = mp_xmalloc((nv + 1) * sizeof(double));
    for (size_t k = 0; k < nv; k++) {
        mp_bo_encode(bo, h->obs[vidx[k]].x, z + k * d);
        y[k] = h->obs[vidx[k]].score;
    }
    if (bo->set.warp == BO_WARP_RANK) {
        rank_warp(y, nv);
    }
    /* The model works in units of the power of two above the largest |score| (exact, so the
     * search is the same in any units): its variance is the square of the scores' spread, which
     * overflowed for scores above 1e154 and tied every candidate at an infinite EI. */
    double top = 0;
    for (size_t k = 0; k < nv; k++) {
        top = fmax(top, fabs(y[k]));
    }
    m->unit_exp = 0;
    if (top > 0) {
        frexp(top, &m->unit_exp);
        for (size_t k = 0; k < nv; k++) {
            y[k] = ldexp(y[k], -m->unit_exp);
        }
    }
    m->have_best = false;
    m->y_min = INFINITY;
    for (size_t k = 0; k < nv; k++) {
        m->y_min = fmin(m->y_min, y[k]);
        if (h->obs[vidx[k]].feasible && (!m->have_best || y[k] > m->best)) {
            m->best = y[k];
            m->have_best = true;
        }
    }
    if (bo->prior_bind && nv >= 2) {
        fit_prior(bo, h, vidx, y, nv, m);
    }
    int rc = 0;
    if (nv > 0 && (rc = mp_gp_fit(&m->obj, z, y, nv, &fo, rng, err)) >= 0 &&
        (rc = add_believed(&m->obj, zp, np, err)) >= 0) {
        m->have_obj = true;
    }
    free(z);
    free(y);
    return rc;
}

int mp_bo_fit_models(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                     struct bo_model *m, struct mp_error *err)
{
    size_t d = bo->dz, nv = 0, np = 0;
    size_t *vidx = mp_xmalloc((h->n + 1) * sizeof(size_t));
    double *zp = mp_xmalloc((h->n + 1) * d * sizeof(double));
    bool any_crash = false, any_slo = false;
    for (size_t i = 0; i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        if (is_pending(o)) {
            mp_bo_encode(bo, o->x, zp + np++ * d);
        }
        if (!mp_observation_informative(o)) {
            continue;
        }
        m->n_info++;
        any_crash |= !mp_bo_has_score(o);
        any_slo |= mp_bo_has_score(o) && !o->feasible;
        if (mp_bo_has_score(o)) {
            vidx[nv++] = i;
        }
    }
    m->n_valued = nv;
    if (bo->set.feasible_objective) {
        keep_feasible(h, vidx, &nv);
    }
    int rc = fit_objective(bo, h, vidx, nv, zp, np, rng, m, err);
    if (rc < 0) {
        goto out;
    }
    if (any_crash && (rc = fit_labels(bo, h, false, zp, np, rng, &m->runs, err)) < 0) {
        goto out;
    }
    m->have_runs = any_crash;
    collect_dominators(bo, h, m);
    if (margins_usable(bo, h)) {
        if ((rc = fit_margins(bo, h, zp, np, rng, m, err)) < 0) {
            goto out;
        }
        m->have_slo = m->slo_margin = true;
        goto out;
    }
    if (any_slo && (rc = fit_labels(bo, h, true, zp, np, rng, &m->slo, err)) < 0) {
        goto out;
    }
    m->have_slo = any_slo;
out:
    free(vidx);
    free(zp);
    return rc;
}

/* --- acquisition --------------------------------------------------------------------------- */

/* log P(margin <= 0) at n inputs z into lp; work: 2 n values. */
static void margin_log_prob(const struct bo_model *m, size_t dz, const double *z, size_t n,
                            double *lp, double *work)
{
    double *mu = work, *var = work + n;
    mp_gp_predict(&m->slo, z, n, mu, var);
    for (size_t i = 0; i < n; i++) {
        double g = mu[i] + trend_at(m, z + i * dz);
        lp[i] = mp_norm_logcdf(-g / sqrt(MARGIN_NOISE * MARGIN_NOISE + var[i]));
    }
}

/* The margin model's log P(feasible) at n inputs z, added to out; monotone in the resources
 * (monotone_resources): with the same other values, more of a resource cannot break a
 * constraint that less of it met, so a configuration's probability is at most that of itself
 * with one resource raised to a level some trial had. Where the trials leave a resource's effect
 * to the residual model (which is not monotone), this keeps a configuration beside failures from
 * looking safer than the same configuration with more of that resource. */
static void margin_log_probs(const struct bo *bo, const struct bo_model *m, const double *z,
                             size_t n, double *out)
{
    size_t d = bo->dz;
    double *zc = mp_xmalloc((n + 1) * d * sizeof(double));
    double *lp = mp_xmalloc((n + 1) * 4 * sizeof(double)), *lq = lp + n, *work = lq + n;
    size_t *at = mp_xmalloc((n + 1) * sizeof(size_t));
    margin_log_prob(m, d, z, n, lp, work);
    /* Raised to one level, candidates that differ only in that resource become one input:
     * each distinct input is predicted once (on a 40,000-configuration space a few thousand of
     * them), found through an open-addressed table of row indices into zc. */
    size_t cap = 2;
    while (cap < 2 * n) {
        cap *= 2;
    }
    size_t *slot = mp_xmalloc(cap * sizeof(size_t));
    for (size_t j = 0; j < m->n_trend; j++) {
        size_t in = m->trend_in[j];
        for (size_t k = 0; k < m->n_levels[j]; k++) {
            size_t c = 0;
            memset(slot, 0xff, cap * sizeof(size_t));
            for (size_t i = 0; i < n; i++) {
                if (!(m->levels[j][k] > z[i * d + in])) {
                    at[i] = SIZE_MAX;
                    continue;
                }
                double *row = zc + c * d;
                memcpy(row, z + i * d, d * sizeof(double));
                row[in] = m->levels[j][k];
                size_t h = (size_t)mp_hash_bytes(row, d * sizeof(double)) & (cap - 1);
                while (slot[h] != SIZE_MAX &&
                       memcmp(zc + slot[h] * d, row, d * sizeof(double)) != 0) {
                    h = (h + 1) & (cap - 1);
                }
                if (slot[h] == SIZE_MAX) {
                    slot[h] = c++;
                }
                at[i] = slot[h];
            }
            margin_log_prob(m, d, zc, c, lq, work);
            for (size_t i = 0; i < n; i++) {
                if (at[i] != SIZE_MAX) {
                    lp[i] = fmin(lp[i], lq[at[i]]);
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        out[i] += lp[i];
    }
    free(slot);
    free(zc);
    free(lp);
    free(at);
}

/* log of (acquisition x probability of feasibility) at m model inputs. */
void mp_bo_acquisition(const struct bo *bo, const struct bo_model *m, const double *z, size_t n,
                       double *out, double *work)
{
    double *mu = work, *var = work + n;
    for (size_t i = 0; i < n; i++) {
        out[i] = 0;
    }
    if (m->have_runs) {
        mp_gp_predict(&m->runs, z, n, mu, var);
        for (size_t i = 0; i < n; i++) {
            out[i] += log_prob(mu[i], var[i]);
        }
    }
    if (m->have_slo && m->slo_margin) {
        margin_log_probs(bo, m, z, n, out);
    } else if (m->have_slo) {
        mp_gp_predict(&m->slo, z, n, mu, var);
        for (size_t i = 0; i < n; i++) {
            out[i] += log_prob(mu[i], var[i]);
        }
    }
    double *xd = m->n_dominators ? mp_xmalloc((bo->d + 1) * sizeof(double)) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (xd) {
            mp_bo_decode(bo, z + i * bo->dz, xd);
        }
        if (out[i] < m->log_min_pof || (xd && dominated(bo, m, xd))) {
            out[i] -= POF_PENALTY;
        }
    }
    free(xd);
    if (!m->have_obj || !m->have_best) {
        return; /* nothing feasible measured yet: look for feasibility first */
    }
    mp_gp_predict(&m->obj, z, n, mu, var);
    if (m->have_prior) {
        double *x = mp_xmalloc((bo->d + 1) * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            mp_bo_decode(bo, z + i * bo->dz, x);
            mu[i] += m->prior_a * mp_meta_prior_mean(bo->prior_bind, x) + m->prior_b;
        }
        free(x);
    }
    double scale = m->obj.y_scale;
    for (size_t i = 0; i < n; i++) {
        double sd = sqrt(var[i]);
        if (bo->set.acq == BO_UCB) {
            double u = mp_gp_ucb(mu[i], sd, bo->set.beta) - m->y_min;
            out[i] += log(fmax(u, 1e-12 * scale));
        } else {
            out[i] += mp_gp_log_ei(mu[i], sd, m->best, bo->set.xi * scale);
        }
    }
}
