/* SPDX-License-Identifier: Apache-2.0 */
/* A configuration outside a trial: the service's command line and environment for a host, and
 * a Kubernetes pod template configured with it (arguments, environment, resources, GPUs, port,
 * GPU-type node selector), built as JSON structures, never as text. */
#include "spec/spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kube/kube.h"

/* The placeholders whose values only mean something to one trial. */
static const char *const per_trial[] = {"nonce", "trial", "attempt", "experiment"};

/* One rendered argument or variable and where its value came from. */
struct elem {
    char *text; /* an argument, or "NAME=value" */
    bool tunable;
};

struct elems {
    struct elem *v;
    size_t n;
};

static void elems_add(struct elems *e, char *owned, bool tunable)
{
    e->v = mp_xreallocarray(e->v, e->n + 1, sizeof(*e->v));
    e->v[e->n++] = (struct elem){owned, tunable};
}

static void elems_release(struct elems *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].text);
    }
    free(e->v);
    memset(e, 0, sizeof(*e));
}

static bool uses_any(const char *tmpl, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (mp_spec_template_uses(tmpl, names[i])) {
            return true;
        }
    }
    return false;
}

static bool uses_tunable(const struct mp_spec *spec, const char *tmpl)
{
    for (size_t i = 0; i < spec->space.n; i++) {
        if (mp_spec_template_uses(tmpl, spec->space.params[i].name)) {
            return true;
        }
    }
    return mp_spec_template_uses(tmpl, "port");
}

/* Whether a fixed value names a path of this machine. */
static bool host_path(const struct mp_spec *spec, const char *value)
{
    if (value[0] == '/' || value[0] == '~' || strncmp(value, "./", 2) == 0 ||
        strncmp(value, "../", 3) == 0) {
        return true;
    }
    if (!value[0]) {
        return false;
    }
    const char *dir = spec->service.workdir ? spec->service.workdir : spec->base_dir;
    char *path = mp_xasprintf("%s/%s", dir ? dir : ".", value);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    free(path);
    return exists;
}

static bool is_flag(const char *s)
{
    return s[0] == '-' && s[1] && !strchr(s, '=');
}

/* The command's arguments (argv[0] too when program) of a deployment, as for render_all in
 * render.c, but classified and filtered by scope. */
static int command_elems(const struct mp_spec *spec, const struct mp_spec_template_var *vars,
                         size_t n_vars, enum mp_deploy_scope scope, bool program, struct elems *out,
                         struct elems *left_out, struct mp_error *err)
{
    const struct mp_service *svc = &spec->service;
    bool flag_kept = false; /* the last element kept is a fixed bare flag */
    for (size_t i = 0; i < svc->argc; i++) {
        char *text = NULL;
        int rc = mp_spec_template_render(svc->argv[i], vars, n_vars, &text, err);
        if (rc != 0) {
            return rc;
        }
        if (i == 0 && program) {
            elems_add(out, text, false);
            continue;
        }
        if (i == 0) {
            free(text);
            continue;
        }
        const char *value =
            is_flag(text) || text[0] != '-' || !strchr(text, '=') ? text : strchr(text, '=') + 1;
        bool internal = uses_any(svc->argv[i], per_trial, MP_ARRAY_LEN(per_trial));
        bool tunable = !internal && uses_tunable(spec, svc->argv[i]);
        bool drop = internal || (!tunable && scope == MP_DEPLOY_PORTABLE && !is_flag(text) &&
                                 host_path(spec, value));
        if (drop) {
            bool with_flag = flag_kept && text[0] != '-';
            if (!internal && left_out) {
                elems_add(left_out,
                          with_flag ? mp_xasprintf("%s %s", out->v[out->n - 1].text, text)
                                    : mp_xstrdup(text),
                          false);
            }
            if (with_flag) {
                free(out->v[--out->n].text); /* the flag that introduced it */
            }
            free(text);
            flag_kept = false;
            continue;
        }
        flag_kept = !tunable && is_flag(text);
        elems_add(out, text, tunable);
    }
    for (size_t i = 0; i < spec->space.n; i++) {
        if (spec->space.params[i].target == MP_TARGET_ARG) {
            elems_add(out, mp_xstrdup(spec->space.params[i].target_name), true);
            elems_add(out, mp_xstrdup(vars[i].value), true);
        }
    }
    return 0;
}

/* Sets NAME=value, replacing an earlier entry of the same name (as render.c does). */
static void env_set(struct elems *env, char *entry, bool tunable)
{
    size_t len = (size_t)(strchr(entry, '=') - entry);
    for (size_t i = 0; i < env->n; i++) {
        if (strncmp(env->v[i].text, entry, len + 1) == 0) {
            free(env->v[i].text);
            env->v[i] = (struct elem){entry, tunable};
            return;
        }
    }
    elems_add(env, entry, tunable);
}

bool mp_spec_env_secret(const struct mp_spec *spec, size_t i)
{
    const struct mp_service *svc = &spec->service;
    const char *eq = strchr(svc->env[i], '=');
    if (svc->env_nodes && mp_spec_is_secret_ref(svc->env_nodes[i])) {
        return true;
    }
    char *name = mp_xstrndup(svc->env[i], (size_t)(eq - svc->env[i]));
    bool secret = mp_spec_secret_name(name) && !uses_tunable(spec, eq + 1);
    free(name);
    return secret;
}

static int env_elems(const struct mp_spec *spec, const struct mp_spec_template_var *vars,
                     size_t n_vars, enum mp_deploy_scope scope, struct elems *out,
                     struct elems *left_out, struct mp_error *err)
{
    const struct mp_service *svc = &spec->service;
    int rc = 0;
    for (size_t i = 0; i < svc->n_env; i++) {
        const char *eq = strchr(svc->env[i], '=');
        bool secret = mp_spec_env_secret(spec, i);
        if (secret && scope == MP_DEPLOY_PORTABLE) {
            continue;
        }
        char *value = NULL;
        if (secret) {
            value = mp_xstrdup(MP_SECRET_REDACTED);
        } else if ((rc = mp_spec_template_render(eq + 1, vars, n_vars, &value, err)) != 0) {
            return rc;
        }
        bool tunable = uses_tunable(spec, eq + 1);
        bool internal = uses_any(eq + 1, per_trial, MP_ARRAY_LEN(per_trial));
        if (internal || (!tunable && scope == MP_DEPLOY_PORTABLE && host_path(spec, value))) {
            if (!internal && left_out) {
                elems_add(left_out,
                          mp_xasprintf("%.*s=%s", (int)(eq - svc->env[i]), svc->env[i], value),
                          false);
            }
            free(value);
            continue;
        }
        env_set(out, mp_xasprintf("%.*s=%s", (int)(eq - svc->env[i]), svc->env[i], value), tunable);
        free(value);
    }
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target == MP_TARGET_ENV) {
            env_set(out, mp_xasprintf("%s=%s", p->target_name, vars[i].value), true);
        }
    }
    return 0;
}

/* The variables: the parameters' canonical text, {port}, and empty per-trial placeholders. */
static int deploy_elems(const struct mp_spec *spec, const double *x, int port,
                        enum mp_deploy_scope scope, bool program, struct elems *args,
                        struct elems *env, struct elems *left_out, struct mp_error *err)
{
    const struct mp_space *s = &spec->space;
    size_t n_vars = s->n + 1 + MP_ARRAY_LEN(per_trial);
    struct mp_spec_template_var *vars = mp_xcalloc(n_vars, sizeof(*vars));
    char(*bufs)[MP_FMT_DOUBLE_MAX] = mp_xcalloc(s->n + 1, sizeof(*bufs));
    char port_text[16];
    snprintf(port_text, sizeof(port_text), "%d", port > 0 ? port : 8080);
    for (size_t i = 0; i < s->n; i++) {
        vars[i] =
            (struct mp_spec_template_var){s->params[i].name, mp_space_format(s, i, x[i], bufs[i])};
    }
    vars[s->n] = (struct mp_spec_template_var){"port", port_text};
    for (size_t k = 0; k < MP_ARRAY_LEN(per_trial); k++) {
        vars[s->n + 1 + k] = (struct mp_spec_template_var){per_trial[k], ""};
    }
    int rc = command_elems(spec, vars, n_vars, scope, program, args, left_out, err);
    if (rc == 0) {
        rc = env_elems(spec, vars, n_vars, scope, env, left_out, err);
    }
    free(bufs);
    free(vars);
    return rc;
}

static void to_list(struct elems *e, char ***list, size_t *n)
{
    *list = mp_xcalloc(e->n + 1, sizeof(char *));
    for (size_t i = 0; i < e->n; i++) {
        (*list)[i] = e->v[i].text;
    }
    *n = e->n;
    free(e->v);
    memset(e, 0, sizeof(*e));
}

int mp_spec_render_deploy(const struct mp_spec *spec, const double *x, int port,
                          enum mp_deploy_scope scope, struct mp_rendered *out, struct mp_error *err)
{
    struct elems args = {0}, env = {0};
    memset(out, 0, sizeof(*out));
    int rc = deploy_elems(spec, x, port, scope, spec->has_service, &args, &env, NULL, err);
    if (rc == 0) {
        to_list(&args, &out->argv, &out->argc);
        to_list(&env, &out->env, &out->envc);
    }
    elems_release(&args);
    elems_release(&env);
    return rc;
}

char *mp_spec_left_out_paths(const struct mp_spec *spec, const double *x)
{
    struct elems args = {0}, env = {0}, left_out = {0};
    struct mp_buf b = MP_BUF_INIT;
    if (deploy_elems(spec, x, 0, MP_DEPLOY_PORTABLE, false, &args, &env, &left_out, NULL) == 0) {
        for (size_t i = 0; i < left_out.n; i++) {
            mp_buf_addf(&b, "%s%s", i ? ", " : "", left_out.v[i].text);
        }
    }
    elems_release(&args);
    elems_release(&env);
    elems_release(&left_out);
    return b.data;
}

/* ---- the pod template ---------------------------------------------------------------------- */

/* obj[key], made (replacing a value of another type) when it is not a `make` value. */
static json_t *child(json_t *obj, const char *key, json_t *(*make)(void))
{
    json_t *v = json_object_get(obj, key);
    json_t *fresh = make();
    if (v && json_typeof(v) == json_typeof(fresh)) {
        json_decref(fresh);
        return v;
    }
    json_object_set_new(obj, key, fresh);
    return fresh;
}

/* Every container is an object with a name, each name once, as the API server requires: a
 * number printed "container '(null)' is not an object", and of two of one name the first was
 * configured. */
static int check_containers(const json_t *containers, struct mp_error *err)
{
    for (size_t i = 0; i < json_array_size(containers); i++) {
        const json_t *c = json_array_get(containers, i);
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!json_is_object(c) || !name || !*name) {
            return mp_error_set(err, MP_EINVALID,
                                "spec.containers[%zu]: expected a container with a name", i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(name, json_string_value(
                                 json_object_get(json_array_get(containers, j), "name"))) == 0) {
                return mp_error_set(err, MP_EINVALID,
                                    "spec.containers[%zu]: a second container named '%s'", i, name);
            }
        }
    }
    return 0;
}

static int find_container(json_t *containers, const char *name, json_t **out, struct mp_error *err)
{
    size_t n = json_array_size(containers);
    if (!name && n == 1) {
        *out = json_array_get(containers, 0);
        return 0;
    }
    struct mp_buf names = MP_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        const char *c = json_string_value(json_object_get(json_array_get(containers, i), "name"));
        if (name && c && strcmp(c, name) == 0) {
            *out = json_array_get(containers, i);
            mp_buf_release(&names);
            return 0;
        }
        mp_buf_addf(&names, "%s%s", names.len ? ", " : "", c);
    }
    int rc = name ? mp_error_set(err, MP_EINVALID, "the pod has no container '%s' (it has: %s)",
                                 name, n ? names.data : "none")
                  : mp_error_set(err, MP_EINVALID,
                                 "the pod has %zu containers (%s): name the one to configure", n,
                                 n ? names.data : "none");
    mp_buf_release(&names);
    return rc;
}

/* Sets flag's value in args: "--flag VALUE", "--flag=VALUE", or appended. */
static void set_flag(json_t *args, const char *flag, const char *value)
{
    size_t len = strlen(flag);
    for (size_t i = 0; i < json_array_size(args); i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (a && strcmp(a, flag) == 0 && i + 1 < json_array_size(args)) {
            json_array_set_new(args, i + 1, json_string(value));
            return;
        }
        if (a && strncmp(a, flag, len) == 0 && a[len] == '=') {
            char *both = mp_xasprintf("%s=%s", flag, value);
            json_array_set_new(args, i, json_string(both));
            free(both);
            return;
        }
    }
    json_array_append_new(args, json_string(flag));
    json_array_append_new(args, json_string(value));
}

/* Merges the tunable arguments into the container's own. */
static int merge_args(json_t *args, const struct elems *e, const char *container,
                      struct mp_error *err)
{
    for (size_t i = 0; i < e->n; i++) {
        const char *a = e->v[i].text;
        if (!e->v[i].tunable || is_flag(a)) {
            continue;
        }
        const char *eq = a[0] == '-' ? strchr(a, '=') : NULL;
        if (eq) {
            char *flag = mp_xstrndup(a, (size_t)(eq - a));
            set_flag(args, flag, eq + 1);
            free(flag);
        } else if (i > 0 && is_flag(e->v[i - 1].text)) {
            set_flag(args, e->v[i - 1].text, a);
        } else {
            return mp_error_set(err, MP_EINVALID,
                                "argument '%s' has no flag, so it has no place among container "
                                "'%s''s args: give the service its parameters as --flag VALUE, "
                                "or drop the container's args",
                                a, container);
        }
    }
    return 0;
}

static void set_args(json_t *c, const struct elems *args)
{
    json_t *list = json_array();
    for (size_t i = 0; i < args->n; i++) {
        json_array_append_new(list, json_string(args->v[i].text));
    }
    if (json_array_size(list)) {
        json_object_set_new(c, "args", list);
    } else {
        json_decref(list);
    }
}

static void set_env(json_t *c, const struct elems *env)
{
    if (env->n == 0) {
        return;
    }
    json_t *list = child(c, "env", json_array);
    for (size_t i = 0; i < env->n; i++) {
        const char *eq = strchr(env->v[i].text, '=');
        char *name = mp_xstrndup(env->v[i].text, (size_t)(eq - env->v[i].text));
        json_t *entry = json_pack("{s:s, s:s}", "name", name, "value", eq + 1);
        size_t k = 0;
        while (k < json_array_size(list) &&
               !json_equal(json_object_get(json_array_get(list, k), "name"),
                           json_object_get(entry, "name"))) {
            k++;
        }
        if (k < json_array_size(list)) {
            json_array_set_new(list, k, entry);
        } else {
            json_array_append_new(list, entry);
        }
        free(name);
    }
}

static void set_port(json_t *c, int port)
{
    json_t *ports = child(c, "ports", json_array);
    json_t *first = json_array_get(ports, 0);
    if (!json_is_object(first)) {
        first = json_object();
        json_array_insert_new(ports, 0, first);
    }
    json_object_set_new(first, "containerPort", json_integer(port > 0 ? port : 8080));
}

/* What configuration x asks of the pod. */
struct wanted {
    bool has_cpu, has_mem, has_gpus, has_share;
    double cpu, mem_mib, gpus, share;
    const char *type; /* the gpu_type value, or NULL */
    char type_buf[MP_FMT_DOUBLE_MAX];
};

static void wanted_of(const struct mp_spec *spec, const double *x, struct wanted *w)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target != MP_TARGET_RESOURCE) {
            continue;
        }
        switch (p->resource) {
        case MP_RESOURCE_CPU:
            w->has_cpu = true;
            w->cpu = x[i];
            break;
        case MP_RESOURCE_MEMORY:
            w->has_mem = true;
            w->mem_mib = x[i];
            break;
        case MP_RESOURCE_GPU:
            w->has_gpus = true;
            w->gpus = x[i];
            break;
        case MP_RESOURCE_GPU_MEMORY_SHARE:
            w->has_share = true;
            w->share = x[i];
            break;
        case MP_RESOURCE_GPU_TYPE:
            w->type = mp_space_format(&spec->space, i, x[i], w->type_buf);
            break;
        }
    }
}

/* Sets requests[key] = limits[key] = value (NULL: removes the key from both). */
static void put(json_t *res, const char *key, const char *value)
{
    static const char *const blocks[] = {"requests", "limits"};
    for (size_t b = 0; b < 2; b++) {
        json_t *m = json_object_get(res, blocks[b]);
        if (value) {
            json_object_set_new(child(res, blocks[b], json_object), key, json_string(value));
        } else if (json_is_object(m)) {
            json_object_del(m, key);
        }
    }
}

static void put_int(json_t *res, const char *key, long long v)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", v);
    put(res, key, text);
}

/* The smallest MIG profile ("3g.20gb") whose memory holds share of the largest one's. */
static const char *mig_profile(const struct mp_pod_mapping *m, double share)
{
    static const char *const a100[] = {"1g.5gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"};
    const char *const *names = m->mig_profiles ? m->mig_profiles : a100;
    size_t n = m->mig_profiles ? m->n_mig_profiles : MP_ARRAY_LEN(a100);
    unsigned mem[64], full = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        unsigned g = 0;
        mem[i] = 0;
        if (sscanf(names[i], "%ug.%ugb", &g, &mem[i]) != 2) {
            mem[i] = 0;
        }
        full = mem[i] > full ? mem[i] : full;
    }
    const char *best = NULL;
    unsigned best_mem = 0;
    for (size_t i = 0; i < n && i < 64; i++) {
        if (mem[i] > 0 && mem[i] + 1e-9 >= share * full && (!best || mem[i] < best_mem)) {
            best = names[i];
            best_mem = mem[i];
        }
    }
    return best;
}

/* A memory share below one GPU, as the mapping's device plugin asks for it. */
static int put_share(json_t *res, const struct mp_pod_mapping *m, long long gpus, double share,
                     const char *gpu_key, struct mp_error *err)
{
    if ((m->sharing == MP_GPU_SHARING_HAMI || m->sharing == MP_GPU_SHARING_ALIYUN) &&
        !(m->gpu_memory_mib > 0)) {
        return mp_error_set(err, MP_EINVALID,
                            "gpu_memory_share %g: the memory of one GPU is needed to request it",
                            share);
    }
    switch (m->sharing) {
    case MP_GPU_SHARING_HAMI:
        put_int(res, gpu_key, gpus);
        put_int(res, "nvidia.com/gpumem", llround(share * m->gpu_memory_mib));
        return 0;
    case MP_GPU_SHARING_ALIYUN:
        if (gpus != 1) {
            return mp_error_set(err, MP_EINVALID,
                                "aliyun.com/gpu-mem shares one GPU; the configuration has %lld",
                                gpus);
        }
        put_int(res, "aliyun.com/gpu-mem", (long long)ceil(share * m->gpu_memory_mib / 1024));
        return 0;
    case MP_GPU_SHARING_MIG: {
        const char *profile = mig_profile(m, share);
        if (!profile) {
            return mp_error_set(err, MP_EINVALID, "no MIG profile holds gpu_memory_share %g",
                                share);
        }
        char *key = mp_xasprintf("nvidia.com/mig-%s", profile);
        put_int(res, key, gpus);
        free(key);
        return 0;
    }
    case MP_GPU_SHARING_NONE:
        break;
    }
    return mp_error_set(err, MP_EINVALID,
                        "gpu_memory_share %g is less than a GPU: say how the cluster shares GPUs "
                        "(HAMi, Aliyun gpushare or MIG)",
                        share);
}

static void drop_gpu_keys(json_t *res, const char *gpu_key)
{
    static const char *const blocks[] = {"requests", "limits"};
    put(res, gpu_key, NULL);
    put(res, "nvidia.com/gpumem", NULL);
    put(res, "aliyun.com/gpu-mem", NULL);
    for (size_t b = 0; b < 2; b++) {
        json_t *m = json_object_get(res, blocks[b]);
        const char *key;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(m, tmp, key, v)
        {
            if (strncmp(key, "nvidia.com/mig-", 15) == 0) {
                json_object_del(m, key);
            }
        }
    }
}

static int set_gpus(json_t *res, const struct wanted *w, const struct mp_pod_mapping *m,
                    struct mp_error *err)
{
    const char *gpu_key = m->gpu_resource ? m->gpu_resource : "nvidia.com/gpu";
    double gpus = w->has_gpus ? w->gpus : 1, share = w->has_share ? w->share : 1;
    if (gpus != floor(gpus) || gpus < 0) {
        return mp_error_set(err, MP_EINVALID, "a pod asks for whole GPUs, not %g", gpus);
    }
    drop_gpu_keys(res, gpu_key);
    if (gpus == 0) {
        return 0;
    }
    if (share >= 1) {
        put_int(res, gpu_key, (long long)gpus);
        return 0;
    }
    return put_share(res, m, (long long)gpus, share, gpu_key, err);
}

/* Removes empty requests/limits maps and an empty resources map: never an empty or null map. */
static void tidy_resources(json_t *c)
{
    json_t *res = json_object_get(c, "resources");
    static const char *const blocks[] = {"requests", "limits"};
    for (size_t b = 0; b < 2 && json_is_object(res); b++) {
        json_t *m = json_object_get(res, blocks[b]);
        if (m && (!json_is_object(m) || json_object_size(m) == 0)) {
            json_object_del(res, blocks[b]);
        }
    }
    if (res && (!json_is_object(res) || json_object_size(res) == 0)) {
        json_object_del(c, "resources");
    }
}

static int set_resources(json_t *c, const struct wanted *w, const struct mp_pod_mapping *m,
                         struct mp_error *err)
{
    /* Beyond the integers written below: 1e17 cores went out as "1m" (llround overflowed). */
    bool big_cpu = w->has_cpu && !(w->cpu * 1000 < 0x1p63);
    if (big_cpu || (w->has_mem && !(w->mem_mib < 0x1p63))) {
        return mp_error_set(err, MP_EINVALID,
                            "%s %g %s: too large for a resource quantity (at most 9.2e15 cores "
                            "and 9.2e18 MiB)",
                            big_cpu ? "cpu" : "memory", big_cpu ? w->cpu : w->mem_mib,
                            big_cpu ? "cores" : "MiB");
    }
    json_t *res = child(c, "resources", json_object);
    if (w->has_cpu) {
        /* Whole millicores, at least 1m: Kubernetes takes a limit of 0 as no limit at all. */
        char text[32];
        long long milli = llround(w->cpu * 1000);
        snprintf(text, sizeof(text), "%lldm", milli > 0 ? milli : 1);
        put(res, "cpu", text);
    }
    if (w->has_mem) {
        /* The bytes the trial had (the local runner's limit is the same llround): whole MiB as
         * "512Mi", else exact ("1000.4" MiB is 1048995430 bytes, not "1000Mi"; 0.3 not "0Mi"). */
        char text[32];
        double bytes = w->mem_mib * 1048576.0;
        if (bytes < 0x1p62 && llround(bytes) % 1048576 != 0) {
            snprintf(text, sizeof(text), "%lld", llround(bytes));
        } else {
            snprintf(text, sizeof(text), "%lldMi", llround(w->mem_mib));
        }
        put(res, "memory", text);
    }
    int rc = w->has_gpus || w->has_share ? set_gpus(res, w, m, err) : 0;
    tidy_resources(c);
    return rc;
}

/* The node label value of a GPU type: the mapping's, the built-in one, or the value itself. */
static const char *type_label(const struct mp_pod_mapping *m, const char *value)
{
    /* GPU feature discovery names of unambiguous models (those sold in one memory size). */
    static const struct mp_gpu_label builtin[] = {
        {"T4", "Tesla-T4"},      {"P4", "Tesla-P4"},    {"K80", "Tesla-K80"},
        {"M60", "Tesla-M60"},    {"A2", "NVIDIA-A2"},   {"A10", "NVIDIA-A10"},
        {"A10G", "NVIDIA-A10G"}, {"A30", "NVIDIA-A30"}, {"L4", "NVIDIA-L4"},
        {"L40S", "NVIDIA-L40S"},
    };
    for (size_t i = 0; i < m->n_type_values; i++) {
        if (strcmp(m->type_values[i].value, value) == 0) {
            return m->type_values[i].label;
        }
    }
    for (size_t i = 0; i < MP_ARRAY_LEN(builtin); i++) {
        if (strcmp(builtin[i].value, value) == 0) {
            return builtin[i].label;
        }
    }
    return value;
}

/* The node selector of a GPU type: the label and its value must be what a node label can be. */
static int check_type_label(const struct mp_pod_mapping *m, const char *type, struct mp_error *err)
{
    const char *key = m->type_label ? m->type_label : "nvidia.com/gpu.product";
    struct mp_error lerr = {0};
    if (mp_kube_check_label(key, type_label(m, type), &lerr) == 0) {
        return 0;
    }
    return mp_error_set(err, MP_EINVALID,
                        "gpu_type \"%s\" cannot select nodes: %s (map it to the value of the "
                        "nodes' label: runner.gpu_types, or export's --gpu-type VALUE=LABEL)",
                        type, lerr.msg);
}

int mp_spec_check_gpu_types(const struct mp_spec *spec, const struct mp_pod_mapping *m,
                            size_t *param, struct mp_error *err)
{
    for (size_t i = 0; i < spec->space.n; i++) {
        const struct mp_param *p = &spec->space.params[i];
        if (p->target != MP_TARGET_RESOURCE || p->resource != MP_RESOURCE_GPU_TYPE) {
            continue;
        }
        for (size_t k = 0; k < p->n_choices; k++) {
            int rc = check_type_label(m, p->choices[k], err);
            if (rc != 0) {
                *param = i;
                return rc;
            }
        }
    }
    return 0;
}

static int configure(const struct mp_spec *spec, const double *x, json_t *pod, json_t *c,
                     const char *name, const struct mp_pod_mapping *m, struct mp_error *err)
{
    struct elems args = {0}, env = {0};
    /* Without a port of its own the mapping keeps the container's (a Service targets it). */
    json_t *has = json_object_get(json_array_get(json_object_get(c, "ports"), 0), "containerPort");
    json_int_t cp = json_is_integer(has) ? json_integer_value(has) : 0;
    int port = m->port > 0 ? m->port : cp >= 1 && cp <= 65535 ? (int)cp : 8080;
    int rc = deploy_elems(spec, x, port, MP_DEPLOY_PORTABLE, false, &args, &env, NULL, err);
    json_t *own = json_object_get(c, "args");
    if (rc == 0 && json_is_array(own) && json_array_size(own) > 0) {
        rc = merge_args(own, &args, name, err);
    } else if (rc == 0) {
        set_args(c, &args);
    }
    if (rc == 0) {
        set_env(c, &env);
        set_port(c, port);
        struct wanted w;
        wanted_of(spec, x, &w);
        rc = set_resources(c, &w, m, err);
        if (rc == 0 && w.type) {
            rc = check_type_label(m, w.type, err);
        }
        if (rc == 0 && w.type) {
            json_t *sel = child(json_object_get(pod, "spec"), "nodeSelector", json_object);
            json_object_set_new(sel, m->type_label ? m->type_label : "nvidia.com/gpu.product",
                                json_string(type_label(m, w.type)));
        }
    }
    elems_release(&args);
    elems_release(&env);
    return rc;
}

static const char *type_name(const json_t *v)
{
    return json_is_object(v)   ? "a mapping"
           : json_is_array(v)  ? "a list"
           : json_is_string(v) ? "a string"
           : json_is_number(v) ? "a number"
                               : "true, false or null";
}

/* obj[key] is absent, null or of type want (items of type item_want when a list, -1: any).
 * Messages name the field as "container 'NAME': 'PREFIXkey'" (no container part when NULL). */
static int check_field(const json_t *obj, const char *prefix, const char *key, json_type want,
                       int item_want, const char *container, struct mp_error *err)
{
    const json_t *v = json_object_get(obj, key);
    char where[160];
    snprintf(where, sizeof(where), "%s%s%s'%s%s'", container ? "container '" : "",
             container ? container : "", container ? "': " : "", prefix, key);
    if (v && !json_is_null(v) && json_typeof(v) != want) {
        return mp_error_set(err, MP_EINVALID, "%s: expected %s, got %s", where,
                            want == JSON_OBJECT ? "a mapping" : "a list", type_name(v));
    }
    for (size_t i = 0; item_want >= 0 && i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        if (json_typeof(item) != (json_type)item_want) {
            return mp_error_set(err, MP_EINVALID, "%s: item %zu: expected %s, got %s", where, i,
                                item_want == JSON_STRING ? "a string" : "a mapping",
                                type_name(item));
        }
    }
    return 0;
}

/* The fields the rendering writes into must already have their Kubernetes types: a value of
 * another type is an error, never silently replaced. */
static int check_template(const json_t *pod, const json_t *c, const char *name,
                          struct mp_error *err)
{
    const json_t *res = json_object_get(c, "resources");
    int rc;
    if ((rc = check_field(c, "", "args", JSON_ARRAY, JSON_STRING, name, err)) != 0 ||
        (rc = check_field(c, "", "env", JSON_ARRAY, JSON_OBJECT, name, err)) != 0 ||
        (rc = check_field(c, "", "ports", JSON_ARRAY, JSON_OBJECT, name, err)) != 0 ||
        (rc = check_field(c, "", "resources", JSON_OBJECT, -1, name, err)) != 0 ||
        (rc = check_field(res, "resources.", "requests", JSON_OBJECT, -1, name, err)) != 0 ||
        (rc = check_field(res, "resources.", "limits", JSON_OBJECT, -1, name, err)) != 0) {
        return rc;
    }
    /* The port the args' {port} takes: 99999, 0 or "9000" became 8080 without a word. */
    const json_t *cp =
        json_object_get(json_array_get(json_object_get(c, "ports"), 0), "containerPort");
    if (cp && !json_is_null(cp) &&
        !(json_is_integer(cp) && json_integer_value(cp) >= 1 && json_integer_value(cp) <= 65535)) {
        char got[32];
        if (json_is_integer(cp)) {
            snprintf(got, sizeof(got), "%lld", (long long)json_integer_value(cp));
        } else {
            snprintf(got, sizeof(got), "%s", type_name(cp));
        }
        return mp_error_set(err, MP_EINVALID,
                            "container '%s': 'ports[0].containerPort': expected a port number "
                            "1..65535, got %s",
                            name, got);
    }
    return check_field(json_object_get(pod, "spec"), "spec.", "nodeSelector", JSON_OBJECT, -1, NULL,
                       err);
}

int mp_spec_render_pod(const struct mp_spec *spec, const double *x, const json_t *pod_template,
                       const char *container, const struct mp_pod_mapping *mapping, json_t **out,
                       struct mp_error *err)
{
    *out = NULL;
    const json_t *containers = json_object_get(json_object_get(pod_template, "spec"), "containers");
    if (!json_is_array(containers)) {
        return mp_error_set(err, MP_EINVALID, "the pod template has no spec.containers list");
    }
    int rc = check_containers(containers, err);
    if (rc != 0) {
        return rc;
    }
    json_t *pod = json_deep_copy(pod_template);
    json_t *c = NULL;
    rc = find_container(json_object_get(json_object_get(pod, "spec"), "containers"), container, &c,
                        err);
    if (rc == 0) {
        const char *name = json_string_value(json_object_get(c, "name"));
        rc = check_template(pod, c, name, err);
        if (rc == 0) {
            rc = configure(spec, x, pod, c, name, mapping, err);
        }
    }
    if (rc != 0) {
        json_decref(pod);
        return rc;
    }
    *out = pod;
    return 0;
}
