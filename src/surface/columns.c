/* SPDX-License-Identifier: Apache-2.0 */
/* Which columns of a surface are the parameters and which the objective: named by the caller,
 * or read from the header (a trial export's layout, or the metrics morphling produces). */
#include "surface/surface.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trial/trial.h"

void mp_surface_columns_release(struct mp_surface_columns *c)
{
    free(c->params);
    memset(c, 0, sizeof(*c));
}

static int named_column(const struct mp_surface *s, const char *what, const char *name,
                        struct mp_error *err)
{
    int c = mp_surface_column(s, name);
    if (c < 0) {
        const char **names = mp_xcalloc(s->n_cols + 1, sizeof(*names));
        memcpy(names, s->header, s->n_cols * sizeof(*names));
        const char *best = mp_suggest(name, names);
        free(names);
        return best ? mp_error_set(err, MP_EINVALID, "%s: no %s column '%s'; did you mean '%s'?",
                                   s->path, what, name, best)
                    : mp_error_set(err, MP_EINVALID, "%s: no %s column '%s'", s->path, what, name);
    }
    return c;
}

static int default_objective(const struct mp_surface *s, int failure)
{
    static const char *const preferred[] = {"throughput_per_cost", "throughput_rps"};
    for (size_t i = 0; i < MP_ARRAY_LEN(preferred); i++) {
        int c = mp_surface_column(s, preferred[i]);
        if (c >= 0) {
            return c;
        }
    }
    int c = (int)s->n_cols - 1;
    return c > 0 && c == failure ? c - 1 : c;
}

static bool bookkeeping(const struct mp_surface *s, size_t c)
{
    return s->is_export && c < 3;
}

/* The parameters the header shows; *from_metrics says whether a known metric bounded them. */
static int header_params(const struct mp_surface *s, struct mp_surface_columns *out,
                         bool *from_metrics, struct mp_error *err)
{
    size_t first_metric = s->n_cols;
    for (size_t c = 0; c < s->n_cols && first_metric == s->n_cols; c++) {
        if (!bookkeeping(s, c) && mp_metric_unit(s->header[c])) {
            first_metric = c;
        }
    }
    *from_metrics = first_metric < s->n_cols;
    if (s->is_export && !*from_metrics) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: a trial export whose parameter columns cannot be told from its "
                            "metric columns (no column names a metric morphling measures); name "
                            "the parameters with --params A,B,...",
                            s->path);
    }
    for (size_t c = 0; c < first_metric; c++) {
        if (!bookkeeping(s, c) && (int)c != out->failure && (int)c != out->objective) {
            out->params[out->n_params++] = (int)c;
        }
    }
    if (out->n_params == 0) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: no parameter columns before the first metric column '%s'; name "
                            "the parameters with --params A,B,...",
                            s->path, s->header[first_metric < s->n_cols ? first_metric : 0]);
    }
    return 0;
}

/* Every parameter cell must hold a value: an empty one is a metric of a failed row. */
static int check_params(const struct mp_surface *s, const struct mp_surface_columns *out,
                        bool named, struct mp_error *err)
{
    for (size_t i = 0; i < out->n_params; i++) {
        size_t c = (size_t)out->params[i];
        for (size_t r = 0; r < s->n_rows; r++) {
            if (s->cells[r * s->n_cols + c][0] == '\0') {
                return mp_error_set(err, MP_EINVALID, "%s:%zu: parameter column '%s' is empty: %s",
                                    s->path, s->lines[r], s->header[c],
                                    named ? "every configuration needs a value"
                                          : "it looks like a metric; name the parameters with "
                                            "--params A,B,...");
            }
        }
        for (size_t k = 0; k < i; k++) {
            if (out->params[k] == out->params[i]) {
                return mp_error_set(err, MP_EINVALID, "%s: parameter column '%s' named twice",
                                    s->path, s->header[c]);
            }
        }
        if ((int)c == out->objective || (int)c == out->failure) {
            return mp_error_set(err, MP_EINVALID, "%s: column '%s' cannot be a parameter", s->path,
                                s->header[c]);
        }
    }
    return 0;
}

static int check_objective(const struct mp_surface *s, const struct mp_surface_columns *out,
                           struct mp_error *err)
{
    size_t c = (size_t)out->objective;
    int rc = mp_surface_check_numeric(s, c, "objective column", err);
    if (rc != 0) {
        return rc;
    }
    for (size_t r = 0; r < s->n_rows; r++) {
        bool failed = out->failure >= 0 && s->cells[r * s->n_cols + (size_t)out->failure][0];
        if (!failed && !isnan(s->numbers[r * s->n_cols + c])) {
            return 0;
        }
    }
    return mp_error_set(err, MP_EINVALID,
                        "%s: objective column '%s' has no value on any row that did not fail",
                        s->path, s->header[c]);
}

int mp_surface_columns(const struct mp_surface *s, const char *const *params, size_t n_params,
                       const char *objective, struct mp_surface_columns *out, struct mp_error *err)
{
    memset(out, 0, sizeof(*out));
    out->failure = mp_surface_column(s, "failure");
    out->objective = objective ? named_column(s, "objective", objective, err)
                               : default_objective(s, out->failure);
    if (out->objective < 0) {
        return objective ? out->objective
                         : mp_error_set(err, MP_EINVALID, "%s: no columns", s->path);
    }
    if (bookkeeping(s, (size_t)out->objective)) {
        /* The replay runner reports no metric of that name: every trial would fail. */
        return mp_error_set(err, MP_EINVALID, "%s: column '%s' of a trial export is no metric",
                            s->path, s->header[out->objective]);
    }
    out->params = mp_xcalloc(s->n_cols + n_params + 1, sizeof(int));
    bool from_metrics = false;
    int rc = 0;
    for (size_t i = 0; params && i < n_params && rc == 0; i++) {
        int c = named_column(s, "parameter", params[i], err);
        rc = c < 0 ? c : 0;
        out->params[out->n_params++] = c;
    }
    if (rc == 0 && !params) {
        rc = header_params(s, out, &from_metrics, err);
    }
    if (rc == 0) {
        rc = check_params(s, out, params != NULL || from_metrics, err);
    }
    if (rc == 0) {
        rc = check_objective(s, out, err);
    }
    if (rc != 0) {
        mp_surface_columns_release(out);
    }
    return rc;
}
