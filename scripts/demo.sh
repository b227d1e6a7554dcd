#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# `make demo`: runs an example experiment end to end on the embedded defaults (SQLite store in
# build/demo.db) and prints the recommendation.
set -eu
bin=$1
cd "$(dirname "$0")/.."
db=build/demo.db
echo "== morphling demo: replaying a tuning run on a recorded surface (examples/replay-demo.yaml)"
"$bin" run examples/replay-demo.yaml --db "$db" --restart
