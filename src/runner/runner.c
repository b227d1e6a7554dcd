/* SPDX-License-Identifier: Apache-2.0 */
/* The runner registry, and the check of the metrics a spec judges trials of a load-testing
 * runner by. */
#include "runner/runner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "measure/measure.h"

atomic_bool mp_runner_hurry;

static const struct mp_runner_ops *const registry[] = {
    &mp_runner_replay,
    &mp_runner_local,
    &mp_runner_kubernetes,
    NULL,
};

const struct mp_runner_ops *const *mp_runner_all(void)
{
    return registry;
}

const struct mp_runner_ops *mp_runner_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}

int mp_runner_unavailable(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_buf known = MP_BUF_INIT;
    for (size_t i = 0; registry[i]; i++) {
        mp_buf_addf(&known, "%s%s", i ? ", " : "", registry[i]->name);
    }
    int rc = mp_error_set(err, MP_EUNSUPPORTED,
                          "%s: runner '%s' is not available in this build (available: %s)",
                          spec->source, spec->runner, known.data);
    mp_buf_release(&known);
    return rc;
}

int mp_runner_new(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    const struct mp_runner_ops *ops = mp_runner_find(spec->runner);
    if (!ops) {
        return mp_runner_unavailable(spec, err);
    }
    int rc = ops->create(spec, out, err);
    if (rc == 0) {
        (*out)->ops = ops;
        (*out)->spec = spec;
    }
    return rc;
}

void mp_runner_free(struct mp_runner *r)
{
    if (r) {
        r->ops->free(r);
    }
}

/* Every name a load test can report: those of a measurement with every figure (an uncertainty
 * from a confidence interval, the percentiles' upper bounds), of capacity mode and of a
 * re-measurement (local_load.c, and the load Job's result which `morphling load` writes). */
static void load_metric_names(struct mp_metrics *m)
{
    struct mp_measure_result r;
    memset(&r, 0, sizeof(r));
    r.merged = 4;
    r.requests = 1;
    mp_measure_result_metrics(&r, true, m);
    static const char *const more[] = {"capacity_rps", "saturation_rps", "remeasured"};
    for (size_t i = 0; i < MP_ARRAY_LEN(more); i++) {
        mp_metrics_set(m, more[i], 0);
    }
}

size_t mp_runner_prune_slo(const struct mp_spec *spec, struct mp_slo *slo)
{
    memset(slo, 0, sizeof(*slo));
    for (size_t i = 0; spec && i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        if ((c->op != MP_CMP_LE && c->op != MP_CMP_LT) || !(c->bound > 0)) {
            continue;
        }
        for (int s = 0; s < MP_STAT_COUNT && slo->n < MP_SLO_MAX_CLAUSES; s++) {
            char ms[32], us[32];
            snprintf(ms, sizeof(ms), "%s_ms", mp_stat_name((enum mp_stat)s));
            snprintf(us, sizeof(us), "latency_%s_us", mp_stat_name((enum mp_stat)s));
            bool in_ms = strcmp(c->metric, ms) == 0;
            if (in_ms || strcmp(c->metric, us) == 0) {
                slo->clause[slo->n].stat = (enum mp_stat)s;
                slo->clause[slo->n++].limit_us = in_ms ? c->bound * 1000.0 : c->bound;
            }
        }
    }
    return slo->n;
}

int mp_runner_check_load_metrics(const struct mp_spec *spec, const char *const *resources,
                                 struct mp_error *err)
{
    struct mp_metrics known = MP_METRICS_INIT;
    load_metric_names(&known);
    for (size_t i = 0; resources && resources[i]; i++) {
        mp_metrics_set(&known, resources[i], 0);
    }
    int rc = 0;
    /* A parameter named like a metric of the trials: each trial's record and export held two
     * values of one name (the export's two columns of it replayed as neither). */
    const struct mp_node *list = mp_doc_get(spec->doc, "parameters");
    for (size_t i = 0; rc == 0 && i < spec->space.n; i++) {
        const struct mp_node *at = list && i < list->n ? list->items[i] : spec->doc;
        double v;
        if (mp_metrics_get(&known, spec->space.params[i].name, &v)) {
            rc = mp_doc_error(err, mp_doc_get(at, "name") ? mp_doc_get(at, "name") : at,
                              "\"%s\" names a metric that runner '%s' measures; rename the "
                              "parameter",
                              spec->space.params[i].name, spec->runner);
        }
    }
    for (size_t i = 0; rc == 0 && i < spec->n_objectives + spec->n_constraints; i++) {
        const struct mp_node *at = NULL;
        const char *metric = mp_spec_judged_metric(spec, i, &at);
        double v;
        if (mp_metrics_get(&known, metric, &v) || mp_spec_metric_derived(spec, metric)) {
            continue;
        }
        const char *source = mp_spec_metric_source(metric);
        if (source) {
            rc = mp_doc_error(err, at, "\"%s\" is derived from %s, which the spec lacks", metric,
                              source);
            break;
        }
        const char **names = mp_xcalloc(known.n + 1, sizeof(*names));
        memcpy(names, known.names, known.n * sizeof(*names));
        const char *best = mp_suggest(metric, names);
        rc = mp_doc_error(err, at,
                          "runner '%s' measures no \"%s\"%s%s%s (its metrics: docs/spec.md, "
                          "'objective')",
                          spec->runner, metric, best ? "; did you mean \"" : "", best ? best : "",
                          best ? "\"?" : "");
        free(names);
    }
    mp_metrics_release(&known);
    return rc;
}
