#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An owner killed but not yet reaped by its parent (a zombie: a driver that kills a run and
# starts the next one before it waits for the first, a container whose process 1 reaps no
# orphans) is dead: the next run takes the experiment over at once and list shows it
# INTERRUPTED. Before, kill(pid, 0) found the zombie and the experiment stayed RUNNING, refused
# to every run until its heartbeat was 60 s old.
. "$(dirname "$0")/lib.sh"
slow_replay_spec 100ms 'max_trials: 8'
DB="$WORK/store.db"
q() { sqlite3 -cmd '.timeout 10000' "$DB" "$1" 2>/dev/null; }

# The run's parent becomes a sleep, which never reaps it.
sh -c '"$1" run "$2" --db "$3" --quiet >/dev/null 2>&1 & echo $! >"$4"; exec sleep 60' sh \
    "$MORPHLING" "$WORK/spec.yaml" "$DB" "$WORK/pid" &
track $!
wait_for_file "$WORK/pid"
started() { [ "$(q "SELECT count(*) FROM trials WHERE state = 'SUCCEEDED'")" -ge 1 ] 2>/dev/null; }
wait_for "the first run stores a trial" started
pid=$(cat "$WORK/pid")
kill -9 "$pid"
zombie() { [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ]; }
wait_for "the killed run is a zombie" zombie
check_contains "list: INTERRUPTED" INTERRUPTED "$("$MORPHLING" list --db "$DB")"
"$MORPHLING" run "$WORK/spec.yaml" --db "$DB" --quiet >/dev/null 2>"$WORK/err"
check "the next run takes over and finishes" 0 "$?"
check "... saying nothing" "" "$(cat "$WORK/err")"
check "eight trials" 8 "$(q "SELECT count(*) FROM trials WHERE state IN ('SUCCEEDED','FAILED')")"
finish
