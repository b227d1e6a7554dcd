/* SPDX-License-Identifier: Apache-2.0 */
/* The operator's API calls, each timed and counted for /metrics, core Events, and the
 * Prometheus text of the metrics. */
#include "operator/op_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds of the histograms' buckets (the last one catches the rest). */
static const double bounds_s[OP_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    5};

void op_metrics_init(struct op_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
}

void op_metrics_release(struct op_metrics *m)
{
    pthread_mutex_destroy(&m->lock);
}

void op_hist_add(struct op_hist *h, double s)
{
    size_t i = 0;
    while (i + 1 < OP_BUCKETS && s > bounds_s[i]) {
        i++;
    }
    if (s <= bounds_s[i]) {
        h->buckets[i]++;
    }
    h->count++;
    h->sum_s += s;
}

static void record(struct op *op, const char *verb, int64_t t0, int rc,
                   const struct mp_kube_info *info)
{
    struct op_metrics *m = &op->m;
    pthread_mutex_lock(&m->lock);
    op_hist_add(&m->api_latency, (double)(mp_mono_ns() - t0) / 1e9);
    int code = info->http_status;
    struct op_api_count *hit = NULL;
    for (size_t i = 0; i < m->n_api && !hit; i++) {
        if (m->api[i].code == code && strcmp(m->api[i].verb, verb) == 0) {
            hit = &m->api[i];
        }
    }
    if (!hit && m->n_api < MP_ARRAY_LEN(m->api)) {
        hit = &m->api[m->n_api++];
        snprintf(hit->verb, sizeof(hit->verb), "%s", verb);
        hit->code = code;
    }
    if (hit) {
        hit->n++;
    }
    /* NotFound and AlreadyExists are answers the operator expects, not errors. */
    if (rc != 0 && rc != MP_ENOTFOUND && rc != MP_EEXISTS) {
        m->api_errors++;
    }
    pthread_mutex_unlock(&m->lock);
}

int op_get(struct op *op, const struct mp_kube_ref *ref, int64_t timeout_ms, json_t **out,
           struct mp_error *err)
{
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info, .timeout_ms = timeout_ms, .cancel = op->fence};
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_get(op->c, ref, &o, out, err);
    record(op, "get", t0, rc, &info);
    return rc;
}

int op_list(struct op *op, const struct mp_kube_ref *ref, const char *selector, json_t **out,
            struct mp_error *err)
{
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {
        .info = &info, .label_selector = selector, .limit = 500, .cancel = op->fence};
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_list_all(op->c, ref, &o, out, err);
    record(op, "list", t0, rc, &info);
    return rc;
}

static int create_in(struct op *op, struct mp_kube_cancel *fence, const struct mp_kube_ref *ref,
                     const json_t *obj, int64_t timeout_ms, json_t **out, struct mp_error *err)
{
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info,
                             .timeout_ms = timeout_ms,
                             .field_manager = MP_OPERATOR_MANAGER,
                             .retry_unsafe = true,
                             .cancel = fence};
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_create(op->c, ref, obj, &o, out, err);
    record(op, "create", t0, rc, &info);
    return rc;
}

int op_create(struct op *op, const struct mp_kube_ref *ref, const json_t *obj, int64_t timeout_ms,
              json_t **out, struct mp_error *err)
{
    return create_in(op, op->fence, ref, obj, timeout_ms, out, err);
}

int op_run_create(struct op_exp *x, const struct mp_kube_ref *ref, const json_t *obj, json_t **out,
                  struct mp_error *err)
{
    return create_in(x->op, x->fence, ref, obj, 0, out, err);
}

int op_update(struct op *op, const struct mp_kube_ref *ref, const json_t *obj, int64_t timeout_ms,
              json_t **out, struct mp_error *err)
{
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info,
                             .timeout_ms = timeout_ms,
                             .field_manager = MP_OPERATOR_MANAGER,
                             .cancel = op->fence};
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_update(op->c, ref, obj, &o, out, err);
    record(op, "update", t0, rc, &info);
    return rc;
}

static int merge_patch_in(struct op *op, struct mp_kube_cancel *fence,
                          const struct mp_kube_ref *ref, const json_t *patch, json_t **out,
                          struct mp_error *err)
{
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info, .field_manager = MP_OPERATOR_MANAGER, .cancel = fence};
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_patch(op->c, ref, MP_KUBE_PATCH_MERGE, patch, &o, out, err);
    record(op, "patch", t0, rc, &info);
    return rc;
}

int op_merge_patch(struct op *op, const struct mp_kube_ref *ref, const json_t *patch, json_t **out,
                   struct mp_error *err)
{
    return merge_patch_in(op, op->fence, ref, patch, out, err);
}

int op_run_merge_patch(struct op_exp *x, const struct mp_kube_ref *ref, const json_t *patch,
                       json_t **out, struct mp_error *err)
{
    return merge_patch_in(x->op, x->fence, ref, patch, out, err);
}

/* An Event that says again what one of this name says (the same object, type, reason and
 * message, or only type and reason for op_event_latest): its count and lastTimestamp move, as
 * client-go's correlator does, and its message is the latest (client-go's aggregator keeps the
 * latest of similar ones), so that a run retried with backoff shows one RunStopped "(x12 over
 * 3m)", not an Event per retry. 1: done, 0: there is none (any more), <0: errors. */
static int repeat_event(struct op *op, const struct mp_kube_ref *ref, const char *now,
                        const char *msg, struct mp_error *err)
{
    json_t *ev = NULL;
    int rc = op_get(op, ref, 0, &ev, err);
    if (rc == 0) {
        json_int_t n = json_integer_value(json_object_get(ev, "count"));
        json_object_set_new(ev, "count", json_integer(n > 0 ? n + 1 : 2));
        json_object_set_new(ev, "lastTimestamp", json_string(now));
        json_object_set_new(ev, "message", json_string(msg));
        rc = op_update(op, ref, ev, 0, NULL, err);
    }
    json_decref(ev);
    return rc == 0 ? 1 : rc == MP_ENOTFOUND ? 0 : rc;
}

static void event(struct op *op, const json_t *obj, const char *type, const char *reason,
                  bool latest, const char *msg)
{
    const char *ns = mp_kube_meta(obj, "namespace"), *name = mp_kube_meta(obj, "name");
    const char *uid = mp_kube_meta(obj, "uid");
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), false);
    /* Named after what it says, so that saying it again finds it. */
    char *key = mp_xasprintf("%s|%s|%s|%s", uid ? uid : "", type, reason, latest ? "" : msg);
    char *ev_name =
        mp_xasprintf("%.200s.%016llx", name ? name : "x", (unsigned long long)mp_hash_str(key));
    free(key);
    json_t *ev = mp_kube_object_new("v1", "Event", ns, ev_name);
    json_t *inv = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?}", "apiVersion",
                            json_string_value(json_object_get(obj, "apiVersion")), "kind",
                            json_string_value(json_object_get(obj, "kind")), "namespace", ns,
                            "name", name, "uid", uid);
    json_object_set_new(ev, "involvedObject", inv);
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "reason", json_string(reason));
    json_object_set_new(ev, "message", json_string(msg));
    json_object_set_new(ev, "firstTimestamp", json_string(now));
    json_object_set_new(ev, "lastTimestamp", json_string(now));
    json_object_set_new(ev, "count", json_integer(1));
    json_object_set_new(ev, "source", json_pack("{s:s}", "component", MP_OPERATOR_MANAGER));
    struct mp_kube_ref ref = {"", "v1", "events", ns, NULL, NULL};
    struct mp_error err = {0};
    int rc = 0;
    for (int i = 0; i < 2; i++) { /* an Event may expire between the two calls */
        mp_error_clear(&err);
        ref.name = NULL;
        if ((rc = op_create(op, &ref, ev, 0, NULL, &err)) != MP_EEXISTS) {
            break;
        }
        mp_error_clear(&err);
        ref.name = ev_name;
        if ((rc = repeat_event(op, &ref, now, msg, &err)) != 0) {
            break;
        }
    }
    if (rc < 0) {
        op_log(op, "event %s on %s/%s not recorded: %s", reason, ns, name, err.msg);
    }
    json_decref(ev);
    free(ev_name);
}

/* An Event's message, at most 1023 bytes, never cut inside a character (a reason quoting a
 * non-ASCII value): jansson takes UTF-8 only, and the Event was lost. */
static void vevent(struct op *op, const json_t *obj, const char *type, const char *reason,
                   bool latest, const char *fmt, va_list ap)
{
    char msg[1024];
    mp_vformat_text(msg, sizeof(msg), fmt, ap);
    event(op, obj, type, reason, latest, msg);
}

void op_event(struct op *op, const json_t *obj, const char *type, const char *reason,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vevent(op, obj, type, reason, false, fmt, ap);
    va_end(ap);
}

void op_event_latest(struct op *op, const json_t *obj, const char *type, const char *reason,
                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vevent(op, obj, type, reason, true, fmt, ap);
    va_end(ap);
}

/* ---- Prometheus text ------------------------------------------------------------------------ */

static void add_hist(struct mp_buf *b, const char *name, const char *help, const struct op_hist *h)
{
    mp_buf_addf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < OP_BUCKETS; i++) {
        cum += h->buckets[i];
        char num[MP_FMT_DOUBLE_MAX];
        mp_buf_addf(b, "%s_bucket{le=\"%s\"} %llu\n", name, mp_fmt_double(num, bounds_s[i]),
                    (unsigned long long)cum);
    }
    char sum[MP_FMT_DOUBLE_MAX];
    mp_buf_addf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %s\n%s_count %llu\n", name,
                (unsigned long long)h->count, name, mp_fmt_double(sum, h->sum_s), name,
                (unsigned long long)h->count);
}

/* Trials of the experiments being run, by state. */
static void trials_now(struct op *op, uint64_t *by_state)
{
    pthread_mutex_lock(&op->lock);
    for (size_t i = 0; i < op->n_exps; i++) {
        struct op_exp *x = op->exps[i];
        pthread_mutex_lock(&x->lock);
        for (size_t j = 0; j < x->n_trials; j++) {
            by_state[x->trials[j].state]++;
        }
        pthread_mutex_unlock(&x->lock);
    }
    pthread_mutex_unlock(&op->lock);
}

static void add_counts(struct mp_buf *b, struct op *op)
{
    struct op_metrics *m = &op->m;
    mp_buf_adds(b, "# HELP morphling_operator_reconciles_total Reconciles of experiments.\n"
                   "# TYPE morphling_operator_reconciles_total counter\n");
    mp_buf_addf(b, "morphling_operator_reconciles_total{result=\"ok\"} %llu\n",
                (unsigned long long)m->reconciles_ok);
    mp_buf_addf(b, "morphling_operator_reconciles_total{result=\"error\"} %llu\n",
                (unsigned long long)m->reconciles_err);
    mp_buf_adds(b, "# HELP morphling_operator_api_requests_total Kubernetes API calls by verb "
                   "and HTTP status (0: no answer).\n"
                   "# TYPE morphling_operator_api_requests_total counter\n");
    for (size_t i = 0; i < m->n_api; i++) {
        mp_buf_addf(b, "morphling_operator_api_requests_total{verb=\"%s\",code=\"%d\"} %llu\n",
                    m->api[i].verb, m->api[i].code, (unsigned long long)m->api[i].n);
    }
    mp_buf_addf(b,
                "# HELP morphling_operator_api_errors_total Failed Kubernetes API calls.\n"
                "# TYPE morphling_operator_api_errors_total counter\n"
                "morphling_operator_api_errors_total %llu\n",
                (unsigned long long)m->api_errors);
    mp_buf_adds(b, "# HELP morphling_operator_trials_finished_total Trials finished by this "
                   "process, by state.\n"
                   "# TYPE morphling_operator_trials_finished_total counter\n");
    for (int s = MP_TRIAL_SUCCEEDED; s <= MP_TRIAL_CANCELLED; s++) {
        mp_buf_addf(b, "morphling_operator_trials_finished_total{state=\"%s\"} %llu\n",
                    mp_trial_state_name((enum mp_trial_state)s),
                    (unsigned long long)m->trials_finished[s]);
    }
}

char *op_metrics_text(struct op *op)
{
    struct mp_buf b = MP_BUF_INIT;
    uint64_t now[MP_TRIAL_CANCELLED + 1] = {0};
    trials_now(op, now);
    pthread_mutex_lock(&op->lock);
    size_t n_exps = op->n_exps, n_cached = json_object_size(op->cache);
    pthread_mutex_unlock(&op->lock);
    struct op_metrics *m = &op->m;
    pthread_mutex_lock(&m->lock);
    add_counts(&b, op);
    add_hist(&b, "morphling_operator_reconcile_delay_seconds",
             "Time from a change seen (watch event, finished run) to its reconcile.",
             &m->reconcile_delay);
    add_hist(&b, "morphling_operator_api_request_duration_seconds",
             "Latency of Kubernetes API calls, retries included.", &m->api_latency);
    pthread_mutex_unlock(&m->lock);
    mp_buf_adds(&b, "# HELP morphling_operator_trials Trials of the experiments being run, by "
                    "state.\n# TYPE morphling_operator_trials gauge\n");
    for (int s = MP_TRIAL_PENDING; s <= MP_TRIAL_CANCELLED; s++) {
        mp_buf_addf(&b, "morphling_operator_trials{state=\"%s\"} %llu\n",
                    mp_trial_state_name((enum mp_trial_state)s), (unsigned long long)now[s]);
    }
    mp_buf_addf(&b,
                "# HELP morphling_operator_experiments Experiments known and being run.\n"
                "# TYPE morphling_operator_experiments gauge\n"
                "morphling_operator_experiments{state=\"known\"} %zu\n"
                "morphling_operator_experiments{state=\"running\"} %zu\n"
                "# HELP morphling_operator_leader Whether this process leads.\n"
                "# TYPE morphling_operator_leader gauge\n"
                "morphling_operator_leader %d\n",
                n_cached, n_exps, atomic_load(&op->leader) ? 1 : 0);
    return mp_buf_detach(&b);
}
