#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The small things of a newcomer's first hour (issue 17): a grid that max_trials cuts short is
# warned about, validate --json says max_trials, an SLO needs a unit, load takes a folder of
# bodies, one replica is not "1 replicas", trial prints one metric per line with its unit, and
# long work shows progress on stderr (a plain line without a terminal, a bar on one) after
# every argument was checked.
. "$(dirname "$0")/lib.sh"
spec="$MP_SOURCE_DIR/examples/replay-demo.yaml"

out=$("$MORPHLING" validate "$spec" --set algorithm.name=grid --set algorithm.max_trials=81 2>&1)
check "validate exits 0" 0 "$?"
check_contains "a grid cut short is warned about" \
    "warning: grid search stops after max_trials = 81 of its 768 configurations: 'cpu' (the slowest parameter) takes 1 of its 8 values" "$out"
# --set KEY VALUE (a space for the '='): the value is named, not 'too many arguments'.
for verb in validate run trial; do
    err=$("$MORPHLING" $verb "$spec" --set algorithm.max_trials 3 2>&1)
    check "$verb --set KEY VALUE exits 2" 2 "$?"
    check_contains "... and says to write KEY=VALUE" \
        "morphling $verb: --set algorithm.max_trials 3: write --set algorithm.max_trials=3" "$err"
done
err=$("$MORPHLING" validate "$spec" -s cpu 2 2>&1)
check_contains "-s KEY VALUE too" "morphling validate: -s cpu 2: write -s cpu=2" "$err"
# --set KEY=VALUE,KEY=VALUE (Helm's --set style): one --set per key is said, for a parameter's
# value (trial) and for a spec field's (validate, run).
err=$("$MORPHLING" trial "$spec" --set cpu=2,memory=2048 --set threads=4 --set batch=8 2>&1)
check "trial --set K=V,K=V exits 2" 2 "$?"
check_contains "... and says one --set per key" \
    "(one --set per key: --set cpu=2 --set memory=2048)" "$err"
err=$("$MORPHLING" trial "$spec" --set cpu=2 --set memory=2048 --set threads=4 --set batch=8 \
    --set runner.delay=5ms,name=x 2>&1)
check "trial --set of a runner field K=V,K=V exits 2" 2 "$?"
check_contains "... and says one --set per key (the runner's check)" \
    "(one --set per key: --set runner.delay=5ms --set name=x)" "$err"
for verb in validate run; do
    err=$("$MORPHLING" $verb "$spec" --set algorithm.max_trials=3,algorithm.name=grid 2>&1)
    check "$verb --set K=V,K=V exits 2" 2 "$?"
    check_contains "... and says one --set per key" \
        "(one --set per key: --set algorithm.max_trials=3 --set algorithm.name=grid)" "$err"
    # ... also for a value refused after loading, by the runner's or the algorithm's check (a
    # duration of the runner, a metric name, an algorithm name): those errors had no hint.
    for set in runner.delay=5ms,algorithm.max_trials=3 algorithm.name=grid,algorithm.seed=3 \
        objective.metric=p99_ms,objective.direction=minimize; do
        err=$("$MORPHLING" $verb "$spec" --set "$set" 2>&1)
        check "$verb --set $set exits 2" 2 "$?"
        check_contains "... and says one --set per key" \
            "(one --set per key: --set $(printf '%s' "$set" | sed 's/,/ --set /'))" "$err"
    done
done
err=$("$MORPHLING" validate "$spec" extra.yaml 2>&1)
check_contains "another extra argument is named" "too many arguments: 'extra.yaml' (expected FILE)" "$err"
json=$("$MORPHLING" validate "$spec" --json)
check "validate --json: max_trials" 40 "$(printf '%s' "$json" | jq .max_trials)"
check "validate --json: no warning for random" '[]' "$(printf '%s' "$json" | jq -c .warnings)"
check "validate --json: the warning" 1 \
    "$("$MORPHLING" validate "$spec" --json --set algorithm.name=grid | jq '.warnings | length')"

err=$("$MORPHLING" load http://127.0.0.1:9/ --capacity --slo 'p99<200' 2>&1)
check "an SLO without a unit exits 2" 2 "$?"
check_contains "says so" "'200' needs a unit (e.g. 200ms or 200s)" "$err"
"$MORPHLING" load http://127.0.0.1:9/ --slo 'p99<=200ms' >/dev/null 2>&1
check "--slo without --capacity exits 2" 2 "$?"

# A bare number is seconds: one that looks meant as milliseconds is warned of, as in a spec
# (--slo without --capacity ends the command once the options are read).
err=$("$MORPHLING" load http://127.0.0.1:9/ --warmup 200 --slo 'p99<=200ms' 2>&1)
check_contains "a bare --warmup 200 is warned of" \
    "morphling load: warning: --warmup 200: a bare number is seconds: 200 is read as 200s (3.3 minutes); write 200ms for milliseconds, or 200s to say seconds" "$err"
err=$("$MORPHLING" load http://127.0.0.1:9/ --timeout=500 --slo 'p99<=200ms' 2>&1)
check_contains "so is --timeout=500" "warning: --timeout 500: a bare number is seconds" "$err"
err=$("$MORPHLING" load http://127.0.0.1:9/ --warmup 200ms --window 2 -d 120 --slo 'p99<=200ms' 2>&1)
check "200ms, a --window of 2 and a -d of 120 (seconds are usual there) are not" "" \
    "$(printf '%s\n' "$err" | grep warning)"

# load --body takes a folder, as a spec's runner.load.body does.
"$MP_HELPERS/fake_service" --port 0 >"$WORK/port" 2>"$WORK/service.err" &
service=$!
wait_for_file "$WORK/port" || not_ok "the fake service did not start"
mkdir "$WORK/bodies" "$WORK/empty"
printf 'one' >"$WORK/bodies/a.raw"
printf 'two' >"$WORK/bodies/b.raw"
json=$("$MORPHLING" load "http://127.0.0.1:$(head -n1 "$WORK/port")/infer" --body "$WORK/bodies" \
    -d 1s --warmup 200ms --window 500ms --json)
check "load --body DIR exits 0" 0 "$?"
check "its requests succeed" true "$(printf '%s' "$json" | jq '.requests > 0 and .errors.total == 0')"
"$MORPHLING" load "http://127.0.0.1:$(head -n1 "$WORK/port")/infer" --body "$WORK/empty" >/dev/null 2>&1
check "an empty folder exits 2" 2 "$?"
kill "$service"
wait "$service" 2>/dev/null

"$MORPHLING" run "$spec" --quiet >/dev/null 2>&1
check_contains "one replica" "needs 1 replica of" "$("$MORPHLING" show replay-demo --target-rps 1)"
check_contains "several replicas" "replicas of" "$("$MORPHLING" show replay-demo --target-rps 100000)"

# trial: one metric per line, in its unit.
out=$("$MORPHLING" trial "$spec" --set cpu=2 --set memory=2048 --set threads=4 --set batch=8 2>/dev/null)
check "trial exits 0" 0 "$?"
check "throughput in req/s" 1 "$(printf '%s\n' "$out" | grep -c '^    throughput_rps  *[0-9.]* req/s$')"
check "latency in ms" 1 "$(printf '%s\n' "$out" | grep -c '^    p99_ms  *[0-9.]* ms$')"
check "error rate in per cent" 1 "$(printf '%s\n' "$out" | grep -c '^    error_rate  *[0-9.]* %$')"

# Progress on stderr: plain lines when stderr is a file.
"$MORPHLING" run "$spec" --restart >/dev/null 2>"$WORK/run.err"
check_contains "run: progress lines when piped" "run: 40/40 (100 %)" "$(cat "$WORK/run.err")"
"$MORPHLING" run "$spec" --restart --quiet >/dev/null 2>"$WORK/quiet.err"
check "run --quiet: none" "" "$(cat "$WORK/quiet.err")"
"$MORPHLING" bench-search "$MP_SOURCE_DIR/examples/surfaces" --algorithms random --budget 5 --seeds 2 \
    >/dev/null 2>"$WORK/bench.err"
check_contains "bench-search: progress" "bench-search: 2/2 (100 %): synthetic-classifier.csv random seed 1" \
    "$(cat "$WORK/bench.err")"
"$MORPHLING" trial "$spec" --set cpu=2 --set memory=2048 --set threads=4 --set batch=8 \
    --set runner.delay=500ms >/dev/null 2>"$WORK/trial.err"
check_contains "trial: progress" "trial: running for 0s" "$(cat "$WORK/trial.err")"
"$MORPHLING" meta train "$MP_SOURCE_DIR/examples/surfaces" --no-store --iterations 100 --members 1 \
    -o "$WORK/model" >/dev/null 2>"$WORK/meta.err"
check_contains "meta train: progress" "meta train: 100/100 (100 %)" "$(cat "$WORK/meta.err")"

# Every argument is checked before the work: a missing prior fails before the first replay.
err=$("$MORPHLING" bench-search "$MP_SOURCE_DIR/examples/surfaces" --algorithms random,morphling \
    --prior "$WORK/no-such-model" --seeds 1000 2>&1)
check "a missing prior fails with 2" 2 "$?"
check_contains "names it" "no-such-model" "$err"
case "$err" in *"bench-search: "[0-9]*) not_ok "no replay ran before the check: $err" ;; *) ok "no replay ran before the check" ;; esac

# On a terminal: one line redrawn in place (script(1) gives the command a pseudo-terminal).
if command -v script >/dev/null 2>&1; then
    script -qec "'$MORPHLING' bench-search '$MP_SOURCE_DIR/examples/surfaces' --algorithms random --budget 5 --seeds 3 >/dev/null" \
        "$WORK/typescript" >/dev/null 2>&1
    bar=$(tr '\r' '\n' <"$WORK/typescript" | grep -c 'bench-search \[####################\] 3/3')
    check "a bar on a terminal" 1 "$bar"
else
    echo "SKIP: script(1) is missing: the terminal bar was not checked"
fi

# An experiment name that the store does not hold: a slip gets the name meant, another name the
# names the store holds and how to read another store (a run with --db, then show without it).
err=$("$MORPHLING" show replay-dem 2>&1)
check "show of a mistyped name exits 1" 1 "$?"
check_contains "suggests the name" "no experiment 'replay-dem' in $MORPHLING_DB; did you mean 'replay-demo'?" "$err"
err=$("$MORPHLING" export my-service --format k8s --container server 2>&1)
check "export of an unknown name exits 1" 1 "$?"
check_contains "names what the store holds" \
    "no experiment 'my-service' in $MORPHLING_DB (it holds 1 experiment: replay-demo; another store: --db PATH or \$MORPHLING_DB)" "$err"
"$MORPHLING" run "$spec" --db "$WORK/empty.db" --quiet --set name=empty --set algorithm.max_trials=1 >/dev/null 2>&1
sqlite3 "$WORK/empty.db" "PRAGMA foreign_keys=ON; DELETE FROM experiments"
err=$("$MORPHLING" show my-service --db "$WORK/empty.db" 2>&1)
check "show in an empty store exits 1" 1 "$?"
check_contains "says it holds none" \
    "no experiment 'my-service' in $WORK/empty.db (it holds none; another store: --db PATH or \$MORPHLING_DB)" "$err"
finish
