#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Leader election (operator_lib.sh: fake trial runner): of two operators with --leader-elect,
# the one holding the Lease drives the experiment and the other only watches the Lease (it writes
# nothing else, and is ready as a standby); when the leader is SIGKILLed mid-experiment, the
# standby takes the Lease once it has expired and finishes the experiment with exactly
# maxNumTrials distinct Trials and nothing left; a leader stopped cleanly hands the Lease back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

TRIALS=6
start_apiserver
holder() {
    kubectl get lease morphling-operator -n default -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
holder_is() {
    [ "$(holder)" = "$1" ]
}
# requests of one operator (its identity is in its user agent) that match a jq filter
requests() { # IDENTITY FILTER
    admin_api GET /_test/requests |
        jq "[.items[] | select(.userAgent == \"morphling-operator/test $1\") | $2] | length"
}

start_operator "$WORK/a.log" --leader-elect --identity a --lease-ms 3000 --trial-ms 400
A=$OPERATOR_PID
wait_for "a holds the Lease" holder_is a
start_operator "$WORK/b.log" --leader-elect --identity b --lease-ms 3000 --trial-ms 400 \
    --health-addr 127.0.0.1:0
B=$OPERATOR_PID
b_waits() { grep -q "waiting for the Lease" "$WORK/b.log"; }
wait_for "b waits for the Lease" b_waits
original_pe led "$TRIALS" 1
kubectl apply -f "$WORK/led.yaml" >/dev/null
one_done() {
    [ "$(kubectl get pe led -n "$NS" -o jsonpath='{.status.trialsSucceeded}' 2>/dev/null)" -ge 2 ] 2>/dev/null
}
wait_for "a has finished two trials" one_done
health=$(sed -n 's|.*serving /healthz /readyz on \(http://[0-9.:]*\).*|\1|p' "$WORK/b.log" | head -1)
check "the standby is ready" "ok" "$(curl -sS "$health/readyz")"
check "the standby wrote nothing" 0 "$(requests b 'select(.method != "GET")')"
check_true "the leader wrote Trials" test "$(requests a 'select(.method != "GET" and (.path | test("/trials")))')" -gt 0

kill -KILL "$A"
wait "$A"
wait_for "b takes the Lease over" holder_is b
wait_state led Succeeded
check_contains "b says it leads" "leading: holding the Lease default/morphling-operator as b" \
    "$(cat "$WORK/b.log")"
check_contains "b continued after a's trials" "continuing after" "$(cat "$WORK/b.log")"
uid=$(kubectl get pe led -n "$NS" -o jsonpath='{.metadata.uid}')
check "exactly $TRIALS Trials, distinct, all succeeded" "$TRIALS $TRIALS $TRIALS" \
    "$(kubectl get trials -n "$NS" -l "morphling.kubedl.io/experiment-uid=$uid" -o json |
        jq -r '[(.items | length), ([.items[].spec.samplingResult | tojson] | unique | length),
                ([.items[] | select(.status.state == "SUCCEEDED")] | length)] | join(" ")')"
check "nothing the trials created is left" "" "$(leftovers)"
check "the Lease counts one transition" 1 \
    "$(kubectl get lease morphling-operator -n default -o jsonpath='{.spec.leaseTransitions}')"

# A clean stop hands the Lease back at once.
kill -TERM "$B"
wait "$B"
check "b stops with status 0" 0 "$?"
check "the Lease is free" "" "$(holder)"
[ "$FAILED" -eq 0 ] || { cat "$WORK/a.log"; cat "$WORK/b.log"; }
finish
