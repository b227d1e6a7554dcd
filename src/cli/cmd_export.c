/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling export`: every trial (csv, json), or the recommended configuration for a host
 * (deploy) or for Kubernetes (k8s: a strategic-merge patch, or with --base the whole object
 * patched), the pod part written by mp_spec_render_pod. */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"
#include "kube/kube.h"
#include "report/report.h"
#include "runner/kubernetes.h"

struct export_args {
    const char *ref; /* the operand */
    const char *format, *db, *container, *base;
    int64_t port;
    double target_rps, headroom;
    const char *gpu_sharing, *gpu_resource, *gpu_type_label;
    double gpu_memory_mib;
    struct mp_cli_list mig_profiles, gpu_type_values;
};

#define T struct export_args
static const struct mp_opt export_opts[] = {
    {"format", 'f', MP_OPT_CHOICE, MP_OPT_AT(T, format), "FORMAT",
     "csv: every trial, one row each; json: the report; deploy: the recommended configuration's "
     "program, args, env and resources as JSON; k8s: that configuration for a Kubernetes "
     "Deployment",
     .choices = "csv|json|deploy|k8s", .flags = MP_OPT_REQUIRED},
    MP_CLI_DB_OPT(T),
    {"container", 'c', MP_OPT_STR, MP_OPT_AT(T, container), "NAME",
     "k8s: the container to configure (needed without --base, or when the base has several; "
     "a kubernetes experiment's is its runner's)"},
    {"base", 0, MP_OPT_STR, MP_OPT_AT(T, base), "FILE",
     "k8s: a Deployment (or StatefulSet, ReplicaSet, DaemonSet, Job, CronJob, Pod) as YAML or "
     "JSON; print it whole with the configuration applied instead of a patch",
     .flags = MP_OPT_PATH},
    {"port", 'p', MP_OPT_INT, MP_OPT_AT(T, port), "P",
     "deploy, k8s: the port the service listens on ({port} in the command, the containerPort; "
     "default: the --base container's first containerPort, else 8080)",
     .min = 1, .max = 65535},
    MP_CLI_CAPACITY_OPTS(T),
    {"gpu-sharing", 0, MP_OPT_CHOICE, MP_OPT_AT(T, gpu_sharing), "KIND",
     "k8s: how the cluster shares a GPU, for a gpu_memory_share below 1: hami "
     "(nvidia.com/gpumem in MiB), aliyun (aliyun.com/gpu-mem in GiB) or mig (the smallest "
     "nvidia.com/mig-<profile> that holds the share)",
     "none", .choices = "none|hami|aliyun|mig"},
    {"gpu-memory-mib", 0, MP_OPT_NUM, MP_OPT_AT(T, gpu_memory_mib), "MIB",
     "k8s: memory of one GPU, for hami and aliyun", .min = 1, .max = 1e9},
    {"mig-profiles", 0, MP_OPT_CSV, MP_OPT_AT(T, mig_profiles), "P,...",
     "k8s: the MIG profiles of the cluster's GPUs", "1g.5gb,2g.10gb,3g.20gb,4g.20gb,7g.40gb"},
    {"gpu-resource", 0, MP_OPT_STR, MP_OPT_AT(T, gpu_resource), "NAME",
     "k8s: the extended resource of a whole GPU", "nvidia.com/gpu"},
    {"gpu-type-label", 0, MP_OPT_STR, MP_OPT_AT(T, gpu_type_label), "LABEL",
     "k8s: the node label a gpu_type parameter selects on", "nvidia.com/gpu.product"},
    {"gpu-type", 0, MP_OPT_LIST, MP_OPT_AT(T, gpu_type_values), "VALUE=LABEL",
     "k8s: the label value of a gpu_type value (built in: T4=Tesla-T4, L4=NVIDIA-L4, "
     "A10G=NVIDIA-A10G and other single-size models; others are used as they are); "
     "repeatable"},
};
#undef T

/* The pod template inside a workload object (its path by kind), with a container to configure.
 * Errors point into doc, the object as parsed: a template without a container at its
 * 'containers' (it read "the pod has 0 containers (none): name the one to configure", with no
 * line). */
static json_t *template_of(json_t *obj, const struct mp_node *doc, struct mp_error *err)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (!kind) {
        mp_doc_error(err, doc, "no 'kind': expected a Kubernetes object");
        return NULL;
    }
    json_t *t = obj; /* a Pod is its own template */
    const struct mp_node *node = doc;
    if (strcmp(kind, "Pod") != 0) {
        json_t *spec = json_object_get(obj, "spec");
        const struct mp_node *spec_node = mp_doc_get(doc, "spec");
        if (strcmp(kind, "CronJob") == 0) {
            spec = json_object_get(json_object_get(spec, "jobTemplate"), "spec");
            spec_node = mp_doc_get(mp_doc_get(spec_node, "jobTemplate"), "spec");
        }
        t = json_object_get(spec, "template");
        node = mp_doc_get(spec_node, "template");
    }
    if (!json_is_object(t)) {
        mp_doc_error(err, mp_doc_get(doc, "kind"), "a %s has no pod template (spec.template)",
                     kind);
        return NULL;
    }
    if (json_array_size(json_object_get(json_object_get(t, "spec"), "containers")) == 0) {
        const struct mp_node *pod_spec = mp_doc_get(node, "spec");
        const struct mp_node *at = mp_doc_get(pod_spec, "containers");
        mp_doc_error(err,
                     at         ? at
                     : pod_spec ? pod_spec
                                : node,
                     "the pod template has no container to configure");
        return NULL;
    }
    return t;
}

/* The --base file as JSON (*out) and as parsed (*doc, for errors with lines). */
static int load_base(const char *path, json_t **out, struct mp_node **doc, struct mp_error *err)
{
    int rc = mp_doc_load(path, doc, err);
    if (rc != 0) {
        return rc;
    }
    char *text = mp_doc_to_json(*doc);
    json_error_t jerr;
    *out = json_loads(text, 0, &jerr);
    free(text);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return mp_error_set(err, MP_EINVALID, "%s: expected one Kubernetes object", path);
    }
    return 0;
}

static void fill_mapping(const struct export_args *a, struct mp_gpu_label *labels,
                         struct mp_pod_mapping *m)
{
    static const char *const kinds[] = {"none", "hami", "aliyun", "mig"};
    memset(m, 0, sizeof(*m));
    m->port = (int)a->port;
    m->gpu_resource = a->gpu_resource;
    for (size_t k = 0; k < MP_ARRAY_LEN(kinds); k++) {
        if (strcmp(a->gpu_sharing, kinds[k]) == 0) {
            m->sharing = (enum mp_gpu_sharing)k;
        }
    }
    m->gpu_memory_mib = a->gpu_memory_mib;
    m->mig_profiles = a->mig_profiles.v;
    m->n_mig_profiles = a->mig_profiles.n;
    m->type_label = a->gpu_type_label;
    for (size_t i = 0; i < a->gpu_type_values.n; i++) {
        const char *v = a->gpu_type_values.v[i];
        const char *eq = strchr(v, '=');
        labels[i].value = mp_xstrndup(v, (size_t)(eq - v)); /* freed by k8s_pod */
        labels[i].label = eq + 1;
    }
    m->type_values = labels;
    m->n_type_values = a->gpu_type_values.n;
}

static int check_gpu_types(const struct mp_cli_list *values)
{
    for (size_t i = 0; i < values->n; i++) {
        const char *eq = strchr(values->v[i], '=');
        if (!eq || eq == values->v[i] || !eq[1]) {
            return mp_cli_usage("export", "--gpu-type '%s': expected VALUE=LABEL", values->v[i]);
        }
    }
    return 0;
}

/* Whether a workload of this kind runs spec.replicas pods, as a capacity plan sets. */
static bool kind_has_replicas(const json_t *obj)
{
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    return kind && (strcmp(kind, "Deployment") == 0 || strcmp(kind, "StatefulSet") == 0 ||
                    strcmp(kind, "ReplicaSet") == 0);
}

/* The object to print: the base with its template replaced, or a patch around the template. */
static json_t *k8s_output(json_t *base, json_t *tmpl, json_t *pod, json_t *replicas)
{
    if (!base) {
        json_t *spec = json_pack("{s:O}", "template", pod);
        if (replicas) {
            json_object_set(spec, "replicas", replicas);
        }
        return json_pack("{s:o}", "spec", spec);
    }
    json_object_update(tmpl, pod); /* a Pod is its own template */
    json_t *spec = json_object_get(base, "spec");
    if (replicas && kind_has_replicas(base)) {
        json_object_set(spec, "replicas", replicas); /* absent, it would be 1 */
    }
    return json_incref(base);
}

static int k8s_pod(const struct export_args *a, const struct mp_recommended *rec, json_t **out,
                   struct mp_error *err)
{
    json_t *base = NULL, *tmpl = NULL, *pod = NULL;
    struct mp_node *doc = NULL;
    int rc = a->base ? load_base(a->base, &base, &doc, err) : 0;
    if (rc == 0 && base && !(tmpl = template_of(base, doc, err))) {
        rc = MP_EINVALID;
    }
    json_t *replicas = (json_t *)mp_recommended_replicas(rec);
    if (rc == 0 && base && replicas && !kind_has_replicas(base)) {
        rc = mp_doc_error(err, mp_doc_get(doc, "kind"),
                          "a %s has no replicas to set to the %lld of the recommended "
                          "configuration (%s): give a Deployment, StatefulSet or ReplicaSet",
                          json_string_value(json_object_get(base, "kind")),
                          (long long)json_integer_value(replicas),
                          json_object_get(rec->report, "capacity_plan")
                              ? "the capacity plan's, --target-rps"
                              : "the pods it was measured as");
    }
    /* A kubernetes experiment's pod is its runner's template, as its trials ran it (its args and
     * ports stay); any other's, the one container named. */
    bool kube = !base && strcmp(rec->spec->runner, "kubernetes") == 0;
    if (rc == 0 && !base && !kube && !a->container) {
        rc = mp_error_set(err, MP_EINVALID,
                          "--format k8s needs --container NAME (the container to configure) or "
                          "--base FILE (a Deployment)");
    }
    /* --base of a kubernetes experiment: the container its trials tuned, unless named. */
    char *tuned = NULL;
    if (rc == 0 && base && !a->container && strcmp(rec->spec->runner, "kubernetes") == 0) {
        rc = mp_kube_runner_container(rec->spec, &tuned, err);
    }
    const char *container = a->container ? a->container : tuned;
    json_t *empty =
        json_pack("{s:{s:[{s:s}]}}", "spec", "containers", "name", container ? container : "");
    struct mp_gpu_label *labels = mp_xcalloc(a->gpu_type_values.n + 1, sizeof(*labels));
    struct mp_pod_mapping m;
    fill_mapping(a, labels, &m);
    if (rc == 0 && kube) {
        rc = mp_kube_runner_pod(rec->spec, rec->x, a->container, (int)a->port, &pod, err);
    } else if (rc == 0) {
        rc = mp_spec_render_pod(rec->spec, rec->x, tmpl ? tmpl : empty, container, &m, &pod, err);
        if (rc != 0 && a->base) {
            mp_error_prefix(err, rc, "%s", a->base);
        }
    }
    if (rc == 0) {
        /* Secret-looking literal arguments are shown as <redacted>, as in every export. */
        json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
        for (size_t i = 0; i < json_array_size(containers); i++) {
            mp_report_redact_argv(json_object_get(json_array_get(containers, i), "args"));
        }
        *out = k8s_output(base, tmpl, pod, replicas);
    }
    json_decref(pod);
    json_decref(empty);
    free(tuned);
    json_decref(base);
    mp_doc_free(doc);
    for (size_t i = 0; i < a->gpu_type_values.n; i++) {
        free((char *)labels[i].value);
    }
    free(labels);
    return rc;
}

static const json_t *output_containers(const json_t *out)
{
    const json_t *tmpl = json_object_get(json_object_get(out, "spec"), "template");
    return json_object_get(json_object_get(tmpl, "spec"), "containers");
}

/* Arguments of the output's containers shown as MP_SECRET_REDACTED. */
static size_t redacted_args(const json_t *out)
{
    const json_t *containers = output_containers(out);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(containers); i++) {
        const json_t *args = json_object_get(json_array_get(containers, i), "args");
        for (size_t k = 0; k < json_array_size(args); k++) {
            const char *s = json_string_value(json_array_get(args, k));
            n += s && strstr(s, MP_SECRET_REDACTED) != NULL;
        }
    }
    return n;
}

/* Whether a container of the output sets the variable name[0..len) (e.g. a base's
 * secretKeyRef). */
static bool output_sets_env(const json_t *out, const char *name, size_t len)
{
    const json_t *containers = output_containers(out);
    for (size_t i = 0; i < json_array_size(containers); i++) {
        const json_t *env = json_object_get(json_array_get(containers, i), "env");
        for (size_t k = 0; k < json_array_size(env); k++) {
            const char *s = json_string_value(json_object_get(json_array_get(env, k), "name"));
            if (s && strlen(s) == len && strncmp(s, name, len) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* One note on stderr, escaped as every message of the CLI is: a program's path or a caveat
 * quoting the stored spec may hold control characters (an escape sequence reached the terminal
 * as it was). */
static void note(const char *fmt, ...) MP_PRINTF(1, 2);
static void note(const char *fmt, ...)
{
    struct mp_buf msg = MP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mp_buf_addvf(&msg, fmt, ap);
    va_end(ap);
    mp_cli_print_message("morphling export: ", msg.data);
    mp_buf_release(&msg);
}

/* Says what a reader of the output must know, on stderr. */
static void k8s_notes(const struct export_args *a, const struct mp_recommended *rec,
                      const json_t *out)
{
    const struct mp_spec *spec = rec->spec;
    for (size_t i = 0; spec->has_service && i < spec->service.n_env; i++) {
        const char *v = spec->service.env[i];
        size_t len = strcspn(v, "=");
        if (mp_spec_env_secret(spec, i) && !output_sets_env(out, v, len)) {
            note("the secret variable %.*s is not in the output: set it in the Deployment from "
                 "a Secret (valueFrom.secretKeyRef)",
                 (int)len, v);
        }
    }
    char *paths = mp_spec_left_out_paths(spec, rec->x);
    if (paths) {
        note("left out as paths of this machine (the container has its own files): %s; mount "
             "what the service needs and set them in the Deployment",
             paths);
        free(paths);
    }
    size_t hidden = redacted_args(out);
    if (hidden > 0) {
        note("%zu argument%s shown as %s (secret): replace %s before applying, e.g. with $(NAME) "
             "of a variable set from a Secret",
             hidden, hidden == 1 ? " is" : "s are", MP_SECRET_REDACTED,
             hidden == 1 ? "it" : "them");
    }

    if (rec->spec->has_service && rec->spec->service.argc > 0) {
        note("the container's image takes the place of the program measured (%s)",
             rec->spec->service.argv[0]);
    }
    if (!a->base) {
        note("apply with 'kubectl patch deployment NAME --patch-file FILE'; the patch's args "
             "replace the container's (--base FILE merges them into a Deployment's instead)");
    }
}

/* What the configuration printed is not (mp_report_caveats), on stderr: the output carries
 * nothing but the configuration, and it goes to a cluster. */
static void caveat_notes(struct mp_store *st, const char *ref)
{
    json_t *rep = NULL;
    if (mp_report_experiment(st, ref, &rep, NULL) != 0) {
        return;
    }
    json_t *notes = mp_report_caveats(rep);
    size_t i;
    json_t *n;
    json_array_foreach (notes, i, n) {
        note("%s", json_string_value(n));
    }
    json_decref(notes);
    json_decref(rep);
}

static int export_configuration(const struct export_args *a)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    struct mp_recommended rec = {0};
    char *db = mp_cli_db_path(a->db);
    json_t *out = NULL;
    struct mp_deploy_opts o = {
        .port = (int)a->port, .target_rps = a->target_rps, .headroom = a->headroom};
    bool k8s = strcmp(a->format, "k8s") == 0;
    int rc = mp_cli_open_store(db, a->ref, &st, &err);
    if (rc == 0 && k8s) {
        rc = mp_report_recommended(st, a->ref, &o, &rec, &err);
        if (rc == 0 && (rc = k8s_pod(a, &rec, &out, &err)) == 0) {
            k8s_notes(a, &rec, out);
        }
    } else if (rc == 0) {
        rc = mp_report_deployment(st, a->ref, &o, &out, &err);
    }
    if (rc == 0) {
        mp_json_print(stdout, out);
        caveat_notes(st, a->ref);
    }
    json_decref(out);
    mp_recommended_release(&rec);
    mp_store_close(st);
    free(db);
    return rc == 0 ? 0 : mp_cli_fail(&err);
}

static int export_run(void *args, char **operands, size_t n)
{
    (void)n;
    struct export_args *a = args;
    a->ref = operands[0];
    bool k8s = strcmp(a->format, "k8s") == 0;
    if (!k8s && (a->container || a->base)) {
        return mp_cli_usage("export", "--container and --base are for --format k8s");
    }
    if (a->target_rps != 0 && strcmp(a->format, "csv") == 0) {
        return mp_cli_usage("export", "--target-rps adds a capacity plan, for which --format csv "
                                      "has no place (json, deploy and k8s have)");
    }
    struct mp_error bad = {0};
    if (a->container && mp_kube_check_name(a->container, MP_KUBE_DNS_LABEL, "--container", &bad)) {
        return mp_cli_usage("export", "%s", bad.msg); /* no Kubernetes container has this name */
    }
    int rc = check_gpu_types(&a->gpu_type_values);
    if (rc != 0) {
        return rc;
    }
    if (k8s || strcmp(a->format, "deploy") == 0) {
        return export_configuration(a);
    }
    json_t *rep = NULL;
    rc = mp_cli_load_report(a->db, a->ref, a->target_rps, a->headroom, &rep);
    if (rc == 0 && strcmp(a->format, "json") == 0) {
        mp_json_print(stdout, rep);
    } else if (rc == 0) {
        mp_report_write_csv(stdout, rep);
    }
    /* show says it: one who exports straight after run would not read it in the figures. */
    char *uncertain = rc == 0 ? mp_report_uncertain_mean(rep) : NULL;
    if (uncertain) {
        mp_cli_print_message("morphling export: warning: ", uncertain);
        free(uncertain);
    }
    json_decref(rep);
    return rc;
}

const struct mp_verb mp_verb_export = {
    .name = "export",
    .run = export_run,
    .operands = "EXPERIMENT",
    .min_operands = 1,
    .max_operands = 1,
    .summary = "export trials (csv, json) or the recommended configuration (deploy, k8s)",
    .description =
        "EXPERIMENT is a name or an id from 'morphling list'.\n\n"
        "--format k8s prints JSON for Kubernetes: without --base a strategic-merge patch for "
        "'kubectl patch deployment NAME --patch-file FILE' that configures container --container "
        "only; with --base FILE the whole object of FILE with the configuration applied, ready "
        "for 'kubectl apply -f'. Either way: the service's arguments without the paths of this "
        "machine and without morphling's per-trial ones (merged flag by flag into the "
        "container's own args when it has some), its environment, CPU and memory requests equal "
        "to limits, GPUs as the --gpu-* options say, the port as containerPort, a node selector "
        "for the GPU type, and with --target-rps the replicas of the capacity plan. Without "
        "--base, a kubernetes experiment's patch is its runner's pod template as its trials ran "
        "it (its args, ports and GPU settings; --container and --port override).",
    .opts = export_opts,
    .n_opts = MP_ARRAY_LEN(export_opts),
    .args_size = sizeof(struct export_args),
};
