#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator's crash sweep (operator_lib.sh: fake trial runner): for every k up to the number
# of writes a whole experiment takes, the API server SIGKILLs the operator right after applying
# its k-th write (the answer is lost, the worst moment), a new operator starts with a fresh work
# folder, and the experiment must end Succeeded with exactly maxNumTrials Trials, no
# configuration run twice, every Trial finished and no object of any trial left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

TRIALS=3
start_apiserver

writes() { # the operator's writes so far
    admin_api GET "/_test/requests" |
        jq '[.items[] | select((.userAgent // "") | startswith("morphling-operator")) |
             select(.verb == "create" or .verb == "update" or .verb == "patch" or .verb == "delete")] | length'
}

# ends NAME: the experiment is Succeeded with TRIALS distinct, finished Trials and no leftovers.
ends_well() {
    lib_uid=$(kubectl get pe "$1" -n "$NS" -o jsonpath='{.metadata.uid}')
    kubectl get trials -n "$NS" -l "morphling.kubedl.io/experiment-uid=$lib_uid" -o json |
        jq -r '[(.items | length), ([.items[].spec.samplingResult | tojson] | unique | length),
                ([.items[] | select(.status.state == "SUCCEEDED")] | length)] | join(" ")'
}

# One whole experiment first, to count its writes.
admin_api DELETE /_test/requests >/dev/null
start_operator "$WORK/operator-0.log"
original_pe sweep-0 "$TRIALS" 2
kubectl apply -f "$WORK/sweep-0.yaml" >/dev/null
wait_state sweep-0 Succeeded
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
total=$(writes)
check_true "an experiment of $TRIALS trials takes some writes ($total)" test "$total" -gt $((TRIALS * 4))
check "the uninterrupted run" "$TRIALS $TRIALS $TRIALS" "$(ends_well sweep-0)"

k=1
bad=0
killed=0
while [ "$k" -le "$total" ]; do
    log="$WORK/operator-$k.log"
    start_operator "$log"
    admin_api POST /_test/kill "{\"pid\": $OPERATOR_PID, \"after\": $k, \"verb\": \"write\", \"userAgent\": \"morphling-operator\"}" >/dev/null
    original_pe "sweep-$k" "$TRIALS" 2
    kubectl apply -f "$WORK/sweep-$k.yaml" >/dev/null
    # Killed at its k-th write, or (when the run took fewer writes) finished.
    lib_done() { ! kill -0 "$OPERATOR_PID" 2>/dev/null || lib_state_is "sweep-$k" Succeeded; }
    wait_for "operator killed after write $k" lib_done
    kill -TERM "$OPERATOR_PID" 2>/dev/null
    wait "$OPERATOR_PID"
    [ "$?" -ne 137 ] || killed=$((killed + 1))
    admin_api DELETE /_test/faults >/dev/null
    rm -f "$WORK"/morphling-operator-*.db*
    start_operator "$log"
    wait_state "sweep-$k" Succeeded
    kill -TERM "$OPERATOR_PID"
    wait "$OPERATOR_PID"
    result=$(ends_well "sweep-$k")
    left=$(leftovers)
    if [ "$result" != "$TRIALS $TRIALS $TRIALS" ] || [ -n "$left" ]; then
        bad=$((bad + 1))
        not_ok "killed after write $k: Trials, distinct, succeeded: $result; left: $left"
        cat "$log"
    fi
    k=$((k + 1))
done
check "killed after each of its $total writes in turn: every experiment ends with $TRIALS distinct, finished Trials and nothing left (runs that did not)" 0 "$bad"
# A run may take a write or two fewer than the first (trials in parallel race), not many.
check_true "the operator was killed in (nearly) every run: $killed of $total" test "$killed" -ge $((total - 3))
finish
