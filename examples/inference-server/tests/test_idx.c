/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the IDX reader used by the Fashion-MNIST build steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../idx.h"

/* Two 2x3 images: header 0x00000803, dims 2, 2, 3, then 12 bytes. */
static const uint8_t images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2,  0,  0,
                                 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static const uint8_t labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 9, 0, 4};

static void parses_images_and_labels(void **state)
{
    (void)state;
    struct idx x;
    struct mp_error err = {0};
    assert_int_equal(idx_parse(&x, images, sizeof(images), 3, &err), 0);
    assert_int_equal(x.count, 2);
    assert_int_equal(x.rows, 2);
    assert_int_equal(x.cols, 3);
    assert_int_equal(x.item_bytes, 6);
    assert_int_equal(x.data[6], 7);
    idx_release(&x);
    assert_int_equal(idx_parse(&x, labels, sizeof(labels), 1, &err), 0);
    assert_int_equal(x.count, 3);
    assert_int_equal(x.item_bytes, 1);
    assert_int_equal(x.data[2], 4);
    idx_release(&x);
}

static void refuses_malformed(void **state)
{
    (void)state;
    struct idx x;
    struct mp_error err = {0};
    uint8_t buf[sizeof(images)];
    memcpy(buf, images, sizeof(buf));
    assert_int_equal(idx_parse(&x, images, sizeof(images), 1, &err), MP_EPARSE); /* rank */
    assert_int_equal(idx_parse(&x, images, sizeof(images) - 1, 3, &err), MP_EPARSE);
    assert_int_equal(idx_parse(&x, images, 10, 3, &err), MP_EPARSE); /* header cut */
    buf[2] = 0x0d;                                                   /* float elements */
    assert_int_equal(idx_parse(&x, buf, sizeof(buf), 3, &err), MP_EUNSUPPORTED);
    buf[2] = 8;
    buf[0] = 1;
    assert_int_equal(idx_parse(&x, buf, sizeof(buf), 3, &err), MP_EPARSE);
    buf[0] = 0;
    buf[4] = 0x7f; /* 2^31 images */
    assert_int_equal(idx_parse(&x, buf, sizeof(buf), 3, &err), MP_ETOOBIG);
    assert_null(x.data);
}

static void loads_gzip_files(void **state)
{
    (void)state;
    char path[] = "/tmp/test_idx_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, labels, sizeof(labels)), (int)sizeof(labels));
    assert_int_equal(gzclose(f), Z_OK);
    struct idx x;
    struct mp_error err = {0};
    int rc = idx_load(&x, path, 1, &err);
    unlink(path);
    if (rc != 0) {
        fail_msg("idx_load: %s", err.msg);
    }
    assert_int_equal(x.count, 3);
    assert_int_equal(x.data[0], 9);
    idx_release(&x);
    assert_true(idx_load(&x, "/nonexistent/idx.gz", 1, &err) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_images_and_labels),
        cmocka_unit_test(refuses_malformed),
        cmocka_unit_test(loads_gzip_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
