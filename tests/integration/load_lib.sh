# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the `morphling load` integration tests (sourced, not a test itself).
set -eu
: "${MORPHLING:?}" "${MP_HELPERS:?}"
WORK=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# start_service NAME ARGS...: starts the fake service on a free port; sets PORT.
start_service() {
    name=$1
    shift
    "$MP_HELPERS/fake_service" --port 0 "$@" >"$WORK/$name.port" 2>"$WORK/$name.err" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$WORK/$name.port" ]; do
        i=$((i + 1))
        [ $i -lt 100 ] || fail "fake service $name did not start: $(cat "$WORK/$name.err")"
        sleep 0.05
    done
    PORT=$(head -n1 "$WORK/$name.port")
}

# json_num FILE KEY: first numeric value of "KEY": in a JSON file.
json_num() {
    grep -o "\"$2\":[-0-9.e+]*" "$1" | head -n1 | cut -d: -f2
}

# json_err FILE CLASS: error count of a class.
json_err() {
    sed -n "s/.*\"errors\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1" | head -n1
}

# run_load OUT EXPECTED_RC ARGS...: runs morphling load under a hard deadline.
run_load() {
    out=$1
    want=$2
    shift 2
    rc=0
    timeout 60 "$MORPHLING" load "$@" >"$out" 2>"$out.err" || rc=$?
    [ "$rc" != 124 ] || fail "morphling load $* hung past its deadline"
    [ "$rc" = "$want" ] || fail "morphling load $*: exit $rc, want $want: $(cat "$out.err")"
}

# ge A B: A >= B for decimals.
ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'
}
