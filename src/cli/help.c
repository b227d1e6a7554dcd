/* SPDX-License-Identifier: Apache-2.0 */
/* Texts generated from the verb and option tables: `VERB --help`, the overview of `help`, the
 * morphling(1) man page, the bash completion script and `help --json`. Nothing here restates
 * an option: every text walks the same tables the parser uses. */
#include "cli/cli.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"

#define WIDTH    80
#define OPT_COLS 28

static const char *const intro =
    "morphling finds the most cost-efficient configuration of a machine-learning inference "
    "service (CPU cores, memory, GPU share and type, batch size, threads, instances) that meets "
    "a latency SLO, in a few trials. An experiment spec (morphling-spec(5)) names the service, "
    "the parameters, the objective and constraints; each trial starts the service with one "
    "configuration, load-tests it and records the result in a SQLite store.";

/* The "[OPTIONS] OPERANDS" part of a usage line, with required options spelled out. */
static char *usage_line(const struct mp_verb *v)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_addf(&b, "morphling %s", v->name);
    for (size_t i = 0; i < v->n_opts; i++) {
        const struct mp_opt *o = &v->opts[i];
        if (o->flags & MP_OPT_REQUIRED) {
            mp_buf_addf(&b, " --%s %s", o->name, o->choices ? o->choices : o->arg);
        }
    }
    if (!v->run) {
        mp_buf_adds(&b, " COMMAND [OPTIONS]");
    } else if (v->n_opts) {
        mp_buf_adds(&b, " [OPTIONS]");
    }
    if (v->operands) {
        mp_buf_addf(&b, " %s", v->operands);
    }
    return mp_buf_detach(&b);
}

static void fmt_duration(char *buf, size_t len, int64_t ns)
{
    if (ns % 1000000000 == 0) {
        snprintf(buf, len, "%llds", (long long)(ns / 1000000000));
    } else if (ns % 1000000 == 0) {
        snprintf(buf, len, "%lldms", (long long)(ns / 1000000));
    } else {
        snprintf(buf, len, "%lldus", (long long)(ns / 1000));
    }
}

static int64_t load_int(const void *p, size_t size)
{
    switch (size) {
    case 1:
        return *(const int8_t *)p;
    case 2:
        return *(const int16_t *)p;
    case 4:
        return *(const int32_t *)p;
    default:
        return *(const int64_t *)p;
    }
}

/* The default of an option as text ("" when it has none worth saying), from the table's `def`
 * or from the argument struct after the verb's init. */
static void default_text(const struct mp_opt *o, const void *defaults, char *buf, size_t len)
{
    const void *p = (const char *)defaults + o->offset;
    buf[0] = '\0';
    if (o->def) {
        snprintf(buf, len, "%s", o->def);
        return;
    }
    switch (o->kind) {
    case MP_OPT_STR:
    case MP_OPT_CHOICE:
        if (*(const char *const *)p) {
            snprintf(buf, len, "%s", *(const char *const *)p);
        }
        break;
    case MP_OPT_INT:
        if (load_int(p, o->size) != 0) {
            snprintf(buf, len, "%lld", (long long)load_int(p, o->size));
        }
        break;
    case MP_OPT_NUM:
        if (*(const double *)p != 0) {
            snprintf(buf, len, "%g", *(const double *)p);
        }
        break;
    case MP_OPT_DURATION:
        /* A negative duration is a "not given" sentinel (load --max-time), no default. */
        if (*(const int64_t *)p > 0) {
            fmt_duration(buf, len, *(const int64_t *)p);
        }
        break;
    default:
        break;
    }
}

/* The option's help sentence with its default and repeatability. Owned. */
static char *option_text(const struct mp_opt *o, const void *defaults)
{
    char def[256];
    default_text(o, defaults, def, sizeof(def));
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, o->help);
    if (o->kind == MP_OPT_CHOICE && !strstr(o->help, o->choices)) {
        mp_buf_addf(&b, " (%s)", o->choices);
    }
    if (def[0]) {
        mp_buf_addf(&b, " (default: %s)", def);
    }
    if (o->flags & MP_OPT_REQUIRED) {
        mp_buf_adds(&b, " (required)");
    }
    return mp_buf_detach(&b);
}

/* "-s, --set KEY=VALUE" (or "--from-store[=DB]"). Owned. */
static char *option_label(const struct mp_opt *o, bool with_indent)
{
    struct mp_buf b = MP_BUF_INIT;
    if (o->short_name) {
        mp_buf_addf(&b, "-%c, ", o->short_name);
    } else if (with_indent) {
        mp_buf_adds(&b, "    ");
    }
    mp_buf_addf(&b, "--%s", o->name);
    if (o->kind != MP_OPT_FLAG) {
        mp_buf_addf(&b, (o->flags & MP_OPT_OPTIONAL) ? "[=%s]" : " %s", o->arg);
    }
    return mp_buf_detach(&b);
}

/* Writes text word-wrapped to WIDTH, every line indented by indent, the first line continuing
 * at column `col` (already written). */
static void wrap(FILE *f, const char *text, size_t indent, size_t col)
{
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + word > WIDTH) {
            fprintf(f, "\n%*s", (int)indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", (int)word, p);
        col += word;
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', f);
}

static void print_paragraphs(FILE *f, const char *text)
{
    const char *p = text;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        char *para = mp_xstrndup(p, end ? (size_t)(end - p) : strlen(p));
        for (char *c = para; *c; c++) {
            *c = *c == '\n' ? ' ' : *c;
        }
        wrap(f, para, 0, 0);
        free(para);
        fputc('\n', f);
        p = end ? end + 2 : NULL;
    }
}

static void print_sub_verbs(FILE *f, const struct mp_verb *group)
{
    fprintf(f, "commands:\n");
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const struct mp_verb *v = mp_cli_verbs[i];
        size_t len = strlen(group->name);
        if (strncmp(v->name, group->name, len) == 0 && v->name[len] == ' ') {
            fprintf(f, "  %-*s", OPT_COLS - 2, v->name);
            wrap(f, v->summary, OPT_COLS, OPT_COLS);
        }
    }
    fprintf(f, "\nRun 'morphling %s COMMAND --help' for a command's options.\n", group->name);
}

void mp_cli_print_help(FILE *f, const struct mp_verb *v)
{
    void *defaults = mp_xcalloc(1, v->args_size + 1);
    if (mp_cli_defaults(v, defaults) != 0) {
        free(defaults);
        return;
    }
    char *usage = usage_line(v);
    fprintf(f, "usage: %s\n\n", usage);
    free(usage);
    wrap(f, v->summary, 0, 0);
    fputc('\n', f);
    print_paragraphs(f, v->description);
    if (!v->run) {
        print_sub_verbs(f, v);
        mp_cli_release(v, defaults);
        free(defaults);
        return;
    }
    fprintf(f, "options:\n");
    for (size_t i = 0; i <= v->n_opts; i++) {
        static const struct mp_opt help = {"help", 'h', MP_OPT_FLAG, 0, 0, NULL, "show this help"};
        const struct mp_opt *o = i < v->n_opts ? &v->opts[i] : &help;
        char *label = option_label(o, true);
        char *text = option_text(o, defaults);
        fprintf(f, "  %s", label);
        size_t col = 2 + strlen(label);
        if (col + 2 > OPT_COLS) {
            fprintf(f, "\n%*s", OPT_COLS, "");
        } else {
            fprintf(f, "%*s", (int)(OPT_COLS - col), "");
        }
        wrap(f, text, OPT_COLS, OPT_COLS);
        free(label);
        free(text);
    }
    mp_cli_release(v, defaults);
    free(defaults);
}

void mp_cli_print_overview(FILE *f)
{
    fprintf(f, "morphling %s\n\n", MP_VERSION);
    wrap(f, intro, 0, 0);
    fprintf(f, "\nusage: morphling COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const struct mp_verb *v = mp_cli_verbs[i];
        if (!strchr(v->name, ' ')) {
            fprintf(f, "  %-14s", v->name);
            wrap(f, v->summary, 16, 16);
        }
    }
    fputc('\n', f);
    wrap(f,
         "Run 'morphling COMMAND --help' (or 'morphling help COMMAND') for a command's options; "
         "'man morphling' and 'man morphling-spec' for the manual.",
         0, 0);
}

/* ---- man page -------------------------------------------------------------------------- */

/* Writes text as roff: backslashes escaped, a leading '.' or '\'' made literal, and every '-'
 * of an option name (after a space or at the start) written as \- so it stays a hyphen-minus. */
static void roff(FILE *f, const char *text)
{
    bool line_start = true;
    for (const char *p = text; *p; p++) {
        if (line_start && (*p == '.' || *p == '\'')) {
            fputs("\\&", f);
        }
        if (*p == '\\') {
            fputs("\\e", f);
        } else if (*p == '-') {
            fputs("\\-", f);
        } else {
            fputc(*p, f);
        }
        line_start = *p == '\n';
    }
}

static void man_options(FILE *f, const struct mp_verb *v, const void *defaults)
{
    for (size_t i = 0; i < v->n_opts; i++) {
        const struct mp_opt *o = &v->opts[i];
        char *label = option_label(o, false);
        char *text = option_text(o, defaults);
        fputs(".TP\n.B ", f);
        roff(f, label);
        fputs("\n", f);
        roff(f, text);
        fputs("\n", f);
        free(label);
        free(text);
    }
}

static void man_verb(FILE *f, const struct mp_verb *v)
{
    void *defaults = mp_xcalloc(1, v->args_size + 1);
    if (mp_cli_defaults(v, defaults) != 0) {
        free(defaults);
        return;
    }
    char *usage = usage_line(v);
    fputs(".SS \"", f);
    roff(f, usage);
    fputs("\"\n", f);
    free(usage);
    roff(f, v->summary);
    fputs(".\n", f);
    for (const char *p = v->description; p && *p;) {
        const char *end = strstr(p, "\n\n");
        char *para = mp_xstrndup(p, end ? (size_t)(end - p) : strlen(p));
        fputs(".PP\n", f);
        roff(f, para);
        fputs("\n", f);
        free(para);
        p = end ? end + 2 : NULL;
    }
    man_options(f, v, defaults);
    mp_cli_release(v, defaults);
    free(defaults);
}

void mp_cli_print_man(FILE *f)
{
    fprintf(f, ".\\\" Generated by 'morphling help --man' from the option tables; do not edit.\n");
    fprintf(f, ".TH MORPHLING 1 \"\" \"morphling %s\" \"User Commands\"\n", MP_VERSION);
    fputs(".SH NAME\nmorphling \\- find the most cost\\-efficient configuration of an inference "
          "service\n.SH SYNOPSIS\n.B morphling\n.I COMMAND\n[\\fIOPTIONS\\fR] [\\fIARGS\\fR]\n"
          ".SH DESCRIPTION\n",
          f);
    roff(f, intro);
    fputs("\n.PP\nEvery command answers \\fB\\-\\-help\\fR with the options below.\n"
          ".SH COMMANDS\n",
          f);
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        man_verb(f, mp_cli_verbs[i]);
    }
    fprintf(f,
            ".SH EXIT STATUS\n%d success, %d failure, %d invalid input or usage, %d interrupted.\n",
            MP_EXIT_OK, MP_EXIT_FAILURE, MP_EXIT_USAGE, MP_EXIT_INTERRUPTED);
    fputs(".SH ENVIRONMENT\n.TP\n.B MORPHLING_DB\nthe store when \\fB\\-\\-db\\fR is not given.\n"
          ".TP\n.B XDG_DATA_HOME\nthe default store is \\fI$XDG_DATA_HOME/morphling/morphling.db"
          "\\fR (else \\fI~/.local/share/morphling/morphling.db\\fR).\n"
          ".SH SEE ALSO\n.BR morphling\\-spec (5)\n",
          f);
}

/* ---- bash completion ------------------------------------------------------------------- */

/* The case arm completing the value of option o after `prev`. */
static void completion_value(FILE *f, const struct mp_opt *o)
{
    if (o->kind == MP_OPT_FLAG || (o->flags & MP_OPT_OPTIONAL)) {
        return;
    }
    fprintf(f, "        --%s", o->name);
    if (o->short_name) {
        fprintf(f, "|-%c", o->short_name);
    }
    if (o->kind == MP_OPT_CHOICE) {
        fprintf(f, ") COMPREPLY=($(compgen -W \"");
        for (const char *c = o->choices; *c; c++) {
            fputc(*c == '|' ? ' ' : *c, f);
        }
        fprintf(f, "\" -- \"$cur\")); return ;;\n");
    } else if (o->flags & MP_OPT_PATH) {
        fprintf(f, ") COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n");
    } else {
        fprintf(f, ") COMPREPLY=(); return ;;\n");
    }
}

static void completion_verb(FILE *f, const struct mp_verb *v)
{
    fprintf(f, "    \"%s\")\n        opts=\"--help", v->name);
    for (size_t i = 0; i < v->n_opts; i++) {
        fprintf(f, " --%s", v->opts[i].name);
    }
    fprintf(f, "\"\n        files=%d\n", v->operand_paths);
    if (v == &mp_verb_help) {
        fprintf(f, "        words=\"");
        for (size_t i = 0, n = 0; i < mp_cli_n_verbs; i++) {
            if (!strchr(mp_cli_verbs[i]->name, ' ')) {
                fprintf(f, "%s%s", n++ ? " " : "", mp_cli_verbs[i]->name);
            }
        }
        fprintf(f, "\"\n");
    }
    fprintf(f, "        case \"$prev\" in\n");
    for (size_t i = 0; i < v->n_opts; i++) {
        completion_value(f, &v->opts[i]);
    }
    fprintf(f, "        esac ;;\n");
}

void mp_cli_print_completion(FILE *f)
{
    fputs("# bash completion for morphling; generated by 'morphling help --completion' from the "
          "option tables.\n_morphling() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local verb=${COMP_WORDS[1]} opts='' words='' files=0\n",
          f);
    fputs("    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        COMPREPLY=($(compgen -W \"", f);
    for (size_t i = 0, n = 0; i < mp_cli_n_verbs; i++) {
        if (!strchr(mp_cli_verbs[i]->name, ' ')) {
            fprintf(f, "%s%s", n++ ? " " : "", mp_cli_verbs[i]->name);
        }
    }
    fputs("\" -- \"$cur\"))\n        return\n    fi\n", f);
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const struct mp_verb *g = mp_cli_verbs[i];
        if (g->run) {
            continue;
        }
        fprintf(f,
                "    if [ \"$verb\" = %s ]; then\n        if [ \"$COMP_CWORD\" -eq 2 ]; then\n"
                "            COMPREPLY=($(compgen -W \"",
                g->name);
        size_t len = strlen(g->name);
        for (size_t k = 0, n = 0; k < mp_cli_n_verbs; k++) {
            const char *name = mp_cli_verbs[k]->name;
            if (strncmp(name, g->name, len) == 0 && name[len] == ' ') {
                fprintf(f, "%s%s", n++ ? " " : "", name + len + 1);
            }
        }
        fputs("\" -- \"$cur\"))\n            return\n        fi\n"
              "        verb=\"$verb ${COMP_WORDS[2]}\"\n    fi\n",
              f);
    }
    fputs("    case \"$verb\" in\n", f);
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        if (mp_cli_verbs[i]->run) {
            completion_verb(f, mp_cli_verbs[i]);
        }
    }
    fputs("    *) return ;;\n    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
          "    elif [ \"$files\" = 1 ]; then\n"
          "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
          "    elif [ -n \"$words\" ]; then\n"
          "        COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "    fi\n}\ncomplete -o filenames -F _morphling morphling\n",
          f);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *option_json(const struct mp_opt *o, const void *defaults)
{
    static const char *const kinds[] = {"flag",     "string", "choice", "integer", "number",
                                        "duration", "list",   "csv",    "custom"};
    char def[256];
    default_text(o, defaults, def, sizeof(def));
    char sh[2] = {o->short_name, '\0'};
    json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:b}", "name", o->name, "kind", kinds[o->kind],
                          "help", o->help, "required", (o->flags & MP_OPT_REQUIRED) != 0,
                          "repeatable", o->kind == MP_OPT_LIST);
    json_object_set_new(j, "short", o->short_name ? json_string(sh) : json_null());
    json_object_set_new(j, "arg", o->arg ? json_string(o->arg) : json_null());
    json_object_set_new(j, "default", def[0] ? json_string(def) : json_null());
    json_object_set_new(j, "choices", o->choices ? json_string(o->choices) : json_null());
    return j;
}

void mp_cli_print_json(FILE *f)
{
    json_t *verbs = json_array();
    for (size_t i = 0; i < mp_cli_n_verbs; i++) {
        const struct mp_verb *v = mp_cli_verbs[i];
        void *defaults = mp_xcalloc(1, v->args_size + 1);
        json_t *opts = json_array();
        if (mp_cli_defaults(v, defaults) == 0) {
            for (size_t k = 0; k < v->n_opts; k++) {
                json_array_append_new(opts, option_json(&v->opts[k], defaults));
            }
        }
        mp_cli_release(v, defaults);
        char *usage = usage_line(v);
        json_array_append_new(verbs, json_pack("{s:s, s:s, s:s, s:o}", "name", v->name, "usage",
                                               usage, "summary", v->summary, "options", opts));
        free(usage);
        free(defaults);
    }
    json_t *root = json_pack("{s:s, s:o}", "version", MP_VERSION, "verbs", verbs);
    mp_json_print(f, root);
    json_decref(root);
}
