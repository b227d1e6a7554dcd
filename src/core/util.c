/* SPDX-License-Identifier: Apache-2.0 */
/* Random numbers, canonical number text, clocks, hashing, the string set, edit distance and
 * suggestions, and folder listings. */
#include "core/core.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mp_rng_init(struct mp_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman & Vigna, 2018). */
uint64_t mp_rng_next(struct mp_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double mp_rng_uniform(struct mp_rng *r)
{
    return (double)(mp_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t mp_rng_below(struct mp_rng *r, uint64_t n)
{
    /* Rejection sampling on the top of the range removes modulo bias. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = mp_rng_next(r);
    } while (x >= limit);
    return x % n;
}

double mp_rng_normal(struct mp_rng *r)
{
    double u1 = mp_rng_uniform(r);
    double u2 = mp_rng_uniform(r);
    if (u1 < 1e-300) {
        u1 = 1e-300;
    }
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

uint64_t mp_mix64(uint64_t a, uint64_t b)
{
    uint64_t x = a ^ (b * 0x9e3779b97f4a7c15ULL);
    return splitmix64(&x);
}

char *mp_fmt_double(char *buf, double v)
{
    if (isnan(v)) {
        snprintf(buf, MP_FMT_DOUBLE_MAX, "nan");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, MP_FMT_DOUBLE_MAX, v > 0 ? "inf" : "-inf");
        return buf;
    }
    if (v == 0) {
        snprintf(buf, MP_FMT_DOUBLE_MAX, signbit(v) ? "-0" : "0");
        return buf;
    }
    /* The shortest %.Ng that round-trips; 17 significant digits always do (IEEE 754). */
    int prec = 1;
    for (; prec <= 17; prec++) {
        snprintf(buf, MP_FMT_DOUBLE_MAX, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) {
            break;
        }
    }
    /* %g switches to an exponent once the exponent reaches the precision ("5e+01" for 50);
     * plain decimals read better for the magnitudes configurations use. */
    double mag = fabs(v);
    if (strchr(buf, 'e') && mag >= 1 && mag < 1e16) {
        int digits = (int)floor(log10(mag)) + 1;
        int decimals = prec > digits ? prec - digits : 0;
        snprintf(buf, MP_FMT_DOUBLE_MAX, "%.*f", decimals, v);
    }
    return buf;
}

/* Length of the decimal number that s starts with, 0 when none: YAML 1.2 core schema's float
 * (and int) without .inf and .nan, [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?. strtod
 * alone would also take hexadecimal ("0x10", "0x1p0"), "inf", "nan" and leading spaces. */
static size_t decimal_len(const char *s)
{
    size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0, digits = 0;
    for (; isdigit((unsigned char)s[i]); i++) {
        digits++;
    }
    if (s[i] == '.') {
        for (i++; isdigit((unsigned char)s[i]); i++) {
            digits++;
        }
    }
    if (digits == 0) {
        return 0;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        size_t e = i + 1 + (s[i + 1] == '-' || s[i + 1] == '+');
        if (isdigit((unsigned char)s[e])) {
            for (i = e; isdigit((unsigned char)s[i]); i++) {
            }
        }
    }
    return i;
}

/* The decimal number at the start of s; *end past it. MP_EINVALID when s starts with none or
 * the number is out of range or not finite. */
static int parse_decimal(const char *s, double *out, const char **end)
{
    size_t len = s ? decimal_len(s) : 0;
    if (len == 0) {
        return MP_EINVALID;
    }
    char *stop;
    errno = 0;
    double v = strtod(s, &stop);
    /* ERANGE with a finite result is an underflow: 1e-320 is that subnormal, 1e-400 is 0 (as
     * JSON and YAML readers take them); an overflow is an error. */
    if (stop != s + len || !isfinite(v) || (errno == ERANGE && fabs(v) > DBL_MIN)) {
        return MP_EINVALID;
    }
    *out = v;
    *end = stop;
    return 0;
}

int mp_parse_double(const char *s, double *out)
{
    const char *end;
    double v;
    if (parse_decimal(s, &v, &end) != 0 || *end != '\0') {
        return MP_EINVALID;
    }
    *out = v;
    return 0;
}

int mp_utf8_columns_at(const char *s)
{
    size_t n = mp_utf8_valid_len(s, strnlen(s, 4));
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0 || u[0] < 0x80) {
        return 1;
    }
    size_t k = u[0] >= 0xf0 ? 3 : u[0] >= 0xe0 ? 2 : 1;
    if (n < k + 1) {
        return 1; /* cut short */
    }
    uint32_t cp = u[0] & (0x3fu >> k);
    for (size_t i = 1; i <= k; i++) {
        cp = cp << 6 | (u[i] & 0x3fu);
    }
    /* Combining marks (Unicode's Mn blocks used with Latin, Greek and symbols). */
    static const uint32_t zero[][2] = {
        {0x0300, 0x036f}, {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x20d0, 0x20ff}, {0xfe20, 0xfe2f}};
    /* East Asian Wide (W) and Fullwidth (F) ranges, and the emoji blocks. */
    static const uint32_t wide[][2] = {{0x1100, 0x115f},   {0x2e80, 0x303e},   {0x3041, 0x33ff},
                                       {0x3400, 0x4dbf},   {0x4e00, 0x9fff},   {0xa000, 0xa4cf},
                                       {0xa960, 0xa97f},   {0xac00, 0xd7a3},   {0xf900, 0xfaff},
                                       {0xfe10, 0xfe19},   {0xfe30, 0xfe6f},   {0xff00, 0xff60},
                                       {0xffe0, 0xffe6},   {0x1f300, 0x1f64f}, {0x1f900, 0x1f9ff},
                                       {0x20000, 0x2fffd}, {0x30000, 0x3fffd}};
    for (size_t i = 0; i < MP_ARRAY_LEN(zero); i++) {
        if (cp >= zero[i][0] && cp <= zero[i][1]) {
            return 0;
        }
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(wide); i++) {
        if (cp >= wide[i][0] && cp <= wide[i][1]) {
            return 2;
        }
    }
    return 1;
}

/* The length of the character at s that mp_terminal_text escapes; 0 when it goes as it is. */
static size_t terminal_unsafe_at(const unsigned char *s, bool lines)
{
    if (s[0] < 0x20 || s[0] == 0x7f) {
        return lines && (s[0] == '\n' || s[0] == '\t') ? 0 : 1;
    }
    if ((s[0] == 0xc2 && s[1] >= 0x80 && s[1] <= 0x9f) || (s[0] == 0xd8 && s[1] == 0x9c)) {
        return 2; /* C1 controls, U+061C */
    }
    if ((s[0] == 0xe2 && s[1] == 0x80 &&
         ((s[2] >= 0x8b && s[2] <= 0x8f) ||   /* U+200B..U+200F */
          (s[2] >= 0xa8 && s[2] <= 0xae))) || /* U+2028..U+202E */
        (s[0] == 0xe2 && s[1] == 0x81 && (s[2] == 0xa0 || (s[2] >= 0xa6 && s[2] <= 0xa9))) ||
        (s[0] == 0xef && s[1] == 0xbb && s[2] == 0xbf)) {
        return 3; /* U+2060, U+2066..U+2069, U+FEFF */
    }
    return 0;
}

size_t mp_terminal_text(FILE *f, const char *text, bool lines)
{
    size_t n = 0;
    for (const unsigned char *s = (const unsigned char *)text; *s;) {
        size_t k = terminal_unsafe_at(s, lines);
        char esc[8];
        if (k == 0) {
            n += (*s & 0xc0) != 0x80 ? (size_t)mp_utf8_columns_at((const char *)s) : 0;
            if (f) {
                fputc(*s, f);
            }
            s++;
            continue;
        }
        unsigned cp = k == 1   ? s[0]
                      : k == 2 ? ((s[0] & 0x1fu) << 6 | (s[1] & 0x3fu))
                               : ((s[0] & 0x0fu) << 12 | (s[1] & 0x3fu) << 6 | (s[2] & 0x3fu));
        n += (size_t)snprintf(esc, sizeof(esc), k == 1 ? "\\x%02x" : "\\u%04x", cp);
        if (f) {
            fputs(esc, f);
        }
        s += k;
    }
    return n;
}

size_t mp_utf8_valid_len(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        size_t n = c < 0x80             ? 0
                   : (c & 0xe0) == 0xc0 ? 1
                   : (c & 0xf0) == 0xe0 ? 2
                   : (c & 0xf8) == 0xf0 ? 3
                                        : 4;
        if (n == 4 || n >= len - i) {
            return i;
        }
        uint32_t cp = n == 0 ? c : n == 1 ? c & 0x1fu : n == 2 ? c & 0x0fu : c & 0x07u;
        for (size_t k = 1; k <= n; k++) {
            if ((u[i + k] & 0xc0) != 0x80) {
                return i;
            }
            cp = cp << 6 | (u[i + k] & 0x3fu);
        }
        /* Overlong forms, UTF-16 surrogates and code points past U+10FFFF (RFC 3629, 3). */
        static const uint32_t least[] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
            return i;
        }
        i += n + 1;
    }
    return len;
}

void mp_utf8_scrub(char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        i += mp_utf8_valid_len(s + i, len - i);
        if (i < len) {
            s[i++] = '?';
        }
    }
    for (size_t i = 0; i < len; i++) {
        s[i] = s[i] ? s[i] : '?';
    }
}

int mp_parse_int64(const char *s, int64_t *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) {
        return MP_EINVALID;
    }
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE) {
        return MP_EINVALID;
    }
    *out = (int64_t)v;
    return 0;
}

int mp_parse_duration_ns(const char *s, int64_t *out)
{
    static const struct {
        const char *suffix;
        double ns;
    } units[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
    const char *end;
    double v;
    if (parse_decimal(s, &v, &end) != 0 || v < 0) {
        return MP_EINVALID;
    }
    double scale = 0;
    if (*end == '\0') {
        scale = 1e9;
    }
    for (size_t i = 0; scale == 0 && i < MP_ARRAY_LEN(units); i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            scale = units[i].ns;
        }
    }
    if (scale == 0 || v * scale > 9.2e18) {
        return MP_EINVALID;
    }
    *out = (int64_t)llround(v * scale);
    return 0;
}

char *mp_bare_seconds_note(const char *text, double from_s)
{
    double s;
    if (mp_parse_double(text, &s) != 0 || s < from_s) {
        return NULL;
    }
    return mp_xasprintf("a bare number is seconds: %s is read as %ss (%.1f minutes); write %sms "
                        "for milliseconds, or %ss to say seconds",
                        text, text, s / 60, text, text);
}

int64_t mp_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mp_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *mp_fmt_time(char *buf, int64_t wall_ns)
{
    time_t t = (time_t)(wall_ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

uint64_t mp_hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t mp_hash_str(const char *s)
{
    return mp_hash_bytes(s, strlen(s));
}

static size_t strset_slot(char **slots, size_t cap, const char *s)
{
    size_t i = (size_t)mp_hash_str(s) & (cap - 1);
    while (slots[i] && strcmp(slots[i], s) != 0) {
        i = (i + 1) & (cap - 1);
    }
    return i;
}

bool mp_strset_has(const struct mp_strset *set, const char *s)
{
    if (!set->cap) {
        return false;
    }
    return set->slots[strset_slot(set->slots, set->cap, s)] != NULL;
}

bool mp_strset_add(struct mp_strset *set, const char *s)
{
    if ((set->count + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        char **slots = mp_xcalloc(cap, sizeof(*slots));
        for (size_t i = 0; i < set->cap; i++) {
            if (set->slots[i]) {
                slots[strset_slot(slots, cap, set->slots[i])] = set->slots[i];
            }
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    size_t i = strset_slot(set->slots, set->cap, s);
    if (set->slots[i]) {
        return false;
    }
    set->slots[i] = mp_xstrdup(s);
    set->count++;
    return true;
}

void mp_strset_release(struct mp_strset *set)
{
    for (size_t i = 0; i < set->cap; i++) {
        free(set->slots[i]);
    }
    free(set->slots);
    set->slots = NULL;
    set->cap = set->count = 0;
}

unsigned mp_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) {
        return 255;
    }
    /* Optimal string alignment: row i of the table over prefixes of a and b is rows[i % 3]. */
    unsigned rows[3][65];
    for (size_t j = 0; j <= lb; j++) {
        rows[0][j] = (unsigned)j;
    }
    for (size_t i = 1; i <= la; i++) {
        unsigned *row = rows[i % 3], *prev = rows[(i - 1) % 3], *older = rows[(i + 1) % 3];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned best = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            best = prev[j] + 1 < best ? prev[j] + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                older[j - 2] + 1 < best) {
                best = older[j - 2] + 1; /* two neighbours swapped */
            }
            row[j] = best;
        }
    }
    return rows[la % 3][lb];
}

/* Whether every character of a appears in b in order ("cmd" in "command"). */
static bool subsequence(const char *a, const char *b)
{
    for (; *a && *b; b++) {
        a += *a == *b;
    }
    return *a == '\0';
}

/* Whether a and b are the same words in another case style: compared without case, '_' and
 * '-' ("loadImage", "load-image" and "LOAD_IMAGE" are "load_image"). */
static bool same_words(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_' || *a == '-') {
            a++;
        }
        while (*b == '_' || *b == '-') {
            b++;
        }
        if (*a == '\0' || *b == '\0') {
            return *a == *b;
        }
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) {
            return false;
        }
        a++;
        b++;
    }
}

/* Closeness of a typed word to a known one, in half edits: the same words in another case style
 * score best (a Kubernetes user's camelCase), then an abbreviation or an omitted word
 * ("cpu_hour" for "cpu_core_hour") scores better than a one-letter slip elsewhere. */
static unsigned suggest_distance(const char *typed, const char *known)
{
    if (same_words(typed, known)) {
        return 0;
    }
    unsigned d = 2 * mp_edit_distance(typed, known);
    if (strlen(typed) >= 3 && (subsequence(typed, known) || subsequence(known, typed))) {
        d = d < 1 ? d : 1;
    }
    return d;
}

/* The CPUs of list into bits (MP_CPU_LIST_MAX of them); false when it is no CPU list. */
static bool cpu_list_bits(const char *list, uint64_t bits[MP_CPU_LIST_MAX / 64])
{
    memset(bits, 0, MP_CPU_LIST_MAX / 8);
    for (const char *p = list;; p++) {
        char *end = NULL;
        if (*p < '0' || *p > '9') {
            return false;
        }
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (*end == '-' && end[1] >= '0' && end[1] <= '9') {
            hi = strtoul(end + 1, &end, 10);
        }
        if (lo > hi || hi >= MP_CPU_LIST_MAX) {
            return false;
        }
        for (unsigned long c = lo; c <= hi; c++) {
            bits[c / 64] |= 1ULL << (c % 64);
        }
        p = end;
        if (*p != ',') {
            return *p == '\0';
        }
    }
}

int mp_cpu_list_count(const char *list)
{
    uint64_t bits[MP_CPU_LIST_MAX / 64];
    if (!list || !cpu_list_bits(list, bits)) {
        return 0;
    }
    int n = 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(bits); i++) {
        n += __builtin_popcountll(bits[i]);
    }
    return n;
}

bool mp_cpu_list_has(const char *list, int cpu)
{
    uint64_t bits[MP_CPU_LIST_MAX / 64];
    return list && cpu >= 0 && cpu < MP_CPU_LIST_MAX && cpu_list_bits(list, bits) &&
           (bits[cpu / 64] >> (cpu % 64) & 1);
}

const char *mp_suggest(const char *typed, const char *const *candidates)
{
    const char *best = NULL;
    unsigned best_d = 255, best_e = 255;
    for (const char *const *k = candidates; *k; k++) {
        /* Of equal scores, the fewest edits: "p99" abbreviates "latency_p99_us" and "p99_ms". */
        unsigned d = suggest_distance(typed, *k), e = mp_edit_distance(typed, *k);
        if (d < best_d || (d == best_d && e < best_e)) {
            best_d = d;
            best_e = e;
            best = *k;
        }
    }
    /* One edit in a word of up to 4 letters ("x" for "xi"; "kind" is no slip of "min"), two
     * up to 8, else three; an abbreviation scores 1 (half an edit). */
    size_t len = strlen(typed);
    unsigned edits = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    return best && best_d <= 2 * edits ? best : NULL;
}

static int cmp_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mp_dir_files(const char *dir, const char *suffix, size_t max, char ***out, size_t *n,
                 struct mp_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        return mp_error_set(err, -errno, "'%s': cannot open the folder: %s", dir, strerror(errno));
    }
    size_t slen = suffix ? strlen(suffix) : 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < slen ||
            (suffix && strcmp(e->d_name + len - slen, suffix) != 0)) {
            continue;
        }
        char *path = mp_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
        } else if (*n == max) {
            free(path);
            rc = mp_error_set(err, MP_ETOOBIG, "'%s': more than %zu files", dir, max);
        } else {
            *out = mp_xreallocarray(*out, *n + 1, sizeof(char *));
            (*out)[(*n)++] = path;
        }
    }
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++) {
            free((*out)[i]);
        }
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1) {
        qsort(*out, *n, sizeof(char *), cmp_paths);
    }
    return 0;
}
