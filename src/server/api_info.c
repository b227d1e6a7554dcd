/* SPDX-License-Identifier: Apache-2.0 */
/* Three API routes beside api.c's: GET /api/v1/info (the version and the event kinds the engine
 * writes, so the dashboard listens for exactly those), POST /api/v1/session (the dashboard's
 * session for a token pasted into its login dialog) and GET /api/v1/experiments/{ref}/export
 * (the recommended configuration, deployable, as `morphling export --format deploy|k8s` prints
 * it). Endpoints: docs/api.md. */
#include "server/server_int.h"

#include <math.h>
#include <string.h>

#include "engine/events.h"
#include "kube/kube.h"
#include "report/report.h"
#include "runner/kubernetes.h"

mhd_result mp_srv_api_info(struct MHD_Connection *c, struct request *req)
{
    json_t *kinds = json_array();
    for (int k = 0; k < MP_EVENT_COUNT; k++) {
        json_array_append_new(kinds, json_string(mp_engine_event_name((enum mp_engine_event)k)));
    }
    req->route = "info";
    return mp_srv_send_json(c, req, MHD_HTTP_OK,
                            json_pack("{s:s, s:o}", "version", MP_VERSION, "event_kinds", kinds));
}

/* The caller passed the access checks with the token (or the session itself): the session of
 * this start, which the page keeps instead of the token. A pasted token goes in this request's
 * header, never into an address that the browser's history keeps, as the login URL does. */
mhd_result mp_srv_api_session(struct mp_server *srv, struct MHD_Connection *c, struct request *req)
{
    req->route = "session";
    if (!srv->session) {
        return mp_srv_send_error(c, req, MHD_HTTP_NOT_FOUND, "not_found",
                                 "this server takes no token: there is no session to log in to");
    }
    return mp_srv_send_json(c, req, MHD_HTTP_OK, json_pack("{s:s}", "session", srv->session));
}

struct export_query {
    const char *format;    /* "deploy" (default) or "k8s" */
    const char *container; /* k8s: the container to configure (required) */
    int port;
    bool port_given;
    double target_rps;
    double headroom; /* the plan's spare capacity, as `export --headroom` (0.2) */
};

static int export_query(struct MHD_Connection *c, struct export_query *q, struct mp_error *err)
{
    int64_t port = 8080;
    const char *p = NULL, *rps = NULL, *room = NULL;
    int rc = mp_srv_query_arg(c, "port", &p, err);
    rc = rc ? rc : mp_srv_query_arg(c, "target_rps", &rps, err);
    rc = rc ? rc : mp_srv_query_arg(c, "headroom", &room, err);
    rc = rc ? rc : mp_srv_query_arg(c, "format", &q->format, err);
    rc = rc ? rc : mp_srv_query_arg(c, "container", &q->container, err);
    if (rc != 0) {
        return rc;
    }
    q->format = q->format ? q->format : "deploy";
    q->target_rps = 0;
    if (strcmp(q->format, "deploy") != 0 && strcmp(q->format, "k8s") != 0) {
        return mp_error_set(err, MP_EINVALID, "format '%s': expected deploy or k8s", q->format);
    }
    if (q->container && mp_kube_check_name(q->container, MP_KUBE_DNS_LABEL, "container", err)) {
        return MP_EINVALID;
    }
    if (p && (mp_parse_int64(p, &port) != 0 || port < 1 || port > 65535)) {
        return mp_error_set(err, MP_EINVALID, "port '%s': expected 1 to 65535", p);
    }
    if (rps && (mp_parse_double(rps, &q->target_rps) != 0 ||
                !(q->target_rps >= MP_REPORT_TARGET_RPS_MIN &&
                  q->target_rps <= MP_REPORT_TARGET_RPS_MAX))) {
        return mp_error_set(err, MP_EINVALID, "target_rps '%s': expected a number in %g..%g", rps,
                            MP_REPORT_TARGET_RPS_MIN, MP_REPORT_TARGET_RPS_MAX);
    }
    /* It was ignored: a plan asked with 50 % came back with 20 %, unsaid. */
    q->headroom = 0.2;
    if (room && !rps) {
        return mp_error_set(err, MP_EINVALID,
                            "headroom '%s' needs target_rps (the load to plan capacity for)", room);
    }
    if (room &&
        (mp_parse_double(room, &q->headroom) != 0 || !isfinite(q->headroom) || q->headroom < 0)) {
        return mp_error_set(err, MP_EINVALID, "headroom '%s': expected a number >= 0 (0.2: 20 %%)",
                            room);
    }
    q->port = (int)port;
    q->port_given = p != NULL;
    return 0;
}

/* The k8s patch: {spec: {template: pod, replicas?}}, the pod rendered onto a bare template with
 * the one named container (a kubernetes experiment's: its runner's template, as its trials ran
 * it), secret-looking arguments redacted (as the CLI's export does). */
static int k8s_patch(struct mp_store *st, const char *ref, const struct export_query *q,
                     const struct mp_deploy_opts *o, json_t **out, struct mp_error *err)
{
    struct mp_recommended rec = {0};
    struct mp_pod_mapping m = {.port = q->port};
    json_t *pod = NULL;
    json_t *bare = json_pack("{s:{s:[{s:s}]}}", "spec", "containers", "name",
                             q->container ? q->container : "");
    int rc = mp_report_recommended(st, ref, o, &rec, err);
    bool kube = rc == 0 && strcmp(rec.spec->runner, "kubernetes") == 0;
    if (rc == 0 && !kube && !q->container) {
        rc = mp_error_set(err, MP_EINVALID,
                          "format k8s needs container=NAME (the container to configure)");
    }
    if (rc == 0 && kube) {
        rc = mp_kube_runner_pod(rec.spec, rec.x, q->container, q->port_given ? q->port : 0, &pod,
                                err);
    } else if (rc == 0) {
        rc = mp_spec_render_pod(rec.spec, rec.x, bare, q->container, &m, &pod, err);
    }
    if (rc == 0) {
        json_t *containers = json_object_get(json_object_get(pod, "spec"), "containers");
        for (size_t i = 0; i < json_array_size(containers); i++) {
            mp_report_redact_argv(json_object_get(json_array_get(containers, i), "args"));
        }
        json_t *spec = json_pack("{s:O}", "template", pod);
        const json_t *replicas = mp_recommended_replicas(&rec);
        if (replicas) {
            json_object_set(spec, "replicas", (json_t *)replicas);
        }
        *out = json_pack("{s:o}", "spec", spec);
    }
    json_decref(pod);
    json_decref(bare);
    mp_recommended_release(&rec);
    return rc;
}

mhd_result mp_srv_api_export(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref)
{
    struct export_query q = {0};
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    json_t *out = NULL;
    req->route = "export";
    int rc = export_query(c, &q, &err);
    if (rc != 0) {
        return mp_srv_send_error(c, req, MHD_HTTP_BAD_REQUEST, "invalid", "%s", err.msg);
    }
    struct mp_deploy_opts o = {.port = q.port, .target_rps = q.target_rps, .headroom = q.headroom};
    rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0 && strcmp(q.format, "k8s") == 0) {
        rc = k8s_patch(st, ref, &q, &o, &out, &err);
    } else if (rc == 0) {
        rc = mp_report_deployment(st, ref, &o, &out, &err);
    }
    /* What the configuration is not (the best so far of an unfinished experiment, an unsettled
     * or unconfirmed figure), as Warning headers: the body is the configuration alone. */
    json_t *rep = NULL, *caveats = NULL;
    if (rc == 0 && mp_report_experiment(st, ref, &rep, NULL) == 0) {
        caveats = mp_report_caveats(rep);
    }
    mp_store_close(st);
    if (rc != 0) {
        const char *name = NULL;
        unsigned status = mp_srv_status_for(rc, &name);
        return mp_srv_send_error(c, req, status, name, "%s",
                                 err.msg[0] ? err.msg : mp_strerror(rc));
    }
    req->warnings = caveats;
    mhd_result r = mp_srv_send_json(c, req, MHD_HTTP_OK, out);
    req->warnings = NULL;
    json_decref(caveats);
    json_decref(rep);
    return r;
}
