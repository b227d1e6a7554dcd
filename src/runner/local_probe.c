/* SPDX-License-Identifier: Apache-2.0 */
/* Ports and readiness for the local runner: per-port leases held with flock() on lock files,
 * readiness probes (HTTP GET or TCP connect, loopback only) and the check that a listening
 * socket belongs to the trial's processes. */
#include "runner/local_int.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- port lease ---- */

bool mp_local_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

int mp_port_lease_acquire(const char *dir, int lo, int hi, uint64_t seed, struct mp_port_lease *l,
                          struct mp_error *err)
{
    l->port = 0;
    l->fd = -1;
    if (lo < 1 || hi > 65535 || lo > hi) {
        return mp_error_set(err, MP_EINVALID, "port range %d-%d is invalid", lo, hi);
    }
    bool created = mkdir(dir, 01777) == 0;
    if (!created && errno != EEXIST) {
        return mp_error_set(err, -errno, "port lock directory '%s': %s", dir, strerror(errno));
    }
    /* The folder is shared (and by default in /tmp): neither it nor a lock file in it may be a
     * symbolic link someone planted to make us create files elsewhere. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        return mp_error_set(err, -errno, "port lock directory '%s': %s", dir, strerror(errno));
    }
    if (created) {
        /* Shared by every user's runs (ports are shared too): undo the umask. */
        (void)fchmod(dfd, 01777);
    }
    int rc = mp_error_set(err, MP_EBUSY, "no free port in %d-%d", lo, hi);
    uint64_t span = (uint64_t)(hi - lo + 1);
    for (uint64_t k = 0; k < span; k++) {
        int port = lo + (int)((seed + k) % span);
        char name[32];
        snprintf(name, sizeof(name), "%d.lock", port);
        /* flock needs no write access, so another user's lock file works as well. */
        int fd = openat(dfd, name, O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0) {
            rc = mp_error_set(err, -errno, "port lock '%s/%s': %s", dir, name, strerror(errno));
            break;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && mp_local_port_free(port)) {
            l->port = port;
            l->fd = fd;
            rc = 0;
            break;
        }
        close(fd);
    }
    close(dfd);
    return rc;
}

void mp_port_lease_release(struct mp_port_lease *l)
{
    if (l->fd >= 0) {
        close(l->fd); /* drops the flock */
    }
    l->fd = -1;
    l->port = 0;
}

/* ---- probes ---- */

static int64_t ms_left(int64_t deadline_ns)
{
    int64_t left = (deadline_ns - mp_mono_ns()) / 1000000;
    return left < 0 ? 0 : left;
}

/* Connects to 127.0.0.1:port; returns the socket or -1 with r->outcome set. */
static int connect_to(int port, int64_t deadline_ns, struct mp_probe_result *r)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r->outcome = MP_PROBE_ERROR;
        r->error = errno;
        return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        int e = errno;
        if (e == EINPROGRESS) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            socklen_t len = sizeof(e);
            if (poll(&pf, 1, (int)ms_left(deadline_ns)) <= 0) {
                e = ETIMEDOUT;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) {
                e = errno;
            }
        }
        if (e != 0) {
            r->outcome = e == ECONNREFUSED ? MP_PROBE_REFUSED
                         : e == ETIMEDOUT  ? MP_PROBE_NO_ANSWER
                                           : MP_PROBE_ERROR;
            r->error = e == ETIMEDOUT ? 0 : e;
            close(fd);
            return -1;
        }
    }
    return fd;
}

static bool send_all(int fd, const char *p, size_t n, int64_t deadline_ns)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            return false;
        }
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        if (poll(&pf, 1, (int)ms_left(deadline_ns)) <= 0) {
            return false;
        }
    }
    return true;
}

/* Reads until the end of the header block (the body is not needed), after the len bytes buf
 * holds already. Returns the length buffered, or 0 when the deadline passed (or the connection
 * failed) before the header block was complete: a status line alone, with the rest never coming,
 * is no answer. */
static size_t read_head(int fd, char *buf, size_t len, size_t cap, int64_t deadline_ns)
{
    bool eof = false;
    while (len + 1 < cap) {
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n")) {
            break;
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n > 0) {
            len += (size_t)n;
            continue;
        }
        if (n == 0) {
            eof = true;
            break;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return 0;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, (int)ms_left(deadline_ns)) <= 0) {
            break;
        }
    }
    buf[len] = '\0';
    bool complete = eof || len + 1 >= cap || strstr(buf, "\r\n\r\n");
    return complete ? len : 0;
}

/* Drops an interim (1xx) response from the front of buf, len bytes, and returns the bytes left,
 * or (size_t)-1 when buf starts with no complete interim response. RFC 9110 §15.2: a client
 * takes one or more 1xx responses before the final one (a 103 Early Hints, an unasked 100
 * Continue): the probe read "answered 100" and the service never became ready. */
static size_t drop_interim(char *buf, size_t len)
{
    int major = 0, minor = 0, status = 0;
    const char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 ||
        status > 199 || status == 101) {
        return (size_t)-1;
    }
    size_t used = (size_t)(end + 4 - buf);
    memmove(buf, buf + used, len - used + 1);
    return len - used;
}

static void parse_head(const char *buf, struct mp_probe_result *r)
{
    int major = 0, minor = 0, status = 0;
    if (sscanf(buf, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || status < 100 ||
        status > 999) {
        r->outcome = MP_PROBE_NO_ANSWER;
        return;
    }
    r->status = status;
    r->outcome = status >= 200 && status < 300 ? MP_PROBE_OK : MP_PROBE_BAD_STATUS;
    static const char key[] = "x-morphling-nonce:";
    for (const char *line = strstr(buf, "\r\n"); line && line[2];) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        if (!end) {
            break;
        }
        if (strncasecmp(line, key, sizeof(key) - 1) == 0) {
            const char *v = line + sizeof(key) - 1;
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            size_t n = (size_t)(end - v);
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
                n--;
            }
            n = n < sizeof(r->nonce) - 1 ? n : sizeof(r->nonce) - 1;
            memcpy(r->nonce, v, n);
            r->nonce[n] = '\0';
            r->has_nonce = true;
        }
        line = end;
    }
}

void mp_local_probe(int port, const char *path, int64_t timeout_ns, struct mp_probe_result *r)
{
    memset(r, 0, sizeof(*r));
    int64_t deadline = mp_mono_ns() + timeout_ns;
    int fd = connect_to(port, deadline, r);
    if (fd < 0) {
        return;
    }
    if (!path) {
        r->outcome = MP_PROBE_OK;
        close(fd);
        return;
    }
    char *req = mp_xasprintf("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: morphling-probe"
                             "\r\nConnection: close\r\n\r\n",
                             path, port);
    char buf[8192];
    size_t len = 0, left = 0;
    if (!send_all(fd, req, strlen(req), deadline)) {
        r->outcome = MP_PROBE_NO_ANSWER;
    } else {
        /* At most 8 interim responses, then the next head stands as the answer. */
        for (int i = 0; (len = read_head(fd, buf, left, sizeof(buf), deadline)) > 0 && i < 8; i++) {
            if ((left = drop_interim(buf, len)) == (size_t)-1) {
                break;
            }
        }
        if (len == 0) {
            r->outcome = MP_PROBE_NO_ANSWER;
        } else {
            parse_head(buf, r);
        }
    }
    free(req);
    close(fd);
}

/* ---- socket ownership ---- */

/* A listening socket: its inode, port and local address as /proc/net/tcp{,6} writes it. */
struct listener {
    unsigned long ino;
    int port;
    char addr[128];
};

/* Listening sockets (state 0A) on port, or on any port when port is 0, in a /proc/net/tcp-format
 * file, appended to l (n so far, max in all). */
static size_t listen_inodes(const char *file, int port, struct listener *l, size_t n, size_t max)
{
    FILE *f = fopen(file, "re");
    if (!f) {
        return n;
    }
    char line[512];
    while (fgets(line, sizeof(line), f) && n < max) {
        char local[128];
        unsigned st = 0;
        unsigned long inode = 0;
        if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3) {
            continue;
        }
        char *colon = strrchr(local, ':');
        long p = colon ? strtol(colon + 1, NULL, 16) : -1;
        if (st == 0x0A && p > 0 && (port == 0 || p == port) && inode) {
            *colon = '\0';
            l[n].port = (int)p;
            l[n].ino = inode;
            snprintf(l[n++].addr, sizeof(l->addr), "%s", local);
        }
    }
    fclose(f);
    return n;
}

/* Index in l of a socket that pid holds, or -1. */
static int pid_socket(pid_t pid, const struct listener *l, size_t n)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        return -1;
    }
    int found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        char path[320], target[64];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        ssize_t len = readlink(path, target, sizeof(target) - 1);
        if (len <= 0) {
            continue;
        }
        target[len] = '\0';
        unsigned long inode = 0;
        if (sscanf(target, "socket:[%lu]", &inode) == 1) {
            for (size_t i = 0; i < n && found < 0; i++) {
                found = l[i].ino == inode ? (int)i : -1;
            }
        }
    }
    closedir(d);
    return found;
}

/* An address of /proc/net/tcp{,6} (32-bit words in hex, each in host byte order) as text. */
static void address_text(const char *hex, char *out, size_t size)
{
    uint32_t words[4];
    size_t n = strlen(hex) / 8;
    for (size_t i = 0; i < n && i < 4; i++) {
        char word[9];
        memcpy(word, hex + 8 * i, 8);
        word[8] = '\0';
        words[i] = (uint32_t)strtoul(word, NULL, 16);
    }
    char text[INET6_ADDRSTRLEN];
    if ((n == 1 || n == 4) && inet_ntop(n == 1 ? AF_INET : AF_INET6, words, text, sizeof(text))) {
        snprintf(out, size, "%s", text);
    } else {
        snprintf(out, size, "%s", hex);
    }
}

/* The port of a listening socket on port (0: any) that belongs to one of pids, or 0; its address
 * as text in addr when addr is non-NULL. */
static int owned_listen_port(int port, const pid_t *pids, size_t n, char *addr, size_t addr_size)
{
    static const size_t max = 512;
    struct listener *l = mp_xcalloc(max, sizeof(*l));
    size_t k = listen_inodes("/proc/net/tcp", port, l, 0, max);
    k = listen_inodes("/proc/net/tcp6", port, l, k, max);
    int found = 0;
    for (size_t i = 0; i < n && k > 0 && found == 0; i++) {
        int at = pid_socket(pids[i], l, k);
        if (at >= 0) {
            found = l[at].port;
            if (addr) {
                address_text(l[at].addr, addr, addr_size);
            }
        }
    }
    free(l);
    return found;
}

bool mp_local_socket_owned(int port, const pid_t *pids, size_t n)
{
    return port > 0 && owned_listen_port(port, pids, n, NULL, 0) == port;
}

int mp_local_listen_port(const pid_t *pids, size_t n, char *addr, size_t addr_size)
{
    return owned_listen_port(0, pids, n, addr, addr_size);
}
