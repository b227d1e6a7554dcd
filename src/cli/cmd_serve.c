/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve`: runs the HTTP API and dashboard until SIGINT/SIGTERM. */
#include "cli/cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/server.h"

#define TOKEN_FILE_MAX 4096

/* Reads a token file that only its owner may read; trailing whitespace is dropped. */
static int read_token(const char *path, char **out, struct mp_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        return mp_error_set(err, MP_EINVALID, "--token-file '%s': cannot read it", path);
    }
    if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
        return mp_error_set(err, MP_EINVALID,
                            "--token-file '%s': readable by others; run 'chmod 600 %s'", path,
                            path);
    }
    struct mp_buf b = MP_BUF_INIT;
    int rc = mp_buf_read_file(&b, path, TOKEN_FILE_MAX, err);
    if (rc != 0) {
        mp_buf_release(&b);
        return rc;
    }
    while (b.len > 0 && strchr(" \t\r\n", b.data[b.len - 1])) {
        b.data[--b.len] = '\0';
    }
    if (b.len == 0 || strpbrk(b.data, " \t\r\n")) {
        mp_buf_release(&b);
        return mp_error_set(err, MP_EINVALID, "--token-file '%s': expected one word", path);
    }
    *out = mp_buf_detach(&b);
    return 0;
}

struct serve_args {
    const char *listen, *db, *token_file, *public_host, *base_dir;
};

static const struct mp_opt serve_opts[] = {
    {"listen", 'l', MP_OPT_STR, MP_OPT_AT(struct serve_args, listen), "HOST:PORT",
     "the address to listen on; a loopback address unless --token-file is given (port 0: any "
     "free port)",
     "127.0.0.1:8080"},
    MP_CLI_DB_OPT(struct serve_args),
    {"token-file", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, token_file), "FILE",
     "a file (mode 600) holding the bearer token every POST and DELETE must carry",
     .flags = MP_OPT_PATH},
    {"public-host", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, public_host), "HOST:PORT",
     "one more Host header value to accept (behind a proxy); needs --token-file"},
    {"base-dir", 0, MP_OPT_STR, MP_OPT_AT(struct serve_args, base_dir), "DIR",
     "the folder relative paths in submitted specs resolve against (default: the current "
     "folder)",
     .flags = MP_OPT_PATH},
};

static int serve_run(void *args, char **operands, size_t n)
{
    (void)operands;
    (void)n;
    const struct serve_args a = *(const struct serve_args *)args;
    if (a.public_host && !a.token_file) {
        return mp_cli_usage("serve", "--public-host needs --token-file");
    }
    int rc = 0;
    struct mp_error err = {0};
    char *token = NULL;
    char *base = NULL;
    char *db = mp_cli_db_path(a.db);
    struct mp_server *srv = NULL;
    if (a.token_file) {
        rc = read_token(a.token_file, &token, &err);
    }
    if (rc == 0 && a.base_dir && !(base = realpath(a.base_dir, NULL))) {
        rc = mp_error_set(&err, MP_EINVALID, "--base-dir '%s': no such directory", a.base_dir);
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
                                    .base_dir = base};
        rc = mp_server_start(&so, &srv, &err);
    }
    if (rc == 0) {
        char host[256];
        unsigned port = 0;
        if (mp_server_parse_listen(a.listen, host, sizeof(host), &port, NULL) != 0) {
            host[0] = '\0';
        }
        printf("morphling serve: listening on http://%s%s%s:%u/ (store %s)\n",
               strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
               mp_server_port(srv), db);
        fflush(stdout);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "morphling serve: stopping\n");
        mp_server_stop(srv);
    }
    free(token);
    free(base);
    free(db);
    return rc == 0 ? MP_EXIT_OK : mp_cli_fail(&err);
}

const struct mp_verb mp_verb_serve = {
    .name = "serve",
    .run = serve_run,
    .summary = "serve the HTTP API and the web dashboard",
    .description =
        "Serves the dashboard at /, the JSON API under /api/v1/, live events, /metrics and "
        "/healthz (docs/api.md), until SIGINT or SIGTERM. Experiments submitted through the API "
        "run inside the server and write to the same store as 'run'.",
    .opts = serve_opts,
    .n_opts = MP_ARRAY_LEN(serve_opts),
    .args_size = sizeof(struct serve_args),
};
