/* SPDX-License-Identifier: Apache-2.0 */
/* An HTTP server that answers every request with the same bytes from a file, however wrong they
 * are, so that tests can show the load generator unusual or hostile responses.
 *
 * usage: canned_http --response FILE [--close] [--no-read] [--idle-ms MS [--idle-response FILE]]
 *                    [--idle-race [--down-ms MS]] [--delay-ms MS] [--queue-full-ms MS]
 *
 *   --response FILE  the bytes written after each request (status line, headers and body as
 *                    they are in the file; nothing is added or checked)
 *   --close          close the connection after each response, without saying so in a header
 *   --no-read        accept connections and never read from them (nor answer)
 *   --idle-ms MS     close a connection idle for MS between requests (a keep-alive timeout),
 *                    first writing the bytes of --idle-response FILE if given
 *   --idle-race      answer the second request of each connection with the --idle-response
 *                    bytes and close it (its keep-alive timeout fired as the request came in)
 *   --down-ms MS     with --idle-race: the first such close also stops listening for MS, so that
 *                    connects are refused meanwhile (a server restarting)
 *   --delay-ms MS    wait MS after reading a request before answering it (or closing it, with
 *                    --idle-race)
 *   --queue-full-ms MS  start with a full accept queue, for MS: the kernel drops the SYNs of new
 *                    connections meanwhile, and the clients' connects take a retransmission
 *                    (about 1 s) to complete
 *
 * Listens on 127.0.0.1, any free port, printed on stdout as one line once listening. Reads each
 * request head and the body its Content-Length announces; one thread per connection. */
#define _GNU_SOURCE /* memmem */
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"

#define REQ_BUF 65536

static struct mp_buf response = MP_BUF_INIT, idle_response = MP_BUF_INIT;
static int idle_ms = -1, delay_ms, down_ms, queue_full_ms;
static bool close_after, no_read, idle_race;
static int listen_fd = -1;
static atomic_bool went_down, relisten; /* --down-ms: done once; the main thread listens again */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads one request (head and body) from buf[0..*have) and the socket. 0, or -1 at EOF. */
static int read_request(int fd, char *buf, size_t *have)
{
    char *end;
    while (!(end = memmem(buf, *have, "\r\n\r\n", 4))) {
        if (*have >= REQ_BUF) {
            return -1;
        }
        ssize_t n = read(fd, buf + *have, REQ_BUF - *have);
        if (n <= 0) {
            return -1;
        }
        *have += (size_t)n;
    }
    size_t head = (size_t)(end - buf) + 4;
    long long body = 0;
    for (char *line = memmem(buf, head, "\r\n", 2); line && line < end;
         line = memmem(line + 2, (size_t)(end - line), "\r\n", 2)) {
        if (strncasecmp(line + 2, "Content-Length:", 15) == 0) {
            body = strtoll(line + 17, NULL, 10);
        }
    }
    long long left = body - (long long)(*have - head);
    size_t keep = left < 0 ? (size_t)(-left) : 0; /* bytes of the next request */
    memmove(buf, buf + *have - keep, keep);
    *have = keep;
    while (left > 0) {
        ssize_t n = read(fd, buf, (size_t)left < REQ_BUF ? (size_t)left : REQ_BUF);
        if (n <= 0) {
            return -1;
        }
        left -= n;
    }
    return 0;
}

static void *serve(void *arg)
{
    int fd = (int)(intptr_t)arg;
    if (no_read) {
        for (;;) {
            pause();
        }
    }
    char *buf = mp_xmalloc(REQ_BUF);
    size_t have = 0;
    for (unsigned served = 0;; served++) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (have == 0 && idle_ms >= 0 && poll(&pfd, 1, idle_ms) == 0) {
            write_all(fd, idle_response.data, idle_response.len);
            break;
        }
        if (read_request(fd, buf, &have) < 0) {
            break;
        }
        if (delay_ms > 0) {
            poll(NULL, 0, delay_ms);
        }
        if (idle_race && served == 1) {
            if (down_ms > 0 && !atomic_exchange(&went_down, true)) {
                shutdown(listen_fd, SHUT_RDWR); /* refused from now on; wakes accept() */
                atomic_store(&relisten, true);
            }
            write_all(fd, idle_response.data, idle_response.len);
            break;
        }
        if (write_all(fd, response.data, response.len) < 0 || close_after) {
            break;
        }
    }
    free(buf);
    close(fd);
    return NULL;
}

/* Listens on sa (port 0: any free port, written back to sa). 0, or -1 with errno. */
static int listen_on(struct sockaddr_in *sa, int backlog)
{
    int one = 1;
    socklen_t len = sizeof(*sa);
    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd < 0 || setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(listen_fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 || listen(listen_fd, backlog) < 0 ||
        getsockname(listen_fd, (struct sockaddr *)sa, &len) < 0) {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *idle_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--response") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--close") == 0) {
            close_after = true;
        } else if (strcmp(argv[i], "--no-read") == 0) {
            no_read = true;
        } else if (strcmp(argv[i], "--idle-ms") == 0 && i + 1 < argc) {
            idle_ms = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--idle-response") == 0 && i + 1 < argc) {
            idle_path = argv[++i];
        } else if (strcmp(argv[i], "--idle-race") == 0) {
            idle_race = true;
        } else if (strcmp(argv[i], "--down-ms") == 0 && i + 1 < argc) {
            down_ms = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--queue-full-ms") == 0 && i + 1 < argc) {
            queue_full_ms = (int)strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--delay-ms") == 0 && i + 1 < argc) {
            delay_ms = (int)strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: canned_http --response FILE [--close] [--no-read] [--idle-ms "
                            "MS [--idle-response FILE]] [--idle-race [--down-ms MS]] [--delay-ms "
                            "MS] [--queue-full-ms MS]\n");
            return 2;
        }
    }
    struct mp_error err = {0};
    if (!path || mp_buf_read_input(&response, path, 64 << 20, &err) < 0) {
        fprintf(stderr, "canned_http: cannot read the response: %s\n", path ? err.msg : "none");
        return 2;
    }
    if (idle_path && mp_buf_read_input(&idle_response, idle_path, 64 << 20, &err) < 0) {
        fprintf(stderr, "canned_http: cannot read the idle response: %s\n", err.msg);
        return 2;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (listen_on(&sa, queue_full_ms > 0 ? 0 : 512) < 0) {
        perror("canned_http: listen");
        return 1;
    }
    if (queue_full_ms > 0) { /* a backlog of 0 holds one connection: this one fills it */
        int filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (filler < 0 || connect(filler, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            perror("canned_http: fill the accept queue");
            return 1;
        }
    }
    printf("%d\n", ntohs(sa.sin_port));
    fflush(stdout);
    if (queue_full_ms > 0) {
        poll(NULL, 0, queue_full_ms);
    }
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0 && atomic_exchange(&relisten, false)) {
            close(listen_fd); /* --down-ms: the same port again after the pause */
            poll(NULL, 0, down_ms);
            if (listen_on(&sa, 512) < 0) {
                perror("canned_http: listen again");
                return 1;
            }
        }
        if (fd < 0) {
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
