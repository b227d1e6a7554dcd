/* SPDX-License-Identifier: Apache-2.0 */
/* An experiment object as a spec, admitted by the checks `morphling validate` makes. It is parsed
 * as `kubectl get pe NAME -o json` prints it, managedFields hidden (so positions in messages point
 * into that output),
 * confined to the files folder: whoever may create experiments must not make the operator read
 * its own files (its credentials) into a trial. (An original file's requestTemplate is the body
 * itself, load.body_text, and names no file.) A run that has started goes on with the spec it
 * started with, status.runSpec, whatever the spec says now. */
#include "operator/op_int.h"

#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

json_t *op_pe_for_run(const json_t *pe)
{
    const json_t *run_spec = json_object_get(json_object_get(pe, "status"), "runSpec");
    if (!json_is_object(run_spec)) {
        return json_incref((json_t *)pe);
    }
    json_t *copy = json_deep_copy(pe);
    json_object_set_new(copy, "spec", json_deep_copy(run_spec));
    return copy;
}

/* Pods of a template (runner.pod_template, or the client Job's) must not run as the operator's
 * own service account: whoever may create experiments in its namespace would get its rights
 * (Deployments, Jobs and Services in every namespace). */
static int not_as_operator(const struct op *op, const json_t *pe, const struct mp_node *tmpl,
                           struct mp_error *err)
{
    const char *ns = mp_kube_meta(pe, "namespace");
    if (!op->self_sa || !ns || strcmp(ns, op->self_ns) != 0) {
        return 0;
    }
    const struct mp_node *pod = mp_doc_get(tmpl, "spec");
    static const char *const keys[] = {"serviceAccountName", "serviceAccount"};
    for (size_t i = 0; pod && pod->kind == MP_NODE_MAP && i < MP_ARRAY_LEN(keys); i++) {
        const struct mp_node *n = mp_doc_get(pod, keys[i]);
        if (n && n->kind == MP_NODE_SCALAR && strcmp(n->scalar, op->self_sa) == 0) {
            return mp_doc_error(err, n,
                                "the operator's own service account: an experiment's pods may "
                                "not run as the operator");
        }
    }
    return 0;
}

static int check_service_accounts(const struct op *op, const struct mp_spec *spec, const json_t *pe,
                                  struct mp_error *err)
{
    const struct mp_node *client = mp_doc_get(spec->runner_node, "client_template");
    int rc = not_as_operator(op, pe, mp_doc_get(spec->runner_node, "pod_template"), err);
    return rc ? rc
              : not_as_operator(op, pe, mp_doc_get(mp_doc_get(client, "spec"), "template"), err);
}

/* spec.runner's kubeconfig and context, refused for what they are before the spec's files are
 * looked for: a kubeconfig outside --files-dir was refused as a file to put in that folder (or,
 * under an operator without one, to give inline), where it would only be refused next. The
 * kubernetes runner refuses them too (a spec parsed elsewhere). text: pe as the messages count. */
static int no_client_settings(const json_t *pe, const char *text, const char *key,
                              struct mp_error *err)
{
    const json_t *runner = json_object_get(json_object_get(pe, "spec"), "runner");
    const json_t *ctx = json_object_get(runner, "context");
    const json_t *kc = json_object_get(runner, "kubeconfig");
    const char *field = ctx && !json_is_null(ctx) ? "context"
                        : kc && !json_is_null(kc) ? "kubeconfig"
                                                  : NULL;
    if (!field) {
        return 0;
    }
    struct mp_node *root = NULL;
    int rc = mp_doc_parse(text, strlen(text), key, &root, err);
    const struct mp_node *n = mp_doc_get(mp_doc_get(mp_doc_get(root, "spec"), "runner"), field);
    if (rc == 0 && n) {
        rc = mp_doc_error(err, n,
                          "not used here: the operator runs every trial with its own client (its "
                          "service account)");
    }
    mp_doc_free(root);
    return rc;
}

int op_parse(struct op *op, const char *key, const json_t *pe, struct mp_spec **out,
             struct mp_error *err)
{
    /* As kubectl prints it: without metadata.managedFields, which kubectl hides (a message's
     * line counted them, past the spec). */
    json_t *shown = json_copy((json_t *)pe); /* shallow: pe stays as its caller holds it */
    json_t *meta = json_copy(json_object_get(pe, "metadata"));
    if (meta) {
        json_object_del(meta, "managedFields");
        json_object_set_new(shown, "metadata", meta);
    }
    char *text = json_dumps(shown, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(shown);
    struct mp_spec *spec = NULL;
    int rc = no_client_settings(pe, text, key, err);
    if (rc == 0) {
        rc = mp_spec_parse_confined(text, strlen(text), key, op->files_dir, &spec, err);
    }
    free(text);
    /* What `morphling validate` checks besides the spec itself, the runner's part with the
     * operator's own client. */
    if (rc == 0) {
        rc = check_service_accounts(op, spec, pe, err);
    }
    if (rc == 0) {
        rc = mp_engine_validate_search(spec, err);
    }
    if (rc == 0) {
        rc = op_runner_validate(op, spec, pe, err);
    }
    if (rc != 0) {
        mp_spec_free(spec);
        return rc;
    }
    *out = spec;
    return 0;
}
