/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the kubernetes runner shared by its files and the unit tests: settings
 * (kubernetes_config.c), the objects of a trial (kubernetes_objects.c), waiting on the cluster
 * (kubernetes_wait.c) and the trial itself (kubernetes.c).
 *
 * Ownership: the runner owns its settings, its pod template and (unless injected) its client.
 * Thread-safety: a trial's state lives on run()'s stack; the runner is read-only after
 * creation except for the one-time start-up sweep (under sweep_lock). */
#ifndef MP_RUNNER_KUBERNETES_INT_H
#define MP_RUNNER_KUBERNETES_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "kube/kube.h"
#include "runner/kubernetes.h"
#include "spec/spec.h"

#define MP_KUBE_DEFAULT_PORT 8500 /* the original Morphling's fixed Service port */
/* The service's log kept per trial (read_service_log): its last lines, then its last bytes, as
 * the local runner keeps the tail of its output (64 KiB by default). */
#define MP_KUBE_LOG_LINES "2000"
#define MP_KUBE_LOG_MAX   ((size_t)64 * 1024)
/* runner.load.body travels in the owner ConfigMap's binaryData (keys body-0000, ...), mounted
 * into the load pod here; a ConfigMap holds at most 1 MiB, base64 takes 4/3. */
#define MP_KUBE_BODY_DIR "/var/run/morphling/body"
#define MP_KUBE_BODY_MAX (768 * 1024)
/* How long after a trial of the run ended an Unschedulable pod still waits for what it freed
 * (the scheduler retries after a deletion with a backoff of up to 10 s), rather than being
 * judged too large for the nodes. */
#define KUBE_RESCHEDULE_NS (15 * 1000000000LL)
#define KUBE_REJUDGE_S     5 /* how often such a pod is judged again without an event */
/* Of the trial's time left when its load Job is made, what the load pod's start and the reading
 * of its result may take: the rest bounds a second measurement (`morphling load --max-time`). */
#define KUBE_LOAD_MARGIN_NS (15 * 1000000000LL)

/* runner.* of a spec with kind kubernetes (docs/spec.md, "runner: kubernetes"). Strings are
 * borrowed from the spec's document unless marked owned. */
struct mp_kube_rcfg {
    const char *ns;          /* NULL: the kubeconfig context's namespace */
    char *kubeconfig;        /* owned, absolute; NULL: $KUBECONFIG, ~/.kube/config, in-cluster */
    const char *context;     /* NULL: current-context */
    const char *container;   /* NULL: the template's only container */
    int64_t port;            /* 0: the container's first containerPort, else 8500 */
    const char *port_from;   /* where port came from, for messages (set with port) */
    int64_t startup_ns;      /* deadline of readiness after the Deployment is created */
    int64_t delete_ns;       /* deadline of the teardown */
    const char *health_path; /* HTTP readiness probe when the container has none; NULL: TCP */
    int64_t replicas;
    int replicas_param; /* the parameter with role instances and no target, -1: none */
    int gpu_sharing;    /* enum mp_gpu_sharing */
    double gpu_memory_mib;
    const char *gpu_resource;
    const char *gpu_type_label;
    const char **mig_profiles; /* owned array of borrowed strings */
    size_t n_mig_profiles;
    struct mp_gpu_label *gpu_types; /* owned array of borrowed strings */
    size_t n_gpu_types;
    const char *load_image;
    const char *load_cpu, *load_memory; /* quantities of the load Job's container */
    bool load_spread;                   /* keep the load pod off the service's nodes */
    const struct mp_node *load;         /* runner.load; may be NULL */
    const struct mp_node *load_node_selector;
    const struct mp_node *client_template; /* the user's client Job template; NULL: our load Job */
    json_t *pod_template;                  /* owned PodTemplateSpec {metadata?, spec} */
};

/* Parses and checks the runner settings of spec without touching a cluster. cfg is released by
 * mp_kube_rcfg_release, also after a failure. */
int mp_kube_rcfg_parse(const struct mp_spec *spec, struct mp_kube_rcfg *cfg,
                       struct mp_error *err) MP_WUR;
void mp_kube_rcfg_release(struct mp_kube_rcfg *cfg);
/* The pod mapping for mp_spec_render_pod. */
void mp_kube_rcfg_mapping(const struct mp_kube_rcfg *cfg, struct mp_pod_mapping *m);

/* A run that `run --restart` replaced (mp_trial_request.replaced): its run label, and the
 * namespace it ran in ("" when not on this runner). */
struct mp_kube_replaced {
    char run_id[64];
    char ns[256];
};

struct mp_kube_runner {
    struct mp_runner base;
    struct mp_kube_rcfg cfg;
    struct mp_kube_client *client;
    bool own_client;
    char ns[256];
    char load_image[256];
    bool no_sweep;
    json_t *bodies; /* runner.load.body as binaryData {body-0000: base64...}; NULL: none */
    pthread_mutex_t sweep_lock;
    bool swept;
    /* MP_KUBE_LABEL_RUN of this run's objects: opts->run_id, else the first request's run_id,
     * else made up; set once under sweep_lock before the first trial goes on, then read-only. */
    char run_id[64];
    /* `run --restart`: the replaced runs' identities and namespaces (from the first request's
     * replaced), whose objects the start-up sweep deletes too; ns "" when that run was not on
     * this runner. Set under sweep_lock like run_id. Owned. */
    struct mp_kube_replaced *replaced;
    size_t n_replaced;
    char fallback_ns[256]; /* the namespace when a spec names none (runner.namespace) */
    bool default_ns;       /* fallback_ns is the caller's default, not the kubeconfig's */
    atomic_int in_flight;  /* trials inside run(), teardown included: they hold resources */
    /* Of those, the trials whose every service pod waits Unschedulable: they hold nothing that
     * another trial's pods wait for (two such trials waited for each other). */
    atomic_int unscheduled;
    /* mp_mono_ns() when a trial last left run() (its pods deleted): the scheduler may still
     * call a waiting pod Unschedulable for a while (it retries after the deletion, with
     * backoff), so a trial alone is judged on that only KUBE_RESCHEDULE_NS later. */
    atomic_llong last_end_ns;
    /* Attempts in a row, over all trials, whose service ([0]) or load ([1]) image could not be
     * pulled; one whose image was pulled sets it back to 0 (KUBE_PULL_STREAK). */
    atomic_int pull_streak[2];
};

/* The images are the same for every configuration, so this many attempts in a row that could
 * not pull one (a trial's three attempts) stop the run with a run error, which a later run
 * resumes, instead of failing every trial in turn. */
#define KUBE_PULL_STREAK 3

/* The start-up sweep's part in the namespace of each run that `run --restart` replaced
 * (r->replaced[i].ns, when not r->ns): a Foreground delete of each owner ConfigMap there carrying
 * that run's MP_KUBE_LABEL_RUN, not waited for. A namespace that is gone is nothing to
 * do; other errors name the namespace. */
int mp_kube_runner_sweep_replaced(struct mp_runner *base, const char *experiment,
                                  struct mp_error *err) MP_WUR;

/* The trials' namespace (r->ns) as the API server has it; one the caller may not read counts
 * as usable (its creates say more). */
enum kube_ns_state { KUBE_NS_USABLE, KUBE_NS_DELETING, KUBE_NS_ABSENT };
int mp_kube_runner_namespace_state(struct mp_kube_runner *r, enum kube_ns_state *state,
                                   struct mp_error *err) MP_WUR;
/* The error of a namespace that is not usable (state DELETING or ABSENT), at runner.namespace
 * (else at runner), naming the namespace, where it came from and what to do, then `then`. Returns
 * MP_EINVALID. */
int mp_kube_runner_namespace_error(struct mp_kube_runner *r, enum kube_ns_state state,
                                   const char *then, struct mp_error *err);

/* Whether the API server refused the runner's credentials (401) or the action (403): a problem
 * of the run, never a verdict on a configuration, so it stops the run (result run_error). */
static inline bool mp_kube_runner_refused(int rc)
{
    return rc == MP_EUNAUTHORIZED || rc == MP_EFORBIDDEN;
}

/* One trial: names, labels and the objects' state. Lives on run()'s stack. */
struct kube_trial {
    struct mp_kube_runner *r;
    const struct mp_trial_request *req;
    struct mp_trial_result *res;
    const json_t *owner_ref_target; /* the caller's owner, may be NULL */
    char name[MP_KUBE_RUNNER_NAME_MAX];
    char job_name[MP_KUBE_RUNNER_NAME_MAX + 8];
    char exp_key[MP_KUBE_RUNNER_NAME_MAX];
    json_t *labels;   /* experiment, trial, attempt, managed-by */
    json_t *owner;    /* our owner ConfigMap as created */
    char made[320];   /* "configmaps/NAME, deployments/NAME, ...": what exists of the trial */
    bool owner_taken; /* the owner's name is held by an object not ours: no teardown by name */
    bool foreign;     /* an object of the trial's names is another run's: a run error */
    int64_t port;
    int64_t replicas;          /* runner.replicas, or the instances parameter's value */
    int64_t trial_deadline_ns; /* monotonic; INT64_MAX: none */
    int64_t timeout_ns;        /* the trial's: its deadline is this after its start */
    struct mp_kube_cancel *cancel_token;
    /* Set once (first sentinel wins) when an object the trial needs disappeared; the sentinel
     * then fires cancel_token. Read after the sentinels are stopped. */
    atomic_bool lost;
    char lost_reason[512];
    /* The load pod left waiting Unschedulable for other trials when its wait ended (the
     * scheduler's word): the trial's deadline passing then is INFRA, not TIMEOUT. */
    char load_waiting[300];
    /* Set by the service pods' sentinel when a tuned container exits under the load test; it
     * then fires cancel_token, so the load test ends at once (judged as after a whole one). */
    atomic_bool service_exited;
    /* A service pod whose tuned container's log becomes the trial's stdout_log (the one that
     * crashed, the first not Ready at the startup timeout, else the first listed after the load
     * test); "" when none was seen. log_previous: the crashed run's log. */
    char log_pod[256];
    bool log_previous;
    /* Counters for meta and the benchmark. */
    unsigned api_calls;
    char usage_note[300]; /* where resource use came from, or why it was not measured */
    char *left; /* owned: a released pod the teardown could not delete (refused), for the meta */
    /* A second Ctrl-C (mp_runner_hurry) ended the teardown's wait: its deletes were made, the
     * cluster finishes them. */
    bool teardown_hurried;
    int64_t t_created_ns, t_ready_ns, t_loaded_ns, t_gone_ns;
    int64_t started_ns; /* run() entered */
    int64_t waited_ns;  /* inside waits on the cluster (pods, teardown): not the runner's own */
};

/* ---- objects (kubernetes_objects.c) ---- */

/* The labels of a trial's objects with role set (owned). */
json_t *mp_kube_trial_labels(const struct kube_trial *t, const char *role);
/* Whether the trials' Deployment adds the readiness probe (the tuned container has none). */
bool mp_kube_adds_probe(const struct mp_kube_rcfg *cfg);
/* The owner ConfigMap, the Deployment of pod (a configured PodTemplateSpec), the Service and
 * the load Job, as JSON to create. */
json_t *mp_kube_owner_object(const struct kube_trial *t, const double *x);
int mp_kube_deployment_object(const struct kube_trial *t, const json_t *pod, json_t **out,
                              struct mp_error *err) MP_WUR;
json_t *mp_kube_service_object(const struct kube_trial *t);
int mp_kube_load_job_object(const struct kube_trial *t, json_t **out, struct mp_error *err) MP_WUR;
/* The user's client Job (runner.client_template) in place of the load Job: same name, labels
 * (role load) and owner, backoffLimit 0, restartPolicy Never, and the MORPHLING_* environment
 * (service address, the trial's parameters) added to its one container. */
int mp_kube_client_job_object(const struct kube_trial *t, json_t **out,
                              struct mp_error *err) MP_WUR;
/* Whose an object found in the cluster is, by its labels (pure, for tests). */
enum kube_whose {
    KUBE_OURS,      /* this trial's of this run (experiment, trial, attempt, run), not deleting */
    KUBE_OTHER_RUN, /* the experiment's (label and managed-by), another run's (MP_KUBE_LABEL_RUN) */
    KUBE_STRANGER,  /* anything else: another trial or attempt, being deleted, not ours at all */
};
enum kube_whose mp_kube_whose(const struct kube_trial *t, const json_t *obj);
/* Whether obj carries run_id as MP_KUBE_LABEL_RUN (an object without the label is no run's). */
bool mp_kube_run_owns(const char *run_id, const json_t *obj);

/* Creates obj in ref's collection; an AlreadyExists adopts the existing object when it is
 * KUBE_OURS, else is an error: another run's object (KUBE_OTHER_RUN) sets t->foreign, which
 * run() turns into a run error. *out (may be NULL) gets the object as the server has it. */
int mp_kube_create_or_adopt(struct kube_trial *t, const struct mp_kube_ref *ref, const json_t *obj,
                            json_t **out, struct mp_error *err) MP_WUR;

/* ---- waiting (kubernetes_wait.c) ---- */

/* What the pods of a selector say. */
enum kube_pods_verdict {
    KUBE_PODS_WAITING,
    KUBE_PODS_READY,  /* `want` pods Ready */
    KUBE_PODS_DONE,   /* load: the container terminated (see message, exit_code) */
    KUBE_PODS_FAILED, /* a failure class in failure, the cluster's reason in reason */
    KUBE_PODS_INFRA,  /* something the configuration is not to blame for */
};

struct kube_pods_state {
    enum kube_pods_verdict verdict;
    enum mp_failure failure;
    char reason[512];
    int exit_code;
    char *message; /* owned: the termination message of a finished container */
    int ready;
    char unready[256]; /* the first pod that is not Ready yet, "" when none */
    char crashed[256]; /* the pod whose container exited (CRASHED), "" otherwise */
    char container[256];
    bool previous;      /* the crash was an earlier run of the container (its lastState) */
    char waiting[300];  /* an Unschedulable pod left waiting (others set): the scheduler's word */
    bool deleted;       /* the verdict: a load pod was deleted before it finished */
    bool pull;          /* the verdict: a container's image could not be pulled */
    bool unschedulable; /* the verdict: the scheduler found no node for a pod */
};

/* Judges the pods of a trial (service: Ready or failing; load: terminated). An Unschedulable
 * pod is a verdict (service: STARTUP_TIMEOUT, load: INFRA) only when no other trial of the run
 * that holds resources (not all its pods Unschedulable) is in flight or ended within
 * KUBE_RESCHEDULE_NS; with `others` its resources may be held by them, so it waits (st->waiting
 * says why) until they free them or the step's deadline passes. Pure: for tests. */
void mp_kube_judge_pods(json_t *pods, bool load, int want, const char *container, bool others,
                        struct kube_pods_state *st);

/* Lists then watches pods matching selector until the verdict is not WAITING, the deadline
 * (monotonic ns) passes (returns MP_EDEADLINE), or the trial's cancel token fires
 * (MP_ECANCELLED). Dropped watches are resumed, 410 re-lists. */
int mp_kube_wait_pods(struct kube_trial *t, const char *selector, bool load, int want,
                      int64_t deadline_ns, struct kube_pods_state *st, struct mp_error *err) MP_WUR;
/* Waits until the named ConfigMap is gone (watch), within deadline_ns. */
int mp_kube_wait_gone(struct mp_kube_runner *r, struct kube_trial *t, const char *name,
                      int64_t deadline_ns, struct mp_error *err) MP_WUR;
/* Waits until the named pod is gone (watch), within deadline_ns. */
int mp_kube_wait_pod_gone(struct mp_kube_runner *r, struct kube_trial *t, const char *name,
                          int64_t deadline_ns, struct mp_error *err) MP_WUR;
void mp_kube_pods_state_release(struct kube_pods_state *st);

/* A watch, in a thread of its own, on one object the trial needs (its owner, its Deployment,
 * its load Job): when the object is deleted or starts being deleted (or, for the Deployment, is
 * scaled or edited by someone else), the trial is marked lost (the reason names `what`) and its
 * cancel token fired, so the step waiting on the pods ends at once. */
struct kube_sentinel {
    struct kube_trial *t;
    struct mp_kube_ref ref;
    char name[256];
    const char *what;     /* "owner configmap", "load job", "service pod": static */
    const char *selector; /* pods: their label selector (borrowed); NULL: one object by name */
    /* A Deployment's replicas (> 0): its spec changed by someone else (`kubectl scale`, a
     * spec.replicas not this; `kubectl set`, a generation past 1) loses the trial too; 0: not
     * checked. Set before the sentinel starts. */
    int64_t replicas;
    /* The trial's Service: its selector (owned), and t->port its port and targetPort; a Service
     * someone changed so that it no longer sends that port to these pods is lost too. NULL: not
     * checked. */
    json_t *service_selector;
    struct mp_kube_cancel *stop;
    pthread_t thread;
    bool running;
    unsigned api_calls;
};
/* Starts watching ref's object `name` (ref is copied; its strings must outlive the sentinel).
 * replicas > 0: a Deployment whose spec someone changes (scaled from replicas, or edited) is lost
 * too. */
void mp_kube_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                            const struct mp_kube_ref *ref, const char *name, const char *what,
                            int64_t replicas);
/* Starts watching the trial's Service (t->name): deleted, or its selector or port changed by
 * someone else (the load test's requests would go nowhere), the trial is lost. */
void mp_kube_service_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                                    const struct mp_kube_ref *ref);
/* Starts watching the pods of selector (borrowed; it must outlive the sentinel) that exist and
 * are not being deleted now: when one of them is deleted or starts being deleted (someone's
 * `kubectl delete pod`, an eviction, a drained node), the trial is marked lost, naming the pod
 * as the trial's `what`. For the service's pods during the load test, whose requests would
 * otherwise fail and blame the configuration. When the tuned container of one of them exits
 * (restarts), it sets service_exited and fires the cancel token. */
void mp_kube_pods_sentinel_start(struct kube_sentinel *s, struct kube_trial *t,
                                 const char *selector, const char *what);
/* Stops the watch and joins the thread; adds its API calls to the trial's. Idempotent. */
void mp_kube_sentinel_stop(struct kube_sentinel *s);

/* ---- the load result (kubernetes_load.c) ---- */

/* The load Job's arguments after the image's entrypoint: "load URL ...". Owned JSON array.
 * budget_ns: the time its measurement may take (what the trial has left, less the load pod's
 * start), which a second measurement of an unsettled one must fit in. */
int mp_kube_load_args(const struct mp_spec *spec, const struct mp_node *load, const char *url,
                      int64_t budget_ns, json_t **out, struct mp_error *err) MP_WUR;
/* Reads runner.load.body (a file, or every file of a folder in name order) into a binaryData
 * map (owned; NULL without a body). Errors name runner.load.body. */
int mp_kube_load_bodies(const struct mp_spec *spec, const struct mp_node *load, json_t **out,
                        struct mp_error *err) MP_WUR;
/* Reads the compact result of `morphling load --result` into res (metrics; FAILED for too
 * many errors or no capacity meeting the SLO). */
int mp_kube_load_result(const struct mp_node *load, const char *message,
                        struct mp_trial_result *res, struct mp_error *err) MP_WUR;
/* Reads a client Job's termination message into res: a JSON object of numbers ({"qps": 1.5}),
 * the same under "metrics" (`morphling load --result`), or a list of {name, value} (the
 * original's objectiveMetricsObserved, values may be strings). No metric, or a non-zero
 * exit_code, fails the trial (METRIC_MISSING, LOAD_ERRORS); never an error of the runner. */
void mp_kube_client_result(const char *message, int exit_code, struct mp_trial_result *res);

#endif
