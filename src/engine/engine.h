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

/* Called after each confirmation run (may be NULL): the candidate's trial number, the run, the
 * runs recorded so far and planned in all. */
typedef void mp_engine_confirm_fn(void *ctx, const struct mp_spec *spec, int64_t number,
                                  int64_t run, const struct mp_trial_result *res, size_t done,
                                  size_t total);

/* Called once the experiment is claimed, before its first trial or confirmation run of this call
 * (may be NULL): never for a spec the store refuses (changed, from another folder, run by
 * another process) nor for an experiment found finished. For what the user should read only
 * when the run goes ahead (the spec's warnings). resumed: it continues a stored experiment. */
typedef void mp_engine_start_fn(void *ctx, const struct mp_spec *spec, bool resumed);

struct mp_engine_opts {
    const atomic_bool *cancel; /* set (e.g. by SIGINT) to stop; in-flight trials resume later */
    /* Set together with cancel when the stop is final (a user's cancel through the API): the
     * experiment ends CANCELLED for cancel_reason, as mp_engine_cancel leaves it, instead of
     * INTERRUPTED and resumable. */
    const atomic_bool *cancel_final;
    const char *cancel_reason; /* e.g. "cancelled through the API"; NULL: "cancelled" */
    bool restart;              /* delete an existing experiment of the same name first */
    mp_engine_progress_fn *progress;
    mp_engine_confirm_fn *confirm_progress; /* gets progress_ctx too */
    mp_engine_start_fn *started;            /* gets progress_ctx too */
    void *progress_ctx;
    struct mp_runner *runner; /* injected runner (tests, replay); NULL: built from the spec */
    /* How often the claim's heartbeat is renewed while trials run, from a second handle on
     * the same store file (none for ":memory:"); 0: every 10 s, well within the 60 s after
     * which another run may take the experiment over. */
    int64_t heartbeat_ms;
};

struct mp_engine_summary {
    int64_t experiment_id;
    enum mp_experiment_state state;
    char stop_reason[256];
    size_t succeeded, failed, cancelled;
    size_t confirm_runs; /* confirmation runs made by this call (not trials) */
    int64_t recommended; /* the confirmed winner's trial number; 0 when none */
    int64_t most_passed; /* without a winner, mp_confirm_most_passed's trial number; else 0 */
    bool resumed;
    bool already_finished; /* nothing to do: the experiment had finished before */
};

/* Checks the optimizer and runner settings of a spec (what `morphling validate` runs). */
int mp_engine_validate(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
/* mp_engine_validate asking no other system (`validate --offline`): the runner's
 * validate_offline where it has one. */
int mp_engine_validate_offline(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
/* mp_engine_validate less the runner's own check (the cost table, the optimizer's settings, the
 * secrets): for a caller that checks the runner itself, with a client of its own (the
 * operator). */
int mp_engine_validate_search(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
/* What the user should know about how spec's algorithm will search (morphling's fallback in
 * use, and why); NULL when nothing or when the spec does not validate. Owned. */
char *mp_engine_search_notice(const struct mp_spec *spec);
/* What a user should know before running spec, said by validate, run, the API and the
 * operator: a grid search that max_trials cuts short (grid walks the first parameter slowest, so
 * the last of its values are never tried), else mp_engine_search_notice's; a spec written as a
 * ProfilingExperiment gets its fields' names. NULL when nothing. Owned. */
char *mp_engine_spec_warning(const struct mp_spec *spec);
/* Records a new experiment for spec (state CREATED) with its seed: the spec's, else a random
 * one. mp_engine_run does this for an experiment it does not find; the API does it first so it
 * can answer with the id. Either way the experiment's first event is experiment_started. */
int mp_engine_create(struct mp_store *st, const struct mp_spec *spec, int64_t *exp_id,
                     struct mp_error *err) MP_WUR;
/* Ends an experiment that no engine is running for good: its PENDING and RUNNING trials become
 * CANCELLED ("experiment <reason>"), then the experiment CANCELLED with reason. It claims the
 * experiment for that (then releases it): MP_EBUSY while a live process drives it. */
int mp_engine_cancel(struct mp_store *st, int64_t exp_id, const char *reason,
                     struct mp_error *err) MP_WUR;
/* Runs (or continues) the experiment of spec until it finishes, fails, is interrupted or is
 * cancelled (opts). Continuing an experiment that had run before is a resumption: its first
 * event is then experiment_resumed and out->resumed is set. */
int mp_engine_run(struct mp_store *st, const struct mp_spec *spec,
                  const struct mp_engine_opts *opts, struct mp_engine_summary *out,
                  struct mp_error *err) MP_WUR;

/* ---- Confirmation (confirm.c): docs/internals/engine.md, "Confirmation" ---- */

/* Whether a measurement did not settle: metric stable = 0 (a pruned run excepted), or a relative
 * uncertainty of throughput_rps or of the objective (METRIC_uncertainty / METRIC) over
 * spec->max_uncertainty. Without such metrics (replay, a runner that reports none) it settled. */
bool mp_engine_unsettled(const struct mp_spec *spec, const struct mp_metrics *m);

/* The constraint margin of a measurement (struct mp_observation): the largest over spec's
 * constraints of log(value / limit) for an upper limit (the METRIC_upper bound when larger) and
 * log(limit / value) for a lower one, clipped to [-3, 3]; a limit or value <= 0 counts as +-3 by
 * whether it holds. False when the spec has no constraint or a constrained metric is missing. */
bool mp_engine_margin(const struct mp_spec *spec, const struct mp_metrics *m, double *margin);

/* A candidate's figures over its measurements: the trial itself and its confirmation runs. */
struct mp_confirm_stats {
    int64_t number;
    double search_value;           /* the trial's own objective value */
    size_t runs;                   /* measurements (1 + confirmation runs recorded) */
    size_t passes;                 /* of them, SUCCEEDED: every constraint held */
    size_t settled;                /* of them, settled */
    size_t n_values;               /* of them, with an objective value */
    double mean, stddev, min, max; /* of the objective over those values (stddev: sample, 0 for
                                      one value) */
    double interval; /* half-width of the mean's 95 % interval over |mean| (Student's t);
                        infinity for fewer than two values */
    bool confirmed;  /* measured at least twice, and every measurement passed */
};
/* The candidates of spec's confirmation among rows (n trials): the confirm_top SUCCEEDED trials
 * with the best objective values, best first, as indexes into rows. Returns how many. */
size_t mp_confirm_candidates(const struct mp_spec *spec, const struct mp_trial_row *rows, size_t n,
                             size_t *idx);
/* The statistics of trial t from the confirmation rows (any order; others are skipped). */
void mp_confirm_stats_of(const struct mp_spec *spec, const struct mp_trial_row *t,
                         const struct mp_confirm_row *runs, size_t n_runs,
                         struct mp_confirm_stats *out);
/* The winner among n candidates' statistics: the confirmed one with the best mean (ties: the
 * earlier one); -1 when none is confirmed. */
long mp_confirm_pick(const struct mp_spec *spec, const struct mp_confirm_stats *s, size_t n);
/* Without a winner, the recommendation: among the candidates measured again, the one that met
 * every constraint in the largest share of its measurements (ties: the earlier one, the better
 * search value); -1 when none was measured again. */
long mp_confirm_most_passed(const struct mp_confirm_stats *s, size_t n);
/* What the confirmation of candidates rows[idx[0..k)] still has to measure, given the recorded
 * runs: rounds 1..confirm_runs of every candidate, then further rounds (up to confirm_max_runs)
 * of the candidates still confirmed, each decided on the runs of the earlier rounds and due
 * while the leader's interval exceeds max_uncertainty. Returns the runs still due in the rounds
 * decided so far (0: the confirmation is complete) and, when some are, the next one as
 * *round and *cand (an index into idx). */
size_t mp_confirm_due(const struct mp_spec *spec, const struct mp_trial_row *rows,
                      const size_t *idx, size_t k, const struct mp_confirm_row *runs, size_t n_runs,
                      int64_t *round, size_t *cand);

#endif
