/* SPDX-License-Identifier: Apache-2.0 */
/* Building a client: URL parsing, name resolution, option checks and the preformatted request
 * buffers (one per body file), so the hot path only ever copies bytes it already has. */
#include "loadgen/lg_int.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#define MAX_BODY_TOTAL (UINT64_C(64) << 20)
#define MAX_THREADS    256
#define MAX_CONNS      100000
#define SPARE_FDS      16 /* beside the sockets and epoll sets: stdio, files, the caller's own */

/* The request target from p (the path and query of url, up to a '#'): bytes that a URI may not
 * hold as they are (non-ASCII, such as UTF-8 text, and "<>\\^`{|}) are percent-encoded, as
 * browsers and curl send them (RFC 3986). */
static int url_target(const char *url, const char *p, struct mp_lg_url *out, struct mp_error *err)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t path_len = strcspn(p, "#");
    size_t off = 0;
    if (*p != '/') {
        out->path[off++] = '/';
    }
    for (size_t i = 0; i < path_len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= ' ' || c == 0x7f) {
            return mp_error_set(err, MP_EINVALID, "'%s': spaces or control characters in path",
                                url);
        }
        bool encode = c >= 0x80 || strchr("\"<>\\^`{|}", c);
        if (off + (encode ? 3 : 1) >= sizeof(out->path)) {
            return mp_error_set(err, MP_ETOOBIG, "'%s': path longer than %zu bytes", url,
                                sizeof(out->path) - 1);
        }
        if (encode) {
            out->path[off++] = '%';
            out->path[off++] = hex[c >> 4];
            out->path[off++] = hex[c & 15];
        } else {
            out->path[off++] = (char)c;
        }
    }
    out->path[off] = '\0';
    return 0;
}

int mp_lg_url_parse(const char *url, struct mp_lg_url *out, struct mp_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!url || !*url) {
        return mp_error_set(err, MP_EINVALID, "empty URL");
    }
    const char *p = url;
    if (strncasecmp(p, "https://", 8) == 0) { /* schemes are case-insensitive (RFC 3986 §3.1) */
        return mp_error_set(err, MP_EINVALID, "'%s': https is not supported (use http://)", url);
    }
    if (strncasecmp(p, "http://", 7) == 0) {
        p += 7;
    } else if (strstr(p, "://")) {
        return mp_error_set(err, MP_EINVALID, "'%s': only http:// URLs are supported", url);
    }
    const char *at = strchr(p, '@');
    if (at && at < p + strcspn(p, "/?#")) {
        return mp_error_set(err, MP_EINVALID,
                            "'%s': credentials in the URL (user@host) are not supported; send an "
                            "Authorization header instead",
                            url);
    }
    const char *host_end;
    const char *host = p;
    if (*p == '[') { /* IPv6 literal */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end) {
            return mp_error_set(err, MP_EINVALID, "'%s': unterminated '[' in host", url);
        }
        p = host_end + 1;
    } else {
        host_end = p + strcspn(p, ":/?#");
        p = host_end;
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof(out->host)) {
        return mp_error_set(err, MP_EINVALID, "'%s': missing or overlong host", url);
    }
    memcpy(out->host, host, hl);
    out->host[hl] = '\0';
    /* An IPv6 zone is written "%25eth0" in a URL (RFC 6874), "%eth0" to the resolver. */
    char *zone = *host_end == ']' ? strstr(out->host, "%25") : NULL;
    if (zone) {
        memmove(zone + 1, zone + 3, strlen(zone + 3) + 1);
        hl -= 2;
    }
    for (size_t i = 0; i < hl; i++) {
        char c = out->host[i];
        if ((unsigned char)c <= ' ' || c == '@' || c == '\\' || c == '"') {
            return mp_error_set(err, MP_EINVALID, "'%s': invalid character in host", url);
        }
    }
    memcpy(out->port, "80", 3);
    if (*p == ':') {
        p++;
        /* Any run of digits, leading zeros included (RFC 3986 §3.2.3: port = *DIGIT). */
        size_t pl = strspn(p, "0123456789");
        size_t zeros = strspn(p, "0");
        zeros = zeros < pl ? zeros : pl;
        long port = pl > 0 && pl - zeros <= 5 ? strtol(p + zeros, NULL, 10) : 0;
        if (port <= 0 || port > 65535) {
            return mp_error_set(err, MP_EINVALID, "'%s': invalid port", url);
        }
        snprintf(out->port, sizeof(out->port), "%ld", port);
        p += pl;
    }
    if (*p && *p != '/' && *p != '?' && *p != '#') { /* the authority's ends (RFC 3986 §3.2) */
        return mp_error_set(err, MP_EINVALID, "'%s': unexpected '%c' after the host", url, *p);
    }
    return url_target(url, p, out, err);
}

bool mp_lg_framing_header(const char *name, size_t len)
{
    return (len == 14 && strncasecmp(name, "Content-Length", len) == 0) ||
           (len == 17 && strncasecmp(name, "Transfer-Encoding", len) == 0);
}

static int check_header(const char *h, struct mp_error *err)
{
    const char *colon = strchr(h, ':');
    if (!colon || colon == h) {
        return mp_error_set(err, MP_EINVALID, "header '%s': expected 'Name: value'", h);
    }
    if (mp_lg_framing_header(h, (size_t)(colon - h))) {
        return mp_error_set(err, MP_EINVALID,
                            "header '%s': the load generator frames each request itself "
                            "(Content-Length from the body); leave it out",
                            h);
    }
    for (const char *c = h; *c; c++) {
        bool ok = c < colon ? mp_lg_is_tchar(*c)
                            : c == colon || *c == '\t' || ((unsigned char)*c >= 0x20 && *c != 0x7f);
        if (!ok) {
            return mp_error_set(err, MP_EINVALID, "header '%s': invalid character 0x%02x in its %s",
                                h, (unsigned char)*c, c < colon ? "name" : "value");
        }
    }
    return 0;
}

static bool has_header(const struct mp_lg_opts *o, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < o->n_headers; i++) {
        if (strncasecmp(o->headers[i], name, nl) == 0 && o->headers[i][nl] == ':') {
            return true;
        }
    }
    return false;
}

/* A Connection header of the user's whose list holds "close": the client sends no other request
 * on a connection after one saying so (RFC 9112 §9.6), whatever the server answers. */
static bool asks_close(const struct mp_lg_opts *o)
{
    for (size_t i = 0; i < o->n_headers; i++) {
        const char *h = o->headers[i];
        if (strncasecmp(h, "Connection:", 11) != 0) {
            continue;
        }
        for (const char *p = h + 11; *p;) {
            p += strspn(p, " \t,");
            size_t len = strcspn(p, " \t,");
            if (len == 5 && strncasecmp(p, "close", 5) == 0) {
                return true;
            }
            p += len;
        }
    }
    return false;
}

static void format_request(const struct mp_lg_opts *o, const struct mp_lg *lg, const char *method,
                           const struct mp_buf *body, struct lg_request *out)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_addf(&b, "%s %s HTTP/1.1\r\n", method, lg->url.path);
    if (!has_header(o, "Host")) {
        /* An IPv6 zone ("%eth0") names this machine's interface: it stays out of Host. */
        bool v6 = strchr(lg->url.host, ':') != NULL;
        mp_buf_addf(&b, "Host: %s%.*s%s", v6 ? "[" : "", (int)strcspn(lg->url.host, "%"),
                    lg->url.host, v6 ? "]" : "");
        mp_buf_adds(&b, strcmp(lg->url.port, "80") == 0 ? "" : ":");
        mp_buf_adds(&b, strcmp(lg->url.port, "80") == 0 ? "" : lg->url.port);
        mp_buf_adds(&b, "\r\n");
    }
    for (size_t i = 0; i < o->n_headers; i++) {
        mp_buf_addf(&b, "%s\r\n", o->headers[i]);
    }
    if (body) {
        mp_buf_addf(&b, "Content-Length: %zu\r\n\r\n", body->len);
        mp_buf_add(&b, body->data ? body->data : "", body->len);
    } else {
        mp_buf_adds(&b, "\r\n");
    }
    out->len = b.len;
    out->data = mp_buf_detach(&b);
}

static int build_requests(const struct mp_lg_opts *o, struct mp_lg *lg, struct mp_error *err)
{
    const char *method = o->method ? o->method : (o->n_body_files ? "POST" : "GET");
    bool token = *method != '\0';
    for (const char *c = method; *c; c++) {
        token = token && mp_lg_is_tchar(*c);
    }
    if (!token) {
        return mp_error_set(err, MP_EINVALID,
                            "invalid method '%s' (letters, digits, !#$%%&'*+-.^_`|~)", method);
    }
    lg->head = strcmp(method, "HEAD") == 0;
    lg->close_each = asks_close(o);
    size_t n = o->n_body_files ? o->n_body_files : 1;
    lg->requests = mp_xcalloc(n, sizeof(*lg->requests));
    lg->n_requests = n;
    if (!o->n_body_files) {
        format_request(o, lg, method, NULL, &lg->requests[0]);
        return 0;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct mp_buf body = MP_BUF_INIT;
        int rc = mp_buf_read_input(&body, o->body_files[i], MAX_BODY_TOTAL, err);
        if (rc < 0) {
            mp_buf_release(&body);
            return mp_error_prefix(err, rc, "body file");
        }
        total += body.len;
        if (total > MAX_BODY_TOTAL) {
            mp_buf_release(&body);
            return mp_error_set(err, MP_ETOOBIG, "body files exceed 64 MiB in all");
        }
        format_request(o, lg, method, &body, &lg->requests[i]);
        mp_buf_release(&body);
    }
    return 0;
}

static int resolve(struct mp_lg *lg, struct mp_error *err)
{
    struct addrinfo hints = {0};
    struct addrinfo *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(lg->url.host, lg->url.port, &hints, &res);
    if (rc != 0 || !res) {
        return mp_error_set(err, MP_ENOTFOUND, "cannot resolve host '%s': %s", lg->url.host,
                            rc ? gai_strerror(rc) : "no address");
    }
    memcpy(&lg->addr, res->ai_addr, res->ai_addrlen);
    lg->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int check_opts(const struct mp_lg_opts *o, struct mp_error *err)
{
    if (o->threads > MAX_THREADS) {
        return mp_error_set(err, MP_EINVALID, "threads: %u is over %d", o->threads, MAX_THREADS);
    }
    if (o->connections > MAX_CONNS) {
        return mp_error_set(err, MP_EINVALID, "connections: %u is over %d", o->connections,
                            MAX_CONNS);
    }
    if (o->connections && o->threads > o->connections) {
        return mp_error_set(err, MP_EINVALID, "connections (%u) must be at least threads (%u)",
                            o->connections, o->threads);
    }
    if (!(o->rate_rps >= 0) || o->rate_rps > 1e8) {
        return mp_error_set(err, MP_EINVALID, "rate must be between 0 and 1e8 requests/s");
    }
    if (o->timeout_ns < 0 || o->late_threshold_ns < 0) {
        return mp_error_set(err, MP_EINVALID, "timeouts must not be negative");
    }
    if (o->expect_status && (o->expect_status < 100 || o->expect_status > 999)) {
        return mp_error_set(err, MP_EINVALID, "expected status %d is not an HTTP status",
                            o->expect_status);
    }
    if (o->expect_status && o->expect_status < 200) {
        /* Interim responses are skipped (101 is a parse error): every request would fail. */
        return mp_error_set(err, MP_EINVALID,
                            "expected status %d is an interim (1xx) response, never the final one",
                            o->expect_status);
    }
    bool head = o->method && strcmp(o->method, "HEAD") == 0;
    if (o->expect_body && *o->expect_body &&
        (head || o->expect_status == 204 || o->expect_status == 304)) {
        return mp_error_set(err, MP_EINVALID,
                            "expected body text can never be found: %s response has no body",
                            head                      ? "a HEAD"
                            : o->expect_status == 204 ? "a 204"
                                                      : "a 304");
    }
    for (size_t i = 0; i < o->n_headers; i++) {
        int rc = check_header(o->headers[i], err);
        if (rc < 0) {
            return rc;
        }
    }
    return 0;
}

unsigned mp_lg_max_connections(unsigned threads)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
        rl.rlim_max >= (rlim_t)MAX_CONNS + threads + SPARE_FDS) {
        return MAX_CONNS;
    }
    rlim_t spare = (rlim_t)threads + SPARE_FDS;
    return rl.rlim_max > spare ? (unsigned)(rl.rlim_max - spare) : 1;
}

/* The descriptors that this process's live load generators hold (the load tests of parallel
 * trials): each new one's need counts on top of theirs. */
static pthread_mutex_t fds_lock = PTHREAD_MUTEX_INITIALIZER;
static rlim_t fds_reserved;

static int raise_fds(rlim_t need, unsigned connections, struct mp_error *err)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return 0; /* unknown: the run shows it */
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
        return 0;
    }
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        return mp_error_set(err, MP_EINVALID,
                            "%u connections need %llu open files%s, over this process's limit of "
                            "%llu (ulimit -n): use fewer connections or raise the limit",
                            connections, (unsigned long long)need,
                            fds_reserved ? " with the load tests running beside it" : "",
                            (unsigned long long)rl.rlim_max);
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        return mp_error_set(err, -errno,
                            "cannot raise the open-file limit to %llu for %u "
                            "connections",
                            (unsigned long long)need, connections);
    }
    return 0;
}

/* Every connection needs a descriptor: raise the soft open-file limit as far as the hard one
 * allows, or refuse before the run rather than count the local shortage (EMFILE) as the
 * service's connect errors; with the other load generators' descriptors counted (each checked
 * its own alone, and parallel trials' load tests ran out together). On success lg holds its
 * share until mp_lg_free. */
static int ensure_fds(struct mp_lg *lg, struct mp_error *err)
{
    rlim_t own = (rlim_t)lg->connections + lg->threads;
    pthread_mutex_lock(&fds_lock);
    int rc = raise_fds(fds_reserved + own + SPARE_FDS, lg->connections, err);
    if (rc == 0) {
        fds_reserved += own;
        lg->fds = own;
    }
    pthread_mutex_unlock(&fds_lock);
    return rc;
}

int mp_lg_new(const struct mp_lg_opts *o, struct mp_lg **out, struct mp_error *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc < 0) {
        return rc;
    }
    struct mp_lg *lg = mp_xcalloc(1, sizeof(*lg));
    rc = mp_lg_url_parse(o->url, &lg->url, err);
    if (rc < 0) {
        goto out;
    }
    if (o->expect_body && *o->expect_body) {
        rc = mp_lg_http_needle_init(&lg->needle, o->expect_body, err);
        if (rc < 0) {
            goto out;
        }
        lg->has_needle = true;
    }
    lg->limits = o->limits;
    lg->threads = o->threads ? o->threads : 1;
    lg->cpu_mask = o->cpu_mask;
    lg->connections = o->connections ? o->connections : 10;
    if (lg->connections < lg->threads) {
        lg->connections = lg->threads;
    }
    rc = ensure_fds(lg, err);
    if (rc < 0) {
        goto out;
    }
    lg->rate_rps = o->rate_rps;
    lg->arrival = o->arrival;
    lg->timeout_ns = o->timeout_ns ? o->timeout_ns : INT64_C(2000000000);
    lg->late_threshold_ns = o->late_threshold_ns ? o->late_threshold_ns : INT64_C(1000000);
    lg->expect_status = o->expect_status;
    lg->seed = o->seed ? o->seed : 0x6d6f7270686cULL;
    rc = build_requests(o, lg, err);
    if (rc < 0) {
        goto out;
    }
    rc = resolve(lg, err);
out:
    if (rc < 0) {
        mp_lg_free(lg);
        return rc;
    }
    *out = lg;
    return 0;
}

void mp_lg_free(struct mp_lg *lg)
{
    if (!lg) {
        return;
    }
    pthread_mutex_lock(&fds_lock);
    fds_reserved -= lg->fds;
    pthread_mutex_unlock(&fds_lock);
    for (size_t i = 0; i < lg->n_requests; i++) {
        free(lg->requests[i].data);
    }
    free(lg->requests);
    free(lg);
}

void mp_lg_set_rate(struct mp_lg *lg, double rate_rps)
{
    lg->rate_rps = rate_rps > 0 ? rate_rps : 0;
}
