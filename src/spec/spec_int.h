/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside src/spec only. */
#ifndef MP_SPEC_INT_H
#define MP_SPEC_INT_H

#include "spec/spec.h"

/* Parses `parameters:` into spec->space. */
int mp_spec_parse_params(struct mp_spec *spec, const struct mp_node *list, struct mp_error *err);
/* Checks that every {placeholder} in text names a parameter or a built-in; marks used ones. */
int mp_spec_check_template(const struct mp_spec *spec, const struct mp_node *node, bool *used,
                           struct mp_error *err);
bool mp_spec_is_identifier(const char *s);
/* Checks the form of every runner.load.headers item (mp_spec_check_header). */
int mp_spec_check_headers(const struct mp_spec *spec, struct mp_error *err);
/* For a confined spec: every path field resolves inside base_dir (mp_spec_path). */
int mp_spec_check_paths(const struct mp_spec *spec, struct mp_error *err);

#endif
