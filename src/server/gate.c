/* SPDX-License-Identifier: Apache-2.0 */
/* The gate in front of libmicrohttpd: one epoll thread accepts every connection and holds it,
 * at the cost of a descriptor, until its whole request head has arrived (peeked, not read), then
 * hands it to the daemon. Slow or idle clients therefore never take one of the daemon's
 * threads, a head has a total deadline, each client address may keep only so many connections
 * waiting here (a new one pushes out that address's oldest), and heads that are too long or
 * malformed get the API's JSON errors (400, 408, 411, 413, 414, 431) instead of the library's
 * HTML pages. */
#define _GNU_SOURCE /* accept4 */
#include "server/server_int.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define TICK_MS         100
#define CLOSE_LINGER_NS 1000000000LL /* time to drain a refused client before closing */
#define DRAIN_MAX       (1u << 20)

enum pend_state { PEND_HEAD, PEND_CLOSING };

/* A connection waiting for its request head (or being closed after an error answer). */
struct pend {
    int fd;
    enum pend_state state;
    int64_t accepted_ns, deadline_ns;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct pend *prev, *next;
};

struct gate {
    struct mp_server *srv;
    int listen_fd, epoll_fd, wake_fd;
    bool accept_paused;
    int64_t resume_ns;
    pthread_t thread;
    struct pend *list, *tail; /* newest first */
    struct pend *dead;        /* closed during this batch of events, freed after it */
    size_t n;
    char peek[MP_SERVER_MAX_HEADER_BYTES + 1];
};

int mp_srv_listen(const char *host, unsigned port, int *fd_out, unsigned *bound,
                  struct mp_error *err)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    int rc = mp_srv_sockaddr(host, port, &ss, &len, err);
    if (rc != 0) {
        return rc;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) != 0) {
        /* -EADDRINUSE stays what it is: `serve` then says how to pick a free port. */
        rc = mp_error_set(err, errno == EADDRINUSE ? -EADDRINUSE : MP_ERUNTIME,
                          "cannot listen on %s:%u: %s", host, port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return rc;
    }
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

bool mp_srv_same_address(const struct sockaddr *a, const struct sockaddr *b)
{
    if (!a || !b || a->sa_family != b->sa_family) {
        return false;
    }
    if (a->sa_family == AF_INET) {
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
        const struct in6_addr *y = &((const struct sockaddr_in6 *)b)->sin6_addr;
        /* One /64 is one client's network (a host may take any address in it); an IPv4 client
         * of a dual-stack socket (::ffff:a.b.c.d) is its IPv4 address. */
        bool whole = IN6_IS_ADDR_V4MAPPED(x) || IN6_IS_ADDR_V4MAPPED(y);
        return memcmp(x, y, whole ? sizeof(*x) : 8) == 0;
    }
    return false;
}

/* Closes a connection and unlinks it. Its memory lives on until the current batch of epoll
 * events is done (free_dead), since a later event of the batch may still point at it. */
static void pend_close(struct gate *g, struct pend *p)
{
    if (p->fd >= 0) {
        epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
        close(p->fd);
        p->fd = -1;
    }
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        g->list = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    } else {
        g->tail = p->prev;
    }
    g->n--;
    p->next = g->dead;
    g->dead = p;
}

static void free_dead(struct gate *g)
{
    while (g->dead) {
        struct pend *p = g->dead;
        g->dead = p->next;
        free(p);
    }
}

/* Reads and drops what the client sent, so closing does not reset the connection before it
 * has read our answer. Returns false once the client has closed its side. */
static bool drain(struct gate *g, int fd)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = recv(fd, g->peek, sizeof(g->peek), MSG_DONTWAIT);
        if (n > 0 && (total += (size_t)n) < DRAIN_MAX) {
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

/* Answers a head the daemon will not see with a JSON error, then closes after a short drain.
 * got holds the n bytes that arrived (n may be 0), for the metrics' method label. */
static void refuse(struct gate *g, struct pend *p, const char *got, size_t n, unsigned status,
                   const char *reason, const char *code, const char *message)
{
    char body[256], head[512];
    int blen = snprintf(body, sizeof(body), "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}",
                        code, message);
    int hlen = snprintf(head, sizeof(head),
                        "HTTP/1.1 %u %s\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\nConnection: close\r\n"
                        "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
                        "Referrer-Policy: no-referrer\r\nCache-Control: no-store\r\n"
                        "Cross-Origin-Resource-Policy: same-origin\r\n\r\n",
                        status, reason, blen);
    bool open = drain(g, p->fd);
    if (send(p->fd, head, (size_t)hlen, MSG_DONTWAIT | MSG_NOSIGNAL) == hlen) {
        (void)!send(p->fd, body, (size_t)blen, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    shutdown(p->fd, SHUT_WR);
    struct request req = {.route = "gate", .status = status, .start_ns = p->accepted_ns};
    const char *sp = memchr(got, ' ', n);
    mp_srv_metrics_method(&req, got, sp ? (size_t)(sp - got) : 0);
    mp_srv_metrics_record(&g->srv->metrics, &req);
    if (!open) {
        pend_close(g, p);
        return;
    }
    p->state = PEND_CLOSING;
    p->deadline_ns = mp_mono_ns() + CLOSE_LINGER_NS;
}

/* Makes room for a new connection from ss: over the address's share its oldest waiting
 * connection is dropped, over the total the oldest of all. A new connection is never refused,
 * so a client that sends its head at once gets through whoever holds the rest, unless 32 newer
 * connections from its own address come before its head (docs/api.md, "Limits"). */
static void make_room(struct gate *g, const struct sockaddr_storage *ss)
{
    size_t mine = 0;
    struct pend *oldest_mine = NULL;
    for (struct pend *p = g->tail; p; p = p->prev) {
        if (mp_srv_same_address((const struct sockaddr *)&p->addr, (const struct sockaddr *)ss)) {
            oldest_mine = oldest_mine ? oldest_mine : p;
            mine++;
        }
    }
    if (mine >= MP_SERVER_MAX_PER_ADDRESS) {
        pend_close(g, oldest_mine);
    } else if (g->n >= MP_SERVER_MAX_PENDING) {
        pend_close(g, g->tail);
    }
}

static void on_readable(struct gate *g, struct pend *p);

static void accept_all(struct gate *g)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(g->listen_fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && errno == EINTR) {
            continue;
        }
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: stop accepting for a tick instead of spinning. */
                epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, g->listen_fd, NULL);
                g->accept_paused = true;
                g->resume_ns = mp_mono_ns() + TICK_MS * 1000000LL;
            }
            return;
        }
        make_room(g, &ss);
        struct pend *p = mp_xcalloc(1, sizeof(*p));
        p->fd = fd;
        p->addr = ss;
        p->addr_len = len;
        p->accepted_ns = mp_mono_ns();
        p->deadline_ns = p->accepted_ns + MP_SERVER_HEAD_TIMEOUT_S * 1000000000LL;
        p->next = g->list;
        if (g->list) {
            g->list->prev = p;
        } else {
            g->tail = p;
        }
        g->list = p;
        g->n++;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.ptr = p};
        if (epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            pend_close(g, p);
            continue;
        }
        on_readable(g, p); /* a head sent with the connection goes through at once */
    }
}

/* Where the head ends (just past the blank line), or 0 while it is incomplete. */
static size_t head_end(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] == '\n' && buf[i + 1] == '\n') {
            return i + 2;
        }
        if (buf[i] == '\n' && buf[i + 1] == '\r' && i + 2 < n && buf[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

static bool token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* METHOD SP TARGET SP HTTP/1.x, with no escaped NUL in the target (it would end the decoded
 * path or value early: "/app.js%00x") and at most MP_SERVER_MAX_QUERY_ARGS query arguments.
 * 0 when it is one. */
static unsigned request_line_check(const char *line, size_t n, const char **code, const char **msg)
{
    const char *sp1 = memchr(line, ' ', n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + n - sp1 - 1)) : NULL;
    if (!sp1 || sp1 == line || !sp2 || sp2 == sp1 + 1 || (size_t)(line + n - sp2) != 9 ||
        strncmp(sp2 + 1, "HTTP/1.", 7) != 0 || (sp2[8] != '0' && sp2[8] != '1')) {
        return MHD_HTTP_BAD_REQUEST;
    }
    for (const char *c = line; c < sp1; c++) {
        if (!token_char(*c)) {
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    for (const char *c = sp1 + 1; c + 2 < sp2; c++) {
        if (c[0] == '%' && c[1] == '0' && c[2] == '0') {
            *msg = "an escaped NUL (%00) in the request target";
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    const char *query = memchr(sp1 + 1, '?', (size_t)(sp2 - sp1 - 1));
    size_t args = query ? 1 : 0;
    for (const char *c = query; c && c < sp2; c++) {
        args += *c == '&';
    }
    if (args > MP_SERVER_MAX_QUERY_ARGS) {
        *code = "uri_too_long";
        *msg = "the request target has over 100 query arguments";
        return MHD_HTTP_URI_TOO_LONG;
    }
    return 0;
}

/* Fields a request may carry once (RFC 9112, 3.2 and 6.3), and counts of what libmicrohttpd
 * keeps one record each of in its fixed per-connection memory (MHD_OPTION_CONNECTION_MEMORY_LIMIT):
 * a head of allowed size with some 1,600 fields, 1,800 cookies or 2,000 query arguments overflowed
 * it, answered with an HTML 431 or a connection closed without an answer. */
struct head_counts {
    unsigned hosts, lengths;
    size_t fields, cookies;
    bool bodiless; /* GET or HEAD: no body */
};

/* NAME: VALUE, with no chunked body, one Host and one Content-Length of at most the body
 * limit. 0 when it is one. */
static unsigned header_line_check(const char *line, size_t n, struct head_counts *seen,
                                  const char **code, const char **msg)
{
    const char *colon = memchr(line, ':', n);
    if (!colon || colon == line) {
        return MHD_HTTP_BAD_REQUEST;
    }
    for (const char *c = line; c < colon; c++) {
        if (!token_char(*c)) {
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    size_t name = (size_t)(colon - line);
    const char *v = colon + 1, *vend = line + n;
    if (++seen->fields > MP_SERVER_MAX_HEADER_FIELDS) {
        *code = "header_too_large";
        *msg = "the request head has over 100 header fields";
        return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
    }
    if (name == 6 && strncasecmp(line, "Cookie", 6) == 0) {
        /* The library splits a Cookie field at ';' and ','. */
        seen->cookies++;
        for (const char *c = v; c < vend; c++) {
            seen->cookies += *c == ';' || *c == ',';
        }
        if (seen->cookies > MP_SERVER_MAX_COOKIES) {
            *code = "header_too_large";
            *msg = "the request head has over 200 cookies";
            return MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE;
        }
    }
    while (v < vend && (*v == ' ' || *v == '\t')) {
        v++;
    }
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t')) {
        vend--;
    }
    if (name == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0) {
        *code = "length_required";
        *msg = "send the request body with a Content-Length";
        return MHD_HTTP_LENGTH_REQUIRED;
    }
    bool length = name == 14 && strncasecmp(line, "Content-Length", 14) == 0;
    if ((name == 4 && strncasecmp(line, "Host", 4) == 0 && ++seen->hosts > 1) ||
        (length && ++seen->lengths > 1)) {
        *msg = "a repeated Host or Content-Length header";
        return MHD_HTTP_BAD_REQUEST;
    }
    if (length) {
        size_t digits = 0;
        uint64_t value = 0;
        for (const char *c = v; c < vend && *c >= '0' && *c <= '9' && digits < 19; c++) {
            value = value * 10 + (uint64_t)(*c - '0');
            digits++;
        }
        if (digits == 0 || v + digits != vend || value > MP_SERVER_MAX_BODY_BYTES) {
            *code = "too_large";
            *msg = "request body over 1048576 bytes (or a bad Content-Length)";
            return HTTP_TOO_LARGE;
        }
        /* No GET or HEAD route reads a body, and the public ones (the dashboard's files,
         * /healthz) would otherwise let a client without the token hold a worker for the
         * body's whole deadline: 32 of them, trickling, locked out every other client of
         * their address. */
        if (value > 0 && seen->bodiless) {
            *msg = "a GET or HEAD request carries no body";
            return MHD_HTTP_BAD_REQUEST;
        }
    }
    return 0;
}

/* Whether a line of the head holds a control character other than HTAB: NUL, DEL and the rest
 * are no part of a request line or a field value (RFC 9110, 5.5: a recipient must refuse NUL,
 * CR and LF in a value or replace them). libmicrohttpd ends the path or the value at a NUL:
 * "GET /healthz\0x" was served as /healthz, "Authorization: Bearer TOKEN\0junk" passed. */
static bool has_control(const char *line, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)line[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return true;
        }
    }
    return false;
}

/* Checks what libmicrohttpd would otherwise refuse with an HTML page: the request line, header
 * lines, Content-Length, chunked bodies (refused: a body needs a length). */
unsigned mp_server_head_check(const char *head, size_t len, const char **code, const char **msg)
{
    const char *end = head + len, *line = head;
    bool first = true;
    struct head_counts seen = {0};
    *code = "bad_request";
    *msg = "malformed request head";
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((nl ? nl : end) - line);
        if (n > 0 && line[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            return first ? MHD_HTTP_BAD_REQUEST : 0; /* the blank line ends the head */
        }
        if (memchr(line, '\r', n)) {
            /* RFC 9112 2.2: a bare CR is refused; a proxy ending lines at it would read other
             * header fields than the daemon, which does not. */
            *msg = "a bare CR in the request head";
            return MHD_HTTP_BAD_REQUEST;
        }
        if (has_control(line, n)) {
            *msg = "a control character (such as NUL) in the request head";
            return MHD_HTTP_BAD_REQUEST;
        }
        if (first) {
            seen.bodiless = (n > 4 && strncmp(line, "GET ", 4) == 0) ||
                            (n > 5 && strncmp(line, "HEAD ", 5) == 0);
        }
        unsigned status = first ? request_line_check(line, n, code, msg)
                                : header_line_check(line, n, &seen, code, msg);
        if (status != 0) {
            return status;
        }
        first = false;
        line = nl ? nl + 1 : end;
    }
    return MHD_HTTP_BAD_REQUEST; /* no blank line: not a whole head */
}

static void hand_over(struct gate *g, struct pend *p)
{
    epoll_ctl(g->epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
    /* The daemon owns (and closes) the socket from here, whatever the result; over its
     * per-address or total limit it closes it at once. */
    (void)MHD_add_connection(g->srv->daemon, p->fd, (struct sockaddr *)&p->addr, p->addr_len);
    p->fd = -1;
    pend_close(g, p);
}

static const char *reason_phrase(unsigned status)
{
    return status == MHD_HTTP_LENGTH_REQUIRED                   ? "Length Required"
           : status == HTTP_TOO_LARGE                           ? "Content Too Large"
           : status == MHD_HTTP_URI_TOO_LONG                    ? "URI Too Long"
           : status == MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE ? "Request Header Fields Too Large"
                                                                : "Bad Request";
}

static void on_readable(struct gate *g, struct pend *p)
{
    if (p->fd < 0) {
        return; /* closed earlier in this batch */
    }
    if (p->state == PEND_CLOSING) {
        if (!drain(g, p->fd)) {
            pend_close(g, p);
        }
        return;
    }
    ssize_t n = recv(p->fd, g->peek, sizeof(g->peek), MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        pend_close(g, p);
        return;
    }
    if (n < 0) {
        return;
    }
    size_t end = 0;
    const char *eol = memchr(g->peek, '\n', (size_t)n);
    size_t line = eol ? (size_t)(eol - g->peek) : (size_t)n;
    if (line > MP_SERVER_MAX_REQUEST_LINE_BYTES) {
        refuse(g, p, g->peek, (size_t)n, MHD_HTTP_URI_TOO_LONG, "URI Too Long", "uri_too_long",
               "the request line is over 8192 bytes");
    } else if ((end = head_end(g->peek, (size_t)n)) != 0) {
        const char *code = NULL, *msg = NULL;
        unsigned status = mp_server_head_check(g->peek, end, &code, &msg);
        if (status == 0) {
            hand_over(g, p);
        } else {
            refuse(g, p, g->peek, (size_t)n, status, reason_phrase(status), code, msg);
        }
    } else if ((size_t)n > MP_SERVER_MAX_HEADER_BYTES) {
        refuse(g, p, g->peek, (size_t)n, MHD_HTTP_REQUEST_HEADER_FIELDS_TOO_LARGE,
               "Request Header Fields Too Large", "header_too_large",
               "the request head is over 32768 bytes");
    }
}

static void on_tick(struct gate *g, int64_t now)
{
    if (g->accept_paused && now >= g->resume_ns) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
        g->accept_paused = epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->listen_fd, &ev) != 0;
    }
    struct pend *next = NULL;
    for (struct pend *p = g->list; p; p = next) {
        next = p->next;
        if (now < p->deadline_ns) {
            continue;
        }
        if (p->state == PEND_CLOSING) {
            pend_close(g, p);
        } else {
            refuse(g, p, "", 0, MHD_HTTP_REQUEST_TIMEOUT, "Request Timeout", "timeout",
                   "the request head did not arrive within 10 s");
        }
    }
}

static void *gate_main(void *arg)
{
    struct gate *g = arg;
    struct epoll_event evs[64];
    int64_t next_tick = mp_mono_ns();
    for (;;) {
        int n = epoll_wait(g->epoll_fd, evs, (int)MP_ARRAY_LEN(evs), TICK_MS);
        for (int i = 0; i < n; i++) {
            void *ptr = evs[i].data.ptr;
            if (ptr == &g->wake_fd) {
                return NULL;
            }
            if (ptr == &g->listen_fd) {
                accept_all(g);
            } else {
                on_readable(g, ptr);
            }
        }
        int64_t now = mp_mono_ns();
        if (now >= next_tick) {
            on_tick(g, now);
            next_tick = now + TICK_MS * 1000000LL;
        }
        free_dead(g);
    }
}

int mp_srv_gate_start(struct mp_server *srv, int listen_fd, struct mp_error *err)
{
    struct gate *g = mp_xcalloc(1, sizeof(*g));
    g->srv = srv;
    g->listen_fd = listen_fd;
    g->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    g->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &g->listen_fd};
    struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &g->wake_fd};
    if (g->epoll_fd < 0 || g->wake_fd < 0 ||
        epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, listen_fd, &lev) != 0 ||
        epoll_ctl(g->epoll_fd, EPOLL_CTL_ADD, g->wake_fd, &wev) != 0 ||
        pthread_create(&g->thread, NULL, gate_main, g) != 0) {
        int rc =
            mp_error_set(err, MP_ERUNTIME, "cannot start the connection gate: %s", strerror(errno));
        close(g->epoll_fd);
        close(g->wake_fd);
        close(listen_fd);
        free(g);
        return rc;
    }
    srv->gate = g;
    return 0;
}

void mp_srv_gate_stop(struct mp_server *srv)
{
    struct gate *g = srv->gate;
    if (!g) {
        return;
    }
    uint64_t one = 1;
    (void)!write(g->wake_fd, &one, sizeof(one));
    pthread_join(g->thread, NULL);
    while (g->list) {
        pend_close(g, g->list);
    }
    free_dead(g);
    close(g->listen_fd);
    close(g->epoll_fd);
    close(g->wake_fd);
    free(g);
    srv->gate = NULL;
}
