/* SPDX-License-Identifier: Apache-2.0 */
/* Objects as JSON: metadata accessors, labels, ownerReferences, name and label rules of the API
 * server, RFC 3339 times, and base64 for the kubeconfig's *-data fields. */
#include "kube/kube_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *mp_kube_object_new(const char *api_version, const char *kind, const char *ns,
                           const char *name)
{
    json_t *meta = json_object();
    if (name) {
        json_object_set_new(meta, "name", json_string(name));
    }
    if (ns) {
        json_object_set_new(meta, "namespace", json_string(ns));
    }
    json_t *obj = json_object();
    json_object_set_new(obj, "apiVersion", json_string(api_version));
    json_object_set_new(obj, "kind", json_string(kind));
    json_object_set_new(obj, "metadata", meta);
    return obj;
}

const char *mp_kube_meta(const json_t *obj, const char *field)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

char *mp_kube_key(const json_t *obj)
{
    const char *ns = mp_kube_meta(obj, "namespace"), *name = mp_kube_meta(obj, "name");
    return mp_xasprintf("%s/%s", ns ? ns : "", name ? name : "");
}

static const char *meta_map_get(const json_t *obj, const char *map, const char *key)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(obj, "metadata"), map), key));
}

const char *mp_kube_label(const json_t *obj, const char *key)
{
    return meta_map_get(obj, "labels", key);
}

const char *mp_kube_annotation(const json_t *obj, const char *key)
{
    return meta_map_get(obj, "annotations", key);
}

/* obj[key] as an object, created (replacing a non-object) when missing. Borrowed. */
static json_t *child_object(json_t *obj, const char *key)
{
    json_t *c = json_object_get(obj, key);
    if (!json_is_object(c)) {
        c = json_object();
        json_object_set_new(obj, key, c);
    }
    return c;
}

static void meta_map_set(json_t *obj, const char *map, const char *key, const char *value)
{
    json_object_set_new(child_object(child_object(obj, "metadata"), map), key, json_string(value));
}

void mp_kube_set_label(json_t *obj, const char *key, const char *value)
{
    meta_map_set(obj, "labels", key, value);
}

void mp_kube_set_annotation(json_t *obj, const char *key, const char *value)
{
    meta_map_set(obj, "annotations", key, value);
}

int mp_kube_add_owner(json_t *obj, const json_t *owner, bool controller, bool block_deletion,
                      struct mp_error *err)
{
    const char *fields[][2] = {
        {"apiVersion", json_string_value(json_object_get(owner, "apiVersion"))},
        {"kind", json_string_value(json_object_get(owner, "kind"))},
        {"name", mp_kube_meta(owner, "name")},
        {"uid", mp_kube_meta(owner, "uid")},
    };
    json_t *ref = json_object();
    for (size_t i = 0; i < MP_ARRAY_LEN(fields); i++) {
        if (!fields[i][1] || !*fields[i][1]) {
            json_decref(ref);
            return mp_error_set(err, MP_EINVALID, "owner reference: the owner has no %s%s",
                                i >= 2 ? "metadata." : "", fields[i][0]);
        }
        json_object_set_new(ref, fields[i][0], json_string(fields[i][1]));
    }
    json_object_set_new(ref, "controller", json_boolean(controller));
    json_object_set_new(ref, "blockOwnerDeletion", json_boolean(block_deletion));
    json_t *meta = child_object(obj, "metadata");
    json_t *refs = json_object_get(meta, "ownerReferences");
    if (!json_is_array(refs)) {
        refs = json_array();
        json_object_set_new(meta, "ownerReferences", refs);
    }
    json_array_append_new(refs, ref);
    return 0;
}

bool mp_kube_owned_by(const json_t *obj, const char *uid)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach (refs, i, r) {
        const char *u = json_string_value(json_object_get(r, "uid"));
        if (u && uid && strcmp(u, uid) == 0) {
            return true;
        }
    }
    return false;
}

const char *mp_kube_controller_uid(const json_t *obj)
{
    const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
    size_t i;
    const json_t *r;
    json_array_foreach (refs, i, r) {
        if (json_is_true(json_object_get(r, "controller"))) {
            return json_string_value(json_object_get(r, "uid"));
        }
    }
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *mp_kube_selector(const json_t *labels)
{
    size_t n = json_object_size(labels), i = 0;
    const char **keys = mp_xcalloc(n ? n : 1, sizeof(*keys));
    const char *k;
    const json_t *v;
    json_object_foreach ((json_t *)labels, k, v) {
        if (json_is_string(v)) {
            keys[i++] = k;
        }
    }
    qsort(keys, i, sizeof(*keys), cmp_str);
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "");
    for (size_t j = 0; j < i; j++) {
        mp_buf_addf(&b, "%s%s=%s", j ? "," : "", keys[j],
                    json_string_value(json_object_get(labels, keys[j])));
    }
    free(keys);
    return mp_buf_detach(&b);
}

/* ---- names and labels ---- */

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
    return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over s[0..n) */
static bool dns_label(const char *s, size_t n)
{
    if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

static bool dns_subdomain(const char *s, size_t n)
{
    if (n == 0 || n > 253) {
        return false;
    }
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (!dns_label(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

int mp_kube_check_name(const char *name, enum mp_kube_name_rule rule, const char *what,
                       struct mp_error *err)
{
    size_t n = strlen(name);
    if (rule == MP_KUBE_DNS_LABEL) {
        if (n <= 63 && dns_label(name, n)) {
            return 0;
        }
        return mp_error_set(err, MP_EINVALID,
                            "%s \"%s\": must be a lowercase RFC 1123 label: at most 63 characters, "
                            "lower case letters, digits or '-', starting and ending with a letter "
                            "or digit",
                            what, name);
    }
    if (dns_subdomain(name, n)) {
        return 0;
    }
    return mp_error_set(err, MP_EINVALID,
                        "%s \"%s\": must be a lowercase RFC 1123 subdomain: at most 253 "
                        "characters, lower case letters, digits, '-' or '.', each part starting "
                        "and ending with a letter or digit",
                        what, name);
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63 characters */
static bool qualified_part(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1])) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

int mp_kube_check_label(const char *key, const char *value, struct mp_error *err)
{
    const char *slash = strchr(key, '/');
    const char *name = slash ? slash + 1 : key;
    if ((slash && !dns_subdomain(key, (size_t)(slash - key))) ||
        !qualified_part(name, strlen(name))) {
        return mp_error_set(err, MP_EINVALID,
                            "label key \"%s\": must be an optional DNS subdomain prefix and '/', "
                            "then a name of at most 63 letters, digits, '-', '_' or '.', starting "
                            "and ending with a letter or digit",
                            key);
    }
    if (*value && !qualified_part(value, strlen(value))) {
        return mp_error_set(err, MP_EINVALID,
                            "label %s: value \"%s\" must be empty or at most 63 letters, digits, "
                            "'-', '_' or '.', starting and ending with a letter or digit",
                            key, value);
    }
    return 0;
}

/* ---- RFC 3339 ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads exactly n digits. */
static bool digits(const char **p, int n, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, const char *set)
{
    if (**p && strchr(set, **p)) {
        (*p)++;
        return true;
    }
    return false;
}

static int month_days(int64_t y, int64_t m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

static bool parse_offset(const char **p, int64_t *offset_s)
{
    if (expect(p, "Zz")) {
        *offset_s = 0;
        return true;
    }
    int sign = **p == '-' ? -1 : 1;
    int64_t oh, om;
    if (!expect(p, "+-") || !digits(p, 2, &oh) || !expect(p, ":") || !digits(p, 2, &om) ||
        oh > 23 || om > 59) {
        return false;
    }
    *offset_s = sign * (oh * 3600 + om * 60);
    return true;
}

int mp_kube_parse_time(const char *s, int64_t *wall_ns)
{
    const char *p = s;
    int64_t y, mo, d, h, mi, sec, frac = 0, offset = 0;
    if (!digits(&p, 4, &y) || !expect(&p, "-") || !digits(&p, 2, &mo) || !expect(&p, "-") ||
        !digits(&p, 2, &d) || !expect(&p, "Tt") || !digits(&p, 2, &h) || !expect(&p, ":") ||
        !digits(&p, 2, &mi) || !expect(&p, ":") || !digits(&p, 2, &sec)) {
        return MP_EINVALID;
    }
    if (*p == '.') {
        p++;
        int n = 0;
        for (; *p >= '0' && *p <= '9'; p++, n++) {
            if (n < 9) {
                frac = frac * 10 + (*p - '0');
            }
        }
        if (n == 0) {
            return MP_EINVALID;
        }
        for (; n < 9; n++) {
            frac *= 10;
        }
    }
    if (!parse_offset(&p, &offset) || *p != '\0' || mo < 1 || mo > 12 || d < 1 ||
        d > month_days(y, mo) || h > 23 || mi > 59 || sec > 59) {
        return MP_EINVALID;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
    if (secs >= INT64_MAX / 1000000000) {
        *wall_ns = INT64_MAX; /* after 2262: as good as never */
    } else if (secs <= INT64_MIN / 1000000000) {
        *wall_ns = INT64_MIN;
    } else {
        *wall_ns = secs * 1000000000 + frac;
    }
    return 0;
}

char *mp_kube_fmt_time(char *buf, int64_t wall_ns, bool micro)
{
    int64_t secs = wall_ns / 1000000000, ns = wall_ns % 1000000000;
    if (ns < 0) {
        secs--;
        ns += 1000000000;
    }
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, MP_KUBE_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro) {
        snprintf(buf + n, MP_KUBE_TIME_MAX - n, ".%06dZ", (int)(ns / 1000));
    } else {
        snprintf(buf + n, MP_KUBE_TIME_MAX - n, "Z");
    }
    return buf;
}

bool mp_kube_header_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int mp_kube_base64_decode(const char *in, struct mp_kube_blob *out)
{
    size_t cap = strlen(in) / 4 * 3 + 3;
    unsigned char *buf = mp_xmalloc(cap);
    size_t len = 0, group = 0, pad = 0;
    uint32_t acc = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            continue;
        }
        int v = *p == '=' ? 0 : b64_value(*p);
        if (v < 0 || (pad && *p != '=') || (*p == '=' && group < 2)) {
            free(buf);
            return MP_EINVALID;
        }
        pad += *p == '=';
        acc = acc << 6 | (uint32_t)v;
        if (++group == 4) {
            unsigned char bytes[3] = {(unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
                                      (unsigned char)acc};
            memcpy(buf + len, bytes, 3 - pad);
            len += 3 - pad;
            group = 0;
            acc = 0;
        }
    }
    if (group != 0) {
        free(buf);
        return MP_EINVALID;
    }
    out->data = buf;
    out->len = len;
    return 0;
}

char *mp_kube_base64_encode(const unsigned char *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "");
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        v |= i + 1 < len ? (uint32_t)data[i + 1] << 8 : 0;
        v |= i + 2 < len ? data[i + 2] : 0;
        char q[4] = {tab[v >> 18], tab[(v >> 12) & 63], i + 1 < len ? tab[(v >> 6) & 63] : '=',
                     i + 2 < len ? tab[v & 63] : '='};
        mp_buf_add(&b, q, 4);
    }
    return mp_buf_detach(&b);
}

void mp_kube_blob_release(struct mp_kube_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}
