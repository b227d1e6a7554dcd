/* SPDX-License-Identifier: Apache-2.0 */
/* LAPACK and BLAS entry points, loaded on first use. OpenBLAS costs about 3.5 MiB of resident
 * memory the moment it is mapped; loading it only when a Gaussian process is fitted keeps every
 * other command (the load generator above all) small. */
#include "gp/gp_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static struct mp_lapack fns;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct mp_error load_err; /* why the libraries could not be loaded; code 0: they were */

static void load(void)
{
    const struct mp_dl_symbol blas[] = {
        {"cblas_ddot", (void **)&fns.ddot},
        {"openblas_set_num_threads", (void **)&fns.set_num_threads},
    };
    const struct mp_dl_symbol lapacke[] = {
        {"LAPACKE_dpotrf", (void **)&fns.dpotrf},
        {"LAPACKE_dpotrs", (void **)&fns.dpotrs},
        {"LAPACKE_dtrtrs", (void **)&fns.dtrtrs},
        {"LAPACKE_set_nancheck", (void **)&fns.set_nancheck},
    };
    if (mp_dl_load("libopenblas.so.0", blas, MP_ARRAY_LEN(blas), &load_err) != 0 ||
        mp_dl_load("liblapacke.so.3", lapacke, MP_ARRAY_LEN(lapacke), &load_err) != 0) {
        return;
    }
    /* Our matrices are small; OpenBLAS threads would only fight the engine's own threads. */
    fns.set_num_threads(1);
    /* Inputs are ours and finite; the NaN scan costs as much as a small factorisation. */
    fns.set_nancheck(0);
}

const struct mp_lapack *mp_lapack(void)
{
    pthread_once(&once, load);
    if (load_err.code != 0) {
        fprintf(stderr, "morphling: %s\n", load_err.msg);
        abort();
    }
    return &fns;
}

int mp_gp_available(struct mp_error *err)
{
    pthread_once(&once, load);
    if (load_err.code != 0) {
        return mp_error_set(err, load_err.code, "the Gaussian process needs LAPACK: %s",
                            load_err.msg);
    }
    return 0;
}
