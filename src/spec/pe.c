/* SPDX-License-Identifier: Apache-2.0 */
/* A ProfilingExperiment resource translated into the native spec document, node by node, each
 * new node keeping the position and field path of the resource's node it came from. */
#include "spec/pe.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

/* The original's fields, then ours (docs/kubernetes.md, "Migrating from Morphling"). */
static const char *const spec_keys[] = {"tunableParameters",
                                        "objective",
                                        "algorithm",
                                        "maxNumTrials",
                                        "parallelism",
                                        "requestTemplate",
                                        "clientTemplate",
                                        "servicePodTemplate",
                                        "serviceProgressDeadline",
                                        "constraints",
                                        "cost",
                                        "maxFailedTrials",
                                        "trialTimeout",
                                        "serviceContainerName",
                                        "gpuMemoryMiB",
                                        "load",
                                        "runner",
                                        NULL};

/* ---- building nodes ---- */

static struct mp_node *node_at(enum mp_node_kind kind, const struct mp_node *at)
{
    struct mp_node *n = mp_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->file = mp_xstrdup(at->file);
    n->line = at->line;
    n->col = at->col;
    n->path = mp_xstrdup(at->path ? at->path : "");
    return n;
}

static struct mp_node *scalar_at(const struct mp_node *at, const char *text, bool quoted)
{
    struct mp_node *n = node_at(MP_NODE_SCALAR, at);
    n->scalar = mp_xstrdup(text);
    n->quoted = quoted;
    return n;
}

static void put_clone(struct mp_node *map, const char *key, const struct mp_node *n)
{
    if (n) {
        mp_doc_map_put(map, key, mp_doc_clone(n));
    }
}

static void seq_push(struct mp_node *seq, struct mp_node *item)
{
    seq->items = mp_xreallocarray(seq->items, seq->n + 1, sizeof(*seq->items));
    seq->items[seq->n++] = item;
}

static int missing(const struct mp_node *map, const char *key, struct mp_error *err)
{
    struct mp_node *unused = NULL;
    return mp_doc_require(map, key, &unused, err);
}

/* ---- the API server's types ---- */

/* What the CRD (deploy/crds/profilingexperiments.yaml) lets through for a field: the file that
 * `morphling validate` accepts must be one that `kubectl apply` accepts. */
enum api_type { API_STRING_OR_INT, API_INT, API_NUMBER };

static int api_type(const struct mp_node *n, enum api_type want, struct mp_error *err)
{
    /* --set values never reach the API server; other kinds are refused by their parsers. */
    if (!n || n->kind != MP_NODE_SCALAR || strcmp(n->file, "--set") == 0) {
        return 0;
    }
    char *json = mp_doc_to_json(n);
    bool string = json[0] == '"';
    int64_t i = 0;
    double d = 0;
    bool integer = !string && mp_parse_int64(json, &i) == 0;
    bool number = !string && mp_parse_double(json, &d) == 0;
    free(json);
    if (want == API_STRING_OR_INT && !string && !integer) {
        return mp_doc_error(err, n,
                            "expected a string or an integer, got %s%s: quote it (\"%s\"), as "
                            "the API server takes nothing else here",
                            number ? "the number " : "", mp_doc_is_null(n) ? "null" : n->scalar,
                            n->scalar);
    }
    if (want != API_STRING_OR_INT && string &&
        (want == API_INT ? mp_parse_int64(n->scalar, &i) : mp_parse_double(n->scalar, &d)) == 0) {
        return mp_doc_error(err, n,
                            "expected %s, got the string \"%s\": write it without quotes, as the "
                            "API server refuses a string here",
                            want == API_INT ? "an integer" : "a number", n->scalar);
    }
    return 0;
}

/* The spec's fields of integer and number type. */
static int api_types(const struct mp_node *spec, struct mp_error *err)
{
    static const char *const ints[] = {"maxNumTrials", "parallelism", "serviceProgressDeadline",
                                       "maxFailedTrials"};
    int rc = api_type(mp_doc_get(spec, "gpuMemoryMiB"), API_NUMBER, err);
    for (size_t i = 0; rc == 0 && i < MP_ARRAY_LEN(ints); i++) {
        rc = api_type(mp_doc_get(spec, ints[i]), API_INT, err);
    }
    return rc ? rc : api_type(mp_doc_get(mp_doc_get(spec, "algorithm"), "seed"), API_INT, err);
}

/* ---- tunableParameters ---- */

enum category { CAT_RESOURCE, CAT_ENV, CAT_ARGS };

/* Kubernetes resource names and the native resource each sets; `scale` turns the quantity's
 * value into the native unit (cores, MiB, GPUs, a share of one GPU's memory). */
enum unit { UNIT_MILLI, UNIT_MIB, UNIT_WHOLE, UNIT_SHARE, UNIT_NAME };
static const struct {
    const char *name, *native;
    enum unit unit;
} resources[] = {
    {"cpu", "cpu", UNIT_MILLI},
    {"memory", "memory", UNIT_MIB},
    {"nvidia.com/gpu", "gpu", UNIT_WHOLE},
    {"nvidia.com/gpumem", "gpu_memory_share", UNIT_SHARE},
    {"nvidia.com/gpu.product", "gpu_type", UNIT_NAME},
};

struct pctx {
    const struct mp_node *spec;
    double gpu_memory_mib; /* spec.gpuMemoryMiB; 0 when absent */
};

/* A feasibleSpace number of a resource parameter as the native unit, in canonical text. */
static int convert_quantity(const struct pctx *c, const struct mp_node *n, enum unit unit,
                            struct mp_node **out, struct mp_error *err)
{
    const char *s = NULL;
    struct mp_kube_quantity q;
    struct mp_error qerr = {0};
    int rc = mp_doc_string(n, &s, err);
    if (rc != 0) {
        return rc;
    }
    if (mp_kube_quantity_parse(s, &q, &qerr) != 0) {
        return mp_doc_error(err, n, "expected a Kubernetes quantity: %s", qerr.msg);
    }
    /* Only the figure used must fit: memory of 1E is 10^18 bytes, though 10^21 thousandths. */
    bool milli = unit == UNIT_MILLI;
    if (q.negative || (milli ? q.milli : q.units) == INT64_MAX) {
        return mp_doc_error(err, n, "expected a non-negative quantity below 2^63%s, got \"%s\"",
                            milli ? " thousandths" : "", s);
    }
    double v = (double)q.units;
    if (unit == UNIT_MILLI) {
        v = (double)q.milli / 1000.0;
    } else if (unit == UNIT_MIB) {
        v = (double)q.units / 1048576.0;
    } else if (unit == UNIT_SHARE) {
        if (!(c->gpu_memory_mib > 0)) {
            return mp_doc_error(err, n,
                                "nvidia.com/gpumem (MiB) needs spec.gpuMemoryMiB, the memory of "
                                "one GPU, to be tuned as a share of it");
        }
        v /= c->gpu_memory_mib;
        if (!(v > 0 && v <= 1)) {
            return mp_doc_error(err, n, "expected 1 to %.0f MiB (spec.gpuMemoryMiB), got \"%s\"",
                                c->gpu_memory_mib, s);
        }
    }
    if (unit == UNIT_WHOLE && q.milli % 1000 != 0) {
        return mp_doc_error(err, n, "expected a whole number of GPUs, got \"%s\"", s);
    }
    /* Every "100m" was 1 byte, two of them "duplicates" of 9.5e-07 MiB. */
    if (unit == UNIT_MIB && mp_kube_check_bytes(s, &qerr) != 0) {
        return mp_doc_error(err, n, "%s", qerr.msg);
    }
    char buf[MP_FMT_DOUBLE_MAX];
    *out = scalar_at(n, mp_fmt_double(buf, v), false);
    return 0;
}

/* A feasibleSpace value: quantities converted for resources, the text as it is otherwise. */
static int convert_value(const struct pctx *c, const struct mp_node *n, int res,
                         struct mp_node **out, struct mp_error *err)
{
    int rc = api_type(n, API_STRING_OR_INT, err);
    if (rc != 0) {
        return rc;
    }
    if (res < 0 || resources[res].unit == UNIT_NAME) {
        rc = mp_doc_expect(n, MP_NODE_SCALAR, err);
        *out = rc == 0 ? mp_doc_clone(n) : NULL;
        return rc;
    }
    return convert_quantity(c, n, resources[res].unit, out, err);
}

static int param_type(const struct mp_node *t, const char **native, struct mp_error *err)
{
    static const char *const names[][2] = {{"int", "int"},
                                           {"double", "float"},
                                           {"discrete", "discrete"},
                                           {"categorical", "categorical"}};
    const char *s = NULL;
    int rc = mp_doc_string(t, &s, err);
    for (size_t i = 0; rc == 0 && i < MP_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i][0]) == 0) {
            *native = names[i][1];
            return 0;
        }
    }
    return rc ? rc
              : mp_doc_error(err, t, "expected int, double, discrete or categorical, got \"%s\"",
                             s);
}

/* feasibleSpace -> min/max/step or values on the native parameter map. */
static int feasible_space(const struct pctx *c, const struct mp_node *fs, bool ranged, int res,
                          struct mp_node *out, struct mp_error *err)
{
    static const char *const keys[] = {"min", "max", "step", "list", NULL};
    static const char *const range_keys[] = {"min", "max", "step"};
    int rc;
    if ((rc = mp_doc_expect(fs, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(fs, keys, err)) != 0) {
        return rc;
    }
    const struct mp_node *list = mp_doc_get(fs, "list");
    const struct mp_node *bad = ranged ? list : mp_doc_get(fs, "min");
    if (!bad && !ranged) {
        bad = mp_doc_get(fs, "max") ? mp_doc_get(fs, "max") : mp_doc_get(fs, "step");
    }
    if (bad) {
        return mp_doc_error(err, bad, "not allowed for this parameterType (use %s)",
                            ranged ? "min, max and step" : "list");
    }
    if (!ranged) {
        if ((rc = missing(fs, "list", err)) != 0 || (rc = mp_doc_expect(list, MP_NODE_SEQ, err))) {
            return rc;
        }
        struct mp_node *values = node_at(MP_NODE_SEQ, list);
        mp_doc_map_put(out, "values", values);
        for (size_t i = 0; i < list->n; i++) {
            struct mp_node *v = NULL;
            if ((rc = convert_value(c, list->items[i], res, &v, err)) != 0) {
                return rc;
            }
            seq_push(values, v);
        }
        return 0;
    }
    if ((rc = missing(fs, "min", err)) != 0 || (rc = missing(fs, "max", err)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(range_keys); i++) {
        const struct mp_node *n = mp_doc_get(fs, range_keys[i]);
        struct mp_node *v = NULL;
        if (n && (rc = convert_value(c, n, res, &v, err)) != 0) {
            return rc;
        }
        if (v) {
            mp_doc_map_put(out, range_keys[i], v);
        }
    }
    return 0;
}

static int resource_index(const struct mp_node *name, int *out, struct mp_error *err)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(resources); i++) {
        if (strcmp(resources[i].name, name->scalar) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return mp_doc_error(err, name,
                        "unknown resource \"%s\" (cpu, memory, nvidia.com/gpu, nvidia.com/gpumem, "
                        "nvidia.com/gpu.product)",
                        name->scalar);
}

/* The native target of a parameter of this category. */
static struct mp_node *target_of(enum category cat, const struct mp_node *name, int res)
{
    struct mp_node *t = node_at(MP_NODE_MAP, name);
    if (cat == CAT_RESOURCE) {
        mp_doc_map_put(t, "resource", scalar_at(name, resources[res].native, true));
    } else if (cat == CAT_ENV) {
        mp_doc_map_put(t, "env", scalar_at(name, name->scalar, true));
    } else {
        /* The parameter's name is the flag: "batch" and "--batch" both give "--batch VALUE". */
        char *flag =
            name->scalar[0] == '-' ? mp_xstrdup(name->scalar) : mp_xasprintf("--%s", name->scalar);
        mp_doc_map_put(t, "arg", scalar_at(name, flag, true));
        free(flag);
    }
    return t;
}

static int one_param(const struct pctx *c, enum category cat, const struct mp_node *p,
                     struct mp_node *params, struct mp_error *err)
{
    static const char *const keys[] = {"name", "parameterType", "feasibleSpace",
                                       "role", "log",           NULL};
    struct mp_node *name = NULL, *type = NULL, *fs = NULL;
    const char *native_type = NULL, *s = NULL;
    int rc, res = -1;
    if ((rc = mp_doc_expect(p, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(p, keys, err)) != 0 ||
        (rc = mp_doc_require(p, "name", &name, err)) != 0 ||
        (rc = mp_doc_string(name, &s, err)) != 0 ||
        (rc = mp_doc_require(p, "parameterType", &type, err)) != 0 ||
        (rc = param_type(type, &native_type, err)) != 0 ||
        (rc = mp_doc_require(p, "feasibleSpace", &fs, err)) != 0 ||
        (cat == CAT_RESOURCE && (rc = resource_index(name, &res, err)) != 0)) {
        return rc;
    }
    /* An int resource counts the quantity's own unit (cores, MiB of memory, MiB of
     * nvidia.com/gpumem), which is no whole number of ours (a step of "1G" is 953.67... MiB, a
     * MiB of gpumem a share of one GPU): a stepped float range, by 1 of that unit unless a step
     * is given (memory's 1Mi: one byte would make "1Gi" to "4Gi" three billion sizes). */
    bool scaled = strcmp(native_type, "int") == 0 && res >= 0 &&
                  resources[res].unit != UNIT_WHOLE && resources[res].unit != UNIT_NAME;
    struct mp_node *out = node_at(MP_NODE_MAP, p);
    seq_push(params, out);
    mp_doc_map_put(out, "name", mp_doc_clone(name));
    mp_doc_map_put(out, "type", scalar_at(type, scaled ? "float" : native_type, true));
    bool ranged = strcmp(native_type, "int") == 0 || strcmp(native_type, "float") == 0;
    if ((rc = feasible_space(c, fs, ranged, res, out, err)) != 0) {
        return rc;
    }
    if (scaled && !mp_doc_get(out, "step")) {
        struct mp_node *one = scalar_at(fs, resources[res].unit == UNIT_MIB ? "1Mi" : "1", true);
        struct mp_node *step = NULL;
        rc = convert_value(c, one, res, &step, err);
        mp_doc_free(one);
        if (rc != 0) {
            return rc;
        }
        mp_doc_map_put(out, "step", step);
    }
    mp_doc_map_put(out, "target", target_of(cat, name, res));
    put_clone(out, "role", mp_doc_get(p, "role"));
    put_clone(out, "log", mp_doc_get(p, "log"));
    return 0;
}

static int category_of(const struct mp_node *group, enum category *out, struct mp_error *err)
{
    static const char *const names[] = {"resource", "env", "args"};
    struct mp_node *n = NULL;
    const char *s = NULL;
    int rc;
    if ((rc = mp_doc_require(group, "category", &n, err)) != 0 ||
        (rc = mp_doc_string(n, &s, err)) != 0) {
        return rc;
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        if (strcmp(names[i], s) == 0) {
            *out = (enum category)i;
            return 0;
        }
    }
    return mp_doc_error(err, n, "expected resource, env or args, got \"%s\"", s);
}

static int tunable_parameters(const struct pctx *c, struct mp_node *root, struct mp_error *err)
{
    static const char *const keys[] = {"category", "parameters", NULL};
    struct mp_node *groups = NULL;
    int rc;
    if ((rc = mp_doc_require(c->spec, "tunableParameters", &groups, err)) != 0 ||
        (rc = mp_doc_expect(groups, MP_NODE_SEQ, err)) != 0) {
        return rc;
    }
    struct mp_node *params = node_at(MP_NODE_SEQ, groups);
    mp_doc_map_put(root, "parameters", params);
    for (size_t g = 0; g < groups->n; g++) {
        const struct mp_node *group = groups->items[g];
        struct mp_node *list = NULL;
        enum category cat = CAT_ARGS;
        if ((rc = mp_doc_expect(group, MP_NODE_MAP, err)) != 0 ||
            (rc = mp_doc_check_keys(group, keys, err)) != 0 ||
            (rc = category_of(group, &cat, err)) != 0 ||
            (rc = mp_doc_require(group, "parameters", &list, err)) != 0 ||
            (rc = mp_doc_expect(list, MP_NODE_SEQ, err)) != 0) {
            return rc;
        }
        for (size_t i = 0; i < list->n; i++) {
            if ((rc = one_param(c, cat, list->items[i], params, err)) != 0) {
                return rc;
            }
        }
    }
    return 0;
}

/* ---- objective and algorithm ---- */

const char *mp_spec_pe_metric(const char *objective_metric_name)
{
    /* The original's client reported peak requests per second as "qps". */
    return strcmp(objective_metric_name, "qps") == 0 ? "throughput_rps" : objective_metric_name;
}

static int objective(const struct mp_node *spec, struct mp_node *root, struct mp_error *err)
{
    static const char *const keys[] = {"type", "objectiveMetricName", NULL};
    struct mp_node *o = NULL, *metric = NULL;
    const char *m = NULL;
    int rc;
    if ((rc = mp_doc_require(spec, "objective", &o, err)) != 0 ||
        (rc = mp_doc_expect(o, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(o, keys, err)) != 0 ||
        (rc = mp_doc_require(o, "objectiveMetricName", &metric, err)) != 0 ||
        (rc = mp_doc_string(metric, &m, err)) != 0) {
        return rc;
    }
    struct mp_node *out = node_at(MP_NODE_MAP, o);
    mp_doc_map_put(root, "objective", out);
    mp_doc_map_put(out, "metric", scalar_at(metric, mp_spec_pe_metric(m), true));
    const struct mp_node *type = mp_doc_get(o, "type");
    const char *t = "maximize";
    if ((rc = mp_doc_string(type, &t, err)) != 0) {
        return rc;
    }
    if (strcmp(t, "maximize") != 0 && strcmp(t, "minimize") != 0) {
        return mp_doc_error(err, type, "expected maximize or minimize, got \"%s\"", t);
    }
    mp_doc_map_put(out, "direction", scalar_at(type ? type : o, t, true));
    return 0;
}

/* algorithmSettings [{name, value}] -> settings {name: value}. */
static int algorithm_settings(const struct mp_node *list, struct mp_node *algo,
                              struct mp_error *err)
{
    static const char *const keys[] = {"name", "value", NULL};
    int rc = mp_doc_expect(list, MP_NODE_SEQ, err);
    if (rc != 0 || list->n == 0) {
        return rc;
    }
    struct mp_node *settings = node_at(MP_NODE_MAP, list);
    mp_doc_map_put(algo, "settings", settings);
    for (size_t i = 0; i < list->n; i++) {
        const struct mp_node *item = list->items[i];
        struct mp_node *name = NULL, *value = NULL;
        const char *s = NULL;
        if ((rc = mp_doc_expect(item, MP_NODE_MAP, err)) != 0 ||
            (rc = mp_doc_check_keys(item, keys, err)) != 0 ||
            (rc = mp_doc_require(item, "name", &name, err)) != 0 ||
            (rc = mp_doc_string(name, &s, err)) != 0 ||
            (rc = mp_doc_require(item, "value", &value, err)) != 0 ||
            (rc = api_type(value, API_STRING_OR_INT, err)) != 0) {
            return rc;
        }
        if (mp_doc_get(settings, s)) {
            return mp_doc_error(err, name, "setting \"%s\" is given twice", s);
        }
        /* The original's (and Katib's) name of the seed, which every algorithm here takes as
         * spec.algorithm.seed: "this algorithm takes no settings" refused it for grid and
         * random. */
        if (strcmp(s, "random_state") == 0) {
            if (mp_doc_get(algo, "seed")) {
                return mp_doc_error(err, name,
                                    "random_state is the seed, which spec.algorithm.seed gives "
                                    "already: give it once");
            }
            mp_doc_map_put(algo, "seed", mp_doc_clone(value));
            continue;
        }
        mp_doc_map_put(settings, s, mp_doc_clone(value));
        settings->key_line[settings->n - 1] = name->line; /* an unknown setting: its name */
        settings->key_col[settings->n - 1] = name->col;
    }
    return 0;
}

static int algorithm(const struct mp_node *spec, struct mp_node *root, struct mp_error *err)
{
    static const char *const keys[] = {"algorithmName", "algorithmSettings", "seed", "prior", NULL};
    const struct mp_node *a = mp_doc_get(spec, "algorithm");
    struct mp_node *name = NULL;
    const char *s = NULL;
    int rc;
    if ((rc = missing(spec, "algorithm", err)) != 0 ||
        (rc = mp_doc_expect(a, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(a, keys, err)) != 0 ||
        (rc = mp_doc_require(a, "algorithmName", &name, err)) != 0 ||
        (rc = mp_doc_string(name, &s, err)) != 0) {
        return rc;
    }
    struct mp_node *out = node_at(MP_NODE_MAP, a);
    mp_doc_map_put(root, "algorithm", out);
    mp_doc_map_put(out, "name", scalar_at(name, strcmp(s, "BayesianOpt") == 0 ? "bo" : s, true));
    put_clone(out, "max_trials", mp_doc_get(spec, "maxNumTrials"));
    put_clone(out, "parallelism", mp_doc_get(spec, "parallelism"));
    put_clone(out, "max_failed_trials", mp_doc_get(spec, "maxFailedTrials"));
    put_clone(out, "seed", mp_doc_get(a, "seed"));
    put_clone(out, "prior", mp_doc_get(a, "prior"));
    /* A ProfilingExperiment records one Trial per trial; confirmation runs (which re-run a
     * finished trial's configuration) have no place there: off. */
    mp_doc_map_put(out, "confirm", scalar_at(a, "false", false));
    const struct mp_node *settings = mp_doc_get(a, "algorithmSettings");
    return settings ? algorithm_settings(settings, out, err) : 0;
}

/* ---- the runner ---- */

/* The port of the tuned container: its first containerPort, else the original's fixed
 * Service port 8500. 0 when the container cannot be told (the runner then names the
 * problem). */
static int64_t service_port(const struct mp_node *pod_template, const char *container)
{
    const struct mp_node *cs = mp_doc_get(mp_doc_get(pod_template, "spec"), "containers");
    if (!cs || cs->kind != MP_NODE_SEQ || (!container && cs->n != 1)) {
        return 0;
    }
    for (size_t i = 0; i < cs->n; i++) {
        const struct mp_node *name = mp_doc_get(cs->items[i], "name");
        if (container && !(name && name->scalar && strcmp(name->scalar, container) == 0)) {
            continue;
        }
        const struct mp_node *ports = mp_doc_get(cs->items[i], "ports");
        const struct mp_node *port =
            ports && ports->n ? mp_doc_get(ports->items[0], "containerPort") : NULL;
        int64_t v = 0;
        return port && mp_parse_int64(port->scalar ? port->scalar : "", &v) == 0 ? v : 8500;
    }
    return 0;
}

static int service_template(const struct mp_node *spec, struct mp_node *runner,
                            struct mp_error *err)
{
    struct mp_node *pt = NULL, *tmpl = NULL;
    const char *container = NULL;
    const struct mp_node *cname = mp_doc_get(spec, "serviceContainerName");
    int rc;
    if ((rc = mp_doc_require(spec, "servicePodTemplate", &pt, err)) != 0 ||
        (rc = mp_doc_expect(pt, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(pt, "template", &tmpl, err)) != 0 ||
        (rc = mp_doc_expect(tmpl, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_string(cname, &container, err)) != 0) {
        return rc;
    }
    /* The runner checks the template too, but would name its own key (runner.container). */
    const struct mp_node *cs = mp_doc_get(mp_doc_get(tmpl, "spec"), "containers");
    if (!container && cs && cs->kind == MP_NODE_SEQ && cs->n > 1) {
        return mp_doc_error(err, cs,
                            "the pod template has %zu containers: name the one to tune in "
                            "spec.serviceContainerName",
                            cs->n);
    }
    put_clone(runner, "pod_template", tmpl);
    put_clone(runner, "container", cname);
    int64_t port = service_port(tmpl, container);
    if (port > 0) {
        char text[24];
        snprintf(text, sizeof(text), "%lld", (long long)port);
        mp_doc_map_put(runner, "port", scalar_at(pt, text, false));
    }
    return 0;
}

/* spec.clientTemplate, the user's own load client: a Job template ({spec: {template: {spec:
 * {containers: [one]}}}}) -> runner.client_template, which the kubernetes runner creates instead
 * of its own load Job (docs/internals/kubernetes-runner.md, "The client Job"). */
static int client_template(const struct mp_node *spec, struct mp_node *runner, struct mp_error *err)
{
    const struct mp_node *ct = mp_doc_get(spec, "clientTemplate");
    struct mp_node *jspec = NULL, *tmpl = NULL, *pspec = NULL, *cs = NULL, *image = NULL;
    int rc;
    if (!ct) {
        return 0;
    }
    if ((rc = mp_doc_expect(ct, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(ct, "spec", &jspec, err)) != 0 ||
        (rc = mp_doc_expect(jspec, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(jspec, "template", &tmpl, err)) != 0 ||
        (rc = mp_doc_expect(tmpl, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(tmpl, "spec", &pspec, err)) != 0 ||
        (rc = mp_doc_expect(pspec, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(pspec, "containers", &cs, err)) != 0 ||
        (rc = mp_doc_expect(cs, MP_NODE_SEQ, err)) != 0) {
        return rc;
    }
    if (cs->n != 1) {
        return mp_doc_error(err, cs,
                            "the client Job has %zu containers: give exactly one (it gets the "
                            "service's address and the trial's parameters, and writes the result)",
                            cs->n);
    }
    if ((rc = mp_doc_expect(cs->items[0], MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_require(cs->items[0], "image", &image, err)) != 0 ||
        (rc = mp_doc_expect(image, MP_NODE_SCALAR, err)) != 0) {
        return rc;
    }
    put_clone(runner, "client_template", ct);
    return 0;
}

/* deploy/crds/profilingexperiments.yaml: spec.requestTemplate's maxLength. */
#define PE_REQUEST_TEMPLATE_MAX 262144

/* requestTemplate (the body itself) -> load.body_text (a POST), merged into our own `load`
 * block. */
static int load_settings(const struct mp_node *spec, struct mp_node *runner, struct mp_error *err)
{
    const struct mp_node *load = mp_doc_get(spec, "load");
    const struct mp_node *req = mp_doc_get(spec, "requestTemplate");
    int rc;
    if ((load && (rc = mp_doc_expect(load, MP_NODE_MAP, err)) != 0) ||
        (req && (rc = mp_doc_expect(req, MP_NODE_SCALAR, err)) != 0)) {
        return rc;
    }
    /* The CRD's maxLength, in characters as the API server counts them (validate passed what
     * `kubectl apply` was refused). */
    size_t chars = 0;
    for (const char *p = req ? req->scalar : ""; *p; p++) {
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    }
    if (chars > PE_REQUEST_TEMPLATE_MAX) {
        return mp_doc_error(err, req,
                            "%zu characters, over the %d (256 KiB) the API server takes: give a "
                            "larger body as a file (spec.load.body)",
                            chars, PE_REQUEST_TEMPLATE_MAX);
    }
    const struct mp_node *body = mp_doc_get(load, "body");
    if (req && (body || (body = mp_doc_get(load, "body_text")) != NULL)) {
        return mp_doc_error(err, body, "give either spec.requestTemplate or spec.load.%s, not both",
                            mp_doc_get(load, "body") ? "body" : "body_text");
    }
    struct mp_node *out = load ? mp_doc_clone(load) : req ? node_at(MP_NODE_MAP, req) : NULL;
    if (!out) {
        return 0;
    }
    mp_doc_map_put(runner, "load", out);
    if (req) {
        mp_doc_map_put(out, "body_text", mp_doc_clone(req));
        if (!mp_doc_get(out, "method")) {
            mp_doc_map_put(out, "method", scalar_at(req, "POST", true));
        }
    }
    return 0;
}

/* Our `runner` block adds settings of the kubernetes runner that no original field sets. */
static int extra_runner(const struct mp_node *spec, struct mp_node *runner, struct mp_error *err)
{
    const struct mp_node *extra = mp_doc_get(spec, "runner");
    int rc;
    if (!extra || (rc = mp_doc_expect(extra, MP_NODE_MAP, err)) != 0) {
        return extra ? rc : 0;
    }
    for (size_t i = 0; i < extra->n; i++) {
        if (strcmp(extra->keys[i], "kind") == 0 || mp_doc_get(runner, extra->keys[i])) {
            return mp_error_set(
                err, MP_EINVALID, "%s:%u:%u: '%s.%s': set by the ProfilingExperiment's own fields",
                extra->file, extra->key_line[i], extra->key_col[i], extra->path, extra->keys[i]);
        }
        mp_doc_map_put(runner, extra->keys[i], mp_doc_clone(extra->items[i]));
        /* The key's own position, for the runner's messages about it (an unknown key). */
        runner->key_line[runner->n - 1] = extra->key_line[i];
        runner->key_col[runner->n - 1] = extra->key_col[i];
    }
    return 0;
}

static int runner(const struct mp_node *pe, const struct pctx *c, struct mp_node *root,
                  struct mp_error *err)
{
    const struct mp_node *spec = c->spec;
    struct mp_node *out = node_at(MP_NODE_MAP, spec);
    mp_doc_map_put(root, "runner", out);
    mp_doc_map_put(out, "kind", scalar_at(spec, "kubernetes", true));
    put_clone(out, "namespace", mp_doc_get(mp_doc_get(pe, "metadata"), "namespace"));
    const struct mp_node *deadline = mp_doc_get(spec, "serviceProgressDeadline");
    int64_t seconds = 0;
    int rc;
    if ((rc = service_template(spec, out, err)) != 0 ||
        (rc = mp_doc_int(deadline, 1, INT32_MAX, &seconds, err)) != 0) {
        return rc;
    }
    if (deadline) {
        char text[32];
        snprintf(text, sizeof(text), "%llds", (long long)seconds);
        mp_doc_map_put(out, "startup_timeout", scalar_at(deadline, text, true));
    }
    put_clone(out, "trial_timeout", mp_doc_get(spec, "trialTimeout"));
    if (c->gpu_memory_mib > 0) {
        const struct mp_node *g = mp_doc_get(spec, "gpuMemoryMiB");
        mp_doc_map_put(out, "gpu_sharing", scalar_at(g, "hami", true));
        mp_doc_map_put(out, "gpu_memory_mib", mp_doc_clone(g));
    }
    if ((rc = load_settings(spec, out, err)) != 0 || (rc = client_template(spec, out, err)) != 0) {
        return rc;
    }
    return extra_runner(spec, out, err);
}

/* ---- the whole resource ---- */

static bool is_pe(const char *api_version, const char *kind)
{
    /* tuning.kubedl.io was the original's group before it moved to morphling.kubedl.io. */
    return api_version && kind && strcmp(kind, MP_PE_KIND) == 0 &&
           (strcmp(api_version, MP_PE_API_VERSION) == 0 ||
            strcmp(api_version, "tuning.kubedl.io/v1alpha1") == 0);
}

bool mp_spec_is_pe(const struct mp_node *root)
{
    const struct mp_node *v = mp_doc_get(root, "apiVersion"), *k = mp_doc_get(root, "kind");
    return v && k && is_pe(v->scalar, k->scalar);
}

/* The object's name and namespace as the API server checks them: `kubectl apply` refused what
 * validate had passed ("My_Exp"). */
static int kube_names(const struct mp_node *meta, struct mp_error *err)
{
    static const struct {
        const char *key;
        enum mp_kube_name_rule rule;
    } names[] = {{"name", MP_KUBE_DNS_SUBDOMAIN}, {"namespace", MP_KUBE_DNS_LABEL}};
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        const struct mp_node *n = mp_doc_get(meta, names[i].key);
        struct mp_error e = {0};
        if (n && n->kind == MP_NODE_SCALAR &&
            mp_kube_check_name(n->scalar, names[i].rule, names[i].key, &e) != 0) {
            return mp_doc_error(err, n, "%s", e.msg);
        }
        /* The API server takes it; what morphling needs on top is a label's rule. */
        if (i == 0 && n && n->kind == MP_NODE_SCALAR &&
            (strchr(n->scalar, '.') || strlen(n->scalar) > 63 ||
             !islower((unsigned char)n->scalar[0]))) {
            return mp_doc_error(err, n,
                                "name \"%s\": morphling runs a ProfilingExperiment whose name is a "
                                "DNS label: no '.', at most 63 characters, starting with a letter "
                                "(its trials' objects and Services are named after it)",
                                n->scalar);
        }
    }
    return 0;
}

static int header(const struct mp_node *pe, struct pctx *c, struct mp_node *root,
                  struct mp_error *err)
{
    static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
    struct mp_node *meta = NULL, *name = NULL, *spec = NULL;
    int rc;
    if ((rc = mp_doc_check_keys(pe, keys, err)) != 0 ||
        (rc = mp_doc_require(pe, "metadata", &meta, err)) != 0 ||
        (rc = mp_doc_require(meta, "name", &name, err)) != 0 ||
        (rc = mp_doc_require(pe, "spec", &spec, err)) != 0 ||
        (rc = mp_doc_expect(spec, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(spec, spec_keys, err)) != 0 || (rc = api_types(spec, err)) != 0 ||
        (rc = mp_doc_number(mp_doc_get(spec, "gpuMemoryMiB"), &c->gpu_memory_mib, err)) != 0) {
        return rc;
    }
    if ((rc = mp_doc_expect(name, MP_NODE_SCALAR, err)) != 0 || (rc = kube_names(meta, err)) != 0) {
        return rc;
    }
    const struct mp_node *g = mp_doc_get(spec, "gpuMemoryMiB");
    if (g && !(c->gpu_memory_mib > 0)) {
        return mp_doc_error(err, g, "expected a positive number of MiB, got \"%s\"", g->scalar);
    }
    c->spec = spec;
    mp_doc_map_put(root, "name", mp_doc_clone(name));
    return 0;
}

int mp_spec_pe_translate(const struct mp_node *pe, struct mp_node **out, struct mp_error *err)
{
    struct pctx c = {0};
    struct mp_node *root = node_at(MP_NODE_MAP, pe);
    int rc;
    if ((rc = header(pe, &c, root, err)) != 0 || (rc = tunable_parameters(&c, root, err)) != 0 ||
        (rc = objective(c.spec, root, err)) != 0 || (rc = algorithm(c.spec, root, err)) != 0 ||
        (rc = runner(pe, &c, root, err)) != 0) {
        mp_doc_free(root);
        return rc;
    }
    put_clone(root, "constraints", mp_doc_get(c.spec, "constraints"));
    put_clone(root, "cost", mp_doc_get(c.spec, "cost"));
    *out = root;
    return 0;
}

int mp_spec_from_pe_json(const json_t *obj, const char *source, const char *base_dir,
                         struct mp_spec **out, struct mp_error *err)
{
    /* Sorted keys and four spaces, as `kubectl get pe NAME -o json` prints a custom resource,
     * so that the positions in messages point into that output. */
    if (!is_pe(json_string_value(json_object_get(obj, "apiVersion")),
               json_string_value(json_object_get(obj, "kind")))) {
        return mp_error_set(err, MP_EINVALID, "%s: not a %s %s object", source, MP_PE_API_VERSION,
                            MP_PE_KIND);
    }
    char *text = json_dumps(obj, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    int rc = mp_spec_parse(text, strlen(text), source, base_dir, NULL, 0, out, err);
    free(text);
    return rc;
}

/* ---- the way back ---- */

json_t *mp_spec_pe_assignment(const struct mp_spec *spec, const double *x)
{
    static const char *const categories[] = {"args", "resource", "env", "args"};
    json_t *list = json_array();
    double gpu_mib = 0;
    if (mp_doc_number(mp_doc_get(spec->runner_node, "gpu_memory_mib"), &gpu_mib, NULL) != 0) {
        gpu_mib = 0;
    }
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        char buf[MP_FMT_DOUBLE_MAX > MP_KUBE_QUANTITY_MAX ? MP_FMT_DOUBLE_MAX
                                                          : MP_KUBE_QUANTITY_MAX];
        const char *text = NULL;
        if (p->target == MP_TARGET_RESOURCE && p->resource == MP_RESOURCE_CPU) {
            text = mp_kube_fmt_milli(buf, llround(x[i] * 1000));
        } else if (p->target == MP_TARGET_RESOURCE && p->resource == MP_RESOURCE_MEMORY) {
            text = mp_kube_fmt_bytes(buf, llround(x[i] * 1048576.0));
        } else if (p->target == MP_TARGET_RESOURCE && p->resource == MP_RESOURCE_GPU_MEMORY_SHARE &&
                   gpu_mib > 0) {
            snprintf(buf, sizeof(buf), "%lld", llround(x[i] * gpu_mib)); /* nvidia.com/gpumem */
            text = buf;
        } else {
            text = mp_space_format(&spec->space, i, x[i], buf);
        }
        json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", p->name, "value", text,
                                              "category", categories[p->target]));
    }
    return list;
}
