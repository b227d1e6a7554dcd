#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# examples/k8s/fmnist-gpu.yaml on a test cluster with a CPU node and a GPU node (HAMi's
# nvidia.com/gpumem, GPU feature discovery's nvidia.com/gpu.product label): the trials on a T4
# get their share of GPU memory and land on the GPU node, an L4 fits no node (unschedulable, the
# configuration's fault: STARTUP_TIMEOUT with the scheduler's reason), and the load Job runs on
# the other node (preferred anti-affinity to the service's pods).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cat >"$WORK/nodes.json" <<'NODES'
{"nodes": [
  {"name": "cpu-1", "capacity": {"cpu": "8", "memory": "16Gi"}},
  {"name": "gpu-1", "capacity": {"cpu": "8", "memory": "16Gi", "nvidia.com/gpu": "2",
                                 "nvidia.com/gpumem": "16384"},
   "labels": {"nvidia.com/gpu.product": "Tesla-T4"}}
]}
NODES
cluster_up --nodes "$WORK/nodes.json"
# Without the second measurement of an unsettled trial: in it the sanitizer build's server
# outgrew the example's 256 MiB (OOM_KILLED, seen in the clean-clone CI).
"$MORPHLING" run "$MP_SOURCE_DIR/examples/k8s/fmnist-gpu.yaml" --set "runner.load.body=$PAYLOAD" \
    --set algorithm.max_trials=3 --set algorithm.confirm=false \
    --set runner.load.remeasure=false -q >"$WORK/out" 2>&1
check "morphling run exits 0" 0 "$?"
"$MORPHLING" show fmnist-gpu --json >"$WORK/show.json"
check "T4 trials SUCCEEDED, the L4 one is unschedulable" \
    "T4/0.25 SUCCEEDED,T4/0.5 SUCCEEDED,L4/0.25 STARTUP_TIMEOUT" \
    "$(jq -r '[.trials[] | "\(.params.gpu_type)/\(.params.gpu_memory_share) \(if .state == "SUCCEEDED" then .state else .failure end)"] | join(",")' "$WORK/show.json")"
check_contains "the scheduler's reason" "didn't match Pod's node affinity/selector" \
    "$(jq -r '.trials[2].reason' "$WORK/show.json")"
# Where the pods ran, from the scheduler's events (they outlive the pods): ROLE is service or
# load.
k get events -o json >"$WORK/events.json"
nodes_of() {
    jq -r --arg role "$1" '[.items[] | select(.reason == "Scheduled" and (.involvedObject.name | startswith("fmnist-gpu-t")))
        | select((.involvedObject.name | test("-load-")) == ($role == "load"))
        | .message | capture("to (?<n>[a-z0-9-]+)$").n] | unique | join(" ")' "$WORK/events.json"
}
check "the service pods ran on the GPU node" "gpu-1" "$(nodes_of service)"
check "the load pods ran on the other node" "cpu-1" "$(nodes_of load)"
check "no object left" "" "$(leftover_objects fmnist-gpu)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
