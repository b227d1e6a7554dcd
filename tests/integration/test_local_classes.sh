#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Each misbehaviour of a service ends in its failure class, with no process, cgroup or port
# lease left: never listening (STARTUP_TIMEOUT), /healthz 500 (HEALTH_FAILED), exiting while
# starting (CRASHED with the stderr tail) or during the load test (CRASHED), ready but never
# answering the load test (LOAD_ERRORS), allocating past the memory limit (OOM_KILLED, also when
# only a child of the service is killed), a slow start past the deadline, more forks than the
# pids limit allows (the reason says so), forking into the background and exiting 0 (CRASHED,
# saying so), and a port already taken (INFRA).
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 2s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\", \"--alloc-mb\", \"200\"]"
SET="--set cpu=0.5 --set memory=64"

run_trial "$WORK/a.json" "$SPEC" $SET --set mode=no-listen
expect_class "$WORK/a.json" STARTUP_TIMEOUT
expect_nothing_left "$WORK/a.json"

run_trial "$WORK/b.json" "$SPEC" $SET --set mode=unhealthy
expect_class "$WORK/b.json" HEALTH_FAILED
expect_nothing_left "$WORK/b.json"

# The services that end by themselves get a start-up deadline a loaded machine cannot miss.
LATE="--set service.readiness.startup_timeout=20s"

run_trial "$WORK/c.json" "$SPEC" $SET $LATE --set mode=alloc
if [ "$(field "$WORK/c.json" .meta.limits.memory_bytes.enforced)" = true ]; then
    expect_class "$WORK/c.json" OOM_KILLED
    check_true "OOM kill counted" [ "$(field "$WORK/c.json" .resources.oom_kills)" != 0 ]
    check_contains "OOM kill: reason, without a count of its own" \
        "the kernel OOM-killed it (or a process of it) at a memory limit of" \
        "$(field "$WORK/c.json" .reason)"
else
    echo "# memory limit not enforceable here ($(field "$WORK/c.json" .meta.cgroup.warning))"
fi
expect_nothing_left "$WORK/c.json"

# A child of the service allocates past the limit and is OOM-killed while the service itself
# stays ready and answers the load test: OOM_KILLED all the same.
cat >"$WORK/worker-oom.sh" <<EOF
#!/bin/sh
"$ANTICS" alloc 200 &
exec "$FAKE" --port "\$1" --nonce "\$2" --mode healthy
EOF
chmod +x "$WORK/worker-oom.sh"
write_spec "$WORK/worker-oom.yaml" 20s "[\"$WORK/worker-oom.sh\", \"{port}\", \"{nonce}\", \"{mode}\"]"
# A limit of 64.5 MiB is named so (the reason rounded it: "a memory limit of 64 MiB").
run_trial "$WORK/w.json" "$WORK/worker-oom.yaml" --set cpu=0.5 --set parameters.memory.type=float \
    --set memory=64.5 --set mode=healthy
if [ "$(field "$WORK/w.json" .meta.limits.memory_bytes.enforced)" = true ]; then
    expect_class "$WORK/w.json" OOM_KILLED
    check_contains "worker OOM kill: reason" "at a memory limit of 64.5 MiB (the service itself kept running)" \
        "$(field "$WORK/w.json" .reason)"
fi
expect_nothing_left "$WORK/w.json"

# Ready, but no load-test request is answered within the measurement (each takes 10 min):
# LOAD_ERRORS, not a success with zero latency.
write_spec "$WORK/stall.yaml" 20s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\", \"--service-us\", \"600000000\"]"
run_trial "$WORK/s.json" "$WORK/stall.yaml" $SET --set mode=healthy
expect_class "$WORK/s.json" LOAD_ERRORS
check_contains "no answer to the load: reason" "no request was answered" \
    "$(field "$WORK/s.json" .reason)"
expect_nothing_left "$WORK/s.json"

# Ready, but every load request answered 404 (the service serves /infer, the spec's load path
# is another): LOAD_ERRORS whose reason names the field to fix, as the readiness probe's does.
run_trial "$WORK/p.json" "$SPEC" $SET --set mode=healthy --set runner.load.path=/predict
expect_class "$WORK/p.json" LOAD_ERRORS
check_contains "404 to the load: reason names the field" \
    "HTTP status 404 (runner.load.path: GET /predict)" "$(field "$WORK/p.json" .reason)"
expect_nothing_left "$WORK/p.json"

# Exits 300 ms after becoming ready, i.e. during the load test: CRASHED.
run_trial "$WORK/x.json" "$SPEC" $SET $LATE --set mode=exit
expect_class "$WORK/x.json" CRASHED
check_contains "exit during the load test: reason" "during the load test" \
    "$(field "$WORK/x.json" .reason)"
expect_nothing_left "$WORK/x.json"

# A slow start past the deadline.
write_spec "$WORK/slow.yaml" 1s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--start-delay-ms\", \"5000\", \"--mode\", \"{mode}\"]"
run_trial "$WORK/d.json" "$WORK/slow.yaml" $SET --set mode=healthy
expect_class "$WORK/d.json" STARTUP_TIMEOUT
expect_nothing_left "$WORK/d.json"

# Exits while starting: CRASHED, with the end of its stderr in the reason.
write_spec "$WORK/crash.yaml" 5s "[\"$ANTICS\", \"exit\", \"3\", \"{mode}\", \"{nonce}\"]"
run_trial "$WORK/e.json" "$WORK/crash.yaml" $SET --set mode=healthy
expect_class "$WORK/e.json" CRASHED
check_contains "exit while starting: status in the reason" "exited with status 3" \
    "$(field "$WORK/e.json" .reason)"
check_contains "exit while starting: stderr tail in the reason" "bye" \
    "$(field "$WORK/e.json" .reason)"
expect_nothing_left "$WORK/e.json"

# Forks more children than runner.pids_max allows and exits when a fork fails: CRASHED, and the
# reason says that the pids limit was reached.
write_spec "$WORK/tree.yaml" 5s "[\"$ANTICS\", \"tree\", \"30\", \"{mode}\", \"{nonce}\"]"
run_trial "$WORK/p.json" "$WORK/tree.yaml" $SET --set mode=healthy --set runner.pids_max=10
if [ "$(field "$WORK/p.json" .meta.limits.pids_max.enforced)" = true ]; then
    expect_class "$WORK/p.json" CRASHED
    check_contains "pids limit: reason" "pids limit of 10 was reached" \
        "$(field "$WORK/p.json" .reason)"
fi
expect_nothing_left "$WORK/p.json"

# Forks into the background and exits 0 (a daemonizing service): CRASHED, and the reason says
# that it daemonized; the daemon is killed.
write_spec "$WORK/daemon.yaml" 5s "[\"$ANTICS\", \"daemon\", \"{mode}\", \"{nonce}\"]"
run_trial "$WORK/g.json" "$WORK/daemon.yaml" $SET --set mode=healthy
expect_class "$WORK/g.json" CRASHED
check_contains "daemonized: reason" "daemonized" "$(field "$WORK/g.json" .reason)"
expect_nothing_left "$WORK/g.json"

# Capacity mode with less than one search step (1.3 s) left before the trial deadline (a 3 s
# trial whose service takes 2.2 s to start): TIMEOUT, not INFRA (it was refused as an invalid
# time budget, an infrastructure failure the engine retries).
cat >"$WORK/cap-late.yaml" <<SPEC
name: local-it
service:
  command: ["$FAKE", "--port", "{port}", "--nonce", "{nonce}", "--start-delay-ms", "{delay}"]
  readiness: {http: /healthz, interval: 50ms, timeout: 300ms, startup_timeout: 20s}
parameters:
  - {name: delay, type: int, min: 0, max: 10000}
objective: {metric: capacity_rps}
runner:
  kind: local
  trial_timeout: 3s
  grace_period: 500ms
  port_lock_dir: $WORK/ports
  fallback_limits: false
  load: {path: /infer, connections: 4, mode: capacity, slo: 'p99<=100ms'}
SPEC
run_trial "$WORK/cl.json" "$WORK/cap-late.yaml" --set delay=2200
expect_class "$WORK/cl.json" TIMEOUT
check_contains "capacity past the deadline: reason" "less than one of its steps" \
    "$(field "$WORK/cl.json" .reason)"
expect_nothing_left "$WORK/cl.json"

# The trial deadline passes during the load test's warm-up, before any window was measured
# (a 3 s trial whose service takes 2.2 s to start, with a 2 s warm-up): TIMEOUT without the
# figures of a measurement that never was. It carried throughput_rps 0 and error_rate 0, so
# show listed the trial at an objective of 0, "unsettled".
sed -e "s|load: {.*|load: {path: /infer, connections: 4, warmup: 2s, window: 300ms, windows: 3}|" \
    -e 's/objective: {metric: capacity_rps}/objective: {metric: throughput_rps}/' \
    "$WORK/cap-late.yaml" >"$WORK/warm-late.yaml"
run_trial "$WORK/wl.json" "$WORK/warm-late.yaml" --set delay=2200
expect_class "$WORK/wl.json" TIMEOUT
check "nothing measured: no throughput_rps, error_rate, windows" "null null null" \
    "$(field "$WORK/wl.json" '[.metrics.throughput_rps, .metrics.error_rate, .metrics.windows] | map(tostring) | join(" ")')"
check_true "... the resources used are kept (wall_seconds)" \
    [ "$(field "$WORK/wl.json" '.metrics.wall_seconds != null')" = true ]
expect_nothing_left "$WORK/wl.json"

# The only port of the range is taken by someone else: our side (INFRA), not the service's.
"$FAKE" --port 0 >"$WORK/other.port" 2>/dev/null &
track $!
wait_for "the other fake service starts" test -s "$WORK/other.port"
P=$(head -n 1 "$WORK/other.port")
run_trial "$WORK/f.json" "$SPEC" $SET --set mode=healthy --set "runner.ports=$P-$P"
expect_class "$WORK/f.json" INFRA
check_contains "port taken: reason" "no free port" "$(field "$WORK/f.json" .reason)"
finish
