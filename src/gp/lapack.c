/* SPDX-License-Identifier: Apache-2.0 */
/* LAPACK and BLAS entry points, loaded on first use. OpenBLAS costs about 3.5 MiB of resident
 * memory the moment it is mapped; loading it only when a Gaussian process is fitted keeps every
 * other command (the load generator above all) small. */
#include "gp/gp_int.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct mp_lapack fns;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *open_lib(const char *name)
{
    void *h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!h) {
        fprintf(stderr,
                "morphling: cannot load %s (%s); install the Debian packages of "
                "deps/debian-packages.txt\n",
                name, dlerror());
        abort();
    }
    return h;
}

static void *symbol(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p) {
        fprintf(stderr, "morphling: %s lacks %s\n", "LAPACK/BLAS", name);
        abort();
    }
    return p;
}

/* Function pointers from dlsym: POSIX guarantees the object/function pointer conversion. */
#define LOAD(h, field, name) (*(void **)&fns.field = symbol((h), (name)))

static void load(void)
{
    void *blas = open_lib("libopenblas.so.0");
    void *lapacke = open_lib("liblapacke.so.3");
    LOAD(blas, ddot, "cblas_ddot");
    LOAD(blas, set_num_threads, "openblas_set_num_threads");
    LOAD(lapacke, dpotrf, "LAPACKE_dpotrf");
    LOAD(lapacke, dpotrs, "LAPACKE_dpotrs");
    LOAD(lapacke, dtrtrs, "LAPACKE_dtrtrs");
    LOAD(lapacke, set_nancheck, "LAPACKE_set_nancheck");
    /* Our matrices are small; OpenBLAS threads would only fight the engine's own threads. */
    fns.set_num_threads(1);
    /* Inputs are ours and finite; the NaN scan costs as much as a small factorisation. */
    fns.set_nancheck(0);
}

const struct mp_lapack *mp_lapack(void)
{
    pthread_once(&once, load);
    return &fns;
}
