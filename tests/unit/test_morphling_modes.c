/* SPDX-License-Identifier: Apache-2.0 */
/* The `morphling` optimizer on a service unlike its training set: synthetic surfaces with two
 * modes, where every training service does best on GPU "A" at large batches (mode A) and the
 * target does best on GPU "B" at a smaller batch (mode B). Once the region the prior favours is
 * spent, the search must look where this service departs from the prior (the residual model,
 * docs/internals/meta.md) and reach mode B's optimum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta.h"
#include "optimizer/morphling_int.h"
#include "optimizer/optimizer.h"
#include "optlib.h"

#define N_TRAIN 7
#define BUDGET  30 /* of the 84 configurations */

static char model_path[64];

/* batch {1, 2, 4, ..., 64} x cpus 1..4 x gpu {A, B, C}: 84 configurations. */
static void family_space(struct mp_space *s)
{
    static const double batch[] = {1, 2, 4, 8, 16, 32, 64};
    struct mp_param p = {0};
    p.name = mp_xstrdup("batch");
    p.type = MP_PARAM_DISCRETE;
    p.values = mp_xreallocarray(NULL, 7, sizeof(double));
    memcpy(p.values, batch, sizeof(batch));
    p.n_values = 7;
    mp_space_add(s, &p);
    memset(&p, 0, sizeof(p));
    p.name = mp_xstrdup("cpus");
    p.type = MP_PARAM_INT;
    p.min = 1;
    p.max = 4;
    p.step = 1;
    mp_space_add(s, &p);
    memset(&p, 0, sizeof(p));
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, 3, sizeof(char *));
    p.choices[0] = mp_xstrdup("A");
    p.choices[1] = mp_xstrdup("B");
    p.choices[2] = mp_xstrdup("C");
    p.n_choices = 3;
    mp_space_add(s, &p);
}

/* One service: per GPU (A, B, C) its speed and the log2 of its best batch size. */
struct service {
    double speed[3], peak[3];
};

/* Throughput per cost of x = (batch, cpus, gpu index): a GPU-specific batch sweet spot, cores
 * that help up to 3. */
static double mode_value(const struct service *sv, const double *x)
{
    size_t g = (size_t)x[2];
    double lb = log2(x[0]) - sv->peak[g], cpus = x[1];
    return sv->speed[g] * exp(-0.5 * lb * lb / 2.25) * cpus / (cpus + 1.5) / (1 + 0.2 * cpus);
}

/* Training service k of N_TRAIN: mode A, GPU B always well behind (30 to 78 % of A). */
static struct service train_service(size_t k)
{
    double t = (double)k / (N_TRAIN - 1);
    struct service sv = {{1.0, 0.3 + 0.48 * t, 0.5}, {5 + t, 5 + t, 5}};
    return sv;
}

/* The target: GPU B 25 % faster than A, at its best with batches of 16. */
static const struct service target = {{1.0, 1.25, 0.5}, {6, 4, 5}};

static int train_modes_model(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    uint64_t n = 0;
    mp_space_count(&s, &n);
    double *x = mp_xcalloc((size_t)n * s.n, sizeof(double));
    double *y = mp_xcalloc((size_t)n, sizeof(double));
    int rc = 0;
    for (size_t k = 0; k < N_TRAIN && rc == 0; k++) {
        struct service sv = train_service(k);
        for (uint64_t i = 0; i < n; i++) {
            mp_space_from_index(&s, i, x + i * s.n);
            y[i] = mode_value(&sv, x + i * s.n);
        }
        rc = mp_meta_taskset_add(&ts, "svc", &s, x, y, (size_t)n, NULL);
    }
    free(x);
    free(y);
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.hidden = 16;
    o.members = 3;
    o.iterations = 400;
    o.query = 12;
    o.support_max = 8;
    struct mp_meta_model *m = NULL;
    snprintf(model_path, sizeof(model_path), "/tmp/test_morphling_modes_%ld.model", (long)getpid());
    if (rc == 0 && (rc = mp_meta_train(&ts, &o, &m, NULL)) == 0) {
        rc = mp_meta_model_save(m, model_path, NULL);
    }
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
    return rc;
}

static int remove_model(void **state)
{
    (void)state;
    remove(model_path);
    return 0;
}

/* The target's optimum over the space, and where it is. */
static double target_optimum(const struct mp_space *s, double *where)
{
    uint64_t n = 0;
    mp_space_count(s, &n);
    double best = -INFINITY, x[3];
    for (uint64_t i = 0; i < n; i++) {
        mp_space_from_index(s, i, x);
        double v = mode_value(&target, x);
        if (v > best) {
            best = v;
            memcpy(where, x, sizeof(x));
        }
    }
    return best;
}

/* Runs a search on the target; returns the trial that reached its optimum (0: never), and the
 * GPU of the first trial in *first_gpu. */
static size_t search_target(const char *settings, uint64_t seed, double *first_gpu)
{
    struct mp_space s = {0};
    family_space(&s);
    double where[3];
    double opt = target_optimum(&s, where);
    struct mp_node *set = opt_settings(settings);
    struct mp_optimizer *o = opt_make("morphling", &s, seed, BUDGET, set, model_path);
    struct opt_run *r = opt_run_new();
    size_t found = 0;
    for (size_t i = 0; i < BUDGET && found == 0; i++) {
        const double *x = opt_suggest(o, r);
        opt_succeed(r, i, mode_value(&target, x));
        if (i == 0) {
            *first_gpu = x[2];
        }
        found = r->obs[i].score >= opt ? i + 1 : 0;
    }
    free(r);
    mp_optimizer_free(o);
    mp_doc_free(set);
    mp_space_release(&s);
    return found;
}

/* The setup is what it claims: the prior favours mode A, the target's optimum is in mode B. */
static void test_setup(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    double where[3];
    target_optimum(&s, where);
    assert_true(where[2] == 1 && where[0] == 16); /* GPU B, batch 16 */
    for (size_t k = 0; k < N_TRAIN; k++) {
        struct service sv = train_service(k);
        double a[3] = {64, 3, 0}, b[3] = {16, 3, 1};
        assert_true(mode_value(&sv, a) > 1.2 * mode_value(&sv, b));
    }
    mp_space_release(&s);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double gpu = -1;
        search_target(NULL, seed, &gpu);
        if (gpu != 0) {
            fail_msg("seed %llu: the first trial is on GPU %g, not the prior's A",
                     (unsigned long long)seed, gpu);
        }
    }
}

/* Every search reaches mode B's optimum within the budget. */
static void test_reaches_other_mode(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double gpu;
        size_t found = search_target(NULL, seed, &gpu);
        if (found == 0) {
            fail_msg("seed %llu: mode B's optimum not reached in %d trials",
                     (unsigned long long)seed, BUDGET);
        }
        print_message("seed %llu: optimum at trial %zu\n", (unsigned long long)seed, found);
    }
}

/* The residual model: zero where nothing is known but the data, the observed departures where
 * they were measured, and a spread that grows away from them. */
static void test_residual_model(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_resid r;
    mp_resid_init(&r, &s);
    double x[4 * 3] = {64, 3, 0, 32, 3, 0, 64, 2, 0, 16, 3, 1};
    double res[4] = {0.0, 0.01, -0.01, 0.4}; /* GPU B does far better than predicted */
    struct mp_rng rng;
    mp_rng_init(&rng, 1);
    assert_int_equal(mp_resid_fit(&r, x, res, 4, &rng, NULL), 0);
    assert_true(r.ready);
    double z[3 * 3], near_b[3] = {8, 3, 1}, far_a[3] = {1, 1, 0}, on_a[3] = {64, 3, 0};
    mp_resid_inputs(&s, near_b, z);
    mp_resid_inputs(&s, far_a, z + 3);
    mp_resid_inputs(&s, on_a, z + 6);
    double mean[3] = {0}, ucb[3] = {0};
    mp_resid_add(&r, z, 3, 0, mean);
    mp_resid_add(&r, z, 3, 2, ucb);
    assert_true(mean[0] > mean[2] + 0.1); /* B's departure carries over to B's neighbours */
    assert_true(ucb[1] - mean[1] > ucb[2] - mean[2]); /* more spread far from the data */
    /* Nothing to model: constant residuals, or a single point. */
    double flat[4] = {0.1, 0.1, 0.1, 0.1};
    assert_int_equal(mp_resid_fit(&r, x, flat, 4, &rng, NULL), 0);
    assert_false(r.ready);
    double none[3] = {0};
    mp_resid_add(&r, z, 3, 2, none);
    assert_true(none[0] == 0 && none[1] == 0 && none[2] == 0);
    mp_resid_release(&r);
    mp_space_release(&s);
}

/* A long history: the model conditions on MP_RESID_MAX_POINTS trials spread over it (the last
 * one included), not on every trial. It kept all of them: 1,000 trials cost a 1000 x 1000
 * Cholesky per step of the hyper-parameter fit (2.4 s per suggestion at 600 trials, O(n^3)). */
static void test_residual_model_bounded(void **state)
{
    (void)state;
    enum { N = 1000 };
    static const double batch[] = {1, 2, 4, 8, 16, 32, 64};
    struct mp_space s = {0};
    family_space(&s);
    struct mp_resid r;
    mp_resid_init(&r, &s);
    double *x = mp_xmalloc(N * 3 * sizeof(double)), *res = mp_xmalloc(N * sizeof(double));
    for (size_t i = 0; i < N; i++) {
        x[3 * i] = batch[i % 7];
        x[3 * i + 1] = (double)(1 + (i / 7) % 4);
        x[3 * i + 2] = (double)((i / 28) % 3);
        res[i] = x[3 * i + 2] == 1 ? 0.4 : 0.01 * (double)(i % 5);
    }
    struct mp_rng rng;
    mp_rng_init(&rng, 1);
    assert_int_equal(mp_resid_fit(&r, x, res, N, &rng, NULL), 0);
    assert_true(r.ready);
    if (r.gp.n != MP_RESID_MAX_POINTS) {
        fail_msg("the residual model conditions on %zu of %d trials, expected %d", r.gp.n, N,
                 MP_RESID_MAX_POINTS);
    }
    double z[3], last[3];
    mp_resid_inputs(&s, x + 3 * (N - 1), last);
    memcpy(z, r.gp.x + 3 * (r.gp.n - 1), sizeof(z));
    assert_memory_equal(z, last, sizeof(z));
    /* Still a model of the departures: GPU B came out 0.4 better everywhere. */
    double on_b[3] = {8, 2, 1}, on_a[3] = {8, 2, 0}, zz[6], mean[2] = {0};
    mp_resid_inputs(&s, on_b, zz);
    mp_resid_inputs(&s, on_a, zz + 3);
    mp_resid_add(&r, zz, 2, 0, mean);
    assert_true(mean[0] > mean[1] + 0.2);
    free(x);
    free(res);
    mp_resid_release(&r);
    mp_space_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_setup),
        cmocka_unit_test(test_reaches_other_mode),
        cmocka_unit_test(test_residual_model),
        cmocka_unit_test(test_residual_model_bounded),
    };
    return cmocka_run_group_tests(tests, train_modes_model, remove_model);
}
