#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs what the build and the tests need, so that neither needs the network afterwards:
# the Debian packages listed in deps/*.txt that are missing (deps/examples.txt only unless
# MP_EXAMPLES=OFF), npm when nodejs came without it, the npm packages pinned by every
# package-lock.json of the repository into deps/cache/npm/<its folder>, and Debian's kubectl 1.20
# for the test cluster's tests into deps/cache/kubectl-1.20 (deps/cache is git-ignored).
set -eu
cd "$(dirname "$0")/.."
SUDO=
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi

apt_install() {
    if [ -n "$SUDO" ] && ! command -v sudo >/dev/null 2>&1; then
        echo "deps: not root and no sudo; install these packages:$*" >&2
        exit 1
    fi
    echo "deps: installing:$*" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

lists=$(ls deps/*.txt)
if [ "${MP_EXAMPLES:-ON}" = OFF ]; then
    lists=$(printf '%s\n' $lists | grep -v '^deps/examples.txt$')
fi
missing=""
# shellcheck disable=SC2086
for pkg in $(cat $lists | sed 's/#.*//' | tr -s ' \t' '\n' | sort -u); do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"ok installed"*) ;;
    *) missing="$missing $pkg" ;;
    esac
done
# shellcheck disable=SC2086
[ -z "$missing" ] || apt_install $missing

# Debian's nodejs comes without npm, which Debian packages separately; a nodejs that bundles
# npm (NodeSource's) conflicts with that package, so it is installed only when npm is missing.
if ! command -v npm >/dev/null 2>&1; then
    apt_install npm
fi

# The npm packages: `npm ci` of each lock file into the cache, again only when it changed. The
# stamp (a copy of the lock) is written last, so an interrupted install is redone.
for lock in $(git ls-files '*package-lock.json' 2>/dev/null || find web tests -name package-lock.json); do
    dir=$(dirname "$lock")
    cache=deps/cache/npm/$dir
    if cmp -s "$lock" "$cache/installed.lock"; then
        continue
    fi
    echo "deps: npm ci for $dir into $cache" >&2
    rm -rf "$cache"
    mkdir -p "$cache"
    cp "$dir/package.json" "$lock" "$cache/"
    (cd "$cache" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
    cp "$lock" "$cache/installed.lock"
done

# Debian's kubectl 1.20, a second client the test cluster's tests use, beside the system's.
if [ -f tests/kube/test/fetch-kubectl-1.20.sh ] && [ ! -x deps/cache/kubectl-1.20/usr/bin/kubectl ]; then
    echo "deps: unpacking kubectl 1.20 into deps/cache/kubectl-1.20" >&2
    sh tests/kube/test/fetch-kubectl-1.20.sh "$PWD/deps/cache/kubectl-1.20"
fi
