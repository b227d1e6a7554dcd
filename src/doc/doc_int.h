/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/doc only. */
#ifndef MP_DOC_INT_H
#define MP_DOC_INT_H

#include "doc/doc.h"

/* Recomputes every node's path ("a.b[2].c") below n, n itself getting `path`. */
void mp_doc_assign_paths(struct mp_node *n, const char *path);

/* path as nodes keep it: whole, or "..." and its last bytes past MP_DOC_MAX_PATH. Owned. */
char *mp_doc_short_path(const char *path);

/* mp_doc_parse for text that starts col0 columns into its first line and sits at `path` in
 * another document (a --set value), so messages give the column and field there. An empty
 * document is MP_EINVALID, other errors MP_EPARSE or MP_ETOOBIG. */
int mp_doc_parse_at(const char *text, size_t len, const char *file, unsigned col0, const char *path,
                    struct mp_node **out, struct mp_error *err) MP_WUR;

#endif
