#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What a pod sees, as in a real cluster: volumes (configMap with items, secret, emptyDir shared by
# two containers, downwardAPI, the projected service-account token that reaches the API server
# in-cluster through KUBERNETES_SERVICE_HOST and through kubernetes.default.svc), read-only
# mounts, env from fieldRef / resourceFieldRef / configMapKeyRef and $(VAR) in args, init
# containers run first and in order, its hostname, cluster DNS names and hostAliases in
# /etc/hosts, and a missing ConfigMap as CreateContainerConfigError / FailedMount.
. "$(dirname "$0")/lib.sh"

cluster_up
k create namespace other >/dev/null
k apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: faraway, namespace: other}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {a.txt: hello, mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: sec}
stringData: {pw: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: seer, labels: {team: blue}}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 127.1.2.3, hostnames: [db.example]}]
  volumes:
  - {name: cfg, configMap: {name: cfg, items: [{key: a.txt, path: sub/a}]}}
  - {name: sec, secret: {secretName: sec}}
  - {name: shared, emptyDir: {}}
  - {name: info, downwardAPI: {items: [{path: team, fieldRef: {fieldPath: "metadata.labels['team']"}}]}}
  initContainers:
  - name: first
    image: debian:12
    command: [sh, -c, 'echo first >>/shared/order']
    volumeMounts: [{name: shared, mountPath: /shared}]
  - name: second
    image: debian:12
    command: [sh, -c, 'echo second >>/shared/order']
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: main
    image: debian:12
    resources: {limits: {memory: 256Mi, cpu: 500m}}
    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: MEM_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: MODE, valueFrom: {configMapKeyRef: {name: cfg, key: mode}}}
    command: [sh, -c]
    args:
    - |
      sa=/var/run/secrets/kubernetes.io/serviceaccount
      echo "env $(POD_NAME) $MEM_MI $MODE"
      echo "files $(cat /cfg/sub/a) $(cat /sec/pw) $(cat /info/team) $(cat $sa/namespace)"
      echo "order $(cat /shared/order | tr '\n' ' ')"
      echo "hostname $(hostname)"
      echo "ip $POD_IP $(getent hosts seer | cut -d' ' -f1)"
      echo "dns $(getent hosts faraway.other.svc.cluster.local | cut -d' ' -f1) $(getent hosts db.example | cut -d' ' -f1)"
      code() { curl -s -o /dev/null -w '%{http_code}' --cacert $sa/ca.crt "$@"; }
      echo "api $(code -H "Authorization: Bearer $(cat $sa/token)" https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/default/pods) $(code https://kubernetes.default.svc/readyz)"
      touch /cfg/x 2>/dev/null && echo "cfg writable" || echo "cfg read-only"
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec}
    - {name: shared, mountPath: /shared}
    - {name: info, mountPath: /info}
EOF
wait_until "the pod succeeds" 120 jp_is pod/seer '{.status.phase}' Succeeded
check "init containers completed" "Completed Completed" \
    "$(jp pod/seer '{.status.initContainerStatuses[*].state.terminated.reason}')"
log=$(k logs seer -c main)
ip=$(jp pod/seer '{.status.podIP}')
faraway=$(jp svc/faraway '{.spec.clusterIP}' -n other)
check_contains "a Service in another namespace has a ClusterIP" "127.$KUBE_NET." "$faraway"
check_contains "env from fieldRef, resourceFieldRef, configMapKeyRef; \$(VAR) in args" "env seer 256 fast" "$log"
check_contains "configMap items, secret, downwardAPI, projected namespace" "files hello s3cret blue default" "$log"
check_contains "init containers ran in order on the shared emptyDir" "order first second" "$log"
check_contains "the pod's hostname" "hostname seer" "$log"
check_contains "the pod's own address, also by its hostname" "ip $ip $ip" "$log"
check_contains "a Service of another namespace by its full name; hostAliases" "dns $faraway 127.1.2.3" "$log"
check_contains "the service-account token works in-cluster, directly and through kubernetes.default.svc" "api 200 200" "$log"
check_contains "configMap volumes are read-only" "cfg read-only" "$log"

k run needs-config --image=debian:12 --restart=Never --overrides='{"spec":{"containers":[{"name":"c","image":"debian:12","command":["true"],"env":[{"name":"X","valueFrom":{"configMapKeyRef":{"name":"absent","key":"k"}}}]}]}}' >/dev/null
wait_until "a missing ConfigMap key source: CreateContainerConfigError" 60 \
    jp_is pod/needs-config '{.status.containerStatuses[0].state.waiting.reason}' CreateContainerConfigError
check "its message" 'configmap "absent" not found' "$(jp pod/needs-config '{.status.containerStatuses[0].state.waiting.message}')"
k run needs-volume --image=debian:12 --restart=Never --overrides='{"spec":{"volumes":[{"name":"v","configMap":{"name":"absent"}}],"containers":[{"name":"c","image":"debian:12","command":["true"],"volumeMounts":[{"name":"v","mountPath":"/v"}]}]}}' >/dev/null
wait_until "a missing ConfigMap volume: FailedMount" 60 sh -c \
    "'$KUBECTL' get events --field-selector involvedObject.name=needs-volume,reason=FailedMount -o name | grep -q ."
check_contains "its message" 'MountVolume.SetUp failed for volume "v" : configmap "absent" not found' \
    "$(k get events --field-selector involvedObject.name=needs-volume,reason=FailedMount -o jsonpath='{.items[0].message}')"
check "the pod waits in ContainerCreating" ContainerCreating \
    "$(jp pod/needs-volume '{.status.containerStatuses[0].state.waiting.reason}')"
k create configmap absent --from-literal=k=v >/dev/null
wait_until "once the ConfigMap exists, both pods run to completion" 120 sh -c \
    "[ \"\$('$KUBECTL' get pods needs-config needs-volume -o jsonpath='{.items[*].status.phase}')\" = 'Succeeded Succeeded' ]"
finish_cluster
