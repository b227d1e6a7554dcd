/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for the example server's request-head parser: any input must parse or be
 * refused without reading outside it, and a parsed head must describe bytes inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A heap copy of exactly size bytes, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL) {
        return 0;
    }
    memcpy(buf, data, size);
    struct http_request req;
    int r = http_parse_head(buf, size, 4096, 1 << 20, &req);
    if (r > 0) {
        if ((size_t)r > size || req.path < buf || req.path + req.path_len > buf + r ||
            req.method != buf || req.content_length > (1 << 20)) {
            abort();
        }
        (void)http_is(&req, "GET", "/healthz");
    } else if (r != HTTP_INCOMPLETE && http_reason(-r)[0] == 'U') {
        abort(); /* every error maps to a known status */
    }
    free(buf);
    return 0;
}
