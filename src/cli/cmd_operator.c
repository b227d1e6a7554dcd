/* SPDX-License-Identifier: Apache-2.0 */
/* `morphling operator`: reconciles ProfilingExperiments in a cluster until SIGINT/SIGTERM
 * (src/operator/operator.h). */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

#include "kube/kube.h"
#include "operator/operator.h"

struct operator_args {
    const char *ns, *kubeconfig, *context, *health_addr, *metrics_addr;
    const char *lease_namespace, *lease_name, *identity, *work_dir, *files_dir;
    bool all_namespaces, leader_elect;
    int64_t lease_duration_ns, renew_deadline_ns, retry_period_ns, max_running;
};

#define A(field) MP_OPT_AT(struct operator_args, field)
static const struct mp_opt operator_opts[] = {
    {"namespace", 'n', MP_OPT_STR, A(ns), "NS",
     "the namespace whose experiments to run (default: the kubeconfig context's, in a pod its "
     "own)"},
    {"all-namespaces", 'A', MP_OPT_FLAG, A(all_namespaces), NULL,
     "run the experiments of every namespace"},
    {"leader-elect", 0, MP_OPT_FLAG, A(leader_elect), NULL,
     "take part in leader election through a coordination.k8s.io Lease, so that of several "
     "replicas only one drives experiments"},
    {"health-addr", 0, MP_OPT_STR, A(health_addr), "HOST:PORT",
     "serve /healthz and /readyz here (port 0: any free port, printed at start)"},
    {"metrics-addr", 0, MP_OPT_STR, A(metrics_addr), "HOST:PORT",
     "serve Prometheus /metrics here (may equal --health-addr)"},
    {"kubeconfig", 0, MP_OPT_STR, A(kubeconfig), "FILE",
     "the kubeconfig (default: $KUBECONFIG, else ~/.kube/config, else the pod's service account)",
     .flags = MP_OPT_PATH},
    {"context", 0, MP_OPT_STR, A(context), "NAME", "the kubeconfig context (default: current)"},
    {"lease-namespace", 0, MP_OPT_STR, A(lease_namespace), "NS",
     "the leader Lease's namespace (default: the kubeconfig context's, in a pod its own)"},
    {"lease-name", 0, MP_OPT_STR, A(lease_name), "NAME", "the leader Lease's name",
     "morphling-operator"},
    {"lease-duration", 0, MP_OPT_DURATION, A(lease_duration_ns), "DURATION",
     "how long a Lease (the leader's, or the one each running experiment has) stays unrenewed "
     "before another operator takes it over",
     "15s"},
    {"renew-deadline", 0, MP_OPT_DURATION, A(renew_deadline_ns), "DURATION",
     "a holder that could not renew a Lease for this long gives it up: the leader stops, an "
     "experiment's run stops",
     "10s"},
    {"retry-period", 0, MP_OPT_DURATION, A(retry_period_ns), "DURATION",
     "how often a holder renews its Leases and a standby tries the leader Lease", "2s"},
    {"identity", 0, MP_OPT_STR, A(identity), "NAME",
     "this operator's name in its Leases (default: HOSTNAME_PID_RANDOM)"},
    {"work-dir", 0, MP_OPT_STR, A(work_dir), "DIR",
     "the folder of the experiments' caches, rebuilt from the API server at every start "
     "(default: $TMPDIR, else /tmp)",
     .flags = MP_OPT_PATH},
    {"max-running", 0, MP_OPT_INT, A(max_running), "N",
     "experiments run at once; the others wait (condition Created) for a free slot, oldest "
     "change first",
     "16", 1, 100000},
    {"files-dir", 0, MP_OPT_STR, A(files_dir), "DIR",
     "the folder whose files experiments may name (spec.load.body, spec.algorithm.prior; the "
     "operator reads them and ships a body to the load Job in the trial's ConfigMap); default: "
     "none",
     .flags = MP_OPT_PATH},
};
#undef A

static int operator_run(void *args, char **operands, size_t n)
{
    (void)operands;
    (void)n;
    const struct operator_args *a = args;
    if (a->ns && a->all_namespaces) {
        return mp_cli_usage("operator", "give one of --namespace and --all-namespaces");
    }
    if (a->renew_deadline_ns >= a->lease_duration_ns ||
        a->retry_period_ns >= a->renew_deadline_ns || a->retry_period_ns <= 0) {
        return mp_cli_usage("operator", "the Lease timings must satisfy 0 < --retry-period < "
                                        "--renew-deadline < --lease-duration");
    }
    struct mp_error err = {0};
    struct mp_kube_load_opts lo = {
        .kubeconfig = a->kubeconfig, .context = a->context, .in_cluster_fallback = true};
    struct mp_kube_config *cfg = NULL;
    struct mp_kube_client *c = NULL;
    struct mp_kube_client_opts co = {.user_agent = "morphling-operator/" MP_VERSION};
    int rc = mp_kube_config_load(&lo, &cfg, &err);
    if (rc == 0) {
        rc = mp_kube_client_new(cfg, &co, &c, &err);
    }
    if (rc != 0) {
        return mp_cli_fail(&err);
    }
    mp_cli_catch_interrupts();
    struct mp_operator_opts oo = {
        .ns = a->ns,
        .all_namespaces = a->all_namespaces,
        .leader_elect = a->leader_elect,
        .lease_namespace = a->lease_namespace,
        .lease_name = a->lease_name,
        .identity = a->identity,
        .lease_duration_ms = a->lease_duration_ns / 1000000,
        .renew_deadline_ms = a->renew_deadline_ns / 1000000,
        .retry_period_ms = a->retry_period_ns / 1000000,
        .health_addr = a->health_addr,
        .metrics_addr = a->metrics_addr,
        .work_dir = a->work_dir,
        .files_dir = a->files_dir,
        .max_running = a->max_running,
        .stop = &mp_cli_interrupted,
    };
    rc = mp_operator_run(c, &oo, &err);
    mp_cli_restore_interrupts();
    mp_kube_client_free(c);
    return rc == 0 ? MP_EXIT_OK : mp_cli_fail(&err);
}

const struct mp_verb mp_verb_operator = {
    .name = "operator",
    .run = operator_run,
    .summary = "run ProfilingExperiments in a Kubernetes cluster",
    .description =
        "Lists and watches ProfilingExperiments (morphling.kubedl.io/v1alpha1, the original "
        "Morphling's resource) and runs each unfinished one with the kubernetes runner, "
        "'parallelism' trials at a time: one Trial object per trial, owned by its experiment, "
        "and the experiment's status, conditions and Events. The API server holds all its "
        "state, so a restarted operator, on any node, continues every experiment. Runs until "
        "SIGINT or SIGTERM (docs/kubernetes.md).",
    .opts = operator_opts,
    .n_opts = MP_ARRAY_LEN(operator_opts),
    .args_size = sizeof(struct operator_args),
};
