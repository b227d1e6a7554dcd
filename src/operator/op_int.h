/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the operator: the work queue, the API call wrappers with their metrics, the health and
 * metrics listener, leader election, the experiment runs, Trial objects and status writes. */
#ifndef MP_OPERATOR_INT_H
#define MP_OPERATOR_INT_H

#include <pthread.h>

#include "operator/operator.h"
#include "store/store.h"

#define OP_GROUP   "morphling.kubedl.io"
#define OP_VERSION "v1alpha1"
#define OP_API     OP_GROUP "/" OP_VERSION

/* ---- work queue (queue.c): keys "ns/name", each processed by one worker at a time, failed
 * keys retried after a per-key exponential backoff (5 ms doubling to 60 s, as client-go's). */
struct op_qitem {
    char *key;
    bool dirty;      /* waiting to be processed (at ready_ns) */
    bool processing; /* handed out, not yet done */
    int64_t ready_ns;
    int64_t added_ns; /* when the change that queued it arrived (for the delay histogram) */
    unsigned failures;
};

struct op_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct op_qitem *items;
    size_t n;
    bool shutdown;
};

void op_queue_init(struct op_queue *q);
void op_queue_release(struct op_queue *q);
void op_queue_add(struct op_queue *q, const char *key);
void op_queue_add_after(struct op_queue *q, const char *key, int64_t delay_ms);
/* Retries key after its backoff. */
void op_queue_fail(struct op_queue *q, const char *key);
/* Resets key's backoff. */
void op_queue_forget(struct op_queue *q, const char *key);
/* Waits for a key ready now; returns it owned (and when it was added), or NULL after shutdown. */
char *op_queue_get(struct op_queue *q, int64_t *added_ns);
void op_queue_done(struct op_queue *q, const char *key);
void op_queue_shutdown(struct op_queue *q);

/* ---- metrics (metrics.c) ------------------------------------------------------------------- */
#define OP_BUCKETS 11

struct op_hist {
    uint64_t buckets[OP_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;
    double sum_s;
};

struct op_api_count {
    char verb[16];
    int code; /* HTTP status, 0 when no answer */
    uint64_t n;
};

struct op_metrics {
    pthread_mutex_t lock;
    uint64_t reconciles_ok, reconciles_err;
    struct op_hist reconcile_delay; /* change seen -> reconcile started */
    struct op_hist api_latency;
    struct op_api_count api[64];
    size_t n_api;
    uint64_t api_errors;
    uint64_t trials_finished[MP_TRIAL_CANCELLED + 1]; /* by state, since start */
};

void op_metrics_init(struct op_metrics *m);
void op_metrics_release(struct op_metrics *m);
void op_hist_add(struct op_hist *h, double s);

/* ---- the operator --------------------------------------------------------------------------- */
struct op_exp;
struct op_cand;

struct op {
    struct mp_kube_client *c;
    const struct mp_operator_opts *o;
    const struct mp_operator_runner_ops *rops;
    char *ns; /* NULL: all namespaces */
    char *work_dir;
    char *files_dir; /* an empty folder: specs' paths must resolve inside it */
    /* The operator's own service account ($POD_SERVICE_ACCOUNT in $POD_NAMESPACE, which
     * deploy/operator.yaml sets), which no experiment's pods may run as; NULL when unknown. */
    char *self_sa, *self_ns;
    char *identity;
    FILE *log;
    pthread_mutex_t lock; /* cache, exps, done */
    json_t *cache;        /* "ns/name" -> ProfilingExperiment, as JSON text (operator.c) */
    struct op_exp **exps; /* experiments being run */
    size_t n_exps;
    size_t max_running;    /* 0: no limit */
    bool waiting;          /* an experiment waits for a free run slot */
    struct mp_strset done; /* uids of experiments this process has finished */
    struct op_cand *cands; /* experiments other operators run (operator.c; the worker's) */
    /* "ns/experiment" -> array of its Trials deleted since its last reconcile, as their DELETED
     * events held them (operator.c): a finished experiment's are created again from them. */
    json_t *deleted;
    /* "ns/experiment" -> {Trial name: true}: its Trials marked OP_LABEL_RESTORING (operator.c),
     * created again by an operator that may have died before their status write. */
    json_t *restoring;
    size_t n_cands;
    atomic_bool leader, synced, failed;
    atomic_bool trim;         /* runs have ended: return freed memory once idle */
    struct mp_error fail_err; /* why failed is set (under lock) */
    struct op_queue q;
    struct op_metrics m;
    struct mp_kube_cancel *stop_token;
    /* Fired when leadership is lost: every op_* call is cancelled from then on, also one that
     * was waiting for credentials (an exec plugin run) when it fired, so that nothing is
     * written once another operator may lead. */
    struct mp_kube_cancel *fence;
};

/* A Trial created again from its DELETED event carries this label and its status as JSON in
 * the annotation until its status is written and the marks removed (operator.c): an operator
 * killed between the create and the status write leaves the Trial marked, and the next one
 * (its list of marked Trials at start, or the watch's event) writes the status. */
#define OP_LABEL_RESTORING      "morphling.kubedl.io/restoring"
#define OP_ANNOTATION_RESTORING "morphling.kubedl.io/restoring-status"

void op_log(struct op *op, const char *fmt, ...) MP_PRINTF(2, 3);
/* Stops the operator for good with err's message (a fatal watch or leadership error). */
void op_fail(struct op *op, const struct mp_error *err);
void op_enqueue_all(struct op *op);
/* Prometheus text of the operator's metrics. Owned. */
char *op_metrics_text(struct op *op);

/* API calls, counted in the metrics (api.c). verb names the call in metrics. timeout_ms bounds
 * the call, retries included (0: the client's deadline). */
int op_get(struct op *op, const struct mp_kube_ref *ref, int64_t timeout_ms, json_t **out,
           struct mp_error *err) MP_WUR;
int op_list(struct op *op, const struct mp_kube_ref *ref, const char *selector, json_t **out,
            struct mp_error *err) MP_WUR;
int op_create(struct op *op, const struct mp_kube_ref *ref, const json_t *obj, int64_t timeout_ms,
              json_t **out, struct mp_error *err) MP_WUR;
int op_update(struct op *op, const struct mp_kube_ref *ref, const json_t *obj, int64_t timeout_ms,
              json_t **out, struct mp_error *err) MP_WUR;
int op_merge_patch(struct op *op, const struct mp_kube_ref *ref, const json_t *patch, json_t **out,
                   struct mp_error *err) MP_WUR;
/* A run's writes (its Trials, its status): as op_create (timeout: the client's) and
 * op_merge_patch, cancelled once x->fence fires (its Lease, or leadership, lost), also when one
 * was waiting for credentials then. */
int op_run_create(struct op_exp *x, const struct mp_kube_ref *ref, const json_t *obj, json_t **out,
                  struct mp_error *err) MP_WUR;
int op_run_merge_patch(struct op_exp *x, const struct mp_kube_ref *ref, const json_t *patch,
                       json_t **out, struct mp_error *err) MP_WUR;
/* A core Event about obj (best effort: failures are logged). type "Normal" or "Warning". */
void op_event(struct op *op, const json_t *obj, const char *type, const char *reason,
              const char *fmt, ...) MP_PRINTF(5, 6);
/* The same, one Event per obj, type and reason, whose message is the latest: what each retry of
 * a run says differs (the attempt's pod it names), the Event must not. */
void op_event_latest(struct op *op, const json_t *obj, const char *type, const char *reason,
                     const char *fmt, ...) MP_PRINTF(5, 6);

/* Health and metrics listeners (http.c). */
struct op_http;
int op_http_start(struct op *op, struct op_http **out, struct mp_error *err) MP_WUR;
void op_http_stop(struct op_http *h);

/* Leases (lease.c): a coordination.k8s.io/v1 Lease NS/NAME, taken when free or expired, renewed
 * on its own thread, handed back on release. owner (may be NULL): the object a new Lease hangs
 * from, so the garbage collector removes it with its owner. Durations from the options. */
struct op_lease;
struct op_lease *op_lease_new(struct op *op, const char *ns, const char *name, const json_t *owner);
/* One try, its calls ending within the renew deadline: 1 when this process holds the Lease now,
 * 0 when another does (op_lease_holder), <0 on errors. */
int op_lease_try(struct op_lease *l, struct mp_error *err) MP_WUR;
/* The holder seen by the last try ("" for none). */
const char *op_lease_holder(const struct op_lease *l);
int64_t op_lease_duration_ms(const struct op_lease *l);
/* "NS/NAME" */
const char *op_lease_name(const struct op_lease *l);
/* Renews a Lease taken by op_lease_try until it is released; calls lost(ud, why) once, from the
 * renewing thread, when it could not renew within the renew deadline (it holds it no more; a
 * later try and keep may take it again). */
int op_lease_keep(struct op_lease *l, void (*lost)(void *ud, const struct mp_error *err), void *ud,
                  struct mp_error *err) MP_WUR;
/* Stops renewing and, when this process still holds the Lease, hands it back: remove deletes it,
 * else its holder is cleared. Frees l (NULL is fine). */
void op_lease_release(struct op_lease *l, bool remove);
/* Leader election: blocks until this process holds the operator's Lease (returns 0, op->leader
 * set, the Lease kept until op_lease_release; losing it fails the operator) or the operator
 * stops (MP_ECANCELLED). */
int op_lead(struct op *op, struct op_lease **out, struct mp_error *err) MP_WUR;
/* Consecutive refused (401) or credential-less calls after which a standby stops. */
#define OP_CRED_TRIES 5
/* A standby's (leader election on, not leading) failed call rc (e; what names it for the log):
 * a 401, or credentials that could not be got (the client answers an exec plugin that failed,
 * or a token file it cannot read, as a 401), is retried as client-go's leader election does while
 * a standby: returns the wait before the next try, from the retry period doubling up to the lease
 * duration, and logs it. One failed plugin run (an SSO out of reach for a moment) stopped the
 * operator before. 0: do not retry (another error, a leader, or the OP_CRED_TRIES-th such failure
 * in a row, counted in *failures: wrong credentials never leave a standby that waits, ready, for
 * ever). A leader's failed renewals lose the Lease as before. */
int64_t op_cred_retry_ms(struct op *op, int rc, int *failures, const char *what,
                         const struct mp_error *e);

/* ---- one experiment run (experiment.c, trial.c, status.c) ----------------------------------- */
struct op_trec {
    int64_t number;
    int64_t attempt;
    enum mp_trial_state state;
    bool has_value;
    bool settled; /* its measurement settled (mp_engine_unsettled): it ranks first for best */
    double value;
    char *name;
    json_t *assignment; /* samplingResult */
    char *created;      /* the Trial's creationTimestamp: its Created condition's time; or NULL */
    json_t *spec;       /* the Trial's spec: to create it again when it is deleted while it runs */
    json_t *status;     /* a finished trial's status as written (or loaded): to create it again */
};

struct op_exp {
    struct op *op;
    char *key, *ns, *name, *uid;
    json_t *pe; /* the object when the run started, its spec the run's (op_pe_for_run) */
    struct mp_spec *spec;
    void *runner;
    atomic_bool cancel;
    atomic_bool ended; /* the thread has finished; join it */
    pthread_t thread;
    pthread_mutex_t lock; /* trials */
    struct op_trec *trials;
    size_t n_trials;
    pthread_mutex_t wlock; /* status writes, in order */
    json_t *conds;         /* the conditions last written (their transition times are kept) */
    int64_t recommended;   /* the engine's recommendation (0: the best trial) */
    int64_t observed_gen;  /* status.observedGeneration (under lock) */
    char start_time[MP_KUBE_TIME_MAX];
    bool spec_recorded; /* status.runSpec written by this run (under lock) */
    /* Set when the run stopped on an error that a retry cannot mend (the spec or the Trials
     * are wrong): the experiment ends Failed with this reason. */
    const char *final_reason;
    /* What the NameInUse Events of this run said (under lock): a run that stops on such a name
     * says no RunStopped as well. */
    struct mp_strset name_in_use;
    atomic_bool write_failed; /* a Trial status could not be written: the run stops, retried */
    struct op_lease *claim;   /* the experiment's Lease, held while the run lasts */
    atomic_bool lease_lost;   /* claim could not be renewed: the run stopped */
    /* Fired with lease_lost, or when leadership is lost: the run's writes are cancelled, also
     * one waiting for credentials (op_run_create, op_run_merge_patch). */
    struct mp_kube_cancel *fence;
    /* A Trial of the experiment was deleted (the Trials' watch, operator.c): the next
     * reconcile creates finished ones again from their records (op_trials_restore). */
    atomic_bool trials_gone;
    bool other_holds; /* claim is (or may be) another operator's: not run, or lost */
    bool finished;    /* not run: the experiment had finished, or ends Failed here */
    struct mp_error write_err;
};

/* Records what a NameInUse Event of x's run said (experiment.c). */
void op_name_in_use_said(struct op_exp *x, const char *msg);
/* pe as its run sees it (spec.c): with status.runSpec, the spec its run started with, as its
 * spec. Returns a new reference. */
json_t *op_pe_for_run(const json_t *pe);
/* The experiment object pe as a spec, checked as `morphling validate` checks it (spec.c).
 * MP_EINVALID: the spec is wrong (the message names the field); other codes: the cluster could
 * not be asked (the namespace check). */
int op_parse(struct op *op, const char *key, const json_t *pe, struct mp_spec **out,
             struct mp_error *err) MP_WUR;
/* The kubernetes runner's check of spec's settings on the operator's client (runner.c). */
int op_runner_validate(struct op *op, const struct mp_spec *spec, const json_t *pe,
                       struct mp_error *err) MP_WUR;
/* Starts the run of experiment pe (as the cache holds it) on its own thread; claim (the
 * experiment's Lease as last looked at, or NULL) is taken over, also on failure. The run takes
 * the Lease (when another operator holds it, the run ends with other_holds set, the Lease in
 * claim), reads the experiment again and checks its spec (one that does not validate ends
 * Failed), keeps the Lease until it ends, and stops when it loses it. */
int op_exp_start(struct op *op, const json_t *pe, struct op_lease *claim, struct op_exp **out,
                 struct mp_error *err) MP_WUR;
/* Joins and frees an ended run. */
void op_exp_free(struct op_exp *x);

/* The engine's runner for x: Trial object first, then the trial runner, then RUNNING. */
struct mp_runner *op_trial_runner_new(struct op_exp *x);
/* Trial objects of x from the API server into st and x->trials. */
int op_trials_load(struct op_exp *x, struct mp_store *st, int64_t exp_id,
                   struct mp_error *err) MP_WUR;
/* Ends every unfinished Trial of x Killed with message why (its objects are the trial runner's
 * to remove), and records every Trial in x->trials, for the experiment's final status. */
int op_trials_kill(struct op_exp *x, const char *why, struct mp_error *err) MP_WUR;
/* Creates again trial `number`'s Trial, deleted (kubectl delete trial) while the trial ran, from
 * its record (the same name, spec, labels and owner), so that its result can be written. */
int op_trial_recreate(struct op_exp *x, int64_t number, struct mp_error *err) MP_WUR;
/* Creates again, with their results, the Trials of x's finished trials that are gone
 * (`kubectl delete trial` while the experiment runs), a Warning Event TrialDeleted each; not
 * when the experiment is gone or being deleted (its Trials go with it). */
int op_trials_restore(struct op_exp *x, struct mp_error *err) MP_WUR;
/* Writes a finished trial's result into its Trial's status. */
int op_trial_finish(struct op_exp *x, int64_t number, const struct mp_trial_result *res,
                    struct mp_error *err) MP_WUR;
struct op_trec *op_trec_find(struct op_exp *x, int64_t number);
/* The record of trial number, created when missing; x->trials stays in number order (a pointer
 * into it holds until the next record is created). Caller holds x->lock. */
struct op_trec *op_trec(struct op_exp *x, int64_t number);
/* A condition {type, status, reason, message, lastUpdateTime, lastTransitionTime: now}. New. */
json_t *op_condition(const char *type, const char *status, const char *reason, const char *message);
/* A Trial's Created condition, whose lastTransitionTime is the Trial's creationTimestamp
 * (created, NULL: now) however often its status is written again. */
json_t *op_trial_created_condition(const char *created);
/* t->created from the Trial object's creationTimestamp, when it has one. */
void op_trec_set_created(struct op_trec *t, const json_t *trial);
/* "<experiment>-<number>" */
char *op_trial_name(const char *experiment, int64_t number);

/* Sets the trial counts and name lists of a status (trialsTotal, trialsSucceeded,
 * succeededTrialList, ...) from trials in number order. A list holds the last
 * OP_STATUS_MAX_NAMES names of its state (the counts are complete, and every Trial is an object
 * of its own): unbounded, some 20,000 names would pass the API server's 1.5 MiB object limit,
 * and every later status write would fail. */
#define OP_STATUS_MAX_NAMES 1000
void op_status_trial_lists(const struct op_trec *trials, size_t n, json_t *status);
/* The experiment's status from x->trials plus the conditions given (status.c). state: NULL
 * (running), "Succeeded" or "Failed" with a reason and message. */
int op_status_write(struct op_exp *x, const char *state, const char *reason, const char *message,
                    struct mp_error *err) MP_WUR;
/* A run that stopped on an error it retries with backoff (RunStopped): the Running condition of
 * an experiment that is running (and only then) gets reason RunStopped and message, so that the
 * status, not only an Event that expires, says why nothing moves; the next run's first status
 * write says "running" again. */
int op_status_stopped(struct op_exp *x, const char *message, struct mp_error *err) MP_WUR;
/* Condition Created (waiting for one of running run slots) on an experiment that has none. */
int op_status_waiting(struct op *op, const json_t *pe, size_t running, struct mp_error *err) MP_WUR;
/* Condition Failed on an experiment whose spec does not validate. */
int op_status_invalid(struct op *op, const json_t *pe, const char *message,
                      struct mp_error *err) MP_WUR;
/* Whether the experiment's status says it has finished (Succeeded or Failed True). */
bool op_pe_finished(const json_t *pe);
/* metadata.generation of obj (0 when it has none). */
int64_t op_generation(const json_t *obj);
/* Says once per generation that an edit of pe's spec is not applied (its run started, or it has
 * finished, before it): a Warning Event SpecChangeIgnored and status.observedGeneration. x: its
 * run, or NULL. */
int op_status_observe(struct op *op, const json_t *pe, struct op_exp *x,
                      struct mp_error *err) MP_WUR;

#endif
