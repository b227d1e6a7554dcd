/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the local runner shared by its files and the unit tests: settings
 * (local_config.c), one trial's state (local.c) and limits (local_limits.c), the port lease and
 * readiness probes (local_probe.c) and the load-test seam (local_load.c).
 *
 * Ownership: a local runner owns its settings and detected cgroup system; targets handed to
 * the load function borrow everything for the duration of the call.
 * Thread-safety: run() is reentrant (each trial has its own state); the port lease is safe
 * across threads and processes (one flock per port file). */
#ifndef MP_RUNNER_LOCAL_INT_H
#define MP_RUNNER_LOCAL_INT_H

#include <jansson.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "cgroup/cgroup.h"
#include "proc/proc.h"
#include "runner/runner.h"

enum local_identity {
    LOCAL_ID_AUTO,   /* nonce header when the service sends one, else the socket's owner */
    LOCAL_ID_NONCE,  /* X-Morphling-Nonce must echo the trial's nonce */
    LOCAL_ID_SOCKET, /* the listening socket must belong to a process of the trial */
    LOCAL_ID_NONE,
};

/* The default runner.port_lock_dir: shared by every run on the machine, as the ports are. */
#define MP_LOCAL_PORT_DIR "/tmp/morphling-ports"

struct mp_local_cfg {
    int port_lo, port_hi;
    char *port_dir;       /* lock files, one per leased port; MP_LOCAL_PORT_DIR */
    double cpu_cores;     /* default quota when no cpu parameter; 0: none */
    int64_t memory_bytes; /* default memory limit when no memory parameter; 0: none */
    int64_t pids_max;
    char *cpuset;
    int64_t grace_ns;
    int64_t log_cap_bytes;
    char *cgroup_parent;
    bool require_limits;  /* unenforceable limits are an INFRA failure instead of a warning */
    bool fallback_limits; /* without cgroups, approximate with RLIMIT_DATA and CPU affinity */
    int identity;         /* enum local_identity */
    bool inherit_env;
    bool separate_load; /* load generator and service on disjoint CPUs when possible */
    int64_t trial_timeout_ns;
    const struct mp_node *load; /* runner.load, borrowed from the spec; may be NULL */
};

/* What the load-test step gets: the service's address and what it may use to measure. */
struct mp_local_target {
    const char *host;
    int port;
    const char *nonce;
    const struct mp_spec *spec;
    const struct mp_node *load; /* runner.load settings or NULL */
    int64_t deadline_ns;        /* monotonic; the measurement must end by then */
    uint64_t lg_cpu_mask;       /* CPUs for the load generator (bit i = CPU i); 0: any */
};

/* The load-test seam. Fills res->metrics (and may mark res FAILED with LOAD_ERRORS or
 * SLO_VIOLATED); returns 0, or a negative code when it could not measure at all. *stop
 * becomes true on cancel, at the trial deadline and when the service exits. */
typedef int mp_local_load_fn(const struct mp_local_target *t, struct mp_trial_result *res,
                             const atomic_bool *stop, struct mp_error *err);

/* Production load test (local_load.c): the measurement protocol of src/measure. */
int mp_local_load_measure(const struct mp_local_target *t, struct mp_trial_result *res,
                          const atomic_bool *stop, struct mp_error *err) MP_WUR;
/* Checks runner.load settings at validate time. */
int mp_local_load_validate(const struct mp_node *load, struct mp_error *err) MP_WUR;

struct mp_local_runner {
    struct mp_runner base;
    struct mp_local_cfg cfg;
    struct mp_cgroup_system cgsys;
    /* Seam: the load-test step. mp_local_load_measure in production; tests replace it. */
    mp_local_load_fn *load;
};

int mp_local_cfg_parse(const struct mp_node *runner, struct mp_local_cfg *cfg,
                       struct mp_error *err) MP_WUR;
void mp_local_cfg_release(struct mp_local_cfg *cfg);

/* ---- port lease (local_probe.c) ---- */

struct mp_port_lease {
    int port;
    int fd; /* flock'ed lock file; -1 when not held */
};

/* Leases a free port in [lo, hi], starting the scan at an offset derived from seed: takes the
 * port's lock file in dir without waiting, then checks that 127.0.0.1:port can be bound. dir
 * (created mode 1777 when missing) and its lock files are never followed through a symbolic
 * link (-ENOTDIR for the folder, -ELOOP for a lock file). */
int mp_port_lease_acquire(const char *dir, int lo, int hi, uint64_t seed, struct mp_port_lease *l,
                          struct mp_error *err) MP_WUR;
void mp_port_lease_release(struct mp_port_lease *l);
/* True when 127.0.0.1:port can be bound now: no process listens on it (a leased port is locked,
 * not bound, until its service binds it). */
bool mp_local_port_free(int port);

/* ---- readiness probes (local_probe.c) ---- */

enum mp_probe_outcome {
    MP_PROBE_OK,
    MP_PROBE_REFUSED,    /* nothing listening */
    MP_PROBE_NO_ANSWER,  /* connected, no (complete) answer within the timeout */
    MP_PROBE_BAD_STATUS, /* answered with a non-2xx status */
    MP_PROBE_ERROR,      /* other socket error */
};

struct mp_probe_result {
    enum mp_probe_outcome outcome;
    int status;      /* HTTP status when answered */
    int error;       /* errno of a failed connect (REFUSED, ERROR); 0 otherwise */
    bool has_nonce;  /* X-Morphling-Nonce header present */
    char nonce[128]; /* its value */
};

/* One probe of 127.0.0.1:port: HTTP GET path when path is non-NULL, else a TCP connect. */
void mp_local_probe(int port, const char *path, int64_t timeout_ns, struct mp_probe_result *r);
/* True when a listening TCP socket on port belongs to one of pids (via /proc/net/tcp{,6} and
 * /proc/PID/fd). */
bool mp_local_socket_owned(int port, const pid_t *pids, size_t n);
/* A TCP port on which one of pids listens, or 0 (to tell a service that listens elsewhere than
 * on its trial's port, or at another address); that socket's address in addr (addr_size bytes,
 * INET6_ADDRSTRLEN enough). */
int mp_local_listen_port(const pid_t *pids, size_t n, char *addr, size_t addr_size);

/* ---- one trial (local.c, local_limits.c) ---- */

/* Everything one run() holds; lives on run()'s stack and borrows the runner, spec, request and
 * result for the call. */
struct local_trial {
    struct mp_local_runner *r;
    const struct mp_spec *spec;
    const struct mp_trial_request *req;
    struct mp_trial_result *res;
    const atomic_bool *cancel;
    int64_t started_ns, deadline_ns, ready_ns;
    int64_t timeout_ns; /* the trial's: its deadline is this after its start */
    char nonce[33];
    char port_text[16], trial_text[24], attempt_text[24];
    struct mp_spec_template_var *vars;
    size_t n_vars;
    char **argv, **envp;
    size_t argc, envc;
    struct mp_port_lease lease;
    struct mp_cgroup_limits limits;
    struct mp_cgroup *cg;
    struct mp_proc *proc;
    struct mp_proc_opts popts;
    json_t *limits_json;
    json_t *meta;
    int port;             /* kept after the lease is released */
    char cpuset_buf[64];  /* the service's CPUs when placed apart from the load generator */
    uint64_t lg_cpu_mask; /* the load generator's CPUs then; 0: anywhere */
    bool exited, foreign_seen, teardown_clean;
    int exit_status;
    struct mp_cgroup_stats stats;
    struct mp_proc_usage usage;
};

/* Limits of the trial: the configuration's resource parameters over the runner's defaults. */
void mp_local_collect_limits(struct local_trial *t);
/* Creates the trial's cgroup (when the system has one), applies per-process fallbacks for what
 * it cannot enforce and records both in t->meta and t->limits_json. */
int mp_local_setup_cgroup(struct local_trial *t, struct mp_error *err) MP_WUR;

#endif
