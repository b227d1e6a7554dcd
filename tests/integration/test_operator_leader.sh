#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Leader election (operator_lib.sh: fake trial runner): of two operators with --leader-elect,
# the one holding the Lease drives the experiment and the other only watches the Lease (it writes
# nothing else, and is ready as a standby); when the leader is SIGKILLed mid-experiment, the
# standby takes the Lease once it has expired and finishes the experiment with exactly
# maxNumTrials distinct Trials and nothing left; a leader killed between the create of a
# finished experiment's deleted Trial and its status write: the standby writes the status once
# it leads; a leader stopped cleanly hands the Lease back; a
# leader whose Lease calls fail (the API server answers it 500) stops within its renew deadline,
# before the standby takes the Lease, however long its client would retry a call; a standby
# whose exec credential plugin fails once retries and goes on waiting.
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

# a's and b's third trial of the experiment does not end while $WORK/hold exists, so a is killed
# mid-experiment however slowly the test looks.
touch "$WORK/hold"
start_operator "$WORK/a.log" --leader-elect --identity a --lease-ms 3000 --trial-ms 400 \
    --hold-from 3
A=$OPERATOR_PID
wait_for "a holds the Lease" holder_is a
start_operator "$WORK/b.log" --leader-elect --identity b --lease-ms 3000 --trial-ms 400 \
    --hold-from 3 --health-addr 127.0.0.1:0
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
rm "$WORK/hold"
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

# The leader b killed right after it creates a deleted Trial of the ended experiment again,
# before its status write: the standby f, which saw the Trial created (its watch), takes over and
# writes the status (the Trial stayed without status for good).
start_operator "$WORK/f.log" --leader-elect --identity f --lease-ms 3000 --trial-ms 400
F=$OPERATOR_PID
f_waits() { grep -q "waiting for the Lease" "$WORK/f.log"; }
wait_for "f waits for the Lease" f_waits
status6=$(kubectl get trial led-6 -n "$NS" -o json | jq -cS '.status')
admin_api POST /_test/kill "{\"pid\": $B, \"after\": 1, \"verb\": \"create\", \"resource\": \"trials\", \"userAgent\": \"morphling-operator/test b\"}" >/dev/null
kubectl delete trial led-6 -n "$NS" >/dev/null || fail "kubectl delete trial led-6"
b_gone() { ! kill -0 "$B" 2>/dev/null; }
wait_for "b is killed right after it creates led-6 again" b_gone
wait "$B"
check "... by SIGKILL" 137 "$?"
wait_for "f takes the Lease over" holder_is f
led6_back() { [ "$(kubectl get trial led-6 -n "$NS" -o jsonpath='{.status.state}' 2>/dev/null)" = SUCCEEDED ]; }
wait_for "f writes the status of led-6" led6_back
check "led-6's status is the one it had" "$status6" \
    "$(kubectl get trial led-6 -n "$NS" -o json | jq -cS '.status')"
check "led-6 keeps no restoring label" "" \
    "$(kubectl get trial led-6 -n "$NS" -o jsonpath='{.metadata.labels.morphling\.kubedl\.io/restoring}')"

# A clean stop hands the Lease back at once.
kill -TERM "$F"
wait "$F"
check "f stops with status 0" 0 "$?"
check "the Lease is free" "" "$(holder)"
# The leader c cannot renew (its Lease calls answer 500, which its client would retry for 30 s):
# it must stop by its renew deadline (2/3 of the lease), before d may take the Lease over, and
# write nothing once d leads.
start_operator "$WORK/c.log" --leader-elect --identity c --lease-ms 6000 --trial-ms 1500
C=$OPERATOR_PID
wait_for "c holds the Lease" holder_is c
start_operator "$WORK/d.log" --leader-elect --identity d --lease-ms 6000 --trial-ms 1500
D=$OPERATOR_PID
original_pe cut 8 1
kubectl apply -f "$WORK/cut.yaml" >/dev/null
c_runs() { grep -q "cut: running" "$WORK/c.log"; }
wait_for "c runs the experiment" c_runs
admin_api POST /_test/faults \
    '{"code": 500, "count": 100000, "resource": "leases", "userAgent": "morphling-operator/test c"}' >/dev/null
wait_for "d takes the Lease over" holder_is d
c_stopped() { ! kill -0 "$C" 2>/dev/null; }
wait_for "c stops" c_stopped
admin_api DELETE /_test/faults >/dev/null
wait "$C"
check "c exits 1" 1 "$?"
check_contains "c says why" "leadership lost: not renewed within 4000 ms" "$(cat "$WORK/c.log")"
c_stop=$(grep "morphling operator: stopping" "$WORK/c.log" | cut -d' ' -f1)
d_lead=$(grep "morphling operator: leading" "$WORK/d.log" | cut -d' ' -f1)
check_true "c stopped ($c_stop) before d led ($d_lead)" test "$c_stop" "<" "$d_lead"
check "c wrote nothing once d led" 0 \
    "$(admin_api GET /_test/requests | jq --arg t "$d_lead" '[.items[] |
        select(.userAgent == "morphling-operator/test c" and .method != "GET" and .time >= $t)] | length')"
wait_state cut Succeeded
# A standby whose exec credential plugin fails twice (an SSO it cannot reach for a moment: its
# Lease try or its watch of experiments, whichever runs it) retries with a backoff, saying so, and
# goes on waiting for the Lease; it exited 1 at the first failure before, as for a 401.
cat >"$WORK/plugin.sh" <<PLUGIN
#!/bin/sh
n=\$(cat "$WORK/plugin-runs" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$WORK/plugin-runs"
if [ "\$n" -lt 2 ]; then echo "sso unreachable" >&2; exit 1; fi
exec /bin/sh "$WORK/cluster/exec-credential.sh"
PLUGIN
sed -e "s|args: \[\"$WORK/cluster/exec-credential.sh\"\]|args: [\"$WORK/plugin.sh\"]|" \
    -e 's/current-context: token/current-context: exec/' "$KUBECONFIG" >"$WORK/kc-exec"
"$OPERATOR" --kubeconfig "$WORK/kc-exec" --namespace "$NS" --work-dir "$WORK" --identity e \
    --leader-elect --lease-ms 6000 >"$WORK/e.log" 2>&1 &
E=$!
track "$E"
e_read() { [ "$(requests e 'select(.path | test("/leases/"))')" -ge 1 ] 2>/dev/null; }
wait_for "the standby e reads the Lease after its plugin failed" e_read
check_contains "e says it retries" "(credentials: failure 1 of 5 in a row; retrying in" \
    "$(cat "$WORK/e.log")"
check_true "e still waits for the Lease" kill -0 "$E"
# (Its watch of experiments retries after its own backoff, which may end after the Lease read:
# the watch of Trials may have taken one of the plugin's failures.)
e_watches() { grep -q "watching" "$WORK/e.log"; }
wait_for "e watches the experiments" e_watches
check_contains "e watches the experiments" "watching" "$(cat "$WORK/e.log")"
check "d still leads" d "$(holder)"
kill -TERM "$E"
wait "$E"
check "e stops cleanly" 0 "$?"
kill -TERM "$D"
wait "$D"

[ "$FAILED" -eq 0 ] || { cat "$WORK/a.log"; cat "$WORK/b.log"; cat "$WORK/c.log"; cat "$WORK/d.log"; cat "$WORK/e.log"; cat "$WORK/f.log"; }
finish
