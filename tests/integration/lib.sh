# SPDX-License-Identifier: Apache-2.0
# The integration tests' library, sourced first by every tests/integration/test_*.sh (the
# domain helpers load_lib.sh, local_lib.sh and serve_lib.sh build on it). It gives a work folder
# ($WORK, with the store $MORPHLING_DB) that is removed at exit, background processes that are
# killed at exit (track PID), and one assertion style:
#   check NAME EXPECTED ACTUAL       ok when ACTUAL equals EXPECTED
#   check_contains NAME NEEDLE TEXT  ok when TEXT contains NEEDLE
#   check_true NAME COMMAND [ARG]... ok when COMMAND succeeds
#   check_false NAME COMMAND [ARG].. ok when COMMAND fails
#   fail MESSAGE                     not ok, and the test stops (what follows cannot run)
#   skip MESSAGE                     nothing to test on this machine: the test passes
#   wait_for NAME COMMAND [ARG]...   waits until COMMAND succeeds (checked every 0.1 s; a hang
#                                    guard of $MP_WAIT_S seconds, default 120, is a failure)
#   finish                           prints the counts; last command of every test
# The library's own variables start with lib_ (sh has no local variables). Needs $MORPHLING and
# $MP_SOURCE_DIR (CTest sets them, with $MP_BUILD_DIR and $MP_HELPERS).
set -u
: "${MORPHLING:?MORPHLING must point to the morphling binary}"
: "${MP_SOURCE_DIR:?MP_SOURCE_DIR must point to the source tree}"
WORK=$(mktemp -d /tmp/mp-it.XXXXXX)
export MORPHLING_DB="$WORK/store.db"
PASSED=0
FAILED=0
lib_tracked=""

cleanup() {
    for lib_pid in $lib_tracked; do kill "$lib_pid" 2>/dev/null; done
    for lib_pid in $lib_tracked; do wait "$lib_pid" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# track PID: a background process to kill at exit if it is still running then.
track() {
    lib_tracked="$lib_tracked $1"
}

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

wait_for() {
    lib_name=$1
    shift
    lib_waited=0
    until "$@"; do
        lib_waited=$((lib_waited + 1))
        [ "$lib_waited" -lt $((${MP_WAIT_S:-120} * 10)) ] || {
            not_ok "$lib_name: still waiting after ${MP_WAIT_S:-120} s"
            return 1
        }
        sleep 0.1
    done
}
