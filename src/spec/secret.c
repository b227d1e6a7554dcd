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

/* Whether the `len` bytes of s before a separator name a secret: no blanks, secret-looking. */
static bool secret_prefix(const char *s, size_t len)
{
    while (len > 0 && *s == '-') {
        s++;
        len--;
    }
    if (len == 0 || len >= 128 || memchr(s, ' ', len)) {
        return false;
    }
    char name[128];
    memcpy(name, s, len);
    name[len] = '\0';
    return mp_spec_secret_name(name);
}

const char *mp_spec_secret_word(const char *word, const char *prev, size_t *name_len)
{
    *name_len = 0;
    if (prev && prev[0] == '-' && !strchr(prev, '=') && secret_prefix(prev, strlen(prev)) &&
        word[0] != '-') {
        return word;
    }
    /* NAME=value (a flag, a variable, a query) and "Name: value" (a header). */
    static const char seps[] = {'=', ':'};
    for (size_t i = 0; i < sizeof(seps); i++) {
        const char *at = strchr(word, seps[i]);
        if (at && secret_prefix(word, (size_t)(at - word))) {
            *name_len = (size_t)(at - word);
            for (at++; *at == ' '; at++) {
            }
            return at;
        }
    }
    return NULL;
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

/* Adds a value to scrub: at least MP_SECRET_SCRUB_MIN bytes (a shorter one would blank out
 * ordinary words of the output), no {placeholder} (a tunable value is no secret), once. */
static void add_secret(struct mp_strset *set, const char *v, size_t len)
{
    if (len >= MP_SECRET_SCRUB_MIN && !memchr(v, '{', len)) {
        char *copy = mp_xstrndup(v, len);
        mp_strset_add(set, copy);
        free(copy);
    }
}

/* The values of the spec's secrets, as the runner passes them: service.env variables that are
 * secret references or have secret-looking names, runner.load.headers of either kind, and the
 * secret-looking words of service.command (mp_spec_secret_word). A reference that cannot be
 * read now is left out (its trial fails on it). */
static void secret_values(const struct mp_spec *spec, struct mp_strset *set)
{
    const struct mp_service *svc = &spec->service;
    for (size_t i = 0; i < svc->n_env; i++) {
        char *v = NULL;
        struct mp_error e = {0};
        if (!mp_spec_env_secret(spec, i)) {
            continue;
        }
        if (svc->env_nodes && mp_spec_is_secret_ref(svc->env_nodes[i])) {
            if (mp_spec_value(spec, svc->env_nodes[i], &v, &e) == 0) {
                add_secret(set, v, strlen(v));
            }
            free(v);
        } else {
            const char *eq = strchr(svc->env[i], '=');
            add_secret(set, eq + 1, strlen(eq + 1));
        }
    }
    const struct mp_node *h = load_headers(spec);
    for (size_t i = 0; h && i < h->n; i++) {
        char *line = NULL;
        struct mp_error e = {0};
        size_t name_len = 0;
        if (mp_spec_header_line(spec, h->items[i], &line, &e) != 0) {
            continue;
        }
        const char *v = mp_spec_secret_word(line, NULL, &name_len);
        if (h->items[i]->kind == MP_NODE_MAP && mp_spec_is_secret_ref(h->items[i]->items[0])) {
            v = line + strlen(h->items[i]->keys[0]) + 2; /* "Name: value" */
        }
        if (v) {
            add_secret(set, v, strlen(v));
            const char *blank = strchr(v, ' '); /* "Bearer TOKEN": the token alone too */
            if (blank) {
                add_secret(set, blank + 1, strlen(blank + 1));
            }
        }
        free(line);
    }
    for (size_t i = 0; i < svc->argc; i++) {
        size_t name_len = 0;
        const char *v = mp_spec_secret_word(svc->argv[i], i ? svc->argv[i - 1] : NULL, &name_len);
        if (v) {
            add_secret(set, v, strlen(v));
        }
    }
}

/* Replaces each occurrence of the set's values in *text with MP_SECRET_REDACTED. */
static void scrub(char **text, const struct mp_strset *set)
{
    for (size_t k = 0; *text && k < set->cap; k++) {
        const char *v = set->slots[k];
        if (!v || !strstr(*text, v)) {
            continue;
        }
        struct mp_buf b = MP_BUF_INIT;
        size_t vl = strlen(v);
        const char *p = *text;
        for (const char *at; (at = strstr(p, v)) != NULL; p = at + vl) {
            mp_buf_add(&b, p, (size_t)(at - p));
            mp_buf_adds(&b, MP_SECRET_REDACTED);
        }
        mp_buf_adds(&b, p);
        free(*text);
        *text = mp_buf_detach(&b);
    }
}

void mp_spec_scrub_result(const struct mp_spec *spec, struct mp_trial_result *res)
{
    struct mp_strset set = MP_STRSET_INIT;
    secret_values(spec, &set);
    if (set.count > 0) {
        scrub(&res->reason, &set);
        scrub(&res->run_error, &set);
        scrub(&res->stdout_log, &set);
        scrub(&res->stderr_log, &set);
    }
    mp_strset_release(&set);
}
