/* SPDX-License-Identifier: Apache-2.0 */
/* Resource paths (/api/v1/..., /apis/GROUP/VERSION/...) and percent-encoded query strings. */
#include "kube/kube.h"

#include <string.h>

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void add_escaped(struct mp_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            mp_buf_addc(b, (char)*p);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            mp_buf_add(b, e, 3);
        }
    }
}

void mp_kube_query_add(struct mp_buf *b, const char *key, const char *value)
{
    mp_buf_addc(b, b->len && memchr(b->data, '?', b->len) ? '&' : '?');
    add_escaped(b, key);
    mp_buf_addc(b, '=');
    add_escaped(b, value);
}

/* The API server's path segment rule (IsValidPathSegmentName): not "." or "..", and no '/' or
 * '%'. Empty segments are refused too. */
static int add_segment(struct mp_buf *b, const char *what, const char *s, struct mp_error *err)
{
    if (!s || !*s) {
        return mp_error_set(err, MP_EINVALID, "resource path: the %s is empty", what);
    }
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strpbrk(s, "/%")) {
        return mp_error_set(err, MP_EINVALID,
                            "resource path: %s '%s' may not be '.' or '..' or contain '/' or '%%'",
                            what, s);
    }
    mp_buf_addc(b, '/');
    add_escaped(b, s);
    return 0;
}

static bool set(const char *s)
{
    return s && *s;
}

int mp_kube_path(const struct mp_kube_ref *ref, char **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    int rc = 0;
    if (set(ref->group)) {
        mp_buf_adds(&b, "/apis");
        rc = add_segment(&b, "group", ref->group, err);
    } else {
        mp_buf_adds(&b, "/api");
    }
    if (rc == 0) {
        rc = add_segment(&b, "version", ref->version, err);
    }
    if (rc == 0 && set(ref->ns)) {
        mp_buf_adds(&b, "/namespaces");
        rc = add_segment(&b, "namespace", ref->ns, err);
    }
    if (rc == 0) {
        rc = add_segment(&b, "resource", ref->resource, err);
    }
    if (rc == 0 && set(ref->name)) {
        rc = add_segment(&b, "name", ref->name, err);
    }
    if (rc == 0 && set(ref->subresource)) {
        if (!set(ref->name)) {
            rc = mp_error_set(err, MP_EINVALID, "resource path: subresource '%s' without a name",
                              ref->subresource);
        } else {
            rc = add_segment(&b, "subresource", ref->subresource, err);
        }
    }
    if (rc != 0) {
        mp_buf_release(&b);
        return rc;
    }
    *out = mp_buf_detach(&b);
    return 0;
}
