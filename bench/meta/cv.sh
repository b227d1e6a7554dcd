#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# K-fold cross-validation of meta-training on the source surfaces only (never the targets): for
# each fold, train on the other folds and replay `morphling` on the held-out surfaces.
# Prints pooled medians of trials to the optimum and to 95 % of it.
# usage: bench/meta/cv.sh [BUILD_DIR] [FOLDS] [SEEDS] [-- extra `meta train` options]
# env: FALCON_DIR (default ../shared/data/falcon), SETTINGS (YAML for algorithm.settings),
#      BUDGET (default 40), MODELS_DIR (keep the fold models there and reuse them, to compare
#      search settings without retraining).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
folds=${2:-3}
seeds=${3:-3}
[ $# -ge 3 ] && shift 3 || shift $#
[ "${1:-}" = "--" ] && shift
bin=$build/morphling
data=${FALCON_DIR:-$root/../shared/data/falcon}
budget=${BUDGET:-40}
if [ ! -d "$data/sources" ]; then
    echo "cv: $data/sources is absent (set FALCON_DIR); nothing to do"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
i=0
for f in "$data"/sources/*.csv; do
    k=$((i % folds))
    for j in $(seq 0 $((folds - 1))); do
        mkdir -p "$tmp/train$j" "$tmp/test$j"
        if [ "$j" = "$k" ]; then ln -s "$f" "$tmp/test$j/"; else ln -s "$f" "$tmp/train$j/"; fi
    done
    i=$((i + 1))
done
: >"$tmp/runs"
secs=0
for j in $(seq 0 $((folds - 1))); do
    model=${MODELS_DIR:-$tmp}/m$j
    if [ ! -f "$model" ]; then
        start=$(date +%s)
        "$bin" meta train --no-store --surfaces "$tmp/train$j" -o "$model" "$@" >/dev/null
        secs=$((secs + $(date +%s) - start))
    fi
    for f in "$tmp/test$j"/*.csv; do
        for s in $(seq 0 $((seeds - 1))); do
            if [ -n "${SETTINGS:-}" ]; then
                out=$("$bin" replay "$f" --algorithm morphling --prior "$model" --budget "$budget" \
                    --seed "$s" --json --settings "$SETTINGS")
            else
                out=$("$bin" replay "$f" --algorithm morphling --prior "$model" --budget "$budget" \
                    --seed "$s" --json)
            fi
            echo "$out" | tr -d ' \n' |
                sed 's/.*"trials_to_optimum":\([^,}]*\).*"trials_to_95":\([^,}]*\).*/\1 \2/' \
                    >>"$tmp/runs"
            echo >>"$tmp/runs"
        done
    done
done
awk -v b="$budget" -v secs="$secs" '
NF == 2 {
    n++; o[n] = ($1 == "null") ? b + 1 : $1; q[n] = ($2 == "null") ? b + 1 : $2
    if ($1 != "null" && $1 <= 30) w++
    if ($1 == "null" || $1 > worst) worst = ($1 == "null") ? b + 1 : ($1 > worst ? $1 : worst)
}
function med(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END { printf "runs %d  median.opt %s  median.95 %s  opt<=30 %d/%d  worst %s  train_s %d\n", n, med(o, n), med(q, n), w, n, worst, secs }
' "$tmp/runs"
