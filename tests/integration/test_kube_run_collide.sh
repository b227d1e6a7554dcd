#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Two `morphling run`s of experiments with the same name in one namespace, from two stores: run
# A (a load test of at least 18 s) is measuring when run B starts. B finds A's objects (their run
# label is not B's), touches none of them and stops with a run error naming them, exit status
# non-zero, its experiment resumable; A finishes with its own measurement, its load test as long
# as its settings ask, and leaves nothing behind. A killed `morphling trial`'s objects, which no
# run continues, are refused the same way, with the command that removes them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
k create namespace collide >/dev/null
SETS="--set runner.load.body=$PAYLOAD --set algorithm.max_trials=1 --set algorithm.confirm=false"
SETS="$SETS --set runner.namespace=collide --set name=same"
# A long load test: memory for the sanitizer build's server, which outgrows the example's 256 MiB
# (OOM-killed, its connections closed) within seconds of load.
SLOW="--set runner.load.window=2s --set runner.load.windows=10 --set runner.load.stable_windows=9"
SLOW="$SLOW --set parameters.memory.values[0]=1024 --set runner.load.remeasure=false"
# shellcheck disable=SC2086
MORPHLING_DB=$WORK/A.db "$MORPHLING" run "$EXAMPLE" $SETS $SLOW -q >"$WORK/A.out" 2>&1 &
pid=$!
has_job() {
    leftover_objects same | grep -q '^job'
}
wait_for "run A's load Job exists" has_job
runs() {
    k -n collide get configmaps -l morphling.kubedl.io/experiment=same \
        -o jsonpath='{range .items[*]}{.metadata.labels.morphling\.kubedl\.io/run}{"\n"}{end}' |
        sort -u
}
run_a=$(runs)
check "A's objects carry one run label ($run_a)" 1 "$(echo "$run_a" | grep -c .)"

# shellcheck disable=SC2086
MORPHLING_DB=$WORK/B.db "$MORPHLING" run "$EXAMPLE" $SETS -q >"$WORK/B.out" 2>&1
rc=$?
check_true "B exits non-zero ($rc)" [ "$rc" -ne 0 ]
check_contains "B's error says another run of the experiment uses the namespace" \
    "another run of an experiment named 'same' uses namespace \"collide\"" "$(cat "$WORK/B.out")"
check_contains "B's error names A's objects" "configmaps/same-t1-a0" "$(cat "$WORK/B.out")"
check "B's experiment is left resumable" INTERRUPTED \
    "$(MORPHLING_DB=$WORK/B.db "$MORPHLING" show same --json | jq -r '.state')"
check "A's objects are still there, and only A's" "$run_a" "$(runs)"

wait "$pid"
rc=$?
check "A exits 0: $(cat "$WORK/A.out")" 0 "$rc"
MORPHLING_DB=$WORK/A.db "$MORPHLING" show same --json >"$WORK/A.json"
check "A's trial SUCCEEDED" SUCCEEDED "$(jq -r '.trials[0].state' "$WORK/A.json")"
check "A's trial ran once (attempt 0)" 0 "$(jq -r '.trials[0].attempt' "$WORK/A.json")"
load_s=$(jq -r '.trials[0].meta.load_s // 0' "$WORK/A.json")
check_true "A's load test took its 9 windows of 2 s at least (${load_s} s)" \
    jq -en 'input | .trials[0].meta.load_s >= 18' "$WORK/A.json" >/dev/null
check "no object left" "" "$(leftover_objects same)"

# A `morphling trial` killed with -9 leaves its objects under a run label no later command
# has: the error must say how to remove them, not only to wait for a run that will never end.
# shellcheck disable=SC2086
"$MORPHLING" trial "$EXAMPLE" --set runner.load.body="$PAYLOAD" --set cpu=1 --set memory=256 \
    --set workers=1 --set name=orphan --set runner.namespace=collide \
    --set 'runner.pod_template.spec.containers[0].readinessProbe.initialDelaySeconds=30' \
    -q >/dev/null 2>&1 &
pid=$!
orphan_made() {
    k -n collide get deployments -l morphling.kubedl.io/experiment=orphan -o name | grep -q .
}
wait_for "the trial's Deployment exists" orphan_made
kill -9 "$pid"
wait "$pid" 2>/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=orphan \
    --set runner.namespace=collide -q >"$WORK/orphan.out" 2>&1
check_contains "a killed trial's objects: the error says how to delete them" \
    "kubectl -n collide delete configmaps -l morphling.kubedl.io/experiment=orphan,morphling.kubedl.io/role=owner --cascade=foreground" \
    "$(cat "$WORK/orphan.out")"
k -n collide delete configmaps -l morphling.kubedl.io/experiment=orphan,morphling.kubedl.io/role=owner \
    --cascade=foreground >/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=orphan \
    --set runner.namespace=collide -q >/dev/null 2>&1
check "... and once they are, the run goes on: exit 0" 0 "$?"
check "no object left" "" "$(leftover_objects orphan)"
cluster_down
finish
