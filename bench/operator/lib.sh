# SPDX-License-Identifier: Apache-2.0
# What the operator benchmarks share (sourced from the repository's root, after build= is set):
#   bench_cluster NAME   checks that the test API server and the operator are built (else
#                        prints "NAME: SKIP" and exits 0), makes $work (removed at exit, with
#                        every pid in $pids stopped), starts the API server there, and exports
#                        its KUBECONFIG. Sets apiserver, op, work, pids.
bench_cluster() {
    apiserver="$build/kube/apiserver/main.mjs"
    op="$build/tests/operator_check"
    for f in "$apiserver" "$op"; do
        [ -e "$f" ] || { echo "$1: SKIP ($f is not built: cmake --build $build)"; exit 0; }
    done
    work=$(mktemp -d "/tmp/mp-bench-$1.XXXXXX")
    pids=""
    trap bench_cleanup EXIT
    node "$apiserver" --dir "$work/cluster" >"$work/apiserver.log" 2>&1 &
    pids="$pids $!"
    n=0
    until [ -s "$work/cluster/apiserver.ready" ]; do
        n=$((n + 1)); [ "$n" -lt 600 ] || { echo "$1: the API server did not start"; exit 1; }
        sleep 0.1
    done
    export KUBECONFIG="$work/cluster/kubeconfig"
}

bench_cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
