/* SPDX-License-Identifier: Apache-2.0 */
/* The local runner's settings: the `runner:` block of a spec (ports, default limits, identity
 * check, grace period, log caps...) parsed into struct mp_local_cfg with positioned errors. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_SET */
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/local_int.h"
#include "settings/settings.h"

/* ---- settings ---- */

static int parse_ports(const struct mp_node *n, void *base, struct mp_error *err)
{
    struct mp_local_cfg *cfg = base;
    const char *s = NULL;
    int rc = mp_doc_string(n, &s, err);
    if (rc != 0) {
        return rc;
    }
    int lo = 0, hi = 0, used = 0;
    if (sscanf(s, "%d-%d%n", &lo, &hi, &used) != 2 || s[used] || lo < 1024 || hi > 65535 ||
        lo > hi) {
        return mp_doc_error(err, n, "expected a port range LO-HI within 1024-65535, got \"%s\"", s);
    }
    cfg->port_lo = lo;
    cfg->port_hi = hi;
    return 0;
}

static bool cpu_list(const char *s)
{
    return mp_cpu_list_count(s) > 0;
}

/* Every CPU of runner.cpuset must be one this process may use: the kernel refuses a cpuset with
 * others, and the trial ran on every CPU ('99-100' on a 2-CPU machine: "not enforced"). */
static int check_cpuset(const struct mp_node *runner, const char *cpuset, struct mp_error *err)
{
    cpu_set_t allowed;
    if (!cpuset || sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
        return 0;
    }
    for (int c = 0; c < MP_CPU_LIST_MAX; c++) {
        if (!CPU_ISSET(c, &allowed) && mp_cpu_list_has(cpuset, c)) {
            return mp_doc_error(err, mp_doc_get(runner, "cpuset"),
                                "CPU %d is not one this process may run on (%d CPUs allowed)", c,
                                CPU_COUNT(&allowed));
        }
    }
    return 0;
}

static bool group_name(const char *s)
{
    return *s && !strstr(s, "..");
}

static const char *const identities[] = {"auto", "nonce", "socket", "none", NULL};

#define FIELD(f) offsetof(struct mp_local_cfg, f)
static const struct mp_setting local_table[] = {
    {MP_SETTING_KEY("kind", MP_SETTING_IGNORED, 0)},
    {MP_SETTING_KEY("trial_timeout", MP_SETTING_IGNORED, 0)}, /* the spec's (spec.c) */
    {MP_SETTING_KEY("ports", MP_SETTING_CUSTOM, 0), .parse = parse_ports},
    {MP_SETTING_KEY("port_lock_dir", MP_SETTING_STRDUP, FIELD(port_dir))},
    {MP_SETTING_KEY("cpus", MP_SETTING_NUMBER, FIELD(cpu_cores)), .min = 0, .max = 4096,
     .flags = MP_SETTING_MIN_OPEN, .expect = "a positive number of cores"},
    {MP_SETTING_KEY("memory_mib", MP_SETTING_INT, FIELD(memory_bytes)), .min = 1, .max = 1 << 24,
     .scale = 1048576},
    {MP_SETTING_KEY("pids_max", MP_SETTING_INT, FIELD(pids_max)), .min = 1, .max = 1 << 22},
    {MP_SETTING_KEY("cpuset", MP_SETTING_STRDUP, FIELD(cpuset)), .valid = cpu_list,
     .expect = "a CPU list such as \"0-1\""},
    {MP_SETTING_KEY("grace_period", MP_SETTING_DURATION, FIELD(grace_ns))},
    {MP_SETTING_KEY("log_kib", MP_SETTING_INT, FIELD(log_cap_bytes)), .min = 1, .max = 64 * 1024,
     .scale = 1024},
    {MP_SETTING_KEY("cgroup_parent", MP_SETTING_STRDUP, FIELD(cgroup_parent)), .valid = group_name,
     .expect = "a group name"},
    {MP_SETTING_KEY("require_limits", MP_SETTING_BOOL, FIELD(require_limits))},
    {MP_SETTING_KEY("identity", MP_SETTING_CHOICE, FIELD(identity)), .choices = identities},
    {MP_SETTING_KEY("inherit_env", MP_SETTING_BOOL, FIELD(inherit_env))},
    {MP_SETTING_KEY("load", MP_SETTING_IGNORED, 0)}, /* local_load.c */
    {MP_SETTING_KEY("fallback_limits", MP_SETTING_BOOL, FIELD(fallback_limits))},
    {MP_SETTING_KEY("separate_load", MP_SETTING_BOOL, FIELD(separate_load))},
    {.name = NULL},
};
#undef FIELD

int mp_local_cfg_parse(const struct mp_node *runner, struct mp_local_cfg *cfg, struct mp_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port_lo = 20000;
    cfg->port_hi = 29999;
    cfg->pids_max = 4096;
    cfg->grace_ns = 5LL * 1000000000LL;
    cfg->log_cap_bytes = 256 * 1024;
    cfg->identity = LOCAL_ID_AUTO;
    cfg->inherit_env = true;
    cfg->fallback_limits = true;
    cfg->separate_load = true;
    cfg->port_dir = mp_xstrdup(MP_LOCAL_PORT_DIR);
    int rc = mp_settings_parse(runner, local_table, cfg, err);
    if (rc == 0) {
        rc = check_cpuset(runner, cfg->cpuset, err);
    }
    cfg->load = mp_doc_get(runner, "load");
    if (rc == 0 && cfg->load) {
        rc = mp_local_load_validate(cfg->load, err);
    }
    const struct mp_node *text = mp_doc_get(cfg->load, "body_text");
    if (rc == 0 && text) {
        rc = mp_doc_error(err, text,
                          "the local runner reads request bodies from files: give 'body' (a file "
                          "or folder) instead of an inline body_text");
    }
    if (rc != 0) {
        mp_local_cfg_release(cfg);
    }
    return rc;
}

void mp_local_cfg_release(struct mp_local_cfg *cfg)
{
    free(cfg->port_dir);
    free(cfg->cpuset);
    free(cfg->cgroup_parent);
    memset(cfg, 0, sizeof(*cfg));
}
