/* SPDX-License-Identifier: Apache-2.0 */
/* Offline replay of a search on a recorded surface: the space is inferred from the CSV, the
 * experiment runs through the real engine with the replay runner and an in-memory store, and
 * the outcome says how quickly the optimum was found. Backs `morphling replay` and
 * `morphling bench-search`. The inferred space holds at most 10000 parameter values in all.
 *
 * Ownership: the surface is borrowed; the outcome owns its arrays (mp_replay_outcome_release).
 * Thread-safety: independent calls may run on different threads. */
#ifndef MP_REPLAY_H
#define MP_REPLAY_H

#include "core/core.h"
#include "doc/doc.h"
#include "space/space.h"
#include "surface/surface.h"
#include "trial/trial.h"

struct mp_replay_opts {
    const char *algorithm;     /* optimizer name, default "random" */
    int64_t budget;            /* max trials, default 40 */
    uint64_t seed;             /* default 0 */
    const char *objective;     /* column, NULL: mp_surface_columns' default */
    bool minimize;             /* default: maximise */
    const char *const *params; /* parameter columns, NULL: from the header (mp_surface_columns) */
    size_t n_params;
    const struct mp_node *settings; /* algorithm settings, may be NULL */
    const char *prior_path;         /* algorithm prior (bo, morphling), may be NULL */
    const char *const *roles;       /* "COLUMN=ROLE" entries (mp_surface_set_roles), may be NULL */
    size_t n_roles;
    /* An entry of roles naming a column the surface lacks is ignored (bench-search: one list
     * serves surfaces with different columns); else it is an error, as one on a metric is. */
    bool roles_of_other_surfaces;
    bool validate_only; /* check that the replay can run (columns, roles, the algorithm with
                           its settings and prior), run nothing: out holds only the space */
};

struct mp_replay_outcome {
    struct mp_space space; /* inferred space */
    size_t n_trials;
    double *x;                /* n_trials * space.n configurations, in trial order */
    double *value;            /* objective per trial; NAN for failed trials */
    enum mp_failure *failure; /* per trial: its failure class, MP_FAILURE_NONE if it succeeded */
    long best;                /* index of the best trial, -1 if none succeeded */
    double optimum;           /* best objective on the whole surface, as trials report it */
    long trials_to_optimum;   /* 1-based, -1 if never reached */
    long trials_to_95;        /* 1-based trial where best-so-far first reached 95 % of optimum */
    /* What the user should know about the search (mp_engine_search_notice: morphling's
     * fallback in use, and why); NULL when nothing. Owned. */
    char *notice;
};

/* Runs one replay. opts fields left zero/NULL take the defaults above. */
int mp_replay_surface(const struct mp_surface *surface, const struct mp_replay_opts *opts,
                      struct mp_replay_outcome *out, struct mp_error *err) MP_WUR;
void mp_replay_outcome_release(struct mp_replay_outcome *out);
/* Whether value is within 5 % of optimum in the direction of improvement. */
bool mp_replay_within(double value, double optimum, double fraction, bool minimize);

#endif
