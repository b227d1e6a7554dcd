/* SPDX-License-Identifier: Apache-2.0 */
/* The REST verbs: queries and bodies built from the options as JSON structures, answers
 * decoded as JSON; list pagination. */
#include "kube/kube_int.h"

#include "doc/doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct mp_kube_opts no_opts;

static const char *const patch_types[] = {
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
};

/* A ref naming one object, for list and watch, becomes its collection filtered by
 * metadata.name; *sel (owned, may be NULL) holds the merged field selector. */
static void name_to_selector(const struct mp_kube_ref *ref, const struct mp_kube_opts *o,
                             struct mp_kube_ref *r2, struct mp_kube_opts *o2, char **sel)
{
    *r2 = *ref;
    *o2 = *o;
    *sel = NULL;
    if (ref->name && *ref->name) {
        const char *fs = o->field_selector;
        *sel = mp_xasprintf("metadata.name=%s%s%s", ref->name, fs && *fs ? "," : "", fs ? fs : "");
        o2->field_selector = *sel;
        r2->name = NULL;
        r2->subresource = NULL;
    }
}

static void add_int(struct mp_buf *q, const char *key, int64_t v)
{
    char num[32];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    mp_kube_query_add(q, key, num);
}

static void add_selectors(struct mp_buf *q, const struct mp_kube_opts *o)
{
    if (o->label_selector && *o->label_selector) {
        mp_kube_query_add(q, "labelSelector", o->label_selector);
    }
    if (o->field_selector && *o->field_selector) {
        mp_kube_query_add(q, "fieldSelector", o->field_selector);
    }
    if (o->resource_version && *o->resource_version) {
        mp_kube_query_add(q, "resourceVersion", o->resource_version);
    }
}

static void add_write_query(struct mp_buf *q, const struct mp_kube_opts *o, bool apply)
{
    if (o->field_manager && *o->field_manager) {
        mp_kube_query_add(q, "fieldManager", o->field_manager);
    }
    if (apply && o->force) {
        mp_kube_query_add(q, "force", "true");
    }
    if (o->dry_run) {
        mp_kube_query_add(q, "dryRun", "All");
    }
    if (o->field_validation) {
        mp_kube_query_add(q, "fieldValidation", o->field_validation);
    }
}

/* What one verb sends. */
struct send {
    const char *verb, *method;
    const struct mp_kube_ref *ref;
    const char *query; /* get, list: built by the verb */
    const json_t *payload;
    const char *content_type;
    bool idempotent;
    bool write; /* adds fieldManager and dryRun (and force, for apply) from the options */
    bool apply;
};

static int call(struct mp_kube_client *c, const struct send *s, const struct mp_kube_opts *o,
                json_t **out, struct mp_error *err)
{
    o = o ? o : &no_opts;
    char *path = NULL;
    int rc = mp_kube_path(s->ref, &path, err);
    if (rc != 0) {
        return mp_error_prefix(err, rc, "%s", s->verb);
    }
    struct mp_buf q = MP_BUF_INIT;
    mp_buf_adds(&q, s->query ? s->query : "");
    if (s->write) {
        add_write_query(&q, o, s->apply);
    }
    char *text = s->payload ? mp_json_dumps(s->payload, 0) : NULL;
    struct mp_kube_req r = {.verb = s->verb,
                            .method = s->method,
                            .path = path,
                            .query = q.data,
                            .content_type = text ? s->content_type : NULL,
                            .body = text,
                            .body_len = text ? strlen(text) : 0,
                            .idempotent = s->idempotent};
    struct mp_buf body = MP_BUF_INIT;
    rc = mp_kube_send(c, &r, o, &body, err);
    if (rc == 0 && out) {
        json_error_t jerr;
        *out = json_loadb(body.data ? body.data : "", body.len, 0, &jerr);
        if (!*out) {
            rc = mp_error_set(err, MP_EPARSE, "%s %s: the answer is not JSON: %s (column %d)",
                              s->verb, path, jerr.text, jerr.column);
        }
    }
    mp_buf_release(&body);
    mp_buf_release(&q);
    free(text);
    free(path);
    return rc;
}

int mp_kube_get(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    if (!ref->name || !*ref->name) {
        return mp_error_set(err, MP_EINVALID, "get %s: no object name (list a collection)",
                            ref->resource ? ref->resource : "");
    }
    o = o ? o : &no_opts;
    struct mp_buf q = MP_BUF_INIT;
    if (o->resource_version && *o->resource_version) {
        mp_kube_query_add(&q, "resourceVersion", o->resource_version);
    }
    struct send s = {
        .verb = "get", .method = "GET", .ref = ref, .query = q.data, .idempotent = true};
    int rc = call(c, &s, o, out, err);
    mp_buf_release(&q);
    return rc;
}

int mp_kube_list(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                 const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    struct mp_kube_ref r2;
    struct mp_kube_opts o2;
    char *sel;
    name_to_selector(ref, o ? o : &no_opts, &r2, &o2, &sel);
    struct mp_buf q = MP_BUF_INIT;
    add_selectors(&q, &o2);
    if (o2.limit > 0) {
        add_int(&q, "limit", o2.limit);
    }
    if (o2.continue_token && *o2.continue_token) {
        mp_kube_query_add(&q, "continue", o2.continue_token);
    }
    struct send s = {
        .verb = "list", .method = "GET", .ref = &r2, .query = q.data, .idempotent = true};
    int rc = call(c, &s, &o2, out, err);
    mp_buf_release(&q);
    free(sel);
    return rc;
}

/* Appends the page's items to all; returns its continue token (borrowed from page). */
static const char *merge_page(json_t *all, json_t *page)
{
    json_t *items = json_object_get(page, "items");
    if (json_is_array(items)) {
        json_array_extend(json_object_get(all, "items"), items);
    }
    json_t *meta = json_object_get(page, "metadata");
    json_object_set(all, "metadata", json_is_object(meta) ? meta : json_object());
    const char *cont = json_string_value(json_object_get(meta, "continue"));
    return cont && *cont ? cont : NULL;
}

static int repeated_token_error(const struct mp_kube_ref *ref, struct mp_error *err)
{
    char *path = NULL;
    if (mp_kube_path(ref, &path, NULL) != 0) {
        path = mp_xstrdup(ref->resource ? ref->resource : "");
    }
    int rc = mp_error_set(err, MP_EPARSE,
                          "list %s: the server answered the same continue token again", path);
    free(path);
    return rc;
}

/* Lists every page; *paged says whether a continue token was used. */
static int list_pages(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                      const struct mp_kube_opts *o, json_t **out, bool *paged, struct mp_error *err)
{
    struct mp_kube_opts po = *o;
    json_t *all = NULL, *page = NULL;
    char *cont = NULL;
    int rc;
    *paged = false;
    for (;;) {
        po.continue_token = cont;
        rc = mp_kube_list(c, ref, &po, &page, err);
        if (rc != 0) {
            break;
        }
        if (!all) {
            all = json_deep_copy(page);
            json_object_set_new(all, "items", json_array());
        }
        const char *next = merge_page(all, page);
        if (next && cont && strcmp(next, cont) == 0) {
            /* A server or proxy that ignores continue: we would loop and grow for ever. */
            rc = repeated_token_error(ref, err);
            json_decref(page);
            break;
        }
        free(cont);
        cont = next ? mp_xstrdup(next) : NULL;
        json_decref(page);
        page = NULL;
        if (!cont) {
            break;
        }
        *paged = true;
    }
    free(cont);
    if (rc != 0) {
        json_decref(all);
        return rc;
    }
    json_object_del(json_object_get(all, "metadata"), "continue");
    json_object_del(json_object_get(all, "metadata"), "remainingItemCount");
    *out = all;
    return 0;
}

int mp_kube_list_all(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                     const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    struct mp_kube_opts o2 = o ? *o : no_opts;
    bool paged;
    int rc = list_pages(c, ref, &o2, out, &paged, err);
    if (rc == MP_EEXPIRED && paged) {
        /* The snapshot behind the continue token was compacted: list again in one piece. */
        o2.limit = 0;
        rc = list_pages(c, ref, &o2, out, &paged, err);
    }
    return rc;
}

/* ref with the name and namespace taken from obj where ref leaves them out. */
static struct mp_kube_ref ref_for(const struct mp_kube_ref *ref, const json_t *obj, bool with_name)
{
    struct mp_kube_ref r = *ref;
    if (!r.ns || !*r.ns) {
        r.ns = mp_kube_meta(obj, "namespace");
    }
    if (with_name && (!r.name || !*r.name)) {
        r.name = mp_kube_meta(obj, "name");
    }
    return r;
}

int mp_kube_create(struct mp_kube_client *c, const struct mp_kube_ref *ref, const json_t *obj,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    struct mp_kube_ref r = ref_for(ref, obj, false);
    if (!r.subresource || !*r.subresource) {
        r.name = NULL;
    }
    struct send s = {.verb = "create",
                     .method = "POST",
                     .ref = &r,
                     .payload = obj,
                     .content_type = "application/json",
                     .write = true};
    return call(c, &s, o, out, err);
}

int mp_kube_update(struct mp_kube_client *c, const struct mp_kube_ref *ref, const json_t *obj,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    struct mp_kube_ref r = ref_for(ref, obj, true);
    if (!r.name || !*r.name) {
        return mp_error_set(err, MP_EINVALID, "update %s: the object has no metadata.name",
                            ref->resource ? ref->resource : "");
    }
    struct send s = {.verb = "update",
                     .method = "PUT",
                     .ref = &r,
                     .payload = obj,
                     .content_type = "application/json",
                     .idempotent = true,
                     .write = true};
    return call(c, &s, o, out, err);
}

int mp_kube_patch(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                  enum mp_kube_patch_type type, const json_t *patch, const struct mp_kube_opts *o,
                  json_t **out, struct mp_error *err)
{
    o = o ? o : &no_opts;
    if (type == MP_KUBE_PATCH_JSON ? !json_is_array(patch) : !json_is_object(patch)) {
        return mp_error_set(err, MP_EINVALID, "patch %s/%s: a %s patch must be a JSON %s",
                            ref->resource ? ref->resource : "", ref->name ? ref->name : "",
                            patch_types[type], type == MP_KUBE_PATCH_JSON ? "array" : "object");
    }
    if (type == MP_KUBE_PATCH_APPLY && (!o->field_manager || !*o->field_manager)) {
        return mp_error_set(err, MP_EINVALID,
                            "patch %s/%s: server-side apply needs a field manager",
                            ref->resource ? ref->resource : "", ref->name ? ref->name : "");
    }
    struct send s = {.verb = "patch",
                     .method = "PATCH",
                     .ref = ref,
                     .payload = patch,
                     .content_type = patch_types[type],
                     .idempotent = type != MP_KUBE_PATCH_JSON,
                     .write = true,
                     .apply = type == MP_KUBE_PATCH_APPLY};
    return call(c, &s, o, out, err);
}

/* DeleteOptions from opts, or NULL when none is set. New reference. */
static json_t *delete_options(const struct mp_kube_opts *o)
{
    json_t *d = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
    bool any = false;
    if (o->propagation_policy && *o->propagation_policy) {
        json_object_set_new(d, "propagationPolicy", json_string(o->propagation_policy));
        any = true;
    }
    json_t *pre = json_object();
    if (o->precondition_uid && *o->precondition_uid) {
        json_object_set_new(pre, "uid", json_string(o->precondition_uid));
    }
    if (o->precondition_rv && *o->precondition_rv) {
        json_object_set_new(pre, "resourceVersion", json_string(o->precondition_rv));
    }
    any |= json_object_size(pre) > 0;
    json_object_set_new(d, "preconditions", pre);
    if (o->has_grace_period) {
        json_object_set_new(d, "gracePeriodSeconds", json_integer(o->grace_period_seconds));
        any = true;
    }
    if (o->dry_run) {
        json_object_set_new(d, "dryRun", json_pack("[s]", "All"));
        any = true;
    }
    if (!any) {
        json_decref(d);
        return NULL;
    }
    if (json_object_size(pre) == 0) {
        json_object_del(d, "preconditions");
    }
    return d;
}

int mp_kube_delete(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err)
{
    o = o ? o : &no_opts;
    if (!ref->name || !*ref->name) {
        return mp_error_set(err, MP_EINVALID, "delete %s: no object name",
                            ref->resource ? ref->resource : "");
    }
    json_t *body = delete_options(o);
    struct send s = {.verb = "delete",
                     .method = "DELETE",
                     .ref = ref,
                     .payload = body,
                     .content_type = "application/json",
                     .idempotent = true};
    int rc = call(c, &s, o, out, err);
    json_decref(body);
    return rc;
}

int mp_kube_raw(struct mp_kube_client *c, const char *method, const char *path, const char *body,
                const struct mp_kube_opts *o, char **out, size_t *len, struct mp_error *err)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    size_t m = 0;
    while (m < MP_ARRAY_LEN(methods) && strcmp(method, methods[m]) != 0) {
        m++;
    }
    if (m == MP_ARRAY_LEN(methods) || path[0] != '/') {
        return mp_error_set(err, MP_EINVALID, "%s %s: not a method, or a path without '/'", method,
                            path);
    }
    size_t plen = strcspn(path, "?");
    char *p = mp_xstrndup(path, plen);
    struct mp_kube_req r = {.verb = method,
                            .method = methods[m],
                            .path = p,
                            .query = path + plen,
                            .content_type = !body    ? NULL
                                            : m == 3 ? patch_types[MP_KUBE_PATCH_MERGE]
                                                     : "application/json",
                            .body = body,
                            .body_len = body ? strlen(body) : 0,
                            .idempotent = m != 1 && m != 3};
    struct mp_buf answer = MP_BUF_INIT;
    int rc = mp_kube_send(c, &r, o ? o : &no_opts, &answer, err);
    if (rc == 0 && out) {
        if (len) {
            *len = answer.len;
        }
        mp_buf_adds(&answer, "");
        *out = mp_buf_detach(&answer);
    }
    mp_buf_release(&answer);
    free(p);
    return rc;
}

/* ---- watch ---- */

int mp_kube_watch(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                  const struct mp_kube_opts *o, mp_kube_event_fn fn, void *ud, struct mp_error *err)
{
    struct mp_kube_ref r2;
    struct mp_kube_opts o2;
    char *sel, *path = NULL;
    name_to_selector(ref, o ? o : &no_opts, &r2, &o2, &sel);
    int rc = mp_kube_path(&r2, &path, err);
    if (rc != 0) {
        free(sel);
        return mp_error_prefix(err, rc, "watch");
    }
    struct mp_buf q = MP_BUF_INIT;
    mp_kube_query_add(&q, "watch", "1");
    add_selectors(&q, &o2);
    if (o2.allow_bookmarks) {
        mp_kube_query_add(&q, "allowWatchBookmarks", "true");
    }
    if (o2.timeout_seconds > 0) {
        add_int(&q, "timeoutSeconds", o2.timeout_seconds);
    }
    struct mp_kube_wdec d;
    mp_kube_wdec_init(&d, fn, ud, "watch", path);
    /* The server closes the stream after timeoutSeconds; allow it a margin to do so. */
    int64_t stream_ms = o2.timeout_seconds > 0 ? o2.timeout_seconds * 1000 + 15000 : 0;
    struct mp_kube_req r = {.verb = "watch",
                            .method = "GET",
                            .path = path,
                            .query = q.data,
                            .idempotent = true,
                            .watch = &d,
                            .stream_ms = stream_ms};
    rc = mp_kube_send(c, &r, &o2, NULL, err);
    mp_kube_wdec_release(&d);
    mp_buf_release(&q);
    free(path);
    free(sel);
    return rc;
}
