#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling trial` shows a trial's record as `run` stores and `show` shows it: the values of
# secret references and secret-looking literals in the service's output and the reason are
# <redacted>, and so are secret-looking words of meta.argv; an unset {from_env} reference is an
# error of the spec (exit 2, naming the field), found before anything runs, as in `run`.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
. "$MP_SOURCE_DIR/tests/integration/local_lib.sh"
ECHO=$MP_HELPERS/argv_echo
[ -x "$ECHO" ] || skip "$ECHO is not built"
SPEC=$WORK/spec.yaml
# argv_echo prints its argv and environment on stdout and exits 3: a CRASHED trial whose stdout
# holds every secret it was given.
cat >"$SPEC" <<SPEC
name: secrets-it
service:
  command: ["$ECHO", "--token", "literaltok123", "--api-key={k}", "{n}"]
  env:
    API_KEY: supersecretvalue
    REF_VALUE: {from_env: MP_IT_SECRET}
    ARGV_ECHO_EXIT: "3"
  readiness: {tcp: true, interval: 50ms, startup_timeout: 30s}
parameters:
  - {name: k, type: categorical, values: [paramkey1]}
  - {name: n, type: int, min: 0, max: 3}
objective: {metric: throughput_rps}
runner:
  kind: local
  grace_period: 200ms
  port_lock_dir: $WORK/ports
SPEC

MP_IT_SECRET=referencedvalue run_trial "$WORK/a.json" "$SPEC" --set k=paramkey1 --set n=1
expect_class "$WORK/a.json" CRASHED
check "the logs keep the secret variables, redacted" 1 \
    "$(jq -r '.stdout | fromjson | .env | map(select(. == "REF_VALUE=<redacted>" or
        . == "API_KEY=<redacted>")) | length / 2' "$WORK/a.json")"
check "--json: no secret value anywhere" "" \
    "$(grep -o 'supersecretvalue\|referencedvalue\|literaltok123' "$WORK/a.json")"
check "--json: meta.argv redacted" '["--token","<redacted>","--api-key=<redacted>","1"]' \
    "$(jq -c '.meta.argv[1:]' "$WORK/a.json")"
MP_IT_SECRET=referencedvalue "$MORPHLING" trial "$SPEC" --set k=paramkey1 --set n=1 --logs \
    >"$WORK/b.txt" 2>"$WORK/b.err"
check "text: exit 1" 1 "$?"
check_contains "text: the logs are shown" '"ARGV_ECHO_EXIT=3"' "$(cat "$WORK/b.txt")"
check "text: no secret value anywhere" "" \
    "$(grep -o 'supersecretvalue\|referencedvalue\|literaltok123' "$WORK/b.txt" "$WORK/b.err")"

# The reference's variable is unset: an error of the spec, not a CRASHED trial.
env -u MP_IT_SECRET "$MORPHLING" trial "$SPEC" --set k=paramkey1 --set n=1 --json \
    >"$WORK/c.json" 2>"$WORK/c.err"
check "unset reference: exit 2" 2 "$?"
check_contains "unset reference: names the field" \
    "'service.env.REF_VALUE': environment variable MP_IT_SECRET is not set" "$(cat "$WORK/c.err")"
check "unset reference: no record" "" "$(cat "$WORK/c.json")"
finish
