#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of the dashboard: headless Debian Chromium driven by playwright-core
# (tests/e2e/dashboard.mjs) against a real `morphling serve`. Fails, never skips, when Chromium
# or playwright-core is missing (`make deps` installs them; playwright-core into
# deps/cache/npm/tests/e2e, so the test needs no network). Screenshots go to $MP_BUILD_DIR/e2e/.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build directory}"

CHROMIUM=${MP_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: run 'make deps' (Debian package chromium)"
DEPS="$MP_SOURCE_DIR/deps/cache/npm/tests/e2e"
if [ ! -f "$DEPS/node_modules/playwright-core/package.json" ] ||
    ! cmp -s "$MP_SOURCE_DIR/tests/e2e/package-lock.json" "$DEPS/installed.lock"; then
    fail "playwright-core is missing or older than tests/e2e/package-lock.json: run 'make deps'"
fi
mkdir -p "$MP_BUILD_DIR/e2e"
# A port taken over while serve was down (tests/e2e/squat.mjs): the browser that opened it then
# keeps its pages, which a later start's login URL must not open.
squat() {
    MP_DEPS="$DEPS" MP_CHROMIUM="$CHROMIUM" MP_PROFILE="$WORK/squat" MP_BASE="${BASE:-}" \
        MP_TOKEN="${TOKEN:-}" timeout 60 node "$MP_SOURCE_DIR/tests/e2e/squat.mjs" "$1"
}
SQUAT_PORT=$(squat take)
case "$SQUAT_PORT" in
'' | *[!0-9]*) fail "tests/e2e/squat.mjs take: no port ($SQUAT_PORT)" ;;
esac
start_server --listen "127.0.0.1:$SQUAT_PORT"
squat login
check "a later start's login opens its own page (the steps are above)" 0 "$?"
stop_server
# An experiment `morphling run` left INTERRUPTED (Ctrl-C), for the page's Resume button; run from
# standard input in the source tree, the server's --base-dir, so its paths resolve there.
sed -e 's/^name: replay-live/name: e2e-resume/' -e 's/max_trials: 30/max_trials: 6/' \
    -e 's/delay: 150ms/delay: 700ms/' "$MP_SOURCE_DIR/tests/e2e/replay-live.yaml" >"$WORK/resume.yaml"
# stopped_run NAME SIGNAL: runs resume.yaml as experiment NAME and sends the run SIGNAL once a
# trial of it has finished; RUN_RC is the run's exit status.
stopped_run() {
    sed -e "s/^name: e2e-resume/name: $1/" "$WORK/resume.yaml" >"$WORK/$1.yaml"
    (cd "$MP_SOURCE_DIR" && exec "$MORPHLING" run - --db "$WORK/store.db" --quiet <"$WORK/$1.yaml" >/dev/null 2>&1) &
    RUN_PID=$!
    track "$RUN_PID"
    one_trial() {
        "$MORPHLING" show "$1" --json --db "$WORK/store.db" 2>/dev/null |
            jq -en 'input | .counts.succeeded + .counts.failed >= 1' >/dev/null
    }
    wait_for "a trial of $1 finishes" one_trial "$1"
    kill "-$2" "$RUN_PID"
    wait "$RUN_PID"
    RUN_RC=$?
}
stopped_run e2e-resume INT
check "e2e-resume is interrupted (130)" 130 "$RUN_RC"
# An experiment left RUNNING in the store by a `morphling run` killed with SIGKILL (its claim
# stale: no process drives it), for the page's Resume there too.
stopped_run e2e-killed KILL
check "e2e-killed is killed (137)" 137 "$RUN_RC"
if command -v sqlite3 >/dev/null; then
    check "e2e-killed stays RUNNING in the store" RUNNING \
        "$(sqlite3 "$WORK/store.db" "SELECT state FROM experiments WHERE name = 'e2e-killed'")"
fi
start_server
MP_DEPS="$DEPS" MP_BASE="$BASE" MP_TOKEN="$TOKEN" MP_CHROMIUM="$CHROMIUM" \
    MP_PROFILE="$WORK/profile" MP_SHOTS="$MP_BUILD_DIR/e2e" \
    MP_SPEC="$MP_SOURCE_DIR/tests/e2e/replay-live.yaml" MP_MORPHLING="$MORPHLING" \
    MP_DB="$WORK/store.db" timeout 240 node "$MP_SOURCE_DIR/tests/e2e/dashboard.mjs"
rc=$?
check "dashboard end-to-end (the steps are above)" 0 "$rc"
[ "$rc" = 0 ] || cat "$WORK/server.err"
stop_server
finish
