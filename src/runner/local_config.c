/* SPDX-License-Identifier: Apache-2.0 */
/* The local runner's settings: the `runner:` block of a spec (ports, default limits, identity
 * check, grace period, log caps...) parsed into struct mp_local_cfg with positioned errors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/local_int.h"

/* ---- settings ---- */

static const char *const cfg_keys[] = {
    "kind",         "trial_timeout", "ports",         "port_lock_dir",
    "cpus",         "memory_mib",    "pids_max",      "cpuset",
    "grace_period", "log_kib",       "cgroup_parent", "require_limits",
    "identity",     "inherit_env",   "load",          "fallback_limits",
    NULL,
};

static int get_duration(const struct mp_node *map, const char *key, int64_t *out,
                        struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(map, key);
    const char *s = NULL;
    if (!n) {
        return 0;
    }
    int rc = mp_doc_string(n, &s, err);
    if (rc == 0 && (mp_parse_duration_ns(s, out) != 0 || *out < 0)) {
        rc = mp_doc_error(err, n, "expected a duration such as \"5s\" or \"250ms\", got \"%s\"", s);
    }
    return rc;
}

static int get_ports(const struct mp_node *map, struct mp_local_cfg *cfg, struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(map, "ports");
    const char *s = NULL;
    if (!n) {
        return 0;
    }
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

static int get_identity(const struct mp_node *map, struct mp_local_cfg *cfg, struct mp_error *err)
{
    static const char *const names[] = {"auto", "nonce", "socket", "none"};
    const struct mp_node *n = mp_doc_get(map, "identity");
    const char *s = NULL;
    if (!n) {
        return 0;
    }
    int rc = mp_doc_string(n, &s, err);
    for (size_t i = 0; rc == 0 && i < MP_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            cfg->identity = (enum local_identity)i;
            return 0;
        }
    }
    return rc ? rc : mp_doc_error(err, n, "expected auto, nonce, socket or none, got \"%s\"", s);
}

static int get_strings(const struct mp_node *map, struct mp_local_cfg *cfg, struct mp_error *err)
{
    const char *dir = NULL, *cpuset = NULL, *parent = NULL;
    int rc = mp_doc_string(mp_doc_get(map, "port_lock_dir"), &dir, err);
    if (rc == 0) {
        rc = mp_doc_string(mp_doc_get(map, "cpuset"), &cpuset, err);
    }
    if (rc == 0) {
        rc = mp_doc_string(mp_doc_get(map, "cgroup_parent"), &parent, err);
    }
    if (rc == 0 && cpuset && strspn(cpuset, "0123456789,-") != strlen(cpuset)) {
        rc = mp_doc_error(err, mp_doc_get(map, "cpuset"), "expected a CPU list such as \"0-1\"");
    }
    if (rc == 0 && parent && (strstr(parent, "..") || !*parent)) {
        rc = mp_doc_error(err, mp_doc_get(map, "cgroup_parent"), "expected a group name");
    }
    if (rc == 0) {
        free(cfg->port_dir);
        cfg->port_dir = mp_xstrdup(dir ? dir : "/tmp/morphling-ports");
        cfg->cpuset = cpuset ? mp_xstrdup(cpuset) : NULL;
        cfg->cgroup_parent = parent ? mp_xstrdup(parent) : NULL;
    }
    return rc;
}

static int get_numbers(const struct mp_node *map, struct mp_local_cfg *cfg, struct mp_error *err)
{
    const struct mp_node *cpus = mp_doc_get(map, "cpus");
    int64_t mem_mib = 0, log_kib = (int64_t)(cfg->log_cap_bytes / 1024);
    int rc = mp_doc_number(cpus, &cfg->cpu_cores, err);
    if (rc == 0 && cpus && !(cfg->cpu_cores > 0 && cfg->cpu_cores <= 4096)) {
        rc = mp_doc_error(err, cpus, "expected a positive number of cores");
    }
    if (rc == 0) {
        rc = mp_doc_int(mp_doc_get(map, "memory_mib"), 1, 1 << 24, &mem_mib, err);
    }
    if (rc == 0) {
        rc = mp_doc_int(mp_doc_get(map, "pids_max"), 1, 1 << 22, &cfg->pids_max, err);
    }
    if (rc == 0) {
        rc = mp_doc_int(mp_doc_get(map, "log_kib"), 1, 64 * 1024, &log_kib, err);
    }
    if (rc == 0) {
        rc = mp_doc_bool(mp_doc_get(map, "require_limits"), &cfg->require_limits, err);
    }
    if (rc == 0) {
        rc = mp_doc_bool(mp_doc_get(map, "inherit_env"), &cfg->inherit_env, err);
    }
    if (rc == 0) {
        rc = mp_doc_bool(mp_doc_get(map, "fallback_limits"), &cfg->fallback_limits, err);
    }
    cfg->memory_bytes = (uint64_t)mem_mib * 1048576u;
    cfg->log_cap_bytes = (size_t)log_kib * 1024u;
    return rc;
}

int mp_local_cfg_parse(const struct mp_node *runner, struct mp_local_cfg *cfg, struct mp_error *err)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port_lo = 20000;
    cfg->port_hi = 29999;
    cfg->pids_max = 4096;
    cfg->grace_ns = 5LL * 1000000000LL;
    cfg->log_cap_bytes = 256u * 1024u;
    cfg->inherit_env = true;
    cfg->fallback_limits = true;
    cfg->port_dir = mp_xstrdup("/tmp/morphling-ports");
    if (!runner) {
        return 0;
    }
    int rc = mp_doc_expect(runner, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = mp_doc_check_keys(runner, cfg_keys, err);
    }
    if (rc == 0) {
        rc = get_ports(runner, cfg, err);
    }
    if (rc == 0) {
        rc = get_strings(runner, cfg, err);
    }
    if (rc == 0) {
        rc = get_numbers(runner, cfg, err);
    }
    if (rc == 0) {
        rc = get_identity(runner, cfg, err);
    }
    if (rc == 0) {
        rc = get_duration(runner, "grace_period", &cfg->grace_ns, err);
    }
    cfg->load = mp_doc_get(runner, "load");
    if (rc == 0 && cfg->load) {
        rc = mp_local_load_validate(cfg->load, err);
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
