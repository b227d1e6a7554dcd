/* SPDX-License-Identifier: Apache-2.0 */
/* `meta train`'s store input: reads the finished experiments of the store and their trials, and
 * hands each down to src/meta as a task (meta sits below the store and never opens it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "meta/meta.h"
#include "spec/spec.h"
#include "store/store.h"

/* --objective/--minimize (objective NULL: neither given) against a stored experiment's own:
 * counts the experiments that differ, and describes the first in *first (owned). */
struct objective_check {
    const char *objective;
    bool minimize;
    size_t differ;
    char *first;
};

static void check_objective(struct objective_check *c, const struct mp_spec *spec, const char *name)
{
    bool minimize = spec->direction == MP_MINIMIZE;
    if (!c->objective ||
        (strcmp(c->objective, spec->objective_metric) == 0 && c->minimize == minimize)) {
        return;
    }
    if (c->differ++ == 0) {
        c->first = mp_xasprintf("store experiment '%s' trains on its own objective (%s %s)", name,
                                minimize ? "minimize" : "maximize", spec->objective_metric);
    }
}

/* One stored experiment as a task. Returns 1 when it was skipped (not usable). */
static int add_experiment(struct mp_meta_taskset *ts, struct mp_store *st,
                          const struct mp_experiment_row *e, size_t min_points,
                          struct objective_check *check, struct mp_error *err)
{
    struct mp_spec *spec = NULL;
    struct mp_trial_row *rows = NULL;
    struct mp_meta_trial *trials = NULL;
    double *x = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(st, e->id, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    rc = 1;
    if (mp_spec_parse(e->spec_json, strlen(e->spec_json), e->name, e->base_dir, NULL, 0, &spec,
                      NULL) != 0) {
        goto out;
    }
    size_t d = spec->space.n;
    x = mp_xcalloc(n * d + 1, sizeof(double));
    trials = mp_xcalloc(n + 1, sizeof(*trials));
    for (size_t i = 0; i < n; i++) {
        double v = NAN;
        bool read =
            mp_space_config_from_json(&spec->space, rows[i].params_json, &x[i * d], NULL) == 0;
        if (!mp_metrics_get(&rows[i].metrics, spec->objective_metric, &v)) {
            v = NAN;
        }
        trials[i] =
            (struct mp_meta_trial){read ? &x[i * d] : NULL, rows[i].state, rows[i].failure, v};
    }
    char *name = mp_xasprintf("store experiment '%s'", e->name);
    rc = mp_meta_taskset_add_trials(ts, name, &spec->space, spec->direction == MP_MINIMIZE, trials,
                                    n, min_points)
             ? 0
             : 1;
    if (rc == 0) {
        check_objective(check, spec, e->name);
    }
    free(name);
out:
    free(trials);
    free(x);
    mp_spec_free(spec);
    mp_trial_rows_free(rows, n);
    return rc;
}

int mp_cli_meta_add_store(struct mp_meta_taskset *ts, const char *db_path, size_t min_points,
                          const char *objective, bool minimize, size_t *added, size_t *skipped,
                          struct mp_error *err)
{
    struct objective_check check = {.objective = objective, .minimize = minimize};
    struct mp_store *st = NULL;
    struct mp_experiment_row *exps = NULL;
    size_t n = 0, n_added = 0, n_skipped = 0;
    int rc = mp_cli_open_store(db_path, NULL, &st, err);
    if (rc == 0) {
        rc = mp_store_experiment_list(st, &exps, &n, err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        enum mp_experiment_state s = exps[i].state;
        if (s != MP_EXPERIMENT_SUCCEEDED && s != MP_EXPERIMENT_FAILED &&
            s != MP_EXPERIMENT_CANCELLED) {
            continue;
        }
        rc = add_experiment(ts, st, &exps[i], min_points, &check, err);
        if (rc == 1) {
            n_skipped++;
            rc = 0;
        } else if (rc == 0) {
            n_added++;
        }
    }
    mp_experiment_rows_free(exps, n);
    mp_store_close(st);
    if (rc == 0 && check.differ > 0) {
        fprintf(stderr,
                "morphling meta train: warning: --objective and --minimize apply to surfaces: %s",
                check.first);
        if (check.differ > 1) {
            fprintf(stderr, ", as %zu other%s", check.differ - 1,
                    check.differ == 2 ? " does" : "s do");
        }
        fprintf(stderr, "\n");
    }
    free(check.first);
    *added = n_added;
    *skipped = n_skipped;
    return rc;
}
