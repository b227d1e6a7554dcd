#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator at scale: N experiments (default 100) of T trials each (default 10), applied at
# once to the test cluster's API server and run by the operator, then left idle. The trials are
# cheap on purpose: the operator with the fake trial runner of its tests
# (tests/helpers/operator_check.c: each trial creates and deletes one ConfigMap owned by its
# Trial, no pods), so what is measured is the operator itself (informer, queue, engine, Trial
# and status writes), not the services. Prints the wall time to finish them all, the
# operator's peak and final RSS, its CPU while idle (10 s after the last experiment), and the
# p99 from a change (a watch event, here a label added to every experiment) to its reconcile,
# from the operator's own histogram (the bucket bound that covers 99 %).
#   sh bench/operator/run.sh [BUILD]      (default build/release; needs node, kubectl, jq)
set -eu
build=${1:-build/release}
N=${MP_BENCH_EXPERIMENTS:-100}
T=${MP_BENCH_TRIALS:-10}
cd "$(dirname "$0")/../.."
. bench/operator/lib.sh
bench_cluster operator
kubectl apply -f deploy/crds/ >/dev/null
kubectl create namespace bench >/dev/null
"$op" --kubeconfig "$KUBECONFIG" --namespace bench --work-dir "$work" \
    --metrics-addr 127.0.0.1:0 >"$work/operator.log" 2>&1 &
opid=$!
pids="$pids $opid"
i=1
while [ "$i" -le "$N" ]; do
    cat <<YAML
---
apiVersion: morphling.kubedl.io/v1alpha1
kind: ProfilingExperiment
metadata: {name: bench-$i, namespace: bench}
spec:
  objective: {type: maximize, objectiveMetricName: qps}
  algorithm: {algorithmName: random}
  parallelism: 1
  maxNumTrials: $T
  servicePodTemplate: {template: {spec: {containers: [{name: s, image: "morphling/fake-service:test"}]}}}
  tunableParameters:
    - category: env
      parameters:
        - {parameterType: int, name: WORKERS, feasibleSpace: {min: "1", max: "64"}}
YAML
    i=$((i + 1))
done >"$work/pes.yaml"

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$opid/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$opid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$opid/stat"; }
succeeded() {
    kubectl get pe -n bench -o json | jq '[.items[] | select(.status.conditions[-1].type == "Succeeded")] | length'
}

t0=$(date +%s.%N)
kubectl apply -f "$work/pes.yaml" >/dev/null
while [ "$(succeeded)" -lt "$N" ]; do
    kill -0 "$opid" 2>/dev/null || { echo "operator: the operator died"; tail "$work/operator.log"; exit 1; }
    sleep 1
done
t1=$(date +%s.%N)
trials=$(kubectl get trials -n bench -o json | jq '[.items[] | select(.status.state == "SUCCEEDED")] | length')

# Idle: nothing to do for 10 s.
sleep 2
c0=$(cpu_ticks)
sleep 10
c1=$(cpu_ticks)
hz=$(getconf CLK_TCK)

# Changes: a label on every experiment is a watch event each; the operator reconciles each key.
metrics=$(sed -n 's|.*serving /metrics on \(http://[0-9.:]*\).*|\1|p' "$work/operator.log" | head -1)
i=1
while [ "$i" -le "$N" ]; do
    kubectl label pe "bench-$i" -n bench bench=touched >/dev/null
    i=$((i + 1))
done
sleep 2
curl -s "$metrics/metrics" >"$work/metrics.txt"
p99=$(awk -F'[{}" ]+' '
    /^morphling_operator_reconcile_delay_seconds_bucket/ { le[n] = $3; c[n++] = $NF }
    /^morphling_operator_reconcile_delay_seconds_count/ { total = $NF }
    END { for (i = 0; i < n; i++) if (c[i] >= 0.99 * total) { print le[i]; exit } }' "$work/metrics.txt")
count=$(awk '/^morphling_operator_reconcile_delay_seconds_count/ {print $2}' "$work/metrics.txt")

awk -v n="$N" -v t="$T" -v trials="$trials" -v w="$(echo "$t1 - $t0" | bc)" \
    -v hwm="$(hwm_kib)" -v rss="$(rss_kib)" -v cpu="$(echo "($c1 - $c0) * 100 / ($hz * 10)" | bc -l)" \
    -v p99="$p99" -v count="$count" 'BEGIN {
    printf "operator: %d experiments x %d trials (fake trial runner, API server only): %d trials succeeded in %.1f s (%.0f trials/s); RSS peak %.1f MiB (goal <= 30), idle %.1f MiB; idle CPU %.2f %% of a core over 10 s (goal ~0); change-to-reconcile p99 <= %s s over %d reconciles (goal < 1 s)\n",
        n, t, trials, w, trials / w, hwm / 1024, rss / 1024, cpu, p99, count }'
