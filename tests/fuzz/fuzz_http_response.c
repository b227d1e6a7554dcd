/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for the HTTP response parser: the input is a stream of responses (pipelined),
 * parsed with small limits so the size caps are reached, then EOF. It is fed three ways: in one
 * piece, in pieces whose size comes from the first byte, and one byte at a time; a whole line in
 * the buffer takes the parser's line-at-a-time path, a split one the byte-by-byte path, so the
 * three must agree on every response and on the final result. Invariants: consumed never exceeds
 * the input, and a complete response is reported only in the DONE state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What a feeding observed: a running digest of every complete response and the last result. */
struct outcome {
    uint64_t digest;
    unsigned responses;
    int final_rc;
    size_t consumed; /* 0 after an error */
};

static void mix(uint64_t *h, uint64_t v)
{
    *h = (*h ^ v) * UINT64_C(0x100000001b3);
}

static struct outcome feed(const char *data, size_t size, size_t piece, bool head)
{
    struct mp_lg_http_limits lim = {.max_header_bytes = 4096, .max_body_bytes = 1 << 16};
    struct mp_lg_http_needle needle;
    if (mp_lg_http_needle_init(&needle, "ok", NULL) != 0) {
        abort();
    }
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, &lim, &needle);
    mp_lg_http_parser_reset(&p, head);
    struct outcome o = {.digest = UINT64_C(0xcbf29ce484222325), .final_rc = MP_LG_HTTP_MORE};
    while (o.consumed < size) {
        size_t n = size - o.consumed < piece ? size - o.consumed : piece;
        size_t used = 0;
        int rc = mp_lg_http_parse(&p, data + o.consumed, n, &used);
        if (used > n) {
            abort();
        }
        if (rc < 0) {
            o.final_rc = rc;
            o.consumed = 0; /* where an error is seen depends on the pieces */
            return o;
        }
        o.consumed += used;
        if (rc == MP_LG_HTTP_COMPLETE) {
            if (p.state != MP_LG_HTTP_DONE || p.status < 100 || p.status > 999) {
                abort();
            }
            mix(&o.digest, (uint64_t)p.status);
            mix(&o.digest, p.keep_alive);
            mix(&o.digest, p.body_len);
            mix(&o.digest, p.body_matched);
            mix(&o.digest, o.consumed);
            o.responses++;
            mp_lg_http_parser_reset(&p, head); /* pipelined: the rest is the next response */
        }
    }
    o.final_rc = mp_lg_http_parse_eof(&p);
    if (o.final_rc != MP_LG_HTTP_COMPLETE && o.final_rc != MP_EPARSE) {
        abort();
    }
    if (o.final_rc == MP_LG_HTTP_COMPLETE) {
        mix(&o.digest, p.body_len);
        mix(&o.digest, p.body_matched);
    }
    return o;
}

static bool same(const struct outcome *a, const struct outcome *b)
{
    return a->digest == b->digest && a->responses == b->responses && a->final_rc == b->final_rc &&
           a->consumed == b->consumed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t piece = (size_t)(data[0] % 17) + 1;
    bool head = data[0] & 0x80;
    const char *text = (const char *)data + 1;
    size--;
    struct outcome whole = feed(text, size, size ? size : 1, head);
    struct outcome pieces = feed(text, size, piece, head);
    struct outcome bytes = feed(text, size, 1, head);
    if (!same(&whole, &pieces) || !same(&whole, &bytes)) {
        abort();
    }
    return 0;
}
