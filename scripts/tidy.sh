#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Runs clang-tidy (config: .clang-tidy) over the project's C sources in parallel.
set -eu
build=${1:-build/test}
cd "$(dirname "$0")/.."
files=$(git ls-files --cached --others --exclude-standard 'src/*.c' 'tests/*.c' 'bench/*.c' 'examples/*.c' 2>/dev/null || find src -name '*.c')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
printf '%s\n' $files | xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet >"$build/tidy.log" 2>&1 || {
    grep -E 'warning:|error:' "$build/tidy.log" | head -50
    echo "tidy: failed (full log: $build/tidy.log)"
    exit 1
}
echo "tidy: ok"
