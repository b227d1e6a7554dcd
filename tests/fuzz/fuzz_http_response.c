/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for the HTTP response parser: the input is fed as a stream of responses in
 * pieces whose sizes come from the first byte, with small limits so the size caps are reached,
 * then EOF. Invariants: consumed never exceeds the input, and a complete response is reported
 * only in the DONE state. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    size_t piece = (size_t)(data[0] % 17) + 1;
    bool head = data[0] & 0x80;
    data++;
    size--;
    struct mp_http_limits lim = {.max_header_bytes = 4096, .max_body_bytes = 1 << 16};
    struct mp_http_needle needle;
    if (mp_http_needle_init(&needle, "ok", NULL) != 0) {
        abort();
    }
    struct mp_http_parser p;
    mp_http_parser_init(&p, &lim, &needle);
    mp_http_parser_reset(&p, head);
    size_t off = 0;
    int rc = MP_HTTP_MORE;
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        size_t used = 0;
        rc = mp_http_parse(&p, (const char *)data + off, n, &used);
        if (used > n) {
            abort();
        }
        if (rc < 0) {
            return 0;
        }
        if (rc == MP_HTTP_COMPLETE) {
            if (p.state != MP_HTTP_DONE || p.status < 100 || p.status > 999) {
                abort();
            }
            mp_http_parser_reset(&p, head); /* pipelined: the rest is the next response */
        }
        off += used;
    }
    rc = mp_http_parse_eof(&p);
    if (rc != MP_HTTP_COMPLETE && rc != MP_EPARSE) {
        abort();
    }
    return 0;
}
