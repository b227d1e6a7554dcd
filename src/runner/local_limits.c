/* SPDX-License-Identifier: Apache-2.0 */
/* The local runner's limits for one trial: the configuration's resource parameters over the
 * runner's defaults, the trial's cgroup, per-process fallbacks for what the cgroup cannot
 * enforce, and a record of how each limit was (or was not) enforced. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_SET */
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "runner/local_int.h"

static json_t *limit_json(double requested, bool enforced, const char *how)
{
    json_t *o = json_object();
    json_object_set_new(o, "requested", json_real(requested));
    json_object_set_new(o, "enforced", json_boolean(enforced));
    json_object_set_new(o, "how", json_string(how));
    return o;
}

static const char *cg_how(const struct mp_cgroup_system *sys, enum mp_cgroup_ctl c, const char *v1,
                          const char *v2)
{
    return sys->v1_base[c] ? v1 : v2;
}

/* Placement: with a CPU limit of k cores and more than k CPUs allowed to this process, the
 * service gets the last k of them (its cpuset) and the load generator the others, so the two
 * never compete for a CPU; otherwise (or with parallel trials) both may run anywhere. A cpuset
 * from the runner settings is the user's choice and stays. */
static void place(struct local_trial *t)
{
    cpu_set_t allowed;
    /* 64 or more cores never leave a CPU to spare here (and 1e12 overflowed an int). */
    double cores = t->limits.cpu_cores;
    int k = cores > 0 && cores < 64 ? (int)ceil(cores - 1e-9) : 0;
    int n = 0, cpus[64];
    /* Parallel trials would all get the same CPUs: let the scheduler spread them instead. */
    if (!t->r->cfg.separate_load || t->limits.cpuset || k == 0 || t->spec->parallelism > 1 ||
        sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        return;
    }
    for (int c = 0; c < CPU_SETSIZE && n < 64; c++) {
        if (CPU_ISSET(c, &allowed)) {
            if (c >= 64) {
                return; /* the mask holds CPUs 0-63 only */
            }
            cpus[n++] = c;
        }
    }
    if (n < k + 1) {
        return;
    }
    size_t len = 0;
    for (int i = n - k; i < n; i++) {
        len += (size_t)snprintf(t->cpuset_buf + len, sizeof(t->cpuset_buf) - len, "%s%d",
                                i > n - k ? "," : "", cpus[i]);
        if (len >= sizeof(t->cpuset_buf)) {
            return;
        }
    }
    t->lg_cpu_mask = 0;
    for (int i = 0; i < n - k; i++) {
        t->lg_cpu_mask |= UINT64_C(1) << cpus[i];
    }
    t->limits.cpuset = t->cpuset_buf;
}

/* Bytes of a memory parameter (MiB, > 0): at least 1, as 0 means no limit (a size of under half
 * a byte ran the service without any), at most INT64_MAX (llround of a larger product is
 * unspecified); the kernel rounds up to a page. */
static uint64_t memory_bytes(double mib)
{
    double bytes = nearbyint(mib * 1048576.0);
    return bytes < 1 ? 1 : bytes >= 0x1p63 ? (uint64_t)INT64_MAX : (uint64_t)bytes;
}

/* Resource parameters of the configuration override the runner's defaults. */
void mp_local_collect_limits(struct local_trial *t)
{
    const struct mp_space *s = &t->spec->space;
    const struct mp_local_cfg *cfg = &t->r->cfg;
    t->limits.cpu_cores = cfg->cpu_cores;
    t->limits.memory_bytes = cfg->memory_bytes;
    t->limits.pids_max = cfg->pids_max;
    t->limits.cpuset = cfg->cpuset;
    t->limits_json = json_object();
    for (size_t i = 0; i < s->n; i++) {
        if (s->params[i].target != MP_TARGET_RESOURCE) {
            continue;
        }
        double v = t->req->x[i];
        switch (s->params[i].resource) {
        case MP_RESOURCE_CPU:
            t->limits.cpu_cores = v;
            break;
        case MP_RESOURCE_MEMORY:
            t->limits.memory_bytes = memory_bytes(v);
            break;
        default: {
            json_t *o = limit_json(v, false, "not enforceable by the local runner");
            if (s->params[i].type == MP_PARAM_CATEGORICAL) { /* gpu_type: the choice, by name */
                char buf[MP_FMT_DOUBLE_MAX];
                json_object_set_new(o, "requested", json_string(mp_space_format(s, i, v, buf)));
            }
            json_object_set_new(t->limits_json, mp_resource_name(s->params[i].resource), o);
            break;
        }
        }
    }
    place(t);
}

/* Records where the service and the load generator run (meta "placement"). */
static void record_placement(struct local_trial *t, bool cpuset_enforced)
{
    if (!t->lg_cpu_mask) {
        json_object_set_new(t->meta, "placement",
                            json_pack("{s:s}", "how",
                                      "shared: no CPU to spare, parallel trials, or a "
                                      "runner.cpuset or separate_load: false"));
        return;
    }
    if (!cpuset_enforced) {
        t->lg_cpu_mask = 0; /* the service is not confined: pinning only the generator is moot */
        json_object_set_new(t->meta, "placement",
                            json_pack("{s:s}", "how", "shared: no cpuset cgroup"));
        return;
    }
    char lg[256];
    size_t len = 0;
    for (int c = 0; c < 64 && len < sizeof(lg); c++) {
        if (t->lg_cpu_mask & (UINT64_C(1) << c)) {
            len += (size_t)snprintf(lg + len, sizeof(lg) - len, "%s%d", len ? "," : "", c);
        }
    }
    json_object_set_new(t->meta, "placement",
                        json_pack("{s:s, s:s, s:s}", "service_cpus", t->cpuset_buf, "loadgen_cpus",
                                  lg, "how", "disjoint cpusets"));
}

/* The CPU limit's record (and its fallback); true when the cgroup enforces it. A cpuset of fewer
 * CPUs than the quota's cores caps the service first: cpu 2 on a runner.cpuset of "0" runs on
 * one core at most, and was recorded as 2 cores enforced with nothing else said. */
static bool record_cpu(struct local_trial *t, unsigned enforced, bool fallback)
{
    const struct mp_cgroup_system *sys = &t->r->cgsys;
    bool ok = enforced & MP_CGLIM_CPU;
    bool approx = !ok && fallback;
    if (approx) {
        double whole = ceil(t->limits.cpu_cores);
        t->popts.affinity_cpus = whole < CPU_SETSIZE ? (int)whole : CPU_SETSIZE;
    }
    const char *how =
        ok && t->limits.cpu_cores < MP_CGROUP_MIN_CPU_CORES
            ? cg_how(sys, MP_CGCTL_CPU,
                     "cgroup v1 cpu.cfs_quota_us, raised to 0.001 core (the "
                     "smallest quota the kernel takes)",
                     "cgroup v2 cpu.max, raised to 0.001 core (the smallest quota "
                     "the kernel takes)")
        : ok     ? cg_how(sys, MP_CGCTL_CPU, "cgroup v1 cpu.cfs_quota_us", "cgroup v2 cpu.max")
        : approx ? "approximated: CPU affinity to whole cores"
                 : "not enforced (no cpu cgroup)";
    int cpus = enforced & MP_CGLIM_CPUSET ? mp_cpu_list_count(t->limits.cpuset) : 0;
    json_t *o;
    if (cpus > 0 && cpus < t->limits.cpu_cores) {
        char *text =
            mp_xasprintf("%s; at most %d core%s: runner.cpuset \"%s\" has %d CPU%s", how, cpus,
                         cpus == 1 ? "" : "s", t->limits.cpuset, cpus, cpus == 1 ? "" : "s");
        o = limit_json(t->limits.cpu_cores, ok, text);
        json_object_set_new(o, "effective", json_integer(cpus));
        free(text);
    } else {
        o = limit_json(t->limits.cpu_cores, ok, how);
    }
    json_object_set_new(t->limits_json, "cpu_cores", o);
    return ok;
}

/* Applies what the cgroup could not enforce with weaker per-process limits, and records how
 * each limit was (or was not) enforced. Returns false when require_limits forbids degrading. */
static bool record_limits(struct local_trial *t, unsigned enforced)
{
    const struct mp_cgroup_system *sys = &t->r->cgsys;
    bool fallback = t->r->cfg.fallback_limits;
    bool all = true;
    if (t->limits.cpu_cores > 0) {
        all = record_cpu(t, enforced, fallback) && all;
    }
    if (t->limits.memory_bytes > 0) {
        bool ok = enforced & MP_CGLIM_MEMORY;
        bool approx = !ok && fallback;
        if (approx) {
            t->popts.rlimit_data_bytes = t->limits.memory_bytes;
        }
        all = all && ok;
        json_object_set_new(
            t->limits_json, "memory_bytes",
            limit_json((double)t->limits.memory_bytes, ok,
                       ok       ? cg_how(sys, MP_CGCTL_MEMORY, "cgroup v1 memory.limit_in_bytes",
                                         "cgroup v2 memory.max")
                       : approx ? "approximated: RLIMIT_DATA per process"
                                : "not enforced (no memory cgroup)"));
    }
    if (t->limits.pids_max > 0) {
        bool ok = enforced & MP_CGLIM_PIDS;
        all = all && ok;
        json_object_set_new(t->limits_json, "pids_max",
                            limit_json((double)t->limits.pids_max, ok,
                                       ok ? "cgroup pids.max" : "not enforced (no pids cgroup)"));
    }
    if (t->limits.cpuset) {
        bool ok = enforced & MP_CGLIM_CPUSET;
        all = all && ok;
        json_t *o = limit_json(0, ok, ok ? "cgroup cpuset.cpus" : "not enforced");
        json_object_set_new(o, "requested", json_string(t->limits.cpuset));
        json_object_set_new(t->limits_json, "cpuset", o);
    }
    return all || !t->r->cfg.require_limits;
}

static void cgroup_name(const struct local_trial *t, char *buf, size_t size)
{
    char exp[48];
    size_t k = 0;
    for (const char *p = t->req->experiment ? t->req->experiment : ""; *p && k < 40; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
        exp[k++] = ok ? *p : '_';
    }
    exp[k] = '\0';
    snprintf(buf, size, "%s%se%lld-t%lld-a%lld", exp, k ? "-" : "",
             (long long)t->req->experiment_id, (long long)t->req->number,
             (long long)t->req->attempt);
}

int mp_local_setup_cgroup(struct local_trial *t, struct mp_error *err)
{
    const struct mp_cgroup_system *sys = &t->r->cgsys;
    unsigned enforced = 0;
    json_t *cgj = json_object();
    json_object_set_new(cgj, "mode", json_string(mp_cgroup_mode_name(sys->mode)));
    if (sys->warning[0]) {
        json_object_set_new(cgj, "warning", json_string(sys->warning));
    }
    if (mp_cgroup_system_usable(sys)) {
        char name[128];
        cgroup_name(t, name, sizeof(name));
        int rc = mp_cgroup_create(sys, name, &t->limits, &t->cg, err);
        if (rc != 0) {
            json_decref(cgj);
            return rc;
        }
        enforced = mp_cgroup_enforced(t->cg);
        json_object_set_new(cgj, "path", json_string(mp_cgroup_path(t->cg)));
        t->popts.cgroup_procs = mp_cgroup_procs_files(t->cg);
    }
    json_object_set_new(t->meta, "cgroup", cgj);
    record_placement(t, enforced & MP_CGLIM_CPUSET);
    if (!record_limits(t, enforced)) {
        return mp_error_set(err, MP_EUNSUPPORTED,
                            "runner.require_limits is set but some limits cannot be enforced (%s)",
                            sys->warning[0] ? sys->warning : "see the trial's limits");
    }
    return 0;
}
