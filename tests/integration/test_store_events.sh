#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A result and its event are stored together: a trial's result with its trial_finished (and
# new_best) event, a confirmation run with its confirm_run event, the experiment's final state
# with experiment_finished. Before, each event was a transaction of its own after the result's:
# a run that failed between the two (a full disk, kill -9, a power cut) left a finished trial
# that the event stream never announced, and the next run did not write it either. A trigger
# that refuses the event stands in for the failure.
. "$(dirname "$0")/lib.sh"

DB="$WORK/store.db"
SPEC="$MP_SOURCE_DIR/examples/replay-demo.yaml"
run() { "$MORPHLING" run "$SPEC" --db "$DB" --quiet "$@" >/dev/null 2>"$WORK/err"; }
q() { sqlite3 "$DB" "$1"; }
refuse() {
    q "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = '$1'
       BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
}
# Terminal trials without exactly one trial_finished event, and the other way round.
unannounced() {
    q "SELECT count(*) FROM trials t WHERE t.state IN ('SUCCEEDED','FAILED') AND (SELECT count(*)
       FROM events e WHERE e.experiment_id = t.experiment_id AND e.trial_number = t.number
       AND e.kind = 'trial_finished') != 1"
}
announced_unfinished() {
    q "SELECT count(*) FROM events e WHERE e.kind = 'trial_finished' AND NOT EXISTS (SELECT 1
       FROM trials t WHERE t.experiment_id = e.experiment_id AND t.number = e.trial_number
       AND t.state IN ('SUCCEEDED','FAILED'))"
}

run --set name=first --set algorithm.max_trials=5 # creates the store
check "the store is made" 0 "$?"

refuse trial_finished
run --set algorithm.max_trials=5
check "the event cannot be stored: run exits 1" 1 "$?"
check_contains "... and says why" "simulated failure" "$(cat "$WORK/err")"
check "no trial finished without its event" 0 "$(unannounced)"
check "trial 1 is left to run again" RUNNING \
    "$(q "SELECT state FROM trials WHERE number = 1 AND experiment_id = 2")"
q "DROP TRIGGER refuse"
run --set algorithm.max_trials=5
check "continued: exit 0" 0 "$?"
check "five trials" 5 "$(q "SELECT count(*) FROM trials WHERE experiment_id = 2")"
check "each announced once" 0 "$(unannounced)"
check "no event for an unfinished trial" 0 "$(announced_unfinished)"

# A confirmation run and its event (replay confirms when the spec asks for it).
refuse confirm_run
run --set name=confirmed --set algorithm.max_trials=4 --set algorithm.confirm.top=1 \
    --set algorithm.confirm.runs=2 --set algorithm.confirm.max_runs=2
check "confirm_run cannot be stored: run exits 1" 1 "$?"
check "no confirmation run without its event" \
    "$(q "SELECT count(*) FROM events WHERE kind = 'confirm_run'")" \
    "$(q "SELECT count(*) FROM confirm_runs")"
q "DROP TRIGGER refuse"
run --set name=confirmed --set algorithm.max_trials=4 --set algorithm.confirm.top=1 \
    --set algorithm.confirm.runs=2 --set algorithm.confirm.max_runs=2
check "continued: exit 0" 0 "$?"
check "two confirmation runs" 2 "$(q "SELECT count(*) FROM confirm_runs")"
check "each with its event" 2 "$(q "SELECT count(*) FROM events WHERE kind = 'confirm_run'")"

# The final state and experiment_finished; the run's fallback to INTERRUPTED is refused too, so
# that the store is left as a run killed between the two transactions left it.
refuse experiment_finished
q "CREATE TRIGGER stay BEFORE UPDATE OF state ON experiments WHEN NEW.state = 'INTERRUPTED'
   BEGIN SELECT RAISE(ABORT, 'simulated failure'); END"
run --set name=last --set algorithm.max_trials=5
check "experiment_finished cannot be stored: run exits 1" 1 "$?"
check "the experiment did not end unannounced" 0 \
    "$(q "SELECT count(*) FROM experiments WHERE name = 'last' AND state = 'SUCCEEDED'")"
q "DROP TRIGGER refuse; DROP TRIGGER stay"
run --set name=last --set algorithm.max_trials=5
check "continued: exit 0" 0 "$?"
check "it ended SUCCEEDED" SUCCEEDED "$(q "SELECT state FROM experiments WHERE name = 'last'")"
check "announced once" 1 "$(q "SELECT count(*) FROM events e JOIN experiments x ON
    x.id = e.experiment_id WHERE x.name = 'last' AND e.kind = 'experiment_finished'")"
finish
