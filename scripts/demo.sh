#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: tunes the example Fashion-MNIST inference server (examples/fmnist.yaml) on this
# machine with the local runner and Bayesian optimisation, and prints the recommendation.
# Results go to the SQLite store build/demo.db.
set -eu
bin=$1
cd "$(dirname "$0")/.."
db=build/demo.db
echo "== morphling demo: tuning the XGBoost Fashion-MNIST server (examples/fmnist.yaml)"
echo "== each trial starts the server under cgroup limits, load-tests it, and tears it down"
"$bin" run examples/fmnist.yaml --db "$db" --restart
