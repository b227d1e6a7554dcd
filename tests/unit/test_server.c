/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/server's request checks (listen address, Host, Origin, token, token file,
 * request heads) and its embedded assets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/kube.h"
#include "server/server.h"
#include "server/server_int.h"
#include "store/store.h"
#include "kube_fake.h"

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

/* Per-address limits: a client with an IPv6 /64 can take any address in it, so the /64 is one
 * client (each address was its own, with its own 32 waiting connections); IPv4 clients of a
 * dual-stack socket are told apart by their IPv4 address. */
static bool same(const char *x, const char *y)
{
    struct sockaddr_storage a = {0}, b = {0};
    const char *in[2] = {x, y};
    struct sockaddr_storage *out[2] = {&a, &b};
    for (int i = 0; i < 2; i++) {
        if (strchr(in[i], ':')) {
            struct sockaddr_in6 *s = (struct sockaddr_in6 *)out[i];
            s->sin6_family = AF_INET6;
            assert_int_equal(inet_pton(AF_INET6, in[i], &s->sin6_addr), 1);
        } else {
            struct sockaddr_in *s = (struct sockaddr_in *)out[i];
            s->sin_family = AF_INET;
            assert_int_equal(inet_pton(AF_INET, in[i], &s->sin_addr), 1);
        }
    }
    return mp_srv_same_address((struct sockaddr *)&a, (struct sockaddr *)&b);
}

static void client_addresses(void **state)
{
    (void)state;
    assert_true(same("192.0.2.1", "192.0.2.1"));
    assert_false(same("192.0.2.1", "192.0.2.2"));
    assert_true(same("2001:db8:1:2::1", "2001:db8:1:2:ffff:1:2:3"));
    assert_false(same("2001:db8:1:2::1", "2001:db8:1:3::1"));
    assert_true(same("::ffff:192.0.2.1", "::ffff:192.0.2.1"));
    assert_false(same("::ffff:192.0.2.1", "::ffff:192.0.2.2"));
    assert_false(same("::ffff:192.0.2.1", "192.0.2.1")); /* families differ: as before */
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
    /* Host names are case-insensitive (RFC 9110, 4.2.3). */
    assert_true(mp_server_host_allowed("LocalHost:8080", 8080, NULL));
    assert_true(mp_server_host_allowed("tuner.lan:9000", 8080, "Tuner.LAN:9000"));
    assert_false(mp_server_host_allowed("tuner.lan:9000x", 8080, "Tuner.LAN:9000"));
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
    assert_true(mp_server_origin_allowed("https://tuner.lan:9000", "Tuner.LAN:9000"));
}

static void token_rules(void **state)
{
    (void)state;
    const char *t = "0123456789abcdef";
    assert_true(mp_server_token_ok("Bearer 0123456789abcdef", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcde", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcdefg", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcdeX", t));
    /* The scheme is case-insensitive (RFC 9110, 11.1): curl, Prometheus and browsers write
     * "Bearer", other clients "bearer" or "BEARER". */
    assert_true(mp_server_token_ok("bearer 0123456789abcdef", t));
    assert_true(mp_server_token_ok("BEARER  0123456789abcdef", t));
    assert_false(mp_server_token_ok("Bearer0123456789abcdef", t));
    /* Whitespace after the value is none of it (RFC 9110, 5.5); inside it, it is. */
    assert_true(mp_server_token_ok("Bearer 0123456789abcdef ", t));
    assert_true(mp_server_token_ok("Bearer 0123456789abcdef\t \t", t));
    assert_false(mp_server_token_ok("Bearer 0123456789abcdef x", t));
    assert_false(mp_server_token_ok("Bearer 01234567 89abcdef", t));
    assert_false(mp_server_token_ok("Basic 0123456789abcdef", t));
    assert_false(mp_server_token_ok("0123456789abcdef", t));
    assert_false(mp_server_token_ok(NULL, t));
    assert_false(mp_server_token_ok("Bearer ", t));
    /* An empty expected token matches nothing, an empty header or cookie included. */
    assert_false(mp_server_token_ok("Bearer ", ""));
    assert_false(mp_server_token_ok("Bearer   ", ""));
    assert_false(mp_server_token_equal("", ""));
}

/* Issue 13: the token is created once (256 random bits, owner-only) and reused; a file that is
 * not ours alone is refused. */
static void token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/mp-test-token-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = mp_xasprintf("%s/store.db.token", dir);
    char *token = NULL, *again = NULL;
    bool created = false;
    struct mp_error err = {0};
    assert_int_equal(mp_server_token_load(path, &token, &created, &err), 0);
    assert_true(created);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(strspn(token, "0123456789abcdef"), 64);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(mp_server_token_load(path, &again, &created, &err), 0);
    assert_false(created);
    assert_string_equal(again, token);
    free(again);

    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(mp_server_token_load(path, &again, &created, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "readable by others"));
    assert_int_equal(chmod(path, 0600), 0);
    char *link = mp_xasprintf("%s/link", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(mp_server_token_load(link, &again, &created, &err), MP_EINVALID);
    FILE *f = fopen(path, "w");
    fputs("short\n", f);
    fclose(f);
    assert_int_equal(mp_server_token_load(path, &again, &created, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "at least 16 characters"));
    f = fopen(path, "w");
    fputs("two words-0123456789\n", f);
    fclose(f);
    assert_int_equal(mp_server_token_load(path, &again, &created, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "expected one word"));
    /* An Authorization header could not carry these. */
    static const char *const bad[] = {"caf\xc3\xa9-0123456789", "ctrl\x01-0123456789",
                                      "del\x7f-0123456789"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f = fopen(path, "w");
        fprintf(f, "%s\n", bad[i]);
        fclose(f);
        if (mp_server_token_load(path, &again, &created, &err) != MP_EINVALID) {
            fail_msg("token '%s' accepted", bad[i]);
        }
        assert_non_null(strstr(err.msg, "cannot be sent in a header"));
    }
    /* Any printable ASCII: the login URL serve prints escapes it. */
    static const char *const good[] = {"b64+/token=0123456789==", "semi;colon,\"q\\#&%-0123456789"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        f = fopen(path, "w");
        fprintf(f, "%s\n", good[i]);
        fclose(f);
        assert_int_equal(mp_server_token_load(path, &again, &created, &err), 0);
        assert_string_equal(again, good[i]);
        free(again);
    }
    assert_int_equal(mp_server_token_load(dir, &again, &created, &err), MP_EINVALID);
    unlink(link);
    unlink(path);
    rmdir(dir);
    free(link);
    free(path);
    free(token);
}

/* What libmicrohttpd would refuse with an HTML page is found first, so the gate answers JSON. */
static void request_heads(void **state)
{
    (void)state;
    static const struct {
        const char *head;
        unsigned status;
        const char *code;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL},
        {"GET / HTTP/1.0\n\n", 0, NULL},
        {"POST /x HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n", 0, NULL},
        {"POST /x HTTP/1.1\r\ncontent-length:  12 \r\n\r\n", 0, NULL},
        {"POST /x HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413, "too_large"},
        {"POST /x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413, "too_large"},
        {"POST /x HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 413, "too_large"},
        {"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 413, "too_large"},
        {"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "length_required"},
        {"GARBAGE\r\n\r\n", 400, "bad_request"},
        {"GET /\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/2.0\r\n\r\n", 400, "bad_request"},
        {"GET  HTTP/1.1\r\n\r\n", 400, "bad_request"},
        {"G(T / HTTP/1.1\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400, "bad_request"},
        {"\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nHost: a\r\n", 400, "bad_request"},
        /* Request smuggling and Host confusion: a field that must be single, repeated. */
        {"POST /x HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 500\r\n\r\n", 400,
         "bad_request"},
        {"POST /x HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHOST: evil.com\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nHost: a\r\nHost-Extra: b\r\n\r\n", 0, NULL},
        {"GET /app.js%00x HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        {"GET /api/v1/x?a=1%00 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        {"GET /a%000 HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        {"GET /a%100 HTTP/1.1\r\nHost: a\r\n\r\n", 0, NULL},
        /* No GET or HEAD route reads a body: a public one would hold a worker for it. */
        {"GET /healthz HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 400, "bad_request"},
        {"HEAD / HTTP/1.1\r\nContent-Length: 1\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, NULL},
        {"GETX / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 0, NULL},
        {"DELETE /x HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 0, NULL},
        /* A bare CR: one more line to a reader that splits on it, none to libmicrohttpd. */
        {"GET / HTTP/1.1\r\nHost: a\rContent-Length: 5\r\n\r\n", 400, "bad_request"},
        {"GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400, "bad_request"},
        {"GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400, "bad_request"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *code = NULL, *msg = NULL;
        unsigned st = mp_server_head_check(cases[i].head, strlen(cases[i].head), &code, &msg);
        if (st != cases[i].status || (st && strcmp(code, cases[i].code) != 0)) {
            fail_msg("[%s]: %u %s, expected %u %s", cases[i].head, st, st ? code : "-",
                     cases[i].status, cases[i].code ? cases[i].code : "-");
        }
    }
}

/* A NUL or another control character in the head is refused (RFC 9110, 5.5): libmicrohttpd
 * ends the path or the value at a NUL, so "GET /healthz\0x" was served as /healthz. HTAB stays
 * (whitespace around a value); bytes over 0x7f too (obs-text). */
static void request_heads_with_control_characters(void **state)
{
    (void)state;
#define HEAD(text) text, sizeof(text) - 1
    static const struct {
        const char *head;
        size_t len;
        unsigned status;
    } cases[] = {
        {HEAD("GET /health\0z HTTP/1.1\r\nHost: a\r\n\r\n"), 400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n"), 400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\0.evil\r\n\r\n"), 400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: a\x01"
              "b\r\n\r\n"),
         400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: a\x7f\r\n\r\n"), 400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: a\x1b[0m\r\n\r\n"), 400},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A:\ta b\t\r\n\r\n"), 0},
        {HEAD("GET /healthz HTTP/1.1\r\nHost: a\r\nX-A: \xc3\xa9\r\n\r\n"), 0},
    };
#undef HEAD
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *code = NULL, *msg = NULL;
        unsigned st = mp_server_head_check(cases[i].head, cases[i].len, &code, &msg);
        if (st != cases[i].status || (st && strcmp(code, "bad_request") != 0)) {
            fail_msg("case %zu: %u %s, expected %u", i, st, st ? code : "-", cases[i].status);
        }
    }
}

static void assets_are_embedded(void **state)
{
    (void)state;
    const struct mp_asset *a = mp_server_asset("/index.html");
    assert_non_null(a);
    assert_string_equal(a->content_type, "text/html; charset=utf-8");
    assert_non_null(strstr((const char *)a->data, "app.js")); /* NUL-terminated */
    assert_int_equal(strlen(a->etag), 18);                    /* "16 hex digits" */
    assert_true(a->etag[0] == '"' && a->etag[17] == '"');
    assert_string_not_equal(a->etag, mp_server_asset("/app.js")->etag);
    a = mp_server_asset("/vendor/uPlot.iife.min.js");
    assert_non_null(a);
    assert_true(a->len > 10000);
    assert_non_null(mp_server_asset("/style.css"));
    assert_null(mp_server_asset("/../etc/passwd"));
    assert_null(mp_server_asset(""));
}

/* A client of the fake API server s, with short retry pauses. */
static struct mp_kube_client *fake_client(const struct kf_server *s)
{
    char *text = mp_xasprintf("current-context: t\n"
                              "contexts:\n- name: t\n  context: {cluster: c, namespace: ns}\n"
                              "clusters:\n- name: c\n  cluster:\n    server: %s\n",
                              kf_url(s));
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client *c = NULL;
    struct mp_kube_client_opts o = {.backoff_initial_ms = 10, .backoff_max_ms = 20};
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0 ||
        mp_kube_client_new(cfg, &o, &c, &err) != 0) {
        fail_msg("client: %s", err.msg);
    }
    free(text);
    return c;
}

/* The number of experiments in the store at db. */
static size_t stored_experiments(const char *db)
{
    struct mp_store *st = NULL;
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    struct mp_error err = {0};
    assert_int_equal(mp_store_open(db, NULL, &st, &err), 0);
    assert_int_equal(mp_store_experiment_list(st, &rows, &n, &err), 0);
    mp_experiment_rows_free(rows, n);
    mp_store_close(st);
    return n;
}

/* A mirror of a namespace whose API server lists objects without a name (or a namespace): they
 * are left out, as the operator would never write them; they crashed the mirror (strdup of the
 * missing name when pruning, strcmp with a missing namespace when matching trials). */
static void kube_mirror_skips_nameless_objects(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    struct kf_server *s = kf_start(KF_HTTP, dir);
    kf_set_default(s, 200,
                   "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":["
                   "{\"metadata\":{\"namespace\":\"ns\"}},{\"metadata\":{\"name\":\"x\"}},"
                   "{\"metadata\":{\"name\":7,\"namespace\":\"ns\"}},{\"kind\":\"Trial\"}]}");
    struct mp_kube_client *c = fake_client(s);
    struct mp_error err = {0};
    char *db = mp_xasprintf("%s/mirror.db", dir);
    struct mp_store *st = NULL;
    int64_t id = 0;
    for (int all = 0; all < 2; all++) {
        /* An experiment mirrored before, gone from the cluster since: pruned. */
        assert_int_equal(mp_store_open(db, NULL, &st, &err), 0);
        assert_int_equal(mp_store_experiment_create(st, "gone", "{}", "/", 0, &id, &err), 0);
        mp_store_close(st);
        struct mp_kube_mirror_opts mo = {.client = c, .ns = all ? NULL : "ns", .db_path = db};
        struct mp_kube_mirror *m = NULL;
        size_t before = kf_count(s);
        if (mp_kube_mirror_start(&mo, &m, &err) != 0) {
            fail_msg("mirror: %s", err.msg);
        }
        kf_wait_requests(s, before + 4); /* both lists answered, both watches tried */
        mp_kube_mirror_stop(m);
    }
    assert_int_equal(stored_experiments(db), 0);
    mp_kube_client_free(c);
    kf_stop(s);
    free(db);
    kf_rmtree(dir);
    free(dir);
}

/* A head of allowed size holding thousands of fields, cookies or query arguments overflowed
 * libmicrohttpd's per-connection memory (an HTML 431, or a connection closed without an answer):
 * the gate caps their counts and answers in JSON. */
static unsigned head_of(const char *target, size_t fields, size_t cookies, const char **code)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_addf(&b, "GET %s HTTP/1.1\r\nHost: a\r\n", target);
    for (size_t i = 1; i < fields; i++) {
        mp_buf_addf(&b, "X-F%zu: v\r\n", i);
    }
    if (cookies > 0) {
        mp_buf_adds(&b, "Cookie: c0=v");
        for (size_t i = 1; i < cookies; i++) {
            mp_buf_addf(&b, i % 2 ? "; c%zu=v" : ", c%zu=v", i);
        }
        mp_buf_adds(&b, "\r\n");
    }
    mp_buf_adds(&b, "\r\n");
    const char *msg = NULL;
    unsigned st = mp_server_head_check(b.data, b.len, code, &msg);
    mp_buf_release(&b);
    return st;
}

static void head_counts_are_capped(void **state)
{
    (void)state;
    const char *code = NULL;
    assert_int_equal(head_of("/", MP_SERVER_MAX_HEADER_FIELDS, 0, &code), 0);
    assert_int_equal(head_of("/", MP_SERVER_MAX_HEADER_FIELDS + 1, 0, &code), 431);
    assert_string_equal(code, "header_too_large");
    assert_int_equal(head_of("/", 2000, 0, &code), 431);
    /* The Cookie field is one of the fields. */
    assert_int_equal(head_of("/", 2, MP_SERVER_MAX_COOKIES, &code), 0);
    assert_int_equal(head_of("/", 2, MP_SERVER_MAX_COOKIES + 1, &code), 431);
    assert_string_equal(code, "header_too_large");
    struct mp_buf t = MP_BUF_INIT;
    mp_buf_adds(&t, "/healthz?a");
    for (size_t i = 1; i < MP_SERVER_MAX_QUERY_ARGS; i++) {
        mp_buf_adds(&t, "&a");
    }
    assert_int_equal(head_of(t.data, 1, 0, &code), 0);
    mp_buf_adds(&t, "&a");
    assert_int_equal(head_of(t.data, 1, 0, &code), 414);
    assert_string_equal(code, "uri_too_long");
    mp_buf_release(&t);
}

/* Two Trial objects with the same number (tests/data/pe/mirror-duplicate-trials.json: trials 1,
 * 1 and 2 of mobilenet-grid.yaml's experiment): the first is mirrored, the other skipped. The
 * second made the store refuse a repeated number and ended the experiment's sync there, so trial
 * 2 (and any listed after it) was never mirrored, at every later event too. */
static void kube_mirror_skips_a_repeated_trial_number(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    char *list_path = mp_xasprintf("%s/pe/mirror-duplicate-trials.json", getenv("MP_TEST_DATA"));
    char *list = kf_read(list_path);
    assert_non_null(list);
    struct kf_server *s = kf_start(KF_HTTP, dir);
    kf_set_default(s, 200, list); /* both lists: each cache skips the other's kind */
    struct mp_kube_client *c = fake_client(s);
    struct mp_error err = {0};
    char *db = mp_xasprintf("%s/mirror.db", dir);
    struct mp_kube_mirror_opts mo = {.client = c, .ns = "morphling-system", .db_path = db};
    struct mp_kube_mirror *m = NULL;
    if (mp_kube_mirror_start(&mo, &m, &err) != 0) {
        fail_msg("mirror: %s", err.msg);
    }
    kf_wait_requests(s, 4); /* both lists answered, both watches tried */
    mp_kube_mirror_stop(m);
    struct mp_store *st = NULL;
    struct mp_experiment_row row = {0};
    struct mp_trial_row *trials = NULL;
    size_t n = 0;
    assert_int_equal(mp_store_open(db, NULL, &st, &err), 0);
    if (mp_store_experiment_find(st, "mobilenet-experiment-grid", &row, &err) != 0) {
        fail_msg("not mirrored: %s", err.msg);
    }
    assert_int_equal(mp_store_trial_list(st, row.id, &trials, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(trials[0].number, 1);
    assert_string_equal(trials[0].params_json, "{\"cpu\":\"1\"}"); /* the first one listed */
    assert_int_equal(trials[1].number, 2);
    mp_trial_rows_free(trials, n);
    mp_experiment_row_release(&row);
    mp_store_close(st);
    mp_kube_client_free(c);
    kf_stop(s);
    free(db);
    free(list);
    free(list_path);
    kf_rmtree(dir);
    free(dir);
}

/* Sends request to 127.0.0.1:port and returns the answer's status code. */
static unsigned http_status(unsigned port, const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, request, strlen(request), MSG_NOSIGNAL), (ssize_t)strlen(request));
    char buf[64] = "";
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0)) > 0) {
        got += (size_t)n;
    }
    close(fd);
    unsigned status = 0;
    return sscanf(buf, "HTTP/1.1 %u", &status) == 1 ? status : 0;
}

/* An experiment created while the server shuts down was a 500 ("internal"): it is a 503, and
 * nothing is stored. */
static void create_during_shutdown_is_unavailable(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    char *db = mp_xasprintf("%s/s.db", dir);
    char *csv = mp_xasprintf("%s/x.csv", dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("a,qps\n1,10\n2,20\n", f);
    fclose(f);
    struct mp_server_opts o = {.listen = "127.0.0.1:0", .db_path = db, .base_dir = dir};
    struct mp_server *srv = NULL;
    struct mp_error err = {0};
    if (mp_server_start(&o, &srv, &err) != 0) {
        fail_msg("start: %s", err.msg);
    }
    static const char spec[] = "name: s\nobjective: {metric: qps}\nrunner: {kind: replay, "
                               "surface: x.csv}\nparameters: [{name: a, type: int, min: 1, "
                               "max: 2}]\n";
    char *req = mp_xasprintf("POST /api/v1/experiments HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             mp_server_port(srv), strlen(spec), spec);
    atomic_store(&srv->stopping, true); /* what mp_server_stop does first */
    assert_int_equal(http_status(mp_server_port(srv), req), 503);
    mp_server_stop(srv);
    assert_int_equal(stored_experiments(db), 0);
    free(req);
    free(csv);
    free(db);
    kf_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loopback_addresses),
        cmocka_unit_test(client_addresses),
        cmocka_unit_test(listen_parsing),
        cmocka_unit_test(host_header_rules),
        cmocka_unit_test(origin_rules),
        cmocka_unit_test(token_rules),
        cmocka_unit_test(token_file),
        cmocka_unit_test(request_heads),
        cmocka_unit_test(request_heads_with_control_characters),
        cmocka_unit_test(assets_are_embedded),
        cmocka_unit_test(head_counts_are_capped),
        cmocka_unit_test(kube_mirror_skips_nameless_objects),
        cmocka_unit_test(kube_mirror_skips_a_repeated_trial_number),
        cmocka_unit_test(create_during_shutdown_is_unavailable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
