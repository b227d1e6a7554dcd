#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The trial's Deployment deleted, scaled or edited by hand while the runner waits for its pods
# to become ready: no verdict on the configuration (deleted or scaled, it waited out
# startup_timeout and failed the trial STARTUP_TIMEOUT, "0 of 1 pods ready", before; edited, it
# measured pods of another configuration), but INFRA at once, naming the Deployment, and the
# next attempt succeeds. The same for the trial's Service whose selector is edited (the load
# test's requests went nowhere: the trial FAILED LOAD_ERRORS before). A service pod relabelled
# off the selector is replaced and deleted at teardown. Nothing is left afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
# tampered NAME VERB ARGS [KIND]: runs one trial of the example as experiment NAME, whose service
# becomes ready 8 s after it starts; once attempt 0's object of KIND (default deployment)
# exists, runs kubectl VERB on it with ARGS; prints "STATE ATTEMPT" of the trial.
tampered() {
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set "name=$1" \
        --set runner.startup_timeout=40s \
        --set 'runner.pod_template.spec.containers[0].readinessProbe.initialDelaySeconds=8' \
        -q >"$WORK/$1.out" 2>&1 &
    pid=$!
    wait_object "${4:-deployment}" "$1-t1-a0"
    sleep 1
    # shellcheck disable=SC2086
    k $2 "${4:-deployment}" "$1-t1-a0" $3 >/dev/null
    wait $pid
    echo $? >"$WORK/$1.rc"
    "$MORPHLING" show "$1" --json >"$WORK/$1.json"
    jq -r '.trials[0] | "\(.state) \(.attempt)"' "$WORK/$1.json"
}
check "the Deployment deleted while its pods start: INFRA, retried, SUCCEEDED" "SUCCEEDED 1" \
    "$(tampered depgone delete --wait=false)"
check "... exit 0" 0 "$(cat "$WORK/depgone.rc")"
check_contains "... the reason of the lost attempt names the Deployment" \
    "the trial's deployment \"depgone-t1-a0\" " "$(retry_reason depgone)"
check "the Deployment scaled to 0 while its pods start: the same" "SUCCEEDED 1" \
    "$(tampered depscaled scale --replicas=0)"
check_contains "... the reason names the Deployment and its replicas" \
    "the trial's deployment \"depscaled-t1-a0\" was scaled to 0 replicas (the trial's: 1)" \
    "$(retry_reason depscaled)"
# Someone's edit rolls out pods the trial did not ask for, here ready before the trial's own:
# they were measured as the trial's configuration (SUCCEEDED at attempt 0) before.
check "the Deployment's pod template edited while its pods start: the same" "SUCCEEDED 1" \
    "$(tampered depedited patch "--type json -p [{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/readinessProbe/initialDelaySeconds\",\"value\":0}]")"
check_contains "... the reason names the Deployment and the change" \
    "the trial's deployment \"depedited-t1-a0\" was changed by someone else (generation 2)" \
    "$(retry_reason depedited)"
check "the Service's selector edited while the pods start: the same" "SUCCEEDED 1" \
    "$(tampered svcedited patch "-p {\"spec\":{\"selector\":{\"app\":\"other\"}}}" service)"
check_contains "... the reason names the Service" \
    "the trial's service \"svcedited-t1-a0\" was changed by someone else (its selector or port" \
    "$(retry_reason svcedited)"
# A service pod relabelled off the Deployment's selector (how one takes a pod aside to debug
# it): its ReplicaSet releases it (no owner any more, as in Kubernetes) and makes another, which
# the trial waits for; the released pod was left running after the trial before (the owner's
# delete cannot reach it).
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=relabel \
    --set runner.startup_timeout=40s \
    --set 'runner.pod_template.spec.containers[0].readinessProbe.initialDelaySeconds=8' \
    -q >"$WORK/relabel.out" 2>&1 &
pid=$!
n=0
until pod=$(k get pods -l morphling.kubedl.io/experiment=relabel,morphling.kubedl.io/role=service \
    -o name 2>/dev/null) && [ -n "$pod" ] || [ "$n" -gt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
k label "$pod" morphling.kubedl.io/role- >/dev/null
sleep 1
check "... the relabelled pod is released by its ReplicaSet" "" \
    "$(k get "$pod" -o jsonpath='{.metadata.ownerReferences[*].kind}')"
wait $pid
rc=$?
check "a service pod relabelled off the selector while the pods start: replaced, SUCCEEDED" \
    "SUCCEEDED 0" "$("$MORPHLING" show relabel --json | jq -r '.trials[0] | "\(.state) \(.attempt)"')"
check "... exit 0" 0 "$rc"
check "... the released pod is deleted at teardown" "" "$(k get "$pod" -o name 2>/dev/null)"
check "nothing left" "" "$(leftover_objects depgone; leftover_objects depscaled
    leftover_objects depedited; leftover_objects svcedited; leftover_objects relabel)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
