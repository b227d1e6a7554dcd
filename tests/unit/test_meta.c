/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/meta: network and meta-gradients against finite differences, adaptation on
 * a held-out service, deterministic training, the model file and its corruption handling, the
 * memory of training configurations, and parameter alignment by name and by role. Surfaces are
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
#include "store/store.h"

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

/* Task set of n_tasks services of the family with shapes spread over [0, 1]. */
static void family_tasks(struct mp_meta_taskset *ts, const struct mp_space *s, size_t n_tasks)
{
    for (size_t k = 0; k < n_tasks; k++) {
        double *x, *y;
        size_t n = family_table(s, (double)k / (double)(n_tasks - 1), &x, &y);
        char name[32];
        snprintf(name, sizeof(name), "service-%zu", k);
        struct mp_error err = {0};
        int rc = mp_meta_taskset_add(ts, name, s, x, y, n, &err);
        if (rc != 0) {
            fail_msg("taskset_add: %s", err.msg);
        }
        free(x);
        free(y);
    }
}

static struct mp_meta_model *train_small(const struct mp_meta_taskset *ts, uint64_t seed,
                                         enum mp_meta_method method)
{
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.seed = seed;
    o.method = method;
    o.hidden = 12;
    o.members = 2;
    o.iterations = 300;
    o.query = 12;
    o.support_max = 6;
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    if (mp_meta_train(ts, &o, &m, &err) != 0) {
        fail_msg("train: %s", err.msg);
    }
    return m;
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

static void expect_decode_error(const struct mp_buf *bytes, const char *needle)
{
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    int rc = mp_meta_model_decode(bytes->data, bytes->len, "model.bin", &m, &err);
    assert_int_equal(rc, MP_EINVALID);
    assert_null(m);
    if (!strstr(err.msg, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
    }
}

/* Rewrites the header's payload length and checksum after editing the payload. */
static void reseal(struct mp_buf *b)
{
    uint64_t plen = b->len - 32, sum = mp_hash_bytes(b->data + 32, b->len - 32);
    for (int i = 0; i < 8; i++) {
        b->data[16 + i] = (char)(unsigned char)(plen >> (8 * i));
        b->data[24 + i] = (char)(unsigned char)(sum >> (8 * i));
    }
}

static void test_file_round_trip_and_corruption(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    struct mp_meta_model *m = train_small(&ts, 9, MP_META_FOMAML);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_meta_%ld.model", (long)getpid());
    struct mp_error err = {0};
    assert_int_equal(mp_meta_model_save(m, path, &err), 0);
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_load(path, &back, &err) != 0) {
        fail_msg("load: %s", err.msg);
    }
    struct mp_buf a = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    mp_meta_model_encode(back, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_string_equal(back->features[2].choices[1], "B");
    assert_int_equal(back->method, MP_META_FOMAML);
    assert_int_equal(back->seed, 9);
    remove(path);
    struct mp_meta_model *none = NULL;
    assert_int_not_equal(mp_meta_model_load(path, &none, &err), 0);
    assert_null(none);

    struct mp_buf t = MP_BUF_INIT;
    mp_buf_add(&t, a.data, a.len);
    t.data[100] ^= 1;
    expect_decode_error(&t, "checksum");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len - 3);
    expect_decode_error(&t, "truncated");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[0] = 'X';
    expect_decode_error(&t, "not a morphling meta-model");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[8] = 4;
    expect_decode_error(&t, "version 4");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[8] = 0;
    expect_decode_error(&t, "version 0");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, 10);
    expect_decode_error(&t, "not a morphling meta-model");
    /* A well-sealed payload with impossible content: zero features. */
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    memset(t.data + 32, 0, 4);
    reseal(&t);
    expect_decode_error(&t, "malformed");
    /* A NaN weight. */
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    memset(t.data + t.len - 8, 0xff, 8);
    reseal(&t);
    expect_decode_error(&t, "malformed");
    mp_buf_release(&t);
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_meta_model_free(back);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

static void test_alignment(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    struct mp_meta_model *m = train_small(&ts, 1, MP_META_REPTILE);
    struct mp_error err = {0};
    struct mp_meta_binding *b = NULL;

    /* Same names in another order, one unknown choice: aligned by name. */
    struct mp_space r = {0};
    struct mp_param p = {0};
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, 2, sizeof(char *));
    p.choices[0] = mp_xstrdup("C");
    p.choices[1] = mp_xstrdup("Z");
    p.n_choices = 2;
    mp_space_add(&r, &p);
    struct mp_param q = {0};
    q.name = mp_xstrdup("cpus");
    q.type = MP_PARAM_INT;
    q.min = 1;
    q.max = 8;
    q.step = 1;
    mp_space_add(&r, &q);
    assert_int_equal(mp_meta_bind(m, &r, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'batch'"));
    struct mp_param bp = {0};
    bp.name = mp_xstrdup("batch");
    bp.type = MP_PARAM_INT;
    bp.min = 1;
    bp.max = 64;
    bp.step = 1;
    mp_space_add(&r, &bp);
    if (mp_meta_bind(m, &r, &b, &err) != 0) {
        fail_msg("bind: %s", err.msg);
    }
    double xr[3] = {1, 2, 4}; /* gpu Z, cpus 2, batch 4 */
    double in[5];
    mp_meta_binding_encode(b, xr, in);
    assert_true(fabs(in[0] - (2.0 * 2.0 / 6.0 - 1.0)) < 1e-12); /* batch 4: log2 4 / log2 64 */
    assert_true(fabs(in[1] - (2.0 * 1.0 / 3.0 - 1.0)) < 1e-12); /* cpus 2 of 1..4 */
    assert_true(in[2] == 0 && in[3] == 0 && in[4] == 0);        /* unknown choice */
    xr[0] = 0;                                                  /* gpu C */
    mp_meta_binding_encode(b, xr, in);
    assert_true(in[2] == 0 && in[3] == 0 && in[4] == 1);
    mp_meta_binding_free(b);

    /* An extra parameter the model never saw. */
    struct mp_param e = {0};
    e.name = mp_xstrdup("threads");
    e.type = MP_PARAM_INT;
    e.min = 1;
    e.max = 2;
    e.step = 1;
    mp_space_add(&r, &e);
    assert_int_equal(mp_meta_bind(m, &r, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'threads'"));
    assert_null(b);

    /* A task set refuses a service with other parameter names. */
    double x1[2 * 4] = {1, 1, 2, 1, 0, 0, 0, 0}, y1[2] = {1, 2};
    assert_int_equal(mp_meta_taskset_add(&ts, "other", &r, x1, y1, 2, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "other"));
    mp_space_release(&r);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

static struct mp_param int_param(const char *name, double lo, double hi, const char *role)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_INT;
    p.min = lo;
    p.max = hi;
    p.step = 1;
    p.role = role ? mp_xstrdup(role) : NULL;
    return p;
}

/* The family's space with other names: max_batch (role batch_size) for batch, and cores
 * (role cpu) for cpus, in another order. */
static void renamed_space(struct mp_space *r, const char *batch_role, const char *cpu_role)
{
    struct mp_space f = {0};
    family_space(&f);
    struct mp_param g = {0};
    g.name = mp_xstrdup("gpu");
    g.type = MP_PARAM_CATEGORICAL;
    g.choices = mp_xreallocarray(NULL, 3, sizeof(char *));
    for (size_t i = 0; i < 3; i++) {
        g.choices[i] = mp_xstrdup(f.params[2].choices[i]);
    }
    g.n_choices = 3;
    mp_space_add(r, &g);
    struct mp_param c = int_param("cores", 1, 4, cpu_role);
    mp_space_add(r, &c);
    struct mp_param b = {0};
    b.name = mp_xstrdup("max_batch");
    b.type = MP_PARAM_DISCRETE;
    b.values = mp_xreallocarray(NULL, f.params[0].n_values, sizeof(double));
    memcpy(b.values, f.params[0].values, f.params[0].n_values * sizeof(double));
    b.n_values = f.params[0].n_values;
    b.role = batch_role ? mp_xstrdup(batch_role) : NULL;
    mp_space_add(r, &b);
    mp_space_release(&f);
}

static void expect_bind_error(const struct mp_meta_model *m, const struct mp_space *r,
                              const char *needle)
{
    struct mp_meta_binding *b = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_bind(m, r, &b, &err), MP_EINVALID);
    assert_null(b);
    if (!strstr(err.msg, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
    }
}

static void test_role_alignment(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    s.params[0].role = mp_xstrdup("batch_size");
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    /* A service naming batch max_batch and cpus cores joins by role; cores' role is adopted. */
    struct mp_space r = {0};
    renamed_space(&r, "batch_size", "cpu");
    double *x, *y;
    size_t n = family_table(&s, 0.5, &x, &y);
    double *xr = mp_xcalloc(n * 3, sizeof(double));
    for (size_t i = 0; i < n; i++) { /* (batch, cpus, gpu) -> (gpu, cores, max_batch) */
        xr[i * 3] = x[i * 3 + 2];
        xr[i * 3 + 1] = x[i * 3 + 1];
        xr[i * 3 + 2] = x[i * 3];
    }
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "renamed", &r, xr, y, n, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'cores'"));
    assert_null(ts.features[1].role);
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cpus"); /* by name, and it brings its role */
    if (mp_meta_taskset_add(&ts, "renamed", &r, xr, y, n, &err) != 0) {
        fail_msg("taskset_add by role: %s", err.msg);
    }
    assert_int_equal(ts.n_tasks, 4);
    assert_string_equal(ts.features[0].role, "batch_size");
    assert_string_equal(ts.features[1].role, "cpu");
    for (size_t i = 0; i < n; i++) { /* the renamed task's rows are in the feature layout */
        for (size_t k = 0; k < 3; k++) {
            assert_true(ts.tasks[3].x[i * 3 + k] == x[i * 3 + k]);
        }
    }
    struct mp_meta_model *m = train_small(&ts, 2, MP_META_FOMAML);
    assert_string_equal(m->features[0].role, "batch_size");
    assert_string_equal(m->features[1].role, "cpu");
    assert_null(m->features[2].role);

    /* Binding: gpu by name, cores and max_batch by role; inputs as for the original names. */
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cores");
    struct mp_meta_binding *b = NULL, *bs = NULL;
    if (mp_meta_bind(m, &r, &b, &err) != 0) {
        fail_msg("bind by role: %s", err.msg);
    }
    assert_int_equal(mp_meta_binding_param(b, 0), 2);
    assert_int_equal(mp_meta_binding_param(b, 1), 1);
    assert_int_equal(mp_meta_binding_param(b, 2), 0);
    assert_int_equal(mp_meta_binding_param(b, 3), -1);
    assert_int_equal(mp_meta_bind(m, &s, &bs, &err), 0);
    double in_r[5], in_s[5];
    for (size_t i = 0; i < n; i += 7) {
        mp_meta_binding_encode(b, xr + i * 3, in_r);
        mp_meta_binding_encode(bs, x + i * 3, in_s);
        assert_memory_equal(in_r, in_s, sizeof(in_r));
        assert_true(mp_meta_prior_mean(b, xr + i * 3) == mp_meta_prior_mean(bs, x + i * 3));
    }
    mp_meta_binding_free(b);
    mp_meta_binding_free(bs);
    mp_space_release(&r);

    /* Without the role, max_batch is unknown: the error names what the model needs. */
    renamed_space(&r, NULL, "cpu");
    expect_bind_error(m, &r, "'batch' (role batch_size)");
    mp_space_release(&r);
    /* A name match wins over a role: batch by name leaves max_batch unclaimed. */
    renamed_space(&r, "batch_size", "cpu");
    struct mp_param extra = int_param("batch", 1, 64, NULL);
    mp_space_add(&r, &extra);
    expect_bind_error(m, &r, "'max_batch' is unknown");
    mp_space_release(&r);
    /* Conflicting roles in training. */
    renamed_space(&r, "batch_size", "threads");
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cpus");
    assert_int_equal(mp_meta_taskset_add(&ts, "conflict", &r, xr, y, n, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "role threads here, but cpu"));
    mp_space_release(&r);
    free(xr);
    free(x);
    free(y);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Version 2 bytes: the version 3 encoding less the memory (its count and entries). */
static void to_version_2(const struct mp_buf *v3, const struct mp_meta_model *m, struct mp_buf *v2)
{
    size_t memory = 8 + m->n_memory * (m->net.n_in + 1) * 8;
    mp_buf_add(v2, v3->data, v3->len - memory);
    v2->data[8] = 2;
    reseal(v2);
}

/* Version 1 bytes of a model without roles: the version 2 encoding less every feature's empty
 * role string. */
static void to_version_1(const struct mp_buf *v2, struct mp_buf *v1)
{
    const unsigned char *p = (const unsigned char *)v2->data;
    size_t pos = 36, nf = p[32];
    mp_buf_add(v1, v2->data, 36);
    v1->data[8] = 1;
    for (size_t i = 0; i < nf; i++) {
        size_t name = 4 + (size_t)p[pos];
        mp_buf_add(v1, v2->data + pos, name); /* name */
        assert_int_equal(p[pos + name], 0);   /* empty role */
        pos += name + 4;
        size_t fixed = 4 + 4 + 8 + 8, nc = p[pos + fixed];
        mp_buf_add(v1, v2->data + pos, fixed + 4);
        pos += fixed + 4;
        for (size_t k = 0; k < nc; k++) {
            size_t len = 4 + (size_t)p[pos];
            mp_buf_add(v1, v2->data + pos, len);
            pos += len;
        }
    }
    mp_buf_add(v1, v2->data + pos, v2->len - pos);
    reseal(v1);
}

static void test_file_versions_and_roles(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    struct mp_meta_model *m = train_small(&ts, 4, MP_META_REPTILE);
    struct mp_buf a = MP_BUF_INIT, v1 = MP_BUF_INIT, v2 = MP_BUF_INIT, t = MP_BUF_INIT,
                  w = MP_BUF_INIT, bare = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    assert_int_equal(a.data[8], MP_META_FORMAT_VERSION);
    assert_int_equal(MP_META_FORMAT_VERSION, 3);
    assert_true(m->n_memory > 0);
    /* Versions 2 (no memory) and 1 (no roles either) still load: same features and weights. */
    to_version_2(&a, m, &v2);
    to_version_1(&v2, &v1);
    assert_int_equal(v1.len, v2.len - 4 * m->n_features);
    struct mp_meta_model *old = NULL, *old2 = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(v2.data, v2.len, "v2.model", &old2, &err) != 0) {
        fail_msg("version 2: %s", err.msg);
    }
    if (mp_meta_model_decode(v1.data, v1.len, "v1.model", &old, &err) != 0) {
        fail_msg("version 1: %s", err.msg);
    }
    assert_int_equal(old->format_version, 1);
    assert_int_equal(old2->format_version, 2);
    assert_int_equal(m->format_version, 3);
    assert_int_equal(old->n_memory, 0);
    assert_int_equal(old2->n_memory, 0);
    assert_string_equal(old->features[2].choices[2], "C");
    assert_null(old->features[0].role);
    /* Re-saved as version 3: the same bytes as the original without its memory. */
    size_t n_memory = m->n_memory;
    m->n_memory = 0;
    mp_meta_model_encode(m, &bare);
    m->n_memory = n_memory;
    mp_meta_model_encode(old, &w);
    assert_int_equal(w.len, bare.len);
    assert_memory_equal(w.data, bare.data, bare.len);
    mp_buf_reset(&w);
    mp_meta_model_encode(old2, &w);
    assert_memory_equal(w.data, bare.data, bare.len);
    /* Roles survive a round trip. */
    m->features[0].role = mp_xstrdup("batch_size");
    mp_buf_reset(&a);
    mp_meta_model_encode(m, &a);
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_decode(a.data, a.len, "v3.model", &back, &err) != 0) {
        fail_msg("version 3 with a role: %s", err.msg);
    }
    assert_string_equal(back->features[0].role, "batch_size");
    assert_null(back->features[1].role);
    mp_buf_reset(&w);
    mp_meta_model_encode(back, &w);
    assert_int_equal(w.len, a.len);
    assert_memory_equal(w.data, a.data, a.len);
    /* An unknown role is malformed; so is a version 1 payload labelled version 2. */
    mp_buf_add(&t, a.data, a.len);
    size_t at = 0;
    while (at + 10 <= t.len && memcmp(t.data + at, "batch_size", 10) != 0) {
        at++;
    }
    assert_true(at + 10 <= t.len);
    t.data[at] = 'X';
    reseal(&t);
    expect_decode_error(&t, "malformed");
    mp_buf_reset(&t);
    mp_buf_add(&t, v1.data, v1.len);
    t.data[8] = 2;
    expect_decode_error(&t, "malformed");
    /* A version 2 payload labelled version 3 lacks its memory. */
    mp_buf_reset(&t);
    mp_buf_add(&t, v2.data, v2.len);
    t.data[8] = 3;
    expect_decode_error(&t, "malformed");
    mp_buf_release(&a);
    mp_buf_release(&v1);
    mp_buf_release(&v2);
    mp_buf_release(&t);
    mp_buf_release(&w);
    mp_buf_release(&bare);
    mp_meta_model_free(old2);
    mp_meta_model_free(old);
    mp_meta_model_free(back);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* The memory: every configuration the training services measured, with the mean of their
 * normalised values, in ascending order of inputs; kept by the file; a corrupt one is refused. */
static void test_memory(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    struct mp_meta_model *m = train_small(&ts, 5, MP_META_FOMAML);
    size_t n_in = m->net.n_in, w = n_in + 1;
    assert_int_equal(m->n_memory, 84); /* the three services share all 84 configurations */
    assert_true(mp_meta_memory_sorted(m));
    double in[16], v;
    for (size_t row = 0; row < 84; row += 13) {
        assert_memory_equal(ts.tasks[0].x + row * 3, ts.tasks[2].x + row * 3, 3 * sizeof(double));
        mp_meta_encode(m->features, m->n_features, ts.tasks[0].x + row * 3, in);
        assert_true(mp_meta_memory_lookup(m, in, &v));
        double mean = (ts.tasks[0].y[row] + ts.tasks[1].y[row] + ts.tasks[2].y[row]) / 3;
        assert_true(fabs(v - mean) < 1e-12);
    }
    const double unmeasured[3] = {3, 1, 0}; /* batch 3 lies between the levels */
    mp_meta_encode(m->features, m->n_features, unmeasured, in);
    assert_false(mp_meta_memory_lookup(m, in, &v));
    /* Round trip, then a memory out of order and a wrong count. */
    struct mp_buf a = MP_BUF_INIT, t = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    struct mp_meta_model *back = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(a.data, a.len, "m.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    assert_int_equal(back->n_memory, 84);
    mp_meta_model_encode(back, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    size_t first = a.len - 84 * w * 8;
    mp_buf_add(&t, a.data, a.len);
    memcpy(t.data + first, a.data + first + w * 8, w * 8); /* entries 0 and 1 swapped */
    memcpy(t.data + first + w * 8, a.data + first, w * 8);
    reseal(&t);
    expect_decode_error(&t, "malformed");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[first - 8] = 85;
    reseal(&t);
    expect_decode_error(&t, "malformed");
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_buf_release(&t);
    mp_meta_model_free(back);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Surface CSVs: parameter columns by --params, roles by COLUMN=ROLE entries. */
static void test_surface_roles_and_params(void **state)
{
    (void)state;
    static const char csv[] = "number,max_batch,cores,failure,value,p99_ms\n"
                              "1,1,1,,2.0,5\n"
                              "2,4,1,,3.0,6\n"
                              "3,4,2,SLO_VIOLATED,9.0,50\n"
                              "4,16,2,,4.0,7\n"
                              "5,16,1,INFRA,8.0,5\n";
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv, sizeof(csv) - 1, "s.csv", &sf, &err), 0);
    static const char *const params[] = {"max_batch", "cores"};
    static const char *const roles[] = {"max_batch=batch_size", "nosuch=threads", "cores=cpu"};
    struct mp_meta_surface_opts o = {"value", false, params, 2, roles, 3};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    if (mp_meta_taskset_add_surface(&ts, sf, &o, &err) != 0) {
        fail_msg("add_surface: %s", err.msg);
    }
    assert_int_equal(ts.n_features, 2);
    assert_string_equal(ts.features[0].name, "max_batch");
    assert_string_equal(ts.features[0].role, "batch_size");
    assert_string_equal(ts.features[1].role, "cpu");
    /* The SLO-violating row is trained at the lowest measured value, whatever it measured; the
     * infrastructure failure says nothing and is skipped. */
    assert_int_equal(ts.tasks[0].n, 4);
    assert_true(ts.tasks[0].y[0] == 0.5 && ts.tasks[0].y[1] == 0.75);
    assert_true(ts.tasks[0].y[2] == 0.5 && ts.tasks[0].y[3] == 1.0);
    static const char *const bad_role[] = {"cores=cpus"};
    static const char *const malformed[] = {"cores"};
    static const char *const missing[] = {"max_batch", "threads"};
    struct mp_meta_surface_opts b = o;
    b.roles = bad_role;
    b.n_roles = 1;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "unknown role \"cpus\""));
    b.roles = malformed;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "COLUMN=ROLE"));
    b = o;
    b.params = missing;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'threads'"));
    b = o;
    b.objective = "p99_ms";
    b.params = NULL; /* every other column, number and value included: another layout */
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_int_equal(ts.n_tasks, 1);
    mp_meta_taskset_release(&ts);
    mp_surface_free(sf);
}

/* Finishes trial `number` (b = bval) of experiment id with state, failure class and value v
 * (NAN: none). */
static void store_trial(struct mp_store *st, int64_t id, int64_t number, int bval,
                        enum mp_failure failure, double v)
{
    char params[32], key[32];
    snprintf(params, sizeof(params), "{\"b\":%d}", bval);
    snprintf(key, sizeof(key), "b=%d", bval);
    int64_t attempt = 0;
    struct mp_error err = {0};
    struct mp_trial_result res;
    mp_trial_result_init(&res);
    if (failure != MP_FAILURE_NONE) {
        mp_trial_result_fail(&res, failure, "test");
    } else {
        res.state = MP_TRIAL_SUCCEEDED;
    }
    if (!isnan(v)) {
        mp_metrics_set(&res.metrics, "v", v);
    }
    if (mp_store_trial_create(st, id, number, params, key, &err) != 0 ||
        mp_store_trial_start(st, id, number, &attempt, &err) != 0 ||
        mp_store_trial_finish(st, id, number, &res, &err) != 0) {
        fail_msg("trial %lld: %s", (long long)number, err.msg);
    }
    mp_trial_result_release(&res);
}

/* A finished experiment of the store as a task: succeeded trials with their value, failed ones
 * (an SLO violation included) at the lowest value, infrastructure failures skipped. */
static void test_store_task(void **state)
{
    (void)state;
    static const char spec[] =
        "{\"name\": \"t\", \"parameters\": [{\"name\": \"b\", \"type\": \"discrete\", "
        "\"values\": [1, 2, 4, 8, 16]}], \"objective\": {\"metric\": \"v\", \"direction\": "
        "\"maximize\"}, \"algorithm\": {\"name\": \"random\", \"max_trials\": 5}, "
        "\"runner\": {\"kind\": \"replay\", \"surface\": \"s.csv\"}}";
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_meta_store_%ld.db", (long)getpid());
    remove(path);
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    int64_t id = 0;
    if (mp_store_open(path, NULL, &st, &err) != 0 ||
        mp_store_experiment_create(st, "t", spec, "/tmp", 1, &id, &err) != 0) {
        fail_msg("store: %s", err.msg);
    }
    store_trial(st, id, 1, 1, MP_FAILURE_NONE, 2.0);
    store_trial(st, id, 2, 2, MP_FAILURE_NONE, 4.0);
    store_trial(st, id, 3, 4, MP_FAILURE_SLO_VIOLATED, 9.0);
    store_trial(st, id, 4, 8, MP_FAILURE_CRASHED, NAN);
    store_trial(st, id, 5, 16, MP_FAILURE_INFRA, NAN);
    assert_int_equal(mp_store_experiment_set_state(st, id, MP_EXPERIMENT_RUNNING, NULL, &err), 0);
    assert_int_equal(mp_store_experiment_set_state(st, id, MP_EXPERIMENT_SUCCEEDED, NULL, &err), 0);
    mp_store_close(st);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    size_t added = 0, skipped = 0;
    if (mp_meta_taskset_add_store(&ts, path, 4, &added, &skipped, &err) != 0) {
        fail_msg("add_store: %s", err.msg);
    }
    assert_int_equal(added, 1);
    assert_int_equal(skipped, 0);
    assert_int_equal(ts.tasks[0].n, 4);
    static const double want[] = {0.5, 1.0, 0.5, 0.5};
    for (size_t i = 0; i < 4; i++) {
        assert_true(ts.tasks[0].y[i] == want[i]);
    }
    mp_meta_taskset_release(&ts);
    /* Fewer than min_points usable trials: skipped. */
    ts = (struct mp_meta_taskset)MP_META_TASKSET_INIT;
    assert_int_equal(mp_meta_taskset_add_store(&ts, path, 5, &added, &skipped, &err), 0);
    assert_int_equal(added, 0);
    assert_int_equal(skipped, 1);
    mp_meta_taskset_release(&ts);
    remove(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_net_gradient),
        cmocka_unit_test(test_meta_gradients),
        cmocka_unit_test(test_adaptation_helps),
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_file_round_trip_and_corruption),
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_role_alignment),
        cmocka_unit_test(test_file_versions_and_roles),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_surface_roles_and_params),
        cmocka_unit_test(test_store_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
