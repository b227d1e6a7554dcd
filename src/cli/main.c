/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point: dispatches to the sub-command named by argv[1]. */
#include "cli/cli.h"

#include <string.h>

static const struct mp_cmd commands[] = {
    {"help", mp_cmd_help, "help [COMMAND]", "show help"},
    {"version", mp_cmd_version, "version", "print the version"},
    {"validate", mp_cmd_validate, "validate FILE [--set KEY=VALUE]... [--json]",
     "check an experiment spec without running anything"},
    {"run", mp_cmd_run, "run FILE [--db PATH] [--set KEY=VALUE]... [--restart] [--json] [--quiet]",
     "run (or continue) an experiment and print the recommendation"},
    {"replay", mp_cmd_replay,
     "replay SURFACE.csv [--objective COL] [--minimize] [--algorithm NAME] [--budget N] "
     "[--seed S] [--params A,B,...] [--prior MODEL] [--role COL=ROLE]... [--settings YAML] "
     "[--json]",
     "run a search offline on a recorded performance surface"},
    {"bench-search", mp_cmd_bench_search,
     "bench-search --surfaces DIR|FILE... [--algorithms grid,random,bo,bo+prior,morphling] "
     "[--budget N] "
     "[--seeds K] [--objective COL] [--minimize] [--params A,B,...] [--settings YAML] "
     "[--prior MODEL] [--role COL=ROLE]... [--latency OBSERVATIONS] [--json]",
     "compare search algorithms by replaying them on recorded surfaces"},
    {"list", mp_cmd_list, "list [--db PATH] [--json]", "list stored experiments"},
    {"show", mp_cmd_show, "show EXPERIMENT [--db PATH] [--json] [--target-rps R [--headroom 0.2]]",
     "show an experiment's trials and recommendation"},
    {"export", mp_cmd_export,
     "export EXPERIMENT --format csv|json|deploy|k8s [--db PATH] [--container NAME] [--port P] "
     "[--target-rps R [--headroom 0.2]]",
     "export trials (csv, json) or the recommended configuration (deploy: argv, env and "
     "resources as JSON; k8s: a Deployment patch)"},
    {"load", mp_cmd_load,
     "load URL [-t THREADS] [-c CONNS] [-d DURATION] [--rate RPS [--poisson]] [-H 'Name: value']\n"
     "       [-m METHOD] [--body FILE]... [--timeout D] [--expect-status N] [--expect-body TEXT]\n"
     "       [--warmup D] [--window D] [--max-windows N] [--stable-windows N] [--tolerance X]\n"
     "       [--capacity --slo 'p99<=200ms' [--max-error-rate X] [--max-time D] [--precision X]]\n"
     "       [--late-threshold D] [--max-header-bytes N] [--max-body-bytes N] [--seed N] [--json]",
     "generate HTTP load; measure until stable, or find capacity under an SLO"},
    {"trial", mp_cmd_trial, "trial FILE --set NAME=VALUE... [--json] [--logs]",
     "run one trial of one configuration and print its record (nothing is stored)"},
    {"serve", mp_cmd_serve,
     "serve [--listen HOST:PORT] [--db PATH] [--token-file FILE] [--public-host HOST:PORT] "
     "[--base-dir DIR] [--no-auth]",
     "serve the HTTP API and the web dashboard (every request but /healthz and the page needs "
     "the token; it prints a login URL)"},
    {"meta", mp_cmd_meta,
     "meta train [--surfaces DIR|FILE]... [--from-store[=DB]] [--no-store] [--seed S] "
     "[--method reptile|fomaml|maml] [--members K] [--iterations N] [--hidden H] "
     "[--objective COL] [--minimize] [--params A,B,...] [--role COL=ROLE]... -o MODEL "
     "[--json] | meta info MODEL [--json]",
     "meta-train a prior for algorithm morphling from surfaces and past experiments"},
};

static const struct mp_cmd *find_cmd(const char *name)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

int mp_cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("morphling %s\n", MP_VERSION);
    return MP_EXIT_OK;
}

int mp_cmd_help(int argc, char **argv)
{
    if (argc > 1) {
        const struct mp_cmd *c = find_cmd(argv[1]);
        if (!c) {
            return mp_cli_usage("help", "unknown command '%s'", argv[1]);
        }
        printf("usage: morphling %s\n\n%s\n", c->usage, c->summary);
        return MP_EXIT_OK;
    }
    printf("morphling %s: find the most cost-efficient configuration of an inference service\n\n"
           "usage: morphling COMMAND [ARGS]\n\ncommands:\n",
           MP_VERSION);
    for (size_t i = 0; i < MP_ARRAY_LEN(commands); i++) {
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    printf("\nRun 'morphling help COMMAND' for a command's options.\n");
    return MP_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        mp_cmd_help(1, argv);
        return MP_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        return mp_cmd_version(argc - 1, argv + 1);
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        return mp_cmd_help(1, argv + 1);
    }
    const struct mp_cmd *c = find_cmd(name);
    if (!c) {
        return mp_cli_usage(NULL, "unknown command '%s' (see 'morphling help')", name);
    }
    return c->fn(argc - 1, argv + 1);
}
