#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The kubernetes runner through what a real API server does to its clients, each on a run of the
# example that must still end SUCCEEDED with nothing left: every kubeconfig variant of the test
# cluster (bearer token, client certificate, exec credential plugin); 429 and 500/503 answers with
# Retry-After on creates, lists, watches, gets and deletes; slow answers; watches dropped (ended
# and reset) and the watch history compacted (410) while it waits; a restart of the API server in
# the middle of a trial; creates whose answers are lost (resent, AlreadyExists, adopted). The
# runner sends no update or patch, so the test cluster's injected 409 Conflict (which applies to
# those only) cannot reach it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
# run_ok NAME [--set ...]: one trial of the example as experiment NAME must succeed.
run_ok() {
    name=$1
    shift
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set "name=$name" -q \
        "$@" >"$WORK/$name.out" 2>&1
    check "$name: exit 0" 0 "$?"
    check "$name: the trial SUCCEEDED" "SUCCEEDED" \
        "$("$MORPHLING" show "$name" --json | jq -r '.trials[-1].state')"
    check "$name: no object left" "" "$(leftover_objects "$name")"
}

for ctx in cert exec; do
    run_ok "ctx-$ctx" --set "runner.context=$ctx"
done

# Injected answers, for the runner's user agent only (the controllers keep working).
fault() {
    api /_test/faults -X POST -d "{\"userAgent\": \"morphling\", $1}" >/dev/null
}
api /_test/requests -X DELETE >/dev/null
fault '"code": 429, "count": 2, "retryAfter": 1, "verb": "create", "resource": "deployments"'
fault '"code": 500, "count": 1, "retryAfter": 1, "verb": "create", "resource": "services"'
fault '"code": 503, "count": 1, "verb": "create", "resource": "jobs"'
fault '"code": 500, "count": 2, "verb": "list", "resource": "pods"'
fault '"code": 500, "count": 1, "verb": "watch", "resource": "pods"'
fault '"code": 429, "count": 1, "retryAfter": 1, "verb": "get", "resource": "configmaps"'
fault '"code": 500, "count": 1, "verb": "delete", "resource": "configmaps"'
run_ok faults
api "/_test/requests" >"$WORK/requests.json"
check "every injected answer reached the runner" 9 \
    "$(jq '[.items[] | select(.injected)] | length' "$WORK/requests.json")"
# (Two Deployment creates answered 201: the spec check's dry run and the trial's.)
check "one Deployment, Service and Job despite the retries" "deployments=2 jobs=1 services=1" \
    "$(jq -r '[.items[] | select(.verb == "create" and .code == 201 and (.userAgent | startswith("morphling/"))) | .path | split("/") | .[-1] | select(. != "configmaps")] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$WORK/requests.json")"
api /_test/faults -X DELETE >/dev/null

# A lost answer: the API server applies the create, then closes the connection (its kill hook
# aimed at a stand-in process). The runner resends, gets AlreadyExists and adopts its own object.
sleep 600 &
standin=$!
track "$standin"
api /_test/requests -X DELETE >/dev/null
# (The first Deployment create is the spec check's dry run: the trial's is the second.)
for r in configmaps deployments jobs; do
    after=1
    [ "$r" = deployments ] && after=2
    api /_test/kill -X POST -d "{\"pid\": $standin, \"userAgent\": \"morphling/\", \"verb\": \"create\", \"resource\": \"$r\", \"after\": $after}" >/dev/null
done
run_ok adopt
api "/_test/requests" >"$WORK/requests.json"
check "each lost create was resent and answered AlreadyExists (adopted)" "409 409 409" \
    "$(jq -r '[.items[] | select(.verb == "create" and .code == 409 and (.userAgent | startswith("morphling/"))) | .code] | map(tostring) | join(" ")' "$WORK/requests.json")"
api /_test/faults -X DELETE >/dev/null

api /_test/delay -X POST -d '{"ms": 1500, "count": 8, "userAgent": "morphling/"}' >/dev/null
run_ok slow
api /_test/faults -X DELETE >/dev/null

# Watches dropped, history compacted and a restart while a trial waits and measures.
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=disrupt -q \
    >"$WORK/disrupt.out" 2>&1 &
pid=$!
restarted=no
i=0
while kill -0 "$pid" 2>/dev/null; do
    case $((i % 3)) in
    0) api /_test/drop-watches -X POST -d '{}' >/dev/null ;;
    1) api /_test/drop-watches -X POST -d '{"mode": "reset"}' >/dev/null ;;
    2) api /_test/compact -X POST -d '{}' >/dev/null ;;
    esac
    if [ $restarted = no ] && [ -n "$(leftover_objects disrupt | grep deployment)" ]; then
        api /_test/restart -X POST -d '{}' >/dev/null && restarted=yes
        wait_for "the API server is back" test -s "$CLUSTER/apiserver.ready"
    fi
    i=$((i + 1))
    sleep 0.3
done
wait "$pid"
check "disrupt: exit 0 through dropped watches, compactions and a restart" 0 "$?"
check "disrupt: the API server was restarted during the trial" yes "$restarted"
check "disrupt: the trial SUCCEEDED" "SUCCEEDED" \
    "$("$MORPHLING" show disrupt --json | jq -r '.trials[-1].state')"
check "disrupt: no object left" "" "$(leftover_objects disrupt)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
