/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/loadgen's set-up: the open-file descriptors that load generators living at
 * once in one process (the load tests of parallel trials) need together. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parallel_generators_share_the_fd_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
