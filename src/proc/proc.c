/* SPDX-License-Identifier: Apache-2.0 */
/* Spawning a service under a subreaper shim, draining its output, waiting, signalling and
 * reaping. The code between fork() and execve()/_exit() runs in a child of a possibly
 * multi-threaded process, so it only makes async-signal-safe system calls on memory prepared
 * before the fork. */
#define _GNU_SOURCE
#include "proc/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_LOG_CAP (64u * 1024u)
#define MAX_LOG_CAP     (64u * 1024u * 1024u)
#define EXEC_REPORT_MS  10000

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

/* ---- child side (async-signal-safe only) ---- */

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

static void service_main(const struct plan *pl)
{
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

static void shim_send(int64_t kind, int64_t a, int64_t b)
{
    struct shim_msg m = {kind, a, b};
    ssize_t n = write(FD_STATUS, &m, sizeof(m));
    (void)n;
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

/* Kills every member of the trial's cgroups by reading their cgroup.procs files with plain
 * system calls (no allocation: this process was forked from a threaded one). */
static void shim_kill_cgroups(const struct plan *pl)
{
    char buf[16384];
    for (size_t i = 0; pl->cgroup_procs && pl->cgroup_procs[i]; i++) {
        int fd = open(pl->cgroup_procs[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
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
}

/* Our parent (the runner) died: nobody will tear the trial down, so do it here. Processes
 * that escaped the group and the cgroups are still killed as they re-parent to us. */
static void shim_orphaned(const struct plan *pl, pid_t svc)
{
    kill(-svc, SIGKILL);
    kill(svc, SIGKILL);
    shim_kill_cgroups(pl);
}

static void shim_main(const struct plan *pl)
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
    shim_send(MSG_PID, svc, 0);
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

/* ---- parent side ---- */

static void tail_init(struct tail *t, size_t cap)
{
    t->data = mp_xmalloc(cap);
    t->cap = cap;
    t->start = t->len = 0;
    t->dropped = 0;
}

/* Appends keeping only the last cap bytes. */
static void tail_add(struct tail *t, const char *p, size_t n)
{
    if (n >= t->cap) {
        t->dropped += t->len + (n - t->cap);
        p += n - t->cap;
        n = t->cap;
        t->start = 0;
        t->len = 0;
    }
    size_t over = t->len + n > t->cap ? t->len + n - t->cap : 0;
    t->start = (t->start + over) % t->cap;
    t->len -= over;
    t->dropped += over;
    for (size_t i = 0; i < n; i++) {
        t->data[(t->start + t->len + i) % t->cap] = p[i];
    }
    t->len += n;
}

static char *tail_copy(const struct tail *t)
{
    char *s = mp_xmalloc(t->len + 1);
    for (size_t i = 0; i < t->len; i++) {
        s[i] = t->data[(t->start + i) % t->cap];
    }
    s[t->len] = '\0';
    return s;
}

static void handle_msg(struct mp_proc *p, const struct shim_msg *m)
{
    if (m->kind == MSG_EXIT) {
        p->exited = true;
        p->status = (int)m->b;
    } else if (m->kind == MSG_USAGE) {
        p->usage.cpu_seconds = (double)m->a / 1e6;
        p->usage.max_rss_bytes = (uint64_t)m->b * 1024u;
    }
}

/* Reads what is available on fds[i]; returns false at EOF or error. */
static bool drain_one(struct mp_proc *p, int i)
{
    char buf[8192];
    ssize_t n = read(p->fds[i], buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    pthread_mutex_lock(&p->mu);
    if (i < 2) {
        tail_add(&p->logs[i], buf, (size_t)n);
    } else {
        /* Reports are written whole (< PIPE_BUF), so reads return whole reports. */
        for (size_t off = 0; off + sizeof(struct shim_msg) <= (size_t)n;
             off += sizeof(struct shim_msg)) {
            struct shim_msg m;
            memcpy(&m, buf + off, sizeof(m));
            handle_msg(p, &m);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return true;
}

static void *drain_main(void *arg)
{
    struct mp_proc *p = arg;
    for (;;) {
        struct pollfd pf[4];
        int map[4];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++) {
            if (p->fds[i] >= 0) {
                pf[n] = (struct pollfd){.fd = p->fds[i], .events = POLLIN};
                map[n++] = i;
            }
        }
        if (n == 0) {
            break;
        }
        pf[n] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        if (poll(pf, n + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pf[n].revents) {
            break;
        }
        for (nfds_t k = 0; k < n; k++) {
            int i = map[k];
            if (pf[k].revents && !drain_one(p, i)) {
                close(p->fds[i]);
                p->fds[i] = -1;
                if (i == 2) {
                    pthread_mutex_lock(&p->mu);
                    p->shim_done = true;
                    pthread_mutex_unlock(&p->mu);
                }
            }
        }
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
    p->shim_done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
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
        struct stat st;
        if (len < PATH_MAX && access(cand, X_OK) == 0 && stat(cand, &st) == 0 &&
            S_ISREG(st.st_mode)) {
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

/* Waits for the service's exec report: EOF means it executed. */
static int read_exec_report(int fd, struct exec_report *r)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    size_t got = 0;
    while (got < sizeof(*r)) {
        int pr = poll(&pf, 1, EXEC_REPORT_MS);
        if (pr < 0 && errno == EINTR) {
            continue;
        }
        if (pr <= 0) {
            return -ETIMEDOUT;
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
    tail_init(&p->logs[0], cap);
    tail_init(&p->logs[1], cap);
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
        shim_main(pl);
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
    int got = read_exec_report(execerr, &rep);
    if (got != 0) {
        rc = got > 0 ? mp_error_set(err, -rep.err, "'%s': %s failed: %s", path,
                                    stage_name(rep.stage), strerror(rep.err))
                     : mp_error_set(err, got, "'%s': the child did not report its start: %s", path,
                                    strerror(-got));
        goto out;
    }
    if (read_pid_msg(p->fds[2], &p->pid) != 0) {
        rc = mp_error_set(err, -EPROTO, "'%s': the shim process failed", path);
        goto out;
    }
    if (pthread_create(&p->thread, NULL, drain_main, p) != 0) {
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

struct pinfo {
    pid_t pid, ppid;
    char state;
};

static bool read_stat(pid_t pid, struct pinfo *pi)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return false;
    }
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    int ppid = 0;
    char st = 0;
    if (!rp || sscanf(rp + 1, " %c %d", &st, &ppid) != 2) {
        return false;
    }
    pi->pid = pid;
    pi->ppid = ppid;
    pi->state = st;
    return true;
}

/* Live processes below root. Returns an owned array. */
static struct pinfo *scan_tree(pid_t root, size_t *n_out)
{
    size_t n = 0, cap = 0;
    struct pinfo *all = NULL;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        struct pinfo pi;
        if (*end || v <= 0 || !read_stat((pid_t)v, &pi)) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            all = mp_xreallocarray(all, cap, sizeof(*all));
        }
        all[n++] = pi;
    }
    if (d) {
        closedir(d);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        pid_t cur = all[i].ppid;
        bool below = false;
        for (int depth = 0; depth < 128 && cur > 1 && !below; depth++) {
            below = cur == root;
            size_t j = 0;
            while (j < n && all[j].pid != cur) {
                j++;
            }
            cur = j < n ? all[j].ppid : 0;
        }
        if (below && all[i].state != 'Z' && all[i].state != 'X') {
            all[k++] = all[i];
        }
    }
    *n_out = k;
    return all;
}

int mp_proc_kill_tree(struct mp_proc *p, int sig)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    int total = 0;
    for (int round = 0; round < 16; round++) {
        size_t n = 0;
        struct pinfo *t = scan_tree(p->shim, &n);
        for (size_t i = 0; i < n; i++) {
            if (kill(t[i].pid, sig) == 0) {
                total++;
            }
        }
        free(t);
        if (n == 0 || sig != SIGKILL) {
            break;
        }
        usleep(2000);
    }
    return total;
}

int mp_proc_count_tree(const struct mp_proc *p)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    size_t n = 0;
    free(scan_tree(p->shim, &n));
    return (int)n;
}

size_t mp_proc_tree_pids(const struct mp_proc *p, pid_t *pids, size_t max)
{
    if (p->shim <= 0 || p->shim_reaped) {
        return 0;
    }
    size_t n = 0;
    struct pinfo *t = scan_tree(p->shim, &n);
    size_t k = 0;
    for (; k < n && k < max; k++) {
        pids[k] = t[k].pid;
    }
    free(t);
    return k;
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

int mp_proc_finish(struct mp_proc *p, int64_t deadline_ns, struct mp_proc_usage *usage)
{
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
    char *copy = tail_copy(&p->logs[s]);
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
