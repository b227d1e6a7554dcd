# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the local-runner integration tests (sourced, not a test itself).
set -eu
: "${MORPHLING:?}" "${MP_HELPERS:?}"
FAKE=${MP_FAKE_SERVICE:-$MP_HELPERS/fake_service}
ANTICS=$MP_HELPERS/proc_antics
WORK=$(mktemp -d)
EXTRA_PIDS=""
cleanup() {
    for p in $EXTRA_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $EXTRA_PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

need_fake() {
    if [ ! -x "$FAKE" ]; then
        echo "SKIP: $FAKE is not built (the fake service comes with the load generator)"
        exit 0
    fi
}

now() { date +%s.%N; }

# write_spec FILE STARTUP_TIMEOUT COMMAND-JSON-ARRAY: a spec with a cpu and a memory parameter.
write_spec() {
    cat >"$1" <<SPEC
name: local-it
service:
  command: $3
  readiness:
    http: /healthz
    interval: 50ms
    timeout: 300ms
    startup_timeout: $2
parameters:
  - {name: cpu, type: float, min: 0.5, max: 2, step: 0.5, target: {resource: cpu}}
  - {name: memory, type: int, min: 32, max: 1024, target: {resource: memory}}
  - {name: mode, type: categorical, values: [healthy, no-listen, no-answer, unhealthy, exit, alloc, ignore-term, fork-tree, setsid]}
objective: {metric: throughput_rps}
runner:
  kind: local
  grace_period: 500ms
  port_lock_dir: $WORK/ports
  fallback_limits: false
  load: {path: /infer, connections: 4, warmup: 200ms, window: 300ms, windows: 3}
SPEC
}

# run_trial OUT SPEC ARGS...: runs `morphling trial --json`, stores the record in OUT and the
# elapsed seconds in ELAPSED. The exit status must be 0 or 1 (never a usage error or a crash).
run_trial() {
    out=$1
    shift
    t0=$(now)
    set +e
    "$MORPHLING" trial "$@" --json >"$out" 2>"$out.err"
    rc=$?
    set -e
    ELAPSED=$(echo "$t0 $(now)" | awk '{printf "%.3f", $2 - $1}')
    [ "$rc" -le 1 ] || fail "morphling trial exited $rc: $(cat "$out.err")"
    jq -e . "$out" >/dev/null || fail "no JSON record: $(cat "$out" "$out.err")"
}

field() { jq -r "$2" "$1"; }

# expect_class OUT CLASS [MAX_SECONDS]
expect_class() {
    got="$(field "$1" .state)/$(field "$1" .failure)"
    [ "$got" = "FAILED/$2" ] || fail "expected FAILED/$2, got $got: $(field "$1" .reason)"
    if [ $# -ge 3 ]; then
        awk -v e="$ELAPSED" -v m="$3" 'BEGIN { exit !(e <= m) }' ||
            fail "$2 took ${ELAPSED}s, more than ${3}s"
    fi
    echo "ok: $2 in ${ELAPSED}s"
}

# expect_nothing_left OUT: no process still carries the trial's nonce, no cgroup is left and
# the runner says its teardown was clean.
expect_nothing_left() {
    nonce=$(field "$1" .meta.nonce)
    [ -n "$nonce" ] && [ "$nonce" != null ] || fail "record has no nonce"
    for f in /proc/[0-9]*/cmdline; do
        if { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -q -- "$nonce"; then
            pid=${f#/proc/}
            pid=${pid%/cmdline}
            state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
            [ "$state" = Z ] || [ "$state" = gone ] ||
                fail "process $pid of the trial is still running"
        fi
    done
    cg=$(field "$1" '.meta.cgroup.path // empty')
    [ -z "$cg" ] || [ ! -e "$cg" ] || fail "cgroup $cg left behind"
    [ "$(field "$1" .meta.teardown.clean)" = true ] || fail "teardown not clean: $(cat "$1")"
}
