#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Measurement steadiness (issue 16 item 2), live: one configuration of examples/fmnist.yaml at
# 1 CPU measured REPEATS (5) times under each of four protocols: the confidence rule (+-2 %,
# runner.load.ci) and the load generator on its own CPU (runner.separate_load), each on and off.
# Prints per protocol the throughput of every run, its coefficient of variation across runs,
# the mean measurement length in windows and the runs that met the SLO, with the load average.
# Usage: bench/trust/steady.sh [BUILD_DIR]   (build/release by default; env REPEATS=5, CONFIG="--set ...")
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build/release}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/morphling
spec=$root/examples/fmnist.yaml
repeats=${REPEATS:-5}
config=${CONFIG:---set cpu=1 --set memory=128 --set workers=2 --set max_batch=16 --set batch_timeout_us=250}
[ -x "$bin" ] || { echo "bench/trust: no $bin: build first (make build)" >&2; exit 1; }
work=$(mktemp -d /tmp/mp-steady.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== bench/trust/steady.sh: $config, $repeats runs per protocol"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for proto in "ci=0.02 separate=true" "ci=0.02 separate=false" "ci=0 separate=true" "ci=0 separate=false"; do
    ci=${proto%% *}
    ci=${ci#ci=}
    sep=${proto##*separate=}
    : >"$work/runs"
    for i in $(seq 1 "$repeats"); do
        # shellcheck disable=SC2086
        "$bin" trial "$spec" $config --set runner.load.ci="$ci" --set runner.separate_load="$sep" \
            --json -q >"$work/out" 2>/dev/null || true
        jq -r '"\(.metrics.throughput_rps // 0) \(.metrics.windows // 0) \(.state) \(.metrics.p99_ms // 0)"' \
            "$work/out" >>"$work/runs"
    done
    awk -v proto="$proto" '{ r[NR] = $1; s += $1; q += $1 * $1; w += $2; ok += ($3 == "SUCCEEDED") ; line = line sprintf(" %.0f", $1) }
        END { m = s / NR; sd = (NR > 1 ? sqrt((q - s * s / NR) / (NR - 1)) : 0)
              printf "%-24s req/s:%s  mean %.0f, CoV %.1f %%, %.1f windows, SLO met %d of %d\n",
                  proto, line, m, (m > 0 ? 100 * sd / m : 0), w / NR, ok, NR }' "$work/runs"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
