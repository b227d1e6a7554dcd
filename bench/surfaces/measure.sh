#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measures the full grids of the examples with the local runner and writes the surfaces
# bench/surfaces/NAME.csv (one row per configuration: parameters, then every metric).
# usage: sh bench/surfaces/measure.sh [NAME...]   (default: every NAME-grid.yaml here)
# fmnist-small and fmnist-large serve Fashion-MNIST models of other sizes, trained here first
# (build/release/examples/models/NAME/fmnist.ubj). Needs the release build (make build). Takes
# about 5 minutes per fmnist grid and 2 for ocr on 2 cores; the machine should be otherwise
# idle, since every trial is a real load test.
set -eu
cd "$(dirname "$0")/../.."
bin=build/release/morphling
db=build/surfaces.db
models=build/release/examples/models
train() { # NAME ROUNDS DEPTH
    [ -f "$models/$1/fmnist.ubj" ] && return 0
    mkdir -p "$models/$1"
    build/release/examples/inference-server/train_fmnist --data /usr/share/datasets/fashion-mnist \
        --out "$models/$1/fmnist.ubj" --rows 20000 --rounds "$2" --depth "$3" --threads 2
}
[ $# -gt 0 ] || set -- fmnist ocr fmnist-small fmnist-large
for name in "$@"; do
    case $name in
    fmnist-small) train fmnist-small 10 4 ;;
    fmnist-large) train fmnist-large 160 8 ;;
    esac
    "$bin" run "bench/surfaces/$name-grid.yaml" --db "$db" --restart --quiet >/dev/null || true
    "$bin" export "$name-grid" --db "$db" --format csv >"bench/surfaces/$name.csv"
    echo "bench/surfaces/$name.csv: $(($(wc -l <"bench/surfaces/$name.csv") - 1)) configurations"
done
