#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Peer comparison: the Falcon target surfaces searched by Optuna TPE and a scikit-learn GP with
# expected improvement, beside morphling's random and bo, plus suggestion latency as a ratio
# against scikit-learn in the same run. Needs Debian's python3 packages:
#   apt-get install python3-optuna python3-sklearn
# (a missing one is reported as skipped). Usage: bench/search-peers/run.sh [BUILD_DIR]
# (env: SEEDS=5, BUDGET=40, MP_FALCON_DIR)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
data=${MP_FALCON_DIR:-$root/../shared/data/falcon}/targets
if [ ! -d "$data" ]; then
    echo "bench/search-peers: skipped: no Falcon surfaces at $data"
    exit 0
fi
exec /usr/bin/python3 "$root/bench/search-peers/peers.py" --morphling "$build/morphling" \
    --budget "${BUDGET:-40}" --seeds "${SEEDS:-5}" "$data"
