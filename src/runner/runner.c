/* SPDX-License-Identifier: Apache-2.0 */
/* Runner registry. */
#include "runner/runner.h"

#include <string.h>

static const struct mp_runner_ops *const registry[] = {
    &mp_runner_replay,
    &mp_runner_local,
    &mp_runner_kubernetes,
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

int mp_runner_unavailable(const struct mp_spec *spec, struct mp_error *err)
{
    struct mp_buf known = MP_BUF_INIT;
    for (size_t i = 0; registry[i]; i++) {
        mp_buf_addf(&known, "%s%s", i ? ", " : "", registry[i]->name);
    }
    int rc = mp_error_set(err, MP_EUNSUPPORTED,
                          "%s: runner '%s' is not available in this build (available: %s)",
                          spec->source, spec->runner, known.data);
    mp_buf_release(&known);
    return rc;
}

int mp_runner_new(const struct mp_spec *spec, struct mp_runner **out, struct mp_error *err)
{
    const struct mp_runner_ops *ops = mp_runner_find(spec->runner);
    if (!ops) {
        return mp_runner_unavailable(spec, err);
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
