# SPDX-License-Identifier: Apache-2.0
# The integration tests' library, sourced first by every tests/integration/test_*.sh (the
# domain helpers load_lib.sh, local_lib.sh and serve_lib.sh build on it). It gives a work folder
# ($WORK, with the store $MORPHLING_DB) that is removed at exit, background processes that are
# killed at exit (track PID), the assertions of tap.sh (check, check_contains, check_true,
# check_false, fail, skip, finish), and
#   wait_for NAME COMMAND [ARG]...   waits until COMMAND succeeds (checked every 0.1 s; a hang
#                                    guard of $MP_WAIT_S seconds, default 120, is a failure)
# Its own variables start with lib_ (sh has no local variables). Needs $MORPHLING and
# $MP_SOURCE_DIR (CTest sets them, with $MP_BUILD_DIR and $MP_HELPERS).
set -u
: "${MORPHLING:?MORPHLING must point to the morphling binary}"
: "${MP_SOURCE_DIR:?MP_SOURCE_DIR must point to the source tree}"
. "$MP_SOURCE_DIR/tests/integration/tap.sh"
WORK=$(mktemp -d /tmp/mp-it.XXXXXX)
export MORPHLING_DB="$WORK/store.db"
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

wait_for() {
    lib_name=$1
    shift
    lib_until=$(($(date +%s) + ${MP_WAIT_S:-120}))
    until "$@"; do
        [ "$(date +%s)" -lt "$lib_until" ] || {
            not_ok "$lib_name: still waiting after ${MP_WAIT_S:-120} s"
            return 1
        }
        sleep 0.1
    done
}

# wait_for_file FILE: waits until FILE exists and is not empty, as a server writes its address
# when it listens.
wait_for_file() {
    wait_for "$1 is written" test -s "$1"
}

# slow_replay_spec DELAY ALGORITHM: writes $WORK/spec.yaml, examples/replay-demo.yaml whose
# every trial takes DELAY (the replay runner's delay; the surface copied beside it), its
# `max_trials: 40` replaced by ALGORITHM (e.g. 'max_trials: 8\n  parallelism: 4').
slow_replay_spec() {
    cp "$MP_SOURCE_DIR/examples/surfaces/synthetic-classifier.csv" "$WORK/surface.csv"
    sed -e "s|surface: surfaces/synthetic-classifier.csv|surface: surface.csv\n  delay: $1|" \
        -e "s|max_trials: 40|$2|" "$MP_SOURCE_DIR/examples/replay-demo.yaml" >"$WORK/spec.yaml"
}
