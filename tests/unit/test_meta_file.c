/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the meta-model file (src/meta/file.c): round trip, corruption, older versions
 * (no roles, no memory) and the memory of training configurations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "meta/meta.h"
#include "meta_family.h"

static void expect_decode_error(const struct mp_buf *bytes, const char *needle)
{
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    int rc = mp_meta_model_decode(bytes->data, bytes->len, "model.bin", &m, &err);
    assert_int_equal(rc, MP_EINVALID);
    assert_null(m);
    if (!strstr(err.msg, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
    }
}

/* Rewrites the header's payload length and checksum after editing the payload. */
static void reseal(struct mp_buf *b)
{
    uint64_t plen = b->len - 32, sum = mp_hash_bytes(b->data + 32, b->len - 32);
    for (int i = 0; i < 8; i++) {
        b->data[16 + i] = (char)(unsigned char)(plen >> (8 * i));
        b->data[24 + i] = (char)(unsigned char)(sum >> (8 * i));
    }
}

static void test_file_round_trip_and_corruption(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 9, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_meta_%ld.model", (long)getpid());
    struct mp_error err = {0};
    assert_int_equal(mp_meta_model_save(m, path, &err), 0);
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_load(path, &back, &err) != 0) {
        fail_msg("load: %s", err.msg);
    }
    struct mp_buf a = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    mp_meta_model_encode(back, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_string_equal(back->features[2].choices[1], "B");
    assert_int_equal(back->method, MP_META_FOMAML);
    assert_int_equal(back->seed, 9);
    remove(path);
    struct mp_meta_model *none = NULL;
    assert_int_not_equal(mp_meta_model_load(path, &none, &err), 0);
    assert_null(none);

    struct mp_buf t = MP_BUF_INIT;
    mp_buf_add(&t, a.data, a.len);
    t.data[100] ^= 1;
    expect_decode_error(&t, "checksum");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len - 3);
    expect_decode_error(&t, "truncated");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[0] = 'X';
    expect_decode_error(&t, "not a morphling meta-model");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[8] = 4;
    expect_decode_error(&t, "version 4");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[8] = 0;
    expect_decode_error(&t, "version 0");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, 10);
    expect_decode_error(&t, "not a morphling meta-model");
    /* A well-sealed payload with impossible content: zero features. */
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    memset(t.data + 32, 0, 4);
    reseal(&t);
    expect_decode_error(&t, "malformed meta-model: 0 features (1 to 64)");
    /* A NaN (the last value: the memory's). */
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    memset(t.data + t.len - 8, 0xff, 8);
    reseal(&t);
    expect_decode_error(&t, "malformed meta-model: a memory entry is not a finite number");
    mp_buf_release(&t);
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_meta_model_free(back);
    family_model_release(&f);
}

/* An adaptation rate no training writes: the search's adaptation diverged, every score was NaN
 * and it suggested configurations in enumeration order. */
static void test_adapt_rate(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 9, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    struct mp_error err = {0};
    struct mp_buf t = MP_BUF_INIT;
    static const double bad_lr[] = {-1, 0, 1e300};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad_lr); i++) {
        double lr = m->adapt_lr;
        m->adapt_lr = bad_lr[i];
        mp_buf_reset(&t);
        mp_meta_model_encode(m, &t);
        m->adapt_lr = lr;
        expect_decode_error(&t, "malformed meta-model: adapt_lr ");
    }
    /* No adaptation step at all is no adaptation, as a rate of 0: the search then never learned
     * from its trials (the setting adapt_steps takes 1..1000 too). */
    static const unsigned bad_steps[] = {0, 1001};
    for (size_t i = 0; i < MP_ARRAY_LEN(bad_steps); i++) {
        unsigned steps = m->adapt_steps;
        m->adapt_steps = bad_steps[i];
        mp_buf_reset(&t);
        mp_meta_model_encode(m, &t);
        m->adapt_steps = steps;
        expect_decode_error(&t, "malformed meta-model: adapt_steps ");
    }
    struct mp_meta_train_opts o;
    struct mp_meta_model *none_trained = NULL;
    mp_meta_train_opts_default(&o);
    o.inner_steps = 0;
    assert_int_equal(mp_meta_train(&f.ts, &o, &none_trained, &err), MP_EINVALID);
    assert_null(none_trained);
    mp_meta_train_opts_default(&o);
    o.inner_lr = 11; /* nor does training write one */
    assert_int_equal(mp_meta_train(&f.ts, &o, &none_trained, &err), MP_EINVALID);
    assert_null(none_trained);
    mp_meta_train_opts_default(&o);
    o.top_fraction = NAN; /* was converted to a size: undefined behaviour */
    assert_int_equal(mp_meta_train(&f.ts, &o, &none_trained, &err), MP_EINVALID);
    assert_null(none_trained);
    mp_buf_release(&t);
    family_model_release(&f);
}

/* Version 2 bytes: the version 3 encoding less the memory (its count and entries). */
static void to_version_2(const struct mp_buf *v3, const struct mp_meta_model *m, struct mp_buf *v2)
{
    size_t memory = 8 + m->n_memory * (m->net.n_in + 1) * 8;
    mp_buf_add(v2, v3->data, v3->len - memory);
    v2->data[8] = 2;
    reseal(v2);
}

/* Version 1 bytes of a model without roles: the version 2 encoding less every feature's empty
 * role string. */
static void to_version_1(const struct mp_buf *v2, struct mp_buf *v1)
{
    const unsigned char *p = (const unsigned char *)v2->data;
    size_t pos = 36, nf = p[32];
    mp_buf_add(v1, v2->data, 36);
    v1->data[8] = 1;
    for (size_t i = 0; i < nf; i++) {
        size_t name = 4 + (size_t)p[pos];
        mp_buf_add(v1, v2->data + pos, name); /* name */
        assert_int_equal(p[pos + name], 0);   /* empty role */
        pos += name + 4;
        size_t fixed = 4 + 4 + 8 + 8, nc = p[pos + fixed];
        mp_buf_add(v1, v2->data + pos, fixed + 4);
        pos += fixed + 4;
        for (size_t k = 0; k < nc; k++) {
            size_t len = 4 + (size_t)p[pos];
            mp_buf_add(v1, v2->data + pos, len);
            pos += len;
        }
    }
    mp_buf_add(v1, v2->data + pos, v2->len - pos);
    reseal(v1);
}

/* Versions 2 (no memory) and 1 (no roles either) still load, with the same features and
 * weights, and re-save as version 3; a payload labelled with the wrong version is malformed. */
static void test_file_versions(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 4, MP_META_REPTILE);
    struct mp_meta_model *m = f.m;
    struct mp_buf a = MP_BUF_INIT, v1 = MP_BUF_INIT, v2 = MP_BUF_INIT, t = MP_BUF_INIT,
                  w = MP_BUF_INIT, bare = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    assert_int_equal(a.data[8], MP_META_FORMAT_VERSION);
    assert_int_equal(MP_META_FORMAT_VERSION, 3);
    assert_true(m->n_memory > 0);
    to_version_2(&a, m, &v2);
    to_version_1(&v2, &v1);
    assert_int_equal(v1.len, v2.len - 4 * m->n_features);
    struct mp_meta_model *old = NULL, *old2 = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(v2.data, v2.len, "v2.model", &old2, &err) != 0) {
        fail_msg("version 2: %s", err.msg);
    }
    if (mp_meta_model_decode(v1.data, v1.len, "v1.model", &old, &err) != 0) {
        fail_msg("version 1: %s", err.msg);
    }
    assert_int_equal(old->format_version, 1);
    assert_int_equal(old2->format_version, 2);
    assert_int_equal(m->format_version, 3);
    assert_int_equal(old->n_memory, 0);
    assert_int_equal(old2->n_memory, 0);
    assert_string_equal(old->features[2].choices[2], "C");
    assert_null(old->features[0].role);
    /* Re-saved as version 3: the same bytes as the original without its memory. */
    size_t n_memory = m->n_memory;
    m->n_memory = 0;
    mp_meta_model_encode(m, &bare);
    m->n_memory = n_memory;
    mp_meta_model_encode(old, &w);
    assert_int_equal(w.len, bare.len);
    assert_memory_equal(w.data, bare.data, bare.len);
    mp_buf_reset(&w);
    mp_meta_model_encode(old2, &w);
    assert_memory_equal(w.data, bare.data, bare.len);
    /* A version 1 payload labelled version 2, and a version 2 one labelled version 3 (it lacks
     * the memory). */
    mp_buf_add(&t, v1.data, v1.len);
    t.data[8] = 2;
    expect_decode_error(&t, "malformed meta-model: feature 1 (batch)'s choice has");
    mp_buf_reset(&t);
    mp_buf_add(&t, v2.data, v2.len);
    t.data[8] = 3;
    expect_decode_error(&t, "weights need");
    mp_buf_release(&a);
    mp_buf_release(&v1);
    mp_buf_release(&v2);
    mp_buf_release(&t);
    mp_buf_release(&w);
    mp_buf_release(&bare);
    mp_meta_model_free(old2);
    mp_meta_model_free(old);
    family_model_release(&f);
}

/* Roles survive a round trip; an unknown role is malformed. */
static void test_file_roles(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 4, MP_META_REPTILE);
    struct mp_meta_model *m = f.m;
    struct mp_buf a = MP_BUF_INIT, t = MP_BUF_INIT, w = MP_BUF_INIT;
    m->features[0].role = mp_xstrdup("batch_size");
    mp_meta_model_encode(m, &a);
    struct mp_meta_model *back = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(a.data, a.len, "v3.model", &back, &err) != 0) {
        fail_msg("version 3 with a role: %s", err.msg);
    }
    assert_string_equal(back->features[0].role, "batch_size");
    assert_null(back->features[1].role);
    mp_meta_model_encode(back, &w);
    assert_int_equal(w.len, a.len);
    assert_memory_equal(w.data, a.data, a.len);
    mp_buf_add(&t, a.data, a.len);
    size_t at = 0;
    while (at + 10 <= t.len && memcmp(t.data + at, "batch_size", 10) != 0) {
        at++;
    }
    assert_true(at + 10 <= t.len);
    t.data[at] = 'X';
    reseal(&t);
    expect_decode_error(&t, "role 'Xatch_size' is not one of the spec's roles");
    mp_buf_release(&a);
    mp_buf_release(&t);
    mp_buf_release(&w);
    mp_meta_model_free(back);
    family_model_release(&f);
}

/* The memory: every configuration the training services measured, with the mean of their
 * normalised values, in ascending order of inputs; kept by the file; a corrupt one is refused. */
static void test_memory(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 5, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    size_t n_in = m->net.n_in, w = n_in + 1;
    assert_int_equal(m->n_memory, 84); /* the three services share all 84 configurations */
    assert_true(mp_meta_memory_sorted(m));
    double in[16], v;
    for (size_t row = 0; row < 84; row += 13) {
        assert_memory_equal(f.ts.tasks[0].x + row * 3, f.ts.tasks[2].x + row * 3,
                            3 * sizeof(double));
        mp_meta_encode(m->features, m->n_features, f.ts.tasks[0].x + row * 3, in);
        assert_true(mp_meta_memory_lookup(m, in, &v));
        double mean = (f.ts.tasks[0].y[row] + f.ts.tasks[1].y[row] + f.ts.tasks[2].y[row]) / 3;
        assert_true(fabs(v - mean) < 1e-12);
    }
    const double unmeasured[3] = {3, 1, 0}; /* batch 3 lies between the levels */
    mp_meta_encode(m->features, m->n_features, unmeasured, in);
    assert_false(mp_meta_memory_lookup(m, in, &v));
    /* Round trip, then a memory out of order and a wrong count. */
    struct mp_buf a = MP_BUF_INIT, t = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    struct mp_meta_model *back = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(a.data, a.len, "m.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    assert_int_equal(back->n_memory, 84);
    mp_meta_model_encode(back, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    size_t first = a.len - 84 * w * 8;
    mp_buf_add(&t, a.data, a.len);
    memcpy(t.data + first, a.data + first + w * 8, w * 8); /* entries 0 and 1 swapped */
    memcpy(t.data + first + w * 8, a.data + first, w * 8);
    reseal(&t);
    expect_decode_error(&t, "the memory's entries are not in ascending order");
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    t.data[first - 8] = 85;
    reseal(&t);
    expect_decode_error(&t, "the memory has");
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_buf_release(&t);
    mp_meta_model_free(back);
    family_model_release(&f);
}

/* A spec may offer an empty choice (a flag's "off": choices ["", "--fp16"]); the model written
 * from such a service reads back with it (it was refused as malformed). */
static void test_empty_choice(void **state)
{
    (void)state;
    struct mp_space s = {0};
    struct mp_param p = {0};
    p.name = mp_xstrdup("flag");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xcalloc(2, sizeof(char *));
    p.choices[0] = mp_xstrdup("");
    p.choices[1] = mp_xstrdup("--fp16");
    p.n_choices = 2;
    mp_space_add(&s, &p);
    static const double x[] = {0, 1}, y[] = {1, 2};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "flags", &s, x, y, 2, &err), 0);
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.iterations = 5;
    o.members = 1;
    o.hidden = 4;
    struct mp_meta_model *m = NULL, *back = NULL;
    assert_int_equal(mp_meta_train(&ts, &o, &m, &err), 0);
    struct mp_buf a = MP_BUF_INIT, b = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    if (mp_meta_model_decode(a.data, a.len, "flags.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    assert_int_equal(back->features[0].n_choices, 2);
    assert_string_equal(back->features[0].choices[0], "");
    assert_string_equal(back->features[0].choices[1], "--fp16");
    mp_meta_model_encode(back, &b);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    mp_buf_release(&a);
    mp_buf_release(&b);
    mp_meta_model_free(back);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Saving never writes through a link left at a temporary name: the old fixed name MODEL.tmp
 * was opened with fopen, so a symbolic link there (in a shared folder) had its target
 * overwritten with the model. */
static void test_save_ignores_links(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 2, 3, MP_META_FOMAML);
    char path[64], tmp[96], victim[64], pid_tmp[96];
    snprintf(path, sizeof(path), "/tmp/test_meta_link_%ld.model", (long)getpid());
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    snprintf(pid_tmp, sizeof(pid_tmp), "%s.%ld.tmp", path, (long)getpid());
    snprintf(victim, sizeof(victim), "/tmp/test_meta_victim_%ld", (long)getpid());
    FILE *v = fopen(victim, "w");
    assert_non_null(v);
    fputs("precious\n", v);
    fclose(v);
    remove(tmp);
    remove(pid_tmp);
    assert_int_equal(symlink(victim, tmp), 0);
    struct mp_error err = {0};
    if (mp_meta_model_save(f.m, path, &err) != 0) {
        fail_msg("save: %s", err.msg);
    }
    assert_int_equal(symlink(victim, pid_tmp), 0); /* even at the name it would use */
    assert_int_not_equal(mp_meta_model_save(f.m, path, &err), 0);
    char buf[32] = {0};
    v = fopen(victim, "r");
    assert_non_null(v);
    assert_non_null(fgets(buf, sizeof(buf), v));
    fclose(v);
    assert_string_equal(buf, "precious\n");
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_load(path, &back, &err) != 0) {
        fail_msg("load: %s", err.msg);
    }
    mp_meta_model_free(back);
    remove(tmp);
    remove(pid_tmp);
    remove(path);
    remove(victim);
    family_model_release(&f);
}

/* The model replaces the file at its path by a rename: `meta train -o /dev/null` (run as root)
 * replaced the device with a regular file holding the model, and a FIFO at the path became a
 * file as well. Only a regular file (or nothing) is replaced. */
static void test_save_only_over_files(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 2, 3, MP_META_FOMAML);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_meta_fifo_%ld.model", (long)getpid());
    remove(path);
    assert_int_equal(mkfifo(path, 0600), 0);
    struct mp_error err = {0};
    assert_int_equal(mp_meta_model_save(f.m, path, &err), MP_EINVALID);
    if (!strstr(err.msg, "is not a regular file")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    remove(path);
    if (mp_meta_model_save(f.m, path, &err) != 0) { /* nothing there: written */
        fail_msg("save: %s", err.msg);
    }
    if (mp_meta_model_save(f.m, path, &err) != 0) { /* a regular file: replaced */
        fail_msg("save: %s", err.msg);
    }
    remove(path);
    family_model_release(&f);
}

/* A model that names a feature or a choice twice is malformed (it loaded, and bound one space
 * parameter to two features). */
static void test_duplicate_names(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 2, 3, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    struct mp_buf t = MP_BUF_INIT;
    char *cpus = m->features[1].name;
    m->features[1].name = m->features[0].name; /* batch, batch, gpu */
    mp_meta_model_encode(m, &t);
    m->features[1].name = cpus;
    expect_decode_error(&t, "features 1 and 2 are both named 'batch'");
    char *b = m->features[2].choices[1];
    m->features[2].choices[1] = m->features[2].choices[0]; /* A, A, C */
    mp_buf_reset(&t);
    mp_meta_model_encode(m, &t);
    m->features[2].choices[1] = b;
    expect_decode_error(&t, "feature 3 (gpu): choice 'A' twice");
    mp_buf_release(&t);
    family_model_release(&f);
}

/* Names and choices are UTF-8, as every spec and surface gives them: one that is not loaded, bound
 * no parameter, and `meta info --json` left its feature or choice out without a word. */
static void test_names_not_utf8(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 2, 3, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    struct mp_buf t = MP_BUF_INIT;
    char bad_name[] = "ba\377tch", bad_choice[] = "\303";
    char *name = m->features[0].name;
    m->features[0].name = bad_name;
    mp_meta_model_encode(m, &t);
    m->features[0].name = name;
    expect_decode_error(&t, "feature 1's name is not valid UTF-8");
    char *choice = m->features[2].choices[1];
    m->features[2].choices[1] = bad_choice;
    mp_buf_reset(&t);
    mp_meta_model_encode(m, &t);
    m->features[2].choices[1] = choice;
    expect_decode_error(&t, "feature 3 (gpu)'s choice is not valid UTF-8");
    mp_buf_release(&t);
    family_model_release(&f);
}

/* Finite but absurd numbers under a valid checksum: a weight of 1e300 made every prediction of
 * the prior inf or NaN (the search then tried configurations in enumeration order), a memory
 * value of 1e300 a prior of any size. Training never writes them, and refuses to. */
static void test_huge_values(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 9, MP_META_FOMAML);
    struct mp_meta_model *m = f.m;
    size_t n_w = m->members * mp_net_size(&m->net), w = m->net.n_in + 1;
    struct mp_buf a = MP_BUF_INIT, t = MP_BUF_INIT;
    mp_meta_model_encode(m, &a);
    assert_int_equal(mp_meta_model_file_bytes(m), a.len);
    size_t mem = a.len - m->n_memory * w * 8, weights = mem - 8 - n_w * 8;
    static const double huge[] = {1e300, -1e300, 2 * MP_META_MAX_WEIGHT};
    for (size_t i = 0; i < MP_ARRAY_LEN(huge); i++) {
        mp_buf_reset(&t);
        mp_buf_add(&t, a.data, a.len);
        memcpy(t.data + weights + 8 * (n_w - 1), &huge[i], 8); /* the last weight, b3 */
        reseal(&t);
        char want[96];
        snprintf(want, sizeof(want), "malformed meta-model: weight %zu is %g", n_w, huge[i]);
        expect_decode_error(&t, want);
    }
    /* Within the bound, the prior is finite whatever the weights. */
    mp_buf_reset(&t);
    mp_buf_add(&t, a.data, a.len);
    double big = MP_META_MAX_WEIGHT;
    for (size_t i = 0; i < n_w; i++) {
        memcpy(t.data + weights + 8 * i, &big, 8);
    }
    reseal(&t);
    struct mp_meta_model *back = NULL;
    struct mp_error err = {0};
    if (mp_meta_model_decode(t.data, t.len, "m.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    struct mp_meta_binding *b = NULL;
    assert_int_equal(mp_meta_bind(back, &f.s, &b, &err), 0);
    const double x[3] = {64, 4, 2};
    double prior = mp_meta_prior_mean(b, x);
    if (!isfinite(prior)) {
        fail_msg("prior %g at the largest weights", prior);
    }
    mp_meta_binding_free(b);
    mp_meta_model_free(back);
    /* The memory: training writes numbers in [-1, 1]. */
    for (size_t i = 0; i < 2; i++) {
        mp_buf_reset(&t);
        mp_buf_add(&t, a.data, a.len);
        double v = i == 0 ? 1e300 : -2 * MP_META_MAX_WEIGHT;
        memcpy(t.data + a.len - 8, &v, 8); /* the last entry's value */
        reseal(&t);
        expect_decode_error(&t, "malformed meta-model: memory entry 84 holds");
    }
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.iterations = 5;
    o.members = 1;
    o.outer_lr = 1e9; /* Adam moves every weight by about this much */
    struct mp_meta_model *diverged = NULL;
    assert_int_equal(mp_meta_train(&f.ts, &o, &diverged, &err), MP_EINVALID);
    assert_null(diverged);
    if (!strstr(err.msg, "meta-training diverged")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    mp_buf_release(&a);
    mp_buf_release(&t);
    family_model_release(&f);
}

/* Seeds are below 2^63: `meta info --json` printed a file's 2^64-1 as 2^63-1. */
static void test_seed_range(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 9, MP_META_FOMAML);
    struct mp_meta_model *m = f.m, *back = NULL;
    struct mp_error err = {0};
    struct mp_buf t = MP_BUF_INIT;
    m->seed = INT64_MAX;
    mp_meta_model_encode(m, &t);
    if (mp_meta_model_decode(t.data, t.len, "m.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    assert_true(back->seed == INT64_MAX);
    mp_meta_model_free(back);
    m->seed = UINT64_MAX;
    mp_buf_reset(&t);
    mp_meta_model_encode(m, &t);
    expect_decode_error(&t, "malformed meta-model: seed 18446744073709551615");
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.seed = (uint64_t)INT64_MAX + 1;
    assert_int_equal(mp_meta_train(&f.ts, &o, &back, &err), MP_EINVALID);
    assert_null(back);
    mp_buf_release(&t);
    family_model_release(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_round_trip_and_corruption),
        cmocka_unit_test(test_adapt_rate),
        cmocka_unit_test(test_file_versions),
        cmocka_unit_test(test_file_roles),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_empty_choice),
        cmocka_unit_test(test_save_ignores_links),
        cmocka_unit_test(test_save_only_over_files),
        cmocka_unit_test(test_duplicate_names),
        cmocka_unit_test(test_names_not_utf8),
        cmocka_unit_test(test_huge_values),
        cmocka_unit_test(test_seed_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
