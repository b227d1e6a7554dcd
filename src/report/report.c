/* SPDX-License-Identifier: Apache-2.0 */
/* Building experiment reports from the store. */
#include "report/report_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

static json_t *time_json(int64_t ns)
{
    if (ns <= 0) {
        return json_null();
    }
    char buf[32];
    return json_string(mp_fmt_time(buf, ns));
}

static json_t *metrics_json(const struct mp_metrics *m)
{
    json_t *j = json_object();
    for (size_t i = 0; i < m->n; i++) {
        json_object_set_new(j, m->names[i],
                            isfinite(m->values[i]) ? json_real(m->values[i]) : json_null());
    }
    return j;
}

static json_t *trial_json(const struct mp_spec *spec, const struct mp_trial_row *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "number", json_integer(t->number));
    json_object_set_new(j, "state", json_string(mp_trial_state_name(t->state)));
    json_object_set_new(j, "failure",
                        t->failure ? json_string(mp_failure_name(t->failure)) : json_null());
    json_object_set_new(j, "reason", t->reason ? json_string(t->reason) : json_null());
    json_object_set_new(j, "attempt", json_integer(t->attempt));
    json_object_set_new(j, "feasible", json_boolean(t->state == MP_TRIAL_SUCCEEDED));
    json_object_set_new(j, "violated", mp_report_violated(spec, t));
    /* No measurement yet (or none kept: cancelled), or none made (a failure before the load,
     * without the objective), nothing settled or not: the engine judges a value only
     * (mp_engine_unsettled), and the store's default of 1 read as "settled". */
    double v;
    bool measured = (t->state == MP_TRIAL_SUCCEEDED || t->state == MP_TRIAL_FAILED) &&
                    mp_metrics_get(&t->metrics, spec->objective_metric, &v) && isfinite(v);
    json_object_set_new(j, "settled", measured ? json_boolean(t->settled) : json_null());
    json_object_set_new(j, "recommended", json_false());
    json_t *params = json_loads(t->params_json, 0, NULL);
    json_object_set_new(j, "params", params ? params : json_object());
    json_object_set_new(j, "metrics", metrics_json(&t->metrics));
    json_object_set_new(j, "resources", metrics_json(&t->resources));
    json_object_set_new(j, "started_at", time_json(t->started_at_ns));
    json_object_set_new(j, "finished_at", time_json(t->finished_at_ns));
    json_object_set_new(j, "duration_s",
                        t->finished_at_ns > 0 && t->started_at_ns > 0
                            ? json_real((double)(t->finished_at_ns - t->started_at_ns) / 1e9)
                            : json_null());
    if (t->meta_json) {
        json_t *meta = json_loads(t->meta_json, 0, NULL);
        mp_report_redact_argv(json_object_get(meta, "argv"));
        json_object_set_new(j, "meta", meta ? meta : json_null());
    }
    return j;
}

static json_t *counts_json(const struct mp_trial_row *rows, size_t n)
{
    size_t c[5] = {0};
    json_t *failures = json_object();
    for (size_t i = 0; i < n; i++) {
        c[rows[i].state]++;
        if (rows[i].failure != MP_FAILURE_NONE) {
            const char *name = mp_failure_name(rows[i].failure);
            json_int_t k = json_integer_value(json_object_get(failures, name));
            json_object_set_new(failures, name, json_integer(k + 1));
        }
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "total", (json_int_t)n, "succeeded",
                     (json_int_t)c[MP_TRIAL_SUCCEEDED], "failed", (json_int_t)c[MP_TRIAL_FAILED],
                     "cancelled", (json_int_t)c[MP_TRIAL_CANCELLED], "pending",
                     (json_int_t)c[MP_TRIAL_PENDING], "running", (json_int_t)c[MP_TRIAL_RUNNING],
                     "failures", failures);
}

/* Relative measurement noise assumed when a trial does not report its own uncertainty: the
 * run-to-run spread of 5 s load tests on this kind of machine (REFERENCE.md section 3). */
#define DEFAULT_NOISE_REL 0.05

static json_t *ranked_json(const struct mp_trial_row *t, double v)
{
    json_t *params = json_loads(t->params_json, 0, NULL);
    return json_pack("{s:I, s:o, s:f, s:o}", "number", (json_int_t)t->number, "params",
                     params ? params : json_object(), "value", v, "metrics",
                     metrics_json(&t->metrics));
}

/* Half-width of the objective's measurement uncertainty: the runner's own estimate
 * (metric "<objective>_uncertainty") or the default relative noise (*assumed set). */
static double uncertainty(const struct mp_spec *spec, const struct mp_trial_row *t, double v,
                          bool *assumed)
{
    char name[256];
    snprintf(name, sizeof(name), "%s_uncertainty", spec->objective_metric);
    double u;
    if (mp_metrics_get(&t->metrics, name, &u) && u >= 0) {
        return u;
    }
    *assumed = true;
    return DEFAULT_NOISE_REL * fabs(v);
}

/* Whether a trial (value v, settled or not) ranks before the current rank holder (value rv,
 * settled or not; none when !held): settled before unsettled, then by value. */
static bool ranks_before(const struct mp_spec *spec, bool held, bool settled, double v,
                         bool r_settled, double rv)
{
    if (!held) {
        return true;
    }
    if (settled != r_settled) {
        return settled;
    }
    double o = spec->direction == MP_MAXIMIZE ? v : -v;
    return o > (spec->direction == MP_MAXIMIZE ? rv : -rv);
}

/* Trial number's entry among the candidates of a finished confirmation in report j, or NULL. */
static const json_t *done_candidate(const json_t *j, int64_t number)
{
    const json_t *conf = json_object_get(j, "confirmation");
    const char *state = json_string_value(json_object_get(conf, "state"));
    const json_t *cands = json_object_get(conf, "candidates");
    for (size_t i = 0; state && strcmp(state, "done") == 0 && i < json_array_size(cands); i++) {
        const json_t *c = json_array_get(cands, i);
        if (json_integer_value(json_object_get(c, "number")) == number) {
            return c;
        }
    }
    return NULL;
}

bool mp_report_disproved(const json_t *report, int64_t number)
{
    const json_t *c = done_candidate(report, number);
    return c && json_integer_value(json_object_get(c, "passes")) <
                    json_integer_value(json_object_get(c, "runs"));
}

/* mp_spec_pods of the trial whose parameters are params. */
static int64_t pods_of(const struct mp_spec *spec, const json_t *params)
{
    int i = mp_spec_pods_param(spec);
    if (i < 0) {
        return mp_spec_pods(spec, NULL);
    }
    double *x = mp_xcalloc(spec->space.n, sizeof(*x));
    x[i] = json_number_value(json_object_get(params, spec->space.params[i].name));
    int64_t pods = mp_spec_pods(spec, x);
    free(x);
    return pods;
}

/* The state to report: RUNNING in the store while no process drives it is a run killed (SIGKILL,
 * a crash, a reboot) before it could say so, interrupted: `run` continues it. */
static enum mp_experiment_state shown_state(const struct mp_experiment_row *row)
{
    return row->state == MP_EXPERIMENT_RUNNING && !mp_experiment_row_driven(row, MP_STORE_STALE_MS)
               ? MP_EXPERIMENT_INTERRUPTED
               : row->state;
}

/* Adds within_noise, noise and noise_assumed to runner-up ru (trial r, value rv) against the best
 * (trial b, value bv). When the confirmation measured both (the best's statistics bs, the
 * runner-up's candidate entry rc), their means are compared within the larger half-width of
 * their 95 % intervals: the spread of repeated measurements, which the uncertainty a runner
 * reports of one measurement understates when the machine's speed shifts between runs (what
 * the confirmation is for). Else the search's uncertainties. */
static void add_noise(json_t *ru, const struct mp_spec *spec, const struct mp_trial_row *b,
                      double bv, const struct mp_confirm_stats *bs, const struct mp_trial_row *r,
                      double rv, const json_t *rc)
{
    bool assumed[2] = {false, false};
    double u0, u1;
    const json_t *rc_interval = json_object_get(rc, "interval");
    if (bs && isfinite(bs->interval) && json_is_number(rc_interval)) {
        u0 = bs->interval * fabs(bv);
        u1 = json_number_value(rc_interval) * fabs(rv);
    } else {
        u0 = uncertainty(spec, b, bv, &assumed[0]);
        u1 = uncertainty(spec, r, rv, &assumed[1]);
    }
    double noise = fmax(u0, u1);
    json_object_set_new(ru, "within_noise", json_boolean(fabs(bv - rv) <= noise));
    json_object_set_new(ru, "noise", json_real(noise));
    json_object_set_new(ru, "noise_assumed", json_boolean(u0 >= u1 ? assumed[0] : assumed[1]));
}

/* Adds "best" (the recommended trial: the confirmed winner when the confirmation found one, else
 * the candidate that passed the largest share of its measurements when it ran (fallback), else
 * the best settled feasible trial, else the best feasible one) and "runner_up" (the
 * second-best feasible trial, flagged when the two are within measurement noise of each other,
 * so either is a sound choice). After a confirmation, a candidate ranks for runner-up on its
 * confirmed mean, and not at all when a measurement of it missed a constraint (or had no value):
 * its search figure is the one the confirmation disproved. */
static void add_best(json_t *j, const struct mp_spec *spec, const struct mp_trial_row *rows,
                     size_t n, int64_t confirmed, const struct mp_confirm_stats *stats,
                     int64_t fallback)
{
    int64_t pick = confirmed > 0 ? confirmed : fallback;
    long rank[2] = {-1, -1};
    double val[2] = {0, 0};
    bool settled[2] = {false, false};
    const json_t *ru_cand = NULL; /* the runner-up's confirmation entry, when it ranks on it */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            double v;
            /* A value that is not finite is none (the engine fails such a trial; a store of
             * an older build or edited by hand may hold one): JSON has no number for it, and
             * the runner-up it ranked as was dropped whole. */
            if (rows[i].state != MP_TRIAL_SUCCEEDED || (pass == 1 && (long)i == rank[0]) ||
                !mp_metrics_get(&rows[i].metrics, spec->objective_metric, &v) || !isfinite(v)) {
                continue;
            }
            bool s = rows[i].settled;
            const json_t *cand = pass == 1 ? done_candidate(j, rows[i].number) : NULL;
            if (cand && !json_is_true(json_object_get(cand, "confirmed"))) {
                continue;
            }
            if (cand) { /* repeated measurements that all passed: settled evidence */
                v = json_number_value(json_object_get(cand, "mean"));
                s = true;
            }
            bool take = pass == 0 && pick > 0
                            ? rows[i].number == pick
                            : ranks_before(spec, rank[pass] >= 0, s, v, settled[pass], val[pass]);
            if (take) {
                rank[pass] = (long)i;
                val[pass] = v;
                settled[pass] = s;
                ru_cand = pass == 1 ? cand : ru_cand;
            }
        }
    }
    if (rank[0] < 0) {
        json_object_set_new(j, "best", json_null());
        json_object_set_new(j, "runner_up", json_null());
        return;
    }
    json_t *best = ranked_json(&rows[rank[0]], val[0]);
    json_object_set_new(best, "settled", json_boolean(rows[rank[0]].settled));
    int64_t pods = pods_of(spec, json_object_get(best, "params"));
    if (pods > 0) {
        json_object_set_new(best, "pods", json_integer(pods));
    }
    json_object_set_new(best, "search_value", json_real(val[0]));
    if (confirmed > 0) {
        json_object_set_new(best, "value", json_real(stats->mean));
        json_object_set_new(best, "confirmed", mp_report_stats_json(stats));
    } else {
        json_object_set_new(best, "confirmed", json_null());
    }
    json_object_set_new(j, "best", best);
    json_t *trials = json_object_get(j, "trials");
    json_object_set_new(json_array_get(trials, (size_t)rank[0]), "recommended", json_true());
    if (rank[1] < 0) {
        json_object_set_new(j, "runner_up", json_null());
        return;
    }
    double bv = confirmed > 0 ? stats->mean : val[0];
    json_t *ru = ranked_json(&rows[rank[1]], val[1]);
    add_noise(ru, spec, &rows[rank[0]], bv, confirmed > 0 ? stats : NULL, &rows[rank[1]], val[1],
              ru_cand);
    json_object_set_new(j, "runner_up", ru);
}

/* Adds best.confirmed.throughput_rps: the mean throughput over the confirmed winner's
 * measurements (the trial and its confirmation runs), as its objective's mean is. The trial's own
 * figure is the luckiest of the search (the winner's curse): a capacity plan sized on it comes
 * out short. */
static void add_confirmed_throughput(json_t *j, const struct mp_trial_row *rows, size_t n,
                                     const struct mp_confirm_row *runs, size_t n_runs)
{
    json_t *best = json_object_get(j, "best");
    json_t *conf = json_object_get(best, "confirmed");
    if (!json_is_object(conf)) {
        return;
    }
    int64_t number = json_integer_value(json_object_get(best, "number"));
    double sum = 0, v;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].number == number && mp_metrics_get(&rows[i].metrics, "throughput_rps", &v)) {
            sum += v;
            k++;
        }
    }
    for (size_t i = 0; i < n_runs; i++) {
        if (runs[i].trial_number == number &&
            mp_metrics_get(&runs[i].metrics, "throughput_rps", &v)) {
            sum += v;
            k++;
        }
    }
    if (k > 0) {
        json_object_set_new(conf, "throughput_rps", json_real(sum / (double)k));
    }
}

/* Oriented objective values of a feasible trial (larger is better); false if it is not feasible.
 * An objective it has no finite value for (a replayed row's empty cell; the first objective is
 * always there) is the worst of all, -inf: such a trial is beaten by one as good on the others,
 * beats none that measured it, and stays on the front when nothing matches it elsewhere (it was
 * left out, so the recommended trial could be missing from the front that no trial beat). */
static bool objective_vector(const struct mp_spec *spec, const struct mp_trial_row *t, double *v)
{
    if (t->state != MP_TRIAL_SUCCEEDED) {
        return false;
    }
    for (size_t k = 0; k < spec->n_objectives; k++) {
        if (!mp_metrics_get(&t->metrics, spec->objectives[k].metric, &v[k]) || !isfinite(v[k])) {
            if (k == 0) {
                return false;
            }
            v[k] = -INFINITY;
            continue;
        }
        v[k] = spec->objectives[k].direction == MP_MAXIMIZE ? v[k] : -v[k];
    }
    return true;
}

static bool dominates(const double *a, const double *b, size_t n)
{
    bool strictly = false;
    for (size_t k = 0; k < n; k++) {
        if (a[k] < b[k]) {
            return false;
        }
        strictly |= a[k] > b[k];
    }
    return strictly;
}

/* With several objectives: the feasible trials no other feasible trial dominates, in trial
 * order, but those a confirmation disproved. O(n^2 k), fine for the trial counts experiments
 * have. */
static void add_pareto(json_t *j, const struct mp_spec *spec, const struct mp_trial_row *rows,
                       size_t n)
{
    if (spec->n_objectives < 2) {
        return;
    }
    size_t k = spec->n_objectives;
    double *v = mp_xcalloc(n * k + 1, sizeof(double));
    bool *ok = mp_xcalloc(n + 1, sizeof(bool));
    for (size_t i = 0; i < n; i++) {
        ok[i] =
            objective_vector(spec, &rows[i], &v[i * k]) && !mp_report_disproved(j, rows[i].number);
    }
    json_t *front = json_array();
    for (size_t i = 0; i < n; i++) {
        bool dominated = !ok[i];
        for (size_t o = 0; o < n && !dominated; o++) {
            dominated = ok[o] && dominates(&v[o * k], &v[i * k], k);
        }
        if (dominated) {
            continue;
        }
        json_t *values = json_object();
        for (size_t m = 0; m < k; m++) {
            double x = spec->objectives[m].direction == MP_MAXIMIZE ? v[i * k + m] : -v[i * k + m];
            json_object_set_new(values, spec->objectives[m].metric,
                                isfinite(x) ? json_real(x) : json_null());
        }
        json_t *params = json_loads(rows[i].params_json, 0, NULL);
        json_array_append_new(front, json_pack("{s:I, s:o, s:o}", "number",
                                               (json_int_t)rows[i].number, "params",
                                               params ? params : json_object(), "values", values));
    }
    json_object_set_new(j, "pareto_front", front);
    free(v);
    free(ok);
}

static void add_settings(json_t *j, const struct mp_spec *spec)
{
    json_object_set_new(j, "objective",
                        json_pack("{s:s, s:s}", "metric", spec->objective_metric, "direction",
                                  spec->direction == MP_MAXIMIZE ? "maximize" : "minimize"));
    json_object_set_new(j, "objectives", mp_spec_objectives_json(spec));
    json_t *cons = json_array();
    for (size_t i = 0; i < spec->n_constraints; i++) {
        json_array_append_new(cons, json_string(spec->constraints[i].text));
    }
    json_object_set_new(j, "constraints", cons);
    json_object_set_new(j, "algorithm", json_string(spec->algorithm));
    json_object_set_new(j, "runner", json_string(spec->runner));
    json_object_set_new(j, "max_trials", json_integer(spec->max_trials));
    json_object_set_new(j, "parallelism", json_integer(spec->parallelism));
    json_t *params = json_array();
    for (size_t i = 0; i < spec->space.n; i++) {
        json_array_append_new(params, json_string(spec->space.params[i].name));
    }
    json_object_set_new(j, "parameters", params);
}

int mp_report_stored_spec(const struct mp_experiment_row *row, struct mp_spec **out,
                          struct mp_error *err)
{
    /* Its errors name what was read: the experiment's name alone read as a file's. */
    char *source = mp_xasprintf("stored spec of experiment '%s'", row->name);
    int rc = mp_spec_parse(row->spec_json, strlen(row->spec_json), source, row->base_dir, NULL, 0,
                           out, err);
    free(source);
    if (rc != 0 && err) {
        err->code = MP_EUNSUPPORTED;
    }
    return rc != 0 ? MP_EUNSUPPORTED : 0;
}

int mp_report_experiment(struct mp_store *st, const char *ref, json_t **out, struct mp_error *err)
{
    struct mp_experiment_row row = {0};
    struct mp_spec *spec = NULL;
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_find(st, ref, &row, err);
    if (rc == 0) {
        rc = mp_report_stored_spec(&row, &spec, err);
    }
    if (rc == 0) {
        rc = mp_store_trial_list(st, row.id, &rows, &n, err);
    }
    struct mp_confirm_row *runs = NULL;
    size_t n_runs = 0;
    if (rc == 0) {
        rc = mp_store_confirm_list(st, row.id, &runs, &n_runs, err);
    }
    if (rc == 0) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_integer(row.id));
        json_object_set_new(j, "name", json_string(row.name));
        enum mp_experiment_state state = shown_state(&row);
        const char *reason = state != row.state ? "its run stopped without ending it (the process "
                                                  "was killed or crashed); run again to continue"
                                                : row.stop_reason;
        json_object_set_new(j, "state", json_string(mp_experiment_state_name(state)));
        json_object_set_new(j, "stop_reason", reason ? json_string(reason) : json_null());
        json_object_set_new(j, "seed", json_integer((json_int_t)row.seed));
        json_object_set_new(j, "created_at", time_json(row.created_at_ns));
        json_object_set_new(j, "finished_at", time_json(row.finished_at_ns));
        add_settings(j, spec);
        json_object_set_new(j, "counts", counts_json(rows, n));
        json_t *trials = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(trials, trial_json(spec, &rows[i]));
        }
        json_object_set_new(j, "trials", trials);
        struct mp_confirm_stats winner = {0};
        int64_t fallback = 0;
        int64_t confirmed = mp_report_add_confirmation(j, spec, row.state, rows, n, runs, n_runs,
                                                       &winner, &fallback);
        add_best(j, spec, rows, n, confirmed, &winner, fallback);
        add_confirmed_throughput(j, rows, n, runs, n_runs);
        add_pareto(j, spec, rows, n);
        *out = j;
    }
    mp_trial_rows_free(rows, n);
    mp_confirm_rows_free(runs, n_runs);
    mp_spec_free(spec);
    mp_experiment_row_release(&row);
    return rc;
}

int mp_report_no_best(const json_t *report, const char *purpose, struct mp_error *err)
{
    const char *name = json_string_value(json_object_get(report, "name"));
    const char *state = json_string_value(json_object_get(report, "state"));
    const char *reason = json_string_value(json_object_get(report, "stop_reason"));
    /* Said "yet" of an experiment that had ended FAILED or CANCELLED, as if one were to come. */
    bool ended = state && (strcmp(state, "SUCCEEDED") == 0 || strcmp(state, "FAILED") == 0 ||
                           strcmp(state, "CANCELLED") == 0);
    if (!ended) {
        return mp_error_set(err, MP_ENOTFOUND,
                            "experiment '%s' has no recommended configuration yet%s",
                            name ? name : "", purpose);
    }
    return mp_error_set(err, MP_ENOTFOUND,
                        "experiment '%s' has no recommended configuration%s: it ended %s%s%s%s",
                        name ? name : "", purpose, state, reason && *reason ? " (" : "",
                        reason && *reason ? reason : "", reason && *reason ? ")" : "");
}

int mp_report_capacity_plan(json_t *report, double target_rps, double headroom,
                            struct mp_error *err)
{
    const json_t *best = json_object_get(report, "best");
    const json_t *m = json_object_get(best, "metrics");
    /* A confirmed recommendation is sized on its mean throughput, not on its search figure. */
    const json_t *mean = json_object_get(json_object_get(best, "confirmed"), "throughput_rps");
    double rps =
        json_number_value(json_is_number(mean) ? mean : json_object_get(m, "throughput_rps"));
    /* A configuration of several pods was measured as a whole: a replica is one pod of it. */
    const json_t *pods = json_object_get(best, "pods");
    if (json_integer_value(pods) > 1) {
        rps /= (double)json_integer_value(pods);
    }
    if (!json_is_object(best)) { /* as mp_report_recommended says it */
        return mp_report_no_best(report, ", to plan for", err);
    }
    if (!(rps > 0)) {
        return mp_error_set(err, MP_EINVALID,
                            "a capacity plan needs a recommended configuration with a measured "
                            "throughput_rps");
    }
    if (!(target_rps >= MP_REPORT_TARGET_RPS_MIN && target_rps <= MP_REPORT_TARGET_RPS_MAX) ||
        !(headroom >= 0)) {
        return mp_error_set(err, MP_EINVALID,
                            "the target must be %g..%g requests/s and the headroom >= 0",
                            MP_REPORT_TARGET_RPS_MIN, MP_REPORT_TARGET_RPS_MAX);
    }
    /* The quotient carries the rounding of three operations (100 * 1.1 / 10 is
     * 11.000000000000002): a relative 1e-9 under a whole number is that whole number, not one
     * replica more. */
    double needed = target_rps * (1 + headroom);
    double replicas = ceil(needed / rps * (1 - 1e-9));
    if (!(replicas <= MP_REPORT_MAX_REPLICAS)) {
        return mp_error_set(err, MP_EINVALID,
                            "a target of %g requests/s needs %.3g replicas of the recommended "
                            "configuration (%g requests/s each), more than a Deployment can have "
                            "(%.0f)",
                            target_rps, replicas, rps, MP_REPORT_MAX_REPLICAS);
    }
    json_t *plan = json_pack("{s:f, s:f, s:f, s:I}", "target_rps", target_rps, "headroom", headroom,
                             "replica_rps", rps, "replicas", (json_int_t)replicas);
    const json_t *cost = json_object_get(m, "cost_per_hour"); /* all its pods' */
    if (json_is_number(cost)) {
        double per_pod = json_number_value(cost) /
                         (json_integer_value(pods) > 1 ? (double)json_integer_value(pods) : 1.0);
        /* Rounded as cost_per_hour: 8 pods of a 3-pod configuration at 0.3 cost 0.8, not
         * 0.7999999999999999. */
        json_object_set_new(plan, "cost_per_hour", json_real(mp_spec_round12(replicas * per_pod)));
    }
    json_object_set_new(report, "capacity_plan", plan);
    return 0;
}

char *mp_report_uncertain_mean(const json_t *report)
{
    const json_t *best = json_object_get(report, "best");
    const json_t *iv = json_object_get(json_object_get(best, "confirmed"), "interval");
    const json_t *limit =
        json_object_get(json_object_get(report, "confirmation"), "max_uncertainty");
    if (!json_is_number(iv) || !json_is_number(limit) ||
        !(json_number_value(iv) > json_number_value(limit))) {
        return NULL;
    }
    return mp_xasprintf("the measurements of trial %lld disagree: the 95 %% interval of its "
                        "confirmed mean (+-%.1f %%) is wider than "
                        "algorithm.confirm.max_uncertainty (+-%.1f %%) after the most runs "
                        "allowed; the mean is uncertain",
                        (long long)json_integer_value(json_object_get(best, "number")),
                        100 * json_number_value(iv), 100 * json_number_value(limit));
}

json_t *mp_report_caveats(const json_t *report)
{
    json_t *out = json_array();
    const json_t *best = json_object_get(report, "best");
    if (!json_is_object(best)) {
        return out;
    }
    long long number = (long long)json_integer_value(json_object_get(best, "number"));
    const char *name = json_string_value(json_object_get(report, "name"));
    const char *state = json_string_value(json_object_get(report, "state"));
    const json_t *counts = json_object_get(report, "counts");
    if (state && strcmp(state, "SUCCEEDED") != 0) {
        long long done = (long long)(json_integer_value(json_object_get(counts, "succeeded")) +
                                     json_integer_value(json_object_get(counts, "failed")));
        json_array_append_new(
            out, json_sprintf("experiment '%s' is %s after %lld of %lld trials: trial %lld is the "
                              "best configuration so far, not its recommendation",
                              name ? name : "", state, done,
                              (long long)json_integer_value(json_object_get(report, "max_trials")),
                              number));
    }
    const json_t *conf = json_object_get(report, "confirmation");
    if (json_is_object(json_object_get(best, "confirmed"))) {
        char *uncertain = mp_report_uncertain_mean(report);
        if (uncertain) {
            json_array_append_new(out, json_string(uncertain));
            free(uncertain);
        }
        return out;
    }
    if (json_integer_value(json_object_get(conf, "most_passed")) == number) {
        json_array_append_new(out,
                              json_sprintf("trial %lld is not confirmed: no candidate met every "
                                           "constraint in all its measurements, and it met them "
                                           "in the largest share",
                                           number));
    }
    if (json_is_false(json_object_get(best, "settled"))) {
        json_array_append_new(out, json_sprintf("the measurement of trial %lld did not settle and "
                                                "no confirmation backs it: its figures are "
                                                "uncertain",
                                                number));
    }
    return out;
}

/* A list item of an experiment whose report cannot be built: what the store has without its
 * spec (the row, its trials' counts), nulls for the rest and the error. */
static json_t *broken_item(struct mp_store *st, const struct mp_experiment_row *row,
                           const char *error)
{
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    json_t *counts =
        mp_store_trial_list(st, row->id, &rows, &n, NULL) == 0 ? counts_json(rows, n) : json_null();
    mp_trial_rows_free(rows, n);
    enum mp_experiment_state state = shown_state(row);
    return json_pack("{s:I, s:s, s:s, s:o, s:{s:n, s:n}, s:n, s:n, s:o, s:n, s:n, s:s}", "id",
                     (json_int_t)row->id, "name", row->name, "state",
                     mp_experiment_state_name(state), "created_at", time_json(row->created_at_ns),
                     "objective", "metric", "direction", "algorithm", "max_trials", "counts",
                     counts, "best_value", "best_settled", "error", error);
}

int mp_report_list(struct mp_store *st, json_t **out, struct mp_error *err)
{
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_list(st, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n && rc == 0; i++) {
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", (long long)rows[i].id);
        json_t *rep = NULL;
        struct mp_error why = {0};
        rc = mp_report_experiment(st, ref, &rep, &why);
        if (rc == MP_ESTORE || rc == MP_EBUSY) {
            mp_error_set(err, rc, "%s", why.msg); /* the store failed: no list is right */
            break;
        }
        if (rc != 0) {
            /* One experiment this build cannot read (its stored spec no longer parses) hides
             * none of the others: its row says why. */
            rc = 0;
            json_array_append_new(list, broken_item(st, &rows[i], why.msg));
            continue;
        }
        json_t *best = json_object_get(rep, "best");
        /* The value rests on the search's measurement alone unless a confirmation backs it. */
        json_t *settled = !json_is_object(best) ? json_null()
                          : json_is_object(json_object_get(best, "confirmed"))
                              ? json_true()
                              : json_boolean(!json_is_false(json_object_get(best, "settled")));
        json_t *item = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}", "id", json_object_get(rep, "id"),
            "name", json_object_get(rep, "name"), "state", json_object_get(rep, "state"),
            "created_at", json_object_get(rep, "created_at"), "objective",
            json_object_get(rep, "objective"), "algorithm", json_object_get(rep, "algorithm"),
            "max_trials", json_object_get(rep, "max_trials"), "counts",
            json_object_get(rep, "counts"), "best_value",
            json_is_object(best) ? json_object_get(best, "value") : json_null(), "best_settled",
            settled);
        json_array_append_new(list, item);
        json_decref(rep);
    }
    mp_experiment_rows_free(rows, n);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}
