#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Meta-learned search benchmark (docs/internals/meta.md):
# 1. trains a prior on the Falcon source surfaces only (timed) and replays random, cold-start bo,
#    bo with the prior as its mean (bo+prior) and morphling side by side on the Falcon target
#    surfaces with `bench-search`, then bench/meta/floor.sh (the best median any search can
#    expect on them);
# 2. leave-one-out on the project's own measured surfaces (bench/surfaces/*.csv): for each one,
#    train on the others with the same parameters (the other Fashion-MNIST model sizes) and replay
#    random, bo, bo+prior and morphling on it side by side.
# usage: bench/meta/run.sh [BUILD_DIR] [SEEDS] [BUDGET]
# env: FALCON_DIR (default ../shared/data/falcon relative to the repository root),
#      LOO_BUDGET (default 20: the measured grids have 8 to 54 configurations).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
seeds=${2:-5}
budget=${3:-40}
loo_budget=${LOO_BUDGET:-20}
bin=$build/morphling
data=${FALCON_DIR:-$root/../shared/data/falcon}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== Falcon: prior trained on sources/, evaluated on targets/"
if [ -d "$data/sources" ] && [ -d "$data/targets" ]; then
    start=$(date +%s)
    # Roles (they do not change the weights) let services with other parameter names use it.
    "$bin" meta train --no-store --surfaces "$data/sources" --seed 1 -o "$tmp/falcon.model" \
        --role batchsize=batch_size --role cpus=cpu --role gpumem=gpu_memory_share \
        --role gputype=gpu_type
    echo "training wall time: $(($(date +%s) - start)) s"
    "$bin" bench-search --surfaces "$data/targets" --algorithms random,bo,bo+prior,morphling \
        --prior "$tmp/falcon.model" --budget "$budget" --seeds "$seeds"
    echo
    echo "== Falcon: what any search reaches at best (bench/meta/floor.sh)"
    FALCON_DIR=$data sh "$root/bench/meta/floor.sh"
else
    echo "skipped: $data is absent (set FALCON_DIR to the Falcon surfaces)"
fi

echo
echo "== Leave-one-out on bench/surfaces (budget $loo_budget)"
# A surface can only be learned from others with the same parameters; the objective is cost
# efficiency at the SLO (rows that violated it replay as failed trials).
obj=throughput_per_cost
for f in "$root"/bench/surfaces/*.csv; do
    params=$(head -1 "$f" | tr ',' '\n' | sed -n '/^failure$/,/^throughput_rps$/p' | sed '1d;$d' |
        paste -sd, -)
    rm -rf "$tmp/loo"
    mkdir -p "$tmp/loo"
    for g in "$root"/bench/surfaces/*.csv; do
        gp=$(head -1 "$g" | tr ',' '\n' | sed -n '/^failure$/,/^throughput_rps$/p' | sed '1d;$d' |
            paste -sd, -)
        [ "$g" != "$f" ] && [ "$gp" = "$params" ] && ln -s "$g" "$tmp/loo/"
    done
    echo "-- held out: $(basename "$f") (parameters $params)"
    if [ -z "$(ls "$tmp/loo")" ]; then
        echo "skipped: no other measured surface has these parameters"
        continue
    fi
    echo "prior trained on: $(ls "$tmp/loo" | paste -sd' ' -)"
    "$bin" meta train --no-store --surfaces "$tmp/loo" --objective "$obj" --params "$params" \
        --seed 1 -o "$tmp/loo.model" >/dev/null
    "$bin" bench-search --surfaces "$f" --algorithms random,bo,bo+prior,morphling --objective "$obj" \
        --params "$params" --prior "$tmp/loo.model" --budget "$loo_budget" --seeds "$seeds"
done
