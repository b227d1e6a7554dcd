/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/gp: Cholesky and solves on known matrices, jitter, the Matérn kernel, the
 * posterior against hand-computed values, EI against its closed form, and fitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gp/gp.h"

#define CHECK_CLOSE(got, want, tol)                                                                \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (tol))) {                                                           \
            fail_msg("%s = %.17g, expected %.17g (tol %g)", #got, g_, w_, (double)(tol));          \
        }                                                                                          \
    } while (0)

/* A = L L^T with L = [[2,0,0],[6,1,0],[-8,5,3]] (a classic textbook example). */
static const double spd3[9] = {4, 12, -16, 12, 37, -43, -16, -43, 98};

static void test_cholesky_known(void **state)
{
    (void)state;
    static const double want[9] = {2, 0, 0, 6, 1, 0, -8, 5, 3};
    double a[9];
    double jitter = -1;
    memcpy(a, spd3, sizeof(a));
    assert_int_equal(mp_gp_cholesky(a, 3, &jitter), 0);
    CHECK_CLOSE(jitter, 0, 0);
    for (int i = 0; i < 9; i++) {
        CHECK_CLOSE(a[i], want[i], 1e-12);
    }
}

static void test_solves_known(void **state)
{
    (void)state;
    double l[9];
    memcpy(l, spd3, sizeof(l));
    assert_int_equal(mp_gp_cholesky(l, 3, NULL), 0);
    /* Two right-hand sides as rows: A x = b with x1 = (1, 2, 3), x2 = (-1, 0, 0.5). */
    static const double x1[3] = {1, 2, 3}, x2[3] = {-1, 0, 0.5};
    double b[6];
    for (int i = 0; i < 3; i++) {
        b[i] = spd3[i * 3] * x1[0] + spd3[i * 3 + 1] * x1[1] + spd3[i * 3 + 2] * x1[2];
        b[3 + i] = spd3[i * 3] * x2[0] + spd3[i * 3 + 1] * x2[1] + spd3[i * 3 + 2] * x2[2];
    }
    mp_gp_cho_solve(l, 3, b, 2);
    for (int i = 0; i < 3; i++) {
        CHECK_CLOSE(b[i], x1[i], 1e-10);
        CHECK_CLOSE(b[3 + i], x2[i], 1e-10);
    }
    /* L v = (2, 7, 0): v = (1, 1, 1) since rows of L sum to 2, 7, 0. */
    double v[3] = {2, 7, 0};
    mp_gp_tri_solve(l, 3, v, 1);
    for (int i = 0; i < 3; i++) {
        CHECK_CLOSE(v[i], 1, 1e-12);
    }
}

static void test_cholesky_jitter(void **state)
{
    (void)state;
    /* Kernel of three inputs where two coincide, without noise: singular. */
    double k[9] = {1, 1, 0.5, 1, 1, 0.5, 0.5, 0.5, 1};
    double orig[9];
    memcpy(orig, k, sizeof(k));
    double jitter = 0;
    assert_int_equal(mp_gp_cholesky(k, 3, &jitter), 0);
    if (!(jitter > 0 && jitter <= 1e-2)) {
        fail_msg("jitter %g, expected in (0, 1e-2]", jitter);
    }
    /* L L^T reproduces the matrix plus the jitter on the diagonal. */
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int t = 0; t < 3; t++) {
                s += k[i * 3 + t] * k[j * 3 + t];
            }
            CHECK_CLOSE(s, orig[i * 3 + j] + (i == j ? jitter : 0), 1e-9);
        }
    }
    /* A negative definite matrix cannot be rescued. */
    double neg[4] = {-1, 0, 0, -1};
    assert_int_equal(mp_gp_cholesky(neg, 2, &jitter), MP_ERUNTIME);
    /* Nor one with a NaN (hyper-parameters gone wrong): an error, the matrix as it was. */
    double bad[4] = {1, NAN, NAN, 1};
    assert_int_equal(mp_gp_cholesky(bad, 2, &jitter), MP_ERUNTIME);
    assert_true(bad[0] == 1 && isnan(bad[1]) && bad[3] == 1);
    /* An order whose n * n overflows is refused before the matrix is read (n * n wrapped to
     * 0 and the diagonal was read far past the copy). */
    double one = 1;
    assert_int_equal(mp_gp_cholesky(&one, (size_t)1 << 32, NULL), MP_ETOOBIG);
}

static double matern(double r)
{
    return (1 + sqrt(5.0) * r + 5.0 * r * r / 3.0) * exp(-sqrt(5.0) * r);
}

static void test_kernel(void **state)
{
    (void)state;
    CHECK_CLOSE(mp_gp_matern52(0), 1, 0);
    CHECK_CLOSE(mp_gp_matern52(1), 0.52399410883182, 1e-12);
    struct mp_gp gp;
    static const unsigned char cat[2] = {0, 1};
    mp_gp_init(&gp, 2, cat);
    gp.log_ls[0] = log(0.5);
    gp.log_ls[1] = log(2.0);
    gp.log_sf2 = log(3.0);
    /* Continuous distance 0.25 / 0.5 = 0.5; categorical mismatch adds 2 / 2^2 = 0.5 to r^2. */
    double a[2] = {0.25, 1}, b[2] = {0.5, 1}, c[2] = {0.5, 2};
    CHECK_CLOSE(mp_gp_kernel(&gp, a, b), 3 * matern(0.5), 1e-12);
    CHECK_CLOSE(mp_gp_kernel(&gp, a, c), 3 * matern(sqrt(0.25 + 0.5)), 1e-12);
    CHECK_CLOSE(mp_gp_kernel(&gp, a, a), 3, 1e-12);
    mp_gp_release(&gp);
}

/* Two points x = 0 and x = 1 with y = (1, 0), length scale 1, unit signal, noise 0.01: the
 * posterior at x* follows from the 2x2 inverse in closed form. */
static void test_posterior_hand(void **state)
{
    (void)state;
    struct mp_gp gp;
    mp_gp_init(&gp, 1, NULL);
    gp.log_ls[0] = 0;
    gp.log_sf2 = 0;
    gp.log_sn2 = log(0.01);
    static const double x[2] = {0, 1}, y[2] = {1, 0};
    assert_int_equal(mp_gp_condition(&gp, x, y, 2, NULL), 0);
    double c = matern(1), det = 1.01 * 1.01 - c * c;
    static const double xs[3] = {0.25, 0.0, 3.0};
    double mean[3], var[3];
    mp_gp_predict(&gp, xs, 3, mean, var);
    for (int i = 0; i < 3; i++) {
        double ka = matern(fabs(xs[i])), kb = matern(fabs(xs[i] - 1));
        double want_mean = (1.01 * ka - c * kb) / det;
        double want_var = 1 - (1.01 * (ka * ka + kb * kb) - 2 * c * ka * kb) / det;
        CHECK_CLOSE(mean[i], want_mean, 1e-10);
        CHECK_CLOSE(var[i], want_var, 1e-10);
    }
    /* Log marginal likelihood: -1/2 y^T K^-1 y - 1/2 log det K - log 2 pi. */
    double want_lml = -0.5 * (1.01 / det) - 0.5 * log(det) - log(2 * M_PI);
    CHECK_CLOSE(mp_gp_lml(&gp), want_lml, 1e-10);
    /* With normalisation the same model speaks original units. */
    gp.y_mean = 10;
    gp.y_scale = 2;
    static const double y2[2] = {12, 10};
    assert_int_equal(mp_gp_condition(&gp, x, y2, 2, NULL), 0);
    mp_gp_predict(&gp, xs, 1, mean, var);
    double ka = matern(0.25), kb = matern(0.75);
    CHECK_CLOSE(mean[0], 10 + 2 * (1.01 * ka - c * kb) / det, 1e-10);
    CHECK_CLOSE(var[0], 4 * (1 - (1.01 * (ka * ka + kb * kb) - 2 * c * ka * kb) / det), 1e-10);
    mp_gp_release(&gp);
}

static void test_prior_only(void **state)
{
    (void)state;
    struct mp_gp gp;
    mp_gp_init(&gp, 1, NULL);
    gp.log_sf2 = log(2.0);
    assert_int_equal(mp_gp_condition(&gp, NULL, NULL, 0, NULL), 0);
    double xs = 0.3, mean, var;
    mp_gp_predict(&gp, &xs, 1, &mean, &var);
    CHECK_CLOSE(mean, 0, 0);
    CHECK_CLOSE(var, 2, 1e-12);
    mp_gp_release(&gp);
}

static void test_normal(void **state)
{
    (void)state;
    CHECK_CLOSE(mp_norm_cdf(0), 0.5, 1e-15);
    CHECK_CLOSE(mp_norm_cdf(1.96), 0.97500210485177952, 1e-14);
    CHECK_CLOSE(mp_norm_pdf(0), 0.39894228040143268, 1e-15);
    /* Above ~3 the cdf itself has lost the digits (1 - tiny), so stop there. */
    for (double z = -8; z <= 3; z += 0.5) {
        CHECK_CLOSE(mp_norm_ppf(mp_norm_cdf(z)), z, 1e-8 * (1 + fabs(z)));
    }
    /* The log cdf stays finite where the cdf underflows: log Phi(-40) = -804.608... */
    CHECK_CLOSE(mp_norm_logcdf(-40), -804.60844201, 1e-6);
    CHECK_CLOSE(mp_norm_logcdf(-3), log(mp_norm_cdf(-3)), 1e-12);
}

static void test_ei_closed_form(void **state)
{
    (void)state;
    /* mu 1, sigma 2, best 0.5: z = 0.25, EI = 0.5 Phi(0.25) + 2 phi(0.25). */
    double want = 0.5 * 0.59870632568292381 + 2 * 0.38666811680284924;
    CHECK_CLOSE(mp_gp_ei(1, 2, 0.5, 0), want, 1e-12);
    CHECK_CLOSE(mp_gp_log_ei(1, 2, 0.5, 0), log(want), 1e-12);
    /* xi shifts the threshold. */
    CHECK_CLOSE(mp_gp_ei(1, 2, 0.4, 0.1), want, 1e-12);
    /* No uncertainty: the plain improvement. */
    CHECK_CLOSE(mp_gp_ei(3, 0, 1, 0), 2, 0);
    CHECK_CLOSE(mp_gp_ei(0, 0, 1, 0), 0, 0);
    assert_true(isinf(mp_gp_log_ei(0, 0, 1, 0)));
    /* Far in the lower tail the log form agrees with the direct one while that is accurate,
     * and stays finite and ordered where it underflows. */
    double z = -12, direct = z * mp_norm_cdf(z) + mp_norm_pdf(z);
    CHECK_CLOSE(mp_gp_log_ei(z, 1, 0, 0), log(direct), 1e-6);
    double far1 = mp_gp_log_ei(-40, 1, 0, 0), far2 = mp_gp_log_ei(-60, 1, 0, 0);
    assert_true(isfinite(far1) && isfinite(far2));
    if (!(far1 > far2 && far1 < log(direct))) {
        fail_msg("log EI not decreasing: %g, %g, %g", log(direct), far1, far2);
    }
    CHECK_CLOSE(mp_gp_ucb(1, 2, 1.5), 4, 0);
}

static double fn(double x0, double x1)
{
    return sin(6 * x0) + 0.5 * x1;
}

/* n random points in the unit square (seed 7) into x (n x 2) and 100 + 10 fn there into y. */
static void sample_fn(double *x, double *y, int n)
{
    struct mp_rng rng;
    mp_rng_init(&rng, 7);
    for (int i = 0; i < n; i++) {
        x[2 * i] = mp_rng_uniform(&rng);
        x[2 * i + 1] = mp_rng_uniform(&rng);
        y[i] = 100 + 10 * fn(x[2 * i], x[2 * i + 1]);
    }
}

static void test_fit(void **state)
{
    (void)state;
    enum { N = 20 };
    double x[N * 2], y[N];
    sample_fn(x, y, N);
    struct mp_gp a, b;
    mp_gp_init(&a, 2, NULL);
    mp_gp_init(&b, 2, NULL);
    /* The default hyper-parameters as a reference. */
    b.y_mean = 100;
    b.y_scale = 10;
    assert_int_equal(mp_gp_condition(&b, x, y, N, NULL), 0);
    double lml0 = mp_gp_lml(&b);
    struct mp_rng r1, r2;
    mp_rng_init(&r1, 3);
    mp_rng_init(&r2, 3);
    assert_int_equal(mp_gp_fit(&a, x, y, N, NULL, &r1, NULL), 0);
    if (!(mp_gp_lml(&a) > lml0)) {
        fail_msg("fit did not improve the marginal likelihood: %g <= %g", mp_gp_lml(&a), lml0);
    }
    /* The first input varies faster than the second: a shorter length scale. */
    if (!(a.log_ls[0] < a.log_ls[1])) {
        fail_msg("length scales %g, %g: expected the first shorter", exp(a.log_ls[0]),
                 exp(a.log_ls[1]));
    }
    /* Predictions at a new point are close to the truth. */
    double xs[2] = {0.4, 0.6}, mean, var;
    mp_gp_predict(&a, xs, 1, &mean, &var);
    CHECK_CLOSE(mean, 100 + 10 * fn(0.4, 0.6), 1.5);
    /* Same seed, same fit. */
    mp_gp_release(&b);
    mp_gp_init(&b, 2, NULL);
    assert_int_equal(mp_gp_fit(&b, x, y, N, NULL, &r2, NULL), 0);
    for (int k = 0; k < 2; k++) {
        CHECK_CLOSE(b.log_ls[k], a.log_ls[k], 0);
    }
    CHECK_CLOSE(b.log_sn2, a.log_sn2, 0);
    mp_gp_release(&a);
    mp_gp_release(&b);
}

/* The model does not depend on the objective's units: the same data scaled by 1e-15 (a cost in
 * dollars per request) or by 1e200 (a service reporting nonsense) give the same length scales and
 * the same predictions, scaled. The variance of 1e200-sized values overflows and tiny ones fell
 * under an absolute variance floor of 1e-24, which left them unstandardised. */
static void test_fit_scale_free(void **state)
{
    (void)state;
    enum { N = 20 };
    static const double scales[] = {1e-15, 1e-150, 1e200, -1e300};
    double x[N * 2], y[N], ys[N];
    struct mp_rng rng;
    sample_fn(x, y, N);
    struct mp_gp ref;
    mp_gp_init(&ref, 2, NULL);
    mp_rng_init(&rng, 3);
    assert_int_equal(mp_gp_fit(&ref, x, y, N, NULL, &rng, NULL), 0);
    double xs[2] = {0.4, 0.6}, want_mean, want_var;
    mp_gp_predict(&ref, xs, 1, &want_mean, &want_var);
    for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
        double c = scales[s];
        for (int i = 0; i < N; i++) {
            ys[i] = c * y[i];
        }
        struct mp_gp gp;
        mp_gp_init(&gp, 2, NULL);
        mp_rng_init(&rng, 3);
        assert_int_equal(mp_gp_fit(&gp, x, ys, N, NULL, &rng, NULL), 0);
        double mean, var;
        mp_gp_predict(&gp, xs, 1, &mean, &var);
        /* A variance in units of 1e400 is out of range: inf, never NaN. */
        double var_c = isfinite(c * c) ? var / (c * c) : isinf(var) ? want_var : NAN;
        if (!(fabs(mean / c - want_mean) <= 1e-6 * fabs(want_mean)) ||
            !(fabs(var_c - want_var) <= 1e-6 * want_var)) {
            fail_msg("scale %g: mean %g, var %g; expected %g, %g (scaled)", c, mean / c,
                     var / (c * c), want_mean, want_var);
        }
        for (int k = 0; k < 2; k++) {
            CHECK_CLOSE(gp.log_ls[k], ref.log_ls[k], 1e-6);
        }
        mp_gp_release(&gp);
    }
    mp_gp_release(&ref);
}

/* Hyper-parameters fit on a subset; the posterior still conditions on every point. */
static void test_fit_subset(void **state)
{
    (void)state;
    enum { N = 30 };
    double x[N], y[N];
    for (int i = 0; i < N; i++) {
        x[i] = (double)i / (N - 1);
        y[i] = sin(5 * x[i]);
    }
    struct mp_gp gp;
    mp_gp_init(&gp, 1, NULL);
    struct mp_gp_fit_opts o = MP_GP_FIT_OPTS_INIT;
    o.max_fit_points = 10;
    struct mp_rng rng;
    mp_rng_init(&rng, 1);
    assert_int_equal(mp_gp_fit(&gp, x, y, N, &o, &rng, NULL), 0);
    assert_int_equal(gp.n, N);
    double mean[N];
    mp_gp_predict(&gp, x, N, mean, NULL);
    for (int i = 0; i < N; i++) {
        CHECK_CLOSE(mean[i], y[i], 0.05);
    }
    mp_gp_release(&gp);
}

/* Duplicate inputs with different values and a tiny noise floor still condition. */
static void test_duplicates_condition(void **state)
{
    (void)state;
    struct mp_gp gp;
    mp_gp_init(&gp, 1, NULL);
    gp.log_sn2 = -INFINITY; /* no noise at all */
    static const double x[3] = {0.5, 0.5, 0.5}, y[3] = {1, 1, 1};
    assert_int_equal(mp_gp_condition(&gp, x, y, 3, NULL), 0);
    if (!(gp.jitter > 0)) {
        fail_msg("expected jitter on a singular kernel, got %g", gp.jitter);
    }
    double mean;
    double xs = 0.5;
    mp_gp_predict(&gp, &xs, 1, &mean, NULL);
    CHECK_CLOSE(mean, 1, 1e-3);
    mp_gp_release(&gp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cholesky_known),
        cmocka_unit_test(test_solves_known),
        cmocka_unit_test(test_cholesky_jitter),
        cmocka_unit_test(test_kernel),
        cmocka_unit_test(test_posterior_hand),
        cmocka_unit_test(test_prior_only),
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_ei_closed_form),
        cmocka_unit_test(test_fit),
        cmocka_unit_test(test_fit_scale_free),
        cmocka_unit_test(test_fit_subset),
        cmocka_unit_test(test_duplicates_condition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
