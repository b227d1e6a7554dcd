/* SPDX-License-Identifier: Apache-2.0 */
/* The objects of one trial, built as JSON structures: names and labels from (experiment,
 * trial, attempt), the owner ConfigMap, the service's Deployment and Service, the load Job; and
 * the create that adopts what an earlier run of the same trial left. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/kubernetes_int.h"
#include "spec/pe.h"

#define KEY_PREFIX_MAX 33 /* + '-' + 6 hex digits = 40 */

char *mp_kube_runner_experiment_key(const char *experiment, char *buf)
{
    size_t n = strlen(experiment);
    if (n <= 40 && mp_kube_check_name(experiment, MP_KUBE_DNS_LABEL, "experiment", NULL) == 0) {
        snprintf(buf, MP_KUBE_RUNNER_NAME_MAX, "%s", experiment);
        return buf;
    }
    size_t o = 0;
    for (size_t i = 0; experiment[i] && o < KEY_PREFIX_MAX; i++) {
        char c = (char)tolower((unsigned char)experiment[i]);
        if (o == 0 && !isalpha((unsigned char)c)) {
            continue; /* a Service name (DNS-1035) starts with a letter: "_1st" -> "st-..." */
        }
        buf[o++] = isalnum((unsigned char)c) ? c : '-';
    }
    while (o > 0 && buf[o - 1] == '-') {
        o--;
    }
    if (o == 0) {
        buf[o++] = 'x';
    }
    snprintf(buf + o, MP_KUBE_RUNNER_NAME_MAX - o, "-%06llx",
             (unsigned long long)(mp_hash_str(experiment) & 0xffffffULL));
    return buf;
}

char *mp_kube_runner_name(const char *experiment, int64_t trial, int64_t attempt, char *buf)
{
    char key[MP_KUBE_RUNNER_NAME_MAX];
    snprintf(buf, MP_KUBE_RUNNER_NAME_MAX, "%s-t%lld-a%lld",
             mp_kube_runner_experiment_key(experiment, key), (long long)trial, (long long)attempt);
    return buf;
}

json_t *mp_kube_trial_labels(const struct kube_trial *t, const char *role)
{
    char trial[24], attempt[24];
    snprintf(trial, sizeof(trial), "%lld", (long long)t->req->number);
    snprintf(attempt, sizeof(attempt), "%lld", (long long)t->req->attempt);
    json_t *l =
        json_pack("{s:s, s:s, s:s, s:s}", MP_KUBE_LABEL_EXPERIMENT, t->exp_key, MP_KUBE_LABEL_TRIAL,
                  trial, MP_KUBE_LABEL_ATTEMPT, attempt, MP_KUBE_LABEL_MANAGED, MP_KUBE_MANAGED_BY);
    if (t->r->run_id[0]) {
        json_object_set_new(l, MP_KUBE_LABEL_RUN, json_string(t->r->run_id));
    }
    if (role) {
        json_object_set_new(l, MP_KUBE_LABEL_ROLE, json_string(role));
    }
    return l;
}

/* metadata of a trial's object: name, namespace, labels, the experiment's name. */
static json_t *object(const struct kube_trial *t, const char *api_version, const char *kind,
                      const char *name, const char *role)
{
    json_t *o = mp_kube_object_new(api_version, kind, t->r->ns, name);
    json_t *meta = json_object_get(o, "metadata");
    json_object_set_new(meta, "labels", mp_kube_trial_labels(t, role));
    json_object_set_new(meta, "annotations",
                        json_pack("{s:s}", MP_KUBE_ANNOTATION_EXPERIMENT, t->req->experiment));
    return o;
}

/* An ownerReference to our owner ConfigMap (blocking its Foreground delete). */
static int owned(const struct kube_trial *t, json_t *obj, struct mp_error *err)
{
    json_t *owner = json_deep_copy(t->owner);
    /* Lists and creates answer without apiVersion/kind on some servers; ours are known. */
    json_object_set_new(owner, "apiVersion", json_string("v1"));
    json_object_set_new(owner, "kind", json_string("ConfigMap"));
    int rc = mp_kube_add_owner(obj, owner, true, true, err);
    json_decref(owner);
    return rc;
}

json_t *mp_kube_owner_object(const struct kube_trial *t, const double *x)
{
    json_t *o = object(t, "v1", "ConfigMap", t->name, "owner");
    json_t *conf = mp_spec_pe_assignment(t->r->base.spec, x);
    char *text = mp_json_dumps(conf, 0);
    json_object_set_new(o, "data", json_pack("{s:s}", "configuration.json", text));
    free(text);
    if (t->r->bodies) {
        json_object_set(o, "binaryData", t->r->bodies);
    }
    json_decref(conf);
    if (t->owner_ref_target) {
        struct mp_error ignored = {0};
        /* Checked by run_owned before; a failure here leaves the object unowned. */
        if (mp_kube_add_owner(o, t->owner_ref_target, false, true, &ignored) != 0) {
            mp_error_clear(&ignored);
        }
    }
    return o;
}

/* Whether container c is the tuned one (runner.container, else every one: the template's only)
 * and has no readiness probe of its own. */
static bool takes_probe(const json_t *c, const char *want)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    return (!want || (name && strcmp(name, want) == 0)) && !json_object_get(c, "readinessProbe");
}

bool mp_kube_adds_probe(const struct mp_kube_rcfg *cfg)
{
    json_t *cs = json_object_get(json_object_get(cfg->pod_template, "spec"), "containers");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        if (takes_probe(json_array_get(cs, i), cfg->container)) {
            return true;
        }
    }
    return false;
}

/* The tuned container gets a readiness probe when it has none: HTTP on health_path, else a
 * TCP connect, every second, so readiness is seen without delay. */
static void add_probe(const struct kube_trial *t, json_t *pod)
{
    json_t *cs = json_object_get(json_object_get(pod, "spec"), "containers");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        if (!takes_probe(c, t->r->cfg.container)) {
            continue;
        }
        json_t *probe = t->r->cfg.health_path
                            ? json_pack("{s:{s:s, s:I}}", "httpGet", "path", t->r->cfg.health_path,
                                        "port", (json_int_t)t->port)
                            : json_pack("{s:{s:I}}", "tcpSocket", "port", (json_int_t)t->port);
        json_object_set_new(probe, "periodSeconds", json_integer(1));
        json_object_set_new(c, "readinessProbe", probe);
    }
}

int mp_kube_deployment_object(const struct kube_trial *t, const json_t *pod, json_t **out,
                              struct mp_error *err)
{
    json_t *o = object(t, "apps/v1", "Deployment", t->name, "service");
    json_t *tmpl = json_deep_copy(pod);
    json_t *meta = json_object_get(tmpl, "metadata");
    if (!json_is_object(meta)) {
        meta = json_object();
        json_object_set_new(tmpl, "metadata", meta);
    }
    json_object_del(meta, "name");
    json_object_del(meta, "namespace");
    json_t *labels = json_object_get(meta, "labels");
    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(meta, "labels", labels);
    }
    json_t *ours = mp_kube_trial_labels(t, "service");
    json_object_update(labels, ours);
    add_probe(t, tmpl);
    json_object_set_new(o, "spec",
                        json_pack("{s:I, s:{s:o}, s:o}", "replicas", (json_int_t)t->replicas,
                                  "selector", "matchLabels", ours, "template", tmpl));
    int rc = owned(t, o, err);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

json_t *mp_kube_service_object(const struct kube_trial *t)
{
    json_t *o = object(t, "v1", "Service", t->name, "service");
    json_object_set_new(o, "spec",
                        json_pack("{s:s, s:o, s:[{s:s, s:s, s:I, s:I}]}", "type", "ClusterIP",
                                  "selector", mp_kube_trial_labels(t, "service"), "ports", "name",
                                  "http", "protocol", "TCP", "port", (json_int_t)t->port,
                                  "targetPort", (json_int_t)t->port));
    struct mp_error ignored = {0};
    if (owned(t, o, &ignored) != 0) { /* t->owner always has a uid here */
        mp_error_clear(&ignored);
    }
    return o;
}

/* The array at obj[key], made when absent. */
static json_t *array_at(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    if (!json_is_array(a)) {
        a = json_array();
        json_object_set_new(obj, key, a);
    }
    return a;
}

/* The request bodies: the owner's binaryData keys as files of MP_KUBE_BODY_DIR (added to the
 * pod's volumes and the container's mounts). */
static void mount_bodies(const struct kube_trial *t, json_t *pod, json_t *container)
{
    json_t *items = json_array();
    const char *key;
    json_t *v;
    json_object_foreach (t->r->bodies, key, v) {
        json_array_append_new(items, json_pack("{s:s, s:s}", "key", key, "path", key));
    }
    json_array_append_new(array_at(pod, "volumes"),
                          json_pack("{s:s, s:{s:s, s:o}}", "name", "morphling-body", "configMap",
                                    "name", t->name, "items", items));
    json_array_append_new(array_at(container, "volumeMounts"),
                          json_pack("{s:s, s:s, s:b}", "name", "morphling-body", "mountPath",
                                    MP_KUBE_BODY_DIR, "readOnly", 1));
}

/* Keep the load pod off the service's nodes when another node fits. */
static json_t *spread(const struct kube_trial *t)
{
    return json_pack("{s:{s:[{s:I, s:{s:s, s:{s:o}}}]}}", "podAntiAffinity",
                     "preferredDuringSchedulingIgnoredDuringExecution", "weight", (json_int_t)100,
                     "podAffinityTerm", "topologyKey", "kubernetes.io/hostname", "labelSelector",
                     "matchLabels", mp_kube_trial_labels(t, "service"));
}

int mp_kube_load_job_object(const struct kube_trial *t, json_t **out, struct mp_error *err)
{
    const struct mp_kube_rcfg *cfg = &t->r->cfg;
    char *url = mp_xasprintf("http://%s.%s.svc:%lld", t->name, t->r->ns, (long long)t->port);
    json_t *args = NULL;
    /* The load pod's start, and reading its result, come out of the trial's time too. */
    int64_t budget = t->trial_deadline_ns - mp_mono_ns() - KUBE_LOAD_MARGIN_NS;
    int rc = mp_kube_load_args(t->r->base.spec, cfg->load, url, budget, &args, err);
    free(url);
    if (rc != 0) {
        return rc;
    }
    json_t *res = json_pack("{s:s, s:s}", "cpu", cfg->load_cpu, "memory", cfg->load_memory);
    json_t *container = json_pack("{s:s, s:s, s:o, s:{s:o, s:O}, s:s}", "name", "load", "image",
                                  t->r->load_image, "args", args, "resources", "limits", res,
                                  "requests", res, "terminationMessagePolicy", "File");
    json_t *pod = json_pack("{s:s, s:[o]}", "restartPolicy", "Never", "containers", container);
    if (t->r->bodies) {
        mount_bodies(t, pod, container);
    }
    if (cfg->load_spread) {
        json_object_set_new(pod, "affinity", spread(t));
    }
    if (cfg->load_node_selector) {
        char *text = mp_doc_to_json(cfg->load_node_selector);
        json_object_set_new(pod, "nodeSelector", json_loads(text, 0, NULL));
        free(text);
    }
    json_t *o = object(t, "batch/v1", "Job", t->job_name, "load");
    json_object_set_new(o, "spec",
                        json_pack("{s:i, s:{s:{s:o}, s:o}}", "backoffLimit", 0, "template",
                                  "metadata", "labels", mp_kube_trial_labels(t, "load"), "spec",
                                  pod));
    if ((rc = owned(t, o, err)) != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* Sets NAME=value in a container's env list, replacing an entry of that name. */
static void set_env(json_t *env, const char *name, const char *value)
{
    for (size_t i = json_array_size(env); i-- > 0;) {
        const char *have = json_string_value(json_object_get(json_array_get(env, i), "name"));
        if (have && strcmp(have, name) == 0) {
            json_array_remove(env, i);
        }
    }
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

/* The client's environment: where the service is, and the trial's sampled parameters (all as
 * JSON, and each as MORPHLING_PARAM_<NAME>, upper case, other characters '_'). */
static void client_env(const struct kube_trial *t, json_t *c)
{
    json_t *env = array_at(c, "env");
    char port[24];
    snprintf(port, sizeof(port), "%lld", (long long)t->port);
    char *host = mp_xasprintf("%s.%s.svc", t->name, t->r->ns);
    char *url = mp_xasprintf("http://%s:%s", host, port);
    set_env(env, "MORPHLING_SERVICE_HOST", host);
    set_env(env, "MORPHLING_SERVICE_PORT", port);
    set_env(env, "MORPHLING_SERVICE_URL", url);
    set_env(env, "MORPHLING_NAMESPACE", t->r->ns);
    set_env(env, "MORPHLING_TRIAL_NAME", t->name);
    free(host);
    free(url);
    json_t *conf = mp_spec_pe_assignment(t->r->base.spec, t->req->x);
    char *text = mp_json_dumps(conf, 0);
    set_env(env, "MORPHLING_PARAMETERS", text);
    free(text);
    for (size_t i = 0; i < json_array_size(conf); i++) {
        json_t *p = json_array_get(conf, i);
        char *name =
            mp_xasprintf("MORPHLING_PARAM_%s", json_string_value(json_object_get(p, "name")));
        for (char *q = name; *q; q++) {
            *q = isalnum((unsigned char)*q) ? (char)toupper((unsigned char)*q) : '_';
        }
        set_env(env, name, json_string_value(json_object_get(p, "value")));
        free(name);
    }
    json_decref(conf);
    if (t->r->bodies) {
        set_env(env, "MORPHLING_BODY_DIR", MP_KUBE_BODY_DIR);
    }
}

/* The object at obj[key], made when absent. */
static json_t *object_at(json_t *obj, const char *key)
{
    json_t *o = json_object_get(obj, key);
    if (!json_is_object(o)) {
        o = json_object();
        json_object_set_new(obj, key, o);
    }
    return o;
}

int mp_kube_client_job_object(const struct kube_trial *t, json_t **out, struct mp_error *err)
{
    char *text = mp_doc_to_json(t->r->cfg.client_template);
    json_t *tmpl = json_loads(text, 0, NULL);
    free(text);
    json_t *jspec = json_object_get(tmpl, "spec");
    json_t *ptmpl = json_object_get(jspec, "template");
    json_t *pod = json_object_get(ptmpl, "spec");
    json_t *c = json_array_get(json_object_get(pod, "containers"), 0);
    if (!json_is_object(c)) { /* checked with the settings */
        json_decref(tmpl);
        return mp_error_set(err, MP_EINVALID, "runner.client_template: no container");
    }
    json_t *meta = object_at(ptmpl, "metadata");
    json_object_del(meta, "name");
    json_object_del(meta, "namespace");
    json_object_update_new(object_at(meta, "labels"), mp_kube_trial_labels(t, "load"));
    /* One pod, whose termination message is the result; retries are the runner's. A client
     * that fails without writing one leaves its log's last lines there instead (unless the
     * template says otherwise): a failed trial said only "exited with code 1". */
    json_object_set_new(pod, "restartPolicy", json_string("Never"));
    if (!json_object_get(c, "terminationMessagePolicy")) {
        json_object_set_new(c, "terminationMessagePolicy", json_string("FallbackToLogsOnError"));
    }
    json_object_set_new(jspec, "backoffLimit", json_integer(0));
    json_object_del(jspec, "selector");
    json_object_del(jspec, "manualSelector");
    client_env(t, c);
    if (t->r->bodies) {
        mount_bodies(t, pod, c);
    }
    json_t *o = object(t, "batch/v1", "Job", t->job_name, "load");
    json_object_set(o, "spec", jspec);
    json_decref(tmpl);
    int rc = owned(t, o, err);
    if (rc != 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

bool mp_kube_run_owns(const char *run_id, const json_t *obj)
{
    const char *have = mp_kube_label(obj, MP_KUBE_LABEL_RUN);
    return strcmp(have ? have : "", run_id) == 0;
}

enum kube_whose mp_kube_whose(const struct kube_trial *t, const json_t *obj)
{
    json_t *want = mp_kube_trial_labels(t, NULL);
    const char *key;
    json_t *v;
    bool same = mp_kube_run_owns(t->r->run_id, obj);
    json_object_foreach (want, key, v) {
        const char *have = mp_kube_label(obj, key);
        same = same && have && strcmp(have, json_string_value(v)) == 0;
    }
    json_decref(want);
    if (same && !mp_kube_meta(obj, "deletionTimestamp")) {
        return KUBE_OURS;
    }
    const char *exp = mp_kube_label(obj, MP_KUBE_LABEL_EXPERIMENT);
    const char *managed = mp_kube_label(obj, MP_KUBE_LABEL_MANAGED);
    if (exp && strcmp(exp, t->exp_key) == 0 && managed &&
        strcmp(managed, MP_KUBE_MANAGED_BY) == 0 && !mp_kube_run_owns(t->r->run_id, obj)) {
        return KUBE_OTHER_RUN;
    }
    return KUBE_STRANGER;
}

/* Notes an object of the trial that now exists, for a teardown that cannot remove it. */
static void made(struct kube_trial *t, const char *resource, const char *name)
{
    size_t n = strlen(t->made);
    snprintf(t->made + n, sizeof(t->made) - n, "%s%s/%s", n ? ", " : "", resource, name);
}

int mp_kube_create_or_adopt(struct kube_trial *t, const struct mp_kube_ref *ref, const json_t *obj,
                            json_t **out, struct mp_error *err)
{
    struct mp_kube_opts o = {.cancel = t->cancel_token, .retry_unsafe = true};
    t->api_calls++;
    int rc = mp_kube_create(t->r->client, ref, obj, &o, out, err);
    if (rc == 0) {
        made(t, ref->resource, mp_kube_meta(obj, "name"));
    }
    if (rc != MP_EEXISTS) {
        return rc;
    }
    struct mp_kube_ref one = *ref;
    one.name = mp_kube_meta(obj, "name");
    json_t *have = NULL;
    struct mp_error gerr = {0};
    t->api_calls++;
    if (mp_kube_get(t->r->client, &one, &o, &have, &gerr) != 0) {
        mp_error_clear(&gerr);
        return rc; /* the AlreadyExists stands */
    }
    enum kube_whose whose = mp_kube_whose(t, have);
    if (whose != KUBE_OURS) {
        char run[64];
        const char *label = mp_kube_label(have, MP_KUBE_LABEL_RUN);
        snprintf(run, sizeof(run), "%s", label ? label : "(none)");
        json_decref(have);
        t->owner_taken = t->owner_taken || strcmp(ref->resource, "configmaps") == 0;
        if (whose == KUBE_OTHER_RUN) {
            t->foreign = true;
            return mp_error_set(
                err, MP_EEXISTS,
                "%s \"%s\" in namespace \"%s\" belongs to another run of an "
                "experiment named '%s' (run label %s=%s; this run's is %s): another "
                "run of an experiment with this name uses the namespace; use "
                "another name or namespace, or wait until that run ends",
                ref->resource, one.name, t->r->ns, t->req->experiment, MP_KUBE_LABEL_RUN, run,
                t->r->run_id);
        }
        return mp_error_set(err, MP_EEXISTS,
                            "%s \"%s\" in namespace \"%s\" exists and is not this trial's (or is "
                            "being deleted)",
                            ref->resource, one.name, t->r->ns);
    }
    mp_error_clear(err);
    made(t, ref->resource, one.name);
    if (out) {
        *out = have;
    } else {
        json_decref(have);
    }
    return 0;
}
