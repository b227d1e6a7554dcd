/* SPDX-License-Identifier: Apache-2.0 */
/* Gaussian-process regression for the Bayesian optimiser: dense Cholesky helpers (LAPACKE,
 * single-threaded OpenBLAS), a Matérn 5/2 kernel with one length scale per input dimension and
 * a categorical (one-hot) distance for categorical inputs, hyper-parameters fit by maximising
 * the marginal likelihood plus weak log-normal priors (NLopt L-BFGS with analytic gradients,
 * several seeded starts), posterior mean and variance, and the acquisition math (expected
 * improvement in plain and log form, upper confidence bound, normal cdf/pdf).
 *
 * Inputs are vectors of `d` doubles. A continuous input is expected in about [0, 1]; a
 * categorical one holds the choice index (only equality matters). All matrices are row-major.
 * Reference for the model: Rasmussen & Williams, "Gaussian Processes for Machine Learning"
 * (2006), algorithm 2.1 (prediction) and eq. 5.9 (marginal likelihood gradient).
 *
 * Ownership: a struct mp_gp owns copies of everything given to it; mp_gp_release frees them.
 * Functions borrow their pointer arguments for the duration of the call.
 * Thread-safety: a model may be read (mp_gp_predict) from several threads once conditioned;
 * fitting and conditioning mutate it. */
#ifndef MP_GP_H
#define MP_GP_H

#include "core/core.h"

/* --- dense linear algebra ------------------------------------------------------------------ */

/* Loads LAPACK and BLAS (OpenBLAS) if not yet loaded; MP_ERUNTIME naming the library or the
 * symbol when they cannot be. Every other function here aborts in that case: optimizers call
 * this when they are created, so that an experiment fails before its first trial, not at the
 * first model fit. Thread-safe. */
int mp_gp_available(struct mp_error *err) MP_WUR;

/* Lower Cholesky factor of the symmetric n x n matrix a, in place (the strict upper triangle is
 * zeroed). When the matrix is not numerically positive definite, jitter of 1e-10, 1e-9 ... 1e-2
 * times the mean diagonal is added until it is; *jitter (may be NULL) receives what was added.
 * MP_ERUNTIME when even the largest jitter fails (a NaN or inf entry never factors), the matrix
 * as it was; MP_ETOOBIG when n x n doubles cannot be addressed. */
int mp_gp_cholesky(double *a, size_t n, double *jitter) MP_WUR;
/* Solves (L L^T) x = b for nrhs right-hand sides stored as rows of b (b is nrhs x n). */
void mp_gp_cho_solve(const double *l, size_t n, double *b, size_t nrhs);
/* Solves L v = b in place for m right-hand sides stored as rows of b (b is m x n). */
void mp_gp_tri_solve(const double *l, size_t n, double *b, size_t m);

/* --- normal distribution and acquisition functions ----------------------------------------- */

double mp_norm_pdf(double z);
double mp_norm_cdf(double z);
/* Inverse of mp_norm_cdf for p in (0, 1); -inf/inf at 0/1. */
double mp_norm_ppf(double p);
/* log of the standard normal cdf, accurate far into the lower tail. */
double mp_norm_logcdf(double z);
/* Expected improvement over `best` of a N(mu, sigma^2) value when maximising, with margin xi:
 * (mu - best - xi) Phi(z) + sigma phi(z), z = (mu - best - xi) / sigma (Jones et al. 1998). */
double mp_gp_ei(double mu, double sigma, double best, double xi);
/* log of mp_gp_ei, finite (no underflow to -inf) for z down to about -1e150; -inf only when
 * sigma == 0 and mu <= best + xi. Uses the asymptotic Mills-ratio series for z < -5. */
double mp_gp_log_ei(double mu, double sigma, double best, double xi);
/* Upper confidence bound mu + beta * sigma. */
double mp_gp_ucb(double mu, double sigma, double beta);

/* --- the model ----------------------------------------------------------------------------- */

struct mp_gp {
    size_t d;           /* input dimensions */
    unsigned char *cat; /* d flags: 1 = categorical input */
    /* Hyper-parameters, all in log space. */
    double *log_ls; /* d length scales */
    double log_sf2; /* signal variance */
    double log_sn2; /* noise variance */
    /* Median of the length-scale prior, in log; NAN (the default) for 0.4 + ln(d)/2. Set it
     * (and log_ls as the start) before mp_gp_fit. */
    double prior_log_ls;
    /* Targets are modelled as y_mean + y_scale * f; mp_gp_fit sets these when normalize. */
    bool normalize;
    double y_mean, y_scale;
    /* Conditioning data. */
    size_t n;
    double *x;     /* n x d */
    double *y;     /* n, standardised */
    double *l;     /* n x n Cholesky factor of K + sn2 I (+ jitter) */
    double *alpha; /* n: (K + sn2 I)^-1 y */
    double jitter; /* jitter added by the last factorisation */
};

struct mp_gp_fit_opts {
    unsigned restarts;               /* random starts besides the default start; default 2 */
    unsigned max_eval;               /* per start; default 60 */
    bool fit_noise;                  /* false: keep log_sn2 as set */
    double min_log_sn2, max_log_sn2; /* noise bounds (standardised units); default ln 1e-6..ln 1 */
    size_t max_fit_points; /* fit hyper-parameters on at most this many points (the best half
                            * and an even spread of the rest); 0: all. The posterior always uses
                            * every point. */
};
#define MP_GP_FIT_OPTS_INIT                                                                        \
    {                                                                                              \
        2, 60, true, -13.815510557964274, 0.0, 0                                                   \
    }

/* Model with d inputs (cat may be NULL: all continuous) and default hyper-parameters: length
 * scales at their prior median exp(0.4 + ln(d)/2), signal variance 1, noise variance 1e-4,
 * normalize on. */
void mp_gp_init(struct mp_gp *gp, size_t d, const unsigned char *cat);
void mp_gp_release(struct mp_gp *gp);

/* Kernel value (without noise) between two inputs under the current hyper-parameters. */
double mp_gp_kernel(const struct mp_gp *gp, const double *a, const double *b);
/* Matérn 5/2 correlation at scaled distance r: (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r). */
double mp_gp_matern52(double r);

/* Conditions on n observations (x: n x d, y: n in original units) under the current
 * hyper-parameters and the current y_mean/y_scale. n may be 0 (the prior). */
int mp_gp_condition(struct mp_gp *gp, const double *x, const double *y, size_t n,
                    struct mp_error *err) MP_WUR;
/* Sets y_mean/y_scale from y (when normalize), fits the hyper-parameters by maximising the log
 * marginal likelihood plus log priors from the current values and `restarts` random starts
 * drawn from rng, keeps the best, and conditions on the data. */
int mp_gp_fit(struct mp_gp *gp, const double *x, const double *y, size_t n,
              const struct mp_gp_fit_opts *opts, struct mp_rng *rng, struct mp_error *err) MP_WUR;
/* Log marginal likelihood of the conditioned data (standardised units), without priors. */
double mp_gp_lml(const struct mp_gp *gp);

/* Posterior of the latent function at m inputs (xs: m x d), in original units. var may be NULL.
 * Variances are clamped at 0 from below. */
void mp_gp_predict(const struct mp_gp *gp, const double *xs, size_t m, double *mean, double *var);

/* Noise standard deviation in original units. */
double mp_gp_noise_sd(const struct mp_gp *gp);

#endif
