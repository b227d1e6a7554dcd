#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Bad input and failing servers: clear messages, the right error class, no crash, no hang.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

# Usage errors exit 2.
run_load "$WORK/u1" 2 "not a url at all" -d 1s
check_contains "bad URL: message" "morphling" "$(cat "$WORK/u1.err")"
run_load "$WORK/u2" 2 "ftp://127.0.0.1/" -d 1s
# https is refused as ftp is: a usage error (it exited 1, as a failed run does).
run_load "$WORK/u2s" 2 "https://127.0.0.1/" -d 1s
check_contains "https: message" "https is not supported" "$(cat "$WORK/u2s.err")"
run_load "$WORK/u3" 2 "http://127.0.0.1:1/" -c 0
run_load "$WORK/u4" 2 "http://127.0.0.1:1/" --capacity
check_contains "--capacity without --slo: message" "slo" "$(cat "$WORK/u4.err")"
run_load "$WORK/u5" 2 "http://127.0.0.1:1/" --capacity --slo 'p97<=1s'
run_load "$WORK/u6" 2 "http://127.0.0.1:1/" -H 'no colon'
# A zero window with a duration (it divided by zero: SIGFPE).
run_load "$WORK/u10" 2 "http://127.0.0.1:1/" --window 0 -d 1s
check_contains "zero window: message" "--window" "$(cat "$WORK/u10.err")"
# Windows whose end times overflow int64 nanoseconds (a signed overflow, then a run of 0 s).
run_load "$WORK/u16" 2 "http://127.0.0.1:1/" --window 1000000h --max-windows 3
check_contains "endless windows: message" "more than 30 years" "$(cat "$WORK/u16.err")"
# A capacity search with no time budget (the message spoke of precision and step sizes).
run_load "$WORK/u11" 2 "http://127.0.0.1:1/" --capacity --slo 'p99<=1s' --max-time 0
check_contains "no time budget: message" "time budget" "$(cat "$WORK/u11.err")"
# A budget shorter than the probe (300 ms warm-up and 2 x 500 ms): no step ran, and the search said
# 'none found: no tested rate met the SLO', exit 1, having tested none.
run_load "$WORK/u14" 2 "http://127.0.0.1:1/" --capacity --slo 'p99<=1s' --max-time 500ms
check_contains "budget under one step: message" "shorter than one step (1.3 s)" \
    "$(cat "$WORK/u14.err")"
# A capacity search times its own steps: a measurement's window options were ignored silently.
for opt in "-d 5s" "--window 2s" "--stable-windows 5"; do
    # shellcheck disable=SC2086
    run_load "$WORK/u15" 2 "http://127.0.0.1:1/" --capacity --slo 'p99<=1s' $opt
    check_contains "--capacity with $opt: message" "times its own steps" "$(cat "$WORK/u15.err")"
done
# Options of another mode were accepted and ignored (a run with --precision, --max-error-rate,
# --late-threshold in closed loop, --seed without --poisson or -d with --max-windows measured as
# if they were absent).
for opt in "--precision 0.5" "--max-error-rate 0.5" "--late-threshold 5ms" "--seed 3" \
    "--seed 3 --rate 10" "--max-windows 5"; do
    # shellcheck disable=SC2086
    run_load "$WORK/u18" 2 "http://127.0.0.1:1/" -d 1s $opt
    check_true "$opt ignored: message" grep -q "is for\|drop --max-windows" "$WORK/u18.err"
done
# One window cannot agree with another: the stability rule never held, and the run measured
# all its windows to say NOT stable.
run_load "$WORK/u13" 2 "http://127.0.0.1:1/" --stable-windows 1
check_contains "one stable window: message" "--stable-windows" "$(cat "$WORK/u13.err")"
# A window must hold requests to measure: one of microseconds (a unit mistyped) measured nothing.
run_load "$WORK/u19" 2 "http://127.0.0.1:1/" --window 1us
check_contains "--window 1us: message" "--window must be at least 10 ms" "$(cat "$WORK/u19.err")"
run_load "$WORK/u20" 2 "http://127.0.0.1:1/" -d 5ms
check_contains "-d 5ms: message" "-d must be at least 10 ms" "$(cat "$WORK/u20.err")"
# Header names and methods are tokens; values hold no control characters.
run_load "$WORK/u7" 2 "http://127.0.0.1:1/" -d 200ms -H 'X(A): b'
check_contains "header name not a token: message" "in its name" "$(cat "$WORK/u7.err")"
run_load "$WORK/u8" 2 "http://127.0.0.1:1/" -d 200ms -H "$(printf 'X-A: b\001c')"
run_load "$WORK/u9" 2 "http://127.0.0.1:1/" -d 200ms -m "$(printf 'GE\001T')"
# The load generator frames each request itself: a second Content-Length (or a chunked coding
# the body lacks) had the service read the next request as this one's body.
run_load "$WORK/u21" 2 "http://127.0.0.1:1/" -d 200ms -H 'content-length: 1'
check_contains "a Content-Length header: message" "frames each request itself" \
    "$(cat "$WORK/u21.err")"
run_load "$WORK/u22" 2 "http://127.0.0.1:1/" -d 200ms -H 'Transfer-Encoding: chunked'

# Checks no response can pass: every request failed as a body or status error (exit 1).
run_load "$WORK/u16" 2 "http://127.0.0.1:1/" -d 200ms -m HEAD --expect-body ok
check_contains "HEAD with --expect-body: message" "a HEAD response has no body" \
    "$(cat "$WORK/u16.err")"
run_load "$WORK/u17" 2 "http://127.0.0.1:1/" -d 200ms --expect-status 304 --expect-body ok
run_load "$WORK/u18" 2 "http://127.0.0.1:1/" -d 200ms --expect-status 100
check_contains "--expect-status 1xx: message" "interim" "$(cat "$WORK/u18.err")"
# A body folder with no files.
mkdir "$WORK/nobodies"
run_load "$WORK/u12" 2 "http://127.0.0.1:1/" -d 200ms --body "$WORK/nobodies"
check_contains "empty body folder: message" "'$WORK/nobodies': no files in that folder" \
    "$(cat "$WORK/u12.err")"

# More connections than the open-file limit allows: refused before the run, not counted as the
# service's connect errors ("Too many open files").
rc=0
(ulimit -n 64 && exec "$MORPHLING" load "http://127.0.0.1:1/" -c 200 -d 500ms) \
    >"$WORK/fds.out" 2>"$WORK/fds.err" || rc=$?
check "connections over the open-file limit: exit 2" 2 "$rc"
check_contains "connections over the open-file limit: message" "ulimit -n" "$(cat "$WORK/fds.err")"

# The capacity search adds connections for high rates, but no more than the limit allows: under
# 'ulimit -n 100' it still searches instead of refusing its own steps.
start_service cap --workers 4 --service-us 1000
rc=0
(ulimit -n 100 && exec timeout 60 "$MORPHLING" load "http://127.0.0.1:$PORT/infer" -c 4 \
    --capacity --slo 'p99<=500ms' --max-time 3s --json) >"$WORK/capfds.out" 2>"$WORK/capfds.err" ||
    rc=$?
check_true "capacity under a low open-file limit: searched (exit $rc)" [ "$rc" -le 1 ]
check_false "capacity under a low open-file limit: no limit error" grep -q "open files" \
    "$WORK/capfds.err"

# Unresolvable host.
run_load "$WORK/dns" 1 "http://nonexistent.invalid/" -d 500ms
check_contains "unresolvable host: message" "cannot resolve" "$(cat "$WORK/dns.err")"

# Refused connection: a port that was just closed.
start_service gone
GONE=$PORT
kill "$SERVICE_PID"
wait "$SERVICE_PID" 2>/dev/null
run_load "$WORK/refused.json" 1 "http://127.0.0.1:$GONE/" -d 500ms --warmup 0 --json
check_true "refused: connect errors counted" [ "$(json_err "$WORK/refused.json" connect)" -gt 0 ]
check_contains "refused: message" "refused" "$(cat "$WORK/refused.json.err")"
# Until stable (no -d), a port that refuses every connect of the first window stops there with an
# error naming the target: it ran all 10 windows and reported zeros. --json still prints the
# figures of that window, and --result is written.
run_load "$WORK/closed.json" 1 "http://127.0.0.1:$GONE/x" --warmup 100ms --window 200ms --json \
    --result "$WORK/closed.result"
check "closed port: one window run" 1 "$(sed -n 's/.*"windows_run":\([0-9]*\).*/\1/p' "$WORK/closed.json")"
check_contains "closed port: the error names the target" \
    "no connection to http://127.0.0.1:$GONE/x could be made in the first 0.20 s" \
    "$(cat "$WORK/closed.json.err")"
check_contains "closed port: ... and the connect error" "Connection refused" \
    "$(cat "$WORK/closed.json.err")"
check_contains "closed port: --result written" '"first_error":"connect: Connection refused"' \
    "$(cat "$WORK/closed.result")"
run_load "$WORK/closed.txt" 1 "http://127.0.0.1:$GONE/" --warmup 100ms --window 200ms
check_false "closed port: no summary of zeros" grep -q "req/s" "$WORK/closed.txt"
# A host that drops the SYNs (a full accept queue here, a firewall elsewhere): each connect times
# out after --timeout, later than the end of the first window, which then had no error at all;
# it ran every window (10) and said only "every request failed", not that nothing connected.
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' >"$WORK/ok.http"
start_canned dropsyn "$WORK/ok.http" --queue-full-ms 60000
run_load "$WORK/dropsyn.json" 1 "http://127.0.0.1:$PORT/x" --warmup 0 --window 200ms \
    --timeout 300ms --json
check "SYNs dropped: stops at the first connect error, window 2" 2 \
    "$(jq -r .windows_run "$WORK/dropsyn.json")"
check_contains "SYNs dropped: the error names the target" \
    "no connection to http://127.0.0.1:$PORT/x could be made in the first 0.40 s" \
    "$(cat "$WORK/dropsyn.json.err")"
check_contains "SYNs dropped: ... and the connect error" "connect timed out" \
    "$(cat "$WORK/dropsyn.json.err")"
kill "$SERVICE_PID"

# listen_later NAME MS: a free port (PORT) that refuses connections until a fake service starts
# listening on it MS milliseconds from now.
listen_later() {
    start_service "$1"
    kill "$SERVICE_PID"
    wait "$SERVICE_PID" 2>/dev/null
    "$MP_HELPERS/fake_service" --port "$PORT" --start-delay-ms "$2" >/dev/null 2>&1 &
    track $!
}

# Connections refused during the warm-up only (the service starts listening within it): the
# figures have no errors, and no error message beside them.
listen_later late 300
run_load "$WORK/late.json" 0 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 3s --json
check "refused during the warm-up only: no connect errors" 0 "$(json_err "$WORK/late.json" connect)"
check_false "refused during the warm-up only: no error message" \
    grep -q '"error_messages":{"' "$WORK/late.json"

# Closed loop, refused for the first 2.5 s of the run: the connect errors are counted, and the
# request that finally gets through is timed from its own connect, not from before the outage
# (its latency held the whole outage: max 3.17 s).
listen_later outage 2500
run_load "$WORK/outage.json" 0 "http://127.0.0.1:$PORT/infer" -c 1 -d 4s --warmup 0 --json
check_true "refused at first: connect errors counted" \
    [ "$(json_err "$WORK/outage.json" connect)" -gt 0 ]
outage_max=$(sed -n 's/.*"latency_us":{[^}]*"max":\([0-9]*\).*/\1/p' "$WORK/outage.json")
check_true "refused at first: the outage is not in the latency (max $outage_max us)" \
    [ "${outage_max:-9999999}" -lt 1500000 ]

# Accepts but never answers: timeouts, and the run ends on time.
start_service mute --mode no-answer
run_load "$WORK/mute.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 1s --warmup 0 \
    --timeout 200ms --json
check_true "never answers: timeouts counted" [ "$(json_err "$WORK/mute.json" timeout)" -gt 0 ]

# Never answers, and the timeout (2 s) is longer than the run: nothing completed, which is no
# measurement (it exited 0 with throughput 0 and no errors).
run_load "$WORK/mute2.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
check_contains "never answers within the run: message" "no request completed" \
    "$(cat "$WORK/mute2.json.err")"

# A rate too low for the run: nothing sent in the measured window, which is no measurement either.
start_service slow
run_load "$WORK/slow.json" 1 "http://127.0.0.1:$PORT/infer" -c 1 --rate 0.2 --warmup 500ms \
    -d 500ms --json
check_contains "nothing sent in the run: message" "rate is too low" "$(cat "$WORK/slow.json.err")"

# Closes in the middle of a response: read errors.
start_service half --mode close-mid --service-us 100
run_load "$WORK/half.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
check_true "close mid-response: read errors counted" [ "$(json_err "$WORK/half.json" read)" -gt 0 ]
check_contains "close mid-response: message" "middle of a response" \
    "$(cat "$WORK/half.json.err")"

# Malformed status line and a 1 MiB header: parse errors.
start_service bad --mode malformed --service-us 100
run_load "$WORK/bad.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
check_true "malformed: parse errors counted" [ "$(json_err "$WORK/bad.json" parse)" -gt 0 ]
check_contains "malformed: the message says what was wrong" "status code is not 3 digits" \
    "$(cat "$WORK/bad.json.err")"
start_service big --mode huge-header --service-us 100
run_load "$WORK/big.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
check_true "huge header: parse errors counted" [ "$(json_err "$WORK/big.json" parse)" -gt 0 ]
check_contains "huge header: message" "size limit" "$(cat "$WORK/big.json.err")"
# Every response takes 15 ms, past a 10 ms timeout: all are timeouts. Timeouts are scanned every
# 10 ms, and a response completing between the deadline and the next scan counted as a success
# (about half of them here, with latencies over the timeout).
start_service late --service-us 15000
run_load "$WORK/late.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 --timeout 10ms -d 500ms \
    --warmup 0 --json
check "responses after --timeout: none a success" 0 "$(json_num "$WORK/late.json" requests)"
check_true "responses after --timeout: timeouts counted" \
    [ "$(json_err "$WORK/late.json" timeout)" -gt 0 ]
finish
