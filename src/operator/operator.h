/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling operator`: reconciles ProfilingExperiments (morphling.kubedl.io/v1alpha1) in a
 * cluster. It lists and watches the experiments, runs each unfinished one with the engine
 * (mp_engine_run) and a trial runner, `parallelism` trials at a time, keeps one Trial object per
 * trial (created before any of the trial's objects, owned by the experiment) and writes the
 * experiment's status, conditions and Events. The API server is its only memory: the engine's
 * SQLite store is a cache rebuilt from the Trial objects whenever an experiment is (re)started,
 * so a new operator on another node continues every experiment. Leader election (a
 * coordination.k8s.io Lease), /healthz, /readyz and Prometheus /metrics.
 * docs/internals/operator.md describes the design.
 *
 * Ownership: the client and options are borrowed for the call. Thread-safety: mp_operator_run
 * runs on the calling thread until opts->stop becomes true; it starts threads of its own, and
 * calls the runner ops from several threads at once when ops->concurrent is set. */
#ifndef MP_OPERATOR_H
#define MP_OPERATOR_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>

#include "core/core.h"
#include "kube/kube.h"
#include "runner/runner.h"
#include "spec/spec.h"

/* Labels and names of the operator's objects. */
#define MP_OPERATOR_LABEL_EXPERIMENT "morphling.kubedl.io/experiment-uid"
/* The experiment's name on its Trials, for `kubectl get trials -l ...=NAME` (a name is a DNS
 * label: a label value as it is). */
#define MP_OPERATOR_LABEL_EXPERIMENT_NAME "morphling.kubedl.io/experiment"
#define MP_OPERATOR_LABEL_TRIAL           "morphling.kubedl.io/trial"
#define MP_OPERATOR_MANAGER               "morphling-operator"

/* One trial as the operator hands it to a trial runner: its Trial object exists (the trial's
 * intent), and everything the runner creates for the trial must hang from it (ownerReferences),
 * so that deleting the experiment removes it all. Borrowed for the call. */
struct mp_operator_trial {
    const char *ns;         /* the experiment's namespace */
    const char *experiment; /* the experiment's name */
    const json_t *pe;       /* the ProfilingExperiment object */
    const json_t *trial;    /* the Trial object: apiVersion, kind, metadata.name and uid */
};

/* The trial runner of the operator: the kubernetes runner by default (mp_operator_kube_runner),
 * a fake one in tests. */
struct mp_operator_runner_ops {
    bool concurrent; /* run may be called from several threads at once */
    /* The runner of one experiment: spec and pe outlive it. */
    int (*create)(void *ud, struct mp_kube_client *c, const struct mp_spec *spec, const json_t *pe,
                  void **out, struct mp_error *err);
    /* Runs one trial as mp_runner_ops.run does (result, negative return for infrastructure
     * failures, *cancel polled). */
    int (*run)(void *runner, const struct mp_operator_trial *t, const struct mp_trial_request *req,
               struct mp_trial_result *res, const atomic_bool *cancel);
    void (*free)(void *runner);
};

/* The spec's own runner (the kubernetes runner of this build, through mp_runner_new). */
extern const struct mp_operator_runner_ops mp_operator_default_runner;

struct mp_operator_opts {
    const char *ns;      /* the namespace watched; NULL: the configuration's */
    bool all_namespaces; /* watch every namespace instead */
    bool leader_elect;
    const char *lease_namespace; /* NULL: the configuration's namespace */
    const char *lease_name;      /* NULL: "morphling-operator" */
    const char *identity;        /* NULL: hostname_pid_random */
    int64_t lease_duration_ms;   /* 0: 15000 */
    int64_t renew_deadline_ms;   /* 0: 10000; the leader stops when it cannot renew by then */
    int64_t retry_period_ms;     /* 0: 2000 */
    const char *health_addr;     /* HOST:PORT of /healthz and /readyz; NULL: none */
    const char *metrics_addr;    /* HOST:PORT of /metrics (may equal health_addr); NULL: none */
    const char *work_dir;        /* the engine caches' folder; NULL: $TMPDIR or /tmp */
    /* Experiments run at once (0: 16, < 0: no limit); the others wait, Created, for a slot. */
    int64_t max_running;
    /* The folder an experiment's file paths (spec.load.body, ...) must resolve inside; NULL: an
     * empty folder in work_dir, so experiments can name no file of the operator's. */
    const char *files_dir;
    const struct mp_operator_runner_ops *runner; /* NULL: mp_operator_default_runner */
    void *runner_ud;
    const atomic_bool *stop; /* set (e.g. by SIGTERM) to stop; required */
    FILE *log;               /* one line per notable step; NULL: stderr */
};

/* Runs the operator until *opts->stop (returns 0), or until it cannot go on: the watch of
 * experiments fails for good (forbidden, the CRD missing), leadership is lost, a listener
 * cannot be opened. Experiments being run are left to continue under the next operator. */
int mp_operator_run(struct mp_kube_client *c, const struct mp_operator_opts *opts,
                    struct mp_error *err) MP_WUR;

#endif
