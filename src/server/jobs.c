/* SPDX-License-Identifier: Apache-2.0 */
/* Experiments submitted through the API run here, one background thread each, with the same
 * engine as `morphling run` and a store handle of their own. Cancelling sets the job's two
 * flags: the engine stops and, the stop being final, ends the experiment CANCELLED. Server
 * shutdown sets only the first, so the experiment is left INTERRUPTED and `morphling run` can
 * resume it. */
#include "server/server_int.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/engine.h"

struct job {
    struct mp_server *srv;
    int64_t exp_id;
    struct mp_spec *spec;
    atomic_bool cancel;      /* tells the engine to stop */
    atomic_bool user_cancel; /* the stop was asked through the API */
    atomic_bool done;
    bool reaping;                 /* a caller of mp_srv_job_stop_wait joins it (jobs_lock) */
    struct mp_srv_job_wait *wait; /* a resume waits for the engine's verdict (jobs_lock) */
    pthread_t thread;
    struct job *next;
};

/* Tells the request waiting in mp_srv_job_start (if any) how the engine began: rc 0 once it
 * claimed the experiment and set it RUNNING, else its error (or MP_ESTATE when it found the
 * experiment finished). */
static void job_decide(struct job *j, int rc, const struct mp_error *err)
{
    pthread_mutex_lock(&j->srv->jobs_lock);
    struct mp_srv_job_wait *w = j->wait;
    if (w) {
        w->decided = true;
        w->rc = rc;
        if (err) {
            w->err = *err;
        }
        j->wait = NULL;
        pthread_cond_broadcast(&j->srv->jobs_cond);
    }
    pthread_mutex_unlock(&j->srv->jobs_lock);
}

static void job_started(void *ctx, const struct mp_spec *spec, bool resumed)
{
    (void)spec;
    (void)resumed;
    job_decide(ctx, 0, NULL);
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_engine_summary sum = {0};
    int rc = mp_srv_open_store(j->srv, &st, &err);
    if (rc == 0) {
        struct mp_engine_opts eo = {.cancel = &j->cancel,
                                    .cancel_final = &j->user_cancel,
                                    .cancel_reason = "cancelled through the API",
                                    .started = job_started,
                                    .progress_ctx = j};
        rc = mp_engine_run(st, j->spec, &eo, &sum, &err);
    }
    if (rc == 0 && sum.already_finished) {
        struct mp_error fin = {0};
        mp_error_set(&fin, MP_ESTATE, "experiment '%s' has already finished (%s)", j->spec->name,
                     mp_experiment_state_name(sum.state));
        job_decide(j, MP_ESTATE, &fin);
    } else {
        job_decide(j, rc, &err); /* no-op once started */
    }
    if (rc != 0) {
        fprintf(stderr, "morphling serve: experiment %lld: %s\n", (long long)j->exp_id, err.msg);
        /* An engine that claimed the experiment left it INTERRUPTED with the error (resumable,
         * as after `morphling run`); one that failed before says so here, also resumable. */
        struct mp_experiment_row row = {0};
        struct mp_error ignored = {0};
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)j->exp_id);
        if (st && rc != MP_EBUSY && mp_store_experiment_find(st, id, &row, &ignored) == 0 &&
            row.state == MP_EXPERIMENT_CREATED &&
            mp_store_experiment_set_state(st, j->exp_id, MP_EXPERIMENT_INTERRUPTED, err.msg,
                                          &ignored) != 0) {
            mp_error_clear(&ignored);
        }
        mp_experiment_row_release(&row);
    }
    mp_store_close(st);
    atomic_store(&j->done, true);
    return NULL;
}

static void job_free(struct job *j)
{
    pthread_join(j->thread, NULL);
    mp_spec_free(j->spec);
    free(j);
}

/* Unlinks finished jobs; the caller joins and frees them. Needs jobs_lock. */
static struct job *take_finished(struct mp_server *srv)
{
    struct job *done = NULL;
    struct job **pp = &srv->jobs;
    while (*pp) {
        struct job *j = *pp;
        if (atomic_load(&j->done) && !j->reaping) {
            *pp = j->next;
            j->next = done;
            done = j;
        } else {
            pp = &j->next;
        }
    }
    return done;
}

static void free_list(struct job *j)
{
    while (j) {
        struct job *next = j->next;
        job_free(j);
        j = next;
    }
}

int mp_srv_job_reserve(struct mp_server *srv, struct mp_error *err)
{
    pthread_mutex_lock(&srv->jobs_lock);
    struct job *finished = take_finished(srv);
    unsigned taken = srv->jobs_reserved;
    for (const struct job *j = srv->jobs; j; j = j->next) {
        taken += !atomic_load(&j->done);
    }
    int rc = 0;
    if (taken >= srv->max_running) {
        rc = mp_error_set(err, MP_ETHROTTLED,
                          "%u experiments are running, as many as this server runs at once "
                          "(serve --max-running): try again when one has ended, or cancel one",
                          taken);
    } else {
        srv->jobs_reserved++;
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    free_list(finished);
    return rc;
}

void mp_srv_job_unreserve(struct mp_server *srv)
{
    pthread_mutex_lock(&srv->jobs_lock);
    srv->jobs_reserved--;
    pthread_mutex_unlock(&srv->jobs_lock);
}

static struct job *find(struct mp_server *srv, int64_t exp_id);

int mp_srv_job_start(struct mp_server *srv, struct mp_spec *spec, int64_t exp_id,
                     struct mp_srv_job_wait *wait, struct mp_error *err)
{
    struct job *j = mp_xcalloc(1, sizeof(*j));
    j->srv = srv;
    j->exp_id = exp_id;
    j->spec = spec;
    atomic_init(&j->cancel, false);
    atomic_init(&j->user_cancel, false);
    atomic_init(&j->done, false);
    j->wait = wait;
    pthread_mutex_lock(&srv->jobs_lock);
    srv->jobs_reserved--; /* the job, listed below, holds the slot from now on */
    struct job *finished = take_finished(srv);
    int rc = 0;
    if (atomic_load(&srv->stopping)) {
        rc = mp_error_set(err, MP_EUNAVAILABLE,
                          "the server is shutting down: experiment %lld is stored but not "
                          "started (`morphling run SPEC` continues it)",
                          (long long)exp_id);
    } else if (find(srv, exp_id)) {
        /* Two resumes at once: both found it stopped, and the engine's claim would let this
         * process's second engine in beside its first. */
        rc = mp_error_set(err, MP_ESTATE, "experiment '%s' is already running in this server",
                          spec->name);
    } else if (pthread_create(&j->thread, NULL, job_main, j) != 0) {
        rc = mp_error_set(err, MP_ERUNTIME, "cannot start a thread for the experiment");
    } else {
        j->next = srv->jobs;
        srv->jobs = j;
        while (wait && !wait->decided) {
            pthread_cond_wait(&srv->jobs_cond, &srv->jobs_lock);
        }
        if (wait && wait->rc != 0) {
            rc = wait->rc;
            *err = wait->err;
        }
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    free_list(finished);
    if (rc != 0 && !(wait && wait->decided)) {
        mp_spec_free(spec);
        free(j);
    }
    return rc;
}

static struct job *find(struct mp_server *srv, int64_t exp_id)
{
    for (struct job *j = srv->jobs; j; j = j->next) {
        if (j->exp_id == exp_id && !atomic_load(&j->done)) {
            return j;
        }
    }
    return NULL;
}

int mp_srv_job_cancel(struct mp_server *srv, int64_t exp_id)
{
    pthread_mutex_lock(&srv->jobs_lock);
    struct job *j = find(srv, exp_id);
    if (j) {
        atomic_store(&j->user_cancel, true);
        atomic_store(&j->cancel, true);
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    return j ? 1 : 0;
}

bool mp_srv_job_running(struct mp_server *srv, int64_t exp_id)
{
    pthread_mutex_lock(&srv->jobs_lock);
    bool running = find(srv, exp_id) != NULL;
    pthread_mutex_unlock(&srv->jobs_lock);
    return running;
}

static bool linked(const struct mp_server *srv, const struct job *j)
{
    for (const struct job *o = srv->jobs; o; o = o->next) {
        if (o == j) {
            return true;
        }
    }
    return false;
}

/* The job stays listed until it has stopped, so that a cancel meanwhile finds it (202) instead
 * of cancelling the experiment in the store under the running engine, and a second caller waits
 * for the same stop instead of deleting under it. */
void mp_srv_job_stop_wait(struct mp_server *srv, int64_t exp_id)
{
    pthread_mutex_lock(&srv->jobs_lock);
    struct job *j = srv->jobs;
    while (j && j->exp_id != exp_id) {
        j = j->next;
    }
    if (j) {
        atomic_store(&j->user_cancel, true);
        atomic_store(&j->cancel, true);
    }
    if (j && j->reaping) {
        while (linked(srv, j)) {
            pthread_cond_wait(&srv->jobs_cond, &srv->jobs_lock);
        }
        j = NULL;
    } else if (j) {
        j->reaping = true;
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    if (!j) {
        return;
    }
    pthread_join(j->thread, NULL);
    pthread_mutex_lock(&srv->jobs_lock);
    for (struct job **pp = &srv->jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    pthread_cond_broadcast(&srv->jobs_cond);
    pthread_mutex_unlock(&srv->jobs_lock);
    mp_spec_free(j->spec);
    free(j);
}

void mp_srv_jobs_shutdown(struct mp_server *srv)
{
    pthread_mutex_lock(&srv->jobs_lock);
    struct job *all = srv->jobs;
    srv->jobs = NULL;
    for (struct job *j = all; j; j = j->next) {
        atomic_store(&j->cancel, true);
    }
    pthread_mutex_unlock(&srv->jobs_lock);
    free_list(all);
}
