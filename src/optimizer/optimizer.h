/* SPDX-License-Identifier: Apache-2.0 */
/* The optimizer interface: given the search space and every trial so far (finished, running
 * and pending), suggest the next configuration. Back ends (grid, random, bo, morphling)
 * register in one static name -> ops table (optimizer.c).
 *
 * Contract (docs/internals/optimizer.md):
 * - suggest() never returns a configuration already present in the history, in any state;
 *   it returns MP_EEXHAUSTED when no untried configuration remains.
 * - suggest() is a pure function of (space, seed, settings, history): the engine rebuilds the
 *   history from the store, so resuming an interrupted experiment replays the same sequence.
 *   Back ends derive their random stream from the seed and the history length.
 * - A failed trial has has_value == false and feasible == false: it teaches feasibility and is
 *   never scored as a fake objective value.
 * - suggest() never returns a configuration opts.excluded holds (one that breaks a constraint
 *   known before its trial); when only such configurations remain it returns MP_EEXHAUSTED.
 *
 * Ownership: create() keeps a reference to space and settings (both outlive the optimizer);
 * the history is borrowed for the call. Thread-safety: one optimizer per thread. */
#ifndef MP_OPTIMIZER_H
#define MP_OPTIMIZER_H

#include "core/core.h"
#include "doc/doc.h"
#include "space/space.h"
#include "trial/trial.h"

struct mp_observation {
    const double *x; /* natural values, space->n of them */
    enum mp_trial_state state;
    enum mp_failure failure;
    bool has_value; /* the objective was measured (also for SLO-violating trials) */
    bool feasible;  /* succeeded and every constraint holds */
    double score;   /* objective oriented so that larger is better (valid if has_value) */
    /* The measured constraint margin when has_margin: the largest over the constraints of
     * log(value / limit) for an upper limit (its upper confidence bound when larger) and
     * log(limit / value) for a lower one, clipped to [-3, 3]: > 0 breaks a constraint, and by
     * how much. Optimizers that model feasibility can learn it instead of a pass/fail label. */
    bool has_margin;
    double margin;
};

struct mp_history {
    const struct mp_observation *obs; /* in trial-number order */
    size_t n;
};

struct mp_optimizer_opts {
    uint64_t seed;
    int64_t max_trials;
    const struct mp_node *settings; /* algorithm.settings map, may be NULL */
    const char *prior_path;         /* algorithm.prior, may be NULL */
    /* Configurations never to suggest, as if tried (NULL: none): excluded(excluded_ctx, x) must
     * be a pure function of x. excluded_why says what they break, for messages ("a constraint
     * on cost_per_hour"). */
    bool (*excluded)(const void *ctx, const double *x);
    const void *excluded_ctx;
    const char *excluded_why;
    /* For an enumerable space: the next index after idx that may be no excluded configuration,
     * every one between being excluded (NULL: idx + 1); with excluded_ctx. Grid's scan past a
     * long run of excluded configurations (a lower price limit) took minutes per suggestion. */
    uint64_t (*skip)(const void *ctx, uint64_t idx);
    /* Where given (notice_size > 0), validate writes there what the user should know about how
     * the algorithm will run, "" when nothing: morphling's fallback in use, and why. */
    char *notice;
    size_t notice_size;
};

struct mp_optimizer_ops;
struct mp_meta_binding;

/* For validate of a back end with a prior bound to its space: writes into opts->notice (when
 * given) what in the binding is likely a mistake, as "prior PATH: ..." (mp_meta_binding_mismatch:
 * a parameter in another unit, choices spelled otherwise). */
void mp_optimizer_prior_notice(const struct mp_meta_binding *b,
                               const struct mp_optimizer_opts *opts);

/* Base struct embedded first in every back end's state. */
struct mp_optimizer {
    const struct mp_optimizer_ops *ops;
    const struct mp_space *space;
    struct mp_optimizer_opts opts;
};

struct mp_optimizer_ops {
    const char *name;
    const char *summary;
    /* Checks settings without building anything (used by `morphling validate`). */
    int (*validate)(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                    struct mp_error *err);
    int (*create)(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                  struct mp_optimizer **out, struct mp_error *err);
    /* Writes space->n values to x. */
    int (*suggest)(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                   struct mp_error *err);
    /* Optional early stop: returns true and fills reason when searching further is futile. */
    bool (*should_stop)(struct mp_optimizer *opt, const struct mp_history *h, char *reason,
                        size_t reason_len);
    void (*free)(struct mp_optimizer *opt);
    /* The back end refuses every algorithm.settings key (grid, random): a caller applying one
     * settings document to several algorithms (bench-search) passes it to the others only. */
    bool takes_no_settings;
};

/* Registry lookups; NULL when unknown. */
const struct mp_optimizer_ops *mp_optimizer_find(const char *name);
/* NULL-terminated list of registered back ends. */
const struct mp_optimizer_ops *const *mp_optimizer_all(void);

int mp_optimizer_new(const char *name, const struct mp_space *space,
                     const struct mp_optimizer_opts *opts, struct mp_optimizer **out,
                     struct mp_error *err) MP_WUR;
int mp_optimizer_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                         struct mp_error *err) MP_WUR;
void mp_optimizer_free(struct mp_optimizer *opt);

/* Helpers for back ends. */
/* Set of keys (mp_space_key) of every configuration in the history. */
void mp_history_keys(const struct mp_space *space, const struct mp_history *h,
                     struct mp_strset *keys);
/* Whether configuration x (its key: mp_space_key) is in `tried` or excluded by opt's options:
 * no back end may suggest it. */
bool mp_optimizer_taken(const struct mp_optimizer *opt, const struct mp_strset *tried,
                        const char *key, const double *x);
/* MP_EEXHAUSTED in err, saying that all `count` configurations (0: a number not known) have
 * been tried, or are excluded as opt's options say. Returns MP_EEXHAUSTED. */
int mp_optimizer_exhausted(const struct mp_optimizer *opt, uint64_t count, struct mp_error *err);
/* A random stream specific to this seed and history length. */
void mp_history_rng(const struct mp_optimizer *opt, const struct mp_history *h, struct mp_rng *rng);
/* Whether a trial says something about its configuration: it succeeded, or it failed for a
 * reason of the configuration (a failure of the infrastructure says nothing). */
bool mp_observation_informative(const struct mp_observation *o);
/* Informative trials since the best feasible score last improved (all informative trials when
 * none is feasible); *best (may be NULL) gets that score, NAN when there is none. */
size_t mp_history_since_best(const struct mp_history *h, double *best);
/* As mp_history_since_best; *longest (may be NULL) gets the longest such run over the whole
 * history. */
size_t mp_history_stalls(const struct mp_history *h, double *best, size_t *longest);
/* The stopping rules the model-based back ends share: the trial budget, then `patience` (0: off)
 * informative trials in a row without improving the best feasible score. Returns true and fills
 * reason when one of them holds. */
bool mp_history_should_stop(const struct mp_optimizer *opt, const struct mp_history *h,
                            int64_t patience, char *reason, size_t reason_len);

extern const struct mp_optimizer_ops mp_optimizer_grid;
extern const struct mp_optimizer_ops mp_optimizer_random;
extern const struct mp_optimizer_ops mp_optimizer_bo;
extern const struct mp_optimizer_ops mp_optimizer_morphling;

#endif
