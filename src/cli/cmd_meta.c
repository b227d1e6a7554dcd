/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling meta train|info`: meta-train a prior for the `morphling` algorithm from recorded
 * surfaces and the local store's finished experiments, and describe a model file. */
#include "cli/cli.h"

#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doc/doc.h"
#include "meta/meta.h"

#define MAX_SURFACE_FILES 10000

struct train_args {
    struct mp_meta_train_opts o;
    char **surfaces; /* owned paths */
    size_t n_surfaces;
    const char **roles; /* --role COLUMN=ROLE, borrowed from argv */
    size_t n_roles;
    char *params_buf; /* --params A,B,...: owned copy, split in place */
    const char **params;
    size_t n_params;
    const char *output, *objective, *db;
    bool minimize, json, store_explicit, no_store;
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(struct train_args *a, char *path)
{
    a->surfaces = mp_xreallocarray(a->surfaces, a->n_surfaces + 1, sizeof(char *));
    a->surfaces[a->n_surfaces++] = path;
}

/* A directory contributes its *.csv files in name order. */
static int add_surfaces(struct train_args *a, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) != 0) {
        return mp_cli_usage("meta", "'%s': no such file or directory", arg);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_path(a, mp_xstrdup(arg));
        return 0;
    }
    DIR *dir = opendir(arg);
    if (!dir) {
        return mp_cli_usage("meta", "'%s': cannot open directory", arg);
    }
    size_t first = a->n_surfaces;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && a->n_surfaces < MAX_SURFACE_FILES) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".csv") == 0) {
            add_path(a, mp_xasprintf("%s/%s", arg, e->d_name));
        }
    }
    closedir(dir);
    qsort(a->surfaces + first, a->n_surfaces - first, sizeof(char *), cmp_str);
    return 0;
}

static int int_opt(const char *name, const char *text, int64_t min, int64_t max, size_t *out)
{
    int64_t v;
    if (mp_parse_int64(text, &v) != 0 || v < min || v > max) {
        return mp_cli_usage("meta", "%s: expected an integer in [%lld, %lld], got \"%s\"", name,
                            (long long)min, (long long)max, text);
    }
    *out = (size_t)v;
    return 0;
}

static int train_opt(struct train_args *a, int c, const char *arg)
{
    size_t v = 0;
    int rc = 0;
    switch (c) {
    case 'S':
        return add_surfaces(a, arg);
    case 'f':
        a->store_explicit = true;
        a->db = arg ? arg : a->db;
        return 0;
    case 'd':
        a->db = arg;
        return 0;
    case 'n':
        a->no_store = true;
        return 0;
    case 'o':
        a->output = arg;
        return 0;
    case 'O':
        a->objective = arg;
        return 0;
    case 'r':
        a->roles = mp_xreallocarray(a->roles, a->n_roles + 1, sizeof(*a->roles));
        a->roles[a->n_roles++] = arg;
        return 0;
    case 'p':
        return mp_cli_split_list("meta", "--params", arg, &a->params_buf, &a->params, &a->n_params);
    case 'm':
        a->minimize = true;
        return 0;
    case 'j':
        a->json = true;
        return 0;
    case 's':
        rc = int_opt("--seed", arg, 0, INT64_MAX, &v);
        a->o.seed = v;
        return rc;
    case 'M':
        rc = mp_meta_method_parse(arg);
        a->o.method = rc >= 0 ? (enum mp_meta_method)rc : a->o.method;
        return rc >= 0 ? 0
                       : mp_cli_usage("meta",
                                      "--method: expected reptile, fomaml or maml, got "
                                      "\"%s\"",
                                      arg);
    case 'e':
        return int_opt("--members", arg, 1, MP_META_MAX_MEMBERS, &a->o.members);
    case 'i':
        return int_opt("--iterations", arg, 1, 10000000, &a->o.iterations);
    case 'H':
        return int_opt("--hidden", arg, 1, MP_META_MAX_HIDDEN, &a->o.hidden);
    case 'k':
        return int_opt("--support-max", arg, 1, 4096, &a->o.support_max);
    case 't':
        if (mp_parse_double(arg, &a->o.top_fraction) != 0 || !(a->o.top_fraction > 0) ||
            a->o.top_fraction > 1) {
            return mp_cli_usage("meta", "--top-fraction: expected a number in (0, 1]");
        }
        return 0;
    default:
        return mp_cli_usage("meta", "unknown option");
    }
}

static int parse_train(int argc, char **argv, struct train_args *a)
{
    static const struct option opts[] = {{"surfaces", required_argument, NULL, 'S'},
                                         {"from-store", optional_argument, NULL, 'f'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"no-store", no_argument, NULL, 'n'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"objective", required_argument, NULL, 'O'},
                                         {"minimize", no_argument, NULL, 'm'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"method", required_argument, NULL, 'M'},
                                         {"members", required_argument, NULL, 'e'},
                                         {"iterations", required_argument, NULL, 'i'},
                                         {"hidden", required_argument, NULL, 'H'},
                                         {"support-max", required_argument, NULL, 'k'},
                                         {"top-fraction", required_argument, NULL, 't'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"params", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {0}};
    int c, rc = 0;
    optind = 1;
    while (rc == 0 && (c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
        rc = train_opt(a, c, optarg);
    }
    /* Remaining operands are surfaces too, so `--surfaces DIR FILE...` works. */
    for (; rc == 0 && optind < argc; optind++) {
        rc = add_surfaces(a, argv[optind]);
    }
    if (rc == 0 && !a->output) {
        rc = mp_cli_usage("meta", "train: -o MODEL is required");
    }
    if (rc == 0 && a->no_store && a->store_explicit) {
        rc = mp_cli_usage("meta", "train: --no-store contradicts --from-store");
    }
    return rc;
}

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
    return mp_cli_meta_add_store(ts, path, 8, added, skipped, err);
}

static void report(const struct train_args *a, const struct mp_meta_model *m, size_t n_surf,
                   size_t added, size_t skipped, const char *store, double seconds)
{
    if (a->json) {
        json_t *j = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:s?, s:I, s:I, s:I, s:f, s:f}", "model", a->output,
            "method", mp_meta_method_name(m->method), "seed", (json_int_t)(m->seed & INT64_MAX),
            "tasks", (json_int_t)m->n_tasks, "surfaces", (json_int_t)n_surf, "store_experiments",
            (json_int_t)added, "store", store, "store_skipped", (json_int_t)skipped, "members",
            (json_int_t)m->members, "hidden", (json_int_t)m->net.hidden, "train_loss",
            m->train_loss, "seconds", seconds);
        mp_json_print(stdout, j);
        json_decref(j);
        return;
    }
    printf("trained %s (%s, %zu members of %zu-%zu-%zu-1, seed %llu) on %zu services: %zu "
           "surfaces, %zu store experiments",
           a->output, mp_meta_method_name(m->method), m->members, m->net.n_in, m->net.hidden,
           m->net.hidden, (unsigned long long)m->seed, m->n_tasks, n_surf, added);
    if (skipped) {
        printf(" (%zu skipped: other parameters or too few measured trials)", skipped);
    }
    printf("\nfinal adapted query loss %.5f; %.1f s\n", m->train_loss, seconds);
}

static int cmd_train(int argc, char **argv)
{
    struct train_args a = {0};
    mp_meta_train_opts_default(&a.o);
    int rc = parse_train(argc, argv, &a);
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    char *store = NULL;
    size_t added = 0, skipped = 0;
    int64_t t0 = mp_mono_ns();
    for (size_t i = 0; rc == 0 && i < a.n_surfaces; i++) {
        struct mp_surface *s = NULL;
        if ((rc = mp_surface_load(a.surfaces[i], &s, &err)) == 0) {
            struct mp_meta_surface_opts so = {a.objective, a.minimize, a.params,
                                              a.n_params,  a.roles,    a.n_roles};
            rc = mp_meta_taskset_add_surface(&ts, s, &so, &err);
        }
        mp_surface_free(s);
    }
    if (rc == 0) {
        rc = add_store(&a, &ts, &added, &skipped, &store, &err);
    }
    if (rc == 0 && ts.n_tasks == 0) {
        rc = mp_error_set(&err, MP_EINVALID,
                          "nothing to train on: give --surfaces DIR or finished experiments in "
                          "the store");
    }
    if (rc == 0 && (rc = mp_meta_train(&ts, &a.o, &m, &err)) == 0 &&
        (rc = mp_meta_model_save(m, a.output, &err)) == 0) {
        report(&a, m, a.n_surfaces, added, skipped, store, (double)(mp_mono_ns() - t0) / 1e9);
    }
    if (rc != 0 && err.code) {
        rc = mp_cli_fail(&err);
    }
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    for (size_t i = 0; i < a.n_surfaces; i++) {
        free(a.surfaces[i]);
    }
    free(a.surfaces);
    free(a.roles);
    free(a.params);
    free(a.params_buf);
    free(store);
    return rc;
}

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

static int cmd_info(int argc, char **argv)
{
    bool json = argc == 3 && strcmp(argv[2], "--json") == 0;
    if (argc != 2 && !json) {
        return mp_cli_usage("meta", "info: expected MODEL [--json]");
    }
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_load(argv[1], &m, &err) != 0) {
        return mp_cli_fail(&err);
    }
    json_t *j =
        json_pack("{s:s, s:i, s:s, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:o}", "model", argv[1],
                  "format_version", (int)m->format_version, "method",
                  mp_meta_method_name(m->method), "seed", (json_int_t)(m->seed & INT64_MAX),
                  "tasks", (json_int_t)m->n_tasks, "members", (json_int_t)m->members, "inputs",
                  (json_int_t)m->net.n_in, "hidden", (json_int_t)m->net.hidden, "adapt_lr",
                  m->adapt_lr, "train_loss", m->train_loss, "features", features_json(m));
    json_object_set_new(j, "adapt_steps", json_integer(m->adapt_steps));
    json_object_set_new(j, "memory", json_integer((json_int_t)m->n_memory));
    if (json) {
        mp_json_print(stdout, j);
    } else {
        printf("%s: morphling meta-model, format %u\n", argv[1], m->format_version);
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
            printf("  %s%s%s%s: ", f->name, f->role ? " (role " : "", f->role ? f->role : "",
                   f->role ? ")" : "");
            if (f->kind == MP_META_NUMERIC) {
                printf("numeric %g..%g%s\n", f->lo, f->hi, f->log_scale ? " (log)" : "");
                continue;
            }
            for (size_t k = 0; k < f->n_choices; k++) {
                printf("%s%s", k ? ", " : "", f->choices[k]);
            }
            printf("\n");
        }
    }
    json_decref(j);
    mp_meta_model_free(m);
    return MP_EXIT_OK;
}

int mp_cmd_meta(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "train") == 0) {
        return cmd_train(argc - 1, argv + 1);
    }
    if (argc >= 2 && strcmp(argv[1], "info") == 0) {
        return cmd_info(argc - 1, argv + 1);
    }
    return mp_cli_usage("meta", "expected 'train' or 'info'");
}
