#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A service that prints its arguments or environment in an error (argparse's "unrecognized
# arguments: ...") put the spec's secrets into the trial's reason and logs, and so into show, the
# API and the dashboard. What the store keeps of a trial has them replaced by <redacted>: the
# values of {from_env}/{from_file} references and literal values of secret-looking names
# (docs/spec.md, "Secrets").
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
printf 'hunter2-from-file\n' >"$WORK/pw.txt"
cat >"$WORK/leak.yaml" <<'SPEC'
name: leak
service:
  command:
    - sh
    - -c
    - 'echo "usage error: unrecognized arguments: $* $DB_PASSWORD $FILE_SECRET" >&2; echo "API_TOKEN=$API_TOKEN PLAIN=$PLAIN"; exit 3'
    - srv
    - --api-key=hunter2-flag-eq
    - --token
    - hunter2-flag-next
    - --short-key=abc
    - "{a}"
  env:
    DB_PASSWORD: {from_env: MP_TEST_LEAK}
    FILE_SECRET: {from_file: pw.txt}
    API_TOKEN: hunter2-literal
    PLAIN: visible-value
  readiness: {http: /healthz, interval: 50ms, startup_timeout: 5s}
parameters: [{name: a, type: categorical, values: [x]}]
objective: {metric: throughput_rps}
algorithm: {name: grid, max_trials: 1, confirm: false}
SPEC
MP_TEST_LEAK=hunter2-from-env "$MORPHLING" run "$WORK/leak.yaml" -q >/dev/null 2>&1
check "the trial failed: CRASHED" CRASHED "$("$MORPHLING" show leak --json | jq -r '.trials[0].failure')"
stored=$(sqlite3 "$MORPHLING_DB" "SELECT t.reason FROM trials t; SELECT l.content FROM trial_logs l;" 2>&1)
check "no secret in what the store keeps of the trial" "" "$(printf '%s' "$stored" | grep -o 'hunter2[a-z-]*')"
check_contains "the reason says where one was" "unrecognized arguments: --api-key=<redacted> --token <redacted>" \
    "$("$MORPHLING" show leak --json | jq -r '.trials[0].reason')"
check_contains "... a reference's value too" "<redacted> <redacted>" \
    "$("$MORPHLING" show leak --json | jq -r '.trials[0].reason')"
check_contains "the rest stays: values of other names, and short ones (< 6 bytes)" "--short-key=abc" \
    "$("$MORPHLING" show leak --json | jq -r '.trials[0].reason')"
check_contains "... in the logs as well" "API_TOKEN=<redacted> PLAIN=visible-value" "$stored"
finish
