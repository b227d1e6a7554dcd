/* SPDX-License-Identifier: Apache-2.0 */
/* Request-head parsing (RFC 9112 sections 3 and 5, the subset a load generator and curl use). */
#include "http.h"

#include <string.h>
#include <strings.h>

struct head_state {
    bool have_length;
    bool conn_close;
    bool conn_keep_alive;
};

/* Length of the head (through the empty line) in buf[0..len), or 0 if not complete. */
static size_t head_end(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '\n') {
            continue;
        }
        if (i + 1 < len && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive comparison of buf[0..n) with the NUL-terminated word. */
static bool eq_nocase(const char *buf, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(buf, word, n) == 0;
}

/* Parses "METHOD SP target SP HTTP/1.d" in line[0..n). */
static int parse_request_line(const char *line, size_t n, struct http_request *req)
{
    size_t i = 0;
    while (i < n && is_tchar(line[i])) {
        i++;
    }
    if (i == 0 || i >= n || line[i] != ' ') {
        return HTTP_BAD_REQUEST;
    }
    req->method = line;
    req->method_len = i;
    size_t t = ++i;
    while (i < n && line[i] != ' ') {
        if ((unsigned char)line[i] <= 0x20 || line[i] == 0x7f) {
            return HTTP_BAD_REQUEST;
        }
        i++;
    }
    if (i == t || i >= n || line[t] != '/') {
        return HTTP_BAD_REQUEST;
    }
    req->path = line + t;
    req->path_len = i - t;
    const char *q = memchr(req->path, '?', req->path_len);
    if (q != NULL) {
        req->path_len = (size_t)(q - req->path);
    }
    i++;
    if (n - i != 8 || memcmp(line + i, "HTTP/", 5) != 0) {
        return HTTP_BAD_REQUEST;
    }
    if (line[i + 5] != '1' || line[i + 6] != '.') {
        return HTTP_BAD_VERSION;
    }
    if (line[i + 7] < '0' || line[i + 7] > '9') {
        return HTTP_BAD_REQUEST;
    }
    req->minor_version = line[i + 7] - '0';
    return 0;
}

static int parse_length(const char *v, size_t n, size_t max_body, struct head_state *st,
                        struct http_request *req)
{
    if (n == 0 || n > 18) {
        return n > 18 ? HTTP_TOO_LARGE : HTTP_BAD_REQUEST;
    }
    size_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return HTTP_BAD_REQUEST;
        }
        x = x * 10 + (size_t)(v[i] - '0');
    }
    if (st->have_length && x != req->content_length) {
        return HTTP_BAD_REQUEST;
    }
    if (x > max_body) {
        return HTTP_TOO_LARGE;
    }
    st->have_length = true;
    req->content_length = x;
    return 0;
}

/* Reads the comma-separated tokens of a Connection header. */
static void parse_connection(const char *v, size_t n, struct head_state *st)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') {
            i++;
        }
        if (eq_nocase(v + s, i - s, "close")) {
            st->conn_close = true;
        } else if (eq_nocase(v + s, i - s, "keep-alive")) {
            st->conn_keep_alive = true;
        }
    }
}

static int parse_header(const char *line, size_t n, size_t max_body, struct head_state *st,
                        struct http_request *req)
{
    size_t i = 0;
    while (i < n && is_tchar(line[i])) {
        i++;
    }
    if (i == 0 || i >= n || line[i] != ':') {
        return HTTP_BAD_REQUEST;
    }
    size_t name_len = i++;
    while (i < n && (line[i] == ' ' || line[i] == '\t')) {
        i++;
    }
    size_t end = n;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t')) {
        end--;
    }
    const char *v = line + i;
    size_t vn = end - i;
    if (eq_nocase(line, name_len, "content-length")) {
        return parse_length(v, vn, max_body, st, req);
    }
    if (eq_nocase(line, name_len, "transfer-encoding")) {
        return HTTP_NOT_IMPLEMENTED;
    }
    if (eq_nocase(line, name_len, "connection")) {
        parse_connection(v, vn, st);
    } else if (eq_nocase(line, name_len, "expect") && eq_nocase(v, vn, "100-continue")) {
        req->expect_continue = true;
    }
    return 0;
}

int http_parse_head(const char *buf, size_t len, size_t max_head, size_t max_body,
                    struct http_request *req)
{
    memset(req, 0, sizeof(*req));
    size_t end = head_end(buf, len < max_head ? len : max_head);
    if (end == 0) {
        return len >= max_head ? HTTP_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
    }
    struct head_state st = {0};
    size_t pos = 0;
    bool first = true;
    while (pos < end) {
        const char *nl = memchr(buf + pos, '\n', end - pos);
        size_t n = (size_t)(nl - (buf + pos));
        const char *line = buf + pos;
        pos += n + 1;
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            break; /* the blank line ending the head */
        }
        int rc =
            first ? parse_request_line(line, n, req) : parse_header(line, n, max_body, &st, req);
        if (rc != 0) {
            return rc;
        }
        first = false;
    }
    if (first) {
        return HTTP_BAD_REQUEST;
    }
    req->keep_alive = req->minor_version >= 1 ? !st.conn_close : st.conn_keep_alive;
    return (int)end;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Content Too Large";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

bool http_is(const struct http_request *req, const char *method, const char *path)
{
    return req->method_len == strlen(method) && memcmp(req->method, method, req->method_len) == 0 &&
           req->path_len == strlen(path) && memcmp(req->path, path, req->path_len) == 0;
}
