#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The confirmation through the CLI: after the search the best candidates are measured again
# (not counted as trials), a SIGINT during the confirmation leaves the experiment INTERRUPTED
# and the next `run` finishes the confirmation without re-running anything, and `show` and
# `show --json` give the confirmed figures, the recommended trial and the marks on each trial.
# Every measurement takes 1 s (the replay runner's delay), so the SIGINT arrives during the
# confirmation however slowly the checks poll on a loaded machine.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
slow_replay_spec 1s 'max_trials: 8\n  parallelism: 4\n  confirm: {top: 3, runs: 2}'

confirmation_state() {
    "$MORPHLING" show replay-demo --json 2>/dev/null | jq -r '.confirmation.state' 2>/dev/null
}
confirming() {
    [ "$(confirmation_state)" = partial ]
}

"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1 &
pid=$!
track $pid
wait_for "the confirmation starts" confirming
kill -INT $pid
wait $pid
check "SIGINT during the confirmation exits 130" 130 "$?"
json=$("$MORPHLING" show replay-demo --json)
check "it is INTERRUPTED" INTERRUPTED "$(printf '%s' "$json" | jq -r .state)"
check_contains "the reason names the confirmation" "interrupted during the confirmation" \
    "$(printf '%s' "$json" | jq -r .stop_reason)"
check "no recommendation is confirmed yet" null "$(printf '%s' "$json" | jq .confirmation.recommended)"
recorded=$(printf '%s' "$json" | jq '[.confirmation.candidates[].confirm_runs | length] | add')
check_true "some confirmation runs were recorded ($recorded)" [ "$recorded" -ge 1 ]
# show says the confirmation has not finished; it blamed the candidates first ('no candidate met
# every constraint in all its measurements (or the confirmation has not finished)').
out=$("$MORPHLING" show replay-demo)
check_contains "show: the confirmation has not finished" \
    "Not confirmed: the confirmation has not finished (it continues when the experiment does); this is the search's best." \
    "$out"
check_contains "... nor says the runs were made" \
    "Confirmation (partial): the best 3 trials to be measured 2 more times each" "$out"
check_true "... and blames no candidate" \
    sh -c '! printf "%s" "$1" | grep -q "no candidate met"' sh "$out"

out=$("$MORPHLING" run "$WORK/spec.yaml" 2>&1); rc=$?
check "the resumed run exits 0" 0 "$rc"
check_contains "run prints the confirmed figures" "Confirmed over 3 measurements" "$out"
check_contains "run reports the confirmation runs as they finish" "confirm: 6/6 (100 %)" "$out"
json=$("$MORPHLING" show replay-demo --json)
check "SUCCEEDED" SUCCEEDED "$(printf '%s' "$json" | jq -r .state)"
check "confirmation runs are not trials" 8 "$(printf '%s' "$json" | jq '.trials | length')"
check "confirmation done" done "$(printf '%s' "$json" | jq -r .confirmation.state)"
check "three candidates" 3 "$(printf '%s' "$json" | jq '.confirmation.candidates | length')"
check "two runs each, none repeated" "2 2 2" \
    "$(printf '%s' "$json" | jq -r '[.confirmation.candidates[] | .confirm_runs | map(.run) | unique | length] | map(tostring) | join(" ")')"
check "three measurements each" "3 3 3" \
    "$(printf '%s' "$json" | jq -r '[.confirmation.candidates[].runs] | map(tostring) | join(" ")')"
rec=$(printf '%s' "$json" | jq .confirmation.recommended)
check "best is the confirmed winner" "$rec" "$(printf '%s' "$json" | jq .best.number)"
check "best carries its confirmed mean" \
    "$(printf '%s' "$json" | jq ".confirmation.candidates[] | select(.number == $rec) | .mean")" \
    "$(printf '%s' "$json" | jq .best.confirmed.mean)"
check "exactly one trial is recommended" "$rec" \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.recommended) | .number] | join(",")' -r)"
check "the winner is the best feasible candidate" \
    "$(printf '%s' "$json" | jq '[.confirmation.candidates[] | select(.confirmed) | .mean] | max')" \
    "$(printf '%s' "$json" | jq .best.confirmed.mean)"
check "infeasible trials name a violated constraint or fail without a value" 0 \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.failure == "SLO_VIOLATED" and (.violated | length) == 0)] | length')"
check "feasible means SUCCEEDED" \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.state == "SUCCEEDED")] | length')" \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.feasible)] | length')"

# The capacity plan of a confirmed recommendation rests on its mean throughput (the replay's
# measurements repeat the trial's row, so that mean is the trial's figure).
plan=$("$MORPHLING" show replay-demo --json --target-rps 1000)
check "best.confirmed has the mean throughput" \
    "$(printf '%s' "$plan" | jq '.best.metrics.throughput_rps * 1000 | round')" \
    "$(printf '%s' "$plan" | jq '.best.confirmed.throughput_rps * 1000 | round')"
check "the capacity plan uses it" "$(printf '%s' "$plan" | jq '.best.confirmed.throughput_rps')" \
    "$(printf '%s' "$plan" | jq '.capacity_plan.replica_rps')"

out=$("$MORPHLING" show replay-demo)
check_contains "show has the confirmation table" "Confirmation (done)" "$out"
check "show marks the recommended trial" 1 "$(printf '%s\n' "$out" | grep -c '  recommended$')"
check_contains "show explains the marks" "(value): infeasible" "$out"
check_contains "show counts the candidates" "the best 3 trials measured 2 more times each" "$out"

# One candidate (top 3 of a single trial): the sentence counts it, not top.
sed -e 's|name: replay-demo|name: one-candidate|' -e 's|delay: 1s|delay: 1ms|' \
    -e 's|max_trials: 8|max_trials: 1|' -e 's|name: random|name: grid|' \
    "$WORK/spec.yaml" >"$WORK/one.yaml"
"$MORPHLING" run "$WORK/one.yaml" --quiet >/dev/null 2>&1
check_contains "show: one candidate" "Confirmation (done): the best trial measured 2 more times (" \
    "$("$MORPHLING" show one-candidate)"
sed -e 's|name: one-candidate|name: one-run|' "$WORK/one.yaml" >"$WORK/one-run.yaml"
"$MORPHLING" run "$WORK/one-run.yaml" --quiet --set algorithm.confirm.runs=1 \
    --set algorithm.confirm.max_runs=1 >/dev/null 2>&1
check_contains "show: one run" "Confirmation (done): the best trial measured once more" \
    "$("$MORPHLING" show one-run)"

"$MORPHLING" validate "$WORK/spec.yaml" --set algorithm.confirm.runs=0 >/dev/null 2>"$WORK/err"
check "confirm.runs = 0 is refused with exit 2" 2 "$?"
check_contains "the error names the field" "algorithm.confirm.runs" "$(cat "$WORK/err")"
finish
