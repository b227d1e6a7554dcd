/* SPDX-License-Identifier: Apache-2.0 */
/* Judging a trial against its spec: derived metrics, the objective and the constraints. */
#include "spec/spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

double mp_spec_round12(double v)
{
    /* Prices are decimal: 12 significant digits drop the binary sum's noise, which made 0.5
     * cores at 0.1 plus 0.35 cost 0.39999999999999997 (and 0.1 + 0.2 break a limit of 0.3); a
     * measurement has far fewer digits of its own. */
    char digits[32];
    snprintf(digits, sizeof(digits), "%.12g", v);
    return strtod(digits, NULL);
}

/* The price per hour of configuration x by the cost table (which the spec has), rounded. */
static double price_of(const struct mp_spec *spec, const double *x)
{
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
    return mp_spec_round12(cost);
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
    double cost = price_of(spec, x);
    mp_metrics_set(metrics, "cost_per_hour", cost);
    if (cost > 0 && mp_metrics_get(metrics, "throughput_rps", &rps) && isfinite(rps)) {
        mp_metrics_set(metrics, "throughput_per_cost", mp_spec_round12(rps / cost));
        if (rps > 0) {
            mp_metrics_set(metrics, "cost_per_million_requests",
                           mp_spec_round12(cost / (rps * 3600.0) * 1e6));
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

/* The least (most: sign -1) a parameter can be: the cheapest (dearest) GPU type for a gpu_type,
 * the lowest (highest) value of a numeric one, the first choice of another categorical. */
static double extreme(const struct mp_spec *spec, const struct mp_param *p, size_t i, double sign)
{
    switch (p->type) {
    case MP_PARAM_INT:
    case MP_PARAM_FLOAT:
        if (sign < 0 && mp_space_levels(&spec->space, i) > 0) { /* the last step's */
            return mp_space_level_value(&spec->space, i, mp_space_levels(&spec->space, i) - 1);
        }
        return sign > 0 ? p->min : p->max;
    case MP_PARAM_DISCRETE: {
        double lo = p->values[0];
        for (size_t k = 1; k < p->n_values; k++) {
            lo = sign * p->values[k] < sign * lo ? p->values[k] : lo;
        }
        return lo;
    }
    case MP_PARAM_CATEGORICAL:
        break;
    }
    size_t best = 0;
    if (p->target == MP_TARGET_RESOURCE && p->resource == MP_RESOURCE_GPU_TYPE) {
        double *x = mp_xcalloc(spec->space.n, sizeof(*x)), price = INFINITY;
        for (size_t k = 0; k < p->n_choices; k++) {
            x[i] = (double)k;
            if (sign * gpu_price(spec, x) < price) {
                price = sign * gpu_price(spec, x);
                best = k;
            }
        }
        free(x);
    }
    return (double)best;
}

/* A GPU type that cost.gpu_type_hour leaves out costs cost.gpu_hour: without one it was free,
 * and the search recommended the type nobody priced as the cheapest. A price for the type under
 * another case (a100 for A100) is a typo: the type cost gpu_hour, or nothing. */
static int check_gpu_type_prices(const struct mp_spec *spec, struct mp_error *err)
{
    const struct mp_node *cost = mp_doc_get(spec->doc, "cost");
    const struct mp_node *table = mp_doc_get(cost, "gpu_type_hour");
    bool fallback = !mp_doc_is_null(mp_doc_get(cost, "gpu_hour"));
    if (!table) {
        return 0;
    }
    const struct mp_space *s = &spec->space;
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (p->target != MP_TARGET_RESOURCE || p->resource != MP_RESOURCE_GPU_TYPE) {
            continue;
        }
        for (size_t k = 0; k < p->n_choices; k++) {
            size_t t = 0;
            while (t < spec->cost.n_gpu_types &&
                   strcmp(spec->cost.gpu_types[t], p->choices[k]) != 0) {
                t++;
            }
            for (size_t c = 0; t == spec->cost.n_gpu_types && c < spec->cost.n_gpu_types; c++) {
                if (strcasecmp(spec->cost.gpu_types[c], p->choices[k]) == 0) {
                    return mp_doc_error(err, mp_doc_get(table, spec->cost.gpu_types[c]),
                                        "'%s' is priced, and %s = %s is not: GPU type names are "
                                        "case-sensitive",
                                        spec->cost.gpu_types[c], p->name, p->choices[k]);
                }
            }
            if (t == spec->cost.n_gpu_types && !fallback) {
                return mp_doc_error(err, table,
                                    "no price for %s = %s (a GPU type without one costs "
                                    "cost.gpu_hour, which is not set): price it here, or set "
                                    "cost.gpu_hour",
                                    p->name, p->choices[k]);
            }
        }
    }
    return 0;
}

bool mp_spec_price_limited(const struct mp_spec *spec)
{
    for (size_t i = 0; spec->has_cost && i < spec->n_constraints; i++) {
        if (strcmp(spec->constraints[i].metric, "cost_per_hour") == 0) {
            return true;
        }
    }
    return false;
}

bool mp_spec_breaks_by_price(const void *ctx, const double *x)
{
    const struct mp_spec *spec = ctx;
    double cost = spec->has_cost ? price_of(spec, x) : NAN;
    for (size_t i = 0; spec->has_cost && i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        if (strcmp(c->metric, "cost_per_hour") == 0 && !mp_constraint_holds(c, cost)) {
            return true;
        }
    }
    return false;
}

/* Whether constraint c is a limit on cost_per_hour, an upper one (upper) or a lower one. */
static bool price_limit(const struct mp_constraint *c, bool upper)
{
    return strcmp(c->metric, "cost_per_hour") == 0 &&
           (c->op == MP_CMP_LE || c->op == MP_CMP_LT) == upper;
}

/* Whether the price of y meets every upper (upper) or lower limit on cost_per_hour. */
static bool limits_hold(const struct mp_spec *spec, const double *y, bool upper)
{
    double cost = price_of(spec, y);
    for (size_t i = 0; i < spec->n_constraints; i++) {
        if (price_limit(&spec->constraints[i], upper) &&
            !mp_constraint_holds(&spec->constraints[i], cost)) {
            return false;
        }
    }
    return true;
}

/* Whether parameter i can change the price: the pods, or a resource the cost table prices. */
static bool sets_price(const struct mp_spec *spec, size_t i)
{
    const struct mp_param *p = &spec->space.params[i];
    if ((int)i == mp_spec_pods_param(spec)) {
        return true;
    }
    if (p->target != MP_TARGET_RESOURCE) {
        return false;
    }
    bool gpu_priced = spec->cost.gpu_hour > 0;
    for (size_t k = 0; k < spec->cost.n_gpu_types; k++) {
        gpu_priced = gpu_priced || spec->cost.gpu_type_hour[k] > 0;
    }
    switch (p->resource) {
    case MP_RESOURCE_CPU:
        return spec->cost.cpu_core_hour > 0;
    case MP_RESOURCE_MEMORY:
        return spec->cost.memory_gib_hour > 0;
    default:
        return gpu_priced;
    }
}

uint64_t mp_spec_price_skip(const void *ctx, uint64_t idx)
{
    const struct mp_spec *spec = ctx;
    const struct mp_space *sp = &spec->space;
    uint64_t count = 0, next = idx + 1;
    if (!mp_space_count(sp, &count) || idx >= count) {
        return next;
    }
    double *x = mp_xcalloc(sp->n + 1, sizeof(*x));
    mp_space_from_index(sp, idx, x);
    /* The configurations that differ from x in the parameters after the last one that sets a
     * price (the fastest in enumeration order) cost what x does. */
    size_t j = sp->n;
    uint64_t block = 1;
    for (; j > 0 && !sets_price(spec, j - 1); j--) {
        block *= mp_space_levels(sp, j - 1);
    }
    if (!mp_spec_breaks_by_price(spec, x)) {
        next = idx + 1;
    } else if (j-- == 0) {
        next = count; /* nothing sets a price: every configuration breaks it */
    } else {
        uint64_t n = mp_space_levels(sp, j), run = block * n, pos = idx / block % n;
        uint64_t base = idx - idx % run, hi = pos + 1;
        if (sp->params[j].type != MP_PARAM_CATEGORICAL && !limits_hold(spec, x, true)) {
            hi = n; /* its later values cost more: they break the upper limit too */
        } else if (sp->params[j].type != MP_PARAM_CATEGORICAL) {
            /* Too cheap: the first of its later values that meets the lower limits (n: none). */
            uint64_t lo = pos;
            hi = n;
            while (hi - lo > 1) {
                uint64_t mid = lo + (hi - lo) / 2;
                x[j] = mp_space_level_value(sp, j, mid);
                *(limits_hold(spec, x, false) ? &hi : &lo) = mid;
            }
        }
        next = base + hi * block;
    }
    free(x);
    return next < count ? next : count;
}

/* "cpu = 0.5, t = T4, pods = 1": the resources (and pods) configuration x sets, for messages. */
static void resources_text(const struct mp_spec *spec, const double *x, struct mp_buf *out)
{
    const struct mp_space *s = &spec->space;
    char buf[MP_FMT_DOUBLE_MAX];
    int pods = mp_spec_pods_param(spec); /* the price is per pod */
    for (size_t k = 0; k < s->n; k++) {
        if (s->params[k].target == MP_TARGET_RESOURCE || (int)k == pods) {
            mp_buf_addf(out, "%s%s = %s", out->len ? ", " : "", s->params[k].name,
                        mp_space_format(s, k, x[k], buf));
        }
    }
}

/* Refuses constraint i, which configuration x, costing `cost`, breaks though no configuration
 * costs less (an upper limit) or more (a lower one). */
static int refuse_limit(const struct mp_spec *spec, size_t i, const double *x, double cost,
                        struct mp_error *err)
{
    const struct mp_constraint *c = &spec->constraints[i];
    bool upper = c->op == MP_CMP_LE || c->op == MP_CMP_LT;
    struct mp_buf used = MP_BUF_INIT;
    resources_text(spec, x, &used);
    const struct mp_node *at = NULL;
    char buf[MP_FMT_DOUBLE_MAX];
    mp_spec_judged_metric(spec, spec->n_objectives + i, &at);
    int rc = mp_doc_error(err, at,
                          "'%s' holds for no configuration: the %s (%s) costs %s per hour by the "
                          "cost table",
                          c->text, upper ? "cheapest" : "most expensive",
                          used.len ? used.data : "every one", mp_fmt_double(buf, cost));
    mp_buf_release(&used);
    return rc;
}

/* Refuses constraints on cost_per_hour that together hold for none of the configurations of a
 * finite space small enough to price one by one (a price range with no price in it). */
static int check_price_gap(const struct mp_spec *spec, size_t n_limits, size_t first,
                           struct mp_error *err)
{
    uint64_t count = 0;
    if (n_limits < 2 || !mp_space_count(&spec->space, &count) || count > ((uint64_t)1 << 16)) {
        return 0;
    }
    double *x = mp_xcalloc(spec->space.n, sizeof(*x));
    bool any = false;
    for (uint64_t k = 0; k < count && !any; k++) {
        mp_space_from_index(&spec->space, k, x);
        any = !mp_spec_breaks_by_price(spec, x);
    }
    free(x);
    if (any) {
        return 0;
    }
    const struct mp_node *at = NULL;
    mp_spec_judged_metric(spec, spec->n_objectives + first, &at);
    return mp_doc_error(err, at,
                        "the constraints on cost_per_hour hold together for none of the %llu "
                        "configurations: no configuration's price lies within them",
                        (unsigned long long)count);
}

/* Refuses a limit on cost_per_hour that no configuration meets: an upper one that the cheapest
 * configuration x (costing `cost`) breaks, a lower one that the most expensive breaks, or several
 * that no price meets together. Every trial could only violate them. */
static int check_price_limits(const struct mp_spec *spec, const double *x, double cost,
                              struct mp_error *err)
{
    double *dear = NULL, dear_cost = 0;
    size_t n_limits = 0, first = 0;
    int rc = 0;
    for (size_t i = 0; i < spec->n_constraints && rc == 0; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        if (strcmp(c->metric, "cost_per_hour") != 0) {
            continue;
        }
        first = n_limits++ ? first : i;
        if (c->op == MP_CMP_LE || c->op == MP_CMP_LT) {
            rc = mp_constraint_holds(c, cost) ? 0 : refuse_limit(spec, i, x, cost, err);
            continue;
        }
        if (!dear) { /* The price grows with each resource: the most expensive has each at its most.
                      */
            dear = mp_xcalloc(spec->space.n, sizeof(*dear));
            for (size_t k = 0; k < spec->space.n; k++) {
                dear[k] = extreme(spec, &spec->space.params[k], k, -1);
            }
            dear_cost = price_of(spec, dear);
        }
        rc = mp_constraint_holds(c, dear_cost) ? 0 : refuse_limit(spec, i, dear, dear_cost, err);
    }
    free(dear);
    return rc ? rc : check_price_gap(spec, n_limits, first, err);
}

int mp_spec_check_cost(const struct mp_spec *spec, struct mp_error *err)
{
    const struct mp_space *s = &spec->space;
    if (!spec->has_cost || s->n == 0) {
        return 0;
    }
    int rc = check_gpu_type_prices(spec, err);
    if (rc != 0) {
        return rc;
    }
    /* The price grows with each resource on its own: the cheapest configuration has each at its
     * least. */
    double *x = mp_xcalloc(s->n, sizeof(*x));
    for (size_t i = 0; i < s->n; i++) {
        x[i] = extreme(spec, &s->params[i], i, 1);
    }
    double cost = price_of(spec, x);
    for (size_t i = 0; cost == 0 && rc == 0 && i < spec->n_objectives + spec->n_constraints; i++) {
        const struct mp_node *at = NULL;
        const char *metric = mp_spec_judged_metric(spec, i, &at);
        if (strcmp(metric, "throughput_per_cost") != 0 &&
            strcmp(metric, "cost_per_million_requests") != 0) {
            continue;
        }
        struct mp_buf used = MP_BUF_INIT;
        resources_text(spec, x, &used);
        rc = used.len ? mp_doc_error(err, at,
                                     "%s is undefined for a configuration that costs 0 per hour, "
                                     "as %s does (the cost table prices nothing it uses): price "
                                     "those resources or set cost.base_hour",
                                     metric, used.data)
                      : mp_doc_error(err, at,
                                     "%s is undefined for a configuration that costs 0 per hour, "
                                     "and every configuration does (no parameter sets a resource "
                                     "the cost table prices): set cost.base_hour",
                                     metric);
        mp_buf_release(&used);
    }
    if (rc == 0) {
        rc = check_price_limits(spec, x, cost, err);
    }
    free(x);
    return rc;
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
