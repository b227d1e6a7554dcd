/* SPDX-License-Identifier: Apache-2.0 */
/* Human renderings of reports: summary, trial table, recommendation, list, CSV. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Canonical text of a JSON parameter value or metric. */
static const char *value_text(const json_t *v, char *buf)
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_number(v)) {
        return mp_fmt_double(buf, json_number_value(v));
    }
    return "-";
}

/* mp_terminal_text right-aligned in width terminal columns. */
static void put_right(FILE *f, const char *s, int width)
{
    for (size_t len = mp_terminal_text(NULL, s, false); (size_t)width > len; width--) {
        fputc(' ', f);
    }
    mp_terminal_text(f, s, false);
}

/* Display text of a metric: 6 significant digits are enough to read, the JSON keeps all. */
static const char *metric_text(const json_t *v, char *buf)
{
    if (!json_is_number(v)) {
        return "-";
    }
    snprintf(buf, MP_FMT_DOUBLE_MAX, "%.6g", json_number_value(v));
    return buf;
}

/* Whether the experiment may have a run in progress (an INTERRUPTED one has none: its trials
 * left RUNNING run again when it continues). */
static bool experiment_live(const json_t *r)
{
    const char *state = json_string_value(json_object_get(r, "state"));
    return !state || strcmp(state, "RUNNING") == 0 || strcmp(state, "CREATED") == 0;
}

/* Whether the experiment's best is its recommendation: only a finished search recommends; a run
 * that failed, was cancelled or interrupted, or still runs has a best so far. */
static bool recommends(const json_t *r)
{
    const char *state = json_string_value(json_object_get(r, "state"));
    return !state || strcmp(state, "SUCCEEDED") == 0;
}

void mp_report_print_summary(FILE *f, const json_t *r)
{
    const json_t *obj = json_object_get(r, "objective");
    const json_t *c = json_object_get(r, "counts");
    fprintf(f, "experiment %s (id %lld): %s", json_string_value(json_object_get(r, "name")),
            (long long)json_integer_value(json_object_get(r, "id")),
            json_string_value(json_object_get(r, "state")));
    const char *reason = json_string_value(json_object_get(r, "stop_reason"));
    fputs(reason && *reason ? ": " : "", f);
    mp_terminal_text(f, reason ? reason : "", true);
    fputc('\n', f);
    fprintf(f, "objective: %s %s", json_string_value(json_object_get(obj, "direction")),
            json_string_value(json_object_get(obj, "metric")));
    const json_t *cons = json_object_get(r, "constraints");
    for (size_t i = 0; i < json_array_size(cons); i++) {
        fputs(i ? ", " : "; subject to ", f);
        mp_terminal_text(f, json_string_value(json_array_get(cons, i)), false);
    }
    fprintf(f,
            "\nalgorithm %s, runner %s, seed %lld: %lld of %lld trials (%lld succeeded, %lld "
            "failed",
            json_string_value(json_object_get(r, "algorithm")),
            json_string_value(json_object_get(r, "runner")),
            (long long)json_integer_value(json_object_get(r, "seed")),
            (long long)json_integer_value(json_object_get(c, "total")),
            (long long)json_integer_value(json_object_get(r, "max_trials")),
            (long long)json_integer_value(json_object_get(c, "succeeded")),
            (long long)json_integer_value(json_object_get(c, "failed")));
    const char *key;
    const json_t *v;
    size_t i = 0;
    json_object_foreach ((json_t *)json_object_get(c, "failures"), key, v) {
        fprintf(f, "%s%lld %s", i++ ? ", " : ": ", (long long)json_integer_value(v), key);
    }
    /* The rest of the total, so that the counts add up: a stopped run's trials in flight are
     * not running, they run again when the experiment continues. */
    long long cancelled = json_integer_value(json_object_get(c, "cancelled"));
    long long running = json_integer_value(json_object_get(c, "running"));
    long long pending = json_integer_value(json_object_get(c, "pending"));
    const char *sep = "; ";
    if (cancelled > 0) {
        fprintf(f, "%s%lld cancelled", sep, cancelled);
        sep = ", ";
    }
    if (running > 0) {
        fprintf(f, "%s%lld %s", sep, running,
                experiment_live(r) ? "running" : "interrupted, to run again");
        sep = ", ";
    }
    if (pending > 0) {
        fprintf(f, "%s%lld pending", sep, pending);
    }
    fprintf(f, ")\n");
}

/* The confirmation: each candidate's figures over all its measurements. */
static void print_confirmation(FILE *f, const json_t *r)
{
    const json_t *c = json_object_get(r, "confirmation");
    const json_t *cands = json_object_get(c, "candidates");
    if (json_array_size(cands) == 0) {
        return;
    }
    long long runs = json_integer_value(json_object_get(c, "runs"));
    long long max_runs = json_integer_value(json_object_get(c, "max_runs"));
    const char *state = json_string_value(json_object_get(c, "state"));
    /* Pending or partial: the runs are still to be made (the table has those made). */
    const char *measured = state && strcmp(state, "done") == 0 ? "measured" : "to be measured";
    fprintf(f, "Confirmation (%s): the best ", state ? state : "");
    if (json_array_size(cands) == 1) {
        fprintf(f, "trial %s ", measured);
    } else {
        fprintf(f, "%zu trials %s ", json_array_size(cands), measured);
    }
    if (runs == 1) {
        fprintf(f, "once more");
    } else {
        fprintf(f, "%lld more times", runs);
    }
    if (json_array_size(cands) > 1) {
        fprintf(f, " each");
    }
    if (max_runs > runs) {
        fprintf(f, " (up to %lld while the leader's 95 %% interval is wider than +-%.1f %%)",
                max_runs, 100 * json_number_value(json_object_get(c, "max_uncertainty")));
    }
    fprintf(f, "\n");
    fprintf(f, "  %5s  %12s  %12s  %10s  %12s  %12s  %6s  %s\n", "trial", "search", "mean",
            "stddev", "min", "max", "passed", "");
    for (size_t i = 0; i < json_array_size(cands); i++) {
        const json_t *k = json_array_get(cands, i);
        char b[6][MP_FMT_DOUBLE_MAX];
        char passed[32];
        snprintf(passed, sizeof(passed), "%lld/%lld",
                 (long long)json_integer_value(json_object_get(k, "passes")),
                 (long long)json_integer_value(json_object_get(k, "runs")));
        fprintf(f, "  %5lld  %12s  %12s  %10s  %12s  %12s  %6s  %s\n",
                (long long)json_integer_value(json_object_get(k, "number")),
                metric_text(json_object_get(k, "search_value"), b[0]),
                metric_text(json_object_get(k, "mean"), b[1]),
                metric_text(json_object_get(k, "stddev"), b[2]),
                metric_text(json_object_get(k, "min"), b[3]),
                metric_text(json_object_get(k, "max"), b[4]), passed,
                json_is_true(json_object_get(k, "confirmed")) ? "confirmed" : "not confirmed");
    }
}

/* The objective column: infeasible values in parentheses (they do not count), unsettled ones
 * followed by '~', the recommended trial's by '*'. */
static const char *objective_text(const json_t *tr, const char *metric, char *buf)
{
    char num[MP_FMT_DOUBLE_MAX];
    const char *v = metric_text(json_object_get(json_object_get(tr, "metrics"), metric), num);
    bool feasible = json_is_true(json_object_get(tr, "feasible"));
    snprintf(buf, MP_FMT_DOUBLE_MAX + 8, feasible || strcmp(v, "-") == 0 ? "%s%s%s" : "(%s)%s%s", v,
             json_is_false(json_object_get(tr, "settled")) ? "~" : "",
             json_is_true(json_object_get(tr, "recommended")) ? "*" : "");
    return buf;
}

static void print_note(FILE *f, const json_t *tr, const json_t *r)
{
    bool live = experiment_live(r);
    const char *reason = json_string_value(json_object_get(tr, "reason"));
    const char *failure = json_string_value(json_object_get(tr, "failure"));
    const json_t *violated = json_object_get(tr, "violated");
    const char *sep = "  "; /* before the next part of the note */
    if (json_is_true(json_object_get(tr, "recommended"))) {
        fprintf(f, "%s%s", sep, recommends(r) ? "recommended" : "best so far");
        sep = "; ";
    }
    if (json_is_false(json_object_get(tr, "settled"))) {
        fprintf(f, "%sunsettled measurement", sep);
        sep = "; ";
    }
    /* An SLO miss's reason names the constraint already; other failures may break one too. */
    if (json_array_size(violated) > 0 && !(failure && strcmp(failure, "SLO_VIOLATED") == 0)) {
        fprintf(f, "%sviolates", sep);
        for (size_t i = 0; i < json_array_size(violated); i++) {
            fputs(i ? ", " : " ", f);
            mp_terminal_text(f, json_string_value(json_array_get(violated, i)), false);
        }
        sep = "; ";
    }
    const char *state = json_string_value(json_object_get(tr, "state"));
    if (!live && state && strcmp(state, "RUNNING") == 0) {
        fprintf(f, "%sinterrupted; runs again when the experiment continues", sep);
        sep = "; ";
    }
    if (failure || reason) {
        fprintf(f, "%s%s%s", sep, failure ? failure : "", failure && reason ? ": " : "");
        mp_terminal_text(f, reason ? reason : "", true);
    }
    fprintf(f, "\n");
}

/* The width of each parameter's column: its name's or its longest value's. Owned. */
static int *param_widths(const json_t *params, const json_t *trials)
{
    int *w = mp_xcalloc(json_array_size(params) + 1, sizeof(*w));
    for (size_t i = 0; i < json_array_size(params); i++) {
        const char *name = json_string_value(json_array_get(params, i));
        w[i] = (int)mp_terminal_text(NULL, name, false);
        for (size_t t = 0; t < json_array_size(trials); t++) {
            char buf[MP_FMT_DOUBLE_MAX];
            const json_t *v =
                json_object_get(json_object_get(json_array_get(trials, t), "params"), name);
            int len = (int)mp_terminal_text(NULL, value_text(v, buf), false);
            w[i] = len > w[i] ? len : w[i];
        }
    }
    return w;
}

void mp_report_print_trials(FILE *f, const json_t *r)
{
    const json_t *params = json_object_get(r, "parameters");
    const json_t *trials = json_object_get(r, "trials");
    const char *metric =
        json_string_value(json_object_get(json_object_get(r, "objective"), "metric"));
    int *width = param_widths(params, trials);
    fprintf(f, "%5s  %-10s %14s", "trial", "state", "objective");
    for (size_t i = 0; i < json_array_size(params); i++) {
        fputs("  ", f);
        put_right(f, json_string_value(json_array_get(params, i)), width[i]);
    }
    fprintf(f, "  note\n");
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const json_t *tr = json_array_get(trials, t);
        char buf[MP_FMT_DOUBLE_MAX], obj[MP_FMT_DOUBLE_MAX + 8];
        fprintf(f, "%5lld  %-10s %14s",
                (long long)json_integer_value(json_object_get(tr, "number")),
                json_string_value(json_object_get(tr, "state")), objective_text(tr, metric, obj));
        const json_t *p = json_object_get(tr, "params");
        for (size_t i = 0; i < json_array_size(params); i++) {
            const char *name = json_string_value(json_array_get(params, i));
            fputs("  ", f);
            put_right(f, value_text(json_object_get(p, name), buf), width[i]);
        }
        print_note(f, tr, r);
    }
    free(width);
    fprintf(f, "(value): infeasible, not a candidate; ~: the measurement did not settle; *: %s\n",
            recommends(r) ? "recommended" : "best so far");
    print_confirmation(f, r);
}

static void print_pareto(FILE *f, const json_t *r)
{
    const json_t *front = json_object_get(r, "pareto_front");
    const json_t *objs = json_object_get(r, "objectives");
    if (!json_is_array(front)) {
        return;
    }
    fprintf(f, "Pareto front (%zu trial%s no other trial beats on every objective):\n  %5s",
            json_array_size(front), json_array_size(front) == 1 ? "" : "s", "trial");
    for (size_t k = 0; k < json_array_size(objs); k++) {
        const json_t *o = json_array_get(objs, k);
        fprintf(f, "  %s (%s)", json_string_value(json_object_get(o, "metric")),
                json_string_value(json_object_get(o, "direction")));
    }
    fprintf(f, "\n");
    for (size_t i = 0; i < json_array_size(front); i++) {
        const json_t *p = json_array_get(front, i);
        fprintf(f, "  %5lld", (long long)json_integer_value(json_object_get(p, "number")));
        for (size_t k = 0; k < json_array_size(objs); k++) {
            const char *m = json_string_value(json_object_get(json_array_get(objs, k), "metric"));
            char buf[MP_FMT_DOUBLE_MAX];
            fprintf(f, "  %*s", (int)strlen(m) + 11,
                    metric_text(json_object_get(json_object_get(p, "values"), m), buf));
        }
        fprintf(f, "\n");
    }
}

static void print_runner_up(FILE *f, const json_t *r, const char *metric)
{
    const json_t *ru = json_object_get(r, "runner_up");
    if (!json_is_true(json_object_get(ru, "within_noise"))) {
        return;
    }
    char b1[MP_FMT_DOUBLE_MAX], b2[MP_FMT_DOUBLE_MAX];
    fprintf(f,
            "Runner-up: trial %lld (%s = %s) is within measurement noise (+-%s%s) of the best; "
            "either is a sound choice.\n",
            (long long)json_integer_value(json_object_get(ru, "number")), metric,
            metric_text(json_object_get(ru, "value"), b1),
            metric_text(json_object_get(ru, "noise"), b2),
            json_is_true(json_object_get(ru, "noise_assumed"))
                ? ", the 5 % assumed of a trial that measured no uncertainty of its own"
                : "");
}

static void print_capacity_plan(FILE *f, const json_t *r)
{
    const json_t *plan = json_object_get(r, "capacity_plan");
    if (!json_is_object(plan)) {
        return;
    }
    char b1[MP_FMT_DOUBLE_MAX], b2[MP_FMT_DOUBLE_MAX], b3[MP_FMT_DOUBLE_MAX];
    long long replicas = (long long)json_integer_value(json_object_get(plan, "replicas"));
    fprintf(f, "Capacity plan: %s req/s with %.0f %% headroom needs %lld replica%s of %s req/s",
            metric_text(json_object_get(plan, "target_rps"), b1),
            100 * json_number_value(json_object_get(plan, "headroom")), replicas,
            replicas == 1 ? "" : "s", metric_text(json_object_get(plan, "replica_rps"), b2));
    const json_t *cost = json_object_get(plan, "cost_per_hour");
    if (json_is_number(cost)) {
        fprintf(f, ", costing %s $/h", metric_text(cost, b3)); /* cost_per_hour's unit */
    }
    fprintf(f, ".\n");
}

/* Why the recommendation is not confirmed, and which trial it is then. */
static void print_unconfirmed(FILE *f, const json_t *r, const json_t *best)
{
    const json_t *conf = json_object_get(r, "confirmation");
    json_int_t number = json_integer_value(json_object_get(best, "number"));
    const char *state = json_string_value(json_object_get(conf, "state"));
    if (state && strcmp(state, "stopped") == 0) {
        fprintf(f, "Not confirmed: the experiment ended before its confirmation; this is the "
                   "search's best.\n");
        return;
    }
    /* Runs missing (an interrupted run, a search still going): nothing to blame the candidates
     * for yet. */
    if (state && strcmp(state, "pending") == 0) {
        fprintf(f, "Not confirmed: the confirmation has not run yet (it follows the search); "
                   "this is the search's best.\n");
        return;
    }
    if (state && strcmp(state, "partial") == 0) {
        fprintf(f, "Not confirmed: the confirmation has not finished (it continues when the "
                   "experiment does); this is the search's best.\n");
        return;
    }
    if (json_integer_value(json_object_get(conf, "most_passed")) != number) {
        fprintf(f, "Not confirmed: no candidate met every constraint in all its measurements; "
                   "this is the search's best.\n");
        return;
    }
    const json_t *cands = json_object_get(conf, "candidates");
    for (size_t i = 0; i < json_array_size(cands); i++) {
        const json_t *c = json_array_get(cands, i);
        if (json_integer_value(json_object_get(c, "number")) == number) {
            fprintf(f,
                    "Not confirmed: no candidate met every constraint in all its measurements; "
                    "this one met them in %lld of %lld, the largest share.\n",
                    (long long)json_integer_value(json_object_get(c, "passes")),
                    (long long)json_integer_value(json_object_get(c, "runs")));
        }
    }
}

/* Why there is no best: none met the objective and constraints, every one failed (no
 * constraint was the cause: a wrong port fails them all), none has finished yet (a run
 * interrupted before its first trial ended), or the search ended with none run (every
 * configuration priced out by a limit on cost_per_hour: the stop reason says so). */
static void print_no_recommendation(FILE *f, const json_t *r)
{
    const json_t *c = json_object_get(r, "counts");
    json_int_t succeeded = json_integer_value(json_object_get(c, "succeeded"));
    json_int_t failed = json_integer_value(json_object_get(c, "failed"));
    const char *state = json_string_value(json_object_get(r, "state"));
    bool ended = state && (strcmp(state, "SUCCEEDED") == 0 || strcmp(state, "FAILED") == 0);
    fprintf(f, "No recommendation%s\n",
            succeeded > 0 ? ": no trial met the objective and constraints."
            : failed > 0  ? ": every trial failed; 'morphling show' gives each one's reason."
            : ended       ? ": the search ended before any trial ran."
                          : " yet: no trial has finished.");
}

static void print_best_heading(FILE *f, const json_t *r, const json_t *best)
{
    long long number = (long long)json_integer_value(json_object_get(best, "number"));
    if (recommends(r)) {
        fprintf(f, "Recommended configuration (trial %lld):\n", number);
    } else {
        fprintf(f, "Best configuration so far (trial %lld; the search is unfinished: %s):\n",
                number, json_string_value(json_object_get(r, "state")));
    }
}

/* The confirmed figures of the recommendation (best.confirmed: conf). */
static void print_confirmed(FILE *f, const json_t *r, const json_t *conf, const char *metric)
{
    const json_t *obj = json_object_get(r, "objective");
    char b[4][MP_FMT_DOUBLE_MAX];
    char interval[48] = "";
    const json_t *iv = json_object_get(conf, "interval");
    if (json_is_number(iv)) {
        snprintf(interval, sizeof(interval), "; 95 %% interval of the mean +-%.1f %%",
                 100 * json_number_value(iv));
    }
    fprintf(f,
            "Confirmed over %lld measurements (%lld met every constraint):\n  %-26s %s +- "
            "%s (min %s, max %s%s)   (objective, %s, mean +- standard deviation)\n",
            (long long)json_integer_value(json_object_get(conf, "runs")),
            (long long)json_integer_value(json_object_get(conf, "passes")), metric,
            metric_text(json_object_get(conf, "mean"), b[0]),
            metric_text(json_object_get(conf, "stddev"), b[1]),
            metric_text(json_object_get(conf, "min"), b[2]),
            metric_text(json_object_get(conf, "max"), b[3]), interval,
            json_string_value(json_object_get(obj, "direction")));
    /* The confirmation measures until the interval is within max_uncertainty or max_runs
     * runs are made: in the second case the figures still disagree, which the interval alone
     * did not say. */
    const json_t *limit = json_object_get(json_object_get(r, "confirmation"), "max_uncertainty");
    if (json_is_number(iv) && json_is_number(limit) &&
        json_number_value(iv) > json_number_value(limit)) {
        fprintf(f,
                "Warning: the measurements disagree: the 95 %% interval of the mean is wider "
                "than algorithm.confirm.max_uncertainty (+-%.1f %%) after the most runs "
                "allowed; the mean is uncertain.\n",
                100 * json_number_value(limit));
    }
}

void mp_report_print_recommendation(FILE *f, const json_t *r)
{
    const json_t *best = json_object_get(r, "best");
    const json_t *obj = json_object_get(r, "objective");
    if (!json_is_object(best)) {
        print_no_recommendation(f, r);
        return;
    }
    char buf[MP_FMT_DOUBLE_MAX];
    print_best_heading(f, r, best);
    const char *key;
    const json_t *v;
    json_object_foreach ((json_t *)json_object_get(best, "params"), key, v) {
        fputs("  ", f);
        size_t len = mp_terminal_text(f, key, false);
        fprintf(f, "%*s ", len < 26 ? (int)(26 - len) : 0, "");
        mp_terminal_text(f, value_text(v, buf), false);
        fputc('\n', f);
    }
    const char *metric = json_string_value(json_object_get(obj, "metric"));
    const json_t *conf = json_object_get(best, "confirmed");
    if (json_is_object(conf)) {
        print_confirmed(f, r, conf, metric);
    } else if (json_is_object(json_object_get(r, "confirmation")) &&
               strcmp(
                   json_string_value(json_object_get(json_object_get(r, "confirmation"), "state")),
                   "off") != 0) {
        print_unconfirmed(f, r, best);
    }
    /* The search's measurement of the trial, below; confirmed figures above do not rest on it. */
    if (json_is_false(json_object_get(best, "settled"))) {
        fprintf(f, json_is_object(conf) ? "Note: the search's measurement below did not settle; "
                                          "the confirmed figures above do not depend on it.\n"
                                        : "Warning: the search's measurement below did not "
                                          "settle; its figures are uncertain.\n");
    }
    fprintf(f, "Measured in the search (trial %lld):\n  %-26s %s   (objective, %s)\n",
            (long long)json_integer_value(json_object_get(best, "number")), metric,
            metric_text(json_object_get(best, "search_value"), buf),
            json_string_value(json_object_get(obj, "direction")));
    /* The figures people act on; `show --json` has every metric. */
    static const char *const shown[] = {"throughput_rps",
                                        "items_per_s",
                                        "capacity_rps",
                                        "p50_ms",
                                        "p99_ms",
                                        "error_rate",
                                        "cost_per_hour",
                                        "throughput_per_cost",
                                        "cost_per_million_requests"};
    const json_t *metrics = json_object_get(best, "metrics");
    for (size_t i = 0; i < MP_ARRAY_LEN(shown); i++) {
        const json_t *m = json_object_get(metrics, shown[i]);
        if (m && strcmp(shown[i], metric) != 0) {
            fprintf(f, "  %-26s %s\n", shown[i], metric_text(m, buf));
        }
    }
    print_runner_up(f, r, metric);
    print_capacity_plan(f, r);
    print_pareto(f, r);
}

/* The trials column of list's row: done over max_trials. One in flight when the run stopped is
 * not done (it runs again). */
static void list_trials(const json_t *e, char *buf, size_t size)
{
    const json_t *c = json_object_get(e, "counts");
    const json_t *max = json_object_get(e, "max_trials");
    long long done = json_integer_value(json_object_get(c, "total")) -
                     json_integer_value(json_object_get(c, "running")) -
                     json_integer_value(json_object_get(c, "pending"));
    /* An unreadable spec's budget is unknown; its trials are not. */
    if (json_is_integer(max)) {
        snprintf(buf, size, "%lld/%lld", done, (long long)json_integer_value(max));
    } else {
        snprintf(buf, size, "%lld/-", done);
    }
}

void mp_report_print_list(FILE *f, const json_t *list)
{
    /* Columns as wide as their widest entry: a name of up to 63 characters, or "768/2000" trials,
     * pushed the rest of its row out of line with the header. */
    int name_w = 24, trials_w = 7;
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        char trials[48];
        list_trials(e, trials, sizeof(trials));
        const char *name = json_string_value(json_object_get(e, "name"));
        size_t nl = name ? strlen(name) : 0;
        name_w = nl > (size_t)name_w && nl < 256 ? (int)nl : name_w;
        trials_w = strlen(trials) > (size_t)trials_w ? (int)strlen(trials) : trials_w;
    }
    fprintf(f, "%4s  %-*s %-12s %-9s %*s  %12s  %s\n", "id", name_w, "name", "state", "algorithm",
            trials_w, "trials", "best", "created");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        char buf[MP_FMT_DOUBLE_MAX], trials[48];
        list_trials(e, trials, sizeof(trials));
        const char *algorithm = json_string_value(json_object_get(e, "algorithm"));
        const char *created = json_string_value(json_object_get(e, "created_at"));
        const char *error = json_string_value(json_object_get(e, "error"));
        /* As in show's objective column: '~' after a value whose measurement did not settle. */
        char best[MP_FMT_DOUBLE_MAX + 1];
        snprintf(best, sizeof(best), "%s%s", metric_text(json_object_get(e, "best_value"), buf),
                 json_is_false(json_object_get(e, "best_settled")) ? "~" : "");
        fprintf(f, "%4lld  %-*s %-12s %-9s %*s  %12s  %s",
                (long long)json_integer_value(json_object_get(e, "id")), name_w,
                json_string_value(json_object_get(e, "name")),
                json_string_value(json_object_get(e, "state")), algorithm ? algorithm : "-",
                trials_w, trials, best, created ? created : "-");
        if (error) {
            fputs("  (unreadable: ", f);
            mp_terminal_text(f, error, false);
            fputc(')', f);
        }
        fputc('\n', f);
    }
}

/* A field as RFC 4180 writes it. Text that a spreadsheet would run as a formula (it starts with
 * = + - @, a tab or a carriage return, is longer than that and is no number) gets a leading
 * apostrophe, quoted: categorical values and parameter names come from whoever wrote the spec.
 * A surface reads the value without it (src/surface: export_protected). */
static void csv_field(FILE *f, const char *s)
{
    double num;
    bool formula = s[0] && s[1] && strchr("=+-@\t\r", s[0]) && mp_parse_double(s, &num) != 0;
    /* Blanks around an unquoted field are no part of it to many readers (replay's surfaces). */
    size_t len = strlen(s);
    bool padded = len > 0 && (strchr(" \t", s[0]) || strchr(" \t", s[len - 1]));
    if (!formula && !padded && !strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputs(formula ? "\"'" : "\"", f);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Metric names in first-seen order across all trials. */
static json_t *metric_names(const json_t *trials)
{
    json_t *names = json_array();
    json_t *seen = json_object();
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const char *key;
        const json_t *v;
        json_object_foreach ((json_t *)json_object_get(json_array_get(trials, t), "metrics"), key,
                             v) {
            if (!json_object_get(seen, key)) {
                json_object_set_new(seen, key, json_true());
                json_array_append_new(names, json_string(key));
            }
        }
    }
    json_decref(seen);
    return names;
}

void mp_report_write_csv(FILE *f, const json_t *r)
{
    const json_t *params = json_object_get(r, "parameters");
    const json_t *trials = json_object_get(r, "trials");
    json_t *metrics = metric_names(trials);
    fputs("number,state,failure", f);
    const json_t *cols[] = {params, metrics};
    for (size_t c = 0; c < 2; c++) {
        for (size_t i = 0; i < json_array_size(cols[c]); i++) {
            fputc(',', f);
            csv_field(f, json_string_value(json_array_get(cols[c], i)));
        }
    }
    fputc('\n', f);
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const json_t *tr = json_array_get(trials, t);
        const char *failure = json_string_value(json_object_get(tr, "failure"));
        fprintf(f, "%lld,%s,%s", (long long)json_integer_value(json_object_get(tr, "number")),
                json_string_value(json_object_get(tr, "state")), failure ? failure : "");
        const char *groups[] = {"params", "metrics"};
        for (size_t c = 0; c < 2; c++) {
            const json_t *values = json_object_get(tr, groups[c]);
            for (size_t i = 0; i < json_array_size(cols[c]); i++) {
                char buf[MP_FMT_DOUBLE_MAX];
                const json_t *v =
                    json_object_get(values, json_string_value(json_array_get(cols[c], i)));
                fputc(',', f);
                if (v && !json_is_null(v)) { /* null: not finite, as empty as not measured */
                    csv_field(f, value_text(v, buf));
                }
            }
        }
        fputc('\n', f);
    }
    json_decref(metrics);
}
