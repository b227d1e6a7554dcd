/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/cli's option parser: every kind of option, the forms of a value, defaults,
 * required options, operand counts and the errors for mistakes; and that the real verb tables
 * are well formed (every default parses, no option is listed twice); the progress bars' clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

struct t_args {
    bool flag;
    const char *str, *choice, *path;
    int64_t i64;
    unsigned u32;
    double num;
    int64_t dur_ns;
    struct mp_cli_list list, csv;
    const char *optional;
    bool optional_seen;
    int from_init;
};

static int t_optional(void *args, const char *value, struct mp_error *err)
{
    struct t_args *a = args;
    if (value && strcmp(value, "bad") == 0) {
        return mp_error_set(err, MP_EINVALID, "not that one");
    }
    a->optional_seen = true;
    a->optional = value;
    return 0;
}

static void t_init(void *args)
{
    ((struct t_args *)args)->from_init = 7;
}

static const struct mp_opt t_opts[] = {
    {"flag", 'f', MP_OPT_FLAG, MP_OPT_AT(struct t_args, flag), NULL, "a flag"},
    {"str", 's', MP_OPT_STR, MP_OPT_AT(struct t_args, str), "S", "a string", "dflt"},
    {"choice", 0, MP_OPT_CHOICE, MP_OPT_AT(struct t_args, choice), "C", "a choice",
     .choices = "csv|json", .flags = MP_OPT_REQUIRED},
    {"i64", 0, MP_OPT_INT, MP_OPT_AT(struct t_args, i64), "N", "an integer", "40", 1, 100},
    {"u32", 'u', MP_OPT_INT, MP_OPT_AT(struct t_args, u32), "N", "a narrow integer", .min = 0,
     .max = 4000000000.0},
    {"num", 0, MP_OPT_NUM, MP_OPT_AT(struct t_args, num), "X", "a number", .min = 0, .max = 1},
    {"dur", 0, MP_OPT_DURATION, MP_OPT_AT(struct t_args, dur_ns), "D", "a duration"},
    {"list", 'l', MP_OPT_LIST, MP_OPT_AT(struct t_args, list), "V", "repeatable"},
    {"path", 0, MP_OPT_STR, MP_OPT_AT(struct t_args, path), "FILE", "a file", .flags = MP_OPT_PATH},
    {"csv", 0, MP_OPT_CSV, MP_OPT_AT(struct t_args, csv), "A,B", "a list", "x,y"},
    {"optional", 0, MP_OPT_FN, 0, 0, "V", "optional value", .fn = t_optional,
     .flags = MP_OPT_OPTIONAL},
};

static int t_run(void *args, char **operands, size_t n)
{
    (void)args;
    (void)operands;
    return (int)n;
}

static const struct mp_verb t_verb = {
    .name = "t",
    .run = t_run,
    .operands = "FILE...",
    .min_operands = 1,
    .max_operands = 2,
    .summary = "a verb for tests",
    .opts = t_opts,
    .n_opts = MP_ARRAY_LEN(t_opts),
    .args_size = sizeof(struct t_args),
    .init = t_init,
};

/* Parses a NULL-terminated argument list (argv[0] is the verb). */
static int parse(struct t_args *a, char **ops, size_t *n, const char *const *words)
{
    int argc = 0;
    while (words[argc]) {
        argc++;
    }
    return mp_cli_parse(&t_verb, argc, (char **)words, a, ops, n);
}

static void every_kind_and_form(void **state)
{
    (void)state;
    struct t_args a;
    char *ops[16];
    size_t n = 0;
    const char *const w[] = {"t",     "one",   "--flag", "-sS1",       "--choice=json",
                             "--i64", "-5",    "-u",     "3000000000", "--num=0.25",
                             "--dur", "1.5s",  "-l",     "a",          "--list=b",
                             "--csv", "p,q,r", "--",     "--two",      NULL};
    int rc = parse(&a, ops, &n, w);
    assert_int_equal(rc, 2); /* --i64 -5 is out of range 1..100 */
    mp_cli_release(&t_verb, &a);
    const char *const ok[] = {"t",     "one",   "--flag", "-sS1",       "--choice=json",
                              "--i64", "5",     "-u",     "3000000000", "--num=0.25",
                              "--dur", "1.5s",  "-l",     "a",          "--list=b",
                              "--csv", "p,q,r", "--",     "--two",      NULL};
    assert_int_equal(parse(&a, ops, &n, ok), 0);
    assert_true(a.flag);
    assert_string_equal(a.str, "S1");
    assert_string_equal(a.choice, "json");
    assert_int_equal(a.i64, 5);
    assert_int_equal(a.u32, 3000000000u);
    assert_true(a.num == 0.25);
    assert_int_equal(a.dur_ns, INT64_C(1500000000));
    assert_int_equal(a.list.n, 2);
    assert_string_equal(a.list.v[0], "a");
    assert_string_equal(a.list.v[1], "b");
    assert_int_equal(a.csv.n, 3);
    assert_string_equal(a.csv.v[2], "r");
    assert_int_equal(a.from_init, 7);
    assert_int_equal(n, 2); /* options anywhere; "--" ends them */
    assert_string_equal(ops[0], "one");
    assert_string_equal(ops[1], "--two");
    mp_cli_release(&t_verb, &a);
}

static void defaults_and_optional_values(void **state)
{
    (void)state;
    struct t_args a;
    char *ops[8];
    size_t n = 0;
    const char *const w[] = {"t", "--choice", "csv", "f", "--optional", NULL};
    assert_int_equal(parse(&a, ops, &n, w), 0);
    assert_string_equal(a.str, "dflt");
    assert_int_equal(a.i64, 40);
    assert_int_equal(a.csv.n, 2);
    assert_string_equal(a.csv.v[1], "y");
    assert_false(a.flag);
    assert_true(a.optional_seen);
    assert_null(a.optional);
    assert_int_equal(n, 1);
    mp_cli_release(&t_verb, &a);
    const char *const w2[] = {"t", "--choice", "csv", "f", "--optional=v", NULL};
    assert_int_equal(parse(&a, ops, &n, w2), 0);
    assert_string_equal(a.optional, "v");
    mp_cli_release(&t_verb, &a);
}

static void mistakes_are_usage_errors(void **state)
{
    (void)state;
    const char *const *cases[] = {
        (const char *const[]){"t", "f", NULL},                                /* required */
        (const char *const[]){"t", "--choice", "xml", "f", NULL},             /* choice */
        (const char *const[]){"t", "--choice", "csv", NULL},                  /* no operand */
        (const char *const[]){"t", "--choice", "csv", "a", "b", "c", NULL},   /* too many */
        (const char *const[]){"t", "--choice", "csv", "f", "--flg", NULL},    /* unknown */
        (const char *const[]){"t", "--choice", "csv", "f", "-x", NULL},       /* unknown short */
        (const char *const[]){"t", "--choice", "csv", "f", "--flag=1", NULL}, /* flag value */
        (const char *const[]){"t", "--choice", "csv", "f", "--str", NULL},    /* missing value */
        (const char *const[]){"t", "--choice", "csv", "f", "--num", "2", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--num", "nan", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--dur", "-1s", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--dur", "soon", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--csv", ",", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--i64", "4x", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--optional=bad", NULL},
        /* A path that names nothing (--db "$UNSET"): "morphling: : cannot create the store". */
        (const char *const[]){"t", "--choice", "csv", "f", "--path", "", NULL},
        (const char *const[]){"t", "--choice", "csv", "f", "--path=", NULL},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        struct t_args a;
        char *ops[8];
        size_t n = 0;
        int rc = parse(&a, ops, &n, cases[i]);
        if (rc != MP_EXIT_USAGE) {
            fail_msg("case %zu: expected exit 2, got %d", i, rc);
        }
        mp_cli_release(&t_verb, &a);
    }
}

static void help_is_not_an_error(void **state)
{
    (void)state;
    struct t_args a;
    char *ops[8];
    size_t n = 0;
    const char *const w[] = {"t", "--help", NULL};
    assert_int_equal(parse(&a, ops, &n, w), MP_CLI_HELP);
    mp_cli_release(&t_verb, &a);
    const char *const w2[] = {"t", "f", "-h", NULL};
    assert_int_equal(parse(&a, ops, &n, w2), MP_CLI_HELP);
    mp_cli_release(&t_verb, &a);
}

/* Every real verb: defaults parse, names are unique, a value-taking option names its value,
 * every option has help, and groups resolve. */
static void verb_tables_are_well_formed(void **state)
{
    (void)state;
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const struct mp_verb *v = mp_cli_verbs[i];
        assert_ptr_equal(mp_cli_find(v->name), v);
        void *args = calloc(1, v->args_size + 1);
        if (mp_cli_defaults(v, args) != 0) {
            fail_msg("%s: a default does not parse", v->name);
        }
        mp_cli_release(v, args);
        free(args);
        for (size_t k = 0; k < v->n_opts; k++) {
            const struct mp_opt *o = &v->opts[k];
            if (!o->help || !o->help[0] || (o->kind != MP_OPT_FLAG && !o->arg)) {
                fail_msg("%s --%s: needs help text and a value name", v->name, o->name);
            }
            if (o->kind == MP_OPT_CHOICE && !o->choices) {
                fail_msg("%s --%s: a choice without choices", v->name, o->name);
            }
            for (size_t j = 0; j < k; j++) {
                if (strcmp(o->name, v->opts[j].name) == 0 ||
                    (o->short_name && o->short_name == v->opts[j].short_name)) {
                    fail_msg("%s: --%s listed twice", v->name, o->name);
                }
            }
            if (o->short_name == 'h' || strcmp(o->name, "help") == 0) {
                fail_msg("%s: -h/--help is the parser's", v->name);
            }
        }
    }
    char meta[] = "meta", train[] = "train", trian[] = "trian";
    char *words[] = {meta, train};
    size_t used = 0;
    assert_ptr_equal(mp_cli_lookup(2, words, &used), &mp_verb_meta_train);
    assert_int_equal(used, 2);
    char *typo[] = {meta, trian};
    assert_null(mp_cli_lookup(2, typo, &used));
}

/* What draw(arg) prints on stderr (not a terminal here). */
static char *stderr_of(void (*draw)(const int64_t *), const int64_t *arg)
{
    char path[] = "/tmp/test_cli_progress_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    draw(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char *text = mp_xcalloc(4096, 1);
    assert_true(pread(fd, text, 4095, 0) > 0);
    close(fd);
    unlink(path);
    return text;
}

/* A bar of one step (taken *first_step_ago ns ago), then a second bar, as `run` does when its
 * confirmation starts. */
static void two_bars(const int64_t *first_step_ago_ns)
{
    struct mp_cli_progress p;
    mp_cli_progress_start(&p, "run", 1, false);
    mp_cli_progress_step(&p, 1, "trial 1");
    p.step_ns -= *first_step_ago_ns;
    mp_cli_progress_next(&p, "confirm", 4);
    mp_cli_progress_step(&p, 1, "trial 1 run 1");
    mp_cli_progress_end(&p);
}

/* The next bar's clock runs from the last step of the one before: its first step took the time
 * between, so the time left is not "about 0s" when that step finishes. */
static void next_bar_keeps_the_clock(void **state)
{
    (void)state;
    const int64_t ago = INT64_C(20000000000);
    char *text = stderr_of(two_bars, &ago);
    assert_non_null(strstr(text, "run: 1/1 (100 %): trial 1\n"));
    /* 20 s for the first of 4 steps: 3 more take about a minute. */
    assert_non_null(strstr(text, "confirm: 1/4 (25 %), about 1m00s left: trial 1 run 1\n"));
    free(text);
}

/* A resumed run: its bars start with steps a previous process did (7 of 12 trials, 3 of 6
 * confirmation runs); the time left comes from the steps this process made, over the time they
 * took (*ago: how long ago each bar started). */
static void resumed_bars(const int64_t *ago)
{
    struct mp_cli_progress p;
    mp_cli_progress_start(&p, "run", 12, false);
    p.t0_ns -= *ago;
    mp_cli_progress_step(&p, 8, "trial 8");
    mp_cli_progress_end(&p);
    /* Every trial had finished: the confirmation's first step is this process's first. */
    mp_cli_progress_start(&p, "run", 12, false);
    p.t0_ns -= *ago;
    mp_cli_progress_next(&p, "confirm", 6);
    mp_cli_progress_step(&p, 4, "trial 1 run 2");
    mp_cli_progress_end(&p);
}

/* The time left of a resumed run counts only the steps made since it started: 20 s for one
 * trial, 4 more to go, is about 1m20s, not 10 s (20 s over the 8 done); and a confirmation
 * resumed after every trial had finished is not "about 0s" from a clock started at its step. */
static void resumed_bar_counts_its_own_steps(void **state)
{
    (void)state;
    const int64_t ago = INT64_C(20000000000);
    char *text = stderr_of(resumed_bars, &ago);
    assert_non_null(strstr(text, "run: 8/12 (66 %), about 1m20s left: trial 8\n"));
    assert_non_null(strstr(text, "confirm: 4/6 (66 %), about 40s left: trial 1 run 2\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_kind_and_form),
        cmocka_unit_test(defaults_and_optional_values),
        cmocka_unit_test(mistakes_are_usage_errors),
        cmocka_unit_test(help_is_not_an_error),
        cmocka_unit_test(verb_tables_are_well_formed),
        cmocka_unit_test(next_bar_keeps_the_clock),
        cmocka_unit_test(resumed_bar_counts_its_own_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
