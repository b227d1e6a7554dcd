#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator (operator_lib.sh: fake trial runner) and a Trial deleted while it runs
# (`kubectl delete trial NAME`): the run does not stop (no RunStopped, the other trials go on);
# the Trial is created again with the trial's result, a Warning Event TrialDeleted says so,
# and the experiment ends Succeeded with every trial recorded once (docs/kubernetes.md); one
# deleted once the experiment has ended is created again too (also when the operator is killed
# between that create and the status write: the next one writes it), and none once it is deleted.
# An experiment that was Running when the operator restarted without the --files-dir its spec
# reads from is not failed for good: its run waits (RunStopped, saying to start the operator
# with --files-dir) and continues once an operator with the folder runs it. A namespace deleted
# while an experiment runs in it stops the run at once; the operator runs the others as before.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

start_apiserver
touch "$WORK/hold"
start_operator "$WORK/operator.log" --trial-ms 100 --hold-from 2
original_pe gone 3 1
kubectl apply -f "$WORK/gone.yaml" >/dev/null
trial_running() { [ "$(kubectl get trial gone-2 -n "$NS" -o jsonpath='{.status.conditions[-1:].type}' 2>/dev/null)" = Running ]; }
wait_for "trial 2 runs" trial_running
uid2=$(kubectl get trial gone-2 -n "$NS" -o jsonpath='{.metadata.uid}')
kubectl delete trial gone-2 -n "$NS" >/dev/null || fail "kubectl delete trial"
# A finished Trial deleted while its experiment runs is created again with its result at once
# (the operator watches Trials), not only when the operator restarts.
uid1=$(kubectl get trial gone-1 -n "$NS" -o jsonpath='{.metadata.uid}')
kubectl delete trial gone-1 -n "$NS" >/dev/null || fail "kubectl delete trial gone-1"
trial1_back() {
    [ "$(kubectl get trial gone-1 -n "$NS" -o jsonpath='{.status.state}' 2>/dev/null)" = SUCCEEDED ]
}
wait_for "the finished trial 1's Trial is created again while trial 2 is held" trial1_back
uid1b=$(kubectl get trial gone-1 -n "$NS" -o jsonpath='{.metadata.uid}')
check_true "trial 1's Trial is a new object" test -n "$uid1b" -a "$uid1b" != "$uid1"
check "trial 1 keeps its result, its metrics and its parameters" "SUCCEEDED Succeeded 1 true true" \
    "$(kubectl get trial gone-1 -n "$NS" -o json | jq -r '[.status.state, .status.conditions[-1].type, .spec.attempt, (.status.metrics | length > 0), (.status.trialResult.tunableParameters | length > 0)] | join(" ")')"
check "trial 1's Trial is owned by the experiment" "$(kubectl get pe gone -n "$NS" -o jsonpath='{.metadata.uid}')" \
    "$(kubectl get trial gone-1 -n "$NS" -o jsonpath='{.metadata.ownerReferences[0].uid}')"
check_contains "a Warning Event TrialDeleted for the finished trial" "Trial $NS/gone-1 of trial 1, which had ended (SUCCEEDED), was deleted while the experiment ran: created again with its result" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "TrialDeleted" and .type == "Warning") | .message')"
check "the experiment still runs" Running "$(pe_state gone)"
rm -f "$WORK/hold"
wait_state gone Succeeded
pe=$(kubectl get pe gone -n "$NS" -o json)
check "the run was never stopped (RunStopped Events)" "" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "RunStopped") | .message')"
check_false "the operator's log has no stopped run" grep -q "run stopped" "$WORK/operator.log"
check "three Trials, one per number" "gone-1 gone-2 gone-3" \
    "$(kubectl get trials -n "$NS" -o json | jq -r '[.items[].metadata.name] | sort | join(" ")')"
check_true "trial 2's Trial is a new object" test "$(kubectl get trial gone-2 -n "$NS" -o jsonpath='{.metadata.uid}')" != "$uid2"
check "trial 2 keeps its result" "SUCCEEDED Succeeded 1" \
    "$(kubectl get trial gone-2 -n "$NS" -o json | jq -r '[.status.state, .status.conditions[-1].type, .spec.attempt] | join(" ")')"
check "trials 2's metrics" true \
    "$(kubectl get trial gone-2 -n "$NS" -o json | jq -r '.status.metrics | length > 0')"
check "trialsSucceeded" 3 "$(printf '%s' "$pe" | jq -r .status.trialsSucceeded)"
check_contains "a Warning Event TrialDeleted" "Trial $NS/gone-2 was deleted while trial 2 ran" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "TrialDeleted" and .type == "Warning") | .message')"
check "no object of a trial left" "" "$(leftovers)"
# Once the experiment has ended, a deleted Trial is created again too, with its result, as its
# DELETED event held it, so that the status keeps matching its Trials (it stayed deleted).
uid3=$(kubectl get trial gone-3 -n "$NS" -o jsonpath='{.metadata.uid}')
status3=$(kubectl get trial gone-3 -n "$NS" -o json | jq -cS '.status')
kubectl delete trial gone-3 -n "$NS" >/dev/null || fail "kubectl delete trial gone-3"
trial3_back() {
    [ "$(kubectl get trial gone-3 -n "$NS" -o jsonpath='{.status.state}' 2>/dev/null)" = SUCCEEDED ]
}
wait_for "the Trial of a finished experiment is created again" trial3_back
check_true "trial 3's Trial is a new object" test "$(kubectl get trial gone-3 -n "$NS" -o jsonpath='{.metadata.uid}')" != "$uid3"
check "trial 3's status is the one it had" "$status3" \
    "$(kubectl get trial gone-3 -n "$NS" -o json | jq -cS '.status')"
check "trial 3's Trial keeps its owner and labels" "$(kubectl get pe gone -n "$NS" -o jsonpath='{.metadata.uid}') gone 3" \
    "$(kubectl get trial gone-3 -n "$NS" -o json | jq -r '"\(.metadata.ownerReferences[0].uid) \(.metadata.labels["morphling.kubedl.io/experiment"]) \(.metadata.labels["morphling.kubedl.io/trial"])"')"
check_contains "a Warning Event TrialDeleted for the finished experiment's Trial" \
    "Trial $NS/gone-3 of trial 3, which had ended (SUCCEEDED), was deleted after the experiment ended: created again with its result" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "TrialDeleted" and .type == "Warning") | .message')"
check "the experiment stays Succeeded" Succeeded "$(pe_state gone)"
# The operator killed right after that create, before the status write (the API server's
# /_test/kill hook, so the answer is lost too): the next operator finds the Trial still marked
# as being created again and writes its status (it stayed without status for good).
admin_api POST /_test/kill "{\"pid\": $OPERATOR_PID, \"after\": 1, \"verb\": \"create\", \"resource\": \"trials\", \"userAgent\": \"morphling-operator\"}" >/dev/null
kubectl delete trial gone-3 -n "$NS" >/dev/null || fail "kubectl delete trial gone-3 (twice)"
operator_gone() { ! kill -0 "$OPERATOR_PID" 2>/dev/null; }
wait_for "the operator is killed right after it creates gone-3 again" operator_gone
wait "$OPERATOR_PID"
check "... by SIGKILL" 137 "$?"
check "gone-3 exists again, without its status" "{}" \
    "$(kubectl get trial gone-3 -n "$NS" -o json | jq -cS '.status // {}')"
start_operator "$WORK/operator.log" --trial-ms 100
wait_for "the next operator writes the status of the Trial created again" trial3_back
check "trial 3's status is the one it had, after the kill" "$status3" \
    "$(kubectl get trial gone-3 -n "$NS" -o json | jq -cS '.status')"
check "no mark of the restore is left on the Trial" "" \
    "$(kubectl get trial gone-3 -n "$NS" -o json | jq -r '[.metadata.labels, .metadata.annotations] | map(select(. != null) | keys[]) | map(select(test("restor"))) | join(" ")')"
check "the experiment stays Succeeded after the kill" Succeeded "$(pe_state gone)"
# Deleting the experiment removes its Trials for good: none is created again (the operator has
# reconciled what followed once a later experiment has run).
kubectl delete pe gone -n "$NS" --wait=true >/dev/null || fail "kubectl delete pe gone"
no_gone_trials() { [ -z "$(kubectl get trials -n "$NS" -l morphling.kubedl.io/experiment=gone -o name)" ]; }
wait_for "the deleted experiment's Trials go" no_gone_trials
original_pe after-gone 1 1
kubectl apply -f "$WORK/after-gone.yaml" >/dev/null
wait_state after-gone Succeeded
check "no Trial of the deleted experiment is created again" "" \
    "$(kubectl get trials -n "$NS" -l morphling.kubedl.io/experiment=gone -o name)"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
check "the operator that created the Trial again stops with status 0" 0 "$?"

# A fresh experiment naming a file this operator may not read: Failed, saying what to do.
start_operator "$WORK/operator.log" --trial-ms 100
sed -e 's/name: mobilenet-experiment-grid/name: reads-files/' -e '/requestTemplate:/d' \
    -e 's|^  maxNumTrials: 8|  maxNumTrials: 2\n  load: {path: /v1/fmnist, body: /etc/passwd}|' \
    "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" >"$WORK/files.yaml"
kubectl apply -f "$WORK/files.yaml" >/dev/null
wait_state reads-files Failed
check_contains "InvalidSpec says what to do" \
    "this operator was started without --files-dir and reads no file: start it with --files-dir DIR holding the file" \
    "$(kubectl get pe reads-files -n "$NS" -o jsonpath='{.status.conditions[-1:].message}')"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"

# An experiment whose body is in --files-dir, Running when its operator stops; the operator
# comes back without --files-dir: the run waits, saying why, and goes on under one with it.
mkdir "$WORK/files"
printf '{"instances": [1, 2, 3]}' >"$WORK/files/body.json"
touch "$WORK/hold"
start_operator "$WORK/operator.log" --trial-ms 100 --hold-from 2 --files-dir "$WORK/files"
sed -e 's/name: mobilenet-experiment-grid/name: reads-body/' -e '/requestTemplate:/d' \
    -e "s|^  maxNumTrials: 8|  maxNumTrials: 3\n  load: {path: /v1/fmnist, body: $WORK/files/body.json}|" \
    "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" >"$WORK/body.yaml"
kubectl apply -f "$WORK/body.yaml" >/dev/null
body_running() { [ "$(kubectl get trial reads-body-2 -n "$NS" -o jsonpath='{.status.conditions[-1:].type}' 2>/dev/null)" = Running ]; }
wait_for "reads-body: trial 2 runs" body_running
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
start_operator "$WORK/operator.log" --trial-ms 100
stopped() {
    kubectl get events -n "$NS" -o json | jq -en 'input | .items[] | select(.reason == "RunStopped" and .involvedObject.name == "reads-body")' >/dev/null
}
wait_for "reads-body: RunStopped" stopped
check_contains "RunStopped says what to do" \
    "the experiment ran under an operator that could read it: start this operator with --files-dir DIR holding the file and the run continues" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "RunStopped" and .involvedObject.name == "reads-body") | .message')"
check "reads-body is not failed" Running "$(pe_state reads-body)"
# The status says why nothing moves, too (an Event expires: after an hour on a real cluster): the
# Running condition, reason RunStopped, with the same message. (It said "the experiment is
# running" while no run was.)
running_cond() {
    kubectl get pe "$1" -n "$NS" -o json | jq -r '.status.conditions[] | select(.type == "Running") | '"$2"
}
check "reads-body: its Running condition says the run stopped" "True RunStopped" \
    "$(running_cond reads-body '"\(.status) \(.reason)"')"
check_contains "... and what to do" \
    "start this operator with --files-dir DIR holding the file and the run continues (retried with backoff)" \
    "$(running_cond reads-body .message)"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
rm -f "$WORK/hold"
start_operator "$WORK/operator.log" --trial-ms 100 --files-dir "$WORK/files"
wait_state reads-body Succeeded
check "reads-body: its Running condition says it has finished" "False ExperimentFinished" \
    "$(running_cond reads-body '"\(.status) \(.reason)"')"
check "reads-body: every trial measured the body" "24 24 24" \
    "$(kubectl get trials -n "$NS" -l morphling.kubedl.io/experiment=reads-body -o json | jq -r '[.items[].status.metrics.body_bytes] | join(" ")')"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
check "the operator stops with status 0" 0 "$?"

# A namespace deleted while an experiment runs in it (trial 2 held): its run stops at once (the
# experiment went with its namespace), saying so, without retrying against the namespace (no
# hot loop: the requests the operator sends afterwards are counted), and the operator runs the
# experiments of other namespaces as before.
kubectl create namespace doomed >/dev/null || fail "namespace doomed"
touch "$WORK/hold"
"$OPERATOR" --kubeconfig "$KUBECONFIG" --all-namespaces --work-dir "$WORK" --identity op \
    --trial-ms 100 --hold-from 2 >>"$WORK/operator.log" 2>&1 &
OPERATOR_PID=$!
track "$OPERATOR_PID"
original_pe doomed-exp 3 1
sed -i "s/namespace: $NS/namespace: doomed/" "$WORK/doomed-exp.yaml"
kubectl apply -f "$WORK/doomed-exp.yaml" >/dev/null
doomed_running() { [ "$(kubectl get trial doomed-exp-2 -n doomed -o jsonpath='{.status.conditions[-1:].type}' 2>/dev/null)" = Running ]; }
wait_for "doomed-exp: trial 2 runs" doomed_running
check_contains "the namespace is deleted, and goes" 'namespace "doomed" deleted' \
    "$(kubectl delete namespace doomed --timeout=60s 2>&1)"
stopped_doomed() { grep -q "doomed/doomed-exp: deleted; stopping its run" "$WORK/operator.log"; }
wait_for "the operator stops the run of the experiment deleted with its namespace" stopped_doomed
sleep 1
admin_api DELETE /_test/requests >/dev/null
sleep 5
check "no request in 5 s after the run stopped but the watches' (no retries against the namespace)" "" \
    "$(admin_api GET '/_test/requests?user=admin' | jq -r '.items[] | select(.verb != "watch") | "\(.verb) \(.path) \(.code)"')"
check_false "no error retried for the namespace's experiment" grep -q "doomed/doomed-exp: .*(retrying)" "$WORK/operator.log"
rm -f "$WORK/hold"
original_pe after-doomed 2 1
kubectl apply -f "$WORK/after-doomed.yaml" >/dev/null
wait_state after-doomed Succeeded
check_true "the operator is still running" kill -0 "$OPERATOR_PID"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
check "... and stops with status 0" 0 "$?"
finish
