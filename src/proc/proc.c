/* SPDX-License-Identifier: Apache-2.0 */
/* Spawning a service under a subreaper shim (proc_shim.c), waiting for it, signalling it and
 * reaping it; proc_drain.c drains its output and proc_tree.c scans what it left behind.
 * Everything the child needs is prepared here, before the fork, in a struct plan. */
#define _GNU_SOURCE
#include "proc/proc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_LOG_CAP (64u * 1024u)
#define MAX_LOG_CAP     (64u * 1024u * 1024u)
#define EXEC_REPORT_MS  10000
#define CANCEL_POLL_MS  100 /* how often the wait for the exec report looks at the cancel */

bool mp_proc_is_program(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return false;
    }
    errno = 0;
    return S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

char *mp_proc_which(const char *name, const char *path)
{
    if (strchr(name, '/')) {
        return mp_xstrdup(name);
    }
    if (!*name) {
        return NULL;
    }
    const char *dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (*dirs) {
        const char *colon = strchr(dirs, ':');
        size_t len = colon ? (size_t)(colon - dirs) : strlen(dirs);
        char *cand = mp_xasprintf("%.*s/%s", (int)len, len ? dirs : ".", name);
        if (len < PATH_MAX && mp_proc_is_program(cand)) {
            return cand;
        }
        free(cand);
        dirs += len;
        if (*dirs == ':') {
            dirs++;
        }
    }
    return NULL;
}

static const char *env_path(const char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0) {
            return envp[i] + 5;
        }
    }
    return getenv("PATH");
}

static const char *stage_name(int stage)
{
    switch (stage) {
    case STAGE_CGROUP:
        return "joining the trial's cgroup";
    case STAGE_RLIMIT:
        return "applying fallback limits";
    case STAGE_CHDIR:
        return "changing to the working directory";
    case STAGE_EXEC:
        return "executing";
    default:
        return "setting up the child";
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void plan_affinity(struct plan *pl, int n)
{
    cpu_set_t all;
    CPU_ZERO(&pl->affinity);
    if (n <= 0 || sched_getaffinity(0, sizeof(all), &all) != 0) {
        return;
    }
    int taken = 0;
    for (int c = 0; c < CPU_SETSIZE && taken < n; c++) {
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &pl->affinity);
            taken++;
        }
    }
    pl->use_affinity = taken > 0;
}

/* Whether process pid is stopped (state T in /proc/PID/stat). */
static bool is_stopped(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f) {
        fclose(f);
    }
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold blanks and parentheses */
    return paren && paren[1] == ' ' && paren[2] == 'T';
}

/* The service's exec report (fd's EOF: it reached exec). A service can stop its shim (kill
 * -STOP $PPID) before the shim closed its own copy of the report's pipe, which then never
 * ended: the spawn failed after 10 s ("did not reach its exec"). A stopped shim is resumed. */
static int read_exec_report(int fd, pid_t shim, const atomic_bool *cancel, struct exec_report *r)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int64_t deadline = mp_mono_ns() + (int64_t)EXEC_REPORT_MS * 1000000;
    size_t got = 0;
    while (got < sizeof(*r)) {
        if (cancel && atomic_load(cancel)) {
            return -ECANCELED;
        }
        int64_t left_ms = (deadline - mp_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            return -ETIMEDOUT;
        }
        int pr = poll(&pf, 1, left_ms < CANCEL_POLL_MS ? (int)left_ms : CANCEL_POLL_MS);
        if (pr == 0 && is_stopped(shim)) {
            kill(shim, SIGCONT);
        }
        if (pr <= 0) {
            continue; /* EINTR, or a slice passed: look at the cancel and the deadline */
        }
        ssize_t n = read(fd, (char *)r + got, sizeof(*r) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return got == 0 ? 0 : -EPROTO;
        }
        got += (size_t)n;
    }
    return 1;
}

static int read_pid_msg(int fd, pid_t *pid)
{
    struct shim_msg m;
    size_t got = 0;
    while (got < sizeof(m)) {
        ssize_t n = read(fd, (char *)&m + got, sizeof(m) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -EPROTO;
        }
        got += (size_t)n;
    }
    if (m.kind != MSG_PID) {
        return -EPROTO;
    }
    *pid = (pid_t)m.a;
    return 0;
}

static struct mp_proc *proc_alloc(size_t cap)
{
    struct mp_proc *p = mp_xcalloc(1, sizeof(*p));
    p->shim = p->pid = -1;
    for (int i = 0; i < 3; i++) {
        p->fds[i] = -1;
    }
    p->wake[0] = p->wake[1] = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    mp_proc_tail_init(&p->logs[0], cap);
    mp_proc_tail_init(&p->logs[1], cap);
    return p;
}

static int fork_shim(struct mp_proc *p, struct plan *pl, int *execerr_r, struct mp_error *err)
{
    int pipes[4][2];
    for (int i = 0; i < 4; i++) {
        pipes[i][0] = pipes[i][1] = -1;
    }
    int rc = 0;
    for (int i = 0; i < 4; i++) {
        if (pipe2(pipes[i], O_CLOEXEC) != 0) {
            rc = mp_error_set(err, -errno, "pipe: %s", strerror(errno));
            goto out;
        }
    }
    if (pipe2(p->wake, O_CLOEXEC) != 0) {
        rc = mp_error_set(err, -errno, "pipe: %s", strerror(errno));
        goto out;
    }
    for (int i = 0; i < 4; i++) {
        pl->fds[i] = pipes[i][1];
    }
    pl->parent = getpid();
    p->shim = fork();
    if (p->shim == 0) {
        mp_proc_shim_main(pl);
    }
    if (p->shim < 0) {
        rc = mp_error_set(err, -errno, "fork: %s", strerror(errno));
        goto out;
    }
    p->fds[2] = pipes[0][0];
    p->fds[0] = pipes[1][0];
    p->fds[1] = pipes[2][0];
    *execerr_r = pipes[3][0];
    for (int i = 0; i < 4; i++) {
        pipes[i][0] = -1;
    }
out:
    for (int i = 0; i < 4; i++) {
        close_fd(&pipes[i][1]);
        close_fd(&pipes[i][0]);
    }
    return rc;
}

/* A script whose #! interpreter is missing fails its exec with ENOENT, as a missing file does:
 * " (the file is there: its #! interpreter 'X' is not)" when path (run in workdir) is such a
 * script, else "". */
static void missing_interpreter(const char *path, const char *workdir, char *out, size_t size)
{
    out[0] = '\0';
    char *file =
        path[0] == '/' || !workdir ? mp_xstrdup(path) : mp_xasprintf("%s/%s", workdir, path);
    FILE *f = fopen(file, "re");
    char line[256];
    if (f && fgets(line, sizeof(line), f) && strncmp(line, "#!", 2) == 0) {
        const char *p = line + 2 + strspn(line + 2, " \t");
        snprintf(out, size, " (the file is there: its #! interpreter '%.*s' is not)",
                 (int)strcspn(p, " \t\r\n"), p);
    }
    if (f) {
        fclose(f);
    }
    free(file);
}

int mp_proc_spawn(const struct mp_proc_opts *o, struct mp_proc **out, struct mp_error *err)
{
    size_t cap = o->log_cap_bytes ? o->log_cap_bytes : DEFAULT_LOG_CAP;
    cap = cap > MAX_LOG_CAP ? MAX_LOG_CAP : cap;
    struct mp_proc *p = proc_alloc(cap);
    struct plan pl;
    memset(&pl, 0, sizeof(pl));
    int execerr = -1;
    int rc = 0;
    char *path = mp_proc_which(o->argv[0], env_path(o->envp));
    if (!path) {
        rc = mp_error_set(err, -ENOENT, "'%s': not found in PATH", o->argv[0]);
        goto out;
    }
    static char *const empty_env[] = {NULL};
    pl.path = path;
    pl.argv = (char *const *)o->argv;
    pl.envp = o->envp ? (char *const *)o->envp : empty_env;
    pl.workdir = o->workdir;
    pl.cgroup_procs = o->cgroup_procs;
    pl.rlimit_data = o->rlimit_data_bytes;
    plan_affinity(&pl, o->affinity_cpus);
    rc = fork_shim(p, &pl, &execerr, err);
    if (rc != 0) {
        goto out;
    }
    struct exec_report rep = {0, 0};
    int got = read_exec_report(execerr, p->shim, o->cancel, &rep);
    char hint[320] = "";
    if (got > 0 && rep.stage == STAGE_EXEC && rep.err == ENOENT) {
        missing_interpreter(path, o->workdir, hint, sizeof(hint));
    }
    if (got != 0) {
        rc = got > 0 ? mp_error_set(err, -rep.err, "'%s': %s failed: %s%s", path,
                                    stage_name(rep.stage), strerror(rep.err), hint)
             : got == -ECANCELED
                 ? mp_error_set(err, got, "'%s': cancelled before the service started", path)
             : got == -ETIMEDOUT
                 ? mp_error_set(err, got,
                                "'%s': the service did not reach its exec within %d s (stuck "
                                "joining its cgroup, in its working directory or frozen?)",
                                path, EXEC_REPORT_MS / 1000)
                 : mp_error_set(err, got, "'%s': the child did not report its start: %s", path,
                                strerror(-got));
        goto out;
    }
    if (read_pid_msg(p->fds[2], &p->pid) != 0) {
        rc = mp_error_set(err, -EPROTO, "'%s': the shim process failed", path);
        goto out;
    }
    if (pthread_create(&p->thread, NULL, mp_proc_drain_main, p) != 0) {
        rc = mp_error_set(err, -EAGAIN, "cannot start the output thread");
        goto out;
    }
    p->thread_started = true;
out:
    close_fd(&execerr);
    free(path);
    if (rc != 0) {
        mp_proc_free(p);
        p = NULL;
    }
    *out = p;
    return rc;
}

pid_t mp_proc_pid(const struct mp_proc *p)
{
    return p->pid;
}

pid_t mp_proc_shim_pid(const struct mp_proc *p)
{
    return p->shim;
}

static struct timespec abs_mono(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return ts;
}

bool mp_proc_wait(struct mp_proc *p, int64_t deadline_ns, int *status)
{
    pthread_mutex_lock(&p->mu);
    while (!p->exited && !p->shim_done && mp_mono_ns() < deadline_ns && p->thread_started) {
        struct timespec ts = abs_mono(deadline_ns);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    bool done = p->exited;
    if (done && status) {
        *status = p->status;
    }
    pthread_mutex_unlock(&p->mu);
    return done;
}

int mp_proc_signal_group(struct mp_proc *p, int sig)
{
    if (p->pid <= 0) {
        return -ESRCH;
    }
    return kill(-p->pid, sig) == 0 ? 0 : -errno;
}

static void stop_thread(struct mp_proc *p)
{
    if (!p->thread_started) {
        return;
    }
    ssize_t w = write(p->wake[1], "x", 1);
    (void)w;
    pthread_join(p->thread, NULL);
    p->thread_started = false;
}

/* Reaps the shim by the deadline without the drain thread (a spawn that failed): a service
 * that cannot die (frozen before its exec) keeps the shim waiting for it, and a blocking
 * waitpid here hung the runner until it was thawed. */
static bool reap_shim(struct mp_proc *p, int64_t deadline_ns)
{
    for (;;) {
        pid_t w = waitpid(p->shim, NULL, WNOHANG);
        if (w == p->shim || (w < 0 && errno != EINTR)) {
            p->shim_reaped = true;
            return true;
        }
        if (mp_mono_ns() >= deadline_ns) {
            return false;
        }
        usleep(2000);
    }
}

int mp_proc_finish(struct mp_proc *p, int64_t deadline_ns, struct mp_proc_usage *usage)
{
    if (!p->shim_reaped) {
        /* A service can stop its shim (kill -STOP $PPID), which then never reaps or reports:
         * the teardown failed as INFRA, 'processes of the trial survived'. */
        kill(p->shim, SIGCONT);
    }
    if (!p->shim_reaped && !p->thread_started) {
        if (!reap_shim(p, deadline_ns)) {
            return -ETIMEDOUT;
        }
    }
    if (!p->shim_reaped) {
        pthread_mutex_lock(&p->mu);
        while (!p->shim_done && mp_mono_ns() < deadline_ns && p->thread_started) {
            struct timespec ts = abs_mono(deadline_ns);
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        }
        bool done = p->shim_done || !p->thread_started;
        pthread_mutex_unlock(&p->mu);
        if (!done) {
            return -ETIMEDOUT;
        }
        /* The reporting pipe is closed: the shim is exiting (or has exited). */
        while (waitpid(p->shim, NULL, 0) < 0 && errno == EINTR) {
        }
        p->shim_reaped = true;
        /* Every writer of the output pipes is gone, so the thread reaches EOF by itself. */
        if (p->thread_started) {
            pthread_join(p->thread, NULL);
            p->thread_started = false;
        }
    }
    if (usage) {
        *usage = p->usage;
    }
    return 0;
}

char *mp_proc_log(struct mp_proc *p, enum mp_proc_stream s, uint64_t *dropped)
{
    pthread_mutex_lock(&p->mu);
    char *copy = mp_proc_tail_copy(&p->logs[s]);
    if (dropped) {
        *dropped = p->logs[s].dropped;
    }
    pthread_mutex_unlock(&p->mu);
    return copy;
}

void mp_proc_free(struct mp_proc *p)
{
    if (!p) {
        return;
    }
    if (p->shim > 0 && !p->shim_reaped) {
        mp_proc_kill_tree(p, SIGKILL);
        if (mp_proc_finish(p, mp_mono_ns() + 2000000000LL, NULL) != 0) {
            kill(p->shim, SIGKILL);
            while (waitpid(p->shim, NULL, 0) < 0 && errno == EINTR) {
            }
            p->shim_reaped = true;
        }
    }
    stop_thread(p);
    for (int i = 0; i < 3; i++) {
        close_fd(&p->fds[i]);
    }
    close_fd(&p->wake[0]);
    close_fd(&p->wake[1]);
    free(p->logs[0].data);
    free(p->logs[1].data);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
