/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/core: number formatting round trips, strict parsing, rng, buffers, sets,
 * suggestions and folder listings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "trial/trial.h"

static void fmt_double_round_trips(void **state)
{
    (void)state;
    const double cases[] = {0.1,           1.0 / 3.0,           2.0,   0.5,  1e-300,
                            123456789.123, 0.30000000000000004, -7.25, 1e21, 4.35};
    char buf[MP_FMT_DOUBLE_MAX];
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        mp_fmt_double(buf, cases[i]);
        assert_true(strtod(buf, NULL) == cases[i]);
    }
    assert_string_equal(mp_fmt_double(buf, 0.1), "0.1");
    assert_string_equal(mp_fmt_double(buf, 2.0), "2");
    assert_string_equal(mp_fmt_double(buf, 4.35), "4.35");
    assert_string_equal(mp_fmt_double(buf, 0.30000000000000004), "0.30000000000000004");
    assert_string_equal(mp_fmt_double(buf, NAN), "nan");
    assert_string_equal(mp_fmt_double(buf, 50.0), "50");
    assert_string_equal(mp_fmt_double(buf, 1200.0), "1200");
    assert_string_equal(mp_fmt_double(buf, 123456789.0), "123456789");
    assert_string_equal(mp_fmt_double(buf, 1e21), "1e+21");
    assert_string_equal(mp_fmt_double(buf, 1e-7), "1e-07");
}

static void parse_is_strict(void **state)
{
    (void)state;
    double d;
    int64_t i;
    assert_int_equal(mp_parse_double("1.5", &d), 0);
    assert_true(d == 1.5);
    assert_int_equal(mp_parse_double("1.5x", &d), MP_EINVALID);
    assert_int_equal(mp_parse_double(" 1", &d), MP_EINVALID);
    assert_int_equal(mp_parse_double("", &d), MP_EINVALID);
    assert_int_equal(mp_parse_double("inf", &d), MP_EINVALID);
    assert_int_equal(mp_parse_double("1e999", &d), MP_EINVALID);
    assert_int_equal(mp_parse_double("-1e999", &d), MP_EINVALID);
    /* Underflow: the nearest double (a subnormal, or 0), not an error (a surface's 1e-320 was
     * read as text, making its column categorical). */
    assert_int_equal(mp_parse_double("1e-320", &d), 0);
    assert_true(d > 0 && d < 1.1e-320);
    assert_int_equal(mp_parse_double("4.9406564584124654e-324", &d), 0);
    assert_true(d > 0);
    assert_int_equal(mp_parse_double("-1e-400", &d), 0);
    assert_true(d == 0);
    /* Decimal only (docs/spec.md): what YAML 1.2's core schema calls a float. */
    static const struct {
        const char *text;
        double value;
    } decimal[] = {{"1e-3", 1e-3}, {".5", 0.5}, {"-2", -2},      {"1E6", 1e6},
                   {"+3", 3},      {"2.", 2},   {"-.5e+2", -50}, {"007", 7}};
    for (size_t k = 0; k < MP_ARRAY_LEN(decimal); k++) {
        assert_int_equal(mp_parse_double(decimal[k].text, &d), 0);
        assert_true(d == decimal[k].value);
    }
    static const char *const not_decimal[] = {"0x10", "0x1p0", "0X2", "nan",  "infinity", "1e",
                                              "1e+",  ".",     "-",   "+.e1", "1.5 ",     "--1"};
    for (size_t k = 0; k < MP_ARRAY_LEN(not_decimal); k++) {
        if (mp_parse_double(not_decimal[k], &d) != MP_EINVALID) {
            fail_msg("mp_parse_double(\"%s\") accepted it as %g", not_decimal[k], d);
        }
    }
    assert_int_equal(mp_parse_int64("-42", &i), 0);
    assert_int_equal(i, -42);
    assert_int_equal(mp_parse_int64("4.0", &i), MP_EINVALID);
    assert_int_equal(mp_parse_int64("99999999999999999999", &i), MP_EINVALID);
    int64_t ns;
    assert_int_equal(mp_parse_duration_ns("250ms", &ns), 0);
    assert_int_equal(ns, 250000000);
    assert_int_equal(mp_parse_duration_ns("1.5m", &ns), 0);
    assert_int_equal(ns, 90000000000);
    assert_int_equal(mp_parse_duration_ns("0x10s", &ns), MP_EINVALID);
    assert_int_equal(mp_parse_duration_ns("infs", &ns), MP_EINVALID);
    assert_int_equal(mp_parse_duration_ns("2", &ns), 0);
    assert_int_equal(ns, 2000000000);
    assert_int_equal(mp_parse_duration_ns("1.5m", &ns), 0);
    assert_int_equal(ns, 90000000000LL);
    assert_int_equal(mp_parse_duration_ns("5 parsecs", &ns), MP_EINVALID);
}

static void rng_is_reproducible_and_unbiased(void **state)
{
    (void)state;
    struct mp_rng a, b;
    mp_rng_init(&a, 42);
    mp_rng_init(&b, 42);
    for (int i = 0; i < 100; i++) {
        assert_true(mp_rng_next(&a) == mp_rng_next(&b));
    }
    unsigned counts[6] = {0};
    for (int i = 0; i < 60000; i++) {
        counts[mp_rng_below(&a, 6)]++;
    }
    for (int i = 0; i < 6; i++) {
        assert_in_range(counts[i], 9500, 10500);
    }
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = mp_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        sum += u;
    }
    assert_true(fabs(sum / 10000 - 0.5) < 0.02);
}

static void buf_and_strset(void **state)
{
    (void)state;
    struct mp_buf b = MP_BUF_INIT;
    for (int i = 0; i < 1000; i++) {
        mp_buf_addf(&b, "%d,", i);
    }
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data, "0,1,2,", 6);
    char *s = mp_buf_detach(&b);
    assert_null(b.data);
    free(s);

    struct mp_strset set = MP_STRSET_INIT;
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_true(mp_strset_add(&set, key));
    }
    assert_false(mp_strset_add(&set, "k7"));
    assert_true(mp_strset_has(&set, "k499"));
    assert_false(mp_strset_has(&set, "k500"));
    assert_int_equal(set.count, 500);
    mp_strset_release(&set);
}

static void errors_carry_context(void **state)
{
    (void)state;
    struct mp_error err = {0};
    assert_int_equal(mp_error_set(&err, MP_EINVALID, "bad %s", "thing"), MP_EINVALID);
    assert_string_equal(err.msg, "bad thing");
    assert_int_equal(mp_error_prefix(&err, MP_EINVALID, "file.yaml"), MP_EINVALID);
    assert_string_equal(err.msg, "file.yaml: bad thing");
    assert_int_equal(err.code, MP_EINVALID);
    /* Without an error to extend, the failure's own code still comes back. */
    assert_int_equal(mp_error_prefix(NULL, -ENOENT, "file.yaml"), -ENOENT);
    assert_int_equal(mp_error_prefix(NULL, MP_EBUSY, "file.yaml"), MP_EBUSY);
    assert_string_equal(mp_err_name(MP_EEXHAUSTED), "EEXHAUSTED");
    assert_string_equal(mp_strerror(MP_EEXHAUSTED), "search space exhausted");
    assert_int_equal(mp_edit_distance("max_trial", "max_trials"), 1);
    assert_int_equal(mp_edit_distance("kitten", "sitting"), 3);
}

static void format_text(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mp_vformat_text(buf, size, fmt, ap);
    va_end(ap);
}

/* A message cut at MP_ERROR_MSG_MAX never ends inside a UTF-8 character (a long non-ASCII value
 * quoted in it), whichever byte the cut falls on, for set and prefix alike. */
static void cut_errors_stay_utf8(void **state)
{
    (void)state;
    char text[3 * MP_ERROR_MSG_MAX];
    for (size_t i = 0; i + 3 < sizeof(text); i += 3) {
        memcpy(text + i, "\xe2\x82\xac", 3); /* the euro sign, 3 bytes */
        text[i + 3] = '\0';
    }
    for (int shift = 0; shift < 4; shift++) {
        struct mp_error err = {0};
        mp_error_set(&err, MP_EINVALID, "%.*s%s", shift, "abc", text);
        size_t len = strlen(err.msg);
        assert_true(len >= MP_ERROR_MSG_MAX - 4);
        assert_int_equal(mp_utf8_valid_len(err.msg, len), len);
        mp_error_set(&err, MP_EINVALID, "%s", "x");
        mp_error_prefix(&err, MP_EINVALID, "%.*s%s", shift, "abc", text);
        len = strlen(err.msg);
        assert_true(len >= MP_ERROR_MSG_MAX - 4);
        assert_int_equal(mp_utf8_valid_len(err.msg, len), len);
    }
    /* A message that fits keeps every byte, even one that is no UTF-8 (a file name). */
    struct mp_error err = {0};
    mp_error_set(&err, MP_EINVALID, "%s", "a\xe2\x82");
    assert_string_equal(err.msg, "a\xe2\x82");
    /* The same rule for any text (the operator's Event messages were cut inside a character,
     * and jansson refused them: the Event was lost). */
    for (int shift = 0; shift < 4; shift++) {
        char buf[64];
        format_text(buf, sizeof(buf), "%.*s%s", shift, "abc", text);
        size_t len = strlen(buf);
        assert_true(len >= sizeof(buf) - 4);
        assert_int_equal(mp_utf8_valid_len(buf, len), len);
    }
}

/* CPU lists as runner.cpuset takes them: each CPU counted once, anything else no list. */
static void cpu_lists(void **state)
{
    (void)state;
    assert_int_equal(mp_cpu_list_count("0-3,6"), 5);
    assert_int_equal(mp_cpu_list_count("0-3,2-5"), 6);
    assert_int_equal(mp_cpu_list_count("1023"), 1);
    const char *const bad[] = {"", "1-0", "0,", "-", "1024", "0-4000000000", "a", "0 ,1", NULL};
    for (const char *const *b = bad; *b; b++) {
        assert_int_equal(mp_cpu_list_count(*b), 0);
        assert_false(mp_cpu_list_has(*b, 0));
    }
    assert_int_equal(mp_cpu_list_count(NULL), 0);
    assert_true(mp_cpu_list_has("0-3,6", 6));
    assert_false(mp_cpu_list_has("0-3,6", 5));
    assert_false(mp_cpu_list_has("0-3,6", -1));
}

static void suggestions_and_folder_listings(void **state)
{
    (void)state;
    static const char *const verbs[] = {"validate", "run", "trial", "train", "info", NULL};
    assert_string_equal(mp_suggest("valdate", verbs), "validate");
    assert_string_equal(mp_suggest("trian", verbs), "trial"); /* one edit, "train" two */
    static const char *const meta[] = {"train", "info", NULL};
    assert_string_equal(mp_suggest("trian", meta), "train");
    assert_string_equal(mp_suggest("rn", verbs), "run");
    assert_null(mp_suggest("completely-different", verbs));
    /* A word that shares no letter's place with any key: "foo" was "did you mean 'port'?" */
    static const char *const runner[] = {"kind", "port", "ports", "cpus", NULL};
    assert_null(mp_suggest("foo", runner));
    assert_null(mp_suggest("ab", verbs));
    assert_string_equal(mp_suggest("prot", runner), "port");
    static const char *const bo[] = {"xi", "kappa", NULL};
    assert_string_equal(mp_suggest("x", bo), "xi");
    /* Two letters changed in a short word are no slip: "kind" (for "type") was "did you mean
     * 'min'?"; a swap of two letters is one slip. */
    static const char *const param[] = {"name", "type", "min", "max", "step", "values", NULL};
    assert_null(mp_suggest("kind", param));
    assert_string_equal(mp_suggest("tpye", param), "type");
    assert_string_equal(mp_suggest("vaules", param), "values");
    assert_int_equal(mp_edit_distance("trian", "train"), 1);
    /* Two abbreviated: the closer one ("p99" suggested 'latency_p99_us'). */
    static const char *const metrics[] = {"latency_p99_us", "p99_ms", NULL};
    assert_string_equal(mp_suggest("p99", metrics), "p99_ms");
    /* The same words in another case style: Kubernetes users write camelCase ("loadImage" was
     * "did you mean 'load'?", an abbreviation scoring better than the two edits to the key). */
    static const char *const kube[] = {"load",     "load_image", "load_cpu", "load_spread",
                                       "replicas", "port",       NULL};
    assert_string_equal(mp_suggest("loadImage", kube), "load_image");
    assert_string_equal(mp_suggest("loadCpu", kube), "load_cpu");
    assert_string_equal(mp_suggest("LOAD-SPREAD", kube), "load_spread");
    assert_string_equal(mp_suggest("lod", kube), "load");
    static const char *const pe[] = {"maxNumTrials", "parallelism", NULL};
    assert_string_equal(mp_suggest("max_num_trials", pe), "maxNumTrials");
    assert_int_equal(mp_edit_distance("ca", "abc"), 3);
    char dir[] = "/tmp/mp-core-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *const names[] = {"b.csv", "a.csv", ".hidden.csv", "notes.txt"};
    for (size_t i = 0; i < 4; i++) {
        char *path = mp_xasprintf("%s/%s", dir, names[i]);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fclose(f);
        free(path);
    }
    char *sub = mp_xasprintf("%s/sub.csv", dir); /* a folder, not a file */
    assert_int_equal(mkdir(sub, 0700), 0);
    char **files = NULL;
    size_t n = 0;
    struct mp_error err = {0};
    assert_int_equal(mp_dir_files(dir, ".csv", 10, &files, &n, &err), 0);
    assert_int_equal(n, 2);
    char *want = mp_xasprintf("%s/a.csv", dir);
    assert_string_equal(files[0], want);
    assert_string_equal(strrchr(files[1], '/'), "/b.csv");
    for (size_t i = 0; i < n; i++) {
        free(files[i]);
    }
    free(files);
    assert_int_equal(mp_dir_files(dir, NULL, 10, &files, &n, &err), 0);
    assert_int_equal(n, 3); /* a.csv, b.csv, notes.txt */
    for (size_t i = 0; i < n; i++) {
        free(files[i]);
    }
    free(files);
    assert_int_equal(mp_dir_files(dir, NULL, 2, &files, &n, &err), MP_ETOOBIG);
    assert_null(files);
    assert_true(mp_dir_files("/nonexistent-mp", NULL, 2, &files, &n, &err) < 0);
    for (size_t i = 0; i < 4; i++) {
        char *path = mp_xasprintf("%s/%s", dir, names[i]);
        unlink(path);
        free(path);
    }
    rmdir(sub);
    rmdir(dir);
    free(sub);
    free(want);
}

/* Text that goes into JSON and the store is made valid UTF-8: a character cut in two, a stray
 * byte and a NUL each become '?', whole characters stay. */
/* Terminal columns: wide CJK, Hangul, fullwidth forms and emoji take two, combining marks none,
 * the rest (and bytes that are no UTF-8) one. */
static void utf8_columns(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int columns;
    } cases[] = {{"a", 1},
                 {"\xc3\xa9", 1},
                 {"\xcc\x81", 0},
                 {"\xe4\xb8\xad", 2},
                 {"\xea\xb0\x80", 2},
                 {"\xef\xbc\xa1", 2},
                 {"\xf0\x9f\x98\x80", 2},
                 {"\xe2\x82\xac", 1},
                 {"\xff", 1},
                 {"\xe4\xb8", 1}};
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        if (mp_utf8_columns_at(cases[i].s) != cases[i].columns) {
            fail_msg("case %zu: %d columns, expected %d", i, mp_utf8_columns_at(cases[i].s),
                     cases[i].columns);
        }
    }
}

static void utf8_scrub(void **state)
{
    (void)state;
    char s[] = "a\xc3\xa9"
               "b\xff"
               "c\0d\xe2\x82";
    mp_utf8_scrub(s, sizeof(s) - 1);
    assert_memory_equal(s,
                        "a\xc3\xa9"
                        "b?c?d??",
                        sizeof(s) - 1);
    struct mp_trial_result r;
    mp_trial_result_init(&r);
    char cut[] = "stderr ends with: \xc3";
    mp_trial_result_fail(&r, MP_FAILURE_CRASHED, "%s", cut);
    assert_string_equal(r.reason, "stderr ends with: ?");
    mp_trial_result_release(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmt_double_round_trips),
        cmocka_unit_test(parse_is_strict),
        cmocka_unit_test(rng_is_reproducible_and_unbiased),
        cmocka_unit_test(buf_and_strset),
        cmocka_unit_test(errors_carry_context),
        cmocka_unit_test(cut_errors_stay_utf8),
        cmocka_unit_test(cpu_lists),
        cmocka_unit_test(suggestions_and_folder_listings),
        cmocka_unit_test(utf8_scrub),
        cmocka_unit_test(utf8_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
