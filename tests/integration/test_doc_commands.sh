#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Every command of README.md, docs/ and the examples' READMEs runs as written. The rule for the
# pages: a fenced block marked `sh` is commands; each page's `sh` blocks run in order in one shell
# (`set -e`: the first failing command fails the page), from a folder that looks like the repository
# after `make build` (examples/, bench/, docs/ and build/release, which is this build), with
# `morphling` on the PATH and a store of the page's own: the default store of an XDG_DATA_HOME of
# its own, no MORPHLING_DB (as a newcomer's). Lines starting with `make` are the build itself and
# are skipped. Synopses with placeholders go in blocks without `sh`. Pages that use a fixed port run
# in a private network namespace (unshare), where it is free.
. "$(dirname "$0")/lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build folder}"

repo="$WORK/repo"
mkdir -p "$repo/build" "$WORK/bin"
for d in examples bench docs; do
    ln -s "$MP_SOURCE_DIR/$d" "$repo/$d"
done
ln -s "$MP_BUILD_DIR" "$repo/build/release"
ln -s "$MORPHLING" "$WORK/bin/morphling"

# A private network namespace with its loopback up, when this machine allows one.
netns=""
if unshare -n sh -c 'ip link set lo up' 2>/dev/null; then
    netns="unshare -n"
elif unshare -rn sh -c 'ip link set lo up' 2>/dev/null; then
    netns="unshare -rn"
fi

# The sh blocks of a page, as one script; `make` lines are the build.
extract() {
    awk '/^```sh[ \t]*$/ { on = 1; next } /^```/ { on = 0; next } on' "$1" | grep -v '^make '
}

pages=0
for page in "$MP_SOURCE_DIR/README.md" "$MP_SOURCE_DIR"/docs/*.md "$MP_SOURCE_DIR"/docs/*/*.md \
    "$MP_SOURCE_DIR"/examples/*/README.md; do
    name=$(printf '%s' "${page#"$MP_SOURCE_DIR"/}" | tr '/' '_')
    extract "$page" >"$WORK/$name.sh"
    [ -s "$WORK/$name.sh" ] || continue
    pages=$((pages + 1))
    if grep -q 'build/release/examples/inference-server' "$WORK/$name.sh" &&
        [ ! -x "$MP_BUILD_DIR/examples/inference-server/inference-server" ]; then
        echo "SKIP: $name: this build has no example inference server (MP_EXAMPLES=OFF)"
        continue
    fi
    wrap=""
    if grep -q '127.0.0.1:8080' "$WORK/$name.sh"; then
        if [ -z "$netns" ]; then
            echo "SKIP: $name uses port 8080 and no private network namespace is available here"
            continue
        fi
        wrap="$netns"
    fi
    # Background jobs a page starts are stopped when it ends, even when it fails.
    (cd "$repo" && unset MORPHLING_DB && PATH="$WORK/bin:$PATH" XDG_DATA_HOME="$WORK/$name.data" \
        timeout 280 $wrap sh -c '[ -z "$2" ] || ip link set lo up; trap "rc=\$?; kill \$(jobs -p) 2>/dev/null || :; exit \$rc" EXIT; set -e; . "$1"' \
        sh "$WORK/$name.sh" "$wrap") >"$WORK/$name.log" 2>&1
    rc=$?
    check "the commands of ${page#"$MP_SOURCE_DIR"/} run as written" 0 "$rc"
    [ "$rc" -eq 0 ] || tail -n 30 "$WORK/$name.log"
done
[ "$pages" -ge 4 ]
check "found the pages with commands ($pages)" 0 "$?"
finish
