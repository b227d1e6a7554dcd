/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the `bo` optimizer: it finds the optimum of known functions, never repeats a
 * configuration (also with four trials in flight), replays the same sequence for the same seed,
 * learns feasibility from failed trials, stops for the configured reasons and checks settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/optimizer.h"

#define MAX_TRIALS 64

static void add_range(struct mp_space *s, const char *name, enum mp_param_type t, double min,
                      double max, double step)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = t;
    p.min = min;
    p.max = max;
    p.step = step;
    mp_space_add(s, &p);
}

static void add_list(struct mp_space *s, const char *name, const double *v, size_t n)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_DISCRETE;
    p.values = mp_xreallocarray(NULL, n, sizeof(double));
    memcpy(p.values, v, n * sizeof(double));
    p.n_values = n;
    mp_space_add(s, &p);
}

static void add_choices(struct mp_space *s, const char *name, const char *const *c, size_t n)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        p.choices[i] = mp_xstrdup(c[i]);
    }
    p.n_choices = n;
    mp_space_add(s, &p);
}

/* threads 1..8, batch 4..64 (log grid), gpu a|b|c: 8 * 5 * 3 = 120 configurations. */
static void build_space(struct mp_space *s)
{
    static const double batch[] = {4, 8, 16, 32, 64};
    static const char *const gpu[] = {"a", "b", "c"};
    add_range(s, "threads", MP_PARAM_INT, 1, 8, 1);
    add_list(s, "batch", batch, 5);
    add_choices(s, "gpu", gpu, 3);
}

/* Smooth with one optimum at threads 5, batch 16, gpu b (value 10). */
static double objective(const double *x)
{
    double t = x[0] - 5, b = log2(x[1]) - 4;
    return 10 - 0.3 * t * t - 0.8 * b * b - (x[2] == 1 ? 0 : 2 + 0.5 * x[2]);
}

/* A recorded run: configurations and observations kept side by side. */
struct run {
    double x[MAX_TRIALS][8];
    struct mp_observation obs[MAX_TRIALS];
    size_t n;
};

static void run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < MAX_TRIALS; i++) {
        r->obs[i].x = r->x[i];
    }
}

static struct mp_history hist(const struct run *r)
{
    struct mp_history h = {r->obs, r->n};
    return h;
}

static void complete(struct mp_observation *o, double score)
{
    o->state = MP_TRIAL_SUCCEEDED;
    o->has_value = true;
    o->feasible = true;
    o->score = score;
}

static void fail_trial(struct mp_observation *o)
{
    o->state = MP_TRIAL_FAILED;
    o->failure = MP_FAILURE_OOM_KILLED;
    o->has_value = false;
    o->feasible = false;
}

static struct mp_optimizer *make(const struct mp_space *s, uint64_t seed, struct mp_node *settings)
{
    struct mp_optimizer_opts o = {seed, 100, settings, NULL};
    struct mp_optimizer *opt = NULL;
    struct mp_error err = {0};
    if (mp_optimizer_new("bo", s, &o, &opt, &err) != 0) {
        fail_msg("bo: %s", err.msg);
    }
    return opt;
}

static struct mp_node *parse(const char *yaml)
{
    struct mp_node *n = NULL;
    struct mp_error err = {0};
    if (mp_doc_parse(yaml, strlen(yaml), "test", &n, &err) != 0) {
        fail_msg("parse: %s", err.msg);
    }
    return n;
}

static void suggest_into(struct mp_optimizer *opt, struct run *r)
{
    struct mp_error err = {0};
    struct mp_history h = hist(r);
    int rc = mp_optimizer_suggest(opt, &h, r->x[r->n], &err);
    if (rc != 0) {
        fail_msg("suggest %zu: %s (%s)", r->n + 1, mp_strerror(rc), err.msg);
    }
    struct mp_error e2 = {0};
    if (mp_space_check(opt->space, r->x[r->n], &e2) != 0) {
        fail_msg("suggestion %zu is not in the space: %s", r->n + 1, e2.msg);
    }
    r->obs[r->n].state = MP_TRIAL_RUNNING;
    r->n++;
}

static void assert_unique(const struct mp_space *s, const struct run *r)
{
    struct mp_strset keys = MP_STRSET_INIT;
    for (size_t i = 0; i < r->n; i++) {
        char *k = mp_space_key(s, r->x[i]);
        if (!mp_strset_add(&keys, k)) {
            mp_strset_release(&keys);
            fail_msg("trial %zu repeats configuration %s", i + 1, k);
        }
        free(k);
    }
    mp_strset_release(&keys);
}

static void test_finds_optimum(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 1, NULL);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    double best = -INFINITY;
    size_t found = 0;
    for (size_t t = 0; t < 30; t++) {
        suggest_into(opt, r);
        complete(&r->obs[t], objective(r->x[t]));
        if (r->obs[t].score > best) {
            best = r->obs[t].score;
        }
        if (best >= 10 && !found) {
            found = t + 1;
        }
    }
    assert_unique(&s, r);
    if (!found) {
        fail_msg("optimum 10 not found in 30 of 120 trials (best %g)", best);
    }
    mp_optimizer_free(opt);
    free(r);
    mp_space_release(&s);
}

static void test_same_seed_same_sequence(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct run *a = mp_xmalloc(sizeof(*a)), *b = mp_xmalloc(sizeof(*b));
    run_init(a);
    run_init(b);
    struct mp_optimizer *oa = make(&s, 42, NULL);
    for (size_t t = 0; t < 12; t++) {
        suggest_into(oa, a);
        complete(&a->obs[t], objective(a->x[t]));
    }
    /* A fresh optimizer per step (as after a resume) replays the same sequence. */
    for (size_t t = 0; t < 12; t++) {
        struct mp_optimizer *ob = make(&s, 42, NULL);
        suggest_into(ob, b);
        complete(&b->obs[t], objective(b->x[t]));
        mp_optimizer_free(ob);
        for (size_t i = 0; i < s.n; i++) {
            if (a->x[t][i] != b->x[t][i]) {
                fail_msg("trial %zu parameter %zu: %g vs %g", t + 1, i, a->x[t][i], b->x[t][i]);
            }
        }
    }
    /* Another seed starts elsewhere. */
    struct mp_optimizer *oc = make(&s, 43, NULL);
    struct run *c = mp_xmalloc(sizeof(*c));
    run_init(c);
    suggest_into(oc, c);
    assert_true(memcmp(c->x[0], a->x[0], s.n * sizeof(double)) != 0);
    mp_optimizer_free(oa);
    mp_optimizer_free(oc);
    free(a);
    free(b);
    free(c);
    mp_space_release(&s);
}

/* Four trials always in flight: every suggestion sees the three others still running. */
static void test_parallel_no_duplicates(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 5, NULL);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    for (int k = 0; k < 4; k++) {
        suggest_into(opt, r);
    }
    size_t done = 0;
    while (r->n < 40) {
        complete(&r->obs[done], objective(r->x[done]));
        done++;
        suggest_into(opt, r);
    }
    assert_unique(&s, r);
    /* Four suggestions in a row with nothing finished are four different configurations
     * (kriging believer keeps them apart). */
    struct run *p = mp_xmalloc(sizeof(*p));
    run_init(p);
    for (size_t t = 0; t < 6; t++) {
        suggest_into(opt, p);
        complete(&p->obs[t], objective(p->x[t]));
    }
    for (int k = 0; k < 4; k++) {
        suggest_into(opt, p);
    }
    assert_unique(&s, p);
    mp_optimizer_free(opt);
    free(r);
    free(p);
    mp_space_release(&s);
}

static void test_exhausts_small_space(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "a", MP_PARAM_INT, 1, 2, 1);
    add_range(&s, "b", MP_PARAM_INT, 1, 3, 1);
    struct mp_optimizer *opt = make(&s, 0, NULL);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    for (size_t t = 0; t < 6; t++) {
        suggest_into(opt, r);
        complete(&r->obs[t], r->x[t][0] + r->x[t][1]);
    }
    assert_unique(&s, r);
    struct mp_history h = hist(r);
    double x[2];
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_suggest(opt, &h, x, &err), MP_EEXHAUSTED);
    mp_optimizer_free(opt);
    free(r);
    mp_space_release(&s);
}

/* The objective grows with threads, but 6 threads and more fail (OOM): the optimizer must learn
 * that and stay below, never treating a failure as a value. */
static void test_feasibility_from_failures(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 3, NULL);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    size_t failed_late = 0;
    double best = -INFINITY;
    for (size_t t = 0; t < 30; t++) {
        suggest_into(opt, r);
        if (r->x[t][0] >= 6) {
            fail_trial(&r->obs[t]);
            failed_late += t >= 10;
        } else {
            complete(&r->obs[t],
                     r->x[t][0] - 0.5 * fabs(log2(r->x[t][1]) - 4) + (r->x[t][2] == 2 ? 1 : 0));
            best = fmax(best, r->obs[t].score);
        }
    }
    assert_unique(&s, r);
    /* Optimum among feasible configurations: threads 5, batch 16, gpu c = 6. */
    if (best < 6) {
        fail_msg("best feasible %g, expected the feasible optimum 6", best);
    }
    if (failed_late > 8) {
        fail_msg("%zu of the last 20 trials failed: feasibility not learnt", failed_late);
    }
    mp_optimizer_free(opt);
    free(r);
    mp_space_release(&s);
}

/* A continuous parameter takes the sampled path with local refinement. */
static void test_continuous(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "cpu", MP_PARAM_FLOAT, 0.5, 4, 0);
    add_range(&s, "mem", MP_PARAM_FLOAT, 128, 4096, 0);
    struct mp_node *set = parse("{candidates: 300, initial: 4}");
    struct mp_optimizer *opt = make(&s, 9, set);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    double best = -INFINITY;
    for (size_t t = 0; t < 25; t++) {
        suggest_into(opt, r);
        double a = r->x[t][0] - 2.5, b = (r->x[t][1] - 1000) / 1000;
        complete(&r->obs[t], -(a * a) - b * b);
        best = fmax(best, r->obs[t].score);
    }
    assert_unique(&s, r);
    if (best < -0.05) {
        fail_msg("best %g after 25 trials, expected > -0.05 (optimum 0)", best);
    }
    mp_optimizer_free(opt);
    mp_doc_free(set);
    free(r);
    mp_space_release(&s);
}

static void test_should_stop(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_node *set = parse("{patience: 5}");
    struct mp_optimizer *opt = make(&s, 1, set);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    char reason[256] = "";
    for (size_t t = 0; t < 10; t++) {
        suggest_into(opt, r);
        complete(&r->obs[t], t == 2 ? 100 : 1);
    }
    struct mp_history h = hist(r);
    h.n = 7;
    assert_false(opt->ops->should_stop(opt, &h, reason, sizeof(reason)));
    h.n = 8;
    assert_true(opt->ops->should_stop(opt, &h, reason, sizeof(reason)));
    if (!strstr(reason, "no improvement in the last 5 trials")) {
        fail_msg("reason: %s", reason);
    }
    mp_optimizer_free(opt);
    mp_doc_free(set);
    /* Expected improvement below the noise: a flat objective leaves nothing to gain once the
     * space has been covered. */
    set = parse("{stop_on_ei: true}");
    opt = make(&s, 1, set);
    run_init(r);
    for (size_t t = 0; t < 30; t++) {
        suggest_into(opt, r);
        complete(&r->obs[t], 5.0);
    }
    h = hist(r);
    assert_true(opt->ops->should_stop(opt, &h, reason, sizeof(reason)));
    if (!strstr(reason, "below the noise level")) {
        fail_msg("reason: %s", reason);
    }
    mp_optimizer_free(opt);
    mp_doc_free(set);
    free(r);
    mp_space_release(&s);
}

static void test_settings(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    static const char *const bad[] = {
        "{acquisition: pi}", "{initial: 0}",           "{restarts: -1}", "{beta: -1}",
        "{warp: log}",       "{categorical: ordinal}", "{intial: 3}",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_node *set = parse(bad[i]);
        struct mp_optimizer_opts o = {0, 10, set, NULL};
        struct mp_error err = {0};
        int rc = mp_optimizer_bo.validate(&s, &o, &err);
        if (rc != MP_EINVALID) {
            fail_msg("settings %s: got %d (%s), expected EINVALID", bad[i], rc, err.msg);
        }
        mp_doc_free(set);
    }
    struct mp_node *good = parse("{acquisition: ucb, beta: 1.5, initial: 5, warp: rank, "
                                 "categorical: onehot, patience: 10, stop_on_ei: true}");
    struct mp_optimizer_opts o = {0, 10, good, NULL};
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_bo.validate(&s, &o, &err), 0);
    /* UCB with one-hot categoricals and rank warping runs too. */
    struct mp_optimizer *opt = make(&s, 2, good);
    struct run *r = mp_xmalloc(sizeof(*r));
    run_init(r);
    for (size_t t = 0; t < 12; t++) {
        suggest_into(opt, r);
        complete(&r->obs[t], objective(r->x[t]));
    }
    assert_unique(&s, r);
    mp_optimizer_free(opt);
    mp_doc_free(good);
    free(r);
    mp_space_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_optimum),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_parallel_no_duplicates),
        cmocka_unit_test(test_exhausts_small_space),
        cmocka_unit_test(test_feasibility_from_failures),
        cmocka_unit_test(test_continuous),
        cmocka_unit_test(test_should_stop),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
