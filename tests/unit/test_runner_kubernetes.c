/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the kubernetes runner's pure parts (src/runner/kubernetes_*.c): names from
 * (experiment, trial, attempt), the runner settings and their positioned errors, the pods'
 * state judged into failure classes, the load Job's arguments and its result read back. The
 * runner against a cluster is tested by tests/integration/test_kube_run_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner/kubernetes_int.h"

#define SPEC_HEAD                                                                                  \
    "name: t\n"                                                                                    \
    "parameters:\n"                                                                                \
    "  - {name: cpu, type: discrete, values: [0.5, 1], target: {resource: cpu}}\n"                 \
    "objective: {metric: throughput_rps}\n"                                                        \
    "runner:\n"                                                                                    \
    "  kind: kubernetes\n"

#define ONE_CONTAINER "  pod_template: {spec: {containers: [{name: c, image: 'x:1'}]}}\n"

static struct mp_spec *parse(const char *tail)
{
    char *text = mp_xasprintf("%s%s", SPEC_HEAD, tail);
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(text, strlen(text), "s.yaml", "/tmp", NULL, 0, &spec, &err) != 0) {
        fail_msg("unexpected spec error: %s\n%s", err.msg, text);
    }
    free(text);
    return spec;
}

/* The runner settings of SPEC_HEAD + tail must fail with exactly `want`. */
static void expect_cfg_error(const char *tail, const char *want)
{
    struct mp_spec *spec = parse(tail);
    struct mp_kube_rcfg cfg;
    struct mp_error err = {0};
    int rc = mp_kube_rcfg_parse(spec, &cfg, &err);
    mp_kube_rcfg_release(&cfg);
    mp_spec_free(spec);
    if (rc == 0) {
        fail_msg("expected [%s], but the settings were accepted:\n%s", want, tail);
    }
    assert_int_equal(rc, MP_EINVALID);
    if (strcmp(err.msg, want) != 0) {
        fail_msg("error\n  [%s]\nis not\n  [%s]", err.msg, want);
    }
}

static void names_are_dns_labels(void **state)
{
    (void)state;
    char buf[MP_KUBE_RUNNER_NAME_MAX], key[MP_KUBE_RUNNER_NAME_MAX];
    assert_string_equal(mp_kube_runner_name("fmnist-k8s", 3, 1, buf), "fmnist-k8s-t3-a1");
    assert_string_equal(mp_kube_runner_experiment_key("fmnist-k8s", key), "fmnist-k8s");
    /* Upper case and '_' are not DNS: a lower-case prefix and a hash of the whole name. */
    mp_kube_runner_experiment_key("My_Exp", key);
    assert_int_equal(strncmp(key, "my-exp-", 7), 0);
    assert_int_equal(strlen(key), 13);
    char other[MP_KUBE_RUNNER_NAME_MAX];
    mp_kube_runner_experiment_key("my_exp", other);
    assert_string_not_equal(key, other); /* distinct names never share objects */
    assert_string_equal(key, mp_kube_runner_experiment_key("My_Exp", other)); /* stable */
    /* The longest experiment name still gives a Service name (a DNS label). */
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = '\0';
    longest[10] = '_';
    mp_kube_runner_name(longest, 1000000, 99, buf);
    assert_int_equal(mp_kube_check_name(buf, MP_KUBE_DNS_LABEL, "service", NULL), 0);
    mp_kube_runner_name("Z_", 1, 0, buf);
    assert_int_equal(mp_kube_check_name(buf, MP_KUBE_DNS_LABEL, "service", NULL), 0);
    /* A name may start with '_' (and a digit may follow it): a Service name is a DNS-1035
     * label, which starts with a letter ("_exp" gave "-exp-...", which nothing accepts). */
    static const char *const leading[] = {"_exp", "__1st", "_", "_-_9", "_Big"};
    for (size_t i = 0; i < sizeof(leading) / sizeof(leading[0]); i++) {
        mp_kube_runner_name(leading[i], 1, 0, buf);
        if (mp_kube_check_name(buf, MP_KUBE_DNS_LABEL, "service", NULL) != 0 ||
            !isalpha((unsigned char)buf[0])) {
            fail_msg("experiment \"%s\" gives \"%s\", not a DNS-1035 label", leading[i], buf);
        }
    }
    mp_kube_runner_experiment_key("_exp", key);
    assert_int_equal(strncmp(key, "exp-", 4), 0);
    assert_string_not_equal(key, mp_kube_runner_experiment_key("exp_", other));
}

static void settings_defaults(void **state)
{
    (void)state;
    /* The metrics a spec may judge trials by: the load test's, the pods' use, and with the
     * user's own client whatever it reports. */
    static const char *const accepted[] = {
        ONE_CONTAINER "constraints: ['p99_ms_upper <= 5', 'cpu_cores < 2', 'capacity_rps > 1']\n",
        ONE_CONTAINER "  client_template: {spec: {template: {spec: {containers: [{name: c, "
                      "image: 'x:1'}]}}}}\nconstraints: ['accuracy >= 0.9']\n",
    };
    for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
        struct mp_spec *spec = parse(accepted[i]);
        struct mp_kube_rcfg cfg;
        struct mp_error err = {0};
        if (mp_kube_rcfg_parse(spec, &cfg, &err) != 0) {
            fail_msg("%s\n%s", err.msg, accepted[i]);
        }
        mp_kube_rcfg_release(&cfg);
        mp_spec_free(spec);
    }
    struct mp_spec *spec = parse(ONE_CONTAINER "  namespace: ml\n  load: {path: /v1, rate: 5}\n");
    struct mp_kube_rcfg cfg;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_rcfg_parse(spec, &cfg, &err), 0);
    assert_string_equal(cfg.ns, "ml");
    assert_int_equal(cfg.replicas, 1);
    assert_true(cfg.startup_ns == 600LL * 1000000000LL);
    assert_true(cfg.load_spread);
    assert_string_equal(cfg.load_cpu, "1");
    assert_non_null(cfg.load);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(cfg.pod_template, "spec"), "containers"),
                           0),
            "name")),
        "c");
    mp_kube_rcfg_release(&cfg);
    mp_spec_free(spec);
}

static void settings_errors(void **state)
{
    (void)state;
    /* A metric that neither the load Job nor metrics.k8s.io gives: refused where it is named. */
    expect_cfg_error(ONE_CONTAINER "constraints: ['p99ms <= 5']\n",
                     "s.yaml:8:15: 'constraints[0]': runner 'kubernetes' measures no \"p99ms\"; "
                     "did you mean \"p99_ms\"? (its metrics: docs/spec.md, 'objective')");
    expect_cfg_error("", "s.yaml:6:3: 'runner': 'pod_template' is required (runner 'kubernetes')");
    expect_cfg_error(ONE_CONTAINER "  container: d\n",
                     "s.yaml:7:17: 'runner.pod_template': the pod template has no container "
                     "named \"d\"");
    expect_cfg_error("  pod_template: {spec: {containers: [{name: a}, {name: b}]}}\n",
                     "s.yaml:7:17: 'runner.pod_template': the pod template has 2 containers: "
                     "name the one to tune in runner.container");
    expect_cfg_error("  pod_template: {spec: {containers: [{name: a, resources: {limits: {cpu: "
                     "1.5.5}}}]}}\n",
                     "s.yaml:7:74: 'runner.pod_template.spec.containers[0].resources.limits.cpu': "
                     "resource 'cpu': quantity \"1.5.5\": quantities must match the regular "
                     "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    expect_cfg_error(ONE_CONTAINER "  namespace: Bad_NS\n",
                     "s.yaml:8:14: 'runner.namespace': expected a namespace name (a DNS label: "
                     "a-z, 0-9, '-', at most 63)");
    expect_cfg_error(ONE_CONTAINER "  gpu_sharing: hami\n",
                     "s.yaml:8:16: 'runner.gpu_sharing': gpu_sharing hami needs gpu_memory_mib, "
                     "the memory of one GPU");
    expect_cfg_error(ONE_CONTAINER "  load_memory: 100m\n",
                     "s.yaml:8:16: 'runner.load_memory': expected a whole number of bytes, got "
                     "\"100m\" (the suffix m means thousandths: megabytes are M, mebibytes Mi)");
    expect_cfg_error(ONE_CONTAINER "  load_memory: 12XB\n",
                     "s.yaml:8:16: 'runner.load_memory': resource 'memory': quantity \"12XB\": "
                     "quantities must match the regular expression "
                     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    expect_cfg_error(ONE_CONTAINER "  load: {mode: capacity}\n",
                     "s.yaml:8:9: 'runner.load': mode capacity needs an 'slo' such as "
                     "\"p99<=200ms\"");
    expect_cfg_error(ONE_CONTAINER "  replica: 2\n",
                     "s.yaml:8:3: 'runner.replica': unknown key; did you mean 'replicas'?");
}

/* Without a service section a parameter needs a target, or role instances (the replicas). */
#define REPLICAS_SPEC(role, runner)                                                                \
    "name: t\n"                                                                                    \
    "parameters:\n"                                                                                \
    "  - {name: cpu, type: discrete, values: [0.5, 1], target: {resource: cpu}}\n"                 \
    "  - {name: n, type: int, min: 1, max: 3" role "}\n"                                           \
    "objective: {metric: throughput_rps}\n"                                                        \
    "runner:\n"                                                                                    \
    "  kind: kubernetes\n" ONE_CONTAINER runner

static int replicas_cfg(const char *text, struct mp_kube_rcfg *cfg, struct mp_error *err)
{
    struct mp_spec *spec = NULL;
    assert_int_equal(mp_spec_parse(text, strlen(text), "s.yaml", "/tmp", NULL, 0, &spec, err), 0);
    int rc = mp_kube_rcfg_parse(spec, cfg, err);
    mp_kube_rcfg_release(cfg);
    mp_spec_free(spec);
    return rc;
}

/* A GPU type reaches the pod as a node selector: a value that is no label value ("Tesla T4")
 * is refused before any trial (every trial of it failed INFRA on a real API server), unless
 * runner.gpu_types maps it to one. */
#define GPU_TYPE_SPEC(runner)                                                                      \
    "name: t\n"                                                                                    \
    "parameters:\n"                                                                                \
    "  - {name: cpu, type: discrete, values: [0.5, 1], target: {resource: cpu}}\n"                 \
    "  - {name: g, type: categorical, values: [T4, Tesla T4], target: {resource: gpu_type}}\n"     \
    "objective: {metric: throughput_rps}\n"                                                        \
    "runner:\n"                                                                                    \
    "  kind: kubernetes\n" ONE_CONTAINER runner

static void gpu_types_select_nodes(void **state)
{
    (void)state;
    struct mp_error err = {0};
    struct mp_kube_rcfg cfg;
    assert_int_equal(replicas_cfg(GPU_TYPE_SPEC(""), &cfg, &err), MP_EINVALID);
    const char *want = "s.yaml:4:5: 'parameters[1]': gpu_type \"Tesla T4\" cannot select nodes: "
                       "label nvidia.com/gpu.product: value \"Tesla T4\" must be empty or at "
                       "most 63 letters";
    if (strncmp(err.msg, want, strlen(want)) != 0) {
        fail_msg("error\n  [%s]\ndoes not start with\n  [%s]", err.msg, want);
    }
    mp_error_clear(&err);
    assert_int_equal(replicas_cfg(GPU_TYPE_SPEC("  gpu_types: {Tesla T4: Tesla-T4}\n"), &cfg, &err),
                     0);
    assert_int_equal(replicas_cfg(GPU_TYPE_SPEC("  gpu_type_label: 'bad key/'\n"), &cfg, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "label key \"bad key/\""));
}

static void params_reach_the_pod(void **state)
{
    (void)state;
    struct mp_error err = {0};
    struct mp_kube_rcfg cfg;
    assert_int_equal(replicas_cfg(REPLICAS_SPEC("", ""), &cfg, &err), MP_EINVALID);
    assert_string_equal(err.msg, "s.yaml:4:5: 'parameters[1]': parameter 'n' reaches the pod "
                                 "nowhere: give it a target (or role: instances for the "
                                 "Deployment's replicas)");
    assert_int_equal(replicas_cfg(REPLICAS_SPEC(", role: instances", ""), &cfg, &err), 0);
    assert_int_equal(
        replicas_cfg(REPLICAS_SPEC(", role: instances", "  replicas: 2\n"), &cfg, &err),
        MP_EINVALID);
    assert_non_null(strstr(err.msg, "the replicas are set once"));
}

/* A Deployment file as the pod template: its spec.template is used. */
static void template_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/mp-kube-tmpl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *dep = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n"
                      "  template:\n    spec:\n      containers:\n"
                      "        - {name: srv, image: 'x:1', ports: [{containerPort: 9000}]}\n";
    assert_int_equal(write(fd, dep, strlen(dep)), (ssize_t)strlen(dep));
    close(fd);
    char *tail = mp_xasprintf("  pod_template: %s\n", path);
    struct mp_spec *spec = parse(tail);
    struct mp_kube_rcfg cfg;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_rcfg_parse(spec, &cfg, &err), 0);
    json_t *c =
        json_array_get(json_object_get(json_object_get(cfg.pod_template, "spec"), "containers"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "name")), "srv");
    mp_kube_rcfg_release(&cfg);
    mp_spec_free(spec);
    free(tail);
    unlink(path);
}

/* ---- pods ---- */

static json_t *pods(const char *text)
{
    json_error_t jerr;
    json_t *p = json_loads(text, 0, &jerr);
    if (!p) {
        fail_msg("bad fixture: %s", jerr.text);
    }
    return p;
}

static void judge(const char *fixture, bool load, enum kube_pods_verdict v, enum mp_failure f,
                  const char *reason)
{
    json_t *p = pods(fixture);
    struct kube_pods_state st = {0};
    mp_kube_judge_pods(p, load, 1, "c", false, &st);
    json_decref(p);
    assert_int_equal(st.verdict, v);
    assert_int_equal(st.failure, f);
    if (reason && strcmp(st.reason, reason) != 0) {
        fail_msg("reason [%s] is not [%s]", st.reason, reason);
    }
    mp_kube_pods_state_release(&st);
}

/* Unschedulable while other trials of the run are in flight: their resources may free up, so
 * the pod waits (the scheduler's message kept for the deadline's reason). */
static void unschedulable_waits_for_others(void **state)
{
    (void)state;
    json_t *p = pods("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"conditions\":[{\"type\":"
                     "\"PodScheduled\",\"status\":\"False\",\"reason\":\"Unschedulable\","
                     "\"message\":\"0/1 nodes are available: 1 Insufficient cpu.\"}]}}]");
    for (int load = 0; load < 2; load++) {
        struct kube_pods_state st = {0};
        mp_kube_judge_pods(p, load, 1, "c", true, &st);
        assert_int_equal(st.verdict, KUBE_PODS_WAITING);
        assert_string_equal(st.waiting,
                            "pod p: unschedulable: 0/1 nodes are available: 1 Insufficient cpu.");
        mp_kube_judge_pods(p, load, 1, "c", false, &st);
        assert_int_equal(st.verdict, load ? KUBE_PODS_INFRA : KUBE_PODS_FAILED);
        mp_kube_pods_state_release(&st);
    }
    json_decref(p);
}

/* A load pod deleted before its container ended: INFRA; one that had ended keeps its result. */
static void deleted_load_pod(void **state)
{
    (void)state;
    judge("[{\"metadata\":{\"name\":\"l\",\"deletionTimestamp\":\"x\"},\"status\":{}}]", true,
          KUBE_PODS_INFRA, MP_FAILURE_INFRA, "load pod l was deleted before it finished");
    judge("[{\"metadata\":{\"name\":\"l\",\"deletionTimestamp\":\"x\"},\"status\":{"
          "\"containerStatuses\":[{\"name\":\"load\",\"state\":{\"terminated\":{"
          "\"exitCode\":0}}}]}}]",
          true, KUBE_PODS_DONE, MP_FAILURE_NONE, NULL);
    /* Evicted (kubectl drain: the API server's eviction sets DisruptionTarget, then deletes). */
    judge("[{\"metadata\":{\"name\":\"l\",\"deletionTimestamp\":\"x\"},\"status\":{"
          "\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\",\"reason\":"
          "\"EvictionByEvictionAPI\",\"message\":\"Eviction API: evicting\"}]}}]",
          true, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
          "load pod l was evicted before it finished (EvictionByEvictionAPI: Eviction API: "
          "evicting)");
    /* Marked as a deletion (the runner then looks for a deleted owner to name), only then. */
    const char *two_gone = "[{\"metadata\":{\"name\":\"a\",\"deletionTimestamp\":\"x\"},"
                           "\"status\":{}},{\"metadata\":{\"name\":\"b\","
                           "\"deletionTimestamp\":\"x\"},\"status\":{}}]";
    const char *failed = "[{\"metadata\":{\"name\":\"l\"},\"status\":{\"phase\":\"Failed\","
                         "\"message\":\"evicted\"}}]";
    for (int i = 0; i < 2; i++) {
        json_t *p = pods(i == 0 ? two_gone : failed);
        struct kube_pods_state st = {0};
        mp_kube_judge_pods(p, true, 1, "c", false, &st);
        json_decref(p);
        assert_int_equal(st.verdict, KUBE_PODS_INFRA);
        assert_int_equal(st.deleted, i == 0);
        mp_kube_pods_state_release(&st);
    }
}

/* st.pull says that the verdict is an image pull's (the runner counts those in a row to stop
 * the run): not when another pod's failure was found first. */
static void pull_is_the_verdicts_own(void **state)
{
    (void)state;
#define CRASH                                                                                      \
    "{\"metadata\":{\"name\":\"a\"},\"status\":{\"containerStatuses\":[{\"name\":\"c\","           \
    "\"state\":{\"terminated\":{\"exitCode\":2}}}]}}"
#define PULL(container)                                                                            \
    "{\"metadata\":{\"name\":\"b\"},\"status\":{\"containerStatuses\":[{\"name\":\"" container     \
    "\",\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}}"
    static const char *const fixtures[] = {"[" CRASH "," PULL("c") "]", "[" PULL("c") "]",
                                           "[" PULL("load") "]"};
#undef CRASH
#undef PULL
    for (int i = 0; i < 3; i++) {
        json_t *p = pods(fixtures[i]);
        struct kube_pods_state st = {0};
        mp_kube_judge_pods(p, i == 2, 2, "c", false, &st);
        json_decref(p);
        assert_int_equal(st.verdict, i == 0 ? KUBE_PODS_FAILED : KUBE_PODS_INFRA);
        assert_int_equal(st.pull, i != 0);
        mp_kube_pods_state_release(&st);
    }
}

static void pods_judged(void **state)
{
    (void)state;
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"conditions\":[{\"type\":\"PodScheduled\","
          "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"0/1 nodes are "
          "available: 1 Insufficient cpu.\"}]}}]",
          false, KUBE_PODS_FAILED, MP_FAILURE_STARTUP_TIMEOUT,
          "pod p: unschedulable: 0/1 nodes are available: 1 Insufficient cpu.");
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"containerStatuses\":[{\"name\":\"c\","
          "\"state\":{\"waiting\":{\"reason\":\"ImagePullBackOff\",\"message\":\"Back-off\"}}}]}}"
          "]",
          false, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
          "pod p: image pull failed: ImagePullBackOff: Back-off");
    /* On a node: the node is named (one that cannot reach the registry shows each time). */
    judge("[{\"metadata\":{\"name\":\"p\"},\"spec\":{\"nodeName\":\"gpu-3\"},\"status\":{"
          "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
          "\"ErrImagePull\",\"message\":\"401\"}}}]}}]",
          false, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
          "pod p on node gpu-3: image pull failed: ErrImagePull: 401");
    judge("[{\"metadata\":{\"name\":\"l\"},\"spec\":{\"nodeName\":\"gpu-3\"},\"status\":{"
          "\"containerStatuses\":[{\"name\":\"c\",\"state\":{\"waiting\":{\"reason\":"
          "\"ErrImagePull\",\"message\":\"401\"}}}]}}]",
          true, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
          "load pod l on node gpu-3: image pull failed: 401");
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"containerStatuses\":[{\"name\":\"c\","
          "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},\"lastState\":{"
          "\"terminated\":{\"exitCode\":137,\"reason\":\"OOMKilled\"}}}]}}]",
          false, KUBE_PODS_FAILED, MP_FAILURE_OOM_KILLED,
          "pod p: OOMKilled (exit code 137, OOMKilled)");
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"containerStatuses\":[{\"name\":\"c\","
          "\"state\":{\"terminated\":{\"exitCode\":2,\"reason\":\"Error\"}}}]}}]",
          false, KUBE_PODS_FAILED, MP_FAILURE_CRASHED,
          "pod p: container exited: exit code 2, Error");
    /* Another container's crash is not the tuned one's. */
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"containerStatuses\":[{\"name\":\"side\","
          "\"state\":{\"terminated\":{\"exitCode\":2}}}]}}]",
          false, KUBE_PODS_WAITING, MP_FAILURE_NONE, NULL);
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"conditions\":[{\"type\":\"Ready\","
          "\"status\":\"True\"}]}}]",
          false, KUBE_PODS_READY, MP_FAILURE_NONE, NULL);
    /* A service pod that its node failed (evicted, shut down: a reason is set) is no verdict on
     * the configuration (it was CRASHED); one that failed without a reason still is. */
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Failed\",\"reason\":"
          "\"Evicted\",\"message\":\"The node was low on resource: memory.\"}}]",
          false, KUBE_PODS_INFRA, MP_FAILURE_INFRA,
          "pod p failed on its node (Evicted): The node was low on resource: memory.");
    judge("[{\"metadata\":{\"name\":\"p\"},\"status\":{\"phase\":\"Failed\",\"message\":"
          "\"gone\"}}]",
          false, KUBE_PODS_FAILED, MP_FAILURE_CRASHED, "pod p failed: gone");
    /* A pod on its way out counts for nothing. */
    judge("[{\"metadata\":{\"name\":\"p\",\"deletionTimestamp\":\"2024-01-01T00:00:00Z\"},"
          "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]",
          false, KUBE_PODS_WAITING, MP_FAILURE_NONE, NULL);
    /* The load pod: unschedulable is ours to fix (INFRA); a terminated container is done. */
    judge("[{\"metadata\":{\"name\":\"l\"},\"status\":{\"conditions\":[{\"type\":\"PodScheduled\","
          "\"status\":\"False\",\"reason\":\"Unschedulable\",\"message\":\"x\"}]}}]",
          true, KUBE_PODS_INFRA, MP_FAILURE_INFRA, NULL);
    json_t *p = pods("[{\"metadata\":{\"name\":\"l\"},\"status\":{\"containerStatuses\":[{\"name\":"
                     "\"load\",\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\","
                     "\"message\":\"{}\"}}}]}}]");
    struct kube_pods_state st = {0};
    mp_kube_judge_pods(p, true, 1, NULL, false, &st);
    assert_int_equal(st.verdict, KUBE_PODS_DONE);
    assert_string_equal(st.message, "{}");
    mp_kube_pods_state_release(&st);
    json_decref(p);
}

/* ---- load ---- */

static void load_arguments(void **state)
{
    (void)state;
    /* A capacity search times its own steps (a spec that gives window or warmup with it is
     * refused, test_local); a measurement takes them. */
    struct mp_spec *spec = parse(ONE_CONTAINER "  load: {path: /v1/m, method: POST, connections: "
                                               "8, mode: capacity, slo: 'p99<=20ms', max_time: "
                                               "30s, headers: ['X-A: 1']}\n");
    json_t *args = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_load_args(spec, mp_doc_get(spec->runner_node, "load"),
                                       "http://s.ns.svc:80", 0, &args, &err),
                     0);
    char *text = json_dumps(args, JSON_COMPACT);
    assert_string_equal(text, "[\"load\",\"http://s.ns.svc:80/v1/m\",\"--result\",\"/dev/"
                              "termination-log\",\"--method\",\"POST\",\"--connections\",\"8\","
                              "\"--capacity\",\"--slo\",\"p99<=20ms\",\"--max-time\",\"30s\","
                              "\"--header\",\"X-A: 1\"]");
    free(text);
    json_decref(args);
    mp_spec_free(spec);
    spec = parse(ONE_CONTAINER "  load: {window: 1s, warmup: 2s}\n");
    assert_int_equal(mp_kube_load_args(spec, mp_doc_get(spec->runner_node, "load"),
                                       "http://s.ns.svc:80", 0, &args, &err),
                     0);
    text = json_dumps(args, JSON_COMPACT);
    assert_non_null(strstr(text, "\"--warmup\",\"2s\",\"--window\",\"1s\""));
    free(text);
    json_decref(args);
    mp_spec_free(spec);
}

/* The load Job's args for runner.load `tail`, with budget_ns, as compact JSON (owned). */
static char *load_args_of(const char *tail, int64_t budget_ns)
{
    struct mp_spec *spec = parse(tail);
    json_t *args = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_load_args(spec, mp_doc_get(spec->runner_node, "load"),
                                       "http://s.ns.svc:80", budget_ns, &args, &err),
                     0);
    char *text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    mp_spec_free(spec);
    return text;
}

/* A measurement in the load Job follows the local runner's rules (they were accepted and left
 * out: the Job measured with the stability rule alone): the confidence rule (ci 0.02 and 15
 * windows by default), pruning on the spec's latency limits, and a second measurement within
 * the trial's time left; each can be turned off. */
static void load_measure_rules(void **state)
{
    (void)state;
    char *text = load_args_of(ONE_CONTAINER "  load: {path: /m}\n"
                                            "constraints: ['p99_ms <= 20', 'latency_p50_us < 800', "
                                            "'error_rate <= 0.01']\n",
                              (int64_t)90 * 1000000000);
    assert_string_equal(text, "[\"load\",\"http://s.ns.svc:80/m\",\"--result\",\"/dev/"
                              "termination-log\",\"--ci\",\"0.02\",\"--max-windows\",\"15\","
                              "\"--prune\",\"p99<=20000.000us,p50<=800.000us\",\"--remeasure\","
                              "\"--max-time\",\"90000ms\"]");
    free(text);
    /* Windows given: those; no latency limit: no pruning; no time left: no second one. */
    text = load_args_of(ONE_CONTAINER "  load: {windows: 6, ci: 0.05}\n", -5);
    assert_string_equal(text, "[\"load\",\"http://s.ns.svc:80/\",\"--result\",\"/dev/"
                              "termination-log\",\"--max-windows\",\"6\",\"--ci\",\"0.05\","
                              "\"--remeasure\",\"--max-time\",\"0ms\"]");
    free(text);
    text = load_args_of(ONE_CONTAINER "  load: {ci: 0, prune: false, remeasure: false}\n"
                                      "constraints: ['p99_ms <= 20']\n",
                        (int64_t)90 * 1000000000);
    assert_string_equal(text, "[\"load\",\"http://s.ns.svc:80/\",\"--result\",\"/dev/"
                              "termination-log\"]");
    free(text);
}

/* An inline body (a ProfilingExperiment's requestTemplate) travels to the load pod as one file. */
static void load_inline_body(void **state)
{
    (void)state;
    struct mp_spec *spec = parse(ONE_CONTAINER "  load: {method: POST, body_text: 'hi!'}\n");
    const struct mp_node *load = mp_doc_get(spec->runner_node, "load");
    json_t *data = NULL, *args = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_load_bodies(spec, load, &data, &err), 0);
    char *text = json_dumps(data, JSON_COMPACT);
    assert_string_equal(text, "{\"body-0000\":\"aGkh\"}");
    free(text);
    assert_int_equal(mp_kube_load_args(spec, load, "http://s.ns.svc:80", 0, &args, &err), 0);
    text = json_dumps(args, JSON_COMPACT);
    assert_non_null(strstr(text, "\"--body\""));
    free(text);
    json_decref(args);
    json_decref(data);
    mp_spec_free(spec);
}

static void load_results(void **state)
{
    (void)state;
    struct mp_spec *spec = parse(ONE_CONTAINER "  load: {max_error_rate: 0.1}\n");
    const struct mp_node *load = mp_doc_get(spec->runner_node, "load");
    struct mp_trial_result res;
    struct mp_error err = {0};
    double v = 0;
    mp_trial_result_init(&res);
    assert_int_equal(mp_kube_load_result(load,
                                         "{\"metrics\":{\"throughput_rps\":12.5,\"p99_ms\":3},"
                                         "\"requests\":100,\"errors\":5,\"error_rate\":0.05}",
                                         &res, &err),
                     0);
    assert_int_equal(res.state, MP_TRIAL_SUCCEEDED); /* 5 % is within 10 % */
    assert_true(mp_metrics_get(&res.metrics, "throughput_rps", &v) && v == 12.5);
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    assert_int_equal(mp_kube_load_result(load,
                                         "{\"metrics\":{},\"requests\":10,\"errors\":90,"
                                         "\"error_rate\":0.9,\"first_error\":\"refused\"}",
                                         &res, &err),
                     0);
    assert_int_equal(res.failure, MP_FAILURE_LOAD_ERRORS);
    assert_string_equal(res.reason, "90.00 % of 100 requests failed (limit 10.00 %): refused");
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    assert_int_equal(mp_kube_load_result(load, "not json", &res, &err), MP_EPARSE);
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    assert_int_equal(mp_kube_load_result(load,
                                         "{\"metrics\":{},\"requests\":1,\"errors\":0,\"error_"
                                         "rate\":0,\"capacity\":{\"found\":false,\"capacity_rps\":"
                                         "0,\"saturation_rps\":40}}",
                                         &res, &err),
                     0);
    assert_int_equal(res.failure, MP_FAILURE_SLO_VIOLATED);
    assert_true(mp_metrics_get(&res.metrics, "saturation_rps", &v) && v == 40);
    mp_trial_result_release(&res);
    /* Why the search could not run (a service too slow for its steps) reaches the reason, as
     * in the local runner. */
    mp_trial_result_init(&res);
    assert_int_equal(mp_kube_load_result(load,
                                         "{\"metrics\":{},\"requests\":1,\"errors\":0,\"error_"
                                         "rate\":0,\"capacity\":{\"found\":false,\"capacity_rps\":"
                                         "0,\"saturation_rps\":0.2,\"why\":\"too slow\"}}",
                                         &res, &err),
                     0);
    assert_non_null(strstr(res.reason, ": too slow"));
    mp_trial_result_release(&res);
    mp_spec_free(spec);
}

/* ---- objects ---- */

static const char *at(json_t *o, const char *path)
{
    /* "a.b.0.c": object keys and array indexes. */
    char *copy = mp_xstrdup(path), *save = NULL;
    json_t *v = o;
    for (char *k = strtok_r(copy, ".", &save); v && k; k = strtok_r(NULL, ".", &save)) {
        v = json_is_array(v) ? json_array_get(v, (size_t)strtoul(k, NULL, 10))
                             : json_object_get(v, k);
    }
    free(copy);
    static char buf[256];
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(buf, sizeof(buf), "%s", text ? text : "(none)");
    free(text);
    return buf;
}

/* The objects of a trial of a spec with CPU, memory, a GPU share (HAMi), a GPU type and an
 * environment variable, built without a cluster. */
struct objs {
    struct mp_spec *spec;
    struct mp_kube_runner r;
    double x[5];
    struct mp_trial_request req;
    struct mp_trial_result res;
    struct kube_trial t;
};

static void objs_up(struct objs *o)
{
    const char *text =
        "name: My_Exp\n"
        "parameters:\n"
        "  - {name: cpu, type: discrete, values: [0.5], target: {resource: cpu}}\n"
        "  - {name: mem, type: discrete, values: [512], target: {resource: memory}}\n"
        "  - {name: share, type: discrete, values: [0.25], target: {resource: gpu_memory_share}}\n"
        "  - {name: gt, type: categorical, values: [T4], target: {resource: gpu_type}}\n"
        "  - {name: batch, type: discrete, values: [8], target: {env: BATCH}}\n"
        "objective: {metric: throughput_rps}\n"
        "runner:\n"
        "  kind: kubernetes\n"
        "  gpu_sharing: hami\n"
        "  gpu_memory_mib: 16384\n"
        "  replicas: 2\n"
        "  load_node_selector: {pool: load}\n"
        "  pod_template:\n"
        "    metadata: {labels: {app: a}}\n"
        "    spec: {containers: [{name: c, image: 'x:1', ports: [{containerPort: 9000}]}]}\n";
    struct mp_error err = {0};
    memset(o, 0, sizeof(*o));
    assert_int_equal(mp_spec_parse(text, strlen(text), "s.yaml", "/tmp", NULL, 0, &o->spec, &err),
                     0);
    o->r.base.spec = o->spec;
    assert_int_equal(mp_kube_rcfg_parse(o->spec, &o->r.cfg, &err), 0);
    snprintf(o->r.ns, sizeof(o->r.ns), "ns");
    snprintf(o->r.load_image, sizeof(o->r.load_image), "morphling:1");
    const double x[] = {0.5, 512, 0.25, 0, 8};
    memcpy(o->x, x, sizeof(x));
    o->req =
        (struct mp_trial_request){.experiment = "My_Exp", .number = 3, .attempt = 1, .x = o->x};
    mp_trial_result_init(&o->res);
    o->t = (struct kube_trial){.r = &o->r, .req = &o->req, .res = &o->res, .port = 9000};
    o->t.replicas = o->r.cfg.replicas;
    mp_kube_runner_name("My_Exp", 3, 1, o->t.name);
    snprintf(o->t.job_name, sizeof(o->t.job_name), "%s-load", o->t.name);
    mp_kube_runner_experiment_key("My_Exp", o->t.exp_key);
}

static void objs_down(struct objs *o)
{
    mp_trial_result_release(&o->res);
    json_decref(o->t.owner);
    mp_kube_rcfg_release(&o->r.cfg);
    mp_spec_free(o->spec);
}

static void check_owner(struct objs *o)
{
    json_t *owner = mp_kube_owner_object(&o->t, o->x);
    assert_string_equal(mp_kube_label(owner, MP_KUBE_LABEL_ROLE), "owner");
    assert_string_equal(mp_kube_label(owner, MP_KUBE_LABEL_TRIAL), "3");
    assert_string_equal(mp_kube_label(owner, MP_KUBE_LABEL_ATTEMPT), "1");
    assert_string_equal(mp_kube_annotation(owner, MP_KUBE_ANNOTATION_EXPERIMENT), "My_Exp");
    const char *conf =
        json_string_value(json_object_get(json_object_get(owner, "data"), "configuration.json"));
    assert_non_null(conf);
    assert_non_null(strstr(conf, "\"name\":\"cpu\",\"value\":\"500m\""));
    /* As the server answers a create: with a uid. */
    json_object_set_new(json_object_get(owner, "metadata"), "uid", json_string("u-1"));
    o->t.owner = owner;
}

/* Returns the Deployment (owned). */
static json_t *check_deployment(struct objs *o)
{
    json_t *dep = NULL, *pod = NULL;
    struct mp_error err = {0};
    struct mp_pod_mapping m;
    mp_kube_rcfg_mapping(&o->r.cfg, &m);
    m.port = 9000;
    assert_int_equal(mp_spec_render_pod(o->spec, o->x, o->r.cfg.pod_template, o->r.cfg.container,
                                        &m, &pod, &err),
                     0);
    assert_int_equal(mp_kube_deployment_object(&o->t, pod, &dep, &err), 0);
    json_decref(pod);
    assert_string_equal(at(dep, "spec.replicas"), "2");
    assert_string_equal(at(dep, "metadata.ownerReferences.0.uid"), "u-1");
    assert_string_equal(at(dep, "metadata.ownerReferences.0.kind"), "ConfigMap");
    assert_string_equal(at(dep, "metadata.ownerReferences.0.blockOwnerDeletion"), "true");
    json_t *tspec =
        json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "spec");
    json_t *c = json_array_get(json_object_get(tspec, "containers"), 0);
    assert_string_equal(at(c, "resources.limits.cpu"), "500m");
    assert_string_equal(at(c, "resources.requests.memory"), "512Mi");
    json_t *limits = json_object_get(json_object_get(c, "resources"), "limits");
    assert_string_equal(json_string_value(json_object_get(limits, "nvidia.com/gpumem")), "4096");
    assert_string_equal(json_string_value(json_object_get(limits, "nvidia.com/gpu")), "1");
    assert_string_equal(at(c, "env.0.name"), "BATCH");
    assert_string_equal(at(c, "readinessProbe.tcpSocket.port"), "9000");
    assert_string_equal(json_string_value(json_object_get(json_object_get(tspec, "nodeSelector"),
                                                          "nvidia.com/gpu.product")),
                        "Tesla-T4");
    return dep;
}

/* The selector is ours alone; the template keeps the user's labels too; the Service selects
 * the same pods. */
static void check_selectors(struct objs *o, json_t *dep)
{
    json_t *sel =
        json_object_get(json_object_get(json_object_get(dep, "spec"), "selector"), "matchLabels");
    json_t *tl = json_object_get(
        json_object_get(json_object_get(json_object_get(dep, "spec"), "template"), "metadata"),
        "labels");
    assert_string_equal(json_string_value(json_object_get(tl, "app")), "a");
    const char *k;
    json_t *v;
    json_object_foreach (sel, k, v) {
        assert_true(json_equal(json_object_get(tl, k), v));
    }
    assert_null(json_object_get(sel, "app"));
    json_t *svc = mp_kube_service_object(&o->t);
    assert_string_equal(at(svc, "spec.type"), "ClusterIP");
    assert_string_equal(at(svc, "spec.ports.0.port"), "9000");
    assert_true(json_equal(json_object_get(json_object_get(svc, "spec"), "selector"), sel));
    json_decref(svc);
}

static void check_job(struct objs *o)
{
    json_t *job = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_load_job_object(&o->t, &job, &err), 0);
    assert_string_equal(at(job, "spec.backoffLimit"), "0");
    assert_string_equal(at(job, "spec.template.spec.containers.0.image"), "morphling:1");
    char url[160];
    snprintf(url, sizeof(url), "http://%s.ns.svc:9000/", o->t.name);
    assert_string_equal(at(job, "spec.template.spec.containers.0.args.1"), url);
    assert_string_equal(at(job, "spec.template.spec.nodeSelector.pool"), "load");
    assert_string_equal(at(job, "spec.template.spec.affinity.podAntiAffinity."
                                "preferredDuringSchedulingIgnoredDuringExecution.0.weight"),
                        "100");
    assert_string_equal(at(job, "spec.template.spec.containers.0.terminationMessagePolicy"),
                        "File");
    assert_string_equal(mp_kube_label(job, MP_KUBE_LABEL_ROLE), "load");
    json_decref(job);
}

/* The env value of name in container c, NULL when absent; fails on a duplicate. */
static const char *env_of(json_t *c, const char *name)
{
    json_t *env = json_object_get(c, "env");
    const char *found = NULL;
    for (size_t i = 0; i < json_array_size(env); i++) {
        json_t *e = json_array_get(env, i);
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0) {
            assert_null(found);
            found = json_string_value(json_object_get(e, "value"));
        }
    }
    return found;
}

/* runner.client_template in place of the load Job: the user's Job with our name, labels,
 * owner, one attempt, and the service's address and the parameters in its environment. */
static void check_client_job(struct objs *o)
{
    const char *text =
        "metadata: {name: theirs}\n"
        "spec:\n"
        "  backoffLimit: 4\n"
        "  template:\n"
        "    metadata: {labels: {app: client}}\n"
        "    spec:\n"
        "      restartPolicy: OnFailure\n"
        "      containers:\n"
        "        - name: pi\n"
        "          image: 'client:2'\n"
        "          args: ['$(MORPHLING_SERVICE_URL)']\n"
        "          env: [{name: A, value: b}, {name: MORPHLING_SERVICE_PORT, value: x}]\n";
    struct mp_node *doc = NULL;
    struct mp_error err = {0};
    json_t *job = NULL;
    assert_int_equal(mp_doc_parse(text, strlen(text), "c.yaml", &doc, &err), 0);
    o->r.cfg.client_template = doc;
    assert_int_equal(mp_kube_client_job_object(&o->t, &job, &err), 0);
    o->r.cfg.client_template = NULL;
    mp_doc_free(doc);
    assert_string_equal(at(job, "metadata.name"), o->t.job_name);
    assert_string_equal(at(job, "metadata.namespace"), "ns");
    assert_string_equal(at(job, "metadata.ownerReferences.0.uid"), "u-1");
    assert_string_equal(mp_kube_label(job, MP_KUBE_LABEL_ROLE), "load");
    assert_string_equal(at(job, "spec.backoffLimit"), "0");
    assert_string_equal(at(job, "spec.template.spec.restartPolicy"), "Never");
    assert_string_equal(at(job, "spec.template.metadata.labels.app"), "client");
    json_t *tl = json_object_get(
        json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "metadata"),
        "labels");
    assert_string_equal(json_string_value(json_object_get(tl, MP_KUBE_LABEL_ROLE)), "load");
    assert_string_equal(json_string_value(json_object_get(tl, MP_KUBE_LABEL_TRIAL)), "3");
    json_t *c = json_array_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "spec"),
            "containers"),
        0);
    assert_string_equal(at(c, "image"), "client:2");
    assert_string_equal(at(c, "terminationMessagePolicy"), "FallbackToLogsOnError");
    assert_string_equal(at(c, "args.0"), "$(MORPHLING_SERVICE_URL)");
    char host[160], url[200];
    snprintf(host, sizeof(host), "%s.ns.svc", o->t.name);
    snprintf(url, sizeof(url), "http://%s:9000", host);
    assert_string_equal(env_of(c, "A"), "b");
    assert_string_equal(env_of(c, "MORPHLING_SERVICE_HOST"), host);
    assert_string_equal(env_of(c, "MORPHLING_SERVICE_PORT"), "9000"); /* ours replaces theirs */
    assert_string_equal(env_of(c, "MORPHLING_SERVICE_URL"), url);
    assert_string_equal(env_of(c, "MORPHLING_NAMESPACE"), "ns");
    assert_string_equal(env_of(c, "MORPHLING_TRIAL_NAME"), o->t.name);
    assert_string_equal(env_of(c, "MORPHLING_PARAM_CPU"), "500m");
    assert_string_equal(env_of(c, "MORPHLING_PARAM_MEM"), "512Mi");
    assert_string_equal(env_of(c, "MORPHLING_PARAM_BATCH"), "8");
    assert_non_null(
        strstr(env_of(c, "MORPHLING_PARAMETERS"), "{\"name\":\"batch\",\"value\":\"8\""));
    assert_null(env_of(c, "MORPHLING_BODY_DIR")); /* no request body */
    json_decref(job);
}

static void objects_built(void **state)
{
    (void)state;
    struct objs o;
    objs_up(&o);
    check_owner(&o);
    json_t *dep = check_deployment(&o);
    check_selectors(&o, dep);
    json_decref(dep);
    check_job(&o);
    check_client_job(&o);
    objs_down(&o);
}

/* The run identity: on every object and in every selector; AlreadyExists adopts only this
 * run's object of this trial; the experiment's object of another run is KUBE_OTHER_RUN. */
static void run_identity(void **state)
{
    (void)state;
    struct objs o;
    objs_up(&o);
    snprintf(o.r.run_id, sizeof(o.r.run_id), "r1");
    json_t *owner = mp_kube_owner_object(&o.t, o.x);
    assert_string_equal(mp_kube_label(owner, MP_KUBE_LABEL_RUN), "r1");
    json_object_set_new(json_object_get(owner, "metadata"), "uid", json_string("u-1"));
    o.t.owner = json_deep_copy(owner);
    json_t *svc = mp_kube_service_object(&o.t);
    json_t *sel = json_object_get(json_object_get(svc, "spec"), "selector");
    assert_string_equal(json_string_value(json_object_get(sel, MP_KUBE_LABEL_RUN)), "r1");
    json_decref(svc);
    json_t *job = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_kube_load_job_object(&o.t, &job, &err), 0);
    json_t *pl = json_object_get(
        json_object_get(json_object_get(json_object_get(job, "spec"), "template"), "metadata"),
        "labels");
    assert_string_equal(json_string_value(json_object_get(pl, MP_KUBE_LABEL_RUN)), "r1");
    json_decref(job);
    assert_int_equal(mp_kube_whose(&o.t, owner), KUBE_OURS);
    assert_true(mp_kube_run_owns("r1", owner));
    mp_kube_set_label(owner, MP_KUBE_LABEL_RUN, "r2"); /* another store's run */
    assert_int_equal(mp_kube_whose(&o.t, owner), KUBE_OTHER_RUN);
    assert_false(mp_kube_run_owns("r1", owner));
    json_object_del(json_object_get(json_object_get(owner, "metadata"), "labels"),
                    MP_KUBE_LABEL_RUN); /* a run of a version without run labels */
    assert_int_equal(mp_kube_whose(&o.t, owner), KUBE_OTHER_RUN);
    assert_true(mp_kube_run_owns("", owner));
    mp_kube_set_label(owner, MP_KUBE_LABEL_RUN, "r1");
    mp_kube_set_label(owner, MP_KUBE_LABEL_ATTEMPT, "2"); /* this run's, another attempt */
    assert_int_equal(mp_kube_whose(&o.t, owner), KUBE_STRANGER);
    mp_kube_set_label(owner, MP_KUBE_LABEL_ATTEMPT, "1");
    json_object_set_new(json_object_get(owner, "metadata"), "deletionTimestamp",
                        json_string("2026-01-01T00:00:00Z"));
    assert_int_equal(mp_kube_whose(&o.t, owner), KUBE_STRANGER);
    json_t *other = mp_kube_object_new("v1", "ConfigMap", "ns", o.t.name); /* not ours at all */
    assert_int_equal(mp_kube_whose(&o.t, other), KUBE_STRANGER);
    json_decref(other);
    json_decref(owner);
    objs_down(&o);
}

/* What a client Job's termination message may hold. */
static void client_results(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{\"qps\": 123.5, \"note\": \"x\"}",
        "{\"metrics\": {\"qps\": 123.5}, \"requests\": 7}",
        "[{\"name\": \"qps\", \"value\": \"123.5\"}, {\"name\": \"bad\", \"value\": \"1x\"}]",
    };
    struct mp_trial_result res;
    double v = 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(ok); i++) {
        mp_trial_result_init(&res);
        mp_kube_client_result(ok[i], 0, &res);
        assert_int_equal(res.state, MP_TRIAL_SUCCEEDED);
        assert_true(mp_metrics_get(&res.metrics, "qps", &v) && v == 123.5);
        assert_true(mp_metrics_get(&res.metrics, "throughput_rps", &v) && v == 123.5);
        assert_false(mp_metrics_get(&res.metrics, "note", &v) ||
                     mp_metrics_get(&res.metrics, "bad", &v));
        mp_trial_result_release(&res);
    }
    mp_trial_result_init(&res);
    mp_kube_client_result("done\n", 0, &res);
    assert_int_equal(res.failure, MP_FAILURE_METRIC_MISSING);
    assert_non_null(strstr(res.reason, ": \"done\"")); /* without the newline */
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    mp_kube_client_result(NULL, 0, &res);
    assert_int_equal(res.failure, MP_FAILURE_METRIC_MISSING);
    mp_trial_result_release(&res);
    mp_trial_result_init(&res);
    mp_kube_client_result("{\"qps\": 4}", 3, &res);
    assert_int_equal(res.failure, MP_FAILURE_LOAD_ERRORS);
    assert_string_equal(res.reason, "the client Job exited with code 3");
    assert_true(mp_metrics_get(&res.metrics, "qps", &v) && v == 4);
    mp_trial_result_release(&res);
    /* morphling load's --result of a run whose every request failed: how many and the first
     * error (the reason said only the exit code). */
    mp_trial_result_init(&res);
    mp_kube_client_result(
        "{\"metrics\": {\"throughput_rps\": 0}, \"requests\": 0, \"errors\": 250, "
        "\"error_rate\": 1, \"first_error\": \"HTTP_STATUS: 404 Not Found\"}",
        1, &res);
    assert_int_equal(res.failure, MP_FAILURE_LOAD_ERRORS);
    assert_string_equal(res.reason, "the client Job exited with code 1 (250 requests failed, "
                                    "error_rate 1): first error: \"HTTP_STATUS: 404 Not Found\"");
    mp_trial_result_release(&res);
    /* A failure's message (its own, or its log's last lines) says why: the reason said only
     * the exit code. */
    mp_trial_result_init(&res);
    mp_kube_client_result("Traceback ...\nConnectionRefusedError: [Errno 111]\n", 1, &res);
    assert_int_equal(res.failure, MP_FAILURE_LOAD_ERRORS);
    assert_string_equal(res.reason, "the client Job exited with code 1: \"Traceback "
                                    "...\nConnectionRefusedError: [Errno 111]\"");
    mp_trial_result_release(&res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_are_dns_labels),
        cmocka_unit_test(settings_defaults),
        cmocka_unit_test(settings_errors),
        cmocka_unit_test(template_from_file),
        cmocka_unit_test(pods_judged),
        cmocka_unit_test(pull_is_the_verdicts_own),
        cmocka_unit_test(unschedulable_waits_for_others),
        cmocka_unit_test(deleted_load_pod),
        cmocka_unit_test(load_arguments),
        cmocka_unit_test(load_measure_rules),
        cmocka_unit_test(load_inline_body),
        cmocka_unit_test(load_results),
        cmocka_unit_test(objects_built),
        cmocka_unit_test(params_reach_the_pod),
        cmocka_unit_test(gpu_types_select_nodes),
        cmocka_unit_test(client_results),
        cmocka_unit_test(run_identity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
