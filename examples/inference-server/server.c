/* SPDX-License-Identifier: Apache-2.0 */
/* The server loop. One I/O thread (the caller of server_run) owns every connection: it
 * accepts, parses requests, answers /healthz and /metrics itself and queues inference
 * requests; workers take batches from the queue, run the model and hand finished jobs back
 * through a list and an eventfd. A connection has at most one request in the queue at a time
 * (pipelined requests wait in its input buffer), so responses keep request order. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batchq.h"
#include "http.h"
#include "metrics.h"

#define MAX_HEAD_BYTES  16384
#define READ_CHUNK      65536
#define MAX_EVENTS      128
#define DRAIN_TIMEOUT_S 10
/* Pipelined requests are not parsed while this much output waits for a slow reader. */
#define OUT_HIGH_WATER ((size_t)1 << 20)

enum watch_kind { WATCH_LISTEN, WATCH_WAKE, WATCH_SIGNAL, WATCH_CONN };

struct watch {
    enum watch_kind kind;
};

struct conn {
    struct watch w; /* first: epoll data points here */
    int fd;
    uint32_t events; /* interest registered with epoll */
    struct mp_buf in;
    size_t in_off; /* consumed bytes of in */
    struct mp_buf out;
    size_t out_off; /* written bytes of out */
    bool busy;      /* a request of this connection is queued or running */
    bool dead;      /* fd closed while busy: free when the job comes back */
    bool eof;       /* peer finished sending */
    bool close_after_write;
    bool sent_continue;
    struct conn *prev, *next;
};

struct job {
    struct conn *conn;
    struct job *next;
    bool keep_alive;
    int64_t queued_at_ns;
    uint8_t *body;
    size_t len;
    int status;
    struct mp_buf resp; /* JSON body from the model */
};

struct server {
    const struct server_config *cfg;
    int epfd, lfd, wakefd, sigfd;
    struct watch listen_w, wake_w, signal_w;
    struct batchq *q;
    pthread_t *threads;
    size_t n_threads;
    pthread_mutex_t done_mu;
    struct job *done_head, *done_tail;
    atomic_int loaded;
    atomic_bool load_failed;
    char load_error[MP_ERROR_MSG_MAX];
    struct metrics metrics;
    struct conn *conns;     /* every connection, dead ones included */
    struct conn *graveyard; /* closed, freed after the current batch of events */
    size_t n_conns;
    bool draining;
    int exit_code;
};

static void log_msg(const char *fmt, ...) MP_PRINTF(1, 2);

static void log_msg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("inference-server: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void wake_io(struct server *s)
{
    uint64_t one = 1;
    ssize_t n = write(s->wakefd, &one, sizeof(one));
    (void)n; /* EAGAIN means the counter is already non-zero: the I/O thread will wake */
}

static bool ready(struct server *s)
{
    return atomic_load(&s->loaded) == (int)s->cfg->workers;
}

/* ---- workers ---- */

static void finish_batch(struct server *s, struct job **jobs, size_t n)
{
    pthread_mutex_lock(&s->done_mu);
    for (size_t i = 0; i < n; i++) {
        jobs[i]->next = NULL;
        if (s->done_tail != NULL) {
            s->done_tail->next = jobs[i];
        } else {
            s->done_head = jobs[i];
        }
        s->done_tail = jobs[i];
    }
    pthread_mutex_unlock(&s->done_mu);
    wake_io(s);
}

static void serve_batches(struct server *s, struct model_instance *m)
{
    size_t max = (size_t)s->cfg->max_batch;
    void **items = mp_xcalloc(max, sizeof(void *));
    struct job **jobs = mp_xcalloc(max, sizeof(struct job *));
    struct model_input *in = mp_xcalloc(max, sizeof(*in));
    struct model_result *res = mp_xcalloc(max, sizeof(*res));
    for (;;) {
        size_t n = batchq_pop_batch(s->q, items, max, s->cfg->batch_timeout_us);
        if (n == 0) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            jobs[i] = items[i];
            in[i].data = jobs[i]->body;
            in[i].len = jobs[i]->len;
            res[i].status = 500;
            res[i].body = jobs[i]->resp;
        }
        int64_t t0 = mp_mono_ns();
        model_run(m, in, res, n);
        double secs = (double)(mp_mono_ns() - t0) / 1e9;
        histogram_observe(&s->metrics.batch_size, (double)n);
        histogram_observe(&s->metrics.inference_seconds, secs);
        for (size_t i = 0; i < n; i++) {
            jobs[i]->status = res[i].status;
            jobs[i]->resp = res[i].body;
        }
        finish_batch(s, jobs, n);
    }
    free(items);
    free(jobs);
    free(in);
    free(res);
}

static void *worker_main(void *p)
{
    struct server *s = p;
    struct mp_error err = {0};
    struct model_instance *m = NULL;
    if (model_instance_new(s->cfg->model, s->cfg->model_dir, (int)s->cfg->omp_threads, &m, &err) !=
        0) {
        pthread_mutex_lock(&s->done_mu);
        snprintf(s->load_error, sizeof(s->load_error), "%s", err.msg);
        pthread_mutex_unlock(&s->done_mu);
        atomic_store(&s->load_failed, true);
        wake_io(s);
    } else {
        atomic_fetch_add(&s->loaded, 1);
        serve_batches(s, m);
        model_instance_free(m);
    }
    return NULL;
}

/* ---- connections ---- */

static void conn_set_events(struct server *s, struct conn *c)
{
    size_t pending = c->in.len - c->in_off;
    bool paused = c->busy && pending >= MAX_HEAD_BYTES + (size_t)s->cfg->max_body_bytes;
    uint32_t want = 0;
    if (!c->eof && !paused) {
        want |= EPOLLIN;
    }
    if (c->out_off < c->out.len) {
        want |= EPOLLOUT;
    }
    if (want != c->events) {
        struct epoll_event ev = {.events = want, .data.ptr = &c->w};
        if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
            c->events = want;
        }
    }
}

/* Unlinks c; its memory is freed by bury() once no event of this epoll batch can name it. */
static void conn_free(struct server *s, struct conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        s->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    s->n_conns--;
    c->prev = NULL;
    c->next = s->graveyard;
    s->graveyard = c;
}

static void bury(struct server *s)
{
    while (s->graveyard != NULL) {
        struct conn *c = s->graveyard;
        s->graveyard = c->next;
        mp_buf_release(&c->in);
        mp_buf_release(&c->out);
        free(c);
    }
}

/* Closes the socket; the struct lives on while a job still points to it. */
static void conn_close(struct server *s, struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    if (c->busy) {
        c->dead = true;
    } else {
        conn_free(s, c);
    }
}

static void accept_all(struct server *s)
{
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED) {
                log_msg("accept: %s", strerror(errno));
            }
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        struct conn *c = mp_xcalloc(1, sizeof(*c));
        c->w.kind = WATCH_CONN;
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c->w};
        if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        c->next = s->conns;
        if (s->conns != NULL) {
            s->conns->prev = c;
        }
        s->conns = c;
        s->n_conns++;
    }
}

/* Writes pending output. Returns false if the connection was closed. */
static bool conn_flush(struct server *s, struct conn *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_set_events(s, c);
                return true;
            }
            conn_close(s, c);
            return false;
        }
        c->out_off += (size_t)n;
    }
    mp_buf_reset(&c->out);
    c->out_off = 0;
    if (c->close_after_write && !c->busy) {
        conn_close(s, c);
        return false;
    }
    conn_set_events(s, c);
    return true;
}

static void respond(struct server *s, struct conn *c, enum metrics_endpoint ep, int status,
                    const char *ctype, const char *body, size_t len, bool keep_alive)
{
    bool close_it = !keep_alive || s->draining;
    mp_buf_addf(&c->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s", status,
                http_reason(status), ctype, len, close_it ? "Connection: close\r\n" : "");
    if (ep == EP_HEALTHZ && s->cfg->nonce != NULL) {
        mp_buf_addf(&c->out, "X-Morphling-Nonce: %s\r\n", s->cfg->nonce);
    }
    mp_buf_adds(&c->out, "\r\n");
    mp_buf_add(&c->out, body, len);
    if (close_it) {
        c->close_after_write = true;
    }
    metrics_count(&s->metrics, ep, status);
}

static void respond_text(struct server *s, struct conn *c, enum metrics_endpoint ep, int status,
                         const char *text, bool keep_alive)
{
    respond(s, c, ep, status, "text/plain; charset=utf-8", text, strlen(text), keep_alive);
}

static void respond_error(struct server *s, struct conn *c, enum metrics_endpoint ep, int status,
                          const char *msg, bool keep_alive)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, "{\"error\":");
    json_add_string(&b, msg);
    mp_buf_adds(&b, "}\n");
    respond(s, c, ep, status, "application/json", b.data, b.len, keep_alive);
    mp_buf_release(&b);
}

static void serve_metrics(struct server *s, struct conn *c, bool keep_alive)
{
    struct mp_buf b = MP_BUF_INIT;
    metrics_render(&s->metrics, &b, batchq_depth(s->q), ready(s) ? 1 : 0);
    respond(s, c, EP_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len,
            keep_alive);
    mp_buf_release(&b);
}

static void enqueue(struct server *s, struct conn *c, const struct http_request *req,
                    const char *body)
{
    struct model_input in = {(const uint8_t *)body, req->content_length};
    struct mp_error err = {0};
    int status = model_check_input(s->cfg->model, &in, &err);
    if (status != 0) {
        respond_error(s, c, EP_INFER, status, err.msg, req->keep_alive);
        return;
    }
    struct job *j = mp_xcalloc(1, sizeof(*j));
    j->conn = c;
    j->keep_alive = req->keep_alive;
    j->queued_at_ns = mp_mono_ns();
    j->len = req->content_length;
    j->body = mp_xmalloc(j->len ? j->len : 1);
    memcpy(j->body, body, j->len);
    int rc = batchq_push(s->q, j);
    if (rc != 0) {
        free(j->body);
        free(j);
        atomic_fetch_add(&s->metrics.rejected_queue_full, rc == MP_EBUSY ? 1 : 0);
        respond_error(s, c, EP_INFER, 503,
                      rc == MP_EBUSY ? "queue full" : "server is shutting down", req->keep_alive);
        return;
    }
    atomic_fetch_add(&s->metrics.in_flight, 1);
    c->busy = true;
}

static void dispatch(struct server *s, struct conn *c, const struct http_request *req,
                     const char *body)
{
    const char *infer_path = model_kind_path(s->cfg->model);
    bool ka = req->keep_alive;
    if (http_is(req, "GET", "/healthz")) {
        bool ok = ready(s);
        respond_text(s, c, EP_HEALTHZ, ok ? 200 : 503, ok ? "ok\n" : "loading\n", ka);
    } else if (http_is(req, "GET", "/metrics")) {
        serve_metrics(s, c, ka);
    } else if (http_is(req, "POST", infer_path)) {
        enqueue(s, c, req, body);
    } else if (req->path_len == strlen(infer_path) &&
               memcmp(req->path, infer_path, req->path_len) == 0) {
        respond_error(s, c, EP_INFER, 405, "use POST", ka);
    } else {
        respond_error(s, c, EP_OTHER, 404, "no such endpoint", ka);
    }
}

/* Parses and dispatches buffered requests until one is queued or more bytes are needed. */
/* Parses and dispatches buffered requests until one is queued, more bytes are needed or the
 * output is backed up. Returns true in the last case. */
static bool conn_process(struct server *s, struct conn *c)
{
    bool backed_up = false;
    while (!c->busy && !c->close_after_write && c->in_off < c->in.len) {
        if (c->out.len - c->out_off >= OUT_HIGH_WATER) {
            backed_up = true;
            break;
        }
        const char *p = c->in.data + c->in_off;
        size_t avail = c->in.len - c->in_off;
        struct http_request req;
        int r = http_parse_head(p, avail, MAX_HEAD_BYTES, (size_t)s->cfg->max_body_bytes, &req);
        if (r == HTTP_INCOMPLETE) {
            break;
        }
        if (r < 0) {
            respond_error(s, c, EP_OTHER, -r, "malformed or unsupported request", false);
            c->in_off = c->in.len;
            break;
        }
        size_t total = (size_t)r + req.content_length;
        if (avail < total) {
            if (req.expect_continue && !c->sent_continue) {
                mp_buf_adds(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->sent_continue = true;
            }
            break;
        }
        c->sent_continue = false;
        dispatch(s, c, &req, p + r);
        c->in_off += total;
    }
    /* Keep the unparsed rest at the start of the buffer, so the buffer stays bounded. */
    if (c->in_off > 0) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in.data[c->in.len] = 0; /* mp_buf keeps its data NUL-terminated */
        c->in_off = 0;
    }
    return backed_up;
}

/* Runs after new input, a finished job or writable output: answers what it can, flushes, and
 * repeats while answers were held back only by a full output that is now written. */
static void conn_advance(struct server *s, struct conn *c)
{
    for (;;) {
        bool backed_up = conn_process(s, c);
        if (!c->busy && !backed_up && (c->eof || s->draining)) {
            c->close_after_write = true; /* what is left is an unfinished request */
        }
        if (!conn_flush(s, c) || !backed_up || c->out.len > 0) {
            return;
        }
    }
}

static void conn_readable(struct server *s, struct conn *c)
{
    char chunk[READ_CHUNK];
    size_t cap = MAX_HEAD_BYTES + (size_t)s->cfg->max_body_bytes;
    while (c->in.len - c->in_off < cap) {
        ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
        if (n > 0) {
            mp_buf_add(&c->in, chunk, (size_t)n);
            if ((size_t)n < sizeof(chunk)) {
                break; /* drained; saves the recv that would say EAGAIN */
            }
            continue;
        }
        if (n == 0) {
            c->eof = true;
            break;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            break;
        }
        conn_close(s, c);
        return;
    }
    if (c->busy) {
        conn_set_events(s, c);
        return;
    }
    conn_advance(s, c);
}

static void complete_jobs(struct server *s)
{
    uint64_t v;
    ssize_t rn = read(s->wakefd, &v, sizeof(v));
    (void)rn;
    pthread_mutex_lock(&s->done_mu);
    struct job *j = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->done_mu);
    while (j != NULL) {
        struct job *next = j->next;
        struct conn *c = j->conn;
        atomic_fetch_sub(&s->metrics.in_flight, 1);
        histogram_observe(&s->metrics.request_seconds,
                          (double)(mp_mono_ns() - j->queued_at_ns) / 1e9);
        c->busy = false;
        if (c->dead) {
            metrics_count(&s->metrics, EP_INFER, j->status);
            conn_free(s, c);
        } else {
            respond(s, c, EP_INFER, j->status, "application/json", j->resp.data, j->resp.len,
                    j->keep_alive);
            conn_advance(s, c);
        }
        mp_buf_release(&j->resp);
        free(j->body);
        free(j);
        j = next;
    }
}

/* ---- set-up, loop, shutdown ---- */

static int open_listener(struct server *s)
{
    if (s->cfg->listen_fd >= 0) {
        s->lfd = (int)s->cfg->listen_fd;
        /* The accept loop runs until EAGAIN; an inherited socket may be blocking. */
        int fl = fcntl(s->lfd, F_GETFL);
        if (fl < 0 || fcntl(s->lfd, F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(s->lfd, F_SETFD, FD_CLOEXEC) != 0) {
            log_msg("--listen-fd %d: %s", s->lfd, strerror(errno));
            return -1;
        }
    } else {
        s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->lfd < 0) {
            log_msg("socket: %s", strerror(errno));
            return -1;
        }
        int one = 1;
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg->port)};
        if (inet_pton(AF_INET, s->cfg->host, &a.sin_addr) != 1) {
            log_msg("--host '%s' is not an IPv4 address", s->cfg->host);
            return -1;
        }
        if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(s->lfd, 1024) != 0) {
            log_msg("cannot listen on %s:%lld: %s", s->cfg->host, (long long)s->cfg->port,
                    strerror(errno));
            return -1;
        }
    }
    struct sockaddr_in bound = {0};
    socklen_t blen = sizeof(bound);
    if (getsockname(s->lfd, (struct sockaddr *)&bound, &blen) != 0) {
        log_msg("getsockname: %s", strerror(errno));
        return -1;
    }
    /* The runner reads this line to learn the port when it passed --port 0. */
    char host[INET_ADDRSTRLEN] = "?";
    inet_ntop(AF_INET, &bound.sin_addr, host, sizeof(host));
    printf("listening on %s:%u\n", host, (unsigned)ntohs(bound.sin_port));
    fflush(stdout);
    return 0;
}

static int add_watch(struct server *s, int fd, struct watch *w, enum watch_kind kind)
{
    w->kind = kind;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = w};
    return epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* Written by the signal handler (any thread may run it; write() is async-signal-safe). */
static int signal_fd = -1;

static void on_signal(int sig)
{
    (void)sig;
    int saved = errno;
    uint64_t one = 1;
    ssize_t n = write(signal_fd, &one, sizeof(one));
    (void)n;
    errno = saved;
}

static int setup(struct server *s)
{
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->sigfd < 0 || s->wakefd < 0 || s->epfd < 0) {
        log_msg("cannot create event descriptors: %s", strerror(errno));
        return -1;
    }
    /* A handler rather than a blocked mask and signalfd: libraries may have started threads
     * before main, and any of them could receive the signal. */
    signal_fd = s->sigfd;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (open_listener(s) != 0) {
        return -1;
    }
    if (add_watch(s, s->lfd, &s->listen_w, WATCH_LISTEN) != 0 ||
        add_watch(s, s->wakefd, &s->wake_w, WATCH_WAKE) != 0 ||
        add_watch(s, s->sigfd, &s->signal_w, WATCH_SIGNAL) != 0) {
        log_msg("epoll_ctl: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void start_workers(struct server *s)
{
    s->threads = mp_xcalloc((size_t)s->cfg->workers, sizeof(pthread_t));
    for (size_t i = 0; i < (size_t)s->cfg->workers; i++) {
        int rc = pthread_create(&s->threads[i], NULL, worker_main, s);
        if (rc != 0) {
            log_msg("pthread_create: %s", strerror(rc));
            atomic_store(&s->load_failed, true);
            break;
        }
        s->n_threads++;
    }
}

/* Stops accepting, refuses new work, and closes idle connections. */
static void begin_drain(struct server *s)
{
    if (s->draining) {
        return;
    }
    s->draining = true;
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->lfd, NULL);
    close(s->lfd);
    s->lfd = -1;
    batchq_close(s->q);
    struct conn *c = s->conns;
    while (c != NULL) {
        struct conn *next = c->next;
        if (!c->busy && c->out_off == c->out.len) {
            conn_close(s, c);
        }
        c = next;
    }
}

static void handle_event(struct server *s, struct epoll_event *ev)
{
    struct watch *w = ev->data.ptr;
    switch (w->kind) {
    case WATCH_LISTEN:
        accept_all(s);
        break;
    case WATCH_WAKE:
        complete_jobs(s);
        break;
    case WATCH_SIGNAL: {
        uint64_t v = 0;
        if (read(s->sigfd, &v, sizeof(v)) == (ssize_t)sizeof(v) && !s->draining) {
            log_msg("signal received: draining");
        }
        begin_drain(s);
        break;
    }
    case WATCH_CONN: {
        struct conn *c = (struct conn *)w;
        if (c->fd < 0) {
            break;
        }
        if ((ev->events & (EPOLLERR | EPOLLHUP)) != 0 && (ev->events & EPOLLIN) == 0) {
            conn_close(s, c);
        } else if ((ev->events & EPOLLIN) != 0) {
            conn_readable(s, c);
        } else if ((ev->events & EPOLLOUT) != 0) {
            conn_advance(s, c); /* flushes, then parses requests held back by a full output */
        }
        break;
    }
    }
}

static void io_loop(struct server *s)
{
    struct epoll_event evs[MAX_EVENTS];
    int64_t drain_deadline = 0;
    for (;;) {
        if (atomic_load(&s->load_failed) && s->exit_code == 0) {
            pthread_mutex_lock(&s->done_mu);
            log_msg("cannot load the model: %s", s->load_error);
            pthread_mutex_unlock(&s->done_mu);
            s->exit_code = 1;
            begin_drain(s);
        }
        if (s->draining) {
            if (drain_deadline == 0) {
                drain_deadline = mp_mono_ns() + (int64_t)DRAIN_TIMEOUT_S * 1000000000;
            }
            if (s->n_conns == 0 || mp_mono_ns() > drain_deadline) {
                return;
            }
        }
        int n = epoll_wait(s->epfd, evs, MAX_EVENTS, s->draining ? 100 : -1);
        if (n < 0 && errno != EINTR) {
            log_msg("epoll_wait: %s", strerror(errno));
            s->exit_code = 1;
            return;
        }
        for (int i = 0; i < n; i++) {
            handle_event(s, &evs[i]);
        }
        bury(s);
    }
}

static void teardown(struct server *s)
{
    if (s->q != NULL) {
        batchq_close(s->q);
    }
    for (size_t i = 0; i < s->n_threads; i++) {
        pthread_join(s->threads[i], NULL);
    }
    free(s->threads);
    /* Requests no worker took (every worker failed to load the model). */
    void *left = NULL;
    while (s->q != NULL && batchq_pop_batch(s->q, &left, 1, 0) == 1) {
        struct job *lj = left;
        lj->conn->busy = false;
        free(lj->body);
        free(lj);
    }
    /* Jobs that finished after the drain deadline, and connections still open then. */
    struct job *j = s->done_head;
    while (j != NULL) {
        struct job *next = j->next;
        j->conn->busy = false;
        mp_buf_release(&j->resp);
        free(j->body);
        free(j);
        j = next;
    }
    while (s->conns != NULL) {
        struct conn *c = s->conns;
        if (c->fd >= 0) {
            close(c->fd);
        }
        conn_free(s, c);
    }
    bury(s);
    batchq_free(s->q);
    int fds[] = {s->lfd, s->wakefd, s->sigfd, s->epfd};
    for (size_t i = 0; i < MP_ARRAY_LEN(fds); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    pthread_mutex_destroy(&s->done_mu);
}

int server_run(const struct server_config *cfg)
{
    struct server s = {.cfg = cfg, .epfd = -1, .lfd = -1, .wakefd = -1, .sigfd = -1};
    pthread_mutex_init(&s.done_mu, NULL);
    atomic_init(&s.loaded, 0);
    atomic_init(&s.load_failed, false);
    metrics_init(&s.metrics, model_kind_name(cfg->model));
    s.metrics.workers = cfg->workers;
    s.metrics.omp_threads = cfg->omp_threads;
    s.metrics.max_batch = cfg->max_batch;
    s.metrics.batch_timeout_us = cfg->batch_timeout_us;
    s.metrics.queue_limit = cfg->queue_limit;
    if (setup(&s) != 0) {
        teardown(&s);
        return 1;
    }
    s.q = batchq_new((size_t)cfg->queue_limit);
    start_workers(&s);
    io_loop(&s);
    teardown(&s);
    if (s.exit_code == 0) {
        log_msg("stopped");
    }
    return s.exit_code;
}
