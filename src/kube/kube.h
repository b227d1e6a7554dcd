/* SPDX-License-Identifier: Apache-2.0 */
/* Kubernetes API client: configuration (kubeconfig files, exec credential plugins, in-cluster
 * service accounts), a thread-safe HTTPS transport with deadlines and retries, the REST verbs
 * (get, list, watch, create, update, patch, delete), a list-then-watch loop ("reflector"),
 * helpers for object metadata, names and resource quantities. Objects are jansson values; the
 * client knows nothing of experiments. docs/internals/kube.md describes the design.
 *
 * Errors. Every fallible function returns 0 or a negative code and fills an optional
 * struct mp_error. Configuration errors are MP_EINVALID (or -errno for unreadable files) and
 * name the kubeconfig file, line, column and field: "kc.yaml:7:7: 'users[0].user.token': ...".
 * A failed call names the verb, the resource path and the server's Status:
 *   create /apis/apps/v1/namespaces/y/deployments: deployments.apps is forbidden: User "x"
 *   cannot create resource "deployments" ... (Forbidden, HTTP 403)
 * and returns a code from the Status reason (or the HTTP code when the reason is missing):
 *   NotFound -> MP_ENOTFOUND, AlreadyExists -> MP_EEXISTS, Conflict -> MP_ECONFLICT,
 *   Gone / Expired -> MP_EEXPIRED, Unauthorized -> MP_EUNAUTHORIZED, Forbidden -> MP_EFORBIDDEN,
 *   Invalid -> MP_EREJECTED, BadRequest -> MP_EBADREQUEST, TooManyRequests -> MP_ETHROTTLED,
 *   ServerTimeout / Timeout -> MP_ESERVERTIMEOUT, ServiceUnavailable -> MP_EUNAVAILABLE,
 *   InternalError and other 5xx -> MP_ESERVERERROR, MethodNotAllowed / NotAcceptable /
 *   UnsupportedMediaType -> MP_EUNSUPPORTED, RequestEntityTooLarge -> MP_ETOOBIG.
 * Credentials that cannot be had (an exec plugin that fails or cannot run, a token file that
 * cannot be read) fail the call MP_EUNAUTHORIZED with the plugin's or file's error, as a 401.
 * Without an answer: MP_ETRANSPORT (connection, TLS), MP_EDEADLINE (the call's deadline passed),
 * MP_ECANCELLED (its cancel token fired), MP_EPARSE (the answer is not what the API sends).
 *
 * Ownership. Functions returning json_t ** or char ** give the caller a new reference / an owned
 * string. Objects passed in (const json_t *) are borrowed for the call. Strings in option
 * structs are borrowed for the call. mp_kube_client_new takes the configuration.
 *
 * Thread-safety. A configuration is immutable once loaded. A client may be used from any number
 * of threads at once (connections are pooled; credentials are refreshed under a lock); a watch
 * or reflector runs on the calling thread until it ends. Cancel tokens may be fired from any
 * thread. Callbacks run on the thread that made the call. The helpers for objects,
 * quantities and names are reentrant and touch only their arguments. */
#ifndef MP_KUBE_H
#define MP_KUBE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- configuration -------------------------------------------------------------------------- */

#define MP_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Where the configuration comes from. Zero-initialise; every field is optional. */
struct mp_kube_load_opts {
    /* --kubeconfig: this one file, which must exist. NULL: the colon-separated list in
     * $KUBECONFIG (missing files skipped, merged as kubectl does: the first file to define a
     * cluster, user or context name or current-context wins), else ~/.kube/config. Each file
     * may hold up to MP_DOC_MAX_PARSE_BYTES (8 MiB). */
    const char *kubeconfig;
    const char *context; /* --context; NULL: the current-context */
    /* When no kubeconfig file exists (and none was named) but KUBERNETES_SERVICE_HOST is set,
     * use the in-cluster configuration, as client-go's default loading rules do. */
    bool in_cluster_fallback;
    /* How the caller's user names a kubeconfig, for the error when none exists; NULL: "--kubeconfig
     * or $KUBECONFIG" (serve --kube, operator; run and validate have no such option). */
    const char *name_one;
    /* How the caller's user chooses a context, for the error when the kubeconfig sets no
     * current-context; NULL: "--context" (run and validate have no such option either). */
    const char *name_context;
    /* Seams for tests; NULL reads the process environment / the standard folder. */
    const char *kubeconfig_env; /* the value of $KUBECONFIG ("" = unset) */
    const char *home;           /* $HOME */
    const char *sa_dir;         /* MP_KUBE_SA_DIR: token, ca.crt, namespace */
    const char *service_host;   /* $KUBERNETES_SERVICE_HOST */
    const char *service_port;   /* $KUBERNETES_SERVICE_PORT */
};

/* How the client authenticates (from the selected user; NONE for an http:// server, to which
 * credentials are never sent, as kubectl). */
enum mp_kube_auth {
    MP_KUBE_AUTH_NONE,
    MP_KUBE_AUTH_TOKEN,      /* user.token */
    MP_KUBE_AUTH_TOKEN_FILE, /* user.tokenFile or the service-account token: re-read on change */
    MP_KUBE_AUTH_CERT,       /* client certificate and key only */
    MP_KUBE_AUTH_EXEC,       /* user.exec credential plugin */
};

struct mp_kube_config;

/* Loads and validates the kubeconfig the options select. Every file a field names
 * (certificate-authority, client-certificate, client-key, tokenFile) must be readable now;
 * relative paths are relative to the kubeconfig file that holds them. *out is owned. */
int mp_kube_config_load(const struct mp_kube_load_opts *o, struct mp_kube_config **out,
                        struct mp_error *err) MP_WUR;
/* The configuration of a pod's service account (o may be NULL): server from
 * KUBERNETES_SERVICE_HOST/_PORT, token (re-read when the file changes), ca.crt and namespace
 * from the service-account folder. */
int mp_kube_config_in_cluster(const struct mp_kube_load_opts *o, struct mp_kube_config **out,
                              struct mp_error *err) MP_WUR;
/* One kubeconfig held in memory, named `name` in messages (relative paths resolve against
 * name's folder); context NULL selects current-context. For tests and fuzzing. */
int mp_kube_config_parse(const char *text, size_t len, const char *name, const char *context,
                         struct mp_kube_config **out, struct mp_error *err) MP_WUR;
void mp_kube_config_free(struct mp_kube_config *cfg);

/* Accessors; the strings live as long as cfg. */
const char *mp_kube_config_server(const struct mp_kube_config *cfg); /* no trailing '/' */
/* The context's namespace (in-cluster: $POD_NAMESPACE, else the service account's), "default"
 * when unset. */
const char *mp_kube_config_namespace(const struct mp_kube_config *cfg);
const char *mp_kube_config_context(const struct mp_kube_config *cfg); /* "" in-cluster */
/* The kubeconfig file(s) read, ':'-separated, or the service-account folder. */
const char *mp_kube_config_source(const struct mp_kube_config *cfg);
enum mp_kube_auth mp_kube_config_auth(const struct mp_kube_config *cfg);

/* ---- client --------------------------------------------------------------------------------- */

/* Test seams: the wall clock (exec credential expiry) and the wait between retries. The sleep
 * function returns 0, or non-zero to give up retrying (the call then fails with its last
 * error). */
typedef int64_t (*mp_kube_clock_fn)(void *ud);
typedef int (*mp_kube_sleep_fn)(void *ud, int64_t delay_ms);

/* Zero-initialise; 0 / NULL picks the default shown. */
struct mp_kube_client_opts {
    int64_t timeout_ms;         /* 30000: deadline of a call, retries included */
    unsigned max_attempts;      /* 10: tries of one call (1 = no retries) */
    int64_t backoff_initial_ms; /* 250: first wait between tries, doubled each time */
    int64_t backoff_max_ms;     /* 8000: cap of that wait (before jitter) */
    size_t max_body_bytes;      /* 256 MiB: larger answers fail with MP_ETOOBIG */
    const char *user_agent;     /* "morphling/VERSION" */
    uint64_t seed;              /* seeds the jitter */
    mp_kube_clock_fn wall_clock;
    void *clock_ud;
    mp_kube_sleep_fn sleep;
    void *sleep_ud;
};

struct mp_kube_client;

/* Creates a client for cfg, which it takes over (also on failure); o may be NULL. */
int mp_kube_client_new(struct mp_kube_config *cfg, const struct mp_kube_client_opts *o,
                       struct mp_kube_client **out, struct mp_error *err) MP_WUR;
/* No call may be in flight. Accepts NULL. */
void mp_kube_client_free(struct mp_kube_client *c);
const struct mp_kube_config *mp_kube_client_config(const struct mp_kube_client *c);

/* A cancel token ends the calls that carry it, from any thread: an in-flight request or a wait
 * between retries returns MP_ECANCELLED at once (a reflector returns 0). Once fired it stays
 * fired; calls started with a fired token fail at once. Free it only when no call uses it. */
struct mp_kube_cancel;
struct mp_kube_cancel *mp_kube_cancel_new(void);
void mp_kube_cancel_fire(struct mp_kube_cancel *t);
bool mp_kube_cancel_fired(struct mp_kube_cancel *t);
void mp_kube_cancel_free(struct mp_kube_cancel *t);

/* ---- resources and calls -------------------------------------------------------------------- */

/* A resource, a collection or a subresource:
 *   {"", "v1", "pods", "ns", NULL, NULL}              -> /api/v1/namespaces/ns/pods
 *   {"apps", "v1", "deployments", "ns", "d", "status"}
 *                                   -> /apis/apps/v1/namespaces/ns/deployments/d/status
 * group NULL or "" is the core group; ns NULL or "" is cluster-scoped (or all namespaces for a
 * list or watch). Names must be valid path segments (not "." or "..", no '/' or '%'). */
struct mp_kube_ref {
    const char *group;
    const char *version;
    const char *resource; /* plural, lower case */
    const char *ns;
    const char *name;
    const char *subresource;
};

/* What a call reports besides its result (optional; see mp_kube_opts.info). */
struct mp_kube_info {
    int http_status;    /* of the last answer; 0 when none came */
    unsigned attempts;  /* tries made */
    bool maybe_applied; /* a create was sent again after a try whose answer was lost: an
                           MP_EEXISTS may be the object this call created (adopt it) */
};

/* Per-call options; zero-initialise and set what applies. Strings are borrowed. */
struct mp_kube_opts {
    int64_t timeout_ms;            /* all verbs: 0 = the client's; watch: until it is open */
    struct mp_kube_cancel *cancel; /* all verbs */
    struct mp_kube_info *info;     /* all verbs: filled on return when non-NULL */
    /* list, watch */
    const char *label_selector;
    const char *field_selector;
    const char *resource_version; /* list: "" = most recent, "0" = any; watch: start after */
    int64_t limit;                /* list: page size (0 = all at once) */
    const char *continue_token;   /* list: the previous page's metadata.continue */
    int64_t timeout_seconds;      /* watch: the server closes it after this (0: none asked) */
    bool allow_bookmarks;         /* watch */
    /* create, update, patch */
    const char *field_manager; /* required for MP_KUBE_PATCH_APPLY */
    bool force;                /* apply: take over conflicting fields */
    bool dry_run;              /* also delete */
    /* "Strict": unknown or duplicate fields are refused (400), not dropped with a warning (the
     * API server's default, "Warn"); NULL: the default */
    const char *field_validation;
    bool retry_unsafe; /* create, JSON patch: resend after a lost answer (see info) */
    /* delete */
    const char *propagation_policy; /* "Foreground", "Background", "Orphan" or NULL */
    const char *precondition_uid;
    const char *precondition_rv;
    int64_t grace_period_seconds; /* used when has_grace_period */
    bool has_grace_period;
};

/* Retries. A call ends at its deadline, after max_attempts tries, or at a final answer.
 * GET, LIST, watch set-up, update (PUT, guarded by resourceVersion), merge / strategic / apply
 * patches and DELETE are retried after connection errors, lost answers, 429 and 500/502/503/504,
 * with exponential backoff and jitter, or after the server's Retry-After when it sends one (a
 * wait that would pass the deadline ends the call, saying so). A create (POST) and a JSON patch
 * are resent only when the server cannot have acted: a 429, or a connection that could not be
 * opened; after a lost answer or a 5xx only with opts.retry_unsafe, and then
 * info->maybe_applied says an MP_EEXISTS may be the caller's own object. They always use a
 * fresh connection, because libcurl would otherwise resend them by itself when a reused
 * connection turns out dead. A 401 with a refreshable credential (exec plugin, token file)
 * refreshes it and tries once more. */

/* GET one object (or subresource). *out (may be NULL) receives the object. */
int mp_kube_get(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;
/* One page of a collection (opts: selectors, resource_version, limit, continue_token); the
 * list object's metadata.continue is set when more pages follow. A ref->name lists that one
 * object through a metadata.name field selector. */
int mp_kube_list(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                 const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;
/* Every page (opts->limit is the page size), merged into one list object whose
 * metadata.resourceVersion is the snapshot's. A continue token that expires mid-way restarts
 * the list once without pages. */
int mp_kube_list_all(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                     const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;
/* POST obj to the collection ref names, or to a named object's subresource (ref->name and
 * ref->subresource set: pods/eviction, serviceaccounts/token). */
int mp_kube_create(struct mp_kube_client *c, const struct mp_kube_ref *ref, const json_t *obj,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;
/* PUT obj (its metadata.resourceVersion guards against lost updates: MP_ECONFLICT). ref->name
 * NULL takes obj's metadata.name; subresource "status" updates the status only. */
int mp_kube_update(struct mp_kube_client *c, const struct mp_kube_ref *ref, const json_t *obj,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;

enum mp_kube_patch_type {
    MP_KUBE_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
    MP_KUBE_PATCH_JSON,      /* application/json-patch+json (RFC 6902): an array */
    MP_KUBE_PATCH_STRATEGIC, /* application/strategic-merge-patch+json (built-in types) */
    MP_KUBE_PATCH_APPLY,     /* server-side apply: application/apply-patch+yaml */
};

int mp_kube_patch(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                  enum mp_kube_patch_type type, const json_t *patch, const struct mp_kube_opts *o,
                  json_t **out, struct mp_error *err) MP_WUR;
/* DELETE with DeleteOptions from opts (propagation policy, preconditions, grace period,
 * dry run). *out (may be NULL): what the server answered (the object, or a Status). */
int mp_kube_delete(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                   const struct mp_kube_opts *o, json_t **out, struct mp_error *err) MP_WUR;
/* Any request to a path below the server ("/version",
 * "/api/v1/namespaces/n/pods/p/log?tailLines=5",
 * "/healthz"), whose answer need not be JSON: method "GET", "POST", "PUT", "PATCH" or "DELETE",
 * body (may be NULL) sent as application/json (PATCH: merge patch). GET, PUT and DELETE are
 * retried as above, POST and PATCH as a create. *out (may be NULL) is owned and
 * NUL-terminated; *len may be NULL. */
int mp_kube_raw(struct mp_kube_client *c, const char *method, const char *path, const char *body,
                const struct mp_kube_opts *o, char **out, size_t *len, struct mp_error *err) MP_WUR;

/* ---- watch ---------------------------------------------------------------------------------- */

enum mp_kube_event_type {
    MP_KUBE_ADDED,
    MP_KUBE_MODIFIED,
    MP_KUBE_DELETED,
    MP_KUBE_BOOKMARK, /* object carries only metadata.resourceVersion */
};

struct mp_kube_event {
    enum mp_kube_event_type type;
    json_t *object;               /* borrowed; json_incref to keep it */
    const char *resource_version; /* the object's, "" when missing; borrowed */
};

/* Returns 0 to go on; anything else ends the watch, which returns that value. */
typedef int (*mp_kube_event_fn)(void *ud, const struct mp_kube_event *ev);

/* Watches the collection ref names (a ref->name watches that one object through a
 * metadata.name field selector) and hands every event to fn on this thread. Returns 0 when
 * the server ends the stream (a timeout, a restart: watch again from the last
 * resource_version), fn's non-zero value, MP_EEXPIRED when the resource version is too old
 * (HTTP 410 or an ERROR event: list again), MP_ECANCELLED, or another error. opts->timeout_ms
 * bounds the set-up; the stream may then last timeout_seconds (plus a margin) or, without
 * that, until it ends or is cancelled. */
int mp_kube_watch(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                  const struct mp_kube_opts *o, mp_kube_event_fn fn, void *ud,
                  struct mp_error *err) MP_WUR;

/* What a reflector tells its user. The callbacks run on the reflector's thread. */
struct mp_kube_reflector_ops {
    /* After each (re)list: the complete current set (a borrowed JSON array of objects) and the
     * list's resourceVersion. Anything not in items no longer exists. */
    int (*replace)(void *ud, json_t *items, const char *resource_version);
    /* Each ADDED / MODIFIED / DELETED event after that. */
    mp_kube_event_fn event;
    /* Optional: a transient failure the reflector retries after a backoff (for logs). */
    void (*retrying)(void *ud, const struct mp_error *err);
    /* The user wants the events alone, not the objects that exist: each (re)list reads one page
     * of at most one object, for the collection's resourceVersion, and replace (when set) gets
     * an empty items array. Time and memory then do not grow with the collection (the
     * operator's watch of deleted Trials, among all the Trials in its scope). */
    bool events_only;
};

/* List, then watch from the list's resourceVersion; re-watch from the last resourceVersion
 * seen (events and bookmarks) when a watch ends, re-list after a 410, back off and retry after
 * transient failures (connection, 429, 5xx, deadline). opts: selectors, page size (limit),
 * timeout_ms of each call, timeout_seconds of each watch (default 300). Runs on this thread
 * until `stop` fires (returns 0), a callback returns non-zero (returned), or a failure retrying
 * cannot fix (MP_EFORBIDDEN, MP_EUNAUTHORIZED, MP_ENOTFOUND, MP_EBADREQUEST, ...). */
int mp_kube_reflect(struct mp_kube_client *c, const struct mp_kube_ref *ref,
                    const struct mp_kube_opts *o, const struct mp_kube_reflector_ops *ops, void *ud,
                    struct mp_kube_cancel *stop, struct mp_error *err) MP_WUR;

/* ---- paths ---------------------------------------------------------------------------------- */

/* The path of ref below the server, without a query: "/api/v1/namespaces/ns/pods/p". Owned. */
int mp_kube_path(const struct mp_kube_ref *ref, char **out, struct mp_error *err) MP_WUR;
/* Appends "?k=v" or "&k=v" to b with k and v percent-encoded (RFC 3986 unreserved kept). */
void mp_kube_query_add(struct mp_buf *b, const char *key, const char *value);

/* ---- objects -------------------------------------------------------------------------------- */

/* {"apiVersion", "kind", "metadata": {"name", "namespace"}}; ns and name may be NULL. New
 * reference. */
json_t *mp_kube_object_new(const char *api_version, const char *kind, const char *ns,
                           const char *name);
/* metadata.<field> as a string ("name", "namespace", "uid", "resourceVersion",
 * "generateName", "deletionTimestamp", ...), NULL when absent or not a string. Borrowed. */
const char *mp_kube_meta(const json_t *obj, const char *field);
/* "namespace/name" of obj (an empty part when absent): the key of a cache of watched objects.
 * Owned by the caller. */
char *mp_kube_key(const json_t *obj);
/* metadata.labels[key] / metadata.annotations[key], NULL when absent. Borrowed. */
const char *mp_kube_label(const json_t *obj, const char *key);
const char *mp_kube_annotation(const json_t *obj, const char *key);
/* Set metadata.labels[key] / metadata.annotations[key], creating the maps. */
void mp_kube_set_label(json_t *obj, const char *key, const char *value);
void mp_kube_set_annotation(json_t *obj, const char *key, const char *value);
/* Appends an ownerReference to owner (its apiVersion, kind, metadata.name and uid, which must
 * be set: MP_EINVALID otherwise) with controller and blockOwnerDeletion as given. */
int mp_kube_add_owner(json_t *obj, const json_t *owner, bool controller, bool block_deletion,
                      struct mp_error *err) MP_WUR;
/* Whether obj has an ownerReference with this uid. */
bool mp_kube_owned_by(const json_t *obj, const char *uid);
/* The uid of the ownerReference with controller: true, NULL if none. Borrowed. */
const char *mp_kube_controller_uid(const json_t *obj);
/* "k1=v1,k2=v2" (keys sorted) for the string map labels, for opts.label_selector. Owned. */
char *mp_kube_selector(const json_t *labels);

/* Name and label rules of the API server (apimachinery validation). Errors quote the value
 * and say which rule it breaks; `what` names the field in the message. */
enum mp_kube_name_rule {
    MP_KUBE_DNS_SUBDOMAIN, /* most objects: <= 253, [a-z0-9.-], alphanumeric at both ends */
    MP_KUBE_DNS_LABEL,     /* namespaces, services: <= 63, [a-z0-9-], alphanumeric ends */
};
int mp_kube_check_name(const char *name, enum mp_kube_name_rule rule, const char *what,
                       struct mp_error *err) MP_WUR;
/* Label key ([prefix/]name) and value (may be empty). */
int mp_kube_check_label(const char *key, const char *value, struct mp_error *err) MP_WUR;

/* RFC 3339 time as the API writes it ("2024-05-01T10:00:00Z", fractions and offsets read) to
 * wall-clock nanoseconds; times past 2262 saturate at INT64_MAX. */
int mp_kube_parse_time(const char *s, int64_t *wall_ns) MP_WUR;
/* Time as the API writes it: "2024-05-01T10:00:00Z", or with micro a MicroTime
 * ("2024-05-01T10:00:00.250000Z", as a Lease's renewTime). buf holds MP_KUBE_TIME_MAX. */
#define MP_KUBE_TIME_MAX 40
char *mp_kube_fmt_time(char *buf, int64_t wall_ns, bool micro);

/* ---- quantities (resource.Quantity) --------------------------------------------------------- */

enum mp_kube_qformat { MP_KUBE_DECIMAL_SI, MP_KUBE_BINARY_SI, MP_KUBE_DECIMAL_EXPONENT };

/* A parsed quantity. milli and units are the magnitude rounded up (as Quantity.MilliValue and
 * Value round) and saturate at INT64_MAX, where `saturated` is set. */
struct mp_kube_quantity {
    bool negative;
    bool saturated;
    enum mp_kube_qformat format;
    int64_t milli; /* ceil(|q| * 1000) */
    int64_t units; /* ceil(|q|) */
};

/* Parses s exactly as the API server's resource.ParseQuantity does: accepts what it accepts
 * ("500m", "1.5Gi", "2e3", "+1", ".5", "1.") and rejects what it rejects ("1.5.5", "1ki",
 * "1 Gi", "", "1e", "0x10") with a message saying why. */
int mp_kube_quantity_parse(const char *s, struct mp_kube_quantity *q, struct mp_error *err) MP_WUR;
/* A quantity as JSON carries it: a string (surrounding spaces trimmed) or a number. */
int mp_kube_quantity_json(const json_t *v, struct mp_kube_quantity *q, struct mp_error *err) MP_WUR;
/* Validates a container resource request or limit as the API server does: a valid, non-negative
 * quantity; a whole number for extended resources (names with a domain outside kubernetes.io,
 * such as nvidia.com/gpu) and hugepages-* must be a whole number of bytes. */
int mp_kube_check_resource(const char *resource, const char *quantity, struct mp_error *err) MP_WUR;
/* A memory quantity must be whole bytes: "100m" is a tenth of one (the API server only warns),
 * usually meant as megabytes. MP_EINVALID saying so; 0 also for a quantity too large to tell or
 * that does not parse (mp_kube_check_resource reports that). */
int mp_kube_check_bytes(const char *quantity, struct mp_error *err) MP_WUR;
/* Canonical text of a CPU amount in millicores ("1500m", "2") and of a byte count: its
 * shortest exact text ("512Mi", "1Gi", "2G", "1500"), a binary suffix on a tie. buf holds
 * MP_KUBE_QUANTITY_MAX. */
#define MP_KUBE_QUANTITY_MAX 32
char *mp_kube_fmt_milli(char *buf, int64_t milli);
char *mp_kube_fmt_bytes(char *buf, int64_t bytes);

#endif
