/* SPDX-License-Identifier: Apache-2.0 */
/* Meta-training: Reptile (Nichol et al. 2018, "On First-Order Meta-Learning Algorithms",
 * algorithm 2), first-order MAML and second-order MAML (Finn et al. 2017, "Model-Agnostic
 * Meta-Learning", eq. 1) over tasks sampled from the task set, with Adam as outer optimiser. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meta/meta.h"

static const char *const method_names[] = {"reptile", "fomaml", "maml"};

const char *mp_meta_method_name(enum mp_meta_method m)
{
    return (size_t)m < MP_ARRAY_LEN(method_names) ? method_names[m] : "unknown";
}

int mp_meta_method_parse(const char *name)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(method_names); i++) {
        if (strcmp(method_names[i], name) == 0) {
            return (int)i;
        }
    }
    return MP_EINVALID;
}

void mp_meta_train_opts_default(struct mp_meta_train_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->method = MP_META_FOMAML;
    o->seed = 1;
    o->hidden = 48;
    o->members = 4;
    o->iterations = 6000;
    o->meta_batch = 4;
    o->support_max = 12;
    o->query = 24;
    o->top_fraction = 0.1;
    o->inner_steps = 5;
    o->inner_lr = 0.1;
    o->outer_lr = 0.002;
}

void mp_meta_model_free(struct mp_meta_model *m)
{
    if (!m) {
        return;
    }
    for (size_t i = 0; i < m->n_features; i++) {
        free(m->features[i].name);
        free(m->features[i].role);
        for (size_t k = 0; k < m->features[i].n_choices; k++) {
            free(m->features[i].choices[k]);
        }
        free(m->features[i].choices);
    }
    free(m->features);
    free(m->theta);
    free(m->memory);
    free(m);
}

size_t mp_meta_inputs(const struct mp_meta_feature *f, size_t n_features)
{
    size_t n = 0;
    for (size_t i = 0; i < n_features; i++) {
        n += f[i].kind == MP_META_CATEGORICAL ? f[i].n_choices : 1;
    }
    return n;
}

/* A numeric value scaled to [-1, 1] over the training range (beyond it: extrapolated). */
static double scale_numeric(const struct mp_meta_feature *f, double v)
{
    if (!(f->hi > f->lo)) {
        return 0;
    }
    /* Halves, so that a range wider than the largest double does not overflow to inf (and the
     * input to NaN); exact for normal numbers, so the same value as without them. */
    double t = f->log_scale && v > 0 ? (log(v) - log(f->lo)) / (log(f->hi) - log(f->lo))
                                     : (v / 2 - f->lo / 2) / (f->hi / 2 - f->lo / 2);
    return 2.0 * t - 1.0;
}

void mp_meta_encode(const struct mp_meta_feature *f, size_t n_features, const double *x, double *in)
{
    size_t k = 0;
    for (size_t i = 0; i < n_features; i++) {
        if (f[i].kind == MP_META_NUMERIC) {
            in[k++] = scale_numeric(&f[i], x[i]);
            continue;
        }
        for (size_t c = 0; c < f[i].n_choices; c++) {
            in[k + c] = x[i] >= 0 && (size_t)x[i] == c ? 1.0 : 0.0;
        }
        k += f[i].n_choices;
    }
}

/* Lexicographic order of two input vectors of n values. */
static int cmp_inputs(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

bool mp_meta_memory_lookup(const struct mp_meta_model *m, const double *in, double *value)
{
    size_t n_in = m->net.n_in, lo = 0, hi = m->n_memory;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const double *e = m->memory + mid * (n_in + 1);
        int c = cmp_inputs(e, in, n_in);
        if (c == 0) {
            *value = e[n_in];
            return true;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

bool mp_meta_memory_sorted(const struct mp_meta_model *m)
{
    size_t w = m->net.n_in + 1;
    for (size_t i = 1; i < m->n_memory; i++) {
        if (cmp_inputs(m->memory + (i - 1) * w, m->memory + i * w, m->net.n_in) >= 0) {
            return false;
        }
    }
    return true;
}

/* Hessian-vector product of the support loss at theta by central differences of the exact
 * gradient (Pearlmutter 1994, eq. 2): H v ~ (g(theta + e u) - g(theta - e u)) |v| / (2 e). */
static void hvp(const struct mp_net *net, const double *theta, const double *in, const double *y,
                size_t n, const double *v, double *out, double *work)
{
    size_t p = mp_net_size(net);
    double norm = 0;
    for (size_t i = 0; i < p; i++) {
        norm += v[i] * v[i];
    }
    norm = sqrt(norm);
    memset(out, 0, p * sizeof(double));
    if (norm == 0) {
        return;
    }
    const double eps = 1e-4;
    double *tp = work, *gm = work + p;
    for (size_t i = 0; i < p; i++) {
        tp[i] = theta[i] + eps * v[i] / norm;
    }
    mp_net_loss_grad(net, tp, in, y, NULL, n, out);
    for (size_t i = 0; i < p; i++) {
        tp[i] = theta[i] - eps * v[i] / norm;
    }
    memset(gm, 0, p * sizeof(double));
    mp_net_loss_grad(net, tp, in, y, NULL, n, gm);
    for (size_t i = 0; i < p; i++) {
        out[i] = (out[i] - gm[i]) * norm / (2 * eps);
    }
}

double mp_meta_task_grad(const struct mp_net *net, enum mp_meta_method method, const double *theta,
                         const double *s_in, const double *s_y, size_t ns, const double *q_in,
                         const double *q_y, size_t nq, double inner_lr, unsigned inner_steps,
                         double *grad)
{
    size_t p = mp_net_size(net);
    /* path[j] = parameters after j inner steps (kept for the second-order backward pass) */
    size_t keep = method == MP_META_MAML ? inner_steps + 1 : 1;
    double *path = mp_xmalloc(keep * p * sizeof(double));
    double *cur = mp_xmalloc(p * sizeof(double));
    double *g = mp_xmalloc(p * sizeof(double));
    memcpy(cur, theta, p * sizeof(double));
    for (unsigned s = 0; s < inner_steps; s++) {
        if (method == MP_META_MAML) {
            memcpy(path + s * p, cur, p * sizeof(double));
        }
        memset(g, 0, p * sizeof(double));
        mp_net_loss_grad(net, cur, s_in, s_y, NULL, ns, g);
        for (size_t i = 0; i < p; i++) {
            cur[i] -= inner_lr * g[i];
        }
    }
    memset(g, 0, p * sizeof(double));
    double loss = mp_net_loss_grad(net, cur, q_in, q_y, NULL, nq, g);
    if (method == MP_META_REPTILE) {
        double k = inner_lr * (double)(inner_steps ? inner_steps : 1);
        for (size_t i = 0; i < p; i++) {
            grad[i] += (theta[i] - cur[i]) / k;
        }
    } else if (method == MP_META_FOMAML) {
        for (size_t i = 0; i < p; i++) {
            grad[i] += g[i];
        }
    } else {
        /* d loss / d theta = prod_j (I - lr H_j) g, applied from the last step backwards. */
        double *hv = mp_xmalloc(p * sizeof(double));
        double *work = mp_xmalloc(2 * p * sizeof(double));
        for (unsigned s = inner_steps; s-- > 0;) {
            hvp(net, path + s * p, s_in, s_y, ns, g, hv, work);
            for (size_t i = 0; i < p; i++) {
                g[i] -= inner_lr * hv[i];
            }
        }
        for (size_t i = 0; i < p; i++) {
            grad[i] += g[i];
        }
        free(hv);
        free(work);
    }
    free(path);
    free(cur);
    free(g);
    return loss;
}

/* --- training ------------------------------------------------------------------------------ */

struct enc_task {
    size_t n;
    double *in; /* n * n_in */
    const double *y;
    size_t *top; /* indices of the best configurations, best first */
    size_t n_top;
};

struct ranked {
    double y;
    size_t row;
};

static int by_y_desc(const void *a, const void *b)
{
    const struct ranked *ra = a, *rb = b;
    if (ra->y != rb->y) {
        return ra->y > rb->y ? -1 : 1;
    }
    return ra->row < rb->row ? -1 : 1;
}

static void encode_tasks(const struct mp_meta_model *m, const struct mp_meta_taskset *ts,
                         double top_fraction, struct enc_task *et)
{
    size_t n_in = m->net.n_in, d = m->n_features;
    for (size_t t = 0; t < ts->n_tasks; t++) {
        const struct mp_meta_task *task = &ts->tasks[t];
        et[t].n = task->n;
        et[t].y = task->y;
        et[t].in = mp_xmalloc(task->n * n_in * sizeof(double));
        for (size_t r = 0; r < task->n; r++) {
            mp_meta_encode(m->features, d, task->x + r * d, et[t].in + r * n_in);
        }
        struct ranked *rk = mp_xmalloc(task->n * sizeof(*rk));
        for (size_t r = 0; r < task->n; r++) {
            rk[r].y = task->y[r];
            rk[r].row = r;
        }
        qsort(rk, task->n, sizeof(*rk), by_y_desc);
        size_t *order = mp_xmalloc(task->n * sizeof(size_t));
        for (size_t r = 0; r < task->n; r++) {
            order[r] = rk[r].row;
        }
        free(rk);
        et[t].top = order;
        et[t].n_top = (size_t)ceil(top_fraction * (double)task->n);
        et[t].n_top = et[t].n_top < 1 ? 1 : et[t].n_top > task->n ? task->n : et[t].n_top;
    }
}

/* One training point for the memory; seq breaks ties so the order never depends on qsort. */
struct mem_point {
    const double *in;
    size_t n_in, seq;
    double y;
};

static int by_inputs(const void *a, const void *b)
{
    const struct mem_point *pa = a, *pb = b;
    int c = cmp_inputs(pa->in, pb->in, pa->n_in);
    return c != 0 ? c : pa->seq < pb->seq ? -1 : 1;
}

/* The memory: every distinct configuration of the tasks with the mean of its values. */
static void build_memory(struct mp_meta_model *m, const struct enc_task *et, size_t n_tasks)
{
    size_t n_in = m->net.n_in, total = 0;
    for (size_t t = 0; t < n_tasks; t++) {
        total += et[t].n;
    }
    if (total == 0 || total > MP_META_MAX_MEMORY ||
        total * (n_in + 1) * sizeof(double) > ((size_t)32 << 20)) {
        return;
    }
    struct mem_point *pt = mp_xmalloc(total * sizeof(*pt));
    size_t k = 0;
    for (size_t t = 0; t < n_tasks; t++) {
        for (size_t r = 0; r < et[t].n; r++, k++) {
            pt[k] = (struct mem_point){et[t].in + r * n_in, n_in, k, et[t].y[r]};
        }
    }
    qsort(pt, total, sizeof(*pt), by_inputs);
    m->memory = mp_xmalloc(total * (n_in + 1) * sizeof(double));
    for (size_t i = 0, j; i < total; i = j) {
        double sum = 0;
        /* j == i: an entry always counts, even one unequal to itself (NaN inputs). */
        for (j = i; j < total && (j == i || cmp_inputs(pt[i].in, pt[j].in, n_in) == 0); j++) {
            sum += pt[j].y;
        }
        double *e = m->memory + m->n_memory++ * (n_in + 1);
        memcpy(e, pt[i].in, n_in * sizeof(double));
        e[n_in] = sum / (double)(j - i);
    }
    free(pt);
}

/* Draws k points of a task: half from its best configurations, half uniformly, as a search
 * sees them. */
static void draw(const struct enc_task *t, size_t n_in, size_t k, struct mp_rng *rng, double *in,
                 double *y)
{
    for (size_t i = 0; i < k; i++) {
        size_t r = mp_rng_uniform(rng) < 0.5 ? t->top[mp_rng_below(rng, t->n_top)]
                                             : (size_t)mp_rng_below(rng, t->n);
        memcpy(in + i * n_in, t->in + r * n_in, n_in * sizeof(double));
        y[i] = t->y[r];
    }
}

struct trainer {
    const struct mp_meta_train_opts *o;
    const struct mp_net *net;
    const struct enc_task *tasks;
    size_t n_tasks;
    double *s_in, *s_y, *q_in, *q_y; /* sample buffers */
};

/* One outer step's averaged meta-gradient; returns the mean query loss. */
static double outer_grad(struct trainer *tr, const double *theta, struct mp_rng *rng, double *grad)
{
    const struct mp_meta_train_opts *o = tr->o;
    size_t n_in = tr->net->n_in, p = mp_net_size(tr->net);
    double loss = 0;
    memset(grad, 0, p * sizeof(double));
    for (size_t b = 0; b < o->meta_batch; b++) {
        const struct enc_task *t = &tr->tasks[mp_rng_below(rng, tr->n_tasks)];
        size_t ns = 1 + (size_t)mp_rng_below(rng, o->support_max);
        draw(t, n_in, ns, rng, tr->s_in, tr->s_y);
        draw(t, n_in, o->query, rng, tr->q_in, tr->q_y);
        if (o->method == MP_META_REPTILE) {
            /* Reptile adapts on all of the task's sampled points. */
            memcpy(tr->s_in + ns * n_in, tr->q_in, o->query * n_in * sizeof(double));
            memcpy(tr->s_y + ns, tr->q_y, o->query * sizeof(double));
            ns += o->query;
        }
        loss += mp_meta_task_grad(tr->net, o->method, theta, tr->s_in, tr->s_y, ns, tr->q_in,
                                  tr->q_y, o->query, o->inner_lr, o->inner_steps, grad);
    }
    for (size_t i = 0; i < p; i++) {
        grad[i] /= (double)o->meta_batch;
    }
    return loss / (double)o->meta_batch;
}

/* Trains one member from its own seed; returns the mean query loss of the last tenth. */
static void report_progress(const struct mp_meta_train_opts *o, size_t member, size_t it)
{
    size_t done = member * o->iterations + it + 1;
    if (o->progress && ((it + 1) % 100 == 0 || it + 1 == o->iterations)) {
        o->progress(o->progress_ctx, done, o->members * o->iterations);
    }
}

static double train_member(struct trainer *tr, size_t member, uint64_t seed, double *theta)
{
    size_t p = mp_net_size(tr->net);
    struct mp_rng rng;
    mp_rng_init(&rng, seed);
    mp_net_init(tr->net, &rng, theta);
    double *g = mp_xmalloc(p * sizeof(double));
    double *m1 = mp_xcalloc(p, sizeof(double));
    double *m2 = mp_xcalloc(p, sizeof(double));
    const double b1 = 0.9, b2 = 0.999;
    double p1 = 1, p2 = 1, tail = 0;
    size_t n_tail = 0, iters = tr->o->iterations;
    for (size_t it = 0; it < iters; it++) {
        double loss = outer_grad(tr, theta, &rng, g);
        if (it >= iters - (iters + 9) / 10) {
            tail += loss;
            n_tail++;
        }
        /* Adam (Kingma & Ba 2015, algorithm 1) with a linearly decaying step. */
        p1 *= b1;
        p2 *= b2;
        double lr = tr->o->outer_lr * (1.0 - 0.9 * (double)it / (double)iters);
        for (size_t i = 0; i < p; i++) {
            m1[i] = b1 * m1[i] + (1 - b1) * g[i];
            m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i];
            theta[i] -= lr * (m1[i] / (1 - p1)) / (sqrt(m2[i] / (1 - p2)) + 1e-8);
        }
        report_progress(tr->o, member, it);
    }
    free(g);
    free(m1);
    free(m2);
    return n_tail ? tail / (double)n_tail : 0;
}

static int check_opts(const struct mp_meta_train_opts *o, struct mp_error *err)
{
    if (o->hidden < 1 || o->hidden > MP_META_MAX_HIDDEN) {
        return mp_error_set(err, MP_EINVALID, "hidden units must be 1..%d", MP_META_MAX_HIDDEN);
    }
    if (o->seed > INT64_MAX) { /* the model file refuses larger ones: JSON prints them exactly */
        return mp_error_set(err, MP_EINVALID, "the seed must be at most %lld",
                            (long long)INT64_MAX);
    }
    if (o->members < 1 || o->members > MP_META_MAX_MEMBERS) {
        return mp_error_set(err, MP_EINVALID, "ensemble members must be 1..%d",
                            MP_META_MAX_MEMBERS);
    }
    if (o->iterations < 1 || o->meta_batch < 1 || o->support_max < 1 || o->query < 1 ||
        o->support_max > 4096 || o->query > 4096 || o->inner_steps < 1 || o->inner_steps > 1000 ||
        !(o->inner_lr > 0) || o->inner_lr > MP_META_MAX_LR ||
        !(o->top_fraction > 0 && o->top_fraction <= 1) || !(o->outer_lr > 0)) {
        return mp_error_set(err, MP_EINVALID, "invalid meta-training options");
    }
    return 0;
}

/* The encoded training points are allocated at once: refuse what would not fit, before. */
static int check_size(const struct mp_meta_taskset *ts, size_t n_in, struct mp_error *err)
{
    size_t rows = 0, bytes = 0;
    bool over = false;
    for (size_t t = 0; t < ts->n_tasks; t++) {
        over |= __builtin_add_overflow(rows, ts->tasks[t].n, &rows);
    }
    over |= __builtin_mul_overflow(rows, n_in, &bytes);
    over |= __builtin_mul_overflow(bytes, sizeof(double), &bytes);
    if (over || bytes > MP_META_MAX_TRAIN_BYTES) {
        return mp_error_set(err, MP_ETOOBIG,
                            "%zu training points of %zu network inputs each (one per numeric "
                            "parameter, one per choice of a categorical one) are more than %zu "
                            "MiB to train on: use fewer or smaller surfaces, or fewer choices",
                            rows, n_in, MP_META_MAX_TRAIN_BYTES >> 20);
    }
    return 0;
}

/* What training holds besides the points, refused above the same bound: the sample buffers
 * (support and query points with their targets) and one member's gradient state (the gradient,
 * Adam's two moments, the task gradient's scratch: 8 copies of the weights at most) with, for
 * MAML, the weights after every inner step. */
static int check_working(const struct mp_meta_train_opts *o, size_t n_in, struct mp_error *err)
{
    struct mp_net net = {n_in, o->hidden};
    size_t p = mp_net_size(&net);
    double kept = o->method == MP_META_MAML ? (double)o->inner_steps + 1 : 1;
    double samples = ((double)o->support_max + 2.0 * (double)o->query) * ((double)n_in + 1);
    double bytes = (samples + (double)p * (kept + 8)) * (double)sizeof(double);
    if (bytes > (double)MP_META_MAX_TRAIN_BYTES) {
        return mp_error_set(
            err, MP_ETOOBIG,
            "meta-training would hold %.0f MiB besides its points (networks of %zu weights%s, "
            "samples of up to %zu points of %zu inputs), more than %zu MiB: use fewer hidden "
            "units%s or fewer support points",
            bytes / (1 << 20), p,
            o->method == MP_META_MAML ? ", kept once per inner step by maml" : "",
            o->support_max + 2 * o->query, n_in, MP_META_MAX_TRAIN_BYTES >> 20,
            o->method == MP_META_MAML ? ", fewer inner steps, method fomaml" : "");
    }
    return 0;
}

static struct mp_meta_model *model_from(const struct mp_meta_taskset *ts,
                                        const struct mp_meta_train_opts *o)
{
    struct mp_meta_model *m = mp_xcalloc(1, sizeof(*m));
    m->n_features = ts->n_features;
    m->format_version = MP_META_FORMAT_VERSION;
    m->features = mp_xcalloc(ts->n_features, sizeof(*m->features));
    for (size_t i = 0; i < ts->n_features; i++) {
        const struct mp_meta_feature *src = &ts->features[i];
        struct mp_meta_feature *f = &m->features[i];
        *f = *src;
        f->name = mp_xstrdup(src->name);
        f->role = src->role ? mp_xstrdup(src->role) : NULL;
        f->choices = mp_xcalloc(src->n_choices + 1, sizeof(char *));
        for (size_t k = 0; k < src->n_choices; k++) {
            f->choices[k] = mp_xstrdup(src->choices[k]);
        }
        /* Wide positive ranges (batch sizes, memory) are spread evenly in log space. */
        f->log_scale = f->kind == MP_META_NUMERIC && f->lo > 0 && f->hi >= 8 * f->lo;
        if (f->kind == MP_META_CATEGORICAL) {
            f->lo = f->hi = 0;
        }
    }
    m->net.n_in = mp_meta_inputs(m->features, m->n_features);
    m->net.hidden = o->hidden;
    m->members = o->members;
    m->theta = mp_xcalloc(o->members * mp_net_size(&m->net), sizeof(double));
    m->adapt_steps = o->inner_steps;
    m->adapt_lr = o->inner_lr;
    m->method = o->method;
    m->seed = o->seed;
    m->n_tasks = ts->n_tasks;
    return m;
}

int mp_meta_train(const struct mp_meta_taskset *ts, const struct mp_meta_train_opts *o,
                  struct mp_meta_model **out, struct mp_error *err)
{
    *out = NULL;
    int rc = check_opts(o, err);
    if (rc != 0) {
        return rc;
    }
    if (ts->n_tasks == 0) {
        return mp_error_set(err, MP_EINVALID, "no training tasks");
    }
    size_t inputs = mp_meta_inputs(ts->features, ts->n_features);
    if ((rc = check_size(ts, inputs, err)) != 0 || (rc = check_working(o, inputs, err)) != 0) {
        return rc;
    }
    struct mp_meta_model *m = model_from(ts, o);
    if (m->net.n_in == 0) {
        mp_meta_model_free(m);
        return mp_error_set(err, MP_EINVALID, "the parameters give the network no inputs");
    }
    struct enc_task *et = mp_xcalloc(ts->n_tasks, sizeof(*et));
    encode_tasks(m, ts, o->top_fraction, et);
    build_memory(m, et, ts->n_tasks);
    uint64_t file_bytes = mp_meta_model_file_bytes(m);
    if (file_bytes > MP_META_MAX_FILE_BYTES) {
        /* The reader refuses such a file: training wrote 101 MB that no search could load. */
        rc = mp_error_set(err, MP_ETOOBIG,
                          "the model would take %llu MiB (%zu members of %zu weights), more than "
                          "the %u MiB a model file may hold: use fewer members or hidden units",
                          (unsigned long long)(file_bytes >> 20), m->members, mp_net_size(&m->net),
                          MP_META_MAX_FILE_BYTES >> 20);
    }
    size_t n_in = m->net.n_in, cap = o->support_max + o->query;
    struct trainer tr = {o, &m->net, et, ts->n_tasks, NULL, NULL, NULL, NULL};
    tr.s_in = mp_xmalloc(cap * n_in * sizeof(double));
    tr.s_y = mp_xmalloc(cap * sizeof(double));
    tr.q_in = mp_xmalloc(o->query * n_in * sizeof(double));
    tr.q_y = mp_xmalloc(o->query * sizeof(double));
    size_t p = mp_net_size(&m->net);
    double loss = 0;
    for (size_t k = 0; k < o->members && rc == 0; k++) {
        loss += train_member(&tr, k, mp_mix64(o->seed, k + 1), m->theta + k * p);
    }
    m->train_loss = loss / (double)o->members;
    for (size_t t = 0; t < ts->n_tasks; t++) {
        free(et[t].in);
        free(et[t].top);
    }
    /* A model the reader would refuse is no model: say so now, not when it is used. */
    for (size_t i = 0; i < o->members * p && rc == 0; i++) {
        if (!(fabs(m->theta[i]) <= MP_META_MAX_WEIGHT)) {
            rc = mp_error_set(err, MP_EINVALID,
                              "meta-training diverged (a weight reached %g, at most %g): lower "
                              "the learning rates",
                              m->theta[i], MP_META_MAX_WEIGHT);
        }
    }
    free(et);
    free(tr.s_in);
    free(tr.s_y);
    free(tr.q_in);
    free(tr.q_y);
    if (rc != 0) {
        mp_meta_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
