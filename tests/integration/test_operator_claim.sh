#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Two operators that watch the same experiments (operator_lib.sh: fake trial runner), one of the
# namespace and one of all namespaces, neither with --leader-elect: each experiment is run by
# one of them only, the one holding its Lease (morphling-UID beside it, owned by it); the other
# writes nothing of it. When the holder is SIGKILLed mid-experiment, the other takes the
# experiment over once the Lease has expired and finishes it with exactly maxNumTrials distinct
# Trials; one stopped with SIGTERM deletes the Lease, and the other finishes the experiment; one
# whose Lease calls fail stops that run (and only it) by its renew deadline, and the other takes
# it over. A finished experiment leaves no Lease, and a deleted one's goes with it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

start_apiserver
# requests of one operator (its identity is in its user agent) whose method and path match
requests() { # IDENTITY METHOD-REGEX PATH-REGEX
    admin_api GET /_test/requests |
        jq --arg ua "morphling-operator/test $1" --arg m "$2" --arg p "$3" '[.items[] |
            select(.userAgent == $ua and (.method | test($m)) and (.path | test($p)))] | length'
}
writes="POST|PUT|PATCH|DELETE"
uid_of() {
    kubectl get pe "$1" -n "$NS" -o jsonpath='{.metadata.uid}'
}
lease_holder() { # EXPERIMENT-UID
    kubectl get lease "morphling-$1" -n "$NS" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
leases() {
    kubectl get leases -n "$NS" -o name 2>/dev/null
}
trial_summary() { # EXPERIMENT: Trials, distinct configurations, succeeded
    kubectl get trials -n "$NS" -l "morphling.kubedl.io/experiment-uid=$(uid_of "$1")" -o json |
        jq -r '[(.items | length), ([.items[].spec.samplingResult | tojson] | unique | length),
                ([.items[] | select(.status.state == "SUCCEEDED")] | length)] | join(" ")'
}
succeeded_at_least() { # EXPERIMENT N
    [ "$(kubectl get pe "$1" -n "$NS" -o jsonpath='{.status.trialsSucceeded}' 2>/dev/null)" -ge "$2" ] 2>/dev/null
}
# started EXPERIMENT: its Lease has a holder; the Lease is kept in $WORK/lease.json, since a
# short run may end (and delete it) before another look
started() {
    kubectl get lease "morphling-$(uid_of "$1" 2>/dev/null)" -n "$NS" -o json \
        >"$WORK/lease.json" 2>/dev/null &&
        [ -n "$(jq -r '.spec.holderIdentity // empty' "$WORK/lease.json")" ]
}
# apply_pe NAME TRIALS PARALLELISM: applies an experiment and waits for its Lease; sets uid and
# holder
apply_pe() {
    original_pe "$1" "$2" "$3"
    kubectl apply -f "$WORK/$1.yaml" >/dev/null
    wait_for "$1 has a Lease" started "$1"
    uid=$(uid_of "$1")
    holder=$(jq -r .spec.holderIdentity "$WORK/lease.json")
}

# claimant NAME [ARG...]: starts the operator NAME (log $WORK/NAME.log; OPERATOR_PID). Its trials
# take 300 ms, and a run's third trial does not end while $WORK/hold exists.
claimant() {
    claimant_name=$1
    shift
    start_operator "$WORK/$claimant_name.log" --identity "$claimant_name" --lease-ms 3000 \
        --trial-ms 300 --hold-from 3 "$@"
}

claimant a
A=$OPERATOR_PID
claimant b --all-namespaces
B=$OPERATOR_PID
watching() { grep -q "watching" "$WORK/a.log" && grep -q "watching" "$WORK/b.log"; }
wait_for "both operators watch" watching

# One experiment, two operators: one runs it.
apply_pe shared 6 2
other=$([ "$holder" = a ] && echo b || echo a)
check_true "the Lease is held by a or b ($holder)" test "$holder" = a -o "$holder" = b
check "the Lease is owned by the experiment" "ProfilingExperiment shared $uid" \
    "$(jq -r '.metadata.ownerReferences[0] | "\(.kind) \(.name) \(.uid)"' "$WORK/lease.json")"
wait_state shared Succeeded
check "exactly 6 Trials, distinct, all succeeded" "6 6 6" "$(trial_summary shared)"
check_true "$holder wrote the Trials" test "$(requests "$holder" "$writes" /trials)" -gt 0
# A holder whose renewal the API server did not answer within 2 s (a machine running CI and
# `ctest -j8` side by side) loses the Lease and stops; the other then takes the run over, and
# writes to it, as it must.
if grep -q "shared: its Lease is lost" "$WORK/$holder.log"; then
    echo "# $holder lost the Lease (a slow renewal) and $other took the run over: who wrote what is not judged"
else
    check "$other wrote no Trial" 0 "$(requests "$other" "$writes" /trials)"
    check "$other wrote no experiment status" 0 \
        "$(requests "$other" "$writes" /profilingexperiments)"
fi
check_contains "$other says who runs it" \
    "$NS/shared: run by the operator $holder (it holds the Lease $NS/morphling-$uid)" \
    "$(cat "$WORK/$other.log")"
check "the finished experiment's Lease is gone" "" "$(leases)"

# The holder is killed mid-experiment: the other takes its Lease once it has expired. Here and
# below the run's third trial waits (on $WORK/hold) until the run has moved, so the holder is
# killed, stopped or cut off mid-experiment however slowly the test looks.
touch "$WORK/hold"
apply_pe moved 8 1
wait_for "two trials of moved have finished" succeeded_at_least moved 2
if [ "$holder" = a ]; then kill -KILL "$A"; wait "$A"; else kill -KILL "$B"; wait "$B"; fi
other=$([ "$holder" = a ] && echo b || echo a)
holder_is() { [ "$(lease_holder "$uid")" = "$1" ]; }
wait_for "$other takes the Lease over" holder_is "$other"
rm "$WORK/hold"
wait_state moved Succeeded
check "exactly 8 Trials, distinct, all succeeded" "8 8 8" "$(trial_summary moved)"
check_contains "$other continued after the killed run's trials" "continuing after" \
    "$(cat "$WORK/$other.log")"
check "$other said once who ran it (it looked again every lease duration)" 1 \
    "$(grep -c "$NS/moved: run by the operator $holder " "$WORK/$other.log")"
check "nothing the trials created is left" "" "$(leftovers)"
check "no Lease is left" "" "$(leases)"

# The survivor and a new operator: the holder stopped with SIGTERM deletes the Lease on its way
# out, and the other finishes the experiment.
if [ "$other" = a ]; then S=$A; else S=$B; fi
sname=$other
claimant c --all-namespaces
C=$OPERATOR_PID
wait_for "c watches" grep -q "watching" "$WORK/c.log"
touch "$WORK/hold"
apply_pe handed 8 1
wait_for "two trials of handed have finished" succeeded_at_least handed 2
if [ "$holder" = c ]; then H=$C; K=$S; kname=$sname; else H=$S; K=$C; kname=c; fi
kill -TERM "$H"
wait "$H"
check "the holder stops with status 0" 0 "$?"
check "it deleted the Lease" 1 "$(requests "$holder" DELETE "/leases/morphling-$uid\$")"
rm "$WORK/hold"
wait_state handed Succeeded
check "exactly 8 Trials, distinct, all succeeded" "8 8 8" "$(trial_summary handed)"

# A deleted experiment's Lease goes with it (the garbage collector: its owner).
original_pe dropped 20 1
kubectl apply -f "$WORK/dropped.yaml" >/dev/null
wait_for "dropped has a Lease" started dropped
kubectl delete pe dropped -n "$NS" >/dev/null
no_leases() { [ -z "$(leases)" ]; }
wait_for "the Lease is removed" no_leases
check "nothing the trials created is left" "" "$(leftovers)"

# The holder cannot renew (its Lease calls answer 500): its run stops by the renew deadline, the
# operator goes on, and the other takes the experiment over and finishes it.
claimant d --all-namespaces
D=$OPERATOR_PID
wait_for "d watches" grep -q "watching" "$WORK/d.log"
touch "$WORK/hold"
apply_pe faulted 8 1
other=$([ "$holder" = d ] && echo "$kname" || echo d)
wait_for "two trials of faulted have finished" succeeded_at_least faulted 2
admin_api POST /_test/faults "{\"code\": 500, \"count\": 100000, \"resource\": \"leases\",
    \"userAgent\": \"morphling-operator/test $holder\"}" >/dev/null
wait_for "$other takes the Lease over" holder_is "$other"
rm "$WORK/hold"
admin_api DELETE /_test/faults >/dev/null
check_contains "$holder stopped its run" "morphling-system/faulted: its Lease is lost" \
    "$(cat "$WORK/$holder.log")"
wait_state faulted Succeeded
check "exactly 8 Trials, distinct, all succeeded" "8 8 8" "$(trial_summary faulted)"
check "nothing the trials created is left" "" "$(leftovers)"
for p in "$K" "$D"; do
    kill -TERM "$p"
    wait "$p"
    check "an operator stops with status 0" 0 "$?"
done

[ "$FAILED" -eq 0 ] || for f in a b c d; do [ -f "$WORK/$f.log" ] && cat "$WORK/$f.log"; done
finish
