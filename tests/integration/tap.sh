# SPDX-License-Identifier: Apache-2.0
# TAP-like result lines of the shell tests (sourced by tests/integration/lib.sh and
# tests/kube/test/lib.sh): ok / not ok, two checks and the closing count.
PASSED=0
FAILED=0

ok() {
    PASSED=$((PASSED + 1))
    echo "ok - $1"
}

not_ok() {
    FAILED=$((FAILED + 1))
    echo "not ok - $1"
}

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected [$2], got [$3]"; fi
}

# check_contains NAME NEEDLE HAYSTACK
check_contains() {
    case "$3" in
    *"$2"*) ok "$1" ;;
    *) not_ok "$1: [$2] not found in [$3]" ;;
    esac
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
