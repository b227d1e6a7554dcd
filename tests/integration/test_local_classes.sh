#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Each misbehaviour of a service ends in its failure class within its deadline + 1 s, with no
# process, cgroup or port lease left: never listening (STARTUP_TIMEOUT), /healthz 500
# (HEALTH_FAILED), exiting while starting (CRASHED with the stderr tail), allocating past the
# memory limit (OOM_KILLED), a slow start past the deadline, and a port already taken (INFRA).
. "$(dirname "$0")/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 2s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\", \"--alloc-mb\", \"200\"]"
SET="--set cpu=0.5 --set memory=64"

run_trial "$WORK/a.json" "$SPEC" $SET --set mode=no-listen
expect_class "$WORK/a.json" STARTUP_TIMEOUT 3.5
expect_nothing_left "$WORK/a.json"

run_trial "$WORK/b.json" "$SPEC" $SET --set mode=unhealthy
expect_class "$WORK/b.json" HEALTH_FAILED 3.5
expect_nothing_left "$WORK/b.json"

run_trial "$WORK/c.json" "$SPEC" $SET --set mode=alloc
if [ "$(field "$WORK/c.json" .meta.limits.memory_bytes.enforced)" = true ]; then
    expect_class "$WORK/c.json" OOM_KILLED 3
    [ "$(field "$WORK/c.json" .resources.oom_kills)" != 0 ] || fail "no OOM kill counted"
else
    echo "skip: memory limit not enforceable here ($(field "$WORK/c.json" .meta.cgroup.warning))"
fi
expect_nothing_left "$WORK/c.json"

# Exits 300 ms after becoming ready, i.e. during the load test: CRASHED (needs the load step).
run_trial "$WORK/x.json" "$SPEC" $SET --set mode=exit
if field "$WORK/x.json" .reason | grep -q "no load generator"; then
    echo "skip: crash during the load test (this build has no load generator)"
else
    expect_class "$WORK/x.json" CRASHED
    field "$WORK/x.json" .reason | grep -q "during the load test" ||
        fail "reason: $(field "$WORK/x.json" .reason)"
fi
expect_nothing_left "$WORK/x.json"

# A slow start past the deadline.
write_spec "$WORK/slow.yaml" 1s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--start-delay-ms\", \"5000\", \"--mode\", \"{mode}\"]"
run_trial "$WORK/d.json" "$WORK/slow.yaml" $SET --set mode=healthy
expect_class "$WORK/d.json" STARTUP_TIMEOUT 2.5
expect_nothing_left "$WORK/d.json"

# Exits while starting: CRASHED, with the end of its stderr in the reason.
write_spec "$WORK/crash.yaml" 5s "[\"$ANTICS\", \"exit\", \"3\", \"{mode}\", \"{nonce}\"]"
run_trial "$WORK/e.json" "$WORK/crash.yaml" $SET --set mode=healthy
expect_class "$WORK/e.json" CRASHED 1.5
field "$WORK/e.json" .reason | grep -q "exited with status 3" || fail "reason: $(field "$WORK/e.json" .reason)"
field "$WORK/e.json" .reason | grep -q "bye" || fail "no stderr tail in the reason"
expect_nothing_left "$WORK/e.json"

# The only port of the range is taken by someone else: our side (INFRA), not the service's.
"$FAKE" --port 0 >"$WORK/other.port" 2>/dev/null &
EXTRA_PIDS="$EXTRA_PIDS $!"
i=0
while [ ! -s "$WORK/other.port" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || fail "the other fake service did not start"
    sleep 0.05
done
P=$(head -n 1 "$WORK/other.port")
run_trial "$WORK/f.json" "$SPEC" $SET --set mode=healthy --set "runner.ports=$P-$P"
expect_class "$WORK/f.json" INFRA 1.5
field "$WORK/f.json" .reason | grep -q "no free port" || fail "reason: $(field "$WORK/f.json" .reason)"
echo "test_local_classes: ok"
