/* SPDX-License-Identifier: Apache-2.0 */
/* Schema migrations, applied in order; PRAGMA user_version holds the version reached.
 * A migration is never edited once released: add a new one instead. */
#include "store/store_int.h"

const char *const mp_store_migrations[] = {
    /* 1: experiments, trials and their metrics. */
    "CREATE TABLE experiments ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  spec_json TEXT NOT NULL,"
    "  base_dir TEXT,"
    "  spec_hash TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  stop_reason TEXT,"
    "  seed INTEGER NOT NULL,"
    "  created_at_ns INTEGER NOT NULL,"
    "  updated_at_ns INTEGER NOT NULL,"
    "  finished_at_ns INTEGER,"
    "  owner_pid INTEGER,"
    "  heartbeat_at_ns INTEGER);"
    "CREATE TABLE trials ("
    "  id INTEGER PRIMARY KEY,"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  number INTEGER NOT NULL,"
    "  attempt INTEGER NOT NULL DEFAULT 0,"
    "  params_json TEXT NOT NULL,"
    "  config_key TEXT NOT NULL,"
    "  state TEXT NOT NULL CHECK (state IN "
    "    ('PENDING','RUNNING','SUCCEEDED','FAILED','CANCELLED')),"
    "  failure TEXT,"
    "  reason TEXT,"
    "  created_at_ns INTEGER NOT NULL,"
    "  started_at_ns INTEGER,"
    "  finished_at_ns INTEGER,"
    "  UNIQUE (experiment_id, number),"
    "  UNIQUE (experiment_id, config_key));"
    "CREATE TABLE trial_metrics ("
    "  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('metric','resource')),"
    "  name TEXT NOT NULL,"
    "  value REAL NOT NULL,"
    "  PRIMARY KEY (trial_id, kind, name));"
    "CREATE TRIGGER trials_terminal_is_final BEFORE UPDATE OF state ON trials "
    "  WHEN OLD.state IN ('SUCCEEDED','FAILED','CANCELLED') "
    "  BEGIN SELECT RAISE(ABORT, 'terminal trial state is final'); END;",

    /* 2: trial logs and metadata, and the event log behind live updates. */
    "CREATE TABLE trial_logs ("
    "  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,"
    "  stream TEXT NOT NULL,"
    "  content BLOB NOT NULL,"
    "  PRIMARY KEY (trial_id, stream));"
    "CREATE TABLE trial_meta ("
    "  trial_id INTEGER PRIMARY KEY REFERENCES trials(id) ON DELETE CASCADE,"
    "  meta_json TEXT NOT NULL);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  trial_number INTEGER NOT NULL,"
    "  at_ns INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  detail_json TEXT NOT NULL);"
    "CREATE INDEX events_by_experiment ON events(experiment_id, id);",

    /* 3: whether a trial's measurement settled, and the confirmation runs of the best
     * candidates (docs/internals/engine.md, "Confirmation"). */
    "ALTER TABLE trials ADD COLUMN settled INTEGER NOT NULL DEFAULT 1;"
    "CREATE TABLE confirm_runs ("
    "  experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,"
    "  trial_number INTEGER NOT NULL,"
    "  run INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  failure TEXT,"
    "  reason TEXT,"
    "  settled INTEGER NOT NULL,"
    "  metrics_json TEXT NOT NULL,"
    "  at_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (experiment_id, trial_number, run));",

    /* 4: the pid namespace of the claiming process (mp_store_experiment_claim): a pid means
     * nothing in another one (two containers sharing a store can both have pid 1). */
    "ALTER TABLE experiments ADD COLUMN owner_pidns TEXT;",

    /* 5: an experiment id is never used twice (the highest given so far): one deleted and
     * created again took the same id, and a dashboard page, a bookmark or a script holding it
     * switched to the new experiment without a word. */
    "CREATE TABLE experiment_ids (last INTEGER NOT NULL);"
    "INSERT INTO experiment_ids SELECT coalesce(max(id), 0) FROM experiments;"
    "CREATE TRIGGER experiment_ids_last AFTER INSERT ON experiments "
    "  BEGIN UPDATE experiment_ids SET last = max(last, NEW.id); END;",

    /* 6: the runs that `run --restart` replaced, until the runner swept what they left (a
     * cluster's objects): written with the replacement, so a run killed before its sweep no
     * longer forgets them (docs/internals/store.md, "Replaced runs"). By name: the experiment
     * row they belonged to is gone. */
    "CREATE TABLE replaced_runs ("
    "  experiment TEXT NOT NULL,"
    "  run_id TEXT NOT NULL,"
    "  spec_json TEXT NOT NULL,"
    "  at_ns INTEGER NOT NULL,"
    "  PRIMARY KEY (experiment, run_id));",
};

const int mp_store_n_migrations = (int)MP_ARRAY_LEN(mp_store_migrations);
