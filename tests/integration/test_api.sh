#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling serve` over real HTTP (curl + jq): every endpoint, error codes, the auth matrix
# (every request but /healthz and the page needs the token or the session the login URL hands
# to the page, as a bearer header; no cookie; 403 for a bad Host or Origin), secrets redacted in answers and exports, paths
# confined to --base-dir, the JSON answers for oversized or malformed requests, live events
# (read until the event that ends the experiment) and /metrics.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"

SPEC="$MP_SOURCE_DIR/tests/e2e/replay-live.yaml"
# status METHOD PATH [curl args...]: prints the HTTP status (the request carries the token);
# the body goes to $WORK/body. anon: the same without the token.
status() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" "$BASE$p"
}
anon() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" "$@" "$BASE$p"
}
body() { jq -r "$1" "$WORK/body"; }
get() { curl -s -H "$AUTH" "$BASE$1"; }

# in_state ID STATE: experiment ID is in STATE. wait_state ID STATE: waits for it; prints the
# state.
in_state() {
    [ "$(get "/api/v1/experiments/$1" | jq -r .state)" = "$2" ]
}
wait_state() {
    wait_for "experiment $1 reaches $2" in_state "$1" "$2" >&2
    get "/api/v1/experiments/$1" | jq -r .state
}
FINISHED='^data: .*"kind":"experiment_finished".*}$'

# ---- the default: a token, created next to the store ----------------------------------------
export MP_TEST_SECRET=from-the-servers-environment
start_server
check "a login URL is printed" 64 "${#TOKEN}"
check "the token file is the owner's only" 600 "$(stat -c %a "$WORK/store.db.token")"
check "the token file holds the token" "$TOKEN" "$(cat "$WORK/store.db.token")"
check "healthz needs no token" 200 "$(anon GET /healthz)"
check "the dashboard page needs no token" 200 "$(anon GET /)"
check_contains "index is the dashboard" "app.js" "$(cat "$WORK/body")"
check "uPlot is embedded" 200 "$(anon GET /vendor/uPlot.iife.min.js)"
# The dashboard's files are revalidated by their tag: 304 and no body while the build is the same.
curl -s -D "$WORK/asset.h" -o /dev/null "$BASE/app.js"
etag=$(sed -n 's/^ETag: \([^\r]*\).*/\1/p' "$WORK/asset.h" | tr -d '\r')
check_contains "a file has a tag" '"' "$etag"
check "... is revalidated, not stored" "Cache-Control: no-cache" "$(grep '^Cache-Control' "$WORK/asset.h" | tr -d '\r')"
check "... and not sent again while the same" "304 0" \
    "$(curl -s -o "$WORK/body" -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$BASE/app.js")"
check "... another file's tag does not match" 200 "$(anon GET /style.css -H "If-None-Match: $etag")"
check "API answers are never stored" "Cache-Control: no-store" \
    "$(curl -s -D - -o /dev/null "$BASE/healthz" | grep '^Cache-Control' | tr -d '\r')"
# A page that opened the dashboard (window.open) kept a handle on its window: it could send it
# anywhere later, such as a look-alike login page on another port of 127.0.0.1. The page is
# alone in its browsing context group, and no answer is read into another origin's page.
curl -s -D "$WORK/page.h" -o /dev/null "$BASE/"
check "the page is cut off from the page that opened it" "Cross-Origin-Opener-Policy: same-origin" \
    "$(grep '^Cross-Origin-Opener-Policy' "$WORK/page.h" | tr -d '\r')"
# No inline styles either (the page sets its data-driven sizes through the CSSOM): a style
# attribute or element that got into the page could not restyle it to mislead.
csp=$(sed -n 's/^Content-Security-Policy: \([^\r]*\).*/\1/p' "$WORK/page.h")
check_contains "the page has a Content-Security-Policy" "default-src 'self'" "$csp"
check "... allowing no inline script or style" "" "$(echo "$csp" | grep -o "'unsafe-[a-z-]*'")"
for p in / /app.js /api/v1/experiments; do
    check "$p is for this origin only" "Cross-Origin-Resource-Policy: same-origin" \
        "$(curl -s -D - -o /dev/null "$BASE$p" | grep '^Cross-Origin-Resource-Policy' | tr -d '\r')"
done
check "unknown page" 404 "$(anon GET /nope.html)"
check "an escaped NUL in the path" 400 "$(anon GET '/app.js%00x')"
for p in /api/v1/experiments /api/v1/events /api/v1/experiments/1 /metrics; do
    check "GET $p without the token" 401 "$(anon GET "$p")"
done
check "401 code" unauthorized "$(body .error.code)"
check "POST validate without the token" 401 "$(anon POST /api/v1/validate --data-binary @"$SPEC")"
check "a wrong token" 401 "$(anon GET /api/v1/experiments -H 'Authorization: Bearer 0123456789abcdef0123')"
# The login URL: a redirect to the page with a session of this start in the fragment, never the
# token, and no cookie (a cookie goes to every port of its host: while serve ran, a page of
# another local server opened in the same browser received it, and with it the API).
curl -s -D "$WORK/login.h" -o /dev/null "$BASE/?token=$TOKEN"
check "login answers 303" 303 "$(sed -n 's|^HTTP/1.1 \([0-9]*\).*|\1|p' "$WORK/login.h")"
SESSION=$(sed -n 's|^Location: /#session=\([0-9a-f]\{64\}\)\r*$|\1|p' "$WORK/login.h")
check_true "login redirects to the page with a session: $(grep '^Location' "$WORK/login.h")" [ -n "$SESSION" ]
check "... and sets no cookie" "" "$(grep -i '^Set-Cookie' "$WORK/login.h")"
# Whoever held the port while serve was down could have the browser keep its own page for the
# redirect to load (tests/e2e/squat.mjs): the browser drops what it kept of this origin first.
check "... clearing the browser's copies of this origin's pages" 'Clear-Site-Data: "cache"' \
    "$(grep '^Clear-Site-Data' "$WORK/login.h" | tr -d '\r')"
check_true "the session is not the token" [ "$SESSION" != "$TOKEN" ]
check "the session opens the API" 200 "$(anon GET /api/v1/experiments -H "Authorization: Bearer $SESSION")"
check "... and its streams" 200 "$(anon GET /api/v1/events -H "Authorization: Bearer $SESSION" --max-time 1 2>/dev/null; true)"
check "a cookie of the session opens nothing" 401 \
    "$(anon GET /api/v1/experiments -H "Cookie: morphling_session_$PORT=$SESSION")"
# A token pasted into the dashboard's dialog is exchanged in a request's header, never in an
# address the browser's history keeps (it went through the login URL).
check "POST /api/v1/session with the token" "200 $SESSION" \
    "$(anon POST /api/v1/session -H "Authorization: Bearer $TOKEN") $(body .session)"
check "... with a wrong token" 401 "$(anon POST /api/v1/session -H 'Authorization: Bearer nope-nope-nope-nope')"
check "... without one" 401 "$(anon POST /api/v1/session)"
check "... from a page of another origin" 403 \
    "$(anon POST /api/v1/session -H "Authorization: Bearer $TOKEN" -H 'Origin: http://127.0.0.1:1')"
check "... GET" 405 "$(anon GET /api/v1/session -H "Authorization: Bearer $TOKEN")"
check "a wrong login token" 401 "$(anon GET "/?token=nope-nope-nope-nope")"
check "a login token given twice" 401 "$(anon GET "/?token=$TOKEN&token=nope-nope-nope-nope")"
# A browser's wrong login goes back to the page, which asks again: the token leaves the address.
curl -s -D "$WORK/badlogin.h" -o /dev/null -H 'Accept: text/html,*/*' "$BASE/?token=nope-nope-nope-nope"
check "a browser's wrong login: 303 to the page" "303 /?login=failed" \
    "$(sed -n 's|^HTTP/1.1 \([0-9]*\).*|\1|p' "$WORK/badlogin.h") $(sed -n 's|^Location: \([^\r]*\).*|\1|p' "$WORK/badlogin.h" | tr -d '\r')"
check "... and no cookie" "" "$(grep -i '^Set-Cookie' "$WORK/badlogin.h")"
check "... clearing the browser's copies too" 'Clear-Site-Data: "cache"' \
    "$(grep '^Clear-Site-Data' "$WORK/badlogin.h" | tr -d '\r')"
check "empty list" 0 "$(get /api/v1/experiments | jq '.experiments | length')"

check "validate a valid spec" 200 "$(status POST /api/v1/validate --data-binary @"$SPEC")"
check "validate: space size" 768 "$(body .space.configurations)"
check "validate: no warning" 0 "$(body '.warnings | length')"
# What `morphling validate` warns of comes with the answer: a grid that max_trials cuts short.
sed 's/name: random/name: grid/' "$SPEC" >"$WORK/grid.yaml"
check "validate a grid cut short" 200 "$(status POST /api/v1/validate --data-binary @"$WORK/grid.yaml")"
cli=$(cd "$MP_SOURCE_DIR" && "$MORPHLING" validate - <"$WORK/grid.yaml" 2>&1 >/dev/null | sed 's|^morphling validate: warning: ||')
check "validate: the CLI's warning" "$cli" "$(body '.warnings[0]')"
check "... which names the cut" 1 "$(body '.warnings[0]' | grep -c 'grid search stops after max_trials = 30 of its 768')"
# ... and the spec's own warnings (a bare duration that reads like milliseconds), as the CLI's.
sed 's/delay: 150ms/delay: 500/' "$SPEC" >"$WORK/ms.yaml"
check "validate a delay of 500 s" 200 "$(status POST /api/v1/validate --data-binary @"$WORK/ms.yaml")"
check_contains "validate: the bare duration's warning" "'runner.delay': a bare number is seconds" \
    "$(body '.warnings | join(" | ")')"
sed 's/max_trials: 30/max_trials: zero/' "$SPEC" >"$WORK/bad.yaml"
check "validate an invalid spec" 400 "$(status POST /api/v1/validate --data-binary @"$WORK/bad.yaml")"
line=$(grep -n 'max_trials' "$WORK/bad.yaml" | cut -d: -f1)
check "validate: error code" invalid_spec "$(body .error.code)"
check "validate: error line" "$line" "$(body .error.line)"
cli=$(cd "$MP_SOURCE_DIR" && "$MORPHLING" validate "$WORK/bad.yaml" 2>&1 | sed "s|^morphling validate: $WORK/bad.yaml||")
check "validate: same message as the CLI" "$cli" "$(body .error.message | sed 's|^spec||')"
# A message cut inside a UTF-8 character (a long non-ASCII name) made jansson refuse it, and the
# server crashed (SIGSEGV) answering; whichever byte the cut falls on, it answers 400.
for prefix in a ab abc; do
    { printf 'name: %s' "$prefix"; for i in $(seq 600); do printf '\303\251'; done; printf '\n'; } \
        >"$WORK/utf8.yaml"
    check "validate a long non-ASCII name after '$prefix'" 400 \
        "$(status POST /api/v1/validate --data-binary @"$WORK/utf8.yaml")"
done
check "a 404 naming a ref like a position" 404 "$(status GET /api/v1/experiments/a:3:4:/trials)"
check "... has no line or column" "null null" "$(body '"\(.error.line) \(.error.column)"')"
check "GET on validate" 405 "$(status GET /api/v1/validate)"
# A 405 names the methods the route has (RFC 9110, 15.5.6: the server MUST send Allow).
allow() { curl -s -o /dev/null -D - -X "$1" -H "$AUTH" "$BASE$2" | tr -d '\r' | sed -n 's/^Allow: //p'; }
check "405 on validate: Allow" "POST" "$(allow GET /api/v1/validate)"
check "POST on /healthz: 405" 405 "$(status POST /healthz)"
check "POST on /healthz: Allow" "GET, HEAD" "$(allow POST /healthz)"
# HEAD on an event stream: headers only (the library sent a chunked body's last chunk).
check "HEAD on the event stream: no body" 0 \
    "$(curl -s --raw -X HEAD --max-time 5 -H "$AUTH" "$BASE/api/v1/events" | wc -c | tr -d ' ')"
check "HEAD on the event stream: its type" "text/event-stream" \
    "$(curl -s -I --max-time 5 -H "$AUTH" "$BASE/api/v1/events" | tr -d '\r' | sed -n 's/^Content-Type: //p')"
check "405 on the list: Allow" "GET, HEAD, POST" "$(allow PUT /api/v1/experiments)"
check "405 on a page: Allow" "GET, HEAD" "$(allow POST /index.html)"
# Issue 13: an int range of more than 10^12 values without a step killed the server.
printf 'name: big\nobjective: {metric: q}\nrunner: {kind: replay, surface: x.csv}\nparameters:\n  - {name: n, type: int, min: 1, max: 1000000000002}\n' >"$WORK/big-range.yaml"
check "an int range without step over 10^12 values: 400" 400 "$(status POST /api/v1/validate --data-binary @"$WORK/big-range.yaml")"
check_contains "naming max" "'parameters[0].max': more than 10^12 steps" "$(body .error.message)"
check "and the server lives on" 200 "$(anon GET /healthz)"

# A live experiment: events must arrive while it runs; the stream is read until the event that
# ends the experiment.
sed 's/delay: 150ms/delay: 50ms/' "$SPEC" >"$WORK/spec.yaml"
stream_start "$WORK/events.txt" "/api/v1/events?after=0"
check "create" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
id=$(body .id)
check "create: name" replay-live "$(body .name)"
check "create: no warning" 0 "$(body ".warnings | length")"
check "duplicate name" 409 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "duplicate: error code" exists "$(body .error.code)"
check "create invalid" 400 "$(status POST /api/v1/experiments --data-binary @"$WORK/bad.yaml")"
check "experiment finishes" SUCCEEDED "$(wait_state "$id" SUCCEEDED)"
stream_wait "$WORK/events.txt" "$FINISHED"
check "SSE: the stream saw the end" 0 "$?"
check "SSE: an experiment created through the API starts (not resumes)" "event: experiment_started" \
    "$(grep -m1 '^event: ' "$WORK/events.txt")"
check "SSE: trial_started events" 30 "$(grep -c '^event: trial_started' "$WORK/events.txt")"
check "SSE: trial_finished events" 30 "$(grep -c '^event: trial_finished' "$WORK/events.txt")"
check_contains "SSE: new_best" "event: new_best" "$(cat "$WORK/events.txt")"
check_contains "SSE: experiment_finished" '"state":"SUCCEEDED"' "$(grep -A1 'event: experiment_finished' "$WORK/events.txt")"
last=$(grep '^id: ' "$WORK/events.txt" | tail -n 3 | head -n 1 | cut -d' ' -f2)
stream_start "$WORK/resumed.txt" "/api/v1/experiments/$id/events" -H "Last-Event-ID: $last"
stream_wait "$WORK/resumed.txt" "$FINISHED"
check "SSE: Last-Event-ID resumes after that event" 2 "$(grep -c '^id: ' "$WORK/resumed.txt")"
# Header values are trimmed of optional whitespace (RFC 9110, 5.5): "12 " was answered 400.
stream_start "$WORK/resumed-ows.txt" "/api/v1/experiments/$id/events" -H "Last-Event-ID:  $last 	"
stream_wait "$WORK/resumed-ows.txt" "$FINISHED"
check "SSE: a Last-Event-ID with blanks around it resumes after that event" 2 \
    "$(grep -c '^id: ' "$WORK/resumed-ows.txt")"
check "SSE: a garbage Last-Event-ID" 400 "$(status GET /api/v1/events --max-time 5 -H "Last-Event-ID: $last x")"
check_contains "... says which" "event id '$last x' is not a non-negative integer" "$(body .error.message)"

check "get by id" 200 "$(status GET "/api/v1/experiments/$id")"
check "get: trials" 30 "$(body '.trials | length')"
check "get: pareto members are feasible trials" true \
    "$(jq '[.pareto.throughput_p99.trials[] as $n | .trials[] | select(.number == $n) | .state == "SUCCEEDED"] | all and length > 0' "$WORK/body")"
check "get by name" 200 "$(status GET /api/v1/experiments/replay-live)"
check "list" 1 "$(get /api/v1/experiments | jq '.experiments | length')"
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
# A number the API would not write is malformed (400) whatever its value; a well-formed one the
# experiment lacks is 404 (-1 was 404, 0x1 400).
for n in -1 0x1 +1 1.0 ' 1' 1e0; do
    check "logs of trial '$n' is malformed" 400 "$(status GET "/api/v1/experiments/$id/trials/$(jq -rn --arg n "$n" '$n | @uri')/logs")"
done
check "logs of trial 0" 400 "$(status GET "/api/v1/experiments/$id/trials/0/logs")"
# The event kinds the engine writes, published for the dashboard: every kind this stream saw is
# among them, and the list is the engine's table.
check "info" 200 "$(status GET /api/v1/info)"
check "info: the event kinds" \
    "experiment_started experiment_resumed trial_started trial_retry trial_interrupted trial_finished new_best confirm_started confirm_run confirm_finished experiment_finished" \
    "$(body '.event_kinds | join(" ")')"
check "info: every streamed kind is listed" "" \
    "$(sed -n 's/^event: //p' "$WORK/events.txt" | sort -u | while read -r k; do jq -en --arg k "$k" 'input | .event_kinds | index($k)' "$WORK/body" >/dev/null || echo "$k"; done)"
check "info: the version" "$("$MORPHLING" --version | cut -d' ' -f2)" "$(body .version)"
check "info needs the token" 401 "$(anon GET /api/v1/info)"
# The deployable result, as `morphling export` prints it.
check "export" 200 "$(status GET "/api/v1/experiments/$id/export")"
(cd "$MP_SOURCE_DIR" && "$MORPHLING" export "$id" --format deploy) >"$WORK/deploy-cli.json"
check "export: the same as export --format deploy" "$(jq -S . "$WORK/deploy-cli.json")" "$(jq -S . "$WORK/body")"
check "export: the recommended trial" "$(get "/api/v1/experiments/$id/recommendation" | jq .best.number)" "$(body .trial)"
check "export k8s" 200 "$(status GET "/api/v1/experiments/$id/export?format=k8s&container=web")"
check "export k8s: the named container" web "$(body '.spec.template.spec.containers[0].name')"
check "export k8s: cpu limit" "$(get "/api/v1/experiments/$id/recommendation" | jq -r '.best.params.cpu * 1000 | floor | tostring + "m"')" \
    "$(body '.spec.template.spec.containers[0].resources.limits.cpu')"
check "export k8s without a container" 400 "$(status GET "/api/v1/experiments/$id/export?format=k8s")"
check_contains "export: the error names container" "container=NAME" "$(body .error.message)"
check "export: an invalid container name" 400 "$(status GET "/api/v1/experiments/$id/export?format=k8s&container=a%22b")"
check_contains "export: the error says why" "RFC 1123 label" "$(body .error.message)"
check "export: an unknown format" 400 "$(status GET "/api/v1/experiments/$id/export?format=zip")"
check "export: a huge target_rps" 400 "$(status GET "/api/v1/experiments/$id/export?format=k8s&container=web&target_rps=1e22")"
check_contains "export: the target's range" "1e+12" "$(body .error.message)"
check "export: a target_rps in range" 200 "$(status GET "/api/v1/experiments/$id/export?target_rps=5000")"
check "export: its replicas" true "$(body '.capacity_plan.replicas >= 1')"
# A headroom of its own, as `export --headroom` takes (it was ignored: the plan said 20 %).
check "export: a headroom" 200 "$(status GET "/api/v1/experiments/$id/export?target_rps=5000&headroom=0.5")"
check "export: the plan has that headroom" 0.5 "$(body '.capacity_plan.headroom')"
check "export: a negative headroom" 400 "$(status GET "/api/v1/experiments/$id/export?target_rps=5000&headroom=-1")"
check_contains "export: the error names headroom" "headroom '-1'" "$(body .error.message)"
check "export: a headroom without a target" 400 "$(status GET "/api/v1/experiments/$id/export?headroom=0.5")"
check_contains "export: the error says what it needs" "target_rps" "$(body .error.message)"
# A query argument given twice is refused (the first one was taken; the client may have meant
# the other).
check "export: a repeated argument" 400 "$(status GET "/api/v1/experiments/$id/export?format=k8s&container=a&container=b")"
check_contains "... named" "query argument 'container' given 2 times" "$(body .error.message)"
check "events: a repeated after" 400 "$(status GET "/api/v1/experiments/$id/events?after=1&after=2")"
check "export of a missing experiment" 404 "$(status GET /api/v1/experiments/nope/export)"
check "export: a finished, settled recommendation has no Warning" "" \
    "$(curl -s -D - -o /dev/null -H "$AUTH" "$BASE/api/v1/experiments/$id/export" | grep -i '^Warning')"
# The best so far of an experiment that stopped early (FAILED: more failed trials than it allows),
# on an unsettled measurement, was exported without a word; Warning headers now say so, as
# `morphling export` does on stderr.
printf 'a,score,stable,failure\n1,5,0,\n2,9,1,OOM_KILLED\n3,7,1,\n' >"$WORK/early.csv"
printf 'name: early\nparameters: [{name: a, type: int, min: 1, max: 3}]\nobjective: {metric: score}\nalgorithm: {name: grid, max_trials: 3, max_failed_trials: 0}\nrunner: {kind: replay, surface: early.csv}\n' \
    >"$WORK/early.yaml"
"$MORPHLING" run "$WORK/early.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>&1
for q in "" "?format=k8s&container=web"; do
    h=$(curl -s -D - -o /dev/null -H "$AUTH" "$BASE/api/v1/experiments/early/export$q" | tr -d '\r')
    check_contains "export$q of a stopped experiment: a Warning says so" \
        "Warning: 299 morphling \"experiment 'early' is FAILED after 2 of 3 trials: trial 1 is the best configuration so far, not its recommendation\"" "$h"
    check_contains "export$q: and that its measurement did not settle" \
        "Warning: 299 morphling \"the measurement of trial 1 did not settle" "$h"
done
check "POST export" 405 "$(status POST "/api/v1/experiments/$id/export")"
check "missing experiment" 404 "$(status GET /api/v1/experiments/nope)"
check "missing: error code" not_found "$(body .error.code)"
check "unknown API route" 404 "$(status GET /api/v1/nope)"
# A path with an empty segment names no resource (docs/api.md): /api/v1//experiments answered
# the list and /experiments/ID//trials the trials, as if the segment were not there.
for p in /api/v1//experiments /api/v1/experiments/ "/api/v1/experiments//$id" \
    "/api/v1/experiments/$id/" "/api/v1/experiments/$id//trials" \
    "/api/v1/experiments/$id/trials//1/logs" /api/v1//info /api/v1/; do
    check "GET $p: 404" "404 not_found" "$(status GET "$p") $(body .error.code)"
done
check "POST /api/v1//experiments: 404" 404 "$(status POST /api/v1//experiments --data-binary @"$WORK/spec.yaml")"
check "PUT on an experiment" 405 "$(status PUT "/api/v1/experiments/$id")"
check "405 on an experiment: Allow" "GET, HEAD, DELETE" "$(allow PUT "/api/v1/experiments/$id")"
check "405 on cancel: Allow" "POST" "$(allow GET "/api/v1/experiments/$id/cancel")"
check "cancel a finished experiment" 409 "$(status POST "/api/v1/experiments/$id/cancel")"

# Cancel a running experiment: it ends CANCELLED with no trial left running.
sed -e 's/name: replay-live/name: slow/' -e 's/delay: 150ms/delay: 300ms/' "$SPEC" >"$WORK/slow.yaml"
check "create slow" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/slow.yaml")"
slow=$(body .id)
wait_for "slow experiment starts" in_state "$slow" RUNNING
check "cancel running" 202 "$(status POST "/api/v1/experiments/$slow/cancel")"
check "cancelled" CANCELLED "$(wait_state "$slow" CANCELLED)"
check "no trial left running" 0 "$(get "/api/v1/experiments/$slow" | jq '.counts.running + .counts.pending')"

# Another process (`morphling run`) writes to the same store while the API reads it: no
# "database is locked", and its events reach the stream.
sed -e 's/name: replay-live/name: from-cli/' -e 's/delay: 150ms/delay: 20ms/' \
    -e "s|surface: examples/|surface: $MP_SOURCE_DIR/examples/|" "$SPEC" >"$WORK/cli.yaml"
newest=$(sqlite3 "$WORK/store.db" 'SELECT max(id) FROM events')
stream_start "$WORK/cli-events.txt" "/api/v1/events?after=$newest"
"$MORPHLING" run "$WORK/cli.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>"$WORK/run.err" &
run_pid=$!
errors=0
n=0
while kill -0 "$run_pid" 2>/dev/null && [ $n -lt 200 ]; do
    for p in /api/v1/experiments /api/v1/experiments/from-cli /metrics; do
        s=$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$BASE$p")
        case "$s" in 200 | 404) ;; *) errors=$((errors + 1)) ;; esac
    done
    n=$((n + 1))
done
wait "$run_pid"
check "concurrent run succeeds" 0 "$?"
check "reads during a concurrent run never fail" 0 "$errors"
check "no lock errors in the run" "" "$(grep -i locked "$WORK/run.err")"
stream_wait "$WORK/cli-events.txt" "$FINISHED"
check "events of the other process are streamed" 30 "$(grep -c '^event: trial_finished' "$WORK/cli-events.txt")"

# Security: Host, Origin, sizes.
check "bad Host" 403 "$(status GET /api/v1/experiments -H 'Host: evil.example:80')"
check "bad Host: code" bad_host "$(body .error.code)"
check "rebinding Host with our port" 403 "$(status GET / -H "Host: attacker.test:$PORT")"
check "localhost Host" 200 "$(status GET /healthz -H "Host: localhost:$PORT")"
check "a Host in capitals (host names are case-insensitive)" 200 "$(status GET /api/v1/info -H "Host: LocalHost:$PORT")"
check "cross-origin create" 403 "$(status POST /api/v1/experiments -H 'Origin: http://evil.example' --data-binary @"$WORK/spec.yaml")"
check "cross-origin delete" 403 "$(status DELETE "/api/v1/experiments/$id" -H 'Origin: http://evil.example')"
check "same-origin validate" 200 "$(status POST /api/v1/validate -H "Origin: http://127.0.0.1:$PORT" --data-binary @"$SPEC")"
head -c 2000000 /dev/zero | tr '\0' 'a' >"$WORK/big"
check "oversized body" 413 "$(status POST /api/v1/validate --data-binary @"$WORK/big")"
check "oversized body: code" too_large "$(body .error.code)"
# What the HTTP library would answer with an HTML page is answered in JSON (issue 13).
check "oversized head" 431 "$(status GET /healthz -H "X-Big: $(head -c 40000 /dev/zero | tr '\0' b)")"
check "oversized head: JSON" header_too_large "$(body .error.code)"
check "oversized request line" 414 "$(status GET "/$(head -c 10000 /dev/zero | tr '\0' u)")"
check "oversized request line: JSON" uri_too_long "$(body .error.code)"
# Heads of allowed size with thousands of fields, cookies or query arguments: the library ran out
# of its per-connection memory (an HTML 431, or no answer at all); the gate caps their counts.
many_fields=$(i=0; while [ $i -lt 3000 ]; do printf -- "-H a$i:v "; i=$((i + 1)); done)
# shellcheck disable=SC2086 # one -H per field
check "3000 header fields" 431 "$(status GET /healthz $many_fields)"
check "3000 header fields: JSON" header_too_large "$(body .error.code)"
cookies=$(i=0; while [ $i -lt 3000 ]; do printf 'c%s=v; ' $i; i=$((i + 1)); done)
check "3000 cookies" 431 "$(status GET /healthz -H "Cookie: $cookies")"
check "3000 cookies: JSON" header_too_large "$(body .error.code)"
args=$(i=0; while [ $i -lt 3000 ]; do printf 'a&'; i=$((i + 1)); done)
check "3000 query arguments" 414 "$(status GET "/healthz?$args")"
check "3000 query arguments: JSON" uri_too_long "$(body .error.code)"
some_fields=$(i=0; while [ $i -lt 90 ]; do printf -- "-H x$i:%0300d " 0; i=$((i + 1)); done)
cookies=$(i=0; while [ $i -lt 199 ]; do printf 'c%s=v; ' $i; i=$((i + 1)); done)
args=$(i=0; while [ $i -lt 99 ]; do printf 'a%s=1&' $i; i=$((i + 1)); done)
# shellcheck disable=SC2086
check "every count at its cap in a head near 32 KiB: served" 200 \
    "$(status GET "/healthz?${args}z=1" $some_fields -H "Cookie: ${cookies}z=1")"
# shellcheck disable=SC2086
check "... an API route's handler reads them all: it refuses the first, which it does not take" \
    "unknown query argument 'a0': this route takes none" \
    "$(status GET "/api/v1/info?${args}z=1" $some_fields -H "Cookie: ${cookies}z=1" >/dev/null; body .error.message)"
# Only the API refuses arguments it does not take (a misspelt one there changes the answer): the
# page opened from a link that gained tracking arguments, its files and a probe's /healthz?verbose
# are served (they were 400, JSON, in the browser too).
check "the page with an argument it does not read" 200 "$(anon GET "/?utm_source=chat")"
check "/healthz with one" 200 "$(anon GET "/healthz?verbose")"
check "/metrics with one" 200 "$(status GET "/metrics?name%5B%5D=x")"
# A public GET with a body: a client without the token, trickling it, held a worker for the
# body's deadline (60 s); 32 of them locked out every other client of 127.0.0.1.
check "a GET with a body" 400 "$(anon GET /healthz --data-binary @"$SPEC")"
check "a GET with a body: JSON" bad_request "$(body .error.code)"
check "Content-Length beyond 64 bits" 413 "$(status POST /api/v1/validate -H 'Content-Length: 99999999999999999999999' --data-binary @"$SPEC")"
check "Content-Length beyond 64 bits: JSON" too_large "$(body .error.code)"
check "a chunked body" 411 "$(status POST /api/v1/validate -H 'Transfer-Encoding: chunked' --data-binary @"$SPEC")"
check "a chunked body: JSON" length_required "$(body .error.code)"
raw=$(printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nno colon here\r\n\r\n' "$PORT" |
    timeout 30 curl -s "telnet://127.0.0.1:$PORT")
check_contains "a malformed head: JSON 400" '{"error":{"code":"bad_request"' "$raw"
check_contains "the gate's answer carries Referrer-Policy like every other" \
    "Referrer-Policy: no-referrer" "$raw"
check_contains "... and Cross-Origin-Resource-Policy" "Cross-Origin-Resource-Policy: same-origin" "$raw"
raw=$(printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nHost: evil.example\r\n\r\n' "$PORT" |
    timeout 30 curl -s "telnet://127.0.0.1:$PORT")
check_contains "a repeated Host: 400" '{"error":{"code":"bad_request"' "$raw"
raw=$(printf 'POST /api/v1/validate HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\nname:' "$PORT" |
    timeout 30 curl -s "telnet://127.0.0.1:$PORT")
check_contains "two Content-Lengths: 400" '{"error":{"code":"bad_request"' "$raw"

# Paths in submitted specs stay inside --base-dir; the answer names the field, not the file.
for path in ../../../../../../../etc/passwd /etc/passwd examples/no-such.csv; do
    sed "s|surface: .*|surface: $path|" "$SPEC" >"$WORK/escape.yaml"
    check "surface $path: 400" 400 "$(status POST /api/v1/validate --data-binary @"$WORK/escape.yaml")"
    check "surface $path: one message naming the field" \
        "'runner.surface': not found inside the folder that submitted specs may read (serve's --base-dir, the operator's --files-dir)" \
        "$(body .error.message | sed 's|^spec:[0-9]*:[0-9]*: ||')"
done
check "the answer holds nothing of the file" "" "$(grep -o 'root:' "$WORK/body")"

# Metrics, then delete. A method outside the standard ones counts as "other" (PROPFIND was
# counted as "PROPFIN", and every new method added series).
status PROPFIND /api/v1/experiments >/dev/null
get /metrics >"$WORK/metrics.txt"
check_contains "metrics: other methods" 'morphling_http_requests_total{route="api",method="other",code="405"} 1' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: experiments by state" 'morphling_experiments{state="SUCCEEDED"} 2' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: trials by state" 'morphling_trials{state="CANCELLED"}' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: trial durations" 'morphling_trial_duration_seconds_count' "$(cat "$WORK/metrics.txt")"
check_contains "metrics: request counts" 'morphling_http_requests_total{route="experiments",method="POST",code="201"} 2' "$(cat "$WORK/metrics.txt")"
# The gate's refusals carry the request's method too (the label was empty).
check_contains "metrics: the gate's refusals by method" 'morphling_http_requests_total{route="gate",method="POST",code="400"}' "$(cat "$WORK/metrics.txt")"
check "metrics: no empty method label" "" "$(grep 'method=""' "$WORK/metrics.txt")"
check_contains "metrics: latency histogram" 'morphling_http_request_duration_seconds_bucket{le="+Inf"}' "$(cat "$WORK/metrics.txt")"
# Each histogram: buckets never decrease, and the +Inf bucket equals the count.
for h in morphling_http_request_duration_seconds morphling_trial_duration_seconds; do
    check "metrics: $h is a well-formed histogram" ok "$(awk -v h="$h" '
        index($0, h "_bucket{le=\"") == 1 { if ($2 < last) bad = 1; last = $2; inf = $2 }
        $1 == h "_count" { count = $2 }
        END { print (!bad && count != "" && inf == count) ? "ok" : "bad" }' "$WORK/metrics.txt")"
done
# Secrets: the store and the answers keep the reference; literal values of secret-looking keys
# come back redacted, in the API and in exports.
cat "$SPEC" - >"$WORK/secret.yaml" <<'YAML'
service:
  command: [./server, --api-key=literal-key-1]
  env:
    API_TOKEN: literal-secret-1
    FROM_ENV: {from_env: MP_TEST_SECRET}
    PLAIN: visible
YAML
sed -i -e 's/name: replay-live/name: with-secrets/' -e 's/max_trials: 30/max_trials: 8/' \
    -e 's/delay: 150ms/delay: 0ms/' "$WORK/secret.yaml"
check "create with secrets" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/secret.yaml")"
check "it finishes" SUCCEEDED "$(wait_state with-secrets SUCCEEDED)"
check "get" 200 "$(status GET /api/v1/experiments/with-secrets)"
check "a literal secret is redacted" "<redacted>" "$(body .spec.service.env.API_TOKEN)"
check "a reference stays a reference" MP_TEST_SECRET "$(body .spec.service.env.FROM_ENV.from_env)"
check "a plain value stays" visible "$(body .spec.service.env.PLAIN)"
check "a secret-looking flag is redacted" "--api-key=<redacted>" "$(body '.spec.service.command[1]')"
check "no secret anywhere in the answer" "" "$(grep -o 'literal-secret-1\|literal-key-1\|from-the-servers' "$WORK/body")"
check "the store holds the reference, not the value" "" \
    "$(sqlite3 "$WORK/store.db" "SELECT spec_json FROM experiments WHERE name = 'with-secrets'" | grep -o from-the-servers)"
"$MORPHLING" export with-secrets --format deploy --db "$WORK/store.db" >"$WORK/deploy.json"
check "export: a reference is redacted" "<redacted>" "$(jq -r .env.FROM_ENV "$WORK/deploy.json")"
check "export: a literal secret is redacted" "<redacted>" "$(jq -r .env.API_TOKEN "$WORK/deploy.json")"
check "export: a plain value stays" visible "$(jq -r .env.PLAIN "$WORK/deploy.json")"
check "export: the folder the program ran in" true "$(jq '.workdir | startswith("/")' "$WORK/deploy.json")"
check "export: a secret-looking flag is redacted" "--api-key=<redacted>" "$(jq -r '.args[0]' "$WORK/deploy.json")"
"$MORPHLING" export with-secrets --format k8s --container server --db "$WORK/store.db" >"$WORK/k8s.json" 2>/dev/null
c='.spec.template.spec.containers[0]'
check "export k8s: secret variables are left to the cluster" "PLAIN=visible WORKERS" \
    "$(jq -r "[$c.env[] | .name + if .name == \"PLAIN\" then \"=\" + .value else \"\" end] | join(\" \")" "$WORK/k8s.json")"
check "export k8s: a secret-looking flag is redacted" "--api-key=<redacted>" "$(jq -r "$c.args[0]" "$WORK/k8s.json")"
check "export k8s: no secret anywhere" "" "$(grep -o 'literal-secret-1\|literal-key-1\|from-the-servers' "$WORK/k8s.json")"
sed -e 's/name: replay-live/name: unset-secret/' -e 's/MP_TEST_SECRET/MP_NOT_SET_ANYWHERE/' "$WORK/secret.yaml" >"$WORK/unset.yaml"
check "an unset variable is a 400" 400 "$(status POST /api/v1/validate --data-binary @"$WORK/unset.yaml")"
check_contains "naming the field" "'service.env.FROM_ENV': environment variable MP_NOT_SET_ANYWHERE is not set" "$(body .error.message)"

# An experiment whose stored spec this build cannot read (stored by another version of
# morphling) is the server's condition, not the request's: 500 `unsupported`, naming the field
# (it was 400 `invalid`); the list still shows it, and it can be deleted.
sqlite3 "$WORK/store.db" "UPDATE experiments SET spec_json = json_set(spec_json, '\$.future_field', 1) WHERE name = 'with-secrets'"
check "get of an unreadable experiment" 500 "$(status GET /api/v1/experiments/with-secrets)"
check "... unsupported" unsupported "$(body .error.code)"
check_contains "... naming the field" "'future_field': unknown key" "$(body .error.message)"
check "... its export too" 500 "$(status GET /api/v1/experiments/with-secrets/export)"
check "... listed with its error" true \
    "$(get /api/v1/experiments | jq '.experiments[] | select(.name == "with-secrets") | .error | test("future_field")')"
check "... deleted" 200 "$(status DELETE /api/v1/experiments/with-secrets)"

(curl -sN -H "$AUTH" "$BASE/api/v1/experiments/$id/events" >"$WORK/dstream"; echo end >"$WORK/ended") &
track $!
wait_for "the stream is open" grep -qs '^retry:' "$WORK/dstream"
# A process that claimed the experiment since it finished (a `run` raising its budget, before it
# marks it RUNNING) holds it: the delete is refused (it checked RUNNING experiments only, then
# deleted the one that process goes on writing).
sleep 30 &
holder=$!
track "$holder"
sqlite3 "$WORK/store.db" "UPDATE experiments SET owner_pid = $holder, owner_pidns = NULL, \
    heartbeat_at_ns = $(date +%s%N) WHERE id = $id"
check "delete of an experiment another process holds" 409 "$(status DELETE "/api/v1/experiments/$id")"
check_contains "... saying which" "being run by process $holder" "$(body .error.message)"
kill "$holder"
sqlite3 "$WORK/store.db" "UPDATE experiments SET owner_pid = NULL WHERE id = $id"
check "delete" 200 "$(status DELETE "/api/v1/experiments/$id")"
check "deleted" 404 "$(status GET "/api/v1/experiments/$id")"
# Its event stream ends (it went on for as long as the client stayed, holding a place in the pool).
wait_for "the deleted experiment's event stream ends" test -s "$WORK/ended"
check "the deleted experiment's event stream ends" 0 "$?"
check "delete missing" 404 "$(status DELETE "/api/v1/experiments/$id")"
stop_server

# The token is reused across restarts.
first=$TOKEN
start_server
check "the token survives a restart" "$first" "$TOKEN"
stop_server

# ---- listener rules --------------------------------------------------------------------------
"$MORPHLING" serve --listen 0.0.0.0:0 --db "$WORK/store.db" --no-auth >/dev/null 2>"$WORK/err"
check "non-loopback without a token is refused" 2 "$?"
check_contains "refusal names the flag" "--no-auth" "$(cat "$WORK/err")"
"$MORPHLING" serve --no-auth --token-file "$WORK/x" >/dev/null 2>&1
check "--no-auth with --token-file is a usage error" 2 "$?"
printf 'short\n' >"$WORK/short"
chmod 600 "$WORK/short"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/short" >/dev/null 2>&1
check "short token refused" 2 "$?"
printf 'secret-token-0123456789\n' >"$WORK/token"
chmod 644 "$WORK/token"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/token" >/dev/null 2>&1
check "world-readable token file refused" 2 "$?"
chmod 600 "$WORK/token"
ln -s "$WORK/token" "$WORK/token-link"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/token-link" >/dev/null 2>&1
check "a symlinked token file refused" 2 "$?"
# Bad options are refused before anything is created (here: the token file next to the store).
"$MORPHLING" serve --listen 127.0.0.1:99999 --db "$WORK/opts.db" >/dev/null 2>&1
check "a port over 65535 refused" 2 "$?"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/opts.db" --base-dir "$WORK/token" >/dev/null 2>"$WORK/opts.err"
check "a file as --base-dir refused" 2 "$?"
check_contains "... saying so" "not a directory" "$(cat "$WORK/opts.err")"
check_false "... with no token file left behind" test -e "$WORK/opts.db.token"
# An address in use: the error says how to get a free port (it said "Address already in use").
start_server
"$MORPHLING" serve --listen "127.0.0.1:$PORT" --db "$WORK/store.db" >/dev/null 2>"$WORK/inuse.err"
check "an address in use exits 1" 1 "$?"
check_contains "... suggesting a free port" \
    "Address already in use: another process listens there; choose another port, or --listen 127.0.0.1:0 for any free one" \
    "$(cat "$WORK/inuse.err")"
stop_server

# --no-auth: loopback only, a loud warning, and nothing asks for a token.
# The server writes the warning after its address (which start_server waits for), so a loaded
# machine may not have written it yet: wait for it. Started in an empty folder (--base-dir), the
# dashboard's template still validates: it names no file.
mkdir "$WORK/elsewhere"
start_server --no-auth --base-dir "$WORK/elsewhere"
wait_for "the --no-auth warning" grep -q "WARNING: --no-auth" "$WORK/server.err"
check_contains "--no-auth warns" "WARNING: --no-auth" "$(cat "$WORK/server.err")"
check "the dashboard's template validates in any folder" 200 \
    "$(anon POST /api/v1/validate --data-binary @"$MP_SOURCE_DIR/web/template.yaml")"
curl -s -o "$WORK/served.yaml" "$BASE/template.yaml"
check_true "the template is the one served" cmp -s "$WORK/served.yaml" "$MP_SOURCE_DIR/web/template.yaml"
check "--no-auth: no login URL" "" "$TOKEN"
check "--no-auth: the API answers without a token" 200 "$(anon GET /api/v1/experiments)"
check "--no-auth: no session to exchange a token for" 404 "$(anon POST /api/v1/session)"
stop_server

# ---- a given --token-file: the auth matrix ---------------------------------------------------
start_server --token-file "$WORK/token"
check "token file: the given token is used" secret-token-0123456789 "$TOKEN"
check "token: reads need it" 401 "$(anon GET /api/v1/experiments)"
check "token: create without token" 401 "$(anon POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "token: 401 code" unauthorized "$(body .error.code)"
check "token: wrong token" 401 "$(anon POST /api/v1/experiments -H 'Authorization: Bearer wrong-token-0123456789' --data-binary @"$WORK/spec.yaml")"
check "token: validate without token" 401 "$(anon POST /api/v1/validate --data-binary @"$SPEC")"
check "token: cancel without token" 401 "$(anon POST "/api/v1/experiments/$slow/cancel")"
check "token: delete without token" 401 "$(anon DELETE "/api/v1/experiments/$slow")"
check "token: bad Origin wins over a good token" 403 "$(status DELETE "/api/v1/experiments/$slow" -H 'Origin: http://evil.example')"
check "token: create with token" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "token: delete with token" 200 "$(status DELETE "/api/v1/experiments/$slow")"
check "token: delete running experiment" 200 "$(status DELETE /api/v1/experiments/replay-live)"
stop_server

# A token of one's own in base64 (openssl rand -base64): the printed login URL escapes its '+'
# (a query reads '+' as a space).
printf 'b64+/token=0123456789==\n' >"$WORK/token-b64"
chmod 600 "$WORK/token-b64"
start_server --token-file "$WORK/token-b64"
url=$(sed -n 's|.*open \(http://[^ ]*\) to log in.*|\1|p' "$WORK/server.out")
check "base64 token: the login URL escapes it" "$BASE/?token=b64%2B%2Ftoken%3D0123456789%3D%3D" "$url"
curl -s -D "$WORK/login-b64.h" -o /dev/null "$url"
check "base64 token: the printed login URL logs in" 303 \
    "$(sed -n 's|^HTTP/1.1 \([0-9]*\).*|\1|p' "$WORK/login-b64.h")"
session=$(sed -n 's|^Location: /#session=\([0-9a-f]*\)\r*$|\1|p' "$WORK/login-b64.h")
check "base64 token: its session opens the API" 200 \
    "$(anon GET /api/v1/experiments -H "Authorization: Bearer $session")"
stop_server
# The same token file, started again on the same port: the token still opens the API, the
# session of the previous start no longer does.
start_server --token-file "$WORK/token-b64" --listen "127.0.0.1:$PORT"
check "restarted: the token opens the API" 200 \
    "$(anon GET /api/v1/experiments -H 'Authorization: Bearer b64+/token=0123456789==')"
check "restarted: the previous start's session opens nothing" 401 \
    "$(anon GET /api/v1/experiments -H "Authorization: Bearer $session")"
stop_server
printf 'caf\303\251-0123456789\n' >"$WORK/token-utf8"
chmod 600 "$WORK/token-utf8"
"$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --token-file "$WORK/token-utf8" >/dev/null 2>"$WORK/err"
check "a token a header cannot carry is refused" 2 "$?"
check_contains "... saying why" "cannot be sent in a header" "$(cat "$WORK/err")"
finish
