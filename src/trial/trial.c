/* SPDX-License-Identifier: Apache-2.0 */
/* Trial states, failure classes and metric sets. */
#include "trial/trial.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {"PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"};

static const char *const failure_names[] = {
#define MP_FAILURE_NAME(name, text) #name,
    MP_FAILURE_MAP(MP_FAILURE_NAME)
#undef MP_FAILURE_NAME
};

static const char *const failure_texts[] = {
#define MP_FAILURE_TEXT(name, text) text,
    MP_FAILURE_MAP(MP_FAILURE_TEXT)
#undef MP_FAILURE_TEXT
};

const char *mp_trial_state_name(enum mp_trial_state s)
{
    if ((size_t)s >= MP_ARRAY_LEN(state_names)) {
        return "UNKNOWN";
    }
    return state_names[s];
}

int mp_trial_state_parse(const char *name)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(state_names); i++) {
        if (strcmp(state_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

bool mp_trial_state_terminal(enum mp_trial_state s)
{
    return s == MP_TRIAL_SUCCEEDED || s == MP_TRIAL_FAILED || s == MP_TRIAL_CANCELLED;
}

bool mp_trial_transition_allowed(enum mp_trial_state from, enum mp_trial_state to)
{
    switch (from) {
    case MP_TRIAL_PENDING:
        return to == MP_TRIAL_RUNNING || to == MP_TRIAL_FAILED || to == MP_TRIAL_CANCELLED;
    case MP_TRIAL_RUNNING:
        return to == MP_TRIAL_SUCCEEDED || to == MP_TRIAL_FAILED || to == MP_TRIAL_CANCELLED;
    default:
        return false;
    }
}

const char *mp_failure_name(enum mp_failure f)
{
    if ((size_t)f >= MP_ARRAY_LEN(failure_names)) {
        return "UNKNOWN";
    }
    return failure_names[f];
}

int mp_failure_count(void)
{
    return (int)MP_ARRAY_LEN(failure_names);
}

const char *mp_failure_text(enum mp_failure f)
{
    if ((size_t)f >= MP_ARRAY_LEN(failure_texts)) {
        return "unknown failure";
    }
    return failure_texts[f];
}

int mp_failure_parse(const char *name)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(failure_names); i++) {
        if (strcmp(failure_names[i], name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

void mp_metrics_set(struct mp_metrics *m, const char *name, double value)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->names[i], name) == 0) {
            m->values[i] = value;
            return;
        }
    }
    m->names = mp_xreallocarray(m->names, m->n + 1, sizeof(*m->names));
    m->values = mp_xreallocarray(m->values, m->n + 1, sizeof(*m->values));
    m->names[m->n] = mp_xstrdup(name);
    m->values[m->n] = value;
    m->n++;
}

bool mp_metrics_get(const struct mp_metrics *m, const char *name, double *value)
{
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->names[i], name) == 0) {
            *value = m->values[i];
            return true;
        }
    }
    return false;
}

void mp_metrics_copy(struct mp_metrics *dst, const struct mp_metrics *src)
{
    for (size_t i = 0; i < src->n; i++) {
        mp_metrics_set(dst, src->names[i], src->values[i]);
    }
}

void mp_metrics_release(struct mp_metrics *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->names[i]);
    }
    free(m->names);
    free(m->values);
    m->names = NULL;
    m->values = NULL;
    m->n = 0;
}

void mp_trial_result_init(struct mp_trial_result *r)
{
    memset(r, 0, sizeof(*r));
    r->state = MP_TRIAL_SUCCEEDED;
}

void mp_trial_result_release(struct mp_trial_result *r)
{
    free(r->reason);
    mp_metrics_release(&r->metrics);
    mp_metrics_release(&r->resources);
    free(r->meta_json);
    free(r->stdout_log);
    free(r->stderr_log);
    free(r->run_error);
    memset(r, 0, sizeof(*r));
}

bool mp_trial_result_verdict(const struct mp_trial_result *r)
{
    return r->state == MP_TRIAL_SUCCEEDED ||
           (r->state == MP_TRIAL_FAILED && r->failure != MP_FAILURE_INFRA);
}

void mp_trial_result_fail(struct mp_trial_result *r, enum mp_failure f, const char *fmt, ...)
{
    struct mp_buf b = MP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mp_buf_addvf(&b, fmt, ap);
    va_end(ap);
    free(r->reason);
    r->reason = mp_buf_detach(&b);
    /* A reason quotes what services and servers said, maybe cut inside a character. */
    mp_utf8_scrub(r->reason, strlen(r->reason));
    r->state = MP_TRIAL_FAILED;
    r->failure = f;
}

/* The latency statistics of the measurement (measure.h, enum mp_stat), each reported as
 * <stat>_ms and latency_<stat>_us, and for the percentiles with an _upper bound. */
static const char *const latency_stats[] = {"p50", "p90", "p95", "p99", "p999", "max", "mean"};

static const char *latency_unit(const char *name)
{
    bool us = strncmp(name, "latency_", 8) == 0;
    const char *stat = us ? name + 8 : name;
    for (size_t i = 0; i < MP_ARRAY_LEN(latency_stats); i++) {
        size_t len = strlen(latency_stats[i]);
        if (strncmp(stat, latency_stats[i], len) != 0) {
            continue;
        }
        const char *suffix = stat + len;
        const char *unit = us ? "_us" : "_ms";
        if (strcmp(suffix, unit) == 0 ||
            (strncmp(suffix, unit, 3) == 0 && strcmp(suffix + 3, "_upper") == 0)) {
            return us ? "us" : "ms";
        }
    }
    return NULL;
}

const char *mp_metric_unit(const char *name)
{
    static const struct {
        const char *name, *unit;
    } known[] = {
        {"throughput_rps", "req/s"},
        {"throughput_rps_uncertainty", "req/s"},
        {"capacity_rps", "req/s"},
        {"saturation_rps", "req/s"},
        {"items_per_s", "items/s"},
        {"error_rate", "fraction"},
        {"late_fraction", "fraction"},
        {"lg_cpu_share", "fraction"},
        {"requests", "count"},
        {"stable", "flag"},
        {"pruned", "flag"},
        {"cpu_seconds", "s"},
        {"wall_seconds", "s"},
        {"peak_memory_bytes", "bytes"},
        {"oom_kills", "count"},
        {"cost_per_hour", "$/h"},
        {"throughput_per_cost", "req/s per $/h"},
        {"cost_per_million_requests", "$"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(known); i++) {
        if (strcmp(known[i].name, name) == 0) {
            return known[i].unit;
        }
    }
    return latency_unit(name);
}
