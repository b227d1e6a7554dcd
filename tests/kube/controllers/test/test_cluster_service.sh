#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A Deployment of the example inference server becomes Ready (two pods, each on its own pod IP
# and the same port); its Service routes by DNS name (NAME.NS.svc) from a Job running
# `morphling load`, whose JSON result comes back as the pod's termination message; logs and
# metrics.k8s.io usage; deleting the Deployment with Foreground propagation removes its pods and
# their processes; cluster.sh stop leaves nothing behind.
. "$(dirname "$0")/lib.sh"
: "${MP_BUILD_DIR:?}"
payload=$MP_BUILD_DIR/examples/payloads/fmnist/test-00000-9.raw

cluster_up
k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: infer, labels: {app: infer}}
spec:
  replicas: 2
  selector: {matchLabels: {app: infer}}
  template:
    metadata: {labels: {app: infer}}
    spec:
      containers:
      - name: server
        image: morphling/inference-server:test
        args: [--workers, "1"]
        ports: [{name: http, containerPort: 8500}]
        resources: {limits: {cpu: "1", memory: 512Mi}}
        readinessProbe: {httpGet: {path: /healthz, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: infer}
spec:
  selector: {app: infer}
  ports: [{name: http, port: 80, targetPort: http}]
EOF
if k rollout status deploy/infer --timeout=240s >/dev/null; then ok "rollout completes"; else not_ok "rollout"; fi
check "two ready replicas" 2 "$(jp deploy/infer '{.status.readyReplicas}')"
check "Available" "True MinimumReplicasAvailable" \
    "$(jp deploy/infer '{.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].reason}')"
check "Progressing" "NewReplicaSetAvailable" "$(jp deploy/infer '{.status.conditions[?(@.type=="Progressing")].reason}')"
ips=$(jp pods '{range .items[*]}{.status.podIP}{"\n"}{end}' -l app=infer | sort)
check "two distinct pod IPs" 2 "$(echo "$ips" | sort -u | grep -c "^127\.$KUBE_NET\.")"
for ip in $ips; do
    check "pod $ip serves on its own address, port 8500" ok "$(curl -s "http://$ip:8500/healthz")"
done
check "endpoints list both pods" "$(echo "$ips" | tr '\n' ' ')" \
    "$(jp endpoints/infer '{range .subsets[*].addresses[*]}{.ip}{" "}{end}')"
svc_ip=$(jp svc/infer '{.spec.clusterIP}')
check_contains "the ClusterIP is in the cluster's service block" "127.$KUBE_NET." "$svc_ip"

# The load Job reaches the Service by its DNS name and returns its result as the termination
# message.
k apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: load}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: load
        image: morphling:test
        command: [sh, -c]
        args: ["morphling load http://infer.default.svc:80/v1/fmnist -m POST --body $payload -c 4 --rate 200 -d 2s --json >/dev/termination-log"]
EOF
if k wait --for=condition=complete job/load --timeout=240s >/dev/null; then ok "load Job completes"; else not_ok "load Job"; fi
msg=$(jp pods '{.items[0].status.containerStatuses[0].state.terminated.message}' -l job-name=load)
requests=$(printf '%s' "$msg" | jq -r '.requests' 2>/dev/null)
errors=$(printf '%s' "$msg" | jq -r '.errors.total' 2>/dev/null)
if [ -n "$requests" ] && [ "$requests" -gt 0 ] 2>/dev/null && [ "$errors" = 0 ]; then
    ok "termination message: $requests requests, 0 errors"
else
    not_ok "termination message: [$msg]"
fi
check "Job status" "1 Complete" "$(jp job/load '{.status.succeeded} {.status.conditions[?(@.status=="True")].type}' | sed 's/SuccessCriteriaMet //')"
for ip in $ips; do
    served=$(curl -s "http://$ip:8500/metrics" | sed -n 's/^inference_requests_total{model="fmnist",endpoint="infer",code="200"} //p')
    if [ "${served:-0}" -gt 0 ]; then ok "the Service sent requests to $ip ($served)"; else not_ok "no requests reached $ip"; fi
done

check_contains "kubectl logs" "listening on 127.$KUBE_NET." "$(k logs deploy/infer 2>/dev/null)"
usage=$(k get --raw "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods" |
    jq -r '[.items[] | select(.metadata.labels.app == "infer") | .containers[0].usage.memory | rtrimstr("Ki") | tonumber | select(. > 1024)] | length')
check "metrics.k8s.io: both pods use memory (cgroup counters)" 2 "$usage"

servers=$(for p in $(pod_pids); do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done | grep -c inference-server)
check "two inference-server processes in the cluster's cgroups" 2 "$servers"
if k delete deploy/infer --cascade=foreground --timeout=120s >/dev/null; then ok "foreground delete"; else not_ok "foreground delete"; fi
check "no pod left" "" "$(jp pods '{.items[*].metadata.name}' -l app=infer)"
check "no ReplicaSet left" "" "$(jp rs '{.items[*].metadata.name}' -l app=infer)"
servers=$(for p in $(pod_pids); do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done | grep -c inference-server)
check "no inference-server process left once the Deployment is gone" 0 "$servers"
finish_cluster
