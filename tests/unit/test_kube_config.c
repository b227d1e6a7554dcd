/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the Kubernetes client's configuration: kubeconfig variants (token, client
 * certificate, CA data, insecure, exec plugins), $KUBECONFIG merging, errors with file:line:col,
 * in-cluster service accounts, and the credential cache (token file rotation, exec plugin
 * expiry, re-run after a 401). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube/kube_int.h"
#include "kube_fake.h"

#define FAKE_CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
#define FAKE_KEY  "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
/* base64 of FAKE_CERT */
#define FAKE_CERT_B64                                                                              \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="

#define EXPIRY_2030_NS (INT64_C(1893456000) * 1000000000)

static const char *main_kubeconfig = "apiVersion: v1\n"
                                     "kind: Config\n"
                                     "current-context: dev\n"
                                     "clusters:\n"
                                     "- name: c1\n"
                                     "  cluster:\n"
                                     "    server: https://127.0.0.1:6443/\n"
                                     "    certificate-authority-data: " FAKE_CERT_B64 "\n"
                                     "- name: c2\n"
                                     "  cluster:\n"
                                     "    server: 10.0.0.1:443\n"
                                     "    insecure-skip-tls-verify: true\n"
                                     "contexts:\n"
                                     "- name: dev\n"
                                     "  context:\n"
                                     "    cluster: c1\n"
                                     "    user: tok\n"
                                     "    namespace: team-a\n"
                                     "- name: ops\n"
                                     "  context:\n"
                                     "    cluster: c2\n"
                                     "    user: cert\n"
                                     "users:\n"
                                     "- name: tok\n"
                                     "  user:\n"
                                     "    token: abc123\n"
                                     "- name: cert\n"
                                     "  user:\n"
                                     "    client-certificate: certs/client.crt\n"
                                     "    client-key: certs/client.key\n";

static struct mp_kube_config *load_ok(const struct mp_kube_load_opts *o)
{
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_load(o, &cfg, &err) != 0) {
        fail_msg("load: %s", err.msg);
    }
    return cfg;
}

static void token_and_certificate_contexts(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    char *certs = mp_xasprintf("%s/certs", dir);
    mkdir(certs, 0700);
    kf_write(certs, "client.crt", FAKE_CERT);
    kf_write(certs, "client.key", FAKE_KEY);
    kf_write(dir, "kc.yaml", main_kubeconfig);
    char *path = mp_xasprintf("%s/kc.yaml", dir);

    struct mp_kube_load_opts o = {.kubeconfig = path};
    struct mp_kube_config *cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_server(cfg), "https://127.0.0.1:6443");
    assert_string_equal(mp_kube_config_namespace(cfg), "team-a");
    assert_string_equal(mp_kube_config_context(cfg), "dev");
    assert_string_equal(mp_kube_config_source(cfg), path);
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_TOKEN);
    assert_string_equal(cfg->token, "abc123");
    assert_int_equal(cfg->ca_data.len, strlen(FAKE_CERT));
    assert_memory_equal(cfg->ca_data.data, FAKE_CERT, strlen(FAKE_CERT));
    assert_false(cfg->insecure);
    mp_kube_config_free(cfg);

    o.context = "ops";
    cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_server(cfg), "https://10.0.0.1:443");
    assert_string_equal(mp_kube_config_namespace(cfg), "default");
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_CERT);
    assert_true(cfg->insecure);
    assert_int_equal(cfg->ca_data.len, 0);
    assert_int_equal(cfg->cert_data.len, strlen(FAKE_CERT));
    assert_memory_equal(cfg->key_data.data, FAKE_KEY, strlen(FAKE_KEY));
    mp_kube_config_free(cfg);

    free(path);
    free(certs);
    kf_rmtree(dir);
    free(dir);
}

/* A kubeconfig of many clusters with embedded certificates passes 1 MiB; kubectl reads it. */
static void a_kubeconfig_over_1_mib_is_read(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "current-context: ctx399\nclusters:\n");
    struct mp_buf pem = MP_BUF_INIT; /* a certificate's size, in PEM as kubectl keeps it */
    mp_buf_adds(&pem, "-----BEGIN CERTIFICATE-----\n");
    for (int i = 0; i < 70; i++) {
        mp_buf_adds(&pem, "MIIDBTCCAe2gAwIBAgIIB4m0rL2ZqPwwDQYJKoZIhvcNAQELBQAwFTETMBEGA1UE\n");
    }
    mp_buf_adds(&pem, "-----END CERTIFICATE-----\n");
    char *blob = mp_kube_base64_encode((const unsigned char *)pem.data, pem.len);
    for (int i = 0; i < 400; i++) {
        mp_buf_addf(&b,
                    "- name: c%d\n  cluster:\n    server: https://10.0.%d.%d:6443\n"
                    "    certificate-authority-data: %s\n",
                    i, i / 256, i % 256, blob);
    }
    mp_buf_adds(&b, "contexts:\n");
    for (int i = 0; i < 400; i++) {
        mp_buf_addf(&b, "- name: ctx%d\n  context: {cluster: c%d, user: u%d}\n", i, i, i);
    }
    mp_buf_adds(&b, "users:\n");
    for (int i = 0; i < 400; i++) {
        mp_buf_addf(&b, "- name: u%d\n  user: {token: t%d}\n", i, i);
    }
    assert_true(b.len > (2u << 20));
    kf_write(dir, "big.yaml", b.data);
    char *path = mp_xasprintf("%s/big.yaml", dir);
    struct mp_kube_load_opts o = {.kubeconfig = path};
    struct mp_kube_config *cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_server(cfg), "https://10.0.1.143:6443");
    assert_string_equal(cfg->token, "t399");
    assert_int_equal(cfg->ca_data.len, pem.len);
    mp_kube_config_free(cfg);
    free(path);
    free(blob);
    mp_buf_release(&pem);
    mp_buf_release(&b);
    kf_rmtree(dir);
    free(dir);
}

static void expect_parse_error(const char *text, const char *context, int code, const char *want)
{
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    int rc = mp_kube_config_parse(text, strlen(text), "bad.yaml", context, &cfg, &err);
    if (rc != code) {
        fail_msg("got %d (%s), want %d, for:\n%s", rc, err.msg, code, text);
    }
    if (!strstr(err.msg, want)) {
        fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
    }
}

#define CTX_A "current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"

static void errors_name_file_line_column_and_field(void **state)
{
    (void)state;
    expect_parse_error("current-context: nope\n", NULL, MP_EINVALID,
                       "bad.yaml:1:18: 'current-context': context \"nope\" is not defined");
    expect_parse_error("current-context: a\ncontexts:\n- name: a\n  context:\n    cluster: "
                       "missing\nclusters: []\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:5:14: 'contexts[0].context.cluster': cluster \"missing\" is not "
                       "defined in bad.yaml");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: "
                             "true\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:8:5: 'clusters[0].cluster.server': required key is missing");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
                             "    certificate-authority-data: \"%%%\"\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:9:33: 'clusters[0].cluster.certificate-authority-data': not "
                       "valid base64");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
                             "    insecure-skip-tls-verify: true\n"
                             "    certificate-authority-data: " FAKE_CERT_B64 "\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:8:5: 'clusters[0].cluster': certificate-authority and "
                       "insecure-skip-tls-verify cannot both be set");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    client-certificate-data: " FAKE_CERT_B64
                             "\n    client-key: /nonexistent/key.pem\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:12:17: 'users[0].user.client-key': cannot read the file: "
                       "/nonexistent/key.pem: No such file or directory");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\n", NULL,
                       MP_EINVALID,
                       "bad.yaml:4:31: 'contexts[0].context.user': user \"u\" is not defined");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\n"
                             "- name: c\n  cluster: {server: https://y}\n",
                       NULL, MP_EINVALID, "bad.yaml:8:9: 'clusters[1].name': duplicate name \"c\"");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: "
                             "'https://bob:s3cret@x:6443/k8s'}\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:7:21: 'clusters[0].cluster.server': a user name or password in "
                       "the server URL is not supported");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: "
                             "'https://bob:s3cret@x:6443/?q'}\n",
                       NULL, MP_EINVALID, "a user name or password in the server URL");
    /* An IPv6 literal without its ']' (read past the URL's end by tls-server-name's split). */
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: 'https://[fd00::1', "
                             "tls-server-name: x}\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:7:21: 'clusters[0].cluster.server': not a valid server URL: "
                       "\"https://[fd00::1\"");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: 'https://[fd00::1]x'}\n",
                       NULL, MP_EINVALID, "not a valid server URL");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: ftp://x}\n", NULL,
                       MP_EINVALID, "'clusters[0].cluster.server': the server URL must use");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    client-certificate-data: " FAKE_CERT_B64 "\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:11:5: 'users[0].user': client-certificate and client-key must "
                       "be given together");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    client-certificate-data: '-----BEGIN "
                             "CERTIFICATE-----'\n",
                       NULL, MP_EINVALID, "not valid base64");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user: {token: \"abc\\r\\nX-Evil: 1\"}\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:10:17: 'users[0].user.token': contains control characters");
    expect_parse_error(CTX_A, "nope", MP_EINVALID,
                       "bad.yaml: context \"nope\" is not defined (defined: a)");
    expect_parse_error("# nothing here\n\n", NULL, MP_EINVALID,
                       "bad.yaml: current-context is not set; choose a context with --context "
                       "(defined: none)");
    expect_parse_error("clusters: {}\n", NULL, MP_EINVALID,
                       "bad.yaml:1:11: 'clusters': expected a list, got a mapping");
    expect_parse_error("clusters:\n- name: [x\n", NULL, MP_EPARSE, "bad.yaml:3:1");
}

static void exec_section_is_validated(void **state)
{
    (void)state;
    const char *base = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    exec:\n";
    const struct {
        const char *exec, *want;
    } cases[] = {
        {"      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n",
         "bad.yaml:12:7: 'users[0].user.exec': interactiveMode is required for "
         "client.authentication.k8s.io/v1"},
        {"      apiVersion: client.authentication.k8s.io/v1alpha1\n      command: aws\n",
         "bad.yaml:12:19: 'users[0].user.exec.apiVersion': \"client.authentication.k8s.io/"
         "v1alpha1\" is not supported"},
        {"      apiVersion: client.authentication.k8s.io/v1\n      command: aws\n"
         "      interactiveMode: Always\n",
         "'users[0].user.exec.interactiveMode': \"Always\" needs a terminal"},
        {"      apiVersion: client.authentication.k8s.io/v1beta1\n",
         "'users[0].user.exec.command': required key is missing"},
        {"      apiVersion: client.authentication.k8s.io/v1beta1\n      command: aws\n"
         "      env:\n      - value: x\n",
         "'users[0].user.exec.env[0].name': required key is missing"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *text = mp_xasprintf("%s%s", base, cases[i].exec);
        expect_parse_error(text, NULL, MP_EINVALID, cases[i].want);
        free(text);
    }
    char *text = mp_xasprintf("%s%s", base,
                              "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                              "      command: bin/get-token\n      args: [--region, eu]\n"
                              "      env: [{name: A, value: '1'}, {name: B}]\n");
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "/etc/kube/kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_EXEC);
    assert_string_equal(cfg->exec->command, "/etc/kube/bin/get-token");
    assert_string_equal(cfg->exec->argv[0], "/etc/kube/bin/get-token");
    assert_string_equal(cfg->exec->argv[1], "--region");
    assert_string_equal(cfg->exec->argv[2], "eu");
    assert_null(cfg->exec->argv[3]);
    assert_string_equal(cfg->exec->env[0], "A=1");
    assert_string_equal(cfg->exec->env[1], "B=");
    assert_null(cfg->exec->env[2]);
    assert_string_equal(cfg->exec->where, "/etc/kube/kc.yaml:12:7: 'users[0].user.exec'");
    mp_kube_config_free(cfg);
    free(text);
    /* ./get-token beside a kubeconfig in the current folder stays a path: "get-token" would be
     * looked up in $PATH (kubectl runs the file beside the kubeconfig). */
    text = mp_xasprintf("%s%s", base,
                        "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                        "      command: ./get-token\n");
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(cfg->exec->command, "./get-token");
    assert_string_equal(cfg->exec->argv[0], "./get-token");
    mp_kube_config_free(cfg);
    free(text);
}

static void kubeconfig_list_is_merged_as_kubectl(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "a.yaml",
             "current-context: a\n"
             "contexts:\n- name: a\n  context: {cluster: shared, user: ua}\n"
             "clusters:\n- name: shared\n  cluster: {server: https://a.example:1}\n"
             "users:\n- name: ua\n  user: {token: ta}\n");
    kf_write(dir, "b.yaml",
             "current-context: b\n"
             "contexts:\n- name: b\n  context: {cluster: shared, user: ub, namespace: nb}\n"
             "- name: a\n  context: {cluster: other, user: ub}\n"
             "clusters:\n- name: shared\n  cluster: {server: https://b.example:2}\n"
             "- name: other\n  cluster: {server: https://other:3}\n"
             "users:\n- name: ub\n  user: {token: tb}\n");
    char *env = mp_xasprintf("%s/a.yaml::%s/missing.yaml:%s/b.yaml:%s/a.yaml", dir, dir, dir, dir);
    struct mp_kube_load_opts o = {.kubeconfig_env = env};
    struct mp_kube_config *cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_context(cfg), "a");
    assert_string_equal(mp_kube_config_server(cfg), "https://a.example:1");
    assert_string_equal(cfg->token, "ta");
    char *src = mp_xasprintf("%s/a.yaml:%s/b.yaml", dir, dir);
    assert_string_equal(mp_kube_config_source(cfg), src);
    mp_kube_config_free(cfg);

    o.context = "b";
    cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_server(cfg), "https://a.example:1");
    assert_string_equal(cfg->token, "tb");
    assert_string_equal(mp_kube_config_namespace(cfg), "nb");
    mp_kube_config_free(cfg);

    /* Only missing files: no configuration; an explicit --kubeconfig must exist. */
    struct mp_error err = {0};
    char *missing = mp_xasprintf("%s/missing.yaml", dir);
    struct mp_kube_load_opts none = {.kubeconfig_env = missing};
    assert_int_equal(mp_kube_config_load(&none, &cfg, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "no kubeconfig: $KUBECONFIG"));
    struct mp_kube_load_opts explicit = {.kubeconfig = missing, .kubeconfig_env = env};
    assert_int_equal(mp_kube_config_load(&explicit, &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "cannot read kubeconfig"));
    assert_non_null(strstr(err.msg, "missing.yaml"));

    /* ~/.kube/config, and the in-cluster fallback when it is missing. */
    struct mp_kube_load_opts home = {.kubeconfig_env = "", .home = dir};
    assert_int_equal(mp_kube_config_load(&home, &cfg, &err), MP_EINVALID);
    char *want = mp_xasprintf("no kubeconfig: %s/.kube/config does not exist", dir);
    assert_string_equal(strstr(err.msg, "no kubeconfig"), strstr(err.msg, want));
    assert_non_null(strstr(err.msg, want));
    kf_write(dir, "token", "sa-token\n");
    home.in_cluster_fallback = true;
    home.service_host = "10.96.0.1";
    home.service_port = "443";
    home.sa_dir = dir;
    cfg = load_ok(&home);
    assert_string_equal(mp_kube_config_server(cfg), "https://10.96.0.1:443");
    mp_kube_config_free(cfg);
    char *kube = mp_xasprintf("%s/.kube", dir);
    mkdir(kube, 0700);
    kf_write(kube, "config", main_kubeconfig);
    cfg = load_ok(&home);
    assert_string_equal(mp_kube_config_context(cfg), "dev");
    mp_kube_config_free(cfg);

    free(kube);
    free(want);
    free(missing);
    free(src);
    free(env);
    kf_rmtree(dir);
    free(dir);
}

/* What `kubectl config` writes for unset fields: current-context: "" (skipped when merging, so
 * a later file's current-context counts) and a context's user: "" (no credentials). */
/* tls-server-name: requests name it (the URL's host, so TLS sends and checks it) and connect to
 * the server's own host and port (curl's CONNECT_TO); for http:// and "" it is unset. It was
 * refused as not supported, so a kubeconfig that needs it could not be used. */
static void tls_server_name_is_the_verified_name(void **state)
{
    (void)state;
    static const struct {
        const char *server, *url, *connect_to;
    } cases[] = {
        {"https://10.0.0.1:6443", "https://api.example:6443", "api.example:6443:10.0.0.1:6443"},
        {"https://10.0.0.1", "https://api.example:443", "api.example:443:10.0.0.1:443"},
        {"'https://[fd00::1]:8443/k8s/clusters/c1'", "https://api.example:8443/k8s/clusters/c1",
         "api.example:8443:[fd00::1]:8443"},
        {"10.0.0.1:6443", "https://api.example:6443", "api.example:6443:10.0.0.1:6443"},
        {"http://10.0.0.1:8080", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text =
            mp_xasprintf(CTX_A "clusters:\n- name: c\n  cluster: {server: %s, "
                               "tls-server-name: api.example}\nusers:\n- {name: u, user: {}}\n",
                         cases[i].server);
        struct mp_kube_config *cfg = NULL;
        struct mp_error err = {0};
        if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
            fail_msg("%s: %s", cases[i].server, err.msg);
        }
        if (cases[i].url) {
            assert_string_equal(cfg->tls_url, cases[i].url);
            assert_string_equal(cfg->connect_to, cases[i].connect_to);
        } else {
            assert_null(cfg->tls_url);
            assert_null(cfg->connect_to);
        }
        mp_kube_config_free(cfg);
        free(text);
    }
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x, "
                             "tls-server-name: 'a b'}\n",
                       NULL, MP_EINVALID,
                       "bad.yaml:7:49: 'clusters[0].cluster.tls-server-name': expected a host "
                       "name, got \"a b\"");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x, "
                             "tls-server-name: api, proxy-url: 'http://p:3128'}\n",
                       NULL, MP_EINVALID,
                       "'clusters[0].cluster.tls-server-name': not supported together with "
                       "proxy-url");
}

static void empty_strings_are_unset_fields(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "a.yaml",
             "current-context: \"\"\n"
             "contexts:\n- name: a\n  context: {cluster: ca, user: \"\"}\n"
             "clusters:\n- name: ca\n  cluster: {server: https://a.example:1}\n"
             "users: null\n");
    kf_write(dir, "b.yaml", "current-context: a\n");
    char *env = mp_xasprintf("%s/a.yaml:%s/b.yaml", dir, dir);
    struct mp_kube_load_opts o = {.kubeconfig_env = env};
    struct mp_kube_config *cfg = load_ok(&o);
    assert_string_equal(mp_kube_config_context(cfg), "a");
    assert_string_equal(mp_kube_config_server(cfg), "https://a.example:1");
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_NONE);
    mp_kube_config_free(cfg);
    expect_parse_error("current-context: \"\"\ncontexts:\n- name: a\n  context: {cluster: c}\n",
                       NULL, MP_EINVALID,
                       "bad.yaml: current-context is not set; choose a context with --context "
                       "(defined: a)");
    free(env);
    kf_rmtree(dir);
    free(dir);
}

/* kubectl reads kubeconfigs as YAML 1.1 (sigs.k8s.io/yaml): yes/on/True are booleans, and a
 * null is the field's zero value. */
static void yaml_1_1_values_read_as_kubectl(void **state)
{
    (void)state;
    const char *text = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x, "
                             "insecure-skip-tls-verify: yes}\nusers:\n"
                             "- name: u\n  user:\n    exec:\n"
                             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                             "      command: get-token\n      provideClusterInfo: On\n"
                             "      env: [{name: A, value: }, {name: B, value: ~}]\n";
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_true(cfg->insecure);
    assert_true(cfg->exec->provide_cluster_info);
    assert_string_equal(cfg->exec->env[0], "A=");
    assert_string_equal(cfg->exec->env[1], "B=");
    mp_kube_config_free(cfg);
    const char *off = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x, "
                            "insecure-skip-tls-verify: null}\n";
    expect_parse_error(off, NULL, MP_EINVALID, "'contexts[0].context.user': user \"u\" is not");
    expect_parse_error(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x, "
                             "insecure-skip-tls-verify: maybe}\n",
                       NULL, MP_EINVALID,
                       "'clusters[0].cluster.insecure-skip-tls-verify': expected true or false, "
                       "got \"maybe\"");
}

/* A user with a token and an exec plugin (kubectl config set-credentials --token on an exec
 * user): kubectl sends the token and never runs the plugin. */
static void a_token_wins_over_an_exec_plugin(void **state)
{
    (void)state;
    const char *text = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    token: static-tok\n    exec:\n"
                             "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                             "      command: /nonexistent/plugin\n";
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_TOKEN);
    struct mp_kube_cred cr;
    mp_kube_cred_init(&cr, cfg, NULL, NULL);
    struct mp_kube_auth_snap a;
    if (mp_kube_cred_get(&cr, mp_mono_ns() + INT64_C(5000000000), &a, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(a.token, "static-tok");
    mp_kube_auth_snap_release(&a);
    mp_kube_cred_release(&cr);
    mp_kube_config_free(cfg);
}

struct slow_get {
    struct mp_kube_cred *cr;
    int rc;
    char token[1100];
};

static void *slow_get_thread(void *p)
{
    struct slow_get *g = p;
    struct mp_kube_auth_snap a;
    struct mp_error err = {0};
    g->rc = mp_kube_cred_get(g->cr, mp_mono_ns() + INT64_C(10000000000), &a, &err);
    snprintf(g->token, sizeof(g->token), "%s", g->rc == 0 && a.token ? a.token : err.msg);
    mp_kube_auth_snap_release(&a);
    return NULL;
}

/* A call that finds another running the exec plugin waits for it only until its own deadline:
 * the plugin of a call with a long deadline held a Lease renewal (a short one) for its whole
 * run, past the renew deadline. The plugin's credential then serves every call. */
static void a_plugin_run_holds_no_call_past_its_deadline(void **state)
{
    (void)state;
    const char *text = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                             "- name: u\n  user:\n    exec:\n"
                             "      apiVersion: client.authentication.k8s.io/v1\n"
                             "      command: /bin/sh\n"
                             "      interactiveMode: Never\n"
                             "      args: [\"-c\", \"sleep 2; printf '{\\\"apiVersion\\\": "
                             "\\\"client.authentication.k8s.io/v1\\\", \\\"kind\\\": "
                             "\\\"ExecCredential\\\", \\\"status\\\": {\\\"token\\\": "
                             "\\\"slow-tok\\\"}}'\"]\n";
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    struct mp_kube_cred cr;
    mp_kube_cred_init(&cr, cfg, NULL, NULL);
    struct slow_get g = {.cr = &cr};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, slow_get_thread, &g), 0);
    struct timespec nap = {0, 300000000};
    nanosleep(&nap, NULL); /* the thread runs the plugin (2 s) */
    struct mp_kube_auth_snap a;
    int64_t t0 = mp_mono_ns();
    int rc = mp_kube_cred_get(&cr, t0 + INT64_C(300000000), &a, &err);
    int64_t waited_ms = (mp_mono_ns() - t0) / 1000000;
    assert_int_equal(rc, MP_EDEADLINE);
    assert_non_null(strstr(err.msg, "the exec plugin run for another call has not finished"));
    if (waited_ms > 1000) {
        fail_msg("waited %lld ms for another call's plugin, past a 300 ms deadline",
                 (long long)waited_ms);
    }
    mp_error_clear(&err);
    pthread_join(t, NULL);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.token, "slow-tok");
    if (mp_kube_cred_get(&cr, mp_mono_ns() + INT64_C(300000000), &a, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(a.token, "slow-tok");
    mp_kube_auth_snap_release(&a);
    mp_kube_cred_release(&cr);
    mp_kube_config_free(cfg);
}

/* kubectl 1.32 with a client certificate and an exec plugin presents the certificate and never
 * runs the plugin; an empty `*-data` is unset (the file beside it counts). */
static void a_certificate_wins_over_an_exec_plugin(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "client.key", FAKE_KEY);
    char *text = mp_xasprintf(CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\n"
                                    "users:\n- name: u\n  user:\n"
                                    "    client-certificate-data: " FAKE_CERT_B64 "\n"
                                    "    client-key-data: \"\"\n"
                                    "    client-key: %s/client.key\n"
                                    "    exec:\n"
                                    "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                                    "      command: /nonexistent/plugin\n",
                              dir);
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_CERT);
    assert_memory_equal(cfg->key_data.data, FAKE_KEY, strlen(FAKE_KEY));
    struct mp_kube_cred cr;
    mp_kube_cred_init(&cr, cfg, NULL, NULL);
    struct mp_kube_auth_snap a;
    if (mp_kube_cred_get(&cr, mp_mono_ns() + INT64_C(5000000000), &a, &err) != 0) {
        fail_msg("the plugin ran: %s", err.msg);
    }
    assert_null(a.token);
    mp_kube_auth_snap_release(&a);
    mp_kube_cred_release(&cr);
    mp_kube_config_free(cfg);
    /* Empty data and an empty path: no certificate at all, so the plugin is the credential. */
    const char *empty = CTX_A "clusters:\n- name: c\n  cluster: {server: https://x}\nusers:\n"
                              "- name: u\n  user:\n    client-certificate-data: \"\"\n"
                              "    client-key: \"\"\n    exec:\n"
                              "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                              "      command: get-token\n";
    if (mp_kube_config_parse(empty, strlen(empty), "kc.yaml", NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_EXEC);
    assert_int_equal(cfg->cert_data.len + cfg->key_data.len, 0);
    mp_kube_config_free(cfg);
    free(text);
    kf_rmtree(dir);
    free(dir);
}

static void in_cluster_configuration(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "token", "t1\n");
    kf_write(dir, "ca.crt", FAKE_CERT);
    kf_write(dir, "namespace", "ns1\n");
    struct mp_kube_load_opts o = {.sa_dir = dir, .service_host = "fd00::1", .service_port = "443"};
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_config_in_cluster(&o, &cfg, &err), 0);
    assert_string_equal(mp_kube_config_server(cfg), "https://[fd00::1]:443");
    assert_string_equal(mp_kube_config_namespace(cfg), "ns1");
    assert_int_equal(mp_kube_config_auth(cfg), MP_KUBE_AUTH_TOKEN_FILE);
    assert_int_equal(cfg->ca_data.len, strlen(FAKE_CERT));
    /* $POD_NAMESPACE (the downward API) comes first, as in client-go. */
    setenv("POD_NAMESPACE", "from-env", 1);
    struct mp_kube_config *env_cfg = NULL;
    int env_rc = mp_kube_config_in_cluster(&o, &env_cfg, &err);
    unsetenv("POD_NAMESPACE");
    assert_int_equal(env_rc, 0);
    assert_string_equal(mp_kube_config_namespace(env_cfg), "from-env");
    mp_kube_config_free(env_cfg);

    /* The token is re-read when the file is replaced (as the kubelet rotates it) and after a
     * 401, not on every call. */
    struct mp_kube_cred cr;
    mp_kube_cred_init(&cr, cfg, NULL, NULL);
    struct mp_kube_auth_snap a;
    assert_int_equal(mp_kube_cred_get(&cr, 0, &a, &err), 0);
    assert_string_equal(a.token, "t1");
    assert_true(a.refreshable);
    unsigned gen = a.gen;
    mp_kube_auth_snap_release(&a);
    kf_write(dir, "token.new", " \tt2\r\n"); /* spaces around: trimmed, as client-go does */
    char *from = mp_xasprintf("%s/token.new", dir), *to = mp_xasprintf("%s/token", dir);
    assert_int_equal(rename(from, to), 0);
    assert_int_equal(mp_kube_cred_get(&cr, 0, &a, &err), 0);
    assert_string_equal(a.token, "t2");
    assert_int_equal(a.gen, gen + 1);
    gen = a.gen;
    mp_kube_auth_snap_release(&a);
    assert_int_equal(mp_kube_cred_get(&cr, 0, &a, &err), 0);
    assert_int_equal(a.gen, gen);
    mp_kube_auth_snap_release(&a);
    mp_kube_cred_invalidate(&cr, gen);
    assert_int_equal(mp_kube_cred_get(&cr, 0, &a, &err), 0);
    assert_string_equal(a.token, "t2");
    assert_int_equal(a.gen, gen + 1);
    mp_kube_auth_snap_release(&a);
    mp_kube_cred_release(&cr);
    mp_kube_config_free(cfg);

    remove(to);
    assert_int_equal(mp_kube_config_in_cluster(&o, &cfg, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "in-cluster: service-account token"));
    struct mp_kube_load_opts none = {.sa_dir = dir, .service_host = "", .service_port = "443"};
    assert_int_equal(mp_kube_config_in_cluster(&none, &cfg, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "KUBERNETES_SERVICE_HOST"));
    free(from);
    free(to);
    kf_rmtree(dir);
    free(dir);
}

/* ---- exec plugins ---- */

static int64_t fake_now;

static int64_t fake_clock(void *ud)
{
    (void)ud;
    return fake_now;
}

static const char *plugin_script =
    "#!/bin/sh\n"
    "n=$(( $(cat \"$KF_DIR/count\" 2>/dev/null || echo 0) + 1 ))\n"
    "echo \"$n\" > \"$KF_DIR/count\"\n"
    "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$KF_DIR/info.json\"\n"
    "printf '%s %s' \"$KF_GREETING\" \"$1\" > \"$KF_DIR/args\"\n"
    "printf '{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
    "\"status\":{\"token\":\"tok-%s\",\"expirationTimestamp\":\"%s\"}}\\n' \"$n\" \"$KF_EXPIRY\"\n";

static struct mp_kube_config *exec_config(const char *dir, const char *command)
{
    char *text = mp_xasprintf("current-context: x\n"
                              "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                              "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n"
                              "    insecure-skip-tls-verify: true\n"
                              "    extensions:\n    - name: client.authentication.k8s.io/exec\n"
                              "      extension: {region: eu-1}\n"
                              "users:\n- name: u\n  user:\n    exec:\n"
                              "      apiVersion: client.authentication.k8s.io/v1\n"
                              "      command: %s\n      args: [--from-test]\n"
                              "      env:\n      - {name: KF_DIR, value: '%s'}\n"
                              "      - {name: KF_EXPIRY, value: '2030-01-01T00:00:00Z'}\n"
                              "      - {name: KF_GREETING, value: hi}\n"
                              "      interactiveMode: IfAvailable\n      provideClusterInfo: true\n"
                              "      installHint: |\n        install it with\n"
                              "        apt-get install get-token\n",
                              command, dir);
    char *name = mp_xasprintf("%s/kc.yaml", dir);
    struct mp_kube_config *cfg = NULL;
    struct mp_error err = {0};
    if (mp_kube_config_parse(text, strlen(text), name, NULL, &cfg, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    free(name);
    free(text);
    return cfg;
}

static char *token_now(struct mp_kube_cred *cr, unsigned *gen)
{
    struct mp_kube_auth_snap a;
    struct mp_error err = {0};
    if (mp_kube_cred_get(cr, mp_mono_ns() + INT64_C(30) * 1000000000, &a, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    char *t = mp_xstrdup(a.token);
    *gen = a.gen;
    mp_kube_auth_snap_release(&a);
    return t;
}

static void exec_plugin_cached_until_expiry(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "plugin.sh", plugin_script);
    char *plugin = mp_xasprintf("%s/plugin.sh", dir);
    chmod(plugin, 0755);
    struct mp_kube_config *cfg = exec_config(dir, "./plugin.sh");
    assert_string_equal(cfg->exec->command, plugin);

    struct mp_kube_cred cr;
    fake_now = EXPIRY_2030_NS - INT64_C(3600) * 1000000000;
    mp_kube_cred_init(&cr, cfg, fake_clock, NULL);
    unsigned gen, gen2;
    char *t = token_now(&cr, &gen);
    assert_string_equal(t, "tok-1");
    free(t);
    t = token_now(&cr, &gen2);
    assert_string_equal(t, "tok-1"); /* cached: the plugin ran once */
    assert_int_equal(gen2, gen);
    free(t);
    fake_now = EXPIRY_2030_NS;
    t = token_now(&cr, &gen);
    assert_string_equal(t, "tok-2"); /* expired: ran again */
    free(t);
    fake_now = EXPIRY_2030_NS - 1; /* the plugin always answers with the same expiry */
    mp_kube_cred_invalidate(&cr, gen);
    t = token_now(&cr, &gen2);
    assert_string_equal(t, "tok-3"); /* a 401 re-runs it */
    free(t);
    mp_kube_cred_invalidate(&cr, gen); /* a stale generation: someone refreshed already */
    t = token_now(&cr, &gen);
    assert_string_equal(t, "tok-3");
    free(t);

    char *path = mp_xasprintf("%s/args", dir);
    char *args = kf_read(path);
    assert_string_equal(args, "hi --from-test");
    free(args);
    free(path);
    path = mp_xasprintf("%s/info.json", dir);
    char *info_text = kf_read(path);
    json_t *info = json_loads(info_text, 0, NULL);
    assert_non_null(info);
    assert_string_equal(json_string_value(json_object_get(info, "kind")), "ExecCredential");
    assert_string_equal(json_string_value(json_object_get(info, "apiVersion")),
                        "client.authentication.k8s.io/v1");
    json_t *spec = json_object_get(info, "spec");
    assert_true(json_is_false(json_object_get(spec, "interactive")));
    json_t *cl = json_object_get(spec, "cluster");
    assert_string_equal(json_string_value(json_object_get(cl, "server")), "https://127.0.0.1:1");
    assert_true(json_is_true(json_object_get(cl, "insecure-skip-tls-verify")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(cl, "config"), "region")),
                        "eu-1");
    json_decref(info);
    free(info_text);
    free(path);

    mp_kube_cred_release(&cr);
    mp_kube_config_free(cfg);
    free(plugin);
    kf_rmtree(dir);
    free(dir);
}

static void exec_plugin_failures(void **state)
{
    (void)state;
    char *dir = kf_tmpdir();
    kf_write(dir, "fail.sh", "#!/bin/sh\necho 'boom: the SSO session expired' >&2\nexit 3\n");
    kf_write(dir, "slow.sh", "#!/bin/sh\nexec sleep 30\n");
    kf_write(dir, "junk.sh", "#!/bin/sh\necho not json\n");
    /* Closes its output and lingers: the deadline still holds. */
    kf_write(dir, "linger.sh", "#!/bin/sh\nexec >&- 2>&-\nexec sleep 5\n");
    const char *scripts[] = {"fail.sh", "slow.sh", "junk.sh", "linger.sh"};
    for (size_t i = 0; i < MP_ARRAY_LEN(scripts); i++) {
        char *p = mp_xasprintf("%s/%s", dir, scripts[i]);
        chmod(p, 0755);
        free(p);
    }
    const struct {
        const char *command;
        int64_t timeout_ms;
        int code;
        const char *want;
    } cases[] = {
        {"./fail.sh", 30000, MP_ERUNTIME, "exited with status 3: boom: the SSO session expired"},
        {"./slow.sh", 300, MP_EDEADLINE, "did not finish in time"},
        {"./junk.sh", 30000, MP_EPARSE, "the plugin's output is not JSON"},
        {"./linger.sh", 300, MP_EDEADLINE, "did not finish in time"},
        {"no-such-get-token-plugin", 30000, -ENOENT,
         "cannot run exec plugin 'no-such-get-token-plugin': No such file or directory; its "
         "installHint: install it with apt-get install get-token"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        struct mp_kube_config *cfg = exec_config(dir, cases[i].command);
        struct mp_kube_cred cr;
        mp_kube_cred_init(&cr, cfg, NULL, NULL);
        struct mp_kube_auth_snap a;
        struct mp_error err = {0};
        int rc = mp_kube_cred_get(&cr, mp_mono_ns() + cases[i].timeout_ms * 1000000, &a, &err);
        if (rc != cases[i].code || !strstr(err.msg, cases[i].want) ||
            !strstr(err.msg, "kc.yaml:17:7: 'users[0].user.exec'")) {
            fail_msg("%s: %d %s", cases[i].command, rc, err.msg);
        }
        mp_kube_cred_release(&cr);
        mp_kube_config_free(cfg);
    }
    kf_rmtree(dir);
    free(dir);
}

static void exec_credential_decoding(void **state)
{
    (void)state;
    const char *v1 = "client.authentication.k8s.io/v1";
    struct mp_kube_exec_cred ec;
    struct mp_error err = {0};
    const char *ok = "{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/"
                     "v1\",\"status\":{\"clientCertificateData\":\"" FAKE_CERT
                     "\",\"clientKeyData\":\"" FAKE_KEY "\"}}";
    char *escaped = mp_xstrdup(ok);
    for (char *p = escaped; (p = strchr(p, '\n')) != NULL;) {
        *p = ' '; /* JSON strings cannot hold raw newlines; the markers are what counts */
    }
    assert_int_equal(mp_kube_exec_decode(escaped, strlen(escaped), v1, "w", &ec, &err), 0);
    assert_null(ec.token);
    assert_non_null(strstr(ec.cert_pem, "BEGIN CERTIFICATE"));
    assert_non_null(strstr(ec.key_pem, "BEGIN PRIVATE KEY"));
    assert_int_equal(ec.expiry_ns, 0);
    mp_kube_exec_cred_release(&ec);
    free(escaped);
    const char *bad[][2] = {
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
         "\"status\":{\"token\":\"t\"}}",
         "answered with apiVersion client.authentication.k8s.io/v1beta1"},
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\"}",
         "has no status"},
        {"{\"kind\":\"Secret\",\"apiVersion\":\"v1\"}", "printed kind Secret"},
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"clientCertificateData\":\"x\"}}",
         "without the other"},
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{}}",
         "neither status.token"},
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"token\":\"a\\nb\"}}",
         "control characters"},
        {"{\"kind\":\"ExecCredential\",\"apiVersion\":\"client.authentication.k8s.io/v1\","
         "\"status\":{\"token\":\"t\",\"expirationTimestamp\":\"tomorrow\"}}",
         "not an RFC 3339 time"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(bad); i++) {
        assert_true(mp_kube_exec_decode(bad[i][0], strlen(bad[i][0]), v1, "w", &ec, &err) != 0);
        if (!strstr(err.msg, bad[i][1])) {
            fail_msg("\"%s\" lacks \"%s\"", err.msg, bad[i][1]);
        }
    }
    /* Output that is not JSON: the message says where, never what (jansson quotes the text
     * near the error, here the token). */
    const char *cut[] = {
        "{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t-tok",
        "{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t-tok\n\"}}",
        "{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t-tok\\q\"}}",
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cut); i++) {
        assert_int_equal(mp_kube_exec_decode(cut[i], strlen(cut[i]), v1, "w", &ec, &err),
                         MP_EPARSE);
        if (!strstr(err.msg, "w: the plugin's output is not JSON: ") || strstr(err.msg, "s3cr3t")) {
            fail_msg("message \"%s\" for %s", err.msg, cut[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_and_certificate_contexts),
        cmocka_unit_test(errors_name_file_line_column_and_field),
        cmocka_unit_test(exec_section_is_validated),
        cmocka_unit_test(kubeconfig_list_is_merged_as_kubectl),
        cmocka_unit_test(empty_strings_are_unset_fields),
        cmocka_unit_test(tls_server_name_is_the_verified_name),
        cmocka_unit_test(a_token_wins_over_an_exec_plugin),
        cmocka_unit_test(a_plugin_run_holds_no_call_past_its_deadline),
        cmocka_unit_test(a_certificate_wins_over_an_exec_plugin),
        cmocka_unit_test(yaml_1_1_values_read_as_kubectl),
        cmocka_unit_test(in_cluster_configuration),
        cmocka_unit_test(exec_plugin_cached_until_expiry),
        cmocka_unit_test(exec_plugin_failures),
        cmocka_unit_test(exec_credential_decoding),
        cmocka_unit_test(a_kubeconfig_over_1_mib_is_read),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
