/* SPDX-License-Identifier: Apache-2.0 */
/* The two real models behind the example server, as one interface: an XGBoost classifier of
 * Fashion-MNIST images (batched: one prediction over the whole batch) and Tesseract OCR
 * (a batch is recognised page by page).
 *
 * Each worker thread owns one instance (its own booster or Tesseract engine), so instances
 * are never shared between threads.
 * Ownership: model_instance_new returns an owned instance (model_instance_free). model_run
 * borrows the inputs and fills caller-owned results; each result's body is an owned mp_buf. */
#ifndef INFER_MODEL_H
#define INFER_MODEL_H

#include "core/core.h"

#define FMNIST_PIXELS     784
#define FMNIST_CLASSES    10
#define FMNIST_MODEL_FILE "fmnist.ubj"

enum model_kind { MODEL_FMNIST, MODEL_OCR };

struct model_input {
    const uint8_t *data;
    size_t len;
};

struct model_result {
    int status;         /* HTTP status: 200, 400 (bad input) or 500 */
    struct mp_buf body; /* JSON */
};

struct model_instance;

/* Process-wide set-up; call once before starting threads. */
void model_global_init(void);
/* Parses "fmnist" or "ocr". */
int model_kind_parse(const char *s, enum model_kind *out) MP_WUR;
const char *model_kind_name(enum model_kind kind);
/* The HTTP path serving kind ("/v1/fmnist" or "/v1/ocr"). */
const char *model_kind_path(enum model_kind kind);
/* Cheap check done before queueing: 0, or an HTTP status (400) with a message in err. */
int model_check_input(enum model_kind kind, const struct model_input *in, struct mp_error *err);

/* Loads a model from dir (fmnist: dir/fmnist.ubj; ocr: a tessdata directory holding
 * eng.traineddata) using at most threads threads for one inference. */
int model_instance_new(enum model_kind kind, const char *dir, int threads,
                       struct model_instance **out, struct mp_error *err) MP_WUR;
void model_instance_free(struct model_instance *m);

/* Runs n inputs as one batch, filling res[0..n). Per-input failures are reported in res. */
void model_run(struct model_instance *m, const struct model_input *in, struct model_result *res,
               size_t n);

/* Appends s as a JSON string literal (quoted, escaped) to b. */
void json_add_string(struct mp_buf *b, const char *s);

#endif
