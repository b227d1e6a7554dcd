#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling load` against the fake service: closed and open loop, JSON fields, headers, body
# files rotated, status and body checks, chunked responses.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

start_service ok --workers 4 --service-us 500
URL="http://127.0.0.1:$PORT/infer"

# Closed loop, JSON.
run_load "$WORK/closed.json" 0 "$URL" -c 8 -d 1s --warmup 200ms --json
for key in requests duration_s throughput_rps p50 p90 p95 p99 p999 max mean late_sends \
    stable cpu_share windows; do
    check_contains "closed loop: JSON has $key" "\"$key\":" "$(cat "$WORK/closed.json")"
done
check_true "closed loop: requests sent" [ "$(json_num "$WORK/closed.json" requests)" -gt 0 ]
check "closed loop: no errors" 0 "$(json_err "$WORK/closed.json" total)"
# Per-window figures are filled in (each window has its own throughput).
check_false "closed loop: per-window throughput" \
    grep -q '"windows":\[{[^}]*"throughput_rps":0,' "$WORK/closed.json"

# A --result that cannot be written fails the run (exit 0 left a runner reading no result).
run_load "$WORK/unwritten.json" 1 "$URL" -c 2 -d 200ms --warmup 0 --result "$WORK/no/such/dir/r"
check_contains "--result unwritable: message" "cannot write $WORK/no/such/dir/r: No such file" \
    "$(cat "$WORK/unwritten.json.err")"

# A duration that is not a whole number of windows is measured in full (it was cut to 1 s).
run_load "$WORK/d15.json" 0 "$URL" -c 2 -d 1500ms --warmup 0 --json
check "-d 1500ms measures 1.5 s" 1.5 "$(json_num "$WORK/d15.json" duration_s)"

# Open loop at 200 req/s for 2 s: the schedule sends 400 requests (give or take the window edges).
run_load "$WORK/open.json" 0 "$URL" -c 16 --rate 200 -d 2s --warmup 200ms --json
sends=$(json_num "$WORK/open.json" sends)
check_true "open loop at 200/s for 2 s sends 360-440 requests (sent $sends)" between "$sends" 360 440
off=$(json_num "$WORK/open.json" offered_rps)
check_true "offered rate 200 (got $off)" between "$off" 200 200

# Poisson arrivals, header, body files rotated, human output.
printf 'first' >"$WORK/b1"
printf 'second body' >"$WORK/b2"
run_load "$WORK/human.txt" 0 "$URL" -c 4 --rate 100 --poisson -d 1s --warmup 100ms \
    -H 'X-Test: 1' --body "$WORK/b1" --body "$WORK/b2" -m PUT
check_contains "human summary" "open loop at 100 req/s (Poisson)" "$(cat "$WORK/human.txt")"
check_true "human summary: latency line" grep -q "^latency" "$WORK/human.txt"

# A 2 MiB body does not fit the socket buffer: writes resume on EPOLLOUT.
head -c 2097152 /dev/zero >"$WORK/big"
run_load "$WORK/big.json" 0 "$URL" -c 2 -d 500ms --warmup 0 --body "$WORK/big" --json
check "large body: no errors" 0 "$(json_err "$WORK/big.json" total)"
check_true "large body: requests sent" [ "$(json_num "$WORK/big.json" requests)" -gt 0 ]

# Status check: /healthz of an unhealthy service answers 500.
start_service sick --mode unhealthy
run_load "$WORK/sick.json" 1 "http://127.0.0.1:$PORT/healthz" -c 2 -d 500ms --warmup 0 --json
check_true "500s counted as status errors" [ "$(json_err "$WORK/sick.json" status)" -gt 0 ]
check_contains "status errors: clear message" "HTTP status 500" "$(cat "$WORK/sick.json.err")"
run_load "$WORK/sick2.json" 0 "http://127.0.0.1:$PORT/healthz" -c 2 -d 500ms --warmup 0 \
    --expect-status 500 --json

# Body check and chunked responses.
start_service chunk --mode chunked --service-us 100
run_load "$WORK/chunk.json" 0 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 \
    --expect-body '"ok"' --json
check "chunked: no errors" 0 "$(json_err "$WORK/chunk.json" total)"
run_load "$WORK/nobody.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 \
    --expect-body 'absent' --json
check_true "body mismatch counted" [ "$(json_err "$WORK/nobody.json" body)" -gt 0 ]

# Stability protocol: stops at the first 3 windows that agree (a generous tolerance makes the
# verdict independent of machine noise), and reports the cap with stable false when they never do.
run_load "$WORK/stable.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 10 --tolerance 100 --json
check_contains "stable" '"stable":true' "$(cat "$WORK/stable.json")"
check "stops after 3 windows" 3 "$(json_num "$WORK/stable.json" windows_run)"
run_load "$WORK/unstable.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 4 --tolerance 0 --json
check_contains "zero tolerance is unstable" '"stable":false' "$(cat "$WORK/unstable.json")"
check "runs to the window cap" 4 "$(json_num "$WORK/unstable.json" windows_run)"
check_contains "spread reported" '"spread":{"throughput":' "$(cat "$WORK/unstable.json")"

# At 1 req/s windows of 0.5 s hold one answer or none, too few for the rule to judge: every window
# is merged (the last three read 0.67 or 1.33 req/s).
run_load "$WORK/few.json" 0 "$URL" -c 2 --rate 1 --warmup 0 --window 500ms --max-windows 8 --json
check "too few answers a window: unstable, every window merged" "false 8 8" \
    "$(jq -r '"\(.stable) \(.windows_run) \(.windows_merged)"' "$WORK/few.json")"
check_true "... and 1 req/s measured: $(jq .throughput_rps "$WORK/few.json")" \
    jq -en 'input | .throughput_rps >= 0.7 and .throughput_rps <= 1.3' "$WORK/few.json"

# A fixed duration of two windows cannot show three that agree (it said stable, over two).
run_load "$WORK/two.json" 0 "$URL" -c 4 -d 1s --window 500ms --warmup 0 --tolerance 100 --json
check "two windows of -d: not stable" "false 2 2" \
    "$(jq -r '"\(.stable) \(.windows_run) \(.windows_merged)"' "$WORK/two.json")"

# A rate under one per second is printed as it was given (it read "open loop at 0 req/s").
run_load "$WORK/slow.txt" 0 "$URL" -c 1 --rate 0.5 -d 2s --warmup 0
check_contains "rate 0.5: summary" "open loop at 0.5 req/s" "$(cat "$WORK/slow.txt")"

# The trial runners' rules on the command line (the kubernetes runner's load Job runs them):
# --ci measures until the interval settles, every window merged; --prune stops after two windows
# that miss a limit by more than twice; --remeasure measures once more with twice the windows when
# the first did not settle and may (the stability rule at zero tolerance never settles), within
# --max-time when given.
run_load "$WORK/ci.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms --ci 0.5 --json
check "--ci 0.5 at a steady rate: settled over the least windows, all merged" "true 3 3" \
    "$(jq -r '"\(.stable) \(.windows_run) \(.windows_merged)"' "$WORK/ci.json")"
run_load "$WORK/prune.json" 0 "$URL" -c 8 --warmup 200ms --window 300ms --prune 'p99<=100us' \
    --json
# Two windows in a row that broke it: the first ones may have had too few answers to judge p99
# on a loaded machine (an untrusted percentile is no evidence), so not always the first two.
check "--prune 'p99<=100us' of a 500 us service: pruned on the 2 windows that broke it ($(jq -c \
    '{windows_run}' "$WORK/prune.json"))" "true 2 true" \
    "$(jq -r '"\(.pruned) \(.windows_merged) \(.windows_run >= 2)"' "$WORK/prune.json")"
run_load "$WORK/again.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 3 --tolerance 0 --remeasure --json --result "$WORK/again.result"
check "--remeasure: a second measurement of twice the windows" "true 6" \
    "$(jq -r '"\(.remeasured) \(.windows_run)"' "$WORK/again.json")"
check "... and --result says so" 1 "$(jq -r .metrics.remeasured "$WORK/again.result")"
run_load "$WORK/nofit.json" 0 "$URL" -c 8 --rate 400 --warmup 200ms --window 300ms \
    --max-windows 3 --tolerance 0 --remeasure --max-time 1s --json
check "--remeasure --max-time 1s: the second (2.1 s) does not fit" "false 3" \
    "$(jq -r '"\(.remeasured) \(.windows_run)"' "$WORK/nofit.json")"
run_load "$WORK/bad1.txt" 2 "$URL" --capacity --slo 'p99<=100ms' --ci 0.1
check_contains "--ci with --capacity: refused" "--ci, --prune and --remeasure" \
    "$(cat "$WORK/bad1.txt.err")"
run_load "$WORK/bad2.txt" 2 "$URL" -d 1s --remeasure
check_contains "--remeasure with -d: refused" "choose one" "$(cat "$WORK/bad2.txt.err")"
run_load "$WORK/bad3.txt" 2 "$URL" --max-time 5s
check_contains "--max-time alone: refused" "--max-time bounds" "$(cat "$WORK/bad3.txt.err")"

# With -d the spread is over every merged window (docs/load.md), not the last three: a service
# that answers 400 req/s for its first second and 100 after (503s beyond) has a spread of ~3.
kill "$SERVICE_PID"
start_service shed --workers 8 --service-us 1000 --shed-rps 1000 --shed-later-rps 100 \
    --shed-later-ms 1000
run_load "$WORK/shed.json" 0 "http://127.0.0.1:$PORT/infer" -c 8 --rate 400 -d 3s \
    --window 500ms --warmup 0 --json
echo "# windows: $(jq -c '[.windows[].throughput_rps | floor]' "$WORK/shed.json")"
check_true "spread over all 6 merged windows: $(jq -c .spread "$WORK/shed.json")" \
    jq -en 'input | .windows_merged == 6 and .spread.throughput > 1' "$WORK/shed.json"
# Connections opened: none after the warm-up on a keep-alive service; about one a request on one
# that closes each connection after its response without saying so (each such request was resent
# on a new connection, no error, and nothing said the service kept no connection alive).
run_load "$WORK/ka.json" 0 "$URL" -c 2 -d 500ms --warmup 200ms --json
check "keep-alive: no connection opened after the warm-up" 0 "$(json_num "$WORK/ka.json" connects)"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi' >"$WORK/ka.http"
start_canned noka "$WORK/ka.http" --close
run_load "$WORK/noka.json" 0 "http://127.0.0.1:$PORT/" -c 2 -d 500ms --warmup 100ms --json
# Bytes read: the 40 bytes of each response (wrk's Transfer/sec), give or take the one in flight
# on each connection when a window closes.
check_true "bytes read: 40 a response ($(jq -c '[.requests, .bytes_read, .read_bytes_per_s]' "$WORK/noka.json"))" \
    jq -en 'input | (.bytes_read - 40 * .requests | fabs) <= 80 and .read_bytes_per_s > 0' "$WORK/noka.json"
check_true "no keep-alive: about a connection a request" \
    [ "$(json_num "$WORK/noka.json" connects)" -gt "$(($(json_num "$WORK/noka.json" requests) / 2))" ]
run_load "$WORK/noka.txt" 0 "http://127.0.0.1:$PORT/" -c 2 -d 200ms --warmup 0
check_contains "no keep-alive: the summary counts connections" "connection(s) opened" \
    "$(cat "$WORK/noka.txt")"
# A request that says `Connection: close` is the last on its connection (RFC 9112 §9.6), also to
# a server that keeps it open (the next request went on the same connection, as wrk does).
kill "$SERVICE_PID"
start_canned ka "$WORK/ka.http"
run_load "$WORK/ka-close.json" 0 "http://127.0.0.1:$PORT/" -c 2 -d 500ms --warmup 100ms --json \
    -H 'connection: keep-alive, Close'
# (give or take the 2 connections' requests at the ends of the measurement; kept alive, 2
# connections would carry them all.) At least 20 requests, not 100: the check failed once in a
# sanitizer build beside ctest -j8 and two other builds, where a quiet run measures 380-800 and
# one beside 8 busy loops 183; the name now says what was measured.
check_true "Connection: close: a connection a request ($(jq -c '[.requests, .connects]' \
    "$WORK/ka-close.json"))" jq -en \
    'input | .requests >= 20 and (.requests - .connects | fabs) <= 2' "$WORK/ka-close.json"
run_load "$WORK/ka-closed.json" 0 "http://127.0.0.1:$PORT/" -c 2 -d 500ms --warmup 100ms --json \
    -H 'Connection: closed'
check "Connection: closed is another token: kept alive" 0 "$(json_num "$WORK/ka-closed.json" connects)"
# Interrupted: exit 1 and say so (the summary read as a whole run that was NOT stable, with no
# word of the interruption, and a spread of "inf%" when no window had ended).
interrupt_load "$WORK/int.txt" 1 "$URL" -c 2 -d 30s --warmup 10s
check "interrupted measurement: exit 1" 1 "$rc"
check_contains "interrupted measurement: message" "interrupted after 0 whole window(s)" \
    "$(cat "$WORK/int.txt.err")"
check_contains "interrupted measurement: no spread to show" "throughput n/a" "$(cat "$WORK/int.txt")"
finish
