#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An experiment killed with SIGKILL (or stopped with SIGINT) continues on the next `run`, ending
# with exactly max_trials terminal trials, none duplicated or lost, in the same sequence as an
# uninterrupted run.
# Each trial takes 1 s (3 at a time), so the SIGINT arrives while trials remain however slowly
# the checks poll on a loaded machine.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
slow_replay_spec 1s 'max_trials: 24\n  parallelism: 3'

# Terminal trials so far; 0 while the experiment does not exist yet.
terminal() {
    n=$("$MORPHLING" show replay-demo --json 2>/dev/null |
        jq '[.trials[] | select(.state == "SUCCEEDED" or .state == "FAILED")] | length' 2>/dev/null)
    echo "${n:-0}"
}
terminal_at_least() {
    [ "$(terminal)" -ge "$1" ]
}

# Reference: an uninterrupted run in another store.
MORPHLING_DB="$WORK/ref.db" "$MORPHLING" run "$WORK/spec.yaml" --set runner.delay=0ms --quiet >/dev/null
ref=$(MORPHLING_DB="$WORK/ref.db" "$MORPHLING" show replay-demo --json | jq -c '[.trials[].params]')
check "reference run has 24 trials" 24 "$(printf '%s' "$ref" | jq length)"

"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1 &
pid=$!
track $pid
wait_for "three trials finish" terminal_at_least 3
kill -9 $pid
wait $pid 2>/dev/null
before=$(terminal)
check_true "killed mid-run ($before trials done)" [ "$before" -lt 24 ]
# The store still says RUNNING (the process could not say otherwise); with no process driving it,
# show and list report it interrupted, and why.
json=$("$MORPHLING" show replay-demo --json)
check "show: a killed run is INTERRUPTED" INTERRUPTED "$(printf '%s' "$json" | jq -r .state)"
check_contains "... because its process is gone" "the process was killed or crashed" \
    "$(printf '%s' "$json" | jq -r .stop_reason)"
check_contains "list: INTERRUPTED" "replay-demo INTERRUPTED" \
    "$("$MORPHLING" list | tr -s ' ')"

"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1 &
pid=$!
track $pid
wait_for "three more trials finish" terminal_at_least $((before + 3))
kill -INT $pid
wait $pid
check "SIGINT exits 130" 130 "$?"
check "SIGINT leaves it INTERRUPTED" INTERRUPTED "$("$MORPHLING" show replay-demo --json | jq -r .state)"
# The trials in flight stay RUNNING in the store (they run again); show and list do not count
# them as done, nor as running.
inflight=$("$MORPHLING" show replay-demo --json | jq '.counts.running')
check_true "trials were in flight at the SIGINT ($inflight)" [ "$inflight" -gt 0 ]
check "... nothing measured: settled null (it said true)" "null" \
    "$("$MORPHLING" show replay-demo --json | jq -c '[.trials[] | select(.state == "RUNNING") | .settled] | unique | .[]')"
out=$("$MORPHLING" show replay-demo)
check_contains "show counts them as interrupted" "; $inflight interrupted, to run again)" "$out"
check "... with a note in each of their rows" "$inflight" \
    "$(printf '%s\n' "$out" | grep -c 'interrupted; runs again when the experiment continues')"
check_contains "list counts the trials done" " $(terminal)/24 " "$("$MORPHLING" list)"
# A budget that leaves out the interrupted trials is refused: they would run again on resumption
# and end past max_trials.
done_now=$(terminal)
out=$("$MORPHLING" run "$WORK/spec.yaml" --set algorithm.max_trials="$done_now" 2>&1); rc=$?
check "a budget below the trials and those in flight exits 2" 2 "$rc"
check_contains "and counts those in flight" \
    "has $((done_now + inflight)) trials already ($inflight of them interrupted, to run again)" "$out"
check "and runs nothing" "$done_now" "$(terminal)"

# SIGTERM (a service manager, `timeout`, `kill`) stops it as SIGINT does, with its own status:
# 143, 128 + SIGTERM, as a shell reports it (it exited 130, as for SIGINT). What ran is kept.
"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1 &
pid=$!
track $pid
wait_for "three more trials finish" terminal_at_least $((done_now + 3))
kill -TERM $pid
wait $pid
check "SIGTERM exits 143" 143 "$?"
check "SIGTERM leaves it INTERRUPTED" INTERRUPTED "$("$MORPHLING" show replay-demo --json | jq -r .state)"
check_true "... with the trials done kept" [ "$(terminal)" -ge $((done_now + 3)) ]

out=$("$MORPHLING" run "$WORK/spec.yaml" 2>&1); rc=$?
check "resumed run exits 0" 0 "$rc"
json=$("$MORPHLING" show replay-demo --json)
check "exactly max_trials trials" 24 "$(printf '%s' "$json" | jq '.trials | length')"
check "all terminal" 24 "$(terminal)"
check "no duplicates" 24 "$(printf '%s' "$json" | jq '[.trials[].params | tojson] | unique | length')"
check "numbers 1..24" "$(seq 1 24 | tr '\n' ' ')" "$(printf '%s' "$json" | jq -r '.trials[].number' | tr '\n' ' ')"
check "same sequence as uninterrupted" "$ref" "$(printf '%s' "$json" | jq -c '[.trials[].params]')"
check "killed trial re-ran as a new attempt" true \
    "$(printf '%s' "$json" | jq '[.trials[].attempt] | max >= 1')"
finish
