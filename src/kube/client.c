/* SPDX-License-Identifier: Apache-2.0 */
/* The transport: a pool of libcurl handles (one multi handle each, so connections are reused
 * and a transfer can be woken by a cancel token from another thread), TLS from the
 * configuration, one deadline per call, and the retry policy documented in kube.h. */
#include "kube/kube_int.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POOL_MAX_IDLE 16

/* ---- libcurl, loaded by the first client (core.h: mp_dl_load) ---- */

/* Linked, libcurl's TLS, Kerberos and LDAP libraries cost every command about 3 MiB of resident
 * memory, `morphling load` included (bench/loadgen: 10.0 MiB with 1,000 connections). */
static struct {
    CURLcode (*global_init)(long flags);
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *e, CURLoption opt, ...);
    CURLcode (*easy_getinfo)(CURL *e, CURLINFO info, ...);
    void (*easy_reset)(CURL *e);
    void (*easy_cleanup)(CURL *e);
    const char *(*easy_strerror)(CURLcode code);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_add_handle)(CURLM *m, CURL *e);
    CURLMcode (*multi_remove_handle)(CURLM *m, CURL *e);
    CURLMcode (*multi_perform)(CURLM *m, int *running);
    CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd extra[], unsigned n, int timeout_ms,
                            int *ret);
    CURLMcode (*multi_wakeup)(CURLM *m);
    CURLMsg *(*multi_info_read)(CURLM *m, int *left);
    CURLMcode (*multi_cleanup)(CURLM *m);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
    void (*slist_free_all)(struct curl_slist *list);
    time_t (*getdate)(const char *date, const time_t *unused);
} cu;
static pthread_once_t cu_once = PTHREAD_ONCE_INIT;
static struct mp_error cu_err; /* why the load failed; code 0 when it did not */

#define CU(f)                                                                                      \
    {                                                                                              \
        "curl_" #f, (void **)&cu.f                                                                 \
    }
static void cu_load(void)
{
    const struct mp_dl_symbol syms[] = {
        CU(global_init),         CU(easy_init),       CU(easy_setopt),
        CU(easy_getinfo),        CU(easy_reset),      CU(easy_cleanup),
        CU(easy_strerror),       CU(multi_init),      CU(multi_add_handle),
        CU(multi_remove_handle), CU(multi_perform),   CU(multi_poll),
        CU(multi_wakeup),        CU(multi_info_read), CU(multi_cleanup),
        CU(slist_append),        CU(slist_free_all),  CU(getdate),
    };
    if (mp_dl_load("libcurl.so.4", syms, MP_ARRAY_LEN(syms), &cu_err) == 0 &&
        cu.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        mp_error_set(&cu_err, MP_ERUNTIME, "cannot initialise libcurl");
    }
}
#undef CU

struct slot {
    CURLM *multi;
    CURL *easy;
    struct slot *next;
};

struct mp_kube_client {
    struct mp_kube_config *cfg;
    struct mp_kube_client_opts o;
    char *user_agent;
    struct mp_kube_cred cred;
    pthread_mutex_t mu; /* pool and rng */
    struct slot *idle;
    unsigned n_idle;
    struct mp_rng rng;
    struct curl_slist *connect_to; /* the config's tls-server-name entry, or NULL */
};

struct mp_kube_cancel {
    pthread_mutex_t mu;
    bool fired;
    CURLM **waiting; /* multi handles of calls to wake */
    size_t n, cap;
};

/* ---- cancel tokens ---- */

struct mp_kube_cancel *mp_kube_cancel_new(void)
{
    struct mp_kube_cancel *t = mp_xcalloc(1, sizeof(*t));
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void mp_kube_cancel_fire(struct mp_kube_cancel *t)
{
    pthread_mutex_lock(&t->mu);
    t->fired = true;
    for (size_t i = 0; i < t->n; i++) {
        cu.multi_wakeup(t->waiting[i]);
    }
    pthread_mutex_unlock(&t->mu);
}

bool mp_kube_cancel_fired(struct mp_kube_cancel *t)
{
    if (!t) {
        return false;
    }
    pthread_mutex_lock(&t->mu);
    bool fired = t->fired;
    pthread_mutex_unlock(&t->mu);
    return fired;
}

void mp_kube_cancel_free(struct mp_kube_cancel *t)
{
    if (t) {
        pthread_mutex_destroy(&t->mu);
        free(t->waiting);
        free(t);
    }
}

static void cancel_attach(struct mp_kube_cancel *t, CURLM *m)
{
    if (!t) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4;
        t->waiting = mp_xreallocarray(t->waiting, t->cap, sizeof(*t->waiting));
    }
    t->waiting[t->n++] = m;
    pthread_mutex_unlock(&t->mu);
}

static void cancel_detach(struct mp_kube_cancel *t, CURLM *m)
{
    if (!t) {
        return;
    }
    pthread_mutex_lock(&t->mu);
    for (size_t i = 0; i < t->n; i++) {
        if (t->waiting[i] == m) {
            t->waiting[i] = t->waiting[--t->n];
            break;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

/* ---- client and pool ---- */

int mp_kube_client_new(struct mp_kube_config *cfg, const struct mp_kube_client_opts *o,
                       struct mp_kube_client **out, struct mp_error *err)
{
    pthread_once(&cu_once, cu_load);
    if (cu_err.code != 0) {
        mp_kube_config_free(cfg);
        return mp_error_set(err, cu_err.code, "%s", cu_err.msg);
    }
    struct mp_kube_client *c = mp_xcalloc(1, sizeof(*c));
    c->cfg = cfg;
    if (o) {
        c->o = *o;
    }
    c->o.timeout_ms = c->o.timeout_ms > 0 ? c->o.timeout_ms : 30000;
    c->o.max_attempts = c->o.max_attempts ? c->o.max_attempts : 10;
    c->o.backoff_initial_ms = c->o.backoff_initial_ms > 0 ? c->o.backoff_initial_ms : 250;
    c->o.backoff_max_ms = c->o.backoff_max_ms > 0 ? c->o.backoff_max_ms : 8000;
    c->o.max_body_bytes = c->o.max_body_bytes ? c->o.max_body_bytes : (size_t)256 << 20;
    c->user_agent = mp_xstrdup(c->o.user_agent ? c->o.user_agent : "morphling/" MP_VERSION);
    c->o.user_agent = NULL;
    mp_rng_init(&c->rng, c->o.seed);
    pthread_mutex_init(&c->mu, NULL);
    mp_kube_cred_init(&c->cred, cfg, c->o.wall_clock, c->o.clock_ud);
    if (cfg->connect_to) {
        c->connect_to = cu.slist_append(NULL, cfg->connect_to);
    }
    *out = c;
    return 0;
}

static void slot_free(struct slot *s)
{
    cu.easy_cleanup(s->easy);
    cu.multi_cleanup(s->multi);
    free(s);
}

void mp_kube_client_free(struct mp_kube_client *c)
{
    if (!c) {
        return;
    }
    while (c->idle) {
        struct slot *s = c->idle;
        c->idle = s->next;
        slot_free(s);
    }
    mp_kube_cred_release(&c->cred);
    pthread_mutex_destroy(&c->mu);
    mp_kube_config_free(c->cfg);
    cu.slist_free_all(c->connect_to);
    free(c->user_agent);
    free(c);
}

const struct mp_kube_config *mp_kube_client_config(const struct mp_kube_client *c)
{
    return c->cfg;
}

int64_t mp_kube_default_timeout_ms(const struct mp_kube_client *c)
{
    return c->o.timeout_ms;
}

static struct slot *pool_get(struct mp_kube_client *c)
{
    pthread_mutex_lock(&c->mu);
    struct slot *s = c->idle;
    if (s) {
        c->idle = s->next;
        c->n_idle--;
    }
    pthread_mutex_unlock(&c->mu);
    if (!s) {
        s = mp_xcalloc(1, sizeof(*s));
        s->multi = cu.multi_init();
        s->easy = cu.easy_init();
        if (!s->multi || !s->easy) {
            fprintf(stderr, "morphling: libcurl: out of memory\n");
            abort();
        }
    }
    return s;
}

static void pool_put(struct mp_kube_client *c, struct slot *s)
{
    pthread_mutex_lock(&c->mu);
    if (c->n_idle < POOL_MAX_IDLE) {
        s->next = c->idle;
        c->idle = s;
        c->n_idle++;
        s = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (s) {
        slot_free(s);
    }
}

int64_t mp_kube_backoff_ms(struct mp_kube_client *c, unsigned attempt)
{
    int64_t d = c->o.backoff_initial_ms;
    for (unsigned i = 1; i < attempt && d < c->o.backoff_max_ms; i++) {
        d *= 2;
    }
    d = d < c->o.backoff_max_ms ? d : c->o.backoff_max_ms;
    pthread_mutex_lock(&c->mu);
    double u = mp_rng_uniform(&c->rng);
    pthread_mutex_unlock(&c->mu);
    return d / 2 + (int64_t)(u * (double)(d - d / 2)); /* "equal jitter": [d/2, d] */
}

static int pause_on(struct mp_kube_client *c, CURLM *m, struct mp_kube_cancel *cancel,
                    int64_t delay_ms)
{
    if (c->o.sleep) {
        return c->o.sleep(c->o.sleep_ud, delay_ms) == 0 && !mp_kube_cancel_fired(cancel)
                   ? 0
                   : MP_ECANCELLED;
    }
    int64_t until = mp_mono_ns() + delay_ms * 1000000;
    cancel_attach(cancel, m);
    int rc = 0;
    for (;;) {
        if (mp_kube_cancel_fired(cancel)) {
            rc = MP_ECANCELLED;
            break;
        }
        int64_t left_ms = (until - mp_mono_ns() + 999999) / 1000000;
        if (left_ms <= 0) {
            break;
        }
        cu.multi_poll(m, NULL, 0, left_ms > 1000 ? 1000 : (int)left_ms, NULL);
    }
    cancel_detach(cancel, m);
    return rc;
}

int mp_kube_pause(struct mp_kube_client *c, struct mp_kube_cancel *cancel, int64_t delay_ms)
{
    struct slot *s = pool_get(c);
    int rc = pause_on(c, s->multi, cancel, delay_ms);
    pool_put(c, s);
    return rc;
}

/* ---- one try ---- */

enum outcome {
    ANSWERED, /* an HTTP answer came (any status) */
    NOT_SENT, /* the connection could not be made: the server cannot have acted */
    LOST,     /* sent, but the answer was lost: the server may have acted */
    FAILED,   /* not worth retrying */
};

struct xfer {
    const struct mp_kube_req *r;
    struct mp_buf *body;
    size_t max_body;
    int64_t deadline_ns;
    int64_t stream_ms;
    bool streaming;      /* a 2xx watch body is flowing into the decoder */
    bool stream_expired; /* its time is up: a normal end */
    int local_rc;        /* why we stopped the transfer ourselves */
    long status;
    int64_t retry_after_ms;
    struct mp_error *err;
    CURL *easy;
    char errbuf[CURL_ERROR_SIZE];
};

static int64_t parse_retry_after(const char *v)
{
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    char *end;
    long long s = strtoll(v, &end, 10);
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') {
        end++;
    }
    if (end != v && *end == '\0' && s >= 0) {
        return s > 86400 ? 86400000 : s * 1000;
    }
    char date[128];
    snprintf(date, sizeof(date), "%s", v);
    time_t t = cu.getdate(date, NULL);
    if (t < 0) {
        return -1;
    }
    int64_t ms = ((int64_t)t * 1000000000 - mp_wall_ns()) / 1000000;
    return ms > 0 ? ms : 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        x->retry_after_ms = -1;
    } else if (len > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        char *v = mp_xstrndup(buf + 12, len - 12);
        x->retry_after_ms = parse_retry_after(v);
        free(v);
    } else if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        cu.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (x->r->watch && code >= 200 && code < 300) {
            x->streaming = true;
            x->deadline_ns = x->stream_ms ? mp_mono_ns() + x->stream_ms * 1000000 : 0;
        }
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->streaming) {
        int rc = mp_kube_wdec_feed(x->r->watch, data, len, x->err);
        if (rc != 0) {
            x->local_rc = rc;
            return 0;
        }
        return len;
    }
    if (len > x->max_body - x->body->len) {
        x->local_rc = mp_error_set(x->err, MP_ETOOBIG, "%s %s: the answer is larger than %zu bytes",
                                   x->r->verb, x->r->path, x->max_body);
        return 0;
    }
    mp_buf_add(x->body, data, len);
    return len;
}

static struct curl_slist *headers(const struct mp_kube_req *r, const struct mp_kube_auth_snap *a)
{
    struct curl_slist *h = cu.slist_append(NULL, "Accept: application/json");
    h = cu.slist_append(h, "Expect:");
    if (r->content_type) {
        char *ct = mp_xasprintf("Content-Type: %s", r->content_type);
        h = cu.slist_append(h, ct);
        free(ct);
    }
    if (a->token) {
        char *auth = mp_xasprintf("Authorization: Bearer %s", a->token);
        h = cu.slist_append(h, auth);
        free(auth);
    }
    return h;
}

static void set_blob(CURL *e, CURLoption opt, const void *data, size_t len)
{
    struct curl_blob b = {(void *)data, len, CURL_BLOB_COPY};
    cu.easy_setopt(e, opt, &b);
}

static void setup_tls(struct mp_kube_client *c, CURL *e, const struct mp_kube_auth_snap *a)
{
    const struct mp_kube_config *cfg = c->cfg;
    if (cfg->insecure) {
        cu.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        cu.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_data.len) {
        /* The cluster's CA alone is trusted, as kubectl does. */
        cu.easy_setopt(e, CURLOPT_CAPATH, NULL);
        set_blob(e, CURLOPT_CAINFO_BLOB, cfg->ca_data.data, cfg->ca_data.len);
    }
    const char *cert = a->cert_pem, *key = a->key_pem;
    size_t cert_len = cert ? strlen(cert) : 0, key_len = key ? strlen(key) : 0;
    if (!cert && cfg->cert_data.len) {
        cert = (const char *)cfg->cert_data.data;
        cert_len = cfg->cert_data.len;
        key = (const char *)cfg->key_data.data;
        key_len = cfg->key_data.len;
    }
    if (cert) {
        cu.easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        set_blob(e, CURLOPT_SSLCERT_BLOB, cert, cert_len);
        cu.easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
        set_blob(e, CURLOPT_SSLKEY_BLOB, key, key_len);
    }
    if (c->connect_to) {
        cu.easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
    }
    if (cfg->proxy_url) {
        /* Always, as client-go: libcurl would otherwise skip it for hosts in $no_proxy. */
        cu.easy_setopt(e, CURLOPT_PROXY, cfg->proxy_url);
        cu.easy_setopt(e, CURLOPT_NOPROXY, "");
    }
}

static void setup(struct mp_kube_client *c, struct xfer *x, struct curl_slist *h,
                  const struct mp_kube_auth_snap *a)
{
    const struct mp_kube_req *r = x->r;
    CURL *e = x->easy;
    cu.easy_reset(e);
    const char *base = c->cfg->tls_url ? c->cfg->tls_url : c->cfg->server;
    char *url = mp_xasprintf("%s%s%s", base, r->path, r->query ? r->query : "");
    cu.easy_setopt(e, CURLOPT_URL, url);
    free(url);
    cu.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    cu.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    cu.easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    cu.easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    cu.easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    cu.easy_setopt(e, CURLOPT_HTTPHEADER, h);
    cu.easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    cu.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    cu.easy_setopt(e, CURLOPT_HEADERDATA, x);
    cu.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    cu.easy_setopt(e, CURLOPT_WRITEDATA, x);
    if (strcmp(r->method, "GET") != 0) {
        cu.easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    if (!r->idempotent) {
        /* libcurl resends a request on a new connection, whatever its method, when a reused
         * one dies before any answer: only a fresh connection keeps a create from being sent
         * twice behind our back. */
        cu.easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (r->body || strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
        strcmp(r->method, "PATCH") == 0) {
        /* Without a body these still send "Content-Length: 0". */
        cu.easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        cu.easy_setopt(e, CURLOPT_POSTFIELDS, r->body ? r->body : "");
    }
    setup_tls(c, e, a);
}

/* Drives the transfer on the slot's multi handle until it ends, the deadline passes or the
 * cancel token fires. */
static CURLcode run(struct slot *s, struct xfer *x, struct mp_kube_cancel *cancel)
{
    CURLcode cc = CURLE_OK;
    cu.multi_add_handle(s->multi, s->easy);
    cancel_attach(cancel, s->multi);
    for (;;) {
        int running = 0;
        cu.multi_perform(s->multi, &running);
        if (!running || x->local_rc) {
            break;
        }
        if (mp_kube_cancel_fired(cancel)) {
            x->local_rc =
                mp_error_set(x->err, MP_ECANCELLED, "%s %s: cancelled", x->r->verb, x->r->path);
            break;
        }
        int64_t now = mp_mono_ns(), wait_ms = 1000;
        if (x->deadline_ns && now >= x->deadline_ns) {
            x->stream_expired = x->streaming;
            x->local_rc = x->streaming ? 0 : MP_EDEADLINE;
            break;
        }
        if (x->deadline_ns) {
            int64_t left = (x->deadline_ns - now) / 1000000 + 1;
            wait_ms = left < wait_ms ? left : wait_ms;
        }
        cu.multi_poll(s->multi, NULL, 0, (int)wait_ms, NULL);
    }
    int left;
    CURLMsg *m;
    while ((m = cu.multi_info_read(s->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE) {
            cc = m->data.result;
        }
    }
    cancel_detach(cancel, s->multi);
    cu.multi_remove_handle(s->multi, s->easy);
    cu.easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &x->status);
    return cc;
}

static enum outcome classify(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
        return NOT_SENT;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_OPERATION_TIMEDOUT:
        return LOST;
    default:
        return FAILED;
    }
}

static int transport_error(struct mp_kube_client *c, struct xfer *x, CURLcode cc)
{
    const char *detail = x->errbuf[0] ? x->errbuf : cu.easy_strerror(cc);
    char *hint = NULL;
    if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
        /* Name where the cluster is defined: with a $KUBECONFIG list, which file to fix. */
        hint = c->cfg->in_cluster ? mp_xasprintf(" (check %s)", c->cfg->tls_where)
                                  : mp_xasprintf(" (check the certificate-authority%s or "
                                                 "insecure-skip-tls-verify of %s)",
                                                 c->cfg->tls_server_name ? ", tls-server-name" : "",
                                                 c->cfg->tls_where);
    } else if ((cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST) &&
               !c->cfg->in_cluster && c->cfg->tls_where) {
        /* Which kubeconfig's server: with a $KUBECONFIG list or a stale context, what to fix. */
        hint = mp_xasprintf(" (the server of %s)", c->cfg->tls_where);
    } else if (cc == CURLE_SSL_CERTPROBLEM && c->cfg->cert_where) {
        /* The client certificate or key cannot be used (not a pair, a key curl cannot read). */
        hint = mp_xasprintf(" (check the client-certificate and client-key of %s)",
                            c->cfg->cert_where);
    }
    int rc = mp_error_set(x->err, MP_ETRANSPORT, "%s %s: %s: %s%s", x->r->verb, x->r->path,
                          c->cfg->server, detail, hint ? hint : "");
    free(hint);
    return rc;
}

static int attempt(struct mp_kube_client *c, struct slot *s, struct xfer *x,
                   struct mp_kube_cancel *cancel, struct mp_kube_auth_snap *a, enum outcome *oc)
{
    *oc = FAILED;
    int rc = mp_kube_cred_get(&c->cred, x->deadline_ns, a, x->err);
    if (rc != 0 && rc != MP_EDEADLINE && rc != MP_ECANCELLED) {
        /* No credentials to send (an exec plugin that fails, a token file gone): the call is
         * unauthenticated, as a 401 says, so that callers stop on it rather than retrying. */
        if (x->err) {
            x->err->code = MP_EUNAUTHORIZED;
        }
        return MP_EUNAUTHORIZED;
    }
    if (rc != 0) {
        return rc;
    }
    if (mp_kube_cancel_fired(cancel)) {
        /* Cancelled while the credentials were had (an exec plugin run can take the call's
         * whole deadline): a caller that has since lost its Lease must not write. */
        return mp_error_set(x->err, MP_ECANCELLED, "%s %s: cancelled", x->r->verb, x->r->path);
    }
    struct curl_slist *h = headers(x->r, a);
    x->easy = s->easy;
    setup(c, x, h, a);
    CURLcode cc = run(s, x, cancel);
    cu.slist_free_all(h);
    if (x->stream_expired || (x->streaming && cc != CURLE_OK && !x->local_rc)) {
        *oc = ANSWERED; /* the open watch ended: its time was up, or the connection dropped */
        return mp_kube_wdec_finish(x->r->watch, x->err);
    }
    if (x->local_rc) {
        if (x->local_rc == MP_EDEADLINE) {
            mp_error_set(x->err, MP_EDEADLINE, "%s %s: no answer within the deadline", x->r->verb,
                         x->r->path);
        }
        return x->local_rc;
    }
    if (cc != CURLE_OK) {
        *oc = classify(cc);
        return transport_error(c, x, cc);
    }
    *oc = ANSWERED;
    if (x->status >= 200 && x->status < 300) {
        return x->streaming ? mp_kube_wdec_finish(x->r->watch, x->err) : 0;
    }
    int64_t ra_s;
    rc = mp_kube_status_error(x->r->verb, x->r->path, x->status, x->body->data, x->body->len, &ra_s,
                              x->err);
    if (x->retry_after_ms < 0 && ra_s >= 0) {
        x->retry_after_ms = ra_s * 1000;
    }
    return rc;
}

/* ---- retries ---- */

static void append(struct mp_error *err, const char *fmt, ...) MP_PRINTF(2, 3);
static void append(struct mp_error *err, const char *fmt, ...)
{
    if (!err) {
        return;
    }
    size_t n = strlen(err->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
    va_end(ap);
}

static bool retryable(const struct mp_kube_req *r, const struct mp_kube_opts *o, enum outcome oc,
                      long status)
{
    bool server_error = status == 500 || status == 502 || status == 503 || status == 504;
    if (oc == NOT_SENT || (oc == ANSWERED && status == 429)) {
        return true;
    }
    return (oc == LOST || (oc == ANSWERED && server_error)) && (r->idempotent || o->retry_unsafe);
}

struct call {
    unsigned tries;
    bool refreshed;
    bool maybe_applied;
    long status;
};

/* After a failed try: 1 to try again (after waiting), 0 to stop with the try's error. */
static int next_try(struct mp_kube_client *c, struct slot *s, const struct mp_kube_req *r,
                    const struct mp_kube_opts *o, struct call *call, const struct xfer *x,
                    enum outcome oc, struct mp_kube_auth_snap *a, int64_t deadline_ns)
{
    if (oc == ANSWERED && x->status == 401 && a->refreshable && !call->refreshed) {
        mp_kube_cred_invalidate(&c->cred, a->gen);
        call->refreshed = true;
        return 1;
    }
    if (!retryable(r, o, oc, x->status)) {
        return 0;
    }
    if (call->tries >= c->o.max_attempts) {
        if (call->tries > 1) {
            append(x->err, " (gave up after %u tries)", call->tries);
        }
        return 0;
    }
    int64_t delay = x->retry_after_ms >= 0 ? x->retry_after_ms : mp_kube_backoff_ms(c, call->tries);
    if (mp_mono_ns() + delay * 1000000 >= deadline_ns) {
        append(x->err, " (not retried: waiting %lld ms would pass the call's deadline)",
               (long long)delay);
        return 0;
    }
    if (!r->idempotent && oc != NOT_SENT && x->status != 429) {
        call->maybe_applied = true;
    }
    if (pause_on(c, s->multi, o->cancel, delay) != 0) {
        mp_error_set(x->err, MP_ECANCELLED, "%s %s: cancelled", r->verb, r->path);
        return -1;
    }
    return 1;
}

int mp_kube_send(struct mp_kube_client *c, const struct mp_kube_req *r,
                 const struct mp_kube_opts *o, struct mp_buf *body, struct mp_error *err)
{
    static const struct mp_kube_opts none = {0};
    o = o ? o : &none;
    int64_t timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : c->o.timeout_ms;
    int64_t deadline_ns = mp_mono_ns() + timeout_ms * 1000000;
    struct mp_buf scratch = MP_BUF_INIT;
    struct slot *s = pool_get(c);
    struct call call = {0};
    int rc, more;
    do {
        if (mp_kube_cancel_fired(o->cancel)) {
            rc = mp_error_set(err, MP_ECANCELLED, "%s %s: cancelled", r->verb, r->path);
            break;
        }
        struct xfer x = {.r = r,
                         .body = body ? body : &scratch,
                         .max_body = c->o.max_body_bytes,
                         .deadline_ns = deadline_ns,
                         .stream_ms = r->stream_ms,
                         .retry_after_ms = -1,
                         .err = err};
        mp_buf_reset(x.body);
        struct mp_kube_auth_snap a;
        enum outcome oc;
        call.tries++;
        rc = attempt(c, s, &x, o->cancel, &a, &oc);
        call.status = x.status;
        more = rc == 0 ? 0 : next_try(c, s, r, o, &call, &x, oc, &a, deadline_ns);
        rc = more < 0 ? MP_ECANCELLED : rc;
        mp_kube_auth_snap_release(&a);
    } while (more > 0);
    pool_put(c, s);
    mp_buf_release(&scratch);
    if (rc == MP_EUNAUTHORIZED && call.status == 401) {
        /* Which credentials: with a $KUBECONFIG list or several users, where to look. */
        append(err, " (%s)", c->cfg->auth_note ? c->cfg->auth_note : "no credentials were sent");
    } else if (rc == MP_EFORBIDDEN && strstr(err->msg, "User \"system:anonymous\"")) {
        /* A server that admits anonymous requests refuses them with 403 instead of the 401:
         * the credentials are what to fix, not only RBAC. */
        append(err, " (as system:anonymous: %s)",
               c->cfg->auth_note ? c->cfg->auth_note : "no credentials were sent");
    }
    if (rc == MP_EEXISTS && call.maybe_applied) {
        append(err, " (an earlier try whose answer was lost may have created it)");
    }
    if (o->info) {
        *o->info = (struct mp_kube_info){(int)call.status, call.tries, call.maybe_applied};
    }
    return rc;
}
