/* SPDX-License-Identifier: Apache-2.0 */
/* The API server's answers that are not objects: Status bodies mapped to error codes and
 * messages, and the watch stream (one JSON event per line) decoded into events. */
#include "kube/kube_int.h"

#include <string.h>

int mp_kube_reason_code(const char *reason, long http_status)
{
    static const struct {
        const char *reason;
        int code;
    } reasons[] = {
        {"NotFound", MP_ENOTFOUND},
        {"AlreadyExists", MP_EEXISTS},
        {"Conflict", MP_ECONFLICT},
        {"Gone", MP_EEXPIRED},
        {"Expired", MP_EEXPIRED},
        {"Unauthorized", MP_EUNAUTHORIZED},
        {"Forbidden", MP_EFORBIDDEN},
        {"Invalid", MP_EREJECTED},
        {"BadRequest", MP_EBADREQUEST},
        {"TooManyRequests", MP_ETHROTTLED},
        {"ServerTimeout", MP_ESERVERTIMEOUT},
        {"Timeout", MP_ESERVERTIMEOUT},
        {"ServiceUnavailable", MP_EUNAVAILABLE},
        {"InternalError", MP_ESERVERERROR},
        {"MethodNotAllowed", MP_EUNSUPPORTED},
        {"NotAcceptable", MP_EUNSUPPORTED},
        {"UnsupportedMediaType", MP_EUNSUPPORTED},
        {"RequestEntityTooLarge", MP_ETOOBIG},
    };
    for (size_t i = 0; reason && i < MP_ARRAY_LEN(reasons); i++) {
        if (strcmp(reason, reasons[i].reason) == 0) {
            return reasons[i].code;
        }
    }
    switch (http_status) {
    case 401:
        return MP_EUNAUTHORIZED;
    case 403:
        return MP_EFORBIDDEN;
    case 404:
        return MP_ENOTFOUND;
    case 405:
    case 406:
    case 415:
        return MP_EUNSUPPORTED;
    case 409:
        return MP_ECONFLICT;
    case 410:
        return MP_EEXPIRED;
    case 413:
        return MP_ETOOBIG;
    case 422:
        return MP_EREJECTED;
    case 429:
        return MP_ETHROTTLED;
    case 503:
        return MP_EUNAVAILABLE;
    case 504:
        return MP_ESERVERTIMEOUT;
    default:
        return http_status >= 500 ? MP_ESERVERERROR : MP_EBADREQUEST;
    }
}

int mp_kube_status_json_error(const char *verb, const char *path, const json_t *status,
                              long http_status, struct mp_error *err)
{
    const char *reason = json_string_value(json_object_get(status, "reason"));
    const char *message = json_string_value(json_object_get(status, "message"));
    json_int_t code = json_integer_value(json_object_get(status, "code"));
    if (code >= 100 && code <= 999) {
        http_status = (long)code;
    }
    int rc = mp_kube_reason_code(reason, http_status);
    if (message && *message) {
        return mp_error_set(err, rc, "%s %s: %s (%s, HTTP %ld)", verb, path, message,
                            reason && *reason ? reason : "no reason", http_status);
    }
    return mp_error_set(err, rc, "%s %s: HTTP %ld %s", verb, path, http_status,
                        reason && *reason ? reason : mp_strerror(rc));
}

int mp_kube_status_error(const char *verb, const char *path, long http_status, const char *body,
                         size_t len, int64_t *retry_after_s, struct mp_error *err)
{
    if (retry_after_s) {
        *retry_after_s = -1;
    }
    json_t *st = len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(st, "kind"));
    if (st && kind && strcmp(kind, "Status") == 0) {
        json_t *ra = json_object_get(json_object_get(st, "details"), "retryAfterSeconds");
        if (retry_after_s && json_is_integer(ra) && json_integer_value(ra) >= 0) {
            *retry_after_s = json_integer_value(ra);
        }
        int rc = mp_kube_status_json_error(verb, path, st, http_status, err);
        json_decref(st);
        return rc;
    }
    json_decref(st);
    /* Not a Status (a proxy's page, plain text): quote its start, printable bytes only. */
    char text[201];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(text) - 1; i++) {
        unsigned char ch = (unsigned char)body[i];
        text[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : ' ';
    }
    text[n] = '\0';
    int rc = mp_kube_reason_code(NULL, http_status);
    return mp_error_set(err, rc, "%s %s: HTTP %ld%s%s", verb, path, http_status, n ? ": " : "",
                        text);
}

/* ---- watch stream ---- */

void mp_kube_wdec_init(struct mp_kube_wdec *d, mp_kube_event_fn fn, void *ud, const char *verb,
                       const char *path)
{
    *d = (struct mp_kube_wdec){.line = MP_BUF_INIT,
                               .max_line = MP_KUBE_MAX_EVENT_BYTES,
                               .fn = fn,
                               .ud = ud,
                               .verb = verb,
                               .path = path};
}

void mp_kube_wdec_release(struct mp_kube_wdec *d)
{
    mp_buf_release(&d->line);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') {
            return false;
        }
    }
    return true;
}

static int event_type(const char *t, enum mp_kube_event_type *out)
{
    static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        if (strcmp(t, names[i]) == 0) {
            *out = (enum mp_kube_event_type)i;
            return 0;
        }
    }
    return MP_EPARSE;
}

static int decode_event(struct mp_kube_wdec *d, const char *line, size_t n, struct mp_error *err)
{
    if (blank(line, n)) {
        return 0;
    }
    json_error_t jerr;
    json_t *ev = json_loadb(line, n, 0, &jerr);
    if (!ev) {
        return mp_error_set(err, MP_EPARSE, "%s %s: event %u is not JSON: %s (column %d)", d->verb,
                            d->path, d->events + 1, jerr.text, jerr.column);
    }
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");
    int rc = 0;
    struct mp_kube_event e = {.object = obj};
    if (!type || !json_is_object(obj)) {
        rc = mp_error_set(err, MP_EPARSE, "%s %s: event %u lacks a type or an object", d->verb,
                          d->path, d->events + 1);
    } else if (strcmp(type, "ERROR") == 0) {
        rc = mp_kube_status_json_error(d->verb, d->path, obj, 500, err);
    } else if (event_type(type, &e.type) != 0) {
        rc = mp_error_set(err, MP_EPARSE, "%s %s: event %u has an unknown type '%.40s'", d->verb,
                          d->path, d->events + 1, type);
    } else {
        const char *rv = mp_kube_meta(obj, "resourceVersion");
        e.resource_version = rv ? rv : "";
        d->events++;
        rc = d->fn(d->ud, &e);
    }
    json_decref(ev);
    return rc;
}

int mp_kube_wdec_feed(struct mp_kube_wdec *d, const char *data, size_t n, struct mp_error *err)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (take > d->max_line - d->line.len) {
            return mp_error_set(err, MP_ETOOBIG, "%s %s: an event is larger than %zu bytes",
                                d->verb, d->path, d->max_line);
        }
        mp_buf_add(&d->line, data, take);
        if (!nl) {
            return 0;
        }
        int rc = decode_event(d, d->line.data, d->line.len, err);
        mp_buf_reset(&d->line);
        if (rc != 0) {
            return rc;
        }
        data = nl + 1;
        n -= take + 1;
    }
    return 0;
}

int mp_kube_wdec_finish(struct mp_kube_wdec *d, struct mp_error *err)
{
    int rc = d->line.len ? decode_event(d, d->line.data, d->line.len, err) : 0;
    mp_buf_reset(&d->line);
    return rc;
}
