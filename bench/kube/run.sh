#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: the kubernetes runner's cost per trial on the test cluster (tests/kube), running
# examples/k8s/fmnist.yaml for TRIALS trials:
#   - API calls per trial besides watch events (goal <= 15): the runner's own count (meta
#     api_calls) and the API server's request log for the run's user, less the run's one-time
#     calls (validate, the start-up sweep), divided by the trials;
#   - the runner's own time per trial beyond the cluster's (goal < 1 s): the trial's wall time
#     less the time spent waiting for the service's pods to become ready (pod start-up), for the
#     load Job's pod to finish (its start-up and the measurement) and for the teardown's
#     Foreground delete to complete (meta overhead_s = total_s - waited).
# Needs root (the test cluster's pods get cgroups and mount namespaces).
# usage: sh bench/kube/run.sh [BUILD_DIR] [TRIALS]
set -eu
build=${1:-build/release}
trials=${2:-6}
here=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$build" && pwd)
morphling=$build/morphling
export MP_KUBE_DIR=$build/kube
[ -x "$morphling" ] && [ -x "$MP_KUBE_DIR/pod_runner" ] || {
    echo "bench/kube: build $build first (with the test cluster: tests/kube)"
    exit 1
}
work=$(mktemp -d)
cleanup() {
    sh "$here/tests/kube/cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
sh "$here/tests/kube/cluster.sh" start "$work/cluster" >/dev/null
. "$work/cluster/env"
api() {
    curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$@" "$KUBE_API_URL/_test/requests"
}
api -X DELETE >/dev/null
start=$(date +%s.%N)
"$morphling" run "$here/examples/k8s/fmnist.yaml" --db "$work/m.db" -q \
    --set "runner.load.body=$build/examples/payloads/fmnist/test-00000-9.raw" \
    --set algorithm.name=random --set algorithm.max_trials="$trials" \
    --set 'parameters.workers.max=8' --set 'parameters.memory.values[0]=512' >/dev/null
end=$(date +%s.%N)
"$morphling" show fmnist-k8s --db "$work/m.db" --json >"$work/show.json"
api >"$work/requests.json"
n=$(jq '[.trials[] | select(.state == "SUCCEEDED")] | length' "$work/show.json")
[ "$n" -eq "$trials" ] || { echo "bench/kube: only $n of $trials trials succeeded"; exit 1; }
# One-time calls of the run: validate's and create's namespace GETs, the sweep's list.
once=$(jq '[.items[] | select(.user == "admin" and ((.verb == "get" and (.path | test("^/api/v1/namespaces/[^/]+$"))) or (.verb == "list" and (.path | test("/configmaps$")))))] | length' "$work/requests.json")
jq -r --arg wall "$(echo "$end - $start" | bc)" --argjson once "$once" --slurpfile log "$work/requests.json" '
  def stats(f): [.trials[] | f] | {min: min, mean: (add / length), max: max};
  (stats(.meta.api_calls)) as $calls
  | (stats(.meta.overhead_s)) as $over
  | (stats(.meta.total_s)) as $total
  | ([$log[0].items[] | select(.user == "admin")] | length) as $all
  | "bench/kube: \(.trials | length) trials of examples/k8s/fmnist.yaml on the test cluster, \($wall | tonumber | . * 10 | round / 10) s in all",
    "  API calls per trial (runner count, watch events excluded): min \($calls.min) mean \($calls.mean * 10 | round / 10) max \($calls.max) (goal <= 15)",
    "  API server log: \($all) requests as admin (the runner), \($once) of them once per run: \((($all - $once) / (.trials | length)) * 10 | round / 10) per trial",
    "  trial wall time: mean \($total.mean * 100 | round / 100) s (pod start-up, measurement and teardown included)",
    "  runner overhead per trial beyond the cluster: min \($over.min * 1000 | round) ms mean \($over.mean * 1000 | round) ms max \($over.max * 1000 | round) ms (goal < 1000 ms)"
' "$work/show.json"
