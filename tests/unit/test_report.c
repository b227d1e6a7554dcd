/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/report: redaction of secret-looking values in shown specs and argv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"
#include "report/report.h"

static void expect_json(json_t *j, const char *want)
{
    char *text = mp_json_dumps(j, 0);
    if (strcmp(text, want) != 0) {
        fail_msg("got  %s\nwant %s", text, want);
    }
    free(text);
}

/* Issue 13: literal values of secret-looking keys never come back from the API or exports;
 * references and ordinary values do. */
static void redacts_secret_looking_values(void **state)
{
    (void)state;
    json_t *spec = json_loads(
        "{\"name\":\"t\",\"service\":{\"command\":[\"srv\",\"--token\",\"abc\",\"--api-key=abc\","
        "\"--port\",\"{port}\",\"-v\"],\"env\":{\"API_TOKEN\":\"abc\",\"DB_PASSWORD\":42,"
        "\"REF_KEY\":{\"from_env\":\"K\"},\"OMP_NUM_THREADS\":\"4\"}},"
        "\"runner\":{\"load\":{\"headers\":[\"Authorization: Bearer abc\",\"X-Trace: 1\","
        "{\"X-Api-Key\":\"abc\"},{\"Cookie\":{\"from_file\":\"c.txt\"}}]}},"
        "\"constraints\":[\"p99_ms <= 150\"]}",
        0, NULL);
    assert_non_null(spec);
    mp_report_redact_spec(spec);
    expect_json(spec,
                "{\"name\":\"t\",\"service\":{\"command\":[\"srv\",\"--token\",\"<redacted>\","
                "\"--api-key=<redacted>\",\"--port\",\"{port}\",\"-v\"],\"env\":{"
                "\"API_TOKEN\":\"<redacted>\",\"DB_PASSWORD\":\"<redacted>\",\"REF_KEY\":{"
                "\"from_env\":\"K\"},\"OMP_NUM_THREADS\":\"4\"}},\"runner\":{\"load\":{"
                "\"headers\":[\"Authorization: <redacted>\",\"X-Trace: 1\",{\"X-Api-Key\":"
                "\"<redacted>\"},{\"Cookie\":{\"from_file\":\"c.txt\"}}]}},\"constraints\":["
                "\"p99_ms <= 150\"]}");
    json_decref(spec);

    json_t *argv = json_loads("[\"curl\",\"-H\",\"Authorization: Bearer x\",\"https://h/?token=x\","
                              "\"--password\",\"--next\",\"PLAIN=1\"]",
                              0, NULL);
    mp_report_redact_argv(argv);
    expect_json(argv,
                "[\"curl\",\"-H\",\"Authorization: <redacted>\",\"https://h/?token=<redacted>\","
                "\"--password\",\"--next\",\"PLAIN=1\"]");
    json_decref(argv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redacts_secret_looking_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
