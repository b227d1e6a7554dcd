/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the `morphling` back end: the residual model of its exploration
 * (docs/internals/meta.md, "Where the service differs"). A Gaussian process over the search
 * space fitted to what the adapted meta-model gets wrong at the measured trials: its mean says
 * where this service departs from what the training services taught, its spread where the
 * trials have not looked yet, both in the units of those departures.
 *
 * Ownership: a struct mp_resid borrows its space and owns its model. Not thread-safe. */
#ifndef MP_MORPHLING_INT_H
#define MP_MORPHLING_INT_H

#include "gp/gp.h"
#include "space/space.h"

/* The model conditions on at most this many trials (an even spread over the history) and fits
 * its hyper-parameters on at most MP_RESID_FIT_POINTS of them, as `bo` bounds its own model: the
 * fit costs O(n^3) per step and the prediction O(n^2) per candidate. */
#define MP_RESID_MAX_POINTS 400
#define MP_RESID_FIT_POINTS 64

struct mp_resid {
    const struct mp_space *space;
    struct mp_gp gp;
    unsigned char *cat; /* per parameter: 1 = categorical */
    bool ready;         /* fitted and conditioned */
};

void mp_resid_init(struct mp_resid *r, const struct mp_space *space);
void mp_resid_release(struct mp_resid *r);
/* The model's inputs of configuration x (natural values): per parameter its position in [0, 1]
 * (mp_space_encode), or its choice index when categorical. space->n values. */
void mp_resid_inputs(const struct mp_space *space, const double *x, double *z);
/* Fits the model to n configurations (natural values, n x space->n) and their residuals
 * (observed minus predicted, any units); of more than MP_RESID_MAX_POINTS, that many spread
 * evenly over them, the last included. Fewer than 2 points, or residuals that do not vary, leave
 * it not ready and return 0; an error of the fit returns its code (not ready). */
int mp_resid_fit(struct mp_resid *r, const double *x, const double *res, size_t n,
                 struct mp_rng *rng, struct mp_error *err) MP_WUR;
/* Adds mean + beta * sd of the fitted model at m inputs (z: m x space->n, mp_resid_inputs) to
 * out; adds nothing when the model is not ready. */
void mp_resid_add(const struct mp_resid *r, const double *z, size_t m, double beta, double *out);

#endif
