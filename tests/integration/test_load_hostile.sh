#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling load` against servers that bend HTTP/1.1: each response is canned bytes
# (tests/helpers/canned_http), and the load generator must count what really happened.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

# A server that closes the connection after each response without a "Connection: close": the
# next request on that connection finds it closed before any byte of its response, and is sent
# again on a new connection (RFC 9112 §9.3.1) instead of failing.
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' >"$WORK/ok.http"
start_canned closer "$WORK/ok.http" --close
run_load "$WORK/closer.json" 0 "http://127.0.0.1:$PORT/" -c 2 -d 500ms --warmup 0 --json
check "closes without saying so: no errors" 0 "$(json_err "$WORK/closer.json" total)"
check_true "closes without saying so: requests counted" \
    [ "$(json_num "$WORK/closer.json" requests)" -gt 0 ]
# A server that closes idle keep-alive connections with a 408 (RFC 9110 §15.5.9): no request of
# ours failed, and the next one goes to a new connection.
printf 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' \
    >"$WORK/408.http"
start_canned idle "$WORK/ok.http" --idle-ms 100 --idle-response "$WORK/408.http"
run_load "$WORK/idle.json" 0 "http://127.0.0.1:$PORT/" -c 1 --rate 4 -d 1s --warmup 0 --json
check "408 on idle connections: no errors" 0 "$(json_err "$WORK/idle.json" total)"
check_true "408 on idle connections: requests counted" \
    [ "$(json_num "$WORK/idle.json" requests)" -gt 0 ]
# The same timeout firing as a request arrives on the reused connection: the 408 answers that
# request, which is sent again on a new connection (half the requests were status errors).
start_canned race "$WORK/ok.http" --idle-race --idle-response "$WORK/408.http"
run_load "$WORK/race.json" 0 "http://127.0.0.1:$PORT/" -c 2 -d 500ms --warmup 0 --json
check "408 racing a request: no errors" 0 "$(json_err "$WORK/race.json" total)"
check_true "408 racing a request: requests counted" \
    [ "$(json_num "$WORK/race.json" requests)" -gt 0 ]
# With --expect-status 408 a 408 is the answer, not a keep-alive timeout: counted, and the
# connection kept (each request was sent again on a new connection, and only its second answer
# counted).
printf 'HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n' >"$WORK/408ka.http"
start_canned want408 "$WORK/408ka.http"
run_load "$WORK/want408.json" 0 "http://127.0.0.1:$PORT/" -c 1 -d 500ms --warmup 0 \
    --expect-status 408 --json
check "--expect-status 408: no errors" 0 "$(json_err "$WORK/want408.json" total)"
check_true "--expect-status 408: one connection, $(json_num "$WORK/want408.json" connects) opened" \
    [ "$(json_num "$WORK/want408.json" connects)" -le 1 ]
# A resend has what is left of the request's --timeout (it had a whole new one, and a request
# answered 800 ms after its first send counted as a success under a 600 ms timeout): each second
# request of a connection is dropped after 400 ms unanswered, and its resend answered after 400.
start_canned slowrace "$WORK/ok.http" --idle-race --delay-ms 400
run_load "$WORK/slowrace.json" 0 "http://127.0.0.1:$PORT/" -c 1 -d 2500ms --warmup 0 \
    --timeout 600ms --json
check_true "a resend past the request's timeout is a timeout" \
    [ "$(json_err "$WORK/slowrace.json" timeout)" -gt 0 ]
check_true "no success slower than the timeout: $(jq -c .latency_us.max "$WORK/slowrace.json") us" \
    jq -en 'input | .latency_us.max < 600000' "$WORK/slowrace.json"
# A reused connection closed in the middle of a chunked body lost a response, not a stale
# keep-alive: a read error, not a silent resend (a chunk-size line hid the head already read).
printf 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel' >"$WORK/cut.http"
start_canned cut "$WORK/ok.http" --idle-race --idle-response "$WORK/cut.http"
run_load "$WORK/cut.json" 0 "http://127.0.0.1:$PORT/" -c 1 -d 500ms --warmup 0 --json
check_true "closed mid-chunk on a reused connection: read errors" \
    [ "$(json_err "$WORK/cut.json" read)" -gt 0 ]
check "closed mid-chunk: the message" '"read: connection closed in the middle of a response"' \
    "$(jq -c .error_messages.read "$WORK/cut.json")"
# A request's --timeout includes the connect opened for it, as its latency does in closed loop:
# the first connect here takes a SYN retransmission (about 1 s, the server's accept queue is
# full for 700 ms) and the answer 1.5 s more, which counted as a success of 2.5 s under a 2 s
# timeout.
start_canned synq "$WORK/ok.http" --queue-full-ms 700 --delay-ms 1500
run_load "$WORK/synq.json" 0 "http://127.0.0.1:$PORT/" -c 1 -d 4s --warmup 0 --timeout 2s --json
check_true "no success slower than the timeout with its connect: $(jq -c .latency_us.max \
    "$WORK/synq.json") us" jq -en 'input | .requests > 0 and .latency_us.max < 2000000' "$WORK/synq.json"
# A resend whose new connection is refused (the server restarting) is then as any request after a
# refused connect: its clocks start at the attempt that connects (its timeout ran from the first
# send, so the server's first answer after a 1 s outage was a timeout under a 600 ms --timeout,
# and its uncorrected latency was over the corrected one).
start_canned restart "$WORK/ok.http" --idle-race --idle-response "$WORK/408.http" --down-ms 1000
run_load "$WORK/restart.json" 0 "http://127.0.0.1:$PORT/" -c 1 -d 2s --warmup 0 \
    --timeout 600ms --json
check_true "a resend refused while the server restarts: connect errors counted" \
    [ "$(json_err "$WORK/restart.json" connect)" -gt 0 ]
check "a resend refused while the server restarts: no timeout" 0 \
    "$(json_err "$WORK/restart.json" timeout)"
check_true "uncorrected latency within the corrected: $(jq -c '[.latency_us.max,
    .latency_uncorrected_us.max]' "$WORK/restart.json")" \
    jq -en 'input | .latency_uncorrected_us.max <= .latency_us.max' "$WORK/restart.json"

# A server that stops reading: a request larger than the socket buffers cannot be written, and
# the timeout says so rather than waiting for a response.
start_canned deaf "$WORK/ok.http" --no-read
head -c 8388608 /dev/zero >"$WORK/big"
run_load "$WORK/deaf.json" 1 "http://127.0.0.1:$PORT/" -c 1 -d 500ms --warmup 0 --timeout 200ms \
    --body "$WORK/big" --json
check_true "stops reading: timeouts counted" [ "$(json_err "$WORK/deaf.json" timeout)" -gt 0 ]
check_contains "stops reading: message" "not all written" "$(cat "$WORK/deaf.json.err")"
finish
