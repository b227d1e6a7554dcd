#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer driver for FUZZ_SECONDS (default 60) each, starting from its seed corpus
# and, when tests/fuzz/NAME.dict exists, its dictionary: morphling's (tests/fuzz) and the example
# inference server's request-head parser (examples/inference-server/tests/corpus/http). A driver
# that finds a crash writes it to tests/fuzz/artifacts/ and the others still run; the exit status
# is 1 when any found one.
set -eu
build=$1
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
mkdir -p tests/fuzz/artifacts
found=""
for bin in "$build"/tests/fuzz_* "$build"/examples/inference-server/fuzz_infer_http; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin" | sed 's/^fuzz_//')
    corpus="tests/fuzz/corpus/$name"
    [ "$name" = infer_http ] && corpus=examples/inference-server/tests/corpus/http
    work=$(mktemp -d)
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    echo "fuzz: $name for ${secs}s${dict:+ with tests/fuzz/$name.dict}"
    # shellcheck disable=SC2086 # $dict is empty or one word
    "$bin" -max_total_time="$secs" -artifact_prefix=tests/fuzz/artifacts/ $dict "$work" "$corpus" ||
        found="$found $name"
    rm -rf "$work"
done
if [ -n "$found" ]; then
    echo "fuzz: crashes found by:$found (inputs in tests/fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: no crashes"
