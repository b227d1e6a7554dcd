#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# POST /api/v1/experiments/{ref}/resume continues an interrupted experiment inside the server from
# its stored spec, as `morphling run` resumes it, and refuses what `run` would not continue: a
# finished experiment, one running here, one a live `morphling run` drives (a real second
# process), a stored spec this build cannot read or whose paths leave --base-dir; 429 at
# --max-running. Also GET .../trials paging (?limit=&after=) and unknown query arguments (400).
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"
command -v jq >/dev/null || skip "jq is not installed"
command -v sqlite3 >/dev/null || skip "sqlite3 is not installed"

slow_replay_spec 1s 'max_trials: 6'
status() {
    m=$1
    p=$2
    shift 2
    curl -s -o "$WORK/body" -w '%{http_code}' -X "$m" -H "$AUTH" "$@" "$BASE$p"
}
state_is() { [ "$(status GET "/api/v1/experiments/$1")" = 200 ] && jq -en --arg s "$2" 'input | .state == $s' "$WORK/body" >/dev/null; }
finished_trials() {
    [ "$(status GET "/api/v1/experiments/$1/trials")" = 200 ] &&
        jq -en --argjson n "$2" 'input | [.trials[] | select(.state == "SUCCEEDED" or .state == "FAILED")] | length >= $n' "$WORK/body" >/dev/null
}
R=/api/v1/experiments/replay-demo

start_server --base-dir "$WORK"
check "create" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/spec.yaml")"
check "resume while it runs here: 409" 409 "$(status POST "$R/resume")"
check "... conflict" conflict "$(jq -r .error.code "$WORK/body")"
check_contains "... says it runs here" "already running in this server" "$(jq -r .error.message "$WORK/body")"
wait_for "two trials finish" finished_trials replay-demo 2
stop_server
start_server --base-dir "$WORK"
check "the stopped server left it INTERRUPTED" 0 "$(state_is replay-demo INTERRUPTED && echo 0)"

# As cancel: a GET does not resume, nor a request without the token or from another origin.
check "GET resume: 405" 405 "$(status GET "$R/resume")"
check "... Allow: POST" POST "$(curl -s -o /dev/null -D - -H "$AUTH" "$BASE$R/resume" | tr -d '\r' | sed -n 's/^Allow: //p')"
check "no token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$BASE$R/resume")"
check "another origin: 403" 403 "$(status POST "$R/resume" -H 'Origin: http://evil.example')"
check "still INTERRUPTED" 0 "$(state_is replay-demo INTERRUPTED && echo 0)"

stream_start "$WORK/events" "$R/events?after=0"
check "resume: 202" 202 "$(status POST "$R/resume" -H "Origin: $BASE")"
check "... {id, state}" '1 RUNNING' "$(jq -r '"\(.id) \(.state)"' "$WORK/body")"
stream_wait "$WORK/events" '^event: experiment_resumed'
check "experiment_resumed, as run writes it" 1 "$(grep -c '^event: experiment_resumed' "$WORK/events")"
check "a second resume while it runs: 409" 409 "$(status POST "$R/resume")"
wait_for "it finishes" state_is replay-demo SUCCEEDED
check "with exactly max_trials trials" 6 "$(status GET "$R/trials" >/dev/null && jq '.trials | length' "$WORK/body")"
check "resume a finished one: 409" 409 "$(status POST "$R/resume")"
check_contains "... says so" "already finished (SUCCEEDED)" "$(jq -r .error.message "$WORK/body")"
check "resume an unknown one: 404" 404 "$(status POST /api/v1/experiments/nope/resume)"

# Paging of the trials.
check "all trials without arguments" "6 null" "$(status GET "$R/trials" >/dev/null && jq -r '"\(.trials | length) \(.next_after)"' "$WORK/body")"
check "limit=4" "[1,2,3,4] 4" "$(status GET "$R/trials?limit=4" >/dev/null && jq -c '[.trials[].number]' "$WORK/body") $(jq .next_after "$WORK/body")"
check "limit=4&after=4" "[5,6] null" "$(status GET "$R/trials?limit=4&after=4" >/dev/null && jq -c '[.trials[].number]' "$WORK/body") $(jq .next_after "$WORK/body")"
check "after=6: none" "[] null" "$(status GET "$R/trials?after=6" >/dev/null && jq -c '[.trials[].number]' "$WORK/body") $(jq .next_after "$WORK/body")"
for bad in limit=0 limit=10001 limit=x after=-1 'limit=1&limit=2'; do
    check "trials?$bad: 400" 400 "$(status GET "$R/trials?$bad")"
done
check_contains "... naming the argument" "'limit'" "$(jq -r .error.message "$WORK/body")"

# Unknown query arguments are refused, naming them; the known ones still work.
check "export?fromat=k8s: 400" 400 "$(status GET "$R/export?fromat=k8s")"
check_contains "... naming it" "'fromat'" "$(jq -r .error.message "$WORK/body")"
check "export?format=k8s&container=c: 200" 200 "$(status GET "$R/export?format=k8s&container=c")"
check "events?afterr=1: 400" 400 "$(status GET "$R/events?afterr=1")"
check "experiments?x=1: 400" 400 "$(status GET "/api/v1/experiments?x=1")"
check "resume?x=1: 400" 400 "$(status POST "$R/resume?x=1")"
check "/?login=failed: 200" 200 "$(status GET "/?login=failed")"
check "/?token=TOKEN still logs in: 303" 303 "$(status GET "/?token=$TOKEN")"
check "/?token=TOKEN&utm_source=x logs in too: 303" 303 "$(status GET "/?token=$TOKEN&utm_source=x")"

# A live `morphling run` in another process drives an experiment: not doubled.
sed 's/^name: replay-demo/name: other/' "$WORK/spec.yaml" >"$WORK/other.yaml"
"$MORPHLING" run "$WORK/other.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>&1 &
RUN_PID=$!
track "$RUN_PID"
wait_for "the run drives it" state_is other RUNNING
check "resume what another process drives: 409" 409 "$(status POST /api/v1/experiments/other/resume)"
check_contains "... says so" "driven by another process (pid $RUN_PID)" "$(jq -r .error.message "$WORK/body")"
kill -INT "$RUN_PID"
wait "$RUN_PID"
check "the run is interrupted (130)" 130 "$?"
check "it stays INTERRUPTED: the server did not take it" 0 "$(state_is other INTERRUPTED && echo 0)"
# The server takes over what `run` left (its spec's folder is --base-dir).
# Two resumes at once: one engine (the engine's claim would let a second one of this process in).
curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$AUTH" "$BASE/api/v1/experiments/other/resume" >"$WORK/r1" &
R1=$!
curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "$AUTH" "$BASE/api/v1/experiments/other/resume" >"$WORK/r2"
wait "$R1"
check "two resumes at once: one resumes it, one is refused" "202 409" "$(sort "$WORK/r1" "$WORK/r2" | tr '\n' ' ' | sed 's/ $//')"
check "one engine resumed it" 1 "$(sqlite3 "$WORK/store.db" "SELECT count(*) FROM events JOIN experiments e ON e.id = experiment_id WHERE e.name = 'other' AND kind = 'experiment_resumed'")"
wait_for "it finishes in the server" state_is other SUCCEEDED
# A `morphling run` killed with SIGKILL leaves it RUNNING in the store, its claim stale (no
# process drives it): shown INTERRUPTED, and the server takes it over.
sed 's/^name: replay-demo/name: killed/' "$WORK/spec.yaml" >"$WORK/killed.yaml"
"$MORPHLING" run "$WORK/killed.yaml" --db "$WORK/store.db" --quiet >/dev/null 2>&1 &
RUN_PID=$!
track "$RUN_PID"
wait_for "a trial of killed finishes" finished_trials killed 1
kill -KILL "$RUN_PID"
wait "$RUN_PID"
check "the run is killed (137)" 137 "$?"
check "RUNNING in the store" RUNNING "$(sqlite3 "$WORK/store.db" "SELECT state FROM experiments WHERE name = 'killed'")"
check "shown INTERRUPTED" 0 "$(state_is killed INTERRUPTED && echo 0)"
check "resume what a killed run left: 202" 202 "$(status POST /api/v1/experiments/killed/resume)"
check "the server's engine claimed it" "$SERVER_PID" "$(sqlite3 "$WORK/store.db" "SELECT owner_pid FROM experiments WHERE name = 'killed'")"
wait_for "it finishes in the server" state_is killed SUCCEEDED
check "with exactly max_trials trials" 6 "$(status GET /api/v1/experiments/killed/trials >/dev/null && jq '.trials | length' "$WORK/body")"
stop_server

# --max-running: a resume takes a slot as a create does.
sed 's/^name: replay-demo/name: third/' "$WORK/spec.yaml" >"$WORK/third.yaml"
sed 's/^name: replay-demo/name: fourth/' "$WORK/spec.yaml" >"$WORK/fourth.yaml"
start_server --base-dir "$WORK" --max-running 1
check "create third" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/third.yaml")"
wait_for "a trial of third finishes" finished_trials third 1
stop_server
start_server --base-dir "$WORK" --max-running 1
check "create fourth" 201 "$(status POST /api/v1/experiments --data-binary @"$WORK/fourth.yaml")"
check "resume third at --max-running: 429" 429 "$(status POST /api/v1/experiments/third/resume)"
check "... too_many_running" too_many_running "$(jq -r .error.code "$WORK/body")"
check "cancel fourth" 202 "$(status POST /api/v1/experiments/fourth/cancel)"
wait_for "fourth ends" state_is fourth CANCELLED
check "then third resumes" 202 "$(status POST /api/v1/experiments/third/resume)"
check "cancel it" 202 "$(status POST /api/v1/experiments/third/cancel)"
wait_for "third ends" state_is third CANCELLED
check "resume a cancelled one: 409" 409 "$(status POST /api/v1/experiments/third/resume)"

# A stored spec this build cannot read, or whose paths leave --base-dir: refused, nothing runs.
sqlite3 "$WORK/store.db" "UPDATE experiments SET state = 'INTERRUPTED' WHERE name = 'fourth';
    UPDATE experiments SET state = 'INTERRUPTED',
        spec_json = json_set(spec_json, '$.runner.surface', '/etc/passwd') WHERE name = 'other';
    UPDATE experiments SET state = 'INTERRUPTED',
        spec_json = json_set(spec_json, '$.from_the_future', 1) WHERE name = 'replay-demo';"
check "a stored spec of another version: 409" 409 "$(status POST "$R/resume")"
check "... unsupported" unsupported "$(jq -r .error.code "$WORK/body")"
check_contains "... naming the field" "from_the_future" "$(jq -r .error.message "$WORK/body")"
check "a stored path outside --base-dir: 409" 409 "$(status POST /api/v1/experiments/other/resume)"
check_contains "... says it cannot resume here" "cannot be resumed here" "$(jq -r .error.message "$WORK/body")"
check "... and nothing about the file" "" "$(jq -r .error.message "$WORK/body" | grep root)"
check "both stay INTERRUPTED" "INTERRUPTED INTERRUPTED" \
    "$(sqlite3 "$WORK/store.db" "SELECT state FROM experiments WHERE name IN ('other', 'replay-demo')" | tr '\n' ' ' | sed 's/ $//')"
stop_server
# Another --base-dir: the experiment's relative paths would name other files.
mkdir "$WORK/elsewhere"
cp "$WORK/surface.csv" "$WORK/elsewhere/"
start_server --base-dir "$WORK/elsewhere"
check "resume from another --base-dir: 409" 409 "$(status POST /api/v1/experiments/fourth/resume)"
check_contains "... naming the folders" "not in this server's --base-dir" "$(jq -r .error.message "$WORK/body")"
stop_server
finish
