/* SPDX-License-Identifier: Apache-2.0 */
/* Deployable output for the recommended configuration: the service's argv and environment,
 * its resource block, and a Kubernetes strategic-merge patch for a Deployment. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

static json_t *resources_json(const struct mp_spec *spec, const double *x)
{
    json_t *r = json_object();
    const struct mp_space *s = &spec->space;
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (p->target != MP_TARGET_RESOURCE) {
            continue;
        }
        char buf[MP_FMT_DOUBLE_MAX];
        const char *names[] = {"cpu_cores", "memory_mib", "gpu", "gpu_memory_share", "gpu_type"};
        json_object_set_new(r, names[p->resource],
                            p->resource == MP_RESOURCE_GPU_TYPE
                                ? json_string(mp_space_format(s, i, x[i], buf))
                                : json_real(x[i]));
    }
    return r;
}

static json_t *strings_json(char **items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(items[i]));
    }
    return a;
}

static int build(const struct mp_spec *spec, const json_t *best, const struct mp_deploy_opts *o,
                 json_t **out, struct mp_error *err)
{
    double *x = mp_xcalloc(spec->space.n + 1, sizeof(double));
    char *params = mp_json_dumps(json_object_get(best, "params"), 0);
    int rc = mp_space_config_from_json(&spec->space, params, x, err);
    free(params);
    char port[16];
    snprintf(port, sizeof(port), "%d", o->port > 0 ? o->port : 8080);
    const struct mp_spec_template_var builtins[] = {{"port", port},
                                                    {"nonce", ""},
                                                    {"trial", "0"},
                                                    {"attempt", "0"},
                                                    {"experiment", spec->name}};
    struct mp_rendered r = {0};
    if (rc == 0) {
        rc = mp_spec_render_service_redacted(spec, x, builtins, MP_ARRAY_LEN(builtins), &r, err);
    }
    if (rc == 0) {
        json_t *env = json_object();
        for (size_t i = 0; i < r.envc; i++) {
            char *eq = strchr(r.env[i], '=');
            *eq = '\0';
            json_object_set_new(env, r.env[i], json_string(eq + 1));
        }
        /* Without a service section only the targets' arguments exist: there is no program. */
        size_t skip = spec->has_service && r.argc > 0 ? 1 : 0;
        json_t *args = strings_json(r.argv + skip, r.argc - skip);
        mp_report_redact_argv(args);
        *out = json_pack(
            "{s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:i}", "experiment", spec->name, "trial",
            json_object_get(best, "number"), "params", json_object_get(best, "params"), "program",
            skip ? json_string(r.argv[0]) : json_null(), "args", args, "env", env, "resources",
            resources_json(spec, x), "port", o->port > 0 ? o->port : 8080);
    }
    mp_rendered_release(&r);
    free(x);
    return rc;
}

int mp_report_deployment(struct mp_store *st, const char *ref, const struct mp_deploy_opts *o,
                         json_t **out, struct mp_error *err)
{
    json_t *rep = NULL;
    struct mp_experiment_row row = {0};
    struct mp_spec *spec = NULL;
    int rc = mp_report_experiment(st, ref, &rep, err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, err);
    }
    if (rc == 0) {
        rc = mp_spec_parse(row.spec_json, strlen(row.spec_json), row.name, row.base_dir, NULL, 0,
                           &spec, err);
    }
    const json_t *best = rep ? json_object_get(rep, "best") : NULL;
    if (rc == 0 && !json_is_object(best)) {
        rc = mp_error_set(err, MP_ENOTFOUND, "experiment '%s' has no recommended configuration yet",
                          ref);
    }
    if (rc == 0 && o->target_rps > 0) {
        rc = mp_report_capacity_plan(rep, o->target_rps, o->headroom, err);
    }
    if (rc == 0) {
        rc = build(spec, best, o, out, err);
    }
    if (rc == 0 && json_object_get(rep, "capacity_plan")) {
        json_object_set(*out, "capacity_plan", json_object_get(rep, "capacity_plan"));
    }
    mp_spec_free(spec);
    mp_experiment_row_release(&row);
    json_decref(rep);
    return rc;
}

/* A YAML string: JSON string syntax is valid YAML and escapes everything. */
static void yaml_string(FILE *f, const char *s)
{
    json_t *j = json_string(s);
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    fputs(text ? text : "\"\"", f);
    free(text);
    json_decref(j);
}

static void write_resources(FILE *f, const json_t *res)
{
    const json_t *cpu = json_object_get(res, "cpu_cores");
    const json_t *mem = json_object_get(res, "memory_mib");
    const json_t *gpu = json_object_get(res, "gpu");
    const char *blocks[] = {"requests", "limits"};
    fprintf(f, "          resources:\n");
    for (size_t b = 0; b < 2; b++) {
        fprintf(f, "            %s:\n", blocks[b]);
        if (cpu) {
            fprintf(f, "              cpu: \"%lldm\"\n",
                    (long long)llround(json_number_value(cpu) * 1000));
        }
        if (mem) {
            fprintf(f, "              memory: \"%lldMi\"\n",
                    (long long)llround(json_number_value(mem)));
        }
        if (gpu) {
            fprintf(f, "              nvidia.com/gpu: \"%lld\"\n",
                    (long long)llround(json_number_value(gpu)));
        }
    }
}

void mp_report_write_k8s_patch(FILE *f, const json_t *d, const char *container)
{
    const json_t *res = json_object_get(d, "resources");
    const json_t *args = json_object_get(d, "args");
    const char *program = json_string_value(json_object_get(d, "program"));
    const json_t *plan = json_object_get(d, "capacity_plan");
    fprintf(f,
            "# Strategic-merge patch for a Deployment: kubectl patch deployment NAME --patch-file "
            "FILE\n# morphling experiment %s, trial %lld\n",
            json_string_value(json_object_get(d, "experiment")),
            (long long)json_integer_value(json_object_get(d, "trial")));
    if (program) {
        fprintf(f, "# program measured: ");
        yaml_string(f, program);
        fprintf(f, " (the container image's entrypoint takes its place)\n");
    }
    const json_t *share = json_object_get(res, "gpu_memory_share");
    if (share) {
        fprintf(f, "# GPU memory share %g: set it through your GPU-sharing device plugin\n",
                json_number_value(share));
    }
    fprintf(f, "spec:\n");
    if (json_is_object(plan)) {
        fprintf(f, "  replicas: %lld\n",
                (long long)json_integer_value(json_object_get(plan, "replicas")));
    }
    fprintf(f, "  template:\n    spec:\n");
    const json_t *type = json_object_get(res, "gpu_type");
    if (type) {
        fprintf(f, "      nodeSelector:\n        nvidia.com/gpu.product: ");
        yaml_string(f, json_string_value(type));
        fprintf(f, "\n");
    }
    fprintf(f, "      containers:\n        - name: ");
    yaml_string(f, container ? container : "service");
    fprintf(f, "\n");
    if (json_array_size(args) > 0) {
        fprintf(f, "          args:\n");
        for (size_t i = 0; i < json_array_size(args); i++) {
            fprintf(f, "            - ");
            yaml_string(f, json_string_value(json_array_get(args, i)));
            fprintf(f, "\n");
        }
    }
    const char *key;
    const json_t *v;
    if (json_object_size(json_object_get(d, "env")) > 0) {
        fprintf(f, "          env:\n");
    }
    json_object_foreach ((json_t *)json_object_get(d, "env"), key, v) {
        fprintf(f, "            - name: ");
        yaml_string(f, key);
        fprintf(f, "\n              value: ");
        yaml_string(f, json_string_value(v));
        fprintf(f, "\n");
    }
    write_resources(f, res);
}
