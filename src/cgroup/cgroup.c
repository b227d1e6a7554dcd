/* SPDX-License-Identifier: Apache-2.0 */
/* Per-trial cgroups: creating a group under the detected base with its limits, usage, killing
 * everything in it and removing it. All state is in the cgroup file systems; this file only
 * reads and writes their control files (cgroup_files.c). */
#include "cgroup/cgroup_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mp_cgroup {
    char *name;
    char *v1_dir[MP_CGCTL_N]; /* NULL when absent; co-mounted controllers share a string */
    bool v1_owner[MP_CGCTL_N];
    char *v2_dir;
    bool v2_kill;
    bool v2_ctl[MP_CGCTL_N];
    unsigned enforced;
    const char *procs[MP_CGCTL_N + 2];
    char *procs_owned[MP_CGCTL_N + 2];
};

static bool valid_name(const char *name)
{
    if (!*name || strlen(name) > 200 || name[0] == '.') {
        return false;
    }
    for (const char *p = name; *p; p++) {
        bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* The processes of dir and of the groups below it; stores the first max in pids (may be NULL)
 * and returns how many there are. */
static size_t pids_below(const char *dir, pid_t *pids, size_t max, int depth)
{
    char *s = mp_cgroup_read_text(dir, "cgroup.procs");
    size_t n = 0;
    for (char *p = s; p && *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            break;
        }
        if (v > 0) {
            if (pids && n < max) {
                pids[n] = (pid_t)v;
            }
            n++;
        }
        p = end;
    }
    free(s);
    DIR *d = depth > 0 ? opendir(dir) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char *sub = mp_xasprintf("%s/%s", dir, e->d_name);
            size_t at = n < max ? n : max;
            n += pids_below(sub, pids ? pids + at : NULL, max - at, depth - 1);
            free(sub);
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static size_t pids_in(const char *dir, pid_t *pids, size_t max)
{
    return pids_below(dir, pids, max, MP_CGROUP_MAX_DEPTH);
}

/* Each distinct directory once: the v2 one, then v1 ones not shared with an earlier entry. */
static size_t dirs_of(const struct mp_cgroup *cg, const char *out[MP_CGCTL_N + 1])
{
    size_t n = 0;
    if (cg->v2_dir) {
        out[n++] = cg->v2_dir;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_dir[c] && cg->v1_owner[c]) {
            out[n++] = cg->v1_dir[c];
        }
    }
    return n;
}

int mp_cgroup_count(const struct mp_cgroup *cg)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs), most = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t n = pids_in(dirs[i], NULL, 0);
        most = n > most ? n : most;
    }
    return (int)most;
}

size_t mp_cgroup_pids(const struct mp_cgroup *cg, pid_t *pids, size_t max)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs);
    size_t best = 0;
    for (size_t i = 0; i < nd; i++) {
        size_t n = pids_in(dirs[i], NULL, 0);
        if (n > best) {
            best = pids_in(dirs[i], pids, max);
        }
    }
    return best < max ? best : max;
}

#define MISSING_MAX 4096

/* Appends to buf the name of the hierarchy at dir: "v2", or the v1 controllers mounted there
 * ("cpu,cpuacct"). */
static void add_hierarchy_name(const struct mp_cgroup *cg, const char *dir, char *buf, size_t size)
{
    size_t len = strlen(buf);
    if (dir == cg->v2_dir) {
        snprintf(buf + len, size - len, "%sv2", len ? ", " : "");
        return;
    }
    const char *sep = len ? ", " : "";
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_dir[c] == dir) {
            len = strlen(buf);
            snprintf(buf + len, size - len, "%s%s", sep, mp_cgroup_ctl_names[c]);
            sep = ",";
        }
    }
}

pid_t mp_cgroup_missing(const struct mp_cgroup *cg, const pid_t *pids, size_t n, char *where,
                        size_t size, bool *all)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs);
    pid_t *in = mp_xcalloc(nd * MISSING_MAX + 1, sizeof(*in));
    size_t count[MP_CGCTL_N + 1];
    for (size_t d = 0; d < nd; d++) {
        count[d] = pids_in(dirs[d], in + d * MISSING_MAX, MISSING_MAX);
    }
    pid_t out = 0;
    where[0] = '\0';
    for (size_t i = 0; i < n && out == 0; i++) {
        size_t left = 0;
        for (size_t d = 0; d < nd; d++) {
            bool found = count[d] > MISSING_MAX; /* a full list may lack it: no verdict */
            for (size_t k = 0; !found && k < count[d]; k++) {
                found = in[d * MISSING_MAX + k] == pids[i];
            }
            if (!found) {
                add_hierarchy_name(cg, dirs[d], where, size);
                left++;
            }
        }
        if (left > 0) {
            out = pids[i];
            *all = left == nd;
        }
    }
    free(in);
    return out;
}

static bool freeze(const char *dir, const char *state)
{
    if (mp_cgroup_write_text(dir, "freezer.state", state) != 0) {
        return false;
    }
    for (int i = 0; i < 200; i++) {
        char *s = mp_cgroup_read_text(dir, "freezer.state");
        bool done = s && strncmp(s, state, strlen(state)) == 0;
        free(s);
        if (done) {
            return true;
        }
        usleep(1000);
    }
    return false;
}

int mp_cgroup_kill(struct mp_cgroup *cg)
{
    if (cg->v2_dir && cg->v2_kill && mp_cgroup_write_text(cg->v2_dir, "cgroup.kill", "1") == 0) {
        return 0;
    }
    const char *fz = cg->v1_dir[MP_CGCTL_FREEZER];
    for (int round = 0; round < 100; round++) {
        bool frozen = fz && freeze(fz, "FROZEN");
        pid_t pids[4096];
        size_t n = mp_cgroup_pids(cg, pids, MP_ARRAY_LEN(pids));
        for (size_t i = 0; i < n; i++) {
            kill(pids[i], SIGKILL);
        }
        if (frozen) {
            freeze(fz, "THAWED");
        }
        if (n == 0) {
            return 0;
        }
        usleep(2000);
    }
    return mp_cgroup_count(cg) == 0 ? 0 : -EBUSY;
}

static void add_procs(struct mp_cgroup *cg, size_t *n, const char *dir)
{
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(cg->procs[i], dir, strlen(dir)) == 0 &&
            strcmp(cg->procs[i] + strlen(dir), "/cgroup.procs") == 0) {
            return;
        }
    }
    cg->procs_owned[*n] = mp_xasprintf("%s/cgroup.procs", dir);
    cg->procs[*n] = cg->procs_owned[*n];
    (*n)++;
}

/* Removes a leftover group of the same name (a killed run's), killing what is in it. */
static int make_fresh(const char *dir)
{
    if (mkdir(dir, 0755) == 0) {
        return 0;
    }
    if (errno != EEXIST) {
        return -errno;
    }
    for (int i = 0; i < 500 && mp_cgroup_rmdir_tree(dir, MP_CGROUP_MAX_DEPTH) != 0; i++) {
        if (mp_cgroup_write_text(dir, "cgroup.kill", "1") != 0) {
            pid_t pids[1024];
            size_t n = pids_in(dir, pids, MP_ARRAY_LEN(pids));
            for (size_t k = 0; k < n && k < MP_ARRAY_LEN(pids); k++) {
                kill(pids[k], SIGKILL);
            }
        }
        usleep(2000);
    }
    return mkdir(dir, 0755) == 0 ? 0 : -errno;
}

/* The quota and period (microseconds) for a limit of `cores`. The kernel takes quotas of at
 * least 1 ms and periods of 1 ms to 1 s: below 0.01 core the period grows (to 1 s at 0.001 core,
 * the smallest limit there is; less is raised to it); above the CPUs of the machine the quota is
 * theirs (no more can be used; 1e12 cores overflowed the quota and failed to write). */
static void cpu_quota(double cores, int64_t *quota, int64_t *period)
{
    double ncpu = (double)sysconf(_SC_NPROCESSORS_CONF);
    cores = cores > ncpu && ncpu >= 1 ? ncpu : cores;
    *period = 100000;
    if (cores * 100000.0 < 1000.0) {
        double p =
            ceil(1000.0 / (cores > MP_CGROUP_MIN_CPU_CORES ? cores : MP_CGROUP_MIN_CPU_CORES));
        *period = p > 1000000.0 ? 1000000 : (int64_t)p;
    }
    *quota = (int64_t)llround(cores * (double)*period);
    *quota = *quota < 1000 ? 1000 : *quota;
}

static void set_cpu(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    int64_t period = 0, quota = 0;
    cpu_quota(lim->cpu_cores, &quota, &period);
    char q[32], pr[32];
    snprintf(q, sizeof(q), "%" PRId64, quota);
    snprintf(pr, sizeof(pr), "%" PRId64, period);
    if (cg->v1_dir[MP_CGCTL_CPU]) {
        if (mp_cgroup_write_text(cg->v1_dir[MP_CGCTL_CPU], "cpu.cfs_period_us", pr) == 0 &&
            mp_cgroup_write_text(cg->v1_dir[MP_CGCTL_CPU], "cpu.cfs_quota_us", q) == 0) {
            cg->enforced |= MP_CGLIM_CPU;
        }
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_CPU]) {
        char *v = mp_xasprintf("%s %s", q, pr);
        if (mp_cgroup_write_text(cg->v2_dir, "cpu.max", v) == 0) {
            cg->enforced |= MP_CGLIM_CPU;
        }
        free(v);
    }
}

static void set_memory(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    char v[32];
    snprintf(v, sizeof(v), "%" PRIu64, lim->memory_bytes);
    const char *d1 = cg->v1_dir[MP_CGCTL_MEMORY];
    if (d1) {
        if (mp_cgroup_write_text(d1, "memory.limit_in_bytes", v) == 0) {
            cg->enforced |= MP_CGLIM_MEMORY;
            if (mp_cgroup_file_exists(d1, "memory.memsw.limit_in_bytes")) {
                (void)mp_cgroup_write_text(d1, "memory.memsw.limit_in_bytes", v);
            }
        }
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_MEMORY]) {
        if (mp_cgroup_write_text(cg->v2_dir, "memory.max", v) == 0) {
            cg->enforced |= MP_CGLIM_MEMORY;
            if (mp_cgroup_file_exists(cg->v2_dir, "memory.swap.max")) {
                (void)mp_cgroup_write_text(cg->v2_dir, "memory.swap.max", "0");
            }
        }
    }
}

static void set_limits(struct mp_cgroup *cg, const struct mp_cgroup_limits *lim)
{
    if (lim->cpu_cores > 0) {
        set_cpu(cg, lim);
    }
    if (lim->memory_bytes > 0) {
        set_memory(cg, lim);
    }
    if (lim->pids_max > 0) {
        char v[32];
        snprintf(v, sizeof(v), "%" PRId64, lim->pids_max);
        const char *d = cg->v1_dir[MP_CGCTL_PIDS] ? cg->v1_dir[MP_CGCTL_PIDS]
                                                  : (cg->v2_ctl[MP_CGCTL_PIDS] ? cg->v2_dir : NULL);
        if (d && mp_cgroup_write_text(d, "pids.max", v) == 0) {
            cg->enforced |= MP_CGLIM_PIDS;
        }
    }
    if (lim->cpuset && *lim->cpuset) {
        const char *d = cg->v1_dir[MP_CGCTL_CPUSET]
                            ? cg->v1_dir[MP_CGCTL_CPUSET]
                            : (cg->v2_ctl[MP_CGCTL_CPUSET] ? cg->v2_dir : NULL);
        if (d && mp_cgroup_write_text(d, "cpuset.cpus", lim->cpuset) == 0) {
            cg->enforced |= MP_CGLIM_CPUSET;
        }
    }
}

static int create_dirs(struct mp_cgroup *cg, const struct mp_cgroup_system *sys, const char *name,
                       struct mp_error *err)
{
    size_t np = 0;
    if (sys->v2_base) {
        char *dir = mp_xasprintf("%s/%s", sys->v2_base, name);
        int rc = make_fresh(dir);
        if (rc != 0) {
            free(dir);
            return mp_error_set(err, rc, "cgroup '%s/%s': %s", sys->v2_base, name, strerror(-rc));
        }
        cg->v2_dir = dir;
        cg->v2_kill = mp_cgroup_file_exists(dir, "cgroup.kill");
        memcpy(cg->v2_ctl, sys->v2_ctl, sizeof(cg->v2_ctl));
        add_procs(cg, &np, dir);
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (!sys->v1_base[c]) {
            continue;
        }
        for (int o = 0; o < c && !cg->v1_dir[c]; o++) {
            if (sys->v1_base[o] && strcmp(sys->v1_base[o], sys->v1_base[c]) == 0) {
                cg->v1_dir[c] = cg->v1_dir[o]; /* co-mounted: same directory */
            }
        }
        if (cg->v1_dir[c]) {
            continue;
        }
        char *dir = mp_xasprintf("%s/%s", sys->v1_base[c], name);
        int rc = make_fresh(dir);
        if (rc == 0 && c == MP_CGCTL_CPUSET) {
            rc = mp_cgroup_cpuset_inherit(dir);
        }
        if (rc != 0) {
            rmdir(dir);
            free(dir);
            return mp_error_set(err, rc, "cgroup '%s/%s': %s", sys->v1_base[c], name,
                                strerror(-rc));
        }
        cg->v1_dir[c] = dir;
        cg->v1_owner[c] = true;
        add_procs(cg, &np, dir);
    }
    return 0;
}

int mp_cgroup_create(const struct mp_cgroup_system *sys, const char *name,
                     const struct mp_cgroup_limits *lim, struct mp_cgroup **out,
                     struct mp_error *err)
{
    *out = NULL;
    if (!valid_name(name)) {
        return mp_error_set(err, MP_EINVALID, "cgroup name '%s': use letters, digits, '-_.'", name);
    }
    if (!mp_cgroup_system_usable(sys)) {
        return mp_error_set(err, MP_EUNSUPPORTED, "no usable cgroup hierarchy: %s",
                            sys->warning[0] ? sys->warning : "none detected");
    }
    char tag[MP_CGROUP_OWNER_TAG_MAX];
    mp_cgroup_owner_tag(tag, sizeof(tag));
    struct mp_cgroup *cg = mp_xcalloc(1, sizeof(*cg));
    cg->name = mp_xasprintf("%s%s", name, tag);
    int rc = create_dirs(cg, sys, cg->name, err);
    if (rc != 0) {
        int drc = mp_cgroup_destroy(cg, mp_mono_ns(), NULL);
        (void)drc;
        mp_cgroup_free(cg);
        return rc;
    }
    set_limits(cg, lim);
    *out = cg;
    return 0;
}

unsigned mp_cgroup_enforced(const struct mp_cgroup *cg)
{
    return cg->enforced;
}

const char *const *mp_cgroup_procs_files(const struct mp_cgroup *cg)
{
    return cg->procs;
}

const char *mp_cgroup_path(const struct mp_cgroup *cg)
{
    if (cg->v2_dir) {
        return cg->v2_dir;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_dir[c]) {
            return cg->v1_dir[c];
        }
    }
    return "";
}

void mp_cgroup_stats(const struct mp_cgroup *cg, struct mp_cgroup_stats *st)
{
    memset(st, 0, sizeof(*st));
    uint64_t v = 0;
    if (cg->v2_dir && mp_cgroup_read_keyed(cg->v2_dir, "cpu.stat", "usage_usec", &v)) {
        st->has_cpu = true;
        st->cpu_seconds = (double)v / 1e6;
    } else if (cg->v1_dir[MP_CGCTL_CPUACCT] &&
               mp_cgroup_read_u64(cg->v1_dir[MP_CGCTL_CPUACCT], "cpuacct.usage", &v)) {
        st->has_cpu = true;
        st->cpu_seconds = (double)v / 1e9;
    }
    const char *pd = cg->v1_dir[MP_CGCTL_PIDS] ? cg->v1_dir[MP_CGCTL_PIDS]
                                               : (cg->v2_ctl[MP_CGCTL_PIDS] ? cg->v2_dir : NULL);
    if (pd && !mp_cgroup_read_keyed(pd, "pids.events", "max", &st->pids_max_hits)) {
        st->pids_max_hits = 0;
    }
    const char *m1 = cg->v1_dir[MP_CGCTL_MEMORY];
    if (m1) {
        st->has_memory =
            mp_cgroup_read_u64(m1, "memory.max_usage_in_bytes", &st->peak_memory_bytes) &&
            mp_cgroup_read_u64(m1, "memory.usage_in_bytes", &st->memory_bytes);
        st->has_oom = mp_cgroup_read_keyed(m1, "memory.oom_control", "oom_kill", &st->oom_kills);
    } else if (cg->v2_dir && cg->v2_ctl[MP_CGCTL_MEMORY]) {
        st->has_memory = mp_cgroup_read_u64(cg->v2_dir, "memory.peak", &st->peak_memory_bytes) &&
                         mp_cgroup_read_u64(cg->v2_dir, "memory.current", &st->memory_bytes);
        st->has_oom = mp_cgroup_read_keyed(cg->v2_dir, "memory.events", "oom_kill", &st->oom_kills);
    }
}

int mp_cgroup_destroy(struct mp_cgroup *cg, int64_t deadline_ns, struct mp_error *err)
{
    const char *dirs[MP_CGCTL_N + 1];
    size_t nd = dirs_of(cg, dirs);
    int kill_rc = mp_cgroup_kill(cg);
    while (mp_cgroup_count(cg) > 0 && mp_mono_ns() < deadline_ns) {
        usleep(2000);
        kill_rc = mp_cgroup_kill(cg);
    }
    int left = mp_cgroup_count(cg);
    if (left > 0) {
        /* The kill itself succeeds for a frozen or uninterruptible process ("(Success)"). */
        return mp_error_set(err, -EBUSY, "cgroup '%s': %d process(es) survived the kill%s%s%s",
                            mp_cgroup_path(cg), left, kill_rc < 0 ? " (" : "",
                            kill_rc < 0 ? strerror(-kill_rc) : "", kill_rc < 0 ? ")" : "");
    }
    int rc = 0;
    for (size_t i = 0; i < nd; i++) {
        /* An emptied group can stay busy for a moment while its last task exits. */
        int tries = 0;
        while (mp_cgroup_rmdir_tree(dirs[i], MP_CGROUP_MAX_DEPTH) == -EBUSY && tries++ < 250) {
            usleep(2000);
        }
        if (access(dirs[i], F_OK) == 0) {
            rc = mp_error_set(err, -EBUSY, "cgroup '%s' could not be removed", dirs[i]);
        }
    }
    return rc;
}

void mp_cgroup_free(struct mp_cgroup *cg)
{
    if (!cg) {
        return;
    }
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (cg->v1_owner[c]) {
            free(cg->v1_dir[c]);
        }
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(cg->procs_owned); i++) {
        free(cg->procs_owned[i]);
    }
    free(cg->v2_dir);
    free(cg->name);
    free(cg);
}
