/* SPDX-License-Identifier: Apache-2.0 */
/* Shared libraries loaded on first use (core.h: mp_dl_load). */
#include "core/core.h"

#include <dlfcn.h>

int mp_dl_load(const char *library, const struct mp_dl_symbol *symbols, size_t n,
               struct mp_error *err)
{
    void *h = dlopen(library, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        return mp_error_set(err, MP_ERUNTIME,
                            "cannot load %s (%s); install the Debian packages of "
                            "deps/debian-packages.txt",
                            library, dlerror());
    }
    for (size_t i = 0; i < n; i++) {
        *symbols[i].slot = dlsym(h, symbols[i].name);
        if (!*symbols[i].slot) {
            return mp_error_set(err, MP_ERUNTIME, "%s lacks %s (too old a version?)", library,
                                symbols[i].name);
        }
    }
    return 0; /* never closed: the functions are used until the process exits */
}
