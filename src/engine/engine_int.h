/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/engine only. */
#ifndef MP_ENGINE_INT_H
#define MP_ENGINE_INT_H

#include "engine/engine.h"

struct mp_confirm_phase {
    struct mp_store *st;
    const struct mp_spec *spec;
    struct mp_runner *runner;
    int64_t exp_id;
    const char *run_id; /* mp_trial_request.run_id; borrowed */
    /* mp_trial_request.replaced, n_replaced, replaced_swept: a run that resumes straight into
     * the confirmation sweeps there; borrowed */
    const struct mp_replaced_run *replaced;
    size_t n_replaced;
    atomic_bool *replaced_swept;
    const atomic_bool *cancel;
    mp_engine_confirm_fn *progress; /* may be NULL */
    void *progress_ctx;
    /* out */
    size_t runs_made;    /* by this call */
    size_t runs_total;   /* planned: candidates x confirm_runs */
    size_t runs_done;    /* recorded, this call's included */
    int64_t recommended; /* trial number; 0 when no candidate was confirmed */
    int64_t most_passed; /* without one: mp_confirm_most_passed's trial number, else 0 */
};

/* Measures the candidates of the finished search again (the runs not yet recorded, so a killed
 * run continues where it stopped), records each run and its event, then picks the winner.
 * MP_ECANCELLED when *cancel became true before every run was recorded. */
int mp_engine_confirm_phase(struct mp_confirm_phase *p, struct mp_error *err) MP_WUR;

#endif
