/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for the ProfilingExperiment mapping (src/spec/pe.c): an original-style file, every
 * error path with the resource's field path and position, JSON from the API server, and the
 * configuration written back in the original's form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "spec/pe.h"

/* A minimal resource; %s is spliced in after `spec:` (fields at two spaces). */
#define PE_HEAD                                                                                    \
    "apiVersion: morphling.kubedl.io/v1alpha1\n"                                                   \
    "kind: ProfilingExperiment\n"                                                                  \
    "metadata: {name: t, namespace: ns}\n"                                                         \
    "spec:\n"                                                                                      \
    "  objective: {type: maximize, objectiveMetricName: qps}\n"                                    \
    "  algorithm: {algorithmName: grid}\n"                                                         \
    "  servicePodTemplate:\n"                                                                      \
    "    template: {spec: {containers: [{name: c, image: 'morphling/fake-service:test'}]}}\n"

static struct mp_spec *parse_ok(const char *text, const char *const *sets, size_t n)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(text, strlen(text), "pe.yaml", "/tmp", sets, n, &spec, &err) != 0) {
        fail_msg("unexpected error: %s\n%s", err.msg, text);
    }
    return spec;
}

/* Parses text and checks the whole error message. */
static void expect_text_error(const char *text, const char *want)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    int rc = mp_spec_parse(text, strlen(text), "pe.yaml", "/tmp", NULL, 0, &spec, &err);
    if (rc == 0) {
        mp_spec_free(spec);
        fail_msg("expected [%s], but the resource was accepted:\n%s", want, text);
    }
    assert_int_equal(rc, MP_EINVALID);
    if (strcmp(err.msg, want) != 0) {
        fail_msg("error\n  [%s]\nis not\n  [%s]", err.msg, want);
    }
}

/* Parses PE_HEAD + tail and checks the whole error message. */
static void expect_error(const char *tail, const char *want)
{
    char *text = mp_xasprintf("%s%s", PE_HEAD, tail);
    expect_text_error(text, want);
    free(text);
}

/* tests/data/pe/mobilenet-grid.yaml, written as the original's examples are. */
static struct mp_spec *load_example(void)
{
    char *path = mp_xasprintf("%s/pe/mobilenet-grid.yaml", getenv("MP_TEST_DATA"));
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    if (mp_spec_load(path, NULL, 0, &s, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    free(path);
    return s;
}

static const struct mp_node *runner_get(const struct mp_spec *s, const char *key)
{
    return mp_doc_get(s->runner_node, key);
}

static void original_example_maps_field_by_field(void **state)
{
    (void)state;
    struct mp_spec *s = load_example();
    assert_string_equal(s->name, "mobilenet-experiment-grid");
    assert_string_equal(s->objective_metric, "throughput_rps");
    assert_int_equal(s->direction, MP_MAXIMIZE);
    assert_string_equal(s->algorithm, "grid");
    assert_int_equal(s->max_trials, 8);
    assert_int_equal(s->confirm_top, 0); /* one Trial per trial: no confirmation runs */
    assert_int_equal(s->parallelism, 1);
    assert_string_equal(s->runner, "kubernetes");
    assert_int_equal(s->space.n, 3);
    const struct mp_param *cpu = &s->space.params[0], *mem = &s->space.params[1];
    const struct mp_param *batch = &s->space.params[2];
    assert_string_equal(cpu->name, "cpu");
    assert_int_equal(cpu->target, MP_TARGET_RESOURCE);
    assert_int_equal(cpu->resource, MP_RESOURCE_CPU);
    assert_int_equal(cpu->n_values, 2);
    assert_true(cpu->values[0] == 0.45 && cpu->values[1] == 1.0);
    assert_int_equal(mem->resource, MP_RESOURCE_MEMORY);
    assert_true(mem->values[0] == 1800.0 && mem->values[1] == 2048.0);
    assert_string_equal(batch->name, "BATCH_SIZE");
    assert_int_equal(batch->target, MP_TARGET_ENV);
    assert_string_equal(batch->target_name, "BATCH_SIZE");
    /* The runner gets the pod template, the namespace, the port and the deadline. */
    assert_string_equal(runner_get(s, "namespace")->scalar, "morphling-system");
    assert_string_equal(runner_get(s, "port")->scalar, "8500");
    assert_string_equal(runner_get(s, "startup_timeout")->scalar, "120s");
    const struct mp_node *containers =
        mp_doc_get(mp_doc_get(runner_get(s, "pod_template"), "spec"), "containers");
    assert_non_null(containers);
    assert_string_equal(mp_doc_get(containers->items[0], "name")->scalar, "resnet-container");
    /* The client Job template goes to the runner as it is. */
    const struct mp_node *client = mp_doc_get(
        mp_doc_get(mp_doc_get(runner_get(s, "client_template"), "spec"), "template"), "spec");
    assert_string_equal(mp_doc_get(mp_doc_get(client, "containers")->items[0], "image")->scalar,
                        "morphling:test");
    const struct mp_node *load = runner_get(s, "load");
    assert_string_equal(mp_doc_get(load, "body_text")->scalar, "{\"instances\": [[0, 0, 0]]}");
    assert_string_equal(mp_doc_get(load, "method")->scalar, "POST");
    /* Nodes keep the resource's own paths. */
    assert_string_equal(cpu->name, "cpu");
    assert_string_equal(mp_doc_get(s->doc, "parameters")->items[1]->path,
                        "spec.tunableParameters[0].parameters[1]");
    /* What the store keeps is a native spec that parses back to the same space. */
    char *json = mp_spec_to_json(s);
    struct mp_spec *back = NULL;
    struct mp_error err = {0};
    if (mp_spec_parse(json, strlen(json), "stored", "/tmp", NULL, 0, &back, &err) != 0) {
        fail_msg("%s\n%s", err.msg, json);
    }
    assert_int_equal(back->space.n, 3);
    assert_true(back->space.params[1].values[1] == 2048.0);
    assert_string_equal(back->runner, "kubernetes");
    mp_spec_free(back);
    free(json);
    mp_spec_free(s);
}

static void types_algorithms_and_additions(void **state)
{
    (void)state;
    struct mp_spec *s = parse_ok(
        "apiVersion: morphling.kubedl.io/v1alpha1\n"
        "kind: ProfilingExperiment\n"
        "metadata: {name: more}\n"
        "spec:\n"
        "  objective: {type: minimize, objectiveMetricName: p99_ms}\n"
        "  algorithm:\n"
        "    algorithmName: BayesianOpt\n"
        "    algorithmSettings: [{name: initial_points, value: '3'}]\n"
        "    seed: 7\n"
        "  maxNumTrials: 12\n"
        "  parallelism: 2\n"
        "  maxFailedTrials: 4\n"
        "  constraints: ['p99_ms <= 200']\n"
        "  cost: {cpu_core_hour: 0.03}\n"
        "  trialTimeout: 5m\n"
        "  serviceContainerName: server\n"
        "  runner: {kubeconfig: /k}\n"
        "  servicePodTemplate:\n"
        "    template:\n"
        "      spec:\n"
        "        containers:\n"
        "          - {name: sidecar, image: x}\n"
        "          - {name: server, image: y, ports: [{containerPort: 9000}]}\n"
        "  tunableParameters:\n"
        "    - category: resource\n"
        "      parameters:\n"
        "        - {name: cpu, parameterType: double, feasibleSpace: {min: 500m, max: '2', step: "
        "250m}}\n"
        "        - {name: nvidia.com/gpu, parameterType: int, feasibleSpace: {min: '0', max: "
        "'2'}}\n"
        "    - category: args\n"
        "      parameters:\n"
        "        - {name: workers, parameterType: int, feasibleSpace: {min: '1', max: '8', step: "
        "'1'}}\n"
        "        - {name: --mode, parameterType: categorical, feasibleSpace: {list: [a, b]}}\n"
        "    - category: env\n"
        "      parameters:\n"
        "        - name: LR\n"
        "          parameterType: discrete\n"
        "          role: batch_timeout\n"
        "          feasibleSpace: {list: ['0.1', '0.30000000000000004', '1e-7']}\n",
        NULL, 0);
    assert_string_equal(s->algorithm, "bo");
    assert_int_equal(s->seed, 7);
    assert_true(s->seed_given);
    assert_string_equal(mp_doc_get(s->algorithm_settings, "initial_points")->scalar, "3");
    assert_int_equal(s->max_trials, 12);
    assert_int_equal(s->parallelism, 2);
    assert_int_equal(s->max_failed_trials, 4);
    assert_int_equal(s->direction, MP_MINIMIZE);
    assert_string_equal(s->objective_metric, "p99_ms");
    assert_int_equal(s->n_constraints, 1);
    assert_true(s->has_cost && s->cost.cpu_core_hour == 0.03);
    assert_int_equal(s->trial_timeout_ms, 300000);
    assert_string_equal(runner_get(s, "container")->scalar, "server");
    assert_string_equal(runner_get(s, "port")->scalar, "9000");
    assert_string_equal(runner_get(s, "kubeconfig")->scalar, "/k");
    assert_null(runner_get(s, "namespace"));
    const struct mp_param *p = s->space.params;
    assert_int_equal(p[0].type, MP_PARAM_FLOAT);
    assert_true(p[0].min == 0.5 && p[0].max == 2 && p[0].step == 0.25);
    assert_int_equal(p[1].resource, MP_RESOURCE_GPU);
    assert_string_equal(p[2].target_name, "--workers");
    assert_int_equal(p[2].target, MP_TARGET_ARG);
    assert_string_equal(p[3].target_name, "--mode");
    assert_int_equal(p[3].type, MP_PARAM_CATEGORICAL);
    /* Doubles keep every digit: 0.30000000000000004 is not 0.3. */
    assert_int_equal(p[4].n_values, 3);
    assert_true(p[4].values[0] == 1e-7 && p[4].values[1] == 0.1);
    assert_true(p[4].values[2] == 0.30000000000000004 && p[4].values[2] != 0.3);
    char buf[MP_FMT_DOUBLE_MAX];
    assert_string_equal(mp_space_format(&s->space, 4, p[4].values[2], buf), "0.30000000000000004");
    assert_string_equal(p[4].role, "batch_timeout");
    mp_spec_free(s);
}

/* A resource quantity must fit in 64 bits only in the figure used. */
static void quantities_fit_in_the_figure_used(void **state)
{
    (void)state;
    /* Only the figure used must fit in 64 bits: memory of 9E is 9 * 10^18 bytes (it was refused
     * as "below 2^63", its thousandths being over); CPU counts thousandths. */
    struct mp_spec *big = parse_ok(PE_HEAD "  tunableParameters:\n"
                                           "    - category: resource\n"
                                           "      parameters:\n"
                                           "        - {name: memory, parameterType: discrete, "
                                           "feasibleSpace: {list: ['1Gi', '9E']}}\n",
                                   NULL, 0);
    mp_spec_free(big);
    expect_error("  tunableParameters:\n"
                 "    - category: resource\n"
                 "      parameters:\n"
                 "        - {name: cpu, parameterType: discrete, feasibleSpace: {list: ['10E']}}\n",
                 "pe.yaml:12:71: 'spec.tunableParameters[0].parameters[0].feasibleSpace.list[0]': "
                 "expected a non-negative quantity below 2^63 thousandths, got \"10E\"");
    /* A fraction of a byte: "100m" meant as megabytes was a tenth of a byte, read as 1 byte (and
     * '100m' and '200m' reported as a duplicate "9.5367431640625e-07"). */
    expect_error("  tunableParameters:\n"
                 "    - category: resource\n"
                 "      parameters:\n"
                 "        - {name: memory, parameterType: discrete, feasibleSpace: {list: ['100m', "
                 "'200m']}}\n",
                 "pe.yaml:12:74: 'spec.tunableParameters[0].parameters[0].feasibleSpace.list[0]': "
                 "expected a whole number of bytes, got \"100m\" (the suffix m means thousandths: "
                 "megabytes are M, mebibytes Mi)");
}

static void errors_name_the_resource_field(void **state)
{
    (void)state;
    expect_error("  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: int, feasibleSpace: {min: '1', max: '4'}}\n"
                 "        - name: B\n"
                 "          parameterType: double\n"
                 "          feasibleSpace: {min: '1', max: '4', step: '0'}\n",
                 "pe.yaml:15:53: 'spec.tunableParameters[0].parameters[1].feasibleSpace.step': "
                 "expected a positive number, got \"0\"");
    expect_error("  tunableParameters:\n"
                 "    - category: resource\n"
                 "      parameters:\n"
                 "        - {name: ephemeral-storage, parameterType: int, feasibleSpace: {min: "
                 "'1', max: '4'}}\n",
                 "pe.yaml:12:18: 'spec.tunableParameters[0].parameters[0].name': unknown resource "
                 "\"ephemeral-storage\" (cpu, memory, nvidia.com/gpu, nvidia.com/gpumem, "
                 "nvidia.com/gpu.product)");
    expect_error(
        "  tunableParameters:\n"
        "    - category: resource\n"
        "      parameters:\n"
        "        - {name: cpu, parameterType: discrete, feasibleSpace: {list: ['1.5.5']}}\n",
        "pe.yaml:12:71: 'spec.tunableParameters[0].parameters[0].feasibleSpace.list[0]': "
        "expected a Kubernetes quantity: quantity \"1.5.5\": quantities must "
        "match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    expect_error("  tunableParameters:\n"
                 "    - category: resources\n"
                 "      parameters: []\n",
                 "pe.yaml:10:17: 'spec.tunableParameters[0].category': expected resource, env or "
                 "args, got \"resources\"");
    expect_error("  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: float, feasibleSpace: {min: '1', max: '4'}}\n",
                 "pe.yaml:12:36: 'spec.tunableParameters[0].parameters[0].parameterType': expected "
                 "int, double, discrete or categorical, got \"float\"");
    expect_error("  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: int, feasibleSpace: {max: '4'}}\n",
                 "pe.yaml:12:56: 'spec.tunableParameters[0].parameters[0].feasibleSpace.min': "
                 "required key is missing");
    expect_error("  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: int, feasibleSpace: {list: ['4']}}\n",
                 "pe.yaml:12:63: 'spec.tunableParameters[0].parameters[0].feasibleSpace.list': not "
                 "allowed for this parameterType (use min, max and step)");
    expect_error("  tunableParameter: []\n",
                 "pe.yaml:9:3: 'spec.tunableParameter': unknown key; did you mean "
                 "'tunableParameters'?");
    expect_error("  tunableParameters:\n"
                 "    - category: resource\n"
                 "      parameters:\n"
                 "        - {name: nvidia.com/gpumem, parameterType: discrete, feasibleSpace: "
                 "{list: ['4096']}}\n",
                 "pe.yaml:12:85: 'spec.tunableParameters[0].parameters[0].feasibleSpace.list[0]': "
                 "nvidia.com/gpumem (MiB) needs spec.gpuMemoryMiB, the memory of one GPU, to be "
                 "tuned as a share of it");
    expect_error("  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: discrete, feasibleSpace: {list: ['1']}}\n"
                 "    - category: args\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: discrete, feasibleSpace: {list: ['1']}}\n",
                 "pe.yaml:15:18: 'spec.tunableParameters[1].parameters[0].name': duplicate "
                 "parameter name \"A\"");
    expect_error("  parallelism: 0\n"
                 "  tunableParameters:\n"
                 "    - category: env\n"
                 "      parameters:\n"
                 "        - {name: A, parameterType: discrete, feasibleSpace: {list: ['1']}}\n",
                 "pe.yaml:9:16: 'spec.parallelism': expected an integer in [1, 256], got \"0\"");
    expect_error("  serviceProgressDeadline: soon\n"
                 "  tunableParameters: []\n",
                 "pe.yaml:9:28: 'spec.serviceProgressDeadline': expected an integer, got \"soon\"");
}

/* algorithmSettings' random_state, the original's (and Katib's) name of the seed, is the seed
 * (grid and random refused it: "this algorithm takes no settings"). */
static void random_state_is_the_seed(void **state)
{
    (void)state;
    static const char *const algos[] = {"grid", "random", "BayesianOpt"};
    for (size_t i = 0; i < MP_ARRAY_LEN(algos); i++) {
        char *text = mp_xasprintf(
            "apiVersion: morphling.kubedl.io/v1alpha1\n"
            "kind: ProfilingExperiment\n"
            "metadata: {name: t, namespace: ns}\n"
            "spec:\n"
            "  objective: {type: maximize, objectiveMetricName: qps}\n"
            "  algorithm: {algorithmName: %s, algorithmSettings: [{name: random_state, value: "
            "'10'}]}\n"
            "  servicePodTemplate:\n"
            "    template: {spec: {containers: [{name: c, image: i}]}}\n"
            "  tunableParameters:\n"
            "    - category: resource\n"
            "      parameters:\n"
            "        - {name: cpu, parameterType: discrete, feasibleSpace: {list: ['1', '2']}}\n",
            algos[i]);
        struct mp_spec *s = parse_ok(text, NULL, 0);
        assert_true(s->seed_given && s->seed == 10);
        mp_spec_free(s);
        free(text);
    }
}

/* requestTemplate up to the CRD's maxLength, counted in characters as the API server counts
 * them: validate passed what `kubectl apply` refused. */
static void request_template_length(void **state)
{
    (void)state;
    const char *params = "  tunableParameters:\n"
                         "    - category: resource\n"
                         "      parameters:\n"
                         "        - {name: cpu, parameterType: discrete, "
                         "feasibleSpace: {list: ['1']}}\n";
    struct mp_buf b = MP_BUF_INIT;
    mp_buf_adds(&b, PE_HEAD "  requestTemplate: '");
    for (int i = 0; i < 262144; i++) {
        mp_buf_adds(&b, "\xc3\xa9"); /* 2 bytes, 1 character */
    }
    mp_buf_adds(&b, "'\n");
    mp_buf_adds(&b, params);
    mp_spec_free(parse_ok(b.data, NULL, 0));
    mp_buf_release(&b);
    mp_buf_adds(&b, "  requestTemplate: '");
    for (int i = 0; i < 262145; i++) {
        mp_buf_adds(&b, "x");
    }
    mp_buf_adds(&b, "'\n");
    mp_buf_adds(&b, params);
    expect_error(b.data, "pe.yaml:9:20: 'spec.requestTemplate': 262145 characters, over the "
                         "262144 (256 KiB) the API server takes: give a larger body as a file "
                         "(spec.load.body)");
    mp_buf_release(&b);
}

/* clientTemplate is a Job template with one container, which has an image. */
/* metadata.name and namespace as the API server checks them (`kubectl apply` refused what
 * validate passed). */
static void object_names_as_the_api_server_checks_them(void **state)
{
    (void)state;
    static const struct {
        const char *meta, *want;
    } cases[] = {
        {"{name: My_Exp}", "pe.yaml:3:18: 'metadata.name': name \"My_Exp\": must be a lowercase "
                           "RFC 1123 subdomain: at most 253 characters, lower case letters, "
                           "digits, '-' or '.', each part starting and ending with a letter or "
                           "digit"},
        {"{name: exp-1., namespace: ns}", "pe.yaml:3:18: 'metadata.name': name \"exp-1.\": "
                                          "must be a lowercase RFC 1123 subdomain: at most 253 "
                                          "characters, lower case letters, digits, '-' or '.', "
                                          "each part starting and ending with a letter or digit"},
        {"{name: a-b, namespace: team.a}",
         "pe.yaml:3:34: 'metadata.namespace': namespace \"team.a\": must be a lowercase RFC "
         "1123 label: at most 63 characters, lower case letters, digits or '-', starting and "
         "ending with a letter or digit"},
        {"{name: [a]}", "pe.yaml:3:18: 'metadata.name': expected a scalar, got a list"},
        /* Names the API server takes and morphling cannot: the rule is a label's, not the
         * native spec's ("letters, digits, '_' and '-'", which the subdomain rule refused). */
        {"{name: a.b}", "pe.yaml:3:18: 'metadata.name': name \"a.b\": morphling runs a "
                        "ProfilingExperiment whose name is a DNS label: no '.', at most 63 "
                        "characters, starting with a letter (its trials' objects and Services "
                        "are named after it)"},
        {"{name: 1exp}", "pe.yaml:3:18: 'metadata.name': name \"1exp\": morphling runs a "
                         "ProfilingExperiment whose name is a DNS label: no '.', at most 63 "
                         "characters, starting with a letter (its trials' objects and Services "
                         "are named after it)"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *text = mp_xasprintf("apiVersion: morphling.kubedl.io/v1alpha1\n"
                                  "kind: ProfilingExperiment\n"
                                  "metadata: %s\n"
                                  "spec:\n"
                                  "  objective: {objectiveMetricName: qps}\n"
                                  "  servicePodTemplate:\n"
                                  "    template: {spec: {containers: [{name: c, image: i}]}}\n",
                                  cases[i].meta);
        expect_text_error(text, cases[i].want);
        free(text);
    }
}

static void client_template_errors(void **state)
{
    (void)state;
    expect_error("  clientTemplate:\n"
                 "    spec:\n"
                 "      template:\n"
                 "        spec:\n"
                 "          containers: [{name: a, image: x}, {name: b, image: y}]\n"
                 "  tunableParameters: []\n",
                 "pe.yaml:13:23: 'spec.clientTemplate.spec.template.spec.containers': the client "
                 "Job has 2 containers: give exactly one (it gets the service's address and the "
                 "trial's parameters, and writes the result)");
    expect_error("  clientTemplate:\n"
                 "    spec: {template: {spec: {containers: [{name: a}]}}}\n"
                 "  tunableParameters: []\n",
                 "pe.yaml:10:43: 'spec.clientTemplate.spec.template.spec.containers[0].image': "
                 "required key is missing");
    expect_error("  clientTemplate: {spec: {backoffLimit: 1}}\n"
                 "  tunableParameters: []\n",
                 "pe.yaml:9:26: 'spec.clientTemplate.spec.template': required key is missing");
}

static void gpu_memory_is_a_share_of_one_gpu(void **state)
{
    (void)state;
    char *text = mp_xasprintf("%s%s", PE_HEAD,
                              "  gpuMemoryMiB: 16384\n"
                              "  tunableParameters:\n"
                              "    - category: resource\n"
                              "      parameters:\n"
                              "        - {name: nvidia.com/gpumem, parameterType: discrete,\n"
                              "           feasibleSpace: {list: ['4096', '16Gi']}}\n");
    /* 16Gi as a quantity is bytes, not MiB: far beyond one GPU. */
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    assert_int_equal(mp_spec_parse(text, strlen(text), "pe.yaml", "/tmp", NULL, 0, &s, &err),
                     MP_EINVALID);
    assert_non_null(strstr(err.msg, "expected 1 to 16384 MiB (spec.gpuMemoryMiB), got \"16Gi\""));
    free(text);
    text = mp_xasprintf("%s%s", PE_HEAD,
                        "  gpuMemoryMiB: 16384\n"
                        "  tunableParameters:\n"
                        "    - category: resource\n"
                        "      parameters:\n"
                        "        - {name: nvidia.com/gpumem, parameterType: discrete,\n"
                        "           feasibleSpace: {list: ['4096', '16384']}}\n");
    s = parse_ok(text, NULL, 0);
    assert_int_equal(s->space.params[0].resource, MP_RESOURCE_GPU_MEMORY_SHARE);
    assert_true(s->space.params[0].values[0] == 0.25 && s->space.params[0].values[1] == 1);
    assert_string_equal(runner_get(s, "gpu_sharing")->scalar, "hami");
    double x[] = {0.25};
    json_t *a = mp_spec_pe_assignment(s, x);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "value")), "4096");
    json_decref(a);
    mp_spec_free(s);
    free(text);
}

static void overrides_address_the_resource(void **state)
{
    (void)state;
    const char *sets[] = {"spec.maxNumTrials=3", "spec.algorithm.algorithmName=random"};
    struct mp_spec *s = parse_ok(PE_HEAD "  tunableParameters:\n"
                                         "    - category: env\n"
                                         "      parameters:\n"
                                         "        - {name: A, parameterType: discrete, "
                                         "feasibleSpace: {list: ['1', '2']}}\n",
                                 sets, 2);
    assert_int_equal(s->max_trials, 3);
    assert_string_equal(s->algorithm, "random");
    mp_spec_free(s);
}

static void json_from_the_api_server(void **state)
{
    (void)state;
    json_error_t jerr;
    json_t *obj = json_loads(
        "{\"apiVersion\": \"morphling.kubedl.io/v1alpha1\", \"kind\": \"ProfilingExperiment\","
        " \"metadata\": {\"name\": \"j\", \"namespace\": \"ns\", \"uid\": \"u1\","
        "  \"resourceVersion\": \"12\"},"
        " \"spec\": {\"objective\": {\"type\": \"maximize\", \"objectiveMetricName\": \"qps\"},"
        "  \"algorithm\": {\"algorithmName\": \"random\"}, \"maxNumTrials\": 4,"
        "  \"parallelism\": 1,"
        "  \"servicePodTemplate\": {\"template\": {\"spec\": {\"containers\":"
        "   [{\"name\": \"c\", \"image\": \"i\"}]}}},"
        "  \"tunableParameters\": [{\"category\": \"resource\", \"parameters\": ["
        "   {\"name\": \"memory\", \"parameterType\": \"int\","
        "    \"feasibleSpace\": {\"min\": \"64Mi\", \"max\": \"256Mi\", \"step\": \"64Mi\"}}]}]},"
        " \"status\": {\"conditions\": []}}",
        0, &jerr);
    assert_non_null(obj);
    struct mp_spec *s = NULL;
    struct mp_error err = {0};
    if (mp_spec_from_pe_json(obj, "ns/j", NULL, &s, &err) != 0) {
        fail_msg("%s", err.msg);
    }
    assert_string_equal(s->name, "j");
    assert_true(s->space.params[0].min == 64 && s->space.params[0].step == 64);
    assert_int_equal(mp_space_levels(&s->space, 0), 4);
    mp_spec_free(s);
    /* Positions are those of `kubectl get pe j -o json`: sorted keys, four spaces. */
    json_t *fs = json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(obj, "spec"),
                                                                      "tunableParameters"),
                                                      0),
                                       "parameters"),
                       0),
        "feasibleSpace");
    json_object_set_new(fs, "step", json_string("0"));
    assert_int_equal(mp_spec_from_pe_json(obj, "ns/j", NULL, &s, &err), MP_EINVALID);
    assert_string_equal(err.msg, "ns/j:40:37: 'spec.tunableParameters[0].parameters[0]."
                                 "feasibleSpace.step': expected a positive number, got \"0\"");
    json_object_set_new(obj, "kind", json_string("Trial"));
    assert_int_equal(mp_spec_from_pe_json(obj, "ns/j", NULL, &s, &err), MP_EINVALID);
    assert_string_equal(err.msg,
                        "ns/j: not a morphling.kubedl.io/v1alpha1 ProfilingExperiment object");
    json_decref(obj);
}

static void assignment_in_the_original_form(void **state)
{
    (void)state;
    struct mp_spec *s = load_example();
    double x[] = {0.45, 2048, 2};
    json_t *a = mp_spec_pe_assignment(s, x);
    char *text = json_dumps(a, JSON_COMPACT);
    assert_string_equal(text, "[{\"name\":\"cpu\",\"value\":\"450m\",\"category\":\"resource\"},"
                              "{\"name\":\"memory\",\"value\":\"2Gi\",\"category\":\"resource\"},"
                              "{\"name\":\"BATCH_SIZE\",\"value\":\"2\",\"category\":\"env\"}]");
    free(text);
    json_decref(a);
    /* A decimal size as written ("2G"), not "1953125Ki". */
    x[1] = 2e9 / 1048576.0;
    a = mp_spec_pe_assignment(s, x);
    assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "value")), "2G");
    json_decref(a);
    assert_string_equal(mp_spec_pe_metric("qps"), "throughput_rps");
    assert_string_equal(mp_spec_pe_metric("p99_ms"), "p99_ms");
    mp_spec_free(s);
}

static void native_specs_are_not_resources(void **state)
{
    (void)state;
    struct mp_node *doc = NULL;
    const char *text = "apiVersion: apps/v1\nkind: ProfilingExperiment\n";
    assert_int_equal(mp_doc_parse(text, strlen(text), "x", &doc, NULL), 0);
    assert_false(mp_spec_is_pe(doc));
    mp_doc_free(doc);
    text = "apiVersion: tuning.kubedl.io/v1alpha1\nkind: ProfilingExperiment\n";
    assert_int_equal(mp_doc_parse(text, strlen(text), "x", &doc, NULL), 0);
    assert_true(mp_spec_is_pe(doc));
    mp_doc_free(doc);
}

/* What the spec parses but `morphling validate` refuses (the algorithm's settings, the runner's
 * keys, the tuned container) names the resource's own fields, as the operator reports it. */
static void validation_names_the_resource_field(void **state)
{
    (void)state;
    static const struct {
        const char *algorithm, *containers, *extra, *want;
    } cases[] = {
        {"{algorithmName: grid}", "[{name: c, image: i}]", "  runner: {foo: bar}\n",
         "pe.yaml:9:12: 'spec.runner.foo': unknown key (the keys here: kind, trial_timeout, "
         "pod_template, kubeconfig, namespace, context, container, port, startup_timeout, "
         "delete_timeout, health_path, replicas, gpu_sharing, gpu_memory_mib, gpu_resource, "
         "gpu_type_label, gpu_types, mig_profiles, load, load_image, load_cpu, load_memory, "
         "load_spread, load_node_selector, client_template)"},
        {"{algorithmName: grid, algorithmSettings: [{name: n_candidates, value: '10'}]}",
         "[{name: c, image: i}]", "",
         "pe.yaml:6:84: 'spec.algorithm.algorithmSettings[0].value': this algorithm takes no "
         "settings"},
        {"{algorithmName: grid}", "[{name: c, image: i}, {name: side, image: 'debian:12'}]", "",
         "pe.yaml:8:35: 'spec.servicePodTemplate.template.spec.containers': the pod template has "
         "2 containers: name the one to tune in spec.serviceContainerName"},
    };
    for (size_t i = 0; i < MP_ARRAY_LEN(cases); i++) {
        char *text = mp_xasprintf("apiVersion: morphling.kubedl.io/v1alpha1\n"
                                  "kind: ProfilingExperiment\n"
                                  "metadata: {name: t, namespace: ns}\n"
                                  "spec:\n"
                                  "  objective: {objectiveMetricName: qps}\n"
                                  "  algorithm: %s\n"
                                  "  servicePodTemplate:\n"
                                  "    template: {spec: {containers: %s}}\n"
                                  "%s"
                                  "  tunableParameters:\n"
                                  "    - category: env\n"
                                  "      parameters:\n"
                                  "        - {name: A, parameterType: discrete, feasibleSpace: "
                                  "{list: ['1', '2']}}\n",
                                  cases[i].algorithm, cases[i].containers, cases[i].extra);
        struct mp_spec *spec = NULL;
        struct mp_error err = {0};
        int rc = mp_spec_parse(text, strlen(text), "pe.yaml", "/tmp", NULL, 0, &spec, &err);
        if (rc == 0) {
            rc = mp_engine_validate(spec, &err);
        }
        assert_int_equal(rc, MP_EINVALID);
        if (strcmp(err.msg, cases[i].want) != 0) {
            fail_msg("error\n  [%s]\nis not\n  [%s]", err.msg, cases[i].want);
        }
        mp_spec_free(spec);
        free(text);
    }
}

/* A bare duration that reads like milliseconds is said so in a ProfilingExperiment too, naming
 * the resource's field (validate warned of it in a spec and said nothing of spec.trialTimeout:
 * 1000, read as 1000 s). */
static void bare_durations_warn_in_the_resource(void **state)
{
    (void)state;
#define PARAMS                                                                                     \
    "  tunableParameters:\n"                                                                       \
    "    - category: env\n"                                                                        \
    "      parameters:\n"                                                                          \
    "        - {name: A, parameterType: discrete, feasibleSpace: {list: ['1', '2']}}\n"
    struct mp_spec *s = parse_ok(PE_HEAD "  trialTimeout: 1000\n"
                                         "  load: {warmup: 100, window: 2s}\n"
                                         "  runner: {delete_timeout: 5000}\n" PARAMS,
                                 NULL, 0);
    size_t n = 0;
    char **w = mp_spec_warnings(s, &n);
    const char *want[] = {
        "pe.yaml:9:17: 'spec.trialTimeout': a bare number is seconds: 1000 is read as 1000s "
        "(16.7 minutes); write 1000ms for milliseconds, or 1000s to say seconds",
        "pe.yaml:11:28: 'spec.runner.delete_timeout': a bare number is seconds: 5000",
        "pe.yaml:10:18: 'spec.load.warmup': a bare number is seconds: 100 is read as 100s",
    };
    assert_int_equal(n, MP_ARRAY_LEN(want));
    for (size_t i = 0; i < n; i++) {
        if (strncmp(w[i], want[i], strlen(want[i])) != 0) {
            fail_msg("warning %zu\n  [%s]\ndoes not start\n  [%s]", i, w[i], want[i]);
        }
    }
    mp_spec_warnings_free(w, n);
    mp_spec_free(s);
    /* serviceProgressDeadline is the original's seconds, an integer: never a warning. */
    s = parse_ok(PE_HEAD "  serviceProgressDeadline: 1000\n" PARAMS, NULL, 0);
    w = mp_spec_warnings(s, &n);
    assert_int_equal(n, 0);
    mp_spec_warnings_free(w, n);
    mp_spec_free(s);
#undef PARAMS
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(original_example_maps_field_by_field),
        cmocka_unit_test(types_algorithms_and_additions),
        cmocka_unit_test(errors_name_the_resource_field),
        cmocka_unit_test(object_names_as_the_api_server_checks_them),
        cmocka_unit_test(request_template_length),
        cmocka_unit_test(random_state_is_the_seed),
        cmocka_unit_test(quantities_fit_in_the_figure_used),
        cmocka_unit_test(client_template_errors),
        cmocka_unit_test(gpu_memory_is_a_share_of_one_gpu),
        cmocka_unit_test(overrides_address_the_resource),
        cmocka_unit_test(json_from_the_api_server),
        cmocka_unit_test(assignment_in_the_original_form),
        cmocka_unit_test(native_specs_are_not_resources),
        cmocka_unit_test(validation_names_the_resource_field),
        cmocka_unit_test(bare_durations_warn_in_the_resource),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
