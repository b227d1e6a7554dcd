/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the sub-commands: error reporting and the store location. */
#include "cli/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int mp_cli_fail(const struct mp_error *err)
{
    fprintf(stderr, "morphling: %s\n", err->msg[0] ? err->msg : mp_strerror(err->code));
    return err->code == MP_EINVALID || err->code == MP_EPARSE || err->code == MP_ETOOBIG
               ? MP_EXIT_USAGE
               : MP_EXIT_FAILURE;
}

int mp_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "morphling%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (cmd) {
        fprintf(stderr, "see 'morphling help %s'\n", cmd);
    }
    return MP_EXIT_USAGE;
}

int mp_cli_split_list(const char *cmd, const char *flag, const char *list, char **buf,
                      const char ***items, size_t *n)
{
    free(*buf);
    *buf = mp_xstrdup(list);
    *n = 0;
    char *save = NULL;
    for (char *t = strtok_r(*buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        *items = mp_xreallocarray(*items, *n + 1, sizeof(**items));
        (*items)[(*n)++] = t;
    }
    return *n ? 0 : mp_cli_usage(cmd, "%s needs a list", flag);
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
