/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the incremental HTTP response parser: framing (Content-Length, chunked, close),
 * responses split at every byte, pipelined leftovers, limits, malformed input, body check, and
 * URL parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadgen/loadgen.h"

/* Parses text in one call; returns the result and the bytes consumed. */
static int parse_all(struct mp_lg_http_parser *p, const char *text, size_t *used)
{
    return mp_lg_http_parse(p, text, strlen(text), used);
}

static int parse_one(const char *text, struct mp_lg_http_parser *p)
{
    mp_lg_http_parser_init(p, NULL, NULL);
    size_t used = 0;
    return parse_all(p, text, &used);
}

/* Parses text in two calls, split after its first split bytes (every split point is a test
 * that state carries across reads). */
static int parse_split(const char *text, size_t split, struct mp_lg_http_parser *p)
{
    mp_lg_http_parser_init(p, NULL, NULL);
    size_t used = 0;
    int rc = mp_lg_http_parse(p, text, split, &used);
    if (rc == MP_LG_HTTP_MORE) {
        rc = mp_lg_http_parse(p, text + split, strlen(text) - split, &used);
    }
    return rc;
}

/* A list of one length, as a proxy merging two Content-Length lines writes it (RFC 9110 §8.6),
 * is that length, as two lines of it are: it was a parse error. */
static void content_length_lists_of_one_value(void **state)
{
    (void)state;
    const char *ok[] = {"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
                        "HTTP/1.1 200 OK\r\nContent-Length: 2,2 ,\t2\r\n\r\nhi",
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi"};
    for (size_t i = 0; i < MP_ARRAY_LEN(ok); i++) {
        struct mp_lg_http_parser p;
        int rc = parse_one(ok[i], &p);
        if (rc != MP_LG_HTTP_COMPLETE || p.body_len != 2) {
            fail_msg("case %zu: rc %d (%s) body %llu, want complete with 2 bytes", i, rc,
                     p.why ? p.why : "", (unsigned long long)p.body_len);
        }
    }
}

static void content_length_response(void **state)
{
    (void)state;
    struct mp_lg_http_parser p;
    const char *r = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n\r\nhello";
    assert_int_equal(parse_one(r, &p), MP_LG_HTTP_COMPLETE);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.body_len, 5);
    assert_true(p.keep_alive);
    assert_int_equal(parse_one("HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", &p),
                     MP_LG_HTTP_COMPLETE);
    assert_int_equal(p.status, 404);
    assert_false(p.keep_alive); /* HTTP/1.0 without keep-alive */
    assert_int_equal(
        parse_one("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", &p),
        MP_LG_HTTP_COMPLETE);
    assert_false(p.keep_alive);
    /* No reason phrase, bare LF line ends. */
    assert_int_equal(parse_one("HTTP/1.1 204\nX: y\n\n", &p), MP_LG_HTTP_COMPLETE);
    assert_int_equal(p.status, 204);
}

static void chunked_response_with_extensions_and_trailers(void **state)
{
    (void)state;
    struct mp_lg_http_parser p;
    const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4;name=val\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n"
                    "Expires: never\r\n\r\n";
    size_t used = 0;
    mp_lg_http_parser_init(&p, NULL, NULL);
    assert_int_equal(parse_all(&p, r, &used), MP_LG_HTTP_COMPLETE);
    assert_int_equal(used, strlen(r));
    assert_int_equal(p.body_len, 23);
    assert_true(p.keep_alive);
}

/* Feeding a response one split at a time must give the same result as in one piece. */
static void split_reads_at_every_byte(void **state)
{
    (void)state;
    const char *cases[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-A: b\r\n\r\nhello world",
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n"
        "0123456789abcdef\r\n0\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;name=\"a b\"\r\nWiki\r\n"
        "0;last\r\nExpires: never\r\n\r\n",
    };
    const uint64_t body_len[] = {11, 19, 2, 4};
    for (size_t c = 0; c < MP_ARRAY_LEN(cases); c++) {
        size_t len = strlen(cases[c]);
        for (size_t split = 0; split <= len; split++) {
            struct mp_lg_http_parser p;
            mp_lg_http_parser_init(&p, NULL, NULL);
            size_t used = 0;
            int rc = mp_lg_http_parse(&p, cases[c], split, &used);
            if (split < len && rc != MP_LG_HTTP_MORE) {
                fail_msg("case %zu split %zu: first part returned %d", c, split, rc);
            }
            if (split < len) {
                rc = mp_lg_http_parse(&p, cases[c] + split, len - split, &used);
            }
            if (rc != MP_LG_HTTP_COMPLETE || p.body_len != body_len[c]) {
                fail_msg("case %zu split %zu: rc %d body %llu (want %llu)", c, split, rc,
                         (unsigned long long)p.body_len, (unsigned long long)body_len[c]);
            }
        }
    }
    /* Byte by byte. */
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, NULL, NULL);
    const char *r = cases[1];
    int rc = MP_LG_HTTP_MORE;
    for (size_t i = 0; r[i]; i++) {
        size_t used;
        rc = mp_lg_http_parse(&p, r + i, 1, &used);
        assert_int_equal(used, 1);
        assert_int_equal(rc, r[i + 1] ? MP_LG_HTTP_MORE : MP_LG_HTTP_COMPLETE);
    }
    assert_int_equal(p.body_len, 19);
}

static void pipelined_leftovers_start_the_next_response(void **state)
{
    (void)state;
    const char *first = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    const char *second =
        "HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    char both[256];
    snprintf(both, sizeof(both), "%s%s", first, second);
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, NULL, NULL);
    size_t used = 0;
    assert_int_equal(parse_all(&p, both, &used), MP_LG_HTTP_COMPLETE);
    assert_int_equal(used, strlen(first));
    assert_int_equal(p.status, 200);
    mp_lg_http_parser_reset(&p, false);
    size_t used2 = 0;
    assert_int_equal(parse_all(&p, both + used, &used2), MP_LG_HTTP_COMPLETE);
    assert_int_equal(used2, strlen(second));
    assert_int_equal(p.status, 503);
    assert_int_equal(p.body_len, 1);
}

static void bodies_without_length(void **state)
{
    (void)state;
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, NULL, NULL);
    size_t used;
    const char *r = "HTTP/1.1 200 OK\r\n\r\nuntil close";
    assert_int_equal(parse_all(&p, r, &used), MP_LG_HTTP_MORE);
    assert_int_equal(mp_lg_http_parse_eof(&p), MP_LG_HTTP_COMPLETE);
    assert_int_equal(p.body_len, 11);
    assert_false(p.keep_alive);
    /* HEAD, 204 and 304 have no body even with a Content-Length. */
    mp_lg_http_parser_reset(&p, true);
    assert_int_equal(parse_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", &used),
                     MP_LG_HTTP_COMPLETE);
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(parse_all(&p, "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", &used),
                     MP_LG_HTTP_COMPLETE);
    /* A truncated response is an error at EOF. */
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(parse_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", &used),
                     MP_LG_HTTP_MORE);
    assert_int_equal(mp_lg_http_parse_eof(&p), MP_EPARSE);
}

static void malformed_responses_are_errors(void **state)
{
    (void)state;
    const char *bad[] = {
        "HTTP/1.1 2x0 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "HTTX/1.1 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\n folded: header\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        /* A bare CR in a chunk-size line: not the size 0x11, nor an extension. */
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r1\r\nabcdefghijklmnopq\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a\rb\r\nx\r\n",
        "HTTP/1.1 101 Switching\r\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_lg_http_parser p;
        int rc = parse_one(bad[i], &p);
        if (rc != MP_EPARSE || !p.why) {
            fail_msg("case %zu (%s): got %d, want MP_EPARSE with a reason", i, bad[i], rc);
        }
    }
    /* The reason says what was wrong. */
    struct {
        const char *response, *why;
    } said[] = {
        {"HTTP/1.1 2x0 OK\r\n\r\n", "status code"},
        {"HTTP/2 200\r\n\r\n", "HTTP/1.x"},
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "conflicting"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\n", "conflicting"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2,,2\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2,\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2 2\r\n\r\n", "invalid Content-Length"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"},
        {"HTTP/1.1 101 Switching\r\n\r\n", "101"},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r1\r\n", "bare CR"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(said); i++) {
        struct mp_lg_http_parser p;
        int rc = parse_one(said[i].response, &p);
        if (rc != MP_EPARSE || !p.why || !strstr(p.why, said[i].why)) {
            fail_msg("case %zu: got %d '%s', want MP_EPARSE saying '%s'", i, rc,
                     p.why ? p.why : "(none)", said[i].why);
        }
    }
}

/* Obsolete line folding (RFC 9112 §5.2): the continuation of a header whose value is not read
 * is skipped, split anywhere; a folded framing header and a continuation with no header before
 * it are errors that say so. */
static void folded_headers(void **state)
{
    (void)state;
    const char *r = "HTTP/1.1 200 OK\r\nX-Long: first part,\r\n second part\r\n\tthird\r\n"
                    "Content-Length: 2\r\n\r\nok";
    size_t len = strlen(r);
    for (size_t split = 0; split <= len; split++) { /* whole lines and byte by byte */
        struct mp_lg_http_parser p;
        int rc = parse_split(r, split, &p);
        if (rc != MP_LG_HTTP_COMPLETE || p.body_len != 2 || !p.keep_alive) {
            fail_msg("split %zu: rc %d (%s) body %llu, want complete with 2 bytes", split, rc,
                     p.why ? p.why : "-", (unsigned long long)p.body_len);
        }
    }
    struct {
        const char *response, *why;
    } said[] = {
        {"HTTP/1.1 200 OK\r\n folded: header\r\n\r\n", "before the first header"},
        {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n 0\r\n\r\nok", "folded Content-Length"},
        {"HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n close\r\n\r\n", "folded"},
        {"HTTP/1.1 200 OK\r\nX: a\r\n b\001\r\n\r\n", "control character"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(said); i++) {
        size_t n = strlen(said[i].response);
        for (size_t split = 0; split <= n; split++) {
            struct mp_lg_http_parser p;
            int rc = parse_split(said[i].response, split, &p);
            if (rc != MP_EPARSE || !p.why || !strstr(p.why, said[i].why)) {
                fail_msg("case %zu split %zu: got %d '%s', want MP_EPARSE saying '%s'", i, split,
                         rc, p.why ? p.why : "(none)", said[i].why);
            }
        }
    }
}

/* Connection and Transfer-Encoding are lists: every element counts, however long the list, and
 * only whole tokens match. */
static void list_headers_are_read_to_the_end(void **state)
{
    (void)state;
    const char *close_late[] = {
        "HTTP/1.1 200 OK\r\nConnection: keep-alive, upgrade, te, x-some-long-token, close\r\n"
        "Content-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nConnection: upgrade\r\nConnection: Close \r\n"
        "Content-Length: 0\r\n\r\n",
    };
    for (size_t c = 0; c < MP_ARRAY_LEN(close_late); c++) {
        size_t len = strlen(close_late[c]);
        for (size_t split = 0; split <= len; split++) { /* whole lines and byte by byte */
            struct mp_lg_http_parser p;
            int rc = parse_split(close_late[c], split, &p);
            if (rc != MP_LG_HTTP_COMPLETE || p.keep_alive) {
                fail_msg("case %zu split %zu: rc %d keep_alive %d, want complete and close", c,
                         split, rc, p.keep_alive);
            }
        }
    }
    struct mp_lg_http_parser p;
    size_t used;
    /* "close" inside another token is not close. */
    assert_int_equal(parse_one("HTTP/1.1 200 OK\r\nConnection: x-noclose\r\n"
                               "Content-Length: 0\r\n\r\n",
                               &p),
                     MP_LG_HTTP_COMPLETE);
    assert_true(p.keep_alive);
    /* Chunked as the last of several codings, in a list longer than the parser's value buffer. */
    const char *gz = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, deflate, br, chunked\r\n\r\n"
                     "2\r\nok\r\n0\r\n\r\n";
    assert_int_equal(parse_one(gz, &p), MP_LG_HTTP_COMPLETE);
    assert_int_equal(p.body_len, 2);
    assert_true(p.keep_alive);
    /* A final coding other than chunked: the body runs until the server closes (RFC 9112 §6.3),
     * whatever Content-Length says. */
    const char *until_close[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 1\r\n\r\nzz",
    };
    for (size_t c = 0; c < MP_ARRAY_LEN(until_close); c++) {
        mp_lg_http_parser_init(&p, NULL, NULL);
        assert_int_equal(parse_all(&p, until_close[c], &used), MP_LG_HTTP_MORE);
        assert_int_equal(mp_lg_http_parse_eof(&p), MP_LG_HTTP_COMPLETE);
        assert_int_equal(p.body_len, 2);
        assert_false(p.keep_alive);
    }
}

static void limits_are_enforced(void **state)
{
    (void)state;
    struct mp_lg_http_limits lim = {.max_header_bytes = 64, .max_body_bytes = 10};
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, &lim, NULL);
    char big[256];
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX-Long: %0100d\r\n\r\n", 0);
    size_t used;
    assert_int_equal(parse_all(&p, big, &used), MP_ETOOBIG);
    assert_non_null(strstr(p.why, "header size limit"));
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(parse_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", &used),
                     MP_ETOOBIG);
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(
        parse_all(&p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n", &used),
        MP_ETOOBIG);
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(parse_all(&p, "HTTP/1.1 200 OK\r\n\r\n0123456789A", &used), MP_ETOOBIG);
    /* Content-Length overflow is refused rather than wrapped. */
    mp_lg_http_parser_init(&p, NULL, NULL);
    assert_int_equal(
        parse_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", &used),
        MP_EPARSE);
}

static void body_check_across_chunks(void **state)
{
    (void)state;
    struct mp_lg_http_needle n;
    assert_int_equal(mp_lg_http_needle_init(&n, "aab", NULL), 0);
    struct mp_lg_http_parser p;
    mp_lg_http_parser_init(&p, NULL, &n);
    const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "2\r\naa\r\n2\r\nab\r\n0\r\n\r\n";
    size_t len = strlen(r), used;
    for (size_t split = 1; split < len; split++) {
        mp_lg_http_parser_reset(&p, false);
        assert_int_equal(mp_lg_http_parse(&p, r, split, &used), MP_LG_HTTP_MORE);
        assert_int_equal(mp_lg_http_parse(&p, r + split, len - split, &used), MP_LG_HTTP_COMPLETE);
        assert_true(p.body_matched);
    }
    mp_lg_http_parser_reset(&p, false);
    assert_int_equal(parse_all(&p, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabab", &used),
                     MP_LG_HTTP_COMPLETE);
    assert_false(p.body_matched);
    char huge[MP_LG_HTTP_NEEDLE_MAX + 8];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(mp_lg_http_needle_init(&n, huge, NULL), MP_ETOOBIG);
}

static void urls(void **state)
{
    (void)state;
    struct mp_lg_url u;
    assert_int_equal(mp_lg_url_parse("http://127.0.0.1:8080/infer?x=1#frag", &u, NULL), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/infer?x=1");
    assert_int_equal(mp_lg_url_parse("http://localhost", &u, NULL), 0);
    assert_string_equal(u.port, "80");
    assert_string_equal(u.path, "/");
    assert_int_equal(mp_lg_url_parse("http://[::1]:9/a", &u, NULL), 0);
    assert_string_equal(u.host, "::1");
    /* An IPv6 zone, written %25 in a URL (RFC 6874), goes to the resolver as '%' ("cannot
     * resolve host 'fe80::1%25lo'"); one written bare stays as it is. */
    assert_int_equal(mp_lg_url_parse("http://[fe80::1%25lo]:9/a", &u, NULL), 0);
    assert_string_equal(u.host, "fe80::1%lo");
    assert_int_equal(mp_lg_url_parse("http://[fe80::1%lo]/", &u, NULL), 0);
    assert_string_equal(u.host, "fe80::1%lo");
    assert_int_equal(mp_lg_url_parse("localhost:81/x", &u, NULL), 0);
    assert_string_equal(u.port, "81");
    assert_int_equal(mp_lg_url_parse("HTTP://Example:82/A", &u, NULL), 0);
    assert_string_equal(u.host, "Example");
    assert_string_equal(u.port, "82");
    assert_string_equal(u.path, "/A");
    assert_int_equal(mp_lg_url_parse("http://h/a@b", &u, NULL), 0); /* '@' in the path is fine */
    /* The authority ends at '/', '?' or '#' (RFC 3986 §3.2): a fragment right after the host or
     * port was "unexpected '#' after the host". */
    assert_int_equal(mp_lg_url_parse("http://h:8080#top", &u, NULL), 0);
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.path, "/");
    assert_int_equal(mp_lg_url_parse("http://h#top", &u, NULL), 0);
    assert_string_equal(u.host, "h");
    assert_string_equal(u.path, "/");
    /* A port is any run of digits (RFC 3986 §3.2.3): leading zeros were an invalid port. */
    assert_int_equal(mp_lg_url_parse("http://h:08080/x", &u, NULL), 0);
    assert_string_equal(u.port, "8080");
    assert_int_equal(mp_lg_url_parse("http://h:0000000000080/x", &u, NULL), 0);
    assert_string_equal(u.port, "80");
    /* Non-ASCII bytes and characters a URI may not hold are percent-encoded; '%' stays. */
    assert_int_equal(mp_lg_url_parse("http://h/mod\xc3\xa8le?q={a|b}&p=%41", &u, NULL), 0);
    assert_string_equal(u.path, "/mod%C3%A8le?q=%7Ba%7Cb%7D&p=%41");
    char long_url[2100] = "http://h/";
    memset(long_url + 9, 'a', 2038);            /* "/" and 2038 bytes: 2039 of 2047 */
    memcpy(long_url + 9 + 2038, "\xc3\xa8", 3); /* 6 more bytes encoded: 2045 */
    assert_int_equal(mp_lg_url_parse(long_url, &u, NULL), 0);
    memcpy(long_url + 9 + 2038, "\xc3\xa8\xc3", 4); /* 9 more: over 2047 */
    assert_int_equal(mp_lg_url_parse(long_url, &u, NULL), MP_ETOOBIG);
    struct mp_error err = {0};
    /* A usage error (exit 2) like ftp://: it exited 1, as if the service had failed. */
    assert_int_equal(mp_lg_url_parse("https://x/", &u, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "https"));
    assert_int_equal(mp_lg_url_parse("HTTPS://x/", &u, NULL), MP_EINVALID);
    assert_int_equal(mp_lg_url_parse("http://user:pw@127.0.0.1:8080/", &u, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "credentials"));
    const char *bad[] = {"",
                         "ftp://x/",
                         "http://",
                         "http://:80/",
                         "http://h:0/",
                         "http://h:99999/",
                         "http://h:000000/",
                         "http://h:0000065536/",
                         "http://h:+80/",
                         "http://h:8x/",
                         "http://h/a b",
                         "http://[::1/"};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        int rc = mp_lg_url_parse(bad[i], &u, NULL);
        if (rc != MP_EINVALID) {
            fail_msg("URL '%s': got %d, want MP_EINVALID", bad[i], rc);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_response),
        cmocka_unit_test(content_length_lists_of_one_value),
        cmocka_unit_test(chunked_response_with_extensions_and_trailers),
        cmocka_unit_test(split_reads_at_every_byte),
        cmocka_unit_test(pipelined_leftovers_start_the_next_response),
        cmocka_unit_test(bodies_without_length),
        cmocka_unit_test(malformed_responses_are_errors),
        cmocka_unit_test(folded_headers),
        cmocka_unit_test(list_headers_are_read_to_the_end),
        cmocka_unit_test(limits_are_enforced),
        cmocka_unit_test(body_check_across_chunks),
        cmocka_unit_test(urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
