/* SPDX-License-Identifier: Apache-2.0 */
/* Child processes for trials: spawning a service with an explicit argv/env/workdir (never a
 * shell) in its own process group, with stdout/stderr drained into size-capped tail buffers.
 *
 * Every service runs under a small per-trial "shim": a forked copy of this process (no exec)
 * that is a child subreaper, so every descendant of the service — including ones that call
 * setsid or double-fork — stays in the shim's tree and is reaped there. The shim reports the
 * service's pid and exit status over a pipe and exits once it has no children left. A drain
 * thread per process reads the output pipes and the shim's reports, so a service never blocks
 * on a full pipe while the runner is busy (e.g. in a load test).
 *
 * Ownership: mp_proc_spawn copies nothing it does not need after the call returns (argv/env/paths
 * are borrowed for the call); the returned mp_proc is owned by the caller and freed with
 * mp_proc_free, which kills and reaps whatever is left. Log copies returned by mp_proc_log are
 * owned by the caller. Thread-safety: one mp_proc may be used from one thread at a time (its drain
 * thread synchronises internally); different mp_procs are independent. The shim is killed
 * (PR_SET_PDEATHSIG) when the thread that spawned it exits, so spawn, wait and free a process from
 * the same long-lived thread. */
#ifndef MP_PROC_H
#define MP_PROC_H

#include <stdatomic.h>
#include <sys/types.h>

#include "core/core.h"

/* ---- processes ---- */

enum mp_proc_stream { MP_PROC_STDOUT, MP_PROC_STDERR };

struct mp_proc_opts {
    const char *const *argv; /* NULL-terminated; argv[0] without '/' is looked up in PATH */
    const char *const *envp; /* NULL-terminated full environment of the service */
    const char *workdir;     /* NULL: inherit */
    /* NULL-terminated list of cgroup.procs files the service writes "0" to (joins) before it
     * executes, so nothing it forks can escape the groups; NULL for none. */
    const char *const *cgroup_procs;
    size_t log_cap_bytes; /* tail of each stream kept; 0 means 64 KiB */
    /* Weaker fallback limits applied with setrlimit / sched_setaffinity when no cgroup can
     * enforce them; 0 / empty means none. */
    uint64_t rlimit_data_bytes;
    int affinity_cpus; /* pin to the first N allowed CPUs */
    /* Non-NULL: set, it ends the wait for the service's exec (up to 10 s when the service is
     * stuck before it, e.g. in a frozen cgroup) with -ECANCELED. */
    const atomic_bool *cancel;
};

/* Resource usage of everything the shim reaped (the service and its descendants). */
struct mp_proc_usage {
    double cpu_seconds;
    uint64_t max_rss_bytes; /* largest single process */
};

struct mp_proc;

/* Starts the service. Fails (INFRA on the caller's side) when the shim cannot be forked or the
 * service cannot be executed: the exec errno is reported, e.g. "'/x/y': No such file", and for a
 * script whose #! interpreter is missing, that interpreter. */
int mp_proc_spawn(const struct mp_proc_opts *o, struct mp_proc **out, struct mp_error *err) MP_WUR;
/* The service's pid, which is also its process group id. */
pid_t mp_proc_pid(const struct mp_proc *p);
/* The shim's pid (the root of the trial's process tree). */
pid_t mp_proc_shim_pid(const struct mp_proc *p);
/* Waits until the service (not its descendants) exits or the monotonic deadline passes.
 * Returns true when it has exited, with its wait status in *status (may be NULL). A shim that
 * died without reporting (killed from outside) counts as the service killed by SIGKILL, which
 * its PR_SET_PDEATHSIG sends it then. */
bool mp_proc_wait(struct mp_proc *p, int64_t deadline_ns, int *status);
/* Sends sig to the service's process group. */
int mp_proc_signal_group(struct mp_proc *p, int sig) MP_WUR;
/* Sends sig to every live process below the shim (found through /proc), repeatedly until a
 * scan finds none new; returns how many were signalled. The fallback when no cgroup exists. */
int mp_proc_kill_tree(struct mp_proc *p, int sig);
/* Number of live (non-zombie) processes below the shim. */
int mp_proc_count_tree(const struct mp_proc *p);
/* Up to max pids of live processes below the shim; returns how many were stored. */
size_t mp_proc_tree_pids(const struct mp_proc *p, pid_t *pids, size_t max);
/* Waits until the shim has reaped everything and exited, then joins the drain thread. Returns 0,
 * or -ETIMEDOUT when descendants are still alive at the deadline. */
int mp_proc_finish(struct mp_proc *p, int64_t deadline_ns, struct mp_proc_usage *usage) MP_WUR;
/* Copy of a stream's kept tail (owned), as valid UTF-8 text (invalid bytes and NULs become
 * '?'); *dropped (may be NULL) receives the bytes dropped before it. Safe to call while the
 * service runs. */
char *mp_proc_log(struct mp_proc *p, enum mp_proc_stream s, uint64_t *dropped);
/* Kills whatever is left (SIGKILL to the tree), reaps it and frees p. Accepts NULL. */
void mp_proc_free(struct mp_proc *p);

/* True when path is a regular file this process may execute (a folder passes access(X_OK), and
 * as root any file with an x bit does); otherwise errno says why (0: no regular file). */
bool mp_proc_is_program(const char *path);
/* Resolves a program name through the PATH given (or the default path when NULL): names with a
 * '/' are returned as they are. Returns owned, or NULL when not found. */
char *mp_proc_which(const char *name, const char *path);

#endif
