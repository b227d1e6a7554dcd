/* SPDX-License-Identifier: Apache-2.0 */
/* The optimizer test harness shared by the optimizer unit tests: a recorded run (trials'
 * configurations and observations side by side), optimizers and settings that must build, and
 * suggestions checked the way the engine relies on (inside the space, never a repeat). */
#ifndef MP_TEST_OPTLIB_H
#define MP_TEST_OPTLIB_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "optimizer/optimizer.h"

#define OPT_MAX_TRIALS 128
#define OPT_MAX_PARAMS 8

struct opt_run {
    double x[OPT_MAX_TRIALS][OPT_MAX_PARAMS]; /* unused parameters stay 0 */
    struct mp_observation obs[OPT_MAX_TRIALS];
    size_t n;
};

/* An empty run. Returns owned (free()). */
static inline struct opt_run *opt_run_new(void)
{
    struct opt_run *r = mp_xcalloc(1, sizeof(*r));
    for (size_t i = 0; i < OPT_MAX_TRIALS; i++) {
        r->obs[i].x = r->x[i];
    }
    return r;
}

static inline struct mp_history opt_run_history(const struct opt_run *r)
{
    struct mp_history h = {r->obs, r->n};
    return h;
}

/* Settings parsed from YAML text; NULL for NULL. Returns owned (mp_doc_free). */
static inline struct mp_node *opt_settings(const char *yaml)
{
    struct mp_node *n = NULL;
    struct mp_error err = {0};
    if (yaml && mp_doc_parse(yaml, strlen(yaml), "settings", &n, &err) != 0) {
        fail_msg("settings %s: %s", yaml, err.msg);
    }
    return n;
}

/* Optimizer `name` on space (borrowed, as are settings and prior, which must outlive it); fails
 * the test when it cannot be built. Returns owned (mp_optimizer_free). */
static inline struct mp_optimizer *opt_make(const char *name, const struct mp_space *space,
                                            uint64_t seed, int64_t max_trials,
                                            const struct mp_node *settings, const char *prior)
{
    struct mp_optimizer_opts o = {
        .seed = seed, .max_trials = max_trials, .settings = settings, .prior_path = prior};
    struct mp_optimizer *opt = NULL;
    struct mp_error err = {0};
    if (mp_optimizer_new(name, space, &o, &opt, &err) != 0) {
        fail_msg("%s: %s", name, err.msg);
    }
    return opt;
}

/* Asks opt for the run's next trial, checks that it lies in the space and repeats no trial of
 * the run, and records it RUNNING. Returns its configuration. */
static inline double *opt_suggest(struct mp_optimizer *opt, struct opt_run *r)
{
    struct mp_history h = opt_run_history(r);
    struct mp_error err = {0};
    double *x = r->x[r->n];
    assert_true(r->n < OPT_MAX_TRIALS && opt->space->n <= OPT_MAX_PARAMS);
    int rc = mp_optimizer_suggest(opt, &h, x, &err);
    if (rc != 0) {
        fail_msg("suggest %zu: %s (%s)", r->n + 1, mp_strerror(rc), err.msg);
    }
    if (mp_space_check(opt->space, x, &err) != 0) {
        fail_msg("suggestion %zu is not in the space: %s", r->n + 1, err.msg);
    }
    char *key = mp_space_key(opt->space, x);
    for (size_t i = 0; i < r->n; i++) {
        char *k = mp_space_key(opt->space, r->x[i]);
        bool same = strcmp(k, key) == 0;
        free(k);
        if (same) {
            fail_msg("trial %zu repeats trial %zu: %s", r->n + 1, i + 1, key);
        }
    }
    free(key);
    struct mp_observation *o = &r->obs[r->n++];
    memset(o, 0, sizeof(*o));
    o->x = x;
    o->state = MP_TRIAL_RUNNING;
    return x;
}

/* Trial i succeeded with a score (the objective, larger is better). */
static inline void opt_succeed(struct opt_run *r, size_t i, double score)
{
    struct mp_observation *o = &r->obs[i];
    o->state = MP_TRIAL_SUCCEEDED;
    o->failure = MP_FAILURE_NONE;
    o->has_value = true;
    o->feasible = true;
    o->score = score;
}

/* Trial i failed without a measurement (a crash, an OOM kill...). */
static inline void opt_fail(struct opt_run *r, size_t i, enum mp_failure failure)
{
    struct mp_observation *o = &r->obs[i];
    o->state = MP_TRIAL_FAILED;
    o->failure = failure;
    o->has_value = false;
    o->feasible = false;
    o->score = 0;
}

/* Trial i was measured at score but violated the SLO. */
static inline void opt_violate(struct opt_run *r, size_t i, double score)
{
    opt_succeed(r, i, score);
    r->obs[i].state = MP_TRIAL_FAILED;
    r->obs[i].failure = MP_FAILURE_SLO_VIOLATED;
    r->obs[i].feasible = false;
}

#endif
