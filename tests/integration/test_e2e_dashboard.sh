#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of the dashboard: headless Debian Chromium driven by playwright-core
# (tests/e2e/dashboard.mjs) against a real `morphling serve`. Fails, never skips, when Chromium
# or npm is missing (`make deps` installs them). Screenshots go to $MP_BUILD_DIR/e2e/.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build directory}"

CHROMIUM=${MP_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || fail "$CHROMIUM is missing: run 'make deps' (Debian package chromium)"
DEPS="$MP_BUILD_DIR/e2e-deps"
if [ ! -f "$DEPS/node_modules/playwright-core/package.json" ] ||
    ! cmp -s "$MP_SOURCE_DIR/tests/e2e/package-lock.json" "$DEPS/package-lock.json"; then
    mkdir -p "$DEPS"
    cp "$MP_SOURCE_DIR/tests/e2e/package.json" "$MP_SOURCE_DIR/tests/e2e/package-lock.json" "$DEPS/"
    (cd "$DEPS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) ||
        fail "npm ci of playwright-core failed"
fi
mkdir -p "$MP_BUILD_DIR/e2e"
start_server
MP_DEPS="$DEPS" MP_BASE="$BASE" MP_CHROMIUM="$CHROMIUM" \
    MP_PROFILE="$WORK/profile" MP_SHOTS="$MP_BUILD_DIR/e2e" \
    timeout 240 node "$MP_SOURCE_DIR/tests/e2e/dashboard.mjs"
rc=$?
check "dashboard end-to-end (the steps are above)" 0 "$rc"
[ "$rc" = 0 ] || cat "$WORK/server.err"
stop_server
finish
