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
start_server
MP_DEPS="$DEPS" MP_BASE="$BASE" MP_TOKEN="$TOKEN" MP_CHROMIUM="$CHROMIUM" \
    MP_PROFILE="$WORK/profile" MP_SHOTS="$MP_BUILD_DIR/e2e" \
    MP_SPEC="$MP_SOURCE_DIR/tests/e2e/replay-live.yaml" \
    timeout 240 node "$MP_SOURCE_DIR/tests/e2e/dashboard.mjs"
rc=$?
check "dashboard end-to-end (the steps are above)" 0 "$rc"
[ "$rc" = 0 ] || cat "$WORK/server.err"
stop_server
finish
