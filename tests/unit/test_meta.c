/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/meta's learning: network and meta-gradients against finite differences,
 * adaptation on a held-out service, deterministic training. The model file is tested in
 * test_meta_file.c, task sets and parameter alignment in test_meta_tasks.c. Surfaces are
 * synthetic (tests/unit/meta_family.h). */
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
#include "meta_family.h"

static void random_vec(struct mp_rng *rng, double *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) {
        v[i] = scale * (2 * mp_rng_uniform(rng) - 1);
    }
}

static double rel_err(double a, double b)
{
    return fabs(a - b) / fmax(1e-6, fmax(fabs(a), fabs(b)));
}

static void test_net_gradient(void **state)
{
    (void)state;
    struct mp_net net = {3, 5};
    size_t p = mp_net_size(&net);
    assert_int_equal(p, 5 * 3 + 5 + 5 * 5 + 5 + 5 + 1);
    struct mp_rng rng;
    mp_rng_init(&rng, 7);
    double *theta = mp_xmalloc(p * sizeof(double));
    double *g = mp_xcalloc(p, sizeof(double));
    double *g2 = mp_xcalloc(p, sizeof(double));
    double in[4 * 3], y[4], w[4] = {1, 2, 0.5, 1};
    random_vec(&rng, theta, p, 0.8);
    random_vec(&rng, in, 12, 1);
    random_vec(&rng, y, 4, 1);
    double loss = mp_net_loss_grad(&net, theta, in, y, w, 4, g);
    assert_true(loss > 0);
    for (size_t i = 0; i < p; i++) {
        const double h = 1e-6;
        double keep = theta[i];
        theta[i] = keep + h;
        double lp = mp_net_loss_grad(&net, theta, in, y, w, 4, NULL);
        theta[i] = keep - h;
        double lm = mp_net_loss_grad(&net, theta, in, y, w, 4, NULL);
        theta[i] = keep;
        double fd = (lp - lm) / (2 * h);
        if (rel_err(fd, g[i]) > 1e-5 && fabs(fd - g[i]) > 1e-9) {
            fail_msg("parameter %zu: backprop %.10g, finite difference %.10g", i, g[i], fd);
        }
    }
    /* Gradients accumulate into grad and the output matches the loss. */
    mp_net_loss_grad(&net, theta, in, y, w, 4, g2);
    mp_net_loss_grad(&net, theta, in, y, w, 4, g2);
    for (size_t i = 0; i < p; i++) {
        assert_true(fabs(g2[i] - 2 * g[i]) < 1e-12);
    }
    free(theta);
    free(g);
    free(g2);
}

/* Query loss after the inner loop, as a function of the initial weights. */
static double adapted_loss(const struct mp_net *net, const double *theta, const double *s_in,
                           const double *s_y, size_t ns, const double *q_in, const double *q_y,
                           size_t nq, double lr, unsigned steps)
{
    size_t p = mp_net_size(net);
    double *t = mp_xmalloc(p * sizeof(double));
    memcpy(t, theta, p * sizeof(double));
    mp_net_adapt(net, t, s_in, s_y, NULL, ns, lr, steps);
    double l = mp_net_loss_grad(net, t, q_in, q_y, NULL, nq, NULL);
    free(t);
    return l;
}

static void test_meta_gradients(void **state)
{
    (void)state;
    struct mp_net net = {2, 4};
    size_t p = mp_net_size(&net);
    struct mp_rng rng;
    mp_rng_init(&rng, 11);
    double *theta = mp_xmalloc(p * sizeof(double));
    double *g = mp_xcalloc(p, sizeof(double));
    double s_in[3 * 2], s_y[3], q_in[5 * 2], q_y[5];
    random_vec(&rng, theta, p, 0.7);
    random_vec(&rng, s_in, 6, 1);
    random_vec(&rng, s_y, 3, 1);
    random_vec(&rng, q_in, 10, 1);
    random_vec(&rng, q_y, 5, 1);
    const double lr = 0.3;
    const unsigned steps = 3;
    /* Second-order MAML: the exact derivative of the adapted query loss. */
    double loss =
        mp_meta_task_grad(&net, MP_META_MAML, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps, g);
    double want = adapted_loss(&net, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps);
    assert_true(fabs(loss - want) < 1e-12);
    for (size_t i = 0; i < p; i++) {
        const double h = 1e-5;
        double keep = theta[i];
        theta[i] = keep + h;
        double lp = adapted_loss(&net, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps);
        theta[i] = keep - h;
        double lm = adapted_loss(&net, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps);
        theta[i] = keep;
        double fd = (lp - lm) / (2 * h);
        if (rel_err(fd, g[i]) > 1e-4 && fabs(fd - g[i]) > 1e-7) {
            fail_msg("MAML meta-gradient %zu: %.10g, finite difference %.10g", i, g[i], fd);
        }
    }
    /* First-order MAML: the query gradient at the adapted weights. */
    double *adapted = mp_xmalloc(p * sizeof(double));
    double *gq = mp_xcalloc(p, sizeof(double));
    memcpy(adapted, theta, p * sizeof(double));
    mp_net_adapt(&net, adapted, s_in, s_y, NULL, 3, lr, steps);
    mp_net_loss_grad(&net, adapted, q_in, q_y, NULL, 5, gq);
    memset(g, 0, p * sizeof(double));
    mp_meta_task_grad(&net, MP_META_FOMAML, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps, g);
    for (size_t i = 0; i < p; i++) {
        assert_true(fabs(g[i] - gq[i]) < 1e-12);
    }
    /* Reptile: the displacement of the inner loop per unit of step. */
    memset(g, 0, p * sizeof(double));
    mp_meta_task_grad(&net, MP_META_REPTILE, theta, s_in, s_y, 3, q_in, q_y, 5, lr, steps, g);
    for (size_t i = 0; i < p; i++) {
        double d = (theta[i] - adapted[i]) / (lr * steps);
        if (fabs(g[i] - d) > 1e-12) {
            fail_msg("Reptile direction %zu: %.10g, expected %.10g", i, g[i], d);
        }
    }
    free(adapted);
    free(gq);
    free(theta);
    free(g);
}

static void test_adaptation_helps(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 6);
    assert_int_equal(ts.n_tasks, 6);
    assert_int_equal(ts.n_features, 3);
    struct mp_meta_model *m = train_small(&ts, 3, MP_META_REPTILE);
    assert_int_equal(m->net.n_in, 5);
    assert_true(m->features[0].log_scale);
    assert_false(m->features[1].log_scale);
    /* Held-out service t = 0.93 (far from the average service), normalised like at search
     * time. */
    double *x, *y;
    size_t n = family_table(&s, 0.93, &x, &y);
    double ymax = 0;
    for (size_t i = 0; i < n; i++) {
        ymax = fmax(ymax, y[i]);
    }
    struct mp_meta_binding *b = NULL;
    assert_int_equal(mp_meta_bind(m, &s, &b, NULL), 0);
    double *in = mp_xmalloc(n * m->net.n_in * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        y[i] /= ymax;
        mp_meta_binding_encode(b, x + i * s.n, in + i * m->net.n_in);
    }
    /* Adapt member 0 on 10 spread-out points; judge on the whole surface. */
    size_t picks[10] = {5, 12, 20, 27, 33, 47, 55, 61, 70, 80};
    double sin_[10 * 5], sy[10];
    for (size_t k = 0; k < 10; k++) {
        memcpy(sin_ + k * 5, in + picks[k] * 5, 5 * sizeof(double));
        sy[k] = y[picks[k]];
    }
    size_t p = mp_net_size(&m->net);
    double *theta = mp_xmalloc(p * sizeof(double));
    memcpy(theta, m->theta, p * sizeof(double));
    double before = mp_net_loss_grad(&m->net, theta, in, y, NULL, n, NULL);
    mp_net_adapt(&m->net, theta, sin_, sy, NULL, 10, m->adapt_lr, m->adapt_steps);
    double after = mp_net_loss_grad(&m->net, theta, in, y, NULL, n, NULL);
    if (!(after < before)) {
        fail_msg("held-out loss did not drop: %.6g before, %.6g after adaptation", before, after);
    }
    /* The meta-trained prior already knows the family better than a fresh network. */
    struct mp_rng rng;
    mp_rng_init(&rng, 99);
    mp_net_init(&m->net, &rng, theta);
    double fresh = mp_net_loss_grad(&m->net, theta, in, y, NULL, n, NULL);
    if (!(before < fresh)) {
        fail_msg("meta-trained loss %.6g not below a fresh network's %.6g", before, fresh);
    }
    double mean = mp_meta_prior_mean(b, x);
    assert_true(isfinite(mean));
    free(theta);
    free(in);
    free(x);
    free(y);
    mp_meta_binding_free(b);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

static void test_same_seed_same_bytes(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 4);
    struct mp_buf a = MP_BUF_INIT, b = MP_BUF_INIT, c = MP_BUF_INIT;
    for (int method = MP_META_REPTILE; method <= MP_META_MAML; method++) {
        struct mp_meta_model *m1 = train_small(&ts, 5, (enum mp_meta_method)method);
        struct mp_meta_model *m2 = train_small(&ts, 5, (enum mp_meta_method)method);
        struct mp_meta_model *m3 = train_small(&ts, 6, (enum mp_meta_method)method);
        mp_buf_reset(&a);
        mp_buf_reset(&b);
        mp_buf_reset(&c);
        mp_meta_model_encode(m1, &a);
        mp_meta_model_encode(m2, &b);
        mp_meta_model_encode(m3, &c);
        assert_int_equal(a.len, b.len);
        if (memcmp(a.data, b.data, a.len) != 0) {
            fail_msg("%s: same seed gave different model bytes",
                     mp_meta_method_name((enum mp_meta_method)method));
        }
        assert_int_equal(a.len, c.len);
        assert_true(memcmp(a.data, c.data, a.len) != 0);
        assert_true(isfinite(m1->train_loss) && m1->train_loss > 0);
        mp_meta_model_free(m1);
        mp_meta_model_free(m2);
        mp_meta_model_free(m3);
    }
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_buf_release(&c);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Adaptation at a rate too large for the data (the search allows adapt_lr up to 10 and 1000
 * steps) overflowed the weights to inf and NaN, every score of the search was NaN, and it
 * suggested configurations in enumeration order; it now keeps the weights it started from. */
static void test_adaptation_diverges(void **state)
{
    (void)state;
    struct mp_net net = {2, 16};
    size_t p = mp_net_size(&net);
    struct mp_rng rng;
    mp_rng_init(&rng, 5);
    double *theta = mp_xmalloc(p * sizeof(double)), *start = mp_xmalloc(p * sizeof(double));
    mp_net_init(&net, &rng, theta);
    memcpy(start, theta, p * sizeof(double));
    static const double in[] = {-1, -1, -1, 1, 1, -1, 1, 1}, y[] = {1, -1, -1, 1};
    mp_net_adapt(&net, theta, in, y, NULL, 4, 1e6, 50);
    for (size_t i = 0; i < p; i++) {
        if (theta[i] != start[i]) {
            fail_msg("weight %zu: %.17g after diverging, %.17g before", i, theta[i], start[i]);
        }
    }
    free(theta);
    free(start);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_gradient),         cmocka_unit_test(test_meta_gradients),
        cmocka_unit_test(test_adaptation_helps),     cmocka_unit_test(test_adaptation_diverges),
        cmocka_unit_test(test_same_seed_same_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
