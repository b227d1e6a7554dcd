/* SPDX-License-Identifier: Apache-2.0 */
/* Exec credential plugins (client.authentication.k8s.io v1 / v1beta1): the plugin runs with an
 * explicit argv (posix_spawn, never a shell), its environment plus the kubeconfig's `env` and
 * KUBERNETES_EXEC_INFO, stdin closed (never interactive), and prints an ExecCredential. */
#define _GNU_SOURCE /* posix_spawn_file_actions_addclosefrom_np */
#include "kube/kube_int.h"

#include "doc/doc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STDERR_TAIL 2048

extern char **environ;

void mp_kube_exec_cred_release(struct mp_kube_exec_cred *ec)
{
    free(ec->token);
    free(ec->cert_pem);
    free(ec->key_pem);
    *ec = (struct mp_kube_exec_cred){0};
}

/* KUBERNETES_EXEC_INFO: what client-go passes a plugin. Owned. */
static char *exec_info(const struct mp_kube_config *cfg)
{
    const struct mp_kube_exec *x = cfg->exec;
    json_t *spec = json_pack("{s:b}", "interactive", 0);
    if (x->provide_cluster_info) {
        json_t *cl = json_pack("{s:s, s:b}", "server", cfg->server, "insecure-skip-tls-verify",
                               cfg->insecure);
        if (cfg->ca_data.len) {
            char *b64 = mp_kube_base64_encode(cfg->ca_data.data, cfg->ca_data.len);
            json_object_set_new(cl, "certificate-authority-data", json_string(b64));
            free(b64);
        }
        if (cfg->proxy_url) {
            json_object_set_new(cl, "proxy-url", json_string(cfg->proxy_url));
        }
        if (cfg->tls_server_name) {
            json_object_set_new(cl, "tls-server-name", json_string(cfg->tls_server_name));
        }
        json_t *conf = x->cluster_config ? json_loads(x->cluster_config, 0, NULL) : NULL;
        if (conf) {
            json_object_set_new(cl, "config", conf);
        }
        json_object_set_new(spec, "cluster", cl);
    }
    json_t *info = json_pack("{s:s, s:s, s:o}", "kind", "ExecCredential", "apiVersion",
                             x->api_version, "spec", spec);
    char *s = mp_json_dumps(info, 0);
    json_decref(info);
    return s;
}

static bool env_overridden(const char *entry, char *const *env)
{
    size_t n = strcspn(entry, "=");
    for (char *const *e = env; *e; e++) {
        if (strncmp(*e, entry, n) == 0 && (*e)[n] == '=') {
            return true;
        }
    }
    return strncmp(entry, "KUBERNETES_EXEC_INFO=", 21) == 0;
}

/* The process environment, with the kubeconfig's env and KUBERNETES_EXEC_INFO on top. The
 * array is owned, its strings borrowed except the last one (exec_info). */
static char **build_env(const struct mp_kube_exec *x, char *info_entry)
{
    size_t n = 0, k = 0;
    for (char **e = environ; e && *e; e++) {
        n++;
    }
    for (char **e = x->env; *e; e++) {
        n++;
    }
    char **env = mp_xcalloc(n + 2, sizeof(char *));
    for (char **e = environ; e && *e; e++) {
        if (!env_overridden(*e, x->env)) {
            env[k++] = *e;
        }
    }
    for (char **e = x->env; *e; e++) {
        env[k++] = *e;
    }
    env[k] = info_entry;
    return env;
}

static int spawn_plugin(const struct mp_kube_config *cfg, int out_fd, int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* The plugin starts with no signal blocked or ignored, whatever this thread does. */
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *info = exec_info(cfg);
    char *entry = mp_xasprintf("KUBERNETES_EXEC_INFO=%s", info);
    char **env = build_env(cfg->exec, entry);
    int rc = posix_spawnp(pid, cfg->exec->command, &fa, &attr, cfg->exec->argv, env);
    free(env);
    free(entry);
    free(info);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return -rc;
}

/* Reads both pipes until they close or the deadline passes (false). stdout over the cap is
 * an error; stderr keeps its tail. */
static bool drain(int out_fd, int err_fd, int64_t deadline_ns, struct mp_buf *out,
                  struct mp_buf *errb, bool *toobig)
{
    struct pollfd p[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
    int open_fds = 2;
    char chunk[4096];
    while (open_fds > 0) {
        int64_t left_ms = (deadline_ns - mp_mono_ns()) / 1000000;
        if (left_ms <= 0) {
            return false;
        }
        int r = poll(p, 2, left_ms > 1000 ? 1000 : (int)left_ms);
        if (r < 0 && errno != EINTR) {
            return false;
        }
        for (int i = 0; r > 0 && i < 2; i++) {
            if (p[i].fd < 0 || !p[i].revents) {
                continue;
            }
            ssize_t n = read(p[i].fd, chunk, sizeof(chunk));
            if (n <= 0 && !(n < 0 && errno == EINTR)) {
                p[i].fd = -1;
                open_fds--;
            } else if (n > 0 && i == 0) {
                *toobig |= out->len + (size_t)n > MP_KUBE_EXEC_MAX_OUTPUT;
                mp_buf_add(out, chunk, *toobig ? 0 : (size_t)n);
            } else if (n > 0) {
                mp_buf_add(errb, chunk, (size_t)n);
                if (errb->len > 2 * STDERR_TAIL) {
                    memmove(errb->data, errb->data + errb->len - STDERR_TAIL, STDERR_TAIL);
                    errb->len = STDERR_TAIL;
                    errb->data[errb->len] = '\0';
                }
            }
        }
    }
    return true;
}

/* Waits for the plugin to exit; false when the deadline passes first (a plugin can close its
 * output and linger), after which it is killed. */
static bool reap(pid_t pid, int64_t deadline_ns, bool in_time, int *status)
{
    while (in_time) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            return true;
        }
        if (mp_mono_ns() >= deadline_ns) {
            break;
        }
        poll(NULL, 0, 10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {
    }
    return false;
}

/* The last line(s) of the plugin's stderr, for messages. */
static const char *tail_text(struct mp_buf *b)
{
    while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '\r')) {
        b->data[--b->len] = '\0';
    }
    if (!b->len) {
        return "(no output on stderr)";
    }
    return b->len > 400 ? b->data + b->len - 400 : b->data;
}

static int exit_error(const struct mp_kube_exec *x, int status, bool done, struct mp_buf *errb,
                      struct mp_error *err)
{
    if (!done) {
        return mp_error_set(err, MP_EDEADLINE, "%s: exec plugin '%s' did not finish in time",
                            x->where, x->command);
    }
    if (WIFSIGNALED(status)) {
        return mp_error_set(err, MP_ERUNTIME, "%s: exec plugin '%s' was killed by signal %d: %s",
                            x->where, x->command, WTERMSIG(status), tail_text(errb));
    }
    return mp_error_set(err, MP_ERUNTIME, "%s: exec plugin '%s' exited with status %d: %s",
                        x->where, x->command, WEXITSTATUS(status), tail_text(errb));
}

/* text on one line: each line break and the blanks around it become one space, none at the end. */
static char *one_line(const char *text)
{
    char *out = mp_xstrdup(text);
    size_t o = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n' || *p == '\r') {
            while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t')) {
                o--;
            }
            p += strspn(p, " \t\r\n") - 1;
            if (o > 0 && p[1]) {
                out[o++] = ' ';
            }
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

int mp_kube_exec_run(const struct mp_kube_config *cfg, int64_t deadline_ns,
                     struct mp_kube_exec_cred *out, struct mp_error *err)
{
    const struct mp_kube_exec *x = cfg->exec;
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if (pipe2(po, O_CLOEXEC) != 0 || pipe2(pe, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (po[i] >= 0) {
                close(po[i]);
            }
        }
        return mp_error_set(err, -e, "%s: pipe: %s", x->where, strerror(e));
    }
    pid_t pid;
    int rc = spawn_plugin(cfg, po[1], pe[1], &pid);
    close(po[1]);
    close(pe[1]);
    if (rc != 0) {
        close(po[0]);
        close(pe[0]);
        /* The hint on the message's line: a message is one line, where a '\n' shows as the
         * two characters "\n" (a hint written as a YAML block has one at each line's end). */
        char *hint = x->install_hint ? one_line(x->install_hint) : NULL;
        rc = mp_error_set(err, rc, "%s: cannot run exec plugin '%s': %s%s%s", x->where, x->command,
                          strerror(-rc), hint ? "; its installHint: " : "", hint ? hint : "");
        free(hint);
        return rc;
    }
    struct mp_buf ob = MP_BUF_INIT, eb = MP_BUF_INIT;
    bool toobig = false;
    bool done = drain(po[0], pe[0], deadline_ns, &ob, &eb, &toobig);
    close(po[0]);
    close(pe[0]);
    int status = 0;
    done = reap(pid, deadline_ns, done, &status);
    if (!done || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        rc = exit_error(x, status, done, &eb, err);
    } else if (toobig) {
        rc = mp_error_set(err, MP_ETOOBIG, "%s: exec plugin '%s' printed more than %u bytes",
                          x->where, x->command, MP_KUBE_EXEC_MAX_OUTPUT);
    } else {
        rc =
            mp_kube_exec_decode(ob.data ? ob.data : "", ob.len, x->api_version, x->where, out, err);
    }
    mp_buf_release(&ob);
    mp_buf_release(&eb);
    return rc;
}

static int decode_status(const json_t *st, const char *where, struct mp_kube_exec_cred *out,
                         struct mp_error *err)
{
    const char *token = json_string_value(json_object_get(st, "token"));
    const char *cert = json_string_value(json_object_get(st, "clientCertificateData"));
    const char *key = json_string_value(json_object_get(st, "clientKeyData"));
    const json_t *exp = json_object_get(st, "expirationTimestamp");
    if ((cert && *cert) != (key && *key)) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: the ExecCredential has clientCertificateData or clientKeyData "
                            "without the other",
                            where);
    }
    if (token && !mp_kube_header_safe(token)) {
        return mp_error_set(err, MP_EINVALID, "%s: status.token contains control characters",
                            where);
    }
    if (!(token && *token) && !(cert && *cert)) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: the ExecCredential has neither status.token nor a client "
                            "certificate and key",
                            where);
    }
    if (exp && !json_is_null(exp) &&
        (!json_is_string(exp) || mp_kube_parse_time(json_string_value(exp), &out->expiry_ns))) {
        return mp_error_set(err, MP_EINVALID,
                            "%s: status.expirationTimestamp is not an RFC 3339 time", where);
    }
    out->token = token && *token ? mp_xstrdup(token) : NULL;
    out->cert_pem = cert && *cert ? mp_xstrdup(cert) : NULL;
    out->key_pem = key && *key ? mp_xstrdup(key) : NULL;
    return 0;
}

int mp_kube_exec_decode(const char *text, size_t len, const char *api_version, const char *where,
                        struct mp_kube_exec_cred *out, struct mp_error *err)
{
    *out = (struct mp_kube_exec_cred){0};
    json_error_t jerr;
    json_t *ec = json_loadb(text, len, 0, &jerr);
    if (!ec) {
        /* jansson quotes the text "near" the error, which can be the token: not in messages. */
        char *near = strstr(jerr.text, " near ");
        if (near) {
            *near = '\0';
        }
        return mp_error_set(err, MP_EPARSE,
                            "%s: the plugin's output is not JSON: %s (line %d, column %d)", where,
                            jerr.text, jerr.line, jerr.column);
    }
    const char *kind = json_string_value(json_object_get(ec, "kind"));
    const char *version = json_string_value(json_object_get(ec, "apiVersion"));
    const json_t *st = json_object_get(ec, "status");
    int rc = 0;
    if (!kind || strcmp(kind, "ExecCredential") != 0) {
        rc = mp_error_set(err, MP_EINVALID, "%s: the plugin printed kind %s, not ExecCredential",
                          where, kind ? kind : "(none)");
    } else if (!version || strcmp(version, api_version) != 0) {
        rc = mp_error_set(err, MP_EINVALID,
                          "%s: the plugin answered with apiVersion %s; the kubeconfig asks for %s",
                          where, version ? version : "(none)", api_version);
    } else if (!json_is_object(st)) {
        rc = mp_error_set(err, MP_EINVALID, "%s: the ExecCredential has no status", where);
    } else {
        rc = decode_status(st, where, out, err);
    }
    json_decref(ec);
    if (rc != 0) {
        mp_kube_exec_cred_release(out);
    }
    return rc;
}
