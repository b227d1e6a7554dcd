/* SPDX-License-Identifier: Apache-2.0 */
/* The test cluster's container runtime: runs one pod's containers as local processes under the
 * project's own process and cgroup code, each in a mount (and UTS) namespace of its own with the
 * pod's files bind-mounted in, and speaks JSON lines with the node agent (protocol in
 * tests/kube/controllers/README.md). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "proc/proc.h"

#define SEC_NS        1000000000LL
#define TICK_NS       (100 * 1000000LL) /* how often a container's thread looks at its mail */
#define FINISH_NS     (10 * SEC_NS)
#define LOG_CAP       (256u * 1024u) /* output kept between two ticks, per stream */
#define PARTIAL_MAX   (16u * 1024u)  /* a longer unfinished line is written as partial (P) */
#define EXEC_OUT_MAX  (10u * 1024u)
#define LINE_MAX_BYTE (4u << 20) /* one command line */

struct mount_spec {
    char *source, *target;
    bool readonly;
};

/* What to run, from a "start" command. Everything is owned. */
struct spec {
    char *id;
    char **argv, **envp; /* NULL-terminated */
    char *workdir, *hostname, *log_path;
    double cpu_cores;
    uint64_t memory_bytes;
    struct mount_spec *mounts;
    size_t n_mounts;
};

/* One run of one container, served by its own thread (src/proc ties a service to the thread
 * that spawned it, and mount namespaces are per thread here). */
struct box {
    struct spec sp;
    pthread_t thread;
    /* Guarded by g.mu. */
    int pending_signal;
    bool want_stats, done;
    pid_t pid;    /* the service while it runs */
    char **procs; /* copies of its cgroup.procs files, for exec */
};

struct stream_log {
    uint64_t seen; /* bytes of the stream consumed so far */
    struct mp_buf partial;
};

struct run {
    struct mp_cgroup *cg;
    struct mp_proc *proc;
    int log_fd;
    struct stream_log streams[2];
    int64_t started_wall_ns;
};

static struct {
    pthread_mutex_t mu, out_mu;
    struct mp_cgroup_system cgsys;
    const char *pod, *state_dir;
    struct box **boxes;
    size_t n_boxes;
    size_t execs; /* exec threads running */
    pthread_cond_t exec_cv;
} g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, {0}, "pod", ".", NULL, 0, 0,
       PTHREAD_COND_INITIALIZER};

/* ---- output ---- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Writes one event line; takes ownership of ev. */
static void emit(json_t *ev)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    if (!s) {
        return;
    }
    pthread_mutex_lock(&g.out_mu);
    write_all(1, s, strlen(s));
    write_all(1, "\n", 1);
    pthread_mutex_unlock(&g.out_mu);
    free(s);
}

/* A JSON string of text that may not be UTF-8 (a program's output): bytes that are not become
 * '?'. */
static json_t *text_json(const char *text)
{
    json_t *j = json_string(text);
    if (j) {
        return j;
    }
    char *copy = mp_xstrdup(text);
    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p >= 0x80) {
            *p = '?';
        }
    }
    j = json_string(copy);
    free(copy);
    return j;
}

static void emit_error(const char *id, const char *msg)
{
    emit(json_pack("{s:s, s:s?, s:o}", "event", "error", "id", id, "message", text_json(msg)));
}

static json_t *time_json(int64_t wall_ns)
{
    char buf[32];
    return json_string(mp_fmt_time(buf, wall_ns));
}

/* ---- specs ---- */

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

static char **strv_dup(char *const *v)
{
    size_t n = 0;
    while (v && v[n]) {
        n++;
    }
    char **out = mp_xcalloc(n + 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        out[i] = mp_xstrdup(v[i]);
    }
    return out;
}

/* A JSON array of strings as a NULL-terminated vector; NULL when it is not one. */
static char **strv_from_json(const json_t *a, bool nonempty)
{
    if (!json_is_array(a) || (nonempty && json_array_size(a) == 0)) {
        return NULL;
    }
    size_t n = json_array_size(a);
    char **v = mp_xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s) {
            strv_free(v);
            return NULL;
        }
        v[i] = mp_xstrdup(s);
    }
    return v;
}

static void spec_release(struct spec *sp)
{
    free(sp->id);
    strv_free(sp->argv);
    strv_free(sp->envp);
    free(sp->workdir);
    free(sp->hostname);
    free(sp->log_path);
    for (size_t i = 0; i < sp->n_mounts; i++) {
        free(sp->mounts[i].source);
        free(sp->mounts[i].target);
    }
    free(sp->mounts);
    memset(sp, 0, sizeof(*sp));
}

static char *opt_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && *s ? mp_xstrdup(s) : NULL;
}

static int parse_mounts(struct spec *sp, const json_t *a, struct mp_error *err)
{
    if (!a) {
        return 0;
    }
    if (!json_is_array(a)) {
        return mp_error_set(err, MP_EINVALID, "mounts: expected an array");
    }
    sp->mounts = mp_xcalloc(json_array_size(a) + 1, sizeof(*sp->mounts));
    size_t i;
    json_t *m;
    json_array_foreach (a, i, m) {
        const char *src = json_string_value(json_object_get(m, "source"));
        const char *dst = json_string_value(json_object_get(m, "target"));
        if (!src || !dst || src[0] != '/' || dst[0] != '/') {
            return mp_error_set(err, MP_EINVALID, "mounts[%zu]: needs absolute source and target",
                                i);
        }
        sp->mounts[i].source = mp_xstrdup(src);
        sp->mounts[i].target = mp_xstrdup(dst);
        sp->mounts[i].readonly = json_is_true(json_object_get(m, "readonly"));
        sp->n_mounts++;
    }
    return 0;
}

static int parse_spec(const json_t *cmd, struct spec *sp, struct mp_error *err)
{
    memset(sp, 0, sizeof(*sp));
    sp->id = opt_str(cmd, "id");
    sp->argv = strv_from_json(json_object_get(cmd, "argv"), true);
    const json_t *env = json_object_get(cmd, "env");
    sp->envp = env ? strv_from_json(env, false) : mp_xcalloc(1, sizeof(char *));
    if (!sp->id || !sp->argv || !sp->envp) {
        return mp_error_set(err, MP_EINVALID,
                            "start: needs id, argv (non-empty strings) and env (strings)");
    }
    sp->workdir = opt_str(cmd, "workdir");
    sp->hostname = opt_str(cmd, "hostname");
    sp->log_path = opt_str(cmd, "log");
    const json_t *cpu = json_object_get(cmd, "cpu");
    const json_t *mem = json_object_get(cmd, "memory");
    sp->cpu_cores = cpu ? json_number_value(cpu) : 0;
    sp->memory_bytes =
        json_is_integer(mem) && json_integer_value(mem) > 0 ? (uint64_t)json_integer_value(mem) : 0;
    if (sp->cpu_cores < 0 || (cpu && !json_is_number(cpu))) {
        return mp_error_set(err, MP_EINVALID, "start: cpu must be a number of cores >= 0");
    }
    return parse_mounts(sp, json_object_get(cmd, "mounts"), err);
}

/* ---- mount namespace ---- */

static int sys_fail(struct mp_error *err, const char *what, const char *path)
{
    int e = errno;
    return mp_error_set(err, -e, "%s '%s': %s", what, path, strerror(e));
}

/* Recreates entry `name` of the directory open as `from_fd` inside `to` (a fresh tmpfs): a
 * symbolic link is copied, anything else is bind-mounted over a placeholder. */
static int copy_entry(int from_fd, const char *to, const char *name, struct mp_error *err)
{
    struct stat st;
    if (fstatat(from_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return sys_fail(err, "stat", name);
    }
    char *dst = mp_xasprintf("%s/%s", to, name);
    char *src = mp_xasprintf("/proc/self/fd/%d/%s", from_fd, name);
    int rc = 0;
    if (S_ISLNK(st.st_mode)) {
        char link[PATH_MAX];
        ssize_t n = readlinkat(from_fd, name, link, sizeof(link) - 1);
        if (n < 0 || (link[n] = '\0', symlink(link, dst)) != 0) {
            rc = sys_fail(err, "copy link", dst);
        }
    } else {
        int made = S_ISDIR(st.st_mode) ? mkdir(dst, st.st_mode & 07777)
                                       : open(dst, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        if (made < 0) {
            rc = sys_fail(err, "placeholder", dst);
        } else {
            if (!S_ISDIR(st.st_mode)) {
                close(made);
            }
            if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0) {
                rc = sys_fail(err, "bind", dst);
            }
        }
    }
    free(src);
    free(dst);
    return rc;
}

/* Covers dir with a tmpfs that holds bind mounts of its original entries, so that new entries
 * can be made in it without touching the host's file system. The stash is made in work, a
 * path to the state folder that stays valid when a mount covers the folder's own path. */
static int shadow_dir(const char *dir, const char *work, struct mp_error *err)
{
    char *stash = mp_xasprintf("%s/.stash-XXXXXX", work);
    int fd = -1, rc = 0;
    bool stashed = false;
    DIR *d = NULL;
    struct stat st;
    if (!mkdtemp(stash)) {
        rc = sys_fail(err, "mkdtemp", stash);
        goto out;
    }
    if (stat(dir, &st) != 0 || mount(dir, stash, NULL, MS_BIND | MS_REC, NULL) != 0) {
        rc = sys_fail(err, "stash", dir);
        goto out;
    }
    stashed = true;
    /* The stash may itself lie below dir: keep a descriptor to reach it once dir is covered. */
    fd = open(stash, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    char opts[32];
    snprintf(opts, sizeof(opts), "mode=%o", (unsigned)(st.st_mode & 07777));
    if (fd < 0 || mount("tmpfs", dir, "tmpfs", MS_NOSUID, opts) != 0) {
        rc = sys_fail(err, "cover", dir);
        goto out;
    }
    d = fdopendir(dup(fd));
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = copy_entry(fd, dir, e->d_name, err);
        }
    }
out:
    if (d) {
        closedir(d);
    }
    if (stashed) {
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        if (umount2(fd >= 0 ? self : stash, MNT_DETACH) != 0 && rc == 0) {
            rc = sys_fail(err, "unstash", stash);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    rmdir(stash); /* gone already when dir covered it: then the host never saw it filled */
    free(stash);
    return rc;
}

/* Gives the thread's mount namespace a new root: a tmpfs holding bind mounts of every entry
 * of "/", made the root with pivot_root (as a container runtime does), so that directories can
 * be created at the top level without touching the host. */
static int pivot_to_new_root(struct mp_error *err)
{
    char *root = mp_xasprintf("%s/.root-XXXXXX", g.state_dir);
    int fd = -1, rc = 0;
    DIR *d = NULL;
    if (!mkdtemp(root)) {
        rc = sys_fail(err, "mkdtemp", root);
        goto out;
    }
    fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || mount("tmpfs", root, "tmpfs", MS_NOSUID, "mode=0755") != 0) {
        rc = sys_fail(err, "new root", root);
        goto out;
    }
    d = fdopendir(dup(fd));
    for (struct dirent *e; rc == 0 && d && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            rc = copy_entry(fd, root, e->d_name, err);
        }
    }
    char *old = mp_xasprintf("%s/.oldroot", root);
    if (rc == 0 &&
        (mkdir(old, 0700) != 0 || syscall(SYS_pivot_root, root, old) != 0 || chdir("/") != 0 ||
         umount2("/.oldroot", MNT_DETACH) != 0 || rmdir("/.oldroot") != 0)) {
        rc = sys_fail(err, "pivot_root", root);
    }
    /* The new root also shows up at its old place through the bind of its ancestor. */
    if (rc == 0 && (umount2(root, MNT_DETACH) != 0 || rmdir(root) != 0)) {
        rc = sys_fail(err, "remove", root);
    }
    free(old);
out:
    if (d) {
        closedir(d);
    }
    if (fd >= 0) {
        close(fd);
    }
    free(root);
    return rc;
}

/* mkdir -p of path's missing directories, then the path itself (a directory or an empty
 * file). */
static int make_path(char *path, bool dir, struct mp_error *err)
{
    for (char *s = path + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            int r = mkdir(path, 0755);
            *s = '/';
            if (r != 0 && errno != EEXIST) {
                return sys_fail(err, "mkdir", path);
            }
        }
    }
    int r = dir ? mkdir(path, 0755) : open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (r < 0) {
        return sys_fail(err, "create", path);
    }
    if (!dir) {
        close(r);
    }
    return 0;
}

/* Makes sure the mount target exists, creating it inside a shadow of its deepest existing
 * ancestor directory when it does not (or in a new root, for a top-level directory). */
static int prepare_target(const char *target, bool dir, const char *work, struct mp_error *err)
{
    struct stat st;
    if (stat(target, &st) == 0) {
        if (S_ISDIR(st.st_mode) != dir) {
            return mp_error_set(err, MP_EINVALID, "mount target '%s': expected %s", target,
                                dir ? "a directory" : "a file");
        }
        return 0;
    }
    char *anc = mp_xstrdup(target);
    for (;;) {
        char *slash = strrchr(anc, '/');
        slash[slash == anc ? 1 : 0] = '\0';
        if (stat(anc, &st) == 0) {
            break; /* "/" always exists */
        }
    }
    int rc = 0;
    char real[PATH_MAX];
    if (!S_ISDIR(st.st_mode) || !realpath(anc, real)) {
        rc = mp_error_set(err, MP_EINVALID, "mount target '%s': '%s' is not a directory", target,
                          anc);
    } else if (strcmp(real, "/") != 0) {
        rc = shadow_dir(real, work, err); /* "/" is the new root's tmpfs already */
    }
    if (rc == 0) {
        char *path = mp_xasprintf("%s%s", real, target + strlen(anc));
        rc = make_path(path, dir, err);
        free(path);
    }
    free(anc);
    return rc;
}

/* True when target's first component does not exist: it can only be made in a new root. */
static bool top_level_missing(const char *target)
{
    const char *end = strchr(target + 1, '/');
    char *top = mp_xstrndup(target, end ? (size_t)(end - target) : strlen(target));
    struct stat st;
    bool missing = lstat(top, &st) != 0;
    free(top);
    return missing;
}

/* Gives the calling thread private mount and UTS namespaces with the spec's bind mounts. A
 * missing top-level directory first moves the thread into a new root. The sources and the
 * state folder are opened before any mount, so that a mount over an ancestor (an emptyDir at
 * /tmp while the state folder is below /tmp) hides neither. */
static int enter_namespaces(const struct spec *sp, struct mp_error *err)
{
    if (unshare(CLONE_NEWNS | CLONE_NEWUTS) != 0) {
        return sys_fail(err, "unshare", "mount namespace");
    }
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        return sys_fail(err, "make private", "/");
    }
    if (sp->hostname && sethostname(sp->hostname, strlen(sp->hostname)) != 0) {
        return sys_fail(err, "sethostname", sp->hostname);
    }
    int fds[64];
    size_t n = sp->n_mounts < MP_ARRAY_LEN(fds) ? sp->n_mounts : MP_ARRAY_LEN(fds);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (top_level_missing(sp->mounts[i].target)) {
            rc = pivot_to_new_root(err);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        fds[i] = -1;
    }
    int state_fd = rc == 0 ? open(g.state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    if (rc == 0 && state_fd < 0) {
        rc = sys_fail(err, "state folder", g.state_dir);
    }
    char work[64];
    snprintf(work, sizeof(work), "/proc/self/fd/%d", state_fd);
    for (size_t i = 0; i < n && rc == 0; i++) {
        fds[i] = open(sp->mounts[i].source, O_PATH | O_CLOEXEC);
        if (fds[i] < 0) {
            rc = sys_fail(err, "mount source", sp->mounts[i].source);
        }
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct mount_spec *m = &sp->mounts[i];
        struct stat st;
        char src[64];
        snprintf(src, sizeof(src), "/proc/self/fd/%d", fds[i]);
        if (fstat(fds[i], &st) != 0) {
            rc = sys_fail(err, "stat", m->source);
        } else if ((rc = prepare_target(m->target, S_ISDIR(st.st_mode), work, err)) != 0) {
            break;
        } else if (mount(src, m->target, NULL, MS_BIND | MS_REC, NULL) != 0) {
            rc = sys_fail(err, "bind mount", m->target);
        } else if (m->readonly &&
                   mount(NULL, m->target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0) {
            rc = sys_fail(err, "read-only remount", m->target);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    if (state_fd >= 0) {
        close(state_fd);
    }
    return rc;
}

/* ---- logs (CRI format: "TIME STREAM P|F TEXT", as kubelet keeps them) ---- */

static void fmt_nano(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%09ldZ", ts.tv_nsec);
}

static void log_line(int fd, const char *stream, char tag, const char *p, size_t n)
{
    char ts[48];
    fmt_nano(ts, sizeof(ts));
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_addf(&b, "%s %s %c ", ts, stream, tag);
    mp_buf_add(&b, p, n);
    mp_buf_addc(&b, '\n');
    write_all(fd, b.data, b.len);
    mp_buf_release(&b);
}

/* Appends what the stream produced since the last call; at the end, an unfinished line too. */
static void flush_stream(struct run *r, int s, bool last)
{
    static const char *const names[] = {"stdout", "stderr"};
    struct stream_log *sl = &r->streams[s];
    uint64_t dropped = 0;
    char *tail = mp_proc_log(r->proc, s == 0 ? MP_PROC_STDOUT : MP_PROC_STDERR, &dropped);
    size_t len = strlen(tail);
    uint64_t total = dropped + len;
    size_t fresh = total - sl->seen > len ? len : (size_t)(total - sl->seen);
    if (total - sl->seen > len) {
        char note[96];
        int k = snprintf(note, sizeof(note), "[pod_runner: %llu bytes of output lost]",
                         (unsigned long long)(total - sl->seen - len));
        log_line(r->log_fd, names[s], 'F', note, (size_t)k);
    }
    sl->seen = total;
    mp_buf_add(&sl->partial, tail + len - fresh, fresh);
    free(tail);
    char *start = sl->partial.data;
    char *end = start ? start + sl->partial.len : NULL;
    for (char *nl; start && (nl = memchr(start, '\n', (size_t)(end - start)));) {
        log_line(r->log_fd, names[s], 'F', start, (size_t)(nl - start));
        start = nl + 1;
    }
    size_t left = start ? (size_t)(end - start) : 0;
    if (left > 0 && (last || left >= PARTIAL_MAX)) {
        log_line(r->log_fd, names[s], last ? 'F' : 'P', start, left);
        left = 0;
    }
    if (sl->partial.data) {
        memmove(sl->partial.data, end - left, left);
        sl->partial.len = left;
    }
}

static void flush_logs(struct run *r, bool last)
{
    if (r->log_fd >= 0 && r->proc) {
        flush_stream(r, 0, last);
        flush_stream(r, 1, last);
    }
}

/* ---- one container's thread ---- */

/* The PATH of a NULL-terminated environment, or NULL. */
static const char *envp_path(char *const *envp)
{
    for (size_t i = 0; envp && envp[i]; i++) {
        if (strncmp(envp[i], "PATH=", 5) == 0) {
            return envp[i] + 5;
        }
    }
    return NULL;
}

/* The image's program (argv[0], through the container's PATH) opened before the mounts, or -1
 * when there is none (the spawn then says so). */
static int open_program(const struct spec *sp)
{
    char *path = mp_proc_which(sp->argv[0], envp_path(sp->envp));
    int fd = path ? open(path, O_PATH | O_CLOEXEC) : -1;
    free(path);
    return fd;
}

/* A real image's files lie in its own root file system, which no volume covers; this cluster's
 * images are binaries of the build, which a volume may cover (an emptyDir at /tmp with the build
 * below /tmp). Then the program is run through this process's descriptor of it, opened before
 * the mounts: the path that replaces argv[0], or NULL when argv[0] still names the program. */
static char *covered_program(const struct spec *sp, int fd)
{
    struct stat before, now;
    if (fd < 0 || fstat(fd, &before) != 0) {
        return NULL;
    }
    char *path = mp_proc_which(sp->argv[0], envp_path(sp->envp));
    bool same =
        path && stat(path, &now) == 0 && now.st_dev == before.st_dev && now.st_ino == before.st_ino;
    free(path);
    return same ? NULL : mp_xasprintf("/proc/%d/fd/%d", (int)getpid(), fd);
}

/* mp_proc_spawn, with argv[0] replaced when a mount covers the program (covered_program). */
static int spawn_program(const struct spec *sp, int prog_fd, struct mp_proc_opts *o,
                         struct mp_proc **out, struct mp_error *err)
{
    size_t argc = 0;
    while (sp->argv[argc]) {
        argc++;
    }
    const char **argv = mp_xcalloc(argc + 1, sizeof(*argv));
    memcpy(argv, sp->argv, argc * sizeof(*argv));
    char *prog = covered_program(sp, prog_fd);
    if (prog) {
        argv[0] = prog;
    }
    o->argv = argv;
    int rc = mp_proc_spawn(o, out, err);
    o->argv = NULL;
    free(argv);
    free(prog);
    return rc;
}

static int run_setup_in(struct box *b, struct run *r, int prog_fd, struct mp_error *err)
{
    const struct spec *sp = &b->sp;
    /* The log (in the pod's folder) is opened first: a mount may cover its path. */
    if (sp->log_path) {
        r->log_fd = open(sp->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (r->log_fd < 0) {
            return sys_fail(err, "log", sp->log_path);
        }
    }
    int rc = enter_namespaces(sp, err);
    if (rc != 0) {
        return rc;
    }
    struct mp_proc_opts o = {.argv = (const char *const *)sp->argv,
                             .envp = (const char *const *)sp->envp,
                             .workdir = sp->workdir,
                             .log_cap_bytes = LOG_CAP};
    if (mp_cgroup_system_usable(&g.cgsys)) {
        char *name = mp_xasprintf("%s_%s", g.pod, sp->id);
        struct mp_cgroup_limits lim = {sp->cpu_cores, NULL, sp->memory_bytes, 0};
        rc = mp_cgroup_create(&g.cgsys, name, &lim, &r->cg, err);
        free(name);
        if (rc != 0) {
            return rc;
        }
        o.cgroup_procs = mp_cgroup_procs_files(r->cg);
    } else {
        o.rlimit_data_bytes = sp->memory_bytes;
    }
    r->started_wall_ns = mp_wall_ns();
    rc = spawn_program(sp, prog_fd, &o, &r->proc, err);
    if (rc != 0) {
        return rc;
    }
    pthread_mutex_lock(&g.mu);
    b->pid = mp_proc_pid(r->proc);
    b->procs = r->cg ? strv_dup((char *const *)mp_cgroup_procs_files(r->cg)) : NULL;
    pthread_mutex_unlock(&g.mu);
    return 0;
}

static int run_setup(struct box *b, struct run *r, struct mp_error *err)
{
    int prog_fd = open_program(&b->sp);
    int rc = run_setup_in(b, r, prog_fd, err);
    if (prog_fd >= 0) {
        close(prog_fd);
    }
    return rc;
}

static void emit_stats(const struct box *b, const struct run *r)
{
    struct mp_cgroup_stats st = {0};
    if (r->cg) {
        mp_cgroup_stats(r->cg, &st);
    }
    json_t *ev = json_pack("{s:s, s:s, s:o}", "event", "stats", "id", b->sp.id, "at",
                           time_json(mp_wall_ns()));
    if (st.has_cpu) {
        json_object_set_new(ev, "cpu_seconds", json_real(st.cpu_seconds));
    }
    if (st.has_memory) {
        json_object_set_new(ev, "memory_bytes", json_integer((json_int_t)st.memory_bytes));
    }
    emit(ev);
}

/* Applies what the main thread asked for since the last tick. */
static void serve_mail(struct box *b, struct run *r)
{
    pthread_mutex_lock(&g.mu);
    int sig = b->pending_signal;
    bool stats = b->want_stats;
    b->pending_signal = 0;
    b->want_stats = false;
    pthread_mutex_unlock(&g.mu);
    if (sig == SIGKILL) {
        if (r->cg && mp_cgroup_kill(r->cg) != 0) {
            emit_error(b->sp.id, "cgroup kill failed");
        }
        mp_proc_kill_tree(r->proc, SIGKILL);
    } else if (sig > 0 && mp_proc_signal_group(r->proc, sig) != 0) {
        emit_error(b->sp.id, "signal: the container's process group is gone");
    }
    if (stats) {
        emit_stats(b, r);
    }
}

/* Everything left in the container dies with its main process, as in a pod. Returns the
 * "exited" event (owned). */
static json_t *teardown(struct box *b, struct run *r, bool exited, int status)
{
    pthread_mutex_lock(&g.mu);
    b->pid = 0;
    pthread_mutex_unlock(&g.mu);
    if (r->cg) {
        int krc = mp_cgroup_kill(r->cg);
        (void)krc;
    }
    mp_proc_kill_tree(r->proc, SIGKILL);
    struct mp_proc_usage usage = {0};
    int frc = mp_proc_finish(r->proc, mp_mono_ns() + FINISH_NS, &usage);
    flush_logs(r, true);
    struct mp_cgroup_stats st = {0};
    json_t *ev = json_pack("{s:s, s:s, s:o, s:o}", "event", "exited", "id", b->sp.id, "started_at",
                           time_json(r->started_wall_ns), "finished_at", time_json(mp_wall_ns()));
    if (r->cg) {
        mp_cgroup_stats(r->cg, &st);
        struct mp_error err = {0, ""};
        if (mp_cgroup_destroy(r->cg, mp_mono_ns() + FINISH_NS, &err) != 0) {
            emit_error(b->sp.id, err.msg);
        }
    }
    int code = !exited               ? 137
               : WIFEXITED(status)   ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status)
                                     : 255;
    json_object_set_new(ev, "exit_code", json_integer(code));
    if (exited && WIFSIGNALED(status)) {
        json_object_set_new(ev, "signal", json_integer(WTERMSIG(status)));
    }
    json_object_set_new(ev, "oom_killed", json_boolean(st.has_oom && st.oom_kills > 0));
    json_object_set_new(ev, "cpu_seconds",
                        json_real(st.has_cpu ? st.cpu_seconds : usage.cpu_seconds));
    if (frc != 0) {
        json_object_set_new(ev, "warning", json_string("processes outlived the container"));
    }
    return ev;
}

static void run_release(struct run *r)
{
    mp_proc_free(r->proc);
    mp_cgroup_free(r->cg);
    if (r->log_fd >= 0) {
        close(r->log_fd);
    }
    mp_buf_release(&r->streams[0].partial);
    mp_buf_release(&r->streams[1].partial);
}

static void *box_main(void *arg)
{
    struct box *b = arg;
    struct run r = {NULL, NULL, -1, {{0, MP_BUF_INIT}, {0, MP_BUF_INIT}}, 0};
    struct mp_error err = {0, ""};
    json_t *last = NULL;
    if (run_setup(b, &r, &err) != 0) {
        last = json_pack("{s:s, s:s, s:o}", "event", "failed", "id", b->sp.id, "message",
                         text_json(err.msg));
        if (r.cg) {
            int drc = mp_cgroup_destroy(r.cg, mp_mono_ns() + FINISH_NS, NULL);
            (void)drc;
        }
    } else {
        emit(json_pack("{s:s, s:s, s:i, s:o}", "event", "started", "id", b->sp.id, "pid",
                       (int)mp_proc_pid(r.proc), "started_at", time_json(r.started_wall_ns)));
        int status = 0;
        bool exited = false;
        for (;;) {
            int64_t dl = mp_mono_ns() + TICK_NS;
            exited = mp_proc_wait(r.proc, dl, &status);
            if (exited || mp_mono_ns() < dl) {
                break; /* exited, or the shim is gone (an early return without an exit) */
            }
            flush_logs(&r, false);
            serve_mail(b, &r);
        }
        last = teardown(b, &r, exited, status);
    }
    run_release(&r);
    pthread_mutex_lock(&g.mu);
    strv_free(b->procs);
    b->procs = NULL;
    b->done = true;
    pthread_mutex_unlock(&g.mu);
    /* Only now: the node agent may start the container again as soon as it reads this. */
    emit(last);
    return NULL;
}

/* ---- exec (probes): a command in a running container's namespaces and cgroups ---- */

struct exec_req {
    char *id;
    char **argv, **envp, **procs;
    pid_t target;
    int64_t timeout_ns;
};

static void exec_req_free(struct exec_req *x)
{
    free(x->id);
    strv_free(x->argv);
    strv_free(x->envp);
    strv_free(x->procs);
    free(x);
}

/* Joins the target's mount and UTS namespaces (the thread first stops sharing its file system
 * context, which setns into a mount namespace requires). */
static int exec_enter(const struct exec_req *x, struct mp_error *err)
{
    char path[64];
    if (unshare(CLONE_FS) != 0) {
        return sys_fail(err, "unshare", "fs");
    }
    static const char *const kinds[] = {"mnt", "uts"};
    for (size_t i = 0; i < MP_ARRAY_LEN(kinds); i++) {
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)x->target, kinds[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, 0) != 0) {
            int rc = sys_fail(err, "setns", path);
            if (fd >= 0) {
                close(fd);
            }
            return rc;
        }
        close(fd);
    }
    return 0;
}

static void *exec_main(void *arg)
{
    struct exec_req *x = arg;
    struct mp_error err = {0, ""};
    struct mp_proc *p = NULL;
    json_t *ev = json_pack("{s:s, s:s}", "event", "exec", "id", x->id);
    if (exec_enter(x, &err) == 0) {
        struct mp_proc_opts o = {.argv = (const char *const *)x->argv,
                                 .envp = (const char *const *)x->envp,
                                 .cgroup_procs = (const char *const *)x->procs,
                                 .log_cap_bytes = EXEC_OUT_MAX};
        if (mp_proc_spawn(&o, &p, &err) != 0) {
            p = NULL;
        }
    }
    if (p) {
        int status = 0;
        bool done = mp_proc_wait(p, mp_mono_ns() + x->timeout_ns, &status);
        mp_proc_kill_tree(p, SIGKILL);
        int frc = mp_proc_finish(p, mp_mono_ns() + FINISH_NS, NULL);
        (void)frc;
        char *out = mp_proc_log(p, MP_PROC_STDOUT, NULL);
        char *errs = mp_proc_log(p, MP_PROC_STDERR, NULL);
        char *both = mp_xasprintf("%s%s", out, errs);
        json_object_set_new(ev, "timed_out", json_boolean(!done));
        json_object_set_new(ev, "exit_code",
                            json_integer(!done               ? -1
                                         : WIFEXITED(status) ? WEXITSTATUS(status)
                                                             : 128 + WTERMSIG(status)));
        json_object_set_new(ev, "output", text_json(both));
        free(out);
        free(errs);
        free(both);
        mp_proc_free(p);
    } else {
        json_object_set_new(ev, "error", text_json(err.msg));
    }
    emit(ev);
    exec_req_free(x);
    pthread_mutex_lock(&g.mu);
    g.execs--;
    pthread_cond_broadcast(&g.exec_cv);
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

/* ---- commands ---- */

/* The live (not yet finished) box of a container id; g.mu held. */
static struct box *find_box(const char *id, bool live)
{
    for (size_t i = 0; i < g.n_boxes; i++) {
        if (strcmp(g.boxes[i]->sp.id, id) == 0 && (!live || !g.boxes[i]->done)) {
            return g.boxes[i];
        }
    }
    return NULL;
}

static void box_free(struct box *b)
{
    pthread_join(b->thread, NULL);
    spec_release(&b->sp);
    free(b);
}

/* Joins and frees the finished runs of id (g.mu not held). */
static void reap_finished(const char *id)
{
    for (;;) {
        struct box *found = NULL;
        pthread_mutex_lock(&g.mu);
        for (size_t i = 0; i < g.n_boxes && !found; i++) {
            if (g.boxes[i]->done && (!id || strcmp(g.boxes[i]->sp.id, id) == 0)) {
                found = g.boxes[i];
                g.boxes[i] = g.boxes[--g.n_boxes];
            }
        }
        pthread_mutex_unlock(&g.mu);
        if (!found) {
            return;
        }
        box_free(found);
    }
}

static void cmd_start(const json_t *cmd)
{
    struct box *b = mp_xcalloc(1, sizeof(*b));
    struct mp_error err = {0, ""};
    if (parse_spec(cmd, &b->sp, &err) != 0) {
        emit_error(b->sp.id, err.msg);
        spec_release(&b->sp);
        free(b);
        return;
    }
    reap_finished(b->sp.id);
    pthread_mutex_lock(&g.mu);
    bool busy = find_box(b->sp.id, true) != NULL;
    if (!busy) {
        g.boxes = mp_xreallocarray(g.boxes, g.n_boxes + 1, sizeof(*g.boxes));
        g.boxes[g.n_boxes++] = b;
        if (pthread_create(&b->thread, NULL, box_main, b) != 0) {
            g.n_boxes--;
            busy = true;
        }
    }
    pthread_mutex_unlock(&g.mu);
    if (busy) {
        emit_error(b->sp.id, "start: the container is running, or no thread could be started");
        spec_release(&b->sp);
        free(b);
    }
}

static void cmd_signal(const json_t *cmd)
{
    const char *id = json_string_value(json_object_get(cmd, "id"));
    json_int_t sig = json_integer_value(json_object_get(cmd, "signal"));
    if (!id || sig <= 0 || sig >= NSIG) {
        emit_error(id, "signal: needs id and a signal number");
        return;
    }
    pthread_mutex_lock(&g.mu);
    struct box *b = find_box(id, true);
    if (b && b->pending_signal != SIGKILL) {
        b->pending_signal = (int)sig;
    }
    pthread_mutex_unlock(&g.mu);
    if (!b) {
        emit_error(id, "signal: no such running container");
    }
}

static void cmd_stats(void)
{
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < g.n_boxes; i++) {
        g.boxes[i]->want_stats = !g.boxes[i]->done;
    }
    pthread_mutex_unlock(&g.mu);
}

/* Starts an exec thread for a running container; false when there is none. g.mu held. */
static bool start_exec(const char *id, const char *cname, char **argv, int64_t timeout_ms)
{
    struct box *b = find_box(cname, true);
    if (!b || b->pid <= 0) {
        return false;
    }
    struct exec_req *x = mp_xcalloc(1, sizeof(*x));
    x->id = mp_xstrdup(id);
    x->argv = argv;
    x->envp = strv_dup(b->sp.envp);
    x->procs = b->procs ? strv_dup(b->procs) : NULL;
    x->target = b->pid;
    x->timeout_ns = (timeout_ms > 0 ? timeout_ms : 1000) * 1000000LL;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &attr, exec_main, x) == 0;
    pthread_attr_destroy(&attr);
    if (ok) {
        g.execs++;
    } else {
        x->argv = NULL;
        exec_req_free(x);
    }
    return ok;
}

static void cmd_exec(const json_t *cmd)
{
    const char *id = json_string_value(json_object_get(cmd, "id"));
    const char *cname = json_string_value(json_object_get(cmd, "container"));
    json_int_t tmo = json_integer_value(json_object_get(cmd, "timeout_ms"));
    char **argv = strv_from_json(json_object_get(cmd, "argv"), true);
    bool started = false;
    if (id && cname && argv) {
        pthread_mutex_lock(&g.mu);
        started = start_exec(id, cname, argv, tmo);
        pthread_mutex_unlock(&g.mu);
    }
    if (!started) {
        strv_free(argv);
        emit(json_pack("{s:s, s:s?, s:s}", "event", "exec", "id", id, "error",
                       "exec: needs id, argv and a running container"));
    }
}

/* Runs one command line; returns true for "shutdown". */
static bool dispatch(const char *line)
{
    bool quit = false;
    json_error_t jerr;
    json_t *cmd = json_loads(line, 0, &jerr);
    const char *op = json_string_value(json_object_get(cmd, "op"));
    if (!op) {
        emit_error(NULL, cmd ? "command without op" : jerr.text);
    } else if (strcmp(op, "start") == 0) {
        cmd_start(cmd);
    } else if (strcmp(op, "signal") == 0) {
        cmd_signal(cmd);
    } else if (strcmp(op, "stats") == 0) {
        cmd_stats();
    } else if (strcmp(op, "exec") == 0) {
        cmd_exec(cmd);
    } else if (strcmp(op, "shutdown") == 0) {
        quit = true;
    } else {
        emit_error(NULL, "unknown op");
    }
    json_decref(cmd);
    return quit;
}

/* Kills every container, waits for their threads and exec threads. */
static void shutdown_all(void)
{
    pthread_mutex_lock(&g.mu);
    for (size_t i = 0; i < g.n_boxes; i++) {
        g.boxes[i]->pending_signal = SIGKILL;
    }
    pthread_mutex_unlock(&g.mu);
    for (;;) {
        pthread_mutex_lock(&g.mu);
        struct box *b = g.n_boxes ? g.boxes[--g.n_boxes] : NULL;
        pthread_mutex_unlock(&g.mu);
        if (!b) {
            break;
        }
        box_free(b);
    }
    pthread_mutex_lock(&g.mu);
    while (g.execs > 0) {
        pthread_cond_wait(&g.exec_cv, &g.mu);
    }
    pthread_mutex_unlock(&g.mu);
    free(g.boxes);
}

/* Reads commands until EOF, "shutdown", or SIGTERM/SIGINT/SIGHUP (also sent when the node
 * agent dies). */
static void serve(int sfd)
{
    struct mp_buf in = MP_BUF_INIT;
    bool quit = false;
    while (!quit) {
        struct pollfd pf[2] = {{.fd = 0, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
        if (poll(pf, 2, -1) < 0) {
            quit = errno != EINTR;
            continue;
        }
        if (pf[1].revents) {
            break;
        }
        char buf[65536];
        ssize_t n = read(0, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || in.len + (size_t)n > LINE_MAX_BYTE) {
            break;
        }
        mp_buf_add(&in, buf, (size_t)n);
        char *start = in.data;
        for (char *nl; !quit && (nl = memchr(start, '\n', in.len - (size_t)(start - in.data)));) {
            *nl = '\0';
            quit = *start && dispatch(start);
            start = nl + 1;
        }
        size_t left = in.len - (size_t)(start - in.data);
        memmove(in.data, start, left);
        in.len = left;
        reap_finished(NULL);
    }
    mp_buf_release(&in);
}

/* ---- main ---- */

/* Kills and removes every group below the parent's base groups, then the bases themselves. */
static int cleanup(const char *parent)
{
    struct mp_error err = {0, ""};
    if (mp_cgroup_detect(&g.cgsys, parent, &err) != 0) {
        fprintf(stderr, "pod_runner: %s\n", err.msg);
        return 1;
    }
    const char *bases[MP_CGCTL_N + 1];
    size_t nb = 0;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (g.cgsys.v1_base[c]) {
            bases[nb++] = g.cgsys.v1_base[c];
        }
    }
    if (g.cgsys.v2_base) {
        bases[nb++] = g.cgsys.v2_base;
    }
    int failed = 0, removed = 0;
    for (size_t i = 0; i < nb; i++) {
        DIR *d = opendir(bases[i]);
        for (struct dirent *e; d && (e = readdir(d));) {
            struct mp_cgroup *cg = NULL;
            struct mp_cgroup_limits none = {0, NULL, 0, 0};
            if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
                mp_cgroup_create(&g.cgsys, e->d_name, &none, &cg, &err) != 0) {
                continue;
            }
            if (mp_cgroup_destroy(cg, mp_mono_ns() + FINISH_NS, &err) != 0) {
                fprintf(stderr, "pod_runner: %s\n", err.msg);
                failed++;
            } else {
                removed++;
            }
            mp_cgroup_free(cg);
        }
        if (d) {
            closedir(d);
        }
    }
    for (size_t i = 0; i < nb; i++) {
        /* A group that was still going away (its last task exiting, a pod_runner removing its
         * own group) keeps the base busy for a moment: retry for up to 2 s. */
        int rc = rmdir(bases[i]);
        for (int tries = 0; rc != 0 && errno == EBUSY && tries < 40; tries++) {
            struct timespec ts = {0, 50000000L};
            nanosleep(&ts, NULL);
            rc = rmdir(bases[i]);
        }
        if (rc != 0 && errno != ENOENT) {
            fprintf(stderr, "pod_runner: cannot remove '%s': %s\n", bases[i], strerror(errno));
            failed++;
        }
    }
    printf("{\"event\":\"cleaned\",\"groups\":%d,\"failed\":%d}\n", removed, failed);
    mp_cgroup_system_release(&g.cgsys);
    return failed ? 1 : 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: pod_runner --pod NAME --cgroup-parent GROUP [--state-dir DIR]\n"
                    "       pod_runner --cleanup GROUP\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *parent = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--cleanup") == 0) {
            return cleanup(argv[i + 1]);
        }
        const char **slot = strcmp(argv[i], "--pod") == 0             ? &g.pod
                            : strcmp(argv[i], "--cgroup-parent") == 0 ? &parent
                            : strcmp(argv[i], "--state-dir") == 0     ? &g.state_dir
                                                                      : NULL;
        if (!slot) {
            return usage();
        }
        *slot = argv[i + 1];
    }
    if (!parent || argc % 2 == 0) {
        return usage();
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int sfd = signalfd(-1, &set, SFD_CLOEXEC);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    struct mp_error err = {0, ""};
    if (sfd < 0 || mp_cgroup_detect(&g.cgsys, parent, &err) != 0) {
        fprintf(stderr, "pod_runner: %s\n", sfd < 0 ? strerror(errno) : err.msg);
        return 1;
    }
    emit(json_pack("{s:s, s:s, s:s}", "event", "ready", "cgroup_mode",
                   mp_cgroup_mode_name(g.cgsys.mode), "warning", g.cgsys.warning));
    serve(sfd);
    shutdown_all();
    emit(json_pack("{s:s}", "event", "bye"));
    mp_cgroup_system_release(&g.cgsys);
    close(sfd);
    return 0;
}
