/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the log-linear latency histogram: bucket layout, percentiles against sorted
 * data, merge, reset, overflow and the mean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "loadgen/loadgen.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted data, the definition mp_lg_hist_percentile follows: rank
 * ceil(p n / 100) in integers (p with at most 3 decimals), as doubles round 99.9 % of 100,000 up
 * to rank 99,901. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p)
{
    uint64_t milli = (uint64_t)llround(p * 1000.0);
    size_t rank = (size_t)((milli * n + 99999) / 100000);
    return sorted[(rank < 1 ? 1 : rank) - 1];
}

static void buckets_cover_the_range_contiguously(void **state)
{
    (void)state;
    for (size_t i = 1; i < MP_LG_HIST_LEN; i++) {
        if (mp_lg_hist_lowest(i) != mp_lg_hist_highest(i - 1) + 1) {
            fail_msg("bucket %zu starts at %llu, previous ends at %llu", i,
                     (unsigned long long)mp_lg_hist_lowest(i),
                     (unsigned long long)mp_lg_hist_highest(i - 1));
        }
    }
    assert_int_equal(mp_lg_hist_highest(MP_LG_HIST_LEN - 1), MP_LG_HIST_MAX_US);
    assert_true(MP_LG_HIST_MAX_US >= UINT64_C(60000000)); /* at least 60 s */
    const uint64_t probes[] = {0,    1,    2047,   2048,     2049,
                               4095, 4096, 999999, 60000000, MP_LG_HIST_MAX_US};
    for (size_t k = 0; k < MP_ARRAY_LEN(probes); k++) {
        size_t i = mp_lg_hist_index(probes[k]);
        if (probes[k] < mp_lg_hist_lowest(i) || probes[k] > mp_lg_hist_highest(i)) {
            fail_msg("value %llu maps to bucket %zu [%llu, %llu]", (unsigned long long)probes[k], i,
                     (unsigned long long)mp_lg_hist_lowest(i),
                     (unsigned long long)mp_lg_hist_highest(i));
        }
        /* 3 significant digits: bucket width at most 1/1024 of its lower bound. */
        uint64_t width = mp_lg_hist_highest(i) - mp_lg_hist_lowest(i) + 1;
        assert_true(width == 1 || width * 1024 <= mp_lg_hist_lowest(i));
    }
}

static void percentiles_match_sorted_data(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    assert_non_null(v);
    struct mp_rng rng;
    mp_rng_init(&rng, 42);
    struct mp_lg_hist h;
    mp_lg_hist_init(&h);
    double sum = 0;
    for (size_t i = 0; i < N; i++) {
        /* Log-normal latencies around 1 ms with a heavy tail, plus rare multi-second ones. */
        double x = exp(log(1000.0) + 1.2 * mp_rng_normal(&rng));
        if (mp_rng_below(&rng, 1000) == 0) {
            x *= 1000;
        }
        v[i] = (uint64_t)x;
        sum += (double)v[i];
        mp_lg_hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_u64);
    const double ps[] = {0, 1, 10, 50, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t k = 0; k < MP_ARRAY_LEN(ps); k++) {
        uint64_t want = exact_percentile(v, N, ps[k]);
        uint64_t got = mp_lg_hist_percentile(&h, ps[k]);
        /* The histogram reports the top of the bucket holding the sample: never below it, at
         * most 1/1024 above. */
        if (got < want || (double)(got - want) > (double)want / 1024.0 + 1.0) {
            fail_msg("p%g: histogram %llu vs exact %llu", ps[k], (unsigned long long)got,
                     (unsigned long long)want);
        }
    }
    assert_int_equal(h.total, N);
    assert_int_equal(h.min_us, v[0]);
    assert_int_equal(h.max_us, v[N - 1]);
    assert_true(fabs(mp_lg_hist_mean(&h) - sum / N) < 1e-6 * sum / N);
    free(v);
    mp_lg_hist_release(&h);
}

static void merge_equals_recording_everything_once(void **state)
{
    (void)state;
    struct mp_lg_hist a, b, all;
    mp_lg_hist_init(&a);
    mp_lg_hist_init(&b);
    mp_lg_hist_init(&all);
    struct mp_rng rng;
    mp_rng_init(&rng, 7);
    for (int i = 0; i < 5000; i++) {
        uint64_t x = mp_rng_below(&rng, 5000000);
        mp_lg_hist_record(i % 3 ? &a : &b, x);
        mp_lg_hist_record(&all, x);
    }
    mp_lg_hist_merge(&a, &b);
    assert_int_equal(a.total, all.total);
    assert_int_equal(a.min_us, all.min_us);
    assert_int_equal(a.max_us, all.max_us);
    for (size_t i = 0; i < MP_LG_HIST_LEN; i++) {
        if (a.counts[i] != all.counts[i]) {
            fail_msg("bucket %zu: merged %llu vs direct %llu", i, (unsigned long long)a.counts[i],
                     (unsigned long long)all.counts[i]);
        }
    }
    const double ps[] = {50, 99, 99.9};
    for (size_t k = 0; k < MP_ARRAY_LEN(ps); k++) {
        assert_int_equal(mp_lg_hist_percentile(&a, ps[k]), mp_lg_hist_percentile(&all, ps[k]));
    }
    mp_lg_hist_reset(&a);
    assert_int_equal(a.total, 0);
    assert_int_equal(mp_lg_hist_percentile(&a, 50), 0);
    for (size_t i = 0; i < MP_LG_HIST_LEN; i++) {
        assert_int_equal(a.counts[i], 0);
    }
    mp_lg_hist_release(&a);
    mp_lg_hist_release(&b);
    mp_lg_hist_release(&all);
}

static void small_and_huge_values(void **state)
{
    (void)state;
    struct mp_lg_hist h;
    mp_lg_hist_init(&h);
    assert_int_equal(mp_lg_hist_percentile(&h, 99), 0);
    assert_true(mp_lg_hist_mean(&h) == 0.0);
    mp_lg_hist_record(&h, 7);
    assert_int_equal(mp_lg_hist_percentile(&h, 0), 7);
    assert_int_equal(mp_lg_hist_percentile(&h, 100), 7);
    mp_lg_hist_record(&h, UINT64_C(600000000)); /* 10 minutes: clamped into the top bucket */
    assert_int_equal(h.overflow, 1);
    assert_int_equal(h.max_us, UINT64_C(600000000));
    assert_int_equal(mp_lg_hist_percentile(&h, 100), UINT64_C(600000000));
    assert_int_equal(mp_lg_hist_percentile(&h, 99), MP_LG_HIST_MAX_US);
    assert_int_equal(mp_lg_hist_percentile(&h, 50), 7);
    mp_lg_hist_release(&h);
}

/* The rank is ceil(p% of n) in exact arithmetic: p99.9 of 1..1000 is 999 (99.9 / 100 * 1000 is
 * 999.0000000000001 in doubles, which rounded up to the maximum). */
static void percentile_rank_is_exact(void **state)
{
    (void)state;
    struct mp_lg_hist h;
    mp_lg_hist_init(&h);
    for (uint64_t v = 1; v <= 1000; v++) {
        mp_lg_hist_record(&h, v); /* below 2048 every bucket holds one value */
    }
    assert_int_equal(mp_lg_hist_percentile(&h, 99.9), 999);
    assert_int_equal(mp_lg_hist_percentile(&h, 99), 990);
    assert_int_equal(mp_lg_hist_percentile(&h, 50), 500);
    mp_lg_hist_release(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_cover_the_range_contiguously),
        cmocka_unit_test(percentiles_match_sorted_data),
        cmocka_unit_test(merge_equals_recording_everything_once),
        cmocka_unit_test(small_and_huge_values),
        cmocka_unit_test(percentile_rank_is_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
