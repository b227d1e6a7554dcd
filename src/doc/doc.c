/* SPDX-License-Identifier: Apache-2.0 */
/* YAML/JSON document trees with positions, built from libyaml's event stream. */
#include "doc/doc_int.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct anchor {
    char *name;
    struct mp_node *node;
};

struct builder {
    yaml_parser_t parser;
    const char *file;
    const char *text; /* the input, for positions of reader errors */
    size_t len;
    struct anchor *anchors;
    size_t n_anchors;
    size_t nodes;       /* including alias expansions */
    size_t aliases;     /* expanded so far */
    size_t bytes;       /* text of scalars and keys, including alias expansions */
    unsigned col0;      /* columns before the text on its first line (a --set value's key) */
    struct mp_buf path; /* of the node being built, for messages */
    struct mp_error *err;
};

static unsigned mark_col(const struct builder *b, const yaml_mark_t *m)
{
    return (unsigned)m->column + 1 + (m->line == 0 ? b->col0 : 0);
}

static struct mp_node *node_new(enum mp_node_kind kind, const char *file, unsigned line,
                                unsigned col)
{
    struct mp_node *n = mp_xcalloc(1, sizeof(*n));
    n->kind = kind;
    n->file = mp_xstrdup(file);
    n->line = line;
    n->col = col;
    return n;
}

void mp_doc_free(struct mp_node *n)
{
    if (!n) {
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        mp_doc_free(n->items[i]);
        if (n->keys) {
            free(n->keys[i]);
        }
    }
    free(n->items);
    free(n->keys);
    free(n->key_line);
    free(n->key_col);
    free(n->scalar);
    free(n->file);
    free(n->path);
    free(n);
}

/* What a subtree adds where it is copied: nodes, text bytes and levels below its root. */
struct extent {
    size_t nodes, bytes;
    unsigned height;
};

static void measure(const struct mp_node *n, unsigned depth, struct extent *e)
{
    e->nodes++;
    e->bytes += n->scalar ? strlen(n->scalar) : 0;
    e->height = depth > e->height ? depth : e->height;
    for (size_t i = 0; i < n->n; i++) {
        e->bytes += n->keys ? strlen(n->keys[i]) : 0;
        measure(n->items[i], depth + 1, e);
    }
}

struct mp_node *mp_doc_clone(const struct mp_node *n)
{
    struct mp_node *c = node_new(n->kind, n->file, n->line, n->col);
    c->scalar = n->scalar ? mp_xstrdup(n->scalar) : NULL;
    c->quoted = n->quoted;
    c->path = n->path ? mp_xstrdup(n->path) : NULL;
    c->n = n->n;
    if (n->n) {
        c->items = mp_xreallocarray(NULL, n->n, sizeof(*c->items));
        for (size_t i = 0; i < n->n; i++) {
            c->items[i] = mp_doc_clone(n->items[i]);
        }
    }
    if (n->kind == MP_NODE_MAP && n->n) {
        c->keys = mp_xreallocarray(NULL, n->n, sizeof(*c->keys));
        c->key_line = mp_xreallocarray(NULL, n->n, sizeof(unsigned));
        c->key_col = mp_xreallocarray(NULL, n->n, sizeof(unsigned));
        for (size_t i = 0; i < n->n; i++) {
            c->keys[i] = mp_xstrdup(n->keys[i]);
            c->key_line[i] = n->key_line[i];
            c->key_col[i] = n->key_col[i];
        }
    }
    return c;
}

/* The path kept in a node: the whole one, or its last MP_DOC_MAX_PATH bytes after "...", so that
 * long keys under a long list cost no more than the list (each of its nodes would otherwise hold
 * a copy of every key above it). */
static char *kept_text(const char *data, size_t len)
{
    if (len <= MP_DOC_MAX_PATH) {
        return mp_xstrndup(data, len);
    }
    const char *tail = data + len - (MP_DOC_MAX_PATH - 3);
    while (((unsigned char)*tail & 0xc0) == 0x80) {
        tail++; /* not inside a UTF-8 sequence */
    }
    return mp_xasprintf("...%s", tail);
}

static char *kept_path(const struct mp_buf *path)
{
    return kept_text(path->data, path->len);
}

char *mp_doc_short_path(const char *path)
{
    return kept_text(path, strlen(path));
}

/* An error at a position inside the document: "FILE:LINE:COL: 'path': message", the path left
 * out at the root. */
static int build_error(struct builder *b, int code, unsigned line, unsigned col, const char *fmt,
                       ...) MP_PRINTF(5, 6);

static int build_error(struct builder *b, int code, unsigned line, unsigned col, const char *fmt,
                       ...)
{
    char msg[MP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (b->path.len == 0) {
        return mp_error_set(b->err, code, "%s:%u:%u: %s", b->file, line, col, msg);
    }
    char *path = kept_path(&b->path);
    int rc = mp_error_set(b->err, code, "%s:%u:%u: '%s': %s", b->file, line, col, path, msg);
    free(path);
    return rc;
}

/* Line and column (1-based, in characters) of a byte offset into the input. libyaml's reader
 * errors (invalid UTF-8, control characters) carry only the offset, and their marks are zero. */
static void offset_position(const struct builder *b, size_t offset, size_t *line, size_t *col)
{
    const unsigned char *u = (const unsigned char *)b->text;
    yaml_encoding_t enc = b->parser.encoding;
    size_t unit = enc == YAML_UTF16LE_ENCODING || enc == YAML_UTF16BE_ENCODING ? 2 : 1;
    size_t i = 0;
    unsigned prev = 0;
    if (unit == 1 && b->len >= 3 && memcmp(u, "\xef\xbb\xbf", 3) == 0) {
        i = 3; /* a BOM is no character */
    } else if (unit == 2) {
        i = 2; /* libyaml reads UTF-16 only after a BOM */
    }
    *line = 1;
    *col = 1;
    for (; i + unit <= offset && i + unit <= b->len; i += unit) {
        unsigned c = unit == 1                      ? u[i]
                     : enc == YAML_UTF16LE_ENCODING ? (unsigned)(u[i] | u[i + 1] << 8)
                                                    : (unsigned)(u[i] << 8 | u[i + 1]);
        if (c == '\r' || (c == '\n' && prev != '\r')) {
            ++*line;
            *col = 1;
        } else if (c != '\n' && (unit == 1 ? (c & 0xc0) != 0x80 : c < 0xdc00 || c > 0xdfff)) {
            ++*col; /* not a UTF-8 continuation byte or a low surrogate */
        }
        prev = c;
    }
}

/* Whether the character at mark m of the text is a tab (libyaml says only that it "cannot start
 * any token", where YAML wants spaces). */
static bool tab_at(const struct builder *b, const yaml_mark_t *m)
{
    size_t i = 0;
    for (size_t line = 0; line < m->line && i < b->len; i++) {
        /* A line ends at LF, CRLF or a lone CR, as libyaml counts lines. */
        line += b->text[i] == '\n' ||
                (b->text[i] == '\r' && (i + 1 == b->len || b->text[i + 1] != '\n'));
    }
    for (size_t col = 0; i < b->len && b->text[i] != '\n' && b->text[i] != '\r'; i++) {
        if (((unsigned char)b->text[i] & 0xc0) == 0x80) {
            continue; /* a UTF-8 continuation byte */
        }
        if (col++ == m->column) {
            return b->text[i] == '\t';
        }
    }
    return false;
}

/* What libyaml's words mean on the common slips (into hint, "" when none is known). */
static void parse_hint(struct builder *b, char *hint, size_t size)
{
    const yaml_parser_t *p = &b->parser;
    const char *problem = p->problem ? p->problem : "", *context = p->context ? p->context : "";
    hint[0] = '\0';
    if (p->error == YAML_READER_ERROR || !p->problem) {
        return;
    }
    if (tab_at(b, &p->problem_mark)) {
        snprintf(hint, size, " (a tab: YAML indents with spaces)");
    } else if (strstr(problem, "did not find expected key") && strstr(context, "block mapping")) {
        snprintf(hint, size,
                 " (a line indented unlike the keys above it: the keys of one "
                 "mapping start in one column)");
    } else if (strstr(problem, "mapping values are not allowed")) {
        snprintf(hint, size,
                 " (a ': ' inside an unquoted value: quote the value; or a key "
                 "indented deeper than the line before it)");
    } else if (strstr(problem, "end of stream") && strstr(context, "quoted scalar")) {
        snprintf(hint, size, " (the quote opened at line %zu, column %u is never closed)",
                 (size_t)p->context_mark.line + 1, (unsigned)mark_col(b, &p->context_mark));
    }
}

static int parse_error(struct builder *b)
{
    const yaml_parser_t *p = &b->parser;
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->context_mark;
    size_t line = m->line + 1, col = mark_col(b, m);
    if (p->error == YAML_READER_ERROR) {
        offset_position(b, p->problem_offset, &line, &col);
        col += line == 1 ? b->col0 : 0;
    }
    char hint[160];
    parse_hint(b, hint, sizeof(hint));
    return mp_error_set(b->err, MP_EPARSE, "%s:%zu:%zu: %s%s%s%s", b->file, line, col,
                        p->problem ? p->problem : "syntax error", p->context ? " " : "",
                        p->context ? p->context : "", hint);
}

#define CORE_TAG "tag:yaml.org,2002:"

/* Tags are not interpreted (a value is read as what its field expects), so one that would change
 * the meaning (!!binary, !!int "5", a custom !Ref) is refused rather than ignored; the
 * non-specific "!" and the core tag of the node's own kind (`want`: str, seq or map) change
 * nothing and pass. */
static int check_tag(struct builder *b, const yaml_char_t *tag, const char *want, unsigned line,
                     unsigned col)
{
    const char *t = (const char *)tag;
    if (!t || strcmp(t, "!") == 0 ||
        (strncmp(t, CORE_TAG, strlen(CORE_TAG)) == 0 && strcmp(t + strlen(CORE_TAG), want) == 0)) {
        return 0;
    }
    bool core = strncmp(t, CORE_TAG, strlen(CORE_TAG)) == 0;
    return build_error(b, MP_EPARSE, line, col,
                       "the tag '%s%.64s' is not supported; write the plain value",
                       core ? "!!" : "", core ? t + strlen(CORE_TAG) : t);
}

static int next_event(struct builder *b, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&b->parser, ev)) {
        return parse_error(b);
    }
    return 0;
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct mp_node **out);

static int remember_anchor(struct builder *b, const yaml_char_t *anchor, struct mp_node *n)
{
    if (!anchor) {
        return 0;
    }
    if (b->n_anchors >= 1000) {
        return build_error(b, MP_ETOOBIG, n->line, n->col, "too many anchors");
    }
    b->anchors = mp_xreallocarray(b->anchors, b->n_anchors + 1, sizeof(*b->anchors));
    b->anchors[b->n_anchors].name = mp_xstrdup((const char *)anchor);
    b->anchors[b->n_anchors].node = n;
    b->n_anchors++;
    return 0;
}

static int count_node(struct builder *b, unsigned line, unsigned col, size_t add)
{
    b->nodes += add;
    if (b->nodes > MP_DOC_MAX_NODES) {
        return b->aliases ? build_error(b, MP_ETOOBIG, line, col,
                                        "document expands to more than %u nodes (alias bomb?)",
                                        MP_DOC_MAX_NODES)
                          : build_error(b, MP_ETOOBIG, line, col, "document has more than %u nodes",
                                        MP_DOC_MAX_NODES);
    }
    return 0;
}

/* A few aliases of one long string expand to gigabytes within the node bound. */
static int count_bytes(struct builder *b, unsigned line, unsigned col, size_t add)
{
    b->bytes += add;
    if (b->bytes > MP_DOC_MAX_EXPANDED_BYTES) {
        return build_error(b, MP_ETOOBIG, line, col,
                           "document expands to more than %u bytes of text (alias bomb?)",
                           MP_DOC_MAX_EXPANDED_BYTES);
    }
    return 0;
}

static int build_alias(struct builder *b, yaml_event_t *ev, unsigned depth, struct mp_node **out)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = mark_col(b, &ev->start_mark);
    const char *name = (const char *)ev->data.alias.anchor;
    for (size_t i = b->n_anchors; i-- > 0;) {
        if (strcmp(b->anchors[i].name, name) == 0) {
            struct extent e = {0};
            measure(b->anchors[i].node, 0, &e);
            b->aliases++;
            if (depth + e.height > MP_DOC_MAX_DEPTH) {
                return build_error(b, MP_ETOOBIG, line, col, "nesting deeper than %u (alias '*%s')",
                                   MP_DOC_MAX_DEPTH, name);
            }
            int rc = count_node(b, line, col, e.nodes);
            if (rc == 0) {
                rc = count_bytes(b, line, col, e.bytes);
            }
            if (rc != 0) {
                return rc;
            }
            *out = mp_doc_clone(b->anchors[i].node);
            return 0;
        }
    }
    return build_error(b, MP_EPARSE, line, col, "unknown alias '*%s'", name);
}

/* Reads a mapping key from ev (deleted) and the event of its value into ev; adds the key to the
 * path. *merge: the key is a plain << (a merge key). */
static int read_key(struct builder *b, const struct mp_node *map, struct mp_strset *seen,
                    yaml_event_t *ev, char **key, unsigned *kl, unsigned *kc, bool *merge)
{
    int rc;
    *kl = (unsigned)ev->start_mark.line + 1;
    *kc = mark_col(b, &ev->start_mark);
    if (ev->type == YAML_ALIAS_EVENT) {
        rc = build_error(b, MP_EPARSE, *kl, *kc, "an alias cannot be a mapping key");
    } else if (ev->type != YAML_SCALAR_EVENT) {
        rc = build_error(b, MP_EPARSE, *kl, *kc, "mapping keys must be scalars");
    } else if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
        rc = build_error(b, MP_EPARSE, *kl, *kc, "a key contains a NUL character");
    } else if ((rc = check_tag(b, ev->data.scalar.tag, "str", *kl, *kc)) == 0) {
        *key = mp_xstrdup((const char *)ev->data.scalar.value);
        *merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag &&
                 strcmp(*key, "<<") == 0;
    }
    yaml_event_delete(ev);
    if (rc != 0 || (rc = count_bytes(b, *kl, *kc, strlen(*key))) != 0) {
        return rc;
    }
    mp_buf_adds(&b->path, b->path.len ? "." : "");
    mp_buf_adds(&b->path, *key);
    if (!mp_strset_add(seen, *key)) {
        for (size_t i = 0; i < map->n; i++) {
            if (strcmp(map->keys[i], *key) == 0) {
                return build_error(b, MP_EPARSE, *kl, *kc, "duplicate key (first at line %u)",
                                   map->key_line[i]);
            }
        }
        return build_error(b, MP_EPARSE, *kl, *kc, "duplicate merge key (<<)");
    }
    return next_event(b, ev);
}

/* Adds child (owned) at the end of n, under key (owned) in a map. */
static void append(struct mp_node *n, char *key, struct mp_node *child, unsigned kl, unsigned kc)
{
    /* Capacity doubles (4, 8, 16, ...): growing by one copied 40 GB under ASan for a list of
     * 100,000 items. */
    if (n->n == 0 || (n->n >= 4 && (n->n & (n->n - 1)) == 0)) {
        size_t cap = n->n ? 2 * n->n : 4;
        n->items = mp_xreallocarray(n->items, cap, sizeof(*n->items));
        if (n->kind == MP_NODE_MAP) {
            n->keys = mp_xreallocarray(n->keys, cap, sizeof(*n->keys));
            n->key_line = mp_xreallocarray(n->key_line, cap, sizeof(unsigned));
            n->key_col = mp_xreallocarray(n->key_col, cap, sizeof(unsigned));
        }
    }
    n->items[n->n] = child;
    if (n->kind == MP_NODE_MAP) {
        n->keys[n->n] = key;
        n->key_line[n->n] = kl;
        n->key_col[n->n] = kc;
    }
    n->n++;
}

/* Moves the keys of from that map lacks (seen holds map's keys) into map. */
static void merge_into(struct mp_node *map, struct mp_node *from, struct mp_strset *seen)
{
    for (size_t i = 0; i < from->n; i++) {
        if (mp_strset_add(seen, from->keys[i])) {
            append(map, from->keys[i], from->items[i], from->key_line[i], from->key_col[i]);
            from->keys[i] = NULL;
            from->items[i] = NULL;
        }
    }
}

/* YAML's merge keys (`<<: *defaults`, `<<: [*a, *b]`): the keys of the merged maps that the
 * map does not set itself, earlier maps in a list first. The merged maps are used up. */
static void apply_merges(struct mp_node *map, struct mp_node **merges, size_t n,
                         struct mp_strset *seen)
{
    for (size_t i = 0; i < n; i++) {
        if (merges[i]->kind == MP_NODE_MAP) {
            merge_into(map, merges[i], seen);
        }
        for (size_t k = 0; merges[i]->kind == MP_NODE_SEQ && k < merges[i]->n; k++) {
            merge_into(map, merges[i]->items[k], seen);
        }
    }
}

static bool mergeable(const struct mp_node *v)
{
    if (v->kind == MP_NODE_SEQ) {
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != MP_NODE_MAP) {
                return false;
            }
        }
    }
    return v->kind != MP_NODE_SCALAR;
}

static int build_children(struct builder *b, struct mp_node *n, unsigned depth,
                          yaml_event_type_t end)
{
    int rc = 0;
    size_t path_len = b->path.len;
    struct mp_strset keys = MP_STRSET_INIT; /* finds a duplicate in a map of 100,000 keys fast */
    struct mp_node **merges = NULL;
    size_t n_merges = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(b, &ev)) != 0) {
            break;
        }
        if (ev.type == end) {
            yaml_event_delete(&ev);
            break;
        }
        char *key = NULL;
        unsigned kl = 0, kc = 0;
        bool merge = false;
        if (n->kind == MP_NODE_MAP) {
            rc = read_key(b, n, &keys, &ev, &key, &kl, &kc, &merge);
        } else {
            mp_buf_addf(&b->path, "[%zu]", n->n);
        }
        struct mp_node *child = NULL;
        if (rc == 0) {
            rc = build_node(b, &ev, depth + 1, &child);
            yaml_event_delete(&ev);
        }
        if (rc == 0 && merge && !mergeable(child)) {
            rc = build_error(b, MP_EPARSE, kl, kc,
                             "a merge key (<<) takes a mapping or a list of mappings");
            mp_doc_free(child);
        }
        if (rc != 0) {
            free(key);
            break;
        }
        b->path.len = path_len;
        b->path.data[path_len] = '\0';
        if (merge) {
            free(key);
            merges = mp_xreallocarray(merges, n_merges + 1, sizeof(*merges));
            merges[n_merges++] = child;
        } else {
            append(n, key, child, kl, kc);
        }
    }
    if (rc == 0) {
        apply_merges(n, merges, n_merges, &keys);
    }
    for (size_t i = 0; i < n_merges; i++) {
        mp_doc_free(merges[i]);
    }
    free(merges);
    mp_strset_release(&keys);
    return rc;
}

static int build_node(struct builder *b, yaml_event_t *ev, unsigned depth, struct mp_node **out)
{
    unsigned line = (unsigned)ev->start_mark.line + 1, col = mark_col(b, &ev->start_mark);
    if (depth > MP_DOC_MAX_DEPTH) {
        return build_error(b, MP_ETOOBIG, line, col, "nesting deeper than %u", MP_DOC_MAX_DEPTH);
    }
    int rc = count_node(b, line, col, 1);
    if (rc != 0) {
        return rc;
    }
    struct mp_node *n = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return build_alias(b, ev, depth, out);
    case YAML_SCALAR_EVENT:
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length)) {
            return build_error(b, MP_EPARSE, line, col, "a value contains a NUL character");
        }
        if ((rc = check_tag(b, ev->data.scalar.tag, "str", line, col)) != 0 ||
            (rc = count_bytes(b, line, col, ev->data.scalar.length)) != 0) {
            return rc;
        }
        n = node_new(MP_NODE_SCALAR, b->file, line, col);
        n->scalar = mp_xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        /* !!str 5 is the string "5", as "5" is */
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || ev->data.scalar.tag;
        rc = remember_anchor(b, ev->data.scalar.anchor, n);
        break;
    case YAML_SEQUENCE_START_EVENT:
        if ((rc = check_tag(b, ev->data.sequence_start.tag, "seq", line, col)) != 0) {
            return rc;
        }
        n = node_new(MP_NODE_SEQ, b->file, line, col);
        rc = build_children(b, n, depth, YAML_SEQUENCE_END_EVENT);
        if (rc == 0) {
            rc = remember_anchor(b, ev->data.sequence_start.anchor, n);
        }
        break;
    case YAML_MAPPING_START_EVENT:
        if ((rc = check_tag(b, ev->data.mapping_start.tag, "map", line, col)) != 0) {
            return rc;
        }
        n = node_new(MP_NODE_MAP, b->file, line, col);
        rc = build_children(b, n, depth, YAML_MAPPING_END_EVENT);
        if (rc == 0) {
            rc = remember_anchor(b, ev->data.mapping_start.anchor, n);
        }
        break;
    default:
        return build_error(b, MP_EPARSE, line, col, "unexpected YAML event");
    }
    if (rc != 0) {
        mp_doc_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

static void assign_paths(struct mp_node *n, struct mp_buf *path)
{
    free(n->path);
    n->path = kept_path(path);
    size_t len = path->len;
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == MP_NODE_MAP) {
            mp_buf_adds(path, len ? "." : "");
            mp_buf_adds(path, n->keys[i]);
        } else {
            mp_buf_addf(path, "[%zu]", i);
        }
        assign_paths(n->items[i], path);
        path->len = len;
        path->data[len] = '\0';
    }
}

void mp_doc_assign_paths(struct mp_node *n, const char *path)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, path);
    assign_paths(n, &b);
    mp_buf_release(&b);
}

/* Reads events up to the document's root node; NULL root for an empty stream. */
static int build_document(struct builder *b, struct mp_node **root)
{
    yaml_event_t ev;
    int rc;
    *root = NULL;
    for (;;) {
        if ((rc = next_event(b, &ev)) != 0) {
            return rc;
        }
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            if ((rc = next_event(b, &ev)) != 0) {
                return rc;
            }
            t = ev.type;
            unsigned line = (unsigned)ev.start_mark.line + 1;
            yaml_event_delete(&ev);
            if (t != YAML_STREAM_END_EVENT) {
                return mp_error_set(b->err, MP_EPARSE,
                                    "%s:%u:1: only one YAML document per file is supported",
                                    b->file, line);
            }
            return 0;
        }
        rc = build_node(b, &ev, 0, root);
        yaml_event_delete(&ev);
        if (rc != 0) {
            return rc;
        }
    }
}

int mp_doc_parse_at(const char *text, size_t len, const char *file, unsigned col0, const char *path,
                    struct mp_node **out, struct mp_error *err)
{
    if (len > MP_DOC_MAX_PARSE_BYTES) {
        return mp_error_set(err, MP_ETOOBIG, "%s: document larger than %u bytes", file,
                            MP_DOC_MAX_PARSE_BYTES);
    }
    struct builder b = {
        .file = file, .text = text, .len = len, .col0 = col0, .path = MP_BUF_INIT, .err = err};
    if (!yaml_parser_initialize(&b.parser)) {
        return mp_error_set(err, -ENOMEM, "%s: cannot initialise the YAML parser", file);
    }
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    mp_buf_adds(&b.path, path);
    struct mp_node *root = NULL;
    int rc = build_document(&b, &root);
    yaml_parser_delete(&b.parser);
    mp_buf_release(&b.path);
    for (size_t i = 0; i < b.n_anchors; i++) {
        free(b.anchors[i].name);
    }
    free(b.anchors);
    if (rc != 0) {
        mp_doc_free(root);
        return rc;
    }
    if (!root) {
        return mp_error_set(err, MP_EINVALID, "%s:1:%u: the document is empty", file, col0 + 1);
    }
    mp_doc_assign_paths(root, path);
    *out = root;
    return 0;
}

int mp_doc_parse(const char *text, size_t len, const char *file, struct mp_node **out,
                 struct mp_error *err)
{
    return mp_doc_parse_at(text, len, file, 0, "", out, err);
}

int mp_doc_load(const char *path, struct mp_node **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    int rc = mp_buf_read_input(&b, path, MP_DOC_MAX_BYTES, err);
    if (rc == 0) {
        rc = mp_doc_parse(b.data, b.len, path, out, err);
    }
    mp_buf_release(&b);
    return rc;
}
