#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The fake API server through Debian's kubectl 1.20 (kubernetes-client, unpacked into the build
# folder): apply, create, re-apply, get, wait, delete with cascade modes, custom resources, and
# what it reads from the protobuf form of /openapi/v2: client-side validation (on by default)
# and explain. deploy/ (kustomize) installs as documented.
. "$(dirname "$0")/lib.sh"
KUBECTL=${MP_KUBECTL_120:?MP_KUBECTL_120 must point to kubectl 1.20 (the build unpacks it)}
D="$HERE/data"
# A discovery cache of this test's own: the default one ($HOME/.kube/cache) is keyed by host and
# port, and an earlier test cluster on the same port left resource lists this server lacks.
k() { "$KUBECTL" --cache-dir "$WORK/kube-cache" "$@" 2>&1; }
check_contains "this is kubectl 1.20" 'GitVersion:"v1.20' "$(k version --client)"

start_apiserver

check_contains "apply creates" "deployment.apps/web created" "$(k apply -f "$D/deployment.yaml")"
sed 's/replicas: 2/replicas: 4/; s/{name: MODE, value: fast}/{name: MODE, value: slow}/' \
    "$D/deployment.yaml" >"$WORK/d2.yaml"
check_contains "re-apply configures" "deployment.apps/web configured" "$(k apply -f "$WORK/d2.yaml")"
check "re-apply merged" "4 MODE=slow THREADS=2 " \
    "$(k get deploy web -o jsonpath='{.spec.replicas} {range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}')"
out=$(k get deploy)
check_contains "client-side validation: unknown field" 'unknown field "replicaz"' \
    "$(sed 's/replicas: 2/replicaz: 2/' "$D/deployment.yaml" | k apply -f -)"
check_contains "explain (from /openapi/v2)" "rollingUpdate	<Object>" "$(k explain deployment.spec.strategy)"
sed 's/name: web/name: web2/' "$D/deployment.yaml" >"$WORK/d3.yaml"
check_contains "create -f" "deployment.apps/web2 created" "$(k create -f "$WORK/d3.yaml")"
check_contains "create -f again: AlreadyExists" 'deployments.apps "web2" already exists' \
    "$(k create -f "$WORK/d3.yaml")"
check_contains "get: table" "NAME   READY   UP-TO-DATE   AVAILABLE   AGE" "$out"
check_contains "get: row" "web    0/4" "$out"
check_contains "get -o yaml" "progressDeadlineSeconds: 600" "$(k get deploy web -o yaml)"
check_contains "server still validates" "spec.selector: Invalid value" \
    "$(sed 's/{app: web}/{app: x}/g' "$D/deployment.yaml" | k apply -f -)"

k create configmap gone >/dev/null
"$KUBECTL" wait --for=delete configmap/gone --timeout=60s >"$WORK/wait.out" 2>&1 &
WAIT=$!
wait_for 60 watching
k delete configmap gone >/dev/null
if wait "$WAIT"; then ok "wait --for=delete"; else not_ok "wait --for=delete: $(cat "$WORK/wait.out")"; fi

for mode in foreground background orphan; do
    k create configmap "o-$mode" >/dev/null
    uid=$(k get cm "o-$mode" -o jsonpath='{.metadata.uid}')
    printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d-%s\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: o-%s, uid: "%s"}]\n' \
        "$mode" "$mode" "$uid" | k apply -f - >/dev/null
    check_contains "delete --cascade=$mode" "deleted" "$(k delete configmap "o-$mode" --cascade=$mode)"
done
wait_for 30 sh -c "! $KUBECTL get cm d-background d-foreground >/dev/null 2>&1"
check "dependents of foreground/background deletes gone, orphan kept" "configmap/d-orphan" \
    "$(k get cm -o name | grep '/d-')"
check_contains "delete deployment" 'deployment.apps "web" deleted' "$(k delete deploy web)"

k apply -f "$D/crd.yaml" >/dev/null
k wait --for condition=established crd/profilingexperiments.morphling.kubedl.io >/dev/null
check_contains "custom resource" "created" "$(k apply -f "$D/pe.yaml")"
check_contains "custom resource printer columns" "NAME   STATE   AGE   OBJECTIVE-NAME" "$(k get pe)"
check_contains "custom resource deleted" "deleted" "$(k delete pe pe1)"
check_contains "custom resource create -f" "created" "$(k create -f "$D/pe.yaml")"
check_contains "custom resource: client-side validation from the CRD's schema" 'unknown field "bogus"' \
    "$(sed 's/^spec:/spec:\n  bogus: 1/' "$D/pe.yaml" | sed 's/name: pe1/name: pe2/' | k apply -f -)"

# The operator's install as the docs give it: kubectl apply -k deploy/.
out=$(k apply -k "$MP_SOURCE_DIR/deploy")
check_contains "apply -k deploy/: CRDs" "customresourcedefinition.apiextensions.k8s.io/trials.morphling.kubedl.io created" "$out"
check_contains "apply -k deploy/: operator" "deployment.apps/morphling-operator created" "$out"
k wait --for condition=established crd/trials.morphling.kubedl.io >/dev/null
check_contains "explain a custom resource (CRD schema in /openapi/v2)" "tunableParameters" \
    "$(k explain profilingexperiments.spec --api-version=morphling.kubedl.io/v1alpha1)"

finish
