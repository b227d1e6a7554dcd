#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Unpacks Debian's kubernetes-client package (kubectl 1.20) into $1 with `apt-get download` and
# `dpkg -x`, leaving the system's kubectl alone. Run by `make deps` (scripts/deps.sh), never by
# the build or a test.
set -eu
dest=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
if ! apt-get download kubernetes-client >/dev/null 2>&1; then
    # The package lists may be missing on a fresh machine.
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get download kubernetes-client
fi
rm -rf "$dest"
dpkg -x kubernetes-client_*.deb "$dest"
"$dest/usr/bin/kubectl" version --client >/dev/null
