#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Credentials that hang (operator_lib.sh: fake trial runner): an operator gets its token from an
# exec plugin whose credential expires every 4 s; when the plugin starts to hang (20 s, as one
# waiting on an unreachable SSO endpoint), the call that ran it held every other call, the
# Lease renewals included, for its whole deadline: the leader a kept leading past its renew
# deadline while the standby b took the Lease and the experiment over, and its writes waiting
# for credentials then went out (the experiment's stale status over b's end: Running again,
# after Succeeded). Now a renewal waits for the plugin only within its renew deadline, and a
# run's writes are cancelled once its Lease or leadership is lost, also those waiting for
# credentials: a stops before b leads and writes nothing once b leads; without leader election,
# c writes nothing of an experiment once d has taken it over; both experiments end Succeeded.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

start_apiserver
holder() {
    kubectl get lease morphling-operator -n default -o jsonpath='{.spec.holderIdentity}' 2>/dev/null
}
holder_is() {
    [ "$(holder)" = "$1" ]
}
# the test cluster's exec plugin, hanging 20 s while $WORK/hang exists
cat >"$WORK/plugin.sh" <<PLUGIN
#!/bin/sh
if [ -e "$WORK/hang" ]; then sleep 20; fi
exec /bin/sh "$WORK/cluster/exec-credential.sh"
PLUGIN
sed -e "s|args: \[\"$WORK/cluster/exec-credential.sh\"\]|args: [\"$WORK/plugin.sh\"]|" \
    -e 's/current-context: token/current-context: exec/' "$KUBECONFIG" >"$WORK/kc-exec"
check_contains "the exec kubeconfig runs the plugin" "$WORK/plugin.sh" "$(cat "$WORK/kc-exec")"

MORPHLING_EXEC_TTL=4 "$OPERATOR" --kubeconfig "$WORK/kc-exec" --namespace "$NS" --work-dir "$WORK" \
    --leader-elect --identity a --lease-ms 6000 --trial-ms 300 >"$WORK/a.log" 2>&1 &
A=$!
track "$A"
wait_for "a holds the Lease" holder_is a
start_operator "$WORK/b.log" --leader-elect --identity b --lease-ms 6000 --trial-ms 300
B=$OPERATOR_PID
b_waits() { grep -q "waiting for the Lease" "$WORK/b.log"; }
wait_for "b waits for the Lease" b_waits

# a long experiment (random over 1000 batch sizes, 4 trials at a time), so that a's trials keep
# calling the API server when the plugin starts to hang
original_pe long 300 4
sed -i -e 's/algorithmName: grid/algorithmName: random/' \
    -e '/parameterType: discrete/{N;/BATCH_SIZE/{s/discrete/int/;n;n;N;N;s/list:\n.*\n.*/min: "1"\n            max: "1000"/}}' \
    "$WORK/long.yaml"
kubectl apply -f "$WORK/long.yaml" >/dev/null || fail "the experiment was refused"
some_done() {
    [ "$(kubectl get pe long -n "$NS" -o jsonpath='{.status.trialsSucceeded}' 2>/dev/null)" -ge 8 ] 2>/dev/null
}
wait_for "a has finished some trials" some_done
touch "$WORK/hang"
wait_for "b takes the Lease over" holder_is b
a_stopped() { ! kill -0 "$A" 2>/dev/null; }
wait_for "a stops" a_stopped
wait "$A"
check "a exits 1" 1 "$?"
rm -f "$WORK/hang"
check_contains "a says why" "leadership lost: not renewed within 4000 ms" "$(cat "$WORK/a.log")"
a_stop=$(grep "morphling operator: stopping" "$WORK/a.log" | cut -d' ' -f1)
b_lead=$(grep "morphling operator: leading" "$WORK/b.log" | cut -d' ' -f1)
check_true "a stopped ($a_stop) before b led ($b_lead)" test "$a_stop" "<" "$b_lead"
# (The fake runner's calls on its own attempt's ConfigMap, a trial object that b's attempts do
# not use, go out when the plugin returns: the trial runner's calls are not fenced, only the
# operator's Trial, status and Event writes.)
# The writes of operator $1 from time $2 on.
writes_since() {
    admin_api GET /_test/requests | jq -c --arg ua "morphling-operator/test $1" --arg t "$2" \
        '.items[] | select(.userAgent == $ua and .method != "GET" and .time >= $t and
            (.path | test("/configmaps") | not)) | [.time, .method, .path, .code]'
}
check "a wrote nothing once b led" "" "$(writes_since a "$b_lead")"
wait_state long Succeeded
check "the experiment ends with 300 Trials counted, all succeeded" "Succeeded 300 300" \
    "$(kubectl get pe long -n "$NS" -o jsonpath='{.status.conditions[-1:].type} {.status.trialsTotal} {.status.trialsSucceeded}')"
kill -TERM "$B"
wait "$B"

# Without leader election, the experiment's own Lease: c runs it, its plugin hangs, d (which
# watches the same namespace) takes the experiment over once c's Lease expires, and c writes
# nothing of it from then on (its writes waiting for credentials are cancelled with the Lease).
MORPHLING_EXEC_TTL=4 "$OPERATOR" --kubeconfig "$WORK/kc-exec" --namespace "$NS" --work-dir "$WORK" \
    --identity c --lease-ms 6000 --trial-ms 300 >"$WORK/c.log" 2>&1 &
C=$!
track "$C"
sed -e 's/name: long/name: other/' "$WORK/long.yaml" >"$WORK/other.yaml"
kubectl apply -f "$WORK/other.yaml" >/dev/null || fail "the second experiment was refused"
other_done() {
    [ "$(kubectl get pe other -n "$NS" -o jsonpath='{.status.trialsSucceeded}' 2>/dev/null)" -ge 8 ] 2>/dev/null
}
wait_for "c has finished some trials" other_done
start_operator "$WORK/d.log" --identity d --lease-ms 6000 --trial-ms 300
D=$OPERATOR_PID
d_sees_c() { grep -q "other: run by the operator c" "$WORK/d.log"; }
wait_for "d leaves the experiment to c" d_sees_c
touch "$WORK/hang"
d_runs() { grep -q "other: running" "$WORK/d.log"; }
wait_for "d takes the experiment over" d_runs
c_lost() { grep -q "other: its Lease is lost" "$WORK/c.log"; }
wait_for "c says its Lease is lost" c_lost
sleep 20 # the plugin's hang: c's calls that waited for it go on (or not) now
rm -f "$WORK/hang"
d_run=$(grep "morphling operator: morphling-system/other: running" "$WORK/d.log" | head -1 | cut -d" " -f1)
check "c wrote nothing once d ran the experiment" "" "$(writes_since c "$d_run")"
wait_state other Succeeded
check "the experiment ends with 300 Trials counted, all succeeded" "Succeeded 300 300" \
    "$(kubectl get pe other -n "$NS" -o jsonpath='{.status.conditions[-1:].type} {.status.trialsTotal} {.status.trialsSucceeded}')"
kill -TERM "$C" "$D"
wait "$C" "$D"

[ "$FAILED" -eq 0 ] || { cat "$WORK/a.log"; cat "$WORK/b.log"; cat "$WORK/c.log"; cat "$WORK/d.log"; }
finish
