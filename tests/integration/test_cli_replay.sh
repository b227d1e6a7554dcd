#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling replay` on a surface the project ships: JSON shape, determinism, metrics.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
surface="$MP_SOURCE_DIR/tests/data/surface-small.csv"

json=$("$MORPHLING" replay "$surface" --objective value --params share,mode --algorithm grid --budget 12 --seed 3 --json); rc=$?
check "replay exits 0" 0 "$rc"
check "keys" '["algorithm","best","budget","seed","surface_optimum","trials","trials_to_95","trials_to_optimum"]' \
    "$(printf '%s' "$json" | jq -c 'keys')"
check "grid runs every configuration" 12 "$(printf '%s' "$json" | jq '.trials | length')"
check "optimum found" 0.97 "$(printf '%s' "$json" | jq '.surface_optimum')"
check "trials_to_optimum" 11 "$(printf '%s' "$json" | jq '.trials_to_optimum')"
check "trials_to_95 (0.93 >= 0.9215 at trial 6)" 6 "$(printf '%s' "$json" | jq '.trials_to_95')"
check "categorical values stay strings" '"fast"' "$(printf '%s' "$json" | jq '.trials[0].params.mode')"
check "floats print canonically" 0.1 "$(printf '%s' "$json" | jq -r '.trials[0].params.share')"

a=$("$MORPHLING" replay "$surface" --params share,mode --budget 8 --seed 42 --json | jq -c '[.trials[].params]')
b=$("$MORPHLING" replay "$surface" --params share,mode --budget 8 --seed 42 --json | jq -c '[.trials[].params]')
check "same seed, same sequence" "$a" "$b"
check "random never repeats" 8 "$(printf '%s' "$a" | jq 'unique | length')"

json=$("$MORPHLING" replay "$surface" --minimize --params share,mode --budget 12 --algorithm grid --json)
check "the last column is the default objective" 3 "$(printf '%s' "$json" | jq '.surface_optimum')"
json=$("$MORPHLING" replay "$surface" --objective latency --minimize --params share,mode --budget 12 --algorithm grid --json)
check "minimize finds the lowest" 3 "$(printf '%s' "$json" | jq '.surface_optimum')"
check "minimize best" 3 "$(printf '%s' "$json" | jq '.best.value')"

# With a batch_size role the engine derives items_per_s (requests/s x batch) over the column:
# the optimum is what the trials report (120 at b=4), not the column's 100, which the trials
# overshot without ever reaching it.
printf 'b,throughput_rps,items_per_s\n1,10,100\n2,20,5\n4,30,7\n' >"$WORK/items.csv"
json=$("$MORPHLING" replay "$WORK/items.csv" --objective items_per_s --role b=batch_size \
    -a grid --budget 3 --json)
check "a derived objective's optimum" 120 "$(printf '%s' "$json" | jq '.surface_optimum')"
check "a derived objective's optimum is reached" 3 "$(printf '%s' "$json" | jq '.trials_to_optimum')"
json=$("$MORPHLING" replay "$WORK/items.csv" --objective items_per_s -a grid --budget 3 --json)
check "without the role the column is the objective" 100 \
    "$(printf '%s' "$json" | jq '.surface_optimum')"
# A role on a column that is no parameter (a metric) went nowhere without a word.
err=$("$MORPHLING" replay "$WORK/items.csv" --objective items_per_s --role throughput_rps=cpu \
    -a grid --budget 3 2>&1); rc=$?
check "a role on a metric column: exit 2" 2 "$rc"
check_contains "a role on a metric column: message" \
    "role \"throughput_rps=cpu\": 'throughput_rps' is not a parameter column" "$err"
# Two roles for one column: the last won without a word (items_per_s came out as the plain
# throughput where the first --role made b the batch size).
err=$("$MORPHLING" replay "$WORK/items.csv" --objective items_per_s --role b=batch_size \
    --role b=threads -a grid --budget 3 2>&1); rc=$?
check "two roles for one column: exit 2" 2 "$rc"
check_contains "two roles for one column: message" \
    "role \"b=threads\": column 'b' has role batch_size already (role \"b=batch_size\")" "$err"
json=$("$MORPHLING" replay "$WORK/items.csv" --objective items_per_s --role b=batch_size \
    --role b=batch_size -a grid --budget 3 --json)
check "the same role twice is that role" 120 "$(printf '%s' "$json" | jq '.surface_optimum')"
# Each trial says whether and how it failed: an OOM_KILLED row's trial read like one that
# measured nothing else ("value": null, nothing more).
printf 'x,throughput_rps,failure\n1,10,\n2,,OOM_KILLED\n' >"$WORK/failed.csv"
json=$("$MORPHLING" replay "$WORK/failed.csv" -a grid --budget 2 --json)
check "replay --json: each trial's failure" '[null,"OOM_KILLED"]' \
    "$(printf '%s' "$json" | jq -c '[.trials[].failure]')"
# A numeric role on a column of text: a choice's position stood for the batch size (items_per_s
# came out as throughput x 0, 1, 2).
printf 'b,throughput_rps\n4,10\n8,10\nauto,10\n' >"$WORK/cb.csv"
err=$("$MORPHLING" replay "$WORK/cb.csv" --role b=batch_size -a grid 2>&1); rc=$?
check "a numeric role on a text column: exit 2" 2 "$rc"
check_contains "a numeric role on a text column: message" \
    "role \"b=batch_size\": 'b' is categorical (not every value is a number): role batch_size needs a numeric parameter" "$err"

# A trial export writes a choice that starts with -, +, =, @ as '-O2. The optimum of a derived
# objective read the rows' choices without taking the apostrophe off: its row was skipped (40
# where the trials report 120, never reached). bench-search --latency refused the rows.
printf "number,state,failure,opt,b,throughput_rps,items_per_s\n1,SUCCEEDED,,'-O2,4,30,1\n2,SUCCEEDED,,plain,2,20,1\n3,SUCCEEDED,,'-O3,1,10,1\n" \
    >"$WORK/protected.csv"
json=$("$MORPHLING" replay "$WORK/protected.csv" --objective items_per_s --role b=batch_size \
    -a grid --budget 3 --json)
check "a protected choice's derived optimum" 120 "$(printf '%s' "$json" | jq '.surface_optimum')"
check "a protected choice's derived optimum is reached" 3 "$(printf '%s' "$json" | jq '.trials_to_optimum')"
"$MORPHLING" bench-search --latency 2 "$WORK/protected.csv" --objective throughput_rps >/dev/null 2>&1
check "bench-search --latency reads protected choices" 0 "$?"

# grid and random take no prior: --prior was ignored (a file that is no model at all too), and
# bench-search printed a cold run as random+prior.
printf 'not a model\n' >"$WORK/garbage.model"
for alg in grid random; do
    err=$("$MORPHLING" replay "$surface" --params share,mode -a $alg --prior "$WORK/garbage.model" \
        2>&1)
    check "$alg with --prior exits 2" 2 "$?"
    check_contains "$alg with --prior: the message" \
        "--prior $WORK/garbage.model: algorithm '$alg' takes no prior (bo and morphling do)" "$err"
done
err=$("$MORPHLING" bench-search "$surface" --params share,mode --algorithms random+prior \
    --prior "$WORK/garbage.model" 2>&1)
check "bench-search random+prior exits 2" 2 "$?"
check_contains "bench-search random+prior: the message" "algorithm 'random' takes no prior" "$err"

# A parameter column with a value per row (a metric taken for a parameter) makes a space too large
# to replay: the error came after minutes of scanning (12 min for 120000 numbers) and named the
# generated spec, '<replay>:1:788906: document expands to more than 100000 nodes (alias bomb?)'.
awk 'BEGIN { print "a,b"; for (i = 0; i < 120000; i++) print i "," i }' >"$WORK/many.csv"
err=$("$MORPHLING" replay "$WORK/many.csv" 2>&1)
check "a space too large exits 2" 2 "$?"
check_contains "the space too large is named at the surface" \
    "$WORK/many.csv: parameter column 'a' has 120000 distinct values, and the parameter columns may have 10000 in all (is 'a' a metric?)" \
    "$err"
awk 'BEGIN { print "a,b"; for (i = 0; i < 120000; i++) print "v" i "," i }' >"$WORK/many.csv"
err=$("$MORPHLING" replay "$WORK/many.csv" 2>&1)
check_contains "a text column too" "parameter column 'a' has 120000 distinct values" "$err"
awk 'BEGIN { print "a,b,c"; for (i = 0; i < 20000; i++) print i % 100 "," int(i / 100) "," i }' \
    >"$WORK/wide.csv"
"$MORPHLING" replay "$WORK/wide.csv" --budget 2 >/dev/null
check "many rows of few values replay" 0 "$?"

"$MORPHLING" replay "$surface" --objective nope >/dev/null 2>&1
check "unknown objective column exits 2" 2 "$?"
"$MORPHLING" replay "$surface" --algorithm simulated-annealing >/dev/null 2>&1
check "unknown algorithm exits 2" 2 "$?"
"$MORPHLING" replay "$surface" --budget 0 >/dev/null 2>&1
check "budget 0 exits 2" 2 "$?"
"$MORPHLING" replay "$WORK/missing.csv" >/dev/null 2>&1
check "missing surface exits 2" 2 "$?"
# Errors name the CSV or the option that caused them, never the generated spec document.
printf 'a,\377\n1,5\n2,6\n' >"$WORK/latin1.csv"
err=$("$MORPHLING" replay "$WORK/latin1.csv" 2>&1); rc=$?
check "a header that is not UTF-8 exits 2" 2 "$rc"
check_contains "it is named at its line and column" "latin1.csv:1:3: not valid UTF-8 text" "$err"
printf 'a,y=z\n1,5\n2,6\n' >"$WORK/badname.csv"
err=$("$MORPHLING" replay "$WORK/badname.csv" --params y=z --objective a 2>&1)
check_contains "a bad parameter name is named at its header cell" \
    "badname.csv:1:3: 'y=z': \"y=z\" is not a valid parameter name" "$err"
printf 'a,y\n1,5\n1,6\n' >"$WORK/twice.csv"
err=$("$MORPHLING" replay "$WORK/twice.csv" 2>&1)
check_contains "a repeated configuration is named at its line" \
    "twice.csv:3: configuration a=1 appears twice" "$err"
err=$("$MORPHLING" replay "$surface" --params share,mode -a bo --settings '{initial: 0}' 2>&1)
check_contains "settings errors name --settings" \
    "--settings:1:11: 'initial': expected an integer in [1, 10000], got \"0\"" "$err"
for alg in random grid; do
    err=$("$MORPHLING" replay "$surface" --params share,mode -a $alg --settings '{bogus: 1}' 2>&1)
    check "$alg refuses settings as a spec does" 2 "$?"
    check_contains "$alg: the setting is named" \
        "--settings:1:9: 'bogus': this algorithm takes no settings" "$err"
done
err=$("$MORPHLING" replay "$surface" --params share,mode -a bo --settings '[1]' 2>&1)
check_contains "settings must be a mapping" "--settings:1:1: expected a mapping" "$err"

# An integer option's range names its true limits: (double)INT64_MAX is 2^63, one too many.
err=$("$MORPHLING" replay "$surface" --params share,mode --seed 9223372036854775808 2>&1); rc=$?
check "seed 2^63 exits 2" 2 "$rc"
check_contains "seed range is int64's" "expected an integer in 0..9223372036854775807, got" "$err"
"$MORPHLING" replay "$surface" --params share,mode --budget 1 --seed 9223372036854775807 >/dev/null
check "seed 2^63 - 1 is accepted" 0 "$?"
err=$("$MORPHLING" show nothing --target-rps 1e13 2>&1)
check_contains "number ranges print exactly" "expected a number in 1e-09..1000000000000, got" "$err"
# Without LAPACK (here a libopenblas.so.0 that is libm) bo fails before its first trial, naming
# the library; it ran the initial design and aborted the process at the first model fit.
libm=$(ldd "$MORPHLING" | awk '$1 ~ /^libm\.so/ {print $3}')
if [ -n "$libm" ]; then
    mkdir -p "$WORK/nolapack" && ln -s "$libm" "$WORK/nolapack/libopenblas.so.0"
    err=$(LD_LIBRARY_PATH="$WORK/nolapack" "$MORPHLING" replay "$surface" --params share,mode \
        -a bo --budget 6 2>&1); rc=$?
    check "bo without LAPACK exits 1" 1 "$rc"
    check_contains "bo without LAPACK names what is missing" \
        "algorithm 'bo': the Gaussian process needs LAPACK: libopenblas.so.0 lacks cblas_ddot" "$err"
else
    ok "skipped: bo without LAPACK (no libm to stand in for OpenBLAS)"
fi
# The replay's spec is JSON text: a surface path that is not UTF-8 crashed the replay (SEGV), a
# prior path that is not was left out of it, so that morphling ran its fallback under its own
# name ("replayed ... with morphling") without a word.
bad=$(printf 'x\377y')
cp "$surface" "$WORK/$bad.csv"
err=$("$MORPHLING" replay "$WORK/$bad.csv" --params share,mode --budget 3 2>&1); rc=$?
check "a surface path that is not UTF-8: exit 2" 2 "$rc"
check_contains "a surface path that is not UTF-8: message" "$bad.csv: not valid UTF-8" "$err"
printf 'not a model\n' >"$WORK/$bad.model"
err=$("$MORPHLING" replay "$surface" --params share,mode --budget 3 -a morphling \
    --prior "$WORK/$bad.model" --settings '{fallback: bo}' 2>&1); rc=$?
check "a prior path that is not UTF-8: exit 2" 2 "$rc"
check_contains "a prior path that is not UTF-8: message" \
    "--prior $WORK/$bad.model: not valid UTF-8 text (byte" "$err"
# The default objective: --help said "the last column, or the export's first metric", but a
# surface with throughput_rps is searched for it wherever it stands (and an export for
# throughput_per_cost, which comes after its first metric).
printf 'a,throughput_rps,value\n1,10,1\n2,5,2\n' >"$WORK/rps.csv"
json=$("$MORPHLING" replay "$WORK/rps.csv" -a grid --budget 2 --json)
check "throughput_rps is the default objective" 10 "$(printf '%s' "$json" | jq '.surface_optimum')"
check_contains "--help says so" "default: throughput_per_cost, else throughput_rps, else the last" \
    "$("$MORPHLING" replay --help | tr -s ' \n' '  ')"
# morphling's fallback keeps its patience: with fallback bo it was dropped (the budget ran out),
# with fallback random it held. The run is then bo's with patience 2, trial for trial.
a=$("$MORPHLING" replay "$surface" --params share,mode --objective value --algorithm morphling \
    --settings '{fallback: bo, patience: 2}' --budget 12 --seed 5 --json 2>/dev/null |
    jq -c '[.trials[].params]')
b=$("$MORPHLING" replay "$surface" --params share,mode --objective value --algorithm bo \
    --settings '{patience: 2}' --budget 12 --seed 5 --json | jq -c '[.trials[].params]')
check "fallback bo keeps patience: the trials of bo with patience 2" "$b" "$a"
check_true "fallback bo keeps patience: it stopped early" test "$(printf '%s' "$a" | jq length)" -lt 12
# Choice names reach the terminal escaped, as `show` writes them: an escape sequence in a
# surface's cell was written raw (it recoloured or rewrote the screen), a line break split the
# line.
printf 'a,g,y\n1,"\033[31mred",1\n2,"\033[31mred",5\n1,"x\ny",2\n' >"$WORK/ctl.csv"
out=$("$MORPHLING" replay "$WORK/ctl.csv" --objective y --algorithm grid); rc=$?
check "replay of control characters in choices exits 0" 0 "$rc"
check_contains "replay text escapes an escape sequence" 'a=2,g=\x1b[31mred' "$out"
check "replay text: no raw escape, three lines" "0 3" \
    "$(printf '%s\n' "$out" | grep -c "$(printf '\033')") $(printf '%s\n' "$out" | wc -l)"
# Parameter values near -+1e308: their range's width overflowed in the encodings (NaN inputs),
# and bo stopped with "GP kernel matrix is not positive definite".
printf 'a,y\n-1e308,1\n1,2\n1e308,3\n5e307,4\n' >"$WORK/huge.csv"
for algo in bo random; do
    out=$("$MORPHLING" replay "$WORK/huge.csv" --objective y --algorithm "$algo" 2>&1); rc=$?
    check "replay -a $algo of values near 1e308 exits 0" 0 "$rc"
    check_contains "... and finds the optimum" "best: 4 at trial" "$out"
done
printf 'a,b\n1,"x\n' >"$WORK/broken.csv"
err=$("$MORPHLING" replay "$WORK/broken.csv" 2>&1); rc=$?
check "malformed CSV exits 2" 2 "$rc"
check_contains "malformed CSV names the line" "broken.csv:2:" "$err"
# The text gives values in full: at 6 digits the optimum 1.0000001 read 1 beside a best of 1,
# "surface optimum: 1; reached never".
printf 'a,v\n1,1\n2,1.0000001\n3,0.5\n' >"$WORK/close.csv"
out=$("$MORPHLING" replay "$WORK/close.csv" -a grid --budget 1)
check_contains "best in full" "best: 1 at trial 1" "$out"
check_contains "the optimum in full" "surface optimum: 1.0000001; reached never" "$out"
finish
