/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling replay SURFACE.csv`: one offline experiment on a recorded surface. */
#include "cli/cli.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "report/report.h"

struct replay_args {
    struct mp_replay_opts o;
    const char *file;
    char *params_buf;
    const char **params;
    const char **roles; /* --role COLUMN=ROLE, borrowed from argv */
    bool json;
    const char *settings_text; /* --settings YAML for algorithm.settings */
};

static int parse_int_opt(const char *name, const char *text, int64_t min, int64_t *out)
{
    if (mp_parse_int64(text, out) != 0 || *out < min) {
        return mp_cli_usage("replay", "%s: expected an integer >= %lld, got \"%s\"", name,
                            (long long)min, text);
    }
    return 0;
}

/* One surface: a --role naming no column is a mistake, not a role for another surface. */
static int check_role_columns(const struct mp_surface *s, const struct replay_args *a,
                              struct mp_error *err)
{
    for (size_t i = 0; i < a->o.n_roles; i++) {
        const char *eq = strchr(a->roles[i], '=');
        size_t len = eq ? (size_t)(eq - a->roles[i]) : strlen(a->roles[i]);
        bool found = false;
        for (size_t c = 0; c < s->n_cols && !found; c++) {
            found = strlen(s->header[c]) == len && strncmp(s->header[c], a->roles[i], len) == 0;
        }
        if (!found) {
            return mp_error_set(err, MP_EINVALID, "--role %s: %s has no column '%.*s'", a->roles[i],
                                s->path, (int)len, a->roles[i]);
        }
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct replay_args *a)
{
    static const struct option opts[] = {{"objective", required_argument, NULL, 'o'},
                                         {"minimize", no_argument, NULL, 'm'},
                                         {"algorithm", required_argument, NULL, 'a'},
                                         {"budget", required_argument, NULL, 'b'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"params", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"prior", required_argument, NULL, 'P'},
                                         {"settings", required_argument, NULL, 'T'},
                                         {"role", required_argument, NULL, 'r'},
                                         {0}};
    int c, rc = 0;
    int64_t v;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o':
            a->o.objective = optarg;
            break;
        case 'm':
            a->o.minimize = true;
            break;
        case 'a':
            a->o.algorithm = optarg;
            break;
        case 'b':
            rc = parse_int_opt("--budget", optarg, 1, &a->o.budget);
            break;
        case 's':
            rc = parse_int_opt("--seed", optarg, 0, &v);
            a->o.seed = (uint64_t)v;
            break;
        case 'p':
            rc = mp_cli_split_list("replay", "--params", optarg, &a->params_buf, &a->params,
                                   &a->o.n_params);
            a->o.params = a->params;
            break;
        case 'j':
            a->json = true;
            break;
        case 'P':
            a->o.prior_path = optarg;
            break;
        case 'T':
            a->settings_text = optarg;
            break;
        case 'r':
            a->roles = mp_xreallocarray(a->roles, a->o.n_roles + 1, sizeof(*a->roles));
            a->roles[a->o.n_roles++] = optarg;
            a->o.roles = a->roles;
            break;
        default:
            rc = mp_cli_usage("replay", "unknown option");
        }
    }
    if (rc == 0 && optind + 1 != argc) {
        rc = mp_cli_usage("replay", "expected one SURFACE.csv");
    }
    a->file = rc == 0 ? argv[optind] : NULL;
    if (!a->o.budget) {
        a->o.budget = 40;
    }
    if (!a->o.algorithm) {
        a->o.algorithm = "random";
    }
    return rc;
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

static json_t *outcome_json(const struct replay_args *a, const struct mp_replay_outcome *out)
{
    json_t *trials = json_array();
    for (size_t i = 0; i < out->n_trials; i++) {
        json_array_append_new(trials, json_pack("{s:o, s:o}", "params", config_json(out, (long)i),
                                                "value", number_or_null(out->value[i])));
    }
    json_t *best = out->best >= 0 ? json_pack("{s:o, s:o}", "params", config_json(out, out->best),
                                              "value", number_or_null(out->value[out->best]))
                                  : json_null();
    return json_pack(
        "{s:s, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "algorithm", a->o.algorithm, "budget",
        (json_int_t)a->o.budget, "seed", (json_int_t)a->o.seed, "trials", trials, "best", best,
        "surface_optimum", number_or_null(out->optimum), "trials_to_optimum",
        out->trials_to_optimum > 0 ? json_integer(out->trials_to_optimum) : json_null(),
        "trials_to_95", out->trials_to_95 > 0 ? json_integer(out->trials_to_95) : json_null());
}

static void print_text(const struct replay_args *a, const struct mp_replay_outcome *out)
{
    printf("replayed %s with %s: %zu trials (budget %lld, seed %llu)\n", a->file, a->o.algorithm,
           out->n_trials, (long long)a->o.budget, (unsigned long long)a->o.seed);
    if (out->best < 0) {
        printf("no trial succeeded\n");
        return;
    }
    char *key = mp_space_key(&out->space, &out->x[(size_t)out->best * out->space.n]);
    printf("best: %.6g at trial %ld (%s)\n", out->value[out->best], out->best + 1, key);
    free(key);
    printf("surface optimum: %.6g; reached %s", out->optimum,
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

int mp_cmd_replay(int argc, char **argv)
{
    struct replay_args a = {0};
    int rc = parse_args(argc, argv, &a);
    struct mp_surface *s = NULL;
    struct mp_error err = {0};
    struct mp_replay_outcome out = {0};
    struct mp_node *settings = NULL;
    if (rc == 0 && a.settings_text &&
        (rc = mp_doc_parse(a.settings_text, strlen(a.settings_text), "--settings", &settings,
                           &err)) == 0) {
        a.o.settings = settings;
    }
    if (rc == 0 && (rc = mp_surface_load(a.file, &s, &err)) == 0 &&
        (rc = check_role_columns(s, &a, &err)) == 0) {
        rc = mp_replay_surface(s, &a.o, &out, &err);
    }
    if (rc == 0 && a.json) {
        json_t *j = outcome_json(&a, &out);
        mp_json_print(stdout, j);
        json_decref(j);
    } else if (rc == 0) {
        print_text(&a, &out);
    } else if (err.code) {
        rc = mp_cli_fail(&err);
    }
    mp_replay_outcome_release(&out);
    mp_doc_free(settings);
    mp_surface_free(s);
    free(a.params);
    free(a.params_buf);
    free(a.roles);
    return rc;
}
