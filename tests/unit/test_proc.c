/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/proc: spawning, exit status, capped logs, and teardown of process trees
 * that escape their process group (setsid), daemonise or ignore SIGTERM — with no process,
 * zombie or descriptor left behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"
#include "testlib.h"

/* Reads /proc/PID/FILE into buf (NUL-terminated); its length, or -1 when it cannot be read. */
static ssize_t read_proc(const char *pid, const char *file, char *buf, size_t size)
{
    char path[300];
    snprintf(path, sizeof(path), "/proc/%s/%s", pid, file);
    FILE *f = fopen(path, "r");
    if (!f) {
        return -1;
    }
    size_t len = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Zombie children of this process (there must never be any after a teardown). */
static int count_zombie_children(void)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char buf[512];
        if (read_proc(e->d_name, "stat", buf, sizeof(buf)) < 0) {
            continue;
        }
        char *rp = strrchr(buf, ')');
        char st = 0;
        int ppid = 0;
        if (rp && sscanf(rp + 1, " %c %d", &st, &ppid) == 2 && ppid == getpid() && st == 'Z') {
            n++;
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

static struct mp_proc *spawn_antics(const char *mode, const char *arg, size_t log_cap)
{
    char *prog = helper("proc_antics");
    const char *argv[] = {prog, mode, arg, NULL};
    const char *envp[] = {"LC_ALL=C", NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.envp = envp;
    o.log_cap_bytes = log_cap;
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_proc_spawn(&o, &p, &err);
    free(prog);
    if (rc != 0) {
        fail_msg("spawn proc_antics %s: %s", mode, err.msg);
    }
    return p;
}

/* Spawns /bin/sh -c script. */
static struct mp_proc *spawn_sh(const char *script)
{
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    if (mp_proc_spawn(&o, &p, &err) != 0) {
        fail_msg("spawn sh -c '%s': %s", script, err.msg);
    }
    return p;
}

/* Polls until the tree has at least n live processes (children start asynchronously). */
static int wait_tree(struct mp_proc *p, int n)
{
    int64_t end = mp_mono_ns() + 10 * SEC;
    int c = 0;
    while ((c = mp_proc_count_tree(p)) < n && mp_mono_ns() < end) {
        usleep(5000);
    }
    return c;
}

static void finish_clean(struct mp_proc *p)
{
    int rc = mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(mp_proc_count_tree(p), 0);
    assert_int_equal(count_zombie_children(), 0);
}

static void test_exec_failures(void **state)
{
    (void)state;
    int fds = count_fds();
    const char *argv1[] = {"morphling-no-such-program", NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv1;
    struct mp_proc *p = (struct mp_proc *)1;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_proc_spawn(&o, &p, &err), -ENOENT);
    assert_null(p);
    assert_non_null(strstr(err.msg, "not found in PATH"));
    const char *argv2[] = {"/nonexistent/dir/prog", NULL};
    o.argv = argv2;
    assert_int_equal(mp_proc_spawn(&o, &p, &err), -ENOENT);
    if (!strstr(err.msg, "executing failed")) {
        fail_msg("message: %s", err.msg);
    }
    const char *argv3[] = {"/bin/true", NULL};
    o.argv = argv3;
    o.workdir = "/nonexistent/dir";
    assert_int_equal(mp_proc_spawn(&o, &p, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "working directory"));
    assert_int_equal(count_fds(), fds);
    assert_int_equal(count_zombie_children(), 0);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

struct thaw {
    const char *state_file;
    _Atomic int64_t at_ns;
    atomic_bool *cancel; /* set at cancel_at_ns */
    int64_t cancel_at_ns;
};

static void *thaw_main(void *arg)
{
    struct thaw *t = arg;
    while (mp_mono_ns() < atomic_load(&t->at_ns)) {
        if (t->cancel && mp_mono_ns() >= t->cancel_at_ns) {
            atomic_store(t->cancel, true);
        }
        usleep(10000);
    }
    write_text(t->state_file, "THAWED");
    return NULL;
}

/* A service that cannot reach its exec (it joins a frozen v1 freezer group first): the spawn
 * fails after the exec report's 10 s with a message that says so, and returns at once after it
 * (it waited in a blocking waitpid for the shim, which waited for the frozen service: the runner
 * hung until the group was thawed, here 25 s later); cancelled meanwhile, it returns
 * -ECANCELED (it waited out the 10 s). Needs root and the v1 freezer. */
static void exec_stuck_frozen(bool cancel_at_300ms)
{
    char dir[128], procs[160], fstate[160];
    snprintf(dir, sizeof(dir), "/sys/fs/cgroup/freezer/morphling-test-frozen-%d", (int)getpid());
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    snprintf(fstate, sizeof(fstate), "%s/freezer.state", dir);
    if (geteuid() != 0 || access("/sys/fs/cgroup/freezer/cgroup.procs", W_OK) != 0 ||
        mkdir(dir, 0755) != 0) {
        fprintf(stderr, "skipped: needs root and the v1 freezer cgroup\n");
        skip();
    }
    write_text(fstate, "FROZEN");
    const char *argv[] = {"/bin/true", NULL};
    const char *groups[] = {procs, NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.cgroup_procs = groups;
    atomic_bool cancel = false;
    o.cancel = &cancel;
    struct thaw t = {fstate, mp_mono_ns() + 25 * SEC, cancel_at_300ms ? &cancel : NULL,
                     mp_mono_ns() + 3 * SEC / 10};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thaw_main, &t), 0);
    struct mp_proc *p = (struct mp_proc *)1;
    struct mp_error err = {0, ""};
    int64_t t0 = mp_mono_ns();
    int rc = mp_proc_spawn(&o, &p, &err);
    double took_s = (double)(mp_mono_ns() - t0) / 1e9;
    atomic_store(&t.at_ns, 0); /* thaw now: the frozen service has a SIGKILL pending */
    pthread_join(th, NULL);
    for (int i = 0; i < 500 && rmdir(dir) != 0; i++) {
        usleep(10000);
    }
    assert_int_equal(rc, cancel_at_300ms ? -ECANCELED : -ETIMEDOUT);
    assert_null(p);
    if (!strstr(err.msg, cancel_at_300ms ? "cancelled before the service started"
                                         : "did not reach its exec")) {
        fail_msg("message: %s", err.msg);
    }
    /* -ECANCELED itself says the wait ended before the report's 10 s. */
    if (!cancel_at_300ms && took_s > 20.0) {
        fail_msg("the failed spawn returned after %.1f s (the group was thawed at 25 s)", took_s);
    }
    assert_int_equal(count_zombie_children(), 0);
}

static void test_exec_stuck_frozen(void **state)
{
    (void)state;
    exec_stuck_frozen(false);
}

static void test_exec_stuck_cancelled(void **state)
{
    (void)state;
    exec_stuck_frozen(true);
}

/* The service kills its shim (kill -9 $PPID): it dies with it (PR_SET_PDEATHSIG), and the wait
 * says so at once (it returned "still running" until the deadline: the local runner probed a
 * dead service until its start-up timeout and reported STARTUP_TIMEOUT). */
static void test_shim_killed_by_service(void **state)
{
    (void)state;
    struct mp_proc *p = spawn_sh("kill -9 $PPID; sleep 30");
    int status = 0;
    bool exited = mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &status);
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL), 0);
    mp_proc_free(p);
    assert_true(exited);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* The service stops its shim (kill -STOP $PPID) and exits: finishing resumes the shim, which
 * reaps and reports (the finish timed out: the runner's teardown failed as INFRA). */
static void test_shim_stopped_by_service(void **state)
{
    (void)state;
    struct mp_proc *p = spawn_sh("kill -STOP $PPID; exit 4");
    usleep(300000);
    int rc = mp_proc_finish(p, mp_mono_ns() + 5 * SEC, NULL);
    int status = 0;
    bool exited = mp_proc_wait(p, mp_mono_ns(), &status);
    mp_proc_free(p);
    assert_int_equal(rc, 0);
    assert_true(exited);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 4);
    assert_int_equal(count_zombie_children(), 0);
}

static void test_exit_status_and_stderr(void **state)
{
    (void)state;
    int fds = count_fds();
    struct mp_proc *p = spawn_antics("exit", "7", 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 7);
    struct mp_proc_usage u = {-1, 0};
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, &u), 0);
    assert_true(u.cpu_seconds >= 0);
    assert_true(u.max_rss_bytes > 0);
    char *err_log = mp_proc_log(p, MP_PROC_STDERR, NULL);
    assert_string_equal(err_log, "bye\n");
    free(err_log);
    mp_proc_free(p);
    assert_int_equal(count_fds(), fds);
}

static void test_log_tail_capped(void **state)
{
    (void)state;
    struct mp_proc *p = spawn_antics("spew", "300000", 4096);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 20 * SEC, &st));
    assert_int_equal(WEXITSTATUS(st), 3);
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL), 0);
    for (int s = 0; s < 2; s++) {
        uint64_t dropped = 0;
        char *log = mp_proc_log(p, (enum mp_proc_stream)s, &dropped);
        assert_int_equal(strlen(log), 4096);
        assert_int_equal(dropped, 300000 - 4096);
        /* The helper writes 'a' + (i % 26) at offset i of each 4096-byte block: the tail is
         * the last 4096 bytes in order, whatever the ring's wrap. */
        for (size_t j = 0; j < 4096; j++) {
            size_t at = (300000 - 4096 + j) % 4096;
            if (log[j] != 'a' + (int)(at % 26)) {
                fail_msg("stream %d: byte %zu is '%c', expected '%c'", s, j, log[j],
                         'a' + (int)(at % 26));
            }
        }
        free(log);
    }
    mp_proc_free(p);
}

static void test_setsid_escape_killed(void **state)
{
    (void)state;
    int fds = count_fds();
    struct mp_proc *p = spawn_antics("escape", NULL, 0);
    assert_int_equal(wait_tree(p, 2), 2);
    /* The child must have left the group before the group is signalled. */
    int64_t end = mp_mono_ns() + 10 * SEC;
    char *out = NULL;
    while (mp_mono_ns() < end) {
        free(out);
        out = mp_proc_log(p, MP_PROC_STDOUT, NULL);
        if (out && strstr(out, "escaped")) {
            break;
        }
        usleep(5000);
    }
    assert_non_null(strstr(out ? out : "", "escaped"));
    free(out);
    assert_int_equal(mp_proc_signal_group(p, SIGTERM), 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGTERM);
    /* The child left the process group, so the group signal missed it. */
    assert_int_equal(mp_proc_count_tree(p), 1);
    assert_true(mp_proc_kill_tree(p, SIGKILL) >= 1);
    finish_clean(p);
    mp_proc_free(p);
    assert_int_equal(count_fds(), fds);
}

static void test_daemon_reaped(void **state)
{
    (void)state;
    struct mp_proc *p = spawn_antics("daemon", NULL, 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_int_equal(WEXITSTATUS(st), 0);
    /* The double-forked grandchild is still ours: re-parented to the shim. */
    assert_int_equal(wait_tree(p, 1), 1);
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + SEC / 5, NULL), -ETIMEDOUT);
    mp_proc_kill_tree(p, SIGKILL);
    finish_clean(p);
    mp_proc_free(p);
}

static void test_ignore_term_and_tree(void **state)
{
    (void)state;
    struct mp_proc *p = spawn_antics("ignore-term", NULL, 0);
    int64_t end = mp_mono_ns() + 10 * SEC;
    bool ignoring = false;
    while (!ignoring && mp_mono_ns() < end) {
        char *out = mp_proc_log(p, MP_PROC_STDOUT, NULL);
        ignoring = strstr(out, "ignoring SIGTERM") != NULL;
        free(out);
        usleep(5000);
    }
    assert_true(ignoring);
    assert_int_equal(mp_proc_signal_group(p, SIGTERM), 0);
    assert_false(mp_proc_wait(p, mp_mono_ns() + SEC / 5, NULL));
    mp_proc_kill_tree(p, SIGKILL);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    finish_clean(p);
    mp_proc_free(p);

    p = spawn_antics("tree", "5", 0);
    assert_int_equal(wait_tree(p, 6), 6);
    pid_t pids[16];
    assert_int_equal(mp_proc_tree_pids(p, pids, 16), 6);
    pid_t main_pid = mp_proc_pid(p);
    mp_proc_free(p); /* without finish: free kills and reaps */
    assert_int_equal(kill(main_pid, 0), -1);
    assert_int_equal(count_zombie_children(), 0);
}

static void test_workdir_and_which(void **state)
{
    (void)state;
    char *prog = helper("argv_echo");
    const char *argv[] = {prog, NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.workdir = "/tmp";
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_proc_spawn(&o, &p, &err), 0);
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, NULL));
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL), 0);
    char *out = mp_proc_log(p, MP_PROC_STDOUT, NULL);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "cwd")), "/tmp");
    json_decref(j);
    free(out);
    mp_proc_free(p);
    free(prog);
    char *w = mp_proc_which("true", "/nonexistent:/bin:/usr/bin");
    assert_non_null(w);
    assert_true(strcmp(w, "/bin/true") == 0 || strcmp(w, "/usr/bin/true") == 0);
    free(w);
    assert_null(mp_proc_which("morphling-no-such-program", "/bin"));
    w = mp_proc_which("./x", NULL);
    assert_string_equal(w, "./x");
    free(w);
}

/* A line of /proc/PID/FILE starting with key, or NULL. Returns owned. */
static char *proc_line(pid_t pid, const char *file, const char *key)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    char *found = NULL;
    while (f && !found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            found = mp_xstrdup(line);
        }
    }
    if (f) {
        fclose(f);
    }
    return found;
}

/* The weaker limits used without cgroups reach the service (a plain, unsanitised program). */
static void test_fallback_limits_applied(void **state)
{
    (void)state;
    if (access("/bin/sleep", X_OK) != 0) {
        skip();
    }
    const char *argv[] = {"/bin/sleep", "30", NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.rlimit_data_bytes = 64u << 20;
    o.affinity_cpus = 1;
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_proc_spawn(&o, &p, &err), 0);
    char *lim = proc_line(mp_proc_pid(p), "limits", "Max data size");
    assert_non_null(lim);
    if (!strstr(lim, "67108864")) {
        fail_msg("limits line: %s", lim);
    }
    char *cpus = proc_line(mp_proc_pid(p), "status", "Cpus_allowed_list");
    assert_non_null(cpus);
    /* One CPU: a single number, no range or list. */
    const char *v = strchr(cpus, ':') + 1;
    v += strspn(v, " \t");
    if (strpbrk(v, ",-")) {
        fail_msg("affinity not one CPU: %s", cpus);
    }
    free(lim);
    free(cpus);
    mp_proc_kill_tree(p, SIGKILL);
    finish_clean(p);
    mp_proc_free(p);
}

/* Live (not zombie) processes with an argument equal to marker; each gets signal sig unless
 * it is 0. */
static int marked(const char *marker, int sig)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char buf[4096];
        ssize_t len = read_proc(e->d_name, "cmdline", buf, sizeof(buf));
        for (ssize_t i = 0; i < len; i += (ssize_t)strlen(buf + i) + 1) {
            if (strcmp(buf + i, marker) == 0) {
                n++;
                if (sig) {
                    kill((pid_t)strtol(e->d_name, NULL, 10), sig);
                }
                break;
            }
        }
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* A runner that dies without tearing down, with no cgroups to search: the shim kills the
 * service's group and every process re-parented to it, so a child that escaped with setsid()
 * does not outlive the trial (it lived on, the shim waiting for it). */
static void test_runner_death_without_cgroups(void **state)
{
    (void)state;
    char marker[64];
    snprintf(marker, sizeof(marker), "mp-orphan-%d", (int)getpid());
    char *prog = helper("proc_antics");
    pid_t runner = fork();
    assert_true(runner >= 0);
    if (runner == 0) {
        const char *argv[] = {prog, "escape", marker, NULL};
        const char *envp[] = {"LC_ALL=C", NULL};
        struct mp_proc_opts o = {0};
        o.argv = argv;
        o.envp = envp;
        struct mp_proc *p = NULL;
        if (mp_proc_spawn(&o, &p, NULL) != 0) {
            _exit(1);
        }
        int64_t end = mp_mono_ns() + 10 * SEC;
        while (marked(marker, 0) < 2 && mp_mono_ns() < end) {
            usleep(5000);
        }
        _exit(marked(marker, 0) == 2 ? 0 : 1); /* as if killed: no teardown */
    }
    free(prog);
    int st = -1;
    assert_int_equal(waitpid(runner, &st, 0), runner);
    assert_int_equal(WEXITSTATUS(st), 0);
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (marked(marker, 0) > 0 && mp_mono_ns() < end) {
        usleep(10000);
    }
    int left = marked(marker, 0);
    if (left > 0) {
        marked(marker, SIGKILL);
        fail_msg("%d process(es) of the trial outlived the runner", left);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_failures),
        cmocka_unit_test(test_exec_stuck_frozen),
        cmocka_unit_test(test_exec_stuck_cancelled),
        cmocka_unit_test(test_shim_killed_by_service),
        cmocka_unit_test(test_shim_stopped_by_service),
        cmocka_unit_test(test_exit_status_and_stderr),
        cmocka_unit_test(test_log_tail_capped),
        cmocka_unit_test(test_setsid_escape_killed),
        cmocka_unit_test(test_daemon_reaped),
        cmocka_unit_test(test_ignore_term_and_tree),
        cmocka_unit_test(test_workdir_and_which),
        cmocka_unit_test(test_fallback_limits_applied),
        cmocka_unit_test(test_runner_death_without_cgroups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
