/* SPDX-License-Identifier: Apache-2.0 */
/* The operator's default trial runner: the kubernetes runner (src/runner/kubernetes.h) on the
 * operator's own client, each trial's objects owned by its Trial; and the runner's check of an
 * experiment's settings (what its ops->validate does with a kubeconfig) on that client, for
 * every experiment, whatever trial runner runs it. When an experiment's run starts, every
 * object of the experiment's trials is a leftover (a finished trial's, or an older attempt of
 * one the engine is about to re-run), so they are all deleted before the first trial starts:
 * those labelled with the ProfilingExperiment's uid; another run's of the same name (a
 * `morphling run`) stop the experiment instead. */
#include "operator/op_int.h"

#include <stdlib.h>

#include "runner/kubernetes.h"

static int kube_runner(struct mp_kube_client *c, const struct mp_spec *spec, const json_t *pe,
                       struct mp_runner **out, struct mp_error *err)
{
    struct mp_kube_runner_opts ko = {
        .client = c,
        .default_namespace = mp_kube_meta(pe, "namespace"),
        .no_sweep = true,
        /* The experiment's identity, which its Trials' ownerReferences carry too. */
        .run_id = mp_kube_meta(pe, "uid")};
    return mp_kube_runner_new(spec, &ko, out, err);
}

int op_runner_validate(struct op *op, const struct mp_spec *spec, const json_t *pe,
                       struct mp_error *err)
{
    struct mp_runner *r = NULL;
    int rc = kube_runner(op->c, spec, pe, &r, err);
    if (rc == 0) {
        rc = mp_kube_runner_check_pod(r, err);
    }
    mp_runner_free(r);
    return rc;
}

static int create(void *ud, struct mp_kube_client *c, const struct mp_spec *spec, const json_t *pe,
                  void **out, struct mp_error *err)
{
    (void)ud;
    struct mp_runner *r = NULL;
    int rc = kube_runner(c, spec, pe, &r, err);
    size_t deleted = 0;
    if (rc == 0) {
        rc = mp_kube_runner_reconcile(r, spec->name, NULL, NULL, &deleted, err);
    }
    if (rc != 0) {
        mp_runner_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int run(void *runner, const struct mp_operator_trial *t, const struct mp_trial_request *req,
               struct mp_trial_result *res, const atomic_bool *cancel)
{
    return mp_kube_runner_run_owned(runner, req, t->trial, res, cancel);
}

static void destroy(void *runner)
{
    mp_runner_free(runner);
}

const struct mp_operator_runner_ops mp_operator_default_runner = {
    .concurrent = true,
    .create = create,
    .run = run,
    .free = destroy,
};
