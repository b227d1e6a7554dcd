#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Checks the dashboard's sources (web/*.js, *.css, *.html) and its end-to-end test with prettier
# (formatting, web/.prettierrc.json) and eslint (web/eslint.config.mjs), both pinned by
# web/package-lock.json and installed by `make deps` into deps/cache/npm/web: no network.
# usage: check-web.sh [--fix]   (--fix rewrites the files in place instead of checking)
set -eu
cd "$(dirname "$0")/.."
MP_WEB_MODULES=${MP_WEB_MODULES:-$PWD/deps/cache/npm/web/node_modules}
export MP_WEB_MODULES
if [ ! -x "$MP_WEB_MODULES/.bin/eslint" ] || ! cmp -s web/package-lock.json \
    "$MP_WEB_MODULES/../installed.lock"; then
    echo "check-web: eslint and prettier are missing or older than web/package-lock.json:" \
        "run 'make deps'" >&2
    exit 1
fi
js="web/*.js web/*.mjs web/views/*.js tests/e2e/*.mjs"
files="$js web/*.css web/index.html"
config="--config web/.prettierrc.json"
if [ "${1:-}" = --fix ]; then
    # shellcheck disable=SC2086
    "$MP_WEB_MODULES/.bin/prettier" $config --log-level warn --write $files
    # shellcheck disable=SC2086
    "$MP_WEB_MODULES/.bin/eslint" --config web/eslint.config.mjs --fix $js
    exit 0
fi
# shellcheck disable=SC2086
"$MP_WEB_MODULES/.bin/prettier" $config --check --log-level warn $files
# shellcheck disable=SC2086
"$MP_WEB_MODULES/.bin/eslint" --config web/eslint.config.mjs --max-warnings 0 $js
echo "check-web: ok"
