/* SPDX-License-Identifier: Apache-2.0 */
/* Experiment specs: loading a YAML or JSON file (plus --set overrides applied to the same
 * document tree), validating every field before anything runs, and the resulting typed spec.
 * docs/spec.md documents every field.
 *
 * Ownership: mp_spec_load returns an owned spec (mp_spec_free). The spec owns its strings,
 * its space and the document tree it came from; everything returned by accessors is borrowed.
 * Thread-safety: immutable after loading; safe to read from several threads. */
#ifndef MP_SPEC_H
#define MP_SPEC_H

#include <jansson.h>

#include "core/core.h"
#include "doc/doc.h"
#include "space/space.h"
#include "trial/trial.h"

enum mp_direction { MP_MAXIMIZE, MP_MINIMIZE };

enum mp_cmp { MP_CMP_LE, MP_CMP_LT, MP_CMP_GE, MP_CMP_GT };

struct mp_objective {
    char *metric;
    enum mp_direction direction;
};

struct mp_constraint {
    char *metric;
    enum mp_cmp op;
    double bound;
    char *text; /* as written, for messages */
};

enum mp_probe_kind { MP_PROBE_HTTP, MP_PROBE_TCP };

struct mp_service {
    char **argv; /* NULL-terminated template; elements may hold {param} placeholders */
    size_t argc;
    char **env; /* "NAME=template" entries ("NAME=" for a secret reference) */
    /* env_nodes[i]: the value's node (borrowed from the doc); a secret reference when
     * mp_spec_is_secret_ref() says so, read only when rendered */
    const struct mp_node **env_nodes;
    size_t n_env;
    char *workdir; /* absolute, or NULL for the spec's directory */
    enum mp_probe_kind probe;
    char *probe_path; /* HTTP path, e.g. "/healthz" */
    int64_t probe_interval_ms, probe_timeout_ms, startup_timeout_ms;
};

struct mp_cost {
    double cpu_core_hour;
    double memory_gib_hour;
    double gpu_hour;  /* per GPU when no per-type price applies */
    double base_hour; /* fixed price per replica-hour */
    char **gpu_types; /* per-type prices */
    double *gpu_type_hour;
    size_t n_gpu_types;
};

struct mp_spec {
    char *name;
    char *description;
    char *source;   /* file name the spec was read from */
    char *base_dir; /* absolute directory relative paths are resolved against */
    bool has_service;
    struct mp_service service;
    struct mp_space space;
    char *objective_metric; /* the primary objective (objectives[0]), which drives the search */
    enum mp_direction direction;
    struct mp_objective *objectives; /* every objective; several give a Pareto front */
    size_t n_objectives;
    struct mp_constraint *constraints;
    size_t n_constraints;
    struct mp_cost cost;
    bool has_cost;
    /* algorithm */
    char *algorithm;
    int64_t max_trials, parallelism, max_failed_trials;
    uint64_t seed;
    bool seed_given;
    struct mp_node *algorithm_settings; /* borrowed from doc; NULL when absent */
    char *prior_path;                   /* algorithm.prior, absolute; NULL when absent */
    /* algorithm.confirm: after the search, the best `confirm_top` candidates are measured
     * `confirm_runs` more times each (0: off) and the recommendation rests on those figures;
     * further rounds, up to `confirm_max_runs` runs each, while the leader's mean is not known
     * within `max_uncertainty` (95 % interval, relative). A measurement whose relative
     * uncertainty exceeds `max_uncertainty` did not settle. */
    int64_t confirm_top, confirm_runs, confirm_max_runs;
    double max_uncertainty;
    /* runner */
    char *runner;                /* "local" or "replay" */
    struct mp_node *runner_node; /* the whole runner map, borrowed from doc */
    int64_t trial_timeout_ms;    /* 0 = the runner's default */
    struct mp_node *doc;         /* owned document tree after overrides */
    /* Submitted by someone other than the user running morphling (the HTTP API): every path
     * must resolve inside base_dir after following symlinks. */
    bool confined;
    bool from_pe; /* written as a ProfilingExperiment (messages name its fields) */
};

/* The keys of a spec's top level (NULL-terminated). */
extern const char *const mp_spec_keys[];

/* Loads and validates FILE with overrides ("key=value", applied in order). On failure err
 * holds "FILE:LINE:COL: 'path': message" and the code is MP_EINVALID (or a system error). */
int mp_spec_load(const char *path, const char *const *overrides, size_t n_overrides,
                 struct mp_spec **out, struct mp_error *err) MP_WUR;
/* Same from text; base_dir resolves relative paths (NULL: current directory). */
int mp_spec_parse(const char *text, size_t len, const char *source, const char *base_dir,
                  const char *const *overrides, size_t n_overrides, struct mp_spec **out,
                  struct mp_error *err) MP_WUR;
/* Same from a document tree (takes ownership of doc, freed on failure too), for a spec built by
 * a program whose nodes carry the positions of what they came from (`morphling replay`). */
int mp_spec_from_doc(struct mp_node *doc, const char *source, const char *base_dir,
                     struct mp_spec **out, struct mp_error *err) MP_WUR;
/* Same as mp_spec_parse without overrides, for a spec from someone else (the HTTP API): every
 * path in it (service.workdir, algorithm.prior, runner.surface, runner.load.body, from_file)
 * must resolve inside base_dir after following symlinks, else MP_EINVALID naming the field and
 * nothing about the file. */
int mp_spec_parse_confined(const char *text, size_t len, const char *source, const char *base_dir,
                           struct mp_spec **out, struct mp_error *err) MP_WUR;
void mp_spec_free(struct mp_spec *spec);

/* Canonical JSON of the document after overrides (what the store keeps). Returns owned. */
char *mp_spec_to_json(const struct mp_spec *spec);
/* That JSON with the fields this module reads written as they take effect (a one-element
 * `objectives` as `objective`, `max` as `maximize`, a constraint as "metric op bound", durations
 * in milliseconds, the defaults of the readiness probe and the algorithm written out): two specs
 * whose comparable JSON is equal take effect alike, but for their descriptions. Runner and
 * algorithm settings stay as written. Owned; NULL when out of memory. */
json_t *mp_spec_comparable_json(const struct mp_spec *spec);
/* [{metric, direction: "maximize" | "minimize"}] of every objective. Owned. */
json_t *mp_spec_objectives_json(const struct mp_spec *spec);
/* Resolves a path from the spec relative to its base directory. Returns owned. For a confined
 * spec it is the real path inside base_dir, or a path that cannot be opened when it escapes. */
char *mp_spec_resolve_path(const struct mp_spec *spec, const char *path);
/* The same with an error naming the field of `node` when a confined spec's path escapes
 * base_dir or does not exist (one message for both, so nothing is revealed). */
int mp_spec_path(const struct mp_spec *spec, const struct mp_node *node, const char *path,
                 char **out, struct mp_error *err) MP_WUR;

/* Secret references (docs/spec.md, "Secrets"): where a spec takes a secret (service.env values,
 * runner.load.headers values) it may write {from_env: NAME} (the variable of morphling's own
 * environment) or {from_file: PATH} (the file's content without trailing newlines). The
 * document, and so the store, keeps only the reference; the value is read when used. */
#define MP_SECRET_REDACTED "<redacted>"
bool mp_spec_is_secret_ref(const struct mp_node *n);
/* Checks a secret reference's form (a valid variable name, a path allowed for this spec). */
int mp_spec_check_secret_ref(const struct mp_spec *spec, const struct mp_node *n,
                             struct mp_error *err) MP_WUR;
/* The value of a scalar or a secret reference, read now. Errors name the field, never the
 * value. Returns owned in *out. */
int mp_spec_value(const struct mp_spec *spec, const struct mp_node *n, char **out,
                  struct mp_error *err) MP_WUR;
/* Whether a name (an environment variable, a header, a flag, a JSON key) looks like it holds a
 * secret: it contains token, passw, secret, key, auth, credential or cookie (any case). */
bool mp_spec_secret_name(const char *name);
/* An item of runner.load.headers: "Name: value", or a one-key map {Name: value} whose value may
 * be a secret reference. check_header validates the form; header_line reads it (owned). */
int mp_spec_check_header(const struct mp_spec *spec, const struct mp_node *item,
                         struct mp_error *err) MP_WUR;
int mp_spec_header_line(const struct mp_spec *spec, const struct mp_node *item, char **out,
                        struct mp_error *err) MP_WUR;
/* Where a word of a command or header names a secret and carries its value, as "--token=x",
 * "API_KEY=x", "Authorization: Bearer x", or prev is a secret-looking flag ("--token", then
 * "x"): the value's start in word, and in *name_len the name's length before its separator (0:
 * the whole word is the value). NULL: no secret. */
const char *mp_spec_secret_word(const char *word, const char *prev, size_t *name_len);
/* A trial's reason and the service's output as the runner captured them, with every value of
 * the spec's secrets of at least MP_SECRET_SCRUB_MIN bytes (reference values read now, literal
 * values of secret-looking names) replaced by MP_SECRET_REDACTED: a service that prints its
 * arguments or environment in an error showed them in `show`, the API and the dashboard. */
#define MP_SECRET_SCRUB_MIN 6
void mp_spec_scrub_result(const struct mp_spec *spec, struct mp_trial_result *res);
/* Reads every secret reference of the spec (service.env, runner.load.headers) once, so that a
 * missing variable or unreadable file is reported before anything runs. */
int mp_spec_check_secrets(const struct mp_spec *spec, struct mp_error *err) MP_WUR;

/* Whether the engine derives this metric from the configuration and the cost table
 * (cost_per_hour, throughput_per_cost, cost_per_million_requests) for this spec. */
bool mp_spec_metric_derived(const struct mp_spec *spec, const char *metric);
/* The parameter that counts the pods one configuration runs as (a Kubernetes Deployment's
 * replicas): the one with role instances and no target, in a spec without a service section
 * (with one, such a parameter reaches the service through a placeholder: one process). -1: none. */
int mp_spec_pods_param(const struct mp_spec *spec);
/* The pods configuration x runs as: its mp_spec_pods_param value, else the kubernetes runner's
 * replicas; 0 when the spec does not say (one). x may be NULL (runner.replicas only). */
int64_t mp_spec_pods(const struct mp_spec *spec, const double *x);
/* What a spec needs for the engine to derive metric ("a cost table ('cost')"); NULL for a metric
 * the engine never derives. */
const char *mp_spec_metric_source(const char *metric);
/* What the user should know of a valid spec that likely does not mean what it says, one
 * "FILE:LINE:COL: 'field': message" each: a bare duration large enough to be meant as
 * milliseconds (it is seconds), a local service whose command and env never use {port} while
 * runner.ports pins none. Returns an owned array of *n owned strings (NULL when none), for
 * mp_spec_warnings_free. */
char **mp_spec_warnings(const struct mp_spec *spec, size_t *n);
void mp_spec_warnings_free(char **warnings, size_t n);
/* What a value that is no number means to parameter p, for its error: for a cpu or memory
 * resource target, its unit and, when text is a Kubernetes quantity ("2Gi", "2000m"), that
 * quantity in it ("a memory target is in MiB: 2Gi is 2048 MiB; write 2048"); NULL for any other
 * parameter. text is borrowed (NULL: the unit alone). Returns owned. */
char *mp_spec_unit_hint(const struct mp_param *p, const char *text);
/* For a --set whose value joins more pairs with commas ("cpu=2,memory=2048", as Helm's --set
 * takes them), "one --set per key: --set cpu=2 --set memory=2048"; NULL when the value holds no
 * ",KEY=". Returns owned. */
char *mp_spec_set_joined_hint(const char *set);
/* err's message, when it quotes the value of an override that joins pairs with commas, followed
 * by mp_spec_set_joined_hint's hint. mp_spec_load adds it to its own errors; a caller adds it to
 * those of a later check of the loaded spec (mp_engine_validate: the runner's fields, metric and
 * algorithm names). */
void mp_spec_hint_joined(const char *const *overrides, size_t n_overrides, struct mp_error *err);
/* Refuses a parameter named like a column a trial export has anyway (number, state, failure) or a
 * metric the engine derives: the export then held two columns of one name. For validation only
 * (an experiment stored with such a name stays readable). */
int mp_spec_check_param_names(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
/* Refuses an objective or constraint of requests per dollar (throughput_per_cost,
 * cost_per_million_requests) when a configuration of the space costs 0 per hour: its trials could
 * only fail. For validation only, as mp_spec_check_param_names. */
int mp_spec_check_cost(const struct mp_spec *spec, struct mp_error *err) MP_WUR;
/* Whether the spec has a constraint on cost_per_hour and a cost table to price it with: that
 * constraint is known for each configuration before its trial. */
bool mp_spec_price_limited(const struct mp_spec *spec);
/* Whether configuration x breaks a constraint on cost_per_hour by its price alone (a trial of
 * it could only violate the constraint). ctx is the spec: an optimizer's opts.excluded. */
bool mp_spec_breaks_by_price(const void *ctx, const double *x);
/* For a space small enough to enumerate: the next index after idx (in mp_space_from_index's
 * order) whose configuration may meet the constraints on cost_per_hour, every one between
 * breaking them by its price (idx + 1 when idx meets them; the count when none is left). The
 * price grows with each resource, so a value too dear makes the later values of that parameter
 * too dear, and the first value dear enough is found by bisection. ctx is the spec: an
 * optimizer's opts.skip. */
uint64_t mp_spec_price_skip(const void *ctx, uint64_t idx);
/* The i-th metric trials are judged by, i < n_objectives + n_constraints: the objectives, then
 * the constraints' metrics; *at is where the spec names it (for errors). */
const char *mp_spec_judged_metric(const struct mp_spec *spec, size_t i, const struct mp_node **at);

/* v rounded to 12 significant digits, as cost_per_hour and the figures derived from it are: a
 * price made of decimal ones without the binary arithmetic's noise (0.3 and not
 * 0.30000000000000004), requests per dollar-hour 2812 and not 2812.0000000000005. */
double mp_spec_round12(double v);
/* Adds metrics derived from the configuration and the cost table: items_per_s (throughput_rps
 * times the value of the parameter whose role is batch_size), cost_per_hour, and with
 * throughput_rps also throughput_per_cost and cost_per_million_requests (each rounded to 12
 * significant digits). */
void mp_spec_derive_metrics(const struct mp_spec *spec, const double *x,
                            struct mp_metrics *metrics);
/* Judges a runner's result: copies resource use (res->resources) into the metrics, adds derived
 * metrics, then a SUCCEEDED result without the
 * objective becomes FAILED (METRIC_MISSING) and one breaking a constraint FAILED
 * (SLO_VIOLATED, measurements kept). Idempotent. */
void mp_spec_evaluate(const struct mp_spec *spec, const double *x, struct mp_trial_result *res);

/* ---- templates (template.c) ----
 * {name} placeholders in service.command and service.env, rendered into whole argv elements
 * and environment values. Pure functions: safe from any thread. */

/* A placeholder name and its value. Values are inserted verbatim: quotes, `$(...)`, newlines
 * or a leading '-' in a value are never interpreted, because the result is one argv element or
 * one environment value and no shell is involved. */
struct mp_spec_template_var {
    const char *name;
    const char *value;
};

#define MP_SPEC_TEMPLATE_MAX_BYTES (64u * 1024u) /* cap on one rendered element */

/* Renders tmpl, replacing each "{name}" with the value of the variable called name; "{{" and
 * "}}" stand for literal braces. An unknown name, an unclosed '{' or a lone '}' is MP_EINVALID
 * (named in err); a result over MP_SPEC_TEMPLATE_MAX_BYTES is MP_ETOOBIG. *out is owned. */
int mp_spec_template_render(const char *tmpl, const struct mp_spec_template_var *vars,
                            size_t n_vars, char **out, struct mp_error *err) MP_WUR;
/* Checks tmpl's syntax and that every placeholder is one of names[0..n). */
int mp_spec_template_check(const char *tmpl, const char *const *names, size_t n_names,
                           struct mp_error *err) MP_WUR;
/* True when tmpl contains the placeholder {name}. */
bool mp_spec_template_uses(const char *tmpl, const char *name);

/* The service's argv and environment for configuration x. */
struct mp_rendered {
    char **argv; /* NULL-terminated, argc elements, owned */
    size_t argc;
    char **env; /* "NAME=value", NULL-terminated, envc entries, owned; no inherited variables */
    size_t envc;
};
/* Renders service.command and service.env ({placeholders}: the parameters in canonical text
 * plus `builtins`), then appends `arg` targets (flag, value) and sets `env` targets. A later
 * variable of the same name replaces an earlier one. Every element stays one argv element or
 * one value: nothing is ever interpreted by a shell. */
int mp_spec_render_service(const struct mp_spec *spec, const double *x,
                           const struct mp_spec_template_var *builtins, size_t n_builtins,
                           struct mp_rendered *out, struct mp_error *err) MP_WUR;
void mp_rendered_release(struct mp_rendered *r);

/* ---- deployments (pod.c) ----
 * The recommended configuration outside a trial: on a host (`export --format deploy`) and on a
 * Kubernetes pod template (`export --format k8s`, the kubernetes runner). Pure functions of
 * their arguments: safe from any thread. */

/* Which rendered elements carry over to a deployment. Always dropped: arguments and variables
 * made from a per-trial placeholder ({nonce}, {trial}, {attempt}, {experiment}), with the flag
 * just before such an argument. MP_DEPLOY_PORTABLE also drops the fixed ones that name a path
 * of this machine (absolute, ./, ../ or ~/, or existing relative to the service's workdir), with
 * their flag: a container has its own files. A secret variable (a {from_env}/{from_file}
 * reference, or a fixed value whose name looks secret, mp_spec_secret_name) is never read nor
 * shown: MP_DEPLOY_HOST writes MP_SECRET_REDACTED as its value, MP_DEPLOY_PORTABLE drops it (a
 * pod template's own variable of that name, a secretKeyRef, stays). */
enum mp_deploy_scope { MP_DEPLOY_HOST, MP_DEPLOY_PORTABLE };
/* Whether service.env entry i is such a secret variable. */
bool mp_spec_env_secret(const struct mp_spec *spec, size_t i);
/* The service's program (argv[0], only with a service section), arguments and environment for
 * configuration x with {port} = port, as mp_spec_render_service renders them, less what scope
 * drops. */
int mp_spec_render_deploy(const struct mp_spec *spec, const double *x, int port,
                          enum mp_deploy_scope scope, struct mp_rendered *out,
                          struct mp_error *err) MP_WUR;

/* What MP_DEPLOY_PORTABLE leaves out of configuration x as paths of this machine, for a note:
 * "--model-dir ./models, DATA_DIR=/data" (an argument with its flag, a variable with its value);
 * NULL when nothing. Returns owned. */
char *mp_spec_left_out_paths(const struct mp_spec *spec, const double *x);

/* How GPU resources appear on a pod (device plugins and GPU feature discovery). */
enum mp_gpu_sharing {
    MP_GPU_SHARING_NONE,   /* a gpu_memory_share below 1 cannot be requested: an error */
    MP_GPU_SHARING_HAMI,   /* nvidia.com/gpumem: the share of gpu_memory_mib, in MiB */
    MP_GPU_SHARING_ALIYUN, /* aliyun.com/gpu-mem: the share of gpu_memory_mib, in GiB */
    MP_GPU_SHARING_MIG,    /* nvidia.com/mig-<profile>: the smallest profile holding the share */
};
struct mp_gpu_label {
    const char *value; /* a value of the gpu_type parameter, "T4" */
    const char *label; /* the node label's value, "Tesla-T4" */
};
struct mp_pod_mapping {
    int port; /* the service's port ({port}, containerPort); 0: the container's, else 8080 */
    const char *gpu_resource; /* whole GPUs; NULL: "nvidia.com/gpu" */
    enum mp_gpu_sharing sharing;
    double gpu_memory_mib;           /* one GPU's memory (HAMi, Aliyun) */
    const char *const *mig_profiles; /* "1g.5gb", ...; NULL: those of an A100 40GB */
    size_t n_mig_profiles;
    const char *type_label; /* node label of the GPU type; NULL: "nvidia.com/gpu.product" */
    const struct mp_gpu_label *type_values; /* gpu_type value -> label value, before the built-in
                                               table (T4 -> Tesla-T4, L4 -> NVIDIA-L4, ...);
                                               a value in neither is used as it is */
    size_t n_type_values;
};
/* Writes configuration x onto pod_template, a PodTemplateSpec ({metadata?, spec: {containers:
 * [...], ...}}; borrowed, not changed), for the container named `container` (NULL: the
 * template's only container). *out is a new template (owned: json_decref) equal to the old one
 * but for:
 *   - the container's args: when it has args, each tunable argument (from a parameter or
 *     {port}) replaces the value of the same flag there or is appended; when it has none, the
 *     MP_DEPLOY_PORTABLE arguments of mp_spec_render_deploy (the program is the image's);
 *   - its env: each variable set by name (a valueFrom of that name is replaced), others kept;
 *   - its resources: for a cpu parameter requests.cpu = limits.cpu ("500m"), for memory
 *     "512Mi"; GPUs per mapping (whole GPUs, a memory share, none: the GPU keys removed); other
 *     keys kept, and no empty or null map is ever written;
 *   - its first port's containerPort (a port is added when it has none);
 *   - spec.nodeSelector[type_label] for a gpu_type parameter.
 * Nothing else changes: other containers, labels, the image, probes. Errors (MP_EINVALID) name
 * the container or the value that cannot be written: no such container, several and none
 * named, a positional tunable argument when the container has args, a GPU share the mapping
 * cannot express, a fractional GPU count. */
int mp_spec_render_pod(const struct mp_spec *spec, const double *x, const json_t *pod_template,
                       const char *container, const struct mp_pod_mapping *mapping, json_t **out,
                       struct mp_error *err) MP_WUR;
/* Whether every value of a gpu_type parameter gives a valid node selector under mapping (the
 * label's key, and the value's mapped label value): a value such as "Tesla T4" names no node
 * (the API server refuses the pod). On error *param is the parameter's index and the message
 * names the value. */
int mp_spec_check_gpu_types(const struct mp_spec *spec, const struct mp_pod_mapping *mapping,
                            size_t *param, struct mp_error *err) MP_WUR;

/* Where a trial's deadline comes from, for a TIMEOUT reason: the spec's field, or the
 * runner's default and the field that sets another. Static text. */
const char *mp_spec_trial_timeout_source(const struct mp_spec *spec);

/* Whether value satisfies the constraint. */
bool mp_constraint_holds(const struct mp_constraint *c, double value);
const char *mp_cmp_text(enum mp_cmp op);

#endif
