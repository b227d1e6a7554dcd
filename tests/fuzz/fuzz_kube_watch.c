/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer driver for the Kubernetes answers that are not objects: the watch stream is fed in
 * one piece, in pieces whose size comes from the first byte, and byte by byte, and the three
 * must see the same events and end the same way; the input is also decoded as a Status body
 * (with an HTTP status from the second byte) and as an exec plugin's ExecCredential. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    uint64_t digest;
    unsigned events;
    int rc;
};

static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h = (*h ^ b[i]) * UINT64_C(0x100000001b3);
    }
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct outcome *o = ud;
    if (!json_is_object(ev->object) || !ev->resource_version || ev->type > MP_KUBE_BOOKMARK) {
        abort();
    }
    mix(&o->digest, &ev->type, sizeof(ev->type));
    mix(&o->digest, ev->resource_version, strlen(ev->resource_version) + 1);
    o->events++;
    return o->events == 1000 ? 1 : 0; /* a callback may stop the watch */
}

static struct outcome feed(const char *text, size_t size, size_t piece)
{
    struct outcome o = {.digest = UINT64_C(0xcbf29ce484222325)};
    struct mp_kube_wdec d;
    struct mp_error err = {0};
    mp_kube_wdec_init(&d, on_event, &o, "watch", "/api/v1/pods");
    d.max_line = 4096;
    for (size_t off = 0; o.rc == 0 && off < size; off += piece) {
        o.rc = mp_kube_wdec_feed(&d, text + off, size - off < piece ? size - off : piece, &err);
    }
    if (o.rc == 0) {
        o.rc = mp_kube_wdec_finish(&d, &err);
    }
    if (o.rc != 0 && o.rc != 1 && err.msg[0] == '\0') {
        abort();
    }
    mp_kube_wdec_release(&d);
    return o;
}

static bool same(const struct outcome *a, const struct outcome *b)
{
    return a->digest == b->digest && a->events == b->events && a->rc == b->rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    size_t piece = (size_t)(data[0] % 23) + 1;
    long http = 400 + data[1] % 200;
    const char *text = (const char *)data + 2;
    size -= 2;
    struct outcome whole = feed(text, size, size ? size : 1);
    struct outcome pieces = feed(text, size, piece);
    struct outcome bytes = feed(text, size, 1);
    if (!same(&whole, &pieces) || !same(&whole, &bytes)) {
        abort();
    }
    struct mp_error err = {0};
    int64_t retry_after;
    int rc = mp_kube_status_error("get", "/api/v1/pods", http, text, size, &retry_after, &err);
    if (rc >= 0 || err.msg[0] == '\0' || retry_after < -1) {
        abort();
    }
    struct mp_kube_exec_cred ec;
    if (mp_kube_exec_decode(text, size, "client.authentication.k8s.io/v1", "fuzz", &ec, &err) ==
        0) {
        if (!ec.token && !(ec.cert_pem && ec.key_pem)) {
            abort();
        }
        mp_kube_exec_cred_release(&ec);
    }
    return 0;
}
