#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Search benchmark: replays grid, random and bo on the Falcon target surfaces and times one bo
# suggestion (100 observations, the rest of the 1,440 configurations as candidates).
# Usage: bench/search/run.sh [BUILD_DIR]   (env: SEEDS=5, BUDGET=40, MP_FALCON_DIR)
# The surfaces live outside the repository, in ../shared/data/falcon from its root; without
# them the benchmark says so and exits 0.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
data=${MP_FALCON_DIR:-$root/../shared/data/falcon}/targets
if [ ! -d "$data" ]; then
    echo "bench/search: skipped: no Falcon surfaces at $data"
    exit 0
fi
first=
for f in "$data"/*.csv; do
    first=$f
    break
done
echo "== search quality: $data"
"$build/morphling" bench-search --surfaces "$data" --algorithms grid,random,bo \
    --budget "${BUDGET:-40}" --seeds "${SEEDS:-5}"
echo
echo "== suggestion latency: $first"
"$build/morphling" bench-search --latency 100 "$first"
