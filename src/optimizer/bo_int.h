/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the `bo` back end's files: its settings, how parameters become model
 * inputs, the fitted models of one decision and the candidate search state. bo.c holds the
 * settings, the encoding and the optimizer ops; bo_model.c the models and the acquisition;
 * bo_search.c the candidate search and the initial design. Not thread-safe: one decision at a
 * time per optimizer, as the optimizer interface requires. */
#ifndef MP_BO_INT_H
#define MP_BO_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gp/gp.h"
#include "meta/meta.h"
#include "optimizer/optimizer.h"

#define MP_BO_MAX_TREND  4 /* numeric resource inputs in the margin's trend */
#define MP_BO_MAX_LEVELS 4 /* measured levels per trend input that P(SLO) is monotone against */

enum bo_acq { BO_EI, BO_UCB }; /* the order of the settings' "acquisition" choices */
enum bo_warp { BO_WARP_NONE, BO_WARP_RANK };
enum bo_categorical { BO_CAT_ONEHOT, BO_CAT_SHARED };

struct bo_settings {
    int64_t initial;     /* size of the space-filling initial design */
    int acq;             /* acquisition function (enum bo_acq) */
    double beta;         /* UCB exploration weight */
    double xi;           /* EI margin, in units of the objective's standard deviation */
    int64_t restarts;    /* random restarts of the hyper-parameter fit; -1: by history size */
    int64_t candidates;  /* sampled candidates when the space is not enumerated */
    int64_t exact_limit; /* enumerate finite spaces up to this many configurations */
    int64_t patience;    /* stop after this many trials without improvement; 0: off */
    bool stop_on_ei;     /* stop when the best EI falls below the noise level */
    int warp;            /* BO_WARP_RANK: model normal scores of the ranks, not raw scores */
    int categorical;     /* BO_CAT_ONEHOT: one input (and length scale) per categorical choice */
    double min_pof;      /* below this probability of feasibility, only as a last resort */
    bool margins;        /* model the measured constraint margins, not pass/fail labels */
    bool monotone;       /* less of every resource than an infeasible configuration: infeasible */
    bool feasible_objective; /* fit the objective on the feasible trials only */
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
    bool slo_margin; /* slo is a regression on constraint margins: P = Phi(-mu / sd) */
    /* The margin's trend: trend[0] + sum trend[j + 1] * z[trend_in[j]] over the numeric
     * resource inputs, every slope <= 0; slo models the rest. */
    size_t trend_in[MP_BO_MAX_TREND], n_trend;
    double trend[MP_BO_MAX_TREND + 1];
    /* monotone_resources: measured values of each trend input, ascending; a configuration's
     * P(meets the SLO) is at most that of itself with one input raised to one of them. */
    double levels[MP_BO_MAX_TREND][MP_BO_MAX_LEVELS];
    size_t n_levels[MP_BO_MAX_TREND];
    /* Monotone infeasibility: configurations (d values each) that failed a constraint or ran
     * out of a resource; one with the same other values and no more of any resource fails too. */
    double *dominators;
    bool *dominator_oom; /* ran out of memory: only memory must be no more */
    size_t n_dominators;
    double log_min_pof; /* log of the min_feasibility setting */
    double best;        /* best feasible score */
    double y_min;       /* lowest score seen (UCB reference) */
    size_t n_info;      /* finished trials that teach something */
    size_t n_valued;    /* trials with a measured objective */
    /* With a prior: the GP models score - (prior_a * prior(x) + prior_b). */
    bool have_prior;
    double prior_a, prior_b;
    /* The objective model, best, y_min and the prior's a and b are in units of 2^unit_exp of
     * the (warped) score. */
    int unit_exp;
};

/* Candidate search state: the best untried configuration seen so far. */
struct bo_pick {
    double *x;  /* d values (borrowed from the caller) */
    double acq; /* its log acquisition */
    bool found;
};

/* Encoding (bo.c): configuration x (d values) to model inputs z (dz values) and back; decode
 * snaps numeric inputs to the parameter's levels. */
void mp_bo_encode(const struct bo *bo, const double *x, double *z);
void mp_bo_decode(const struct bo *bo, const double *z, double *x);

/* Models (bo_model.c). An informative trial with a measured, finite objective. */
bool mp_bo_has_score(const struct mp_observation *o);
void mp_bo_model_init(struct bo_model *m, const struct bo *bo);
void mp_bo_model_release(struct bo_model *m);
/* Fits the objective and feasibility models of m on h; pending trials are believed. */
int mp_bo_fit_models(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                     struct bo_model *m, struct mp_error *err) MP_WUR;
/* log of (acquisition x probability of feasibility) at n model inputs z (n x dz) into out;
 * work holds 2 n doubles. */
void mp_bo_acquisition(const struct bo *bo, const struct bo_model *m, const double *z, size_t n,
                       double *out, double *work);

/* Candidate search (bo_search.c). The tried bitmap (returns owned) marks the history's
 * configurations of an enumerable space by index, and those the options exclude. */
unsigned char *mp_bo_tried_bitmap(const struct bo *bo, const struct mp_history *h);
void mp_bo_search_exact(const struct bo *bo, const struct bo_model *m, const unsigned char *bits,
                        struct bo_pick *pick);
void mp_bo_search_sampled(const struct bo *bo, const struct bo_model *m, const struct mp_history *h,
                          struct mp_rng *rng, const struct mp_strset *keys, struct bo_pick *pick);
/* Initial design: the untried configuration farthest from the history (bits when the space is
 * enumerated, keys otherwise). */
void mp_bo_design_point(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                        const unsigned char *bits, const struct mp_strset *keys,
                        struct bo_pick *pick);

#endif
