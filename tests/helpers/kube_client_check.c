/* SPDX-License-Identifier: Apache-2.0 */
/* Drives the Kubernetes client (src/kube) against the test cluster's API server for
 * tests/integration/test_kube_client.sh: the verbs with one kubeconfig context, injected faults,
 * a reflector across dropped watches, a compaction (410), a bookmark and a restart, and an exec
 * token's expiry. Prints "FAIL: ..." and exits 1 when a check fails.
 * Usage: kube_client_check --kubeconfig FILE --context NAME --run ID crud|faults|watch|expiry */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube.h"

#define NS "default"

struct ctx {
    struct mp_kube_client *c;
    const char *run;
    const char *context;
};

static void check_at(int line, bool ok, const char *what, const struct mp_error *err)
{
    if (!ok) {
        fprintf(stderr, "FAIL (line %d): %s%s%s\n", line, what, err && err->msg[0] ? ": " : "",
                err ? err->msg : "");
        exit(1);
    }
}

#define CHECK(cond, what, err) check_at(__LINE__, (cond), (what), (err))

static const struct mp_kube_ref cms = {"", "v1", "configmaps", NS, NULL, NULL};

static struct mp_kube_ref named(const struct mp_kube_ref *coll, const char *name)
{
    struct mp_kube_ref r = *coll;
    r.name = name;
    return r;
}

static json_t *configmap(const char *name, const char *label, const char *value)
{
    json_t *cm = mp_kube_object_new("v1", "ConfigMap", NS, name);
    if (label) {
        mp_kube_set_label(cm, "kclient-test", label);
    }
    json_object_set_new(cm, "data", json_pack("{s:s}", "k", value));
    return cm;
}

static const char *data_of(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(json_object_get(obj, "data"), key));
}

/* A /_test/ hook of the API server (admin only). */
static void hook(struct ctx *x, const char *method, const char *path, const char *body)
{
    struct mp_error err = {0};
    CHECK(mp_kube_raw(x->c, method, path, body, NULL, NULL, NULL, &err) == 0, path, &err);
}

/* The API server's process id (/_test/stats). */
static json_int_t server_pid(struct ctx *x)
{
    struct mp_error err = {0};
    char *text = NULL;
    CHECK(mp_kube_raw(x->c, "GET", "/_test/stats", NULL, NULL, &text, NULL, &err) == 0,
          "/_test/stats", &err);
    json_t *stats = json_loads(text, 0, NULL);
    json_int_t pid = json_integer_value(json_object_get(stats, "pid"));
    json_decref(stats);
    free(text);
    return pid;
}

/* Restarts the API server and waits until the new process answers (same port, same state). */
static void restart(struct ctx *x)
{
    json_int_t before = server_pid(x);
    hook(x, "POST", "/_test/restart", "{}");
    int64_t limit = mp_mono_ns() + INT64_C(120) * 1000000000;
    while (server_pid(x) == before) {
        CHECK(mp_mono_ns() < limit, "the API server restarted in time", NULL);
        struct timespec poll = {0, 100000000};
        nanosleep(&poll, NULL);
    }
}

/* ---- crud ---- */

static void crud_configmaps(struct ctx *x, const char *name, const char *name2)
{
    struct mp_error err = {0};
    json_t *cm = configmap(name, x->run, "v1"), *out = NULL, *first = NULL;
    struct mp_kube_ref one = named(&cms, name);
    CHECK(mp_kube_create(x->c, &cms, cm, NULL, &first, &err) == 0, "create", &err);
    const char *uid = mp_kube_meta(first, "uid");
    CHECK(uid && *uid, "create returns a uid", NULL);
    CHECK(mp_kube_create(x->c, &cms, cm, NULL, NULL, &err) == MP_EEXISTS &&
              strstr(err.msg, "already exists"),
          "a second create is AlreadyExists", &err);
    CHECK(mp_kube_get(x->c, &one, NULL, &out, &err) == 0 && strcmp(data_of(out, "k"), "v1") == 0,
          "get", &err);
    json_decref(out);
    json_t *cm2 = configmap(name2, x->run, "w");
    CHECK(mp_kube_create(x->c, &cms, cm2, NULL, NULL, &err) == 0, "create a second", &err);
    char *sel = mp_xasprintf("kclient-test=%s", x->run);
    struct mp_kube_opts lo = {.label_selector = sel, .limit = 1};
    CHECK(mp_kube_list_all(x->c, &cms, &lo, &out, &err) == 0 &&
              json_array_size(json_object_get(out, "items")) == 2,
          "list two pages of one", &err);
    json_decref(out);

    json_object_set_new(json_object_get(first, "data"), "k", json_string("v2"));
    CHECK(mp_kube_update(x->c, &one, first, NULL, &out, &err) == 0, "update", &err);
    CHECK(strcmp(mp_kube_meta(out, "resourceVersion"), mp_kube_meta(first, "resourceVersion")),
          "an update changes the resourceVersion", NULL);
    json_decref(out);
    CHECK(mp_kube_update(x->c, &one, first, NULL, NULL, &err) == MP_ECONFLICT,
          "an update from a stale resourceVersion is a Conflict", &err);

    json_t *merge = json_pack("{s:{s:s}}", "data", "k2", "m");
    json_t *jp = json_pack("[{s:s, s:s, s:s}]", "op", "add", "path", "/data/k3", "value", "j");
    json_t *apply =
        json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                  "metadata", "name", name, "namespace", NS, "data", "k4", "a");
    struct mp_kube_opts ao = {.field_manager = "kclient-check", .force = true};
    CHECK(mp_kube_patch(x->c, &one, MP_KUBE_PATCH_MERGE, merge, NULL, NULL, &err) == 0,
          "merge patch", &err);
    CHECK(mp_kube_patch(x->c, &one, MP_KUBE_PATCH_JSON, jp, NULL, NULL, &err) == 0, "JSON patch",
          &err);
    CHECK(mp_kube_patch(x->c, &one, MP_KUBE_PATCH_APPLY, apply, &ao, &out, &err) == 0,
          "server-side apply", &err);
    CHECK(strcmp(data_of(out, "k2"), "m") == 0 && strcmp(data_of(out, "k3"), "j") == 0 &&
              strcmp(data_of(out, "k4"), "a") == 0,
          "the patches are applied", NULL);
    json_decref(out);

    struct mp_kube_opts wrong = {.precondition_uid = "not-the-uid"};
    CHECK(mp_kube_delete(x->c, &one, &wrong, NULL, &err) == MP_ECONFLICT,
          "a delete with a wrong uid precondition is a Conflict", &err);
    struct mp_kube_opts del = {.precondition_uid = uid, .propagation_policy = "Background"};
    CHECK(mp_kube_delete(x->c, &one, &del, NULL, &err) == 0, "delete", &err);
    CHECK(mp_kube_get(x->c, &one, NULL, NULL, &err) == MP_ENOTFOUND, "gone after delete", &err);
    struct mp_kube_ref two = named(&cms, name2);
    CHECK(mp_kube_delete(x->c, &two, NULL, NULL, &err) == 0, "delete the second", &err);

    json_t *bad = configmap("Bad_Name", NULL, "x");
    CHECK(mp_kube_create(x->c, &cms, bad, NULL, NULL, &err) == MP_EREJECTED,
          "an invalid name is rejected (422)", &err);
    json_decref(bad);
    json_decref(merge);
    json_decref(jp);
    json_decref(apply);
    free(sel);
    json_decref(cm2);
    json_decref(first);
    json_decref(cm);
}

static json_t *deployment(const char *name, const char *run)
{
    json_t *d = mp_kube_object_new("apps/v1", "Deployment", NS, name);
    mp_kube_set_label(d, "kclient-test", run);
    json_object_set_new(d, "spec",
                        json_pack("{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:{s:[{s:s, s:s}]}}}",
                                  "replicas", 1, "selector", "matchLabels", "app", name, "template",
                                  "metadata", "labels", "app", name, "spec", "containers", "name",
                                  "c", "image", "morphling/fake-service:test"));
    return d;
}

static int until_deleted(void *ud, const struct mp_kube_event *ev)
{
    (void)ud;
    return ev->type == MP_KUBE_DELETED ? 1 : 0;
}

/* The status subresource, and a Foreground delete waited for with a watch. */
static void crud_deployment(struct ctx *x, const char *name)
{
    struct mp_error err = {0};
    const struct mp_kube_ref deps = {"apps", "v1", "deployments", NS, NULL, NULL};
    struct mp_kube_ref one = named(&deps, name), status = one;
    status.subresource = "status";
    json_t *d = deployment(name, x->run), *out = NULL;
    CHECK(mp_kube_create(x->c, &deps, d, NULL, &out, &err) == 0, "create a Deployment", &err);
    json_t *st = json_pack("{s:{s:i}}", "status", "observedGeneration", 1);
    CHECK(mp_kube_patch(x->c, &status, MP_KUBE_PATCH_MERGE, st, NULL, NULL, &err) == 0,
          "patch the status subresource", &err);
    json_object_set_new(json_object_get(out, "spec"), "replicas", json_integer(2));
    json_object_set_new(out, "status", json_pack("{s:i}", "observedGeneration", 99));
    json_object_del(json_object_get(out, "metadata"), "resourceVersion");
    CHECK(mp_kube_update(x->c, &one, out, NULL, NULL, &err) == 0, "update the Deployment", &err);
    json_decref(out);
    CHECK(mp_kube_get(x->c, &one, NULL, &out, &err) == 0, "get the Deployment", &err);
    json_int_t gen =
        json_integer_value(json_object_get(json_object_get(out, "status"), "observedGeneration"));
    json_int_t replicas =
        json_integer_value(json_object_get(json_object_get(out, "spec"), "replicas"));
    CHECK(gen == 1 && replicas == 2, "an update of the main resource ignores status", NULL);
    json_decref(out);
    struct mp_kube_opts fg = {.propagation_policy = "Foreground"};
    CHECK(mp_kube_delete(x->c, &one, &fg, NULL, &err) == 0, "Foreground delete", &err);
    int rc = mp_kube_get(x->c, &one, NULL, &out, &err);
    if (rc == 0) {
        struct mp_kube_opts wo = {.resource_version = mp_kube_meta(out, "resourceVersion"),
                                  .timeout_seconds = 60};
        rc = mp_kube_watch(x->c, &one, &wo, until_deleted, NULL, &err);
        CHECK(rc == 1, "a watch sees the Deployment deleted", &err);
        json_decref(out);
    } else {
        CHECK(rc == MP_ENOTFOUND, "the Deployment is gone", &err);
    }
    json_decref(st);
    json_decref(d);
}

static void crud(struct ctx *x)
{
    char *name = mp_xasprintf("kc-%s-%s", x->run, x->context);
    char *name2 = mp_xasprintf("kc-%s-%s-2", x->run, x->context);
    crud_configmaps(x, name, name2);
    crud_deployment(x, name);
    free(name);
    free(name2);
}

/* ---- faults (admin) ---- */

static void faults(struct ctx *x)
{
    struct mp_error err = {0};
    char *name = mp_xasprintf("kc-%s-faults", x->run);
    struct mp_kube_ref one = named(&cms, name);
    json_t *cm = configmap(name, x->run, "v1");
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info};

    hook(x, "POST", "/_test/faults", "{\"code\":500,\"count\":1,\"verb\":\"create\"}");
    CHECK(mp_kube_create(x->c, &cms, cm, &o, NULL, &err) == MP_ESERVERERROR && info.attempts == 1,
          "a create answered 500 is not resent", &err);
    CHECK(mp_kube_create(x->c, &cms, cm, &o, NULL, &err) == 0, "create", &err);

    char *body = mp_xasprintf("{\"code\":429,\"count\":2,\"retryAfter\":1,\"verb\":\"get\","
                              "\"path\":\"%s$\"}",
                              name);
    hook(x, "POST", "/_test/faults", body);
    free(body);
    CHECK(mp_kube_get(x->c, &one, &o, NULL, &err) == 0 && info.attempts == 3,
          "a get through two 429s", &err);
    hook(x, "POST", "/_test/faults", "{\"code\":503,\"count\":2,\"verb\":\"list\"}");
    CHECK(mp_kube_list(x->c, &cms, &o, NULL, &err) == 0 && info.attempts == 3,
          "a list through two 503s", &err);
    hook(x, "POST", "/_test/faults", "{\"code\":409,\"count\":1,\"verb\":\"patch\"}");
    json_t *merge = json_pack("{s:{s:s}}", "data", "k", "v2");
    CHECK(mp_kube_patch(x->c, &one, MP_KUBE_PATCH_MERGE, merge, &o, NULL, &err) == MP_ECONFLICT,
          "an injected Conflict", &err);

    hook(x, "PUT", "/_test/policy",
         "{\"deny\":[{\"user\":\"admin\",\"verb\":\"create\",\"resource\":\"deployments\","
         "\"namespace\":\"" NS "\"}]}");
    const struct mp_kube_ref deps = {"apps", "v1", "deployments", NS, NULL, NULL};
    json_t *d = deployment(name, x->run);
    int rc = mp_kube_create(x->c, &deps, d, NULL, NULL, &err);
    hook(x, "PUT", "/_test/policy", "{\"deny\":[]}");
    CHECK(rc == MP_EFORBIDDEN &&
              strstr(err.msg, "create /apis/apps/v1/namespaces/" NS "/deployments: ") == err.msg &&
              strstr(err.msg, "User \"admin\" cannot create resource \"deployments\"") &&
              strstr(err.msg, "(Forbidden, HTTP 403)"),
          "a denied create names the verb, the path and the server's message", &err);
    hook(x, "DELETE", "/_test/faults", NULL);
    CHECK(mp_kube_delete(x->c, &one, NULL, NULL, &err) == 0, "delete", &err);
    json_decref(d);
    json_decref(merge);
    json_decref(cm);
    free(name);
}

/* ---- watch (admin) ---- */

struct seen {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char names[1024]; /* ",a,b," of objects currently known */
    unsigned replaces;
    char last_replace[1024];
};

static void set_names(struct seen *s, json_t *items)
{
    size_t i;
    json_t *it;
    snprintf(s->names, sizeof(s->names), ",");
    json_array_foreach (items, i, it) {
        size_t n = strlen(s->names);
        snprintf(s->names + n, sizeof(s->names) - n, "%s,", mp_kube_meta(it, "name"));
    }
}

static int on_replace(void *ud, json_t *items, const char *rv)
{
    (void)rv;
    struct seen *s = ud;
    pthread_mutex_lock(&s->mu);
    set_names(s, items);
    s->replaces++;
    snprintf(s->last_replace, sizeof(s->last_replace), "%s", s->names);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

static int on_event(void *ud, const struct mp_kube_event *ev)
{
    struct seen *s = ud;
    char key[300];
    snprintf(key, sizeof(key), ",%s,", mp_kube_meta(ev->object, "name"));
    pthread_mutex_lock(&s->mu);
    char *at = strstr(s->names, key);
    if (ev->type == MP_KUBE_DELETED && at) {
        memmove(at, at + strlen(key) - 1, strlen(at + strlen(key) - 1) + 1);
    } else if (ev->type != MP_KUBE_DELETED && !at) {
        size_t n = strlen(s->names);
        snprintf(s->names + n, sizeof(s->names) - n, "%s", key + 1);
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Waits (a minute at most) until the reflector knows object `name`. */
static void wait_known(struct seen *s, const char *name)
{
    char key[300];
    snprintf(key, sizeof(key), ",%s,", name);
    struct timespec limit;
    clock_gettime(CLOCK_REALTIME, &limit);
    limit.tv_sec += 60;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (!strstr(s->names, key) && rc == 0) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &limit);
    }
    pthread_mutex_unlock(&s->mu);
    CHECK(rc == 0, "the reflector saw the object in time", NULL);
}

struct reflector {
    struct ctx *x;
    struct seen *seen;
    struct mp_kube_cancel *stop;
    char *selector;
    int rc;
    struct mp_error err;
};

static void *reflect(void *arg)
{
    struct reflector *r = arg;
    static const struct mp_kube_reflector_ops ops = {on_replace, on_event, NULL, false};
    struct mp_kube_opts o = {.label_selector = r->selector, .limit = 2};
    r->rc = mp_kube_reflect(r->x->c, &cms, &o, &ops, r->seen, r->stop, &r->err);
    return NULL;
}

/* With a deterministic name the create may be resent after a lost answer (retry_unsafe); an
 * AlreadyExists after such a resend is our own object. */
static void create_cm(struct ctx *x, const char *name, const char *label)
{
    struct mp_error err = {0};
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.retry_unsafe = true, .info = &info};
    json_t *cm = configmap(name, label, "v");
    int rc = mp_kube_create(x->c, &cms, cm, &o, NULL, &err);
    CHECK(rc == 0 || (rc == MP_EEXISTS && info.maybe_applied), name, &err);
    json_decref(cm);
}

static unsigned replaces(struct seen *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->replaces;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void watch(struct ctx *x)
{
    struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    char *label = mp_xasprintf("%s-w", x->run);
    struct reflector r = {.x = x,
                          .seen = &seen,
                          .stop = mp_kube_cancel_new(),
                          .selector = mp_xasprintf("kclient-test=%s", label)};
    const char *names[] = {"a", "b", "c", "d", "e", "x", "y"};
    char *full[MP_ARRAY_LEN(names)];
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        full[i] = mp_xasprintf("kc-%s-%s", label, names[i]);
    }
    pthread_t t;
    pthread_create(&t, NULL, reflect, &r);
    create_cm(x, full[0], label);
    wait_known(&seen, full[0]);

    /* A dropped watch: watched again from the last resourceVersion, nothing listed again. */
    hook(x, "POST", "/_test/drop-watches", "{}");
    create_cm(x, full[1], label);
    wait_known(&seen, full[1]);
    CHECK(replaces(&seen) == 1, "a dropped watch is resumed without a new list", NULL);

    /* A change the watch does not see, a compaction and a drop: the resumed watch is too old
     * (410), so the reflector lists again. */
    create_cm(x, full[5], NULL);
    hook(x, "POST", "/_test/compact", "{}");
    hook(x, "POST", "/_test/drop-watches", "{}");
    create_cm(x, full[2], label);
    wait_known(&seen, full[2]);
    CHECK(replaces(&seen) == 2, "a 410 makes the reflector list again", NULL);
    char *want = mp_xasprintf(",%s,%s,", full[0], full[1]);
    pthread_mutex_lock(&seen.mu);
    bool relisted = strstr(seen.last_replace, want) == seen.last_replace;
    pthread_mutex_unlock(&seen.mu);
    CHECK(relisted, "the new list has the objects", NULL);

    /* A bookmark carries the resourceVersion past an unseen change: after a compaction and a
     * drop the watch resumes without a 410. */
    create_cm(x, full[6], NULL);
    hook(x, "POST", "/_test/bookmark", "{}");
    hook(x, "POST", "/_test/compact", "{}");
    hook(x, "POST", "/_test/drop-watches", "{}");
    create_cm(x, full[3], label);
    wait_known(&seen, full[3]);
    CHECK(replaces(&seen) == 2, "a bookmark's resourceVersion resumes the watch", NULL);

    /* The API server restarts (same port, same objects): the watch resumes. */
    restart(x);
    create_cm(x, full[4], label);
    wait_known(&seen, full[4]);

    mp_kube_cancel_fire(r.stop);
    pthread_join(t, NULL);
    CHECK(r.rc == 0, "the reflector stops cleanly", &r.err);
    struct mp_error err = {0};
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        struct mp_kube_ref one = named(&cms, full[i]);
        CHECK(mp_kube_delete(x->c, &one, NULL, NULL, &err) == 0, "clean up", &err);
        free(full[i]);
    }
    free(want);
    free(r.selector);
    mp_kube_cancel_free(r.stop);
    free(label);
}

/* ---- expiry (exec, with MORPHLING_EXEC_TTL=3) ---- */

static void expiry(struct ctx *x)
{
    struct mp_error err = {0};
    struct mp_kube_info info = {0};
    struct mp_kube_opts o = {.info = &info};
    const struct mp_kube_ref ns = {"", "v1", "namespaces", NULL, NS, NULL};
    CHECK(mp_kube_get(x->c, &ns, &o, NULL, &err) == 0, "get", &err);
    CHECK(info.attempts == 1, "get in one try", NULL);
    /* Past the token's expiry (whole seconds after the plugin ran): the client must run the
     * plugin again before sending, so the server never sees the expired token (no 401, one
     * try). */
    struct timespec pause = {4, 200000000};
    nanosleep(&pause, NULL);
    CHECK(mp_kube_get(x->c, &ns, &o, NULL, &err) == 0, "get after the token expired", &err);
    CHECK(info.attempts == 1, "no 401: the expired token was never sent", NULL);
}

int main(int argc, char **argv)
{
    const char *kubeconfig = NULL, *context = NULL, *run = NULL, *what = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--kubeconfig") == 0) {
            kubeconfig = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--context") == 0) {
            context = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--run") == 0) {
            run = argv[++i];
        } else {
            what = argv[i];
        }
    }
    if (!kubeconfig || !context || !run || !what) {
        fprintf(stderr, "usage: kube_client_check --kubeconfig FILE --context NAME --run ID "
                        "crud|faults|watch|expiry\n");
        return 2;
    }
    struct mp_kube_load_opts lo = {.kubeconfig = kubeconfig, .context = context};
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client_opts co = {.backoff_initial_ms = 50};
    struct ctx x = {.run = run, .context = context};
    struct mp_error err = {0};
    CHECK(mp_kube_config_load(&lo, &cfg, &err) == 0, "load the kubeconfig", &err);
    CHECK(mp_kube_client_new(cfg, &co, &x.c, &err) == 0, "client", &err);
    if (strcmp(what, "crud") == 0) {
        crud(&x);
    } else if (strcmp(what, "faults") == 0) {
        faults(&x);
    } else if (strcmp(what, "watch") == 0) {
        watch(&x);
    } else if (strcmp(what, "expiry") == 0) {
        expiry(&x);
    } else {
        fprintf(stderr, "unknown check '%s'\n", what);
        return 2;
    }
    mp_kube_client_free(x.c);
    printf("ok: %s %s\n", context, what);
    return 0;
}
