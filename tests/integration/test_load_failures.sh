#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Bad input and failing servers: clear messages, the right error class, no crash, no hang.
. "$MP_SOURCE_DIR/tests/integration/load_lib.sh"

# Usage errors exit 2.
run_load "$WORK/u1" 2 "not a url at all" -d 1s
grep -q "morphling" "$WORK/u1.err" || fail "no message for a bad URL"
run_load "$WORK/u2" 2 "ftp://127.0.0.1/" -d 1s
run_load "$WORK/u3" 2 "http://127.0.0.1:1/" -c 0
run_load "$WORK/u4" 2 "http://127.0.0.1:1/" --capacity
grep -q "slo" "$WORK/u4.err" || fail "--capacity without --slo: $(cat "$WORK/u4.err")"
run_load "$WORK/u5" 2 "http://127.0.0.1:1/" --capacity --slo 'p97<=1s'
run_load "$WORK/u6" 2 "http://127.0.0.1:1/" -H 'no colon'

# Unresolvable host.
run_load "$WORK/dns" 1 "http://nonexistent.invalid/" -d 500ms
grep -q "cannot resolve" "$WORK/dns.err" || fail "unresolvable host: $(cat "$WORK/dns.err")"

# Refused connection: a port that was just closed.
start_service gone
GONE=$PORT
kill $PIDS
wait 2>/dev/null || true
PIDS=""
run_load "$WORK/refused.json" 1 "http://127.0.0.1:$GONE/" -d 500ms --warmup 0 --json
[ "$(json_err "$WORK/refused.json" connect)" -gt 0 ] || fail "refused: $(cat "$WORK/refused.json")"
grep -q "refused" "$WORK/refused.json.err" || fail "refused: $(cat "$WORK/refused.json.err")"

# Accepts but never answers: timeouts, and the run ends on time.
start_service mute --mode no-answer
run_load "$WORK/mute.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 1s --warmup 0 \
    --timeout 200ms --json
[ "$(json_err "$WORK/mute.json" timeout)" -gt 0 ] || fail "no timeouts: $(cat "$WORK/mute.json")"

# Closes in the middle of a response: read errors.
start_service half --mode close-mid --service-us 100
run_load "$WORK/half.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
[ "$(json_err "$WORK/half.json" read)" -gt 0 ] || fail "close mid-response: $(cat "$WORK/half.json")"
grep -q "middle of a response" "$WORK/half.json.err" || fail "message: $(cat "$WORK/half.json.err")"

# Malformed status line and a 1 MiB header: parse errors.
start_service bad --mode malformed --service-us 100
run_load "$WORK/bad.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
[ "$(json_err "$WORK/bad.json" parse)" -gt 0 ] || fail "malformed: $(cat "$WORK/bad.json")"
start_service big --mode huge-header --service-us 100
run_load "$WORK/big.json" 1 "http://127.0.0.1:$PORT/infer" -c 2 -d 500ms --warmup 0 --json
[ "$(json_err "$WORK/big.json" parse)" -gt 0 ] || fail "huge header: $(cat "$WORK/big.json")"
grep -q "size limit" "$WORK/big.json.err" || fail "message: $(cat "$WORK/big.json.err")"
echo "ok"
