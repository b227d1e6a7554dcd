#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `run --restart` killed after the replacement is in the store but before the start-up sweep
# deleted what the replaced run left: the store keeps the replaced runs (replaced_runs) until a
# sweep succeeded, so a later plain `run` sweeps them. Before, the replaced run was known in
# memory only: in the same namespace the later run stopped at its objects as another run's ("another
# run ... uses namespace"), in another namespace they were left without a word. Several restarts
# before any sweep are all swept. The API server's kill hook sends SIGKILL to the run when its
# second list of ConfigMaps has been applied: the first is `run`'s access check before it opens the
# store, the second the runner's own once the replacement is stored, before the sweep.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up

# kill_at OUT MATCH ARGS...: `morphling run ARGS` killed by the hook MATCH (stopped until the
# hook is set, as test_kube_run_resume.sh does); its output in $WORK/OUT.
kill_at() {
    out=$1
    match=$2
    shift 2
    sh -c 'kill -STOP $$; exec "$@"' sh "$MORPHLING" run "$@" -q >"$WORK/$out" 2>&1 &
    pid=$!
    wait_for "$out: the run waits to start" stopped "$pid"
    api /_test/kill -X POST -d "{\"pid\": $pid, \"userAgent\": \"morphling/\", $match}" >/dev/null
    kill -CONT "$pid"
    wait "$pid"
    check "$out: killed (SIGKILL) ($(tail -n 2 "$WORK/$out"))" 137 "$?"
    api /_test/faults -X DELETE >/dev/null
}
replaced_rows() {
    sqlite3 "$MORPHLING_DB" "SELECT count(*) FROM replaced_runs WHERE experiment = '$1'"
}
SWEEP='"verb": "list", "resource": "configmaps", "after": 2'

# Same namespace: the killed --restart's replaced run left its objects in default.
# shellcheck disable=SC2086
kill_at samens.1 '"verb": "create", "resource": "services"' "$EXAMPLE" $EX_SETS \
    --set name=samens
check_true "samens: the killed run left objects" [ "$(leftover_objects samens | wc -l)" -gt 0 ]
# shellcheck disable=SC2086
kill_at samens.2 "$SWEEP" "$EXAMPLE" $EX_SETS --set name=samens --restart
check "samens: the replacement is stored (no trial)" 0 \
    "$("$MORPHLING" show samens --json | jq '.trials | length')"
check "samens: the replaced run is kept in the store" 1 "$(replaced_rows samens)"
check_true "samens: its objects are still there" [ "$(leftover_objects samens | wc -l)" -gt 0 ]
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=samens -q >"$WORK/samens.3" 2>&1
check "samens: the next run exits 0 ($(tail -n 2 "$WORK/samens.3"))" 0 "$?"
check "samens: ... not stopped at the replaced run's objects" "" \
    "$(grep -o "another run of an experiment" "$WORK/samens.3")"
check "samens: trials 1 and 2 SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show samens --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
check "samens: no object left" "" "$(leftover_objects samens)"
check "samens: the swept run is forgotten" 0 "$(replaced_rows samens)"

# Another namespace, two restarts killed before any sweep: both replaced runs (the one in
# default with objects, the one in moved with none) are swept by the next run.
k create namespace moved >/dev/null
# shellcheck disable=SC2086
kill_at movens.1 '"verb": "create", "resource": "services"' "$EXAMPLE" $EX_SETS \
    --set name=movens
check "movens: the killed run left its Deployment and Service in default" 2 \
    "$(k get deployments,services -n default -l morphling.kubedl.io/experiment=movens -o name |
        wc -l)"
# shellcheck disable=SC2086
kill_at movens.2 "$SWEEP" "$EXAMPLE" $EX_SETS --set name=movens \
    --set runner.namespace=moved --restart
# shellcheck disable=SC2086
kill_at movens.3 "$SWEEP" "$EXAMPLE" $EX_SETS --set name=movens \
    --set runner.namespace=moved --restart
check "movens: both replaced runs are kept in the store" 2 "$(replaced_rows movens)"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=movens --set runner.namespace=moved -q \
    >"$WORK/movens.4" 2>&1
check "movens: the next run exits 0 ($(tail -n 2 "$WORK/movens.4"))" 0 "$?"
check "movens: trials 1 and 2 SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show movens --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
none_left() {
    [ -z "$(leftover_objects movens)" ]
}
wait_for "movens: the objects the first run left in default are deleted" none_left
check "movens: no object left" "" "$(leftover_objects movens)"
check "movens: the swept runs are forgotten" 0 "$(replaced_rows movens)"
cluster_down
finish
