#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Builds morphling's container image (the operator, and the kubernetes runner's load Job) from
# Debian packages alone: mmdebstrap makes a Debian 12 root filesystem holding the run-time
# libraries of a morphling binary built on Debian 12, the binary is copied in, and podman (or
# buildah) imports the tarball as an image. Run as root on Debian 12 (docs/kubernetes.md,
# "Installing the operator"):
#   deploy/image/build.sh [--binary build/release/morphling] [--tag morphling:VERSION]
#                         [--mirror URL] [--out DIR] [--no-import]
# With --no-import it stops at DIR/rootfs.tar (import it with `podman import` or `docker import`
# elsewhere, with the same --change options as below).
set -eu

binary=build/release/morphling
tag=""
mirror=""
out=""
import=yes
while [ $# -gt 0 ]; do
    case $1 in
    --binary) binary=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --no-import) import=no; shift ;;
    -h | --help) sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

die() { echo "build.sh: $*" >&2; exit 1; }
[ -x "$binary" ] || die "no executable morphling at '$binary': run 'make build' first, or give --binary"
command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap"
version=$("$binary" --version | awk '{print $NF; exit}')
[ -n "$tag" ] || tag="morphling:$version"
[ -n "$out" ] || out=$(mktemp -d /tmp/morphling-image.XXXXXX)
mkdir -p "$out"

# Libraries morphling loads on first use instead of linking them (mp_dl_load in src/), which
# ldd does not list: libcurl for the Kubernetes client, OpenBLAS and LAPACKE for the Gaussian
# processes of bo and morphling searches. tests/integration/test_build_options.sh checks this
# list against the sources.
loaded="libcurl.so.4 libopenblas.so.0 liblapacke.so.3"
libs=$(ldd "$binary" | awk '$3 ~ /^\// {print $3}')
for so in $loaded; do
    path=$(ldconfig -p | awk -v so="$so" '$1 == so {print $NF; exit}')
    [ -n "$path" ] || die "$so is not installed: make deps"
    libs="$libs $path"
done
# The Debian packages that hold those libraries (apt adds their dependencies).
packages=$(for lib in $libs; do
    dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null ||
        die "no Debian package holds $lib"
done | cut -d: -f1 | grep -v -e '^libasan' -e '^libubsan' | sort -u | tr '\n' ',')

# essential: dpkg and coreutils without apt; ca-certificates for the in-cluster API server's
# neighbours; user 65532 is the Deployment's runAsUser. Documentation is left out.
mmdebstrap --variant=essential --include="${packages}ca-certificates" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --customize-hook="copy-in $binary /usr/local/bin" \
    --customize-hook='echo "morphling:x:65532:65532:morphling:/nonexistent:/usr/sbin/nologin" >>"$1/etc/passwd"' \
    --customize-hook='echo "morphling:x:65532:" >>"$1/etc/group"' \
    --customize-hook='chroot "$1" /usr/local/bin/morphling --version' \
    --customize-hook="for so in $loaded; do chroot \"\$1\" /sbin/ldconfig -p | grep -q \"\$so\" || { echo \"image lacks \$so\" >&2; exit 1; }; done" \
    bookworm "$out/rootfs.tar" ${mirror:+"$mirror"}
echo "build.sh: root filesystem $out/rootfs.tar ($(du -h "$out/rootfs.tar" | cut -f1))"
[ "$import" = yes ] || exit 0

set -- --change 'ENTRYPOINT ["/usr/local/bin/morphling"]' --change 'USER 65532:65532' \
    --change 'ENV TMPDIR=/tmp' --change 'WORKDIR /tmp'
if command -v podman >/dev/null; then
    podman import "$@" "$out/rootfs.tar" "$tag" >/dev/null
    # Where containers cannot run (a sandbox without cgroup v2 delegation or rlimit rights), the
    # image's own files are checked instead: its root, mounted, as the image's user.
    if ! podman run --rm "$tag" --version 2>"$out/run.err"; then
        echo "build.sh: podman cannot run containers here ($(tail -1 "$out/run.err")); checking the image's files instead" >&2
        root=$(podman image mount "$tag")
        chroot --userspec=65532:65532 "$root" /usr/local/bin/morphling --version
        podman image unmount "$tag" >/dev/null
    fi
elif command -v buildah >/dev/null; then
    ctr=$(buildah from scratch)
    buildah add "$ctr" "$out/rootfs.tar" /
    buildah config --entrypoint '["/usr/local/bin/morphling"]' --user 65532:65532 \
        --env TMPDIR=/tmp --workingdir /tmp "$ctr"
    buildah commit "$ctr" "$tag" >/dev/null
    buildah rm "$ctr" >/dev/null
else
    die "neither podman nor buildah is installed: import $out/rootfs.tar elsewhere, or use --no-import"
fi
echo "build.sh: image $tag"
