# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the test cluster's shell tests (sourced): start/stop the fake API server in a
# temporary folder, TAP-like ok/not ok lines, and a `wait_for` that polls a condition.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
# The build copies the sources next to node_modules; from the source tree, `npm ci` there first.
KUBE_DIR=${MP_KUBE_DIR:-$(dirname "$HERE")}
WORK=$(mktemp -d /tmp/mp-kube.XXXXXX)
APISERVER_PID=

cleanup() {
    if [ -n "$APISERVER_PID" ]; then
        kill "$APISERVER_PID" 2>/dev/null
        wait "$APISERVER_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

. "$(dirname "$HERE")/../integration/tap.sh"

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds.
wait_for() {
    limit=$(($1 * 10))
    shift
    i=0
    while [ "$i" -lt "$limit" ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# start_apiserver [ARGS...]: starts the server on $WORK/cluster; sets KUBECONFIG, API, TOKEN.
start_apiserver() {
    node "$KUBE_DIR/apiserver/main.mjs" --dir "$WORK/cluster" "$@" >"$WORK/apiserver.log" 2>&1 &
    APISERVER_PID=$!
    if ! wait_for 120 test -f "$WORK/cluster/apiserver.ready"; then
        echo "not ok - the API server did not start:"
        cat "$WORK/apiserver.log"
        exit 1
    fi
    export KUBECONFIG="$WORK/cluster/kubeconfig"
    API=$(cat "$WORK/cluster/apiserver.ready")
    TOKEN=$(head -1 "$WORK/cluster/tokens.csv" | cut -d, -f1)
    CA="$WORK/cluster/pki/ca.crt"
}

# watching: true once the server has an open watch (e.g. kubectl wait has started watching).
watching() {
    api GET /_test/stats | grep -q '"watches":[1-9]'
}

# api METHOD PATH [JSON]: an admin request with curl; prints the body.
api() {
    if [ $# -ge 3 ]; then
        curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X "$1" \
            -H 'Content-Type: application/json' --data "$3" "$API$2"
    else
        curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X "$1" "$API$2"
    fi
}
