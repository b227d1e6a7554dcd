#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An experiment interrupted after it went past max_failed_trials, with trials still in flight,
# ends on the next `run` as an uninterrupted run does: the trials in flight run again and are
# recorded (none stays RUNNING), and no new trial starts.
# Trials take 3 s each (replay's delay), so the SIGINT lands while trials 4 and 5 run however
# slowly the checks poll on a loaded machine (with 1 s, `ctest -j8` of the sanitizer build on 2
# cores once saw trial 4 end first).
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
slow_replay_spec 3s 'max_trials: 12\n  parallelism: 3\n  max_failed_trials: 0'

trials() {
    "$MORPHLING" show replay-demo --json 2>/dev/null | jq -c '[.trials[] | [.number, .state, .failure]]'
}
# Seed 7: trials 1 and 2 miss the SLO, 3 is OOM_KILLED (past the budget of 0) while 4 and 5 are
# in flight.
third_failed() {
    [ "$("$MORPHLING" show replay-demo --json 2>/dev/null | jq -r '.trials[2].failure')" = OOM_KILLED ]
}

MORPHLING_DB="$WORK/ref.db" "$MORPHLING" run "$WORK/spec.yaml" --set runner.delay=0ms --quiet >"$WORK/ref.out"
check "reference run exits 1 (FAILED)" 1 "$?"
# A failed search recommends nothing: its best trial is a best so far.
check "a best so far, not a recommendation" \
    "Best configuration so far (trial 4; the search is unfinished: FAILED):" \
    "$(grep -E '^(Best|Recommended) ' "$WORK/ref.out")"
ref=$(MORPHLING_DB="$WORK/ref.db" trials)
check "reference run finishes the trials in flight" 5 "$(printf '%s' "$ref" | jq length)"

"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1 &
pid=$!
track $pid
wait_for "trial 3 fails" third_failed
kill -INT $pid
wait $pid
check "SIGINT exits 130" 130 "$?"
check "trials were in flight at the SIGINT" 2 "$("$MORPHLING" show replay-demo --json | jq .counts.running)"

"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1
check "resumed run exits 1 (FAILED)" 1 "$?"
json=$("$MORPHLING" show replay-demo --json)
check "no trial left RUNNING" 0 "$(printf '%s' "$json" | jq .counts.running)"
check "the same trials as uninterrupted" "$ref" "$(trials)"
check "the same stop reason" \
    "$(MORPHLING_DB="$WORK/ref.db" "$MORPHLING" show replay-demo --json | jq -r .stop_reason)" \
    "$(printf '%s' "$json" | jq -r .stop_reason)"
finish
