#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `morphling serve` under slow and greedy clients (issue 13's figure). One address
# (127.0.0.2) keeps 1,000 connections sending a request head one byte a second and 200 event
# streams open (tests/helpers/http_pressure hold); meanwhile authenticated GET
# /api/v1/experiments from 127.0.0.1, one connection each, one after the other, are timed. The
# anchor is the same probe with nobody else connected, run side by side (alternately) in each
# round. Prints every round's p50/p99 with and without the pressure and their ratio, then the
# medians. Goal: p99 under pressure <= 100 ms.
# usage: sh bench/serve/run.sh BUILD_DIR [ROUNDS] [REQUESTS]
set -eu
build=${1:-build/release}
rounds=${2:-5}
requests=${3:-500}
morphling=$build/morphling
pressure=$build/tests/http_pressure
[ -x "$morphling" ] && [ -x "$pressure" ] || { echo "bench/serve: build $build first"; exit 1; }
work=$(mktemp -d)
srv_pid=""
hold_pid=""
cleanup() {
    for p in $hold_pid $srv_pid; do kill "$p" 2>/dev/null || true; done
    for p in $hold_pid $srv_pid; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# A store with one finished experiment, so the listing has something to read.
"$morphling" run "$(dirname "$0")/../../examples/replay-demo.yaml" --db "$work/store.db" \
    --quiet >/dev/null
"$morphling" serve --listen 127.0.0.1:0 --db "$work/store.db" >"$work/serve.out" 2>"$work/serve.err" &
srv_pid=$!
i=0
until grep -q '?token=' "$work/serve.out"; do
    i=$((i + 1))
    [ "$i" -lt 300 ] && kill -0 "$srv_pid" 2>/dev/null || {
        echo "bench/serve: the server did not start: $(cat "$work/serve.err")"
        exit 1
    }
    sleep 0.1
done
port=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/serve.out")
token=$(sed -n 's|.*/?token=\([^ ]*\) .*|\1|p' "$work/serve.out")

# field LINE NAME: the value of NAME=value in a probe's line.
field() {
    printf '%s\n' "$1" | tr ' ,' '\n\n' | sed -n "s/^$2=//p"
}
probe() {
    "$pressure" probe --port "$port" --token "$token" --count "$requests"
}

printf '%-6s %10s %10s %10s %10s %8s\n' round anchor_p50 anchor_p99 busy_p50 busy_p99 p99_ratio
: >"$work/rounds"
r=1
while [ "$r" -le "$rounds" ]; do
    anchor=$(probe)
    "$pressure" hold --port "$port" --from 127.0.0.2 --slow 1000 --streams 200 \
        --token "$token" >"$work/hold.txt" 2>&1 &
    hold_pid=$!
    i=0
    until grep -q 'slow_open=32 .* streams_open=16 ' "$work/hold.txt"; do
        i=$((i + 1))
        [ "$i" -lt 600 ] || { echo "bench/serve: the pressure never built up"; exit 1; }
        sleep 0.1
    done
    busy=$(probe) || { echo "bench/serve: round $r: not every request answered: $busy"; exit 1; }
    kill "$hold_pid"
    wait "$hold_pid" 2>/dev/null || true
    hold_pid=""
    a50=$(field "$anchor" p50_ms)
    a99=$(field "$anchor" p99_ms)
    b50=$(field "$busy" p50_ms)
    b99=$(field "$busy" p99_ms)
    ratio=$(awk -v b="$b99" -v a="$a99" 'BEGIN { printf "%.2f", (a > 0) ? b / a : 0 }')
    printf '%-6s %10s %10s %10s %10s %8s\n' "$r" "$a50" "$a99" "$b50" "$b99" "$ratio"
    echo "$a99 $b99 $ratio" >>"$work/rounds"
    r=$((r + 1))
done

median() {
    sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
b99=$(cut -d' ' -f2 "$work/rounds" | median)
ratio=$(cut -d' ' -f3 "$work/rounds" | median)
verdict=$(awk -v v="$b99" 'BEGIN { print (v <= 100) ? "met" : "NOT met" }')
echo "bench/serve: median p99 of GET /api/v1/experiments with 1,000 slow heads + 200 streams" \
    "from one address: $b99 ms (${ratio}x the anchor); goal <= 100 ms: $verdict" \
    "($requests requests x $rounds rounds, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
