/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/report only. */
#ifndef MP_REPORT_INT_H
#define MP_REPORT_INT_H

#include "engine/engine.h"
#include "report/report.h"

/* Adds "confirmation" to the report j and returns the confirmed winner's trial number (0 when
 * none; *winner then untouched). state: the experiment's stored state; SUCCEEDED: its
 * confirmation is complete whatever mp_confirm_due says of the recorded runs; FAILED or
 * CANCELLED: it ended without one ("stopped") unless the runs are all there. *fallback: when
 * the confirmation is done without a winner, the candidate that passed the largest share of its
 * measurements (confirmation.most_passed), else 0. */
int64_t mp_report_add_confirmation(json_t *j, const struct mp_spec *spec,
                                   enum mp_experiment_state state, const struct mp_trial_row *rows,
                                   size_t n, const struct mp_confirm_row *runs, size_t n_runs,
                                   struct mp_confirm_stats *winner, int64_t *fallback);
/* A candidate's statistics as JSON (owned). */
json_t *mp_report_stats_json(const struct mp_confirm_stats *s);
/* The texts of the constraints trial t's metrics break (its upper confidence bounds included). */
json_t *mp_report_violated(const struct mp_spec *spec, const struct mp_trial_row *t);

#endif
