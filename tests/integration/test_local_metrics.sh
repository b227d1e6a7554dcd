#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A healthy trial of the fake service reports its latency percentiles with their 99 % upper
# confidence bounds (p99_ms_upper >= p99_ms, in microseconds too; tests/unit/test_spec.c checks
# that constraints judge them); in capacity mode the bounds are left out (the capacity search
# judged its SLO itself). A latency limit the service misses by far prunes the load test after
# two windows, unless runner.load.prune is false.
. "$(dirname "$0")/local_lib.sh"
need_fake
SPEC=$WORK/spec.yaml
write_spec "$SPEC" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\"]"
SET="--set cpu=1 --set memory=512 --set mode=healthy"

run_trial "$WORK/a.json" "$SPEC" $SET
[ "$(field "$WORK/a.json" .state)" = SUCCEEDED ] || fail "healthy trial: $(field "$WORK/a.json" .reason)"
for s in p50 p90 p95 p99 p999; do
    jq -e ".metrics.${s}_ms_upper >= .metrics.${s}_ms and
           ((.metrics.latency_${s}_us_upper - .metrics.${s}_ms_upper * 1000) | . * .) < 1e-6" \
        "$WORK/a.json" \
        >/dev/null || fail "$s bound: $(jq -c ".metrics | {${s}_ms, ${s}_ms_upper}" "$WORK/a.json")"
done
jq -e '.metrics | has("max_ms_upper") or has("mean_ms_upper") | not' "$WORK/a.json" >/dev/null ||
    fail "max and mean have no bound"
[ "$(field "$WORK/a.json" .metrics.pruned)" = 0 ] || fail "pruned without a constraint"
echo "ok: percentiles with their upper bounds"

# p99 within 1 us: missed by far. The spec measures up to 3 windows of 300 ms; pruning stops
# after the second.
sed "s/^objective: .*/&\nconstraints: ['p99_ms <= 0.001']/" "$SPEC" >"$WORK/slo.yaml"
run_trial "$WORK/p.json" "$WORK/slo.yaml" $SET
expect_class "$WORK/p.json" SLO_VIOLATED
[ "$(field "$WORK/p.json" .metrics.pruned)" = 1 ] || fail "not pruned: $(jq -c .metrics "$WORK/p.json")"
field "$WORK/p.json" .reason | grep -q "pruned" || fail "reason: $(field "$WORK/p.json" .reason)"
run_trial "$WORK/q.json" "$WORK/slo.yaml" $SET --set runner.load.prune=false
expect_class "$WORK/q.json" SLO_VIOLATED
[ "$(field "$WORK/q.json" .metrics.pruned)" = 0 ] || fail "pruned with prune: false"
echo "ok: pruning"

# Capacity mode, on a service of known capacity (2 workers x 5 ms = 400 requests/s).
write_spec "$WORK/cap.yaml" 5s "[\"$FAKE\", \"--port\", \"{port}\", \"--nonce\", \"{nonce}\", \"--mode\", \"{mode}\", \"--workers\", \"2\", \"--service-us\", \"5000\"]"
run_trial "$WORK/c.json" "$WORK/cap.yaml" $SET --set runner.load.mode=capacity --set "runner.load.slo=p99<=100ms"
[ "$(field "$WORK/c.json" .state)" = SUCCEEDED ] || fail "capacity trial: $(field "$WORK/c.json" .reason)"
jq -e '.metrics | .capacity_rps > 0 and has("p99_ms") and (has("p99_ms_upper") | not)' \
    "$WORK/c.json" >/dev/null || fail "capacity metrics: $(jq -c .metrics "$WORK/c.json")"
echo "ok: no bounds at capacity"
echo "test_local_metrics: ok"
