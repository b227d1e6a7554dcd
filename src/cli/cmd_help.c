/* SPDX-License-Identifier: Apache-2.0 */
/* The list of verbs, and the verbs `help` and `version`. */
#include "cli/cli.h"

const struct mp_verb *const mp_cli_verbs[] = {
    &mp_verb_help,      &mp_verb_version,      &mp_verb_validate, &mp_verb_run,
    &mp_verb_trial,     &mp_verb_list,         &mp_verb_show,     &mp_verb_export,
    &mp_verb_replay,    &mp_verb_bench_search, &mp_verb_meta,     &mp_verb_meta_train,
    &mp_verb_meta_info, &mp_verb_load,         &mp_verb_serve,    &mp_verb_operator,
};
const size_t mp_cli_n_verbs = MP_ARRAY_LEN(mp_cli_verbs);

struct help_args {
    bool man, completion, json;
};

static int help_run(void *args, char **operands, size_t n)
{
    const struct help_args *a = args;
    if (a->man + a->completion + a->json > 1) {
        return mp_cli_usage("help", "give one of --man, --completion and --json");
    }
    if (a->man || a->completion || a->json) {
        if (n) {
            return mp_cli_usage("help", "--man, --completion and --json describe every command");
        }
        if (a->man) {
            mp_cli_print_man(stdout);
        } else if (a->completion) {
            mp_cli_print_completion(stdout);
        } else {
            mp_cli_print_json(stdout);
        }
        return MP_EXIT_OK;
    }
    if (n == 0) {
        mp_cli_print_overview(stdout);
        return MP_EXIT_OK;
    }
    /* "help meta train": the words name one verb. */
    size_t used = 0;
    const struct mp_verb *v = mp_cli_lookup(n, operands, &used);
    if (!v) {
        return MP_EXIT_USAGE;
    }
    if (used < n) {
        return mp_cli_usage("help", "'%s' takes no second word", v->name);
    }
    mp_cli_print_help(stdout, v);
    return MP_EXIT_OK;
}

static const struct mp_opt help_opts[] = {
    {"man", 0, MP_OPT_FLAG, MP_OPT_AT(struct help_args, man), NULL,
     "print the morphling(1) manual page (roff)"},
    {"completion", 0, MP_OPT_FLAG, MP_OPT_AT(struct help_args, completion), NULL,
     "print the bash completion script"},
    {"json", 0, MP_OPT_FLAG, MP_OPT_AT(struct help_args, json), NULL,
     "print every command and option as JSON"},
};

const struct mp_verb mp_verb_help = {
    .name = "help",
    .run = help_run,
    .operands = "[COMMAND]",
    .max_operands = 2,
    .summary = "show the commands, or one command's options",
    .opts = help_opts,
    .n_opts = MP_ARRAY_LEN(help_opts),
    .args_size = sizeof(struct help_args),
};

static int version_run(void *args, char **operands, size_t n)
{
    (void)args;
    (void)operands;
    (void)n;
    printf("morphling %s\n", MP_VERSION);
    return MP_EXIT_OK;
}

const struct mp_verb mp_verb_version = {
    .name = "version",
    .run = version_run,
    .summary = "print the version",
};
