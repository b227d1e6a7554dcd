#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling meta train|info`, the morphling algorithm through replay and run, and training from
# the store, on small synthetic surfaces generated here.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"

# A family of services: throughput saturating in batch and cores, a service-specific GPU order.
gen() { # gen SHAPE FILE [PARAM_NAME_FOR_CPUS]
    awk -v t="$1" -v cpuname="${3:-cpus}" 'BEGIN {
        printf "batch,%s,gpu,value\n", cpuname
        split("A B C", g, " "); base["A"] = 1; base["B"] = 1.3 - 0.5 * t; base["C"] = 0.8 + 0.6 * t
        for (b = 1; b <= 64; b *= 2) for (c = 1; c <= 4; c++) for (k = 1; k <= 3; k++) {
            v = 10 * base[g[k]] * b / (b + 4 + 28 * t) * c / (c + 1 + 2 * t) / (1 + 0.25 * c)
            printf "%d,%d,%s,%.6f\n", b, c, g[k], v
        }
    }' >"$2"
}
mkdir -p "$WORK/src"
for t in 0 0.2 0.4 0.6 0.8 1; do gen "$t" "$WORK/src/s$t.csv"; done
gen 0.55 "$WORK/target.csv"
gen 0.5 "$WORK/other.csv" threads
train="--no-store --surfaces $WORK/src --seed 3 --iterations 150 --members 2 --hidden 8"

out=$("$MORPHLING" meta train $train -o "$WORK/m1"); rc=$?
check "meta train exits 0" 0 "$rc"
check_contains "meta train reports the services" "6 services" "$out"
"$MORPHLING" meta train $train -o "$WORK/m1b" >/dev/null
cmp -s "$WORK/m1" "$WORK/m1b"
check "same seed, same model bytes" 0 "$?"
# Surfaces whose default objectives differ (value, the last column; throughput_rps, a metric):
# a warning naming both, once; --objective names one for all.
sed '1s/value$/throughput_rps/' "$WORK/src/s0.csv" >"$WORK/rps.csv"
err=$("$MORPHLING" meta train $train "$WORK/rps.csv" --iterations 5 -o "$WORK/mixed" -q 2>&1 >/dev/null)
check "mixed objectives: one warning" 1 "$(printf '%s\n' "$err" | grep -c warning)"
check_contains "... naming both" "the surfaces' objectives differ: value in $WORK/src/s" "$err"
check_contains "... and the way out" "throughput_rps in $WORK/rps.csv; --objective names one for all" "$err"
json=$("$MORPHLING" meta train $train --seed 4 -o "$WORK/m4" --json)
check "meta train --json" 4 "$(printf '%s' "$json" | jq .seed)"
cmp -s "$WORK/m1" "$WORK/m4"
check "another seed, another model" 1 "$?"

json=$("$MORPHLING" meta info "$WORK/m1" --json); rc=$?
check "meta info exits 0" 0 "$rc"
check "meta info features" '["batch","cpus","gpu"]' "$(printf '%s' "$json" | jq -c '[.features[].name]')"
check "meta info choices" '["A","B","C"]' "$(printf '%s' "$json" | jq -c '.features[2].choices')"
check "meta info log-scales batch" true "$(printf '%s' "$json" | jq '.features[0].log')"
check "meta info memory: the 84 shared configurations" 84 "$(printf '%s' "$json" | jq .memory)"
check_contains "meta info prints the memory" "memory: 84 configurations" \
    "$("$MORPHLING" meta info "$WORK/m1")"

cp "$WORK/m1" "$WORK/bad"
printf 'X' | dd of="$WORK/bad" bs=1 seek=60 conv=notrunc 2>/dev/null
out=$("$MORPHLING" meta info "$WORK/bad" 2>&1); rc=$?
check "corrupt model exits 2" 2 "$rc"
check_contains "corrupt model is named" "checksum" "$out"
head -c 20 "$WORK/m1" >"$WORK/short"
"$MORPHLING" meta info "$WORK/short" >/dev/null 2>&1
check "truncated model exits 2" 2 "$?"
check_contains "meta train --help: what --top-fraction does" "half of every sample is drawn" \
    "$("$MORPHLING" meta train --help | tr -s ' \n' '  ')"
mkdir -p "$WORK/outdir"
out=$("$MORPHLING" meta train $train -o "$WORK/outdir" 2>&1); rc=$?
check "meta train -o FOLDER exits 2" 2 "$rc"
check_contains "meta train -o FOLDER is refused before training" "is a folder" "$out"
out=$("$MORPHLING" meta train $train "$WORK/src/s0.csv" "$WORK/src/s0.csv" -o "$WORK/m1c")
check_contains "meta train: a surface named again is one service" "6 services: 6 surfaces" "$out"
cmp -s "$WORK/m1" "$WORK/m1c"
check "meta train: a surface named again trains the same model" 0 "$?"
out=$("$MORPHLING" meta train --no-store --seed 3 --iterations 20 --members 2 --hidden 8 \
    "$WORK/src/s0.csv" -o "$WORK/one")
check_contains "meta train: one service, in the singular" "on 1 service: 1 surface, 0 store experiments" "$out"
cp "$WORK/src/s0.csv" "$WORK/input.csv"
out=$("$MORPHLING" meta train $train "$WORK/input.csv" -o "$WORK/input.csv" 2>&1); rc=$?
check "meta train -o INPUT exits 2" 2 "$rc"
check_contains "meta train -o INPUT names the surface" "is the surface" "$out"
cmp -s "$WORK/src/s0.csv" "$WORK/input.csv"
check "meta train -o INPUT leaves the surface as it was" 0 "$?"

json=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/m1" --budget 20 --json); rc=$?
check "replay with morphling exits 0" 0 "$rc"
check "replay: 20 distinct trials" 20 "$(printf '%s' "$json" | jq '[.trials[].params | tojson] | unique | length')"
check "replay: optimum reached" true "$(printf '%s' "$json" | jq '.trials_to_optimum != null')"
a=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/m1" --budget 8 --json | jq -c '[.trials[].params]')
b=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/m1" --budget 8 --json | jq -c '[.trials[].params]')
check "replay: same sequence twice" "$a" "$b"

out=$("$MORPHLING" replay "$WORK/other.csv" --algorithm morphling --prior "$WORK/m1" 2>&1); rc=$?
check "mismatched parameters exit 2" 2 "$rc"
check_contains "mismatch names the parameter" "'cpus'" "$out"
out=$("$MORPHLING" replay "$WORK/other.csv" --algorithm morphling --prior "$WORK/m1" \
    --settings '{fallback: random}' --budget 5 2>&1); rc=$?
check "fallback: random runs" 0 "$rc"
check_contains "... and says so, and why" \
    "morphling replay: warning: algorithm 'morphling' will search as 'random' (its setting 'fallback'), without a prior: $WORK/m1:" \
    "$out"
out=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/bad" \
    --settings '{fallback: bo}' --budget 5 2>&1); rc=$?
check "a corrupt prior is an error even with a fallback" 2 "$rc"
check_contains "the corrupt prior is named" "$WORK/bad: checksum mismatch" "$out"
"$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/nosuch.model" \
    --settings '{fallback: bo}' --budget 5 >/dev/null 2>&1
check "a prior that is not there: the fallback runs" 0 "$?"
err=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/no
such.model" --settings '{fallback: bo}' --budget 5 2>&1 >/dev/null)
check "... its warning on one line, quoting a newline in the path as backslash n" \
    "1 1" "$(printf '%s\n' "$err" | wc -l) $(printf '%s\n' "$err" | grep -c -F "$WORK/no\\nsuch.model")"
"$MORPHLING" replay "$WORK/target.csv" --algorithm morphling >/dev/null 2>&1
check "morphling without a prior exits 2" 2 "$?"

# A parameter in another unit (cpus in millicores) or spelling (gpu types in lower case) binds by
# name, and the model extrapolated far beyond what it learned, or predicted without the
# parameter, without a word.
awk -F, 'BEGIN { OFS = "," } NR > 1 { $2 = $2 * 1000; $3 = tolower($3) } { print }' \
    "$WORK/target.csv" >"$WORK/milli.csv"
err=$("$MORPHLING" replay "$WORK/milli.csv" --algorithm morphling --prior "$WORK/m1" --budget 3 \
    2>&1 >/dev/null); rc=$?
check "a prior of another unit still searches" 0 "$rc"
check_contains "... and warns of the unit" \
    "morphling replay: warning: prior $WORK/m1: parameter 'cpus' takes values 1000..4000, all outside the 1..4 the meta-model learned (another unit?)" \
    "$err"
check_contains "... and of the choices it does not know" \
    "parameter 'gpu': the meta-model knows none of its choices (a, b, c; it learned A, B, C)" "$err"
err=$("$MORPHLING" replay "$WORK/target.csv" --algorithm morphling --prior "$WORK/m1" --budget 3 \
    2>&1 >/dev/null)
check "a prior of the same units: no warning" "" "$err"
err=$("$MORPHLING" replay "$WORK/milli.csv" --algorithm bo --prior "$WORK/m1" --budget 3 2>&1 >/dev/null)
check_contains "bo's prior warns too" "morphling replay: warning: prior $WORK/m1: parameter 'cpus'" "$err"

# Roles: a model trained with cpus as role cpu serves a surface that calls it threads.
"$MORPHLING" meta train $train --role cpus=cpu --role batch=batch_size -o "$WORK/mr" >/dev/null
check "meta train --role exits 0" 0 "$?"
check "meta info shows roles" '["batch_size","cpu",null]' \
    "$("$MORPHLING" meta info "$WORK/mr" --json | jq -c '[.features[].role]')"
check "meta info format 3" 3 "$("$MORPHLING" meta info "$WORK/mr" --json | jq .format_version)"
json=$("$MORPHLING" replay "$WORK/other.csv" --algorithm morphling --prior "$WORK/mr" \
    --role threads=cpu --budget 10 --json); rc=$?
check "replay aligned by role exits 0" 0 "$rc"
check "replay by role: 10 trials" 10 "$(printf '%s' "$json" | jq '.trials | length')"
out=$("$MORPHLING" replay "$WORK/other.csv" --algorithm morphling --prior "$WORK/mr" 2>&1); rc=$?
check "without the role: exit 2" 2 "$rc"
check_contains "without the role: names the need" "'cpus' (role cpu)" "$out"
out=$("$MORPHLING" replay "$WORK/other.csv" --algorithm morphling --prior "$WORK/mr" \
    --role threads=cpuz 2>&1); rc=$?
check "unknown role exits 2" 2 "$rc"
check_contains "unknown role is named" 'unknown role "cpuz"' "$out"
"$MORPHLING" replay "$WORK/other.csv" --prior "$WORK/mr" --role nosuch=cpu >/dev/null 2>&1
check "replay --role for a missing column exits 2" 2 "$?"
# An entry whose column no training surface has went nowhere without a word (a typo such as
# --role cpu=cpu for a column 'cpus' trained a model without the role).
# shellcheck disable=SC2086
out=$("$MORPHLING" meta train $train --role cpu=cpu -o "$WORK/mtypo" 2>&1); rc=$?
check "meta train --role for a column no surface has exits 2" 2 "$rc"
check_contains "meta train --role for a column no surface has: the message" \
    "--role cpu=cpu: no surface has a column 'cpu'" "$out"
[ -e "$WORK/mtypo" ] && not_ok "meta train --role typo: wrote a model" || ok "meta train --role typo: no model"
"$MORPHLING" meta train $train --role cpus -o "$WORK/mx" >/dev/null 2>&1
check "malformed --role exits 2" 2 "$?"
out=$("$MORPHLING" bench-search --surfaces "$WORK/other.csv" --algorithms morphling \
    --prior "$WORK/mr" --role threads=cpu --budget 5 --seeds 1 2>&1); rc=$?
check "bench-search --role exits 0" 0 "$rc"

# Surfaces with metric columns besides the objective: --params names the parameters.
mkdir -p "$WORK/multi"
for t in 0 0.5 1; do
    gen "$t" "$WORK/g.csv"
    awk -F, 'NR == 1 { print "number," $0 ",p99_ms"; next } { print NR - 1 "," $0 "," NR % 7 }' \
        "$WORK/g.csv" >"$WORK/multi/m$t.csv"
done
json=$("$MORPHLING" meta train --no-store --surfaces "$WORK/multi" --params batch,cpus,gpu \
    --objective value --iterations 20 --members 1 --hidden 8 -o "$WORK/mp" --json); rc=$?
check "meta train --params exits 0" 0 "$rc"
check "--params: only the parameters are features" '["batch","cpus","gpu"]' \
    "$("$MORPHLING" meta info "$WORK/mp" --json | jq -c '[.features[].name]')"
"$MORPHLING" meta train --no-store --surfaces "$WORK/multi" --params batch,nosuch \
    --objective value --iterations 20 -o "$WORK/mx" >/dev/null 2>&1
check "meta train --params with a missing column exits 2" 2 "$?"

# bo with the model as its prior mean.
json=$("$MORPHLING" replay "$WORK/target.csv" --algorithm bo --prior "$WORK/m1" --budget 20 --json); rc=$?
check "bo with a prior exits 0" 0 "$rc"
check "bo with a prior: 20 distinct trials" 20 "$(printf '%s' "$json" | jq '[.trials[].params | tojson] | unique | length')"
check "bo with a prior: optimum reached" true "$(printf '%s' "$json" | jq '.trials_to_optimum != null')"
out=$("$MORPHLING" replay "$WORK/target.csv" --algorithm bo --prior "$WORK/bad" 2>&1); rc=$?
check "bo with a corrupt prior exits 2" 2 "$rc"
check_contains "bo names the prior" "algorithm 'bo': prior" "$out"
out=$("$MORPHLING" replay "$WORK/other.csv" --algorithm bo --prior "$WORK/m1" 2>&1); rc=$?
check "bo with a mismatched prior exits 2" 2 "$rc"

# bench-search: the model goes to morphling and NAME+prior; plain names run cold, so one run
# compares them. bo+prior's runs are replay --algorithm bo --prior's runs.
json=$("$MORPHLING" bench-search "$WORK/target.csv" --algorithms bo,bo+prior,morphling \
    --prior "$WORK/m1" --budget 12 --seeds 1 --json); rc=$?
check "bench-search bo,bo+prior,morphling exits 0" 0 "$rc"
check "bench-search labels" '["bo","bo+prior","morphling"]' \
    "$(printf '%s' "$json" | jq -c '[.algorithms[].algorithm]')"
one=$("$MORPHLING" replay "$WORK/target.csv" --algorithm bo --prior "$WORK/m1" --budget 12 --seed 0 --json)
cold=$("$MORPHLING" replay "$WORK/target.csv" --algorithm bo --budget 12 --seed 0 --json)
best() { printf '%s' "$1" | jq '.trials_to_optimum // 13'; }
check "bo+prior is bo with the prior" "$(best "$one")" \
    "$(printf '%s' "$json" | jq '.algorithms[1].median_trials_to_optimum // 13')"
check "bo is cold" "$(best "$cold")" \
    "$(printf '%s' "$json" | jq '.algorithms[0].median_trials_to_optimum // 13')"
out=$("$MORPHLING" bench-search "$WORK/target.csv" --algorithms bo+prior 2>&1); rc=$?
check "bo+prior without --prior exits 2" 2 "$rc"
check_contains "bo+prior without --prior is named" "'bo+prior' needs --prior MODEL" "$out"

# The store: a finished experiment feeds the next training.
spec="$MP_SOURCE_DIR/examples/replay-demo.yaml"
"$MORPHLING" run "$spec" --quiet >/dev/null 2>&1
check "demo run exits 0" 0 "$?"
json=$("$MORPHLING" meta train --from-store --iterations 50 --members 1 --hidden 8 -o "$WORK/ms" --json); rc=$?
check "meta train --from-store exits 0" 0 "$rc"
check "one store experiment" 1 "$(printf '%s' "$json" | jq .store_experiments)"
check "store features" '["cpu","memory","threads","batch"]' \
    "$("$MORPHLING" meta info "$WORK/ms" --json | jq -c '[.features[].name]')"
# --objective and --minimize name the surfaces' objective: a stored experiment trains on its own,
# which was not said (a training meant to minimise p99 learned the store's throughput per cost).
out=$("$MORPHLING" meta train --from-store --objective p99_ms --minimize --iterations 5 --members 1 \
    --hidden 8 -o "$WORK/ms2" 2>&1 >/dev/null); rc=$?
check "meta train --from-store --objective exits 0" 0 "$rc"
check_contains "... saying the store's experiments keep their own objective" \
    "warning: --objective and --minimize apply to surfaces: store experiment 'replay-demo' trains on its own objective (maximize throughput_per_cost)" "$out"
out=$("$MORPHLING" meta train --from-store --objective throughput_per_cost --iterations 5 --members 1 \
    --hidden 8 -o "$WORK/ms2" 2>&1 >/dev/null)
check "... and nothing when they agree" "" "$(printf '%s' "$out" | grep warning)"
json=$("$MORPHLING" meta train --surfaces "$WORK/src" --iterations 20 --members 1 --hidden 8 -o "$WORK/mm" --json)
check "default training reads the store, skipping other parameters" 1 \
    "$(printf '%s' "$json" | jq .store_skipped)"
"$MORPHLING" meta train --from-store=/nonexistent/x.db -o "$WORK/mx" >/dev/null 2>&1
check "missing store exits 2" 2 "$?"
printf 'my notes\n' >"$WORK/notes.txt"
out=$("$MORPHLING" meta train --from-store="$WORK/notes.txt" -o "$WORK/mx" 2>&1); rc=$?
check "a store that is some other file exits 2" 2 "$rc"
check "... saying so" "morphling meta train: $WORK/notes.txt: not a morphling store: file is not a database" "$out"
# A store whose finished experiments are all too short says so, rather than asking for
# finished experiments it has.
"$MORPHLING" run "$spec" --db "$WORK/short.db" --set algorithm.max_trials=3 --quiet >/dev/null 2>&1
out=$("$MORPHLING" meta train --from-store="$WORK/short.db" -o "$WORK/mx" 2>&1); rc=$?
check "a store of short experiments exits 2" 2 "$rc"
check_contains "the skipped experiment is counted" \
    "nothing to train on: the 1 finished experiment of $WORK/short.db was skipped (one needs 8" "$out"
# The store the training reads is an input as the surfaces are: -o naming it replaced the user's
# experiments with the model, without a word (the default store too).
out=$("$MORPHLING" meta train --surfaces "$WORK/src" --iterations 20 --members 1 --hidden 8 \
    --from-store="$WORK/short.db" -o "$WORK/short.db" 2>&1); rc=$?
check "meta train -o the store it reads exits 2" 2 "$rc"
check_contains "meta train -o the store: the message" \
    "-o $WORK/short.db: is the store $WORK/short.db, an input of the training" "$out"
check "... and the store keeps its experiment" 1 \
    "$("$MORPHLING" list --db "$WORK/short.db" --json 2>/dev/null | jq length)"
out=$("$MORPHLING" run "$spec" --set name=demo-meta --set algorithm.name=morphling \
    --set "algorithm.prior=$WORK/ms" --set algorithm.max_trials=12 --quiet 2>&1); rc=$?
check "run with algorithm morphling exits 0" 0 "$rc"
check "12 trials" 12 "$("$MORPHLING" show demo-meta --json | jq '.trials | length')"
"$MORPHLING" validate "$spec" --set algorithm.name=morphling --set "algorithm.prior=$WORK/m1" >/dev/null 2>&1
check "validate rejects a prior for other parameters" 2 "$?"
# ... unless a fallback is set: then validate and run say that the fallback searches, and why.
out=$("$MORPHLING" validate "$spec" --set algorithm.name=morphling --set "algorithm.prior=$WORK/m1" \
    --set algorithm.settings.fallback=bo 2>&1 >/dev/null)
check_contains "validate: the fallback that will search" \
    "morphling validate: warning: algorithm 'morphling' will search as 'bo' (its setting 'fallback'), without a prior: $WORK/m1: the meta-model needs parameter" "$out"
json=$("$MORPHLING" validate "$spec" --set algorithm.name=morphling --set "algorithm.prior=$WORK/m1" \
    --set algorithm.settings.fallback=bo --json 2>/dev/null)
check_contains "validate --json: among the warnings" "will search as 'bo'" "$(printf '%s' "$json" | jq -r '.warnings[0]')"
# An error of the prior is placed at algorithm.prior, the line that names it: it was placed at
# algorithm.name.
out=$("$MORPHLING" validate "$spec" --set algorithm.name=morphling --set "algorithm.prior=$WORK/m1" 2>&1)
check_contains "a prior for other parameters: the field" \
    "'algorithm.prior': $WORK/m1: the meta-model needs parameter" "$out"
printf 'not a model\n' >"$WORK/garbage.model"
sed -e "s|surface: surfaces/|surface: $MP_SOURCE_DIR/examples/surfaces/|" \
    -e "s|name: random|name: morphling\\n  prior: $WORK/garbage.model|" "$spec" >"$WORK/prior.yaml"
out=$("$MORPHLING" validate "$WORK/prior.yaml" 2>&1)
check_contains "a prior that is no model: the line and field" \
    "prior.yaml:$(grep -n 'prior:' "$WORK/prior.yaml" | cut -d: -f1):10: 'algorithm.prior': $WORK/garbage.model: not a morphling meta-model file" "$out"
# bo's prior was read only when the run began: validate said valid, the run then failed and left
# an experiment CREATED in the store.
out=$("$MORPHLING" validate "$spec" --set algorithm.name=bo --set "algorithm.prior=$WORK/m1" 2>&1)
check "validate rejects a bo prior for other parameters" 2 "$?"
check_contains "validate names the bo prior's problem" \
    "algorithm 'bo': prior: $WORK/m1: the meta-model needs parameter" "$out"
"$MORPHLING" validate "$spec" --set algorithm.name=bo --set "algorithm.prior=$WORK/none" >/dev/null 2>&1
check "validate rejects a missing bo prior" 2 "$?"
"$MORPHLING" run "$spec" --db "$WORK/bo.db" --set algorithm.name=bo --set "algorithm.prior=$WORK/m1" \
    --quiet >/dev/null 2>&1
check "run with a bo prior for other parameters exits 2" 2 "$?"
n=$("$MORPHLING" list --db "$WORK/bo.db" --json 2>/dev/null | jq length)
check "... and records no experiment" 0 "${n:-0}"
# --json with a path that is not UTF-8 (or a model whose names are not): json_pack() refused the
# whole object and the printer crashed on NULL (SEGV); a feature or choice whose name was not
# was left out of .features without a word. Invalid bytes print as '?' now.
bad=$(printf 'x\377y')
json=$("$MORPHLING" meta train $train --iterations 10 -o "$WORK/$bad.model" --json -q); rc=$?
check "meta train --json, a model path that is not UTF-8: exit 0" 0 "$rc"
check "meta train --json, a model path that is not UTF-8: the model" "$WORK/x?y.model" \
    "$(printf '%s' "$json" | jq -r .model)"
json=$("$MORPHLING" meta info "$WORK/$bad.model" --json); rc=$?
check "meta info --json, a path that is not UTF-8: exit 0" 0 "$rc"
check "meta info --json, a path that is not UTF-8: the features" '["batch","cpus","gpu"]' \
    "$(printf '%s' "$json" | jq -c '[.features[].name]')"
# The model replaces the file at -o by a rename: as root, -o /dev/null replaced the device with
# a regular file; a FIFO became a file too. Refused before training.
mkfifo "$WORK/fifo"
out=$("$MORPHLING" meta train $train -o "$WORK/fifo" 2>&1); rc=$?
check "meta train -o FIFO exits 2" 2 "$rc"
check_contains "meta train -o FIFO: the message" "-o $WORK/fifo: is not a regular file" "$out"
check_true "meta train -o FIFO leaves the FIFO" test -p "$WORK/fifo"
# meta info writes choice names as a terminal may show them (as `show` does): an escape
# sequence in a training surface's cell was written raw, a line break split the listing.
printf 'a,g,y\n1,"\033[31mred",1\n2,"\033[31mred",5\n1,"x\ny",2\n2,"x\ny",3\n' >"$WORK/ctl.csv"
"$MORPHLING" meta train --no-store "$WORK/ctl.csv" --objective y --iterations 5 --members 1 \
    -o "$WORK/ctl.model" -q >/dev/null
check "meta train on control characters exits 0" 0 "$?"
out=$("$MORPHLING" meta info "$WORK/ctl.model"); rc=$?
check "meta info of control characters exits 0" 0 "$rc"
check_contains "meta info escapes the choices" '  g: \x1b[31mred, x\x0ay' "$out"
check "meta info: no raw escape" 0 "$(printf '%s\n' "$out" | grep -c "$(printf '\033')")"
"$MORPHLING" meta frob >/dev/null 2>&1
check "unknown meta sub-command exits 2" 2 "$?"
finish
