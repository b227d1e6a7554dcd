/* SPDX-License-Identifier: Apache-2.0 */
/* Settings tables: a back end's settings block (`algorithm.settings`, `runner:`,
 * `runner.load`...) described once as a table of keys, each with its type, the field of the
 * back end's settings struct it fills (offsetof) and its bounds, in the manner of Redis's
 * config table. mp_settings_parse checks the block's keys (suggesting the closest for an unknown
 * one), reads every key present into its field, and reports a bad value as
 *   FILE:LINE:COL: 'runner.cpus': expected a positive number of cores
 * A key absent from the block, or null there (`warmup:`, `warmup: ~`), leaves its field unchanged,
 * so the caller sets defaults first.
 * Cross-field rules (mode capacity needs an slo...) stay with the caller, after the parse.
 *
 *   struct cfg { int64_t connections; double rate; int mode; bool prune; };
 *   static const char *const modes[] = {"measure", "capacity", NULL};
 *   #define F(f) offsetof(struct cfg, f)
 *   static const struct mp_setting table[] = {
 *       {MP_SETTING_KEY("connections", MP_SETTING_INT, F(connections)), .min = 1, .max = 1e4},
 *       {MP_SETTING_KEY("rate", MP_SETTING_NUMBER, F(rate)), .min = 0, .max = 1e9},
 *       {MP_SETTING_KEY("mode", MP_SETTING_CHOICE, F(mode)), .choices = modes},
 *       {MP_SETTING_KEY("prune", MP_SETTING_BOOL, F(prune))},
 *       {.name = NULL},
 *   };
 *
 * Ownership: tables are static and borrowed. STRING fields borrow the document's text (valid as
 * long as the document); STRDUP fields own a copy (the previous value is freed, so initialise
 * them to NULL or an owned default) which the caller frees, also after a failed parse.
 * Thread-safety: pure functions of their arguments. */
#ifndef MP_SETTINGS_H
#define MP_SETTINGS_H

#include <stddef.h>

#include "core/core.h"
#include "doc/doc.h"

enum mp_setting_type {
    MP_SETTING_BOOL,     /* bool */
    MP_SETTING_INT,      /* int64_t in [min, max], then multiplied by scale (MiB -> bytes) */
    MP_SETTING_NUMBER,   /* double in [min, max] (ends open by flags) */
    MP_SETTING_STRING,   /* const char *, borrowed from the document; valid() when set */
    MP_SETTING_STRDUP,   /* char *, an owned copy; valid() when set */
    MP_SETTING_CHOICE,   /* int: the index of the value in choices */
    MP_SETTING_DURATION, /* int64_t nanoseconds from "250ms", "5s"...; at least min */
    MP_SETTING_CUSTOM,   /* parse(node, the whole struct, err) */
    MP_SETTING_IGNORED,  /* a known key that someone else reads */
};

enum {
    MP_SETTING_MIN_OPEN = 1u << 0, /* NUMBER: min itself is out of range */
    MP_SETTING_MAX_OPEN = 1u << 1, /* NUMBER: max itself is out of range */
};

/* Reads node into the struct at base (CUSTOM). Returns 0 or an error naming the node. */
typedef int mp_setting_parse_fn(const struct mp_node *node, void *base, struct mp_error *err);
/* Whether a string value is acceptable (STRING, STRDUP). */
typedef bool mp_setting_valid_fn(const char *value);

/* One key. A table ends with an entry whose name is NULL. */
struct mp_setting {
    const char *name;
    enum mp_setting_type type;
    size_t offset;              /* of the field in the caller's struct */
    double min, max;            /* INT, NUMBER: bounds; DURATION: min (ns; 0 allows "0s") */
    unsigned flags;             /* MP_SETTING_MIN_OPEN, MP_SETTING_MAX_OPEN */
    int64_t scale;              /* INT: multiplier (0 or 1: none) */
    const char *const *choices; /* CHOICE: NULL-terminated names */
    mp_setting_valid_fn *valid; /* STRING, STRDUP: NULL accepts any string */
    /* The message after "expected " for a value out of range (NUMBER) or not valid (STRING,
     * STRDUP); NULL: "a number in [min, max]" or "a valid value". DURATION: why min, said after
     * "expected a duration of at least MIN". */
    const char *expect;
    mp_setting_parse_fn *parse; /* CUSTOM */
};

/* The first fields of an entry: key, type and the field's offset (0 for CUSTOM and IGNORED). */
#define MP_SETTING_KEY(name_, type_, offset_) .name = (name_), .type = (type_), .offset = (offset_)

/* Parses the settings block `block` (a map; NULL or null: nothing to read) into the struct at
 * base, as table says. An unknown key or a bad value is MP_EINVALID with its position. */
int mp_settings_parse(const struct mp_node *block, const struct mp_setting *table, void *base,
                      struct mp_error *err) MP_WUR;

#endif
