/* SPDX-License-Identifier: Apache-2.0 */
/* Typed access to document nodes with positioned errors, path overrides and JSON output. */
#include "doc/doc_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mp_doc_error(struct mp_error *err, const struct mp_node *node, const char *fmt, ...)
{
    char msg[MP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* At the root there is no field to name ("'': expected a mapping"). */
    if (!node->path || !*node->path) {
        return mp_error_set(err, MP_EINVALID, "%s:%u:%u: %s", node->file, node->line, node->col,
                            msg);
    }
    return mp_error_set(err, MP_EINVALID, "%s:%u:%u: '%s': %s", node->file, node->line, node->col,
                        node->path, msg);
}

struct mp_node *mp_doc_get(const struct mp_node *map, const char *key)
{
    if (!map || map->kind != MP_NODE_MAP) {
        return NULL;
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            return map->items[i];
        }
    }
    return NULL;
}

const struct mp_node *mp_doc_value(const struct mp_node *map, const char *key)
{
    const struct mp_node *v = mp_doc_get(map, key);
    return mp_doc_is_null(v) ? NULL : v;
}

int mp_doc_check_keys(const struct mp_node *map, const char *const *known, struct mp_error *err)
{
    if (!map || map->kind != MP_NODE_MAP) {
        return 0;
    }
    for (size_t i = 0; i < map->n; i++) {
        bool found = false;
        for (const char *const *k = known; *k && !found; k++) {
            found = strcmp(*k, map->keys[i]) == 0;
        }
        if (found) {
            continue;
        }
        const struct mp_node *item = map->items[i];
        /* A key added by --set has its value's source, not the map's; a value moved into
         * another map under its own key (a ProfilingExperiment's spec.runner) keeps the path it
         * was written at. */
        const char *file = item->file ? item->file : map->file;
        size_t lp = item->path ? strlen(item->path) : 0, lk = strlen(map->keys[i]);
        bool moved = lp > lk && item->path[lp - lk - 1] == '.' &&
                     strcmp(item->path + lp - lk, map->keys[i]) == 0;
        char *path = moved                     ? mp_xstrdup(item->path)
                     : map->path && *map->path ? mp_xasprintf("%s.%s", map->path, map->keys[i])
                                               : mp_xstrdup(map->keys[i]);
        /* A key of a megabyte left no room for the message itself. */
        char *shown = mp_doc_short_path(path);
        free(path);
        path = shown;
        /* The closest key, else every key this map may have. */
        const char *best = mp_suggest(map->keys[i], known);
        struct mp_buf hint = {0};
        if (best) {
            mp_buf_addf(&hint, "; did you mean '%s'?", best);
        }
        for (const char *const *k = known; !best && *k; k++) {
            mp_buf_addf(&hint, "%s%s", k == known ? " (the keys here: " : ", ", *k);
        }
        if (!best && *known) {
            mp_buf_adds(&hint, ")");
        }
        int rc = mp_error_set(err, MP_EINVALID, "%s:%u:%u: '%s': unknown key%s", file,
                              map->key_line[i], map->key_col[i], path, hint.data ? hint.data : "");
        mp_buf_release(&hint);
        free(path);
        return rc;
    }
    return 0;
}

static const char *kind_name(const struct mp_node *n)
{
    switch (n->kind) {
    case MP_NODE_MAP:
        return "a mapping";
    case MP_NODE_SEQ:
        return "a list";
    default:
        return "a scalar";
    }
}

/* What a value is, for "expected X, got Y": null, "its text", a mapping or a list. */
static const char *describe(const struct mp_node *n, char *buf, size_t len)
{
    if (n->kind != MP_NODE_SCALAR) {
        return kind_name(n);
    }
    if (mp_doc_is_null(n)) {
        return "null";
    }
    snprintf(buf, len, "\"%s\"", n->scalar);
    return buf;
}

int mp_doc_expect(const struct mp_node *n, enum mp_node_kind kind, struct mp_error *err)
{
    if (n->kind == kind) {
        return 0;
    }
    struct mp_node want = {.kind = kind};
    char buf[MP_ERROR_MSG_MAX];
    return mp_doc_error(err, n, "expected %s, got %s", kind_name(&want),
                        describe(n, buf, sizeof(buf)));
}

/* YAML 1.2's core schema: null, Null, NULL, ~ or nothing; true, True, TRUE; false, False, FALSE
 * (a `workdir: NULL` was a folder named NULL). */
static bool one_of(const char *s, const char *lower, const char *title, const char *upper)
{
    return strcmp(s, lower) == 0 || strcmp(s, title) == 0 || strcmp(s, upper) == 0;
}

bool mp_doc_is_null(const struct mp_node *n)
{
    return !n || (n->kind == MP_NODE_SCALAR && !n->quoted &&
                  (one_of(n->scalar, "null", "Null", "NULL") || strcmp(n->scalar, "~") == 0 ||
                   n->scalar[0] == '\0'));
}

int mp_doc_string(const struct mp_node *n, const char **out, struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    if (n->kind != MP_NODE_SCALAR || mp_doc_is_null(n)) {
        char buf[MP_ERROR_MSG_MAX];
        return mp_doc_error(err, n, "expected a string, got %s", describe(n, buf, sizeof(buf)));
    }
    *out = n->scalar;
    return 0;
}

int mp_doc_number(const struct mp_node *n, double *out, struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    if (n->kind != MP_NODE_SCALAR || mp_parse_double(n->scalar, out) != 0) {
        char buf[MP_ERROR_MSG_MAX];
        return mp_doc_error(err, n, "expected a number, got %s", describe(n, buf, sizeof(buf)));
    }
    return 0;
}

int mp_doc_int(const struct mp_node *n, int64_t min, int64_t max, int64_t *out,
               struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    int64_t v;
    if (n->kind != MP_NODE_SCALAR || mp_parse_int64(n->scalar, &v) != 0) {
        char buf[MP_ERROR_MSG_MAX];
        return mp_doc_error(err, n, "expected an integer, got %s", describe(n, buf, sizeof(buf)));
    }
    if (v < min || v > max) {
        return mp_doc_error(err, n, "expected an integer in [%lld, %lld], got \"%s\"",
                            (long long)min, (long long)max, n->scalar);
    }
    *out = v;
    return 0;
}

int mp_doc_bool(const struct mp_node *n, bool *out, struct mp_error *err)
{
    if (!n) {
        return 0;
    }
    if (n->kind == MP_NODE_SCALAR && one_of(n->scalar, "true", "True", "TRUE")) {
        *out = true;
        return 0;
    }
    if (n->kind == MP_NODE_SCALAR && one_of(n->scalar, "false", "False", "FALSE")) {
        *out = false;
        return 0;
    }
    char buf[MP_ERROR_MSG_MAX];
    return mp_doc_error(err, n, "expected true or false, got %s", describe(n, buf, sizeof(buf)));
}

int mp_doc_require(const struct mp_node *map, const char *key, struct mp_node **out,
                   struct mp_error *err)
{
    struct mp_node *n = mp_doc_get(map, key);
    if (!n) {
        const char *p = map->path && *map->path ? map->path : "";
        return mp_error_set(err, MP_EINVALID, "%s:%u:%u: '%s%s%s': required key is missing",
                            map->file, map->line, map->col, p, *p ? "." : "", key);
    }
    *out = n;
    return 0;
}

/* --set paths ------------------------------------------------------------------------------ */

void mp_doc_map_put(struct mp_node *map, const char *key, struct mp_node *value)
{
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->keys[i], key) == 0) {
            mp_doc_free(map->items[i]);
            map->items[i] = value;
            return;
        }
    }
    map->items = mp_xreallocarray(map->items, map->n + 1, sizeof(*map->items));
    map->keys = mp_xreallocarray(map->keys, map->n + 1, sizeof(*map->keys));
    map->key_line = mp_xreallocarray(map->key_line, map->n + 1, sizeof(unsigned));
    map->key_col = mp_xreallocarray(map->key_col, map->n + 1, sizeof(unsigned));
    map->items[map->n] = value;
    map->keys[map->n] = mp_xstrdup(key);
    map->key_line[map->n] = value->line;
    map->key_col[map->n] = value->col;
    map->n++;
}

/* In a list of maps, the item whose `name` equals name. */
static struct mp_node *seq_find_named(const struct mp_node *seq, const char *name)
{
    for (size_t i = 0; i < seq->n; i++) {
        struct mp_node *nm = mp_doc_get(seq->items[i], "name");
        if (nm && nm->kind == MP_NODE_SCALAR && strcmp(nm->scalar, name) == 0) {
            return seq->items[i];
        }
    }
    return NULL;
}

/* Splits "a.b[2].c" into segments; "[2]" becomes its own segment "[2]". In a key, "\." is a dot
 * and "\\" a backslash, as Helm's --set writes them ('labels.app\.kubernetes\.io/name':
 * label keys and resource names hold dots). */
static size_t split_path(const char *path, char segs[][128], size_t max)
{
    size_t n = 0;
    const char *p = path;
    while (*p && n < max) {
        size_t len = 0;
        if (*p == '[') {
            while (p[len] && p[len] != ']' && len < 127) {
                segs[n][len] = p[len];
                len++;
            }
            if (p[len] == ']' && len < 127) {
                segs[n][len++] = ']';
            }
            p += len;
        } else {
            for (; *p && *p != '.' && *p != '[' && len < 127; p++) {
                p += *p == '\\' && (p[1] == '.' || p[1] == '\\');
                segs[n][len++] = *p;
            }
        }
        if (len == 0 || len >= 127) {
            return 0;
        }
        segs[n][len] = '\0';
        n++;
        if (*p == '.') {
            p++;
            if (!*p) {
                return 0;
            }
        }
    }
    return *p ? 0 : n;
}

/* Removes KEY from map n, if there. */
static void map_remove(struct mp_node *n, const char *key)
{
    for (size_t i = 0; i < n->n; i++) {
        if (strcmp(n->keys[i], key) == 0) {
            mp_doc_free(n->items[i]);
            free(n->keys[i]);
            size_t rest = n->n - i - 1;
            memmove(n->items + i, n->items + i + 1, rest * sizeof(*n->items));
            memmove(n->keys + i, n->keys + i + 1, rest * sizeof(*n->keys));
            memmove(n->key_line + i, n->key_line + i + 1, rest * sizeof(*n->key_line));
            memmove(n->key_col + i, n->key_col + i + 1, rest * sizeof(*n->key_col));
            n->n--;
            return;
        }
    }
}

/* null or ~ said, not an empty value: a removal (KEY=null), where "KEY=" or `{key: }` is null. */
static bool says_null(const struct mp_node *v)
{
    return mp_doc_is_null(v) && v->scalar[0] != '\0';
}

/* The members of a map value (maps within it too) that say null, removed: set where no map was
 * to merge into, it means what a --set of each key means, and KEY=null of an absent KEY is none. */
static void drop_nulls(struct mp_node *v)
{
    for (size_t i = v->kind == MP_NODE_MAP ? v->n : 0; i-- > 0;) {
        if (says_null(v->items[i])) {
            map_remove(v, v->keys[i]);
        } else {
            drop_nulls(v->items[i]);
        }
    }
}

/* A map set onto a map merges into it key by key (maps within maps too), as a `--set` of each
 * key would: `--set 'algorithm={name: grid}'` replaced the whole section and dropped its
 * max_trials and seed without a word. A member that says null removes its key, as KEY=null
 * does. Takes src. */
static void merge_map(struct mp_node *dst, struct mp_node *src)
{
    for (size_t i = 0; i < src->n; i++) {
        struct mp_node *old = mp_doc_get(dst, src->keys[i]);
        if (says_null(src->items[i])) {
            map_remove(dst, src->keys[i]);
            mp_doc_free(src->items[i]);
        } else if (old && old->kind == MP_NODE_MAP && src->items[i]->kind == MP_NODE_MAP) {
            merge_map(old, src->items[i]);
        } else {
            drop_nulls(src->items[i]);
            mp_doc_map_put(dst, src->keys[i], src->items[i]);
        }
        src->items[i] = NULL;
    }
    mp_doc_free(src);
}

/* The item number of a "[N]" path segment, -1 when N is not decimal digits only (strtol took
 * "[ 1]", "[+1]" and "[-0]" as item 1 and 0). */
static long list_index(const char *seg)
{
    size_t digits = strspn(seg + 1, "0123456789");
    return digits && seg[1 + digits] == ']' ? strtol(seg + 1, NULL, 10) : -1;
}

/* here: the path of *cur as the --set wrote it, for messages. */
static int step_into(struct mp_node **cur, const char *seg, const char *here, bool last,
                     struct mp_node *value, const char *source, struct mp_error *err)
{
    struct mp_node *n = *cur;
    if (seg[0] == '[') {
        long idx = list_index(seg);
        if (n->kind != MP_NODE_SEQ || idx < 0 || (size_t)idx >= n->n) {
            /* A map that this --set created has no path yet. */
            return mp_error_set(err, MP_EINVALID, "%s: '%s': no list item %s here", source,
                                n->path ? n->path : here, seg);
        }
        if (last && n->items[idx]->kind == MP_NODE_MAP && value->kind == MP_NODE_MAP) {
            merge_map(n->items[idx], value);
        } else if (last) {
            drop_nulls(value);
            mp_doc_free(n->items[idx]);
            n->items[idx] = value;
        }
        *cur = n->items[idx];
        return 0;
    }
    if (n->kind == MP_NODE_SEQ) {
        struct mp_node *item = seq_find_named(n, seg);
        if (!item) {
            return mp_error_set(err, MP_EINVALID, "%s: '%s': no item named '%s'", source, n->path,
                                seg);
        }
        if (last) {
            return mp_error_set(
                err, MP_EINVALID,
                "%s: '%s.%s' is a whole item; set one of its fields ('%s.%s.FIELD')", source,
                n->path, seg, n->path, seg);
        }
        *cur = item;
        return 0;
    }
    if (n->kind != MP_NODE_MAP) {
        return mp_error_set(err, MP_EINVALID, "%s: '%s' is a scalar, cannot set '%s' inside it",
                            source, n->path, seg);
    }
    struct mp_node *child = mp_doc_get(n, seg);
    if (last && child && child->kind == MP_NODE_MAP && value->kind == MP_NODE_MAP) {
        merge_map(child, value);
        *cur = child;
        return 0;
    }
    if (last) {
        drop_nulls(value);
        mp_doc_map_put(n, seg, value);
        *cur = value;
        return 0;
    }
    if (!child) {
        child = mp_xcalloc(1, sizeof(*child));
        child->kind = MP_NODE_MAP;
        child->file = mp_xstrdup(value->file);
        child->line = value->line;
        child->col = value->col;
        mp_doc_map_put(n, seg, child);
    }
    *cur = child;
    return 0;
}

/* The node at seg under n, as step_into finds it, or NULL: nothing is created. */
static struct mp_node *existing(const struct mp_node *n, const char *seg)
{
    if (seg[0] == '[') {
        long idx = list_index(seg);
        return n->kind == MP_NODE_SEQ && idx >= 0 && (size_t)idx < n->n ? n->items[idx] : NULL;
    }
    return n->kind == MP_NODE_SEQ ? seq_find_named(n, seg) : mp_doc_get(n, seg);
}

const struct mp_node *mp_doc_find(const struct mp_node *root, const char *path)
{
    char segs[32][128];
    size_t n = split_path(path, segs, 32);
    const struct mp_node *cur = root;
    for (size_t i = 0; i < n && cur; i++) {
        const struct mp_node *next = existing(cur, segs[i]);
        if (!next) {
            break;
        }
        cur = next;
    }
    return cur;
}

/* KEY=null (or ~) removes KEY, so that the spec means what it means without it (a field that
 * takes no null, algorithm.seed, said "expected an integer, got null"); an absent KEY is no
 * error. */
static int unset_path(struct mp_node *root, char (*segs)[128], size_t n, const char *path,
                      const char *source, struct mp_error *err)
{
    struct mp_node *cur = root;
    for (size_t i = 0; i + 1 < n && cur; i++) {
        cur = existing(cur, segs[i]);
    }
    if (!cur) {
        return 0;
    }
    if (cur->kind != MP_NODE_MAP || segs[n - 1][0] == '[') {
        return mp_error_set(err, MP_EINVALID,
                            "%s: '%s' is not a key of a mapping: only those can be removed "
                            "(KEY=null); set the whole list instead",
                            source, path);
    }
    map_remove(cur, segs[n - 1]);
    return 0;
}

int mp_doc_set_path(struct mp_node *root, const char *path, const char *value, const char *source,
                    struct mp_error *err)
{
    char segs[32][128];
    size_t n = split_path(path, segs, 32);
    if (n == 0) {
        return mp_error_set(err, MP_EINVALID, "%s: '%s' is not a valid key path", source, path);
    }
    /* Positions and messages point into the --set argument: the value starts after "key=". */
    unsigned col0 = (unsigned)strlen(path) + 1;
    struct mp_node *v = NULL;
    int rc = mp_doc_parse_at(value, strlen(value), source, col0, path, &v, err);
    if (rc == MP_EINVALID) {
        /* "key=" is null, as "key:" is in YAML, and the field says whether it takes one. */
        mp_error_clear(err);
        v = mp_xcalloc(1, sizeof(*v));
        v->kind = MP_NODE_SCALAR;
        v->file = mp_xstrdup(source);
        v->line = 1;
        v->col = col0 + 1;
        v->scalar = mp_xstrdup("");
    } else if (rc != 0) {
        return rc;
    }
    if (says_null(v)) {
        /* An empty value ("key=", a shell variable left unset) is no removal. */
        mp_doc_free(v);
        return unset_path(root, segs, n, path, source, err);
    }
    struct mp_node *cur = root;
    struct mp_buf here = MP_BUF_INIT;
    mp_buf_adds(&here, "");
    for (size_t i = 0; i < n; i++) {
        rc = step_into(&cur, segs[i], here.data, i + 1 == n, v, source, err);
        if (rc != 0) {
            mp_buf_release(&here);
            mp_doc_free(v);
            return rc;
        }
        mp_buf_adds(&here, here.len && segs[i][0] != '[' ? "." : "");
        mp_buf_adds(&here, segs[i]);
    }
    mp_buf_release(&here);
    /* Paths are recomputed from the root so messages name the full key. */
    mp_doc_assign_paths(root, "");
    return 0;
}

/* JSON ------------------------------------------------------------------------------------ */

/* The JSON number a plain scalar reads as, or NULL; with same_text, only when that number is
 * written back as the same text ("0.5", not "0.50", "+1" or "1e3"). */
static json_t *number_json(const char *s, bool same_text)
{
    char buf[MP_FMT_DOUBLE_MAX];
    int64_t i;
    double d;
    if (mp_parse_int64(s, &i) == 0) {
        snprintf(buf, sizeof(buf), "%lld", (long long)i);
        return !same_text || strcmp(buf, s) == 0 ? json_integer(i) : NULL;
    }
    if (mp_parse_double(s, &d) == 0) {
        return !same_text || strcmp(mp_fmt_double(buf, d), s) == 0 ? json_real(d) : NULL;
    }
    return NULL;
}

void mp_doc_keep_text(struct mp_node *n)
{
    if (!n || n->kind != MP_NODE_SCALAR || n->quoted) {
        return;
    }
    json_t *loose = number_json(n->scalar, false), *exact = number_json(n->scalar, true);
    n->quoted = loose && !exact;
    json_decref(loose);
    json_decref(exact);
}

static json_t *scalar_json(const struct mp_node *n)
{
    if (!n->quoted) {
        if (mp_doc_is_null(n)) {
            return json_null();
        }
        if (strcmp(n->scalar, "true") == 0 || strcmp(n->scalar, "false") == 0) {
            return json_boolean(n->scalar[0] == 't');
        }
        json_t *num = number_json(n->scalar, false);
        if (num) {
            return num;
        }
    }
    return json_string(n->scalar);
}

static json_t *node_json(const struct mp_node *n)
{
    if (n->kind == MP_NODE_SCALAR) {
        return scalar_json(n);
    }
    json_t *j = n->kind == MP_NODE_MAP ? json_object() : json_array();
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == MP_NODE_MAP) {
            json_object_set_new(j, n->keys[i], node_json(n->items[i]));
        } else {
            json_array_append_new(j, node_json(n->items[i]));
        }
    }
    return j;
}

char *mp_doc_to_json(const struct mp_node *n)
{
    json_t *j = node_json(n);
    char *out = mp_json_dumps(j, 0);
    json_decref(j);
    return out;
}
