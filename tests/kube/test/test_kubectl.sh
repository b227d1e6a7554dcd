#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fidelity of the fake API server as kubectl 1.32 (the one on the PATH) sees it: apply (create,
# change and re-apply, server-side, kustomize), get (tables, -o yaml, jsonpath, watch), delete
# with each cascade mode, wait, a CRD's printer columns, auth can-i and 403s, the refusals a
# real API server gives, drain (policy/v1 pods/eviction; a PodDisruptionBudget that refuses it)
# and each kubeconfig context (token, cert, exec, insecure).
. "$(dirname "$0")/lib.sh"
KUBECTL=${KUBECTL:-kubectl}
D="$HERE/data"
# A discovery cache of this test's own: the default one ($HOME/.kube/cache) is keyed by host and
# port, and an earlier test cluster on the same port left resource lists this server lacks.
k() { "$KUBECTL" --cache-dir "$WORK/kube-cache" "$@" 2>&1; }

start_apiserver

out=$(k version -o json)
check_contains "version: server answers" '"gitVersion": "v1.32.0"' "$out"

# --- client-side apply: create, change, re-apply -------------------------------------------
check_contains "apply creates" "deployment.apps/web created" "$(k apply -f "$D/deployment.yaml")"
sed 's/replicas: 2/replicas: 3/; s/{name: THREADS, value: "2"}/{name: BATCH, value: "8"}/' \
    "$D/deployment.yaml" >"$WORK/deployment2.yaml"
check_contains "re-apply configures" "deployment.apps/web configured" "$(k apply -f "$WORK/deployment2.yaml")"
check "re-apply: replicas and env merged by name, removed entry gone" \
    '3 MODE=fast BATCH=8 ' \
    "$(k get deploy web -o jsonpath='{.spec.replicas} {range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}')"
check "re-apply: generation moved once per spec change" 2 \
    "$(k get deploy web -o jsonpath='{.metadata.generation}')"
check_contains "unchanged re-apply" "deployment.apps/web unchanged" "$(k apply -f "$WORK/deployment2.yaml")"
check "defaults filled in" "RollingUpdate 600 Always /dev/termination-log" \
    "$(k get deploy web -o jsonpath='{.spec.strategy.type} {.spec.progressDeadlineSeconds} {.spec.template.spec.restartPolicy} {.spec.template.spec.containers[0].terminationMessagePath}')"

# --- get: table, wide, yaml -----------------------------------------------------------------
out=$(k get deploy)
check_contains "get: deployment table header" "NAME   READY   UP-TO-DATE   AVAILABLE   AGE" "$out"
check_contains "get: deployment row" "web    0/3     0            0" "$out"
check_contains "get -o wide: selector column" "app=web" "$(k get deploy -o wide)"
out=$(k get deploy web -o yaml)
check_contains "get -o yaml: kind" "kind: Deployment" "$out"
check_contains "get -o yaml: last-applied annotation" "kubectl.kubernetes.io/last-applied-configuration" "$out"
check_contains "get -A: namespace column" "default     kubernetes" "$(k get svc -A)"
check "service got a ClusterIP" "127.100.0.1" "$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')"

# --- server-side apply --------------------------------------------------------------------
cat >"$WORK/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {tier: a}}
data: {rate: "10", mode: fast}
YAML
check_contains "apply --server-side creates" "configmap/settings serverside-applied" \
    "$(k apply --server-side -f "$WORK/cm.yaml")"
sed 's/mode: fast/mode: slow/' "$WORK/cm.yaml" >"$WORK/cm2.yaml"
k apply --server-side -f "$WORK/cm2.yaml" >/dev/null
check "apply --server-side updates" "slow" "$(k get cm settings -o jsonpath='{.data.mode}')"
sed 's/rate: "10", //' "$WORK/cm2.yaml" >"$WORK/cm3.yaml"
k apply --server-side -f "$WORK/cm3.yaml" >/dev/null
check "apply --server-side removes a field it no longer applies" "" \
    "$(k get cm settings -o jsonpath='{.data.rate}')"
out=$(k apply --server-side --field-manager=other -f "$WORK/cm.yaml")
check_contains "apply --server-side: conflict with the other manager" 'conflict with "kubectl"' "$out"
check_contains "apply --server-side: conflict names the field" ".data.mode" "$out"
k apply --server-side --field-manager=other --force-conflicts -f "$WORK/cm.yaml" >/dev/null
check "apply --server-side --force-conflicts takes the field" "fast" \
    "$(k get cm settings -o jsonpath='{.data.mode}')"
check_contains "managedFields kept" "manager: other" "$(k get cm settings -o yaml --show-managed-fields)"

# --- watch ---------------------------------------------------------------------------------
"$KUBECTL" get cm -w --output-watch-events >"$WORK/watch.out" 2>&1 &
WATCH=$!
wait_for 60 grep -q "settings" "$WORK/watch.out"
k create configmap watched --from-literal=a=b >/dev/null
k label configmap watched x=y >/dev/null
k delete configmap watched >/dev/null
wait_for 60 grep -q "DELETED" "$WORK/watch.out"
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
check "get -w: events of one object in order" "ADDED watched MODIFIED watched DELETED watched" \
    "$(grep watched "$WORK/watch.out" | awk '{printf "%s%s %s", (NR > 1 ? " " : ""), $1, $2}')"
check_contains "get -w: table header" "EVENT      NAME" "$(head -1 "$WORK/watch.out")"

# --- wait ----------------------------------------------------------------------------------
"$KUBECTL" wait --for=condition=Available deployment/web --timeout=120s >"$WORK/wait.out" 2>&1 &
WAIT=$!
wait_for 60 watching
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
k patch deployment web --subresource=status --type=merge -p \
    "{\"status\":{\"conditions\":[{\"type\":\"Available\",\"status\":\"True\",\"reason\":\"MinimumReplicasAvailable\",\"lastUpdateTime\":\"$now\",\"lastTransitionTime\":\"$now\"}]}}" >/dev/null
if wait "$WAIT"; then ok "wait --for=condition=Available returns once the status says so"; else
    not_ok "wait --for=condition: $(cat "$WORK/wait.out")"; fi
check "status patch left the spec alone" 3 "$(k get deploy web -o jsonpath='{.spec.replicas}')"

# --- delete: cascade modes -------------------------------------------------------------------
owned() { # owned OWNER NAME: a ConfigMap owned by ConfigMap OWNER
    uid=$(k get cm "$1" -o jsonpath='{.metadata.uid}')
    k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: $2
  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: $1, uid: "$uid", blockOwnerDeletion: true}]
YAML
}
for mode in foreground background orphan; do
    k create configmap "owner-$mode" >/dev/null
    owned "owner-$mode" "dep-$mode"
    out=$(k delete configmap "owner-$mode" --cascade=$mode)
    check_contains "delete --cascade=$mode" "deleted" "$out"
done
check "foreground: dependent deleted with its owner" "" "$(k get cm dep-foreground --ignore-not-found -o name)"
wait_for 30 sh -c "! $KUBECTL get cm dep-background >/dev/null 2>&1"
check "background: the GC deletes the dependent" "" "$(k get cm dep-background --ignore-not-found -o name)"
check "orphan: dependent kept without ownerReferences" "configmap/dep-orphan " \
    "$(k get cm dep-orphan -o name) $(k get cm dep-orphan -o jsonpath='{.metadata.ownerReferences}')"
# A patch that removes the last owner (or finalizer) drops the field, as Kubernetes does (an empty
# list is omitted when the object is stored); `ownerReferences: []` stayed.
k create configmap owner-patched >/dev/null
owned owner-patched dep-patched
k patch configmap dep-patched --type=json \
    -p '[{"op":"remove","path":"/metadata/ownerReferences/0"}]' >/dev/null
check "a patch removing the last owner drops ownerReferences" "" \
    "$(k get cm dep-patched -o jsonpath='{.metadata.ownerReferences}')"
k patch configmap dep-patched --type=merge -p '{"metadata":{"finalizers":["example.com/a"]}}' >/dev/null
k patch configmap dep-patched --type=json -p '[{"op":"remove","path":"/metadata/finalizers/0"}]' \
    >/dev/null
check "a patch removing the last finalizer drops finalizers" "" \
    "$(k get cm dep-patched -o jsonpath='{.metadata.finalizers}')"
k delete configmap owner-patched dep-patched >/dev/null
# A quantity written as a YAML number (`cpu: 1`) is taken, as the Go decoder takes it, and
# stored as text: it was refused ("cannot unmarshal number ... of type string").
cat >"$WORK/numq.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: numq}
spec:
  containers:
    - name: c
      image: busybox
      resources: {limits: {cpu: 1, memory: 1073741824}, requests: {cpu: 0.5}}
EOF
check_contains "a quantity as a number is taken" "pod/numq created" "$(k create -f "$WORK/numq.yaml")"
check "... and stored as text" '"1" "1073741824" "0.5"' \
    "$(k get pod numq -o json | jq -c '.spec.containers[0].resources | .limits.cpu, .limits.memory, .requests.cpu' | tr '\n' ' ' | sed 's/ $//')"
k delete pod numq --wait=false >/dev/null
k create configmap keep >/dev/null
k patch configmap keep --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null
k delete configmap keep --wait=false >/dev/null
check_contains "finalizer keeps a deleted object" "deletionTimestamp" "$(k get cm keep -o yaml)"
k patch configmap keep --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
check "removing the last finalizer deletes it" "" "$(k get cm keep --ignore-not-found -o name)"

# --- CRDs -------------------------------------------------------------------------------------
k apply -f "$D/crd.yaml" >/dev/null
check_contains "CRD established" "condition met" \
    "$(k wait --for condition=established crd/profilingexperiments.morphling.kubedl.io)"
check_contains "custom resource created" "created" "$(k apply -f "$D/pe.yaml")"
out=$(k get pe)
check_contains "get pe: printer columns" "NAME   STATE   AGE   OBJECTIVE-NAME   OPTIMAL-OBJECTIVE-VALUE" "$out"
check_contains "get pe: row" "qps" "$out"
check_contains "get pe -o wide: priority column" "PARALLELISM" "$(k get pe -o wide)"
check "CRD default applied" 1 "$(k get profilingexperiment pe1 -o jsonpath='{.spec.parallelism}')"
k patch pe pe1 --subresource=status --type=merge -p \
    '{"status":{"conditions":[{"type":"Running","status":"True"}],"currentOptimalTrial":{"objectiveMetricsObserved":[{"name":"qps","value":"41.5"}]}}}' >/dev/null
out=$(k get pe pe1)
check_contains "get pe: status columns" "Running" "$out"
check_contains "get pe: optimal value column" "41.5" "$out"
check_contains "get by category" "pe1" "$(k get morphling)"
sed 's/maximize/max/; s/maxNumTrials: 5/maxNumTrials: 0/' "$D/pe.yaml" >"$WORK/pe-bad.yaml"
out=$(k apply -f "$WORK/pe-bad.yaml")
check_contains "CR enum refused" 'spec.objective.type: Unsupported value: "max": supported values: "maximize", "minimize"' "$out"
check_contains "CR minimum refused" "spec.maxNumTrials in body should be greater than or equal to 1" "$out"
printf 'apiVersion: morphling.kubedl.io/v1alpha1\nkind: ProfilingExperiment\nmetadata: {name: pe2}\nspec: {maxNumTrials: 2}\n' >"$WORK/pe-req.yaml"
check_contains "CR required field refused" "spec.objective: Required value" "$(k apply -f "$WORK/pe-req.yaml")"
printf 'apiVersion: morphling.kubedl.io/v1alpha1\nkind: ProfilingExperiment\nmetadata: {name: pe3}\nspec: {objective: {type: minimize}, bogus: 1}\n' >"$WORK/pe-unknown.yaml"
check_contains "CR unknown field refused (Strict)" 'unknown field "spec.bogus"' "$(k apply -f "$WORK/pe-unknown.yaml")"

# --- authorization ------------------------------------------------------------------------------
check "auth can-i (admin)" yes "$(k auth can-i create deployments)"
api PUT /_test/policy '{"deny":[{"user":"alice","verb":"create","apiGroup":"apps","resource":"deployments","namespace":"default"},{"user":"alice","verb":"patch","apiGroup":"apps","resource":"deployments"}]}' >/dev/null
check "auth can-i: denied verb" no "$(k auth can-i create deployments --as=alice)"
check "auth can-i: other verbs allowed" yes "$(k auth can-i list deployments --as=alice)"
alice=$(api POST /_test/tokens '{"user":"alice"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
out=$(k --token="$alice" apply -f "$D/deployment.yaml")
check_contains "403 names user, verb, resource, group and namespace" \
    'deployments.apps "web" is forbidden: User "alice" cannot patch resource "deployments" in API group "apps" in the namespace "default"' "$out"
sed 's/name: web$/name: web-alice/' "$D/deployment.yaml" >"$WORK/dep-alice.yaml"
out=$(k --token="$alice" create -f "$WORK/dep-alice.yaml")
check_contains "403 on create" \
    'deployments.apps is forbidden: User "alice" cannot create resource "deployments" in API group "apps" in the namespace "default"' "$out"
check_contains "a bad token answers 401" "Unauthorized" "$(k --token=nope get pods)"
api PUT /_test/policy '{"deny":[]}' >/dev/null

# --- refusals -----------------------------------------------------------------------------------
check_contains "invalid name" 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' \
    "$(k create configmap Bad_Name)"
check_contains "create in a missing namespace" 'namespaces "nope" not found' "$(k create configmap x -n nope)"
sed 's/{app: web}/{app: other}/g' "$WORK/deployment2.yaml" >"$WORK/selector.yaml"
check_contains "immutable selector" "spec.selector: Invalid value" "$(k apply -f "$WORK/selector.yaml")"
check_contains "immutable selector: field is immutable" "field is immutable" "$(k apply -f "$WORK/selector.yaml")"
sed 's/replicas: 2/replicas: 2\n  bogus: true/' "$D/deployment.yaml" | sed 's/name: web$/name: web-x/' >"$WORK/unknown.yaml"
check_contains "unknown field refused (Strict)" 'strict decoding error: unknown field "spec.bogus"' "$(k apply -f "$WORK/unknown.yaml")"
sed 's/replicas: 2/replicas: two/; s/name: web$/name: web-y/' "$D/deployment.yaml" >"$WORK/type.yaml"
check_contains "wrong type refused" "cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32" \
    "$(k apply -f "$WORK/type.yaml")"
sed 's/image: morphling\/fake-service:test/image: ""/; s/name: web$/name: web-z/' "$D/deployment.yaml" >"$WORK/noimage.yaml"
check_contains "missing image refused" "spec.template.spec.containers[0].image: Required value" "$(k apply -f "$WORK/noimage.yaml")"
awk '/^  template:/ {t = 1} t && /labels:/ {sub(/{app: web}/, "{app: other}")} {print}' "$D/deployment.yaml" |
    sed 's/name: web$/name: web-m/' >"$WORK/mismatch.yaml"
check_contains "selector must match the template" '`selector` does not match template `labels`' "$(k apply -f "$WORK/mismatch.yaml")"

# --- kustomize ------------------------------------------------------------------------------------
mkdir -p "$WORK/k"
cp "$D"/kustomize/*.yaml "$D/crd.yaml" "$WORK/k/"
k delete crd profilingexperiments.morphling.kubedl.io >/dev/null
out=$(k apply -k "$WORK/k")
check_contains "apply -k: namespace" "namespace/morphling-system created" "$out"
check_contains "apply -k: CRD" "customresourcedefinition.apiextensions.k8s.io/profilingexperiments.morphling.kubedl.io created" "$out"
check_contains "apply -k: role binding" "rolebinding.rbac.authorization.k8s.io/leader-election created" "$out"
check_contains "apply -k: operator deployment" "deployment.apps/morphling-operator created" "$out"
check "apply -k: namespace and labels set" "morphling-operator morphling" \
    "$(k -n morphling-system get deploy -l app.kubernetes.io/name=morphling -o jsonpath='{.items[0].metadata.name} {.items[0].spec.template.metadata.labels.app\.kubernetes\.io/name}')"
check_contains "apply -k again: unchanged" "deployment.apps/morphling-operator unchanged" "$(k apply -k "$WORK/k")"
check "RBAC: the service account may read experiments" yes \
    "$(k auth can-i list profilingexperiments.morphling.kubedl.io --as=system:serviceaccount:morphling-system:morphling-operator)"
api PUT /_test/policy '{"mode":"RBAC"}' >/dev/null
check "RBAC: and nothing else" no \
    "$(k auth can-i create deployments --as=system:serviceaccount:morphling-system:morphling-operator -n morphling-system)"
check "RBAC: namespaced role" yes \
    "$(k auth can-i update leases --as=system:serviceaccount:morphling-system:morphling-operator -n morphling-system)"
api PUT /_test/policy '{"mode":"AlwaysAllow"}' >/dev/null

# --- namespace deletion ---------------------------------------------------------------------------
check_contains "delete namespace waits until it is empty and gone" 'namespace "morphling-system" deleted' \
    "$(k delete namespace morphling-system --timeout=120s)"
check "namespace content gone" "" "$(k get deploy -A -l app.kubernetes.io/name=morphling -o name)"

# --- eviction: policy/v1 pods/eviction, kubectl drain ------------------------------------------
# A node and a running pod bound to it (no node agent here: the test finishes a graceful delete).
api POST /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}' >/dev/null
api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"ev","labels":{"app":"ev"}},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}' >/dev/null
curl -sS --cacert "$CA" -H "Authorization: Bearer $TOKEN" -X PATCH -H 'Content-Type: application/merge-patch+json' \
    --data '{"status":{"phase":"Running"}}' "$API/api/v1/namespaces/default/pods/ev/status" >/dev/null
check_contains "api-resources: policy/v1 poddisruptionbudgets" "poddisruptionbudgets" \
    "$(k api-resources --api-group=policy)"
out=$(api POST /api/v1/namespaces/default/pods/ev/eviction '{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"other"}}')
check_contains "eviction: a name that is not the URL's is refused" "name in URL does not match name in Eviction object" "$out"
cat >"$WORK/pdb.yaml" <<'YAML'
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ev}
spec: {minAvailable: 1, selector: {matchLabels: {app: ev}}}
YAML
check_contains "create a PodDisruptionBudget" "poddisruptionbudget.policy/ev created" "$(k apply -f "$WORK/pdb.yaml")"
out=$(k drain n1 --force --timeout=2s)
check_contains "drain: the budget refuses the eviction (429)" "Cannot evict pod as it would violate the pod's disruption budget." "$out"
check "drain: the pod stays, not being deleted" "ev " \
    "$(k get pod ev -o jsonpath='{.metadata.name} {.metadata.deletionTimestamp}')"
check "drain cordoned the node" true "$(k get node n1 -o jsonpath='{.spec.unschedulable}')"
k delete pdb ev >/dev/null
k drain n1 --force --timeout=60s >"$WORK/drain.out" 2>&1 &
drain_pid=$!
terminating() { [ -n "$(k get pod ev -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
wait_for 60 terminating || echo "not ok - the evicted pod was not deleted"
check "eviction: the pod's DisruptionTarget condition" "True EvictionByEvictionAPI Eviction API: evicting" \
    "$(k get pod ev -o jsonpath='{.status.conditions[?(@.type=="DisruptionTarget")].status} {.status.conditions[?(@.type=="DisruptionTarget")].reason} {.status.conditions[?(@.type=="DisruptionTarget")].message}')"
check "eviction: a graceful delete with the pod's grace period" 30 \
    "$(k get pod ev -o jsonpath='{.metadata.deletionGracePeriodSeconds}')"
api DELETE '/api/v1/namespaces/default/pods/ev?gracePeriodSeconds=0' >/dev/null # the kubelet's part
wait "$drain_pid"
check "drain: exits 0 once the pod is gone" 0 "$?"
out=$(cat "$WORK/drain.out")
check_contains "drain: evicts (not deletes) the pod" "evicting pod default/ev" "$out"
check_contains "drain: the pod evicted" "pod/ev evicted" "$out"
check_contains "drain: the node drained" "node/n1 drained" "$out"
# --disable-eviction: kubectl deletes the pods instead, with a protobuf meta/v1 DeleteOptions body
# (empty here: no grace period of its own), which the API server decodes as it does JSON.
api POST /api/v1/namespaces/default/pods '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"del"},"spec":{"nodeName":"n1","containers":[{"name":"c","image":"busybox"}]}}' >/dev/null
k drain n1 --force --disable-eviction --timeout=60s >"$WORK/drain.out" 2>&1 &
drain_pid=$!
terminating() { [ -n "$(k get pod del -o jsonpath='{.metadata.deletionTimestamp}')" ]; }
wait_for 60 terminating || echo "not ok - the drained pod was not deleted: $(cat "$WORK/drain.out")"
check "drain --disable-eviction: a graceful delete with the pod's grace period, no eviction" "30 " \
    "$(k get pod del -o jsonpath='{.metadata.deletionGracePeriodSeconds} {.status.conditions[?(@.type=="DisruptionTarget")].reason}')"
api DELETE '/api/v1/namespaces/default/pods/del?gracePeriodSeconds=0' >/dev/null
wait "$drain_pid"
check "drain --disable-eviction: exits 0 once the pod is gone" 0 "$?"
check "drain --disable-eviction: the pod is gone" "" "$(k get pods -o name --field-selector spec.nodeName=n1)"
out=$(cat "$WORK/drain.out")
check_contains "drain --disable-eviction: deletes the pod" "pod/del deleted" "$out"
check_contains "drain --disable-eviction: the node drained" "node/n1 drained" "$out"

# --- contexts -----------------------------------------------------------------------------------------
for ctx in cert exec insecure; do
    check_contains "context $ctx" "kubernetes" "$(k --context "$ctx" get svc kubernetes -o name)"
done
check_contains "exec credential user" "exec-user" "$(k --context exec auth whoami)"
check_contains "client certificate user" "admin" "$(k --context cert auth whoami)"
out=$(MORPHLING_EXEC_TTL=-5 k --context exec get pods)
check_contains "expired exec token answers 401" "Unauthorized" "$out"

finish
