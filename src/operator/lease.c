/* SPDX-License-Identifier: Apache-2.0 */
/* Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does: a
 * candidate takes the Lease when it is free or when its holder has not renewed it for a lease
 * duration as measured by the candidate's own clock (since it last saw the record change, so
 * clocks need not agree); writes are guarded by resourceVersion, so two candidates never both
 * win. The leader renews every retry period and gives up (the process stops) when it could not
 * renew within the renew deadline: its renewal calls are bounded by what is left of the
 * deadline (client-go's renew context), so a slow or failing API server cannot keep it leading
 * past the deadline while a candidate takes over. A clean stop hands the Lease back at once. */
#include "operator/op_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct op_lease {
    struct op *op;
    char *ns, *name;
    int64_t duration_ms, deadline_ms, retry_ms;
    char *observed; /* holder and renewTime last seen */
    int64_t observed_ns;
    int64_t acquired_ns; /* when the try that took the Lease began */
    pthread_t thread;
    bool running;
    atomic_bool stop;
};

static bool stopping(struct op_lease *l)
{
    return atomic_load(&l->stop) || atomic_load(l->op->o->stop) || atomic_load(&l->op->failed);
}

/* Sleeps ms in short slices; false when told to stop meanwhile. */
static bool nap(struct op_lease *l, int64_t ms)
{
    int64_t end = mp_mono_ns() + ms * 1000000;
    while (!stopping(l)) {
        int64_t left = end - mp_mono_ns();
        if (left <= 0) {
            return true;
        }
        int64_t slice = left < 50000000 ? left : 50000000;
        struct timespec ts = {0, (long)slice};
        nanosleep(&ts, NULL);
    }
    return false;
}

static json_t *lease_spec(struct op_lease *l, const json_t *old, bool release)
{
    char now[MP_KUBE_TIME_MAX];
    mp_kube_fmt_time(now, mp_wall_ns(), true);
    const json_t *os = json_object_get(old, "spec");
    const char *holder = json_string_value(json_object_get(os, "holderIdentity"));
    bool mine = holder && strcmp(holder, l->op->identity) == 0;
    json_int_t transitions = json_integer_value(json_object_get(os, "leaseTransitions"));
    const char *acquired = json_string_value(json_object_get(os, "acquireTime"));
    json_t *s = json_object();
    json_object_set_new(s, "holderIdentity", json_string(release ? "" : l->op->identity));
    json_object_set_new(s, "leaseDurationSeconds",
                        json_integer(release ? 1 : (l->duration_ms + 999) / 1000));
    json_object_set_new(s, "acquireTime", json_string(mine && acquired ? acquired : now));
    json_object_set_new(s, "renewTime", json_string(now));
    json_object_set_new(s, "leaseTransitions",
                        json_integer(mine || !old ? transitions : transitions + 1));
    return s;
}

/* Milliseconds left until end_ns (at least 1); 0 when end_ns is 0 (no deadline). */
static int64_t left_ms(int64_t end_ns)
{
    if (end_ns == 0) {
        return 0;
    }
    int64_t ms = (end_ns - mp_mono_ns()) / 1000000;
    return ms > 0 ? ms : 1;
}

/* One try, its calls ending by end_ns (0: the client's deadline per call): 1 when this process
 * holds the Lease now, 0 when another does, <0 on errors. */
static int try_acquire(struct op_lease *l, int64_t end_ns, struct mp_error *err)
{
    struct mp_kube_ref ref = {"coordination.k8s.io", "v1", "leases", l->ns, l->name, NULL};
    json_t *cur = NULL;
    int rc = op_get(l->op, &ref, left_ms(end_ns), &cur, err);
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        json_t *obj = mp_kube_object_new("coordination.k8s.io/v1", "Lease", l->ns, l->name);
        json_object_set_new(obj, "spec", lease_spec(l, NULL, false));
        ref.name = NULL;
        rc = op_create(l->op, &ref, obj, left_ms(end_ns), NULL, err);
        json_decref(obj);
        return rc == 0 ? 1 : rc == MP_EEXISTS ? 0 : rc;
    }
    if (rc != 0) {
        return rc;
    }
    const json_t *spec = json_object_get(cur, "spec");
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    const char *renewed = json_string_value(json_object_get(spec, "renewTime"));
    char *record = mp_xasprintf("%s|%s", holder ? holder : "", renewed ? renewed : "");
    if (!l->observed || strcmp(record, l->observed) != 0) {
        free(l->observed);
        l->observed = record;
        l->observed_ns = mp_mono_ns();
    } else {
        free(record);
    }
    json_int_t dur_s = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    bool free_lease = !holder || !*holder;
    bool mine = holder && strcmp(holder, l->op->identity) == 0;
    bool expired = mp_mono_ns() - l->observed_ns > (int64_t)dur_s * 1000000000;
    if (!free_lease && !mine && !expired) {
        json_decref(cur);
        return 0;
    }
    json_object_set_new(cur, "spec", lease_spec(l, cur, false));
    rc = op_update(l->op, &ref, cur, left_ms(end_ns), NULL, err);
    json_decref(cur);
    return rc == 0 ? 1 : rc == MP_ECONFLICT ? 0 : rc;
}

/* Renews until stopped. A renewal counts from when its try began (the record it writes is no
 * older than that), and every try must end by the deadline that the last renewal set. */
static void *renew_loop(void *p)
{
    struct op_lease *l = p;
    int64_t last_ok = l->acquired_ns;
    struct mp_error err = {0}; /* why the last try failed */
    bool tried = false;
    while (nap(l, l->retry_ms)) {
        int64_t t0 = mp_mono_ns(), end = last_ok + l->deadline_ms * 1000000;
        int rc = 0;
        if (t0 < end) {
            mp_error_clear(&err);
            rc = try_acquire(l, end, &err);
            tried = true;
        }
        if (rc == 1) {
            last_ok = t0;
            continue;
        }
        if (mp_mono_ns() >= end) {
            atomic_store(&l->op->leader, false);
            if (rc == 0 && !err.code) {
                mp_error_set(&err, MP_EBUSY, "%s the Lease %s/%s",
                             tried ? "another operator took" : "no time was left to renew", l->ns,
                             l->name);
            }
            mp_error_prefix(&err, MP_EBUSY, "leadership lost (not renewed within %lld ms)",
                            (long long)l->deadline_ms);
            op_fail(l->op, &err);
            break;
        }
    }
    return NULL;
}

static struct op_lease *lease_new(struct op *op)
{
    const struct mp_operator_opts *o = op->o;
    struct op_lease *l = mp_xcalloc(1, sizeof(*l));
    l->op = op;
    l->ns = mp_xstrdup(o->lease_namespace ? o->lease_namespace
                                          : mp_kube_config_namespace(mp_kube_client_config(op->c)));
    l->name = mp_xstrdup(o->lease_name ? o->lease_name : "morphling-operator");
    l->duration_ms = o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000;
    l->deadline_ms = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : 10000;
    l->retry_ms = o->retry_period_ms > 0 ? o->retry_period_ms : 2000;
    return l;
}

int op_lease_acquire(struct op *op, struct op_lease **out, struct mp_error *err)
{
    struct op_lease *l = lease_new(op);
    op_log(op, "waiting for the Lease %s/%s as %s", l->ns, l->name, op->identity);
    for (;;) {
        struct mp_error e = {0};
        l->acquired_ns = mp_mono_ns();
        int rc = try_acquire(l, 0, &e);
        if (rc == 1) {
            break;
        }
        /* A namespace that does not exist (the create's 404) is no passing state either: the
         * operator waited for ever, its /readyz ready as a standby. */
        if (rc < 0 && (rc == MP_EFORBIDDEN || rc == MP_EUNAUTHORIZED || rc == MP_EREJECTED ||
                       rc == MP_ENOTFOUND)) {
            mp_error_set(err, rc, "Lease %s/%s: %s%s", l->ns, l->name, e.msg,
                         rc == MP_ENOTFOUND ? " (does the namespace exist? --lease-namespace)"
                                            : "");
            op_lease_release(l);
            return rc;
        }
        if (rc < 0) {
            op_log(op, "Lease %s/%s: %s (retrying)", l->ns, l->name, e.msg);
        }
        if (!nap(l, l->retry_ms)) {
            op_lease_release(l);
            return mp_error_set(err, MP_ECANCELLED, "stopped while waiting for the Lease");
        }
    }
    atomic_store(&op->leader, true);
    op_log(op, "leading: holding the Lease %s/%s as %s", l->ns, l->name, op->identity);
    if (pthread_create(&l->thread, NULL, renew_loop, l) != 0) {
        op_lease_release(l);
        return mp_error_set(err, MP_ERUNTIME, "cannot start the Lease thread");
    }
    l->running = true;
    *out = l;
    return 0;
}

/* Hands the Lease back, so that a standby takes over at once (client-go's ReleaseOnCancel). */
static void give_back(struct op_lease *l)
{
    struct mp_kube_ref ref = {"coordination.k8s.io", "v1", "leases", l->ns, l->name, NULL};
    json_t *cur = NULL;
    struct mp_error err = {0};
    if (op_get(l->op, &ref, 0, &cur, &err) == 0) {
        const char *holder =
            json_string_value(json_object_get(json_object_get(cur, "spec"), "holderIdentity"));
        if (holder && strcmp(holder, l->op->identity) == 0) {
            json_object_set_new(cur, "spec", lease_spec(l, cur, true));
            if (op_update(l->op, &ref, cur, 0, NULL, &err) != 0) {
                op_log(l->op, "Lease %s/%s not handed back: %s", l->ns, l->name, err.msg);
            }
        }
    }
    json_decref(cur);
}

void op_lease_release(struct op_lease *l)
{
    if (!l) {
        return;
    }
    atomic_store(&l->stop, true);
    if (l->running) {
        pthread_join(l->thread, NULL);
        if (atomic_load(&l->op->leader)) {
            give_back(l);
        }
    }
    atomic_store(&l->op->leader, false);
    free(l->observed);
    free(l->ns);
    free(l->name);
    free(l);
}
