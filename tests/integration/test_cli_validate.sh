#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Invalid specs: a clear FILE:LINE:COL message naming the field, and exit status 2.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"

cat >"$WORK/bad.yaml" <<'YAML'
name: bad
parameters:
  - name: a
    type: int
    min: 1
    max: 4
    step: 0
objective: {metric: qps}
runner: {kind: replay, surface: x.csv}
YAML
err=$("$MORPHLING" validate "$WORK/bad.yaml" 2>&1); rc=$?
check "invalid spec exits 2" 2 "$rc"
check "error names file, line, column and field" \
    "morphling: $WORK/bad.yaml:7:11: 'parameters[0].step': expected a positive number, got \"0\"" "$err"

err=$("$MORPHLING" run "$WORK/bad.yaml" 2>&1); rc=$?
check "run refuses an invalid spec with 2" 2 "$rc"
check "run writes nothing for an invalid spec" 0 "$("$MORPHLING" list --json | jq length)"

sed 's/step: 0/step: 1/; s/max_trial/x/' "$WORK/bad.yaml" >"$WORK/nosurface.yaml"
err=$("$MORPHLING" validate "$WORK/nosurface.yaml" 2>&1); rc=$?
check "missing surface file exits 1" 1 "$rc"
check_contains "missing surface is named" "x.csv" "$err"

err=$("$MORPHLING" validate "$WORK/bad.yaml" --set parameters[0].step=2 --set algorithm.max_trial=3 2>&1); rc=$?
check "--set typo exits 2" 2 "$rc"
check_contains "--set typo gets a suggestion" "did you mean 'max_trials'" "$err"

err=$("$MORPHLING" validate "$WORK/does-not-exist.yaml" 2>&1); rc=$?
check "missing file exits 1" 1 "$rc"
check_contains "missing file is named" "does-not-exist.yaml" "$err"

out=$("$MORPHLING" validate --json "$WORK/bad.yaml" 2>/dev/null)
check "validate --json reports invalid" false "$(printf '%s' "$out" | jq .valid)"
finish
