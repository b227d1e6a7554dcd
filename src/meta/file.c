/* SPDX-License-Identifier: Apache-2.0 */
/* The model file: a fixed header (magic, version, payload length, FNV-1a checksum) and a
 * little-endian payload with the features, the adaptation recipe, the weights and the memory.
 * Layout in docs/internals/meta.md. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"

static const char magic[8] = {'M', 'P', 'M', 'E', 'T', 'A', '\r', '\n'};
#define HEADER_BYTES 32

static void put_u32(struct mp_buf *b, uint32_t v)
{
    unsigned char c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (unsigned char)(v >> (8 * i));
    }
    mp_buf_add(b, c, 4);
}

static void put_u64(struct mp_buf *b, uint64_t v)
{
    unsigned char c[8];
    for (int i = 0; i < 8; i++) {
        c[i] = (unsigned char)(v >> (8 * i));
    }
    mp_buf_add(b, c, 8);
}

static void put_f64(struct mp_buf *b, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    put_u64(b, u);
}

/* s may be NULL: an empty string (only where the format allows one). */
static void put_str(struct mp_buf *b, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    put_u32(b, (uint32_t)n);
    mp_buf_add(b, s ? s : "", n);
}

void mp_meta_model_encode(const struct mp_meta_model *m, struct mp_buf *out)
{
    struct mp_buf p = MP_BUF_INIT;
    put_u32(&p, (uint32_t)m->n_features);
    for (size_t i = 0; i < m->n_features; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        put_str(&p, f->name);
        put_str(&p, f->role); /* version 2 */
        put_u32(&p, (uint32_t)f->kind);
        put_u32(&p, f->log_scale ? 1 : 0);
        put_f64(&p, f->lo);
        put_f64(&p, f->hi);
        put_u32(&p, (uint32_t)f->n_choices);
        for (size_t k = 0; k < f->n_choices; k++) {
            put_str(&p, f->choices[k]);
        }
    }
    put_u32(&p, (uint32_t)m->net.n_in);
    put_u32(&p, (uint32_t)m->net.hidden);
    put_u32(&p, (uint32_t)m->members);
    put_u32(&p, m->adapt_steps);
    put_f64(&p, m->adapt_lr);
    put_u32(&p, (uint32_t)m->method);
    put_u64(&p, m->seed);
    put_u64(&p, (uint64_t)m->n_tasks);
    put_f64(&p, m->train_loss);
    size_t n = m->members * mp_net_size(&m->net);
    for (size_t i = 0; i < n; i++) {
        put_f64(&p, m->theta[i]);
    }
    put_u64(&p, (uint64_t)m->n_memory); /* version 3 */
    for (size_t i = 0; i < m->n_memory * (m->net.n_in + 1); i++) {
        put_f64(&p, m->memory[i]);
    }
    mp_buf_add(out, magic, sizeof(magic));
    put_u32(out, MP_META_FORMAT_VERSION);
    put_u32(out, 0);
    put_u64(out, (uint64_t)p.len);
    put_u64(out, mp_hash_bytes(p.data, p.len));
    mp_buf_add(out, p.data, p.len);
    mp_buf_release(&p);
}

static uint64_t str_bytes(const char *s)
{
    return 4 + (s ? strlen(s) : 0);
}

uint64_t mp_meta_model_file_bytes(const struct mp_meta_model *m)
{
    uint64_t n = HEADER_BYTES + 4;
    for (size_t i = 0; i < m->n_features; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        n += str_bytes(f->name) + str_bytes(f->role) + 4 + 4 + 8 + 8 + 4;
        for (size_t k = 0; k < f->n_choices; k++) {
            n += str_bytes(f->choices[k]);
        }
    }
    n += 4 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8; /* the network's shape and provenance */
    n += (uint64_t)m->members * mp_net_size(&m->net) * 8;
    n += 8 + (uint64_t)m->n_memory * (m->net.n_in + 1) * 8;
    return n;
}

/* Bounded reader over the payload; the first problem sets `bad` and says what it was. */
struct reader {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
    uint32_t version; /* of the file being read */
    char what[160];   /* the first problem: the field and why */
};

static void fail(struct reader *r, const char *fmt, ...) MP_PRINTF(2, 3);
static void fail(struct reader *r, const char *fmt, ...)
{
    if (r->bad) {
        return;
    }
    r->bad = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->what, sizeof(r->what), fmt, ap);
    va_end(ap);
}

static uint64_t get_uint(struct reader *r, int bytes)
{
    if (r->bad || r->len - r->pos < (size_t)bytes) {
        fail(r, "the payload ends early");
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    }
    r->pos += (size_t)bytes;
    return v;
}

static double get_f64(struct reader *r, const char *what)
{
    uint64_t u = get_uint(r, 8);
    double v;
    memcpy(&v, &u, sizeof(v));
    if (!isfinite(v)) {
        fail(r, "%s is not a finite number", what);
    }
    return v;
}

/* A string of 1..MP_META_MAX_NAME bytes; with allow_empty, length 0 reads as NULL. */
static char *get_str(struct reader *r, bool allow_empty, const char *what)
{
    uint64_t n = get_uint(r, 4);
    if (!r->bad && n == 0 && allow_empty) {
        return NULL;
    }
    if (!r->bad && (n == 0 || n > MP_META_MAX_NAME)) {
        fail(r, "%s has %llu bytes (1 to %d)", what, (unsigned long long)n, MP_META_MAX_NAME);
    }
    if (r->bad || r->len - r->pos < n) {
        fail(r, "the payload ends early");
        return NULL;
    }
    char *s = mp_xstrndup((const char *)r->p + r->pos, (size_t)n);
    r->pos += (size_t)n;
    if (strlen(s) != n) {
        fail(r, "%s contains a NUL byte", what);
    } else if (mp_utf8_valid_len(s, (size_t)n) != n) {
        /* every spec and surface gives UTF-8 names: one that is not binds no parameter */
        fail(r, "%s is not valid UTF-8 text", what);
    }
    return s;
}

static bool known_role(const char *role)
{
    for (size_t k = 0; role && mp_param_roles[k]; k++) {
        if (strcmp(role, mp_param_roles[k]) == 0) {
            return true;
        }
    }
    return !role;
}

static void get_feature(struct reader *r, size_t i, struct mp_meta_feature *f)
{
    char what[80];
    snprintf(what, sizeof(what), "feature %zu's name", i + 1);
    f->name = get_str(r, false, what);
    snprintf(what, sizeof(what), "feature %zu (%.24s)'s role", i + 1, f->name ? f->name : "?");
    f->role = r->version >= 2 ? get_str(r, true, what) : NULL;
    snprintf(what, sizeof(what), "feature %zu (%.24s)", i + 1, f->name ? f->name : "?");
    uint64_t kind = get_uint(r, 4), log_scale = get_uint(r, 4);
    f->kind = kind == 1 ? MP_META_CATEGORICAL : MP_META_NUMERIC;
    f->log_scale = log_scale == 1;
    f->lo = get_f64(r, what);
    f->hi = get_f64(r, what);
    uint64_t nc = get_uint(r, 4);
    if (!known_role(f->role)) {
        fail(r, "%s: role '%s' is not one of the spec's roles", what, f->role);
    } else if (kind > 1 || log_scale > 1) {
        fail(r, "%s: kind %llu, log %llu (0 or 1)", what, (unsigned long long)kind,
             (unsigned long long)log_scale);
    } else if (nc > MP_META_MAX_CHOICES || (kind == 1) != (nc > 0)) {
        fail(r, "%s: %llu choices (%s)", what, (unsigned long long)nc,
             kind == 1 ? "1 to 256 for a categorical one" : "none for a numeric one");
    } else if (f->lo > f->hi || (f->log_scale && !(f->lo > 0))) {
        fail(r, "%s: range %g..%g%s", what, f->lo, f->hi, f->log_scale ? " on a log scale" : "");
    }
    if (r->bad) {
        return;
    }
    snprintf(what, sizeof(what), "feature %zu (%.24s)'s choice", i + 1, f->name);
    f->choices = mp_xcalloc((size_t)nc + 1, sizeof(char *));
    for (size_t k = 0; k < nc && !r->bad; k++) {
        char *c = get_str(r, true, what); /* a choice may be empty: a flag's "off" */
        f->choices[k] = c || r->bad ? c : mp_xstrdup("");
        f->n_choices++;
    }
}

/* The memory (version 3): a count, then its entries in strictly ascending order of inputs. */
static void get_memory(struct reader *r, struct mp_meta_model *m)
{
    size_t width = m->net.n_in + 1;
    uint64_t count = get_uint(r, 8);
    if (!r->bad && count > MP_META_MAX_MEMORY) {
        fail(r, "%llu memory entries (at most %u)", (unsigned long long)count, MP_META_MAX_MEMORY);
    }
    if (!r->bad && r->len - r->pos != count * width * 8) {
        fail(r, "the memory has %zu bytes, %llu entries need %llu", r->len - r->pos,
             (unsigned long long)count, (unsigned long long)(count * width * 8));
    }
    if (r->bad) {
        return;
    }
    m->memory = mp_xmalloc((size_t)count * width * sizeof(double) + 1);
    /* Training writes encoded inputs and normalised values in [-1, 1]; the bound of the
     * weights keeps one that did not come from training from being a prior of any size. */
    for (size_t i = 0; i < count * width && !r->bad; i++) {
        m->memory[i] = get_f64(r, "a memory entry");
        if (!r->bad && !(fabs(m->memory[i]) <= MP_META_MAX_WEIGHT)) {
            fail(r, "memory entry %zu holds %g (at most %g in magnitude)", i / width + 1,
                 m->memory[i], MP_META_MAX_WEIGHT);
        }
    }
    m->n_memory = (size_t)count;
    if (!r->bad && !mp_meta_memory_sorted(m)) {
        fail(r, "the memory's entries are not in ascending order");
    }
}

/* Names are unique: a duplicated feature bound one space parameter to both (a model for
 * batch, cpus, gpu with cpus renamed batch searched a space of batch and gpu, feeding batch in
 * as cpus), a duplicated choice took one of the two inputs. */
static void check_unique(struct reader *r, const struct mp_meta_model *m)
{
    for (size_t i = 0; i < m->n_features && !r->bad; i++) {
        const struct mp_meta_feature *f = &m->features[i];
        for (size_t j = 0; j < i && !r->bad; j++) {
            if (strcmp(m->features[j].name, f->name) == 0) {
                fail(r, "features %zu and %zu are both named '%.40s'", j + 1, i + 1, f->name);
            }
        }
        for (size_t k = 0; k < f->n_choices && !r->bad; k++) {
            for (size_t l = 0; l < k && !r->bad; l++) {
                if (strcmp(f->choices[l], f->choices[k]) == 0) {
                    fail(r, "feature %zu (%.24s): choice '%.40s' twice", i + 1, f->name,
                         f->choices[k]);
                }
            }
        }
    }
}

/* The network's shape and the adaptation recipe, after the features. */
static void get_net(struct reader *r, struct mp_meta_model *m)
{
    uint64_t n_in = get_uint(r, 4), hidden = get_uint(r, 4), members = get_uint(r, 4);
    m->adapt_steps = (unsigned)get_uint(r, 4);
    m->adapt_lr = get_f64(r, "adapt_lr");
    uint64_t method = get_uint(r, 4);
    m->seed = get_uint(r, 8);
    m->n_tasks = (size_t)get_uint(r, 8);
    m->train_loss = get_f64(r, "train_loss");
    size_t want_in = mp_meta_inputs(m->features, m->n_features);
    if (!r->bad && n_in != want_in) {
        fail(r, "%llu inputs, but the features give %zu", (unsigned long long)n_in, want_in);
    } else if (!r->bad && (hidden < 1 || hidden > MP_META_MAX_HIDDEN)) {
        fail(r, "%llu hidden units (1 to %d)", (unsigned long long)hidden, MP_META_MAX_HIDDEN);
    } else if (!r->bad && (members < 1 || members > MP_META_MAX_MEMBERS)) {
        fail(r, "%llu members (1 to %d)", (unsigned long long)members, MP_META_MAX_MEMBERS);
    } else if (!r->bad && method > MP_META_MAML) {
        fail(r, "method %llu (0 to %d)", (unsigned long long)method, MP_META_MAML);
    } else if (!r->bad && (m->adapt_steps < 1 || m->adapt_steps > 1000)) {
        /* 0 steps, as a rate of 0, is no adaptation: the search would never learn from its
         * trials (training refuses it, as the adapt_steps setting) */
        fail(r, "adapt_steps %u (1 to 1000)", m->adapt_steps);
    } else if (!r->bad && !(m->adapt_lr > 0 && m->adapt_lr <= MP_META_MAX_LR)) {
        fail(r, "adapt_lr %g (above 0, at most %g)", m->adapt_lr, MP_META_MAX_LR);
    } else if (!r->bad && m->seed > INT64_MAX) {
        /* Training takes seeds below 2^63 (`meta info --json` printed a larger one as 2^63-1). */
        fail(r, "seed %llu (at most %lld)", (unsigned long long)m->seed, (long long)INT64_MAX);
    }
    m->net.n_in = (size_t)n_in;
    m->net.hidden = (size_t)hidden;
    m->members = (size_t)members;
    m->method = (enum mp_meta_method)method;
}

static void get_body(struct reader *r, struct mp_meta_model *m)
{
    uint64_t nf = get_uint(r, 4);
    if (!r->bad && (nf == 0 || nf > MP_META_MAX_FEATURES)) {
        fail(r, "%llu features (1 to %d)", (unsigned long long)nf, MP_META_MAX_FEATURES);
    }
    if (r->bad) {
        return;
    }
    m->features = mp_xcalloc((size_t)nf, sizeof(*m->features));
    for (size_t i = 0; i < nf && !r->bad; i++) {
        get_feature(r, i, &m->features[i]);
        m->n_features++;
    }
    check_unique(r, m);
    get_net(r, m);
    if (r->bad) {
        return;
    }
    size_t n = m->members * mp_net_size(&m->net);
    size_t rest = r->len - r->pos;
    if (r->version >= 3 ? rest < n * 8 + 8 : rest != n * 8) {
        fail(r, "%zu bytes after the header fields, %zu weights need %zu%s", rest, n, n * 8,
             r->version >= 3 ? " and the memory" : "");
        return;
    }
    m->theta = mp_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n && !r->bad; i++) {
        m->theta[i] = get_f64(r, "a weight");
        if (!r->bad && !(fabs(m->theta[i]) <= MP_META_MAX_WEIGHT)) {
            fail(r, "weight %zu is %g (at most %g in magnitude)", i + 1, m->theta[i],
                 MP_META_MAX_WEIGHT);
        }
    }
    if (r->version >= 3) {
        get_memory(r, m);
    }
}

int mp_meta_model_decode(const void *data, size_t len, const char *name, struct mp_meta_model **out,
                         struct mp_error *err)
{
    *out = NULL;
    const unsigned char *p = data;
    if (len < HEADER_BYTES || memcmp(p, magic, sizeof(magic)) != 0) {
        return mp_error_set(err, MP_EINVALID, "%s: not a morphling meta-model file", name);
    }
    struct reader h = {p, HEADER_BYTES, 8, false, 0, ""};
    uint64_t version = get_uint(&h, 4);
    (void)get_uint(&h, 4);
    uint64_t plen = get_uint(&h, 8), sum = get_uint(&h, 8);
    if (version < 1 || version > MP_META_FORMAT_VERSION) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: meta-model format version %llu, this build reads versions 1 to "
                            "%d (retrain with `morphling meta train`)",
                            name, (unsigned long long)version, MP_META_FORMAT_VERSION);
    }
    if (plen != len - HEADER_BYTES) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: truncated or padded (%zu payload bytes, %llu "
                            "expected)",
                            name, len - HEADER_BYTES, (unsigned long long)plen);
    }
    if (mp_hash_bytes(p + HEADER_BYTES, len - HEADER_BYTES) != sum) {
        return mp_error_set(err, MP_EINVALID, "%s: checksum mismatch (corrupt file)", name);
    }
    struct reader r = {p + HEADER_BYTES, len - HEADER_BYTES, 0, false, (uint32_t)version, ""};
    struct mp_meta_model *m = mp_xcalloc(1, sizeof(*m));
    m->format_version = (unsigned)version;
    get_body(&r, m);
    if (r.bad) {
        mp_meta_model_free(m);
        return mp_error_set(err, MP_EINVALID, "%s: malformed meta-model: %s (payload byte %zu)",
                            name, r.what, r.pos);
    }
    *out = m;
    return 0;
}

int mp_meta_model_save(const struct mp_meta_model *m, const char *path, struct mp_error *err)
{
    /* The rename below replaces whatever is at path: as root, `-o /dev/null` replaced the
     * device with a regular file. Only a file (or a link to one) is replaced. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: is not a regular file, which a model file would replace", path);
    }
    struct mp_buf b = MP_BUF_INIT;
    mp_meta_model_encode(m, &b);
    /* Never through a link left at the temporary name (in a shared folder such as /tmp, it
     * would overwrite whatever it points to): a name of our own, created here. */
    char *tmp = mp_xasprintf("%s.%ld.tmp", path, (long)getpid());
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!f) {
        int e = errno;
        rc = mp_error_set(err, -e, "%s: %s", tmp, strerror(e));
        if (fd >= 0) {
            close(fd);
            remove(tmp);
        }
        goto out;
    }
    bool ok = fwrite(b.data, 1, b.len, f) == b.len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        rc = mp_error_set(err, -EIO, "%s: cannot write the model file", path);
        remove(tmp);
    }
out:
    free(tmp);
    mp_buf_release(&b);
    return rc;
}

int mp_meta_model_load(const char *path, struct mp_meta_model **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    *out = NULL;
    int rc = mp_buf_read_input(&b, path, MP_META_MAX_FILE_BYTES, err);
    if (rc == 0) {
        rc = mp_meta_model_decode(b.data ? b.data : "", b.len, path, out, err);
    }
    mp_buf_release(&b);
    return rc;
}
