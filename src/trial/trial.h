/* SPDX-License-Identifier: Apache-2.0 */
/* The trial data model shared by the engine, runners, optimizers and the store: trial states
 * and their allowed transitions, failure classes, and the named metrics a trial produces.
 *
 * States move PENDING -> RUNNING -> SUCCEEDED | FAILED | CANCELLED (PENDING may also go straight
 * to FAILED or CANCELLED). A terminal state is never left. docs/internals/store.md has the
 * full state machine; docs/internals/engine.md the failure classes.
 *
 * Ownership: mp_metrics and mp_trial_result own their strings; _release frees them.
 * Thread-safety: plain data, no shared state. */
#ifndef MP_TRIAL_H
#define MP_TRIAL_H

#include "core/core.h"

enum mp_trial_state {
    MP_TRIAL_PENDING,
    MP_TRIAL_RUNNING,
    MP_TRIAL_SUCCEEDED,
    MP_TRIAL_FAILED,
    MP_TRIAL_CANCELLED,
};

/* Why a trial failed. INFRA is our side (port, cgroup, store) and is retried rather than blamed
 * on the configuration. */
#define MP_FAILURE_MAP(X)                                                                          \
    X(NONE, "")                                                                                    \
    X(STARTUP_TIMEOUT, "the service did not become ready before its deadline")                     \
    X(CRASHED, "the service exited")                                                               \
    X(OOM_KILLED, "the service was killed for exceeding its memory limit")                         \
    X(HEALTH_FAILED, "the readiness probe failed")                                                 \
    X(SLO_VIOLATED, "measured, but a constraint was not met")                                      \
    X(LOAD_ERRORS, "too many requests failed during the load test")                                \
    X(METRIC_MISSING, "the objective metric was not produced")                                     \
    X(NOT_RECORDED, "the configuration is not in the recorded surface")                            \
    X(TIMEOUT, "the trial ran past its deadline")                                                  \
    X(INFRA, "infrastructure failure on our side")

enum mp_failure {
#define MP_FAILURE_ENUM(name, text) MP_FAILURE_##name,
    MP_FAILURE_MAP(MP_FAILURE_ENUM)
#undef MP_FAILURE_ENUM
};

const char *mp_trial_state_name(enum mp_trial_state s);
/* Parses a state name; -1 if unknown. */
int mp_trial_state_parse(const char *name);
bool mp_trial_state_terminal(enum mp_trial_state s);
bool mp_trial_transition_allowed(enum mp_trial_state from, enum mp_trial_state to);
const char *mp_failure_name(enum mp_failure f);
/* The number of failure classes, MP_FAILURE_NONE included. */
int mp_failure_count(void);
const char *mp_failure_text(enum mp_failure f);
/* Parses a failure class name; -1 if unknown. */
int mp_failure_parse(const char *name);

/* Named numeric metrics, insertion-ordered; setting an existing name overwrites it. */
struct mp_metrics {
    char **names;
    double *values;
    size_t n;
};
#define MP_METRICS_INIT                                                                            \
    {                                                                                              \
        NULL, NULL, 0                                                                              \
    }
void mp_metrics_set(struct mp_metrics *m, const char *name, double value);
/* Returns true and stores the value if present. */
bool mp_metrics_get(const struct mp_metrics *m, const char *name, double *value);
void mp_metrics_copy(struct mp_metrics *dst, const struct mp_metrics *src);
void mp_metrics_release(struct mp_metrics *m);

/* The unit of a metric that morphling itself produces (the load measurement, the resource use,
 * the metrics derived from the cost table and roles): "req/s", "ms", "us", "s", "bytes", "$/h",
 * "$", "fraction", "count", "flag", ... ; NULL for a name morphling does not produce (a replay
 * surface's own column, say). docs/spec.md lists them under `objective`. */
const char *mp_metric_unit(const char *name);

/* What a runner reports for one trial. */
struct mp_trial_result {
    enum mp_trial_state state; /* SUCCEEDED, FAILED or CANCELLED */
    enum mp_failure failure;
    char *reason; /* human detail for FAILED, may be NULL */
    struct mp_metrics metrics;
    struct mp_metrics resources; /* cpu_seconds, peak_memory_bytes, ... (runner-specific) */
    char *meta_json;             /* runner metadata (limits enforced, ports...), JSON object */
    char *stdout_log, *stderr_log;
    /* Set by the engine when the measurement did not settle (stable = 0 after the runner's
     * longer try, or an uncertainty over the threshold); stored as settled = 0. */
    bool unsettled;
    /* Set by the runner when the run itself cannot go on (its credentials are refused, objects
     * it made could not be deleted, another run uses its names): what to tell the user. The
     * engine stops the run after this trial (docs/internals/engine.md, "Run errors"). */
    char *run_error;
};
void mp_trial_result_init(struct mp_trial_result *r);
void mp_trial_result_release(struct mp_trial_result *r);
/* Whether r is a verdict on the configuration: SUCCEEDED, or FAILED for a reason other than
 * INFRA (which says nothing about the configuration). */
bool mp_trial_result_verdict(const struct mp_trial_result *r);
/* Marks r FAILED with a class and a printf-formatted reason. */
void mp_trial_result_fail(struct mp_trial_result *r, enum mp_failure f, const char *fmt, ...)
    MP_PRINTF(3, 4);

#endif
