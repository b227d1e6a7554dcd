/* SPDX-License-Identifier: Apache-2.0 */
/* Gaussian-process regression: Cholesky helpers, the Matérn 5/2 kernel, hyper-parameter fitting
 * and the posterior, plus the acquisition functions built on the normal distribution. */
#include "gp/gp_int.h"

#include <math.h>
#include <nlopt.h>
#include <pthread.h>
#include <string.h>

#define SQRT5 2.23606797749978969641

/* Log-normal hyper-priors (means and standard deviations in log space, standardised targets,
 * inputs in [0, 1]). Length scales are long and grow with the dimension, after Hvarfner et al.,
 * "Vanilla Bayesian Optimization Performs Great in High Dimensions" (ICML 2024), whose prior is
 * N(sqrt2 + ln(d)/2, sqrt3): ours is N(0.4 + ln(d)/2, 0.5), a median of 3.3 for five inputs,
 * narrower because a handful of points cannot pin a length scale down. A short-scale prior
 * (median 0.5) made the model treat every categorical combination as unrelated and needed about
 * twice as many trials on the Falcon source surfaces (docs/internals/bo.md). The signal variance
 * is around 1 and the noise variance around 1 % of the data's. */
#define PRIOR_LS_C    0.4
#define PRIOR_LS_SD   0.5
#define PRIOR_SF_MU   0.0
#define PRIOR_SF_SD   1.5
#define PRIOR_SN_MU   (-4.605170185988091) /* ln 1e-2 */
#define PRIOR_SN_SD   1.0
#define LOG_LS_MIN    (-4.605170185988091) /* ln 0.01 */
#define LOG_LS_MAX    3.912023005428146    /* ln 50 */
#define LOG_SF_MIN    (-4.605170185988091) /* ln 0.01 */
#define LOG_SF_MAX    4.605170185988091    /* ln 100 */
#define PREDICT_BLOCK 512

/* OpenBLAS's dpotrf reports success on a matrix with NaN entries (its factor is NaN): a factor
 * is good when its diagonal is positive and finite. */
static bool diagonal_ok(const double *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!(l[i * n + i] > 0 && isfinite(l[i * n + i]))) {
            return false;
        }
    }
    return true;
}

int mp_gp_cholesky(double *a, size_t n, double *jitter)
{
    if (jitter) {
        *jitter = 0;
    }
    if (n == 0) {
        return 0;
    }
    size_t nn, bytes;
    if (!mp_size_mul(n, n, &nn) || !mp_size_mul(nn, sizeof(double), &bytes) ||
        (size_t)(lapack_int)n != n) {
        return MP_ETOOBIG;
    }
    double *orig = mp_xmalloc(bytes);
    memcpy(orig, a, bytes);
    double mean_diag = 0;
    for (size_t i = 0; i < n; i++) {
        mean_diag += fabs(orig[i * n + i]);
    }
    mean_diag = mean_diag > 0 ? mean_diag / (double)n : 1.0;
    int rc = MP_ERUNTIME;
    double added = 0;
    for (int attempt = 0; attempt <= 9; attempt++) {
        if (attempt > 0) {
            added = mean_diag * pow(10.0, -11 + attempt);
            memcpy(a, orig, bytes);
            for (size_t i = 0; i < n; i++) {
                a[i * n + i] += added;
            }
        }
        /* Row-major lower is column-major upper: no transposition copies. */
        if (mp_lapack()->dpotrf(LAPACK_COL_MAJOR, 'U', (lapack_int)n, a, (lapack_int)n) == 0 &&
            diagonal_ok(a, n)) {
            rc = 0;
            break;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            for (size_t j = i + 1; j < n; j++) {
                a[i * n + j] = 0;
            }
        }
        if (jitter) {
            *jitter = added;
        }
    } else {
        memcpy(a, orig, bytes);
    }
    free(orig);
    return rc;
}

/* A row-major lower factor L is, read column-major, the upper factor U = L^T, and a set of
 * right-hand sides stored as rows is column-major n x nrhs: LAPACK works on both in place. */
void mp_gp_cho_solve(const double *l, size_t n, double *b, size_t nrhs)
{
    if (n == 0 || nrhs == 0) {
        return;
    }
    mp_lapack()->dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)n, (lapack_int)nrhs, l, (lapack_int)n, b,
                        (lapack_int)n);
}

void mp_gp_tri_solve(const double *l, size_t n, double *b, size_t m)
{
    if (n == 0 || m == 0) {
        return;
    }
    /* L v = b  <=>  U^T v = b with U = L^T as seen column-major. */
    mp_lapack()->dtrtrs(LAPACK_COL_MAJOR, 'U', 'T', 'N', (lapack_int)n, (lapack_int)m, l,
                        (lapack_int)n, b, (lapack_int)n);
}

double mp_norm_pdf(double z)
{
    return exp(-0.5 * z * z) * 0.39894228040143267794;
}

double mp_norm_cdf(double z)
{
    return 0.5 * erfc(-z * 0.70710678118654752440);
}

/* Acklam's rational approximation (relative error 1.15e-9) refined by one Halley step. */
double mp_norm_ppf(double p)
{
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00,  2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                               3.754408661907416e+00};
    if (!(p > 0)) {
        return -INFINITY;
    }
    if (!(p < 1)) {
        return INFINITY;
    }
    double x;
    if (p < 0.02425 || p > 1 - 0.02425) {
        double q = sqrt(-2 * log(p < 0.5 ? p : 1 - p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        x = p < 0.5 ? x : -x;
    } else {
        double q = p - 0.5, r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
    }
    double e = mp_norm_cdf(x) - p;
    double u = e * 2.50662827463100050242 * exp(x * x / 2);
    return x - u / (1 + x * u / 2);
}

/* Asymptotic series of the Mills ratio: for z -> -inf, Phi(z) = phi(z)/|z| (1 - 1/z^2 + 3/z^4
 * - 15/z^6 + ...) (Abramowitz & Stegun 26.2.12). Used where erfc underflows. */
double mp_norm_logcdf(double z)
{
    if (z > -30) {
        return log(mp_norm_cdf(z));
    }
    double q = 1.0 / (z * z);
    double series = 1 - q * (1 - 3 * q * (1 - 5 * q * (1 - 7 * q)));
    return -0.5 * z * z - 0.91893853320467274178 - log(-z) + log(series);
}

double mp_gp_ei(double mu, double sigma, double best, double xi)
{
    double d = mu - best - xi;
    if (!(sigma > 0)) {
        return d > 0 ? d : 0;
    }
    double z = d / sigma;
    return d * mp_norm_cdf(z) + sigma * mp_norm_pdf(z);
}

/* EI / sigma = z Phi(z) + phi(z) = phi(z) (1 + z Phi(z)/phi(z)); for z < -10 the Mills-ratio
 * series gives phi(z) (1/z^2 - 3/z^4 + 15/z^6 - 105/z^8 + 945/z^10), avoiding the cancellation
 * and underflow of the direct form (Ament et al., "Unexpected Improvements to Expected
 * Improvement", NeurIPS 2023, sec. 4). */
double mp_gp_log_ei(double mu, double sigma, double best, double xi)
{
    double d = mu - best - xi;
    if (!(sigma > 0)) {
        return d > 0 ? log(d) : -INFINITY;
    }
    double z = d / sigma;
    if (z > -10) {
        return log(sigma) + log(z * mp_norm_cdf(z) + mp_norm_pdf(z));
    }
    double q = 1.0 / (z * z);
    double series = q * (1 - 3 * q * (1 - 5 * q * (1 - 7 * q * (1 - 9 * q))));
    return log(sigma) - 0.5 * z * z - 0.91893853320467274178 + log(series);
}

double mp_gp_ucb(double mu, double sigma, double beta)
{
    return mu + beta * sigma;
}

double mp_gp_matern52(double r)
{
    double s = SQRT5 * r;
    return (1 + s + s * s / 3.0) * exp(-s);
}

static double prior_ls_mu(const struct mp_gp *gp)
{
    if (isfinite(gp->prior_log_ls)) {
        return gp->prior_log_ls;
    }
    return PRIOR_LS_C + 0.5 * log(gp->d > 0 ? (double)gp->d : 1.0);
}

void mp_gp_init(struct mp_gp *gp, size_t d, const unsigned char *cat)
{
    memset(gp, 0, sizeof(*gp));
    gp->d = d;
    gp->cat = mp_xcalloc(d ? d : 1, 1);
    if (cat) {
        memcpy(gp->cat, cat, d);
    }
    gp->log_ls = mp_xcalloc(d ? d : 1, sizeof(double));
    gp->prior_log_ls = NAN;
    for (size_t k = 0; k < d; k++) {
        gp->log_ls[k] = prior_ls_mu(gp);
    }
    gp->log_sf2 = 0;
    gp->log_sn2 = log(1e-4);
    gp->normalize = true;
    gp->y_mean = 0;
    gp->y_scale = 1;
}

void mp_gp_release(struct mp_gp *gp)
{
    free(gp->cat);
    free(gp->log_ls);
    free(gp->x);
    free(gp->y);
    free(gp->l);
    free(gp->alpha);
    memset(gp, 0, sizeof(*gp));
}

/* Squared scaled distance; one-hot encoding of a categorical input puts two differing choices
 * at squared distance 2. inv_ls2[k] = 1 / ls_k^2. */
static double sqdist(const unsigned char *cat, const double *inv_ls2, size_t d, const double *a,
                     const double *b)
{
    double r2 = 0;
    for (size_t k = 0; k < d; k++) {
        if (cat[k]) {
            r2 += a[k] != b[k] ? 2.0 * inv_ls2[k] : 0;
        } else {
            double t = a[k] - b[k];
            r2 += t * t * inv_ls2[k];
        }
    }
    return r2;
}

static void inv_ls2_of(const struct mp_gp *gp, double *inv_ls2)
{
    for (size_t k = 0; k < gp->d; k++) {
        inv_ls2[k] = exp(-2 * gp->log_ls[k]);
    }
}

double mp_gp_kernel(const struct mp_gp *gp, const double *a, const double *b)
{
    double inv[64];
    double *inv_ls2 = gp->d <= 64 ? inv : mp_xmalloc(gp->d * sizeof(double));
    inv_ls2_of(gp, inv_ls2);
    double k = exp(gp->log_sf2) * mp_gp_matern52(sqrt(sqdist(gp->cat, inv_ls2, gp->d, a, b)));
    if (inv_ls2 != inv) {
        free(inv_ls2);
    }
    return k;
}

/* Builds K + sn2 I (lower triangle and diagonal; the upper is mirrored) for x (n x d). */
static void build_gram(const struct mp_gp *gp, const double *x, size_t n, double *k)
{
    double *inv_ls2 = mp_xmalloc((gp->d ? gp->d : 1) * sizeof(double));
    inv_ls2_of(gp, inv_ls2);
    double sf2 = exp(gp->log_sf2), sn2 = exp(gp->log_sn2);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            double r2 = sqdist(gp->cat, inv_ls2, gp->d, x + i * gp->d, x + j * gp->d);
            double v = sf2 * mp_gp_matern52(sqrt(r2));
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
        k[i * n + i] = sf2 + sn2;
    }
    free(inv_ls2);
}

/* Factors the Gram matrix of gp->x and solves for alpha. */
static int factor(struct mp_gp *gp, struct mp_error *err)
{
    size_t n = gp->n;
    free(gp->l);
    free(gp->alpha);
    gp->l = mp_xmalloc((n ? n * n : 1) * sizeof(double));
    gp->alpha = mp_xmalloc((n ? n : 1) * sizeof(double));
    gp->jitter = 0;
    if (n == 0) {
        return 0;
    }
    build_gram(gp, gp->x, n, gp->l);
    int rc = mp_gp_cholesky(gp->l, n, &gp->jitter);
    if (rc < 0) {
        return mp_error_set(err, rc, "GP kernel matrix is not positive definite (%zu points)", n);
    }
    memcpy(gp->alpha, gp->y, n * sizeof(double));
    mp_gp_cho_solve(gp->l, n, gp->alpha, 1);
    return 0;
}

int mp_gp_condition(struct mp_gp *gp, const double *x, const double *y, size_t n,
                    struct mp_error *err)
{
    size_t bytes;
    if (!mp_size_mul(n, gp->d * sizeof(double), &bytes) || n > 100000) {
        return mp_error_set(err, MP_ETOOBIG, "GP: too many observations (%zu)", n);
    }
    free(gp->x);
    free(gp->y);
    gp->n = n;
    gp->x = mp_xmalloc(bytes ? bytes : 1);
    gp->y = mp_xmalloc((n ? n : 1) * sizeof(double));
    if (n) {
        memcpy(gp->x, x, bytes);
    }
    for (size_t i = 0; i < n; i++) {
        gp->y[i] = (y[i] - gp->y_mean) / gp->y_scale;
    }
    return factor(gp, err);
}

double mp_gp_lml(const struct mp_gp *gp)
{
    size_t n = gp->n;
    double fit = 0, logdet = 0;
    for (size_t i = 0; i < n; i++) {
        fit += gp->y[i] * gp->alpha[i];
        logdet += log(gp->l[i * n + i]);
    }
    return -0.5 * fit - logdet - 0.5 * (double)n * 1.8378770664093454836;
}

/* --- hyper-parameter fit ------------------------------------------------------------------- */

struct fit_ctx {
    struct mp_gp *gp;
    bool fit_noise;
    double *work; /* n x n */
    double *inv_ls2;
    double *s;  /* per pair i > j (row-major packed), d squared (or one-hot) differences */
    double *re; /* per pair: r and exp(-sqrt5 r) of the current evaluation */
    unsigned evals;
};

static size_t pair_index(size_t i, size_t j)
{
    return i * (i - 1) / 2 + j;
}

/* Squared differences never change during a fit: compute them once. */
static void fit_cache(struct fit_ctx *c)
{
    const struct mp_gp *gp = c->gp;
    size_t n = gp->n, d = gp->d;
    size_t pairs = n * (n - 1) / 2;
    c->s = mp_xmalloc((pairs > 0 && d > 0 ? pairs * d : 1) * sizeof(double));
    c->re = mp_xmalloc((pairs ? 2 * pairs : 1) * sizeof(double));
    for (size_t i = 1; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            double *sp = c->s + pair_index(i, j) * d;
            for (size_t k = 0; k < d; k++) {
                double a = gp->x[i * d + k], b = gp->x[j * d + k];
                sp[k] = gp->cat[k] ? (a != b ? 2.0 : 0.0) : (a - b) * (a - b);
            }
        }
    }
}

/* factor() for the fit: the Gram matrix from the cached differences, keeping r and the
 * exponential of every pair for the gradient. */
static int fit_factor(struct fit_ctx *c)
{
    struct mp_gp *gp = c->gp;
    size_t n = gp->n, d = gp->d;
    double sf2 = exp(gp->log_sf2), sn2 = exp(gp->log_sn2);
    double *k = gp->l;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++) {
            size_t p = pair_index(i, j);
            const double *sp = c->s + p * d;
            double r2 = 0;
            for (size_t t = 0; t < d; t++) {
                r2 += sp[t] * c->inv_ls2[t];
            }
            double r = sqrt(r2), e = exp(-SQRT5 * r);
            c->re[2 * p] = r;
            c->re[2 * p + 1] = e;
            double v = sf2 * (1 + SQRT5 * r + 5.0 / 3.0 * r2) * e;
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
        k[i * n + i] = sf2 + sn2;
    }
    int rc = mp_gp_cholesky(k, n, &gp->jitter);
    if (rc < 0) {
        return rc;
    }
    memcpy(gp->alpha, gp->y, n * sizeof(double));
    mp_gp_cho_solve(gp->l, n, gp->alpha, 1);
    return 0;
}

static void set_theta(struct mp_gp *gp, const double *th, bool fit_noise)
{
    for (size_t k = 0; k < gp->d; k++) {
        gp->log_ls[k] = th[k];
    }
    gp->log_sf2 = th[gp->d];
    if (fit_noise) {
        gp->log_sn2 = th[gp->d + 1];
    }
}

static double log_prior(const struct mp_gp *gp, bool fit_noise, double *grad)
{
    double lp = 0, ls_mu = prior_ls_mu(gp);
    for (size_t k = 0; k < gp->d; k++) {
        double t = (gp->log_ls[k] - ls_mu) / PRIOR_LS_SD;
        lp -= 0.5 * t * t;
        if (grad) {
            grad[k] = -t / PRIOR_LS_SD;
        }
    }
    double t = (gp->log_sf2 - PRIOR_SF_MU) / PRIOR_SF_SD;
    lp -= 0.5 * t * t;
    if (grad) {
        grad[gp->d] = -t / PRIOR_SF_SD;
    }
    if (fit_noise) {
        t = (gp->log_sn2 - PRIOR_SN_MU) / PRIOR_SN_SD;
        lp -= 0.5 * t * t;
        if (grad) {
            grad[gp->d + 1] = -t / PRIOR_SN_SD;
        }
    }
    return lp;
}

/* grad += 1/2 tr(W dK/dtheta) with W = alpha alpha^T - K^-1 (Rasmussen & Williams eq. 5.9).
 * For Matérn 5/2, dk/dlog(ls_k) = sf2 (5/3) (1 + sqrt5 r) exp(-sqrt5 r) s_k / ls_k^2, where s_k
 * is the squared (or one-hot) difference in dimension k. */
static void lml_grad(struct fit_ctx *c, double *grad)
{
    struct mp_gp *gp = c->gp;
    size_t n = gp->n, d = gp->d;
    double *w = c->work;
    /* K^-1 by solving against the identity: blocked triangular solves, several times faster
     * than dpotri's unblocked inversion at these sizes. */
    memset(w, 0, n * n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        w[i * n + i] = 1;
    }
    mp_gp_cho_solve(gp->l, n, w, n);
    double sf2 = exp(gp->log_sf2), sn2 = exp(gp->log_sn2);
    for (size_t i = 0; i < n; i++) {
        double wii = gp->alpha[i] * gp->alpha[i] - w[i * n + i];
        grad[d] += 0.5 * wii * sf2;
        if (c->fit_noise) {
            grad[d + 1] += 0.5 * wii * sn2;
        }
        for (size_t j = 0; j < i; j++) {
            size_t p = pair_index(i, j);
            double wij = gp->alpha[i] * gp->alpha[j] - w[i * n + j];
            double r = c->re[2 * p], e = c->re[2 * p + 1];
            grad[d] += wij * sf2 * (1 + SQRT5 * r + 5.0 / 3.0 * r * r) * e;
            double common = wij * sf2 * (5.0 / 3.0) * (1 + SQRT5 * r) * e;
            const double *sp = c->s + p * d;
            for (size_t k = 0; k < d; k++) {
                grad[k] += common * sp[k] * c->inv_ls2[k];
            }
        }
    }
}

static double fit_objective(unsigned dim, const double *th, double *grad, void *data)
{
    struct fit_ctx *c = data;
    struct mp_gp *gp = c->gp;
    c->evals++;
    set_theta(gp, th, c->fit_noise);
    inv_ls2_of(gp, c->inv_ls2);
    if (fit_factor(c) < 0) {
        if (grad) {
            memset(grad, 0, dim * sizeof(double));
        }
        return -1e300;
    }
    double v = mp_gp_lml(gp) + log_prior(gp, c->fit_noise, grad);
    if (grad) {
        lml_grad(c, grad);
    }
    return isfinite(v) ? v : -1e300;
}

static void theta_bounds(const struct mp_gp *gp, const struct mp_gp_fit_opts *o, double *lo,
                         double *hi)
{
    for (size_t k = 0; k < gp->d; k++) {
        lo[k] = LOG_LS_MIN;
        hi[k] = LOG_LS_MAX;
    }
    lo[gp->d] = LOG_SF_MIN;
    hi[gp->d] = LOG_SF_MAX;
    if (o->fit_noise) {
        lo[gp->d + 1] = o->min_log_sn2;
        hi[gp->d + 1] = o->max_log_sn2;
    }
}

/* One local optimisation from th (modified in place); returns the objective reached. */
static double fit_start(struct fit_ctx *c, unsigned dim, const double *lo, const double *hi,
                        unsigned max_eval, double *th)
{
    nlopt_opt opt = nlopt_create(NLOPT_LD_LBFGS, dim);
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_max_objective(opt, fit_objective, c);
    nlopt_set_maxeval(opt, (int)max_eval);
    nlopt_set_ftol_rel(opt, 1e-7);
    nlopt_set_xtol_rel(opt, 1e-5);
    for (unsigned i = 0; i < dim; i++) {
        th[i] = fmin(hi[i], fmax(lo[i], th[i]));
    }
    double best = -HUGE_VAL;
    nlopt_result r = nlopt_optimize(opt, th, &best);
    nlopt_destroy(opt);
    if (r < 0 && r != NLOPT_ROUNDOFF_LIMITED) {
        /* Failed starts still leave their best point in th; re-evaluate it. */
        best = fit_objective(dim, th, NULL, c);
    }
    return best;
}

static void standardise(struct mp_gp *gp, const double *y, size_t n)
{
    gp->y_mean = 0;
    gp->y_scale = 1;
    if (!gp->normalize || n == 0) {
        return;
    }
    /* In units of 2^e, the power of two above the largest |y| (exact, so the same mean and
     * spread as in the targets' own units wherever those are finite), so that neither the sum nor
     * the squares overflow (values of 1e200 made the variance inf) and the floor on the spread is
     * relative: an absolute one left a cost of 1e-15 per request unstandardised, its model 1e24
     * times too uncertain. */
    double a = 0;
    for (size_t i = 0; i < n; i++) {
        a = fmax(a, fabs(y[i]));
    }
    if (!(a > 0) || !isfinite(a)) {
        return;
    }
    int e;
    frexp(a, &e);
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) {
        m += ldexp(y[i], -e);
    }
    m /= (double)n;
    for (size_t i = 0; i < n; i++) {
        double t = ldexp(y[i], -e) - m;
        v += t * t;
    }
    v = n > 1 ? v / (double)n : 0;
    gp->y_mean = ldexp(m, e);
    gp->y_scale = ldexp(v > 1e-24 ? sqrt(v) : 1.0, e);
}

/* The points the hyper-parameters are fit on when there are too many: the best half by value
 * (where the search is) and an even spread of the rest. Returns m inputs then m targets. */
static double *fit_subset(size_t d, const double *x, const double *y, size_t n, size_t m)
{
    double *out = mp_xmalloc(m * (d + 1) * sizeof(double));
    unsigned char *take = mp_xcalloc(n, 1);
    size_t k = 0;
    for (; k < m / 2; k++) {
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
            if (!take[i] && (best == n || y[i] > y[best])) {
                best = i;
            }
        }
        take[best] = 1;
    }
    size_t rest = n - k, need = m - k;
    for (size_t i = 0, seen = 0, got = 0; i < n && got < need; i++) {
        if (take[i]) {
            continue;
        }
        /* Exactly `need` of the `rest` remaining points, evenly spaced in trial order. */
        if ((seen * need) / rest != ((seen + 1) * need) / rest) {
            take[i] = 1;
            got++;
        }
        seen++;
    }
    for (size_t i = 0, w = 0; i < n && w < m; i++) {
        if (take[i]) {
            memcpy(out + w * d, x + i * d, d * sizeof(double));
            out[m * d + w] = y[i];
            w++;
        }
    }
    free(take);
    return out;
}

int mp_gp_fit(struct mp_gp *gp, const double *x, const double *y, size_t n,
              const struct mp_gp_fit_opts *opts, struct mp_rng *rng, struct mp_error *err)
{
    struct mp_gp_fit_opts def = MP_GP_FIT_OPTS_INIT;
    const struct mp_gp_fit_opts *o = opts ? opts : &def;
    double *sub = NULL;
    standardise(gp, y, n);
    int rc;
    if (o->max_fit_points >= 2 && n > o->max_fit_points) {
        sub = fit_subset(gp->d, x, y, n, o->max_fit_points);
        rc = mp_gp_condition(gp, sub, sub + o->max_fit_points * gp->d, o->max_fit_points, err);
    } else {
        rc = mp_gp_condition(gp, x, y, n, err);
    }
    if (rc < 0 || n < 2) {
        free(sub);
        return rc;
    }
    unsigned dim = (unsigned)gp->d + (o->fit_noise ? 2u : 1u);
    double *buf = mp_xmalloc(5 * dim * sizeof(double));
    double *lo = buf, *hi = buf + dim, *th = buf + 2 * dim, *best_th = buf + 3 * dim;
    double *start = buf + 4 * dim;
    theta_bounds(gp, o, lo, hi);
    struct fit_ctx c = {gp,
                        o->fit_noise,
                        mp_xmalloc(gp->n * gp->n * sizeof(double)),
                        mp_xmalloc((gp->d ? gp->d : 1) * sizeof(double)),
                        NULL,
                        NULL,
                        0};
    fit_cache(&c);
    for (size_t k = 0; k < gp->d; k++) {
        start[k] = gp->log_ls[k];
    }
    start[gp->d] = gp->log_sf2;
    if (o->fit_noise) {
        start[gp->d + 1] = gp->log_sn2;
    }
    double best = -HUGE_VAL;
    for (unsigned s = 0; s <= o->restarts; s++) {
        for (unsigned i = 0; i < dim; i++) {
            /* Random starts: length scales 0.3..30, signal 0.3..3, noise 1e-5..1e-1. */
            double u = rng ? mp_rng_uniform(rng) : 0.5;
            th[i] = s == 0       ? start[i]
                    : i < gp->d  ? log(0.3) + u * log(100.0)
                    : i == gp->d ? log(0.3) + u * log(10.0)
                                 : log(1e-5) + u * log(1e4);
        }
        double v = fit_start(&c, dim, lo, hi, o->max_eval, th);
        if (v > best) {
            best = v;
            memcpy(best_th, th, dim * sizeof(double));
        }
    }
    if (best > -HUGE_VAL) {
        set_theta(gp, best_th, o->fit_noise);
    } else {
        set_theta(gp, start, o->fit_noise);
    }
    rc = sub ? mp_gp_condition(gp, x, y, n, err) : factor(gp, err);
    free(sub);
    free(c.work);
    free(c.inv_ls2);
    free(c.s);
    free(c.re);
    free(buf);
    return rc;
}

/* --- prediction ---------------------------------------------------------------------------- */

void mp_gp_predict(const struct mp_gp *gp, const double *xs, size_t m, double *mean, double *var)
{
    size_t n = gp->n, d = gp->d;
    double sf2 = exp(gp->log_sf2);
    double s2 = gp->y_scale * gp->y_scale;
    if (n == 0) {
        for (size_t i = 0; i < m; i++) {
            mean[i] = gp->y_mean;
            if (var) {
                var[i] = sf2 * s2;
            }
        }
        return;
    }
    size_t block = m < PREDICT_BLOCK ? m : PREDICT_BLOCK;
    double *ks = mp_xmalloc((block ? block : 1) * n * sizeof(double));
    double *inv_ls2 = mp_xmalloc((d ? d : 1) * sizeof(double));
    inv_ls2_of(gp, inv_ls2);
    for (size_t b0 = 0; b0 < m; b0 += block) {
        size_t nb = m - b0 < block ? m - b0 : block;
        for (size_t i = 0; i < nb; i++) {
            const double *xi = xs + (b0 + i) * d;
            double *row = ks + i * n;
            double mu = 0;
            for (size_t j = 0; j < n; j++) {
                row[j] = sf2 * mp_gp_matern52(sqrt(sqdist(gp->cat, inv_ls2, d, xi, gp->x + j * d)));
                mu += row[j] * gp->alpha[j];
            }
            mean[b0 + i] = gp->y_mean + gp->y_scale * mu;
        }
        if (!var) {
            continue;
        }
        mp_gp_tri_solve(gp->l, n, ks, nb);
        for (size_t i = 0; i < nb; i++) {
            double q = mp_lapack()->ddot((blasint)n, ks + i * n, 1, ks + i * n, 1);
            double v = sf2 - q;
            var[b0 + i] = v > 0 ? v * s2 : 0; /* 0 * inf (s2 overflowed) is NaN */
        }
    }
    free(ks);
    free(inv_ls2);
}

double mp_gp_noise_sd(const struct mp_gp *gp)
{
    return sqrt(exp(gp->log_sn2)) * gp->y_scale;
}
