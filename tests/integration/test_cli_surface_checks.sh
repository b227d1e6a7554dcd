#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What `validate` checks in a replay runner's surface before anything runs: metric cells are
# numbers or empty, every metric the spec judges by is a column (or derived), failure cells name
# a failure class, and a byte-order mark is no part of a column's name. Legitimate files (failed
# rows with empty metrics, a trial export) stay valid.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
cd "$WORK" || exit 1
cat >tm.yaml <<'EOF'
name: tm
parameters:
  - name: x
    type: discrete
    values: [1, 2]
objective: {metric: throughput_rps, direction: maximize}
algorithm: {max_trials: 2}
runner: {kind: replay, surface: s.csv}
EOF

# Prints the exit status and stderr of `validate tm.yaml` for surface text $1.
validate() {
    printf "$1" >s.csv
    "$MORPHLING" validate tm.yaml >/dev/null 2>err.txt
    echo "$? $(cat err.txt)"
}

for cell in fast nan inf 0x10; do
    out=$(validate "x,throughput_rps\n1,$cell\n2,20\n")
    check "metric cell '$cell' is refused" 2 "${out%% *}"
    check_contains "metric cell '$cell': file, line and column named, after the spec's field" \
        "tm.yaml:8:33: 'runner.surface': $WORK/s.csv:2: metric column 'throughput_rps': expected a number, got \"$cell\"" "$out"
done
out=$(validate "x,throughput_rps,p99_ms\n1,10,5\n\n2,20,slow\n")
check_contains "another metric column is checked too, at its file line" \
    "s.csv:4: metric column 'p99_ms': expected a number, got \"slow\"" "$out"
check "an empty metric cell on a failed row is fine" 0 \
    "$(validate "x,throughput_rps,failure\n1,,OOM_KILLED\n2,20,\n" | cut -d' ' -f1)"
sed 's/^parameters:$/parameters:\n  - {name: mode, type: categorical, values: [fast, slow]}/' tm.yaml \
    >tm3.yaml
printf 'x,mode,throughput_rps\n1,fast,10\n2,slow,20\n' >s.csv
"$MORPHLING" validate tm3.yaml >/dev/null
check "a categorical parameter column is no metric" 0 "$?"

out=$(validate "x,throughput_rps\n1,fast\n")
check_contains "a named metric column of text only is refused" \
    "s.csv:2: metric column 'throughput_rps': expected a number, got \"fast\"" "$out"
check "a text column the spec does not use is a label" "0 " \
    "$(validate "x,gpu,throughput_rps\n1,T4,10\n2,A100,20\n")"

out=$(validate "x,throughput_rps,failure\n1,10,BOGUS\n2,20,\n")
check "an unknown failure class is refused" 2 "${out%% *}"
check_contains "the failure error lists the classes" \
    "s.csv:2: column 'failure': unknown failure class \"BOGUS\" (expected STARTUP_TIMEOUT," "$out"

out=$(validate '\357\273\277x,throughput_rps\n1,10\n2,20\n')
check "a byte-order mark is skipped" "0 " "$out"
json=$("$MORPHLING" replay s.csv --json); rc=$?
check "replay with a byte-order mark exits 0" 0 "$rc"
check "the first column keeps its name" '["x"]' "$(printf '%s' "$json" | jq -c '.best.params | keys')"

# Every metric the spec judges by must be a column, unless the spec derives it.
printf 'x,throughput_rps,p99_ms\n1,10,5\n2,20,6\n' >s.csv
# Prints the exit status and stderr of `validate` for tm.yaml with the lines $1 added.
with() {
    { cat tm.yaml; printf "$1"; } >tm4.yaml
    "$MORPHLING" validate tm4.yaml >/dev/null 2>err.txt
    echo "$? $(cat err.txt)"
}
out=$(with 'constraints: [p99_msec <= 150]\n')
check "a constraint on a missing column exits 2" 2 "${out%% *}"
check_contains "the constraint is named" \
    "tm4.yaml:9:15: 'constraints[0]': the surface $WORK/s.csv has no column \"p99_msec\"" "$out"
check "a constraint on a column is valid" "0 " "$(with 'constraints: [p99_ms <= 150]\n')"
sed 's/^objective: .*/objectives: [{metric: throughput_rps}, {metric: p99_msec}]/' tm.yaml >tm2.yaml
"$MORPHLING" validate tm2.yaml >/dev/null 2>err.txt
check_contains "a second objective is checked too" \
    "tm2.yaml:6:49: 'objectives[1].metric': the surface $WORK/s.csv has no column \"p99_msec\"" \
    "$(cat err.txt)"
check "a metric derived from the cost table needs no column" "0 " \
    "$(with 'constraints: [throughput_per_cost >= 1]\ncost: {base_hour: 0.04}\n')"
# A price of nothing the space sets: every trial failed METRIC_MISSING, one by one.
out=$(with 'constraints: [throughput_per_cost >= 1]\ncost: {cpu_core_hour: 0.04}\n')
check "requests per dollar where every configuration is free exit 2" 2 "${out%% *}"
check_contains "... saying why" \
    "tm4.yaml:9:15: 'constraints[0]': throughput_per_cost is undefined for a configuration that costs 0 per hour, and every configuration does" \
    "$out"

# A trial export of a replayed experiment replays in turn: state is no metric, failed trials
# have no metrics.
"$MORPHLING" run -q "$MP_SOURCE_DIR/examples/replay-demo.yaml" --set name=demo \
    --set "runner.surface=$MP_SOURCE_DIR/examples/surfaces/synthetic-classifier.csv" \
    --set algorithm.max_trials=12 >/dev/null
"$MORPHLING" export demo --format csv >export.csv
check_contains "the export has a failed trial" ",FAILED," "$(cat export.csv)"
"$MORPHLING" validate "$MP_SOURCE_DIR/examples/replay-demo.yaml" --set name=again \
    --set "runner.surface=$WORK/export.csv" >/dev/null
check "a trial export is a valid surface" 0 "$?"
# Its number column is no metric either: it was reported as one, so the export of the replayed
# export had two 'number' columns and could not be read back.
"$MORPHLING" run -q "$MP_SOURCE_DIR/examples/replay-demo.yaml" --set name=again \
    --set "runner.surface=$WORK/export.csv" --set algorithm.max_trials=6 >/dev/null
"$MORPHLING" export again --format csv >export2.csv
check "the export of a replayed export has one number column" 1 \
    "$(head -1 export2.csv | tr ',' '\n' | grep -c '^number$')"
"$MORPHLING" replay export2.csv >/dev/null
check "the export of a replayed export replays" 0 "$?"

# A missing input file, or one that is not a regular file, is invalid input (2) everywhere.
mkdir folder
for args in "replay missing.csv" "replay folder" "bench-search --surfaces missing.csv" \
    "meta train -o m.bin --no-store --surfaces missing.csv" "meta info missing.bin" \
    "validate missing.yaml" "validate folder" "replay s.csv -a bo --prior missing.bin" \
    "export demo --format k8s --base missing.yaml" "export demo --format k8s --base folder" \
    "load http://127.0.0.1:9/ --body missing.bin --duration 1s"; do
    # shellcheck disable=SC2086
    err=$("$MORPHLING" $args 2>&1 >/dev/null)
    check "$args: exits 2" 2 "$?"
    case $err in
    *missing.* | *folder*) ok "$args: the file is named" ;;
    *) not_ok "$args: the file is named: $err" ;;
    esac
    check_false "$args: the file is named once" \
        sh -c 'printf "%s" "$1" | grep -q "missing.yaml: missing.yaml\|folder: folder"' _ "$err"
done
# A spec may search part of a recorded surface: rows of values it does not list are left out
# (a surface of x = 1..4 was refused for a spec of x in [1, 2]: "4 is not one of its values").
printf 'x,throughput_rps\n1,10\n2,20\n3,30\n4,40\n' >s.csv
"$MORPHLING" run tm.yaml --db part.db --quiet >run.out 2>&1
check "a spec of part of the surface runs" 0 "$?"
check "... over its own configurations: best x = 2 at 20" "2 20" \
    "$("$MORPHLING" show tm --db part.db --json | jq -r '"\(.best.params.x) \(.best.value)"')"
sed 's/values: \[1, 2\]/values: [7, 8]/' tm.yaml >tm7.yaml
"$MORPHLING" validate tm7.yaml >/dev/null 2>err.txt
check "a spec none of whose configurations has a row is refused" 2 "$?"
check_contains "... saying so, with the first row's reason" \
    "no row of the surface is a configuration of the parameters ($WORK/s.csv:2: parameter 'x': 1 is not one of its values (7 or 8))" \
    "$(cat err.txt)"
printf 'x,throughput_rps\n1,10\nten,20\n' >s.csv
check "a malformed parameter cell is still refused" 2 "$(validate "x,throughput_rps\n1,10\nten,20\n" | cut -d' ' -f1)"
# Columns named number and state are a trial export's own, no metrics: a surface's `number`
# column went into the export as a second `number`, which no replay reads.
printf 'x,number,throughput_rps\n1,7,10\n2,8,20\n' >s.csv
"$MORPHLING" run tm.yaml --db num.db --quiet >/dev/null 2>&1
check "a surface with a number column runs" 0 "$?"
"$MORPHLING" export tm --db num.db --format csv >num.csv
check "... its export has one number column" "number,state,failure,x,throughput_rps" "$(head -n 1 num.csv)"
"$MORPHLING" replay num.csv --objective throughput_rps >/dev/null 2>&1
check "... and replays" 0 "$?"
sed 's/metric: throughput_rps/metric: number/' tm.yaml >tmn.yaml
check_contains "an objective named number is refused at validation" "is no metric" \
    "$("$MORPHLING" validate tmn.yaml 2>&1)"
finish
