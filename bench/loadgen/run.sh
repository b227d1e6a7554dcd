#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Benchmark: `morphling load` against Debian's wrk, on Debian's nginx (config: nginx.conf).
# Runs the two alternately with the same threads, connections and duration, prints every pair,
# the requests/s ratio and CPU time per request; then the load generator's peak RSS with 1,000
# open connections. Goals: ratio >= 1.15 at 1 thread / 64 connections; RSS <= 8 MiB.
# usage: sh bench/loadgen/run.sh BUILD_DIR [PAIRS] [DURATION_S]
set -eu
build=${1:-build/release}
pairs=${2:-5}
dur=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
morphling=$build/morphling
for tool in wrk nginx /usr/bin/time; do
    if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ] && [ ! -x "/usr/sbin/$tool" ]; then
        echo "bench/loadgen: skipped, $tool is not installed (make deps)"
        exit 0
    fi
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$morphling" ] || { echo "bench/loadgen: $morphling not built"; exit 1; }
work=$(mktemp -d)
ngx_pid=""
cleanup() {
    [ -z "$ngx_pid" ] || kill "$ngx_pid" 2>/dev/null || true
    [ -z "$ngx_pid" ] || wait "$ngx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# Start nginx on a free port (try a few).
for attempt in 1 2 3 4 5; do
    port=$((20000 + ($$ * 7 + attempt * 1013) % 30000))
    sed -e "s|@DIR@|$work|g" -e "s|@PORT@|$port|g" -e "s|@WORKERS@|${NGINX_WORKERS:-1}|g" \
        "$here/nginx.conf" >"$work/nginx.conf"
    "$nginx_bin" -p "$work" -c "$work/nginx.conf" 2>"$work/nginx.err" &
    ngx_pid=$!
    sleep 0.5
    if kill -0 "$ngx_pid" 2>/dev/null; then
        break
    fi
    wait "$ngx_pid" 2>/dev/null || true
    ngx_pid=""
done
[ -n "$ngx_pid" ] || { echo "bench/loadgen: nginx did not start: $(cat "$work/nginx.err")"; exit 1; }
url="http://127.0.0.1:$port/"
curl -sf "$url" >/dev/null 2>&1 || sleep 0.5

# measure NAME CMD...: prints "rps cpu_s max_rss_kib" for one run.
run_wrk() {
    /usr/bin/time -f "%U %S %M" -o "$work/time" wrk -t1 -c64 -d"${dur}s" "$url" >"$work/out" 2>&1
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/out")
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$work/out")
    echo "$rps $reqs $(cat "$work/time")"
}
run_morphling() {
    /usr/bin/time -f "%U %S %M" -o "$work/time" "$morphling" load "$url" -t 1 -c 64 -d "${dur}s" \
        --warmup 0 --json >"$work/out" 2>&1
    rps=$(grep -o '"throughput_rps":[0-9.e+]*' "$work/out" | head -n1 | cut -d: -f2)
    reqs=$(sed -n 's/^{"requests":\([0-9]*\).*/\1/p' "$work/out")
    echo "$rps $reqs $(cat "$work/time")"
}

echo "bench/loadgen: nginx on $url, 1 thread, 64 connections, ${dur} s per run, $pairs pairs"
printf '%-5s %12s %12s %7s %14s %14s\n' pair wrk_rps morphling_rps ratio wrk_cpu_us/req ml_cpu_us/req
i=1
sum_ratio=0
: >"$work/ratios"
while [ "$i" -le "$pairs" ]; do
    w=$(run_wrk)
    m=$(run_morphling)
    echo "$w $m" | awk -v i="$i" '{
        wr=$1; wreq=$2; wcpu=$3+$4; mr=$6; mreq=$7; mcpu=$8+$9;
        printf "%-5d %12.0f %12.0f %7.3f %14.2f %14.2f\n", i, wr, mr, mr/wr,
               wcpu*1e6/(wreq>0?wreq:1), mcpu*1e6/(mreq>0?mreq:1) }'
    echo "$w $m" | awk '{ print $6/$1 }' >>"$work/ratios"
    i=$((i + 1))
done
sort -n "$work/ratios" | awk '{ r[NR]=$1 } END {
    med = (NR % 2) ? r[(NR+1)/2] : (r[NR/2] + r[NR/2+1]) / 2;
    printf "requests/s ratio morphling/wrk: median %.3f (min %.3f, max %.3f; goal >= 1.15)\n", med, r[1], r[NR] }'

# Peak RSS with 1,000 open connections (closed loop, so all of them stay busy).
/usr/bin/time -f "%M" -o "$work/time" "$morphling" load "$url" -t 1 -c 1000 -d 3s --warmup 0 \
    --json >"$work/out" 2>&1 || true
/usr/bin/time -f "%M" -o "$work/time_wrk" wrk -t1 -c1000 -d3s "$url" >/dev/null 2>&1 || true
awk -v m="$(cat "$work/time")" -v w="$(cat "$work/time_wrk")" 'BEGIN {
    printf "peak RSS with 1000 connections: morphling %.1f MiB, wrk %.1f MiB (goal <= 8 MiB)\n",
           m/1024, w/1024 }'
