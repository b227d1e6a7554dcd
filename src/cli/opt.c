/* SPDX-License-Identifier: Apache-2.0 */
/* The table-driven option parser every verb uses, and the dispatcher from argv to a verb. */
#include "cli/cli.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *field(void *args, const struct mp_opt *o)
{
    return (char *)args + o->offset;
}

/* Stores v into an integer field of o->size bytes (the range check has made it fit). */
static void store_int(void *p, size_t size, int64_t v)
{
    switch (size) {
    case 1:
        *(int8_t *)p = (int8_t)v;
        break;
    case 2:
        *(int16_t *)p = (int16_t)v;
        break;
    case 4:
        *(int32_t *)p = (int32_t)v;
        break;
    default:
        *(int64_t *)p = v;
        break;
    }
}

static void list_add(struct mp_cli_list *l, const char *v)
{
    l->v = mp_xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = v;
}

static void list_release(struct mp_cli_list *l)
{
    free(l->v);
    free(l->buf);
    memset(l, 0, sizeof(*l));
}

static int split_csv(struct mp_cli_list *l, const char *text, struct mp_error *err)
{
    list_release(l);
    l->buf = mp_xstrdup(text);
    char *save = NULL;
    for (char *t = strtok_r(l->buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        list_add(l, t);
    }
    return l->n ? 0 : mp_error_set(err, MP_EINVALID, "expected a comma-separated list");
}

static bool is_choice(const char *choices, const char *v)
{
    size_t len = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && strncmp(p, v, n) == 0) {
            return true;
        }
        p += n + (bar ? 1 : 0);
    }
    return false;
}

/* An integer option's limits as integers: the table's doubles, rounded inwards and clamped to
 * int64 ((double)INT64_MAX is 2^63, one past the largest int64), or any int64 when both are 0. */
static void int_limits(const struct mp_opt *o, int64_t *lo, int64_t *hi)
{
    *lo = INT64_MIN;
    *hi = INT64_MAX;
    if (o->min == 0 && o->max == 0) {
        return;
    }
    if (o->min > (double)INT64_MIN && o->min < (double)INT64_MAX) {
        *lo = (int64_t)ceil(o->min);
    }
    if (o->max > (double)INT64_MIN && o->max < (double)INT64_MAX) {
        *hi = (int64_t)floor(o->max);
    }
}

static int parse_int(const struct mp_opt *o, const char *v, void *p, struct mp_error *err)
{
    int64_t i, lo, hi;
    int_limits(o, &lo, &hi);
    if (mp_parse_int64(v, &i) != 0 || i < lo || i > hi) {
        if (lo == INT64_MIN && hi == INT64_MAX) {
            return mp_error_set(err, MP_EINVALID, "expected an integer, got \"%s\"", v);
        }
        return mp_error_set(err, MP_EINVALID, "expected an integer in %lld..%lld, got \"%s\"",
                            (long long)lo, (long long)hi, v);
    }
    store_int(p, o->size, i);
    return 0;
}

static int parse_num(const struct mp_opt *o, const char *v, double *p, struct mp_error *err)
{
    double d;
    bool bounded = o->min != 0 || o->max != 0;
    if (mp_parse_double(v, &d) != 0 || (bounded && (d < o->min || d > o->max))) {
        if (!bounded) {
            return mp_error_set(err, MP_EINVALID, "expected a number, got \"%s\"", v);
        }
        /* The limits exactly as the comparison uses them (%g would round 123456789). */
        char lo[MP_FMT_DOUBLE_MAX], hi[MP_FMT_DOUBLE_MAX];
        return mp_error_set(err, MP_EINVALID, "expected a number in %s..%s, got \"%s\"",
                            mp_fmt_double(lo, o->min), mp_fmt_double(hi, o->max), v);
    }
    *p = d;
    return 0;
}

/* Applies one value (NULL for a flag or an omitted optional value). */
static int apply(const struct mp_opt *o, const char *v, void *args, struct mp_error *err)
{
    void *p = field(args, o);
    if ((o->flags & MP_OPT_PATH) && v && !*v) {
        /* --db '' (an unset shell variable) named no file: "morphling: : cannot create the
         * store", or a store missing at "". */
        return mp_error_set(err, MP_EINVALID, "expected a path, got an empty value");
    }
    switch (o->kind) {
    case MP_OPT_FLAG:
        *(bool *)p = true;
        return 0;
    case MP_OPT_STR:
        *(const char **)p = v;
        return 0;
    case MP_OPT_CHOICE:
        if (!is_choice(o->choices, v)) {
            return mp_error_set(err, MP_EINVALID, "expected one of %s, got \"%s\"", o->choices, v);
        }
        *(const char **)p = v;
        return 0;
    case MP_OPT_INT:
        return parse_int(o, v, p, err);
    case MP_OPT_NUM:
        return parse_num(o, v, p, err);
    case MP_OPT_DURATION:
        if (mp_parse_duration_ns(v, p) != 0 || *(int64_t *)p < 0) {
            return mp_error_set(err, MP_EINVALID,
                                "expected a duration such as 500ms or 10s, got \"%s\"", v);
        }
        return 0;
    case MP_OPT_LIST:
        list_add(p, v);
        return 0;
    case MP_OPT_CSV:
        return split_csv(p, v, err);
    case MP_OPT_FN:
        return o->fn(args, v, err);
    }
    return 0;
}

static const struct mp_opt *find_long(const struct mp_verb *verb, const char *name, size_t len)
{
    for (size_t i = 0; i < verb->n_opts; i++) {
        if (strlen(verb->opts[i].name) == len && strncmp(verb->opts[i].name, name, len) == 0) {
            return &verb->opts[i];
        }
    }
    return NULL;
}

static const struct mp_opt *find_short(const struct mp_verb *verb, char c)
{
    for (size_t i = 0; i < verb->n_opts; i++) {
        if (verb->opts[i].short_name == c) {
            return &verb->opts[i];
        }
    }
    return NULL;
}

/* Whether verb is not the one given and takes the long option name. */
static bool other_takes(const struct mp_verb *other, const struct mp_verb *verb, const char *name)
{
    return other != verb && find_long(other, name, strlen(name)) != NULL;
}

/* The verbs other than verb that take the long option name, as "run, show and serve" in *out;
 * false when none does. */
static bool verbs_with_option(const struct mp_verb *verb, const char *name, struct mp_buf *out)
{
    size_t n = 0, total = 0;
    for (size_t v = 0; v < mp_cli_n_verbs; v++) {
        total += other_takes(mp_cli_verbs[v], verb, name);
    }
    for (size_t v = 0; v < mp_cli_n_verbs; v++) {
        if (other_takes(mp_cli_verbs[v], verb, name)) {
            n++;
            mp_buf_addf(out, "%s%s",
                        n == 1       ? ""
                        : n == total ? " and "
                                     : ", ",
                        mp_cli_verbs[v]->name);
        }
    }
    return total > 0;
}

static int unknown_option(const struct mp_verb *verb, const char *arg, size_t len)
{
    char *typed = mp_xstrndup(arg, len);
    struct mp_buf others = MP_BUF_INIT;
    if (typed[0] == '-' && typed[1] == '-' && verbs_with_option(verb, typed + 2, &others)) {
        int rc = mp_cli_usage(verb->name, "unknown option '%s': it is an option of %s", typed,
                              others.data);
        mp_buf_release(&others);
        free(typed);
        return rc;
    }
    const char **names = mp_xcalloc(verb->n_opts + 2, sizeof(*names));
    for (size_t i = 0; i < verb->n_opts; i++) {
        names[i] = verb->opts[i].name;
    }
    names[verb->n_opts] = "help";
    const char *best = typed[0] == '-' && typed[1] == '-' ? mp_suggest(typed + 2, names) : NULL;
    int rc =
        best ? mp_cli_usage(verb->name, "unknown option '%s'; did you mean '--%s'?", typed, best)
             : mp_cli_usage(verb->name, "unknown option '%s'", typed);
    free(names);
    free(typed);
    return rc;
}

static int option_error(const struct mp_verb *verb, const struct mp_opt *o, struct mp_error *err)
{
    return mp_cli_usage(verb->name, "--%s: %s", o->name, err->msg);
}

/* A duration option's bare number (seconds) at or above its `max`, which looks meant as
 * milliseconds, is warned of as a spec's is (docs/spec.md): --warmup 200 waited 200 s. */
static void warn_bare_duration(const struct mp_verb *verb, const struct mp_opt *o, const char *v)
{
    char *note = o->kind == MP_OPT_DURATION && o->max > 0 ? mp_bare_seconds_note(v, o->max) : NULL;
    if (note) {
        fprintf(stderr, "morphling %s: warning: --%s %s: %s\n", verb->name, o->name, v, note);
    }
    free(note);
}

/* One argument that starts with '-'; *i advances past a value taken from the next argument. */
static int parse_option(const struct mp_verb *verb, int argc, char **argv, int *i, void *args,
                        bool *given, const struct mp_opt **took_next)
{
    const char *a = argv[*i];
    const struct mp_opt *o;
    const char *value = NULL;
    bool inline_value = false;
    if (a[1] == '-') {
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len == 4 && strncmp(a + 2, "help", 4) == 0 && !eq) {
            return MP_CLI_HELP;
        }
        if (!(o = find_long(verb, a + 2, len))) {
            return unknown_option(verb, a, len + 2);
        }
        value = eq ? eq + 1 : NULL;
        inline_value = eq != NULL;
    } else {
        if (a[1] == 'h' && !a[2]) {
            return MP_CLI_HELP;
        }
        if (!(o = find_short(verb, a[1]))) {
            return unknown_option(verb, a, 2);
        }
        value = a[2] ? a + 2 : NULL;
        inline_value = value != NULL;
    }
    if (o->kind == MP_OPT_FLAG && inline_value) {
        return mp_cli_usage(verb->name, "--%s takes no value", o->name);
    }
    if (o->kind != MP_OPT_FLAG && !inline_value && !(o->flags & MP_OPT_OPTIONAL)) {
        if (*i + 1 >= argc) {
            return mp_cli_usage(verb->name, "--%s needs a value (%s)", o->name, o->arg);
        }
        value = argv[++*i];
        *took_next = o;
    }
    struct mp_error err = {0};
    if (apply(o, value, args, &err) != 0) {
        return option_error(verb, o, &err);
    }
    warn_bare_duration(verb, o, value);
    given[o - verb->opts] = true;
    return 0;
}

int mp_cli_defaults(const struct mp_verb *verb, void *args)
{
    memset(args, 0, verb->args_size);
    if (verb->init) {
        verb->init(args);
    }
    for (size_t i = 0; i < verb->n_opts; i++) {
        const struct mp_opt *o = &verb->opts[i];
        struct mp_error err = {0};
        if (o->def && apply(o, o->def, args, &err) != 0) {
            /* A table bug, not a user error: say which row. */
            return mp_cli_usage(verb->name, "built-in default of --%s: %s", o->name, err.msg);
        }
    }
    return 0;
}

/* An operand right after a KEY=VALUE option's value without '=' ("--set cpu 2"): the value's
 * second half, which the parse counted as another operand. */
struct split_value {
    const char *opt;   /* the option as written ("--set", "-s"); NULL: none */
    const char *key;   /* its value */
    const char *value; /* the operand after it */
};

static void note_split_value(const struct mp_opt *o, char **argv, int i, struct split_value *sv)
{
    if (!sv->opt && o && o->arg && strchr(o->arg, '=') && !strchr(argv[i - 1], '=')) {
        *sv = (struct split_value){argv[i - 2], argv[i - 1], argv[i]};
    }
}

static int too_many(const struct mp_verb *verb, char **operands, const struct split_value *sv)
{
    if (sv->opt) {
        return mp_cli_usage(verb->name, "%s %s %s: write %s %s=%s (one argument)", sv->opt, sv->key,
                            sv->value, sv->opt, sv->key, sv->value);
    }
    return mp_cli_usage(verb->name, "too many arguments: '%s' (expected %s)",
                        operands[verb->max_operands], verb->max_operands ? verb->operands : "none");
}

static int check_after(const struct mp_verb *verb, const bool *given, char **operands,
                       size_t n_operands, const struct split_value *sv)
{
    for (size_t i = 0; i < verb->n_opts; i++) {
        const struct mp_opt *o = &verb->opts[i];
        if ((o->flags & MP_OPT_REQUIRED) && !given[i]) {
            return o->choices ? mp_cli_usage(verb->name, "--%s %s is required", o->name, o->choices)
                              : mp_cli_usage(verb->name, "--%s %s is required", o->name, o->arg);
        }
        for (size_t k = 0; given[i] && o->needs && k < verb->n_opts; k++) {
            if (strcmp(verb->opts[k].name, o->needs) == 0 && !given[k]) {
                return mp_cli_usage(verb->name, "--%s needs --%s (alone it would be ignored)",
                                    o->name, o->needs);
            }
        }
    }
    if (n_operands < verb->min_operands) {
        return mp_cli_usage(verb->name, "missing %s", verb->operands);
    }
    if (n_operands > verb->max_operands) {
        return too_many(verb, operands, sv);
    }
    return 0;
}

int mp_cli_parse(const struct mp_verb *verb, int argc, char **argv, void *args, char **operands,
                 size_t *n_operands)
{
    *n_operands = 0;
    int rc = mp_cli_defaults(verb, args);
    bool *given = mp_xcalloc(verb->n_opts + 1, sizeof(bool));
    bool options_done = false;
    struct split_value sv = {0};
    const struct mp_opt *took_next = NULL; /* the option whose value argv[i - 1] was */
    for (int i = 1; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        const struct mp_opt *prev = took_next;
        took_next = NULL;
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = true;
        } else if (!options_done && a[0] == '-' && a[1]) {
            rc = parse_option(verb, argc, argv, &i, args, given, &took_next);
        } else {
            note_split_value(prev, argv, i, &sv);
            operands[(*n_operands)++] = argv[i];
        }
    }
    if (rc == MP_CLI_HELP) {
        mp_cli_print_help(stdout, verb);
    } else if (rc == 0) {
        rc = check_after(verb, given, operands, *n_operands, &sv);
    }
    free(given);
    return rc;
}

void mp_cli_release(const struct mp_verb *verb, void *args)
{
    for (size_t i = 0; i < verb->n_opts; i++) {
        const struct mp_opt *o = &verb->opts[i];
        if (o->kind == MP_OPT_LIST || o->kind == MP_OPT_CSV) {
            list_release(field(args, o));
        }
    }
}

const struct mp_verb *mp_cli_find(const char *name)
{
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        if (strcmp(mp_cli_verbs[i]->name, name) == 0) {
            return mp_cli_verbs[i];
        }
    }
    return NULL;
}

/* The verbs of a group ("meta") are named "meta WORD". */
static bool in_group(const struct mp_verb *v, const char *group)
{
    size_t len = strlen(group);
    return strncmp(v->name, group, len) == 0 && v->name[len] == ' ';
}

static int unknown_verb(const char *group, const char *typed)
{
    const char **names = mp_xcalloc(mp_cli_n_verbs + 1, sizeof(*names));
    size_t n = 0;
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const char *name = mp_cli_verbs[i]->name;
        if (group ? in_group(mp_cli_verbs[i], group) : !strchr(name, ' ')) {
            names[n++] = group ? name + strlen(group) + 1 : name;
        }
    }
    const char *best = mp_suggest(typed, names);
    int rc;
    if (best) {
        rc = mp_cli_usage(group, "unknown command '%s%s%s'; did you mean '%s%s%s'?",
                          group ? group : "", group ? " " : "", typed, group ? group : "",
                          group ? " " : "", best);
    } else {
        rc = mp_cli_usage(group, "unknown command '%s%s%s' (see 'morphling help%s%s')",
                          group ? group : "", group ? " " : "", typed, group ? " " : "",
                          group ? group : "");
    }
    free(names);
    return rc;
}

static int run_verb(const struct mp_verb *verb, int argc, char **argv)
{
    void *args = mp_xcalloc(1, verb->args_size + 1);
    char **operands = mp_xcalloc((size_t)argc + 1, sizeof(char *));
    size_t n = 0;
    int rc = mp_cli_parse(verb, argc, argv, args, operands, &n);
    if (rc == MP_CLI_HELP) {
        rc = MP_EXIT_OK;
    } else if (rc == 0) {
        mp_cli_set_verb(verb->name);
        rc = verb->run(args, operands, n);
    }
    mp_cli_release(verb, args);
    free(operands);
    free(args);
    return rc;
}

const struct mp_verb *mp_cli_lookup(size_t n, char **words, size_t *used)
{
    const struct mp_verb *verb = n ? mp_cli_find(words[0]) : NULL;
    *used = 1;
    if (!verb) {
        unknown_verb(NULL, n ? words[0] : "");
        return NULL;
    }
    if (verb->run || n < 2 || words[1][0] == '-') {
        return verb;
    }
    char *name = mp_xasprintf("%s %s", verb->name, words[1]);
    const struct mp_verb *sub = mp_cli_find(name);
    free(name);
    if (!sub) {
        unknown_verb(verb->name, words[1]);
        return NULL;
    }
    *used = 2;
    return sub;
}

int mp_cli_dispatch(int argc, char **argv)
{
    size_t used = 0;
    const struct mp_verb *verb = mp_cli_lookup((size_t)argc, argv, &used);
    if (!verb) {
        return MP_EXIT_USAGE;
    }
    if (verb->run) {
        return run_verb(verb, argc - (int)used + 1, argv + used - 1);
    }
    /* A group without its second word. */
    bool asked = argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
    mp_cli_print_help(asked ? stdout : stderr, verb);
    return asked ? MP_EXIT_OK : MP_EXIT_USAGE;
}
