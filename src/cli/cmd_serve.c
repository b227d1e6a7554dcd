/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve`: runs the HTTP API and dashboard until SIGINT/SIGTERM. */
#include "cli/cli.h"

#include <getopt.h>
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

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    static const struct option opts[] = {
        {"listen", required_argument, NULL, 'l'},     {"db", required_argument, NULL, 'd'},
        {"token-file", required_argument, NULL, 't'}, {"public-host", required_argument, NULL, 'p'},
        {"base-dir", required_argument, NULL, 'b'},   {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:d:", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            a->listen = optarg;
            break;
        case 'd':
            a->db = optarg;
            break;
        case 't':
            a->token_file = optarg;
            break;
        case 'p':
            a->public_host = optarg;
            break;
        case 'b':
            a->base_dir = optarg;
            break;
        default:
            return mp_cli_usage("serve", "unknown option");
        }
    }
    if (optind != argc) {
        return mp_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    }
    if (a->public_host && !a->token_file) {
        return mp_cli_usage("serve", "--public-host needs --token-file");
    }
    return 0;
}

int mp_cmd_serve(int argc, char **argv)
{
    struct serve_args a = {.listen = "127.0.0.1:8080"};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        return rc;
    }
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
