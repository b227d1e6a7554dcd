/* SPDX-License-Identifier: Apache-2.0 */
/* Counters, windows and results of the load generator: merging and release. */
#include "loadgen/loadgen.h"

#include <stdlib.h>
#include <string.h>

static const char *const error_names[] = {
#define MP_LG_ERR_NAME(name, text) text,
    MP_LG_ERROR_MAP(MP_LG_ERR_NAME)
#undef MP_LG_ERR_NAME
};

const char *mp_lg_error_name(enum mp_lg_error e)
{
    return (unsigned)e < MP_LG_ERR_COUNT ? error_names[e] : "unknown";
}

uint64_t mp_lg_counts_errors(const struct mp_lg_counts *c)
{
    uint64_t n = 0;
    for (int i = 0; i < MP_LG_ERR_COUNT; i++) {
        n += c->errors[i];
    }
    return n;
}

void mp_lg_counts_add(struct mp_lg_counts *dst, const struct mp_lg_counts *src)
{
    dst->requests += src->requests;
    for (int i = 0; i < MP_LG_ERR_COUNT; i++) {
        dst->errors[i] += src->errors[i];
    }
    dst->sends += src->sends;
    dst->late_sends += src->late_sends;
    dst->connects += src->connects;
    dst->bytes_read += src->bytes_read;
}

void mp_lg_window_init(struct mp_lg_window *w)
{
    memset(w, 0, sizeof(*w));
    mp_hist_init(&w->latency);
    mp_hist_init(&w->latency_sent);
}

void mp_lg_window_release(struct mp_lg_window *w)
{
    mp_hist_release(&w->latency);
    mp_hist_release(&w->latency_sent);
}

void mp_lg_window_merge(struct mp_lg_window *dst, const struct mp_lg_window *src)
{
    mp_lg_counts_add(&dst->counts, &src->counts);
    mp_hist_merge(&dst->latency, &src->latency);
    mp_hist_merge(&dst->latency_sent, &src->latency_sent);
}

void mp_lg_result_release(struct mp_lg_result *r)
{
    for (size_t i = 0; i < r->n_windows; i++) {
        mp_lg_window_release(&r->windows[i]);
    }
    free(r->windows);
    r->windows = NULL;
    r->n_windows = 0;
}
