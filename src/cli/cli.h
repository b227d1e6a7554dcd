/* SPDX-License-Identifier: Apache-2.0 */
/* The morphling command-line front end: one function per sub-command (cmd_*.c) and the small
 * helpers they share. Exit codes: 0 ok, 1 failure, 2 usage or invalid input. */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/core.h"

enum { MP_EXIT_OK = 0, MP_EXIT_FAILURE = 1, MP_EXIT_USAGE = 2 };

typedef int mp_cmd_fn(int argc, char **argv);

struct mp_cmd {
    const char *name;
    mp_cmd_fn *fn;
    const char *usage;
    const char *summary;
};

/* Prints "morphling: <message>" to stderr and returns the exit status for the error code
 * (2 for invalid input, 1 otherwise). */
int mp_cli_fail(const struct mp_error *err);
/* Prints a usage error for cmd and returns 2. */
int mp_cli_usage(const char *cmd, const char *fmt, ...) MP_PRINTF(2, 3);
/* Splits the comma-separated list given to option `flag` of `cmd`, replacing an earlier one:
 * *buf becomes an owned copy split in place (the previous copy is freed), *items a grown array
 * of pointers into it (the caller frees both), *n their count. An empty list is a usage error
 * (returns 2). */
int mp_cli_split_list(const char *cmd, const char *flag, const char *list, char **buf,
                      const char ***items, size_t *n);
/* The store path: --db value, else $MORPHLING_DB, else $XDG_DATA_HOME/morphling/morphling.db
 * (~/.local/share/...). Creates its missing folders owner-only (0700). Returns owned. */
char *mp_cli_db_path(const char *flag_value);

struct mp_meta_taskset;
/* `meta train --from-store` (meta_store.c): adds every finished experiment of the store at
 * db_path (succeeded, failed or cancelled) with at least min_points usable trials to ts, as
 * mp_meta_taskset_add_trials does; experiments whose spec no longer parses or whose parameters
 * differ from the set's are skipped. *added and *skipped count them. */
int mp_cli_meta_add_store(struct mp_meta_taskset *ts, const char *db_path, size_t min_points,
                          size_t *added, size_t *skipped, struct mp_error *err) MP_WUR;

int mp_cmd_help(int argc, char **argv);
int mp_cmd_version(int argc, char **argv);
int mp_cmd_validate(int argc, char **argv);
int mp_cmd_run(int argc, char **argv);
int mp_cmd_replay(int argc, char **argv);
int mp_cmd_list(int argc, char **argv);
int mp_cmd_show(int argc, char **argv);
int mp_cmd_export(int argc, char **argv);
int mp_cmd_load(int argc, char **argv);
int mp_cmd_trial(int argc, char **argv);
int mp_cmd_bench_search(int argc, char **argv);
int mp_cmd_serve(int argc, char **argv);
int mp_cmd_meta(int argc, char **argv);

#endif
