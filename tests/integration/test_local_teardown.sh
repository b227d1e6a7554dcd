#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Teardown leaves nothing behind when the service forks a tree, escapes with setsid or ignores
# SIGTERM; parallel trials get distinct ports and groups; a ready service is really the
# trial's own (its nonce is echoed).
. "$(dirname "$0")/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\"]"
SET="--set cpu=0.5 --set memory=256"

# After the merge with the load generator a healthy trial is measured; before it, the load
# step reports that it is missing. Either way the service became ready and was torn down.
check_ready() {
    state=$(field "$1" .state)
    reason=$(field "$1" .reason)
    case "$state/$reason" in
    SUCCEEDED/*) ;;
    FAILED/*"no load generator"*) ;;
    *) fail "service in mode $2 did not get past readiness: $state $reason" ;;
    esac
    [ "$(field "$1" .meta.ready_after_s)" != null ] || fail "mode $2 never became ready"
}

for mode in ignore-term fork-tree setsid healthy; do
    run_trial "$WORK/$mode.json" "$SPEC" $SET --set mode=$mode
    check_ready "$WORK/$mode.json" $mode
    expect_nothing_left "$WORK/$mode.json"
    left=$(field "$WORK/$mode.json" .meta.teardown.left_after_grace)
    echo "ok: $mode torn down in ${ELAPSED}s ($left left after the grace period)"
done
[ "$(field "$WORK/ignore-term.json" .meta.teardown.exited_on_sigterm)" = false ] ||
    fail "ignore-term exited on SIGTERM"
[ "$(field "$WORK/fork-tree.json" .meta.teardown.left_after_grace)" -ge 1 ] ||
    echo "note: fork-tree children exited with their parent"

# Four trials at once: distinct ports, every one torn down.
for i in 1 2 3 4; do
    "$MORPHLING" trial "$SPEC" $SET --set mode=setsid --json >"$WORK/par$i.json" 2>"$WORK/par$i.err" &
    EXTRA_PIDS="$EXTRA_PIDS $!"
done
for p in $EXTRA_PIDS; do wait "$p" || true; done
EXTRA_PIDS=""
ports=""
for i in 1 2 3 4; do
    jq -e . "$WORK/par$i.json" >/dev/null || fail "parallel trial $i: $(cat "$WORK/par$i.err")"
    check_ready "$WORK/par$i.json" parallel
    expect_nothing_left "$WORK/par$i.json"
    ports="$ports $(field "$WORK/par$i.json" .meta.port)"
done
n=$(echo $ports | tr ' ' '\n' | sort -u | wc -l)
[ "$n" -eq 4 ] || fail "parallel trials shared ports: $ports"
echo "ok: parallel ports$ports"
echo "test_local_teardown: ok"
