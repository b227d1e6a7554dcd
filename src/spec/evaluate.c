/* SPDX-License-Identifier: Apache-2.0 */
/* Judging a trial against its spec: derived metrics, the objective and the constraints. */
#include "spec/spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double gpu_price(const struct mp_spec *spec, const double *x)
{
    const struct mp_space *s = &spec->space;
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (p->target != MP_TARGET_RESOURCE || p->resource != MP_RESOURCE_GPU_TYPE) {
            continue;
        }
        char buf[MP_FMT_DOUBLE_MAX];
        const char *type = mp_space_format(s, i, x[i], buf);
        for (size_t k = 0; k < spec->cost.n_gpu_types; k++) {
            if (strcmp(spec->cost.gpu_types[k], type) == 0) {
                return spec->cost.gpu_type_hour[k];
            }
        }
    }
    return spec->cost.gpu_hour;
}

void mp_spec_derive_metrics(const struct mp_spec *spec, const double *x, struct mp_metrics *metrics)
{
    /* Each request carries one batch (the original Morphling's convention), so items/s is
     * requests/s times the batch size. */
    int batch = mp_space_find_role(&spec->space, "batch_size");
    double rps;
    if (batch >= 0 && mp_metrics_get(metrics, "throughput_rps", &rps)) {
        mp_metrics_set(metrics, "items_per_s", rps * x[batch]);
    }
    if (!spec->has_cost) {
        return;
    }
    const struct mp_space *s = &spec->space;
    double cores = 0, mem_gib = 0, gpus = 0, share = 0;
    bool has_gpus = false, any_gpu = false;
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (p->target != MP_TARGET_RESOURCE) {
            continue;
        }
        switch (p->resource) {
        case MP_RESOURCE_CPU:
            cores = x[i];
            break;
        case MP_RESOURCE_MEMORY:
            mem_gib = x[i] / 1024.0;
            break;
        case MP_RESOURCE_GPU:
            gpus = x[i];
            has_gpus = true;
            break;
        case MP_RESOURCE_GPU_MEMORY_SHARE:
            share = x[i];
            any_gpu = true;
            break;
        case MP_RESOURCE_GPU_TYPE:
            any_gpu = true;
            break;
        }
    }
    /* A GPU count is what the pod asks for (0: none, whatever the share or type); a share is
     * billed as that fraction of one GPU; a type alone means one GPU. */
    double gpu_units = has_gpus ? gpus : (share > 0 ? share : (any_gpu ? 1 : 0));
    double cost = spec->cost.base_hour + cores * spec->cost.cpu_core_hour +
                  mem_gib * spec->cost.memory_gib_hour + gpu_units * gpu_price(spec, x);
    /* The throughput is that of all the configuration's pods: so is its price. */
    int64_t pods = mp_spec_pods(spec, x);
    cost *= pods > 1 ? (double)pods : 1.0;
    mp_metrics_set(metrics, "cost_per_hour", cost);
    if (cost > 0 && mp_metrics_get(metrics, "throughput_rps", &rps) && isfinite(rps)) {
        mp_metrics_set(metrics, "throughput_per_cost", rps / cost);
        if (rps > 0) {
            mp_metrics_set(metrics, "cost_per_million_requests", cost / (rps * 3600.0) * 1e6);
        }
    }
}

/* Why a metric morphling derives from the cost table is missing, for a trial's reason ("" when
 * that is not the cause): requests per dollar of a configuration that costs nothing. */
static const char *why_missing(const char *metric, const struct mp_metrics *m)
{
    double cost = -1, rps = -1;
    mp_metrics_get(m, "cost_per_hour", &cost);
    mp_metrics_get(m, "throughput_rps", &rps);
    bool per_cost = strcmp(metric, "throughput_per_cost") == 0 ||
                    strcmp(metric, "cost_per_million_requests") == 0;
    if (per_cost && cost == 0) {
        return " (this configuration's cost_per_hour is 0: no price of the cost table applies to "
               "what it uses, so its requests per dollar are undefined; price its resources or "
               "set base_hour)";
    }
    if (strcmp(metric, "cost_per_million_requests") == 0 && rps == 0) {
        return " (no request succeeded: a cost per request of a throughput of 0 is undefined)";
    }
    return "";
}

void mp_spec_evaluate(const struct mp_spec *spec, const double *x, struct mp_trial_result *res)
{
    /* Resource use (cpu_seconds, peak_memory_bytes, ...) can be an objective or constrained
     * like any measured metric. */
    for (size_t i = 0; i < res->resources.n; i++) {
        double v;
        if (!mp_metrics_get(&res->metrics, res->resources.names[i], &v)) {
            mp_metrics_set(&res->metrics, res->resources.names[i], res->resources.values[i]);
        }
    }
    mp_spec_derive_metrics(spec, x, &res->metrics);
    if (res->state != MP_TRIAL_SUCCEEDED) {
        return;
    }
    double v;
    if (!mp_metrics_get(&res->metrics, spec->objective_metric, &v)) {
        mp_trial_result_fail(
            res, MP_FAILURE_METRIC_MISSING, "the trial produced no value for the objective '%s'%s",
            spec->objective_metric, why_missing(spec->objective_metric, &res->metrics));
        return;
    }
    if (!isfinite(v)) {
        char buf[MP_FMT_DOUBLE_MAX];
        mp_trial_result_fail(res, MP_FAILURE_METRIC_MISSING,
                             "the objective '%s' is no finite number (%s)", spec->objective_metric,
                             mp_fmt_double(buf, v));
        return;
    }
    for (size_t i = 0; i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        double m;
        if (!mp_metrics_get(&res->metrics, c->metric, &m)) {
            mp_trial_result_fail(res, MP_FAILURE_METRIC_MISSING,
                                 "constraint '%s': the trial produced no '%s'%s", c->text,
                                 c->metric, why_missing(c->metric, &res->metrics));
            return;
        }
        if (!mp_constraint_holds(c, m)) {
            char buf[MP_FMT_DOUBLE_MAX];
            double pruned = 0;
            mp_metrics_get(&res->metrics, "pruned", &pruned);
            mp_trial_result_fail(res, MP_FAILURE_SLO_VIOLATED, "%s = %s violates %s%s", c->metric,
                                 mp_fmt_double(buf, m), c->text,
                                 pruned == 1 ? " (pruned: the load test stopped early, over twice "
                                               "the limit)"
                                             : "");
            return;
        }
        /* An upper limit on a measured percentile must also hold for its upper confidence
         * bound (METRIC_upper, when the runner gives one): the SLO is met with 99 %
         * confidence, not by the luck of one sample. */
        char *upper_name = mp_xasprintf("%s_upper", c->metric);
        double upper;
        bool bound = mp_metrics_get(&res->metrics, upper_name, &upper);
        free(upper_name);
        if ((c->op == MP_CMP_LE || c->op == MP_CMP_LT) && bound && !mp_constraint_holds(c, upper)) {
            char a[MP_FMT_DOUBLE_MAX], b[MP_FMT_DOUBLE_MAX];
            mp_trial_result_fail(res, MP_FAILURE_SLO_VIOLATED,
                                 "%s = %s, but its 99 %% upper confidence bound %s violates %s "
                                 "(too few samples, or a tail near the limit)",
                                 c->metric, mp_fmt_double(a, m), mp_fmt_double(b, upper), c->text);
            return;
        }
    }
}
