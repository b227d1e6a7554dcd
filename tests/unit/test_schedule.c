/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the open-loop schedule: pacing of constant and Poisson arrivals across
 * connections, and late-send counting with latency measured from the schedule (a simulated
 * connection, no clock involved). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "loadgen/loadgen.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void constant_arrivals_are_evenly_spread(void **state)
{
    (void)state;
    enum { CONNS = 8, PER_CONN = 50 };
    const double rate = 1000.0; /* total: one send per millisecond */
    struct mp_lg_schedule s;
    mp_lg_schedule_init(&s, rate, CONNS, MP_LG_CONSTANT, 1);
    assert_true(fabs(s.interval_ns - 8e6) < 1e-6);
    int64_t *t = malloc(CONNS * PER_CONN * sizeof(*t));
    assert_non_null(t);
    size_t n = 0;
    for (unsigned c = 0; c < CONNS; c++) {
        int64_t at = mp_lg_schedule_first(&s, c);
        for (int k = 0; k < PER_CONN; k++) {
            t[n++] = at;
            at = mp_lg_schedule_next(&s, at);
        }
    }
    qsort(t, n, sizeof(*t), cmp_i64);
    for (size_t i = 1; i < n; i++) {
        if (llabs((long long)(t[i] - t[i - 1] - 1000000)) > 1) {
            fail_msg("gap %zu is %lld ns, want 1000000", i, (long long)(t[i] - t[i - 1]));
        }
    }
    free(t);
}

static void poisson_arrivals_have_the_right_mean_and_spread(void **state)
{
    (void)state;
    struct mp_lg_schedule s;
    mp_lg_schedule_init(&s, 500.0, 5, MP_LG_POISSON, 99); /* 100/s per connection: 10 ms */
    enum { N = 20000 };
    double sum = 0, sum2 = 0;
    int64_t at = mp_lg_schedule_first(&s, 0);
    assert_true(at >= 0);
    for (int i = 0; i < N; i++) {
        int64_t next = mp_lg_schedule_next(&s, at);
        double gap = (double)(next - at);
        assert_true(gap >= 0);
        sum += gap;
        sum2 += gap * gap;
        at = next;
    }
    double mean = sum / N, sd = sqrt(sum2 / N - mean * mean);
    /* Exponential: mean 10 ms and sd equal to the mean; 4 standard errors of tolerance. */
    double se = 1e7 / sqrt((double)N);
    if (fabs(mean - 1e7) > 4 * se || fabs(sd / mean - 1.0) > 0.05) {
        fail_msg("mean gap %.0f ns (want 1e7 +- %.0f), sd/mean %.3f (want 1)", mean, 4 * se,
                 sd / mean);
    }
}

/* One connection, one request in flight: the next request is sent at max(schedule, completion of
 * the previous). Returns the number of late sends; latencies from the schedule go to lat_us. */
static int simulate(struct mp_lg_schedule *s, const int64_t *service_ns, int n, int64_t late_ns,
                    int64_t *lat_us)
{
    int late = 0;
    int64_t sched = 0, free_at = 0;
    for (int i = 0; i < n; i++) {
        int64_t sent = sched > free_at ? sched : free_at;
        late += mp_lg_send_late(sched, sent, late_ns);
        int64_t done = sent + service_ns[i];
        lat_us[i] = (done - sched) / 1000;
        free_at = done;
        sched = mp_lg_schedule_next(s, sched);
    }
    return late;
}

static void late_sends_are_counted_and_latency_is_corrected(void **state)
{
    (void)state;
    struct mp_lg_schedule s;
    mp_lg_schedule_init(&s, 100.0, 1, MP_LG_CONSTANT, 1); /* every 10 ms */
    enum { N = 10 };
    int64_t svc[N], lat[N];
    /* Fast service: nothing late, latency is the service time. */
    for (int i = 0; i < N; i++) {
        svc[i] = 2000000;
    }
    assert_int_equal(simulate(&s, svc, N, 1000000, lat), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(lat[i], 2000);
    }
    /* One 35 ms stall: the next three sends are late (by 25, 17 and 9 ms) and the fourth only by
     * 1 ms, under a 5 ms threshold. Latencies count the wait behind the stall. */
    svc[2] = 35000000;
    assert_int_equal(simulate(&s, svc, N, 5000000, lat), 3);
    const int64_t want[N] = {2000, 2000, 35000, 27000, 19000, 11000, 3000, 2000, 2000, 2000};
    for (int i = 0; i < N; i++) {
        if (lat[i] != want[i]) {
            fail_msg("request %d: latency %lld us, want %lld", i, (long long)lat[i],
                     (long long)want[i]);
        }
    }
    assert_int_equal(simulate(&s, svc, N, 500000, lat), 4);
    /* A service slower than the schedule: every send after the first is late and latency from
     * the schedule grows by the deficit each time (what coordinated omission would hide). */
    for (int i = 0; i < N; i++) {
        svc[i] = 12000000;
    }
    assert_int_equal(simulate(&s, svc, N, 1000000, lat), N - 1);
    for (int i = 1; i < N; i++) {
        assert_int_equal(lat[i] - lat[i - 1], 2000);
    }
}

static void zero_rate_is_inert(void **state)
{
    (void)state;
    struct mp_lg_schedule s;
    mp_lg_schedule_init(&s, 0, 10, MP_LG_CONSTANT, 1);
    assert_true(s.interval_ns == 0.0);
    assert_int_equal(mp_lg_schedule_first(&s, 3), 0);
    assert_int_equal(mp_lg_schedule_next(&s, 42), 42);
}

/* The lowest rates the options take put a send centuries away: the schedule stops at
 * MP_LG_SCHEDULE_MAX_NS instead of overflowing (--rate 1e-9 -c 10 was signed overflow). */
static void tiny_rates_stay_in_range(void **state)
{
    (void)state;
    const double rates[] = {1e-9, 1e-300};
    for (size_t r = 0; r < sizeof(rates) / sizeof(rates[0]); r++) {
        for (int a = 0; a < 2; a++) {
            struct mp_lg_schedule s;
            mp_lg_schedule_init(&s, rates[r], 100000, a ? MP_LG_POISSON : MP_LG_CONSTANT, 7);
            int64_t start = 1000000000000000LL; /* a monotonic clock's reading, ~11 days */
            for (unsigned i = 0; i < 100000; i += 9999) {
                int64_t first = mp_lg_schedule_first(&s, i);
                int64_t at = mp_lg_schedule_next(&s, start + first);
                if (first < 0 || first > MP_LG_SCHEDULE_MAX_NS || at < start + first) {
                    fail_msg("rate %g %s, index %u: first %lld, next %lld", rates[r],
                             a ? "poisson" : "constant", i, (long long)first, (long long)at);
                }
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(constant_arrivals_are_evenly_spread),
        cmocka_unit_test(poisson_arrivals_have_the_right_mean_and_spread),
        cmocka_unit_test(late_sends_are_counted_and_latency_is_corrected),
        cmocka_unit_test(zero_rate_is_inert),
        cmocka_unit_test(tiny_rates_stay_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
