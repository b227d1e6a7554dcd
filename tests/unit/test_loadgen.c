/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/loadgen's set-up: the open-file descriptors that load generators living at
 * once in one process (the load tests of parallel trials) need together, and the requests'
 * Host header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loadgen/lg_int.h"
#include "loadgen/loadgen.h"

static struct mp_lg *make(unsigned connections, struct mp_error *err)
{
    struct mp_lg_opts o = {.url = "http://127.0.0.1:1/", .threads = 1, .connections = connections};
    struct mp_lg *lg = NULL;
    return mp_lg_new(&o, &lg, err) == 0 ? lg : NULL;
}

/* In a child with a hard limit of 200 open files: one generator of 100 connections fits, a second
 * beside it does not (each checked its own need alone: both were made, and together they ran
 * out of descriptors, counted as the service's connect errors); once the first is freed, it
 * does. Exit status: 0, or the step that went wrong. */
static int fds_child(void)
{
    struct rlimit rl = {200, 200};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return 10;
    }
    struct mp_error err = {0};
    struct mp_lg *a = make(100, &err);
    if (!a) {
        return 11;
    }
    struct mp_lg *b = make(100, &err);
    if (b || !strstr(err.msg, "with the load tests running beside it")) {
        return 12;
    }
    mp_lg_free(a);
    mp_error_clear(&err);
    b = make(100, &err);
    if (!b) {
        return 13;
    }
    mp_lg_free(b);
    return 0;
}

static void parallel_generators_share_the_fd_limit(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        _exit(fds_child());
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The first request's head as the generator of url sends it (its set-up resolves the host only). */
static char *head_for(const char *url)
{
    struct mp_lg_opts o = {.url = url, .threads = 1, .connections = 1};
    struct mp_lg *lg = NULL;
    struct mp_error err = {0};
    if (mp_lg_new(&o, &lg, &err) != 0) {
        fail_msg("%s: %s", url, err.msg);
    }
    char *head = strndup(lg->requests[0].data, lg->requests[0].len);
    mp_lg_free(lg);
    return head;
}

/* Host names the server as the URL does: an IPv6 address in brackets without its zone (RFC 6874
 * §4: the zone names this machine's interface, nothing the server knows), the port unless 80. */
static void host_header(void **state)
{
    (void)state;
    static const struct {
        const char *url, *want;
    } cases[] = {
        {"http://127.0.0.1:8080/a", "GET /a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"},
        {"http://127.0.0.1/", "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"},
        {"http://[::1]:9/x", "GET /x HTTP/1.1\r\nHost: [::1]:9\r\n\r\n"},
        {"http://[fe80::1%25lo]:9/x", "GET /x HTTP/1.1\r\nHost: [fe80::1]:9\r\n\r\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *head = head_for(cases[i].url);
        assert_string_equal(head, cases[i].want);
        free(head);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parallel_generators_share_the_fd_limit),
        cmocka_unit_test(host_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
