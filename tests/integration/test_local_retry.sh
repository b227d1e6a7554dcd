#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A local trial that fails for a reason of ours (INFRA: here the service reports that its port
# was taken) is retried by the engine like any runner error, and recorded as INFRA after the
# retries; a failure of the service's own (CRASHED) is recorded at once.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"

cat >"$WORK/svc.sh" <<'SVC'
#!/bin/sh
# $1 = what to say on stderr before exiting 1
echo "$1" >&2
exit 1
SVC
chmod +x "$WORK/svc.sh"

# spec NAME MESSAGE
spec() {
    cat >"$WORK/$1.yaml" <<SPEC
name: $1
service:
  command: ["$WORK/svc.sh", "$2", "{port}", "{x}"]
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

spec taken "bind: Address already in use"
"$MORPHLING" run "$WORK/taken.yaml" --quiet >"$WORK/taken.out" 2>&1
"$MORPHLING" show taken --json >"$WORK/taken.json" || fail "show: $(cat "$WORK/taken.out")"
check "port taken: class" "FAILED/INFRA" "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/taken.json")"
check_contains "port taken: reason" "taken by another process" \
    "$(jq -r '.trials[0].reason' "$WORK/taken.json")"
check "port taken: retried twice (last attempt)" 2 "$(jq -r '.trials[0].attempt' "$WORK/taken.json")"

spec crash "something else went wrong"
"$MORPHLING" run "$WORK/crash.yaml" --quiet >"$WORK/crash.out" 2>&1
"$MORPHLING" show crash --json >"$WORK/crash.json" || fail "show: $(cat "$WORK/crash.out")"
check "crash: class" "FAILED/CRASHED" "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/crash.json")"
check "crash: not retried" 0 "$(jq -r '.trials[0].attempt' "$WORK/crash.json")"
finish
