/* SPDX-License-Identifier: Apache-2.0 */
/* Trial objects, the operator's durable record of each trial. The engine's runner here creates
 * (or adopts) the Trial before it hands the trial to the trial runner, so the intent exists
 * before any object of the trial; the result is written to the Trial's status once the engine
 * has judged it (on_progress in experiment.c). A new run reads the Trials back into its cache:
 * finished ones with their results, unfinished ones as RUNNING at their attempt, which the engine
 * re-runs at the next attempt. A Trial counts attempts from 1 (spec.attempt), the engine from 0
 * (mp_trial_request.attempt, which the trial runner names its objects with). */
#include "operator/op_int.h"

#include <stdlib.h>
#include <string.h>

#include "spec/pe.h"

struct trial_runner {
    struct mp_runner base;
    struct op_exp *x;
};

char *op_trial_name(const char *experiment, int64_t number)
{
    /* Object names may have 253 characters; the number always fits. */
    return mp_xasprintf("%.230s-%lld", experiment, (long long)number);
}

struct op_trec *op_trec_find(struct op_exp *x, int64_t number)
{
    for (size_t i = 0; i < x->n_trials; i++) {
        if (x->trials[i].number == number) {
            return &x->trials[i];
        }
    }
    return NULL;
}

/* Kept in number order, as the status lists are written (op_status_trial_lists): parallel
 * trials' Trials are created in any order, and a restarted run lists them by name (-10 before
 * -2). A pointer into the table holds only until the next new trial. */
struct op_trec *op_trec(struct op_exp *x, int64_t number)
{
    struct op_trec *t = op_trec_find(x, number);
    if (!t) {
        size_t at = x->n_trials;
        while (at > 0 && x->trials[at - 1].number > number) {
            at--;
        }
        x->trials = mp_xreallocarray(x->trials, x->n_trials + 1, sizeof(*x->trials));
        memmove(&x->trials[at + 1], &x->trials[at], (x->n_trials - at) * sizeof(*x->trials));
        x->n_trials++;
        t = &x->trials[at];
        memset(t, 0, sizeof(*t));
        t->number = number;
        t->name = op_trial_name(x->name, number);
    }
    return t;
}

json_t *op_condition(const char *type, const char *status, const char *reason, const char *message)
{
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), false);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", type, "status", status, "reason",
                     reason, "message", message ? message : "", "lastUpdateTime", now,
                     "lastTransitionTime", now);
}

json_t *op_trial_created_condition(const char *created)
{
    json_t *c = op_condition("Created", "True", "TrialCreated", NULL);
    if (created) {
        json_object_set_new(c, "lastTransitionTime", json_string(created));
    }
    return c;
}

void op_trec_set_created(struct op_trec *t, const json_t *trial)
{
    const char *created = mp_kube_meta(trial, "creationTimestamp");
    if (created) {
        free(t->created);
        t->created = mp_xstrdup(created);
    }
}

/* Trial `number`'s object without its spec: name, labels and owner. */
static json_t *trial_shell(struct op_exp *x, int64_t number, struct mp_error *err)
{
    char *name = op_trial_name(x->name, number);
    json_t *t = mp_kube_object_new(OP_API, "Trial", x->ns, name);
    free(name);
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)number);
    mp_kube_set_label(t, MP_OPERATOR_LABEL_EXPERIMENT, x->uid);
    mp_kube_set_label(t, MP_OPERATOR_LABEL_EXPERIMENT_NAME, x->name);
    mp_kube_set_label(t, MP_OPERATOR_LABEL_TRIAL, num);
    if (mp_kube_add_owner(t, x->pe, true, true, err) != 0) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static json_t *trial_object(struct op_exp *x, const struct mp_trial_request *req,
                            struct mp_error *err)
{
    json_t *t = trial_shell(x, req->number, err);
    if (!t) {
        return NULL;
    }
    char *params = mp_space_config_json(&x->spec->space, req->x);
    json_t *config = json_loads(params, 0, NULL);
    free(params);
    json_object_set_new(t, "spec",
                        json_pack("{s:I, s:I, s:o, s:o}", "number", (json_int_t)req->number,
                                  "attempt", (json_int_t)req->attempt + 1, "samplingResult",
                                  mp_spec_pe_assignment(x->spec, req->x), "config",
                                  config ? config : json_object()));
    return t;
}

int op_trial_recreate(struct op_exp *x, int64_t number, struct mp_error *err)
{
    pthread_mutex_lock(&x->lock);
    const struct op_trec *t = op_trec_find(x, number);
    json_t *spec = t && t->spec ? json_deep_copy(t->spec) : NULL;
    pthread_mutex_unlock(&x->lock);
    json_t *obj = spec ? trial_shell(x, number, err) : NULL;
    if (!obj) {
        json_decref(spec);
        return spec ? err->code
                    : mp_error_set(err, MP_ENOTFOUND, "trial %lld: its Trial is gone",
                                   (long long)number);
    }
    json_object_set_new(obj, "spec", spec);
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, NULL, NULL};
    int rc = op_run_create(x, &ref, obj, NULL, err);
    json_decref(obj);
    return rc;
}

/* Creates the Trial, or adopts the one a previous run created (same name, owned by this
 * experiment), moved to this attempt. One deleted between the create and the read is created
 * again (a few times: each round needs someone to create and delete it again). *out: the object
 * as the server holds it. */
static int create_or_adopt(struct op_exp *x, const struct mp_trial_request *req, json_t **out,
                           bool *fresh, struct mp_error *err)
{
    *fresh = false;
    json_t *obj = trial_object(x, req, err);
    if (!obj) {
        return err->code;
    }
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, NULL, NULL};
    int rc = MP_ENOTFOUND;
    for (int round = 0; round < 3 && rc == MP_ENOTFOUND; round++) {
        mp_error_clear(err);
        ref.name = NULL;
        rc = op_run_create(x, &ref, obj, out, err);
        if (rc != MP_EEXISTS) {
            *fresh = rc == 0;
            break;
        }
        mp_error_clear(err);
        ref.name = mp_kube_meta(obj, "name");
        json_t *cur = NULL;
        rc = op_get(x->op, &ref, 0, &cur, err);
        if (rc == 0 && !mp_kube_owned_by(cur, x->uid)) {
            rc = mp_error_set(err, MP_EEXISTS,
                              "trials %s/%s exists and does not belong to experiment %s (uid %s)",
                              x->ns, ref.name, x->name, x->uid);
        }
        if (rc == 0) {
            json_t *patch = json_pack("{s:{s:I}}", "spec", "attempt", (json_int_t)req->attempt + 1);
            rc = op_run_merge_patch(x, &ref, patch, out, err);
            json_decref(patch);
        }
        json_decref(cur);
    }
    json_decref(obj);
    return rc;
}

static int mark_running(struct op_exp *x, const json_t *trial, int64_t attempt,
                        struct mp_error *err)
{
    /* Created since the object was; Running (again) from now, this attempt. */
    json_t *conds =
        json_pack("[o, o]", op_trial_created_condition(mp_kube_meta(trial, "creationTimestamp")),
                  op_condition("Running", "True", "TrialRunning", NULL));
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), false);
    json_t *patch = json_pack("{s:{s:o, s:s, s:I}}", "status", "conditions", conds, "startTime",
                              now, "attempt", (json_int_t)attempt);
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, mp_kube_meta(trial, "name"),
                              "status"};
    int rc = op_run_merge_patch(x, &ref, patch, NULL, err);
    json_decref(patch);
    return rc;
}

/* An attempt that ended without a verdict on its configuration (INFRA: a service pod evicted or
 * deleted, the trial's Deployment edited, an image not pulled): the engine runs the trial again
 * as a new attempt (up to three in a row, then it fails INFRA; an image that three attempts
 * could not pull stops the run instead), and its Trial moves to that attempt, so the reason
 * would be nowhere (the engine's cache keeps it, not the API server). A Warning Event
 * TrialAttemptFailed on the Trial says it, one per Trial, counted, with the latest attempt's.
 * Not for a run that stops (its own Events say why) or lost its Lease (no more writes). */
static void attempt_failed(struct op_exp *x, const json_t *trial,
                           const struct mp_trial_request *req, const struct mp_trial_result *res,
                           int rc, const atomic_bool *cancel)
{
    if (res->run_error || atomic_load(cancel) || atomic_load(&x->lease_lost)) {
        return;
    }
    const char *name = mp_kube_meta(trial, "name");
    op_event_latest(x->op, trial, "Warning", "TrialAttemptFailed",
                    "attempt %lld of trial %lld ended without a verdict on its configuration: "
                    "%s; the trial runs again as a new attempt, up to three in a row",
                    (long long)req->attempt + 1, (long long)req->number,
                    res->reason ? res->reason : mp_strerror(rc));
    op_log(x->op, "%s: trial %lld (Trial %s), attempt %lld: %s", x->key, (long long)req->number,
           name ? name : "?", (long long)req->attempt + 1,
           res->reason ? res->reason : mp_strerror(rc));
}

/* A confirmation run (docs/internals/engine.md): the finished trial's configuration measured
 * again after the search. Its Trial stays as it is and owns the run's objects. */
static int confirm_run(struct op_exp *x, const struct mp_trial_request *req,
                       struct mp_trial_result *res, const atomic_bool *cancel)
{
    char *name = op_trial_name(x->name, req->number);
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", x->ns, name, NULL};
    json_t *trial = NULL;
    struct mp_error err = {0};
    int rc = op_get(x->op, &ref, 0, &trial, &err);
    free(name);
    if (rc != 0) {
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "%s", err.msg);
        return rc < 0 ? rc : MP_ERUNTIME;
    }
    struct mp_operator_trial ot = {x->ns, x->name, x->pe, trial};
    rc = x->op->rops->run(x->runner, &ot, req, res, cancel);
    json_decref(trial);
    return rc;
}

static int run(struct mp_runner *r, const struct mp_trial_request *req, struct mp_trial_result *res,
               const atomic_bool *cancel)
{
    struct op_exp *x = ((struct trial_runner *)r)->x;
    pthread_mutex_lock(&x->lock);
    const struct op_trec *done = op_trec_find(x, req->number);
    bool confirm = done && mp_trial_state_terminal(done->state);
    pthread_mutex_unlock(&x->lock);
    if (confirm) {
        return confirm_run(x, req, res, cancel);
    }
    struct mp_error err = {0};
    json_t *trial = NULL;
    pthread_mutex_lock(&x->lock);
    const struct op_trec *prev = op_trec_find(x, req->number);
    bool had_trial = prev && prev->created; /* this run knew its Trial */
    pthread_mutex_unlock(&x->lock);
    bool fresh = false;
    int rc = create_or_adopt(x, req, &trial, &fresh, &err);
    if (rc == 0 && fresh && had_trial) {
        /* Its Trial was deleted while it ran (`kubectl delete trial`): its objects went with it,
         * and this attempt runs it again under a Trial created again. */
        op_event(x->op, x->pe, "Warning", "TrialDeleted",
                 "Trial %s/%s was deleted while trial %lld ran: it runs again (attempt %lld), "
                 "its Trial created again; delete the experiment to stop its run",
                 x->ns, mp_kube_meta(trial, "name"), (long long)req->number,
                 (long long)req->attempt + 1);
        op_log(x->op, "%s: trial %lld: its Trial was deleted while it ran: it runs again", x->key,
               (long long)req->number);
    }
    if (rc == 0) {
        rc = mark_running(x, trial, req->attempt + 1, &err);
    }
    if (rc != 0) {
        op_log(x->op, "%s: trial %lld: %s", x->key, (long long)req->number, err.msg);
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "%s", err.msg);
        if (rc == MP_EEXISTS) {
            /* A Trial of this name that is not ours (an orphan of a deleted experiment of the
             * same name): retries cannot help and its status is not ours to write, so the run
             * stops (the engine's run_error) and is retried with backoff until it is gone. */
            res->run_error = mp_xstrdup(err.msg);
            op_event(x->op, x->pe, "Warning", "NameInUse",
                     "%s: delete it to let the experiment go on", err.msg);
            op_name_in_use_said(x, err.msg);
        }
        json_decref(trial);
        return rc < 0 ? rc : MP_ERUNTIME;
    }
    pthread_mutex_lock(&x->lock);
    struct op_trec *t = op_trec(x, req->number);
    t->state = MP_TRIAL_RUNNING;
    t->attempt = req->attempt + 1;
    json_decref(t->assignment);
    t->assignment = json_incref(json_object_get(json_object_get(trial, "spec"), "samplingResult"));
    json_decref(t->spec);
    t->spec = json_incref(json_object_get(trial, "spec"));
    op_trec_set_created(t, trial);
    pthread_mutex_unlock(&x->lock);
    if (op_status_write(x, NULL, NULL, NULL, &err) != 0) {
        op_log(x->op, "%s: status not written: %s", x->key, err.msg);
    }
    struct mp_operator_trial ot = {x->ns, x->name, x->pe, trial};
    rc = x->op->rops->run(x->runner, &ot, req, res, cancel);
    if (rc < 0) {
        attempt_failed(x, trial, req, res, rc, cancel);
    }
    json_decref(trial);
    return rc;
}

static const struct mp_runner_ops concurrent_ops = {
    .name = "operator",
    .concurrent = true,
    .run = run,
};
static const struct mp_runner_ops serial_ops = {
    .name = "operator",
    .concurrent = false,
    .run = run,
};

struct mp_runner *op_trial_runner_new(struct op_exp *x)
{
    struct trial_runner *r = mp_xcalloc(1, sizeof(*r));
    r->base.ops = x->op->rops->concurrent ? &concurrent_ops : &serial_ops;
    r->base.spec = x->spec;
    r->x = x;
    return &r->base;
}
