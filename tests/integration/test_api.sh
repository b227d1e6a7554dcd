#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling serve` over real HTTP (curl + jq): every endpoint, error codes, the auth matrix
# (401 without a token on each state-changing route, 403 for a bad Host or Origin, 413 for
# oversized bodies), live events and /metrics.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"

SPEC="$MP_SOURCE_DIR/web/template.yaml"
# status METHOD PATH [curl args...]: prints the HTTP status; the body goes to $WORK/body.
status() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}
body() { jq -r "$1" "$WORK/body"; }

# Waits until experiment $1 is in state $2 (10 s at most).
wait_state() {
    i=0
    while [ $i -lt 100 ]; do
        s=$(curl -s "$BASE/api/v1/experiments/$1" | jq -r .state)
        [ "$s" = "$2" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    echo "$s"
}

# ---- without a token -------------------------------------------------------------------------
start_server || exit 1
check "healthz" 200 "$(status GET /healthz)"
check "dashboard index" 200 "$(status GET /)"
check_contains "index is the dashboard" "app.js" "$(cat "$WORK/body")"
check "uPlot is embedded" 200 "$(status GET /vendor/uPlot.iife.min.js)"
check "unknown page" 404 "$(status GET /nope.html)"
check "empty list" 0 "$(curl -s "$BASE/api/v1/experiments" | jq '.experiments | length')"

check "validate a valid spec" 200 "$(status POST /api/v1/validate --data-binary @"$SPEC")"
check "validate: space size" 768 "$(body .space.configurations)"
sed 's/max_trials: 30/max_trials: zero/' "$SPEC" >"$WORK/bad.yaml"
check "validate an invalid spec" 400 "$(status POST /api/v1/validate --data-binary @"$WORK/bad.yaml")"
line=$(grep -n 'max_trials' "$WORK/bad.yaml" | cut -d: -f1)
check "validate: error code" invalid_spec "$(body .error.code)"
check "validate: error line" "$line" "$(body .error.line)"
cli=$(cd "$MP_SOURCE_DIR" && "$MORPHLING" validate "$WORK/bad.yaml" 2>&1 | sed "s|^morphling: $WORK/bad.yaml||")
check "validate: same message as the CLI" "$cli" "$(body .error.message | sed 's|^spec||')"
check "GET on validate" 405 "$(status GET /api/v1/validate)"

# A live experiment: events must arrive while it runs.
sed 's/delay: 150ms/delay: 50ms/' "$SPEC" >"$WORK/spec.yaml"
curl -sN --max-time 4 "$BASE/api/v1/events?after=0" >"$WORK/events.txt" &
events_pid=$!
sleep 0.3
check "create" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
id=$(body .id)
check "create: name" replay-live "$(body .name)"
check "duplicate name" 409 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "duplicate: error code" exists "$(body .error.code)"
check "create invalid" 400 "$(status POST /api/v1/experiments --data-binary @"$WORK/bad.yaml")"
check "experiment finishes" SUCCEEDED "$(wait_state "$id" SUCCEEDED)"
wait "$events_pid"
check "SSE: an experiment created through the API starts (not resumes)" "event: experiment_started" \
    "$(grep -m1 '^event: ' "$WORK/events.txt")"
check "SSE: trial_started events" 30 "$(grep -c '^event: trial_started' "$WORK/events.txt")"
check "SSE: trial_finished events" 30 "$(grep -c '^event: trial_finished' "$WORK/events.txt")"
check_contains "SSE: new_best" "event: new_best" "$(cat "$WORK/events.txt")"
check_contains "SSE: experiment_finished" '"state":"SUCCEEDED"' "$(grep -A1 'event: experiment_finished' "$WORK/events.txt")"
last=$(grep '^id: ' "$WORK/events.txt" | tail -n 3 | head -n 1 | cut -d' ' -f2)
resumed=$(curl -sN --max-time 1 -H "Last-Event-ID: $last" "$BASE/api/v1/experiments/$id/events" | grep -c '^id: ')
check "SSE: Last-Event-ID resumes after that event" 2 "$resumed"

check "get by id" 200 "$(status GET "/api/v1/experiments/$id")"
check "get: trials" 30 "$(body '.trials | length')"
check "get: pareto members are feasible trials" true \
    "$(jq '[.pareto.throughput_p99.trials[] as $n | .trials[] | select(.number == $n) | .state == "SUCCEEDED"] | all and length > 0' "$WORK/body")"
check "get by name" 200 "$(status GET /api/v1/experiments/replay-live)"
check "list" 1 "$(curl -s "$BASE/api/v1/experiments" | jq '.experiments | length')"
check "trials" 200 "$(status GET "/api/v1/experiments/$id/trials")"
check "trials: failure reasons" true "$(body '[.trials[] | select(.state == "FAILED") | .reason != null] | all')"
check "recommendation" 200 "$(status GET "/api/v1/experiments/$id/recommendation")"
check "recommendation: best has p99" true "$(body '.best.metrics.p99_ms <= 150')"
check "pareto" 200 "$(status GET "/api/v1/experiments/$id/pareto")"
check "pareto: objective vs cost" cost_per_hour "$(body .objective_cost.y)"
check "space" 200 "$(status GET "/api/v1/experiments/$id/space")"
check "space: parameters" "cpu memory threads batch" "$(body '[.parameters[].name] | join(" ")')"
check "logs" 200 "$(status GET "/api/v1/experiments/$id/trials/1/logs")"
check "logs: fields" "1 string" "$(body '"\(.number) \(.stdout | type)"')"
check "logs of a missing trial" 404 "$(status GET "/api/v1/experiments/$id/trials/999/logs")"
check "missing experiment" 404 "$(status GET /api/v1/experiments/nope)"
check "missing: error code" not_found "$(body .error.code)"
check "unknown API route" 404 "$(status GET /api/v1/nope)"
check "PUT on an experiment" 405 "$(status PUT "/api/v1/experiments/$id")"
check "cancel a finished experiment" 409 "$(status POST "/api/v1/experiments/$id/cancel")"

# Cancel a running experiment: it ends CANCELLED with no trial left running.
sed -e 's/name: replay-live/name: slow/' -e 's/delay: 150ms/delay: 300ms/' "$SPEC" >"$WORK/slow.yaml"
check "create slow" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/slow.yaml")"
slow=$(body .id)
sleep 0.5
check "cancel running" 202 "$(status POST "/api/v1/experiments/$slow/cancel")"
check "cancelled" CANCELLED "$(wait_state "$slow" CANCELLED)"
check "no trial left running" 0 "$(curl -s "$BASE/api/v1/experiments/$slow" | jq '.counts.running + .counts.pending')"

# Another process (`morphling run`) writes to the same store while the API reads it: no
# "database is locked", and its events reach the stream.
sed -e 's/name: replay-live/name: from-cli/' -e 's/delay: 150ms/delay: 20ms/' \
    -e "s|surface: examples/|surface: $MP_SOURCE_DIR/examples/|" "$SPEC" >"$WORK/cli.yaml"
curl -sN --max-time 3 "$BASE/api/v1/events" >"$WORK/cli-events.txt" &
cli_events=$!
sleep 0.3
"$MORPHLING" run "$WORK/cli.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>"$WORK/run.err" &
run_pid=$!
errors=0
n=0
while kill -0 "$run_pid" 2>/dev/null && [ $n -lt 200 ]; do
    for p in /api/v1/experiments /api/v1/experiments/from-cli /metrics; do
        s=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$p")
        case "$s" in 200 | 404) ;; *) errors=$((errors + 1)) ;; esac
    done
    n=$((n + 1))
done
wait "$run_pid"
check "concurrent run succeeds" 0 "$?"
check "reads during a concurrent run never fail" 0 "$errors"
check "no lock errors in the run" "" "$(grep -i locked "$WORK/run.err")"
wait "$cli_events"
check "events of the other process are streamed" 30 "$(grep -c '^event: trial_finished' "$WORK/cli-events.txt")"

# Security: Host, Origin, sizes.
check "bad Host" 403 "$(status GET /api/v1/experiments -H 'Host: evil.example:80')"
check "bad Host: code" bad_host "$(body .error.code)"
check "rebinding Host with our port" 403 "$(status GET / -H "Host: attacker.test:$PORT")"
check "localhost Host" 200 "$(status GET /healthz -H "Host: localhost:$PORT")"
check "cross-origin create" 403 "$(status POST /api/v1/experiments -H 'Origin: http://evil.example' --data-binary @"$WORK/spec.yaml")"
check "cross-origin delete" 403 "$(status DELETE "/api/v1/experiments/$id" -H 'Origin: http://evil.example')"
check "same-origin validate" 200 "$(status POST /api/v1/validate -H "Origin: http://127.0.0.1:$PORT" --data-binary @"$SPEC")"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
check "oversized body" 413 "$(status POST /api/v1/validate --data-binary @"$WORK/big")"
check "oversized body: code" too_large "$(body .error.code)"
check "oversized header refused" true "$(s=$(status GET /healthz -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)"); [ "$s" -ge 400 ] && echo true)"

# Metrics, then delete.
curl -s "$BASE/metrics" >"$WORK/metrics.txt"
check_contains "metrics: experiments by state" 'morphling_experiments{state="SUCCEEDED"} 2' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: trials by state" 'morphling_trials{state="CANCELLED"}' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: trial durations" 'morphling_trial_duration_seconds_count' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: request counts" 'morphling_http_requests_total{route="experiments",method="POST",code="201"} 2' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: latency histogram" 'morphling_http_request_duration_seconds_bucket{le="+Inf"}' "$(cat "$WORK/metrics.txt")"
# Each histogram: buckets never decrease, and the +Inf bucket equals the count.
for h in morphling_http_request_duration_seconds morphling_trial_duration_seconds; do
    check "metrics: $h is a well-formed histogram" ok "$(awk -v h="$h" '
        index($0, h "_bucket{le=\"") == 1 { if ($2 < last) bad = 1; last = $2; inf = $2 }
        $1 == h "_count" { count = $2 }
        END { print (!bad && count != "" && inf == count) ? "ok" : "bad" }' "$WORK/metrics.txt")"
done
check "delete" 200 "$(status DELETE "/api/v1/experiments/$id")"
check "deleted" 404 "$(status GET "/api/v1/experiments/$id")"
check "delete missing" 404 "$(status DELETE "/api/v1/experiments/$id")"
stop_server

# ---- listener rules --------------------------------------------------------------------------
"$MORPHLING" serve --listen 0.0.0.0:0 --db "$WORK/store.db" >/dev/null 2>"$WORK/err"
check "non-loopback without a token is refused" 2 "$?"
check_contains "refusal names the flag" "--token-file" "$(cat "$WORK/err")"
printf 'short\n' >"$WORK/short"
chmod 600 "$WORK/short"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/short" >/dev/null 2>&1
check "short token refused" 2 "$?"
printf 'secret-token-0123456789\n' >"$WORK/token"
chmod 644 "$WORK/token"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/token" >/dev/null 2>&1
check "world-readable token file refused" 2 "$?"
chmod 600 "$WORK/token"

# ---- with a token: the auth matrix -----------------------------------------------------------
start_server --token-file "$WORK/token" || exit 1
AUTH="Authorization: Bearer secret-token-0123456789"
check "token: reads stay open" 200 "$(status GET /api/v1/experiments)"
check "token: create without token" 401 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "token: 401 code" unauthorized "$(body .error.code)"
check "token: wrong token" 401 "$(status POST /api/v1/experiments -H 'Authorization: Bearer wrong-token-0123456789' --data-binary @"$WORK/spec.yaml")"
check "token: validate without token" 401 "$(status POST /api/v1/validate --data-binary @"$SPEC")"
check "token: cancel without token" 401 "$(status POST "/api/v1/experiments/$slow/cancel")"
check "token: delete without token" 401 "$(status DELETE "/api/v1/experiments/$slow")"
check "token: bad Origin wins over a good token" 403 "$(status DELETE "/api/v1/experiments/$slow" -H "$AUTH" -H 'Origin: http://evil.example')"
check "token: create with token" 201 "$(status POST /api/v1/experiments -H "$AUTH" --data-binary @"$WORK/spec.yaml")"
check "token: delete with token" 200 "$(status DELETE "/api/v1/experiments/$slow" -H "$AUTH")"
check "token: delete running experiment" 200 "$(status DELETE /api/v1/experiments/replay-live -H "$AUTH")"
stop_server
finish
