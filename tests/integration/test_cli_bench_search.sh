#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `morphling bench-search` on a surface the project ships: JSON shape, figures of a known run,
# directory expansion, the latency probe and usage errors.
. "$MP_SOURCE_DIR/tests/integration/lib.sh"
surface="$MP_SOURCE_DIR/tests/data/surface-small.csv"
cols="--objective value --params share,mode"

# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search --surfaces "$surface" $cols --budget 12 --seeds 2 --json); rc=$?
check "bench-search exits 0" 0 "$rc"
check "keys" '["algorithms","budget","seeds","surfaces"]' "$(printf '%s' "$json" | jq -c 'keys')"
check "default algorithms in order" '["grid","random","bo"]' \
    "$(printf '%s' "$json" | jq -c '[.algorithms[].algorithm]')"
check "runs per algorithm" '[2,2,2]' "$(printf '%s' "$json" | jq -c '[.algorithms[].runs]')"
check "grid reaches the optimum at trial 11" 11 \
    "$(printf '%s' "$json" | jq '.algorithms[0].median_trials_to_optimum')"
check "grid reaches 95 % at trial 6" 6 "$(printf '%s' "$json" | jq '.algorithms[0].median_trials_to_95')"
check "every algorithm finds the optimum of 12 in 12" '[1,1,1]' \
    "$(printf '%s' "$json" | jq -c '[.algorithms[].share_optimum]')"
check "best@K only for K within the budget of 12" '[["10"],["10"],["10"]]' \
    "$(printf '%s' "$json" | jq -c '[.algorithms[].mean_best_fraction_at | keys]')"

# grid's order does not depend on the seed: one replay stands for the K (it ran K identical ones).
# shellcheck disable=SC2086
"$MORPHLING" bench-search --surfaces "$surface" $cols --algorithms grid --budget 12 --seeds 3 \
    --json >"$WORK/grid.json" 2>"$WORK/grid.err"
check "grid: K runs counted" 3 "$(jq '.algorithms[0].runs' "$WORK/grid.json")"
check "... from one replay" 2 "$(grep -c 'grid seed [12]: optimum at trial 11 (as seed 0)$' "$WORK/grid.err")"

mkdir "$WORK/dir"
cp "$surface" "$WORK/dir/b.csv"
cp "$surface" "$WORK/dir/a.csv"
# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search "$WORK/dir" $cols --algorithms bo --budget 5 --seeds 1 --json)
check "a directory contributes its CSV files in order" "[\"$WORK/dir/a.csv\",\"$WORK/dir/b.csv\"]" \
    "$(printf '%s' "$json" | jq -c '.surfaces')"
check "one run per surface" 2 "$(printf '%s' "$json" | jq '.algorithms[0].runs')"
# A surface named twice (a folder and a file in it, one file by two names) is one surface: it
# was replayed twice and counted twice in the medians and shares, as meta train once trained it.
# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search "$WORK/dir" "$WORK/dir/a.csv" "$WORK/dir/../dir/b.csv" $cols \
    --algorithms random --budget 5 --seeds 1 --json -q)
check "a surface named twice counts once" "[\"$WORK/dir/a.csv\",\"$WORK/dir/b.csv\"]" \
    "$(printf '%s' "$json" | jq -c '.surfaces')"
check "a surface named twice runs once per seed" 2 "$(printf '%s' "$json" | jq '.algorithms[0].runs')"

# shellcheck disable=SC2086
text=$("$MORPHLING" bench-search "$surface" $cols --algorithms grid --budget 3 --seeds 1)
check_contains "text output names the algorithm" "grid" "$text"
check_contains "a median past the budget prints as >N" ">3" "$text"
case "$text" in *best@*) not_ok "no best@K column for a budget of 3: $text" ;; *) ok "no best@K column for a budget of 3" ;; esac
# shellcheck disable=SC2086
text=$("$MORPHLING" bench-search "$surface" $cols --algorithms grid --budget 20 --seeds 1 2>/dev/null)
check "best@10 and best@20 for a budget of 20" "best@10 best@20" \
    "$(printf '%s\n' "$text" | grep -o 'best@[0-9][0-9]*' | sort -u | tr '\n' ' ' | sed 's/ $//')"

# best@K on negative objectives: grid tries x = 1..10 of 12. Maximising y = x - 13 it ends at -3
# of an optimum of -1 (a third of it); minimising y = -x at -10 of -12. The ratio printed 3 and
# 1.2, as if grid had beaten the optimum.
printf 'x,y\n' >"$WORK/neg.csv"
for x in 1 2 3 4 5 6 7 8 9 10 11 12; do printf '%s,%s\n' $x $((x - 13)) >>"$WORK/neg.csv"; done
json=$("$MORPHLING" bench-search "$WORK/neg.csv" --algorithms grid --budget 10 --seeds 1 --json -q)
check "best@10 of a negative maximum is a fraction" 0.333 \
    "$(printf '%s' "$json" | jq '.algorithms[0].mean_best_fraction_at["10"] * 1000 | floor / 1000')"
printf 'x,y\n' >"$WORK/negmin.csv"
for x in 1 2 3 4 5 6 7 8 9 10 11 12; do printf '%s,%s\n' $x $((-x)) >>"$WORK/negmin.csv"; done
json=$("$MORPHLING" bench-search "$WORK/negmin.csv" --minimize --algorithms grid --budget 10 \
    --seeds 1 --json -q)
check "best@10 of a negative minimum is a fraction" 0.833 \
    "$(printf '%s' "$json" | jq '.algorithms[0].mean_best_fraction_at["10"] * 1000 | floor / 1000')"

# best@K where the optimum is 0 (an error rate minimised, a maximum of 0): a run at the optimum
# read 0, the figure of a run that found nothing, beside a share.opt of 1.
printf 'x,err\n1,0.5\n2,0\n3,0.2\n' >"$WORK/zero.csv"
json=$("$MORPHLING" bench-search "$WORK/zero.csv" --minimize --algorithms grid --budget 10 \
    --seeds 1 --json -q)
check "best@10 at an optimum of 0 is 1" 1 \
    "$(printf '%s' "$json" | jq '.algorithms[0].mean_best_fraction_at["10"]')"
printf 'x,err\n' >"$WORK/zero-last.csv"
for x in 1 2 3 4 5 6 7 8 9 10 11 12; do printf '%s,%s\n' $x $((12 - x)) >>"$WORK/zero-last.csv"; done
json=$("$MORPHLING" bench-search "$WORK/zero-last.csv" --minimize --algorithms grid --budget 10 \
    --seeds 1 --json -q)
check "best@10 short of an optimum of 0 is 0 (no ratio to 0)" 0 \
    "$(printf '%s' "$json" | jq '.algorithms[0].mean_best_fraction_at["10"]')"

# A median whose upper middle run never reached the optimum: grid (budget 3) reaches it at trial
# 2 on one surface and never on the other. The median read 3, the mean of 2 and the stand-in
# budget + 1, as if the runs reached it at trial 3.
printf 'x,y\n1,1\n2,9\n3,5\n4,2\n' >"$WORK/early.csv"
printf 'x,y\n1,1\n2,2\n3,3\n4,9\n' >"$WORK/late.csv"
json=$("$MORPHLING" bench-search "$WORK/early.csv" "$WORK/late.csv" --algorithms grid --budget 3 \
    --seeds 1 --json -q)
check "a median with half the runs short of the optimum is past the budget" null \
    "$(printf '%s' "$json" | jq '.algorithms[0].median_trials_to_optimum')"
check "half the runs reached the optimum" 0.5 "$(printf '%s' "$json" | jq '.algorithms[0].share_optimum')"
text=$("$MORPHLING" bench-search "$WORK/early.csv" "$WORK/late.csv" --algorithms grid --budget 3 \
    --seeds 1 -q)
check "a median with half the runs short prints as >N" ">3" \
    "$(printf '%s\n' "$text" | awk '$1 == "grid" { print $3 }')"

# --role: one list serves surfaces with different columns (docs/internals/meta.md); an entry whose
# column a surface lacks is ignored for that surface. bench-search refused it ("'cores' is not a
# parameter column") on the surface without the column. A column no surface has is a typo.
sed '1s/^share,/cores,/' "$surface" >"$WORK/renamed.csv"
# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search "$surface" "$WORK/renamed.csv" --objective value \
    --role share=cpu --role cores=cpu --algorithms random --budget 3 --seeds 1 --json -q); rc=$?
check "--role on columns some surfaces lack exits 0" 0 "$rc"
check "--role on columns some surfaces lack: both surfaces ran" 2 \
    "$(printf '%s' "$json" | jq '.algorithms[0].runs')"
err=$("$MORPHLING" bench-search "$surface" "$WORK/renamed.csv" --objective value \
    --role shares=cpu --algorithms random --budget 3 --seeds 1 -q 2>&1); rc=$?
check "--role on a column no surface has exits 2" 2 "$rc"
check_contains "--role on a column no surface has: the message" \
    "--role shares=cpu: no surface has a column 'shares'" "$err"
err=$("$MORPHLING" bench-search "$surface" --objective value --role shares --algorithms random \
    --budget 3 --seeds 1 -q 2>&1)
check_contains "--role without =ROLE: the format is the message" 'role "shares": expected COLUMN=ROLE' \
    "$err"
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search "$surface" $cols --role latency=cpu \
    --algorithms random --budget 3 --seeds 1 -q 2>&1); rc=$?
check "--role on a metric column exits 2" 2 "$rc"
check_contains "--role on a metric column: the message" "'latency' is not a parameter column" "$err"

# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search --latency 5 "$surface" $cols --json); rc=$?
check "latency probe exits 0" 0 "$rc"
check "latency probe counts candidates" 7 "$(printf '%s' "$json" | jq '.candidates')"
check "latency probe reports CPU time" true "$(printf '%s' "$json" | jq '.cpu_ms_per_suggestion > 0')"
# --latency times bo whatever --algorithms names: a list without bo printed bo's figure.
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search --latency 5 "$surface" $cols --algorithms morphling 2>&1); rc=$?
check "--latency with --algorithms without bo: exit 2" 2 "$rc"
check_contains "--latency with --algorithms without bo: the message" \
    "--latency times bo's suggestions, which --algorithms leaves out" "$err"
# A surface path that is not UTF-8: json_pack() refused the object, and printf got NULL (SEGV).
cp "$surface" "$WORK/$(printf 'x\377y').csv"
# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search --latency 5 "$WORK/$(printf 'x\377y').csv" $cols --json); rc=$?
check "latency probe, a path that is not UTF-8: exit 0" 0 "$rc"
check "latency probe, a path that is not UTF-8: the surface" "$WORK/x?y.csv" \
    "$(printf '%s' "$json" | jq -r '.surface')"

"$MORPHLING" bench-search >/dev/null 2>&1
check "no surfaces exits 2" 2 "$?"
err=$("$MORPHLING" bench-search "$surface" --algorithms simulated-annealing 2>&1)
check "unknown algorithm exits 2" 2 "$?"
# The check before the runs names the option, as replay's errors do, never the generated spec.
check_contains "unknown algorithm: the message" \
    "$surface, simulated-annealing: unknown algorithm 'simulated-annealing' (available:" "$err"
# An algorithm named twice is refused (it made two rows of the same figures).
err=$("$MORPHLING" bench-search "$surface" --algorithms random,bo,random 2>&1)
check "an algorithm named twice exits 2" 2 "$?"
check_contains "an algorithm named twice: the message" "--algorithms names 'random' twice" "$err"
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search "$surface" $cols --algorithms grid,bo --settings '{x: 1}' 2>&1)
check "settings bo does not take exit 2" 2 "$?"
check "the settings error names --settings once" \
    "morphling bench-search: $surface, bo: --settings:1:2: 'x': unknown key; did you mean 'xi'?" "$err"
# --settings are for the algorithms that take settings: with the default grid,random,bo the
# example of --help ('{initial: 5}') failed, as grid takes none; and bo+prior, morphling beside
# them likewise. When none of --algorithms takes settings they would go nowhere: an error.
# shellcheck disable=SC2086
json=$("$MORPHLING" bench-search "$surface" $cols --settings '{initial: 5}' --budget 6 --seeds 1 \
    --json -q); rc=$?
check "--settings with grid and random in the list exits 0" 0 "$rc"
check "--settings with grid and random: every algorithm ran" '["grid","random","bo"]' \
    "$(printf '%s' "$json" | jq -c '[.algorithms[].algorithm]')"
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search "$surface" $cols --algorithms grid,random --settings '{x: 1}' \
    2>&1); rc=$?
check "--settings that no algorithm takes exits 2" 2 "$rc"
check_contains "--settings that no algorithm takes: the message" \
    "--settings: no algorithm of --algorithms takes settings (grid and random take none)" "$err"
# shellcheck disable=SC2086
"$MORPHLING" bench-search "$surface" $cols --algorithms grid,random --settings '{}' --budget 3 \
    --seeds 1 -q >/dev/null 2>&1
check "--settings {} with grid and random exits 0" 0 "$?"
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search "$surface" $cols --algorithms morphling 2>&1)
check "morphling without --prior exits 2" 2 "$?"
case $err in *"<replay>"*) not_ok "morphling without --prior: names the generated spec: $err" ;;
*) ok "morphling without --prior: no generated spec in the message" ;; esac
"$MORPHLING" bench-search "$surface" --budget 0 >/dev/null 2>&1
check "budget 0 exits 2" 2 "$?"
"$MORPHLING" bench-search "$surface" --frobnicate >/dev/null 2>&1
check "unknown option exits 2" 2 "$?"
"$MORPHLING" bench-search "$WORK/missing.csv" >/dev/null 2>&1
check "missing surface exits 2" 2 "$?"
# shellcheck disable=SC2086
"$MORPHLING" bench-search "$surface" $cols --algorithms bo --settings '{initial: 0}' >/dev/null 2>&1
check "invalid bo settings exit 2" 2 "$?"
# --prior given to no algorithm that takes it (plain bo runs cold) was ignored, a missing file
# too: the comparison printed cold runs. replay refuses it for grid and random.
# shellcheck disable=SC2086
err=$("$MORPHLING" bench-search "$surface" $cols --algorithms grid,bo --prior "$WORK/none.model" \
    --budget 3 --seeds 1 -q 2>&1); rc=$?
check "--prior that no algorithm takes exits 2" 2 "$rc"
check_contains "--prior that no algorithm takes: the message" \
    "--prior $WORK/none.model: no algorithm of --algorithms takes it (morphling and NAME+prior do)" \
    "$err"
# shellcheck disable=SC2086
"$MORPHLING" bench-search "$surface" $cols --latency 5 --prior "$WORK/none.model" >/dev/null 2>&1
check "--prior with --latency exits 2" 2 "$?"
finish
