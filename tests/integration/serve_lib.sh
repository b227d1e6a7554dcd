# SPDX-License-Identifier: Apache-2.0
# Starting and stopping `morphling serve` for tests (sourced after lib.sh).
# start_server [ARGS...]: starts the server on a free port; sets SERVER_PID, PORT, BASE, and
# (unless --no-auth) TOKEN from the login URL it prints and AUTH, the header that carries it (the
# test stops when it does not start).
start_server() {
    # Emptied here, not only by the redirections below: those run in the background child, so
    # the loop could otherwise read the previous server's address from the old file.
    : >"$WORK/server.out"
    : >"$WORK/server.err"
    "$MORPHLING" serve --listen 127.0.0.1:0 --db "$WORK/store.db" --base-dir "$MP_SOURCE_DIR" \
        "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    track "$SERVER_PID"
    PORT=""
    i=0
    while [ $i -lt 300 ]; do
        PORT=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/server.out")
        [ -n "$PORT" ] && break
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    [ -n "$PORT" ] || fail "the server did not start: $(cat "$WORK/server.err")"
    BASE="http://127.0.0.1:$PORT"
    TOKEN=$(sed -n 's|.*/?token=\([^ ]*\) .*|\1|p' "$WORK/server.out")
    AUTH="Authorization: Bearer $TOKEN"
}

# stop_server: SIGTERM, then checks a clean exit (sanitizers report leaks as a failure).
stop_server() {
    kill -TERM "$SERVER_PID"
    if wait "$SERVER_PID"; then
        ok "server exits cleanly"
    else
        not_ok "server exit status $?"
        cat "$WORK/server.err"
    fi
}

# stream_start FILE PATH [CURL ARGS...]: reads the event stream at PATH into FILE in the
# background (with the token); sets STREAM_PID.
stream_start() {
    f=$1
    p=$2
    shift 2
    curl -sN -H "$AUTH" "$@" "$BASE$p" >"$f" &
    STREAM_PID=$!
    track "$STREAM_PID"
}

# stream_wait FILE PATTERN: waits until a line of FILE matches PATTERN (grep -E), then stops the
# stream: tests wait for the event they need, never for a fixed time.
stream_wait() {
    wait_for "an event matching '$2'" grep -Eq "$2" "$1"
    lib_rc=$?
    kill "$STREAM_PID" 2>/dev/null
    wait "$STREAM_PID" 2>/dev/null
    return $lib_rc
}
