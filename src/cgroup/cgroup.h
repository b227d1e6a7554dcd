/* SPDX-License-Identifier: Apache-2.0 */
/* Per-trial control groups: detecting what the machine offers (cgroup v2, v1, a hybrid of both,
 * or nothing usable), creating one group per trial with CPU quota, cpuset, memory and pids
 * limits, reading its usage, killing everything in it and removing it.
 *
 * Layout: trial groups live under a base group named "morphling" (or the configured parent)
 * below the calling process's own group in every hierarchy; in pure v2, where controllers can
 * only be enabled for a group without processes, the base moves to the hierarchy root when the
 * own group refuses. A hybrid machine (v1 controllers plus a controller-less v2 tree) gets its
 * limits from v1 and its kill switch (cgroup.kill), emptiness events and CPU time from v2.
 *
 * Ownership: mp_cgroup_system owns its strings (mp_cgroup_system_release); an mp_cgroup is
 * owned by the caller (mp_cgroup_free, which removes nothing — use mp_cgroup_destroy first).
 * Thread-safety: a detected system is read-only and may be shared; one mp_cgroup belongs to one
 * thread. Group names must be unique among concurrent trials (the runner derives them from
 * experiment, trial number and attempt). */
#ifndef MP_CGROUP_H
#define MP_CGROUP_H

#include <sys/types.h>

#include "core/core.h"

enum mp_cgroup_mode { MP_CGROUP_NONE, MP_CGROUP_V1, MP_CGROUP_HYBRID, MP_CGROUP_V2 };

enum mp_cgroup_ctl {
    MP_CGCTL_CPU,
    MP_CGCTL_CPUSET,
    MP_CGCTL_MEMORY,
    MP_CGCTL_PIDS,
    MP_CGCTL_CPUACCT, /* v1 only: CPU time */
    MP_CGCTL_FREEZER, /* v1 only: freeze before killing */
    MP_CGCTL_N,
};

/* Limits a trial group can enforce; bits of mp_cgroup_enforced(). */
enum {
    MP_CGLIM_CPU = 1u << 0,    /* CPU bandwidth quota */
    MP_CGLIM_CPUSET = 1u << 1, /* CPU and memory-node set */
    MP_CGLIM_MEMORY = 1u << 2, /* memory limit (swap limited to match where possible) */
    MP_CGLIM_PIDS = 1u << 3,   /* process count */
};

struct mp_cgroup_system {
    enum mp_cgroup_mode mode;
    char *v1_base[MP_CGCTL_N]; /* absolute base directory per v1 controller, or NULL */
    char *v2_base;             /* absolute base directory in the v2 tree, or NULL */
    bool v2_ctl[MP_CGCTL_N];   /* controller enabled for groups under v2_base */
    bool v2_kill;              /* cgroup.kill exists (kernel >= 5.14) */
    char warning[512];         /* what is unusable and why; empty when everything works */
};

/* Detects the hierarchies and prepares the base groups. parent: NULL for "morphling" under the
 * own group, a relative name for that name under the own group, or an absolute path (from the
 * hierarchy root). Never fails for lack of cgroups: mode NONE with a warning is a valid result;
 * only memory/parse trouble returns an error. */
int mp_cgroup_detect(struct mp_cgroup_system *sys, const char *parent, struct mp_error *err) MP_WUR;
void mp_cgroup_system_release(struct mp_cgroup_system *sys);
const char *mp_cgroup_mode_name(enum mp_cgroup_mode m);
/* Bitmask of MP_CGLIM_* the system can enforce. */
unsigned mp_cgroup_system_limits(const struct mp_cgroup_system *sys);
/* True when the system can kill a whole group (v2 cgroup.kill, or any v1/v2 group to scan). */
bool mp_cgroup_system_usable(const struct mp_cgroup_system *sys);

/* The smallest CPU limit the kernel enforces: a 1 ms quota per 1 s period. A smaller limit is
 * raised to it; one above the machine's CPUs becomes all of them. */
#define MP_CGROUP_MIN_CPU_CORES 0.001

struct mp_cgroup_limits {
    double cpu_cores;      /* > 0: quota in cores (0.5 = half a core per 100 ms period; the
                              period grows to 1 s below 0.01 core) */
    const char *cpuset;    /* e.g. "0-1"; NULL for all */
    uint64_t memory_bytes; /* > 0: hard limit */
    int64_t pids_max;      /* > 0: process limit */
};

struct mp_cgroup;

struct mp_cgroup_stats {
    bool has_cpu, has_memory, has_oom;
    double cpu_seconds;
    uint64_t peak_memory_bytes;
    uint64_t memory_bytes; /* current usage (with has_memory) */
    uint64_t oom_kills;
    uint64_t pids_max_hits; /* forks refused at pids.max (pids.events "max"); 0 when unknown */
};

/* Creates (or, when a stale one of that name exists, empties and recreates) the group `name`
 * in every usable hierarchy and applies the limits it can. The directory's name is `name`
 * followed by this process's owner tag (mp_cgroup_owner_tag), so mp_cgroup_sweep can tell a
 * dead run's groups from a live one's. A limit a hierarchy refuses is left
 * out of mp_cgroup_enforced() with the reason appended to err's message only when nothing could
 * be created at all (then the call fails). */
int mp_cgroup_create(const struct mp_cgroup_system *sys, const char *name,
                     const struct mp_cgroup_limits *lim, struct mp_cgroup **out,
                     struct mp_error *err) MP_WUR;
/* MP_CGLIM_* bits that were really written. */
unsigned mp_cgroup_enforced(const struct mp_cgroup *cg);
/* NULL-terminated cgroup.procs paths (borrowed) a child writes "0" to in order to join. */
const char *const *mp_cgroup_procs_files(const struct mp_cgroup *cg);
/* A directory of the group (the v2 one when present), for messages and records. */
const char *mp_cgroup_path(const struct mp_cgroup *cg);
/* Number of processes in the group (the largest count over its hierarchies). */
int mp_cgroup_count(const struct mp_cgroup *cg);
/* Pids in the group (owned array), at most max. */
size_t mp_cgroup_pids(const struct mp_cgroup *cg, pid_t *pids, size_t max);
/* The first of pids (a trial's process tree) that is absent from one or more of the group's
 * hierarchies: a process that moved itself out of the v1 memory hierarchy but stayed in the
 * others escaped the memory limit, though the group's largest list still held it. *where gets
 * those hierarchies ("memory", "cpu,cpuacct", "v2", comma-separated) and *all whether it left
 * every one. 0 when each hierarchy holds every one of pids (a hierarchy with more processes
 * than can be read gives no verdict). */
pid_t mp_cgroup_missing(const struct mp_cgroup *cg, const pid_t *pids, size_t n, char *where,
                        size_t size, bool *all);
/* Kills every process in the group: cgroup.kill in v2; otherwise freeze (v1 freezer when
 * present), SIGKILL every member, thaw, and repeat until a scan finds none. */
int mp_cgroup_kill(struct mp_cgroup *cg) MP_WUR;
/* Usage so far; fields not available on this system have has_* false. */
void mp_cgroup_stats(const struct mp_cgroup *cg, struct mp_cgroup_stats *st);
/* Kills what is left, waits until the group is empty (up to the monotonic deadline) and removes
 * it from every hierarchy. -EBUSY when it could not be emptied or removed. */
int mp_cgroup_destroy(struct mp_cgroup *cg, int64_t deadline_ns, struct mp_error *err) MP_WUR;
void mp_cgroup_free(struct mp_cgroup *cg);

/* Owner tags and the sweep (sweep.c). The tag is "-o<PID>.<START>.<PIDNS>": this process's id,
 * start time and PID namespace. mp_cgroup_sweep removes every group under the base groups whose
 * tag names this PID namespace and a process that no longer exists (same PID, other start time
 * or none), emptying v2 groups with cgroup.kill first; groups without a tag or from another
 * namespace are never touched. mp_cgroup_detect runs it. Returns the number removed. */
#define MP_CGROUP_OWNER_TAG_MAX 64
void mp_cgroup_owner_tag(char *buf, size_t size);
size_t mp_cgroup_sweep(const struct mp_cgroup_system *sys);

#endif
