#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# examples/k8s/fmnist.yaml end to end on the test cluster with the kubernetes runner (two trials at
# once): every trial SUCCEEDED with the load Job's measurements, `show` and the recommendation as with the local
# runner, the objects labelled and owned as documented, resource use from metrics.k8s.io (or "not
# measured" without it), and afterwards no object and no process of the experiment left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

# Strict field validation: every object the runner sends must be a valid object of the official
# schemas (the API server checks them with kubernetes-models) with no unknown field.
cluster_up --strict
# (Memory: the sanitizer build's server outgrows the example's 256 MiB in a second measurement.)
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_BASE --set algorithm.parallelism=2 \
    --set 'parameters.memory.values[0]=1024' -q >"$WORK/out" 2>"$WORK/err"
check "morphling run exits 0" 0 "$?"
check_contains "the experiment succeeds" "SUCCEEDED: reached max_trials (2)" "$(cat "$WORK/out")"
check_contains "a recommendation" "Recommended configuration" "$(cat "$WORK/out")"
"$MORPHLING" show fmnist-k8s --json >"$WORK/show.json"
check "both trials SUCCEEDED" "SUCCEEDED SUCCEEDED" \
    "$(jq -r '[.trials[].state] | join(" ")' "$WORK/show.json")"
check "the load Job measured each (requests > 0, throughput > 0)" "true true" \
    "$(jq -r '[.trials[] | (.metrics.requests > 0 and .metrics.throughput_rps > 0)] | map(tostring) | join(" ")' "$WORK/show.json")"
# ... by the local runner's rules (it measured with the stability rule alone): the confidence
# rule, and a second measurement when the first did not settle and may (remeasured 0 or 1).
check "... with the confidence rule and the second measurement's verdict" "true true" \
    "$(jq -r '[.trials[].metrics | has("remeasured") and .windows >= 3] | map(tostring) | join(" ")' \
        "$WORK/show.json")"
check "trials are named from experiment, trial and attempt" "fmnist-k8s-t1-a0 fmnist-k8s-t2-a0" \
    "$(jq -r '[.trials[].meta.object] | join(" ")' "$WORK/show.json")"
check "at most 26 API calls per trial (24 with the sentinels and the log) besides watch events: \
$(jq -c '[.trials[].meta.api_calls]' "$WORK/show.json")" "true" \
    "$(jq -r '[.trials[].meta.api_calls <= 26] | all' "$WORK/show.json")"
# cpu_cores is the API's recent rate when the runner reads it, just after the load test: it may
# cover idle time only, so only its presence is checked.
check "resource use from metrics.k8s.io (cpu_cores, memory_bytes > 0)" "metrics.k8s.io true" \
    "$(jq -r '.trials[0] | "\(.meta.usage) \(.resources.cpu_cores >= 0 and .resources.memory_bytes > 0)"' "$WORK/show.json")"
check "the request body went in the owner ConfigMap, mounted into the load pod" "true" \
    "$(jq -r '[.trials[].metrics.error_rate == 0] | all' "$WORK/show.json")"
check "each trial keeps the service's log as its output, as the local runner does" 2 \
    "$( (trial_stdout fmnist-k8s 1; trial_stdout fmnist-k8s 2) | grep -c 'listening on 127\.')"
check "a best trial" "true" "$(jq -r '.best.number > 0' "$WORK/show.json")"
check_contains "morphling show prints the recommendation" "Recommended configuration" \
    "$("$MORPHLING" show fmnist-k8s 2>&1)"
check "no object of the experiment is left" "" "$(leftover_objects fmnist-k8s)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
# The requests the runner made: creates of exactly the documented kinds, Foreground deletes.
api "/_test/requests?user=admin" >"$WORK/requests.json"
# Each run of the runner (the two trials, then the confirmation runs of the best) creates one of
# each kind; checking the spec sent one more Deployment, as a dry run.
runs=$((2 + $(jq '[.confirmation.candidates[]?.confirm_runs // [] | length] | add // 0' "$WORK/show.json")))
check "it created a ConfigMap, a Deployment, a Service and a Job per run ($runs runs)" \
    "configmaps=$runs deployments=$((runs + 1)) jobs=$runs services=$runs" \
    "$(jq -r '[.items[] | select(.verb == "create") | .path | split("/") | .[-1]] | group_by(.) | map("\(.[0])=\(length)") | join(" ")' "$WORK/requests.json")"
check "nothing the server warned about (unknown fields)" "0" \
    "$(jq -r '[.items[] | select(.warnings)] | length' "$WORK/requests.json")"
# The recommendation as a patch for the cluster: the runner's pod template as the trials ran it,
# its own args and port kept (the patch was of a bare container: args '--workers N' alone, which
# replace the container's and dropped '--model fmnist', and a containerPort 8080 beside 8500).
"$MORPHLING" export fmnist-k8s --format k8s >"$WORK/patch.json" 2>/dev/null
check "export --format k8s needs no --container for a kubernetes experiment" 0 "$?"
check "... its container, args and port are the template's" \
    "server --model fmnist --workers $(jq -r .best.params.workers "$WORK/show.json") 8500" \
    "$(jq -r '.spec.template.spec.containers[0] |
        "\(.name) \(.args | join(" ")) \([.ports[].containerPort | tostring] | join(" "))"' \
        "$WORK/patch.json")"
check "... and the cluster takes it as a Deployment's template" 0 \
    "$(jq '{apiVersion: "apps/v1", kind: "Deployment", metadata: {name: "exported"},
            spec: {selector: {matchLabels: {app: "exported"}},
                   template: (.spec.template | .metadata.labels = {app: "exported"})}}' \
        "$WORK/patch.json" | k apply --dry-run=server -f - >"$WORK/apply.out" 2>&1; echo $?)"
# ... and as the patch it is for, of a Deployment selecting other labels than the experiment's
# template has (the patch carried the template's labels: {app: fmnist} replaced {app: prod},
# and the API server refused a template its selector no longer matches).
jq -n '{apiVersion: "apps/v1", kind: "Deployment", metadata: {name: "prod"},
        spec: {selector: {matchLabels: {app: "prod"}},
               template: {metadata: {labels: {app: "prod"}},
                          spec: {containers: [{name: "server", image: "srv:1"}]}}}}' |
    k apply -f - >/dev/null 2>&1 || not_ok "create Deployment prod"
check "kubectl patch of a Deployment of other labels takes it" 0 \
    "$(k patch deployment prod --patch-file "$WORK/patch.json" >"$WORK/kpatch.out" 2>&1; echo $?)"
check "... its labels and selector stay ($(cat "$WORK/kpatch.out"))" '{"app":"prod"} {"app":"prod"}' \
    "$(k get deployment prod -o json | jq -c '.spec.selector.matchLabels, .spec.template.metadata.labels' |
        tr '\n' ' ' | sed 's/ $//')"
k delete deployment prod >/dev/null 2>&1
# --base with a Deployment of two containers: the experiment's container is the one configured
# (it asked for --container: "the pod has 2 containers (server, side): name the one ...").
jq '{apiVersion: "apps/v1", kind: "Deployment", metadata: {name: "mine"},
     spec: {selector: {matchLabels: {app: "mine"}},
            template: {metadata: {labels: {app: "mine"}},
                       spec: {containers: [{name: "server", image: "srv:1"},
                                           {name: "side", image: "side:1"}]}}}}' -n >"$WORK/two.json"
"$MORPHLING" export fmnist-k8s --format k8s --base "$WORK/two.json" >"$WORK/based.json" 2>"$WORK/based.err"
check "export --base of two containers needs no --container ($(cat "$WORK/based.err"))" 0 "$?"
check "... and configures the experiment's" \
    "server --workers $(jq -r .best.params.workers "$WORK/show.json") | side null" \
    "$(jq -r '[.spec.template.spec.containers[] | "\(.name) \(.args | if . then join(" ") else "null" end)"] | join(" | ")' "$WORK/based.json")"
cluster_down

# A cluster that does not serve metrics.k8s.io: the trials say their use was not measured.
cluster_up --no-metrics
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set algorithm.max_trials=1 --set name=nometrics -q \
    >"$WORK/out" 2>&1
check "without metrics.k8s.io: the trial SUCCEEDED" SUCCEEDED \
    "$("$MORPHLING" show nometrics --json | jq -r '.trials[0].state')"
check_contains "... and its use was not measured" "not measured" \
    "$("$MORPHLING" show nometrics --json | jq -r '.trials[0].meta.usage')"
cluster_down
finish
