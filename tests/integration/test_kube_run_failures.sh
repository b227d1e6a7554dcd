#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the cluster says becomes the trial's failure class, with the cluster's reason in the
# message: unschedulable (a verdict on the configuration: STARTUP_TIMEOUT), a crashing container
# (CRASHED with its exit code), OOMKilled, a readiness probe that never passes (STARTUP_TIMEOUT at
# the deadline), a load test whose requests fail (LOAD_ERRORS), and an image that cannot be
# pulled (INFRA: retried with a new attempt each time, then FAILED). Nothing is left afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
# failure NAME [--set ...]: runs one trial of the example as experiment NAME, prints
# "STATE FAILURE" of its trial and keeps its reason in $WORK/NAME.reason.
failure() {
    name=$1
    shift
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set "name=$name" -q \
        "$@" >"$WORK/$name.out" 2>&1
    "$MORPHLING" show "$name" --json >"$WORK/$name.json"
    jq -r '.trials[-1].reason // ""' "$WORK/$name.json" >"$WORK/$name.reason"
    jq -r '.trials[-1] | "\(.state) \(.failure)"' "$WORK/$name.json"
}

check "more CPU than any node has: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure unsched --set 'parameters.cpu.values[0]=12' --set 'parameters.cpu.values[1]=16')"
check_contains "... with the scheduler's reason" "unschedulable: 0/1 nodes are available: 1 Insufficient cpu" \
    "$(cat "$WORK/unsched.reason")"
check "a container that exits: CRASHED" "FAILED CRASHED" \
    "$(failure crash --set 'runner.pod_template.spec.containers[0].args[0]=--bogus')"
check_contains "... with its exit code" "container exited: exit code 2, Error" "$(cat "$WORK/crash.reason")"
check "4 MiB of memory: OOM_KILLED" "FAILED OOM_KILLED" \
    "$(failure oom --set 'parameters.memory.values[0]=4')"
check_contains "... as the kubelet says" "OOMKilled (exit code 137" "$(cat "$WORK/oom.reason")"
check "never ready: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure notready --set runner.startup_timeout=3s \
        --set 'runner.pod_template.spec.containers[0].readinessProbe.httpGet.path=/nope')"
check_contains "... at the deadline" "0 of 1 pods ready within the startup timeout" \
    "$(cat "$WORK/notready.reason")"
check "every request fails: LOAD_ERRORS" "FAILED LOAD_ERRORS" \
    "$(failure loaderr --set runner.load.path=/nope)"
check_contains "... with the first error" "100.00 % of" "$(cat "$WORK/loaderr.reason")"
check_contains "... and the status" "HTTP status 404" "$(cat "$WORK/loaderr.reason")"
check "an image that cannot be pulled: INFRA" "FAILED INFRA" \
    "$(failure pull --set 'runner.pod_template.spec.containers[0].image=nope/unknown:1')"
check_contains "... with the runtime's message" "image pull failed: ErrImagePull" \
    "$(cat "$WORK/pull.reason")"
check "... retried as new attempts" 2 "$(jq -r '.trials[-1].attempt' "$WORK/pull.json")"
for name in unsched crash oom notready loaderr pull; do
    check "$name: no object left" "" "$(leftover_objects "$name")"
done
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
