#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes client (src/kube) against the test cluster's fake API server, with each context
# of the kubeconfig the server writes (token, client certificate, exec plugin, insecure): the
# verbs, injected faults (429, 500, 503, 409, a denied create), a reflector across dropped
# watches, a compaction (410), a bookmark and a restart of the server, and an exec token's expiry;
# tls-server-name (the name the certificate is checked against), as kubectl reads it.
. "$(dirname "$0")/lib.sh"
CHECKER="$MP_HELPERS/kube_client_check"
# The build copies the test cluster next to its node_modules (tests/kube/CMakeLists.txt); from a
# source tree, `npm ci` in tests/kube works too.
KUBE_DIR=${MP_KUBE_DIR:-${MP_BUILD_DIR:-}/kube}
if [ ! -f "$KUBE_DIR/apiserver/main.mjs" ] || [ ! -d "$KUBE_DIR/node_modules" ]; then
    KUBE_DIR="$MP_SOURCE_DIR/tests/kube"
fi
if ! command -v node >/dev/null 2>&1 || [ ! -f "$KUBE_DIR/apiserver/main.mjs" ] ||
    [ ! -d "$KUBE_DIR/node_modules" ]; then
    echo "SKIP: the test cluster is not built (node, $KUBE_DIR/apiserver, node_modules)"
    exit 77
fi

DIR="$WORK/cluster"
# No periodic bookmarks: the watch check sends them on demand, so a compaction reliably leaves
# the reflector's resourceVersion behind.
node "$KUBE_DIR/apiserver/main.mjs" --dir "$DIR" --bookmark-interval-ms 3600000 \
    >"$WORK/apiserver.log" 2>&1 &
APISERVER=$!
trap 'kill "$APISERVER" 2>/dev/null; wait "$APISERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
tries=0
while [ ! -f "$DIR/apiserver.ready" ]; do
    if ! kill -0 "$APISERVER" 2>/dev/null || [ "$tries" -ge 1200 ]; then
        echo "the API server did not start:"
        cat "$WORK/apiserver.log"
        exit 1
    fi
    tries=$((tries + 1))
    sleep 0.1
done

run="r$$"
checker() {
    "$CHECKER" --kubeconfig "$DIR/kubeconfig" --run "$run" "$@" 2>&1
}
for ctx in token cert exec insecure; do
    check "verbs with the $ctx context" "ok: $ctx crud" "$(checker --context "$ctx" crud)"
done
check "injected faults" "ok: token faults" "$(checker --context token faults)"
check "reflector across drops, a 410, a bookmark and a restart" "ok: token watch" \
    "$(checker --context token watch)"
check "exec token refreshed at its expiry" "ok: exec expiry" \
    "$(MORPHLING_EXEC_TTL=3 checker --context exec expiry)"
# tls-server-name: the server's certificate is for 127.0.0.1 and kubernetes.default.svc, not for
# wrong.example; the same file with kubectl (when there is one) shows that it reads it alike.
. "$DIR/apiserver.env"
cat >"$WORK/sni.yaml" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: good
  cluster: {server: "$KUBE_API_URL", certificate-authority: "$KUBE_CA",
            tls-server-name: kubernetes.default.svc}
- name: bad
  cluster: {server: "$KUBE_API_URL", certificate-authority: "$KUBE_CA", tls-server-name: wrong.example}
users:
- name: admin
  user: {token: "$KUBE_ADMIN_TOKEN"}
contexts:
- name: good
  context: {cluster: good, user: admin}
- name: bad
  context: {cluster: bad, user: admin}
current-context: good
EOF
sni() {
    "$CHECKER" --kubeconfig "$WORK/sni.yaml" --run "s$$" "$@" 2>&1
}
check "tls-server-name: a name the certificate holds" "ok: good crud" "$(sni --context good crud)"
check_contains "tls-server-name: another name is refused" \
    "matches target host name 'wrong.example' (check the certificate-authority, tls-server-name" \
    "$(sni --context bad crud)"
for kubectl in "$(command -v kubectl || true)" "${MP_KUBECTL_120:-}"; do
    [ -x "$kubectl" ] || continue
    check "$kubectl reads it alike" "namespace/default" \
        "$("$kubectl" --kubeconfig "$WORK/sni.yaml" --context good get ns default -o name 2>&1)"
    "$kubectl" --kubeconfig "$WORK/sni.yaml" --context bad get ns default >/dev/null 2>&1
    check "$kubectl refuses the other name" 1 "$?"
done
[ "$FAILED" -eq 0 ] || tail -20 "$WORK/apiserver.log"
finish
