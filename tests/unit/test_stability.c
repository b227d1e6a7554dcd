/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the measurement protocol's pure parts: the stability rule, percentile trust
 * (sample counts), SLO parsing and checking, and window figures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "measure/measure.h"

static struct mp_window_stats win(double tput, double mean_us, double p99_us, uint64_t n)
{
    struct mp_window_stats w;
    memset(&w, 0, sizeof(w));
    w.duration_s = 1;
    w.throughput_rps = tput;
    w.requests = n;
    w.latency.samples = n;
    w.latency.us[MP_STAT_MEAN] = mean_us;
    w.latency.us[MP_STAT_P99] = p99_us;
    w.latency.trusted[MP_STAT_P99] = n >= 662;
    return w;
}

static void last_three_windows_must_agree(void **state)
{
    (void)state;
    struct mp_window_stats w[5] = {
        win(500, 3000, 9000, 1000), /* warm-ish outlier, outside the last three */
        win(1000, 1000, 2000, 1000), win(1050, 1020, 2100, 1000),
        win(1000, 1000, 2050, 1000), win(1090, 1090, 2150, 1000),
    };
    struct mp_spread sp;
    assert_true(mp_measure_stable(w, 5, 3, 0.10, 50, &sp));
    assert_true(fabs(sp.throughput - 0.09) < 1e-9);
    assert_true(fabs(sp.latency_mean - 0.09) < 1e-9);
    /* Over four windows the outlier breaks it. */
    assert_false(mp_measure_stable(w, 5, 5, 0.10, 50, &sp));
    assert_true(fabs(sp.throughput - (1090.0 / 500.0 - 1.0)) < 1e-9);
    /* Too few windows yet. */
    assert_false(mp_measure_stable(w + 3, 2, 3, 0.10, 50, &sp));
    /* Exactly at the tolerance is stable (max/min <= 1.10). */
    struct mp_window_stats edge[3] = {win(1000, 100, 200, 1000), win(1100, 110, 220, 1000),
                                      win(1050, 105, 210, 1000)};
    assert_true(mp_measure_stable(edge, 3, 3, 0.10, 50, &sp));
    edge[1].throughput_rps = 1101;
    assert_false(mp_measure_stable(edge, 3, 3, 0.10, 50, &sp));
}

static void latency_and_sample_counts_count(void **state)
{
    (void)state;
    struct mp_spread sp;
    /* Throughput agrees but the p99 drifts by 30 %: unstable when p99 is trusted. */
    struct mp_window_stats w[3] = {win(1000, 100, 1000, 1000), win(1000, 100, 1300, 1000),
                                   win(1000, 100, 1100, 1000)};
    assert_false(mp_measure_stable(w, 3, 3, 0.10, 50, &sp));
    assert_true(fabs(sp.latency_p99 - 0.3) < 1e-9);
    /* With too few samples for p99 it is not compared (NAN spread) and the rest decides. */
    for (int i = 0; i < 3; i++) {
        w[i].requests = 100;
        w[i].latency.trusted[MP_STAT_P99] = false;
    }
    assert_true(mp_measure_stable(w, 3, 3, 0.10, 50, &sp));
    assert_true(isnan(sp.latency_p99));
    /* A window under the minimum request count is never stable. */
    w[2].requests = 10;
    assert_false(mp_measure_stable(w, 3, 3, 0.10, 50, &sp));
    /* Zero throughput everywhere (a dead service) is not stable either. */
    struct mp_window_stats dead[3] = {win(0, 0, 0, 0), win(0, 0, 0, 0), win(0, 0, 0, 0)};
    assert_false(mp_measure_stable(dead, 3, 3, 0.10, 0, &sp));
}

static void percentile_trust_thresholds(void **state)
{
    (void)state;
    /* MLPerf early stopping at 99 % confidence (REFERENCE.md §3). */
    assert_int_equal(mp_stat_min_samples(MP_STAT_P90), 64);
    assert_int_equal(mp_stat_min_samples(MP_STAT_P95), 130);
    assert_int_equal(mp_stat_min_samples(MP_STAT_P99), 662);
    assert_int_equal(mp_stat_min_samples(MP_STAT_P999), 6636);
    assert_int_equal(mp_stat_min_samples(MP_STAT_MAX), 0);
    struct mp_hist h;
    mp_hist_init(&h);
    for (int i = 0; i < 661; i++) {
        mp_hist_record(&h, (uint64_t)i);
    }
    struct mp_latency l;
    mp_latency_from_hist(&l, &h);
    assert_true(l.trusted[MP_STAT_P95]);
    assert_false(l.trusted[MP_STAT_P99]);
    mp_hist_record(&h, 1000);
    mp_latency_from_hist(&l, &h);
    assert_true(l.trusted[MP_STAT_P99]);
    assert_false(l.trusted[MP_STAT_P999]);
    assert_true(l.us[MP_STAT_MAX] == 1000.0);
    mp_hist_release(&h);
}

static void slo_parsing_and_checking(void **state)
{
    (void)state;
    struct mp_slo slo;
    struct mp_error err = {0};
    assert_int_equal(mp_slo_parse("p99<=200ms", &slo, &err), 0);
    assert_int_equal(slo.n, 1);
    assert_int_equal(slo.clause[0].stat, MP_STAT_P99);
    assert_true(slo.clause[0].limit_us == 200000.0);
    assert_int_equal(mp_slo_parse("p50 <= 20ms, p99.9<1s,mean<=800us", &slo, &err), 0);
    assert_int_equal(slo.n, 3);
    assert_int_equal(slo.clause[1].stat, MP_STAT_P999);
    assert_true(slo.clause[2].limit_us == 800.0);
    const char *bad[] = {"", "p98<=1s", "p99>=1s", "p99<=fast", "p99<=0", "p99", "p99<=1s,"};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        if (mp_slo_parse(bad[i], &slo, &err) != MP_EINVALID) {
            fail_msg("SLO '%s' was accepted", bad[i]);
        }
    }
    assert_int_equal(mp_slo_parse("p50<=20ms,p99<=200ms", &slo, &err), 0);
    struct mp_latency l;
    memset(&l, 0, sizeof(l));
    l.us[MP_STAT_P50] = 10000;
    l.us[MP_STAT_P99] = 150000;
    char why[96];
    assert_true(mp_slo_met(&slo, &l, why, sizeof(why)));
    l.us[MP_STAT_P99] = 312000;
    assert_false(mp_slo_met(&slo, &l, why, sizeof(why)));
    assert_string_equal(why, "p99 312000us > 200000us");
}

static void window_figures(void **state)
{
    (void)state;
    struct mp_lg_window w;
    mp_lg_window_init(&w);
    w.start_ns = 0;
    w.end_ns = 500000000;
    w.counts.requests = 100;
    w.counts.errors[MP_LG_ERR_TIMEOUT] = 3;
    w.counts.errors[MP_LG_ERR_STATUS] = 2;
    for (int i = 0; i < 100; i++) {
        mp_hist_record(&w.latency, 1000 + (uint64_t)i);
    }
    struct mp_window_stats s;
    mp_window_stats_from(&s, &w);
    assert_true(s.throughput_rps == 200.0);
    assert_int_equal(s.errors, 5);
    assert_true(s.latency.us[MP_STAT_P50] == 1049.0);
    assert_true(s.latency.us[MP_STAT_MEAN] == 1049.5);
    mp_lg_window_release(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(last_three_windows_must_agree),
        cmocka_unit_test(latency_and_sample_counts_count),
        cmocka_unit_test(percentile_trust_thresholds),
        cmocka_unit_test(slo_parsing_and_checking),
        cmocka_unit_test(window_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
