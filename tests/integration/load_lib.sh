# SPDX-License-Identifier: Apache-2.0
# Helpers for the `morphling load` integration tests (sourced after lib.sh): the fake service,
# fields of a JSON load report, and `morphling load` under a hard deadline.
: "${MP_HELPERS:?MP_HELPERS must point to the helper programs}"

# start_service NAME ARGS...: starts the fake service on a free port; sets PORT and SERVICE_PID.
start_service() {
    svc=$1
    shift
    "$MP_HELPERS/fake_service" --port 0 "$@" >"$WORK/$svc.port" 2>"$WORK/$svc.err" &
    SERVICE_PID=$!
    track "$SERVICE_PID"
    wait_for "fake service $svc starts" service_listening "$WORK/$svc"
    PORT=$(head -n1 "$WORK/$svc.port")
}

# service_listening PREFIX: the service wrote its port (the test stops when it died instead).
service_listening() {
    [ -s "$1.port" ] && return 0
    kill -0 "$SERVICE_PID" 2>/dev/null || fail "the fake service exited: $(cat "$1.err")"
    return 1
}

# json_num FILE KEY: first numeric value of "KEY": in a JSON file.
json_num() {
    grep -o "\"$2\":[-0-9.e+]*" "$1" | head -n1 | cut -d: -f2
}

# json_err FILE CLASS: error count of a class.
json_err() {
    sed -n "s/.*\"errors\":{[^}]*\"$2\":\([0-9]*\).*/\1/p" "$1" | head -n1
}

# run_load OUT EXPECTED_RC ARGS...: runs morphling load under a hard deadline (a hang stops the
# test) and checks its exit status; stdout goes to OUT, stderr to OUT.err.
run_load() {
    out=$1
    want=$2
    shift 2
    rc=0
    timeout 60 "$MORPHLING" load "$@" >"$out" 2>"$out.err" || rc=$?
    [ "$rc" != 124 ] || fail "morphling load $* hung past its deadline"
    if [ "$rc" = "$want" ]; then ok "morphling load $*: exit $want"; else
        not_ok "morphling load $*: exit $rc, want $want: $(cat "$out.err")"
    fi
}

# interrupt_load OUT SECONDS ARGS...: runs morphling load in the background, sends it SIGINT
# after SECONDS and sets rc to its exit status; stdout goes to OUT, stderr to OUT.err.
interrupt_load() {
    out=$1
    lib_after=$2
    shift 2
    "$MORPHLING" load "$@" >"$out" 2>"$out.err" &
    lib_pid=$!
    track $lib_pid
    sleep "$lib_after"
    kill -INT $lib_pid
    rc=0
    wait $lib_pid || rc=$?
}

# ge A B: A >= B for decimals.
ge() {
    awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'
}

# between A LO HI: LO <= A <= HI for decimals.
between() {
    ge "$1" "$2" && ge "$3" "$1"
}

# start_canned NAME FILE [--close]: starts tests/helpers/canned_http answering every request with
# the bytes of FILE; sets PORT and SERVICE_PID.
start_canned() {
    svc=$1
    shift
    "$MP_HELPERS/canned_http" --response "$@" >"$WORK/$svc.port" 2>"$WORK/$svc.err" &
    SERVICE_PID=$!
    track "$SERVICE_PID"
    wait_for "canned server $svc starts" service_listening "$WORK/$svc"
    PORT=$(head -n1 "$WORK/$svc.port")
}
