/* SPDX-License-Identifier: Apache-2.0 */
/* The `bo` back end's candidate search: every untried configuration of an enumerable space, or
 * samples and neighbours refined with BOBYQA; and the seeded space-filling initial design. */
#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/bo_int.h"

#define BLOCK        2048
#define DESIGN_POOL  2000
#define LOCAL_STARTS 5
#define NEIGHBOURS   40

static void pick_consider(struct bo_pick *p, const double *x, size_t d, double acq)
{
    if (!p->found || acq > p->acq) {
        memcpy(p->x, x, d * sizeof(double));
        p->acq = acq;
        p->found = true;
    }
}

unsigned char *mp_bo_tried_bitmap(const struct bo *bo, const struct mp_history *h)
{
    unsigned char *bits = mp_xcalloc(bo->count / 8 + 1, 1);
    for (size_t i = 0; i < h->n; i++) {
        uint64_t idx;
        if (mp_space_to_index(bo->base.space, h->obs[i].x, &idx) && idx < bo->count) {
            bits[idx / 8] |= (unsigned char)(1u << (idx % 8));
        }
    }
    const struct mp_optimizer_opts *o = &bo->base.opts;
    if (o->excluded) {
        double *x = mp_xmalloc(bo->base.space->n * sizeof(double));
        for (uint64_t idx = 0; idx < bo->count; idx++) {
            mp_space_from_index(bo->base.space, idx, x);
            if (o->excluded(o->excluded_ctx, x)) {
                bits[idx / 8] |= (unsigned char)(1u << (idx % 8));
            }
        }
        free(x);
    }
    return bits;
}

/* Scores every untried configuration of an enumerable space, block by block. */
void mp_bo_search_exact(const struct bo *bo, const struct bo_model *m, const unsigned char *bits,
                        struct bo_pick *pick)
{
    const struct mp_space *space = bo->base.space;
    size_t d = bo->d, dz = bo->dz;
    double *xs = mp_xmalloc(BLOCK * d * sizeof(double));
    double *zs = mp_xmalloc(BLOCK * dz * sizeof(double));
    double *acq = mp_xmalloc(BLOCK * sizeof(double));
    double *work = mp_xmalloc(2 * BLOCK * sizeof(double));
    uint64_t idx = 0;
    while (idx < bo->count) {
        size_t nb = 0;
        for (; idx < bo->count && nb < BLOCK; idx++) {
            if (bits[idx / 8] & (1u << (idx % 8))) {
                continue;
            }
            mp_space_from_index(space, idx, xs + nb * d);
            mp_bo_encode(bo, xs + nb * d, zs + nb * dz);
            nb++;
        }
        mp_bo_acquisition(bo, m, zs, nb, acq, work);
        for (size_t i = 0; i < nb; i++) {
            pick_consider(pick, xs + i * d, d, acq[i]);
        }
    }
    free(xs);
    free(zs);
    free(acq);
    free(work);
}

struct local_ctx {
    const struct bo *bo;
    const struct bo_model *m;
    double *z, *x, *work;
};

/* Local refinement objective: continuous inputs vary, categorical ones stay put. */
static double local_objective(unsigned dim, const double *v, double *grad, void *data)
{
    struct local_ctx *c = data;
    (void)grad;
    size_t k = 0;
    for (size_t i = 0; i < c->bo->d && k < dim; i++) {
        if (!c->bo->dims[i].cat) {
            c->z[c->bo->dims[i].off] = v[k++];
        }
    }
    double a;
    mp_bo_acquisition(c->bo, c->m, c->z, 1, &a, c->work);
    return isfinite(a) ? a : -1e300;
}

/* Polishes x (a configuration) by maximising the acquisition over its numeric inputs with
 * BOBYQA, then snaps the result back onto the space. */
static void refine(const struct bo *bo, const struct bo_model *m, double *x)
{
    size_t d = bo->d;
    unsigned dim = 0;
    for (size_t i = 0; i < d; i++) {
        dim += !bo->dims[i].cat;
    }
    if (dim == 0) {
        return;
    }
    double *buf = mp_xmalloc((3 * dim + bo->dz + 2) * sizeof(double));
    double *v = buf, *lo = buf + dim, *hi = buf + 2 * dim, *z = buf + 3 * dim, *w = z + bo->dz;
    struct local_ctx c = {bo, m, z, x, w};
    mp_bo_encode(bo, x, z);
    for (size_t i = 0, k = 0; i < d; i++) {
        if (!bo->dims[i].cat) {
            v[k] = z[bo->dims[i].off];
            lo[k] = 0;
            hi[k] = 1;
            k++;
        }
    }
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, dim);
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_max_objective(opt, local_objective, &c);
    nlopt_set_maxeval(opt, 60 + 10 * (int)dim);
    nlopt_set_initial_step1(opt, 0.05);
    nlopt_set_xtol_abs1(opt, 1e-4);
    double best;
    if (nlopt_optimize(opt, v, &best) > 0) {
        for (size_t i = 0, k = 0; i < d; i++) {
            if (!bo->dims[i].cat) {
                z[bo->dims[i].off] = v[k++];
            }
        }
        mp_bo_decode(bo, z, x);
    }
    nlopt_destroy(opt);
    free(buf);
}

struct scored {
    double acq;
    size_t i;
};

static int by_acq_desc(const void *a, const void *b)
{
    const struct scored *p = a, *q = b;
    if (p->acq != q->acq) {
        return p->acq > q->acq ? -1 : 1;
    }
    return p->i < q->i ? -1 : p->i > q->i;
}

/* A random neighbour of x: one or two parameters moved a little (numeric) or re-drawn
 * (categorical). */
static void neighbour(const struct bo *bo, struct mp_rng *rng, const double *x, double *z,
                      double *out)
{
    const struct mp_space *space = bo->base.space;
    memcpy(out, x, bo->d * sizeof(double));
    unsigned moves = 1 + (unsigned)mp_rng_below(rng, 2);
    for (unsigned t = 0; t < moves; t++) {
        size_t i = (size_t)mp_rng_below(rng, bo->d);
        if (bo->dims[i].cat) {
            out[i] = (double)mp_rng_below(rng, space->params[i].n_choices);
            continue;
        }
        mp_bo_encode(bo, out, z);
        z[bo->dims[i].off] += 0.15 * mp_rng_normal(rng);
        mp_bo_decode(bo, z, out);
    }
}

/* Candidates for spaces too large to enumerate: uniform samples plus neighbours of the best
 * observations, scored; the best few are refined locally. Configurations in the history are
 * skipped by key. */
void mp_bo_search_sampled(const struct bo *bo, const struct bo_model *m, const struct mp_history *h,
                          struct mp_rng *rng, const struct mp_strset *keys, struct bo_pick *pick)
{
    const struct mp_space *space = bo->base.space;
    size_t d = bo->d, dz = bo->dz, n = (size_t)bo->set.candidates + LOCAL_STARTS * NEIGHBOURS;
    double *xs = mp_xmalloc(n * d * sizeof(double));
    double *zs = mp_xmalloc(n * dz * sizeof(double));
    double *acq = mp_xmalloc(n * sizeof(double));
    double *work = mp_xmalloc(2 * n * sizeof(double));
    struct scored *order = mp_xmalloc(n * sizeof(*order));
    size_t c = 0;
    for (; c < (size_t)bo->set.candidates; c++) {
        mp_space_sample(space, rng, xs + c * d);
    }
    /* Neighbours of the best feasible observations. */
    struct scored *top = mp_xcalloc(h->n + 1, sizeof(*top));
    size_t nt = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (mp_bo_has_score(&h->obs[i]) && h->obs[i].feasible) {
            top[nt++] = (struct scored){h->obs[i].score, i};
        }
    }
    qsort(top, nt, sizeof(*top), by_acq_desc);
    for (size_t t = 0; t < nt && t < LOCAL_STARTS; t++) {
        for (size_t k = 0; k < NEIGHBOURS; k++) {
            neighbour(bo, rng, h->obs[top[t].i].x, zs, xs + c++ * d);
        }
    }
    free(top);
    for (size_t i = 0; i < c; i++) {
        mp_bo_encode(bo, xs + i * d, zs + i * dz);
    }
    mp_bo_acquisition(bo, m, zs, c, acq, work);
    for (size_t i = 0; i < c; i++) {
        order[i] = (struct scored){acq[i], i};
    }
    qsort(order, c, sizeof(*order), by_acq_desc);
    size_t refined = 0;
    double *x = mp_xmalloc(d * sizeof(double));
    for (size_t r = 0; r < c && refined < LOCAL_STARTS; r++) {
        const double *cand = xs + order[r].i * d;
        char *key = mp_space_key(space, cand);
        bool fresh = !mp_optimizer_taken(&bo->base, keys, key, cand);
        free(key);
        if (!fresh) {
            continue;
        }
        pick_consider(pick, cand, d, order[r].acq);
        memcpy(x, cand, d * sizeof(double));
        refine(bo, m, x);
        key = mp_space_key(space, x);
        fresh = !mp_optimizer_taken(&bo->base, keys, key, x);
        free(key);
        if (fresh) {
            double a;
            mp_bo_encode(bo, x, zs);
            mp_bo_acquisition(bo, m, zs, 1, &a, work);
            pick_consider(pick, x, d, a);
        }
        refined++;
    }
    free(x);
    free(xs);
    free(zs);
    free(acq);
    free(work);
    free(order);
}

/* Squared distance used by the space-filling design: encoded inputs, categorical mismatch 1. */
static double design_dist(const struct bo *bo, const double *a, const double *b)
{
    double s = 0;
    for (size_t i = 0; i < bo->d; i++) {
        size_t o = bo->dims[i].off;
        if (bo->dims[i].onehot) {
            for (size_t c = 0; c < bo->base.space->params[i].n_choices; c++) {
                s += 0.5 * (a[o + c] - b[o + c]) * (a[o + c] - b[o + c]);
            }
        } else if (bo->dims[i].cat) {
            s += a[o] != b[o] ? 1.0 : 0.0;
        } else {
            s += (a[o] - b[o]) * (a[o] - b[o]);
        }
    }
    return s;
}

/* Draws one untried configuration into x; false when none was found. */
static bool draw_untried(const struct bo *bo, struct mp_rng *rng, const unsigned char *bits,
                         const struct mp_strset *keys, double *x)
{
    const struct mp_space *space = bo->base.space;
    if (bo->enumerate) {
        uint64_t idx = mp_rng_below(rng, bo->count);
        if (bits[idx / 8] & (1u << (idx % 8))) {
            return false;
        }
        mp_space_from_index(space, idx, x);
        return true;
    }
    mp_space_sample(space, rng, x);
    char *key = mp_space_key(space, x);
    bool fresh = !mp_optimizer_taken(&bo->base, keys, key, x);
    free(key);
    return fresh;
}

/* Greedy maximin design: of DESIGN_POOL random untried configurations, the one farthest from
 * everything in the history (pending trials included), so parallel design points spread out. */
void mp_bo_design_point(const struct bo *bo, const struct mp_history *h, struct mp_rng *rng,
                        const unsigned char *bits, const struct mp_strset *keys,
                        struct bo_pick *pick)
{
    size_t d = bo->d, dz = bo->dz;
    double *zh = mp_xmalloc((h->n + 1) * dz * sizeof(double));
    double *x = mp_xmalloc(d * sizeof(double));
    double *z = mp_xmalloc(dz * sizeof(double));
    for (size_t i = 0; i < h->n; i++) {
        mp_bo_encode(bo, h->obs[i].x, zh + i * dz);
    }
    for (size_t t = 0; t < DESIGN_POOL; t++) {
        if (!draw_untried(bo, rng, bits, keys, x)) {
            continue;
        }
        mp_bo_encode(bo, x, z);
        double mind = INFINITY;
        for (size_t i = 0; i < h->n; i++) {
            mind = fmin(mind, design_dist(bo, z, zh + i * dz));
        }
        pick_consider(pick, x, d, h->n ? mind : 0);
        if (h->n == 0) {
            break;
        }
    }
    if (!pick->found && bo->enumerate) {
        for (uint64_t idx = 0; idx < bo->count; idx++) {
            if (!(bits[idx / 8] & (1u << (idx % 8)))) {
                mp_space_from_index(bo->base.space, idx, pick->x);
                pick->found = true;
                break;
            }
        }
    }
    free(zh);
    free(x);
    free(z);
}
