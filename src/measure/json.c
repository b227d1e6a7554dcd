/* SPDX-License-Identifier: Apache-2.0 */
/* JSON output of measurements and capacity searches (the `morphling load --json` format,
 * documented in docs/load.md). Numbers are printed so they read back exactly; non-finite values
 * become null. */
#include "measure/measure.h"

#include <math.h>
#include <string.h>

static void num(struct mp_buf *b, const char *key, double v, bool comma)
{
    char tmp[MP_FMT_DOUBLE_MAX];
    mp_buf_addf(b, "\"%s\":%s%s", key, isfinite(v) ? mp_fmt_double(tmp, v) : "null",
                comma ? "," : "");
}

static void u64(struct mp_buf *b, const char *key, uint64_t v, bool comma)
{
    mp_buf_addf(b, "\"%s\":%llu%s", key, (unsigned long long)v, comma ? "," : "");
}

static void str(struct mp_buf *b, const char *s)
{
    mp_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            mp_buf_addf(b, "\\%c", *p);
        } else if (*p < 0x20) {
            mp_buf_addf(b, "\\u%04x", *p);
        } else {
            mp_buf_addc(b, (char)*p);
        }
    }
    mp_buf_addc(b, '"');
}

static void latency(struct mp_buf *b, const char *key, const struct mp_latency *l)
{
    mp_buf_addf(b, "\"%s\":{", key);
    for (int s = 0; s < MP_STAT_COUNT; s++) {
        num(b, mp_stat_name((enum mp_stat)s), l->us[s], s + 1 < MP_STAT_COUNT);
    }
    mp_buf_adds(b, "},");
}

static void trust(struct mp_buf *b, const struct mp_latency *l)
{
    mp_buf_adds(b, "\"latency_trusted\":{");
    for (int s = 0; s < MP_STAT_COUNT; s++) {
        mp_buf_addf(b, "\"%s\":%s%s", mp_stat_name((enum mp_stat)s),
                    l->trusted[s] ? "true" : "false", s + 1 < MP_STAT_COUNT ? "," : "");
    }
    mp_buf_adds(b, "},");
}

static void errors(struct mp_buf *b, const struct mp_measure_result *r)
{
    mp_buf_adds(b, "\"errors\":{");
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        u64(b, mp_lg_error_name((enum mp_lg_error)e), r->errors[e], true);
    }
    u64(b, "total", r->errors_total, false);
    mp_buf_adds(b, "},\"error_messages\":{");
    bool first = true;
    for (int e = 0; e < MP_LG_ERR_COUNT; e++) {
        if (r->first_error[e][0]) {
            mp_buf_addf(b, "%s\"%s\":", first ? "" : ",", mp_lg_error_name((enum mp_lg_error)e));
            str(b, r->first_error[e]);
            first = false;
        }
    }
    mp_buf_adds(b, "},");
}

static void windows(struct mp_buf *b, const struct mp_measure_result *r)
{
    mp_buf_adds(b, "\"windows\":[");
    for (size_t i = 0; i < r->n_windows; i++) {
        const struct mp_window_stats *w = &r->per_window[i];
        mp_buf_adds(b, i ? ",{" : "{");
        num(b, "duration_s", w->duration_s, true);
        num(b, "throughput_rps", w->throughput_rps, true);
        u64(b, "requests", w->requests, true);
        u64(b, "errors", w->errors, true);
        u64(b, "late_sends", w->late_sends, true);
        num(b, "p50_us", w->latency.us[MP_STAT_P50], true);
        num(b, "p99_us", w->latency.us[MP_STAT_P99], true);
        num(b, "mean_us", w->latency.us[MP_STAT_MEAN], false);
        mp_buf_addc(b, '}');
    }
    mp_buf_adds(b, "],");
}

void mp_measure_result_json(const struct mp_measure_result *r, struct mp_buf *b)
{
    mp_buf_addc(b, '{');
    u64(b, "requests", r->requests, true);
    errors(b, r);
    num(b, "error_rate", r->error_rate, true);
    num(b, "duration_s", r->duration_s, true);
    num(b, "throughput_rps", r->throughput_rps, true);
    num(b, "offered_rps", r->offered_rps, true);
    latency(b, "latency_us", &r->latency);
    trust(b, &r->latency);
    latency(b, "latency_uncorrected_us", &r->latency_sent);
    u64(b, "samples", r->latency.samples, true);
    u64(b, "sends", r->sends, true);
    u64(b, "late_sends", r->late_sends, true);
    u64(b, "late_busy", r->late_busy, true);
    u64(b, "connects", r->connects, true);
    u64(b, "bytes_read", r->bytes_read, true);
    num(b, "read_bytes_per_s", r->read_bytes_per_s, true);
    num(b, "late_fraction", r->late_fraction, true);
    mp_buf_addf(b, "\"stable\":%s,\"pruned\":%s,\"remeasured\":%s,", r->stable ? "true" : "false",
                r->pruned ? "true" : "false", r->remeasured ? "true" : "false");
    mp_buf_addf(b, "\"windows_run\":%u,\"windows_merged\":%u,", r->windows, r->merged);
    mp_buf_adds(b, "\"spread\":{");
    num(b, "throughput", r->spread.throughput, true);
    num(b, "latency_mean", r->spread.latency_mean, true);
    num(b, "latency_p99", r->spread.latency_p99, false);
    mp_buf_adds(b, "},");
    windows(b, r);
    mp_buf_adds(b, "\"loadgen\":{");
    num(b, "cpu_s", r->lg_cpu_s, true);
    num(b, "cpu_share", r->lg_cpu_share, true);
    mp_buf_addf(b, "\"saturated\":%s}}", r->lg_saturated ? "true" : "false");
}

void mp_capacity_result_json(const struct mp_capacity_result *r, struct mp_buf *b)
{
    mp_buf_addf(b, "{\"found\":%s,", r->found ? "true" : "false");
    num(b, "capacity_rps", r->capacity_rps, true);
    /* Nothing found has no bracket (it read 0, an exact answer). */
    num(b, "uncertainty_rps", r->found ? r->uncertainty_rps : NAN, true);
    num(b, "unconfirmed_rps", r->unconfirmed_rps, true);
    num(b, "saturation_rps", r->saturation_rps, true);
    num(b, "search_s", r->search_s, true);
    mp_buf_addf(b, "\"converged\":%s,\"why\":", r->converged ? "true" : "false");
    str(b, r->why);
    mp_buf_addc(b, ',');
    if (r->found) {
        latency(b, "latency_us", &r->at_capacity.latency);
    } else {
        mp_buf_adds(b, "\"latency_us\":null,"); /* no rate to give a latency at */
    }
    mp_buf_adds(b, "\"steps\":[");
    for (size_t i = 0; i < r->n_steps; i++) {
        const struct mp_capacity_step *s = &r->steps[i];
        mp_buf_adds(b, i ? ",{\"kind\":" : "{\"kind\":");
        str(b, s->kind);
        mp_buf_addc(b, ',');
        num(b, "offered_rps", s->offered_rps, true);
        num(b, "throughput_rps", s->throughput_rps, true);
        num(b, "p99_us", s->p99_us, true);
        num(b, "error_rate", s->error_rate, true);
        num(b, "late_fraction", s->late_fraction, true);
        mp_buf_addf(b, "\"pass\":%s,\"why\":", s->pass ? "true" : "false");
        str(b, s->why);
        mp_buf_addc(b, '}');
    }
    mp_buf_adds(b, "],\"at_capacity\":");
    mp_measure_result_json(&r->at_capacity, b);
    mp_buf_addc(b, '}');
}
