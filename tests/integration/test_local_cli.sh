#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling trial`: usage errors exit 2, --json prints only the JSON record, parameter values
# and spec overrides share --set, and an interrupt cancels the trial (exit 130) with nothing left.
. "$(dirname "$0")/local_lib.sh"
SPEC=$WORK/spec.yaml
cat >"$SPEC" <<SPEC
name: cli-it
service:
  command: ["$ANTICS", "{mode}", "{n}"]
  readiness: {tcp: true, interval: 50ms, startup_timeout: 30s}
parameters:
  - {name: mode, type: categorical, values: [tree, exit]}
  - {name: n, type: int, min: 0, max: 3}
objective: {metric: throughput_rps}
runner:
  kind: local
  grace_period: 200ms
  port_lock_dir: $WORK/ports
SPEC

set +e
"$MORPHLING" trial "$SPEC" --set mode=tree >"$WORK/o" 2>"$WORK/e"
rc=$?
set -e
[ $rc -eq 2 ] || fail "missing parameter: exit $rc"
grep -q "parameter 'n' needs a value" "$WORK/e" || fail "message: $(cat "$WORK/e")"
set +e
"$MORPHLING" trial "$SPEC" --set mode=tree --set n=9 >"$WORK/o" 2>"$WORK/e"
rc=$?
"$MORPHLING" trial "$SPEC" --bogus >/dev/null 2>&1
rc2=$?
set -e
[ $rc -eq 2 ] || fail "value out of range: exit $rc"
[ $rc2 -eq 2 ] || fail "unknown option: exit $rc2"
echo "ok: usage errors exit 2"

# A parameter value and a spec override in the same --set list.
run_trial "$WORK/a.json" "$SPEC" --set mode=exit --set n=3 --set runner.grace_period=100ms
expect_class "$WORK/a.json" CRASHED 2
[ "$(field "$WORK/a.json" .config.n)" = 3 ] || fail "config: $(jq -c .config "$WORK/a.json")"
[ "$(field "$WORK/a.json" .meta.exit.code)" = 3 ] || fail "exit code not recorded"
expect_nothing_left "$WORK/a.json"

# Interrupted while the service (a process tree) is starting.
"$MORPHLING" trial "$SPEC" --set mode=tree --set n=3 --json >"$WORK/b.json" 2>"$WORK/b.err" &
pid=$!
sleep 1
kill -INT $pid
set +e
wait $pid
rc=$?
set -e
[ $rc -eq 130 ] || fail "interrupted trial exited $rc: $(cat "$WORK/b.err")"
[ "$(field "$WORK/b.json" .state)" = CANCELLED ] || fail "state $(field "$WORK/b.json" .state)"
expect_nothing_left "$WORK/b.json"
echo "ok: interrupt cancels with nothing left"
echo "test_local_cli: ok"
