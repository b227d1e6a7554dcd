# SPDX-License-Identifier: Apache-2.0
# Shared by the test cluster's shell tests (sourced): a cluster in a temporary folder, stopped at
# exit with a check that nothing of it is left; kubectl; waiting for conditions.
# Exits 77 (SKIP) without root or without kubectl.
set -u
: "${MP_SOURCE_DIR:?MP_SOURCE_DIR must point to the source tree}"
: "${MP_KUBE_DIR:?MP_KUBE_DIR must point to BUILD/kube}"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: the test cluster needs root (pods get mount namespaces and cgroups)"
    exit 77
fi
KUBECTL=$(command -v kubectl || true)
[ -n "$KUBECTL" ] || KUBECTL=${MP_KUBECTL_120:-}
if [ -z "$KUBECTL" ] || [ ! -x "$KUBECTL" ]; then
    echo "SKIP: no kubectl on the PATH"
    exit 77
fi
WORK=$(mktemp -d /tmp/mp-kube-test.XXXXXX)
CLUSTER=$WORK/cluster
. "$MP_SOURCE_DIR/tests/integration/tap.sh"

k() {
    "$KUBECTL" "$@"
}

# jp OBJECT JSONPATH [kubectl options]: one value of a live object.
jp() {
    obj=$1
    path=$2
    shift 2
    k get $obj "$@" -o "jsonpath=$path" 2>/dev/null
}

# wait_until DESCRIPTION SECONDS COMMAND...: runs COMMAND until it succeeds (ok), or fails the
# check after SECONDS.
wait_until() {
    desc=$1
    end=$(($(date +%s) + $2))
    shift 2
    while ! "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$end" ]; then
            not_ok "$desc (not within the time limit)"
            return 1
        fi
        sleep 0.2
    done
    ok "$desc"
}

# jp_is OBJECT JSONPATH VALUE: the live value equals VALUE (for wait_until).
jp_is() {
    [ "$(jp "$1" "$2")" = "$3" ]
}

# Processes of this cluster's pods (in its cgroups), one pid per line.
pod_pids() {
    for f in $(grep -ls "/morphling-kube-n$KUBE_NET/" /proc/[0-9]*/cgroup 2>/dev/null); do
        p=${f#/proc/}
        echo "${p%/cgroup}"
    done
}

# Processes naming the cluster's folder on their command line (API server, controllers,
# pod_runner), except the grep that looked for them.
cluster_pids() {
    for f in $(grep -ls -- "$CLUSTER" /proc/[0-9]*/cmdline 2>/dev/null); do
        p=${f#/proc/}
        p=${p%/cmdline}
        if [ -d "/proc/$p" ]; then echo "$p"; fi
    done
}

cluster_up() {
    if ! sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" start "$CLUSTER" "$@" >"$WORK/start.log" 2>&1; then
        cat "$WORK/start.log"
        exit 1
    fi
    . "$CLUSTER/env"
}

dump() {
    echo "--- pods"
    k get pods -A -o wide 2>&1 | head -40
    echo "--- controllers.log (tail)"
    tail -40 "$CLUSTER/controllers.log" 2>/dev/null
    echo "--- apiserver.log (tail)"
    tail -20 "$CLUSTER/apiserver.log" 2>/dev/null
}

# Stops the cluster; checks that stop succeeded and that no process, cgroup or mount is left.
cluster_down() {
    [ -e "$CLUSTER/env" ] || return 0
    net=$KUBE_NET
    if sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" stop "$CLUSTER" >"$WORK/stop.log" 2>&1; then
        ok "cluster.sh stop"
    else
        not_ok "cluster.sh stop: $(cat "$WORK/stop.log")"
    fi
    check "no pod process left" "" "$(pod_pids)"
    check "no mount of the pods left" "" "$(grep -ls " $CLUSTER/pods/" /proc/[0-9]*/mountinfo 2>/dev/null)"
    check "no cgroup left" "" "$(find /sys/fs/cgroup -maxdepth 6 -type d -name "morphling-kube-n$net" 2>/dev/null)"
    check "no cluster process left" "" "$(cluster_pids)"
}

cleanup() {
    if [ -e "$CLUSTER/env" ]; then
        sh "$MP_SOURCE_DIR/tests/kube/cluster.sh" stop "$CLUSTER" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# The closing lines of a test: diagnostics on failure, cluster_down, the count.
finish_cluster() {
    [ "$FAILED" -eq 0 ] || dump
    cluster_down
    finish
}
