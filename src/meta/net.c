/* SPDX-License-Identifier: Apache-2.0 */
/* The meta-model's network: a two-hidden-layer tanh perceptron with hand-written forward and
 * backward passes (no library: the network is tiny and must be bit-reproducible). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

/* Offsets of the parameter blocks in the flat weight array. */
struct layout {
    size_t w1, b1, w2, b2, w3, b3, total;
};

static struct layout layout_of(const struct mp_net *net)
{
    size_t h = net->hidden;
    struct layout l;
    l.w1 = 0;
    l.b1 = l.w1 + h * net->n_in;
    l.w2 = l.b1 + h;
    l.b2 = l.w2 + h * h;
    l.w3 = l.b2 + h;
    l.b3 = l.w3 + h;
    l.total = l.b3 + 1;
    return l;
}

size_t mp_net_size(const struct mp_net *net)
{
    return layout_of(net).total;
}

void mp_net_init(const struct mp_net *net, struct mp_rng *rng, double *theta)
{
    struct layout l = layout_of(net);
    size_t h = net->hidden;
    memset(theta, 0, l.total * sizeof(double));
    /* Glorot & Bengio (2010), eq. 16: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)). */
    double a1 = sqrt(6.0 / (double)(net->n_in + h));
    double a2 = sqrt(6.0 / (double)(h + h));
    double a3 = sqrt(6.0 / (double)(h + 1));
    for (size_t i = 0; i < h * net->n_in; i++) {
        theta[l.w1 + i] = a1 * (2.0 * mp_rng_uniform(rng) - 1.0);
    }
    for (size_t i = 0; i < h * h; i++) {
        theta[l.w2 + i] = a2 * (2.0 * mp_rng_uniform(rng) - 1.0);
    }
    for (size_t i = 0; i < h; i++) {
        theta[l.w3 + i] = a3 * (2.0 * mp_rng_uniform(rng) - 1.0);
    }
}

/* Hidden activations of one input; returns the output. */
static double forward(const struct mp_net *net, const struct layout *l, const double *theta,
                      const double *in, double *a1, double *a2)
{
    size_t h = net->hidden, n_in = net->n_in;
    for (size_t j = 0; j < h; j++) {
        const double *w = theta + l->w1 + j * n_in;
        double s = theta[l->b1 + j];
        for (size_t k = 0; k < n_in; k++) {
            s += w[k] * in[k];
        }
        a1[j] = tanh(s);
    }
    double out = theta[l->b3];
    for (size_t j = 0; j < h; j++) {
        const double *w = theta + l->w2 + j * h;
        double s = theta[l->b2 + j];
        for (size_t k = 0; k < h; k++) {
            s += w[k] * a1[k];
        }
        a2[j] = tanh(s);
        out += theta[l->w3 + j] * a2[j];
    }
    return out;
}

double mp_net_forward(const struct mp_net *net, const double *theta, const double *in)
{
    double a1[MP_META_MAX_HIDDEN], a2[MP_META_MAX_HIDDEN];
    struct layout l = layout_of(net);
    return forward(net, &l, theta, in, a1, a2);
}

/* Adds g * d(output)/d(theta) at input `in` to grad, given the forward activations. */
static void backward(const struct mp_net *net, const struct layout *l, const double *theta,
                     const double *in, const double *a1, const double *a2, double g, double *grad)
{
    size_t h = net->hidden, n_in = net->n_in;
    double d1[MP_META_MAX_HIDDEN], d2[MP_META_MAX_HIDDEN];
    grad[l->b3] += g;
    for (size_t j = 0; j < h; j++) {
        grad[l->w3 + j] += g * a2[j];
        d2[j] = g * theta[l->w3 + j] * (1.0 - a2[j] * a2[j]);
        d1[j] = 0;
    }
    for (size_t j = 0; j < h; j++) {
        const double *w = theta + l->w2 + j * h;
        double *gw = grad + l->w2 + j * h;
        grad[l->b2 + j] += d2[j];
        for (size_t k = 0; k < h; k++) {
            gw[k] += d2[j] * a1[k];
            d1[k] += d2[j] * w[k];
        }
    }
    for (size_t j = 0; j < h; j++) {
        double dj = d1[j] * (1.0 - a1[j] * a1[j]);
        double *gw = grad + l->w1 + j * n_in;
        grad[l->b1 + j] += dj;
        for (size_t k = 0; k < n_in; k++) {
            gw[k] += dj * in[k];
        }
    }
}

double mp_net_loss_grad(const struct mp_net *net, const double *theta, const double *in,
                        const double *y, const double *w, size_t n, double *grad)
{
    double a1[MP_META_MAX_HIDDEN], a2[MP_META_MAX_HIDDEN];
    struct layout l = layout_of(net);
    double wsum = 0;
    for (size_t i = 0; i < n; i++) {
        wsum += w ? w[i] : 1.0;
    }
    if (n == 0 || wsum <= 0) {
        return 0;
    }
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const double *x = in + i * net->n_in;
        double wi = (w ? w[i] : 1.0) / wsum;
        double r = forward(net, &l, theta, x, a1, a2) - y[i];
        loss += 0.5 * wi * r * r;
        if (grad && wi != 0) {
            backward(net, &l, theta, x, a1, a2, wi * r, grad);
        }
    }
    return loss;
}

void mp_net_adapt(const struct mp_net *net, double *theta, const double *in, const double *y,
                  const double *w, size_t n, double lr, unsigned steps)
{
    size_t p = mp_net_size(net);
    double *g = mp_xmalloc(p * sizeof(double));
    double *start = mp_xmalloc(p * sizeof(double));
    memcpy(start, theta, p * sizeof(double));
    bool finite = true;
    for (unsigned s = 0; s < steps && finite; s++) {
        memset(g, 0, p * sizeof(double));
        mp_net_loss_grad(net, theta, in, y, w, n, g);
        for (size_t i = 0; i < p; i++) {
            theta[i] -= lr * g[i];
            finite = finite && isfinite(theta[i]);
        }
    }
    if (!finite) { /* diverged: the rate is too large for these data */
        memcpy(theta, start, p * sizeof(double));
    }
    free(start);
    free(g);
}
