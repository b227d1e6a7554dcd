/* SPDX-License-Identifier: Apache-2.0 */
/* Optimizer registry and helpers shared by the back ends. */
#include "optimizer/optimizer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

static const struct mp_optimizer_ops *const registry[] = {
    &mp_optimizer_grid, &mp_optimizer_random, &mp_optimizer_bo, &mp_optimizer_morphling, NULL,
};

const struct mp_optimizer_ops *const *mp_optimizer_all(void)
{
    return registry;
}

const struct mp_optimizer_ops *mp_optimizer_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}

int mp_optimizer_new(const char *name, const struct mp_space *space,
                     const struct mp_optimizer_opts *opts, struct mp_optimizer **out,
                     struct mp_error *err)
{
    const struct mp_optimizer_ops *ops = mp_optimizer_find(name);
    if (!ops) {
        struct mp_buf known = MP_BUF_INIT;
        for (size_t i = 0; registry[i]; i++) {
            mp_buf_addf(&known, "%s%s", i ? ", " : "", registry[i]->name);
        }
        int rc = mp_error_set(err, MP_EINVALID, "unknown algorithm '%s' (available: %s)", name,
                              known.data);
        mp_buf_release(&known);
        return rc;
    }
    int rc = ops->create(space, opts, out, err);
    if (rc == 0) {
        (*out)->ops = ops;
        (*out)->space = space;
        (*out)->opts = *opts;
    }
    return rc;
}

int mp_optimizer_suggest(struct mp_optimizer *opt, const struct mp_history *h, double *x,
                         struct mp_error *err)
{
    return opt->ops->suggest(opt, h, x, err);
}

void mp_optimizer_free(struct mp_optimizer *opt)
{
    if (opt) {
        opt->ops->free(opt);
    }
}

void mp_history_keys(const struct mp_space *space, const struct mp_history *h,
                     struct mp_strset *keys)
{
    for (size_t i = 0; i < h->n; i++) {
        char *k = mp_space_key(space, h->obs[i].x);
        mp_strset_add(keys, k);
        free(k);
    }
}

bool mp_optimizer_taken(const struct mp_optimizer *opt, const struct mp_strset *tried,
                        const char *key, const double *x)
{
    return mp_strset_has(tried, key) ||
           (opt->opts.excluded && opt->opts.excluded(opt->opts.excluded_ctx, x));
}

int mp_optimizer_exhausted(const struct mp_optimizer *opt, uint64_t count, struct mp_error *err)
{
    char all[48] = "all configurations";
    if (count > 0) {
        snprintf(all, sizeof(all), "all %llu configurations", (unsigned long long)count);
    }
    if (!opt->opts.excluded) {
        return mp_error_set(err, MP_EEXHAUSTED, "%s have been tried", all);
    }
    return mp_error_set(err, MP_EEXHAUSTED, "%s have been tried or break %s before a trial", all,
                        opt->opts.excluded_why ? opt->opts.excluded_why : "a constraint");
}

void mp_history_rng(const struct mp_optimizer *opt, const struct mp_history *h, struct mp_rng *rng)
{
    mp_rng_init(rng, mp_mix64(opt->opts.seed, (uint64_t)h->n + 1));
}

bool mp_observation_informative(const struct mp_observation *o)
{
    if (o->state == MP_TRIAL_SUCCEEDED) {
        return true;
    }
    return o->state == MP_TRIAL_FAILED && o->failure != MP_FAILURE_INFRA;
}

size_t mp_history_since_best(const struct mp_history *h, double *best)
{
    return mp_history_stalls(h, best, NULL);
}

size_t mp_history_stalls(const struct mp_history *h, double *best, size_t *longest)
{
    size_t since = 0, most = 0;
    double b = NAN;
    for (size_t i = 0; i < h->n; i++) {
        const struct mp_observation *o = &h->obs[i];
        if (!mp_observation_informative(o)) {
            continue;
        }
        if (o->has_value && isfinite(o->score) && o->feasible && (isnan(b) || o->score > b)) {
            b = o->score;
            since = 0;
        } else {
            since++;
            most = since > most ? since : most;
        }
    }
    if (best) {
        *best = b;
    }
    if (longest) {
        *longest = most;
    }
    return since;
}

bool mp_history_should_stop(const struct mp_optimizer *opt, const struct mp_history *h,
                            int64_t patience, char *reason, size_t reason_len)
{
    if (opt->opts.max_trials > 0 && (int64_t)h->n >= opt->opts.max_trials) {
        snprintf(reason, reason_len, "budget of %lld trials spent",
                 (long long)opt->opts.max_trials);
        return true;
    }
    if (patience <= 0) {
        return false;
    }
    double best;
    size_t since = mp_history_since_best(h, &best);
    if (since < (size_t)patience) {
        return false;
    }
    if (!isnan(best)) {
        char num[MP_FMT_DOUBLE_MAX];
        snprintf(reason, reason_len, "no improvement in the last %zu trials (best %s)", since,
                 mp_fmt_double(num, best));
    } else {
        snprintf(reason, reason_len, "no feasible trial in the last %zu trials", since);
    }
    return true;
}

void mp_optimizer_prior_notice(const struct mp_meta_binding *b,
                               const struct mp_optimizer_opts *opts)
{
    if (!opts || opts->notice_size == 0) {
        return;
    }
    char found[MP_ERROR_MSG_MAX];
    if (mp_meta_binding_mismatch(b, found, sizeof(found))) {
        snprintf(opts->notice, opts->notice_size, "prior %s: %s", opts->prior_path, found);
    }
}
