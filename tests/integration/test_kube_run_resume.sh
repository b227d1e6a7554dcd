#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kill -9 of `morphling run` in every phase of a trial (owner created, Deployment and Service
# created, waiting for readiness, load Job created, teardown under way), then the same command
# again: the objects the killed run left are found by label and removed, the interrupted trial
# runs again as a new attempt, and the experiment ends with every trial SUCCEEDED once: 0 lost,
# 0 duplicate, 0 leftover objects or processes. The API server's kill hook sends SIGKILL to the
# runner when the matching request of the phase has been applied. Ctrl-C instead tears the trial
# down before the run exits 130.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
# stopped PID: whether process PID is stopped (state T in /proc/PID/stat).
stopped() {
    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# phase NAME MATCH: runs experiment NAME (two trials) until MATCH kills it, then resumes it.
phase() {
    name=$1
    match=$2
    # Stopped until the kill hook is set: on a loaded machine the run made its first request
    # before the hook was there, and the hook killed it in the next trial (trial 1 SUCCEEDED).
    # shellcheck disable=SC2086
    sh -c 'kill -STOP $$; exec "$@"' sh "$MORPHLING" run "$EXAMPLE" $EX_SETS --set "name=$name" \
        -q >"$WORK/$name.1" 2>&1 &
    pid=$!
    wait_for "the run waits to start" stopped "$pid"
    api /_test/kill -X POST -d "{\"pid\": $pid, \"userAgent\": \"morphling/\", $match}" >/dev/null
    kill -CONT "$pid"
    wait "$pid"
    check "$name: killed (SIGKILL)" 137 "$?"
    left=$(leftover_objects "$name" | wc -l)
    # Once the Foreground delete is applied the garbage collector finishes it without us.
    [ "$name" = teardown ] ||
        check_true "$name: the killed run left objects behind ($left)" [ "$left" -gt 0 ]
    check "$name: the store has trial 1 unfinished" RUNNING \
        "$("$MORPHLING" show "$name" --json | jq -r '.trials[0].state')"
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set "name=$name" -q >"$WORK/$name.2" 2>&1
    check "$name: the resumed run exits 0" 0 "$?"
    "$MORPHLING" show "$name" --json >"$WORK/$name.json"
    check "$name: trials 1 and 2, each once, SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
        "$(jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")' "$WORK/$name.json")"
    check "$name: trial 1 ran again as attempt 1" 1 "$(jq -r '.trials[0].attempt' "$WORK/$name.json")"
    check "$name: no object left" "" "$(leftover_objects "$name")"
    check "$name: no process left in the cluster's pods" 0 "$(pod_processes)"
}

phase owner '"verb": "create", "resource": "configmaps"'
phase created '"verb": "create", "resource": "services"'
phase readiness '"verb": "watch", "resource": "pods"'
phase load '"verb": "create", "resource": "jobs"'
phase teardown '"verb": "delete", "resource": "configmaps"'

# Ctrl-C during the load test: the trial is torn down at once (nothing left before the resume),
# the run exits 130, and the same command finishes the experiment.
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=sigint -q >"$WORK/sigint.1" 2>&1 &
pid=$!
has_job() {
    leftover_objects sigint | grep -q '^job'
}
wait_for "the load Job of trial 1 exists" has_job
kill -INT "$pid"
wait "$pid"
check "sigint: exit 130" 130 "$?"
check "sigint: its objects are gone when it exits" "" "$(leftover_objects sigint)"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=sigint -q >"$WORK/sigint.2" 2>&1
check "sigint: the resumed run exits 0" 0 "$?"
check "sigint: trials 1 and 2, each once, SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show sigint --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
check "sigint: no object left" "" "$(leftover_objects sigint)"
cluster_down
finish
