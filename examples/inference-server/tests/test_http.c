/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the example server's request-head parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "../http.h"

#define MAX_HEAD 1024
#define MAX_BODY 4096

static int parse(const char *text, struct http_request *req)
{
    return http_parse_head(text, strlen(text), MAX_HEAD, MAX_BODY, req);
}

static void parses_get_and_post(void **state)
{
    (void)state;
    struct http_request req;
    const char *get = "GET /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\nNEXT";
    assert_int_equal(parse(get, &req), (int)(strlen(get) - 4));
    assert_true(http_is(&req, "GET", "/healthz"));
    assert_false(http_is(&req, "POST", "/healthz"));
    assert_true(req.keep_alive);
    assert_int_equal(req.content_length, 0);

    const char *post = "POST /v1/fmnist HTTP/1.1\r\ncontent-LENGTH:  784 \r\n"
                       "Expect: 100-continue\r\nConnection: close\r\n\r\n";
    assert_int_equal(parse(post, &req), (int)strlen(post));
    assert_true(http_is(&req, "POST", "/v1/fmnist"));
    assert_int_equal(req.content_length, 784);
    assert_true(req.expect_continue);
    assert_false(req.keep_alive);
}

static void versions_and_keep_alive(void **state)
{
    (void)state;
    struct http_request req;
    assert_true(parse("GET / HTTP/1.0\r\n\r\n", &req) > 0);
    assert_int_equal(req.minor_version, 0);
    assert_false(req.keep_alive);
    assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &req) > 0);
    assert_true(req.keep_alive);
    assert_true(parse("GET / HTTP/1.1\nConnection: foo, close\n\n", &req) > 0); /* bare LF */
    assert_false(req.keep_alive);
    assert_int_equal(parse("GET / HTTP/2.0\r\n\r\n", &req), HTTP_BAD_VERSION);
}

static void incomplete_heads_wait(void **state)
{
    (void)state;
    struct http_request req;
    assert_int_equal(parse("", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &req), HTTP_INCOMPLETE);
    assert_int_equal(parse("GET / HTTP/1.1\r\n\r", &req), HTTP_INCOMPLETE);
}

static void refuses_bad_requests(void **state)
{
    (void)state;
    struct http_request req;
    const char *bad[] = {
        "GET\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1 \r\n\r\n",
        "GET / HTTX/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n folded: x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i], &req);
        if (rc != HTTP_BAD_REQUEST) {
            fail_msg("case %zu (%s): got %d, expected %d", i, bad[i], rc, HTTP_BAD_REQUEST);
        }
    }
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", &req),
                     HTTP_TOO_LARGE);
    assert_int_equal(parse("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", &req),
                     HTTP_TOO_LARGE);
    assert_int_equal(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &req),
                     HTTP_NOT_IMPLEMENTED);
    /* Same length twice is allowed. */
    assert_true(parse("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n", &req) >
                0);
}

static void long_heads_are_refused(void **state)
{
    (void)state;
    char big[MAX_HEAD + 100];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    struct http_request req;
    assert_int_equal(http_parse_head(big, sizeof(big), MAX_HEAD, MAX_BODY, &req),
                     HTTP_HEADERS_TOO_LARGE);
    /* Shorter than the limit and unfinished: wait for more. */
    assert_int_equal(http_parse_head(big, MAX_HEAD - 1, MAX_HEAD, MAX_BODY, &req), HTTP_INCOMPLETE);
}

static void reasons(void **state)
{
    (void)state;
    assert_string_equal(http_reason(200), "OK");
    assert_string_equal(http_reason(503), "Service Unavailable");
    assert_string_equal(http_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_get_and_post),    cmocka_unit_test(versions_and_keep_alive),
        cmocka_unit_test(incomplete_heads_wait),  cmocka_unit_test(refuses_bad_requests),
        cmocka_unit_test(long_heads_are_refused), cmocka_unit_test(reasons),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
