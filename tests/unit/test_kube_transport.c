/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Kubernetes client's transport and verbs against a scripted HTTPS server:
 * requests as sent (paths, queries, bodies, content types, credentials), Status errors,
 * retries with Retry-After and backoff, creates never resent blindly, deadlines, cancellation
 * from another thread, connection reuse, credential refresh on 401, watch streaming, pagination
 * and the reflector's list / watch / re-list loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube/kube_int.h"
#include "kube_fake.h"

static char *certs; /* made once for the whole file */

#define POD                                                                                        \
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"p\",\"namespace\":"          \
    "\"ns\",\"uid\":\"u1\",\"resourceVersion\":\"7\"}}"

static char *status_body(int code, const char *reason, const char *message)
{
    return mp_xasprintf("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                        "\"message\":\"%s\",\"reason\":\"%s\",\"code\":%d}",
                        message, reason, code);
}

static void push_status(struct kf_server *s, int code, const char *reason, const char *message,
                        const char *retry_after)
{
    char *body = status_body(code, reason, message);
    struct kf_answer a = {KF_REPLY, code, body, retry_after};
    kf_push_answer(s, &a);
    free(body);
}

/* Delays the client asked to sleep, recorded instead of slept. */
struct sleeps {
    pthread_mutex_t mu;
    int64_t ms[64];
    size_t n;
};

static int record_sleep(void *ud, int64_t ms)
{
    struct sleeps *s = ud;
    pthread_mutex_lock(&s->mu);
    if (s->n < MP_ARRAY_LEN(s->ms)) {
        s->ms[s->n++] = ms;
    }
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* A client for s: cluster_tls is the cluster's TLS line, user the user map's lines. */
static struct mp_kube_client *client_for(struct kf_server *s, const char *cluster_tls,
                                         const char *user, struct mp_kube_client_opts *o)
{
    char *text = mp_xasprintf("current-context: t\n"
                              "contexts:\n- name: t\n  context: {cluster: c, user: u, namespace: "
                              "ns}\n"
                              "clusters:\n- name: c\n  cluster:\n    server: %s\n    %s\n"
                              "users:\n- name: u\n  user:\n%s",
                              kf_url(s), cluster_tls, user);
    char *name = mp_xasprintf("%s/kc.yaml", certs);
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client *c = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), name, NULL, &cfg, &err) != 0 ||
        mp_kube_client_new(cfg, o, &c, &err) != 0) {
        fail_msg("client: %s", err.msg);
    }
    free(name);
    free(text);
    return c;
}

#define CA_FILE    "certificate-authority: ca.crt"
#define TOKEN_USER "    token: abc123\n"

static struct mp_kube_client *token_client(struct kf_server *s, struct sleeps *sl)
{
    struct mp_kube_client_opts o = {
        .backoff_initial_ms = 100, .sleep = record_sleep, .sleep_ud = sl};
    return client_for(s, CA_FILE, TOKEN_USER, &o);
}

static const struct mp_kube_ref pods = {NULL, "v1", "pods", "ns", NULL, NULL};
static const struct mp_kube_ref pod = {NULL, "v1", "pods", "ns", "p", NULL};
static const struct mp_kube_ref deploys = {"apps", "v1", "deployments", "ns", NULL, NULL};

static void expect_request(struct kf_server *s, size_t i, const char *method, const char *uri,
                           const char *content_type)
{
    const struct kf_request *r = kf_req(s, i);
    assert_string_equal(r->method, method);
    assert_string_equal(r->uri, uri);
    if (content_type) {
        assert_string_equal(r->content_type, content_type);
    }
}

static void expect_body(struct kf_server *s, size_t i, const char *json)
{
    json_t *got = json_loads(kf_req(s, i)->body, 0, NULL);
    json_t *want = json_loads(json, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        fail_msg("request %zu body %s, want %s", i, kf_req(s, i)->body, json);
    }
    json_decref(got);
    json_decref(want);
}

static void writes_send_what_the_api_expects(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct mp_error err = {0};
    json_t *out = NULL;
    json_t *dep = mp_kube_object_new("apps/v1", "Deployment", "ns", "d");
    kf_push(s, 201, "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"d\",\"uid\":\"u2\"}}");
    struct mp_kube_opts wo = {.field_manager = "morphling"};
    assert_int_equal(mp_kube_create(c, &deploys, dep, &wo, &out, &err), 0);
    assert_string_equal(mp_kube_meta(out, "uid"), "u2");
    json_decref(out);
    expect_request(s, 0, "POST", "/apis/apps/v1/namespaces/ns/deployments?fieldManager=morphling",
                   "application/json");
    assert_string_equal(kf_req(s, 0)->authorization, "Bearer abc123");
    expect_body(s, 0,
                "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":"
                "{\"name\":\"d\",\"namespace\":\"ns\"}}");

    json_object_set_new(dep, "status", json_pack("{s:i}", "replicas", 1));
    kf_push(s, 200, "{}");
    struct mp_kube_ref st = {"apps", "v1", "deployments", NULL, NULL, "status"};
    assert_int_equal(mp_kube_update(c, &st, dep, NULL, NULL, &err), 0);
    expect_request(s, 1, "PUT", "/apis/apps/v1/namespaces/ns/deployments/d/status",
                   "application/json");

    struct mp_kube_ref d = {"apps", "v1", "deployments", "ns", "d", NULL};
    json_t *merge = json_pack("{s:{s:i}}", "spec", "replicas", 2);
    json_t *jp =
        json_pack("[{s:s,s:s,s:i}]", "op", "replace", "path", "/spec/replicas", "value", 3);
    struct mp_kube_opts apply = {
        .field_manager = "morphling", .force = true, .dry_run = true, .field_validation = "Strict"};
    for (int i = 0; i < 3; i++) {
        kf_push(s, 200, "{}");
    }
    assert_int_equal(mp_kube_patch(c, &d, MP_KUBE_PATCH_MERGE, merge, NULL, NULL, &err), 0);
    assert_int_equal(mp_kube_patch(c, &d, MP_KUBE_PATCH_JSON, jp, NULL, NULL, &err), 0);
    assert_int_equal(mp_kube_patch(c, &d, MP_KUBE_PATCH_APPLY, dep, &apply, NULL, &err), 0);
    expect_request(s, 2, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d",
                   "application/merge-patch+json");
    expect_body(s, 2, "{\"spec\":{\"replicas\":2}}");
    expect_request(s, 3, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/d",
                   "application/json-patch+json");
    expect_request(s, 4, "PATCH",
                   "/apis/apps/v1/namespaces/ns/deployments/d?fieldManager=morphling&force=true"
                   "&dryRun=All&fieldValidation=Strict",
                   "application/apply-patch+yaml");
    assert_int_equal(mp_kube_patch(c, &d, MP_KUBE_PATCH_APPLY, dep, NULL, NULL, &err), MP_EINVALID);
    assert_int_equal(mp_kube_patch(c, &d, MP_KUBE_PATCH_JSON, merge, NULL, NULL, &err),
                     MP_EINVALID);

    kf_push(s, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}");
    struct mp_kube_opts del = {
        .propagation_policy = "Foreground", .precondition_uid = "u2", .precondition_rv = "9"};
    assert_int_equal(mp_kube_delete(c, &d, &del, NULL, &err), 0);
    expect_request(s, 5, "DELETE", "/apis/apps/v1/namespaces/ns/deployments/d", "application/json");
    expect_body(s, 5,
                "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":"
                "\"Foreground\",\"preconditions\":{\"uid\":\"u2\",\"resourceVersion\":\"9\"}}");

    /* A named object's subresource (eviction) is created under its name. */
    json_t *ev = mp_kube_object_new("policy/v1", "Eviction", "ns", "p");
    struct mp_kube_ref evict = {NULL, "v1", "pods", "ns", "p", "eviction"};
    kf_push(s, 201, "{}");
    assert_int_equal(mp_kube_create(c, &evict, ev, NULL, NULL, &err), 0);
    expect_request(s, 6, "POST", "/api/v1/namespaces/ns/pods/p/eviction", "application/json");
    assert_int_equal(kf_count(s), 7);
    json_decref(ev);
    json_decref(merge);
    json_decref(jp);
    json_decref(dep);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void reads_send_what_the_api_expects(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct mp_error err = {0};
    json_t *out = NULL;
    kf_push(s, 200, POD);
    assert_int_equal(mp_kube_get(c, &pod, NULL, &out, &err), 0);
    assert_string_equal(mp_kube_meta(out, "uid"), "u1");
    json_decref(out);
    expect_request(s, 0, "GET", "/api/v1/namespaces/ns/pods/p", NULL);
    assert_string_equal(kf_req(s, 0)->authorization, "Bearer abc123");

    kf_push(s, 200, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}");
    struct mp_kube_opts lo = {.label_selector = "morphling.io/experiment=e1,tier!=web",
                              .field_selector = "status.phase=Running",
                              .limit = 50,
                              .resource_version = "0"};
    assert_int_equal(mp_kube_list(c, &pods, &lo, &out, &err), 0);
    json_decref(out);
    expect_request(s, 1, "GET",
                   "/api/v1/namespaces/ns/pods?labelSelector=morphling.io%2Fexperiment%3De1%2C"
                   "tier%21%3Dweb&fieldSelector=status.phase%3DRunning&resourceVersion=0&limit=50",
                   NULL);

    kf_push(s, 200, "{\"major\":\"1\",\"minor\":\"32\"}");
    char *raw = NULL;
    size_t len = 0;
    assert_int_equal(mp_kube_raw(c, "GET", "/version", NULL, NULL, &raw, &len, &err), 0);
    assert_string_equal(raw, "{\"major\":\"1\",\"minor\":\"32\"}");
    assert_int_equal(len, strlen(raw));
    free(raw);
    expect_request(s, 2, "GET", "/version", NULL);
    kf_push(s, 200, "{}");
    assert_int_equal(
        mp_kube_raw(c, "POST", "/_test/faults?x=1", "{\"code\":429}", NULL, NULL, NULL, &err), 0);
    expect_request(s, 3, "POST", "/_test/faults?x=1", "application/json");
    expect_body(s, 3, "{\"code\":429}");
    assert_int_equal(mp_kube_raw(c, "TRACE", "/x", NULL, NULL, NULL, NULL, &err), MP_EINVALID);
    kf_push(s, 200, "{}");
    assert_int_equal(mp_kube_raw(c, "POST", "/_test/restart", NULL, NULL, NULL, NULL, &err), 0);
    expect_request(s, 4, "POST", "/_test/restart", NULL);
    assert_string_equal(kf_req(s, 4)->body, "");
    assert_int_equal(kf_count(s), 5);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void status_errors_name_verb_path_and_reason(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct mp_kube_client *c = token_client(s, &sl);
    struct mp_error err = {0};
    json_t *dep = mp_kube_object_new("apps/v1", "Deployment", "y", "d");
    push_status(s, 403, "Forbidden",
                "deployments.apps is forbidden: User \\\"x\\\" cannot create resource "
                "\\\"deployments\\\" in API group \\\"apps\\\" in the namespace \\\"y\\\"",
                NULL);
    struct mp_kube_ref y = {"apps", "v1", "deployments", NULL, NULL, NULL};
    assert_int_equal(mp_kube_create(c, &y, dep, NULL, NULL, &err), MP_EFORBIDDEN);
    assert_string_equal(err.msg,
                        "create /apis/apps/v1/namespaces/y/deployments: deployments.apps is "
                        "forbidden: User \"x\" cannot create resource \"deployments\" in API "
                        "group \"apps\" in the namespace \"y\" (Forbidden, HTTP 403)");
    const struct {
        int http;
        const char *reason;
        int code;
    } cases[] = {
        {404, "NotFound", MP_ENOTFOUND},     {409, "AlreadyExists", MP_EEXISTS},
        {409, "Conflict", MP_ECONFLICT},     {422, "Invalid", MP_EREJECTED},
        {400, "BadRequest", MP_EBADREQUEST}, {401, "Unauthorized", MP_EUNAUTHORIZED},
        {410, "Gone", MP_EEXPIRED},          {405, "MethodNotAllowed", MP_EUNSUPPORTED},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        push_status(s, cases[i].http, cases[i].reason, "nope", NULL);
        assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), cases[i].code);
        char want[128];
        snprintf(want, sizeof(want), "get /api/v1/namespaces/ns/pods/p: nope (%s, HTTP %d)",
                 cases[i].reason, cases[i].http);
        if (cases[i].http == 401) { /* names the refused credentials, see below */
            err.msg[strlen(want)] = '\0';
        }
        assert_string_equal(err.msg, want);
    }
    /* None of these is retried. */
    assert_int_equal(kf_count(s), 1 + MP_ARRAY_LEN(cases));
    assert_int_equal(sl.n, 0);
    kf_push(s, 200, "not json");
    json_t *out = NULL;
    assert_int_equal(mp_kube_get(c, &pod, NULL, &out, &err), MP_EPARSE);
    assert_non_null(strstr(err.msg, "get /api/v1/namespaces/ns/pods/p: the answer is not JSON"));
    json_decref(dep);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void tls_client_certificate_insecure_and_wrong_ca(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS_CLIENT_CA, certs);
    kf_set_default(s, 200, POD);
    struct mp_error err = {0};
    struct mp_kube_client *c = client_for(
        s, CA_FILE, "    client-certificate: client.crt\n    client-key: client.key\n", NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    assert_string_equal(kf_req(s, 0)->client_cn, "alice");
    assert_null(kf_req(s, 0)->authorization);
    mp_kube_client_free(c);

    c = client_for(s, "insecure-skip-tls-verify: true", TOKEN_USER, NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    assert_null(kf_req(s, 1)->client_cn);
    assert_string_equal(kf_req(s, 1)->authorization, "Bearer abc123");
    mp_kube_client_free(c);

    c = client_for(s, "certificate-authority: other-ca.crt", TOKEN_USER, NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_ETRANSPORT);
    assert_non_null(strstr(err.msg, "get /api/v1/namespaces/ns/pods/p: https://127.0.0.1:"));
    char *want = mp_xasprintf("(check the certificate-authority or insecure-skip-tls-verify of "
                              "%s/kc.yaml:8:5: 'clusters[0].cluster')",
                              certs);
    if (!strstr(err.msg, want)) {
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    }
    free(want);
    assert_int_equal(kf_count(s), 2);
    mp_kube_client_free(c);

    /* A client key that is not the certificate's: curl's "unable to set private key file"
     * alone did not say which kubeconfig user to fix. */
    c = client_for(s, CA_FILE, "    client-certificate: client.crt\n    client-key: other-ca.key\n",
                   NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_ETRANSPORT);
    want = mp_xasprintf("(check the client-certificate and client-key of %s/kc.yaml:13:5: "
                        "'users[0].user')",
                        certs);
    if (!strstr(err.msg, want)) {
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    }
    free(want);
    assert_int_equal(kf_count(s), 2); /* nothing was sent */
    mp_kube_client_free(c);
    kf_stop(s);
}

/* proxy-url is always used, as client-go does: $no_proxy (libcurl's default) must not send the
 * API requests around it. The fake server is the proxy: it sees the absolute URL. */
static void proxy_url_is_used_whatever_no_proxy_says(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTP, certs);
    kf_set_default(s, 200, POD);
    char *text =
        mp_xasprintf("current-context: t\n"
                     "contexts:\n- name: t\n  context: {cluster: c}\n"
                     "clusters:\n- name: c\n  cluster:\n    server: http://k8s.invalid:6443\n"
                     "    proxy-url: %s\n",
                     kf_url(s));
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client *c = NULL;
    struct mp_kube_client_opts o = {.max_attempts = 1};
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0 ||
        mp_kube_client_new(cfg, &o, &c, &err) != 0) {
        fail_msg("client: %s", err.msg);
    }
    setenv("no_proxy", "*", 1);
    int rc = mp_kube_get(c, &pod, NULL, NULL, &err);
    unsetenv("no_proxy");
    if (rc != 0) {
        fail_msg("get: %d %s", rc, err.msg);
    }
    assert_string_equal(kf_req(s, 0)->uri, "http://k8s.invalid:6443/api/v1/namespaces/ns/pods/p");
    mp_kube_client_free(c);
    free(text);
    kf_stop(s);
}

/* A server that cannot be reached: the error names where the kubeconfig defines it, as TLS
 * errors do (with a $KUBECONFIG list, which file to fix); the URL alone did not. */
static void unreachable_server_names_the_kubeconfig_cluster(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client_opts o = {.max_attempts = 1};
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, &o);
    kf_stop(s); /* its port now refuses connections */
    struct mp_error err = {0};
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_ETRANSPORT);
    char *want = mp_xasprintf("(the server of %s/kc.yaml:8:5: 'clusters[0].cluster')", certs);
    if (!strstr(err.msg, want)) {
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    }
    free(want);
    mp_kube_client_free(c);
}

/* As kubectl, no credentials go to an http:// server (a token would cross the network in
 * clear); a 401 then says why none were sent. */
static void no_credentials_over_plain_http(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTP, certs);
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    struct mp_kube_client *c = client_for(s, "extensions: []", TOKEN_USER, NULL);
    assert_int_equal(mp_kube_config_auth(mp_kube_client_config(c)), MP_KUBE_AUTH_NONE);
    struct mp_error err = {0};
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_EUNAUTHORIZED);
    assert_null(kf_req(s, 0)->authorization);
    if (!strstr(err.msg, "(Unauthorized, HTTP 401) (no credentials were sent: never to an "
                         "http:// server)")) {
        fail_msg("%s", err.msg);
    }
    /* A server that lets anonymous requests in (kube-apiserver's default) answers 403 for
     * system:anonymous instead: the same note, not only the RBAC refusal. */
    push_status(s, 403, "Forbidden",
                "pods \\\"p\\\" is forbidden: User \\\"system:anonymous\\\" cannot get resource "
                "\\\"pods\\\" in API group \\\"\\\" in the namespace \\\"ns\\\"",
                NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_EFORBIDDEN);
    if (!strstr(err.msg, "(Forbidden, HTTP 403) (as system:anonymous: no credentials were sent: "
                         "never to an http:// server)")) {
        fail_msg("%s", err.msg);
    }
    mp_kube_client_free(c);
    kf_stop(s);
}

static void retries_honour_retry_after_and_back_off(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct mp_kube_client *c = token_client(s, &sl);
    struct mp_error err = {0};
    push_status(s, 503, "ServiceUnavailable", "busy", "2");
    char *throttled = mp_xasprintf("{\"kind\":\"Status\",\"message\":\"slow down\",\"reason\":"
                                   "\"TooManyRequests\",\"code\":429,\"details\":"
                                   "{\"retryAfterSeconds\":1}}");
    kf_push(s, 429, throttled);
    free(throttled);
    push_status(s, 500, "InternalError", "oops", NULL);
    kf_push(s, 200, POD);
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info};
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), 0);
    assert_int_equal(info.attempts, 4);
    assert_int_equal(info.http_status, 200);
    assert_int_equal(sl.n, 3);
    assert_int_equal(sl.ms[0], 2000); /* Retry-After header */
    assert_int_equal(sl.ms[1], 1000); /* Status details.retryAfterSeconds */
    /* third try: 100 ms doubled twice, with equal jitter */
    assert_in_range(sl.ms[2], 200, 400);

    struct mp_kube_client_opts few = {.max_attempts = 3, .sleep = record_sleep, .sleep_ud = &sl};
    struct mp_kube_client *c3 = client_for(s, CA_FILE, TOKEN_USER, &few);
    for (int i = 0; i < 3; i++) {
        push_status(s, 503, "ServiceUnavailable", "busy", NULL);
    }
    assert_int_equal(mp_kube_get(c3, &pod, NULL, NULL, &err), MP_EUNAVAILABLE);
    assert_non_null(strstr(err.msg, "busy (ServiceUnavailable, HTTP 503) (gave up after 3 tries)"));
    assert_int_equal(kf_count(s), 7);

    push_status(s, 429, "TooManyRequests", "later", "60");
    o.timeout_ms = 5000;
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), MP_ETHROTTLED);
    assert_non_null(
        strstr(err.msg, "not retried: waiting 60000 ms would pass the call's deadline"));
    assert_int_equal(info.attempts, 1);
    assert_int_equal(kf_count(s), 8);
    mp_kube_client_free(c3);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void creates_are_never_resent_blindly(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct mp_kube_client *c = token_client(s, &sl);
    struct mp_error err = {0};
    json_t *obj = mp_kube_object_new("v1", "Pod", "ns", "p");
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info};
    const struct kf_answer drop = {KF_DROP, 0, NULL, NULL};

    /* The answer is lost: the server may have created it, so no resend. */
    kf_push_answer(s, &drop);
    assert_int_equal(mp_kube_create(c, &pods, obj, &o, NULL, &err), MP_ETRANSPORT);
    assert_int_equal(info.attempts, 1);
    assert_int_equal(kf_count(s), 1);
    /* A get is safe to resend. */
    kf_push_answer(s, &drop);
    kf_push(s, 200, POD);
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), 0);
    assert_int_equal(info.attempts, 2);
    /* 429: the server did not act, so even a create is resent. */
    push_status(s, 429, "TooManyRequests", "later", "0");
    kf_push(s, 201, POD);
    assert_int_equal(mp_kube_create(c, &pods, obj, &o, NULL, &err), 0);
    assert_int_equal(info.attempts, 2);
    assert_false(info.maybe_applied);
    /* 500: maybe applied, not resent. */
    push_status(s, 500, "InternalError", "etcd timeout", NULL);
    assert_int_equal(mp_kube_create(c, &pods, obj, &o, NULL, &err), MP_ESERVERERROR);
    assert_int_equal(info.attempts, 1);
    /* With retry_unsafe (deterministic names), the resend's AlreadyExists is reported as
     * possibly our own object. */
    o.retry_unsafe = true;
    kf_push_answer(s, &drop);
    push_status(s, 409, "AlreadyExists", "pods \\\"p\\\" already exists", NULL);
    assert_int_equal(mp_kube_create(c, &pods, obj, &o, NULL, &err), MP_EEXISTS);
    assert_true(info.maybe_applied);
    assert_int_equal(info.attempts, 2);
    assert_string_equal(err.msg, "create /api/v1/namespaces/ns/pods: pods \"p\" already exists "
                                 "(AlreadyExists, HTTP 409) (an earlier try whose answer was "
                                 "lost may have created it)");
    assert_int_equal(kf_count(s), 8);
    /* Each create had a connection of its own: libcurl resends a request, whatever its
     * method, when a reused connection dies before any answer. */
    assert_true(kf_req(s, 3)->connection != kf_req(s, 2)->connection);
    assert_true(kf_req(s, 5)->connection != kf_req(s, 4)->connection);
    assert_true(kf_req(s, 6)->connection != kf_req(s, 5)->connection);
    json_decref(obj);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void deadlines_end_calls(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client_opts co = {.backoff_initial_ms = 50, .max_attempts = 1000};
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, &co);
    struct mp_error err = {0};
    const struct kf_answer hold = {KF_HOLD, 200, POD, NULL};
    kf_push_answer(s, &hold);
    struct mp_kube_opts o = {.timeout_ms = 300};
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), MP_EDEADLINE);
    assert_string_equal(err.msg, "get /api/v1/namespaces/ns/pods/p: no answer within the deadline");
    kf_release(s);

    /* Retries stop at the deadline too (real waits here). */
    char *busy = status_body(503, "ServiceUnavailable", "busy");
    kf_set_default(s, 503, busy);
    free(busy);
    size_t before = kf_count(s);
    o.timeout_ms = 400;
    int rc = mp_kube_get(c, &pod, &o, NULL, &err);
    if (rc == MP_EUNAVAILABLE) {
        assert_non_null(strstr(err.msg, "would pass the call's deadline"));
    } else {
        assert_int_equal(rc, MP_EDEADLINE); /* a very slow machine: a try outlived it */
    }
    assert_true(kf_count(s) - before >= 2);
    mp_kube_client_free(c);
    kf_stop(s);
}

struct firing {
    struct kf_server *s;
    struct mp_kube_cancel *cancel;
    int stream;      /* wait for this stream, or -1: */
    size_t requests; /* for this many requests */
};

static void *fire_when_waiting(void *arg)
{
    struct firing *f = arg;
    if (f->stream >= 0) {
        kf_wait_stream(f->s, f->stream);
    } else {
        kf_wait_requests(f->s, f->requests);
    }
    mp_kube_cancel_fire(f->cancel);
    return NULL;
}

static int count_event(void *ud, const struct mp_kube_event *ev)
{
    (void)ev;
    (*(int *)ud)++;
    return 0;
}

static void cancel_from_another_thread(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct mp_error err = {0};
    /* An open watch that brings nothing. */
    struct firing f = {s, mp_kube_cancel_new(), kf_push_stream(s), 0};
    pthread_t t;
    pthread_create(&t, NULL, fire_when_waiting, &f);
    struct mp_kube_opts o = {.cancel = f.cancel};
    int events = 0;
    assert_int_equal(mp_kube_watch(c, &pods, &o, count_event, &events, &err), MP_ECANCELLED);
    assert_string_equal(err.msg, "watch /api/v1/namespaces/ns/pods: cancelled");
    pthread_join(t, NULL);
    /* A fired token ends calls at once. */
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), MP_ECANCELLED);
    assert_int_equal(kf_count(s), 1);
    mp_kube_cancel_free(f.cancel);

    /* A wait between retries (the server asked for 30 s). */
    char *busy = status_body(503, "ServiceUnavailable", "busy");
    struct kf_answer a = {KF_REPLY, 503, busy, "30"};
    kf_push_answer(s, &a);
    free(busy);
    size_t before = kf_count(s);
    struct firing g = {s, mp_kube_cancel_new(), -1, before + 1};
    pthread_create(&t, NULL, fire_when_waiting, &g);
    o.cancel = g.cancel;
    o.timeout_ms = 120000;
    assert_int_equal(mp_kube_get(c, &pod, &o, NULL, &err), MP_ECANCELLED);
    pthread_join(t, NULL);
    assert_int_equal(kf_count(s) - before, 1);
    mp_kube_cancel_free(g.cancel);
    mp_kube_client_free(c);
    kf_stop(s);
}

struct worker {
    struct mp_kube_client *c;
    int ok;
};

static void *get_many(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < 25; i++) {
        json_t *out = NULL;
        if (mp_kube_get(w->c, &pod, NULL, &out, NULL) == 0 &&
            strcmp(mp_kube_meta(out, "uid"), "u1") == 0) {
            w->ok++;
        }
        json_decref(out);
    }
    return NULL;
}

static void connections_are_reused_across_threads(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    kf_set_default(s, 200, POD);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, NULL), 0);
    }
    assert_int_equal(kf_connections(s), 1);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){c, 0};
        pthread_create(&t[i], NULL, get_many, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, 25);
    }
    assert_int_equal(kf_count(s), 110);
    /* At most one connection per concurrent caller. */
    assert_in_range(kf_connections(s), 1, 4);
    mp_kube_client_free(c);
    kf_stop(s);
}

static const char *exec_plugin = "#!/bin/sh\n"
                                 "n=$(( $(cat \"$KF_DIR/count\" 2>/dev/null || echo 0) + 1 ))\n"
                                 "echo \"$n\" > \"$KF_DIR/count\"\n"
                                 "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":"
                                 "\"client.authentication.k8s.io/v1beta1\",\"status\":"
                                 "{\"token\":\"tok-%s\"}}' \"$n\"\n";

static void unauthorized_refreshes_the_credential(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    char *dir = kf_tmpdir();
    kf_write(dir, "plugin.sh", exec_plugin);
    char *plugin = mp_xasprintf("%s/plugin.sh", dir);
    chmod(plugin, 0755);
    char *user = mp_xasprintf("    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                              "      command: %s\n      env: [{name: KF_DIR, value: '%s'}]\n",
                              plugin, dir);
    struct mp_kube_client *c = client_for(s, CA_FILE, user, NULL);
    struct mp_error err = {0};
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    kf_push(s, 200, POD);
    kf_push(s, 200, POD);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    assert_string_equal(kf_req(s, 0)->authorization, "Bearer tok-1");
    assert_string_equal(kf_req(s, 1)->authorization, "Bearer tok-2");
    assert_string_equal(kf_req(s, 2)->authorization, "Bearer tok-2");
    /* A refreshed credential that is refused too is an error, not a loop. */
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_EUNAUTHORIZED);
    assert_int_equal(kf_count(s), 5);
    char *want = mp_xasprintf("(Unauthorized, HTTP 401) (the server refused the credentials of "
                              "%s/kc.yaml:13:5: 'users[0].user')",
                              certs);
    if (!strstr(err.msg, want)) {
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    }
    free(want);
    /* A plugin that can no longer give credentials (an expired SSO session) fails the call as
     * unauthenticated, with its message, and nothing is sent: a caller stops there, as for a
     * 401, rather than taking it for a failure of what it asked. */
    kf_write(dir, "plugin.sh", "#!/bin/sh\necho 'the SSO session expired' >&2\nexit 1\n");
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_EUNAUTHORIZED);
    assert_int_equal(err.code, MP_EUNAUTHORIZED);
    if (!strstr(err.msg, "exited with status 1: the SSO session expired")) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(kf_count(s), 6);
    mp_kube_client_free(c);

    /* A token file is re-read when it changes; a static token is never refreshed. */
    kf_write(dir, "token", "file-1\n");
    char *tf = mp_xasprintf("    tokenFile: %s/token\n", dir);
    c = client_for(s, CA_FILE, tf, NULL);
    kf_push(s, 200, POD);
    kf_push(s, 200, POD);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    kf_write(dir, "token.new", "file-2\n");
    char *from = mp_xasprintf("%s/token.new", dir), *to = mp_xasprintf("%s/token", dir);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), 0);
    assert_string_equal(kf_req(s, 6)->authorization, "Bearer file-1");
    assert_string_equal(kf_req(s, 7)->authorization, "Bearer file-2");
    mp_kube_client_free(c);
    c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    push_status(s, 401, "Unauthorized", "Unauthorized", NULL);
    assert_int_equal(mp_kube_get(c, &pod, NULL, NULL, &err), MP_EUNAUTHORIZED);
    assert_int_equal(kf_count(s), 9);
    mp_kube_client_free(c);

    free(from);
    free(to);
    free(tf);
    free(user);
    free(plugin);
    kf_rmtree(dir);
    free(dir);
    kf_stop(s);
}

/* ---- watch, pagination, reflector ---- */

struct events {
    char log[2048];
    struct kf_server *drop_server; /* drops this stream once an event has arrived */
    int drop_stream;
};

static void append_event(char *log, size_t cap, const struct mp_kube_event *ev)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    size_t n = strlen(log);
    const char *name = mp_kube_meta(ev->object, "name");
    snprintf(log + n, cap - n, "%s:%s:%s;", names[ev->type], name ? name : "-",
             ev->resource_version);
}

static int log_event(void *ud, const struct mp_kube_event *ev)
{
    struct events *e = ud;
    append_event(e->log, sizeof(e->log), ev);
    if (e->drop_server) {
        kf_stream_drop(e->drop_server, e->drop_stream);
    }
    return 0;
}

static char *event(const char *type, const char *name, const char *rv)
{
    if (!name) {
        return mp_xasprintf("{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                            "\"metadata\":{\"resourceVersion\":\"%s\"}}}\n",
                            type, rv);
    }
    return mp_xasprintf("{\"type\":\"%s\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\","
                        "\"metadata\":{\"name\":\"%s\",\"resourceVersion\":\"%s\"}}}\n",
                        type, name, rv);
}

static void send_event(struct kf_server *s, int stream, const char *type, const char *name,
                       const char *rv)
{
    char *e = event(type, name, rv);
    kf_stream_send(s, stream, e);
    free(e);
}

#define EXPIRED_EVENT                                                                              \
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"        \
    "\"Failure\",\"message\":\"too old resource version: 15 (40)\",\"reason\":\"Expired\","        \
    "\"code\":410}}\n"

static void watch_streams_events(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct mp_error err = {0};
    int st = kf_push_stream(s);
    send_event(s, st, "ADDED", "a", "11");
    send_event(s, st, "BOOKMARK", NULL, "15");
    send_event(s, st, "DELETED", "a", "16");
    kf_stream_end(s, st);
    struct events ev = {{0}, NULL, 0};
    struct mp_kube_opts o = {
        .resource_version = "10", .allow_bookmarks = true, .timeout_seconds = 30};
    assert_int_equal(mp_kube_watch(c, &pods, &o, log_event, &ev, &err), 0);
    assert_string_equal(ev.log, "ADDED:a:11;BOOKMARK:-:15;DELETED:a:16;");
    expect_request(s, 0, "GET",
                   "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=10&allowWatchBookmarks="
                   "true&timeoutSeconds=30",
                   NULL);

    /* One object: a field selector on the collection; a dropped stream ends the watch. */
    st = kf_push_stream(s);
    send_event(s, st, "MODIFIED", "p", "20");
    memset(&ev, 0, sizeof(ev));
    ev.drop_server = s;
    ev.drop_stream = st;
    struct mp_kube_opts one = {.field_selector = "status.phase=Running"};
    assert_int_equal(mp_kube_watch(c, &pod, &one, log_event, &ev, &err), 0);
    assert_string_equal(ev.log, "MODIFIED:p:20;");
    expect_request(s, 1, "GET",
                   "/api/v1/namespaces/ns/pods?watch=1&fieldSelector=metadata.name%3Dp%2C"
                   "status.phase%3DRunning",
                   NULL);

    /* Too old: HTTP 410 or an ERROR event. */
    push_status(s, 410, "Expired", "too old resource version: 1 (40)", NULL);
    assert_int_equal(mp_kube_watch(c, &pods, &o, log_event, &ev, &err), MP_EEXPIRED);
    st = kf_push_stream(s);
    kf_stream_send(s, st, EXPIRED_EVENT);
    assert_int_equal(mp_kube_watch(c, &pods, &o, log_event, &ev, &err), MP_EEXPIRED);
    assert_string_equal(err.msg, "watch /api/v1/namespaces/ns/pods: too old resource version: 15 "
                                 "(40) (Expired, HTTP 410)");
    kf_stream_end(s, st);
    mp_kube_client_free(c);
    kf_stop(s);
}

#define PAGE(items, cont, rv)                                                                      \
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"" rv          \
    "\",\"continue\":\"" cont "\"},\"items\":[" items "]}"
#define ITEM(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"resourceVersion\":\"" rv "\"}}"

static void names_of(const json_t *list, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t i;
    const json_t *it;
    json_array_foreach (json_object_get(list, "items"), i, it) {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", i ? "," : "", mp_kube_meta(it, "name"));
    }
}

static void list_all_follows_pages(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct mp_error err = {0};
    kf_push(s, 200, PAGE(ITEM("a", "1") "," ITEM("b", "2"), "tok1", "100"));
    kf_push(s, 200, PAGE(ITEM("c", "3"), "", "100"));
    json_t *list = NULL;
    struct mp_kube_opts o = {.limit = 2, .label_selector = "app=x"};
    assert_int_equal(mp_kube_list_all(c, &pods, &o, &list, &err), 0);
    char names[64];
    names_of(list, names, sizeof(names));
    assert_string_equal(names, "a,b,c");
    assert_string_equal(mp_kube_meta(list, "resourceVersion"), "100");
    assert_null(mp_kube_meta(list, "continue"));
    assert_string_equal(json_string_value(json_object_get(list, "kind")), "PodList");
    json_decref(list);
    expect_request(s, 0, "GET", "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx&limit=2", NULL);
    expect_request(s, 1, "GET",
                   "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx&limit=2&continue=tok1", NULL);

    /* The continue token expired: one list without pages. */
    kf_push(s, 200, PAGE(ITEM("a", "1") "," ITEM("b", "2"), "tok2", "100"));
    push_status(s, 410, "Expired", "The provided continue parameter is too old", NULL);
    kf_push(s, 200, PAGE(ITEM("a", "1") "," ITEM("b", "2") "," ITEM("d", "4"), "", "120"));
    assert_int_equal(mp_kube_list_all(c, &pods, &o, &list, &err), 0);
    names_of(list, names, sizeof(names));
    assert_string_equal(names, "a,b,d");
    assert_string_equal(mp_kube_meta(list, "resourceVersion"), "120");
    json_decref(list);
    expect_request(s, 4, "GET", "/api/v1/namespaces/ns/pods?labelSelector=app%3Dx", NULL);
    assert_int_equal(kf_count(s), 5);

    /* A server (or proxy) that ignores continue and answers the same page and token again
     * would have us loop and grow the list for ever. */
    kf_push(s, 200, PAGE(ITEM("a", "1"), "same", "100"));
    kf_push(s, 200, PAGE(ITEM("a", "1"), "same", "100"));
    kf_set_default(s, 200, PAGE(ITEM("a", "1"), "", "100"));
    assert_int_equal(mp_kube_list_all(c, &pods, &o, &list, &err), MP_EPARSE);
    assert_non_null(strstr(err.msg, "the same continue token again"));
    assert_int_equal(kf_count(s), 7);
    mp_kube_client_free(c);
    kf_stop(s);
}

struct seen {
    char log[2048];
    struct kf_server *s;
    int drop_stream; /* dropped once its MODIFIED event has arrived */
    struct mp_kube_client *c;
    struct mp_kube_cancel *stop;
    int rc;
    struct mp_error err;
    char retried[MP_ERROR_MSG_MAX]; /* the last failure the reflector backed off from */
    int stop_at_replace;            /* replace returns this (0: go on) */
};

static int on_replace(void *ud, json_t *items, const char *rv)
{
    struct seen *s = ud;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, "replace(%s):", rv);
    size_t i;
    const json_t *it;
    json_array_foreach (items, i, it) {
        n = strlen(s->log);
        snprintf(s->log + n, sizeof(s->log) - n, "%s%s", i ? "," : "", mp_kube_meta(it, "name"));
    }
    n = strlen(s->log);
    snprintf(s->log + n, sizeof(s->log) - n, ";");
    return s->stop_at_replace;
}

static void on_retrying(void *ud, const struct mp_error *err)
{
    struct seen *s = ud;
    snprintf(s->retried, sizeof(s->retried), "%s", err->msg);
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct seen *s = ud;
    append_event(s->log, sizeof(s->log), ev);
    if (ev->type == MP_KUBE_MODIFIED) {
        kf_stream_drop(s->s, s->drop_stream);
    }
    return 0;
}

static void *reflect(void *arg)
{
    struct seen *s = arg;
    static const struct mp_kube_reflector_ops ops = {on_replace, on_event, on_retrying, false};
    s->rc = mp_kube_reflect(s->c, &pods, NULL, &ops, s, s->stop, &s->err);
    return NULL;
}

static const char *query_rv(struct kf_server *s, size_t i)
{
    const char *p = strstr(kf_req(s, i)->uri, "resourceVersion=");
    return p ? p + strlen("resourceVersion=") : "";
}

static void reflector_lists_watches_and_relists(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct sleeps sl = {.mu = PTHREAD_MUTEX_INITIALIZER};
    /* One try per call, so that failures reach the reflector's own backoff. */
    struct mp_kube_client_opts o = {.max_attempts = 1, .sleep = record_sleep, .sleep_ud = &sl};
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, &o);
    kf_push(s, 200, PAGE(ITEM("a", "5") "," ITEM("b", "6"), "", "10"));
    int w0 = kf_push_stream(s);
    send_event(s, w0, "ADDED", "c", "11");
    send_event(s, w0, "BOOKMARK", NULL, "15");
    kf_stream_end(s, w0); /* the server's timeout: watch again from 15 */
    int w1 = kf_push_stream(s);
    kf_stream_send(s, w1, EXPIRED_EVENT); /* compacted: list again */
    kf_push(s, 200, PAGE(ITEM("a", "5") "," ITEM("c", "11"), "", "20"));
    push_status(s, 410, "Gone", "too old", NULL); /* and once more */
    kf_push(s, 200, PAGE(ITEM("c", "11"), "", "30"));
    int w2 = kf_push_stream(s);
    send_event(s, w2, "MODIFIED", "c", "31"); /* then dropped: watch again from 31 */
    push_status(s, 503, "ServiceUnavailable", "restarting", NULL);
    int w3 = kf_push_stream(s);

    struct seen seen = {.s = s, .drop_stream = w2, .c = c, .stop = mp_kube_cancel_new(), .rc = -1};
    pthread_t t;
    pthread_create(&t, NULL, reflect, &seen);
    kf_wait_stream(s, w3);
    mp_kube_cancel_fire(seen.stop);
    pthread_join(t, NULL);
    assert_int_equal(seen.rc, 0);
    assert_string_equal(seen.log, "replace(10):a,b;ADDED:c:11;replace(20):a,c;replace(30):c;"
                                  "MODIFIED:c:31;");
    assert_int_equal(kf_count(s), 9);
    const char *want_rv[] = {"", "10&", "15&", "", "20&", "", "30&", "31&", "31&"};
    for (size_t i = 0; i < MP_ARRAY_LEN(want_rv); i++) {
        if (strncmp(query_rv(s, i), want_rv[i], strlen(want_rv[i])) != 0) {
            fail_msg("request %zu: %s, want resourceVersion=%s", i, kf_req(s, i)->uri, want_rv[i]);
        }
    }
    assert_non_null(strstr(kf_req(s, 1)->uri, "watch=1"));
    assert_non_null(strstr(kf_req(s, 1)->uri, "allowWatchBookmarks=true&timeoutSeconds=300"));
    assert_null(strstr(kf_req(s, 3)->uri, "watch=1"));
    assert_string_equal(seen.retried, "watch /api/v1/namespaces/ns/pods: restarting "
                                      "(ServiceUnavailable, HTTP 503)");
    /* Backed off after the watch that brought only a 410, after the HTTP 410 and the 503. */
    assert_int_equal(sl.n, 3);
    mp_kube_cancel_free(seen.stop);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void *reflect_events(void *arg)
{
    struct seen *s = arg;
    static const struct mp_kube_reflector_ops ops = {on_replace, on_event, on_retrying, true};
    s->rc = mp_kube_reflect(s->c, &pods, NULL, &ops, s, s->stop, &s->err);
    return NULL;
}

/* events_only: a list of one object for the resourceVersion (not every page, whose objects the
 * user does not want), replace with no items, then the watch from that version. */
static void reflector_events_only_reads_one_object(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    kf_push(s, 200, PAGE(ITEM("a", "5"), "more", "10"));
    int w0 = kf_push_stream(s);
    send_event(s, w0, "DELETED", "a", "11");
    kf_stream_send(s, w0, EXPIRED_EVENT); /* compacted: list again, one object again */
    kf_push(s, 200, PAGE(ITEM("b", "6"), "more", "20"));
    int w1 = kf_push_stream(s);
    struct seen seen = {.s = s, .c = c, .stop = mp_kube_cancel_new(), .rc = -1};
    pthread_t t;
    pthread_create(&t, NULL, reflect_events, &seen);
    kf_wait_stream(s, w1);
    mp_kube_cancel_fire(seen.stop);
    pthread_join(t, NULL);
    assert_int_equal(seen.rc, 0);
    assert_string_equal(seen.log, "replace(10):;DELETED:a:11;replace(20):;");
    assert_int_equal(kf_count(s), 4);
    for (size_t i = 0; i < 4; i += 2) {
        if (!strstr(kf_req(s, i)->uri, "limit=1") || strstr(kf_req(s, i)->uri, "continue=") ||
            strstr(kf_req(s, i)->uri, "watch=1")) {
            fail_msg("request %zu: %s, want a list with limit=1", i, kf_req(s, i)->uri);
        }
    }
    assert_int_equal(strncmp(query_rv(s, 1), "10&", 3), 0);
    assert_int_equal(strncmp(query_rv(s, 3), "20&", 3), 0);
    mp_kube_cancel_free(seen.stop);
    mp_kube_client_free(c);
    kf_stop(s);
}

static void reflector_stops_on_callbacks_and_final_errors(void **state)
{
    (void)state;
    struct kf_server *s = kf_start(KF_HTTPS, certs);
    struct mp_kube_client *c = client_for(s, CA_FILE, TOKEN_USER, NULL);
    struct seen seen = {.s = s, .c = c, .stop = mp_kube_cancel_new(), .stop_at_replace = 42};
    kf_push(s, 200, PAGE(ITEM("a", "5"), "", "10"));
    reflect(&seen);
    assert_int_equal(seen.rc, 42);
    assert_string_equal(seen.log, "replace(10):a;");
    seen.stop_at_replace = 0;
    push_status(s, 403, "Forbidden", "pods is forbidden", NULL);
    reflect(&seen);
    assert_int_equal(seen.rc, MP_EFORBIDDEN);
    assert_string_equal(seen.err.msg,
                        "list /api/v1/namespaces/ns/pods: pods is forbidden (Forbidden, HTTP 403)");
    /* A fired token stops it before anything is sent. */
    mp_kube_cancel_fire(seen.stop);
    reflect(&seen);
    assert_int_equal(seen.rc, 0);
    assert_int_equal(kf_count(s), 2);
    mp_kube_cancel_free(seen.stop);
    mp_kube_client_free(c);
    kf_stop(s);
}

static int make_certs(void **state)
{
    (void)state;
    certs = kf_tmpdir();
    kf_make_certs(certs);
    return 0;
}

static int remove_certs(void **state)
{
    (void)state;
    kf_rmtree(certs);
    free(certs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_send_what_the_api_expects),
        cmocka_unit_test(writes_send_what_the_api_expects),
        cmocka_unit_test(status_errors_name_verb_path_and_reason),
        cmocka_unit_test(tls_client_certificate_insecure_and_wrong_ca),
        cmocka_unit_test(unreachable_server_names_the_kubeconfig_cluster),
        cmocka_unit_test(proxy_url_is_used_whatever_no_proxy_says),
        cmocka_unit_test(no_credentials_over_plain_http),
        cmocka_unit_test(retries_honour_retry_after_and_back_off),
        cmocka_unit_test(creates_are_never_resent_blindly),
        cmocka_unit_test(deadlines_end_calls),
        cmocka_unit_test(cancel_from_another_thread),
        cmocka_unit_test(connections_are_reused_across_threads),
        cmocka_unit_test(unauthorized_refreshes_the_credential),
        cmocka_unit_test(watch_streams_events),
        cmocka_unit_test(list_all_follows_pages),
        cmocka_unit_test(reflector_lists_watches_and_relists),
        cmocka_unit_test(reflector_events_only_reads_one_object),
        cmocka_unit_test(reflector_stops_on_callbacks_and_final_errors),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
