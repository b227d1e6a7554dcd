#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A service's output is kept as text whatever it writes: a kept tail that begins inside a
# multi-byte character, bytes that are not UTF-8 and NULs still give a JSON record (`trial
# --json`) and a stored failure reason that names the exit and ends with the stderr tail.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"

# Two-byte characters after one ASCII byte, more than the 2 KiB of stderr a reason keeps, so
# both the reason's tail and (with log_kib: 1) the log's tail begin inside a character; then
# bytes that are not UTF-8 and a NUL.
cat >"$WORK/svc.sh" <<'SVC'
#!/bin/sh
i=0
printf 'x' >&2
while [ $i -lt 1500 ]; do printf '\303\251' >&2; i=$((i + 1)); done
printf 'latin1 \351t\351 nul \000 end\n' >&2
printf 'out \377\376\n'
exit 1
SVC
chmod +x "$WORK/svc.sh"
cat >"$WORK/spec.yaml" <<SPEC
name: output
service:
  command: ["$WORK/svc.sh", "{port}", "{x}"]
  readiness: {http: /healthz, interval: 50ms, timeout: 300ms, startup_timeout: 20s}
parameters:
  - {name: x, type: discrete, values: [1]}
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 1}
runner:
  kind: local
  log_kib: 1
  port_lock_dir: $WORK/ports
SPEC

run_trial "$WORK/t.json" "$WORK/spec.yaml" --set x=1
expect_class "$WORK/t.json" CRASHED
check_contains "trial: reason names the exit" "exited with status 1" "$(field "$WORK/t.json" .reason)"
check_contains "trial: reason ends with the stderr tail" "nul ? end" "$(field "$WORK/t.json" .reason)"
check_contains "trial: invalid bytes become '?'" "latin1 ?t? nul" "$(field "$WORK/t.json" .stderr)"
check_contains "trial: stdout kept" "out ??" "$(field "$WORK/t.json" .stdout)"
check "trial: the stderr tail starts on a whole character" "é" \
    "$(field "$WORK/t.json" .stderr | head -c 2)"

"$MORPHLING" run "$WORK/spec.yaml" --quiet >"$WORK/run.out" 2>&1
"$MORPHLING" show output --json >"$WORK/show.json" || fail "show: $(cat "$WORK/run.out")"
check "run: class" "FAILED/CRASHED" "$(jq -r '.trials[0] | "\(.state)/\(.failure)"' "$WORK/show.json")"
check_contains "run: stored reason names the exit" "exited with status 1" \
    "$(jq -r '.trials[0].reason' "$WORK/show.json")"
finish
