/* SPDX-License-Identifier: Apache-2.0 */
/* Pareto fronts over two metrics of an experiment's feasible (SUCCEEDED) trials, for the
 * dashboard's trade-off charts (throughput vs p99 latency, objective vs cost). A trial that a
 * confirmation disproved (mp_report_disproved) is on no front. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a dominates b: no worse on both axes, strictly better on one (after orienting both axes as
 * "larger is better"). */
static bool dominates(double ax, double ay, double bx, double by)
{
    return ax >= bx && ay >= by && (ax > bx || ay > by);
}

void mp_pareto_flags(const double *x, const double *y, size_t n, bool x_max, bool y_max,
                     bool *flags)
{
    for (size_t i = 0; i < n; i++) {
        double xi = x_max ? x[i] : -x[i];
        double yi = y_max ? y[i] : -y[i];
        flags[i] = isfinite(xi) && isfinite(yi);
        for (size_t j = 0; j < n && flags[i]; j++) {
            double xj = x_max ? x[j] : -x[j];
            double yj = y_max ? y[j] : -y[j];
            if (j != i && isfinite(xj) && isfinite(yj) && dominates(xj, yj, xi, yi)) {
                flags[i] = false;
            }
        }
    }
}

static bool metric(const json_t *trial, const char *name, double *out)
{
    json_t *v = json_object_get(json_object_get(trial, "metrics"), name);
    if (!json_is_number(v)) {
        return false;
    }
    *out = json_number_value(v);
    return true;
}

json_t *mp_report_pareto(const json_t *report, const char *x_metric, bool x_max,
                         const char *y_metric, bool y_max)
{
    json_t *trials = json_object_get(report, "trials");
    size_t n = json_array_size(trials);
    double *x = mp_xcalloc(n + 1, sizeof(*x));
    double *y = mp_xcalloc(n + 1, sizeof(*y));
    json_int_t *num = mp_xcalloc(n + 1, sizeof(*num));
    bool *flags = mp_xcalloc(n + 1, sizeof(*flags));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(trials, i);
        const char *state = json_string_value(json_object_get(t, "state"));
        json_int_t number = json_integer_value(json_object_get(t, "number"));
        if (state && strcmp(state, "SUCCEEDED") == 0 && metric(t, x_metric, &x[m]) &&
            metric(t, y_metric, &y[m]) && !mp_report_disproved(report, number)) {
            num[m++] = number;
        }
    }
    mp_pareto_flags(x, y, m, x_max, y_max, flags);
    json_t *out = json_array();
    for (size_t i = 0; i < m; i++) {
        if (flags[i]) {
            json_array_append_new(out, json_integer(num[i]));
        }
    }
    free(x);
    free(y);
    free(num);
    free(flags);
    return out;
}
