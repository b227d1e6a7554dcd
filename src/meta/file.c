/* SPDX-License-Identifier: Apache-2.0 */
/* The model file: a fixed header (magic, version, payload length, FNV-1a checksum) and a
 * little-endian payload with the features, the adaptation recipe, the weights and the memory.
 * Layout in docs/internals/meta.md. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Bounded reader over the payload; the first overrun sets `bad`. */
struct reader {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
    uint32_t version; /* of the file being read */
};

static uint64_t get_uint(struct reader *r, int bytes)
{
    if (r->bad || r->len - r->pos < (size_t)bytes) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
    }
    r->pos += (size_t)bytes;
    return v;
}

static double get_f64(struct reader *r)
{
    uint64_t u = get_uint(r, 8);
    double v;
    memcpy(&v, &u, sizeof(v));
    if (!isfinite(v)) {
        r->bad = true;
    }
    return v;
}

/* A string of 1..MP_META_MAX_NAME bytes; with allow_empty, length 0 reads as NULL. */
static char *get_str(struct reader *r, bool allow_empty)
{
    uint64_t n = get_uint(r, 4);
    if (!r->bad && n == 0 && allow_empty) {
        return NULL;
    }
    if (r->bad || n == 0 || n > MP_META_MAX_NAME || r->len - r->pos < n) {
        r->bad = true;
        return NULL;
    }
    char *s = mp_xstrndup((const char *)r->p + r->pos, (size_t)n);
    r->pos += (size_t)n;
    if (strlen(s) != n) {
        r->bad = true;
    }
    return s;
}

static void get_feature(struct reader *r, struct mp_meta_feature *f)
{
    f->name = get_str(r, false);
    f->role = r->version >= 2 ? get_str(r, true) : NULL;
    uint64_t kind = get_uint(r, 4), log_scale = get_uint(r, 4);
    f->kind = kind == 1 ? MP_META_CATEGORICAL : MP_META_NUMERIC;
    f->log_scale = log_scale == 1;
    f->lo = get_f64(r);
    f->hi = get_f64(r);
    uint64_t nc = get_uint(r, 4);
    bool role_ok = !f->role;
    for (size_t k = 0; f->role && mp_param_roles[k]; k++) {
        role_ok |= strcmp(f->role, mp_param_roles[k]) == 0;
    }
    if (!role_ok || kind > 1 || log_scale > 1 || nc > MP_META_MAX_CHOICES || f->lo > f->hi ||
        (f->log_scale && !(f->lo > 0)) || (kind == 1) != (nc > 0)) {
        r->bad = true;
        return;
    }
    f->choices = mp_xcalloc((size_t)nc + 1, sizeof(char *));
    for (size_t k = 0; k < nc && !r->bad; k++) {
        char *c = get_str(r, true); /* a choice may be empty: a flag's "off" */
        f->choices[k] = c || r->bad ? c : mp_xstrdup("");
        f->n_choices++;
    }
}

/* The memory (version 3): a count, then its entries in strictly ascending order of inputs. */
static void get_memory(struct reader *r, struct mp_meta_model *m)
{
    size_t width = m->net.n_in + 1;
    uint64_t count = get_uint(r, 8);
    if (r->bad || count > MP_META_MAX_MEMORY || r->len - r->pos != count * width * 8) {
        r->bad = true;
        return;
    }
    m->memory = mp_xmalloc((size_t)count * width * sizeof(double) + 1);
    for (size_t i = 0; i < count * width; i++) {
        m->memory[i] = get_f64(r);
    }
    m->n_memory = (size_t)count;
    r->bad = r->bad || !mp_meta_memory_sorted(m);
}

static void get_body(struct reader *r, struct mp_meta_model *m)
{
    uint64_t nf = get_uint(r, 4);
    if (nf == 0 || nf > MP_META_MAX_FEATURES) {
        r->bad = true;
        return;
    }
    m->features = mp_xcalloc((size_t)nf, sizeof(*m->features));
    for (size_t i = 0; i < nf && !r->bad; i++) {
        get_feature(r, &m->features[i]);
        m->n_features++;
    }
    uint64_t n_in = get_uint(r, 4), hidden = get_uint(r, 4), members = get_uint(r, 4);
    m->adapt_steps = (unsigned)get_uint(r, 4);
    m->adapt_lr = get_f64(r);
    uint64_t method = get_uint(r, 4);
    m->seed = get_uint(r, 8);
    m->n_tasks = (size_t)get_uint(r, 8);
    m->train_loss = get_f64(r);
    if (r->bad || n_in != mp_meta_inputs(m->features, m->n_features) || hidden < 1 ||
        hidden > MP_META_MAX_HIDDEN || members < 1 || members > MP_META_MAX_MEMBERS ||
        method > MP_META_MAML || m->adapt_steps > 1000 || !(m->adapt_lr > 0) ||
        m->adapt_lr > MP_META_MAX_LR) {
        r->bad = true;
        return;
    }
    m->net.n_in = (size_t)n_in;
    m->net.hidden = (size_t)hidden;
    m->members = (size_t)members;
    m->method = (enum mp_meta_method)method;
    size_t n = m->members * mp_net_size(&m->net);
    size_t rest = r->len - r->pos;
    if (r->version >= 3 ? rest < n * 8 + 8 : rest != n * 8) {
        r->bad = true;
        return;
    }
    m->theta = mp_xmalloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        m->theta[i] = get_f64(r);
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
    struct reader h = {p, HEADER_BYTES, 8, false, 0};
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
    struct reader r = {p + HEADER_BYTES, len - HEADER_BYTES, 0, false, (uint32_t)version};
    struct mp_meta_model *m = mp_xcalloc(1, sizeof(*m));
    m->format_version = (unsigned)version;
    get_body(&r, m);
    if (r.bad) {
        mp_meta_model_free(m);
        return mp_error_set(err, MP_EINVALID, "%s: malformed meta-model at payload byte %zu", name,
                            r.pos);
    }
    *out = m;
    return 0;
}

int mp_meta_model_save(const struct mp_meta_model *m, const char *path, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    mp_meta_model_encode(m, &b);
    char *tmp = mp_xasprintf("%s.tmp", path);
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = mp_error_set(err, -errno, "%s: %s", tmp, mp_strerror(-errno));
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
