/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve --kube`: two reflectors (ProfilingExperiments, Trials) copy what the operator
 * wrote into the server's store, so the API and the dashboard show the cluster's experiments.
 * Both threads share one store handle and two caches under one lock; every change re-syncs the
 * experiment it touches. The store is a mirror: an experiment gone from the cluster goes from it,
 * and trials only move forward (PENDING -> RUNNING -> finished), as the operator moves them. */
#include "server/server.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/events.h"
#include "kube/kube.h"
#include "spec/spec.h"
#include "store/store.h"
#include "trial/trial.h"

#define PE_GROUP   "morphling.kubedl.io"
#define PE_VERSION "v1alpha1"

struct mp_kube_mirror {
    struct mp_kube_client *client;
    char *ns; /* NULL: every namespace */
    struct mp_store *st;
    pthread_mutex_t lock;
    json_t *pes;    /* "ns/name" -> ProfilingExperiment */
    json_t *trials; /* "ns/name" -> Trial */
    struct mp_kube_cancel *stop;
    pthread_t threads[2];
    bool started[2];
};

struct reflector {
    struct mp_kube_mirror *m;
    bool trials;
};

/* The store name of a cluster experiment: its name, or "NS.NAME" across namespaces. */
static char *store_name(const struct mp_kube_mirror *m, const char *ns, const char *name)
{
    return m->ns ? mp_xstrdup(name) : mp_xasprintf("%s.%s", ns, name);
}

/* The experiment state the operator's conditions say (the last true one wins). */
static enum mp_experiment_state pe_state(const json_t *pe)
{
    enum mp_experiment_state s = MP_EXPERIMENT_CREATED;
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(json_object_get(pe, "status"), "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        if (!type || !status || strcmp(status, "True") != 0) {
            continue;
        }
        if (strcmp(type, "Succeeded") == 0) {
            s = MP_EXPERIMENT_SUCCEEDED;
        } else if (strcmp(type, "Failed") == 0) {
            s = MP_EXPERIMENT_FAILED;
        } else if (strcmp(type, "Running") == 0 && s < MP_EXPERIMENT_SUCCEEDED) {
            s = MP_EXPERIMENT_RUNNING;
        }
    }
    return s;
}

/* Whether the Trial belongs to the experiment ns/name. */
static bool owned_by(const json_t *trial, const char *ns, const char *name)
{
    const char *tns = mp_kube_meta(trial, "namespace");
    if (!tns || strcmp(tns, ns) != 0) {
        return false;
    }
    size_t i;
    json_t *o;
    json_array_foreach (json_object_get(json_object_get(trial, "metadata"), "ownerReferences"), i,
                        o) {
        const char *kind = json_string_value(json_object_get(o, "kind"));
        const char *n = json_string_value(json_object_get(o, "name"));
        if (kind && n && strcmp(kind, "ProfilingExperiment") == 0 && strcmp(n, name) == 0) {
            return true;
        }
    }
    return false;
}

/* The Trial's state: its recorded final state, RUNNING when its Running condition is true. */
static enum mp_trial_state trial_state(const json_t *status)
{
    const char *s = json_string_value(json_object_get(status, "state"));
    int st = s ? mp_trial_state_parse(s) : -1;
    if (st >= 0 && mp_trial_state_terminal((enum mp_trial_state)st)) {
        return (enum mp_trial_state)st;
    }
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(status, "conditions"), i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *cs = json_string_value(json_object_get(c, "status"));
        if (type && cs && strcmp(type, "Running") == 0 && strcmp(cs, "True") == 0) {
            return MP_TRIAL_RUNNING;
        }
    }
    return MP_TRIAL_PENDING;
}

static void result_of(const json_t *status, enum mp_trial_state state, struct mp_trial_result *r)
{
    mp_trial_result_init(r);
    r->state = state;
    const char *f = json_string_value(json_object_get(status, "failure"));
    int failure = f ? mp_failure_parse(f) : -1;
    r->failure = failure >= 0 ? (enum mp_failure)failure : MP_FAILURE_NONE;
    const char *reason = json_string_value(json_object_get(status, "reason"));
    r->reason = reason && *reason ? mp_xstrdup(reason) : NULL;
    const char *k;
    json_t *v;
    json_object_foreach (json_object_get(status, "metrics"), k, v) {
        if (json_is_number(v)) {
            mp_metrics_set(&r->metrics, k, json_number_value(v));
        }
    }
}

/* The detail of a trial's event for the dashboard's live view, as the engine writes it: its
 * parameters, state and failure. Owned. */
static char *event_detail(const json_t *trial)
{
    const json_t *status = json_object_get(trial, "status");
    json_t *d =
        json_pack("{s:O, s:s}", "params", json_object_get(json_object_get(trial, "spec"), "config"),
                  "state", mp_trial_state_name(trial_state(status)));
    const char *f = json_string_value(json_object_get(status, "failure"));
    if (f && *f && strcmp(f, mp_failure_name(MP_FAILURE_NONE)) != 0) {
        json_object_set_new(d, "failure", json_string(f));
    }
    char *detail = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return detail;
}

static int sync_trial(struct mp_store *st, int64_t exp_id, const json_t *trial,
                      const struct mp_trial_row *row, struct mp_error *err)
{
    const json_t *spec = json_object_get(trial, "spec");
    int64_t number = json_integer_value(json_object_get(spec, "number"));
    const json_t *config = json_object_get(spec, "config");
    if (number <= 0 || !json_is_object(config)) {
        return 0; /* not one the operator wrote */
    }
    const json_t *status = json_object_get(trial, "status");
    enum mp_trial_state want = trial_state(status);
    enum mp_trial_state have = row ? row->state : MP_TRIAL_PENDING;
    int rc = 0;
    if (!row) {
        char *params = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
        char *key = mp_xasprintf("kube:%lld", (long long)number);
        rc = mp_store_trial_create(st, exp_id, number, params, key, err);
        free(params);
        free(key);
    }
    /* Each event in the transaction of the change it announces. */
    char *detail = event_detail(trial);
    if (rc == 0 && have == MP_TRIAL_PENDING && want != MP_TRIAL_PENDING) {
        int64_t attempt = 0;
        struct mp_store_event ev = {mp_engine_event_name(MP_EVENT_TRIAL_STARTED), detail};
        rc = mp_store_trial_start_ev(st, exp_id, number, &attempt, &ev, 1, err);
    }
    if (rc == 0 && !mp_trial_state_terminal(have) && mp_trial_state_terminal(want)) {
        struct mp_trial_result res;
        result_of(status, want, &res);
        struct mp_store_event ev = {mp_engine_event_name(MP_EVENT_TRIAL_FINISHED), detail};
        rc = mp_store_trial_finish_ev(st, exp_id, number, &res, &ev, 1, err);
        mp_trial_result_release(&res);
    }
    free(detail);
    return rc;
}

/* The stored experiment of a ProfilingExperiment, created when missing. */
static int find_or_create(struct mp_kube_mirror *m, const json_t *pe, const char *sname,
                          struct mp_experiment_row *row, struct mp_error *err)
{
    int rc = mp_store_experiment_find(m->st, sname, row, NULL);
    if (rc != MP_ENOTFOUND) {
        return rc == 0 ? 0 : mp_store_experiment_find(m->st, sname, row, err);
    }
    json_t *doc = mp_kube_object_new(json_string_value(json_object_get(pe, "apiVersion")),
                                     json_string_value(json_object_get(pe, "kind")),
                                     mp_kube_meta(pe, "namespace"), mp_kube_meta(pe, "name"));
    json_object_set(doc, "spec", json_object_get(pe, "spec"));
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    /* One the report cannot read would break the whole list: it stays out (its condition
     * Failed, reason InvalidSpec, says why). */
    struct mp_spec *spec = NULL;
    rc = mp_spec_parse(text, strlen(text), sname, "/", NULL, 0, &spec, NULL);
    mp_spec_free(spec);
    if (rc != 0) {
        free(text);
        return MP_ENOTFOUND;
    }
    int64_t id = 0;
    rc = mp_store_experiment_create(m->st, sname, text, "/", 0, &id, err);
    free(text);
    return rc == 0 ? mp_store_experiment_find(m->st, sname, row, err) : rc;
}

/* Brings the stored copy of one ProfilingExperiment and its Trials up to date. */
static int sync_pe(struct mp_kube_mirror *m, const json_t *pe, struct mp_error *err)
{
    const char *ns = mp_kube_meta(pe, "namespace"), *name = mp_kube_meta(pe, "name");
    if (!ns || !name) {
        return 0;
    }
    char *sname = store_name(m, ns, name);
    struct mp_experiment_row row = {0};
    int rc = find_or_create(m, pe, sname, &row, err);
    if (rc == MP_ENOTFOUND) {
        free(sname);
        return 0; /* a spec that does not validate */
    }
    enum mp_experiment_state s = pe_state(pe);
    if (rc == 0 && row.state != s) {
        enum mp_engine_event kind = s >= MP_EXPERIMENT_SUCCEEDED ? MP_EVENT_EXPERIMENT_FINISHED
                                                                 : MP_EVENT_EXPERIMENT_STARTED;
        char *detail = mp_xasprintf("{\"state\":\"%s\"}", mp_experiment_state_name(s));
        struct mp_store_event ev = {mp_engine_event_name(kind), detail};
        rc = mp_store_experiment_set_state_ev(m->st, row.id, s, NULL, &ev,
                                              s != MP_EXPERIMENT_CREATED ? 1 : 0, err);
        free(detail);
    }
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    if (rc == 0) {
        rc = mp_store_trial_list(m->st, row.id, &rows, &n, err);
    }
    const char *k;
    json_t *t;
    json_t *seen = json_object(); /* numbers synced in this pass: the first object listed wins */
    json_object_foreach (rc == 0 ? m->trials : NULL, k, t) {
        if (!owned_by(t, ns, name)) {
            continue;
        }
        int64_t number = json_integer_value(json_object_get(json_object_get(t, "spec"), "number"));
        char key[24];
        snprintf(key, sizeof(key), "%lld", (long long)number);
        if (json_object_get(seen, key)) {
            continue; /* a second Trial of one number would make the store refuse the rest */
        }
        json_object_set_new(seen, key, json_true());
        const struct mp_trial_row *tr = NULL;
        for (size_t i = 0; i < n; i++) {
            tr = rows[i].number == number ? &rows[i] : tr;
        }
        if ((rc = sync_trial(m->st, row.id, t, tr, err)) != 0) {
            break;
        }
    }
    json_decref(seen);
    mp_trial_rows_free(rows, n);
    mp_experiment_row_release(&row);
    free(sname);
    return rc;
}

/* Removes stored experiments whose ProfilingExperiment is gone. */
static int prune(struct mp_kube_mirror *m, struct mp_error *err)
{
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_list(m->st, &rows, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool found = false;
        const char *k;
        json_t *pe;
        json_object_foreach (m->pes, k, pe) {
            char *s = store_name(m, mp_kube_meta(pe, "namespace"), mp_kube_meta(pe, "name"));
            found = found || strcmp(s, rows[i].name) == 0;
            free(s);
        }
        if (!found) {
            rc = mp_store_experiment_delete(m->st, rows[i].id, err);
        }
    }
    mp_experiment_rows_free(rows, n);
    return rc;
}

static int sync_all(struct mp_kube_mirror *m, struct mp_error *err)
{
    int rc = prune(m, err);
    const char *k;
    json_t *pe;
    json_object_foreach (rc == 0 ? m->pes : NULL, k, pe) {
        if ((rc = sync_pe(m, pe, err)) != 0) {
            break;
        }
    }
    return rc;
}

/* A store failure is logged, not fatal: the next change syncs again. */
static void report(int rc, struct mp_error *err)
{
    if (rc != 0) {
        fprintf(stderr, "morphling serve: kube mirror: %s\n", err->msg);
    }
}

/* Whether an object names its namespace and itself; the caches hold only those, since the
 * store names, pruning and the trials' owner checks all need both. The operator writes nothing
 * else; an API server that answers otherwise is not followed. */
static bool named(const json_t *o)
{
    const char *ns = mp_kube_meta(o, "namespace"), *name = mp_kube_meta(o, "name");
    return ns && *ns && name && *name;
}

static int on_replace(void *ud, json_t *items, const char *rv)
{
    (void)rv;
    struct reflector *r = ud;
    struct mp_kube_mirror *m = r->m;
    pthread_mutex_lock(&m->lock);
    json_t *cache = r->trials ? m->trials : m->pes;
    json_object_clear(cache);
    size_t i;
    json_t *o;
    json_array_foreach (items, i, o) {
        if (!named(o)) {
            continue;
        }
        char *key = mp_kube_key(o);
        json_object_set(cache, key, o);
        free(key);
    }
    struct mp_error err = {0};
    report(sync_all(m, &err), &err);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct reflector *r = ud;
    struct mp_kube_mirror *m = r->m;
    pthread_mutex_lock(&m->lock);
    char *key = mp_kube_key(ev->object);
    json_t *cache = r->trials ? m->trials : m->pes;
    struct mp_error err = {0};
    int rc = 0;
    if (ev->type == MP_KUBE_DELETED) {
        json_object_del(cache, key);
        rc = r->trials ? 0 : prune(m, &err);
    } else if (ev->type != MP_KUBE_BOOKMARK && named(ev->object)) {
        json_object_set(cache, key, ev->object);
        if (!r->trials) {
            rc = sync_pe(m, ev->object, &err);
        } else {
            const json_t *o = ev->object;
            const char *k;
            json_t *pe;
            json_object_foreach (m->pes, k, pe) {
                if (owned_by(o, mp_kube_meta(pe, "namespace"), mp_kube_meta(pe, "name"))) {
                    rc = sync_pe(m, pe, &err);
                }
            }
        }
    }
    report(rc, &err);
    free(key);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

static void on_retry(void *ud, const struct mp_error *err)
{
    (void)ud;
    fprintf(stderr, "morphling serve: kube mirror: %s (retrying)\n", err->msg);
}

static void *reflect_main(void *arg)
{
    struct reflector *r = arg;
    struct mp_kube_mirror *m = r->m;
    struct mp_kube_ref ref = {PE_GROUP, PE_VERSION, r->trials ? "trials" : "profilingexperiments",
                              m->ns,    NULL,       NULL};
    struct mp_kube_reflector_ops ops = {on_replace, on_event, on_retry, false};
    struct mp_kube_opts o = {.limit = 500};
    struct mp_error err = {0};
    int rc = mp_kube_reflect(m->client, &ref, &o, &ops, r, m->stop, &err);
    if (rc != 0) {
        fprintf(stderr, "morphling serve: kube mirror of %s stopped: %s\n", ref.resource, err.msg);
    }
    free(r);
    return NULL;
}

int mp_kube_mirror_start(const struct mp_kube_mirror_opts *o, struct mp_kube_mirror **out,
                         struct mp_error *err)
{
    struct mp_kube_mirror *m = mp_xcalloc(1, sizeof(*m));
    m->client = o->client;
    m->ns = o->ns ? mp_xstrdup(o->ns) : NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->pes = json_object();
    m->trials = json_object();
    m->stop = mp_kube_cancel_new();
    int rc = mp_store_open(o->db_path, NULL, &m->st, err);
    for (int i = 0; rc == 0 && i < 2; i++) {
        struct reflector *r = mp_xcalloc(1, sizeof(*r));
        r->m = m;
        r->trials = i == 1;
        if (pthread_create(&m->threads[i], NULL, reflect_main, r) != 0) {
            free(r);
            rc = mp_error_set(err, MP_ERUNTIME, "cannot start the kube mirror's thread");
        } else {
            m->started[i] = true;
        }
    }
    if (rc != 0) {
        mp_kube_mirror_stop(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

void mp_kube_mirror_stop(struct mp_kube_mirror *m)
{
    if (!m) {
        return;
    }
    mp_kube_cancel_fire(m->stop);
    for (int i = 0; i < 2; i++) {
        if (m->started[i]) {
            pthread_join(m->threads[i], NULL);
        }
    }
    mp_kube_cancel_free(m->stop);
    mp_store_close(m->st);
    json_decref(m->pes);
    json_decref(m->trials);
    pthread_mutex_destroy(&m->lock);
    free(m->ns);
    free(m);
}
