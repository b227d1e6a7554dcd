/* SPDX-License-Identifier: Apache-2.0 */
/* Human renderings of reports: summary, trial table, recommendation, list, CSV. */
#include "report/report.h"

#include <math.h>
#include <string.h>

/* Canonical text of a JSON parameter value or metric. */
static const char *value_text(const json_t *v, char *buf)
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_number(v)) {
        return mp_fmt_double(buf, json_number_value(v));
    }
    return "-";
}

/* Display text of a metric: 6 significant digits are enough to read, the JSON keeps all. */
static const char *metric_text(const json_t *v, char *buf)
{
    if (!json_is_number(v)) {
        return "-";
    }
    snprintf(buf, MP_FMT_DOUBLE_MAX, "%.6g", json_number_value(v));
    return buf;
}

void mp_report_print_summary(FILE *f, const json_t *r)
{
    const json_t *obj = json_object_get(r, "objective");
    const json_t *c = json_object_get(r, "counts");
    fprintf(f, "experiment %s (id %lld): %s", json_string_value(json_object_get(r, "name")),
            (long long)json_integer_value(json_object_get(r, "id")),
            json_string_value(json_object_get(r, "state")));
    const char *reason = json_string_value(json_object_get(r, "stop_reason"));
    fprintf(f, "%s%s\n", reason && *reason ? ": " : "", reason ? reason : "");
    fprintf(f, "objective: %s %s", json_string_value(json_object_get(obj, "direction")),
            json_string_value(json_object_get(obj, "metric")));
    const json_t *cons = json_object_get(r, "constraints");
    for (size_t i = 0; i < json_array_size(cons); i++) {
        fprintf(f, "%s%s", i ? ", " : "; subject to ", json_string_value(json_array_get(cons, i)));
    }
    fprintf(f,
            "\nalgorithm %s, runner %s, seed %lld: %lld of %lld trials (%lld succeeded, %lld "
            "failed)\n",
            json_string_value(json_object_get(r, "algorithm")),
            json_string_value(json_object_get(r, "runner")),
            (long long)json_integer_value(json_object_get(r, "seed")),
            (long long)json_integer_value(json_object_get(c, "total")),
            (long long)json_integer_value(json_object_get(r, "max_trials")),
            (long long)json_integer_value(json_object_get(c, "succeeded")),
            (long long)json_integer_value(json_object_get(c, "failed")));
}

void mp_report_print_trials(FILE *f, const json_t *r)
{
    const json_t *params = json_object_get(r, "parameters");
    const char *metric =
        json_string_value(json_object_get(json_object_get(r, "objective"), "metric"));
    fprintf(f, "%5s  %-10s %12s", "trial", "state", "objective");
    for (size_t i = 0; i < json_array_size(params); i++) {
        fprintf(f, "  %s", json_string_value(json_array_get(params, i)));
    }
    fprintf(f, "  note\n");
    const json_t *trials = json_object_get(r, "trials");
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const json_t *tr = json_array_get(trials, t);
        char buf[MP_FMT_DOUBLE_MAX];
        fprintf(f, "%5lld  %-10s %12s",
                (long long)json_integer_value(json_object_get(tr, "number")),
                json_string_value(json_object_get(tr, "state")),
                metric_text(json_object_get(json_object_get(tr, "metrics"), metric), buf));
        const json_t *p = json_object_get(tr, "params");
        for (size_t i = 0; i < json_array_size(params); i++) {
            const char *name = json_string_value(json_array_get(params, i));
            fprintf(f, "  %*s", (int)strlen(name), value_text(json_object_get(p, name), buf));
        }
        const char *reason = json_string_value(json_object_get(tr, "reason"));
        const char *failure = json_string_value(json_object_get(tr, "failure"));
        fprintf(f, "  %s%s%s\n", failure ? failure : "", reason ? ": " : "", reason ? reason : "");
    }
}

void mp_report_print_recommendation(FILE *f, const json_t *r)
{
    const json_t *best = json_object_get(r, "best");
    const json_t *obj = json_object_get(r, "objective");
    if (!json_is_object(best)) {
        fprintf(f, "No recommendation: no trial met the objective and constraints.\n");
        return;
    }
    char buf[MP_FMT_DOUBLE_MAX];
    fprintf(f, "Recommended configuration (trial %lld):\n",
            (long long)json_integer_value(json_object_get(best, "number")));
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)json_object_get(best, "params"), key, v)
    {
        fprintf(f, "  %-24s %s\n", key, value_text(v, buf));
    }
    const char *metric = json_string_value(json_object_get(obj, "metric"));
    fprintf(f, "Measured:\n  %-24s %s   (objective, %s)\n", metric,
            metric_text(json_object_get(best, "value"), buf),
            json_string_value(json_object_get(obj, "direction")));
    json_object_foreach((json_t *)json_object_get(best, "metrics"), key, v)
    {
        if (strcmp(key, metric) != 0) {
            fprintf(f, "  %-24s %s\n", key, metric_text(v, buf));
        }
    }
}

void mp_report_print_list(FILE *f, const json_t *list)
{
    fprintf(f, "%4s  %-24s %-12s %-9s %7s  %12s  %s\n", "id", "name", "state", "algorithm",
            "trials", "best", "created");
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *e = json_array_get(list, i);
        char buf[MP_FMT_DOUBLE_MAX], trials[48];
        snprintf(
            trials, sizeof(trials), "%lld/%lld",
            (long long)json_integer_value(json_object_get(json_object_get(e, "counts"), "total")),
            (long long)json_integer_value(json_object_get(e, "max_trials")));
        fprintf(f, "%4lld  %-24s %-12s %-9s %7s  %12s  %s\n",
                (long long)json_integer_value(json_object_get(e, "id")),
                json_string_value(json_object_get(e, "name")),
                json_string_value(json_object_get(e, "state")),
                json_string_value(json_object_get(e, "algorithm")), trials,
                metric_text(json_object_get(e, "best_value"), buf),
                json_string_value(json_object_get(e, "created_at")));
    }
}

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

/* Metric names in first-seen order across all trials. */
static json_t *metric_names(const json_t *trials)
{
    json_t *names = json_array();
    json_t *seen = json_object();
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)json_object_get(json_array_get(trials, t), "metrics"), key, v)
        {
            if (!json_object_get(seen, key)) {
                json_object_set_new(seen, key, json_true());
                json_array_append_new(names, json_string(key));
            }
        }
    }
    json_decref(seen);
    return names;
}

void mp_report_write_csv(FILE *f, const json_t *r)
{
    const json_t *params = json_object_get(r, "parameters");
    const json_t *trials = json_object_get(r, "trials");
    json_t *metrics = metric_names(trials);
    fputs("number,state,failure", f);
    const json_t *cols[] = {params, metrics};
    for (size_t c = 0; c < 2; c++) {
        for (size_t i = 0; i < json_array_size(cols[c]); i++) {
            fputc(',', f);
            csv_field(f, json_string_value(json_array_get(cols[c], i)));
        }
    }
    fputc('\n', f);
    for (size_t t = 0; t < json_array_size(trials); t++) {
        const json_t *tr = json_array_get(trials, t);
        const char *failure = json_string_value(json_object_get(tr, "failure"));
        fprintf(f, "%lld,%s,%s", (long long)json_integer_value(json_object_get(tr, "number")),
                json_string_value(json_object_get(tr, "state")), failure ? failure : "");
        const char *groups[] = {"params", "metrics"};
        for (size_t c = 0; c < 2; c++) {
            const json_t *values = json_object_get(tr, groups[c]);
            for (size_t i = 0; i < json_array_size(cols[c]); i++) {
                char buf[MP_FMT_DOUBLE_MAX];
                const json_t *v =
                    json_object_get(values, json_string_value(json_array_get(cols[c], i)));
                fputc(',', f);
                if (v) {
                    csv_field(f, value_text(v, buf));
                }
            }
        }
        fputc('\n', f);
    }
    json_decref(metrics);
}
