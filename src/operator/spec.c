/* SPDX-License-Identifier: Apache-2.0 */
/* An experiment object as a spec. It is parsed as `kubectl get pe NAME -o json` prints it (so
 * positions in messages point into that output), confined to the files folder: whoever may
 * create experiments must not make the operator read its own files (its credentials) into a
 * trial. The original's requestTemplate is the request body itself, while morphling's
 * load.body names a file (which the kubernetes runner ships to the load Job), so the operator
 * writes the template to a file of its own in the files folder and names that instead. */
#include "operator/op_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int write_file(const char *path, const char *text, struct mp_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return mp_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            int e = errno;
            close(fd);
            return mp_error_set(err, -e, "cannot write '%s': %s", path, strerror(e));
        }
        done += (size_t)w;
    }
    return close(fd) == 0 ? 0 : mp_error_set(err, -errno, "cannot write '%s'", path);
}

/* spec.requestTemplate -> a file, named by spec.load.body (method POST unless given). Leaves
 * the object alone when there is no template, or a load.body too (the spec's own error). */
static int request_file(struct op *op, json_t *pe, char **path, struct mp_error *err)
{
    json_t *spec = json_object_get(pe, "spec");
    const char *tmpl = json_string_value(json_object_get(spec, "requestTemplate"));
    json_t *load = json_object_get(spec, "load");
    if (!tmpl || (load && !json_is_object(load)) || json_object_get(load, "body")) {
        return 0;
    }
    *path = mp_xasprintf("%s/.request-%s", op->files_dir, mp_kube_meta(pe, "uid"));
    int rc = write_file(*path, tmpl, err);
    if (rc != 0) {
        return rc;
    }
    if (!load) {
        load = json_object();
        json_object_set_new(spec, "load", load);
    }
    json_object_set_new(load, "body", json_string(*path));
    if (!json_object_get(load, "method")) {
        json_object_set_new(load, "method", json_string("POST"));
    }
    json_object_del(spec, "requestTemplate");
    return 0;
}

int op_parse(struct op *op, const char *key, const json_t *pe, struct mp_spec **out,
             char **body_file, struct mp_error *err)
{
    json_t *copy = json_deep_copy(pe);
    *body_file = NULL;
    int rc = request_file(op, copy, body_file, err);
    if (rc == 0) {
        char *text = json_dumps(copy, JSON_INDENT(4) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        rc = mp_spec_parse_confined(text, strlen(text), key, op->files_dir, out, err);
        free(text);
    }
    json_decref(copy);
    if (rc != 0 && *body_file) {
        (void)unlink(*body_file);
        free(*body_file);
        *body_file = NULL;
    }
    return rc;
}
