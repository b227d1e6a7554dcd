/* SPDX-License-Identifier: Apache-2.0 */
/* The kubernetes runner's life outside a trial: validation, creation (kubeconfig, context,
 * namespace checked before any object exists), the ops table, and listing, reconciling and
 * deleting the objects of an experiment (the start-up sweep and the operator's seam). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/kubernetes_int.h"

/* The port without runner.port: the tuned container's first containerPort, else 8500; *from
 * says which. */
static int64_t default_port(const struct mp_kube_rcfg *cfg, const char **from)
{
    *from = "the container's first containerPort";
    json_t *cs = json_object_get(json_object_get(cfg->pod_template, "spec"), "containers");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        if (cfg->container && (!name || strcmp(name, cfg->container) != 0)) {
            continue;
        }
        json_t *port =
            json_object_get(json_array_get(json_object_get(c, "ports"), 0), "containerPort");
        if (json_is_integer(port)) {
            return json_integer_value(port);
        }
    }
    *from = "the default: no runner.port, and the container has no containerPort";
    return MP_KUBE_DEFAULT_PORT;
}

#define KUBECONFIG_KEYS "runner.kubeconfig (runner.context: its context)"

static int make_client(struct mp_kube_runner *r, const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_kube_load_opts lo = {.kubeconfig = r->cfg.kubeconfig,
                                   .context = r->cfg.context,
                                   .in_cluster_fallback = true,
                                   .name_one = "$KUBECONFIG or the spec's " KUBECONFIG_KEYS,
                                   .name_context = "the spec's runner.context"};
    struct mp_kube_config *kc = NULL;
    struct mp_error kerr = {0};
    int rc = mp_kube_config_load(&lo, &kc, &kerr);
    if (rc != 0) {
        const struct mp_node *rn = spec->runner_node;
        const struct mp_node *at = mp_doc_get(rn, r->cfg.context ? "context" : "kubeconfig");
        bool hint = !r->cfg.kubeconfig && !r->cfg.context && !strstr(kerr.msg, "runner.");
        return mp_doc_error(err, at ? at : rn, "%s%s", kerr.msg,
                            hint ? " (in a spec: runner.kubeconfig, runner.context)" : "");
    }
    rc = mp_kube_client_new(kc, NULL, &r->client, err);
    r->own_client = rc == 0;
    return rc;
}

/* Where the namespace came from when runner.namespace did not name it, for messages about it:
 * " (the namespace of kubeconfig context \"C\" in FILE)", " (the default namespace)"; "" when
 * runner.namespace named it. */
static char *ns_origin(const struct mp_kube_runner *r)
{
    if (r->cfg.ns) {
        return mp_xstrdup("");
    }
    if (r->default_ns || !r->client) {
        return mp_xstrdup(" (the default namespace)");
    }
    const struct mp_kube_config *kc = mp_kube_client_config(r->client);
    return mp_xasprintf(" (the namespace of kubeconfig context \"%s\" in %s)",
                        mp_kube_config_context(kc), mp_kube_config_source(kc));
}

/* What to do about a namespace, by where it came from: its other remedy than fixing it. */
static const char *ns_remedy(const struct mp_kube_runner *r)
{
    return r->cfg.ns ? "name another in runner.namespace"
           : r->default_ns || !r->client
               ? "name one in runner.namespace"
               : "fix the context's namespace there, or name one in runner.namespace";
}

int mp_kube_runner_namespace_state(struct mp_kube_runner *r, enum kube_ns_state *state,
                                   struct mp_error *err)
{
    struct mp_kube_ref ref = {.version = "v1", .resource = "namespaces", .name = r->ns};
    json_t *ns = NULL;
    *state = KUBE_NS_USABLE;
    int rc = mp_kube_get(r->client, &ref, NULL, &ns, err);
    if (rc == 0 && mp_kube_meta(ns, "deletionTimestamp")) {
        *state = KUBE_NS_DELETING;
    } else if (rc == MP_ENOTFOUND || rc == MP_EFORBIDDEN) {
        *state = rc == MP_ENOTFOUND ? KUBE_NS_ABSENT : KUBE_NS_USABLE;
        mp_error_clear(err);
        rc = 0;
    }
    json_decref(ns);
    return rc;
}

int mp_kube_runner_namespace_error(struct mp_kube_runner *r, enum kube_ns_state state,
                                   const char *then, struct mp_error *err)
{
    const struct mp_node *rn = r->base.spec->runner_node;
    const struct mp_node *at = mp_doc_get(rn, "namespace");
    char *origin = ns_origin(r);
    const char *server = mp_kube_config_server(mp_kube_client_config(r->client));
    int rc = state == KUBE_NS_DELETING
                 ? mp_doc_error(err, at ? at : rn,
                                "namespace \"%s\" is being deleted (Terminating): it takes no new "
                                "objects (%s)%s: wait until it is gone and create it again, or "
                                "%s%s",
                                r->ns, server, origin, ns_remedy(r), then)
                 : mp_doc_error(err, at ? at : rn,
                                "namespace \"%s\" does not exist in the cluster (%s)%s: create it "
                                "(kubectl create namespace %s), or %s%s",
                                r->ns, server, origin, r->ns, ns_remedy(r), then);
    free(origin);
    return rc;
}

/* The namespace must exist, and not be being deleted (the API server refuses every create in
 * it). A caller who may not read namespaces finds out at the first create instead. */
static int check_namespace(struct mp_kube_runner *r, struct mp_error *err)
{
    enum kube_ns_state state;
    int rc = mp_kube_runner_namespace_state(r, &state, err);
    if (rc != 0 || state == KUBE_NS_USABLE) {
        return rc;
    }
    return mp_kube_runner_namespace_error(r, state, "", err);
}

/* A namespace that did not come from runner.namespace (checked with the settings) must be a
 * namespace name too: a kubeconfig context's "Bad_NS" was looked up as a namespace that "does
 * not exist", an "a/b" refused as a resource path, neither saying where it came from. */
static int check_namespace_name(struct mp_kube_runner *r, const struct mp_spec *spec,
                                const char *ns, struct mp_error *err)
{
    struct mp_error nerr = {0};
    if (r->cfg.ns || mp_kube_check_name(ns, MP_KUBE_DNS_LABEL, "namespace", &nerr) == 0) {
        return 0;
    }
    char *origin = ns_origin(r);
    int rc = mp_doc_error(err, spec->runner_node, "%s%s: %s", nerr.msg, origin, ns_remedy(r));
    free(origin);
    return rc;
}

/* May the kubeconfig's user work in the namespace at all? One list of the experiment's owner
 * ConfigMaps (what the start-up sweep reads): a 401 or 403 stops the run here, before any trial
 * exists, rather than failing every trial in turn. Other errors show at the first trial. */
static int check_access(struct mp_kube_runner *r, const struct mp_spec *spec, struct mp_error *err)
{
    char key[MP_KUBE_RUNNER_NAME_MAX];
    char *sel = mp_xasprintf("%s=%s", MP_KUBE_LABEL_EXPERIMENT,
                             mp_kube_runner_experiment_key(spec->name, key));
    struct mp_kube_ref ref = {.version = "v1", .resource = "configmaps", .ns = r->ns};
    struct mp_kube_opts o = {.label_selector = sel, .limit = 1};
    struct mp_error lerr = {0};
    int rc = mp_kube_list(r->client, &ref, &o, NULL, &lerr);
    free(sel);
    if (mp_kube_runner_refused(rc)) {
        return mp_error_set(err, rc, "%s (the RBAC the runner needs: docs/kubernetes.md)",
                            lerr.msg);
    }
    mp_error_clear(&lerr);
    return 0;
}

int mp_kube_runner_new(const struct mp_spec *spec, const struct mp_kube_runner_opts *opts,
                       struct mp_runner **out, struct mp_error *err)
{
    static const struct mp_kube_runner_opts none = {0};
    opts = opts ? opts : &none;
    struct mp_kube_runner *r = mp_xcalloc(1, sizeof(*r));
    r->base.ops = &mp_runner_kubernetes;
    r->base.spec = spec;
    r->no_sweep = opts->no_sweep;
    r->default_ns = opts->default_namespace != NULL;
    snprintf(r->run_id, sizeof(r->run_id), "%s", opts->run_id ? opts->run_id : "");
    pthread_mutex_init(&r->sweep_lock, NULL);
    *out = NULL;
    int rc = mp_kube_rcfg_parse(spec, &r->cfg, err);
    if (rc == 0 && opts->client && (r->cfg.kubeconfig || r->cfg.context)) {
        /* The operator's: a kubeconfig or context would be ignored without a word. */
        const char *key = r->cfg.context ? "context" : "kubeconfig";
        rc = mp_doc_error(err, mp_doc_get(spec->runner_node, key),
                          "not used here: the operator runs every trial with its own client (its "
                          "service account)");
    }
    if (rc == 0 && opts->client) {
        r->client = opts->client;
    } else if (rc == 0 && !opts->offline) {
        rc = make_client(r, spec, err);
    }
    if (rc == 0) {
        snprintf(r->fallback_ns, sizeof(r->fallback_ns), "%s",
                 opts->default_namespace ? opts->default_namespace
                 : !r->client            ? "default"
                              : mp_kube_config_namespace(mp_kube_client_config(r->client)));
        const char *ns = r->cfg.ns ? r->cfg.ns : r->fallback_ns;
        snprintf(r->ns, sizeof(r->ns), "%s", ns);
        rc = check_namespace_name(r, spec, ns, err);
    }
    if (rc == 0) {
        const char *image = opts->load_image    ? opts->load_image
                            : r->cfg.load_image ? r->cfg.load_image
                                                : "morphling:" MP_VERSION;
        snprintf(r->load_image, sizeof(r->load_image), "%s", image);
        r->cfg.port_from = "runner.port";
        if (r->cfg.port == 0) {
            r->cfg.port = default_port(&r->cfg, &r->cfg.port_from);
        }
        rc = mp_kube_load_bodies(spec, r->cfg.load, &r->bodies, err);
    }
    if (rc == 0 && r->client) {
        rc = check_namespace(r, err);
    }
    if (rc == 0 && r->client) {
        rc = check_access(r, spec, err);
    }
    if (rc != 0) {
        mp_runner_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}

/* The settings, and what they refer to: the kubeconfig, its context, the namespace in the
 * cluster (one GET). So `morphling run` exits 2 before the store or the cluster changes. */
static int kube_validate(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_runner *r = NULL;
    int rc = mp_kube_runner_new(spec, NULL, &r, err);
    if (rc == 0) {
        rc = mp_kube_runner_check_pod(r, err);
    }
    mp_runner_free(r);
    return rc;
}

/* kube_validate without the cluster: the settings and the files they name, the pod template
 * rendered; not the kubeconfig, the namespace, the rights or the API server's verdict. */
static int kube_validate_offline(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_runner *r = NULL;
    struct mp_kube_runner_opts o = {.offline = true};
    int rc = mp_kube_runner_new(spec, &o, &r, err);
    if (rc == 0) {
        rc = mp_kube_runner_check_pod(r, err);
    }
    mp_runner_free(r);
    return rc;
}

static int kube_create(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    return mp_kube_runner_new(spec, NULL, out, err);
}

static void kube_free(struct mp_runner *base)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    if (!r) {
        return;
    }
    if (r->own_client) {
        mp_kube_client_free(r->client);
    }
    mp_kube_rcfg_release(&r->cfg);
    json_decref(r->bodies);
    pthread_mutex_destroy(&r->sweep_lock);
    free(r->replaced);
    free(r);
}

/* ---- the objects of an experiment ---- */

int mp_kube_runner_list(struct mp_runner *base, const char *experiment,
                        struct mp_kube_trial_object **out, size_t *n, struct mp_error *err)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    char key[MP_KUBE_RUNNER_NAME_MAX];
    char *sel = mp_xasprintf("%s=%s,%s=owner,%s=%s", MP_KUBE_LABEL_EXPERIMENT,
                             mp_kube_runner_experiment_key(experiment, key), MP_KUBE_LABEL_ROLE,
                             MP_KUBE_LABEL_MANAGED, MP_KUBE_MANAGED_BY);
    struct mp_kube_ref ref = {.version = "v1", .resource = "configmaps", .ns = r->ns};
    struct mp_kube_opts o = {.label_selector = sel, .limit = 500};
    json_t *list = NULL;
    int rc = mp_kube_list_all(r->client, &ref, &o, &list, err);
    free(sel);
    *out = NULL;
    *n = 0;
    if (rc != 0) {
        return rc;
    }
    json_t *items = json_object_get(list, "items");
    *out = mp_xcalloc(json_array_size(items) + 1, sizeof(**out));
    size_t i;
    json_t *obj;
    json_array_foreach (items, i, obj) {
        struct mp_kube_trial_object *t = &(*out)[*n];
        const char *trial = mp_kube_label(obj, MP_KUBE_LABEL_TRIAL);
        const char *attempt = mp_kube_label(obj, MP_KUBE_LABEL_ATTEMPT);
        if (!trial || !attempt || mp_parse_int64(trial, &t->trial) != 0 ||
            mp_parse_int64(attempt, &t->attempt) != 0) {
            continue;
        }
        snprintf(t->name, sizeof(t->name), "%s", mp_kube_meta(obj, "name"));
        t->deleting = mp_kube_meta(obj, "deletionTimestamp") != NULL;
        /* The replaced experiment's (`run --restart`) are this store's killed run's: ours. */
        t->foreign = !mp_kube_run_owns(r->run_id, obj);
        for (size_t k = 0; t->foreign && k < r->n_replaced; k++) {
            t->foreign = !mp_kube_run_owns(r->replaced[k].run_id, obj);
        }
        (*n)++;
    }
    json_decref(list);
    return 0;
}

static int delete_owner(struct mp_kube_runner *r, const char *ns, const char *name,
                        struct mp_error *err)
{
    struct mp_kube_ref cm = {.version = "v1", .resource = "configmaps", .ns = ns, .name = name};
    struct mp_kube_opts o = {.propagation_policy = "Foreground"};
    int rc = mp_kube_delete(r->client, &cm, &o, NULL, err);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        rc = 0;
    }
    return rc;
}

/* Another run's objects among the experiment's: MP_EEXISTS naming them (a few), since neither
 * run may delete nor adopt the other's and both would use the same names. */
static int refuse_foreign(struct mp_kube_runner *r, const char *experiment,
                          const struct mp_kube_trial_object *objs, size_t n, struct mp_error *err)
{
    struct mp_buf names = MP_BUF_INIT;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        if (objs[i].foreign && found++ < 4) {
            mp_buf_addf(&names, "%sconfigmaps/%s", found > 1 ? ", " : "", objs[i].name);
        }
    }
    int rc = 0;
    char key[MP_KUBE_RUNNER_NAME_MAX];
    if (found > 0) {
        /* A run killed for good (a `morphling trial`, an experiment started again with
         * --restart) never ends: say how to remove what it left. */
        rc = mp_error_set(err, MP_EEXISTS,
                          "another run of an experiment named '%s' uses namespace \"%s\": its "
                          "trials' objects %s%s carry another %s label than this run's (%s); this "
                          "run leaves them alone and stops (use another experiment name or "
                          "namespace, or wait until that run ends; when it was killed and will "
                          "not be continued, e.g. a `morphling trial`, delete what it left: "
                          "kubectl -n %s delete configmaps -l %s=%s,%s=owner "
                          "--cascade=foreground)",
                          experiment, r->ns, names.data, found > 4 ? ", ..." : "",
                          MP_KUBE_LABEL_RUN, r->run_id, r->ns, MP_KUBE_LABEL_EXPERIMENT,
                          mp_kube_runner_experiment_key(experiment, key), MP_KUBE_LABEL_ROLE);
    }
    mp_buf_release(&names);
    return rc;
}

int mp_kube_runner_reconcile(struct mp_runner *base, const char *experiment, mp_kube_keep_fn *keep,
                             void *ud, size_t *deleted, struct mp_error *err)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    struct mp_kube_trial_object *objs = NULL;
    size_t n = 0, gone = 0;
    int rc = mp_kube_runner_list(base, experiment, &objs, &n, err);
    if (rc == 0) {
        rc = refuse_foreign(r, experiment, objs, n, err);
    }
    bool *drop = mp_xcalloc(n + 1, sizeof(bool));
    /* Every delete first, then the waits: the objects go away in parallel. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        drop[i] = !(keep && keep(ud, objs[i].trial, objs[i].attempt));
        if (drop[i] && !objs[i].deleting) {
            rc = delete_owner(r, r->ns, objs[i].name, err);
        }
    }
    int64_t deadline = mp_mono_ns() + r->cfg.delete_ns;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (drop[i]) {
            rc = mp_kube_wait_gone(r, NULL, objs[i].name, deadline, err);
            gone++;
        }
    }
    free(drop);
    free(objs);
    if (deleted) {
        *deleted = gone;
    }
    return rc;
}

static int sweep_one(struct mp_kube_runner *r, const char *experiment,
                     const struct mp_kube_replaced *run, struct mp_error *err)
{
    if (!run->ns[0] || strcmp(run->ns, r->ns) == 0) {
        return 0; /* none, or swept with this namespace's */
    }
    char key[MP_KUBE_RUNNER_NAME_MAX];
    char *sel =
        mp_xasprintf("%s=%s,%s=owner,%s=%s,%s=%s", MP_KUBE_LABEL_EXPERIMENT,
                     mp_kube_runner_experiment_key(experiment, key), MP_KUBE_LABEL_ROLE,
                     MP_KUBE_LABEL_MANAGED, MP_KUBE_MANAGED_BY, MP_KUBE_LABEL_RUN, run->run_id);
    struct mp_kube_ref ref = {.version = "v1", .resource = "configmaps", .ns = run->ns};
    struct mp_kube_opts o = {.label_selector = sel, .limit = 500};
    json_t *list = NULL;
    int rc = mp_kube_list_all(r->client, &ref, &o, &list, err);
    free(sel);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err); /* the namespace is gone, and its objects with it */
        return 0;
    }
    size_t i;
    json_t *obj;
    /* Deleted, not waited for: their names are another namespace's, which no trial reuses. */
    json_array_foreach (json_object_get(list, "items"), i, obj) {
        if (rc == 0 && !mp_kube_meta(obj, "deletionTimestamp")) {
            rc = delete_owner(r, run->ns, mp_kube_meta(obj, "name"), err);
        }
    }
    json_decref(list);
    return rc ? mp_error_prefix(err, rc,
                                "namespace \"%s\" of the experiment that --restart "
                                "replaced",
                                run->ns)
              : 0;
}

int mp_kube_runner_sweep_replaced(struct mp_runner *base, const char *experiment,
                                  struct mp_error *err)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r->n_replaced; i++) {
        rc = sweep_one(r, experiment, &r->replaced[i], err);
    }
    return rc;
}

int mp_kube_runner_delete_trial(struct mp_runner *base, const char *experiment, int64_t trial,
                                int64_t attempt, struct mp_error *err)
{
    struct mp_kube_runner *r = (struct mp_kube_runner *)base;
    char name[MP_KUBE_RUNNER_NAME_MAX];
    mp_kube_runner_name(experiment, trial, attempt, name);
    int rc = delete_owner(r, r->ns, name, err);
    if (rc == 0) {
        rc = mp_kube_wait_gone(r, NULL, name, mp_mono_ns() + r->cfg.delete_ns, err);
    }
    return rc;
}

static int kube_run(struct mp_runner *r, const struct mp_trial_request *req,
                    struct mp_trial_result *res, const atomic_bool *cancel)
{
    return mp_kube_runner_run_owned(r, req, NULL, res, cancel);
}

const struct mp_runner_ops mp_runner_kubernetes = {
    .name = "kubernetes",
    .concurrent = true,
    .leaves_objects = true,
    .validate = kube_validate,
    .validate_offline = kube_validate_offline,
    .create = kube_create,
    .run = kube_run,
    .free = kube_free,
};
