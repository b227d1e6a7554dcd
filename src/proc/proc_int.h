/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the proc files: the shim's protocol (descriptors, reports), the spawn
 * plan handed across fork(), the log tails and the process object. proc.c spawns, waits and
 * reaps; proc_shim.c is the child side; proc_drain.c the output thread; proc_tree.c scans the
 * process tree. Files that include this one define _GNU_SOURCE first (cpu_set_t). */
#ifndef MP_PROC_INT_H
#define MP_PROC_INT_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc/proc.h"

/* Fixed descriptors inside the shim and the service before exec. */
enum { FD_STATUS = 3, FD_OUT = 4, FD_ERR = 5, FD_EXECERR = 6 };

/* Shim -> parent reports (written whole: smaller than PIPE_BUF). */
enum { MSG_PID = 1, MSG_EXIT = 2, MSG_USAGE = 3 };
struct shim_msg {
    int64_t kind, a, b;
};

/* What the service reports on FD_EXECERR when it cannot exec. */
enum { STAGE_CGROUP = 1, STAGE_RLIMIT, STAGE_CHDIR, STAGE_EXEC, STAGE_SETUP };
struct exec_report {
    int32_t stage, err;
};

struct plan {
    const char *path;
    char *const *argv;
    char *const *envp;
    const char *workdir;
    const char *const *cgroup_procs;
    uint64_t rlimit_data;
    bool use_affinity;
    cpu_set_t affinity;
    pid_t parent;
    int fds[4]; /* status, out, err, execerr write ends in the parent's numbering */
};

struct tail {
    char *data;
    size_t cap, start, len;
    uint64_t dropped;
};

struct mp_proc {
    pid_t shim, pid;
    int fds[3]; /* out, err, status read ends; -1 once at EOF */
    int wake[2];
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tail logs[2];
    bool exited, shim_done, shim_reaped;
    int status;
    struct mp_proc_usage usage;
};

/* The shim's life (proc_shim.c): runs in the child of fork() and never returns. Only
 * async-signal-safe calls on memory prepared before the fork. */
_Noreturn void mp_proc_shim_main(const struct plan *pl);

/* Log tails (proc_drain.c): a ring keeping the last cap bytes of a stream. */
void mp_proc_tail_init(struct tail *t, size_t cap);
/* Returns an owned, NUL-terminated copy of what the tail holds, as valid UTF-8: a partial
 * character where the kept tail begins is left out, invalid bytes and NULs become '?'. */
char *mp_proc_tail_copy(const struct tail *t);
/* The output thread: drains stdout, stderr and the shim's reports into p until EOF on all of
 * them or a byte on p->wake[0]; broadcasts p->cv after each read. */
void *mp_proc_drain_main(void *arg);

#endif
