#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A local trial that fails for a reason of ours (INFRA: here the service reports that its port
# was taken, and it is) is retried by the engine like any runner error, and recorded as INFRA
# after the retries; a failure of the service's own (CRASHED) is recorded at once, also when it
# reports a port in use while the trial's port is free (a port of its own).
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
need_fake

cat >"$WORK/svc.sh" <<'SVC'
#!/bin/sh
# $1 = what to say on stderr before exiting 1, $2 = the trial's port, $4 = a program that takes
# that port first (--port PORT) when given
if [ -n "${4:-}" ]; then
    "$4" --port "$2" >/dev/null 2>&1 &
    hex=$(printf '%04X' "$2")
    i=0
    until grep -q ":$hex 00000000:0000 0A" /proc/net/tcp || [ $i -ge 600 ]; do
        sleep 0.1
        i=$((i + 1))
    done
fi
echo "$1" >&2
exit 1
SVC
chmod +x "$WORK/svc.sh"

# spec NAME MESSAGE [PROGRAM]
spec() {
    cat >"$WORK/$1.yaml" <<SPEC
name: $1
service:
  command: ["$WORK/svc.sh", "$2", "{port}", "{x}", "${3:-}"]
  readiness: {http: /healthz, interval: 50ms, timeout: 300ms, startup_timeout: 20s}
parameters:
  - {name: x, type: discrete, values: [1]}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 1}
runner:
  kind: local
  grace_period: 500ms
  port_lock_dir: $WORK/ports
SPEC
}

spec taken "bind: Address already in use" "$FAKE"
"$MORPHLING" run "$WORK/taken.yaml" --quiet >"$WORK/taken.out" 2>&1
"$MORPHLING" show taken --json >"$WORK/taken.json" || fail "show: $(cat "$WORK/taken.out")"
check "port taken: class" "FAILED/INFRA" "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/taken.json")"
check_contains "port taken: reason" "taken by another process" \
    "$(jq -r '.trials[0].reason' "$WORK/taken.json")"
check "port taken: retried twice (last attempt)" 2 "$(jq -r '.trials[0].attempt' "$WORK/taken.json")"

# The same words while the trial's port is free: a port of the service's own was in use.
spec own "bind: Address already in use"
"$MORPHLING" run "$WORK/own.yaml" --quiet >"$WORK/own.out" 2>&1
"$MORPHLING" show own --json >"$WORK/own.json" || fail "show: $(cat "$WORK/own.out")"
check "own port in use: class" "FAILED/CRASHED" \
    "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/own.json")"
check_contains "own port in use: reason" "and not the trial's port" \
    "$(jq -r '.trials[0].reason' "$WORK/own.json")"
check "own port in use: not retried" 0 "$(jq -r '.trials[0].attempt' "$WORK/own.json")"

spec crash "something else went wrong"
"$MORPHLING" run "$WORK/crash.yaml" --quiet >"$WORK/crash.out" 2>&1
"$MORPHLING" show crash --json >"$WORK/crash.json" || fail "show: $(cat "$WORK/crash.out")"
check "crash: class" "FAILED/CRASHED" "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/crash.json")"
check "crash: not retried" 0 "$(jq -r '.trials[0].attempt' "$WORK/crash.json")"
finish
