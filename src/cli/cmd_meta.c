/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling meta train|info`: meta-train a prior for the `morphling` algorithm from recorded
 * surfaces and the local store's finished experiments, and describe a model file. */
#include "cli/cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doc/doc.h"
#include "meta/meta.h"

#define MAX_SURFACE_FILES 10000
/* Trials with a verdict a store experiment needs to be a training service. */
#define STORE_MIN_POINTS 8

struct train_args {
    struct mp_meta_train_opts o;
    struct mp_cli_list surfaces; /* --surfaces, as given */
    struct mp_cli_surface_args surf;
    const char *output, *db;
    bool json, quiet, store_explicit, no_store;
    const char *method;
    struct mp_cli_paths files; /* the surface files, from --surfaces and the operands */
};

static int from_store(void *args, const char *value, struct mp_error *err)
{
    (void)err;
    struct train_args *a = args;
    a->store_explicit = true;
    a->db = value ? value : a->db;
    return 0;
}

static void train_init(void *args)
{
    struct train_args *a = args;
    mp_meta_train_opts_default(&a->o);
    a->method = mp_meta_method_name(a->o.method);
}

#define T struct train_args
static const struct mp_opt train_opts[] = {
    {"output", 'o', MP_OPT_STR, MP_OPT_AT(T, output), "MODEL", "the model file to write",
     .flags = MP_OPT_REQUIRED | MP_OPT_PATH},
    {"surfaces", 0, MP_OPT_LIST, MP_OPT_AT(T, surfaces), "DIR|FILE",
     "a surface CSV, or a folder whose *.csv files are surfaces; repeatable (operands are "
     "surfaces too; a file named twice counts once)",
     .flags = MP_OPT_PATH},
    {"from-store", 0, MP_OPT_FN, 0, 0, "DB",
     "train on the finished experiments of the store (DB, else --db or the default store); "
     "by default the default store joins when it exists",
     .fn = from_store, .flags = MP_OPT_OPTIONAL | MP_OPT_PATH},
    MP_CLI_DB_OPT(T),
    {"no-store", 0, MP_OPT_FLAG, MP_OPT_AT(T, no_store), NULL, "train on the surfaces only"},
    MP_CLI_SURFACE_OPTS(T),
    {"seed", 0, MP_OPT_INT, MP_OPT_AT(T, o.seed), "S", "the training's random seed", .min = 0,
     .max = (double)INT64_MAX},
    {"method", 0, MP_OPT_CHOICE, MP_OPT_AT(T, method), "METHOD",
     "the meta-learning method: Reptile, first-order MAML or MAML",
     .choices = "reptile|fomaml|maml"},
    {"members", 0, MP_OPT_INT, MP_OPT_AT(T, o.members), "K", "networks in the ensemble", .min = 1,
     .max = MP_META_MAX_MEMBERS},
    {"iterations", 0, MP_OPT_INT, MP_OPT_AT(T, o.iterations), "N", "meta-training iterations",
     .min = 1, .max = 10000000},
    {"hidden", 0, MP_OPT_INT, MP_OPT_AT(T, o.hidden), "H", "units per hidden layer", .min = 1,
     .max = MP_META_MAX_HIDDEN},
    {"support-max", 0, MP_OPT_INT, MP_OPT_AT(T, o.support_max), "N",
     "most samples of a task used to adapt in one meta step", .min = 1, .max = 4096},
    {"top-fraction", 0, MP_OPT_NUM, MP_OPT_AT(T, o.top_fraction), "X",
     "share of each task that counts as its best configurations (half of every sample is drawn "
     "from them)",
     .min = 1e-9, .max = 1},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(T, json), NULL, "print the training summary as JSON"},
    {"quiet", 'q', MP_OPT_FLAG, MP_OPT_AT(T, quiet), NULL, "no progress on stderr"},
};
#undef T

/* The store joins the training set when named, or by default when the default one exists. */
static int add_store(struct train_args *a, struct mp_meta_taskset *ts, size_t *added,
                     size_t *skipped, char **used, struct mp_error *err)
{
    *added = *skipped = 0;
    *used = NULL;
    if (a->no_store) {
        return 0;
    }
    char *path = mp_cli_db_path(a->db);
    struct stat st;
    if (stat(path, &st) != 0) {
        int rc = a->store_explicit || a->db
                     ? mp_error_set(err, MP_EINVALID, "store '%s' does not exist", path)
                     : 0;
        free(path);
        return rc;
    }
    *used = path;
    /* --minimize alone names the surfaces' default objective: compared as given. */
    const char *objective =
        a->surf.objective || a->surf.minimize ? (a->surf.objective ? a->surf.objective : "") : NULL;
    return mp_cli_meta_add_store(ts, path, STORE_MIN_POINTS, objective, a->surf.minimize, added,
                                 skipped, err);
}

static void report(const struct train_args *a, const struct mp_meta_model *m, size_t n_surf,
                   size_t added, size_t skipped, const char *store, double seconds)
{
    if (a->json) {
        json_t *j =
            json_pack("{s:o, s:s, s:I, s:I, s:I, s:I, s:o?, s:I, s:I, s:I, s:f, s:f}", "model",
                      mp_cli_json_text(a->output), "method", mp_meta_method_name(m->method), "seed",
                      (json_int_t)(m->seed & INT64_MAX), "tasks", (json_int_t)m->n_tasks,
                      "surfaces", (json_int_t)n_surf, "store_experiments", (json_int_t)added,
                      "store", store ? mp_cli_json_text(store) : NULL, "store_skipped",
                      (json_int_t)skipped, "members", (json_int_t)m->members, "hidden",
                      (json_int_t)m->net.hidden, "train_loss", m->train_loss, "seconds", seconds);
        mp_json_print(stdout, j);
        json_decref(j);
        return;
    }
    printf("trained %s (%s, %zu members of %zu-%zu-%zu-1, seed %llu) on %zu service%s: %zu "
           "surface%s, %zu store experiment%s",
           a->output, mp_meta_method_name(m->method), m->members, m->net.n_in, m->net.hidden,
           m->net.hidden, (unsigned long long)m->seed, m->n_tasks, m->n_tasks == 1 ? "" : "s",
           n_surf, n_surf == 1 ? "" : "s", added, added == 1 ? "" : "s");
    if (skipped) {
        printf(" (%zu skipped: other parameters or too few measured trials)", skipped);
    }
    printf("\nfinal adapted query loss %.5f; %.1f s\n", m->train_loss, seconds);
}

static void train_progress(void *ctx, size_t done, size_t total)
{
    struct mp_cli_progress *p = ctx;
    p->total = total;
    mp_cli_progress_step(p, done, NULL);
}

/* The model is written after the training: find out now that it cannot be. */
static int check_output(const char *output)
{
    struct stat st;
    if (stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
        return mp_cli_usage("meta train", "-o %s: is a folder, not a model file", output);
    }
    if (stat(output, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* the model would replace it: as root, -o /dev/null replaced the device */
        return mp_cli_usage("meta train", "-o %s: is not a regular file (a model file replaces it)",
                            output);
    }
    char *dir = mp_xstrdup(output);
    char *slash = strrchr(dir, '/');
    if (slash) {
        slash[slash == dir ? 1 : 0] = '\0';
    }
    int rc = 0;
    if (access(slash ? dir : ".", W_OK) != 0) {
        rc = mp_cli_usage("meta train", "-o %s: cannot write into that folder", output);
    }
    free(dir);
    return rc;
}

/* Without --objective each surface trains on its own default column: warns, once, when those
 * differ (the model would learn one shape from throughput per dollar, another from throughput).
 * Surface i of a->files; *first: the column of the first (owned), *warned: said so. */
static void check_objective(const struct train_args *a, size_t i, const struct mp_surface *s,
                            char **first, size_t *first_i, bool *warned)
{
    struct mp_surface_columns cols;
    struct mp_error err = {0};
    if (a->surf.objective || *warned ||
        mp_surface_columns(s, a->surf.params.v, a->surf.params.n, NULL, &cols, &err) != 0) {
        return;
    }
    const char *col = s->header[cols.objective];
    if (!*first) {
        *first = mp_xstrdup(col);
        *first_i = i;
    } else if (strcmp(*first, col) != 0) {
        fprintf(stderr,
                "morphling meta train: warning: the surfaces' objectives differ: %s in %s, %s in "
                "%s; --objective names one for all\n",
                *first, a->files.v[*first_i], col, a->files.v[i]);
        *warned = true;
    }
    mp_surface_columns_release(&cols);
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* The model is written over -o: never over one of the surfaces it is trained on (`-o s.csv
 * s.csv` replaced the user's data with the model, without a word), nor over the store it reads
 * (store NULL: none), which held every experiment of the user. */
static int check_not_input(const char *output, const struct mp_cli_paths *files, const char *store)
{
    for (size_t i = 0; i < files->n; i++) {
        if (same_file(output, files->v[i])) {
            return mp_cli_usage("meta train", "-o %s: is the surface %s, an input of the training",
                                output, files->v[i]);
        }
    }
    if (store && same_file(output, store)) {
        return mp_cli_usage("meta train", "-o %s: is the store %s, an input of the training",
                            output, store);
    }
    return 0;
}

static int train_run(void *args, char **operands, size_t n)
{
    struct train_args *a = args;
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    char *store = NULL;
    size_t added = 0, skipped = 0;
    int64_t t0 = mp_mono_ns();
    int rc = a->no_store && a->store_explicit
                 ? mp_cli_usage("meta train", "--no-store contradicts --from-store")
                 : 0;
    for (size_t i = 0; rc == 0 && i < a->surfaces.n; i++) {
        rc = mp_cli_add_files("meta train", a->surfaces.v[i], ".csv", MAX_SURFACE_FILES, &a->files);
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = mp_cli_add_files("meta train", operands[i], ".csv", MAX_SURFACE_FILES, &a->files);
    }
    a->o.method = (enum mp_meta_method)mp_meta_method_parse(a->method);
    mp_cli_paths_drop_duplicates(&a->files);
    rc = rc == 0 ? check_output(a->output) : rc;
    rc = rc == 0 ? check_not_input(a->output, &a->files, NULL) : rc;
    char *objective = NULL;
    size_t objective_i = 0;
    bool warned = false;
    bool *role_seen = mp_xcalloc(a->surf.roles.n + 1, sizeof(bool));
    for (size_t i = 0; rc == 0 && i < a->files.n; i++) {
        struct mp_surface *s = NULL;
        if ((rc = mp_surface_load(a->files.v[i], &s, &err)) == 0) {
            check_objective(a, i, s, &objective, &objective_i, &warned);
            for (size_t r = 0; r < a->surf.roles.n; r++) {
                role_seen[r] = role_seen[r] || mp_surface_has_role_column(s, a->surf.roles.v[r]);
            }
            struct mp_meta_surface_opts so = {a->surf.objective, a->surf.minimize, a->surf.params.v,
                                              a->surf.params.n,  a->surf.roles.v,  a->surf.roles.n};
            rc = mp_meta_taskset_add_surface(&ts, s, &so, &err);
        }
        mp_surface_free(s);
    }
    free(objective);
    if (rc == 0) {
        rc = mp_cli_check_roles_seen(&a->surf.roles, role_seen, &err);
    }
    free(role_seen);
    if (rc == 0) {
        rc = add_store(a, &ts, &added, &skipped, &store, &err);
    }
    rc = rc == 0 ? check_not_input(a->output, &a->files, store) : rc;
    if (rc == 0 && ts.n_tasks == 0 && skipped > 0) {
        /* Not "give finished experiments": the store has them, each too short to learn from. */
        rc = mp_error_set(&err, MP_EINVALID,
                          "nothing to train on: the %zu finished experiment%s of %s %s skipped "
                          "(one needs %d trials that succeeded or failed, 2 of them with a "
                          "measured objective); give --surfaces DIR or longer experiments",
                          skipped, skipped == 1 ? "" : "s", store, skipped == 1 ? "was" : "were",
                          STORE_MIN_POINTS);
    } else if (rc == 0 && ts.n_tasks == 0) {
        rc = mp_error_set(&err, MP_EINVALID,
                          "nothing to train on: give --surfaces DIR or finished experiments in "
                          "the store");
    }
    struct mp_cli_progress p;
    mp_cli_progress_start(&p, "meta train", a->o.members * a->o.iterations, a->quiet);
    a->o.progress = train_progress;
    a->o.progress_ctx = &p;
    if (rc == 0) {
        rc = mp_meta_train(&ts, &a->o, &m, &err);
        mp_cli_progress_end(&p);
    }
    if (rc == 0 && (rc = mp_meta_model_save(m, a->output, &err)) == 0) {
        report(a, m, a->files.n, added, skipped, store, (double)(mp_mono_ns() - t0) / 1e9);
    }
    if (rc != 0 && err.code) {
        rc = mp_cli_fail(&err);
    }
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_cli_paths_release(&a->files);
    free(store);
    return rc;
}

const struct mp_verb mp_verb_meta_train = {
    .name = "meta train",
    .run = train_run,
    .operands = "[SURFACE...]",
    .max_operands = SIZE_MAX,
    .operand_paths = true,
    .summary = "meta-train a prior for algorithm morphling from surfaces and past experiments",
    .description =
        "Each surface (a CSV of measured configurations, e.g. a trial export) and each finished "
        "experiment of the store is one training service. The model learns what good "
        "configurations of such services look like, so that algorithm morphling given it as "
        "algorithm.prior needs fewer trials on a new one (docs/internals/meta.md).",
    .opts = train_opts,
    .n_opts = MP_ARRAY_LEN(train_opts),
    .args_size = sizeof(struct train_args),
    .init = train_init,
};

static json_t *features_json(const struct mp_meta_model *m)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n_features; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        json_t *j = json_pack("{s:s, s:s}", "name", f->name, "kind",
                              f->kind == MP_META_CATEGORICAL ? "categorical" : "numeric");
        if (f->role) {
            json_object_set_new(j, "role", json_string(f->role));
        }
        if (f->kind == MP_META_NUMERIC) {
            json_object_set_new(j, "min", json_real(f->lo));
            json_object_set_new(j, "max", json_real(f->hi));
            json_object_set_new(j, "log", json_boolean(f->log_scale));
        } else {
            json_t *c = json_array();
            for (size_t k = 0; k < f->n_choices; k++) {
                json_array_append_new(c, json_string(f->choices[k]));
            }
            json_object_set_new(j, "choices", c);
        }
        json_array_append_new(arr, j);
    }
    return arr;
}

struct info_args {
    bool json;
};

static const struct mp_opt info_opts[] = {
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct info_args, json), NULL,
     "print the model's description as JSON"},
};

static int info_run(void *args, char **operands, size_t n)
{
    (void)n;
    bool json = ((const struct info_args *)args)->json;
    const char *path = operands[0];
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_load(path, &m, &err) != 0) {
        return mp_cli_fail(&err);
    }
    json_t *j =
        json_pack("{s:o, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "model",
                  mp_cli_json_text(path), "format_version", (int)m->format_version, "method",
                  mp_meta_method_name(m->method), "seed", (json_int_t)(m->seed & INT64_MAX),
                  "tasks", (json_int_t)m->n_tasks, "members", (json_int_t)m->members, "inputs",
                  (json_int_t)m->net.n_in, "hidden", (json_int_t)m->net.hidden, "adapt_lr",
                  m->adapt_lr, "train_loss", m->train_loss, "features", features_json(m));
    json_object_set_new(j, "adapt_steps", json_integer(m->adapt_steps));
    json_object_set_new(j, "memory", json_integer((json_int_t)m->n_memory));
    if (json) {
        mp_json_print(stdout, j);
    } else {
        mp_terminal_text(stdout, path, false);
        printf(": morphling meta-model, format %u\n", m->format_version);
        printf("method %s, seed %llu, %zu training services, %zu members of %zu-%zu-%zu-1\n",
               mp_meta_method_name(m->method), (unsigned long long)m->seed, m->n_tasks, m->members,
               m->net.n_in, m->net.hidden, m->net.hidden);
        printf("adaptation: %u steps at rate %g; final adapted query loss %.5f\n", m->adapt_steps,
               m->adapt_lr, m->train_loss);
        if (m->format_version < 3) {
            printf("memory: none (format %u files have none; retrain to add it)\n",
                   m->format_version);
        } else {
            printf("memory: %zu configurations the training services measured\n", m->n_memory);
        }
        printf("parameters:\n");
        for (size_t i = 0; i < m->n_features; i++) {
            const struct mp_meta_feature *f = &m->features[i];
            /* Names and choices as a terminal may show them (as `show` writes them): a
             * surface cell's escape sequence was written raw. */
            printf("  ");
            mp_terminal_text(stdout, f->name, false);
            printf("%s%s%s: ", f->role ? " (role " : "", f->role ? f->role : "",
                   f->role ? ")" : "");
            if (f->kind == MP_META_NUMERIC) {
                printf("numeric %g..%g%s\n", f->lo, f->hi, f->log_scale ? " (log)" : "");
                continue;
            }
            for (size_t k = 0; k < f->n_choices; k++) {
                printf("%s", k ? ", " : "");
                mp_terminal_text(stdout, f->choices[k], false);
            }
            printf("\n");
        }
    }
    json_decref(j);
    mp_meta_model_free(m);
    return MP_EXIT_OK;
}

const struct mp_verb mp_verb_meta_info = {
    .name = "meta info",
    .run = info_run,
    .operands = "MODEL",
    .min_operands = 1,
    .max_operands = 1,
    .operand_paths = true,
    .summary = "describe a meta-trained model file",
    .opts = info_opts,
    .n_opts = MP_ARRAY_LEN(info_opts),
    .args_size = sizeof(struct info_args),
};

const struct mp_verb mp_verb_meta = {
    .name = "meta",
    .summary = "meta-learned priors for algorithm morphling",
};
