/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/doc only. */
#ifndef MP_DOC_INT_H
#define MP_DOC_INT_H

#include "doc/doc.h"

/* Recomputes every node's path ("a.b[2].c") below n, n itself getting `path`. */
void mp_doc_assign_paths(struct mp_node *n, const char *path);

#endif
