/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the server's own parsing of request and command-line text: the --listen address, Host
 * and Origin headers, bearer tokens, and whole request heads (the gate's check). The input is
 * split at the first NUL byte into a header value and a second string (an expected token or
 * host); the whole input is also checked as a request head. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) {
        return 0;
    }
    const char *code = NULL, *msg = NULL;
    unsigned st = mp_server_head_check((const char *)data, size, &code, &msg);
    if (st != 0 && st != 400 && st != 411 && st != 413 && st != 414 && st != 431) {
        abort();
    }
    char *a = mp_xstrndup((const char *)data, size);
    size_t alen = strlen(a);
    char *b = alen < size ? mp_xstrndup((const char *)data + alen + 1, size - alen - 1)
                          : mp_xstrdup("127.0.0.1:8080");
    char host[256];
    unsigned port = 0;
    if (mp_server_parse_listen(a, host, sizeof(host), &port, NULL) == 0) {
        (void)mp_server_host_is_loopback(host);
        if (port > 65535) {
            abort();
        }
    }
    (void)mp_server_host_allowed(a, 8080, b);
    (void)mp_server_origin_allowed(a, b);
    if (mp_server_token_ok(a, b)) {
        /* Accepted: the scheme in any case, 1*SP, then exactly the token, which is not empty,
         * and the value's trailing whitespace (none of it, RFC 9110 5.5). */
        const char *given = a + 7;
        while (*given == ' ') {
            given++;
        }
        size_t n = strlen(given);
        while (n > 0 && (given[n - 1] == ' ' || given[n - 1] == '\t')) {
            n--;
        }
        if (strncasecmp(a, "Bearer ", 7) != 0 || n != strlen(b) || strncmp(given, b, n) != 0 ||
            !*b) {
            abort();
        }
    }
    free(a);
    free(b);
    return 0;
}
