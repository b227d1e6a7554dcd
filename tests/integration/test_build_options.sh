#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The build's switches: -DMP_EXAMPLES=OFF configures the core without the example inference
# server (no Tesseract or XGBoost looked for); the dashboard's npm package comes only from the
# cache `make deps` fills, so a build whose cache is empty stops at once and says so; and the
# morphling binary never links the example's heavy libraries, nor those it loads on first use
# (which the container image's build must then name).
. "$(dirname "$0")/lib.sh"
: "${MP_BUILD_DIR:?MP_BUILD_DIR must point to the build folder}"

cmake -S "$MP_SOURCE_DIR" -B "$WORK/core" -DMP_EXAMPLES=OFF >"$WORK/core.log" 2>&1
check "configure with MP_EXAMPLES=OFF exits 0" 0 "$?"
targets=$(cmake --build "$WORK/core" --target help 2>/dev/null)
check_contains "the core binary is a target" "morphling" "$targets"
case "$targets" in
*inference-server* | *train_fmnist*) not_ok "no example target: $(printf '%s' "$targets" | grep -E 'inference|fmnist')" ;;
*) ok "no example target" ;;
esac
check "Tesseract and XGBoost were not looked for" 0 "$(grep -c '^INFER_' "$WORK/core/CMakeCache.txt")"
check "nor is the example's test registered" 0 \
    "$(cd "$WORK/core" && ctest -N 2>/dev/null | grep -c 'test_inference_server\|test_infer_')"

mkdir "$WORK/empty-cache"
cmake -S "$MP_SOURCE_DIR" -B "$WORK/offline" -DMP_NPM_CACHE="$WORK/empty-cache" >"$WORK/offline.log" 2>&1
check "an empty npm cache stops the configure" 1 "$?"
check_contains "and says what to run" "run 'make deps'" "$(tr '\n' ' ' <"$WORK/offline.log" | tr -s ' ')"

libs=$(ldd "$MORPHLING" 2>/dev/null)
check_contains "ldd reads the binary" "libc.so" "$libs"
case "$libs" in
*tesseract* | *xgboost* | *lept*) not_ok "morphling links the example's libraries" ;;
*) ok "morphling links neither Tesseract nor XGBoost" ;;
esac
# Libraries loaded on first use (mp_dl_load) are not linked, so ldd misses them: the container
# image's build lists them itself (it lacked OpenBLAS and LAPACKE, which every bo search loads).
case "$libs" in
*libcurl* | *openblas* | *lapacke*) not_ok "morphling links a library it loads on first use" ;;
*) ok "libcurl, OpenBLAS and LAPACKE are not linked" ;;
esac
loaded=$(sed -n 's/^loaded="\(.*\)"$/\1/p' "$MP_SOURCE_DIR/deploy/image/build.sh")
for so in $(grep -rhoE 'mp_dl_load\("[^"]+"' "$MP_SOURCE_DIR/src" | cut -d'"' -f2 | sort -u); do
    check_contains "deploy/image/build.sh puts $so into the image" " $so " " $loaded "
done
finish
