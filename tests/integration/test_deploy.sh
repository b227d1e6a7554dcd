#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# deploy/ on the test cluster's API server, which checks every built-in object against the
# official Kubernetes schemas (Strict field validation) and custom objects against the CRDs:
# `kubectl apply -k deploy/` installs everything (and again changes nothing); an original-style
# ProfilingExperiment is accepted with the schema's defaults and `kubectl get pe` / `kubectl get
# trials` print the printer columns; invalid ones are refused with 422 naming the field; the
# operator's ServiceAccount may do what the operator needs and nothing more (RBAC); users get their
# rights on experiments from the editor and viewer ClusterRoles.
. "$(dirname "$0")/lib.sh"

apiserver="$MP_BUILD_DIR/kube/apiserver/main.mjs"
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v kubectl >/dev/null 2>&1 || skip "kubectl is not on the PATH"
[ -f "$apiserver" ] || skip "the test cluster (tests/kube) is not built"

node "$apiserver" --dir "$WORK/cluster" --default-field-validation Strict \
    --authorization-mode RBAC >"$WORK/apiserver.log" 2>&1 &
track $!
wait_for_file "$WORK/cluster/apiserver.ready" || fail "the API server did not start"
export KUBECONFIG="$WORK/cluster/kubeconfig"
deploy="$MP_SOURCE_DIR/deploy"

out=$(kubectl apply -k "$deploy" 2>&1)
check "kubectl apply -k deploy/ exits 0" 0 "$?"
check "it creates the 9 objects" 9 "$(printf '%s\n' "$out" | grep -c ' created$')"
check_contains "the CRD" "customresourcedefinition.apiextensions.k8s.io/profilingexperiments.morphling.kubedl.io created" "$out"
check_contains "the operator" "deployment.apps/morphling-operator created" "$out"
out=$(kubectl apply -k "$deploy" 2>&1)
check "applying it again changes nothing" 9 "$(printf '%s\n' "$out" | grep -c ' unchanged$')"
check "short name pe" "profilingexperiments pe morphling.kubedl.io/v1alpha1 true ProfilingExperiment" \
    "$(kubectl api-resources --api-group=morphling.kubedl.io 2>&1 | awk '$1 == "profilingexperiments" {print $1, $2, $3, $4, $5}')"
check "the operator's pod: non-root, read-only root, no capabilities, probes" \
    'true true ["ALL"] /healthz /readyz' \
    "$(kubectl get deployment morphling-operator -n morphling-system -o json | jq -r -c \
        '.spec.template.spec | [.securityContext.runAsNonRoot, .containers[0].securityContext.readOnlyRootFilesystem,
          (.containers[0].securityContext.capabilities.drop | tojson), .containers[0].livenessProbe.httpGet.path,
          .containers[0].readinessProbe.httpGet.path] | join(" ")')"

# `kubectl explain` documents every field a user writes or reads (it printed "<empty>" and
# "<no description>" for nearly all of them).
undocumented=""
for path in pe pe.spec pe.spec.objective pe.spec.algorithm pe.spec.algorithm.algorithmSettings \
    pe.spec.tunableParameters pe.spec.tunableParameters.parameters \
    pe.spec.tunableParameters.parameters.feasibleSpace pe.spec.servicePodTemplate pe.spec.cost \
    pe.status pe.status.currentOptimalTrial trial trial.spec trial.status; do
    n=$(kubectl explain "$path" 2>&1 | grep -c -e '<no description>' -e '<empty>')
    [ "$n" -eq 0 ] || undocumented="$undocumented $path($n)"
done
check "kubectl explain: every field has a description" "" "$undocumented"
check_contains "kubectl explain pe.spec.tunableParameters: the categories" \
    "resource (the tuned container's requests and" "$(kubectl explain pe.spec.tunableParameters 2>&1)"
# The name's rule as the operator applies it (it said "letters, digits, '-' and '_'": the API
# server refuses '_', and the operator a name not starting with a letter).
check_contains "kubectl explain pe.metadata: the name's rule" \
    "The name must also be a DNS label starting with a letter: a-z, 0-9 and '-'," \
    "$(kubectl explain pe.metadata 2>&1)"

# An original-style resource, as written for the original Morphling.
pe="$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml"
check "the original-style file is accepted" \
    "profilingexperiment.morphling.kubedl.io/mobilenet-experiment-grid created" \
    "$(kubectl apply -f "$pe" 2>&1)"
ns="-n morphling-system"
# morphling reads the same file; its runner checks the namespace in the cluster.
out=$("$MORPHLING" validate "$pe" 2>&1)
case $out in
*"runner 'kubernetes' is not available in this build"*)
    echo "SKIP: this build has no kubernetes runner: morphling validate of the valid file" ;;
*) check "morphling validate accepts the original-style file" \
    "$pe: valid: experiment 'mobilenet-experiment-grid', 3 parameters, 8 configurations, algorithm grid, runner kubernetes, up to 8 trials" \
    "$out" ;;
esac
# Defaults from the schema: a file without parallelism or objective.type gets 1 and maximize.
sed -e '/^  parallelism:/d' -e '/^    type: maximize/d' -e 's/name: mobilenet-experiment-grid/name: defaults/' \
    "$pe" >"$WORK/defaults.yaml"
kubectl apply -f "$WORK/defaults.yaml" >/dev/null 2>&1
check "parallelism defaults to 1, the objective to maximize" "1 maximize" \
    "$(kubectl get pe defaults $ns -o jsonpath='{.spec.parallelism} {.spec.objective.type}')"
check "kubectl get pe: the columns, before any status" \
    "NAME STATE AGE OBJECTIVE-NAME OPTIMAL-OBJECTIVE-VALUE OPTIMAL-PARAMETERS|mobilenet-experiment-grid qps" \
    "$(kubectl get pe mobilenet-experiment-grid $ns 2>&1 | awk '{ if (NR == 1) h = $0; else r = $1 " " $3 } END { gsub(/ +/, " ", h); print h "|" r }')"
# The operator writes the status; the columns show it.
kubectl patch pe mobilenet-experiment-grid $ns --subresource=status --type=merge -p '{"status": {
    "conditions": [{"type": "Created", "status": "True"}, {"type": "Succeeded", "status": "True"}],
    "currentOptimalTrial": {"tunableParameters": [{"name": "cpu", "value": "1", "category": "resource"}],
      "objectiveMetricsObserved": [{"name": "qps", "value": "412.5"}]},
    "trialsTotal": 8, "trialsSucceeded": 8}}' >/dev/null 2>&1
check "the status subresource takes the operator's status" 0 "$?"
row=$(kubectl get pe mobilenet-experiment-grid $ns --no-headers 2>&1)
check "State and Optimal-Objective-Value" "Succeeded qps 412.5" "$(echo "$row" | awk '{print $2, $4, $5}')"
check_contains "Optimal-Parameters" '"name":"cpu"' "$row"
check_contains "kubectl get morphling lists both kinds' objects" "profilingexperiment.morphling.kubedl.io/defaults" \
    "$(kubectl get morphling $ns -o name 2>&1)"

cat >"$WORK/trial.yaml" <<'YAML'
apiVersion: morphling.kubedl.io/v1alpha1
kind: Trial
metadata: {name: mobilenet-experiment-grid-1, namespace: morphling-system}
spec:
  number: 1
  samplingResult: [{name: cpu, value: 450m, category: resource}]
YAML
kubectl apply -f "$WORK/trial.yaml" >/dev/null 2>&1
check "a Trial is accepted" 0 "$?"
kubectl patch trial mobilenet-experiment-grid-1 $ns --subresource=status --type=merge -p '{"status": {
    "conditions": [{"type": "Succeeded", "status": "True"}],
    "trialResult": {"objectiveMetricsObserved": [{"name": "qps", "value": "300"}]}}}' >/dev/null 2>&1
out=$(kubectl get trials $ns 2>&1)
check "kubectl get trials: the columns" "NAME STATE OBJECTIVE-VALUE PARAMETERS AGE" \
    "$(echo "$out" | head -1 | tr -s ' ')"
check "kubectl get trials: the row" "mobilenet-experiment-grid-1 Succeeded 300" \
    "$(echo "$out" | awk 'NR == 2 {print $1, $2, $3}')"

# Invalid resources: refused by the API server (422), naming the field.
refused() { # NAME FILE FIELD TEXT
    refused_out=$(kubectl apply -f "$2" 2>&1)
    check "$1: refused" 1 "$?"
    check_contains "$1: is Invalid (422)" 'The ProfilingExperiment "bad" is invalid' "$refused_out"
    check_contains "$1: names the field" "$3" "$refused_out"
    check_contains "$1: says why" "$4" "$refused_out"
}
bad() { # SED-EXPRESSION: the original-style file, renamed "bad" and changed
    sed -e "$1" -e 's/name: mobilenet-experiment-grid/name: bad/' "$pe" >"$WORK/bad.yaml"
    echo "$WORK/bad.yaml"
}
refused "an unknown parameterType" "$(bad 's/parameterType: discrete/parameterType: float/')" \
    'spec.tunableParameters[0].parameters[0].parameterType' 'Unsupported value: "float"'
refused "an unknown category" "$(bad 's/category: "env"/category: "environment"/')" \
    'spec.tunableParameters[1].category' 'supported values: "resource", "env", "args"'
refused "parallelism 0" "$(bad 's/parallelism: 1/parallelism: 0/')" 'spec.parallelism' \
    'greater than or equal to 1'
refused "no servicePodTemplate" "$(bad '/servicePodTemplate:/,/tunableParameters:/{/tunableParameters:/!d}')" \
    'spec.servicePodTemplate' 'Required value'
cat >"$WORK/step0.yaml" <<'YAML'
apiVersion: morphling.kubedl.io/v1alpha1
kind: ProfilingExperiment
metadata: {name: bad, namespace: morphling-system}
spec:
  objective: {type: maximize, objectiveMetricName: qps}
  algorithm: {algorithmName: grid}
  servicePodTemplate:
    template:
      spec:
        containers: [{name: server, image: "morphling/inference-server:test"}]
  tunableParameters:
    - category: resource
      parameters:
        - name: cpu
          parameterType: double
          feasibleSpace: {min: 500m, max: "2", step: "0"}
YAML
refused "step 0" "$WORK/step0.yaml" 'spec.tunableParameters[0].parameters[0].feasibleSpace.step' \
    'should match'
refused "a quoted maxNumTrials" "$(bad 's/maxNumTrials: 8/maxNumTrials: "8"/')" 'spec.maxNumTrials' \
    'must be of type integer'
refused "a number that is no integer in a list" "$(bad 's/- "2"$/- 2.5/')" \
    'spec.tunableParameters[1].parameters[0].feasibleSpace.list[1]' 'must be of type integer,string'
check "nothing invalid was stored" "defaults mobilenet-experiment-grid" \
    "$(kubectl get pe $ns -o name | sed 's|.*/||' | sort | tr '\n' ' ' | sed 's/ $//')"
# Integers written as numbers, not strings, are taken as morphling validate takes them.
sed -e 's/- "2"$/- 2/' -e 's/- "1"$/- 1/' -e 's/name: mobilenet-experiment-grid/name: ints/' "$pe" \
    >"$WORK/ints.yaml"
check "integers written as numbers in feasibleSpace are accepted" \
    "profilingexperiment.morphling.kubedl.io/ints created" "$(kubectl apply -f "$WORK/ints.yaml" 2>&1)"
check "and kept as integers" '[1,2]' \
    "$(kubectl get pe ints $ns -o json | jq -c '.spec.tunableParameters[1].parameters[0].feasibleSpace.list')"
kubectl delete pe ints $ns >/dev/null 2>&1

# The same file, read by morphling itself: the same field, with file, line and column.
"$MORPHLING" validate "$WORK/step0.yaml" >/dev/null 2>"$WORK/err"
check "morphling validate refuses step 0 with exit 2" 2 "$?"
check_contains "naming file, line, column and field" \
    "step0.yaml:16:54: 'spec.tunableParameters[0].parameters[0].feasibleSpace.step': expected a positive number, got \"0\"" \
    "$(cat "$WORK/err")"

# Least privilege: what the operator's ServiceAccount may and may not do.
as="--as=system:serviceaccount:morphling-system:morphling-operator"
can() { kubectl auth can-i "$as" "$@" 2>/dev/null; }
for rule in "create deployments.apps -n team-a" "delete jobs.batch -n team-b" "create configmaps -n team-a" \
    "watch profilingexperiments.morphling.kubedl.io --all-namespaces" \
    "update profilingexperiments.morphling.kubedl.io --subresource=status -n team-a" \
    "create trials.morphling.kubedl.io -n team-a" "list pods -n team-a" "get pods/log -n team-a" \
    "delete pods -n team-a" "create events -n team-a" "list events -n team-a" \
    "get events -n team-a" "update events -n team-a" \
    "update leases.coordination.k8s.io -n morphling-system" \
    "delete leases.coordination.k8s.io -n team-a"; do
    # shellcheck disable=SC2086 # the rule is several words on purpose
    check "the operator may $rule" yes "$(can $rule)"
done
for rule in "delete profilingexperiments.morphling.kubedl.io -n team-a" \
    "update profilingexperiments.morphling.kubedl.io -n team-a" "get secrets -n team-a" \
    "create pods -n team-a" "patch leases.coordination.k8s.io -n team-a" \
    "create clusterroles.rbac.authorization.k8s.io" "delete namespaces"; do
    # shellcheck disable=SC2086
    check "the operator may not $rule" no "$(can $rule)"
done

# The users' rights: the editor and viewer ClusterRoles join the built-in admin/edit/view roles
# through their aggregation labels (a real cluster's controller does it; this server does not
# aggregate), and work when bound by name. (Without them nobody but cluster-admin could use the
# new kinds.)
check "the aggregation labels" "true true true" \
    "$(kubectl get clusterrole morphling-experiment-editor morphling-experiment-viewer -o json | jq -r \
        '[.items[0].metadata.labels["rbac.authorization.k8s.io/aggregate-to-edit"],
          .items[0].metadata.labels["rbac.authorization.k8s.io/aggregate-to-admin"],
          .items[1].metadata.labels["rbac.authorization.k8s.io/aggregate-to-view"]] | join(" ")')"
kubectl create namespace team-a >/dev/null 2>&1
# (kubectl create rolebinding sends protobuf, which this server does not decode: the same object
# as YAML.)
bind() { # USER CLUSTERROLE
    kubectl -n team-a create rolebinding "$1" --clusterrole="$2" --user="$1" --dry-run=client -o yaml |
        kubectl apply -f - >/dev/null 2>&1 || fail "the RoleBinding of $1"
}
bind alice morphling-experiment-editor
bind bob morphling-experiment-viewer
for rule in "alice yes create profilingexperiments.morphling.kubedl.io" \
    "alice yes delete profilingexperiments.morphling.kubedl.io" \
    "alice yes list trials.morphling.kubedl.io" "alice no delete trials.morphling.kubedl.io" \
    "alice no update profilingexperiments.morphling.kubedl.io --subresource=status" \
    "bob yes watch profilingexperiments.morphling.kubedl.io" "bob yes list trials.morphling.kubedl.io" \
    "bob no create profilingexperiments.morphling.kubedl.io" "carol no list trials.morphling.kubedl.io"; do
    # shellcheck disable=SC2086 # the rule is several words on purpose
    set -- $rule
    who=$1 want=$2
    shift 2
    check "$who may $*: $want" "$want" "$(kubectl auth can-i --as="$who" -n team-a "$@" 2>/dev/null)"
done

# Deleting the namespace removes what is in it (at once on the test cluster, in the background
# on a real one), so the namespaced objects may be gone by the time kubectl gets to them.
kubectl delete -k "$deploy" --ignore-not-found >/dev/null 2>&1
check "kubectl delete -k deploy/ exits 0" 0 "$?"
check "it removes the CRDs, the cluster-wide RBAC and the namespace" "" \
    "$(kubectl get crd,clusterrole,clusterrolebinding,namespace -o name 2>&1 | grep -e morphling)"
finish
