#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A ProfilingExperiment file, as written for the original Morphling (plus our `load` and `runner`
# additions for the test cluster's images), runs as it is with `morphling run`: the pod template,
# its container port, serviceProgressDeadline, the resource and args parameters, and
# requestTemplate as the body of every request (the example server takes any 784 bytes as a
# 28x28 image).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

body=$(awk 'BEGIN { for (i = 0; i < 784; i++) printf "a" }')
cat >"$WORK/pe.yaml" <<PE
apiVersion: morphling.kubedl.io/v1alpha1
kind: ProfilingExperiment
metadata:
  name: pe-fmnist
  namespace: default
spec:
  objective:
    type: maximize
    objectiveMetricName: qps
  algorithm:
    algorithmName: grid
  parallelism: 1
  maxNumTrials: 2
  serviceProgressDeadline: 60
  requestTemplate: "$body"
  servicePodTemplate:
    template:
      spec:
        containers:
          - name: resnet-container
            image: morphling/inference-server:test
            args: ["--model", "fmnist", "--workers", "1"]
            ports:
              - containerPort: 8500
  tunableParameters:
    - category: "resource"
      parameters:
        - parameterType: discrete
          name: "cpu"
          feasibleSpace:
            list: ["500m", "1"]
    - category: "args"
      parameters:
        - parameterType: discrete
          name: "workers"
          feasibleSpace:
            list: ["1"]
  load: {path: /v1/fmnist, connections: 2, warmup: 300ms, window: 300ms, windows: 3, stable_windows: 2, remeasure: false}
  runner: {load_image: "morphling:test"}
PE

cluster_up
"$MORPHLING" run "$WORK/pe.yaml" -q >"$WORK/out" 2>&1
check "morphling run pe.yaml exits 0" 0 "$?"
"$MORPHLING" show pe-fmnist --json >"$WORK/show.json"
check "both trials SUCCEEDED" "SUCCEEDED SUCCEEDED" \
    "$(jq -r '[.trials[].state] | join(" ")' "$WORK/show.json")"
check "qps is throughput_rps, measured with requestTemplate as the body (no errors)" "true" \
    "$(jq -r '[.trials[] | .metrics.throughput_rps > 0 and .metrics.error_rate == 0] | all' "$WORK/show.json")"
check "the service port is the container's" "8500 8500" \
    "$(jq -r '[.trials[].meta.port] | map(tostring) | join(" ")' "$WORK/show.json")"
check "no object left" "" "$(leftover_objects pe-fmnist)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
