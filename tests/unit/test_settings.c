/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/settings: every setting type read into its field, defaults kept for absent
 * or null keys, and positioned errors for unknown keys and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "settings/settings.h"

struct cfg {
    bool flag;
    int64_t count, bytes, wait_ns, tick_ns;
    double ratio, share;
    const char *path;
    char *owned;
    int mode;
    int64_t lo, hi;
};

static bool absolute(const char *s)
{
    return s[0] == '/';
}

static int parse_pair(const struct mp_node *n, void *base, struct mp_error *err)
{
    struct cfg *c = base;
    int rc = mp_doc_expect(n, MP_NODE_SEQ, err);
    if (rc == 0 && n->n != 2) {
        return mp_doc_error(err, n, "expected [LO, HI]");
    }
    if (rc == 0) {
        rc = mp_doc_int(n->items[0], 0, 100, &c->lo, err);
    }
    if (rc == 0) {
        rc = mp_doc_int(n->items[1], 0, 100, &c->hi, err);
    }
    return rc;
}

static const char *const modes[] = {"fast", "safe", "slow", NULL};

#define F(f) offsetof(struct cfg, f)
static const struct mp_setting table[] = {
    {MP_SETTING_KEY("flag", MP_SETTING_BOOL, F(flag))},
    {MP_SETTING_KEY("count", MP_SETTING_INT, F(count)), .min = 1, .max = 10},
    {MP_SETTING_KEY("mib", MP_SETTING_INT, F(bytes)), .min = 1, .max = 1024, .scale = 1048576},
    {MP_SETTING_KEY("wait", MP_SETTING_DURATION, F(wait_ns)), .min = 1},
    {MP_SETTING_KEY("tick", MP_SETTING_DURATION, F(tick_ns)), .min = 1e7, .expect = "why"},
    {MP_SETTING_KEY("ratio", MP_SETTING_NUMBER, F(ratio)), .min = 0, .max = 1,
     .flags = MP_SETTING_MAX_OPEN, .expect = "a fraction in [0, 1)"},
    {MP_SETTING_KEY("share", MP_SETTING_NUMBER, F(share)), .min = 0, .max = 2,
     .flags = MP_SETTING_MIN_OPEN},
    {MP_SETTING_KEY("path", MP_SETTING_STRING, F(path)), .valid = absolute,
     .expect = "an absolute path"},
    {MP_SETTING_KEY("owned", MP_SETTING_STRDUP, F(owned))},
    {MP_SETTING_KEY("mode", MP_SETTING_CHOICE, F(mode)), .choices = modes},
    {MP_SETTING_KEY("pair", MP_SETTING_CUSTOM, 0), .parse = parse_pair},
    {MP_SETTING_KEY("kind", MP_SETTING_IGNORED, 0)},
    {.name = NULL},
};
#undef F

static struct cfg defaults(void)
{
    struct cfg c = {.count = 3, .ratio = 0.5, .path = "/default", .mode = 1, .lo = -1};
    c.owned = mp_xstrdup("default");
    return c;
}

/* Parses text as block.yaml; returns the code and leaves the message in err. */
static int parse(const char *text, struct cfg *c, struct mp_error *err)
{
    struct mp_node *doc = NULL;
    if (mp_doc_parse(text, strlen(text), "block.yaml", &doc, NULL) != 0) {
        fail_msg("cannot parse the test document %s", text);
    }
    int rc = mp_settings_parse(mp_doc_get(doc, "s"), table, c, err);
    if (rc == 0 && c->path && strcmp(c->path, "/default") != 0) {
        c->path = "/read"; /* borrowed from doc, which goes now */
    }
    mp_doc_free(doc);
    return rc;
}

static void reads_every_type(void **state)
{
    (void)state;
    struct cfg c = defaults();
    struct mp_error err = {0};
    int rc =
        parse("s: {flag: true, count: 7, mib: 2, wait: 250ms, tick: 10ms, ratio: 0.25, share: 2,\n"
              "    path: /x, owned: copy, mode: slow, pair: [4, 9], kind: any}\n",
              &c, &err);
    if (rc != 0) {
        fail_msg("parse: %s", err.msg);
    }
    assert_true(c.flag);
    assert_int_equal(c.count, 7);
    assert_int_equal(c.bytes, 2 * 1048576);
    assert_int_equal(c.wait_ns, 250000000);
    assert_int_equal(c.tick_ns, 10000000);
    assert_true(c.ratio == 0.25);
    assert_true(c.share == 2);
    assert_string_equal(c.path, "/read");
    assert_string_equal(c.owned, "copy");
    assert_int_equal(c.mode, 2);
    assert_int_equal(c.lo, 4);
    assert_int_equal(c.hi, 9);
    free(c.owned);
}

static void absent_keys_keep_defaults(void **state)
{
    (void)state;
    /* A null value is no value (YAML's `key:`, `key: ~`; `--set key=`), for every type. */
    static const char *const empty[] = {
        "s: {}\n", "s: null\n", "t: 1\n",
        "s: {flag: ~, count: , mib: null, wait: Null, ratio: NULL, share: ~, path: ~, owned: ~,\n"
        "    mode: ~, pair: ~, kind: ~}\n"};
    for (size_t i = 0; i < MP_ARRAY_LEN(empty); i++) {
        struct cfg c = defaults();
        struct mp_error err = {0};
        assert_int_equal(parse(empty[i], &c, &err), 0);
        assert_false(c.flag);
        assert_int_equal(c.count, 3);
        assert_int_equal(c.bytes, 0);
        assert_int_equal(c.wait_ns, 0);
        assert_true(c.ratio == 0.5);
        assert_true(c.share == 0);
        assert_string_equal(c.path, "/default");
        assert_string_equal(c.owned, "default");
        assert_int_equal(c.mode, 1);
        assert_int_equal(c.lo, -1);
        free(c.owned);
    }
}

static void bad_values_name_the_key(void **state)
{
    (void)state;
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"s: [1]\n", "block.yaml:1:4: 's': expected a mapping"},
        {"s: {cont: 1}\n", "did you mean 'count'?"},
        {"s: {count: 11}\n", "'s.count': expected an integer in [1, 10], got \"11\""},
        {"s: {flag: maybe}\n", "'s.flag'"},
        {"s: {wait: 0s}\n", "'s.wait': expected a positive duration such as \"5s\" or \"250ms\", "
                            "got \"0s\""},
        {"s: {wait: soon}\n", "got \"soon\""},
        {"s: {tick: 9ms}\n", "'s.tick': expected a duration of at least 10 ms, got \"9ms\" (why)"},
        {"s: {tick: 0s}\n", "'s.tick': expected a positive duration"},
        {"s: {ratio: 1}\n", "block.yaml:1:12: 's.ratio': expected a fraction in [0, 1), got \"1\""},
        {"s: {share: 0}\n", "'s.share': expected a number in (0, 2], got \"0\""},
        {"s: {path: rel}\n", "'s.path': expected an absolute path"},
        {"s: {mode: quick}\n", "'s.mode': expected \"fast\", \"safe\" or \"slow\", got \"quick\""},
        {"s: {pair: [1, 2, 3]}\n", "'s.pair': expected [LO, HI]"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        struct cfg c = defaults();
        struct mp_error err = {0};
        int rc = parse(cases[i].text, &c, &err);
        if (rc != MP_EINVALID || !strstr(err.msg, cases[i].want)) {
            fail_msg("%s: rc %d, message \"%s\", expected \"%s\"", cases[i].text, rc, err.msg,
                     cases[i].want);
        }
        free(c.owned);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_every_type),
        cmocka_unit_test(absent_keys_keep_defaults),
        cmocka_unit_test(bad_values_name_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
