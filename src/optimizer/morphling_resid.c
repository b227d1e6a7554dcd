/* SPDX-License-Identifier: Apache-2.0 */
/* The residual model of the `morphling` back end's exploration (morphling_int.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/morphling_int.h"

void mp_resid_init(struct mp_resid *r, const struct mp_space *space)
{
    memset(r, 0, sizeof(*r));
    r->space = space;
    r->cat = mp_xcalloc(space->n + 1, 1);
    for (size_t j = 0; j < space->n; j++) {
        r->cat[j] = space->params[j].type == MP_PARAM_CATEGORICAL;
    }
    mp_gp_init(&r->gp, space->n, r->cat);
}

void mp_resid_release(struct mp_resid *r)
{
    mp_gp_release(&r->gp);
    free(r->cat);
    memset(r, 0, sizeof(*r));
}

void mp_resid_inputs(const struct mp_space *space, const double *x, double *z)
{
    mp_space_encode(space, x, z);
    for (size_t j = 0; j < space->n; j++) {
        if (space->params[j].type == MP_PARAM_CATEGORICAL) {
            z[j] = x[j];
        }
    }
}

int mp_resid_fit(struct mp_resid *r, const double *x, const double *res, size_t n,
                 struct mp_rng *rng, struct mp_error *err)
{
    r->ready = false;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        lo = fmin(lo, res[i]);
        hi = fmax(hi, res[i]);
    }
    if (n < 2 || !(hi > lo)) {
        return 0;
    }
    size_t d = r->space->n, m = n < MP_RESID_MAX_POINTS ? n : MP_RESID_MAX_POINTS;
    double *z = mp_xmalloc(m * (d + 1) * sizeof(double)), *y = z + m * d;
    for (size_t k = 0; k < m; k++) {
        /* Point k of m spread over n: 0 .. n - 1, each once (all of them when m == n). */
        size_t i = m > 1 ? k * (n - 1) / (m - 1) : n - 1;
        mp_resid_inputs(r->space, x + i * d, z + k * d);
        y[k] = res[i];
    }
    struct mp_gp_fit_opts fo = MP_GP_FIT_OPTS_INIT;
    fo.restarts = 1;
    fo.max_fit_points = MP_RESID_FIT_POINTS;
    int rc = mp_gp_fit(&r->gp, z, y, m, &fo, rng, err);
    free(z);
    r->ready = rc == 0;
    return rc;
}

void mp_resid_add(const struct mp_resid *r, const double *z, size_t m, double beta, double *out)
{
    if (!r->ready || m == 0) {
        return;
    }
    double *mu = mp_xmalloc(m * sizeof(double));
    double *var = mp_xmalloc(m * sizeof(double));
    mp_gp_predict(&r->gp, z, m, mu, var);
    for (size_t i = 0; i < m; i++) {
        out[i] += mu[i] + beta * sqrt(var[i]);
    }
    free(mu);
    free(var);
}
