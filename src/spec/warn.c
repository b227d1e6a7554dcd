/* SPDX-License-Identifier: Apache-2.0 */
/* Warnings about a valid spec that likely does not mean what it says (mp_spec_warnings): a bare
 * duration large enough to be milliseconds, a service never told its port, CPU limits above the
 * CPUs a local service may run on. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec_int.h"

/* A duration field and the bare number of seconds from which it reads like milliseconds: 100
 * for those measured in seconds or less (a 100 s probe interval or measurement window), 1000 for
 * those whose defaults are minutes (startup and trial timeouts; 600 there is plausibly meant).
 * The spec's own durations (spec.c) and the runners' settings tables (src/runner: local_config.c,
 * local_load.c, replay.c, kubernetes_config.c), which read a bare number as seconds too. */
static const struct {
    const char *path; /* below the root: "a.b" reads map a, then key b */
    double from_s;
} durations[] = {
    {"service.readiness.interval", 100},
    {"service.readiness.timeout", 100},
    {"service.readiness.startup_timeout", 1000},
    {"runner.trial_timeout", 1000},
    {"runner.grace_period", 100},
    {"runner.delay", 100},
    {"runner.startup_timeout", 1000},
    {"runner.delete_timeout", 1000},
    {"runner.load.warmup", 100},
    {"runner.load.window", 100},
    {"runner.load.timeout", 100},
    {"runner.load.max_time", 1000},
};

struct warnings {
    char **v;
    size_t n;
};

/* Appends "FILE:LINE:COL: 'path': msg", as mp_doc_error writes errors. Takes ownership of msg. */
static void add(struct warnings *w, const struct mp_node *n, char *msg)
{
    struct mp_error e = {0};
    (void)mp_doc_error(&e, n, "%s", msg);
    free(msg);
    w->v = mp_xreallocarray(w->v, w->n + 1, sizeof(*w->v));
    w->v[w->n++] = mp_xstrdup(e.msg);
}

static const struct mp_node *at_path(const struct mp_node *root, const char *path)
{
    const struct mp_node *n = root;
    while (n && *path) {
        size_t len = strcspn(path, ".");
        char *key = mp_xstrndup(path, len);
        n = mp_doc_get(n, key);
        free(key);
        path += len + (path[len] == '.');
    }
    return n;
}

static void bare_durations(const struct mp_spec *spec, struct warnings *w)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(durations); i++) {
        const struct mp_node *n = at_path(spec->doc, durations[i].path);
        char *note = n && n->kind == MP_NODE_SCALAR
                         ? mp_bare_seconds_note(n->scalar, durations[i].from_s)
                         : NULL;
        if (note) {
            add(w, n, note);
        }
    }
}

/* Whether runner.ports pins one port ("8080-8080"): a service listening there on its own is
 * found without being told. */
static bool port_pinned(const struct mp_spec *spec)
{
    const struct mp_node *n = mp_doc_get(spec->runner_node, "ports");
    int lo = 0, hi = 0, used = 0;
    return n && n->kind == MP_NODE_SCALAR && sscanf(n->scalar, "%d-%d%n", &lo, &hi, &used) == 2 &&
           !n->scalar[used] && lo == hi;
}

/* A local service whose command and env never give it {port} (nor name MORPHLING_PORT, as a
 * `sh -c` command may): the runner probes and loads a port from runner.ports that the service
 * can learn from $MORPHLING_PORT alone. docs/your-service.md, "Listen on the port it is given". */
static void untold_port(const struct mp_spec *spec, struct warnings *w)
{
    const struct mp_service *svc = &spec->service;
    if (!spec->has_service || strcmp(spec->runner, "local") != 0 || port_pinned(spec)) {
        return;
    }
    for (size_t i = 0; i < svc->argc; i++) {
        if (mp_spec_template_uses(svc->argv[i], "port") || strstr(svc->argv[i], "MORPHLING_PORT")) {
            return;
        }
    }
    for (size_t i = 0; i < svc->n_env; i++) {
        const char *v = strchr(svc->env[i], '=') + 1;
        if (mp_spec_template_uses(v, "port") || strncmp(svc->env[i], "MORPHLING_PORT=", 15) == 0) {
            return;
        }
    }
    const struct mp_node *cmd = at_path(spec->doc, "service.command");
    add(w, cmd ? cmd : spec->doc,
        mp_xstrdup("no {port} in service.command or service.env: each trial's service must "
                   "listen on the port the runner gives it (from runner.ports), which it can "
                   "learn only from $MORPHLING_PORT; pass it (e.g. --port, \"{port}\"); a "
                   "service that reads $MORPHLING_PORT itself says so with service.env: "
                   "{MORPHLING_PORT: \"{port}\"}; one on a fixed port needs runner.ports: "
                   "PORT-PORT"));
}

/* A local cpu parameter whose largest value is more cores than the service may run on
 * (runner.cpuset, else the CPUs this process may use): its configurations above that measure
 * alike, at a higher price, and each is one trial of the budget. The trial's record says it
 * too (limits.cpu_cores), after the fact. */
static void cpus_short(const struct mp_spec *spec, struct warnings *w)
{
    if (strcmp(spec->runner, "local") != 0) {
        return;
    }
    const struct mp_node *set = mp_doc_get(spec->runner_node, "cpuset");
    cpu_set_t mine;
    int cpus = set && set->kind == MP_NODE_SCALAR               ? mp_cpu_list_count(set->scalar)
               : sched_getaffinity(0, sizeof(mine), &mine) == 0 ? CPU_COUNT(&mine)
                                                                : 0;
    const struct mp_node *list = mp_doc_get(spec->doc, "parameters");
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        /* DISCRETE values are sorted ascending */
        double top = p->type == MP_PARAM_DISCRETE ? p->values[p->n_values - 1] : p->max;
        if (p->target != MP_TARGET_RESOURCE || p->resource != MP_RESOURCE_CPU ||
            p->type == MP_PARAM_CATEGORICAL || cpus <= 0 || !(top > cpus)) {
            continue;
        }
        char buf[MP_FMT_DOUBLE_MAX];
        mp_fmt_double(buf, top);
        add(w, list && i < list->n ? list->items[i] : spec->doc,
            mp_xasprintf("parameter '%s' goes up to %s cores, but the service can run on %d CPU%s "
                         "(%s): its configurations above %d core%s measure alike and cost more",
                         p->name, buf, cpus, cpus == 1 ? "" : "s",
                         set ? "runner.cpuset" : "the CPUs this machine lets morphling use", cpus,
                         cpus == 1 ? "" : "s"));
    }
}

char **mp_spec_warnings(const struct mp_spec *spec, size_t *n)
{
    struct warnings w = {NULL, 0};
    /* A ProfilingExperiment's durations (spec.trialTimeout, spec.load.warmup, spec.runner's)
     * are its own nodes in the translated spec, named by the resource's paths. */
    bare_durations(spec, &w);
    if (!spec->from_pe) { /* its runner is kubernetes */
        untold_port(spec, &w);
        cpus_short(spec, &w);
    }
    *n = w.n;
    return w.v;
}

void mp_spec_warnings_free(char **warnings, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(warnings[i]);
    }
    free(warnings);
}
