#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling operator` on the test cluster's API server with a fake trial runner
# (operator_lib.sh): an original-style ProfilingExperiment applied with kubectl reaches
# Succeeded with one Trial per trial, `kubectl get pe` and `kubectl get trials` print the
# columns, the best trial is the known optimum, a failed trial is counted, nothing the trials
# created is left, Events say what happened; a spec that does not validate gets condition Failed
# naming the field; /healthz, /readyz and /metrics answer; the verb's own command line; a
# --namespace that does not exist is said.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/operator_lib.sh"

out=$("$MORPHLING" operator --namespace a --all-namespaces 2>&1)
check "operator: --namespace with --all-namespaces exits 2" 2 "$?"
check_contains "it says why" "give one of --namespace and --all-namespaces" "$out"
out=$("$MORPHLING" operator --retry-period 20s 2>&1)
check "operator: inconsistent Lease timings exit 2" 2 "$?"
out=$("$MORPHLING" operator --kubeconfig "$WORK/none" 2>&1)
check "operator: a missing kubeconfig exits 1" 1 "$?"
check_contains "it names the file" "$WORK/none" "$out"

start_apiserver
# A work folder it cannot write (here: none) ends it at once, naming the folder: it served
# /readyz and retried every experiment's run for ever ("cannot create the store"), when
# --files-dir spared it the files folder it makes there.
out=$(timeout 30 "$MORPHLING" operator --kubeconfig "$KUBECONFIG" --namespace "$NS" \
    --work-dir "$WORK/none" --files-dir "$WORK" --health-addr 127.0.0.1:0 2>&1)
check "operator: a work folder that cannot be written exits 1" 1 "$?"
check_contains "it names the folder and the option" "the work folder '$WORK/none' (--work-dir" "$out"
# So does a --files-dir that is no folder: every experiment naming a file failed (InvalidSpec).
out=$(timeout 30 "$MORPHLING" operator --kubeconfig "$KUBECONFIG" --namespace "$NS" \
    --work-dir "$WORK" --files-dir "$WORK/none" --health-addr 127.0.0.1:0 2>&1)
check "operator: a --files-dir that does not exist exits 1" 1 "$?"
check_contains "it names it" "--files-dir '$WORK/none': No such file or directory" "$out"
# A --namespace that does not exist is watched (it may be created later), but said: the
# operator waited quietly for ever, as in an empty namespace.
"$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace no-such-ns --work-dir "$WORK" --identity x \
    --files-dir "$WORK" >"$WORK/nons.log" 2>&1 &
nons=$!
track "$nons"
nons_said() { grep -q "watching" "$WORK/nons.log"; }
MP_WAIT_S=30 wait_for "the operator of a namespace that does not exist starts" nons_said
kill "$nons"
check_contains "it says the namespace does not exist" \
    "watching 0 experiment(s) in no-such-ns: no namespace of that name exists (yet)" \
    "$(cat "$WORK/nons.log")"
start_operator "$WORK/operator.log" --health-addr 127.0.0.1:0 --metrics-addr 127.0.0.1:0 \
    --fail-number 3
original_pe mobilenet-experiment-grid 8 1
pe="$WORK/mobilenet-experiment-grid.yaml"
check "kubectl apply of the original-style file" \
    "profilingexperiment.morphling.kubedl.io/mobilenet-experiment-grid created" \
    "$(kubectl apply -f "$pe" 2>&1)"
# What a user waits with: kubectl wait on the conditions (a watch of the one object).
check "kubectl wait --for=condition=Succeeded" \
    "profilingexperiment.morphling.kubedl.io/mobilenet-experiment-grid condition met" \
    "$(kubectl wait --for=condition=Succeeded pe/mobilenet-experiment-grid -n "$NS" --timeout=120s 2>&1)"
wait_state mobilenet-experiment-grid Succeeded
check "kubectl wait on a failed Trial's condition" \
    "trial.morphling.kubedl.io/mobilenet-experiment-grid-3 condition met" \
    "$(kubectl wait --for=condition=Failed trial/mobilenet-experiment-grid-3 -n "$NS" --timeout=10s 2>&1)"

out=$(kubectl get pe -n "$NS" 2>&1)
check "kubectl get pe: the columns" "NAME STATE AGE OBJECTIVE-NAME OPTIMAL-OBJECTIVE-VALUE OPTIMAL-PARAMETERS" \
    "$(echo "$out" | head -1 | tr -s ' ')"
# The fake objective is 100 + cpu + 2 * memory (MiB) + 3 * BATCH_SIZE: cpu 1, 2Gi and 2 win.
check "kubectl get pe: the row" "mobilenet-experiment-grid Succeeded qps 4203" \
    "$(echo "$out" | awk 'NR == 2 {print $1, $2, $4, $5}')"
check_contains "the optimal parameters" \
    '[{"name":"cpu","value":"1","category":"resource"},{"name":"memory","value":"2Gi","category":"resource"},{"name":"BATCH_SIZE","value":"2","category":"env"}]' \
    "$out"
out=$(kubectl get trials -n "$NS" 2>&1)
check "kubectl get trials: the columns" "NAME STATE OBJECTIVE-VALUE PARAMETERS AGE" \
    "$(echo "$out" | head -1 | tr -s ' ')"
check "kubectl get trials: one per trial" 8 "$(echo "$out" | grep -c '^mobilenet-experiment-grid-[1-8] ')"
check "kubectl get trials -l of the experiment's name: its 8" 8 \
    "$(kubectl get trials -n "$NS" -l morphling.kubedl.io/experiment=mobilenet-experiment-grid -o name | wc -l)"
check "trial 1's row" "mobilenet-experiment-grid-1 Succeeded 3703.45" \
    "$(echo "$out" | awk '$1 == "mobilenet-experiment-grid-1" {print $1, $2, $3}')"
check "trial 3 failed (the fake service crashed)" "mobilenet-experiment-grid-3 Failed" \
    "$(echo "$out" | awk '$1 == "mobilenet-experiment-grid-3" {print $1, $2}')"
status=$(kubectl get pe mobilenet-experiment-grid -n "$NS" -o json | jq -c '.status')
check "status: counts" "8 7 1 0 0" \
    "$(echo "$status" | jq -r '[.trialsTotal, .trialsSucceeded, .trialsFailed, .trialsRunning, .trialsPending] | join(" ")')"
check "status: the failed trial's name" '["mobilenet-experiment-grid-3"]' \
    "$(echo "$status" | jq -c '.failedTrialList')"
check "status: conditions" "Created=True Running=False Succeeded=True" \
    "$(echo "$status" | jq -r '[.conditions[] | .type + "=" + .status] | join(" ")')"
check "status: start and completion times, the optimal trial" "true true mobilenet-experiment-grid-8" \
    "$(echo "$status" | jq -r '[(.startTime | length > 0), (.completionTime | length > 0), .currentOptimalTrial.trialName] | join(" ")')"
trial=$(kubectl get trial mobilenet-experiment-grid-3 -n "$NS" -o json)
check "a Trial is owned by its experiment" "ProfilingExperiment mobilenet-experiment-grid true" \
    "$(echo "$trial" | jq -r '.metadata.ownerReferences[0] | [.kind, .name, .controller] | join(" ")')"
check "the requestTemplate reached the trial runner as the body" 26 \
    "$(kubectl get trial mobilenet-experiment-grid-1 -n "$NS" -o jsonpath='{.status.metrics.body_bytes}')"
check "a failed Trial keeps its class and reason" "CRASHED the fake service crashed (trial 3)" \
    "$(echo "$trial" | jq -r '.status | .failure + " " + .reason')"
# A failed trial has no objective value (the original scored it 0.0): kubectl get trials showed
# its measured 0 as OBJECTIVE-VALUE, the best of a minimised objective.
check "a failed Trial observed no objective value (its measurement is in status.metrics)" "0 0" \
    "$(echo "$trial" | jq -r '.status | "\(.trialResult.objectiveMetricsObserved | length) \(.metrics.throughput_rps)"')"
check "nothing the trials created is left" "" "$(leftovers)"
events=$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.name == "mobilenet-experiment-grid") | .reason' | sort | tr '\n' ' ')
check "Events: running, then succeeded" "ExperimentRunning ExperimentSucceeded " "$events"
# kubectl describe finds them as it finds a Deployment's (a field selector on the involved object).
out=$(kubectl describe pe mobilenet-experiment-grid -n "$NS" 2>&1)
check_contains "kubectl describe pe: the Events" "ExperimentSucceeded" "$(echo "$out" | sed -n '/^Events:/,$p')"
check_contains "kubectl describe pe: the status" "Trials Succeeded:" "$out"

# A spec the API server accepts but morphling does not: Failed, naming the field.
sed -e 's/name: "memory"/name: "ephemeral-storage"/' -e 's/name: mobilenet-experiment-grid/name: bad-resource/' \
    "$pe" >"$WORK/bad.yaml"
kubectl apply -f "$WORK/bad.yaml" >/dev/null 2>&1
wait_state bad-resource Failed
msg=$(kubectl get pe bad-resource -n "$NS" -o jsonpath='{.status.conditions[-1:].message}')
check_contains "the condition names the field" \
    "'spec.tunableParameters[0].parameters[1].name': unknown resource \"ephemeral-storage\"" "$msg"
check "the condition's reason" "InvalidSpec" \
    "$(kubectl get pe bad-resource -n "$NS" -o jsonpath='{.status.conditions[-1:].reason}')"
check "no Trial for it" "" "$(kubectl get trials -n "$NS" -l "morphling.kubedl.io/experiment-uid=$(kubectl get pe bad-resource -n "$NS" -o jsonpath='{.metadata.uid}')" -o name)"
check_contains "a Warning Event" "InvalidSpec" \
    "$(kubectl get events -n "$NS" --field-selector type=Warning 2>&1)"

# An experiment may not make the operator read its own files into a trial.
sed -e 's/name: mobilenet-experiment-grid/name: reads-files/' \
    -e '/requestTemplate:/d' \
    -e 's|^  maxNumTrials: 8|  maxNumTrials: 8\n  load: {path: /v1/fmnist, body: /etc/passwd}|' "$pe" >"$WORK/files.yaml"
kubectl apply -f "$WORK/files.yaml" >/dev/null 2>&1
wait_state reads-files Failed
check_contains "a file of the operator's is refused" \
    "'spec.load.body': not found inside" \
    "$(kubectl get pe reads-files -n "$NS" -o jsonpath='{.status.conditions[-1:].message}')"

# Health and metrics.
health=$(sed -n 's|.*serving /healthz /readyz on \(http://[0-9.:]*\).*|\1|p' "$WORK/operator.log" | head -1)
metrics=$(sed -n 's|.*serving /metrics on \(http://[0-9.:]*\).*|\1|p' "$WORK/operator.log" | head -1)
check "/healthz" "ok" "$(curl -sS "$health/healthz")"
check "/readyz" "ok" "$(curl -sS "$health/readyz")"
check "/metrics is not on the health listener" "404" "$(curl -s -o /dev/null -w '%{http_code}' "$health/metrics")"
m=$(curl -sS "$metrics/metrics")
check_true "reconciles counted" test "$(echo "$m" | awk '/^morphling_operator_reconciles_total\{result="ok"\}/ {print $2}')" -gt 2
check "trials by state" "7 1" \
    "$(echo "$m" | awk '/^morphling_operator_trials_finished_total\{state="SUCCEEDED"\}/ {s = $2} /^morphling_operator_trials_finished_total\{state="FAILED"\}/ {f = $2} END {print s, f}')"
check_contains "API calls by verb and code" 'morphling_operator_api_requests_total{verb="create",code="201"}' "$m"
check_contains "API latency" "morphling_operator_api_request_duration_seconds_count" "$m"
check_contains "API errors" "morphling_operator_api_errors_total 0" "$m"

# A Trial of an experiment's name that another owns (an orphan of a deleted experiment of the
# same name) stops the new experiment's run with a Warning Event, and is never written to; once
# it is deleted, the experiment runs.
original_pe reborn 2 2
kubectl apply -f "$WORK/reborn.yaml" >/dev/null
wait_state reborn Succeeded
before=$(kubectl get trial reborn-1 -n "$NS" -o json | jq -c '.status')
kubectl delete pe reborn -n "$NS" --cascade=orphan >/dev/null
orphaned() { [ "$(kubectl get trial reborn-1 -n "$NS" -o jsonpath='{.metadata.ownerReferences}')" = "" ]; }
wait_for "reborn-1 is orphaned" orphaned
kubectl apply -f "$WORK/reborn.yaml" >/dev/null
name_in_use() {
    kubectl get events -n "$NS" --field-selector reason=NameInUse,involvedObject.name=reborn \
        -o jsonpath='{.items[*].message}' 2>/dev/null | grep -q .
}
wait_for "a NameInUse Event" name_in_use
check_contains "it names the Trial" \
    "trials morphling-system/reborn-1 exists and does not belong to experiment reborn" \
    "$(kubectl get events -n "$NS" --field-selector reason=NameInUse -o jsonpath='{.items[*].message}')"
# Retried with backoff, the run says so again: one Event whose count grows, as client-go's
# correlator keeps it, not one Event per retry.
name_in_use_again() {
    [ "$(kubectl get events -n "$NS" --field-selector reason=NameInUse,involvedObject.name=reborn \
        -o jsonpath='{.items[0].count}' 2>/dev/null)" -ge 2 ] 2>/dev/null
}
wait_for "the NameInUse Event counted again" name_in_use_again
check "no two Events of it say the same" 1 \
    "$(kubectl get events -n "$NS" -o json | jq --arg uid "$(kubectl get pe reborn -n "$NS" -o jsonpath='{.metadata.uid}')" \
        '[.items[] | select(.involvedObject.uid == $uid)] | group_by([.type, .reason, .message]) | map(length) | max')"
check "the orphan's status is left alone" "$before" \
    "$(kubectl get trial reborn-1 -n "$NS" -o json | jq -c '.status')"
reborn_finished() { # the end condition that holds (Succeeded or Failed), if any
    kubectl get pe reborn -n "$NS" -o json |
        jq -r '.status.conditions[]? | select(.status == "True" and (.type == "Succeeded" or .type == "Failed")) | .type'
}
check "the experiment has not finished" "" "$(reborn_finished)"
# With reborn-2 deleted, trial 2 runs; trial 1 still waits for its name. The run after that
# gives trial 1 its number again (it went on with a trial 3, and ended with reborn-1 not its own).
own_trials() {
    kubectl get trials -n "$NS" -l "morphling.kubedl.io/experiment-uid=$(kubectl get pe reborn -n "$NS" -o jsonpath='{.metadata.uid}')" -o json |
        jq -r '[.items[] | .metadata.name + "=" + (.status.state // "")] | sort | join(" ")'
}
reborn1_refusals() {
    kubectl get events -n "$NS" --field-selector reason=NameInUse,involvedObject.name=reborn -o json |
        jq '[.items[] | select(.message | contains("reborn-1 exists")) | .count] | add // 0'
}
kubectl delete trial reborn-2 -n "$NS" >/dev/null
own_2_done() { [ "$(own_trials)" = "reborn-2=SUCCEEDED" ]; }
wait_for "its own reborn-2 succeeds" own_2_done
refused=$(reborn1_refusals)
another_run() { [ "$(reborn1_refusals)" -gt "$refused" ] || [ "$(pe_state reborn)" = Succeeded ]; }
wait_for "the next run" another_run
check "trial 1 waits for reborn-1: not finished" "" "$(reborn_finished)"
check "no trial past the gap" "reborn-2=SUCCEEDED" "$(own_trials)"
kubectl delete trial reborn-1 -n "$NS" >/dev/null
wait_state reborn Succeeded
check "then it runs: its own Trials 1 and 2, succeeded" "reborn-1=SUCCEEDED reborn-2=SUCCEEDED" \
    "$(own_trials)"
check "its runs that stopped on the name said NameInUse, no RunStopped as well" "" \
    "$(kubectl get events -n "$NS" --field-selector reason=RunStopped,involvedObject.name=reborn \
        -o jsonpath='{.items[*].message}')"

# A Trial deleted between the operator's create (409: it exists) and its read of it (404) is
# created again: the trial runs at its first attempt, no failure or retry. The read is held for
# 3 s, the orphan deleted meanwhile.
original_pe racy 1 1
kubectl apply -f "$WORK/racy.yaml" >/dev/null
wait_state racy Succeeded
kubectl delete pe racy -n "$NS" --cascade=orphan >/dev/null
racy_orphaned() { [ "$(kubectl get trial racy-1 -n "$NS" -o jsonpath='{.metadata.ownerReferences}')" = "" ]; }
wait_for "racy-1 is orphaned" racy_orphaned
admin_api POST /_test/delay \
    '{"ms": 3000, "count": 1, "verb": "get", "path": "/trials/racy-1$", "userAgent": "morphling-operator"}' >/dev/null
seq0=$(admin_api GET /_test/requests | jq '[.items[].seq] | max')
kubectl apply -f "$WORK/racy.yaml" >/dev/null
racy_requests() {
    admin_api GET "/_test/requests?since=$seq0" |
        jq -r '.items[] | select((.userAgent // "" | startswith("morphling-operator")) and (.verb == "create" or .verb == "get") and (.path | test("/trials(/racy-1)?$"))) | "\(.verb) \(.code)"' |
        tr '\n' ' '
}
create_refused() { racy_requests | grep -q "create 409"; }
wait_for "the operator's create of racy-1 is refused" create_refused
kubectl delete trial racy-1 -n "$NS" >/dev/null
wait_state racy Succeeded
check "create, read, create again" "create 409 get 404 create 201 " \
    "$(racy_requests | grep -o 'create 409 get 404 create 201 ')"
check "racy-1: its own, succeeded at its first attempt" "$(kubectl get pe racy -n "$NS" -o jsonpath='{.metadata.uid}') SUCCEEDED 1" \
    "$(kubectl get trial racy-1 -n "$NS" -o json | jq -r '"\(.metadata.labels["morphling.kubedl.io/experiment-uid"]) \(.status.state) \(.spec.attempt)"')"

# A grid that maxNumTrials cuts short runs, with a Warning Event saying what it leaves out (as
# `morphling validate` warns, in the ProfilingExperiment's words).
original_pe cut-grid 2 1
kubectl apply -f "$WORK/cut-grid.yaml" >/dev/null
wait_state cut-grid Succeeded
check "a grid cut short: a Warning Event says so" \
    "Warning SearchWarning grid search stops after maxNumTrials = 2 of its 8 configurations: 'cpu' (the slowest parameter) takes 1 of its 2 values; raise spec.maxNumTrials or use random or BayesianOpt" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.name == "cut-grid" and .reason == "SearchWarning") | "\(.type) \(.reason) \(.message)"')"
check "the grid run in full has none" "" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.reason == "SearchWarning" and .involvedObject.name == "mobilenet-experiment-grid") | .message')"

# A bare duration that reads like milliseconds: a Warning Event names the resource's field, as
# `morphling validate` does (spec.trialTimeout: 1000 is 1000 s; nothing said it).
original_pe bare-timeout 8 1
sed -i 's/^  parallelism: 1$/  parallelism: 1\n  trialTimeout: "1000"/' "$WORK/bare-timeout.yaml"
kubectl apply -f "$WORK/bare-timeout.yaml" >/dev/null
wait_state bare-timeout Succeeded
check "a bare trialTimeout: a Warning Event says how it reads" \
    "Warning SearchWarning $NS/bare-timeout: 'spec.trialTimeout': a bare number is seconds: 1000 is read as 1000s (16.7 minutes); write 1000ms for milliseconds, or 1000s to say seconds" \
    "$(kubectl get events -n "$NS" -o json | jq -r '.items[] | select(.involvedObject.name == "bare-timeout" and .reason == "SearchWarning") | "\(.type) \(.reason) \(.message)"' | sed 's/:[0-9]*:[0-9]*: /: /')"

# A clean stop.
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
check "SIGTERM stops it with status 0" 0 "$?"
check_contains "it says so" "stopping" "$(tail -1 "$WORK/operator.log")"

# --max-running 1: three experiments run one after the other, each to Succeeded; those that
# wait for a slot say so (State Created), not a blank status.
for n in 1 2 3; do
    original_pe "queued-$n" 2 1
    kubectl apply -f "$WORK/queued-$n.yaml" >/dev/null
done
kubectl get pe -n "$NS" -w --no-headers \
    -o 'custom-columns=NAME:.metadata.name,STATE:.status.conditions[-1:].type,WHY:.status.conditions[-1:].message' \
    >"$WORK/states" &
track $!
start_operator "$WORK/queued.log" --max-running 1 --trial-ms 100 --unsettled-number 2
for n in 1 2 3; do
    wait_state "queued-$n" Succeeded
done
# Each one's trial 2 measured ten times more than trial 1, but did not settle: the optimal trial
# is the settled one, as `morphling show` picks it (it was trial 2).
check "the optimal trial is the best settled one" "queued-1-1 queued-2-1 queued-3-1" \
    "$(for n in 1 2 3; do kubectl get pe "queued-$n" -n "$NS" \
        -o jsonpath='{.status.currentOptimalTrial.trialName}{" "}'; done | sed 's/ $//')"
check "the two that waited showed State Created" 2 \
    "$(awk '$1 ~ /^queued-/ && $2 == "Created" {print $1}' "$WORK/states" | sort -u | wc -l)"
check_contains "and why" "it waits until fewer than 1 experiment(s) run (--max-running)" \
    "$(awk '$2 == "Created"' "$WORK/states")"
check "never two runs at once" 1 \
    "$(awk '/\/queued-[0-9]: running/ {r++; if (r > m) m = r} /\/queued-[0-9]: succeeded/ {r--} END {print m}' "$WORK/queued.log")"
# A trial measured in full that broke a constraint keeps its objective value (unlike trial 3
# above).
original_pe slo 1 1
sed -i 's/^  parallelism: 1/  parallelism: 1\n  constraints: ["throughput_rps <= 3000"]/' "$WORK/slo.yaml"
kubectl apply -f "$WORK/slo.yaml" >/dev/null 2>&1
wait_state slo Failed
check "a Trial that broke a constraint: Failed, with its objective value" "SLO_VIOLATED qps=3703.45" \
    "$(kubectl get trial slo-1 -n "$NS" -o json | jq -r '.status | .failure + " " + (.trialResult.objectiveMetricsObserved[] | .name + "=" + .value)')"
kill -TERM "$OPERATOR_PID"
wait "$OPERATOR_PID"
[ "$FAILED" -eq 0 ] || cat "$WORK/operator.log"
finish
