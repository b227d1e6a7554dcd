/* SPDX-License-Identifier: Apache-2.0 */
/* Recorded performance surfaces: a CSV file with a header row, one row per configuration,
 * parameter columns and metric columns. Used by the replay runner, `morphling replay`,
 * `morphling bench-search` and `morphling meta train`.
 *
 * A trial export (`morphling export --format csv`: number,state,failure, the parameters, then
 * the metrics) is a surface too: its rows whose state is neither SUCCEEDED nor FAILED measured
 * nothing and are dropped when it is read, a FAILED row must name its failure class and a
 * SUCCEEDED one none, and mp_surface_columns finds its parameters.
 *
 * CSV dialect: UTF-8 (a leading byte-order mark is skipped), comma separated, optional
 * double-quoted fields ("" escapes a quote), LF or CRLF line ends; a quoted field may hold LF
 * line breaks (as a trial export writes them), never a CR.
 * Numbers are decimal (mp_parse_double). An optional `failure` column holds, per row, nothing
 * (the row succeeded) or a failure class name (mp_failure_parse, NONE excepted). Limits: 64 MiB,
 * 256 columns, 10^6 rows.
 *
 * Ownership: a surface owns all its strings; lookups return borrowed pointers.
 * Thread-safety: immutable after loading; safe to read from several threads. */
#ifndef MP_SURFACE_H
#define MP_SURFACE_H

#include "core/core.h"
#include "space/space.h"

struct mp_surface {
    char *path;
    size_t n_cols, n_rows;
    char **header;   /* n_cols names */
    char **cells;    /* n_rows * n_cols texts, row-major */
    double *numbers; /* same shape; NAN where the cell is not a number or empty */
    bool *numeric;   /* per column: every non-empty cell parses as a number */
    size_t *lines;   /* n_rows: the file line of each row (blank lines and dropped rows skipped) */
    size_t *header_col; /* n_cols: the 1-based byte column where each header cell starts */
    bool is_export;     /* the header starts number,state,failure (a trial export) */
};

int mp_surface_load(const char *path, struct mp_surface **out, struct mp_error *err) MP_WUR;
int mp_surface_parse(const char *text, size_t len, const char *name, struct mp_surface **out,
                     struct mp_error *err) MP_WUR;
void mp_surface_free(struct mp_surface *s);
/* Column index by name, or -1. */
int mp_surface_column(const struct mp_surface *s, const char *name);

/* Checks that every non-empty cell of column c is a number; the error names the first that is
 * not: "FILE:LINE: WHAT 'COLUMN': expected a number, got ..." (what: "objective column"). */
int mp_surface_check_numeric(const struct mp_surface *s, size_t c, const char *what,
                             struct mp_error *err) MP_WUR;

/* The columns a search on the surface uses. */
struct mp_surface_columns {
    int *params; /* owned: n_params column indexes, in column order for the default */
    size_t n_params;
    int objective;
    int failure; /* the `failure` column, or -1 */
};
/* Picks the parameter columns (the named ones, or, with params NULL, those the header shows)
 * and the objective column (the named one, or with objective NULL: throughput_per_cost, else
 * throughput_rps, else the last column but `failure`). From the header: when a column names a
 * metric morphling produces (mp_metric_unit), the parameters are the columns before the first
 * such column, number, state and failure excepted; otherwise every column but the objective and
 * `failure`. A trial export without such a metric, a parameter column with an empty cell, an
 * unknown or duplicate column are errors naming the surface and what to pass instead. The
 * objective must be numeric and have a value on some row that did not fail. */
int mp_surface_columns(const struct mp_surface *s, const char *const *params, size_t n_params,
                       const char *objective, struct mp_surface_columns *out,
                       struct mp_error *err) MP_WUR;
void mp_surface_columns_release(struct mp_surface_columns *c);

/* The text of cell (r, c) as a choice of a categorical parameter: a trial export's value that it
 * wrote with a protecting apostrophe ('-O2 for -O2) without it, else the cell as it is. Borrowed
 * from the surface. */
const char *mp_surface_choice(const struct mp_surface *s, size_t r, size_t c);

/* Infers a space from the given parameter columns: numeric columns become DISCRETE parameters
 * (sorted unique values), others CATEGORICAL (choices in order of first appearance). */
void mp_surface_infer_space(const struct mp_surface *s, const int *cols, size_t n_cols,
                            struct mp_space *space);

/* Gives parameters of an inferred space their roles (docs/spec.md, `role`): each entry is
 * "COLUMN=ROLE" with ROLE one of mp_param_roles. Entries naming a column the space lacks are
 * ignored (one list serves surfaces with different columns); a malformed entry or an unknown
 * role is MP_EINVALID. */
int mp_surface_set_roles(struct mp_space *space, const char *const *roles, size_t n_roles,
                         struct mp_error *err) MP_WUR;
/* Whether the --role entry role ("COLUMN=ROLE", or a bare "COLUMN") is for column (or
 * parameter) `name`. */
bool mp_surface_role_names(const char *role, const char *name);
/* Whether surface s has the column that the --role entry role is for. */
bool mp_surface_has_role_column(const struct mp_surface *s, const char *role);

/* Index from configurations of `space` (whose parameter names are columns of the surface) to
 * rows, for O(1) lookups. */
struct mp_surface_index;
int mp_surface_index_new(const struct mp_surface *s, const struct mp_space *space,
                         struct mp_surface_index **out, struct mp_error *err) MP_WUR;
/* Row of configuration x, or -1 when the surface has no such row. */
long mp_surface_index_lookup(const struct mp_surface_index *idx, const double *x);
void mp_surface_index_free(struct mp_surface_index *idx);

#endif
