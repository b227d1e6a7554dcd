#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The kubernetes runner refuses what cannot work with a clear error naming the spec's field and
# exit status 2, before the store or the cluster changes: no kubeconfig, an unknown context, a
# namespace the cluster lacks, is deleting or that is no namespace name (also the kubeconfig
# context's), a container the pod template lacks, quantities, and a pod template or client
# template the API server would reject; `morphling validate` says the same. A namespace deleted
# while the run goes on stops it (exit 1) with the same words.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up
api /_test/requests -X DELETE >/dev/null
# run_err NAME WANT_MESSAGE [morphling run arguments]: exit 2 and the message on stderr.
run_err() {
    name=$1
    want=$2
    shift 2
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS -q "$@" >"$WORK/out" 2>"$WORK/err"
    check "$name: exit 2" 2 "$?"
    check_contains "$name: the message" "$want" "$(cat "$WORK/err")"
}

run_err "an unknown context" "context \"nope\" is not defined (defined: token, cert, exec, insecure)" \
    --set runner.context=nope
check_contains "an unknown context: the field" "'runner.context':" "$(cat "$WORK/err")"
run_err "a missing namespace" \
    "'runner.namespace': namespace \"nope\" does not exist in the cluster" \
    --set runner.namespace=nope
run_err "a container the template lacks" \
    "'runner.pod_template': the pod template has no container named \"sidecar\"" \
    --set runner.container=sidecar
run_err "a CPU limit the API server rejects" \
    "'runner.pod_template.spec.containers[0].resources.limits.cpu':" \
    --set 'runner.pod_template.spec.containers[0].resources.limits.cpu=1.5.5'
# A pod template the API server's own rules refuse (a port name with '_'): said at once, from a
# dry run of the trials' Deployment (every trial failed INFRA, three attempts each, before).
run_err "a port name the API server rejects" \
    "'runner.pod_template': the API server refuses the trials' Deployment of this pod template: " \
    --set 'runner.pod_template.spec.containers[0].ports[0].name=THIS_IS_BAD'
check_contains "... with the API server's reason" \
    'spec.template.spec.containers[0].ports[0].name: Invalid value: "THIS_IS_BAD"' "$(cat "$WORK/err")"
run_err "a load Job memory the API server rejects" "'runner.load_memory':" \
    --set runner.load_memory=12XB
run_err "a namespace that is not a DNS label" "'runner.namespace': expected a namespace name" \
    --set runner.namespace=Bad_NS
# The kubeconfig context's namespace (no runner.namespace) is checked as runner.namespace is,
# and said to be the context's ("does not exist", or a resource path error, before).
grep -v '^  namespace: ' "$EXAMPLE" >"$WORK/nons.yaml"
cp "$KUBECONFIG" "$WORK/kc"
for ns in Bad_NS a/b; do
    KUBECONFIG="$WORK/kc" k config set-context --current --namespace="$ns" >/dev/null
    # shellcheck disable=SC2086
    KUBECONFIG="$WORK/kc" "$MORPHLING" validate "$WORK/nons.yaml" $EX_SETS >/dev/null 2>"$WORK/err"
    check "the context's namespace $ns: exit 2" 2 "$?"
    check_contains "... why" "'runner': namespace \"$ns\": must be a lowercase RFC 1123 label" \
        "$(cat "$WORK/err")"
    check_contains "... and where it comes from" \
        "(the namespace of kubeconfig context \"token\" in $WORK/kc)" "$(cat "$WORK/err")"
done
# A well-formed one the cluster lacks: where it comes from too (the spec names none).
KUBECONFIG="$WORK/kc" k config set-context --current --namespace=absent >/dev/null
# shellcheck disable=SC2086
KUBECONFIG="$WORK/kc" "$MORPHLING" validate "$WORK/nons.yaml" $EX_SETS >/dev/null 2>"$WORK/err"
check "the context's namespace absent: exit 2" 2 "$?"
check_contains "... why, and where it comes from" "namespace \"absent\" does not exist in the \
cluster ($KUBE_API_URL) (the namespace of kubeconfig context \"token\" in $WORK/kc)" \
    "$(cat "$WORK/err")"
# A kubeconfig that sets no current-context: the spec's key that chooses one (it said
# --context, an option run and validate lack).
KUBECONFIG="$WORK/kc" k config unset current-context >/dev/null
# shellcheck disable=SC2086
KUBECONFIG="$WORK/kc" "$MORPHLING" validate "$EXAMPLE" $EX_SETS >/dev/null 2>"$WORK/err"
check "no current-context: exit 2" 2 "$?"
check_contains "... and the spec's key that chooses one" "$WORK/kc: current-context is not set; \
choose a context with the spec's runner.context (defined: cert, exec, insecure, token)" \
    "$(cat "$WORK/err")"
# No kubeconfig anywhere (and no in-cluster service account).
before=$FAILED
(
    unset KUBECONFIG KUBERNETES_SERVICE_HOST
    export HOME="$WORK/home"
    mkdir -p "$HOME"
    run_err "no kubeconfig" "no kubeconfig"
    [ "$FAILED" -eq "$before" ]
) || FAILED=$((FAILED + 1))
# shellcheck disable=SC2086
"$MORPHLING" validate "$EXAMPLE" $EX_SETS --set runner.namespace=nope >/dev/null 2>"$WORK/err"
check "morphling validate: exit 2 for the missing namespace" 2 "$?"
check_contains "morphling validate: the same message" "namespace \"nope\" does not exist" \
    "$(cat "$WORK/err")"
api "/_test/requests?user=admin" >"$WORK/requests.json"
check "nothing was written to the cluster (the dry run was refused)" "" \
    "$(jq -r '.items[] | select(.verb != "get" and .verb != "list" and .verb != "watch" and .code < 400) | "\(.verb) \(.path)"' "$WORK/requests.json")"
check "the store holds no experiment" "" "$("$MORPHLING" list 2>/dev/null | grep fmnist-k8s)"
# A namespace being deleted (held by a finalizer here) takes no new object: the run was stored,
# then stopped INTERRUPTED at its first create with the API server's 403, before. (After the
# check above that nothing was written: the test writes here.)
k create namespace doomed >/dev/null
k -n doomed create configmap pin >/dev/null
k -n doomed patch configmap pin --type merge -p '{"metadata":{"finalizers":["example.com/pin"]}}' >/dev/null
k delete namespace doomed --wait=false >/dev/null
run_err "a namespace being deleted" \
    "'runner.namespace': namespace \"doomed\" is being deleted (Terminating): it takes no new objects" \
    --set runner.namespace=doomed --set name=doomed
check "... nothing stored" "" "$("$MORPHLING" list 2>/dev/null | grep doomed)"
k -n doomed patch configmap pin --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
# A pod template field of the wrong type: the API server's 400 (BadRequest) is its verdict too
# (only a 422 was: validate passed, and every trial failed INFRA, three attempts each).
run_err "a pod template field of the wrong type" \
    "'runner.pod_template': the API server refuses the trials' Deployment of this pod template: " \
    --set 'runner.pod_template.spec.terminationGracePeriodSeconds="30"' --set name=badtype
check_contains "... with the API server's reason" \
    "cannot unmarshal string into Go struct field PodSpec.spec.template.spec.terminationGracePeriodSeconds" \
    "$(cat "$WORK/err")"
# A field the API server does not know (a misspelt containerPort): refused at once by a strict dry
# run. By default the API server drops it with a warning: validate said "valid", and every trial
# failed STARTUP_TIMEOUT probing the default port.
run_err "a pod template field the API server does not know" \
    "'runner.pod_template': the API server refuses the trials' Deployment of this pod template: " \
    --set 'runner.pod_template.spec.containers[0].ports[0].containerport=8500' --set name=unknownfield
check_contains "... naming the field" \
    'strict decoding error: unknown field "spec.template.spec.containers[0].ports[0].containerport"' \
    "$(cat "$WORK/err")"
# A client_template the API server refuses: said at once, from a dry run of the trials' load Job
# (none was sent before: every trial failed INFRA, three attempts each).
run_err "a client template the API server rejects" \
    "'runner.client_template': the API server refuses the trials' load Job of this client template: " \
    --set 'runner.client_template={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "morphling:test", "ports": [{"name": "BAD_NAME", "containerPort": 80}]}]}}}}' \
    --set name=badclient
check_contains "... with the API server's reason" \
    'spec.template.spec.containers[0].ports[0].name: Invalid value: "BAD_NAME"' "$(cat "$WORK/err")"
check "... nothing stored" "" "$("$MORPHLING" list 2>/dev/null | grep -e badtype -e badclient)"
# The namespace deleted while the run goes on: the trial under way is lost (INFRA, no verdict on
# its configuration) and the run stops, naming runner.namespace and what to do, its finished
# trials kept and the lost one left to run again (the API server's 403 "unable to create new
# content in namespace ... because it is being terminated" was all it said; once the namespace
# was gone, every later trial failed INFRA on a 404). ns_run NAME: runs experiment NAME of two
# trials in the background (pid) in a new namespace NAME; ns_stopped NAME: waits for it.
ns_run() {
    k create namespace "$1" >/dev/null
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set "runner.namespace=$1" --set "name=$1" \
        --set runner.load.windows=12 --set runner.load.stable_windows=12 \
        --set 'parameters.memory.values[0]=1024' -q >"$WORK/$1.out" 2>"$WORK/$1.err" &
    pid=$!
}
ns_stopped() {
    wait $pid
    check "$1: the run stops, exit 1" 1 "$?"
    check "$1: trial 1 kept, trial 2 left to run again" "SUCCEEDED RUNNING" \
        "$("$MORPHLING" show "$1" --json | jq -r '[.trials[].state] | join(" ")')"
}
has_load_job() { k -n "$1" get job "$1-t$2-a0-load" >/dev/null 2>&1; }
first_done() { "$MORPHLING" show "$1" --json 2>/dev/null | jq -en 'input | .trials[0].state == "SUCCEEDED"' >/dev/null; }
# Deleted under trial 2's load test, and kept Terminating by a finalizer.
ns_run terminating
k -n terminating create configmap pin >/dev/null
k -n terminating patch configmap pin --type merge -p '{"metadata":{"finalizers":["example.com/pin"]}}' >/dev/null
wait_for "trial 2's load Job" has_load_job terminating 2
k delete namespace terminating --wait=false >/dev/null
ns_stopped terminating
check_contains "... saying which namespace and field, and what to do" \
    "'runner.namespace': namespace \"terminating\" is being deleted (Terminating): it takes no new objects ($KUBE_API_URL): wait until it is gone and create it again, or name another in runner.namespace; then run the same command again to continue" \
    "$(cat "$WORK/terminating.err")"
k -n terminating patch configmap pin --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
# Gone between two trials: trial 2's first create (held back by the API server here) comes after.
ns_run vanished
wait_for "trial 1's load Job" has_load_job vanished 1
api /_test/delay -X POST \
    -d '{"ms": 12000, "count": 1, "verb": "create", "path": "^/api/v1/namespaces/vanished/configmaps"}' >/dev/null
wait_for "trial 1 done" first_done vanished
k delete namespace vanished >/dev/null
ns_stopped vanished
check_contains "... the same once it is gone" \
    "'runner.namespace': namespace \"vanished\" does not exist in the cluster ($KUBE_API_URL): create it (kubectl create namespace vanished), or name another in runner.namespace; then run the same command again to continue" \
    "$(cat "$WORK/vanished.err")"
cluster_down
finish
