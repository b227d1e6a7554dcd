#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the cluster says becomes the trial's failure class, with the cluster's reason in the
# message: unschedulable (a verdict on the configuration: STARTUP_TIMEOUT, though only when no
# other trial of the run may hold the resources: then it waits for them), a
# crashing container (CRASHED with its exit code), OOMKilled, a readiness probe that
# never passes (STARTUP_TIMEOUT at the deadline), a load test whose requests fail (LOAD_ERRORS),
# an image that cannot be pulled (INFRA: retried with a new attempt each time; the third attempt
# in a row that cannot pull the service's (also an init container's or a sidecar's) or the load
# generator's image stops the run), the
# load pod Unschedulable until the trial's deadline (INFRA), the
# load Job, the trial's owner or a service pod deleted mid-trial, a service or load pod evicted or
# its node drained deleting its pods (kubectl drain --disable-eviction)
# (INFRA at once, by watch: retried), the service's container dying under the load test (CRASHED, not LOAD_ERRORS).
# Nothing is left afterwards.
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
    echo $? >"$WORK/$name.rc"
    "$MORPHLING" show "$name" --json >"$WORK/$name.json"
    jq -r '.trials[-1].reason // ""' "$WORK/$name.json" >"$WORK/$name.reason"
    jq -r '.trials[-1] | "\(.state) \(.failure)"' "$WORK/$name.json"
}

check "more CPU than any node has: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure unsched --set 'parameters.cpu.values[0]=12' --set 'parameters.cpu.values[1]=16')"
check_contains "... with the scheduler's reason" "unschedulable: 0/1 nodes are available: 1 Insufficient cpu" \
    "$(cat "$WORK/unsched.reason")"
# Two trials in parallel that fit the node (8 CPUs) only one at a time (grid: both at 5 CPUs):
# the one left Unschedulable is no verdict at once (the other trial holds the CPUs); it waits,
# and runs once the other trial's pods are gone.
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.parallelism=2 --set name=crowded \
    --set runner.startup_timeout=180s --set 'parameters.cpu.values[0]=5' \
    --set 'parameters.cpu.values[1]=6' -q >"$WORK/crowded.out" 2>&1
"$MORPHLING" show crowded --json >"$WORK/crowded.json"
crowded=$(jq -r '"\([.trials[] | select(.state == "SUCCEEDED")] | length) \([.trials[].params.cpu] | max)"' "$WORK/crowded.json")
check "5 CPUs twice in parallel on 8: both SUCCEEDED, one after the other" "2 5" "$crowded"
if [ "$crowded" != "2 5" ]; then # what happened, as TAP comments
    jq -r '.trials[] | "trial \(.number): \(.state) \(.failure // "") \(.reason // "")"' \
        "$WORK/crowded.json" | sed 's/^/# /'
    sed 's/^/# /' "$WORK/crowded.out"
fi
# Beside a trial that fits, one that fits no node (12 CPUs on 8) waits while the other runs,
# then is judged alone: unschedulable as such, not at its startup_timeout ("0 of 1 pods ready
# ...": nothing about the other trial's end reached it), and soon after the other trial's end.
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.parallelism=2 --set name=toolarge \
    --set runner.startup_timeout=150s --set parameters.workers.max=1 \
    --set 'parameters.cpu.values[0]=1' \
    --set 'parameters.cpu.values[1]=12' -q >"$WORK/toolarge.out" 2>&1
"$MORPHLING" show toolarge --json >"$WORK/toolarge.json"
check "12 CPUs beside 1 on 8: judged once alone" "FAILED STARTUP_TIMEOUT pod" \
    "$(jq -r '.trials[] | select(.params.cpu == 12) | "\(.state) \(.failure) \(.reason[:3])"' \
        "$WORK/toolarge.json")"
check_true "... well before its startup_timeout (150 s)" [ "$(jq '.trials[] |
    select(.params.cpu == 12) | (.finished_at | fromdate) - (.started_at | fromdate)' \
    "$WORK/toolarge.json")" -lt 100 ]
# Two trials in parallel that fit no node (12 and 16 CPUs on 8): neither holds what the other
# waits for (their pods are unscheduled), so each is judged as if alone (each waited for the
# other until its startup_timeout).
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.parallelism=2 --set name=bothlarge \
    --set runner.startup_timeout=150s --set parameters.workers.max=1 \
    --set 'parameters.cpu.values[0]=12' \
    --set 'parameters.cpu.values[1]=16' -q >"$WORK/bothlarge.out" 2>&1
"$MORPHLING" show bothlarge --json >"$WORK/bothlarge.json"
check "12 and 16 CPUs in parallel on 8: both unschedulable" "FAILED STARTUP_TIMEOUT pod
FAILED STARTUP_TIMEOUT pod" \
    "$(jq -r '.trials[] | "\(.state) \(.failure) \(.reason[:3])"' "$WORK/bothlarge.json")"
check "... each well before its startup_timeout (150 s)" "true true" \
    "$(jq -r '[.trials[] | ((.finished_at | fromdate) - (.started_at | fromdate)) < 100] |
        map(tostring) | join(" ")' "$WORK/bothlarge.json")"
check "a container that exits: CRASHED" "FAILED CRASHED" \
    "$(failure crash --set 'runner.pod_template.spec.containers[0].args[0]=--bogus')"
check_contains "... with its exit code" "container exited: exit code 2, Error" "$(cat "$WORK/crash.reason")"
check_contains "... and the end of its log" "; log: " "$(cat "$WORK/crash.reason")"
check "4 MiB of memory: OOM_KILLED" "FAILED OOM_KILLED" \
    "$(failure oom --set 'parameters.memory.values[0]=4')"
check_contains "... as the kubelet says" "OOMKilled (exit code 137" "$(cat "$WORK/oom.reason")"
check "never ready: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure notready --set runner.startup_timeout=3s \
        --set 'runner.pod_template.spec.containers[0].readinessProbe.httpGet.path=/nope')"
check_contains "... at the deadline" "0 of 1 pods ready within the startup timeout" \
    "$(cat "$WORK/notready.reason")"
check_contains "... with the kubelet's last probe failure" "last: Readiness probe failed: HTTP probe failed with statuscode: 404" \
    "$(cat "$WORK/notready.reason")"
check_true "... its own probe: no word of morphling's" \
    sh -c '! grep -q "the readiness probe morphling adds" "$1"' sh "$WORK/notready.reason"
# The probe morphling adds (the template has none) on a port the service does not listen on:
# which port it tries, and where that came from (a newcomer read "connection refused" alone).
check "a port the service does not listen on: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure wrongport --set runner.startup_timeout=3s --set runner.port=9999 \
        --set 'runner.pod_template.spec.containers[0].readinessProbe=null')"
check_contains "... naming the port and its source" \
    "(the readiness probe morphling adds tries port 9999: runner.port)" "$(cat "$WORK/wrongport.reason")"
# The service's own output says why (here only where it listens): kept as the local runner
# keeps it, the trial's stdout (`morphling trial --logs`, the API's trial logs); none before.
check_contains "... and the service's log kept as the trial's output" "listening on 127." \
    "$(trial_stdout notready)"
# Pods the ReplicaSet cannot create (a ResourceQuota exceeded, a LimitRange or admission refusing
# them; here the controllers may not create pods): the Deployment's ReplicaFailure says why (the
# reason was only "0 of 1 pods ready").
api /_test/policy -X PUT \
    -d '{"deny":[{"user":"system:kube-controller-manager","verb":"create","resource":"pods"}]}' \
    >/dev/null
check "pods that cannot be created: STARTUP_TIMEOUT" "FAILED STARTUP_TIMEOUT" \
    "$(failure nopods --set runner.startup_timeout=3s)"
api /_test/policy -X PUT -d '{"deny":[]}' >/dev/null
check_contains "... with the ReplicaSet's reason" \
    'the pods cannot be created: pods is forbidden: User "system:kube-controller-manager"' \
    "$(cat "$WORK/nopods.reason")"
check "every request fails: LOAD_ERRORS" "FAILED LOAD_ERRORS" \
    "$(failure loaderr --set runner.load.path=/nope)"
check_contains "... with the first error" "100.00 % of" "$(cat "$WORK/loaderr.reason")"
check_contains "... and the status" "HTTP status 404" "$(cat "$WORK/loaderr.reason")"
# An image is the same for every configuration: once three attempts in a row could not pull it,
# the run stops (exit 1) with its trial left to run again when the run resumes, instead of
# failing every trial in turn, three attempts each.
check "an image that cannot be pulled: retried, then the run stops" "RUNNING null 1" \
    "$(failure pull --set 'runner.pod_template.spec.containers[0].image=nope/unknown:1') $(cat "$WORK/pull.rc")"
check "... at its third attempt" 2 "$(jq -r '.trials[-1].attempt' "$WORK/pull.json")"
check_contains "... saying why" \
    "the service's image (the pod template's) could not be pulled in 3 attempts in a row (the last: pod " \
    "$(cat "$WORK/pull.out")"
check_contains "... with the node and the runtime's message" \
    "on node node-1: image pull failed: ErrImagePull" "$(cat "$WORK/pull.out")"
check "a load generator's image that cannot be pulled: the same" "RUNNING null 1" \
    "$(failure loadpull --set runner.load_image=nope/load:1) $(cat "$WORK/loadpull.rc")"
check_contains "... naming it" \
    "the load generator's image (runner.load_image) could not be pulled in 3 attempts in a row (the last: load pod " \
    "$(cat "$WORK/loadpull.out")"
check_contains "... and the node" "on node node-1: image pull failed" "$(cat "$WORK/loadpull.out")"
# An init container's (or a sidecar's) image that cannot be pulled: the same (the trial waited
# out startup_timeout, then failed STARTUP_TIMEOUT, "0 of 1 pods ready", a verdict on the
# configuration that said nothing of the image).
check "an init container's image that cannot be pulled: the same" "RUNNING null 1" \
    "$(failure initpull --set runner.startup_timeout=40s \
        --set 'runner.pod_template.spec.initContainers=[{"name": "init", "image": "nope/unknown:1"}]') $(cat "$WORK/initpull.rc")"
check_contains "... naming the container" \
    'on node node-1: image pull failed (init container "init"): ErrImagePull' "$(cat "$WORK/initpull.out")"
# A load pod that fits no node (here its node selector), retried right after an attempt ended,
# waits for that attempt's resources until the trial's deadline: no verdict on the
# configuration either, and said with the scheduler's word (it failed TIMEOUT, "the trial ran
# past its deadline", before).
check "a load pod waiting Unschedulable until the deadline: INFRA" "FAILED INFRA" \
    "$(failure loadsched --set runner.trial_timeout=12s --set runner.load_node_selector.disk=ssd)"
check_contains "... with the scheduler's reason" "the load pod was not scheduled within the \
trial's deadline, 12 s after it started (runner.trial_timeout), waiting for other trials of the \
run to free nodes: pod loadsched-t1-a2-load-" "$(cat "$WORK/loadsched.reason")"
check_contains "... the node selector" "didn't match Pod's node affinity/selector" \
    "$(cat "$WORK/loadsched.reason")"
# A load pod asking for more CPU than any node has: INFRA (retried: a node may come, as a cluster
# autoscaler adds one) with the scheduler's word and what the load pod asked for, which the
# word "Insufficient cpu" alone let pass for the configuration's.
check "a load pod that fits no node: INFRA" "FAILED INFRA" \
    "$(failure bigload --set runner.load_cpu=64)"
check_contains "... with the scheduler's word and the load pod's request" "unschedulable: 0/1 nodes \
are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims \
found for incoming pod. (the load pod asks for cpu 64 and memory 256Mi, runner.load_cpu and \
runner.load_memory, beside the trial's service pods)" "$(cat "$WORK/bigload.reason")"
for name in unsched crash oom notready nopods loaderr pull loadpull initpull loadsched bigload; do
    check "$name: no object left" "" "$(leftover_objects "$name")"
done
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
# deleted NAME KIND OBJECT: while the load test of trial 1 runs, deletes its KIND OBJECT
# (attempt 0); the attempt ends at once as INFRA and the next one succeeds. The load test, 12
# windows of 500 ms (6.5 s once its pod runs), is long enough to be cut by the deletion 1 s after
# its Job appears, and no longer: the retried attempt runs it in full (with 60 windows, 30 s more
# each time). (Memory: the sanitizer build's server outgrows the example's 256 MiB under load.)
# in_load_test NAME: starts experiment NAME of one trial in the background (pid) and returns 1 s
# into its first attempt's load test.
in_load_test() {
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set "name=$1" \
        --set runner.load.windows=12 --set runner.load.stable_windows=12 \
        --set 'parameters.memory.values[0]=1024' -q >"$WORK/$1.out" 2>&1 &
    pid=$!
    wait_object job "$1-t1-a0-load"
    sleep 1
}
deleted() {
    in_load_test "$1"
    k delete "$2" "$3" --wait=false >/dev/null
    wait $pid
    "$MORPHLING" show "$1" --json | jq -r '.trials[0] | "\(.state) \(.attempt)"'
}
start=$(date +%s)
check "the load Job deleted mid-trial: INFRA, retried, SUCCEEDED" "SUCCEEDED 1" \
    "$(deleted jobgone job jobgone-t1-a0-load)"
check "the owner deleted mid-trial: INFRA, retried, SUCCEEDED" "SUCCEEDED 1" \
    "$(deleted ownergone configmap ownergone-t1-a0)"
check_true "... each noticed at once, not at the trial's deadline (3m)" \
    [ $(($(date +%s) - start)) -lt 150 ]
# The Job's pod goes with it: whichever watch sees it first names the attempt's end. The owner
# takes the Job and its pod with it too, and is named whichever is seen first.
check_contains "... the reason of the lost attempt" "jobgone-t1-a0-load" "$(retry_reason jobgone)"
retry_reason ownergone >"$WORK/ownergone.reason"
check_true "... of the other: its owner, or the Job or pod it took with it" grep -qE \
    "the trial's owner configmap \"ownergone-t1-a0\"|ownergone-t1-a0-load.* was deleted" \
    "$WORK/ownergone.reason"
# A service pod deleted by someone else under the load test fails the load test's requests: no
# verdict on the configuration (LOAD_ERRORS before), retried like the Job's deletion.
check "a service pod deleted mid-trial: INFRA, retried, SUCCEEDED" "SUCCEEDED 1" \
    "$(deleted svcgone pods --selector=morphling.kubedl.io/experiment=svcgone,morphling.kubedl.io/role=service)"
check_contains "... the reason of the lost attempt" "the trial's service pod \"svcgone-t1-a0-" \
    "$(retry_reason svcgone)"
# evicted NAME ROLE: as deleted, but trial 1's pod of ROLE (service or load) is evicted through
# the API (policy/v1 Eviction, as kubectl drain evicts): the attempt ends at once as INFRA, its
# reason saying "evicted" (the service pod: "is being deleted" before, the load pod "was deleted
# before it finished"), and the next one succeeds, with its own figures.
evicted() {
    in_load_test "$1"
    pod=$(k get pods -l "morphling.kubedl.io/experiment=$1,morphling.kubedl.io/role=$2" \
        -o jsonpath='{.items[0].metadata.namespace}/{.items[0].metadata.name}')
    api "/api/v1/namespaces/${pod%/*}/pods/${pod#*/}/eviction" -X POST \
        --data "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":{\"name\":\"${pod#*/}\"}}" \
        >/dev/null || echo "eviction of $pod refused" >&2
    wait $pid
    "$MORPHLING" show "$1" --json | jq -r '.trials[0] | "\(.state) \(.attempt) \(.metrics | length > 0)"'
}
check "a service pod evicted mid-trial: INFRA, retried, SUCCEEDED with figures" "SUCCEEDED 1 true" \
    "$(evicted svcevicted service)"
check_contains "... the reason of the lost attempt names the pod" \
    "the trial's service pod \"svcevicted-t1-a0-" "$(retry_reason svcevicted)"
check_contains "... and how" "is being evicted (EvictionByEvictionAPI: Eviction API: evicting)" \
    "$(retry_reason svcevicted)"
check "the load pod evicted mid-trial: INFRA, retried, SUCCEEDED with figures" "SUCCEEDED 1 true" \
    "$(evicted loadevicted load)"
check_contains "... the reason of the lost attempt names the pod" \
    "load pod loadevicted-t1-a0-load-" "$(retry_reason loadevicted)"
check_contains "... and how" "was evicted before it finished (EvictionByEvictionAPI: Eviction API: evicting)" \
    "$(retry_reason loadevicted)"
# The node drained with `kubectl drain --disable-eviction` (its pods deleted, not evicted: kubectl
# sends the deletes a protobuf DeleteOptions body, which the test cluster refused before), then
# uncordoned: the attempt ends at once as INFRA, as for a deleted pod, and the next succeeds.
drained() {
    in_load_test "$1"
    k drain node-1 --disable-eviction --ignore-daemonsets --delete-emptydir-data --force \
        --timeout=120s >"$WORK/$1.drain" 2>&1
    echo $? >"$WORK/$1.drainrc"
    k uncordon node-1 >/dev/null
    wait $pid
    "$MORPHLING" show "$1" --json | jq -r '.trials[0] | "\(.state) \(.attempt) \(.metrics | length > 0)"'
}
check "the node drained with --disable-eviction mid-trial: INFRA, retried, SUCCEEDED with figures" \
    "SUCCEEDED 1 true" "$(drained drained)"
check "... the drain succeeded" 0 "$(cat "$WORK/drained.drainrc")"
check_contains "... deleting the trial's pods" "pod/drained-t1-a0-" "$(grep deleted "$WORK/drained.drain")"
check "... no pod of the trial is left" "" "$(k get pods -A -l morphling.kubedl.io/experiment=drained -o name)"
retry_reason drained >"$WORK/drained.reason"
check_true "... the reason of the lost attempt: a pod of the trial deleted ($(cat "$WORK/drained.reason"))" \
    grep -qE "the trial's service pod \"drained-t1-a0-.*\" is being deleted|load pod drained-t1-a0-load-.* was deleted before it finished" \
    "$WORK/drained.reason"
# The trial's Service deleted by someone else under the load test: its requests are refused (the
# cluster's proxy stops listening), no verdict on the configuration (LOAD_ERRORS before).
check "the trial's Service deleted mid-trial: INFRA, retried, SUCCEEDED" "SUCCEEDED 1" \
    "$(deleted svcobjgone service svcobjgone-t1-a0)"
check_contains "... the reason of the lost attempt" \
    "the trial's service \"svcobjgone-t1-a0\" was deleted" "$(retry_reason svcobjgone)"
# The service's container killed under the load test (as at its memory limit): CRASHED with its
# exit code, as the local runner judges a service that dies (LOAD_ERRORS before, saying nothing
# of the crash), and at once, as the local runner does: its load test of 60 windows (30 s) is
# cut short (it ran to its end against the restarted container before).
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=diesload \
    --set runner.load.windows=60 --set runner.load.stable_windows=60 \
    --set 'parameters.memory.values[0]=1024' -q >"$WORK/diesload.out" 2>&1 &
pid=$!
wait_object job diesload-t1-a0-load
sleep 1
uid=$(k get pods -l morphling.kubedl.io/experiment=diesload,morphling.kubedl.io/role=service \
    -o jsonpath='{.items[0].metadata.uid}')
for f in $(grep -ls "$uid" /proc/[0-9]*/cgroup); do
    p=${f#/proc/}
    kill -KILL "${p%/cgroup}" 2>/dev/null
done
wait $pid
"$MORPHLING" show diesload --json >"$WORK/diesload.json"
check "the service killed mid-load: CRASHED" "FAILED CRASHED" \
    "$(jq -r '.trials[0] | "\(.state) \(.failure)"' "$WORK/diesload.json")"
check_contains "... with its exit code" "during the load test, pod diesload-t1-a0-" \
    "$(jq -r '.trials[0].reason' "$WORK/diesload.json")"
check_true "... at once: the trial took $(jq '.trials[0].meta.total_s' "$WORK/diesload.json") s, \
less than its load test's 30 s" jq -en 'input | .trials[0].meta.total_s < 30' "$WORK/diesload.json"
check "nothing left" "" "$(leftover_objects jobgone; leftover_objects ownergone
    leftover_objects svcgone; leftover_objects svcobjgone; leftover_objects diesload
    leftover_objects svcevicted; leftover_objects loadevicted; leftover_objects drained)"
cluster_down
finish
