#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark (called by `make bench` with the build directory). One line per benchmark.
set -u
build=${1:-build/release}
cd "$(dirname "$0")/.."
status=0
sh bench/loadgen/run.sh "$build" || status=1
sh bench/capacity/run.sh "$build" || status=1
sh bench/serve/run.sh "$build" || status=1
sh bench/search/run.sh "$build" || status=1
sh bench/meta/run.sh "$build" || status=1
sh bench/operator/run.sh "$build" || status=1
sh bench/operator/trials.sh "$build" || status=1
# The test cluster needs root (cgroups and mount namespaces for its pods).
[ "$(id -u)" != 0 ] || sh bench/kube/run.sh "$build" || status=1
# bench/trust tunes the demo three times over (about 20 minutes): TRUST=1 runs it too.
if [ "${TRUST:-0}" = 1 ]; then
    sh bench/trust/run.sh "$build" || status=1
else
    echo "bench/trust: skipped (about 20 minutes; TRUST=1 make bench, or sh bench/trust/run.sh)"
fi
exit $status
