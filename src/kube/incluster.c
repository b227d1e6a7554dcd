/* SPDX-License-Identifier: Apache-2.0 */
/* The in-cluster configuration: the API server from KUBERNETES_SERVICE_HOST/PORT, the
 * service-account token (re-read by the transport when it rotates), CA and namespace files. */
#include "kube/kube_int.h"

#include <stdlib.h>
#include <string.h>

static int read_trimmed(const char *path, char **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    int rc = mp_buf_read_file(&b, path, MP_KUBE_MAX_FIELD_FILE, err);
    if (rc != 0) {
        mp_buf_release(&b);
        return rc;
    }
    size_t s = 0, n = b.len;
    while (s < n && strchr(" \t\r\n", b.data[s])) {
        s++;
    }
    while (n > s && strchr(" \t\r\n", b.data[n - 1])) {
        n--;
    }
    *out = mp_xstrndup(b.data + s, n - s);
    mp_buf_release(&b);
    return 0;
}

int mp_kube_config_in_cluster(const struct mp_kube_load_opts *o, struct mp_kube_config **out,
                              struct mp_error *err)
{
    static const struct mp_kube_load_opts none = {0};
    o = o ? o : &none;
    const char *host = o->service_host ? o->service_host : getenv("KUBERNETES_SERVICE_HOST");
    const char *port = o->service_port ? o->service_port : getenv("KUBERNETES_SERVICE_PORT");
    const char *dir = o->sa_dir ? o->sa_dir : MP_KUBE_SA_DIR;
    if (!host || !*host || !port || !*port) {
        return mp_error_set(err, MP_EINVALID,
                            "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                            "must be set");
    }
    struct mp_kube_config *cfg = mp_xcalloc(1, sizeof(*cfg));
    cfg->in_cluster = true;
    cfg->source = mp_xstrdup(dir);
    cfg->context = mp_xstrdup("");
    cfg->server = mp_xasprintf(strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    cfg->tls_where = mp_xasprintf("%s/ca.crt", dir);
    cfg->token_file = mp_xasprintf("%s/token", dir);
    cfg->auth_note =
        mp_xasprintf("the server refused the service-account token %s", cfg->token_file);
    char *token = NULL, *ns_path = mp_xasprintf("%s/namespace", dir);
    int rc = read_trimmed(cfg->token_file, &token, err);
    free(token);
    if (rc != 0) {
        mp_error_prefix(err, rc, "in-cluster: service-account token");
    }
    struct mp_buf ca = MP_BUF_INIT;
    if (rc == 0 && mp_buf_read_file(&ca, cfg->tls_where, MP_KUBE_MAX_FIELD_FILE, NULL) == 0) {
        cfg->ca_data.len = ca.len;
        cfg->ca_data.data = (unsigned char *)mp_buf_detach(&ca);
    }
    mp_buf_release(&ca);
    /* client-go's order: $POD_NAMESPACE (set with the downward API), the file, "default". */
    const char *pod_ns = getenv("POD_NAMESPACE");
    if (rc == 0 && pod_ns && *pod_ns) {
        cfg->ns = mp_xstrdup(pod_ns);
    } else if (rc == 0 && read_trimmed(ns_path, &cfg->ns, NULL) != 0) {
        cfg->ns = NULL;
    }
    if (rc == 0 && (!cfg->ns || !*cfg->ns)) {
        free(cfg->ns);
        cfg->ns = mp_xstrdup("default");
    }
    free(ns_path);
    if (rc != 0) {
        mp_kube_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}
