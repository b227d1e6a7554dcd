#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Leave-one-out over ALL Falcon services (sources and targets together, docs/internals/meta.md):
# for each service, meta-train on the others and replay `morphling` on it with several seeds.
# Prints per service and overall: runs that reach the exact optimum within 30 trials, the median
# trials to 95 % and to 99 % of the optimum, the runs at 95 % on trial 1, the runs within 0.1 % of
# the optimum by trial 30 (some services have runners-up within 0.02 %), and the goal verdicts
# for services unlike the training set (optimum within 30 in every run, median to 99 % <= 3,
# median to 95 % = 1).
# usage: bench/meta/loo.sh [BUILD_DIR] [SEEDS] [-- MORE meta train OPTIONS]
# env: FALCON_DIR (default ../shared/data/falcon), BUDGET (default 40), SETTINGS (search
#      settings as inline YAML), MODELS_DIR (keep the fold models there and reuse them, to compare
#      search settings without retraining), JOBS (trainings at a time, default 1), ONLY (a
#      space-separated list of service names to replay; the others are skipped, for quick looks).
# Needs jq.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build/release}
seeds=${2:-3}
if [ $# -ge 2 ]; then shift 2; else shift $#; fi
[ "${1:-}" = "--" ] && shift
bin=$build/morphling
data=${FALCON_DIR:-$root/../shared/data/falcon}
budget=${BUDGET:-40}
jobs=${JOBS:-1}
case $seeds$budget$jobs in
*[!0-9]*) echo "loo: SEEDS, BUDGET and JOBS must be positive integers" >&2 && exit 2 ;;
esac
if [ ! -d "$data/sources" ] || [ ! -d "$data/targets" ]; then
    echo "loo: $data/sources or $data/targets is absent (set FALCON_DIR); nothing to do"
    exit 0
fi
command -v jq >/dev/null || { echo "loo: needs jq" >&2 && exit 2; }
[ -x "$bin" ] || { echo "loo: $bin is not built" >&2 && exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
models=${MODELS_DIR:-$tmp/models}
mkdir -p "$models"
ls "$data"/sources/*.csv "$data"/targets/*.csv >"$tmp/all"

name() { basename "$1" .csv; }

train() { # train FILE [OPTIONS]: the model without FILE's service, unless it exists
    held=$1
    shift
    svc=$(name "$held")
    [ -f "$models/$svc" ] && return 0
    mkdir -p "$tmp/train-$svc"
    while read -r g; do [ "$g" != "$held" ] && ln -s "$g" "$tmp/train-$svc/"; done <"$tmp/all"
    [ "$(find "$tmp/train-$svc" -name '*.csv' | wc -l)" -eq "$(($(wc -l <"$tmp/all") - 1))" ] ||
        { echo "loo: the training set without $svc is wrong" >&2 && return 1; }
    "$bin" meta train --no-store --quiet --surfaces "$tmp/train-$svc" -o "$models/$svc.part" \
        "$@" >/dev/null
    mv "$models/$svc.part" "$models/$svc"
}

start=$(date +%s)
running=0
while read -r f; do
    train "$f" "$@" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done <"$tmp/all"
wait
train_s=$(($(date +%s) - start))
while read -r f; do
    [ -f "$models/$(name "$f")" ] || { echo "loo: training without $(name "$f") failed" >&2 && exit 1; }
done <"$tmp/all"

start=$(date +%s)
: >"$tmp/runs"
while read -r f; do
    svc=$(name "$f")
    if [ -n "${ONLY:-}" ]; then
        case " $ONLY " in *" $svc "*) ;; *) continue ;; esac
    fi
    s=0
    while [ "$s" -lt "$seeds" ]; do
        set -- replay "$f" --algorithm morphling --prior "$models/$svc" --budget "$budget" \
            --seed "$s" --json
        [ -n "${SETTINGS:-}" ] && set -- "$@" --settings "$SETTINGS"
        # One line per run: service, optimum, then every trial's value (null when it failed).
        "$bin" "$@" | jq -r --arg s "$svc" '[$s, .surface_optimum] + [.trials[].value] |
            map(if . == null then "null" else tostring end) | join(" ")' >>"$tmp/runs"
        s=$((s + 1))
    done
done <"$tmp/all"
search_s=$(($(date +%s) - start))

awk -v b="$budget" -v train_s="$train_s" -v search_s="$search_s" '
# trials until the best so far reaches fraction q of the optimum (b + 1 when never)
function reach(q,   i, best, have) {
    for (i = 3; i <= NF; i++) {
        if ($i != "null" && (!have || $i + 0 > best)) { best = $i + 0; have = 1 }
        if (have && best >= q * $2) return i - 2
    }
    return b + 1
}
function med(a, n,   i, j, t, c) {
    for (i = 1; i <= n; i++) c[i] = a[i]
    for (i = 2; i <= n; i++) { t = c[i]; for (j = i - 1; j >= 1 && c[j] > t; j--) c[j + 1] = c[j]; c[j + 1] = t }
    return n % 2 ? c[(n + 1) / 2] : (c[n / 2] + c[n / 2 + 1]) / 2
}
function show(v) { return v > b ? ">" b : v }
{
    if (!($1 in idx)) { ns++; idx[$1] = ns; svc[ns] = $1 }
    k = idx[$1]; r = ++cnt[k]; n++
    o = reach(1); n95 = reach(0.95); n99 = reach(0.99)
    opt[k, r] = o; t95[k, r] = n95; t99[k, r] = n99
    all95[n] = n95; all99[n] = n99; allo[n] = o
    if (o <= 30) { win[k]++; w30++ }
    if (reach(0.999) <= 30) near30++
    if (n95 == 1) { first[k]++; f1++ }
}
END {
    printf "%-30s %-22s %7s %7s %8s %9s\n", "service", "trials to optimum", "opt<=30", "95@1", "med.95", "med.99"
    for (k = 1; k <= ns; k++) {
        line = ""; delete a; delete c
        for (r = 1; r <= cnt[k]; r++) { line = line (r > 1 ? " " : "") show(opt[k, r]); a[r] = t95[k, r]; c[r] = t99[k, r] }
        printf "%-30s %-22s %3d/%-3d %3d/%-3d %8s %9s\n", svc[k], line, win[k], cnt[k], first[k], cnt[k], show(med(a, cnt[k])), show(med(c, cnt[k]))
    }
    m99 = med(all99, n); m95 = med(all95, n); mo = med(allo, n)
    printf "overall: %d runs (%d services); optimum within 30 in %d/%d; median trials to optimum %s, to 99 %% %s, to 95 %% %s; 95 %% at trial 1 in %d/%d\n", n, ns, w30, n, show(mo), show(m99), show(m95), f1, n
    printf "within 0.1 %% of the optimum by trial 30 in %d/%d runs\n", near30, n
    printf "goal: optimum within 30 in every run: %s\n", (w30 == n) ? "MET" : "NOT MET"
    printf "goal: median trials to 99 %% <= 3: %s\n", (m99 <= 3) ? "MET" : "NOT MET"
    printf "goal: median trials to 95 %% = 1: %s\n", (m95 <= 1) ? "MET" : "NOT MET"
    printf "time: training %d s, searches %d s (budget %d)\n", train_s, search_s, b
}' "$tmp/runs"
