#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Trust benchmark (issue 16 item 2), live on this machine with the example Fashion-MNIST server
# (examples/fmnist.yaml, the spec of `make demo`):
#   1. RUNS (3) independent tuning runs (seeds 1, 2, 3, fresh stores): each one's recommended
#      configuration and its confirmed objective value (mean over the trial and its
#      confirmation runs), then the spread of those values ((max - min) / min; goal <= 10 %);
#   2. the first run's recommendation re-measured REPEATS (5) times with `morphling trial`:
#      throughput per run, its coefficient of variation (goal <= 3 %) and how many of the runs
#      met the SLO (goal 5 of 5);
#   3. the RUNS recommendations re-measured side by side, SIDE (3) interleaved rounds (one run of
#      each recommendation per round): their mean objective and its spread. Not a goal figure:
#      it tells a change of the machine's speed between the runs of step 1 (which step 1's
#      spread includes) from recommendations that differ in quality.
# Prints the load average before and after: the figures mean little on a busy machine.
# Usage: bench/trust/run.sh [BUILD_DIR]   (build/release by default: make build; env TRIALS=16 for
# algorithm.max_trials, RUNS=3, REPEATS=5, SIDE=3, SETS="--set K=V ..." more overrides for the
# runs, e.g. search settings to compare; KEEP=1 keeps the stores and outputs and prints where)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/morphling
spec=$root/examples/fmnist.yaml
trials=${TRIALS:-16}
runs=${RUNS:-3}
repeats=${REPEATS:-5}
side=${SIDE:-3}
sets_extra=${SETS:-}
[ -x "$bin" ] || { echo "bench/trust: no $bin: build first (make build)" >&2; exit 1; }
work=$(mktemp -d /tmp/mp-trust.XXXXXX)
if [ "${KEEP:-0}" = 1 ]; then
    echo "keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi
echo "== bench/trust: $runs runs of examples/fmnist.yaml ($trials trials each${sets_extra:+, $sets_extra}), then $repeats re-measurements"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$work/values"
for seed in $(seq 1 "$runs"); do
    db=$work/run$seed.db
    # shellcheck disable=SC2086
    "$bin" run "$spec" --db "$db" --quiet --set algorithm.seed="$seed" \
        --set algorithm.max_trials="$trials" $sets_extra >/dev/null 2>&1 || true
    json=$("$bin" show fmnist-xgboost --db "$db" --json)
    printf '%s' "$json" >"$work/run$seed.json"
    value=$(printf '%s' "$json" | jq '.best.confirmed.mean // .best.value // 0')
    echo "$value" >>"$work/values"
    printf 'run %s (seed %s): %s; recommended trial %s %s: %s = %.0f (%s measurements, sd %.0f, 95 %% interval +-%s %%); SLO violated in %s of %s trials\n' \
        "$seed" "$seed" "$(printf '%s' "$json" | jq -r .state)" \
        "$(printf '%s' "$json" | jq -r '.best.number // "none"')" \
        "$(printf '%s' "$json" | jq -c '.best.params // {}')" \
        "$(printf '%s' "$json" | jq -r .objective.metric)" "$value" \
        "$(printf '%s' "$json" | jq -r '.best.confirmed.runs // 1')" \
        "$(printf '%s' "$json" | jq -r '.best.confirmed.stddev // 0')" \
        "$(printf '%s' "$json" | jq -r '(.best.confirmed.interval // null) | if . == null then "-" else (. * 1000 | round / 10 | tostring) end')" \
        "$(printf '%s' "$json" | jq '[.trials[] | select(.failure == "SLO_VIOLATED")] | length')" \
        "$(printf '%s' "$json" | jq '.trials | length')"
done
awk '{ v[NR] = $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
     END { printf "confirmed objective over %d runs: min %.0f, max %.0f, spread (max - min) / min = %.1f %%\n", NR, lo, hi, (lo > 0 ? 100 * (hi - lo) / lo : 0) }' "$work/values"

# The --set options of run N's recommended configuration (none when it recommended nothing).
recommended_sets() {
    jq -r '.best.params // {} | to_entries[] | "--set \(.key)=\(.value)"' "$work/run$1.json"
}

sets=$(recommended_sets 1)
[ -n "$sets" ] || { echo "run 1 recommended nothing: no re-measurement"; exit 0; }
: >"$work/rps"
pass=0
for i in $(seq 1 "$repeats"); do
    # shellcheck disable=SC2086
    out=$("$bin" trial "$spec" $sets --json -q 2>/dev/null || true)
    rps=$(printf '%s' "$out" | jq '.metrics.throughput_rps // 0')
    state=$(printf '%s' "$out" | jq -r '.state // "ERROR"')
    [ "$state" = SUCCEEDED ] && pass=$((pass + 1))
    echo "$rps" >>"$work/rps"
    printf 're-measurement %s: %s, %.0f req/s, p99 %s ms, stable %s, windows %s\n' "$i" "$state" "$rps" \
        "$(printf '%s' "$out" | jq -r '.metrics.p99_ms // "-"')" \
        "$(printf '%s' "$out" | jq -r '.metrics.stable // "-"')" \
        "$(printf '%s' "$out" | jq -r '.metrics.windows // "-"')"
done
awk -v pass="$pass" -v n="$repeats" '{ s += $1; q += $1 * $1 } END {
    m = s / NR; sd = NR > 1 ? sqrt((q - s * s / NR) / (NR - 1)) : 0
    printf "recommended configuration re-measured %d times: mean %.0f req/s, CoV %.1f %%, SLO met %d of %d\n", NR, m, (m > 0 ? 100 * sd / m : 0), pass, n }' "$work/rps"

metric=$(jq -r .objective.metric "$work/run1.json")
: >"$work/side"
for _ in $(seq 1 "$side"); do
    for seed in $(seq 1 "$runs"); do
        sets=$(recommended_sets "$seed")
        [ -n "$sets" ] || continue
        # shellcheck disable=SC2086
        out=$("$bin" trial "$spec" $sets --json -q 2>/dev/null || true)
        printf '%s %s %s\n' "$seed" "$(printf '%s' "$out" | jq --arg m "$metric" '.metrics[$m] // 0')" \
            "$(printf '%s' "$out" | jq -r '.state // "ERROR"')" >>"$work/side"
    done
done
awk -v rounds="$side" -v runs="$runs" -v metric="$metric" '{ s[$1] += $2; n[$1]++; if ($3 == "SUCCEEDED") ok[$1]++ }
    END {
        for (r = 1; r <= runs; r++) {
            if (!n[r]) continue
            m = s[r] / n[r]
            printf "side by side, recommendation of run %d: %s = %.0f (mean of %d), SLO met %d of %d\n", r, metric, m, n[r], ok[r], n[r]
            if (!seen++ || m < lo) lo = m
            if (m > hi) hi = m
        }
        if (seen) printf "recommendations measured side by side (%d interleaved rounds): spread (max - min) / min = %.1f %%\n", rounds, (lo > 0 ? 100 * (hi - lo) / lo : 0)
    }' "$work/side"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
