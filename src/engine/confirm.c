/* SPDX-License-Identifier: Apache-2.0 */
/* Confirmation: before recommending, the best candidates of the search are measured again and
 * the recommendation rests on every measurement of each, with its spread. Also the rule that
 * says when a measurement did not settle. Contract: docs/internals/engine.md, "Confirmation". */
#include "engine/events.h"
#include "engine/engine_int.h"
#include "measure/measure.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Confirmation runs use attempts from here on, so their side effects (cgroups, port offsets)
 * never share a name with the trial's own attempts. */
#define CONFIRM_ATTEMPT_BASE 1000
#define INFRA_RETRIES        2

/* Whether metric's relative uncertainty exceeds limit: a value of 0 with any uncertainty has an
 * unbounded one (it was left out, so 0 +- 50 counted as settled). */
static bool over(const struct mp_metrics *m, const char *metric, double limit)
{
    char name[256];
    double v, u;
    snprintf(name, sizeof(name), "%s_uncertainty", metric);
    return mp_metrics_get(m, metric, &v) && isfinite(v) && mp_metrics_get(m, name, &u) &&
           isfinite(u) && u > limit * fabs(v);
}

bool mp_engine_unsettled(const struct mp_spec *spec, const struct mp_metrics *m)
{
    double stable, pruned = 0;
    if (mp_metrics_get(m, "pruned", &pruned) && pruned == 1) {
        return false; /* stopped on purpose: far over a limit, which is settled enough */
    }
    if (mp_metrics_get(m, "stable", &stable) && stable == 0) {
        return true;
    }
    return over(m, "throughput_rps", spec->max_uncertainty) ||
           over(m, spec->objective_metric, spec->max_uncertainty);
}

#define MARGIN_CLIP 3.0

static double clip(double v)
{
    return v > MARGIN_CLIP ? MARGIN_CLIP : v < -MARGIN_CLIP ? -MARGIN_CLIP : v;
}

bool mp_engine_margin(const struct mp_spec *spec, const struct mp_metrics *m, double *margin)
{
    double worst = -INFINITY;
    for (size_t i = 0; i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        bool upper = c->op == MP_CMP_LE || c->op == MP_CMP_LT;
        double v, u;
        if (!mp_metrics_get(m, c->metric, &v) || !isfinite(v)) {
            return false;
        }
        char name[160];
        snprintf(name, sizeof(name), "%s_upper", c->metric);
        if (upper && mp_metrics_get(m, name, &u) && isfinite(u) && u > v) {
            v = u;
        }
        double g;
        if (v > 0 && c->bound > 0) {
            g = clip(upper ? log(v / c->bound) : log(c->bound / v));
        } else {
            g = mp_constraint_holds(c, v) ? -MARGIN_CLIP : MARGIN_CLIP;
        }
        worst = g > worst ? g : worst;
    }
    *margin = worst;
    return spec->n_constraints > 0;
}

static double oriented(const struct mp_spec *spec, double v)
{
    return spec->direction == MP_MAXIMIZE ? v : -v;
}

size_t mp_confirm_candidates(const struct mp_spec *spec, const struct mp_trial_row *rows, size_t n,
                             size_t *idx)
{
    size_t k = 0, top = (size_t)spec->confirm_top;
    for (size_t i = 0; i < n && top > 0; i++) {
        double v;
        if (rows[i].state != MP_TRIAL_SUCCEEDED ||
            !mp_metrics_get(&rows[i].metrics, spec->objective_metric, &v) || !isfinite(v)) {
            continue;
        }
        /* Insertion into the best-first list; a tie keeps the earlier trial first. */
        size_t at = k;
        while (at > 0) {
            double w;
            mp_metrics_get(&rows[idx[at - 1]].metrics, spec->objective_metric, &w);
            if (oriented(spec, v) <= oriented(spec, w)) {
                break;
            }
            at--;
        }
        if (at >= top) {
            continue;
        }
        size_t end = k < top ? k : top - 1;
        memmove(&idx[at + 1], &idx[at], (end - at) * sizeof(*idx));
        idx[at] = i;
        k += k < top;
    }
    return k;
}

/* Welford's update of the running mean and the sum of squared deviations m2 (Knuth, TAOCP
 * vol. 2, 4.2.2): the textbook sum of squares minus the squared sum cancels catastrophically,
 * giving identical measurements of 0.93 a deviation of 1.5e-8 (and more rounds), and overflows
 * for values over 1e154. */
static void add_value(struct mp_confirm_stats *s, double v, double *m2)
{
    s->min = s->n_values ? fmin(s->min, v) : v;
    s->max = s->n_values ? fmax(s->max, v) : v;
    s->n_values++;
    double delta = v - s->mean;
    s->mean += delta / (double)s->n_values;
    *m2 += delta * (v - s->mean);
}

/* mp_confirm_stats_of over the runs of rounds before `before` only. */
static void stats_before(const struct mp_spec *spec, const struct mp_trial_row *t,
                         const struct mp_confirm_row *runs, size_t n_runs, int64_t before,
                         struct mp_confirm_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->number = t->number;
    double m2 = 0, v;
    out->runs = 1;
    out->passes = t->state == MP_TRIAL_SUCCEEDED;
    out->search_value = NAN;
    /* A measurement without a value settled nothing (the store's settled is 1 for it). */
    if (mp_metrics_get(&t->metrics, spec->objective_metric, &v) && isfinite(v)) {
        out->search_value = v;
        out->settled = t->settled;
        add_value(out, v, &m2);
    }
    for (size_t i = 0; i < n_runs; i++) {
        const struct mp_confirm_row *r = &runs[i];
        if (r->trial_number != t->number || r->run >= before || r->failure == MP_FAILURE_INFRA) {
            continue; /* INFRA: our failure, not a measurement of the configuration */
        }
        out->runs++;
        out->passes += r->state == MP_TRIAL_SUCCEEDED;
        if (mp_metrics_get(&r->metrics, spec->objective_metric, &v) && isfinite(v)) {
            out->settled += r->settled;
            add_value(out, v, &m2);
        }
    }
    size_t m = out->n_values;
    out->mean = m ? out->mean : NAN;
    double var = m > 1 ? m2 / (double)(m - 1) : 0;
    out->stddev = m ? sqrt(var > 0 ? var : 0) : NAN;
    out->interval = m < 2              ? INFINITY
                    : out->stddev == 0 ? 0
                    : out->mean == 0
                        ? INFINITY
                        : mp_measure_t975(m - 1) * out->stddev / sqrt((double)m) / fabs(out->mean);
    if (!m) {
        out->min = out->max = NAN;
    }
    /* Repeated measurements are the evidence an unsettled one lacked: every one must pass. */
    out->confirmed = out->runs >= 2 && out->passes == out->runs && m == out->runs;
}

void mp_confirm_stats_of(const struct mp_spec *spec, const struct mp_trial_row *t,
                         const struct mp_confirm_row *runs, size_t n_runs,
                         struct mp_confirm_stats *out)
{
    stats_before(spec, t, runs, n_runs, INT64_MAX, out);
}

long mp_confirm_pick(const struct mp_spec *spec, const struct mp_confirm_stats *s, size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i].confirmed &&
            (best < 0 || oriented(spec, s[i].mean) > oriented(spec, s[best].mean))) {
            best = (long)i;
        }
    }
    return best;
}

long mp_confirm_most_passed(const struct mp_confirm_stats *s, size_t n)
{
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i].runs >= 2 &&
            (best < 0 || s[i].passes * s[best].runs > s[best].passes * s[i].runs)) {
            best = (long)i;
        }
    }
    return best;
}

static bool recorded(const struct mp_confirm_row *rows, size_t n, int64_t number, int64_t run)
{
    for (size_t i = 0; i < n; i++) {
        if (rows[i].trial_number == number && rows[i].run == run) {
            return true;
        }
    }
    return false;
}

size_t mp_confirm_due(const struct mp_spec *spec, const struct mp_trial_row *rows,
                      const size_t *idx, size_t k, const struct mp_confirm_row *runs, size_t n_runs,
                      int64_t *round, size_t *cand)
{
    struct mp_confirm_stats *s = mp_xcalloc(k + 1, sizeof(*s));
    size_t due = 0;
    for (int64_t r = 1; r <= spec->confirm_max_runs; r++) {
        /* Round robin (round 1 of every candidate, then round 2...): a machine whose load drifts
         * over the confirmation then weighs on every candidate alike. */
        bool extra = r > spec->confirm_runs;
        if (extra) {
            for (size_t i = 0; i < k; i++) {
                stats_before(spec, &rows[idx[i]], runs, n_runs, r, &s[i]);
            }
            long w = mp_confirm_pick(spec, s, k);
            if (w < 0 || !(s[w].interval > spec->max_uncertainty)) {
                break;
            }
        }
        for (size_t i = 0; i < k; i++) {
            if ((extra && !s[i].confirmed) || recorded(runs, n_runs, rows[idx[i]].number, r)) {
                continue; /* out of the running (a run failed), or measured */
            }
            if (due++ == 0) {
                *round = r;
                *cand = i;
            }
        }
        if (due > 0 && r >= spec->confirm_runs) {
            break; /* the next round is decided on this one's outcome */
        }
    }
    free(s);
    return due;
}

static char *run_detail(const struct mp_spec *spec, int64_t run, const struct mp_trial_result *res)
{
    json_t *j =
        json_pack("{s:I, s:s}", "run", (json_int_t)run, "state", mp_trial_state_name(res->state));
    if (res->failure != MP_FAILURE_NONE) {
        json_object_set_new(j, "failure", json_string(mp_failure_name(res->failure)));
    }
    double v;
    if (mp_metrics_get(&res->metrics, spec->objective_metric, &v) && isfinite(v)) {
        json_object_set_new(j, "value", json_real(v));
        /* Only a value settles or not, as in a trial's event. */
        json_object_set_new(j, "settled", json_boolean(!res->unsettled));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* One confirmation run of trial t: the runner, retried on our own failures, then judged like a
 * trial and recorded. MP_ECANCELLED when interrupted (nothing recorded). */
static int confirm_run(struct mp_confirm_phase *p, const struct mp_trial_row *t, int64_t run,
                       struct mp_error *err)
{
    double *x = mp_xcalloc(p->spec->space.n + 1, sizeof(double));
    int rc = mp_space_config_from_json(&p->spec->space, t->params_json, x, err);
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    for (int attempt = 0; rc == 0; attempt++) {
        struct mp_trial_request req = {.experiment = p->spec->name,
                                       .experiment_id = p->exp_id,
                                       .number = t->number,
                                       .attempt = CONFIRM_ATTEMPT_BASE + run * 10 + attempt,
                                       .x = x,
                                       .timeout_ms = p->spec->trial_timeout_ms,
                                       .run_id = p->run_id,
                                       .replaced = p->replaced,
                                       .n_replaced = p->n_replaced,
                                       .replaced_swept = p->replaced_swept};
        mp_trial_result_release(&res);
        mp_trial_result_init(&res);
        int run_rc = p->runner->ops->run(p->runner, &req, &res, p->cancel);
        mp_spec_scrub_result(p->spec, &res);
        if (p->cancel && atomic_load(p->cancel)) {
            rc = MP_ECANCELLED;
        } else if (res.run_error && !mp_trial_result_verdict(&res)) {
            rc = mp_error_set(err, MP_ERUNTIME, "confirmation of trial %lld: %s",
                              (long long)t->number, res.run_error);
        } else if (res.run_error) {
            break; /* recorded below, then the run stops */
        } else if (run_rc < 0 && attempt < INFRA_RETRIES) {
            continue;
        } else if (run_rc < 0) {
            mp_trial_result_fail(&res, MP_FAILURE_INFRA, "runner failure: %s", mp_strerror(run_rc));
        }
        break;
    }
    if (rc == 0) {
        mp_spec_evaluate(p->spec, x, &res);
        res.unsettled = mp_engine_unsettled(p->spec, &res.metrics);
        /* The run and its event together (engine.c, record). */
        char *detail = run_detail(p->spec, run, &res);
        const struct mp_store_event ev = {mp_engine_event_name(MP_EVENT_CONFIRM_RUN), detail};
        rc = mp_store_confirm_add_ev(p->st, p->exp_id, t->number, run, &res, &ev, 1, err);
        free(detail);
    }
    if (rc == 0) {
        p->runs_made++;
        p->runs_done++;
        if (p->progress) {
            p->progress(p->progress_ctx, p->spec, t->number, run, &res, p->runs_done,
                        p->runs_total);
        }
    }
    if (rc == 0 && res.run_error) {
        rc = mp_error_set(err, MP_ERUNTIME, "confirmation of trial %lld: %s", (long long)t->number,
                          res.run_error);
    }
    mp_trial_result_release(&res);
    free(x);
    return rc;
}

static json_t *stats_json(const struct mp_confirm_stats *s)
{
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:o, s:b}", "number", (json_int_t)s->number,
        "runs", (json_int_t)s->runs, "passes", (json_int_t)s->passes, "settled",
        (json_int_t)s->settled, "mean", isfinite(s->mean) ? s->mean : 0.0, "stddev",
        isfinite(s->stddev) ? s->stddev : 0.0, "min", isfinite(s->min) ? s->min : 0.0, "max",
        isfinite(s->max) ? s->max : 0.0, "interval",
        isfinite(s->interval) ? json_real(s->interval) : json_null(), "confirmed", s->confirmed);
}

/* Picks the winner from what is recorded and appends confirm_finished. */
static int conclude(struct mp_confirm_phase *p, const struct mp_trial_row *rows, const size_t *idx,
                    size_t k, struct mp_error *err)
{
    struct mp_confirm_row *runs = NULL;
    size_t n_runs = 0;
    int rc = mp_store_confirm_list(p->st, p->exp_id, &runs, &n_runs, err);
    if (rc != 0) {
        return rc;
    }
    struct mp_confirm_stats *s = mp_xcalloc(k + 1, sizeof(*s));
    json_t *cands = json_array();
    for (size_t i = 0; i < k; i++) {
        mp_confirm_stats_of(p->spec, &rows[idx[i]], runs, n_runs, &s[i]);
        json_array_append_new(cands, stats_json(&s[i]));
    }
    long w = mp_confirm_pick(p->spec, s, k);
    long f = w < 0 ? mp_confirm_most_passed(s, k) : -1;
    p->recommended = w >= 0 ? s[w].number : 0;
    p->most_passed = f >= 0 ? s[f].number : 0;
    json_t *j = json_pack("{s:o, s:o, s:o}", "recommended",
                          w >= 0 ? json_integer(p->recommended) : json_null(), "most_passed",
                          f >= 0 ? json_integer(p->most_passed) : json_null(), "candidates", cands);
    char *detail = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    rc = mp_store_event_add(p->st, p->exp_id, 0, mp_engine_event_name(MP_EVENT_CONFIRM_FINISHED),
                            detail, err);
    free(detail);
    free(s);
    mp_confirm_rows_free(runs, n_runs);
    return rc;
}

/* Runs what mp_confirm_due says is due, one run at a time, until nothing is. */
static int run_due(struct mp_confirm_phase *p, const struct mp_trial_row *rows, const size_t *idx,
                   size_t k, struct mp_error *err)
{
    for (;;) {
        struct mp_confirm_row *done = NULL;
        size_t n_done = 0;
        int rc = mp_store_confirm_list(p->st, p->exp_id, &done, &n_done, err);
        if (rc != 0) {
            return rc;
        }
        int64_t round = 0;
        size_t cand = 0;
        size_t due = mp_confirm_due(p->spec, rows, idx, k, done, n_done, &round, &cand);
        p->runs_done = 0;
        for (size_t j = 0; j < n_done; j++) {
            for (size_t i = 0; i < k; i++) {
                p->runs_done += done[j].trial_number == rows[idx[i]].number;
            }
        }
        p->runs_total = p->runs_done + due;
        mp_confirm_rows_free(done, n_done);
        if (due == 0) {
            return 0;
        }
        if (p->cancel && atomic_load(p->cancel)) {
            return MP_ECANCELLED;
        }
        if ((rc = confirm_run(p, &rows[idx[cand]], round, err)) != 0 ||
            (rc = mp_store_experiment_heartbeat(p->st, p->exp_id, err)) != 0) {
            return rc;
        }
    }
}

int mp_engine_confirm_phase(struct mp_confirm_phase *p, struct mp_error *err)
{
    p->runs_made = p->runs_done = p->runs_total = 0;
    p->recommended = p->most_passed = 0;
    if (p->spec->confirm_top <= 0) {
        return 0;
    }
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(p->st, p->exp_id, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    size_t *idx = mp_xcalloc((size_t)p->spec->confirm_top + 1, sizeof(*idx));
    size_t k = mp_confirm_candidates(p->spec, rows, n, idx);
    json_t *nums = json_array();
    for (size_t i = 0; i < k; i++) {
        json_array_append_new(nums, json_integer(rows[idx[i]].number));
    }
    json_t *j =
        json_pack("{s:o, s:I, s:I}", "candidates", nums, "runs", (json_int_t)p->spec->confirm_runs,
                  "max_runs", (json_int_t)p->spec->confirm_max_runs);
    char *detail = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (k > 0) {
        rc = mp_store_event_add(p->st, p->exp_id, 0, mp_engine_event_name(MP_EVENT_CONFIRM_STARTED),
                                detail, err);
    }
    free(detail);
    if (rc == 0 && k > 0) {
        rc = run_due(p, rows, idx, k, err);
    }
    if (rc == 0 && k > 0) {
        rc = conclude(p, rows, idx, k, err);
    }
    free(idx);
    mp_trial_rows_free(rows, n);
    return rc;
}
