/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve`: runs the HTTP API and dashboard until SIGINT/SIGTERM. The access token
 * lives in --token-file, by default next to the store (STORE.token), created on first use. */
#include "cli/cli.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube/kube.h"
#include "server/server.h"
#include "store/store.h"

struct serve_args {
    const char *listen, *db, *token_file, *public_host, *base_dir;
    const char *kubeconfig, *context, *ns;
    unsigned max_running;
    bool no_auth, kube, all_namespaces;
};

static const struct mp_opt serve_opts[] = {
    {"listen", 'l', MP_OPT_STR, MP_OPT_AT(struct serve_args, listen), "HOST:PORT",
     "the address to listen on; a loopback address with --no-auth (port 0: any free port)",
     "127.0.0.1:8080"},
    MP_CLI_DB_OPT(struct serve_args),
    {"token-file", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, token_file), "FILE",
     "the file (mode 600) holding the access token every request but /healthz and the "
     "dashboard's files must carry (default: STORE.token next to the store); created with a "
     "new random token when missing",
     .flags = MP_OPT_PATH},
    {"public-host", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, public_host), "HOST:PORT",
     "one more Host header value to accept (behind a proxy)"},
    {"base-dir", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, base_dir), "DIR",
     "the folder submitted specs' paths must resolve inside (default: the current folder)",
     .flags = MP_OPT_PATH},
    {"max-running", 0, MP_OPT_INT, MP_OPT_AT(struct serve_args, max_running), "N",
     "experiments submitted through the API that run at once; one more is refused (429) until "
     "one ends. Experiments side by side share this machine's CPUs and measure each other's "
     "load: 1 gives the cleanest measurements",
     "4", 1, MP_SERVER_MAX_MAX_RUNNING},
    {"no-auth", 0, MP_OPT_FLAG, MP_OPT_AT(struct serve_args, no_auth), NULL,
     "no token: anyone who can reach the listener can run commands as you; loopback "
     "addresses only, and a warning at every start"},
    {"kube", 0, MP_OPT_FLAG, MP_OPT_AT(struct serve_args, kube), NULL,
     "show the cluster's ProfilingExperiments and Trials (read-only, kept up to date by a "
     "watch) instead of a store; the server's store is then a temporary mirror"},
    {"kubeconfig", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, kubeconfig), "FILE",
     "with --kube: the kubeconfig (default: $KUBECONFIG, else ~/.kube/config, else the pod's "
     "service account)",
     .flags = MP_OPT_PATH},
    {"context", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, context), "NAME",
     "with --kube: the kubeconfig context (default: current)"},
    {"namespace", 'n', MP_OPT_STR, MP_OPT_AT(struct serve_args, ns), "NS",
     "with --kube: the namespace whose experiments to show (default: the context's)"},
    {"all-namespaces", 'A', MP_OPT_FLAG, MP_OPT_AT(struct serve_args, all_namespaces), NULL,
     "with --kube: show every namespace's experiments, named NAMESPACE.NAME"},
};

/* --kube: a client for the cluster and a temporary folder for the mirror's store. */
struct kube_side {
    struct mp_kube_client *client;
    struct mp_kube_mirror *mirror;
    char *dir;
};

static int kube_check_args(const struct serve_args *a)
{
    if (!a->kube && (a->kubeconfig || a->context || a->ns || a->all_namespaces)) {
        return mp_cli_usage("serve", "--kubeconfig, --context, --namespace and --all-namespaces "
                                     "need --kube");
    }
    if (a->kube && a->db) {
        return mp_cli_usage("serve", "--kube keeps its own temporary store: drop --db");
    }
    if (a->ns && a->all_namespaces) {
        return mp_cli_usage("serve", "give one of --namespace and --all-namespaces");
    }
    return 0;
}

static int kube_open(const struct serve_args *a, struct kube_side *k, char **db,
                     struct mp_error *err)
{
    struct mp_kube_load_opts lo = {
        .kubeconfig = a->kubeconfig, .context = a->context, .in_cluster_fallback = true};
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client_opts co = {.user_agent = "morphling-serve/" MP_VERSION};
    int rc = mp_kube_config_load(&lo, &cfg, err);
    if (rc == 0) {
        rc = mp_kube_client_new(cfg, &co, &k->client, err);
    }
    const char *tmp = getenv("TMPDIR");
    char *tmpl = mp_xasprintf("%s/morphling-serve-kube-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (rc == 0 && !mkdtemp(tmpl)) {
        rc = mp_error_set(err, MP_ERUNTIME, "cannot create a folder in %s", tmp ? tmp : "/tmp");
    }
    if (rc == 0) {
        k->dir = tmpl;
        *db = mp_xasprintf("%s/mirror.db", tmpl);
    } else {
        free(tmpl);
    }
    return rc;
}

static int kube_start(const struct serve_args *a, struct kube_side *k, const char *db,
                      struct mp_error *err)
{
    const char *ns = a->all_namespaces ? NULL
                     : a->ns           ? a->ns
                                       : mp_kube_config_namespace(mp_kube_client_config(k->client));
    struct mp_kube_mirror_opts mo = {.client = k->client, .ns = ns, .db_path = db};
    int rc = mp_kube_mirror_start(&mo, &k->mirror, err);
    if (rc == 0) {
        fprintf(stderr, "morphling serve: showing the ProfilingExperiments of %s%s (%s)\n",
                ns ? "namespace " : "every namespace", ns ? ns : "",
                mp_kube_config_server(mp_kube_client_config(k->client)));
    }
    return rc;
}

static void kube_close(struct kube_side *k, const char *db)
{
    mp_kube_mirror_stop(k->mirror);
    mp_kube_client_free(k->client);
    if (k->dir) {
        const char *suffix[] = {"", "-wal", "-shm", "-journal", ".token"};
        for (size_t i = 0; i < MP_ARRAY_LEN(suffix); i++) {
            char *p = mp_xasprintf("%s%s", db, suffix[i]);
            unlink(p);
            free(p);
        }
        rmdir(k->dir);
        free(k->dir);
    }
}

/* The store opened once (created, or migrated), before the token is made beside it: one that is
 * none, damaged or of a newer morphling ends the start (every request but /healthz answered
 * 500). */
static int check_store(const char *db, struct mp_error *err)
{
    struct mp_store *st = NULL;
    struct mp_store_opts so = {.busy_timeout_ms = 10000};
    int rc = mp_store_open(db, &so, &st, err);
    mp_store_close(st);
    return rc;
}

/* The token from --token-file, or from STORE.token next to the store; created when missing. */
static int load_token(const struct serve_args *a, const char *db, char **token, char **path,
                      struct mp_error *err)
{
    bool created = false;
    *path = a->token_file ? mp_xstrdup(a->token_file) : mp_xasprintf("%s.token", db);
    int rc = mp_server_token_load(*path, token, &created, err);
    if (rc == 0 && created) {
        fprintf(stderr, "morphling serve: created a new access token in %s\n", *path);
    }
    return rc;
}

/* The token as a query value: percent-encoded but for unreserved characters (RFC 3986, 2.3), so
 * that a '+' (base64) is not read back as a space, nor a '%', '&' or '#' cut it. Owned. */
static char *query_escape(const char *s)
{
    struct mp_buf b = MP_BUF_INIT;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-._~", *c)) {
            mp_buf_addc(&b, (char)*c);
        } else {
            mp_buf_addf(&b, "%%%02X", *c);
        }
    }
    return mp_buf_detach(&b);
}

static void print_start(const struct serve_args *a, const struct mp_server *srv, const char *db,
                        const char *token, const char *token_path)
{
    char host[256];
    unsigned port = 0;
    if (mp_server_parse_listen(a->listen, host, sizeof(host), &port, NULL) != 0) {
        host[0] = '\0';
    }
    const char *l = strchr(host, ':') ? "[" : "", *r = strchr(host, ':') ? "]" : "";
    printf("morphling serve: listening on http://%s%s%s:%u/ (store %s)\n", l, host, r,
           mp_server_port(srv), db);
    if (token) {
        char *q = query_escape(token);
        printf("morphling serve: open http://%s%s%s:%u/?token=%s to log in (the token is in %s; "
               "API clients send 'Authorization: Bearer TOKEN')\n",
               l, host, r, mp_server_port(srv), q, token_path);
        free(q);
    } else {
        fprintf(stderr,
                "morphling serve: WARNING: --no-auth: nothing protects this server. Every local "
                "user and every process on this machine that can reach %s%s%s:%u can run "
                "commands as you (uid %ld) and read every spec. Use it only on a machine "
                "nobody else uses.\n",
                l, host, r, mp_server_port(srv), (long)geteuid());
    }
    fflush(stdout);
}

/* The listen address is taken: say how to get a free port (it said "Address already in use"). */
static void suggest_free_port(struct mp_error *err, const char *host)
{
    char *msg = mp_xstrdup(err->msg);
    const char *l = strchr(host, ':') ? "[" : "", *r = strchr(host, ':') ? "]" : "";
    mp_error_set(err, err->code,
                 "%s: another process listens there; choose another port, or --listen %s%s%s:0 "
                 "for any free one (the address is printed at start)",
                 msg, l, host, r);
    free(msg);
}

static int serve_run(void *args, char **operands, size_t n)
{
    (void)operands;
    (void)n;
    const struct serve_args a = *(const struct serve_args *)args;
    if (a.no_auth && (a.token_file || a.public_host)) {
        return mp_cli_usage("serve", "--no-auth cannot be combined with %s",
                            a.token_file ? "--token-file" : "--public-host");
    }
    int rc = kube_check_args(&a);
    if (rc != 0) {
        return rc;
    }
    struct mp_error err = {0};
    char *token = NULL, *token_path = NULL;
    char *base = NULL;
    char *db = NULL;
    struct kube_side kube = {0};
    struct mp_server *srv = NULL;
    /* The options are checked before anything is created (the store folder, a token file). */
    char host[256];
    unsigned port = 0;
    struct stat sb;
    rc = mp_server_parse_listen(a.listen, host, sizeof(host), &port, &err);
    if (rc == 0 && a.base_dir &&
        (!(base = realpath(a.base_dir, NULL)) || stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode))) {
        rc = mp_error_set(&err, MP_EINVALID, "--base-dir '%s': not a directory", a.base_dir);
    }
    if (rc == 0 && a.kube) {
        rc = kube_open(&a, &kube, &db, &err);
    } else if (rc == 0) {
        db = mp_cli_db_path(a.db);
    }
    if (rc == 0 && !a.kube) {
        rc = check_store(db, &err);
    }
    if (rc == 0 && !a.no_auth) {
        rc = load_token(&a, db, &token, &token_path, &err);
    }
    /* Block the stop signals before any thread starts, so only sigwait below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc == 0) {
        struct mp_server_opts so = {.listen = a.listen,
                                    .db_path = db,
                                    .token = token,
                                    .public_host = a.public_host,
                                    .base_dir = base,
                                    .max_running = a.max_running,
                                    .read_only = a.kube ? "this server shows a cluster's "
                                                          "experiments (serve --kube): change "
                                                          "them with kubectl"
                                                        : NULL};
        rc = mp_server_start(&so, &srv, &err);
    }
    if (rc == 0 && a.kube) {
        rc = kube_start(&a, &kube, db, &err);
    }
    if (rc == 0) {
        print_start(&a, srv, db, token, token_path);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "morphling serve: stopping\n");
    }
    mp_kube_mirror_stop(kube.mirror);
    kube.mirror = NULL;
    mp_server_stop(srv);
    kube_close(&kube, db);
    free(token);
    free(token_path);
    free(base);
    free(db);
    if (rc == -EADDRINUSE) {
        suggest_free_port(&err, host);
    }
    return rc == 0 ? MP_EXIT_OK : mp_cli_fail(&err);
}

const struct mp_verb mp_verb_serve = {
    .name = "serve",
    .run = serve_run,
    .summary = "serve the HTTP API and the web dashboard",
    .description =
        "Serves the dashboard at /, the JSON API under /api/v1/, live events, /metrics and "
        "/healthz (docs/api.md), until SIGINT or SIGTERM. Experiments submitted through the API "
        "run inside the server and write to the same store as 'run'. Every request but /healthz "
        "and the dashboard's files needs the access token; at start it prints a login URL that "
        "carries it.",
    .opts = serve_opts,
    .n_opts = MP_ARRAY_LEN(serve_opts),
    .args_size = sizeof(struct serve_args),
};
