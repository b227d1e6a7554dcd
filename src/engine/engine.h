/* SPDX-License-Identifier: Apache-2.0 */
/* The engine: drives an experiment from its spec to a recommendation. Loop: ask the optimizer
 * -> record the trial's intent -> run it -> record the result -> repeat, honouring max trials,
 * parallelism (running and pending trials are part of the optimizer's history, so no
 * configuration is ever run twice), the failed-trial budget and optimizer stop rules.
 * Interrupted experiments resume where they stopped. Contract: docs/internals/engine.md.
 *
 * Ownership: the store, spec and options are borrowed for the call.
 * Thread-safety: one engine run per store handle; runner calls may run on worker threads. */
#ifndef MP_ENGINE_H
#define MP_ENGINE_H

#include <stdatomic.h>
#include <stdio.h>

#include "core/core.h"
#include "runner/runner.h"
#include "spec/spec.h"
#include "store/store.h"

/* Called after each finished trial (may be NULL). */
typedef void mp_engine_progress_fn(void *ctx, const struct mp_spec *spec, int64_t number,
                                   const struct mp_trial_result *res, size_t done,
                                   int64_t max_trials, double best, bool have_best);

struct mp_engine_opts {
    const atomic_bool *cancel; /* set (e.g. by SIGINT) to stop; in-flight trials resume later */
    bool restart;              /* delete an existing experiment of the same name first */
    mp_engine_progress_fn *progress;
    void *progress_ctx;
    struct mp_runner *runner; /* injected runner (tests, replay); NULL: built from the spec */
};

struct mp_engine_summary {
    int64_t experiment_id;
    enum mp_experiment_state state;
    char stop_reason[256];
    size_t succeeded, failed, cancelled;
    bool resumed;
    bool already_finished; /* nothing to do: the experiment had finished before */
};

/* Checks the optimizer and runner settings of a spec (what `morphling validate` runs). */
int mp_engine_validate(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
int mp_engine_run(struct mp_store *st, const struct mp_spec *spec,
                  const struct mp_engine_opts *opts, struct mp_engine_summary *out,
                  struct mp_error *err) MP_WUR;

#endif
