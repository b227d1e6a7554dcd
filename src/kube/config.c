/* SPDX-License-Identifier: Apache-2.0 */
/* Kubeconfig files (one, or a $KUBECONFIG list merged as kubectl merges it) and the in-cluster
 * service-account configuration (incluster.c), validated into one mp_kube_config. Errors carry the
 * file, line, column and field of the YAML node at fault. */
#include "kube/kube_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"

#define EXEC_EXTENSION "client.authentication.k8s.io/exec"

struct kfile {
    char *path;
    char *dir;
    struct mp_node *root; /* NULL: an empty file */
};

struct kset {
    struct kfile *files;
    size_t n;
};

/* A named entry of a section and the file that defined it first. */
struct entry {
    const struct kfile *file;
    const struct mp_node *item;  /* the list item: {name, cluster|user|context} */
    const struct mp_node *value; /* its cluster|user|context map, NULL when absent */
};

static void kset_release(struct kset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].dir);
        mp_doc_free(s->files[i].root);
    }
    free(s->files);
}

static void exec_free(struct mp_kube_exec *x)
{
    if (!x) {
        return;
    }
    free(x->api_version);
    free(x->command);
    for (char **p = x->argv; p && *p; p++) {
        free(*p);
    }
    free(x->argv);
    for (char **p = x->env; p && *p; p++) {
        free(*p);
    }
    free(x->env);
    free(x->install_hint);
    free(x->cluster_config);
    free(x->where);
    free(x);
}

void mp_kube_config_free(struct mp_kube_config *cfg)
{
    if (!cfg) {
        return;
    }
    free(cfg->source);
    free(cfg->context);
    free(cfg->ns);
    free(cfg->server);
    free(cfg->tls_server_name);
    free(cfg->tls_url);
    free(cfg->connect_to);
    free(cfg->tls_where);
    free(cfg->auth_note);
    free(cfg->cert_where);
    mp_kube_blob_release(&cfg->ca_data);
    free(cfg->proxy_url);
    free(cfg->token);
    free(cfg->token_file);
    mp_kube_blob_release(&cfg->cert_data);
    mp_kube_blob_release(&cfg->key_data);
    exec_free(cfg->exec);
    free(cfg);
}

const char *mp_kube_config_server(const struct mp_kube_config *cfg)
{
    return cfg->server;
}

const char *mp_kube_config_namespace(const struct mp_kube_config *cfg)
{
    return cfg->ns;
}

const char *mp_kube_config_context(const struct mp_kube_config *cfg)
{
    return cfg->context;
}

const char *mp_kube_config_source(const struct mp_kube_config *cfg)
{
    return cfg->source;
}

/* client-go's order: a token (file) or a client certificate goes before an exec plugin, which
 * then never runs (kubectl 1.32 with both a certificate and a plugin: the plugin did not run). */
enum mp_kube_auth mp_kube_config_auth(const struct mp_kube_config *cfg)
{
    if (cfg->token_file) {
        return MP_KUBE_AUTH_TOKEN_FILE;
    }
    if (cfg->token) {
        return MP_KUBE_AUTH_TOKEN;
    }
    if (cfg->cert_data.len) {
        return MP_KUBE_AUTH_CERT;
    }
    return cfg->exec ? MP_KUBE_AUTH_EXEC : MP_KUBE_AUTH_NONE;
}

/* ---- reading files ---- */

/* Only blank lines and comments: kubectl reads such a file as an empty configuration. */
static bool empty_yaml(const char *s, size_t n)
{
    bool comment = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            comment = false;
        } else if (s[i] == '#') {
            comment = true;
        } else if (!comment && s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

/* A required string: *node receives its node. */
static int req_str(const struct mp_node *map, const char *key, struct mp_node **node,
                   const char **out, struct mp_error *err)
{
    int rc = mp_doc_require(map, key, node, err);
    return rc == 0 ? mp_doc_string(*node, out, err) : rc;
}

/* Checks one section ("clusters", ...): a list of {name, <inner>} with unique names. */
static int check_section(const struct mp_node *root, const char *section, struct mp_error *err)
{
    const struct mp_node *seq = mp_doc_get(root, section);
    if (mp_doc_is_null(seq)) {
        return 0;
    }
    int rc = mp_doc_expect(seq, MP_NODE_SEQ, err);
    for (size_t i = 0; rc == 0 && i < seq->n; i++) {
        struct mp_node *name = NULL;
        const char *s = NULL;
        rc = mp_doc_expect(seq->items[i], MP_NODE_MAP, err);
        if (rc == 0) {
            rc = req_str(seq->items[i], "name", &name, &s, err);
        }
        for (size_t j = 0; rc == 0 && j < i; j++) {
            const struct mp_node *other = mp_doc_get(seq->items[j], "name");
            if (strcmp(other->scalar, s) == 0) {
                rc = mp_doc_error(err, name, "duplicate name \"%s\" (also at line %u)", s,
                                  other->line);
            }
        }
    }
    return rc;
}

static int check_file(const struct mp_node *root, struct mp_error *err)
{
    int rc = mp_doc_expect(root, MP_NODE_MAP, err);
    const char *sections[] = {"clusters", "users", "contexts"};
    for (size_t i = 0; rc == 0 && i < MP_ARRAY_LEN(sections); i++) {
        rc = check_section(root, sections[i], err);
    }
    const struct mp_node *cur = mp_doc_get(root, "current-context");
    const char *s;
    if (rc == 0 && !mp_doc_is_null(cur)) {
        rc = mp_doc_string(cur, &s, err);
    }
    return rc;
}

/* A boolean as kubectl reads it: YAML 1.1 (sigs.k8s.io/yaml), where y, yes, on and their
 * capitalised forms are true too, and null is false. */
static int kube_bool(const struct mp_node *n, bool *out, struct mp_error *err)
{
    static const char *const yes[] = {"y",  "Y",  "yes",  "Yes",  "YES", "on",
                                      "On", "ON", "True", "TRUE", NULL};
    static const char *const no[] = {"n",   "N",   "no",    "No",    "NO", "off",
                                     "Off", "OFF", "False", "FALSE", NULL};
    if (mp_doc_is_null(n)) {
        *out = false;
        return 0;
    }
    for (size_t i = 0; n->kind == MP_NODE_SCALAR && !n->quoted && yes[i]; i++) {
        if (strcmp(n->scalar, yes[i]) == 0 || strcmp(n->scalar, no[i]) == 0) {
            *out = strcmp(n->scalar, yes[i]) == 0;
            return 0;
        }
    }
    return mp_doc_bool(n, out, err);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        return mp_xstrdup(".");
    }
    return slash == path ? mp_xstrdup("/") : mp_xstrndup(path, (size_t)(slash - path));
}

static int add_text(struct kset *set, const char *text, size_t len, const char *path,
                    struct mp_error *err)
{
    struct mp_node *root = NULL;
    if (!empty_yaml(text, len)) {
        int rc = mp_doc_parse(text, len, path, &root, err);
        if (rc == 0) {
            rc = check_file(root, err);
        }
        if (rc != 0) {
            mp_doc_free(root);
            return rc;
        }
    }
    set->files = mp_xreallocarray(set->files, set->n + 1, sizeof(*set->files));
    set->files[set->n++] = (struct kfile){mp_xstrdup(path), dir_of(path), root};
    return 0;
}

/* Reads path into the set; a missing file is skipped unless must_exist. */
static int add_file(struct kset *set, const char *path, bool must_exist, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    /* kubectl reads a kubeconfig of any size; one of many clusters with embedded certificates
     * (some 8 KiB each) passes 1 MiB. */
    int rc = mp_buf_read_file(&b, path, MP_DOC_MAX_PARSE_BYTES, err);
    if (rc == -ENOENT && !must_exist) {
        mp_buf_release(&b);
        mp_error_clear(err);
        return 0;
    }
    if (rc != 0) {
        mp_buf_release(&b);
        return mp_error_prefix(err, rc, "cannot read kubeconfig");
    }
    rc = add_text(set, b.data, b.len, path, err);
    mp_buf_release(&b);
    return rc;
}

/* The first file's entry named `name` in `section`; inner is "cluster", "user", "context". */
static bool find_entry(const struct kset *set, const char *section, const char *inner,
                       const char *name, struct entry *out)
{
    for (size_t f = 0; f < set->n; f++) {
        const struct mp_node *seq = mp_doc_get(set->files[f].root, section);
        for (size_t i = 0; seq && seq->kind == MP_NODE_SEQ && i < seq->n; i++) {
            const struct mp_node *nm = mp_doc_get(seq->items[i], "name");
            if (strcmp(nm->scalar, name) == 0) {
                *out =
                    (struct entry){&set->files[f], seq->items[i], mp_doc_get(seq->items[i], inner)};
                return true;
            }
        }
    }
    return false;
}

/* kubectl writes an unset current-context as "": such a file does not set it. */
static const struct mp_node *first_current_context(const struct kset *set)
{
    for (size_t f = 0; f < set->n; f++) {
        const struct mp_node *cur = mp_doc_get(set->files[f].root, "current-context");
        if (!mp_doc_is_null(cur) && *cur->scalar) {
            return cur;
        }
    }
    return NULL;
}

static char *source_list(const struct kset *set)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "");
    for (size_t i = 0; i < set->n; i++) {
        mp_buf_addf(&b, "%s%s", i ? ":" : "", set->files[i].path);
    }
    return mp_buf_detach(&b);
}

/* ---- fields ---- */

/* An optional string; null and absent leave *out NULL. */
static int opt_str(const struct mp_node *map, const char *key, const char **out,
                   struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(map, key);
    *out = NULL;
    return mp_doc_is_null(n) ? 0 : mp_doc_string(n, out, err);
}

static char *resolve(const struct kfile *f, const char *path)
{
    while (strncmp(path, "./", 2) == 0) {
        path += 2;
    }
    if (path[0] == '/' || strcmp(f->dir, ".") == 0) {
        return mp_xstrdup(path);
    }
    return mp_xasprintf("%s/%s", f->dir, path);
}

/* What a PEM field must contain, so a wrong file fails here rather than in a TLS handshake. */
static int check_pem(const struct mp_node *n, const struct mp_kube_blob *b, const char *marker,
                     struct mp_error *err)
{
    char *text = mp_xstrndup((const char *)b->data, b->len);
    bool ok = strstr(text, "-----BEGIN ") && strstr(text, marker);
    free(text);
    return ok ? 0 : mp_doc_error(err, n, "does not hold a PEM %s", marker);
}

/* Fills blob from `<key>-data` (base64) or, failing that, from the file named by `key`. */
static int pem_field(const struct kfile *f, const struct mp_node *map, const char *key,
                     const char *marker, struct mp_kube_blob *blob, struct mp_error *err)
{
    char data_key[64];
    snprintf(data_key, sizeof(data_key), "%s-data", key);
    const struct mp_node *dn = mp_doc_get(map, data_key), *fn = mp_doc_get(map, key);
    const char *s = NULL;
    int rc;
    if ((rc = opt_str(map, data_key, &s, err)) != 0) {
        return rc;
    }
    if (s && *s) { /* as kubectl, "" is unset: the file, if any, counts */
        if (mp_kube_base64_decode(s, blob) != 0) {
            return mp_doc_error(err, dn, "not valid base64");
        }
        return check_pem(dn, blob, marker, err);
    }
    if ((rc = opt_str(map, key, &s, err)) != 0 || !s || !*s) {
        return rc;
    }
    char *path = resolve(f, s);
    struct mp_buf b = MP_BUF_INIT;
    struct mp_error ferr = {0};
    rc = mp_buf_read_file(&b, path, MP_KUBE_MAX_FIELD_FILE, &ferr);
    if (rc != 0) {
        rc = mp_doc_error(err, fn, "cannot read the file: %s", ferr.msg);
    } else {
        blob->len = b.len;
        blob->data = (unsigned char *)mp_buf_detach(&b);
        rc = check_pem(fn, blob, marker, err);
    }
    mp_buf_release(&b);
    free(path);
    return rc;
}

/* A field we do not implement must not be ignored silently: it changes security or identity. */
static int refuse_fields(const struct mp_node *map, const char *const *keys, struct mp_error *err)
{
    for (const char *const *k = keys; *k; k++) {
        const struct mp_node *n = mp_doc_get(map, *k);
        if (!mp_doc_is_null(n)) {
            return mp_doc_error(err, n, "not supported by morphling's Kubernetes client");
        }
    }
    return 0;
}

static int parse_server(const struct mp_node *cluster, const struct entry *e,
                        struct mp_kube_config *cfg, struct mp_error *err)
{
    struct mp_node *sn = NULL;
    const char *s;
    int rc = req_str(cluster, "server", &sn, &s, err);
    if (rc != 0) {
        return rc;
    }
    const char *scheme = strstr(s, "://");
    if (scheme && strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) {
        return mp_doc_error(err, sn, "the server URL must use https:// or http://");
    }
    char *url = scheme ? mp_xstrdup(s) : mp_xasprintf("https://%s", s);
    char *host = strstr(url, "://") + 3;
    if (memchr(host, '@', strcspn(host, "/?#"))) {
        /* curl would send them as basic auth (refused below too); never quoted in messages */
        free(url);
        return mp_doc_error(err, sn, "a user name or password in the server URL is not supported");
    }
    /* An IPv6 literal is closed by ']', then the port or the path (tls-server-name splits the
     * host there). */
    const char *end = *host == '[' ? memchr(host, ']', strcspn(host, "/")) : NULL;
    bool bad_literal = *host == '[' && (!end || (end[1] && end[1] != ':' && end[1] != '/'));
    if (!*host || *host == '/' || bad_literal || strpbrk(url, " \t\r\n?#")) {
        free(url);
        return mp_doc_error(err, sn, "not a valid server URL: \"%s\"", s);
    }
    size_t n = strlen(url);
    while (url[n - 1] == '/') {
        url[--n] = '\0'; /* stops at the host, which does not start with '/' */
    }
    cfg->server = url;
    cfg->tls_where =
        mp_xasprintf("%s:%u:%u: '%s'", e->file->path, cluster->line, cluster->col, cluster->path);
    return 0;
}

/* tls-server-name, as client-go's ServerName: the name TLS sends (SNI) and verifies the server's
 * certificate against, instead of the server URL's host. The request goes to a URL with that host
 * while curl connects to the URL's own (CONNECT_TO), so the certificate is checked for the name. */
static int parse_tls_server_name(const struct mp_node *c, struct mp_kube_config *cfg,
                                 struct mp_error *err)
{
    const struct mp_node *n = mp_doc_get(c, "tls-server-name");
    const char *name = NULL;
    int rc = opt_str(c, "tls-server-name", &name, err);
    if (rc != 0 || !name || !*name || strncmp(cfg->server, "https://", 8) != 0) {
        return rc; /* "" is unset, as in client-go; http:// has no TLS */
    }
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            strlen(name) ||
        strlen(name) > 253) {
        return mp_doc_error(err, n, "expected a host name, got \"%s\"", name);
    }
    if (cfg->proxy_url) {
        return mp_doc_error(err, n, "not supported together with proxy-url");
    }
    const char *host = cfg->server + 8;
    size_t host_len = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":/");
    const char *rest = host + host_len; /* ":PORT/path", "/path" or "" */
    const char *port = "443";
    size_t port_len = 3;
    if (rest[0] == ':') {
        port = rest + 1;
        port_len = strcspn(port, "/");
        rest = port + port_len;
    }
    cfg->tls_server_name = mp_xstrdup(name);
    cfg->tls_url = mp_xasprintf("https://%s:%.*s%s", name, (int)port_len, port, rest);
    cfg->connect_to = mp_xasprintf("%s:%.*s:%.*s:%.*s", name, (int)port_len, port, (int)host_len,
                                   host, (int)port_len, port);
    return 0;
}

static int parse_cluster(const struct entry *e, struct mp_kube_config *cfg, struct mp_error *err)
{
    const struct mp_node *c = e->value;
    int rc = mp_doc_expect(c, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = parse_server(c, e, cfg, err);
    }
    if (rc == 0) {
        rc = kube_bool(mp_doc_get(c, "insecure-skip-tls-verify"), &cfg->insecure, err);
    }
    if (rc == 0) {
        rc = pem_field(e->file, c, "certificate-authority", "CERTIFICATE-----", &cfg->ca_data, err);
    }
    if (rc == 0 && cfg->insecure && cfg->ca_data.len) {
        rc = mp_doc_error(err, c,
                          "certificate-authority and insecure-skip-tls-verify cannot both be set");
    }
    const char *proxy = NULL;
    if (rc == 0) {
        rc = opt_str(c, "proxy-url", &proxy, err);
    }
    cfg->proxy_url = proxy ? mp_xstrdup(proxy) : NULL;
    return rc ? rc : parse_tls_server_name(c, cfg, err);
}

/* ---- exec plugins ---- */

static int exec_strings(const struct mp_node *x, struct mp_kube_exec *ex, struct mp_error *err)
{
    const struct mp_node *args = mp_doc_get(x, "args");
    size_t n = mp_doc_is_null(args) ? 0 : args->n;
    int rc = n ? mp_doc_expect(args, MP_NODE_SEQ, err) : 0;
    ex->argv = mp_xcalloc(n + 2, sizeof(char *));
    ex->argv[0] = mp_xstrdup(ex->command);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *s;
        rc = mp_doc_string(args->items[i], &s, err);
        ex->argv[i + 1] = rc == 0 ? mp_xstrdup(s) : NULL;
    }
    const struct mp_node *env = mp_doc_get(x, "env");
    n = mp_doc_is_null(env) ? 0 : env->n;
    if (rc == 0 && n) {
        rc = mp_doc_expect(env, MP_NODE_SEQ, err);
    }
    ex->env = mp_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0, k = 0; rc == 0 && i < n; i++) {
        struct mp_node *nn = NULL;
        const char *name, *value = "";
        rc = req_str(env->items[i], "name", &nn, &name, err);
        if (rc == 0) {
            rc = opt_str(env->items[i], "value", &value, err); /* null: "" as in kubectl */
            value = value ? value : "";
        }
        if (rc == 0 && (!*name || strchr(name, '='))) {
            rc = mp_doc_error(err, nn, "not a valid environment variable name");
        }
        if (rc == 0) {
            ex->env[k++] = mp_xasprintf("%s=%s", name, value);
        }
    }
    return rc;
}

static int exec_version(const struct mp_node *x, struct mp_kube_exec *ex, struct mp_error *err)
{
    struct mp_node *vn = NULL;
    const char *v;
    int rc = req_str(x, "apiVersion", &vn, &v, err);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(v, "client.authentication.k8s.io/v1") != 0 &&
        strcmp(v, "client.authentication.k8s.io/v1beta1") != 0) {
        return mp_doc_error(err, vn,
                            "\"%s\" is not supported: use client.authentication.k8s.io/v1 or "
                            "client.authentication.k8s.io/v1beta1",
                            v);
    }
    ex->api_version = mp_xstrdup(v);
    const char *mode = NULL;
    const struct mp_node *mn = mp_doc_get(x, "interactiveMode");
    if ((rc = opt_str(x, "interactiveMode", &mode, err)) != 0) {
        return rc;
    }
    if (!mode && strcmp(v, "client.authentication.k8s.io/v1") == 0) {
        return mp_doc_error(err, x, "interactiveMode is required for %s", v);
    }
    if (mode && strcmp(mode, "Never") != 0 && strcmp(mode, "IfAvailable") != 0) {
        return mp_doc_error(err, mn,
                            strcmp(mode, "Always") == 0
                                ? "\"Always\" needs a terminal, which morphling never gives a "
                                  "plugin: use IfAvailable or Never"
                                : "must be Never, IfAvailable or Always");
    }
    return 0;
}

/* clusters[].cluster.extensions[name=client.authentication.k8s.io/exec].extension as JSON. */
static char *exec_cluster_config(const struct mp_node *cluster)
{
    const struct mp_node *ext = mp_doc_get(cluster, "extensions");
    for (size_t i = 0; ext && ext->kind == MP_NODE_SEQ && i < ext->n; i++) {
        const struct mp_node *nm = mp_doc_get(ext->items[i], "name");
        const struct mp_node *val = mp_doc_get(ext->items[i], "extension");
        if (nm && nm->kind == MP_NODE_SCALAR && strcmp(nm->scalar, EXEC_EXTENSION) == 0 && val) {
            return mp_doc_to_json(val);
        }
    }
    return NULL;
}

static int parse_exec(const struct entry *user, const struct mp_node *x,
                      const struct entry *cluster, struct mp_kube_config *cfg, struct mp_error *err)
{
    struct mp_kube_exec *ex = mp_xcalloc(1, sizeof(*ex));
    cfg->exec = ex;
    ex->where =
        mp_xasprintf("%s:%u:%u: '%s'", user->file->path, x->line, x->col, x->path ? x->path : "");
    struct mp_node *cn = NULL;
    const char *cmd = NULL, *hint = NULL;
    int rc = mp_doc_expect(x, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = exec_version(x, ex, err);
    }
    if (rc == 0) {
        rc = req_str(x, "command", &cn, &cmd, err);
    }
    if (rc == 0 && !*cmd) {
        rc = mp_doc_error(err, cn, "the command is empty");
    }
    if (rc != 0) {
        return rc;
    }
    /* A command with a '/' is a path (relative to the kubeconfig), else looked up in PATH; a
     * path must keep a '/' ("./get-token" beside ./kc.yaml is not "get-token" from PATH). */
    ex->command = strchr(cmd, '/') ? resolve(user->file, cmd) : mp_xstrdup(cmd);
    if (strchr(cmd, '/') && !strchr(ex->command, '/')) {
        char *local = mp_xasprintf("./%s", ex->command);
        free(ex->command);
        ex->command = local;
    }
    if ((rc = exec_strings(x, ex, err)) != 0) {
        return rc;
    }
    if ((rc = opt_str(x, "installHint", &hint, err)) != 0) {
        return rc;
    }
    ex->install_hint = hint ? mp_xstrdup(hint) : NULL;
    rc = kube_bool(mp_doc_get(x, "provideClusterInfo"), &ex->provide_cluster_info, err);
    if (rc == 0 && ex->provide_cluster_info) {
        ex->cluster_config = exec_cluster_config(cluster->value);
    }
    return rc;
}

/* ---- users and contexts ---- */

static int parse_token(const struct entry *e, struct mp_kube_config *cfg, struct mp_error *err)
{
    const char *token = NULL, *file = NULL;
    int rc = opt_str(e->value, "token", &token, err);
    if (rc == 0) {
        rc = opt_str(e->value, "tokenFile", &file, err);
    }
    if (rc != 0) {
        return rc;
    }
    if (token && !mp_kube_header_safe(token)) {
        return mp_doc_error(err, mp_doc_get(e->value, "token"), "contains control characters");
    }
    cfg->token = token && *token ? mp_xstrdup(token) : NULL;
    if (!file || !*file) {
        return 0;
    }
    /* Read now so that a wrong path fails here; the client re-reads it when it changes. */
    cfg->token_file = resolve(e->file, file);
    struct mp_buf b = MP_BUF_INIT;
    struct mp_error ferr = {0};
    rc = mp_buf_read_file(&b, cfg->token_file, MP_KUBE_MAX_FIELD_FILE, &ferr);
    mp_buf_release(&b);
    return rc ? mp_doc_error(err, mp_doc_get(e->value, "tokenFile"), "cannot read the file: %s",
                             ferr.msg)
              : 0;
}

static int parse_user(const struct entry *e, const struct entry *cluster,
                      struct mp_kube_config *cfg, struct mp_error *err)
{
    static const char *const unsupported[] = {"auth-provider", "username",  "password",      "as",
                                              "as-uid",        "as-groups", "as-user-extra", NULL};
    const struct mp_node *u = e->value;
    cfg->auth_note = mp_xasprintf("the server refused the credentials of %s:%u:%u: '%s'",
                                  e->file->path, u->line, u->col, u->path ? u->path : "");
    int rc = mp_doc_expect(u, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = refuse_fields(u, unsupported, err);
    }
    if (rc == 0) {
        rc = parse_token(e, cfg, err);
    }
    if (rc == 0) {
        rc = pem_field(e->file, u, "client-certificate", "CERTIFICATE-----", &cfg->cert_data, err);
    }
    if (rc == 0) {
        rc = pem_field(e->file, u, "client-key", "PRIVATE KEY-----", &cfg->key_data, err);
    }
    if (rc == 0 && !cfg->cert_data.len != !cfg->key_data.len) {
        rc = mp_doc_error(err, u, "client-certificate and client-key must be given together");
    }
    if (rc == 0 && cfg->cert_data.len) {
        cfg->cert_where =
            mp_xasprintf("%s:%u:%u: '%s'", e->file->path, u->line, u->col, u->path ? u->path : "");
    }
    const struct mp_node *x = mp_doc_get(u, "exec");
    if (rc == 0 && !mp_doc_is_null(x)) {
        rc = parse_exec(e, x, cluster, cfg, err);
    }
    return rc;
}

/* Looks up a cluster or user a context names; the error points at the context's field. */
static int referenced(const struct kset *set, const struct entry *ctx, const char *field,
                      const char *section, struct entry *out, struct mp_error *err)
{
    const char *name = NULL;
    int rc = opt_str(ctx->value, field, &name, err);
    if (rc != 0) {
        return rc;
    }
    const struct mp_node *fn = mp_doc_get(ctx->value, field);
    if (!name || !*name) {
        return mp_doc_error(err, fn ? fn : ctx->value, "the context names no %s", field);
    }
    if (!find_entry(set, section, field, name, out)) {
        return mp_doc_error(err, fn, "%s \"%s\" is not defined in %s", field, name,
                            set->n == 1 ? set->files[0].path : "any kubeconfig file");
    }
    if (!out->value) {
        return mp_doc_error(err, out->item, "the %s \"%s\" has no '%s' map", field, name, field);
    }
    return 0;
}

static int no_context_error(const struct kset *set, const char *name, const char *name_context,
                            struct mp_error *err)
{
    char *src = source_list(set);
    struct mp_buf names = MP_BUF_INIT;
    mp_buf_adds(&names, "");
    for (size_t f = 0; f < set->n; f++) {
        const struct mp_node *seq = mp_doc_get(set->files[f].root, "contexts");
        for (size_t i = 0; seq && seq->kind == MP_NODE_SEQ && i < seq->n; i++) {
            mp_buf_addf(&names, "%s%s", names.len ? ", " : "",
                        mp_doc_get(seq->items[i], "name")->scalar);
        }
    }
    const char *defined = names.len ? names.data : "none";
    int rc = name
                 ? mp_error_set(err, MP_EINVALID, "%s: context \"%s\" is not defined (defined: %s)",
                                src, name, defined)
                 : mp_error_set(err, MP_EINVALID,
                                "%s: current-context is not set; choose a context with %s "
                                "(defined: %s)",
                                src, name_context ? name_context : "--context", defined);
    free(src);
    mp_buf_release(&names);
    return rc;
}

/* As kubectl (client-go reads the user only "if we are secure"): no credentials go to an
 * http:// server, where anyone on the way could read them. */
static void plain_http_sends_none(struct mp_kube_config *cfg)
{
    if (strncmp(cfg->server, "http://", 7) != 0) {
        if (!cfg->auth_note) {
            cfg->auth_note = mp_xstrdup("no credentials were sent: the context names no user");
        }
        return;
    }
    free(cfg->token);
    free(cfg->token_file);
    mp_kube_blob_release(&cfg->cert_data);
    mp_kube_blob_release(&cfg->key_data);
    exec_free(cfg->exec);
    cfg->token = cfg->token_file = NULL;
    cfg->exec = NULL;
    free(cfg->cert_where);
    cfg->cert_where = NULL;
    free(cfg->auth_note);
    cfg->auth_note = mp_xstrdup("no credentials were sent: never to an http:// server");
}

static int build_config(const struct kset *set, const char *context, const char *name_context,
                        struct mp_kube_config **out, struct mp_error *err)
{
    const struct mp_node *cur = first_current_context(set);
    const char *name = context && *context ? context : cur ? cur->scalar : NULL;
    struct entry ctx, cluster, user = {0};
    if (!name || !find_entry(set, "contexts", "context", name, &ctx)) {
        if (name && !context && cur) {
            return mp_doc_error(err, cur, "context \"%s\" is not defined", name);
        }
        return no_context_error(set, name, name_context, err);
    }
    if (!ctx.value) {
        return mp_doc_error(err, ctx.item, "the context \"%s\" has no 'context' map", name);
    }
    struct mp_kube_config *cfg = mp_xcalloc(1, sizeof(*cfg));
    const char *ns = NULL;
    int rc = mp_doc_expect(ctx.value, MP_NODE_MAP, err);
    if (rc == 0) {
        rc = referenced(set, &ctx, "cluster", "clusters", &cluster, err);
    }
    if (rc == 0) {
        rc = parse_cluster(&cluster, cfg, err);
    }
    const char *uname = NULL; /* kubectl writes a context without a user as user: "" */
    if (rc == 0) {
        rc = opt_str(ctx.value, "user", &uname, err);
    }
    if (rc == 0 && uname && *uname) {
        rc = referenced(set, &ctx, "user", "users", &user, err);
        if (rc == 0) {
            rc = parse_user(&user, &cluster, cfg, err);
        }
    }
    if (rc == 0) {
        rc = opt_str(ctx.value, "namespace", &ns, err);
    }
    if (rc != 0) {
        mp_kube_config_free(cfg);
        return rc;
    }
    plain_http_sends_none(cfg);
    cfg->context = mp_xstrdup(name);
    cfg->ns = mp_xstrdup(ns && *ns ? ns : "default");
    cfg->source = source_list(set);
    *out = cfg;
    return 0;
}

int mp_kube_config_parse(const char *text, size_t len, const char *name, const char *context,
                         struct mp_kube_config **out, struct mp_error *err)
{
    struct kset set = {0};
    int rc = add_text(&set, text, len, name, err);
    if (rc == 0) {
        rc = build_config(&set, context, NULL, out, err);
    }
    kset_release(&set);
    return rc;
}

/* Adds the files the options name. Returns 0 with set->n == 0 when none exists. */
static int gather(const struct mp_kube_load_opts *o, struct kset *set, char **tried,
                  struct mp_error *err)
{
    if (o->kubeconfig && *o->kubeconfig) {
        *tried = mp_xstrdup(o->kubeconfig);
        return add_file(set, o->kubeconfig, true, err);
    }
    const char *env = o->kubeconfig_env ? o->kubeconfig_env : getenv("KUBECONFIG");
    if (env && *env) {
        *tried = mp_xasprintf("$KUBECONFIG (%s)", env);
        char *list = mp_xstrdup(env);
        int rc = 0;
        for (char *p = list, *next; rc == 0 && p; p = next) {
            next = strchr(p, ':');
            if (next) {
                *next++ = '\0';
            }
            bool dup = false;
            for (size_t i = 0; i < set->n; i++) {
                dup |= strcmp(set->files[i].path, p) == 0;
            }
            if (*p && !dup) {
                rc = add_file(set, p, false, err);
            }
        }
        free(list);
        return rc;
    }
    const char *home = o->home ? o->home : getenv("HOME");
    if (!home || !*home) {
        *tried = mp_xstrdup("~/.kube/config ($HOME is not set)");
        return 0;
    }
    char *path = mp_xasprintf("%s/.kube/config", home);
    *tried = mp_xstrdup(path);
    int rc = add_file(set, path, false, err);
    free(path);
    return rc;
}

int mp_kube_config_load(const struct mp_kube_load_opts *o, struct mp_kube_config **out,
                        struct mp_error *err)
{
    struct kset set = {0};
    char *tried = NULL;
    int rc = gather(o, &set, &tried, err);
    if (rc == 0 && set.n == 0) {
        const char *host = o->service_host ? o->service_host : getenv("KUBERNETES_SERVICE_HOST");
        if (o->in_cluster_fallback && host && *host) {
            rc = mp_kube_config_in_cluster(o, out, err);
        } else {
            rc =
                mp_error_set(err, MP_EINVALID, "no kubeconfig: %s does not exist; name one with %s",
                             tried, o->name_one ? o->name_one : "--kubeconfig or $KUBECONFIG");
        }
    } else if (rc == 0) {
        rc = build_config(&set, o->context, o->name_context, out, err);
    }
    free(tried);
    kset_release(&set);
    return rc;
}
