/* SPDX-License-Identifier: Apache-2.0 */
/* Runner registry. */
#include "runner/runner.h"

#include <string.h>

static const struct mp_runner_ops *const registry[] = {
    &mp_runner_replay,
    &mp_runner_local,
    NULL,
};

const struct mp_runner_ops *const *mp_runner_all(void)
{
    return registry;
}

const struct mp_runner_ops *mp_runner_find(const char *name)
{
    for (size_t i = 0; registry[i]; i++) {
        if (strcmp(registry[i]->name, name) == 0) {
            return registry[i];
        }
    }
    return NULL;
}

int mp_runner_new(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    const struct mp_runner_ops *ops = mp_runner_find(spec->runner);
    if (!ops) {
        return mp_error_set(err, MP_EUNSUPPORTED, "%s: runner '%s' is not available in this build",
                            spec->source, spec->runner);
    }
    int rc = ops->create(spec, out, err);
    if (rc == 0) {
        (*out)->ops = ops;
        (*out)->spec = spec;
    }
    return rc;
}

void mp_runner_free(struct mp_runner *r)
{
    if (r) {
        r->ops->free(r);
    }
}
