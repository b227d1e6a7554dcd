/* SPDX-License-Identifier: Apache-2.0 */
/* The confirmation in reports: each candidate's figures over its measurements, the confirmed
 * winner, and per trial whether it is feasible, which constraints it broke and whether its
 * measurement settled. Shape: docs/api.md, "Trials and confirmation". */
#include "report/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *values_json(const struct mp_spec *spec, const struct mp_trial_row *t,
                           const struct mp_confirm_row *runs, size_t n_runs)
{
    json_t *a = json_array();
    double v;
    if (mp_metrics_get(&t->metrics, spec->objective_metric, &v) && isfinite(v)) {
        json_array_append_new(a, json_real(v));
    }
    for (size_t i = 0; i < n_runs; i++) {
        if (runs[i].trial_number == t->number && runs[i].failure != MP_FAILURE_INFRA &&
            mp_metrics_get(&runs[i].metrics, spec->objective_metric, &v) && isfinite(v)) {
            json_array_append_new(a, json_real(v));
        }
    }
    return a;
}

static json_t *runs_json(const struct mp_spec *spec, const struct mp_confirm_row *runs,
                         size_t n_runs, int64_t number)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n_runs; i++) {
        const struct mp_confirm_row *r = &runs[i];
        if (r->trial_number != number) {
            continue;
        }
        double v = NAN;
        mp_metrics_get(&r->metrics, spec->objective_metric, &v);
        json_array_append_new(
            a, json_pack("{s:I, s:s, s:o, s:o, s:o}", "run", (json_int_t)r->run, "state",
                         mp_trial_state_name(r->state), "failure",
                         r->failure ? json_string(mp_failure_name(r->failure)) : json_null(),
                         "value", num_or_null(v), "settled",
                         isfinite(v) ? json_boolean(r->settled) : json_null()));
    }
    return a;
}

json_t *mp_report_stats_json(const struct mp_confirm_stats *s)
{
    return json_pack("{s:I, s:o, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:b}", "number",
                     (json_int_t)s->number, "search_value", num_or_null(s->search_value), "runs",
                     (json_int_t)s->runs, "passes", (json_int_t)s->passes, "settled_runs",
                     (json_int_t)s->settled, "mean", num_or_null(s->mean), "stddev",
                     num_or_null(s->stddev), "min", num_or_null(s->min), "max", num_or_null(s->max),
                     "interval", num_or_null(s->interval), "confirmed", s->confirmed);
}

/* A finished experiment finished its confirmation, under the rules of the build that ran it; one
 * that failed or was cancelled will not make it (it was "pending" for good). */
static const char *phase_state(const struct mp_spec *spec, enum mp_experiment_state state,
                               const struct mp_trial_row *rows, const size_t *idx, size_t k,
                               const struct mp_confirm_row *runs, size_t n_runs, size_t recorded)
{
    if (spec->confirm_top <= 0) {
        return "off";
    }
    if (k == 0) {
        return "none";
    }
    int64_t round;
    size_t cand;
    if (state == MP_EXPERIMENT_SUCCEEDED ||
        mp_confirm_due(spec, rows, idx, k, runs, n_runs, &round, &cand) == 0) {
        return "done";
    }
    return state == MP_EXPERIMENT_FAILED || state == MP_EXPERIMENT_CANCELLED ? "stopped"
           : recorded == 0                                                   ? "pending"
                                                                             : "partial";
}

int64_t mp_report_add_confirmation(json_t *j, const struct mp_spec *spec,
                                   enum mp_experiment_state exp_state,
                                   const struct mp_trial_row *rows, size_t n,
                                   const struct mp_confirm_row *runs, size_t n_runs,
                                   struct mp_confirm_stats *winner, int64_t *fallback)
{
    size_t *idx = mp_xcalloc((size_t)spec->confirm_top + 1, sizeof(*idx));
    size_t k = mp_confirm_candidates(spec, rows, n, idx);
    struct mp_confirm_stats *s = mp_xcalloc(k + 1, sizeof(*s));
    json_t *cands = json_array();
    size_t recorded = 0;
    for (size_t i = 0; i < k; i++) {
        const struct mp_trial_row *t = &rows[idx[i]];
        mp_confirm_stats_of(spec, t, runs, n_runs, &s[i]);
        for (size_t r = 0; r < n_runs; r++) {
            recorded += runs[r].trial_number == t->number;
        }
        json_t *c = mp_report_stats_json(&s[i]);
        json_t *params = json_loads(t->params_json, 0, NULL);
        json_object_set_new(c, "params", params ? params : json_object());
        json_object_set_new(c, "values", values_json(spec, t, runs, n_runs));
        json_object_set_new(c, "confirm_runs", runs_json(spec, runs, n_runs, t->number));
        json_array_append_new(cands, c);
    }
    const char *state = phase_state(spec, exp_state, rows, idx, k, runs, n_runs, recorded);
    bool done = strcmp(state, "done") == 0;
    long w = done ? mp_confirm_pick(spec, s, k) : -1;
    int64_t rec = w >= 0 ? s[w].number : 0;
    if (w >= 0) {
        *winner = s[w];
    }
    long f = done && w < 0 ? mp_confirm_most_passed(s, k) : -1;
    *fallback = f >= 0 ? s[f].number : 0;
    json_object_set_new(
        j, "confirmation",
        json_pack("{s:s, s:I, s:I, s:I, s:f, s:o, s:o, s:o}", "state", state, "top",
                  (json_int_t)spec->confirm_top, "runs", (json_int_t)spec->confirm_runs, "max_runs",
                  (json_int_t)spec->confirm_max_runs, "max_uncertainty", spec->max_uncertainty,
                  "recommended", rec > 0 ? json_integer(rec) : json_null(), "most_passed",
                  f >= 0 ? json_integer(s[f].number) : json_null(), "candidates", cands));
    free(s);
    free(idx);
    return rec;
}

json_t *mp_report_violated(const struct mp_spec *spec, const struct mp_trial_row *t)
{
    json_t *a = json_array();
    for (size_t i = 0; i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        char upper_name[160];
        double m, u;
        snprintf(upper_name, sizeof(upper_name), "%s_upper", c->metric);
        if (!mp_metrics_get(&t->metrics, c->metric, &m)) {
            continue;
        }
        bool broken = !mp_constraint_holds(c, m) ||
                      ((c->op == MP_CMP_LE || c->op == MP_CMP_LT) &&
                       mp_metrics_get(&t->metrics, upper_name, &u) && !mp_constraint_holds(c, u));
        if (broken) {
            json_array_append_new(a, json_string(c->text));
        }
    }
    return a;
}
