#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Starts and stops the test cluster: the fake API server (apiserver/) and the controllers with
# the node agent (controllers/), whose pods run under pod_runner.
#
#   sh tests/kube/cluster.sh start DIR [--nodes FILE] [--no-metrics] [--crash-backoff SECONDS]
#                                      [--strict]
#   sh tests/kube/cluster.sh stop DIR
#
# start waits until both are ready and writes DIR/env (sourceable: KUBECONFIG, KUBE_API_URL,
# KUBE_ADMIN_TOKEN, KUBE_CA, the pids, the cluster's address block KUBE_NET). stop kills every
# pod, removes the cluster's cgroups, stops both processes and checks that no process, cgroup or
# mount of the cluster is left (exit 1 naming what is). The built cluster is found in
# $MP_KUBE_DIR (default: build/test/kube of this checkout). Needs root: pods get mount
# namespaces and cgroups; without root start exits 77 with a message (tests print SKIP).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kube=${MP_KUBE_DIR:-$here/../../build/test/kube}
nets=${MP_KUBE_NETS:-/tmp/morphling-kube-nets}

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

alive() {
    [ -n "$1" ] && kill -0 "$1" 2>/dev/null
}

# wait_for FILE PID SECONDS: until FILE exists; fails when PID dies or time runs out.
wait_for() {
    n=0
    while [ ! -s "$1" ]; do
        alive "$2" || return 1
        [ "$n" -lt $(($3 * 20)) ] || return 1
        sleep 0.05
        n=$((n + 1))
    done
}

# stop_pid PID SECONDS: SIGTERM, then SIGKILL when it is still there after SECONDS.
stop_pid() {
    alive "$1" || return 0
    kill -TERM "$1" 2>/dev/null || true
    n=0
    while alive "$1" && [ "$n" -lt $(($2 * 20)) ]; do
        sleep 0.05
        n=$((n + 1))
    done
    if alive "$1"; then
        echo "cluster.sh: pid $1 ignored SIGTERM for $2 s; killing it" >&2
        kill -KILL "$1" 2>/dev/null || true
    fi
}

# A cluster's pods use 127.N.0.0/17 and its Services 127.N.128.0/17; N is claimed with an atomic
# mkdir under $nets so that clusters started at the same time never share addresses. A claim
# whose cluster is gone (its controllers dead, neither starting nor stopping) is taken over.
claim_net() {
    mkdir -p "$nets"
    start=$(($(od -An -tu2 -N2 /dev/urandom | tr -d ' ') % 200))
    i=0
    while [ $i -lt 200 ]; do
        n=$((40 + (start + i) % 200))
        if mkdir "$nets/$n" 2>/dev/null; then
            echo "$1" >"$nets/$n/dir"
            echo "$n"
            return 0
        fi
        owner=$(cat "$nets/$n/dir" 2>/dev/null || true)
        pid=$(cat "$owner/controllers.pid" 2>/dev/null || true)
        if [ -n "$owner" ] && ! alive "$pid" && [ ! -e "$owner/starting" ] &&
            [ ! -e "$owner/stopping" ]; then
            rm -rf "${nets:?}/$n"
            continue
        fi
        i=$((i + 1))
    done
    return 1
}

start() {
    dir=$1
    shift
    nodes=""
    metrics=""
    backoff=""
    strict=""
    while [ $# -gt 0 ]; do
        case "$1" in
        --nodes) nodes=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
        --no-metrics) metrics=--no-metrics; shift ;;
        --crash-backoff) backoff="--crash-backoff $2"; shift 2 ;;
        # Unknown fields are refused (400) instead of dropped with a warning.
        --strict) strict="--default-field-validation Strict"; shift ;;
        *) die "unknown option '$1'" ;;
        esac
    done
    if [ "$(id -u)" != 0 ]; then
        echo "cluster.sh: needs root: pods run in their own mount namespaces and cgroups" >&2
        exit 77
    fi
    for f in pod_runner images.json; do
        [ -e "$kube/$f" ] || die "$kube/$f missing: build first (cmake --build), or set MP_KUBE_DIR"
    done
    # The scripts run from the build's copy (next to its node_modules), else from this tree.
    js=$kube
    [ -e "$js/apiserver/main.mjs" ] && [ -e "$js/controllers/main.mjs" ] || js=$here
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/env" ] || die "$dir already holds a cluster (stop it first)"
    : >"$dir/starting"
    net=$(claim_net "$dir") || die "no free address block under $nets"
    echo "$net" >"$dir/net"
    clear_stale "$net"
    # shellcheck disable=SC2086
    node "$js/apiserver/main.mjs" --dir "$dir" --service-cluster-ip-range "127.$net.128.0/17" \
        $metrics $strict </dev/null >"$dir/apiserver.log" 2>&1 &
    api_pid=$!
    echo "$api_pid" >"$dir/apiserver.pid"
    wait_for "$dir/apiserver.ready" "$api_pid" 60 || {
        tail -20 "$dir/apiserver.log" >&2
        teardown "$dir" "$net"
        release_net "$dir" "$net"
        die "the API server did not start (log: $dir/apiserver.log)"
    }
    . "$dir/apiserver.env"
    # The controllers get an identity of their own, so that per-user request counts of the
    # clients under test do not include theirs.
    token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
    (umask 077 && printf '%s\n' "$token" >"$dir/controllers.token")
    curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X POST "$KUBE_API_URL/_test/tokens" \
        -d "{\"user\":\"system:kube-controller-manager\",\"groups\":[\"system:masters\"],\"token\":\"$token\"}" \
        >/dev/null || die "cannot register the controllers' token"
    # shellcheck disable=SC2086
    node "$js/controllers/main.mjs" --dir "$dir" --server "$KUBE_API_URL" --ca "$KUBE_CA" \
        --token-file "$dir/controllers.token" --pod-runner "$kube/pod_runner" \
        --images "$kube/images.json" --net "$net" ${nodes:+--nodes "$nodes"} $backoff \
        </dev/null >"$dir/controllers.log" 2>&1 &
    ctl_pid=$!
    echo "$ctl_pid" >"$dir/controllers.pid"
    wait_for "$dir/controllers.ready" "$ctl_pid" 60 || {
        tail -20 "$dir/controllers.log" >&2
        teardown "$dir" "$net"
        release_net "$dir" "$net"
        die "the controllers did not start (log: $dir/controllers.log)"
    }
    cat >"$dir/env" <<EOF
export KUBECONFIG='$dir/kubeconfig'
export KUBE_API_URL='$KUBE_API_URL'
export KUBE_ADMIN_TOKEN='$KUBE_ADMIN_TOKEN'
export KUBE_CA='$KUBE_CA'
export KUBE_APISERVER_PID=$KUBE_APISERVER_PID
export KUBE_CONTROLLERS_PID=$ctl_pid
export KUBE_NET=$net
export KUBE_POD_CIDR=127.$net.0.0/17
export KUBE_SERVICE_CIDR=127.$net.128.0/17
export KUBE_CLUSTER_DIR='$dir'
EOF
    rm -f "$dir/starting"
    echo "cluster.sh: ready ($dir/env)"
}

# clear_stale NET: removes the groups an earlier cluster with this address block left (one
# killed, or stopped from another cgroup than it started in: pod_runner --cleanup removes the
# groups below its own). The claim is ours, so what they hold is no live cluster's: their
# processes are killed and the groups removed, deepest first.
clear_stale() {
    find /sys/fs/cgroup -maxdepth 6 -type d -name "morphling-kube-n$1" 2>/dev/null |
        while read -r d; do
            find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do
                kill -KILL "$p" 2>/dev/null || true
            done
            n=0
            while [ -d "$d" ] && [ "$n" -lt 40 ]; do
                find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.05
                n=$((n + 1))
            done
            [ ! -d "$d" ] || echo "cluster.sh: cannot remove an earlier cluster's group $d" >&2
        done
}

# This cluster's pod runners (their --cgroup-parent argument names it): their pids. (The
# parentheses keep grep's own argument from matching.)
runners() {
    grep -lzxE -- "morphling-kube-n($1)" /proc/[0-9]*/cmdline 2>/dev/null |
        sed 's,^/proc/,,; s,/cmdline$,,'
}

# What of the cluster is still there: its pod runners, processes in its cgroups or with its
# pods' mounts, and its cgroups.
leftovers() {
    for p in $(runners "$1"); do
        echo "pod runner $p"
    done
    for f in $(grep -ls "/morphling-kube-n$1/" /proc/[0-9]*/cgroup 2>/dev/null); do
        p=${f#/proc/}
        p=${p%/cgroup}
        echo "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))"
    done
    for f in $(grep -ls " $2/pods/" /proc/[0-9]*/mountinfo 2>/dev/null); do
        echo "mounts of $2/pods in ${f%/mountinfo}"
    done
    find /sys/fs/cgroup -maxdepth 6 -type d -name "morphling-kube-n$1" 2>/dev/null | sed 's/^/cgroup /'
}

# teardown DIR NET: stops what runs. The address block stays claimed (marked stopping) until
# release_net, so that no cluster starting meanwhile takes it and its cgroups' names.
teardown() {
    touch "$1/stopping"
    stop_pid "$(cat "$1/controllers.pid" 2>/dev/null || true)" 30
    # The pod runners end with their node agent; one that does not within 10 s is killed, so
    # that none makes a group after the cleanup.
    n=0
    while [ -n "$(runners "$2")" ] && [ "$n" -lt 200 ]; do
        sleep 0.05
        n=$((n + 1))
    done
    for p in $(runners "$2"); do
        echo "cluster.sh: pod runner $p still ran 10 s after its node agent; killing it" >&2
        kill -KILL "$p" 2>/dev/null || true
    done
    # Whatever escaped (the controllers were SIGKILLed, a pod_runner hung): kill it through the
    # cluster's cgroups, which are then removed.
    "$kube/pod_runner" --cleanup "morphling-kube-n$2" >/dev/null || true
    stop_pid "$(cat "$1/apiserver.pid" 2>/dev/null || true)" 10
    rm -f "$1/env" "$1/controllers.ready" "$1/starting"
}

# release_net DIR NET: gives the address block back.
release_net() {
    if [ "$(cat "$nets/$2/dir" 2>/dev/null)" = "$1" ]; then rm -rf "${nets:?}/$2"; fi
    rm -f "$1/stopping"
}

stop() {
    dir=$(cd "$1" 2>/dev/null && pwd) || die "no cluster in '$1'"
    net=$(cat "$dir/net" 2>/dev/null || true)
    [ -n "$net" ] || die "no cluster in '$dir' (no net file)"
    teardown "$dir" "$net"
    left=$(leftovers "$net" "$dir")
    release_net "$dir" "$net"
    if [ -n "$left" ]; then
        echo "cluster.sh: left behind after stop:" >&2
        echo "$left" >&2
        exit 1
    fi
    echo "cluster.sh: stopped ($dir)"
}

case "${1:-}" in
start)
    [ $# -ge 2 ] || die "usage: cluster.sh start DIR [--nodes FILE] [--no-metrics] [--crash-backoff S] [--strict]"
    shift
    start "$@"
    ;;
stop)
    [ $# -eq 2 ] || die "usage: cluster.sh stop DIR"
    stop "$2"
    ;;
*)
    echo "usage: cluster.sh start DIR [--nodes FILE] [--no-metrics] [--crash-backoff S] [--strict]" >&2
    echo "       cluster.sh stop DIR" >&2
    exit 2
    ;;
esac
