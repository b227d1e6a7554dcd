#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer driver for FUZZ_SECONDS (default 60) each, starting from its seed corpus
# and, when tests/fuzz/NAME.dict exists, its dictionary.
set -eu
build=$1
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
mkdir -p tests/fuzz/artifacts
for bin in "$build"/tests/fuzz_*; do
    name=$(basename "$bin" | sed 's/^fuzz_//')
    work=$(mktemp -d)
    dict=""
    [ -f "tests/fuzz/$name.dict" ] && dict="-dict=tests/fuzz/$name.dict"
    echo "fuzz: $name for ${secs}s${dict:+ with tests/fuzz/$name.dict}"
    # shellcheck disable=SC2086 # $dict is empty or one word
    "$bin" -max_total_time="$secs" -artifact_prefix=tests/fuzz/artifacts/ $dict "$work" "tests/fuzz/corpus/$name"
    rm -rf "$work"
done
