/* SPDX-License-Identifier: Apache-2.0 */
/* The kubernetes runner's load test: runner.load settings (checked by mp_local_load_validate)
 * as the arguments of `morphling load` in the load Job, and the compact result it writes to its
 * termination message (`--result`) read back into the trial's metrics. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runner/kubernetes_int.h"

/* runner.load key -> `morphling load` option taking the key's text as it is (the keys of the
 * other mode are refused when the spec is read). */
static const struct {
    const char *key, *opt;
} passthrough[] = {
    {"method", "--method"},
    {"connections", "--connections"},
    {"threads", "--threads"},
    {"warmup", "--warmup"},
    {"window", "--window"},
    {"windows", "--max-windows"},
    {"stable_windows", "--stable-windows"},
    {"tolerance", "--tolerance"},
    {"timeout", "--timeout"},
    {"expect_status", "--expect-status"},
};

static void add(json_t *args, const char *opt, const char *value)
{
    json_array_append_new(args, json_string(opt));
    if (value) {
        json_array_append_new(args, json_string(value));
    }
}

static const char *text(const struct mp_node *load, const char *key)
{
    const struct mp_node *n = mp_doc_get(load, key);
    return n && n->kind == MP_NODE_SCALAR ? n->scalar : NULL;
}

static int add_headers(const struct mp_spec *spec, const struct mp_node *h, json_t *args,
                       struct mp_error *err)
{
    for (size_t i = 0; h && i < h->n; i++) {
        char *line = NULL;
        int rc = mp_spec_header_line(spec, h->items[i], &line, err);
        if (rc != 0) {
            return rc;
        }
        add(args, "--header", line);
        free(line);
    }
    return 0;
}

/* A boolean setting of runner.load (checked when the spec was read), else its default. */
static bool flag(const struct mp_node *load, const char *key, bool def)
{
    const struct mp_node *n = mp_doc_get(load, key);
    bool v = def;
    struct mp_error err = {0};
    if (n && mp_doc_bool(n, &v, &err) != 0) {
        v = def;
    }
    mp_error_clear(&err);
    return v;
}

/* What the local runner's measurement does beyond the passthrough options: the confidence rule
 * (ci, 0.02 by default, with MP_MEASURE_CI_WINDOWS windows unless `windows` says), pruning on the
 * spec's latency limits and a second measurement of an unsettled one within budget_ns. */
static void add_measure_rules(const struct mp_spec *spec, const struct mp_node *load,
                              int64_t budget_ns, json_t *args)
{
    const char *ci = text(load, "ci");
    if (!ci || strtod(ci, NULL) > 0) {
        add(args, "--ci", ci ? ci : "0.02");
        if (!text(load, "windows")) {
            char w[16];
            snprintf(w, sizeof(w), "%d", MP_MEASURE_CI_WINDOWS);
            add(args, "--max-windows", w);
        }
    }
    struct mp_slo slo;
    if (flag(load, "prune", true) && mp_runner_prune_slo(spec, &slo) > 0) {
        char text[MP_SLO_MAX_CLAUSES * 40] = "";
        for (size_t i = 0; i < slo.n; i++) {
            size_t len = strlen(text);
            snprintf(text + len, sizeof(text) - len, "%s%s<=%.3fus", i ? "," : "",
                     mp_stat_name(slo.clause[i].stat), slo.clause[i].limit_us);
        }
        add(args, "--prune", text);
    }
    if (flag(load, "remeasure", true)) {
        char t[32];
        snprintf(t, sizeof(t), "%lldms", (long long)(budget_ns > 0 ? budget_ns / 1000000 : 0));
        add(args, "--remeasure", NULL);
        add(args, "--max-time", t);
    }
}

int mp_kube_load_args(const struct mp_spec *spec, const struct mp_node *load, const char *url,
                      int64_t budget_ns, json_t **out, struct mp_error *err)
{
    const char *path = text(load, "path");
    char *full = mp_xasprintf("%s%s", url, path ? path : "/");
    json_t *args = json_pack("[s, s, s, s]", "load", full, "--result", "/dev/termination-log");
    free(full);
    const char *mode = text(load, "mode");
    bool capacity = mode && strcmp(mode, "capacity") == 0;
    for (size_t i = 0; i < MP_ARRAY_LEN(passthrough); i++) {
        const char *v = text(load, passthrough[i].key);
        if (v) {
            add(args, passthrough[i].opt, v);
        }
    }
    const char *rate = text(load, "rate");
    if (rate && strtod(rate, NULL) > 0) {
        add(args, "--rate", rate);
    }
    if (!capacity) {
        add_measure_rules(spec, load, budget_ns, args);
    } else {
        add(args, "--capacity", NULL);
        add(args, "--slo", text(load, "slo"));
        const char *v = text(load, "max_time");
        if (v) {
            add(args, "--max-time", v);
        }
        if ((v = text(load, "max_error_rate")) != NULL) {
            add(args, "--max-error-rate", v);
        }
    }
    if (text(load, "body") || text(load, "body_text")) {
        add(args, "--body", MP_KUBE_BODY_DIR); /* the owner's binaryData, mounted */
    }
    int rc = add_headers(spec, mp_doc_get(load, "headers"), args, err);
    if (rc != 0) {
        json_decref(args);
        return rc;
    }
    *out = args;
    return 0;
}

int mp_kube_load_result(const struct mp_node *load, const char *message,
                        struct mp_trial_result *res, struct mp_error *err)
{
    json_error_t jerr;
    json_t *doc = message ? json_loads(message, 0, &jerr) : NULL;
    json_t *metrics = json_object_get(doc, "metrics");
    if (!json_is_object(metrics)) {
        json_decref(doc);
        return mp_error_set(err, MP_EPARSE,
                            "the load Job's termination message is not a load result: \"%.200s\"",
                            message ? message : "");
    }
    const char *key;
    json_t *v;
    json_object_foreach (metrics, key, v) {
        if (json_is_number(v)) {
            mp_metrics_set(&res->metrics, key, json_number_value(v));
        }
    }
    json_t *cap = json_object_get(doc, "capacity");
    if (cap) {
        mp_metrics_set(&res->metrics, "capacity_rps",
                       json_number_value(json_object_get(cap, "capacity_rps")));
        mp_metrics_set(&res->metrics, "saturation_rps",
                       json_number_value(json_object_get(cap, "saturation_rps")));
        if (!json_is_true(json_object_get(cap, "found"))) {
            /* why: the search could not run its steps (a service too slow for them). */
            const char *why = json_string_value(json_object_get(cap, "why"));
            mp_trial_result_fail(res, MP_FAILURE_SLO_VIOLATED, "no request rate met the SLO %s%s%s",
                                 text(load, "slo"), why ? ": " : "", why ? why : "");
        }
    } else {
        double limit = 0.01, rate = json_number_value(json_object_get(doc, "error_rate"));
        const char *l = text(load, "max_error_rate");
        if (l) {
            limit = strtod(l, NULL);
        }
        json_int_t reqs = json_integer_value(json_object_get(doc, "requests"));
        json_int_t errs = json_integer_value(json_object_get(doc, "errors"));
        if (rate > limit) {
            const char *first = json_string_value(json_object_get(doc, "first_error"));
            mp_trial_result_fail(res, MP_FAILURE_LOAD_ERRORS,
                                 "%.2f %% of %lld requests failed (limit %.2f %%)%s%s",
                                 100.0 * rate, (long long)(reqs + errs), 100.0 * limit,
                                 first ? ": " : "", first ? first : "");
        }
    }
    json_decref(doc);
    return 0;
}

/* ---- request bodies ---- */

static char *base64(const unsigned char *p, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = mp_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        v |= i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0;
        v |= i + 2 < n ? (uint32_t)p[i + 2] : 0;
        *o++ = abc[(v >> 18) & 63];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* Adds the file at path as key to data; *total counts the bytes. */
static int add_body(json_t *data, const char *key, const char *path, size_t *total,
                    const struct mp_node *at, struct mp_error *err)
{
    struct mp_buf b = MP_BUF_INIT;
    struct mp_error ferr = {0};
    if (mp_buf_read_file(&b, path, MP_KUBE_BODY_MAX + 1, &ferr) != 0) {
        mp_buf_release(&b);
        return mp_doc_error(err, at, "%s", ferr.msg);
    }
    *total += b.len;
    if (*total > MP_KUBE_BODY_MAX) {
        mp_buf_release(&b);
        return mp_doc_error(err, at,
                            "the request bodies exceed %d KiB, which a ConfigMap cannot carry to "
                            "the load Job",
                            MP_KUBE_BODY_MAX / 1024);
    }
    char *b64 = base64((const unsigned char *)b.data, b.len);
    json_object_set_new(data, key, json_string(b64));
    free(b64);
    mp_buf_release(&b);
    return 0;
}

int mp_kube_load_bodies(const struct mp_spec *spec, const struct mp_node *load, json_t **out,
                        struct mp_error *err)
{
    const struct mp_node *at = mp_doc_get(load, "body");
    const struct mp_node *inline_body = mp_doc_get(load, "body_text");
    *out = NULL;
    if (inline_body && inline_body->scalar) {
        /* An inline body (a ProfilingExperiment's requestTemplate) travels as one file. */
        if (strlen(inline_body->scalar) > MP_KUBE_BODY_MAX) {
            return mp_doc_error(err, inline_body,
                                "the request body exceeds %d KiB, which a ConfigMap cannot carry "
                                "to the load Job",
                                MP_KUBE_BODY_MAX / 1024);
        }
        char *b64 = base64((const unsigned char *)inline_body->scalar, strlen(inline_body->scalar));
        *out = json_pack("{s:s}", "body-0000", b64);
        free(b64);
        return 0;
    }
    if (!at) {
        return 0;
    }
    char *path = NULL;
    int rc = mp_spec_path(spec, at, at->scalar ? at->scalar : "", &path, err);
    struct stat st;
    char **files = NULL;
    size_t n = 0, total = 0;
    if (rc == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = mp_dir_files(path, NULL, 1024, &files, &n, err);
    } else if (rc == 0) {
        files = mp_xcalloc(1, sizeof(char *));
        files[n++] = mp_xstrdup(path);
    }
    json_t *data = json_object();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char key[32];
        snprintf(key, sizeof(key), "body-%04zu", i); /* name order, as `load --body DIR` reads */
        rc = add_body(data, key, files[i], &total, at, err);
    }
    for (size_t i = 0; i < n; i++) {
        free(files[i]);
    }
    free(files);
    free(path);
    if (rc != 0) {
        json_decref(data);
        return rc;
    }
    *out = data;
    return 0;
}

/* ---- a client Job's result ---- */

/* A metric's value: a JSON number, or a string holding one (the original's values). */
static bool metric_value(const json_t *v, double *out)
{
    const char *s = json_string_value(v);
    char *end = NULL;
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (s && *s) {
        *out = strtod(s, &end);
        return *end == '\0' && isfinite(*out);
    }
    return false;
}

void mp_kube_client_result(const char *message, int exit_code, struct mp_trial_result *res)
{
    json_t *doc = message ? json_loads(message, JSON_DECODE_ANY, NULL) : NULL;
    json_t *m =
        json_is_object(json_object_get(doc, "metrics")) ? json_object_get(doc, "metrics") : doc;
    size_t found = 0;
    double v = 0;
    if (json_is_object(m)) {
        const char *key;
        json_t *item;
        json_object_foreach (m, key, item) {
            if (metric_value(item, &v)) {
                mp_metrics_set(&res->metrics, key, v);
                found++;
            }
        }
    }
    for (size_t i = 0; json_is_array(m) && i < json_array_size(m); i++) {
        const char *name = json_string_value(json_object_get(json_array_get(m, i), "name"));
        if (name && metric_value(json_object_get(json_array_get(m, i), "value"), &v)) {
            mp_metrics_set(&res->metrics, name, v);
            found++;
        }
    }
    /* The original's clients report "qps", which a ProfilingExperiment's objective names
     * throughput_rps (mp_spec_pe_metric). */
    double have = 0;
    if (mp_metrics_get(&res->metrics, "qps", &v) &&
        !mp_metrics_get(&res->metrics, "throughput_rps", &have)) {
        mp_metrics_set(&res->metrics, "throughput_rps", v);
    }
    size_t n = message ? strlen(message) : 0;
    while (n > 0 && isspace((unsigned char)message[n - 1])) {
        n--;
    }
    if (exit_code != 0 && found == 0 && n > 0) {
        /* What it wrote, or its log's last lines (FallbackToLogsOnError): why it failed. */
        mp_trial_result_fail(res, MP_FAILURE_LOAD_ERRORS,
                             "the client Job exited with code %d: \"%s%.*s\"", exit_code,
                             n > 300 ? "..." : "", (int)(n > 300 ? 300 : n),
                             message + (n > 300 ? n - 300 : 0));
    } else if (exit_code != 0) {
        /* Its figures say why (morphling load's --result: how many failed, the first error):
         * the reason said only the exit code. */
        struct mp_buf why = MP_BUF_INIT;
        const char *first = json_string_value(json_object_get(doc, "first_error"));
        double errors = 0, rate = 0;
        if (metric_value(json_object_get(doc, "errors"), &errors) && errors > 0 &&
            metric_value(json_object_get(doc, "error_rate"), &rate)) {
            mp_buf_addf(&why, " (%.0f requests failed, error_rate %.4g)", errors, rate);
        }
        if (first) {
            mp_buf_addf(&why, ": first error: \"%.300s%s\"", first,
                        strlen(first) > 300 ? "..." : "");
        }
        mp_trial_result_fail(res, MP_FAILURE_LOAD_ERRORS, "the client Job exited with code %d%s",
                             exit_code, why.data ? why.data : "");
        mp_buf_release(&why);
    } else if (found == 0) {
        mp_trial_result_fail(res, MP_FAILURE_METRIC_MISSING,
                             "the client Job's termination message holds no numeric metric (a "
                             "JSON object such as {\"qps\": 12.5} is expected): \"%.*s\"",
                             (int)(n < 200 ? n : 200), n > 0 ? message : "");
    }
    json_decref(doc);
}
