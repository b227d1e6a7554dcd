/* SPDX-License-Identifier: Apache-2.0 */
/* Building experiment reports from the store. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

static json_t *time_json(int64_t ns)
{
    if (ns <= 0) {
        return json_null();
    }
    char buf[32];
    return json_string(mp_fmt_time(buf, ns));
}

static json_t *metrics_json(const struct mp_metrics *m)
{
    json_t *j = json_object();
    for (size_t i = 0; i < m->n; i++) {
        json_object_set_new(j, m->names[i],
                            isfinite(m->values[i]) ? json_real(m->values[i]) : json_null());
    }
    return j;
}

static json_t *trial_json(const struct mp_trial_row *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "number", json_integer(t->number));
    json_object_set_new(j, "state", json_string(mp_trial_state_name(t->state)));
    json_object_set_new(j, "failure",
                        t->failure ? json_string(mp_failure_name(t->failure)) : json_null());
    json_object_set_new(j, "reason", t->reason ? json_string(t->reason) : json_null());
    json_object_set_new(j, "attempt", json_integer(t->attempt));
    json_t *params = json_loads(t->params_json, 0, NULL);
    json_object_set_new(j, "params", params ? params : json_object());
    json_object_set_new(j, "metrics", metrics_json(&t->metrics));
    json_object_set_new(j, "resources", metrics_json(&t->resources));
    json_object_set_new(j, "started_at", time_json(t->started_at_ns));
    json_object_set_new(j, "finished_at", time_json(t->finished_at_ns));
    json_object_set_new(j, "duration_s",
                        t->finished_at_ns > 0 && t->started_at_ns > 0
                            ? json_real((double)(t->finished_at_ns - t->started_at_ns) / 1e9)
                            : json_null());
    if (t->meta_json) {
        json_t *meta = json_loads(t->meta_json, 0, NULL);
        json_object_set_new(j, "meta", meta ? meta : json_null());
    }
    return j;
}

static json_t *counts_json(const struct mp_trial_row *rows, size_t n)
{
    size_t c[5] = {0};
    for (size_t i = 0; i < n; i++) {
        c[rows[i].state]++;
    }
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total", (json_int_t)n, "succeeded",
                     (json_int_t)c[MP_TRIAL_SUCCEEDED], "failed", (json_int_t)c[MP_TRIAL_FAILED],
                     "cancelled", (json_int_t)c[MP_TRIAL_CANCELLED], "pending",
                     (json_int_t)c[MP_TRIAL_PENDING], "running", (json_int_t)c[MP_TRIAL_RUNNING]);
}

static json_t *best_json(const struct mp_spec *spec, const struct mp_trial_row *rows, size_t n)
{
    long best = -1;
    double bv = 0;
    for (size_t i = 0; i < n; i++) {
        double v;
        if (rows[i].state != MP_TRIAL_SUCCEEDED ||
            !mp_metrics_get(&rows[i].metrics, spec->objective_metric, &v)) {
            continue;
        }
        if (best < 0 || (spec->direction == MP_MAXIMIZE ? v > bv : v < bv)) {
            best = (long)i;
            bv = v;
        }
    }
    if (best < 0) {
        return json_null();
    }
    const struct mp_trial_row *t = &rows[best];
    json_t *params = json_loads(t->params_json, 0, NULL);
    return json_pack("{s:I, s:o, s:f, s:o}", "number", (json_int_t)t->number, "params",
                     params ? params : json_object(), "value", bv, "metrics",
                     metrics_json(&t->metrics));
}

static void add_settings(json_t *j, const struct mp_spec *spec)
{
    json_object_set_new(j, "objective",
                        json_pack("{s:s, s:s}", "metric", spec->objective_metric, "direction",
                                  spec->direction == MP_MAXIMIZE ? "maximize" : "minimize"));
    json_t *cons = json_array();
    for (size_t i = 0; i < spec->n_constraints; i++) {
        json_array_append_new(cons, json_string(spec->constraints[i].text));
    }
    json_object_set_new(j, "constraints", cons);
    json_object_set_new(j, "algorithm", json_string(spec->algorithm));
    json_object_set_new(j, "runner", json_string(spec->runner));
    json_object_set_new(j, "max_trials", json_integer(spec->max_trials));
    json_object_set_new(j, "parallelism", json_integer(spec->parallelism));
    json_t *params = json_array();
    for (size_t i = 0; i < spec->space.n; i++) {
        json_array_append_new(params, json_string(spec->space.params[i].name));
    }
    json_object_set_new(j, "parameters", params);
}

int mp_report_experiment(struct mp_store *st, const char *ref, json_t **out, struct mp_error *err)
{
    struct mp_experiment_row row = {0};
    struct mp_spec *spec = NULL;
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_find(st, ref, &row, err);
    if (rc == 0) {
        rc = mp_spec_parse(row.spec_json, strlen(row.spec_json), row.name, row.base_dir, NULL, 0,
                           &spec, err);
    }
    if (rc == 0) {
        rc = mp_store_trial_list(st, row.id, &rows, &n, err);
    }
    if (rc == 0) {
        json_t *j = json_object();
        json_object_set_new(j, "id", json_integer(row.id));
        json_object_set_new(j, "name", json_string(row.name));
        json_object_set_new(j, "state", json_string(mp_experiment_state_name(row.state)));
        json_object_set_new(j, "stop_reason",
                            row.stop_reason ? json_string(row.stop_reason) : json_null());
        json_object_set_new(j, "seed", json_integer((json_int_t)row.seed));
        json_object_set_new(j, "created_at", time_json(row.created_at_ns));
        json_object_set_new(j, "finished_at", time_json(row.finished_at_ns));
        add_settings(j, spec);
        json_object_set_new(j, "counts", counts_json(rows, n));
        json_t *trials = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(trials, trial_json(&rows[i]));
        }
        json_object_set_new(j, "trials", trials);
        json_object_set_new(j, "best", best_json(spec, rows, n));
        *out = j;
    }
    mp_trial_rows_free(rows, n);
    mp_spec_free(spec);
    mp_experiment_row_release(&row);
    return rc;
}

int mp_report_list(struct mp_store *st, json_t **out, struct mp_error *err)
{
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_list(st, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n && rc == 0; i++) {
        char ref[32];
        snprintf(ref, sizeof(ref), "%lld", (long long)rows[i].id);
        json_t *rep = NULL;
        rc = mp_report_experiment(st, ref, &rep, err);
        if (rc != 0) {
            break;
        }
        json_t *best = json_object_get(rep, "best");
        json_t *item = json_pack(
            "{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(rep, "id"),
            "name", json_object_get(rep, "name"), "state", json_object_get(rep, "state"),
            "created_at", json_object_get(rep, "created_at"), "objective",
            json_object_get(rep, "objective"), "algorithm", json_object_get(rep, "algorithm"),
            "max_trials", json_object_get(rep, "max_trials"), "counts",
            json_object_get(rep, "counts"), "best_value",
            json_is_object(best) ? json_object_get(best, "value") : json_null());
        json_array_append_new(list, item);
        json_decref(rep);
    }
    mp_experiment_rows_free(rows, n);
    if (rc != 0) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return 0;
}
