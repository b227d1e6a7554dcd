/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON API under /api/v1/: experiments (list, create, get, cancel, delete), trials, logs,
 * recommendation, Pareto fronts, search space, spec validation and event streams.
 * Endpoints and error codes: docs/api.md. */
#include "server/server_int.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doc/doc.h"
#include "engine/engine.h"
#include "report/report.h"

#define MAX_SEGS    6
#define MAX_PAGE    10000
#define MAX_SEG_LEN 256

struct route {
    char seg[MAX_SEGS][MAX_SEG_LEN];
    size_t n;
};

/* Splits "/experiments/x/trials" into segments; false when too deep or too long, or when a
 * segment is empty ("//experiments", "experiments/", "x//trials"): such a path names no
 * resource, as on most servers, rather than the path without that segment (docs/api.md). */
static bool split_path(const char *path, struct route *r)
{
    r->n = 0;
    if (*path != '/') {
        return false;
    }
    const char *p = path + 1;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0 || r->n == MAX_SEGS || len >= MAX_SEG_LEN) {
            return false;
        }
        memcpy(r->seg[r->n], p, len);
        r->seg[r->n][len] = '\0';
        r->n++;
        if (!end) {
            return true;
        }
        p = end + 1;
    }
}

static mhd_result send_err(struct MHD_Connection *c, struct request *req, int code,
                           const struct mp_error *err)
{
    const char *name = NULL;
    unsigned status = mp_srv_status_for(code, &name);
    return mp_srv_send_error(c, req, status, name, "%s",
                             err->msg[0] ? err->msg : mp_strerror(code));
}

static json_t *param_json(const struct mp_param *p)
{
    json_t *j = json_pack("{s:s, s:s, s:b}", "name", p->name, "type", mp_param_type_name(p->type),
                          "log", p->log_scale);
    if (p->type == MP_PARAM_INT || p->type == MP_PARAM_FLOAT) {
        json_object_set_new(j, "min", json_real(p->min));
        json_object_set_new(j, "max", json_real(p->max));
        json_object_set_new(j, "step", json_real(p->step));
    } else if (p->type == MP_PARAM_DISCRETE) {
        json_t *v = json_array();
        for (size_t i = 0; i < p->n_values; i++) {
            json_array_append_new(v, json_real(p->values[i]));
        }
        json_object_set_new(j, "values", v);
    } else {
        json_t *v = json_array();
        for (size_t i = 0; i < p->n_choices; i++) {
            json_array_append_new(v, json_string(p->choices[i]));
        }
        json_object_set_new(j, "values", v);
    }
    if (p->target == MP_TARGET_RESOURCE) {
        json_object_set_new(j, "resource", json_string(mp_resource_name(p->resource)));
    } else if (p->target_name) {
        json_object_set_new(j, p->target == MP_TARGET_ENV ? "env" : "arg",
                            json_string(p->target_name));
    }
    return j;
}

static json_t *space_json(const struct mp_spec *spec)
{
    json_t *params = json_array();
    for (size_t i = 0; i < spec->space.n; i++) {
        json_array_append_new(params, param_json(&spec->space.params[i]));
    }
    double size = mp_space_size(&spec->space);
    return json_pack("{s:o, s:o}", "parameters", params, "configurations",
                     isinf(size) ? json_null() : json_real(size));
}

/* Parses and validates a submitted spec ("spec" is the source name in messages); its paths
 * must stay inside --base-dir. */
static int parse_spec(struct mp_server *srv, const struct request *req, struct mp_spec **spec,
                      struct mp_error *err)
{
    int rc =
        mp_spec_parse_confined(req->body.data, req->body.len, "spec", srv->base_dir, spec, err);
    if (rc == 0) {
        rc = mp_engine_validate(*spec, err);
    }
    if (rc != 0) {
        mp_spec_free(*spec);
        *spec = NULL;
    }
    return rc;
}

/* What the user should know before running spec (mp_engine_spec_warning, mp_spec_warnings), as
 * a list: what `morphling validate` prints as warnings. */
static json_t *warnings_json(const struct mp_spec *spec)
{
    json_t *a = json_array();
    char *w = mp_engine_spec_warning(spec);
    if (w) {
        json_array_append_new(a, json_string(w));
        free(w);
    }
    size_t n = 0;
    char **more = mp_spec_warnings(spec, &n);
    for (size_t i = 0; i < n; i++) {
        mp_utf8_scrub(more[i], strlen(more[i])); /* a file name may be no UTF-8 */
        json_array_append_new(a, json_string(more[i]));
    }
    mp_spec_warnings_free(more, n);
    return a;
}

static mhd_result api_validate(struct mp_server *srv, struct MHD_Connection *c, struct request *req)
{
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    req->route = "validate";
    if (parse_spec(srv, req, &spec, &err) != 0) {
        return mp_srv_send_error(c, req, MHD_HTTP_BAD_REQUEST, "invalid_spec", "%s", err.msg);
    }
    json_t *j = json_pack("{s:b, s:s, s:s, s:s, s:I, s:o, s:o}", "valid", 1, "name", spec->name,
                          "algorithm", spec->algorithm, "runner", spec->runner, "max_trials",
                          (json_int_t)spec->max_trials, "space", space_json(spec), "warnings",
                          warnings_json(spec));
    mp_spec_free(spec);
    return mp_srv_send_json(c, req, MHD_HTTP_OK, j);
}

static mhd_result api_create(struct mp_server *srv, struct MHD_Connection *c, struct request *req)
{
    struct mp_spec *spec = NULL;
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_experiment_row row = {0};
    mhd_result r = MHD_NO;
    int64_t id = 0;
    req->route = "experiments";
    if (atomic_load(&srv->stopping)) {
        return mp_srv_send_error(c, req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                 "the server is shutting down");
    }
    if (parse_spec(srv, req, &spec, &err) != 0) {
        return mp_srv_send_error(c, req, MHD_HTTP_BAD_REQUEST, "invalid_spec", "%s", err.msg);
    }
    if (mp_srv_job_reserve(srv, &err) != 0) {
        mp_spec_free(spec);
        return mp_srv_send_error(c, req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_running", "%s",
                                 err.msg);
    }
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0 && mp_store_experiment_find(st, spec->name, &row, NULL) == 0) {
        rc = mp_error_set(&err, MP_EEXISTS,
                          "an experiment named '%s' already exists (id %lld); delete it or "
                          "choose another name",
                          spec->name, (long long)row.id);
    }
    if (rc == 0) {
        rc = mp_engine_create(st, spec, &id, &err);
    }
    if (rc == 0) {
        const char *name_copy = spec->name;
        json_t *j = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)id, "name", name_copy,
                              "state", "CREATED", "warnings", warnings_json(spec));
        rc = mp_srv_job_start(srv, spec, id, NULL, &err);
        spec = NULL;
        r = rc == 0 ? mp_srv_send_json(c, req, MHD_HTTP_CREATED, j) : send_err(c, req, rc, &err);
        if (rc != 0) {
            json_decref(j);
        }
    } else {
        mp_srv_job_unreserve(srv);
        r = send_err(c, req, rc, &err);
    }
    mp_experiment_row_release(&row);
    mp_store_close(st);
    mp_spec_free(spec);
    return r;
}

static mhd_result api_list(struct mp_server *srv, struct MHD_Connection *c, struct request *req)
{
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    json_t *list = NULL;
    req->route = "experiments";
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        bool began = mp_store_snapshot_begin(st); /* one moment, as the CLI's list */
        rc = mp_report_list(st, &list, &err);
        mp_store_snapshot_end(st, began);
    }
    mp_store_close(st);
    if (rc != 0) {
        return send_err(c, req, rc, &err);
    }
    return mp_srv_send_json(c, req, MHD_HTTP_OK, json_pack("{s:o}", "experiments", list));
}

static json_t *pareto_json(const json_t *rep)
{
    json_t *obj = json_object_get(rep, "objective");
    const char *metric = json_string_value(json_object_get(obj, "metric"));
    const char *dir = json_string_value(json_object_get(obj, "direction"));
    bool obj_max = dir && strcmp(dir, "maximize") == 0;
    json_t *tp = mp_report_pareto(rep, "throughput_rps", true, "p99_ms", false);
    json_t *oc = mp_report_pareto(rep, metric ? metric : "", obj_max, "cost_per_hour", false);
    return json_pack("{s:{s:s, s:s, s:s, s:s, s:o}, s:{s:s, s:s, s:s, s:s, s:o}}", "throughput_p99",
                     "x", "throughput_rps", "x_direction", "maximize", "y", "p99_ms", "y_direction",
                     "minimize", "trials", tp, "objective_cost", "x", metric ? metric : "",
                     "x_direction", obj_max ? "maximize" : "minimize", "y", "cost_per_hour",
                     "y_direction", "minimize", "trials", oc);
}

/* Loads the experiment `ref` with its report, spec and row. */
struct loaded {
    struct mp_experiment_row row;
    struct mp_spec *spec;
    json_t *report;
};

static int load(struct mp_store *st, const char *ref, struct loaded *l, struct mp_error *err)
{
    /* One moment for the row and the report, as the CLI's show: its queries apart, a run writing
     * meanwhile tore it (a trial PENDING with its result's metrics). */
    bool began = mp_store_snapshot_begin(st);
    int rc = mp_store_experiment_find(st, ref, &l->row, err);
    if (rc == 0) {
        rc = mp_report_stored_spec(&l->row, &l->spec, err);
    }
    if (rc == 0) {
        char id[32];
        snprintf(id, sizeof(id), "%lld", (long long)l->row.id);
        rc = mp_report_experiment(st, id, &l->report, err);
    }
    mp_store_snapshot_end(st, began);
    return rc;
}

static void loaded_release(struct loaded *l)
{
    mp_experiment_row_release(&l->row);
    mp_spec_free(l->spec);
    json_decref(l->report);
}

/* ?limit=N&after=NUMBER of GET .../trials: the trials numbered above after (0: from the first),
 * at most limit of them (0: all). */
struct page {
    int64_t limit, after;
};

static int page_arg(struct MHD_Connection *c, const char *name, int64_t min, int64_t max,
                    int64_t *out, struct mp_error *err)
{
    const char *v = NULL;
    int rc = mp_srv_query_arg(c, name, &v, err);
    if (rc != 0 || !v) {
        return rc;
    }
    if (v[strspn(v, "0123456789")] != '\0' || mp_parse_int64(v, out) != 0 || *out < min ||
        *out > max) {
        return mp_error_set(err, MP_EINVALID,
                            "query argument '%s': '%s' is not an integer from %lld to %lld", name,
                            v, (long long)min, (long long)max);
    }
    return 0;
}

static int parse_page(struct MHD_Connection *c, struct page *p, struct mp_error *err)
{
    int rc = page_arg(c, "limit", 1, MAX_PAGE, &p->limit, err);
    return rc ? rc : page_arg(c, "after", 0, INT64_MAX, &p->after, err);
}

/* The page p of trials (in number order): {trials, next_after}, next_after the number to give
 * as ?after= for the next page, null when no trial follows. */
static json_t *trials_page(const json_t *trials, const struct page *p)
{
    json_t *out = json_array();
    json_t *next = json_null();
    for (size_t i = 0; i < json_array_size(trials); i++) {
        json_t *t = json_array_get(trials, i);
        json_int_t number = json_integer_value(json_object_get(t, "number"));
        if (number <= p->after) {
            continue;
        }
        if (p->limit > 0 && (int64_t)json_array_size(out) == p->limit) {
            json_decref(next);
            next = json_integer(json_integer_value(
                json_object_get(json_array_get(out, json_array_size(out) - 1), "number")));
            break;
        }
        json_array_append(out, t);
    }
    return json_pack("{s:o, s:o}", "trials", out, "next_after", next);
}

static json_t *view(struct mp_server *srv, struct mp_store *st, struct loaded *l, const char *what,
                    int64_t n, const struct page *page, int *rc, struct mp_error *err)
{
    json_t *rep = l->report;
    if (strcmp(what, "") == 0) {
        json_t *spec = json_loads(l->row.spec_json, 0, NULL);
        mp_report_redact_spec(spec);
        json_object_set_new(rep, "spec", spec ? spec : json_null());
        json_object_set_new(rep, "space", space_json(l->spec));
        json_object_set_new(rep, "pareto", pareto_json(rep));
        json_object_set_new(rep, "running_here", json_boolean(mp_srv_job_running(srv, l->row.id)));
        return json_incref(rep);
    }
    if (strcmp(what, "trials") == 0) {
        return trials_page(json_object_get(rep, "trials"), page);
    }
    if (strcmp(what, "recommendation") == 0) {
        return json_pack("{s:O, s:O, s:O, s:O, s:o}", "objective",
                         json_object_get(rep, "objective"), "constraints",
                         json_object_get(rep, "constraints"), "best", json_object_get(rep, "best"),
                         "confirmation", json_object_get(rep, "confirmation"), "pareto",
                         pareto_json(rep));
    }
    if (strcmp(what, "pareto") == 0) {
        return pareto_json(rep);
    }
    if (strcmp(what, "space") == 0) {
        return space_json(l->spec);
    }
    if (strcmp(what, "logs") == 0) {
        char *out = NULL, *errs = NULL;
        *rc = mp_store_trial_log(st, l->row.id, n, "stdout", &out, err);
        if (*rc == 0) {
            *rc = mp_store_trial_log(st, l->row.id, n, "stderr", &errs, err);
        }
        json_t *j = *rc == 0 ? json_pack("{s:I, s:s, s:s}", "number", (json_int_t)n, "stdout", out,
                                         "stderr", errs)
                             : NULL;
        free(out);
        free(errs);
        return j;
    }
    *rc = mp_error_set(err, MP_ENOTFOUND, "no such resource");
    return NULL;
}

/* The {n} of .../trials/{n}/logs: a trial number as the API writes it (decimal digits: no sign,
 * no "0x1"), then one of the experiment's trials. */
static int trial_number(const json_t *rep, const char *ref, const char *number, int64_t *n,
                        struct mp_error *err)
{
    if (number[strspn(number, "0123456789")] != '\0' || mp_parse_int64(number, n) != 0 || *n < 1) {
        return mp_error_set(err, MP_EINVALID, "trial number '%s' is not a positive integer",
                            number);
    }
    json_t *trials = json_object_get(rep, "trials");
    for (size_t i = 0; i < json_array_size(trials); i++) {
        if (json_integer_value(json_object_get(json_array_get(trials, i), "number")) == *n) {
            return 0;
        }
    }
    return mp_error_set(err, MP_ENOTFOUND, "experiment '%s' has no trial %s", ref, number);
}

static mhd_result api_get(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                          const char *ref, const char *what, const char *number)
{
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct loaded l = {0};
    json_t *j = NULL;
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        rc = load(st, ref, &l, &err);
    }
    int64_t n = 0;
    struct page page = {0};
    if (rc == 0 && number) {
        rc = trial_number(l.report, ref, number, &n, &err);
    }
    if (rc == 0 && strcmp(what, "trials") == 0) {
        rc = parse_page(c, &page, &err);
    }
    if (rc == 0) {
        j = view(srv, st, &l, what, n, &page, &rc, &err);
    }
    loaded_release(&l);
    mp_store_close(st);
    if (rc != 0) {
        return send_err(c, req, rc, &err);
    }
    return mp_srv_send_json(c, req, MHD_HTTP_OK, j);
}

static bool owned_elsewhere(const struct mp_experiment_row *row)
{
    return row->state == MP_EXPERIMENT_RUNNING && !mp_experiment_row_mine(row) &&
           mp_experiment_row_driven(row, MP_STORE_STALE_MS);
}

static mhd_result api_cancel(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref)
{
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_experiment_row row = {0};
    req->route = "cancel";
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, &err);
    }
    unsigned status = MHD_HTTP_OK;
    const char *state = "CANCELLED";
    if (rc == 0 && mp_srv_job_cancel(srv, row.id)) {
        status = MHD_HTTP_ACCEPTED;
        state = "CANCELLING";
    } else if (rc == 0 && row.state >= MP_EXPERIMENT_SUCCEEDED) {
        rc = mp_error_set(&err, MP_ESTATE, "experiment '%s' has already finished (%s)", row.name,
                          mp_experiment_state_name(row.state));
    } else if (rc == 0 && owned_elsewhere(&row)) {
        rc = mp_error_set(&err, MP_EBUSY,
                          "experiment '%s' is driven by another process (pid %lld); stop it "
                          "there",
                          row.name, (long long)row.owner_pid);
    } else if (rc == 0) {
        rc = mp_engine_cancel(st, row.id, "cancelled through the API", &err);
    }
    mhd_result r =
        rc == 0
            ? mp_srv_send_json(c, req, status,
                               json_pack("{s:I, s:s}", "id", (json_int_t)row.id, "state", state))
            : send_err(c, req, rc, &err);
    mp_experiment_row_release(&row);
    mp_store_close(st);
    return r;
}

/* Whether `morphling run` would continue the experiment of row, as far as the row tells (the
 * engine decides the rest: its claim, a spec it refuses). */
static int resumable(struct mp_server *srv, const struct mp_experiment_row *row,
                     struct mp_error *err)
{
    if (mp_srv_job_running(srv, row->id)) {
        return mp_error_set(err, MP_ESTATE, "experiment '%s' is already running in this server",
                            row->name);
    }
    if (row->state >= MP_EXPERIMENT_SUCCEEDED) {
        return mp_error_set(err, MP_ESTATE,
                            "experiment '%s' has already finished (%s); only an interrupted "
                            "experiment (or one whose engine failed) can be resumed",
                            row->name, mp_experiment_state_name(row->state));
    }
    if (owned_elsewhere(row)) {
        return mp_error_set(err, MP_EBUSY,
                            "experiment '%s' is driven by another process (pid %lld)", row->name,
                            (long long)row->owner_pid);
    }
    return 0;
}

/* The stored spec of row, read as a submitted one: its paths resolve against --base-dir and
 * must stay inside it, and it must validate. MP_EUNSUPPORTED when this build cannot read it. */
static int stored_spec(struct mp_server *srv, const struct mp_experiment_row *row,
                       struct mp_spec **spec, struct mp_error *err)
{
    struct mp_spec *as_stored = NULL;
    char msg[MP_ERROR_MSG_MAX];
    int rc = mp_report_stored_spec(row, &as_stored, err);
    mp_spec_free(as_stored);
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "%s", err->msg);
        return mp_error_set(err, MP_EUNSUPPORTED,
                            "experiment '%s': its stored spec is not one this build reads: %s",
                            row->name, msg);
    }
    rc = mp_spec_parse_confined(row->spec_json, strlen(row->spec_json), "stored spec",
                                srv->base_dir, spec, err);
    if (rc == 0) {
        rc = mp_engine_validate(*spec, err);
    }
    if (rc == 0 && row->base_dir && strcmp(row->base_dir, (*spec)->base_dir) != 0) {
        rc = mp_error_set(err, MP_EINVALID,
                          "its relative paths resolve in '%s', not in this server's --base-dir "
                          "'%s'; continue it with `morphling run SPEC` there",
                          row->base_dir, (*spec)->base_dir);
    }
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "%s", err->msg);
        mp_error_set(err, MP_ESTATE, "experiment '%s' cannot be resumed here: %s", row->name, msg);
        mp_spec_free(*spec);
        *spec = NULL;
    }
    return rc != 0 ? MP_ESTATE : 0;
}

/* POST .../resume: continues an interrupted experiment from its stored spec, in a job of this
 * server, with the engine `morphling run` resumes it with. */
static mhd_result api_resume(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref)
{
    struct mp_store *st = NULL;
    struct mp_spec *spec = NULL;
    struct mp_error err = {0};
    struct mp_experiment_row row = {0};
    req->route = "resume";
    if (atomic_load(&srv->stopping)) {
        return mp_srv_send_error(c, req, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                 "the server is shutting down");
    }
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, &err);
    }
    mp_store_close(st);
    rc = rc ? rc : resumable(srv, &row, &err);
    rc = rc ? rc : stored_spec(srv, &row, &spec, &err);
    if (rc == 0 && mp_srv_job_reserve(srv, &err) != 0) {
        mp_spec_free(spec);
        mp_experiment_row_release(&row);
        return mp_srv_send_error(c, req, MHD_HTTP_TOO_MANY_REQUESTS, "too_many_running", "%s",
                                 err.msg);
    }
    if (rc == 0) {
        struct mp_srv_job_wait wait = {0};
        rc = mp_srv_job_start(srv, spec, row.id, &wait, &err);
    } else {
        mp_spec_free(spec);
    }
    mhd_result r;
    if (rc == 0) {
        r = mp_srv_send_json(c, req, MHD_HTTP_ACCEPTED,
                             json_pack("{s:I, s:s}", "id", (json_int_t)row.id, "state", "RUNNING"));
    } else if (rc == MP_EUNSUPPORTED) { /* the request is fine: the stored experiment is not */
        r = mp_srv_send_error(c, req, MHD_HTTP_CONFLICT, "unsupported", "%s", err.msg);
    } else {
        r = send_err(c, req, rc, &err);
    }
    mp_experiment_row_release(&row);
    return r;
}

static mhd_result api_delete(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref)
{
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_experiment_row row = {0};
    req->route = "experiment";
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, &err);
    }
    if (rc == 0) {
        mp_srv_job_stop_wait(srv, row.id);
        if (owned_elsewhere(&row)) {
            rc = mp_error_set(&err, MP_EBUSY,
                              "experiment '%s' is driven by another process (pid %lld)", row.name,
                              (long long)row.owner_pid);
        }
    }
    if (rc == 0) {
        /* Claimed in the transaction that checks the owner (as `run --restart` deletes): a run
         * that resumed it since the check above would go on writing into a deleted experiment. */
        rc = mp_store_experiment_claim(st, row.id, (int64_t)getpid(), MP_STORE_STALE_MS, &err);
    }
    if (rc == 0) {
        rc = mp_store_experiment_delete(st, row.id, &err);
    }
    mhd_result r =
        rc == 0 ? mp_srv_send_json(c, req, MHD_HTTP_OK,
                                   json_pack("{s:I, s:b}", "id", (json_int_t)row.id, "deleted", 1))
                : send_err(c, req, rc, &err);
    mp_experiment_row_release(&row);
    mp_store_close(st);
    return r;
}

static mhd_result api_events(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                             const char *ref)
{
    req->route = "events";
    if (!ref) {
        return mp_srv_sse(srv, c, req, 0);
    }
    struct mp_store *st = NULL;
    struct mp_error err = {0};
    struct mp_experiment_row row = {0};
    int rc = mp_srv_open_store(srv, &st, &err);
    if (rc == 0) {
        rc = mp_store_experiment_find(st, ref, &row, &err);
    }
    mp_store_close(st);
    int64_t id = row.id;
    mp_experiment_row_release(&row);
    if (rc != 0) {
        return send_err(c, req, rc, &err);
    }
    return mp_srv_sse(srv, c, req, id);
}

#define GETS "GET, HEAD"

/* 405, with the methods the route has (allow). */
static mhd_result not_allowed(struct MHD_Connection *c, struct request *req, const char *method,
                              const char *allow)
{
    req->allow = allow;
    return mp_srv_send_error(c, req, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                             "method %s is not allowed here", method);
}

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

static mhd_result api_experiment(struct mp_server *srv, struct MHD_Connection *c,
                                 struct request *req, const char *method, const struct route *r)
{
    const char *ref = r->seg[1];
    bool get = is(method, "GET") || is(method, "HEAD");
    if (r->n == 2) {
        req->route = "experiment";
        if (get) {
            return api_get(srv, c, req, ref, "", NULL);
        }
        return is(method, "DELETE") ? api_delete(srv, c, req, ref)
                                    : not_allowed(c, req, method, GETS ", DELETE");
    }
    const char *what = r->seg[2];
    if (r->n == 3 && is(what, "cancel")) {
        return is(method, "POST") ? api_cancel(srv, c, req, ref)
                                  : not_allowed(c, req, method, "POST");
    }
    if (r->n == 3 && is(what, "resume")) {
        return is(method, "POST") ? api_resume(srv, c, req, ref)
                                  : not_allowed(c, req, method, "POST");
    }
    if (r->n == 3 && is(what, "export")) {
        return get ? mp_srv_api_export(srv, c, req, ref) : not_allowed(c, req, method, GETS);
    }
    if (r->n == 3 && is(what, "events")) {
        return get ? api_events(srv, c, req, ref) : not_allowed(c, req, method, GETS);
    }
    bool known =
        is(what, "trials") || is(what, "recommendation") || is(what, "pareto") || is(what, "space");
    if (r->n == 3 && known) {
        req->route = is(what, "trials") ? "trials" : "experiment_view";
        return get ? api_get(srv, c, req, ref, what, NULL) : not_allowed(c, req, method, GETS);
    }
    if (r->n == 5 && is(what, "trials") && is(r->seg[4], "logs")) {
        req->route = "logs";
        return get ? api_get(srv, c, req, ref, "logs", r->seg[3])
                   : not_allowed(c, req, method, GETS);
    }
    return mp_srv_send_error(c, req, MHD_HTTP_NOT_FOUND, "not_found", "no such API route");
}

/* The query arguments route r takes (docs/api.md); none for every other route. */
static const char *const *route_args(const struct route *r)
{
    static const char *const none[] = {NULL};
    static const char *const events[] = {"after", NULL};
    static const char *const trials[] = {"limit", "after", NULL};
    static const char *const export[] = {"format",     "container", "port",
                                         "target_rps", "headroom",  NULL};
    if ((r->n == 1 && is(r->seg[0], "events")) || (r->n == 3 && is(r->seg[2], "events"))) {
        return events;
    }
    if (r->n == 3 && is(r->seg[2], "trials")) {
        return trials;
    }
    if (r->n == 3 && is(r->seg[2], "export")) {
        return export;
    }
    return none;
}

mhd_result mp_srv_api(struct mp_server *srv, struct MHD_Connection *c, struct request *req,
                      const char *method, const char *path)
{
    struct route r;
    struct mp_error err = {0};
    req->route = "api";
    if (!split_path(path, &r) || r.n == 0) {
        return mp_srv_send_error(c, req, MHD_HTTP_NOT_FOUND, "not_found", "no such API route");
    }
    if (mp_srv_query_known(c, route_args(&r), &err) != 0) {
        return mp_srv_send_error(c, req, MHD_HTTP_BAD_REQUEST, "invalid", "%s", err.msg);
    }
    bool get = is(method, "GET") || is(method, "HEAD");
    bool change = is(method, "POST") || is(method, "DELETE");
    if (srv->read_only && change && is(r.seg[0], "experiments")) {
        return mp_srv_send_error(c, req, MHD_HTTP_CONFLICT, "read_only", "%s", srv->read_only);
    }
    if (r.n == 1 && is(r.seg[0], "experiments")) {
        if (get) {
            return api_list(srv, c, req);
        }
        return is(method, "POST") ? api_create(srv, c, req)
                                  : not_allowed(c, req, method, GETS ", POST");
    }
    if (r.n == 1 && is(r.seg[0], "validate")) {
        return is(method, "POST") ? api_validate(srv, c, req) : not_allowed(c, req, method, "POST");
    }
    if (r.n == 1 && is(r.seg[0], "info")) {
        return get ? mp_srv_api_info(c, req) : not_allowed(c, req, method, GETS);
    }
    if (r.n == 1 && is(r.seg[0], "session")) {
        return is(method, "POST") ? mp_srv_api_session(srv, c, req)
                                  : not_allowed(c, req, method, "POST");
    }
    if (r.n == 1 && is(r.seg[0], "events")) {
        return get ? api_events(srv, c, req, NULL) : not_allowed(c, req, method, GETS);
    }
    if (r.n >= 2 && is(r.seg[0], "experiments")) {
        return api_experiment(srv, c, req, method, &r);
    }
    return mp_srv_send_error(c, req, MHD_HTTP_NOT_FOUND, "not_found", "no such API route");
}
