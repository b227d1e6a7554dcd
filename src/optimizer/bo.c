/* SPDX-License-Identifier: Apache-2.0 */
/* The `bo` back end: Bayesian optimisation with a Gaussian process (src/gp) over the encoded
 * space, expected improvement (or UCB) times the probability of feasibility, a seeded
 * space-filling initial design, kriging-believer batches and three stopping rules.
 * docs/internals/bo.md describes the model and the measured results. */
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp/gp.h"
#include "meta/meta.h"
#include "optimizer/optimizer.h"

#define BLOCK            2048
#define DESIGN_POOL      2000
#define MAX_MODEL_POINTS 400
/* Hyper-parameters are fit on at most this many observations (the posterior uses all): keeps a
 * suggestion with 100 observations near 10 ms. */
#define MAX_FIT_POINTS 64
#define LOCAL_STARTS   5
#define NEIGHBOURS     40
/* Probit squash of the +-1 feasibility regression: P = Phi(mu / sqrt(s^2 + var)). */
#define FEAS_PROBIT_S 0.25
/* Configurations below the min_feasibility probability are tried only when nothing else is
 * left: EI x PoF alone keeps extrapolating into a failing region, because the best
 * configurations often sit on its edge (a penalty keeps their order among themselves). */
#define MIN_POF_DEFAULT 0.1
#define LABEL_LOG_LS    (-0.6931471805599453) /* ln 0.5 */
#define POF_PENALTY     1000.0

enum bo_acq { BO_EI, BO_UCB };

struct bo_settings {
    int64_t initial;     /* size of the space-filling initial design */
    enum bo_acq acq;     /* acquisition function */
    double beta;         /* UCB exploration weight */
    double xi;           /* EI margin, in units of the objective's standard deviation */
    int64_t restarts;    /* random restarts of the hyper-parameter fit; -1: by history size */
    int64_t candidates;  /* sampled candidates when the space is not enumerated */
    int64_t exact_limit; /* enumerate finite spaces up to this many configurations */
    int64_t patience;    /* stop after this many trials without improvement; 0: off */
    bool stop_on_ei;     /* stop when the best EI falls below the noise level */
    bool warp_rank;      /* model normal scores of the ranks instead of raw scores */
    bool onehot;         /* one input (and length scale) per categorical choice */
    double min_pof;      /* below this probability of feasibility, only as a last resort */
};

/* How one parameter becomes one model input. */
struct bo_dim {
    size_t off;  /* first model input of this parameter */
    bool cat;    /* categorical */
    bool onehot; /* categorical as one 0/1 input per choice, else one index input */
    bool log;    /* numeric: warp with log before scaling */
    double lo;   /* warped lower bound */
    double hi;   /* warped upper bound */
};

struct bo {
    struct mp_optimizer base;
    struct bo_settings set;
    size_t d;  /* parameters */
    size_t dz; /* model inputs */
    struct bo_dim *dims;
    unsigned char *cat; /* dz flags for the GP: 1 = index input compared by equality */
    bool enumerate;     /* score every untried configuration exactly */
    uint64_t count;
    /* algorithm.prior: a meta-learned model whose prediction serves as the GP's prior mean */
    struct mp_meta_model *prior;
    struct mp_meta_binding *prior_bind;
};

/* The fitted models for one call. */
struct bo_model {
    struct mp_gp obj;
    /* Feasibility in two parts, because the causes differ: `runs` learns which configurations
     * fail outright (crash, OOM, unhealthy...: no value), `slo` which measured ones violate a
     * constraint. P(feasible) = P(runs) x P(meets the SLO). */
    struct mp_gp runs, slo;
    bool have_obj, have_runs, have_slo, have_best;
    double log_min_pof; /* log of the min_feasibility setting */
    double best;        /* best feasible score */
    double y_min;       /* lowest score seen (UCB reference) */
    size_t n_info;      /* finished trials that teach something */
    size_t n_valued;    /* trials with a measured objective */
    /* With a prior: the GP models score - (prior_a * prior(x) + prior_b). */
    bool have_prior;
    double prior_a, prior_b;
};

/* --- settings ------------------------------------------------------------------------------ */

static const char *const setting_keys[] = {
    "initial",     "acquisition",     "beta",     "xi",         "restarts",
    "candidates",  "exact_limit",     "patience", "stop_on_ei", "warp",
    "categorical", "min_feasibility", NULL,
};

static int parse_settings(const struct mp_space *space, const struct mp_node *s,
                          struct bo_settings *out, struct mp_error *err)
{
    struct bo_settings set = {0,      BO_EI, 2.0,   0.0,   -1,    2000,
                              100000, 0,     false, false, false, MIN_POF_DEFAULT};
    /* Few initial points leave more trials to the model (measured in docs/internals/bo.md). */
    set.initial = (int64_t)(space->n + 1) / 2;
    set.initial = set.initial < 3 ? 3 : set.initial > 10 ? 10 : set.initial;
    int rc = 0;
    if (s && !mp_doc_is_null(s)) {
        const char *acq = NULL, *warp = NULL, *cat = NULL;
        if ((rc = mp_doc_expect(s, MP_NODE_MAP, err)) < 0 ||
            (rc = mp_doc_check_keys(s, setting_keys, err)) < 0 ||
            (rc = mp_doc_int(mp_doc_get(s, "initial"), 1, 10000, &set.initial, err)) < 0 ||
            (rc = mp_doc_string(mp_doc_get(s, "acquisition"), &acq, err)) < 0 ||
            (rc = mp_doc_number(mp_doc_get(s, "beta"), &set.beta, err)) < 0 ||
            (rc = mp_doc_number(mp_doc_get(s, "xi"), &set.xi, err)) < 0 ||
            (rc = mp_doc_int(mp_doc_get(s, "restarts"), 0, 50, &set.restarts, err)) < 0 ||
            (rc = mp_doc_int(mp_doc_get(s, "candidates"), 10, 1000000, &set.candidates, err)) < 0 ||
            (rc = mp_doc_int(mp_doc_get(s, "exact_limit"), 0, 1000000, &set.exact_limit, err)) <
                0 ||
            (rc = mp_doc_int(mp_doc_get(s, "patience"), 0, 1000000, &set.patience, err)) < 0 ||
            (rc = mp_doc_bool(mp_doc_get(s, "stop_on_ei"), &set.stop_on_ei, err)) < 0 ||
            (rc = mp_doc_string(mp_doc_get(s, "warp"), &warp, err)) < 0 ||
            (rc = mp_doc_string(mp_doc_get(s, "categorical"), &cat, err)) < 0 ||
            (rc = mp_doc_number(mp_doc_get(s, "min_feasibility"), &set.min_pof, err)) < 0) {
            return rc;
        }
        if (acq && strcmp(acq, "ei") == 0) {
            set.acq = BO_EI;
        } else if (acq && strcmp(acq, "ucb") == 0) {
            set.acq = BO_UCB;
        } else if (acq) {
            return mp_doc_error(err, mp_doc_get(s, "acquisition"),
                                "expected \"ei\" or \"ucb\", got \"%s\"", acq);
        }
        if (warp && (strcmp(warp, "rank") == 0 || strcmp(warp, "none") == 0)) {
            set.warp_rank = strcmp(warp, "rank") == 0;
        } else if (warp) {
            return mp_doc_error(err, mp_doc_get(s, "warp"),
                                "expected \"rank\" or \"none\", got \"%s\"", warp);
        }
        if (cat && (strcmp(cat, "onehot") == 0 || strcmp(cat, "shared") == 0)) {
            set.onehot = strcmp(cat, "onehot") == 0;
        } else if (cat) {
            return mp_doc_error(err, mp_doc_get(s, "categorical"),
                                "expected \"onehot\" or \"shared\", got \"%s\"", cat);
        }
        if (!(set.beta >= 0 && set.beta <= 100)) {
            return mp_doc_error(err, mp_doc_get(s, "beta"), "expected a number in [0, 100]");
        }
        if (!(set.min_pof >= 0 && set.min_pof < 1)) {
            return mp_doc_error(err, mp_doc_get(s, "min_feasibility"),
                                "expected a probability in [0, 1)");
        }
        if (!(set.xi >= 0 && set.xi <= 10)) {
            return mp_doc_error(err, mp_doc_get(s, "xi"), "expected a number in [0, 10]");
        }
    }
    *out = set;
    return 0;
}

static int bo_validate(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                       struct mp_error *err)
{
    struct bo_settings set;
    if (space->n == 0) {
        return mp_error_set(err, MP_EINVALID, "algorithm 'bo' needs at least one parameter");
    }
    return parse_settings(space, opts ? opts->settings : NULL, &set, err);
}

/* --- encoding ------------------------------------------------------------------------------ */

/* Coefficient of variation of the gaps of a sorted list, optionally after log. */
static double gap_cov(const double *v, size_t n, bool log_space)
{
    double m = 0, s = 0;
    for (size_t i = 1; i < n; i++) {
        m += log_space ? log(v[i]) - log(v[i - 1]) : v[i] - v[i - 1];
    }
    m /= (double)(n - 1);
    for (size_t i = 1; i < n; i++) {
        double g = log_space ? log(v[i]) - log(v[i - 1]) : v[i] - v[i - 1];
        s += (g - m) * (g - m);
    }
    return m > 0 ? sqrt(s / (double)(n - 1)) / m : INFINITY;
}

/* A listed parameter whose values are more evenly spaced in log than in linear terms (batch
 * sizes 4, 8, 16, ...) was designed on a log grid, so the model sees it in log space. */
static bool auto_log(const struct mp_param *p)
{
    if (p->type != MP_PARAM_DISCRETE || p->n_values < 3 || !(p->values[0] > 0)) {
        return false;
    }
    return gap_cov(p->values, p->n_values, true) < gap_cov(p->values, p->n_values, false);
}

static void setup_dims(struct bo *bo, const struct mp_space *space)
{
    bo->d = space->n;
    bo->dims = mp_xcalloc(space->n, sizeof(*bo->dims));
    size_t dz = 0;
    for (size_t i = 0; i < space->n; i++) {
        const struct mp_param *p = &space->params[i];
        bo->dims[i].off = dz;
        bo->dims[i].cat = p->type == MP_PARAM_CATEGORICAL;
        bo->dims[i].onehot = bo->dims[i].cat && bo->set.onehot && p->n_choices > 1;
        dz += bo->dims[i].onehot ? p->n_choices : 1;
    }
    bo->dz = dz;
    bo->cat = mp_xcalloc(dz, 1);
    for (size_t i = 0; i < space->n; i++) {
        const struct mp_param *p = &space->params[i];
        struct bo_dim *dm = &bo->dims[i];
        if (dm->cat) {
            bo->cat[dm->off] = !dm->onehot;
            continue;
        }
        double lo = p->type == MP_PARAM_DISCRETE ? p->values[0] : p->min;
        double hi = p->type == MP_PARAM_DISCRETE ? p->values[p->n_values - 1] : p->max;
        dm->log = (p->log_scale || auto_log(p)) && lo > 0;
        dm->lo = dm->log ? log(lo) : lo;
        dm->hi = dm->log ? log(hi) : hi;
    }
}

static void encode(const struct bo *bo, const double *x, double *z)
{
    const struct mp_space *space = bo->base.space;
    for (size_t i = 0; i < bo->d; i++) {
        const struct bo_dim *dm = &bo->dims[i];
        if (dm->onehot) {
            for (size_t c = 0; c < space->params[i].n_choices; c++) {
                z[dm->off + c] = x[i] == (double)c ? 1.0 : 0.0;
            }
            continue;
        }
        if (dm->cat) {
            z[dm->off] = x[i];
            continue;
        }
        double w = dm->log ? log(x[i]) : x[i];
        z[dm->off] = dm->hi > dm->lo ? (w - dm->lo) / (dm->hi - dm->lo) : 0.5;
    }
}

/* Inverse of encode for numeric inputs, snapping to the parameter's levels. */
static void decode(const struct bo *bo, const double *z, double *x)
{
    const struct mp_space *space = bo->base.space;
    for (size_t i = 0; i < bo->d; i++) {
        const struct bo_dim *dm = &bo->dims[i];
        const struct mp_param *p = &space->params[i];
        if (dm->onehot) {
            size_t best = 0;
            for (size_t c = 1; c < p->n_choices; c++) {
                best = z[dm->off + c] > z[dm->off + best] ? c : best;
            }
            x[i] = (double)best;
            continue;
        }
        if (dm->cat) {
            x[i] = z[dm->off];
            continue;
        }
        double w = dm->lo + fmin(1.0, fmax(0.0, z[dm->off])) * (dm->hi - dm->lo);
        double v = dm->log ? exp(w) : w;
        uint64_t levels = mp_space_levels(space, i);
        if (levels == 0) {
            x[i] = fmin(p->max, fmax(p->min, v));
        } else if (p->type == MP_PARAM_DISCRETE) {
            size_t best = 0;
            for (size_t j = 1; j < p->n_values; j++) {
                double wj = dm->log ? log(p->values[j]) : p->values[j];
                double wb = dm->log ? log(p->values[best]) : p->values[best];
                if (fabs(wj - w) < fabs(wb - w)) {
                    best = j;
                }
            }
            x[i] = p->values[best];
        } else {
            double k = round((v - p->min) / p->step);
            k = fmin((double)(levels - 1), fmax(0.0, k));
            x[i] = mp_space_level_value(space, i, (uint64_t)k);
        }
    }
}

/* --- history and models -------------------------------------------------------------------- */

static bool is_pending(const struct mp_observation *o)
{
    return o->state == MP_TRIAL_PENDING || o->state == MP_TRIAL_RUNNING;
}

/* An informative trial with a measured, finite objective. */
static bool has_score(const struct mp_observation *o)
{
    return mp_observation_informative(o) && o->has_value && isfinite(o->score);
}

static void model_init(struct bo_model *m, const struct bo *bo)
{
    memset(m, 0, sizeof(*m));
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

static void model_release(struct bo_model *m)
{
    mp_gp_release(&m->obj);
    mp_gp_release(&m->runs);
    mp_gp_release(&m->slo);
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
        if (!mp_observation_informative(o) || (slo && !has_score(o))) {
            continue;
        }
        encode(bo, o->x, z + n * d);
        y[n++] = (slo ? o->feasible : has_score(o)) ? 1.0 : -1.0;
    }
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

static int fit_models(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                      struct bo_model *m, struct mp_error *err)
{
    size_t d = bo->dz, nv = 0, np = 0;
    size_t *vidx = mp_xmalloc((h->n + 1) * sizeof(size_t));
    double *z = mp_xmalloc((h->n + 1) * d * sizeof(double));
    double *y = mp_xmalloc((h->n + 1) * sizeof(double));
    double *zp = mp_xmalloc((h->n + 1) * d * sizeof(double));
    bool any_crash = false, any_slo = false;
    for (size_t i = 0; i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        if (is_pending(o)) {
            encode(bo, o->x, zp + np++ * d);
        }
        if (!mp_observation_informative(o)) {
            continue;
        }
        m->n_info++;
        any_crash |= !has_score(o);
        any_slo |= has_score(o) && !o->feasible;
        if (has_score(o)) {
            vidx[nv++] = i;
        }
    }
    m->n_valued = nv;
    int rc = 0;
    struct mp_gp_fit_opts fo = MP_GP_FIT_OPTS_INIT;
    /* Restarts matter with few points and cost most with many (docs/internals/bo.md). */
    fo.restarts = bo->set.restarts >= 0 ? (unsigned)bo->set.restarts
                  : nv <= 30            ? 2u
                  : nv <= 60            ? 1u
                                        : 0u;
    fo.max_fit_points = MAX_FIT_POINTS;
    select_points(h, vidx, &nv);
    for (size_t k = 0; k < nv; k++) {
        encode(bo, h->obs[vidx[k]].x, z + k * d);
        y[k] = h->obs[vidx[k]].score;
    }
    if (bo->set.warp_rank) {
        rank_warp(y, nv);
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
    if (nv > 0) {
        if ((rc = mp_gp_fit(&m->obj, z, y, nv, &fo, rng, err)) < 0 ||
            (rc = add_believed(&m->obj, zp, np, err)) < 0) {
            goto out;
        }
        m->have_obj = true;
    }
    if (any_crash && (rc = fit_labels(bo, h, false, zp, np, rng, &m->runs, err)) < 0) {
        goto out;
    }
    m->have_runs = any_crash;
    if (any_slo && (rc = fit_labels(bo, h, true, zp, np, rng, &m->slo, err)) < 0) {
        goto out;
    }
    m->have_slo = any_slo;
out:
    free(vidx);
    free(z);
    free(y);
    free(zp);
    return rc;
}

/* --- acquisition --------------------------------------------------------------------------- */

/* log of (acquisition x probability of feasibility) at m model inputs. */
static void acquisition(const struct bo *bo, const struct bo_model *m, const double *z, size_t n,
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
    if (m->have_slo) {
        mp_gp_predict(&m->slo, z, n, mu, var);
        for (size_t i = 0; i < n; i++) {
            out[i] += log_prob(mu[i], var[i]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (out[i] < m->log_min_pof) {
            out[i] -= POF_PENALTY;
        }
    }
    if (!m->have_obj || !m->have_best) {
        return; /* nothing feasible measured yet: look for feasibility first */
    }
    mp_gp_predict(&m->obj, z, n, mu, var);
    if (m->have_prior) {
        double *x = mp_xmalloc((bo->d + 1) * sizeof(double));
        for (size_t i = 0; i < n; i++) {
            decode(bo, z + i * bo->dz, x);
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

/* Candidate search state: the best untried configuration seen so far. */
struct bo_pick {
    double *x;  /* d values */
    double acq; /* its log acquisition */
    bool found;
};

static void pick_consider(struct bo_pick *p, const double *x, size_t d, double acq)
{
    if (!p->found || acq > p->acq) {
        memcpy(p->x, x, d * sizeof(double));
        p->acq = acq;
        p->found = true;
    }
}

static unsigned char *tried_bitmap(const struct bo *bo, const struct mp_history *h)
{
    unsigned char *bits = mp_xcalloc(bo->count / 8 + 1, 1);
    for (size_t i = 0; i < h->n; i++) {
        uint64_t idx;
        if (mp_space_to_index(bo->base.space, h->obs[i].x, &idx) && idx < bo->count) {
            bits[idx / 8] |= (unsigned char)(1u << (idx % 8));
        }
    }
    return bits;
}

/* Scores every untried configuration of an enumerable space, block by block. */
static void search_exact(const struct bo *bo, const struct bo_model *m, const unsigned char *bits,
                         struct bo_pick *pick)
{
    const struct mp_space *space = bo->base.space;
    size_t d = bo->d, dz = bo->dz;
    double *xs = mp_xmalloc(BLOCK * d * sizeof(double));
    double *zs = mp_xmalloc(BLOCK * dz * sizeof(double));
    double *acq = mp_xmalloc(BLOCK * sizeof(double));
    double *work = mp_xmalloc(2 * BLOCK * sizeof(double));
    uint64_t idx = 0;
    while (idx < bo->count) {
        size_t nb = 0;
        for (; idx < bo->count && nb < BLOCK; idx++) {
            if (bits[idx / 8] & (1u << (idx % 8))) {
                continue;
            }
            mp_space_from_index(space, idx, xs + nb * d);
            encode(bo, xs + nb * d, zs + nb * dz);
            nb++;
        }
        acquisition(bo, m, zs, nb, acq, work);
        for (size_t i = 0; i < nb; i++) {
            pick_consider(pick, xs + i * d, d, acq[i]);
        }
    }
    free(xs);
    free(zs);
    free(acq);
    free(work);
}

struct local_ctx {
    const struct bo *bo;
    const struct bo_model *m;
    double *z, *x, *work;
};

/* Local refinement objective: continuous inputs vary, categorical ones stay put. */
static double local_objective(unsigned dim, const double *v, double *grad, void *data)
{
    struct local_ctx *c = data;
    (void)grad;
    size_t k = 0;
    for (size_t i = 0; i < c->bo->d && k < dim; i++) {
        if (!c->bo->dims[i].cat) {
            c->z[c->bo->dims[i].off] = v[k++];
        }
    }
    double a;
    acquisition(c->bo, c->m, c->z, 1, &a, c->work);
    return isfinite(a) ? a : -1e300;
}

/* Polishes x (a configuration) by maximising the acquisition over its numeric inputs with
 * BOBYQA, then snaps the result back onto the space. */
static void refine(const struct bo *bo, const struct bo_model *m, double *x)
{
    size_t d = bo->d;
    unsigned dim = 0;
    for (size_t i = 0; i < d; i++) {
        dim += !bo->dims[i].cat;
    }
    if (dim == 0) {
        return;
    }
    double *buf = mp_xmalloc((3 * dim + bo->dz + 2) * sizeof(double));
    double *v = buf, *lo = buf + dim, *hi = buf + 2 * dim, *z = buf + 3 * dim, *w = z + bo->dz;
    struct local_ctx c = {bo, m, z, x, w};
    encode(bo, x, z);
    for (size_t i = 0, k = 0; i < d; i++) {
        if (!bo->dims[i].cat) {
            v[k] = z[bo->dims[i].off];
            lo[k] = 0;
            hi[k] = 1;
            k++;
        }
    }
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, dim);
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_max_objective(opt, local_objective, &c);
    nlopt_set_maxeval(opt, 60 + 10 * (int)dim);
    nlopt_set_initial_step1(opt, 0.05);
    nlopt_set_xtol_abs1(opt, 1e-4);
    double best;
    if (nlopt_optimize(opt, v, &best) > 0) {
        for (size_t i = 0, k = 0; i < d; i++) {
            if (!bo->dims[i].cat) {
                z[bo->dims[i].off] = v[k++];
            }
        }
        decode(bo, z, x);
    }
    nlopt_destroy(opt);
    free(buf);
}

struct scored {
    double acq;
    size_t i;
};

static int by_acq_desc(const void *a, const void *b)
{
    const struct scored *p = a, *q = b;
    if (p->acq != q->acq) {
        return p->acq > q->acq ? -1 : 1;
    }
    return p->i < q->i ? -1 : p->i > q->i;
}

/* A random neighbour of x: one or two parameters moved a little (numeric) or re-drawn
 * (categorical). */
static void neighbour(const struct bo *bo, struct mp_rng *rng, const double *x, double *z,
                      double *out)
{
    const struct mp_space *space = bo->base.space;
    memcpy(out, x, bo->d * sizeof(double));
    unsigned moves = 1 + (unsigned)mp_rng_below(rng, 2);
    for (unsigned t = 0; t < moves; t++) {
        size_t i = (size_t)mp_rng_below(rng, bo->d);
        if (bo->dims[i].cat) {
            out[i] = (double)mp_rng_below(rng, space->params[i].n_choices);
            continue;
        }
        encode(bo, out, z);
        z[bo->dims[i].off] += 0.15 * mp_rng_normal(rng);
        decode(bo, z, out);
    }
}

/* Candidates for spaces too large to enumerate: uniform samples plus neighbours of the best
 * observations, scored; the best few are refined locally. Configurations in the history are
 * skipped by key. */
static void search_sampled(const struct bo *bo, const struct bo_model *m,
                           const struct mp_history *h, struct mp_rng *rng,
                           const struct mp_strset *keys, struct bo_pick *pick)
{
    const struct mp_space *space = bo->base.space;
    size_t d = bo->d, dz = bo->dz, n = (size_t)bo->set.candidates + LOCAL_STARTS * NEIGHBOURS;
    double *xs = mp_xmalloc(n * d * sizeof(double));
    double *zs = mp_xmalloc(n * dz * sizeof(double));
    double *acq = mp_xmalloc(n * sizeof(double));
    double *work = mp_xmalloc(2 * n * sizeof(double));
    struct scored *order = mp_xmalloc(n * sizeof(*order));
    size_t c = 0;
    for (; c < (size_t)bo->set.candidates; c++) {
        mp_space_sample(space, rng, xs + c * d);
    }
    /* Neighbours of the best feasible observations. */
    struct scored *top = mp_xcalloc(h->n + 1, sizeof(*top));
    size_t nt = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (has_score(&h->obs[i]) && h->obs[i].feasible) {
            top[nt++] = (struct scored){h->obs[i].score, i};
        }
    }
    qsort(top, nt, sizeof(*top), by_acq_desc);
    for (size_t t = 0; t < nt && t < LOCAL_STARTS; t++) {
        for (size_t k = 0; k < NEIGHBOURS; k++) {
            neighbour(bo, rng, h->obs[top[t].i].x, zs, xs + c++ * d);
        }
    }
    free(top);
    for (size_t i = 0; i < c; i++) {
        encode(bo, xs + i * d, zs + i * dz);
    }
    acquisition(bo, m, zs, c, acq, work);
    for (size_t i = 0; i < c; i++) {
        order[i] = (struct scored){acq[i], i};
    }
    qsort(order, c, sizeof(*order), by_acq_desc);
    size_t refined = 0;
    double *x = mp_xmalloc(d * sizeof(double));
    for (size_t r = 0; r < c && refined < LOCAL_STARTS; r++) {
        const double *cand = xs + order[r].i * d;
        char *key = mp_space_key(space, cand);
        bool fresh = !mp_strset_has(keys, key);
        free(key);
        if (!fresh) {
            continue;
        }
        pick_consider(pick, cand, d, order[r].acq);
        memcpy(x, cand, d * sizeof(double));
        refine(bo, m, x);
        key = mp_space_key(space, x);
        fresh = !mp_strset_has(keys, key);
        free(key);
        if (fresh) {
            double a;
            encode(bo, x, zs);
            acquisition(bo, m, zs, 1, &a, work);
            pick_consider(pick, x, d, a);
        }
        refined++;
    }
    free(x);
    free(xs);
    free(zs);
    free(acq);
    free(work);
    free(order);
}

/* Squared distance used by the space-filling design: encoded inputs, categorical mismatch 1. */
static double design_dist(const struct bo *bo, const double *a, const double *b)
{
    double s = 0;
    for (size_t i = 0; i < bo->d; i++) {
        size_t o = bo->dims[i].off;
        if (bo->dims[i].onehot) {
            for (size_t c = 0; c < bo->base.space->params[i].n_choices; c++) {
                s += 0.5 * (a[o + c] - b[o + c]) * (a[o + c] - b[o + c]);
            }
        } else if (bo->dims[i].cat) {
            s += a[o] != b[o] ? 1.0 : 0.0;
        } else {
            s += (a[o] - b[o]) * (a[o] - b[o]);
        }
    }
    return s;
}

/* Draws one untried configuration into x; false when none was found. */
static bool draw_untried(const struct bo *bo, struct mp_rng *rng, const unsigned char *bits,
                         const struct mp_strset *keys, double *x)
{
    const struct mp_space *space = bo->base.space;
    if (bo->enumerate) {
        uint64_t idx = mp_rng_below(rng, bo->count);
        if (bits[idx / 8] & (1u << (idx % 8))) {
            return false;
        }
        mp_space_from_index(space, idx, x);
        return true;
    }
    mp_space_sample(space, rng, x);
    char *key = mp_space_key(space, x);
    bool fresh = !mp_strset_has(keys, key);
    free(key);
    return fresh;
}

/* Greedy maximin design: of DESIGN_POOL random untried configurations, the one farthest from
 * everything in the history (pending trials included), so parallel design points spread out. */
static void design_point(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                         const unsigned char *bits, const struct mp_strset *keys,
                         struct bo_pick *pick)
{
    size_t d = bo->d, dz = bo->dz;
    double *zh = mp_xmalloc((h->n + 1) * dz * sizeof(double));
    double *x = mp_xmalloc(d * sizeof(double));
    double *z = mp_xmalloc(dz * sizeof(double));
    for (size_t i = 0; i < h->n; i++) {
        encode(bo, h->obs[i].x, zh + i * dz);
    }
    for (size_t t = 0; t < DESIGN_POOL; t++) {
        if (!draw_untried(bo, rng, bits, keys, x)) {
            continue;
        }
        encode(bo, x, z);
        double mind = INFINITY;
        for (size_t i = 0; i < h->n; i++) {
            mind = fmin(mind, design_dist(bo, z, zh + i * dz));
        }
        pick_consider(pick, x, d, h->n ? mind : 0);
        if (h->n == 0) {
            break;
        }
    }
    if (!pick->found && bo->enumerate) {
        for (uint64_t idx = 0; idx < bo->count; idx++) {
            if (!(bits[idx / 8] & (1u << (idx % 8)))) {
                mp_space_from_index(bo->base.space, idx, pick->x);
                pick->found = true;
                break;
            }
        }
    }
    free(zh);
    free(x);
    free(z);
}

static void count_history(const struct mp_history *h, size_t *n_info, size_t *n_valued)
{
    *n_info = *n_valued = 0;
    for (size_t i = 0; i < h->n; i++) {
        *n_info += mp_observation_informative(&h->obs[i]);
        *n_valued += has_score(&h->obs[i]);
    }
}

/* One decision: the design phase or the model's argmax. m is filled when the model was used
 * (m->have_obj says so); pick->acq is then the log acquisition of the pick. */
static int plan(struct bo *bo, const struct mp_history *h, struct bo_model *m, struct bo_pick *pick,
                struct mp_error *err)
{
    const struct mp_space *space = bo->base.space;
    struct mp_rng rng;
    struct mp_strset keys = MP_STRSET_INIT;
    unsigned char *bits = NULL;
    size_t n_info, n_valued;
    int rc = 0;
    mp_history_rng(&bo->base, h, &rng);
    if (bo->enumerate) {
        bits = tried_bitmap(bo, h);
    } else {
        mp_history_keys(space, h, &keys);
    }
    count_history(h, &n_info, &n_valued);
    if (n_info < (size_t)bo->set.initial || n_valued == 0) {
        design_point(bo, h, &rng, bits, &keys, pick);
    } else {
        if ((rc = fit_models(bo, h, &rng, m, err)) < 0) {
            goto out;
        }
        if (bo->enumerate) {
            search_exact(bo, m, bits, pick);
        } else {
            search_sampled(bo, m, h, &rng, &keys, pick);
        }
    }
    if (!pick->found) {
        rc =
            mp_error_set(err, MP_EEXHAUSTED, "bo: no untried configuration left (%zu tried)", h->n);
    }
out:
    free(bits);
    mp_strset_release(&keys);
    return rc;
}

static int bo_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                      struct mp_error *err)
{
    struct bo *bo = (struct bo *)opt;
    struct bo_model m;
    struct bo_pick pick = {x, 0, false};
    model_init(&m, bo);
    int rc = plan(bo, h, &m, &pick, err);
    model_release(&m);
    return rc;
}

static bool bo_should_stop(struct mp_optimizer *opt, const struct mp_history *h, char *reason,
                           size_t reason_len)
{
    struct bo *bo = (struct bo *)opt;
    if (mp_history_should_stop(opt, h, bo->set.patience, reason, reason_len)) {
        return true;
    }
    if (!bo->set.stop_on_ei || bo->set.acq != BO_EI) {
        return false;
    }
    size_t n_info, n_valued;
    count_history(h, &n_info, &n_valued);
    /* The model gets as many trials as the design had before its verdict counts. */
    if (n_info < 2 * (size_t)bo->set.initial || n_valued == 0) {
        return false;
    }
    struct bo_model m;
    double *x = mp_xmalloc(bo->d * sizeof(double));
    struct bo_pick pick = {x, 0, false};
    model_init(&m, bo);
    bool stop = false;
    if (plan(bo, h, &m, &pick, NULL) == 0 && m.have_obj && m.have_best) {
        /* Noise floor: 0.1 % of the objective's spread, for noiseless surfaces. */
        double noise = fmax(mp_gp_noise_sd(&m.obj), 1e-3 * m.obj.y_scale);
        double ei = exp(pick.acq);
        if (ei < noise) {
            snprintf(reason, reason_len, "expected improvement %.3g is below the noise level %.3g",
                     ei, noise);
            stop = true;
        }
    }
    model_release(&m);
    free(x);
    return stop;
}

static int bo_create(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                     struct mp_optimizer **out, struct mp_error *err)
{
    struct bo_settings set;
    int rc = bo_validate(space, opts, err);
    if (rc < 0 || (rc = parse_settings(space, opts->settings, &set, err)) < 0) {
        return rc;
    }
    struct bo *bo = mp_xcalloc(1, sizeof(*bo));
    bo->base.ops = &mp_optimizer_bo;
    bo->base.space = space;
    bo->base.opts = *opts;
    bo->set = set;
    setup_dims(bo, space);
    bo->enumerate = mp_space_count(space, &bo->count) && bo->count <= (uint64_t)set.exact_limit;
    *out = &bo->base;
    if (opts->prior_path && ((rc = mp_meta_model_load(opts->prior_path, &bo->prior, err)) < 0 ||
                             (rc = mp_meta_bind(bo->prior, space, &bo->prior_bind, err)) < 0)) {
        mp_optimizer_bo.free(&bo->base);
        *out = NULL;
        return mp_error_prefix(err, "algorithm 'bo': prior");
    }
    return 0;
}

static void bo_free(struct mp_optimizer *opt)
{
    struct bo *bo = (struct bo *)opt;
    if (!bo) {
        return;
    }
    mp_meta_binding_free(bo->prior_bind);
    mp_meta_model_free(bo->prior);
    free(bo->dims);
    free(bo->cat);
    free(bo);
}

const struct mp_optimizer_ops mp_optimizer_bo = {
    "bo",        "Bayesian optimisation: Gaussian process, expected improvement x feasibility",
    bo_validate, bo_create,
    bo_suggest,  bo_should_stop,
    bo_free,
};
