/* SPDX-License-Identifier: Apache-2.0 */
/* The `morphling` back end: meta-learned search (docs/internals/meta.md). The first trial is the
 * meta-model's predicted best (with memory_prior, the model's memory where it knows the
 * configuration: what the training services did there on average); after that every suggestion
 * adapts each ensemble member on all measured trials (a few gradient steps from its meta-trained
 * weights) and picks the untried configuration with the best upper bound mean + kappa * spread,
 * plus the log of a kernel estimate of the probability of feasibility when some trials failed. Once
 * `memory_after` trials have passed without improvement, the score also adds the model's memory:
 * how the training services did at that very configuration; once `explore_after` have (at any
 * point), it adds the upper bound of a residual model (morphling_int.h): where this service departs
 * from the adapted model, and where no trial has looked yet. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta.h"
#include "optimizer/morphling_int.h"
#include "optimizer/optimizer.h"
#include "settings/settings.h"

#define MAX_ENUMERATED 200000 /* finite spaces up to this size are scored exhaustively */
#define EXPLORE_AFTER  6      /* default explore_after */
#define EXPLORE_BETA   2.0    /* default explore_beta */
#define MEMORY_PRIOR   true   /* default memory_prior */

/* Finite spaces are enumerated only when their encoded configurations fit in this: a model's
 * categorical parameters give one input per choice, up to 16,384, and 200,000 configurations of
 * them took 24 GiB. */
#define MAX_ENUMERATED_BYTES ((uint64_t)256 << 20)

struct settings {
    double kappa;          /* exploration weight on the ensemble spread */
    int64_t steps;         /* adaptation steps; 0: the model's */
    double lr;             /* adaptation rate; 0: the model's */
    int64_t patience;      /* stop after this many trials without improvement; 0: off */
    int64_t candidates;    /* random candidates per suggestion in spaces too large to enumerate */
    int64_t memory_after;  /* trials without improvement before the memory counts; 0: never */
    int64_t explore_after; /* trials without improvement before the residual model counts */
    double explore_beta;   /* exploration weight on the residual model's spread */
    bool memory_prior;     /* the memory, where it knows a configuration, is the prior mean */
    int fallback;          /* index in fallbacks: the algorithm when the prior cannot be used */
};

struct morphling {
    struct mp_optimizer base;
    struct settings set;
    struct mp_meta_model *model;
    struct mp_meta_binding *bind;
    struct mp_optimizer *fallback; /* delegate when the prior cannot be used */
    size_t n_in, n_cand;
    double *cand_x, *cand_in; /* enumerated spaces: every configuration, encoded */
    double *cand_z;           /* the same, as inputs of the residual model */
    double *cand_shift;       /* and their prior_shift() */
    char **cand_key;
    double memory_mean; /* mean of the model's memory values: the level of an unknown one */
};

static double prior_shift(const struct morphling *m, const double *in);

/* What runs instead when the prior is missing or mismatched; "none": an error. */
static const char *const fallbacks[] = {"none", "bo", "random", NULL};
enum { FALLBACK_NONE = 0 };

#define FIELD(f) offsetof(struct settings, f)
static const struct mp_setting morphling_table[] = {
    {MP_SETTING_KEY("kappa", MP_SETTING_NUMBER, FIELD(kappa)), .min = 0, .max = 100},
    {MP_SETTING_KEY("adapt_steps", MP_SETTING_INT, FIELD(steps)), .min = 1, .max = 1000},
    {MP_SETTING_KEY("adapt_lr", MP_SETTING_NUMBER, FIELD(lr)), .min = 0, .max = 10},
    {MP_SETTING_KEY("patience", MP_SETTING_INT, FIELD(patience)), .min = 0, .max = 1000000},
    {MP_SETTING_KEY("candidates", MP_SETTING_INT, FIELD(candidates)), .min = 16, .max = 1000000},
    {MP_SETTING_KEY("memory_after", MP_SETTING_INT, FIELD(memory_after)), .min = 0, .max = 1000000},
    {MP_SETTING_KEY("explore_after", MP_SETTING_INT, FIELD(explore_after)), .min = 0,
     .max = 1000000},
    {MP_SETTING_KEY("explore_beta", MP_SETTING_NUMBER, FIELD(explore_beta)), .min = 0, .max = 100},
    {MP_SETTING_KEY("memory_prior", MP_SETTING_BOOL, FIELD(memory_prior))},
    {MP_SETTING_KEY("fallback", MP_SETTING_CHOICE, FIELD(fallback)), .choices = fallbacks},
    {.name = NULL},
};
#undef FIELD

static int parse_settings(const struct mp_node *s, struct settings *out, struct mp_error *err)
{
    struct settings set = {
        1.0, 0, 0, 0, 4096, 6, EXPLORE_AFTER, EXPLORE_BETA, MEMORY_PRIOR, FALLBACK_NONE};
    int rc = mp_settings_parse(s, morphling_table, &set, err);
    if (rc == 0) {
        *out = set;
    }
    return rc;
}

/* Loads and binds the prior; MP_EINVALID with advice when it cannot be used. *fatal: the file
 * is there but is no readable model, which no fallback replaces (only a prior not given, not
 * there, or for other parameters does). */
static int load_prior(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                      struct mp_meta_model **model, struct mp_meta_binding **bind, bool *fatal,
                      struct mp_error *err)
{
    *model = NULL;
    *bind = NULL;
    *fatal = false;
    if (!opts->prior_path) {
        return mp_error_set(err, MP_EINVALID,
                            "algorithm 'morphling' needs a meta-model: set algorithm.prior "
                            "(spec.algorithm.prior in a ProfilingExperiment; train one with "
                            "`morphling meta train`), or the algorithm setting fallback: bo");
    }
    int rc = mp_meta_model_load(opts->prior_path, model, err);
    *fatal = rc != 0 && access(opts->prior_path, F_OK) == 0;
    if (rc == 0 && (rc = mp_meta_bind(*model, space, bind, err)) != 0) {
        mp_error_prefix(err, rc, "%s", opts->prior_path);
    }
    if (rc != 0) {
        mp_meta_model_free(*model);
        *model = NULL;
    }
    return rc;
}

static int morphling_validate(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                              struct mp_error *err)
{
    struct settings set = {0};
    int rc = parse_settings(opts->settings, &set, err);
    if (rc != 0) {
        return rc;
    }
    struct mp_meta_model *model;
    struct mp_meta_binding *bind;
    bool fatal;
    rc = load_prior(space, opts, &model, &bind, &fatal, err);
    if (rc == 0) {
        mp_optimizer_prior_notice(bind, opts);
    }
    mp_meta_binding_free(bind);
    mp_meta_model_free(model);
    if (rc == MP_EINVALID && !fatal && set.fallback != FALLBACK_NONE) {
        if (opts->notice_size > 0) {
            snprintf(opts->notice, opts->notice_size,
                     "algorithm 'morphling' will search as '%s' (its setting 'fallback'), without "
                     "a prior: %s",
                     fallbacks[set.fallback], err->msg);
        }
        mp_error_clear(err); /* the fallback runs instead */
        rc = 0;
    }
    return rc;
}

static void morphling_free(struct mp_optimizer *opt)
{
    struct morphling *m = (struct morphling *)opt;
    mp_optimizer_free(m->fallback);
    mp_meta_binding_free(m->bind);
    mp_meta_model_free(m->model);
    for (size_t i = 0; i < m->n_cand; i++) {
        free(m->cand_key[i]);
    }
    free(m->cand_key);
    free(m->cand_x);
    free(m->cand_in);
    free(m->cand_z);
    free(m->cand_shift);
    free(m);
}

static void enumerate(struct morphling *m, const struct mp_space *space)
{
    uint64_t count;
    if (!mp_space_count(space, &count) || count > MAX_ENUMERATED ||
        count * (m->n_in + 2 * space->n) * sizeof(double) > MAX_ENUMERATED_BYTES) {
        return; /* random candidates per suggestion instead */
    }
    size_t d = space->n;
    m->n_cand = (size_t)count;
    m->cand_x = mp_xmalloc(m->n_cand * d * sizeof(double) + 1);
    m->cand_in = mp_xmalloc(m->n_cand * m->n_in * sizeof(double) + 1);
    m->cand_key = mp_xcalloc(m->n_cand + 1, sizeof(char *));
    m->cand_z = mp_xmalloc(m->n_cand * d * sizeof(double) + 1);
    for (size_t i = 0; i < m->n_cand; i++) {
        mp_space_from_index(space, i, m->cand_x + i * d);
        mp_meta_binding_encode(m->bind, m->cand_x + i * d, m->cand_in + i * m->n_in);
        mp_resid_inputs(space, m->cand_x + i * d, m->cand_z + i * d);
        m->cand_key[i] = mp_space_key(space, m->cand_x + i * d);
    }
}

static int morphling_create(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                            struct mp_optimizer **out, struct mp_error *err)
{
    struct morphling *m = mp_xcalloc(1, sizeof(*m));
    int rc = parse_settings(opts->settings, &m->set, err);
    if (rc == 0) {
        bool fatal;
        rc = load_prior(space, opts, &m->model, &m->bind, &fatal, err);
        if (rc == MP_EINVALID && !fatal && m->set.fallback != FALLBACK_NONE) {
            /* Documented fallback: the prior is absent or does not cover this space. */
            struct mp_optimizer_opts fo = *opts;
            fo.settings = NULL;
            fo.prior_path = NULL;
            mp_error_clear(err);
            rc = mp_optimizer_new(fallbacks[m->set.fallback], space, &fo, &m->fallback, err);
        }
    }
    /* The residual model is a GP: without LAPACK its first fit would abort the process. */
    if (rc == 0 && m->model && m->set.explore_after > 0 && (rc = mp_gp_available(err)) != 0) {
        mp_error_prefix(err, rc, "algorithm 'morphling'");
    }
    if (rc != 0) {
        morphling_free(&m->base);
        return rc;
    }
    if (m->model) {
        m->n_in = mp_meta_binding_inputs(m->bind);
        enumerate(m, space);
        m->cand_shift = mp_xcalloc(m->n_cand + 1, sizeof(double));
        for (size_t i = 0; i < m->n_cand; i++) {
            m->cand_shift[i] = prior_shift(m, m->cand_in + i * m->n_in);
        }
        const struct mp_meta_model *mm = m->model;
        for (size_t i = 0; i < mm->n_memory; i++) {
            m->memory_mean += mm->memory[i * (mm->net.n_in + 1) + mm->net.n_in];
        }
        m->memory_mean /= mm->n_memory ? (double)mm->n_memory : 1.0;
    }
    *out = &m->base;
    return 0;
}

/* --- model --------------------------------------------------------------------------------- */

/* Measured trials, encoded, with scores divided by the largest |score| (the per-service
 * normalisation the model was trained with). */
struct data {
    size_t n, nf;
    double *in, *y; /* valued trials */
    double *fin;    /* informative trials (feasibility) */
    double *fx;     /* their configurations (natural values) */
    double *fy;     /* their normalised scores; NAN: failed without a value */
    bool *feas;
    bool any_infeasible;
};

static void data_release(struct data *dt)
{
    free(dt->in);
    free(dt->fx);
    free(dt->fy);
    free(dt->y);
    free(dt->fin);
    free(dt->feas);
}

static void collect(const struct morphling *m, const struct mp_history *h, struct data *dt)
{
    size_t n_in = m->n_in;
    memset(dt, 0, sizeof(*dt));
    size_t d = m->base.space->n;
    dt->in = mp_xmalloc((h->n + 1) * n_in * sizeof(double));
    dt->fx = mp_xmalloc((h->n + 1) * d * sizeof(double));
    dt->fy = mp_xmalloc((h->n + 1) * sizeof(double));
    dt->fin = mp_xmalloc((h->n + 1) * n_in * sizeof(double));
    dt->y = mp_xmalloc((h->n + 1) * sizeof(double));
    dt->feas = mp_xmalloc((h->n + 1) * sizeof(bool));
    double scale = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        if (!mp_observation_informative(o)) {
            continue;
        }
        mp_meta_binding_encode(m->bind, o->x, dt->fin + dt->nf * n_in);
        memcpy(dt->fx + dt->nf * d, o->x, d * sizeof(double));
        dt->fy[dt->nf] = NAN;
        dt->feas[dt->nf++] = o->feasible;
        dt->any_infeasible |= !o->feasible;
        if (o->has_value && isfinite(o->score)) {
            memcpy(dt->in + dt->n * n_in, dt->fin + (dt->nf - 1) * n_in, n_in * sizeof(double));
            dt->y[dt->n++] = dt->fy[dt->nf - 1] = o->score;
            scale = fmax(scale, fabs(o->score));
        }
    }
    scale = scale > 0 ? scale : 1;
    for (size_t i = 0; i < dt->n; i++) {
        dt->y[i] /= scale;
    }
    for (size_t i = 0; i < dt->nf; i++) {
        dt->fy[i] /= scale;
    }
}

/* Adapted weights of every member: a few gradient steps from the meta-trained ones on the
 * measured trials, each member on its own Bayesian-bootstrap weighting (Rubin 1981) so that the
 * ensemble spread reflects how much the data pin the surface down. */
static double *adapt_members(const struct morphling *m, const struct data *dt, struct mp_rng *rng)
{
    const struct mp_meta_model *mm = m->model;
    size_t p = mp_net_size(&mm->net);
    double *theta = mp_xmalloc(mm->members * p * sizeof(double));
    memcpy(theta, mm->theta, mm->members * p * sizeof(double));
    if (dt->n == 0) {
        return theta;
    }
    unsigned steps = m->set.steps > 0 ? (unsigned)m->set.steps : mm->adapt_steps;
    double lr = m->set.lr > 0 ? m->set.lr : mm->adapt_lr;
    double *w = mp_xmalloc(dt->n * sizeof(double));
    for (size_t k = 0; k < mm->members; k++) {
        for (size_t i = 0; i < dt->n; i++) {
            w[i] = k == 0 ? 1.0 : -log(1.0 - mp_rng_uniform(rng));
        }
        mp_net_adapt(&mm->net, theta + k * p, dt->in, dt->y, w, dt->n, lr, steps);
    }
    free(w);
    return theta;
}

/* Probability of feasibility: a kernel-weighted vote of the finished trials with a prior of
 * half a feasible trial (Nadaraya-Watson estimate). */
static double p_feasible(const struct morphling *m, const struct data *dt, const double *in)
{
    if (!dt->any_infeasible) {
        return 1.0;
    }
    double num = 0.5, den = 0.5;
    for (size_t i = 0; i < dt->nf; i++) {
        double d2 = 0;
        for (size_t k = 0; k < m->n_in; k++) {
            double t = in[k] - dt->fin[i * m->n_in + k];
            d2 += t * t;
        }
        double kw = exp(-d2 / (2 * 0.25 * 0.25));
        num += dt->feas[i] ? kw : 0;
        den += kw;
    }
    return num / den;
}

/* --- suggestion ---------------------------------------------------------------------------- */

struct pick {
    double acq;
    bool found;
};

/* How candidates are scored in one suggestion. */
struct scoring {
    const struct data *dt;
    const double *theta; /* adapted members */
    double kappa;
    bool memory;                  /* add the memory's value (relative to its mean) */
    const struct mp_resid *resid; /* the residual model when exploring, else NULL */
    double beta;                  /* its exploration weight */
};

/* With memory_prior: the memory's value minus the meta-trained ensemble's mean, where the memory
 * knows the configuration (0 elsewhere), so that the score's mean is the memory plus what
 * adaptation changed. */
static double prior_shift(const struct morphling *m, const double *in)
{
    const struct mp_meta_model *mm = m->model;
    double remembered;
    if (!m->set.memory_prior || !mp_meta_memory_lookup(mm, in, &remembered)) {
        return 0;
    }
    size_t p = mp_net_size(&mm->net);
    double s = 0;
    for (size_t k = 0; k < mm->members; k++) {
        s += mp_net_forward(&mm->net, mm->theta + k * p, in);
    }
    return remembered - s / (double)mm->members;
}

/* Scores one candidate (extra: what the caller adds to its score: the prior shift and the
 * residual model's term); keeps it when better than the pick so far. */
static void consider(const struct morphling *m, const struct scoring *sc, const double *in,
                     const double *x, double extra, struct pick *best, double *x_out)
{
    const struct mp_meta_model *mm = m->model;
    size_t p = mp_net_size(&mm->net);
    double s = 0, s2 = 0;
    for (size_t k = 0; k < mm->members; k++) {
        double f = mp_net_forward(&mm->net, sc->theta + k * p, in);
        s += f;
        s2 += f * f;
    }
    double mu = s / (double)mm->members;
    double sd = sqrt(fmax(0, s2 / (double)mm->members - mu * mu));
    double acq = mu + sc->kappa * sd;
    double pf = p_feasible(m, sc->dt, in);
    /* Scores are normalised to a best of about 1, so log(pf) is a penalty on the same scale:
     * a configuration with even odds of failing must promise 0.7 more to be chosen. */
    double a = acq + log(pf) + extra;
    double remembered;
    if (sc->memory && mp_meta_memory_lookup(mm, in, &remembered)) {
        /* Normalised like the model's predictions, so it weighs as much as the mean does. */
        a += remembered - m->memory_mean;
    }
    if (!best->found || a > best->acq) {
        best->acq = a;
        best->found = true;
        memcpy(x_out, x, m->base.space->n * sizeof(double));
    }
}

/* Random candidates and one-parameter perturbations of tried configurations, for spaces too
 * large to enumerate. */
static void sample_candidates(const struct morphling *m, const struct scoring *sc,
                              const struct mp_history *h, const struct mp_strset *seen,
                              struct mp_rng *rng, struct pick *best, double *x_out)
{
    const struct mp_space *space = m->base.space;
    size_t d = space->n;
    double *x = mp_xmalloc(d * sizeof(double));
    double *u = mp_xmalloc(d * sizeof(double));
    double *in = mp_xmalloc((m->n_in + 1) * sizeof(double));
    double *z = mp_xmalloc(d * sizeof(double));
    for (int64_t c = 0; c < m->set.candidates; c++) {
        const struct mp_observation *o = h->n ? &h->obs[mp_rng_below(rng, h->n)] : NULL;
        if (o && c % 2 == 1) {
            mp_space_encode(space, o->x, u);
            size_t j = (size_t)mp_rng_below(rng, d);
            u[j] = fmin(1, fmax(0, u[j] + 0.15 * mp_rng_normal(rng)));
            mp_space_decode(space, u, x);
        } else {
            mp_space_sample(space, rng, x);
        }
        char *k = mp_space_key(space, x);
        bool used = mp_optimizer_taken(&m->base, seen, k, x);
        free(k);
        if (!used) {
            mp_meta_binding_encode(m->bind, x, in);
            double extra = prior_shift(m, in);
            if (sc->resid) {
                mp_resid_inputs(space, x, z);
                mp_resid_add(sc->resid, z, 1, sc->beta, &extra);
            }
            consider(m, sc, in, x, extra, best, x_out);
        }
    }
    free(x);
    free(u);
    free(in);
    free(z);
}

/* Fits the residual model to what the adapted ensemble's mean gets wrong at the informative
 * trials; a trial that failed without a value counts at the lowest observed score, as training
 * counts failed configurations. Returns false (nothing to add) when it cannot be fitted. */
static bool fit_residuals(const struct morphling *m, const struct data *dt, const double *theta,
                          struct mp_rng *rng, struct mp_resid *resid)
{
    const struct mp_meta_model *mm = m->model;
    size_t p = mp_net_size(&mm->net);
    double lowest = INFINITY;
    for (size_t i = 0; i < dt->n; i++) {
        lowest = fmin(lowest, dt->y[i]);
    }
    if (dt->n == 0) {
        return false;
    }
    double *r = mp_xmalloc((dt->nf + 1) * sizeof(double));
    for (size_t i = 0; i < dt->nf; i++) {
        double s = 0;
        for (size_t k = 0; k < mm->members; k++) {
            s += mp_net_forward(&mm->net, theta + k * p, dt->fin + i * m->n_in);
        }
        double predicted = s / (double)mm->members + prior_shift(m, dt->fin + i * m->n_in);
        r[i] = (isnan(dt->fy[i]) ? lowest : dt->fy[i]) - predicted;
    }
    struct mp_error err = {0};
    bool ok = mp_resid_fit(resid, dt->fx, r, dt->nf, rng, &err) == 0 && resid->ready;
    free(r);
    return ok;
}

/* Scores every untried configuration of an enumerated space. */
static int pick_enumerated(const struct morphling *m, const struct scoring *sc,
                           const struct mp_strset *seen, double *x, struct mp_error *err)
{
    size_t d = m->base.space->n;
    double *extra = mp_xcalloc(m->n_cand + 1, sizeof(double));
    if (sc->resid) {
        mp_resid_add(sc->resid, m->cand_z, m->n_cand, sc->beta, extra);
    }
    struct pick best = {0, false};
    for (size_t i = 0; i < m->n_cand; i++) {
        if (!mp_optimizer_taken(&m->base, seen, m->cand_key[i], m->cand_x + i * d)) {
            consider(m, sc, m->cand_in + i * m->n_in, m->cand_x + i * d,
                     extra[i] + m->cand_shift[i], &best, x);
        }
    }
    free(extra);
    if (!best.found) {
        return mp_optimizer_exhausted(&m->base, m->n_cand, err);
    }
    return 0;
}

static int morphling_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                             struct mp_error *err)
{
    struct morphling *m = (struct morphling *)opt;
    if (m->fallback) {
        return mp_optimizer_suggest(m->fallback, h, x, err);
    }
    struct mp_rng rng;
    mp_history_rng(opt, h, &rng);
    struct mp_strset seen = MP_STRSET_INIT;
    mp_history_keys(opt->space, h, &seen);
    struct data dt;
    collect(m, h, &dt);
    double *theta = adapt_members(m, &dt, &rng);
    /* Before any measurement: the meta-model's predicted best, without exploration. When the
     * search has stalled, the model's favourites are spent: what the training services did at
     * each configuration joins the score (until it improves again), and from then on so does
     * where this service departs from the model (the residual model's mean and spread). */
    size_t longest = 0, stalled = mp_history_stalls(h, NULL, &longest);
    bool memory = m->set.memory_after > 0 && stalled >= (size_t)m->set.memory_after;
    struct scoring sc = {&dt,    theta, dt.n == 0 ? 0 : m->set.kappa,
                         memory, NULL,  m->set.explore_beta};
    struct mp_resid resid;
    mp_resid_init(&resid, opt->space);
    if (m->set.explore_after > 0 && longest >= (size_t)m->set.explore_after &&
        fit_residuals(m, &dt, theta, &rng, &resid)) {
        sc.resid = &resid;
    }
    int rc = 0;
    if (m->cand_key) {
        rc = pick_enumerated(m, &sc, &seen, x, err);
    } else {
        struct pick best = {0, false};
        sample_candidates(m, &sc, h, &seen, &rng, &best, x);
        if (!best.found) {
            rc = mp_optimizer_random.suggest(opt, h, x, err); /* nearly exhausted: exact pick */
        }
    }
    mp_resid_release(&resid);
    free(theta);
    data_release(&dt);
    mp_strset_release(&seen);
    return rc;
}

static bool morphling_should_stop(struct mp_optimizer *opt, const struct mp_history *h,
                                  char *reason, size_t reason_len)
{
    struct morphling *m = (struct morphling *)opt;
    /* The fallback's own rules (bo's budget and stop_on_ei), and morphling's patience in any
     * case: with fallback bo it was dropped (bo runs without morphling's settings). */
    if (m->fallback && m->fallback->ops->should_stop &&
        m->fallback->ops->should_stop(m->fallback, h, reason, reason_len)) {
        return true;
    }
    return mp_history_should_stop(opt, h, m->set.patience, reason, reason_len);
}

const struct mp_optimizer_ops mp_optimizer_morphling = {
    .name = "morphling",
    .summary = "meta-learned search: a network meta-trained on past services, adapted per trial",
    .validate = morphling_validate,
    .create = morphling_create,
    .suggest = morphling_suggest,
    .should_stop = morphling_should_stop,
    .free = morphling_free,
};
