/* SPDX-License-Identifier: Apache-2.0 */
/* Replays a search on a recorded surface through the real engine and an in-memory store. */
#include "replay/replay.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "optimizer/optimizer.h"
#include "runner/runner.h"
#include "spec/spec.h"
#include "store/store.h"

/* Distinct parameter values of a replay's space, all parameters together. */
#define MAX_VALUES 10000u

bool mp_replay_within(double value, double optimum, double fraction, bool minimize)
{
    double slack = (1.0 - fraction) * fabs(optimum);
    return minimize ? value <= optimum + slack : value >= optimum - slack;
}

/* The experiment spec for this replay, as JSON text (algorithm settings are added by
 * replay_spec_doc). */
static char *replay_spec_json(const struct mp_surface *s, const struct mp_space *space,
                              const char *objective, const struct mp_replay_opts *o)
{
    json_t *params = json_array();
    for (size_t i = 0; i < space->n; i++) {
        const struct mp_param *p = &space->params[i];
        json_t *vals = json_array();
        char buf[MP_FMT_DOUBLE_MAX];
        for (uint64_t k = 0; k < mp_space_levels(space, i); k++) {
            const char *t = mp_space_format(space, i, mp_space_level_value(space, i, k), buf);
            json_array_append_new(vals, p->type == MP_PARAM_CATEGORICAL
                                            ? json_string(t)
                                            : json_real(mp_space_level_value(space, i, k)));
        }
        json_t *param = json_pack("{s:s, s:s, s:o}", "name", p->name, "type",
                                  mp_param_type_name(p->type), "values", vals);
        if (p->role) {
            json_object_set_new(param, "role", json_string(p->role));
        }
        json_array_append_new(params, param);
    }
    json_t *algo = json_pack("{s:s, s:I, s:I}", "name", o->algorithm ? o->algorithm : "random",
                             "max_trials", (json_int_t)(o->budget > 0 ? o->budget : 40), "seed",
                             (json_int_t)(o->seed & INT64_MAX));
    if (o->prior_path) {
        json_object_set_new(algo, "prior", json_string(o->prior_path));
    }
    json_t *root = json_pack("{s:s, s:o, s:{s:s, s:s}, s:o, s:{s:s, s:s}}", "name", "replay",
                             "parameters", params, "objective", "metric", objective, "direction",
                             o->minimize ? "minimize" : "maximize", "algorithm", algo, "runner",
                             "kind", "replay", "surface", s->path);
    char *text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    char *out = mp_xstrdup(text ? text : "{}");
    free(text);
    return out;
}

/* Gives node n and everything under it the position of what it came from, so that an error
 * names the user's file or option instead of the generated document. */
static void place(struct mp_node *n, const char *file, unsigned line, unsigned col,
                  const char *path)
{
    free(n->file);
    n->file = mp_xstrdup(file);
    n->line = line;
    n->col = col;
    free(n->path);
    n->path = mp_xstrdup(path);
    for (size_t i = 0; n->kind != MP_NODE_SCALAR && i < n->n; i++) {
        place(n->items[i], file, line, col, path);
    }
}

/* The last --role entry for column name (the one mp_surface_set_roles applied), or NULL. */
static const char *role_entry(const struct mp_replay_opts *o, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < o->n_roles; i++) {
        if (mp_surface_role_names(o->roles[i], name)) {
            found = o->roles[i];
        }
    }
    return found;
}

/* A --role on a column that is no parameter of the replay (a metric) would go nowhere without a
 * word. (bench-search's and meta train's roles may name columns some of their surfaces lack.) */
static int check_roles(const struct mp_surface *s, const struct mp_space *space,
                       const struct mp_replay_opts *o, struct mp_error *err)
{
    for (size_t i = 0; i < o->n_roles; i++) {
        bool param = false;
        for (size_t c = 0; c < space->n && !param; c++) {
            param = mp_surface_role_names(o->roles[i], space->params[c].name);
        }
        if (param || (!mp_surface_has_role_column(s, o->roles[i]) && o->roles_of_other_surfaces)) {
            continue; /* a parameter, or another surface's column */
        }
        int len = (int)strcspn(o->roles[i], "=");
        return mp_error_set(err, MP_EINVALID,
                            "role \"%s\": '%.*s' is not a parameter column (roles are for "
                            "parameters)",
                            o->roles[i], len, o->roles[i]);
    }
    return 0;
}

/* The replay's spec document: every node that comes from the surface carries its header cell's
 * position, a role its --role entry, and the settings are the --settings document itself. */
static int replay_spec_doc(const struct mp_surface *s, const struct mp_space *space, int obj,
                           const struct mp_replay_opts *o, struct mp_node **out,
                           struct mp_error *err)
{
    if (o->settings) {
        int rc = mp_doc_expect(o->settings, MP_NODE_MAP, err);
        if (rc != 0) {
            return rc;
        }
    }
    char *json = replay_spec_json(s, space, s->header[obj], o);
    struct mp_node *doc = NULL;
    int rc = mp_doc_parse(json, strlen(json), "<replay>", &doc, err);
    free(json);
    if (rc != 0) {
        return rc;
    }
    struct mp_node *params = mp_doc_get(doc, "parameters");
    place(params, s->path, 1, 1, "the parameter columns");
    for (size_t i = 0; i < params->n; i++) {
        const char *name = space->params[i].name;
        size_t c = (size_t)mp_surface_column(s, name);
        place(params->items[i], s->path, 1, (unsigned)s->header_col[c], name);
        struct mp_node *role = mp_doc_get(params->items[i], "role");
        if (role && role_entry(o, name)) {
            place(role, "--role", 1, 1, role_entry(o, name));
        }
    }
    place(mp_doc_get(mp_doc_get(doc, "objective"), "metric"), s->path, 1,
          (unsigned)s->header_col[obj], s->header[obj]);
    if (o->settings) {
        mp_doc_map_put(mp_doc_get(doc, "algorithm"), "settings", mp_doc_clone(o->settings));
    }
    *out = doc;
    return 0;
}

/* What a trial on row r reports for the metric the spec derives (items_per_s with a batch_size
 * role): the row's metrics with the engine's derived ones over them, as the replay runner and
 * the engine report them. NAN when the row has none. */
static double derived_value(const struct mp_surface *s, const struct mp_spec *spec, size_t r,
                            const char *metric, double *x)
{
    const struct mp_space *space = &spec->space;
    for (size_t i = 0; i < space->n; i++) {
        int c = mp_surface_column(s, space->params[i].name);
        /* a choice as the space read it: an export's '-O2 is the choice -O2 */
        if (c < 0 ||
            mp_space_parse(space, i, mp_surface_choice(s, r, (size_t)c), &x[i], NULL) != 0) {
            return NAN;
        }
    }
    struct mp_metrics m = MP_METRICS_INIT;
    for (size_t c = 0; c < s->n_cols; c++) {
        double v = s->numbers[r * s->n_cols + c];
        if (!isnan(v) && mp_space_find(space, s->header[c]) < 0) {
            mp_metrics_set(&m, s->header[c], v);
        }
    }
    mp_spec_derive_metrics(spec, x, &m);
    double v;
    if (!mp_metrics_get(&m, metric, &v)) {
        v = NAN;
    }
    mp_metrics_release(&m);
    return v;
}

/* The best objective a trial can report on the surface: the column's best, or where the spec
 * derives the objective, the best of what it derives (the trials report that, not the column). */
static double surface_optimum(const struct mp_surface *s, const struct mp_spec *spec, int obj,
                              int failure, bool minimize)
{
    bool derived = mp_spec_metric_derived(spec, s->header[obj]);
    double *x = mp_xcalloc(spec->space.n + 1, sizeof(double));
    double opt = NAN;
    for (size_t r = 0; r < s->n_rows; r++) {
        double v = s->numbers[r * s->n_cols + (size_t)obj];
        bool failed = failure >= 0 && s->cells[r * s->n_cols + (size_t)failure][0];
        if (derived && !failed) {
            v = derived_value(s, spec, r, s->header[obj], x);
        }
        if (isnan(v) || failed) {
            continue;
        }
        if (isnan(opt) || (minimize ? v < opt : v > opt)) {
            opt = v;
        }
    }
    free(x);
    return opt;
}

static int collect(struct mp_store *st, int64_t exp_id, const char *objective, bool minimize,
                   struct mp_replay_outcome *out, struct mp_error *err)
{
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(st, exp_id, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    size_t d = out->space.n;
    out->n_trials = n;
    out->x = mp_xcalloc(n * d + 1, sizeof(double));
    out->value = mp_xcalloc(n + 1, sizeof(double));
    out->failure = mp_xcalloc(n + 1, sizeof(*out->failure));
    out->best = -1;
    double best = NAN;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = mp_space_config_from_json(&out->space, rows[i].params_json, &out->x[i * d], err);
        double v = NAN;
        if (rows[i].state != MP_TRIAL_SUCCEEDED ||
            !mp_metrics_get(&rows[i].metrics, objective, &v)) {
            v = NAN;
        }
        out->value[i] = v;
        out->failure[i] = rows[i].failure;
        if (!isnan(v) && (isnan(best) || (minimize ? v < best : v > best))) {
            best = v;
            out->best = (long)i;
        }
        if (!isnan(best) && out->trials_to_optimum < 0 && best == out->optimum) {
            out->trials_to_optimum = (long)i + 1;
        }
        if (!isnan(best) && out->trials_to_95 < 0 &&
            mp_replay_within(best, out->optimum, 0.95, minimize)) {
            out->trials_to_95 = (long)i + 1;
        }
    }
    mp_trial_rows_free(rows, n);
    return rc;
}

/* What mp_engine_run checks before its first trial, in its order and with its messages: the
 * runner, then the algorithm with its settings and prior. (mp_engine_validate would place the
 * algorithm's errors at algorithm.name, here a node of the generated document.) */
static int check_only(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_runner *runner = NULL;
    struct mp_optimizer *opt = NULL;
    struct mp_optimizer_opts oo = {.seed = spec->seed,
                                   .max_trials = spec->max_trials,
                                   .settings = spec->algorithm_settings,
                                   .prior_path = spec->prior_path};
    int rc = mp_runner_new(spec, &runner, err);
    if (rc == 0) {
        rc = mp_optimizer_new(spec->algorithm, &spec->space, &oo, &opt, err);
    }
    mp_optimizer_free(opt);
    mp_runner_free(runner);
    return rc;
}

/* The generated spec lists every value of every parameter, and the spec, the optimizers and the
 * index each look values up by scanning them: a column with a value per row (a metric taken
 * for a parameter) made a replay of a large surface run for minutes before the spec refused
 * the document. */
static int check_space_size(const struct mp_surface *s, const struct mp_space *space,
                            struct mp_error *err)
{
    uint64_t total = 0;
    size_t widest = 0;
    for (size_t i = 0; i < space->n; i++) {
        total += mp_space_levels(space, i);
        if (mp_space_levels(space, i) > mp_space_levels(space, widest)) {
            widest = i;
        }
    }
    if (total <= MAX_VALUES) {
        return 0;
    }
    const char *name = space->params[widest].name;
    return mp_error_set(err, MP_EINVALID,
                        "%s: parameter column '%s' has %llu distinct values, and the parameter "
                        "columns may have %u in all (is '%s' a metric?); name the parameters "
                        "with --params A,B,...",
                        s->path, name, (unsigned long long)mp_space_levels(space, widest),
                        MAX_VALUES, name);
}

/* The replay's spec is JSON text, which holds only UTF-8: a surface path that is not crashed
 * the replay, and a prior path that is not was left out of it (morphling then ran its fallback
 * under its own name). */
static int check_text(const char *what, const char *text, struct mp_error *err)
{
    if (text && mp_utf8_valid_len(text, strlen(text)) != strlen(text)) {
        return mp_error_set(err, MP_EINVALID, "%s %s: not valid UTF-8 text (byte %zu); rename it",
                            what, text, mp_utf8_valid_len(text, strlen(text)) + 1);
    }
    return 0;
}

int mp_replay_surface(const struct mp_surface *s, const struct mp_replay_opts *o,
                      struct mp_replay_outcome *out, struct mp_error *err)
{
    memset(out, 0, sizeof(*out));
    out->trials_to_optimum = out->trials_to_95 = -1;
    /* grid and random ignore algorithm.prior: a replay would run cold under a prior's name. */
    const char *alg = o->algorithm ? o->algorithm : "random";
    if (check_text("surface", s->path, err) != 0 ||
        check_text("--prior", o->prior_path, err) != 0 || check_text("algorithm", alg, err) != 0) {
        return MP_EINVALID;
    }
    if (o->prior_path && (strcmp(alg, "grid") == 0 || strcmp(alg, "random") == 0)) {
        return mp_error_set(err, MP_EINVALID,
                            "--prior %s: algorithm '%s' takes no prior (bo and morphling do)",
                            o->prior_path, alg);
    }
    struct mp_surface_columns cols;
    int rc = mp_surface_columns(s, o->params, o->n_params, o->objective, &cols, err);
    if (rc != 0) {
        return rc;
    }
    int obj = cols.objective, failure = cols.failure;
    mp_surface_infer_space(s, cols.params, cols.n_params, &out->space);
    mp_surface_columns_release(&cols);
    if (mp_surface_set_roles(&out->space, o->roles, o->n_roles, err) != 0 ||
        check_roles(s, &out->space, o, err) != 0 || check_space_size(s, &out->space, err) != 0) {
        mp_replay_outcome_release(out);
        return MP_EINVALID;
    }
    struct mp_node *doc = NULL;
    struct mp_spec *spec = NULL;
    struct mp_store *st = NULL;
    struct mp_surface_index *index = NULL;
    struct mp_engine_summary sum;
    /* The replay runner indexes the surface too, but would report a repeated configuration
     * at the generated document's runner.surface. */
    rc = mp_surface_index_new(s, &out->space, &index, err);
    mp_surface_index_free(index);
    if (rc == 0 && (rc = replay_spec_doc(s, &out->space, obj, o, &doc, err)) == 0 &&
        (rc = mp_spec_from_doc(doc, s->path, NULL, &spec, err)) == 0) {
        out->optimum = surface_optimum(s, spec, obj, failure, o->minimize);
        out->notice = mp_engine_search_notice(spec);
    }
    if (rc == 0 && o->validate_only) {
        rc = check_only(spec, err);
    } else if (rc == 0 && (rc = mp_store_open(":memory:", NULL, &st, err)) == 0 &&
               (rc = mp_engine_run(st, spec, NULL, &sum, err)) == 0) {
        rc = collect(st, sum.experiment_id, s->header[obj], o->minimize, out, err);
    }
    mp_store_close(st);
    mp_spec_free(spec);
    if (rc != 0) {
        mp_replay_outcome_release(out);
    }
    return rc;
}

void mp_replay_outcome_release(struct mp_replay_outcome *out)
{
    mp_space_release(&out->space);
    free(out->x);
    free(out->value);
    free(out->failure);
    free(out->notice);
    memset(out, 0, sizeof(*out));
}
