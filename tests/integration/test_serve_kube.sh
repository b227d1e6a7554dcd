#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling serve --kube` on the test cluster's API server (operator_lib.sh): the operator with
# the fake trial runner runs an original-style ProfilingExperiment, and the HTTP API of a server
# started with --kube shows it (list, state, trials with their configuration, state and
# metrics, the recommendation) as the operator wrote it; creating an experiment through the API
# is refused; an experiment deleted from the cluster leaves the list; the verb's command line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

out=$("$MORPHLING" serve --kube --db "$WORK/x.db" 2>&1)
check "serve: --kube with --db exits 2" 2 "$?"
check_contains "it says why" "drop --db" "$out"
out=$("$MORPHLING" serve --namespace a 2>&1)
check "serve: --namespace without --kube exits 2" 2 "$?"
out=$("$MORPHLING" serve --kube --namespace a --all-namespaces 2>&1)
check "serve: --namespace with --all-namespaces exits 2" 2 "$?"
out=$("$MORPHLING" serve --kube --kubeconfig "$WORK/none" 2>&1)
check "serve: a missing kubeconfig exits 1" 1 "$?"
check_contains "it names the file" "$WORK/none" "$out"

start_apiserver
start_operator "$WORK/operator.log" --fail-number 3
original_pe mobilenet-experiment-grid 8 1
kubectl apply -f "$WORK/mobilenet-experiment-grid.yaml" >/dev/null 2>&1 || fail "kubectl apply"
# One whose spec does not validate (the operator marks it Failed): it stays out of the list.
sed -e 's/name: "memory"/name: "ephemeral-storage"/' -e 's/name: mobilenet-experiment-grid/name: bad-resource/' \
    "$WORK/mobilenet-experiment-grid.yaml" >"$WORK/bad.yaml"
kubectl apply -f "$WORK/bad.yaml" >/dev/null 2>&1 || fail "kubectl apply bad.yaml"

# serve_kube TOKEN_FILE ARGS...: starts `serve --kube` on a free port; sets SERVER_PID, BASE,
# AUTH.
serve_kube() {
    lib_token=$1
    shift
    : >"$WORK/server.out"
    mkdir -p "$WORK/tmp"
    TMPDIR="$WORK/tmp" "$MORPHLING" serve --kube --listen 127.0.0.1:0 --token-file "$lib_token" "$@" \
        >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    track "$SERVER_PID"
    wait_for "serve --kube listens" grep -q 'listening on' "$WORK/server.out" ||
        fail "serve --kube did not start: $(cat "$WORK/server.err")"
    PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/server.out")
    BASE="http://127.0.0.1:$PORT"
    AUTH="Authorization: Bearer $(cat "$lib_token")"
}
get() { curl -sS -H "$AUTH" "$BASE$1"; }
state_is() { [ "$(get "/api/v1/experiments/$1" 2>/dev/null | jq -r .state)" = "$2" ]; }

serve_kube "$WORK/token" --namespace "$NS"
# The live view: the mirror writes the engine's events as the operator's Trials move.
curl -sN -H "$AUTH" "$BASE/api/v1/events?after=0" >"$WORK/events.txt" &
stream_pid=$!
track "$stream_pid"
wait_state mobilenet-experiment-grid Succeeded
wait_for "the mirror shows the experiment finished" state_is mobilenet-experiment-grid SUCCEEDED
wait_state bad-resource Failed
check "GET /api/v1/experiments: the cluster's experiment, not the invalid one" "mobilenet-experiment-grid" \
    "$(get /api/v1/experiments | jq -r '[.experiments[].name] | join(" ")')"
wait_for "the event stream says the experiment finished" grep -q '^event: experiment_finished' "$WORK/events.txt"
kill "$stream_pid" 2>/dev/null
check "events: one trial_finished per trial" 8 "$(grep -c '^event: trial_finished' "$WORK/events.txt")"
check_contains "events: trial 3's failure" '"failure":' "$(grep '^data:.*"state":"FAILED"' "$WORK/events.txt")"
trials=$(get /api/v1/experiments/mobilenet-experiment-grid/trials)
check "one trial per Trial object" \
    "$(kubectl get trials -n "$NS" -o name | wc -l | tr -d ' ')" "$(echo "$trials" | jq '.trials | length')"
check "trial states as the operator wrote them" "FAILED=1 SUCCEEDED=7" \
    "$(echo "$trials" | jq -r '[.trials[].state] | group_by(.) | map(.[0] + "=" + (length | tostring)) | join(" ")')"
check "trial 3 failed" FAILED "$(echo "$trials" | jq -r '.trials[] | select(.number == 3) | .state')"
k1=$(kubectl get trial mobilenet-experiment-grid-1 -n "$NS" -o json)
check "trial 1's configuration" "$(echo "$k1" | jq -cS .spec.config)" \
    "$(echo "$trials" | jq -cS '.trials[] | select(.number == 1) | .params')"
check "trial 1's metrics" "$(echo "$k1" | jq -cS .status.metrics)" \
    "$(echo "$trials" | jq -cS '.trials[] | select(.number == 1) | .metrics')"
best=$(kubectl get pe mobilenet-experiment-grid -n "$NS" -o jsonpath='{.status.currentOptimalTrial.trialName}')
check "the recommendation is the operator's optimal trial" "$best" \
    "mobilenet-experiment-grid-$(get /api/v1/experiments/mobilenet-experiment-grid/recommendation | jq -r .best.number)"

code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "$AUTH" -X POST --data-binary \
    @"$WORK/mobilenet-experiment-grid.yaml" "$BASE/api/v1/experiments")
check "POST /api/v1/experiments is refused" "409 read_only" "$code $(jq -r .error.code "$WORK/body" 2>/dev/null || jq -r .code "$WORK/body")"
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "$AUTH" -X DELETE "$BASE/api/v1/experiments/mobilenet-experiment-grid")
check "DELETE is refused" 409 "$code"
code=$(curl -sS -o "$WORK/body" -w '%{http_code}' -H "$AUTH" -X POST "$BASE/api/v1/experiments/mobilenet-experiment-grid/resume")
check "resume is refused" "409 read_only" "$code $(jq -r .error.code "$WORK/body")"

# A second server, started after the experiment finished (its first list, not the watch), over
# every namespace.
first_pid=$SERVER_PID
first_base=$BASE
serve_kube "$WORK/token2" --all-namespaces
listed() { [ "$(get /api/v1/experiments | jq -r '[.experiments[].name] | join(" ")')" = "$NS.mobilenet-experiment-grid" ]; }
wait_for "--all-namespaces lists NAMESPACE.NAME" listed
check_true "--all-namespaces lists NAMESPACE.NAME" listed
check "and its trials" 8 "$(get "/api/v1/experiments/$NS.mobilenet-experiment-grid/trials" | jq '.trials | length')"
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check "serve --kube --all-namespaces exits cleanly" 0 "$?"
SERVER_PID=$first_pid
BASE=$first_base
AUTH="Authorization: Bearer $(cat "$WORK/token")"

kubectl delete pe bad-resource -n "$NS" >/dev/null 2>&1 || fail "kubectl delete bad-resource"
kubectl delete pe mobilenet-experiment-grid -n "$NS" >/dev/null 2>&1 || fail "kubectl delete"
list_empty() { [ "$(get /api/v1/experiments | jq '.experiments | length')" = 0 ]; }
wait_for "the deleted experiment leaves the list" list_empty
check_true "the deleted experiment leaves the list" list_empty
kill -TERM "$SERVER_PID"
wait "$SERVER_PID"
check "serve --kube exits cleanly" 0 "$?"
check "its temporary store is gone" "" "$(ls -A "$WORK/tmp")"
finish
