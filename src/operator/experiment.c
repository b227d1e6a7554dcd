/* SPDX-License-Identifier: Apache-2.0 */
/* One experiment's run on its own thread: the experiment's Lease taken, its spec checked (one
 * that does not validate ends Failed, InvalidSpec), a fresh SQLite cache rebuilt from its
 * Trial objects (so a run on a new operator continues where the last one stopped), the engine
 * with the Trial-object runner (trial.c), and the experiment's status after every trial and at
 * the end. A run ends when the experiment finishes, when it is deleted or the operator stops
 * (trials in flight stay Running, for the next run to re-run), on an API failure (the key is
 * retried with backoff), or, Failed for good, when the cluster refuses the runner's settings or
 * the Trials do not fit the spec. */
#include "operator/op_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/engine.h"

static void remove_cache(const char *db)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < MP_ARRAY_LEN(suffixes); i++) {
        char *p = mp_xasprintf("%s%s", db, suffixes[i]);
        (void)unlink(p);
        free(p);
    }
}

/* The Trial of a trial that has just ended was deleted while it ran (`kubectl delete trial`):
 * the trial ran to its end (its objects were the Trial's, and a runner that saw them go retried
 * it as a new attempt, which created the Trial again), and the engine holds its result, so the
 * Trial is created again with that result and the run goes on; a Warning Event says so. Without
 * it the run stopped, and the retried run lost the result and gave the number to another
 * configuration. */
static int trial_deleted(struct op_exp *x, int64_t number, const struct mp_trial_result *res,
                         struct mp_error *err)
{
    mp_error_clear(err);
    int rc = op_trial_recreate(x, number, err);
    if (rc == 0) {
        rc = op_trial_finish(x, number, res, err);
    }
    if (rc == 0) {
        char *name = op_trial_name(x->name, number);
        op_event(x->op, x->pe, "Warning", "TrialDeleted",
                 "Trial %s/%s was deleted while trial %lld ran: created again with its result "
                 "(%s); delete the experiment to stop its run",
                 x->ns, name, (long long)number, mp_trial_state_name(res->state));
        op_log(x->op, "%s: trial %lld: its Trial was deleted while it ran: created again (%s)",
               x->key, (long long)number, mp_trial_state_name(res->state));
        free(name);
    }
    return rc;
}

static void on_progress(void *ctx, const struct mp_spec *spec, int64_t number,
                        const struct mp_trial_result *res, size_t done, int64_t max_trials,
                        double best, bool have_best)
{
    (void)spec;
    (void)done;
    (void)max_trials;
    (void)best;
    (void)have_best;
    struct op_exp *x = ctx;
    if (atomic_load(&x->lease_lost)) {
        return; /* another operator may run it now: the trial stays Running, for it to re-run */
    }
    struct mp_error err = {0};
    int rc = op_trial_finish(x, number, res, &err);
    /* (Not when the run is stopping: the experiment may be gone, its Trials with it.) */
    if (rc == MP_ENOTFOUND && !atomic_load(&x->cancel)) {
        rc = trial_deleted(x, number, res, &err);
    }
    if (rc == 0) {
        rc = op_status_write(x, NULL, NULL, NULL, &err);
    }
    if (rc != 0 && !atomic_exchange(&x->write_failed, true)) {
        /* The API server must hold the result before the run goes on: stop, and let the
         * retried run re-run this trial. */
        x->write_err = err;
        atomic_store(&x->cancel, true);
    }
}

/* The end state into the status; 1 when the run was stopped before the end. */
static int finish(struct op_exp *x, const struct mp_engine_summary *sum, struct mp_error *err)
{
    if (atomic_load(&x->lease_lost)) {
        /* Another operator may run it now: no more writes, even of an end reached meanwhile (it
         * wrote Succeeded after the loss, and the other operator never took over). */
        return 1;
    }
    if (atomic_load(&x->write_failed)) {
        *err = x->write_err;
        return err->code ? err->code : MP_ERUNTIME;
    }
    if (sum->state == MP_EXPERIMENT_SUCCEEDED || sum->state == MP_EXPERIMENT_FAILED) {
        bool ok = sum->state == MP_EXPERIMENT_SUCCEEDED;
        /* As `show`: the confirmed winner, else the candidate that passed most often. */
        x->recommended = sum->recommended > 0 ? sum->recommended : sum->most_passed;
        char msg[512];
        snprintf(msg, sizeof(msg), "%zu trial(s) succeeded, %zu failed%s%s", sum->succeeded,
                 sum->failed, sum->stop_reason[0] ? ": " : "", sum->stop_reason);
        int rc = op_status_write(x, ok ? "Succeeded" : "Failed",
                                 ok ? "ExperimentSucceeded" : "ExperimentFailed", msg, err);
        if (rc == 0) {
            op_event(x->op, x->pe, ok ? "Normal" : "Warning",
                     ok ? "ExperimentSucceeded" : "ExperimentFailed", "%s", msg);
            op_log(x->op, "%s: %s: %s", x->key, ok ? "succeeded" : "failed", msg);
        }
        return rc;
    }
    if (atomic_load(&x->cancel)) {
        return 1;
    }
    return mp_error_set(err, MP_ERUNTIME, "the engine stopped (%s): %s",
                        mp_experiment_state_name(sum->state), sum->stop_reason);
}

static bool was_running(const json_t *pe)
{
    size_t i;
    json_t *c;
    json_array_foreach (json_object_get(json_object_get(pe, "status"), "conditions"), i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        if (t && strcmp(t, "Running") == 0) {
            return true;
        }
    }
    return false;
}

void op_name_in_use_said(struct op_exp *x, const char *msg)
{
    pthread_mutex_lock(&x->lock);
    mp_strset_add(&x->name_in_use, msg);
    pthread_mutex_unlock(&x->lock);
}

/* Whether a NameInUse Event of this run has said why it stopped: the run's error ends with what
 * the Event named (the engine puts "trial N: " before a trial's). */
static bool name_in_use_explains(struct op_exp *x, const char *msg)
{
    size_t n = strlen(msg);
    bool said = false;
    pthread_mutex_lock(&x->lock);
    for (size_t i = 0; i < x->name_in_use.cap && !said; i++) {
        const char *s = x->name_in_use.slots[i];
        size_t k = s ? strlen(s) : 0;
        said = s && k <= n && strcmp(msg + n - k, s) == 0;
    }
    pthread_mutex_unlock(&x->lock);
    return said;
}

/* What `morphling validate` warns of, as Warning Events SearchWarning: a grid that maxNumTrials
 * cuts short, and the spec's own warnings (a bare duration that reads like milliseconds, named
 * by the resource's field). */
static void search_warnings(struct op_exp *x)
{
    char *warning = mp_engine_spec_warning(x->spec);
    if (warning) {
        op_event(x->op, x->pe, "Warning", "SearchWarning", "%s", warning);
        free(warning);
    }
    size_t n = 0;
    char **more = mp_spec_warnings(x->spec, &n);
    for (size_t i = 0; i < n; i++) {
        op_event(x->op, x->pe, "Warning", "SearchWarning", "%s", more[i]);
    }
    mp_spec_warnings_free(more, n);
}

/* The trial runner first: it checks the runner's settings against the cluster (the namespace)
 * and removes the objects of earlier runs' trials, before any write of this run. */
static int run(struct op_exp *x, struct mp_error *err)
{
    char *db = mp_xasprintf("%s/morphling-operator-%s.db", x->op->work_dir, x->uid);
    remove_cache(db);
    struct mp_store *st = NULL;
    struct mp_runner *runner = NULL;
    int64_t exp_id = 0;
    int rc = x->op->rops->create(x->op->o->runner_ud, x->op->c, x->spec, x->pe, &x->runner, err);
    if (rc == MP_EINVALID) {
        x->final_reason = "InvalidSpec";
    } else if (rc == MP_EEXISTS) {
        /* Another run's objects of an experiment with this name (a `morphling run`): say so,
         * and retry with backoff, since that run ends. */
        op_event(x->op, x->pe, "Warning", "NameInUse", "%s", err->msg);
        op_name_in_use_said(x, err->msg);
    }
    if (rc == 0) {
        rc = mp_store_open(db, NULL, &st, err);
    }
    if (rc == 0) {
        rc = mp_engine_create(st, x->spec, &exp_id, err);
    }
    if (rc == 0 && (rc = op_trials_load(x, st, exp_id, err)) == MP_EINVALID) {
        /* Trials the spec cannot hold: the spec was edited while an operator that did not
         * keep status.runSpec ran it, or the Trials were. */
        x->final_reason = "SpecChanged";
        mp_error_prefix(err, rc, "the experiment's Trials do not fit its spec (was it edited?)");
    }
    if (rc == 0) {
        rc = op_status_write(x, NULL, NULL, NULL, err);
    }
    if (rc == 0 && !was_running(x->pe)) {
        op_event(x->op, x->pe, "Normal", "ExperimentRunning",
                 "running up to %lld trial(s), %lld "
                 "at a time",
                 (long long)x->spec->max_trials, (long long)x->spec->parallelism);
        search_warnings(x);
    }
    if (rc == 0) {
        runner = op_trial_runner_new(x);
        struct mp_engine_opts eo = {
            .cancel = &x->cancel, .progress = on_progress, .progress_ctx = x, .runner = runner};
        struct mp_engine_summary sum;
        rc = mp_engine_run(st, x->spec, &eo, &sum, err);
        if (rc == 0 || atomic_load(&x->write_failed)) {
            rc = finish(x, &sum, err);
        }
    }
    free(runner);
    mp_store_close(st);
    remove_cache(db);
    free(db);
    return rc;
}

/* A run that cannot be retried into success: its unfinished Trials Killed, the experiment
 * Failed with x->final_reason and the message, and a Warning Event. */
static int fail_for_good(struct op_exp *x, const char *message, struct mp_error *err)
{
    int rc = op_trials_kill(x, message, err);
    if (rc == 0) {
        rc = op_status_write(x, "Failed", x->final_reason, message, err);
    }
    if (rc == 0) {
        op_event(x->op, x->pe, "Warning", x->final_reason, "%s", message);
        op_log(x->op, "%s: failed (%s): %s", x->key, x->final_reason, message);
    }
    return rc;
}

/* The experiment's Lease could not be renewed: another operator may have taken the experiment
 * over, so this run stops at once (its unfinished trials stay for that run). */
static void claim_lost(void *ud, const struct mp_error *err)
{
    struct op_exp *x = ud;
    op_log(x->op, "%s: its Lease is lost (%s); stopping its run", x->key, err->msg);
    atomic_store(&x->lease_lost, true);
    mp_kube_cancel_fire(x->fence);
    atomic_store(&x->cancel, true);
}

/* What the run knows of its experiment, from pe (with the run's spec). */
static void adopt(struct op_exp *x, const json_t *pe)
{
    pthread_mutex_lock(&x->wlock);
    pthread_mutex_lock(&x->lock);
    json_decref(x->pe);
    x->pe = json_deep_copy(pe);
    const json_t *status = json_object_get(pe, "status");
    const char *started = json_string_value(json_object_get(status, "startTime"));
    if (started && strlen(started) < sizeof(x->start_time)) {
        snprintf(x->start_time, sizeof(x->start_time), "%s", started);
    } else if (!x->start_time[0]) {
        mp_kube_fmt_time(x->start_time, mp_wall_ns(), false);
    }
    json_decref(x->conds);
    x->conds = json_deep_copy(json_object_get(status, "conditions"));
    int64_t gen = op_generation(pe);
    x->observed_gen = gen > x->observed_gen ? gen : x->observed_gen;
    pthread_mutex_unlock(&x->lock);
    pthread_mutex_unlock(&x->wlock);
}

/* Takes the experiment's own Lease (morphling-UID beside it, owned by it), so that of two
 * operators that watch it (an --all-namespaces one and a --namespace one, or one on a laptop)
 * only one runs it, then reads the experiment again: the worker's cache may predate the last
 * status write of another operator that ran it. 1: the run goes on, with the experiment as
 * read; 0: it does not (x->other_holds: another operator holds the Lease; x->finished: the
 * experiment has finished; else it is gone: its watch event queues it again); <0: errors. */
static int take_claim(struct op_exp *x, struct mp_error *err)
{
    if (!x->claim) {
        char *name = mp_xasprintf("morphling-%s", x->uid);
        x->claim = op_lease_new(x->op, x->ns, name, x->pe);
        free(name);
    }
    int rc = op_lease_try(x->claim, err);
    x->other_holds = rc == 0;
    json_t *pe = NULL;
    if (rc == 1) {
        struct mp_kube_ref ref = {OP_GROUP, OP_VERSION, "profilingexperiments",
                                  x->ns,    x->name,    NULL};
        rc = op_get(x->op, &ref, 0, &pe, err);
    }
    if (rc < 0 && rc != MP_ENOTFOUND) {
        return mp_error_prefix(err, rc, "taking the experiment's Lease %s",
                               op_lease_name(x->claim));
    }
    mp_error_clear(err);
    bool ours = rc == 0 && pe && strcmp(mp_kube_meta(pe, "uid"), x->uid) == 0;
    x->finished = ours && op_pe_finished(pe);
    rc = ours && !x->finished;
    if (rc == 1) {
        json_t *run_pe = op_pe_for_run(pe);
        if (!json_equal(json_object_get(run_pe, "spec"), json_object_get(pe, "spec"))) {
            op_log(x->op,
                   "%s: the spec has changed since its run started; the run goes on with the "
                   "one it started with (status.runSpec)",
                   x->key);
        }
        adopt(x, run_pe);
        json_decref(run_pe);
    }
    json_decref(pe);
    return rc;
}

/* What a spec's file outside --files-dir is refused with (src/spec/path.c). */
#define FILES_REFUSED "the operator's --files-dir"

/* A spec naming a file this operator may not read (err): what to do, in the message. An
 * experiment that has run already (an operator that could read the file admitted it, and this
 * one was started without that --files-dir) is not failed for good for the operator's setting:
 * its run stops, retried with backoff (RunStopped), until an operator with the folder runs it.
 * Returns MP_EINVALID to fail the experiment, MP_ERUNTIME to retry. */
static int files_refused(struct op_exp *x, struct mp_error *err)
{
    char *msg = mp_xstrdup(err->msg);
    const char *dir = x->op->o->files_dir;
    mp_error_clear(err);
    if (was_running(x->pe)) {
        mp_error_set(err, MP_ERUNTIME,
                     "%s; the experiment ran under an operator that could read it: start this "
                     "operator with --files-dir %s and the run continues",
                     msg, dir ? "holding the file" : "DIR holding the file");
        free(msg);
        return MP_ERUNTIME;
    }
    if (dir) {
        mp_error_set(err, MP_EINVALID, "%s; put the file in %s, the operator's --files-dir", msg,
                     dir);
    } else {
        mp_error_set(err, MP_EINVALID,
                     "%s; this operator was started without --files-dir and reads no file: "
                     "start it with --files-dir DIR holding the file, or give the body inline "
                     "(requestTemplate)",
                     msg);
    }
    free(msg);
    return MP_EINVALID;
}

/* The run's spec, checked as `morphling validate` checks it: 1 to run it; 0 when it does not
 * validate (x->finished: the status says so, Failed with InvalidSpec); <0 when the cluster
 * could not be asked or the status not written. */
static int prepare(struct op_exp *x, struct mp_error *err)
{
    int rc = op_parse(x->op, x->key, x->pe, &x->spec, err);
    if (rc == 0 && !x->spec->seed_given) {
        /* The same suggestions after a restart: the seed is the experiment's uid unless set. */
        x->spec->seed = mp_hash_str(x->uid) & INT64_MAX;
        x->spec->seed_given = true;
    }
    if (rc != MP_EINVALID) {
        return rc == 0 ? 1 : rc;
    }
    if (strstr(err->msg, FILES_REFUSED) && (rc = files_refused(x, err)) != MP_EINVALID) {
        return rc;
    }
    op_log(x->op, "%s: invalid: %s", x->key, err->msg);
    char *msg = mp_xstrdup(err->msg);
    mp_error_clear(err);
    rc = op_status_invalid(x->op, x->pe, msg, err);
    free(msg);
    x->finished = rc == 0;
    return rc;
}

static void *run_thread(void *p)
{
    struct op_exp *x = p;
    struct op *op = x->op;
    struct mp_error err = {0};
    int rc = take_claim(x, &err);
    if (rc == 1) {
        rc = prepare(x, &err);
    }
    if (rc == 1 && !atomic_load(&x->cancel) &&
        (rc = op_lease_keep(x->claim, claim_lost, x, &err)) == 0) {
        op_log(op, "%s: running (uid %s)", x->key, x->uid);
        rc = run(x, &err);
        if (rc < 0 && x->final_reason) {
            struct mp_error ferr = {0};
            if ((rc = fail_for_good(x, err.msg, &ferr)) != 0) {
                err = ferr;
            }
        }
    } else if (rc >= 0) {
        rc = x->finished ? 0 : 1; /* not run: looked at again */
    }
    /* The run has stopped writing: the next one (here or elsewhere) may start at once. A Lease
     * that another operator holds, or may hold now that this run lost it, goes to the worker
     * (reap), which looks again after a lease duration (a new run at once made a lost Lease's
     * failing calls again, writes included, while another operator took over). */
    x->other_holds = x->other_holds || atomic_load(&x->lease_lost);
    char *stopped = rc < 0 ? mp_xasprintf("%s (retried with backoff)", err.msg) : NULL;
    if (stopped && !x->other_holds && !atomic_load(&x->cancel)) {
        /* Still holding the Lease: no other operator writes this status meanwhile. */
        struct mp_error serr = {0};
        if (op_status_stopped(x, stopped, &serr) != 0) {
            op_log(op, "%s: writing the stopped run's condition: %s", x->key, serr.msg);
        }
    }
    if (!x->other_holds) {
        op_lease_release(x->claim, true);
        x->claim = NULL;
    }
    char *key = mp_xstrdup(x->key);
    if (rc < 0) {
        op_log(op, "%s: run stopped: %s (retrying)", key, err.msg);
        /* Said where `kubectl describe pe` shows it (an image no attempt can pull, refused
         * rights): the experiment only looked stuck. Not a run the operator stopped itself,
         * nor one a NameInUse Event has explained. */
        if (!atomic_load(&x->cancel) && !name_in_use_explains(x, err.msg)) {
            op_event_latest(op, x->pe, "Warning", "RunStopped", "%s", stopped);
        }
    } else if (rc == 0) {
        pthread_mutex_lock(&op->lock);
        mp_strset_add(&op->done, x->uid);
        pthread_mutex_unlock(&op->lock);
    }
    free(stopped);
    atomic_store(&x->ended, true); /* x may be freed from here on */
    if (rc < 0) {
        op_queue_fail(&op->q, key);
    } else {
        op_queue_forget(&op->q, key);
        op_queue_add(&op->q, key);
    }
    free(key);
    return NULL;
}

int op_exp_start(struct op *op, const json_t *pe, struct op_lease *claim, struct op_exp **out,
                 struct mp_error *err)
{
    struct op_exp *x = mp_xcalloc(1, sizeof(*x));
    x->op = op;
    x->claim = claim;
    x->key = mp_kube_key(pe);
    x->ns = mp_xstrdup(mp_kube_meta(pe, "namespace"));
    x->name = mp_xstrdup(mp_kube_meta(pe, "name"));
    x->uid = mp_xstrdup(mp_kube_meta(pe, "uid"));
    pthread_mutex_init(&x->lock, NULL);
    pthread_mutex_init(&x->wlock, NULL);
    x->fence = mp_kube_cancel_new();
    json_t *run_pe = op_pe_for_run(pe);
    adopt(x, run_pe);
    json_decref(run_pe);
    if (pthread_create(&x->thread, NULL, run_thread, x) != 0) {
        x->thread = pthread_self();
        atomic_store(&x->ended, true);
        op_exp_free(x);
        return mp_error_set(err, MP_ERUNTIME, "cannot start a thread for an experiment");
    }
    *out = x;
    return 0;
}

void op_exp_free(struct op_exp *x)
{
    if (!x) {
        return;
    }
    if (!pthread_equal(x->thread, pthread_self())) {
        pthread_join(x->thread, NULL);
    }
    for (size_t i = 0; i < x->n_trials; i++) {
        free(x->trials[i].name);
        json_decref(x->trials[i].assignment);
        json_decref(x->trials[i].spec);
        json_decref(x->trials[i].status);
        free(x->trials[i].created);
    }
    free(x->trials);
    mp_strset_release(&x->name_in_use);
    op_lease_release(x->claim, true);
    if (x->runner) {
        x->op->rops->free(x->runner);
    }
    mp_spec_free(x->spec);
    json_decref(x->pe);
    json_decref(x->conds);
    free(x->key);
    free(x->ns);
    free(x->name);
    free(x->uid);
    pthread_mutex_destroy(&x->lock);
    pthread_mutex_destroy(&x->wlock);
    mp_kube_cancel_free(x->fence);
    free(x);
}
