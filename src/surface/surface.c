/* SPDX-License-Identifier: Apache-2.0 */
/* CSV reader for recorded surfaces, space inference and configuration -> row lookup. */
#include "surface/surface.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trial/trial.h"

#define MAX_BYTES (64u << 20)
#define MAX_COLS  256u
#define MAX_ROWS  1000000u
#define MAX_CELL  4096u

void mp_surface_free(struct mp_surface *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_cols; i++) {
        free(s->header[i]);
    }
    for (size_t i = 0; i < s->n_rows * s->n_cols; i++) {
        free(s->cells[i]);
    }
    free(s->header);
    free(s->cells);
    free(s->numbers);
    free(s->numeric);
    free(s->lines);
    free(s->header_col);
    free(s->path);
    free(s);
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads the field at line[*i] into cell and leaves *i at the comma or the end: RFC 4180 quoting;
 * blanks around a field are not part of it, inside quotes they are. 0 or MP_EPARSE. */
static int read_field(const char *line, size_t len, size_t *pos, struct mp_buf *cell,
                      const char *name, size_t lineno, struct mp_error *err)
{
    size_t i = *pos, start = *pos;
    while (i < len && blank(line[i])) {
        i++;
    }
    if (i < len && line[i] == '"') {
        for (i++;; i++) {
            if (i >= len) {
                return mp_error_set(err, MP_EPARSE, "%s:%zu:%zu: unterminated quoted field", name,
                                    lineno, start + 1);
            }
            if (line[i] == '"' && i + 1 < len && line[i + 1] == '"') {
                mp_buf_addc(cell, '"');
                i++;
            } else if (line[i] == '"') {
                i++;
                break;
            } else {
                mp_buf_addc(cell, line[i]);
            }
        }
        while (i < len && blank(line[i])) {
            i++;
        }
        *pos = i;
        if (i < len && line[i] != ',') {
            return mp_error_set(err, MP_EPARSE, "%s:%zu:%zu: text after a closing quote", name,
                                lineno, i + 1);
        }
        return 0;
    }
    size_t end = i;
    for (; end < len && line[end] != ','; end++) {
        if (line[end] == '"') {
            return mp_error_set(err, MP_EPARSE, "%s:%zu:%zu: quote inside an unquoted field", name,
                                lineno, end + 1);
        }
    }
    size_t e = end;
    while (e > i && blank(line[e - 1])) {
        e--;
    }
    mp_buf_add(cell, line + i, e - i);
    *pos = end;
    return 0;
}

/* Splits one line into fields (read_field); with starts non-NULL also stores where each field
 * starts (1-based byte column, owned). Returns the field count or a negative code. */
static int split_line(const char *line, size_t len, char ***fields, size_t **starts,
                      const char *name, size_t lineno, struct mp_error *err)
{
    size_t n = 0, cap = 8;
    char **out = mp_xcalloc(cap, sizeof(char *));
    size_t *at = mp_xcalloc(cap, sizeof(size_t));
    size_t i = 0;
    int rc = 0;
    for (;;) {
        struct mp_buf cell = MP_BUF_INIT;
        size_t start = i;
        rc = read_field(line, len, &i, &cell, name, lineno, err);
        if (rc == 0 && cell.len > MAX_CELL) {
            rc = mp_error_set(err, MP_ETOOBIG, "%s:%zu:%zu: field longer than %u bytes", name,
                              lineno, start + 1, MAX_CELL);
        }
        if (rc == 0 && n >= MAX_COLS) {
            rc = mp_error_set(err, MP_ETOOBIG, "%s:%zu: more than %u columns", name, lineno,
                              MAX_COLS);
        }
        if (rc != 0) {
            mp_buf_release(&cell);
            break;
        }
        if (n == cap) {
            cap *= 2;
            out = mp_xreallocarray(out, cap, sizeof(char *));
            at = mp_xreallocarray(at, cap, sizeof(size_t));
        }
        at[n] = start + 1;
        out[n++] = mp_buf_detach(&cell);
        if (i >= len) {
            break;
        }
        i++; /* the comma */
    }
    if (rc != 0) {
        for (size_t k = 0; k < n; k++) {
            free(out[k]);
        }
        free(out);
        free(at);
        return rc;
    }
    *fields = out;
    if (starts) {
        *starts = at;
    } else {
        free(at);
    }
    return (int)n;
}

/* starts: where each field starts (split_line); end: the column after the line's end. */
static int add_row(struct mp_surface *s, char **fields, int n, const size_t *starts, size_t end,
                   const char *name, size_t lineno, size_t *cap, struct mp_error *err)
{
    if ((size_t)n != s->n_cols) {
        return mp_error_set(err, MP_EPARSE,
                            "%s:%zu:%zu: expected %zu fields like the header, got %d", name, lineno,
                            (size_t)n > s->n_cols ? starts[s->n_cols] : end, s->n_cols, n);
    }
    if (s->n_rows >= MAX_ROWS) {
        return mp_error_set(err, MP_ETOOBIG, "%s:%zu: more than %u rows", name, lineno, MAX_ROWS);
    }
    if (s->n_rows == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        s->cells = mp_xreallocarray(s->cells, *cap * s->n_cols, sizeof(char *));
        s->lines = mp_xreallocarray(s->lines, *cap, sizeof(size_t));
    }
    s->lines[s->n_rows] = lineno;
    for (size_t c = 0; c < s->n_cols; c++) {
        s->cells[s->n_rows * s->n_cols + c] = fields[c];
    }
    s->n_rows++;
    return 0;
}

/* A trial export: its PENDING, RUNNING and CANCELLED rows measured nothing. */
static void drop_unmeasured(struct mp_surface *s)
{
    static const char *const export_head[] = {"number", "state", "failure"};
    s->is_export = s->n_cols >= 3;
    for (size_t c = 0; c < 3 && s->is_export; c++) {
        s->is_export = strcmp(s->header[c], export_head[c]) == 0;
    }
    if (!s->is_export) {
        return;
    }
    size_t kept = 0;
    for (size_t r = 0; r < s->n_rows; r++) {
        char **row = &s->cells[r * s->n_cols];
        if (strcmp(row[1], "SUCCEEDED") != 0 && strcmp(row[1], "FAILED") != 0) {
            for (size_t c = 0; c < s->n_cols; c++) {
                free(row[c]);
            }
            continue;
        }
        memmove(&s->cells[kept * s->n_cols], row, s->n_cols * sizeof(char *));
        s->lines[kept] = s->lines[r];
        kept++;
    }
    s->n_rows = kept;
}

/* In a trial export (after drop_unmeasured) a FAILED row names its failure class and a
 * SUCCEEDED one none: a FAILED row without one replayed as a success (its value could be the
 * surface's optimum), a SUCCEEDED one with one as a failure. */
static int check_export_state(const struct mp_surface *s, size_t r, const char *f,
                              struct mp_error *err)
{
    if (!s->is_export) {
        return 0; /* no state column (a file of one column has no cell 1) */
    }
    const char *state = s->cells[r * s->n_cols + 1];
    bool failed = strcmp(state, "FAILED") == 0;
    if (failed == (*f != '\0')) {
        return 0;
    }
    if (failed) {
        return mp_error_set(err, MP_EPARSE,
                            "%s:%zu: column 'failure': empty, but the state is FAILED (a failed "
                            "trial names its failure class)",
                            s->path, s->lines[r]);
    }
    return mp_error_set(err, MP_EPARSE, "%s:%zu: column 'failure': %s, but the state is %s",
                        s->path, s->lines[r], f, state);
}

/* A trial's state outside a trial export (its first columns moved, or no failure column) would
 * be ignored: its FAILED rows replayed as successes, its RUNNING ones as measured. */
static int check_stray_state(const struct mp_surface *s, struct mp_error *err)
{
    int c = s->is_export ? -1 : mp_surface_column(s, "state");
    for (size_t r = 0; c >= 0 && r < s->n_rows; r++) {
        const char *v = s->cells[r * s->n_cols + (size_t)c];
        if (mp_trial_state_parse(v) >= 0) {
            return mp_error_set(err, MP_EPARSE,
                                "%s:%zu: column 'state': %s, a trial's state, in a file that is "
                                "not a trial export (its header starts number,state,failure); "
                                "elsewhere a row fails by its 'failure' class alone: give each "
                                "failed row its class there and drop the column 'state', or keep "
                                "the export's first columns",
                                s->path, s->lines[r], v);
        }
    }
    return 0;
}

/* A `failure` cell is empty (the row succeeded) or names a failure class: anything else would
 * replay as a guess. */
static int check_failures(const struct mp_surface *s, struct mp_error *err)
{
    int c = mp_surface_column(s, "failure");
    for (size_t r = 0; c >= 0 && r < s->n_rows; r++) {
        const char *f = s->cells[r * s->n_cols + (size_t)c];
        if (check_export_state(s, r, f, err) != 0) {
            return MP_EPARSE;
        }
        if (*f && mp_failure_parse(f) <= MP_FAILURE_NONE) {
            struct mp_buf known = MP_BUF_INIT;
            for (int k = MP_FAILURE_NONE + 1; k < mp_failure_count(); k++) {
                mp_buf_addf(&known, "%s, ", mp_failure_name((enum mp_failure)k));
            }
            int rc = mp_error_set(err, MP_EPARSE,
                                  "%s:%zu: column 'failure': unknown failure class \"%s\" "
                                  "(expected %sor nothing for a row that succeeded)",
                                  s->path, s->lines[r], f, known.data);
            mp_buf_release(&known);
            return rc;
        }
    }
    return 0;
}

static void classify_columns(struct mp_surface *s)
{
    s->numbers = mp_xreallocarray(NULL, s->n_rows * s->n_cols + 1, sizeof(double));
    s->numeric = mp_xcalloc(s->n_cols, sizeof(bool));
    for (size_t c = 0; c < s->n_cols; c++) {
        bool all = s->n_rows > 0;
        for (size_t r = 0; r < s->n_rows; r++) {
            size_t k = r * s->n_cols + c;
            double v;
            if (s->cells[k][0] && mp_parse_double(s->cells[k], &v) == 0) {
                s->numbers[k] = v;
            } else {
                s->numbers[k] = NAN;
                all &= s->cells[k][0] == '\0';
            }
        }
        s->numeric[c] = all;
    }
}

static int parse_header(struct mp_surface *s, const char *line, size_t len, const char *name,
                        struct mp_error *err)
{
    char **fields = NULL;
    int n = split_line(line, len, &fields, &s->header_col, name, 1, err);
    if (n < 0) {
        return n;
    }
    s->header = fields;
    s->n_cols = (size_t)n;
    for (size_t c = 0; c < s->n_cols; c++) {
        if (!s->header[c][0]) {
            return mp_error_set(err, MP_EPARSE, "%s:1:%zu: column %zu has an empty name", name,
                                s->header_col[c], c + 1);
        }
        for (size_t d = 0; d < c; d++) {
            if (strcmp(s->header[c], s->header[d]) == 0) {
                return mp_error_set(err, MP_EPARSE,
                                    "%s:1:%zu: duplicate column \"%s\" (column %zu is one too)",
                                    name, s->header_col[c], s->header[c], d + 1);
            }
        }
    }
    return 0;
}

/* The length of the record at text, without its '\n': a line break inside a quoted field (RFC
 * 4180, as a trial export writes a value with one) does not end it. */
static size_t record_len(const char *text, size_t len)
{
    bool quoted = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"') {
            quoted = !quoted; /* a doubled quote toggles twice */
        } else if (text[i] == '\n' && !quoted) {
            return i;
        }
    }
    return len;
}

static size_t count_lf(const char *text, size_t len)
{
    size_t n = 0;
    for (const char *p = text; (p = memchr(p, '\n', len - (size_t)(p - text))) != NULL; p++) {
        n++;
    }
    return n;
}

int mp_surface_parse(const char *text, size_t len, const char *name, struct mp_surface **out,
                     struct mp_error *err)
{
    if (len > MAX_BYTES) {
        return mp_error_set(err, MP_ETOOBIG, "%s: larger than %u bytes", name, MAX_BYTES);
    }
    struct mp_surface *s = mp_xcalloc(1, sizeof(*s));
    s->path = mp_xstrdup(name);
    /* A UTF-8 byte-order mark (spreadsheets write one) is no part of the first column's name. */
    size_t pos = len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0 ? 3 : 0, lineno = 0, cap = 0;
    int rc = 0;
    while (rc == 0 && pos < len) {
        const char *line = text + pos;
        size_t llen = record_len(line, len - pos);
        size_t lines = count_lf(line, llen);
        pos += llen + (pos + llen < len ? 1 : 0);
        lineno++;
        if (llen > 0 && line[llen - 1] == '\r') {
            llen--;
        }
        size_t valid = mp_utf8_valid_len(line, llen);
        const char *cr = memchr(line, '\r', llen);
        if (memchr(line, '\0', llen)) {
            rc = mp_error_set(err, MP_EPARSE, "%s:%zu: NUL byte in the file", name, lineno);
        } else if (cr) {
            rc = mp_error_set(err, MP_EPARSE,
                              "%s:%zu:%zu: carriage return inside a line (line ends are LF or "
                              "CRLF)",
                              name, lineno, (size_t)(cr - line) + 1);
        } else if (valid < llen) {
            rc = mp_error_set(err, MP_EPARSE, "%s:%zu:%zu: not valid UTF-8 text (byte 0x%02x)",
                              name, lineno, valid + 1, (unsigned char)line[valid]);
        } else if (lineno == 1) {
            rc = parse_header(s, line, llen, name, err);
        } else if (llen > 0) {
            char **fields = NULL;
            size_t *starts = NULL;
            int n = split_line(line, llen, &fields, &starts, name, lineno, err);
            rc = n < 0 ? n : add_row(s, fields, n, starts, llen + 1, name, lineno, &cap, err);
            if (rc != 0 && n >= 0) {
                for (int k = 0; k < n; k++) {
                    free(fields[k]);
                }
            }
            free(fields);
            free(starts);
        }
        lineno += lines; /* the line breaks inside its quoted fields */
    }
    if (rc == 0 && s->n_cols == 0) {
        rc = mp_error_set(err, MP_EPARSE, "%s: empty file (a header row is required)", name);
    }
    if (rc != 0) {
        mp_surface_free(s);
        return rc;
    }
    drop_unmeasured(s);
    if ((rc = check_stray_state(s, err)) != 0 || (rc = check_failures(s, err)) != 0) {
        mp_surface_free(s);
        return rc;
    }
    classify_columns(s);
    *out = s;
    return 0;
}

int mp_surface_load(const char *path, struct mp_surface **out, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    int rc = mp_buf_read_input(&b, path, MAX_BYTES, err);
    if (rc == 0) {
        rc = mp_surface_parse(b.data, b.len, path, out, err);
    }
    mp_buf_release(&b);
    return rc;
}

int mp_surface_column(const struct mp_surface *s, const char *name)
{
    for (size_t c = 0; c < s->n_cols; c++) {
        if (strcmp(s->header[c], name) == 0) {
            return (int)c;
        }
    }
    return -1;
}

int mp_surface_check_numeric(const struct mp_surface *s, size_t c, const char *what,
                             struct mp_error *err)
{
    for (size_t r = 0; r < s->n_rows && !s->numeric[c]; r++) {
        const char *cell = s->cells[r * s->n_cols + c];
        if (cell[0] && isnan(s->numbers[r * s->n_cols + c])) {
            return mp_error_set(err, MP_EINVALID, "%s:%zu: %s '%s': expected a number, got \"%s\"",
                                s->path, s->lines[r], what, s->header[c], cell);
        }
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The value of a cell that a trial export (export --format csv) protected from spreadsheets: text
 * that starts with = + - @, a tab or a carriage return, is longer than that and is no number gets
 * an apostrophe in front there. NULL when the cell is no such text. */
static const char *export_protected(const char *cell)
{
    double num;
    return cell[0] == '\'' && cell[1] && cell[2] && strchr("=+-@\t\r", cell[1]) &&
                   mp_parse_double(cell + 1, &num) != 0
               ? cell + 1
               : NULL;
}

const char *mp_surface_choice(const struct mp_surface *s, size_t r, size_t c)
{
    const char *v = s->cells[r * s->n_cols + c];
    /* An export's '-O2 is the choice -O2 (row_key reads it so). A value of its own that starts
     * with an apostrophe reads the same: no export tells them apart. */
    const char *plain = s->is_export ? export_protected(v) : NULL;
    return plain ? plain : v;
}

void mp_surface_infer_space(const struct mp_surface *s, const int *cols, size_t n_cols,
                            struct mp_space *space)
{
    for (size_t i = 0; i < n_cols; i++) {
        size_t c = (size_t)cols[i];
        struct mp_param p = {0};
        p.name = mp_xstrdup(s->header[c]);
        if (s->numeric[c]) {
            p.type = MP_PARAM_DISCRETE;
            p.values = mp_xreallocarray(NULL, s->n_rows + 1, sizeof(double));
            for (size_t r = 0; r < s->n_rows; r++) {
                double v = s->numbers[r * s->n_cols + c];
                if (!isnan(v)) {
                    p.values[p.n_values++] = v;
                }
            }
            qsort(p.values, p.n_values, sizeof(double), cmp_double);
            size_t u = 0;
            for (size_t k = 0; k < p.n_values; k++) {
                if (u == 0 || p.values[u - 1] != p.values[k]) {
                    p.values[u++] = p.values[k];
                }
            }
            p.n_values = u;
        } else {
            p.type = MP_PARAM_CATEGORICAL;
            p.choices = mp_xcalloc(s->n_rows + 1, sizeof(char *));
            /* A set, not a scan of the choices so far: a column of n distinct texts took n^2/2
             * comparisons (minutes for 10^5 rows). */
            struct mp_strset seen = MP_STRSET_INIT;
            for (size_t r = 0; r < s->n_rows; r++) {
                const char *v = mp_surface_choice(s, r, c);
                if (mp_strset_add(&seen, v)) {
                    p.choices[p.n_choices++] = mp_xstrdup(v);
                }
            }
            mp_strset_release(&seen);
        }
        mp_space_add(space, &p);
    }
}

struct mp_surface_index {
    const struct mp_space *space;
    char **slot_key;
    long *slot_row;
    size_t cap;
};

static size_t index_slot(const struct mp_surface_index *idx, const char *key)
{
    size_t i = (size_t)mp_hash_str(key) & (idx->cap - 1);
    while (idx->slot_key[i] && strcmp(idx->slot_key[i], key) != 0) {
        i = (i + 1) & (idx->cap - 1);
    }
    return i;
}

/* Canonical key of row r for the space's parameters (*key). Returns 1 when a value is a well-formed
 * one off the space (a choice or number the spec does not list, or outside its range: err says
 * which), <0 when a value is malformed. */
static int row_key(const struct mp_surface *s, const struct mp_space *space, const int *cols,
                   size_t r, double *x, char **key, struct mp_error *err)
{
    *key = NULL;
    for (size_t i = 0; i < space->n; i++) {
        const char *cell = s->cells[r * s->n_cols + (size_t)cols[i]];
        const char *value = export_protected(cell);
        /* A choice written with the apostrophe is that choice; else the export's value. */
        if (value && space->params[i].type == MP_PARAM_CATEGORICAL &&
            mp_space_parse(space, i, cell, &x[i], NULL) != 0 &&
            mp_space_parse(space, i, value, &x[i], NULL) == 0) {
            continue;
        }
        int rc = mp_space_parse(space, i, cell, &x[i], err);
        if (rc != 0) {
            double d;
            mp_error_prefix(err, rc, "%s:%zu", s->path, s->lines[r]);
            return space->params[i].type == MP_PARAM_CATEGORICAL || mp_parse_double(cell, &d) == 0
                       ? 1
                       : rc;
        }
    }
    *key = mp_space_key(space, x);
    return 0;
}

int mp_surface_index_new(const struct mp_surface *s, const struct mp_space *space,
                         struct mp_surface_index **out, struct mp_error *err)
{
    int *cols = mp_xcalloc(space->n + 1, sizeof(int));
    for (size_t i = 0; i < space->n; i++) {
        cols[i] = mp_surface_column(s, space->params[i].name);
        if (cols[i] < 0) {
            free(cols);
            return mp_error_set(err, MP_EINVALID, "%s: no column for parameter '%s'", s->path,
                                space->params[i].name);
        }
    }
    struct mp_surface_index *idx = mp_xcalloc(1, sizeof(*idx));
    idx->space = space;
    idx->cap = 16;
    while (idx->cap < s->n_rows * 2 + 2) {
        idx->cap *= 2;
    }
    idx->slot_key = mp_xcalloc(idx->cap, sizeof(char *));
    idx->slot_row = mp_xcalloc(idx->cap, sizeof(long));
    double *x = mp_xcalloc(space->n + 1, sizeof(double));
    int rc = 0;
    size_t indexed = 0;
    struct mp_error off = {0};
    for (size_t r = 0; r < s->n_rows; r++) {
        char *key = NULL;
        struct mp_error why = {0};
        rc = row_key(s, space, cols, r, x, &key, &why);
        if (rc == 1) {
            rc = 0; /* a configuration the spec does not search: a spec may search part */
            off = off.msg[0] ? off : why;
            continue;
        }
        if (rc != 0) {
            mp_error_set(err, rc, "%s", why.msg);
            break;
        }
        indexed++;
        size_t slot = index_slot(idx, key);
        if (idx->slot_key[slot]) {
            rc = mp_error_set(err, MP_EINVALID,
                              "%s:%zu: configuration %s appears twice (line %zu is the other)",
                              s->path, s->lines[r], key, s->lines[idx->slot_row[slot]]);
            free(key);
            break;
        }
        idx->slot_key[slot] = key;
        idx->slot_row[slot] = (long)r;
    }
    free(x);
    free(cols);
    if (rc == 0 && indexed == 0 && s->n_rows > 0) {
        rc = mp_error_set(err, MP_EINVALID,
                          "no row of the surface is a configuration of the parameters (%s)",
                          off.msg);
    }
    if (rc != 0) {
        mp_surface_index_free(idx);
        return rc;
    }
    *out = idx;
    return 0;
}

long mp_surface_index_lookup(const struct mp_surface_index *idx, const double *x)
{
    char *key = mp_space_key(idx->space, x);
    size_t slot = index_slot(idx, key);
    free(key);
    return idx->slot_key[slot] ? idx->slot_row[slot] : -1;
}

void mp_surface_index_free(struct mp_surface_index *idx)
{
    if (!idx) {
        return;
    }
    for (size_t i = 0; i < idx->cap; i++) {
        free(idx->slot_key[i]);
    }
    free(idx->slot_key);
    free(idx->slot_row);
    free(idx);
}

bool mp_surface_role_names(const char *role, const char *name)
{
    size_t len = strcspn(role, "=");
    return strlen(name) == len && strncmp(name, role, len) == 0;
}

bool mp_surface_has_role_column(const struct mp_surface *s, const char *role)
{
    for (size_t c = 0; c < s->n_cols; c++) {
        if (mp_surface_role_names(role, s->header[c])) {
            return true;
        }
    }
    return false;
}

int mp_surface_set_roles(struct mp_space *space, const char *const *roles, size_t n_roles,
                         struct mp_error *err)
{
    for (size_t i = 0; i < n_roles; i++) {
        const char *eq = strchr(roles[i], '=');
        if (!eq || eq == roles[i] || !eq[1]) {
            return mp_error_set(err, MP_EINVALID, "role \"%s\": expected COLUMN=ROLE", roles[i]);
        }
        const char *role = eq + 1;
        size_t k = 0;
        while (mp_param_roles[k] && strcmp(mp_param_roles[k], role) != 0) {
            k++;
        }
        if (!mp_param_roles[k]) {
            return mp_error_set(err, MP_EINVALID,
                                "role \"%s\": unknown role \"%s\" (batch_size, threads, workers, "
                                "instances, batch_timeout, cpu, memory, gpu, gpu_memory_share, "
                                "gpu_type)",
                                roles[i], role);
        }
        /* Two roles for one column: the last won without a word. */
        size_t len = (size_t)(eq - roles[i]);
        for (size_t j = 0; j < i; j++) {
            if (strncmp(roles[j], roles[i], len + 1) == 0 &&
                strcmp(roles[j] + len + 1, role) != 0) {
                return mp_error_set(err, MP_EINVALID,
                                    "role \"%s\": column '%.*s' has role %s already (role \"%s\")",
                                    roles[i], (int)len, roles[i], roles[j] + len + 1, roles[j]);
            }
        }
        for (size_t c = 0; c < space->n; c++) {
            struct mp_param *p = &space->params[c];
            if (mp_surface_role_names(roles[i], p->name) && !mp_param_role_fits(p, role)) {
                return mp_error_set(
                    err, MP_EINVALID, "role \"%s\": '%s' is %s: role %s needs a %s parameter",
                    roles[i], p->name,
                    p->type == MP_PARAM_CATEGORICAL ? "categorical (not every value is a number)"
                                                    : "numeric",
                    role, p->type == MP_PARAM_CATEGORICAL ? "numeric" : "categorical");
            }
            if (mp_surface_role_names(roles[i], p->name)) {
                free(p->role);
                p->role = mp_xstrdup(role);
            }
        }
    }
    return 0;
}
