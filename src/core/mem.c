/* SPDX-License-Identifier: Apache-2.0 */
/* Allocation wrappers that abort on out-of-memory, and the growable string buffer. */
#include "core/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void oom(size_t n)
{
    fprintf(stderr, "morphling: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        oom(n);
    }
    return p;
}

void *mp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) {
        oom(count * size);
    }
    return p;
}

void *mp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        oom(n);
    }
    return q;
}

void *mp_xreallocarray(void *p, size_t count, size_t size)
{
    size_t n;
    if (!mp_size_mul(count, size, &n)) {
        oom(SIZE_MAX);
    }
    return mp_xrealloc(p, n);
}

char *mp_xstrdup(const char *s)
{
    return mp_xstrndup(s, strlen(s));
}

char *mp_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = mp_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *mp_xasprintf(const char *fmt, ...)
{
    struct mp_buf b = MP_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    mp_buf_addvf(&b, fmt, ap);
    va_end(ap);
    return mp_buf_detach(&b);
}

bool mp_size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

bool mp_size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

static void buf_grow(struct mp_buf *b, size_t extra)
{
    size_t need;
    if (!mp_size_add(b->len, extra, &need) || !mp_size_add(need, 1, &need)) {
        oom(SIZE_MAX);
    }
    if (need <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!mp_size_mul(cap, 2, &cap)) {
            oom(SIZE_MAX);
        }
    }
    b->data = mp_xrealloc(b->data, cap);
    b->cap = cap;
}

void mp_buf_add(struct mp_buf *b, const void *data, size_t n)
{
    buf_grow(b, n);
    if (n) {
        memcpy(b->data + b->len, data, n);
    }
    b->len += n;
    b->data[b->len] = '\0';
}

void mp_buf_adds(struct mp_buf *b, const char *s)
{
    mp_buf_add(b, s, strlen(s));
}

void mp_buf_addc(struct mp_buf *b, char c)
{
    mp_buf_add(b, &c, 1);
}

void mp_buf_addvf(struct mp_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) {
        return;
    }
    buf_grow(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void mp_buf_addf(struct mp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mp_buf_addvf(b, fmt, ap);
    va_end(ap);
}

void mp_buf_reset(struct mp_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

char *mp_buf_detach(struct mp_buf *b)
{
    if (!b->data) {
        buf_grow(b, 0);
        b->data[0] = '\0';
    }
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void mp_buf_release(struct mp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int mp_buf_read_file(struct mp_buf *b, const char *path, size_t max_bytes, struct mp_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return mp_error_set(err, -e, "%s: %s", path, strerror(e));
    }
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b->len + n > max_bytes) {
            rc = mp_error_set(err, MP_ETOOBIG, "%s: larger than the limit of %zu bytes", path,
                              max_bytes);
            break;
        }
        mp_buf_add(b, chunk, n);
    }
    if (rc == 0 && ferror(f)) {
        int e = errno;
        rc = mp_error_set(err, -e, "%s: read failed: %s", path, strerror(e));
    }
    fclose(f);
    if (rc == 0 && !b->data) {
        mp_buf_add(b, "", 0);
    }
    return rc;
}

static const char *file_kind(mode_t mode)
{
    return S_ISDIR(mode)    ? "a directory"
           : S_ISFIFO(mode) ? "a FIFO"
           : S_ISSOCK(mode) ? "a socket"
           : S_ISCHR(mode)  ? "a character device"
           : S_ISBLK(mode)  ? "a block device"
                            : "not a regular file";
}

/* Reads fd to its end into b (named name in errors), at most max_bytes. */
static int read_all(struct mp_buf *b, int fd, const char *name, size_t max_bytes,
                    struct mp_error *err)
{
    char chunk[65536];
    ssize_t n = 0;
    int rc = 0;
    while (rc == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = mp_error_set(err, -errno, "%s: read failed: %s", name, strerror(errno));
        } else if (b->len + (size_t)n > max_bytes) {
            rc = mp_error_set(err, MP_ETOOBIG, "%s: larger than the limit of %zu bytes", name,
                              max_bytes);
        } else {
            mp_buf_add(b, chunk, (size_t)n);
        }
    }
    if (rc == 0 && !b->data) {
        mp_buf_adds(b, "");
    }
    return rc;
}

int mp_buf_read_input(struct mp_buf *b, const char *path, size_t max_bytes, struct mp_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return mp_error_set(err, e == ENOENT || e == ENOTDIR ? MP_EINVALID : -e, "%s: %s", path,
                            strerror(e));
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0) {
        rc = mp_error_set(err, -errno, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = mp_error_set(err, MP_EINVALID, "%s: is %s, not a regular file", path,
                          file_kind(sb.st_mode));
    }
    if (rc == 0) {
        rc = read_all(b, fd, path, max_bytes, err);
    }
    close(fd);
    return rc;
}

int mp_buf_read_stdin(struct mp_buf *b, size_t max_bytes, struct mp_error *err)
{
    /* A folder is the user's mistake, as it is named as a file (exit 2, not a read error). */
    struct stat sb;
    if (fstat(STDIN_FILENO, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        return mp_error_set(err, MP_EINVALID, "<stdin>: is a directory, not a file");
    }
    return read_all(b, STDIN_FILENO, "<stdin>", max_bytes, err);
}
