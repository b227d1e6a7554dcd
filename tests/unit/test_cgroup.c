/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/cgroup against the real cgroup file systems: detection, limits written,
 * joining, kill + verify empty + removal, a 0.5-core quota really holding a spinner to about
 * half a core, OOM kills counted, current memory usage, pids limit, and recreation of a stale
 * group. Skipped with a message where no cgroup hierarchy is writable (not root, no
 * delegation). */
#define _GNU_SOURCE /* setresuid */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup/cgroup.h"
#include "cgroup/cgroup_int.h"
#include "proc/proc.h"
#include "testlib.h"

static struct mp_cgroup_system sys;
static bool usable;
static pid_t test_pid; /* names groups; a forked child keeps its parent's */

static int setup(void **state)
{
    (void)state;
    test_pid = getpid();
    struct mp_error err = {0, ""};
    char parent[64];
    snprintf(parent, sizeof(parent), "morphling-test-%d", (int)getpid());
    if (mp_cgroup_detect(&sys, parent, &err) != 0) {
        fprintf(stderr, "cgroup detection failed: %s\n", err.msg);
        return -1;
    }
    usable = mp_cgroup_system_usable(&sys);
    fprintf(stderr, "cgroup mode %s, limits 0x%x%s%s\n", mp_cgroup_mode_name(sys.mode),
            mp_cgroup_system_limits(&sys), sys.warning[0] ? ", warning: " : "", sys.warning);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Remove the groups of dead children, then the per-test base groups. */
    (void)mp_cgroup_sweep(&sys);
    for (int c = 0; c < MP_CGCTL_N; c++) {
        if (sys.v1_base[c]) {
            rmdir(sys.v1_base[c]);
        }
    }
    if (sys.v2_base) {
        rmdir(sys.v2_base);
    }
    mp_cgroup_system_release(&sys);
    return 0;
}

#define NEED_CGROUPS()                                                                             \
    do {                                                                                           \
        if (!usable) {                                                                             \
            fprintf(stderr, "skipped: no writable cgroup hierarchy (%s)\n", sys.warning);          \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static struct mp_cgroup *make_group(const char *tag, const struct mp_cgroup_limits *lim)
{
    char name[64];
    snprintf(name, sizeof(name), "t%d-%s", (int)test_pid, tag);
    struct mp_cgroup *cg = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_cgroup_create(&sys, name, lim, &cg, &err);
    if (rc != 0) {
        fail_msg("create %s: %s", name, err.msg);
    }
    return cg;
}

static struct mp_proc *spawn_in(struct mp_cgroup *cg, const char *mode, const char *arg)
{
    char *prog = helper("proc_antics");
    const char *argv[] = {prog, mode, arg, NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.cgroup_procs = mp_cgroup_procs_files(cg);
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_proc_spawn(&o, &p, &err);
    free(prog);
    if (rc != 0) {
        fail_msg("spawn %s: %s", mode, err.msg);
    }
    return p;
}

static void destroy_clean(struct mp_cgroup *cg, struct mp_proc *p)
{
    char *path = mp_xstrdup(mp_cgroup_path(cg));
    struct mp_error err = {0, ""};
    int rc = mp_cgroup_destroy(cg, mp_mono_ns() + 10 * SEC, &err);
    if (rc != 0) {
        fail_msg("destroy: %s", err.msg);
    }
    if (access(path, F_OK) == 0) {
        fail_msg("group %s still exists", path);
    }
    if (p) {
        assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL), 0);
        mp_proc_free(p);
    }
    mp_cgroup_free(cg);
    free(path);
}

static char *read_file(const char *dir, const char *file)
{
    char *path = mp_xasprintf("%s/%s", dir, file);
    struct mp_buf b = MP_BUF_INIT;
    char *s = NULL;
    if (mp_buf_read_file(&b, path, 65536, NULL) == 0) {
        s = mp_buf_detach(&b);
    }
    mp_buf_release(&b);
    free(path);
    return s;
}

static void expect_file(const char *dir, const char *file, const char *want)
{
    char *got = read_file(dir, file);
    if (!got || strncmp(got, want, strlen(want)) != 0) {
        fail_msg("%s/%s: got \"%s\", want \"%s\"", dir, file, got ? got : "(unreadable)", want);
    }
    free(got);
}

static void test_detect(void **state)
{
    (void)state;
    bool v1_cpu = access("/sys/fs/cgroup/cpu/cgroup.procs", F_OK) == 0;
    bool any_v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ||
                  access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0;
    NEED_CGROUPS();
    if (v1_cpu && any_v2) {
        assert_int_equal(sys.mode, MP_CGROUP_HYBRID);
    } else if (v1_cpu) {
        assert_int_equal(sys.mode, MP_CGROUP_V1);
    } else if (any_v2) {
        assert_int_equal(sys.mode, MP_CGROUP_V2);
    }
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = NULL;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_cgroup_create(&sys, "../escape", &lim, &cg, &err), MP_EINVALID);
    assert_null(cg);
}

static void test_limits_written(void **state)
{
    (void)state;
    NEED_CGROUPS();
    struct mp_cgroup_limits lim = {0.5, "0", 64u << 20, 32};
    struct mp_cgroup *cg = make_group("limits", &lim);
    unsigned want = mp_cgroup_system_limits(&sys);
    assert_int_equal(mp_cgroup_enforced(cg), want);
    char tag[MP_CGROUP_OWNER_TAG_MAX]; /* directories carry the owner's tag after the name */
    mp_cgroup_owner_tag(tag, sizeof(tag));
    if (sys.v1_base[MP_CGCTL_CPU]) {
        char *d = mp_xasprintf("%s/t%d-limits%s", sys.v1_base[MP_CGCTL_CPU], (int)test_pid, tag);
        expect_file(d, "cpu.cfs_quota_us", "50000\n");
        expect_file(d, "cpu.cfs_period_us", "100000\n");
        free(d);
    } else if (want & MP_CGLIM_CPU) {
        expect_file(mp_cgroup_path(cg), "cpu.max", "50000 100000\n");
    }
    if (sys.v1_base[MP_CGCTL_MEMORY]) {
        char *d = mp_xasprintf("%s/t%d-limits%s", sys.v1_base[MP_CGCTL_MEMORY], (int)test_pid, tag);
        expect_file(d, "memory.limit_in_bytes", "67108864\n");
        free(d);
    } else if (want & MP_CGLIM_MEMORY) {
        expect_file(mp_cgroup_path(cg), "memory.max", "67108864\n");
    }
    if (sys.v1_base[MP_CGCTL_PIDS]) {
        char *d = mp_xasprintf("%s/t%d-limits%s", sys.v1_base[MP_CGCTL_PIDS], (int)test_pid, tag);
        expect_file(d, "pids.max", "32\n");
        free(d);
    }
    destroy_clean(cg, NULL);
}

/* CPU limits at the kernel's bounds: 0.001 core is a 1 ms quota per 1 s period (it was 1 ms
 * per 100 ms, 10 times the limit asked for), less is raised to that, and far more cores than
 * the machine has is all of its CPUs (1e12 cores failed to write: not enforced). */
static void expect_cpu(double cores, const char *quota, const char *period)
{
    struct mp_cgroup_limits lim = {cores, NULL, 0, 0};
    struct mp_cgroup *cg = make_group("cpu-bounds", &lim);
    if (!(mp_cgroup_system_limits(&sys) & MP_CGLIM_CPU)) {
        destroy_clean(cg, NULL);
        return;
    }
    if (!(mp_cgroup_enforced(cg) & MP_CGLIM_CPU)) {
        fail_msg("%g cores: the CPU limit was not written", cores);
    }
    char tag[MP_CGROUP_OWNER_TAG_MAX];
    mp_cgroup_owner_tag(tag, sizeof(tag));
    if (sys.v1_base[MP_CGCTL_CPU]) {
        char *d =
            mp_xasprintf("%s/t%d-cpu-bounds%s", sys.v1_base[MP_CGCTL_CPU], (int)test_pid, tag);
        expect_file(d, "cpu.cfs_quota_us", quota);
        expect_file(d, "cpu.cfs_period_us", period);
        free(d);
    } else {
        char *want = mp_xasprintf("%s %s", quota, period);
        expect_file(mp_cgroup_path(cg), "cpu.max", want);
        free(want);
    }
    destroy_clean(cg, NULL);
}

static void test_cpu_quota_bounds(void **state)
{
    (void)state;
    NEED_CGROUPS();
    expect_cpu(0.001, "1000", "1000000");
    expect_cpu(0.0001, "1000", "1000000");
    expect_cpu(0.005, "1000", "200000");
    char all[32];
    snprintf(all, sizeof(all), "%ld", 100000L * sysconf(_SC_NPROCESSORS_CONF));
    expect_cpu(1e12, all, "100000");
}

/* A nested parent ("outer/inner"): the levels above the base are created too, and a v1 cpuset
 * level left with empty cpus/mems made every join fail with ENOSPC. A trial group under it takes
 * a process. */
static void test_nested_parent_joinable(void **state)
{
    (void)state;
    NEED_CGROUPS();
    char parent[96];
    snprintf(parent, sizeof(parent), "morphling-test-%d-outer/inner", (int)getpid());
    struct mp_cgroup_system nsys;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_cgroup_detect(&nsys, parent, &err), 0);
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = NULL;
    if (mp_cgroup_create(&nsys, "nested-parent", &lim, &cg, &err) != 0) {
        fail_msg("create: %s", err.msg);
    }
    const char *argv[] = {"/bin/true", NULL};
    struct mp_proc_opts o = {0};
    o.argv = argv;
    o.cgroup_procs = mp_cgroup_procs_files(cg);
    struct mp_proc *p = NULL;
    int rc = mp_proc_spawn(&o, &p, &err);
    char msg[sizeof(err.msg)];
    snprintf(msg, sizeof(msg), "%s", err.msg);
    if (p) {
        assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10 * SEC, NULL), 0);
        mp_proc_free(p);
    }
    assert_int_equal(mp_cgroup_destroy(cg, mp_mono_ns() + 10 * SEC, NULL), 0);
    mp_cgroup_free(cg);
    for (int c = 0; c < MP_CGCTL_N; c++) {
        for (int k = 0; k < 2 && nsys.v1_base[c]; k++) {
            char *dir = mp_xstrdup(nsys.v1_base[c]);
            *strrchr(dir, '/') = k ? '\0' : '/';
            (void)rmdir(k ? dir : nsys.v1_base[c]);
            free(dir);
        }
    }
    if (nsys.v2_base) {
        rmdir(nsys.v2_base);
        *strrchr(nsys.v2_base, '/') = '\0';
        rmdir(nsys.v2_base);
    }
    mp_cgroup_system_release(&nsys);
    if (rc != 0) {
        fail_msg("a process could not join a group under a nested parent: %s", msg);
    }
}

/* Without permission (run as nobody): mode none, and the warning names the v2 tree as well as
 * the v1 controllers (one line per v1 controller filled it, cut mid-path before v2's). */
static void test_no_permission_warning(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (geteuid() != 0) {
        skip();
    }
    pid_t child = fork();
    if (child == 0) {
        struct mp_cgroup_system nsys;
        struct mp_error err = {0, ""};
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0 ||
            mp_cgroup_detect(&nsys, NULL, &err) != 0) {
            _exit(2);
        }
        fprintf(stderr, "as nobody: mode %s, warning: %s\n", mp_cgroup_mode_name(nsys.mode),
                nsys.warning);
        bool ok = nsys.mode == MP_CGROUP_NONE && strlen(nsys.warning) + 1 < sizeof(nsys.warning) &&
                  (!nsys.v2_base && (access("/sys/fs/cgroup/unified", F_OK) != 0 ||
                                     strstr(nsys.warning, "cgroup v2")));
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_join_kill_destroy(void **state)
{
    (void)state;
    NEED_CGROUPS();
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = make_group("kill", &lim);
    struct mp_proc *p = spawn_in(cg, "escape", NULL);
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (mp_cgroup_count(cg) < 2 && mp_mono_ns() < end) {
        usleep(5000);
    }
    assert_int_equal(mp_cgroup_count(cg), 2);
    pid_t pids[8];
    assert_int_equal(mp_cgroup_pids(cg, pids, 8), 2);
    assert_int_equal(mp_cgroup_kill(cg), 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    destroy_clean(cg, p);
}

static void test_cpu_quota_half_core(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!(mp_cgroup_system_limits(&sys) & MP_CGLIM_CPU)) {
        fprintf(stderr, "skipped: no cpu controller\n");
        skip();
    }
    struct mp_cgroup_limits lim = {0.5, NULL, 0, 0};
    struct mp_cgroup *cg = make_group("quota", &lim);
    int64_t t0 = mp_mono_ns();
    struct mp_proc *p = spawn_in(cg, "spin", "2");
    assert_true(mp_proc_wait(p, mp_mono_ns() + 30 * SEC, NULL));
    double wall = (double)(mp_mono_ns() - t0) / 1e9;
    struct mp_cgroup_stats st;
    mp_cgroup_stats(cg, &st);
    assert_true(st.has_cpu);
    double share = st.cpu_seconds / wall;
    fprintf(stderr, "0.5-core quota: %.3f s CPU over %.3f s wall = %.3f cores\n", st.cpu_seconds,
            wall, share);
    /* The quota caps usage at 0.5 core (plus one period of slack); a busy machine may give
     * less, never more. */
    if (share > 0.6 || share < 0.1) {
        fail_msg("spinner used %.3f cores under a 0.5-core quota", share);
    }
    destroy_clean(cg, p);
}

static void test_oom_counted(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!(mp_cgroup_system_limits(&sys) & MP_CGLIM_MEMORY)) {
        fprintf(stderr, "skipped: no memory controller\n");
        skip();
    }
    struct mp_cgroup_limits lim = {0, NULL, 32u << 20, 0};
    struct mp_cgroup *cg = make_group("oom", &lim);
    struct mp_proc *p = spawn_in(cg, "alloc", "256");
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 30 * SEC, &st));
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    struct mp_cgroup_stats s;
    mp_cgroup_stats(cg, &s);
    assert_true(s.has_oom);
    assert_true(s.oom_kills >= 1);
    assert_true(s.has_memory);
    assert_true(s.peak_memory_bytes <= (32u << 20) + (1u << 20));
    assert_true(s.peak_memory_bytes >= (16u << 20));
    destroy_clean(cg, p);
}

/* The current usage follows what the group holds: 48 MiB touched and kept. */
static void test_memory_current(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!(mp_cgroup_system_limits(&sys) & MP_CGLIM_MEMORY)) {
        fprintf(stderr, "skipped: no memory controller\n");
        skip();
    }
    struct mp_cgroup_limits lim = {0, NULL, 256u << 20, 0};
    struct mp_cgroup *cg = make_group("memnow", &lim);
    struct mp_proc *p = spawn_in(cg, "alloc", "48");
    int64_t end = mp_mono_ns() + 30 * SEC;
    char *log = NULL;
    while (mp_mono_ns() < end) {
        free(log);
        log = mp_proc_log(p, MP_PROC_STDERR, NULL);
        if (strstr(log, "allocated 48 MiB")) {
            break;
        }
        usleep(5000);
    }
    assert_non_null(strstr(log, "allocated 48 MiB"));
    free(log);
    struct mp_cgroup_stats s;
    mp_cgroup_stats(cg, &s);
    assert_true(s.has_memory);
    if (s.memory_bytes < (48u << 20) || s.memory_bytes > s.peak_memory_bytes) {
        fail_msg("current usage %llu with 48 MiB held (peak %llu)",
                 (unsigned long long)s.memory_bytes, (unsigned long long)s.peak_memory_bytes);
    }
    destroy_clean(cg, p);
}

static void test_pids_limit(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!(mp_cgroup_system_limits(&sys) & MP_CGLIM_PIDS)) {
        fprintf(stderr, "skipped: no pids controller\n");
        skip();
    }
    struct mp_cgroup_limits lim = {0, NULL, 0, 4};
    struct mp_cgroup *cg = make_group("pids", &lim);
    struct mp_proc *p = spawn_in(cg, "tree", "10");
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 30 * SEC, &st));
    /* fork() failed in the helper, which exits non-zero (6, or 1 when a sanitizer's exit-time
     * check cannot fork either), instead of growing past the limit. */
    assert_true(WIFEXITED(st));
    assert_int_not_equal(WEXITSTATUS(st), 0);
    assert_true(mp_cgroup_count(cg) <= 4);
    destroy_clean(cg, p);
}

static void test_stale_group_recreated(void **state)
{
    (void)state;
    NEED_CGROUPS();
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *old = make_group("stale", &lim);
    struct mp_proc *p = spawn_in(old, "tree", "2");
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (mp_cgroup_count(old) < 3 && mp_mono_ns() < end) {
        usleep(5000);
    }
    mp_cgroup_free(old); /* forgotten, as by a killed run: the group and processes remain */
    struct mp_cgroup *cg = make_group("stale", &lim);
    assert_int_equal(mp_cgroup_count(cg), 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    destroy_clean(cg, p);
}

/* Without a v2 tree (pure v1 machines) the kill goes through the v1 freezer. */
static void test_v1_only_freeze_kill(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!sys.v1_base[MP_CGCTL_FREEZER]) {
        fprintf(stderr, "skipped: no v1 freezer hierarchy\n");
        skip();
    }
    struct mp_cgroup_system v1 = sys; /* borrows sys's strings: never released */
    v1.v2_base = NULL;
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = NULL;
    struct mp_error err = {0, ""};
    char name[64];
    snprintf(name, sizeof(name), "t%d-v1", (int)test_pid);
    assert_int_equal(mp_cgroup_create(&v1, name, &lim, &cg, &err), 0);
    assert_null(strstr(mp_cgroup_path(cg), "unified"));
    struct mp_proc *p = spawn_in(cg, "escape", NULL);
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (mp_cgroup_count(cg) < 2 && mp_mono_ns() < end) {
        usleep(5000);
    }
    assert_int_equal(mp_cgroup_count(cg), 2);
    assert_int_equal(mp_cgroup_kill(cg), 0);
    assert_int_equal(mp_cgroup_count(cg), 0);
    destroy_clean(cg, p);
}

/* Moves pid into a group "worker" made inside each of cg's directories, as a service that
 * manages cgroups of its own would. 0, or a negative errno (also usable in a forked child). */
static int move_to_subgroups(struct mp_cgroup *cg, pid_t pid)
{
    int rc = 0;
    for (const char *const *f = mp_cgroup_procs_files(cg); *f && rc == 0; f++) {
        char *dir = mp_xstrdup(*f);
        *strrchr(dir, '/') = '\0';
        char *sub = mp_xasprintf("%s/worker", dir);
        rc = mkdir(sub, 0755) == 0 ? 0 : -errno;
        if (rc == 0 && mp_cgroup_file_exists(sub, "cpuset.cpus")) {
            rc = mp_cgroup_cpuset_inherit(sub);
        }
        if (rc == 0) {
            char text[32];
            snprintf(text, sizeof(text), "%d", (int)pid);
            rc = mp_cgroup_write_text(sub, "cgroup.procs", text);
        }
        free(sub);
        free(dir);
    }
    return rc;
}

/* A group whose service made groups of its own inside it: its processes are counted, listed
 * and killed, and the whole tree of groups is removed. */
static void nested(const struct mp_cgroup_system *s, const char *tag)
{
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = NULL;
    struct mp_error err = {0, ""};
    char name[64];
    snprintf(name, sizeof(name), "t%d-%s", (int)test_pid, tag);
    assert_int_equal(mp_cgroup_create(s, name, &lim, &cg, &err), 0);
    struct mp_proc *p = spawn_in(cg, "escape", NULL);
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (mp_cgroup_count(cg) < 2 && mp_mono_ns() < end) {
        usleep(5000);
    }
    int rc = move_to_subgroups(cg, mp_proc_pid(p));
    if (rc != 0) {
        fail_msg("move %d to a nested group: %s", (int)mp_proc_pid(p), strerror(-rc));
    }
    assert_int_equal(mp_cgroup_count(cg), 2);
    pid_t pids[8];
    size_t n = mp_cgroup_pids(cg, pids, 8);
    assert_int_equal(n, 2);
    assert_true(pids[0] == mp_proc_pid(p) || pids[1] == mp_proc_pid(p));
    assert_int_equal(mp_cgroup_kill(cg), 0);
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10 * SEC, &st));
    assert_int_equal(WTERMSIG(st), SIGKILL);
    destroy_clean(cg, p);
}

static void test_nested_groups(void **state)
{
    (void)state;
    NEED_CGROUPS();
    nested(&sys, "nested");
    if (sys.v1_base[MP_CGCTL_FREEZER] && sys.v2_base) {
        struct mp_cgroup_system v1 = sys; /* borrows sys's strings: never released */
        v1.v2_base = NULL;
        nested(&v1, "nested-v1");
    }
}

/* A process that left the trial's v1 memory hierarchy but stayed in the others is named with
 * that hierarchy; the group's largest list (mp_cgroup_pids) still holds it. */
static void test_missing_one_hierarchy(void **state)
{
    (void)state;
    NEED_CGROUPS();
    if (!sys.v1_base[MP_CGCTL_MEMORY]) {
        fprintf(stderr, "skipped: no v1 memory hierarchy\n");
        skip();
    }
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = make_group("missing", &lim);
    struct mp_proc *p = spawn_in(cg, "escape", NULL);
    int64_t end = mp_mono_ns() + 10 * SEC;
    while (mp_cgroup_count(cg) < 2 && mp_mono_ns() < end) {
        usleep(5000);
    }
    pid_t pids[8];
    assert_int_equal(mp_cgroup_pids(cg, pids, 8), 2);
    char where[128];
    bool all = true;
    assert_int_equal(mp_cgroup_missing(cg, pids, 2, where, sizeof(where), &all), 0);
    char pid_text[32];
    snprintf(pid_text, sizeof(pid_text), "%d", (int)pids[1]);
    assert_int_equal(mp_cgroup_write_text(sys.v1_base[MP_CGCTL_MEMORY], "cgroup.procs", pid_text),
                     0);
    assert_int_equal(mp_cgroup_pids(cg, pids + 2, 6), 2);
    assert_int_equal(mp_cgroup_missing(cg, pids, 2, where, sizeof(where), &all), pids[1]);
    assert_non_null(strstr(where, "memory"));
    assert_false(all);
    destroy_clean(cg, p);
}

/* True when pid is gone or a zombie (this machine's init may not reap orphans). */
static bool dead(pid_t pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return true;
    }
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    return rp && (rp[2] == 'Z' || rp[2] == 'X');
}

/* A runner that dies without tearing down: the shim notices and kills the trial's group (s's
 * hierarchies). With nest, the service's escaped child (its own session) is first moved into a
 * group made inside the trial's, where the shim must find it too. */
static void runner_death(const struct mp_cgroup_system *s, const char *tag, bool nest)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    char name[64];
    snprintf(name, sizeof(name), "t%d-%s", (int)test_pid, tag);
    pid_t runner = fork();
    assert_true(runner >= 0);
    if (runner == 0) {
        close(fds[0]);
        struct mp_cgroup_limits lim = {0};
        struct mp_cgroup *cg = NULL;
        if (mp_cgroup_create(s, name, &lim, &cg, NULL) != 0) {
            _exit(1);
        }
        struct mp_proc *p = spawn_in(cg, "escape", NULL);
        int64_t end = mp_mono_ns() + 10 * SEC;
        while (mp_cgroup_count(cg) < 2 && mp_mono_ns() < end) {
            usleep(5000);
        }
        pid_t pids[4] = {0, 0, 0, 0};
        size_t n = mp_cgroup_pids(cg, pids, 3);
        pids[3] = mp_proc_shim_pid(p);
        pid_t escaped = pids[0] == mp_proc_pid(p) ? pids[1] : pids[0];
        if (nest && (n != 2 || move_to_subgroups(cg, escaped) != 0)) {
            _exit(1);
        }
        ssize_t w = write(fds[1], pids, sizeof(pids));
        _exit(n == 2 && w == (ssize_t)sizeof(pids) ? 0 : 1);
    }
    close(fds[1]);
    pid_t pids[4] = {0, 0, 0, 0};
    ssize_t r = read(fds[0], pids, sizeof(pids));
    close(fds[0]);
    int st = -1;
    assert_int_equal(waitpid(runner, &st, 0), runner);
    assert_int_equal(r, (ssize_t)sizeof(pids));
    assert_int_equal(WEXITSTATUS(st), 0);
    int64_t end = mp_mono_ns() + 5 * SEC;
    while ((!dead(pids[0]) || !dead(pids[1]) || !dead(pids[3])) && mp_mono_ns() < end) {
        usleep(10000);
    }
    for (int i = 0; i < 4; i++) {
        if (i != 2 && !dead(pids[i])) {
            kill(pids[i], SIGKILL);
            fail_msg("%s: pid %d survived its runner's death", tag, (int)pids[i]);
        }
    }
    struct mp_cgroup_limits lim = {0};
    struct mp_cgroup *cg = NULL;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_cgroup_create(s, name, &lim, &cg, &err), 0);
    assert_int_equal(mp_cgroup_count(cg), 0);
    destroy_clean(cg, NULL);
}

static void test_runner_death_kills_trial(void **state)
{
    (void)state;
    NEED_CGROUPS();
    runner_death(&sys, "orphan", false);
    runner_death(&sys, "orphan-nested", true);
    if (sys.v1_base[MP_CGCTL_FREEZER] && sys.v2_base) {
        struct mp_cgroup_system v1 = sys; /* borrows sys's strings: never released */
        v1.v2_base = NULL;
        runner_death(&v1, "orphan-nested-v1", true);
    }
}

/* The groups named "t<test_pid>-<tag>-o..." in every hierarchy of sys. */
static int count_groups(const char *tag)
{
    char prefix[96];
    snprintf(prefix, sizeof(prefix), "t%d-%s-o", (int)test_pid, tag);
    const char *bases[MP_CGCTL_N + 1];
    size_t nb = 0;
    for (int c = 0; c < MP_CGCTL_N; c++) {
        bases[nb++] = sys.v1_base[c];
    }
    bases[nb++] = sys.v2_base;
    int n = 0;
    for (size_t b = 0; b < nb; b++) {
        DIR *d = bases[b] ? opendir(bases[b]) : NULL;
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
        }
        if (d) {
            closedir(d);
        }
    }
    return n;
}

/* Issue 13: a run killed with SIGKILL leaves its (empty) groups in every hierarchy; the next
 * detection removes them, and only them: the group of a live process stays. */
static void test_sweep_removes_dead_owners_groups(void **state)
{
    (void)state;
    NEED_CGROUPS();
    struct mp_cgroup_limits lim = {0};
    pid_t child = fork();
    if (child == 0) {
        struct mp_cgroup *cg = NULL;
        char name[64];
        snprintf(name, sizeof(name), "t%d-dead", (int)test_pid);
        _exit(mp_cgroup_create(&sys, name, &lim, &cg, NULL) == 0 ? 0 : 1); /* as if killed */
    }
    int st = -1;
    assert_int_equal(waitpid(child, &st, 0), child);
    assert_int_equal(WEXITSTATUS(st), 0);
    int left = count_groups("dead");
    assert_true(left > 0);
    struct mp_cgroup *live = make_group("live", &lim);
    int live_groups = count_groups("live");
    struct mp_cgroup_system again;
    struct mp_error err = {0, ""};
    char parent[64];
    snprintf(parent, sizeof(parent), "morphling-test-%d", (int)test_pid);
    assert_int_equal(mp_cgroup_detect(&again, parent, &err), 0);
    mp_cgroup_system_release(&again);
    if (count_groups("dead") != 0) {
        fail_msg("%d of %d groups of the dead owner are left", count_groups("dead"), left);
    }
    assert_int_equal(count_groups("live"), live_groups);
    assert_int_equal(access(mp_cgroup_path(live), F_OK), 0);
    destroy_clean(live, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_limits_written),
        cmocka_unit_test(test_cpu_quota_bounds),
        cmocka_unit_test(test_nested_parent_joinable),
        cmocka_unit_test(test_no_permission_warning),
        cmocka_unit_test(test_join_kill_destroy),
        cmocka_unit_test(test_cpu_quota_half_core),
        cmocka_unit_test(test_oom_counted),
        cmocka_unit_test(test_memory_current),
        cmocka_unit_test(test_pids_limit),
        cmocka_unit_test(test_stale_group_recreated),
        cmocka_unit_test(test_runner_death_kills_trial),
        cmocka_unit_test(test_v1_only_freeze_kill),
        cmocka_unit_test(test_sweep_removes_dead_owners_groups),
        cmocka_unit_test(test_nested_groups),
        cmocka_unit_test(test_missing_one_hierarchy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
