#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Experiments the server runs, stopped by two requests at once: while a DELETE waits for the
# engine to stop (a service that ignores SIGTERM holds it for the grace period), a cancel finds
# the job stopping (202 CANCELLING) instead of cancelling the experiment in the store under the
# running engine, and a second DELETE waits for the same stop; the engine never trips over a
# state changed under it.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake
command -v jq >/dev/null || skip "jq is not installed"

cat >"$WORK/stubborn.yaml" <<SPEC
name: stubborn
service:
  command: ["$FAKE", "--port", "{port}", "--mode", "ignore-term"]
  readiness: {http: /healthz, interval: 50ms, timeout: 300ms, startup_timeout: 10s}
parameters:
  - {name: workers, type: int, min: 1, max: 4, target: {arg: --workers}}
objective: {metric: throughput_rps}
algorithm: {name: random, max_trials: 4}
runner:
  kind: local
  grace_period: 3s
  port_lock_dir: $WORK/ports
  fallback_limits: false
  load: {path: /infer, connections: 2, warmup: 30s, window: 30s, windows: 3}
SPEC

start_server --base-dir "$WORK"
status() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" "$BASE$p"
}
check "create" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/stubborn.yaml")"
running() {
    curl -s -H "$AUTH" "$BASE/api/v1/experiments/stubborn/trials" |
        jq -en 'input | [.trials[] | select(.state == "RUNNING")] | length > 0' >/dev/null
}
wait_for "a trial running" running
# ... and its service up: a trial is RUNNING in the store before its service starts, and one
# stopped before then stops at once (the DELETE below then ended before the cancel came).
service_up() {
    for port in $(processes_with "--mode ignore-term" |
        sed -n 's/.*--port \([0-9][0-9]*\).*/\1/p'); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return 0
    done
    return 1
}
wait_for "its service answers (SIGTERM is ignored from then on)" service_up
# The DELETE waits out the grace period; the cancel and the second DELETE come meanwhile.
curl -s -o "$WORK/del1" -w '%{http_code}' -X DELETE -H "$AUTH" "$BASE/api/v1/experiments/stubborn" >"$WORK/del1.code" &
DEL1=$!
track "$DEL1"
sleep 1
check "cancel while a DELETE stops the job: still stopping" 202 \
    "$(status POST /api/v1/experiments/stubborn/cancel)"
check "... CANCELLING" CANCELLING "$(jq -r .state "$WORK/body")"
code2=$(status DELETE /api/v1/experiments/stubborn)
wait "$DEL1"
check "the two DELETEs: one deletes, one finds it gone" "200 404" \
    "$(printf '%s\n%s\n' "$(cat "$WORK/del1.code")" "$code2" | sort | tr '\n' ' ' | sed 's/ $//')"
check "gone" 404 "$(status GET /api/v1/experiments/stubborn)"
check "the engine never saw its state changed under it" "" \
    "$(grep -E 'cannot start|is not allowed|experiment [0-9]+:' "$WORK/server.err")"

# An engine that fails (here the store refuses the start of its second trial) leaves the
# experiment INTERRUPTED with the error, as `morphling run` does, and `run` continues it: it was
# FAILED for good.
sqlite3 "$WORK/store.db" "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.kind = 'trial_started'
    AND NEW.trial_number = 2 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;"
mkdir -p "$WORK/examples/surfaces"
cp "$MP_SOURCE_DIR/examples/surfaces/synthetic-classifier.csv" "$WORK/examples/surfaces/"
sed -e 's|surface: surfaces/|surface: examples/surfaces/|' -e 's|max_trials: 40|max_trials: 4|' \
    "$MP_SOURCE_DIR/examples/replay-demo.yaml" >"$WORK/replay.yaml"
check "create a replay experiment" 201 \
    "$(status POST /api/v1/experiments --data-binary @"$WORK/replay.yaml")"
stopped() { [ "$(status GET /api/v1/experiments/replay-demo)" = 200 ] && jq -en 'input | .state != "RUNNING" and .state != "CREATED"' "$WORK/body" >/dev/null; }
wait_for "its engine stops" stopped
check "a failed engine leaves it INTERRUPTED" INTERRUPTED "$(jq -r .state "$WORK/body")"
check_contains "... with the error" "refused by the test" "$(jq -r .stop_reason "$WORK/body")"
sqlite3 "$WORK/store.db" "DROP TRIGGER refuse"
"$MORPHLING" run "$WORK/replay.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>&1
check "run continues it: exit 0" 0 "$?"
check "... to the end" "SUCCEEDED 4" \
    "$(status GET /api/v1/experiments/replay-demo >/dev/null && jq -r '"\(.state) \(.trials | length)"' "$WORK/body")"
stop_server

# --max-running: one experiment more than the server runs at once is refused before anything is
# stored, and taken once a running one has ended.
for n in 0 65; do
    "$MORPHLING" serve --db "$WORK/limit.db" --max-running $n >/dev/null 2>"$WORK/limit.err"
    check "serve --max-running $n: exit 2" 2 "$?"
done
check_contains "... names the option" "--max-running" "$(cat "$WORK/limit.err")"
start_server --base-dir "$WORK" --max-running 1
sed -e 's/^name: stubborn/name: first/' -e 's/ "--mode", "ignore-term"//' "$WORK/stubborn.yaml" >"$WORK/first.yaml"
sed 's/^name: first/name: second/' "$WORK/first.yaml" >"$WORK/second.yaml"
check "create the first" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/first.yaml")"
check "a second one while it runs: 429" 429 \
    "$(status POST /api/v1/experiments --data-binary @"$WORK/second.yaml")"
check "... too_many_running" too_many_running "$(jq -r .error.code "$WORK/body")"
check_contains "... naming the limit's option" "serve --max-running" "$(jq -r .error.message "$WORK/body")"
check "... and nothing stored" 404 "$(status GET /api/v1/experiments/second)"
check "cancel the first" 202 "$(status POST /api/v1/experiments/first/cancel)"
first_ended() { [ "$(status GET /api/v1/experiments/first)" = 200 ] && jq -en 'input | .state == "CANCELLED"' "$WORK/body" >/dev/null; }
wait_for "the first ends" first_ended
check "then the second starts" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/second.yaml")"
check "cancel it" 202 "$(status POST /api/v1/experiments/second/cancel)"
stop_server
finish
