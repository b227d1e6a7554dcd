/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling list`, `show` and `export`: reading stored experiments. */
#include "cli/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

struct read_args {
    const char *db;
    const char *ref;
    const char *format;
    bool json;
    double target_rps;
    double headroom;
    const char *container;
    int64_t port;
};

static int parse_args(const char *cmd, int argc, char **argv, bool want_ref, struct read_args *a)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},       {"json", no_argument, NULL, 'j'},
        {"format", required_argument, NULL, 'f'},   {"target-rps", required_argument, NULL, 't'},
        {"headroom", required_argument, NULL, 'h'}, {"container", required_argument, NULL, 'c'},
        {"port", required_argument, NULL, 'p'},     {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'f':
            a->format = optarg;
            break;
        case 't':
        case 'h':
            if (mp_parse_double(optarg, c == 't' ? &a->target_rps : &a->headroom) != 0) {
                return mp_cli_usage(cmd, "expected a number, got \"%s\"", optarg);
            }
            break;
        case 'c':
            a->container = optarg;
            break;
        case 'p':
            if (mp_parse_int64(optarg, &a->port) != 0 || a->port < 1 || a->port > 65535) {
                return mp_cli_usage(cmd, "--port: expected 1..65535, got \"%s\"", optarg);
            }
            break;
        default:
            return mp_cli_usage(cmd, "unknown option");
        }
    }
    if (want_ref && optind + 1 != argc) {
        return mp_cli_usage(cmd, "expected one EXPERIMENT (name or id)");
    }
    if (!want_ref && optind != argc) {
        return mp_cli_usage(cmd, "unexpected argument '%s'", argv[optind]);
    }
    a->ref = want_ref ? argv[optind] : NULL;
    return 0;
}

/* Opens the store and builds the report (or list) the command prints. */
static int load(const struct read_args *a, json_t **out)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a->db);
    int rc = mp_store_open(db, NULL, &st, &err);
    if (rc == 0) {
        rc = a->ref ? mp_report_experiment(st, a->ref, out, &err) : mp_report_list(st, out, &err);
    }
    if (rc == 0 && a->ref && a->target_rps != 0) {
        rc = mp_report_capacity_plan(*out, a->target_rps, a->headroom, &err);
    }
    mp_store_close(st);
    free(db);
    return rc == 0 ? 0 : mp_cli_fail(&err);
}

static void print_json(const json_t *j)
{
    mp_json_print(stdout, j);
}

int mp_cmd_list(int argc, char **argv)
{
    struct read_args a = {0};
    json_t *list = NULL;
    int rc = parse_args("list", argc, argv, false, &a);
    if (rc == 0 && (rc = load(&a, &list)) == 0) {
        if (a.json) {
            print_json(list);
        } else {
            mp_report_print_list(stdout, list);
        }
    }
    json_decref(list);
    return rc;
}

int mp_cmd_show(int argc, char **argv)
{
    struct read_args a = {.headroom = 0.2};
    json_t *rep = NULL;
    int rc = parse_args("show", argc, argv, true, &a);
    if (rc == 0 && (rc = load(&a, &rep)) == 0) {
        if (a.json) {
            print_json(rep);
        } else {
            mp_report_print_summary(stdout, rep);
            printf("\n");
            mp_report_print_trials(stdout, rep);
            printf("\n");
            mp_report_print_recommendation(stdout, rep);
        }
    }
    json_decref(rep);
    return rc;
}

static int export_deployment(const struct read_args *a)
{
    struct mp_error err = {0};
    struct mp_store *st = NULL;
    char *db = mp_cli_db_path(a->db);
    json_t *d = NULL;
    struct mp_deploy_opts o = {
        .port = (int)a->port, .target_rps = a->target_rps, .headroom = a->headroom};
    int rc = mp_store_open(db, NULL, &st, &err);
    if (rc == 0) {
        rc = mp_report_deployment(st, a->ref, &o, &d, &err);
    }
    if (rc == 0 && strcmp(a->format, "k8s") == 0) {
        mp_report_write_k8s_patch(stdout, d, a->container);
    } else if (rc == 0) {
        mp_json_print(stdout, d);
    }
    json_decref(d);
    mp_store_close(st);
    free(db);
    return rc == 0 ? 0 : mp_cli_fail(&err);
}

int mp_cmd_export(int argc, char **argv)
{
    struct read_args a = {.format = "csv", .headroom = 0.2};
    json_t *rep = NULL;
    int rc = parse_args("export", argc, argv, true, &a);
    static const char *const formats[] = {"csv", "json", "deploy", "k8s"};
    bool known = false;
    for (size_t i = 0; rc == 0 && i < MP_ARRAY_LEN(formats); i++) {
        known |= strcmp(a.format, formats[i]) == 0;
    }
    if (rc == 0 && !known) {
        rc = mp_cli_usage("export", "--format: expected csv, json, deploy or k8s, got \"%s\"",
                          a.format);
    }
    if (rc == 0 && (strcmp(a.format, "deploy") == 0 || strcmp(a.format, "k8s") == 0)) {
        return export_deployment(&a);
    }
    if (rc == 0 && (rc = load(&a, &rep)) == 0) {
        if (strcmp(a.format, "json") == 0) {
            print_json(rep);
        } else {
            mp_report_write_csv(stdout, rep);
        }
    }
    json_decref(rep);
    return rc;
}
