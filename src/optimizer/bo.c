/* SPDX-License-Identifier: Apache-2.0 */
/* The `bo` back end: Bayesian optimisation with a Gaussian process (src/gp) over the encoded
 * space, expected improvement (or UCB) times the probability of feasibility, a seeded
 * space-filling initial design, kriging-believer batches and three stopping rules.
 * docs/internals/bo.md describes the model and the measured results. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/bo_int.h"
#include "settings/settings.h"

/* Configurations below the min_feasibility probability are tried only when nothing else is
 * left: EI x PoF alone keeps extrapolating into a failing region, because the best
 * configurations often sit on its edge (a penalty keeps their order among themselves). */
#define MIN_POF_DEFAULT 0.1

/* --- settings ------------------------------------------------------------------------------ */

static const char *const acquisitions[] = {"ei", "ucb", NULL};
static const char *const warps[] = {"none", "rank", NULL};
static const char *const categoricals[] = {"onehot", "shared", NULL};

#define FIELD(f) offsetof(struct bo_settings, f)
static const struct mp_setting bo_table[] = {
    {MP_SETTING_KEY("initial", MP_SETTING_INT, FIELD(initial)), .min = 1, .max = 10000},
    {MP_SETTING_KEY("acquisition", MP_SETTING_CHOICE, FIELD(acq)), .choices = acquisitions},
    {MP_SETTING_KEY("beta", MP_SETTING_NUMBER, FIELD(beta)), .min = 0, .max = 100},
    {MP_SETTING_KEY("xi", MP_SETTING_NUMBER, FIELD(xi)), .min = 0, .max = 10},
    {MP_SETTING_KEY("restarts", MP_SETTING_INT, FIELD(restarts)), .min = 0, .max = 50},
    {MP_SETTING_KEY("candidates", MP_SETTING_INT, FIELD(candidates)), .min = 10, .max = 1000000},
    {MP_SETTING_KEY("exact_limit", MP_SETTING_INT, FIELD(exact_limit)), .min = 0, .max = 1000000},
    {MP_SETTING_KEY("patience", MP_SETTING_INT, FIELD(patience)), .min = 0, .max = 1000000},
    {MP_SETTING_KEY("stop_on_ei", MP_SETTING_BOOL, FIELD(stop_on_ei))},
    {MP_SETTING_KEY("warp", MP_SETTING_CHOICE, FIELD(warp)), .choices = warps},
    {MP_SETTING_KEY("categorical", MP_SETTING_CHOICE, FIELD(categorical)), .choices = categoricals},
    {MP_SETTING_KEY("min_feasibility", MP_SETTING_NUMBER, FIELD(min_pof)), .min = 0, .max = 1,
     .flags = MP_SETTING_MAX_OPEN, .expect = "a probability in [0, 1)"},
    {MP_SETTING_KEY("constraint_margins", MP_SETTING_BOOL, FIELD(margins))},
    {MP_SETTING_KEY("monotone_resources", MP_SETTING_BOOL, FIELD(monotone))},
    {MP_SETTING_KEY("feasible_objective", MP_SETTING_BOOL, FIELD(feasible_objective))},
    {.name = NULL},
};
#undef FIELD

static int parse_settings(const struct mp_space *space, const struct mp_node *s,
                          struct bo_settings *out, struct mp_error *err)
{
    struct bo_settings set = {.acq = BO_EI,
                              .beta = 2.0,
                              .restarts = -1,
                              .candidates = 2000,
                              .exact_limit = 100000,
                              .warp = BO_WARP_NONE,
                              .categorical = BO_CAT_SHARED,
                              .min_pof = MIN_POF_DEFAULT,
                              .margins = true,
                              .monotone = true,
                              .feasible_objective = true};
    /* Few initial points leave more trials to the model (measured in docs/internals/bo.md). */
    set.initial = (int64_t)(space->n + 1) / 2;
    set.initial = set.initial < 3 ? 3 : set.initial > 10 ? 10 : set.initial;
    int rc = mp_settings_parse(s, bo_table, &set, err);
    if (rc == 0 && set.stop_on_ei && set.acq != BO_EI) {
        /* It was ignored without a word: UCB has no expected improvement to judge. */
        return mp_doc_error(err, mp_doc_get(s, "stop_on_ei"),
                            "needs acquisition: ei (UCB has no expected improvement to stop on; "
                            "use patience)");
    }
    if (rc == 0) {
        *out = set;
    }
    return rc;
}

/* The prior (algorithm.prior), bound to the space; nothing when none is given. */
static int load_prior(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                      struct mp_meta_model **model, struct mp_meta_binding **bind,
                      struct mp_error *err)
{
    *model = NULL;
    *bind = NULL;
    if (!opts || !opts->prior_path) {
        return 0;
    }
    int rc = mp_meta_model_load(opts->prior_path, model, err);
    if (rc == 0 && (rc = mp_meta_bind(*model, space, bind, err)) < 0) {
        mp_error_prefix(err, rc, "%s", opts->prior_path); /* the loader's errors name it */
    }
    if (rc < 0) {
        mp_meta_model_free(*model);
        *model = NULL;
        return mp_error_prefix(err, rc, "algorithm 'bo': prior");
    }
    return 0;
}

static int bo_validate(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                       struct mp_error *err)
{
    struct bo_settings set;
    if (space->n == 0) {
        return mp_error_set(err, MP_EINVALID, "algorithm 'bo' needs at least one parameter");
    }
    int rc = parse_settings(space, opts ? opts->settings : NULL, &set, err);
    if (rc == 0) {
        /* `morphling validate` said valid to a prior that is missing or for other parameters,
         * and the run failed when it began. */
        struct mp_meta_model *model;
        struct mp_meta_binding *bind;
        rc = load_prior(space, opts, &model, &bind, err);
        if (rc == 0 && bind) {
            mp_optimizer_prior_notice(bind, opts);
        }
        mp_meta_binding_free(bind);
        mp_meta_model_free(model);
    }
    return rc;
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
        bo->dims[i].onehot =
            bo->dims[i].cat && bo->set.categorical == BO_CAT_ONEHOT && p->n_choices > 1;
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

void mp_bo_encode(const struct bo *bo, const double *x, double *z)
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
        /* In halves when the width overflows (bounds near -+1e308), as mp_space_encode. */
        double w = dm->log ? log(x[i]) : x[i];
        double lo = dm->lo, hi = dm->hi;
        z[dm->off] = !(hi > lo)          ? 0.5
                     : isfinite(hi - lo) ? (w - lo) / (hi - lo)
                                         : (w / 2 - lo / 2) / (hi / 2 - lo / 2);
    }
}

/* Inverse of encode for numeric inputs, snapping to the parameter's levels. */
void mp_bo_decode(const struct bo *bo, const double *z, double *x)
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
        double t = fmin(1.0, fmax(0.0, z[dm->off]));
        double w = isfinite(dm->hi - dm->lo) ? dm->lo + t * (dm->hi - dm->lo)
                                             : dm->lo * (1 - t) + dm->hi * t;
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

static void count_history(const struct mp_history *h, size_t *n_info, size_t *n_valued)
{
    *n_info = *n_valued = 0;
    for (size_t i = 0; i < h->n; i++) {
        *n_info += mp_observation_informative(&h->obs[i]);
        *n_valued += mp_bo_has_score(&h->obs[i]);
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
        bits = mp_bo_tried_bitmap(bo, h);
    } else {
        mp_history_keys(space, h, &keys);
    }
    count_history(h, &n_info, &n_valued);
    if (n_info < (size_t)bo->set.initial || n_valued == 0) {
        mp_bo_design_point(bo, h, &rng, bits, &keys, pick);
    } else {
        if ((rc = mp_bo_fit_models(bo, h, &rng, m, err)) < 0) {
            goto out;
        }
        if (bo->enumerate) {
            mp_bo_search_exact(bo, m, bits, pick);
        } else {
            mp_bo_search_sampled(bo, m, h, &rng, &keys, pick);
        }
    }
    if (!pick->found && !bo->enumerate) {
        /* The samples missed the few untried configurations a finite space has left: random's
         * exact pick among them (EXHAUSTED only when none is left). Its acquisition is unknown. */
        rc = mp_optimizer_random.suggest(&bo->base, h, pick->x, err);
        pick->found = rc == 0;
        pick->acq = NAN;
        goto out;
    }
    if (!pick->found) {
        rc = mp_optimizer_exhausted(&bo->base, bo->count, err);
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
    mp_bo_model_init(&m, bo);
    int rc = plan(bo, h, &m, &pick, err);
    mp_bo_model_release(&m);
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
    mp_bo_model_init(&m, bo);
    bool stop = false;
    if (plan(bo, h, &m, &pick, NULL) == 0 && m.have_obj && m.have_best) {
        /* Noise floor: 0.1 % of the objective's spread, for noiseless surfaces. */
        double noise = fmax(mp_gp_noise_sd(&m.obj), 1e-3 * m.obj.y_scale);
        double ei = exp(pick.acq);
        if (ei < noise) {
            snprintf(reason, reason_len, "expected improvement %.3g is below the noise level %.3g",
                     ldexp(ei, m.unit_exp), ldexp(noise, m.unit_exp));
            stop = true;
        }
    }
    mp_bo_model_release(&m);
    free(x);
    return stop;
}

static int bo_create(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                     struct mp_optimizer **out, struct mp_error *err)
{
    struct bo_settings set;
    if (space->n == 0) {
        return mp_error_set(err, MP_EINVALID, "algorithm 'bo' needs at least one parameter");
    }
    int rc = parse_settings(space, opts->settings, &set, err);
    if (rc < 0) {
        return rc;
    }
    /* Without LAPACK the first model fit would abort the process, trials into the search. */
    if ((rc = mp_gp_available(err)) < 0) {
        return mp_error_prefix(err, rc, "algorithm 'bo'");
    }
    struct bo *bo = mp_xcalloc(1, sizeof(*bo));
    bo->base.ops = &mp_optimizer_bo;
    bo->base.space = space;
    bo->base.opts = *opts;
    bo->set = set;
    setup_dims(bo, space);
    bo->enumerate = mp_space_count(space, &bo->count) && bo->count <= (uint64_t)set.exact_limit;
    if ((rc = load_prior(space, opts, &bo->prior, &bo->prior_bind, err)) < 0) {
        mp_optimizer_bo.free(&bo->base);
        return rc;
    }
    *out = &bo->base;
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
    bo_free,     false,
};
