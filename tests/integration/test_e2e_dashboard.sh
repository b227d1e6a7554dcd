#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End-to-end test of the dashboard: headless Debian Chromium driven by playwright-core
# (tests/e2e/dashboard.mjs) against a real `morphling serve`. Fails, never skips, when Chromium
# or npm is missing (`make deps` installs them). Screenshots go to $MP_BUILD_DIR/e2e/.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/serve_lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build directory}"

CHROMIUM=${MP_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "not ok - $CHROMIUM is missing: run 'make deps' (Debian package chromium)"
    exit 1
fi
DEPS="$MP_BUILD_DIR/e2e-deps"
if [ ! -f "$DEPS/node_modules/playwright-core/package.json" ] ||
    ! cmp -s "$MP_SOURCE_DIR/tests/e2e/package-lock.json" "$DEPS/package-lock.json"; then
    mkdir -p "$DEPS"
    cp "$MP_SOURCE_DIR/tests/e2e/package.json" "$MP_SOURCE_DIR/tests/e2e/package-lock.json" "$DEPS/"
    (cd "$DEPS" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error) || {
        echo "not ok - npm ci of playwright-core failed"
        exit 1
    }
fi
mkdir -p "$MP_BUILD_DIR/e2e"
start_server || exit 1
if MP_DEPS="$DEPS" MP_BASE="$BASE" MP_TOKEN="$TOKEN" MP_CHROMIUM="$CHROMIUM" \
    MP_PROFILE="$WORK/profile" MP_SHOTS="$MP_BUILD_DIR/e2e" \
    timeout 240 node "$MP_SOURCE_DIR/tests/e2e/dashboard.mjs"; then
    ok "dashboard end-to-end"
else
    not_ok "dashboard end-to-end (see the steps above; server log below)"
    cat "$WORK/server.err"
fi
stop_server
finish
