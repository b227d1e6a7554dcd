# SPDX-License-Identifier: Apache-2.0
# Shared helpers for integration tests (sourced). Needs $MORPHLING and $MP_SOURCE_DIR.
set -u
: "${MORPHLING:?MORPHLING must point to the morphling binary}"
: "${MP_SOURCE_DIR:?MP_SOURCE_DIR must point to the source tree}"
WORK=$(mktemp -d /tmp/mp-it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export MORPHLING_DB="$WORK/store.db"
. "$MP_SOURCE_DIR/tests/integration/tap.sh"

# wait_for_file FILE [SECONDS]: waits, polling every 0.1 s (60 s at most by default), until FILE
# exists and is not empty, as a server writes its address when it listens; fails otherwise.
wait_for_file() {
    n=0
    while [ ! -s "$1" ] && [ "$n" -lt $((${2:-60} * 10)) ]; do
        sleep 0.1
        n=$((n + 1))
    done
    [ -s "$1" ]
}
