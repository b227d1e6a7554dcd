/* SPDX-License-Identifier: Apache-2.0 */
/* The operator's main loop: an informer (list, then watch, of ProfilingExperiments) fills a
 * cache and queues the key of every object that changed; one worker takes keys off the queue
 * and reconciles each one level-triggered: it reads what the cache holds now and moves the
 * experiment one step (start its run, stop a run whose experiment is gone, or say that it
 * waits for a free run slot). The runs themselves are experiment.c. */
#include "operator/op_int.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

void op_log(struct op *op, const char *fmt, ...)
{
    char ts[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(ts, mp_wall_ns(), true);
    va_list ap;
    va_start(ap, fmt);
    flockfile(op->log);
    fprintf(op->log, "%s morphling operator: ", ts);
    vfprintf(op->log, fmt, ap);
    fputc('\n', op->log);
    fflush(op->log);
    funlockfile(op->log);
    va_end(ap);
}

void op_fail(struct op *op, const struct mp_error *err)
{
    pthread_mutex_lock(&op->lock);
    if (!atomic_load(&op->failed)) {
        op->fail_err = *err;
        atomic_store(&op->failed, true);
    }
    pthread_mutex_unlock(&op->lock);
    mp_kube_cancel_fire(op->stop_token);
}

void op_enqueue_all(struct op *op)
{
    pthread_mutex_lock(&op->lock);
    const char *key;
    json_t *v;
    json_object_foreach (op->cache, key, v) {
        op_queue_add(&op->q, key);
    }
    pthread_mutex_unlock(&op->lock);
}

/* ---- informer ------------------------------------------------------------------------------ */

/* The cache holds each experiment as compact JSON text, without metadata.managedFields (as
 * controller-runtime's cache strips them): the operator never reads them, and a parsed
 * ProfilingExperiment takes about ten times its text's size (bench/operator: 3.2 MiB of the
 * peak heap for 100 experiments). A reconcile parses its key's text. */
static _Noreturn void cache_oom(void)
{
    fputs("morphling operator: out of memory\n", stderr);
    abort();
}

/* obj as the cache holds it: a JSON string. */
static json_t *cache_entry(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *shown = obj;
    if (json_object_get(meta, "managedFields")) {
        shown = json_copy(obj); /* shallow: obj stays as its caller holds it */
        json_t *m = json_copy(meta);
        json_object_del(m, "managedFields");
        json_object_set_new(shown, "metadata", m);
    } else {
        json_incref(shown);
    }
    char *text = json_dumps(shown, JSON_COMPACT);
    json_decref(shown);
    json_t *entry = text ? json_string_nocheck(text) : NULL;
    free(text);
    if (!entry) {
        cache_oom();
    }
    return entry;
}

/* key's experiment as the cache holds it (a new object), or NULL. */
static json_t *cache_get(struct op *op, const char *key)
{
    pthread_mutex_lock(&op->lock);
    json_t *text = json_incref(json_object_get(op->cache, key));
    pthread_mutex_unlock(&op->lock);
    json_t *pe = text ? json_loads(json_string_value(text), 0, NULL) : NULL;
    if (text && !pe) {
        cache_oom(); /* the text is jansson's own */
    }
    json_decref(text);
    return pe;
}

/* Listing experiments in a namespace that does not exist finds none, as in any other empty
 * namespace: an operator started with a mistyped --namespace waited quietly for ever. It may be
 * created later, so the operator goes on watching, but says so. One that may not read
 * namespaces cannot tell. */
#define NS_MISSING                                                                                 \
    ": no namespace of that name exists (yet); experiments created there once it does are run"

static bool ns_missing(struct op *op)
{
    if (!op->ns) {
        return false;
    }
    struct mp_kube_ref ref = {.version = "v1", .resource = "namespaces", .name = op->ns};
    struct mp_error err = {0};
    json_t *ns = NULL;
    int rc = mp_kube_get(op->c, &ref, NULL, &ns, &err);
    json_decref(ns);
    mp_error_clear(&err);
    return rc == MP_ENOTFOUND;
}

static int on_replace(void *ud, json_t *items, const char *rv)
{
    (void)rv;
    struct op *op = ud;
    json_t *fresh = json_object();
    size_t i;
    json_t *obj;
    json_array_foreach (items, i, obj) {
        char *key = mp_kube_key(obj);
        json_object_set_new(fresh, key, cache_entry(obj));
        free(key);
    }
    pthread_mutex_lock(&op->lock);
    json_t *old = op->cache;
    op->cache = fresh;
    pthread_mutex_unlock(&op->lock);
    /* Everything listed, and everything that vanished while the watch was down. */
    const char *key;
    json_object_foreach (fresh, key, obj) {
        op_queue_add(&op->q, key);
    }
    json_object_foreach (old, key, obj) {
        if (!json_object_get(fresh, key)) {
            op_queue_add(&op->q, key);
        }
    }
    json_decref(old);
    if (!atomic_exchange(&op->synced, true)) {
        op_log(op, "watching %zu experiment(s) in %s%s", json_object_size(fresh),
               op->ns ? op->ns : "all namespaces", ns_missing(op) ? NS_MISSING : "");
    }
    return 0;
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct op *op = ud;
    char *key = mp_kube_key(ev->object);
    json_t *entry = ev->type == MP_KUBE_DELETED ? NULL : cache_entry(ev->object);
    pthread_mutex_lock(&op->lock);
    if (entry) {
        json_object_set_new(op->cache, key, entry);
    } else {
        json_object_del(op->cache, key);
    }
    pthread_mutex_unlock(&op->lock);
    op_queue_add(&op->q, key);
    free(key);
    return 0;
}

static void on_retry(void *ud, const struct mp_error *err)
{
    op_log(ud, "watch of experiments: %s (retrying)", err->msg);
}

/* A watch that ran this long before its credentials failed starts the count in a row again. */
#define OP_CREDENTIAL_QUIET_MS 60000

/* Sleeps ms in short slices; false when the operator stops meanwhile. */
static bool pause_ms(struct op *op, int64_t ms)
{
    int64_t end = mp_mono_ns() + ms * 1000000;
    while (!mp_kube_cancel_fired(op->stop_token) && !atomic_load(op->o->stop) &&
           !atomic_load(&op->failed)) {
        int64_t left = end - mp_mono_ns();
        if (left <= 0) {
            return true;
        }
        struct timespec ts = {0, (long)(left < 50000000 ? left : 50000000)};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void *informer(void *p)
{
    struct op *op = p;
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "profilingexperiments", op->ns, NULL, NULL};
    struct mp_kube_opts o = {.limit = 500, .timeout_seconds = 300, .allow_bookmarks = true};
    struct mp_kube_reflector_ops ops = {on_replace, on_event, on_retry, false};
    struct mp_error err = {0};
    int failures = 0;
    int64_t wait_ms = 0;
    int rc;
    do {
        mp_error_clear(&err);
        int64_t t0 = mp_mono_ns();
        rc = mp_kube_reflect(op->c, &ref, &o, &ops, op, op->stop_token, &err);
        if ((mp_mono_ns() - t0) / 1000000 > OP_CREDENTIAL_QUIET_MS) {
            failures = 0; /* it watched a while: not in a row */
        }
        wait_ms =
            rc ? op_cred_retry_ms(op, rc, &failures, "watch of profilingexperiments", &err) : 0;
    } while (wait_ms > 0 && pause_ms(op, wait_ms));
    if (rc != 0 && wait_ms == 0) { /* not when it stopped during a wait to retry */
        mp_error_prefix(&err, rc, "watch of profilingexperiments");
        op_fail(op, &err);
    }
    return NULL;
}

/* ---- the Trials' watch ---------------------------------------------------------------------- */

/* A Trial that goes (`kubectl delete trial`) while its experiment runs here: the experiment's
 * key is queued with trials_gone set, and its reconcile creates the finished trials' Trials again
 * from the run's records (op_trials_restore); one whose trial runs is the run's own business
 * (trial.c: the trial runs again as a new attempt). After a re-list (the watch was down), every
 * run looks. uid NULL: every run. */
static void trials_gone(struct op *op, const char *uid)
{
    pthread_mutex_lock(&op->lock);
    for (size_t i = 0; i < op->n_exps; i++) {
        struct op_exp *x = op->exps[i];
        if (!uid || strcmp(x->uid, uid) == 0) {
            atomic_store(&x->trials_gone, true);
            op_queue_add(&op->q, x->key);
        }
    }
    pthread_mutex_unlock(&op->lock);
}

/* Notes Trial t as marked OP_LABEL_RESTORING (or no longer: marked false) for its
 * experiment's reconcile (restore_marked), which it queues. */
static void note_restoring(struct op *op, const json_t *t, bool marked)
{
    const char *exp = mp_kube_label(t, MP_OPERATOR_LABEL_EXPERIMENT_NAME);
    const char *ns = mp_kube_meta(t, "namespace"), *name = mp_kube_meta(t, "name");
    if (!exp || !ns || !name) {
        return;
    }
    char *key = mp_xasprintf("%s/%s", ns, exp);
    pthread_mutex_lock(&op->lock);
    json_t *set = json_object_get(op->restoring, key);
    if (marked && !set) {
        set = json_object();
        json_object_set_new(op->restoring, key, set);
    }
    if (marked) {
        json_object_set_new(set, name, json_true());
    } else if (set) {
        json_object_del(set, name);
    }
    pthread_mutex_unlock(&op->lock);
    if (marked) {
        op_queue_add(&op->q, key);
    }
    free(key);
}

/* After each (re)list of the Trials' watch: the Trials still marked as being created again (an
 * operator died before their status write), read here since the list itself reads none. */
static int on_trials_replace(void *ud, json_t *items, const char *rv)
{
    (void)items;
    (void)rv;
    struct op *op = ud;
    trials_gone(op, NULL);
    pthread_mutex_lock(&op->lock);
    json_object_clear(op->restoring); /* the list below is what is marked now */
    pthread_mutex_unlock(&op->lock);
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", op->ns, NULL, NULL};
    json_t *list = NULL;
    struct mp_error err = {0};
    int rc = op_list(op, &ref, OP_LABEL_RESTORING, &list, &err);
    if (rc != 0) {
        op_log(op, "watch of trials: listing the Trials marked %s: %s", OP_LABEL_RESTORING,
               err.msg);
        return rc;
    }
    size_t i;
    json_t *t;
    json_array_foreach (json_object_get(list, "items"), i, t) {
        note_restoring(op, t, true);
    }
    json_decref(list);
    return 0;
}

static int on_trial_event(void *ud, const struct mp_kube_event *ev)
{
    struct op *op = ud;
    const char *uid = mp_kube_label(ev->object, MP_OPERATOR_LABEL_EXPERIMENT);
    const char *exp = mp_kube_label(ev->object, MP_OPERATOR_LABEL_EXPERIMENT_NAME);
    const char *ns = mp_kube_meta(ev->object, "namespace");
    if (!uid) {
        return 0;
    }
    bool marked = mp_kube_label(ev->object, OP_LABEL_RESTORING) != NULL;
    if (ev->type != MP_KUBE_DELETED || marked) {
        note_restoring(op, ev->object, ev->type != MP_KUBE_DELETED && marked);
    }
    if (ev->type != MP_KUBE_DELETED) {
        return 0;
    }
    if (exp && ns) {
        /* Kept for its experiment's reconcile: once the experiment has ended, no run holds a
         * record of it, and this is its last state (restore_deleted). */
        char *key = mp_xasprintf("%s/%s", ns, exp);
        pthread_mutex_lock(&op->lock);
        json_t *list = json_object_get(op->deleted, key);
        if (!list) {
            list = json_array();
            json_object_set_new(op->deleted, key, list);
        }
        json_array_append(list, ev->object);
        pthread_mutex_unlock(&op->lock);
        op_queue_add(&op->q, key);
        free(key);
    }
    trials_gone(op, uid);
    return 0;
}

static void on_trials_retry(void *ud, const struct mp_error *err)
{
    op_log(ud, "watch of trials: %s (retrying)", err->msg);
}

/* Not fatal: without it a deleted finished Trial is created again when a run starts (as
 * before), so a refused watch (an operator bound to older rules) is logged and tried again. */
static void *trials_informer(void *p)
{
    struct op *op = p;
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", op->ns, NULL, NULL};
    struct mp_kube_opts o = {.timeout_seconds = 300,
                             .allow_bookmarks = true,
                             .label_selector = MP_OPERATOR_LABEL_EXPERIMENT};
    /* Deletions alone matter here (each run lists its own Trials), so the list before the
     * watch reads no Trial: listing them all (500 a page) took the operator's peak RSS from 13
     * to 74 MiB at a start beside 2,000 Trials (bench/operator/trials.sh), at every start. */
    struct mp_kube_reflector_ops ops = {on_trials_replace, on_trial_event, on_trials_retry, true};
    struct mp_error err = {0};
    do {
        mp_error_clear(&err);
        if (mp_kube_reflect(op->c, &ref, &o, &ops, op, op->stop_token, &err) == 0) {
            break;
        }
        op_log(op,
               "watch of trials: %s (a finished Trial deleted while its experiment runs is "
               "created again when a run starts; trying again in 30 s)",
               err.msg);
    } while (pause_ms(op, 30000));
    return NULL;
}

/* ---- reconcile ------------------------------------------------------------------------------ */

static struct op_exp *exp_find(struct op *op, const char *key)
{
    for (size_t i = 0; i < op->n_exps; i++) {
        if (strcmp(op->exps[i]->key, key) == 0) {
            return op->exps[i];
        }
    }
    return NULL;
}

/* An experiment that another operator runs, and its Lease, kept between looks: the Lease expires
 * a lease duration after this process first saw its record unchanged (client-go's observed
 * time), so the object must outlive one look. Only the worker uses them. */
struct op_cand {
    char *key, *uid;
    struct op_lease *lease;
    char *noted;     /* the holder last logged */
    int64_t next_ns; /* the next look */
};

static struct op_cand *cand_find(struct op *op, const char *key)
{
    for (size_t i = 0; i < op->n_cands; i++) {
        if (strcmp(op->cands[i].key, key) == 0) {
            return &op->cands[i];
        }
    }
    return NULL;
}

/* key's kept Lease, for a new look (the entry stays, so that its holder is logged once); NULL
 * when there is none, or it is an earlier experiment's of that name. */
static struct op_lease *cand_lease(struct op *op, const char *key, const char *uid)
{
    struct op_cand *c = cand_find(op, key);
    struct op_lease *l = c ? c->lease : NULL;
    if (c) {
        c->lease = NULL;
    }
    if (l && strcmp(c->uid, uid) != 0) {
        op_lease_release(l, false);
        l = NULL;
    }
    return l;
}

/* Forgets key's entry: nobody needs to run it, or this process has. */
static void cand_forget(struct op *op, const char *key)
{
    struct op_cand *c = cand_find(op, key);
    if (!c) {
        return;
    }
    op_lease_release(c->lease, false);
    free(c->key);
    free(c->uid);
    free(c->noted);
    *c = op->cands[--op->n_cands];
}

/* Another operator holds l, or may (this process lost it): keep it for the next look, in a lease
 * duration, and say who holds it, once per holder. */
static void cand_keep(struct op *op, const char *key, const char *uid, struct op_lease *l)
{
    struct op_cand *c = cand_find(op, key);
    if (!c) {
        op->cands = mp_xreallocarray(op->cands, op->n_cands + 1, sizeof(*op->cands));
        c = &op->cands[op->n_cands++];
        *c = (struct op_cand){mp_xstrdup(key), NULL, NULL, NULL, 0};
    }
    free(c->uid);
    c->uid = mp_xstrdup(uid);
    op_lease_release(c->lease, false);
    c->lease = l;
    /* (A Lease this process lost names it as the holder until another takes it.) */
    if (strcmp(op_lease_holder(l), op->identity) != 0 &&
        (!c->noted || strcmp(c->noted, op_lease_holder(l)) != 0)) {
        free(c->noted);
        c->noted = mp_xstrdup(op_lease_holder(l));
        op_log(op, "%s: run by the operator %s (it holds the Lease %s)", key, c->noted,
               op_lease_name(l));
    }
    c->next_ns = mp_mono_ns() + op_lease_duration_ms(l) * 1000000;
    op_queue_add_after(&op->q, key, op_lease_duration_ms(l));
}

/* Joins the runs that have ended (each queues its own key when it ends, so a reconcile comes
 * after every end); when experiments wait for a slot, queues every key again. */
static void reap(struct op *op)
{
    bool reaped = false;
    pthread_mutex_lock(&op->lock);
    for (size_t i = 0; i < op->n_exps;) {
        struct op_exp *x = op->exps[i];
        if (atomic_load(&x->ended)) {
            op->exps[i] = op->exps[--op->n_exps];
            pthread_mutex_unlock(&op->lock);
            if (x->other_holds) {
                cand_keep(op, x->key, x->uid, x->claim);
                x->claim = NULL;
            } else {
                cand_forget(op, x->key);
            }
            op_exp_free(x);
            reaped = true;
            atomic_store(&op->trim, true);
            pthread_mutex_lock(&op->lock);
            i = 0;
            continue;
        }
        i++;
    }
    bool wake = reaped && op->waiting;
    op->waiting = op->waiting && !wake;
    pthread_mutex_unlock(&op->lock);
    if (wake) {
        op_enqueue_all(op);
    }
}

/* A new run of pe: its thread takes the experiment's Lease, reads it again and checks its spec
 * (experiment.c), so that starting a run costs the worker no call. */
static int start_run(struct op *op, const char *key, const json_t *pe, struct mp_error *err)
{
    struct op_cand *c = cand_find(op, key);
    int64_t now = mp_mono_ns();
    if (c && now < c->next_ns) {
        /* Another operator runs it: looked at again when its Lease may have expired (queued
         * again here, since an earlier queueing of the key may have replaced that look). */
        op_queue_add_after(&op->q, key, (c->next_ns - now) / 1000000 + 1);
        return 0;
    }
    struct op_exp *x = NULL;
    int rc = op_exp_start(op, pe, cand_lease(op, key, mp_kube_meta(pe, "uid")), &x, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&op->lock);
    op->exps = mp_xreallocarray(op->exps, op->n_exps + 1, sizeof(*op->exps));
    op->exps[op->n_exps++] = x;
    pthread_mutex_unlock(&op->lock);
    return 0;
}

/* The status a Trial created again is to get: the one its DELETED event held (d), else the one
 * its mark held (an operator died before writing it, then the Trial was deleted again). New,
 * NULL when neither is there. */
static json_t *restored_status(const json_t *d)
{
    json_t *st = json_object_get(d, "status");
    if (json_is_object(st) && json_object_size(st) > 0) {
        return json_incref(st);
    }
    const char *text = json_string_value(json_object_get(
        json_object_get(json_object_get(d, "metadata"), "annotations"), OP_ANNOTATION_RESTORING));
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* The second half of a Trial's restore (t: the Trial as it is now, marked): its status written
 * from its mark, then the mark removed, with a Warning Event TrialDeleted, so that the
 * experiment's status keeps matching its Trials and `kubectl get trials` keeps every result, as
 * while it ran. Each step may be repeated: an operator killed in between leaves the mark, and
 * the next one does it all again. 0 too when the Trial has gone meanwhile. */
static int restore_finish(struct op *op, const json_t *pe, const json_t *t, struct mp_error *err)
{
    struct mp_kube_ref ref = {
        OP_GROUP, OP_VERSION, "trials", mp_kube_meta(t, "namespace"), mp_kube_meta(t, "name"),
        "status"};
    json_t *st = restored_status(t);
    int rc = 0;
    if (st) {
        json_t *patch = json_pack("{s:O}", "status", st);
        rc = op_merge_patch(op, &ref, patch, NULL, err);
        json_decref(patch);
    }
    if (rc == 0 && mp_kube_label(t, OP_LABEL_RESTORING)) {
        ref.subresource = NULL;
        json_t *patch = json_pack("{s:{s:{s:n},s:{s:n}}}", "metadata", "labels", OP_LABEL_RESTORING,
                                  "annotations", OP_ANNOTATION_RESTORING);
        rc = op_merge_patch(op, &ref, patch, NULL, err);
        json_decref(patch);
    }
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        json_decref(st);
        return 0;
    }
    if (rc != 0) {
        json_decref(st);
        return mp_error_prefix(err, rc, "creating Trial %s/%s again", ref.ns, ref.name);
    }
    const char *state = json_string_value(json_object_get(st, "state"));
    op_event(op, pe, "Warning", "TrialDeleted",
             "Trial %s/%s of trial %lld, which had ended (%s), was deleted after the experiment "
             "ended: created again with its result; delete the experiment to remove its Trials",
             ref.ns, ref.name,
             (long long)json_integer_value(json_object_get(json_object_get(t, "spec"), "number")),
             state ? state : "?");
    op_log(op, "%s/%s: Trial %s deleted after the experiment ended: created again with its result",
           ref.ns, mp_kube_meta(pe, "name"), ref.name);
    json_decref(st);
    return 0;
}

/* A Trial of a finished experiment, deleted (`kubectl delete trial`): created again as its
 * DELETED event held it (name, labels, owner, spec), marked OP_LABEL_RESTORING with its status
 * in the mark's annotation, then restore_finish writes the status and removes the mark. The
 * API server ignores a status in a create (the status subresource), so the mark is what keeps
 * the status should the operator die before its status write: the next operator finds the
 * Trial marked (restore_marked). 0 when it exists again (also when another operator was
 * first: that one, or its successor, finishes it). */
static int restore_deleted_one(struct op *op, const json_t *pe, const json_t *d,
                               struct mp_error *err)
{
    const json_t *meta = json_object_get(d, "metadata");
    json_t *obj =
        mp_kube_object_new(OP_API, "Trial", mp_kube_meta(d, "namespace"), mp_kube_meta(d, "name"));
    json_t *m = json_object_get(obj, "metadata");
    static const char *const kept[] = {"labels", "annotations", "ownerReferences"};
    for (size_t i = 0; i < MP_ARRAY_LEN(kept); i++) {
        json_t *v = json_object_get(meta, kept[i]);
        if (v) {
            json_object_set_new(m, kept[i], json_deep_copy(v));
        }
    }
    json_t *st = restored_status(d);
    if (st) {
        char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
        json_t *labels = json_object_get(m, "labels");
        if (!labels) {
            labels = json_object();
            json_object_set_new(m, "labels", labels);
        }
        json_object_set_new(labels, OP_LABEL_RESTORING, json_string("true"));
        json_t *ann = json_object_get(m, "annotations");
        if (!ann) {
            ann = json_object();
            json_object_set_new(m, "annotations", ann);
        }
        json_object_set_new(ann, OP_ANNOTATION_RESTORING, json_string(text));
        free(text);
        json_decref(st);
    }
    json_object_set(obj, "spec", json_object_get(d, "spec"));
    struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", mp_kube_meta(d, "namespace"),
                              NULL,     NULL};
    int rc = op_create(op, &ref, obj, 0, NULL, err);
    if (rc == 0) {
        rc = restore_finish(op, pe, obj, err);
    } else if (rc == MP_EEXISTS) {
        mp_error_clear(err);
        rc = 0;
    } else {
        mp_error_prefix(err, rc, "creating Trial %s/%s again", ref.ns, mp_kube_meta(d, "name"));
    }
    json_decref(obj);
    return rc;
}

/* Takes key's entry out of map (op->deleted, op->restoring) under the lock. New, NULL when
 * there is none. */
static json_t *take_pending(struct op *op, json_t *map, const char *key)
{
    pthread_mutex_lock(&op->lock);
    json_t *v = json_incref(json_object_get(map, key));
    json_object_del(map, key);
    pthread_mutex_unlock(&op->lock);
    return v;
}

/* The Trials of key's experiment marked as being created again (restore_deleted_one) by an
 * operator that may have died before their status write: once the experiment has ended and
 * still exists (not being deleted), each one that is still marked and is the experiment's
 * gets its status from its mark (restore_finish). Kept for later while this process does not
 * lead or the experiment is not in the cache (not yet listed at a start, or gone: the garbage
 * collector's deletes of its Trials remove them, on_trial_event) or has not ended. pe: the
 * experiment as cached; finished: it has ended and this process does not run it. */
static int restore_marked(struct op *op, const char *key, const json_t *pe, bool finished,
                          struct mp_error *err)
{
    json_t *set = take_pending(op, op->restoring, key);
    bool gone = !pe || mp_kube_meta(pe, "deletionTimestamp");
    int rc = 0;
    const char *name;
    json_t *v;
    json_t *todo = set && !gone && finished && atomic_load(&op->leader) ? set : NULL;
    json_object_foreach (todo, name, v) {
        struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "trials", mp_kube_meta(pe, "namespace"),
                                  name,     NULL};
        json_t *t = NULL;
        rc = op_get(op, &ref, 0, &t, err);
        const char *uid = mp_kube_meta(pe, "uid");
        const char *tuid = rc == 0 ? mp_kube_label(t, MP_OPERATOR_LABEL_EXPERIMENT) : NULL;
        if (rc == 0 && mp_kube_label(t, OP_LABEL_RESTORING) && tuid && strcmp(tuid, uid) == 0 &&
            mp_kube_owned_by(t, uid) && !mp_kube_meta(t, "deletionTimestamp")) {
            rc = restore_finish(op, pe, t, err);
        }
        json_decref(t);
        if (rc == MP_ENOTFOUND) {
            mp_error_clear(err);
            rc = 0;
        }
        if (rc != 0) {
            break;
        }
    }
    if (set && (!todo || rc != 0)) {
        /* Not now, or retried with the key's backoff after an error (each step may be done
         * again): kept, with any noted since. */
        pthread_mutex_lock(&op->lock);
        json_t *cur = json_object_get(op->restoring, key);
        if (cur) {
            json_object_update(set, cur);
        }
        json_object_set(op->restoring, key, set);
        pthread_mutex_unlock(&op->lock);
    }
    json_decref(set);
    return rc;
}

/* The Trials of key's experiment deleted since its last reconcile: when the experiment has ended
 * (and still exists as the one they belong to, not being deleted: a Trial the garbage collector
 * removes with its experiment stays gone), each is created again; otherwise they are dropped (a
 * run of this process restores its own from its records, op_trials_restore; another operator's
 * run does the same). pe: the experiment as cached, NULL while this process runs it; finished:
 * it has ended. */
static int restore_deleted(struct op *op, const char *key, const json_t *pe, bool finished,
                           struct mp_error *err)
{
    json_t *list = take_pending(op, op->deleted, key);
    if (!list || !pe || !finished || mp_kube_meta(pe, "deletionTimestamp") ||
        !atomic_load(&op->leader)) {
        json_decref(list);
        return 0;
    }
    const char *uid = mp_kube_meta(pe, "uid");
    /* The cache may not know yet that the experiment is gone: ask. */
    struct mp_kube_ref ref = {OP_GROUP,
                              OP_VERSION,
                              "profilingexperiments",
                              mp_kube_meta(pe, "namespace"),
                              mp_kube_meta(pe, "name"),
                              NULL};
    json_t *now = NULL;
    int rc = op_get(op, &ref, 0, &now, err);
    const char *now_uid = rc == 0 ? mp_kube_meta(now, "uid") : NULL;
    bool alive = now_uid && strcmp(now_uid, uid) == 0 && !mp_kube_meta(now, "deletionTimestamp");
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        rc = 0;
    }
    size_t i;
    json_t *d;
    json_array_foreach (rc == 0 && alive ? list : NULL, i, d) {
        const char *tuid = mp_kube_label(d, MP_OPERATOR_LABEL_EXPERIMENT);
        if (tuid && strcmp(tuid, uid) == 0 && mp_kube_owned_by(d, uid) &&
            (rc = restore_deleted_one(op, now, d, err)) != 0) {
            break;
        }
    }
    if (rc != 0) {
        /* Retried (the key's backoff) with every one: a Trial created meanwhile is kept. */
        pthread_mutex_lock(&op->lock);
        json_t *cur = json_object_get(op->deleted, key);
        if (cur) {
            json_array_extend(list, cur);
        }
        json_object_set(op->deleted, key, list);
        pthread_mutex_unlock(&op->lock);
    }
    json_decref(now);
    json_decref(list);
    return rc;
}

static int reconcile(struct op *op, const char *key, struct mp_error *err)
{
    reap(op);
    json_t *pe = cache_get(op, key);
    pthread_mutex_lock(&op->lock);
    struct op_exp *x = exp_find(op, key);
    const char *uid = pe ? mp_kube_meta(pe, "uid") : NULL;
    bool gone = !pe || mp_kube_meta(pe, "deletionTimestamp");
    bool done = uid && mp_strset_has(&op->done, uid);
    if (x && (gone || strcmp(x->uid, uid) != 0)) {
        /* Deleted (or replaced by a new object of the same name): stop the run; its end queues
         * the key again. The garbage collector removes the Trials and their objects. */
        if (!atomic_exchange(&x->cancel, true)) {
            op_log(op, "%s: deleted; stopping its run", key);
        }
    }
    pthread_mutex_unlock(&op->lock);
    if (gone || done || op_pe_finished(pe)) {
        cand_forget(op, key);
    }
    int rc = 0;
    if (!gone && atomic_load(&op->leader)) {
        /* Only the worker frees runs (reap), so x stays valid here. */
        rc = op_status_observe(op, pe, x && strcmp(x->uid, uid) == 0 ? x : NULL, err);
    }
    if (rc == 0 && x && !gone && strcmp(x->uid, uid) == 0 && atomic_load(&op->leader) &&
        atomic_exchange(&x->trials_gone, false) && (rc = op_trials_restore(x, err)) != 0) {
        atomic_store(&x->trials_gone, true); /* the retry looks again */
    }
    if (rc == 0) {
        /* (x is NULL here once its run has ended: reap.) */
        rc = restore_deleted(op, key, x ? NULL : pe, done || op_pe_finished(pe), err);
    }
    if (rc == 0) {
        rc = restore_marked(op, key, pe, !x && (done || op_pe_finished(pe)), err);
    }
    if (rc == 0 && !x && !gone && !done && atomic_load(&op->leader) && !op_pe_finished(pe)) {
        pthread_mutex_lock(&op->lock);
        bool full = op->max_running > 0 && op->n_exps >= op->max_running;
        if (full) {
            op->waiting = true; /* a run's end queues every key again */
        }
        pthread_mutex_unlock(&op->lock);
        /* A waiting experiment says so (State Created), not a blank status. */
        rc = full ? op_status_waiting(op, pe, op->max_running, err) : start_run(op, key, pe, err);
    }
    json_decref(pe);
    return rc;
}

/* The key's backoff is reset by a run that finishes, not by the reconcile that starts it, so a
 * run that keeps failing (the API server down) is restarted less and less often. */
static bool run_started(struct op *op, const char *key)
{
    pthread_mutex_lock(&op->lock);
    bool r = exp_find(op, key) != NULL;
    pthread_mutex_unlock(&op->lock);
    return r;
}

static void *worker(void *p)
{
    struct op *op = p;
    int64_t added_ns = 0;
    char *key;
    while ((key = op_queue_get(&op->q, &added_ns))) {
        pthread_mutex_lock(&op->m.lock);
        op_hist_add(&op->m.reconcile_delay, (double)(mp_mono_ns() - added_ns) / 1e9);
        pthread_mutex_unlock(&op->m.lock);
        struct mp_error err = {0};
        int rc = reconcile(op, key, &err);
        pthread_mutex_lock(&op->m.lock);
        *(rc == 0 ? &op->m.reconciles_ok : &op->m.reconciles_err) += 1;
        pthread_mutex_unlock(&op->m.lock);
        if (rc == 0 && !run_started(op, key)) {
            op_queue_forget(&op->q, key);
        } else if (rc != 0) {
            op_log(op, "%s: %s (retrying)", key, err.msg);
            op_queue_fail(&op->q, key);
        }
        op_queue_done(&op->q, key);
        free(key);
    }
    return NULL;
}

/* ---- set-up and shutdown ------------------------------------------------------------------- */

static void op_init(struct op *op, struct mp_kube_client *c, const struct mp_operator_opts *o)
{
    memset(op, 0, sizeof(*op));
    op->c = c;
    op->o = o;
    op->rops = o->runner ? o->runner : &mp_operator_default_runner;
    op->log = o->log ? o->log : stderr;
    const struct mp_kube_config *cfg = mp_kube_client_config(c);
    op->ns = o->all_namespaces ? NULL : mp_xstrdup(o->ns ? o->ns : mp_kube_config_namespace(cfg));
    const char *tmp = o->work_dir ? o->work_dir : getenv("TMPDIR");
    op->work_dir = mp_xstrdup(tmp && *tmp ? tmp : "/tmp");
    op->files_dir = o->files_dir ? mp_xstrdup(o->files_dir)
                                 : mp_xasprintf("%s/morphling-operator-files", op->work_dir);
    const char *sa = getenv("POD_SERVICE_ACCOUNT"), *sa_ns = getenv("POD_NAMESPACE");
    if (sa && *sa && sa_ns && *sa_ns) {
        op->self_sa = mp_xstrdup(sa);
        op->self_ns = mp_xstrdup(sa_ns);
    }
    char host[256] = "operator";
    (void)gethostname(host, sizeof(host) - 1);
    op->identity = o->identity ? mp_xstrdup(o->identity)
                               : mp_xasprintf("%s_%ld_%08llx", host, (long)getpid(),
                                              (unsigned long long)(mp_mix64((uint64_t)mp_wall_ns(),
                                                                            (uint64_t)getpid()) &
                                                                   0xffffffffu));
    pthread_mutex_init(&op->lock, NULL);
    op->cache = json_object();
    op->deleted = json_object();
    op->restoring = json_object();
    op->done = (struct mp_strset)MP_STRSET_INIT;
    op->max_running = o->max_running > 0 ? (size_t)o->max_running : o->max_running < 0 ? 0 : 16;
    op_queue_init(&op->q);
    op_metrics_init(&op->m);
    op->stop_token = mp_kube_cancel_new();
    op->fence = mp_kube_cancel_new();
}

static void op_release(struct op *op)
{
    op_queue_release(&op->q);
    op_metrics_release(&op->m);
    mp_kube_cancel_free(op->stop_token);
    mp_kube_cancel_free(op->fence);
    json_decref(op->cache);
    json_decref(op->deleted);
    json_decref(op->restoring);
    mp_strset_release(&op->done);
    while (op->n_cands) {
        cand_forget(op, op->cands[0].key);
    }
    free(op->cands);
    free(op->exps);
    free(op->ns);
    free(op->work_dir);
    free(op->files_dir);
    free(op->self_sa);
    free(op->self_ns);
    free(op->identity);
    pthread_mutex_destroy(&op->lock);
}

/* Stops every run (they leave their trials to the next operator) and waits for them. */
static void stop_runs(struct op *op)
{
    pthread_mutex_lock(&op->lock);
    for (size_t i = 0; i < op->n_exps; i++) {
        atomic_store(&op->exps[i]->cancel, true);
    }
    pthread_mutex_unlock(&op->lock);
    for (;;) {
        pthread_mutex_lock(&op->lock);
        struct op_exp *x = op->n_exps ? op->exps[--op->n_exps] : NULL;
        pthread_mutex_unlock(&op->lock);
        if (!x) {
            break;
        }
        op_exp_free(x);
    }
}

static void wait_for_stop(struct op *op)
{
    while (!atomic_load(op->o->stop) && !atomic_load(&op->failed)) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&op->lock);
        bool idle = op->n_exps == 0;
        pthread_mutex_unlock(&op->lock);
        if (idle && atomic_exchange(&op->trim, false)) {
            /* The finished runs' engines, caches and threads freed a lot: give it back, so an
             * idle operator is small again (here, off the reconcile path). */
            (void)malloc_trim(0);
        }
    }
}

/* Each experiment's run keeps its engine cache in the work folder: one the operator cannot write
 * in ends it at start, naming it (it was ready, and retried every run for ever). */
static int check_work_dir(const struct op *op, struct mp_error *err)
{
    char *probe = mp_xasprintf("%s/.morphling-operator-XXXXXX", op->work_dir);
    int fd = mkstemp(probe);
    int e = errno;
    if (fd >= 0) {
        close(fd);
        (void)unlink(probe);
    }
    free(probe);
    if (fd < 0) {
        return mp_error_set(err, -e,
                            "the work folder '%s' (--work-dir, else $TMPDIR or /tmp), where each "
                            "experiment's run keeps its cache, cannot be written: %s",
                            op->work_dir, strerror(e));
    }
    return 0;
}

/* A --files-dir that is no folder ends the operator at start: every experiment naming a file
 * there failed (InvalidSpec) for the operator's own typo. */
static int check_files_dir(const char *dir, struct mp_error *err)
{
    struct stat st;
    int e = stat(dir, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    return e ? mp_error_set(err, -e, "--files-dir '%s': %s", dir, strerror(e)) : 0;
}

int mp_operator_run(struct mp_kube_client *c, const struct mp_operator_opts *opts,
                    struct mp_error *err)
{
    /* One experiment thread per running experiment: without a cap glibc gives each its own
     * malloc arena, and their free memory stays resident. One arena: the threads mostly wait
     * on the API server, and bench/operator's RSS peak was 1-1.7 MiB lower than with two at
     * the same wall time. */
    (void)mallopt(M_ARENA_MAX, 1);
    struct op op;
    op_init(&op, c, opts);
    struct op_http *http = NULL;
    struct op_lease *lease = NULL;
    pthread_t inf, tinf, wk;
    bool inf_started = false, tinf_started = false, wk_started = false;
    int rc = check_work_dir(&op, err);
    if (rc == 0 && !opts->files_dir && mkdir(op.files_dir, 0700) != 0 && errno != EEXIST) {
        rc = mp_error_set(err, -errno, "cannot create '%s': %s", op.files_dir, strerror(errno));
    } else if (rc == 0 && opts->files_dir) {
        rc = check_files_dir(op.files_dir, err);
    }
    if (rc == 0) {
        rc = op_http_start(&op, &http, err);
    }
    if (rc == 0 && pthread_create(&inf, NULL, informer, &op) == 0) {
        inf_started = true;
    }
    if (rc == 0 && pthread_create(&tinf, NULL, trials_informer, &op) == 0) {
        tinf_started = true;
    }
    if (rc == 0 && pthread_create(&wk, NULL, worker, &op) == 0) {
        wk_started = true;
    }
    if (rc == 0 && (!inf_started || !tinf_started || !wk_started)) {
        rc = mp_error_set(err, MP_ERUNTIME, "cannot start the operator's threads");
    }
    if (rc == 0 && opts->leader_elect) {
        rc = op_lead(&op, &lease, err);
        rc = rc == MP_ECANCELLED ? 0 : rc;
    } else if (rc == 0) {
        atomic_store(&op.leader, true);
    }
    if (rc == 0 && atomic_load(&op.leader)) {
        op_enqueue_all(&op);
        wait_for_stop(&op);
    }
    op_log(&op, "stopping");
    op_queue_shutdown(&op.q);
    if (wk_started) {
        pthread_join(wk, NULL);
    }
    stop_runs(&op);
    op_lease_release(lease, false);
    mp_kube_cancel_fire(op.stop_token);
    if (inf_started) {
        pthread_join(inf, NULL);
    }
    if (tinf_started) {
        pthread_join(tinf, NULL);
    }
    op_http_stop(http);
    if (rc == 0 && atomic_load(&op.failed)) {
        *err = op.fail_err;
        rc = err->code ? err->code : MP_ERUNTIME;
    }
    op_release(&op);
    return rc;
}
