/* SPDX-License-Identifier: Apache-2.0 */
/* The runner interface: run one trial of a configuration and report its result. Back ends
 * (replay, local, kubernetes) register in one static name -> ops table (runner.c).
 *
 * Contract (docs/internals/engine.md):
 * - run() blocks until the trial is terminal and fills the result; a failure of the trial
 *   (crash, timeout, SLO) is reported in the result with 0 returned. A negative return means
 *   the runner itself could not work (infrastructure) and the engine retries the trial. A
 *   result with run_error set means the run itself cannot go on (refused credentials, objects
 *   left behind, names another run holds): the engine stops the run, keeping the result only
 *   when it is a verdict (mp_trial_result_verdict).
 * - run() names every side effect deterministically from (experiment, trial number, attempt),
 *   so a resumed experiment can clean up what a killed one left behind.
 * - run() polls *cancel and stops promptly when it becomes true, reporting CANCELLED.
 * - When ops->concurrent is true, run() may be called from several threads at once.
 *
 * Ownership: create() keeps a reference to the spec (it outlives the runner); the request is
 * borrowed for the call; the result is filled by the runner and released by the caller. */
#ifndef MP_RUNNER_H
#define MP_RUNNER_H

#include <stdatomic.h>

#include "core/core.h"
#include "measure/measure.h"
#include "spec/spec.h"
#include "store/store.h"
#include "trial/trial.h"

struct mp_trial_request {
    const char *experiment; /* experiment name */
    int64_t experiment_id;
    int64_t number; /* 1-based trial number */
    int64_t attempt;
    const double *x;    /* configuration, spec->space.n values */
    int64_t timeout_ms; /* runner.trial_timeout; 0 = the runner's own default. A trial still
                           running after it is stopped and FAILED with MP_FAILURE_TIMEOUT */
    /* This run's identity: the same for every trial of the experiment and across kill -9 and
     * resume, different for another store's (or another operator experiment's) experiment of
     * the same name. A runner whose side effects outlive it (kubernetes) marks them with it and
     * touches only its own. At most 63 characters of [A-Za-z0-9._-]; NULL: none known. */
    const char *run_id;
    /* The runs of this experiment's name that `run --restart` replaced and whose side effects
     * were not swept yet (the store keeps them until then: mp_store_replaced_list), each its run
     * identity (run_id as it was) and its spec as stored (JSON); n_replaced 0: none. A runner
     * whose side effects outlive it removes what a killed run of them left, which only carries
     * that identity (kubernetes: in the replaced spec's namespace, too), and once that succeeded
     * sets *replaced_swept (when not NULL): the engine then forgets them. */
    const struct mp_replaced_run *replaced;
    size_t n_replaced;
    atomic_bool *replaced_swept;
};

struct mp_runner_ops;

/* Base struct embedded first in every back end's state. */
struct mp_runner {
    const struct mp_runner_ops *ops;
    const struct mp_spec *spec;
};

struct mp_runner_ops {
    const char *name;
    bool concurrent;
    /* Its side effects may outlive a killed run (kubernetes: the cluster's objects): a run of it
     * that `run --restart` replaces is kept in the store for the next run's sweep
     * (mp_trial_request.replaced). */
    bool leaves_objects;
    /* Checks the runner settings of spec (runner map) and what they refer to. */
    int (*validate)(const struct mp_spec *spec, struct mp_error *err);
    /* validate less what needs another system (a cluster); NULL: validate needs none. */
    int (*validate_offline)(const struct mp_spec *spec, struct mp_error *err);
    int (*create)(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err);
    int (*run)(struct mp_runner *r, const struct mp_trial_request *req, struct mp_trial_result *res,
               const atomic_bool *cancel);
    void (*free)(struct mp_runner *r);
};

/* Set by a second interrupt (a second Ctrl-C), after *cancel: run() stops waiting out a grace
 * period and kills what is left at once (local), or stops waiting for its deletes to finish
 * (kubernetes), still cleaning up and reporting CANCELLED. One flag for the process: it hurries
 * every running trial. */
extern atomic_bool mp_runner_hurry;

const struct mp_runner_ops *mp_runner_find(const char *name);
const struct mp_runner_ops *const *mp_runner_all(void);
/* The error for a spec whose runner this build lacks: MP_EUNSUPPORTED, naming the runners it
 * has. Returns the code. */
int mp_runner_unavailable(const struct mp_spec *spec, struct mp_error *err);
int mp_runner_new(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err) MP_WUR;
/* For a runner whose metrics come from morphling's load test (local, kubernetes): refuses, with
 * its place in the spec and the likeliest intended name, an objective or constraint metric that
 * neither the load test (mp_measure_result_metrics, capacity mode, re-measurement), nor the
 * runner's resource use (NULL-terminated names), nor the spec (mp_spec_metric_derived) gives.
 * Every trial would fail METRIC_MISSING otherwise. */
int mp_runner_check_load_metrics(const struct mp_spec *spec, const char *const *resources,
                                 struct mp_error *err) MP_WUR;
/* The pruning rule's SLO from the spec's upper limits on latency (`p99_ms <= 10`,
 * `latency_p99_us < 800`), for runner.load.prune: two windows in a row over twice a limit end a
 * measurement, and the trial fails that constraint on what they measured. Returns the clauses. */
size_t mp_runner_prune_slo(const struct mp_spec *spec, struct mp_slo *slo);
void mp_runner_free(struct mp_runner *r);

extern const struct mp_runner_ops mp_runner_replay;
extern const struct mp_runner_ops mp_runner_local;
extern const struct mp_runner_ops mp_runner_kubernetes; /* runner/kubernetes.h */

#endif
