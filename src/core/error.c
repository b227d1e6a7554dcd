/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes, their names and descriptions, and the error context helpers. */
#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const code_text[] = {
#define MP_ERR_TEXT(name, text) text,
    MP_ERRNO_MAP(MP_ERR_TEXT)
#undef MP_ERR_TEXT
};

static const char *const code_name[] = {
#define MP_ERR_NAME(name, text) "E" #name,
    MP_ERRNO_MAP(MP_ERR_NAME)
#undef MP_ERR_NAME
};

static int project_index(int code)
{
    int idx = code - MP_ERR_BASE - 1;
    if (code <= MP_ERR_BASE || idx >= (int)MP_ARRAY_LEN(code_text)) {
        return -1;
    }
    return idx;
}

const char *mp_strerror(int code)
{
    if (code == 0) {
        return "success";
    }
    int idx = project_index(code);
    if (idx >= 0) {
        return code_text[idx];
    }
    if (code < 0 && code > MP_ERR_BASE) {
        return strerror(-code);
    }
    return "unknown error";
}

const char *mp_err_name(int code)
{
    if (code == 0) {
        return "OK";
    }
    int idx = project_index(code);
    if (idx >= 0) {
        return code_name[idx];
    }
    switch (-code) {
    case ENOENT:
        return "ENOENT";
    case EACCES:
        return "EACCES";
    case EINTR:
        return "EINTR";
    case ENOMEM:
        return "ENOMEM";
    case EIO:
        return "EIO";
    default:
        return "ESYSTEM";
    }
}

/* A message cut at the buffer's end may end inside a UTF-8 sequence (a long non-ASCII value
 * quoted in it): drop that partial character, or JSON encoders refuse the whole message (`validate
 * --json` crashed on one). */
static void trim_cut_utf8(char *msg, size_t len)
{
    size_t start = len;
    while (start > 0 && len - start < 4 && ((unsigned char)msg[start - 1] & 0xc0) == 0x80) {
        start--;
    }
    if (start == 0 || ((unsigned char)msg[start - 1] & 0xc0) != 0xc0) {
        return; /* ends with an ASCII byte, or with stray continuation bytes left as they are */
    }
    unsigned char lead = (unsigned char)msg[start - 1];
    size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (len - (start - 1) < need) {
        msg[start - 1] = '\0';
    }
}

int mp_error_setv(struct mp_error *err, int code, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        mp_vformat_text(err->msg, sizeof(err->msg), fmt, ap);
    }
    return code;
}

void mp_vformat_text(char *buf, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(buf, size, fmt, ap);
    if (size > 0 && n >= (int)size) {
        trim_cut_utf8(buf, size - 1);
    }
}

int mp_error_set(struct mp_error *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mp_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

int mp_error_prefix(struct mp_error *err, int code, const char *fmt, ...)
{
    if (!err) {
        return code;
    }
    char prefix[MP_ERROR_MSG_MAX];
    char old[MP_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_addf(&b, "%s: %s", prefix, old);
    size_t n = b.len < sizeof(err->msg) - 1 ? b.len : sizeof(err->msg) - 1;
    memcpy(err->msg, b.data, n);
    err->msg[n] = '\0';
    if (n < b.len) {
        trim_cut_utf8(err->msg, n);
    }
    mp_buf_release(&b);
    return code;
}

void mp_error_clear(struct mp_error *err)
{
    if (err) {
        err->code = 0;
        err->msg[0] = '\0';
    }
}
