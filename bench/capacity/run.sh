#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: accuracy, spread and speed of the capacity search against the fake service, whose
# capacity is known by construction (WORKERS / SERVICE_US). Runs the search RUNS times and
# prints each answer and time, then the median error vs the true capacity (goal <= 5 %), the
# coefficient of variation of the answers (goal <= 3 %) and the median search time (goal
# <= 15 s). The time's anchor, measured in the same invocation: one measurement at the true
# capacity until it is stable (`morphling load --rate`, the defaults), so the search's cost reads
# as a number of such measurements on whatever machine runs it.
# usage: sh bench/capacity/run.sh BUILD_DIR [RUNS]
set -eu
build=${1:-build/release}
runs=${2:-10}
workers=4
service_us=2000
slo='p99<=50ms'
morphling=$build/morphling
svc=$build/tests/fake_service
[ -x "$morphling" ] && [ -x "$svc" ] || { echo "bench/capacity: build $build first"; exit 1; }
work=$(mktemp -d)
svc_pid=""
cleanup() {
    [ -z "$svc_pid" ] || kill "$svc_pid" 2>/dev/null || true
    [ -z "$svc_pid" ] || wait "$svc_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$svc" --port 0 --workers "$workers" --service-us "$service_us" >"$work/port" &
svc_pid=$!
i=0
while [ ! -s "$work/port" ]; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "bench/capacity: fake service did not start"; exit 1; }
    sleep 0.05
done
url="http://127.0.0.1:$(head -n1 "$work/port")/infer"
truth=$(awk -v w="$workers" -v s="$service_us" 'BEGIN { print w * 1e6 / s }')
echo "bench/capacity: fake service with $workers workers x $service_us us = $truth req/s, SLO $slo, $runs searches"
: >"$work/results"
i=1
while [ "$i" -le "$runs" ]; do
    "$morphling" load "$url" --capacity --slo "$slo" --max-time 60s --json >"$work/out" 2>&1 || true
    cap=$(grep -o '"capacity_rps":[0-9.e+]*' "$work/out" | head -n1 | cut -d: -f2)
    secs=$(grep -o '"search_s":[0-9.e+]*' "$work/out" | head -n1 | cut -d: -f2)
    [ -n "$cap" ] || cap=0
    [ -n "$secs" ] || secs=0
    awk -v i="$i" -v c="$cap" -v s="$secs" -v t="$truth" 'BEGIN {
        printf "run %2d: capacity %8.1f req/s (error %+6.2f %%), search %5.1f s\n", i, c,
               100 * (c - t) / t, s }'
    echo "$cap $secs" >>"$work/results"
    i=$((i + 1))
done
start=$(date +%s.%N)
"$morphling" load "$url" --rate "$truth" --json >"$work/anchor" 2>&1 || true
anchor=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
echo "anchor: one stable measurement at $truth req/s took $anchor s"
awk -v t="$truth" -v anchor="$anchor" '
function median(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x }
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
}
{ c[NR] = $1; s[NR] = $2; e[NR] = ($1 > t ? $1 - t : t - $1) / t; sum += $1; sum2 += $1 * $1 }
END {
    mean = sum / NR; sd = sqrt((sum2 / NR - mean * mean) > 0 ? sum2 / NR - mean * mean : 0)
    printf "median |error| vs true capacity: %.2f %% (goal <= 5 %%)\n", 100 * median(e, NR)
    printf "spread of the answers (CoV): %.2f %% (goal <= 3 %%)\n", 100 * sd / mean
    printf "median search time: %.1f s (goal <= 15 s), %.1f x the anchor measurement\n",
           median(s, NR), (anchor > 0 ? median(s, NR) / anchor : 0)
}' "$work/results"
