/* SPDX-License-Identifier: Apache-2.0 */
/* Secret references in specs ({from_env: NAME}, {from_file: PATH}): their form, reading them
 * when a value is needed, runner.load.headers items, and which names look secret. */
#include "spec/spec_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loadgen/loadgen.h"

#define SECRET_FILE_MAX (64u << 10)

static bool is_ref_key(const char *key)
{
    return strcmp(key, "from_env") == 0 || strcmp(key, "from_file") == 0;
}

bool mp_spec_is_secret_ref(const struct mp_node *n)
{
    return n && n->kind == MP_NODE_MAP && n->n == 1 && is_ref_key(n->keys[0]);
}

int mp_spec_check_secret_ref(const struct mp_spec *spec, const struct mp_node *n,
                             struct mp_error *err)
{
    if (!mp_spec_is_secret_ref(n)) {
        return mp_doc_error(err, n, "expected a string, {from_env: NAME} or {from_file: PATH}");
    }
    const char *v = NULL;
    int rc = mp_doc_string(n->items[0], &v, err);
    if (rc != 0) {
        return rc;
    }
    if (strcmp(n->keys[0], "from_env") == 0) {
        return mp_spec_is_identifier(v) ? 0
                                        : mp_doc_error(err, n->items[0],
                                                       "\"%s\" is not a valid environment "
                                                       "variable name",
                                                       v);
    }
    char *path = NULL;
    rc = mp_spec_path(spec, n->items[0], v, &path, err);
    free(path);
    return rc;
}

/* Reads a secret file: a regular file of at most SECRET_FILE_MAX bytes without NUL bytes,
 * trailing newlines dropped. Messages name the field (node), never the content. */
static int read_secret_file(const struct mp_node *node, const char *path, char **out,
                            struct mp_error *err)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return mp_doc_error(err, node, "cannot read the secret file: %s", strerror(errno));
    }
    struct stat sb;
    struct mp_buf b = MP_BUF_INIT;
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = mp_doc_error(err, node, "the secret file is not a regular file");
    }
    char chunk[4096];
    ssize_t n = 0;
    while (rc == 0 && (n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 || b.len + (size_t)n > SECRET_FILE_MAX) {
            rc = mp_doc_error(err, node, "cannot read the secret file: %s",
                              n < 0 ? strerror(errno) : "larger than 64 KiB");
        } else {
            mp_buf_add(&b, chunk, (size_t)n);
        }
    }
    close(fd);
    while (rc == 0 && b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r')) {
        b.data[--b.len] = '\0';
    }
    if (rc == 0 && b.data && memchr(b.data, '\0', b.len)) {
        rc = mp_doc_error(err, node, "the secret file holds a NUL byte");
    }
    if (rc == 0) {
        *out = b.data ? mp_buf_detach(&b) : mp_xstrdup("");
    }
    mp_buf_release(&b);
    return rc;
}

int mp_spec_value(const struct mp_spec *spec, const struct mp_node *n, char **out,
                  struct mp_error *err)
{
    *out = NULL;
    if (n && n->kind == MP_NODE_SCALAR) {
        const char *s = NULL;
        int rc = mp_doc_string(n, &s, err);
        if (rc == 0) {
            *out = mp_xstrdup(s);
        }
        return rc;
    }
    int rc = mp_spec_check_secret_ref(spec, n, err);
    if (rc != 0) {
        return rc;
    }
    const char *v = n->items[0]->scalar;
    if (strcmp(n->keys[0], "from_env") == 0) {
        const char *value = getenv(v);
        if (!value) {
            return mp_doc_error(err, n, "environment variable %s is not set", v);
        }
        *out = mp_xstrdup(value);
        return 0;
    }
    char *path = NULL;
    rc = mp_spec_path(spec, n->items[0], v, &path, err);
    if (rc == 0) {
        rc = read_secret_file(n, path, out, err);
    }
    free(path);
    return rc;
}

bool mp_spec_secret_name(const char *name)
{
    static const char *const words[] = {"token", "passw",      "secret", "key",
                                        "auth",  "credential", "cookie"};
    char lower[128];
    size_t n = 0;
    for (; name && name[n] && n < sizeof(lower) - 1; n++) {
        lower[n] = (char)tolower((unsigned char)name[n]);
    }
    lower[n] = '\0';
    for (size_t i = 0; i < MP_ARRAY_LEN(words); i++) {
        if (strstr(lower, words[i])) {
            return true;
        }
    }
    return false;
}

/* An HTTP header name: RFC 9110 token characters. */
static bool header_name_ok(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && !strchr("!#$%&'*+-.^_`|~", c)) {
            return false;
        }
    }
    return true;
}

int mp_spec_check_header(const struct mp_spec *spec, const struct mp_node *item,
                         struct mp_error *err)
{
    static const char framing[] = "the load generator frames each request itself (Content-Length "
                                  "from the body); leave the header out";
    if (item->kind == MP_NODE_SCALAR) {
        const char *s = NULL;
        int rc = mp_doc_string(item, &s, err);
        const char *colon = rc == 0 ? strchr(s, ':') : NULL;
        if (rc == 0 && (!colon || !header_name_ok(s, (size_t)(colon - s)) || strpbrk(s, "\r\n"))) {
            rc = mp_doc_error(err, item, "expected \"Name: value\"");
        } else if (rc == 0 && mp_lg_framing_header(s, (size_t)(colon - s))) {
            rc = mp_doc_error(err, item, "%s", framing);
        }
        return rc;
    }
    if (item->kind != MP_NODE_MAP || item->n != 1 ||
        !header_name_ok(item->keys[0], strlen(item->keys[0]))) {
        return mp_doc_error(err, item, "expected \"Name: value\" or {Name: value}");
    }
    if (mp_lg_framing_header(item->keys[0], strlen(item->keys[0]))) {
        return mp_doc_error(err, item, "%s", framing);
    }
    const struct mp_node *v = item->items[0];
    if (v->kind != MP_NODE_SCALAR) {
        return mp_spec_check_secret_ref(spec, v, err);
    }
    const char *s = NULL;
    int rc = mp_doc_string(v, &s, err);
    if (rc == 0 && strpbrk(s, "\r\n")) {
        rc = mp_doc_error(err, v, "a header value cannot hold a line break");
    }
    return rc;
}

int mp_spec_header_line(const struct mp_spec *spec, const struct mp_node *item, char **out,
                        struct mp_error *err)
{
    *out = NULL;
    int rc = mp_spec_check_header(spec, item, err);
    if (rc != 0 || item->kind == MP_NODE_SCALAR) {
        *out = rc == 0 ? mp_xstrdup(item->scalar) : NULL;
        return rc;
    }
    char *value = NULL;
    rc = mp_spec_value(spec, item->items[0], &value, err);
    if (rc == 0 && strpbrk(value, "\r\n")) {
        rc = mp_doc_error(err, item->items[0], "the secret holds a line break");
    }
    if (rc == 0) {
        *out = mp_xasprintf("%s: %s", item->keys[0], value);
    }
    free(value);
    return rc;
}

/* runner.load.headers, when the runner map has one. */
static const struct mp_node *load_headers(const struct mp_spec *spec)
{
    const struct mp_node *h = mp_doc_get(mp_doc_get(spec->runner_node, "load"), "headers");
    return h && h->kind == MP_NODE_SEQ ? h : NULL;
}

int mp_spec_check_headers(const struct mp_spec *spec, struct mp_error *err)
{
    const struct mp_node *h = load_headers(spec);
    for (size_t i = 0; h && i < h->n; i++) {
        int rc = mp_spec_check_header(spec, h->items[i], err);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int mp_spec_check_secrets(const struct mp_spec *spec, struct mp_error *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < spec->service.n_env; i++) {
        const struct mp_node *n = spec->service.env_nodes[i];
        char *v = NULL;
        rc = mp_spec_is_secret_ref(n) ? mp_spec_value(spec, n, &v, err) : 0;
        free(v);
    }
    const struct mp_node *h = load_headers(spec);
    for (size_t i = 0; rc == 0 && h && i < h->n; i++) {
        char *line = NULL;
        rc = mp_spec_header_line(spec, h->items[i], &line, err);
        free(line);
    }
    return rc;
}
