/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: the surface CSV reader, the choice of columns, space inference and the row
 * index. */
#include <stdint.h>
#include <stdlib.h>

#include "surface/surface.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mp_surface *s = NULL;
    if (mp_surface_parse((const char *)data, size, "fuzz.csv", &s, NULL) != 0) {
        return 0;
    }
    struct mp_surface_columns picked;
    if (mp_surface_columns(s, NULL, 0, NULL, &picked, NULL) == 0) {
        mp_surface_columns_release(&picked);
    }
    int *cols = mp_xcalloc(s->n_cols + 1, sizeof(int));
    size_t n = s->n_cols > 1 ? s->n_cols - 1 : s->n_cols;
    for (size_t i = 0; i < n; i++) {
        cols[i] = (int)i;
    }
    struct mp_space space = {0};
    mp_surface_infer_space(s, cols, n, &space);
    struct mp_surface_index *idx = NULL;
    if (mp_surface_index_new(s, &space, &idx, NULL) == 0) {
        double *x = mp_xcalloc(space.n + 1, sizeof(double));
        uint64_t count;
        if (mp_space_count(&space, &count) && count > 0) {
            mp_space_from_index(&space, count - 1, x);
            (void)mp_surface_index_lookup(idx, x);
        }
        free(x);
        mp_surface_index_free(idx);
    }
    mp_space_release(&space);
    free(cols);
    mp_surface_free(s);
    return 0;
}
