/* SPDX-License-Identifier: Apache-2.0 */
/* The experiment loop: suggestion, intent, execution, recording, resumption. */
#include "engine/engine_int.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/events.h"
#include "optimizer/optimizer.h"

#define INFRA_RETRIES 2
#define BEAT_MS       10000

/* One trial as the engine tracks it. */
struct etrial {
    int64_t number;
    int64_t attempt;
    double *x;
    enum mp_trial_state state;
    enum mp_failure failure;
    bool has_value, feasible;
    bool settled; /* the measurement settled (mp_engine_unsettled) */
    bool has_margin;
    double margin; /* mp_engine_margin */
    double value;  /* objective as measured */
    int retries;
    /* in flight */
    bool running, done;
    pthread_t thread;
    struct mp_trial_result res;
    int run_rc;
};

struct engine {
    struct mp_store *st;
    const struct mp_spec *spec;
    const struct mp_engine_opts *opts;
    struct mp_runner *runner;
    struct mp_optimizer *opt;
    int64_t exp_id;
    struct etrial **trials; /* stable pointers: worker threads hold them */
    size_t n_trials;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool threaded;
    size_t in_flight;
    bool exhausted;
    bool stopping; /* the run is stopping on an error: no trial starts, not even a retry */
    char stop_reason[256];
    long best; /* index into trials */
    uint64_t seed;
    bool taken_over; /* another process claimed the experiment while this one was stopped */
    char run_id[24]; /* mp_trial_request.run_id: from the store's row (run_identity) */
    /* The runs of this name that --restart replaced, not swept yet (mp_trial_request.replaced,
     * from the store: mp_store_replaced_list), when the runner leaves objects; owned. Set by
     * the runner once its sweep removed what they left, then forgotten (drop_replaced). */
    struct mp_replaced_run *replaced;
    size_t n_replaced;
    atomic_bool replaced_swept;
    bool replaced_dropped;
    /* The heartbeat thread (beat_main): renews the claim while a trial runs longer than the
     * claim's staleness, which the record of each trial alone did not. */
    pthread_t beat;
    bool beating, beat_stop;
    pthread_cond_t beat_cond; /* signalled to stop; with lock */
    /* The spec to store once the experiment is claimed: it differs from the stored one in
     * max_trials only (a budget raised to continue), or its folder moved (moved). Owned. */
    char *new_spec_json;
    bool moved;
};

/* The optimizer's options from spec (its seed: the spec's). Configurations whose price breaks
 * a constraint on cost_per_hour are never suggested: their trials could only violate it. */
static struct mp_optimizer_opts search_opts(const struct mp_spec *spec)
{
    bool priced = mp_spec_price_limited(spec);
    return (struct mp_optimizer_opts){.seed = spec->seed,
                                      .max_trials = spec->max_trials,
                                      .settings = spec->algorithm_settings,
                                      .prior_path = spec->prior_path,
                                      .excluded = priced ? mp_spec_breaks_by_price : NULL,
                                      .excluded_ctx = spec,
                                      .skip = priced ? mp_spec_price_skip : NULL,
                                      .excluded_why = "a constraint on cost_per_hour"};
}

int mp_engine_validate_search(const struct mp_spec *spec, struct mp_error *err)
{
    const struct mp_optimizer_ops *ops = mp_optimizer_find(spec->algorithm);
    struct mp_optimizer_opts oo = search_opts(spec);
    if (mp_spec_check_cost(spec, err) != 0) {
        return err->code;
    }
    if (!ops) {
        /* The registry's message ("unknown algorithm ... (available: ...)"), placed at the
         * spec's algorithm.name. */
        struct mp_optimizer *o = NULL;
        struct mp_error unknown = {0};
        int rc = mp_optimizer_new(spec->algorithm, &spec->space, &oo, &o, &unknown);
        const struct mp_node *name = mp_doc_get(mp_doc_get(spec->doc, "algorithm"), "name");
        return name ? mp_doc_error(err, name, "%s", unknown.msg)
                    : mp_error_set(err, rc, "%s: %s", spec->source, unknown.msg);
    }
    int rc = ops->validate ? ops->validate(&spec->space, &oo, err) : 0;
    if (rc != 0) {
        /* Settings errors name their field already; those of the prior name its file (placed
         * at algorithm.prior: they were at the name); the others are about the space as the
         * algorithm sees it ("needs a finite space"): placed at the algorithm's name. */
        const struct mp_node *algo = mp_doc_get(spec->doc, "algorithm");
        const struct mp_node *name = mp_doc_get(algo, "name");
        const struct mp_node *prior = mp_doc_get(algo, "prior");
        if (prior && spec->prior_path && strstr(err->msg, spec->prior_path)) {
            name = prior;
        }
        size_t fl = name ? strlen(name->file) : 0;
        if (name && !(strncmp(err->msg, name->file, fl) == 0 && err->msg[fl] == ':')) {
            char msg[MP_ERROR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s", err->msg);
            mp_doc_error(err, name, "%s", msg);
            err->code = rc;
        }
        return rc;
    }
    /* Every {from_env}/{from_file} secret must be readable before anything runs. */
    return mp_spec_check_secrets(spec, err);
}

char *mp_engine_search_notice(const struct mp_spec *spec)
{
    const struct mp_optimizer_ops *ops = mp_optimizer_find(spec->algorithm);
    char notice[MP_ERROR_MSG_MAX + 128] = "";
    struct mp_optimizer_opts oo = search_opts(spec);
    oo.notice = notice;
    oo.notice_size = sizeof(notice);
    struct mp_error err = {0};
    if (!ops || !ops->validate || ops->validate(&spec->space, &oo, &err) != 0 || !notice[0]) {
        return NULL;
    }
    return mp_xstrdup(notice);
}

/* The grid warning of a spec with a constraint on cost_per_hour, whose priced-out
 * configurations the grid skips (search_opts): whether the budget reaches every other one, in
 * spaces of at most 2^20 configurations. Returns false when it cannot say (a larger space);
 * else *msg is the warning, NULL when the budget reaches them all. */
static bool priced_grid_warning(const struct mp_spec *spec, char **msg)
{
    const struct mp_space *s = &spec->space;
    uint64_t count = 0, affordable = 0;
    *msg = NULL;
    if (!mp_spec_price_limited(spec) || !mp_space_count(s, &count) || count > (1u << 20)) {
        return false;
    }
    double *x = mp_xcalloc(s->n, sizeof(*x));
    char last[MP_FMT_DOUBLE_MAX] = "";
    for (uint64_t i = 0; i < count; i++) {
        mp_space_from_index(s, i, x);
        if (!mp_spec_breaks_by_price(spec, x) && ++affordable == (uint64_t)spec->max_trials) {
            char buf[MP_FMT_DOUBLE_MAX];
            snprintf(last, sizeof(last), "%s", mp_space_format(s, 0, x[0], buf));
        }
    }
    free(x);
    if (affordable > (uint64_t)spec->max_trials) {
        bool pe = spec->from_pe;
        *msg =
            mp_xasprintf("grid search stops after %s = %lld of the %llu configurations a "
                         "constraint on cost_per_hour leaves of its %llu: it reaches '%s' "
                         "(the slowest parameter) = %s; raise %s or use %s",
                         pe ? "maxNumTrials" : "max_trials", (long long)spec->max_trials,
                         (unsigned long long)affordable, (unsigned long long)count,
                         s->params[0].name, last, pe ? "spec.maxNumTrials" : "algorithm.max_trials",
                         pe ? "random or BayesianOpt" : "random or bo");
    }
    return true;
}

char *mp_engine_spec_warning(const struct mp_spec *spec)
{
    bool pe = spec->from_pe;
    double size = mp_space_size(&spec->space);
    char *priced = NULL;
    if (strcmp(spec->algorithm, "grid") != 0) {
        return mp_engine_search_notice(spec);
    }
    if (isinf(size) || size <= (double)spec->max_trials || spec->space.n == 0) {
        return NULL;
    }
    if (priced_grid_warning(spec, &priced)) {
        return priced;
    }
    double levels = (double)mp_space_levels(&spec->space, 0);
    double per_first = size / levels;
    double reached = ceil((double)spec->max_trials / per_first);
    const char *first = spec->space.params[0].name;
    /* What the budget leaves out: values of the slowest parameter, or when it reaches them all,
     * configurations of its last value. */
    char *left =
        reached < levels
            ? mp_xasprintf("'%s' (the slowest parameter) takes %.0f of its %.0f values", first,
                           reached, levels)
            : mp_xasprintf("the last value of '%s' (the slowest parameter) meets %.0f of "
                           "the %.0f configurations of the others",
                           first, (double)spec->max_trials - (levels - 1) * per_first, per_first);
    char *msg = mp_xasprintf("grid search stops after %s = %lld of its %.0f configurations: %s; "
                             "raise %s or use %s",
                             pe ? "maxNumTrials" : "max_trials", (long long)spec->max_trials, size,
                             left, pe ? "spec.maxNumTrials" : "algorithm.max_trials",
                             pe ? "random or BayesianOpt" : "random or bo");
    free(left);
    return msg;
}

static int validate(const struct mp_spec *spec, bool offline, struct mp_error *err)
{
    int rc = mp_spec_check_param_names(spec, err);
    if (rc == 0) {
        rc = mp_engine_validate_search(spec, err);
    }
    if (rc != 0) {
        return rc;
    }
    const struct mp_runner_ops *r = mp_runner_find(spec->runner);
    if (!r) {
        return mp_runner_unavailable(spec, err);
    }
    if (offline && r->validate_offline) {
        return r->validate_offline(spec, err);
    }
    return r->validate ? r->validate(spec, err) : 0;
}

int mp_engine_validate(const struct mp_spec *spec, struct mp_error *err)
{
    return validate(spec, false, err);
}

int mp_engine_validate_offline(const struct mp_spec *spec, struct mp_error *err)
{
    return validate(spec, true, err);
}

static double oriented(const struct engine *e, double v)
{
    return e->spec->direction == MP_MAXIMIZE ? v : -v;
}

static bool better(const struct engine *e, size_t i)
{
    const struct etrial *t = e->trials[i];
    if (!t->feasible || !t->settled) {
        return false; /* an unsettled measurement alone never makes the best */
    }
    return e->best < 0 || oriented(e, t->value) > oriented(e, e->trials[e->best]->value);
}

/* Judges a finished result against the spec and updates what the optimizer will see. */
static void evaluate(struct engine *e, struct etrial *t)
{
    struct mp_trial_result *res = &t->res;
    mp_spec_evaluate(e->spec, t->x, res);
    double v;
    t->has_value = mp_metrics_get(&res->metrics, e->spec->objective_metric, &v) && isfinite(v);
    t->value = t->has_value ? v : NAN;
    t->state = res->state;
    t->failure = res->failure;
    t->feasible = res->state == MP_TRIAL_SUCCEEDED;
    res->unsettled = t->has_value && mp_engine_unsettled(e->spec, &res->metrics);
    t->has_margin = t->has_value && mp_engine_margin(e->spec, &res->metrics, &t->margin);
    t->settled = !res->unsettled;
}

/* A trial event's detail: its parameters, the state given, its failure and value. Owned. */
static char *event_detail(const struct engine *e, const struct etrial *t, enum mp_trial_state state)
{
    json_t *j = json_object();
    char *params = mp_space_config_json(&e->spec->space, t->x);
    json_object_set_new(j, "params", json_loads(params, 0, NULL));
    free(params);
    json_object_set_new(j, "state", json_string(mp_trial_state_name(state)));
    if (t->failure != MP_FAILURE_NONE) {
        json_object_set_new(j, "failure", json_string(mp_failure_name(t->failure)));
    }
    if (t->has_value) {
        json_object_set_new(j, "value", json_real(t->value));
        json_object_set_new(j, "settled", json_boolean(t->settled));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    char *out = mp_xstrdup(s ? s : "{}");
    free(s);
    return out;
}

static int load_trials(struct engine *e, struct mp_error *err)
{
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(e->st, e->exp_id, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    e->trials = mp_xcalloc(n + 1, sizeof(*e->trials));
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct etrial *t = mp_xcalloc(1, sizeof(*t));
        e->trials[e->n_trials++] = t;
        t->number = rows[i].number;
        t->attempt = rows[i].attempt;
        t->x = mp_xcalloc(e->spec->space.n + 1, sizeof(double));
        rc = mp_space_config_from_json(&e->spec->space, rows[i].params_json, t->x, err);
        t->state = rows[i].state;
        t->failure = rows[i].failure;
        double v;
        t->has_value =
            mp_metrics_get(&rows[i].metrics, e->spec->objective_metric, &v) && isfinite(v);
        t->value = t->has_value ? v : NAN;
        t->feasible = t->state == MP_TRIAL_SUCCEEDED;
        t->settled = rows[i].settled;
        t->has_margin = t->has_value && mp_engine_margin(e->spec, &rows[i].metrics, &t->margin);
        if (better(e, e->n_trials - 1)) {
            e->best = (long)e->n_trials - 1;
        }
    }
    mp_trial_rows_free(rows, n);
    return rc;
}

static void build_history(const struct engine *e, struct mp_observation *obs, struct mp_history *h)
{
    for (size_t i = 0; i < e->n_trials; i++) {
        const struct etrial *t = e->trials[i];
        obs[i] = (struct mp_observation){
            .x = t->x,
            .state = t->state,
            .failure = t->failure,
            .has_value = t->has_value && mp_trial_state_terminal(t->state),
            .feasible = t->feasible,
            .score = t->has_value ? oriented(e, t->value) : 0,
            .has_margin = t->has_margin,
            .margin = t->margin,
        };
    }
    h->obs = obs;
    h->n = e->n_trials;
}

static size_t count_state(const struct engine *e, enum mp_trial_state s)
{
    size_t c = 0;
    for (size_t i = 0; i < e->n_trials; i++) {
        c += e->trials[i]->state == s;
    }
    return c;
}

/* Whether a trial counts against the failed-trial budget (an SLO miss is information). */
static bool budget_failure(enum mp_trial_state state, enum mp_failure failure)
{
    return state == MP_TRIAL_FAILED && failure != MP_FAILURE_SLO_VIOLATED;
}

static size_t count_failures(const struct engine *e)
{
    size_t c = 0;
    for (size_t i = 0; i < e->n_trials; i++) {
        c += budget_failure(e->trials[i]->state, e->trials[i]->failure);
    }
    return c;
}

/* After a store refused a write (a trial's state change, a confirmation run, the experiment's
 * state): when the experiment now belongs to another process (this one was stopped past the
 * claim's staleness and a second run took it over), says so in err (MP_EBUSY) instead of the
 * bare error, and returns true. number: the trial refused, 0 for none. */
static bool taken_over(struct engine *e, int64_t number, struct mp_error *err)
{
    char id[32];
    snprintf(id, sizeof(id), "%lld", (long long)e->exp_id);
    struct mp_experiment_row row = {0};
    e->taken_over =
        mp_store_experiment_find(e->st, id, &row, NULL) == 0 && !mp_experiment_row_mine(&row);
    if (e->taken_over) {
        char who[48] = "";
        if (row.owner_pid > 0) {
            snprintf(who, sizeof(who), " (pid %lld)", (long long)row.owner_pid);
        }
        char rest[48] = "the rest continues";
        if (number > 0) {
            snprintf(rest, sizeof(rest), "trial %lld and the rest continue", (long long)number);
        }
        mp_error_set(err, MP_EBUSY,
                     "another process%s took experiment '%s' over while this one was stopped; "
                     "%s there, and this run stops",
                     who, e->spec->name, rest);
    }
    mp_experiment_row_release(&row);
    return e->taken_over;
}

/* The lowest number no trial holds. A store's numbers run 1, 2, ..., but the operator's cache,
 * rebuilt from Trial objects, lacks the number of a trial whose Trial could not be created (its
 * name was another's) while a later one was: that number is given again, not skipped. */
static int64_t next_number(const struct engine *e)
{
    bool *used = mp_xcalloc(e->n_trials + 1, sizeof(*used));
    for (size_t i = 0; i < e->n_trials; i++) {
        int64_t n = e->trials[i]->number;
        if (n >= 1 && (uint64_t)n <= e->n_trials) {
            used[n - 1] = true;
        }
    }
    size_t k = 0;
    while (used[k]) {
        k++;
    }
    free(used);
    return (int64_t)k + 1;
}

/* Asks the optimizer for a new configuration and records its intent. Returns 1 when a trial was
 * added, 0 when the space is exhausted, <0 on error. */
static int add_trial(struct engine *e, struct mp_error *err)
{
    struct mp_observation *obs = mp_xcalloc(e->n_trials + 1, sizeof(*obs));
    struct mp_history h;
    build_history(e, obs, &h);
    double *x = mp_xcalloc(e->spec->space.n + 1, sizeof(double));
    int rc = 0;
    if (e->opt->ops->should_stop &&
        e->opt->ops->should_stop(e->opt, &h, e->stop_reason, sizeof(e->stop_reason))) {
        e->exhausted = true;
        goto out;
    }
    rc = mp_optimizer_suggest(e->opt, &h, x, err);
    if (rc == MP_EEXHAUSTED) {
        snprintf(e->stop_reason, sizeof(e->stop_reason), "search space exhausted (%.200s)",
                 err->msg);
        e->exhausted = true;
        rc = 0;
        goto out;
    }
    if (rc == 0) {
        rc = mp_space_check(&e->spec->space, x, err);
    }
    if (rc != 0) {
        goto out;
    }
    int64_t number = next_number(e);
    char *params = mp_space_config_json(&e->spec->space, x);
    char *key = mp_space_key(&e->spec->space, x);
    rc = mp_store_trial_create(e->st, e->exp_id, number, params, key, err);
    free(params);
    free(key);
    if (rc == MP_ESTATE && taken_over(e, number, err)) {
        rc = MP_EBUSY;
    }
    if (rc != 0) {
        goto out;
    }
    e->trials = mp_xreallocarray(e->trials, e->n_trials + 1, sizeof(*e->trials));
    struct etrial *t = mp_xcalloc(1, sizeof(*t));
    e->trials[e->n_trials++] = t;
    t->number = number;
    t->x = x;
    t->state = MP_TRIAL_PENDING;
    x = NULL;
    rc = 1;
out:
    free(x);
    free(obs);
    return rc;
}

struct worker_arg {
    struct engine *e;
    struct etrial *t;
};

static void run_one(struct engine *e, struct etrial *t)
{
    struct mp_trial_request req = {
        .experiment = e->spec->name,
        .experiment_id = e->exp_id,
        .number = t->number,
        .attempt = t->attempt,
        .x = t->x,
        .timeout_ms = e->spec->trial_timeout_ms,
        .run_id = e->run_id,
        .replaced = e->replaced,
        .n_replaced = e->n_replaced,
        .replaced_swept = &e->replaced_swept,
    };
    mp_trial_result_init(&t->res);
    t->run_rc = e->runner->ops->run(e->runner, &req, &t->res, e->opts->cancel);
    mp_spec_scrub_result(e->spec, &t->res);
}

static void *worker(void *p)
{
    struct worker_arg *a = p;
    struct engine *e = a->e;
    struct etrial *t = a->t;
    free(a);
    run_one(e, t);
    pthread_mutex_lock(&e->lock);
    t->done = true;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

static int start_trial(struct engine *e, size_t index, struct mp_error *err)
{
    struct etrial *t = e->trials[index];
    /* In the transaction that starts it: a run killed between the two left a trial RUNNING that
     * no event announced. */
    char *detail = event_detail(e, t, MP_TRIAL_RUNNING);
    struct mp_store_event ev = {mp_engine_event_name(MP_EVENT_TRIAL_STARTED), detail};
    int rc = mp_store_trial_start_ev(e->st, e->exp_id, t->number, &t->attempt, &ev, 1, err);
    free(detail);
    if (rc == MP_ESTATE && taken_over(e, t->number, err)) {
        return MP_EBUSY;
    }
    if (rc != 0) {
        return rc;
    }
    t->state = MP_TRIAL_RUNNING;
    t->running = true;
    t->done = false;
    e->in_flight++;
    if (e->threaded) {
        struct worker_arg *a = mp_xmalloc(sizeof(*a));
        a->e = e;
        a->t = t;
        if (pthread_create(&t->thread, NULL, worker, a) != 0) {
            free(a);
            t->running = false;
            e->in_flight--;
            return mp_error_set(err, MP_ERUNTIME, "cannot start a trial thread");
        }
    }
    return rc;
}

/* Waits for (threaded) or runs (inline) the oldest in-flight trial; returns its index. */
static size_t complete_one(struct engine *e)
{
    if (!e->threaded) {
        for (size_t i = 0; i < e->n_trials; i++) {
            if (e->trials[i]->running) {
                run_one(e, e->trials[i]);
                e->trials[i]->done = true;
                return i;
            }
        }
    }
    pthread_mutex_lock(&e->lock);
    for (;;) {
        for (size_t i = 0; i < e->n_trials; i++) {
            if (e->trials[i]->running && e->trials[i]->done) {
                pthread_mutex_unlock(&e->lock);
                pthread_join(e->trials[i]->thread, NULL);
                return i;
            }
        }
        pthread_cond_wait(&e->cond, &e->lock);
    }
}

static bool cancelled(const struct engine *e)
{
    return e->opts->cancel && atomic_load(e->opts->cancel);
}

static int run_error(const struct etrial *t, struct mp_error *err)
{
    return mp_error_set(err, MP_ERUNTIME, "trial %lld: %s", (long long)t->number, t->res.run_error);
}

/* Forgets the replaced runs once the runner swept them (mp_trial_request.replaced_swept): after
 * each trial, and as the run ends. A drop that fails leaves them for the next run, whose sweep
 * finds nothing more of them. */
static void drop_replaced(struct engine *e)
{
    if (e->n_replaced == 0 || e->replaced_dropped || !atomic_load(&e->replaced_swept)) {
        return;
    }
    e->replaced_dropped = true;
    for (size_t i = 0; i < e->n_replaced; i++) {
        struct mp_error ignored = {0};
        if (mp_store_replaced_drop(e->st, e->spec->name, e->replaced[i].run_id, &ignored) != 0) {
            mp_error_clear(&ignored);
        }
    }
}

/* Stores a finished trial. Cancelled (interrupted) trials stay RUNNING in the store so that a
 * resumed engine re-runs them; infrastructure failures are retried. */
static int record(struct engine *e, size_t index, struct mp_error *err)
{
    struct etrial *t = e->trials[index];
    t->running = false;
    e->in_flight--;
    int rc = 0;
    /* Interrupted, or an attempt to retry after the interrupt or while the run stops on another
     * trial's error (a new attempt would start with the run ending): the trial runs again when
     * the experiment continues. */
    if ((t->res.state == MP_TRIAL_CANCELLED ||
         (t->run_rc < 0 && t->retries < INFRA_RETRIES && !t->res.run_error)) &&
        (cancelled(e) || e->stopping)) {
        rc = mp_store_event_add(e->st, e->exp_id, t->number,
                                mp_engine_event_name(MP_EVENT_TRIAL_INTERRUPTED), NULL, err);
        goto out;
    }
    if (t->res.run_error && !mp_trial_result_verdict(&t->res)) {
        /* The run cannot go on (docs/internals/engine.md, "Run errors"): the attempt stays
         * RUNNING and runs again when the run resumes. */
        rc = run_error(t, err);
        goto out;
    }
    if (t->res.run_error) {
        t->run_rc = 0; /* a verdict the runner reached: recorded, then the run stops */
    }
    if (t->run_rc < 0 && t->retries < INFRA_RETRIES) {
        t->retries++;
        /* Why the attempt is retried: its result is not stored anywhere else. */
        json_t *j = json_pack("{s:s}", "reason", t->res.reason ? t->res.reason : "");
        char *detail = mp_json_dumps(j, 0);
        json_decref(j);
        rc = mp_store_event_add(e->st, e->exp_id, t->number,
                                mp_engine_event_name(MP_EVENT_TRIAL_RETRY), detail, err);
        free(detail);
        mp_trial_result_release(&t->res); /* the next attempt starts from a fresh result */
        if (rc == 0) {
            rc = start_trial(e, index, err);
        }
        goto out;
    }
    if (t->run_rc < 0 && (t->res.state != MP_TRIAL_FAILED || !t->res.reason)) {
        mp_trial_result_fail(&t->res, MP_FAILURE_INFRA, "runner failure: %s",
                             mp_strerror(t->run_rc));
    } else if (t->run_rc < 0) {
        t->res.failure = MP_FAILURE_INFRA; /* keep the runner's own reason */
    }
    evaluate(e, t);
    /* The result and its events in one transaction: a run stopped between them left a
     * finished trial that the event stream never announced. */
    char *detail = event_detail(e, t, t->state);
    bool best = better(e, index);
    const struct mp_store_event ev[] = {
        {mp_engine_event_name(MP_EVENT_TRIAL_FINISHED), detail},
        {mp_engine_event_name(MP_EVENT_NEW_BEST), detail},
    };
    rc = mp_store_trial_finish_ev(e->st, e->exp_id, t->number, &t->res, ev, best ? 2 : 1, err);
    free(detail);
    if (rc == MP_ESTATE && taken_over(e, t->number, err)) {
        rc = MP_EBUSY;
        goto out;
    }
    if (rc == 0 && best) {
        e->best = (long)index;
    }
    if (rc == 0) {
        rc = mp_store_experiment_heartbeat(e->st, e->exp_id, err);
    }
    if (e->opts->progress) {
        size_t done = count_state(e, MP_TRIAL_SUCCEEDED) + count_state(e, MP_TRIAL_FAILED);
        e->opts->progress(e->opts->progress_ctx, e->spec, t->number, &t->res, done,
                          e->spec->max_trials, e->best >= 0 ? e->trials[e->best]->value : 0,
                          e->best >= 0);
    }
    if (rc == 0 && t->res.run_error) {
        rc = run_error(t, err);
    }
out:
    if (!t->running) {
        mp_trial_result_release(&t->res);
    }
    return rc;
}

static const char *cancel_reason(const struct mp_engine_opts *o)
{
    return o->cancel_reason ? o->cancel_reason : "cancelled";
}

/* Launches trials until the slots are full: first trials a previous process left unfinished,
 * then new suggestions. */
static int fill_slots(struct engine *e, struct mp_error *err)
{
    size_t done = count_state(e, MP_TRIAL_SUCCEEDED) + count_state(e, MP_TRIAL_FAILED);
    for (size_t i = 0; i < e->n_trials && e->in_flight < (size_t)e->spec->parallelism; i++) {
        struct etrial *t = e->trials[i];
        if (!t->running && !mp_trial_state_terminal(t->state)) {
            int rc = start_trial(e, i, err);
            if (rc != 0) {
                return rc;
            }
        }
    }
    while (!e->exhausted && !cancelled(e) && e->in_flight < (size_t)e->spec->parallelism &&
           done + e->in_flight < (size_t)e->spec->max_trials &&
           count_failures(e) < (size_t)e->spec->max_failed_trials + 1) {
        int rc = add_trial(e, err);
        if (rc < 0) {
            return rc;
        }
        if (rc == 0) {
            break;
        }
        if ((rc = start_trial(e, e->n_trials - 1, err)) != 0) {
            return rc;
        }
    }
    return 0;
}

static int loop(struct engine *e, struct mp_engine_summary *out, struct mp_error *err)
{
    int rc = 0;
    for (;;) {
        /* Past the failed-trial budget fill_slots still resumes the trials an interrupted run
         * left in flight (an uninterrupted run would have finished them), but adds none. */
        if (rc == 0 && !cancelled(e)) {
            rc = fill_slots(e, err);
        }
        e->stopping = rc != 0;
        if (e->in_flight == 0) {
            break;
        }
        size_t i = complete_one(e);
        drop_replaced(e);
        struct mp_error rerr = {0};
        int r = record(e, i, rc == 0 ? err : &rerr);
        rc = rc ? rc : r;
    }
    if (rc != 0) {
        return rc;
    }
    size_t done = count_state(e, MP_TRIAL_SUCCEEDED) + count_state(e, MP_TRIAL_FAILED);
    /* An interrupt after the search's last trial finished interrupts nothing: the run ends as
     * it would have (a confirmation phase still sees it). */
    bool searched = e->exhausted || done >= (size_t)e->spec->max_trials;
    if (cancelled(e) && e->opts->cancel_final && atomic_load(e->opts->cancel_final)) {
        out->state = MP_EXPERIMENT_CANCELLED;
        snprintf(e->stop_reason, sizeof(e->stop_reason), "%s", cancel_reason(e->opts));
    } else if (cancelled(e) && !searched) {
        out->state = MP_EXPERIMENT_INTERRUPTED;
        snprintf(e->stop_reason, sizeof(e->stop_reason),
                 "interrupted after %zu of %lld trials; run again to continue", done,
                 (long long)e->spec->max_trials);
    } else if (count_failures(e) > (size_t)e->spec->max_failed_trials) {
        out->state = MP_EXPERIMENT_FAILED;
        snprintf(e->stop_reason, sizeof(e->stop_reason),
                 "%zu trial%s failed (more than max_failed_trials = %lld)", count_failures(e),
                 count_failures(e) == 1 ? "" : "s", (long long)e->spec->max_failed_trials);
    } else if (count_state(e, MP_TRIAL_SUCCEEDED) == 0) {
        /* Success means a configuration to recommend: none without a successful trial. */
        out->state = MP_EXPERIMENT_FAILED;
        size_t violated = done - count_failures(e);
        char head[64] = "its one trial did not succeed", why[64] = "";
        if (done != 1) {
            snprintf(head, sizeof(head), "none of the %zu trials succeeded", done);
        }
        if (violated > 0) {
            snprintf(why, sizeof(why), " (%zu violated a constraint)", violated);
        }
        /* An exhausted search says so: every configuration was tried or broke a price limit. */
        struct mp_buf text = MP_BUF_INIT;
        mp_buf_addf(&text, "%s%s: no configuration to recommend%s%s", head, why,
                    e->exhausted ? "; " : "", e->exhausted ? e->stop_reason : "");
        snprintf(e->stop_reason, sizeof(e->stop_reason), "%s", text.data);
        mp_buf_release(&text);
    } else {
        out->state = MP_EXPERIMENT_SUCCEEDED;
        if (!e->exhausted) {
            snprintf(e->stop_reason, sizeof(e->stop_reason), "reached max_trials (%lld)",
                     (long long)e->spec->max_trials);
        }
    }
    return 0;
}

/* After a successful search: the confirmation runs, then the recommendation on their figures. An
 * interruption leaves the experiment INTERRUPTED; the next run continues the confirmation. */
static int confirm_step(struct engine *e, struct mp_engine_summary *out, struct mp_error *err)
{
    if (out->state != MP_EXPERIMENT_SUCCEEDED || e->spec->confirm_top <= 0) {
        return 0;
    }
    struct mp_confirm_phase p = {.st = e->st,
                                 .spec = e->spec,
                                 .runner = e->runner,
                                 .exp_id = e->exp_id,
                                 .run_id = e->run_id,
                                 .replaced = e->replaced,
                                 .n_replaced = e->n_replaced,
                                 .replaced_swept = &e->replaced_swept,
                                 .cancel = e->opts->cancel,
                                 .progress = e->opts->confirm_progress,
                                 .progress_ctx = e->opts->progress_ctx};
    int rc = mp_engine_confirm_phase(&p, err);
    out->confirm_runs = p.runs_made;
    out->recommended = p.recommended;
    out->most_passed = p.most_passed;
    size_t len = strlen(e->stop_reason);
    char *at = e->stop_reason + len;
    size_t room = sizeof(e->stop_reason) - len;
    if (rc == MP_ECANCELLED) {
        mp_error_clear(err);
        bool final = e->opts->cancel_final && atomic_load(e->opts->cancel_final);
        out->state = final ? MP_EXPERIMENT_CANCELLED : MP_EXPERIMENT_INTERRUPTED;
        if (final) {
            snprintf(e->stop_reason, sizeof(e->stop_reason), "%s", cancel_reason(e->opts));
        } else {
            snprintf(e->stop_reason, sizeof(e->stop_reason),
                     "interrupted during the confirmation (%zu of %zu runs); run again to "
                     "continue",
                     p.runs_done, p.runs_total);
        }
        return 0;
    }
    if (rc == 0 && p.runs_total > 0 && p.recommended > 0) {
        /* The runs of every candidate: "trial N confirmed by 6 runs" read as N's own, which
         * were 2 of them (show: "Confirmed over 3 measurements"). */
        snprintf(at, room, "; trial %lld confirmed (%zu confirmation runs in all)",
                 (long long)p.recommended, p.runs_done);
    } else if (rc == 0 && p.runs_total > 0) {
        snprintf(at, room,
                 "; no candidate passed every confirmation run: the recommendation is "
                 "unconfirmed");
    }
    return rc;
}

/* The experiment will not resume, so the trials it left PENDING or RUNNING are closed. */
static int close_unfinished(struct mp_store *st, int64_t exp_id, const char *reason,
                            struct mp_error *err)
{
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(st, exp_id, &rows, &n, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (rows[i].state != MP_TRIAL_PENDING && rows[i].state != MP_TRIAL_RUNNING) {
            continue;
        }
        struct mp_trial_result res;
        mp_trial_result_init(&res);
        res.state = MP_TRIAL_CANCELLED;
        res.reason = mp_xasprintf("experiment %s", reason);
        rc = mp_store_trial_finish(st, exp_id, rows[i].number, &res, err);
        mp_trial_result_release(&res);
    }
    mp_trial_rows_free(rows, n);
    return rc;
}

int mp_engine_cancel(struct mp_store *st, int64_t exp_id, const char *reason, struct mp_error *err)
{
    /* Claimed first, in the transaction that checks the owner: a caller's own check that no
     * process drives the experiment was apart from these writes, and a run that resumed it in
     * between had its trials closed and the experiment ended CANCELLED under it. */
    int rc = mp_store_experiment_claim(st, exp_id, (int64_t)getpid(), MP_STORE_STALE_MS, err);
    if (rc != 0) {
        return rc;
    }
    rc = close_unfinished(st, exp_id, reason, err);
    if (rc == 0) {
        rc = mp_store_experiment_set_state(st, exp_id, MP_EXPERIMENT_CANCELLED, reason, err);
    }
    struct mp_error ignored = {0};
    if (mp_store_experiment_release(st, exp_id, &ignored) != 0) {
        mp_error_clear(&ignored); /* left: a claim of this process, taken over once it ends */
    }
    return rc;
}

/* The seed rule: the spec's seed, else a random one; kept positive for SQLite. */
static uint64_t seed_of(const struct mp_spec *spec)
{
    uint64_t seed = spec->seed_given ? spec->seed : mp_mix64((uint64_t)mp_wall_ns(), getpid());
    return seed & INT64_MAX;
}

static int create(struct mp_store *st, const struct mp_spec *spec, int64_t *exp_id, uint64_t *seed,
                  struct mp_error *err)
{
    char *json = mp_spec_to_json(spec);
    *seed = seed_of(spec);
    int rc = mp_store_experiment_create(st, spec->name, json, spec->base_dir, *seed, exp_id, err);
    free(json);
    return rc;
}

int mp_engine_create(struct mp_store *st, const struct mp_spec *spec, int64_t *exp_id,
                     struct mp_error *err)
{
    uint64_t seed;
    return create(st, spec, exp_id, &seed, err);
}

/* j (a spec as JSON) without its budget, algorithm.max_trials and max_failed_trials (and an
 * algorithm block left empty by that), and without its descriptions, free text that morphling
 * ignores (a typo fixed in one refused to continue the experiment). Returns j. */
static json_t *without_budget(json_t *j)
{
    json_t *algo = json_object_get(j, "algorithm");
    json_object_del(algo, "max_trials");
    json_object_del(algo, "max_failed_trials");
    if (json_is_object(algo) && json_object_size(algo) == 0) {
        json_object_del(j, "algorithm");
    }
    json_object_del(j, "description");
    json_t *params = json_object_get(j, "parameters");
    for (size_t i = 0; i < json_array_size(params); i++) {
        json_object_del(json_array_get(params, i), "description");
    }
    return j;
}

/* Trials that count against max_trials (fill_slots): those that succeeded or failed, and those
 * an interrupted run left PENDING or RUNNING (fill_slots runs them again whatever the budget);
 * those that count against max_failed_trials (count_failures); and those a cancel closed. */
struct budget_used {
    int64_t used, unfinished, failed, cancelled;
};

static int count_budget_used(struct mp_store *st, int64_t exp_id, struct budget_used *b,
                             struct mp_error *err)
{
    struct mp_trial_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_trial_list(st, exp_id, &rows, &n, err);
    *b = (struct budget_used){0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        b->used += rows[i].state == MP_TRIAL_SUCCEEDED || rows[i].state == MP_TRIAL_FAILED;
        b->unfinished += rows[i].state == MP_TRIAL_PENDING || rows[i].state == MP_TRIAL_RUNNING;
        b->failed += budget_failure(rows[i].state, rows[i].failure);
        b->cancelled += rows[i].state == MP_TRIAL_CANCELLED;
    }
    mp_trial_rows_free(rows, n);
    return rc;
}

/* Appends to path (len bytes used, size in all) the first field where a and b differ, in the
 * spec's own notation ("runner.delay", "parameters[1].max"); nothing when they are equal. */
static void first_difference(const json_t *a, const json_t *b, char *path, size_t len, size_t size)
{
    const char *key;
    const json_t *v;
    if (len >= size || json_equal(a, b)) {
        return;
    }
    if (json_is_object(a) && json_is_object(b)) {
        for (int side = 0; side < 2; side++) {
            const json_t *x = side ? b : a, *y = side ? a : b;
            json_object_foreach ((json_t *)x, key, v) {
                if (!json_equal(v, json_object_get(y, key))) {
                    int n = snprintf(path + len, size - len, "%s%s", len ? "." : "", key);
                    first_difference(side ? json_object_get(y, key) : v,
                                     side ? v : json_object_get(y, key), path,
                                     n > 0 ? len + (size_t)n : len, size);
                    return;
                }
            }
        }
    }
    if (json_is_array(a) && json_is_array(b)) {
        for (size_t i = 0; i < json_array_size(a) || i < json_array_size(b); i++) {
            if (!json_equal(json_array_get(a, i), json_array_get(b, i))) {
                int n = snprintf(path + len, size - len, "[%zu]", i);
                first_difference(json_array_get(a, i), json_array_get(b, i), path,
                                 n > 0 ? len + (size_t)n : len, size);
                return;
            }
        }
    }
}

/* Which field, and where in the spec being run: a default written out, or an override
 * forgotten, is found at once. --restart is named with what it costs. */
static int refuse_changed_spec(const struct engine *e, const char *where, int64_t trials,
                               struct mp_error *err)
{
    const struct mp_node *at = *where && e->spec->doc ? mp_doc_find(e->spec->doc, where) : NULL;
    char pos[512] = "";
    if (at && at != e->spec->doc && at->file) {
        snprintf(pos, sizeof(pos), "%s:%u:%u: ", at->file, at->line, at->col);
    }
    return mp_error_set(
        err, MP_EINVALID,
        "%sexperiment '%s' already exists in the store with a different spec%s%s%s; "
        "use another name, or --restart to replace it (which deletes its %lld "
        "trial%s)",
        pos, e->spec->name, *where ? " (it differs at '" : "", where, *where ? "')" : "",
        (long long)trials, trials == 1 ? "" : "s");
}

/* The stored experiment row was made from another spec. When the two differ in max_trials and
 * max_failed_trials only, and neither budget is below the trials counted against it so far, the
 * experiment goes on under them (e->new_spec_json, stored once claimed), finished or not; a
 * finished one whose budget adds no trial is reported. Otherwise the spec is refused. */
static int changed_spec(struct engine *e, const struct mp_experiment_row *row, const char *json,
                        struct mp_engine_summary *out, struct mp_error *err)
{
    /* As they take effect: `max` for `maximize`, spacing in a constraint or a default written
     * out changes nothing (each was refused as another spec). */
    struct mp_spec *stored = NULL;
    struct mp_error ignored = {0};
    json_t *a, *b;
    if (mp_spec_parse(row->spec_json, strlen(row->spec_json), row->name, e->spec->base_dir, NULL, 0,
                      &stored, &ignored) == 0) {
        a = without_budget(mp_spec_comparable_json(stored));
        b = without_budget(mp_spec_comparable_json(e->spec));
    } else { /* as written */
        a = without_budget(json_loads(row->spec_json, 0, NULL));
        b = without_budget(json_loads(json, 0, NULL));
    }
    mp_spec_free(stored);
    bool budget_only = a && b && json_equal(a, b);
    char where[256] = "";
    if (a && b) {
        first_difference(a, b, where, 0, sizeof(where));
    }
    json_decref(a);
    json_decref(b);
    struct budget_used bu;
    int rc = count_budget_used(e->st, row->id, &bu, err);
    if (rc != 0) {
        return rc;
    }
    if (!budget_only) {
        return refuse_changed_spec(e, where, bu.used + bu.unfinished + bu.cancelled, err);
    }
    int64_t used = bu.used, unfinished = bu.unfinished, failed = bu.failed;
    if (bu.cancelled > 0 && e->spec->max_trials > used) {
        /* A cancel closed the trials in flight, unmeasured, and their configurations are taken
         * (a trial's state is final, its configuration unique): going on, the search never
         * measured them, and a grid skipped them for good. */
        return mp_error_set(err, MP_EINVALID,
                            "experiment '%s' was cancelled with %lld trial%s in flight, never "
                            "measured, whose configuration%s it cannot run again: a larger "
                            "max_trials cannot continue it (--restart to start again)",
                            e->spec->name, (long long)bu.cancelled, bu.cancelled == 1 ? "" : "s",
                            bu.cancelled == 1 ? "" : "s");
    }
    if (e->spec->max_trials < used + unfinished) {
        /* The interrupted trials run again on resumption: a budget that leaves them out would
         * end with more than max_trials trials. */
        char inflight[64] = "";
        if (unfinished > 0) {
            snprintf(inflight, sizeof(inflight), " (%lld of them interrupted, to run again)",
                     (long long)unfinished);
        }
        return mp_error_set(err, MP_EINVALID,
                            "experiment '%s' has %lld trials already%s; max_trials = %lld is "
                            "below them (raise it, or --restart to start again)",
                            e->spec->name, (long long)(used + unfinished), inflight,
                            (long long)e->spec->max_trials);
    }
    if (e->spec->max_failed_trials < failed) {
        /* It would stop again at once (more than max_failed_trials failed). A default one is
         * max_trials, never below the trials, so this one was given. */
        return mp_error_set(err, MP_EINVALID,
                            "experiment '%s' has %lld failed trials already; max_failed_trials = "
                            "%lld is below them (raise it, or --restart to start again)",
                            e->spec->name, (long long)failed,
                            (long long)e->spec->max_failed_trials);
    }
    if (row->state >= MP_EXPERIMENT_SUCCEEDED && e->spec->max_trials == used) {
        out->already_finished = true; /* the budget adds no trial: reported as it stands */
        out->state = row->state;
        snprintf(out->stop_reason, sizeof(out->stop_reason), "%s",
                 row->stop_reason ? row->stop_reason : "");
        return 0;
    }
    e->new_spec_json = mp_xstrdup(json);
    return 0;
}

static bool is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The run identity of the experiment in row (mp_trial_request.run_id): a hash of what the row
 * keeps from the experiment's creation on (id, seed, creation time). */
static void run_id_of(const struct mp_experiment_row *row, char *buf, size_t size)
{
    uint64_t h = mp_mix64(mp_mix64((uint64_t)row->id, row->seed), (uint64_t)row->created_at_ns);
    snprintf(buf, size, "%016llx", (unsigned long long)h);
}

/* Whether what a run of the spec stored as JSON may leave behind outlives it (its runner's
 * leaves_objects; a runner this build lacks: assumed so). */
static bool leaves_objects(const char *spec_json)
{
    json_t *spec = json_loads(spec_json ? spec_json : "{}", 0, NULL);
    const char *kind = json_string_value(json_object_get(json_object_get(spec, "runner"), "kind"));
    const struct mp_runner_ops *ops = kind ? mp_runner_find(kind) : NULL;
    bool leaves = kind && (!ops || ops->leaves_objects);
    json_decref(spec);
    return leaves;
}

/* --restart of the claimed experiment in row: deleted, and the new one created, in one
 * transaction that also keeps the replaced run (its identity and spec) for the runner's
 * start-up sweep when what it left outlives it (another namespace's objects, even). Kept in
 * the store, not in memory: a run killed before its sweep forgot it, and a later run stopped
 * at its objects as another run's, or left them in another namespace without a word. */
static int replace(struct engine *e, const struct mp_experiment_row *row, const char *json,
                   struct mp_error *err)
{
    char run_id[24];
    run_id_of(row, run_id, sizeof(run_id));
    const struct mp_spec *spec = e->spec;
    e->seed = seed_of(spec);
    return mp_store_experiment_replace(
        e->st, row->id, leaves_objects(row->spec_json) ? run_id : NULL, row->spec_json, spec->name,
        json, spec->base_dir, e->seed, &e->exp_id, err);
}

static int open_once(struct engine *e, bool restart, struct mp_engine_summary *out,
                     struct mp_error *err)
{
    const struct mp_spec *spec = e->spec;
    char *json = mp_spec_to_json(spec);
    struct mp_experiment_row row = {0};
    int rc = mp_store_experiment_find(e->st, spec->name, &row, err);
    if (rc == 0 && restart) {
        /* Never from under a live run: that run would go on writing its results into the new
         * experiment, which SQLite gives the same id, onto trials of other configurations. */
        rc = mp_store_experiment_claim(e->st, row.id, getpid(), MP_STORE_STALE_MS, err);
        if (rc == 0) {
            rc = replace(e, &row, json, err);
        }
        mp_experiment_row_release(&row);
        free(json);
        return rc;
    }
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        free(json);
        return create(e->st, spec, &e->exp_id, &e->seed, err);
    }
    if (rc == 0) {
        char hash[32];
        snprintf(hash, sizeof(hash), "%016llx", (unsigned long long)mp_hash_str(json));
        e->exp_id = row.id;
        e->seed = row.seed;
        /* Created but never run (the API creates before it starts the engine): a start. */
        out->resumed = row.state != MP_EXPERIMENT_CREATED;
        /* The stored experiment's relative paths resolve in another folder. While it exists,
         * the same text here may name other files (its own ./serve.sh): another service. One
         * that is gone has moved: the experiment goes on. */
        e->moved = row.base_dir && spec->base_dir && strcmp(row.base_dir, spec->base_dir) != 0;
        if (e->moved && is_dir(row.base_dir)) {
            rc = mp_error_set(err, MP_EINVALID,
                              "experiment '%s' already exists in the store, from a spec whose "
                              "relative paths resolve in '%s' (this one's resolve in '%s', so they "
                              "may name other files); use another name, or --restart to replace it",
                              spec->name, row.base_dir, spec->base_dir);
        } else if (strcmp(hash, row.spec_hash) != 0) {
            rc = changed_spec(e, &row, json, out, err);
        } else if (row.state >= MP_EXPERIMENT_SUCCEEDED) {
            out->already_finished = true;
            out->state = row.state;
            snprintf(out->stop_reason, sizeof(out->stop_reason), "%s",
                     row.stop_reason ? row.stop_reason : "");
        } else if (e->moved) {
            e->new_spec_json = mp_xstrdup(json); /* the new folder, stored once claimed */
        }
    }
    mp_experiment_row_release(&row);
    free(json);
    return rc;
}

static int open_experiment(struct engine *e, struct mp_engine_summary *out, struct mp_error *err)
{
    int rc = open_once(e, e->opts->restart, out, err);
    if (rc == MP_EEXISTS) {
        /* Another run created it between our lookup and our insert (two runs of a new spec
         * started together): continue that one, already replaced if we were to, and its claim
         * decides which of the two runs it. The loser said "experiment 'x' already exists". */
        mp_error_clear(err);
        rc = open_once(e, false, out, err);
    }
    return rc;
}

/* Renews the heartbeat every opts->heartbeat_ms from a handle of its own (a connection is never
 * shared between threads) until beat_end; only while this process owns the experiment. */
static void *beat_main(void *p)
{
    struct engine *e = p;
    int64_t period_ms = e->opts->heartbeat_ms > 0 ? e->opts->heartbeat_ms : BEAT_MS;
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    if (mp_store_open(mp_store_path(e->st), NULL, &st, &err) != 0) {
        return NULL; /* the beats after each trial remain */
    }
    pthread_mutex_lock(&e->lock);
    while (!e->beat_stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t ns = until.tv_nsec + (period_ms % 1000) * 1000000;
        until.tv_sec += (time_t)(period_ms / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        while (!e->beat_stop && pthread_cond_timedwait(&e->beat_cond, &e->lock, &until) == 0) {
        }
        if (e->beat_stop) {
            break;
        }
        pthread_mutex_unlock(&e->lock);
        if (mp_store_experiment_beat(st, e->exp_id, getpid(), &err) != 0) {
            mp_error_clear(&err); /* taken over, or a busy store: the next beat tries again */
        }
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    mp_store_close(st);
    return NULL;
}

static void beat_begin(struct engine *e)
{
    const char *path = mp_store_path(e->st);
    if (!path || !*path || strcmp(path, ":memory:") == 0) {
        return; /* no other process can see this store */
    }
    e->beat_stop = false;
    e->beating = pthread_create(&e->beat, NULL, beat_main, e) == 0;
}

static void beat_end(struct engine *e)
{
    if (!e->beating) {
        return;
    }
    pthread_mutex_lock(&e->lock);
    e->beat_stop = true;
    pthread_cond_broadcast(&e->beat_cond);
    pthread_mutex_unlock(&e->lock);
    pthread_join(e->beat, NULL);
    e->beating = false;
}

static void engine_release(struct engine *e)
{
    for (size_t i = 0; i < e->n_trials; i++) {
        free(e->trials[i]->x);
        free(e->trials[i]);
    }
    free(e->trials);
    free(e->new_spec_json);
    mp_replaced_runs_free(e->replaced, e->n_replaced);
    mp_optimizer_free(e->opt);
    if (e->runner != e->opts->runner) {
        mp_runner_free(e->runner);
    }
    pthread_mutex_destroy(&e->lock);
    pthread_cond_destroy(&e->cond);
    pthread_cond_destroy(&e->beat_cond);
}

/* The run's identity (mp_trial_request.run_id): a hash of what the store's row keeps from the
 * experiment's creation on (id, seed, creation time), so it survives kill -9 and resume, while
 * another store's experiment of the same name (or this one after --restart) gets another. */
static int run_identity(struct engine *e, struct mp_error *err)
{
    struct mp_experiment_row row = {0};
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)e->exp_id);
    int rc = mp_store_experiment_find(e->st, id, &row, err);
    if (rc == 0) {
        run_id_of(&row, e->run_id, sizeof(e->run_id));
    }
    mp_experiment_row_release(&row);
    return rc;
}

static int prepare(struct engine *e, struct mp_error *err)
{
    const struct mp_spec *spec = e->spec;
    int rc = mp_store_experiment_claim(e->st, e->exp_id, getpid(), MP_STORE_STALE_MS, err);
    if (rc != 0 || (rc = run_identity(e, err)) != 0) {
        return rc;
    }
    if (e->new_spec_json &&
        (rc = mp_store_experiment_set_spec(e->st, e->exp_id, e->new_spec_json,
                                           e->moved ? spec->base_dir : NULL, err)) != 0) {
        return rc;
    }
    e->runner = e->opts->runner;
    if (!e->runner && (rc = mp_runner_new(spec, &e->runner, err)) != 0) {
        return rc;
    }
    struct mp_optimizer_opts oo = search_opts(spec);
    oo.seed = e->seed;
    if ((rc = mp_optimizer_new(spec->algorithm, &spec->space, &oo, &e->opt, err)) != 0) {
        return rc;
    }
    e->threaded = e->runner->ops->concurrent && spec->parallelism > 1;
    /* Replaced by --restart, in this run or one killed before its sweep: swept now. */
    if (e->runner->ops->leaves_objects &&
        (rc = mp_store_replaced_list(e->st, spec->name, &e->replaced, &e->n_replaced, err)) != 0) {
        return rc;
    }
    return load_trials(e, err);
}

int mp_engine_run(struct mp_store *st, const struct mp_spec *spec,
                  const struct mp_engine_opts *opts, struct mp_engine_summary *out,
                  struct mp_error *err)
{
    static const struct mp_engine_opts defaults = {0};
    struct mp_error local_err = {0};
    if (!err) {
        err = &local_err;
    }
    struct engine e = {.st = st, .spec = spec, .opts = opts ? opts : &defaults, .best = -1};
    pthread_mutex_init(&e.lock, NULL);
    pthread_cond_init(&e.cond, NULL);
    pthread_condattr_t monotonic;
    pthread_condattr_init(&monotonic);
    pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
    pthread_cond_init(&e.beat_cond, &monotonic);
    pthread_condattr_destroy(&monotonic);
    memset(out, 0, sizeof(*out));
    int rc = open_experiment(&e, out, err);
    out->experiment_id = e.exp_id;
    if (rc != 0 || out->already_finished) {
        engine_release(&e);
        return rc;
    }
    bool claimed = false;
    if ((rc = prepare(&e, err)) == 0) {
        claimed = true;
        beat_begin(&e);
        const struct mp_store_event ev = {
            .kind = mp_engine_event_name(out->resumed ? MP_EVENT_EXPERIMENT_RESUMED
                                                      : MP_EVENT_EXPERIMENT_STARTED)};
        rc = mp_store_experiment_set_state_ev(st, e.exp_id, MP_EXPERIMENT_RUNNING, NULL, &ev, 1,
                                              err);
    }
    if (rc == 0 && e.opts->started) {
        e.opts->started(e.opts->progress_ctx, spec, out->resumed);
    }
    if (rc == 0) {
        rc = loop(&e, out, err);
    }
    if (rc == 0) {
        rc = confirm_step(&e, out, err);
    }
    if (rc == 0 && out->state == MP_EXPERIMENT_CANCELLED) {
        rc = close_unfinished(st, e.exp_id, e.stop_reason, err);
    }
    if (rc == 0) {
        /* The final state and its event together: a run stopped between the two left a
         * finished experiment that the event stream never announced (store.md, "Schema"). */
        snprintf(out->stop_reason, sizeof(out->stop_reason), "%s", e.stop_reason);
        char *detail = mp_xasprintf("{\"state\":\"%s\"}", mp_experiment_state_name(out->state));
        const struct mp_store_event ev = {mp_engine_event_name(MP_EVENT_EXPERIMENT_FINISHED),
                                          detail};
        rc = mp_store_experiment_set_state_ev(st, e.exp_id, out->state, out->stop_reason, &ev, 1,
                                              err);
        free(detail);
    }
    if (claimed && rc == MP_ESTATE && !e.taken_over && taken_over(&e, 0, err)) {
        rc = MP_EBUSY; /* refused past the trials: a confirmation run, an event, the state */
    }
    beat_end(&e);
    drop_replaced(&e);
    if (claimed && !e.taken_over) {
        /* Best effort: a failed engine leaves the experiment resumable. */
        struct mp_error ignored = {0};
        if (rc != 0 && mp_store_experiment_set_state(st, e.exp_id, MP_EXPERIMENT_INTERRUPTED,
                                                     err->msg, &ignored) != 0) {
            mp_error_clear(&ignored);
        }
        if (mp_store_experiment_release(st, e.exp_id, &ignored) != 0) {
            mp_error_clear(&ignored);
        }
    }
    out->succeeded = count_state(&e, MP_TRIAL_SUCCEEDED);
    out->failed = count_state(&e, MP_TRIAL_FAILED);
    out->cancelled = count_state(&e, MP_TRIAL_CANCELLED);
    engine_release(&e);
    return rc;
}
