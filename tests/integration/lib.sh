# SPDX-License-Identifier: Apache-2.0
# Shared helpers for integration tests (sourced). Needs $MORPHLING and $MP_SOURCE_DIR.
set -u
: "${MORPHLING:?MORPHLING must point to the morphling binary}"
: "${MP_SOURCE_DIR:?MP_SOURCE_DIR must point to the source tree}"
WORK=$(mktemp -d /tmp/mp-it.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export MORPHLING_DB="$WORK/store.db"
. "$MP_SOURCE_DIR/tests/integration/tap.sh"
