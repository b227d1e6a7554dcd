/* SPDX-License-Identifier: Apache-2.0 */
/* The local runner: one trial = lease a port, create a limited cgroup, start the service from
 * the spec's argv/env templates, wait until it is ready (and is really this trial's process),
 * run the load test, then tear everything down and record usage, limits and logs.
 * docs/internals/local-runner.md describes the life cycle and the failure classes. */
#include "runner/local_int.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc/proc.h"

extern char **environ;

#define DEFAULT_TRIAL_TIMEOUT_NS (600LL * 1000000000LL)
#define FINISH_NS                (5LL * 1000000000LL)
#define REASON_TAIL_BYTES        2048u
#define CANCEL_POLL_NS           (50LL * 1000000LL)

/* ---- command line and environment ---- */

static const char *const builtin_names[] = {"port", "nonce", "trial", "attempt", "experiment"};

static void add_env(struct local_trial *t, const char *name, size_t name_len, const char *value)
{
    for (size_t i = 0; i < t->envc; i++) {
        if (strncmp(t->envp[i], name, name_len) == 0 && t->envp[i][name_len] == '=') {
            free(t->envp[i]);
            t->envp[i] = mp_xasprintf("%.*s=%s", (int)name_len, name, value);
            return;
        }
    }
    t->envp = mp_xreallocarray(t->envp, t->envc + 2, sizeof(char *));
    t->envp[t->envc++] = mp_xasprintf("%.*s=%s", (int)name_len, name, value);
    t->envp[t->envc] = NULL;
}

static void add_arg(struct local_trial *t, char *owned)
{
    t->argv = mp_xreallocarray(t->argv, t->argc + 2, sizeof(char *));
    t->argv[t->argc++] = owned;
    t->argv[t->argc] = NULL;
}

/* Values of every placeholder: the parameters in canonical text plus the built-ins. */
static void build_vars(struct local_trial *t, char (*bufs)[MP_FMT_DOUBLE_MAX])
{
    const struct mp_space *s = &t->spec->space;
    t->n_vars = s->n + MP_ARRAY_LEN(builtin_names);
    t->vars = mp_xcalloc(t->n_vars, sizeof(*t->vars));
    for (size_t i = 0; i < s->n; i++) {
        t->vars[i].name = s->params[i].name;
        t->vars[i].value = mp_space_format(s, i, t->req->x[i], bufs[i]);
    }
    snprintf(t->port_text, sizeof(t->port_text), "%d", t->lease.port);
    snprintf(t->trial_text, sizeof(t->trial_text), "%lld", (long long)t->req->number);
    snprintf(t->attempt_text, sizeof(t->attempt_text), "%lld", (long long)t->req->attempt);
    const char *values[] = {t->port_text, t->nonce, t->trial_text, t->attempt_text,
                            t->req->experiment ? t->req->experiment : ""};
    for (size_t k = 0; k < MP_ARRAY_LEN(builtin_names); k++) {
        t->vars[s->n + k].name = builtin_names[k];
        t->vars[s->n + k].value = values[k];
    }
}

static int render_command(struct local_trial *t, struct mp_error *err)
{
    const struct mp_space *s = &t->spec->space;
    struct mp_rendered r;
    int rc = mp_spec_render_service(t->spec, t->req->x, t->vars + s->n, MP_ARRAY_LEN(builtin_names),
                                    &r, err);
    if (rc != 0) {
        return rc;
    }
    for (size_t i = 0; i < r.argc; i++) {
        add_arg(t, r.argv[i]);
        r.argv[i] = NULL;
    }
    if (t->r->cfg.inherit_env) {
        for (char **e = environ; e && *e; e++) {
            const char *eq = strchr(*e, '=');
            if (eq) {
                add_env(t, *e, (size_t)(eq - *e), eq + 1);
            }
        }
    }
    for (size_t i = 0; i < r.envc; i++) {
        const char *eq = strchr(r.env[i], '=');
        add_env(t, r.env[i], (size_t)(eq - r.env[i]), eq + 1);
    }
    mp_rendered_release(&r);
    add_env(t, "MORPHLING_PORT", 14, t->port_text);
    add_env(t, "MORPHLING_NONCE", 15, t->nonce);
    return 0;
}

/* What the runner sends: the readiness probe's path and the load test's request body. */
static int check_requests(const struct mp_spec *spec, struct mp_error *err)
{
    int rc = 0;
    /* The probe's path goes into its request line as it is: a space or a control character
     * made a malformed request, and the trial a HEALTH_FAILED one (answered 400). */
    const char *probe = spec->service.probe == MP_PROBE_HTTP ? spec->service.probe_path : NULL;
    bool bad_probe = false;
    for (const char *p = probe; p && *p; p++) {
        bad_probe = bad_probe || (unsigned char)*p <= ' ' || *p == 0x7f;
    }
    if (rc == 0 && bad_probe) {
        const struct mp_node *n =
            mp_doc_get(mp_doc_get(mp_doc_get(spec->doc, "service"), "readiness"), "http");
        rc = n ? mp_doc_error(err, n, "expected a URL path without spaces or control characters")
               : mp_error_set(err, MP_EINVALID,
                              "%s: readiness path '%s' has spaces or control characters",
                              spec->source, probe);
    }
    /* The request body, read at every trial's load test: missing, every trial failed as INFRA
     * (each retried twice) after its service had started. */
    const struct mp_node *body = mp_doc_value(mp_doc_value(spec->runner_node, "load"), "body");
    if (rc == 0 && body && body->scalar) {
        char *path = mp_spec_resolve_path(spec, body->scalar);
        if (access(path, R_OK) != 0) {
            rc = mp_doc_error(err, body, "request body '%s': %s", path, strerror(errno));
        }
        free(path);
    }
    return rc;
}

/* The port lock folder is one mp_port_lease_acquire can use (it makes a missing one): a file, a
 * symbolic link (refused: one may be planted in /tmp) or a missing parent failed every trial as
 * INFRA, each retried twice. */
static int check_lock_dir(const struct mp_spec *spec, const char *dir, struct mp_error *err)
{
    struct stat st;
    const char *why = NULL;
    char *parent = NULL;
    if (lstat(dir, &st) == 0) {
        why = S_ISLNK(st.st_mode)    ? "a symbolic link, which the runner refuses (give the folder "
                                       "it points to)"
              : !S_ISDIR(st.st_mode) ? "not a directory"
                                     : NULL;
    } else if (errno != ENOENT) {
        why = strerror(errno);
    } else {
        const char *slash = strrchr(dir, '/');
        parent =
            slash ? mp_xstrndup(dir, slash > dir ? (size_t)(slash - dir) : 1) : mp_xstrdup(".");
        why = stat(parent, &st) != 0 ? "its parent folder does not exist"
              : !S_ISDIR(st.st_mode) ? "its parent is not a directory"
                                     : NULL;
    }
    free(parent);
    if (!why) {
        return 0;
    }
    const struct mp_node *n = mp_doc_get(spec->runner_node, "port_lock_dir");
    return n ? mp_doc_error(err, n, "port lock directory '%s': %s", dir, why)
             : mp_error_set(err, MP_EINVALID, "%s: port lock directory '%s': %s", spec->source, dir,
                            why);
}

/* The runner's settings, a relative port_lock_dir being the spec's folder's (as every path of
 * a spec is; it was the current directory's). */
static int parse_cfg(const struct mp_spec *spec, struct mp_local_cfg *cfg, struct mp_error *err)
{
    int rc = mp_local_cfg_parse(spec->runner_node, cfg, err);
    if (rc == 0 && cfg->port_dir[0] != '/' && spec->base_dir) {
        char *full = mp_xasprintf("%s/%s", spec->base_dir, cfg->port_dir);
        free(cfg->port_dir);
        cfg->port_dir = full;
    }
    return rc;
}

/* The runner: settings, and what they mean together with the rest of the spec. */
static int check_cfg(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_local_cfg cfg;
    int rc = parse_cfg(spec, &cfg, err);
    if (rc != 0) {
        return rc;
    }
    /* The nonce comes back in a header of the probe's answer, which a TCP probe never reads:
     * every trial failed HEALTH_FAILED at its startup_timeout ("GET (null) answered without
     * echoing the trial nonce"). */
    bool nonce_over_tcp = cfg.identity == LOCAL_ID_NONCE && spec->service.probe == MP_PROBE_TCP;
    bool require = cfg.require_limits;
    long long ports = (long long)cfg.port_hi - cfg.port_lo + 1;
    rc = check_lock_dir(spec, cfg.port_dir, err);
    mp_local_cfg_release(&cfg);
    if (rc != 0) {
        return rc;
    }
    /* A GPU setting is recorded, never enforced here: every trial SUCCEEDED with it, against
     * what require_limits asks. */
    for (size_t i = 0; require && i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target == MP_TARGET_RESOURCE && p->resource != MP_RESOURCE_CPU &&
            p->resource != MP_RESOURCE_MEMORY) {
            return mp_doc_error(err, mp_doc_get(spec->runner_node, "require_limits"),
                                "parameter '%s' sets the resource %s, which the local runner "
                                "never enforces (docs/your-service.md, \"GPUs\"): drop "
                                "require_limits or the target",
                                p->name, mp_resource_name(p->resource));
        }
    }
    if (nonce_over_tcp) {
        return mp_doc_error(err, mp_doc_get(spec->runner_node, "identity"),
                            "identity nonce needs an HTTP readiness probe (the nonce comes back in "
                            "its answer's X-Morphling-Nonce header), not readiness.tcp: use "
                            "identity socket or auto");
    }
    /* Each trial in flight leases a port of its own: the trials beyond the range failed INFRA
     * three times each ("no free port"), their configurations never measured. */
    const struct mp_node *at = mp_doc_get(spec->runner_node, "ports");
    if (ports < spec->parallelism) {
        return mp_doc_error(err, at ? at : spec->doc,
                            "%lld port(s) for algorithm.parallelism = %lld: each trial in flight "
                            "needs a port of its own",
                            ports, (long long)spec->parallelism);
    }
    return 0;
}

/* The PATH the service is started with (mp_proc_spawn looks its program up there): a literal
 * service.env PATH (*own), else this process's. *known is false when it is decided only at the
 * trial (a template, a secret reference, a parameter's env target). */
static const char *service_path(const struct mp_spec *spec, bool *known, bool *own)
{
    *known = true;
    *own = false;
    const struct mp_space *s = &spec->space;
    for (size_t i = 0; i < s->n; i++) {
        if (s->params[i].target == MP_TARGET_ENV && strcmp(s->params[i].target_name, "PATH") == 0) {
            *known = false;
        }
    }
    for (size_t i = 0; i < spec->service.n_env; i++) {
        const char *e = spec->service.env[i];
        if (strncmp(e, "PATH=", 5) == 0) {
            *own = true;
            *known =
                *known && !strchr(e + 5, '{') && !mp_spec_is_secret_ref(spec->service.env_nodes[i]);
            return e + 5;
        }
    }
    return getenv("PATH");
}

/* The program of service.command, where the service will look for it. */
static int check_command(const struct mp_spec *spec, struct mp_error *err)
{
    int rc = 0;
    bool known = true, own_path = false;
    const char *search = service_path(spec, &known, &own_path);
    /* Placeholders were checked, with positions, when the spec was loaded. */
    const char *prog = spec->service.argv[0];
    /* The service starts in its folder: a relative "./prog" or "bin/prog" is found there. */
    const char *dir = spec->service.workdir ? spec->service.workdir : spec->base_dir;
    if (known && !strchr(prog, '{')) {
        bool relative = strchr(prog, '/') && prog[0] != '/';
        char *path = relative && dir ? mp_xasprintf("%s/%s", dir, prog)
                     : relative      ? NULL
                                     : mp_proc_which(prog, search);
        /* A folder passes access(X_OK) (as root, any file with an x bit does): execve refuses
         * it, and every trial CRASHED 'Permission denied'. */
        const char *why = !path ? NULL
                          : !mp_proc_is_program(path)
                              ? (errno == 0 ? "not a regular file" : strerror(errno))
                              : NULL;
        if ((!path && !relative) || why) {
            why = why ? why : own_path ? "not found in service.env's PATH" : "not found in PATH";
            /* A program in the service's folder is run as "./prog", as in a shell; say so. */
            char *here = !path && dir ? mp_xasprintf("%s/%s", dir, prog) : NULL;
            char *hint =
                here && access(here, F_OK) == 0
                    ? mp_xasprintf("; for the one in the service's folder write './%s'", prog)
                    : mp_xstrdup("");
            const struct mp_node *cmd = mp_doc_get(mp_doc_get(spec->doc, "service"), "command");
            rc = cmd ? mp_doc_error(err, cmd, "service command '%s': %s%s", prog, why, hint)
                     : mp_error_set(err, MP_EINVALID, "%s: service command '%s': %s%s",
                                    spec->source, prog, why, hint);
            free(hint);
            free(here);
        }
        free(path);
    }
    return rc;
}

static int local_validate(const struct mp_spec *spec, struct mp_error *err)
{
    if (!spec->has_service || spec->service.argc == 0) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: the local runner needs a 'service' with a command to start",
                            spec->source);
    }
    int rc = check_cfg(spec, err);
    if (rc != 0) {
        return rc;
    }
    const char *wd = spec->service.workdir;
    struct stat st;
    /* Not a template (the service starts in it as written): one with braces was let through,
     * and every trial CRASHED changing to it. */
    const char *why = !wd                    ? NULL
                      : stat(wd, &st) != 0   ? strerror(errno)
                      : !S_ISDIR(st.st_mode) ? "not a directory"
                                             : NULL;
    if (why) {
        const char *brace = strchr(wd, '{');
        char *note =
            brace ? mp_xasprintf(" (a workdir is no template: %.*s stays as written)",
                                 (int)strcspn(brace, "}") + (strchr(brace, '}') ? 1 : 0), brace)
                  : mp_xstrdup("");
        const struct mp_node *n = mp_doc_get(mp_doc_get(spec->doc, "service"), "workdir");
        rc = n ? mp_doc_error(err, n, "service workdir '%s': %s%s", wd, why, note)
               : mp_error_set(err, MP_EINVALID, "%s: service workdir '%s': %s%s", spec->source, wd,
                              why, note);
        free(note);
    }
    /* After the folder, where a relative program is looked for. */
    if (rc == 0) {
        rc = check_command(spec, err);
    }
    if (rc == 0) {
        rc = check_requests(spec, err);
    }
    /* The resource use record() adds to each trial. */
    static const char *const resources[] = {"cpu_seconds", "peak_memory_bytes", "oom_kills",
                                            "wall_seconds", NULL};
    return rc ? rc : mp_runner_check_load_metrics(spec, resources, err);
}

/* ---- life cycle ---- */

static bool trial_failed(const struct local_trial *t)
{
    return t->res->state != MP_TRIAL_SUCCEEDED;
}

static void cancelled(struct local_trial *t)
{
    t->res->state = MP_TRIAL_CANCELLED;
    free(t->res->reason);
    t->res->reason = mp_xstrdup("cancelled while running");
}

/* The end of the stderr log, for a crash report. Returns owned. */
static char *stderr_tail(struct local_trial *t)
{
    char *log = mp_proc_log(t->proc, MP_PROC_STDERR, NULL);
    size_t len = strlen(log);
    const char *from = len > REASON_TAIL_BYTES ? log + len - REASON_TAIL_BYTES : log;
    while (((unsigned char)*from & 0xc0) == 0x80) {
        from++; /* the log is UTF-8: start on a whole character */
    }
    char *tail = mp_xstrdup(from);
    free(log);
    size_t n = strlen(tail);
    while (n && (tail[n - 1] == '\n' || tail[n - 1] == ' ')) {
        tail[--n] = '\0';
    }
    return tail;
}

static void describe_status(int st, char *buf, size_t size)
{
    if (WIFEXITED(st)) {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    } else {
        snprintf(buf, size, "stopped (status 0x%x)", (unsigned)st);
    }
}

/* The service exited 0 while processes it started still run: it forked into the background. */
static bool daemonized(struct local_trial *t)
{
    if (!WIFEXITED(t->exit_status) || WEXITSTATUS(t->exit_status) != 0) {
        return false;
    }
    return (t->cg ? mp_cgroup_count(t->cg) : mp_proc_count_tree(t->proc)) > 0;
}

/* Without a memory cgroup the memory limit is RLIMIT_DATA (runner.fallback_limits): past it an
 * allocation fails inside the service, which may then exit or abort as from any other crash.
 * Nothing tells the two apart (no OOM-kill counter), so the class stays CRASHED, and the reason
 * gives the limit (it said "the service exited with status 4" alone). */
static void memory_fallback_note(const struct local_trial *t, char *buf, size_t size)
{
    buf[0] = '\0';
    if (t->popts.rlimit_data_bytes > 0) {
        char mib[MP_FMT_DOUBLE_MAX];
        snprintf(buf, size,
                 " (the memory limit of %s MiB is RLIMIT_DATA here (no memory cgroup): an "
                 "allocation past it fails, which may be why it exited)",
                 mp_fmt_double(mib, (double)t->popts.rlimit_data_bytes / 1048576.0));
    }
}

/* The service exited on its own: OOM kill, port collision (ours) or a crash. */
static void classify_exit(struct local_trial *t, const char *when)
{
    char how[96];
    describe_status(t->exit_status, how, sizeof(how));
    struct mp_cgroup_stats st = {0};
    if (t->cg) {
        mp_cgroup_stats(t->cg, &st);
    }
    char *tail = stderr_tail(t);
    /* "Address already in use" is ours only when the trial's port is in fact taken (a race with
     * another process after the lease): a service that binds a fixed port of its own, taken by
     * another program or a parallel trial, was reported as "port P was taken" (INFRA, retried)
     * with its stderr left out. */
    bool in_use = strstr(tail, "Address already in use") != NULL;
    if (st.oom_kills > 0) {
        /* No count here: kills after this look (the service's other processes) count in the
         * trial's oom_kills, and the message said "1 OOM kill(s)" beside oom_kills 2. */
        char mib[MP_FMT_DOUBLE_MAX]; /* 1.5 MiB read "2 MiB", and a byte "0 MiB" */
        mp_trial_result_fail(t->res, MP_FAILURE_OOM_KILLED,
                             "the service %s %s; the kernel OOM-killed it (or a process of it) at "
                             "a memory limit of %s MiB",
                             how, when,
                             mp_fmt_double(mib, (double)t->limits.memory_bytes / 1048576.0));
    } else if (t->foreign_seen || (in_use && !mp_local_port_free(t->lease.port))) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA,
                             "port %d was taken by another process; the service %s %s",
                             t->lease.port, how, when);
    } else if (daemonized(t)) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "the service %s %s but left processes running: it went into the "
                             "background (daemonized); run it in the foreground%s%s",
                             how, when, *tail ? "; stderr ends with:\n" : "", tail);
    } else if (in_use) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "the service %s %s: a port it binds is in use, and not the trial's "
                             "port %d (free): a port of its own, taken by another program or a "
                             "parallel trial (the trial's port reaches the service with {port} in "
                             "service.command or service.env, or $MORPHLING_PORT); stderr ends "
                             "with:\n%s",
                             how, when, t->lease.port, tail);
    } else {
        char note[256];
        memory_fallback_note(t, note, sizeof(note));
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED, "the service %s %s%s%s%s", how, when, note,
                             *tail ? "; stderr ends with:\n" : " (stderr empty)", tail);
    }
    free(tail);
}

static bool check_exit(struct local_trial *t, int64_t deadline_ns, const char *when)
{
    if (!t->exited && mp_proc_wait(t->proc, deadline_ns, &t->exit_status)) {
        t->exited = true;
        classify_exit(t, when);
    }
    return t->exited;
}

enum ident { ID_OURS, ID_FOREIGN, ID_UNVERIFIED };

/* The trial's processes: those in its groups, and every descendant of its shim, also one that
 * left the groups (a service run as root may move itself or its workers into groups of its
 * own: its socket was taken for a stranger's, an INFRA failure retried twice). */
static size_t trial_pids(struct local_trial *t, pid_t *pids, size_t cap)
{
    size_t n = t->cg ? mp_cgroup_pids(t->cg, pids, cap) : 0;
    return n + mp_proc_tree_pids(t->proc, pids + n, cap - n);
}

/* Whether the process listening on the trial's port is of the trial's tree but outside its
 * groups: a service (run as root) that moved itself out of them, where no limit holds. It was
 * measured without them ('cpu 0.1' answered as fast as a whole core) and recorded as limited. A
 * listener of no process of the tree (a container under its daemon) is not this case. */
static bool left_groups(struct local_trial *t)
{
    pid_t pids[1024];
    size_t n = t->cg ? mp_cgroup_pids(t->cg, pids, MP_ARRAY_LEN(pids)) : 0;
    if (!t->cg || n == MP_ARRAY_LEN(pids) || mp_local_socket_owned(t->lease.port, pids, n)) {
        return false; /* (a full list may lack the listener: no verdict) */
    }
    n = mp_proc_tree_pids(t->proc, pids, MP_ARRAY_LEN(pids));
    return mp_local_socket_owned(t->lease.port, pids, n);
}

static bool has_pid(const pid_t *pids, size_t n, pid_t pid)
{
    for (size_t i = 0; i < n; i++) {
        if (pids[i] == pid) {
            return true;
        }
    }
    return false;
}

/* A process of the trial's tree outside its groups at the end of the load test (a worker, run as
 * root, that moved itself into groups of its own), or 0. No limit held for it and its CPU time
 * was not counted: a worker spinning outside the groups of a 'cpu 0.5' trial left it SUCCEEDED,
 * its limits 'enforced'. Outside some of them counts too (out of the v1 memory hierarchy only:
 * no memory limit held), with *where naming them and *all false. Only a process seen in the
 * tree before and after the look at the groups counts (one that exited in between is not in
 * them either). */
static pid_t worker_outside(struct local_trial *t, char *where, size_t size, bool *all)
{
    pid_t before[1024], after[1024];
    if (!t->cg || !t->proc) {
        return 0;
    }
    size_t nb = mp_proc_tree_pids(t->proc, before, MP_ARRAY_LEN(before));
    for (int tries = 0; tries < 8 && nb > 0; tries++) {
        pid_t out = mp_cgroup_missing(t->cg, before, nb, where, size, all);
        if (out <= 0) {
            return 0;
        }
        size_t na = mp_proc_tree_pids(t->proc, after, MP_ARRAY_LEN(after));
        if (has_pid(after, na, out)) {
            return out;
        }
        for (size_t i = 0; i < nb; i++) { /* exited meanwhile: look at the others */
            if (before[i] == out) {
                before[i] = before[--nb];
                break;
            }
        }
    }
    return 0;
}

/* Fails the trial CRASHED when a process of its tree is outside its groups (worker_outside):
 * once it is ready (before: the load test is not run, its figures would not hold) and after the
 * load test (a worker that left during it). */
static bool escaped(struct local_trial *t, bool before_load)
{
    char where[128];
    bool all = false;
    pid_t out = worker_outside(t, where, sizeof(where), &all);
    const char *held = before_load ? "would not hold" : "did not hold";
    const char *when = before_load ? " (seen once it was ready: not load-tested)" : "";
    if (out > 0 && all) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "process %d of the service left the trial's cgroups, so its limits "
                             "%s for it and its use %s counted: the service must stay in the "
                             "group it starts in%s",
                             (int)out, held, before_load ? "would not be" : "was not", when);
    } else if (out > 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "process %d of the service left the trial's cgroup in the %s "
                             "hierarchy (it stayed in the others), so the limits there %s for "
                             "it: the service must stay in the group it starts in%s",
                             (int)out, where, held, when);
    }
    return out > 0;
}

static enum ident identify(struct local_trial *t, const struct mp_probe_result *pr)
{
    enum local_identity mode = t->r->cfg.identity;
    if (mode == LOCAL_ID_NONE) {
        return ID_OURS;
    }
    if (pr->has_nonce && mode != LOCAL_ID_SOCKET) {
        return strcmp(pr->nonce, t->nonce) == 0 ? ID_OURS : ID_FOREIGN;
    }
    if (mode == LOCAL_ID_NONCE) {
        return ID_UNVERIFIED;
    }
    pid_t pids[1024];
    size_t n = trial_pids(t, pids, MP_ARRAY_LEN(pids));
    return mp_local_socket_owned(t->lease.port, pids, n) ? ID_OURS : ID_FOREIGN;
}

struct probe_seen {
    int bad_status;
    bool no_answer, unverified;
    struct mp_probe_result last; /* the last probe's outcome */
    int probes;
};

/* The probe and its last answer, for a reason: "service.readiness.http: GET
 * http://127.0.0.1:PORT/healthz, last answer: HTTP 404" (a trial that never got ready said
 * "answered 404" without naming the field, the URL, or what came last). */
static void describe_probe(const struct local_trial *t, const struct mp_probe_result *last,
                           char *buf, size_t size)
{
    const struct mp_service *svc = &t->spec->service;
    char answer[128];
    switch (last->outcome) {
    case MP_PROBE_OK:
        snprintf(answer, sizeof(answer), "HTTP %d", last->status ? last->status : 200);
        break;
    case MP_PROBE_BAD_STATUS:
        snprintf(answer, sizeof(answer), "HTTP %d", last->status);
        break;
    case MP_PROBE_NO_ANSWER:
        snprintf(answer, sizeof(answer), "no complete answer within %lld ms",
                 (long long)svc->probe_timeout_ms);
        break;
    default:
        snprintf(answer, sizeof(answer), "connect: %s",
                 last->error ? strerror(last->error) : "failed");
        break;
    }
    if (svc->probe == MP_PROBE_HTTP) {
        snprintf(buf, size, "service.readiness.http: GET http://127.0.0.1:%d%s, last answer: %s",
                 t->lease.port, svc->probe_path, answer);
    } else {
        snprintf(buf, size, "service.readiness.tcp: connect to 127.0.0.1:%d, last answer: %s",
                 t->lease.port, answer);
    }
}

/* Not ready by the startup deadline: nothing listening (and where the service listens instead),
 * or the probe's answers. */
static void not_listening(struct local_trial *t, const char *probe, double waited_s)
{
    /* The usual first-hour mistake: the service listens on its own default port. */
    pid_t pids[1024];
    char addr[64] = "";
    int elsewhere =
        mp_local_listen_port(pids, trial_pids(t, pids, MP_ARRAY_LEN(pids)), addr, sizeof(addr));
    if (elsewhere == t->lease.port) {
        /* The right port at an address the probes do not reach (::1 alone, 127.0.0.2). */
        mp_trial_result_fail(t->res, MP_FAILURE_STARTUP_TIMEOUT,
                             "not ready after %.1f s: the service listens on port %d, but at "
                             "%s, which the probes of 127.0.0.1 do not reach: bind "
                             "127.0.0.1, or every address (0.0.0.0, ::) (%s)",
                             waited_s, elsewhere, addr, probe);
    } else if (elsewhere > 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_STARTUP_TIMEOUT,
                             "not ready after %.1f s: nothing listening on port %d, but the "
                             "service listens on port %d: give it the trial's port with "
                             "{port} in service.command or service.env, or $MORPHLING_PORT (%s)",
                             waited_s, t->lease.port, elsewhere, probe);
    } else {
        mp_trial_result_fail(t->res, MP_FAILURE_STARTUP_TIMEOUT,
                             "not ready after %.1f s: nothing listening on port %d (%s)", waited_s,
                             t->lease.port, probe);
    }
}

static void not_ready(struct local_trial *t, const struct probe_seen *seen, double waited_s)
{
    const struct mp_service *svc = &t->spec->service;
    char probe[2048];
    describe_probe(t, &seen->last, probe, sizeof(probe));
    if (t->foreign_seen) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA,
                             "port %d is answered by a process that is not this trial's",
                             t->lease.port);
    } else if (seen->bad_status) {
        /* Not failed at the first 404: a service may answer so while it loads. */
        mp_trial_result_fail(t->res, MP_FAILURE_HEALTH_FAILED,
                             "not ready after %.1f s: the readiness probe answered %d, never a "
                             "2xx: is the path right? (%s)",
                             waited_s, seen->bad_status, probe);
    } else if (seen->unverified) {
        mp_trial_result_fail(t->res, MP_FAILURE_HEALTH_FAILED,
                             "the readiness probe answered without echoing the trial nonce "
                             "(X-Morphling-Nonce), which runner.identity=nonce requires (%s)",
                             probe);
    } else if (seen->no_answer) {
        mp_trial_result_fail(t->res, MP_FAILURE_HEALTH_FAILED,
                             "port %d accepted connections but the readiness probe got no answer "
                             "within %lld ms for %.1f s (%s)",
                             t->lease.port, (long long)svc->probe_timeout_ms, waited_s, probe);
    } else {
        not_listening(t, probe, waited_s);
    }
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Probes until ready, exit, cancel or the startup deadline. */
static bool wait_ready(struct local_trial *t)
{
    const struct mp_service *svc = &t->spec->service;
    const char *path = svc->probe == MP_PROBE_HTTP ? svc->probe_path : NULL;
    int64_t start = mp_mono_ns();
    int64_t deadline = min64(start + svc->startup_timeout_ms * 1000000LL, t->deadline_ns);
    struct probe_seen seen = {0, false, false, {0}, 0};
    for (;;) {
        if (atomic_load(t->cancel)) {
            cancelled(t);
            return false;
        }
        if (check_exit(t, 0, "while starting")) {
            return false;
        }
        int64_t now = mp_mono_ns();
        struct mp_probe_result pr;
        int64_t budget =
            min64(svc->probe_timeout_ms * 1000000LL, deadline > now ? deadline - now : 1000000);
        mp_local_probe(t->lease.port, path, budget, &pr);
        enum ident id = pr.outcome == MP_PROBE_OK || pr.outcome == MP_PROBE_BAD_STATUS
                            ? identify(t, &pr)
                            : ID_OURS;
        if (pr.outcome == MP_PROBE_OK && id == ID_OURS && left_groups(t)) {
            mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                                 "the process listening on port %d left the trial's cgroups, so "
                                 "its limits do not hold: the service must stay in the group it "
                                 "starts in",
                                 t->lease.port);
            return false;
        }
        if (pr.outcome == MP_PROBE_OK && id == ID_OURS) {
            t->ready_ns = mp_mono_ns();
            return !escaped(t, true);
        }
        t->foreign_seen = t->foreign_seen || id == ID_FOREIGN;
        seen.unverified = seen.unverified || id == ID_UNVERIFIED;
        seen.no_answer = seen.no_answer || pr.outcome == MP_PROBE_NO_ANSWER;
        /* A probe the deadline cut short is no answer of the service's: a service answering 404
         * was reported as giving "no complete answer within 300 ms". */
        if (pr.outcome != MP_PROBE_NO_ANSWER || budget >= svc->probe_timeout_ms * 1000000LL ||
            seen.probes == 0) {
            seen.last = pr;
        }
        seen.probes++;
        if (pr.outcome == MP_PROBE_BAD_STATUS && id != ID_FOREIGN) {
            seen.bad_status = pr.status;
        }
        now = mp_mono_ns();
        if (now >= deadline && deadline == t->deadline_ns) {
            char s[MP_FMT_DOUBLE_MAX];
            mp_trial_result_fail(t->res, MP_FAILURE_TIMEOUT,
                                 "the trial deadline, %s s after it started (%s), passed while the "
                                 "service was starting",
                                 mp_fmt_double(s, (double)t->timeout_ns / 1e9),
                                 mp_spec_trial_timeout_source(t->spec));
            return false;
        }
        if (now >= deadline) {
            not_ready(t, &seen, (double)(now - start) / 1e9);
            return false;
        }
        /* Until the next probe, in slices: a cancel waited for a whole readiness.interval (Ctrl-C
         * took 18 s with an interval of 20 s). */
        int64_t next = min64(now + svc->probe_interval_ms * 1000000LL, deadline);
        while (!atomic_load(t->cancel) && mp_mono_ns() < next) {
            if (check_exit(t, min64(mp_mono_ns() + CANCEL_POLL_NS, next), "while starting")) {
                return false;
            }
        }
    }
}

/* Sets *stop when the caller cancels, the trial deadline passes or the service exits. */
struct watchdog {
    struct local_trial *t;
    atomic_bool stop, done;
};

static void *watchdog_main(void *arg)
{
    struct watchdog *w = arg;
    while (!atomic_load(&w->done)) {
        bool stop = atomic_load(w->t->cancel) || mp_mono_ns() >= w->t->deadline_ns ||
                    mp_proc_wait(w->t->proc, mp_mono_ns() + 10000000LL, NULL);
        if (stop) {
            atomic_store(&w->stop, true);
            break;
        }
    }
    return NULL;
}

static int run_load(struct local_trial *t)
{
    struct mp_local_target target = {"127.0.0.1",    t->lease.port,  t->nonce,      t->spec,
                                     t->r->cfg.load, t->deadline_ns, t->lg_cpu_mask};
    struct watchdog w = {t, false, false};
    pthread_t th;
    bool started = pthread_create(&th, NULL, watchdog_main, &w) == 0;
    struct mp_error err = {0, ""};
    int rc = started ? t->r->load(&target, t->res, &w.stop, &err) : -EAGAIN;
    atomic_store(&w.done, true);
    if (started) {
        pthread_join(th, NULL);
    }
    if (check_exit(t, 0, "during the load test")) {
        return 0;
    }
    if (atomic_load(t->cancel)) {
        cancelled(t);
        return 0;
    }
    if (mp_mono_ns() >= t->deadline_ns && !trial_failed(t)) {
        char s[MP_FMT_DOUBLE_MAX];
        mp_trial_result_fail(t->res, MP_FAILURE_TIMEOUT,
                             "the trial ran past its deadline, %s s after it started (%s)",
                             mp_fmt_double(s, (double)t->timeout_ns / 1e9),
                             mp_spec_trial_timeout_source(t->spec));
        return 0;
    }
    if (rc != 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "load test: %s",
                             err.msg[0] ? err.msg : mp_strerror(rc));
        return rc;
    }
    if (!trial_failed(t)) {
        escaped(t, false);
    }
    return 0;
}

/* Waits for the service to exit until grace_end, in slices: a second Ctrl-C (mp_runner_hurry)
 * ends the wait at once, not after a grace period of up to an hour. */
static bool wait_grace(struct local_trial *t, int64_t grace_end)
{
    while (!atomic_load(&mp_runner_hurry)) {
        int64_t until = mp_mono_ns() + CANCEL_POLL_NS;
        until = until < grace_end ? until : grace_end;
        if (mp_proc_wait(t->proc, until, &t->exit_status)) {
            return true;
        }
        if (mp_mono_ns() < until || until == grace_end) {
            return false; /* the grace period is over, or nothing is left to wait for */
        }
    }
    return mp_proc_wait(t->proc, 0, &t->exit_status);
}

/* SIGTERM, grace period, then kill everything left in the cgroup (or the shim's tree), reap it
 * and remove the group. Records whether the teardown left nothing behind. */
static void teardown(struct local_trial *t)
{
    json_t *td = json_object();
    if (t->proc) {
        bool was_running = !t->exited;
        if (was_running) {
            int src = mp_proc_signal_group(t->proc, SIGTERM);
            (void)src;
            t->exited = wait_grace(t, mp_mono_ns() + t->r->cfg.grace_ns);
            json_object_set_new(td, "exited_on_sigterm", json_boolean(t->exited));
            if (!t->exited && atomic_load(&mp_runner_hurry)) {
                json_object_set_new(td, "hurried", json_true());
            }
        }
        /* What outlived the service's own exit or the grace period (forks, setsid escapes). */
        int left = t->cg ? mp_cgroup_count(t->cg) : mp_proc_count_tree(t->proc);
        json_object_set_new(td, "left_after_grace", json_integer(left));
        if (t->cg) {
            int krc = mp_cgroup_kill(t->cg);
            (void)krc;
        }
        mp_proc_kill_tree(t->proc, SIGKILL);
        int frc = mp_proc_finish(t->proc, mp_mono_ns() + FINISH_NS, &t->usage);
        if (!t->exited) {
            t->exited = mp_proc_wait(t->proc, 0, &t->exit_status);
        }
        t->teardown_clean = frc == 0;
    } else {
        t->teardown_clean = true;
    }
    if (t->cg) {
        mp_cgroup_stats(t->cg, &t->stats);
        struct mp_error err = {0, ""};
        if (mp_cgroup_destroy(t->cg, mp_mono_ns() + FINISH_NS, &err) != 0) {
            t->teardown_clean = false;
            json_object_set_new(td, "error", json_string(err.msg));
        }
    }
    json_object_set_new(td, "clean", json_boolean(t->teardown_clean));
    json_object_set_new(t->meta, "teardown", td);
    mp_port_lease_release(&t->lease);
}

/* A failed trial's reason ends with the limits its group met: failed forks explain most of what
 * follows (a crash, refused connections), and so does a memory limit the service's use reached
 * without an OOM kill (it reclaims its own pages: at 5 MiB a Python server did little else for
 * its whole startup_timeout, and the reason read 'nothing listening on port P'). The kernel keeps
 * a limit in whole pages; no failure count tells it, as memory.failcnt stays 0 under memsw. */
static void limit_notes(struct local_trial *t)
{
    struct mp_trial_result *res = t->res;
    if (!trial_failed(t) || !res->reason) {
        return;
    }
    if (t->stats.pids_max_hits > 0) {
        char *why = res->reason;
        res->reason =
            mp_xasprintf("%s (the pids limit of %lld was reached: %" PRIu64 " fork(s) refused)",
                         why, (long long)t->limits.pids_max, t->stats.pids_max_hits);
        free(why);
    }
    long page = sysconf(_SC_PAGESIZE);
    uint64_t limit = t->limits.memory_bytes;
    if (t->cg && t->stats.has_memory && limit > 0 && res->failure != MP_FAILURE_OOM_KILLED &&
        t->stats.peak_memory_bytes + (uint64_t)(page > 0 ? page : 4096) > limit) {
        char mib[MP_FMT_DOUBLE_MAX];
        char *why = res->reason;
        res->reason = mp_xasprintf("%s (its memory use reached the limit of %s MiB: short of "
                                   "memory, a service may stall reclaiming it, or fail an "
                                   "allocation, without being OOM-killed)",
                                   why, mp_fmt_double(mib, (double)limit / 1048576.0));
        free(why);
    }
}

static void record(struct local_trial *t)
{
    struct mp_trial_result *res = t->res;
    double cpu = t->stats.has_cpu ? t->stats.cpu_seconds : t->usage.cpu_seconds;
    mp_metrics_set(&res->resources, "cpu_seconds", cpu);
    mp_metrics_set(&res->resources, "peak_memory_bytes",
                   t->stats.has_memory ? (double)t->stats.peak_memory_bytes
                                       : (double)t->usage.max_rss_bytes);
    if (t->stats.has_oom) {
        mp_metrics_set(&res->resources, "oom_kills", (double)t->stats.oom_kills);
    }
    mp_metrics_set(&res->resources, "wall_seconds", (double)(mp_mono_ns() - t->started_ns) / 1e9);
    json_t *m = t->meta;
    json_object_set_new(m, "runner", json_string("local"));
    json_object_set_new(m, "port", json_integer(t->port));
    json_object_set_new(m, "nonce", json_string(t->nonce));
    json_object_set_new(m, "usage_source",
                        json_string(t->stats.has_cpu ? "cgroup" : "rusage of reaped processes"));
    if (t->limits_json) {
        json_object_set_new(m, "limits", t->limits_json);
        t->limits_json = NULL;
    }
    if (t->proc) {
        json_object_set_new(m, "pid", json_integer(mp_proc_pid(t->proc)));
        uint64_t dropped[2] = {0, 0};
        free(res->stdout_log);
        free(res->stderr_log);
        res->stdout_log = mp_proc_log(t->proc, MP_PROC_STDOUT, &dropped[0]);
        res->stderr_log = mp_proc_log(t->proc, MP_PROC_STDERR, &dropped[1]);
        json_object_set_new(m, "stdout_dropped_bytes", json_integer((json_int_t)dropped[0]));
        json_object_set_new(m, "stderr_dropped_bytes", json_integer((json_int_t)dropped[1]));
    }
    if (t->exited) {
        json_t *ex = json_object();
        if (WIFEXITED(t->exit_status)) {
            json_object_set_new(ex, "code", json_integer(WEXITSTATUS(t->exit_status)));
        } else if (WIFSIGNALED(t->exit_status)) {
            json_object_set_new(ex, "signal", json_integer(WTERMSIG(t->exit_status)));
        }
        json_object_set_new(m, "exit", ex);
    }
    if (t->ready_ns) {
        json_object_set_new(m, "ready_after_s",
                            json_real((double)(t->ready_ns - t->started_ns) / 1e9));
    }
    json_t *argv = json_array();
    for (size_t i = 0; i < t->argc; i++) {
        json_array_append_new(argv, json_string(t->argv[i]));
    }
    json_object_set_new(m, "argv", argv);
    free(res->meta_json);
    res->meta_json = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
}

static void trial_release(struct local_trial *t)
{
    mp_proc_free(t->proc);
    mp_cgroup_free(t->cg);
    mp_port_lease_release(&t->lease);
    for (size_t i = 0; i < t->argc; i++) {
        free(t->argv[i]);
    }
    for (size_t i = 0; i < t->envc; i++) {
        free(t->envp[i]);
    }
    free(t->argv);
    free(t->envp);
    free(t->vars);
    json_decref(t->limits_json);
    json_decref(t->meta);
}

static void make_nonce(char out[33])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
        uint64_t a = mp_mix64((uint64_t)mp_wall_ns(), (uint64_t)getpid());
        uint64_t b = mp_mix64(a, (uint64_t)mp_mono_ns());
        memcpy(raw, &a, 8);
        memcpy(raw + 8, &b, 8);
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    }
}

/* The service cannot be run (msg: "'PROGRAM': why"): CRASHED, naming the field at fault, and the
 * template a parameter made the program from. */
static void unrunnable(struct local_trial *t, const char *msg)
{
    const struct mp_service *svc = &t->spec->service;
    if (strstr(msg, "changing to the working directory")) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "cannot start the service: service.workdir '%s': %s",
                             svc->workdir ? svc->workdir : t->spec->base_dir, msg);
        return;
    }
    if (strchr(svc->argv[0], '{')) {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "cannot start the service: service.command[0] '%s' is %s",
                             svc->argv[0], msg);
    } else {
        mp_trial_result_fail(t->res, MP_FAILURE_CRASHED,
                             "cannot start the service: service.command[0] %s", msg);
    }
}

/* Port, cgroup, command line, process: any failure here is ours (INFRA), except a service
 * that cannot be executed, which is the spec's. */
static int start(struct local_trial *t, char (*bufs)[MP_FMT_DOUBLE_MAX])
{
    struct mp_error err = {0, ""};
    const struct mp_local_cfg *cfg = &t->r->cfg;
    uint64_t seed =
        mp_mix64(mp_hash_str(t->req->experiment ? t->req->experiment : ""),
                 mp_mix64((uint64_t)t->req->experiment_id,
                          mp_mix64((uint64_t)t->req->number, (uint64_t)t->req->attempt)));
    int rc =
        mp_port_lease_acquire(cfg->port_dir, cfg->port_lo, cfg->port_hi, seed, &t->lease, &err);
    if (rc == 0) {
        t->port = t->lease.port;
        build_vars(t, bufs);
        rc = render_command(t, &err);
        if (rc != 0) {
            mp_trial_result_fail(t->res, MP_FAILURE_CRASHED, "cannot build the command: %s",
                                 err.msg);
            return 0;
        }
    }
    if (rc == 0) {
        mp_local_collect_limits(t);
        rc = mp_local_setup_cgroup(t, &err);
    }
    if (rc != 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "%s", err.msg);
        return rc < 0 ? rc : MP_ERUNTIME;
    }
    t->popts.argv = (const char *const *)t->argv;
    t->popts.envp = (const char *const *)t->envp;
    t->popts.workdir = t->spec->service.workdir ? t->spec->service.workdir : t->spec->base_dir;
    t->popts.log_cap_bytes = cfg->log_cap_bytes;
    t->popts.cancel = t->cancel;
    t->started_ns = mp_mono_ns();
    rc = mp_proc_spawn(&t->popts, &t->proc, &err);
    if (rc == -ECANCELED) {
        cancelled(t);
        return 0;
    }
    if (rc == -ENOENT || rc == -EACCES || rc == -ENOEXEC || rc == -ENOTDIR) {
        unrunnable(t, err.msg);
        return 0;
    }
    if (rc != 0) {
        mp_trial_result_fail(t->res, MP_FAILURE_INFRA, "cannot start the service: %s", err.msg);
        return rc;
    }
    return 0;
}

static int local_run(struct mp_runner *base, const struct mp_trial_request *req,
                     struct mp_trial_result *res, const atomic_bool *cancel)
{
    struct mp_local_runner *r = (struct mp_local_runner *)base;
    struct local_trial t;
    memset(&t, 0, sizeof(t));
    t.r = r;
    t.spec = base->spec;
    t.req = req;
    t.res = res;
    t.cancel = cancel;
    t.lease.fd = -1;
    t.meta = json_object();
    t.started_ns = mp_mono_ns();
    int64_t timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : t.spec->trial_timeout_ms;
    int64_t timeout = timeout_ms > 0 ? timeout_ms * 1000000LL : DEFAULT_TRIAL_TIMEOUT_NS;
    t.deadline_ns = t.started_ns + timeout;
    t.timeout_ns = timeout;
    make_nonce(t.nonce);
    char(*bufs)[MP_FMT_DOUBLE_MAX] = mp_xcalloc(t.spec->space.n + 1, MP_FMT_DOUBLE_MAX);
    int rc = start(&t, bufs);
    if (rc == 0 && t.proc && wait_ready(&t)) {
        rc = run_load(&t);
    }
    teardown(&t);
    if (rc == 0 && !trial_failed(&t) && t.stats.oom_kills > 0) {
        /* A worker killed at the memory limit while the service went on: this configuration
         * does not fit its memory, even if the service recovered. */
        char mib[MP_FMT_DOUBLE_MAX]; /* as classify_exit: 64.5 MiB read "64 MiB" */
        mp_trial_result_fail(res, MP_FAILURE_OOM_KILLED,
                             "%" PRIu64 " process(es) of the service were OOM-killed at a memory "
                             "limit of %s MiB (the service itself kept running)",
                             t.stats.oom_kills,
                             mp_fmt_double(mib, (double)t.limits.memory_bytes / 1048576.0));
    }
    limit_notes(&t);
    if (!t.teardown_clean && rc == 0 && !trial_failed(&t)) {
        mp_trial_result_fail(res, MP_FAILURE_INFRA, "processes of the trial survived the teardown");
    }
    if (rc == 0 && res->state == MP_TRIAL_FAILED && res->failure == MP_FAILURE_INFRA) {
        rc = MP_ERUNTIME; /* ours (a port race, a dirty teardown): the engine retries */
    }
    record(&t);
    /* Judged once resource use is known, so it can be constrained too. */
    mp_spec_evaluate(t.spec, req->x, res);
    trial_release(&t);
    free(bufs);
    return rc;
}

static int local_create(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    struct mp_local_runner *r = mp_xcalloc(1, sizeof(*r));
    r->base.ops = &mp_runner_local;
    r->base.spec = spec;
    r->load = mp_local_load_measure;
    int rc = parse_cfg(spec, &r->cfg, err);
    if (rc == 0) {
        rc = mp_cgroup_detect(&r->cgsys, r->cfg.cgroup_parent, err);
    }
    if (rc != 0) {
        mp_local_cfg_release(&r->cfg);
        free(r);
        *out = NULL;
        return rc;
    }
    *out = &r->base;
    return 0;
}

static void local_free(struct mp_runner *base)
{
    struct mp_local_runner *r = (struct mp_local_runner *)base;
    if (!r) {
        return;
    }
    mp_local_cfg_release(&r->cfg);
    mp_cgroup_system_release(&r->cgsys);
    free(r);
}

const struct mp_runner_ops mp_runner_local = {
    .name = "local",
    .concurrent = true,
    .validate = local_validate,
    .create = local_create,
    .run = local_run,
    .free = local_free,
};
