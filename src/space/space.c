/* SPDX-License-Identifier: Apache-2.0 */
/* Search space: levels, enumeration, encoding, sampling and canonical text. */
#include "space/space.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"int", "float", "discrete", "categorical"};
static const char *const resource_names[] = {"cpu", "memory", "gpu", "gpu_memory_share",
                                             "gpu_type"};

const char *const mp_param_roles[] = {"batch_size",       "threads",  "workers", "instances",
                                      "batch_timeout",    "cpu",      "memory",  "gpu",
                                      "gpu_memory_share", "gpu_type", NULL};

bool mp_param_role_fits(const struct mp_param *p, const char *role)
{
    return (p->type == MP_PARAM_CATEGORICAL) == (strcmp(role, "gpu_type") == 0);
}

int mp_space_find_role(const struct mp_space *s, const char *role)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->params[i].role && strcmp(s->params[i].role, role) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *mp_param_type_name(enum mp_param_type t)
{
    return (size_t)t < MP_ARRAY_LEN(type_names) ? type_names[t] : "unknown";
}

const char *mp_resource_name(enum mp_resource r)
{
    return (size_t)r < MP_ARRAY_LEN(resource_names) ? resource_names[r] : "unknown";
}

struct named_choice {
    const char *name;
    size_t k;
};

static int by_name(const void *a, const void *b)
{
    const struct named_choice *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : x->k < y->k ? -1 : 1;
}

/* Choice indices in name order (equal names by index), so that parsing a choice bisects: a
 * scan made reading a 900,000-row surface with a 9,000-choice column take minutes. */
static size_t *order_choices(const struct mp_param *p)
{
    struct named_choice *nc = mp_xreallocarray(NULL, p->n_choices, sizeof(*nc));
    for (size_t k = 0; k < p->n_choices; k++) {
        nc[k] = (struct named_choice){p->choices[k], k};
    }
    qsort(nc, p->n_choices, sizeof(*nc), by_name);
    size_t *order = mp_xreallocarray(NULL, p->n_choices, sizeof(size_t));
    for (size_t k = 0; k < p->n_choices; k++) {
        order[k] = nc[k].k;
    }
    free(nc);
    return order;
}

/* Index of the first choice called text, or -1. */
static long find_choice(const struct mp_param *p, const char *text)
{
    if (!p->choice_order) {
        for (size_t k = 0; k < p->n_choices; k++) {
            if (strcmp(p->choices[k], text) == 0) {
                return (long)k;
            }
        }
        return -1;
    }
    size_t lo = 0, hi = p->n_choices;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(p->choices[p->choice_order[mid]], text) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    bool found = lo < p->n_choices && strcmp(p->choices[p->choice_order[lo]], text) == 0;
    return found ? (long)p->choice_order[lo] : -1;
}

void mp_space_add(struct mp_space *s, struct mp_param *p)
{
    if (p->type == MP_PARAM_CATEGORICAL && p->n_choices > 0 && !p->choice_order) {
        p->choice_order = order_choices(p);
    }
    s->params = mp_xreallocarray(s->params, s->n + 1, sizeof(*s->params));
    s->params[s->n++] = *p;
    memset(p, 0, sizeof(*p));
}

void mp_param_release(struct mp_param *p)
{
    free(p->name);
    free(p->values);
    for (size_t i = 0; i < p->n_choices; i++) {
        free(p->choices[i]);
    }
    free(p->choices);
    free(p->choice_order);
    free(p->target_name);
    free(p->role);
    memset(p, 0, sizeof(*p));
}

void mp_space_release(struct mp_space *s)
{
    for (size_t i = 0; i < s->n; i++) {
        mp_param_release(&s->params[i]);
    }
    free(s->params);
    s->params = NULL;
    s->n = 0;
}

void mp_space_copy(struct mp_space *dst, const struct mp_space *src)
{
    memset(dst, 0, sizeof(*dst));
    for (size_t i = 0; i < src->n; i++) {
        const struct mp_param *p = &src->params[i];
        struct mp_param q = *p;
        q.name = mp_xstrdup(p->name);
        q.target_name = p->target_name ? mp_xstrdup(p->target_name) : NULL;
        q.role = p->role ? mp_xstrdup(p->role) : NULL;
        q.values = NULL;
        if (p->n_values) {
            q.values = mp_xreallocarray(NULL, p->n_values, sizeof(double));
            memcpy(q.values, p->values, p->n_values * sizeof(double));
        }
        q.choices = NULL;
        q.choice_order = NULL; /* mp_space_add orders the copy's own */
        if (p->n_choices) {
            q.choices = mp_xreallocarray(NULL, p->n_choices, sizeof(char *));
            for (size_t k = 0; k < p->n_choices; k++) {
                q.choices[k] = mp_xstrdup(p->choices[k]);
            }
        }
        mp_space_add(dst, &q);
    }
}

int mp_space_find(const struct mp_space *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->params[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Levels of a stepped range; a tolerance absorbs float steps such as 0.1 that do not divide
 * the range exactly in binary. */
static uint64_t range_levels(const struct mp_param *p)
{
    double span = (p->max - p->min) / p->step;
    if (!(span >= 0) || span > 1e15) {
        return 0;
    }
    /* Plus the rounding of min and max themselves, which counts at large magnitudes: 1e9 + 0.01
     * is stored 9.5e-9 low, and with step 0.001 it was no level. */
    double ends = 4 * DBL_EPSILON * fmax(fabs(p->min), fabs(p->max)) / p->step;
    return (uint64_t)floor(span + 1e-9 + ends) + 1;
}

uint64_t mp_space_levels(const struct mp_space *s, size_t i)
{
    const struct mp_param *p = &s->params[i];
    switch (p->type) {
    case MP_PARAM_INT:
        return range_levels(p);
    case MP_PARAM_FLOAT:
        return p->step > 0 ? range_levels(p) : 0;
    case MP_PARAM_DISCRETE:
        return p->n_values;
    case MP_PARAM_CATEGORICAL:
        return p->n_choices;
    }
    return 0;
}

double mp_space_level_value(const struct mp_space *s, size_t i, uint64_t k)
{
    const struct mp_param *p = &s->params[i];
    switch (p->type) {
    case MP_PARAM_INT:
        return p->min + (double)k * p->step;
    case MP_PARAM_FLOAT: {
        /* Computed from min each time (no accumulation), then rounded to 12 significant
         * digits so that 0.1 * 3 prints as 0.3, not 0.30000000000000004; unless that moves it
         * by more than a millionth of the step: at 1e9 by 0.001, 12 digits merged the levels
         * (1000000000.001 read as 1e9, "appears twice"). */
        double v = p->min + (double)k * p->step;
        char buf[32];
        snprintf(buf, sizeof(buf), "%.12g", v);
        double r = strtod(buf, NULL);
        return fabs(r - v) <= p->step * 1e-6 ? r : v;
    }
    case MP_PARAM_DISCRETE:
        return p->values[k];
    case MP_PARAM_CATEGORICAL:
        return (double)k;
    }
    return 0;
}

/* Whether b reads as level value a, whose nearest other level lies gap away: within 1e-9
 * relative, but never as far as a millionth of the gap beyond a few ulps (at 1e9 with step
 * 0.001, 1e-9 relative is 1, and every value read as the level below it). */
static bool close_enough(double a, double b, double gap)
{
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    double tol = fmin(1e-9 * scale, fmax(1e-6 * gap, 8 * DBL_EPSILON * scale));
    return fabs(a - b) <= tol;
}

/* Index of the value nearest to v in the ascending list (the first of equally near ones; 0 for
 * NaN), by bisection: a linear scan made reading a surface with two 1,000-value columns take
 * 10^9 comparisons per million rows. */
static size_t nearest_value(const double *values, size_t n, double v)
{
    if (isnan(v)) {
        return 0;
    }
    size_t lo = 0, hi = n; /* the first value >= v is in [lo, hi] */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (values[mid] < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo == n || (lo > 0 && fabs(values[lo - 1] - v) <= fabs(values[lo] - v))) {
        lo--;
    }
    /* Below v the distance only shrinks with the index, so equally near ones lie before. */
    while (lo > 0 && values[lo - 1] < v && fabs(values[lo - 1] - v) == fabs(values[lo] - v)) {
        lo--;
    }
    return lo;
}

bool mp_space_value_level(const struct mp_space *s, size_t i, double v, uint64_t *k)
{
    const struct mp_param *p = &s->params[i];
    uint64_t n = mp_space_levels(s, i);
    if (n == 0) {
        return false;
    }
    uint64_t best = 0;
    if (p->type == MP_PARAM_INT || p->type == MP_PARAM_FLOAT) {
        double r = round((v - p->min) / p->step);
        best = r < 0 ? 0 : (r >= (double)n ? n - 1 : (uint64_t)r);
    } else if (p->type == MP_PARAM_DISCRETE) {
        best = nearest_value(p->values, p->n_values, v);
    } else {
        double r = round(v);
        best = r < 0 ? 0 : (r >= (double)n ? n - 1 : (uint64_t)r);
    }
    double gap = p->type == MP_PARAM_INT || p->type == MP_PARAM_FLOAT ? p->step : INFINITY;
    if (p->type == MP_PARAM_DISCRETE) {
        gap = best > 0 ? p->values[best] - p->values[best - 1] : gap;
        gap = best + 1 < n ? fmin(gap, p->values[best + 1] - p->values[best]) : gap;
    }
    *k = best;
    return close_enough(mp_space_level_value(s, i, best), v, gap);
}

bool mp_space_is_finite(const struct mp_space *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (mp_space_levels(s, i) == 0) {
            return false;
        }
    }
    return true;
}

double mp_space_size(const struct mp_space *s)
{
    double size = 1;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t n = mp_space_levels(s, i);
        if (n == 0) {
            return INFINITY;
        }
        size *= (double)n;
    }
    return size;
}

bool mp_space_count(const struct mp_space *s, uint64_t *count)
{
    uint64_t c = 1;
    for (size_t i = 0; i < s->n; i++) {
        uint64_t n = mp_space_levels(s, i);
        if (n == 0 || __builtin_mul_overflow(c, n, &c)) {
            return false;
        }
    }
    *count = c;
    return true;
}

void mp_space_from_index(const struct mp_space *s, uint64_t idx, double *x)
{
    for (size_t j = s->n; j-- > 0;) {
        uint64_t n = mp_space_levels(s, j);
        x[j] = mp_space_level_value(s, j, idx % n);
        idx /= n;
    }
}

bool mp_space_to_index(const struct mp_space *s, const double *x, uint64_t *idx)
{
    uint64_t count;
    if (!mp_space_count(s, &count)) {
        return false;
    }
    uint64_t r = 0;
    for (size_t j = 0; j < s->n; j++) {
        uint64_t k;
        if (!mp_space_value_level(s, j, x[j], &k)) {
            return false;
        }
        r = r * mp_space_levels(s, j) + k;
    }
    *idx = r;
    return true;
}

static double warp(const struct mp_param *p, double v)
{
    return p->log_scale ? log(v) : v;
}

static void numeric_bounds(const struct mp_param *p, double *lo, double *hi)
{
    if (p->type == MP_PARAM_DISCRETE) {
        *lo = p->values[0];
        *hi = p->values[p->n_values - 1];
    } else {
        *lo = p->min;
        *hi = p->max;
    }
}

void mp_space_encode(const struct mp_space *s, const double *x, double *u)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (p->type == MP_PARAM_CATEGORICAL) {
            u[i] = p->n_choices > 1 ? x[i] / (double)(p->n_choices - 1) : 0.5;
            continue;
        }
        double lo, hi;
        numeric_bounds(p, &lo, &hi);
        double a = warp(p, lo), b = warp(p, hi), w = warp(p, x[i]);
        /* In halves when b - a overflows (bounds near -+1e308: u was NaN); as ever otherwise. */
        bool wide = !isfinite(b - a);
        u[i] = !(b > a) ? 0.5 : wide ? (w / 2 - a / 2) / (b / 2 - a / 2) : (w - a) / (b - a);
    }
}

void mp_space_decode(const struct mp_space *s, const double *u, double *x)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        double ui = fmin(1.0, fmax(0.0, u[i]));
        if (p->type == MP_PARAM_CATEGORICAL) {
            x[i] = p->n_choices > 1 ? round(ui * (double)(p->n_choices - 1)) : 0;
            continue;
        }
        double lo, hi;
        numeric_bounds(p, &lo, &hi);
        double a = warp(p, lo), b = warp(p, hi);
        double w = isfinite(b - a) ? a + ui * (b - a) : a * (1 - ui) + b * ui; /* as encode */
        double v = p->log_scale ? exp(w) : w;
        v = fmin(hi, fmax(lo, v));
        if (p->type == MP_PARAM_FLOAT && p->step == 0) {
            x[i] = v;
            continue;
        }
        if (p->type == MP_PARAM_DISCRETE) {
            /* Nearest in encoded distance, so log-scaled lists snap sensibly. */
            size_t best = 0;
            double bestd = INFINITY;
            for (size_t j = 0; j < p->n_values; j++) {
                double d = fabs(warp(p, p->values[j]) - w);
                if (d < bestd) {
                    bestd = d;
                    best = j;
                }
            }
            x[i] = p->values[best];
            continue;
        }
        uint64_t k;
        mp_space_value_level(s, i, v, &k);
        x[i] = mp_space_level_value(s, i, k);
    }
}

void mp_space_sample(const struct mp_space *s, struct mp_rng *rng, double *x)
{
    for (size_t i = 0; i < s->n; i++) {
        uint64_t n = mp_space_levels(s, i);
        if (n > 0) {
            x[i] = mp_space_level_value(s, i, mp_rng_below(rng, n));
            continue;
        }
        double u = mp_rng_uniform(rng);
        const struct mp_param *p = &s->params[i];
        double a = warp(p, p->min), b = warp(p, p->max);
        double w = a + u * (b - a);
        x[i] = fmin(p->max, fmax(p->min, p->log_scale ? exp(w) : w));
    }
}

/* At most this many values or choices are listed in an error; more end in "... (N in all)". */
#define LISTED_MAX 16

/* What parameter i takes, as its spec says it: "256, 512 or 1024", "1 to 8 in steps of 2",
 * "[0.5, 2]", a list of choices. Owned. */
static char *allowed_values(const struct mp_param *p)
{
    struct mp_buf b = MP_BUF_INIT;
    char lo[MP_FMT_DOUBLE_MAX], hi[MP_FMT_DOUBLE_MAX], st[MP_FMT_DOUBLE_MAX];
    if (p->type == MP_PARAM_INT || p->type == MP_PARAM_FLOAT) {
        mp_fmt_double(lo, p->min);
        mp_fmt_double(hi, p->max);
        if (p->step > 0) {
            mp_buf_addf(&b, "%s to %s in steps of %s", lo, hi, mp_fmt_double(st, p->step));
        } else {
            mp_buf_addf(&b, "[%s, %s]", lo, hi);
        }
        return mp_buf_detach(&b);
    }
    bool cat = p->type == MP_PARAM_CATEGORICAL;
    size_t n = cat ? p->n_choices : p->n_values;
    size_t shown = n > LISTED_MAX ? LISTED_MAX : n;
    for (size_t k = 0; k < shown; k++) {
        const char *sep = k == 0 ? "" : k + 1 == n ? " or " : ", ";
        if (cat) {
            mp_buf_addf(&b, "%s\"%s\"", sep, p->choices[k]);
        } else {
            mp_buf_addf(&b, "%s%s", sep, mp_fmt_double(lo, p->values[k]));
        }
    }
    if (shown < n) {
        mp_buf_addf(&b, ", ... (%zu in all)", n);
    }
    return mp_buf_detach(&b);
}

/* "parameter 'NAME': VALUE is not one of its values (LIST)"; returns MP_EINVALID. */
static int not_allowed(const struct mp_param *p, const char *value, struct mp_error *err)
{
    if (!err) {
        return MP_EINVALID; /* a surface's rows outside the space: no list to build for each */
    }
    char *list = allowed_values(p);
    int rc = mp_error_set(err, MP_EINVALID, "parameter '%s': %s is not one of its %s (%s)", p->name,
                          value, p->type == MP_PARAM_CATEGORICAL ? "choices" : "values", list);
    free(list);
    return rc;
}

int mp_space_check(const struct mp_space *s, const double *x, struct mp_error *err)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct mp_param *p = &s->params[i];
        if (!isfinite(x[i])) {
            return mp_error_set(err, MP_EINVALID, "parameter '%s': value is not finite", p->name);
        }
        uint64_t k;
        if (p->type == MP_PARAM_FLOAT && p->step == 0) {
            if (x[i] < p->min || x[i] > p->max) {
                return mp_error_set(err, MP_EINVALID, "parameter '%s': %g outside [%g, %g]",
                                    p->name, x[i], p->min, p->max);
            }
        } else if (!mp_space_value_level(s, i, x[i], &k)) {
            char buf[MP_FMT_DOUBLE_MAX];
            return not_allowed(p, mp_fmt_double(buf, x[i]), err);
        }
    }
    return 0;
}

const char *mp_space_format(const struct mp_space *s, size_t i, double v, char *buf)
{
    const struct mp_param *p = &s->params[i];
    if (p->type == MP_PARAM_CATEGORICAL) {
        double r = round(v);
        if (!(r >= 0 && r < (double)p->n_choices)) { /* NaN too: its conversion is undefined */
            return "?";
        }
        return p->choices[(size_t)r];
    }
    if (p->type == MP_PARAM_INT && fabs(v) < 9e15) {
        snprintf(buf, MP_FMT_DOUBLE_MAX, "%lld", (long long)llround(v));
        return buf;
    }
    return mp_fmt_double(buf, v);
}

int mp_space_parse(const struct mp_space *s, size_t i, const char *text, double *v,
                   struct mp_error *err)
{
    const struct mp_param *p = &s->params[i];
    if (p->type == MP_PARAM_CATEGORICAL) {
        long k = find_choice(p, text);
        if (k >= 0) {
            *v = (double)k;
            return 0;
        }
        char *quoted = mp_xasprintf("\"%s\"", text);
        int rc = not_allowed(p, quoted, err);
        free(quoted);
        return rc;
    }
    double d;
    if (mp_parse_double(text, &d) != 0) {
        return mp_error_set(err, MP_EINVALID, "parameter '%s': expected a number, got \"%s\"",
                            p->name, text);
    }
    double tmp[1] = {d};
    struct mp_space one = {(struct mp_param *)p, 1};
    int rc = mp_space_check(&one, tmp, err);
    if (rc == 0) {
        uint64_t k;
        /* Snap to the exact level value so keys compare equal. */
        if (mp_space_levels(s, i) > 0 && mp_space_value_level(s, i, d, &k)) {
            d = mp_space_level_value(s, i, k);
        }
        *v = d;
    }
    return rc;
}

/* A categorical value holding a separator of the key is quoted, '"' and backslash escaped:
 * unquoted, a="x,b=y",b="z" and a="x",b="y,b=z" would both read a=x,b=y,b=z, and the second
 * configuration would count as tried. Numbers and plain choices are written as they are. */
static void add_key_value(struct mp_buf *b, const char *v)
{
    if (!strpbrk(v, ",=\"\\")) {
        mp_buf_addf(b, "%s", v);
        return;
    }
    mp_buf_addc(b, '"');
    for (; *v; v++) {
        if (*v == '"' || *v == '\\') {
            mp_buf_addc(b, '\\');
        }
        mp_buf_addc(b, *v);
    }
    mp_buf_addc(b, '"');
}

char *mp_space_key(const struct mp_space *s, const double *x)
{
    struct mp_buf b = MP_BUF_INIT;
    char buf[MP_FMT_DOUBLE_MAX];
    for (size_t i = 0; i < s->n; i++) {
        mp_buf_addf(&b, "%s%s=", i ? "," : "", s->params[i].name);
        add_key_value(&b, mp_space_format(s, i, x[i], buf));
    }
    return mp_buf_detach(&b);
}
