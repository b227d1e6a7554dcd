/* SPDX-License-Identifier: Apache-2.0 */
/* Deployable output for the recommended configuration: the experiment's spec and the
 * configuration itself (for a pod: mp_spec_render_pod), and the service's argv, environment and
 * resources on a host. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void mp_recommended_release(struct mp_recommended *r)
{
    mp_spec_free(r->spec);
    free(r->x);
    json_decref(r->report);
    memset(r, 0, sizeof(*r));
}

const json_t *mp_recommended_replicas(const struct mp_recommended *r)
{
    const json_t *plan = json_object_get(r->report, "capacity_plan");
    const json_t *n = json_object_get(plan, "replicas");
    return n ? n : json_object_get(r->best, "pods");
}

int mp_report_recommended(struct mp_store *st, const char *ref, const struct mp_deploy_opts *o,
                          struct mp_recommended *out, struct mp_error *err)
{
    struct mp_experiment_row row = {0};
    memset(out, 0, sizeof(*out));
    int rc = mp_report_experiment(st, ref, &out->report, err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, err);
    }
    if (rc == 0) {
        rc = mp_report_stored_spec(&row, &out->spec, err);
    }
    out->best = out->report ? json_object_get(out->report, "best") : NULL;
    if (rc == 0 && !json_is_object(out->best)) {
        rc = mp_report_no_best(out->report, "", err);
    }
    if (rc == 0 && o->target_rps > 0) {
        rc = mp_report_capacity_plan(out->report, o->target_rps, o->headroom, err);
    }
    if (rc == 0) {
        out->x = mp_xcalloc(out->spec->space.n + 1, sizeof(double));
        char *params = mp_json_dumps(json_object_get(out->best, "params"), 0);
        rc = mp_space_config_from_json(&out->spec->space, params, out->x, err);
        free(params);
    }
    mp_experiment_row_release(&row);
    if (rc != 0) {
        mp_recommended_release(out);
    }
    return rc;
}

int mp_report_deployment(struct mp_store *st, const char *ref, const struct mp_deploy_opts *o,
                         json_t **out, struct mp_error *err)
{
    struct mp_recommended rec;
    struct mp_rendered r = {0};
    int port = o->port > 0 ? o->port : 8080;
    int rc = mp_report_recommended(st, ref, o, &rec, err);
    if (rc == 0) {
        rc = mp_spec_render_deploy(rec.spec, rec.x, port, MP_DEPLOY_HOST, &r, err);
    }
    if (rc == 0) {
        json_t *env = json_object();
        for (size_t i = 0; i < r.envc; i++) {
            char *eq = strchr(r.env[i], '=');
            *eq = '\0';
            json_object_set_new(env, r.env[i], json_string(eq + 1));
        }
        /* Without a service section only the targets' arguments exist: there is no program. */
        size_t skip = rec.spec->has_service && r.argc > 0 ? 1 : 0;
        json_t *args = strings_json(r.argv + skip, r.argc - skip);
        mp_report_redact_argv(args);
        *out = json_pack("{s:s, s:O, s:O, s:o, s:o, s:o, s:o, s:i}", "experiment", rec.spec->name,
                         "trial", json_object_get(rec.best, "number"), "params",
                         json_object_get(rec.best, "params"), "program",
                         skip ? json_string(r.argv[0]) : json_null(), "args", args, "env", env,
                         "resources", resources_json(rec.spec, rec.x), "port", port);
        /* Where the program and the relative paths in args resolve, as the runner started it:
         * ./serve.sh means nothing without it. */
        const char *wd = rec.spec->service.workdir ? rec.spec->service.workdir : rec.spec->base_dir;
        json_object_set_new(*out, "workdir", skip && wd ? json_string(wd) : json_null());
        if (json_object_get(rec.report, "capacity_plan")) {
            json_object_set(*out, "capacity_plan", json_object_get(rec.report, "capacity_plan"));
        }
    }
    mp_rendered_release(&r);
    mp_recommended_release(&rec);
    return rc;
}
