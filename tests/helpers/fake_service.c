/* SPDX-License-Identifier: Apache-2.0 */
/* A fake inference service whose capacity is known by construction, plus the failure behaviours
 * the load generator and the trial runners must survive.
 *
 * usage: fake_service [--mode MODE] [--port P] [--host ADDR] [--workers N] [--service-us US]
 *                     [--nonce STR] [--alloc-mb MB] [--start-delay-ms MS] [--exit-after-ms MS]
 *
 *   --port P          listen on 127.0.0.1:P (default 0: any free port; then the bound port is
 *                     printed on stdout as one line once listening)
 *   --host ADDR       IPv4 listen address (default 127.0.0.1)
 *   --workers N       simulated worker threads (default 4)
 *   --service-us US   service time of one /infer request (default 1000). Capacity is exactly
 *                     workers / service time: each worker keeps a virtual clock, so a request
 *                     that waited starts when the previous one was due to end, and sleep
 *                     overshoot never accumulates.
 *   --nonce STR       echoed in an X-Morphling-Nonce header on /healthz
 *   --alloc-mb MB     allocate and touch MB MiB before listening (mode alloc; default 512)
 *   --start-delay-ms  sleep this long before listening (any mode)
 *   --exit-after-ms   mode exit: exit with status 3 this long after becoming ready (default 300)
 *   --knee-rps R      latency that depends on the offered rate by construction, not on the
 *                     machine: while /infer requests arrive faster than R per second over both
 *                     the last 250 ms and the last second, each waits --over-ms (default 300)
 *                     more; below R it takes --service-us.
 *   --shed-rps R      /infer answers 503 at once to requests beyond R per second (a server whose
 *                     queue is full); with --shed-later-rps S and --shed-later-ms T, the limit is
 *                     S once the oldest open connection is T ms old: a service that holds R for
 *                     short runs but only S sustained (a load generator opens new connections
 *                     for each run)
 *   --wobble-ms T     steady noise: the service time of the T ms slots after it listens is
 *                     --service-us times 1 and 1.5 in turn (drawn at random per slot, a run of
 *                     slow slots now and then looked like drift to mp_measure_may_settle)
 *   --warm-requests N a service warming up: its first N /infer requests take three times
 *                     --service-us
 *   --mode MODE       healthy (default); no-listen (never listens); no-answer (accepts, reads,
 *                     never answers); unhealthy (/healthz returns 500); exit (exits after becoming
 *                     ready); alloc (allocates --alloc-mb, then healthy); ignore-term (ignores
 *                     SIGTERM); fork-tree (forks two children that each fork a grandchild, all
 *                     sleeping); setsid (forks a child that escapes with setsid and sleeps);
 *                     close-mid (/infer sends half a response and closes); malformed (/infer
 *                     answers with a malformed status line); huge-header (/infer sends a 1 MiB
 *                     header); chunked (/infer answers with a chunked body)
 *
 * Endpoints: GET /healthz, /infer (any method; the body is read and discarded; simulated work),
 * GET /metrics (requests served, workers, service time). HTTP/1.1 keep-alive, one thread per
 * connection. */
#define _GNU_SOURCE /* memmem, accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define MAX_WORKERS 1024
#define REQ_BUF     65536

static struct {
    const char *mode;
    const char *host;
    int64_t port, workers, service_us, alloc_mb, start_delay_ms, exit_after_ms;
    const char *nonce;
    int64_t knee_rps, over_ms;
    int64_t shed_rps, shed_later_rps, shed_later_ms;
    int64_t wobble_ms, warm_requests;
} cfg = {"healthy", "127.0.0.1", 0, 4, 1000, 512, 0, 300, NULL, 0, 300, 0, 0, 0, 0, 0};
static int64_t listening_ns; /* when it started to listen: --wobble-ms counts from it */
static int64_t warm_served;  /* /infer requests started (under pool_mu), for --warm-requests */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static int64_t free_at[MAX_WORKERS];
static bool busy[MAX_WORKERS];
static uint64_t next_ticket, serving;
static atomic_ullong served;

#define KNEE_SHORT_NS 250000000LL
#define KNEE_LONG_NS  1000000000LL
#define KNEE_RING     65536

/* Arrival times of the last KNEE_LONG_NS, for --knee-rps. */
static pthread_mutex_t knee_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t knee_ring[KNEE_RING];
static size_t knee_head, knee_len;

/* Records an arrival; true when the rate exceeds the knee over both the last 250 ms and the last
 * second. Means over windows, so a closed loop settles at the knee. The short window forgets a
 * higher previous rate within the load generator's 300 ms warm-up; the long one keeps a client
 * that fell behind and caught up with a burst (a busy machine) from looking faster than it is. */
static bool over_knee(int64_t arrival_ns)
{
    pthread_mutex_lock(&knee_mu);
    while (knee_len > 0 && knee_ring[knee_head] < arrival_ns - KNEE_LONG_NS) {
        knee_head = (knee_head + 1) % KNEE_RING;
        knee_len--;
    }
    if (knee_len < KNEE_RING) {
        knee_ring[(knee_head + knee_len) % KNEE_RING] = arrival_ns;
        knee_len++;
    }
    size_t recent = 0; /* arrivals in the short window: the newest ones */
    while (recent < knee_len && knee_ring[(knee_head + knee_len - 1 - recent) % KNEE_RING] >=
                                    arrival_ns - KNEE_SHORT_NS) {
        recent++;
    }
    double r = (double)cfg.knee_rps;
    bool over = (double)recent > r * (double)KNEE_SHORT_NS / 1e9 &&
                (double)knee_len > r * (double)KNEE_LONG_NS / 1e9;
    pthread_mutex_unlock(&knee_mu);
    return over;
}

/* For --shed-rps: when each open connection was accepted (0: not open), and a token bucket. */
#define MAX_FDS 65536
static pthread_mutex_t shed_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t open_since[MAX_FDS];
static int fd_high;
static double shed_tokens;
static int64_t shed_last_ns;

static void note_open(int fd, int64_t since_ns)
{
    if (fd < MAX_FDS) {
        pthread_mutex_lock(&shed_mu);
        open_since[fd] = since_ns;
        fd_high = fd > fd_high ? fd : fd_high;
        pthread_mutex_unlock(&shed_mu);
    }
}

/* True when this request is over the current limit (its bucket holds 20 ms of requests). */
static bool shed(int64_t now_ns)
{
    pthread_mutex_lock(&shed_mu);
    int64_t oldest = now_ns;
    for (int i = 0; i <= fd_high; i++) {
        if (open_since[i] && open_since[i] < oldest) {
            oldest = open_since[i];
        }
    }
    bool later = cfg.shed_later_ms > 0 && now_ns - oldest > cfg.shed_later_ms * 1000000;
    double limit = (double)(later ? cfg.shed_later_rps : cfg.shed_rps);
    double burst = limit * 0.02 > 1 ? limit * 0.02 : 1;
    if (now_ns > shed_last_ns) { /* arrivals stamped before the lock may come out of order */
        shed_tokens += (double)(now_ns - shed_last_ns) / 1e9 * limit;
        shed_tokens = shed_tokens < burst ? shed_tokens : burst;
        shed_last_ns = now_ns;
    }
    bool over = shed_tokens < 1;
    if (!over) {
        shed_tokens -= 1;
    }
    pthread_mutex_unlock(&shed_mu);
    return over;
}

static bool mode_is(const char *m)
{
    return strcmp(cfg.mode, m) == 0;
}

static void sleep_until(int64_t mono_ns)
{
    struct timespec ts = {.tv_sec = mono_ns / 1000000000, .tv_nsec = mono_ns % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

/* The service time of a request starting at start_ns (--wobble-ms, --warm-requests); called
 * under pool_mu. */
static int64_t service_ns(int64_t start_ns)
{
    double ns = (double)cfg.service_us * 1000;
    if (warm_served++ < cfg.warm_requests) {
        ns *= 3;
    }
    if (cfg.wobble_ms > 0 && (start_ns - listening_ns) / (cfg.wobble_ms * 1000000) % 2 == 1) {
        ns *= 1.5;
    }
    return (int64_t)ns;
}

/* Simulated work: FIFO over a pool of workers with virtual clocks (see the header comment). */
static void do_work(int64_t arrival_ns)
{
    pthread_mutex_lock(&pool_mu);
    uint64_t ticket = next_ticket++;
    int w = -1;
    for (;;) {
        if (ticket == serving) {
            for (int i = 0; i < cfg.workers; i++) {
                if (!busy[i] && (w < 0 || free_at[i] < free_at[w])) {
                    w = i;
                }
            }
            if (w >= 0) {
                break;
            }
        }
        pthread_cond_wait(&pool_cv, &pool_mu);
    }
    busy[w] = true;
    serving++;
    int64_t start = arrival_ns > free_at[w] ? arrival_ns : free_at[w];
    int64_t done = start + service_ns(start);
    pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    sleep_until(done);
    pthread_mutex_lock(&pool_mu);
    free_at[w] = done;
    busy[w] = false;
    pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *extra, const char *body)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n%sContent-Length: %zu\r\n\r\n",
                     status,
                     status == 200   ? "OK"
                     : status == 404 ? "Not Found"
                     : status == 503 ? "Service Unavailable"
                                     : "Error",
                     extra ? extra : "", strlen(body));
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return -1;
    }
    if (write_all(fd, head, (size_t)n) < 0) {
        return -1;
    }
    return write_all(fd, body, strlen(body));
}

static int infer_special(int fd)
{
    if (mode_is("close-mid")) {
        const char *half = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhalf";
        write_all(fd, half, strlen(half));
        return -1;
    }
    if (mode_is("malformed")) {
        const char *bad = "HTTP/1.1 2x0 WHAT\r\n\r\n";
        write_all(fd, bad, strlen(bad));
        return -1;
    }
    if (mode_is("huge-header")) {
        const char *start = "HTTP/1.1 200 OK\r\nX-Big: ";
        write_all(fd, start, strlen(start));
        char *big = mp_xmalloc(1 << 20);
        memset(big, 'a', 1 << 20);
        int rc = write_all(fd, big, 1 << 20);
        free(big);
        if (rc == 0) {
            write_all(fd, "\r\nContent-Length: 0\r\n\r\n", 23);
        }
        return -1;
    }
    const char *chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "7\r\n{\"resul\r\n9\r\nt\":\"ok\"}\n\r\n0\r\n\r\n";
    return write_all(fd, chunked, strlen(chunked));
}

static int route(int fd, const char *method, const char *path, int64_t arrival_ns)
{
    (void)method;
    if (strcmp(path, "/healthz") == 0) {
        char extra[320] = "";
        if (cfg.nonce) {
            snprintf(extra, sizeof(extra), "X-Morphling-Nonce: %s\r\n", cfg.nonce);
        }
        bool ok = !mode_is("unhealthy");
        return respond(fd, ok ? 200 : 500, extra, ok ? "ok\n" : "unhealthy\n");
    }
    if (strcmp(path, "/metrics") == 0) {
        char body[256];
        snprintf(body, sizeof(body),
                 "fake_requests_total %llu\nfake_workers %lld\nfake_service_us %lld\n",
                 (unsigned long long)atomic_load(&served), (long long)cfg.workers,
                 (long long)cfg.service_us);
        return respond(fd, 200, NULL, body);
    }
    if (strncmp(path, "/infer", 6) == 0 && (path[6] == '\0' || path[6] == '?')) {
        if (mode_is("no-answer")) {
            for (;;) {
                pause();
            }
        }
        if (cfg.shed_rps > 0 && shed(arrival_ns)) {
            return respond(fd, 503, NULL, "busy\n");
        }
        if (cfg.knee_rps > 0 && over_knee(arrival_ns)) {
            sleep_until(arrival_ns + cfg.over_ms * 1000000);
        }
        do_work(arrival_ns);
        atomic_fetch_add(&served, 1);
        if (mode_is("close-mid") || mode_is("malformed") || mode_is("huge-header") ||
            mode_is("chunked")) {
            return infer_special(fd);
        }
        return respond(fd, 200, NULL, "{\"result\":\"ok\"}\n");
    }
    return respond(fd, 404, NULL, "not found\n");
}

/* Value of header `name` in the head [p, end), or NULL. */
static const char *find_header(const char *head, const char *name)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, name, nl) == 0 && line[2 + nl] == ':') {
            return line + 3 + nl;
        }
    }
    return NULL;
}

/* Reads one request head and its body. Returns 1 to keep the connection, 0 to close. */
static int serve_one(int fd, char *buf, size_t *have)
{
    char *end;
    while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
        if (*have >= REQ_BUF - 1) {
            respond(fd, 431, NULL, "header too large\n");
            return 0;
        }
        ssize_t n = read(fd, buf + *have, REQ_BUF - 1 - *have);
        if (n <= 0) {
            return 0;
        }
        *have += (size_t)n;
    }
    size_t head_len = (size_t)(end - buf) + 4;
    end[2] = '\0'; /* NUL-terminate the head after the last header line's CRLF */
    char method[16], path[1024];
    if (sscanf(buf, "%15s %1023s", method, path) != 2) {
        return 0;
    }
    const char *cl = find_header(buf, "Content-Length");
    long long body = cl ? strtoll(cl, NULL, 10) : 0;
    bool close_after = find_header(buf, "Connection") && strstr(buf, "close");
    /* Discard the body. */
    size_t in_buf = *have - head_len;
    long long left = body - (long long)in_buf;
    size_t keep = left < 0 ? (size_t)(-left) : 0; /* pipelined bytes after the body */
    memmove(buf, buf + *have - keep, keep);
    *have = keep;
    while (left > 0) {
        ssize_t n = read(fd, buf, (size_t)left < REQ_BUF ? (size_t)left : REQ_BUF);
        if (n <= 0) {
            return 0;
        }
        left -= n;
    }
    if (route(fd, method, path, mp_mono_ns()) < 0) {
        return 0;
    }
    return !close_after;
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = mp_xmalloc(REQ_BUF);
    size_t have = 0;
    while (serve_one(fd, buf, &have) == 1) {
    }
    free(buf);
    note_open(fd, 0);
    close(fd);
    return NULL;
}

static int listen_on(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port)};
    if (inet_pton(AF_INET, cfg.host, &sa.sin_addr) != 1) {
        fprintf(stderr, "fake_service: --host %s: not an IPv4 address\n", cfg.host);
        exit(2);
    }
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0) {
        fprintf(stderr, "fake_service: cannot listen on %s:%lld: %s\n", cfg.host,
                (long long)cfg.port, strerror(errno));
        exit(1);
    }
    socklen_t len = sizeof(sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    if (cfg.port == 0) {
        printf("%d\n", ntohs(sa.sin_port));
        fflush(stdout);
    }
    return fd;
}

static void spawn_sleepers(void)
{
    if (mode_is("fork-tree")) {
        for (int i = 0; i < 2; i++) {
            if (fork() == 0) {
                if (fork() == 0) {
                    for (;;) {
                        pause();
                    }
                }
                for (;;) {
                    pause();
                }
            }
        }
    } else if (mode_is("setsid")) {
        if (fork() == 0) {
            setsid();
            for (;;) {
                pause();
            }
        }
    }
}

static void *exit_later(void *arg)
{
    (void)arg;
    sleep_until(mp_mono_ns() + cfg.exit_after_ms * 1000000);
    _exit(3);
}

static void usage_exit(const char *what)
{
    fprintf(stderr, "fake_service: %s (see the header of tests/helpers/fake_service.c)\n", what);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) {
            usage_exit("missing value");
        }
        const char *k = argv[i], *v = argv[++i];
        int64_t *num = strcmp(k, "--port") == 0             ? &cfg.port
                       : strcmp(k, "--workers") == 0        ? &cfg.workers
                       : strcmp(k, "--service-us") == 0     ? &cfg.service_us
                       : strcmp(k, "--alloc-mb") == 0       ? &cfg.alloc_mb
                       : strcmp(k, "--start-delay-ms") == 0 ? &cfg.start_delay_ms
                       : strcmp(k, "--exit-after-ms") == 0  ? &cfg.exit_after_ms
                       : strcmp(k, "--knee-rps") == 0       ? &cfg.knee_rps
                       : strcmp(k, "--over-ms") == 0        ? &cfg.over_ms
                       : strcmp(k, "--shed-rps") == 0       ? &cfg.shed_rps
                       : strcmp(k, "--shed-later-rps") == 0 ? &cfg.shed_later_rps
                       : strcmp(k, "--shed-later-ms") == 0  ? &cfg.shed_later_ms
                       : strcmp(k, "--wobble-ms") == 0      ? &cfg.wobble_ms
                       : strcmp(k, "--warm-requests") == 0  ? &cfg.warm_requests
                                                            : NULL;
        if (num) {
            if (mp_parse_int64(v, num) < 0 || *num < 0) {
                usage_exit("bad number");
            }
        } else if (strcmp(k, "--mode") == 0) {
            cfg.mode = v;
        } else if (strcmp(k, "--host") == 0) {
            cfg.host = v;
        } else if (strcmp(k, "--nonce") == 0) {
            cfg.nonce = v;
        } else {
            usage_exit("unknown option");
        }
    }
    if (cfg.workers < 1 || cfg.workers > MAX_WORKERS || cfg.port > 65535) {
        usage_exit("workers must be 1..1024 and port 0..65535");
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    prctl(PR_SET_TIMERSLACK, 1UL); /* precise sleeps: the service time is the whole point */
    signal(SIGPIPE, SIG_IGN);
    if (mode_is("ignore-term")) {
        signal(SIGTERM, SIG_IGN);
    }
    if (cfg.start_delay_ms > 0) {
        sleep_until(mp_mono_ns() + cfg.start_delay_ms * 1000000);
    }
    if (mode_is("alloc")) {
        size_t n = (size_t)cfg.alloc_mb << 20;
        char *p = mp_xmalloc(n);
        memset(p, 1, n); /* touch every page; never freed on purpose */
    }
    spawn_sleepers();
    if (mode_is("no-listen")) {
        for (;;) {
            pause();
        }
    }
    int lfd = listen_on();
    listening_ns = mp_mono_ns();
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 << 10);
    pthread_t t;
    if (mode_is("exit")) {
        pthread_create(&t, &attr, exit_later, NULL);
    }
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        note_open(fd, mp_mono_ns());
        if (pthread_create(&t, &attr, conn_main, (void *)(intptr_t)fd) != 0) {
            note_open(fd, 0);
            close(fd);
        }
    }
}
