#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The RBAC rules docs/kubernetes.md gives the runner are enough: with the API server authorizing
# by RBAC, a user bound to exactly those rules in one namespace (plus `get` on namespaces) runs
# the example to SUCCEEDED; without `create` on jobs the trial fails with the API server's
# refusal in its reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
k create namespace trials >/dev/null
# The rules of docs/kubernetes.md, "RBAC the runner needs" ($1: the verbs on jobs).
rules() {
    cat <<RULES
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: morphling-runner, namespace: trials}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [get, list, watch, create, delete]
  - apiGroups: [""]
    resources: [configmaps/finalizers]
    verbs: [update]
  - apiGroups: [""]
    resources: [services]
    verbs: [get, create]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, create]
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [$1]
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, watch]
  - apiGroups: [metrics.k8s.io]
    resources: [pods]
    verbs: [list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: morphling-runner, namespace: trials}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: morphling-runner}
subjects: [{kind: User, name: runner, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: morphling-runner-namespaces}
rules: [{apiGroups: [""], resources: [namespaces], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: morphling-runner-namespaces}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: morphling-runner-namespaces}
subjects: [{kind: User, name: runner, apiGroup: rbac.authorization.k8s.io}]
RULES
}
rules "get, create" | k apply -f - >/dev/null
check "the rules apply" 0 "$?"
token=$(api /_test/tokens -X POST -d '{"user": "runner", "groups": []}' | jq -r .token)
cp "$KUBECONFIG" "$WORK/kc"
k --kubeconfig "$WORK/kc" config set-credentials runner --token="$token" >/dev/null
k --kubeconfig "$WORK/kc" config set-context runner --cluster=morphling-test --user=runner \
    --namespace=trials >/dev/null
api /_test/policy -X PUT -d '{"mode": "RBAC", "deny": []}' >/dev/null
check "the API server authorizes by RBAC" RBAC "$(api /_test/policy | jq -r .mode)"
RUN_SETS="--set runner.kubeconfig=$WORK/kc --set runner.context=runner --set runner.namespace=trials"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS $RUN_SETS --set algorithm.max_trials=1 -q >"$WORK/out" 2>&1
check "the documented rules are enough: exit 0" 0 "$?"
check "the trial SUCCEEDED" SUCCEEDED "$("$MORPHLING" show fmnist-k8s --json | jq -r '.trials[0].state')"
check "nothing was refused" 0 \
    "$(api '/_test/requests?user=runner' | jq '[.items[] | select(.code == 403)] | length')"
rules "get" | k apply -f - >/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS $RUN_SETS --set algorithm.max_trials=1 --set name=nojobs \
    -q >"$WORK/out" 2>&1
check "without create on jobs: FAILED INFRA" "FAILED INFRA" \
    "$("$MORPHLING" show nojobs --json | jq -r '.trials[0] | "\(.state) \(.failure)"')"
check_contains "... with the API server's refusal" \
    "jobs.batch is forbidden: User \"runner\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"trials\"" \
    "$("$MORPHLING" show nojobs --json | jq -r '.trials[0].reason')"
check "no object left" "" "$(leftover_objects fmnist-k8s; leftover_objects nojobs)"
api /_test/policy -X PUT -d '{"mode": "AlwaysAllow", "deny": []}' >/dev/null
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
