/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for resource.Quantity parsing: an accepted quantity has consistent rounded
 * magnitudes (units is milli / 1000 rounded up unless saturated), the same text inside a JSON
 * string parses the same way, and container resource validation never crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size)) {
        return 0;
    }
    char *s = strndup((const char *)data, size);
    struct mp_kube_quantity q, j;
    struct mp_error err = {0};
    if (mp_kube_quantity_parse(s, &q, &err) == 0) {
        if (q.milli < 0 || q.units < 0 || (q.negative && q.milli == 0)) {
            abort();
        }
        if (!q.saturated && q.units != q.milli / 1000 + (q.milli % 1000 != 0)) {
            abort();
        }
        json_t *v = json_string(s);
        if (v && (mp_kube_quantity_json(v, &j, &err) != 0 || j.milli != q.milli)) {
            abort();
        }
        json_decref(v);
    } else if (err.msg[0] == '\0') {
        abort();
    }
    int valid = mp_kube_check_resource("nvidia.com/gpu", s, NULL);
    if (valid == 0 && (q.negative || q.milli % 1000 != 0)) {
        abort(); /* an extended resource takes whole, non-negative numbers only */
    }
    if (mp_kube_check_resource(s, "1", NULL) > 0) {
        abort();
    }
    free(s);
    return 0;
}
