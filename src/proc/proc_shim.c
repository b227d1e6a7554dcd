/* SPDX-License-Identifier: Apache-2.0 */
/* The child side of a spawn: the subreaper shim that forks the service, reports its pid, exit
 * status and resource use, and tears the trial down if the runner dies. Runs in a child of a
 * possibly multi-threaded process, so only async-signal-safe system calls on memory prepared
 * before the fork. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc_int.h"

static void write_report(int stage, int e)
{
    struct exec_report r = {stage, e};
    ssize_t n = write(FD_EXECERR, &r, sizeof(r));
    (void)n;
    _exit(127);
}

static void default_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP) {
            sigaction(s, &sa, NULL);
        }
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void join_cgroups(const struct plan *pl)
{
    for (size_t i = 0; pl->cgroup_procs && pl->cgroup_procs[i]; i++) {
        int fd = open(pl->cgroup_procs[i], O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            write_report(STAGE_CGROUP, errno);
        }
        if (write(fd, "0", 1) != 1) {
            write_report(STAGE_CGROUP, errno);
        }
        close(fd);
    }
}

static void shim_send(int64_t kind, int64_t a, int64_t b)
{
    struct shim_msg m = {kind, a, b};
    ssize_t n = write(FD_STATUS, &m, sizeof(m));
    (void)n;
}

static void service_main(const struct plan *pl)
{
    /* The service reports its own pid, before it runs anything of its own: one that kills its
     * shim at once (`kill -9 $PPID`) did so before the shim's report, and the spawn failed. */
    shim_send(MSG_PID, getpid(), 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setpgid(0, 0) != 0) {
        write_report(STAGE_SETUP, errno);
    }
    join_cgroups(pl);
    if (pl->rlimit_data) {
        struct rlimit rl = {pl->rlimit_data, pl->rlimit_data};
        if (setrlimit(RLIMIT_DATA, &rl) != 0) {
            write_report(STAGE_RLIMIT, errno);
        }
    }
    if (pl->use_affinity && sched_setaffinity(0, sizeof(pl->affinity), &pl->affinity) != 0) {
        write_report(STAGE_RLIMIT, errno);
    }
    default_signals();
    int null = open("/dev/null", O_RDONLY);
    if (null < 0 || dup2(null, 0) < 0 || dup2(FD_OUT, 1) < 0 || dup2(FD_ERR, 2) < 0) {
        write_report(STAGE_SETUP, errno);
    }
    if (null > FD_EXECERR) {
        close(null);
    }
    close(FD_STATUS);
    close(FD_OUT);
    close(FD_ERR);
    if (fcntl(FD_EXECERR, F_SETFD, FD_CLOEXEC) != 0) {
        write_report(STAGE_SETUP, errno);
    }
    if (pl->workdir && chdir(pl->workdir) != 0) {
        write_report(STAGE_CHDIR, errno);
    }
    execve(pl->path, pl->argv, pl->envp);
    write_report(STAGE_EXEC, errno);
}

/* Moves the four write ends to FD_STATUS..FD_EXECERR and closes every other descriptor, so no
 * pipe of a concurrently spawning thread stays open in this tree. */
static void shim_fds(const struct plan *pl)
{
    int tmp[4];
    for (int i = 0; i < 4; i++) {
        tmp[i] = fcntl(pl->fds[i], F_DUPFD, 64);
        if (tmp[i] < 0) {
            _exit(126);
        }
    }
    for (int i = 0; i < 4; i++) {
        if (dup2(tmp[i], FD_STATUS + i) < 0) {
            _exit(126);
        }
    }
    if (close_range(FD_EXECERR + 1, ~0u, 0) != 0) {
        struct rlimit rl;
        rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
        for (rlim_t fd = FD_EXECERR + 1; fd < max && fd < 65536; fd++) {
            close((int)fd);
        }
    }
}

static volatile sig_atomic_t orphaned;

static void on_parent_death(int sig)
{
    (void)sig;
    orphaned = 1;
}

#define KILL_DEPTH 8 /* levels of groups below the trial's that are searched */

/* SIGKILLs every pid listed in the file at path. */
static void kill_listed(const char *path)
{
    char buf[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    long v = 0;
    for (ssize_t k = 0; k < n; k++) {
        if (buf[k] >= '0' && buf[k] <= '9') {
            v = v * 10 + (buf[k] - '0');
        } else {
            if (v > 0) {
                kill((pid_t)v, SIGKILL);
            }
            v = 0;
        }
    }
}

/* path[0..len) + "/" + name into path (of size cap); false when it does not fit. */
static bool path_join(char *path, size_t len, size_t cap, const char *name)
{
    size_t nl = strlen(name);
    if (len + 1 + nl >= cap) {
        return false;
    }
    path[len] = '/';
    memcpy(path + len + 1, name, nl + 1);
    return true;
}

/* Kills the members of the group in folder path[0..len) and of the groups a service made below
 * it: cgroup.kill where the kernel has it (v2: the whole subtree, new forks included), and each
 * cgroup.procs of the tree. */
static void kill_tree(char *path, size_t len, size_t cap, int depth)
{
    if (path_join(path, len, cap, "cgroup.kill")) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t n = write(fd, "1", 1);
            (void)n;
            close(fd);
        }
    }
    if (path_join(path, len, cap, "cgroup.procs")) {
        kill_listed(path);
    }
    path[len] = '\0';
    int dfd = depth < KILL_DEPTH ? open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd < 0) {
        return;
    }
    char ents[4096];
    ssize_t n;
    while ((n = getdents64(dfd, ents, sizeof(ents))) > 0) {
        for (ssize_t off = 0; off < n;) {
            const struct dirent64 *e = (const struct dirent64 *)(ents + off);
            off += e->d_reclen;
            if (e->d_type == DT_DIR && strcmp(e->d_name, ".") != 0 &&
                strcmp(e->d_name, "..") != 0 && path_join(path, len, cap, e->d_name)) {
                kill_tree(path, strlen(path), cap, depth + 1);
                path[len] = '\0';
            }
        }
    }
    close(dfd);
}

/* Kills every member of the trial's cgroups, nested groups included, with plain system calls on
 * fixed buffers (no allocation: this process was forked from a threaded one). */
static void shim_kill_cgroups(const struct plan *pl)
{
    char path[4096];
    for (size_t i = 0; pl->cgroup_procs && pl->cgroup_procs[i]; i++) {
        const char *f = pl->cgroup_procs[i];
        const char *slash = strrchr(f, '/');
        size_t len = slash ? (size_t)(slash - f) : 0;
        if (len == 0 || len >= sizeof(path)) {
            continue;
        }
        memcpy(path, f, len);
        path[len] = '\0';
        kill_tree(path, len, sizeof(path), 0);
    }
}

/* Our parent (the runner) died: nobody will tear the trial down, so do it here. Called again
 * each time a child ends: processes that escaped the group and the cgroups (or when there are
 * no cgroups) are killed once they re-parent to this subreaper. */
static void shim_orphaned(const struct plan *pl, pid_t svc)
{
    kill(-svc, SIGKILL);
    kill(svc, SIGKILL);
    shim_kill_cgroups(pl);
    kill_listed("/proc/thread-self/children");
}

void mp_proc_shim_main(const struct plan *pl)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_parent_death;
    sigaction(SIGUSR1, &sa, NULL); /* no SA_RESTART: wait4 returns EINTR */
    prctl(PR_SET_PDEATHSIG, SIGUSR1);
    if (getppid() != pl->parent) {
        _exit(126);
    }
    shim_fds(pl);
    /* Its own process group: a SIGKILL to the runner's group (`timeout -s KILL`, a cancelled
     * job) must leave the shim alive to tear the trial down when the runner is gone. */
    setpgid(0, 0);
    sa.sa_handler = SIG_IGN;
    int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    for (size_t i = 0; i < MP_ARRAY_LEN(ignored); i++) {
        sigaction(ignored[i], &sa, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    pid_t svc = fork();
    if (svc == 0) {
        service_main(pl);
    }
    close(FD_OUT);
    close(FD_ERR);
    close(FD_EXECERR);
    if (svc < 0) {
        _exit(125);
    }
    int64_t cpu_us = 0, maxrss_kb = 0;
    for (;;) {
        int st = 0;
        struct rusage ru;
        if (orphaned) {
            shim_orphaned(pl, svc);
        }
        pid_t w = wait4(-1, &st, 0, &ru);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (orphaned) {
            shim_orphaned(pl, svc);
        }
        cpu_us += (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
                  (int64_t)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
        if (ru.ru_maxrss > maxrss_kb) {
            maxrss_kb = ru.ru_maxrss;
        }
        if (w == svc) {
            shim_send(MSG_EXIT, svc, st);
        }
    }
    shim_send(MSG_USAGE, cpu_us, maxrss_kb);
    _exit(0);
}
