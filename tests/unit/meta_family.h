/* SPDX-License-Identifier: Apache-2.0 */
/* A family of related synthetic performance surfaces for the meta-learning tests: throughput
 * saturating in batch size and cores, a service-specific GPU ordering, divided by a cost; and
 * the task sets and small models the tests train on them. */
#ifndef MP_TEST_META_FAMILY_H
#define MP_TEST_META_FAMILY_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"
#include "space/space.h"

static void family_space(struct mp_space *s)
{
    static const double batch[] = {1, 2, 4, 8, 16, 32, 64};
    static const char *const gpu[] = {"A", "B", "C"};
    struct mp_param p = {0};
    p.name = mp_xstrdup("batch");
    p.type = MP_PARAM_DISCRETE;
    p.values = mp_xreallocarray(NULL, 7, sizeof(double));
    memcpy(p.values, batch, sizeof(batch));
    p.n_values = 7;
    mp_space_add(s, &p);
    memset(&p, 0, sizeof(p));
    p.name = mp_xstrdup("cpus");
    p.type = MP_PARAM_INT;
    p.min = 1;
    p.max = 4;
    p.step = 1;
    mp_space_add(s, &p);
    memset(&p, 0, sizeof(p));
    p.name = mp_xstrdup("gpu");
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, 3, sizeof(char *));
    for (size_t i = 0; i < 3; i++) {
        p.choices[i] = mp_xstrdup(gpu[i]);
    }
    p.n_choices = 3;
    mp_space_add(s, &p);
}

/* Objective of configuration x (batch, cpus, gpu index) for the service with shape t in [0,1]. */
static double family_value(double t, const double *x)
{
    static const double base[] = {1.0, 1.3, 0.8};
    static const double slope[] = {0.0, -0.5, 0.6};
    double batch = x[0], cpus = x[1];
    double speed = base[(size_t)x[2]] + slope[(size_t)x[2]] * t;
    double k = 4 + 28 * t, c = 1 + 2 * t;
    return 10 * speed * batch / (batch + k) * cpus / (cpus + c) / (1 + 0.25 * cpus);
}

/* Every configuration of the family's space with its value for shape t (84 rows). */
static size_t family_table(const struct mp_space *s, double t, double **x, double **y)
{
    uint64_t n = 0;
    mp_space_count(s, &n);
    *x = mp_xcalloc((size_t)n * s->n, sizeof(double));
    *y = mp_xcalloc((size_t)n, sizeof(double));
    for (uint64_t i = 0; i < n; i++) {
        mp_space_from_index(s, i, *x + i * s->n);
        (*y)[i] = family_value(t, *x + i * s->n);
    }
    return (size_t)n;
}

/* Task set of n_tasks services of the family with shapes spread over [0, 1]. */
static inline void family_tasks(struct mp_meta_taskset *ts, const struct mp_space *s,
                                size_t n_tasks)
{
    for (size_t k = 0; k < n_tasks; k++) {
        double *x, *y;
        size_t n = family_table(s, (double)k / (double)(n_tasks - 1), &x, &y);
        char name[32];
        snprintf(name, sizeof(name), "service-%zu", k);
        struct mp_error err = {0};
        int rc = mp_meta_taskset_add(ts, name, s, x, y, n, &err);
        if (rc != 0) {
            fail_msg("taskset_add: %s", err.msg);
        }
        free(x);
        free(y);
    }
}

static inline struct mp_meta_model *train_small(const struct mp_meta_taskset *ts, uint64_t seed,
                                                enum mp_meta_method method)
{
    struct mp_meta_train_opts o;
    mp_meta_train_opts_default(&o);
    o.seed = seed;
    o.method = method;
    o.hidden = 12;
    o.members = 2;
    o.iterations = 300;
    o.query = 12;
    o.support_max = 6;
    struct mp_meta_model *m = NULL;
    struct mp_error err = {0};
    if (mp_meta_train(ts, &o, &m, &err) != 0) {
        fail_msg("train: %s", err.msg);
    }
    return m;
}

/* A small model trained on n_tasks services of the family, with its space and task set. */
struct family_model {
    struct mp_space s;
    struct mp_meta_taskset ts;
    struct mp_meta_model *m;
};

static inline void family_model_init(struct family_model *f, size_t n_tasks, uint64_t seed,
                                     enum mp_meta_method method)
{
    memset(f, 0, sizeof(*f));
    family_space(&f->s);
    f->ts = (struct mp_meta_taskset)MP_META_TASKSET_INIT;
    family_tasks(&f->ts, &f->s, n_tasks);
    f->m = train_small(&f->ts, seed, method);
}

static inline void family_model_release(struct family_model *f)
{
    mp_meta_model_free(f->m);
    mp_meta_taskset_release(&f->ts);
    mp_space_release(&f->s);
}

#endif
