#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What users read after an experiment: a trial export (`export --format csv`) is a surface that
# replays to the same trials, whatever its categorical values (spreadsheet formulas, blanks, line
# breaks).
. "$(dirname "$0")/lib.sh"

# Values an export protects from spreadsheets ('-O2) or that blanks pad, and a value with an
# apostrophe of its own.
cat >"$WORK/surface.csv" <<'CSV'
opt,score
-O2,1
=x,2
" lead",3
"trail ",4
'-O3,5
plain,6
"two
lines",7
CSV
cat >"$WORK/spec.yaml" <<'SPEC'
name: odd-values
parameters:
  - {name: opt, type: categorical, values: ["-O2", "=x", " lead", "trail ", "'-O3", plain, "two\nlines"]}
objective: {metric: score}
algorithm: {name: grid, max_trials: 7}
runner: {kind: replay, surface: surface.csv}
SPEC
"$MORPHLING" run "$WORK/spec.yaml" --quiet >/dev/null 2>&1
check "the experiment runs" 0 "$?"
"$MORPHLING" export odd-values --format csv >"$WORK/export.csv"
cat >"$WORK/want.csv" <<'CSV'
"'-O2",1
"'=x",2
" lead",3
"trail ",4
'-O3,5
plain,6
CSV
check "the export quotes padded values and protects formulas" "$(cat "$WORK/want.csv")" \
    "$(cut -d, -f4- "$WORK/export.csv" | grep -v -e '^"two' -e '^$' | tail -n +2 | sort -t, -k2n)"
check_contains "and quotes a line break" "$(printf ',"two\nlines",7')" "$(cat "$WORK/export.csv")"
sed -e 's/odd-values/odd-again/' -e 's/surface.csv/export.csv/' "$WORK/spec.yaml" >"$WORK/again.yaml"
err=$("$MORPHLING" run "$WORK/again.yaml" --quiet 2>&1 >/dev/null)
check "the export replays" "" "$err"
"$MORPHLING" export odd-again --format csv >"$WORK/again.csv"
check "to the same trials" "$(cut -d, -f2- "$WORK/export.csv")" "$(cut -d, -f2- "$WORK/again.csv")"
# Without a spec, `replay` infers the choices from the export: -O2, not its protected '-O2.
check "replay of the export infers the choices as written" "-O2 =x" \
    "$("$MORPHLING" replay "$WORK/export.csv" --params opt --objective score --algorithm grid --budget 7 --json |
        jq -r '[.trials[].params.opt | select(. == "-O2" or . == "=x" or . == "'"'"'-O2" or . == "'"'"'=x")] | sort | join(" ")')"

# A configuration of several pods (a parameter with role instances) was measured as a whole: the
# export sets its pods as the replicas, and a capacity plan counts pods (it planned 3 "replicas"
# of 450 requests/s and the patch ran 3 pods, a third of the target; without a plan the
# replicas were left out).
cat >"$WORK/pods.csv" <<'CSV'
workers,pods,throughput_rps
1,1,100
1,3,300
2,1,150
2,3,450
CSV
cat >"$WORK/pods.yaml" <<'SPEC'
name: pods
parameters:
  - {name: workers, type: int, min: 1, max: 2, target: {arg: --workers}}
  - {name: pods, type: discrete, values: [1, 3], role: instances}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 4}
runner: {kind: replay, surface: pods.csv}
SPEC
"$MORPHLING" run "$WORK/pods.yaml" --quiet >/dev/null 2>&1
check "the pods of the recommended configuration" 3 "$("$MORPHLING" show pods --json | jq .best.pods)"
check "are the patch's replicas" 3 \
    "$("$MORPHLING" export pods --format k8s --container server 2>/dev/null | jq .spec.replicas)"
check "a capacity plan counts pods (900 req/s, 20 % headroom, 150 each)" "8 150" \
    "$("$MORPHLING" show pods --json --target-rps 900 | jq -r '.capacity_plan | "\(.replicas) \(.replica_rps)"')"
check "... and the patch runs them" 8 \
    "$("$MORPHLING" export pods --format k8s --container server --target-rps 900 2>/dev/null |
        jq .spec.replicas)"
# The price of a configuration is that of all its pods, as its throughput is theirs: per dollar,
# 3 pods at 400 req/s lose to 1 at 150 (they won, priced as one pod).
sed -e 's/^name: pods/name: pods-cost/' -e 's/^objective:.*/objective: {metric: throughput_per_cost}\ncost: {base_hour: 1}/' \
    -e 's/^2,3,450/2,3,400/' -e 's/surface: pods.csv/surface: pods-cost.csv/' "$WORK/pods.yaml" >"$WORK/pods-cost.yaml"
sed 's/^2,3,450/2,3,400/' "$WORK/pods.csv" >"$WORK/pods-cost.csv"
"$MORPHLING" run "$WORK/pods-cost.yaml" --quiet >/dev/null 2>&1
json=$("$MORPHLING" show pods-cost --json --target-rps 900)
check "3 pods cost 3 times one" "3" \
    "$(printf '%s' "$json" | jq '.trials[] | select(.params.workers == 2 and .params.pods == 3) | .metrics.cost_per_hour')"
check "... so one pod is the best per dollar" "2 1" \
    "$(printf '%s' "$json" | jq -r '"\(.best.params.workers) \(.best.params.pods)"')"
check "... and a plan prices its replicas as pods (8 of 150 req/s, 1 \$/h each)" "8 8" \
    "$(printf '%s' "$json" | jq -r '"\(.capacity_plan.replicas) \(.capacity_plan.cost_per_hour)"')"
check "a spec without pods has none" null "$("$MORPHLING" show odd-values --json | jq .best.pods)"
# With a service section the parameter reaches the service ({pods} in its command): one replica.
sed -e 's/^name: pods/name: inside/' -e 's/^parameters:/service: {command: [srv, "{pods}"]}\nparameters:/' \
    "$WORK/pods.yaml" >"$WORK/inside.yaml"
"$MORPHLING" run "$WORK/inside.yaml" --quiet >/dev/null 2>&1
check "instances inside the service are no pods (900 req/s on 450 each)" "null 3" \
    "$("$MORPHLING" show inside --json --target-rps 900 | jq -r '"\(.best.pods) \(.capacity_plan.replicas)"')"

# Options that would be ignored are refused: a headroom without a plan, a plan in a CSV.
err=$("$MORPHLING" show pods --headroom 0.5 2>&1)
check "show --headroom without --target-rps exits 2" 2 "$?"
check_contains "... saying so" "--headroom needs --target-rps" "$err"
err=$("$MORPHLING" export pods --format csv --target-rps 900 2>&1)
check "export --format csv --target-rps exits 2" 2 "$?"
check_contains "... saying so" "--target-rps adds a capacity plan, for which --format csv has no place" "$err"

# An experiment whose stored spec this build cannot read (an older or newer morphling's) hides
# none of the others from list, which says why (list printed nothing and exited 2).
sqlite3 "$MORPHLING_DB" "UPDATE experiments SET spec_json = '{\"name\":\"pods\"}' WHERE name = 'pods'"
out=$("$MORPHLING" list 2>&1)
check "list with an unreadable experiment exits 0" 0 "$?"
check_contains "lists the others" "odd-values" "$out"
check_contains "and says why for it" "(unreadable: stored spec of experiment 'pods':1:1: 'parameters': required key is missing)" "$out"
check_contains "... with its trials done (the budget unknown)" " 4/- " "$(printf '%s\n' "$out" | grep ' pods ')"
check "list --json: its counts and the error" '[4,"stored spec of experiment '"'pods'"':1:1: '"'parameters'"': required key is missing"]' \
    "$("$MORPHLING" list --json | jq -c '.[] | select(.name == "pods") | [.counts.total, .error]')"
# show and export of it fail naming the field, as a condition of the store's (exit 1), not of
# the command line's (it was exit 2, "invalid input").
err=$("$MORPHLING" show pods 2>&1)
check "show of an unreadable experiment exits 1" 1 "$?"
check_contains "... naming the field" "stored spec of experiment 'pods':1:1: 'parameters': required key is missing" "$err"
"$MORPHLING" export pods --format deploy >/dev/null 2>&1
check "export of it exits 1" 1 "$?"
# export --format deploy|k8s carries the configuration alone, headed for a host or a cluster:
# the best so far of an experiment that stopped early (here FAILED: more failed trials than
# max_failed_trials) and a measurement that did not settle went out without a word, as if
# recommended. stderr now says what the configuration is not.
printf 'a,score,stable,failure\n1,5,0,\n2,9,1,OOM_KILLED\n3,7,1,\n' >"$WORK/early.csv"
cat >"$WORK/early.yaml" <<'SPEC'
name: early
service: {command: [./srv, --a, "{a}"]}
parameters: [{name: a, type: int, min: 1, max: 3}]
objective: {metric: score}
algorithm: {name: grid, max_trials: 3, max_failed_trials: 0}
runner: {kind: replay, surface: early.csv}
SPEC
"$MORPHLING" run "$WORK/early.yaml" --quiet >/dev/null 2>&1
check "the early stop: FAILED" FAILED "$("$MORPHLING" show early --json | jq -r .state)"
check "... one trial, in the singular" "1 trial failed (more than max_failed_trials = 0)" \
    "$("$MORPHLING" show early --json | jq -r .stop_reason)"
for format in deploy "k8s --container web"; do
    # shellcheck disable=SC2086 # the format and its option, split
    err=$("$MORPHLING" export early --format $format 2>&1 >/dev/null)
    check "export --format $format of a stopped experiment exits 0" 0 "$?"
    check_contains "... saying it is the best so far" \
        "morphling export: experiment 'early' is FAILED after 2 of 3 trials: trial 1 is the best configuration so far, not its recommendation" "$err"
    check_contains "... and that its measurement did not settle" \
        "morphling export: the measurement of trial 1 did not settle and no confirmation backs it" "$err"
done
# list's best column gave the unsettled value as any other: it is marked '~', as in show.
check "list marks the unsettled best" "early FAILED 2/3 5~" \
    "$("$MORPHLING" list | awk '$2 == "early" {print $2, $3, $5, $6}')"
check "list --json: best_settled false" false \
    "$("$MORPHLING" list --json | jq '.[] | select(.name == "early") | .best_settled')"
check "... true for a settled best" true \
    "$("$MORPHLING" list --json | jq '.[] | select(.name == "odd-values") | .best_settled')"
err=$("$MORPHLING" export early --format json 2>&1 >/dev/null)
check "export --format json has its caveats in the report: no note" "" "$err"
# A trial without a value for a second objective (a replayed row's empty cell) still succeeds, and
# it was left out of the Pareto front: the recommended trial, which no trial beats, was missing
# from the front, and the one it beats was there alone. Unmeasured is now the worst value.
printf 'a,value,cost\n1,10,\n2,5,1\n3,4,2\n4,5,\n' >"$WORK/front.csv"
cat >"$WORK/front.yaml" <<'SPEC'
name: front
parameters: [{name: a, type: int, min: 1, max: 4}]
objectives: [{metric: value, direction: maximize}, {metric: cost, direction: minimize}]
algorithm: {name: grid, max_trials: 4}
runner: {kind: replay, surface: front.csv}
SPEC
"$MORPHLING" run "$WORK/front.yaml" --quiet >/dev/null 2>&1
json=$("$MORPHLING" show front --json)
check "the recommendation" 1 "$(printf '%s' "$json" | jq .best.number)"
printf 'a,value,cost\n1,10,1\n2,5,1\n' >"$WORK/front1.csv"
sed -e 's/front.csv/front1.csv/' -e 's/max: 4/max: 2/' -e 's/max_trials: 4/max_trials: 2/' \
    -e 's/name: front/name: front1/' "$WORK/front.yaml" >"$WORK/front1.yaml"
check_contains "a front of one trial, in the singular" \
    "Pareto front (1 trial no other trial beats on every objective)" \
    "$("$MORPHLING" run "$WORK/front1.yaml" 2>/dev/null)"
check "the front: the best (cost unmeasured) and the cheapest; not 4, beaten by 2" \
    '[[1,10,null],[2,5,1]]' "$(printf '%s' "$json" | jq -c '[.pareto_front[] | [.number, .values.value, .values.cost]]')"
# An experiment that failed (or was cancelled) never confirms: its confirmation read "pending"
# for good, and show blamed the candidates ("no candidate met every constraint in all its
# measurements") for runs that were never made.
"$MORPHLING" run "$WORK/early.yaml" --set name=early-confirm \
    --set 'algorithm.confirm={top: 2, runs: 1}' --quiet >/dev/null 2>&1
check "a failed experiment's confirmation: stopped" stopped \
    "$("$MORPHLING" show early-confirm --json | jq -r .confirmation.state)"
check_contains "show says why it is not confirmed" \
    "Not confirmed: the experiment ended before its confirmation; this is the search's best." \
    "$("$MORPHLING" show early-confirm)"
# The progress of a run marks a measurement that did not settle: "trial 1 ... score=5" and then
# "best 3" (or none) read as a wrong best.
printf 'a,score,stable\n1,5,0\n2,3,1\n' >"$WORK/unsettled.csv"
printf 'name: unsettled\nparameters: [{name: a, type: int, min: 1, max: 2}]\nobjective: {metric: score}\nalgorithm: {name: grid, max_trials: 2}\nrunner: {kind: replay, surface: unsettled.csv}\n' \
    >"$WORK/unsettled.yaml"
out=$("$MORPHLING" run "$WORK/unsettled.yaml" 2>&1)
check_contains "the progress marks the unsettled trial" "trial 1 SUCCEEDED score=5 (unsettled)" "$out"
check_contains "... and not the settled one" "trial 2 SUCCEEDED score=3; best 3" "$out"
# `morphling trial` judges a trial as `run` does: a replayed row that breaks a constraint was
# SUCCEEDED (exit 0) there while `run` recorded it FAILED, and the cost metrics were missing.
printf 'a,score\n1,5\n2,30\n' >"$WORK/judged.csv"
printf 'name: judged\nparameters: [{name: a, type: int, min: 1, max: 2}]\nobjective: {metric: score}\nconstraints: [score >= 10]\ncost: {base_hour: 2}\nrunner: {kind: replay, surface: judged.csv}\n' \
    >"$WORK/judged.yaml"
json=$("$MORPHLING" trial "$WORK/judged.yaml" --set a=1 --json 2>/dev/null)
check "trial of a row under its SLO exits 1" 1 "$?"
check "... FAILED as run records it" "FAILED SLO_VIOLATED" "$(printf '%s' "$json" | jq -r '"\(.state) \(.failure)"')"
json=$("$MORPHLING" trial "$WORK/judged.yaml" --set a=2 --json 2>/dev/null)
check "trial of a row within it exits 0, with its cost" "0 2" "$? $(printf '%s' "$json" | jq .metrics.cost_per_hour)"
# ... and says whether the measurement settled, as run marks it ("settled" in the record).
check "trial of a settled row: settled" true "$(printf '%s' "$json" | jq .settled)"
check "trial of an unsettled row: not settled" false \
    "$("$MORPHLING" trial "$WORK/unsettled.yaml" --set a=1 --json 2>/dev/null | jq .settled)"
check_contains "... and the text says so" "note      the measurement did not settle" \
    "$("$MORPHLING" trial "$WORK/unsettled.yaml" --set a=1 2>/dev/null)"
# A trial that measured no objective value settled nothing: null, as show and the API say
# (it said true).
printf 'a,score\n1,\n' >"$WORK/novalue.csv"
sed 's/unsettled.csv/novalue.csv/' "$WORK/unsettled.yaml" >"$WORK/novalue.yaml"
check "trial of a row without the objective: settled null" "FAILED null" \
    "$("$MORPHLING" trial "$WORK/novalue.yaml" --set a=1 --json 2>/dev/null | jq -r '"\(.state) \(.settled)"')"

# A confirmed mean whose interval stayed wide (its runs made to disagree: 80 and 120 around the
# search's 100): show warns, and so does export on stderr (it said nothing, to one who exports
# straight after run), leaving the exported file as it was.
printf 'a,score\n1,50\n2,100\n3,90\n' >"$WORK/wide.csv"
printf 'name: wide\nparameters: [{name: a, type: int, min: 1, max: 3}]\nobjective: {metric: score}\nalgorithm: {name: grid, confirm: {top: 2, runs: 2, max_runs: 2}}\nrunner: {kind: replay, surface: wide.csv}\n' \
    >"$WORK/wide.yaml"
"$MORPHLING" run "$WORK/wide.yaml" --quiet >/dev/null 2>&1
"$MORPHLING" export wide --format csv >"$WORK/wide-before.csv"
sqlite3 "$MORPHLING_DB" "UPDATE confirm_runs SET metrics_json = CASE run WHEN 1 THEN '{\"score\":80.0}' ELSE '{\"score\":120.0}' END WHERE trial_number = 2"
check_contains "show warns of the wide interval" "Warning: the measurements disagree" \
    "$("$MORPHLING" show wide)"
want="morphling export: warning: the measurements of trial 2 disagree: the 95 % interval of its confirmed mean (+-49.7 %) is wider than algorithm.confirm.max_uncertainty (+-5.0 %) after the most runs allowed; the mean is uncertain"
for format in csv json; do
    err=$("$MORPHLING" export wide --format $format 2>&1 >"$WORK/wide.$format")
    check "export --format $format exits 0" 0 "$?"
    check "... and warns on stderr" "$want" "$err"
done
check "the csv is as it was" "$(cat "$WORK/wide-before.csv")" "$(cat "$WORK/wide.csv")"
check "the json is the report" 2 "$(jq .best.number "$WORK/wide.json")"
check_contains "deploy says it among its caveats" "the measurements of trial 2 disagree" \
    "$("$MORPHLING" export wide --format deploy 2>&1 >/dev/null)"
# A store holding an infinite objective value (the engine fails such a trial; an older build's
# store, or one edited by hand): no number in JSON, and no rank; the runner-up it took was null.
sqlite3 "$MORPHLING_DB" "UPDATE trial_metrics SET value = 9e999 WHERE name = 'score' AND trial_id = (SELECT t.id FROM trials t JOIN experiments e ON e.id = t.experiment_id WHERE e.name = 'wide' AND t.number = 1)"
check "an infinite value is no runner-up, nor hides one" "2 3 null" \
    "$("$MORPHLING" show wide --json | jq -r '"\(.best.number) \(.runner_up.number) \(.trials[0].metrics.score)"')"
finish
