/* SPDX-License-Identifier: Apache-2.0 */
/* Core services every subsystem uses: error codes and context, allocation that aborts on
 * out-of-memory, a growable string buffer, a seeded random generator, canonical number
 * formatting and strict parsing, clocks and a string set.
 *
 * Ownership: functions named *_new / mp_x* / *_detach return owned memory the caller frees;
 * everything else borrows its pointer arguments for the duration of the call.
 * Thread-safety: all functions are reentrant; objects are not shared between threads unless a
 * header says so. */
#ifndef MP_CORE_H
#define MP_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MP_WUR          __attribute__((warn_unused_result))
#define MP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Project error codes. System errors are returned as -errno; these live below -1000. */
#define MP_ERRNO_MAP(X)                                                                            \
    X(INVALID, "invalid input")                                                                    \
    X(NOTFOUND, "not found")                                                                       \
    X(EXISTS, "already exists")                                                                    \
    X(EXHAUSTED, "search space exhausted")                                                         \
    X(STATE, "invalid state transition")                                                           \
    X(STORE, "store error")                                                                        \
    X(PARSE, "parse error")                                                                        \
    X(TOOBIG, "input too large")                                                                   \
    X(CANCELLED, "cancelled")                                                                      \
    X(UNSUPPORTED, "not supported")                                                                \
    X(BUSY, "in use by another process")                                                           \
    X(RUNTIME, "runtime failure")                                                                  \
    X(CONFLICT, "conflict: the object has been modified")                                          \
    X(EXPIRED, "expired: the resource version is too old")                                         \
    X(UNAUTHORIZED, "unauthorized")                                                                \
    X(FORBIDDEN, "forbidden")                                                                      \
    X(REJECTED, "rejected as invalid by the server")                                               \
    X(BADREQUEST, "bad request")                                                                   \
    X(THROTTLED, "too many requests")                                                              \
    X(SERVERTIMEOUT, "server timeout")                                                             \
    X(UNAVAILABLE, "server unavailable")                                                           \
    X(SERVERERROR, "internal server error")                                                        \
    X(TRANSPORT, "cannot reach the server")                                                        \
    X(DEADLINE, "deadline exceeded")

enum mp_errcode {
    MP_OK = 0,
    MP_ERR_BASE = -1000,
#define MP_ERR_ENUM(name, text) MP_E##name,
    MP_ERRNO_MAP(MP_ERR_ENUM)
#undef MP_ERR_ENUM
};

#define MP_ERROR_MSG_MAX 1024

/* Human context for a failure. Callers may pass NULL to functions taking one. */
struct mp_error {
    int code;
    char msg[MP_ERROR_MSG_MAX];
};

/* Records code and message in err (if non-NULL) and returns code, so that
 * `return mp_error_set(err, MP_EINVALID, "...")` is one line. */
int mp_error_set(struct mp_error *err, int code, const char *fmt, ...) MP_PRINTF(3, 4);
int mp_error_setv(struct mp_error *err, int code, const char *fmt, va_list ap);
/* Prefixes err->msg (when err is non-NULL) with "prefix: ", keeping err->code, and returns
 * code: the failure's own code, which a NULL err cannot carry, so that
 * `return mp_error_prefix(err, rc, "...")` is one line. */
int mp_error_prefix(struct mp_error *err, int code, const char *fmt, ...) MP_PRINTF(3, 4);
void mp_error_clear(struct mp_error *err);
/* Static description of a code (project code or -errno). */
const char *mp_strerror(int code);
/* Static symbolic name of a code, e.g. "EINVALID" or "ENOENT". */
const char *mp_err_name(int code);

/* Allocation: abort with a message on out-of-memory; never return NULL. */
void *mp_xmalloc(size_t n);
void *mp_xcalloc(size_t count, size_t size);
void *mp_xrealloc(void *p, size_t n);
/* Reallocates p to count*size bytes, aborting on overflow. */
void *mp_xreallocarray(void *p, size_t count, size_t size);
char *mp_xstrdup(const char *s);
char *mp_xstrndup(const char *s, size_t n);
char *mp_xasprintf(const char *fmt, ...) MP_PRINTF(1, 2);
/* Checked size arithmetic: false on overflow. */
bool mp_size_mul(size_t a, size_t b, size_t *out);
bool mp_size_add(size_t a, size_t b, size_t *out);

/* Growable NUL-terminated byte buffer. MP_BUF_INIT gives an empty one; data is never NULL
 * after the first append. */
struct mp_buf {
    char *data;
    size_t len;
    size_t cap;
};
#define MP_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
void mp_buf_add(struct mp_buf *b, const void *data, size_t n);
void mp_buf_adds(struct mp_buf *b, const char *s);
void mp_buf_addc(struct mp_buf *b, char c);
void mp_buf_addf(struct mp_buf *b, const char *fmt, ...) MP_PRINTF(2, 3);
void mp_buf_addvf(struct mp_buf *b, const char *fmt, va_list ap);
void mp_buf_reset(struct mp_buf *b);
/* Returns the (never NULL) string; the buffer is empty afterwards. Caller frees. */
char *mp_buf_detach(struct mp_buf *b);
void mp_buf_release(struct mp_buf *b);
/* Reads a whole file, refusing files over max_bytes. */
int mp_buf_read_file(struct mp_buf *b, const char *path, size_t max_bytes,
                     struct mp_error *err) MP_WUR;
/* The same for a file the user named (a spec, a surface, a model, a request body): a missing
 * file or anything but a regular file (a directory, a FIFO that would block, a device) is
 * invalid input, MP_EINVALID (exit status 2); the open never blocks. */
int mp_buf_read_input(struct mp_buf *b, const char *path, size_t max_bytes,
                      struct mp_error *err) MP_WUR;
/* The same for standard input (a pipe, a file or a terminal), named <stdin> in errors. */
int mp_buf_read_stdin(struct mp_buf *b, size_t max_bytes, struct mp_error *err) MP_WUR;

/* xoshiro256** seeded through splitmix64: fast, reproducible across platforms. */
struct mp_rng {
    uint64_t s[4];
};
void mp_rng_init(struct mp_rng *r, uint64_t seed);
uint64_t mp_rng_next(struct mp_rng *r);
/* Uniform double in [0, 1). */
double mp_rng_uniform(struct mp_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t mp_rng_below(struct mp_rng *r, uint64_t n);
/* Standard normal deviate (Box-Muller). */
double mp_rng_normal(struct mp_rng *r);
/* Mixes several words into one seed (used to derive per-trial streams). */
uint64_t mp_mix64(uint64_t a, uint64_t b);

/* Shortest decimal text that reads back (strtod) to exactly v; "nan"/"inf"/"-inf" for
 * non-finite values. buf must hold MP_FMT_DOUBLE_MAX bytes. Returns buf. */
#define MP_FMT_DOUBLE_MAX 32
char *mp_fmt_double(char *buf, double v);
/* Strict parsing of a whole string (leading/trailing spaces refused). Numbers are decimal only
 * (docs/spec.md): mp_parse_double refuses hexadecimal, inf, nan and out-of-range values, and
 * mp_parse_duration_ns reads its number the same way. */
int mp_parse_double(const char *s, double *out) MP_WUR;
int mp_parse_int64(const char *s, int64_t *out) MP_WUR;
/* Length of the longest prefix of s[0..len) that is valid UTF-8 (RFC 3629: no overlong forms,
 * surrogates or code points past U+10FFFF); len when all of it is. */
size_t mp_utf8_valid_len(const char *s, size_t len);
/* The terminal columns the character that starts at s takes (s at a UTF-8 lead byte; an
 * invalid sequence counts as one): 2 for East Asian wide and fullwidth characters and emoji, 0
 * for combining marks, else 1. As wcwidth() in a UTF-8 locale, without one. */
int mp_utf8_columns_at(const char *s);
/* Writes text to f (NULL: only measures it) as a terminal may show it: a control character
 * ('\n' and '\t' kept when lines), a C1 control, or a bidirectional or zero-width formatting
 * character (an escape sequence in a service's log rewrites the screen; a bidi character makes
 * one value display as another) is written as \xHH or \uHHHH. Returns the terminal columns it
 * takes (mp_utf8_columns_at: "é" one, a Chinese character two). Stored text stays as written;
 * only its display is escaped. */
size_t mp_terminal_text(FILE *f, const char *text, bool lines);
/* vsnprintf into buf[size], where a text cut at the end never ends inside a UTF-8 character
 * (the partial one is dropped): JSON encoders refuse the whole text otherwise. */
void mp_vformat_text(char *buf, size_t size, const char *fmt, va_list ap);
/* Makes s[0..len) valid UTF-8 in place, for JSON and the store: each invalid byte and each NUL
 * becomes '?'. */
void mp_utf8_scrub(char *s, size_t len);
/* "250ms", "2s", "1.5m", "100us" -> nanoseconds; a bare number is seconds. */
int mp_parse_duration_ns(const char *s, int64_t *out) MP_WUR;
/* A duration written as a bare number of seconds at or above from_s, which reads like
 * milliseconds ("200"): what to say of it (owned), else NULL. Specs and options both warn. */
char *mp_bare_seconds_note(const char *text, double from_s);

/* Clocks. Wall time for records, monotonic for deadlines. */
int64_t mp_wall_ns(void);
int64_t mp_mono_ns(void);
/* Formats wall time as ISO-8601 UTC "2026-11-28T14:42:33Z". buf holds 32 bytes. */
char *mp_fmt_time(char *buf, int64_t wall_ns);

/* FNV-1a 64-bit. */
uint64_t mp_hash_bytes(const void *data, size_t n);
uint64_t mp_hash_str(const char *s);

/* Set of strings (open addressing). Keys are copied. */
struct mp_strset {
    char **slots;
    size_t cap;
    size_t count;
};
#define MP_STRSET_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }
/* Returns true if s was added, false if it was already present. */
bool mp_strset_add(struct mp_strset *set, const char *s);
bool mp_strset_has(const struct mp_strset *set, const char *s);
void mp_strset_release(struct mp_strset *set);

/* The regular files of folder dir whose names end in suffix (NULL: any), skipping names that
 * start with '.', in name order: *out an owned array of owned paths "dir/name", *n their count.
 * More than max files is MP_ETOOBIG. */
int mp_dir_files(const char *dir, const char *suffix, size_t max, char ***out, size_t *n,
                 struct mp_error *err) MP_WUR;

/* Edit distance: insertions, deletions, substitutions and swaps of two neighbours (optimal
 * string alignment), each 1; 255 for strings over 64 bytes. */
unsigned mp_edit_distance(const char *a, const char *b);
/* The candidate closest to a mistyped `typed` when it is close enough to be a likely slip or
 * abbreviation, else NULL ("paramters" -> "parameters", "valdate" -> "validate"). candidates is
 * NULL-terminated; the result is borrowed from it. */
const char *mp_suggest(const char *typed, const char *const *candidates);

/* CPU lists as Linux writes them ("0-3,6": CPUs and ranges LO-HI, LO <= HI, each below
 * MP_CPU_LIST_MAX), as runner.cpuset takes them. mp_cpu_list_count: the CPUs of list, 0 when it
 * is no such list ("1-0", "0,", "-"); mp_cpu_list_has: whether cpu is one of them. */
#define MP_CPU_LIST_MAX 1024
int mp_cpu_list_count(const char *list);
bool mp_cpu_list_has(const char *list, int cpu);

/* A shared library loaded on first use rather than linked: mapping one costs resident memory in
 * every command, the load generator's included (libcurl's TLS and Kerberos stack about 3 MiB,
 * OpenBLAS about 3.5 MiB). Opens `library` (a soname such as "libcurl.so.4") and stores each
 * symbol's address in its slot. MP_ERUNTIME naming the library, the missing symbol and the
 * Debian package list when either fails. */
struct mp_dl_symbol {
    const char *name;
    void **slot; /* a function pointer's storage, as POSIX allows for dlsym */
};
int mp_dl_load(const char *library, const struct mp_dl_symbol *symbols, size_t n,
               struct mp_error *err) MP_WUR;

/* Last: poisons the banned functions for every file that includes this header. */
#include "core/banned.h"

#endif
