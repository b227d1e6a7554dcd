/* SPDX-License-Identifier: Apache-2.0 */
/* The scripted HTTP(S) server and file helpers of the Kubernetes client's unit tests
 * (kube_fake.h). */
#define _GNU_SOURCE /* nftw */
#include "kube_fake.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"

#define WAIT_LIMIT_NS (INT64_C(60) * 1000000000)

struct stream {
    struct mp_buf data;
    size_t sent;
    bool opened, ended, dropped;
};

struct item {
    struct kf_answer a;
    int stream;
};

struct kf_server {
    struct MHD_Daemon *d;
    char url[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct item *script;
    size_t n_script, next;
    struct stream *streams;
    int n_streams;
    struct kf_request **reqs; /* stable addresses: tests hold them while others arrive */
    size_t n_reqs;
    int def_status;
    char *def_body;
    unsigned release_gen;
    bool stopping;
    unsigned connections;
    char *pem[3]; /* key, cert, trust */
};

struct req_ctx {
    char *uri;
    struct mp_buf body;
    bool started;
};

struct stream_ref {
    struct kf_server *s;
    int idx;
};

static void die(const char *what)
{
    fprintf(stderr, "kube_fake: %s\n", what);
    abort();
}

/* ---- files ---- */

char *kf_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *tmpl = mp_xasprintf("%s/kube-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl)) {
        die("mkdtemp");
    }
    return tmpl;
}

void kf_write(const char *dir, const char *name, const char *text)
{
    char *path = mp_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        die(path);
    }
    free(path);
}

char *kf_read(const char *path)
{
    struct mp_buf b = MP_BUF_INIT;
    if (mp_buf_read_file(&b, path, 1u << 24, NULL) != 0) {
        mp_buf_release(&b);
        return NULL;
    }
    return mp_buf_detach(&b);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void kf_rmtree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void run_openssl(const char *const *args)
{
    const char *argv[32] = {"openssl"};
    size_t n = 1;
    for (; args[n - 1] && n < MP_ARRAY_LEN(argv) - 1; n++) {
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int status = -1;
    extern char **environ;
    if (posix_spawnp(&pid, "openssl", &fa, NULL, (char *const *)argv, environ) == 0) {
        waitpid(pid, &status, 0);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (status != 0) {
        fprintf(stderr, "kube_fake: failed:");
        for (size_t i = 0; argv[i]; i++) {
            fprintf(stderr, " %s", argv[i]);
        }
        die("openssl (is the openssl package installed?)");
    }
}

static void make_ca(const char *dir, const char *name)
{
    char *key = mp_xasprintf("%s/%s.key", dir, name), *crt = mp_xasprintf("%s/%s.crt", dir, name);
    char *subj = mp_xasprintf("/CN=%s", name);
    const char *args[] = {
        "req",    "-x509",   "-newkey", "ec",   "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-keyout", key,       "-out", crt,        "-days",
        "3",      "-subj",   subj,      NULL};
    run_openssl(args);
    free(key);
    free(crt);
    free(subj);
}

static void make_leaf(const char *dir, const char *name, const char *subj, const char *ext)
{
    char *key = mp_xasprintf("%s/%s.key", dir, name), *csr = mp_xasprintf("%s/%s.csr", dir, name);
    char *crt = mp_xasprintf("%s/%s.crt", dir, name);
    char *extname = mp_xasprintf("%s.ext", name), *extpath = mp_xasprintf("%s/%s", dir, extname);
    char *ca = mp_xasprintf("%s/ca.crt", dir), *cakey = mp_xasprintf("%s/ca.key", dir);
    kf_write(dir, extname, ext);
    const char *req[] = {"req",    "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                         "-nodes", "-keyout", key,  "-out",     csr,
                         "-subj",  subj,      NULL};
    run_openssl(req);
    const char *sign[] = {
        "x509",  "-req", "-in",  csr, "-CA",      ca,      "-CAkey", cakey, "-CAcreateserial",
        "-days", "3",    "-out", crt, "-extfile", extpath, NULL};
    run_openssl(sign);
    free(key);
    free(csr);
    free(crt);
    free(extname);
    free(extpath);
    free(ca);
    free(cakey);
}

void kf_make_certs(const char *dir)
{
    make_ca(dir, "ca");
    make_ca(dir, "other-ca");
    make_leaf(dir, "server", "/CN=kf-server",
              "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    make_leaf(dir, "client", "/CN=alice/O=devs", "extendedKeyUsage=clientAuth\n");
}

/* ---- server ---- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct req_ctx *ctx = mp_xcalloc(1, sizeof(*ctx));
    ctx->uri = mp_xstrdup(uri);
    return ctx;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode code)
{
    (void)cls;
    (void)conn;
    (void)code;
    struct req_ctx *ctx = *con_cls;
    if (ctx) {
        free(ctx->uri);
        mp_buf_release(&ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)conn;
    struct kf_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        pthread_mutex_lock(&s->mu);
        *socket_ctx = (void *)(uintptr_t)++s->connections;
        pthread_mutex_unlock(&s->mu);
    }
}

/* CN of the client certificate, when one was shown and verifies against the trusted CA. */
static char *client_cn(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session) {
        return NULL;
    }
    gnutls_session_t session = (gnutls_session_t)ci->tls_session;
    unsigned n = 0, status = 1;
    const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0 || gnutls_certificate_verify_peers2(session, &status) != 0 ||
        status != 0) {
        return NULL;
    }
    gnutls_x509_crt_t crt;
    char cn[256];
    size_t len = sizeof(cn);
    char *out = NULL;
    gnutls_x509_crt_init(&crt);
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) == 0 &&
        gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len) == 0) {
        out = mp_xstrdup(cn);
    }
    gnutls_x509_crt_deinit(crt);
    return out;
}

static char *header(struct MHD_Connection *conn, const char *name)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
    return v ? mp_xstrdup(v) : NULL;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream_ref *ref = cls;
    struct kf_server *s = ref->s;
    pthread_mutex_lock(&s->mu);
    struct stream *st = &s->streams[ref->idx];
    while (!s->stopping && st->sent == st->data.len && !st->ended && !st->dropped) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    ssize_t n;
    if (s->stopping || st->dropped) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (st->sent == st->data.len) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        size_t k = st->data.len - st->sent < max ? st->data.len - st->sent : max;
        memcpy(buf, st->data.data + st->sent, k);
        st->sent += k;
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *body,
                             const char *retry_after)
{
    const char *b = body ? body : "";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(b), (void *)b, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after) {
        MHD_add_response_header(r, "Retry-After", retry_after);
    }
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result answer(struct kf_server *s, struct MHD_Connection *conn,
                              const struct item *it)
{
    if (it->a.kind == KF_DROP) {
        return MHD_NO;
    }
    if (it->a.kind == KF_HOLD) {
        pthread_mutex_lock(&s->mu);
        unsigned gen = s->release_gen;
        while (!s->stopping && s->release_gen == gen) {
            pthread_cond_wait(&s->cv, &s->mu);
        }
        pthread_mutex_unlock(&s->mu);
    }
    if (it->a.kind != KF_STREAM) {
        return reply(conn, it->a.status, it->a.body, it->a.retry_after);
    }
    struct stream_ref *ref = mp_xcalloc(1, sizeof(*ref));
    ref->s = s;
    ref->idx = it->stream;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, ref, free);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result ok = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct kf_server *s = cls;
    struct req_ctx *ctx = *con_cls;
    if (!ctx->started) {
        ctx->started = true;
        return MHD_YES;
    }
    if (*upload_size) {
        mp_buf_add(&ctx->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct kf_request *rec = mp_xmalloc(sizeof(*rec));
    *rec = (struct kf_request){
        .method = mp_xstrdup(method),
        .uri = mp_xstrdup(ctx->uri),
        .authorization = header(conn, "Authorization"),
        .content_type = header(conn, "Content-Type"),
        .body = mp_xstrndup(ctx->body.data ? ctx->body.data : "", ctx->body.len),
        .client_cn = client_cn(conn),
        .connection = ci ? (unsigned)(uintptr_t)ci->socket_context : 0,
    };
    pthread_mutex_lock(&s->mu);
    s->reqs = mp_xreallocarray(s->reqs, s->n_reqs + 1, sizeof(*s->reqs));
    s->reqs[s->n_reqs++] = rec;
    struct item it = {{KF_REPLY, s->def_status, s->def_body, NULL}, -1};
    if (s->next < s->n_script) {
        it = s->script[s->next++];
    }
    if (it.stream >= 0) {
        s->streams[it.stream].opened = true;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return answer(s, conn, &it);
}

struct kf_server *kf_start(enum kf_tls tls, const char *cert_dir)
{
    struct kf_server *s = mp_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->def_status = 599;
    s->def_body = mp_xstrdup("{\"kind\":\"Status\",\"message\":\"unscripted request\"}");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_OptionItem opts[8] = {
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_log, s},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_done, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
    };
    size_t n = 4;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
    if (tls != KF_HTTP) {
        const char *files[] = {"server.key", "server.crt", "ca.crt"};
        const enum MHD_OPTION kinds[] = {MHD_OPTION_HTTPS_MEM_KEY, MHD_OPTION_HTTPS_MEM_CERT,
                                         MHD_OPTION_HTTPS_MEM_TRUST};
        for (size_t i = 0; i < (tls == KF_HTTPS_CLIENT_CA ? 3u : 2u); i++) {
            char *path = mp_xasprintf("%s/%s", cert_dir, files[i]);
            s->pem[i] = kf_read(path);
            free(path);
            if (!s->pem[i]) {
                die("certificate files missing");
            }
            opts[n++] = (struct MHD_OptionItem){kinds[i], 0, s->pem[i]};
        }
        flags |= MHD_USE_TLS;
    }
    opts[n] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
                            MHD_OPTION_END);
    if (!s->d) {
        die("MHD_start_daemon");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(s->url, sizeof(s->url), "%s://127.0.0.1:%u", tls == KF_HTTP ? "http" : "https",
             (unsigned)info->port);
    return s;
}

const char *kf_url(const struct kf_server *s)
{
    return s->url;
}

void kf_stop(struct kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    MHD_stop_daemon(s->d);
    for (size_t i = 0; i < s->n_reqs; i++) {
        struct kf_request *r = s->reqs[i];
        free(r->method);
        free(r->uri);
        free(r->authorization);
        free(r->content_type);
        free(r->body);
        free(r->client_cn);
        free(r);
    }
    for (size_t i = 0; i < s->n_script; i++) {
        free((char *)s->script[i].a.body);
        free((char *)s->script[i].a.retry_after);
    }
    for (int i = 0; i < s->n_streams; i++) {
        mp_buf_release(&s->streams[i].data);
    }
    for (size_t i = 0; i < 3; i++) {
        free(s->pem[i]);
    }
    free(s->reqs);
    free(s->script);
    free(s->streams);
    free(s->def_body);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

static void push_item(struct kf_server *s, const struct kf_answer *a, int stream)
{
    pthread_mutex_lock(&s->mu);
    s->script = mp_xreallocarray(s->script, s->n_script + 1, sizeof(*s->script));
    struct item *it = &s->script[s->n_script++];
    it->a = *a;
    it->a.body = a->body ? mp_xstrdup(a->body) : NULL;
    it->a.retry_after = a->retry_after ? mp_xstrdup(a->retry_after) : NULL;
    it->stream = stream;
    pthread_mutex_unlock(&s->mu);
}

void kf_push(struct kf_server *s, int status, const char *body)
{
    struct kf_answer a = {KF_REPLY, status, body, NULL};
    push_item(s, &a, -1);
}

void kf_push_answer(struct kf_server *s, const struct kf_answer *a)
{
    push_item(s, a, -1);
}

int kf_push_stream(struct kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    int idx = s->n_streams++;
    s->streams = mp_xreallocarray(s->streams, (size_t)s->n_streams, sizeof(*s->streams));
    s->streams[idx] = (struct stream){.data = MP_BUF_INIT};
    pthread_mutex_unlock(&s->mu);
    struct kf_answer a = {KF_STREAM, 200, NULL, NULL};
    push_item(s, &a, idx);
    return idx;
}

static void stream_update(struct kf_server *s, int stream, const char *text, int what)
{
    pthread_mutex_lock(&s->mu);
    struct stream *st = &s->streams[stream];
    if (text) {
        mp_buf_adds(&st->data, text);
    }
    st->ended |= what == 1;
    st->dropped |= what == 2;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void kf_stream_send(struct kf_server *s, int stream, const char *text)
{
    stream_update(s, stream, text, 0);
}

void kf_stream_end(struct kf_server *s, int stream)
{
    stream_update(s, stream, NULL, 1);
}

void kf_stream_drop(struct kf_server *s, int stream)
{
    stream_update(s, stream, NULL, 2);
}

void kf_set_default(struct kf_server *s, int status, const char *body)
{
    pthread_mutex_lock(&s->mu);
    s->def_status = status;
    free(s->def_body);
    s->def_body = mp_xstrdup(body);
    pthread_mutex_unlock(&s->mu);
}

void kf_release(struct kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->release_gen++;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits under s->mu until done(s, arg) holds; aborts after a minute. */
static void wait_until(struct kf_server *s, bool (*done)(struct kf_server *, long), long arg)
{
    int64_t limit = mp_mono_ns() + WAIT_LIMIT_NS;
    pthread_mutex_lock(&s->mu);
    while (!done(s, arg)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        if (mp_mono_ns() > limit) {
            pthread_mutex_unlock(&s->mu);
            die("timed out waiting for the client");
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static bool have_requests(struct kf_server *s, long n)
{
    return s->n_reqs >= (size_t)n;
}

static bool stream_open(struct kf_server *s, long idx)
{
    return idx < s->n_streams && s->streams[idx].opened;
}

void kf_wait_requests(struct kf_server *s, size_t n)
{
    wait_until(s, have_requests, (long)n);
}

void kf_wait_stream(struct kf_server *s, int stream)
{
    wait_until(s, stream_open, stream);
}

size_t kf_count(struct kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n_reqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const struct kf_request *kf_req(struct kf_server *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const struct kf_request *r = i < s->n_reqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    if (!r) {
        die("no such request");
    }
    return r;
}

unsigned kf_connections(struct kf_server *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->connections;
    pthread_mutex_unlock(&s->mu);
    return n;
}
