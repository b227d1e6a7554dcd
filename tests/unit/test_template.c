/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the spec's templates (src/spec/template.c): {param} rendering with hostile values,
 * and an end-to-end check that a spawned child receives exactly the argv and environment intended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc/proc.h"
#include "spec/spec.h"
#include "testlib.h"

static const char *const hostile[] = {
    "plain",
    "",
    "with space",
    "'single' \"double\"",
    "$(touch /tmp/morphling-pwned)",
    "`id`",
    "line1\nline2\r\n",
    "-rf",
    "--flag=--other",
    "; rm -rf / #",
    "{port}",
    "a}}b{{c",
    "tab\there",
    "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",
    "back\\slash",
    "*?[glob]",
    "~root",
    "$HOME ${PATH}",
};

static char *render_ok(const char *tmpl, const struct mp_spec_template_var *v, size_t n)
{
    char *out = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_spec_template_render(tmpl, v, n, &out, &err);
    if (rc != 0) {
        fail_msg("render \"%s\" failed: %s", tmpl, err.msg);
    }
    return out;
}

static void test_plain_and_builtins(void **state)
{
    (void)state;
    struct mp_spec_template_var v[] = {{"port", "20001"}, {"batch", "16"}, {"nonce", "abc"}};
    char *s = render_ok("--port={port}", v, 3);
    assert_string_equal(s, "--port=20001");
    free(s);
    s = render_ok("{batch}x{batch}:{nonce}", v, 3);
    assert_string_equal(s, "16x16:abc");
    free(s);
    s = render_ok("no placeholders", v, 3);
    assert_string_equal(s, "no placeholders");
    free(s);
    s = render_ok("", v, 3);
    assert_string_equal(s, "");
    free(s);
    s = render_ok("{{literal}} {port}}}", v, 3);
    assert_string_equal(s, "{literal} 20001}");
    free(s);
}

static void test_hostile_values_verbatim(void **state)
{
    (void)state;
    for (size_t i = 0; i < MP_ARRAY_LEN(hostile); i++) {
        struct mp_spec_template_var v[] = {{"x", hostile[i]}, {"port", "1"}};
        char *s = render_ok("{x}", v, 2);
        if (strcmp(s, hostile[i]) != 0) {
            fail_msg("value %zu: got \"%s\", want \"%s\"", i, s, hostile[i]);
        }
        free(s);
        /* Inside a larger element the value is spliced in as it is, and not re-expanded. */
        s = render_ok("pre{x}post", v, 2);
        char *want = mp_xasprintf("pre%spost", hostile[i]);
        if (strcmp(s, want) != 0) {
            fail_msg("value %zu in context: got \"%s\", want \"%s\"", i, s, want);
        }
        free(want);
        free(s);
    }
}

static void expect_error(const char *tmpl, int code, const char *needle)
{
    struct mp_spec_template_var v[] = {{"a", "1"}};
    char *out = (char *)1;
    struct mp_error err = {0, ""};
    int rc = mp_spec_template_render(tmpl, v, 1, &out, &err);
    if (rc != code) {
        fail_msg("\"%s\": rc %d (%s), want %d", tmpl, rc, err.msg, code);
    }
    assert_null(out);
    if (!strstr(err.msg, needle)) {
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", tmpl, err.msg, needle);
    }
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("{b}", MP_EINVALID, "unknown placeholder {b}");
    expect_error("x{a", MP_EINVALID, "unclosed");
    expect_error("x}y", MP_EINVALID, "lone '}'");
    expect_error("{}", MP_EINVALID, "bad placeholder");
    expect_error("{a{a}", MP_EINVALID, "bad placeholder");
    const char *names[] = {"a", "port"};
    struct mp_error err = {0, ""};
    assert_int_equal(mp_spec_template_check("{a}-{port}", names, 2, &err), 0);
    assert_int_equal(mp_spec_template_check("{a}-{nope}", names, 2, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "{nope}"));
    assert_true(mp_spec_template_uses("--n={nonce}", "nonce"));
    assert_false(mp_spec_template_uses("--n={{nonce}}", "nonce"));
    assert_false(mp_spec_template_uses("--n={nonces}", "nonce"));
}

static void test_too_big(void **state)
{
    (void)state;
    char *big = mp_xmalloc(MP_SPEC_TEMPLATE_MAX_BYTES / 2 + 2);
    memset(big, 'x', MP_SPEC_TEMPLATE_MAX_BYTES / 2 + 1);
    big[MP_SPEC_TEMPLATE_MAX_BYTES / 2 + 1] = '\0';
    struct mp_spec_template_var v[] = {{"a", big}};
    char *out = NULL;
    struct mp_error err = {0, ""};
    assert_int_equal(mp_spec_template_render("{a}{a}", v, 1, &out, &err), MP_ETOOBIG);
    assert_null(out);
    free(big);
}

/* The directory of this test executable, where the helper programs are built too. */
/* Renders every hostile value into argv elements and env values, runs argv_echo and checks
 * that what it printed equals what was intended, element by element. */
static void test_child_receives_exact_argv(void **state)
{
    (void)state;
    char *prog = helper("argv_echo");
    size_t n = MP_ARRAY_LEN(hostile);
    char **argv = mp_xcalloc(2 * n + 2, sizeof(char *));
    char **envp = mp_xcalloc(n + 2, sizeof(char *));
    argv[0] = mp_xstrdup(prog);
    for (size_t i = 0; i < n; i++) {
        struct mp_spec_template_var v[] = {{"v", hostile[i]}};
        argv[1 + 2 * i] = render_ok("{v}", v, 1);
        argv[2 + 2 * i] = render_ok("--opt={v}", v, 1);
        char *val = render_ok("{v}", v, 1);
        envp[i] = mp_xasprintf("MP_V%zu=%s", i, val);
        free(val);
    }
    struct mp_proc_opts o = {0};
    o.argv = (const char *const *)argv;
    o.envp = (const char *const *)envp;
    struct mp_proc *p = NULL;
    struct mp_error err = {0, ""};
    int rc = mp_proc_spawn(&o, &p, &err);
    if (rc != 0) {
        fail_msg("spawn: %s", err.msg);
    }
    int st = -1;
    assert_true(mp_proc_wait(p, mp_mono_ns() + 10000000000LL, &st));
    assert_int_equal(mp_proc_finish(p, mp_mono_ns() + 10000000000LL, NULL), 0);
    char *out = mp_proc_log(p, MP_PROC_STDOUT, NULL);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    if (!j) {
        fail_msg("argv_echo printed no JSON (%s): %s", jerr.text, out);
    }
    json_t *ja = json_object_get(j, "argv"), *je = json_object_get(j, "env");
    assert_int_equal(json_array_size(ja), 2 * n + 1);
    for (size_t i = 0; i < 2 * n + 1; i++) {
        const char *got = json_string_value(json_array_get(ja, i));
        if (!got || strcmp(got, argv[i]) != 0) {
            fail_msg("argv[%zu]: got \"%s\", want \"%s\"", i, got ? got : "(null)", argv[i]);
        }
    }
    assert_int_equal(json_array_size(je), n);
    for (size_t i = 0; i < n; i++) {
        const char *got = json_string_value(json_array_get(je, i));
        if (!got || strcmp(got, envp[i]) != 0) {
            fail_msg("env[%zu]: got \"%s\", want \"%s\"", i, got ? got : "(null)", envp[i]);
        }
    }
    json_decref(j);
    free(out);
    mp_proc_free(p);
    for (size_t i = 0; argv[i]; i++) {
        free(argv[i]);
    }
    for (size_t i = 0; envp[i]; i++) {
        free(envp[i]);
    }
    free(argv);
    free(envp);
    free(prog);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_and_builtins),
        cmocka_unit_test(test_hostile_values_verbatim),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_child_receives_exact_argv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
