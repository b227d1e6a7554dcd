/* SPDX-License-Identifier: Apache-2.0 */
/* Paths in specs: resolved against the spec's folder, and for a spec submitted through the API
 * confined to the server's base folder after following symlinks. */
#include "spec/spec_int.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Opening this fails (ENOTDIR) whatever the file system holds. */
#define UNOPENABLE "/dev/null/outside-base-dir"

static char *joined(const struct mp_spec *spec, const char *path)
{
    if (path[0] == '/' || !spec->base_dir) {
        return mp_xstrdup(path);
    }
    return mp_xasprintf("%s/%s", spec->base_dir, path);
}

/* The real path of `path` when it exists and lies inside the spec's base_dir; else NULL. */
static char *confined_path(const struct mp_spec *spec, const char *path)
{
    char base[PATH_MAX], real[PATH_MAX];
    char *full = joined(spec, path);
    bool ok = spec->base_dir && realpath(spec->base_dir, base) && realpath(full, real);
    free(full);
    size_t bl = ok ? strlen(base) : 0;
    /* Inside: the base itself, or below it ("/srv" must not admit "/srv2"). */
    if (ok && strncmp(real, base, bl) == 0 && (real[bl] == '\0' || real[bl] == '/' || bl == 1)) {
        return mp_xstrdup(real);
    }
    return NULL;
}

char *mp_spec_resolve_path(const struct mp_spec *spec, const char *path)
{
    if (!spec->confined) {
        return joined(spec, path);
    }
    char *real = confined_path(spec, path);
    return real ? real : mp_xstrdup(UNOPENABLE);
}

int mp_spec_path(const struct mp_spec *spec, const struct mp_node *node, const char *path,
                 char **out, struct mp_error *err)
{
    *out = NULL;
    if (!spec->confined) {
        *out = joined(spec, path);
        return 0;
    }
    *out = confined_path(spec, path);
    if (*out) {
        return 0;
    }
    /* One message whether the path escapes or is missing: nothing about the file system
     * outside the base folder is revealed. */
    return mp_doc_error(err, node,
                        "not found inside the folder that submitted specs may read (serve's "
                        "--base-dir, the operator's --files-dir)");
}

/* A string field at a dotted place under `map`, if present. */
static int check_field(const struct mp_spec *spec, const struct mp_node *map, const char *key,
                       struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(map, key);
    const char *s = NULL;
    int rc = mp_doc_string(n, &s, err);
    char *path = NULL;
    if (rc == 0 && s) {
        rc = mp_spec_path(spec, n, s, &path, err);
    }
    free(path);
    return rc;
}

int mp_spec_check_paths(const struct mp_spec *spec, struct mp_error *err)
{
    int rc;
    if (!spec->confined) {
        return 0;
    }
    if ((rc = check_field(spec, mp_doc_get(spec->doc, "service"), "workdir", err)) != 0 ||
        (rc = check_field(spec, mp_doc_get(spec->doc, "algorithm"), "prior", err)) != 0 ||
        (rc = check_field(spec, spec->runner_node, "surface", err)) != 0) {
        return rc;
    }
    return check_field(spec, mp_doc_get(spec->runner_node, "load"), "body", err);
}
