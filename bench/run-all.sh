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
# The test cluster needs root (cgroups and mount namespaces for its pods).
[ "$(id -u)" != 0 ] || sh bench/kube/run.sh "$build" || status=1
exit $status
