#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The store file (issue 13): created owner-only in an owner-only folder (also through a link),
# a folder or a fifo refused by name; and a damaged store is an error, never an empty one:
# with the trials table's first page overwritten, list, show, export and run exit 1 naming the
# store file, and run writes nothing (no event, no state change) over it.
. "$(dirname "$0")/lib.sh"

# The default location: its folders and the file (with its WAL) are the owner's only.
env -u MORPHLING_DB XDG_DATA_HOME="$WORK/xdg" "$MORPHLING" run \
    "$MP_SOURCE_DIR/examples/replay-demo.yaml" --set algorithm.max_trials=2 --quiet >/dev/null
check "store folder is 0700" 700 "$(stat -c %a "$WORK/xdg/morphling")"
check "parent folder is 0700" 700 "$(stat -c %a "$WORK/xdg")"
check "store file is 0600" 600 "$(stat -c %a "$WORK/xdg/morphling/morphling.db")"
one_trial() {
    (umask 022 && "$MORPHLING" run "$MP_SOURCE_DIR/examples/replay-demo.yaml" --db "$1" \
        --set algorithm.max_trials=1 --quiet >/dev/null)
}
one_trial "$WORK/umask.db"
check "a --db file is 0600 whatever the umask" 600 "$(stat -c %a "$WORK/umask.db")"
# A --db that is a link to a file not there yet: the file is created 0600 too (SQLite created
# it 0644, readable by all). A folder or a fifo is refused by name (SQLite said "unable to open
# database file" and "disk I/O error").
ln -s "$WORK/target.db" "$WORK/link.db"
one_trial "$WORK/link.db"
check "a store created through a link is 0600" 600 "$(stat -c %a "$WORK/target.db")"
mkdir "$WORK/folder.db"
mkfifo "$WORK/fifo.db"
for what in folder fifo; do
    err=$(timeout 20 "$MORPHLING" list --db "$WORK/$what.db" 2>&1 >/dev/null)
    check "a $what for a store: exit 2" 2 "$?"
    check_contains "a $what for a store: says so" "$WORK/$what.db: a $what" "$err"
done
# Some other file: named as such, and left as it was.
printf 'my notes\n' >"$WORK/notes.txt"
err=$("$MORPHLING" list --db "$WORK/notes.txt" 2>&1 >/dev/null)
check "a text file for a store: exit 2" 2 "$?"
check "... says so" "morphling list: $WORK/notes.txt: not a morphling store: file is not a database" "$err"
check "... and is left as it was" "my notes" "$(cat "$WORK/notes.txt")"
# An empty file is no store: a reader leaves it empty (SQLite took it for an empty database,
# and list wrote the schema into it).
: >"$WORK/empty.db"
err=$("$MORPHLING" list --db "$WORK/empty.db" 2>&1 >/dev/null)
check "an empty file for a store: exit 1" 1 "$?"
check_contains "... says so" "there is no store $WORK/empty.db (an empty file" "$err"
check "... and is left empty" 0 "$(stat -c %s "$WORK/empty.db")"
# Another program's SQLite database is no store either: refused by name and left as it was
# (list and run wrote morphling's tables into it and switched it to WAL).
sqlite3 "$WORK/app.db" "CREATE TABLE notes (x); INSERT INTO notes VALUES ('mine')"
for cmd in "list" "run $MP_SOURCE_DIR/examples/replay-demo.yaml"; do
    # shellcheck disable=SC2086 # word splitting of $cmd is intended
    err=$("$MORPHLING" $cmd --db "$WORK/app.db" 2>&1 >/dev/null)
    check "another program's database, $cmd: exit 2" 2 "$?"
    check_contains "... says so" "$WORK/app.db: not a morphling store (it holds another program's table 'notes')" "$err"
done
check "... its tables are left as they were" "notes" "$(sqlite3 "$WORK/app.db" .tables)"
check "... and its journal too" "delete" "$(sqlite3 "$WORK/app.db" 'PRAGMA journal_mode')"
# A database with no table (a first run that could not write the schema: a full disk) is no store
# for a reader, which leaves it so; a run takes it.
sqlite3 "$WORK/bare.db" "CREATE TABLE t (a); DROP TABLE t"
err=$("$MORPHLING" list --db "$WORK/bare.db" 2>&1 >/dev/null)
check "a database with no table: list exits 1" 1 "$?"
check_contains "... says so" "there is no store $WORK/bare.db (a database with no table" "$err"
check "... and writes nothing into it" "" "$(sqlite3 "$WORK/bare.db" .tables)"
one_trial "$WORK/bare.db"
check "... a run takes it" 1 "$("$MORPHLING" show replay-demo --db "$WORK/bare.db" --json | jq '.trials | length')"
DB="$WORK/store.db"
"$MORPHLING" run "$MP_SOURCE_DIR/examples/replay-demo.yaml" --db "$DB" --quiet >/dev/null
check "the experiment ran" 40 "$("$MORPHLING" show replay-demo --db "$DB" --json | jq '.trials | length')"
# A store this user may not write (a read-only copy in a read-only folder): list, show and export
# read it as it is ("configure: attempt to write a readonly database" before: WAL wants its -shm).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    mkdir "$WORK/ro" && cp "$DB" "$WORK/ro/store.db" && chmod 0444 "$WORK/ro/store.db" &&
        chmod 0555 "$WORK/ro" && chmod 0755 "$WORK"
    as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$MORPHLING" "$@" --db "$WORK/ro/store.db"; }
    check "a read-only store: show" 40 "$(as_nobody show replay-demo --json 2>&1 | jq '.trials | length')"
    check_contains "... list" "replay-demo" "$(as_nobody list 2>&1)"
    check "... export" 41 "$(as_nobody export replay-demo --format csv 2>&1 | wc -l)"
    check "... and nothing was written there" "store.db" "$(ls "$WORK/ro")"
    # A run on a store this user may write in a folder it may not: SQLite's "attempt to write a
    # readonly database" named neither the folder nor the files it needs there.
    mkdir "$WORK/rodir" && cp "$DB" "$WORK/rodir/store.db" && chown 65534 "$WORK/rodir/store.db" &&
        chmod 0755 "$WORK/rodir"
    err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MORPHLING" run \
        "$MP_SOURCE_DIR/examples/replay-demo.yaml" --db "$WORK/rodir/store.db" 2>&1 >/dev/null)
    check "a store in a folder this user may not write: run exits 1" 1 "$?"
    check_contains "... says why" "$WORK/rodir/store.db: " "$err"
    check_contains "... and what to do" "(this user may not write the store file or its folder, where SQLite keeps its -wal and -shm files)" "$err"
    # A run killed before SQLite moved its results from the -wal file into the store: a reader
    # that may not write cannot read them, and says so (it said "schema 0" and "upgrade it").
    slow_replay_spec 0.2s 'max_trials: 40'
    mkdir "$WORK/wal" && chmod 0755 "$WORK/wal"
    "$MORPHLING" run "$WORK/spec.yaml" --db "$WORK/wal/store.db" --quiet >/dev/null 2>&1 &
    pid=$!
    track "$pid"
    wait_for "a trial stored" sh -c "[ \"\$(sqlite3 '$WORK/wal/store.db' 'SELECT count(*) FROM trials' 2>/dev/null)\" -gt 0 ]"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    chmod 0644 "$WORK/wal/store.db" "$WORK/wal/store.db-wal" "$WORK/wal/store.db-shm"
    err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$MORPHLING" list --db "$WORK/wal/store.db" 2>&1 >/dev/null)
    check "results left in the -wal file, read by another user: exit 1" 1 "$?"
    check_contains "... says where they are" "$WORK/wal/store.db: its results are still in its -wal file" "$err"
else
    ok "# SKIP a read-only store: needs root and setpriv to read it as another user"
fi
events=$(sqlite3 "$DB" 'SELECT count(*) FROM events')

# Overwrite the first page of the trials table with 0xff bytes (an invalid page type).
root=$(sqlite3 "$DB" "SELECT rootpage FROM sqlite_master WHERE name = 'trials'")
page=$(sqlite3 "$DB" 'PRAGMA page_size')
head -c "$page" /dev/zero | tr '\0' '\377' |
    dd of="$DB" bs="$page" seek=$((root - 1)) count=1 conv=notrunc 2>/dev/null

for cmd in "list" "show replay-demo" "export replay-demo --format csv" \
    "export replay-demo --format deploy" "run $MP_SOURCE_DIR/examples/replay-demo.yaml"; do
    # shellcheck disable=SC2086 # word splitting of $cmd is intended
    err=$("$MORPHLING" $cmd --db "$DB" 2>&1 >/dev/null)
    rc=$?
    check "$cmd: exit 1" 1 "$rc"
    check_contains "$cmd: names the store" "$DB: " "$err"
    check_contains "$cmd: says why" "malformed" "$err"
done
check "run wrote no event" "$events" "$(sqlite3 "$DB" 'SELECT count(*) FROM events')"
check "run left the state alone" SUCCEEDED "$(sqlite3 "$DB" 'SELECT state FROM experiments')"
# serve on a store of a newer morphling refuses to start (it served, every request but /healthz
# answering 500), before it makes a token beside it.
sqlite3 "$WORK/newer.db" "PRAGMA user_version = 99; CREATE TABLE t (a)"
err=$(timeout 20 "$MORPHLING" serve --db "$WORK/newer.db" --listen 127.0.0.1:0 2>&1 >/dev/null)
check "serve on a newer store exits 1" 1 "$?"
check_contains "... naming it" "newer.db: written by a newer morphling (schema 99" "$err"
check "... and makes no token" "" "$(ls "$WORK" | grep newer.db.token)"
finish
