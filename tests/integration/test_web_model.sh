#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The dashboard's computations without a browser (tests/e2e/model.test.mjs under node --test):
# units and number formats, feasibility, best so far, parameter importance.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
command -v node >/dev/null 2>&1 || fail "node is missing: run 'make deps' (Debian package nodejs)"
node --test "$MP_SOURCE_DIR/tests/e2e/model.test.mjs" >"$WORK/out" 2>&1
rc=$?
check "node --test tests/e2e/model.test.mjs" 0 "$rc"
[ "$rc" = 0 ] || cat "$WORK/out"
finish
