/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling replay SURFACE.csv`: one offline experiment on a recorded surface. */
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "report/report.h"

struct replay_args {
    struct mp_cli_surface_args surf;
    const char *algorithm, *settings, *prior;
    int64_t budget, seed;
    bool json;
};

static const struct mp_opt replay_opts[] = {
    {"algorithm", 'a', MP_OPT_STR, MP_OPT_AT(struct replay_args, algorithm), "NAME",
     "the search algorithm: grid, random, bo or morphling", "random"},
    {"budget", 'b', MP_OPT_INT, MP_OPT_AT(struct replay_args, budget), "N", "trials to run", "40",
     1, 1000000},
    {"seed", 0, MP_OPT_INT, MP_OPT_AT(struct replay_args, seed), "S", "the search's random seed",
     "0", 0, (double)INT64_MAX},
    MP_CLI_SURFACE_OPTS(struct replay_args),
    {"settings", 0, MP_OPT_STR, MP_OPT_AT(struct replay_args, settings), "YAML",
     "the algorithm's settings as inline YAML, e.g. '{initial: 5}' (docs/spec.md, algorithm)"},
    {"prior", 0, MP_OPT_STR, MP_OPT_AT(struct replay_args, prior), "MODEL",
     "a meta-trained model ('meta train') for algorithm morphling", .flags = MP_OPT_PATH},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct replay_args, json), NULL,
     "print {algorithm, budget, seed, trials (each {params, value, failure}), best, "
     "surface_optimum, trials_to_optimum, trials_to_95} as JSON"},
};

/* One surface: a --role naming no column is a mistake, not a role for another surface. */
static int check_role_columns(const struct mp_surface *s, const struct mp_cli_list *roles,
                              struct mp_error *err)
{
    for (size_t i = 0; i < roles->n; i++) {
        const char *role = roles->v[i];
        if (!mp_surface_has_role_column(s, role)) {
            return mp_error_set(err, MP_EINVALID, "--role %s: %s has no column '%.*s'", role,
                                s->path, (int)strcspn(role, "="), role);
        }
    }
    return 0;
}

static json_t *config_json(const struct mp_replay_outcome *out, long i)
{
    char *text = mp_space_config_json(&out->space, &out->x[(size_t)i * out->space.n]);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    return j;
}

static json_t *number_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *outcome_json(const struct mp_replay_opts *o, const struct mp_replay_outcome *out)
{
    json_t *trials = json_array();
    for (size_t i = 0; i < out->n_trials; i++) {
        enum mp_failure f = out->failure[i];
        json_array_append_new(
            trials,
            json_pack("{s:o, s:o, s:o}", "params", config_json(out, (long)i), "value",
                      number_or_null(out->value[i]), "failure",
                      f == MP_FAILURE_NONE ? json_null() : json_string(mp_failure_name(f))));
    }
    json_t *best = out->best >= 0 ? json_pack("{s:o, s:o}", "params", config_json(out, out->best),
                                              "value", number_or_null(out->value[out->best]))
                                  : json_null();
    return json_pack(
        "{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "algorithm", o->algorithm, "budget",
        (json_int_t)o->budget, "seed", (json_int_t)o->seed, "trials", trials, "best", best,
        "surface_optimum", number_or_null(out->optimum), "trials_to_optimum",
        out->trials_to_optimum > 0 ? json_integer(out->trials_to_optimum) : json_null(),
        "trials_to_95", out->trials_to_95 > 0 ? json_integer(out->trials_to_95) : json_null());
}

static void print_text(const char *file, const struct mp_replay_opts *o,
                       const struct mp_replay_outcome *out)
{
    /* The file and the choices as a terminal may show them (as `show` writes them): a cell's
     * escape sequence was written raw. */
    printf("replayed ");
    mp_terminal_text(stdout, file, false);
    printf(" with %s: %zu trials (budget %lld, seed %llu)\n", o->algorithm, out->n_trials,
           (long long)o->budget, (unsigned long long)o->seed);
    if (out->best < 0) {
        printf("no trial succeeded\n");
        return;
    }
    /* Values in full (the shortest text that reads back the same): at 6 digits an optimum of
     * 1.0000001 beside a best of 1 read "best: 1", "surface optimum: 1; reached never". */
    char *key = mp_space_key(&out->space, &out->x[(size_t)out->best * out->space.n]);
    char best[MP_FMT_DOUBLE_MAX], optimum[MP_FMT_DOUBLE_MAX];
    printf("best: %s at trial %ld (", mp_fmt_double(best, out->value[out->best]), out->best + 1);
    mp_terminal_text(stdout, key, false);
    printf(")\n");
    free(key);
    printf("surface optimum: %s; reached %s", mp_fmt_double(optimum, out->optimum),
           out->trials_to_optimum > 0 ? "at trial " : "never");
    if (out->trials_to_optimum > 0) {
        printf("%ld", out->trials_to_optimum);
    }
    printf("; within 5 %%: %s", out->trials_to_95 > 0 ? "at trial " : "never");
    if (out->trials_to_95 > 0) {
        printf("%ld", out->trials_to_95);
    }
    printf("\n");
}

static int replay_run(void *args, char **operands, size_t n)
{
    (void)n;
    const struct replay_args *a = args;
    const char *file = operands[0];
    struct mp_replay_opts o = {.algorithm = a->algorithm,
                               .budget = a->budget,
                               .seed = (uint64_t)a->seed,
                               .objective = a->surf.objective,
                               .minimize = a->surf.minimize,
                               .params = a->surf.params.v,
                               .n_params = a->surf.params.n,
                               .prior_path = a->prior,
                               .roles = a->surf.roles.v,
                               .n_roles = a->surf.roles.n};
    struct mp_surface *s = NULL;
    struct mp_error err = {0};
    struct mp_replay_outcome out = {0};
    struct mp_node *settings = NULL;
    int rc = 0;
    if (a->settings &&
        (rc = mp_doc_parse(a->settings, strlen(a->settings), "--settings", &settings, &err)) == 0) {
        o.settings = settings;
    }
    if (rc == 0 && (rc = mp_surface_load(file, &s, &err)) == 0 &&
        (rc = check_role_columns(s, &a->surf.roles, &err)) == 0) {
        rc = mp_replay_surface(s, &o, &out, &err);
    }
    if (rc == 0 && out.notice) {
        mp_cli_print_message("morphling replay: warning: ", out.notice);
    }
    if (rc == 0 && a->json) {
        json_t *j = outcome_json(&o, &out);
        mp_json_print(stdout, j);
        json_decref(j);
    } else if (rc == 0) {
        print_text(file, &o, &out);
    } else {
        rc = mp_cli_fail(&err);
    }
    mp_replay_outcome_release(&out);
    mp_doc_free(settings);
    mp_surface_free(s);
    return rc;
}

const struct mp_verb mp_verb_replay = {
    .name = "replay",
    .run = replay_run,
    .operands = "SURFACE.csv",
    .min_operands = 1,
    .max_operands = 1,
    .operand_paths = true,
    .summary = "run a search offline on a recorded performance surface",
    .description =
        "Replays a search on SURFACE.csv, a table with one row per configuration (a trial export "
        "of 'morphling export --format csv', or any CSV whose columns are parameters and "
        "metrics), through the real engine: no service runs. It prints the best configuration "
        "found and how many trials it took to reach the surface's optimum and 95 % of it.",
    .opts = replay_opts,
    .n_opts = MP_ARRAY_LEN(replay_opts),
    .args_size = sizeof(struct replay_args),
};
