/* SPDX-License-Identifier: Apache-2.0 */
/* Loading and validating experiment specs: top-level sections other than `parameters`. */
#include "spec/spec_int.h"

#include "spec/pe.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const mp_spec_keys[] = {"name",      "description", "service",     "parameters",
                                    "objective", "objectives",  "constraints", "cost",
                                    "algorithm", "runner",      NULL};

void mp_spec_free(struct mp_spec *spec)
{
    if (!spec) {
        return;
    }
    free(spec->name);
    free(spec->description);
    free(spec->source);
    free(spec->base_dir);
    for (size_t i = 0; i < spec->service.argc; i++) {
        free(spec->service.argv[i]);
    }
    free(spec->service.argv);
    for (size_t i = 0; i < spec->service.n_env; i++) {
        free(spec->service.env[i]);
    }
    free(spec->service.env);
    free(spec->service.env_nodes);
    free(spec->service.workdir);
    free(spec->service.probe_path);
    mp_space_release(&spec->space);
    free(spec->objective_metric);
    for (size_t i = 0; i < spec->n_objectives; i++) {
        free(spec->objectives[i].metric);
    }
    free(spec->objectives);
    for (size_t i = 0; i < spec->n_constraints; i++) {
        free(spec->constraints[i].metric);
        free(spec->constraints[i].text);
    }
    free(spec->constraints);
    for (size_t i = 0; i < spec->cost.n_gpu_types; i++) {
        free(spec->cost.gpu_types[i]);
    }
    free(spec->cost.gpu_types);
    free(spec->cost.gpu_type_hour);
    free(spec->algorithm);
    free(spec->prior_path);
    free(spec->runner);
    mp_doc_free(spec->doc);
    free(spec);
}

static int dup_string(const struct mp_node *n, char **out, struct mp_error *err)
{
    const char *s = NULL;
    int rc = mp_doc_string(n, &s, err);
    if (rc == 0 && s) {
        free(*out);
        *out = mp_xstrdup(s);
    }
    return rc;
}

static int parse_duration_ms(const struct mp_node *n, int64_t *out, struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    int64_t ns;
    if (n->kind != MP_NODE_SCALAR || mp_parse_duration_ns(n->scalar, &ns) != 0) {
        return mp_doc_error(err, n, "expected a duration such as 30s or 500ms, got %s%s%s",
                            n->kind == MP_NODE_SCALAR ? "\"" : "",
                            n->kind == MP_NODE_SCALAR ? n->scalar : "a structure",
                            n->kind == MP_NODE_SCALAR ? "\"" : "");
    }
    *out = ns / 1000000;
    return 0;
}

/* A duration that must not be zero, in whole milliseconds: 0 made a trial_timeout the runner's
 * default (10 min) without a word, and a probe timeout or startup_timeout of 0 failed every
 * trial; "100us" is 0 ms here. */
static int positive_duration_ms(const struct mp_node *n, int64_t *out, struct mp_error *err)
{
    int rc = parse_duration_ms(n, out, err);
    if (rc == 0 && n && *out <= 0) {
        return mp_doc_error(err, n, "expected a positive duration (at least 1ms), got \"%s\"",
                            n->scalar);
    }
    return rc;
}

static int parse_readiness(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    static const char *const keys[] = {"http", "tcp", "interval", "timeout", "startup_timeout",
                                       NULL};
    struct mp_service *svc = &spec->service;
    svc->probe = MP_PROBE_HTTP;
    svc->probe_path = mp_xstrdup("/healthz");
    svc->probe_interval_ms = 200;
    svc->probe_timeout_ms = 1000;
    svc->startup_timeout_ms = 60000;
    if (!n) {
        return 0;
    }
    int rc;
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(n, keys, err)) != 0) {
        return rc;
    }
    struct mp_node *http = mp_doc_get(n, "http"), *tcp = mp_doc_get(n, "tcp");
    if (http && tcp) {
        return mp_doc_error(err, tcp, "give either http or tcp, not both");
    }
    if (http && (rc = dup_string(http, &svc->probe_path, err)) != 0) {
        return rc;
    }
    if (http && svc->probe_path[0] != '/') {
        return mp_doc_error(err, http, "expected a path starting with '/', got \"%s\"",
                            svc->probe_path);
    }
    bool use_tcp = false;
    if ((rc = mp_doc_bool(tcp, &use_tcp, err)) != 0) {
        return rc;
    }
    if (use_tcp) {
        svc->probe = MP_PROBE_TCP;
    }
    if ((rc = positive_duration_ms(mp_doc_get(n, "interval"), &svc->probe_interval_ms, err)) ||
        (rc = positive_duration_ms(mp_doc_get(n, "timeout"), &svc->probe_timeout_ms, err)) ||
        (rc = positive_duration_ms(mp_doc_get(n, "startup_timeout"), &svc->startup_timeout_ms,
                                   err))) {
        return rc;
    }
    return 0;
}

/* A command written as one string ("python3 srv.py {port}"): the list it means, as YAML. */
static int command_as_list(const struct mp_node *cmd, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    const char *p = cmd->scalar;
    while (*(p += strspn(p, " \t"))) {
        size_t len = strcspn(p, " \t");
        char *word = mp_xstrndup(p, len);
        bool quote = strpbrk(word, "{}[],:#&*!|>'\"%@`\\") != NULL;
        mp_buf_adds(&b, b.len ? ", " : "");
        mp_buf_adds(&b, quote ? "\"" : "");
        for (const char *c = word; *c; c++) {
            mp_buf_addf(&b, "%s%c", *c == '"' || *c == '\\' ? "\\" : "", *c);
        }
        mp_buf_adds(&b, quote ? "\"" : "");
        free(word);
        p += len;
    }
    int rc = mp_doc_error(err, cmd,
                          "expected a list (the program and its arguments: never run through a "
                          "shell), got \"%s\": write [%s]",
                          cmd->scalar, b.data ? b.data : "");
    mp_buf_release(&b);
    return rc;
}

static int parse_command(struct mp_spec *spec, const struct mp_node *cmd, bool *used,
                         struct mp_error *err)
{
    if (cmd->kind == MP_NODE_SCALAR && cmd->scalar && strpbrk(cmd->scalar, " \t")) {
        return command_as_list(cmd, err);
    }
    int rc = mp_doc_expect(cmd, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    if (cmd->n == 0) {
        return mp_doc_error(err, cmd, "expected a non-empty list (the program and its arguments)");
    }
    struct mp_service *svc = &spec->service;
    svc->argv = mp_xcalloc(cmd->n + 1, sizeof(char *));
    for (size_t i = 0; i < cmd->n; i++) {
        const char *s = NULL;
        if ((rc = mp_doc_string(cmd->items[i], &s, err)) != 0 ||
            (rc = mp_spec_check_template(spec, cmd->items[i], used, err)) != 0) {
            return rc;
        }
        svc->argv[svc->argc++] = mp_xstrdup(s);
    }
    return 0;
}

/* The parameter whose target is environment variable name, or -1. */
static int param_on_env(const struct mp_spec *spec, const char *name)
{
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target == MP_TARGET_ENV && strcmp(p->target_name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

static int parse_env(struct mp_spec *spec, const struct mp_node *env, bool *used,
                     struct mp_error *err)
{
    if (!env) {
        return 0;
    }
    int rc = mp_doc_expect(env, MP_NODE_MAP, err);
    if (rc != 0) {
        return rc;
    }
    struct mp_service *svc = &spec->service;
    svc->env = mp_xcalloc(env->n + 1, sizeof(char *));
    svc->env_nodes = mp_xcalloc(env->n + 1, sizeof(*svc->env_nodes));
    for (size_t i = 0; i < env->n; i++) {
        const char *s = NULL;
        const struct mp_node *v = env->items[i];
        if (!mp_spec_is_identifier(env->keys[i])) {
            return mp_error_set(err, MP_EINVALID, "%s:%u:%u: '%s.%s': not a valid environment name",
                                env->file, env->key_line[i], env->key_col[i], env->path,
                                env->keys[i]);
        }
        int by = param_on_env(spec, env->keys[i]);
        if (by >= 0) {
            /* The parameter's value replaced this one in every trial, without a word. */
            return mp_error_set(err, MP_EINVALID,
                                "%s:%u:%u: '%s.%s': parameter '%s' sets this variable (its "
                                "target); give it in one place",
                                env->file, env->key_line[i], env->key_col[i], env->path,
                                env->keys[i], spec->space.params[by].name);
        }
        /* A secret reference is read when the service starts, never templated. */
        if (v->kind == MP_NODE_MAP) {
            rc = mp_spec_check_secret_ref(spec, v, err);
        } else if ((rc = mp_doc_string(v, &s, err)) == 0) {
            rc = mp_spec_check_template(spec, v, used, err);
        }
        if (rc != 0) {
            return rc;
        }
        svc->env_nodes[svc->n_env] = v;
        svc->env[svc->n_env++] = mp_xasprintf("%s=%s", env->keys[i], s ? s : "");
    }
    return 0;
}

static int parse_service(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    static const char *const keys[] = {"command", "env", "workdir", "readiness", NULL};
    int rc;
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(n, keys, err)) != 0) {
        return rc;
    }
    spec->has_service = true;
    bool *used = mp_xcalloc(spec->space.n + 1, sizeof(bool));
    struct mp_node *cmd = NULL;
    const char *wd = NULL;
    if ((rc = mp_doc_require(n, "command", &cmd, err)) != 0 ||
        (rc = parse_command(spec, cmd, used, err)) != 0 ||
        (rc = parse_env(spec, mp_doc_get(n, "env"), used, err)) != 0 ||
        (rc = mp_doc_string(mp_doc_get(n, "workdir"), &wd, err)) != 0 ||
        (rc = parse_readiness(spec, mp_doc_get(n, "readiness"), err)) != 0) {
        goto out;
    }
    if (wd) {
        spec->service.workdir = mp_spec_resolve_path(spec, wd);
    }
    for (size_t i = 0; i < spec->space.n; i++) {
        if (!used[i] && spec->space.params[i].target == MP_TARGET_NONE) {
            rc = mp_doc_error(err, n,
                              "parameter '%s' reaches the service nowhere: give it a target or "
                              "use {%s} in the command or env",
                              spec->space.params[i].name, spec->space.params[i].name);
            goto out;
        }
    }
out:
    free(used);
    return rc;
}

static int parse_one_objective(const struct mp_node *n, struct mp_objective *o,
                               struct mp_error *err)
{
    static const char *const keys[] = {"metric", "direction", NULL};
    struct mp_node *metric = NULL;
    const char *m = NULL, *d = "maximize";
    int rc;
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(n, keys, err)) != 0 ||
        (rc = mp_doc_require(n, "metric", &metric, err)) != 0 ||
        (rc = mp_doc_string(metric, &m, err)) != 0) {
        return rc;
    }
    const struct mp_node *dir = mp_doc_get(n, "direction");
    if ((rc = mp_doc_string(dir, &d, err)) != 0) {
        return rc;
    }
    if (strcmp(d, "maximize") == 0 || strcmp(d, "max") == 0) {
        o->direction = MP_MAXIMIZE;
    } else if (strcmp(d, "minimize") == 0 || strcmp(d, "min") == 0) {
        o->direction = MP_MINIMIZE;
    } else {
        return mp_doc_error(err, dir, "expected maximize or minimize, got \"%s\"", d);
    }
    o->metric = mp_xstrdup(m);
    return 0;
}

/* A metric that names a parameter: a replay surface's column of that parameter is no metric,
 * so every trial failed METRIC_MISSING, and elsewhere the trials' exports held two columns of
 * one name. */
static int not_a_parameter(const struct mp_spec *spec, const char *metric, const struct mp_node *at,
                           struct mp_error *err)
{
    if (mp_space_find(&spec->space, metric) < 0) {
        return 0;
    }
    return mp_doc_error(err, at, "\"%s\" is a parameter, not a metric", metric);
}

/* `objective: {...}` or `objectives: [{...}, ...]` (the first drives the search). */
static int parse_objectives(struct mp_spec *spec, const struct mp_node *root, struct mp_error *err)
{
    const struct mp_node *one = mp_doc_get(root, "objective");
    const struct mp_node *many = mp_doc_get(root, "objectives");
    int rc;
    if (one && many) {
        return mp_doc_error(err, many, "give either objective or objectives, not both");
    }
    if (!one && !many) {
        return mp_error_set(err, MP_EINVALID, "%s:%u:%u: 'objective': required key is missing",
                            root->file, root->line, root->col);
    }
    if (many && (rc = mp_doc_expect(many, MP_NODE_SEQ, err)) != 0) {
        return rc;
    }
    if (many && (many->n == 0 || many->n > 8)) {
        return mp_doc_error(err, many, "expected 1 to 8 objectives");
    }
    size_t n = many ? many->n : 1;
    spec->objectives = mp_xcalloc(n, sizeof(*spec->objectives));
    for (size_t i = 0; i < n; i++) {
        const struct mp_node *item = many ? many->items[i] : one;
        if ((rc = parse_one_objective(item, &spec->objectives[i], err)) != 0) {
            return rc;
        }
        spec->n_objectives++;
        if ((rc = not_a_parameter(spec, spec->objectives[i].metric, mp_doc_get(item, "metric"),
                                  err)) != 0) {
            return rc;
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(spec->objectives[k].metric, spec->objectives[i].metric) == 0) {
                return mp_doc_error(err, item, "metric \"%s\" is already an objective",
                                    spec->objectives[i].metric);
            }
        }
    }
    spec->objective_metric = mp_xstrdup(spec->objectives[0].metric);
    spec->direction = spec->objectives[0].direction;
    return 0;
}

const char *mp_spec_metric_source(const char *metric)
{
    static const char *const cost_metrics[] = {"cost_per_hour", "throughput_per_cost",
                                               "cost_per_million_requests"};
    if (strcmp(metric, "items_per_s") == 0) {
        return "a parameter with role: batch_size";
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(cost_metrics); i++) {
        if (strcmp(cost_metrics[i], metric) == 0) {
            return "a cost table ('cost')";
        }
    }
    return NULL;
}

int mp_spec_check_param_names(const struct mp_spec *spec, struct mp_error *err)
{
    const struct mp_node *list = mp_doc_get(spec->doc, "parameters");
    for (size_t i = 0; i < spec->space.n; i++) {
        const char *name = spec->space.params[i].name;
        const struct mp_node *item = list && i < list->n ? list->items[i] : spec->doc;
        const struct mp_node *at = mp_doc_get(item, "name") ? mp_doc_get(item, "name") : item;
        if (strcmp(name, "number") == 0 || strcmp(name, "state") == 0 ||
            strcmp(name, "failure") == 0) {
            return mp_doc_error(err, at,
                                "\"%s\" names a column of every trial export; rename the "
                                "parameter",
                                name);
        }
        if (mp_spec_metric_source(name)) {
            return mp_doc_error(
                err, at, "\"%s\" names a metric morphling derives; rename the parameter", name);
        }
    }
    return 0;
}

bool mp_spec_metric_derived(const struct mp_spec *spec, const char *metric)
{
    if (strcmp(metric, "items_per_s") == 0) {
        return mp_space_find_role(&spec->space, "batch_size") >= 0;
    }
    return spec->has_cost && mp_spec_metric_source(metric);
}

int mp_spec_pods_param(const struct mp_spec *spec)
{
    for (size_t i = 0; i < spec->space.n && !spec->has_service; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target == MP_TARGET_NONE && p->role && strcmp(p->role, "instances") == 0) {
            return (int)i;
        }
    }
    return -1;
}

int64_t mp_spec_pods(const struct mp_spec *spec, const double *x)
{
    int i = mp_spec_pods_param(spec);
    if (i >= 0 && x) {
        return x[i] >= 1 && x[i] <= 1e6 ? (int64_t)llround(x[i]) : 0;
    }
    int64_t n = 0;
    if (i >= 0 || strcmp(spec->runner, "kubernetes") != 0 ||
        mp_doc_int(mp_doc_get(spec->runner_node, "replicas"), 1, 1000000, &n, NULL) != 0) {
        return 0;
    }
    return n;
}

const char *mp_spec_judged_metric(const struct mp_spec *spec, size_t i, const struct mp_node **at)
{
    if (i >= spec->n_objectives) {
        size_t k = i - spec->n_objectives;
        *at = mp_doc_get(spec->doc, "constraints")->items[k];
        return spec->constraints[k].metric;
    }
    const struct mp_node *list = mp_doc_get(spec->doc, "objectives");
    *at = list ? list->items[i] : mp_doc_get(spec->doc, "objective");
    const struct mp_node *name = mp_doc_get(*at, "metric");
    *at = name ? name : *at;
    return spec->objectives[i].metric;
}

const char *mp_spec_trial_timeout_source(const struct mp_spec *spec)
{
    if (spec->trial_timeout_ms <= 0) {
        return spec->from_pe ? "the runner's default; spec.trialTimeout sets another"
                             : "the runner's default; runner.trial_timeout sets another";
    }
    return spec->from_pe ? "spec.trialTimeout" : "runner.trial_timeout";
}

const char *mp_cmp_text(enum mp_cmp op)
{
    static const char *const text[] = {"<=", "<", ">=", ">"};
    return text[op];
}

bool mp_constraint_holds(const struct mp_constraint *c, double v)
{
    switch (c->op) {
    case MP_CMP_LE:
        return v <= c->bound;
    case MP_CMP_LT:
        return v < c->bound;
    case MP_CMP_GE:
        return v >= c->bound;
    case MP_CMP_GT:
        return v > c->bound;
    }
    return false;
}

/* "METRIC OP NUMBER", e.g. "p99_ms <= 200". */
static int parse_constraint(const struct mp_node *n, struct mp_constraint *c, struct mp_error *err)
{
    const char *s = NULL;
    int rc = mp_doc_string(n, &s, err);
    if (rc != 0) {
        return rc;
    }
    /* Blanks (spaces, tabs) around the parts are dropped: a tab after the metric made it
     * "p99_ms\t", a metric no runner measures, and a quoted trailing space refused the number. */
    const char *blanks = " \t";
    const char *m = s + strspn(s, blanks);
    const char *op = strpbrk(m, "<>");
    if (!op || op == m) {
        return mp_doc_error(err, n, "expected \"METRIC <= NUMBER\" (or <, >=, >), got \"%s\"", s);
    }
    size_t mlen = (size_t)(op - m);
    while (mlen > 0 && strchr(blanks, m[mlen - 1])) {
        mlen--;
    }
    bool eq = op[1] == '=';
    c->op = op[0] == '<' ? (eq ? MP_CMP_LE : MP_CMP_LT) : (eq ? MP_CMP_GE : MP_CMP_GT);
    const char *num = op + 1 + eq;
    num += strspn(num, blanks);
    size_t nlen = strlen(num);
    while (nlen > 0 && strchr(blanks, num[nlen - 1])) {
        nlen--;
    }
    char *number = mp_xstrndup(num, nlen);
    int bad = mlen == 0 || mp_parse_double(number, &c->bound) != 0;
    /* A number with a unit ("500ms"): the unit is the metric's own, in its name. */
    char *end = number;
    (void)strtod(number, &end);
    bool unit = bad && mlen > 0 && end > number && isalpha((unsigned char)end[strspn(end, blanks)]);
    if (unit) {
        rc =
            mp_doc_error(err, n,
                         "the bound is a plain number in the metric's own unit (p99_ms is in "
                         "ms): write \"%.*s %.*s %.*s\", got \"%s\"",
                         (int)mlen, m, (int)(op + 1 + eq - op), op, (int)(end - number), number, s);
    }
    free(number);
    if (unit) {
        return rc;
    }
    if (bad) {
        return mp_doc_error(err, n, "expected \"METRIC <= NUMBER\" (or <, >=, >), got \"%s\"", s);
    }
    c->metric = mp_xstrndup(m, mlen);
    c->text = mp_xstrdup(s);
    if (strpbrk(c->metric, blanks)) {
        return mp_doc_error(err, n, "metric name \"%s\" contains a space", c->metric);
    }
    return 0;
}

/* Whether no value meets both constraints (on one metric, one an upper and one a lower
 * limit): every trial would be FAILED SLO_VIOLATED. */
static bool contradict(const struct mp_constraint *a, const struct mp_constraint *b)
{
    bool a_upper = a->op == MP_CMP_LE || a->op == MP_CMP_LT;
    bool b_upper = b->op == MP_CMP_LE || b->op == MP_CMP_LT;
    if (strcmp(a->metric, b->metric) != 0 || a_upper == b_upper) {
        return false;
    }
    const struct mp_constraint *up = a_upper ? a : b, *low = a_upper ? b : a;
    bool strict = up->op == MP_CMP_LT || low->op == MP_CMP_GT;
    return low->bound > up->bound || (strict && low->bound == up->bound);
}

static int parse_constraints(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    int rc = mp_doc_expect(n, MP_NODE_SEQ, err);
    if (rc != 0) {
        return rc;
    }
    spec->constraints = mp_xcalloc(n->n + 1, sizeof(*spec->constraints));
    for (size_t i = 0; i < n->n; i++) {
        rc = parse_constraint(n->items[i], &spec->constraints[i], err);
        spec->n_constraints++;
        if (rc != 0 ||
            (rc = not_a_parameter(spec, spec->constraints[i].metric, n->items[i], err)) != 0) {
            return rc;
        }
        for (size_t k = 0; k < i; k++) {
            if (contradict(&spec->constraints[k], &spec->constraints[i])) {
                return mp_doc_error(err, n->items[i],
                                    "no value of %s meets both this and constraints[%zu] "
                                    "(\"%s\"): every trial would fail",
                                    spec->constraints[i].metric, k, spec->constraints[k].text);
            }
        }
    }
    return 0;
}

/* A price per hour: 0 or in [1e-12, 1e12], so that a configuration's cost and the figures
 * divided by it stay finite (1e308 per core made cost_per_hour infinite: '-' in every report
 * and an objective of 0; a base_hour of 1e-320 made throughput_per_cost infinite). */
static int nonneg_price(const struct mp_node *n, double *out, struct mp_error *err)
{
    int rc = mp_doc_number(n, out, err);
    if (rc == 0 && n && !(*out == 0 || (*out >= 1e-12 && *out <= 1e12))) {
        return mp_doc_error(err, n, "expected 0 or a price in [1e-12, 1e12] per hour, got \"%s\"",
                            n->scalar);
    }
    return rc;
}

static int parse_cost(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    static const char *const keys[] = {"cpu_core_hour", "memory_gib_hour", "gpu_hour",
                                       "base_hour",     "gpu_type_hour",   NULL};
    if (!n) {
        return 0;
    }
    int rc;
    struct mp_cost *c = &spec->cost;
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(n, keys, err)) != 0 ||
        (rc = nonneg_price(mp_doc_get(n, "cpu_core_hour"), &c->cpu_core_hour, err)) != 0 ||
        (rc = nonneg_price(mp_doc_get(n, "memory_gib_hour"), &c->memory_gib_hour, err)) != 0 ||
        (rc = nonneg_price(mp_doc_get(n, "gpu_hour"), &c->gpu_hour, err)) != 0 ||
        (rc = nonneg_price(mp_doc_get(n, "base_hour"), &c->base_hour, err)) != 0) {
        return rc;
    }
    spec->has_cost = true;
    struct mp_node *types = mp_doc_get(n, "gpu_type_hour");
    if (!types) {
        return 0;
    }
    if ((rc = mp_doc_expect(types, MP_NODE_MAP, err)) != 0) {
        return rc;
    }
    c->gpu_types = mp_xcalloc(types->n + 1, sizeof(char *));
    c->gpu_type_hour = mp_xcalloc(types->n + 1, sizeof(double));
    for (size_t i = 0; i < types->n; i++) {
        c->gpu_types[i] = mp_xstrdup(types->keys[i]);
        c->n_gpu_types++;
        if ((rc = nonneg_price(types->items[i], &c->gpu_type_hour[i], err)) != 0) {
            return rc;
        }
    }
    return 0;
}

/* algorithm.confirm: {top, runs, max_runs, max_uncertainty}, or false. Defaults: 3 candidates,
 * 2 runs each, up to 4 while the leader's figure is not known within 5 %; off for the replay
 * runner, whose recorded figures do not change when re-read. */
static int parse_confirm(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    static const char *const keys[] = {"top", "runs", "max_runs", "max_uncertainty", NULL};
    bool replay = spec->runner && strcmp(spec->runner, "replay") == 0;
    spec->confirm_top = replay ? 0 : 3;
    spec->confirm_runs = 2;
    spec->confirm_max_runs = 4;
    spec->max_uncertainty = 0.05;
    if (mp_doc_is_null(n)) {
        return 0;
    }
    int rc;
    bool on = true;
    if (n->kind != MP_NODE_MAP) {
        if ((rc = mp_doc_bool(n, &on, err)) != 0) {
            return mp_doc_error(err, n,
                                "expected a map {top, runs, max_runs, max_uncertainty} or false");
        }
        spec->confirm_top = on ? 3 : 0;
        return 0;
    }
    if ((rc = mp_doc_check_keys(n, keys, err)) != 0 ||
        (rc = mp_doc_int(mp_doc_value(n, "top"), 0, 100, &spec->confirm_top, err)) != 0 ||
        (rc = mp_doc_int(mp_doc_value(n, "runs"), 1, 100, &spec->confirm_runs, err)) != 0) {
        return rc;
    }
    const struct mp_node *mr = mp_doc_value(n, "max_runs");
    spec->confirm_max_runs =
        spec->confirm_runs > spec->confirm_max_runs ? spec->confirm_runs : spec->confirm_max_runs;
    if ((rc = mp_doc_int(mr, 1, 100, &spec->confirm_max_runs, err)) != 0) {
        return rc;
    }
    if (spec->confirm_max_runs < spec->confirm_runs) {
        return mp_doc_error(err, mr, "max_runs (%lld) must be at least runs (%lld)",
                            (long long)spec->confirm_max_runs, (long long)spec->confirm_runs);
    }
    if (mp_doc_value(n, "top") == NULL && replay) {
        spec->confirm_top = 3;
    }
    const struct mp_node *u = mp_doc_value(n, "max_uncertainty");
    if (u && ((rc = mp_doc_number(u, &spec->max_uncertainty, err)) != 0 ||
              !(spec->max_uncertainty > 0 && spec->max_uncertainty <= 1))) {
        return rc ? rc : mp_doc_error(err, u, "expected a fraction in (0, 1]");
    }
    return 0;
}

static int parse_algorithm(struct mp_spec *spec, const struct mp_node *n, struct mp_error *err)
{
    static const char *const keys[] = {"name",    "max_trials",        "parallelism",
                                       "seed",    "settings",          "prior",
                                       "confirm", "max_failed_trials", NULL};
    spec->algorithm = mp_xstrdup("random");
    spec->max_trials = 20;
    spec->parallelism = 1;
    spec->max_failed_trials = -1;
    int rc = parse_confirm(spec, n ? mp_doc_get(n, "confirm") : NULL, err);
    if (!n || rc != 0) {
        spec->max_failed_trials = spec->max_trials;
        return rc;
    }
    int64_t seed = 0;
    const char *prior = NULL;
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = mp_doc_check_keys(n, keys, err)) != 0 ||
        (rc = dup_string(mp_doc_get(n, "name"), &spec->algorithm, err)) != 0 ||
        (rc = mp_doc_int(mp_doc_get(n, "max_trials"), 1, 1000000, &spec->max_trials, err)) ||
        (rc = mp_doc_int(mp_doc_get(n, "parallelism"), 1, 256, &spec->parallelism, err)) ||
        (rc = mp_doc_int(mp_doc_get(n, "max_failed_trials"), 0, 1000000, &spec->max_failed_trials,
                         err)) ||
        (rc = mp_doc_int(mp_doc_get(n, "seed"), 0, INT64_MAX, &seed, err)) ||
        (rc = mp_doc_string(mp_doc_get(n, "prior"), &prior, err)) != 0) {
        return rc;
    }
    spec->seed_given = mp_doc_get(n, "seed") != NULL;
    spec->seed = (uint64_t)seed;
    if (spec->max_failed_trials < 0) {
        spec->max_failed_trials = spec->max_trials;
    }
    if (prior) {
        spec->prior_path = mp_spec_resolve_path(spec, prior);
    }
    /* A null settings block is none, as a null in it is that setting's default. */
    spec->algorithm_settings = mp_doc_get(n, "settings");
    if (mp_doc_is_null(spec->algorithm_settings)) {
        spec->algorithm_settings = NULL;
    }
    if (spec->algorithm_settings) {
        return mp_doc_expect(spec->algorithm_settings, MP_NODE_MAP, err);
    }
    return 0;
}

static int parse_runner(struct mp_spec *spec, struct mp_node *n, struct mp_error *err)
{
    spec->runner = mp_xstrdup("local");
    spec->runner_node = n;
    if (!n) {
        return 0;
    }
    int rc;
    /* A null kind or trial_timeout is the default, as every null in the runner block is
     * (docs/spec.md: `--set runner.trial_timeout=` restores it; it was "expected a string"). */
    if ((rc = mp_doc_expect(n, MP_NODE_MAP, err)) != 0 ||
        (rc = dup_string(mp_doc_value(n, "kind"), &spec->runner, err)) != 0 ||
        (rc = positive_duration_ms(mp_doc_value(n, "trial_timeout"), &spec->trial_timeout_ms,
                                   err))) {
        return rc;
    }
    /* The runners of this build (src/runner/runner.c); the spec sits below them. */
    static const char *const kinds[] = {"local", "replay", "kubernetes"};
    for (size_t i = 0; i < MP_ARRAY_LEN(kinds); i++) {
        if (strcmp(kinds[i], spec->runner) == 0) {
            return 0;
        }
    }
    return mp_doc_error(err, mp_doc_get(n, "kind"),
                        "expected local, replay or kubernetes, got \"%s\"", spec->runner);
}

/* A top-level key named like a parameter ("--set memory=2Gi" on `run`): no spec field, though
 * `morphling trial --set` takes it; "unknown key" alone did not say where its values go. */
static int parameter_key(const struct mp_node *root, struct mp_error *err)
{
    const struct mp_node *params = mp_doc_get(root, "parameters");
    for (size_t k = 0; k < root->n; k++) {
        bool field = false;
        for (size_t i = 0; mp_spec_keys[i]; i++) {
            field |= strcmp(mp_spec_keys[i], root->keys[k]) == 0;
        }
        for (size_t i = 0; !field && params && params->kind == MP_NODE_SEQ && i < params->n; i++) {
            const struct mp_node *pn = mp_doc_get(params->items[i], "name");
            if (pn && pn->kind == MP_NODE_SCALAR && strcmp(pn->scalar, root->keys[k]) == 0) {
                return mp_error_set(err, MP_EINVALID,
                                    "%s:%u:%u: '%s': unknown key: a parameter is no spec field "
                                    "(its values: parameters.%s.values, .min, .max; one value "
                                    "for one trial: morphling trial --set %s=VALUE)",
                                    /* a key --set added has its value's source */
                                    root->items[k]->file ? root->items[k]->file : root->file,
                                    root->key_line[k], root->key_col[k], root->keys[k],
                                    root->keys[k], root->keys[k]);
            }
        }
    }
    return 0;
}

static int parse_root(struct mp_spec *spec, struct mp_node *root, struct mp_error *err)
{
    int rc;
    struct mp_node *name = NULL, *params = NULL;
    if ((rc = mp_doc_expect(root, MP_NODE_MAP, err)) != 0 || (rc = parameter_key(root, err)) ||
        (rc = mp_doc_check_keys(root, mp_spec_keys, err)) != 0 ||
        (rc = mp_doc_require(root, "name", &name, err)) != 0 ||
        (rc = dup_string(name, &spec->name, err)) != 0 ||
        (rc = dup_string(mp_doc_get(root, "description"), &spec->description, err)) != 0) {
        return rc;
    }
    if (!mp_spec_is_identifier(spec->name) || strlen(spec->name) > 63) {
        return mp_doc_error(err, name,
                            "expected a name of letters, digits, '_' and '-' (at most 63, "
                            "starting with a letter or '_'), got \"%s\"",
                            spec->name);
    }
    if ((rc = parse_runner(spec, mp_doc_get(root, "runner"), err)) != 0 ||
        (rc = mp_doc_require(root, "parameters", &params, err)) != 0 ||
        (rc = mp_spec_parse_params(spec, params, err)) != 0 ||
        (rc = parse_objectives(spec, root, err)) != 0 ||
        (rc = parse_constraints(spec, mp_doc_get(root, "constraints"), err)) != 0 ||
        (rc = parse_cost(spec, mp_doc_get(root, "cost"), err)) != 0 ||
        (rc = parse_algorithm(spec, mp_doc_get(root, "algorithm"), err)) != 0) {
        return rc;
    }
    if ((rc = mp_spec_check_headers(spec, err)) != 0 || (rc = mp_spec_check_paths(spec, err))) {
        return rc;
    }
    struct mp_node *svc = mp_doc_get(root, "service");
    if (svc) {
        return parse_service(spec, svc, err);
    }
    /* replay starts nothing; kubernetes starts the pod template of its runner settings. */
    if (strcmp(spec->runner, "replay") != 0 && strcmp(spec->runner, "kubernetes") != 0) {
        return mp_error_set(err, MP_EINVALID,
                            "%s:%u:%u: 'service': required key is missing (runner '%s' starts "
                            "the service)",
                            root->file, root->line, root->col, spec->runner);
    }
    return 0;
}

static char *absolute_dir(const char *base_dir)
{
    char buf[PATH_MAX];
    if (base_dir && realpath(base_dir, buf)) {
        return mp_xstrdup(buf);
    }
    if (!base_dir && getcwd(buf, sizeof(buf))) {
        return mp_xstrdup(buf);
    }
    return base_dir ? mp_xstrdup(base_dir) : NULL;
}

/* The stored JSON (mp_spec_to_json) is what a spec is reloaded from (export, reports, the API):
 * the scalars read as text keep their text in it, or a reloaded spec would start the service
 * with "0.1" for "0.10" and know the categorical value "1.0" as "1". */
static void keep_texts(struct mp_spec *spec)
{
    struct mp_node *root = spec->doc, *svc = mp_doc_get(root, "service");
    struct mp_node *cmd = mp_doc_get(svc, "command"), *env = mp_doc_get(svc, "env");
    struct mp_node *params = mp_doc_get(root, "parameters");
    mp_doc_keep_text(mp_doc_get(root, "description"));
    for (size_t i = 0; cmd && cmd->kind == MP_NODE_SEQ && i < cmd->n; i++) {
        mp_doc_keep_text(cmd->items[i]);
    }
    for (size_t i = 0; env && env->kind == MP_NODE_MAP && i < env->n; i++) {
        mp_doc_keep_text(env->items[i]);
    }
    /* The other fields read as text: a parameter named 1.10 came back as 1.1, so `show` and
     * `export` found none of its values in the trials (recorded under 1.10). */
    struct mp_node *objectives = mp_doc_get(root, "objectives");
    mp_doc_keep_text(mp_doc_get(mp_doc_get(root, "objective"), "metric"));
    for (size_t i = 0; objectives && objectives->kind == MP_NODE_SEQ && i < objectives->n; i++) {
        mp_doc_keep_text(mp_doc_get(objectives->items[i], "metric"));
    }
    mp_doc_keep_text(mp_doc_get(svc, "workdir"));
    mp_doc_keep_text(mp_doc_get(mp_doc_get(root, "algorithm"), "prior"));
    mp_doc_keep_text(mp_doc_get(spec->runner_node, "surface"));
    for (size_t i = 0; params && params->kind == MP_NODE_SEQ && i < params->n; i++) {
        struct mp_node *target = mp_doc_get(params->items[i], "target");
        mp_doc_keep_text(mp_doc_get(params->items[i], "name"));
        mp_doc_keep_text(mp_doc_get(target, "env"));
        mp_doc_keep_text(mp_doc_get(target, "arg"));
        const struct mp_node *type = mp_doc_get(params->items[i], "type");
        struct mp_node *values = mp_doc_get(params->items[i], "values");
        bool text =
            type && type->kind == MP_NODE_SCALAR && strcmp(type->scalar, "categorical") == 0;
        for (size_t k = 0; text && values && values->kind == MP_NODE_SEQ && k < values->n; k++) {
            mp_doc_keep_text(values->items[k]);
        }
    }
}

/* Translates spec->doc when it is a ProfilingExperiment, parses it into spec, and hands spec
 * out, or frees it. */
static int from_doc(struct mp_spec *spec, struct mp_spec **out, struct mp_error *err)
{
    int rc = 0;
    if (mp_spec_is_pe(spec->doc)) {
        struct mp_node *native = NULL;
        if ((rc = mp_spec_pe_translate(spec->doc, &native, err)) == 0) {
            mp_doc_free(spec->doc);
            spec->doc = native;
            spec->from_pe = true;
        }
    }
    if (rc == 0) {
        rc = parse_root(spec, spec->doc, err);
    }
    if (rc != 0) {
        mp_spec_free(spec);
        return rc;
    }
    keep_texts(spec);
    *out = spec;
    return 0;
}

static bool key_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

char *mp_spec_set_joined_hint(const char *set)
{
    const char *value = strchr(set, '=');
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "one --set per key: --set ");
    const char *from = set;
    bool joined = false;
    for (const char *c = value ? value + 1 : set + strlen(set); *c; c++) {
        if (*c != ',') {
            continue;
        }
        const char *k = c + 1;
        while (key_char(*k)) {
            k++;
        }
        if (k > c + 1 && *k == '=') { /* ",KEY=" */
            mp_buf_add(&b, from, (size_t)(c - from));
            mp_buf_adds(&b, " --set ");
            from = c + 1;
            joined = true;
        }
    }
    if (!joined) {
        mp_buf_release(&b);
        return NULL;
    }
    mp_buf_adds(&b, from);
    return mp_buf_detach(&b);
}

void mp_spec_hint_joined(const char *const *overrides, size_t n_overrides, struct mp_error *err)
{
    for (size_t i = 0; err && i < n_overrides; i++) {
        const char *eq = strchr(overrides[i], '=');
        char *hint = eq && strstr(err->msg, eq + 1) ? mp_spec_set_joined_hint(overrides[i]) : NULL;
        if (hint) {
            char *msg = mp_xstrdup(err->msg); /* not formatted into itself */
            mp_error_set(err, err->code, "%s (%s)", msg, hint);
            free(msg);
            free(hint);
            return;
        }
    }
}

static int parse_text(const char *text, size_t len, const char *source, const char *base_dir,
                      const char *const *overrides, size_t n_overrides, bool confined,
                      struct mp_spec **out, struct mp_error *err)
{
    if (len > MP_DOC_MAX_BYTES) {
        return mp_error_set(err, MP_ETOOBIG, "%s: a spec is at most %u bytes", source,
                            MP_DOC_MAX_BYTES);
    }
    struct mp_spec *spec = mp_xcalloc(1, sizeof(*spec));
    spec->confined = confined;
    spec->source = mp_xstrdup(source);
    spec->base_dir = absolute_dir(base_dir);
    int rc = mp_doc_parse(text, len, source, &spec->doc, err);
    for (size_t i = 0; rc == 0 && i < n_overrides; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i]) {
            rc = mp_error_set(err, MP_EINVALID, "--set '%s': expected KEY=VALUE", overrides[i]);
            break;
        }
        char *key = mp_xstrndup(overrides[i], (size_t)(eq - overrides[i]));
        rc = mp_doc_set_path(spec->doc, key, eq + 1, "--set", err);
        free(key);
    }
    if (rc == 0) {
        rc = from_doc(spec, out, err);
    } else {
        mp_spec_free(spec);
    }
    if (rc != 0) {
        mp_spec_hint_joined(overrides, n_overrides, err);
    }
    return rc;
}

int mp_spec_from_doc(struct mp_node *doc, const char *source, const char *base_dir,
                     struct mp_spec **out, struct mp_error *err)
{
    struct mp_spec *spec = mp_xcalloc(1, sizeof(*spec));
    spec->source = mp_xstrdup(source);
    spec->base_dir = absolute_dir(base_dir);
    spec->doc = doc;
    return from_doc(spec, out, err);
}

int mp_spec_parse(const char *text, size_t len, const char *source, const char *base_dir,
                  const char *const *overrides, size_t n_overrides, struct mp_spec **out,
                  struct mp_error *err)
{
    return parse_text(text, len, source, base_dir, overrides, n_overrides, false, out, err);
}

int mp_spec_parse_confined(const char *text, size_t len, const char *source, const char *base_dir,
                           struct mp_spec **out, struct mp_error *err)
{
    return parse_text(text, len, source, base_dir, NULL, 0, true, out, err);
}

int mp_spec_load(const char *path, const char *const *overrides, size_t n_overrides,
                 struct mp_spec **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    if (strcmp(path, "-") == 0) {
        int rc = mp_buf_read_stdin(&b, MP_DOC_MAX_BYTES, err);
        if (rc == 0) {
            rc = mp_spec_parse(b.data, b.len, "<stdin>", ".", overrides, n_overrides, out, err);
        }
        mp_buf_release(&b);
        return rc;
    }
    int rc = mp_buf_read_input(&b, path, MP_DOC_MAX_BYTES, err);
    if (rc == 0) {
        char *dir = mp_xstrdup(path);
        char *slash = strrchr(dir, '/');
        if (slash) {
            slash[slash == dir ? 1 : 0] = '\0';
        }
        rc =
            mp_spec_parse(b.data, b.len, path, slash ? dir : ".", overrides, n_overrides, out, err);
        free(dir);
    }
    mp_buf_release(&b);
    return rc;
}

char *mp_spec_to_json(const struct mp_spec *spec)
{
    return mp_doc_to_json(spec->doc);
}

static const char *cmp_text(enum mp_cmp op)
{
    static const char *const texts[] = {
        [MP_CMP_LE] = "<=", [MP_CMP_LT] = "<", [MP_CMP_GE] = ">=", [MP_CMP_GT] = ">"};
    return texts[op];
}

/* The object at key in j, made when absent. Borrowed. */
static json_t *object_at(json_t *j, const char *key)
{
    if (!json_is_object(json_object_get(j, key))) {
        json_object_set_new(j, key, json_object());
    }
    return json_object_get(j, key);
}

json_t *mp_spec_objectives_json(const struct mp_spec *spec)
{
    json_t *objectives = json_array();
    for (size_t i = 0; i < spec->n_objectives; i++) {
        json_array_append_new(
            objectives,
            json_pack("{s:s, s:s}", "metric", spec->objectives[i].metric, "direction",
                      spec->objectives[i].direction == MP_MAXIMIZE ? "maximize" : "minimize"));
    }
    return objectives;
}

json_t *mp_spec_comparable_json(const struct mp_spec *spec)
{
    char *text = mp_spec_to_json(spec);
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    if (!j) {
        return NULL;
    }
    json_t *objectives = mp_spec_objectives_json(spec);
    json_object_del(j, "objective");
    json_object_del(j, "objectives");
    if (spec->n_objectives == 1) { /* as most specs write it, so that messages name it so */
        json_object_set(j, "objective", json_array_get(objectives, 0));
        json_decref(objectives);
    } else {
        json_object_set_new(j, "objectives", objectives);
    }
    json_t *constraints = json_array();
    for (size_t i = 0; i < spec->n_constraints; i++) {
        const struct mp_constraint *c = &spec->constraints[i];
        char *s = mp_xasprintf("%s %s %.17g", c->metric, cmp_text(c->op), c->bound);
        json_array_append_new(constraints, json_string(s));
        free(s);
    }
    json_object_del(j, "constraints");
    if (spec->n_constraints > 0) {
        json_object_set(j, "constraints", constraints);
    }
    json_decref(constraints);
    if (spec->has_service) {
        const struct mp_service *svc = &spec->service;
        json_t *probe = json_pack("{s:I, s:I, s:I}", "interval", (json_int_t)svc->probe_interval_ms,
                                  "timeout", (json_int_t)svc->probe_timeout_ms, "startup_timeout",
                                  (json_int_t)svc->startup_timeout_ms);
        if (svc->probe == MP_PROBE_TCP) {
            json_object_set_new(probe, "tcp", json_true());
        } else {
            json_object_set_new(probe, "http", json_string(svc->probe_path));
        }
        json_object_set_new(json_object_get(j, "service"), "readiness", probe);
    }
    json_t *algo = object_at(j, "algorithm");
    json_object_set_new(algo, "name", json_string(spec->algorithm));
    json_object_set_new(algo, "max_trials", json_integer(spec->max_trials));
    json_object_set_new(algo, "max_failed_trials", json_integer(spec->max_failed_trials));
    json_object_set_new(algo, "parallelism", json_integer(spec->parallelism));
    /* max_uncertainty also says which measurements settled */
    json_t *confirm = json_pack("{s:I, s:f}", "top", (json_int_t)spec->confirm_top,
                                "max_uncertainty", spec->max_uncertainty);
    if (spec->confirm_top > 0) { /* runs of no confirmation are of no effect */
        json_object_set_new(confirm, "runs", json_integer(spec->confirm_runs));
        json_object_set_new(confirm, "max_runs", json_integer(spec->confirm_max_runs));
    }
    json_object_set_new(algo, "confirm", confirm);
    json_object_del(algo, "seed");
    if (spec->seed_given) {
        json_object_set_new(algo, "seed", json_integer((json_int_t)spec->seed));
    }
    if (!spec->algorithm_settings) {
        json_object_del(algo, "settings");
    }
    json_t *runner = object_at(j, "runner");
    json_object_set_new(runner, "kind", json_string(spec->runner));
    json_object_del(runner, "trial_timeout");
    if (spec->trial_timeout_ms > 0) {
        json_object_set_new(runner, "trial_timeout", json_integer(spec->trial_timeout_ms));
    }
    return j;
}
