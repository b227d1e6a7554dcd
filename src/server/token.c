/* SPDX-License-Identifier: Apache-2.0 */
/* The server's access token: read from a file only its owner can read, or created there from
 * the kernel's CSPRNG (getrandom) on first use and reused across restarts. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN_FILE_MAX 4096
#define TOKEN_BYTES    32 /* 256 bits, written as 64 hex digits */

/* Reads an existing token file: a regular file of ours, closed to group and others, holding
 * one word of at least MP_SERVER_MIN_TOKEN_LEN characters (trailing whitespace dropped). */
static int read_token(const char *path, char **out, struct mp_error *err)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return mp_error_set(err, errno == ENOENT ? MP_ENOTFOUND : MP_EINVALID,
                            "token file '%s': %s", path, strerror(errno));
    }
    struct stat sb;
    int rc = 0;
    char buf[TOKEN_FILE_MAX + 1];
    ssize_t n = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = mp_error_set(err, MP_EINVALID, "token file '%s': not a regular file", path);
    } else if (sb.st_uid != geteuid()) {
        rc = mp_error_set(err, MP_EINVALID, "token file '%s': owned by another user", path);
    } else if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        rc = mp_error_set(err, MP_EINVALID,
                          "token file '%s': readable by others; run 'chmod 600 %s'", path, path);
    } else if ((n = read(fd, buf, TOKEN_FILE_MAX + 1)) < 0 || n > TOKEN_FILE_MAX) {
        rc = mp_error_set(err, MP_EINVALID, "token file '%s': unreadable or over %d bytes", path,
                          TOKEN_FILE_MAX);
    }
    close(fd);
    if (rc != 0) {
        return rc;
    }
    while (n > 0 && strchr(" \t\r\n", buf[n - 1])) {
        n--;
    }
    buf[n] = '\0';
    if (n == 0 || strpbrk(buf, " \t\r\n") || memchr(buf, '\0', (size_t)n)) {
        return mp_error_set(err, MP_EINVALID, "token file '%s': expected one word", path);
    }
    /* An Authorization header carries it: visible ASCII only (RFC 9110, 5.5). */
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x21 || c > 0x7e) {
            return mp_error_set(err, MP_EINVALID,
                                "token file '%s': byte %zd (0x%02x) cannot be sent in a header; "
                                "use printable ASCII",
                                path, i + 1, c);
        }
    }
    if ((size_t)n < MP_SERVER_MIN_TOKEN_LEN) {
        return mp_error_set(err, MP_EINVALID,
                            "token file '%s': the token must have at least %u "
                            "characters",
                            path, MP_SERVER_MIN_TOKEN_LEN);
    }
    *out = mp_xstrdup(buf);
    return 0;
}

static int random_token(char *hex, struct mp_error *err)
{
    unsigned char raw[TOKEN_BYTES];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return mp_error_set(err, -errno, "getrandom: %s", strerror(errno));
        }
        got += (size_t)n;
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    }
    return 0;
}

int mp_server_session_new(char **out, struct mp_error *err)
{
    char hex[2 * TOKEN_BYTES + 1];
    int rc = random_token(hex, err);
    *out = rc == 0 ? mp_xstrdup(hex) : NULL;
    return rc;
}

/* Writes a new token to a private temporary file and links it into place, so that two servers
 * starting at once end up with the same token and nobody reads a half-written file. */
static int create_token(const char *path, struct mp_error *err)
{
    char hex[2 * TOKEN_BYTES + 2];
    int rc = random_token(hex, err);
    if (rc != 0) {
        return rc;
    }
    char *tmp = mp_xasprintf("%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = mp_error_set(err, MP_EINVALID, "token file '%s': cannot create it: %s", path,
                          strerror(errno));
        free(tmp);
        return rc;
    }
    size_t len = strlen(hex);
    hex[len] = '\n';
    if (write(fd, hex, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0) {
        rc = mp_error_set(err, -errno, "token file '%s': cannot write it: %s", path,
                          strerror(errno));
    }
    close(fd);
    if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST) {
        rc = mp_error_set(err, -errno, "token file '%s': cannot create it: %s", path,
                          strerror(errno));
    }
    unlink(tmp);
    free(tmp);
    return rc;
}

int mp_server_token_load(const char *path, char **token, bool *created, struct mp_error *err)
{
    *token = NULL;
    *created = false;
    int rc = read_token(path, token, err);
    if (rc != MP_ENOTFOUND) {
        return rc;
    }
    mp_error_clear(err);
    if ((rc = create_token(path, err)) != 0) {
        return rc;
    }
    *created = true;
    return read_token(path, token, err);
}
