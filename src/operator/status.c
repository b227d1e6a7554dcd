/* SPDX-License-Identifier: Apache-2.0 */
/* A ProfilingExperiment's status, as the original shows it: conditions Created, Running and
 * then Succeeded or Failed (the last one is the State column), start and completion times,
 * counts and name lists of trials per state, and currentOptimalTrial; and ours: runSpec, the
 * spec the run started with. Written with a merge patch on the status subresource from the
 * run's trial table, always whole, so a lost write is repaired by the next one. */
#include "operator/op_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool op_pe_finished(const json_t *pe)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(json_object_get(pe, "status"), "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(s, "True") == 0 &&
            (strcmp(t, "Succeeded") == 0 || strcmp(t, "Failed") == 0)) {
            return true;
        }
    }
    return false;
}

int64_t op_generation(const json_t *obj)
{
    return json_integer_value(json_object_get(json_object_get(obj, "metadata"), "generation"));
}

/* A condition; when the last written conditions hold one of the same type and status, its
 * lastTransitionTime is kept. */
static json_t *cond(const json_t *old, const char *type, const char *status, const char *reason,
                    const char *message)
{
    json_t *c = op_condition(type, status, reason, message);
    size_t i;
    json_t *o;
    json_array_foreach (old, i, o) {
        const char *t = json_string_value(json_object_get(o, "type"));
        const char *s = json_string_value(json_object_get(o, "status"));
        const json_t *when = json_object_get(o, "lastTransitionTime");
        if (t && s && strcmp(t, type) == 0 && strcmp(s, status) == 0 && json_is_string(when)) {
            json_object_set(c, "lastTransitionTime", (json_t *)when);
        }
    }
    return c;
}

void op_status_trial_lists(const struct op_trec *trials, size_t n, json_t *status)
{
    static const struct {
        const char *count, *list;
        enum mp_trial_state state;
    } names[] = {
        {"trialsSucceeded", "succeededTrialList", MP_TRIAL_SUCCEEDED},
        {"trialsFailed", "failedTrialList", MP_TRIAL_FAILED},
        {"trialsPending", "pendingTrialList", MP_TRIAL_PENDING},
        {"trialsRunning", "runningTrialList", MP_TRIAL_RUNNING},
        {"trialsKilled", "killedTrialList", MP_TRIAL_CANCELLED},
    };
    size_t total[MP_TRIAL_CANCELLED + 1] = {0}, seen[MP_TRIAL_CANCELLED + 1] = {0};
    json_t *lists[MP_TRIAL_CANCELLED + 1];
    for (size_t i = 0; i < n; i++) {
        total[trials[i].state]++;
    }
    for (int st = 0; st <= MP_TRIAL_CANCELLED; st++) {
        lists[st] = json_array();
    }
    for (size_t i = 0; i < n; i++) {
        enum mp_trial_state st = trials[i].state;
        if (total[st] - seen[st]++ <= OP_STATUS_MAX_NAMES) {
            json_array_append_new(lists[st], json_string(trials[i].name));
        }
    }
    json_object_set_new(status, "trialsTotal", json_integer((json_int_t)n));
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        json_object_set_new(status, names[i].count,
                            json_integer((json_int_t)total[names[i].state]));
        json_object_set(status, names[i].list, lists[names[i].state]);
    }
    for (int st = 0; st <= MP_TRIAL_CANCELLED; st++) {
        json_decref(lists[st]);
    }
}

/* The best trial's index, -1 when none has a value: settled before unsettled, then by value,
 * as `morphling show` picks it (a figure that did not settle is no evidence on its own). */
static long best_trial(struct op_exp *x)
{
    long best = -1;
    bool minimize = x->spec->direction == MP_MINIMIZE;
    for (size_t i = 0; i < x->n_trials; i++) {
        const struct op_trec *t = &x->trials[i];
        if (!t->has_value || t->state != MP_TRIAL_SUCCEEDED) {
            continue;
        }
        const struct op_trec *b = best < 0 ? NULL : &x->trials[best];
        if (!b ||
            (t->settled != b->settled ? t->settled
                                      : (minimize ? t->value < b->value : t->value > b->value))) {
            best = (long)i;
        }
    }
    for (size_t i = 0; x->recommended > 0 && i < x->n_trials; i++) {
        if (x->trials[i].number == x->recommended && x->trials[i].has_value) {
            best = (long)i; /* the confirmation's winner is the recommendation */
        }
    }
    return best;
}

static json_t *optimal(struct op_exp *x, const struct op_trec *t)
{
    const char *name = json_string_value(json_object_get(
        json_object_get(json_object_get(x->pe, "spec"), "objective"), "objectiveMetricName"));
    char num[MP_FMT_DOUBLE_MAX];
    return json_pack("{s:s, s:o, s:[{s:s, s:s}]}", "trialName", t->name, "tunableParameters",
                     t->assignment ? json_incref(t->assignment) : json_array(),
                     "objectiveMetricsObserved", "name", name ? name : x->spec->objective_metric,
                     "value", mp_fmt_double(num, t->value));
}

/* The status body from the trial table (caller holds x->lock). */
static json_t *status_body(struct op_exp *x, const char *state, const char *reason,
                           const char *message)
{
    long best = best_trial(x);
    json_t *s = json_object();
    json_t *conds = json_array();
    json_array_append_new(
        conds, cond(x->conds, "Created", "True", "ExperimentCreated", "the experiment is created"));
    json_array_append_new(
        conds, cond(x->conds, "Running", state ? "False" : "True",
                    state ? "ExperimentFinished" : "ExperimentRunning",
                    state ? "the experiment has finished" : "the experiment is running"));
    if (state) {
        json_array_append_new(conds, cond(x->conds, state, "True", reason, message));
        char now[MP_KUBE_TIME_MAX];
        json_object_set_new(s, "completionTime",
                            json_string(mp_kube_fmt_time(now, mp_wall_ns(), false)));
    }
    json_decref(x->conds);
    x->conds = json_incref(conds);
    json_object_set_new(s, "conditions", conds);
    json_object_set_new(s, "startTime", json_string(x->start_time));
    if (x->observed_gen > 0) {
        json_object_set_new(s, "observedGeneration", json_integer((json_int_t)x->observed_gen));
    }
    if (!x->spec_recorded) {
        /* Before the first Trial: what a later run goes on with (op_pe_for_run). */
        json_object_set(s, "runSpec", json_object_get(x->pe, "spec"));
        x->spec_recorded = true;
    }
    if (best >= 0) {
        json_object_set_new(s, "currentOptimalTrial", optimal(x, &x->trials[best]));
    }
    op_status_trial_lists(x->trials, x->n_trials, s);
    return s;
}

int op_status_write(struct op_exp *x, const char *state, const char *reason, const char *message,
                    struct mp_error *err)
{
    pthread_mutex_lock(&x->wlock);
    pthread_mutex_lock(&x->lock);
    json_t *patch = json_pack("{s:o}", "status", status_body(x, state, reason, message));
    pthread_mutex_unlock(&x->lock);
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "profilingexperiments",
                              x->ns,    x->name,    "status"};
    int rc = op_run_merge_patch(x, &ref, patch, NULL, err);
    pthread_mutex_unlock(&x->wlock);
    json_decref(patch);
    return rc;
}

/* Whether conds holds a condition of type with status "True". */
static bool cond_true(const json_t *conds, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && strcmp(t, type) == 0 && strcmp(s, "True") == 0) {
            return true;
        }
    }
    return false;
}

int op_status_stopped(struct op_exp *x, const char *message, struct mp_error *err)
{
    pthread_mutex_lock(&x->wlock);
    pthread_mutex_lock(&x->lock);
    json_t *conds = NULL;
    if (cond_true(x->conds, "Running") && !cond_true(x->conds, "Succeeded") &&
        !cond_true(x->conds, "Failed")) {
        conds = json_pack(
            "[o, o]",
            cond(x->conds, "Created", "True", "ExperimentCreated", "the experiment is created"),
            cond(x->conds, "Running", "True", "RunStopped", message));
        json_decref(x->conds);
        x->conds = json_incref(conds);
    }
    pthread_mutex_unlock(&x->lock);
    int rc = 0;
    if (conds) {
        json_t *patch = json_pack("{s:{s:o}}", "status", "conditions", conds);
        struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "profilingexperiments",
                                  x->ns,    x->name,    "status"};
        rc = op_run_merge_patch(x, &ref, patch, NULL, err);
        json_decref(patch);
    }
    pthread_mutex_unlock(&x->wlock);
    return rc;
}

/* The condition of type in pe's status, or NULL. */
static const json_t *find_cond(const json_t *pe, const char *type)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(json_object_get(pe, "status"), "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, type) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Merge-patches pe's status subresource with patch (taken). */
static int patch_status(struct op *op, const json_t *pe, json_t *patch, struct mp_error *err)
{
    struct mp_kube_ref ref = {OP_GROUP,
                              OP_VERSION,
                              "profilingexperiments",
                              mp_kube_meta(pe, "namespace"),
                              mp_kube_meta(pe, "name"),
                              "status"};
    int rc = op_merge_patch(op, &ref, patch, NULL, err);
    json_decref(patch);
    return rc;
}

int op_status_waiting(struct op *op, const json_t *pe, size_t running, struct mp_error *err)
{
    if (find_cond(pe, "Created")) {
        return 0; /* written once: every run's end queues the waiting ones again */
    }
    char msg[160];
    snprintf(msg, sizeof(msg),
             "the experiment is created; it waits until fewer than %zu experiment(s) run "
             "(--max-running)",
             running);
    json_t *patch = json_pack("{s:{s:[o]}}", "status", "conditions",
                              cond(NULL, "Created", "True", "ExperimentCreated", msg));
    int rc = patch_status(op, pe, patch, err);
    return rc;
}

int op_status_invalid(struct op *op, const json_t *pe, const char *message, struct mp_error *err)
{
    const json_t *old = json_object_get(json_object_get(pe, "status"), "conditions");
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), false);
    /* It starts and ends at once: both times, as for every other experiment's end. */
    json_t *patch =
        json_pack("{s:{s:[o, o], s:s, s:s, s:I}}", "status", "conditions",
                  cond(old, "Created", "True", "ExperimentCreated", "the experiment is created"),
                  cond(old, "Failed", "True", "InvalidSpec", message), "startTime", now,
                  "completionTime", now, "observedGeneration", (json_int_t)op_generation(pe));
    if (!json_object_get(json_object_get(pe, "status"), "trialsTotal")) {
        /* Every count 0 (and empty lists), as the original's status has them for every
         * experiment; one that has run keeps its own. */
        op_status_trial_lists(NULL, 0, json_object_get(patch, "status"));
    }
    int rc = patch_status(op, pe, patch, err);
    if (rc == 0) {
        op_event(op, pe, "Warning", "InvalidSpec", "%s", message);
    }
    return rc;
}

/* Conventions: an edit that the operator saw but will not act on still moves observedGeneration
 * (else tools that wait for it, kubectl wait and GitOps health checks, wait forever), and the
 * user is told why nothing changed, on the object (kubectl describe), not only in our log. */
int op_status_observe(struct op *op, const json_t *pe, struct op_exp *x, struct mp_error *err)
{
    const json_t *status = json_object_get(pe, "status");
    const json_t *run_spec = json_object_get(status, "runSpec");
    bool finished = op_pe_finished(pe);
    int64_t gen = op_generation(pe);
    int64_t seen = json_integer_value(json_object_get(status, "observedGeneration"));
    if (gen <= 0 || gen <= seen || (!finished && !json_is_object(run_spec) && !x)) {
        return 0; /* nothing has run yet: a run to come takes the spec as it is */
    }
    if (x) {
        /* In order with the run's own status writes, which carry observed_gen from now on. */
        pthread_mutex_lock(&x->wlock);
        pthread_mutex_lock(&x->lock);
        bool known = gen <= x->observed_gen;
        x->observed_gen = known ? x->observed_gen : gen;
        pthread_mutex_unlock(&x->lock);
        if (known) {
            pthread_mutex_unlock(&x->wlock);
            return 0;
        }
    }
    /* Without the spec it ran (an invalid spec ends before a run), a generation recorded
     * before says that this one is an edit. */
    const json_t *ran = x ? json_object_get(x->pe, "spec") : run_spec;
    bool changed = json_is_object(ran) ? !json_equal(ran, json_object_get(pe, "spec")) : seen > 0;
    if (changed) {
        const char *when = finished ? "it had finished" : "its run had started";
        op_event(op, pe, "Warning", "SpecChangeIgnored",
                 "the spec changed (generation %lld) after %s: the change is not applied (%s); "
                 "to run the new spec, delete the experiment and create it again",
                 (long long)gen, when,
                 finished ? "a finished experiment is not run again"
                          : "the run keeps the spec it started with, status.runSpec");
        op_log(op, "%s/%s: the spec changed (generation %lld) after %s; not applied",
               mp_kube_meta(pe, "namespace"), mp_kube_meta(pe, "name"), (long long)gen, when);
    }
    json_t *patch = json_pack("{s:{s:I}}", "status", "observedGeneration", (json_int_t)gen);
    int rc = patch_status(op, pe, patch, err);
    if (x) {
        pthread_mutex_unlock(&x->wlock);
    }
    return rc;
}
