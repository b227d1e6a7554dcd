#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator (operator_lib.sh: fake trial runner) and what an experiment's spec may be: specs
# the CRD schema accepts but `morphling validate` refuses end Failed (InvalidSpec) with validate's
# message, naming the ProfilingExperiment's own field, and a Warning Event, never Running; a spec
# edited while its experiment runs does not change the run, also across an operator restart
# (status.runSpec), and the operator says so (a Warning Event SpecChangeIgnored, and
# status.observedGeneration moves on), as for an edit of a finished experiment; an experiment whose
# Trials do not fit its spec (edited under an operator that kept no runSpec) ends Failed
# (SpecChanged) with its unfinished Trials Killed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

start_apiserver
# As deploy/operator.yaml tells it: its own service account, which no experiment may run as.
POD_NAMESPACE=$NS POD_SERVICE_ACCOUNT=morphling-operator start_operator "$WORK/operator.log" \
    --trial-ms 100
original_pe base 2 1
base_json=$(kubectl create --dry-run=client -o json -f "$WORK/base.yaml")

# invalid NAME JQ MESSAGE: the base experiment renamed NAME and changed by JQ ends Failed with
# reason InvalidSpec, MESSAGE in its condition and its Warning Event, and no Trial.
invalid() {
    echo "$base_json" | jq ".metadata.name = \"$1\" | $2" | kubectl apply -f - >/dev/null 2>&1 ||
        fail "$1: refused by the API server"
    wait_state "$1" Failed
    lib_pe=$(kubectl get pe "$1" -n "$NS" -o json)
    check "$1: reason InvalidSpec" InvalidSpec \
        "$(printf '%s' "$lib_pe" | jq -r '.status.conditions[-1].reason')"
    check_contains "$1: the message" "$3" \
        "$(printf '%s' "$lib_pe" | jq -r '.status.conditions[-1].message')"
    check "$1: no Trial" "" "$(kubectl get trials -n "$NS" -o name | grep "/$1-")"
    check "$1: observedGeneration" 1 "$(printf '%s' "$lib_pe" | jq -r '.status.observedGeneration')"
    # Started and ended at once, as a script that reads both times expects (the original's
    # status has both for every experiment); startTime was missing.
    check "$1: startTime, the completionTime" true \
        "$(printf '%s' "$lib_pe" | jq '.status.startTime != null and .status.startTime == .status.completionTime')"
    # Every count 0, as the original's status has them for every experiment (they were missing:
    # blanks in `kubectl get pe -o custom-columns=...:.status.trialsTotal`).
    check "$1: every trial count 0" "0 0 0 0 0 0" \
        "$(printf '%s' "$lib_pe" | jq -r '.status | [.trialsTotal, .trialsSucceeded, .trialsFailed, .trialsPending, .trialsRunning, .trialsKilled] | map(tostring) | join(" ")')"
    lib_ev=$(kubectl get events -n "$NS" -o json | jq -r --arg n "$1" \
        '.items[] | select(.involvedObject.name == $n and .type == "Warning") | .reason + ": " + .message')
    check_contains "$1: a Warning Event" "InvalidSpec: $NS/$1:" "$lib_ev"
    check_contains "$1: with the message" "$3" "$lib_ev"
}

invalid two-containers '.spec.servicePodTemplate.template.spec.containers += [{name: "side", image: "debian:12"}]' \
    "'spec.servicePodTemplate.template.spec.containers': the pod template has 2 containers: name the one to tune in spec.serviceContainerName"
# The message's line and column are the field's in what `kubectl get pe NAME -o json` prints (they
# counted the metadata.managedFields kubectl hides: 46 lines further down, past the spec).
pos=$(kubectl get pe two-containers -n "$NS" -o json | jq -r '.status.conditions[-1].message' |
    sed -n "s|^$NS/two-containers:\([0-9]*:[0-9]*\):.*|\1|p")
check "two-containers: the field at the message's position ($pos) in kubectl get pe -o json" \
    "[" "$(kubectl get pe two-containers -n "$NS" -o json | sed -n "${pos%:*}p" | cut -c"${pos#*:}"-)"
# What docs/kubernetes.md gives scripts that must stop at either end: the completion time.
check "two-containers: kubectl wait for the completion time ends" \
    "profilingexperiment.morphling.kubedl.io/two-containers condition met" \
    "$(kubectl wait --for=jsonpath='{.status.completionTime}' pe/two-containers -n "$NS" --timeout=10s 2>&1)"
invalid no-containers '.spec.servicePodTemplate.template.spec.containers = []' \
    "'spec.servicePodTemplate.template': the pod template has no spec.containers"
invalid spec-text '.spec.servicePodTemplate.template.spec = "x"' \
    "'spec.servicePodTemplate.template': the pod template has no spec.containers"
invalid load-connections '.spec.load = {connections: "abc"}' "'spec.load.connections': expected"
invalid runner-key '.spec.runner = {foo: "bar"}' "'spec.runner.foo': unknown key"
# What the API server's rules refuse in the pod template (the Deployment sent as a dry run): every
# trial failed INFRA (three attempts each) before.
invalid port-name '.spec.servicePodTemplate.template.spec.containers[0].ports[0].name = "THIS_IS_BAD"' \
    "'spec.servicePodTemplate.template': the API server refuses the trials' Deployment of this pod template: "
invalid operator-sa '.spec.servicePodTemplate.template.spec.serviceAccountName = "morphling-operator"' \
    "'spec.servicePodTemplate.template.spec.serviceAccountName': the operator's own service account"
invalid client-sa '.spec.clientTemplate = {spec: {template: {spec: {serviceAccount: "morphling-operator", containers: [{name: "c", image: "x"}]}}}}' \
    "'spec.clientTemplate.spec.template.spec.serviceAccount': the operator's own service account"
invalid runner-context '.spec.runner = {context: "other"}' \
    "'spec.runner.context': not used here: the operator runs every trial with its own client"
# A kubeconfig is refused as such, wherever it is: the message said to put the file in
# --files-dir (this operator has none), where it would only be refused for what it is.
invalid runner-kubeconfig '.spec.runner = {kubeconfig: "/etc/passwd"}' \
    "'spec.runner.kubeconfig': not used here: the operator runs every trial with its own client"
invalid bo-setting '.spec.algorithm = {algorithmName: "bo", algorithmSettings: [{name: "bogus", value: "x"}]}' \
    "'spec.algorithm.algorithmSettings.bogus': unknown key"
invalid grid-setting '.spec.algorithm = {algorithmName: "grid", algorithmSettings: [{name: "n_initial", value: "10"}]}' \
    "this algorithm takes no settings"
invalid seed-twice '.spec.algorithm = {algorithmName: "random", seed: 3, algorithmSettings: [{name: "random_state", value: "10"}]}' \
    "random_state is the seed, which spec.algorithm.seed gives already: give it once"
# A requestTemplate over 256 KiB is refused by the API server (the object holds it up to three
# times: spec, status.runSpec and kubectl apply's annotation, within its 1.5 MiB).
head -c 262145 /dev/zero | tr '\0' x >"$WORK/big-body"
err=$(echo "$base_json" | jq --rawfile b "$WORK/big-body" \
    '.metadata.name = "big-body" | .spec.requestTemplate = $b' | kubectl create -f - 2>&1) &&
    fail "big-body: created"
check_contains "big-body: refused naming the field" "spec.requestTemplate" "$err"
check_contains "big-body: ... and the limit" "262144" "$err"

# An invalid spec fixed afterwards: a finished experiment is not run again, and it says so.
kubectl patch pe runner-key -n "$NS" --type merge -p '{"spec":{"runner":null}}' >/dev/null
ignored() { # NAME: its SpecChangeIgnored Events
    kubectl get events -n "$NS" -o json | jq -r --arg n "$1" \
        '.items[] | select(.involvedObject.name == $n and .reason == "SpecChangeIgnored") | .message'
}
has_ignored() { [ -n "$(ignored "$1")" ]; }
wait_for "runner-key: the edit is noticed" has_ignored runner-key
check "runner-key: the Event says why" \
    "the spec changed (generation 2) after it had finished: the change is not applied (a finished experiment is not run again); to run the new spec, delete the experiment and create it again" \
    "$(ignored runner-key)"
check "runner-key: still Failed, observedGeneration 2" "Failed 2" \
    "$(kubectl get pe runner-key -n "$NS" -o json | jq -r '[.status.conditions[-1].type, .status.observedGeneration] | join(" ")')"
check "none was ever Running" "" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "ExperimentRunning") | .involvedObject.name')"
check "no retry" "" "$(grep retrying "$WORK/operator.log")"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"

# A spec edited while the experiment runs, then a restart: the run goes on with the spec it
# started with.
trial_running() { # TRIAL: its Running condition is True
    [ "$(kubectl get trial "$1" -n "$NS" -o json 2>/dev/null |
        jq -r '.status.conditions[]? | select(.type == "Running") | .status')" = True ]
}
edit='{"spec":{"tunableParameters":[{"category":"resource","parameters":[{"parameterType":"discrete","name":"cpu","feasibleSpace":{"list":["1","2"]}}]}]}}'
original_pe edited 3 1
start_operator "$WORK/edited.log" --trial-ms 3000
kubectl apply -f "$WORK/edited.yaml" >/dev/null
wait_for "edited-1 runs" trial_running edited-1
check "kubectl patch of the running experiment's spec" \
    "profilingexperiment.morphling.kubedl.io/edited patched" \
    "$(kubectl patch pe edited -n "$NS" --type merge -p "$edit" 2>&1)"
wait_for "edited: the edit is noticed" has_ignored edited
check_contains "edited: the Event says the edit is not applied" \
    "the spec changed (generation 2) after its run had started: the change is not applied (the run keeps the spec it started with, status.runSpec)" \
    "$(ignored edited)"
kill -KILL "$OPERATOR_PID"
wait "$OPERATOR_PID" 2>/dev/null
start_operator "$WORK/edited-2.log" --trial-ms 100
wait_state edited Succeeded
check "the Trials: every one finished, with the spec the run started with" \
    "edited-1 SUCCEEDED 3|edited-2 SUCCEEDED 3|edited-3 SUCCEEDED 3|" \
    "$(kubectl get trials -n "$NS" -o json | jq -r '.items[] | select(.metadata.name | startswith("edited-")) |
        "\(.metadata.name) \(.status.state) \(.spec.samplingResult | length)"' | sort | tr '\n' '|')"
# A Trial's Created condition dates from its creation, however often its status is written again
# (edited-1's: created under the first operator, run again and finished under the second; each
# write set it to its own time before).
check "each Trial's Created condition keeps the time it was created" \
    "edited-1 true|edited-2 true|edited-3 true|" \
    "$(kubectl get trials -n "$NS" -o json | jq -r '.items[] | select(.metadata.name | startswith("edited-")) |
        .metadata as $m | "\($m.name) \(.status.conditions[0] |
        .type == "Created" and .lastTransitionTime == $m.creationTimestamp)"' | sort | tr '\n' '|')"
check "status.runSpec is the spec it started with" 3 \
    "$(kubectl get pe edited -n "$NS" -o json | jq '[.status.runSpec.tunableParameters[].parameters[]] | length')"
check "edited: observedGeneration is the edit's generation" "2 2" \
    "$(kubectl get pe edited -n "$NS" -o json | jq -r '[.metadata.generation, .status.observedGeneration] | join(" ")')"
check "edited: one Event for the edit" 1 "$(ignored edited | wc -l)"
check_contains "the operator says so" "morphling-system/edited: the spec has changed since its run started" \
    "$(cat "$WORK/edited-2.log")"

# The same under an operator that kept no runSpec (removed here): the Trials do not fit the
# spec any more, the experiment ends Failed and its unfinished Trial Killed.
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
original_pe legacy 3 1
start_operator "$WORK/legacy.log" --trial-ms 3000
kubectl apply -f "$WORK/legacy.yaml" >/dev/null
wait_for "legacy-1 runs" trial_running legacy-1
kill -KILL "$OPERATOR_PID"
wait "$OPERATOR_PID" 2>/dev/null
curl -sS --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
    -H 'Content-Type: application/merge-patch+json' -X PATCH \
    -d '{"status":{"runSpec":null}}' \
    "$KUBE_API_URL/apis/morphling.kubedl.io/v1alpha1/namespaces/$NS/profilingexperiments/legacy/status" >/dev/null
kubectl patch pe legacy -n "$NS" --type merge -p "$edit" >/dev/null
start_operator "$WORK/legacy-2.log" --trial-ms 100
wait_state legacy Failed
lib_pe=$(kubectl get pe legacy -n "$NS" -o json)
check "reason SpecChanged" SpecChanged "$(printf '%s' "$lib_pe" | jq -r '.status.conditions[-1].reason')"
check_contains "the message" \
    "the experiment's Trials do not fit its spec (was it edited?): trials morphling-system/legacy-1: parameter 'cpu'" \
    "$(printf '%s' "$lib_pe" | jq -r '.status.conditions[-1].message')"
check "the counts" "1 1 0" "$(printf '%s' "$lib_pe" | jq -r '[.status.trialsTotal, .status.trialsKilled, .status.trialsRunning] | join(" ")')"
check "the Trial is Killed, not Running" "CANCELLED Running=False Killed=True" \
    "$(kubectl get trial legacy-1 -n "$NS" -o json |
        jq -r '[.status.state, (.status.conditions[1:][] | .type + "=" + .status)] | join(" ")')"
check_contains "a Warning Event" "SpecChanged" \
    "$(kubectl get events -n "$NS" --field-selector involvedObject.name=legacy,type=Warning 2>&1)"
check "no retry" "" "$(grep retrying "$WORK/legacy-2.log")"

kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
[ "$FAILED" -eq 0 ] || cat "$WORK/operator.log" "$WORK/edited-2.log" "$WORK/legacy-2.log"
finish
