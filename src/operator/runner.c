/* SPDX-License-Identifier: Apache-2.0 */
/* The operator's default trial runner: the runner the experiment's spec names (a
 * ProfilingExperiment maps to the kubernetes runner), called one trial at a time when it is not
 * concurrent. */
#include "operator/op_int.h"

#include <stdlib.h>

struct default_runner {
    struct mp_runner *r;
    pthread_mutex_t lock;
};

static int create(void *ud, struct mp_kube_client *c, const struct mp_spec *spec, const json_t *pe,
                  void **out, struct mp_error *err)
{
    (void)ud;
    (void)c;
    (void)pe;
    struct mp_runner *r = NULL;
    int rc = mp_runner_new(spec, &r, err);
    if (rc != 0) {
        return rc;
    }
    struct default_runner *d = mp_xcalloc(1, sizeof(*d));
    d->r = r;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return 0;
}

static int run(void *runner, const struct mp_operator_trial *t, const struct mp_trial_request *req,
               struct mp_trial_result *res, const atomic_bool *cancel)
{
    (void)t;
    struct default_runner *d = runner;
    bool serial = !d->r->ops->concurrent;
    if (serial) {
        pthread_mutex_lock(&d->lock);
    }
    int rc = d->r->ops->run(d->r, req, res, cancel);
    if (serial) {
        pthread_mutex_unlock(&d->lock);
    }
    return rc;
}

static void destroy(void *runner)
{
    struct default_runner *d = runner;
    mp_runner_free(d->r);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const struct mp_operator_runner_ops mp_operator_default_runner = {
    .concurrent = true,
    .create = create,
    .run = run,
    .free = destroy,
};
