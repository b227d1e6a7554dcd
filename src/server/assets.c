/* SPDX-License-Identifier: Apache-2.0 */
/* Lookup in the table of dashboard files that the build embeds (scripts/embed-assets.sh writes
 * the table from web/ and uPlot into the build directory). */
#include "server/server_int.h"

#include <string.h>

const struct mp_asset *mp_server_asset(const char *path)
{
    for (size_t i = 0; i < mp_server_assets_count; i++) {
        if (strcmp(mp_server_assets_table[i].path, path) == 0) {
            return &mp_server_assets_table[i];
        }
    }
    return NULL;
}
