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
 * metrics} | null, runner_up: {number, params, value, metrics, within_noise, noise} | null,
 *    pareto_front: [{number, params, values}] (only with several objectives)}
 *
 * Ownership: mp_report_experiment returns an owned json_t (json_decref). Others borrow. */
#ifndef MP_REPORT_H
#define MP_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "core/core.h"
#include "doc/doc.h"
#include "store/store.h"

/* ref: experiment name or id. */
int mp_report_experiment(struct mp_store *st, const char *ref, json_t **out,
                         struct mp_error *err) MP_WUR;
/* Adds "capacity_plan" {target_rps, headroom, replica_rps, replicas, cost_per_hour} to a
 * report: replicas of the recommended configuration needed to serve target_rps with the given
 * headroom (0.2 = 20 % spare). */
int mp_report_capacity_plan(json_t *report, double target_rps, double headroom,
                            struct mp_error *err) MP_WUR;
/* One-line-per-experiment summaries for `list`. */
int mp_report_list(struct mp_store *st, json_t **out, struct mp_error *err) MP_WUR;

/* Human renderings. */
void mp_report_print_summary(FILE *f, const json_t *report);
void mp_report_print_trials(FILE *f, const json_t *report);
void mp_report_print_recommendation(FILE *f, const json_t *report);
void mp_report_print_list(FILE *f, const json_t *list);
/* CSV: one row per trial, columns number,state,failure,<params...>,<metrics...>. */
void mp_report_write_csv(FILE *f, const json_t *report);

#endif
