/* SPDX-License-Identifier: Apache-2.0 */
/* Redaction of secret-looking values in what morphling shows (API answers, exports): members
 * whose key looks secret, "Name: value" headers, NAME=value words and the word after a
 * secret-looking flag. Secret references ({from_env}, {from_file}) are shown as written. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

#include "spec/spec.h"

/* The redacted form of one word (NULL: keep it). prev is the word before it in a list. */
static json_t *redact_word(const char *s, const char *prev)
{
    size_t name_len = 0;
    if (!mp_spec_secret_word(s, prev, &name_len)) {
        return NULL;
    }
    if (name_len == 0) {
        return json_string(MP_SECRET_REDACTED);
    }
    char *text = mp_xasprintf("%.*s%s%s", (int)name_len, s, s[name_len] == '=' ? "=" : ": ",
                              MP_SECRET_REDACTED);
    json_t *j = json_string(text);
    free(text);
    return j;
}

void mp_report_redact_argv(json_t *list)
{
    json_t *prev = NULL; /* the word before, as it was */
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *item = json_incref(json_array_get(list, i));
        const char *s = json_string_value(item);
        json_t *r = s ? redact_word(s, json_string_value(prev)) : NULL;
        if (r) {
            json_array_set_new(list, i, r);
        }
        json_decref(prev);
        prev = item;
    }
    json_decref(prev);
}

static bool is_ref(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 &&
           (json_object_get(v, "from_env") || json_object_get(v, "from_file"));
}

void mp_report_redact_spec(json_t *j)
{
    if (json_is_array(j)) {
        mp_report_redact_argv(j);
        for (size_t i = 0; i < json_array_size(j); i++) {
            mp_report_redact_spec(json_array_get(j, i));
        }
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach (j, key, v) {
        if (mp_spec_secret_name(key) && !json_is_object(v) && !json_is_array(v) &&
            !json_is_null(v)) {
            json_object_set_new(j, key, json_string(MP_SECRET_REDACTED));
        } else if (!is_ref(v)) {
            mp_report_redact_spec(v);
        }
    }
}
