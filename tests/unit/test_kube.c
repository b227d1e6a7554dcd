/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/kube's pure parts: resource paths and queries, quantities, names and
 * labels, object metadata helpers, times, base64, Status error mapping and the watch-stream
 * decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kube_int.h"

static void path_for(const struct mp_kube_ref *ref, const char *want)
{
    char *p = NULL;
    struct mp_error err = {0};
    int rc = mp_kube_path(ref, &p, &err);
    if (rc != 0) {
        fail_msg("path: %s", err.msg);
    }
    assert_string_equal(p, want);
    free(p);
}

static void paths_core_and_groups(void **state)
{
    (void)state;
    path_for(&(struct mp_kube_ref){NULL, "v1", "pods", "ns1", NULL, NULL},
             "/api/v1/namespaces/ns1/pods");
    path_for(&(struct mp_kube_ref){"", "v1", "namespaces", NULL, "team-a", NULL},
             "/api/v1/namespaces/team-a");
    path_for(&(struct mp_kube_ref){"", "v1", "nodes", "", "n1", "status"},
             "/api/v1/nodes/n1/status");
    path_for(&(struct mp_kube_ref){"apps", "v1", "deployments", "y", "d", "status"},
             "/apis/apps/v1/namespaces/y/deployments/d/status");
    path_for(
        &(struct mp_kube_ref){"coordination.k8s.io", "v1", "leases", "kube-system", NULL, NULL},
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases");
    path_for(&(struct mp_kube_ref){"rbac.authorization.k8s.io", "v1", "clusterroles", NULL,
                                   "system:controller:x", NULL},
             "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Acontroller%3Ax");

    struct mp_error err = {0};
    char *p = NULL;
    const struct mp_kube_ref bad[] = {
        {NULL, "v1", "pods", "ns", "..", NULL},   {NULL, "v1", "pods", "ns", "a/b", NULL},
        {NULL, "v1", "pods", "a%2F", NULL, NULL}, {NULL, "", "pods", NULL, NULL, NULL},
        {NULL, "v1", NULL, NULL, NULL, NULL},     {NULL, "v1", "pods", "ns", NULL, "status"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        assert_int_equal(mp_kube_path(&bad[i], &p, &err), MP_EINVALID);
    }
    assert_non_null(strstr(err.msg, "subresource 'status' without a name"));
}

static void query_values_are_escaped(void **state)
{
    (void)state;
    struct mp_buf q = MP_BUF_INIT;
    mp_kube_query_add(&q, "labelSelector", "app in (a,b),tier!=web");
    mp_kube_query_add(&q, "fieldSelector", "metadata.name=x&y=z");
    mp_kube_query_add(&q, "continue", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==");
    assert_string_equal(q.data, "?labelSelector=app%20in%20%28a%2Cb%29%2Ctier%21%3Dweb"
                                "&fieldSelector=metadata.name%3Dx%26y%3Dz"
                                "&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ%3D%3D");
    mp_buf_release(&q);
}

struct qcase {
    const char *text;
    int64_t milli, units;
    bool negative, saturated;
    enum mp_kube_qformat format;
};

static void quantities_parse_as_the_api_server(void **state)
{
    (void)state;
    const int64_t gi = INT64_C(1) << 30;
    const struct qcase ok[] = {
        {"0", 0, 0, false, false, MP_KUBE_DECIMAL_SI},
        {"500m", 500, 1, false, false, MP_KUBE_DECIMAL_SI},
        {"1.5Gi", gi * 3 / 2 * 1000, gi * 3 / 2, false, false, MP_KUBE_BINARY_SI},
        {"2e3", 2000000, 2000, false, false, MP_KUBE_DECIMAL_EXPONENT},
        {"1E3", 1000000, 1000, false, false, MP_KUBE_DECIMAL_EXPONENT},
        {"1e+3", 1000000, 1000, false, false, MP_KUBE_DECIMAL_EXPONENT},
        {"1E", INT64_MAX, INT64_C(1000000000000000000), false, true, MP_KUBE_DECIMAL_SI},
        {"+1", 1000, 1, false, false, MP_KUBE_DECIMAL_SI},
        {"-500m", 500, 1, true, false, MP_KUBE_DECIMAL_SI},
        {".5", 500, 1, false, false, MP_KUBE_DECIMAL_SI},
        {"1.", 1000, 1, false, false, MP_KUBE_DECIMAL_SI},
        {".", 0, 0, false, false, MP_KUBE_DECIMAL_SI},
        {"+", 0, 0, false, false, MP_KUBE_DECIMAL_SI},
        {"-", 0, 0, false, false, MP_KUBE_DECIMAL_SI},
        {"Ki", 0, 0, false, false, MP_KUBE_BINARY_SI},
        {".Ki", 0, 0, false, false, MP_KUBE_BINARY_SI},
        {"Ti", 0, 0, false, false, MP_KUBE_BINARY_SI},
        {"0e-10", 0, 0, false, false, MP_KUBE_DECIMAL_EXPONENT},
        {"00012", 12000, 12, false, false, MP_KUBE_DECIMAL_SI},
        {"100Ki", 102400000, 102400, false, false, MP_KUBE_BINARY_SI},
        {"0.5Ki", 512000, 512, false, false, MP_KUBE_BINARY_SI},
        {"1.5m", 2, 1, false, false, MP_KUBE_DECIMAL_SI},
        {"0.1n", 1, 1, false, false, MP_KUBE_DECIMAL_SI},
        {"1e-10", 1, 1, false, false, MP_KUBE_DECIMAL_EXPONENT},
        {"123456789012345678901234567890e-25", 12345679, 12346, false, false,
         MP_KUBE_DECIMAL_EXPONENT},
        {"9223372036854775807", INT64_MAX, INT64_MAX, false, true, MP_KUBE_DECIMAL_SI},
        {"9223372036854775", INT64_C(9223372036854775000), INT64_C(9223372036854775), false, false,
         MP_KUBE_DECIMAL_SI},
        {"12345678901234567890", INT64_MAX, INT64_MAX, false, true, MP_KUBE_DECIMAL_SI},
        {"1Ei", INT64_MAX, INT64_C(1) << 60, false, true, MP_KUBE_BINARY_SI},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(ok); i++) {
        struct mp_kube_quantity q;
        struct mp_error err = {0};
        if (mp_kube_quantity_parse(ok[i].text, &q, &err) != 0) {
            fail_msg("\"%s\": %s", ok[i].text, err.msg);
        }
        if (q.milli != ok[i].milli || q.units != ok[i].units || q.negative != ok[i].negative ||
            q.saturated != ok[i].saturated || q.format != ok[i].format) {
            fail_msg("\"%s\": milli %lld units %lld neg %d sat %d fmt %d; want %lld %lld %d %d %d",
                     ok[i].text, (long long)q.milli, (long long)q.units, q.negative, q.saturated,
                     q.format, (long long)ok[i].milli, (long long)ok[i].units, ok[i].negative,
                     ok[i].saturated, ok[i].format);
        }
    }
}

static void quantities_rejected_as_the_api_server(void **state)
{
    (void)state;
    const struct {
        const char *text, *why;
    } bad[] = {
        {"", "regular expression"},
        {"1.5.5", "regular expression"},
        {"1 Gi", "regular expression"},
        {"0x10", "regular expression"},
        {"1e1.5", "regular expression"},
        {"1Gi ", "regular expression"},
        {"1ki", "suffix"},
        {"1e", "suffix"},
        {"1m3", "suffix"},
        {"1Mi5", "suffix"},
        {"1e+", "suffix"},
        {"1Ee3", "suffix"},
        {"Pi", "numeric part"},
        {"Ei", "numeric part"},
        {"e-10", "numeric part"},
        {".e-10", "numeric part"},
        {"1e99999999999999999999", "suffix"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_kube_quantity q;
        struct mp_error err = {0};
        if (mp_kube_quantity_parse(bad[i].text, &q, &err) != MP_EINVALID) {
            fail_msg("\"%s\" was accepted", bad[i].text);
        }
        if (!strstr(err.msg, bad[i].why)) {
            fail_msg("\"%s\": message \"%s\" lacks \"%s\"", bad[i].text, err.msg, bad[i].why);
        }
    }
    /* JSON numbers and padded strings, as Quantity.UnmarshalJSON reads them. */
    struct mp_kube_quantity q;
    json_t *v = json_loads("[2, 0.25, \" 1Gi \", true]", 0, NULL);
    assert_int_equal(mp_kube_quantity_json(json_array_get(v, 0), &q, NULL), 0);
    assert_int_equal(q.milli, 2000);
    assert_int_equal(mp_kube_quantity_json(json_array_get(v, 1), &q, NULL), 0);
    assert_int_equal(q.milli, 250);
    assert_int_equal(mp_kube_quantity_json(json_array_get(v, 2), &q, NULL), 0);
    assert_int_equal(q.units, INT64_C(1) << 30);
    assert_int_equal(mp_kube_quantity_json(json_array_get(v, 3), &q, NULL), MP_EINVALID);
    json_decref(v);
}

static void resources_validated_as_the_api_server(void **state)
{
    (void)state;
    const char *ok[][2] = {
        {"cpu", "500m"},
        {"memory", "1Gi"},
        {"ephemeral-storage", "10G"},
        {"nvidia.com/gpu", "1"},
        {"aliyun.com/gpu-mem", "8"},
        {"nvidia.com/mig-1g.10gb", "2"},
        {"nvidia.com/gpumem", "2e3"},
        {"hugepages-2Mi", "4Mi"},
        {"cpu", "0"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(ok); i++) {
        struct mp_error err = {0};
        if (mp_kube_check_resource(ok[i][0], ok[i][1], &err) != 0) {
            fail_msg("%s=%s: %s", ok[i][0], ok[i][1], err.msg);
        }
    }
    const char *bad[][3] = {
        {"cpu", "-1", "greater than or equal to 0"},
        {"nvidia.com/gpu", "0.5", "must be an integer"},
        {"nvidia.com/gpu", "500m", "must be an integer"},
        {"gpu", "1", "extended resource"},
        {"kubernetes.io/foo", "1", "extended resource"},
        {"hugepages-2Mi", "3Mi", "multiple of 2Mi"},
        {"memory", "1 Gi", "regular expression"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        struct mp_error err = {0};
        if (mp_kube_check_resource(bad[i][0], bad[i][1], &err) != MP_EINVALID) {
            fail_msg("%s=%s was accepted", bad[i][0], bad[i][1]);
        }
        if (!strstr(err.msg, bad[i][2]) || !strstr(err.msg, bad[i][0])) {
            fail_msg("%s=%s: message \"%s\" lacks \"%s\"", bad[i][0], bad[i][1], err.msg,
                     bad[i][2]);
        }
    }
    char buf[MP_KUBE_QUANTITY_MAX];
    assert_string_equal(mp_kube_fmt_milli(buf, 1500), "1500m");
    assert_string_equal(mp_kube_fmt_milli(buf, 2000), "2");
    assert_string_equal(mp_kube_fmt_milli(buf, 0), "0");
    assert_string_equal(mp_kube_fmt_bytes(buf, INT64_C(536870912)), "512Mi");
    assert_string_equal(mp_kube_fmt_bytes(buf, INT64_C(1) << 30), "1Gi");
    assert_string_equal(mp_kube_fmt_bytes(buf, 3072), "3Ki");
    assert_string_equal(mp_kube_fmt_bytes(buf, 1536), "1536");
    /* A decimal size comes back decimal, not "1953125Ki"; a tie goes binary. */
    assert_string_equal(mp_kube_fmt_bytes(buf, INT64_C(2000000000)), "2G");
    assert_string_equal(mp_kube_fmt_bytes(buf, INT64_C(1500000000)), "1500M");
    assert_string_equal(mp_kube_fmt_bytes(buf, 1000), "1k");
    assert_string_equal(mp_kube_fmt_bytes(buf, 1024), "1Ki");
    assert_string_equal(mp_kube_fmt_bytes(buf, INT64_C(-2147483648)), "-2Gi");
    assert_string_equal(mp_kube_fmt_bytes(buf, 0), "0");
}

static void names_and_labels(void **state)
{
    (void)state;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_check_name("exp-1.trial-3", MP_KUBE_DNS_SUBDOMAIN, "name", &err), 0);
    assert_int_equal(mp_kube_check_name("exp-1.trial-3", MP_KUBE_DNS_LABEL, "name", &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "RFC 1123 label"));
    assert_int_equal(mp_kube_check_name("Exp", MP_KUBE_DNS_SUBDOMAIN, "name", &err), MP_EINVALID);
    assert_int_equal(mp_kube_check_name("-a", MP_KUBE_DNS_LABEL, "name", &err), MP_EINVALID);
    assert_int_equal(mp_kube_check_name("a..b", MP_KUBE_DNS_SUBDOMAIN, "name", &err), MP_EINVALID);
    char long_label[65];
    memset(long_label, 'a', 64);
    long_label[64] = '\0';
    assert_int_equal(mp_kube_check_name(long_label, MP_KUBE_DNS_LABEL, "service", &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "service \"aaaa"));
    long_label[63] = '\0';
    assert_int_equal(mp_kube_check_name(long_label, MP_KUBE_DNS_LABEL, "service", &err), 0);

    assert_int_equal(mp_kube_check_label("morphling.io/experiment", "fmnist_v2.1", &err), 0);
    assert_int_equal(mp_kube_check_label("app", "", &err), 0);
    assert_int_equal(mp_kube_check_label("Bad_Prefix/x", "v", &err), MP_EINVALID);
    assert_int_equal(mp_kube_check_label("a/b/c", "v", &err), MP_EINVALID);
    assert_int_equal(mp_kube_check_label("app", "-x", &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "value \"-x\""));
}

static void object_metadata_helpers(void **state)
{
    (void)state;
    json_t *owner = mp_kube_object_new("morphling.io/v1alpha1", "Trial", "ns", "t-1");
    struct mp_error err = {0};
    json_t *dep = mp_kube_object_new("apps/v1", "Deployment", "ns", "d");
    assert_int_equal(mp_kube_add_owner(dep, owner, true, true, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "metadata.uid"));
    json_object_set_new(json_object_get(owner, "metadata"), "uid", json_string("u-1"));
    assert_int_equal(mp_kube_add_owner(dep, owner, true, true, &err), 0);
    assert_true(mp_kube_owned_by(dep, "u-1"));
    assert_false(mp_kube_owned_by(dep, "u-2"));
    assert_string_equal(mp_kube_controller_uid(dep), "u-1");
    json_t *ref =
        json_array_get(json_object_get(json_object_get(dep, "metadata"), "ownerReferences"), 0);
    assert_string_equal(json_string_value(json_object_get(ref, "kind")), "Trial");
    assert_string_equal(json_string_value(json_object_get(ref, "apiVersion")),
                        "morphling.io/v1alpha1");
    assert_true(json_is_true(json_object_get(ref, "blockOwnerDeletion")));

    mp_kube_set_label(dep, "morphling.io/trial", "3");
    mp_kube_set_label(dep, "app", "svc");
    mp_kube_set_annotation(dep, "note", "x");
    assert_string_equal(mp_kube_label(dep, "app"), "svc");
    assert_string_equal(mp_kube_annotation(dep, "note"), "x");
    assert_null(mp_kube_label(dep, "missing"));
    assert_string_equal(mp_kube_meta(dep, "name"), "d");
    assert_string_equal(mp_kube_meta(dep, "namespace"), "ns");
    assert_null(mp_kube_meta(dep, "uid"));
    char *sel = mp_kube_selector(json_object_get(json_object_get(dep, "metadata"), "labels"));
    assert_string_equal(sel, "app=svc,morphling.io/trial=3");
    free(sel);
    json_decref(dep);
    json_decref(owner);
}

static void times_and_base64(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(mp_kube_parse_time("2024-05-01T10:00:00Z", &t), 0);
    assert_int_equal(t, INT64_C(1714557600) * 1000000000);
    assert_int_equal(mp_kube_parse_time("2024-05-01T10:00:00.25+02:00", &t), 0);
    assert_int_equal(t, INT64_C(1714550400) * 1000000000 + 250000000);
    assert_int_equal(mp_kube_parse_time("2024-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, INT64_C(1709251199) * 1000000000);
    assert_int_equal(mp_kube_parse_time("4060-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, INT64_MAX);
    char tb[MP_KUBE_TIME_MAX];
    int64_t when = INT64_C(1714550400) * 1000000000 + 250000000;
    assert_string_equal(mp_kube_fmt_time(tb, when, false), "2024-05-01T08:00:00Z");
    assert_string_equal(mp_kube_fmt_time(tb, when, true), "2024-05-01T08:00:00.250000Z");
    assert_int_equal(mp_kube_parse_time(tb, &t), 0);
    assert_int_equal(t, when);
    const char *bad[] = {"2023-02-29T00:00:00Z",    "2024-05-01 10:00:00Z", "2024-05-01T10:00:00",
                         "2024-13-01T00:00:00Z",    "2024-05-01T24:00:00Z", "2024-05-01T10:00:00.Z",
                         "2024-05-01T10:00:00Zjunk"};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        if (mp_kube_parse_time(bad[i], &t) == 0) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    struct mp_kube_blob b;
    assert_int_equal(mp_kube_base64_decode("aGVsbG8gd29y\nbGQhPw==", &b), 0);
    assert_int_equal(b.len, 13);
    assert_memory_equal(b.data, "hello world!?", 13);
    char *enc = mp_kube_base64_encode(b.data, b.len);
    assert_string_equal(enc, "aGVsbG8gd29ybGQhPw==");
    free(enc);
    mp_kube_blob_release(&b);
    const char *bad64[] = {"aGVsbG8", "aGV=bG8=", "a===", "aGVs*G8=", "QQ==QQ=="};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad64); i++) {
        if (mp_kube_base64_decode(bad64[i], &b) == 0) {
            fail_msg("accepted %s", bad64[i]);
        }
    }
}

static void status_reasons_map_to_codes(void **state)
{
    (void)state;
    const struct {
        const char *reason;
        long http;
        int code;
    } cases[] = {
        {"NotFound", 404, MP_ENOTFOUND},
        {"AlreadyExists", 409, MP_EEXISTS},
        {"Conflict", 409, MP_ECONFLICT},
        {"Expired", 410, MP_EEXPIRED},
        {"Gone", 410, MP_EEXPIRED},
        {"Forbidden", 403, MP_EFORBIDDEN},
        {"Unauthorized", 401, MP_EUNAUTHORIZED},
        {"Invalid", 422, MP_EREJECTED},
        {"BadRequest", 400, MP_EBADREQUEST},
        {"TooManyRequests", 429, MP_ETHROTTLED},
        {"ServerTimeout", 500, MP_ESERVERTIMEOUT},
        {"Timeout", 504, MP_ESERVERTIMEOUT},
        {"ServiceUnavailable", 503, MP_EUNAVAILABLE},
        {"InternalError", 500, MP_ESERVERERROR},
        {"UnsupportedMediaType", 415, MP_EUNSUPPORTED},
        {"RequestEntityTooLarge", 413, MP_ETOOBIG},
        {NULL, 409, MP_ECONFLICT},
        {NULL, 410, MP_EEXPIRED},
        {NULL, 502, MP_ESERVERERROR},
        {"SomethingNew", 404, MP_ENOTFOUND},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        assert_int_equal(mp_kube_reason_code(cases[i].reason, cases[i].http), cases[i].code);
    }
    const char *body = "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                       "\"message\":\"deployments.apps is forbidden: User \\\"x\\\" cannot "
                       "create resource \\\"deployments\\\" in API group \\\"apps\\\" in the "
                       "namespace \\\"y\\\"\",\"reason\":\"Forbidden\",\"details\":{\"group\":"
                       "\"apps\",\"kind\":\"deployments\",\"retryAfterSeconds\":3},\"code\":403}";
    struct mp_error err = {0};
    int64_t ra;
    assert_int_equal(mp_kube_status_error("create", "/apis/apps/v1/namespaces/y/deployments", 403,
                                          body, strlen(body), &ra, &err),
                     MP_EFORBIDDEN);
    assert_string_equal(err.msg, "create /apis/apps/v1/namespaces/y/deployments: "
                                 "deployments.apps is forbidden: User \"x\" cannot create "
                                 "resource \"deployments\" in API group \"apps\" in the namespace "
                                 "\"y\" (Forbidden, HTTP 403)");
    assert_int_equal(ra, 3);
    const char *html = "<html>\n<b>Bad Gateway</b></html>";
    assert_int_equal(
        mp_kube_status_error("get", "/api/v1/pods", 502, html, strlen(html), &ra, &err),
        MP_ESERVERERROR);
    assert_string_equal(err.msg, "get /api/v1/pods: HTTP 502: <html> <b>Bad Gateway</b></html>");
    assert_int_equal(ra, -1);
}

/* ---- watch decoder ---- */

struct seen {
    char log[1024];
    int stop_after; /* return 7 from the callback at this event (0: never) */
    int n;
};

static int record(void *ud, const struct mp_kube_event *ev)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    struct seen *s = ud;
    size_t len = strlen(s->log);
    snprintf(s->log + len, sizeof(s->log) - len, "%s:%s:%s;", names[ev->type],
             mp_kube_meta(ev->object, "name") ? mp_kube_meta(ev->object, "name") : "-",
             ev->resource_version);
    s->n++;
    return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

/* Feeds text in pieces of `piece` bytes; returns the first non-zero result or finish's. */
static int feed(const char *text, size_t piece, struct seen *s, struct mp_error *err)
{
    struct mp_kube_wdec d;
    mp_kube_wdec_init(&d, record, s, "watch", "/api/v1/pods");
    int rc = 0;
    size_t len = strlen(text);
    for (size_t off = 0; rc == 0 && off < len; off += piece) {
        rc = mp_kube_wdec_feed(&d, text + off, len - off < piece ? len - off : piece, err);
    }
    if (rc == 0) {
        rc = mp_kube_wdec_finish(&d, err);
    }
    mp_kube_wdec_release(&d);
    return rc;
}

static void watch_stream_decodes_in_any_pieces(void **state)
{
    (void)state;
    const char *stream =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}"
        "\n"
        "\n"
        "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":"
        "\"6\"}}}\r\n"
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n"
        "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":"
        "\"10\"}}}";
    const char *want = "ADDED:a:5;MODIFIED:a:6;BOOKMARK:-:9;DELETED:a:10;";
    const size_t pieces[] = {1, 2, 7, 64, 100000};
    for (size_t i = 0; i < MP_ARRAY_LEN(pieces); i++) {
        struct seen s = {0};
        struct mp_error err = {0};
        assert_int_equal(feed(stream, pieces[i], &s, &err), 0);
        assert_string_equal(s.log, want);
    }
    struct seen s = {.stop_after = 2};
    assert_int_equal(feed(stream, 3, &s, NULL), 7);
    assert_string_equal(s.log, "ADDED:a:5;MODIFIED:a:6;");
}

static void watch_stream_errors(void **state)
{
    (void)state;
    struct seen s = {0};
    struct mp_error err = {0};
    const char *expired =
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}"
        "\n"
        "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
        "\"Failure\",\"message\":\"too old resource version: 5 (12)\",\"reason\":\"Expired\","
        "\"code\":410}}\n";
    assert_int_equal(feed(expired, 5, &s, &err), MP_EEXPIRED);
    assert_string_equal(err.msg, "watch /api/v1/pods: too old resource version: 5 (12) (Expired, "
                                 "HTTP 410)");
    assert_string_equal(s.log, "ADDED:a:5;");
    const char *bad[][2] = {
        {"{\"type\":\"ADDED\"}\n", "lacks a type or an object"},
        {"{\"type\":\"RENAMED\",\"object\":{}}\n", "unknown type 'RENAMED'"},
        {"{\"type\":\"ADDED\",\"object\":{}\n", "event 1 is not JSON"},
        {"[1,2]\n", "lacks a type"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        memset(&s, 0, sizeof(s));
        assert_int_equal(feed(bad[i][0], 4, &s, &err), MP_EPARSE);
        if (!strstr(err.msg, bad[i][1])) {
            fail_msg("\"%s\" lacks \"%s\"", err.msg, bad[i][1]);
        }
    }
    struct mp_kube_wdec d;
    mp_kube_wdec_init(&d, record, &s, "watch", "/p");
    d.max_line = 16;
    assert_int_equal(mp_kube_wdec_feed(&d, "{\"type\":\"ADDED\",\"object\":{}}", 29, &err),
                     MP_ETOOBIG);
    mp_kube_wdec_release(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(paths_core_and_groups),
        cmocka_unit_test(query_values_are_escaped),
        cmocka_unit_test(quantities_parse_as_the_api_server),
        cmocka_unit_test(quantities_rejected_as_the_api_server),
        cmocka_unit_test(resources_validated_as_the_api_server),
        cmocka_unit_test(names_and_labels),
        cmocka_unit_test(object_metadata_helpers),
        cmocka_unit_test(times_and_base64),
        cmocka_unit_test(status_reasons_map_to_codes),
        cmocka_unit_test(watch_stream_decodes_in_any_pieces),
        cmocka_unit_test(watch_stream_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
