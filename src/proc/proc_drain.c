/* SPDX-License-Identifier: Apache-2.0 */
/* The output thread of a spawned service: drains its stdout and stderr into bounded tails and
 * reads the shim's reports (service pid, exit status, resource use). */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "proc/proc_int.h"

void mp_proc_tail_init(struct tail *t, size_t cap)
{
    t->data = mp_xmalloc(cap);
    t->cap = cap;
    t->start = t->len = 0;
    t->dropped = 0;
}

/* Appends keeping only the last cap bytes. */
static void tail_add(struct tail *t, const char *p, size_t n)
{
    if (n >= t->cap) {
        t->dropped += t->len + (n - t->cap);
        p += n - t->cap;
        n = t->cap;
        t->start = 0;
        t->len = 0;
    }
    size_t over = t->len + n > t->cap ? t->len + n - t->cap : 0;
    t->start = (t->start + over) % t->cap;
    t->len -= over;
    t->dropped += over;
    /* At most two copies: up to the ring's end, then from its start (a copy per byte, with a
     * division each, drained a chatty service's output at about 40 MB/s). */
    size_t end = (t->start + t->len) % t->cap;
    size_t first = n < t->cap - end ? n : t->cap - end;
    memcpy(t->data + end, p, first);
    memcpy(t->data, p + first, n - first);
    t->len += n;
}

/* Whether c continues a UTF-8 sequence (10xxxxxx). */
static bool continuation(char c)
{
    return ((unsigned char)c & 0xc0) == 0x80;
}

char *mp_proc_tail_copy(const struct tail *t)
{
    char *s = mp_xmalloc(t->len + 1);
    size_t skip = 0;
    for (size_t i = 0; i < t->len; i++) {
        s[i] = t->data[(t->start + i) % t->cap];
    }
    /* A tail that lost its beginning may start inside a character: start at the next one. */
    while (t->dropped > 0 && skip < t->len && skip < 3 && continuation(s[skip])) {
        skip++;
    }
    size_t n = t->len - skip;
    memmove(s, s + skip, n);
    s[n] = '\0';
    mp_utf8_scrub(s, n);
    return s;
}

static void handle_msg(struct mp_proc *p, const struct shim_msg *m)
{
    if (m->kind == MSG_EXIT) {
        p->exited = true;
        p->status = (int)m->b;
    } else if (m->kind == MSG_USAGE) {
        p->usage.cpu_seconds = (double)m->a / 1e6;
        p->usage.max_rss_bytes = (uint64_t)m->b * 1024u;
    }
}

/* Reads what is available on fds[i]; returns false at EOF or error. */
static bool drain_one(struct mp_proc *p, int i)
{
    char buf[8192];
    ssize_t n = read(p->fds[i], buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        return true;
    }
    if (n <= 0) {
        return false;
    }
    pthread_mutex_lock(&p->mu);
    if (i < 2) {
        tail_add(&p->logs[i], buf, (size_t)n);
    } else {
        /* Reports are written whole (< PIPE_BUF), so reads return whole reports. */
        for (size_t off = 0; off + sizeof(struct shim_msg) <= (size_t)n;
             off += sizeof(struct shim_msg)) {
            struct shim_msg m;
            memcpy(&m, buf + off, sizeof(m));
            handle_msg(p, &m);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return true;
}

void *mp_proc_drain_main(void *arg)
{
    struct mp_proc *p = arg;
    for (;;) {
        struct pollfd pf[4];
        int map[4];
        nfds_t n = 0;
        for (int i = 0; i < 3; i++) {
            if (p->fds[i] >= 0) {
                pf[n] = (struct pollfd){.fd = p->fds[i], .events = POLLIN};
                map[n++] = i;
            }
        }
        if (n == 0) {
            break;
        }
        pf[n] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        if (poll(pf, n + 1, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pf[n].revents) {
            break;
        }
        for (nfds_t k = 0; k < n; k++) {
            int i = map[k];
            if (pf[k].revents && !drain_one(p, i)) {
                close(p->fds[i]);
                p->fds[i] = -1;
                if (i == 2) {
                    pthread_mutex_lock(&p->mu);
                    p->shim_done = true;
                    /* The shim died without reporting the exit (killed from outside, e.g. by
                     * the service: kill -9 $PPID): the service died with it, by the SIGKILL of
                     * its PR_SET_PDEATHSIG. Waiting for a report that never comes left the
                     * runner probing a dead service until its start-up deadline. */
                    if (!p->exited) {
                        p->exited = true;
                        p->status = SIGKILL;
                    }
                    pthread_mutex_unlock(&p->mu);
                }
            }
        }
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_lock(&p->mu);
    p->shim_done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
