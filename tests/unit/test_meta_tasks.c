/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/meta's task sets and bindings: parameter alignment by name and by role,
 * tasks from surface CSVs and from recorded experiments' trials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "meta/meta.h"
#include "meta_family.h"
#include "testlib.h"

static void test_alignment(void **state)
{
    (void)state;
    struct family_model f;
    family_model_init(&f, 3, 1, MP_META_REPTILE);
    struct mp_meta_model *m = f.m;
    struct mp_error err = {0};
    struct mp_meta_binding *b = NULL;

    /* Same names in another order, one unknown choice: aligned by name. */
    struct mp_space r = {0};
    struct mp_param p = {0};
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, 2, sizeof(char *));
    p.choices[0] = mp_xstrdup("C");
    p.choices[1] = mp_xstrdup("Z");
    p.n_choices = 2;
    mp_space_add(&r, &p);
    struct mp_param q = {0};
    q.name = mp_xstrdup("cpus");
    q.type = MP_PARAM_INT;
    q.min = 1;
    q.max = 8;
    q.step = 1;
    mp_space_add(&r, &q);
    assert_int_equal(mp_meta_bind(m, &r, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'batch'"));
    struct mp_param bp = {0};
    bp.name = mp_xstrdup("batch");
    bp.type = MP_PARAM_INT;
    bp.min = 1;
    bp.max = 64;
    bp.step = 1;
    mp_space_add(&r, &bp);
    if (mp_meta_bind(m, &r, &b, &err) != 0) {
        fail_msg("bind: %s", err.msg);
    }
    double xr[3] = {1, 2, 4}; /* gpu Z, cpus 2, batch 4 */
    double in[5];
    mp_meta_binding_encode(b, xr, in);
    assert_true(fabs(in[0] - (2.0 * 2.0 / 6.0 - 1.0)) < 1e-12); /* batch 4: log2 4 / log2 64 */
    assert_true(fabs(in[1] - (2.0 * 1.0 / 3.0 - 1.0)) < 1e-12); /* cpus 2 of 1..4 */
    assert_true(in[2] == 0 && in[3] == 0 && in[4] == 0);        /* unknown choice */
    xr[0] = 0;                                                  /* gpu C */
    mp_meta_binding_encode(b, xr, in);
    assert_true(in[2] == 0 && in[3] == 0 && in[4] == 1);
    mp_meta_binding_free(b);

    /* An extra parameter the model never saw. */
    struct mp_param e = {0};
    e.name = mp_xstrdup("threads");
    e.type = MP_PARAM_INT;
    e.min = 1;
    e.max = 2;
    e.step = 1;
    mp_space_add(&r, &e);
    assert_int_equal(mp_meta_bind(m, &r, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'threads'"));
    assert_null(b);

    /* A task set refuses a service with other parameter names. */
    double x1[2 * 4] = {1, 1, 2, 1, 0, 0, 0, 0}, y1[2] = {1, 2};
    assert_int_equal(mp_meta_taskset_add(&f.ts, "other", &r, x1, y1, 2, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "other"));
    mp_space_release(&r);
    family_model_release(&f);
}

static struct mp_param int_param(const char *name, double lo, double hi, const char *role)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_INT;
    p.min = lo;
    p.max = hi;
    p.step = 1;
    p.role = role ? mp_xstrdup(role) : NULL;
    return p;
}

/* The family's space with other names: max_batch (role batch_size) for batch, and cores
 * (role cpu) for cpus, in another order. */
static void renamed_space(struct mp_space *r, const char *batch_role, const char *cpu_role)
{
    struct mp_space f = {0};
    family_space(&f);
    struct mp_param g = {0};
    g.name = mp_xstrdup("gpu");
    g.type = MP_PARAM_CATEGORICAL;
    g.choices = mp_xreallocarray(NULL, 3, sizeof(char *));
    for (size_t i = 0; i < 3; i++) {
        g.choices[i] = mp_xstrdup(f.params[2].choices[i]);
    }
    g.n_choices = 3;
    mp_space_add(r, &g);
    struct mp_param c = int_param("cores", 1, 4, cpu_role);
    mp_space_add(r, &c);
    struct mp_param b = {0};
    b.name = mp_xstrdup("max_batch");
    b.type = MP_PARAM_DISCRETE;
    b.values = mp_xreallocarray(NULL, f.params[0].n_values, sizeof(double));
    memcpy(b.values, f.params[0].values, f.params[0].n_values * sizeof(double));
    b.n_values = f.params[0].n_values;
    b.role = batch_role ? mp_xstrdup(batch_role) : NULL;
    mp_space_add(r, &b);
    mp_space_release(&f);
}

static void expect_bind_error(const struct mp_meta_model *m, const struct mp_space *r,
                              const char *needle)
{
    struct mp_meta_binding *b = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_bind(m, r, &b, &err), MP_EINVALID);
    assert_null(b);
    if (!strstr(err.msg, needle)) {
        fail_msg("expected \"%s\" in \"%s\"", needle, err.msg);
    }
}

/* The model bound to r (the family's space renamed: gpu, cores, max_batch) encodes its rows xr
 * as the original space s encodes the same rows x: gpu by name, the others by role. */
static void expect_bound_by_role(const struct mp_meta_model *m, const struct mp_space *s,
                                 const struct mp_space *r, const double *x, const double *xr,
                                 size_t n)
{
    struct mp_meta_binding *b = NULL, *bs = NULL;
    struct mp_error err = {0};
    if (mp_meta_bind(m, r, &b, &err) != 0) {
        fail_msg("bind by role: %s", err.msg);
    }
    assert_int_equal(mp_meta_binding_param(b, 0), 2);
    assert_int_equal(mp_meta_binding_param(b, 1), 1);
    assert_int_equal(mp_meta_binding_param(b, 2), 0);
    assert_int_equal(mp_meta_binding_param(b, 3), -1);
    assert_int_equal(mp_meta_bind(m, s, &bs, &err), 0);
    double in_r[5], in_s[5];
    for (size_t i = 0; i < n; i += 7) {
        mp_meta_binding_encode(b, xr + i * 3, in_r);
        mp_meta_binding_encode(bs, x + i * 3, in_s);
        assert_memory_equal(in_r, in_s, sizeof(in_r));
        assert_true(mp_meta_prior_mean(b, xr + i * 3) == mp_meta_prior_mean(bs, x + i * 3));
    }
    mp_meta_binding_free(b);
    mp_meta_binding_free(bs);
}

/* What roles cannot do: stand in for a missing role, beat a name match, or disagree. */
static void expect_role_errors(const struct mp_meta_model *m, struct mp_meta_taskset *ts,
                               const double *xr, const double *y, size_t n)
{
    struct mp_space r = {0};
    /* Without the role, max_batch is unknown: the error names what the model needs. */
    renamed_space(&r, NULL, "cpu");
    expect_bind_error(m, &r, "'batch' (role batch_size)");
    mp_space_release(&r);
    /* A name match wins over a role: batch by name leaves max_batch unclaimed. */
    renamed_space(&r, "batch_size", "cpu");
    struct mp_param extra = int_param("batch", 1, 64, NULL);
    mp_space_add(&r, &extra);
    expect_bind_error(m, &r, "'max_batch' is unknown");
    mp_space_release(&r);
    /* Conflicting roles in training. */
    renamed_space(&r, "batch_size", "threads");
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cpus");
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(ts, "conflict", &r, xr, y, n, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "role threads here, but cpu"));
    mp_space_release(&r);
}

static void test_role_alignment(void **state)
{
    (void)state;
    struct mp_space s = {0};
    family_space(&s);
    s.params[0].role = mp_xstrdup("batch_size");
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    family_tasks(&ts, &s, 3);
    /* A service naming batch max_batch and cpus cores joins by role; cores' role is adopted. */
    struct mp_space r = {0};
    renamed_space(&r, "batch_size", "cpu");
    double *x, *y;
    size_t n = family_table(&s, 0.5, &x, &y);
    double *xr = mp_xcalloc(n * 3, sizeof(double));
    for (size_t i = 0; i < n; i++) { /* (batch, cpus, gpu) -> (gpu, cores, max_batch) */
        xr[i * 3] = x[i * 3 + 2];
        xr[i * 3 + 1] = x[i * 3 + 1];
        xr[i * 3 + 2] = x[i * 3];
    }
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "renamed", &r, xr, y, n, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'cores'"));
    assert_null(ts.features[1].role);
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cpus"); /* by name, and it brings its role */
    if (mp_meta_taskset_add(&ts, "renamed", &r, xr, y, n, &err) != 0) {
        fail_msg("taskset_add by role: %s", err.msg);
    }
    assert_int_equal(ts.n_tasks, 4);
    assert_string_equal(ts.features[0].role, "batch_size");
    assert_string_equal(ts.features[1].role, "cpu");
    for (size_t i = 0; i < n; i++) { /* the renamed task's rows are in the feature layout */
        for (size_t k = 0; k < 3; k++) {
            assert_true(ts.tasks[3].x[i * 3 + k] == x[i * 3 + k]);
        }
    }
    struct mp_meta_model *m = train_small(&ts, 2, MP_META_FOMAML);
    assert_string_equal(m->features[0].role, "batch_size");
    assert_string_equal(m->features[1].role, "cpu");
    assert_null(m->features[2].role);

    /* Binding: gpu by name, cores and max_batch by role; inputs as for the original names. */
    free(r.params[1].name);
    r.params[1].name = mp_xstrdup("cores");
    expect_bound_by_role(m, &s, &r, x, xr, n);
    mp_space_release(&r);
    expect_role_errors(m, &ts, xr, y, n);
    free(xr);
    free(x);
    free(y);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Surface CSVs: parameter columns by --params, roles by COLUMN=ROLE entries. */
static void test_surface_roles_and_params(void **state)
{
    (void)state;
    static const char csv[] = "number,max_batch,cores,failure,value,p99_ms\n"
                              "1,1,1,,2.0,5\n"
                              "2,4,1,,3.0,6\n"
                              "3,4,2,SLO_VIOLATED,9.0,50\n"
                              "4,16,2,,4.0,7\n"
                              "5,16,1,INFRA,8.0,5\n";
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv, sizeof(csv) - 1, "s.csv", &sf, &err), 0);
    static const char *const params[] = {"max_batch", "cores"};
    static const char *const roles[] = {"max_batch=batch_size", "nosuch=threads", "cores=cpu"};
    struct mp_meta_surface_opts o = {"value", false, params, 2, roles, 3};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    if (mp_meta_taskset_add_surface(&ts, sf, &o, &err) != 0) {
        fail_msg("add_surface: %s", err.msg);
    }
    assert_int_equal(ts.n_features, 2);
    assert_string_equal(ts.features[0].name, "max_batch");
    assert_string_equal(ts.features[0].role, "batch_size");
    assert_string_equal(ts.features[1].role, "cpu");
    /* The SLO-violating row is trained at the lowest measured value, whatever it measured; the
     * infrastructure failure says nothing and is skipped. */
    assert_int_equal(ts.tasks[0].n, 4);
    assert_true(ts.tasks[0].y[0] == 0.5 && ts.tasks[0].y[1] == 0.75);
    assert_true(ts.tasks[0].y[2] == 0.5 && ts.tasks[0].y[3] == 1.0);
    static const char *const bad_role[] = {"cores=cpus"};
    static const char *const malformed[] = {"cores"};
    static const char *const missing[] = {"max_batch", "threads"};
    struct mp_meta_surface_opts b = o;
    b.roles = bad_role;
    b.n_roles = 1;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "unknown role \"cpus\""));
    b.roles = malformed;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "COLUMN=ROLE"));
    b = o;
    b.params = missing;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "'threads'"));
    b = o;
    b.objective = "p99_ms";
    b.params = NULL; /* every other column, number and value included: another layout */
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &b, &err), MP_EINVALID);
    assert_int_equal(ts.n_tasks, 1);
    mp_meta_taskset_release(&ts);
    mp_surface_free(sf);
}

/* A finished experiment's trials as a task: succeeded trials with their value, failed ones
 * (an SLO violation included) at the lowest value, infrastructure failures and unreadable rows
 * skipped; fewer than min_points usable trials skip the experiment. */
static void test_trials_task(void **state)
{
    (void)state;
    struct mp_space s = {0};
    struct mp_param p = int_param("b", 1, 16, NULL);
    mp_space_add(&s, &p);
    static const double x[] = {1, 2, 4, 8, 16, 3};
    const struct mp_meta_trial trials[] = {
        {&x[0], MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE, 2.0},
        {&x[1], MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE, 4.0},
        {&x[2], MP_TRIAL_FAILED, MP_FAILURE_SLO_VIOLATED, 9.0},
        {&x[3], MP_TRIAL_FAILED, MP_FAILURE_CRASHED, NAN},
        {&x[4], MP_TRIAL_FAILED, MP_FAILURE_INFRA, NAN},
        {NULL, MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE, 7.0},
    };
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    assert_true(mp_meta_taskset_add_trials(&ts, "t", &s, false, trials, 6, 4));
    assert_int_equal(ts.n_tasks, 1);
    assert_string_equal(ts.tasks[0].name, "t");
    assert_int_equal(ts.tasks[0].n, 4);
    static const double want[] = {0.5, 1.0, 0.5, 0.5};
    for (size_t i = 0; i < 4; i++) {
        if (ts.tasks[0].y[i] != want[i]) {
            fail_msg("row %zu: y %.17g, want %.17g", i, ts.tasks[0].y[i], want[i]);
        }
    }
    mp_meta_taskset_release(&ts);
    /* Minimised: the smaller value is the better one. */
    ts = (struct mp_meta_taskset)MP_META_TASKSET_INIT;
    assert_true(mp_meta_taskset_add_trials(&ts, "t", &s, true, trials, 2, 2));
    if (!(ts.tasks[0].y[0] == -0.5 && ts.tasks[0].y[1] == -1.0)) {
        fail_msg("minimised: y %.17g, %.17g, want -0.5, -1", ts.tasks[0].y[0], ts.tasks[0].y[1]);
    }
    mp_meta_taskset_release(&ts);
    /* Fewer than min_points usable trials: skipped. */
    ts = (struct mp_meta_taskset)MP_META_TASKSET_INIT;
    assert_false(mp_meta_taskset_add_trials(&ts, "t", &s, false, trials, 6, 5));
    assert_int_equal(ts.n_tasks, 0);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* A range wider than the largest double (its width overflowed: the inputs were NaN, and the
 * memory's grouping of equal inputs never advanced and overran its array) trains a model that
 * reads back. */
static void test_wide_range(void **state)
{
    (void)state;
    struct mp_space s = {0};
    struct mp_param p = int_param("b", -1e308, 1e308, NULL);
    mp_space_add(&s, &p);
    static const double x[] = {-1e308, 0, 1e308}, y[] = {1, 3, 2};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "wide", &s, x, y, 3, &err), 0);
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.iterations = 20;
    o.members = 1;
    o.hidden = 4;
    struct mp_meta_model *m = NULL;
    if (mp_meta_train(&ts, &o, &m, &err) != 0) {
        fail_msg("train: %s", err.msg);
    }
    assert_int_equal(m->n_memory, 3);
    struct mp_buf bytes = MP_BUF_INIT;
    mp_meta_model_encode(m, &bytes);
    struct mp_meta_model *back = NULL;
    if (mp_meta_model_decode(bytes.data, bytes.len, "wide.model", &back, &err) != 0) {
        fail_msg("decode: %s", err.msg);
    }
    mp_meta_model_free(back);
    mp_buf_release(&bytes);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* Trains on a one-parameter task; returns mp_meta_train's code (the model freed). */
static int train_one_input(enum mp_meta_method method, size_t hidden, unsigned inner_steps,
                           struct mp_error *err)
{
    struct mp_space s = {0};
    struct mp_param p = int_param("b", 1, 4, NULL);
    mp_space_add(&s, &p);
    static const double x[] = {1, 2, 3, 4}, y[] = {1, 3, 2, 4};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    assert_int_equal(mp_meta_taskset_add(&ts, "small", &s, x, y, 4, err), 0);
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.method = method;
    o.iterations = 1;
    o.meta_batch = 1;
    o.members = 1;
    o.hidden = hidden;
    o.inner_steps = inner_steps;
    struct mp_meta_model *m = NULL;
    int rc = mp_meta_train(&ts, &o, &m, err);
    assert_true(rc == 0 ? m != NULL : m == NULL);
    mp_meta_model_free(m);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
    return rc;
}

/* Training's own buffers count against the 256 MiB bound too, not only the encoded points:
 * maml keeps the weights after every inner step (512 hidden units, 200 steps: 442 MiB; it
 * trained). test_wide_categorical has the sample buffers' case. */
static void test_maml_steps_bounded(void **state)
{
    (void)state;
    struct mp_error err = {0};
    assert_int_equal(train_one_input(MP_META_MAML, 512, 200, &err), MP_ETOOBIG);
    if (!strstr(err.msg, "kept once per inner step by maml") ||
        !strstr(err.msg, "more than 256 MiB")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    /* The same network with first-order MAML keeps one copy: it trains. */
    if (train_one_input(MP_META_FOMAML, 512, 200, &err) != 0) {
        fail_msg("train: %s", err.msg);
    }
}

/* A name or choice longer than the model file's strings is refused when the task is added (it
 * trained, and the model it wrote could not be read). */
static void test_long_names(void **state)
{
    (void)state;
    static const double x[] = {1, 2, 3}, y[] = {1, 3, 2};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_error err = {0};
    struct mp_space s = {0};
    char long_name[300];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    struct mp_param p = int_param(long_name, 1, 4, NULL);
    mp_space_add(&s, &p);
    assert_int_equal(mp_meta_taskset_add(&ts, "long", &s, x, y, 3, &err), MP_EINVALID);
    if (!strstr(err.msg, "long: parameter") || !strstr(err.msg, "longer than 256 bytes")) {
        fail_msg("long name: %s", err.msg);
    }
    mp_space_release(&s);
    s = (struct mp_space){0};
    p = (struct mp_param){0};
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xcalloc(2, sizeof(char *));
    p.choices[0] = mp_xstrdup("A");
    p.choices[1] = mp_xstrdup(long_name);
    p.n_choices = 2;
    mp_space_add(&s, &p);
    static const double xc[] = {0, 1, 0};
    assert_int_equal(mp_meta_taskset_add(&ts, "long", &s, xc, y, 3, &err), MP_EINVALID);
    if (!strstr(err.msg, "long: parameter 'gpu'") || !strstr(err.msg, "longer than 256 bytes")) {
        fail_msg("long choice: %s", err.msg);
    }
    assert_int_equal(ts.n_tasks, 0);
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);
}

/* One categorical parameter "gpu" with these choices. */
static void gpu_space(struct mp_space *s, const char *a, const char *b)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xcalloc(2, sizeof(char *));
    p.choices[0] = mp_xstrdup(a);
    p.choices[1] = mp_xstrdup(b);
    p.n_choices = 2;
    mp_space_add(s, &p);
}

/* A task that is refused leaves the features as they were: its new choices were kept, so the
 * model had an input no training point ever set (untrained weights for that choice, where an
 * unknown choice is an all-zero block) and meta info listed the choice. */
static void test_refused_task_adds_no_choice(void **state)
{
    (void)state;
    struct mp_space s1 = {0}, s2 = {0};
    gpu_space(&s1, "A", "B");
    gpu_space(&s2, "A", "Z");
    static const double x[] = {0, 1}, y[] = {1, 2}, zeros[] = {0, 0};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    struct mp_error err = {0};
    assert_int_equal(mp_meta_taskset_add(&ts, "one", &s1, x, y, 2, &err), 0);
    assert_int_equal(mp_meta_taskset_add(&ts, "flat", &s2, x, zeros, 2, &err), MP_EINVALID);
    assert_int_equal(ts.n_tasks, 1);
    assert_int_equal(ts.features[0].n_choices, 2);
    assert_string_equal(ts.features[0].choices[1], "B");
    assert_int_equal(mp_meta_taskset_add(&ts, "two", &s2, x, y, 2, &err), 0);
    assert_int_equal(ts.features[0].n_choices, 3);
    assert_string_equal(ts.features[0].choices[2], "Z");
    mp_meta_taskset_release(&ts);
    mp_space_release(&s1);
    mp_space_release(&s2);
}

/* Wide categorical columns: an id column of 20,000 distinct texts took 2 * 10^8 comparisons
 * before the choice cap refused it (10^5: minutes), and 64 parameters of 256 choices make 16,384
 * network inputs per point, so that a few thousand points took gigabytes to encode. */
static void test_wide_categorical(void **state)
{
    (void)state;
    struct mp_buf csv = MP_BUF_INIT;
    mp_buf_adds(&csv, "id,batch,value\n");
    for (int r = 0; r < 20000; r++) {
        mp_buf_addf(&csv, "run-%d,%d,%d\n", r, 1 + r % 8, 1 + r % 97);
    }
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv.data, csv.len, "ids.csv", &sf, &err), 0);
    struct mp_meta_surface_opts o = {"value", false, NULL, 0, NULL, 0};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &o, &err), MP_EINVALID);
    if (!strstr(err.msg, "ids.csv: parameter 'id' has 20000 distinct values")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    assert_int_equal(ts.n_tasks, 0);
    mp_surface_free(sf);
    mp_buf_release(&csv);

    enum { D = MP_META_MAX_FEATURES, C = MP_META_MAX_CHOICES, N = 2100 };
    struct mp_space s = {0};
    char *names[C];
    for (size_t k = 0; k < C; k++) {
        names[k] = mp_xasprintf("c%zu", k);
    }
    for (size_t i = 0; i < D; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%zu", i);
        add_choices(&s, name, (const char *const *)names, C);
    }
    double *x = mp_xcalloc((size_t)N * D, sizeof(double)), *y = mp_xcalloc(N, sizeof(double));
    for (size_t r = 0; r < N; r++) {
        for (size_t i = 0; i < D; i++) {
            x[r * D + i] = (double)((r + i) % C);
        }
        y[r] = (double)(1 + r % 13);
    }
    assert_int_equal(mp_meta_taskset_add(&ts, "wide", &s, x, y, N, &err), 0);
    struct mp_meta_train_opts to;
    mp_meta_train_opts_default(&to);
    to.members = 1;
    to.hidden = 1;
    to.iterations = 1;
    struct mp_meta_model *m = NULL;
    assert_int_equal(mp_meta_train(&ts, &to, &m, &err), MP_ETOOBIG);
    assert_null(m);
    if (!strstr(err.msg, "2100 training points of 16384 network inputs")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    /* 16 members of 64 hidden units on 16,384 inputs: 135 MiB of weights, a file the reader
     * refuses (training wrote it after the whole training). Refused before training. */
    mp_meta_taskset_release(&ts);
    assert_int_equal(mp_meta_taskset_add(&ts, "wide", &s, x, y, 300, &err), 0);
    to.members = 16;
    to.hidden = 64;
    assert_int_equal(mp_meta_train(&ts, &to, &m, &err), MP_ETOOBIG);
    assert_null(m);
    if (!strstr(err.msg, "more than the 64 MiB a model file may hold")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    /* One hidden unit, but samples of up to 4,096 + 2 x 24 points of 16,384 inputs: 518 MiB of
     * sample buffers besides the points (it trained, `meta train --support-max 4096`). */
    to.members = 1;
    to.hidden = 1;
    to.support_max = 4096;
    assert_int_equal(mp_meta_train(&ts, &to, &m, &err), MP_ETOOBIG);
    assert_null(m);
    if (!strstr(err.msg, "samples of up to 4144 points of 16384 inputs")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    for (size_t k = 0; k < C; k++) {
        free(names[k]);
    }
    free(x);
    free(y);
    mp_space_release(&s);
    mp_meta_taskset_release(&ts);
}

/* A trial export writes a choice that a spreadsheet would take for a formula with an apostrophe
 * ('-O2 is the choice -O2). The choices were read without it, the rows with it: no row matched
 * its choice, every such row was trained as the first choice ('-O3 as -O2) and the memory merged
 * their configurations. */
static void test_export_protected_choices(void **state)
{
    (void)state;
    static const char csv[] = "number,state,failure,opt,workers,throughput_rps\n"
                              "1,SUCCEEDED,,'-O2,1,5\n"
                              "2,SUCCEEDED,,'-O3,1,6\n"
                              "3,SUCCEEDED,,plain,2,7\n"
                              "4,SUCCEEDED,,'-O3,2,8\n";
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv, sizeof(csv) - 1, "e.csv", &sf, &err), 0);
    struct mp_meta_surface_opts o = {NULL, false, NULL, 0, NULL, 0};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    if (mp_meta_taskset_add_surface(&ts, sf, &o, &err) != 0) {
        fail_msg("add_surface: %s", err.msg);
    }
    assert_int_equal(ts.n_features, 2);
    const struct mp_meta_feature *f = &ts.features[0];
    assert_int_equal(f->n_choices, 3);
    static const char *const want[] = {"-O2", "-O3", "plain", "-O3"}; /* rows in file order */
    static const double workers[] = {1, 1, 2, 2};
    assert_int_equal(ts.tasks[0].n, 4);
    for (size_t r = 0; r < 4; r++) {
        double k = ts.tasks[0].x[r * 2];
        assert_true(k >= 0 && k < (double)f->n_choices);
        if (strcmp(f->choices[(size_t)k], want[r]) != 0) {
            fail_msg("row %zu: choice '%s', expected '%s'", r + 1, f->choices[(size_t)k], want[r]);
        }
        assert_true(ts.tasks[0].x[r * 2 + 1] == workers[r]);
    }
    mp_meta_taskset_release(&ts);
    mp_surface_free(sf);
}

/* A surface whose parameter columns do not tell its rows apart (a parameter left after the first
 * metric, which the default layout does not take) was trained on as it was: both rows of a
 * configuration, with different values, where replay refuses the file. */
static void test_surface_repeated_configuration(void **state)
{
    (void)state;
    static const char csv[] = "batch,throughput_rps,cpu\n"
                              "1,10,1\n"
                              "1,20,2\n"
                              "2,30,1\n"
                              "2,25,2\n";
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv, sizeof(csv) - 1, "twice.csv", &sf, &err), 0);
    struct mp_meta_surface_opts o = {NULL, false, NULL, 0, NULL, 0};
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    assert_int_equal(mp_meta_taskset_add_surface(&ts, sf, &o, &err), MP_EINVALID);
    if (!strstr(err.msg,
                "twice.csv:3: configuration batch=1 appears twice (line 2 is the other)")) {
        fail_msg("unexpected error \"%s\"", err.msg);
    }
    assert_int_equal(ts.n_tasks, 0);
    /* Naming the parameters tells the rows apart. */
    static const char *const params[] = {"batch", "cpu"};
    o.params = params;
    o.n_params = 2;
    if (mp_meta_taskset_add_surface(&ts, sf, &o, &err) != 0) {
        fail_msg("add_surface: %s", err.msg);
    }
    assert_int_equal(ts.n_tasks, 1);
    assert_int_equal(ts.tasks[0].n, 4);
    mp_meta_taskset_release(&ts);
    mp_surface_free(sf);
}

/* A configuration that a replay found no row for (NOT_RECORDED) was not measured: it was trained
 * at the service's lowest value, as a verdict on it, where it says as little as an
 * infrastructure failure. Trials of a replayed experiment and a surface's failure cell alike. */
static void test_not_recorded_says_nothing(void **state)
{
    (void)state;
    struct mp_space s = {0};
    struct mp_param p = int_param("b", 1, 16, NULL);
    mp_space_add(&s, &p);
    static const double x[] = {1, 2, 4, 8};
    const struct mp_meta_trial trials[] = {
        {&x[0], MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE, 2.0},
        {&x[1], MP_TRIAL_SUCCEEDED, MP_FAILURE_NONE, 4.0},
        {&x[2], MP_TRIAL_FAILED, MP_FAILURE_NOT_RECORDED, NAN},
        {&x[3], MP_TRIAL_FAILED, MP_FAILURE_CRASHED, NAN},
    };
    struct mp_meta_taskset ts = MP_META_TASKSET_INIT;
    assert_true(mp_meta_taskset_add_trials(&ts, "t", &s, false, trials, 4, 2));
    assert_int_equal(ts.tasks[0].n, 3);
    for (size_t i = 0; i < ts.tasks[0].n; i++) {
        assert_true(ts.tasks[0].x[i] != 4); /* b = 4 stands for nothing */
    }
    mp_meta_taskset_release(&ts);
    mp_space_release(&s);

    static const char csv[] = "b,value,failure\n"
                              "1,2,\n"
                              "2,4,\n"
                              "4,,NOT_RECORDED\n"
                              "8,,CRASHED\n";
    struct mp_surface *sf = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_parse(csv, sizeof(csv) - 1, "nr.csv", &sf, &err), 0);
    struct mp_meta_surface_opts o = {"value", false, NULL, 0, NULL, 0};
    ts = (struct mp_meta_taskset)MP_META_TASKSET_INIT;
    if (mp_meta_taskset_add_surface(&ts, sf, &o, &err) != 0) {
        fail_msg("add_surface: %s", err.msg);
    }
    assert_int_equal(ts.tasks[0].n, 3);
    mp_meta_taskset_release(&ts);
    mp_surface_free(sf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_role_alignment),
        cmocka_unit_test(test_surface_roles_and_params),
        cmocka_unit_test(test_trials_task),
        cmocka_unit_test(test_wide_range),
        cmocka_unit_test(test_maml_steps_bounded),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_refused_task_adds_no_choice),
        cmocka_unit_test(test_wide_categorical),
        cmocka_unit_test(test_export_protected_choices),
        cmocka_unit_test(test_surface_repeated_configuration),
        cmocka_unit_test(test_not_recorded_says_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
