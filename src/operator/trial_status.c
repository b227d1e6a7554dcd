/* SPDX-License-Identifier: Apache-2.0 */
/* A Trial's result in its status (written once the engine has judged the trial), and the way
 * back: the experiment's Trials read into a fresh engine cache when a run starts. The status
 * keeps what the engine needs to rebuild its history exactly: the state, the failure class, the
 * reason and every metric as a JSON number (doubles survive the trip). An experiment that
 * fails for good ends its unfinished Trials Killed. */
#include "operator/op_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "spec/pe.h"

static const char *final_type(enum mp_trial_state s)
{
    return s == MP_TRIAL_SUCCEEDED ? "Succeeded" : s == MP_TRIAL_FAILED ? "Failed" : "Killed";
}

static json_t *metrics_json(const struct mp_metrics *m)
{
    json_t *o = json_object();
    for (size_t i = 0; i < m->n; i++) {
        if (isfinite(m->values[i])) {
            json_object_set_new(o, m->names[i], json_real(m->values[i]));
        }
    }
    return o;
}

/* objectiveMetricsObserved: the experiment's own metric name with the value as text. A trial
 * measured in full (succeeded, or failed for a constraint only) has one; any other failed trial
 * does not: its partial measurement (a load test without one good answer measures 0 requests/s
 * and 0 ms) is no objective value: the original scored failed trials 0.0, and kubectl get
 * trials would show it as the best of a minimised objective. */
static json_t *observed(struct op_exp *x, bool has_value, double value)
{
    json_t *a = json_array();
    if (has_value) {
        const char *name = json_string_value(json_object_get(
            json_object_get(json_object_get(x->pe, "spec"), "objective"), "objectiveMetricName"));
        char num[MP_FMT_DOUBLE_MAX];
        json_array_append_new(a, json_pack("{s:s, s:s}", "name",
                                           name ? name : x->spec->objective_metric, "value",
                                           mp_fmt_double(num, value)));
    }
    return a;
}

int op_trial_finish(struct op_exp *x, int64_t number, const struct mp_trial_result *res,
                    struct mp_error *err)
{
    double v = 0;
    bool has = mp_metrics_get(&res->metrics, x->spec->objective_metric, &v) && isfinite(v);
    bool measured = res->state == MP_TRIAL_SUCCEEDED || res->failure == MP_FAILURE_SLO_VIOLATED;
    pthread_mutex_lock(&x->lock);
    struct op_trec *t = op_trec(x, number);
    t->state = res->state;
    t->has_value = has && res->state == MP_TRIAL_SUCCEEDED;
    t->settled = !mp_engine_unsettled(x->spec, &res->metrics);
    t->value = v;
    json_t *assignment = t->assignment ? json_incref(t->assignment) : json_array();
    char *name = mp_xstrdup(t->name);
    json_t *created = op_trial_created_condition(t->created);
    pthread_mutex_unlock(&x->lock);
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), false);
    const char *reason = res->state == MP_TRIAL_SUCCEEDED  ? "TrialSucceeded"
                         : res->failure != MP_FAILURE_NONE ? mp_failure_name(res->failure)
                                                           : "TrialKilled";
    json_t *conds =
        json_pack("[o, o, o]", created, op_condition("Running", "False", "TrialFinished", NULL),
                  op_condition(final_type(res->state), "True", reason, res->reason));
    json_t *result = json_pack("{s:o, s:o}", "tunableParameters", assignment,
                               "objectiveMetricsObserved", observed(x, has && measured, v));
    json_t *patch =
        json_pack("{s:{s:o, s:s, s:o, s:s, s:s, s:s, s:o}}", "status", "conditions", conds,
                  "completionTime", now, "trialResult", result, "state",
                  mp_trial_state_name(res->state), "failure", mp_failure_name(res->failure),
                  "reason", res->reason ? res->reason : "", "metrics", metrics_json(&res->metrics));
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, name, "status"};
    json_t *written = NULL;
    int rc = op_run_merge_patch(x, &ref, patch, &written, err);
    free(name);
    if (rc == 0) {
        /* The whole status as the server holds it (startTime, attempt too): to create the Trial
         * again with it (op_trials_restore). */
        pthread_mutex_lock(&x->lock);
        t = op_trec(x, number);
        json_decref(t->status);
        t->status = json_incref(json_object_get(written, "status"));
        pthread_mutex_unlock(&x->lock);
    }
    json_decref(written);
    json_decref(patch);
    if (rc == 0) {
        pthread_mutex_lock(&x->op->m.lock);
        x->op->m.trials_finished[res->state]++;
        pthread_mutex_unlock(&x->op->m.lock);
    }
    return rc;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* The finished state a Trial's status records; PENDING when it has none. */
static enum mp_trial_state recorded_state(const json_t *trial)
{
    const char *s = json_string_value(json_object_get(json_object_get(trial, "status"), "state"));
    int st = s ? mp_trial_state_parse(s) : -1;
    return st >= 0 && mp_trial_state_terminal((enum mp_trial_state)st) ? (enum mp_trial_state)st
                                                                       : MP_TRIAL_PENDING;
}

static void result_from_status(const json_t *status, enum mp_trial_state state,
                               struct mp_trial_result *res)
{
    mp_trial_result_init(res);
    res->state = state;
    const char *f = json_string_value(json_object_get(status, "failure"));
    int failure = f ? mp_failure_parse(f) : -1;
    res->failure = failure >= 0 ? (enum mp_failure)failure : MP_FAILURE_NONE;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    res->reason = reason && *reason ? mp_xstrdup(reason) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(status, "metrics"), k, v) {
        if (json_is_number(v)) {
            mp_metrics_set(&res->metrics, k, json_number_value(v));
        }
    }
}

/* One Trial into the cache and x->trials. */
static int load_one(struct op_exp *x, struct mp_store *st, int64_t exp_id, const json_t *trial,
                    struct mp_error *err)
{
    const json_t *spec = json_object_get(trial, "spec");
    int64_t number = json_integer_value(json_object_get(spec, "number"));
    int64_t attempt = json_integer_value(json_object_get(spec, "attempt"));
    const char *name = mp_kube_meta(trial, "name");
    char *config = json_dumps(json_object_get(spec, "config"), JSON_COMPACT);
    double *cx = mp_xcalloc(x->spec->space.n + 1, sizeof(double));
    int rc = number >= 1 && config ? 0
                                   : mp_error_set(err, MP_EINVALID,
                                                  "trials %s/%s: no spec.number "
                                                  "or spec.config",
                                                  x->ns, name);
    if (rc == 0) {
        rc = mp_space_config_from_json(&x->spec->space, config, cx, err);
    }
    if (rc == 0) {
        char *params = mp_space_config_json(&x->spec->space, cx);
        char *key = mp_space_key(&x->spec->space, cx);
        rc = mp_store_trial_create(st, exp_id, number, params, key, err);
        free(params);
        free(key);
    }
    enum mp_trial_state state = recorded_state(trial);
    int64_t at = 0;
    for (int64_t i = 0; rc == 0 && (i < attempt || i == 0); i++) {
        rc = mp_store_trial_start(st, exp_id, number, &at, err);
    }
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    if (rc == 0 && state != MP_TRIAL_PENDING) {
        result_from_status(json_object_get(trial, "status"), state, &res);
        rc = mp_store_trial_finish(st, exp_id, number, &res, err);
    }
    if (rc == 0) {
        double v = 0;
        pthread_mutex_lock(&x->lock);
        struct op_trec *t = op_trec(x, number);
        t->attempt = at + 1;
        t->state = state == MP_TRIAL_PENDING ? MP_TRIAL_RUNNING : state;
        t->has_value = state == MP_TRIAL_SUCCEEDED &&
                       mp_metrics_get(&res.metrics, x->spec->objective_metric, &v);
        t->settled = !mp_engine_unsettled(x->spec, &res.metrics);
        t->value = v;
        t->assignment = json_incref(json_object_get(spec, "samplingResult"));
        json_decref(t->spec);
        t->spec = json_incref((json_t *)spec);
        json_decref(t->status);
        t->status =
            state == MP_TRIAL_PENDING ? NULL : json_deep_copy(json_object_get(trial, "status"));
        op_trec_set_created(t, trial);
        pthread_mutex_unlock(&x->lock);
    }
    mp_trial_result_release(&res);
    free(cx);
    free(config);
    return rc == 0 ? 0 : mp_error_prefix(err, rc, "trials %s/%s", x->ns, name);
}

/* The Trials of x's experiment (owned by it, not being deleted) as a new array. */
static int list_trials(struct op_exp *x, json_t **out, struct mp_error *err)
{
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, NULL, NULL};
    char *sel = mp_xasprintf("%s=%s", MP_OPERATOR_LABEL_EXPERIMENT, x->uid);
    json_t *list = NULL;
    int rc = op_list(x->op, &ref, sel, &list, err);
    free(sel);
    *out = json_array();
    size_t i;
    json_t *item;
    json_array_foreach (rc == 0 ? json_object_get(list, "items") : NULL, i, item) {
        if (mp_kube_owned_by(item, x->uid) && !mp_kube_meta(item, "deletionTimestamp")) {
            json_array_append(*out, item);
        }
    }
    json_decref(list);
    return rc;
}

int op_trials_load(struct op_exp *x, struct mp_store *st, int64_t exp_id, struct mp_error *err)
{
    json_t *trials = NULL;
    int rc = list_trials(x, &trials, err);
    size_t i;
    json_t *item;
    json_array_foreach (rc == 0 ? trials : NULL, i, item) {
        if ((rc = load_one(x, st, exp_id, item, err)) != 0) {
            break;
        }
    }
    if (rc == 0 && json_array_size(trials)) {
        op_log(x->op, "%s: continuing after %zu trial(s) recorded in Trial objects", x->key,
               json_array_size(trials));
    }
    json_decref(trials);
    return rc;
}

int op_trials_kill(struct op_exp *x, const char *why, struct mp_error *err)
{
    json_t *trials = NULL;
    int rc = list_trials(x, &trials, err);
    size_t i;
    json_t *item;
    json_array_foreach (rc == 0 ? trials : NULL, i, item) {
        const json_t *spec = json_object_get(item, "spec");
        int64_t number = json_integer_value(json_object_get(spec, "number"));
        enum mp_trial_state state = recorded_state(item);
        if (number < 1) {
            continue;
        }
        pthread_mutex_lock(&x->lock);
        struct op_trec *t = op_trec(x, number);
        t->state = state == MP_TRIAL_PENDING ? MP_TRIAL_RUNNING : state;
        if (!t->assignment) {
            t->assignment = json_incref(json_object_get(spec, "samplingResult"));
        }
        op_trec_set_created(t, item);
        pthread_mutex_unlock(&x->lock);
        if (state == MP_TRIAL_PENDING) {
            struct mp_trial_result res;
            mp_trial_result_init(&res);
            res.state = MP_TRIAL_CANCELLED;
            res.reason = mp_xstrdup(why);
            rc = op_trial_finish(x, number, &res, err);
            mp_trial_result_release(&res);
        }
        if (rc != 0) {
            break;
        }
    }
    json_decref(trials);
    return rc;
}

/* ---- finished Trials deleted while the experiment runs ---------------------------------- */

/* Whether trials (Trial objects) holds one named name. */
static bool listed(const json_t *trials, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach (trials, i, item) {
        const char *n = mp_kube_meta(item, "name");
        if (n && strcmp(n, name) == 0) {
            return true;
        }
    }
    return false;
}

/* Creates trial number's Trial again with status, the result it had. */
static int restore_one(struct op_exp *x, int64_t number, const json_t *status, struct mp_error *err)
{
    int rc = op_trial_recreate(x, number, err);
    if (rc == MP_EEXISTS) {
        mp_error_clear(err); /* created again meanwhile (a new run's adoption) */
        return 0;
    }
    char *name = op_trial_name(x->name, number);
    if (rc == 0) {
        json_t *patch = json_pack("{s:O}", "status", status);
        struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, name, "status"};
        rc = op_run_merge_patch(x, &ref, patch, NULL, err);
        json_decref(patch);
    }
    if (rc == 0) {
        const char *state = json_string_value(json_object_get(status, "state"));
        op_event(x->op, x->pe, "Warning", "TrialDeleted",
                 "Trial %s/%s of trial %lld, which had ended (%s), was deleted while the "
                 "experiment ran: created again with its result; delete the experiment to "
                 "remove its Trials",
                 x->ns, name, (long long)number, state ? state : "?");
        op_log(x->op,
               "%s: trial %lld: its Trial was deleted after the trial ended: created "
               "again with its result",
               x->key, (long long)number);
    }
    free(name);
    return rc == 0 ? 0
                   : mp_error_prefix(err, rc, "trial %lld: creating its Trial again",
                                     (long long)number);
}

/* Whether x's experiment still exists as the one x runs and is not being deleted: a Trial the
 * garbage collector removed with its experiment is not created again. */
static int exp_alive(struct op_exp *x, bool *alive, struct mp_error *err)
{
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "profilingexperiments", x->ns, x->name, NULL};
    json_t *pe = NULL;
    int rc = op_get(x->op, &ref, 0, &pe, err);
    const char *uid = rc == 0 ? mp_kube_meta(pe, "uid") : NULL;
    *alive = uid && strcmp(uid, x->uid) == 0 && !mp_kube_meta(pe, "deletionTimestamp");
    json_decref(pe);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        rc = 0;
    }
    return rc;
}

int op_trials_restore(struct op_exp *x, struct mp_error *err)
{
    bool alive = false;
    if (atomic_load(&x->cancel) || atomic_load(&x->lease_lost) || atomic_load(&x->ended)) {
        return 0;
    }
    int rc = exp_alive(x, &alive, err);
    json_t *trials = NULL;
    if (rc == 0 && alive) {
        rc = list_trials(x, &trials, err);
    }
    if (rc != 0 || !alive) {
        json_decref(trials);
        return rc;
    }
    /* The records to restore, copied: a pointer into x->trials holds only under its lock. */
    json_t *gone = json_object();
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->n_trials; i++) {
        const struct op_trec *t = &x->trials[i];
        if (mp_trial_state_terminal(t->state) && t->status && t->spec && !listed(trials, t->name)) {
            char num[32];
            snprintf(num, sizeof(num), "%lld", (long long)t->number);
            json_object_set(gone, num, t->status);
        }
    }
    pthread_mutex_unlock(&x->lock);
    const char *num;
    json_t *status;
    json_object_foreach (gone, num, status) {
        if (atomic_load(&x->cancel) ||
            (rc = restore_one(x, strtoll(num, NULL, 10), status, err)) != 0) {
            break;
        }
    }
    json_decref(gone);
    json_decref(trials);
    return rc;
}
