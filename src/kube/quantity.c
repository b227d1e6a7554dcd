/* SPDX-License-Identifier: Apache-2.0 */
/* resource.Quantity: the API server's exact syntax (a port of the rules of apimachinery's
 * ParseQuantity, including its odd corners: "+", "." and ".5Ki" are zero or valid, "Pi" and
 * "e-10" without digits are not), exact magnitudes rounded up, and the validation of container
 * resource requests and limits. */
#include "kube/kube.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUANTITY_SYNTAX "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

/* A quantity split as parseQuantityString splits it. */
struct qparts {
    bool positive;
    size_t value_len; /* str[0:pos]: sign, zeros, digits and point */
    const char *num;  /* numerator without leading zeros ("0" when empty) */
    size_t num_len;
    const char *denom; /* digits after the point */
    size_t denom_len;
    const char *suffix;
    size_t suffix_len;
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Index of the first non-digit at or after i. */
static size_t skip_digits(const char *s, size_t i, size_t end)
{
    while (i < end && is_digit(s[i])) {
        i++;
    }
    return i;
}

/* Returns false when the text cannot be a quantity (ErrFormatWrong). */
static bool split_quantity(const char *s, size_t end, struct qparts *q)
{
    size_t pos = 0;
    *q = (struct qparts){.positive = true, .num = "0", .num_len = 1, .denom = "", .suffix = ""};
    if (pos < end && (s[0] == '-' || s[0] == '+')) {
        q->positive = s[0] == '+';
        pos++;
    }
    while (pos < end && s[pos] == '0') {
        pos++;
    }
    if (pos >= end) {
        q->value_len = 0; /* the value is "0" */
        return true;
    }
    size_t i = skip_digits(s, pos, end);
    if (i > pos) {
        q->num = s + pos;
        q->num_len = i - pos;
    }
    pos = i;
    if (pos < end && s[pos] == '.') {
        i = skip_digits(s, pos + 1, end);
        q->denom = s + pos + 1;
        q->denom_len = i - pos - 1;
        pos = i;
    }
    q->value_len = pos;
    size_t start = pos;
    while (pos < end && strchr("eEinumkKMGTP", s[pos])) {
        pos++;
    }
    if (pos < end && (s[pos] == '-' || s[pos] == '+')) {
        pos++;
    }
    pos = skip_digits(s, pos, end);
    q->suffix = s + start;
    q->suffix_len = end - start;
    return pos >= end;
}

/* Go's strconv.ParseInt(s, 10, 64): optional sign, then at least one digit. */
static bool parse_go_int64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (i >= n) {
        return false;
    }
    uint64_t v = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < n; i++) {
        if (!is_digit(s[i]) || v > (limit - (uint64_t)(s[i] - '0')) / 10) {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* quantitySuffixer.interpret: base (10 or 2), exponent and format of a suffix. */
static bool interpret_suffix(const char *s, size_t n, int *base, int32_t *exp,
                             enum mp_kube_qformat *fmt)
{
    static const struct {
        const char *text;
        int base;
        int32_t exp;
    } table[] = {
        {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"", 10, 0},   {"k", 10, 3},  {"M", 10, 6},
        {"G", 10, 9},  {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18}, {"Ki", 2, 10}, {"Mi", 2, 20},
        {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50}, {"Ei", 2, 60},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(table); i++) {
        if (strlen(table[i].text) == n && memcmp(table[i].text, s, n) == 0) {
            *base = table[i].base;
            *exp = table[i].exp;
            *fmt = table[i].base == 2 ? MP_KUBE_BINARY_SI : MP_KUBE_DECIMAL_SI;
            return true;
        }
    }
    int64_t e;
    if (n > 1 && (s[0] == 'e' || s[0] == 'E') && parse_go_int64(s + 1, n - 1, &e)) {
        *base = 10;
        *exp = (int32_t)(uint32_t)(uint64_t)e; /* Go's int32(parsed) keeps the low 32 bits */
        *fmt = MP_KUBE_DECIMAL_EXPONENT;
        return true;
    }
    return false;
}

/* Whether ParseQuantity takes its arbitrary-precision path, which re-reads the value text
 * and fails when it holds no digit. Only reached for a zero numerator without a fraction. */
static bool slow_path_for_zero(int base, int32_t exp)
{
    if (base == 2) {
        /* precision = 15 - len(num) - int32(float32(exponent)*3/10) - 1 */
        return 15 - 1 - (int32_t)((float)exp * 3 / 10) - 1 < 0;
    }
    return exp < -9; /* scale below Nano */
}

/* The digits of d (decimal text) multiplied by 2^shift, as decimal text. Owned. */
static char *times_pow2(const char *d, size_t n, int shift)
{
    size_t cap = n + 20;
    char *m = mp_xcalloc(cap + 1, 1);
    memset(m, '0', cap);
    memcpy(m + cap - n, d, n);
    for (int s = 0; s < shift; s++) {
        int carry = 0;
        for (size_t i = cap; i-- > 0;) {
            int v = (m[i] - '0') * 2 + carry;
            m[i] = (char)('0' + v % 10);
            carry = v / 10;
        }
    }
    return m;
}

/* ceil(m * 10^e) for the decimal text m, saturating at INT64_MAX (*sat set). */
static int64_t ceil_scaled(const char *m, int64_t e, bool *sat)
{
    while (*m == '0') {
        m++;
    }
    int64_t len = (int64_t)strlen(m);
    if (len == 0) {
        return 0;
    }
    int64_t int_len = len + e; /* digits before the point; m starts with a non-zero digit */
    if (int_len > 19) {
        *sat = true;
        return INT64_MAX;
    }
    uint64_t v = 0;
    for (int64_t i = 0; i < int_len && i < len; i++) {
        v = v * 10 + (uint64_t)(m[i] - '0');
    }
    for (int64_t i = len; i < int_len; i++) {
        v *= 10; /* int_len <= 19 digits: at most 9,999,999,999,999,999,999 < 2^64 */
    }
    bool frac = false;
    for (int64_t i = int_len < 0 ? 0 : int_len; i < len; i++) {
        frac |= m[i] != '0';
    }
    v += frac;
    if (v > (uint64_t)INT64_MAX) {
        *sat = true;
        return INT64_MAX;
    }
    return (int64_t)v;
}

static int format_error(const char *s, const char *why, struct mp_error *err)
{
    return mp_error_set(err, MP_EINVALID, "quantity \"%s\": %s", s, why);
}

int mp_kube_quantity_parse(const char *s, struct mp_kube_quantity *q, struct mp_error *err)
{
    *q = (struct mp_kube_quantity){.format = MP_KUBE_DECIMAL_SI};
    size_t n = strlen(s);
    struct qparts p;
    if (n == 0 || !split_quantity(s, n, &p)) {
        return format_error(s, "quantities must match the regular expression " QUANTITY_SYNTAX,
                            err);
    }
    int base;
    int32_t exp;
    if (!interpret_suffix(p.suffix, p.suffix_len, &base, &exp, &q->format)) {
        return format_error(s,
                            "unable to parse quantity's suffix (use n, u, m, k, M, G, T, P, E, "
                            "Ki, Mi, Gi, Ti, Pi, Ei or e<exponent>)",
                            err);
    }
    bool digitless = strcspn(s, "0123456789") >= p.value_len;
    bool zero_num = p.num_len == 1 && p.num[0] == '0' && p.denom_len == 0;
    if (digitless && zero_num && slow_path_for_zero(base, exp)) {
        return format_error(s, "unable to parse numeric part of quantity", err);
    }
    /* |q| = (num denom) * 2^bin * 10^(dec - len(denom)) */
    struct mp_buf d = MP_BUF_INIT;
    mp_buf_add(&d, p.num, p.num_len);
    mp_buf_add(&d, p.denom, p.denom_len);
    char *m = times_pow2(d.data, d.len, base == 2 ? exp : 0);
    int64_t e = (base == 10 ? exp : 0) - (int64_t)p.denom_len;
    q->units = ceil_scaled(m, e, &q->saturated);
    bool sat_milli = false;
    q->milli = ceil_scaled(m, e + 3, &sat_milli);
    q->saturated |= sat_milli;
    q->negative = !p.positive && q->milli != 0;
    free(m);
    mp_buf_release(&d);
    return 0;
}

int mp_kube_quantity_json(const json_t *v, struct mp_kube_quantity *q, struct mp_error *err)
{
    char num[64];
    const char *text;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        text = num;
    } else if (json_is_real(v)) {
        text = mp_fmt_double(num, json_real_value(v));
    } else {
        return mp_error_set(err, MP_EINVALID, "quantity: expected a string or a number");
    }
    /* Quantity.UnmarshalJSON trims surrounding white space. */
    while (isspace((unsigned char)*text)) {
        text++;
    }
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1])) {
        n--;
    }
    char *trimmed = mp_xstrndup(text, n);
    int rc = mp_kube_quantity_parse(trimmed, q, err);
    free(trimmed);
    return rc;
}

/* An extended resource (IsExtendedResourceName): a domain-prefixed name outside kubernetes.io
 * whose "requests." form is a qualified name. */
static bool extended_resource(const char *name)
{
    if (!strchr(name, '/') || strstr(name, "kubernetes.io/") ||
        strncmp(name, "requests.", 9) == 0) {
        return false;
    }
    char *quota = mp_xasprintf("requests.%s", name);
    int rc = mp_kube_check_label(quota, "", NULL);
    free(quota);
    return rc == 0;
}

static int check_hugepages(const char *resource, const char *quantity,
                           const struct mp_kube_quantity *q, struct mp_error *err)
{
    struct mp_kube_quantity page;
    if (mp_kube_quantity_parse(resource + strlen("hugepages-"), &page, NULL) != 0 ||
        page.negative || page.units == 0 || page.milli % 1000 != 0) {
        return mp_error_set(err, MP_EINVALID, "resource '%s': not a valid hugepages size",
                            resource);
    }
    if (q->milli % 1000 != 0 || q->units % page.units != 0) {
        return mp_error_set(err, MP_EINVALID,
                            "resource '%s': %s is not a positive integer multiple of %s", resource,
                            quantity, resource + strlen("hugepages-"));
    }
    return 0;
}

int mp_kube_check_resource(const char *resource, const char *quantity, struct mp_error *err)
{
    bool hugepages = strncmp(resource, "hugepages-", 10) == 0;
    bool extended = extended_resource(resource);
    if (!extended && !hugepages && strcmp(resource, "cpu") != 0 &&
        strcmp(resource, "memory") != 0 && strcmp(resource, "ephemeral-storage") != 0) {
        return mp_error_set(
            err, MP_EINVALID,
            "resource '%s': must be cpu, memory, ephemeral-storage, hugepages-<size> "
            "or an extended resource with a domain (e.g. nvidia.com/gpu)",
            resource);
    }
    struct mp_kube_quantity q;
    int rc = mp_kube_quantity_parse(quantity, &q, err);
    if (rc != 0) {
        return mp_error_prefix(err, rc, "resource '%s'", resource);
    }
    if (q.negative) {
        return mp_error_set(err, MP_EINVALID,
                            "resource '%s': %s must be greater than or equal to 0", resource,
                            quantity);
    }
    if (extended && q.milli % 1000 != 0) {
        return mp_error_set(err, MP_EINVALID, "resource '%s': %s must be an integer", resource,
                            quantity);
    }
    return hugepages ? check_hugepages(resource, quantity, &q, err) : 0;
}

int mp_kube_check_bytes(const char *quantity, struct mp_error *err)
{
    struct mp_kube_quantity q;
    struct mp_error perr = {0};
    if (mp_kube_quantity_parse(quantity, &q, &perr) != 0 || q.milli == INT64_MAX ||
        q.milli % 1000 == 0) {
        return 0;
    }
    return mp_error_set(err, MP_EINVALID,
                        "expected a whole number of bytes, got \"%s\" (the suffix m means "
                        "thousandths: megabytes are M, mebibytes Mi)",
                        quantity);
}

char *mp_kube_fmt_milli(char *buf, int64_t milli)
{
    if (milli % 1000 == 0) {
        snprintf(buf, MP_KUBE_QUANTITY_MAX, "%lld", (long long)(milli / 1000));
    } else {
        snprintf(buf, MP_KUBE_QUANTITY_MAX, "%lldm", (long long)milli);
    }
    return buf;
}

char *mp_kube_fmt_bytes(char *buf, int64_t bytes)
{
    /* The shortest exact text, binary suffixes first on a tie: a size written "2G" comes back
     * "2G", not "1953125Ki". */
    static const struct {
        const char *suffix;
        int64_t unit;
    } units[] = {{"Ei", INT64_C(1) << 60},
                 {"Pi", INT64_C(1) << 50},
                 {"Ti", INT64_C(1) << 40},
                 {"Gi", INT64_C(1) << 30},
                 {"Mi", INT64_C(1) << 20},
                 {"Ki", INT64_C(1) << 10},
                 {"E", INT64_C(1000000000000000000)},
                 {"P", INT64_C(1000000000000000)},
                 {"T", INT64_C(1000000000000)},
                 {"G", INT64_C(1000000000)},
                 {"M", INT64_C(1000000)},
                 {"k", INT64_C(1000)}};
    int len = snprintf(buf, MP_KUBE_QUANTITY_MAX, "%lld", (long long)bytes);
    for (size_t i = 0; i < MP_ARRAY_LEN(units) && bytes != 0; i++) {
        if (bytes % units[i].unit == 0) {
            char alt[MP_KUBE_QUANTITY_MAX];
            int n = snprintf(alt, sizeof(alt), "%lld%s", (long long)(bytes / units[i].unit),
                             units[i].suffix);
            if (n < len) {
                memcpy(buf, alt, (size_t)n + 1);
                len = n;
            }
        }
    }
    return buf;
}
