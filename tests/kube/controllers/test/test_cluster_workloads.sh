#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Workload controllers beyond the basics: a rolling update (new ReplicaSet, old one scaled to
# zero, revision annotations), the Recreate strategy, scaling, ReplicaFailure when the API server
# refuses the controllers' pod creates (and recovery), and Jobs with completions/parallelism and
# activeDeadlineSeconds.
. "$(dirname "$0")/lib.sh"

cluster_up
hook() {
    curl -sf --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X "$1" "$KUBE_API_URL/_test/$2" ${3:+-d "$3"} >/dev/null
}
deploy() { # NAME STRATEGY SERVICE-TIME-US
    k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $1}
spec:
  replicas: 2
  strategy: {type: $2}
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: c
        image: morphling/fake-service:test
        args: [--port, "8080", --service-us, "$3"]
        readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOF
}
rollout() {
    if k rollout status "deploy/$1" --timeout=180s >/dev/null; then ok "$2"; else not_ok "$2"; fi
}

deploy web RollingUpdate 1000
rollout web "first rollout"
first_rs=$(jp rs '{.items[0].metadata.name}' -l app=web)
deploy web RollingUpdate 2000
rollout web "rolling update completes"
check "two ReplicaSets, the old one at zero" 2 "$(jp rs '{.items[*].metadata.name}' -l app=web | wc -w)"
check "old ReplicaSet scaled down" 0 "$(jp "rs/$first_rs" '{.spec.replicas}')"
check "revision 2" 2 "$(jp deploy/web '{.metadata.annotations.deployment\.kubernetes\.io/revision}')"
check "all pods run the new template" "2000 2000" \
    "$(jp pods '{range .items[?(@.status.phase=="Running")]}{.spec.containers[0].args[3]} {end}' -l app=web | sed 's/ $//')"
k scale deploy/web --replicas=3 >/dev/null
rollout web "scale to 3"
check "three ready" 3 "$(jp deploy/web '{.status.readyReplicas}')"

deploy once Recreate 1000
rollout once "Recreate: first rollout"
deploy once Recreate 3000
rollout once "Recreate: second rollout"
check "Recreate: only new pods" "3000 3000" \
    "$(jp pods '{range .items[*]}{.spec.containers[0].args[3]} {end}' -l app=once | sed 's/ $//')"

# The API server refuses the controllers' pod creates: the ReplicaSet and the Deployment say why.
hook PUT policy '{"deny":[{"user":"system:kube-controller-manager","verb":"create","resource":"pods"}]}' &&
    ok "deny pod creates" || not_ok "policy hook"
k scale deploy/web --replicas=4 >/dev/null
wait_until "ReplicaFailure on the Deployment" 120 jp_is deploy/web \
    '{.status.conditions[?(@.type=="ReplicaFailure")].reason}' FailedCreate
check_contains "with the API server's message" 'pods is forbidden: User "system:kube-controller-manager" cannot create resource "pods"' \
    "$(jp deploy/web '{.status.conditions[?(@.type=="ReplicaFailure")].message}')"
hook PUT policy '{"deny":[]}' && ok "allow again" || not_ok "policy hook"
rollout web "recovers once creates are allowed"
check "ReplicaFailure gone" "" "$(jp deploy/web '{.status.conditions[?(@.type=="ReplicaFailure")].reason}')"

k apply -f - >/dev/null <<'EOF'
apiVersion: batch/v1
kind: Job
metadata: {name: three}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: debian:12, command: [sh, -c, 'echo done']}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: slow}
spec:
  activeDeadlineSeconds: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: debian:12, command: [sleep, "600"]}]
EOF
if k wait --for=condition=complete job/three --timeout=180s >/dev/null; then ok "Job with 3 completions"; else not_ok "Job three"; fi
check "three pods succeeded" "3" "$(jp job/three '{.status.succeeded}')"
if k wait --for=condition=failed job/slow --timeout=120s >/dev/null; then ok "a Job past its deadline fails"; else not_ok "Job slow"; fi
check "DeadlineExceeded" DeadlineExceeded "$(jp job/slow '{.status.conditions[?(@.type=="Failed")].reason}')"
wait_until "... and its pod is deleted" 120 sh -c "[ -z \"\$('$KUBECTL' get pods -l job-name=slow -o name)\" ]"
finish_cluster
