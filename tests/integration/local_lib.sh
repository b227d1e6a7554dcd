# SPDX-License-Identifier: Apache-2.0
# Helpers for the local-runner integration tests (sourced after lib.sh): a spec for the fake
# service, `morphling trial --json`, and checks of a trial's record.
: "${MP_HELPERS:?MP_HELPERS must point to the helper programs}"
FAKE=${MP_FAKE_SERVICE:-$MP_HELPERS/fake_service}
ANTICS=$MP_HELPERS/proc_antics

need_fake() {
    [ -x "$FAKE" ] || skip "$FAKE is not built (the fake service comes with the load generator)"
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
# elapsed seconds in ELAPSED. The exit status must be 0 or 1 (never a usage error or a crash):
# otherwise, or without a JSON record, the test stops.
run_trial() {
    out=$1
    shift
    t0=$(now)
    "$MORPHLING" trial "$@" --json >"$out" 2>"$out.err"
    rc=$?
    ELAPSED=$(echo "$t0 $(now)" | awk '{printf "%.3f", $2 - $1}')
    [ "$rc" -le 1 ] || fail "morphling trial exited $rc: $(cat "$out.err")"
    jq -en input "$out" >/dev/null || fail "no JSON record: $(cat "$out" "$out.err")"
}

field() { jq -r "$2" "$1"; }

# expect_class OUT CLASS: the trial failed with CLASS. How long it took is printed, not
# asserted (no wall-clock assertions: the machine may be loaded).
expect_class() {
    check "$2: state/failure ($(field "$1" .reason))" "FAILED/$2" \
        "$(field "$1" .state)/$(field "$1" .failure)"
    echo "# $2 after ${ELAPSED}s"
}

# processes_with TEXT: the processes whose command line holds TEXT, one "PID ARGS..." a line.
processes_with() {
    for f in /proc/[0-9]*/cmdline; do
        args=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
        case "$args" in
        *"$1"*)
            pid=${f#/proc/}
            echo "${pid%/cmdline} $args"
            ;;
        esac
    done
}

# no_process_with NONCE: no live process carries the trial's nonce on its command line.
no_process_with() {
    for pid in $(processes_with "$1" | cut -d' ' -f1); do
        state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
        [ "$state" = Z ] || [ "$state" = gone ] || return 1
    done
}

# expect_nothing_left OUT: no process still carries the trial's nonce, no cgroup is left and
# the runner says its teardown was clean.
expect_nothing_left() {
    nonce=$(field "$1" .meta.nonce)
    check_true "$1: the record has a nonce" [ "${nonce:-null}" != null ]
    check_true "$1: no process of the trial left" no_process_with "$nonce"
    cg=$(field "$1" '.meta.cgroup.path // empty')
    check_true "$1: no cgroup left ($cg)" [ ! -e "$cg" ]
    check "$1: teardown clean" true "$(field "$1" .meta.teardown.clean)"
}
