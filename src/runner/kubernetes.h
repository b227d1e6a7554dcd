/* SPDX-License-Identifier: Apache-2.0 */
/* The `kubernetes` runner: one trial of a configuration as objects in a cluster, on top of the
 * API client (src/kube). Per trial, in the spec's namespace:
 *   - an owner object (a ConfigMap named mp_kube_runner_name(), holding the trial's
 *     configuration), which every other object of the trial references (ownerReference,
 *     blockOwnerDeletion), so one Foreground delete removes them all and the garbage collector
 *     cleans up after anything missed; it may itself be owned by a caller's object (the
 *     operator's Trial);
 *   - a Deployment of the pod template with the configuration applied (mp_spec_render_pod) and a
 *     ClusterIP Service in front of it;
 *   - once the Deployment is ready, a load Job running `morphling load` against the Service's DNS
 *     name, whose compact JSON result returns through its pod's termination message; or, with
 *     runner.client_template, the user's own client Job in its place (the service's address
 *     and the trial's parameters in its environment, its metrics as JSON in that message).
 * Every object carries the labels MP_KUBE_LABEL_* and a name derived from (experiment, trial,
 * attempt); a create that answers AlreadyExists adopts the object when its labels say it is
 * this trial's of this run (MP_KUBE_LABEL_RUN), and is an error otherwise: a run error when
 * the object is another run's of an experiment with the same name.
 * docs/internals/kubernetes-runner.md has the design; docs/kubernetes.md the user's view.
 *
 * This header is the seam the operator uses: it creates the runner with its own client (the
 * in-cluster configuration), runs trials with its Trial object as owner, and lists, reconciles
 * and deletes the objects of an experiment.
 *
 * Ownership: mp_kube_runner_new borrows opts->client (it must outlive the runner) and the spec.
 * Thread-safety: run() and run_owned() may be called from several threads at once
 * (ops->concurrent); list/reconcile/delete too. */
#ifndef MP_RUNNER_KUBERNETES_H
#define MP_RUNNER_KUBERNETES_H

#include <jansson.h>
#include <stdatomic.h>

#include "kube/kube.h"
#include "runner/runner.h"

/* Labels of every object the runner creates. The experiment label's value is
 * mp_kube_runner_experiment_key() of the experiment's name. */
#define MP_KUBE_LABEL_EXPERIMENT "morphling.kubedl.io/experiment"
#define MP_KUBE_LABEL_TRIAL      "morphling.kubedl.io/trial"
#define MP_KUBE_LABEL_ATTEMPT    "morphling.kubedl.io/attempt"
#define MP_KUBE_LABEL_ROLE       "morphling.kubedl.io/role" /* owner, service, load */
#define MP_KUBE_LABEL_MANAGED    "app.kubernetes.io/managed-by"
#define MP_KUBE_MANAGED_BY       "morphling"
/* The run's identity (mp_trial_request.run_id, or mp_kube_runner_opts.run_id): two runs of
 * experiments with the same name in one namespace (two stores, or `morphling run` beside the
 * operator) share names and the labels above; this one tells their objects apart. */
#define MP_KUBE_LABEL_RUN "morphling.kubedl.io/run"
/* The experiment's full name, on every object (labels cannot hold every name). */
#define MP_KUBE_ANNOTATION_EXPERIMENT "morphling.kubedl.io/experiment-name"

/* Longest name mp_kube_runner_name writes (a DNS label, so it also names the Service). */
#define MP_KUBE_RUNNER_NAME_MAX 64

/* The experiment's label value: the name when it is already a DNS label of at most 40
 * characters, else a lower-case, '-'-only prefix of it from its first letter on with a hash of
 * the whole name appended ("My_Exp" -> "my-exp-3f9a1c", "_exp" -> "exp-5d01e2"), so that it
 * starts with a letter as a Service name must. buf holds MP_KUBE_RUNNER_NAME_MAX. */
char *mp_kube_runner_experiment_key(const char *experiment, char *buf);
/* The trial's owner object's name, also the Deployment's and the Service's:
 * "<experiment key>-t<trial>-a<attempt>"; the load Job is that plus "-load".
 * buf holds MP_KUBE_RUNNER_NAME_MAX. */
char *mp_kube_runner_name(const char *experiment, int64_t trial, int64_t attempt, char *buf);

/* How the runner is made. Zero-initialise. */
struct mp_kube_runner_opts {
    /* A client to use (borrowed; e.g. the operator's in-cluster one). NULL: the runner loads
     * the kubeconfig the spec names (runner.kubeconfig, runner.context), else $KUBECONFIG /
     * ~/.kube/config, else the in-cluster configuration, and owns that client. */
    struct mp_kube_client *client;
    /* The namespace when the spec names none; NULL: the kubeconfig context's. */
    const char *default_namespace;
    /* The run's identity (MP_KUBE_LABEL_RUN; the operator: the ProfilingExperiment's uid),
     * overriding mp_trial_request.run_id. NULL: the requests' (else one made up per runner). */
    const char *run_id;
    /* Seam for tests: the load Job's image, overriding runner.load_image. */
    const char *load_image;
    /* Skip the start-up sweep (mp_kube_runner_reconcile deleting every object of the
     * experiment at the first trial). `morphling run` holds the experiment's claim, so every
     * object it finds is a leftover of a killed run; the operator reconciles itself. */
    bool no_sweep;
    /* Ask the cluster nothing (`validate --offline`): no client (no kubeconfig read), no
     * namespace or access check, no dry run of the pod template; the namespace is
     * runner.namespace, else default_namespace, else "default". Such a runner only validates. */
    bool offline;
};

/* Creates the runner for spec (runner kind kubernetes). Checks what the spec cannot tell
 * alone, before any object is created: the kubeconfig and context exist, the namespace exists
 * (a GET), the container is in the template. Errors are MP_EINVALID naming the spec's field,
 * or the client's error (an unreachable API server). ops->validate (mp_engine_validate, so
 * `morphling validate` and `run`) is this with the spec's own kubeconfig and no sweep; a
 * caller with its own client (the operator) validates with this function instead. */
int mp_kube_runner_new(const struct mp_spec *spec, const struct mp_kube_runner_opts *opts,
                       struct mp_runner **out, struct mp_error *err) MP_WUR;

/* Sends the trials' Deployment, for the configuration of every parameter's lowest value, to
 * the API server with dryRun=All (one create that stores nothing), so that a pod template the
 * API server's own rules refuse (a port name, a resource, a probe...) is an invalid spec
 * (MP_EINVALID, at runner.pod_template) before any trial, not an INFRA failure of each. Any
 * other answer (no right to create Deployments, the server unreachable) passes: the run meets
 * it. ops->validate and the operator's check call it after mp_kube_runner_new. */
int mp_kube_runner_check_pod(struct mp_runner *r, struct mp_error *err) MP_WUR;

/* The pod of configuration x as the runner's trials ran it: runner.pod_template with x written
 * onto `container` (NULL: runner.container, else the template's only one) with the runner's GPU
 * settings, on `port` (0: runner.port, else the container's first containerPort), without the
 * template's labels (a Deployment's selector matches its own). For `export --format k8s` of a
 * kubernetes experiment: its args and ports are the template's, as in the trials (a bare
 * container's were the parameters' alone, and port 8080). *out is owned. */
int mp_kube_runner_pod(const struct mp_spec *spec, const double *x, const char *container, int port,
                       json_t **out, struct mp_error *err) MP_WUR;
/* The name of the container the runner's trials tuned: runner.container, else the template's
 * only one (for `export --format k8s --base` of a Deployment with several). Owned in *out. */
int mp_kube_runner_container(const struct mp_spec *spec, char **out, struct mp_error *err) MP_WUR;

/* run() with an owner: the trial's owner object gets an ownerReference to `owner` (an object
 * with apiVersion, kind, metadata.name and metadata.uid, in the same namespace; borrowed), so
 * deleting that object deletes the trial's objects. owner NULL is ops->run. */
int mp_kube_runner_run_owned(struct mp_runner *r, const struct mp_trial_request *req,
                             const json_t *owner, struct mp_trial_result *res,
                             const atomic_bool *cancel);

/* One trial's owner object found in the cluster. */
struct mp_kube_trial_object {
    char name[MP_KUBE_RUNNER_NAME_MAX];
    int64_t trial, attempt;
    bool deleting; /* has a deletionTimestamp */
    bool foreign;  /* another run's: its MP_KUBE_LABEL_RUN is not this runner's */
};

/* The owner objects of experiment (by label) in the runner's namespace, this run's and other
 * runs' (foreign). *out is owned (free). */
int mp_kube_runner_list(struct mp_runner *r, const char *experiment,
                        struct mp_kube_trial_object **out, size_t *n, struct mp_error *err) MP_WUR;

/* Says whether the objects of (trial, attempt) should stay (true) or go. */
typedef bool mp_kube_keep_fn(void *ud, int64_t trial, int64_t attempt);

/* Deletes (Foreground) the owner of every trial of experiment that keep (NULL: none stays)
 * rejects, then waits until they are gone (watch, within runner.delete_timeout). Objects whose
 * owner is already gone are the garbage collector's. *deleted (may be NULL): how many trials'
 * owners were deleted. Only this run's objects are considered (and those of the experiment a
 * `run --restart` replaced, this store's killed run: MP_KUBE_LABEL_RUN names it): when another
 * run's exist (an
 * experiment of the same name from another store, or the operator's), nothing is deleted and
 * the answer is MP_EEXISTS naming them. */
int mp_kube_runner_reconcile(struct mp_runner *r, const char *experiment, mp_kube_keep_fn *keep,
                             void *ud, size_t *deleted, struct mp_error *err) MP_WUR;

/* Deletes one trial's objects (Foreground on its owner) and waits until they are gone; a trial
 * that has none is not an error. */
int mp_kube_runner_delete_trial(struct mp_runner *r, const char *experiment, int64_t trial,
                                int64_t attempt, struct mp_error *err) MP_WUR;

extern const struct mp_runner_ops mp_runner_kubernetes;

#endif
