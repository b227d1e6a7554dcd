/* SPDX-License-Identifier: Apache-2.0 */
/* The durable store (SQLite, WAL): experiments, trials, per-trial metrics, logs and metadata,
 * and an event log. Schema, migrations and the trial state machine: docs/internals/store.md.
 *
 * Guarantees:
 * - Every write runs in its own BEGIN IMMEDIATE transaction with a busy timeout, so several
 *   processes (an engine and `morphling serve`) can share one file without "database is locked".
 * - A trial's intent (number, parameters, PENDING) is committed before any side effect.
 * - State changes follow mp_trial_transition_allowed(); a terminal state is never overwritten
 *   (checked here and by a trigger in the schema).
 *
 * Ownership: row structs returned by the store own their strings; release them with the
 * matching _release / _list_free. Thread-safety: a store handle is used by one thread at a time;
 * open one handle per thread (never share a handle across fork()). */
#ifndef MP_STORE_H
#define MP_STORE_H

#include "core/core.h"
#include "trial/trial.h"

#define MP_STORE_SCHEMA_VERSION 6

struct mp_store;

struct mp_store_opts {
    int max_version;     /* migrate only up to this version (tests); 0 = latest */
    int busy_timeout_ms; /* 0 = 10000 */
    bool existing;       /* readers: MP_ENOTFOUND when there is no store at path (a mistyped
                            --db must not leave a new, empty store behind); a store this
                            process may not write is read as it is (immutable) */
};

int mp_store_open(const char *path, const struct mp_store_opts *opts, struct mp_store **out,
                  struct mp_error *err) MP_WUR;
void mp_store_close(struct mp_store *st);
/* The path the store was opened with (borrowed, valid until mp_store_close). */
const char *mp_store_path(const struct mp_store *st);
int mp_store_schema_version(struct mp_store *st, int *version, struct mp_error *err) MP_WUR;

enum mp_experiment_state {
    MP_EXPERIMENT_CREATED,
    MP_EXPERIMENT_RUNNING,
    MP_EXPERIMENT_INTERRUPTED, /* stopped before the end; `morphling run` continues it */
    MP_EXPERIMENT_SUCCEEDED,
    MP_EXPERIMENT_FAILED,
    MP_EXPERIMENT_CANCELLED,
};
const char *mp_experiment_state_name(enum mp_experiment_state s);
int mp_experiment_state_parse(const char *name);

struct mp_experiment_row {
    int64_t id;
    char *name;
    char *spec_json;
    char *base_dir;
    char *spec_hash;
    enum mp_experiment_state state;
    char *stop_reason;
    uint64_t seed;
    int64_t created_at_ns, updated_at_ns, finished_at_ns;
    int64_t owner_pid, heartbeat_at_ns;
    char *owner_pidns; /* the pid namespace of owner_pid (mp_store_experiment_claim); NULL: any */
};
void mp_experiment_row_release(struct mp_experiment_row *row);
/* A claim whose heartbeat is older than this is a dead run's: another process may take it over. */
#define MP_STORE_STALE_MS 60000
/* Whether a live process drives the experiment: its owner beat within stale_ms and, when its
 * pid is of this process's pid namespace, is alive; mp_store_experiment_claim refuses to take
 * such an experiment over. */
bool mp_experiment_row_driven(const struct mp_experiment_row *row, int64_t stale_ms);
/* Whether the row's claim is this process's (its pid in its pid namespace). */
bool mp_experiment_row_mine(const struct mp_experiment_row *row);

int mp_store_experiment_create(struct mp_store *st, const char *name, const char *spec_json,
                               const char *base_dir, uint64_t seed, int64_t *id,
                               struct mp_error *err) MP_WUR;
/* MP_ENOTFOUND when absent. `ref` is a name or a decimal id. */
int mp_store_experiment_find(struct mp_store *st, const char *ref, struct mp_experiment_row *row,
                             struct mp_error *err) MP_WUR;
int mp_store_experiment_list(struct mp_store *st, struct mp_experiment_row **rows, size_t *n,
                             struct mp_error *err) MP_WUR;
void mp_experiment_rows_free(struct mp_experiment_row *rows, size_t n);
/* Replaces the experiment's spec (and its hash) and the folder its relative paths resolve in
 * (base_dir; NULL keeps it): the engine's, for a spec that changed only in what may change
 * between runs (max_trials), or whose folder moved. */
int mp_store_experiment_set_spec(struct mp_store *st, int64_t id, const char *spec_json,
                                 const char *base_dir, struct mp_error *err) MP_WUR;
int mp_store_experiment_set_state(struct mp_store *st, int64_t id, enum mp_experiment_state state,
                                  const char *reason, struct mp_error *err) MP_WUR;
/* An event stored in the same transaction as the change it announces (mp_store_trial_start_ev,
 * mp_store_trial_finish_ev: of that trial; mp_store_experiment_set_state_ev: of the experiment,
 * trial number 0). */
struct mp_store_event {
    const char *kind;
    const char *detail_json; /* NULL: {} */
};
/* mp_store_experiment_set_state with events[0..n) appended in its transaction
 * (experiment_started with RUNNING, experiment_finished with the final state). */
int mp_store_experiment_set_state_ev(struct mp_store *st, int64_t id,
                                     enum mp_experiment_state state, const char *reason,
                                     const struct mp_store_event *events, size_t n,
                                     struct mp_error *err) MP_WUR;
/* Marks the experiment as driven by this process. MP_EBUSY when another live process holds it
 * with a heartbeat younger than stale_ms. Until released, this handle writes the experiment's
 * trials, confirmation runs, events and state only while pid still owns it: once another
 * process took it over (or deleted it), those writes fail with MP_ESTATE. */
int mp_store_experiment_claim(struct mp_store *st, int64_t id, int64_t pid, int64_t stale_ms,
                              struct mp_error *err) MP_WUR;
int mp_store_experiment_heartbeat(struct mp_store *st, int64_t id, struct mp_error *err) MP_WUR;
/* The heartbeat, only while pid owns the experiment (MP_ENOTFOUND otherwise): what a process
 * beats from a second handle while its trials run. */
int mp_store_experiment_beat(struct mp_store *st, int64_t id, int64_t pid,
                             struct mp_error *err) MP_WUR;
/* Clears the owner. On the handle that claimed id, only its own claim: one another process took
 * over is left to it (and 0 returned). */
int mp_store_experiment_release(struct mp_store *st, int64_t id, struct mp_error *err) MP_WUR;
int mp_store_experiment_delete(struct mp_store *st, int64_t id, struct mp_error *err) MP_WUR;

/* A run that `run --restart` replaced (store.md, "Replaced runs"): its identity
 * (mp_trial_request.run_id as it was) and its spec as stored (JSON). */
struct mp_replaced_run {
    char *run_id;
    char *spec_json;
};
void mp_replaced_runs_free(struct mp_replaced_run *runs, size_t n);
/* `run --restart`, in one transaction: deletes experiment old_id, keeps its run (its identity
 * replaced_run_id and its spec replaced_spec; replaced_run_id NULL: nothing of it to sweep) under
 * name until mp_store_replaced_drop, and creates the new experiment as
 * mp_store_experiment_create does. */
int mp_store_experiment_replace(struct mp_store *st, int64_t old_id, const char *replaced_run_id,
                                const char *replaced_spec, const char *name, const char *spec_json,
                                const char *base_dir, uint64_t seed, int64_t *id,
                                struct mp_error *err) MP_WUR;
/* The replaced runs kept under experiment name, oldest first (*runs NULL and *n 0: none). */
int mp_store_replaced_list(struct mp_store *st, const char *name, struct mp_replaced_run **runs,
                           size_t *n, struct mp_error *err) MP_WUR;
/* Forgets the replaced run run_id of experiment name, once swept; absent: 0. */
int mp_store_replaced_drop(struct mp_store *st, const char *name, const char *run_id,
                           struct mp_error *err) MP_WUR;

struct mp_trial_row {
    int64_t id, experiment_id, number, attempt;
    char *params_json;
    char *config_key;
    enum mp_trial_state state;
    enum mp_failure failure;
    char *reason;
    int64_t created_at_ns, started_at_ns, finished_at_ns;
    struct mp_metrics metrics;
    struct mp_metrics resources;
    char *meta_json;
    bool settled; /* false: the measurement did not settle (res->unsettled when stored) */
};
void mp_trial_row_release(struct mp_trial_row *row);
void mp_trial_rows_free(struct mp_trial_row *rows, size_t n);

/* Records the intent of trial `number` (PENDING). MP_EEXISTS if the number or the
 * configuration key already exists in this experiment. */
int mp_store_trial_create(struct mp_store *st, int64_t exp_id, int64_t number,
                          const char *params_json, const char *config_key,
                          struct mp_error *err) MP_WUR;
/* PENDING -> RUNNING, or RUNNING -> RUNNING with attempt + 1 when a resumed engine re-runs a
 * trial that a dead process left RUNNING. Sets *attempt. */
int mp_store_trial_start(struct mp_store *st, int64_t exp_id, int64_t number, int64_t *attempt,
                         struct mp_error *err) MP_WUR;
/* The same with events[0..n) of that trial in its transaction (trial_started). */
int mp_store_trial_start_ev(struct mp_store *st, int64_t exp_id, int64_t number, int64_t *attempt,
                            const struct mp_store_event *events, size_t n,
                            struct mp_error *err) MP_WUR;
/* Moves the trial to res->state with its metrics, resources, logs and metadata, atomically.
 * MP_ESTATE when the transition is not allowed (e.g. already terminal). */
int mp_store_trial_finish(struct mp_store *st, int64_t exp_id, int64_t number,
                          const struct mp_trial_result *res, struct mp_error *err) MP_WUR;
/* mp_store_trial_finish with events[0..n) appended in its transaction: the result and its
 * events are stored together or not at all (a run stopped between two transactions left a
 * finished trial that no event announced, and none did later). */
int mp_store_trial_finish_ev(struct mp_store *st, int64_t exp_id, int64_t number,
                             const struct mp_trial_result *res, const struct mp_store_event *events,
                             size_t n, struct mp_error *err) MP_WUR;
/* Reads from here to mp_store_snapshot_end see the store as one moment (a read transaction), so
 * that a report made of several queries is not torn by a run writing meanwhile. Begins nothing
 * (and returns false) inside a transaction already open. */
bool mp_store_snapshot_begin(struct mp_store *st);
/* Ends the snapshot that mp_store_snapshot_begin returned true for (began). */
void mp_store_snapshot_end(struct mp_store *st, bool began);
/* Every trial of the experiment in number order, with metrics (one snapshot). */
int mp_store_trial_list(struct mp_store *st, int64_t exp_id, struct mp_trial_row **rows, size_t *n,
                        struct mp_error *err) MP_WUR;
/* Stored stdout or stderr of a trial ("stdout"/"stderr"); empty string when none. */
int mp_store_trial_log(struct mp_store *st, int64_t exp_id, int64_t number, const char *stream,
                       char **out, struct mp_error *err) MP_WUR;

/* A confirmation run: trial `trial_number`'s configuration measured again after the search
 * (run 1, 2, ...), judged against the spec like a trial. */
struct mp_confirm_row {
    int64_t trial_number, run;
    enum mp_trial_state state; /* SUCCEEDED or FAILED */
    enum mp_failure failure;
    char *reason;
    bool settled;
    struct mp_metrics metrics;
    int64_t at_ns;
};
void mp_confirm_rows_free(struct mp_confirm_row *rows, size_t n);
/* Records run `run` of trial `number`'s confirmation (res->state, failure, reason, metrics,
 * !res->unsettled). MP_EEXISTS when that run is already recorded. */
int mp_store_confirm_add(struct mp_store *st, int64_t exp_id, int64_t number, int64_t run,
                         const struct mp_trial_result *res, struct mp_error *err) MP_WUR;
/* mp_store_confirm_add with events[0..n) appended in its transaction. */
int mp_store_confirm_add_ev(struct mp_store *st, int64_t exp_id, int64_t number, int64_t run,
                            const struct mp_trial_result *res, const struct mp_store_event *events,
                            size_t n, struct mp_error *err) MP_WUR;
/* Every confirmation run of the experiment, by trial number then run. */
int mp_store_confirm_list(struct mp_store *st, int64_t exp_id, struct mp_confirm_row **rows,
                          size_t *n, struct mp_error *err) MP_WUR;

struct mp_event_row {
    int64_t id, experiment_id, trial_number, at_ns;
    char *kind;
    char *detail_json;
};
/* Appends an event; trial_number 0 for experiment-level events. */
int mp_store_event_add(struct mp_store *st, int64_t exp_id, int64_t trial_number, const char *kind,
                       const char *detail_json, struct mp_error *err) MP_WUR;
/* Events with id > after_id (exp_id 0: all experiments), oldest first, at most limit. */
int mp_store_event_list(struct mp_store *st, int64_t exp_id, int64_t after_id, size_t limit,
                        struct mp_event_row **rows, size_t *n, struct mp_error *err) MP_WUR;
/* The id of the newest event (exp_id 0: of any experiment); 0 when there is none. */
int mp_store_event_newest(struct mp_store *st, int64_t exp_id, int64_t *id,
                          struct mp_error *err) MP_WUR;
void mp_event_rows_free(struct mp_event_row *rows, size_t n);

#endif
