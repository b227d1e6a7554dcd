/* SPDX-License-Identifier: Apache-2.0 */
/* The list-then-watch loop (client-go's reflector): list, hand over the whole set, watch from
 * the list's resourceVersion, re-watch from the last one seen, re-list after 410, back off after
 * transient failures, and stop when the cancel token fires. */
#include "kube/kube_int.h"

#include <stdlib.h>
#include <string.h>

struct refl {
    const struct mp_kube_reflector_ops *ops;
    void *ud;
    char *rv;          /* last resourceVersion seen */
    unsigned events;   /* delivered by the current watch, bookmarks included */
    bool user_stopped; /* a callback returned non-zero */
    int user_rc;
};

static void set_rv(struct refl *f, const char *rv)
{
    if (rv && *rv) {
        free(f->rv);
        f->rv = mp_xstrdup(rv);
    }
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct refl *f = ud;
    f->events++;
    set_rv(f, ev->resource_version);
    if (ev->type == MP_KUBE_BOOKMARK || !f->ops->event) {
        return 0;
    }
    int rc = f->ops->event(f->ud, ev);
    if (rc != 0) {
        f->user_stopped = true;
        f->user_rc = rc;
    }
    return rc;
}

static int relist(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                  const struct mp_kube_opts *o, struct refl *f, struct mp_error *err)
{
    struct mp_kube_opts lo = *o;
    lo.resource_version = NULL; /* the most recent state */
    json_t *list = NULL;
    int rc;
    if (f->ops->events_only) {
        /* The first page's resourceVersion is the whole collection's (the snapshot its pages
         * would have been read from): the watch misses nothing after it. */
        lo.limit = 1;
        lo.continue_token = NULL;
        rc = mp_kube_list(c, ref, &lo, &list, err);
    } else {
        rc = mp_kube_list_all(c, ref, &lo, &list, err);
    }
    if (rc != 0) {
        return rc;
    }
    const char *rv = mp_kube_meta(list, "resourceVersion");
    json_t *items = json_object_get(list, "items");
    if (!rv || !*rv || !json_is_array(items)) {
        json_decref(list);
        return mp_error_set(err, MP_EPARSE, "list %s: the answer has no items or resourceVersion",
                            ref->resource ? ref->resource : "");
    }
    set_rv(f, rv);
    if (f->ops->replace) {
        json_t *none = json_array();
        rc = f->ops->replace(f->ud, f->ops->events_only ? none : items, rv);
        json_decref(none);
        if (rc != 0) {
            f->user_stopped = true;
            f->user_rc = rc;
        }
    }
    json_decref(list);
    return rc;
}

static bool transient(int rc)
{
    return rc == MP_ETRANSPORT || rc == MP_EDEADLINE || rc == MP_ETHROTTLED ||
           rc == MP_ESERVERTIMEOUT || rc == MP_EUNAVAILABLE || rc == MP_ESERVERERROR ||
           rc == MP_EPARSE;
}

int mp_kube_reflect(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                    const struct mp_kube_opts *o, const struct mp_kube_reflector_ops *ops, void *ud,
                    struct mp_kube_cancel *stop, struct mp_error *err)
{
    struct mp_kube_opts base = {0};
    if (o) {
        base = *o;
    }
    base.cancel = stop;
    base.info = NULL;
    base.continue_token = NULL;
    struct mp_kube_opts wo = base;
    wo.allow_bookmarks = true;
    wo.timeout_seconds = base.timeout_seconds > 0 ? base.timeout_seconds : 300;
    wo.limit = 0;
    struct refl f = {.ops = ops, .ud = ud};
    bool listed = false;
    unsigned failures = 0;
    int rc;
    for (;;) {
        bool listing = !listed;
        f.events = 0;
        if (listing) {
            rc = relist(c, ref, &base, &f, err);
        } else {
            wo.resource_version = f.rv;
            rc = mp_kube_watch(c, ref, &wo, on_event, &f, err);
        }
        if (f.user_stopped) {
            rc = f.user_rc;
            break;
        }
        if (mp_kube_cancel_fired(stop)) {
            rc = 0;
            break;
        }
        if (rc != 0 && rc != MP_EEXPIRED && !transient(rc)) {
            break;
        }
        listed = listing ? rc == 0 : rc != MP_EEXPIRED;
        /* Go on at once after progress; back off after a failure or a watch that brought
         * nothing, so a server that ends every watch at once is not hammered. */
        bool progress = listing ? rc == 0 : f.events > 0;
        failures = progress ? 0 : failures + 1;
        if (rc != 0 && rc != MP_EEXPIRED && ops->retrying) {
            ops->retrying(ud, err);
        }
        if (failures && mp_kube_pause(c, stop, mp_kube_backoff_ms(c, failures)) != 0) {
            rc = 0;
            break;
        }
    }
    free(f.rv);
    if (rc == 0) {
        mp_error_clear(err);
    }
    return rc;
}
