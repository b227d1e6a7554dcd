#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling operator` with the kubernetes runner on the test cluster (tests/kube): the CRDs
# applied with kubectl, an original-style ProfilingExperiment (the example inference server,
# its load settings in our `load` block) reaches Succeeded with real Deployments, Services and
# load Jobs, `kubectl get pe` and `kubectl get trials` print the columns, and nothing of the
# trials is left; then an experiment deleted while its trial runs leaves nothing behind (the
# garbage collector, through the Trial's ownership); then a `morphling run` of the same name in
# the namespace and the experiment keep to their own objects.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"
NS=morphling-system

cluster_up
k apply -f "$MP_SOURCE_DIR/deploy/crds/" >/dev/null 2>&1 || fail "the CRDs were refused"
k create namespace "$NS" >/dev/null 2>&1 || fail "namespace $NS"
# A Lease in a namespace that does not exist: exit 1 at once, saying so (it retried every 2 s for
# ever, ready as a standby).
"$MORPHLING" operator --kubeconfig "$KUBECONFIG" --namespace "$NS" --work-dir "$WORK" \
    --leader-elect --lease-namespace no-such-ns --health-addr 127.0.0.1:0 >"$WORK/nolease.log" 2>&1 &
nolease=$!
track "$nolease"
nolease_done() { ! kill -0 "$nolease" 2>/dev/null || grep -q "zombie" /proc/"$nolease"/status 2>/dev/null; }
MP_WAIT_S=30 wait_for "an operator without its Lease's namespace stops" nolease_done
kill "$nolease" 2>/dev/null # (still running: the check below fails, with 143)
wait "$nolease"
check "... with exit 1" 1 "$?"
check_contains "... naming the namespace" "Lease no-such-ns/" "$(cat "$WORK/nolease.log")"
"$MORPHLING" operator --kubeconfig "$KUBECONFIG" --namespace "$NS" --work-dir "$WORK" \
    --files-dir "$(dirname "$PAYLOAD")" --health-addr 127.0.0.1:0 >"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
track "$OPERATOR_PID"

# The original-style file: two trials, morphling's load Job with the build's payload (the test
# cluster's pods see this machine's files), a quick measurement.
pe() { # NAME TRIALS
    sed -e "s/name: mobilenet-experiment-grid/name: $1/" -e "s/maxNumTrials: 8/maxNumTrials: $2/" \
        -e '/requestTemplate:/d' -e '/clientTemplate:/,/backoffLimit:/d' \
        -e "s|^  parallelism: 1|  parallelism: 1\n  runner: {load_image: \"morphling:test\"}\n  load: {path: /v1/fmnist, body: $PAYLOAD, connections: 2, threads: 1, warmup: 500ms, window: 500ms, windows: 4, stable_windows: 2, remeasure: false}|" \
        "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" >"$WORK/$1.yaml"
    echo "$WORK/$1.yaml"
}
state() {
    k get pe "$1" -n "$NS" -o jsonpath='{.status.conditions[-1:].type}' 2>/dev/null
}
state_is() {
    [ "$(state "$1")" = "$2" ]
}

check "kubectl apply of the experiment" "profilingexperiment.morphling.kubedl.io/grid created" \
    "$(k apply -f "$(pe grid 2)" 2>&1)"
MP_WAIT_S=400 wait_for "the experiment succeeds" state_is grid Succeeded
out=$(k get pe -n "$NS" 2>&1)
check "kubectl get pe: the columns" "NAME STATE AGE OBJECTIVE-NAME OPTIMAL-OBJECTIVE-VALUE OPTIMAL-PARAMETERS" \
    "$(echo "$out" | head -1 | tr -s ' ')"
check "kubectl get pe: Succeeded, qps" "grid Succeeded qps" "$(echo "$out" | awk 'NR == 2 {print $1, $2, $4}')"
check_true "an optimal value was measured" test "$(k get pe grid -n "$NS" -o json | jq '.status.currentOptimalTrial.objectiveMetricsObserved[0].value | tonumber > 0')" = true
out=$(k get trials -n "$NS" 2>&1)
check "kubectl get trials: the columns" "NAME STATE OBJECTIVE-VALUE PARAMETERS AGE" \
    "$(echo "$out" | head -1 | tr -s ' ')"
check "kubectl get trials: two Succeeded" "grid-1 Succeeded|grid-2 Succeeded|" \
    "$(echo "$out" | awk 'NR > 1 {printf "%s %s|", $1, $2}')"
check "no object of the trials is left" "" "$(leftover_objects grid)"

# Deleted mid-trial: the trial's objects hang from its Trial, which hangs from the experiment.
k apply -f "$(pe doomed 2)" >/dev/null 2>&1
deployed() {
    [ -n "$(k get deployments -n "$NS" -l morphling.kubedl.io/experiment=doomed -o name 2>/dev/null)" ]
}
MP_WAIT_S=200 wait_for "the first trial's Deployment exists" deployed
check "kubectl delete pe" 'profilingexperiment.morphling.kubedl.io "doomed" deleted' \
    "$(k delete pe doomed -n "$NS" 2>&1)"
gone() {
    [ -z "$(leftover_objects doomed)" ] && [ -z "$(k get trials -n "$NS" -o name 2>/dev/null | grep doomed)" ]
}
MP_WAIT_S=200 wait_for "everything of the deleted experiment is gone" gone
check "nothing of the deleted experiment is left" "" "$(leftover_objects doomed)"
check_contains "the operator stopped its run" "morphling-system/doomed: deleted; stopping its run" \
    "$(cat "$WORK/operator.log")"
check_true "the operator is still running" kill -0 "$OPERATOR_PID"

# A Trial deleted while its trial runs: the trial's objects go with it and it runs again as a new
# attempt under its Trial created again; a Warning Event TrialDeleted says so (there was none:
# the user saw the Trial come back, at attempt 2, with no word why).
k apply -f "$(pe redo 1)" >/dev/null 2>&1
redo_deployed() {
    [ -n "$(k get deployments -n "$NS" -l morphling.kubedl.io/experiment=redo -o name 2>/dev/null)" ]
}
MP_WAIT_S=200 wait_for "redo's trial has its Deployment" redo_deployed
k delete trial redo-1 -n "$NS" >/dev/null 2>&1 || not_ok "kubectl delete trial redo-1"
MP_WAIT_S=400 wait_for "redo succeeds" state_is redo Succeeded
check "redo-1 ran again, at attempt 2" "2 Succeeded" \
    "$(k get trial redo-1 -n "$NS" -o json | jq -r '"\(.spec.attempt) \(.status.conditions[-1].type)"')"
check_contains "a Warning Event TrialDeleted says it runs again" \
    "Trial $NS/redo-1 was deleted while trial 1 ran: it runs again (attempt 2)" \
    "$(k get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.name == "redo" and .reason == "TrialDeleted" and .type == "Warning") | .message')"
check "nothing of redo's trials is left" "" "$(leftover_objects redo)"

# A trial's Deployment deleted under it (as a pod evicted or deleted, no verdict on the
# configuration): the trial runs again as a new attempt, and a Warning Event TrialAttemptFailed on
# its Trial says why (nothing did: the Trial came back at attempt 2, the reason in the run's
# cache only, and the operator's log silent).
k apply -f "$(pe retried 1)" >/dev/null 2>&1
retried_deployment() {
    k get deployments -n "$NS" -l morphling.kubedl.io/experiment=retried -o name 2>/dev/null
}
retried_deployed() { [ -n "$(retried_deployment)" ]; }
MP_WAIT_S=200 wait_for "retried's trial has its Deployment" retried_deployed
dep=$(retried_deployment)
k delete -n "$NS" "$dep" --wait=false >/dev/null 2>&1 || not_ok "kubectl delete $dep"
MP_WAIT_S=400 wait_for "retried succeeds" state_is retried Succeeded
check "retried-1 succeeded at attempt 2" "2 Succeeded" \
    "$(k get trial retried-1 -n "$NS" -o json | jq -r '"\(.spec.attempt) \(.status.conditions[-1].type)"')"
# (The runner may see the Deployment gone, or first its pod deleted by the garbage collector:
# either is the reason; the pod's came first once in ctest -j8.)
said=$(k get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.kind == "Trial" and .involvedObject.name == "retried-1" and .reason == "TrialAttemptFailed" and .type == "Warning") | .message')
case "$said" in
*"attempt 1 of trial 1 ended without a verdict on its configuration: the trial's deployment \"${dep#*/}\""* | \
    *"attempt 1 of trial 1 ended without a verdict on its configuration: the trial's service pod \"${dep#*/}-"*"\" is being deleted"*)
    ok "a Warning Event TrialAttemptFailed on the Trial says why" ;;
*) not_ok "a Warning Event TrialAttemptFailed on the Trial says why: [$said]" ;;
esac
check_contains "... and the operator's log" "$NS/retried: trial 1 (Trial retried-1), attempt 1: " \
    "$(cat "$WORK/operator.log")"
check "nothing of retried's trials is left" "" "$(leftover_objects retried)"

# A load image no attempt can pull: after three attempts the run stops, with a Warning Event
# that says why (the experiment only looked stuck), and is retried with backoff.
sed 's|load_image: "morphling:test"|load_image: "nope/load:1"|' "$(pe unpullable 1)" >"$WORK/unpullable-bad.yaml"
k apply -f "$WORK/unpullable-bad.yaml" >/dev/null 2>&1
stopped() {
    k get events -n "$NS" -o json | jq -r \
        '.items[] | select(.involvedObject.name == "unpullable" and .reason == "RunStopped") | .message' |
        grep -q "could not be pulled in 3 attempts in a row"
}
MP_WAIT_S=200 wait_for "a Warning Event RunStopped names the image" stopped
check_contains "... as the runner's run error" \
    "the load generator's image (runner.load_image) could not be pulled in 3 attempts in a row (the last: load pod unpullable-t1-a2-load" \
    "$(k get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "RunStopped") | .message')"
check_contains "... and what to do under the operator (it said only 'run again to resume')" \
    "the operator runs it again on its own; an image fixed in the ProfilingExperiment needs a new one" \
    "$(k get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "RunStopped") | .message')"
running_cond() { # "STATUS REASON MESSAGE" of the experiment's Running condition
    k get pe unpullable -n "$NS" -o json | jq -r '.status.conditions[] | select(.type == "Running") | "\(.status) \(.reason) \(.message)"'
}
stopped_cond() {
    running_cond >"$WORK/running-cond"
    grep -q "^True RunStopped " "$WORK/running-cond"
}
# (between two tries a retried run that starts says "running" again, for three attempts)
MP_WAIT_S=60 wait_for "its Running condition says the run stopped" stopped_cond
check_contains "... with the error (it said \"the experiment is running\")" \
    "could not be pulled in 3 attempts in a row" "$(cat "$WORK/running-cond")"
# Retried with backoff, each run stops on another attempt's pod, which the message names: still
# one RunStopped Event, counted, with the latest message (there was one Event per retry).
run_stopped() { # the experiment's RunStopped Events as "COUNT MESSAGE", one a line
    k get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.name == "unpullable" and .reason == "RunStopped") | "\(.count) \(.message)"'
}
stopped_again() { [ "$(run_stopped | awk '{n += $1} END {print n + 0}')" -ge 2 ]; }
MP_WAIT_S=200 wait_for "the run stops again" stopped_again
check "one RunStopped Event for all the retries" 1 "$(run_stopped | wc -l)"
stops=$(run_stopped)
count=$(echo "$stops" | awk 'NR == 1 {print $1}')
check_true "... counting them ($count)" test "$count" -ge 2
# (each run makes three attempts: the Nth stop names attempt 3N - 1, counted from 0)
check_contains "... saying the latest" "the last: load pod unpullable-t1-a$((3 * count - 1))-load" "$stops"
k delete pe unpullable -n "$NS" >/dev/null 2>&1
unpullable_gone() { [ -z "$(leftover_objects unpullable)" ]; }
MP_WAIT_S=200 wait_for "nothing of it is left once deleted" unpullable_gone

# A `morphling run` of an experiment named as a ProfilingExperiment, in its namespace, measuring
# when the experiment is applied: the operator neither deletes nor adopts the run's objects (their
# run label is not the experiment's uid), says why (a NameInUse Event) and tries again later; the
# run finishes with its own measurement; then the experiment runs and succeeds.
# (Memory: the sanitizer build's server outgrows the example's 256 MiB in a long load test.)
SLOW="--set runner.load.window=2s --set runner.load.windows=10 --set runner.load.stable_windows=9"
SLOW="$SLOW --set parameters.memory.values[0]=1024 --set runner.load.remeasure=false"
# shellcheck disable=SC2086
MORPHLING_DB=$WORK/cli.db "$MORPHLING" run "$EXAMPLE" --set "runner.load.body=$PAYLOAD" \
    --set algorithm.max_trials=1 --set algorithm.confirm=false --set "runner.namespace=$NS" \
    --set name=shared $SLOW -q >"$WORK/cli.out" 2>&1 &
cli=$!
track "$cli"
has_job() {
    leftover_objects shared | grep -q '^job'
}
MP_WAIT_S=200 wait_for "the run's load Job exists" has_job
runs() {
    k -n "$NS" get configmaps -l morphling.kubedl.io/experiment=shared \
        -o jsonpath='{range .items[*]}{.metadata.labels.morphling\.kubedl\.io/run}{"\n"}{end}' |
        sort -u
}
run_cli=$(runs)
k apply -f "$(pe shared 1)" >/dev/null 2>&1
name_in_use() {
    k get events -n "$NS" -o json | jq -en 'input | .items[] | select(.reason == "NameInUse")' >/dev/null
}
wait_for "the operator says another run uses the name (Event NameInUse)" name_in_use
check_contains "the operator's log says why it waits" \
    "another run of an experiment named 'shared' uses namespace \"$NS\"" "$(cat "$WORK/operator.log")"
check "the run's objects are untouched, and only the run's" "$run_cli" "$(runs)"
wait "$cli"
rc=$?
check "the run exits 0: $(cat "$WORK/cli.out")" 0 "$rc"
MORPHLING_DB=$WORK/cli.db "$MORPHLING" show shared --json >"$WORK/cli.json"
check "the run's trial SUCCEEDED at its first attempt" "SUCCEEDED 0" \
    "$(jq -r '.trials[0] | "\(.state) \(.attempt)"' "$WORK/cli.json")"
load_s=$(jq -r '.trials[0].meta.load_s // 0' "$WORK/cli.json")
check_true "the run's load test took its 9 windows of 2 s at least (${load_s} s)" \
    jq -en 'input | .trials[0].meta.load_s >= 18' "$WORK/cli.json" >/dev/null
MP_WAIT_S=400 wait_for "then the experiment succeeds" state_is shared Succeeded
check "the runs that met the name said NameInUse, no RunStopped as well" "" \
    "$(k get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "RunStopped" and .involvedObject.name == "shared") | .message')"
check "no object of either is left" "" "$(leftover_objects shared)"

kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
check "SIGTERM stops the operator with status 0" 0 "$?"
[ "$FAILED" -eq 0 ] || cat "$WORK/operator.log"
cluster_down
finish
