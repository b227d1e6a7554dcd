#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling load` against the fake service: closed and open loop, JSON fields, headers, body
# files rotated, status and body checks, chunked responses.
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

start_service ok --workers 4 --service-us 500
URL="http://127.0.0.1:$PORT/infer"

# Closed loop, JSON.
run_load "$WORK/closed.json" 0 "$URL" -c 8 -d 1s --warmup 200ms --json
for key in requests duration_s throughput_rps p50 p90 p95 p99 p999 max mean late_sends \
    stable cpu_share windows; do
    grep -q "\"$key\":" "$WORK/closed.json" || fail "JSON lacks $key: $(cat "$WORK/closed.json")"
done
req=$(json_num "$WORK/closed.json" requests)
[ "$req" -gt 0 ] || fail "closed loop: no requests"
[ "$(json_err "$WORK/closed.json" total)" = 0 ] || fail "closed loop: errors $(cat "$WORK/closed.json")"
# Per-window figures are filled in (each window has its own throughput).
if grep -q '"windows":\[{[^}]*"throughput_rps":0,' "$WORK/closed.json"; then
    fail "per-window throughput missing: $(cat "$WORK/closed.json")"
fi

# Open loop at 200 req/s for 2 s: the schedule sends 400 requests (give or take the window edges).
run_load "$WORK/open.json" 0 "$URL" -c 16 --rate 200 -d 2s --warmup 200ms --json
sends=$(json_num "$WORK/open.json" sends)
ge "$sends" 360 && ge 440 "$sends" || fail "open loop at 200/s for 2 s sent $sends requests"
off=$(json_num "$WORK/open.json" offered_rps)
ge "$off" 200 && ge 200 "$off" || fail "offered rate $off, want 200"

# Poisson arrivals, header, body files rotated, human output.
printf 'first' >"$WORK/b1"
printf 'second body' >"$WORK/b2"
run_load "$WORK/human.txt" 0 "$URL" -c 4 --rate 100 --poisson -d 1s --warmup 100ms \
    -H 'X-Test: 1' --body "$WORK/b1" --body "$WORK/b2" -m PUT
grep -q "open loop at 100 req/s (Poisson)" "$WORK/human.txt" || fail "human summary: $(cat "$WORK/human.txt")"
grep -q "^latency" "$WORK/human.txt" || fail "no latency line"

# Status check: /healthz of an unhealthy service answers 500.
start_service sick --mode unhealthy
run_load "$WORK/sick.json" 1 "http://127.0.0.1:$PORT/healthz" -c 2 -d 500ms --warmup 0 --json
[ "$(json_err "$WORK/sick.json" status)" -gt 0 ] || fail "500s not counted as status errors"
grep -q "HTTP status 500" "$WORK/sick.json.err" || fail "no clear message: $(cat "$WORK/sick.json.err")"
run_load "$WORK/sick2.json" 0 "http://127.0.0.1:$PORT/healthz" -c 2 -d 500ms --warmup 0 \
    --expect-status 500 --json

# Body check and chunked responses.
start_service chunk --mode chunked --service-us 100
run_load "$WORK/chunk.json" 0 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 \
    --expect-body '"ok"' --json
[ "$(json_err "$WORK/chunk.json" total)" = 0 ] || fail "chunked: $(cat "$WORK/chunk.json")"
run_load "$WORK/nobody.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 \
    --expect-body 'absent' --json
[ "$(json_err "$WORK/nobody.json" body)" -gt 0 ] || fail "body mismatch not counted"

# Stability protocol: stops at the first 3 windows that agree (a generous tolerance makes the
# verdict independent of machine noise), and reports the cap with stable false when they never do.
run_load "$WORK/stable.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 10 --tolerance 100 --json
grep -q '"stable":true' "$WORK/stable.json" || fail "not stable: $(cat "$WORK/stable.json")"
[ "$(json_num "$WORK/stable.json" windows_run)" = 3 ] || fail "did not stop after 3 windows"
run_load "$WORK/unstable.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 4 --tolerance 0 --json
grep -q '"stable":false' "$WORK/unstable.json" || fail "zero tolerance was stable"
[ "$(json_num "$WORK/unstable.json" windows_run)" = 4 ] || fail "did not run to the window cap"
grep -q '"spread":{"throughput":' "$WORK/unstable.json" || fail "no spread reported"
echo "ok"
