/* SPDX-License-Identifier: Apache-2.0 */
/* coordination.k8s.io/v1 Leases, taken and kept as client-go's leaderelection does: a candidate
 * takes a Lease when it is free or when its holder has not renewed it for a lease duration as
 * measured by the candidate's own clock (since it last saw the record change, so clocks need not
 * agree); writes are guarded by resourceVersion, so two candidates never both win. The holder
 * renews every retry period (an update of the object its last write returned, one call) and
 * gives up when it could not renew within the renew deadline: its renewal calls are bounded by
 * what is left of the deadline (client-go's renew context), so a slow or failing API server
 * cannot keep it holding past the deadline while a candidate takes over. A release hands the
 * Lease back at once.
 *
 * Two uses: leader election (the Lease morphling-operator; losing it stops the operator) and one
 * Lease per experiment being run (morphling-UID in the experiment's namespace, owned by it;
 * losing it stops that run), so that two operators watching one experiment never both run it. */
#include "operator/op_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct op_lease {
    struct op *op;
    char *ns, *name;
    char *path;    /* NS/NAME */
    json_t *owner; /* the object the Lease hangs from (ownerReferences); NULL: none */
    int64_t duration_ms, deadline_ms, retry_ms;
    char *observed; /* holder and renewTime last seen */
    int64_t observed_ns;
    char *holder;        /* the holder last seen ("" free) */
    json_t *held;        /* the Lease as this process last wrote it */
    int64_t acquired_ns; /* when the try that took the Lease began */
    void (*lost)(void *ud, const struct mp_error *err);
    void *lost_ud;
    pthread_t thread;
    bool running;
    atomic_bool stop;
};

/* Sleeps ms in short slices; false when told to stop meanwhile (with_op: also when the
 * operator stops). */
static bool nap(struct op_lease *l, int64_t ms, bool with_op)
{
    int64_t end = mp_mono_ns() + ms * 1000000;
    while (!atomic_load(&l->stop) &&
           !(with_op && (atomic_load(l->op->o->stop) || atomic_load(&l->op->failed)))) {
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

static void set_holder(struct op_lease *l, const char *holder)
{
    free(l->holder);
    l->holder = mp_xstrdup(holder ? holder : "");
}

/* Writes cur (the Lease read, or NULL: none exists) with this process as its holder: 1 when
 * written, 0 when another write came first, <0 on errors. */
static int write_lease(struct op_lease *l, const json_t *cur, int64_t end_ns, struct mp_error *err)
{
    struct mp_kube_ref ref = {"coordination.k8s.io", "v1", "leases", l->ns, l->name, NULL};
    json_t *obj = cur ? json_deep_copy(cur)
                      : mp_kube_object_new("coordination.k8s.io/v1", "Lease", l->ns, l->name);
    json_t *out = NULL;
    int rc = !cur && l->owner ? mp_kube_add_owner(obj, l->owner, true, false, err) : 0;
    json_object_set_new(obj, "spec", lease_spec(l, cur, false));
    if (rc == 0 && cur) {
        rc = op_update(l->op, &ref, obj, left_ms(end_ns), &out, err);
    } else if (rc == 0) {
        ref.name = NULL;
        rc = op_create(l->op, &ref, obj, left_ms(end_ns), &out, err);
    }
    json_decref(obj);
    json_decref(l->held); /* may be cur: not used from here on */
    l->held = rc == 0 ? out : NULL;
    if (rc == 0) {
        set_holder(l, l->op->identity);
    }
    return rc == 0 ? 1 : rc == MP_ECONFLICT || rc == MP_EEXISTS ? 0 : rc;
}

/* Whether cur may be taken: free, this process's, or not renewed for its duration since this
 * process saw its record change. */
static bool takeable(struct op_lease *l, const json_t *cur)
{
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
    set_holder(l, holder);
    json_int_t dur_s = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    bool expired = mp_mono_ns() - l->observed_ns > (int64_t)dur_s * 1000000000;
    return !holder || !*holder || strcmp(holder, l->op->identity) == 0 || expired;
}

/* One try, its calls ending by end_ns (0: the client's deadline per call): 1 when this process
 * holds the Lease now, 0 when another does, <0 on errors. A renewal first writes the object
 * its last write returned, and a first try at an experiment's Lease creates it; either reads it
 * only when that write conflicts. */
static int try_take(struct op_lease *l, int64_t end_ns, struct mp_error *err)
{
    if (l->held || (!l->observed && l->owner)) {
        /* A renewal, or the first try at an experiment's Lease, which most often does not exist
         * yet (the run of a new experiment): created without a read first. (The leader's Lease
         * most often exists: a standby writes nothing.) */
        int rc = write_lease(l, l->held, end_ns, err);
        if (rc != 0) {
            return rc;
        }
        mp_error_clear(err); /* a conflict, or it exists: read what changed */
    }
    struct mp_kube_ref ref = {"coordination.k8s.io", "v1", "leases", l->ns, l->name, NULL};
    json_t *cur = NULL;
    int rc = op_get(l->op, &ref, left_ms(end_ns), &cur, err);
    bool wrote = rc == MP_ENOTFOUND || (rc == 0 && takeable(l, cur));
    if (rc == MP_ENOTFOUND) {
        mp_error_clear(err);
        rc = write_lease(l, NULL, end_ns, err);
    } else if (rc == 0) {
        rc = wrote ? write_lease(l, cur, end_ns, err) : 0;
    }
    json_decref(cur);
    if (wrote && rc == 0) {
        /* Another candidate's write came first: learn who holds it now. */
        mp_error_clear(err);
        cur = NULL;
        if (op_get(l->op, &ref, left_ms(end_ns), &cur, err) == 0) {
            (void)takeable(l, cur);
        }
        json_decref(cur);
        mp_error_clear(err);
    }
    return rc;
}

/* Renews until released. A renewal counts from when its try began (the record it writes is no
 * older than that), and every try must end by the deadline that the last renewal set. */
static void *renew_loop(void *p)
{
    struct op_lease *l = p;
    int64_t last_ok = l->acquired_ns;
    struct mp_error err = {0}; /* why the last try failed */
    bool tried = false;
    while (nap(l, l->retry_ms, false)) {
        int64_t t0 = mp_mono_ns(), end = last_ok + l->deadline_ms * 1000000;
        int rc = 0;
        if (t0 < end) {
            mp_error_clear(&err);
            rc = try_take(l, end, &err);
            tried = true;
        }
        if (rc == 1) {
            last_ok = t0;
            continue;
        }
        if (mp_mono_ns() >= end) {
            json_decref(l->held);
            l->held = NULL;
            if (rc == 0 && !err.code) {
                mp_error_set(&err, MP_EBUSY, "%s the Lease %s/%s",
                             tried ? "another operator took" : "no time was left to renew", l->ns,
                             l->name);
            }
            mp_error_prefix(&err, MP_EBUSY, "not renewed within %lld ms",
                            (long long)l->deadline_ms);
            l->lost(l->lost_ud, &err);
            break;
        }
    }
    return NULL;
}

struct op_lease *op_lease_new(struct op *op, const char *ns, const char *name, const json_t *owner)
{
    const struct mp_operator_opts *o = op->o;
    struct op_lease *l = mp_xcalloc(1, sizeof(*l));
    l->op = op;
    l->ns = mp_xstrdup(ns);
    l->name = mp_xstrdup(name);
    l->path = mp_xasprintf("%s/%s", ns, name);
    l->owner = json_incref((json_t *)owner);
    l->holder = mp_xstrdup("");
    l->duration_ms = o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000;
    l->deadline_ms = o->renew_deadline_ms > 0 ? o->renew_deadline_ms : 10000;
    l->retry_ms = o->retry_period_ms > 0 ? o->retry_period_ms : 2000;
    return l;
}

int op_lease_try(struct op_lease *l, struct mp_error *err)
{
    /* Bounded as a renewal is: a try that the API server keeps failing (each call retried for
     * the client's deadline) held an operator's stop, and wrote, long after it lost. */
    l->acquired_ns = mp_mono_ns();
    return try_take(l, l->acquired_ns + l->deadline_ms * 1000000, err);
}

const char *op_lease_holder(const struct op_lease *l)
{
    return l->holder;
}

const char *op_lease_name(const struct op_lease *l)
{
    return l->path;
}

int64_t op_lease_duration_ms(const struct op_lease *l)
{
    return l->duration_ms;
}

int op_lease_keep(struct op_lease *l, void (*lost)(void *ud, const struct mp_error *err), void *ud,
                  struct mp_error *err)
{
    if (l->running) { /* the thread of a Lease kept before and lost: it has ended */
        pthread_join(l->thread, NULL);
        l->running = false;
        atomic_store(&l->stop, false);
    }
    l->lost = lost;
    l->lost_ud = ud;
    if (pthread_create(&l->thread, NULL, renew_loop, l) != 0) {
        return mp_error_set(err, MP_ERUNTIME, "cannot start a thread to renew the Lease %s/%s",
                            l->ns, l->name);
    }
    l->running = true;
    return 0;
}

/* Hands the Lease back when this process still holds it, so that a candidate takes over at once
 * (client-go's ReleaseOnCancel): remove deletes it (only as this process last wrote it). */
static void give_back(struct op_lease *l, bool remove)
{
    struct mp_kube_ref ref = {"coordination.k8s.io", "v1", "leases", l->ns, l->name, NULL};
    json_t *cur = NULL;
    struct mp_error err = {0};
    int rc = op_get(l->op, &ref, 0, &cur, &err);
    const char *holder =
        json_string_value(json_object_get(json_object_get(cur, "spec"), "holderIdentity"));
    if (rc == 0 && holder && strcmp(holder, l->op->identity) == 0) {
        if (remove) {
            struct mp_kube_opts o = {.precondition_rv = mp_kube_meta(cur, "resourceVersion")};
            rc = mp_kube_delete(l->op->c, &ref, &o, NULL, &err);
            rc = rc == MP_ENOTFOUND || rc == MP_ECONFLICT ? 0 : rc;
        } else {
            json_object_set_new(cur, "spec", lease_spec(l, cur, true));
            rc = op_update(l->op, &ref, cur, 0, NULL, &err);
        }
    }
    if (rc != 0 && rc != MP_ENOTFOUND) {
        op_log(l->op, "Lease %s/%s not handed back: %s", l->ns, l->name, err.msg);
    }
    json_decref(cur);
}

void op_lease_release(struct op_lease *l, bool remove)
{
    if (!l) {
        return;
    }
    atomic_store(&l->stop, true);
    if (l->running) {
        pthread_join(l->thread, NULL);
    }
    if (l->held) {
        give_back(l, remove);
    }
    json_decref(l->held);
    json_decref(l->owner);
    free(l->observed);
    free(l->holder);
    free(l->ns);
    free(l->name);
    free(l->path);
    free(l);
}

/* ---- leader election ------------------------------------------------------------------------ */

static void leader_lost(void *ud, const struct mp_error *err)
{
    struct op *op = ud;
    struct mp_error e = *err;
    atomic_store(&op->leader, false);
    /* Nothing more is written: another operator may lead (and run the experiments) by now. */
    mp_kube_cancel_fire(op->fence);
    pthread_mutex_lock(&op->lock);
    for (size_t i = 0; i < op->n_exps; i++) {
        mp_kube_cancel_fire(op->exps[i]->fence);
    }
    pthread_mutex_unlock(&op->lock);
    mp_error_prefix(&e, MP_EBUSY, "leadership lost");
    op_fail(op, &e);
}

int64_t op_cred_retry_ms(struct op *op, int rc, int *failures, const char *what,
                         const struct mp_error *e)
{
    if (rc != MP_EUNAUTHORIZED || !op->o->leader_elect || atomic_load(&op->leader) ||
        ++*failures >= OP_CRED_TRIES) {
        return 0;
    }
    const struct mp_operator_opts *o = op->o;
    int64_t cap = o->lease_duration_ms > 0 ? o->lease_duration_ms : 15000;
    int64_t ms = o->retry_period_ms > 0 ? o->retry_period_ms : 2000;
    for (int i = 1; i < *failures && ms < cap; i++) {
        ms *= 2;
    }
    ms = ms < cap ? ms : cap;
    op_log(op, "%s: %s (credentials: failure %d of %d in a row; retrying in %lld ms)", what, e->msg,
           *failures, OP_CRED_TRIES, (long long)ms);
    return ms;
}

/* What a standby does about a failed try rc (e): 0 to try again in *wait_ms, else the error to
 * stop with (in err). Credentials: op_cred_retry_ms. */
static int standby_failed(struct op_lease *l, int rc, const struct mp_error *e, int *cred_failures,
                          int64_t *wait_ms, struct mp_error *err)
{
    char what[600];
    snprintf(what, sizeof(what), "Lease %s/%s", l->ns, l->name);
    *wait_ms = op_cred_retry_ms(l->op, rc, cred_failures, what, e);
    if (*wait_ms > 0) {
        return 0;
    }
    *wait_ms = l->retry_ms;
    /* A namespace that does not exist (the create's 404) is no passing state either: the
     * operator waited for ever, its /readyz ready as a standby. */
    if (rc == MP_EFORBIDDEN || rc == MP_EUNAUTHORIZED || rc == MP_EREJECTED || rc == MP_ENOTFOUND) {
        char tries[64] = "";
        if (rc == MP_EUNAUTHORIZED) {
            snprintf(tries, sizeof(tries), " (%d tries in a row)", OP_CRED_TRIES);
        }
        return mp_error_set(
            err, rc, "%s: %s%s%s", what, e->msg,
            rc == MP_ENOTFOUND ? " (does the namespace exist? --lease-namespace)" : "", tries);
    }
    *cred_failures = 0;
    op_log(l->op, "%s: %s (retrying)", what, e->msg);
    return 0;
}

int op_lead(struct op *op, struct op_lease **out, struct mp_error *err)
{
    const struct mp_operator_opts *o = op->o;
    struct op_lease *l =
        op_lease_new(op,
                     o->lease_namespace ? o->lease_namespace
                                        : mp_kube_config_namespace(mp_kube_client_config(op->c)),
                     o->lease_name ? o->lease_name : "morphling-operator", NULL);
    op_log(op, "waiting for the Lease %s/%s as %s", l->ns, l->name, op->identity);
    int cred_failures = 0;
    for (;;) {
        struct mp_error e = {0};
        int rc = op_lease_try(l, &e);
        if (rc == 1) {
            break;
        }
        int64_t wait_ms = l->retry_ms;
        if (rc == 0) {
            cred_failures = 0;
        } else if (standby_failed(l, rc, &e, &cred_failures, &wait_ms, err) != 0) {
            op_lease_release(l, false);
            return rc;
        }
        if (!nap(l, wait_ms, true)) {
            op_lease_release(l, false);
            return mp_error_set(err, MP_ECANCELLED, "stopped while waiting for the Lease");
        }
    }
    atomic_store(&op->leader, true);
    op_log(op, "leading: holding the Lease %s/%s as %s", l->ns, l->name, op->identity);
    int rc = op_lease_keep(l, leader_lost, op, err);
    if (rc != 0) {
        op_lease_release(l, false);
        return rc;
    }
    *out = l;
    return 0;
}
