/* SPDX-License-Identifier: Apache-2.0 */
/* Hostile and measuring HTTP clients for `morphling serve` tests (loopback only).
 *
 * usage: http_pressure hold --port P --from ADDR [--slow N] [--streams M] [--token T]
 *        http_pressure streams --port P --from ADDR --count N --token T
 *        http_pressure probe --port P --token T [--count K] [--path PATH] [--retries R]
 *
 *   hold     keeps N connections from ADDR sending a request head one byte a second (never
 *            finishing it) and M event streams (GET /api/v1/events with the token), reopening
 *            every one the server closes, until killed. Each second it prints one line:
 *            "slow_open=X slow_opened=Y streams_open=Z streams_refused=W".
 *   streams  opens N event streams from ADDR, prints "streams_open=X" once every answer head has
 *            arrived, then holds them until its stdin closes, and closes them all at once.
 *   probe    K requests (default 200) of GET PATH (default /api/v1/experiments) with the token,
 *            one connection each from 127.0.0.1, one after the other, each tried again up to
 *            R times (--retries R, default 0) when its connection closed without an answer;
 *            prints "answered=A of K (N retried), p50_ms=.. p99_ms=.. max_ms=.." and exits 1
 *            unless every answer was a 200. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define MAX_CONNS 4096

static struct {
    int port;
    const char *from, *token, *path;
    long slow, streams, count, retries;
} opt = {0, "127.0.0.2", "", "/api/v1/experiments", 0, 0, 200, 0};

static void die(const char *what)
{
    fprintf(stderr, "http_pressure: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* A non-blocking connection from `from` to 127.0.0.1:port; -1 when the kernel refuses now. */
static int open_conn(const char *from, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)opt.port);
    /* A blocking client gives up after 30 s, so a server that never answers fails the test
     * instead of hanging it. */
    struct timeval tv = {.tv_sec = 30};
    if (!nonblock) {
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
        (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

static char *stream_request(void)
{
    return mp_xasprintf("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: "
                        "Bearer %s\r\n\r\n",
                        opt.port, opt.token);
}

/* One held connection: a slow head or an event stream. */
struct conn {
    int fd;
    bool stream, answered;
    size_t sent;
};

/* Reads what arrived; false when the server closed the connection. */
static bool read_some(struct conn *c, long *refused)
{
    char buf[4096];
    for (;;) {
        ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            if (c->stream && !c->answered && n >= 12) {
                c->answered = true;
                if (strncmp(buf + 9, "200", 3) != 0) {
                    (*refused)++;
                    return false;
                }
            }
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
    }
}

static void tick(struct conn *conns, long n, const char *req, long *opened)
{
    static const char slow_head[] = "GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa";
    /* Streams (the last ones) first: they then get their share of the address's places. */
    for (long i = n - 1; i >= 0; i--) {
        struct conn *c = &conns[i];
        if (c->fd < 0) {
            c->fd = open_conn(opt.from, true);
            c->sent = 0;
            c->answered = false;
            *opened += c->fd >= 0 && !c->stream;
        }
        if (c->fd < 0) {
            continue;
        }
        const char *data = c->stream ? req : slow_head;
        size_t len = c->stream ? strlen(req) : sizeof(slow_head) - 1;
        /* A slow head gets one byte a tick; a stream its whole request. */
        size_t want = c->stream ? len - c->sent : (c->sent < len ? 1 : 0);
        if (want > 0) {
            ssize_t w = send(c->fd, data + c->sent, want, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) {
                c->sent += (size_t)w;
            } else if (w < 0 && errno != EAGAIN && errno != ENOTCONN && errno != EINPROGRESS) {
                close(c->fd);
                c->fd = -1;
            }
        }
    }
}

_Noreturn static void hold(void)
{
    long n = opt.slow + opt.streams;
    if (n > MAX_CONNS) {
        errno = EINVAL;
        die("too many connections");
    }
    struct conn *conns = mp_xcalloc((size_t)n + 1, sizeof(*conns));
    struct pollfd *pfd = mp_xcalloc((size_t)n + 1, sizeof(*pfd));
    for (long i = 0; i < n; i++) {
        conns[i].fd = -1;
        conns[i].stream = i >= opt.slow;
    }
    char *req = stream_request();
    long opened = 0, refused = 0;
    for (;;) {
        tick(conns, n, req, &opened);
        int64_t until = mp_mono_ns() + 1000000000LL;
        while (mp_mono_ns() < until) {
            for (long i = 0; i < n; i++) {
                pfd[i].fd = conns[i].fd;
                pfd[i].events = POLLIN;
            }
            int r = poll(pfd, (nfds_t)n, (int)((until - mp_mono_ns()) / 1000000) + 1);
            for (long i = 0; r > 0 && i < n; i++) {
                if (pfd[i].fd >= 0 && pfd[i].revents && !read_some(&conns[i], &refused)) {
                    close(conns[i].fd);
                    conns[i].fd = -1;
                }
            }
        }
        long slow_open = 0, streams_open = 0;
        for (long i = 0; i < n; i++) {
            slow_open += !conns[i].stream && conns[i].fd >= 0;
            streams_open += conns[i].stream && conns[i].fd >= 0 && conns[i].answered;
        }
        printf("slow_open=%ld slow_opened=%ld streams_open=%ld streams_refused=%ld\n", slow_open,
               opened, streams_open, refused);
        fflush(stdout);
    }
}

/* Reads the status line of an answer; 0 when the connection closed first. */
static int read_status(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n")) {
            break;
        }
    }
    buf[len] = '\0';
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
        return 0;
    }
    return (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
}

static int streams(void)
{
    int *fds = mp_xcalloc((size_t)opt.count + 1, sizeof(int));
    char *req = stream_request();
    long ok = 0;
    for (long i = 0; i < opt.count; i++) {
        char buf[256];
        fds[i] = open_conn(opt.from, false);
        if (fds[i] >= 0 && send(fds[i], req, strlen(req), MSG_NOSIGNAL) > 0 &&
            read_status(fds[i], buf, sizeof(buf)) == 200) {
            ok++;
        }
    }
    printf("streams_open=%ld\n", ok);
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {
    }
    for (long i = 0; i < opt.count; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    free(fds);
    free(req);
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One GET on a new connection: its status, 0 when the connection closed without an answer, -1
 * without a connection. */
static int probe_once(const char *req)
{
    int fd = open_conn("127.0.0.1", false);
    char buf[65536];
    int status = fd < 0 ? -1 : 0;
    if (fd >= 0 && send(fd, req, strlen(req), MSG_NOSIGNAL) > 0) {
        status = read_status(fd, buf, sizeof(buf));
        while (status && recv(fd, buf, sizeof(buf), 0) > 0) {
        } /* the whole answer: the server closes after it */
    }
    if (fd >= 0) {
        close(fd);
    }
    return status;
}

static int probe(void)
{
    double *ms = mp_xcalloc((size_t)opt.count + 1, sizeof(double));
    char *req = mp_xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer "
                             "%s\r\n\r\n",
                             opt.path, opt.port, opt.token);
    long answered = 0, retried = 0;
    for (long i = 0; i < opt.count; i++) {
        int64_t t0 = mp_mono_ns();
        int status = probe_once(req);
        /* A connection closed before any answer is tried again, as browsers retry a GET. */
        for (long r = 0; r < opt.retries && status == 0; r++, retried++) {
            status = probe_once(req);
        }
        ms[i] = (double)(mp_mono_ns() - t0) / 1e6;
        answered += status == 200;
        if (status != 200) { /* which one and how, for a failure seen once in a busy run */
            fprintf(stderr, "http_pressure: request %ld after %.1f ms: %s %d\n", i + 1, ms[i],
                    status < 0 ? "no connection"
                    : status   ? "status"
                               : "closed without an answer",
                    status);
        }
    }
    qsort(ms, (size_t)opt.count, sizeof(double), cmp_double);
    size_t n = (size_t)opt.count;
    printf("answered=%ld of %ld (%ld retried), p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", answered,
           opt.count, retried, ms[n / 2],
           ms[(size_t)((double)n * 0.99) < n ? (size_t)((double)n * 0.99) : n - 1], ms[n - 1]);
    free(ms);
    free(req);
    return answered == opt.count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_pressure hold|streams|probe --port P ...\n");
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        int64_t num = 0;
        bool is_num = mp_parse_int64(v, &num) == 0 && num >= 0;
        if (strcmp(k, "--port") == 0 && is_num) {
            opt.port = (int)num;
        } else if (strcmp(k, "--from") == 0) {
            opt.from = v;
        } else if (strcmp(k, "--token") == 0) {
            opt.token = v;
        } else if (strcmp(k, "--path") == 0) {
            opt.path = v;
        } else if (strcmp(k, "--slow") == 0 && is_num) {
            opt.slow = (long)num;
        } else if (strcmp(k, "--streams") == 0 && is_num) {
            opt.streams = (long)num;
        } else if (strcmp(k, "--count") == 0 && is_num) {
            opt.count = (long)num;
        } else if (strcmp(k, "--retries") == 0 && is_num) {
            opt.retries = (long)num;
        } else {
            fprintf(stderr, "http_pressure: bad option %s %s\n", k, v);
            return 2;
        }
    }
    /* A thousand connections need more descriptors than the usual soft limit of 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (strcmp(argv[1], "hold") == 0) {
        hold();
    }
    if (strcmp(argv[1], "streams") == 0) {
        return streams();
    }
    if (strcmp(argv[1], "probe") == 0 && opt.count > 0) {
        return probe();
    }
    fprintf(stderr, "http_pressure: unknown mode %s\n", argv[1]);
    return 2;
}
