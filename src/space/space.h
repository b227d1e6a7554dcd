/* SPDX-License-Identifier: Apache-2.0 */
/* The search space: typed parameters, configurations as value vectors, encoding to [0,1]^d and
 * back, enumeration of finite spaces by index, uniform sampling, and canonical text.
 *
 * A configuration is an array of `space->n` doubles in parameter order holding natural values:
 * the number itself for INT, FLOAT and DISCRETE parameters, and the 0-based choice index for
 * CATEGORICAL ones.
 *
 * Ownership: a space owns its parameters and their strings; functions borrow their arguments.
 * Thread-safety: a space is immutable after construction and may be read from several threads. */
#ifndef MP_SPACE_H
#define MP_SPACE_H

#include "core/core.h"

enum mp_param_type {
    MP_PARAM_INT,         /* min..max by step (step >= 1, integral) */
    MP_PARAM_FLOAT,       /* min..max, continuous when step == 0, else by step */
    MP_PARAM_DISCRETE,    /* explicit list of numbers, kept sorted ascending and unique */
    MP_PARAM_CATEGORICAL, /* explicit list of strings, in the order given */
};

enum mp_target_kind {
    MP_TARGET_NONE,     /* used only through {name} placeholders */
    MP_TARGET_RESOURCE, /* a resource limit of the trial */
    MP_TARGET_ENV,      /* environment variable target_name=value */
    MP_TARGET_ARG,      /* appends target_name and the value as two argv elements */
};

enum mp_resource {
    MP_RESOURCE_CPU,              /* cores, fractional allowed */
    MP_RESOURCE_MEMORY,           /* MiB */
    MP_RESOURCE_GPU,              /* GPU count */
    MP_RESOURCE_GPU_MEMORY_SHARE, /* fraction of one GPU's memory, (0, 1] */
    MP_RESOURCE_GPU_TYPE,         /* categorical GPU model name */
};

struct mp_param {
    char *name;
    enum mp_param_type type;
    double min, max, step; /* INT, FLOAT */
    bool log_scale;        /* encode in log space (INT, FLOAT, DISCRETE; values > 0) */
    double *values;        /* DISCRETE */
    size_t n_values;
    char **choices; /* CATEGORICAL */
    size_t n_choices;
    size_t *choice_order; /* CATEGORICAL: choice indices by name (mp_space_add builds it, for
                             mp_space_parse's bisection; NULL: it scans) */
    enum mp_target_kind target;
    enum mp_resource resource; /* when target == MP_TARGET_RESOURCE */
    char *target_name;         /* env variable or argv flag; NULL otherwise */
    char *role; /* what the parameter means to the service (MP_PARAM_ROLES), or NULL; lets
                   derived metrics and meta-learned models align parameters across services */
};

struct mp_space {
    struct mp_param *params;
    size_t n;
};

/* Known roles, NULL-terminated: "batch_size", "threads", "workers", "instances",
 * "batch_timeout", "cpu", "memory", "gpu", "gpu_memory_share", "gpu_type". */
extern const char *const mp_param_roles[];
/* Whether a parameter of this type may take this role: gpu_type names GPU models (a categorical
 * parameter); every other role is a quantity (a numeric one: of a categorical parameter, a
 * choice's position stood for it). */
bool mp_param_role_fits(const struct mp_param *p, const char *role);
/* Index of the first parameter with this role, or -1. */
int mp_space_find_role(const struct mp_space *s, const char *role);

/* Appends a parameter (its contents are moved into the space; p is zeroed). Its values and
 * choices must not change afterwards (lookups index them here). */
void mp_space_add(struct mp_space *s, struct mp_param *p);
void mp_space_release(struct mp_space *s);
void mp_param_release(struct mp_param *p);
/* Deep copy. */
void mp_space_copy(struct mp_space *dst, const struct mp_space *src);
/* Index of the parameter called name, or -1. */
int mp_space_find(const struct mp_space *s, const char *name);

/* Number of levels of parameter i; 0 for a continuous FLOAT. */
uint64_t mp_space_levels(const struct mp_space *s, size_t i);
/* Value of level k (k < levels) of parameter i. */
double mp_space_level_value(const struct mp_space *s, size_t i, uint64_t k);
/* Nearest level to value v; returns false when v is not (within 1e-9 relative) on a level. */
bool mp_space_value_level(const struct mp_space *s, size_t i, double v, uint64_t *k);

/* True when every parameter has finitely many levels. */
bool mp_space_is_finite(const struct mp_space *s);
/* Number of configurations as a double (inf for continuous spaces; exact below 2^53). */
double mp_space_size(const struct mp_space *s);
/* The count when finite and below 2^64; false otherwise. */
bool mp_space_count(const struct mp_space *s, uint64_t *count);
/* Mixed-radix enumeration, first parameter slowest. idx < count. */
void mp_space_from_index(const struct mp_space *s, uint64_t idx, double *x);
/* Inverse of mp_space_from_index; false if x is not on the grid or the space is too large. */
bool mp_space_to_index(const struct mp_space *s, const double *x, uint64_t *idx);

/* Maps x to u in [0,1]^n: linear (or log) in value for numeric parameters, index/(n-1) for
 * categorical ones. A parameter with a single level maps to 0.5. */
void mp_space_encode(const struct mp_space *s, const double *x, double *u);
/* Inverse of encode; snaps to the nearest level of stepped and listed parameters. */
void mp_space_decode(const struct mp_space *s, const double *u, double *x);
/* Uniform over levels per parameter (uniform in encoded space for continuous ones). */
void mp_space_sample(const struct mp_space *s, struct mp_rng *rng, double *x);
/* 0 when x is a valid configuration, else MP_EINVALID with the offending parameter named. */
int mp_space_check(const struct mp_space *s, const double *x, struct mp_error *err) MP_WUR;

/* Canonical text of parameter i's value: integers without a decimal point, floats in the
 * shortest round-trip form, categorical values as their string. buf: MP_FMT_DOUBLE_MAX bytes
 * suffice for numbers; a categorical string is returned directly (not copied). */
const char *mp_space_format(const struct mp_space *s, size_t i, double v, char *buf);
/* Parses text for parameter i (a number, or a choice name for categorical); the value must lie
 * in the parameter's domain. */
int mp_space_parse(const struct mp_space *s, size_t i, const char *text, double *v,
                   struct mp_error *err) MP_WUR;
/* "name=value,name=value" in parameter order; unique per configuration (a categorical value
 * holding ',', '=', '"' or a backslash is written in double quotes, '"' and backslash escaped by
 * a backslash). Returns owned. */
char *mp_space_key(const struct mp_space *s, const double *x);

/* JSON object {"name": value, ...} with numbers in canonical text and categorical values as
 * strings. Returns owned. */
char *mp_space_config_json(const struct mp_space *s, const double *x);
/* Parses such an object back (every parameter required, values in the domain). */
int mp_space_config_from_json(const struct mp_space *s, const char *json, double *x,
                              struct mp_error *err) MP_WUR;

const char *mp_param_type_name(enum mp_param_type t);
const char *mp_resource_name(enum mp_resource r);

#endif
