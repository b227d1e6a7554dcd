#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian packages listed in deps/*.txt that are not installed yet.
set -eu
cd "$(dirname "$0")/.."
missing=""
for pkg in $(cat deps/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sort -u); do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
    *"ok installed"*) ;;
    *) missing="$missing $pkg" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "deps: not root and no sudo; install these packages:$missing" >&2
        exit 1
    fi
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
