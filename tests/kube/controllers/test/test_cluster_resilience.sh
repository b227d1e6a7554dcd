#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The controllers survive what the API server's fault hooks do (a restart, dropped watches,
# injected 500s and 429s on their writes) and keep reconciling; and when the controllers process
# itself is SIGKILLed while pods run (with process trees that fork and escape with setsid),
# cluster.sh stop still leaves no process, cgroup or mount behind.
. "$(dirname "$0")/lib.sh"

cluster_up
hook() {
    curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X "$1" "$KUBE_API_URL/_test/$2" ${3:+-d "$3"} >/dev/null
}
deploy() {
    k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: $2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers:
      - name: c
        image: morphling/fake-service:test
        args: [--port, "8080", --mode, $3]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOF
}

deploy before 1 healthy
wait_until "a Deployment before the faults gets ready" 120 jp_is deploy/before '{.status.readyReplicas}' 1
# The restart comes 50 ms after its answer: /readyz alone could still be the old process's, and
# the hooks below then went to a server that was going away (they failed, and the faults were
# never set: seen twice in a row on a busy machine). Back means another process answers.
api_get() {
    curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_API_URL$1"
}
old_pid=$(curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' -X POST "$KUBE_API_URL/_test/restart" | jq -r .details.pid)
[ -n "$old_pid" ] && ok "API server restart requested" || not_ok "restart hook"
new_server() {
    lib_pid=$(api_get /_test/stats | jq -r .pid) && [ -n "$lib_pid" ] && [ "$lib_pid" != "$old_pid" ] &&
        api_get /readyz >/dev/null
}
wait_until "the API server is back (another process)" 60 new_server
hook POST drop-watches '{"mode":"reset"}' && ok "watches dropped" || not_ok "drop-watches hook"
hook POST faults '{"code":500,"count":3,"verb":"write","user":"system:kube-controller-manager","retryAfter":1}' &&
    ok "500s injected on the controllers' writes" || not_ok "faults hook"
hook POST faults '{"code":429,"count":2,"verb":"create","resource":"pods","user":"system:kube-controller-manager"}' &&
    ok "429s injected on pod creates" || not_ok "faults hook"
deploy trees 2 fork-tree
k run escaper --image=morphling/fake-service:test -- --port 8080 --mode setsid >/dev/null
wait_until "a Deployment made after the faults gets ready" 180 jp_is deploy/trees '{.status.readyReplicas}' 2
wait_until "the escaping pod runs" 120 jp_is pod/escaper '{.status.phase}' Running
check "exactly two pods for two replicas (no duplicate create after the faults)" 2 \
    "$(jp pods '{.items[*].metadata.name}' -l app=trees | wc -w)"
k scale deploy/before --replicas=0 >/dev/null
wait_until "scaling to zero removes the pod" 120 sh -c "[ -z \"\$('$KUBECTL' get pods -l app=before -o name)\" ]"

# Every pod process sits in the cluster's cgroups; the pods' mount namespaces exist.
n=$(pod_pids | wc -l)
if [ "$n" -ge 8 ]; then ok "$n pod processes (trees and an escaped child)"; else not_ok "only $n pod processes"; fi
check "mounts exist while pods run" yes \
    "$(grep -qs " $CLUSTER/pods/" /proc/[0-9]*/mountinfo && echo yes)"
kill -KILL "$KUBE_CONTROLLERS_PID"
wait_until "pods die with the controllers" 60 sh -c "[ -z \"\$(grep -ls '/morphling-kube-n$KUBE_NET/' /proc/[0-9]*/cgroup 2>/dev/null)\" ]"
finish_cluster
