/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the local runner (src/runner/local*.c) with real child processes: the argv and
 * environment a service receives (hostile parameter values included), failure classes (crash
 * with stderr tail, OOM, startup timeout, cancel, port taken), probes and socket ownership, and
 * a full trial against the fake service with the load step replaced through its seam. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "runner/local_int.h"
#include "testlib.h"

/* The fake service's path (owned): the load generator's helper, or MP_FAKE_SERVICE; skips the
 * calling test when it is not built. */
static char *fake_service(void)
{
    const char *env = getenv("MP_FAKE_SERVICE");
    char *path = env ? mp_xstrdup(env) : helper("fake_service");
    if (access(path, X_OK) != 0) {
        free(path);
        fprintf(stderr, "skipped: fake_service helper not built (set MP_FAKE_SERVICE)\n");
        skip();
    }
    return path;
}

/* Removes a directory of plain files (the test's port lock files). */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] != '.') {
            char *p = mp_xasprintf("%s/%s", dir, e->d_name);
            unlink(p);
            free(p);
        }
    }
    if (d) {
        closedir(d);
    }
    rmdir(dir);
}

struct fixture {
    struct mp_spec *spec;
    struct mp_runner *runner;
    struct mp_trial_result res;
    json_t *meta;
    char port_dir[64];
    int64_t timeout_ms; /* the request's trial timeout; 0 = default */
};

/* Builds a spec from YAML where "@H@" stands for the helpers directory. */
static void setup_spec(struct fixture *f, const char *yaml)
{
    char *dir = helper("");
    struct mp_buf b = MP_BUF_INIT;
    for (const char *p = yaml; *p; p++) {
        if (strncmp(p, "@H@", 3) == 0) {
            mp_buf_adds(&b, dir);
            p += 2;
        } else {
            mp_buf_addc(&b, *p);
        }
    }
    snprintf(f->port_dir, sizeof(f->port_dir), "/tmp/morphling-ports-test-%d", (int)getpid());
    mp_buf_addf(&b, "  port_lock_dir: %s\n", f->port_dir);
    struct mp_error err = {0, ""};
    int rc = mp_spec_parse(b.data, b.len, "test.yaml", "/tmp", NULL, 0, &f->spec, &err);
    if (rc != 0) {
        fail_msg("spec: %s\n%s", err.msg, b.data);
    }
    rc = mp_runner_local.validate(f->spec, &err);
    if (rc != 0) {
        fail_msg("validate: %s", err.msg);
    }
    rc = mp_runner_new(f->spec, &f->runner, &err);
    if (rc != 0) {
        fail_msg("create: %s", err.msg);
    }
    mp_buf_release(&b);
    free(dir);
    mp_trial_result_init(&f->res);
}

/* Forgets the last trial's record, for another trial on the same fixture. */
static void clear_result(struct fixture *f)
{
    json_decref(f->meta);
    f->meta = NULL;
    mp_trial_result_release(&f->res);
    mp_trial_result_init(&f->res);
}

static int run(struct fixture *f, const double *x, const atomic_bool *cancel)
{
    static atomic_bool never;
    struct mp_trial_request req = {.experiment = "unit",
                                   .experiment_id = (int64_t)getpid(),
                                   .number = 1,
                                   .attempt = 1,
                                   .x = x,
                                   .timeout_ms = f->timeout_ms};
    int rc = f->runner->ops->run(f->runner, &req, &f->res, cancel ? cancel : &never);
    if (rc != 0) {
        fprintf(stderr, "run: %d (%s): %s\n", rc, mp_strerror(rc), f->res.reason);
    }
    assert_non_null(f->res.meta_json);
    f->meta = json_loads(f->res.meta_json, 0, NULL);
    assert_non_null(f->meta);
    /* Whatever happened, nothing of the trial is left. */
    json_t *td = json_object_get(f->meta, "teardown");
    if (!json_is_true(json_object_get(td, "clean"))) {
        fail_msg("teardown not clean: %s", f->res.meta_json);
    }
    const char *cg = json_string_value(json_object_get(json_object_get(f->meta, "cgroup"), "path"));
    if (cg && access(cg, F_OK) == 0) {
        fail_msg("cgroup %s left behind", cg);
    }
    return rc;
}

static void release(struct fixture *f)
{
    json_decref(f->meta);
    mp_trial_result_release(&f->res);
    mp_runner_free(f->runner);
    mp_spec_free(f->spec);
    remove_dir(f->port_dir);
}

static void expect_failure(const struct fixture *f, enum mp_failure want, const char *needle)
{
    if (f->res.state != MP_TRIAL_FAILED || f->res.failure != want) {
        fail_msg("want FAILED/%s, got %s/%s: %s", mp_failure_name(want),
                 mp_trial_state_name(f->res.state), mp_failure_name(f->res.failure),
                 f->res.reason ? f->res.reason : "(no reason)");
    }
    if (needle && (!f->res.reason || !strstr(f->res.reason, needle))) {
        fail_msg("reason lacks \"%s\": %s", needle, f->res.reason ? f->res.reason : "(null)");
    }
}

static const char *const hostile_choices[] = {"$(touch /tmp/pwned)", "-rf", "a b\nc", "'\"`"};

static void test_argv_and_env_exact(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: argv\n"
                   "service:\n"
                   "  command: [\"@H@/argv_echo\", \"--mode\", \"{mode}\", \"--port={port}\", "
                   "\"{{literal}}\"]\n"
                   "  env: {TAG: \"t-{mode}-{nonce}\"}\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: mode, type: categorical, values: [\"$(touch /tmp/pwned)\", \"-rf\", "
                   "\"a b\\nc\", \"'\\\"`\"]}\n"
                   "  - {name: threads, type: int, min: 1, max: 8, target: {env: OMP_THREADS}}\n"
                   "  - {name: batch, type: int, min: 1, max: 64, target: {arg: --batch}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  inherit_env: false\n");
    for (size_t k = 0; k < MP_ARRAY_LEN(hostile_choices); k++) {
        double x[] = {(double)k, 3, 16};
        clear_result(&f);
        assert_int_equal(run(&f, x, NULL), 0);
        /* argv_echo exits at once: that is a crash while starting, with its output kept. */
        expect_failure(&f, MP_FAILURE_CRASHED, "exited with status 0");
        json_t *out = json_loads(f.res.stdout_log, 0, NULL);
        if (!out) {
            fail_msg("no JSON from argv_echo: %s", f.res.stdout_log);
        }
        int port = (int)json_integer_value(json_object_get(f.meta, "port"));
        const char *nonce = json_string_value(json_object_get(f.meta, "nonce"));
        char *port_arg = mp_xasprintf("--port=%d", port);
        const char *want_argv[] = {"--mode",    hostile_choices[k], port_arg,
                                   "{literal}", "--batch",          "16"};
        json_t *argv = json_object_get(out, "argv");
        assert_int_equal(json_array_size(argv), 1 + MP_ARRAY_LEN(want_argv));
        for (size_t i = 0; i < MP_ARRAY_LEN(want_argv); i++) {
            const char *got = json_string_value(json_array_get(argv, i + 1));
            if (strcmp(got, want_argv[i]) != 0) {
                fail_msg("argv[%zu]: got \"%s\", want \"%s\"", i + 1, got, want_argv[i]);
            }
        }
        char *tag = mp_xasprintf("TAG=t-%s-%s", hostile_choices[k], nonce);
        char *port_env = mp_xasprintf("MORPHLING_PORT=%d", port);
        char *nonce_env = mp_xasprintf("MORPHLING_NONCE=%s", nonce);
        const char *want_env[] = {tag, "OMP_THREADS=3", port_env, nonce_env};
        json_t *env = json_object_get(out, "env");
        assert_int_equal(json_array_size(env), MP_ARRAY_LEN(want_env));
        for (size_t i = 0; i < MP_ARRAY_LEN(want_env); i++) {
            const char *got = json_string_value(json_array_get(env, i));
            if (strcmp(got, want_env[i]) != 0) {
                fail_msg("env[%zu]: got \"%s\", want \"%s\"", i, got, want_env[i]);
            }
        }
        assert_int_equal(strlen(nonce), 32);
        free(tag);
        free(port_env);
        free(nonce_env);
        free(port_arg);
        json_decref(out);
    }
    assert_int_not_equal(access("/tmp/pwned", F_OK), 0);
    release(&f);
}

static void test_crash_reports_stderr_tail(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: crash\n"
                   "service:\n"
                   "  command: [\"@H@/proc_antics\", \"exit\", \"{code}\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: code, type: int, min: 1, max: 9}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n");
    double x[] = {3};
    int fds = count_fds();
    assert_int_equal(run(&f, x, NULL), 0);
    assert_int_equal(count_fds(), fds); /* pipes, lock file and probe sockets all closed */
    expect_failure(&f, MP_FAILURE_CRASHED, "exited with status 3");
    assert_non_null(strstr(f.res.reason, "bye"));
    assert_string_equal(f.res.stderr_log, "bye\n");
    json_t *ex = json_object_get(f.meta, "exit");
    assert_int_equal(json_integer_value(json_object_get(ex, "code")), 3);
    double cpu = -1;
    assert_true(mp_metrics_get(&f.res.resources, "cpu_seconds", &cpu));
    assert_true(cpu >= 0);
    release(&f);
}

/* A service that allocates 256 MiB, its memory parameter `mem` of the values `values` (YAML of
 * the parameter's type and range); skipped without a memory cgroup. */
static void setup_alloc(struct fixture *f, const char *values)
{
    char spec[1024];
    snprintf(spec, sizeof(spec),
             "name: oom\n"
             "service:\n"
             "  command: [\"@H@/proc_antics\", \"alloc\", \"256\"]\n"
             "  readiness: {tcp: true, interval: 50ms, startup_timeout: 10s}\n"
             "parameters:\n"
             "  - {name: mem, %s, target: {resource: memory}}\n"
             "objective: {metric: throughput_rps}\n"
             "runner:\n",
             values);
    setup_spec(f, spec);
    struct mp_local_runner *r = (struct mp_local_runner *)f->runner;
    if (!(mp_cgroup_system_limits(&r->cgsys) & MP_CGLIM_MEMORY)) {
        fprintf(stderr, "skipped: no memory cgroup (%s)\n", r->cgsys.warning);
        release(f);
        skip();
    }
}

static void test_oom_killed(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_alloc(&f, "type: int, min: 32, max: 64");
    double x[] = {32};
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_OOM_KILLED, "32 MiB");
    double ooms = 0;
    assert_true(mp_metrics_get(&f.res.resources, "oom_kills", &ooms));
    assert_true(ooms >= 1);
    json_t *mem = json_object_get(json_object_get(f.meta, "limits"), "memory_bytes");
    assert_true(json_is_true(json_object_get(mem, "enforced")));
    release(&f);
}

/* A service whose memory use reaches its limit without an OOM kill (reclaimable pages: here a
 * file it reads; a Python server at 5 MiB reclaimed its own pages for its whole startup_timeout)
 * fails with a reason that says the limit was reached; it read 'nothing listening on port P', or
 * here the exit alone. With room to spare, no such note. */
static void test_memory_limit_reached_named(void **state)
{
    (void)state;
    struct statfs fs;
    if (statfs("/tmp", &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
        fprintf(stderr, "skipped: /tmp is a tmpfs (its pages are not reclaimable without swap)\n");
        skip();
    }
    struct fixture f = {0};
    setup_spec(&f, "name: cache\n"
                   "service:\n"
                   "  command: [\"@H@/proc_antics\", \"cache\", \"32\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 10s}\n"
                   "parameters:\n"
                   "  - {name: mem, type: discrete, values: [8, 256], target: {resource: memory}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n");
    struct mp_local_runner *r = (struct mp_local_runner *)f.runner;
    if (!(mp_cgroup_system_limits(&r->cgsys) & MP_CGLIM_MEMORY)) {
        fprintf(stderr, "skipped: no memory cgroup (%s)\n", r->cgsys.warning);
        release(&f);
        skip();
    }
    double x[] = {8};
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_CRASHED, "read 32 MiB");
    expect_failure(&f, MP_FAILURE_CRASHED, "(its memory use reached the limit of 8 MiB: ");
    clear_result(&f);
    x[0] = 256;
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_CRASHED, "read 32 MiB");
    if (strstr(f.res.reason, "memory use reached")) {
        fail_msg("a note without reaching the limit: %s", f.res.reason);
    }
    release(&f);
}

/* A memory size that rounds to 0 bytes is still a limit: 0 means none, so the service ran without
 * any and the record left the limit out. */
static void test_memory_limit_extremes(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_alloc(&f, "type: discrete, values: [1e-12, 64]");
    double x[] = {1e-12};
    assert_int_equal(run(&f, x, NULL), 0);
    json_t *mem = json_object_get(json_object_get(f.meta, "limits"), "memory_bytes");
    assert_non_null(mem);
    assert_true(json_is_true(json_object_get(mem, "enforced")));
    assert_true(json_number_value(json_object_get(mem, "requested")) == 1);
    assert_int_not_equal(f.res.state, MP_TRIAL_SUCCEEDED);
    if (f.res.failure == MP_FAILURE_OOM_KILLED) { /* else it died before the cgroup counted */
        assert_non_null(strstr(f.res.reason, "limit of 9.5367431640625e-07 MiB"));
    }
    release(&f);
}

static void test_startup_timeout_and_grace(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: slow\n"
                   "service:\n"
                   "  command: [\"@H@/proc_antics\", \"ignore-term\"]\n"
                   "  readiness: {http: /healthz, interval: 50ms, timeout: 200ms, "
                   "startup_timeout: 700ms}\n"
                   "parameters:\n"
                   "  - {name: cpu, type: float, min: 0.5, max: 1, step: 0.5, "
                   "target: {resource: cpu}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  grace_period: 200ms\n");
    double x[] = {0.5};
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_STARTUP_TIMEOUT, "nothing listening");
    /* The field and the last answer: "service.readiness.http: GET http://127.0.0.1:PORT/healthz,
     * last answer: connect: Connection refused". */
    expect_failure(&f, MP_FAILURE_STARTUP_TIMEOUT, "/healthz, last answer: connect: ");
    json_t *td = json_object_get(f.meta, "teardown");
    assert_true(json_is_false(json_object_get(td, "exited_on_sigterm")));
    assert_int_equal(json_integer_value(json_object_get(td, "left_after_grace")), 1);
    json_t *ex = json_object_get(f.meta, "exit");
    assert_int_equal(json_integer_value(json_object_get(ex, "signal")), 9);
    release(&f);
}

/* A free TCP port outside the runner's lease range (the kernel's ephemeral range). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* Runs one trial of tests/helpers/fake_service with `args` (after its path; {port} if it uses
 * the trial's port) that the probes of 127.0.0.1 never reach; f holds its result. */
static void run_unreachable(struct fixture *f, const char *args)
{
    char *fake = fake_service();
    char *yaml = mp_xasprintf("name: unreachable\n"
                              "service:\n"
                              "  command: [\"%s\", %s, \"--workers\", \"{w}\"]\n"
                              "  readiness: {http: /healthz, interval: 50ms, timeout: 200ms, "
                              "startup_timeout: 1s}\n"
                              "parameters:\n"
                              "  - {name: w, type: int, min: 1, max: 2}\n"
                              "objective: {metric: throughput_rps}\n"
                              "runner:\n"
                              "  grace_period: 300ms\n",
                              fake, args);
    setup_spec(f, yaml);
    double x[] = {1};
    assert_int_equal(run(f, x, NULL), 0);
    free(yaml);
    free(fake);
}

/* A service that listens on a port of its own instead of {port} is told so, with the port. */
static void test_listening_elsewhere_named(void **state)
{
    (void)state;
    int port = free_port();
    char *args = mp_xasprintf("\"--port\", \"%d\"", port);
    struct fixture f = {0};
    run_unreachable(&f, args);
    char *want = mp_xasprintf("but the service listens on port %d: give it the trial's port "
                              "with {port}",
                              port);
    expect_failure(&f, MP_FAILURE_STARTUP_TIMEOUT, want);
    free(want);
    free(args);
    release(&f);
}

/* A service on the trial's port but at an address the probes of 127.0.0.1 do not reach (::1
 * only, another interface's) was told "nothing listening on port P, but the service listens on
 * port P: give it the trial's port", which it had. */
static void test_listening_other_address_named(void **state)
{
    (void)state;
    struct fixture f = {0};
    run_unreachable(&f, "\"--port\", \"{port}\", \"--host\", \"127.0.0.2\"");
    expect_failure(&f, MP_FAILURE_STARTUP_TIMEOUT,
                   ", but at 127.0.0.2, which the probes of 127.0.0.1 do not reach: bind "
                   "127.0.0.1, or every address (0.0.0.0, ::)");
    assert_null(strstr(f.res.reason, "give it the trial's port"));
    release(&f);
}

static void test_trial_deadline_while_starting(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: deadline\n"
                   "service:\n"
                   "  command: [\"@H@/proc_antics\", \"tree\", \"1\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 30s}\n"
                   "parameters:\n"
                   "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  grace_period: 100ms\n");
    f.timeout_ms = 400;
    double x[] = {1};
    assert_int_equal(run(&f, x, NULL), 0);
    /* The deadline and where it comes from (it said "the trial deadline passed" alone). */
    expect_failure(&f, MP_FAILURE_TIMEOUT,
                   "the trial deadline, 0.4 s after it started (the runner's default; "
                   "runner.trial_timeout sets another), passed while the service was starting");
    release(&f);
}

struct canceller {
    atomic_bool *flag;
    int64_t after_ns;
};

static void *cancel_later(void *arg)
{
    struct canceller *c = arg;
    usleep((useconds_t)(c->after_ns / 1000));
    atomic_store(c->flag, true);
    return NULL;
}

/* Cancelled 300 ms into the start-up of a service that never gets ready: it stops at the cancel,
 * not at the startup deadline, and not at the next probe either (a long readiness.interval
 * held a Ctrl-C for up to the whole interval). */
static void cancel_while_starting(const char *interval)
{
    struct fixture f = {0};
    char *yaml = mp_xasprintf("name: cancel\n"
                              "service:\n"
                              "  command: [\"@H@/proc_antics\", \"tree\", \"3\"]\n"
                              "  readiness: {tcp: true, interval: %s, startup_timeout: 90s}\n"
                              "parameters:\n"
                              "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                              "objective: {metric: throughput_rps}\n"
                              "runner:\n"
                              "  grace_period: 100ms\n",
                              interval);
    setup_spec(&f, yaml);
    free(yaml);
    atomic_bool flag = false;
    struct canceller c = {&flag, 300000000LL};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, cancel_later, &c), 0);
    double x[] = {1};
    int64_t t0 = mp_mono_ns();
    assert_int_equal(run(&f, x, &flag), 0);
    pthread_join(th, NULL);
    assert_int_equal(f.res.state, MP_TRIAL_CANCELLED);
    /* Stopped at the cancel, not at the 90 s startup deadline nor a 40 s interval's next probe. */
    assert_true(mp_mono_ns() - t0 < 20 * SEC);
    release(&f);
}

static void test_cancel_while_starting(void **state)
{
    (void)state;
    cancel_while_starting("50ms");
    cancel_while_starting("40s");
}

static void test_port_taken_is_infra(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    char *yaml = mp_xasprintf("name: taken\n"
                              "service:\n"
                              "  command: [\"@H@/proc_antics\", \"exit\", \"0\"]\n"
                              "parameters:\n"
                              "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                              "objective: {metric: throughput_rps}\n"
                              "runner:\n"
                              "  ports: \"%d-%d\"\n",
                              port, port);
    struct fixture f = {0};
    setup_spec(&f, yaml);
    double x[] = {1};
    assert_true(run(&f, x, NULL) < 0);
    expect_failure(&f, MP_FAILURE_INFRA, "no free port");
    /* The socket belongs to this process and not to pid 1. */
    pid_t me = getpid(), init = 1;
    assert_true(mp_local_socket_owned(port, &me, 1));
    assert_false(mp_local_socket_owned(port, &init, 1));
    close(fd);
    free(yaml);
    release(&f);
}

/* A one-shot HTTP server answering with a given header block. */
struct mini {
    int fd;
    const char *answer;
    bool stall; /* keep the connection open after the answer, until the client closes it */
};

static void *mini_main(void *arg)
{
    struct mini *m = arg;
    int c = accept(m->fd, NULL, NULL);
    if (c >= 0) {
        char buf[1024];
        ssize_t n = read(c, buf, sizeof(buf));
        (void)n;
        ssize_t w = write(c, m->answer, strlen(m->answer));
        (void)w;
        while (m->stall && read(c, buf, sizeof(buf)) > 0) {
        }
        close(c);
    }
    return NULL;
}

static void probe_stalled(const char *answer, bool stall, struct mp_probe_result *r)
{
    struct mini m = {socket(AF_INET, SOCK_STREAM, 0), answer, stall};
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(m.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(m.fd, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(m.fd, (struct sockaddr *)&a, &len);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, mini_main, &m), 0);
    mp_local_probe(ntohs(a.sin_port), "/healthz", SEC, r);
    pthread_join(th, NULL);
    close(m.fd);
}

static void probe_once(const char *answer, struct mp_probe_result *r)
{
    probe_stalled(answer, false, r);
}

/* A service that binds a fixed port of its own, taken by another process, crashed with "Address
 * already in use" while the trial's port was free: that is the service's failure (CRASHED, with
 * its stderr), not a port of ours taken (INFRA, retried twice). */
static void test_own_port_in_use_is_crashed(void **state)
{
    (void)state;
    char *fake = fake_service();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    char *yaml =
        mp_xasprintf("name: own-port\n"
                     "service:\n"
                     "  command: [\"%s\", \"--port\", \"%d\"]\n"
                     "  readiness: {http: /healthz, interval: 50ms, startup_timeout: 20s}\n"
                     "parameters:\n"
                     "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                     "objective: {metric: throughput_rps}\n"
                     "runner:\n"
                     "  grace_period: 300ms\n",
                     fake, (int)ntohs(a.sin_port));
    struct fixture f = {0};
    setup_spec(&f, yaml);
    double x[] = {1};
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_CRASHED, "and not the trial's port");
    expect_failure(&f, MP_FAILURE_CRASHED, "cannot listen on 127.0.0.1");
    close(fd);
    free(yaml);
    free(fake);
    release(&f);
}

static void test_probe_parsing(void **state)
{
    (void)state;
    struct mp_probe_result r;
    probe_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nx-morphling-nonce:  abc123 \r\n\r\n", &r);
    assert_int_equal(r.outcome, MP_PROBE_OK);
    assert_int_equal(r.status, 200);
    assert_true(r.has_nonce);
    assert_string_equal(r.nonce, "abc123");
    probe_once("HTTP/1.0 503 Service Unavailable\r\n\r\n", &r);
    assert_int_equal(r.outcome, MP_PROBE_BAD_STATUS);
    assert_int_equal(r.status, 503);
    assert_false(r.has_nonce);
    probe_once("garbage\r\n\r\n", &r);
    assert_int_equal(r.outcome, MP_PROBE_NO_ANSWER);
    /* A status line, then nothing until the probe's timeout: no answer, not ready. */
    probe_stalled("HTTP/1.1 200 OK\r\nContent-Le", true, &r);
    assert_int_equal(r.outcome, MP_PROBE_NO_ANSWER);
    /* The same head, complete, on a connection kept open: ready. */
    probe_stalled("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true, &r);
    assert_int_equal(r.outcome, MP_PROBE_OK);
    /* A status line and the connection closed (HTTP/1.0 style): ready. */
    probe_once("HTTP/1.0 200 OK\r\n", &r);
    assert_int_equal(r.outcome, MP_PROBE_OK);
    /* Interim responses come before the final one (RFC 9110 §15.2): "answered 100" never
     * became ready. The final one may follow in the same read or a later one. */
    probe_once("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"
               "HTTP/1.1 200 OK\r\nX-Morphling-Nonce: n1\r\nContent-Length: 0\r\n\r\n",
               &r);
    assert_int_equal(r.outcome, MP_PROBE_OK);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.nonce, "n1");
    probe_once("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n", &r);
    assert_int_equal(r.status, 500);
    /* 101 is no interim answer to a probe that asked for no upgrade. */
    probe_once("HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", &r);
    assert_int_equal(r.outcome, MP_PROBE_BAD_STATUS);
    /* An interim response alone, the connection then closed: no final answer. */
    probe_once("HTTP/1.1 100 Continue\r\n\r\n", &r);
    assert_int_not_equal(r.outcome, MP_PROBE_OK);
    /* Nothing listening on a port we just closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    mp_local_probe(ntohs(a.sin_port), "/healthz", SEC, &r);
    assert_int_equal(r.outcome, MP_PROBE_REFUSED);
}

/* First port of n consecutive ports that are free now, below the kernel's ephemeral range (where
 * every outgoing connection of a parallel test or benchmark takes a local port). */
static int free_port_range(int n)
{
    for (int base = 21000 + (int)(getpid() % 400) * 16; base < 32000; base += 16) {
        int ok = 0;
        for (int k = 0; k < n; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(base + k))};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok += bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
            close(fd);
        }
        if (ok == n) {
            return base;
        }
    }
    fail_msg("no %d consecutive free ports below 32000", n);
    return 0;
}

static void test_port_leases_distinct(void **state)
{
    (void)state;
    int lo = free_port_range(8), hi = lo + 7;
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/morphling-ports-test-%d", (int)getpid());
    struct mp_port_lease l[8];
    struct mp_error err = {0, ""};
    for (int i = 0; i < 8; i++) {
        /* Same seed every time: the lease, not luck, keeps them apart. */
        assert_int_equal(mp_port_lease_acquire(dir, lo, hi, 5, &l[i], &err), 0);
        for (int k = 0; k < i; k++) {
            assert_int_not_equal(l[i].port, l[k].port);
        }
    }
    struct mp_port_lease extra;
    assert_int_equal(mp_port_lease_acquire(dir, lo, hi, 5, &extra, &err), MP_EBUSY);
    int freed = l[3].port;
    mp_port_lease_release(&l[3]);
    assert_int_equal(mp_port_lease_acquire(dir, lo, hi, 5, &extra, &err), 0);
    assert_int_equal(extra.port, freed);
    mp_port_lease_release(&extra);
    for (int i = 0; i < 8; i++) {
        mp_port_lease_release(&l[i]);
    }
    remove_dir(dir);
}

/* The shared lock folder and its lock files are never followed through a symbolic link. */
static void test_port_lease_refuses_symlinks(void **state)
{
    (void)state;
    int lo = free_port_range(1);
    char dir[64], link[80], target[80], lock[96];
    snprintf(dir, sizeof(dir), "/tmp/morphling-ports-test-%d", (int)getpid());
    snprintf(link, sizeof(link), "%s-link", dir);
    snprintf(target, sizeof(target), "%s-target", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(symlink(dir, link), 0);
    struct mp_port_lease l;
    struct mp_error err = {0, ""};
    int rc = mp_port_lease_acquire(link, lo, lo, 1, &l, &err);
    if (rc != -ENOTDIR && rc != -ELOOP) { /* O_DIRECTORY | O_NOFOLLOW on a link: ENOTDIR */
        fail_msg("symlinked folder: rc %d (%s), expected ENOTDIR", rc, err.msg);
    }
    assert_non_null(strstr(err.msg, link));
    /* A planted lock file pointing elsewhere: refused, and nothing is created there. */
    snprintf(lock, sizeof(lock), "%s/%d.lock", dir, lo);
    assert_int_equal(symlink(target, lock), 0);
    assert_int_equal(mp_port_lease_acquire(dir, lo, lo, 1, &l, &err), -ELOOP);
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(l.fd, -1);
    unlink(link);
    remove_dir(dir);
}

static uint64_t last_lg_mask; /* what fake_load was given */

static int fake_load(const struct mp_local_target *t, struct mp_trial_result *res,
                     const atomic_bool *stop, struct mp_error *err)
{
    (void)stop;
    (void)err;
    last_lg_mask = t->lg_cpu_mask;
    /* The service is ready and really ours: answer one probe to show the address works. */
    struct mp_probe_result r;
    mp_local_probe(t->port, "/healthz", SEC, &r);
    mp_metrics_set(&res->metrics, "throughput_rps", r.outcome == MP_PROBE_OK ? 250.0 : 0.0);
    mp_metrics_set(&res->metrics, "latency_p99_us", 1500.0);
    return 0;
}

/* A trial at 1 CPU on a machine with more than one: the service's cpuset and the load
 * generator's CPUs are disjoint when the cpuset cgroup is there, else the record says shared. */
static void expect_placement(const struct fixture *f)
{
    const json_t *pl = json_object_get(f->meta, "placement");
    const char *how = json_string_value(json_object_get(pl, "how"));
    assert_non_null(how);
    const json_t *cs = json_object_get(json_object_get(f->meta, "limits"), "cpuset");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2 || !json_is_true(json_object_get(cs, "enforced"))) {
        assert_int_equal(strncmp(how, "shared", 6), 0);
        assert_true(last_lg_mask == 0);
        return;
    }
    assert_string_equal(how, "disjoint cpusets");
    const char *svc = json_string_value(json_object_get(pl, "service_cpus"));
    assert_non_null(svc);
    assert_null(strchr(svc, ','));
    long c = strtol(svc, NULL, 10);
    assert_true(last_lg_mask != 0);
    assert_true((last_lg_mask & (UINT64_C(1) << c)) == 0);
}

static void test_healthy_trial_with_seam(void **state)
{
    (void)state;
    char *fake = fake_service();
    char *yaml = mp_xasprintf(
        "name: healthy\n"
        "service:\n"
        "  command: [\"%s\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", "
        "\"{mode}\"]\n"
        "  readiness: {http: /healthz, interval: 50ms, startup_timeout: 10s}\n"
        "parameters:\n"
        "  - {name: mode, type: categorical, values: [healthy, setsid, fork-tree, unhealthy]}\n"
        "  - {name: cpu, type: float, min: 0.5, max: 1, step: 0.5, target: {resource: cpu}}\n"
        "objective: {metric: throughput_rps}\n"
        "constraints: [\"latency_p99_us <= 1000\"]\n"
        "runner:\n"
        "  identity: nonce\n"
        "  grace_period: 300ms\n",
        fake);
    struct fixture f = {0};
    setup_spec(&f, yaml);
    ((struct mp_local_runner *)f.runner)->load = fake_load;
    for (int mode = 0; mode < 4; mode++) {
        double x[] = {mode, 1};
        clear_result(&f);
        assert_int_equal(run(&f, x, NULL), 0);
        if (mode == 3) {
            expect_failure(&f, MP_FAILURE_HEALTH_FAILED, "answered 500");
            continue;
        }
        /* Measured, but p99 1500 us breaks the 1000 us constraint. */
        expect_failure(&f, MP_FAILURE_SLO_VIOLATED, "latency_p99_us");
        double rps = 0;
        assert_true(mp_metrics_get(&f.res.metrics, "throughput_rps", &rps));
        assert_true(rps == 250.0);
        assert_non_null(json_object_get(f.meta, "ready_after_s"));
        expect_placement(&f);
    }
    free(yaml);
    free(fake);
    release(&f);
}

/* A service that answers the load test with errors fails LOAD_ERRORS with a reason naming what
 * the errors were: "did not answer the load test" was said of a service answering every request
 * with a malformed response, and the error-rate reason gave a percentage alone. */
static void test_load_errors_named(void **state)
{
    (void)state;
    char *fake = fake_service();
    char *yaml = mp_xasprintf(
        "name: load-errors\n"
        "service:\n"
        "  command: [\"%s\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", "
        "\"{mode}\", \"--shed-rps\", \"{shed}\"]\n"
        "  readiness: {http: /healthz, interval: 50ms, startup_timeout: 20s}\n"
        "parameters:\n"
        "  - {name: mode, type: categorical, values: [malformed, healthy]}\n"
        "  - {name: shed, type: int, min: 0, max: 10}\n"
        "objective: {metric: throughput_rps}\n"
        "runner:\n"
        "  grace_period: 300ms\n"
        "  load: {path: /infer, connections: 2, warmup: 100ms, window: 200ms, windows: 2,\n"
        "         stable_windows: 2, ci: 0, remeasure: false}\n",
        fake);
    struct fixture f = {0};
    setup_spec(&f, yaml);
    /* Every response malformed: none succeeded, and the reason says why. */
    double malformed[] = {0, 0};
    assert_int_equal(run(&f, malformed, NULL), 0);
    expect_failure(&f, MP_FAILURE_LOAD_ERRORS, "no request succeeded");
    expect_failure(&f, MP_FAILURE_LOAD_ERRORS, "parse: malformed HTTP response");
    /* No answer is no latency: zero requests recorded p99_ms = 0, the best latency there is. */
    double v = -1;
    assert_false(mp_metrics_get(&f.res.metrics, "p99_ms", &v));
    assert_false(mp_metrics_get(&f.res.metrics, "latency_p50_us", &v));
    assert_true(mp_metrics_get(&f.res.metrics, "error_rate", &v));
    assert_true(v == 1.0);
    assert_true(mp_metrics_get(&f.res.metrics, "throughput_rps", &v));
    assert_true(v == 0.0);
    clear_result(&f);
    /* Beyond 10 requests/s the service sheds with 503: the error rate and the status. */
    double shed[] = {1, 10};
    assert_int_equal(run(&f, shed, NULL), 0);
    expect_failure(&f, MP_FAILURE_LOAD_ERRORS,
                   "requests failed (limit 1.00 %): status: HTTP status 503");
    free(yaml);
    free(fake);
    release(&f);
}

/* One trial of the fake service (ARGS: more of its arguments, as YAML list items after a comma)
 * with the load test LOAD (a YAML flow mapping) that must succeed; writes its metrics remeasured
 * and windows. */
static void run_unsettled(const char *args, const char *load, int timeout_ms, double *remeasured,
                          double *windows, double *rps)
{
    char *fake = fake_service();
    char *yaml = mp_xasprintf(
        "name: remeasure\n"
        "service:\n"
        "  command: [\"%s\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", "
        "\"{mode}\"%s]\n"
        "  readiness: {http: /healthz, interval: 50ms, startup_timeout: 20s}\n"
        "parameters:\n"
        "  - {name: mode, type: categorical, values: [healthy]}\n"
        "objective: {metric: throughput_rps}\n"
        "runner:\n"
        "  grace_period: 300ms\n"
        "  load: %s\n",
        fake, args, load);
    struct fixture f = {0};
    f.timeout_ms = timeout_ms;
    setup_spec(&f, yaml);
    double x[] = {0};
    assert_int_equal(run(&f, x, NULL), 0);
    if (f.res.state != MP_TRIAL_SUCCEEDED) {
        fail_msg("%s: want SUCCEEDED, got %s/%s: %s", args, mp_trial_state_name(f.res.state),
                 mp_failure_name(f.res.failure), f.res.reason ? f.res.reason : "(no reason)");
    }
    assert_true(mp_metrics_get(&f.res.metrics, "remeasured", remeasured));
    assert_true(mp_metrics_get(&f.res.metrics, "windows", windows));
    assert_true(mp_metrics_get(&f.res.metrics, "throughput_rps", rps));
    free(yaml);
    free(fake);
    release(&f);
}

/* A measurement that did not settle is measured again only when the second one (twice the
 * windows) ends before the trial deadline: in a 4 s trial whose first measurement (1.6 s) fit,
 * the second (3 s more) ran past the deadline and the trial failed as TIMEOUT, the first
 * measurement lost. */
static void test_remeasure_within_deadline(void **state)
{
    (void)state;
    double remeasured = -1, windows = -1, rps = -1;
    /* A confidence target no measurement reaches: it never settles. */
    run_unsettled("",
                  "{path: /infer, connections: 2, warmup: 100ms, window: 500ms, windows: 3, "
                  "ci: 0.000001}",
                  4000, &remeasured, &windows, &rps);
    assert_true(remeasured == 0.0);
    assert_true(windows == 3.0);
}

/* A measurement that did not settle (a target no run reaches) is measured again only when that
 * may help (mp_measure_may_settle): not for steady noise far wider than the target, but for a
 * service whose throughput drifted while it warmed up. The fake's service times (4 ms a request,
 * 2 connections: 500 requests/s) are long next to the machine's own noise: at 1 ms its windows
 * on a loaded machine (load average 6 on 2 cores) spread by scheduling alone, and the test failed
 * 4 runs in 6 there. A machine that cannot serve even that rate cannot show either shape, and
 * the case says so instead of judging. */
static void test_remeasure_only_when_it_may_settle(void **state)
{
    (void)state;
    const struct {
        const char *args;
        double remeasured;
        double nominal_rps; /* of the first measurement's windows */
    } cases[] = {
        /* window throughputs spread by about 20 %: 4 or 6 ms a request */
        {", \"--service-us\", \"4000\", \"--wobble-ms\", \"200\"", 0, 400},
        /* A third of the throughput for the warm-up and about three of the windows. The fake's
         * windows of one speed hold the same number of requests, so the target is reached by
         * 3 slow windows alone when the warm-up ends late (a busy machine): 5 windows at least
         * leave it 1.1 s. */
        {", \"--service-us\", \"4000\", \"--warm-requests\", \"118\"", 1, 375},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double remeasured = -1, windows = -1, rps = -1;
        run_unsettled(cases[i].args,
                      "{path: /infer, connections: 2, warmup: 100ms, window: 200ms, windows: 8, "
                      "stable_windows: 5, ci: 0.0001}",
                      30000, &remeasured, &windows, &rps);
        if (remeasured != cases[i].remeasured && rps < 0.8 * cases[i].nominal_rps) {
            print_message("# %s: not judged: the machine served %.0f of the fake's %.0f "
                          "requests/s\n",
                          cases[i].args, rps, cases[i].nominal_rps);
        } else if (remeasured != cases[i].remeasured) {
            fail_msg("%s: remeasured %g, want %g (%g windows, %.0f requests/s)", cases[i].args,
                     remeasured, cases[i].remeasured, windows, rps);
        }
    }
}

/* CPU limits far beyond the machine: 1e12 cores overflowed an int while placing the service
 * (a crash under UBSan/ASan) and failed to write to the cgroup ('not enforced (no cpu cgroup)');
 * they are all the CPUs there are. A limit below the kernel's smallest quota says it was
 * raised. */
static void test_cpu_limit_extremes(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: cpu-extremes\n"
                   "service:\n"
                   "  command: [\"@H@/argv_echo\", \"{port}\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: cpu, type: float, min: 0.00001, max: 1e13, target: {resource: "
                   "cpu}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  fallback_limits: true\n");
    const double cores[] = {1e12, 0.0001};
    for (size_t i = 0; i < MP_ARRAY_LEN(cores); i++) {
        double x[] = {cores[i]};
        clear_result(&f);
        assert_int_equal(run(&f, x, NULL), 0);
        /* argv_echo exits at once: CRASHED, or STARTUP_TIMEOUT at 0.001 core. */
        if (f.res.state != MP_TRIAL_FAILED || f.res.failure == MP_FAILURE_INFRA) {
            fail_msg("%g cores: %s/%s: %s", cores[i], mp_trial_state_name(f.res.state),
                     mp_failure_name(f.res.failure), f.res.reason ? f.res.reason : "");
        }
        const json_t *cpu = json_object_get(json_object_get(f.meta, "limits"), "cpu_cores");
        const char *how = json_string_value(json_object_get(cpu, "how"));
        assert_non_null(how);
        if (strstr(how, "cgroup") == NULL) {
            continue; /* no cpu cgroup here: the affinity fallback */
        }
        if (!json_is_true(json_object_get(cpu, "enforced"))) {
            fail_msg("%g cores: not enforced (%s)", cores[i], how);
        }
        if (cores[i] < 0.001 && !strstr(how, "raised to 0.001 core")) {
            fail_msg("%g cores: how \"%s\" does not say it was raised", cores[i], how);
        }
    }
    release(&f);
}

/* A program that a parameter names and that cannot be run: CRASHED, and the reason names the
 * field it came from (it named the program alone: "'nosuchprog': not found in PATH"). */
static void test_unrunnable_program_named(void **state)
{
    (void)state;
    struct fixture f = {0};
    char script[64], yaml[1024], interp[256];
    snprintf(script, sizeof(script), "mp-badinterp-%d.sh", (int)getpid());
    snprintf(yaml, sizeof(yaml),
             "name: unrunnable\n"
             "service:\n"
             "  command: [\"{prog}\", \"{port}\"]\n"
             "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
             "parameters:\n"
             "  - {name: prog, type: categorical, values: [nosuchprog, /nonexistent/x, /tmp, "
             "./%s]}\n"
             "objective: {metric: throughput_rps}\n"
             "runner:\n"
             "  kind: local\n",
             script);
    setup_spec(&f, yaml);
    /* A script whose interpreter is missing, in the service's folder (the spec's, /tmp). */
    snprintf(interp, sizeof(interp),
             "'./%s': executing failed: No such file or directory (the file is there: its #! "
             "interpreter '/nonexistent/sh' is not)",
             script);
    const char *const want[] = {
        "cannot start the service: service.command[0] '{prog}' is 'nosuchprog': not found in PATH",
        "cannot start the service: service.command[0] '{prog}' is '/nonexistent/x': executing "
        "failed: No such file or directory",
        "cannot start the service: service.command[0] '{prog}' is '/tmp': executing failed: "
        "Permission denied",
        interp};
    char path[128];
    snprintf(path, sizeof(path), "/tmp/%s", script);
    FILE *sh = fopen(path, "w");
    assert_non_null(sh);
    fputs("#! /nonexistent/sh -e\nexit 0\n", sh);
    fclose(sh);
    assert_int_equal(chmod(path, 0755), 0);
    for (size_t i = 0; i < MP_ARRAY_LEN(want); i++) {
        double x[] = {(double)i};
        clear_result(&f);
        assert_int_equal(run(&f, x, NULL), 0);
        expect_failure(&f, MP_FAILURE_CRASHED, want[i]);
    }
    unlink(path);
    release(&f);
}

/* GPU settings are recorded as requested and not enforced: a gpu_type as the choice's name (it
 * read the choice's position, 1 for t4). */
static void test_gpu_limits_recorded(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: gpu-limits\n"
                   "service:\n"
                   "  command: [\"@H@/argv_echo\", \"{port}\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: g, type: int, min: 0, max: 2, target: {resource: gpu}}\n"
                   "  - {name: t, type: categorical, values: [a100, t4], target: {resource: "
                   "gpu_type}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  kind: local\n");
    double x[] = {1, 1};
    assert_int_equal(run(&f, x, NULL), 0);
    const json_t *limits = json_object_get(f.meta, "limits");
    const json_t *gpu = json_object_get(limits, "gpu");
    const json_t *type = json_object_get(limits, "gpu_type");
    assert_true(json_is_number(json_object_get(gpu, "requested")));
    assert_true(json_number_value(json_object_get(gpu, "requested")) == 1);
    assert_false(json_is_true(json_object_get(gpu, "enforced")));
    const char *name = json_string_value(json_object_get(type, "requested"));
    assert_string_equal(name ? name : "(not a string)", "t4");
    assert_false(json_is_true(json_object_get(type, "enforced")));
    release(&f);
}

/* A readiness path the service answers 404 (a wrong service.readiness.http): the trial waits
 * out its startup_timeout (a service may 404 while it loads), then names the field, the URL
 * probed and the last answer (it said "readiness probe GET /ready answered 404"). */
static void test_readiness_404_named(void **state)
{
    (void)state;
    char *fake = fake_service();
    char *yaml =
        mp_xasprintf("name: wrong-path\n"
                     "service:\n"
                     "  command: [\"%s\", \"--port\", \"{port}\", \"--workers\", \"{w}\"]\n"
                     "  readiness: {http: /ready, interval: 50ms, timeout: 300ms, "
                     "startup_timeout: 700ms}\n"
                     "parameters:\n"
                     "  - {name: w, type: int, min: 1, max: 2}\n"
                     "objective: {metric: throughput_rps}\n"
                     "runner:\n"
                     "  grace_period: 300ms\n",
                     fake);
    struct fixture f = {0};
    setup_spec(&f, yaml);
    double x[] = {1};
    assert_int_equal(run(&f, x, NULL), 0);
    char *want = mp_xasprintf("service.readiness.http: GET http://127.0.0.1:%lld/ready, last "
                              "answer: HTTP 404",
                              (long long)json_integer_value(json_object_get(f.meta, "port")));
    expect_failure(&f, MP_FAILURE_HEALTH_FAILED, want);
    expect_failure(&f, MP_FAILURE_HEALTH_FAILED, "answered 404, never a 2xx");
    free(want);
    free(yaml);
    free(fake);
    release(&f);
}

/* Without a memory cgroup the fallback, RLIMIT_DATA, makes an allocation past the limit fail
 * inside the service, which then exits as from any crash: CRASHED (nothing tells it from one),
 * but the reason says that the limit was approximated so, and what it was. It said only "the
 * service exited with status 4 while starting". */
static void test_fallback_memory_limit_named(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: rlimit\n"
                   "service:\n"
                   "  command: [\"@H@/proc_antics\", \"alloc\", \"256\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 10s}\n"
                   "parameters:\n"
                   "  - {name: mem, type: int, min: 32, max: 64, target: {resource: memory}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  fallback_limits: true\n"
                   "  grace_period: 300ms\n");
    /* As on a machine without cgroups: the seam is the runner's detected system. */
    struct mp_local_runner *r = (struct mp_local_runner *)f.runner;
    mp_cgroup_system_release(&r->cgsys);
    memset(&r->cgsys, 0, sizeof(r->cgsys));
    double x[] = {32};
    assert_int_equal(run(&f, x, NULL), 0);
    expect_failure(&f, MP_FAILURE_CRASHED,
                   "the memory limit of 32 MiB is RLIMIT_DATA here (no memory cgroup)");
    json_t *mem = json_object_get(json_object_get(f.meta, "limits"), "memory_bytes");
    assert_string_equal(json_string_value(json_object_get(mem, "how")),
                        "approximated: RLIMIT_DATA per process");
    release(&f);
}

/* cpu 2 on a runner.cpuset of one CPU runs on at most one core: the record says so (it said
 * cpu_cores 2 enforced, as if the service had two). */
static void test_cpuset_narrower_than_cpu_limit(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: narrow-cpuset\n"
                   "service:\n"
                   "  command: [\"@H@/argv_echo\", \"{port}\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: "
                   "cpu}}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n"
                   "  cpuset: \"0\"\n");
    struct mp_local_runner *r = (struct mp_local_runner *)f.runner;
    if (!(mp_cgroup_system_limits(&r->cgsys) & MP_CGLIM_CPUSET)) {
        fprintf(stderr, "skipped: no cpuset cgroup (%s)\n", r->cgsys.warning);
        release(&f);
        skip();
    }
    const double cores[] = {2, 1, 0.5};
    for (size_t i = 0; i < MP_ARRAY_LEN(cores); i++) {
        double x[] = {cores[i]};
        clear_result(&f);
        assert_int_equal(run(&f, x, NULL), 0);
        const json_t *cpu = json_object_get(json_object_get(f.meta, "limits"), "cpu_cores");
        const json_t *eff = json_object_get(cpu, "effective");
        const char *how = json_string_value(json_object_get(cpu, "how"));
        if (cores[i] > 1) {
            if (!json_is_number(eff) || json_number_value(eff) != 1) {
                fail_msg("%g cores on cpuset 0: effective %s", cores[i],
                         json_dumps(cpu, JSON_COMPACT));
            }
            assert_non_null(strstr(how, "at most 1 core: runner.cpuset \"0\" has 1 CPU"));
        } else if (eff) {
            fail_msg("%g cores on cpuset 0: effective given (%s)", cores[i], how);
        }
    }
    release(&f);
}

struct par {
    struct mp_runner *runner;
    int64_t number;
    struct mp_trial_result res;
    int rc;
};

static void *par_main(void *arg)
{
    struct par *p = arg;
    static atomic_bool never;
    double x[] = {(double)(p->number % 2)};
    struct mp_trial_request req = {.experiment = "par",
                                   .experiment_id = (int64_t)getpid(),
                                   .number = p->number,
                                   .attempt = 1,
                                   .x = x};
    mp_trial_result_init(&p->res);
    p->rc = p->runner->ops->run(p->runner, &req, &p->res, &never);
    return NULL;
}

/* Trials of one runner on several threads at once (ops->concurrent): each gets its own port,
 * group and output, and nothing leaks. */
static void test_parallel_trials(void **state)
{
    (void)state;
    struct fixture f = {0};
    setup_spec(&f, "name: par\n"
                   "service:\n"
                   "  command: [\"@H@/argv_echo\", \"{port}\", \"{trial}\", \"{v}\"]\n"
                   "  readiness: {tcp: true, interval: 50ms, startup_timeout: 5s}\n"
                   "parameters:\n"
                   "  - {name: v, type: int, min: 0, max: 1}\n"
                   "objective: {metric: throughput_rps}\n"
                   "runner:\n");
    assert_true(mp_runner_local.concurrent);
    int fds = count_fds();
    struct par p[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        p[i].runner = f.runner;
        p[i].number = i + 1;
        assert_int_equal(pthread_create(&th[i], NULL, par_main, &p[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
    }
    int ports[6];
    for (int i = 0; i < 6; i++) {
        assert_int_equal(p[i].rc, 0);
        assert_int_equal(p[i].res.failure, MP_FAILURE_CRASHED);
        json_t *meta = json_loads(p[i].res.meta_json, 0, NULL);
        json_t *out = json_loads(p[i].res.stdout_log, 0, NULL);
        assert_non_null(meta);
        if (!out) {
            fail_msg("trial %d output: %s", i + 1, p[i].res.stdout_log);
        }
        ports[i] = (int)json_integer_value(json_object_get(meta, "port"));
        char port[16], num[16], v[16];
        snprintf(port, sizeof(port), "%d", ports[i]);
        snprintf(num, sizeof(num), "%d", i + 1);
        snprintf(v, sizeof(v), "%d", (i + 1) % 2);
        json_t *argv = json_object_get(out, "argv");
        assert_string_equal(json_string_value(json_array_get(argv, 1)), port);
        assert_string_equal(json_string_value(json_array_get(argv, 2)), num);
        assert_string_equal(json_string_value(json_array_get(argv, 3)), v);
        assert_true(json_is_true(json_object_get(json_object_get(meta, "teardown"), "clean")));
        for (int k = 0; k < i; k++) {
            assert_int_not_equal(ports[i], ports[k]);
        }
        json_decref(meta);
        json_decref(out);
        mp_trial_result_release(&p[i].res);
    }
    assert_int_equal(count_fds(), fds);
    release(&f);
}

/* Parses a spec with the given runner section and validates it for the local runner. */
static int validate_runner(const char *runner, struct mp_error *err)
{
    char *yaml = mp_xasprintf("name: bad\n"
                              "service:\n"
                              "  command: [\"/bin/true\"]\n"
                              "parameters:\n"
                              "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                              "objective: {metric: throughput_rps}\n"
                              "runner:\n%s",
                              runner);
    struct mp_spec *spec = NULL;
    int rc = mp_spec_parse(yaml, strlen(yaml), "bad.yaml", "/tmp", NULL, 0, &spec, err);
    if (rc == 0) {
        rc = mp_runner_local.validate(spec, err);
    }
    mp_spec_free(spec);
    free(yaml);
    return rc;
}

static void test_settings_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "  ports: \"10-20\"\n",
        "  identity: maybe\n",
        "  grace_period: soon\n",
        "  cpus: -1\n",
        "  bogus: 1\n",
        "  load: {mode: capacity}\n",
        /* A reversed range, an empty item, and a CPU this process may not run on: each was
         * valid, and the trial ran on every CPU ("not enforced"). */
        "  cpuset: 1-0\n",
        "  cpuset: '0,'\n",
        "  cpuset: 0,,1\n",
        "  cpuset: 1023\n",
        /* Fewer ports than trials in flight: those beyond failed INFRA, three attempts each. */
        "  ports: 25000-25001\nalgorithm: {name: random, parallelism: 3}\n",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_error err = {0, ""};
        int rc = validate_runner(bad[i], &err);
        if (rc != MP_EINVALID) {
            fail_msg("settings \"%s\" accepted (rc %d, %s)", bad[i], rc, err.msg);
        }
    }
}

/* Keys the chosen mode does not read are refused where they stand, not ignored. */
static void test_load_keys_of_the_other_mode(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{mode: capacity, slo: 'p99<=1s', window: 2s}",
         "bad.yaml:8:50: 'runner.load.window': not used with mode: capacity"},
        {"{mode: capacity, slo: 'p99<=1s', rate: 50}", "'runner.load.rate': not used with mode"},
        {"{mode: capacity, slo: 'p99<=1s', prune: false}", "'runner.load.prune': not used"},
        {"{mode: capacity, slo: 'p99<=1s', stable_windows: 4}", "'runner.load.stable_windows'"},
        {"{slo: 'p99<=1s'}", "bad.yaml:8:15: 'runner.load.slo': only used with mode: capacity"},
        {"{mode: measure, max_time: 30s}", "'runner.load.max_time': only used with mode: cap"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *runner = mp_xasprintf("  load: %s\n", cases[i][0]);
        struct mp_error err = {0, ""};
        int rc = validate_runner(runner, &err);
        if (rc != MP_EINVALID || !strstr(err.msg, cases[i][1])) {
            fail_msg("%s: rc %d, \"%s\", want \"%s\"", cases[i][0], rc, err.msg, cases[i][1]);
        }
        free(runner);
    }
}

/* Load settings the load generator refuses are refused at validation, where they stand: they
 * passed, and every trial started its service, failed as INFRA and was retried twice. */
static void test_load_settings_the_generator_refuses(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"{threads: 16}", "bad.yaml:8:19: 'runner.load.threads': threads (16) exceeds connections "
                          "(10 by default)"},
        {"{connections: 4, threads: 5}",
         "'runner.load.threads': threads (5) exceeds connections (4)"},
        {"{rate: 2e8}", "bad.yaml:8:16: 'runner.load.rate': expected a number in [0, 1e+08]"},
        {"{method: 'GE T'}", "'runner.load.method': expected a method token"},
        {"{window: 1000000h, windows: 3}",
         "bad.yaml:8:18: 'runner.load.window': the warm-up and the windows (twice, for a "
         "remeasure) add up to more than 30 years"},
        {"{body: /nonexistent/body.json}",
         "'runner.load.body': request body '/nonexistent/body.json': No such file"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *runner = mp_xasprintf("  load: %s\n", cases[i][0]);
        struct mp_error err = {0, ""};
        int rc = validate_runner(runner, &err);
        if (rc != MP_EINVALID || !strstr(err.msg, cases[i][1])) {
            fail_msg("%s: rc %d, \"%s\", want \"%s\"", cases[i][0], rc, err.msg, cases[i][1]);
        }
        free(runner);
    }
    struct mp_error err = {0, ""};
    assert_int_equal(
        validate_runner("  load: {connections: 16, threads: 16, method: PATCH}\n", &err), 0);
}

/* validate looks for the program where the service starts: a relative one ("./prog") in the
 * service's folder, and it must be a file it can execute. A folder (/tmp) and a relative program
 * that is not there were let through, and every trial CRASHED ('Permission denied', 'No such
 * file or directory'). */
static void test_program_checked_at_validation(void **state)
{
    (void)state;
    char dir[64], sub[96], prog[128];
    snprintf(dir, sizeof(dir), "/tmp/mp-progcheck-%d", (int)getpid());
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    snprintf(prog, sizeof(prog), "%s/serve.sh", sub);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(sub, 0755), 0);
    FILE *sh = fopen(prog, "w");
    assert_non_null(sh);
    fputs("#!/bin/sh\nexit 0\n", sh);
    fclose(sh);
    assert_int_equal(chmod(prog, 0755), 0);
    static const struct {
        const char *service, *want;
    } cases[] = {
        {"command: [/tmp, \"{port}\"]",
         "'service.command': service command '/tmp': not a regular file"},
        {"command: [./nothere, \"{port}\"]",
         "'service.command': service command './nothere': No such file or directory"},
        {"command: [./sub, \"{port}\"]",
         "'service.command': service command './sub': not a regular file"},
        {"command: [./serve.sh, \"{port}\"]",
         "'service.command': service command './serve.sh': No such file or directory"},
        {"command: [./serve.sh, \"{port}\"], workdir: sub", NULL},
        {"command: [sub/serve.sh, \"{port}\"]", NULL},
        {"command: [./serve.sh, \"{port}\"], workdir: nodir", "'service.workdir': service workdir"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *yaml = mp_xasprintf("name: prog\n"
                                  "service: {%s}\n"
                                  "parameters:\n"
                                  "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                                  "objective: {metric: throughput_rps}\n"
                                  "runner: {kind: local}\n",
                                  cases[i].service);
        struct mp_spec *spec = NULL;
        struct mp_error err = {0, ""};
        int rc = mp_spec_parse(yaml, strlen(yaml), "prog.yaml", dir, NULL, 0, &spec, &err);
        if (rc == 0) {
            rc = mp_runner_local.validate(spec, &err);
        }
        if (cases[i].want ? rc != MP_EINVALID || !strstr(err.msg, cases[i].want) : rc != 0) {
            fail_msg("%s: rc %d, \"%s\"", cases[i].service, rc, err.msg);
        }
        mp_spec_free(spec);
        free(yaml);
    }
    unlink(prog);
    rmdir(sub);
    rmdir(dir);
}

/* identity: nonce reads the nonce from the HTTP probe's answer: with a TCP probe no trial could
 * ever be ready. */
static void test_nonce_needs_http_probe(void **state)
{
    (void)state;
    const char *yaml = "name: bad\n"
                       "service:\n"
                       "  command: [\"/bin/true\"]\n"
                       "  readiness: {tcp: true}\n"
                       "parameters:\n"
                       "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                       "objective: {metric: throughput_rps}\n"
                       "runner: {kind: local, identity: nonce}\n";
    struct mp_spec *spec = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_spec_parse(yaml, strlen(yaml), "bad.yaml", "/tmp", NULL, 0, &spec, &err);
    if (rc == 0) {
        rc = mp_runner_local.validate(spec, &err);
    }
    if (rc != MP_EINVALID ||
        !strstr(err.msg, "bad.yaml:8:33: 'runner.identity': identity nonce needs an HTTP")) {
        fail_msg("rc %d, \"%s\"", rc, err.msg);
    }
    mp_spec_free(spec);
}

/* The readiness path goes into the probe's request line as written: a space in it made every
 * probe a malformed request and every trial HEALTH_FAILED. */
static void test_probe_path_checked(void **state)
{
    (void)state;
    static const char *const paths[] = {"\"/health z\"", "\"/health\\tz\"", "\"/h\\r\\nX: y\""};
    for (size_t i = 0; i < MP_ARRAY_LEN(paths); i++) {
        char *yaml = mp_xasprintf("name: bad\n"
                                  "service:\n"
                                  "  command: [\"/bin/true\"]\n"
                                  "  readiness: {http: %s}\n"
                                  "parameters:\n"
                                  "  - {name: n, type: int, min: 1, max: 2, target: {env: N}}\n"
                                  "objective: {metric: throughput_rps}\n"
                                  "runner: {kind: local}\n",
                                  paths[i]);
        struct mp_spec *spec = NULL;
        struct mp_error err = {0, ""};
        int rc = mp_spec_parse(yaml, strlen(yaml), "bad.yaml", "/tmp", NULL, 0, &spec, &err);
        if (rc == 0) {
            rc = mp_runner_local.validate(spec, &err);
        }
        if (rc != MP_EINVALID ||
            !strstr(err.msg, "bad.yaml:4:21: 'service.readiness.http': expected a URL path")) {
            fail_msg("%s: rc %d, \"%s\"", paths[i], rc, err.msg);
        }
        mp_spec_free(spec);
        free(yaml);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argv_and_env_exact),
        cmocka_unit_test(test_crash_reports_stderr_tail),
        cmocka_unit_test(test_oom_killed),
        cmocka_unit_test(test_memory_limit_extremes),
        cmocka_unit_test(test_memory_limit_reached_named),
        cmocka_unit_test(test_startup_timeout_and_grace),
        cmocka_unit_test(test_cancel_while_starting),
        cmocka_unit_test(test_trial_deadline_while_starting),
        cmocka_unit_test(test_listening_elsewhere_named),
        cmocka_unit_test(test_listening_other_address_named),
        cmocka_unit_test(test_port_taken_is_infra),
        cmocka_unit_test(test_own_port_in_use_is_crashed),
        cmocka_unit_test(test_probe_parsing),
        cmocka_unit_test(test_port_leases_distinct),
        cmocka_unit_test(test_healthy_trial_with_seam),
        cmocka_unit_test(test_load_errors_named),
        cmocka_unit_test(test_remeasure_within_deadline),
        cmocka_unit_test(test_remeasure_only_when_it_may_settle),
        cmocka_unit_test(test_cpu_limit_extremes),
        cmocka_unit_test(test_gpu_limits_recorded),
        cmocka_unit_test(test_readiness_404_named),
        cmocka_unit_test(test_fallback_memory_limit_named),
        cmocka_unit_test(test_cpuset_narrower_than_cpu_limit),
        cmocka_unit_test(test_unrunnable_program_named),
        cmocka_unit_test(test_parallel_trials),
        cmocka_unit_test(test_settings_rejected),
        cmocka_unit_test(test_load_keys_of_the_other_mode),
        cmocka_unit_test(test_load_settings_the_generator_refuses),
        cmocka_unit_test(test_probe_path_checked),
        cmocka_unit_test(test_nonce_needs_http_probe),
        cmocka_unit_test(test_program_checked_at_validation),
        cmocka_unit_test(test_port_lease_refuses_symlinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
