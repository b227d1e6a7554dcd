/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the verbs: error reporting, the store location, file arguments and the
 * interrupt handler. */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/runner.h"
#include "store/store.h"

atomic_bool mp_cli_interrupted;
static struct sigaction saved_int, saved_term;

void mp_cli_print_message(const char *prefix, const char *msg)
{
    flockfile(stderr);
    fputs(prefix, stderr);
    for (const char *p = msg; *p;) {
        size_t n = strcspn(p, "\n\r");
        char *part = mp_xstrndup(p, n);
        mp_terminal_text(stderr, part, true); /* a tab stays; no newline is left in part */
        free(part);
        p += n;
        if (*p) {
            fputs(*p == '\n' ? "\\n" : "\\r", stderr);
            p++;
        }
    }
    fputc('\n', stderr);
    funlockfile(stderr);
}

/* "morphling VERB: ", set once before the verb runs (so only read while threads run). */
static char verb_prefix[64] = "morphling: ";

void mp_cli_set_verb(const char *verb)
{
    snprintf(verb_prefix, sizeof(verb_prefix), "morphling %s: ", verb);
}

const char *mp_cli_prefix(void)
{
    return verb_prefix;
}

int mp_cli_fail(const struct mp_error *err)
{
    mp_cli_print_message(mp_cli_prefix(), err->msg[0] ? err->msg : mp_strerror(err->code));
    return err->code == MP_EINVALID || err->code == MP_EPARSE || err->code == MP_ETOOBIG
               ? MP_EXIT_USAGE
               : MP_EXIT_FAILURE;
}

int mp_cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[MP_ERROR_MSG_MAX], prefix[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(prefix, sizeof(prefix), "morphling%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    mp_cli_print_message(prefix, msg);
    if (cmd) {
        fprintf(stderr, "'morphling %s --help' describes the options\n", cmd);
    }
    return MP_EXIT_USAGE;
}

static void mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                *p = '/';
                return;
            }
            *p = '/';
        }
    }
}

json_t *mp_cli_json_text(const char *text)
{
    char *copy = mp_xstrdup(text);
    mp_utf8_scrub(copy, strlen(copy));
    json_t *j = json_string(copy);
    free(copy);
    return j;
}

char *mp_cli_db_path(const char *flag_value)
{
    if (flag_value) {
        return mp_xstrdup(flag_value);
    }
    const char *env = getenv("MORPHLING_DB");
    if (env && *env) {
        return mp_xstrdup(env);
    }
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char *path;
    if (xdg && *xdg) {
        path = mp_xasprintf("%s/morphling/morphling.db", xdg);
    } else if (home && *home) {
        path = mp_xasprintf("%s/.local/share/morphling/morphling.db", home);
    } else {
        return mp_xstrdup("morphling.db");
    }
    mkdirs(path);
    return path;
}

/* The experiment ref names none of the store's: says what the store holds instead, the name
 * meant when ref is a slip of one ("replay-dem"), else the names (a run with --db, then a show
 * without it, reads another store). */
static int experiment_not_found(struct mp_store *st, const char *ref, struct mp_error *err)
{
    struct mp_experiment_row *rows = NULL;
    size_t n = 0;
    int rc = mp_store_experiment_list(st, &rows, &n, err);
    if (rc != 0) {
        return rc;
    }
    const char **names = mp_xcalloc(n + 1, sizeof(char *));
    struct mp_buf held = MP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        names[i] = rows[i].name;
        if (i < 3) {
            mp_buf_addf(&held, "%s%s", i ? ", " : "", rows[i].name);
        }
    }
    if (n > 3) {
        mp_buf_adds(&held, ", ... (morphling list)");
    }
    const char *meant = mp_suggest(ref, names);
    if (meant) {
        rc = mp_error_set(err, MP_ENOTFOUND, "no experiment '%s' in %s; did you mean '%s'?", ref,
                          mp_store_path(st), meant);
    } else if (n == 0) {
        rc = mp_error_set(err, MP_ENOTFOUND,
                          "no experiment '%s' in %s (it holds none; another store: --db PATH or "
                          "$MORPHLING_DB)",
                          ref, mp_store_path(st));
    } else {
        rc = mp_error_set(err, MP_ENOTFOUND,
                          "no experiment '%s' in %s (it holds %zu experiment%s: %s; another "
                          "store: --db PATH or $MORPHLING_DB)",
                          ref, mp_store_path(st), n, n == 1 ? "" : "s", held.data ? held.data : "");
    }
    mp_buf_release(&held);
    free(names);
    mp_experiment_rows_free(rows, n);
    return rc;
}

int mp_cli_open_store(const char *db, const char *ref, struct mp_store **st, struct mp_error *err)
{
    const struct mp_store_opts o = {.existing = true};
    int rc = mp_store_open(db, &o, st, err);
    if (rc == MP_ENOTFOUND && err) {
        /* A run with --db, then a show without it, finds no store at the default path. */
        char msg[MP_ERROR_MSG_MAX];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        mp_error_set(err, rc, "%s; another store: --db PATH or $MORPHLING_DB", msg);
    }
    if (rc == MP_ENOTFOUND && ref) {
        return mp_error_prefix(err, rc, "no experiment '%s'", ref);
    }
    if (rc == 0 && ref) {
        struct mp_experiment_row row = {0};
        rc = mp_store_experiment_find(*st, ref, &row, err);
        mp_experiment_row_release(&row);
        if (rc == MP_ENOTFOUND) {
            rc = experiment_not_found(*st, ref, err);
        }
    }
    return rc;
}

int mp_cli_add_files(const char *verb, const char *path, const char *suffix, size_t max,
                     struct mp_cli_paths *files)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return mp_cli_usage(verb, "'%s': no such file or folder", path);
    }
    char **found = NULL;
    size_t n = 0;
    struct mp_error err = {0};
    if (!S_ISDIR(st.st_mode)) {
        found = mp_xcalloc(1, sizeof(char *));
        found[n++] = mp_xstrdup(path);
    } else if (mp_dir_files(path, suffix, max, &found, &n, &err) != 0) {
        return mp_cli_usage(verb, "%s", err.msg);
    }
    int rc = 0;
    if (n == 0) {
        rc = mp_cli_usage(verb, "'%s': no %s%sfiles in that folder", path, suffix ? suffix : "",
                          suffix ? " " : "");
    } else if (files->n + n > max) {
        rc = mp_cli_usage(verb, "more than %zu files", max);
    }
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            files->v = mp_xreallocarray(files->v, files->n + 1, sizeof(*files->v));
            files->v[files->n++] = found[i];
        } else {
            free(found[i]);
        }
    }
    free(found);
    return rc;
}

void mp_cli_paths_drop_duplicates(struct mp_cli_paths *files)
{
    struct stat *seen = mp_xcalloc(files->n + 1, sizeof(*seen));
    size_t kept = 0;
    for (size_t i = 0; i < files->n; i++) {
        struct stat st;
        bool dup = false;
        if (stat(files->v[i], &st) == 0) {
            for (size_t j = 0; j < kept && !dup; j++) {
                dup = seen[j].st_ino != 0 && seen[j].st_dev == st.st_dev &&
                      seen[j].st_ino == st.st_ino;
            }
        } else {
            memset(&st, 0, sizeof(st)); /* no inode is 0: never a duplicate; loading says why */
        }
        if (dup) {
            free(files->v[i]);
            continue;
        }
        seen[kept] = st;
        files->v[kept++] = files->v[i];
    }
    files->n = kept;
    free(seen);
}

int mp_cli_check_roles_seen(const struct mp_cli_list *roles, const bool *seen, struct mp_error *err)
{
    for (size_t i = 0; i < roles->n; i++) {
        if (!seen[i]) {
            return mp_error_set(err, MP_EINVALID, "--role %s: no surface has a column '%.*s'",
                                roles->v[i], (int)strcspn(roles->v[i], "="), roles->v[i]);
        }
    }
    return 0;
}

void mp_cli_paths_release(struct mp_cli_paths *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i]);
    }
    free(p->v);
    memset(p, 0, sizeof(*p));
}

/* The signal that interrupted, for the exit status (0: none yet). */
static volatile sig_atomic_t interrupt_signal;

/* The first interrupt cancels (a trial's service gets SIGTERM and its grace period); a second
 * one hurries: what is left is killed at once instead of after up to an hour's grace. */
static void on_interrupt(int sig)
{
    interrupt_signal = sig;
    if (atomic_exchange(&mp_cli_interrupted, true)) {
        atomic_store(&mp_runner_hurry, true);
    }
}

int mp_cli_interrupted_status(void)
{
    return interrupt_signal > 0 ? 128 + interrupt_signal : MP_EXIT_INTERRUPTED;
}

void mp_cli_catch_interrupts(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved_int);
    sigaction(SIGTERM, &sa, &saved_term);
}

void mp_cli_restore_interrupts(void)
{
    sigaction(SIGINT, &saved_int, NULL);
    sigaction(SIGTERM, &saved_term, NULL);
}
