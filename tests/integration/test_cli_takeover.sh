#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Issue 13: a run frozen past the claim's staleness is taken over by a second run; when the
# first one wakes up it says that another process took the experiment over (not "trial N:
# FAILED -> FAILED is not allowed"), exits 1 and writes nothing over the second one's results;
# also when it was stopped during the confirmation.
# Also: an experiment none of whose trials succeeded ends FAILED (exit 1), never SUCCEEDED.
. "$(dirname "$0")/lib.sh"
slow_replay_spec 1500ms 'max_trials: 4'
DB="$WORK/store.db"
q() { sqlite3 -cmd '.timeout 10000' "$DB" "$1" 2>/dev/null; }

"$MORPHLING" run "$WORK/spec.yaml" --quiet >"$WORK/a.out" 2>"$WORK/a.err" &
A=$!
track "$A"
one_running() { [ "$(q "SELECT count(*) FROM trials WHERE state = 'RUNNING'")" = 1 ]; }
wait_for "the first run's first trial runs" one_running
# freeze PID NAME: stops run PID and ages experiment NAME's heartbeat, as if it had been stopped
# for more than 60 s; prints 1 when done. (Retried in the unlikely case it was frozen inside a
# write transaction.)
freeze() {
    aged=""
    i=0
    while [ -z "$aged" ] && [ $i -lt 20 ]; do
        kill -STOP "$1"
        aged=$(q "UPDATE experiments SET heartbeat_at_ns = 0 WHERE name = '$2'; SELECT changes()")
        [ -n "$aged" ] || { kill -CONT "$1"; sleep 0.2; }
        i=$((i + 1))
    done
    echo "$aged"
}
check "the first run was frozen with its heartbeat aged" 1 "$(freeze "$A" replay-demo)"
"$MORPHLING" run "$WORK/spec.yaml" --quiet >"$WORK/b.out" 2>"$WORK/b.err"
check "the second run takes over and finishes" 0 "$?"
kill -CONT "$A"
wait "$A"
check "the first run stops with 1" 1 "$?"
check_contains "and says why" "took experiment 'replay-demo' over while this one was stopped" \
    "$(cat "$WORK/a.err")"
check "no bare transition error" "" "$(grep 'is not allowed' "$WORK/a.err")"
check "the second run's state stands" SUCCEEDED "$(q 'SELECT state FROM experiments')"
check "exactly max_trials terminal trials" 4 \
    "$(q "SELECT count(*) FROM trials WHERE state IN ('SUCCEEDED', 'FAILED')")"

# The same during the confirmation: the first run, frozen after its first confirmation run and
# waking up once the second one finished, said "confirmation run 1 of trial N is already
# recorded" and set the second one's SUCCEEDED experiment INTERRUPTED.
sed -e 's|name: replay-demo|name: confirm-takeover|' -e 's|delay: 1500ms|delay: 1s|' \
    -e 's|max_trials: 4|max_trials: 8\n  parallelism: 4\n  confirm: {top: 2, runs: 2}|' \
    "$WORK/spec.yaml" >"$WORK/confirm.yaml"
"$MORPHLING" run "$WORK/confirm.yaml" --quiet >"$WORK/c.out" 2>"$WORK/c.err" &
C=$!
track "$C"
one_recorded() { [ "$(q 'SELECT count(*) FROM confirm_runs')" -ge 1 ]; }
wait_for "the first run's first confirmation run is recorded" one_recorded
check "the confirming run was frozen with its heartbeat aged" 1 \
    "$(freeze "$C" confirm-takeover)"
"$MORPHLING" run "$WORK/confirm.yaml" --quiet >/dev/null 2>"$WORK/d.err"
check "the second run finishes the confirmation" 0 "$?"
kill -CONT "$C"
wait "$C"
check "the first run stops with 1" 1 "$?"
check_contains "and says why" "took experiment 'confirm-takeover' over while this one was stopped" \
    "$(cat "$WORK/c.err")"
check "the second run's state stands" SUCCEEDED \
    "$(q "SELECT state FROM experiments WHERE name = 'confirm-takeover'")"
check "one confirm_finished event" 1 \
    "$(q "SELECT count(*) FROM events WHERE kind = 'confirm_finished'")"

# No successful trial: FAILED, exit 1.
sed -e 's|p99_ms <= 150|p99_ms <= 0.001|' -e 's|name: replay-demo|name: none-succeed|' \
    -e 's|delay: 1500ms|delay: 0ms|' "$WORK/spec.yaml" >"$WORK/none.yaml"
"$MORPHLING" run "$WORK/none.yaml" --quiet >/dev/null 2>&1
check "no trial succeeded: exit 1" 1 "$?"
check "no trial succeeded: FAILED" FAILED "$(q "SELECT state FROM experiments WHERE name = 'none-succeed'")"
check_contains "and the reason says so" "none of the 4 trials succeeded" \
    "$(q "SELECT stop_reason FROM experiments WHERE name = 'none-succeed'")"
finish
