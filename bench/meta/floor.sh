#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# How far can any search get on the Falcon surfaces? Reads the CSVs only (no search) and prints:
# how many distinct configurations are optimal, how often the optimum lies in the top region (the
# K configurations with the highest mean normalised value over the sources), whether the order
# inside that region follows anything another service shows (correlation with the other
# sources' mean pattern, additive R^2 against its chance level), and the median trials to the
# optimum that a search reaches at best when it cannot order the region (docs/internals/meta.md).
# usage: bench/meta/floor.sh [K]      env: FALCON_DIR (default ../shared/data/falcon)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${FALCON_DIR:-$root/../shared/data/falcon}
k=${1:-16}
case $k in
'' | *[!0-9]* | 0 | 1) echo "floor: K must be an integer of at least 2, got '$k'" >&2 && exit 2 ;;
esac
if [ ! -d "$data/sources" ] || [ ! -d "$data/targets" ]; then
    echo "floor: $data/sources or $data/targets is absent (set FALCON_DIR); nothing to do"
    exit 0
fi
awk -F, -v K="$k" '
FNR == 1 {
    nf++; file[nf] = FILENAME; src[nf] = (FILENAME ~ /\/sources\//); ncol = NF - 1
    for (j = 1; j <= ncol; j++) colname[j] = $j
    next
}
{
    key = $1; for (j = 2; j <= ncol; j++) key = key "," $j
    if (!(key in seen)) { seen[key] = 1; nk++; keys[nk] = key }
    v[nf, key] = $NF + 0
    if (!((nf, "max") in v) || $NF + 0 > v[nf, "max"]) { v[nf, "max"] = $NF + 0; best[nf] = key }
}
function pearson(a, b, n,   i, ma, mb, sab, saa, sbb) {
    for (i = 1; i <= n; i++) { ma += a[i]; mb += b[i] }
    ma /= n; mb /= n
    for (i = 1; i <= n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ^ 2; sbb += (b[i] - mb) ^ 2 }
    return (saa * sbb > 0) ? sab / sqrt(saa * sbb) : 0
}
function name(f,   s) { s = file[f]; sub(/.*\//, "", s); sub(/\.csv$/, "", s); return s }
function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
    if (K > nk) { print "floor: K is larger than the " nk " configurations" > "/dev/stderr"; exit 2 }
    ns = 0
    for (f = 1; f <= nf; f++) ns += src[f]
    for (i = 1; i <= nk; i++) {
        m = 0
        for (f = 1; f <= nf; f++) if (src[f]) m += v[f, keys[i]] / v[f, "max"]
        mean[keys[i]] = m / ns
    }
    # The top region: the K configurations with the best mean over the sources.
    for (r = 1; r <= K; r++) {
        bk = ""
        for (i = 1; i <= nk; i++)
            if (!(keys[i] in inreg) && (bk == "" || mean[keys[i]] > mean[bk])) bk = keys[i]
        reg[r] = bk; inreg[bk] = r
    }
    distinct = 0; most = 0
    for (f = 1; f <= nf; f++) { cnt[best[f]]++; if (cnt[best[f]] == 1) distinct++; if (cnt[best[f]] > most) most = cnt[best[f]] }
    printf "services: %d (%d sources, %d targets), %d configurations each\n", nf, ns, nf - ns, nk
    printf "distinct optimal configurations: %d of %d services; the most common is optimal for %d\n", distinct, nf, most
    # Additive main-effects model inside the region; its chance R^2 is (sum of levels - 1) / (K - 1).
    dof = 0
    for (j = 1; j <= ncol; j++) {
        nl = 0
        for (r = 1; r <= K; r++) { split(reg[r], p, ","); if (!((j, p[j]) in lv)) { lv[j, p[j]] = 1; nl++ } }
        dof += nl - 1
    }
    printf "top region: the %d configurations with the best mean normalised value over the sources\n", K
    printf "%-28s %7s %6s %8s %6s\n", "service", "optimum", "spread", "corr", "R^2"
    nflat = 0; sumc = 0; sumr = 0; nstruct = 0; nout = 0; tflat = 0; tstruct = 0; tout = 0
    for (f = 1; f <= nf; f++) {
        mu = 0; sxx = 0
        for (r = 1; r <= K; r++) {
            y[r] = v[f, reg[r]] / v[f, "max"]; mu += y[r]
            o[r] = 0; c = 0 # mean pattern of the other sources
            for (g = 1; g <= nf; g++) if (src[g] && g != f) { o[r] += v[g, reg[r]] / v[g, "max"]; c++ }
            o[r] /= c
        }
        mu /= K
        for (r = 1; r <= K; r++) sxx += (y[r] - mu) ^ 2
        corr = pearson(y, o, K); sd = sqrt(sxx / (K - 1))
        for (r = 1; r <= K; r++) pred[r] = mu
        for (j = 1; j <= ncol; j++) {
            delete s1; delete s0
            for (r = 1; r <= K; r++) { split(reg[r], p, ","); s1[p[j]] += y[r]; s0[p[j]]++ }
            for (r = 1; r <= K; r++) { split(reg[r], p, ","); pred[r] += s1[p[j]] / s0[p[j]] - mu }
        }
        se = 0; for (r = 1; r <= K; r++) se += (y[r] - pred[r]) ^ 2
        where = (best[f] in inreg) ? "in" : "outside"
        r2 = (sxx > 0) ? 1 - se / sxx : 0
        printf "%-28s %7s %6.3f %8.2f %6.2f\n", name(f), where, sd, corr, r2
        if (!(best[f] in inreg)) { nout++; tout += !src[f] }
        else if (sd >= 0.05) { nstruct++; tstruct += !src[f] }
        else { nflat++; tflat += !src[f]; sumc += corr; sumr += r2; flat[f] = 1 }
    }
    printf "chance R^2 of the additive model: %.2f\n", dof / (K - 1)
    printf "optimum in the region: %d of %d; of those, %d have a small spread (sd < 0.05): mean corr %.2f, mean R^2 %.2f\n", nf - nout, nf, nflat, nflat ? sumc / nflat : 0, nflat ? sumr / nflat : 0
    # Nor does the own surface of a small-spread service: its pattern over the region against the
    # same configurations with one parameter set to a value outside the region (a neighbouring
    # layer of the grid).
    for (i = 1; i <= nk; i++) {
        split(keys[i], p, ",")
        for (j = 1; j <= ncol; j++) if (!((j, p[j]) in lv) && !((j, p[j]) in layer)) { layer[j, p[j]] = 1; nlay++; lay_j[nlay] = j; lay_v[nlay] = p[j] }
    }
    lo = 2; hi = -2; nused = 0
    for (l = 1; l <= nlay; l++) {
        j = lay_j[l]; lsum = 0; lc = 0
        for (f = 1; f <= nf; f++) {
            if (!(f in flat)) continue
            for (r = 1; r <= K; r++) {
                split(reg[r], p, ","); p[j] = lay_v[l]; nkey = p[1]
                for (q = 2; q <= ncol; q++) nkey = nkey "," p[q]
                if (!((f, nkey) in v)) break
                y[r] = v[f, reg[r]]; z[r] = v[f, nkey]
            }
            if (r <= K) continue # the layer is not measured whole
            lsum += pearson(y, z, K); lc++
        }
        if (lc) { m = lsum / lc; nused++; if (m < lo) { lo = m; lol = l } if (m > hi) { hi = m; hil = l } }
    }
    if (nused) printf "their patterns against their own neighbouring layers (the region with %s ... %s instead, %d layers): mean corr %.2f to %.2f\n", colname[lay_j[lol]] "=" lay_v[lol], colname[lay_j[hil]] "=" lay_v[hil], nused, lo, hi
    floor("these " nf " services", nstruct, nflat, nout)
    floor("the " nf - ns " targets", tstruct, tflat, tout)
}
# The small-spread services need a uniform 1..K trials when the region cannot be ordered; the
# others are counted at their best case: 1 trial in the region, more than K outside it.
function floor(label, nstruct, nflat, nout,   reps, t, i, n, a, md, tot, le8) {
    srand(1); reps = 20000
    for (t = 1; t <= reps; t++) {
        n = 0
        for (i = 1; i <= nstruct; i++) a[++n] = 1
        for (i = 1; i <= nflat; i++) a[++n] = 1 + int(rand() * K)
        for (i = 1; i <= nout; i++) a[++n] = K + 1
        md = median(a, n); tot += md; le8 += (md <= 8)
    }
    printf "best case when the region cannot be ordered, median trials to the optimum over %s: %.2f on average, <= 8 in %.0f %% of draws\n", label, tot / reps, 100 * le8 / reps
}' "$data"/sources/*.csv "$data"/targets/*.csv
