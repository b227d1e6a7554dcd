/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/server's request checks (listen address, Host, Origin, token) and its
 * embedded assets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "server/server.h"

static void loopback_addresses(void **state)
{
    (void)state;
    assert_true(mp_server_host_is_loopback("127.0.0.1"));
    assert_true(mp_server_host_is_loopback("127.8.9.10"));
    assert_true(mp_server_host_is_loopback("::1"));
    assert_true(mp_server_host_is_loopback("localhost"));
    assert_false(mp_server_host_is_loopback("0.0.0.0"));
    assert_false(mp_server_host_is_loopback("::"));
    assert_false(mp_server_host_is_loopback("192.168.1.5"));
    assert_false(mp_server_host_is_loopback("128.0.0.1"));
    assert_false(mp_server_host_is_loopback("example.com"));
}

static void listen_parsing(void **state)
{
    (void)state;
    char host[64];
    unsigned port = 0;
    assert_int_equal(mp_server_parse_listen("127.0.0.1:8080", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(mp_server_parse_listen("[::1]:0", host, sizeof(host), &port, NULL), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    struct mp_error err = {0};
    assert_int_equal(mp_server_parse_listen("127.0.0.1", host, sizeof(host), &port, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "HOST:PORT"));
    assert_int_equal(mp_server_parse_listen("h:70000", host, sizeof(host), &port, NULL),
                     MP_EINVALID);
    assert_int_equal(mp_server_parse_listen(":80", host, sizeof(host), &port, NULL), MP_EINVALID);
    assert_int_equal(mp_server_parse_listen("[::1]80", host, sizeof(host), &port, NULL),
                     MP_EINVALID);
    assert_int_equal(mp_server_parse_listen("h:8x", host, sizeof(host), &port, NULL), MP_EINVALID);
}

static void host_header_rules(void **state)
{
    (void)state;
    assert_true(mp_server_host_allowed("127.0.0.1:8080", 8080, NULL));
    assert_true(mp_server_host_allowed("localhost:8080", 8080, NULL));
    assert_true(mp_server_host_allowed("[::1]:8080", 8080, NULL));
    assert_false(mp_server_host_allowed("127.0.0.1:8081", 8080, NULL));
    assert_false(mp_server_host_allowed("127.0.0.1", 8080, NULL));
    assert_false(mp_server_host_allowed("evil.example:8080", 8080, NULL));
    assert_false(mp_server_host_allowed("localhost:8080.evil", 8080, NULL));
    assert_false(mp_server_host_allowed(NULL, 8080, NULL));
    assert_true(mp_server_host_allowed("tuner.lan:9000", 8080, "tuner.lan:9000"));
    assert_false(mp_server_host_allowed("tuner.lan:9001", 8080, "tuner.lan:9000"));
}

static void origin_rules(void **state)
{
    (void)state;
    assert_true(mp_server_origin_allowed(NULL, "127.0.0.1:8080"));
    assert_true(mp_server_origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(mp_server_origin_allowed("http://localhost:8080", "127.0.0.1:8080"));
    assert_true(mp_server_origin_allowed("https://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(mp_server_origin_allowed("ftp://127.0.0.1:8080", "127.0.0.1:8080"));
    assert_false(mp_server_origin_allowed("null", "127.0.0.1:8080"));
    assert_false(mp_server_origin_allowed("http://127.0.0.1:8080.evil", "127.0.0.1:8080"));
    assert_false(mp_server_origin_allowed("http://127.0.0.1:8080", NULL));
}

static void token_rules(void **state)
{
    (void)state;
    const char *t = "0123456789abcdef";
    assert_true(mp_server_token_ok("Bearer 0123456789abcdef", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcde", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcdefg", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcdeX", t));
    assert_false(mp_server_token_ok("bearer 0123456789abcdef", t));
    assert_false(mp_server_token_ok("0123456789abcdef", t));
    assert_false(mp_server_token_ok(NULL, t));
    assert_false(mp_server_token_ok("Bearer ", t));
}

static void assets_are_embedded(void **state)
{
    (void)state;
    const struct mp_asset *a = mp_server_asset("/index.html");
    assert_non_null(a);
    assert_string_equal(a->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr((const char *)a->data, "app.js")); /* NUL-terminated */
    a = mp_server_asset("/vendor/uPlot.iife.min.js");
    assert_non_null(a);
    assert_true(a->len > 10000);
    assert_non_null(mp_server_asset("/style.css"));
    assert_null(mp_server_asset("/../etc/passwd"));
    assert_null(mp_server_asset(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_addresses), cmocka_unit_test(listen_parsing),
        cmocka_unit_test(host_header_rules),  cmocka_unit_test(origin_rules),
        cmocka_unit_test(token_rules),        cmocka_unit_test(assets_are_embedded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
