/* SPDX-License-Identifier: Apache-2.0 */
/* ProfilingExperiment (`morphling.kubedl.io/v1alpha1`, the original Morphling's resource) as an
 * experiment spec: the mapping onto the native spec (docs/spec.md, "ProfilingExperiment"), so
 * that `validate`, `run` and the operator share one parser and one set of messages, and the
 * way back from a configuration to the resource's status fields.
 *
 * mp_spec_parse (and so mp_spec_load) recognises a ProfilingExperiment by itself; these entry
 * points are for callers that hold the object already, such as the operator with a json_t from
 * the API server.
 *
 * Errors name the resource's own field path with its position:
 *   pe.yaml:21:19: 'spec.tunableParameters[0].parameters[1].feasibleSpace.step': expected a
 *   positive number, got "0"
 * For an object read as JSON the position is that of `kubectl get pe NAME -o json` (sorted keys,
 * four spaces), since there is no file.
 *
 * Ownership: stated per function. Thread-safety: pure functions of their arguments. */
#ifndef MP_SPEC_PE_H
#define MP_SPEC_PE_H

#include <jansson.h>

#include "doc/doc.h"
#include "spec/spec.h"

#define MP_PE_GROUP       "morphling.kubedl.io"
#define MP_PE_API_VERSION "morphling.kubedl.io/v1alpha1"
#define MP_PE_KIND        "ProfilingExperiment"

/* True when root is a map whose apiVersion is morphling.kubedl.io/v1alpha1 (or the earlier
 * tuning.kubedl.io/v1alpha1) and whose kind is ProfilingExperiment. root is borrowed. */
bool mp_spec_is_pe(const struct mp_node *root);

/* Translates a ProfilingExperiment document tree into a native spec tree (the document that
 * mp_spec_parse validates and the store keeps). Every node of the result carries the position
 * and field path of the resource's node it came from, so later validation errors name the
 * resource's fields. pe is borrowed; *out is owned (mp_doc_free). MP_EINVALID for a resource
 * that cannot be mapped (an unknown resource name, a bad quantity, a step of 0, ...). */
int mp_spec_pe_translate(const struct mp_node *pe, struct mp_node **out,
                         struct mp_error *err) MP_WUR;

/* Loads a ProfilingExperiment object as the API server returns it (obj borrowed), e.g. from
 * the operator's cache. source names it in messages ("NAMESPACE/NAME"). base_dir resolves
 * relative paths (NULL: the current directory). *out is owned (mp_spec_free). */
int mp_spec_from_pe_json(const json_t *obj, const char *source, const char *base_dir,
                         struct mp_spec **out, struct mp_error *err) MP_WUR;

/* The native metric that an original objectiveMetricName stands for ("qps" ->
 * "throughput_rps"); any other name is returned as it is. Borrowed/static. */
const char *mp_spec_pe_metric(const char *objective_metric_name);

/* Configuration x of a spec (from a ProfilingExperiment or not) in the original's form, for a
 * Trial's spec and status.currentOptimalTrial.tunableParameters:
 *   [{"name": "cpu", "value": "500m", "category": "resource"}, ...]
 * category is resource, env or args (a parameter without a target: "args"); resource values
 * are Kubernetes quantities (cpu "500m" or "2", memory "1800Mi"), others canonical text.
 * Returns a new reference (owned). */
json_t *mp_spec_pe_assignment(const struct mp_spec *spec, const double *x);

#endif
