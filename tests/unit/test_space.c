/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/space: levels, enumeration, encoding round trips, sampling, text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/space.h"
#include "testlib.h"

static void build_mixed(struct mp_space *s)
{
    static const double batch[] = {4, 8, 16, 32, 64, 128};
    static const char *const gpu[] = {"M60", "K80", "T4", "V100"};
    add_range(s, "cpu", MP_PARAM_FLOAT, 0.5, 2.0, 0.5);
    add_range(s, "threads", MP_PARAM_INT, 1, 8, 1);
    add_list(s, "batch", batch, 6, true);
    add_choices(s, "gpu", gpu, 4);
}

static void counts_and_enumeration(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_mixed(&s);
    uint64_t count = 0;
    assert_true(mp_space_count(&s, &count));
    assert_int_equal(count, 4 * 8 * 6 * 4);
    assert_true(mp_space_is_finite(&s));
    double x[4];
    struct mp_strset keys = MP_STRSET_INIT;
    for (uint64_t i = 0; i < count; i++) {
        mp_space_from_index(&s, i, x);
        uint64_t back = 0;
        assert_true(mp_space_to_index(&s, x, &back));
        assert_int_equal(back, i);
        char *k = mp_space_key(&s, x);
        assert_true(mp_strset_add(&keys, k));
        free(k);
    }
    assert_int_equal(keys.count, count);
    mp_strset_release(&keys);
    mp_space_from_index(&s, 0, x);
    char *k = mp_space_key(&s, x);
    assert_string_equal(k, "cpu=0.5,threads=1,batch=4,gpu=M60");
    free(k);
    mp_space_from_index(&s, count - 1, x);
    k = mp_space_key(&s, x);
    assert_string_equal(k, "cpu=2,threads=8,batch=128,gpu=V100");
    free(k);
    mp_space_release(&s);
}

static void encode_decode_round_trip(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_mixed(&s);
    uint64_t count;
    assert_true(mp_space_count(&s, &count));
    double x[4], u[4], y[4];
    for (uint64_t i = 0; i < count; i += 7) {
        mp_space_from_index(&s, i, x);
        mp_space_encode(&s, x, u);
        for (int d = 0; d < 4; d++) {
            assert_true(u[d] >= 0 && u[d] <= 1);
        }
        mp_space_decode(&s, u, y);
        assert_memory_equal(x, y, sizeof(x));
    }
    /* Log scale: 16 sits midway between 4 and 64 in encoded space. */
    double b[4] = {0.5, 1, 16, 0};
    mp_space_encode(&s, b, u);
    assert_true(fabs(u[2] - log(16.0 / 4) / log(128.0 / 4)) < 1e-12);
    mp_space_release(&s);
}

/* Bounds near -+1e308: the width overflowed, every encoded value was NaN and decoding gave
 * infinity (bo then stopped on a kernel matrix "not positive definite"). */
static void extreme_bounds_encode(void **state)
{
    (void)state;
    static const double v[] = {-1e308, 0, 5, 1e308};
    struct mp_space s = {0};
    add_list(&s, "a", v, 4, false);
    add_range(&s, "b", MP_PARAM_FLOAT, -1.7e308, 1.7e308, 0);
    for (size_t i = 0; i < 4; i++) {
        double x[2] = {v[i], v[i]}, u[2], y[2];
        mp_space_encode(&s, x, u);
        assert_true(u[0] >= 0 && u[0] <= 1 && u[1] >= 0 && u[1] <= 1);
        mp_space_decode(&s, u, y);
        /* 0 and 5 are one value apart in 2e308 (no encoding in [0, 1] tells them apart). */
        assert_true(y[0] == v[i] || (v[i] == 5 && y[0] == 0));
        assert_true(fabs(y[1] - v[i]) <= 1e-12 * 1.7e308);
    }
    double x[2] = {0, 0}, u[2];
    mp_space_encode(&s, x, u);
    assert_true(fabs(u[0] - 0.5) < 1e-12 && fabs(u[1] - 0.5) < 1e-12);
    mp_space_release(&s);
}

static void float_steps_print_canonically(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "share", MP_PARAM_FLOAT, 0.1, 1.0, 0.1);
    assert_int_equal(mp_space_levels(&s, 0), 10);
    char buf[MP_FMT_DOUBLE_MAX];
    assert_string_equal(mp_space_format(&s, 0, mp_space_level_value(&s, 0, 2), buf), "0.3");
    assert_string_equal(mp_space_format(&s, 0, mp_space_level_value(&s, 0, 9), buf), "1");
    double v;
    assert_int_equal(mp_space_parse(&s, 0, "0.7", &v, NULL), 0);
    assert_true(v == mp_space_level_value(&s, 0, 6));
    struct mp_error err = {0};
    assert_int_equal(mp_space_parse(&s, 0, "0.75", &v, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "share"));
    assert_int_equal(mp_space_parse(&s, 0, "abc", &v, &err), MP_EINVALID);
    /* Precise values keep all their digits. */
    assert_string_equal(mp_fmt_double(buf, 0.123456789012345), "0.123456789012345");
    mp_space_release(&s);
}

/* A value that is not one of the parameter's says which are (the spec's own errors list them;
 * this said "3000 is not one of its values" alone). */
static void refusals_list_the_values(void **state)
{
    (void)state;
    static const double mem[] = {256, 512, 1024};
    static const char *const gpu[] = {"T4", "A100"};
    double many[20];
    for (size_t i = 0; i < 20; i++) {
        many[i] = (double)(i + 1);
    }
    struct mp_space s = {0};
    add_list(&s, "memory", mem, 3, false);
    add_range(&s, "workers", MP_PARAM_INT, 1, 9, 2);
    add_range(&s, "cpu", MP_PARAM_FLOAT, 0.5, 2, 0.5);
    add_choices(&s, "gpu", gpu, 2);
    add_list(&s, "n", many, 20, false);
    static const struct {
        size_t param;
        const char *text, *want;
    } cases[] = {
        {0, "3000", "parameter 'memory': 3000 is not one of its values (256, 512 or 1024)"},
        {1, "4", "parameter 'workers': 4 is not one of its values (1 to 9 in steps of 2)"},
        {2, "0.7", "parameter 'cpu': 0.7 is not one of its values (0.5 to 2 in steps of 0.5)"},
        {3, "V100", "parameter 'gpu': \"V100\" is not one of its choices (\"T4\" or \"A100\")"},
        {4, "21",
         "parameter 'n': 21 is not one of its values (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, "
         "12, 13, 14, 15, 16, ... (20 in all))"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        struct mp_error err = {0};
        double v;
        assert_int_equal(mp_space_parse(&s, cases[i].param, cases[i].text, &v, &err), MP_EINVALID);
        assert_string_equal(err.msg, cases[i].want);
    }
    mp_space_release(&s);
}

/* Choices holding the key's separators: every configuration keeps its own key (unquoted,
 * a="x",b="y,b=z" and a="x,b=y",b="z" were both a=x,b=y,b=z: a replay surface holding both
 * was refused as repeating a configuration, and the optimizers, which skip what the history's
 * keys hold, took the second for tried). Plain choices are written as they were. */
static void odd_choices_keep_keys_apart(void **state)
{
    (void)state;
    static const char *const a[] = {"x", "x,b=y", "q\"\\"};
    static const char *const b[] = {"y,b=z", "z"};
    struct mp_space s = {0};
    add_choices(&s, "a", a, 3);
    add_choices(&s, "b", b, 2);
    struct mp_strset keys = MP_STRSET_INIT;
    double x[2];
    for (uint64_t i = 0; i < 6; i++) {
        mp_space_from_index(&s, i, x);
        char *k = mp_space_key(&s, x);
        if (!mp_strset_add(&keys, k)) {
            fail_msg("configuration %llu has the key of another: %s", (unsigned long long)i, k);
        }
        free(k);
    }
    const struct {
        double a, b;
        const char *key;
    } want[] = {{0, 1, "a=x,b=z"},
                {0, 0, "a=x,b=\"y,b=z\""},
                {1, 1, "a=\"x,b=y\",b=z"},
                {2, 1, "a=\"q\\\"\\\\\",b=z"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        x[0] = want[i].a;
        x[1] = want[i].b;
        char *k = mp_space_key(&s, x);
        assert_string_equal(k, want[i].key);
        free(k);
    }
    mp_strset_release(&keys);
    mp_space_release(&s);
}

static void huge_space_samples(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "a", MP_PARAM_INT, 1, 1000, 1);
    add_range(&s, "b", MP_PARAM_INT, 1, 1000, 1);
    add_range(&s, "c", MP_PARAM_INT, 1, 1000, 1);
    add_range(&s, "lr", MP_PARAM_FLOAT, 1e-5, 1e-1, 0);
    s.params[3].log_scale = true;
    assert_false(mp_space_is_finite(&s));
    assert_true(isinf(mp_space_size(&s)));
    struct mp_space f = {0};
    mp_space_copy(&f, &s);
    mp_param_release(&f.params[3]);
    f.n = 3;
    uint64_t count;
    assert_true(mp_space_count(&f, &count));
    assert_int_equal(count, 1000000000ULL);
    struct mp_rng rng;
    mp_rng_init(&rng, 7);
    double x[4];
    int below_1e3 = 0;
    for (int i = 0; i < 2000; i++) {
        mp_space_sample(&s, &rng, x);
        assert_int_equal(mp_space_check(&s, x, NULL), 0);
        below_1e3 += x[3] < 1e-3;
    }
    /* Log-uniform: half the mass lies below the geometric midpoint 1e-3. */
    assert_in_range(below_1e3, 850, 1150);
    double y[3];
    mp_space_from_index(&f, 999999999ULL, y);
    assert_true(y[0] == 1000 && y[1] == 1000 && y[2] == 1000);
    mp_space_release(&f);
    mp_space_release(&s);
}

/* The nearest listed value as the plain scan finds it: the first of equally near ones. */
static size_t scan_nearest(const double *v, size_t n, double x)
{
    size_t best = 0;
    double bestd = INFINITY;
    for (size_t j = 0; j < n; j++) {
        if (fabs(v[j] - x) < bestd) {
            bestd = fabs(v[j] - x);
            best = j;
        }
    }
    return best;
}

/* Lookups in a listed parameter bisect the sorted values; they must find what a scan finds,
 * ties (to the lower value), ends and NaN included, and stay fast on long lists (a surface with
 * two 1,000-value columns and 10^6 rows took 10^9 comparisons to read). */
static void discrete_lookup_matches_scan(void **state)
{
    (void)state;
    static const double v[] = {-3, -1, 0, 0.5, 2, 10, 1e300};
    static const double probes[] = {-1e308, -3, -2, -1.5, -1, -0.25, 0,     0.25, 0.5,
                                    1.25,   2,  6,  10,   11, 1e10,  1e300, 1e308};
    struct mp_space s = {0};
    add_list(&s, "v", v, MP_ARRAY_LEN(v), false);
    for (size_t i = 0; i < MP_ARRAY_LEN(probes); i++) {
        uint64_t k = 99;
        bool on = mp_space_value_level(&s, 0, probes[i], &k);
        size_t want = scan_nearest(v, MP_ARRAY_LEN(v), probes[i]);
        if (k != want) {
            fail_msg("probe %g: level %llu, the scan finds %zu", probes[i], (unsigned long long)k,
                     want);
        }
        assert_int_equal(on, v[want] == probes[i]);
    }
    uint64_t k = 99;
    assert_false(mp_space_value_level(&s, 0, NAN, &k));
    assert_int_equal(k, 0);
    mp_space_release(&s);

    enum { N = 200000 };
    double *big = mp_xreallocarray(NULL, N, sizeof(double));
    for (size_t i = 0; i < N; i++) {
        big[i] = (double)i * 0.5 - 1000;
    }
    add_list(&s, "big", big, N, false);
    for (size_t i = 0; i < N; i++) {
        double x[1] = {big[i]};
        bool on = mp_space_value_level(&s, 0, big[i] + 0.2, &k);
        if (on || k != i || mp_space_check(&s, x, NULL) != 0) {
            fail_msg("value %g: level %llu, want %zu", big[i], (unsigned long long)k, i);
        }
    }
    free(big);
    mp_space_release(&s);
}

/* A categorical value off the list formats as "?": NaN passed the range check (every comparison
 * with NaN is false) and indexed the choices at an undefined conversion. */
static void categorical_format_off_the_list(void **state)
{
    (void)state;
    static const char *const gpu[] = {"M60", "K80"};
    struct mp_space s = {0};
    add_choices(&s, "gpu", gpu, 2);
    char buf[MP_FMT_DOUBLE_MAX];
    static const double off[] = {NAN, -1, 2, 1e300, -INFINITY, INFINITY};
    for (size_t i = 0; i < MP_ARRAY_LEN(off); i++) {
        assert_string_equal(mp_space_format(&s, 0, off[i], buf), "?");
    }
    assert_string_equal(mp_space_format(&s, 0, 1, buf), "K80");
    mp_space_release(&s);
}

/* Parsing a choice bisects the choices by name: it must find what a scan finds (the first of
 * equal names), refuse unknown ones, survive a copy, and stay fast on long lists (900,000 rows
 * with a 9,000-choice column took minutes to read). */
static void categorical_lookup_by_name(void **state)
{
    (void)state;
    static const char *const c[] = {"b", "a", "", "b", "a,b", "B", "\xc3\xa9"};
    struct mp_space s = {0}, copy = {0};
    add_choices(&s, "c", c, MP_ARRAY_LEN(c));
    mp_space_copy(&copy, &s);
    static const long want[] = {0, 1, 2, 0, 4, 5, 6};
    for (size_t i = 0; i < MP_ARRAY_LEN(c); i++) {
        double v = -1, w = -1;
        assert_int_equal(mp_space_parse(&s, 0, c[i], &v, NULL), 0);
        assert_int_equal(mp_space_parse(&copy, 0, c[i], &w, NULL), 0);
        if (v != (double)want[i] || w != v) {
            fail_msg("choice \"%s\": %g and %g in the copy, want %ld", c[i], v, w, want[i]);
        }
    }
    static const char *const unknown[] = {"A", "c", "bb", " b", "a,"};
    for (size_t i = 0; i < MP_ARRAY_LEN(unknown); i++) {
        double v;
        assert_int_equal(mp_space_parse(&s, 0, unknown[i], &v, NULL), MP_EINVALID);
    }
    mp_space_release(&copy);
    mp_space_release(&s);

    enum { N = 50000 };
    char **many = mp_xcalloc(N, sizeof(char *));
    for (size_t i = 0; i < N; i++) {
        many[i] = mp_xasprintf("model-%zu", (i * 7919) % N);
    }
    add_choices(&s, "many", (const char *const *)many, N);
    for (size_t i = 0; i < N; i++) {
        double v = -1;
        assert_int_equal(mp_space_parse(&s, 0, many[i], &v, NULL), 0);
        if (v != (double)i) {
            fail_msg("choice \"%s\": %g, want %zu", many[i], v, i);
        }
        free(many[i]);
    }
    free(many);
    mp_space_release(&s);
}

/* Float levels are rounded to 12 significant digits for their text, but never onto another
 * level: at 1e9 with step 0.001, levels 0..499 all read 1e9 (a surface of them had
 * "x=1000000000 appears twice"). */
static void float_levels_stay_apart(void **state)
{
    (void)state;
    struct mp_space s = {0};
    add_range(&s, "x", MP_PARAM_FLOAT, 1e9, 1e9 + 1, 0.001);
    add_range(&s, "y", MP_PARAM_FLOAT, 0.1, 0.9, 0.1);
    uint64_t count = 0;
    assert_true(mp_space_count(&s, &count));
    assert_int_equal(count, 1001 * 9);
    struct mp_strset keys = MP_STRSET_INIT;
    double x[2];
    for (uint64_t i = 0; i < count; i++) {
        mp_space_from_index(&s, i, x);
        uint64_t back = 0;
        char *k = mp_space_key(&s, x);
        if (!mp_space_to_index(&s, x, &back) || back != i || !mp_strset_add(&keys, k)) {
            fail_msg("configuration %llu (%s) reads back as %llu", (unsigned long long)i, k,
                     (unsigned long long)back);
        }
        free(k);
    }
    mp_strset_release(&keys);
    mp_space_from_index(&s, 1 * 9 + 2, x);
    char *k = mp_space_key(&s, x);
    assert_string_equal(k, "x=1000000000.001,y=0.3");
    free(k);
    mp_space_release(&s);
    /* The tolerance of a level is below its gap: 1e9 + 0.01 is the last level (the rounding of
     * max made it none), and 1e9 + 0.2 is not on the list {1e9, 1e9 + 0.5} (1e-9 relative
     * took it for 1e9). */
    add_range(&s, "x", MP_PARAM_FLOAT, 1e9, 1e9 + 0.01, 0.001);
    static const double two[] = {1e9, 1e9 + 0.5};
    add_list(&s, "v", two, 2, false);
    assert_int_equal(mp_space_levels(&s, 0), 11);
    double ok[2] = {1e9 + 0.01, 1e9 + 0.5}, off[2] = {1e9 + 0.0004, 1e9},
           off2[2] = {1e9, 1e9 + 0.2};
    assert_int_equal(mp_space_check(&s, ok, NULL), 0);
    assert_int_equal(mp_space_check(&s, off, NULL), MP_EINVALID);
    assert_int_equal(mp_space_check(&s, off2, NULL), MP_EINVALID);
    mp_space_release(&s);
}

/* A configuration in JSON: a value of the wrong type is named as such (it was "missing"), and
 * a syntax error says where. */
static void config_json_errors(void **state)
{
    (void)state;
    struct mp_space s = {0};
    build_mixed(&s);
    double x[4];
    struct mp_error err = {0};
    char *j = NULL;
    mp_space_from_index(&s, 5, x);
    j = mp_space_config_json(&s, x);
    double back[4];
    assert_int_equal(mp_space_config_from_json(&s, j, back, &err), 0);
    assert_memory_equal(x, back, sizeof(x));
    free(j);
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"cpu\": 1, \"threads\": [2], \"batch\": 4, \"gpu\": \"T4\"}",
         "parameter 'threads': expected a number or a string, not an array"},
        {"{\"cpu\": 1, \"threads\": 2, \"batch\": 4, \"gpu\": true}",
         "parameter 'gpu': expected a number or a string, not a boolean"},
        {"{\"cpu\": 1, \"threads\": 2, \"batch\": 4}", "parameter 'gpu' is missing"},
        {"{\"cpu\": 1,, }", "configuration: 1:"},
        {"[1, 2]", "expected a JSON object"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        assert_int_not_equal(mp_space_config_from_json(&s, bad[i].json, back, &err), 0);
        if (!strstr(err.msg, bad[i].msg)) {
            fail_msg("%s: \"%s\", want \"%s\"", bad[i].json, err.msg, bad[i].msg);
        }
    }
    mp_space_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_and_enumeration),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(extreme_bounds_encode),
        cmocka_unit_test(float_steps_print_canonically),
        cmocka_unit_test(refusals_list_the_values),
        cmocka_unit_test(odd_choices_keep_keys_apart),
        cmocka_unit_test(huge_space_samples),
        cmocka_unit_test(discrete_lookup_matches_scan),
        cmocka_unit_test(categorical_format_off_the_list),
        cmocka_unit_test(categorical_lookup_by_name),
        cmocka_unit_test(float_levels_stay_apart),
        cmocka_unit_test(config_json_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
