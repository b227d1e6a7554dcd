/* SPDX-License-Identifier: Apache-2.0 */
/* The operator's listeners: /healthz (the process answers), /readyz (the experiment cache has
 * synced, or this replica is a standby waiting for the Lease) and /metrics (Prometheus text).
 * --health-addr and --metrics-addr may name one address, then one listener serves all three
 * (unless its port is 0: two listeners on two free ports). */
#include "operator/op_int.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#if MHD_VERSION < 0x00097002
typedef int mhd_result;
#else
typedef enum MHD_Result mhd_result;
#endif

struct listener {
    struct op *op;
    struct MHD_Daemon *d;
    bool health, metrics;
};

struct op_http {
    struct listener l[2];
};

static mhd_result send_text(struct MHD_Connection *c, unsigned status, char *text, const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    mhd_result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static mhd_result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                          const char *version, const char *upload, size_t *upload_size,
                          void **con_cls)
{
    (void)version;
    (void)upload;
    (void)con_cls;
    struct listener *l = cls;
    struct op *op = l->op;
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        return send_text(c, 405, mp_xstrdup("method not allowed\n"), "text/plain");
    }
    if (l->health && strcmp(url, "/healthz") == 0) {
        return send_text(c, 200, mp_xstrdup("ok\n"), "text/plain");
    }
    if (l->health && strcmp(url, "/readyz") == 0) {
        bool standby = op->o->leader_elect && !atomic_load(&op->leader);
        bool ready = !atomic_load(&op->failed) && (atomic_load(&op->synced) || standby);
        return send_text(c, ready ? 200 : 503,
                         mp_xstrdup(ready ? "ok\n" : "the experiment cache has not synced\n"),
                         "text/plain");
    }
    if (l->metrics && strcmp(url, "/metrics") == 0) {
        return send_text(c, 200, op_metrics_text(op), "text/plain; version=0.0.4");
    }
    return send_text(c, 404, mp_xstrdup("not found\n"), "text/plain");
}

static int listen_on(struct op *op, struct listener *l, const char *addr, struct mp_error *err)
{
    char host[256];
    unsigned port = 0;
    int rc = mp_server_parse_listen(addr, host, sizeof(host), &port, err);
    if (rc != 0) {
        return mp_error_prefix(err, rc, "'%s'", addr);
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &s4->sin_addr) ==
        1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        return mp_error_set(err, MP_EINVALID, "'%s': not a numeric IP address (or localhost)",
                            addr);
    }
    l->op = op;
    l->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, l, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
    if (!l->d) {
        return mp_error_set(err, MP_ERUNTIME, "cannot listen on '%s'", addr);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_BIND_PORT);
    op_log(op, "serving%s%s on http://%s%s%s:%u", l->health ? " /healthz /readyz" : "",
           l->metrics ? " /metrics" : "", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", info ? (unsigned)info->port : port);
    return 0;
}

int op_http_start(struct op *op, struct op_http **out, struct mp_error *err)
{
    const char *h = op->o->health_addr, *m = op->o->metrics_addr;
    struct op_http *hs = mp_xcalloc(1, sizeof(*hs));
    int rc = 0;
    size_t hl = h ? strlen(h) : 0;
    bool any_port = hl >= 2 && strcmp(h + hl - 2, ":0") == 0;
    if (h && m && strcmp(h, m) == 0 && !any_port) {
        hs->l[0].health = hs->l[0].metrics = true;
        rc = listen_on(op, &hs->l[0], h, err);
    } else {
        if (h) {
            hs->l[0].health = true;
            rc = listen_on(op, &hs->l[0], h, err);
        }
        if (rc == 0 && m) {
            hs->l[1].metrics = true;
            rc = listen_on(op, &hs->l[1], m, err);
        }
    }
    if (rc != 0) {
        op_http_stop(hs);
        return rc;
    }
    *out = hs;
    return 0;
}

void op_http_stop(struct op_http *h)
{
    if (!h) {
        return;
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(h->l); i++) {
        if (h->l[i].d) {
            MHD_stop_daemon(h->l[i].d);
        }
    }
    free(h);
}
