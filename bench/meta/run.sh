#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Meta-learned search benchmark (docs/internals/meta.md):
# 1. trains a prior on the Falcon source surfaces only (timed) and replays random, bo and
#    morphling side by side on the Falcon target surfaces with `bench-search`;
# 2. leave-one-out on the project's own measured surfaces (bench/surfaces/*.csv): for each one,
#    train on the others and replay on it.
# usage: bench/meta/run.sh [BUILD_DIR] [SEEDS] [BUDGET]
# env: FALCON_DIR (default ../shared/data/falcon relative to the repository root).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
seeds=${2:-5}
budget=${3:-40}
bin=$build/morphling
data=${FALCON_DIR:-$root/../shared/data/falcon}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== Falcon: prior trained on sources/, evaluated on targets/"
if [ -d "$data/sources" ] && [ -d "$data/targets" ]; then
    start=$(date +%s)
    "$bin" meta train --no-store --surfaces "$data/sources" --seed 1 -o "$tmp/falcon.model"
    echo "training wall time: $(($(date +%s) - start)) s"
    "$bin" bench-search --surfaces "$data/targets" --algorithms random,bo,morphling \
        --prior "$tmp/falcon.model" --budget "$budget" --seeds "$seeds"
else
    echo "skipped: $data is absent (set FALCON_DIR to the Falcon surfaces)"
fi

echo
echo "== Leave-one-out on bench/surfaces"
n=$(find "$root/bench/surfaces" -maxdepth 1 -name '*.csv' 2>/dev/null | wc -l)
if [ "$n" -lt 2 ]; then
    echo "skipped: bench/surfaces has $n measured surfaces (at least 2 needed)"
    exit 0
fi
# A surface can only be learned from others with the same columns (parameters and metrics).
for f in "$root"/bench/surfaces/*.csv; do
    rm -rf "$tmp/loo"
    mkdir -p "$tmp/loo"
    head=$(head -1 "$f")
    for g in "$root"/bench/surfaces/*.csv; do
        [ "$g" != "$f" ] && [ "$(head -1 "$g")" = "$head" ] && ln -s "$g" "$tmp/loo/"
    done
    echo "-- held out: $(basename "$f")"
    if [ -z "$(ls "$tmp/loo")" ]; then
        echo "skipped: no other measured surface has its parameters and metrics ($head)"
        continue
    fi
    "$bin" meta train --no-store --surfaces "$tmp/loo" --seed 1 -o "$tmp/loo.model" >/dev/null
    "$bin" bench-search --surfaces "$f" --algorithms random,bo,morphling \
        --prior "$tmp/loo.model" --budget "$budget" --seeds "$seeds"
done
