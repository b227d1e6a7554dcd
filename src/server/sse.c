/* SPDX-License-Identifier: Apache-2.0 */
/* Server-Sent Events: each stream polls the store's events table (every 200 ms, with its own
 * store handle on its own connection thread) and sends "id/event/data" records. Streams start
 * after the event named by Last-Event-ID or ?after=N, else at the newest event. Streams are a
 * pool of their own (MP_SERVER_MAX_STREAMS, and per client address), so they never take every
 * connection; between polls a stream waits on its socket, so a client that goes away is noticed
 * at once and its place freed; a stream of one experiment ends when the experiment is deleted. */
#define _GNU_SOURCE /* POLLRDHUP */
#include "server/server_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"

#define POLL_MS      200
#define KEEPALIVE_NS (15 * 1000000000LL)
#define PAGE         200

struct stream {
    struct mp_server *srv;
    struct mp_store *st;
    int64_t exp_id;
    int64_t last_id;
    struct mp_buf out; /* bytes not yet handed to MHD */
    size_t off;
    int64_t last_send_ns;
    unsigned idle_polls; /* in a row without an event */
    int fd;              /* the connection's socket, watched for the client's close */
    struct sockaddr_storage addr;
    struct stream *next; /* in srv->streams */
};

/* Takes a place in the pool for a client; false when the pool or the client's share is full. */
static bool pool_join(struct mp_server *srv, struct stream *s)
{
    pthread_mutex_lock(&srv->streams_lock);
    size_t mine = 0;
    for (const struct stream *o = srv->streams; o; o = o->next) {
        mine += mp_srv_same_address((const struct sockaddr *)&o->addr,
                                    (const struct sockaddr *)&s->addr);
    }
    bool ok = srv->n_streams < MP_SERVER_MAX_STREAMS && mine < MP_SERVER_MAX_STREAMS_PER_ADDRESS;
    if (ok) {
        s->next = srv->streams;
        srv->streams = s;
        srv->n_streams++;
    }
    pthread_mutex_unlock(&srv->streams_lock);
    return ok;
}

static void pool_leave(struct mp_server *srv, struct stream *s)
{
    pthread_mutex_lock(&srv->streams_lock);
    for (struct stream **pp = &srv->streams; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            srv->n_streams--;
            break;
        }
    }
    pthread_mutex_unlock(&srv->streams_lock);
}

static void stream_free(void *cls)
{
    struct stream *s = cls;
    pool_leave(s->srv, s);
    mp_store_close(s->st);
    mp_buf_release(&s->out);
    free(s);
}

/* Waits up to POLL_MS; false when the client has closed the connection (or it failed). */
static bool client_still_there(const struct stream *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLRDHUP};
    int n = poll(&p, 1, POLL_MS);
    if (n < 0 && errno != EINTR) {
        return false;
    }
    return n <= 0 || !(p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static void format_event(struct mp_buf *b, const struct mp_event_row *e)
{
    char at[32];
    json_t *detail = e->detail_json ? json_loads(e->detail_json, 0, NULL) : NULL;
    json_t *j = json_pack("{s:I, s:I, s:I, s:s, s:s, s:o}", "id", (json_int_t)e->id,
                          "experiment_id", (json_int_t)e->experiment_id, "trial",
                          (json_int_t)e->trial_number, "kind", e->kind, "at",
                          mp_fmt_time(at, e->at_ns), "detail", detail ? detail : json_null());
    char *text = mp_json_dumps(j, 0);
    json_decref(j);
    mp_buf_addf(b, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)e->id, e->kind, text);
    free(text);
}

/* Whether a one-experiment stream's experiment is gone (deleted): its stream ends then, else it
 * held its place in the pool for as long as the client stayed. */
static bool experiment_gone(struct stream *s)
{
    if (s->exp_id <= 0) {
        return false;
    }
    char ref[24];
    snprintf(ref, sizeof(ref), "%lld", (long long)s->exp_id);
    struct mp_experiment_row row = {0};
    int rc = mp_store_experiment_find(s->st, ref, &row, NULL);
    mp_experiment_row_release(&row);
    return rc == MP_ENOTFOUND;
}

/* Appends new events to s->out. Returns the number added, or -1 on a store error. */
static int poll_events(struct stream *s)
{
    struct mp_event_row *rows = NULL;
    size_t n = 0;
    if (mp_store_event_list(s->st, s->exp_id, s->last_id, PAGE, &rows, &n, NULL) != 0) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        format_event(&s->out, &rows[i]);
        s->last_id = rows[i].id;
    }
    mp_event_rows_free(rows, n);
    return (int)n;
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct stream *s = cls;
    while (s->off == s->out.len) {
        mp_buf_reset(&s->out);
        s->off = 0;
        if (atomic_load(&s->srv->stopping)) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        int n = poll_events(s);
        if (n < 0) {
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        s->idle_polls = n > 0 ? 0 : s->idle_polls + 1;
        if (s->idle_polls % 5 == 4 && experiment_gone(s)) {
            return MHD_CONTENT_READER_END_OF_STREAM; /* checked about once a second */
        }
        if (n == 0 && mp_mono_ns() - s->last_send_ns > KEEPALIVE_NS) {
            mp_buf_adds(&s->out, ": keepalive\n\n");
        }
        if (s->out.len == 0 && !client_still_there(s)) {
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = s->out.len - s->off;
    if (n > max) {
        n = max;
    }
    memcpy(buf, s->out.data + s->off, n);
    s->off += n;
    s->last_send_ns = mp_mono_ns();
    return (ssize_t)n;
}

static bool is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* The event a stream starts after: the Last-Event-ID header, trimmed of the optional whitespace
 * around a field value (RFC 9110, 5.5; "12 " was refused), else ?after=N. *has is false when
 * neither names one (an empty header is none, as an empty ?after=). */
static int start_after(struct MHD_Connection *c, int64_t *id, bool *has, struct mp_error *err)
{
    const char *after = NULL;
    *has = false;
    int rc = mp_srv_query_arg(c, "after", &after, err);
    if (rc != 0) {
        return rc;
    }
    const char *from = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    size_t len = 0;
    if (from) {
        while (is_ows(*from)) {
            from++;
        }
        len = strlen(from);
        while (len > 0 && is_ows(from[len - 1])) {
            len--;
        }
    }
    if (len == 0) {
        from = after;
        len = after ? strlen(after) : 0;
    }
    if (!from) {
        return 0;
    }
    char num[24] = "";
    if (len < sizeof(num)) {
        memcpy(num, from, len);
        num[len] = '\0';
    }
    if (len >= sizeof(num) || mp_parse_int64(num, id) != 0 || *id < 0) {
        return mp_error_set(err, MP_EINVALID, "event id '%.*s' is not a non-negative integer",
                            len > 64 ? 64 : (int)len, from);
    }
    *has = true;
    return 0;
}

/* The newest event id (to start a stream "from now"). */
mhd_result mp_srv_sse(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                      int64_t exp_id)
{
    struct mp_error err = {0};
    struct stream *s = mp_xcalloc(1, sizeof(*s));
    s->srv = srv;
    s->exp_id = exp_id;
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *addr =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    s->fd = fd ? fd->connect_fd : -1;
    if (addr && addr->client_addr) {
        memcpy(&s->addr, addr->client_addr,
               addr->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in));
    }
    if (!pool_join(srv, s)) {
        free(s);
        return mp_srv_send_error(c, req, MHD_HTTP_SERVICE_UNAVAILABLE, "too_many_streams",
                                 "too many open event streams (at most %u, %u per client "
                                 "address); close some and retry",
                                 MP_SERVER_MAX_STREAMS, MP_SERVER_MAX_STREAMS_PER_ADDRESS);
    }
    if (mp_srv_open_store(srv, &s->st, &err) != 0) {
        stream_free(s);
        return mp_srv_send_error(c, req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err.msg);
    }
    int64_t v = 0;
    bool from = false;
    if (start_after(c, &v, &from, &err) != 0) {
        stream_free(s);
        return mp_srv_send_error(c, req, MHD_HTTP_BAD_REQUEST, "invalid", "%s", err.msg);
    }
    if (strcmp(req->method, "HEAD") == 0) {
        /* Headers only: a streamed answer to HEAD got the chunked body's last chunk (0 CRLF
         * CRLF) after its head from the library. */
        stream_free(s);
        return mp_srv_send_bytes(c, req, MHD_HTTP_OK, "text/event-stream", "", 0, false);
    }
    if (from) {
        s->last_id = v;
    } else if (mp_store_event_newest(s->st, exp_id, &s->last_id, &err) != 0) {
        stream_free(s);
        return mp_srv_send_error(c, req, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal", "%s", err.msg);
    }
    mp_buf_adds(&s->out, "retry: 2000\n\n");
    s->last_send_ns = mp_mono_ns();
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, stream_free);
    if (!resp) {
        stream_free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    mp_srv_add_common_headers(resp, false);
    req->status = MHD_HTTP_OK;
    req->answered = true;
    mhd_result r = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return r;
}
