/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling serve`: runs the HTTP API and dashboard until SIGINT/SIGTERM. The access token
 * lives in --token-file, by default next to the store (STORE.token), created on first use. */
#include "cli/cli.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server.h"

struct serve_args {
    const char *listen, *db, *token_file, *public_host, *base_dir;
    bool no_auth;
};

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"db", required_argument, NULL, 'd'},
                                         {"token-file", required_argument, NULL, 't'},
                                         {"public-host", required_argument, NULL, 'p'},
                                         {"base-dir", required_argument, NULL, 'b'},
                                         {"no-auth", no_argument, NULL, 'n'},
                                         {0}};
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
        case 'n':
            a->no_auth = true;
            break;
        default:
            return mp_cli_usage("serve", "unknown option");
        }
    }
    if (optind != argc) {
        return mp_cli_usage("serve", "unexpected argument '%s'", argv[optind]);
    }
    if (a->no_auth && (a->token_file || a->public_host)) {
        return mp_cli_usage("serve", "--no-auth cannot be combined with %s",
                            a->token_file ? "--token-file" : "--public-host");
    }
    return 0;
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
        printf("morphling serve: open http://%s%s%s:%u/?token=%s to log in (the token is in %s; "
               "API clients send 'Authorization: Bearer TOKEN')\n",
               l, host, r, mp_server_port(srv), token, token_path);
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

int mp_cmd_serve(int argc, char **argv)
{
    struct serve_args a = {.listen = "127.0.0.1:8080"};
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        return rc;
    }
    struct mp_error err = {0};
    char *token = NULL, *token_path = NULL;
    char *base = NULL;
    char *db = mp_cli_db_path(a.db);
    struct mp_server *srv = NULL;
    if (!a.no_auth) {
        rc = load_token(&a, db, &token, &token_path, &err);
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
        print_start(&a, srv, db, token, token_path);
        int sig = 0;
        sigwait(&set, &sig);
        fprintf(stderr, "morphling serve: stopping\n");
        mp_server_stop(srv);
    }
    free(token);
    free(token_path);
    free(base);
    free(db);
    return rc == 0 ? MP_EXIT_OK : mp_cli_fail(&err);
}
