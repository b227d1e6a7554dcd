/* SPDX-License-Identifier: Apache-2.0 */
/* The operator (src/operator) with a fake trial runner, for the operator's tests against the
 * test cluster's API server alone: trials need no pods, so a whole experiment takes a moment and
 * the crash sweep can kill the operator after every one of its API calls.
 *
 * The fake runner behaves as the kubernetes runner must: it first deletes the objects an older
 * attempt of the trial left behind, creates one ConfigMap per attempt owned by the Trial (the
 * trial's objects), waits --trial-ms (stopping when cancelled), deletes it and reports the
 * objective 100 + sum((i + 1) * x[i]) over the configuration, so the best trial is known.
 * A trial whose number is --fail-number fails (CRASHED), its objective measured as 0, as the
 * kubernetes runner's load test does when no request succeeds. A trial whose number is
 * --unsettled-number succeeds with ten times its objective, a measurement that did not settle
 * (stable 0). The request body's size (an inline
 * runner.load.body_text, from a requestTemplate, or the file runner.load.body names) is the
 * metric body_bytes.
 * With --hold-from N, a trial numbered N or later (trials count from 1) does not end while the
 * file "hold" exists in --work-dir (it still stops when cancelled): a test holds a run
 * mid-experiment, however slowly the machine lets it look, until it has stopped or moved it.
 *
 * Usage: operator_check --kubeconfig FILE [--namespace NS | --all-namespaces] [--leader-elect]
 *        [--identity ID] [--lease-ms N] [--health-addr A] [--metrics-addr A] [--trial-ms N]
 *        [--fail-number N] [--unsettled-number N] [--work-dir DIR] [--max-running N]
 *        [--hold-from N] [--files-dir DIR]
 * Runs until SIGTERM or SIGINT; exit 0, or 1 with the operator's error. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "operator/operator.h"

#define LABEL_ATTEMPT "operator-check/attempt"

static atomic_bool stop;
static long trial_ms, fail_number = -1, unsettled_number = -1, hold_from = -1;
static char *hold_file;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&stop, true);
}

struct fake {
    struct mp_kube_client *c;
    const struct mp_spec *spec;
};

static int fake_create(void *ud, struct mp_kube_client *c, const struct mp_spec *spec,
                       const json_t *pe, void **out, struct mp_error *err)
{
    (void)ud;
    (void)pe;
    (void)err;
    struct fake *f = mp_xcalloc(1, sizeof(*f));
    f->c = c;
    f->spec = spec;
    *out = f;
    return 0;
}

/* Deletes the ConfigMaps of this trial's other attempts (the runner's reconcile on start). */
static int sweep(struct fake *f, const struct mp_operator_trial *t, int64_t attempt,
                 struct mp_error *err)
{
    struct mp_kube_ref ref = {"", "v1", "configmaps", t->ns, NULL, NULL};
    char *sel = mp_xasprintf("%s=%s", MP_OPERATOR_LABEL_TRIAL, mp_kube_meta(t->trial, "name"));
    struct mp_kube_opts lo = {.label_selector = sel};
    json_t *list = NULL;
    int rc = mp_kube_list(f->c, &ref, &lo, &list, err);
    free(sel);
    size_t i;
    json_t *cm;
    char mine[32];
    snprintf(mine, sizeof(mine), "%lld", (long long)attempt);
    json_array_foreach (rc == 0 ? json_object_get(list, "items") : NULL, i, cm) {
        const char *a = mp_kube_label(cm, LABEL_ATTEMPT);
        if (a && strcmp(a, mine) != 0) {
            ref.name = mp_kube_meta(cm, "name");
            rc = mp_kube_delete(f->c, &ref, NULL, NULL, err);
            rc = rc == MP_ENOTFOUND ? 0 : rc;
        }
    }
    json_decref(list);
    return rc;
}

/* The size of the request body; -1 when there is none or its file cannot be read. */
static double body_bytes(const struct mp_spec *spec)
{
    const struct mp_node *load = mp_doc_get(spec->runner_node, "load");
    const struct mp_node *text = mp_doc_get(load, "body_text");
    if (text && text->kind == MP_NODE_SCALAR) {
        return (double)strlen(text->scalar);
    }
    const struct mp_node *b = mp_doc_get(load, "body");
    if (!b || b->kind != MP_NODE_SCALAR) {
        return -1;
    }
    char *path = mp_spec_resolve_path(spec, b->scalar);
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f) {
        return -1;
    }
    double n = 0;
    while (fgetc(f) != EOF) {
        n++;
    }
    fclose(f);
    return n;
}

static double objective(const struct mp_spec *spec, const double *x)
{
    double v = 100;
    for (size_t i = 0; i < spec->space.n; i++) {
        v += (double)(i + 1) * x[i];
    }
    return v;
}

static int fake_run(void *runner, const struct mp_operator_trial *t,
                    const struct mp_trial_request *req, struct mp_trial_result *res,
                    const atomic_bool *cancel)
{
    struct fake *f = runner;
    struct mp_error err = {0};
    int rc = sweep(f, t, req->attempt, &err);
    const char *trial = mp_kube_meta(t->trial, "name");
    char *name = mp_xasprintf("%s-a%lld", trial, (long long)req->attempt);
    struct mp_kube_ref ref = {"", "v1", "configmaps", t->ns, NULL, NULL};
    json_t *cm = mp_kube_object_new("v1", "ConfigMap", t->ns, name);
    char attempt[32];
    snprintf(attempt, sizeof(attempt), "%lld", (long long)req->attempt);
    mp_kube_set_label(cm, MP_OPERATOR_LABEL_TRIAL, trial);
    mp_kube_set_label(cm, LABEL_ATTEMPT, attempt);
    if (rc == 0) {
        rc = mp_kube_add_owner(cm, t->trial, true, true, &err);
    }
    if (rc == 0) {
        rc = mp_kube_create(f->c, &ref, cm, NULL, NULL, &err);
        rc = rc == MP_EEXISTS ? 0 : rc;
    }
    json_decref(cm);
    bool held = hold_from >= 0 && req->number >= hold_from;
    for (long waited = 0; rc == 0 && !atomic_load(cancel) &&
                          (waited < trial_ms || (held && access(hold_file, F_OK) == 0));
         waited += 10) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (rc == 0) {
        ref.name = name;
        rc = mp_kube_delete(f->c, &ref, NULL, NULL, &err);
        rc = rc == MP_ENOTFOUND ? 0 : rc;
    }
    free(name);
    if (rc != 0) {
        fprintf(stderr, "operator_check: trial %lld: %s\n", (long long)req->number, err.msg);
        return rc;
    }
    if (atomic_load(cancel)) {
        res->state = MP_TRIAL_CANCELLED;
    } else if (req->number == fail_number) {
        mp_trial_result_fail(res, MP_FAILURE_CRASHED, "the fake service crashed (trial %lld)",
                             (long long)req->number);
        /* As the kubernetes runner's LOAD_ERRORS: a measurement (no answer: 0) of a failed
         * trial. */
        mp_metrics_set(&res->metrics, f->spec->objective_metric, 0);
    } else {
        res->state = MP_TRIAL_SUCCEEDED;
        bool unsettled = req->number == unsettled_number;
        mp_metrics_set(&res->metrics, f->spec->objective_metric,
                       objective(f->spec, req->x) * (unsettled ? 10 : 1));
        mp_metrics_set(&res->metrics, "body_bytes", body_bytes(f->spec));
        if (unsettled) {
            mp_metrics_set(&res->metrics, "stable", 0);
        }
    }
    return 0;
}

static void fake_free(void *runner)
{
    free(runner);
}

static const struct mp_operator_runner_ops fake_ops = {
    .concurrent = true,
    .create = fake_create,
    .run = fake_run,
    .free = fake_free,
};

static const char *arg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "operator_check: %s needs a value\n", argv[*i]);
        exit(2);
    }
    return argv[++*i];
}

static void parse(int argc, char **argv, struct mp_operator_opts *o, const char **kubeconfig)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--kubeconfig") == 0) {
            *kubeconfig = arg(argc, argv, &i);
        } else if (strcmp(a, "--namespace") == 0) {
            o->ns = arg(argc, argv, &i);
        } else if (strcmp(a, "--all-namespaces") == 0) {
            o->all_namespaces = true;
        } else if (strcmp(a, "--leader-elect") == 0) {
            o->leader_elect = true;
        } else if (strcmp(a, "--identity") == 0) {
            o->identity = arg(argc, argv, &i);
        } else if (strcmp(a, "--lease-ms") == 0) {
            /* client-go's proportions: renew deadline 2/3 of the lease, retry 2/15. */
            long ms = strtol(arg(argc, argv, &i), NULL, 10);
            o->lease_duration_ms = ms;
            o->renew_deadline_ms = ms * 2 / 3;
            o->retry_period_ms = ms * 2 / 15;
        } else if (strcmp(a, "--health-addr") == 0) {
            o->health_addr = arg(argc, argv, &i);
        } else if (strcmp(a, "--metrics-addr") == 0) {
            o->metrics_addr = arg(argc, argv, &i);
        } else if (strcmp(a, "--work-dir") == 0) {
            o->work_dir = arg(argc, argv, &i);
        } else if (strcmp(a, "--files-dir") == 0) {
            o->files_dir = arg(argc, argv, &i);
        } else if (strcmp(a, "--max-running") == 0) {
            o->max_running = strtol(arg(argc, argv, &i), NULL, 10);
        } else if (strcmp(a, "--trial-ms") == 0) {
            trial_ms = strtol(arg(argc, argv, &i), NULL, 10);
        } else if (strcmp(a, "--fail-number") == 0) {
            fail_number = strtol(arg(argc, argv, &i), NULL, 10);
        } else if (strcmp(a, "--unsettled-number") == 0) {
            unsettled_number = strtol(arg(argc, argv, &i), NULL, 10);
        } else if (strcmp(a, "--hold-from") == 0) {
            hold_from = strtol(arg(argc, argv, &i), NULL, 10);
        } else {
            fprintf(stderr, "operator_check: unknown argument '%s'\n", a);
            exit(2);
        }
    }
}

int main(int argc, char **argv)
{
    struct mp_operator_opts o = {.runner = &fake_ops, .stop = &stop};
    const char *kubeconfig = NULL;
    parse(argc, argv, &o, &kubeconfig);
    hold_file = mp_xasprintf("%s/hold", o.work_dir ? o.work_dir : ".");
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct mp_kube_load_opts lo = {.kubeconfig = kubeconfig};
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client *c = NULL;
    /* The identity in the user agent, so a test tells two operators' requests apart. */
    char *ua = mp_xasprintf("morphling-operator/test %s", o.identity ? o.identity : "-");
    struct mp_kube_client_opts co = {.user_agent = ua};
    struct mp_error err = {0};
    int rc = mp_kube_config_load(&lo, &cfg, &err);
    if (rc == 0) {
        rc = mp_kube_client_new(cfg, &co, &c, &err);
    }
    if (rc == 0) {
        rc = mp_operator_run(c, &o, &err);
    }
    mp_kube_client_free(c);
    free(ua);
    free(hold_file);
    if (rc != 0) {
        fprintf(stderr, "operator_check: %s\n", err.msg);
        return 1;
    }
    return 0;
}
