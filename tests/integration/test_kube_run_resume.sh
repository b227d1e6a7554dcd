#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# kill -9 of `morphling run` in every phase of a trial (owner created, Deployment and Service
# created, waiting for readiness, load Job created, teardown under way), then the same command
# again: the objects the killed run left are found by label and removed, the interrupted trial
# runs again as a new attempt, and the experiment ends with every trial SUCCEEDED once: 0 lost,
# 0 duplicate, 0 leftover objects or processes. The API server's kill hook sends SIGKILL to the
# runner when the matching request of the phase has been applied. Ctrl-C instead tears the trial
# down before the run exits 130; a second one ends the teardown's wait.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/kube_run_lib.sh"

cluster_up

# killed NAME MATCH: runs experiment NAME (two trials) until MATCH kills it.
killed() {
    name=$1
    match=$2
    # Stopped until the kill hook is set: on a loaded machine the run made its first request
    # before the hook was there, and the hook killed it in the next trial (trial 1 SUCCEEDED).
    # shellcheck disable=SC2086
    sh -c 'kill -STOP $$; exec "$@"' sh "$MORPHLING" run "$EXAMPLE" $EX_SETS --set "name=$name" \
        -q >"$WORK/$name.1" 2>&1 &
    pid=$!
    wait_for "the run waits to start" stopped "$pid"
    api /_test/kill -X POST -d "{\"pid\": $pid, \"userAgent\": \"morphling/\", $match}" >/dev/null
    kill -CONT "$pid"
    wait "$pid"
    check "$name: killed (SIGKILL)" 137 "$?"
    left=$(leftover_objects "$name" | wc -l)
    # Once the Foreground delete is applied the garbage collector finishes it without us.
    [ "$name" = teardown ] ||
        check_true "$name: the killed run left objects behind ($left)" [ "$left" -gt 0 ]
    check "$name: the store has trial 1 unfinished" RUNNING \
        "$("$MORPHLING" show "$name" --json | jq -r '.trials[0].state')"
}

# phase NAME MATCH: runs experiment NAME (two trials) until MATCH kills it, then resumes it.
phase() {
    killed "$1" "$2"
    # shellcheck disable=SC2086
    "$MORPHLING" run "$EXAMPLE" $EX_SETS --set "name=$name" -q >"$WORK/$name.2" 2>&1
    check "$name: the resumed run exits 0" 0 "$?"
    "$MORPHLING" show "$name" --json >"$WORK/$name.json"
    check "$name: trials 1 and 2, each once, SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
        "$(jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")' "$WORK/$name.json")"
    check "$name: trial 1 ran again as attempt 1" 1 "$(jq -r '.trials[0].attempt' "$WORK/$name.json")"
    check "$name: no object left" "" "$(leftover_objects "$name")"
    check "$name: no process left in the cluster's pods" 0 "$(pod_processes)"
}

phase owner '"verb": "create", "resource": "configmaps"'
phase created '"verb": "create", "resource": "services"'
phase readiness '"verb": "watch", "resource": "pods"'
phase load '"verb": "create", "resource": "jobs"'
phase teardown '"verb": "delete", "resource": "configmaps"'

# kill -9, then `run --restart` with runner.namespace changed: the replaced experiment's row
# (and spec) are gone when its run's objects are swept, which were left unswept in `default`
# (the ConfigMap, Deployment, ReplicaSet, Service and pod) with nothing said. The restarted run
# learns the replaced run's identity and namespace, and deletes there what carries that run's
# label; another run's objects of the name (another store's) stay.
k create namespace moved >/dev/null
killed movens '"verb": "create", "resource": "services"'
k create configmap movens-t9-a0 >/dev/null
k label configmap movens-t9-a0 morphling.kubedl.io/experiment=movens morphling.kubedl.io/trial=9 \
    morphling.kubedl.io/attempt=0 morphling.kubedl.io/role=owner \
    app.kubernetes.io/managed-by=morphling morphling.kubedl.io/run=another-store >/dev/null
check_true "movens: the killed run left its objects in default" \
    [ "$(k get deployments,services -n default -l morphling.kubedl.io/experiment=movens -o name |
        wc -l)" -eq 2 ]
# Plain resume in another namespace: refused as another spec (docs/kubernetes.md).
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=movens --set runner.namespace=moved -q \
    >"$WORK/movens.2" 2>&1
check "movens: resuming in another namespace is refused (exit 2)" 2 "$?"
check_true "movens: ... naming runner.namespace ($(cat "$WORK/movens.2"))" \
    grep -q "differs at 'runner.namespace'" "$WORK/movens.2"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=movens --set runner.namespace=moved --restart \
    -q >"$WORK/movens.3" 2>&1
check "movens: --restart in namespace moved exits 0 ($(tail -n 2 "$WORK/movens.3"))" 0 "$?"
check "movens: trials 1 and 2 SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show movens --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
only_foreign_left() {
    [ "$(leftover_objects movens)" = configmap/movens-t9-a0 ]
}
wait_for "movens: the killed run's objects in default are deleted" only_foreign_left
check "movens: only the other store's ConfigMap is left" configmap/movens-t9-a0 \
    "$(leftover_objects movens)"
k delete configmap movens-t9-a0 >/dev/null
# The same in the same namespace: what the killed run left carries the replaced experiment's
# run label, which the sweep now knows as this store's (it was refused as another run's).
killed restart '"verb": "create", "resource": "services"'
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=restart --restart -q >"$WORK/restart.2" 2>&1
check "restart: --restart in the same namespace exits 0 ($(tail -n 2 "$WORK/restart.2"))" 0 "$?"
check "restart: trials 1 and 2 SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show restart --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
check "restart: no object left" "" "$(leftover_objects restart)"

# Ctrl-C during the load test: the trial is torn down at once (nothing left before the resume),
# the run exits 130, and the same command finishes the experiment.
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=sigint -q >"$WORK/sigint.1" 2>&1 &
pid=$!
has_job() {
    leftover_objects sigint | grep -q '^job'
}
wait_for "the load Job of trial 1 exists" has_job
kill -INT "$pid"
wait "$pid"
check "sigint: exit 130" 130 "$?"
check "sigint: its objects are gone when it exits" "" "$(leftover_objects sigint)"
# shellcheck disable=SC2086
"$MORPHLING" run "$EXAMPLE" $EX_SETS --set name=sigint -q >"$WORK/sigint.2" 2>&1
check "sigint: the resumed run exits 0" 0 "$?"
check "sigint: trials 1 and 2, each once, SUCCEEDED" "1 SUCCEEDED,2 SUCCEEDED" \
    "$("$MORPHLING" show sigint --json | jq -r '[.trials[] | "\(.number) \(.state)"] | join(",")')"
check "sigint: no object left" "" "$(leftover_objects sigint)"
# A second Ctrl-C ends the teardown's wait: a pod whose sidecar ignores SIGTERM under a 120 s
# terminationGracePeriodSeconds held the run in the owner's Foreground delete for all of it (up
# to runner.delete_timeout). The deletes are made; the cluster finishes them without the run.
sed 's|^            periodSeconds: 1$|&\
        - name: stubborn\
          image: "debian:12"\
          command: [sh, -c, "trap \x27\x27 TERM; while :; do sleep 1; done"]|' "$EXAMPLE" >"$WORK/slow.yaml"
# (`trial`: a cancelled trial of `run` is not stored, it runs again when the run resumes.)
# shellcheck disable=SC2086
"$MORPHLING" trial "$WORK/slow.yaml" $EX_SETS --set name=hurry --set runner.container=server \
    --set cpu=0.5 --set memory=256 --set workers=1 --json \
    --set runner.pod_template.spec.terminationGracePeriodSeconds=120 >"$WORK/hurry.json" 2>"$WORK/hurry.err" &
pid=$!
owner_deleting() {
    [ -n "$(k get configmaps -l morphling.kubedl.io/experiment=hurry -o json |
        jq -r '.items[].metadata.deletionTimestamp // empty')" ]
}
has_job() {
    leftover_objects hurry | grep -q '^job'
}
wait_for "the load Job of the slow trial exists" has_job
t0=$(date +%s)
kill -INT "$pid"
wait_for "the trial's owner is being deleted" owner_deleting
kill -INT "$pid"
wait "$pid"
rc=$?
check "hurry: two Ctrl-C exit 130 ($(tail -n 3 "$WORK/hurry.err"))" 130 "$rc"
check_true "hurry: it exited in $(($(date +%s) - t0)) s, not after the pod's 120 s" \
    [ $(($(date +%s) - t0)) -lt 60 ]
check "hurry: CANCELLED" CANCELLED "$(jq -r .state "$WORK/hurry.json")"
check "hurry: its meta says the teardown's wait was cut short" true \
    "$(jq -r .meta.teardown_hurried "$WORK/hurry.json")"
check "hurry: what is left is being deleted" "" \
    "$(k get deployments,replicasets,services,jobs,pods -l morphling.kubedl.io/experiment=hurry \
        -o json | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name')"
k delete pods -l morphling.kubedl.io/experiment=hurry --grace-period=0 --force >/dev/null 2>&1
cluster_down
finish
