/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the `morphling` optimizer: first pick is the prior's best, searches on a
 * held-out synthetic service reach its optimum quickly, never repeat, are pure functions of the
 * history, handle failures, stop by budget and patience, turn to the model's memory when they
 * stall, and refuse a mismatched prior unless a fallback is configured. */
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
#include "optimizer/optimizer.h"
#include "optlib.h"
#include "testlib.h"

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void); /* <sanitizer/allocator_interface.h> */
#define HEAP_BYTES() __sanitizer_get_current_allocated_bytes()
#else
#include <malloc.h>
#define HEAP_BYTES() (mallinfo2().uordblks + mallinfo2().hblkhd)
#endif

static char model_path[64];

static int train_family_model(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    for (size_t k = 0; k < 7; k++) {
        double *x, *y;
        size_t n = family_table(&s, (double)k / 6.0, &x, &y);
        int rc = mp_meta_taskset_add(&ts, "svc", &s, x, y, n, NULL);
        free(x);
        free(y);
        if (rc != 0) {
            return -1;
        }
    }
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.hidden = 16;
    o.members = 3;
    o.iterations = 400;
    o.query = 12;
    o.support_max = 8;
    struct mp_meta_model *m = NULL;
    snprintf(model_path, sizeof(model_path), "/tmp/test_morphling_%ld.model", (long)getpid());
    int rc = mp_meta_train(&ts, &o, &m, NULL);
    if (rc == 0) {
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

struct run {
    struct mp_space space;
    struct mp_node *settings;
    struct mp_optimizer *opt;
    struct opt_run *t;
};

static void run_init(struct run *r, const char *settings_yaml, uint64_t seed, const char *prior)
{
    memset(r, 0, sizeof(*r));
    family_space(&r->space);
    r->settings = opt_settings(settings_yaml);
    r->opt = opt_make("morphling", &r->space, seed, 60, r->settings, prior);
    r->t = opt_run_new();
}

static void run_release(struct run *r)
{
    mp_optimizer_free(r->opt);
    mp_space_release(&r->space);
    mp_doc_free(r->settings);
    free(r->t);
}

/* Suggests and records the trial: failed, or measured on service t, or with the score `fixed`
 * when that is not NAN. */
static void step_as(struct run *r, double t, bool fail, double fixed)
{
    size_t i = r->t->n;
    const double *x = opt_suggest(r->opt, r->t);
    if (fail) {
        opt_fail(r->t, i, MP_FAILURE_CRASHED);
    } else {
        opt_succeed(r->t, i, isnan(fixed) ? family_value(t, x) : fixed);
    }
}

static void step(struct run *r, double t, bool fail)
{
    step_as(r, t, fail, NAN);
}

static double optimum(const struct mp_space *s, double t)
{
    double *x, *y, best = -INFINITY;
    size_t n = family_table(s, t, &x, &y);
    for (size_t i = 0; i < n; i++) {
        best = fmax(best, y[i]);
    }
    free(x);
    free(y);
    return best;
}

static void test_first_pick_is_prior_best(void **state)
{
    (void)state;
    struct run r;
    run_init(&r, "{memory_prior: false}", 1, model_path); /* the networks' own ranking */
    struct mp_meta_model *m = NULL;
    struct mp_meta_binding *b = NULL;
    assert_int_equal(mp_meta_model_load(model_path, &m, NULL), 0);
    assert_int_equal(mp_meta_bind(m, &r.space, &b, NULL), 0);
    double *x, *y, best = -INFINITY;
    size_t n = family_table(&r.space, 0, &x, &y), arg = 0;
    for (size_t i = 0; i < n; i++) {
        double mu = mp_meta_prior_mean(b, x + i * 3);
        if (mu > best) {
            best = mu;
            arg = i;
        }
    }
    step(&r, 0.5, false);
    assert_memory_equal(r.t->x[0], x + arg * 3, 3 * sizeof(double));
    free(x);
    free(y);
    mp_meta_binding_free(b);
    mp_meta_model_free(m);
    run_release(&r);
}

static void test_finds_held_out_optimum(void **state)
{
    (void)state;
    static const double shapes[] = {0.08, 0.45, 0.71, 0.97};
    for (size_t k = 0; k < MP_ARRAY_LEN(shapes); k++) {
        struct run r;
        run_init(&r, NULL, 3, model_path);
        double opt = optimum(&r.space, shapes[k]);
        long found = -1;
        for (size_t i = 0; i < 30 && found < 0; i++) {
            step(&r, shapes[k], false);
            if (r.t->obs[i].score >= opt) {
                found = (long)i + 1;
            }
        }
        if (found < 0) {
            fail_msg("service t=%.2f: optimum %.4g not reached in 30 of 84 trials", shapes[k], opt);
        }
        run_release(&r);
    }
}

static void test_pure_and_exhaustive(void **state)
{
    (void)state;
    struct run a, b;
    run_init(&a, "{kappa: 2}", 7, model_path);
    run_init(&b, "{kappa: 2}", 7, model_path);
    for (size_t i = 0; i < 84; i++) {
        step(&a, 0.3, i % 9 == 4);
        step(&b, 0.3, i % 9 == 4);
        assert_memory_equal(a.t->x[i], b.t->x[i], sizeof(a.t->x[i]));
    }
    /* Asking again with the same history gives the same answer (no hidden state). */
    double x[3];
    struct mp_history h = {a.t->obs, 10};
    assert_int_equal(mp_optimizer_suggest(a.opt, &h, x, NULL), 0);
    assert_memory_equal(x, a.t->x[10], sizeof(x));
    struct mp_error err = {0};
    h.n = 84;
    assert_int_equal(mp_optimizer_suggest(a.opt, &h, x, &err), MP_EEXHAUSTED);
    run_release(&a);
    run_release(&b);
}

static bool gpu_c(const void *ctx, const double *x)
{
    (void)ctx;
    return x[2] == 2;
}

/* Configurations the options exclude (a price above a cost_per_hour limit) are never suggested:
 * the 56 others, then EXHAUSTED saying why. */
static void test_excluded_never_suggested(void **state)
{
    (void)state;
    struct run r;
    run_init(&r, "{kappa: 2}", 3, model_path);
    r.opt->opts.excluded = gpu_c;
    r.opt->opts.excluded_why = "a constraint on cost_per_hour";
    for (size_t i = 0; i < 56; i++) {
        assert_false(gpu_c(NULL, opt_suggest(r.opt, r.t)));
        opt_succeed(r.t, i, family_value(0.97, r.t->x[i])); /* where C is best */
    }
    double x[3];
    struct mp_history h = opt_run_history(r.t);
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_suggest(r.opt, &h, x, &err), MP_EEXHAUSTED);
    assert_string_equal(err.msg, "all 84 configurations have been tried or break a constraint on "
                                 "cost_per_hour before a trial");
    run_release(&r);
}

/* When every GPU "C" configuration fails, later suggestions avoid it. */
static void test_failures_steer_away(void **state)
{
    (void)state;
    struct run r;
    run_init(&r, NULL, 2, model_path);
    size_t late_c = 0, failures = 0;
    for (size_t i = 0; i < 24; i++) {
        const double *x = opt_suggest(r.opt, r.t);
        bool c = x[2] == 2; /* t near 1 favours C, which crashes */
        if (c) {
            opt_fail(r.t, i, MP_FAILURE_CRASHED);
        } else {
            opt_succeed(r.t, i, family_value(0.97, x));
        }
        failures += c;
        late_c += c && i >= 12;
    }
    assert_true(failures >= 1);
    if (late_c > 3) {
        fail_msg("%zu of the last 12 trials still used the failing choice", late_c);
    }
    run_release(&r);
}

static void test_stopping(void **state)
{
    (void)state;
    struct run r;
    run_init(&r, "{patience: 3}", 1, model_path);
    char reason[128];
    struct mp_history h = {r.t->obs, 0};
    assert_false(r.opt->ops->should_stop(r.opt, &h, reason, sizeof(reason)));
    for (size_t i = 0; i < 4; i++) {
        step(&r, 0.5, false);
    }
    /* Force three non-improving trials after a high one. */
    r.t->obs[0].score = 100;
    h.n = 4;
    assert_true(r.opt->ops->should_stop(r.opt, &h, reason, sizeof(reason)));
    assert_non_null(strstr(reason, "no improvement"));
    h.n = 2;
    assert_false(r.opt->ops->should_stop(r.opt, &h, reason, sizeof(reason)));
    /* Failures of the infrastructure say nothing about a configuration: they do not count. */
    for (size_t i = 2; i < 4; i++) {
        r.t->obs[i].state = MP_TRIAL_FAILED;
        r.t->obs[i].failure = MP_FAILURE_INFRA;
        r.t->obs[i].has_value = false;
        r.t->obs[i].feasible = false;
    }
    h.n = 4;
    assert_false(r.opt->ops->should_stop(r.opt, &h, reason, sizeof(reason)));
    r.t->obs[2].failure = MP_FAILURE_CRASHED;
    r.t->obs[3].failure = MP_FAILURE_CRASHED;
    assert_true(r.opt->ops->should_stop(r.opt, &h, reason, sizeof(reason)));
    run_release(&r);
}

static void test_prior_errors_and_fallback(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_optimizer *opt = NULL;
    struct mp_error err = {0};
    struct mp_optimizer_opts o = {.seed = 1, .max_trials = 10};
    assert_int_equal(mp_optimizer_new("morphling", &s, &o, &opt, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "algorithm.prior"));
    assert_int_equal(mp_optimizer_morphling.validate(&s, &o, &err), MP_EINVALID);
    o.prior_path = "/nonexistent/model.bin";
    assert_int_not_equal(mp_optimizer_new("morphling", &s, &o, &opt, &err), 0);

    /* A space with a parameter the model does not know. */
    struct mp_param p = {0};
    p.name = mp_xstrdup("threads");
    p.type = MP_PARAM_INT;
    p.min = 1;
    p.max = 4;
    p.step = 1;
    mp_space_add(&s, &p);
    o.prior_path = model_path;
    assert_int_equal(mp_optimizer_morphling.validate(&s, &o, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'threads'"));
    assert_int_equal(mp_optimizer_new("morphling", &s, &o, &opt, &err), MP_EINVALID);

    /* The documented fallback runs random search instead. */
    struct mp_node *set = NULL;
    assert_int_equal(mp_doc_parse("{fallback: random}", 18, "t", &set, NULL), 0);
    o.settings = set;
    assert_int_equal(mp_optimizer_morphling.validate(&s, &o, &err), 0);
    if (mp_optimizer_new("morphling", &s, &o, &opt, &err) != 0) {
        fail_msg("fallback: %s", err.msg);
    }
    double x[4];
    struct mp_history h = {NULL, 0};
    assert_int_equal(mp_optimizer_suggest(opt, &h, x, &err), 0);
    assert_int_equal(mp_space_check(&s, x, NULL), 0);
    mp_optimizer_free(opt);
    mp_doc_free(set);

    /* Bad settings are an error from validate and from create alike (create once crashed). */
    const char *bad[] = {"{kappa: -1}", "{patience: -1}", "{memory_after: -1}", "{fallback: x}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(mp_doc_parse(bad[i], strlen(bad[i]), "t", &set, NULL), 0);
        o.settings = set;
        assert_int_equal(mp_optimizer_morphling.validate(&s, &o, &err), MP_EINVALID);
        opt = NULL;
        assert_int_equal(mp_optimizer_new("morphling", &s, &o, &opt, &err), MP_EINVALID);
        assert_null(opt);
        mp_doc_free(set);
    }
    mp_space_release(&s);
}

/* A stalled search turns to the model's memory: after `memory_after` trials without
 * improvement, a configuration the training services did well at comes next, even one the
 * networks rank last; with memory_after: 0 it does not. */
static void test_memory_after_stall(void **state)
{
    (void)state;
    struct mp_meta_model *m = NULL;
    assert_int_equal(mp_meta_model_load(model_path, &m, NULL), 0);
    assert_int_equal(m->n_memory, 84); /* the 7 training services share the 84 configurations */
    /* Replace the memory: the family's worst configuration as excellent, its best as poor. */
    const double worst[3] = {1, 1, 0}, good[3] = {64, 4, 1};
    size_t w = m->net.n_in + 1;
    free(m->memory);
    m->memory = mp_xcalloc(2 * w, sizeof(double));
    m->n_memory = 2;
    mp_meta_encode(m->features, m->n_features, worst, m->memory);
    m->memory[w - 1] = 10;
    mp_meta_encode(m->features, m->n_features, good, m->memory + w);
    m->memory[2 * w - 1] = -10;
    char path[96];
    snprintf(path, sizeof(path), "%s.memory", model_path);
    assert_int_equal(mp_meta_model_save(m, path, NULL), 0);
    mp_meta_model_free(m);
    for (int off = 0; off <= 1; off++) {
        struct run r;
        run_init(&r,
                 off ? "{memory_after: 0, memory_prior: false}"
                     : "{memory_after: 3, memory_prior: false}",
                 1, path);
        /* The first trial stays the best; three more do not improve on it. */
        for (size_t i = 0; i < 5; i++) {
            if (i < 4) {
                step_as(&r, 0, false, i == 0 ? 1.0 : 0.5 - 0.01 * (double)i);
            } else {
                step_as(&r, 0, false, 0.1);
            }
            bool is_worst = memcmp(r.t->x[i], worst, sizeof(worst)) == 0;
            if (is_worst != (i == 4 && !off)) {
                fail_msg("memory_after %d: trial %zu %s the remembered configuration", off ? 0 : 3,
                         i + 1, is_worst ? "is" : "is not");
            }
        }
        run_release(&r);
    }
    remove(path);
}

/* memory_prior: the memory is the prior mean where it knows a configuration, so the first
 * trial is the memory's best (here the family's worst configuration), and the networks decide
 * among the configurations it does not know; off, the networks' best comes first. */
static void test_memory_prior(void **state)
{
    (void)state;
    struct mp_meta_model *m = NULL;
    assert_int_equal(mp_meta_model_load(model_path, &m, NULL), 0);
    const double worst[3] = {1, 1, 0}, good[3] = {64, 4, 1};
    size_t w = m->net.n_in + 1;
    free(m->memory);
    m->memory = mp_xcalloc(2 * w, sizeof(double));
    m->n_memory = 2;
    mp_meta_encode(m->features, m->n_features, worst, m->memory);
    m->memory[w - 1] = 2;
    mp_meta_encode(m->features, m->n_features, good, m->memory + w);
    m->memory[2 * w - 1] = 0.5;
    char path[96];
    snprintf(path, sizeof(path), "%s.prior", model_path);
    assert_int_equal(mp_meta_model_save(m, path, NULL), 0);
    mp_meta_model_free(m);
    for (int on = 0; on <= 1; on++) {
        struct run r;
        run_init(&r, on ? "{memory_prior: true}" : "{memory_prior: false}", 1, path);
        step(&r, 0.5, false);
        bool is_worst = memcmp(r.t->x[0], worst, sizeof(worst)) == 0;
        if (is_worst != (on == 1)) {
            fail_msg("memory_prior %s: the first trial %s the memory's best", on ? "on" : "off",
                     is_worst ? "is" : "is not");
        }
        /* Later trials never repeat one (opt_suggest checks) and stay in the space. */
        for (size_t i = 1; i < 6; i++) {
            step(&r, 0.5, false);
        }
        run_release(&r);
    }
    remove(path);
}

/* A continuous parameter: candidates are sampled instead of enumerated. */
static void test_continuous_space(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    struct mp_param *batch = &s.params[0];
    free(batch->values);
    batch->values = NULL;
    batch->n_values = 0;
    batch->type = MP_PARAM_FLOAT;
    batch->min = 1;
    batch->max = 64;
    batch->step = 0;
    struct mp_node *set = opt_settings("{candidates: 200}");
    struct mp_optimizer *opt = opt_make("morphling", &s, 5, 20, set, model_path);
    struct opt_run *r = opt_run_new();
    /* The scores stay finite and the best trial is near the surface's best. */
    double best = -INFINITY;
    for (size_t i = 0; i < 12; i++) {
        double v = family_value(0.5, opt_suggest(opt, r));
        opt_succeed(r, i, v);
        best = fmax(best, v);
    }
    struct mp_space grid = {0};
    family_space(&grid);
    double opt_grid = optimum(&grid, 0.5);
    mp_space_release(&grid);
    if (!(best > 0.8 * opt_grid)) {
        fail_msg("best %.4g after 12 trials, grid optimum %.4g", best, opt_grid);
    }
    free(r);
    mp_optimizer_free(opt);
    mp_doc_free(set);
    mp_space_release(&s);
}

/* A model of 64 categorical parameters of 256 choices has 16,384 inputs: enumerating a space of
 * 4,096 of its configurations took 512 MiB (200,000: 24 GiB). Such a space is searched by
 * random candidates instead, in bounded memory. */
static void test_wide_model_bounded(void **state)
{
    (void)state;
    enum { D = MP_META_MAX_FEATURES, C = MP_META_MAX_CHOICES, N = 300 };
    char *names[C];
    for (size_t k = 0; k < C; k++) {
        names[k] = mp_xasprintf("c%zu", k);
    }
    struct mp_space train = {0}, space = {0};
    for (size_t i = 0; i < D; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%zu", i);
        add_choices(&train, name, (const char *const *)names, C);
        add_choices(&space, name, (const char *const *)names,
                    i < 2 ? 64 : 1); /* 4,096 configurations */
    }
    double *x = mp_xcalloc((size_t)N * D, sizeof(double)), *y = mp_xcalloc(N, sizeof(double));
    for (size_t r = 0; r < N; r++) {
        for (size_t i = 0; i < D; i++) {
            x[r * D + i] = (double)((r * 7 + i * 3) % C);
        }
        y[r] = (double)(1 + r % 13);
    }
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "wide", &train, x, y, N, &err), 0);
    struct mp_meta_train_opts to;
    mp_meta_train_opts_default(&to);
    to.members = 1;
    to.hidden = 2;
    to.iterations = 1;
    struct mp_meta_model *m = NULL;
    assert_int_equal(mp_meta_train(&ts, &to, &m, &err), 0);
    char path[80];
    snprintf(path, sizeof(path), "%s.wide", model_path);
    assert_int_equal(mp_meta_model_save(m, path, &err), 0);
    size_t before = HEAP_BYTES();
    struct mp_optimizer *opt = opt_make("morphling", &space, 1, 20, NULL, path);
    size_t used = HEAP_BYTES() - before;
    if (used > ((size_t)64 << 20)) {
        fail_msg("the optimizer holds %zu MiB", used >> 20);
    }
    struct mp_history h = {NULL, 0};
    double cfg[D];
    assert_int_equal(mp_optimizer_suggest(opt, &h, cfg, &err), 0);
    assert_int_equal(mp_space_check(&space, cfg, &err), 0);
    mp_optimizer_free(opt);
    remove(path);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    free(x);
    free(y);
    mp_space_release(&train);
    mp_space_release(&space);
    for (size_t k = 0; k < C; k++) {
        free(names[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_pick_is_prior_best),
        cmocka_unit_test(test_finds_held_out_optimum),
        cmocka_unit_test(test_pure_and_exhaustive),
        cmocka_unit_test(test_excluded_never_suggested),
        cmocka_unit_test(test_failures_steer_away),
        cmocka_unit_test(test_stopping),
        cmocka_unit_test(test_prior_errors_and_fallback),
        cmocka_unit_test(test_memory_after_stall),
        cmocka_unit_test(test_memory_prior),
        cmocka_unit_test(test_continuous_space),
        cmocka_unit_test(test_wide_model_bounded),
    };
    return cmocka_run_group_tests(tests, train_family_model, remove_model);
}
