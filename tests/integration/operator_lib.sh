# SPDX-License-Identifier: Apache-2.0
# Shared by the operator's tests (test_operator*.sh), sourced after lib.sh: the test cluster's
# API server alone with the CRDs (deploy/crds) and the namespace morphling-system, and the
# operator with a fake trial runner (tests/helpers/operator_check.c: one ConfigMap per trial
# attempt, owned by the Trial, no pods), so that whole experiments take a moment.
#   start_apiserver [ARG...]    starts it (extra arguments to main.mjs), exports KUBECONFIG
#   start_operator LOG [ARG...] starts operator_check in the background; OPERATOR_PID. Its
#                               identity is "op" unless ARG gives one: an operator restarted in
#                               a test is the same one, which holds its experiments' Leases
#                               (a new identity would wait for them to expire)
#   pe_state NAME               the State column (the last condition's type)
#   wait_state NAME STATE       waits until the experiment's State is STATE
#   original_pe NAME TRIALS PARALLELISM   writes $WORK/NAME.yaml, the original-style file
#                                         renamed, with maxNumTrials and parallelism changed
#   leftovers                   the Trials' ConfigMaps that still exist (names, one a line)
apiserver="$MP_BUILD_DIR/kube/apiserver/main.mjs"
command -v node >/dev/null 2>&1 || skip "node is not installed"
command -v kubectl >/dev/null 2>&1 || skip "kubectl is not on the PATH"
command -v jq >/dev/null 2>&1 || skip "jq is not installed"
[ -f "$apiserver" ] || skip "the test cluster (tests/kube) is not built"
OPERATOR="$MP_HELPERS/operator_check"
NS=morphling-system

start_apiserver() {
    node "$apiserver" --dir "$WORK/cluster" --default-field-validation Strict "$@" \
        >"$WORK/apiserver.log" 2>&1 &
    track $!
    wait_for_file "$WORK/cluster/apiserver.ready" || fail "the API server did not start"
    export KUBECONFIG="$WORK/cluster/kubeconfig"
    . "$WORK/cluster/apiserver.env"
    kubectl apply -f "$MP_SOURCE_DIR/deploy/crds/" >/dev/null 2>&1 || fail "the CRDs were refused"
    kubectl create namespace "$NS" >/dev/null 2>&1 || fail "namespace $NS"
}

start_operator() {
    lib_log=$1
    shift
    "$OPERATOR" --kubeconfig "$KUBECONFIG" --namespace "$NS" --work-dir "$WORK" --identity op "$@" \
        >>"$lib_log" 2>&1 &
    OPERATOR_PID=$!
    track "$OPERATOR_PID"
}

pe_state() {
    kubectl get pe "$1" -n "$NS" -o jsonpath='{.status.conditions[-1:].type}' 2>/dev/null
}

lib_state_is() {
    [ "$(pe_state "$1")" = "$2" ]
}

wait_state() {
    wait_for "$1 reaches $2" lib_state_is "$1" "$2"
}

original_pe() {
    sed -e "s/name: mobilenet-experiment-grid/name: $1/" -e "s/maxNumTrials: 8/maxNumTrials: $2/" \
        -e "s/parallelism: 1/parallelism: $3/" "$MP_SOURCE_DIR/tests/data/pe/mobilenet-grid.yaml" \
        >"$WORK/$1.yaml"
}

leftovers() {
    kubectl get configmaps -n "$NS" -l morphling.kubedl.io/trial -o name 2>/dev/null
}

# admin_api METHOD PATH [BODY]: a request to the API server as its admin (the /_test/ hooks).
admin_api() {
    curl -sS --max-time 60 --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" \
        -H 'Content-Type: application/json' -X "$1" "$KUBE_API_URL$2" ${3:+-d "$3"}
}
