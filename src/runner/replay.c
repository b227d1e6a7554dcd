/* SPDX-License-Identifier: Apache-2.0 */
/* The replay runner: answers trials from a recorded surface CSV. Every non-parameter column but
 * a trial export's number and state is reported as a metric (its cells are numbers, or empty
 * where nothing was measured); an optional
 * `failure` column holding a failure class name (e.g. OOM_KILLED) makes that configuration fail.
 * Creating the runner (and so `validate`) checks the cells and that every metric the spec judges
 * by is a column or derived. Settings (the spec's runner map):
 *   kind: replay
 *   surface: path.csv        required, relative to the spec
 *   delay: 50ms              optional simulated trial duration */
#include "runner/runner.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "settings/settings.h"
#include "surface/surface.h"

struct replay_runner {
    struct mp_runner base;
    struct mp_surface *surface;
    struct mp_surface_index *index;
    int failure_col;
    int64_t delay_ms;
};

struct replay_settings {
    const char *surface;
    int64_t delay_ns;
};

#define FIELD(f) offsetof(struct replay_settings, f)
static const struct mp_setting replay_table[] = {
    {MP_SETTING_KEY("kind", MP_SETTING_IGNORED, 0)},
    {MP_SETTING_KEY("trial_timeout", MP_SETTING_IGNORED, 0)}, /* the spec's (spec.c) */
    {MP_SETTING_KEY("surface", MP_SETTING_STRING, FIELD(surface))},
    {MP_SETTING_KEY("delay", MP_SETTING_DURATION, FIELD(delay_ns))},
    {.name = NULL},
};
#undef FIELD

static bool any_number(const struct mp_surface *s, size_t c)
{
    for (size_t r = 0; r < s->n_rows; r++) {
        if (!isnan(s->numbers[r * s->n_cols + c])) {
            return true;
        }
    }
    return false;
}

/* Whether a column of this name is a trial export's own (number, state), never a metric: a
 * metric of either name gave the export two columns of that name, which no replay reads. */
static bool export_own(const char *name)
{
    return strcmp(name, "number") == 0 || strcmp(name, "state") == 0;
}

/* Every column but the parameters, `failure` and the export's own is reported as a metric. */
static bool metric_column(const struct mp_space *space, const struct replay_runner *r, size_t c)
{
    const char *name = r->surface->header[c];
    return !export_own(name) && (int)c != r->failure_col && mp_space_find(space, name) < 0;
}

/* A metric cell is a number, or empty (not measured, as on a failed row). A column without any
 * number is no metric but a label, such as a recorded parameter this spec does not tune (a
 * metric the spec names must be numeric: check_named_metrics). */
static int check_metric_cells(const struct mp_spec *spec, const struct replay_runner *r,
                              struct mp_error *err)
{
    const struct mp_surface *s = r->surface;
    for (size_t c = 0; c < s->n_cols; c++) {
        if (metric_column(&spec->space, r, c) && any_number(s, c)) {
            int rc = mp_surface_check_numeric(s, c, "metric column", err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* A metric the spec judges trials by (objectives, constraints) must be a numeric column of the
 * surface, unless the spec derives it (from the cost table or a batch_size role). */
static int check_named_metrics(const struct mp_spec *spec, const struct mp_surface *s,
                               struct mp_error *err)
{
    for (size_t i = 0; i < spec->n_objectives + spec->n_constraints; i++) {
        const struct mp_node *at = NULL;
        const char *metric = mp_spec_judged_metric(spec, i, &at);
        int c = mp_surface_column(s, metric);
        if (mp_spec_metric_derived(spec, metric)) {
            continue;
        }
        if (c < 0) {
            return mp_doc_error(err, at, "the surface %s has no column \"%s\"", s->path, metric);
        }
        if (export_own(metric)) {
            return mp_doc_error(err, at,
                                "the surface's column \"%s\" is no metric (a trial export's "
                                "own column): every trial would fail without a value",
                                metric);
        }
        int rc = mp_surface_check_numeric(s, (size_t)c, "metric column", err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int load(const struct mp_spec *spec, struct replay_runner *r, struct mp_error *err)
{
    const struct mp_node *n = spec->runner_node;
    struct mp_node *path = NULL;
    struct replay_settings set = {NULL, 0};
    int rc;
    if (!n) {
        return mp_error_set(err, MP_EINVALID, "%s: runner 'replay' needs runner.surface",
                            spec->source);
    }
    if ((rc = mp_settings_parse(n, replay_table, &set, err)) != 0 ||
        (rc = mp_doc_require(n, "surface", &path, err)) != 0) {
        return rc;
    }
    r->delay_ms = set.delay_ns / 1000000;
    char *full = mp_spec_resolve_path(spec, set.surface);
    rc = mp_surface_load(full, &r->surface, err);
    free(full);
    if (rc != 0) {
        return mp_error_prefix(err, rc, "%s:%u:%u: 'runner.surface'", path->file, path->line,
                               path->col);
    }
    if ((rc = mp_surface_index_new(r->surface, &spec->space, &r->index, err)) != 0) {
        return mp_error_prefix(err, rc, "%s:%u:%u: 'runner.surface'", path->file, path->line,
                               path->col);
    }
    r->failure_col = mp_surface_column(r->surface, "failure");
    if ((rc = check_metric_cells(spec, r, err)) != 0) {
        return mp_error_prefix(err, rc, "%s:%u:%u: 'runner.surface'", path->file, path->line,
                               path->col);
    }
    return check_named_metrics(spec, r->surface, err);
}

static void replay_free(struct mp_runner *base)
{
    struct replay_runner *r = (struct replay_runner *)base;
    mp_surface_index_free(r->index);
    mp_surface_free(r->surface);
    free(r);
}

static int replay_create(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    struct replay_runner *r = mp_xcalloc(1, sizeof(*r));
    int rc = load(spec, r, err);
    if (rc != 0) {
        replay_free(&r->base);
        return rc;
    }
    *out = &r->base;
    return 0;
}

static int replay_validate(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_runner *r = NULL;
    int rc = replay_create(spec, &r, err);
    if (rc == 0) {
        replay_free(r);
    }
    return rc;
}

/* Sleeps up to ms, waking early on cancel. Returns true if cancelled. */
static bool wait_cancellable(int64_t ms, const atomic_bool *cancel)
{
    int64_t deadline = mp_mono_ns() + ms * 1000000;
    while (mp_mono_ns() < deadline) {
        if (cancel && atomic_load(cancel)) {
            return true;
        }
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    return cancel && atomic_load(cancel);
}

static int replay_run(struct mp_runner *base, const struct mp_trial_request *req,
                      struct mp_trial_result *res, const atomic_bool *cancel)
{
    struct replay_runner *r = (struct replay_runner *)base;
    const struct mp_space *space = &base->spec->space;
    int64_t wait_ms = r->delay_ms;
    bool timed_out = req->timeout_ms > 0 && wait_ms > req->timeout_ms;
    if (timed_out) {
        wait_ms = req->timeout_ms;
    }
    if (wait_ms > 0 && wait_cancellable(wait_ms, cancel)) {
        res->state = MP_TRIAL_CANCELLED;
        return 0;
    }
    if (timed_out) {
        mp_trial_result_fail(res, MP_FAILURE_TIMEOUT, "still running after %lld ms",
                             (long long)req->timeout_ms);
        return 0;
    }
    long row = mp_surface_index_lookup(r->index, req->x);
    if (row < 0) {
        char *key = mp_space_key(space, req->x);
        mp_trial_result_fail(res, MP_FAILURE_NOT_RECORDED, "%s has no row for %s", r->surface->path,
                             key);
        free(key);
        return 0;
    }
    const struct mp_surface *s = r->surface;
    for (size_t c = 0; c < s->n_cols; c++) {
        double v = s->numbers[(size_t)row * s->n_cols + c];
        if (metric_column(space, r, c) && !isnan(v)) {
            mp_metrics_set(&res->metrics, s->header[c], v);
        }
    }
    if (r->failure_col >= 0) {
        const char *f = s->cells[(size_t)row * s->n_cols + (size_t)r->failure_col];
        if (*f) {
            /* mp_surface_parse accepts only failure class names here. */
            mp_trial_result_fail(res, (enum mp_failure)mp_failure_parse(f), "recorded failure: %s",
                                 f);
        }
    }
    json_t *meta = json_pack("{s:s, s:I}", "surface", s->path, "row", (json_int_t)s->lines[row]);
    char *text = json_dumps(meta, JSON_COMPACT);
    res->meta_json = mp_xstrdup(text ? text : "{}");
    free(text);
    json_decref(meta);
    return 0;
}

const struct mp_runner_ops mp_runner_replay = {
    .name = "replay",
    /* Run inline, oldest trial first, so replays with parallelism > 1 stay deterministic. */
    .concurrent = false,
    .validate = replay_validate,
    .create = replay_create,
    .run = replay_run,
    .free = replay_free,
};
