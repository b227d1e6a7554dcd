# SPDX-License-Identifier: Apache-2.0
# TAP-like result lines of the shell tests (sourced by tests/integration/lib.sh and
# tests/kube/test/lib.sh): the one assertion style of the shell tests.
#   check NAME EXPECTED ACTUAL       ok when ACTUAL equals EXPECTED
#   check_contains NAME NEEDLE TEXT  ok when TEXT contains NEEDLE
#   check_true NAME COMMAND [ARG]... ok when COMMAND succeeds
#   check_false NAME COMMAND [ARG].. ok when COMMAND fails
#   fail MESSAGE                     not ok, and the test stops (what follows cannot run)
#   skip MESSAGE                     nothing to test on this machine: the test passes
#   finish                           prints the counts; the last command of every test
# Its own variables start with lib_ (sh has no local variables).
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

check() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1: expected [$2], got [$3]"; fi
}

check_contains() {
    case "$3" in
    *"$2"*) ok "$1" ;;
    *) not_ok "$1: [$2] not found in [$3]" ;;
    esac
}

check_true() {
    lib_name=$1
    shift
    if "$@"; then ok "$lib_name"; else not_ok "$lib_name"; fi
}

check_false() {
    lib_name=$1
    shift
    if "$@"; then not_ok "$lib_name"; else ok "$lib_name"; fi
}

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}

fail() {
    not_ok "$*"
    finish
    exit 1
}

skip() {
    echo "ok - skipped: $*"
    exit 0
}
