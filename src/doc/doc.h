/* SPDX-License-Identifier: Apache-2.0 */
/* Document trees: YAML (and JSON, which is read as YAML flow syntax) parsed into nodes that
 * remember their source position, so every consumer can report FILE:LINE:COL errors. Aliases
 * are expanded with a bound on the total node count (alias bombs), and documents are bounded in
 * size. Typed getters produce errors of the form
 *   FILE:LINE:COL: 'path.to[2].field': expected a positive number, got "0"
 *
 * Ownership: mp_doc_parse returns an owned tree freed with mp_doc_free; nodes borrowed from a
 * tree live as long as the tree. Getters copy nothing unless they say "owned".
 * Thread-safety: a tree may be read concurrently; mutation (mp_doc_set_path) is single-threaded. */
#ifndef MP_DOC_H
#define MP_DOC_H

#include <stdio.h>

#include "core/core.h"

#define MP_DOC_MAX_BYTES          (1u << 20)  /* a spec or a file it names (mp_doc_load) */
#define MP_DOC_MAX_PARSE_BYTES    (8u << 20)  /* any text mp_doc_parse takes (a kubeconfig) */
#define MP_DOC_MAX_NODES          100000u     /* after alias expansion */
#define MP_DOC_MAX_DEPTH          64u         /* after alias expansion */
#define MP_DOC_MAX_EXPANDED_BYTES (16u << 20) /* scalar and key text after alias expansion */
#define MP_DOC_MAX_PATH           256u /* a longer path is kept as "..." and its last bytes */

enum mp_node_kind { MP_NODE_SCALAR, MP_NODE_SEQ, MP_NODE_MAP };

struct mp_node {
    enum mp_node_kind kind;
    char *file; /* shared string owned by the tree root (source name) */
    unsigned line, col;
    char *scalar;           /* SCALAR: text */
    bool quoted;            /* SCALAR: written in quotes, so never a number/bool/null */
    size_t n;               /* SEQ/MAP: number of items/pairs */
    char **keys;            /* MAP: keys */
    struct mp_node **items; /* SEQ items / MAP values */
    unsigned *key_line, *key_col;
    char *path; /* "a.b[2].c" from the root ("...b[2].c" past MP_DOC_MAX_PATH bytes) */
};

/* Parses text (len bytes) named `file` for messages. Returns a MAP, SEQ or SCALAR root. */
int mp_doc_parse(const char *text, size_t len, const char *file, struct mp_node **out,
                 struct mp_error *err) MP_WUR;
int mp_doc_load(const char *path, struct mp_node **out, struct mp_error *err) MP_WUR;
void mp_doc_free(struct mp_node *root);

/* Map lookup; NULL when absent or when node is not a map. */
struct mp_node *mp_doc_get(const struct mp_node *map, const char *key);
/* The value of key in map, NULL when absent or null (`key:`, `key: ~`): for optional keys
 * whose null means "the default". */
const struct mp_node *mp_doc_value(const struct mp_node *map, const char *key);
/* Rejects keys of map not in known[] (NULL-terminated), suggesting the closest. */
int mp_doc_check_keys(const struct mp_node *map, const char *const *known,
                      struct mp_error *err) MP_WUR;
/* Error at a node: "FILE:LINE:COL: 'path': <message>". Returns code. */
int mp_doc_error(struct mp_error *err, const struct mp_node *node, const char *fmt, ...)
    MP_PRINTF(3, 4);

/* Typed reads. A missing key (node NULL) leaves *out unchanged and returns 0 unless the
 * _req variant is used, which names the missing key at the parent map. */
bool mp_doc_is_null(const struct mp_node *n);
int mp_doc_string(const struct mp_node *n, const char **out, struct mp_error *err) MP_WUR;
int mp_doc_number(const struct mp_node *n, double *out, struct mp_error *err) MP_WUR;
int mp_doc_int(const struct mp_node *n, int64_t min, int64_t max, int64_t *out,
               struct mp_error *err) MP_WUR;
int mp_doc_bool(const struct mp_node *n, bool *out, struct mp_error *err) MP_WUR;
int mp_doc_require(const struct mp_node *map, const char *key, struct mp_node **out,
                   struct mp_error *err) MP_WUR;
/* Expects kind; error otherwise. */
int mp_doc_expect(const struct mp_node *n, enum mp_node_kind kind, struct mp_error *err) MP_WUR;

/* Sets the value at a dotted path ("algorithm.max_trials", "parameters[1].max",
 * "parameters.batch.max" where a sequence of maps is indexed by their `name`) to a plain YAML
 * scalar parsed from `value`, creating missing map keys. The new node's position is reported as
 * `source`:1:col. A value that says null (`null`, `~`) removes the key; a map value merges into
 * a map there key by key, its members that say null removing theirs (docs/spec.md). */
int mp_doc_set_path(struct mp_node *root, const char *path, const char *value, const char *source,
                    struct mp_error *err) MP_WUR;

/* The node at a dotted path (as mp_doc_set_path reads it), or the deepest of its ancestors
 * that exists (root when none does): where a message about that field points. Borrowed. */
const struct mp_node *mp_doc_find(const struct mp_node *root, const char *path);

/* Serialises a tree to compact JSON (scalars that look like numbers/bools/null unquoted unless
 * they were quoted). Returns owned. */
char *mp_doc_to_json(const struct mp_node *n);
/* Marks a scalar that its field reads as text, so that mp_doc_to_json writes it as a string
 * when writing the number it looks like would change the text: a command argument "0.10" or
 * "08080", a categorical value "1.0". A number written back the same ("7", "0.5") is left. */
void mp_doc_keep_text(struct mp_node *n);
/* JSON text of a jansson value with numbers in canonical (shortest round-trip) form, since
 * jansson itself writes 17 significant digits (0.1 -> 0.10000000000000001). indent 0 =
 * compact. Returns owned. mp_json_print writes indented JSON and a newline. The value is
 * typed as void to keep jansson out of this header; pass a json_t. */
char *mp_json_dumps(const void *json, int indent);
/* Appends s as a JSON string literal (quoted and escaped). */
void mp_json_quote(struct mp_buf *b, const char *s);
void mp_json_print(FILE *f, const void *json);

/* Sets map[key] = value (owned by the map from now on), replacing and freeing an earlier value
 * of that key; a new key is placed at the value's position. */
void mp_doc_map_put(struct mp_node *map, const char *key, struct mp_node *value);
/* Deep copy (positions kept). */
struct mp_node *mp_doc_clone(const struct mp_node *n);

#endif
