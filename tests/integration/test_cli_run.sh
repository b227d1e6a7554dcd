#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# End to end: validate, run, rerun, show, list and export through the real binary.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
spec="$MP_SOURCE_DIR/examples/replay-demo.yaml"

out=$("$MORPHLING" validate "$spec"); rc=$?
check "validate exits 0" 0 "$rc"
check_contains "validate counts configurations" "768 configurations" "$out"

out=$("$MORPHLING" run "$spec" 2>&1); rc=$?
check "run exits 0" 0 "$rc"
check_contains "run prints the recommendation" "Recommended configuration" "$out"
check_contains "run says where results are" "$MORPHLING_DB" "$out"

json=$("$MORPHLING" show replay-demo --json); rc=$?
check "show --json exits 0" 0 "$rc"
check "show --json: 40 trials" 40 "$(printf '%s' "$json" | jq '.trials | length')"
check "show --json: state" SUCCEEDED "$(printf '%s' "$json" | jq -r .state)"
check "show --json: every trial terminal" 40 \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.state == "SUCCEEDED" or .state == "FAILED")] | length')"
check "show --json: unique configurations" 40 \
    "$(printf '%s' "$json" | jq '[.trials[].params | tojson] | unique | length')"
best=$(printf '%s' "$json" | jq '.best.value')
max=$(printf '%s' "$json" | jq '[.trials[] | select(.state == "SUCCEEDED") | .metrics.throughput_per_cost] | max')
check "best is the best feasible trial" "$max" "$best"
check "failed trials carry no objective" 0 \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.failure == "OOM_KILLED") | .metrics.throughput_per_cost // empty] | length')"

plan=$("$MORPHLING" show replay-demo --json --target-rps 5000 --headroom 0.25)
rps=$(printf '%s' "$plan" | jq '.best.metrics.throughput_rps')
check "capacity plan replicas = ceil(target * 1.25 / replica rps)" \
    "$(echo "$rps" | awk '{ r = 5000 * 1.25 / $1; print (r == int(r)) ? r : int(r) + 1 }')" \
    "$(printf '%s' "$plan" | jq '.capacity_plan.replicas')"
check "capacity plan cost" "$(printf '%s' "$plan" | jq '.capacity_plan.replicas * .best.metrics.cost_per_hour | . * 1000 | round')" \
    "$(printf '%s' "$plan" | jq '.capacity_plan.cost_per_hour | . * 1000 | round')"
check "runner-up is the second best" \
    "$(printf '%s' "$json" | jq '[.trials[] | select(.state == "SUCCEEDED") | .metrics.throughput_per_cost] | sort | .[-2]')" \
    "$(printf '%s' "$json" | jq '.runner_up.value')"
# A surface measures no uncertainty of its own: the noise is the 5 % assumed, and said to be.
check "runner-up noise: assumed on a replay" "true true" \
    "$(printf '%s' "$json" | jq -r '"\(.runner_up.within_noise) \(.runner_up.noise_assumed)"')"
check_contains "show says the noise is assumed" "the 5 % assumed of a trial that measured no uncertainty" \
    "$("$MORPHLING" show replay-demo)"
out=$("$MORPHLING" show replay-demo --target-rps 5000)
check_contains "show prints the capacity plan" "Capacity plan: 5000 req/s with 20 % headroom" "$out"
check "its cost has a unit" 1 "$(printf '%s\n' "$out" | grep -c '^Capacity plan: .*, costing [0-9.]* \$/h\.$')"
"$MORPHLING" show replay-demo --target-rps lots >/dev/null 2>&1
check "bad --target-rps exits 2" 2 "$?"

out=$("$MORPHLING" run "$spec" 2>&1); rc=$?
check "rerun of a finished experiment exits 0" 0 "$rc"
check_contains "rerun says it already finished" "already finished" "$out"
# It said only "use --restart to run it again", which deletes the trials: a larger budget
# continues it and keeps them.
check_contains "... and how to continue it" "Experiment already finished earlier: nothing ran. A larger budget continues it (--set algorithm.max_trials=80); --restart runs it anew, deleting its 40 trials." "$out"
check "rerun adds no trial" 40 "$("$MORPHLING" show replay-demo --json | jq '.trials | length')"

# The same spec in another folder names other files (its surfaces/): another experiment. A
# folder that is gone has moved: the experiment goes on from the new one, which is stored.
mkdir "$WORK/copy" "$WORK/one"
cp -R "$MP_SOURCE_DIR/examples/replay-demo.yaml" "$MP_SOURCE_DIR/examples/surfaces" "$WORK/copy/"
cp -R "$MP_SOURCE_DIR/examples/replay-demo.yaml" "$MP_SOURCE_DIR/examples/surfaces" "$WORK/one/"
out=$("$MORPHLING" run "$WORK/copy/replay-demo.yaml" 2>&1); rc=$?
check "the same spec in another folder exits 2" 2 "$rc"
check_contains "... naming both folders" \
    "relative paths resolve in '$(cd "$MP_SOURCE_DIR/examples" && pwd -P)' (this one's resolve in '$(cd "$WORK/copy" && pwd -P)'" \
    "$out"
moved() { # ARGS...: runs the experiment "moved" (2 trials, a store of its own)
    MORPHLING_DB="$WORK/moved.db" "$MORPHLING" run --set name=moved --set algorithm.max_trials=2 \
        "$@" 2>&1
}
moved "$WORK/one/replay-demo.yaml" >/dev/null
mv "$WORK/one" "$WORK/two"
check_contains "a moved folder's experiment stands" "already finished" \
    "$(moved "$WORK/two/replay-demo.yaml")"
moved "$WORK/two/replay-demo.yaml" --set algorithm.max_trials=3 >/dev/null
check "... and goes on" 3 "$(MORPHLING_DB="$WORK/moved.db" "$MORPHLING" show moved --json |
    jq '.trials | length')"
cp -R "$WORK/two" "$WORK/one"
out=$(moved "$WORK/one/replay-demo.yaml" --set algorithm.max_trials=3); rc=$?
check "the new folder is stored: the old one is another now" 2 "$rc"
check_contains "... named" "resolve in '$(cd "$WORK/two" && pwd -P)'" "$out"

out=$("$MORPHLING" run "$spec" --set algorithm.seed=8 2>&1); rc=$?
check "changed spec under the same name exits 2" 2 "$rc"
check_contains "changed spec is explained" "different spec (it differs at 'algorithm.seed')" "$out"
check_contains "... where the override says so" "morphling run: --set:1:16: experiment" "$out"
check_contains "... with what --restart costs" "--restart to replace it (which deletes its 40 trials)" \
    "$out"
# Edited in the file: the refusal points at the line, as any other spec error does.
mkdir "$WORK/edited"
cp -R "$MP_SOURCE_DIR/examples/replay-demo.yaml" "$MP_SOURCE_DIR/examples/surfaces" \
    "$WORK/edited/"
edited="$WORK/edited/replay-demo.yaml"
MORPHLING_DB="$WORK/edited.db" "$MORPHLING" run "$edited" --set algorithm.max_trials=1 \
    --quiet >/dev/null 2>&1
sed 's/^\(  *seed: *\).*/\19/' "$edited" > "$edited.new" && mv "$edited.new" "$edited"
line=$(grep -n '^  *seed:' "$edited" | cut -d: -f1)
col=$(grep '^  *seed:' "$edited" | awk '{ print index($0, "9") }')
out=$(MORPHLING_DB="$WORK/edited.db" "$MORPHLING" run "$edited" --set algorithm.max_trials=1 2>&1)
check "a spec edited in its file exits 2 ($out)" 2 "$?"
check "... naming the file, line and column" \
    "morphling run: $edited:$line:$col: experiment 'replay-demo' already exists in the store with a different spec (it differs at 'algorithm.seed'); use another name, or --restart to replace it (which deletes its 1 trial)" \
    "$out"
# A grid of more configurations than the budget is warned about when it runs; refused, the
# refusal comes alone (the warning came first, about a search that would not run).
out=$("$MORPHLING" run "$spec" --set algorithm.name=grid 2>&1); rc=$?
check "a changed spec of too large a grid exits 2" 2 "$rc"
check "... with the refusal alone" \
    "morphling run: --set:1:16: experiment 'replay-demo' already exists in the store with a different spec (it differs at 'algorithm.name'); use another name, or --restart to replace it (which deletes its 40 trials)" \
    "$out"
out=$(MORPHLING_DB="$WORK/grid.db" "$MORPHLING" run "$spec" --set algorithm.name=grid \
    --set algorithm.max_trials=2 --quiet 2>&1 >/dev/null)
check_contains "... and said when the search runs" \
    "morphling run: warning: grid search stops after max_trials = 2 of its 768 configurations" "$out"
# Descriptions are free text morphling ignores: changed, the experiment stands.
out=$("$MORPHLING" run "$spec" --set description=other --set parameters.cpu.description=cores 2>&1)
check "a changed description is no other spec ($out)" 0 "$?"
check_contains "... and the experiment stands" "already finished" "$out"
out=$("$MORPHLING" run "$spec" --set algorithm.max_trials=5 2>&1); rc=$?
check "a budget below the trials exits 2" 2 "$rc"
check_contains "and says so" "has 40 trials already; max_trials = 5 is below them" "$out"
"$MORPHLING" run "$spec" --set algorithm.max_trials=44 --quiet >/dev/null 2>&1
check "a raised budget continues the finished experiment" 44 \
    "$("$MORPHLING" show replay-demo --json | jq '.trials | length')"
check "and stores it" 44 "$("$MORPHLING" show replay-demo --json | jq .max_trials)"
"$MORPHLING" run "$spec" --set algorithm.max_trials=5 --restart --quiet >/dev/null 2>&1
check "--restart replaces the experiment" 5 "$("$MORPHLING" show replay-demo --json | jq '.trials | length')"
# A replaced run is kept for the next run's sweep only when its runner's side effects outlive
# it (kubernetes: test_kube_run_replaced.sh): the replay runner's never do, nor pile up.
check "--restart keeps no replaced run of the replay runner" 0 \
    "$(sqlite3 "$MORPHLING_DB" "SELECT count(*) FROM replaced_runs")"

csv=$("$MORPHLING" export replay-demo --format csv); rc=$?
check "export csv exits 0" 0 "$rc"
check "export csv header" "number,state,failure,cpu,memory,threads,batch" \
    "$(printf '%s\n' "$csv" | head -1 | cut -d, -f1-7)"
check "export csv rows" 6 "$(printf '%s\n' "$csv" | wc -l | tr -d ' ')"
check "export json is the report" 5 "$("$MORPHLING" export replay-demo --format json | jq '.trials | length')"
"$MORPHLING" export replay-demo --format xml >/dev/null 2>&1
check "export bad format exits 2" 2 "$?"
"$MORPHLING" show no-such-experiment >/dev/null 2>&1
check "show unknown experiment exits 1" 1 "$?"

out=$("$MORPHLING" list); rc=$?
check "list exits 0" 0 "$rc"
check_contains "list names the experiment" "replay-demo" "$out"
check "list --json" replay-demo "$("$MORPHLING" list --json | jq -r '.[0].name')"

# Deployable output of the recommendation.
"$MORPHLING" run "$spec" --restart --quiet >/dev/null 2>&1
dep=$("$MORPHLING" export replay-demo --format deploy)
best=$("$MORPHLING" show replay-demo --json | jq -c .best.params)
check "deploy: the best configuration" "$best" "$(printf '%s' "$dep" | jq -c .params)"
check "deploy: arg target" "[\"--max-batch\",\"$(printf '%s' "$best" | jq .batch)\"]" \
    "$(printf '%s' "$dep" | jq -c .args)"
check "deploy: env target" "$(printf '%s' "$best" | jq -r .threads)" "$(printf '%s' "$dep" | jq -r .env.WORKERS)"
check "deploy: cpu resource" "$(printf '%s' "$best" | jq .cpu)" "$(printf '%s' "$dep" | jq .resources.cpu_cores)"
check "deploy: no program, no workdir" "null null" "$(printf '%s' "$dep" | jq -r '"\(.program) \(.workdir)"')"
k8s=$("$MORPHLING" export replay-demo --format k8s --target-rps 5000 --container web 2>/dev/null)
millis=$(printf '%s' "$best" | jq '.cpu * 1000 | round')
limits='.spec.template.spec.containers[0].resources.limits'
check "k8s: cpu in millicores" "\"${millis}m\"" "$(printf '%s' "$k8s" | jq "$limits.cpu")"
check "k8s: memory in MiB" "\"$(printf '%s' "$best" | jq .memory)Mi\"" "$(printf '%s' "$k8s" | jq "$limits.memory")"
check "k8s: replicas from the capacity plan" \
    "$("$MORPHLING" show replay-demo --json --target-rps 5000 | jq .capacity_plan.replicas)" \
    "$(printf '%s' "$k8s" | jq .spec.replicas)"
check "k8s: container name" '"web"' "$(printf '%s' "$k8s" | jq '.spec.template.spec.containers[0].name')"
if command -v kubectl >/dev/null 2>&1; then
    kubectl create deployment web --image=x --dry-run=client -o yaml >"$WORK/d.yaml" 2>/dev/null &&
        printf '%s\n' "$k8s" >"$WORK/p.yaml" &&
        kubectl patch --local -f "$WORK/d.yaml" --type strategic --patch-file "$WORK/p.yaml" -o yaml >/dev/null 2>&1
    check "kubectl accepts the patch" 0 "$?"
fi

# Several objectives: the Pareto front holds exactly the non-dominated feasible trials.
sed -e "s|surface: surfaces/|surface: $MP_SOURCE_DIR/examples/surfaces/|" \
    -e 's|^name: replay-demo|name: multi|' \
    -e 's|^objective:|objectives:\n  - {metric: p99_ms, direction: minimize}\nprimary:|' "$spec" |
    sed -e 's|^primary:||' -e 's|^  metric: throughput_per_cost|  - metric: throughput_per_cost|' \
        -e 's|^  direction: maximize|    direction: maximize|' >"$WORK/multi.yaml"
"$MORPHLING" run "$WORK/multi.yaml" --quiet >/dev/null 2>&1
check "multi-objective run exits 0" 0 "$?"
json=$("$MORPHLING" show multi --json)
expected=$(printf '%s' "$json" | jq -c '[.trials[] | select(.state == "SUCCEEDED") |
    {n: .number, a: .metrics.throughput_per_cost, b: .metrics.p99_ms}] as $t |
    [$t[] | . as $x | select([$t[] | select(.a >= $x.a and .b <= $x.b and (.a > $x.a or .b < $x.b))] | length == 0) | .n]')
check "Pareto front = non-dominated trials" "$expected" "$(printf '%s' "$json" | jq -c '[.pareto_front[].number]')"
check "primary objective is the first listed" p99_ms "$(printf '%s' "$json" | jq -r .objective.metric)"

check "--version" "morphling" "$("$MORPHLING" --version | cut -d' ' -f1)"
# A mistyped --db: list, show and export say there is no store there, how to name another, and
# create none.
for verb in list show "export --format json" "export --format k8s --container c"; do
    ref=replay-demo
    [ "$verb" = list ] && ref=
    # shellcheck disable=SC2086
    err=$("$MORPHLING" $verb $ref --db "$WORK/typo.db" 2>&1); rc=$?
    check "$verb on a missing store exits 1" 1 "$rc"
    check_contains "$verb names the missing store" \
        "${ref:+no experiment '$ref': }there is no store $WORK/typo.db" "$err"
    # The first mistake behind it: a run with --db, then a show without (another store).
    check_contains "$verb says how to name another store" \
        'another store: --db PATH or $MORPHLING_DB' "$err"
    check_false "$verb creates no store there" test -e "$WORK/typo.db"
done
err=$("$MORPHLING" meta train --from-store="$WORK/typo.db" -o "$WORK/typo.model" 2>&1); rc=$?
check "meta train --from-store on a missing store exits 2" 2 "$rc"
check_contains "... naming it" "store '$WORK/typo.db' does not exist" "$err"
check_false "... and creates none" test -e "$WORK/typo.db"

# The command that run prints to show the results works pasted into a shell, also for a store
# whose path holds a space, a quote and a newline (it printed the path bare).
odd="$WORK/a b'c
d"
mkdir -p "$odd"
out=$("$MORPHLING" run "$spec" --db "$odd/x.db" --set algorithm.max_trials=2 2>&1)
cmd=$(printf '%s\n' "$out" | sed -n '/to see them:$/,$p' | sed 1d)
eval "set -- ${cmd#*morphling }"
check "the show command it prints names that store" "show replay-demo --db $odd/x.db" "$*"
"$MORPHLING" "$@" >/dev/null
check "... and runs" 0 "$?"

# Output that cannot be written is a failure (a full disk left a truncated export and exit 0).
if [ -w /dev/full ]; then
    for verb in list "show replay-demo" "export replay-demo --format csv"; do
        # shellcheck disable=SC2086
        err=$("$MORPHLING" $verb 2>&1 >/dev/full); rc=$?
        check "$verb on a full disk exits 1" 1 "$rc"
        check_contains "... saying so, after the verb" \
            "morphling ${verb%% *}: the output could not be written: No space left on device" "$err"
    done
fi

"$MORPHLING" frobnicate >/dev/null 2>&1
check "unknown command exits 2" 2 "$?"
"$MORPHLING" help run >/dev/null
check "help run exits 0" 0 "$?"
finish
