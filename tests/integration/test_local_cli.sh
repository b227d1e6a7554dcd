#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling trial`: usage errors exit 2, --json prints only the JSON record, parameter values
# and spec overrides share --set, and an interrupt cancels the trial (exit 130) with nothing left.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
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

"$MORPHLING" trial "$SPEC" --set mode=tree >"$WORK/o" 2>"$WORK/e"
check "missing parameter: exit 2" 2 "$?"
check_contains "missing parameter: message" "parameter 'n' needs a value" "$(cat "$WORK/e")"
"$MORPHLING" trial "$SPEC" --set mode=tree --set n=9 >"$WORK/o" 2>"$WORK/e"
check "value out of range: exit 2" 2 "$?"
# A name neither a parameter nor a spec field: named with the parameters and the closest one (it
# was "--set:1:3: 'm': unknown key").
"$MORPHLING" trial "$SPEC" --set mode=tree --set nn=1 >"$WORK/o" 2>"$WORK/e"
check "no such parameter: exit 2" 2 "$?"
check_contains "no such parameter: message" \
    "--set nn: no parameter or spec field of that name (the parameters: mode, n); did you mean 'n'?" \
    "$(cat "$WORK/e")"
"$MORPHLING" trial "$SPEC" --bogus >/dev/null 2>&1
check "unknown option: exit 2" 2 "$?"

# A parameter value and a spec override in the same --set list.
run_trial "$WORK/a.json" "$SPEC" --set mode=exit --set n=3 --set runner.grace_period=100ms
expect_class "$WORK/a.json" CRASHED
check "--set: parameter value" 3 "$(field "$WORK/a.json" .config.n)"
# The configuration as show --json and the API give a trial's: `params`, numbers as numbers (the
# record had only `config`, every value a string).
check "--json: params as show's" '{"mode":"exit","n":3}' "$(jq -c .params "$WORK/a.json")"
check "exit code recorded" 3 "$(field "$WORK/a.json" .meta.exit.code)"
expect_nothing_left "$WORK/a.json"
# A value that only the overridden spec allows: it was checked against the spec as written
# ("9 outside [0, 3]"), whatever the --set list changed.
run_trial "$WORK/o.json" "$SPEC" --set n=9 --set parameters.n.max=9 --set mode=exit
expect_class "$WORK/o.json" CRASHED
check "--set: a value of the overridden range" 9 "$(field "$WORK/o.json" .config.n)"
# A spec that only the --set list makes valid (as `run --set` takes it): it was refused as
# written ("max (3) is below min (5)"), before the list was applied.
sed 's/min: 0, max: 3/min: 5, max: 3/' "$SPEC" >"$WORK/fixed.yaml"
run_trial "$WORK/f.json" "$WORK/fixed.yaml" --set parameters.n.min=0 --set n=2 --set mode=exit
expect_class "$WORK/f.json" CRASHED
check "--set: a spec valid once overridden" 2 "$(field "$WORK/f.json" .config.n)"
"$MORPHLING" trial "$WORK/fixed.yaml" --set n=2 --set mode=exit >"$WORK/o" 2>"$WORK/e"
check "not overridden: exit 2" 2 "$?"
check_contains "not overridden: the spec's error" "max (3) is below min (5)" "$(cat "$WORK/e")"

# The text record gives each resource figure once (the run's metrics carry them too, and both
# lists were printed: cpu_seconds, peak_memory_bytes, oom_kills and wall_seconds twice).
"$MORPHLING" trial "$SPEC" --set mode=exit --set n=3 >"$WORK/t.txt" 2>/dev/null
check "text record: cpu_seconds once" 1 "$(grep -c 'cpu_seconds' "$WORK/t.txt")"

# Interrupted while the service (a process tree) is starting.
"$MORPHLING" trial "$SPEC" --set mode=tree --set n=3 --json >"$WORK/b.json" 2>"$WORK/b.err" &
pid=$!
track $pid
wait_for "the service starts" pgrep -f -- "$ANTICS tree 3" >/dev/null
kill -INT $pid
wait $pid
check "interrupted trial: exit 130 ($(cat "$WORK/b.err"))" 130 "$?"
check "interrupted trial: CANCELLED" CANCELLED "$(field "$WORK/b.json" .state)"
expect_nothing_left "$WORK/b.json"
# SIGTERM: 128 + 15, as a shell reports it (it exited 130, as for SIGINT).
"$MORPHLING" trial "$SPEC" --set mode=tree --set n=3 --json >"$WORK/c.json" 2>"$WORK/c.err" &
pid=$!
track $pid
wait_for "the service starts" pgrep -f -- "$ANTICS tree 3" >/dev/null
kill -TERM $pid
wait $pid
check "trial ended by SIGTERM: exit 143 ($(cat "$WORK/c.err"))" 143 "$?"
check "... CANCELLED" CANCELLED "$(field "$WORK/c.json" .state)"
expect_nothing_left "$WORK/c.json"
finish
