/* SPDX-License-Identifier: Apache-2.0 */
/* Build step writing request payloads for the load generator and the tests:
 *   make_payloads fmnist DATA_DIR OUT_DIR LABELS INDEX...   Fashion-MNIST test images as
 *       784-byte files OUT_DIR/test-<index>-<label>.raw, and LABELS, a TSV of (file, label,
 *       class name) kept outside OUT_DIR so that every file there is a valid request body;
 *   make_payloads image IN OUT                       converts a page (the TIFF text2image
 *       renders) to PNG or PGM, chosen by OUT's extension. */
#include <leptonica/allheaders.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idx.h"
#include "model.h"

static const char *const class_names[FMNIST_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    size_t w = fwrite(data, 1, n, f);
    if (fclose(f) != 0 || w != n) {
        perror(path);
        return -1;
    }
    return 0;
}

static int fmnist(const char *data_dir, const char *out_dir, const char *labels_path, int n_idx,
                  char **idx_args)
{
    struct idx images = {0}, labels = {0};
    struct mp_error err = {0};
    struct mp_buf tsv = MP_BUF_INIT;
    char *ip = mp_xasprintf("%s/t10k-images-idx3-ubyte.gz", data_dir);
    char *lp = mp_xasprintf("%s/t10k-labels-idx1-ubyte.gz", data_dir);
    int rc = idx_load(&images, ip, 3, &err);
    if (rc == 0) {
        rc = idx_load(&labels, lp, 1, &err);
    }
    if (rc != 0 || images.item_bytes != FMNIST_PIXELS || images.count != labels.count) {
        fprintf(stderr, "make_payloads: %s\n", rc != 0 ? err.msg : "unexpected IDX shapes");
        rc = -1;
        goto out;
    }
    for (int i = 0; i < n_idx; i++) {
        int64_t k = 0;
        if (mp_parse_int64(idx_args[i], &k) != 0 || k < 0 || (size_t)k >= images.count) {
            fprintf(stderr, "make_payloads: bad test index '%s'\n", idx_args[i]);
            rc = -1;
            goto out;
        }
        int label = labels.data[k];
        char *name = mp_xasprintf("test-%05lld-%d.raw", (long long)k, label);
        char *path = mp_xasprintf("%s/%s", out_dir, name);
        rc = write_file(path, images.data + (size_t)k * FMNIST_PIXELS, FMNIST_PIXELS);
        mp_buf_addf(&tsv, "%s\t%d\t%s\n", name, label, class_names[label % FMNIST_CLASSES]);
        free(name);
        free(path);
        if (rc != 0) {
            goto out;
        }
    }
    rc = write_file(labels_path, tsv.data ? tsv.data : "", tsv.len);
out:
    free(ip);
    free(lp);
    mp_buf_release(&tsv);
    idx_release(&images);
    idx_release(&labels);
    return rc;
}

static int convert(const char *in, const char *out)
{
    size_t n = strlen(out);
    int format = n > 4 && strcmp(out + n - 4, ".pgm") == 0 ? IFF_PNM : IFF_PNG;
    PIX *pix = pixRead(in);
    if (pix == NULL) {
        fprintf(stderr, "make_payloads: cannot read '%s'\n", in);
        return -1;
    }
    /* PGM is 8-bit grey; text2image pages are 1-bit. */
    PIX *grey = format == IFF_PNM ? pixConvertTo8(pix, 0) : pixClone(pix);
    int rc = grey != NULL && pixWrite(out, grey, format) == 0 ? 0 : -1;
    if (rc != 0) {
        fprintf(stderr, "make_payloads: cannot write '%s'\n", out);
    }
    pixDestroy(&grey);
    pixDestroy(&pix);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 6 && strcmp(argv[1], "fmnist") == 0) {
        return fmnist(argv[2], argv[3], argv[4], argc - 5, argv + 5) == 0 ? 0 : 1;
    }
    if (argc == 4 && strcmp(argv[1], "image") == 0) {
        return convert(argv[2], argv[3]) == 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: make_payloads fmnist DATA_DIR OUT_DIR LABELS.tsv INDEX...\n"
                    "       make_payloads image IN.tif OUT.{png,pgm}\n");
    return 2;
}
