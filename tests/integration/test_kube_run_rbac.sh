#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The RBAC rules docs/kubernetes.md gives the runner are enough: with the API server authorizing
# by RBAC, a user bound to exactly those rules in one namespace (plus `get` on namespaces) runs
# the example to SUCCEEDED. A refusal (403) is a problem of the run, never a verdict on a
# configuration: a user without any rule stops before the experiment exists; without `create` on
# jobs the run stops at the refusal with the trial left to run again, and resumes once allowed;
# without `delete` on configmaps the run stops at the first teardown, keeps the measurement and
# names what it left behind; without the optional `delete` on pods a relabelled pod stays, said
# in the trial's meta. An exec plugin that can no longer give credentials mid-run stops
# the run the same way.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
k create namespace trials >/dev/null
# The rules of docs/kubernetes.md, "RBAC the runner needs" ($1: the verbs on jobs, $2 on
# configmaps, $3 the optional ones on pods).
rules() {
    cat <<RULES
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: morphling-runner, namespace: trials}
rules:
  - apiGroups: [""]
    resources: [configmaps]
    verbs: [${2:-get, list, watch, create, delete}]
  - apiGroups: [""]
    resources: [configmaps/finalizers]
    verbs: [update]
  - apiGroups: [""]
    resources: [services]
    verbs: [get, watch, create]
  - apiGroups: [apps]
    resources: [deployments]
    verbs: [get, watch, create]
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [$1]
  - apiGroups: [""]
    resources: [pods]
    verbs: [list, watch]
  - apiGroups: [metrics.k8s.io]
    resources: [pods]
    verbs: [list]
  - apiGroups: [""]
    resources: [pods]
    verbs: [${3:-delete}]
  - apiGroups: [""]
    resources: [pods/log]
    verbs: [get]
  - apiGroups: [""]
    resources: [events]
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
token=$(api /_test/tokens -X POST -d '{"user": "runner", "groups": []}' | jq -r .token)
cp "$KUBECONFIG" "$WORK/kc"
k --kubeconfig "$WORK/kc" config set-credentials runner --token="$token" >/dev/null
k --kubeconfig "$WORK/kc" config set-context runner --cluster=morphling-test --user=runner \
    --namespace=trials >/dev/null
api /_test/policy -X PUT -d '{"mode": "RBAC", "deny": []}' >/dev/null
check "the API server authorizes by RBAC" RBAC "$(api /_test/policy | jq -r .mode)"
RUN_SETS="--set runner.kubeconfig=$WORK/kc --set runner.context=runner --set runner.namespace=trials"
# No rule at all: the run stops before any trial with the refusal, and the experiment is not
# decided (the same command runs it once the rules exist).
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS $RUN_SETS --set algorithm.max_trials=1 -q >"$WORK/out" 2>&1
check "without any rule: exit 1" 1 "$?"
check_contains "... with the API server's refusal" \
    "configmaps is forbidden: User \"runner\" cannot list resource \"configmaps\"" "$(cat "$WORK/out")"
check_contains "... before the experiment is even stored" "no experiment 'fmnist-k8s'" \
    "$("$MORPHLING" show fmnist-k8s 2>&1)"
api /_test/requests -X DELETE >/dev/null
rules "get, watch, create" | k apply -f - >/dev/null
check "the rules apply" 0 "$?"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS $RUN_SETS --set algorithm.max_trials=1 -q >"$WORK/out" 2>&1
check "the documented rules are enough: exit 0" 0 "$?"
check "the trial SUCCEEDED" SUCCEEDED "$("$MORPHLING" show fmnist-k8s --json | jq -r '.trials[0].state')"
check "nothing was refused" 0 \
    "$(api '/_test/requests?user=runner' | jq '[.items[] | select(.code == 403)] | length')"
rules "get, watch" | k apply -f - >/dev/null
api /_test/requests -X DELETE >/dev/null
NOJOBS="$EX_SETS $RUN_SETS --set algorithm.max_trials=1 --set name=nojobs"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $NOJOBS -q >"$WORK/out" 2>&1
check "without create on jobs: the run stops, exit 1" 1 "$?"
check_contains "... with the API server's refusal" \
    "jobs.batch is forbidden: User \"runner\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"trials\"" \
    "$(cat "$WORK/out")"
check "... the trial is no verdict: it stays to run again, the experiment INTERRUPTED" \
    "RUNNING INTERRUPTED" \
    "$("$MORPHLING" show nojobs --json | jq -r '"\(.trials[0].state) \(.state)"')"
check "... one attempt, not retried" 1 \
    "$(api '/_test/requests?user=runner' | jq '[.items[] | select(.verb == "create" and (.path | endswith("/jobs")))] | length')"
check "no object left" "" "$(leftover_objects fmnist-k8s; leftover_objects nojobs)"
rules "get, watch, create" | k apply -f - >/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $NOJOBS -q >"$WORK/out" 2>&1
check "allowed, the same command continues: exit 0" 0 "$?"
check "... the trial SUCCEEDED at its next attempt" "SUCCEEDED 1" \
    "$("$MORPHLING" show nojobs --json | jq -r '.trials[0] | "\(.state) \(.attempt)"')"
# Without the optional delete on pods, a service pod relabelled off the Deployment's selector
# (released by its ReplicaSet, replaced) stays after the teardown: the trial and the run go on,
# and the trial's meta says what is left and how to delete it.
rules "get, watch, create" "" get | k apply -f - >/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS $RUN_SETS --set algorithm.max_trials=1 --set name=relabel \
    --set 'runner.pod_template.spec.containers[0].readinessProbe.initialDelaySeconds=8' \
    -q >"$WORK/out" 2>&1 &
pid=$!
n=0
until pod=$(k get pods -n trials -l morphling.kubedl.io/experiment=relabel,morphling.kubedl.io/role=service \
    -o name 2>/dev/null) && [ -n "$pod" ] || [ "$n" -gt 600 ]; do
    sleep 0.1
    n=$((n + 1))
done
k label -n trials "$pod" morphling.kubedl.io/role- >/dev/null
wait $pid
check "without delete on pods, a relabelled pod: exit 0" 0 "$?"
check "... the trial SUCCEEDED" "SUCCEEDED 0" \
    "$("$MORPHLING" show relabel --json | jq -r '.trials[0] | "\(.state) \(.attempt)"')"
check_contains "... its meta names the pod left and the command" \
    "released by its ReplicaSet, not deleted: " \
    "$("$MORPHLING" show relabel --json | jq -r '.trials[0].meta.left')"
check "... the pod is left" "$pod" "$(k get -n trials "$pod" -o name)"
k delete -n trials "$pod" >/dev/null
rules "get, watch, create" | k apply -f - >/dev/null
# Without delete on configmaps the teardown is refused: the measurement stands, the run stops
# at once (no second attempt making more objects) and names what it left.
rules "get, watch, create" "get, list, watch, create" | k apply -f - >/dev/null
NODEL="$EX_SETS $RUN_SETS --set name=nodelete"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $NODEL -q >"$WORK/out" 2>&1
check "without delete on configmaps: exit 1" 1 "$?"
check "... the measured trial SUCCEEDED, the experiment INTERRUPTED" "SUCCEEDED INTERRUPTED" \
    "$("$MORPHLING" show nodelete --json | jq -r '"\(.trials[0].state) \(.state)"')"
check "... no second trial started" 1 "$("$MORPHLING" show nodelete --json | jq '.trials | length')"
check_contains "... the error names the refusal" \
    "configmaps \"nodelete-t1-a0\" is forbidden: User \"runner\" cannot delete resource" "$(cat "$WORK/out")"
check_contains "... and what is left" \
    "left in namespace \"trials\": configmaps/nodelete-t1-a0, deployments/nodelete-t1-a0, services/nodelete-t1-a0, jobs/nodelete-t1-a0-load" \
    "$(cat "$WORK/out")"
check "... one Deployment in the cluster" "deployment.apps/nodelete-t1-a0" \
    "$(k -n trials get deployments -l morphling.kubedl.io/experiment=nodelete -o name)"
rules "get, watch, create" | k apply -f - >/dev/null
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $NODEL -q >"$WORK/out" 2>&1
check "allowed, the same command continues: exit 0" 0 "$?"
check "... both trials SUCCEEDED" "SUCCEEDED SUCCEEDED" \
    "$("$MORPHLING" show nodelete --json | jq -r '[.trials[].state] | join(" ")')"
check "no object left" "" "$(leftover_objects nodelete)"
api /_test/policy -X PUT -d '{"mode": "AlwaysAllow", "deny": []}' >/dev/null
# Credentials that cannot be renewed mid-run (an exec plugin whose SSO session expired) stop the
# run as a 401 does: the trial is no verdict and the run names what it could not delete. Every
# trial failed INFRA before (three attempts each, the experiment FAILED, nothing to resume),
# and the first attempt's objects stayed without a word.
cat >"$WORK/plugin.sh" <<PLUGIN
#!/bin/sh
if [ -e "$WORK/expired" ]; then echo "the SSO session expired" >&2; exit 1; fi
exec sh "$CLUSTER/exec-credential.sh"
PLUGIN
sed "s|$CLUSTER/exec-credential.sh|$WORK/plugin.sh|" "$KUBECONFIG" >"$WORK/kc-exec"
EXPIRING="$EX_SETS --set algorithm.max_trials=1 --set name=expiring --set runner.context=exec
    --set runner.kubeconfig=$WORK/kc-exec
    --set runner.pod_template.spec.containers[0].readinessProbe.initialDelaySeconds=4"
# shellcheck disable=SC2086
MORPHLING_EXEC_TTL=2 "$MORPHLING" run "$EXAMPLE" $EXPIRING -q >"$WORK/out" 2>&1 &
pid=$!
wait_object deployment expiring-t1-a0
touch "$WORK/expired"
wait $pid
check "an exec plugin failing mid-run: the run stops, exit 1" 1 "$?"
check "... the trial is no verdict: it stays to run again, the experiment INTERRUPTED" \
    "RUNNING INTERRUPTED" \
    "$("$MORPHLING" show expiring --json | jq -r '"\(.trials[0].state) \(.state)"')"
check_contains "... with the plugin's message" "exited with status 1: the SSO session expired" \
    "$(cat "$WORK/out")"
check_contains "... and what is left" "left in namespace \"default\": configmaps/expiring-t1-a0" \
    "$(cat "$WORK/out")"
rm "$WORK/expired"
# shellcheck disable=SC2086
MORPHLING_EXEC_TTL=2 "$MORPHLING" run "$EXAMPLE" $EXPIRING -q >"$WORK/out" 2>&1
check "renewed, the same command continues: exit 0" 0 "$?"
check "... the trial SUCCEEDED at its next attempt" "SUCCEEDED 1" \
    "$("$MORPHLING" show expiring --json | jq -r '.trials[0] | "\(.state) \(.attempt)"')"
check "no object left" "" "$(leftover_objects expiring)"
check "no process is left in the cluster's pods" 0 "$(pod_processes)"
cluster_down
finish
