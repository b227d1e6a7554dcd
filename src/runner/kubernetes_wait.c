/* SPDX-License-Identifier: Apache-2.0 */
/* Waiting on the cluster: a trial's pods judged after a list and on every watch event (never
 * polled; timers only for deadlines), mapping what the kubelet and scheduler say to the failure
 * classes; and waiting until a deleted owner is gone. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/kubernetes_int.h"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void verdict(struct kube_pods_state *st, enum kube_pods_verdict v, enum mp_failure f,
                    const char *fmt, ...) MP_PRINTF(4, 5);

/* Whether no failure has been found yet: the first one found stands. */
static bool undecided(const struct kube_pods_state *st)
{
    return st->verdict == KUBE_PODS_WAITING || st->verdict == KUBE_PODS_READY;
}

static void verdict(struct kube_pods_state *st, enum kube_pods_verdict v, enum mp_failure f,
                    const char *fmt, ...)
{
    if (!undecided(st)) {
        return;
    }
    st->verdict = v;
    st->failure = f;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->reason, sizeof(st->reason), fmt, ap);
    va_end(ap);
}

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* The pod's condition of this type, NULL when absent. */
static json_t *condition(const json_t *pod, const char *type)
{
    json_t *cs = json_object_get(json_object_get(pod, "status"), "conditions");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        const char *t = str(c, "type");
        if (t && strcmp(t, type) == 0) {
            return c;
        }
    }
    return NULL;
}

/* Whether the pod is being evicted: its DisruptionTarget condition, which the API server's
 * eviction (kubectl drain: EvictionByEvictionAPI), the scheduler's preemption, the taint manager
 * and the kubelet set before they delete it; why ("REASON: MESSAGE") into buf. */
static bool evicted(const json_t *pod, char *buf, size_t n)
{
    json_t *c = condition(pod, "DisruptionTarget");
    const char *status = str(c, "status");
    if (!status || strcmp(status, "True") != 0) {
        return false;
    }
    const char *message = str(c, "message");
    snprintf(buf, n, "%s%s%s", or_empty(str(c, "reason")), message && message[0] ? ": " : "",
             or_empty(message));
    return true;
}

static bool is_pull_error(const char *reason)
{
    static const char *const pull[] = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName",
                                       "ErrImageNeverPull"};
    for (size_t i = 0; reason && i < MP_ARRAY_LEN(pull); i++) {
        if (strcmp(reason, pull[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* The kubelet cannot create the container (a missing Secret or ConfigMap key, a runtime error):
 * it keeps trying, and the pod waits with this reason until someone fixes it. */
static bool is_create_error(const char *reason)
{
    return reason && (strcmp(reason, "CreateContainerConfigError") == 0 ||
                      strcmp(reason, "CreateContainerError") == 0);
}

/* A terminated state of the service's container: OOMKilled or a crash. */
static void terminated(struct kube_pods_state *st, const json_t *term, const char *pod,
                       const char *container)
{
    if (undecided(st)) {
        snprintf(st->crashed, sizeof(st->crashed), "%s", pod ? pod : "");
        snprintf(st->container, sizeof(st->container), "%s", container ? container : "");
    }
    const char *reason = str(term, "reason");
    char detail[160];
    snprintf(detail, sizeof(detail), "exit code %lld%s%s",
             (long long)json_integer_value(json_object_get(term, "exitCode")), reason ? ", " : "",
             reason ? reason : "");
    if (reason && strcmp(reason, "OOMKilled") == 0) {
        verdict(st, KUBE_PODS_FAILED, MP_FAILURE_OOM_KILLED, "pod %s: OOMKilled (%s)", pod, detail);
    } else {
        verdict(st, KUBE_PODS_FAILED, MP_FAILURE_CRASHED, "pod %s: container exited: %s", pod,
                detail);
    }
}

static void judge_service_container(struct kube_pods_state *st, const json_t *cs, const char *pod,
                                    const char *node)
{
    json_t *state = json_object_get(cs, "state");
    json_t *waiting = json_object_get(state, "waiting");
    const char *reason = str(waiting, "reason");
    json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");
    if (is_pull_error(reason)) {
        char what[300];
        snprintf(what, sizeof(what), "%s: %s", reason, or_empty(str(waiting, "message")));
        st->pull = st->pull || undecided(st);
        verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA, "pod %s%s%s: image pull failed: %s", pod,
                node ? " on node " : "", or_empty(node), what);
    } else if (is_create_error(reason)) {
        verdict(st, KUBE_PODS_FAILED, MP_FAILURE_CRASHED, "pod %s: %s: %s", pod, reason,
                or_empty(str(waiting, "message")));
    } else if (json_object_get(state, "terminated")) {
        terminated(st, json_object_get(state, "terminated"), pod, str(cs, "name"));
    } else if (last) {
        bool first = undecided(st);
        terminated(st, last, pod, str(cs, "name"));
        st->previous = st->previous || first;
    }
}

static void judge_load_container(struct kube_pods_state *st, const json_t *cs, const char *pod,
                                 const char *node)
{
    json_t *state = json_object_get(cs, "state");
    json_t *waiting = json_object_get(state, "waiting");
    json_t *term = json_object_get(state, "terminated");
    if (is_pull_error(str(waiting, "reason"))) {
        st->pull = st->pull || undecided(st);
        verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA, "load pod %s%s%s: image pull failed: %s",
                pod, node ? " on node " : "", or_empty(node), or_empty(str(waiting, "message")));
    } else if (is_create_error(str(waiting, "reason"))) {
        /* A client template's missing Secret: the load pod never starts (the trial waited out
         * its deadline, then failed TIMEOUT, a verdict on the configuration). */
        verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA, "load pod %s%s%s: %s: %s", pod,
                node ? " on node " : "", or_empty(node), str(waiting, "reason"),
                or_empty(str(waiting, "message")));
    } else if (term && st->verdict == KUBE_PODS_WAITING) {
        st->verdict = KUBE_PODS_DONE;
        st->exit_code = (int)json_integer_value(json_object_get(term, "exitCode"));
        free(st->message);
        st->message = str(term, "message") ? mp_xstrdup(str(term, "message")) : NULL;
        snprintf(st->reason, sizeof(st->reason), "load pod %s: exit code %d%s%s", pod,
                 st->exit_code, str(term, "reason") ? ", " : "",
                 str(term, "reason") ? str(term, "reason") : "");
    }
}

/* Containers of the pod besides the judged ones (a sidecar, an init container: `list` is
 * containerStatuses or initContainerStatuses) whose image cannot be pulled: the pod never becomes
 * Ready, whatever the configuration (it waited out startup_timeout, then failed STARTUP_TIMEOUT,
 * a verdict on the configuration, with no word of the image). */
static void judge_other_pulls(struct kube_pods_state *st, const json_t *pod, const char *list,
                              const char *skip, const char *node)
{
    json_t *all = json_object_get(json_object_get(pod, "status"), list);
    bool init = strcmp(list, "initContainerStatuses") == 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *cs = json_array_get(all, i);
        const char *cname = str(cs, "name");
        json_t *waiting = json_object_get(json_object_get(cs, "state"), "waiting");
        if ((skip && cname && strcmp(cname, skip) == 0) || !is_pull_error(str(waiting, "reason"))) {
            continue;
        }
        st->pull = st->pull || undecided(st);
        verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
                "pod %s%s%s: image pull failed (%scontainer \"%s\"): %s: %s",
                mp_kube_meta(pod, "name"), node ? " on node " : "", or_empty(node),
                init ? "init " : "", or_empty(cname), str(waiting, "reason"),
                or_empty(str(waiting, "message")));
    }
}

/* Whether the scheduler found no node for the pod (PodScheduled False, Unschedulable). */
static bool pod_unschedulable(const json_t *pod)
{
    json_t *sched = condition(pod, "PodScheduled");
    const char *status = str(sched, "status"), *reason = str(sched, "reason");
    return status && strcmp(status, "False") == 0 && reason && strcmp(reason, "Unschedulable") == 0;
}

static void judge_pod(const json_t *pod, bool load, const char *container, bool others,
                      struct kube_pods_state *st)
{
    const char *name = mp_kube_meta(pod, "name");
    json_t *sched = condition(pod, "PodScheduled");
    bool unschedulable = pod_unschedulable(pod);
    if (unschedulable && others) {
        /* Other trials of this run may hold what it needs: wait for them, within the deadline. */
        snprintf(st->waiting, sizeof(st->waiting), "pod %s: unschedulable: %s", name,
                 or_empty(str(sched, "message")));
        if (!load && !st->unready[0] && name) {
            snprintf(st->unready, sizeof(st->unready), "%s", name);
        }
        return;
    }
    if (unschedulable) {
        /* Alone in the run, it asks for more than the nodes have: a verdict on it. */
        st->unschedulable = st->unschedulable || undecided(st);
        verdict(st, load ? KUBE_PODS_INFRA : KUBE_PODS_FAILED,
                load ? MP_FAILURE_INFRA : MP_FAILURE_STARTUP_TIMEOUT, "pod %s: unschedulable: %s",
                name, or_empty(str(sched, "message")));
        return;
    }
    json_t *all = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    /* Named in a pull error: a node that cannot reach the registry shows as the same node. */
    const char *node_name = str(json_object_get(pod, "spec"), "nodeName");
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *cs = json_array_get(all, i);
        const char *cname = str(cs, "name");
        if (load) {
            judge_load_container(st, cs, name, node_name);
        } else if (!container || (cname && strcmp(cname, container) == 0)) {
            judge_service_container(st, cs, name, node_name);
        }
    }
    if (!load && container) {
        judge_other_pulls(st, pod, "containerStatuses", container, node_name);
    }
    if (!load) {
        judge_other_pulls(st, pod, "initContainerStatuses", NULL, node_name);
    }
    json_t *ready = condition(pod, "Ready");
    if (!load && ready && strcmp(str(ready, "status") ? str(ready, "status") : "", "True") == 0) {
        st->ready++;
    } else if (!load && !st->unready[0] && name) {
        snprintf(st->unready, sizeof(st->unready), "%s", name);
    }
    const char *phase = str(json_object_get(pod, "status"), "phase");
    const char *preason = str(json_object_get(pod, "status"), "reason");
    if (phase && strcmp(phase, "Failed") == 0 && st->verdict == KUBE_PODS_WAITING) {
        const char *why = str(json_object_get(pod, "status"), "message");
        /* A service pod (restartPolicy Always) fails as a whole only by its node's doing,
         * which sets a reason: evicted under node pressure (its requests are its limits: it
         * kept within them), a node shutdown, refused at admission. No verdict on it. */
        bool node = !load && preason && preason[0];
        verdict(st, load || node ? KUBE_PODS_INFRA : KUBE_PODS_FAILED,
                load || node ? MP_FAILURE_INFRA : MP_FAILURE_CRASHED, "pod %s failed%s%s%s: %s",
                name, node ? " on its node (" : "", node ? preason : "", node ? ")" : "",
                why ? why : or_empty(preason));
    }
}

void mp_kube_judge_pods(json_t *pods, bool load, int want, const char *container, bool others,
                        struct kube_pods_state *st)
{
    free(st->message);
    memset(st, 0, sizeof(*st));
    size_t i;
    json_t *pod;
    json_array_foreach (pods, i, pod) {
        if (!mp_kube_meta(pod, "deletionTimestamp")) {
            judge_pod(pod, load, container, others, st);
        } else if (load) {
            /* Deleted (its Job or the trial's owner went): a result it finished with stands. */
            judge_pod(pod, load, container, others, st);
            char why[256];
            if (st->verdict == KUBE_PODS_WAITING && evicted(pod, why, sizeof(why))) {
                st->deleted = true;
                verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
                        "load pod %s was evicted before it finished (%s)",
                        mp_kube_meta(pod, "name"), why);
            } else if (st->verdict == KUBE_PODS_WAITING) {
                st->deleted = true;
                verdict(st, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
                        "load pod %s was deleted before it finished", mp_kube_meta(pod, "name"));
            }
        }
    }
    if (st->verdict == KUBE_PODS_WAITING && !load && want > 0 && st->ready >= want) {
        st->verdict = KUBE_PODS_READY;
    }
}

void mp_kube_pods_state_release(struct kube_pods_state *st)
{
    free(st->message);
    st->message = NULL;
}

/* ---- list + watch ---- */

struct pod_watch {
    json_t *pods; /* name -> pod */
    char rv[64];
    bool load;
    int want;
    const char *container;
    struct mp_kube_runner *r;
    bool capped;      /* the current watch ends within KUBE_REJUDGE_S */
    bool unscheduled; /* counted in r->unscheduled: every service pod waits Unschedulable */
    struct kube_pods_state *st;
};

/* Counts this trial in r->unscheduled while it has service pods and none of them is scheduled. */
static void count_unscheduled(struct pod_watch *w, bool now)
{
    if (now != w->unscheduled) {
        atomic_fetch_add(&w->r->unscheduled, now ? 1 : -1);
        w->unscheduled = now;
    }
}

/* Whether other trials of the run hold, or may just have released, what a pod waits for: a
 * trial whose pods all wait Unschedulable holds nothing. */
static bool others_hold(const struct pod_watch *w)
{
    int others = atomic_load(&w->r->in_flight) - 1 -
                 (atomic_load(&w->r->unscheduled) - (w->unscheduled ? 1 : 0));
    return others > 0 || mp_mono_ns() - atomic_load(&w->r->last_end_ns) < KUBE_RESCHEDULE_NS;
}

static void judge_cache(struct pod_watch *w)
{
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    bool none_scheduled = !w->load && json_object_size(w->pods) > 0;
    json_object_foreach (w->pods, k, v) {
        json_array_append(arr, v);
        none_scheduled = none_scheduled && pod_unschedulable(v);
    }
    count_unscheduled(w, none_scheduled);
    mp_kube_judge_pods(arr, w->load, w->want, w->container, others_hold(w), w->st);
    json_decref(arr);
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct pod_watch *w = ud;
    snprintf(w->rv, sizeof(w->rv), "%s", ev->resource_version);
    const char *name = mp_kube_meta(ev->object, "name");
    if (ev->type == MP_KUBE_BOOKMARK || !name) {
        return 0;
    }
    if (ev->type == MP_KUBE_DELETED && w->load) {
        /* Kept, as being deleted: the load pod is never replaced, so its end is a verdict. */
        json_t *gone = json_deep_copy(ev->object);
        if (!mp_kube_meta(gone, "deletionTimestamp")) {
            json_object_set_new(json_object_get(gone, "metadata"), "deletionTimestamp",
                                json_string("deleted"));
        }
        json_object_set_new(w->pods, name, gone);
    } else if (ev->type == MP_KUBE_DELETED) {
        json_object_del(w->pods, name);
    } else {
        json_object_set(w->pods, name, ev->object);
    }
    judge_cache(w);
    if (w->st->verdict != KUBE_PODS_WAITING) {
        return 1;
    }
    /* A pod now waits for other trials: a longer watch ends, to go on with the short ones that
     * judge it again (their end brings no event of the pod's). */
    return w->st->waiting[0] && !w->capped ? 2 : 0;
}

static int relist(struct kube_trial *t, const struct mp_kube_ref *ref, const char *selector,
                  struct pod_watch *w, struct mp_error *err)
{
    struct mp_kube_opts o = {.cancel = t->cancel_token, .label_selector = selector};
    json_t *list = NULL;
    t->api_calls++;
    int rc = mp_kube_list(t->r->client, ref, &o, &list, err);
    if (rc != 0) {
        return rc;
    }
    json_object_clear(w->pods);
    size_t i;
    json_t *pod;
    json_array_foreach (json_object_get(list, "items"), i, pod) {
        json_object_set(w->pods, mp_kube_meta(pod, "name"), pod);
    }
    const char *rv = mp_kube_meta(list, "resourceVersion");
    snprintf(w->rv, sizeof(w->rv), "%s", rv ? rv : "");
    json_decref(list);
    judge_cache(w);
    return 0;
}

static int64_t seconds_left(int64_t deadline_ns)
{
    int64_t left = deadline_ns - mp_mono_ns();
    return left <= 0 ? 0 : (left + 999999999) / 1000000000;
}

int mp_kube_wait_pods(struct kube_trial *t, const char *selector, bool load, int want,
                      int64_t deadline_ns, struct kube_pods_state *st, struct mp_error *err)
{
    int64_t t0 = mp_mono_ns();
    struct mp_kube_ref ref = {.version = "v1", .resource = "pods", .ns = t->r->ns};
    struct pod_watch w = {.pods = json_object(),
                          .load = load,
                          .want = want,
                          .container = t->r->cfg.container,
                          .r = t->r,
                          .st = st};
    int rc = relist(t, &ref, selector, &w, err);
    while (rc == 0 && st->verdict == KUBE_PODS_WAITING) {
        int64_t left = seconds_left(deadline_ns);
        if (left == 0) {
            rc = MP_EDEADLINE;
            break;
        }
        if (st->waiting[0] && left > KUBE_REJUDGE_S) {
            /* An Unschedulable pod waits for other trials: judged again at least this often,
             * since the end of the last of them brings no event of its own. */
            left = KUBE_REJUDGE_S;
        }
        w.capped = left <= KUBE_REJUDGE_S;
        struct mp_kube_opts o = {.cancel = t->cancel_token,
                                 .label_selector = selector,
                                 .resource_version = w.rv,
                                 .timeout_seconds = left,
                                 .allow_bookmarks = true};
        t->api_calls++;
        rc = mp_kube_watch(t->r->client, &ref, &o, on_event, &w, err);
        if (rc == 0 && st->waiting[0]) {
            judge_cache(&w);
        }
        if (rc == 1 || rc == 2) {
            rc = 0; /* a verdict, or a pod waiting for other trials: short watches from now */
        } else if (rc == MP_EEXPIRED) {
            mp_error_clear(err);
            rc = relist(t, &ref, selector, &w, err);
        } else if (rc == 0 || rc == MP_ETRANSPORT || rc == MP_EUNAVAILABLE ||
                   rc == MP_ESERVERERROR || rc == MP_ETHROTTLED) {
            /* The server ended the stream (its timeout, a restart) or dropped it: resume from
             * the last version seen; the deadline is checked above. */
            mp_error_clear(err);
            rc = 0;
        }
    }
    count_unscheduled(&w, false);
    json_decref(w.pods);
    t->waited_ns += mp_mono_ns() - t0;
    return rc;
}

struct gone_watch {
    const char *name;
    char rv[64];
    int64_t replicas;   /* > 0: the trial's Deployment: a change of its spec by someone else */
    int64_t seen;       /* the spec.replicas that differed, or -1 */
    int64_t generation; /* the generation of a spec changed otherwise */
    /* The trial's Service (port > 0): a selector or port changed by someone else (`kubectl
     * edit`, `kubectl patch`) sends the load test's requests nowhere. */
    const json_t *selector;
    int64_t port;
    bool service_changed;
};

/* Whether obj, the trial's Service, still sends its port to the trial's pods: its selector is
 * the trial's and a port maps port to the same targetPort (as the runner made it). */
static bool service_intact(const struct gone_watch *g, const json_t *obj)
{
    const json_t *spec = json_object_get(obj, "spec");
    if (!json_equal(json_object_get(spec, "selector"), (json_t *)g->selector)) {
        return false;
    }
    size_t i;
    const json_t *p;
    json_array_foreach (json_object_get(spec, "ports"), i, p) {
        const json_t *target = json_object_get(p, "targetPort");
        if (json_integer_value(json_object_get(p, "port")) == g->port && json_is_integer(target) &&
            json_integer_value(target) == g->port) {
            return true;
        }
    }
    return false;
}

/* Whether obj, the trial's Deployment (g->replicas > 0), was changed by someone else: scaled
 * (spec.replicas not the trial's, in g->seen) or its spec edited (`kubectl set resources`,
 * `rollout restart`: a generation past the create's 1, in g->generation). The runner never
 * changes it after its create. */
static bool changed_by_other(struct gone_watch *g, const json_t *obj)
{
    if (g->port > 0) {
        g->service_changed = !service_intact(g, obj);
        return g->service_changed;
    }
    if (g->replicas <= 0) {
        return false;
    }
    json_t *n = json_object_get(json_object_get(obj, "spec"), "replicas");
    json_t *gen = json_object_get(json_object_get(obj, "metadata"), "generation");
    g->seen =
        json_is_integer(n) && json_integer_value(n) != g->replicas ? json_integer_value(n) : -1;
    g->generation = json_is_integer(gen) ? json_integer_value(gen) : 1;
    return g->seen >= 0 || g->generation > 1;
}

static int on_owner_event(void *ud, const struct mp_kube_event *ev)
{
    struct gone_watch *g = ud;
    snprintf(g->rv, sizeof(g->rv), "%s", ev->resource_version);
    return ev->type == MP_KUBE_DELETED ? 1 : 0;
}

/* rc of a wait for a deleted object, but 0 for one a second Ctrl-C ended (MP_ECANCELLED: only
 * the teardown's waits carry t's cancel token then; the delete is made, the cluster finishes
 * it), noted in t. */
static int unless_hurried(struct kube_trial *t, int rc, struct mp_error *err)
{
    if (rc != MP_ECANCELLED || !t) {
        return rc;
    }
    t->teardown_hurried = true;
    mp_error_clear(err);
    return 0;
}

static int wait_gone(struct mp_kube_runner *r, struct kube_trial *t, const char *resource,
                     const char *name, int64_t deadline_ns, struct mp_error *err)
{
    struct mp_kube_ref ref = {.version = "v1", .resource = resource, .ns = r->ns, .name = name};
    for (;;) {
        json_t *obj = NULL;
        struct mp_kube_opts g = {.cancel = t ? t->cancel_token : NULL};
        if (t) {
            t->api_calls++;
        }
        int rc = mp_kube_get(r->client, &ref, &g, &obj, err);
        if (rc == MP_ENOTFOUND) {
            mp_error_clear(err);
            return 0;
        }
        if (rc != 0) {
            return unless_hurried(t, rc, err);
        }
        struct gone_watch w = {.name = name};
        snprintf(w.rv, sizeof(w.rv), "%s", mp_kube_meta(obj, "resourceVersion"));
        json_decref(obj);
        int64_t left = seconds_left(deadline_ns);
        if (left == 0) {
            return mp_error_set(err, MP_EDEADLINE,
                                "%s \"%s\"%s were not gone within the delete timeout",
                                strcmp(resource, "pods") == 0 ? "pod" : "configmap", name,
                                strcmp(resource, "pods") == 0 ? "" : " and the objects it owns");
        }
        struct mp_kube_opts o = {
            .resource_version = w.rv, .timeout_seconds = left, .cancel = g.cancel};
        if (t) {
            t->api_calls++;
        }
        rc = mp_kube_watch(r->client, &ref, &o, on_owner_event, &w, err);
        if (rc == 1) {
            return 0;
        }
        if (rc != 0 && rc != MP_EEXPIRED && rc != MP_ETRANSPORT && rc != MP_EUNAVAILABLE &&
            rc != MP_ESERVERERROR && rc != MP_ETHROTTLED) {
            return unless_hurried(t, rc, err);
        }
        mp_error_clear(err);
    }
}

int mp_kube_wait_gone(struct mp_kube_runner *r, struct kube_trial *t, const char *name,
                      int64_t deadline_ns, struct mp_error *err)
{
    int64_t t0 = mp_mono_ns();
    int rc = wait_gone(r, t, "configmaps", name, deadline_ns, err);
    if (t) {
        t->waited_ns += mp_mono_ns() - t0;
    }
    return rc;
}

int mp_kube_wait_pod_gone(struct mp_kube_runner *r, struct kube_trial *t, const char *name,
                          int64_t deadline_ns, struct mp_error *err)
{
    int64_t t0 = mp_mono_ns();
    int rc = wait_gone(r, t, "pods", name, deadline_ns, err);
    t->waited_ns += mp_mono_ns() - t0;
    return rc;
}

/* ---- sentinels ---- */

static void mark_lost(struct kube_sentinel *s, const char *how)
{
    struct kube_trial *t = s->t;
    bool expected = false;
    if (atomic_compare_exchange_strong(&t->lost, &expected, true)) {
        snprintf(t->lost_reason, sizeof(t->lost_reason), "the trial's %s \"%s\" %s", s->what,
                 s->name, how);
        mp_kube_cancel_fire(t->cancel_token);
    }
}

static int on_sentinel_event(void *ud, const struct mp_kube_event *ev)
{
    struct gone_watch *g = ud;
    snprintf(g->rv, sizeof(g->rv), "%s", ev->resource_version);
    if (ev->type == MP_KUBE_DELETED) {
        return 1;
    }
    if (ev->type == MP_KUBE_BOOKMARK) {
        return 0;
    }
    return mp_kube_meta(ev->object, "deletionTimestamp") ? 2
           : changed_by_other(g, ev->object)             ? 3
                                                         : 0;
}

static void mark_changed(struct kube_sentinel *s, const struct gone_watch *g)
{
    char how[96];
    if (g->service_changed) {
        snprintf(how, sizeof(how),
                 "was changed by someone else (its selector or port is no longer the trial's)");
    } else if (g->seen >= 0) {
        snprintf(how, sizeof(how), "was scaled to %lld replicas (the trial's: %lld)",
                 (long long)g->seen, (long long)g->replicas);
    } else {
        snprintf(how, sizeof(how), "was changed by someone else (generation %lld)",
                 (long long)g->generation);
    }
    mark_lost(s, how);
}

/* The pods a pods sentinel guards: name -> the restarts of their tuned container (all of them
 * without runner.container), those alive when it started. */
struct pods_guard {
    struct kube_sentinel *s;
    json_t *alive;
    char rv[64];
    char evicted[160]; /* why the pod is being evicted (its DisruptionTarget condition) */
};

/* Restarts of the pod's tuned container(s), plus one when one is terminated now. */
static json_int_t restarts(const struct kube_trial *t, const json_t *pod)
{
    const char *container = t->r->cfg.container;
    json_t *all = json_object_get(json_object_get(pod, "status"), "containerStatuses");
    json_int_t n = 0;
    size_t i;
    json_t *cs;
    json_array_foreach (all, i, cs) {
        const char *name = json_string_value(json_object_get(cs, "name"));
        if (!container || (name && strcmp(name, container) == 0)) {
            n += json_integer_value(json_object_get(cs, "restartCount"));
            n += json_object_get(json_object_get(cs, "state"), "terminated") != NULL;
        }
    }
    return n;
}

static int on_guarded_pod(void *ud, const struct mp_kube_event *ev)
{
    struct pods_guard *g = ud;
    snprintf(g->rv, sizeof(g->rv), "%s", ev->resource_version);
    const char *name = mp_kube_meta(ev->object, "name");
    json_t *before = name ? json_object_get(g->alive, name) : NULL;
    if (ev->type == MP_KUBE_BOOKMARK || !before) {
        return 0;
    }
    const char *phase =
        json_string_value(json_object_get(json_object_get(ev->object, "status"), "phase"));
    if (phase && strcmp(phase, "Failed") == 0) { /* evicted by its node, not deleted (yet) */
        snprintf(g->s->name, sizeof(g->s->name), "%s", name);
        return 3;
    }
    if (evicted(ev->object, g->evicted, sizeof(g->evicted))) {
        /* Said before its deletion: its requests fail from now on, no verdict on the trial. */
        snprintf(g->s->name, sizeof(g->s->name), "%s", name);
        return 5;
    }
    if (ev->type == MP_KUBE_DELETED || mp_kube_meta(ev->object, "deletionTimestamp")) {
        snprintf(g->s->name, sizeof(g->s->name), "%s", name);
        return ev->type == MP_KUBE_DELETED ? 1 : 2;
    }
    if (restarts(g->s->t, ev->object) > json_integer_value(before)) {
        snprintf(g->s->name, sizeof(g->s->name), "%s", name);
        return 4; /* its container exited: a verdict on the configuration, not lost */
    }
    return 0;
}

static void *pods_sentinel_main(void *p)
{
    struct kube_sentinel *s = p;
    struct pods_guard g = {.s = s, .alive = json_object()};
    struct mp_kube_opts lo = {.cancel = s->stop, .label_selector = s->selector};
    json_t *list = NULL;
    struct mp_error err = {0};
    s->api_calls++;
    int rc = mp_kube_list(s->t->r->client, &s->ref, &lo, &list, &err);
    size_t i;
    json_t *pod;
    json_array_foreach (json_object_get(list, "items"), i, pod) {
        const char *name = mp_kube_meta(pod, "name");
        if (name && !mp_kube_meta(pod, "deletionTimestamp")) {
            json_object_set_new(g.alive, name, json_integer(restarts(s->t, pod)));
        }
    }
    const char *rv = mp_kube_meta(list, "resourceVersion");
    snprintf(g.rv, sizeof(g.rv), "%s", rv ? rv : "");
    json_decref(list);
    /* Only the watch's own end goes on: an error (refused, 410: the list is then too old to
     * tell what was deleted) ends this early warning; the trial's own calls still apply. */
    while (rc == 0 && !mp_kube_cancel_fired(s->stop)) {
        struct mp_kube_opts o = {.cancel = s->stop,
                                 .label_selector = s->selector,
                                 .resource_version = g.rv,
                                 .allow_bookmarks = true};
        s->api_calls++;
        rc = mp_kube_watch(s->t->r->client, &s->ref, &o, on_guarded_pod, &g, &err);
        if (rc >= 1 && rc <= 3) {
            mark_lost(s, rc == 1   ? "was deleted"
                         : rc == 2 ? "is being deleted"
                                   : "failed on its node (evicted)");
        } else if (rc == 5) {
            char how[200];
            snprintf(how, sizeof(how), "is being evicted (%s)", g.evicted);
            mark_lost(s, how);
        } else if (rc == 4) {
            atomic_store(&s->t->service_exited, true);
            mp_kube_cancel_fire(s->t->cancel_token);
        }
    }
    mp_error_clear(&err);
    json_decref(g.alive);
    return NULL;
}

void mp_kube_pods_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                                 const char *selector, const char *what)
{
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->ref = (struct mp_kube_ref){.version = "v1", .resource = "pods", .ns = t->r->ns};
    s->selector = selector;
    s->what = what;
    s->stop = mp_kube_cancel_new();
    s->running = pthread_create(&s->thread, NULL, pods_sentinel_main, s) == 0;
}

static void *sentinel_main(void *p)
{
    struct kube_sentinel *s = p;
    struct mp_kube_ref ref = s->ref;
    ref.name = s->name;
    while (!mp_kube_cancel_fired(s->stop)) {
        struct mp_kube_opts g = {.cancel = s->stop};
        json_t *obj = NULL;
        struct mp_error err = {0};
        s->api_calls++;
        int rc = mp_kube_get(s->t->r->client, &ref, &g, &obj, &err);
        if (rc == MP_ENOTFOUND || (rc == 0 && mp_kube_meta(obj, "deletionTimestamp"))) {
            json_decref(obj);
            mark_lost(s, "was deleted");
            break;
        }
        if (rc != 0) {
            break; /* cancelled, or an error the trial's own calls meet too */
        }
        struct gone_watch w = {.name = s->name,
                               .replicas = s->replicas,
                               .selector = s->service_selector,
                               .port = s->service_selector ? s->t->port : 0};
        if (changed_by_other(&w, obj)) {
            json_decref(obj);
            mark_changed(s, &w);
            break;
        }
        snprintf(w.rv, sizeof(w.rv), "%s", mp_kube_meta(obj, "resourceVersion"));
        json_decref(obj);
        struct mp_kube_opts o = {.cancel = s->stop, .resource_version = w.rv};
        s->api_calls++;
        rc = mp_kube_watch(s->t->r->client, &ref, &o, on_sentinel_event, &w, &err);
        if (rc == 1 || rc == 2) {
            mark_lost(s, rc == 1 ? "was deleted" : "is being deleted");
            break;
        }
        if (rc == 3) {
            mark_changed(s, &w);
            break;
        }
        if (rc != 0 && rc != MP_EEXPIRED) {
            /* Refused (no `watch` right) or failing: the sentinel is an early warning only, so
             * it gives up rather than retry in a loop; the trial's own calls and deadlines
             * still apply. */
            break;
        }
        /* The server ended the watch (its timeout, a restart, 410): look again. */
        mp_error_clear(&err);
    }
    return NULL;
}

static void sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                           const struct mp_kube_ref *ref, const char *name, const char *what,
                           int64_t replicas, json_t *service_selector)
{
    memset(s, 0, sizeof(*s));
    s->t = t;
    s->ref = *ref;
    s->replicas = replicas;
    s->service_selector = service_selector;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->what = what;
    s->stop = mp_kube_cancel_new();
    s->running = pthread_create(&s->thread, NULL, sentinel_main, s) == 0;
}

void mp_kube_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                            const struct mp_kube_ref *ref, const char *name, const char *what,
                            int64_t replicas)
{
    sentinel_start(s, t, ref, name, what, replicas, NULL);
}

void mp_kube_service_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                                    const struct mp_kube_ref *ref)
{
    sentinel_start(s, t, ref, t->name, "service", 0, mp_kube_trial_labels(t, "service"));
}

void mp_kube_sentinel_stop(struct kube_sentinel *s)
{
    if (!s->stop) {
        return;
    }
    mp_kube_cancel_fire(s->stop);
    if (s->running) {
        pthread_join(s->thread, NULL);
    }
    mp_kube_cancel_free(s->stop);
    json_decref(s->service_selector);
    s->service_selector = NULL;
    s->stop = NULL;
    s->t->api_calls += s->api_calls;
}
