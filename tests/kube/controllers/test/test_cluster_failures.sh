#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What the cluster says when things go wrong, as a real one says it: a pod over every node's
# capacity is Unschedulable with kube-scheduler's message (and is scheduled once room frees up);
# a crashing container reaches CrashLoopBackOff with its restartCount and previous logs; a memory
# limit (cgroups) ends in OOMKilled; termination messages (file, custom path, fallback to logs);
# unknown and invalid images; probes (exec in the container's namespace, liveness restarts); a
# Deployment that never gets ready exceeds its progress deadline; graceful deletion (SIGTERM
# honoured, or SIGKILL after the grace period).
. "$(dirname "$0")/lib.sh"

cat >"$WORK/nodes.json" <<'EOF'
{"nodes": [
  {"name": "cpu-1", "capacity": {"cpu": "4", "memory": "8Gi"}},
  {"name": "gpu-1", "capacity": {"cpu": "8", "memory": "16Gi", "nvidia.com/gpu": "2"},
   "labels": {"nvidia.com/gpu.product": "Tesla-T4"}}
]}
EOF
cluster_up --nodes "$WORK/nodes.json"
check "two nodes, Ready" "cpu-1 True gpu-1 True" \
    "$(jp nodes '{range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status} {end}' | sed 's/ $//')"
check "GPU capacity" 2 "$(jp node/gpu-1 '{.status.allocatable.nvidia\.com/gpu}')"

# pod NAME IMAGE RESOURCES [SPEC-YAML-LINES]: a one-container pod.
gpu_pod() {
    k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  ${3:-}
  containers:
  - name: c
    image: morphling/fake-service:test
    resources: {limits: {nvidia.com/gpu: "$2"}}
EOF
}

# --- scheduling ---
gpu_pod hold 1
wait_until "a 1-GPU pod runs on the GPU node" 120 jp_is pod/hold '{.spec.nodeName} {.status.phase}' "gpu-1 Running"
gpu_pod big 4
wait_until "a 4-GPU pod is Unschedulable" 60 jp_is pod/big '{.status.conditions[?(@.type=="PodScheduled")].reason}' Unschedulable
check "kube-scheduler's message" \
    "0/2 nodes are available: 2 Insufficient nvidia.com/gpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod." \
    "$(jp pod/big '{.status.conditions[?(@.type=="PodScheduled")].message}')"
check_contains "FailedScheduling event" "Insufficient nvidia.com/gpu" \
    "$(k get events --field-selector involvedObject.name=big,reason=FailedScheduling -o jsonpath='{.items[*].message}')"
gpu_pod a100 1 "nodeSelector: {nvidia.com/gpu.product: A100}"
wait_until "a pod selecting a missing GPU type is Unschedulable" 60 \
    jp_is pod/a100 '{.status.conditions[?(@.type=="PodScheduled")].reason}' Unschedulable
check "its message" \
    "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling." \
    "$(jp pod/a100 '{.status.conditions[?(@.type=="PodScheduled")].message}')"
gpu_pod two 2
wait_until "a 2-GPU pod waits while one GPU is taken" 60 jp_is pod/two '{.status.conditions[?(@.type=="PodScheduled")].status}' False
k delete pod hold --wait=false >/dev/null
wait_until "... and runs once it is freed" 120 jp_is pod/two '{.spec.nodeName} {.status.phase}' "gpu-1 Running"

# --- crash loop ---
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: crash}
spec:
  containers:
  - name: c
    image: debian:12
    command: [sh, -c, 'echo crashing now; exit 3']
EOF
wait_until "CrashLoopBackOff" 120 jp_is pod/crash '{.status.containerStatuses[0].state.waiting.reason}' CrashLoopBackOff
restarts=$(jp pod/crash '{.status.containerStatuses[0].restartCount}')
if [ "$restarts" -ge 1 ] 2>/dev/null; then ok "restartCount $restarts"; else not_ok "restartCount [$restarts]"; fi
check "last state" "3 Error" "$(jp pod/crash '{.status.containerStatuses[0].lastState.terminated.exitCode} {.status.containerStatuses[0].lastState.terminated.reason}')"
check_contains "back-off message" "back-off 10s restarting failed container=c pod=crash_default(" \
    "$(jp pod/crash '{.status.containerStatuses[0].state.waiting.message}')"
check "phase Running while it restarts" Running "$(jp pod/crash '{.status.phase}')"
check "logs --previous" "crashing now" "$(k logs crash --previous 2>&1)"

# --- OOM kill ---
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: morphling/fake-service:test
    args: [--mode, alloc, --alloc-mb, "512"]
    resources: {limits: {memory: 96Mi}}
EOF
wait_until "a pod over its memory limit fails" 120 jp_is pod/oom '{.status.phase}' Failed
check "OOMKilled, exit code 137" "OOMKilled 137" \
    "$(jp pod/oom '{.status.containerStatuses[0].state.terminated.reason} {.status.containerStatuses[0].state.terminated.exitCode}')"

# --- termination messages ---
k apply -f - >/dev/null <<'EOF'
apiVersion: batch/v1
kind: Job
metadata: {name: result}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: debian:12
        command: [sh, -c, 'printf "{\"answer\": 42}" >/dev/termination-log']
      - name: custom
        image: debian:12
        terminationMessagePath: /var/run/result/out.json
        command: [sh, -c, 'printf custom >/var/run/result/out.json']
---
apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: debian:12
        terminationMessagePolicy: FallbackToLogsOnError
        command: [sh, -c, 'echo first; echo last words; exit 2']
EOF
if k wait --for=condition=complete job/result --timeout=120s >/dev/null; then ok "Job completes"; else not_ok "Job result"; fi
check "termination message" '{"answer": 42}' \
    "$(jp pods '{.items[0].status.containerStatuses[?(@.name=="c")].state.terminated.message}' -l job-name=result)"
check "termination message at a custom path" custom \
    "$(jp pods '{.items[0].status.containerStatuses[?(@.name=="custom")].state.terminated.message}' -l job-name=result)"
if k wait --for=condition=failed job/fails --timeout=120s >/dev/null; then ok "failing Job fails"; else not_ok "Job fails"; fi
check "BackoffLimitExceeded" BackoffLimitExceeded "$(jp job/fails '{.status.conditions[?(@.type=="Failed")].reason}')"
check "FallbackToLogsOnError" "first
last words" "$(jp pods '{.items[0].status.containerStatuses[0].state.terminated.message}' -l job-name=fails)"

# --- images ---
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: unknown}
spec:
  containers: [{name: c, image: "morphling/nope:1"}]
---
apiVersion: v1
kind: Pod
metadata: {name: invalid}
spec:
  containers: [{name: c, image: "Morphling/Bad:1"}]
EOF
wait_until "unknown image: ErrImagePull or ImagePullBackOff" 60 sh -c \
    "'$KUBECTL' get pod unknown -o jsonpath='{.status.containerStatuses[0].state.waiting.reason}' | grep -Eq '^(ErrImagePull|ImagePullBackOff)$'"
wait_until "... then ImagePullBackOff" 60 jp_is pod/unknown '{.status.containerStatuses[0].state.waiting.reason}' ImagePullBackOff
check_contains "pull error event" 'docker.io/morphling/nope:1: not found' \
    "$(k get events --field-selector involvedObject.name=unknown -o jsonpath='{.items[*].message}')"
wait_until "invalid image name: InvalidImageName" 60 jp_is pod/invalid '{.status.containerStatuses[0].state.waiting.reason}' InvalidImageName

# --- probes ---
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  containers:
  - name: c
    image: debian:12
    command: [sh, -c, 'sleep 1; echo ready >/dev/termination-log; exec sleep 600']
    readinessProbe: {exec: {command: [grep, -q, ready, /dev/termination-log]}, periodSeconds: 1}
  - name: live
    image: morphling/fake-service:test
    args: [--port, "9000"]
    livenessProbe: {httpGet: {path: /nothing-here, port: 9000}, periodSeconds: 1, failureThreshold: 2}
EOF
wait_until "an exec probe sees the container's own files" 120 \
    jp_is pod/probed '{.status.containerStatuses[?(@.name=="c")].ready}' true
wait_until "a failing liveness probe restarts the container" 120 sh -c \
    "[ \"\$('$KUBECTL' get pod probed -o jsonpath='{.status.containerStatuses[?(@.name==\"live\")].restartCount}')\" -ge 1 ]"
check_contains "liveness Killing event" "Container live failed liveness probe, will be restarted" \
    "$(k get events --field-selector involvedObject.name=probed,reason=Killing -o jsonpath='{.items[*].message}')"
k apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: never-ready}
spec:
  progressDeadlineSeconds: 3
  selector: {matchLabels: {app: never-ready}}
  template:
    metadata: {labels: {app: never-ready}}
    spec:
      containers:
      - name: c
        image: morphling/fake-service:test
        args: [--port, "8080", --mode, unhealthy]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
EOF
wait_until "ProgressDeadlineExceeded" 120 jp_is deploy/never-ready \
    '{.status.conditions[?(@.type=="Progressing")].reason}' ProgressDeadlineExceeded
check "Available False" False "$(jp deploy/never-ready '{.status.conditions[?(@.type=="Available")].status}')"
check_contains "readiness failures are events" "Readiness probe failed: HTTP probe failed with statuscode: 500" \
    "$(k get events --field-selector reason=Unhealthy -o jsonpath='{.items[*].message}')"

# --- graceful deletion ---
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: polite, labels: {grace: test}}
spec:
  terminationGracePeriodSeconds: 60
  containers:
  - name: c
    image: debian:12
    command: [sh, -c, 'trap "echo bye; exit 0" TERM; while :; do sleep 0.1; done']
---
apiVersion: v1
kind: Pod
metadata: {name: stubborn, labels: {grace: test}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: morphling/fake-service:test
    args: [--mode, ignore-term]
EOF
wait_until "pods to delete are running" 120 sh -c \
    "[ \"\$('$KUBECTL' get pods polite stubborn -o jsonpath='{.items[*].status.phase}')\" = 'Running Running' ]"
k get pods -l grace=test -w --output-watch-events -o json >"$WORK/watch.json" 2>/dev/null &
watcher=$!
sleep 1 # the watch is open before the deletes (its first events are the current state)
k delete pod polite stubborn --timeout=120s >/dev/null && ok "delete waits for both" || not_ok "delete"
kill "$watcher" 2>/dev/null
last() {
    jq -rs --arg n "$1" '[.[] | select(.object.metadata.name == $n and .type == "MODIFIED")] | last |
        .object.status | "\(.containerStatuses[0].state.terminated | "\(.exitCode) \(.reason)") \(.phase)"' "$WORK/watch.json"
}
check "SIGTERM honoured: exit 0 before the grace period" "0 Completed Succeeded" "$(last polite)"
check "SIGTERM ignored: SIGKILL after 1 s" "137 Error Failed" "$(last stubborn)"
check "both deleted" "" "$(jp pods '{.items[*].metadata.name}' -l grace=test)"
finish_cluster
