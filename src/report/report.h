/* SPDX-License-Identifier: Apache-2.0 */
/* Reports on stored experiments: one JSON document per experiment (settings, trials with their
 * parameters, metrics and failures, the recommendation) that `show --json`, `export` and the
 * HTTP API all serve, plus its human renderings.
 *
 * JSON shape (documented in docs/spec.md, "Results"):
 *   {id, name, state, stop_reason, seed, created_at, finished_at,
 *    objective: {metric, direction}, objectives: [{metric, direction}], constraints: [text],
 * algorithm, runner, max_trials, parallelism, counts: {total, succeeded, failed, cancelled,
 * pending, running, failures: {CLASS: n}}, trials: [{number, state, failure, reason, attempt,
 * params, metrics, resources, started_at, finished_at, duration_s}], best: {number, params, value,
 * metrics, pods?} | null, runner_up: {number, params, value, metrics, within_noise, noise} | null,
 *    pareto_front: [{number, params, values}] (only with several objectives)}
 *
 * Ownership: mp_report_experiment returns an owned json_t (json_decref). Others borrow. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "core/core.h"
#include "doc/doc.h"
#include "spec/spec.h"
#include "store/store.h"

/* The experiment's stored spec, parsed. MP_EUNSUPPORTED (with the parser's message) when this
 * build cannot read it: it was stored by another version of morphling, whose spec had other keys.
 */
int mp_report_stored_spec(const struct mp_experiment_row *row, struct mp_spec **out,
                          struct mp_error *err) MP_WUR;
/* A finished confirmation measured trial `number` of the report again, and a measurement of it
 * missed a constraint: its search figure is not to be shown as a trade-off one can have. */
bool mp_report_disproved(const json_t *report, int64_t number);
/* ref: experiment name or id. */
int mp_report_experiment(struct mp_store *st, const char *ref, json_t **out,
                         struct mp_error *err) MP_WUR;
/* Adds "capacity_plan" {target_rps, headroom, replica_rps, replicas, cost_per_hour} to a
 * report: replicas of the recommended configuration needed to serve target_rps with the given
 * headroom (0.2 = 20 % spare). MP_ENOTFOUND without a recommended configuration; MP_EINVALID for
 * one without a throughput_rps, a target outside MP_REPORT_TARGET_RPS_MIN..MAX or a plan of more
 * replicas than a Deployment can have (MP_REPORT_MAX_REPLICAS). */
#define MP_REPORT_TARGET_RPS_MIN 1e-9
#define MP_REPORT_TARGET_RPS_MAX 1e12
#define MP_REPORT_MAX_REPLICAS   2147483647.0 /* Kubernetes' replicas are an int32 */
int mp_report_capacity_plan(json_t *report, double target_rps, double headroom,
                            struct mp_error *err) MP_WUR;
/* That the report's best has a confirmed mean whose 95 % interval stayed wider than
 * algorithm.confirm.max_uncertainty (its measurements disagree), one sentence; NULL when it has
 * none such. Owned. For outputs that leave it to the figures (export --format csv|json). */
char *mp_report_uncertain_mean(const json_t *report);
/* What a report's best is not, one sentence each (owned strings in a JSON array; empty when
 * none): the best so far of an experiment that did not succeed, a measurement that did not settle
 * with no confirmation behind it, a candidate that did not pass every confirmation run, a
 * confirmed mean that stayed uncertain (mp_report_uncertain_mean). For outputs that carry the
 * configuration alone (export --format deploy|k8s). */
json_t *mp_report_caveats(const json_t *report);
/* MP_ENOTFOUND in err for a report without a best: "experiment 'NAME' has no recommended
 * configuration yet" (then purpose, e.g. ", to plan for") while it may still find one, else
 * that it ended with none, its state and stop_reason (a FAILED experiment none of whose trials
 * succeeded has none to come). */
int mp_report_no_best(const json_t *report, const char *purpose, struct mp_error *err);
/* Deployable output for the recommended configuration. */
struct mp_deploy_opts {
    int port;          /* value of {port} in the rendered command; 0 = 8080 */
    double target_rps; /* > 0: add a capacity plan (replicas) */
    double headroom;
};
/* The recommended configuration: the experiment's spec (owned), the configuration x (owned,
 * spec->space.n values), the report it came from (owned; with "capacity_plan" when
 * o->target_rps > 0) and its "best" entry (borrowed from the report). */
struct mp_recommended {
    struct mp_spec *spec;
    double *x;
    json_t *report;
    const json_t *best;
};
/* MP_ENOTFOUND when the experiment has no feasible trial yet. On failure *out is empty. */
int mp_report_recommended(struct mp_store *st, const char *ref, const struct mp_deploy_opts *o,
                          struct mp_recommended *out, struct mp_error *err) MP_WUR;
void mp_recommended_release(struct mp_recommended *r);
/* The replicas of its Deployment: the capacity plan's, else the pods it was measured as
 * (best.pods). Borrowed from r->report; NULL when neither says. */
const json_t *mp_recommended_replicas(const struct mp_recommended *r);
/* What it takes to run it on a host: {experiment, trial, params, program (argv[0], or null
 * without a service section), args, env (mp_spec_render_deploy, MP_DEPLOY_HOST: without the
 * per-trial placeholders), resources: {cpu_cores, memory_mib, gpu, gpu_memory_share,
 * gpu_type}, port, capacity_plan?}. Owned. */
int mp_report_deployment(struct mp_store *st, const char *ref, const struct mp_deploy_opts *o,
                         json_t **out, struct mp_error *err) MP_WUR;

/* Redaction (redact.c), in place. A spec as stored: members whose key looks secret
 * (mp_spec_secret_name) become MP_SECRET_REDACTED, as do the values of "Name: value" and
 * NAME=value strings with such a name and the word after such a flag in every list; secret
 * references stay as written. An argv list: the same rules for its words. */
void mp_report_redact_spec(json_t *spec);
void mp_report_redact_argv(json_t *argv);

/* One-line-per-experiment summaries for `list`. */
int mp_report_list(struct mp_store *st, json_t **out, struct mp_error *err) MP_WUR;

/* Human renderings. */
void mp_report_print_summary(FILE *f, const json_t *report);
void mp_report_print_trials(FILE *f, const json_t *report);
void mp_report_print_recommendation(FILE *f, const json_t *report);
void mp_report_print_list(FILE *f, const json_t *list);
/* CSV: one row per trial, columns number,state,failure,<params...>,<metrics...>. */
void mp_report_write_csv(FILE *f, const json_t *report);

/* Pareto fronts (pareto.c). */
/* flags[i] = true when point i is not dominated by another of the n points (x maximised when
 * x_max, else minimised; same for y). Points with a non-finite coordinate are never members. */
void mp_pareto_flags(const double *x, const double *y, size_t n, bool x_max, bool y_max,
                     bool *flags);
/* Trial numbers (ascending) of the SUCCEEDED trials of a report from mp_report_experiment that
 * have both metrics and are not dominated. Returns an owned array (empty when none). */
json_t *mp_report_pareto(const json_t *report, const char *x_metric, bool x_max,
                         const char *y_metric, bool y_max);

#endif
