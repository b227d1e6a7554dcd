/* SPDX-License-Identifier: Apache-2.0 */
/* Statistics of the measurement protocol: latency summaries with percentile trust, SLO parsing
 * and checking, per-window figures and the stability rule. All pure functions. */
#include "measure/measure.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const stat_names[] = {
#define MP_STAT_NAME(name, text, pct) text,
    MP_STAT_MAP(MP_STAT_NAME)
#undef MP_STAT_NAME
};

static const double stat_pcts[] = {
#define MP_STAT_PCT(name, text, pct) pct,
    MP_STAT_MAP(MP_STAT_PCT)
#undef MP_STAT_PCT
};

const char *mp_stat_name(enum mp_stat s)
{
    return (unsigned)s < MP_STAT_COUNT ? stat_names[s] : "?";
}

double mp_stat_percentile(enum mp_stat s)
{
    return (unsigned)s < MP_STAT_COUNT ? stat_pcts[s] : -1.0;
}

/* Smallest n with P(Binomial(n, 1 - q) <= 1) <= 0.01: with that many samples, the sample
 * q-quantile (one sample over it allowed) bounds the true one at 99 % confidence. This is
 * MLPerf's early-stopping criterion and gives 64 / 130 / 662 / 6636 for p90 / p95 / p99 /
 * p99.9 (REFERENCE.md §3). */
uint64_t mp_stat_min_samples(enum mp_stat s)
{
    double pct = mp_stat_percentile(s);
    if (s == MP_STAT_MAX) {
        return 0;
    }
    if (pct < 0) {
        return 1;
    }
    double e = 1.0 - pct / 100.0;
    for (uint64_t n = 1; n < 10000000; n++) {
        double dn = (double)n;
        double p = pow(1.0 - e, dn) + dn * e * pow(1.0 - e, dn - 1.0);
        if (p <= 0.01) {
            return n;
        }
    }
    return UINT64_MAX;
}

void mp_latency_from_hist(struct mp_latency *out, const struct mp_lg_hist *h)
{
    memset(out, 0, sizeof(*out));
    out->samples = h->total;
    for (int s = 0; s < MP_STAT_COUNT; s++) {
        double pct = stat_pcts[s];
        out->us[s] = pct < 0 ? mp_lg_hist_mean(h) : (double)mp_lg_hist_percentile(h, pct);
        out->upper_us[s] = out->us[s];
        if (pct > 0 && pct < 100 && h->total > 0) {
            double n = (double)h->total, q = pct / 100.0;
            double hi = q + (2.326 * sqrt(n * q * (1 - q)) + 1) / n;
            out->upper_us[s] = (double)mp_lg_hist_percentile(h, fmin(100.0, 100.0 * hi));
        }
        out->trusted[s] = h->total > 0 && h->total >= mp_stat_min_samples((enum mp_stat)s);
    }
}

bool mp_measure_prune_due(const struct mp_window_stats *w, size_t k, const struct mp_slo *slo,
                          double factor)
{
    for (size_t i = 0; i < k; i++) {
        bool broken = false;
        for (size_t c = 0; c < slo->n && !broken; c++) {
            enum mp_stat s = slo->clause[c].stat;
            broken =
                w[i].latency.trusted[s] && w[i].latency.us[s] > factor * slo->clause[c].limit_us;
        }
        if (!broken) {
            return false;
        }
    }
    return k > 0 && slo->n > 0;
}

/* ---- SLO ------------------------------------------------------------------------------------ */

static int parse_stat(const char *s, size_t len, enum mp_stat *out)
{
    if (len == 5 && strncmp(s, "p99.9", 5) == 0) {
        *out = MP_STAT_P999;
        return 0;
    }
    for (int i = 0; i < MP_STAT_COUNT; i++) {
        if (strlen(stat_names[i]) == len && strncmp(s, stat_names[i], len) == 0) {
            *out = (enum mp_stat)i;
            return 0;
        }
    }
    return MP_EINVALID;
}

static int parse_clause(const char *c, struct mp_slo *out, struct mp_error *err)
{
    const char *op = strchr(c, '<');
    if (!op) {
        return mp_error_set(err, MP_EINVALID, "SLO clause '%s': expected STAT<=DURATION", c);
    }
    enum mp_stat stat;
    if (parse_stat(c, (size_t)(op - c), &stat) < 0) {
        return mp_error_set(err, MP_EINVALID,
                            "SLO clause '%s': unknown statistic (p50 p90 p95 p99 p999 max mean)",
                            c);
    }
    const char *val = op[1] == '=' ? op + 2 : op + 1;
    size_t vlen = strlen(val);
    if (vlen > 0 && (isdigit((unsigned char)val[vlen - 1]) || val[vlen - 1] == '.')) {
        /* A bare number would be seconds: 'p99<200' almost surely meant milliseconds. */
        return mp_error_set(err, MP_EINVALID,
                            "SLO clause '%s': '%s' needs a unit (e.g. %sms or %ss)", c, val, val,
                            val);
    }
    int64_t ns;
    if (mp_parse_duration_ns(val, &ns) < 0 || ns <= 0) {
        return mp_error_set(err, MP_EINVALID,
                            "SLO clause '%s': '%s' is not a positive duration (e.g. 200ms)", c,
                            val);
    }
    if (out->n >= MP_SLO_MAX_CLAUSES) {
        return mp_error_set(err, MP_EINVALID, "SLO: at most %d clauses", MP_SLO_MAX_CLAUSES);
    }
    out->clause[out->n].stat = stat;
    out->clause[out->n].limit_us = (double)ns / 1000.0;
    out->clause[out->n].strict = op[1] != '=';
    out->n++;
    return 0;
}

int mp_slo_parse(const char *text, struct mp_slo *out, struct mp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!text || !*text) {
        return mp_error_set(err, MP_EINVALID, "empty SLO (expected e.g. 'p99<=200ms')");
    }
    char buf[256];
    if (strlen(text) >= sizeof(buf)) {
        return mp_error_set(err, MP_EINVALID, "SLO longer than %zu characters", sizeof(buf) - 1);
    }
    size_t len = 0;
    for (const char *p = text; *p; p++) { /* drop spaces: "p99 <= 200ms" is fine */
        if (*p != ' ' && *p != '\t') {
            buf[len++] = *p;
        }
    }
    buf[len] = '\0';
    char *start = buf;
    for (;;) {
        char *comma = strchr(start, ',');
        if (comma) {
            *comma = '\0';
        }
        int rc = parse_clause(start, out, err);
        if (rc < 0) {
            return rc;
        }
        if (!comma) {
            return 0;
        }
        start = comma + 1;
    }
}

bool mp_slo_met(const struct mp_slo *slo, const struct mp_latency *lat, char *why, size_t why_size)
{
    for (size_t i = 0; i < slo->n; i++) {
        enum mp_stat s = slo->clause[i].stat;
        bool strict = slo->clause[i].strict;
        if (strict ? lat->us[s] >= slo->clause[i].limit_us : lat->us[s] > slo->clause[i].limit_us) {
            if (why && why_size) {
                snprintf(why, why_size, "%s %.0fus %s %.0fus", stat_names[s], lat->us[s],
                         strict ? ">=" : ">", slo->clause[i].limit_us);
            }
            return false;
        }
    }
    return true;
}

/* ---- Windows and stability ------------------------------------------------------------------ */

void mp_window_stats_from(struct mp_window_stats *out, const struct mp_lg_window *w)
{
    memset(out, 0, sizeof(*out));
    out->duration_s = (double)(w->end_ns - w->start_ns) / 1e9;
    out->requests = w->counts.requests;
    out->errors = mp_lg_counts_errors(&w->counts);
    out->late_sends = w->counts.late_sends;
    out->throughput_rps = out->duration_s > 0 ? (double)out->requests / out->duration_s : 0;
    mp_latency_from_hist(&out->latency, &w->latency);
}

/* max/min - 1 of one figure over windows w[0..n), n >= 1; infinity where the minimum is 0. */
static double spread_of(const struct mp_window_stats *w, size_t n,
                        double (*figure)(const struct mp_window_stats *))
{
    double lo = figure(&w[0]), hi = lo;
    for (size_t i = 1; i < n; i++) {
        double v = figure(&w[i]);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo <= 0) {
        return hi <= 0 ? 0.0 : INFINITY;
    }
    return hi / lo - 1.0;
}

static double tput_of(const struct mp_window_stats *w)
{
    return w->throughput_rps;
}

static double mean_of(const struct mp_window_stats *w)
{
    return w->latency.us[MP_STAT_MEAN];
}

static double p99_of(const struct mp_window_stats *w)
{
    return w->latency.us[MP_STAT_P99];
}

bool mp_measure_stable(const struct mp_window_stats *w, size_t n, unsigned k, double tolerance,
                       uint64_t min_requests, struct mp_spread *spread)
{
    size_t m = n < k ? n : k;
    struct mp_spread sp = {INFINITY, INFINITY, NAN};
    bool enough = n >= k && k >= 2;
    bool p99_ok = m > 0;
    const struct mp_window_stats *last = w + (n - m);
    for (size_t i = 0; i < m; i++) {
        enough = enough && last[i].requests >= min_requests && last[i].requests > 0;
        p99_ok = p99_ok && last[i].latency.trusted[MP_STAT_P99];
    }
    if (m > 0) {
        sp.throughput = spread_of(last, m, tput_of);
        sp.latency_mean = spread_of(last, m, mean_of);
        sp.latency_p99 = p99_ok ? spread_of(last, m, p99_of) : NAN;
    }
    if (spread) {
        *spread = sp;
    }
    if (!enough) {
        return false;
    }
    /* A small epsilon keeps exactly-at-tolerance windows stable despite rounding. */
    double tol = tolerance + 1e-9;
    return sp.throughput <= tol && sp.latency_mean <= tol &&
           (isnan(sp.latency_p99) || sp.latency_p99 <= tol);
}
