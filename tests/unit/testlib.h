/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the unit tests: building search spaces, finding helper programs, counting
 * open descriptors, removing a store file, and SEC (one second in nanoseconds, for deadlines). */
#ifndef MP_TESTLIB_H
#define MP_TESTLIB_H

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "space/space.h"

#define SEC 1000000000LL

static inline void add_range(struct mp_space *s, const char *name, enum mp_param_type t, double min,
                             double max, double step)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = t;
    p.min = min;
    p.max = max;
    p.step = step;
    mp_space_add(s, &p);
}

static inline void add_list(struct mp_space *s, const char *name, const double *v, size_t n,
                            bool log)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_DISCRETE;
    p.values = mp_xreallocarray(NULL, n, sizeof(double));
    memcpy(p.values, v, n * sizeof(double));
    p.n_values = n;
    p.log_scale = log;
    mp_space_add(s, &p);
}

static inline void add_choices(struct mp_space *s, const char *name, const char *const *c, size_t n)
{
    struct mp_param p = {0};
    p.name = mp_xstrdup(name);
    p.type = MP_PARAM_CATEGORICAL;
    p.choices = mp_xreallocarray(NULL, n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        p.choices[i] = mp_xstrdup(c[i]);
    }
    p.n_choices = n;
    mp_space_add(s, &p);
}

/* Path of a helper program built next to the running test (tests/helpers). Owned. */
static inline char *helper(const char *name)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return mp_xstrdup(name);
    }
    self[n] = '\0';
    *strrchr(self, '/') = '\0';
    return mp_xasprintf("%s/%s", self, name);
}

/* Open descriptors of this process (the directory's own entries and descriptor included: compare
 * two counts). */
static inline int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    while (d && readdir(d)) {
        n++;
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* Removes an SQLite store file with its -wal and -shm files, and frees path. */
static inline void remove_db(char *path)
{
    char *wal = mp_xasprintf("%s-wal", path), *shm = mp_xasprintf("%s-shm", path);
    unlink(path);
    unlink(wal);
    unlink(shm);
    free(wal);
    free(shm);
    free(path);
}

#endif
