/* SPDX-License-Identifier: Apache-2.0 */
/* The morphling command-line front end: one verb per sub-command (cmd_*.c), each described by a
 * table of its options that is the single source for parsing (opt.c), `VERB --help`, the man
 * page, bash completion and `help --json` (help.c). Exit codes: 0 ok, 1 failure, 2 usage or
 * invalid input, 128 + the signal when interrupted (130 SIGINT, 143 SIGTERM).
 *
 * Adding an option is one table row: the parser stores its value at `offset` in the verb's
 * argument struct, and every generated text lists it.
 *
 * Ownership: option values of kind STR/CHOICE borrow argv; lists (mp_cli_list) are allocated by
 * the parser and freed by it after the verb returns. Tables are static and immutable.
 * Thread-safety: the CLI is single-threaded; mp_cli_interrupted may be read from any thread. */
#ifndef MP_CLI_H
#define MP_CLI_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "core/core.h"

/* Exit statuses; 130 is what a shell reports for a command ended by SIGINT (128 + 2). */
enum { MP_EXIT_OK = 0, MP_EXIT_FAILURE = 1, MP_EXIT_USAGE = 2, MP_EXIT_INTERRUPTED = 130 };

/* What an option's value is, and how it is stored at `offset` in the verb's argument struct. */
enum mp_opt_kind {
    MP_OPT_FLAG,     /* bool; takes no value */
    MP_OPT_STR,      /* const char *, borrowed from argv */
    MP_OPT_CHOICE,   /* const char *, one of `choices` ("csv|json") */
    MP_OPT_INT,      /* integer of `size` bytes in [min, max] (both 0: any int64) */
    MP_OPT_NUM,      /* double in [min, max] (both 0: any finite number) */
    MP_OPT_DURATION, /* int64_t nanoseconds ("500ms", "2s"; a bare number is seconds) */
    MP_OPT_LIST,     /* struct mp_cli_list; repeatable, each value appended */
    MP_OPT_CSV,      /* struct mp_cli_list; a comma-separated list, a later one replaces */
    MP_OPT_FN,       /* `fn` parses the value itself */
};

enum {
    MP_OPT_REQUIRED = 1u << 0, /* the verb refuses to run without it */
    MP_OPT_OPTIONAL = 1u << 1, /* the value is optional and only given as --name=VALUE */
    MP_OPT_PATH = 1u << 2,     /* names a file or folder (bash completion); never empty */
};

/* A list value: items borrow argv, or point into buf (MP_OPT_CSV, owned). */
struct mp_cli_list {
    const char **v;
    size_t n;
    char *buf;
};

/* Parses an MP_OPT_FN value (NULL for an optional value left out) into the argument struct.
 * Returns 0 or an error whose message the parser prints as a usage error. */
typedef int mp_opt_fn(void *args, const char *value, struct mp_error *err);

struct mp_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    enum mp_opt_kind kind;
    size_t offset, size; /* where the value goes in the argument struct, and its size */
    const char *arg;     /* the value's name in help ("N", "FILE"); NULL for flags */
    const char *help;    /* what it does, one or two sentences */
    const char *def;     /* default as text, applied before argv (shown in help); or NULL */
    double min, max;     /* MP_OPT_INT, MP_OPT_NUM; MP_OPT_DURATION: max > 0 warns of a bare
                          * number of that many seconds or more (meant as milliseconds?) */
    const char *choices; /* MP_OPT_CHOICE: "a|b|c" */
    mp_opt_fn *fn;       /* MP_OPT_FN */
    unsigned flags;      /* MP_OPT_REQUIRED, MP_OPT_OPTIONAL, MP_OPT_PATH */
    const char *needs;   /* another option's name: this one means nothing without it */
};

/* Where a field of struct T is: the offset and size columns of a table row. */
#define MP_OPT_AT(T, field) offsetof(T, field), sizeof(((T *)0)->field)

/* Runs a verb with its parsed arguments and operands (the non-option arguments, borrowed). */
typedef int mp_verb_fn(void *args, char **operands, size_t n_operands);

struct mp_verb {
    const char *name;     /* "run", or "meta train" for a sub-verb */
    mp_verb_fn *run;      /* NULL: only help (a verb group such as "meta") */
    const char *operands; /* usage text of the operands, e.g. "FILE" or "[SURFACE...]" */
    size_t min_operands, max_operands; /* max SIZE_MAX: any number */
    bool operand_paths;                /* the operands name files (bash completion) */
    const char *summary;               /* one line, lower case, no full stop */
    const char *description;           /* paragraphs separated by "\n\n", or NULL */
    const struct mp_opt *opts;
    size_t n_opts;
    size_t args_size;         /* the argument struct, zeroed before init and defaults */
    void (*init)(void *args); /* library defaults the table does not state, or NULL */
};

/* Every verb, in the order `help` lists them (main.c). */
extern const struct mp_verb *const mp_cli_verbs[];
extern const size_t mp_cli_n_verbs;

/* Parses argv (argv[0] is the verb's last word) into args per the verb's table: applies init and
 * the table's defaults, then the options (anywhere among the operands; "--" ends them; --name
 * VALUE, --name=VALUE, -x VALUE, -xVALUE), then checks required options and the operand count.
 * On success stores the operands' positions (pointers into argv) in operands (argc slots).
 * Returns 0; MP_CLI_HELP after printing the verb's help for -h/--help; or the exit status of a
 * usage error it printed (2), with a suggestion for a mistyped option. Either way the caller
 * releases the lists with mp_cli_release. */
#define MP_CLI_HELP (-1)
int mp_cli_parse(const struct mp_verb *verb, int argc, char **argv, void *args, char **operands,
                 size_t *n_operands) MP_WUR;
/* Fills args (args_size bytes) with the verb's defaults: zero, init, then the table's `def`
 * texts. Returns 0, or 2 after printing an error about a malformed default (a table bug). */
int mp_cli_defaults(const struct mp_verb *verb, void *args) MP_WUR;
/* Frees what mp_cli_parse allocated in args (lists). */
void mp_cli_release(const struct mp_verb *verb, void *args);
/* Finds a verb by name ("run", "meta train"); NULL when none. */
const struct mp_verb *mp_cli_find(const char *name);
/* Resolves the verb named by words[0], and words[1] for a group ("meta train"); *used says how
 * many words named it. A group without a second word is returned itself. For an unknown verb
 * prints a usage error with a suggestion and returns NULL. */
const struct mp_verb *mp_cli_lookup(size_t n, char **words, size_t *used);
/* Runs the verb named by argv[0] (and argv[1] for a group): parse, run, release. Returns the
 * exit status. */
int mp_cli_dispatch(int argc, char **argv);

/* Generated texts (help.c). */
void mp_cli_print_help(FILE *f, const struct mp_verb *verb);
void mp_cli_print_overview(FILE *f);
void mp_cli_print_man(FILE *f);
void mp_cli_print_completion(FILE *f);
void mp_cli_print_json(FILE *f);

/* Records the verb running ("run", "meta train"), for the prefix of its messages; before it
 * starts, not while threads run. */
void mp_cli_set_verb(const char *verb);
/* "morphling VERB: " for the verb running ("morphling: " before one runs). Static. */
const char *mp_cli_prefix(void);
/* Prints "morphling VERB: <message>" to stderr and returns the exit status for the error code
 * (2 for invalid input, 1 otherwise). */
int mp_cli_fail(const struct mp_error *err);
/* Prints PREFIX, message and a newline to stderr, the message on one line whatever it quotes
 * (a path, a spec's value): a newline or carriage return is written as \n or \r, the rest as
 * mp_terminal_text writes it (ESC as \x1b), so a file name cannot split the line nor drive the
 * terminal. */
void mp_cli_print_message(const char *prefix, const char *msg);
/* A JSON string of text that may not be UTF-8 (a path): json_string() refuses such text, and
 * json_pack() the whole object with it. Invalid bytes become '?'. Returns a new reference. */
json_t *mp_cli_json_text(const char *text);
/* Prints a usage error for verb (NULL: none) and returns 2. */
int mp_cli_usage(const char *verb, const char *fmt, ...) MP_PRINTF(2, 3);
/* The store path: --db value, else $MORPHLING_DB, else $XDG_DATA_HOME/morphling/morphling.db
 * (~/.local/share/...). Creates its missing folders owner-only (0700). Returns owned. */
char *mp_cli_db_path(const char *flag_value);
struct mp_store;
/* Opens the store at db for a reader (list, show, export): MP_ENOTFOUND, naming db and the
 * experiment ref (NULL: none), when there is no store there, which is then not created. */
int mp_cli_open_store(const char *db, const char *ref, struct mp_store **st,
                      struct mp_error *err) MP_WUR;
/* Owned paths. */
struct mp_cli_paths {
    char **v;
    size_t n;
};
void mp_cli_paths_release(struct mp_cli_paths *p);
/* Drops the paths that name a file named before (a folder and a file in it, one file by two
 * names: the same device and inode), keeping the first name: such a surface is one service
 * for meta train and one surface for bench-search, not two with twice the weight. */
void mp_cli_paths_drop_duplicates(struct mp_cli_paths *files);
/* --role entries of several surfaces (meta train, bench-search): one is ignored on the surfaces
 * that lack its column (one list serves surfaces with different columns), one whose column no
 * surface has (!seen[i]) is a typo that would go nowhere: MP_EINVALID naming it. */
int mp_cli_check_roles_seen(const struct mp_cli_list *roles, const bool *seen,
                            struct mp_error *err) MP_WUR;
/* Adds the files named by path to *files: the file itself, or the folder's files (mp_dir_files
 * with suffix). A missing path or a folder without such files is a usage error for verb
 * (returns 2), and so are more than max files in all. */
int mp_cli_add_files(const char *verb, const char *path, const char *suffix, size_t max,
                     struct mp_cli_paths *files);

/* Progress of long work on stderr (progress.c): on a terminal a bar redrawn in place with the
 * time left, else a line every tenth of the work or 5 s. Nothing when quiet. */
struct mp_cli_progress {
    const char *what; /* "bench-search", borrowed */
    size_t total, done;
    size_t base; /* steps done before this bar's first (a resumed run's): not timed by it */
    int64_t t0_ns, last_ns, step_ns; /* started, last drawn, last step */
    bool quiet, tty, drawn;
};
void mp_cli_progress_start(struct mp_cli_progress *p, const char *what, size_t total, bool quiet);
/* Ends this bar and starts one for the next kind of work, whose clock runs from this bar's last
 * step: the new bar's first step took the time between (its time left is not "about 0s"). */
void mp_cli_progress_next(struct mp_cli_progress *p, const char *what, size_t total);
/* done of total steps are finished; fmt (may be NULL) says what the last one was. */
void mp_cli_progress_step(struct mp_cli_progress *p, size_t done, const char *fmt, ...)
    MP_PRINTF(3, 4);
/* A status line for work without countable steps ("running for 12 s"), as often as a step. */
void mp_cli_progress_status(struct mp_cli_progress *p, const char *fmt, ...) MP_PRINTF(2, 3);
/* Ends the bar's line on a terminal. */
void mp_cli_progress_end(struct mp_cli_progress *p);

/* Set by SIGINT/SIGTERM once mp_cli_catch_interrupts has run. */
extern atomic_bool mp_cli_interrupted;
/* Routes SIGINT and SIGTERM to mp_cli_interrupted (work stops at its next check) until
 * mp_cli_restore_interrupts; a second one also sets mp_runner_hurry (no grace period). */
void mp_cli_catch_interrupts(void);
void mp_cli_restore_interrupts(void);
/* The exit status of a command so interrupted: 128 + the signal, as a shell reports a command it
 * ended (130 for SIGINT, 143 for SIGTERM); 130 when no signal was caught. */
int mp_cli_interrupted_status(void);

/* Shared option rows. The surface options (replay, bench-search, meta train) parse into the
 * struct mp_cli_surface_args member `surf` of the verb's argument struct T. */
struct mp_cli_surface_args {
    const char *objective;
    bool minimize;
    struct mp_cli_list params, roles;
};
/* clang-format off */
#define MP_CLI_SURFACE_OPTS(T)                                                                     \
    {"objective", 0, MP_OPT_STR, MP_OPT_AT(T, surf.objective), "COL",                             \
     "the objective column (default: throughput_per_cost, else throughput_rps, else the last "    \
     "column)"},                                                                                   \
    {"minimize", 0, MP_OPT_FLAG, MP_OPT_AT(T, surf.minimize), NULL,                                \
     "minimise the objective instead of maximising it"},                                          \
    {"params", 0, MP_OPT_CSV, MP_OPT_AT(T, surf.params), "A,B,...",                               \
     "the parameter columns (default: known from an export's header; else every column but the "  \
     "objective and 'failure')"},                                                                 \
    {"role", 0, MP_OPT_LIST, MP_OPT_AT(T, surf.roles), "COL=ROLE",                                \
     "what a parameter column means (batch_size, threads, workers, instances, batch_timeout, "    \
     "cpu, memory, gpu, gpu_memory_share, gpu_type); repeatable"}
/* clang-format on */
/* --db PATH into the field `db` of T. */
/* clang-format off */
#define MP_CLI_DB_OPT(T)                                                                           \
    {"db", 'd', MP_OPT_STR, MP_OPT_AT(T, db), "PATH",                                             \
     "the store (default: $MORPHLING_DB, else $XDG_DATA_HOME/morphling/morphling.db, else "       \
     "~/.local/share/morphling/morphling.db)", .flags = MP_OPT_PATH}
/* clang-format on */

/* --target-rps R and --headroom X into the fields target_rps and headroom of T. */
/* clang-format off */
#define MP_CLI_CAPACITY_OPTS(T)                                                                    \
    {"target-rps", 0, MP_OPT_NUM, MP_OPT_AT(T, target_rps), "R",                                  \
     "add a capacity plan: the replicas of the recommended configuration that serve R "           \
     "requests/s", .min = MP_REPORT_TARGET_RPS_MIN, .max = MP_REPORT_TARGET_RPS_MAX},                                                     \
    {"headroom", 0, MP_OPT_NUM, MP_OPT_AT(T, headroom), "X",                                      \
     "spare capacity of the plan (0.2 = 20 %)", "0.2", .min = 0, .max = 10,                     \
     .needs = "target-rps"}
/* clang-format on */

/* Opens the store (--db value or the default) and builds the report of experiment ref (NULL:
 * the list of experiments), with a capacity plan when target_rps > 0. *out is owned. Returns
 * 0 or the exit status of the error it printed. */
int mp_cli_load_report(const char *db_flag, const char *ref, double target_rps, double headroom,
                       json_t **out) MP_WUR;

extern const struct mp_verb mp_verb_help, mp_verb_version, mp_verb_validate, mp_verb_run,
    mp_verb_trial, mp_verb_list, mp_verb_show, mp_verb_export, mp_verb_replay, mp_verb_bench_search,
    mp_verb_load, mp_verb_serve, mp_verb_meta, mp_verb_meta_train, mp_verb_meta_info,
    mp_verb_operator;
struct mp_meta_taskset;
/* `meta train --from-store` (meta_store.c): adds every finished experiment of the store at
 * db_path (succeeded, failed or cancelled) with at least min_points usable trials to ts, as
 * mp_meta_taskset_add_trials does; experiments whose spec no longer parses or whose parameters
 * differ from the set's are skipped. *added and *skipped count them. Each trains on its own
 * objective: when objective (--objective, else NULL) or minimize differs from one's, a warning on
 * stderr says so. */
int mp_cli_meta_add_store(struct mp_meta_taskset *ts, const char *db_path, size_t min_points,
                          const char *objective, bool minimize, size_t *added, size_t *skipped,
                          struct mp_error *err) MP_WUR;

#endif
