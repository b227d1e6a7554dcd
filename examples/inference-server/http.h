/* SPDX-License-Identifier: Apache-2.0 */
/* Minimal HTTP/1.x request-head parser for the example server: request line, Content-Length,
 * Connection, Expect and Transfer-Encoding; everything else is skipped. Bodies must carry a
 * Content-Length (chunked uploads are refused with 501).
 *
 * Ownership: the parsed request points into the caller's buffer (borrowed).
 * Thread-safety: reentrant. */
#ifndef INFER_HTTP_H
#define INFER_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Results of http_parse_head besides a positive head length. Each error is the negated HTTP
 * status to answer with before closing the connection. */
enum http_parse_result {
    HTTP_INCOMPLETE = 0,
    HTTP_BAD_REQUEST = -400,
    HTTP_TOO_LARGE = -413,
    HTTP_HEADERS_TOO_LARGE = -431,
    HTTP_NOT_IMPLEMENTED = -501,
    HTTP_BAD_VERSION = -505,
};

struct http_request {
    const char *method;
    size_t method_len;
    const char *path; /* without the query string */
    size_t path_len;
    int minor_version; /* HTTP/1.minor */
    size_t content_length;
    bool keep_alive;
    bool expect_continue;
};

/* Parses the request head at the start of buf[0..len). Returns the head length (bytes up to and
 * including the blank line) when it is complete, HTTP_INCOMPLETE when more bytes are needed,
 * or a negative enum http_parse_result. Heads longer than max_head and bodies longer than
 * max_body are refused. Line ends may be CRLF or LF. */
int http_parse_head(const char *buf, size_t len, size_t max_head, size_t max_body,
                    struct http_request *req);

/* Reason phrase of a status code ("OK", "Service Unavailable", ...). */
const char *http_reason(int status);

/* True when the method/path of req equal the given NUL-terminated strings. */
bool http_is(const struct http_request *req, const char *method, const char *path);

#endif
