#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A healthy trial of the fake service reports its latency percentiles with their 99 % upper
# confidence bounds (p99_ms_upper >= p99_ms, in microseconds too; tests/unit/test_spec.c checks
# that constraints judge them); in capacity mode the bounds are left out (the capacity search
# judged its SLO itself). A latency limit the service misses by far prunes the load test after
# two windows, unless runner.load.prune is false.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\"]"
SET="--set cpu=1 --set memory=512 --set mode=healthy"

run_trial "$WORK/a.json" "$SPEC" $SET
check "healthy trial ($(field "$WORK/a.json" .reason))" SUCCEEDED "$(field "$WORK/a.json" .state)"
for s in p50 p90 p95 p99 p999; do
    check_true "$s bound: $(jq -c ".metrics | {${s}_ms, ${s}_ms_upper}" "$WORK/a.json")" \
        jq -en "input | .metrics.${s}_ms_upper >= .metrics.${s}_ms and
           ((.metrics.latency_${s}_us_upper - .metrics.${s}_ms_upper * 1000) | . * .) < 1e-6" \
        "$WORK/a.json"
done
check "max and mean have no bound" false \
    "$(jq '.metrics | has("max_ms_upper") or has("mean_ms_upper")' "$WORK/a.json")"
check "not pruned without a constraint" 0 "$(field "$WORK/a.json" .metrics.pruned)"

# A median within 1 us: missed by far. The spec measures up to 3 windows of 300 ms; pruning stops
# after the second. (Pruning trusts a window's percentile only with enough requests: ~660 for a
# p99, which a loaded machine does not serve in 300 ms; a median needs a dozen.)
sed "s/^objective: .*/&\nconstraints: ['p50_ms <= 0.001']/" "$SPEC" >"$WORK/slo.yaml"
run_trial "$WORK/p.json" "$WORK/slo.yaml" $SET
expect_class "$WORK/p.json" SLO_VIOLATED
check "missed by far: pruned" 1 "$(field "$WORK/p.json" .metrics.pruned)"
check_contains "missed by far: reason" "pruned" "$(field "$WORK/p.json" .reason)"
run_trial "$WORK/q.json" "$WORK/slo.yaml" $SET --set runner.load.prune=false
expect_class "$WORK/q.json" SLO_VIOLATED
check "prune: false" 0 "$(field "$WORK/q.json" .metrics.pruned)"

# Capacity mode, on a service of known capacity (2 workers x 5 ms = 400 requests/s). The search
# times its own steps: a spec's window settings are refused with it, so this one has none. Four
# connections keep latencies near 10 ms below capacity and unbounded above it; the SLO's 500 ms
# leaves room for scheduling stalls of a busy machine (p99 294 ms at the lowest rate in a
# sanitizer build beside `ctest -j8` and two builds on two cores; 100 ms failed there).
write_spec "$WORK/cap.yaml" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\", \"--workers\", \"2\", \"--service-us\", \"5000\"]"
sed -i 's/^  load: .*/  load: {path: \/infer, connections: 4, mode: capacity, slo: "p99<=500ms"}/' \
    "$WORK/cap.yaml"
run_trial "$WORK/c.json" "$WORK/cap.yaml" $SET
check "capacity trial ($(field "$WORK/c.json" .reason))" SUCCEEDED "$(field "$WORK/c.json" .state)"
check_true "capacity metrics without bounds: $(jq -c .metrics "$WORK/c.json")" \
    jq -en 'input | .metrics | .capacity_rps > 0 and has("p99_ms") and (has("p99_ms_upper") | not)' \
    "$WORK/c.json"
# The figures at capacity come from a run the search confirmed at a fixed rate: stable. They
# read stable = 0 (the fixed-rate step never runs the windows the rule asks), so every
# capacity-mode trial was unsettled: never the best in the search, a warning in show. Settled
# then as any trial is: unless its throughput varied by more than algorithm.confirm's
# max_uncertainty (default 5 %), as it did once beside `ctest -j8` and a build (353 +- 66 req/s).
check "capacity trial: stable at capacity" 1 "$(field "$WORK/c.json" .metrics.stable)"
check "capacity trial: settled unless its throughput varied over 5 %" true \
    "$(jq '.settled == (.metrics.throughput_rps_uncertainty <= 0.05 * .metrics.throughput_rps)' "$WORK/c.json")"

# No rate meets the SLO (5 ms a request, p99 <= 1 ms): there is no measurement at capacity, so
# no latency or throughput is recorded (zero answers are not zero latency), only capacity_rps = 0.
sed 's/p99<=500ms/p99<=1ms/; s/max_time: [^,}]*//' "$WORK/cap.yaml" >"$WORK/none.yaml"
sed -i 's/slo: "p99<=1ms"}/slo: "p99<=1ms", max_time: 4s}/' "$WORK/none.yaml"
run_trial "$WORK/n.json" "$WORK/none.yaml" $SET
expect_class "$WORK/n.json" SLO_VIOLATED
check "nothing met: capacity_rps 0" 0 "$(field "$WORK/n.json" .metrics.capacity_rps)"
check "nothing met: no latency nor throughput recorded ($(jq -c .metrics "$WORK/n.json"))" \
    false "$(jq '.metrics | has("p99_ms") or has("throughput_rps")' "$WORK/n.json")"

# Placement holds in capacity mode too: with disjoint cpusets the load generator's threads are
# pinned to the CPUs left to it (only the measure mode pinned them; the search's generator ran on
# the service's CPU as well). Seen from outside: some thread's allowed CPUs differ from the
# process's.
"$MORPHLING" trial "$WORK/cap.yaml" $SET --json >"$WORK/c2.json" 2>"$WORK/c2.err" &
trial_pid=$!
track $trial_pid
pinned=0
while kill -0 $trial_pid 2>/dev/null; do
    main=$(grep Cpus_allowed_list "/proc/$trial_pid/status" 2>/dev/null)
    for st in /proc/$trial_pid/task/*/status; do
        cur=$(grep Cpus_allowed_list "$st" 2>/dev/null) || continue
        [ -z "$main" ] || [ "$cur" = "$main" ] || pinned=1
    done
    sleep 0.05
done
if [ "$(field "$WORK/c2.json" .meta.placement.how)" = "disjoint cpusets" ]; then
    check "capacity mode: load generator pinned to $(field "$WORK/c2.json" \
        .meta.placement.loadgen_cpus)" 1 "$pinned"
else
    echo "# placement here: $(field "$WORK/c2.json" .meta.placement.how)"
fi
finish
