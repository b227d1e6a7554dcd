#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The operator in the cluster, installed from deploy/ as docs/kubernetes.md says (`kubectl apply
# -k`, an overlay naming the image) on the test cluster with RBAC on: its pod (an emptyDir at
# /tmp, which held the test cluster's own files too when the cluster lives under /tmp) starts,
# passes its probes, takes its Lease with its ServiceAccount's in-cluster credentials and
# reconciles a ProfilingExperiment: conditions Created and Running, a Trial and the trial's
# Deployment. The overlay also binds the probes' and metrics' ports to the pod's address: the
# test cluster's pods share the machine's network (deploy/ binds 0.0.0.0 in the pod's own).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"
NS=morphling-system

cluster_up
api /_test/policy -X PUT -d '{"deny": [], "mode": "RBAC"}' >/dev/null || fail "RBAC mode"
mkdir "$WORK/overlay"
cat >"$WORK/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$WORK/overlay" "$MP_SOURCE_DIR/deploy")
images:
  - {name: morphling, newName: morphling, newTag: test}
patches:
  - target: {kind: Deployment, name: morphling-operator}
    patch: |
      - op: replace
        path: /spec/template/spec/containers/0/args
        value: [operator, --all-namespaces, --leader-elect, --health-addr, "\$(POD_IP):8081",
                --metrics-addr, "\$(POD_IP):8080"]
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value: {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
EOF
out=$(k apply -k "$WORK/overlay" 2>&1)
check_contains "kubectl apply -k: the operator's Deployment" \
    "deployment.apps/morphling-operator created" "$out"

ready() {
    [ "$(k get pods -n "$NS" -l app.kubernetes.io/name=morphling-operator \
        -o jsonpath='{.items[0].status.containerStatuses[0].ready}' 2>/dev/null)" = true ]
}
MP_WAIT_S=60 wait_for "the operator's pod is ready (its readiness probe)" ready && ok "the operator's pod is ready (its readiness probe)"
logs() {
    k logs -n "$NS" deploy/morphling-operator 2>&1
}
leading() {
    logs | grep -q "leading: holding the Lease $NS/morphling-operator"
}
MP_WAIT_S=30 wait_for "the operator takes its Lease" leading && ok "the operator takes its Lease"
check "... with no restart" 0 "$(k get pods -n "$NS" -l app.kubernetes.io/name=morphling-operator \
    -o jsonpath='{.items[0].status.containerStatuses[0].restartCount}')"

sed 's/maxNumTrials: 8/maxNumTrials: 1/' "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" |
    k apply -f - >/dev/null 2>&1 || fail "the ProfilingExperiment was refused"
PE=mobilenet-experiment-grid
conditions() {
    k get pe "$PE" -n "$NS" -o jsonpath='{.status.conditions[*].type}' 2>/dev/null
}
running() {
    case " $(conditions) " in *" Created Running "*) return 0 ;; esac
    return 1
}
MP_WAIT_S=60 wait_for "the operator marks the experiment Created, then Running" running && ok "the operator marks the experiment Created, then Running"
trial_deployment() {
    k get deploy -n "$NS" -o name 2>/dev/null | grep -q "^deployment.apps/$PE-t1-"
}
MP_WAIT_S=60 wait_for "the trial's Deployment is made" trial_deployment && ok "the trial's Deployment is made"
check "the experiment's Trial, owned by it" "$PE-1 ProfilingExperiment/$PE" \
    "$(k get trials -n "$NS" -o jsonpath='{.items[0].metadata.name} {.items[0].metadata.ownerReferences[0].kind}/{.items[0].metadata.ownerReferences[0].name}' 2>&1)"
check_contains "the operator's log: the experiment runs" "$NS/$PE: running" "$(logs)"
# An Event said again is counted on the one there (docs/kubernetes.md), also under deploy/'s
# RBAC: a Trial of an experiment's name that is not its own stops each retried run with the same
# NameInUse Event. The count stayed 1 and the log said "not recorded": the ClusterRole gave
# create, patch and list on events, and the operator reads and updates the one it counts on.
cat <<EOF | k apply -f - >/dev/null 2>&1 || fail "the orphan Trial was refused"
apiVersion: morphling.kubedl.io/v1alpha1
kind: Trial
metadata: {name: taken-1, namespace: $NS}
spec: {number: 1, attempt: 1}
EOF
sed -e 's/maxNumTrials: 8/maxNumTrials: 1/' -e 's/name: mobilenet-experiment-grid/name: taken/' \
    "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" | k apply -f - >/dev/null 2>&1 ||
    fail "the ProfilingExperiment taken was refused"
counted() {
    [ "$(k get events -n "$NS" --field-selector reason=NameInUse,involvedObject.name=taken \
        -o jsonpath='{.items[0].count}' 2>/dev/null)" -ge 2 ] 2>/dev/null
}
MP_WAIT_S=60 wait_for "the NameInUse Event is counted again" counted && ok "the NameInUse Event is counted again"
check "the operator's log: no Event went unrecorded" "" "$(logs | grep 'not recorded')"
[ "$FAILED" -eq 0 ] || logs
cluster_down
finish
