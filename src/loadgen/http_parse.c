/* SPDX-License-Identifier: Apache-2.0 */
/* Incremental HTTP/1.x response parser: a byte-level state machine for the status line, headers
 * and chunk framing, and bulk skipping for bodies. It never buffers input, so a response may
 * arrive split at any byte and the caller's read buffer can be shared by many connections. A
 * header line that is wholly in the buffer (the usual case) is parsed in one go, with the same
 * result. */
#define _GNU_SOURCE /* memmem */
#include "loadgen/lg_int.h"

#include <string.h>

/* RFC 9110 token characters: the bytes allowed in a header name. */
static const bool TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1,  ['f'] = 1, ['g'] = 1,
    ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1,  ['n'] = 1, ['o'] = 1,
    ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,  ['v'] = 1, ['w'] = 1,
    ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1,  ['D'] = 1, ['E'] = 1,
    ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1,  ['L'] = 1, ['M'] = 1,
    ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1,  ['T'] = 1, ['U'] = 1,
    ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

bool mp_lg_is_tchar(char c)
{
    return TCHAR[(unsigned char)c];
}

/* Records what was wrong (a static string) with an error code it returns. */
static int bad(struct mp_lg_http_parser *p, int code, const char *why)
{
    p->why = why;
    return code;
}

static char lower(char c)
{
    return (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
}

int mp_lg_http_needle_init(struct mp_lg_http_needle *n, const char *text, struct mp_error *err)
{
    size_t len = strlen(text);
    if (len >= MP_LG_HTTP_NEEDLE_MAX) {
        return mp_error_set(err, MP_ETOOBIG, "body check string is %zu bytes (at most %d)", len,
                            MP_LG_HTTP_NEEDLE_MAX - 1);
    }
    memset(n, 0, sizeof(*n));
    memcpy(n->text, text, len);
    n->len = len;
    /* KMP failure function: fail[i] = length of the longest proper border of text[0..i]. */
    size_t k = 0;
    for (size_t i = 1; i < len; i++) {
        while (k > 0 && text[i] != text[k]) {
            k = n->fail[k - 1];
        }
        if (text[i] == text[k]) {
            k++;
        }
        n->fail[i] = (uint16_t)k;
    }
    return 0;
}

static void needle_feed(struct mp_lg_http_parser *p, const char *data, size_t len)
{
    const struct mp_lg_http_needle *n = p->needle;
    if (!n || p->needle_pos >= n->len) {
        return;
    }
    size_t k = p->needle_pos;
    for (size_t i = 0; i < len; i++) {
        while (k > 0 && data[i] != n->text[k]) {
            k = n->fail[k - 1];
        }
        if (data[i] == n->text[k]) {
            k++;
        }
        if (k == n->len) {
            break;
        }
    }
    p->needle_pos = (uint32_t)k;
}

void mp_lg_http_parser_init(struct mp_lg_http_parser *p, const struct mp_lg_http_limits *limits,
                            const struct mp_lg_http_needle *needle)
{
    memset(p, 0, sizeof(*p));
    p->limits.max_header_bytes = MP_LG_HTTP_DEFAULT_HEADER_BYTES;
    p->limits.max_body_bytes = MP_LG_HTTP_DEFAULT_BODY_BYTES;
    if (limits && limits->max_header_bytes) {
        p->limits.max_header_bytes = limits->max_header_bytes;
    }
    if (limits && limits->max_body_bytes) {
        p->limits.max_body_bytes = limits->max_body_bytes;
    }
    p->needle = needle && needle->len ? needle : NULL;
    mp_lg_http_parser_reset(p, false);
}

void mp_lg_http_parser_reset(struct mp_lg_http_parser *p, bool head_request)
{
    struct mp_lg_http_limits limits = p->limits;
    const struct mp_lg_http_needle *needle = p->needle;
    memset(p, 0, sizeof(*p));
    p->limits = limits;
    p->needle = needle;
    p->head_request = head_request;
    p->state = MP_LG_HTTP_STATUS;
}

/* Header kinds: H_NONE before the first header line of a head. */
enum { H_NONE, H_OTHER, H_CONTENT_LENGTH, H_TRANSFER_ENCODING, H_CONNECTION };

/* Starts the next interim/final response head without touching the counters of the body. */
static void restart_head(struct mp_lg_http_parser *p)
{
    p->state = MP_LG_HTTP_STATUS;
    p->step = 0;
    p->status = 0;
    p->has_length = p->chunked = p->has_coding = p->conn_close = p->conn_keep_alive = false;
    p->kind = H_NONE;
    p->folding = false;
    p->content_length = 0;
    p->name_len = p->value_len = 0;
    p->in_value = false;
    p->saw_cr = false;
}

static int status_byte(struct mp_lg_http_parser *p, char c)
{
    static const char prefix[] = "HTTP/1.";
    uint32_t s = p->step;
    if (s < 7) {
        if (c != prefix[s]) {
            return bad(p, MP_EPARSE, "the status line does not start with HTTP/1.x");
        }
    } else if (s == 7) {
        if (c < '0' || c > '9') {
            return bad(p, MP_EPARSE, "the status line does not start with HTTP/1.x");
        }
        p->minor_version = c - '0';
    } else if (s == 8) {
        if (c != ' ') {
            return bad(p, MP_EPARSE, "no space after the HTTP version");
        }
    } else if (s <= 11) {
        if (c < '0' || c > '9') {
            return bad(p, MP_EPARSE, "the status code is not 3 digits");
        }
        p->status = p->status * 10 + (c - '0');
    } else {
        if (s == 12 && c != ' ' && c != '\r' && c != '\n') {
            return bad(p, MP_EPARSE, "the status code is not 3 digits");
        }
        if (c == '\n') {
            if (p->status < 100) {
                return bad(p, MP_EPARSE, "a status code below 100");
            }
            p->state = MP_LG_HTTP_HEADER;
            p->step = 0;
            p->saw_cr = false;
            return 0;
        }
        if (p->saw_cr || (c != '\r' && c != '\t' && (unsigned char)c < 0x20)) {
            return bad(p, MP_EPARSE, "a control character in the status line");
        }
        p->saw_cr = c == '\r';
    }
    p->step = s + 1;
    return 0;
}

/* The kind of the header named p->name[0..name_len), known once its ':' is seen. */
static void set_kind(struct mp_lg_http_parser *p)
{
    p->kind = H_OTHER;
    if (p->name_len == 14 && memcmp(p->name, "content-length", 14) == 0) {
        p->kind = H_CONTENT_LENGTH;
    } else if (p->name_len == 17 && memcmp(p->name, "transfer-encoding", 17) == 0) {
        p->kind = H_TRANSFER_ENCODING;
    } else if (p->name_len == 10 && memcmp(p->name, "connection", 10) == 0) {
        p->kind = H_CONNECTION;
    }
}

static bool is_list_header(const struct mp_lg_http_parser *p)
{
    return p->kind == H_TRANSFER_ENCODING || p->kind == H_CONNECTION;
}

/* Drops trailing spaces from the value; true when it was longer than the buffer. */
static bool trim_value(struct mp_lg_http_parser *p)
{
    while (p->value_len > 0 &&
           (p->value[p->value_len - 1] == ' ' || p->value[p->value_len - 1] == '\t')) {
        p->value_len--;
    }
    bool overflow = p->value_len >= sizeof(p->value);
    p->value[overflow ? sizeof(p->value) - 1 : p->value_len] = '\0';
    return overflow;
}

/* One element of a Connection or Transfer-Encoding list (RFC 9110 §5.6.1), in p->value; the
 * elements are judged one at a time, so a long list is read to its end. Empties the value. */
static void list_element(struct mp_lg_http_parser *p)
{
    bool overflow = trim_value(p);
    char *semi = strchr(p->value, ';'); /* a coding's parameters */
    size_t len = semi ? (size_t)(semi - p->value) : strlen(p->value);
    while (len > 0 && (p->value[len - 1] == ' ' || p->value[len - 1] == '\t')) {
        len--;
    }
    p->value[len] = '\0';
    if (p->kind == H_CONNECTION && !overflow) {
        p->conn_close |= strcmp(p->value, "close") == 0;
        p->conn_keep_alive |= strcmp(p->value, "keep-alive") == 0;
    } else if (p->kind == H_TRANSFER_ENCODING && len > 0 && strcmp(p->value, "identity") != 0) {
        /* Only the last coding frames the body (RFC 9112 §6.3): chunked, or else the body
         * runs until the server closes. */
        p->has_coding = true;
        p->chunked = !overflow && strcmp(p->value, "chunked") == 0;
    }
    p->value_len = 0;
}

/* A Content-Length value: one decimal, or a list of the same one ("42, 42", as a proxy merging
 * two header lines writes it; RFC 9110 §8.6 lets a recipient take it as 42, as it takes two
 * lines of 42). 0, -1 when malformed, 1 when the list's values differ. */
static int parse_length(const char *s, size_t n, uint64_t *out)
{
    size_t i = 0;
    bool first = true;
    for (;;) {
        uint64_t v = 0;
        size_t digits = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            v = v * 10 + (uint64_t)(s[i] - '0');
        }
        if (digits == 0 || digits > 19) {
            return -1;
        }
        if (!first && v != *out) {
            return 1;
        }
        *out = v;
        first = false;
        while (i < n && (s[i] == ' ' || s[i] == '\t')) {
            i++;
        }
        if (i == n) {
            return 0;
        }
        if (s[i++] != ',') {
            return -1;
        }
        while (i < n && (s[i] == ' ' || s[i] == '\t')) {
            i++;
        }
    }
}

static int header_done(struct mp_lg_http_parser *p)
{
    if (is_list_header(p)) {
        list_element(p);
        return 0;
    }
    bool overflow = trim_value(p);
    if (p->kind == H_CONTENT_LENGTH) {
        uint64_t v = 0;
        int rc = overflow ? -1 : parse_length(p->value, p->value_len, &v);
        if (rc < 0) {
            return bad(p, MP_EPARSE, "an invalid Content-Length");
        }
        if (rc > 0 || (p->has_length && v != p->content_length)) {
            return bad(p, MP_EPARSE, "conflicting Content-Length values");
        }
        p->has_length = true;
        p->content_length = v;
    }
    return 0;
}

static int head_done(struct mp_lg_http_parser *p)
{
    if (p->status >= 100 && p->status < 200) {
        if (p->status == 101) {
            /* A protocol switch: not HTTP/1.1 any more. */
            return bad(p, MP_EPARSE, "101 Switching Protocols");
        }
        restart_head(p); /* interim response: the final one follows */
        return 0;
    }
    p->keep_alive = p->minor_version >= 1 ? !p->conn_close : p->conn_keep_alive && !p->conn_close;
    if (p->head_request || p->status == 204 || p->status == 304) {
        p->state = MP_LG_HTTP_DONE;
    } else if (p->chunked) {
        p->state = MP_LG_HTTP_CHUNK_SIZE;
        p->step = 0;
        p->saw_cr = false;
    } else if (p->has_length && !p->has_coding) {
        if (p->content_length > p->limits.max_body_bytes) {
            return bad(p, MP_ETOOBIG, "Content-Length over the body size limit");
        }
        p->remaining = p->content_length;
        p->state = p->remaining ? MP_LG_HTTP_BODY_LENGTH : MP_LG_HTTP_DONE;
    } else {
        p->keep_alive = false;
        p->state = MP_LG_HTTP_BODY_EOF;
    }
    return 0;
}

/* A header line starting with a space or tab continues the previous one (obsolete line
 * folding, RFC 9112 §5.2, which a client unfolds). The values of other headers are not read, so
 * their continuations are skipped; a folded framing header is refused rather than guessed. */
static int fold_start(struct mp_lg_http_parser *p)
{
    if (p->kind == H_NONE) {
        return bad(p, MP_EPARSE, "whitespace before the first header line");
    }
    if (p->kind != H_OTHER) {
        return bad(p, MP_EPARSE, "a folded Content-Length, Transfer-Encoding or Connection header");
    }
    return 0;
}

static int header_byte(struct mp_lg_http_parser *p, char c)
{
    if (p->folding) { /* the rest of a continuation line */
        if (c == '\n') {
            p->folding = p->saw_cr = false;
            p->step = 0;
            return 0;
        }
        if (p->saw_cr) {
            return bad(p, MP_EPARSE, "a bare CR in a header line");
        }
        p->saw_cr = c == '\r';
        if ((unsigned char)c < 0x20 && c != '\t' && c != '\r') {
            return bad(p, MP_EPARSE, "a control character in a header value");
        }
        return 0;
    }
    if (p->step == 0 && (c == ' ' || c == '\t')) {
        int rc = fold_start(p);
        p->folding = rc == 0;
        p->step = 1;
        return rc;
    }
    if (c == '\n') {
        if (p->step == 0 || (p->step == 1 && p->saw_cr)) {
            return head_done(p); /* empty line */
        }
        if (!p->in_value) {
            return bad(p, MP_EPARSE, "a header line without ':'");
        }
        int rc = header_done(p);
        p->step = 0;
        p->name_len = p->value_len = 0;
        p->in_value = false;
        p->saw_cr = false;
        return rc;
    }
    if (p->saw_cr) {
        return bad(p, MP_EPARSE, "a bare CR in a header line");
    }
    p->saw_cr = c == '\r';
    p->step++;
    if (c == '\r') {
        return 0;
    }
    if (!p->in_value) {
        if (c == ':' && p->name_len > 0) {
            p->in_value = true;
            set_kind(p);
            return 0;
        }
        if (!TCHAR[(unsigned char)c]) {
            return bad(p, MP_EPARSE, "an invalid character in a header name");
        }
        if (p->name_len < sizeof(p->name)) {
            p->name[p->name_len] = lower(c);
        }
        if (p->name_len < UINT8_MAX) {
            p->name_len++;
        }
        return 0;
    }
    if ((unsigned char)c < 0x20 && c != '\t') {
        return bad(p, MP_EPARSE, "a control character in a header value");
    }
    if (p->value_len == 0 && (c == ' ' || c == '\t')) {
        return 0;
    }
    if (c == ',' && is_list_header(p)) {
        list_element(p);
        return 0;
    }
    if (p->value_len < sizeof(p->value)) {
        p->value[p->value_len] = lower(c);
        p->value_len++;
    }
    return 0;
}

/* A whole header line line[0..n) (without its '\n') that is already in the buffer: the same
 * result as feeding it to header_byte() byte by byte, without the per-byte bookkeeping. */
static int header_line(struct mp_lg_http_parser *p, const char *line, size_t n)
{
    size_t end = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
    if (end == 0) {
        return head_done(p); /* empty line */
    }
    if (line[0] == ' ' || line[0] == '\t') {
        int rc = fold_start(p);
        for (size_t k = 1; rc == 0 && k < end; k++) {
            if ((unsigned char)line[k] < 0x20 && line[k] != '\t') {
                rc = bad(p, MP_EPARSE,
                         line[k] == '\r' ? "a bare CR in a header line"
                                         : "a control character in a header value");
            }
        }
        return rc;
    }
    size_t i = 0;
    for (; i < end && line[i] != ':'; i++) {
        if (!TCHAR[(unsigned char)line[i]]) {
            /* Includes a bare CR and spaces before ':'. */
            return bad(p, MP_EPARSE, "an invalid character in a header name");
        }
        if (i < sizeof(p->name)) {
            p->name[i] = lower(line[i]);
        }
    }
    if (i == 0 || i == end) {
        return bad(p, MP_EPARSE, "a header line without a name or ':'");
    }
    p->name_len = (uint8_t)(i < UINT8_MAX ? i : UINT8_MAX);
    set_kind(p);
    for (size_t k = i + 1; k < end; k++) {
        if ((unsigned char)line[k] < 0x20 && line[k] != '\t') {
            return bad(p, MP_EPARSE, "a control character in a header value");
        }
    }
    /* Each element of a list header, or the whole value of another one. */
    for (i++;; i++) {
        for (; i < end && (line[i] == ' ' || line[i] == '\t'); i++) {
        }
        size_t stop = i;
        while (stop < end && !(line[stop] == ',' && is_list_header(p))) {
            stop++;
        }
        size_t vlen = stop - i < sizeof(p->value) ? stop - i : sizeof(p->value);
        for (size_t k = 0; k < vlen; k++) {
            p->value[k] = lower(line[i + k]);
        }
        p->value_len = (uint8_t)vlen;
        i = stop;
        if (i >= end) {
            break;
        }
        list_element(p);
    }
    int rc = header_done(p);
    p->name_len = p->value_len = 0;
    return rc;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int chunk_byte(struct mp_lg_http_parser *p, char c)
{
    if (++p->header_bytes > p->limits.max_header_bytes) {
        return bad(p, MP_ETOOBIG, "a chunk-size line or trailers over the header size limit");
    }
    if ((p->state == MP_LG_HTTP_CHUNK_SIZE || p->state == MP_LG_HTTP_CHUNK_EXT) && p->saw_cr &&
        c != '\n') {
        /* "5\r5\n" is not the size 0x55: a CR ends the line. */
        return bad(p, MP_EPARSE, "a bare CR in a chunk-size line");
    }
    switch (p->state) {
    case MP_LG_HTTP_CHUNK_SIZE: {
        int h = hex_value(c);
        if (h >= 0) {
            if (p->remaining > (p->limits.max_body_bytes >> 4)) {
                return bad(p, MP_ETOOBIG, "a chunk size over the body size limit");
            }
            p->remaining = p->remaining * 16 + (uint64_t)h;
            p->step++;
            return 0;
        }
        if (p->step == 0) {
            return bad(p, MP_EPARSE, "an invalid chunk size");
        }
        if (c == ';' || c == ' ' || c == '\t') {
            p->state = MP_LG_HTTP_CHUNK_EXT;
            return 0;
        }
        if (c == '\r') {
            p->saw_cr = true;
            return 0;
        }
        if (c != '\n') {
            return bad(p, MP_EPARSE, "an invalid chunk size");
        }
        break;
    }
    case MP_LG_HTTP_CHUNK_EXT:
        if (c != '\n') {
            p->saw_cr = c == '\r';
            return 0;
        }
        if (p->step == 0) {
            return bad(p, MP_EPARSE, "an invalid chunk size");
        }
        break;
    case MP_LG_HTTP_CHUNK_DATA_END:
        if (c == '\r' && p->step == 0) {
            p->step = 1;
            return 0;
        }
        if (c != '\n') {
            return bad(p, MP_EPARSE, "chunk data not followed by CRLF");
        }
        p->state = MP_LG_HTTP_CHUNK_SIZE;
        p->step = 0;
        p->remaining = 0;
        return 0;
    default: /* MP_LG_HTTP_TRAILER: skip lines until an empty one */
        if (c == '\n') {
            p->state = p->step == 0 ? MP_LG_HTTP_DONE : MP_LG_HTTP_TRAILER;
            p->step = 0;
        } else if (c != '\r') {
            p->step++;
        }
        return 0;
    }
    /* End of a chunk-size line. */
    if (p->body_len + p->remaining > p->limits.max_body_bytes) {
        return bad(p, MP_ETOOBIG, "a chunked body over the body size limit");
    }
    p->step = 0;
    p->saw_cr = false;
    p->header_bytes = 0; /* the framing limit applies per chunk line and to the trailers */
    p->state = p->remaining ? MP_LG_HTTP_CHUNK_DATA : MP_LG_HTTP_TRAILER;
    return 0;
}

static size_t body_bytes(struct mp_lg_http_parser *p, const char *data, size_t len)
{
    size_t n = len;
    if (p->state != MP_LG_HTTP_BODY_EOF && p->remaining < n) {
        n = (size_t)p->remaining;
    }
    needle_feed(p, data, n);
    p->body_len += n;
    if (p->state == MP_LG_HTTP_BODY_EOF) {
        return n;
    }
    p->remaining -= n;
    if (p->remaining == 0) {
        if (p->state == MP_LG_HTTP_CHUNK_DATA) {
            p->state = MP_LG_HTTP_CHUNK_DATA_END;
            p->step = 0;
        } else {
            p->state = MP_LG_HTTP_DONE;
        }
    }
    return n;
}

static void finish(struct mp_lg_http_parser *p)
{
    p->body_matched = p->needle ? p->needle_pos >= p->needle->len : true;
}

/* Length of the line (with its '\n') at the start of data when all of it is there and within the
 * header limit, else 0 (the byte-by-byte path then handles it, and the limit error). */
static size_t whole_line(const struct mp_lg_http_parser *p, const char *data, size_t len)
{
    size_t max = p->limits.max_header_bytes;
    size_t room = p->header_bytes < max ? max - p->header_bytes : 0;
    const char *nl = memchr(data, '\n', len < room ? len : room);
    return nl ? (size_t)(nl - data) + 1 : 0;
}

int mp_lg_http_parse(struct mp_lg_http_parser *p, const char *data, size_t len, size_t *consumed)
{
    size_t i = 0;
    int rc = 0;
    while (i < len && p->state != MP_LG_HTTP_DONE) {
        switch (p->state) {
        case MP_LG_HTTP_STATUS:
        case MP_LG_HTTP_HEADER:
            if (p->state == MP_LG_HTTP_HEADER && p->step == 0) {
                size_t line = whole_line(p, data + i, len - i);
                if (line) {
                    p->header_bytes += (uint32_t)line;
                    rc = header_line(p, data + i, line - 1);
                    i += line;
                    break;
                }
            }
            if (++p->header_bytes > p->limits.max_header_bytes) {
                rc = bad(p, MP_ETOOBIG, "a response head over the header size limit");
                break;
            }
            rc = p->state == MP_LG_HTTP_STATUS ? status_byte(p, data[i]) : header_byte(p, data[i]);
            i++;
            break;
        case MP_LG_HTTP_BODY_LENGTH:
        case MP_LG_HTTP_CHUNK_DATA:
            i += body_bytes(p, data + i, len - i);
            break;
        case MP_LG_HTTP_BODY_EOF:
            i += body_bytes(p, data + i, len - i);
            if (p->body_len > p->limits.max_body_bytes) {
                rc = bad(p, MP_ETOOBIG, "a body over the body size limit");
            }
            break;
        default:
            rc = chunk_byte(p, data[i]);
            i++;
            break;
        }
        if (rc < 0) {
            break;
        }
    }
    *consumed = i;
    if (rc < 0) {
        return rc;
    }
    if (p->state == MP_LG_HTTP_DONE) {
        finish(p);
        return MP_LG_HTTP_COMPLETE;
    }
    return MP_LG_HTTP_MORE;
}

int mp_lg_http_parse_eof(struct mp_lg_http_parser *p)
{
    if (p->state == MP_LG_HTTP_BODY_EOF) {
        p->state = MP_LG_HTTP_DONE;
        finish(p);
        return MP_LG_HTTP_COMPLETE;
    }
    return p->state == MP_LG_HTTP_DONE
               ? MP_LG_HTTP_COMPLETE
               : bad(p, MP_EPARSE, "the response ends before it is complete");
}
