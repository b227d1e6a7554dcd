/* SPDX-License-Identifier: Apache-2.0 */
/* The kubernetes runner: one trial as objects in a cluster (kubernetes.h describes them). The
 * steps of a trial: owner ConfigMap, Deployment + Service, readiness by watch within
 * startup_timeout, the load Job and its termination message, a Foreground delete of the owner
 * and a wait until it is gone. A watchdog thread turns the engine's cancel flag and the trial's
 * deadline into the client's cancel token, so every call and watch ends promptly. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "runner/kubernetes_int.h"
#include "spec/pe.h"

#define DEFAULT_TRIAL_TIMEOUT_NS (30LL * 60 * 1000000000LL)

/* ---- the watchdog ---- */

struct watchdog {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    const atomic_bool *cancel;
    int64_t deadline_ns;
    struct mp_kube_cancel *token;
    atomic_bool fired_by_deadline;
};

static void *watchdog_main(void *p)
{
    struct watchdog *w = p;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        if (w->cancel && atomic_load(w->cancel)) {
            mp_kube_cancel_fire(w->token);
            break;
        }
        if (mp_mono_ns() >= w->deadline_ns) {
            atomic_store(&w->fired_by_deadline, true);
            mp_kube_cancel_fire(w->token);
            break;
        }
        /* The engine's cancel flag is a plain flag: look at it every 50 ms. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->lock, &ts);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void watchdog_start(struct watchdog *w, const atomic_bool *cancel, int64_t deadline_ns)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->cancel = cancel;
    w->deadline_ns = deadline_ns;
    w->token = mp_kube_cancel_new();
    if (pthread_create(&w->thread, NULL, watchdog_main, w) != 0) {
        w->thread = 0;
    }
}

static void watchdog_stop(struct watchdog *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
    if (w->thread) {
        pthread_join(w->thread, NULL);
    }
    mp_kube_cancel_free(w->token);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->cond);
}

/* ---- one trial ---- */

static char *trial_selector(const struct kube_trial *t, const char *role)
{
    json_t *l = mp_kube_trial_labels(t, role);
    json_object_del(l, MP_KUBE_LABEL_MANAGED);
    char *s = mp_kube_selector(l);
    json_decref(l);
    return s;
}

/* Creates the owner, the Deployment and the Service. */
static int create_service(struct kube_trial *t, struct mp_error *err)
{
    struct mp_kube_runner *r = t->r;
    struct mp_pod_mapping m;
    mp_kube_rcfg_mapping(&r->cfg, &m);
    m.port = (int)t->port;
    json_t *pod = NULL, *obj = NULL;
    struct mp_error rerr = {0};
    if (mp_spec_render_pod(r->base.spec, t->req->x, r->cfg.pod_template, r->cfg.container, &m, &pod,
                           &rerr) != 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "cannot write the configuration onto the pod: %s", rerr.msg);
        return 0;
    }
    struct mp_kube_ref cm = {.version = "v1", .resource = "configmaps", .ns = r->ns};
    struct mp_kube_ref dep = {
        .group = "apps", .version = "v1", .resource = "deployments", .ns = r->ns};
    struct mp_kube_ref svc = {.version = "v1", .resource = "services", .ns = r->ns};
    json_t *owner = mp_kube_owner_object(t, t->req->x);
    int rc = mp_kube_create_or_adopt(t, &cm, owner, &t->owner, err);
    json_decref(owner);
    if (rc == 0 && (rc = mp_kube_deployment_object(t, pod, &obj, err)) == 0) {
        rc = mp_kube_create_or_adopt(t, &dep, obj, NULL, err);
        json_decref(obj);
    }
    if (rc == 0) {
        obj = mp_kube_service_object(t);
        rc = mp_kube_create_or_adopt(t, &svc, obj, NULL, err);
        json_decref(obj);
    }
    json_decref(pod);
    return rc;
}

/* A trial's names, port and replicas, from its request. */
static void trial_init(struct kube_trial *t, struct mp_kube_runner *r,
                       const struct mp_trial_request *req)
{
    t->r = r;
    t->req = req;
    mp_kube_runner_name(req->experiment, req->number, req->attempt, t->name);
    snprintf(t->job_name, sizeof(t->job_name), "%s-load", t->name);
    mp_kube_runner_experiment_key(req->experiment, t->exp_key);
    t->port = r->cfg.port;
    t->replicas = r->cfg.replicas;
    if (r->cfg.replicas_param >= 0) {
        t->replicas = llround(req->x[r->cfg.replicas_param]);
    }
}

/* Sends obj with dryRun=All: the API server's verdict on an object the trials would create. Only
 * that verdict (422 Invalid, or 400 BadRequest: a field of the wrong type, or one it does not
 * know) fails the check, as an invalid spec naming `at`: anything else (no right to create it, an
 * unreachable server) is the run's to meet and report. Strict field validation: by default the
 * API server drops an unknown field with a warning, and a misspelt `containerport` left every
 * trial's readiness probe on another port (STARTUP_TIMEOUT each) after a valid check. */
static int dry_run(struct mp_kube_runner *r, const char *group, const char *resource,
                   const json_t *obj, const struct mp_node *at, const char *what,
                   struct mp_error *err)
{
    struct mp_kube_ref ref = {.group = group, .version = "v1", .resource = resource, .ns = r->ns};
    struct mp_kube_opts o = {.dry_run = true, .field_validation = "Strict"};
    struct mp_error lerr = {0};
    int rc = mp_kube_create(r->client, &ref, obj, &o, NULL, &lerr);
    if (rc == MP_EREJECTED || rc == MP_EBADREQUEST) {
        rc = mp_doc_error(err, at, "the API server refuses the trials' %s: %s", what, lerr.msg);
    } else {
        rc = 0;
    }
    mp_error_clear(&lerr);
    return rc;
}

/* The client_template's Job, sent once with dryRun=All: one the API server refuses failed every
 * trial INFRA, three attempts each. (morphling's own load Job is made of checked settings.) */
static int check_client_job(struct kube_trial *t, struct mp_error *err)
{
    struct mp_kube_runner *r = t->r;
    const struct mp_spec *spec = r->base.spec;
    json_t *job = NULL;
    struct mp_error lerr = {0};
    int rc = mp_kube_client_job_object(t, &job, &lerr);
    mp_error_clear(&lerr); /* the settings' checks say what is wrong with them */
    if (rc == 0) {
        const struct mp_node *at = mp_doc_get(spec->runner_node, "client_template");
        rc = dry_run(r, "batch", "jobs", job, at ? at : spec->runner_node,
                     "load Job of this client template", err);
    } else {
        rc = 0;
    }
    json_decref(job);
    return rc;
}

int mp_kube_runner_check_pod(struct mp_runner *base, struct mp_error *err)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    const struct mp_spec *spec = base->spec;
    size_t n = spec->space.n ? spec->space.n : 1;
    double *u = mp_xcalloc(n, sizeof(*u)), *x = mp_xcalloc(n, sizeof(*x));
    mp_space_decode(&spec->space, u, x); /* each parameter's lowest value */
    struct mp_trial_request req = {.experiment = spec->name, .number = 1, .x = x};
    struct kube_trial t = {0};
    trial_init(&t, r, &req);
    t.owner = json_pack("{s:{s:s, s:s}}", "metadata", "name", t.name, "uid",
                        "00000000-0000-0000-0000-000000000000");
    struct mp_pod_mapping m;
    mp_kube_rcfg_mapping(&r->cfg, &m);
    m.port = (int)t.port;
    json_t *pod = NULL, *dep = NULL;
    struct mp_error lerr = {0};
    int rc = mp_spec_render_pod(spec, x, r->cfg.pod_template, r->cfg.container, &m, &pod, &lerr);
    if (rc == 0 && t.replicas >= 1) {
        rc = mp_kube_deployment_object(&t, pod, &dep, &lerr);
    }
    mp_error_clear(&lerr);
    rc = 0; /* the settings' checks say what is wrong with them */
    if (dep && r->client) {
        const struct mp_node *at = mp_doc_get(spec->runner_node, "pod_template");
        rc = dry_run(r, "apps", "deployments", dep, at ? at : spec->runner_node,
                     "Deployment of this pod template", err);
    }
    if (rc == 0 && r->client && r->cfg.client_template) {
        rc = check_client_job(&t, err);
    }
    json_decref(dep);
    json_decref(pod);
    json_decref(t.owner);
    free(u);
    free(x);
    return rc;
}

/* Why a pod is not Ready: the last Unhealthy event the kubelet recorded for it (a failing
 * probe's message), "" when there is none. One list, only after a readiness timeout. */
static void unhealthy(struct kube_trial *t, const char *pod, char *out, size_t size)
{
    out[0] = '\0';
    if (!pod[0]) {
        return;
    }
    struct mp_kube_ref ref = {.version = "v1", .resource = "events", .ns = t->r->ns};
    char *fields = mp_xasprintf("involvedObject.name=%s,reason=Unhealthy", pod);
    struct mp_kube_opts o = {.field_selector = fields};
    json_t *list = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    if (mp_kube_list(t->r->client, &ref, &o, &list, &err) == 0) {
        json_t *items = json_object_get(list, "items");
        const char *msg = json_string_value(
            json_object_get(json_array_get(items, json_array_size(items) - 1), "message"));
        snprintf(out, size, "%s%s", msg ? "; last: " : "", msg ? msg : "");
    }
    json_decref(list);
    free(fields);
}

/* Why the Deployment lacks pods: its ReplicaFailure condition (the ReplicaSet cannot create
 * them: a ResourceQuota exceeded, a LimitRange or admission refusing the pod), "" when it has
 * none. One GET, only after a readiness timeout. */
static void replica_failure(struct kube_trial *t, char *out, size_t size)
{
    out[0] = '\0';
    struct mp_kube_ref ref = {.group = "apps",
                              .version = "v1",
                              .resource = "deployments",
                              .ns = t->r->ns,
                              .name = t->name};
    json_t *dep = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    if (mp_kube_get(t->r->client, &ref, NULL, &dep, &err) == 0) {
        json_t *cs = json_object_get(json_object_get(dep, "status"), "conditions");
        for (size_t i = 0; i < json_array_size(cs); i++) {
            json_t *c = json_array_get(cs, i);
            const char *type = json_string_value(json_object_get(c, "type"));
            const char *status = json_string_value(json_object_get(c, "status"));
            const char *msg = json_string_value(json_object_get(c, "message"));
            if (type && strcmp(type, "ReplicaFailure") == 0 && status &&
                strcmp(status, "True") == 0) {
                snprintf(out, size, "; the pods cannot be created: %s", msg ? msg : "");
            }
        }
    }
    mp_error_clear(&err);
    json_decref(dep);
}

/* The last lines the crashed container wrote (its previous run when it was restarted), one
 * line, "" when the log cannot be read. One request, only after a crash. */
static void log_tail(struct kube_trial *t, const struct kube_pods_state *st, char *out, size_t size)
{
    out[0] = '\0';
    if (!st->crashed[0]) {
        return;
    }
    struct mp_buf path = MP_BUF_INIT;
    mp_buf_addf(&path, "/api/v1/namespaces/%s/pods/%s/log", t->r->ns, st->crashed);
    mp_kube_query_add(&path, "container", st->container);
    mp_kube_query_add(&path, "tailLines", "5");
    if (st->previous) {
        mp_kube_query_add(&path, "previous", "true");
    }
    char *text = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    if (mp_kube_raw(t->r->client, "GET", path.data, NULL, NULL, &text, NULL, &err) == 0 && text &&
        text[0]) {
        for (char *p = text; *p; p++) {
            *p = *p == '\n' || *p == '\r' ? ' ' : *p;
        }
        snprintf(out, size, "; log: %.300s", text);
    }
    free(text);
    mp_buf_release(&path);
}

/* Counts an attempt whose pods were judged (their image pulled) or could not pull their image
 * (reason: why); the last of KUBE_PULL_STREAK failed pulls in a row stops the run. load: the
 * load generator's image, else the service's. */
static void count_pull(struct kube_trial *t, bool load, bool pulled, const char *reason)
{
    atomic_int *streak = &t->r->pull_streak[load];
    if (pulled) {
        atomic_store(streak, 0);
        return;
    }
    if (atomic_fetch_add(streak, 1) + 1 < KUBE_PULL_STREAK) {
        return;
    }
    const char *image = !load ? "the service's image (the pod template's)"
                        : t->r->cfg.client_template
                            ? "the client template's image"
                            : "the load generator's image (runner.load_image)";
    char *prev = t->res->run_error;
    t->res->run_error = mp_xasprintf(
        "%s%s%s could not be pulled in %d attempts in a row (the last: %s); it is the same for "
        "every configuration: fix it or the cluster's access to its registry, then run again to "
        "resume%s",
        prev ? prev : "", prev ? "; " : "", image, KUBE_PULL_STREAK, reason,
        t->r->base.spec->from_pe
            ? " (the operator runs it again on its own; an image fixed in the "
              "ProfilingExperiment needs a new one: edits of a started experiment are ignored)"
            : "");
    free(prev);
}

/* The pod whose log to keep, from a judgement of the service pods: the crashed one, else the
 * first not Ready. */
static void remember_log_pod(struct kube_trial *t, const struct kube_pods_state *st)
{
    const char *pod = st->crashed[0] ? st->crashed : st->unready;
    if (pod[0]) {
        snprintf(t->log_pod, sizeof(t->log_pod), "%s", pod);
        t->log_previous = st->crashed[0] && st->previous;
    }
}

/* The service's output, as the local runner keeps it: the tuned container's log (the kubelet
 * keeps one stream, stdout and stderr together), its last MP_KUBE_LOG_MAX bytes at most, in
 * the result's stdout_log. One request; without the right (pods/log) or the pod, none. */
static void read_service_log(struct kube_trial *t)
{
    if (!t->log_pod[0]) {
        return;
    }
    struct mp_buf path = MP_BUF_INIT;
    mp_buf_addf(&path, "/api/v1/namespaces/%s/pods/%s/log", t->r->ns, t->log_pod);
    if (t->r->cfg.container) {
        mp_kube_query_add(&path, "container", t->r->cfg.container);
    }
    mp_kube_query_add(&path, "tailLines", MP_KUBE_LOG_LINES);
    if (t->log_previous) {
        mp_kube_query_add(&path, "previous", "true");
    }
    char *text = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    if (mp_kube_raw(t->r->client, "GET", path.data, NULL, NULL, &text, NULL, &err) == 0 && text) {
        size_t n = strlen(text);
        free(t->res->stdout_log);
        t->res->stdout_log = mp_xstrdup(n > MP_KUBE_LOG_MAX ? text + n - MP_KUBE_LOG_MAX : text);
    }
    mp_error_clear(&err);
    free(text);
    mp_buf_release(&path);
}

static int wait_ready(struct kube_trial *t, struct mp_error *err)
{
    char *sel = trial_selector(t, "service");
    struct kube_pods_state st = {0};
    int64_t deadline = mp_mono_ns() + t->r->cfg.startup_ns;
    if (deadline > t->trial_deadline_ns) {
        deadline = t->trial_deadline_ns;
    }
    int rc = mp_kube_wait_pods(t, sel, false, (int)t->replicas, deadline, &st, err);
    free(sel);
    remember_log_pod(t, &st);
    if (rc == 0 && (st.pull || st.verdict != KUBE_PODS_INFRA)) {
        count_pull(t, false, !st.pull, st.reason);
    }
    if (rc == MP_EDEADLINE) {
        mp_error_clear(err);
        char why[512], failed[400] = "", probe[200] = "";
        unhealthy(t, st.unready, why, sizeof(why));
        replica_failure(t, failed, sizeof(failed));
        if (why[0] && mp_kube_adds_probe(&t->r->cfg)) {
            /* The probe is ours: which port it tries, and why that one (a service listening on
             * another port reads as never ready). */
            const char *path = t->r->cfg.health_path;
            snprintf(probe, sizeof(probe),
                     " (the readiness probe morphling adds tries port %lld%s%.100s: %s)",
                     (long long)t->port, path ? ", path " : "", path ? path : "",
                     t->r->cfg.port_from ? t->r->cfg.port_from : "runner.port");
        }
        mp_trial_result_fail(t->res, MP_FAILURE_STARTUP_TIMEOUT,
                             "%d of %lld pods ready within the startup timeout%s%s%s%s%s", st.ready,
                             (long long)t->replicas, st.waiting[0] ? "; " : "", st.waiting, why,
                             probe, failed);
        rc = 0;
    } else if (rc == 0 && st.verdict == KUBE_PODS_FAILED) {
        char tail[400];
        log_tail(t, &st, tail, sizeof(tail));
        mp_trial_result_fail(t->res, st.failure, "%s%s", st.reason, tail);
    } else if (rc == 0 && st.verdict == KUBE_PODS_INFRA) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", st.reason);
        rc = MP_ERUNTIME;
    }
    mp_kube_pods_state_release(&st);
    return rc;
}

/* Whether the trial's owner is deleted or being deleted. */
static bool owner_gone(struct kube_trial *t)
{
    struct mp_kube_ref cm = {
        .version = "v1", .resource = "configmaps", .ns = t->r->ns, .name = t->name};
    json_t *obj = NULL;
    struct mp_error gerr = {0};
    int rc = mp_kube_get(t->r->client, &cm, NULL, &obj, &gerr);
    bool gone = rc == MP_ENOTFOUND || (rc == 0 && mp_kube_meta(obj, "deletionTimestamp"));
    json_decref(obj);
    mp_error_clear(&gerr);
    return gone;
}

/* The load pod waited Unschedulable for other trials' resources until the trial's deadline:
 * those trials held them, so this is no verdict on the configuration (INFRA, retried), and the
 * reason gives the scheduler's word (it said only that the trial ran past its deadline). */
static void load_unscheduled(struct kube_trial *t)
{
    char s[MP_FMT_DOUBLE_MAX];
    mp_trial_result_fail(t->res, MP_FAILURE_INFRA,
                         "the load pod was not scheduled within the trial's deadline, %s s after "
                         "it started (%s), waiting for other trials of the run to free nodes: %s",
                         mp_fmt_double(s, (double)t->timeout_ns / 1e9),
                         mp_spec_trial_timeout_source(t->r->base.spec), t->load_waiting);
}

/* The load pod's verdict of INFRA: an unschedulable one also says what it asked for, the same
 * in every trial (the scheduler's "Insufficient cpu" reads as the configuration's). */
static void load_failed(struct kube_trial *t, const struct kube_pods_state *st)
{
    const struct mp_kube_rcfg *cfg = &t->r->cfg;
    if (!st->unschedulable || cfg->client_template) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", st->reason);
        return;
    }
    mp_trial_result_fail(t->res, MP_FAILURE_INFRA,
                         "%s (the load pod asks for cpu %s and memory %s, runner.load_cpu and "
                         "runner.load_memory%s, beside the trial's service pods)",
                         st->reason, cfg->load_cpu, cfg->load_memory,
                         cfg->load_node_selector ? ", on nodes of runner.load_node_selector" : "");
}

/* *deleted: the load pod was deleted before it finished. */
static int run_load(struct kube_trial *t, bool *deleted, struct mp_error *err)
{
    struct mp_kube_ref job = {
        .group = "batch", .version = "v1", .resource = "jobs", .ns = t->r->ns};
    json_t *obj = NULL;
    bool client = t->r->cfg.client_template != NULL;
    int rc =
        client ? mp_kube_client_job_object(t, &obj, err) : mp_kube_load_job_object(t, &obj, err);
    if (rc == 0) {
        rc = mp_kube_create_or_adopt(t, &job, obj, NULL, err);
        json_decref(obj);
    }
    if (rc != 0) {
        return rc;
    }
    struct kube_sentinel sentinel, pods;
    mp_kube_sentinel_start(&sentinel, t, &job, t->job_name, "load job", 0);
    /* A service pod deleted under the load test fails its requests: no verdict on the
     * configuration, as for the Job. */
    char *service = trial_selector(t, "service");
    mp_kube_pods_sentinel_start(&pods, t, service, "service pod");
    char *sel = trial_selector(t, "load");
    struct kube_pods_state st = {0};
    rc = mp_kube_wait_pods(t, sel, true, 1, t->trial_deadline_ns, &st, err);
    free(sel);
    mp_kube_sentinel_stop(&sentinel);
    mp_kube_sentinel_stop(&pods);
    free(service);
    if (rc == 0 && (st.pull || st.verdict != KUBE_PODS_INFRA)) {
        count_pull(t, true, !st.pull, st.reason);
    }
    snprintf(t->load_waiting, sizeof(t->load_waiting), "%s", st.waiting);
    if (rc == MP_EDEADLINE && st.waiting[0]) {
        mp_error_clear(err);
        load_unscheduled(t);
        rc = MP_ERUNTIME;
    } else if (rc == MP_EDEADLINE) {
        mp_error_clear(err);
        char s[MP_FMT_DOUBLE_MAX];
        mp_trial_result_fail(t->res, MP_FAILURE_TIMEOUT,
                             "the load test ran past the trial's deadline, %s s after it started "
                             "(%s)%s%s",
                             mp_fmt_double(s, (double)t->timeout_ns / 1e9),
                             mp_spec_trial_timeout_source(t->r->base.spec),
                             st.waiting[0] ? "; " : "", st.waiting);
        rc = 0;
    } else if (rc == 0 && st.verdict == KUBE_PODS_INFRA) {
        load_failed(t, &st);
        *deleted = st.deleted;
        rc = MP_ERUNTIME;
    } else if (rc == 0 && client) {
        mp_kube_client_result(st.message, st.exit_code, t->res);
    } else if (rc == 0) {
        struct mp_error perr = {0};
        if (mp_kube_load_result(t->r->cfg.load, st.message, t->res, &perr) != 0) {
            mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s (%s)", perr.msg, st.reason);
            rc = MP_ERUNTIME;
        }
    }
    mp_kube_pods_state_release(&st);
    return rc;
}

/* A service container that exited during the load test (killed at its memory limit, or
 * crashed: its lastState, since a restarted one never passed wait_ready) fails the trial as
 * such, as the local runner's OOM kills do: the load test's errors, or its figures, measured a
 * failing service. One list, after the load test, or as soon as the service pods' sentinel saw
 * the container exit (the load test is then cut short: what it measured after is a restarted
 * service's). */
static void judge_after_load(struct kube_trial *t)
{
    struct mp_kube_ref ref = {.version = "v1", .resource = "pods", .ns = t->r->ns};
    char *sel = trial_selector(t, "service");
    struct mp_kube_opts o = {.cancel = t->cancel_token, .label_selector = sel};
    json_t *list = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    if (mp_kube_list(t->r->client, &ref, &o, &list, &err) == 0) {
        struct kube_pods_state st = {0};
        mp_kube_judge_pods(json_object_get(list, "items"), false, (int)t->replicas,
                           t->r->cfg.container, false, &st);
        const char *first = mp_kube_meta(json_array_get(json_object_get(list, "items"), 0), "name");
        if (first) {
            snprintf(t->log_pod, sizeof(t->log_pod), "%s", first);
            t->log_previous = false;
        }
        remember_log_pod(t, &st);
        if (st.verdict == KUBE_PODS_FAILED &&
            (st.failure == MP_FAILURE_OOM_KILLED || st.failure == MP_FAILURE_CRASHED)) {
            char tail[400];
            log_tail(t, &st, tail, sizeof(tail));
            mp_trial_result_fail(t->res, st.failure, "during the load test, %s%s", st.reason, tail);
        }
        mp_kube_pods_state_release(&st);
    }
    mp_error_clear(&err);
    json_decref(list);
    free(sel);
}

/* A CPU quantity as metrics.k8s.io writes it ("12345678n", "250m", "2") in cores. */
static double cores(const char *q)
{
    char *end = NULL;
    double v = strtod(q ? q : "", &end);
    if (!end || end == q) {
        return NAN;
    }
    return strcmp(end, "n") == 0   ? v / 1e9
           : strcmp(end, "u") == 0 ? v / 1e6
           : strcmp(end, "m") == 0 ? v / 1e3
           : *end == '\0'          ? v
                                   : NAN;
}

/* The service pods' usage from metrics.k8s.io once the load test is over: cpu_cores and
 * memory_bytes summed over its pods. Without that API the meta says it was not measured. */
static void read_usage(struct kube_trial *t)
{
    struct mp_kube_ref ref = {
        .group = "metrics.k8s.io", .version = "v1beta1", .resource = "pods", .ns = t->r->ns};
    char *sel = trial_selector(t, "service");
    struct mp_kube_opts o = {.cancel = t->cancel_token, .label_selector = sel};
    json_t *list = NULL;
    struct mp_error err = {0};
    t->api_calls++;
    int rc = mp_kube_list(t->r->client, &ref, &o, &list, &err);
    free(sel);
    if (rc != 0) {
        snprintf(t->usage_note, sizeof(t->usage_note), "not measured: %.280s", err.msg);
        return;
    }
    double cpu = 0, mem = 0;
    size_t i, j, found = 0;
    json_t *pod, *c;
    json_array_foreach (json_object_get(list, "items"), i, pod) {
        json_array_foreach (json_object_get(pod, "containers"), j, c) {
            json_t *u = json_object_get(c, "usage");
            struct mp_kube_quantity q;
            double v = cores(json_string_value(json_object_get(u, "cpu")));
            if (isfinite(v) && mp_kube_quantity_json(json_object_get(u, "memory"), &q, NULL) == 0) {
                cpu += v;
                mem += (double)q.units;
                found++;
            }
        }
    }
    json_decref(list);
    if (found == 0) {
        snprintf(t->usage_note, sizeof(t->usage_note), "not measured: no pod metrics yet");
        return;
    }
    mp_metrics_set(&t->res->resources, "cpu_cores", cpu);
    mp_metrics_set(&t->res->resources, "memory_bytes", mem);
    snprintf(t->usage_note, sizeof(t->usage_note), "metrics.k8s.io");
}

/* Whether pod is one of t's that its controller released: named after the trial's Deployment
 * or Job, no controller, and this run's (or its run label removed with the one that took it off the
 * selector). */
static bool released_pod(const struct kube_trial *t, const json_t *pod)
{
    const char *name = mp_kube_meta(pod, "name");
    size_t n = strlen(t->name);
    if (!name || strncmp(name, t->name, n) != 0 || name[n] != '-' ||
        mp_kube_meta(pod, "deletionTimestamp")) {
        return false;
    }
    const json_t *ref;
    size_t i;
    json_array_foreach (json_object_get(json_object_get(pod, "metadata"), "ownerReferences"), i,
                        ref) {
        if (json_is_true(json_object_get(ref, "controller"))) {
            return false;
        }
    }
    const char *run = mp_kube_label(pod, MP_KUBE_LABEL_RUN);
    return !run || strcmp(run, t->r->run_id) == 0;
}

/* After the owner is gone: a pod relabelled off its ReplicaSet's (or Job's) selector (`kubectl
 * label pod P morphling.kubedl.io/role-`) was released by it (its ownerReference removed, as
 * Kubernetes does) and replaced, so the owner's delete did not take it. Found by the
 * experiment's label (the one label a relabel must leave for this to work; the name says the
 * trial), deleted (its uid a precondition) and waited for. */
static int delete_released(struct mp_kube_runner *r, struct kube_trial *t, struct mp_error *err)
{
    char selector[sizeof(t->exp_key) + 64];
    snprintf(selector, sizeof(selector), "%s=%s", MP_KUBE_LABEL_EXPERIMENT, t->exp_key);
    struct mp_kube_ref pods = {.version = "v1", .resource = "pods", .ns = r->ns};
    struct mp_kube_opts lo = {.label_selector = selector};
    json_t *list = NULL;
    t->api_calls++;
    int rc = mp_kube_list_all(r->client, &pods, &lo, &list, err);
    if (mp_kube_runner_refused(rc)) { /* list on pods is required (readiness): not expected */
        free(t->left);
        t->left = mp_xasprintf("pods not listed at teardown: %s", err->msg);
        mp_error_clear(err);
        rc = 0;
    }
    const json_t *pod;
    size_t i;
    json_array_foreach (rc == 0 ? json_object_get(list, "items") : NULL, i, pod) {
        if (!released_pod(t, pod)) {
            continue;
        }
        struct mp_kube_ref one = pods;
        one.name = mp_kube_meta(pod, "name");
        struct mp_kube_opts o = {.precondition_uid = mp_kube_meta(pod, "uid")};
        t->api_calls++;
        rc = mp_kube_delete(r->client, &one, &o, NULL, err);
        if (rc == 0) {
            rc = mp_kube_wait_pod_gone(r, t, one.name, mp_mono_ns() + r->cfg.delete_ns, err);
        } else if (mp_kube_runner_refused(rc)) {
            /* `delete` on pods is optional in the documented Role: the pod stays, said in the
             * trial's meta; the trial and the run go on. */
            free(t->left);
            t->left = mp_xasprintf("pod %s, released by its ReplicaSet, not deleted: %s "
                                   "(`kubectl -n %s delete pod %s`)",
                                   one.name, err->msg, r->ns, one.name);
            mp_error_clear(err);
            rc = 0;
        } else if (rc == MP_ENOTFOUND || rc == MP_ECONFLICT) {
            mp_error_clear(err);
            rc = 0;
        }
        if (rc != 0) {
            break;
        }
    }
    json_decref(list);
    return rc;
}

/* Foreground delete of the owner, then wait until it (and so everything it owns) is gone. */
static int teardown(struct mp_kube_runner *r, struct kube_trial *t, const char *name,
                    struct mp_error *err)
{
    struct mp_kube_ref cm = {.version = "v1", .resource = "configmaps", .ns = r->ns, .name = name};
    struct mp_kube_opts o = {.propagation_policy = "Foreground"};
    if (t) {
        t->api_calls++;
    }
    int rc = mp_kube_delete(r->client, &cm, &o, NULL, err);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        rc = 0;
    } else if (rc == 0) {
        rc = mp_kube_wait_gone(r, t, name, mp_mono_ns() + r->cfg.delete_ns, err);
    }
    return rc == 0 && t ? delete_released(r, t, err) : rc;
}

/* The teardown, whose waits (not its deletes) a second Ctrl-C ends: a pod ignoring SIGTERM
 * under a long terminationGracePeriodSeconds held the run in the owner's Foreground delete for
 * all of it, up to runner.delete_timeout. */
static int hurried_teardown(struct mp_kube_runner *r, struct kube_trial *t, struct mp_error *err)
{
    struct watchdog hw;
    watchdog_start(&hw, &mp_runner_hurry, INT64_MAX);
    t->cancel_token = hw.token;
    int rc = teardown(r, t, t->name, err);
    t->cancel_token = NULL;
    watchdog_stop(&hw);
    return rc;
}

/* The run error of a teardown the API server refused, naming what is left in the cluster. */
static void refused_teardown(struct kube_trial *t, const char *why)
{
    char *prev = t->res->run_error;
    t->res->run_error = mp_xasprintf(
        "%s%steardown: %s; left in namespace \"%s\": %s (delete them with `kubectl -n %s delete "
        "configmap %s --cascade=foreground`)",
        prev ? prev : "", prev ? "; " : "", why, t->r->ns, t->made[0] ? t->made : "nothing",
        t->r->ns, t->name);
    free(prev);
}

static void record_meta(struct kube_trial *t)
{
    json_t *meta =
        json_pack("{s:s, s:s, s:s, s:I, s:i}", "namespace", t->r->ns, "object", t->name, "load_job",
                  t->job_name, "port", (json_int_t)t->port, "api_calls", (int)t->api_calls);
    int64_t total = mp_mono_ns() - t->started_ns;
    json_object_set_new(meta, "total_s", json_real((double)total / 1e9));
    /* What the trial spent outside waits for the cluster's progress: the runner's own work and
     * its API calls' latency. */
    json_object_set_new(meta, "overhead_s", json_real((double)(total - t->waited_ns) / 1e9));
    if (t->usage_note[0]) {
        json_object_set_new(meta, "usage", json_string(t->usage_note));
    }
    if (t->left) {
        json_object_set_new(meta, "left", json_string(t->left));
    }
    if (t->teardown_hurried) {
        json_object_set_new(meta, "teardown_hurried", json_true());
    }
    if (t->t_ready_ns) {
        json_object_set_new(meta, "ready_s",
                            json_real((double)(t->t_ready_ns - t->t_created_ns) / 1e9));
    }
    if (t->t_loaded_ns) {
        json_object_set_new(meta, "load_s",
                            json_real((double)(t->t_loaded_ns - t->t_ready_ns) / 1e9));
    }
    if (t->t_gone_ns) {
        json_object_set_new(meta, "teardown_s",
                            json_real((double)(t->t_gone_ns - t->t_loaded_ns) / 1e9));
    }
    free(t->res->meta_json);
    t->res->meta_json = mp_json_dumps(meta, 0);
    json_decref(meta);
}

static bool trial_failed(const struct kube_trial *t)
{
    return t->res->state == MP_TRIAL_FAILED;
}

/* The load test was cut short because a service container exited (the sentinel fired the
 * trial's cancel token): the verdict, from a list made with a token of its own. */
static void judge_exited(struct kube_trial *t)
{
    struct mp_kube_cancel *fired = t->cancel_token;
    t->cancel_token = mp_kube_cancel_new();
    judge_after_load(t);
    mp_kube_cancel_free(t->cancel_token);
    t->cancel_token = fired;
    if (!trial_failed(t)) { /* the list failed, or shows the exit no more */
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "during the load test, a service container exited");
    }
}

/* The run's identity, once: the runner's own (the operator's), else the engine's from the
 * request, else one made up for this runner (a run without a store: nothing of it outlives it
 * anyway). */
static void identify(struct mp_kube_runner *r, const struct mp_trial_request *req)
{
    if (r->run_id[0]) {
        return;
    }
    if (req->run_id && req->run_id[0]) {
        snprintf(r->run_id, sizeof(r->run_id), "%s", req->run_id);
    } else {
        snprintf(r->run_id, sizeof(r->run_id), "p%016llx",
                 (unsigned long long)mp_mix64((uint64_t)mp_wall_ns(), (uint64_t)getpid()));
    }
}

/* `run --restart`: the replaced runs' identities, and each one's namespace (its spec's
 * runner.namespace, else the one a spec naming none gets) when it ran on this runner. */
static void replaced(struct mp_kube_runner *r, const struct mp_trial_request *req)
{
    r->replaced = mp_xcalloc(req->n_replaced + 1, sizeof(*r->replaced));
    for (size_t i = 0; i < req->n_replaced; i++) {
        const struct mp_replaced_run *run = &req->replaced[i];
        if (!run->run_id || !run->run_id[0]) {
            continue;
        }
        struct mp_kube_replaced *to = &r->replaced[r->n_replaced++];
        snprintf(to->run_id, sizeof(to->run_id), "%s", run->run_id);
        json_t *spec = json_loads(run->spec_json ? run->spec_json : "{}", 0, NULL);
        json_t *runner = json_object_get(spec, "runner");
        const char *kind = json_string_value(json_object_get(runner, "kind"));
        const char *ns = json_string_value(json_object_get(runner, "namespace"));
        if (kind && strcmp(kind, mp_runner_kubernetes.name) == 0) {
            snprintf(to->ns, sizeof(to->ns), "%s", ns ? ns : r->fallback_ns);
        }
        json_decref(spec);
    }
}

static int sweep_once(struct mp_kube_runner *r, const struct mp_trial_request *req,
                      struct mp_error *err)
{
    pthread_mutex_lock(&r->sweep_lock);
    int rc = 0;
    identify(r, req);
    if (!r->swept && !r->no_sweep) {
        if (!r->replaced) {
            replaced(r, req);
        }
        rc = mp_kube_runner_reconcile(&r->base, req->experiment, NULL, NULL, NULL, err);
        if (rc == 0) {
            rc = mp_kube_runner_sweep_replaced(&r->base, req->experiment, err);
        }
        r->swept = rc == 0;
        if (r->swept && req->replaced_swept) {
            atomic_store(req->replaced_swept, true); /* the engine forgets them now */
        }
    }
    pthread_mutex_unlock(&r->sweep_lock);
    return rc;
}

static void finish(struct kube_trial *t, struct watchdog *wd, int *rc, struct mp_error *err)
{
    bool deadline = atomic_load(&wd->fired_by_deadline);
    bool cancelled = wd->cancel && atomic_load(wd->cancel);
    if (*rc == MP_ECANCELLED && atomic_load(&t->lost) && !cancelled) {
        /* Something deleted an object of the trial: no verdict on the configuration. */
        mp_error_clear(err);
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", t->lost_reason);
        *rc = MP_ERUNTIME;
    } else if (*rc == MP_ECANCELLED && deadline && t->load_waiting[0]) {
        mp_error_clear(err);
        load_unscheduled(t);
        *rc = MP_ERUNTIME;
    } else if (*rc == MP_ECANCELLED && deadline) {
        mp_error_clear(err);
        char s[MP_FMT_DOUBLE_MAX];
        mp_trial_result_fail(t->res, MP_FAILURE_TIMEOUT,
                             "the trial ran past its deadline, %s s after it started (%s)",
                             mp_fmt_double(s, (double)t->timeout_ns / 1e9),
                             mp_spec_trial_timeout_source(t->r->base.spec));
        *rc = 0;
    } else if (*rc == MP_ECANCELLED || cancelled) {
        mp_error_clear(err);
        t->res->state = MP_TRIAL_CANCELLED;
        *rc = 0;
    } else if (*rc != 0 && !trial_failed(t)) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", err->msg);
    }
    if (*rc != 0 && *rc > 0) {
        *rc = MP_ERUNTIME;
    }
}

static int run_steps(struct kube_trial *t, struct mp_error *err)
{
    t->t_created_ns = mp_mono_ns();
    if (t->replicas < 1) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED, "replicas %lld: at least 1 pod is needed",
                             (long long)t->replicas);
        return 0;
    }
    int rc = create_service(t, err);
    struct kube_sentinel owner = {0}, deployment = {0}, service = {0};
    bool load_deleted = false;
    if (rc == 0 && !trial_failed(t)) {
        struct mp_kube_ref cm = {.version = "v1", .resource = "configmaps", .ns = t->r->ns};
        mp_kube_sentinel_start(&owner, t, &cm, t->name, "owner configmap", 0);
        /* Deleted, scaled or edited by hand while its pods start or serve: no verdict on the
         * configuration (the readiness wait ran into startup_timeout, STARTUP_TIMEOUT; an edited
         * one served another configuration). */
        struct mp_kube_ref dep = {
            .group = "apps", .version = "v1", .resource = "deployments", .ns = t->r->ns};
        mp_kube_sentinel_start(&deployment, t, &dep, t->name, "deployment", t->replicas);
        /* Without its Service, or with its selector or port edited, the load test's requests
         * fail (refused, sent nowhere, or a name that no longer resolves): that too is no
         * verdict on the configuration. */
        struct mp_kube_ref svc = {.version = "v1", .resource = "services", .ns = t->r->ns};
        mp_kube_service_sentinel_start(&service, t, &svc);
        rc = wait_ready(t, err);
    }
    if (rc == 0 && !trial_failed(t)) {
        t->t_ready_ns = mp_mono_ns();
        rc = run_load(t, &load_deleted, err);
        if (rc == MP_ECANCELLED && atomic_load(&t->service_exited) && !atomic_load(&t->lost)) {
            mp_error_clear(err);
            rc = 0;
            judge_exited(t);
        } else if (rc == 0) {
            judge_after_load(t);
        }
    }
    mp_kube_sentinel_stop(&owner);
    mp_kube_sentinel_stop(&deployment);
    mp_kube_sentinel_stop(&service);
    bool parts_lost = atomic_load(&t->lost) && !strstr(t->lost_reason, "owner configmap");
    if ((load_deleted || parts_lost) && owner_gone(t)) {
        /* The garbage collector deletes the Deployment, the Job, the service and their pods
         * after the owner: name the cause, whichever watch saw its part first. */
        snprintf(t->lost_reason, sizeof(t->lost_reason),
                 "the trial's owner configmap \"%s\" was deleted", t->name);
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", t->lost_reason);
    }
    if (rc == 0 && !trial_failed(t)) {
        t->t_loaded_ns = mp_mono_ns();
        read_usage(t);
    }
    if (rc == 0) {
        read_service_log(t);
    }
    return rc;
}

static bool trial_infra(const struct mp_trial_result *res)
{
    return res->state == MP_TRIAL_FAILED && res->failure == MP_FAILURE_INFRA;
}

/* Whether an attempt failed because the trials' namespace is being deleted or is gone (deleted
 * while the run goes on): then the message of that, at runner.namespace, is in nerr. Asked of
 * the API server; a caller who may not read namespaces has the create's refusal (rc, err). */
static bool namespace_lost(struct mp_kube_runner *r, int rc, const struct mp_error *err,
                           struct mp_error *nerr)
{
    enum kube_ns_state state = KUBE_NS_USABLE;
    if (mp_kube_runner_namespace_state(r, &state, nerr) != 0) {
        mp_error_clear(nerr);
    }
    char gone[300];
    snprintf(gone, sizeof(gone), "namespaces \"%s\" not found", r->ns);
    if (state == KUBE_NS_USABLE && rc == MP_EFORBIDDEN &&
        strstr(err->msg, "because it is being terminated")) {
        state = KUBE_NS_DELETING;
    } else if (state == KUBE_NS_USABLE && rc == MP_ENOTFOUND && strstr(err->msg, gone)) {
        state = KUBE_NS_ABSENT;
    }
    if (state == KUBE_NS_USABLE) {
        return false;
    }
    /* The operator runs the experiment again by itself (with backoff); the CLI's user does. */
    mp_kube_runner_namespace_error(
        r, state, r->own_client ? "; then run the same command again to continue" : "", nerr);
    return true;
}

int mp_kube_runner_run_owned(struct mp_runner *base, const struct mp_trial_request *req,
                             const json_t *owner, struct mp_trial_result *res,
                             const atomic_bool *cancel)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    struct mp_error err = {0};
    int rc = sweep_once(r, req, &err);
    if (rc != 0) {
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "start-up sweep: %s", err.msg);
        /* Another run's objects (MP_EEXISTS): retrying cannot help, stop the run. */
        if (mp_kube_runner_refused(rc) || rc == MP_EEXISTS) {
            res->run_error = mp_xasprintf("start-up sweep: %s", err.msg);
        }
        return rc < 0 ? rc : MP_ERUNTIME;
    }
    atomic_fetch_add(&r->in_flight, 1);
    struct kube_trial t = {.res = res, .owner_ref_target = owner};
    t.started_ns = mp_mono_ns();
    trial_init(&t, r, req);
    int64_t timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : base->spec->trial_timeout_ms;
    t.timeout_ns = timeout_ms > 0 ? timeout_ms * 1000000LL : DEFAULT_TRIAL_TIMEOUT_NS;
    t.trial_deadline_ns = mp_mono_ns() + t.timeout_ns;
    struct watchdog wd;
    watchdog_start(&wd, cancel, t.trial_deadline_ns);
    t.cancel_token = wd.token;
    rc = run_steps(&t, &err);
    finish(&t, &wd, &rc, &err);
    watchdog_stop(&wd);
    t.cancel_token = NULL;
    struct mp_error nerr = {0};
    if ((rc != 0 || trial_infra(res)) && namespace_lost(r, rc, &err, &nerr)) {
        /* No attempt can work in it: the trial is INFRA, and the run stops saying why. */
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "%s", nerr.msg);
        res->run_error = mp_xstrdup(nerr.msg);
    } else if (mp_kube_runner_refused(rc) || t.foreign) {
        res->run_error = mp_xstrdup(err.msg);
    }
    /* Always torn down, also after a cancel: the next attempt gets new names anyway; but never
     * an owner of that name that is not ours (another run's). */
    struct mp_error terr = {0};
    int trc = t.owner_taken ? 0 : hurried_teardown(r, &t, &terr);
    if (mp_kube_runner_refused(trc)) {
        /* Another attempt would only leave more behind: stop the run, keep a verdict. */
        refused_teardown(&t, terr.msg);
        rc = rc ? rc : trc;
    } else if (trc != 0 && rc == 0) {
        if (!trial_failed(&t) && res->state != MP_TRIAL_CANCELLED) {
            mp_trial_result_fail(res, MP_FAILURE_INFRA, "teardown: %s", terr.msg);
        }
        rc = trc < 0 ? trc : MP_ERUNTIME;
    }
    t.t_gone_ns = trc == 0 && t.t_loaded_ns ? mp_mono_ns() : 0;
    json_decref(t.owner);
    atomic_store(&r->last_end_ns, (long long)mp_mono_ns());
    atomic_fetch_sub(&r->in_flight, 1);
    record_meta(&t);
    free(t.left);
    if (res->state != MP_TRIAL_CANCELLED) {
        mp_spec_evaluate(base->spec, req->x, res);
    }
    return rc;
}
