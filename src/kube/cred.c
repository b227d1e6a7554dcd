/* SPDX-License-Identifier: Apache-2.0 */
/* The client's credential: a static token, a token file re-read when it changes (in-cluster
 * service-account tokens rotate on disk), or an exec plugin's token / certificate cached until
 * its expirationTimestamp. A 401 invalidates it; one thread refreshes while others wait, each
 * within its own call's deadline. */
#include "kube/kube_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

void mp_kube_cred_init(struct mp_kube_cred *cr, const struct mp_kube_config *cfg,
                       mp_kube_clock_fn clock, void *clock_ud)
{
    *cr = (struct mp_kube_cred){.cfg = cfg, .clock = clock, .clock_ud = clock_ud, .gen = 1};
    pthread_mutex_init(&cr->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&cr->done, &a);
    pthread_condattr_destroy(&a);
    cr->stale = true;
}

void mp_kube_cred_release(struct mp_kube_cred *cr)
{
    pthread_mutex_destroy(&cr->mu);
    pthread_cond_destroy(&cr->done);
    free(cr->token);
    free(cr->cert_pem);
    free(cr->key_pem);
}

void mp_kube_auth_snap_release(struct mp_kube_auth_snap *s)
{
    free(s->token);
    free(s->cert_pem);
    free(s->key_pem);
    *s = (struct mp_kube_auth_snap){0};
}

static int64_t wall_now(const struct mp_kube_cred *cr)
{
    return cr->clock ? cr->clock(cr->clock_ud) : mp_wall_ns();
}

static void replace(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

/* Re-reads the token file when it is new, changed (inode, size, mtime: a rotated projected
 * token is a new file behind a symlink) or invalidated. */
static int refresh_token_file(struct mp_kube_cred *cr, struct mp_error *err)
{
    const char *path = cr->cfg->token_file;
    struct stat st;
    if (stat(path, &st) != 0) {
        int e = errno;
        return mp_error_set(err, -e, "token file %s: %s", path, strerror(e));
    }
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    if (!cr->stale && cr->token && st.st_dev == cr->dev && st.st_ino == cr->ino &&
        st.st_size == cr->size && mtime == cr->mtime_ns) {
        return 0;
    }
    struct mp_buf b = MP_BUF_INIT;
    int rc = mp_buf_read_file(&b, path, 1u << 20, err);
    size_t start = 0; /* white space around the token is dropped, as client-go does */
    while (rc == 0 && start < b.len && strchr(" \t\r\n", b.data[start])) {
        start++;
    }
    if (rc == 0) {
        while (b.len > start && strchr(" \t\r\n", b.data[b.len - 1])) {
            b.data[--b.len] = '\0';
        }
        if (start) {
            memmove(b.data, b.data + start, b.len - start + 1);
            b.len -= start;
        }
        if (b.len == 0 || !mp_kube_header_safe(b.data)) {
            rc = mp_error_set(err, MP_EINVALID,
                              "token file %s is empty or holds control characters", path);
        }
    }
    if (rc == 0) {
        replace(&cr->token, mp_buf_detach(&b));
        cr->dev = st.st_dev;
        cr->ino = st.st_ino;
        cr->size = st.st_size;
        cr->mtime_ns = mtime;
        cr->stale = false;
        cr->gen++;
    }
    mp_buf_release(&b);
    return rc;
}

/* Waits, mu held, while another call runs the exec plugin: until it ends, or until deadline_ns
 * (MP_EDEADLINE; 0: no deadline). A lease's renewal waited for the plugin run of a call with a
 * longer deadline (held for the whole mutex), past its renew deadline. */
static int wait_refresh(struct mp_kube_cred *cr, int64_t deadline_ns, struct mp_error *err)
{
    while (cr->refreshing) {
        if (deadline_ns == 0) {
            pthread_cond_wait(&cr->done, &cr->mu);
            continue;
        }
        if (mp_mono_ns() >= deadline_ns) {
            return mp_error_set(err, MP_EDEADLINE,
                                "no credentials within the deadline: the exec plugin run for "
                                "another call has not finished");
        }
        struct timespec ts = {(time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000)};
        pthread_cond_timedwait(&cr->done, &cr->mu, &ts);
    }
    return 0;
}

/* Runs the plugin with mu released (other calls wait for it within their own deadlines, and
 * those whose credential is valid do not wait at all). */
static int refresh_exec(struct mp_kube_cred *cr, int64_t deadline_ns, struct mp_error *err)
{
    int rc = wait_refresh(cr, deadline_ns, err);
    bool expired = cr->expiry_ns && wall_now(cr) >= cr->expiry_ns;
    if (rc != 0 || (!cr->stale && !expired && (cr->token || cr->cert_pem))) {
        return rc;
    }
    struct mp_kube_exec_cred ec;
    cr->refreshing = true;
    pthread_mutex_unlock(&cr->mu);
    rc = mp_kube_exec_run(cr->cfg, deadline_ns, &ec, err);
    pthread_mutex_lock(&cr->mu);
    cr->refreshing = false;
    pthread_cond_broadcast(&cr->done);
    if (rc != 0) {
        return rc;
    }
    replace(&cr->token, ec.token);
    replace(&cr->cert_pem, ec.cert_pem);
    replace(&cr->key_pem, ec.key_pem);
    cr->expiry_ns = ec.expiry_ns;
    cr->stale = false;
    cr->gen++;
    return 0;
}

int mp_kube_cred_get(struct mp_kube_cred *cr, int64_t deadline_ns, struct mp_kube_auth_snap *out,
                     struct mp_error *err)
{
    *out = (struct mp_kube_auth_snap){0};
    int rc = 0;
    pthread_mutex_lock(&cr->mu);
    switch (mp_kube_config_auth(cr->cfg)) {
    case MP_KUBE_AUTH_EXEC:
        rc = refresh_exec(cr, deadline_ns, err);
        out->refreshable = true;
        break;
    case MP_KUBE_AUTH_TOKEN_FILE:
        rc = refresh_token_file(cr, err);
        out->refreshable = true;
        break;
    case MP_KUBE_AUTH_TOKEN:
        if (!cr->token) {
            cr->token = mp_xstrdup(cr->cfg->token);
        }
        break;
    default:
        break;
    }
    if (rc == 0) {
        out->token = cr->token ? mp_xstrdup(cr->token) : NULL;
        out->cert_pem = cr->cert_pem ? mp_xstrdup(cr->cert_pem) : NULL;
        out->key_pem = cr->key_pem ? mp_xstrdup(cr->key_pem) : NULL;
        out->gen = cr->gen;
    }
    pthread_mutex_unlock(&cr->mu);
    return rc;
}

void mp_kube_cred_invalidate(struct mp_kube_cred *cr, unsigned gen)
{
    pthread_mutex_lock(&cr->mu);
    if (cr->gen == gen) {
        cr->stale = true;
    }
    pthread_mutex_unlock(&cr->mu);
}
