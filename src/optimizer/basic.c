/* SPDX-License-Identifier: Apache-2.0 */
/* The two model-free back ends: grid (enumeration order) and random (uniform, no repeats). */
#include "optimizer/optimizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int plain_create(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                        struct mp_optimizer **out, struct mp_error *err)
{
    (void)space;
    (void)opts;
    (void)err;
    *out = mp_xcalloc(1, sizeof(**out));
    return 0;
}

static void plain_free(struct mp_optimizer *opt)
{
    free(opt);
}

static int grid_validate(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                         struct mp_error *err)
{
    (void)opts;
    for (size_t i = 0; i < space->n; i++) {
        if (mp_space_levels(space, i) == 0) {
            return mp_error_set(err, MP_EINVALID,
                                "algorithm 'grid' needs a finite space: give float parameter "
                                "'%s' a step",
                                space->params[i].name);
        }
    }
    uint64_t count;
    if (!mp_space_count(space, &count)) {
        return mp_error_set(err, MP_EINVALID,
                            "algorithm 'grid': the space is too large to "
                            "enumerate (more than 2^64 configurations)");
    }
    return 0;
}

/* The first configuration in enumeration order that the history does not hold (nor the
 * options exclude). Scans at most history-length + 1 indices when none is excluded, so huge
 * spaces cost nothing extra; runs of excluded ones are skipped as opts.skip says. */
static int grid_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                        struct mp_error *err)
{
    const struct mp_space *space = opt->space;
    uint64_t count;
    if (!mp_space_count(space, &count)) {
        return mp_error_set(err, MP_EINVALID, "grid: space not enumerable");
    }
    struct mp_strset seen = MP_STRSET_INIT;
    mp_history_keys(space, h, &seen);
    int rc = mp_optimizer_exhausted(opt, count, err);
    for (uint64_t i = 0; i < count;) {
        mp_space_from_index(space, i, x);
        char *k = mp_space_key(space, x);
        bool tried = mp_strset_has(&seen, k), used = mp_optimizer_taken(opt, &seen, k, x);
        free(k);
        if (!used) {
            mp_error_clear(err);
            rc = 0;
            break;
        }
        /* Past the run of excluded configurations this one starts (the options know it). */
        i = !tried && opt->opts.skip ? opt->opts.skip(opt->opts.excluded_ctx, i) : i + 1;
    }
    mp_strset_release(&seen);
    return rc;
}

/* How many of the first `count` configurations in enumeration order are neither tried nor
 * excluded; with x_at, writes the pick-th of them (0-based) to x_at instead. */
static uint64_t untried(const struct mp_optimizer *opt, const struct mp_strset *seen,
                        uint64_t count, uint64_t pick, double *x_at)
{
    uint64_t n = 0;
    double *x = x_at ? x_at : mp_xmalloc(opt->space->n * sizeof(double));
    for (uint64_t i = 0; i < count; i++) {
        mp_space_from_index(opt->space, i, x);
        char *k = mp_space_key(opt->space, x);
        bool used = mp_optimizer_taken(opt, seen, k, x);
        free(k);
        if (!used && x_at && n == pick) {
            return n;
        }
        n += used ? 0 : 1;
    }
    if (!x_at) {
        free(x);
    }
    return n;
}

/* Uniform over untried configurations: rejection sampling while the space is mostly untried,
 * then an exact pick among the untried ones by enumeration. Configurations the options
 * exclude count as tried (more samples are drawn: they may be most of the space). */
static int random_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                          struct mp_error *err)
{
    const struct mp_space *space = opt->space;
    struct mp_rng rng;
    mp_history_rng(opt, h, &rng);
    struct mp_strset seen = MP_STRSET_INIT;
    mp_history_keys(space, h, &seen);
    uint64_t count = 0;
    bool finite = mp_space_count(space, &count);
    int rc = 0;
    size_t tries = finite && (double)seen.count > 0.5 * (double)count ? 0
                   : opt->opts.excluded                               ? 1024
                                                                      : 64;
    for (size_t t = 0; t < tries; t++) {
        mp_space_sample(space, &rng, x);
        char *k = mp_space_key(space, x);
        bool used = mp_optimizer_taken(opt, &seen, k, x);
        free(k);
        if (!used) {
            goto out;
        }
    }
    /* The exact pick enumerates the space: at most twice the history, or the sampling above
     * missed what exclusions leave of a space of at most 2^20 configurations. */
    uint64_t left = 0;
    bool exact =
        finite && ((double)seen.count > 0.5 * (double)count || count <= ((uint64_t)1 << 20));
    if (exact && seen.count < count) {
        left = untried(opt, &seen, count, 0, NULL);
    }
    if (left == 0 && !exact && opt->opts.excluded) {
        /* Not exhausted, as far as anyone knows: what the exclusions leave is too rare to
         * sample (a price limit met by a sliver of a continuous space). */
        rc =
            mp_error_set(err, MP_EEXHAUSTED,
                         "none of %zu samples was untried and clear of %s: the configurations it "
                         "leaves are too few to sample; narrow the parameters' ranges to them",
                         tries, opt->opts.excluded_why ? opt->opts.excluded_why : "the exclusions");
        goto out;
    }
    if (left == 0) {
        rc = mp_optimizer_exhausted(opt, finite ? count : 0, err);
        goto out;
    }
    untried(opt, &seen, count, mp_rng_below(&rng, left), x);
out:
    mp_strset_release(&seen);
    return rc;
}

/* Neither settings nor a prior. */
static int no_settings(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                       struct mp_error *err)
{
    (void)space;
    if (opts->settings && opts->settings->n > 0) {
        return mp_doc_error(err, opts->settings->items[0], "this algorithm takes no settings");
    }
    if (opts->prior_path) { /* it would run cold under a prior's name */
        return mp_error_set(err, MP_EINVALID,
                            "this algorithm takes no prior (algorithm.prior: bo and morphling "
                            "use one)");
    }
    return 0;
}

static int grid_check(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                      struct mp_error *err)
{
    int rc = no_settings(space, opts, err);
    return rc ? rc : grid_validate(space, opts, err);
}

/* Creation checks what validation does, as bo's does: a caller that never validated (a replay)
 * gets the same errors as `morphling validate`. */
static int grid_new(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                    struct mp_optimizer **out, struct mp_error *err)
{
    int rc = grid_check(space, opts, err);
    return rc ? rc : plain_create(space, opts, out, err);
}

static int random_new(const struct mp_space *space, const struct mp_optimizer_opts *opts,
                      struct mp_optimizer **out, struct mp_error *err)
{
    int rc = no_settings(space, opts, err);
    return rc ? rc : plain_create(space, opts, out, err);
}

const struct mp_optimizer_ops mp_optimizer_grid = {
    .name = "grid",
    .takes_no_settings = true,
    .summary = "every configuration in order (first parameter slowest)",
    .validate = grid_check,
    .create = grid_new,
    .suggest = grid_suggest,
    .free = plain_free,
};

const struct mp_optimizer_ops mp_optimizer_random = {
    .name = "random",
    .takes_no_settings = true,
    .summary = "uniformly random configurations, never repeated",
    .validate = no_settings,
    .create = random_new,
    .suggest = random_suggest,
    .free = plain_free,
};
