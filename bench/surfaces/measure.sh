#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measures the full grids of the two examples with the local runner and writes the surfaces
# bench/surfaces/{fmnist,ocr}.csv (one row per configuration: parameters, then every metric).
# Needs the release build (make build). Takes about 10 minutes on 2 cores; the machine should
# be otherwise idle, since every trial is a real load test.
set -eu
cd "$(dirname "$0")/../.."
bin=build/release/morphling
db=build/surfaces.db
for name in fmnist ocr; do
    "$bin" run "bench/surfaces/$name-grid.yaml" --db "$db" --restart --quiet >/dev/null || true
    "$bin" export "$name-grid" --db "$db" --format csv >"bench/surfaces/$name.csv"
    echo "bench/surfaces/$name.csv: $(($(wc -l <"bench/surfaces/$name.csv") - 1)) configurations"
done
