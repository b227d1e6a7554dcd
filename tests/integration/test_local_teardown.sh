#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Teardown leaves nothing behind when the service forks a tree, escapes with setsid or ignores
# SIGTERM; parallel trials get distinct ports and groups; a ready service is really the
# trial's own (its nonce is echoed); a process that leaves the trial's groups, all of them or one
# hierarchy, fails the trial.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\"]"
SET="--set cpu=0.5 --set memory=256"

# The service became ready, was measured and was torn down.
check_ready() {
    check "mode $2: $(field "$1" .failure) $(field "$1" .reason)" SUCCEEDED "$(field "$1" .state)"
    check_true "mode $2 became ready" [ "$(field "$1" .meta.ready_after_s)" != null ]
    check_true "mode $2: throughput measured" [ "$(field "$1" .metrics.throughput_rps)" != null ]
}

for mode in ignore-term fork-tree setsid healthy; do
    run_trial "$WORK/$mode.json" "$SPEC" $SET --set mode=$mode
    check_ready "$WORK/$mode.json" $mode
    expect_nothing_left "$WORK/$mode.json"
    echo "# $mode torn down in ${ELAPSED}s ($(field "$WORK/$mode.json" .meta.teardown.left_after_grace) left after the grace period)"
done
check "ignore-term did not exit on SIGTERM" false \
    "$(field "$WORK/ignore-term.json" .meta.teardown.exited_on_sigterm)"

# Four trials at once: distinct ports, every one torn down.
pids=""
for i in 1 2 3 4; do
    "$MORPHLING" trial "$SPEC" $SET --set mode=setsid --json >"$WORK/par$i.json" 2>"$WORK/par$i.err" &
    track $!
    pids="$pids $!"
done
for p in $pids; do wait "$p"; done
ports=""
for i in 1 2 3 4; do
    jq -en input "$WORK/par$i.json" >/dev/null || fail "parallel trial $i: $(cat "$WORK/par$i.err")"
    check_ready "$WORK/par$i.json" parallel
    expect_nothing_left "$WORK/par$i.json"
    ports="$ports $(field "$WORK/par$i.json" .meta.port)"
done
check "parallel trials have distinct ports ($ports)" 4 \
    "$(echo $ports | tr ' ' '\n' | sort -u | wc -l | tr -d ' ')"

# A service (run as root) that moves itself out of the trial's groups is still the trial's (it
# failed INFRA, "answered by a process that is not this trial's", three attempts in a run), but
# no limit holds for it: CRASHED, saying why, never a measurement recorded as limited; and
# teardown still ends it.
cat >"$WORK/leave.sh" <<'EOF'
#!/bin/sh
for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do
    echo $$ 2>/dev/null >"$f"
done
exec "$@"
EOF
chmod +x "$WORK/leave.sh"
run_trial "$WORK/leave.json" "$SPEC" $SET --set mode=healthy --set runner.identity=socket \
    --set "service.command=[\"$WORK/leave.sh\", \"$FAKE\", --port, \"{port}\", --nonce, \"{nonce}\", --mode, \"{mode}\"]"
if [ "$(field "$WORK/leave.json" .meta.cgroup.mode)" = none ]; then
    echo "# no cgroups here: the service cannot leave them"
else
    expect_class "$WORK/leave.json" CRASHED
    check_contains "left its groups: reason" "left the trial's cgroups" \
        "$(field "$WORK/leave.json" .reason)"
fi
expect_nothing_left "$WORK/leave.json"

# A worker of the service (not its listener) that moves itself out of the trial's groups: no
# limit held for it and its CPU time was not counted, yet the trial SUCCEEDED with its limits
# 'enforced'. CRASHED, saying so; and teardown still ends it. One that left before the service
# listens is seen once it is ready, and the load test is not run (it was, to the end); one that
# leaves 0.6 s later (during the load test, unless the machine is slow to start the service) is
# seen after it.
cat >"$WORK/worker.sh" <<'EOF'
#!/bin/sh
sh -c 'sleep "$1"; for f in /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs; do
    echo $$ 2>/dev/null >"$f"
done
: >"$2"; exec sleep 60' _ "$LATE" "$0.$$.left" &
[ "$LATE" != 0 ] || while [ ! -e "$0.$$.left" ]; do sleep 0.01; done
exec "$@"
EOF
chmod +x "$WORK/worker.sh"
for late in 0 0.6; do
    LATE=$late run_trial "$WORK/worker.json" "$SPEC" $SET --set mode=healthy \
        --set "service.command=[\"$WORK/worker.sh\", \"$FAKE\", --port, \"{port}\", --nonce, \"{nonce}\", --mode, \"{mode}\"]"
    if [ "$(field "$WORK/worker.json" .meta.cgroup.mode)" = none ]; then
        echo "# no cgroups here: the worker cannot leave them"
        break
    fi
    expect_class "$WORK/worker.json" CRASHED
    reason=$(field "$WORK/worker.json" .reason)
    check_contains "a worker left its groups after $late s: reason" \
        "of the service left the trial's cgroups" "$reason"
    expect_nothing_left "$WORK/worker.json"
    if [ "$late" = 0 ]; then
        check_contains "... seen once the service was ready" \
            "(seen once it was ready: not load-tested)" "$reason"
        check "... no load test" null "$(field "$WORK/worker.json" .metrics.throughput_rps)"
    else
        echo "# a worker leaving after $late s: $reason"
    fi
done

# A worker that leaves only the v1 memory hierarchy, staying in the trial's others: no memory
# limit held for it, yet the group's largest list still held it and the trial SUCCEEDED. CRASHED,
# naming the hierarchy it left.
if [ -w /sys/fs/cgroup/memory/cgroup.procs ]; then
    cat >"$WORK/partial.sh" <<'EOF'
#!/bin/sh
sh -c 'echo $$ >/sys/fs/cgroup/memory/cgroup.procs; exec sleep 60' &
exec "$@"
EOF
    chmod +x "$WORK/partial.sh"
    run_trial "$WORK/partial.json" "$SPEC" $SET --set mode=healthy \
        --set "service.command=[\"$WORK/partial.sh\", \"$FAKE\", --port, \"{port}\", --nonce, \"{nonce}\", --mode, \"{mode}\"]"
    how=$(field "$WORK/partial.json" .meta.limits.memory_bytes.how)
    case "$how" in
    *v1*)
        expect_class "$WORK/partial.json" CRASHED
        check_contains "a worker left one hierarchy: reason names it" \
            "left the trial's cgroup in the memory hierarchy (it stayed in the others)" \
            "$(field "$WORK/partial.json" .reason)"
        ;;
    *) echo "# the trial has no v1 memory group here ($how)" ;;
    esac
    expect_nothing_left "$WORK/partial.json"
else
    echo "# no writable v1 memory hierarchy here: a partial escape cannot be made"
fi
finish
