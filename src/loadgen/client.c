/* SPDX-License-Identifier: Apache-2.0 */
/* The epoll client: one event loop per thread, each with its own connections. The next request
 * is written as soon as a response completes and EPOLLOUT is armed only when a write would block,
 * so a keep-alive request costs one send, one read and a share of one epoll_wait. Open-loop
 * connections wait in a per-thread min-heap of scheduled send times; latency is measured from
 * the scheduled time (no coordinated omission) and from the actual send. */
#define _GNU_SOURCE /* epoll_pwait2 */
#include "loadgen/lg_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define READ_BUF_BYTES (64 * 1024)
#define SCAN_NS        INT64_C(10000000) /* timeouts and reconnects are checked this often */
#define BACKOFF_NS     INT64_C(10000000) /* wait before reconnecting after a failed connect */
#define MAX_EVENTS     256

enum conn_state { C_CLOSED, C_BACKOFF, C_CONNECTING, C_IDLE, C_WRITING, C_READING };

struct conn {
    int fd;
    enum conn_state state;
    bool pending;      /* a request is due: send it once connected */
    bool out_armed;    /* EPOLLOUT is in the interest set */
    bool due_busy;     /* the pending request fell due while the previous one was in flight */
    bool reused;       /* a response already completed on this connection (keep-alive) */
    bool retry;        /* the pending request is a resend of c->req on a new connection */
    bool reclock;      /* a connect failed since: the resend's clocks restart */
    bool answered;     /* a byte of the in-flight request's response arrived */
    uint32_t heap_pos; /* 1-based position in the schedule heap, 0 when not queued */
    uint32_t global_index;
    size_t written;
    const struct lg_request *req;
    int64_t sched_ns;    /* when the in-flight request was due */
    int64_t sent_ns;     /* when it was written */
    int64_t since_ns;    /* its --timeout runs from here: the connect opened for it, or its send */
    int64_t deadline_ns; /* timeout of the current phase, or end of a reconnect backoff */
    int64_t next_ns;     /* open loop: next scheduled send */
    struct mp_lg_http_parser parser;
};

struct shared {
    struct mp_lg *lg;
    const struct mp_lg_phase *phase;
    struct mp_lg_result *res;
    int64_t start_ns, measure_ns;
    unsigned max_windows;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct mp_lg_window *slots; /* max_windows, merged from every thread */
    unsigned *contributed;      /* threads that published each window */
    int failed_rc;
    char failed_msg[MP_ERROR_MSG_MAX];
    double cpu_s;
};

struct worker {
    struct shared *sh;
    const struct mp_lg *lg;
    unsigned index;
    pthread_t tid;
    int epfd;
    struct conn *conns;
    unsigned n_conns;
    struct conn **heap;
    unsigned heap_len;
    char *rbuf;
    struct mp_lg_schedule sched;
    bool open_loop;
    struct mp_lg_window cur;
    int win; /* current window, -1 during warm-up */
    int64_t win_end_ns;
    size_t rotation;
    unsigned reported; /* error classes whose first message was already recorded */
};

/* ---- Schedule heap (open loop) ----------------------------------------------------------- */

static void heap_swap(struct worker *w, unsigned a, unsigned b)
{
    struct conn *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
    w->heap[a]->heap_pos = a + 1;
    w->heap[b]->heap_pos = b + 1;
}

static void heap_push(struct worker *w, struct conn *c)
{
    unsigned i = w->heap_len++;
    w->heap[i] = c;
    c->heap_pos = i + 1;
    while (i > 0 && w->heap[(i - 1) / 2]->next_ns > w->heap[i]->next_ns) {
        heap_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct conn *heap_pop(struct worker *w)
{
    struct conn *top = w->heap[0];
    top->heap_pos = 0;
    w->heap_len--;
    if (w->heap_len == 0) {
        return top;
    }
    w->heap[0] = w->heap[w->heap_len];
    w->heap[0]->heap_pos = 1;
    unsigned i = 0;
    for (;;) {
        unsigned l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_len && w->heap[l]->next_ns < w->heap[m]->next_ns) {
            m = l;
        }
        if (r < w->heap_len && w->heap[r]->next_ns < w->heap[m]->next_ns) {
            m = r;
        }
        if (m == i) {
            break;
        }
        heap_swap(w, i, m);
        i = m;
    }
    return top;
}

/* ---- Windows and errors ------------------------------------------------------------------ */

static void publish(struct worker *w)
{
    struct shared *sh = w->sh;
    pthread_mutex_lock(&sh->mu);
    struct mp_lg_window *slot = &sh->slots[w->win];
    if (!slot->latency.counts) { /* allocated on first use: long runs have many windows */
        mp_lg_hist_init(&slot->latency);
        mp_lg_hist_init(&slot->latency_sent);
    }
    mp_lg_window_merge(slot, &w->cur);
    sh->contributed[w->win]++;
    pthread_cond_broadcast(&sh->cond);
    pthread_mutex_unlock(&sh->mu);
    mp_lg_hist_reset(&w->cur.latency);
    mp_lg_hist_reset(&w->cur.latency_sent);
    memset(&w->cur.counts, 0, sizeof(w->cur.counts));
}

static void advance_windows(struct worker *w, int64_t now)
{
    const struct shared *sh = w->sh;
    while (now >= w->win_end_ns && w->win < (int)sh->max_windows) {
        if (w->win >= 0) {
            publish(w);
        }
        w->win++;
        w->win_end_ns = sh->measure_ns + (int64_t)(w->win + 1) * sh->phase->window_ns;
    }
}

/* status: the HTTP status of a MP_LG_ERR_STATUS error (0 for the other classes), kept with the
 * class's first message. */
static void count_error_status(struct worker *w, enum mp_lg_error cls, const char *msg, int status)
{
    if (w->win >= 0) {
        w->cur.counts.errors[cls]++;
    }
    if (w->reported & (1u << cls)) {
        return;
    }
    w->reported |= 1u << cls;
    pthread_mutex_lock(&w->sh->mu);
    char *slot = w->sh->res->first_error[cls];
    if (!slot[0]) {
        snprintf(slot, sizeof(w->sh->res->first_error[cls]), "%s: %s", mp_lg_error_name(cls), msg);
        if (status) {
            w->sh->res->first_status = status;
        }
    }
    pthread_mutex_unlock(&w->sh->mu);
}

static void count_error(struct worker *w, enum mp_lg_error cls, const char *msg)
{
    count_error_status(w, cls, msg, 0);
}

/* ---- Connections ------------------------------------------------------------------------- */

static void issue(struct worker *w, struct conn *c, int64_t sched_ns, int64_t now);

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    c->fd = -1;
    c->state = C_CLOSED;
    c->out_armed = false;
    c->reused = false;
}

static void set_events(struct worker *w, struct conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u), .data.ptr = c};
    if (c->out_armed != out) {
        epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->out_armed = out;
    }
}

/* After a request ends (answered or failed): schedule the next one on this connection. */
static void next_request(struct worker *w, struct conn *c, int64_t now)
{
    if (!w->open_loop) {
        issue(w, c, now, now);
        return;
    }
    c->next_ns = mp_lg_schedule_next(&w->sched, c->sched_ns);
    if (c->next_ns <= now) {
        c->due_busy = true;
        issue(w, c, c->next_ns, now);
    } else {
        heap_push(w, c);
    }
}

/* A reused keep-alive connection that failed before any byte of the response: the server closed
 * it while the request was on its way (its idle timeout, or no keep-alive without saying so). HTTP
 * clients resend such a request once on a new connection (RFC 9112 §9.3.1); a new connection
 * that fails the same way is an error. */
static bool stale_keep_alive(const struct conn *c, enum mp_lg_error cls)
{
    return (cls == MP_LG_ERR_READ || cls == MP_LG_ERR_WRITE) &&
           (c->state == C_WRITING || c->state == C_READING) && c->reused && !c->answered;
}

static void conn_fail(struct worker *w, struct conn *c, enum mp_lg_error cls, const char *msg,
                      int64_t now)
{
    if (stale_keep_alive(c, cls)) {
        conn_close(c);
        c->retry = true;
        issue(w, c, c->sched_ns, now);
        return;
    }
    count_error(w, cls, msg);
    bool was_connecting = c->state == C_CONNECTING || c->state == C_CLOSED;
    conn_close(c);
    if (c->heap_pos) {
        return; /* failed while idle in open loop: its next send is already scheduled */
    }
    if (cls == MP_LG_ERR_CONNECT || was_connecting) {
        c->state = C_BACKOFF; /* the request stays pending until the reconnect */
        c->pending = true;
        c->reclock = c->retry; /* a resend is then as any request after a connect error */
        c->deadline_ns = now + BACKOFF_NS;
        return;
    }
    next_request(w, c, now);
}

static void do_write(struct worker *w, struct conn *c, int64_t now)
{
    while (c->written < c->req->len) {
        ssize_t n = send(c->fd, c->req->data + c->written, c->req->len - c->written, MSG_NOSIGNAL);
        if (n > 0) {
            c->written += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_events(w, c, true);
            return;
        }
        conn_fail(w, c, MP_LG_ERR_WRITE, n < 0 ? strerror(errno) : "short write", now);
        return;
    }
    if (c->out_armed) {
        set_events(w, c, false);
    }
    c->state = C_READING;
}

static void write_request(struct worker *w, struct conn *c, int64_t now)
{
    const struct mp_lg *lg = w->lg;
    bool resend = c->retry;
    if (!resend) {
        c->req = &lg->requests[w->rotation++ % lg->n_requests];
    }
    c->written = 0;
    if (!resend || c->reclock) {
        /* A resend's latency and timeout still count from the first send; after a refused
         * connect they count from this attempt, as any request's do. */
        c->sent_ns = now;
    }
    c->retry = false;
    c->reclock = false;
    c->pending = false;
    bool due_busy = c->due_busy;
    c->due_busy = false;
    if (w->win >= 0 && !resend) {
        w->cur.counts.sends++;
        if (w->open_loop && mp_lg_send_late(c->sched_ns, now, lg->late_threshold_ns)) {
            w->cur.counts.late_sends++;
            w->cur.counts.late_busy += due_busy;
        }
    }
    mp_lg_http_parser_reset(&c->parser, lg->head);
    c->answered = false;
    c->state = C_WRITING;
    /* The timeout is the request's: one connected for has the time its connect took, and a
     * resend what was left of the first's. */
    c->deadline_ns = c->since_ns + lg->timeout_ns;
    do_write(w, c, now);
}

static void on_connected(struct worker *w, struct conn *c, int64_t now)
{
    if (w->win >= 0) {
        w->cur.counts.connects++;
    }
    c->state = C_IDLE;
    set_events(w, c, false);
    if (c->pending) {
        write_request(w, c, now);
    }
}

static void conn_open(struct worker *w, struct conn *c, int64_t now)
{
    const struct mp_lg *lg = w->lg;
    c->fd = socket(lg->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        conn_fail(w, c, MP_LG_ERR_CONNECT, strerror(errno), now);
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = connect(c->fd, (const struct sockaddr *)&lg->addr, lg->addr_len);
    if (rc < 0 && errno != EINPROGRESS) {
        conn_fail(w, c, MP_LG_ERR_CONNECT, strerror(errno), now);
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        conn_fail(w, c, MP_LG_ERR_CONNECT, strerror(errno), now);
        return;
    }
    c->out_armed = true;
    c->state = C_CONNECTING;
    c->deadline_ns = now + lg->timeout_ns;
    if (!c->retry || c->reclock) {
        c->since_ns = now; /* as its latency does in closed loop */
    }
    if (rc == 0) {
        on_connected(w, c, now);
    }
}

/* A request is due on c (scheduled at sched_ns): send it now, or as soon as c is connected. */
static void issue(struct worker *w, struct conn *c, int64_t sched_ns, int64_t now)
{
    c->sched_ns = sched_ns;
    c->pending = true;
    if (c->state == C_CLOSED) {
        conn_open(w, c, now);
    } else if (c->state == C_IDLE) {
        c->since_ns = now;
        write_request(w, c, now);
    }
}

static void on_response(struct worker *w, struct conn *c)
{
    int64_t now = mp_mono_ns();
    const struct mp_lg *lg = w->lg;
    const struct mp_lg_http_parser *p = &c->parser;
    if (p->status == 408 && c->reused && lg->expect_status != 408) {
        /* The server's keep-alive timeout fired as our request reached the reused connection
         * (RFC 9110 §15.5.9): sent again once on a new connection, like a stale keep-alive
         * (not when --expect-status says 408 is the answer). */
        conn_close(c);
        c->retry = true;
        issue(w, c, c->sched_ns, now);
        return;
    }
    bool status_ok =
        lg->expect_status ? p->status == lg->expect_status : p->status >= 200 && p->status < 400;
    if (now >= c->deadline_ns) {
        /* Complete, but after --timeout: timeouts are scanned every SCAN_NS, and a response in
         * between is as late as one the scan caught (never a success slower than the limit). */
        count_error(w, MP_LG_ERR_TIMEOUT, "no complete response before the timeout");
    } else if (!status_ok) {
        char msg[64];
        snprintf(msg, sizeof(msg), "HTTP status %d", p->status);
        count_error_status(w, MP_LG_ERR_STATUS, msg, p->status);
    } else if (!p->body_matched) {
        count_error(w, MP_LG_ERR_BODY, "expected text not found in the response body");
    } else if (w->win >= 0) {
        w->cur.counts.requests++;
        mp_lg_hist_record(&w->cur.latency, (uint64_t)(now - c->sched_ns + 500) / 1000);
        mp_lg_hist_record(&w->cur.latency_sent, (uint64_t)(now - c->sent_ns + 500) / 1000);
    }
    /* A response that arrives before the request was fully written leaves the connection
     * mid-request: it cannot be reused. */
    if (!p->keep_alive || lg->close_each || c->state == C_WRITING) {
        conn_close(c);
    } else {
        c->state = C_IDLE;
        c->reused = true;
    }
    next_request(w, c, now);
}

/* "malformed HTTP response: an invalid chunk size", "a response head over the header size
 * limit" */
static void parse_error_text(const struct mp_lg_http_parser *p, int rc, char *buf, size_t size)
{
    const char *why = p->why ? p->why : "?";
    if (rc == MP_ETOOBIG) {
        snprintf(buf, size, "%s", why);
    } else {
        snprintf(buf, size, "malformed HTTP response: %s", why);
    }
}

/* Feeds n bytes to the parser. Returns false when the connection was closed or failed. */
static bool feed(struct worker *w, struct conn *c, size_t n, int64_t now)
{
    if (c->state != C_READING && c->state != C_WRITING) {
        /* A 408 on an idle connection is the server closing it (RFC 9110 §15.5.9): no request
         * of ours failed, and the next one reconnects. Other data belongs to no request. */
        size_t used = 0;
        mp_lg_http_parser_reset(&c->parser, false);
        (void)mp_lg_http_parse(&c->parser, w->rbuf, n, &used);
        if (c->state == C_IDLE && c->parser.state != MP_LG_HTTP_STATUS && c->parser.status == 408) {
            conn_close(c);
        } else {
            conn_fail(w, c, MP_LG_ERR_PARSE, "data received with no request in flight", now);
        }
        return false;
    }
    /* Not the parser's header_bytes: it restarts at each chunk-size line of a chunked body. */
    c->answered = true;
    size_t used = 0;
    int rc = mp_lg_http_parse(&c->parser, w->rbuf, n, &used);
    if (rc < 0) {
        char msg[128];
        parse_error_text(&c->parser, rc, msg, sizeof(msg));
        conn_fail(w, c, MP_LG_ERR_PARSE, msg, now);
        return false;
    }
    if (rc == MP_LG_HTTP_COMPLETE && used < n) {
        conn_fail(w, c, MP_LG_ERR_PARSE, "data after the end of the response", now);
        return false;
    }
    if (rc == MP_LG_HTTP_COMPLETE) {
        on_response(w, c);
        return c->fd >= 0 && c->state != C_CLOSED;
    }
    return true;
}

static void on_eof(struct worker *w, struct conn *c, int64_t now)
{
    if (c->state == C_IDLE) { /* the server closed an idle keep-alive connection */
        conn_close(c);
        if (c->pending) {
            issue(w, c, c->sched_ns, now);
        }
        return;
    }
    if (mp_lg_http_parse_eof(&c->parser) == MP_LG_HTTP_COMPLETE) {
        c->parser.keep_alive = false;
        on_response(w, c);
        return;
    }
    conn_fail(w, c, MP_LG_ERR_READ,
              c->answered ? "connection closed in the middle of a response"
                          : "connection closed before any response",
              now);
}

static void on_readable(struct worker *w, struct conn *c, int64_t now)
{
    for (;;) {
        ssize_t n = recv(c->fd, w->rbuf, READ_BUF_BYTES, 0);
        if (n > 0) {
            if (w->win >= 0) {
                w->cur.counts.bytes_read += (uint64_t)n;
            }
            if (!feed(w, c, (size_t)n, now) || n < READ_BUF_BYTES ||
                (c->state != C_READING && c->state != C_WRITING)) {
                return;
            }
            continue;
        }
        if (n == 0) {
            on_eof(w, c, now);
            return;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            if (c->state == C_IDLE) {
                on_eof(w, c, now); /* reset while idle: reconnect at the next send, no error */
            } else {
                conn_fail(w, c, MP_LG_ERR_READ, strerror(errno), now);
            }
        }
        return;
    }
}

static void on_connect_event(struct worker *w, struct conn *c, int64_t now)
{
    int so_err = 0;
    socklen_t len = sizeof(so_err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &so_err, &len) < 0) {
        so_err = errno;
    }
    if (so_err) {
        conn_fail(w, c, MP_LG_ERR_CONNECT, strerror(so_err), now);
        return;
    }
    on_connected(w, c, now);
}

static void on_event(struct worker *w, struct conn *c, uint32_t events, int64_t now)
{
    if (c->fd < 0) {
        return;
    }
    if (c->state == C_CONNECTING) {
        on_connect_event(w, c, now);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        on_readable(w, c, now);
    }
    if (c->fd >= 0 && c->state == C_WRITING && (events & EPOLLOUT)) {
        do_write(w, c, now);
    }
}

static void scan_timeouts(struct worker *w, int64_t now)
{
    for (unsigned i = 0; i < w->n_conns; i++) {
        struct conn *c = &w->conns[i];
        if (now < c->deadline_ns) {
            continue;
        }
        if (c->state == C_CONNECTING) {
            conn_fail(w, c, MP_LG_ERR_CONNECT, "connect timed out", now);
        } else if (c->state == C_WRITING) {
            conn_fail(w, c, MP_LG_ERR_TIMEOUT,
                      "the request was not all written before the timeout (the server stopped "
                      "reading)",
                      now);
        } else if (c->state == C_READING) {
            conn_fail(w, c, MP_LG_ERR_TIMEOUT, "no complete response before the timeout", now);
        } else if (c->state == C_BACKOFF) {
            c->state = C_CLOSED;
            if (!w->open_loop) {
                /* Closed loop: the failed connects were counted as errors; the request starts
                 * again now (its latency would otherwise hold the whole outage). */
                c->sched_ns = now;
            }
            if (c->pending) {
                conn_open(w, c, now);
            }
        }
    }
}

/* ---- The worker thread ------------------------------------------------------------------- */

static int wait_events(int epfd, struct epoll_event *ev, int64_t wait_ns)
{
    static atomic_bool no_pwait2;
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = wait_ns / 1000000000, .tv_nsec = wait_ns % 1000000000};
        int n = epoll_pwait2(epfd, ev, MAX_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS) {
            return n;
        }
        atomic_store(&no_pwait2, true);
    }
    return epoll_wait(epfd, ev, MAX_EVENTS, (int)((wait_ns + 999999) / 1000000));
}

static void start_connections(struct worker *w)
{
    const struct shared *sh = w->sh;
    for (unsigned i = 0; i < w->n_conns; i++) {
        struct conn *c = &w->conns[i];
        c->fd = -1;
        c->state = C_CLOSED;
        mp_lg_http_parser_init(&c->parser, &w->lg->limits,
                               w->lg->has_needle ? &w->lg->needle : NULL);
        if (!w->open_loop) {
            issue(w, c, sh->start_ns, sh->start_ns);
            continue;
        }
        c->next_ns = sh->start_ns + mp_lg_schedule_first(&w->sched, c->global_index);
        heap_push(w, c);
    }
}

static void run_loop(struct worker *w)
{
    struct shared *sh = w->sh;
    struct epoll_event events[MAX_EVENTS];
    int64_t now = mp_mono_ns();
    int64_t next_scan = now + SCAN_NS;
    start_connections(w);
    while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
        advance_windows(w, now);
        if (w->win >= (int)sh->max_windows) {
            break;
        }
        if (now >= next_scan) {
            scan_timeouts(w, now);
            next_scan = now + SCAN_NS;
        }
        while (w->heap_len > 0 && w->heap[0]->next_ns <= now) {
            struct conn *c = heap_pop(w);
            issue(w, c, c->next_ns, now);
        }
        int64_t wake = w->win_end_ns < next_scan ? w->win_end_ns : next_scan;
        if (w->heap_len > 0 && w->heap[0]->next_ns < wake) {
            wake = w->heap[0]->next_ns;
        }
        int n = wait_events(w->epfd, events, wake > now ? wake - now : 0);
        now = mp_mono_ns();
        for (int i = 0; i < n; i++) {
            on_event(w, events[i].data.ptr, events[i].events, now);
        }
    }
}

static void worker_fail(struct worker *w, int rc, const char *what)
{
    pthread_mutex_lock(&w->sh->mu);
    if (!w->sh->failed_rc) {
        w->sh->failed_rc = rc;
        snprintf(w->sh->failed_msg, sizeof(w->sh->failed_msg), "%s: %s", what, strerror(-rc));
    }
    pthread_cond_broadcast(&w->sh->cond);
    pthread_mutex_unlock(&w->sh->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    prctl(PR_SET_TIMERSLACK, 1UL); /* open-loop sends wake on time, not up to 50 us late */
    if (w->lg->cpu_mask) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int c = 0; c < 64; c++) {
            if (w->lg->cpu_mask & (UINT64_C(1) << c)) {
                CPU_SET(c, &set);
            }
        }
        /* Best effort: outside the allowed CPUs the kernel refuses, and the thread runs
         * anywhere as before. */
        (void)sched_setaffinity(0, sizeof(set), &set);
    }
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) {
        worker_fail(w, -errno, "epoll_create1");
        return NULL;
    }
    w->rbuf = mp_xmalloc(READ_BUF_BYTES);
    mp_lg_window_init(&w->cur);
    run_loop(w);
    for (unsigned i = 0; i < w->n_conns; i++) {
        conn_close(&w->conns[i]);
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    pthread_mutex_lock(&w->sh->mu);
    w->sh->cpu_s += (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    pthread_mutex_unlock(&w->sh->mu);
    mp_lg_window_release(&w->cur);
    free(w->rbuf);
    close(w->epfd);
    return NULL;
}

/* ---- The controller ---------------------------------------------------------------------- */

static void setup_workers(struct shared *sh, struct worker *ws)
{
    const struct mp_lg *lg = sh->lg;
    unsigned per = lg->connections / lg->threads, extra = lg->connections % lg->threads;
    for (unsigned t = 0; t < lg->threads; t++) {
        struct worker *w = &ws[t];
        w->sh = sh;
        w->lg = lg;
        w->index = t;
        w->epfd = -1;
        w->n_conns = per + (t < extra ? 1 : 0);
        w->conns = mp_xcalloc(w->n_conns, sizeof(*w->conns));
        w->heap = mp_xcalloc(w->n_conns, sizeof(*w->heap));
        for (unsigned i = 0; i < w->n_conns; i++) {
            w->conns[i].global_index = i * lg->threads + t;
        }
        w->open_loop = lg->rate_rps > 0;
        mp_lg_schedule_init(&w->sched, lg->rate_rps, lg->connections, lg->arrival,
                            mp_mix64(lg->seed, t));
        w->win = -1;
        w->win_end_ns = sh->measure_ns;
    }
}

/* Waits for every thread to publish window k: 0, or 1 when cancelled, 2 when a worker failed. */
static int wait_window(struct shared *sh, unsigned k, unsigned threads, const atomic_bool *cancel)
{
    int ok = 0;
    pthread_mutex_lock(&sh->mu);
    while (sh->contributed[k] < threads) {
        if (sh->failed_rc || (cancel && atomic_load(cancel))) {
            ok = sh->failed_rc ? 2 : 1;
            break;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sh->cond, &sh->mu, &ts);
    }
    pthread_mutex_unlock(&sh->mu);
    return ok;
}

static int check_phase(const struct mp_lg_phase *ph, struct mp_error *err)
{
    /* Window end times are int64 nanoseconds from the start: keep them far from overflowing. */
    if (ph->window_ns <= 0 || ph->warmup_ns < 0 || ph->max_windows == 0 ||
        ph->max_windows > 100000 ||
        (double)ph->warmup_ns + (double)ph->window_ns * (ph->max_windows + 1.0) > 2e18) {
        return mp_error_set(err, MP_EINVALID,
                            "a run needs a positive window, a warm-up >= 0 and 1..100000 windows "
                            "that end within 60 years");
    }
    return 0;
}

static void collect(struct shared *sh, unsigned done, int64_t wall_ns)
{
    struct mp_lg_result *res = sh->res;
    for (unsigned k = done; k < sh->max_windows; k++) {
        mp_lg_window_release(&sh->slots[k]);
    }
    res->windows = sh->slots;
    res->n_windows = done;
    res->elapsed_ns = (int64_t)done * sh->phase->window_ns;
    res->threads = sh->lg->threads;
    res->cpu_s = sh->cpu_s;
    double wall_s = (double)wall_ns / 1e9;
    res->cpu_share = wall_s > 0 ? sh->cpu_s / (wall_s * sh->lg->threads) : 0;
}

int mp_lg_run(struct mp_lg *lg, const struct mp_lg_phase *phase, struct mp_lg_result *res,
              const atomic_bool *cancel, struct mp_error *err)
{
    memset(res, 0, sizeof(*res));
    int rc = check_phase(phase, err);
    if (rc < 0) {
        return rc;
    }
    struct shared sh = {.lg = lg, .phase = phase, .res = res, .max_windows = phase->max_windows};
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cond, NULL);
    sh.slots = mp_xcalloc(sh.max_windows, sizeof(*sh.slots));
    sh.contributed = mp_xcalloc(sh.max_windows, sizeof(*sh.contributed));
    for (unsigned k = 0; k < sh.max_windows; k++) {
        sh.slots[k].start_ns = (int64_t)k * phase->window_ns;
        sh.slots[k].end_ns = (int64_t)(k + 1) * phase->window_ns;
    }
    sh.start_ns = mp_mono_ns();
    sh.measure_ns = sh.start_ns + phase->warmup_ns;
    struct worker *ws = mp_xcalloc(lg->threads, sizeof(*ws));
    setup_workers(&sh, ws);
    unsigned started = 0;
    for (; started < lg->threads; started++) {
        int prc = pthread_create(&ws[started].tid, NULL, worker_main, &ws[started]);
        if (prc != 0) {
            worker_fail(&ws[started], -prc, "pthread_create");
            break;
        }
    }
    unsigned done = 0;
    int wrc = 0;
    while (done < sh.max_windows && (wrc = wait_window(&sh, done, lg->threads, cancel)) == 0) {
        done++;
        if (phase->on_window && phase->on_window(phase->arg, sh.slots, done)) {
            break;
        }
    }
    atomic_store(&sh.stop, true);
    for (unsigned t = 0; t < started; t++) {
        pthread_join(ws[t].tid, NULL);
    }
    collect(&sh, done, mp_mono_ns() - sh.start_ns);
    if (sh.failed_rc) {
        rc = mp_error_set(err, sh.failed_rc, "load generator: %s", sh.failed_msg);
    } else if (wrc == 1) {
        rc = mp_error_set(err, MP_ECANCELLED, "load test cancelled");
    }
    for (unsigned t = 0; t < lg->threads; t++) {
        free(ws[t].conns);
        free(ws[t].heap);
    }
    free(ws);
    free(sh.contributed);
    pthread_mutex_destroy(&sh.mu);
    pthread_cond_destroy(&sh.cond);
    return rc;
}
