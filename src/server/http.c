/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP front: libmicrohttpd daemon with explicit limits, per-request body accumulation,
 * the security checks every request passes, response helpers and top-level routing (static
 * dashboard files, /healthz, /metrics, /api/v1/). */
#include "server/server_int.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "doc/doc.h"

void mp_srv_add_common_headers(struct MHD_Response *resp, bool is_html)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    /* No other origin's page may read an answer into its own (an <img> or <script> of it). */
    MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
    /* Each request comes through the gate, which bounds the time its head may take. */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (is_html) {
        /* A page of another origin that opened the dashboard (window.open) keeps no handle on
         * its window: it could send it anywhere later, such as a look-alike login page on
         * another port of the same host. */
        MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
        /* Scripts and styles from the page's files only: the page sets data-driven sizes
         * through the CSSOM (as uPlot does), so a style attribute or element that got into it
         * restyles nothing. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    }
}

mhd_result mp_srv_send_bytes(struct MHD_Connection *c, struct request *req, unsigned status,
                             const char *content_type, const void *data, size_t len, bool copy)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    mp_srv_add_common_headers(resp, strncmp(content_type, "text/html", 9) == 0);
    if (status == MHD_HTTP_UNAUTHORIZED) {
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"morphling\"");
    }
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED && req->allow) {
        MHD_add_response_header(resp, "Allow", req->allow); /* RFC 9110, 15.5.6 */
    }
    /* As the Kubernetes API server warns (code 299, a persistent warning): kubectl and client
     * libraries show them. The texts hold no '"' or '\\' (mp_report_caveats). */
    size_t i;
    const json_t *w;
    json_array_foreach (req->warnings, i, w) {
        char *h = mp_xasprintf("299 morphling \"%s\"", json_string_value(w));
        MHD_add_response_header(resp, "Warning", h);
        free(h);
    }
    req->status = status;
    req->answered = true;
    mhd_result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

mhd_result mp_srv_send_json(struct MHD_Connection *c, struct request *req, unsigned status,
                            json_t *body)
{
    char *text = mp_json_dumps(body, 0);
    json_decref(body);
    size_t len = strlen(text);
    mhd_result r = mp_srv_send_bytes(c, req, status, "application/json", text, len, true);
    free(text);
    return r;
}

mhd_result mp_srv_send_error(struct MHD_Connection *c, struct request *req, unsigned status,
                             const char *code, const char *fmt, ...)
{
    struct mp_buf msg = MP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mp_buf_addvf(&msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s}", "code", code, "message", msg.data ? msg.data : "");
    /* Errors in a submitted spec read "spec:LINE:COL: ..." (its source name); expose the
     * position for editors. Only those: "no experiment 'a:3:4:'" is no position. */
    const char *p = msg.data && strncmp(msg.data, "spec:", 5) == 0 ? msg.data + 4 : NULL;
    unsigned line = 0, col = 0;
    if (p && sscanf(p, ":%u:%u:", &line, &col) == 2) {
        json_object_set_new(e, "line", json_integer(line));
        json_object_set_new(e, "column", json_integer(col));
    }
    mp_buf_release(&msg);
    return mp_srv_send_json(c, req, status, json_pack("{s:o}", "error", e));
}

unsigned mp_srv_status_for(int code, const char **code_name)
{
    switch (code) {
    case MP_EINVALID:
    case MP_EPARSE:
        *code_name = "invalid";
        return MHD_HTTP_BAD_REQUEST;
    case MP_ENOTFOUND:
        *code_name = "not_found";
        return MHD_HTTP_NOT_FOUND;
    case MP_EEXISTS:
        *code_name = "exists";
        return MHD_HTTP_CONFLICT;
    case MP_ESTATE:
    case MP_EBUSY:
        *code_name = "conflict";
        return MHD_HTTP_CONFLICT;
    case MP_ETOOBIG:
        *code_name = "too_large";
        return HTTP_TOO_LARGE;
    case MP_EUNSUPPORTED:
        *code_name = "unsupported"; /* stored by another version of morphling */
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    case MP_EUNAVAILABLE:
        *code_name = "unavailable";
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    default:
        *code_name = "internal";
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

int mp_srv_open_store(struct mp_server *srv, struct mp_store **st, struct mp_error *err)
{
    struct mp_store_opts o = {.busy_timeout_ms = 10000};
    return mp_store_open(srv->db_path, &o, st, err);
}

static mhd_result serve_asset(struct MHD_Connection *c, struct request *req, const char *url)
{
    const struct mp_asset *a = mp_server_asset(strcmp(url, "/") == 0 ? "/index.html" : url);
    req->route = "static";
    if (!a) {
        return mp_srv_send_error(c, req, MHD_HTTP_NOT_FOUND, "not_found", "no such page: %s", url);
    }
    /* A browser revalidates each file (no-cache) and gets 304 while the binary is the same: the
     * files hold no data, and a new build changes their tags. */
    const char *match = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match");
    bool fresh = match && (strstr(match, a->etag) || strcmp(match, "*") == 0);
    unsigned status = fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? (void *)"" : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    mp_srv_add_common_headers(resp, strncmp(a->content_type, "text/html", 9) == 0);
    MHD_del_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "ETag", a->etag);
    if (!fresh) {
        MHD_add_response_header(resp, "Content-Type", a->content_type);
    }
    req->status = status;
    req->answered = true;
    mhd_result r = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static bool is_unsafe(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* What anyone who passes the Host check may read: the dashboard's files and /healthz. */
static bool is_public(const char *url, const char *method)
{
    return !is_unsafe(method) && strncmp(url, "/api/", 5) != 0 && strcmp(url, "/metrics") != 0;
}

static bool authenticated(struct mp_server *srv, struct MHD_Connection *c)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    return mp_server_token_ok(auth, srv->token) || mp_server_token_ok(auth, srv->session);
}

/* The login URL, /?token=TOKEN: redirects to /#session=SESSION, where the page keeps the session
 * in its origin's storage (which no other port's page can read, unlike a cookie, which browsers
 * send to every port of its host) and takes it out of the address bar. A fragment is never sent
 * to a server, and the token leaves the address bar (not the browser's history, which keeps every
 * address opened). A wrong token: 401, or for a browser a redirect to /?login=failed. */
static mhd_result login(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                        const char *given)
{
    req->route = "login";
    bool ok = mp_server_token_equal(given, srv->token);
    const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    if (!ok && !(accept && strstr(accept, "text/html"))) {
        return mp_srv_send_error(c, req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                 "wrong token in the login URL; use the one `morphling serve` "
                                 "printed");
    }
    /* A browser given a wrong token goes to the page, which asks again and says why: the
     * wrong token (often a near miss of the right one) leaves the address bar too. */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return MHD_NO;
    }
    char *to = ok ? mp_xasprintf("/#session=%s", srv->session) : mp_xstrdup("/?login=failed");
    MHD_add_response_header(resp, "Location", to);
    free(to);
    mp_srv_add_common_headers(resp, false);
    /* Whoever bound the port while serve was down could answer the page (and /?login=failed)
     * to a browser that opened it then, for the browser to keep for a year: the redirect loaded
     * that copy, whose scripts got the session. The browser drops what it kept of this origin
     * before it follows the redirect. */
    MHD_add_response_header(resp, "Clear-Site-Data", "\"cache\"");
    req->status = MHD_HTTP_SEE_OTHER;
    req->answered = true;
    mhd_result r = MHD_queue_response(c, MHD_HTTP_SEE_OTHER, resp);
    MHD_destroy_response(resp);
    return r;
}

/* Host, login, Origin and token checks. Returns true when the request may proceed; otherwise a
 * response has been queued in *r. */
static bool check_access(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                         const char *url, const char *method, mhd_result *r)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *extra = srv->token ? srv->public_host : NULL;
    bool host_ok = mp_server_host_allowed(host, srv->port, extra) ||
                   (srv->token && host && srv->listen_host_port &&
                    strcasecmp(host, srv->listen_host_port) == 0);
    if (!host_ok) {
        *r = mp_srv_send_error(c, req, MHD_HTTP_FORBIDDEN, "bad_host",
                               "Host header '%s' does not name this server", host ? host : "");
        return false;
    }
    const char *given = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
    struct mp_error twice = {0};
    const char *once = NULL;
    if (given && mp_srv_query_arg(c, "token", &once, &twice) != 0) {
        given = ""; /* given twice: a wrong login (the first logged in), as the API refuses it */
    }
    if (srv->token && given && strcmp(url, "/") == 0 && !is_unsafe(method)) {
        *r = login(srv, c, req, given);
        return false;
    }
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    if (is_unsafe(method) && !mp_server_origin_allowed(origin, host)) {
        *r = mp_srv_send_error(c, req, MHD_HTTP_FORBIDDEN, "bad_origin",
                               "cross-origin request refused (Origin '%s')", origin);
        return false;
    }
    if (srv->token && !is_public(url, method) && !authenticated(srv, c)) {
        *r = mp_srv_send_error(c, req, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                               "this request needs the token: open the login URL `morphling "
                               "serve` printed, or send 'Authorization: Bearer <token>'");
        return false;
    }
    return true;
}

struct arg_count {
    const char *name;
    unsigned n;
};

static mhd_result count_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    struct arg_count *a = cls;
    a->n += key && strcmp(key, a->name) == 0;
    return MHD_YES;
}

int mp_srv_query_arg(struct MHD_Connection *c, const char *name, const char **out,
                     struct mp_error *err)
{
    struct arg_count a = {.name = name};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, count_arg, &a);
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
    *out = v && *v ? v : NULL;
    if (a.n > 1) {
        *out = NULL;
        return mp_error_set(err, MP_EINVALID, "query argument '%s' given %u times: give it once",
                            name, a.n);
    }
    return 0;
}

struct arg_check {
    const char *const *known;
    const char *unknown; /* the first argument not in known */
};

static mhd_result check_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    struct arg_check *a = cls;
    for (const char *const *k = a->known; *k; k++) {
        if (key && strcmp(key, *k) == 0) {
            return MHD_YES;
        }
    }
    a->unknown = key ? key : "";
    return MHD_NO;
}

int mp_srv_query_known(struct MHD_Connection *c, const char *const *known, struct mp_error *err)
{
    struct arg_check a = {.known = known};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, check_arg, &a);
    if (!a.unknown) {
        return 0;
    }
    struct mp_buf takes = MP_BUF_INIT;
    for (const char *const *k = known; *k; k++) {
        mp_buf_addf(&takes, "%s'%s'", k == known ? "" : ", ", *k);
    }
    char *unknown = mp_xstrdup(a.unknown); /* a client's bytes: JSON holds UTF-8 only */
    mp_utf8_scrub(unknown, strlen(unknown));
    mp_error_set(err, MP_EINVALID, "unknown query argument '%.64s': this route takes %s", unknown,
                 takes.len ? takes.data : "none");
    free(unknown);
    mp_buf_release(&takes);
    return MP_EINVALID;
}

/* First call of a request: checks that need no body. Returns true to go on reading. */
static bool first_call(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                       const char *url, const char *method, mhd_result *r)
{
    if (!check_access(srv, c, req, url, method, r)) {
        return false;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    int64_t n = 0;
    if (cl && (mp_parse_int64(cl, &n) != 0 || n > (int64_t)MP_SERVER_MAX_BODY_BYTES)) {
        *r = mp_srv_send_error(c, req, HTTP_TOO_LARGE, "too_large", "request body over %u bytes",
                               MP_SERVER_MAX_BODY_BYTES);
        return false;
    }
    return true;
}

static mhd_result dispatch(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                           const char *url, const char *method)
{
    if (req->too_big) {
        return mp_srv_send_error(c, req, HTTP_TOO_LARGE, "too_large", "request body over %u bytes",
                                 MP_SERVER_MAX_BODY_BYTES);
    }
    if (strncmp(url, "/api/v1/", 8) == 0) {
        return mp_srv_api(srv, c, req, method, url + 7);
    }
    if (is_unsafe(method)) { /* /healthz too: it answered 200 to a POST */
        req->route = strcmp(url, "/healthz") == 0 ? "healthz" : "other";
        req->allow = "GET, HEAD";
        return mp_srv_send_error(c, req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                 "%s is not allowed on %s", method, url);
    }
    if (strcmp(url, "/healthz") == 0) {
        req->route = "healthz";
        return mp_srv_send_bytes(c, req, MHD_HTTP_OK, "text/plain; charset=utf-8", "ok\n", 3,
                                 false);
    }
    if (strcmp(url, "/metrics") == 0) {
        req->route = "metrics";
        return mp_srv_metrics_serve(srv, c, req);
    }
    return serve_asset(c, req, url);
}

static mhd_result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                          const char *version, const char *upload, size_t *upload_size,
                          void **con_cls)
{
    (void)version;
    struct mp_server *srv = cls;
    struct request *req = *con_cls;
    mhd_result r = MHD_YES;
    if (!req) {
        req = mp_xcalloc(1, sizeof(*req));
        req->start_ns = mp_mono_ns();
        req->route = "other";
        mp_srv_metrics_method(req, method, strlen(method));
        *con_cls = req;
        if (!first_call(srv, c, req, url, method, &r)) {
            return r;
        }
        return MHD_YES;
    }
    if (req->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0 &&
        mp_mono_ns() - req->start_ns > MP_SERVER_BODY_TIMEOUT_S * 1000000000LL) {
        return MHD_NO; /* a body trickling in slower than the deadline allows: drop it */
    }
    if (*upload_size > 0) {
        if (!req->too_big && req->body.len + *upload_size <= MP_SERVER_MAX_BODY_BYTES) {
            mp_buf_add(&req->body, upload, *upload_size);
        } else {
            req->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!req->body.data) {
        mp_buf_adds(&req->body, "");
    }
    return dispatch(srv, c, req, url, method);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    struct mp_server *srv = cls;
    struct request *req = *con_cls;
    if (!req) {
        return;
    }
    mp_srv_metrics_record(&srv->metrics, req);
    mp_buf_release(&req->body);
    free(req);
    *con_cls = NULL;
}

int mp_srv_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len,
                    struct mp_error *err)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, h, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        *len = sizeof(*s4);
        return 0;
    }
    if (inet_pton(AF_INET6, h, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*s6);
        return 0;
    }
    return mp_error_set(err, MP_EINVALID,
                        "--listen: '%s' is not a numeric IP address (or localhost)", host);
}

static void server_free(struct mp_server *srv)
{
    free(srv->db_path);
    free(srv->token);
    free(srv->public_host);
    free(srv->base_dir);
    free(srv->read_only);
    free(srv->listen_host_port);
    free(srv->session);
    mp_srv_metrics_release(&srv->metrics);
    pthread_mutex_destroy(&srv->jobs_lock);
    pthread_cond_destroy(&srv->jobs_cond);
    pthread_mutex_destroy(&srv->streams_lock);
    free(srv);
}

/* The daemon gets its connections from the gate (gate.c) only once their head has arrived,
 * and answers each request with Connection: close, so every request passes the gate. */
static int start_daemon(struct mp_server *srv, int listen_fd, struct mp_error *err)
{
    /* poll(), not select(): descriptors may go past FD_SETSIZE with the gate's waiting ones. */
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC;
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, handler, srv, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(4 * MP_SERVER_MAX_HEADER_BYTES), MHD_OPTION_CONNECTION_TIMEOUT,
        MP_SERVER_IDLE_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, MP_SERVER_MAX_CONNECTIONS,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, MP_SERVER_MAX_PER_ADDRESS, MHD_OPTION_NOTIFY_COMPLETED,
        completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        close(listen_fd);
        return mp_error_set(err, MP_ERUNTIME, "cannot start the HTTP daemon");
    }
    return mp_srv_gate_start(srv, listen_fd, err);
}

/* Room for every limit at once: waiting heads, connections and their store handles. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int mp_server_start(const struct mp_server_opts *opts, struct mp_server **out, struct mp_error *err)
{
    char host[256];
    unsigned port = 0;
    int rc = mp_server_parse_listen(opts->listen ? opts->listen : "127.0.0.1:8080", host,
                                    sizeof(host), &port, err);
    if (rc != 0) {
        return rc;
    }
    if (!mp_server_host_is_loopback(host) && !opts->token) {
        return mp_error_set(err, MP_EINVALID,
                            "refusing to listen on non-loopback address '%s' without a token "
                            "(drop --no-auth)",
                            host);
    }
    if (opts->token && strlen(opts->token) < MP_SERVER_MIN_TOKEN_LEN) {
        return mp_error_set(err, MP_EINVALID, "the token must have at least %u characters",
                            MP_SERVER_MIN_TOKEN_LEN);
    }
    if (opts->max_running > MP_SERVER_MAX_MAX_RUNNING) {
        return mp_error_set(err, MP_EINVALID, "at most %u experiments can run at once, not %u",
                            MP_SERVER_MAX_MAX_RUNNING, opts->max_running);
    }
    char *session = NULL;
    if (opts->token && (rc = mp_server_session_new(&session, err)) != 0) {
        return rc;
    }
    raise_fd_limit();
    int listen_fd = -1;
    if ((rc = mp_srv_listen(host, port, &listen_fd, &port, err)) != 0) {
        free(session);
        return rc;
    }
    struct mp_server *srv = mp_xcalloc(1, sizeof(*srv));
    srv->session = session;
    srv->port = port;
    srv->listen_host_port =
        strchr(host, ':') ? mp_xasprintf("[%s]:%u", host, port) : mp_xasprintf("%s:%u", host, port);
    srv->db_path = mp_xstrdup(opts->db_path);
    srv->token = opts->token ? mp_xstrdup(opts->token) : NULL;
    srv->public_host = opts->public_host ? mp_xstrdup(opts->public_host) : NULL;
    srv->read_only = opts->read_only ? mp_xstrdup(opts->read_only) : NULL;
    srv->max_running = opts->max_running ? opts->max_running : MP_SERVER_DEFAULT_MAX_RUNNING;
    char cwd[PATH_MAX];
    srv->base_dir = mp_xstrdup(opts->base_dir             ? opts->base_dir
                               : getcwd(cwd, sizeof(cwd)) ? cwd
                                                          : ".");
    pthread_mutex_init(&srv->jobs_lock, NULL);
    pthread_cond_init(&srv->jobs_cond, NULL);
    pthread_mutex_init(&srv->streams_lock, NULL);
    mp_srv_metrics_init(&srv->metrics);
    rc = start_daemon(srv, listen_fd, err);
    if (rc != 0) {
        if (srv->daemon) {
            MHD_stop_daemon(srv->daemon);
        }
        server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

unsigned mp_server_port(const struct mp_server *srv)
{
    return srv->port;
}

void mp_server_stop(struct mp_server *srv)
{
    if (!srv) {
        return;
    }
    atomic_store(&srv->stopping, true);
    mp_srv_gate_stop(srv);
    if (srv->daemon) {
        MHD_stop_daemon(srv->daemon);
    }
    mp_srv_jobs_shutdown(srv);
    server_free(srv);
}
