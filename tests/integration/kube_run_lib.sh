# SPDX-License-Identifier: Apache-2.0
# Shared by the kubernetes runner's tests (test_kube_run_*.sh, sourced after lib.sh): a test
# cluster (tests/kube/cluster.sh) in $WORK/cluster, stopped at exit with its own check that no
# process, cgroup or mount is left; kubectl; the example spec (examples/k8s/fmnist.yaml) with the
# build's payload. Exits 77 (SKIP) without root, node or kubectl.
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build}"
MP_KUBE_DIR=${MP_KUBE_DIR:-$MP_BUILD_DIR/kube}
export MP_KUBE_DIR
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the test cluster needs root (pods get mount namespaces and cgroups)"
    exit 77
fi
if ! command -v node >/dev/null 2>&1 || [ ! -x "$MP_KUBE_DIR/pod_runner" ]; then
    echo "SKIP: the test cluster is not built (node, $MP_KUBE_DIR/pod_runner)"
    exit 77
fi
KUBECTL=$(command -v kubectl || true)
[ -n "$KUBECTL" ] || KUBECTL=${MP_KUBECTL_120:-}
if [ -z "$KUBECTL" ]; then
    echo "SKIP: no kubectl"
    exit 77
fi
CLUSTER=$WORK/cluster
EXAMPLE=$MP_SOURCE_DIR/examples/k8s/fmnist.yaml
PAYLOAD=$MP_BUILD_DIR/examples/payloads/fmnist/test-00000-9.raw
# What the example needs to run here: the build's payload, two quick trials; EX_SETS also leaves
# out the confirmation runs of the best candidates and the second measurement of an unsettled
# trial, which the example test keeps (that longer load test doubled some tests' time). (The
# sanitizer build's server outgrew the example's 256 MiB under load tests with ASan's default
# quarantine of freed memory: the test cluster's images set a smaller one, images.json.in.)
EX_BASE="--set runner.load.body=$PAYLOAD --set algorithm.max_trials=2"
EX_SETS="$EX_BASE --set algorithm.confirm=false --set runner.load.remeasure=false"

kube_cleanup() {
    if [ -e "$CLUSTER/env" ]; then
        sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" stop "$CLUSTER" >"$WORK/stop.log" 2>&1 ||
            cat "$WORK/stop.log"
    fi
    cleanup
}
trap kube_cleanup EXIT

# Every request ends within a minute: an API server that stops answering fails the check that
# waited, with the output so far, not the whole script at ctest's timeout with none.
k() {
    "$KUBECTL" --request-timeout=60s "$@"
}

# cluster_up [cluster.sh options]
cluster_up() {
    if ! sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" start "$CLUSTER" "$@" >"$WORK/start.log" 2>&1; then
        cat "$WORK/start.log"
        exit 1
    fi
    . "$CLUSTER/env"
}

# cluster_down: stops the cluster now; its own check that nothing is left is a test point.
cluster_down() {
    if sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" stop "$CLUSTER" >"$WORK/stop.log" 2>&1; then
        ok "the cluster stops with no process, cgroup or mount left"
    else
        not_ok "cluster stop: $(cat "$WORK/stop.log")"
    fi
}

# stopped PID: whether process PID is stopped (state T in /proc/PID/stat): a run started under
# SIGSTOP waits there until a kill hook is set for it.
stopped() {
    [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" = T ]
}

# Objects the runner made for experiment key $1 (any kind), one "kind/name" per line.
leftover_objects() {
    k get configmaps,deployments,replicasets,services,jobs,pods -A \
        -l "morphling.kubedl.io/experiment=$1" -o name 2>/dev/null
}

# wait_object KIND NAME: until the object exists (at most 60 s; the caller's checks then fail).
wait_object() {
    lib_n=0
    until k get "$1" "$2" >/dev/null 2>&1 || [ "$lib_n" -gt 600 ]; do
        sleep 0.1
        lib_n=$((lib_n + 1))
    done
}

# retry_reason NAME: the reason experiment NAME's lost attempt was retried (its trial_retry
# event in the store).
retry_reason() {
    sqlite3 "$MORPHLING_DB" "SELECT detail_json FROM events WHERE kind = 'trial_retry' AND \
        experiment_id = (SELECT id FROM experiments WHERE name = '$1')" | jq -r .reason
}

# trial_stdout NAME [TRIAL]: the service output the store keeps for trial TRIAL (default 1) of
# experiment NAME (its last attempt).
trial_stdout() {
    sqlite3 "$MORPHLING_DB" "SELECT CAST(l.content AS TEXT) FROM trial_logs l \
        JOIN trials t ON t.id = l.trial_id JOIN experiments e ON e.id = t.experiment_id \
        WHERE e.name = '$1' AND t.number = ${2:-1} AND l.stream = 'stdout'"
}

# Processes in the cluster's pods' cgroups.
pod_processes() {
    grep -ls "/morphling-kube-n$KUBE_NET/" /proc/[0-9]*/cgroup 2>/dev/null | wc -l
}

# api PATH [curl options]: the API server's test hooks as the admin.
api() {
    p=$1
    shift
    curl -sf --max-time 60 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' "$@" "$KUBE_API_URL$p"
}
