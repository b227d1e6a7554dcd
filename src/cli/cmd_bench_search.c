/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling bench-search`: replays several algorithms on several recorded surfaces with several
 * seeds and summarises how quickly each finds the optimum. */
#include "cli/cli.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "doc/doc.h"
#include "optimizer/optimizer.h"
#include "replay/replay.h"

#define MAX_SURFACES   1000
#define MAX_ALGORITHMS 16
#define MAX_SEEDS      1000
/* `bo+prior` in --algorithms: bo given the --prior model (morphling always gets it; plain names
 * run cold, so the same invocation can print cold-start and prior-informed runs side by side). */
#define PRIOR_SUFFIX     "+prior"
#define PRIOR_SUFFIX_LEN 6
/* best@K columns: the mean best value after K trials; only those K within the budget. */
static const int checkpoints[] = {10, 20, 30};
#define N_CHECKPOINTS 3

struct bench_args {
    struct mp_cli_list surfaces; /* --surfaces, as given */
    struct mp_cli_list algs;
    int64_t budget, seeds;
    struct mp_cli_surface_args surf;
    const char *settings_text;
    int64_t latency_obs; /* > 0: time bo suggestions with this many observations instead */
    const char *prior;   /* --prior MODEL: for morphling and every NAME+prior */
    bool json, quiet;
    struct mp_cli_paths files; /* the surface files, from --surfaces and the operands */
    struct mp_surface **surfs; /* files.n loaded surfaces */
    size_t n_checkpoints;      /* checkpoints within the budget */
};

static const struct mp_opt bench_opts[] = {
    {"surfaces", 0, MP_OPT_LIST, MP_OPT_AT(struct bench_args, surfaces), "DIR|FILE",
     "a surface CSV, or a folder whose *.csv files are surfaces; repeatable (operands are "
     "surfaces too; a file named twice counts once)",
     .flags = MP_OPT_PATH},
    {"algorithms", 0, MP_OPT_CSV, MP_OPT_AT(struct bench_args, algs), "A,B,...",
     "the algorithms to compare; NAME+prior runs NAME with --prior (morphling always gets it)",
     "grid,random,bo"},
    {"budget", 0, MP_OPT_INT, MP_OPT_AT(struct bench_args, budget), "N", "trials per run", "40", 1,
     100000},
    {"seeds", 0, MP_OPT_INT, MP_OPT_AT(struct bench_args, seeds), "K",
     "runs per algorithm and surface, with seeds 0..K-1", "5", 1, MAX_SEEDS},
    MP_CLI_SURFACE_OPTS(struct bench_args),
    {"settings", 0, MP_OPT_STR, MP_OPT_AT(struct bench_args, settings_text), "YAML",
     "the settings of the algorithms that take settings (grid and random take none), as "
     "inline YAML, e.g. '{initial: 5}'"},
    {"prior", 0, MP_OPT_STR, MP_OPT_AT(struct bench_args, prior), "MODEL",
     "a meta-trained model ('meta train') for morphling and every NAME+prior",
     .flags = MP_OPT_PATH},
    {"latency", 0, MP_OPT_INT, MP_OPT_AT(struct bench_args, latency_obs), "OBSERVATIONS",
     "instead: time bo's suggestions on the first surface with this many observations", .min = 1,
     .max = 10000},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct bench_args, json), NULL,
     "print the comparison as JSON"},
    {"quiet", 'q', MP_OPT_FLAG, MP_OPT_AT(struct bench_args, quiet), NULL, "no progress on stderr"},
};

/* Per algorithm: one entry per (surface, seed) run. */
struct alg_result {
    long *to_opt, *to_95; /* budget + 1 when never reached */
    double *best_at;      /* runs x N_CHECKPOINTS fractions of the optimum */
    double seconds;
    size_t runs;
};

static bool has_prior_suffix(const char *entry)
{
    size_t len = strlen(entry);
    return len > PRIOR_SUFFIX_LEN && strcmp(entry + len - PRIOR_SUFFIX_LEN, PRIOR_SUFFIX) == 0;
}

/* Whether the optimizer of a --algorithms entry takes --settings: grid and random take none, and
 * got them too (the default list with --help's example '{initial: 5}' failed). An unknown name
 * does, so that its replay says it is unknown. */
static bool takes_settings(const char *name)
{
    const struct mp_optimizer_ops *ops = mp_optimizer_find(name);
    return !ops || !ops->takes_no_settings;
}

/* The optimizer name of a --algorithms entry (NAME+prior -> NAME); true when it gets --prior. */
static bool algorithm_name(const char *entry, char *name, size_t cap)
{
    bool suffixed = has_prior_suffix(entry);
    int len = (int)strlen(entry) - (suffixed ? PRIOR_SUFFIX_LEN : 0);
    snprintf(name, cap, "%.*s", len, entry);
    return suffixed || strcmp(name, "morphling") == 0;
}

/* Collects the surface files and checks the algorithm list. */
static int check_args(struct bench_args *a, char **operands, size_t n)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->surfaces.n; i++) {
        rc = mp_cli_add_files("bench-search", a->surfaces.v[i], ".csv", MAX_SURFACES, &a->files);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = mp_cli_add_files("bench-search", operands[i], ".csv", MAX_SURFACES, &a->files);
    }
    /* A surface named twice (a folder and a file in it) was replayed twice and counted twice
     * in every median and share. */
    mp_cli_paths_drop_duplicates(&a->files);
    if (rc == 0 && a->files.n == 0) {
        rc = mp_cli_usage("bench-search", "no surfaces given (--surfaces DIR|FILE...)");
    }
    if (rc == 0 && a->algs.n > MAX_ALGORITHMS) {
        rc = mp_cli_usage("bench-search", "at most %d algorithms", MAX_ALGORITHMS);
    }
    for (size_t i = 0; rc == 0 && i < a->algs.n; i++) {
        const char *alg = a->algs.v[i];
        if (strcmp(alg, PRIOR_SUFFIX) == 0) {
            rc = mp_cli_usage("bench-search", "'%s' needs an algorithm name before it", alg);
        } else if (has_prior_suffix(alg) && !a->prior) {
            rc = mp_cli_usage("bench-search", "algorithm '%s' needs --prior MODEL", alg);
        }
        /* Named twice, it was replayed twice, two rows of the same figures. */
        for (size_t k = 0; rc == 0 && k < i; k++) {
            if (strcmp(a->algs.v[k], alg) == 0) {
                rc = mp_cli_usage("bench-search", "--algorithms names '%s' twice", alg);
            }
        }
    }
    /* A --prior that nothing takes was ignored (a missing file too), and the comparison printed
     * cold runs where a prior was meant. */
    bool taken = false;
    for (size_t i = 0; i < a->algs.n; i++) {
        char name[64];
        taken |= algorithm_name(a->algs.v[i], name, sizeof(name));
    }
    /* --latency times bo whatever the list: one without bo (--algorithms morphling) printed
     * bo's figure as if it were the algorithm named. */
    bool bo = false;
    for (size_t i = 0; i < a->algs.n; i++) {
        bo |= strcmp(a->algs.v[i], "bo") == 0;
    }
    if (rc == 0 && a->latency_obs > 0 && !bo) {
        rc = mp_cli_usage("bench-search", "--latency times bo's suggestions, which --algorithms "
                                          "leaves out (drop --algorithms, or name bo)");
    } else if (rc == 0 && a->prior && a->latency_obs > 0) {
        rc = mp_cli_usage("bench-search", "--prior %s: --latency times bo without a prior",
                          a->prior);
    } else if (rc == 0 && a->prior && !taken) {
        rc = mp_cli_usage("bench-search",
                          "--prior %s: no algorithm of --algorithms takes it (morphling and "
                          "NAME+prior do)",
                          a->prior);
    }
    return rc;
}

/* The best value as a fraction of the optimum: 1 at the optimum, less the further off it is. A
 * negative optimum is the larger in magnitude when it is the worse value (maximising -10 over
 * -20), so the ratio turns over: -20 / -10 read 2.0 where -10 / -20 is the 0.5 it means. An
 * optimum of 0 gives no ratio: 1 there, 0 elsewhere (a run at an error rate of 0 read 0). */
static double fraction(double best, double optimum, bool minimize)
{
    if (isfinite(best) && best == optimum) {
        return 1;
    }
    if (!isfinite(best) || !isfinite(optimum) || optimum == 0) {
        return 0;
    }
    return (optimum > 0) != minimize ? best / optimum : optimum / best;
}

static void record(struct alg_result *r, const struct mp_replay_outcome *o, int64_t budget,
                   bool minimize)
{
    size_t k = r->runs++;
    r->to_opt[k] = o->trials_to_optimum > 0 ? o->trials_to_optimum : budget + 1;
    r->to_95[k] = o->trials_to_95 > 0 ? o->trials_to_95 : budget + 1;
    for (size_t c = 0; c < N_CHECKPOINTS; c++) {
        double best = NAN;
        for (size_t t = 0; t < o->n_trials && t < (size_t)checkpoints[c]; t++) {
            double v = o->value[t];
            if (isfinite(v) && (!isfinite(best) || (minimize ? v < best : v > best))) {
                best = v;
            }
        }
        r->best_at[k * N_CHECKPOINTS + c] = fraction(best, o->optimum, minimize);
    }
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

/* The median of runs' trial counts, budget + 1 standing for "not reached". When the upper of the
 * two middle runs never reached it, the median is past the budget too: the mean of the two read
 * as a trial within it (runs at 2 and never, budget 3: "3", where no run reached it at 3, and the
 * figure was that of the stand-in budget + 1). */
static double median(const long *v, size_t n, int64_t budget)
{
    if (n == 0) {
        return NAN;
    }
    long *s = mp_xmalloc(n * sizeof(*s));
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_long);
    double m =
        n % 2 || s[n / 2] > budget ? (double)s[n / 2] : 0.5 * (double)(s[n / 2 - 1] + s[n / 2]);
    free(s);
    return m;
}

static double share_within(const long *v, size_t n, int64_t budget)
{
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        hit += v[i] <= budget;
    }
    return n ? (double)hit / (double)n : 0;
}

static double mean_at(const struct alg_result *r, size_t c)
{
    double s = 0;
    for (size_t i = 0; i < r->runs; i++) {
        s += r->best_at[i * N_CHECKPOINTS + c];
    }
    return r->runs ? s / (double)r->runs : NAN;
}

/* A median past the budget means "not reached in half the runs or more". */
static void fmt_median(char *buf, size_t len, double m, int64_t budget)
{
    if (m > (double)budget) {
        snprintf(buf, len, ">%lld", (long long)budget);
    } else {
        snprintf(buf, len, "%g", m);
    }
}

static json_t *median_json(double m, int64_t budget)
{
    return m > (double)budget ? json_null() : json_real(m);
}

static json_t *result_json(const struct bench_args *a, size_t i, const struct alg_result *r)
{
    json_t *at = json_object();
    for (size_t c = 0; c < a->n_checkpoints; c++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", checkpoints[c]);
        json_object_set_new(at, key, json_real(mean_at(r, c)));
    }
    return json_pack("{s:s, s:I, s:o, s:o, s:f, s:f, s:o, s:f}", "algorithm", a->algs.v[i], "runs",
                     (json_int_t)r->runs, "median_trials_to_optimum",
                     median_json(median(r->to_opt, r->runs, a->budget), a->budget),
                     "median_trials_to_95",
                     median_json(median(r->to_95, r->runs, a->budget), a->budget), "share_optimum",
                     share_within(r->to_opt, r->runs, a->budget), "share_95",
                     share_within(r->to_95, r->runs, a->budget), "mean_best_fraction_at", at,
                     "seconds", r->seconds);
}

static void print_json(const struct bench_args *a, const struct alg_result *res)
{
    json_t *surfaces = json_array();
    for (size_t f = 0; f < a->files.n; f++) {
        json_array_append_new(surfaces, mp_cli_json_text(a->files.v[f]));
    }
    json_t *algs = json_array();
    for (size_t i = 0; i < a->algs.n; i++) {
        json_array_append_new(algs, result_json(a, i, &res[i]));
    }
    json_t *root =
        json_pack("{s:o, s:I, s:I, s:o}", "surfaces", surfaces, "budget", (json_int_t)a->budget,
                  "seeds", (json_int_t)a->seeds, "algorithms", algs);
    char *text = json_dumps(root, JSON_INDENT(2));
    printf("%s\n", text);
    free(text);
    json_decref(root);
}

static void print_text(const struct bench_args *a, const struct alg_result *res)
{
    printf("%zu surfaces x %lld seeds, budget %lld\n\n", a->files.n, (long long)a->seeds,
           (long long)a->budget);
    printf("%-10s %6s %9s %9s %9s", "algorithm", "runs", "med.opt", "med.95%", "share.opt");
    for (size_t c = 0; c < a->n_checkpoints; c++) {
        char head[16];
        snprintf(head, sizeof(head), "best@%d", checkpoints[c]);
        printf(" %8s", head);
    }
    printf(" %8s\n", "seconds");
    for (size_t i = 0; i < a->algs.n; i++) {
        const struct alg_result *r = &res[i];
        char mo[32], m95[32];
        fmt_median(mo, sizeof(mo), median(r->to_opt, r->runs, a->budget), a->budget);
        fmt_median(m95, sizeof(m95), median(r->to_95, r->runs, a->budget), a->budget);
        printf("%-10s %6zu %9s %9s %9.2f", a->algs.v[i], r->runs, mo, m95,
               share_within(r->to_opt, r->runs, a->budget));
        for (size_t c = 0; c < a->n_checkpoints; c++) {
            printf(" %8.3f", mean_at(r, c));
        }
        printf(" %8.2f\n", r->seconds);
    }
    printf(
        "\nmed.opt / med.95%%: median trials to the surface optimum / to 95 %% of it "
        "(>N: not reached in half the runs or more); share.opt: runs that reached the optimum%s\n",
        a->n_checkpoints ? "; best@K: mean best value after K trials as a fraction of the "
                           "optimum (where it is 0: 1 there, else 0)."
                         : ".");
}

/* The replay of one --algorithms entry on one surface with one seed (validate_only: check that
 * it can run, run nothing). */
static int replay_one(const struct bench_args *a, const struct mp_node *settings, size_t f,
                      size_t i, int64_t seed, bool validate_only, struct mp_replay_outcome *out,
                      struct mp_error *err)
{
    char name[64];
    bool with_prior = algorithm_name(a->algs.v[i], name, sizeof(name));
    struct mp_replay_opts o = {.algorithm = name,
                               .budget = a->budget,
                               .seed = (uint64_t)seed,
                               .objective = a->surf.objective,
                               .minimize = a->surf.minimize,
                               .params = a->surf.params.v,
                               .n_params = a->surf.params.n,
                               .settings = takes_settings(name) ? settings : NULL,
                               .prior_path = with_prior ? a->prior : NULL,
                               .roles = a->surf.roles.v,
                               .n_roles = a->surf.roles.n,
                               .roles_of_other_surfaces = true,
                               .validate_only = validate_only};
    memset(out, 0, sizeof(*out));
    int rc = mp_replay_surface(a->surfs[f], &o, out, err);
    if (rc != 0 && strncmp(err->msg, a->files.v[f], strlen(a->files.v[f])) == 0) {
        mp_error_prefix(err, rc, "%s", a->algs.v[i]);
    } else if (rc != 0) {
        mp_error_prefix(err, rc, "%s, %s", a->files.v[f], a->algs.v[i]);
    }
    return rc;
}

/* The --role entries whose column some surface has (a malformed one counts: the replay's check
 * says what is wrong with it). */
static int check_role_columns(const struct bench_args *a, struct mp_error *err)
{
    bool *seen = mp_xcalloc(a->surf.roles.n + 1, sizeof(bool));
    for (size_t i = 0; i < a->surf.roles.n; i++) {
        seen[i] = !strchr(a->surf.roles.v[i], '=');
        for (size_t f = 0; f < a->files.n && !seen[i]; f++) {
            seen[i] = mp_surface_has_role_column(a->surfs[f], a->surf.roles.v[i]);
        }
    }
    int rc = mp_cli_check_roles_seen(&a->surf.roles, seen, err);
    free(seen);
    return rc;
}

/* Every surface loads and every algorithm can run on it (columns, settings, prior), before the
 * minutes of work start. */
static int check_work(struct bench_args *a, const struct mp_node *settings, struct mp_error *err)
{
    a->surfs = mp_xcalloc(a->files.n + 1, sizeof(*a->surfs));
    int rc = 0;
    for (size_t f = 0; f < a->files.n && rc == 0; f++) {
        rc = mp_surface_load(a->files.v[f], &a->surfs[f], err);
    }
    if (rc == 0) {
        rc = check_role_columns(a, err);
    }
    for (size_t f = 0; f < a->files.n && rc == 0; f++) {
        for (size_t i = 0; i < a->algs.n && rc == 0; i++) {
            struct mp_replay_outcome out;
            rc = replay_one(a, settings, f, i, 0, true, &out, err);
            if (rc == 0 && out.notice) {
                char *m = mp_xasprintf("%s, %s: %s", a->files.v[f], a->algs.v[i], out.notice);
                mp_cli_print_message("morphling bench-search: warning: ", m);
                free(m);
            }
            mp_replay_outcome_release(&out);
        }
    }
    return rc;
}

static int run_all(const struct bench_args *a, const struct mp_node *settings,
                   struct alg_result *res, struct mp_error *err)
{
    struct mp_cli_progress p;
    size_t done = 0;
    mp_cli_progress_start(&p, "bench-search", a->files.n * a->algs.n * (size_t)a->seeds, a->quiet);
    int rc = 0;
    for (size_t f = 0; f < a->files.n && rc == 0; f++) {
        const char *base =
            strrchr(a->files.v[f], '/') ? strrchr(a->files.v[f], '/') + 1 : a->files.v[f];
        for (size_t i = 0; i < a->algs.n && rc == 0; i++) {
            /* grid's order is the seed's for any seed (the replay runner draws nothing): its
             * first replay stands for the others, which repeated it K times over. */
            bool seedless = strcmp(a->algs.v[i], "grid") == 0;
            struct mp_replay_outcome out = {0};
            for (int64_t s = 0; s < a->seeds && rc == 0; s++) {
                if (s == 0 || !seedless) {
                    mp_replay_outcome_release(&out);
                    int64_t t0 = mp_mono_ns();
                    rc = replay_one(a, settings, f, i, s, false, &out, err);
                    res[i].seconds += (double)(mp_mono_ns() - t0) / 1e9;
                }
                if (rc == 0) {
                    record(&res[i], &out, a->budget, a->surf.minimize);
                    char at[32] = "not reached";
                    if (out.trials_to_optimum > 0) {
                        snprintf(at, sizeof(at), "at trial %ld", out.trials_to_optimum);
                    }
                    mp_cli_progress_step(&p, ++done, "%s %s seed %lld: optimum %s%s", base,
                                         a->algs.v[i], (long long)s, at,
                                         seedless && s > 0 ? " (as seed 0)" : "");
                }
            }
            mp_replay_outcome_release(&out);
        }
    }
    mp_cli_progress_end(&p);
    return rc;
}

/* CPU time of this process: on a shared machine it says more than the wall clock. */
static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The latency probe's history: n distinct rows drawn with a fixed seed, all succeeded. */
struct probe {
    const struct mp_surface *surf;
    const int *cols;
    int objective;
    bool minimize;
};

static int sample_history(const struct probe *p, const struct mp_space *space, size_t n, double *xs,
                          struct mp_observation *obs, struct mp_error *err)
{
    const struct mp_surface *surf = p->surf;
    struct mp_rng rng;
    mp_rng_init(&rng, 12345);
    unsigned char *used = mp_xcalloc(surf->n_rows, 1);
    int rc = 0;
    for (size_t k = 0; k < n && rc == 0; k++) {
        size_t row;
        do {
            row = (size_t)mp_rng_below(&rng, surf->n_rows);
        } while (used[row]);
        used[row] = 1;
        for (size_t i = 0; i < space->n && rc == 0; i++) {
            /* as the space read it: an export's '-O2 is the choice -O2 */
            const char *cell = mp_surface_choice(surf, row, (size_t)p->cols[i]);
            rc = mp_space_parse(space, i, cell, &xs[k * space->n + i], err);
        }
        double v = surf->numbers[row * surf->n_cols + (size_t)p->objective];
        obs[k] =
            (struct mp_observation){&xs[k * space->n], MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE,
                                    isfinite(v),       isfinite(v),        p->minimize ? -v : v};
    }
    free(used);
    return rc;
}

static void print_latency(const struct bench_args *a, size_t n, size_t cand, size_t dims, double ms,
                          double cpu_ms)
{
    if (a->json) {
        json_t *j =
            json_pack("{s:o, s:I, s:I, s:I, s:f, s:f}", "surface", mp_cli_json_text(a->files.v[0]),
                      "observations", (json_int_t)n, "candidates", (json_int_t)cand, "dimensions",
                      (json_int_t)dims, "ms_per_suggestion", ms, "cpu_ms_per_suggestion", cpu_ms);
        char *text = json_dumps(j, 0);
        printf("%s\n", text);
        free(text);
        json_decref(j);
        return;
    }
    printf("bo suggestion latency: %.3f ms wall, %.3f ms CPU (%zu observations, %zu candidates, "
           "%zu dimensions)\n",
           ms, cpu_ms, n, cand, dims);
}

/* Times `bo` suggestions (model fit and acquisition over every untried configuration) on the
 * first surface with a fixed history: the figure bench/search-peers compares with scikit-learn. */
static int run_latency(const struct bench_args *a, const struct mp_node *settings,
                       struct mp_error *err)
{
    enum { REPEAT = 20 };
    struct mp_surface *surf = NULL;
    struct mp_space space = {0};
    struct mp_optimizer *opt = NULL;
    double *xs = NULL, *x = NULL;
    struct mp_observation *obs = NULL;
    struct mp_surface_columns cols = {0};
    size_t n = (size_t)a->latency_obs;
    int rc = mp_surface_load(a->files.v[0], &surf, err);
    if (rc < 0) {
        return rc;
    }
    if (n >= surf->n_rows) {
        rc =
            mp_error_set(err, MP_EINVALID, "%s: --latency needs fewer observations than rows (%zu)",
                         a->files.v[0], surf->n_rows);
        goto out;
    }
    if ((rc = mp_surface_columns(surf, a->surf.params.v, a->surf.params.n, a->surf.objective, &cols,
                                 err)) < 0) {
        goto out;
    }
    mp_surface_infer_space(surf, cols.params, cols.n_params, &space);
    xs = mp_xcalloc(n * space.n, sizeof(double));
    x = mp_xcalloc(space.n, sizeof(double));
    obs = mp_xcalloc(n, sizeof(*obs));
    struct probe p = {surf, cols.params, cols.objective, a->surf.minimize};
    struct mp_optimizer_opts oo = {.max_trials = (int64_t)n + 1, .settings = settings};
    if ((rc = sample_history(&p, &space, n, xs, obs, err)) < 0 ||
        (rc = mp_optimizer_new("bo", &space, &oo, &opt, err)) < 0) {
        goto out;
    }
    struct mp_history h = {obs, n};
    int64_t t0 = mp_mono_ns(), c0 = cpu_ns();
    for (int r = 0; r < REPEAT && rc == 0; r++) {
        rc = mp_optimizer_suggest(opt, &h, x, err);
    }
    if (rc == 0) {
        print_latency(a, n, surf->n_rows - n, space.n, (double)(mp_mono_ns() - t0) / 1e6 / REPEAT,
                      (double)(cpu_ns() - c0) / 1e6 / REPEAT);
    }
out:
    mp_surface_columns_release(&cols);
    mp_optimizer_free(opt);
    free(xs);
    free(x);
    free(obs);
    mp_space_release(&space);
    mp_surface_free(surf);
    return rc;
}

/* Settings with a key that no algorithm of --algorithms takes would go nowhere (--latency times
 * bo, whatever the list). */
static int check_settings_taken(const struct bench_args *a, const struct mp_node *settings)
{
    if (!settings || settings->kind != MP_NODE_MAP || settings->n == 0 || a->latency_obs > 0) {
        return 0;
    }
    for (size_t i = 0; i < a->algs.n; i++) {
        char name[64];
        algorithm_name(a->algs.v[i], name, sizeof(name));
        if (takes_settings(name)) {
            return 0;
        }
    }
    return mp_cli_usage("bench-search", "--settings: no algorithm of --algorithms takes settings "
                                        "(grid and random take none)");
}

static int bench_run(void *args, char **operands, size_t n)
{
    struct bench_args *a = args;
    struct alg_result res[MAX_ALGORITHMS];
    struct mp_node *settings = NULL;
    struct mp_error err = {0};
    memset(res, 0, sizeof(res));
    int rc = check_args(a, operands, n);
    if (rc == 0 && a->settings_text &&
        mp_doc_parse(a->settings_text, strlen(a->settings_text), "--settings", &settings, &err) <
            0) {
        rc = mp_cli_fail(&err);
    }
    rc = rc == 0 ? check_settings_taken(a, settings) : rc;
    for (size_t c = 0; c < N_CHECKPOINTS && checkpoints[c] <= a->budget; c++) {
        a->n_checkpoints = c + 1;
    }
    if (rc == 0 && a->latency_obs > 0) {
        if (run_latency(a, settings, &err) < 0) {
            rc = mp_cli_fail(&err);
        }
    } else if (rc == 0 && check_work(a, settings, &err) != 0) {
        rc = mp_cli_fail(&err);
    } else if (rc == 0) {
        size_t runs = a->files.n * (size_t)a->seeds;
        for (size_t i = 0; i < a->algs.n; i++) {
            res[i].to_opt = mp_xcalloc(runs, sizeof(long));
            res[i].to_95 = mp_xcalloc(runs, sizeof(long));
            res[i].best_at = mp_xcalloc(runs * N_CHECKPOINTS, sizeof(double));
        }
        if (run_all(a, settings, res, &err) < 0) {
            rc = mp_cli_fail(&err);
        } else if (a->json) {
            print_json(a, res);
        } else {
            print_text(a, res);
        }
    }
    for (size_t i = 0; i < MAX_ALGORITHMS; i++) {
        free(res[i].to_opt);
        free(res[i].to_95);
        free(res[i].best_at);
    }
    for (size_t f = 0; a->surfs && f < a->files.n; f++) {
        mp_surface_free(a->surfs[f]);
    }
    free(a->surfs);
    mp_cli_paths_release(&a->files);
    mp_doc_free(settings);
    return rc;
}

const struct mp_verb mp_verb_bench_search = {
    .name = "bench-search",
    .run = bench_run,
    .operands = "[SURFACE...]",
    .max_operands = SIZE_MAX,
    .operand_paths = true,
    .summary = "compare search algorithms by replaying them on recorded surfaces",
    .description =
        "Replays every algorithm of --algorithms on every surface with --seeds seeds (grid "
        "once: its order is every seed's) and "
        "prints, per algorithm, the median number of trials to the surface's optimum and to 95 % "
        "of it, the share of runs that reached the optimum, and the mean best value after 10, 20 "
        "and 30 trials (those within the budget) as a fraction of the optimum (where the optimum "
        "is 0: 1 at it, else 0).\n\n"
        "Every surface and algorithm is checked before the first replay starts; progress goes "
        "to stderr.",
    .opts = bench_opts,
    .n_opts = MP_ARRAY_LEN(bench_opts),
    .args_size = sizeof(struct bench_args),
};
