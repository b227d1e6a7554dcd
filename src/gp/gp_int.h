/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/gp only: the LAPACK/BLAS functions the GP uses, loaded on first use
 * (lapack.c). */
#ifndef MP_GP_INT_H
#define MP_GP_INT_H

#include <cblas.h>
#include <lapacke.h>

#include "gp/gp.h"

struct mp_lapack {
    lapack_int (*dpotrf)(int layout, char uplo, lapack_int n, double *a, lapack_int lda);
    lapack_int (*dpotrs)(int layout, char uplo, lapack_int n, lapack_int nrhs, const double *a,
                         lapack_int lda, double *b, lapack_int ldb);
    lapack_int (*dtrtrs)(int layout, char uplo, char trans, char diag, lapack_int n,
                         lapack_int nrhs, const double *a, lapack_int lda, double *b,
                         lapack_int ldb);
    void (*set_nancheck)(int flag);
    double (*ddot)(blasint n, const double *x, blasint incx, const double *y, blasint incy);
    void (*set_num_threads)(int n);
};

/* Loads the libraries on the first call (single-threaded BLAS, no NaN checks) and aborts with
 * a message naming the library when they are missing: they are hard dependencies, which the
 * optimizers that fit a GP check with mp_gp_available() when they are created. */
const struct mp_lapack *mp_lapack(void);

#endif
