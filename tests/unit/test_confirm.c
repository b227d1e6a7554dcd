/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the engine's confirmation step and unsettled trials, with an injected runner
 * whose search figures can be flukes: the confirmed winner, the spread it is recommended with,
 * SLO misses during confirmation, resumption of an interrupted confirmation, and the report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "report/report.h"

/* qps = 100 - (a-7)^2 - (b-3)^2 over a in 1..10, b in 1..5. In the search (attempt < 1000),
 * (a=2, b=1) is a fluke at +50 and (7, 3), the true optimum, reports stable = 0. In
 * confirmation runs (attempt >= 1000, run = (attempt - 1000) / 10), the configurations at
 * qps 99 miss the p99 limit in run 2; a = 10 always misses it. With `noisy`, the optimum's
 * confirmation runs alternate between 110 (odd runs) and 90. With `harsh`, every confirmation
 * run misses the p99 limit but round 1 of (6, 3). With `plain`, (2, 1) is no fluke. With
 * `crashy`, (1, 1) and round 1 of (2, 1) crash before any measurement. With `rival`, (6, 3)
 * measures 99.2 in the search and 99.6 in every confirmation run, always within its SLO, and
 * each measurement reports a qps_uncertainty of 0.2. After `interrupt_after`
 * calls it raises cancel and reports CANCELLED. */
struct fluke_runner {
    struct mp_runner base;
    int calls, confirm_calls;
    int interrupt_after;
    bool noisy, harsh, plain, crashy, rival;
    atomic_bool *cancel;
};

static int fluke_run(struct mp_runner *base, const struct mp_trial_request *req,
                     struct mp_trial_result *res, const atomic_bool *cancel)
{
    struct fluke_runner *r = (struct fluke_runner *)base;
    (void)cancel;
    r->calls++;
    if (r->interrupt_after && r->calls >= r->interrupt_after) {
        atomic_store(r->cancel, true);
        res->state = MP_TRIAL_CANCELLED;
        return 0;
    }
    bool confirming = req->attempt >= 1000;
    r->confirm_calls += confirming;
    double a = req->x[0], b = req->x[1];
    double qps = 100 - (a - 7) * (a - 7) - (b - 3) * (b - 3);
    if (!confirming && !r->plain && a == 2 && b == 1) {
        qps += 50;
    }
    double p99 = a == 10 ? 20 : 5;
    int64_t round = (req->attempt - 1000) / 10;
    if (r->crashy &&
        ((!confirming && a == 1 && b == 1) || (confirming && round == 1 && a == 2 && b == 1))) {
        mp_trial_result_fail(res, MP_FAILURE_CRASHED, "exited before the load");
        return 0;
    }
    if (confirming && qps == 99 && round == 2) {
        p99 = 50;
    }
    if (confirming && r->harsh) {
        p99 = round == 1 && a == 6 && b == 3 ? 5 : 50;
    }
    if (confirming && r->noisy && a == 7 && b == 3) {
        qps += round % 2 ? 10 : -10;
    }
    if (r->rival && a == 6 && b == 3) {
        qps = confirming ? 99.6 : 99.2;
        p99 = 5;
    }
    if (r->rival) {
        mp_metrics_set(&res->metrics, "qps_uncertainty", 0.2);
    }
    mp_metrics_set(&res->metrics, "qps", qps);
    mp_metrics_set(&res->metrics, "p99_ms", p99);
    mp_metrics_set(&res->metrics, "stable", !confirming && a == 7 && b == 3 ? 0 : 1);
    res->state = MP_TRIAL_SUCCEEDED;
    return 0;
}

static const struct mp_runner_ops fluke_ops = {.name = "fluke", .run = fluke_run};

static struct mp_spec *make_spec(const char *confirm)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "name: c\n"
             "parameters:\n"
             "  - {name: a, type: int, min: 1, max: 10}\n"
             "  - {name: b, type: int, min: 1, max: 5}\n"
             "objective: {metric: qps}\n"
             "constraints: [p99_ms <= 10]\n"
             "algorithm: {name: grid, max_trials: 50, seed: 3%s%s}\n"
             "runner: {kind: replay, surface: unused.csv}\n",
             confirm ? ", confirm: " : "", confirm ? confirm : "");
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(text, strlen(text), "c.yaml", NULL, NULL, 0, &spec, &err) != 0) {
        fail_msg("spec: %s", err.msg);
    }
    return spec;
}

static void run(struct mp_store *st, const struct mp_spec *spec, struct fluke_runner *fr,
                atomic_bool *cancel, struct mp_engine_summary *sum)
{
    struct mp_error err = {0};
    fr->base.ops = &fluke_ops;
    fr->base.spec = spec;
    fr->cancel = cancel;
    struct mp_engine_opts o = {.cancel = cancel, .runner = &fr->base};
    if (mp_engine_run(st, spec, &o, sum, &err) != 0) {
        fail_msg("engine: %s", err.msg);
    }
}

static struct mp_store *open_store(void)
{
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    if (mp_store_open(":memory:", NULL, &st, &err) != 0) {
        fail_msg("store: %s", err.msg);
    }
    return st;
}

static json_t *report(struct mp_store *st)
{
    json_t *rep = NULL;
    struct mp_error err = {0};
    if (mp_report_experiment(st, "c", &rep, &err) != 0) {
        fail_msg("report: %s", err.msg);
    }
    return rep;
}

static const json_t *trial(const json_t *rep, int64_t number)
{
    const json_t *trials = json_object_get(rep, "trials");
    for (size_t i = 0; i < json_array_size(trials); i++) {
        const json_t *t = json_array_get(trials, i);
        if (json_integer_value(json_object_get(t, "number")) == number) {
            return t;
        }
    }
    fail_msg("no trial %lld", (long long)number);
    return NULL;
}

static int64_t number_of(const json_t *rep, int a, int b)
{
    const json_t *trials = json_object_get(rep, "trials");
    for (size_t i = 0; i < json_array_size(trials); i++) {
        const json_t *p = json_object_get(json_array_get(trials, i), "params");
        if (json_integer_value(json_object_get(p, "a")) == a &&
            json_integer_value(json_object_get(p, "b")) == b) {
            return json_integer_value(json_object_get(json_array_get(trials, i), "number"));
        }
    }
    fail_msg("no trial at a=%d b=%d", a, b);
    return 0;
}

/* The confirmation's candidate statistics of trial number, from the report. */
static const json_t *candidate(const json_t *rep, int64_t number)
{
    const json_t *c = json_object_get(json_object_get(rep, "confirmation"), "candidates");
    for (size_t i = 0; i < json_array_size(c); i++) {
        if (json_integer_value(json_object_get(json_array_get(c, i), "number")) == number) {
            return json_array_get(c, i);
        }
    }
    return NULL;
}

static void assert_confirmed_optimum(struct mp_store *st, const struct mp_engine_summary *sum)
{
    json_t *rep = report(st);
    int64_t opt = number_of(rep, 7, 3), fluke = number_of(rep, 2, 1);
    assert_int_equal(sum->recommended, opt);
    const json_t *conf = json_object_get(rep, "confirmation");
    assert_string_equal(json_string_value(json_object_get(conf, "state")), "done");
    assert_int_equal(json_integer_value(json_object_get(conf, "recommended")), opt);
    assert_int_equal(json_array_size(json_object_get(conf, "candidates")), 3);
    /* The fluke led the search, measured 71 twice when confirmed: mean (121 + 71 + 71) / 3. */
    const json_t *f = candidate(rep, fluke);
    assert_non_null(f);
    assert_true(fabs(json_number_value(json_object_get(f, "mean")) - 263.0 / 3) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(f, "min")) - 71) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(f, "max")) - 121) < 1e-9);
    assert_true(json_number_value(json_object_get(f, "stddev")) > 28);
    /* A qps-99 candidate missed its SLO in one run: not confirmed. */
    const json_t *c = json_object_get(conf, "candidates");
    const json_t *third = json_array_get(c, 2);
    assert_int_equal(json_integer_value(json_object_get(third, "passes")), 2);
    assert_int_equal(json_integer_value(json_object_get(third, "runs")), 3);
    assert_false(json_is_true(json_object_get(third, "confirmed")));
    /* The recommendation rests on the confirmed figures with their spread. */
    const json_t *best = json_object_get(rep, "best");
    assert_int_equal(json_integer_value(json_object_get(best, "number")), opt);
    const json_t *cb = json_object_get(best, "confirmed");
    assert_int_equal(json_integer_value(json_object_get(cb, "runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(cb, "passes")), 3);
    assert_true(fabs(json_number_value(json_object_get(cb, "mean")) - 100) < 1e-9);
    assert_true(fabs(json_number_value(json_object_get(cb, "stddev"))) < 1e-9);
    char *uncertain = mp_report_uncertain_mean(rep);
    if (uncertain) {
        fail_msg("three measurements of 100: %s", uncertain);
    }
    /* Per trial: the unsettled search measurement, the recommendation mark. */
    assert_true(json_is_false(json_object_get(trial(rep, opt), "settled")));
    assert_true(json_is_true(json_object_get(trial(rep, opt), "recommended")));
    assert_true(json_is_false(json_object_get(trial(rep, fluke), "recommended")));
    assert_true(json_is_true(json_object_get(trial(rep, fluke), "settled")));
    const json_t *slow = trial(rep, number_of(rep, 10, 3));
    assert_true(json_is_false(json_object_get(slow, "feasible")));
    assert_int_equal(json_array_size(json_object_get(slow, "violated")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(slow, "violated"), 0)),
                        "p99_ms <= 10");
    assert_true(json_is_true(json_object_get(trial(rep, opt), "feasible")));
    assert_int_equal(json_array_size(json_object_get(trial(rep, opt), "violated")), 0);
    json_decref(rep);
}

static void confirmation_overturns_a_fluke(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    struct fluke_runner fr = {0};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    assert_int_equal(sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(sum.confirm_runs, 6);
    assert_int_equal(fr.confirm_calls, 6);
    /* Confirmation runs are not trials: the search still made exactly max_trials. */
    assert_int_equal(sum.succeeded + sum.failed, 50);
    assert_int_equal(sum.failed, 5);
    /* The runs of every candidate, not the winner's own (2): the message says so. */
    char want[96];
    snprintf(want, sizeof(want), "; trial %lld confirmed (6 confirmation runs in all)",
             (long long)sum.recommended);
    if (!strstr(sum.stop_reason, want)) {
        fail_msg("stop reason '%s' lacks '%s'", sum.stop_reason, want);
    }
    assert_confirmed_optimum(st, &sum);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* Killed in the middle of its confirmation, an experiment resumes it without re-running the
 * search or the runs already recorded, and ends as an uninterrupted run does. */
static void interrupted_confirmation_resumes(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    atomic_bool cancel = false;
    struct fluke_runner f1 = {.interrupt_after = 50 + 3};
    struct mp_engine_summary sum;
    run(st, spec, &f1, &cancel, &sum);
    assert_int_equal(sum.state, MP_EXPERIMENT_INTERRUPTED);
    assert_non_null(strstr(sum.stop_reason, "interrupted during the confirmation (2 of 6 runs)"));
    struct mp_confirm_row *runs = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_confirm_list(st, sum.experiment_id, &runs, &n, NULL), 0);
    assert_int_equal(n, 2);
    mp_confirm_rows_free(runs, n);
    json_t *rep = report(st);
    const json_t *conf = json_object_get(rep, "confirmation");
    assert_string_equal(json_string_value(json_object_get(conf, "state")), "partial");
    assert_true(json_is_null(json_object_get(conf, "recommended")));
    json_decref(rep);

    atomic_store(&cancel, false);
    struct fluke_runner f2 = {0};
    run(st, spec, &f2, &cancel, &sum);
    assert_true(sum.resumed);
    assert_int_equal(sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(f2.calls, 4);
    assert_int_equal(sum.confirm_runs, 4);
    assert_confirmed_optimum(st, &sum);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* The runner-up after a confirmation: a candidate that missed its SLO in a confirmation run is
 * no "sound choice" (it was offered as one, within noise of the best, on its search figure), and
 * a confirmed one is ranked and shown on its confirmed mean, as the best is (the fluke was the
 * runner-up at 121, over the best's 100, though its measurements average 87.7). */
static void runner_up_rests_on_the_confirmation(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    for (int plain = 0; plain < 2; plain++) {
        struct mp_store *st = open_store();
        struct fluke_runner fr = {.plain = plain};
        struct mp_engine_summary sum;
        run(st, spec, &fr, NULL, &sum);
        json_t *rep = report(st);
        assert_int_equal(sum.recommended, number_of(rep, 7, 3));
        const json_t *ru = json_object_get(rep, "runner_up");
        int64_t number = json_integer_value(json_object_get(ru, "number"));
        double value = json_number_value(json_object_get(ru, "value"));
        const json_t *c = candidate(rep, number);
        if (c && !json_is_true(json_object_get(c, "confirmed"))) {
            fail_msg("plain %d: runner-up %lld failed its confirmation", plain, (long long)number);
        }
        if (c && fabs(value - json_number_value(json_object_get(c, "mean"))) > 1e-9) {
            fail_msg("plain %d: runner-up %lld at %g, its confirmed mean %g", plain,
                     (long long)number, value, json_number_value(json_object_get(c, "mean")));
        }
        /* Never above the best: 99 (a single settled measurement of (7, 2)), within noise. */
        assert_true(fabs(value - 99) < 1e-9);
        assert_true(json_is_true(json_object_get(ru, "within_noise")));
        json_decref(rep);
        mp_store_close(st);
    }
    mp_spec_free(spec);
}

/* When the confirmation measured the best and the runner-up, "within noise" compares their means
 * within the spread of those measurements: the leader's 100, 110, 90, 110, 90 (+-12.4 at 95 %)
 * does not tell a rival's 99.52 from it, which the 0.2 each search measurement reported did. */
static void runner_up_noise_is_the_confirmation_spread(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    struct fluke_runner fr = {.noisy = true, .rival = true};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    json_t *rep = report(st);
    assert_int_equal(sum.recommended, number_of(rep, 7, 3));
    const json_t *ru = json_object_get(rep, "runner_up");
    assert_int_equal(json_integer_value(json_object_get(ru, "number")), number_of(rep, 6, 3));
    double value = json_number_value(json_object_get(ru, "value"));
    double noise = json_number_value(json_object_get(ru, "noise"));
    double want = 2.776 * 10 / sqrt(5); /* the leader's half-width, the larger */
    if (fabs(value - 99.52) > 1e-9 || fabs(noise - want) > 1e-3) {
        fail_msg("runner-up at %.17g +- %.17g, want 99.52 +- %g", value, noise, want);
    }
    assert_true(json_is_true(json_object_get(ru, "within_noise")));
    assert_true(json_is_false(json_object_get(ru, "noise_assumed")));
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* A trial or confirmation run that failed before measuring settled nothing: `settled` is null
 * (it read true, the store's default) and settled_runs counts the measurements with a value. */
static void nothing_measured_is_not_settled(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    struct fluke_runner fr = {.crashy = true};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    json_t *rep = report(st);
    const json_t *crashed = trial(rep, number_of(rep, 1, 1));
    assert_string_equal(json_string_value(json_object_get(crashed, "state")), "FAILED");
    if (!json_is_null(json_object_get(crashed, "settled"))) {
        fail_msg("a trial that measured nothing: settled %s, want null",
                 json_is_true(json_object_get(crashed, "settled")) ? "true" : "false");
    }
    const json_t *f = candidate(rep, number_of(rep, 2, 1));
    assert_non_null(f);
    const json_t *runs = json_object_get(f, "confirm_runs");
    assert_int_equal(json_array_size(runs), 2);
    for (size_t i = 0; i < json_array_size(runs); i++) {
        const json_t *r = json_array_get(runs, i);
        json_int_t n = json_integer_value(json_object_get(r, "run"));
        const json_t *settled = json_object_get(r, "settled");
        if (n == 1 ? !json_is_null(settled) : !json_is_true(settled)) {
            fail_msg("run %lld: settled %s, want %s", (long long)n,
                     json_is_null(settled)   ? "null"
                     : json_is_true(settled) ? "true"
                                             : "false",
                     n == 1 ? "null" : "true");
        }
    }
    assert_int_equal(json_integer_value(json_object_get(f, "runs")), 3);
    assert_int_equal(json_integer_value(json_object_get(f, "settled_runs")), 2);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* The measurements of candidate `number` in the report (the trial and its confirmation runs). */
static json_int_t runs_of(const json_t *rep, int64_t number)
{
    const json_t *c = candidate(rep, number);
    assert_non_null(c);
    return json_integer_value(json_object_get(c, "runs"));
}

/* The leader's figures disagree (100, 110, 90: a 95 % interval of +-25 %): the candidates still
 * confirmed get further rounds up to max_runs, the one that missed its SLO does not; without
 * room for more (max_runs = runs) the confirmation ends after its rounds. */
static void uncertain_leader_gets_more_rounds(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    assert_int_equal(spec->confirm_max_runs, 4);
    struct mp_store *st = open_store();
    struct fluke_runner fr = {.noisy = true};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    assert_int_equal(sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(sum.confirm_runs, 10); /* 3 x 2, then rounds 3 and 4 of two candidates */
    json_t *rep = report(st);
    int64_t opt = number_of(rep, 7, 3), fluke = number_of(rep, 2, 1);
    assert_int_equal(sum.recommended, opt);
    assert_int_equal(runs_of(rep, opt), 5);
    assert_int_equal(runs_of(rep, fluke), 5);
    const json_t *third =
        json_array_get(json_object_get(json_object_get(rep, "confirmation"), "candidates"), 2);
    assert_int_equal(json_integer_value(json_object_get(third, "runs")), 3);
    const json_t *cb = json_object_get(json_object_get(rep, "best"), "confirmed");
    assert_true(fabs(json_number_value(json_object_get(cb, "mean")) - 100) < 1e-9);
    /* 100, 110, 90, 110, 90: sd sqrt(100), t(4) = 2.776 over sqrt(5). */
    double want = 2.776 * 10 / sqrt(5) / 100;
    assert_true(fabs(json_number_value(json_object_get(cb, "interval")) - want) < 1e-6);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);

    spec = make_spec("{top: 3, runs: 2, max_runs: 2}");
    st = open_store();
    struct fluke_runner capped = {.noisy = true};
    run(st, spec, &capped, NULL, &sum);
    assert_int_equal(sum.confirm_runs, 6);
    rep = report(st);
    assert_int_equal(runs_of(rep, number_of(rep, 7, 3)), 3);
    /* 100, 110, 90 is +-24.8 %: export says so as show does, and so do its deploy caveats. */
    char *uncertain = mp_report_uncertain_mean(rep);
    char text[160];
    snprintf(text, sizeof(text),
             "the measurements of trial %lld disagree: the 95 %% interval of its confirmed mean "
             "(+-24.8 %%) is wider than algorithm.confirm.max_uncertainty (+-5.0 %%)",
             (long long)number_of(rep, 7, 3));
    if (!uncertain || strncmp(uncertain, text, strlen(text)) != 0) {
        fail_msg("got '%s', want '%s...'", uncertain ? uncertain : "(none)", text);
    }
    json_t *caveats = mp_report_caveats(rep);
    assert_int_equal(json_array_size(caveats), 1);
    assert_string_equal(json_string_value(json_array_get(caveats, 0)), uncertain);
    json_decref(caveats);
    free(uncertain);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* Interrupted inside a further round, the confirmation resumes with the same decisions. */
static void interrupted_extra_round_resumes(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    atomic_bool cancel = false;
    struct fluke_runner f1 = {.noisy = true, .interrupt_after = 50 + 8};
    struct mp_engine_summary sum;
    run(st, spec, &f1, &cancel, &sum);
    assert_int_equal(sum.state, MP_EXPERIMENT_INTERRUPTED);
    assert_non_null(strstr(sum.stop_reason, "(7 of 8 runs)"));
    json_t *rep = report(st);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rep, "confirmation"), "state")),
        "partial");
    json_decref(rep);
    atomic_store(&cancel, false);
    struct fluke_runner f2 = {.noisy = true};
    run(st, spec, &f2, &cancel, &sum);
    assert_int_equal(sum.state, MP_EXPERIMENT_SUCCEEDED);
    assert_int_equal(f2.calls, 3);
    rep = report(st);
    assert_int_equal(runs_of(rep, number_of(rep, 7, 3)), 5);
    assert_int_equal(runs_of(rep, number_of(rep, 2, 1)), 5);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* When no candidate passes every measurement, the recommendation is the candidate that passed the
 * largest share of them, not the search's best: that one (the fluke) missed the SLO in every
 * confirmation run, and it was recommended all the same. The operator gets it from the summary. */
static void unconfirmed_recommends_the_most_passed(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 3, runs: 2}");
    struct mp_store *st = open_store();
    struct fluke_runner fr = {.harsh = true};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    json_t *rep = report(st);
    int64_t fluke = number_of(rep, 2, 1), pick = number_of(rep, 6, 3);
    const json_t *conf = json_object_get(rep, "confirmation");
    if (!candidate(rep, pick) || !candidate(rep, fluke)) {
        fail_msg("candidates: %s", json_dumps(json_object_get(conf, "candidates"), 0));
    }
    assert_int_equal(sum.recommended, 0);
    assert_int_equal(sum.most_passed, pick);
    assert_true(json_is_null(json_object_get(conf, "recommended")));
    assert_int_equal(json_integer_value(json_object_get(conf, "most_passed")), pick);
    const json_t *best = json_object_get(rep, "best");
    assert_int_equal(json_integer_value(json_object_get(best, "number")), pick);
    assert_true(json_is_null(json_object_get(best, "confirmed")));
    assert_true(json_is_true(json_object_get(trial(rep, pick), "recommended")));
    assert_true(json_is_false(json_object_get(trial(rep, fluke), "recommended")));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    mp_report_print_recommendation(f, rep);
    fclose(f);
    assert_non_null(strstr(text, "this one met them in 2 of 3, the largest share."));
    free(text);
    /* What export --format deploy|k8s says of it on stderr. */
    json_t *caveats = mp_report_caveats(rep);
    assert_int_equal(json_array_size(caveats), 1);
    assert_non_null(strstr(json_string_value(json_array_get(caveats, 0)), "is not confirmed"));
    json_decref(caveats);
    /* A candidate that missed a constraint when measured again is on no trade-off front (the
     * fluke's search figures made it the whole front of qps vs p99): the front is of trials
     * nothing disproved. */
    json_t *front = mp_report_pareto(rep, "qps", true, "p99_ms", false);
    assert_true(json_array_size(front) > 0);
    for (size_t i = 0; i < json_array_size(front); i++) {
        json_int_t n = json_integer_value(json_array_get(front, i));
        const json_t *c = candidate(rep, n);
        if (c && json_integer_value(json_object_get(c, "passes")) <
                     json_integer_value(json_object_get(c, "runs"))) {
            fail_msg("trial %lld is on the front: %s", (long long)n,
                     json_dumps(json_object_get(conf, "candidates"), 0));
        }
    }
    assert_true(mp_report_disproved(rep, fluke) && mp_report_disproved(rep, pick));
    json_decref(front);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* Without a confirmation, an unsettled measurement is never the recommendation on its own: the
 * best settled trial is, and the unsettled one is marked. */
static void unsettled_trial_is_not_the_winner(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("false");
    assert_int_equal(spec->confirm_top, 0);
    struct mp_store *st = open_store();
    struct fluke_runner fr = {0};
    struct mp_engine_summary sum;
    run(st, spec, &fr, NULL, &sum);
    assert_int_equal(fr.confirm_calls, 0);
    assert_int_equal(sum.recommended, 0);
    json_t *rep = report(st);
    int64_t opt = number_of(rep, 7, 3), fluke = number_of(rep, 2, 1);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rep, "confirmation"), "state")), "off");
    const json_t *best = json_object_get(rep, "best");
    assert_int_equal(json_integer_value(json_object_get(best, "number")), fluke);
    assert_true(json_is_null(json_object_get(best, "confirmed")));
    assert_true(json_is_false(json_object_get(trial(rep, opt), "settled")));
    assert_true(json_is_false(json_object_get(trial(rep, opt), "recommended")));
    /* new_best events never name the unsettled trial. */
    struct mp_event_row *ev = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_event_list(st, sum.experiment_id, 0, 1000, &ev, &n, NULL), 0);
    for (size_t i = 0; i < n; i++) {
        assert_false(strcmp(ev[i].kind, "new_best") == 0 && ev[i].trial_number == opt);
    }
    mp_event_rows_free(ev, n);
    json_decref(rep);
    mp_store_close(st);
    mp_spec_free(spec);
}

/* The rule for an unsettled measurement. */
static void unsettled_rule(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("false");
    struct mp_metrics m = MP_METRICS_INIT;
    mp_metrics_set(&m, "stable", 1);
    mp_metrics_set(&m, "throughput_rps", 1000);
    mp_metrics_set(&m, "throughput_rps_uncertainty", 20);
    assert_false(mp_engine_unsettled(spec, &m));
    mp_metrics_set(&m, "throughput_rps_uncertainty", 80);
    assert_true(mp_engine_unsettled(spec, &m));
    mp_metrics_set(&m, "throughput_rps_uncertainty", 20);
    mp_metrics_set(&m, "stable", 0);
    assert_true(mp_engine_unsettled(spec, &m));
    mp_metrics_set(&m, "pruned", 1);
    assert_false(mp_engine_unsettled(spec, &m));
    mp_metrics_release(&m);
    /* An objective of 0 with an uncertainty has an unbounded relative one: 0 +- 50 settled (and
     * was recommended over -1 +- 0.01) while -100 +- 200 did not. 0 +- 0 is exact. */
    mp_metrics_set(&m, "qps", 0);
    mp_metrics_set(&m, "qps_uncertainty", 50);
    assert_true(mp_engine_unsettled(spec, &m));
    mp_metrics_set(&m, "qps_uncertainty", 0);
    assert_false(mp_engine_unsettled(spec, &m));
    mp_metrics_release(&m);
    mp_spec_free(spec);
}

/* The candidate's figures over measurements of equal, then of huge, values: the spread is that
 * of the values, with no rounding residue (identical figures of 0.93 had a deviation of 1.5e-8,
 * enough to call for another round under a small max_uncertainty) and no overflow (values of
 * 1e160 had a deviation of 0). */
static void stats_are_exact(void **state)
{
    (void)state;
    struct mp_spec *spec = make_spec("{top: 1, runs: 2, max_uncertainty: 1e-9}");
    const double sets[][3] = {{0.93, 0.93, 0.93}, {1e160 - 1e150, 1e160, 1e160 + 1e150}};
    const double want_sd[] = {0, 1e150};
    for (size_t k = 0; k < 2; k++) {
        struct mp_trial_row t = {
            .number = 4, .state = MP_TRIAL_SUCCEEDED, .settled = true, .metrics = MP_METRICS_INIT};
        struct mp_confirm_row runs[2] = {0};
        mp_metrics_set(&t.metrics, "qps", sets[k][0]);
        for (size_t i = 0; i < 2; i++) {
            runs[i] = (struct mp_confirm_row){.trial_number = 4,
                                              .run = (int64_t)i + 1,
                                              .state = MP_TRIAL_SUCCEEDED,
                                              .settled = true,
                                              .metrics = MP_METRICS_INIT};
            mp_metrics_set(&runs[i].metrics, "qps", sets[k][i + 1]);
        }
        struct mp_confirm_stats s;
        mp_confirm_stats_of(spec, &t, runs, 2, &s);
        assert_int_equal(s.n_values, 3);
        assert_true(s.confirmed);
        if (fabs(s.mean - sets[k][1]) > 1e-12 * fabs(sets[k][1]) ||
            fabs(s.stddev - want_sd[k]) > 1e-5 * want_sd[k]) {
            fail_msg("set %zu: mean %.17g (want %.17g), stddev %.17g (want %.17g)", k, s.mean,
                     sets[k][1], s.stddev, want_sd[k]);
        }
        if (k == 0 && s.interval != 0) {
            fail_msg("equal values: interval %.17g, want 0", s.interval);
        }
        mp_metrics_release(&t.metrics);
        mp_metrics_release(&runs[0].metrics);
        mp_metrics_release(&runs[1].metrics);
    }
    mp_spec_free(spec);
}

static void spec_errors_name_the_field(void **state)
{
    (void)state;
    const char *bad[] = {"{top: -1}", "{runs: 0}", "{max_uncertainty: 2}", "{runs: 3, max_runs: 2}",
                         "{tops: 3}", "maybe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "name: c\nparameters: [{name: a, type: int, min: 1, max: 3}]\n"
                 "objective: {metric: qps}\nalgorithm: {name: grid, confirm: %s}\n"
                 "runner: {kind: replay, surface: x.csv}\n",
                 bad[i]);
        struct mp_spec *spec = NULL;
        struct mp_error err = {0};
        assert_int_equal(mp_spec_parse(text, strlen(text), "c.yaml", NULL, NULL, 0, &spec, &err),
                         MP_EINVALID);
        if (!strstr(err.msg, "c.yaml:4:")) {
            fail_msg("'%s': %s", bad[i], err.msg);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(confirmation_overturns_a_fluke),
        cmocka_unit_test(interrupted_confirmation_resumes),
        cmocka_unit_test(uncertain_leader_gets_more_rounds),
        cmocka_unit_test(runner_up_rests_on_the_confirmation),
        cmocka_unit_test(nothing_measured_is_not_settled),
        cmocka_unit_test(runner_up_noise_is_the_confirmation_spread),
        cmocka_unit_test(interrupted_extra_round_resumes),
        cmocka_unit_test(unsettled_trial_is_not_the_winner),
        cmocka_unit_test(unconfirmed_recommends_the_most_passed),
        cmocka_unit_test(unsettled_rule),
        cmocka_unit_test(stats_are_exact),
        cmocka_unit_test(spec_errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
