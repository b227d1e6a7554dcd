/* SPDX-License-Identifier: Apache-2.0 */
/* Build step: trains the example server's XGBoost classifier on Fashion-MNIST (Debian's
 * dataset-fashion-mnist), deterministically, and saves it; prints the test accuracy.
 *
 * Determinism: a fixed, evenly strided subset of the training set, no row or column sampling,
 * a fixed seed and a fixed thread count, so the same XGBoost build writes the same model. */
#include "idx.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>

#define N_CLASSES 10
#define N_PIXELS  784

struct options {
    const char *data_dir;
    const char *out;
    int64_t rows;
    int64_t rounds;
    int64_t threads;
    int64_t depth;
};

/* XGBoost reports failures through XGBGetLastError; fold them into our error. */
#define XGB_TRY(call)                                                                              \
    do {                                                                                           \
        if ((call) != 0) {                                                                         \
            rc = mp_error_set(err, MP_ERUNTIME, "%s: %s", #call, XGBGetLastError());               \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* Converts count images (starting at first, every stride-th) to float rows. */
static float *to_floats(const struct idx *images, size_t first, size_t stride, size_t count)
{
    float *m = mp_xreallocarray(NULL, count, N_PIXELS * sizeof(float));
    for (size_t i = 0; i < count; i++) {
        const uint8_t *src = images->data + (first + i * stride) * N_PIXELS;
        for (size_t j = 0; j < N_PIXELS; j++) {
            m[i * N_PIXELS + j] = (float)src[j];
        }
    }
    return m;
}

static int load_pair(const char *dir, const char *prefix, struct idx *images, struct idx *labels,
                     struct mp_error *err)
{
    char *ip = mp_xasprintf("%s/%s-images-idx3-ubyte.gz", dir, prefix);
    char *lp = mp_xasprintf("%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    int rc = idx_load(images, ip, 3, err);
    if (rc == 0) {
        rc = idx_load(labels, lp, 1, err);
    }
    if (rc == 0 && (images->item_bytes != N_PIXELS || images->count != labels->count)) {
        rc = mp_error_set(err, MP_EPARSE, "'%s': expected 28x28 images, one label each", ip);
    }
    free(ip);
    free(lp);
    return rc;
}

static int set_params(BoosterHandle b, const struct options *o, struct mp_error *err)
{
    char threads[24];
    char depth[24];
    snprintf(threads, sizeof(threads), "%lld", (long long)o->threads);
    snprintf(depth, sizeof(depth), "%lld", (long long)o->depth);
    const char *kv[][2] = {
        {"objective", "multi:softprob"},
        {"num_class", "10"},
        {"tree_method", "hist"},
        {"max_depth", depth},
        {"eta", "0.3"},
        {"max_bin", "64"},
        {"seed", "7"},
        {"nthread", threads},
        {"verbosity", "0"},
    };
    int rc = 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(kv); i++) {
        XGB_TRY(XGBoosterSetParam(b, kv[i][0], kv[i][1]));
    }
out:
    return rc;
}

/* Fraction of the test set the booster classifies correctly. */
static int test_accuracy(BoosterHandle b, const struct idx *images, const struct idx *labels,
                         double *acc, struct mp_error *err)
{
    int rc = 0;
    DMatrixHandle d = NULL;
    float *m = to_floats(images, 0, 1, images->count);
    XGB_TRY(XGDMatrixCreateFromMat(m, images->count, N_PIXELS, NAN, &d));
    bst_ulong n = 0;
    const float *p = NULL;
    XGB_TRY(XGBoosterPredict(b, d, 0, 0, 0, &n, &p));
    if (n != images->count * N_CLASSES) {
        rc = mp_error_set(err, MP_ERUNTIME, "prediction has %llu values", (unsigned long long)n);
        goto out;
    }
    size_t right = 0;
    for (size_t i = 0; i < images->count; i++) {
        int best = 0;
        for (int k = 1; k < N_CLASSES; k++) {
            if (p[i * N_CLASSES + (size_t)k] > p[i * N_CLASSES + (size_t)best]) {
                best = k;
            }
        }
        right += best == labels->data[i];
    }
    *acc = (double)right / (double)images->count;
out:
    XGDMatrixFree(d);
    free(m);
    return rc;
}

static int train(const struct options *o, struct mp_error *err)
{
    struct idx tri = {0}, trl = {0}, tei = {0}, tel = {0};
    DMatrixHandle d = NULL;
    BoosterHandle b = NULL;
    float *m = NULL;
    float *y = NULL;
    int rc = load_pair(o->data_dir, "train", &tri, &trl, err);
    if (rc == 0) {
        rc = load_pair(o->data_dir, "t10k", &tei, &tel, err);
    }
    if (rc != 0) {
        goto out;
    }
    size_t rows = (size_t)o->rows < tri.count ? (size_t)o->rows : tri.count;
    size_t stride = tri.count / rows;
    m = to_floats(&tri, 0, stride, rows);
    y = mp_xreallocarray(NULL, rows, sizeof(float));
    for (size_t i = 0; i < rows; i++) {
        y[i] = (float)trl.data[i * stride];
    }
    XGB_TRY(XGDMatrixCreateFromMat(m, rows, N_PIXELS, NAN, &d));
    XGB_TRY(XGDMatrixSetFloatInfo(d, "label", y, rows));
    XGB_TRY(XGBoosterCreate(&d, 1, &b));
    rc = set_params(b, o, err);
    for (int it = 0; rc == 0 && it < (int)o->rounds; it++) {
        XGB_TRY(XGBoosterUpdateOneIter(b, it, d));
    }
    if (rc != 0) {
        goto out;
    }
    double acc = 0;
    rc = test_accuracy(b, &tei, &tel, &acc, err);
    if (rc != 0) {
        goto out;
    }
    XGB_TRY(XGBoosterSaveModel(b, o->out));
    printf("train_fmnist: %zu training rows, %lld rounds, depth %lld: test accuracy %.4f "
           "(%zu images) -> %s\n",
           rows, (long long)o->rounds, (long long)o->depth, acc, tei.count, o->out);
out:
    XGBoosterFree(b);
    XGDMatrixFree(d);
    free(m);
    free(y);
    idx_release(&tri);
    idx_release(&trl);
    idx_release(&tei);
    idx_release(&tel);
    return rc;
}

static int parse_positive(const char *flag, const char *v, int64_t max, int64_t *out)
{
    if (v == NULL || mp_parse_int64(v, out) != 0 || *out < 1 || *out > max) {
        fprintf(stderr, "train_fmnist: %s needs an integer in 1..%lld\n", flag, (long long)max);
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (strcmp(a, "--data") == 0 && v != NULL) {
            o->data_dir = v;
        } else if (strcmp(a, "--out") == 0 && v != NULL) {
            o->out = v;
        } else if (strcmp(a, "--rows") == 0) {
            rc = parse_positive(a, v, 60000, &o->rows);
        } else if (strcmp(a, "--rounds") == 0) {
            rc = parse_positive(a, v, 1000, &o->rounds);
        } else if (strcmp(a, "--threads") == 0) {
            rc = parse_positive(a, v, 256, &o->threads);
        } else if (strcmp(a, "--depth") == 0) {
            rc = parse_positive(a, v, 16, &o->depth);
        } else {
            fprintf(stderr, "usage: train_fmnist --out MODEL [--data DIR] [--rows N] "
                            "[--rounds N] [--depth N] [--threads N]\n");
            return -1;
        }
        if (rc != 0) {
            return rc;
        }
        i++;
    }
    if (o->out == NULL) {
        fprintf(stderr, "train_fmnist: --out is required\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {
        .data_dir = "/usr/share/datasets/fashion-mnist",
        .rows = 20000,
        .rounds = 40,
        .threads = 2,
        .depth = 6,
    };
    if (parse_args(argc, argv, &o) != 0) {
        return 2;
    }
    struct mp_error err = {0};
    if (train(&o, &err) != 0) {
        fprintf(stderr, "train_fmnist: %s\n", err.msg);
        return 1;
    }
    return 0;
}
