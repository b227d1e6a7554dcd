/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the `bo` optimizer: it finds the optimum of known functions, never repeats a
 * configuration (also with four trials in flight), replays the same sequence for the same seed,
 * learns feasibility from failed trials (its probability monotone in the resources), stops for
 * the configured reasons and checks settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optimizer/bo_int.h"
#include "optimizer/optimizer.h"
#include "optlib.h"
#include "spec/spec.h"
#include "testlib.h"

#define CHECK_BEST(got, want)                                                                      \
    do {                                                                                           \
        if (fabs((got) - (want)) > 1e-9) {                                                         \
            fail_msg("best feasible %g, expected %g", (double)(got), (double)(want));              \
        }                                                                                          \
    } while (0)

/* threads 1..8, batch 4..64 (log grid), gpu a|b|c: 8 * 5 * 3 = 120 configurations. */
static void build_space(struct mp_space *s)
{
    static const double batch[] = {4, 8, 16, 32, 64};
    static const char *const gpu[] = {"a", "b", "c"};
    add_range(s, "threads", MP_PARAM_INT, 1, 8, 1);
    add_list(s, "batch", batch, 5, false);
    add_choices(s, "gpu", gpu, 3);
}

/* Smooth with one optimum at threads 5, batch 16, gpu b (value 10). */
static double objective(const double *x)
{
    double t = x[0] - 5, b = log2(x[1]) - 4;
    return 10 - 0.3 * t * t - 0.8 * b * b - (x[2] == 1 ? 0 : 2 + 0.5 * x[2]);
}

static struct mp_optimizer *make(const struct mp_space *s, uint64_t seed,
                                 const struct mp_node *settings)
{
    return opt_make("bo", s, seed, 100, settings, NULL);
}

static void test_finds_optimum(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 1, NULL);
    struct opt_run *r = opt_run_new();
    double best = -INFINITY;
    size_t found = 0;
    for (size_t t = 0; t < 30; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t, objective(r->x[t]));
        if (r->obs[t].score > best) {
            best = r->obs[t].score;
        }
        if (best >= 10 && !found) {
            found = t + 1;
        }
    }
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
    struct opt_run *a = opt_run_new(), *b = opt_run_new();
    struct mp_optimizer *oa = make(&s, 42, NULL);
    for (size_t t = 0; t < 12; t++) {
        opt_suggest(oa, a);
        opt_succeed(a, t, objective(a->x[t]));
    }
    /* A fresh optimizer per step (as after a resume) replays the same sequence. */
    for (size_t t = 0; t < 12; t++) {
        struct mp_optimizer *ob = make(&s, 42, NULL);
        opt_suggest(ob, b);
        opt_succeed(b, t, objective(b->x[t]));
        mp_optimizer_free(ob);
        for (size_t i = 0; i < s.n; i++) {
            if (a->x[t][i] != b->x[t][i]) {
                fail_msg("trial %zu parameter %zu: %g vs %g", t + 1, i, a->x[t][i], b->x[t][i]);
            }
        }
    }
    /* Another seed starts elsewhere. */
    struct mp_optimizer *oc = make(&s, 43, NULL);
    struct opt_run *c = opt_run_new();
    opt_suggest(oc, c);
    assert_true(memcmp(c->x[0], a->x[0], s.n * sizeof(double)) != 0);
    mp_optimizer_free(oa);
    mp_optimizer_free(oc);
    free(a);
    free(b);
    free(c);
    mp_space_release(&s);
}

/* The objective's units do not change the search: scores scaled by 1e-15 (dollars per request)
 * or 1e200 (a service reporting nonsense) give the sequence of the unscaled ones. At 1e200 the
 * model's variance overflowed and every candidate tied, so bo walked the space in index order. */
static void test_scale_free(void **state)
{
    (void)state;
    static const double scales[] = {1e-15, 1e200, 1e-300};
    struct mp_space s = {0};
    build_space(&s);
    struct opt_run *a = opt_run_new();
    struct mp_optimizer *oa = make(&s, 9, NULL);
    for (size_t t = 0; t < 16; t++) {
        opt_suggest(oa, a);
        opt_succeed(a, t, objective(a->x[t]));
    }
    for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
        struct opt_run *b = opt_run_new();
        struct mp_optimizer *ob = make(&s, 9, NULL);
        for (size_t t = 0; t < 16; t++) {
            opt_suggest(ob, b);
            opt_succeed(b, t, scales[k] * objective(b->x[t]));
            for (size_t i = 0; i < s.n; i++) {
                if (a->x[t][i] != b->x[t][i]) {
                    fail_msg("scale %g, trial %zu parameter %zu: %g, unscaled %g", scales[k], t + 1,
                             i, b->x[t][i], a->x[t][i]);
                }
            }
        }
        mp_optimizer_free(ob);
        free(b);
    }
    mp_optimizer_free(oa);
    free(a);
    mp_space_release(&s);
}

/* Four trials always in flight: every suggestion sees the three others still running. */
static void test_parallel_no_duplicates(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 5, NULL);
    struct opt_run *r = opt_run_new();
    for (int k = 0; k < 4; k++) {
        opt_suggest(opt, r);
    }
    size_t done = 0;
    while (r->n < 40) {
        opt_succeed(r, done, objective(r->x[done]));
        done++;
        opt_suggest(opt, r);
    }
    /* Four suggestions in a row with nothing finished are four different configurations
     * (kriging believer keeps them apart). */
    struct opt_run *p = opt_run_new();
    for (size_t t = 0; t < 6; t++) {
        opt_suggest(opt, p);
        opt_succeed(p, t, objective(p->x[t]));
    }
    for (int k = 0; k < 4; k++) {
        opt_suggest(opt, p);
    }
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
    struct opt_run *r = opt_run_new();
    for (size_t t = 0; t < 6; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t, r->x[t][0] + r->x[t][1]);
    }
    struct mp_history h = opt_run_history(r);
    double x[2];
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_suggest(opt, &h, x, &err), MP_EEXHAUSTED);
    mp_optimizer_free(opt);
    free(r);
    mp_space_release(&s);
}

/* A space searched by sampling (exact_limit 0, the fewest candidates) is still exhausted to its
 * last configuration: when the samples miss the few untried ones, bo picks one exactly. It ended
 * the search as exhausted with 5 of 30 configurations untried. */
static void test_exhausts_sampled_space(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "a", MP_PARAM_INT, 0, 5, 1);
    add_range(&s, "b", MP_PARAM_INT, 0, 4, 1);
    struct mp_node *set = opt_settings("{exact_limit: 0, candidates: 10}");
    struct mp_optimizer *opt = make(&s, 2, set);
    struct opt_run *r = opt_run_new();
    for (size_t t = 0; t < 30; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t,
                    -(r->x[t][0] - 2) * (r->x[t][0] - 2) - (r->x[t][1] - 3) * (r->x[t][1] - 3));
    }
    struct mp_history h = opt_run_history(r);
    double x[2];
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_suggest(opt, &h, x, &err), MP_EEXHAUSTED);
    mp_optimizer_free(opt);
    mp_doc_free(set);
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
    struct opt_run *r = opt_run_new();
    size_t failed_late = 0;
    double best = -INFINITY;
    for (size_t t = 0; t < 30; t++) {
        opt_suggest(opt, r);
        if (r->x[t][0] >= 6) {
            opt_fail(r, t, MP_FAILURE_OOM_KILLED);
            failed_late += t >= 10;
        } else {
            opt_succeed(r, t,
                        r->x[t][0] - 0.5 * fabs(log2(r->x[t][1]) - 4) + (r->x[t][2] == 2 ? 1 : 0));
            best = fmax(best, r->obs[t].score);
        }
    }
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

/* Larger batches score higher but from 32 on violate the SLO: they are measured (has_value), so
 * they teach the objective model, yet never count as the best and are soon avoided. */
static void test_slo_violations(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_space(&s);
    struct mp_optimizer *opt = make(&s, 11, NULL);
    struct opt_run *r = opt_run_new();
    size_t late = 0;
    double best = -INFINITY;
    for (size_t t = 0; t < 30; t++) {
        opt_suggest(opt, r);
        double v = log2(r->x[t][1]) + 0.1 * r->x[t][0] + (r->x[t][2] == 0 ? 0.5 : 0);
        if (r->x[t][1] >= 32) {
            opt_violate(r, t, v);
            late += t >= 15;
        } else {
            opt_succeed(r, t, v);
            best = fmax(best, v);
        }
    }
    /* Feasible optimum: batch 16, 8 threads, gpu a = 4 + 0.8 + 0.5. */
    CHECK_BEST(best, 5.3);
    if (late > 8) {
        fail_msg("%zu of the last 15 trials violated the SLO", late);
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
    struct mp_node *set = opt_settings("{candidates: 300, initial: 4}");
    struct mp_optimizer *opt = make(&s, 9, set);
    struct opt_run *r = opt_run_new();
    double best = -INFINITY;
    for (size_t t = 0; t < 25; t++) {
        opt_suggest(opt, r);
        double a = r->x[t][0] - 2.5, b = (r->x[t][1] - 1000) / 1000;
        opt_succeed(r, t, -(a * a) - b * b);
        best = fmax(best, r->obs[t].score);
    }
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
    struct mp_node *set = opt_settings("{patience: 5}");
    struct mp_optimizer *opt = make(&s, 1, set);
    struct opt_run *r = opt_run_new();
    char reason[256] = "";
    for (size_t t = 0; t < 10; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t, t == 2 ? 100 : 1);
    }
    struct mp_history h = opt_run_history(r);
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
    set = opt_settings("{stop_on_ei: true}");
    opt = make(&s, 1, set);
    free(r);
    r = opt_run_new();
    for (size_t t = 0; t < 30; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t, 5.0);
    }
    h = opt_run_history(r);
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
        "{acquisition: pi}", "{initial: 0}",         "{restarts: -1}",
        "{beta: -1}",        "{warp: log}",          "{categorical: ordinal}",
        "{intial: 3}",       "{min_feasibility: 1}", "{acquisition: ucb, stop_on_ei: true}",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_node *set = opt_settings(bad[i]);
        struct mp_optimizer_opts o = {.max_trials = 10, .settings = set};
        struct mp_error err = {0};
        int rc = mp_optimizer_bo.validate(&s, &o, &err);
        if (rc != MP_EINVALID) {
            fail_msg("settings %s: got %d (%s), expected EINVALID", bad[i], rc, err.msg);
        }
        mp_doc_free(set);
    }
    struct mp_node *good = opt_settings("{acquisition: ucb, beta: 1.5, initial: 5, warp: rank, "
                                        "categorical: onehot, patience: 10, stop_on_ei: false, "
                                        "min_feasibility: 0.2}");
    struct mp_optimizer_opts o = {.max_trials = 10, .settings = good};
    struct mp_error err = {0};
    assert_int_equal(mp_optimizer_bo.validate(&s, &o, &err), 0);
    /* UCB with one-hot categoricals and rank warping runs too. */
    struct mp_optimizer *opt = make(&s, 2, good);
    struct opt_run *r = opt_run_new();
    for (size_t t = 0; t < 12; t++) {
        opt_suggest(opt, r);
        opt_succeed(r, t, objective(r->x[t]));
    }
    mp_optimizer_free(opt);
    mp_doc_free(good);
    free(r);
    mp_space_release(&s);
}

/* Constraint margins and the resource trend: on a space where the least CPU gives the best score
 * but breaks the latency limit 5 times over, `bo` stops proposing it after the first
 * violations, and more readily than with pass/fail labels. With `mixed`, the starved CPU is
 * feasible for one batching (batch 32, timeout 1000) at a score below the optimum, as the demo
 * measured it: the violations there still score higher than anything feasible. */
static size_t starved_trials(const char *settings, uint64_t seed, bool mixed)
{
    static const char text[] =
        "name: m\nparameters:\n"
        "  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: cpu}}\n"
        "  - {name: batch, type: discrete, values: [1, 2, 4, 8, 16, 32], log: true}\n"
        "  - {name: timeout, type: discrete, values: [0, 250, 1000]}\n"
        "objective: {metric: v}\nrunner: {kind: replay, surface: x.csv}\n";
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_parse(text, strlen(text), "m.yaml", NULL, NULL, 0, &spec, &err), 0);
    struct mp_node *set = opt_settings(settings);
    struct mp_optimizer *opt = opt_make("bo", &spec->space, seed, 16, set, NULL);
    struct opt_run *r = opt_run_new();
    size_t starved = 0;
    for (size_t t = 0; t < 16; t++) {
        opt_suggest(opt, r);
        double cpu = r->x[t][0], b = r->x[t][1];
        double score = log2(b) / cpu + 0.1 * r->x[t][2] / 1000;
        bool passes = mixed && b == 32 && r->x[t][2] == 1000;
        r->obs[t].has_margin = true;
        r->obs[t].margin =
            cpu == 0.5 ? log(passes ? 0.3 : 5.0) : log(0.2 * cpu / 2) + 0.01 * log2(b);
        if (cpu == 0.5 && mixed) {
            score *= passes ? 0.45 : 0.65; /* 4.5 against the optimum's 5.1; violations up to 6.5 */
        }
        if (cpu == 0.5 && !passes) {
            opt_violate(r, t, score);
            starved++;
        } else {
            opt_succeed(r, t, score);
        }
    }
    mp_optimizer_free(opt);
    free(r);
    mp_doc_free(set);
    mp_spec_free(spec);
    return starved;
}

static void test_constraint_margins(void **state)
{
    (void)state;
    size_t with = 0, without = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t m = starved_trials(NULL, seed, false);
        size_t l = starved_trials("{constraint_margins: false, monotone_resources: false, "
                                  "feasible_objective: false}",
                                  seed, false);
        if (m > 3) {
            fail_msg("seed %llu: %zu of 16 trials at the starved CPU with margins",
                     (unsigned long long)seed, m);
        }
        with += m;
        without += l;
    }
    if (with >= without) {
        fail_msg("margins: %zu trials at the starved CPU, labels %zu", with, without);
    }
}

/* The objective modelled on the feasible trials only: where the violations score above every
 * feasible configuration, a model of all values keeps promising their score next to the one
 * feasible point of the starved region. */
static void test_feasible_objective(void **state)
{
    (void)state;
    size_t with = 0, without = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t f = starved_trials(NULL, seed, true);
        size_t a = starved_trials("{feasible_objective: false}", seed, true);
        print_message("seed %llu: violations %zu feasible-only, %zu all values\n",
                      (unsigned long long)seed, f, a);
        with += f;
        without += a;
    }
    if (with > without) {
        fail_msg("feasible objective: %zu violations, all values %zu", with, without);
    }
}

/* The first 10 trials of a live `make demo` run (cpu, memory, workers, max_batch,
 * batch_timeout_us, p99 ms against the 10 ms limit, throughput per dollar): at 0.5 CPU only batch
 * 32 with a 1000 us timeout met the limit; batch 1 and 8 stalled on the CPU quota at ~50 ms. */
static const double demo_trials[10][7] = {
    {1.5, 256, 4, 4, 250, 3.077, 677735},   {0.5, 64, 1, 32, 1000, 1.571, 672706},
    {2, 64, 1, 1, 0, 1.036, 284740},        {0.5, 256, 4, 32, 1000, 1.673, 615945},
    {2, 256, 4, 32, 0, 1.202, 428067},      {0.5, 256, 4, 1, 1000, 51.295, 432730},
    {0.5, 256, 3, 8, 1000, 50.495, 808665}, {0.5, 128, 4, 8, 1000, 50.367, 854058},
    {1, 64, 4, 16, 1000, 1.086, 802391},    {1, 64, 4, 8, 1000, 1.218, 834272},
};

/* log P(feasible) of the margin model fitted on demo_trials, at every configuration of the
 * demo's space (864, in the order of the loops below) into lp. */
static void demo_feasibility(const char *settings, double *lp)
{
    static const char text[] =
        "name: m\nparameters:\n"
        "  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: cpu}}\n"
        "  - {name: memory, type: discrete, values: [64, 128, 256], target: {resource: memory}}\n"
        "  - {name: workers, type: int, min: 1, max: 4, role: workers}\n"
        "  - {name: max_batch, type: discrete, values: [1, 2, 4, 8, 16, 32], log: true}\n"
        "  - {name: batch_timeout_us, type: discrete, values: [0, 250, 1000]}\n"
        "objective: {metric: v}\nrunner: {kind: replay, surface: x.csv}\n";
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_parse(text, strlen(text), "m.yaml", NULL, NULL, 0, &spec, &err), 0);
    struct mp_node *set = opt_settings(settings);
    struct mp_optimizer *opt = opt_make("bo", &spec->space, 1, 16, set, NULL);
    struct opt_run *r = opt_run_new();
    for (size_t t = 0; t < MP_ARRAY_LEN(demo_trials); t++) {
        memcpy(r->x[t], demo_trials[t], 5 * sizeof(double));
        double p99 = demo_trials[t][5];
        if (p99 > 10) {
            opt_violate(r, t, demo_trials[t][6]);
        } else {
            opt_succeed(r, t, demo_trials[t][6]);
        }
        r->obs[t].has_margin = true;
        r->obs[t].margin = log(p99 / 10);
        r->n++;
    }
    const struct bo *bo = (const struct bo *)opt;
    struct mp_history h = opt_run_history(r);
    struct mp_rng rng;
    mp_history_rng(opt, &h, &rng);
    struct bo_model m;
    mp_bo_model_init(&m, bo);
    assert_true(mp_bo_fit_models(bo, &h, &rng, &m, &err) >= 0);
    assert_true(m.have_slo && m.slo_margin);
    m.have_best = false; /* the acquisition is then the feasibility terms alone */
    static const double mem[] = {64, 128, 256}, batch[] = {1, 2, 4, 8, 16, 32},
                        tmo[] = {0, 250, 1000};
    double *z = mp_xmalloc(864 * bo->dz * sizeof(double));
    double work[2 * 864];
    size_t n = 0;
    for (int c = 1; c <= 4; c++) {
        for (size_t k = 0; k < 3; k++) {
            for (int w = 1; w <= 4; w++) {
                for (size_t b = 0; b < 6; b++) {
                    for (size_t t = 0; t < 3; t++) {
                        double x[5] = {c * 0.5, mem[k], w, batch[b], tmo[t]};
                        mp_bo_encode(bo, x, z + n++ * bo->dz);
                    }
                }
            }
        }
    }
    mp_bo_acquisition(bo, &m, z, n, lp, work);
    free(z);
    mp_bo_model_release(&m);
    mp_optimizer_free(opt);
    free(r);
    mp_doc_free(set);
    mp_spec_free(spec);
}

/* Index of a configuration in demo_feasibility's order. */
static size_t demo_index(int c, size_t k, int w, size_t b, size_t t)
{
    return ((((size_t)(c - 1) * 3 + k) * 4 + (size_t)(w - 1)) * 6 + b) * 3 + t;
}

/* Pairs (configuration, the same with one resource raised) where the raised one is less likely
 * feasible. */
static size_t monotone_breaks(const double *lp)
{
    size_t cpu = demo_index(2, 0, 1, 0, 0), mem = demo_index(1, 1, 1, 0, 0), breaks = 0;
    for (size_t i = 0; i < 864; i++) {
        for (size_t up = i + cpu; up < 864; up += cpu) {
            breaks += lp[up] < lp[i] - 1e-9;
        }
        for (size_t up = i + mem; up / (3 * mem) == i / (3 * mem); up += mem) {
            breaks += lp[up] < lp[i] - 1e-9;
        }
    }
    return breaks;
}

/* monotone_resources: the margin model's probability of feasibility never falls when one resource
 * is raised (every level of the demo's space was measured). Without it the residual model, which
 * explains the demo's 0.5 CPU results partly by memory, finds 64 MiB safer than 256 MiB there. */
static void test_monotone_feasibility(void **state)
{
    (void)state;
    double *lp = mp_xmalloc(864 * sizeof(double));
    demo_feasibility("{min_feasibility: 0}", lp); /* no last-resort penalty: the bare probability */
    assert_int_equal(monotone_breaks(lp), 0);
    /* The configuration the live run tried next and which stalled (p99 50 ms): beside two
     * batch-8 failures at 0.5 CPU with more memory. */
    double next = exp(lp[demo_index(1, 0, 2, 3, 2)]);
    demo_feasibility("{min_feasibility: 0, monotone_resources: false}", lp);
    double before = exp(lp[demo_index(1, 0, 2, 3, 2)]);
    print_message("P(feasible) of 0.5 CPU / 64 MiB / 2 workers / batch 8 / 1000 us: %.3g, "
                  "%.3g without monotone_resources; %zu breaks without\n",
                  next, before, monotone_breaks(lp));
    if (monotone_breaks(lp) == 0) {
        fail_msg("the residual model alone is monotone here: the test checks nothing");
    }
    if (next >= before) {
        fail_msg("P(feasible) %.3f, without monotone_resources %.3f", next, before);
    }
    free(lp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finds_optimum),
        cmocka_unit_test(test_same_seed_same_sequence),
        cmocka_unit_test(test_scale_free),
        cmocka_unit_test(test_parallel_no_duplicates),
        cmocka_unit_test(test_exhausts_small_space),
        cmocka_unit_test(test_exhausts_sampled_space),
        cmocka_unit_test(test_feasibility_from_failures),
        cmocka_unit_test(test_slo_violations),
        cmocka_unit_test(test_constraint_margins),
        cmocka_unit_test(test_feasible_objective),
        cmocka_unit_test(test_monotone_feasibility),
        cmocka_unit_test(test_continuous),
        cmocka_unit_test(test_should_stop),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
