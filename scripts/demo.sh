#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: tunes the example Fashion-MNIST inference server (examples/fmnist.yaml) on this
# machine with the local runner and Bayesian optimisation, and prints the recommendation.
# Results go to the SQLite store build/demo.db.
set -eu
bin=$1
cd "$(dirname "$0")/.."
db=build/demo.db
if [ ! -x "$(dirname "$bin")/examples/inference-server/inference-server" ]; then
    echo "make demo tunes the example inference server, which this build leaves out" \
        "(MP_EXAMPLES=OFF): build with MP_EXAMPLES=ON" >&2
    exit 1
fi
echo "== morphling demo: tuning the XGBoost Fashion-MNIST server (examples/fmnist.yaml)"
echo "== each trial starts the server under cgroup limits, load-tests it, and tears it down"
"$bin" run examples/fmnist.yaml --db "$db" --restart
echo
echo "== the demo's results are in $db, not in the default store; to look at them:"
echo "   $bin list --db $db"
echo "   $bin show fmnist-xgboost --db $db"
echo "   $bin serve --db $db     # the dashboard on http://127.0.0.1:8080/"
echo "   (or export MORPHLING_DB=$PWD/$db; 'make install' puts morphling on the PATH)"
