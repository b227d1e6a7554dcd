/* SPDX-License-Identifier: Apache-2.0 */
/* Model back ends: XGBoost (Fashion-MNIST) and Tesseract (OCR), behind model.h. */
#include "model.h"

#include <leptonica/allheaders.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tesseract/capi.h>
#include <xgboost/c_api.h>

/* Refuse pages whose decoded bitmap would exceed this many pixels (~ A4 at 600 dpi). */
#define OCR_MAX_PIXELS ((l_int32)40000000)

static const char *const fmnist_labels[FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

struct model_instance {
    enum model_kind kind;
    BoosterHandle booster;
    TessBaseAPI *tess;
    float *rows; /* scratch for a batch of fmnist rows */
    size_t rows_cap;
};

void model_global_init(void)
{
    /* Leptonica would print every undecodable upload to stderr; the client gets a 400. */
    setMsgSeverity(L_SEVERITY_NONE);
}

int model_kind_parse(const char *s, enum model_kind *out)
{
    if (strcmp(s, "fmnist") == 0) {
        *out = MODEL_FMNIST;
    } else if (strcmp(s, "ocr") == 0) {
        *out = MODEL_OCR;
    } else {
        return MP_EINVALID;
    }
    return 0;
}

const char *model_kind_name(enum model_kind kind)
{
    return kind == MODEL_FMNIST ? "fmnist" : "ocr";
}

const char *model_kind_path(enum model_kind kind)
{
    return kind == MODEL_FMNIST ? "/v1/fmnist" : "/v1/ocr";
}

static bool has_prefix(const struct model_input *in, const char *magic, size_t n)
{
    return in->len >= n && memcmp(in->data, magic, n) == 0;
}

int model_check_input(enum model_kind kind, const struct model_input *in, struct mp_error *err)
{
    if (kind == MODEL_FMNIST) {
        if (in->len != FMNIST_PIXELS) {
            mp_error_set(err, MP_EINVALID, "body must be %d raw bytes (28x28 image), got %zu",
                         FMNIST_PIXELS, in->len);
            return 400;
        }
        return 0;
    }
    /* PNG, PNM (P2/P5), TIFF: the formats text2image and common tools write. */
    if (has_prefix(in, "\x89PNG", 4) || has_prefix(in, "P5", 2) || has_prefix(in, "P2", 2) ||
        has_prefix(in, "II*\0", 4) || has_prefix(in, "MM\0*", 4)) {
        return 0;
    }
    mp_error_set(err, MP_EINVALID, "body must be a PNG, PGM or TIFF image");
    return 400;
}

static int fmnist_load(struct model_instance *m, const char *dir, int threads, struct mp_error *err)
{
    char *path = mp_xasprintf("%s/%s", dir, FMNIST_MODEL_FILE);
    char nthread[16];
    snprintf(nthread, sizeof(nthread), "%d", threads);
    int rc = 0;
    if (XGBoosterCreate(NULL, 0, &m->booster) != 0 || XGBoosterLoadModel(m->booster, path) != 0 ||
        XGBoosterSetParam(m->booster, "nthread", nthread) != 0) {
        /* XGBoost appends a stack trace: keep its first line. */
        const char *msg = XGBGetLastError();
        rc = mp_error_set(err, MP_ERUNTIME, "'%s': %.*s", path, (int)strcspn(msg, "\n"), msg);
    }
    free(path);
    return rc;
}

static int ocr_load(struct model_instance *m, const char *dir, struct mp_error *err)
{
    m->tess = TessBaseAPICreate();
    /* dir/eng.traineddata, LSTM engine (the one Debian's eng model carries). */
    if (TessBaseAPIInit2(m->tess, dir, "eng", OEM_LSTM_ONLY) != 0) {
        return mp_error_set(err, MP_ENOTFOUND, "tesseract: cannot load '%s/eng.traineddata'", dir);
    }
    TessBaseAPISetPageSegMode(m->tess, PSM_AUTO);
    /* Pages from text2image are 300 dpi; saying so skips the resolution guess and its warning. */
    TessBaseAPISetVariable(m->tess, "user_defined_dpi", "300");
    TessBaseAPISetVariable(m->tess, "debug_file", "/dev/null");
    return 0;
}

int model_instance_new(enum model_kind kind, const char *dir, int threads,
                       struct model_instance **out, struct mp_error *err)
{
    struct model_instance *m = mp_xcalloc(1, sizeof(*m));
    m->kind = kind;
    int rc = kind == MODEL_FMNIST ? fmnist_load(m, dir, threads, err) : ocr_load(m, dir, err);
    if (rc != 0) {
        model_instance_free(m);
        m = NULL;
    }
    *out = m;
    return rc;
}

void model_instance_free(struct model_instance *m)
{
    if (m == NULL) {
        return;
    }
    if (m->booster != NULL) {
        XGBoosterFree(m->booster);
    }
    if (m->tess != NULL) {
        TessBaseAPIEnd(m->tess);
        TessBaseAPIDelete(m->tess);
    }
    free(m->rows);
    free(m);
}

void json_add_string(struct mp_buf *b, const char *s)
{
    mp_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        switch (*p) {
        case '"':
            mp_buf_adds(b, "\\\"");
            break;
        case '\\':
            mp_buf_adds(b, "\\\\");
            break;
        case '\n':
            mp_buf_adds(b, "\\n");
            break;
        case '\t':
            mp_buf_adds(b, "\\t");
            break;
        case '\r':
            mp_buf_adds(b, "\\r");
            break;
        default:
            if (*p < 0x20) {
                mp_buf_addf(b, "\\u%04x", *p);
            } else {
                mp_buf_addc(b, (char)*p);
            }
        }
    }
    mp_buf_addc(b, '"');
}

static void fail(struct model_result *r, int status, const char *what, const char *detail)
{
    r->status = status;
    mp_buf_reset(&r->body);
    mp_buf_adds(&r->body, "{\"error\":");
    char *msg = mp_xasprintf("%s: %s", what, detail);
    json_add_string(&r->body, msg);
    free(msg);
    mp_buf_adds(&r->body, "}\n");
}

static void fmnist_result(struct model_result *r, const float *scores)
{
    int best = 0;
    for (int k = 1; k < FMNIST_CLASSES; k++) {
        if (scores[k] > scores[best]) {
            best = k;
        }
    }
    r->status = 200;
    mp_buf_addf(&r->body, "{\"class\":%d,\"label\":\"%s\",\"scores\":[", best, fmnist_labels[best]);
    for (int k = 0; k < FMNIST_CLASSES; k++) {
        mp_buf_addf(&r->body, "%s%.6g", k ? "," : "", (double)scores[k]);
    }
    mp_buf_adds(&r->body, "]}\n");
}

/* One XGBoost prediction over the whole batch. */
static void fmnist_run(struct model_instance *m, const struct model_input *in,
                       struct model_result *res, size_t n)
{
    if (n > m->rows_cap) {
        m->rows = mp_xreallocarray(m->rows, n, FMNIST_PIXELS * sizeof(float));
        m->rows_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < FMNIST_PIXELS; j++) {
            m->rows[i * FMNIST_PIXELS + j] = (float)in[i].data[j];
        }
    }
    DMatrixHandle d = NULL;
    bst_ulong len = 0;
    const float *p = NULL;
    if (XGDMatrixCreateFromMat(m->rows, n, FMNIST_PIXELS, NAN, &d) != 0 ||
        XGBoosterPredict(m->booster, d, 0, 0, 0, &len, &p) != 0 ||
        len != (bst_ulong)n * FMNIST_CLASSES) {
        for (size_t i = 0; i < n; i++) {
            fail(&res[i], 500, "xgboost", XGBGetLastError());
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            fmnist_result(&res[i], p + i * FMNIST_CLASSES);
        }
    }
    if (d != NULL) {
        XGDMatrixFree(d);
    }
}

static void ocr_one(struct model_instance *m, const struct model_input *in, struct model_result *r)
{
    l_int32 w = 0, h = 0, bps = 0, spp = 0;
    if (pixReadHeaderMem(in->data, in->len, NULL, &w, &h, &bps, &spp, NULL) != 0 || w <= 0 ||
        h <= 0) {
        fail(r, 400, "image", "cannot decode the image header");
        return;
    }
    if ((int64_t)w * h > OCR_MAX_PIXELS) {
        fail(r, 400, "image", "too many pixels");
        return;
    }
    PIX *pix = pixReadMem(in->data, in->len);
    if (pix == NULL) {
        fail(r, 400, "image", "cannot decode the image");
        return;
    }
    TessBaseAPISetImage2(m->tess, pix);
    char *text = TessBaseAPIGetUTF8Text(m->tess);
    if (text == NULL) {
        fail(r, 500, "tesseract", "recognition failed");
    } else {
        r->status = 200;
        mp_buf_adds(&r->body, "{\"text\":");
        json_add_string(&r->body, text);
        mp_buf_adds(&r->body, "}\n");
        TessDeleteText(text);
    }
    TessBaseAPIClear(m->tess);
    pixDestroy(&pix);
}

void model_run(struct model_instance *m, const struct model_input *in, struct model_result *res,
               size_t n)
{
    if (m->kind == MODEL_FMNIST) {
        fmnist_run(m, in, res, n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ocr_one(m, in + i, &res[i]);
    }
}
