/* SPDX-License-Identifier: Apache-2.0 */
/* The kubernetes runner's settings: the `runner:` block (kind kubernetes) parsed into struct
 * mp_kube_rcfg and checked as the API server would check what it becomes (names, quantities,
 * the tuned container), with positioned errors, before anything touches a cluster. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "runner/kubernetes_int.h"
#include "runner/local_int.h"
#include "settings/settings.h"

static bool dns_label(const char *s)
{
    return mp_kube_check_name(s, MP_KUBE_DNS_LABEL, "namespace", NULL) == 0;
}

static bool url_path(const char *s)
{
    return s[0] == '/' && !strpbrk(s, " \r\n");
}

static bool nonempty(const char *s)
{
    return *s != '\0';
}

static int parse_quantity(const struct mp_node *n, const char *resource, const char **out,
                          struct mp_error *err)
{
    const char *s = NULL;
    int rc = mp_doc_string(n, &s, err);
    struct mp_error qerr = {0};
    if (rc == 0 && mp_kube_check_resource(resource, s, &qerr) != 0) {
        rc = mp_doc_error(err, n, "%s", qerr.msg);
    }
    /* "100m" meant as megabytes gave the load Job a limit no container starts under. */
    if (rc == 0 && strcmp(resource, "memory") == 0 && mp_kube_check_bytes(s, &qerr) != 0) {
        rc = mp_doc_error(err, n, "%s", qerr.msg);
    }
    if (rc == 0) {
        *out = s;
    }
    return rc;
}

static int parse_load_cpu(const struct mp_node *n, void *base, struct mp_error *err)
{
    return parse_quantity(n, "cpu", &((struct mp_kube_rcfg *)base)->load_cpu, err);
}

static int parse_load_memory(const struct mp_node *n, void *base, struct mp_error *err)
{
    return parse_quantity(n, "memory", &((struct mp_kube_rcfg *)base)->load_memory, err);
}

static int parse_mig(const struct mp_node *n, void *base, struct mp_error *err)
{
    struct mp_kube_rcfg *c = base;
    int rc = mp_doc_expect(n, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    free(c->mig_profiles);
    c->mig_profiles = mp_xcalloc(n->n + 1, sizeof(char *));
    c->n_mig_profiles = 0;
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        rc = mp_doc_string(n->items[i], &c->mig_profiles[i], err);
        c->n_mig_profiles = i + 1;
    }
    return rc;
}

static int parse_gpu_types(const struct mp_node *n, void *base, struct mp_error *err)
{
    struct mp_kube_rcfg *c = base;
    int rc = mp_doc_expect(n, MP_NODE_MAP, err);
    if (rc != 0) {
        return rc;
    }
    free(c->gpu_types);
    c->gpu_types = mp_xcalloc(n->n + 1, sizeof(*c->gpu_types));
    c->n_gpu_types = 0;
    for (size_t i = 0; i < n->n && rc == 0; i++) {
        c->gpu_types[i].value = n->keys[i];
        rc = mp_doc_string(n->items[i], &c->gpu_types[i].label, err);
        struct mp_error lerr = {0};
        if (rc == 0 &&
            mp_kube_check_label("nvidia.com/gpu.product", c->gpu_types[i].label, &lerr) != 0) {
            rc = mp_doc_error(err, n->items[i], "%s", lerr.msg);
        }
        c->n_gpu_types = i + 1;
    }
    return rc;
}

static int parse_selector(const struct mp_node *n, void *base, struct mp_error *err)
{
    int rc = mp_doc_expect(n, MP_NODE_MAP, err);
    for (size_t i = 0; rc == 0 && i < n->n; i++) {
        const char *v = NULL;
        struct mp_error lerr = {0};
        rc = mp_doc_string(n->items[i], &v, err);
        if (rc == 0 && mp_kube_check_label(n->keys[i], v, &lerr) != 0) {
            rc = mp_doc_error(err, n->items[i], "%s", lerr.msg);
        }
    }
    if (rc == 0) {
        ((struct mp_kube_rcfg *)base)->load_node_selector = n;
    }
    return rc;
}

/* runner.client_template: a Job template with one container (a ProfilingExperiment's
 * clientTemplate, checked there with its own field names). */
static int parse_client(const struct mp_node *n, void *base, struct mp_error *err)
{
    const struct mp_node *pod = mp_doc_get(mp_doc_get(mp_doc_get(n, "spec"), "template"), "spec");
    const struct mp_node *cs = mp_doc_get(pod, "containers");
    int rc = mp_doc_expect(n, MP_NODE_MAP, err);
    if (rc == 0 && (!cs || cs->kind != MP_NODE_SEQ || cs->n != 1 ||
                    cs->items[0]->kind != MP_NODE_MAP || !mp_doc_get(cs->items[0], "image"))) {
        rc = mp_doc_error(err, n,
                          "expected a Job template whose spec.template.spec.containers holds "
                          "exactly one container with an image");
    }
    if (rc == 0) {
        ((struct mp_kube_rcfg *)base)->client_template = n;
    }
    return rc;
}

static const char *const sharings[] = {"none", "hami", "aliyun", "mig", NULL};

#define FIELD(f) offsetof(struct mp_kube_rcfg, f)
static const struct mp_setting kube_table[] = {
    {MP_SETTING_KEY("kind", MP_SETTING_IGNORED, 0)},
    {MP_SETTING_KEY("trial_timeout", MP_SETTING_IGNORED, 0)}, /* the spec's (spec.c) */
    {MP_SETTING_KEY("pod_template", MP_SETTING_IGNORED, 0)},  /* read_template() */
    {MP_SETTING_KEY("kubeconfig", MP_SETTING_IGNORED, 0)},    /* a path: parse() */
    {MP_SETTING_KEY("namespace", MP_SETTING_STRING, FIELD(ns)), .valid = dns_label,
     .expect = "a namespace name (a DNS label: a-z, 0-9, '-', at most 63)"},
    {MP_SETTING_KEY("context", MP_SETTING_STRING, FIELD(context)), .valid = nonempty,
     .expect = "a context name"},
    {MP_SETTING_KEY("container", MP_SETTING_STRING, FIELD(container)), .valid = nonempty,
     .expect = "a container name"},
    {MP_SETTING_KEY("port", MP_SETTING_INT, FIELD(port)), .min = 1, .max = 65535},
    {MP_SETTING_KEY("startup_timeout", MP_SETTING_DURATION, FIELD(startup_ns)), .min = 1},
    {MP_SETTING_KEY("delete_timeout", MP_SETTING_DURATION, FIELD(delete_ns)), .min = 1},
    {MP_SETTING_KEY("health_path", MP_SETTING_STRING, FIELD(health_path)), .valid = url_path,
     .expect = "a URL path starting with '/'"},
    {MP_SETTING_KEY("replicas", MP_SETTING_INT, FIELD(replicas)), .min = 1, .max = 1000},
    {MP_SETTING_KEY("gpu_sharing", MP_SETTING_CHOICE, FIELD(gpu_sharing)), .choices = sharings},
    {MP_SETTING_KEY("gpu_memory_mib", MP_SETTING_NUMBER, FIELD(gpu_memory_mib)), .min = 0,
     .max = 1e9, .flags = MP_SETTING_MIN_OPEN, .expect = "a positive number of MiB"},
    {MP_SETTING_KEY("gpu_resource", MP_SETTING_STRING, FIELD(gpu_resource)), .valid = nonempty,
     .expect = "an extended resource name"},
    {MP_SETTING_KEY("gpu_type_label", MP_SETTING_STRING, FIELD(gpu_type_label)), .valid = nonempty,
     .expect = "a node label"},
    {MP_SETTING_KEY("gpu_types", MP_SETTING_CUSTOM, 0), .parse = parse_gpu_types},
    {MP_SETTING_KEY("mig_profiles", MP_SETTING_CUSTOM, 0), .parse = parse_mig},
    {MP_SETTING_KEY("load", MP_SETTING_IGNORED, 0)}, /* mp_local_load_validate */
    {MP_SETTING_KEY("load_image", MP_SETTING_STRING, FIELD(load_image)), .valid = nonempty,
     .expect = "an image reference"},
    {MP_SETTING_KEY("load_cpu", MP_SETTING_CUSTOM, 0), .parse = parse_load_cpu},
    {MP_SETTING_KEY("load_memory", MP_SETTING_CUSTOM, 0), .parse = parse_load_memory},
    {MP_SETTING_KEY("load_spread", MP_SETTING_BOOL, FIELD(load_spread))},
    {MP_SETTING_KEY("load_node_selector", MP_SETTING_CUSTOM, 0), .parse = parse_selector},
    {MP_SETTING_KEY("client_template", MP_SETTING_CUSTOM, 0), .parse = parse_client},
    {.name = NULL},
};
#undef FIELD

/* The pod template of a workload file: a Deployment's (or other workload's) spec.template, a
 * PodTemplate's template, or a PodTemplateSpec as it is. */
static const struct mp_node *template_in(const struct mp_node *doc)
{
    const struct mp_node *kind = mp_doc_get(doc, "kind");
    if (!kind) {
        return doc;
    }
    if (kind->scalar && strcmp(kind->scalar, "PodTemplate") == 0) {
        return mp_doc_get(doc, "template");
    }
    return mp_doc_get(mp_doc_get(doc, "spec"), "template");
}

/* Every container's resources must be quantities the API server accepts. */
static int check_resources(const struct mp_node *c, struct mp_error *err)
{
    const struct mp_node *res = mp_doc_get(c, "resources");
    static const char *const parts[] = {"requests", "limits"};
    for (size_t p = 0; res && p < MP_ARRAY_LEN(parts); p++) {
        const struct mp_node *m = mp_doc_get(res, parts[p]);
        if (!m || m->kind != MP_NODE_MAP) {
            continue;
        }
        for (size_t i = 0; i < m->n; i++) {
            struct mp_error qerr = {0};
            const char *s = m->items[i]->scalar ? m->items[i]->scalar : "";
            if (mp_kube_check_resource(m->keys[i], s, &qerr) != 0) {
                return mp_doc_error(err, m->items[i], "%s", qerr.msg);
            }
        }
    }
    return 0;
}

static int check_containers(struct mp_kube_rcfg *cfg, const struct mp_node *tmpl,
                            const struct mp_node *at, struct mp_error *err)
{
    const struct mp_node *cs = mp_doc_get(mp_doc_get(tmpl, "spec"), "containers");
    if (!cs || cs->kind != MP_NODE_SEQ || cs->n == 0) {
        return mp_doc_error(err, at, "the pod template has no spec.containers");
    }
    const struct mp_node *found = NULL;
    for (size_t i = 0; i < cs->n; i++) {
        const struct mp_node *name = mp_doc_get(cs->items[i], "name");
        int rc = check_resources(cs->items[i], err);
        if (rc != 0) {
            return rc;
        }
        if (cfg->container && name && name->scalar && strcmp(name->scalar, cfg->container) == 0) {
            found = cs->items[i];
        }
    }
    if (!cfg->container && cs->n != 1) {
        return mp_doc_error(err, at,
                            "the pod template has %zu containers: name the one to tune in "
                            "runner.container",
                            cs->n);
    }
    if (cfg->container && !found) {
        return mp_doc_error(err, at, "the pod template has no container named \"%s\"",
                            cfg->container);
    }
    return 0;
}

/* runner.pod_template: a map (inline) or a path to a workload file. */
static int read_template(const struct mp_spec *spec, struct mp_kube_rcfg *cfg, struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(spec->runner_node, "pod_template");
    if (!n) {
        return mp_doc_error(err, spec->runner_node, "'pod_template' is required (runner '%s')",
                            spec->runner);
    }
    struct mp_node *file = NULL;
    const struct mp_node *tmpl = n;
    int rc = 0;
    if (n->kind == MP_NODE_SCALAR) {
        char *path = NULL;
        if ((rc = mp_spec_path(spec, n, n->scalar, &path, err)) == 0) {
            rc = mp_doc_load(path, &file, err);
        }
        free(path);
        tmpl = rc == 0 ? template_in(file) : NULL;
        if (rc == 0 && (!tmpl || tmpl->kind != MP_NODE_MAP)) {
            rc = mp_doc_error(err, n,
                              "no pod template in \"%s\" (a Deployment, PodTemplate or "
                              "PodTemplateSpec)",
                              n->scalar);
        }
    } else {
        rc = mp_doc_expect(n, MP_NODE_MAP, err);
    }
    if (rc == 0) {
        rc = check_containers(cfg, tmpl, tmpl == n ? n : tmpl, err);
    }
    if (rc == 0) {
        char *text = mp_doc_to_json(tmpl);
        cfg->pod_template = json_loads(text, 0, NULL);
        free(text);
    }
    mp_doc_free(file);
    return rc;
}

static int check_gpu(const struct mp_spec *spec, const struct mp_kube_rcfg *cfg,
                     struct mp_error *err)
{
    const struct mp_node *rn = spec->runner_node;
    if ((cfg->gpu_sharing == MP_GPU_SHARING_HAMI || cfg->gpu_sharing == MP_GPU_SHARING_ALIYUN) &&
        !(cfg->gpu_memory_mib > 0)) {
        return mp_doc_error(err, mp_doc_get(rn, "gpu_sharing"),
                            "gpu_sharing %s needs gpu_memory_mib, the memory of one GPU",
                            sharings[cfg->gpu_sharing]);
    }
    return 0;
}

/* Without a service section a parameter reaches the pod only through its target; one without
 * a target may be the Deployment's replicas (role instances). */
static int check_params(const struct mp_spec *spec, struct mp_kube_rcfg *cfg, struct mp_error *err)
{
    const struct mp_node *list = mp_doc_get(spec->doc, "parameters");
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        const struct mp_node *at = list && i < list->n ? list->items[i] : spec->runner_node;
        if (p->target != MP_TARGET_NONE) {
            continue;
        }
        if (!p->role || strcmp(p->role, "instances") != 0) {
            return mp_doc_error(err, at,
                                "parameter '%s' reaches the pod nowhere: give it a target (or "
                                "role: instances for the Deployment's replicas)",
                                p->name);
        }
        if (cfg->replicas_param >= 0 || mp_doc_get(spec->runner_node, "replicas")) {
            return mp_doc_error(err, at,
                                "parameter '%s': the replicas are set once (runner.replicas or "
                                "one parameter with role instances)",
                                p->name);
        }
        cfg->replicas_param = (int)i;
    }
    return 0;
}

/* Every GPU type must select nodes (a node label value), else each of its trials fails. */
static int check_gpu_types(const struct mp_spec *spec, const struct mp_kube_rcfg *cfg,
                           struct mp_error *err)
{
    struct mp_pod_mapping m;
    mp_kube_rcfg_mapping(cfg, &m);
    size_t i = 0;
    struct mp_error gerr = {0};
    if (mp_spec_check_gpu_types(spec, &m, &i, &gerr) == 0) {
        return 0;
    }
    const struct mp_node *list = mp_doc_get(spec->doc, "parameters");
    const struct mp_node *at = list && i < list->n ? list->items[i] : spec->runner_node;
    return mp_doc_error(err, at, "%s", gerr.msg);
}

int mp_kube_rcfg_parse(const struct mp_spec *spec, struct mp_kube_rcfg *cfg, struct mp_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->startup_ns = 600LL * 1000000000LL;
    cfg->delete_ns = 120LL * 1000000000LL;
    cfg->replicas = 1;
    cfg->replicas_param = -1;
    cfg->load_cpu = "1";
    cfg->load_memory = "256Mi";
    cfg->load_spread = true;
    const struct mp_node *rn = spec->runner_node;
    int rc = mp_settings_parse(rn, kube_table, cfg, err);
    cfg->load = mp_doc_get(rn, "load");
    if (rc == 0 && cfg->load) {
        rc = mp_local_load_validate(cfg->load, err);
    }
    const struct mp_node *kc = mp_doc_get(rn, "kubeconfig");
    const char *kcs = NULL;
    if (rc == 0 && kc && (rc = mp_doc_string(kc, &kcs, err)) == 0) {
        rc = mp_spec_path(spec, kc, kcs, &cfg->kubeconfig, err);
    }
    if (rc == 0) {
        rc = check_gpu(spec, cfg, err);
    }
    if (rc == 0 && !spec->has_service) {
        rc = check_params(spec, cfg, err);
    }
    if (rc == 0) {
        rc = read_template(spec, cfg, err);
    }
    if (rc == 0) {
        rc = check_gpu_types(spec, cfg, err);
    }
    /* The user's client reports metrics of its own; the load Job, those of the load test; the
     * pods' use comes from metrics.k8s.io (read_usage). */
    static const char *const resources[] = {"cpu_cores", "memory_bytes", NULL};
    if (rc == 0 && !cfg->client_template) {
        rc = mp_runner_check_load_metrics(spec, resources, err);
    }
    return rc;
}

void mp_kube_rcfg_release(struct mp_kube_rcfg *cfg)
{
    free(cfg->kubeconfig);
    free(cfg->mig_profiles);
    free(cfg->gpu_types);
    json_decref(cfg->pod_template);
    memset(cfg, 0, sizeof(*cfg));
}

void mp_kube_rcfg_mapping(const struct mp_kube_rcfg *cfg, struct mp_pod_mapping *m)
{
    memset(m, 0, sizeof(*m));
    m->port = (int)cfg->port;
    m->gpu_resource = cfg->gpu_resource;
    m->sharing = (enum mp_gpu_sharing)cfg->gpu_sharing;
    m->gpu_memory_mib = cfg->gpu_memory_mib;
    m->mig_profiles = cfg->mig_profiles;
    m->n_mig_profiles = cfg->n_mig_profiles;
    m->type_label = cfg->gpu_type_label;
    m->type_values = cfg->gpu_types;
    m->n_type_values = cfg->n_gpu_types;
}

int mp_kube_runner_container(const struct mp_spec *spec, char **out, struct mp_error *err)
{
    struct mp_kube_rcfg cfg;
    *out = NULL;
    int rc = mp_kube_rcfg_parse(spec, &cfg, err);
    if (rc == 0) {
        const json_t *cs = json_object_get(json_object_get(cfg.pod_template, "spec"), "containers");
        const char *only = json_array_size(cs) == 1
                               ? json_string_value(json_object_get(json_array_get(cs, 0), "name"))
                               : NULL;
        const char *name = cfg.container ? cfg.container : only;
        *out = name ? mp_xstrdup(name) : NULL;
        rc = name ? 0
                  : mp_error_set(err, MP_EINVALID,
                                 "the runner's pod template names no one container to tune");
    }
    mp_kube_rcfg_release(&cfg);
    return rc;
}

int mp_kube_runner_pod(const struct mp_spec *spec, const double *x, const char *container, int port,
                       json_t **out, struct mp_error *err)
{
    struct mp_kube_rcfg cfg;
    int rc = mp_kube_rcfg_parse(spec, &cfg, err);
    if (rc == 0) {
        struct mp_pod_mapping m;
        mp_kube_rcfg_mapping(&cfg, &m);
        m.port = port > 0 ? port : m.port;
        rc = mp_spec_render_pod(spec, x, cfg.pod_template, container ? container : cfg.container,
                                &m, out, err);
    }
    if (rc == 0) {
        /* The template's labels are not configuration: patched onto a Deployment, they would
         * replace the ones its selector matches, which the API server refuses. */
        json_t *meta = json_object_get(*out, "metadata");
        json_object_del(meta, "labels");
        if (json_object_size(meta) == 0) {
            json_object_del(*out, "metadata");
        }
    }
    mp_kube_rcfg_release(&cfg);
    return rc;
}
