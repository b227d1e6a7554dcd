/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz driver: a configuration written onto an arbitrary pod template (`export --format k8s
 * --base FILE`, the kubernetes runner), with each GPU sharing kind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char spec_text[] =
    "{name: fuzz, service: {command: [srv, --port, '{port}', --w, '{w}', --nonce, '{nonce}'],"
    " env: {A: '{w}'}}, parameters: [{name: w, type: int, min: 1, max: 4},"
    " {name: cpu, type: discrete, values: [0.5], target: {resource: cpu}},"
    " {name: share, type: discrete, values: [0.5], target: {resource: gpu_memory_share}},"
    " {name: gpu, type: categorical, values: [T4], target: {resource: gpu_type}}],"
    " objective: {metric: throughput_rps}, runner: {kind: replay, surface: s.csv}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct mp_spec *spec;
    if (!spec && mp_spec_parse(spec_text, strlen(spec_text), "fuzz", "/", NULL, 0, &spec, NULL)) {
        abort();
    }
    json_t *pod = json_loadb((const char *)data, size, 0, NULL);
    if (!pod) {
        return 0;
    }
    const double x[] = {2, 0.5, 0.5, 0};
    for (int k = MP_GPU_SHARING_NONE; k <= MP_GPU_SHARING_MIG; k++) {
        struct mp_pod_mapping m = {.sharing = (enum mp_gpu_sharing)k, .gpu_memory_mib = 16384};
        json_t *out = NULL;
        if (mp_spec_render_pod(spec, x, pod, k % 2 ? "c" : NULL, &m, &out, NULL) == 0) {
            json_decref(out);
        }
    }
    json_decref(pod);
    return 0;
}
