/* SPDX-License-Identifier: Apache-2.0 */
/* The log-linear latency histogram (layout in loadgen.h): percentiles, merge, reset. */
#include "loadgen/loadgen.h"

#include <stdlib.h>
#include <string.h>

static size_t lo_index(const struct mp_lg_hist *h)
{
    return mp_lg_hist_index(h->min_us > MP_LG_HIST_MAX_US ? MP_LG_HIST_MAX_US : h->min_us);
}

static size_t hi_index(const struct mp_lg_hist *h)
{
    return mp_lg_hist_index(h->max_us > MP_LG_HIST_MAX_US ? MP_LG_HIST_MAX_US : h->max_us);
}

void mp_lg_hist_init(struct mp_lg_hist *h)
{
    memset(h, 0, sizeof(*h));
    h->counts = mp_xcalloc(MP_LG_HIST_LEN, sizeof(*h->counts));
}

void mp_lg_hist_release(struct mp_lg_hist *h)
{
    free(h->counts);
    memset(h, 0, sizeof(*h));
}

void mp_lg_hist_reset(struct mp_lg_hist *h)
{
    if (h->total > 0) {
        /* Only the range between min and max was written: keep untouched pages untouched. */
        size_t lo = lo_index(h), hi = hi_index(h);
        memset(h->counts + lo, 0, (hi - lo + 1) * sizeof(*h->counts));
    }
    h->total = 0;
    h->overflow = 0;
    h->min_us = 0;
    h->max_us = 0;
    h->sum_us = 0;
}

uint64_t mp_lg_hist_lowest(size_t index)
{
    if (index < ((size_t)2 << MP_LG_HIST_SUB_BITS)) {
        return index;
    }
    unsigned shift = (unsigned)(index >> MP_LG_HIST_SUB_BITS) - 1;
    uint64_t sub =
        (index & ((1u << MP_LG_HIST_SUB_BITS) - 1)) + (UINT64_C(1) << MP_LG_HIST_SUB_BITS);
    return sub << shift;
}

uint64_t mp_lg_hist_highest(size_t index)
{
    if (index < ((size_t)2 << MP_LG_HIST_SUB_BITS)) {
        return index;
    }
    unsigned shift = (unsigned)(index >> MP_LG_HIST_SUB_BITS) - 1;
    return mp_lg_hist_lowest(index) + (UINT64_C(1) << shift) - 1;
}

void mp_lg_hist_merge(struct mp_lg_hist *dst, const struct mp_lg_hist *src)
{
    if (src->total == 0) {
        return;
    }
    for (size_t i = lo_index(src), hi = hi_index(src); i <= hi; i++) {
        dst->counts[i] += src->counts[i];
    }
    if (dst->total == 0 || src->min_us < dst->min_us) {
        dst->min_us = src->min_us;
    }
    if (src->max_us > dst->max_us) {
        dst->max_us = src->max_us;
    }
    dst->total += src->total;
    dst->overflow += src->overflow;
    dst->sum_us += src->sum_us;
}

uint64_t mp_lg_hist_percentile(const struct mp_lg_hist *h, double p)
{
    if (h->total == 0) {
        return 0;
    }
    if (p >= 100.0) {
        return h->max_us;
    }
    if (p < 0) {
        p = 0;
    }
    /* Rank of the sample: ceil(p% of total), at least 1 (nearest-rank definition). p / 100 is
     * not exact in binary (99.9 % of 1000 computes as 999.0000000000001): a fraction within
     * rounding error of an integer is that integer, or p99.9 of 1000 samples is the maximum. */
    double exact = p / 100.0 * (double)h->total;
    uint64_t rank = (uint64_t)exact;
    if ((double)rank < exact - 1e-12 * exact) {
        rank++;
    }
    if (rank == 0) {
        rank = 1;
    }
    uint64_t seen = 0;
    for (size_t i = lo_index(h), hi = hi_index(h); i <= hi; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = mp_lg_hist_highest(i);
            if (v > h->max_us) {
                v = h->max_us;
            }
            if (v < h->min_us) {
                v = h->min_us;
            }
            return v;
        }
    }
    return h->max_us;
}

double mp_lg_hist_mean(const struct mp_lg_hist *h)
{
    return h->total ? h->sum_us / (double)h->total : 0.0;
}
