/* SPDX-License-Identifier: Apache-2.0 */
/* An experiment object as a spec. It is parsed as `kubectl get pe NAME -o json` prints it (so
 * positions in messages point into that output), confined to the files folder: whoever may
 * create experiments must not make the operator read its own files (its credentials) into a
 * trial. (An original file's requestTemplate is the body itself, load.body_text, and names no
 * file.) */
#include "operator/op_int.h"

#include <stdlib.h>
#include <string.h>

int op_parse(struct op *op, const char *key, const json_t *pe, struct mp_spec **out,
             struct mp_error *err)
{
    char *text = json_dumps(pe, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    int rc = mp_spec_parse_confined(text, strlen(text), key, op->files_dir, out, err);
    free(text);
    return rc;
}
