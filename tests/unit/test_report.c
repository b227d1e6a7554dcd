/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/report: Pareto fronts (pareto.c), from raw points and from a report's
 * trials; the capacity plan's limits (report.c); redaction of secret-looking values in shown specs
 * and argv (redact.c); trial notes, columns and CSV cells
 * (render.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "doc/doc.h"
#include "report/report.h"

static void pareto_flags(void **state)
{
    (void)state;
    /* throughput (max) vs p99 (min): (100, 50) dominates (90, 60); (200, 80) and (50, 10) are
     * trade-offs; (200, 90) is dominated by (200, 80); NaN never belongs. */
    const double x[] = {100, 90, 200, 50, 200, NAN};
    const double y[] = {50, 60, 80, 10, 90, 1};
    const bool want[] = {true, false, true, true, false, false};
    bool flags[6];
    mp_pareto_flags(x, y, 6, true, false, flags);
    for (size_t i = 0; i < 6; i++) {
        if (flags[i] != want[i]) {
            fail_msg("point %zu: flag %d, expected %d", i, flags[i], want[i]);
        }
    }
    /* Equal points do not dominate each other: both stay. */
    const double ex[] = {1, 1};
    const double ey[] = {2, 2};
    mp_pareto_flags(ex, ey, 2, true, true, flags);
    assert_true(flags[0] && flags[1]);
}

/* Replicas round up; a target outside the documented range, or one that would need more
 * replicas than a Deployment's int32 can hold, is refused rather than wrapped. */
static void capacity_plan_limits(void **state)
{
    (void)state;
    json_t *rep = json_loads("{\"best\":{\"metrics\":{\"throughput_rps\":0.5,"
                             "\"cost_per_hour\":2}}}",
                             0, NULL);
    assert_non_null(rep);
    struct mp_error err = {0};
    assert_int_equal(mp_report_capacity_plan(rep, 10, 0.2, &err), 0);
    const json_t *plan = json_object_get(rep, "capacity_plan");
    assert_int_equal(json_integer_value(json_object_get(plan, "replicas")), 24);
    assert_float_equal(json_real_value(json_object_get(plan, "cost_per_hour")), 48, 1e-9);
    assert_int_equal(mp_report_capacity_plan(rep, 1e22, 0.2, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "1e+12"));
    mp_error_clear(&err);
    /* 1e9 requests/s at 0.5 each, with 20 % headroom: 2.4e9 replicas > 2^31 - 1. */
    assert_int_equal(mp_report_capacity_plan(rep, 1e9, 0.2, &err), MP_EINVALID);
    assert_non_null(strstr(err.msg, "more than a Deployment can have"));
    mp_error_clear(&err);
    assert_int_equal(mp_report_capacity_plan(rep, 0, 0.2, &err), MP_EINVALID);
    json_decref(rep);
    /* The plan's price is rounded as cost_per_hour is: 8 pods of a 3-pod configuration at 0.3
     * per hour cost 0.8 (0.3 / 3 * 8 is 0.7999999999999999). */
    rep = json_loads("{\"best\":{\"pods\":3,\"metrics\":{\"throughput_rps\":45,"
                     "\"cost_per_hour\":0.3}}}",
                     0, NULL);
    assert_int_equal(mp_report_capacity_plan(rep, 100, 0.2, &err), 0);
    plan = json_object_get(rep, "capacity_plan");
    assert_int_equal(json_integer_value(json_object_get(plan, "replicas")), 8);
    assert_true(json_real_value(json_object_get(plan, "cost_per_hour")) == 0.8);
    json_decref(rep);
    /* No recommendation yet is no invalid input (show exited 2 where export exits 1), and the
     * error names the experiment; a best without a throughput is. */
    rep = json_loads("{\"name\":\"e1\",\"best\":null}", 0, NULL);
    mp_error_clear(&err);
    assert_int_equal(mp_report_capacity_plan(rep, 10, 0.2, &err), MP_ENOTFOUND);
    assert_string_equal(err.msg,
                        "experiment 'e1' has no recommended configuration yet, to plan for");
    json_decref(rep);
    /* One that ended without a recommendation has none to come: it said "yet" of a FAILED
     * experiment, none of whose trials succeeded. */
    rep = json_loads("{\"name\":\"e1\",\"state\":\"FAILED\",\"stop_reason\":\"none of the 5 "
                     "trials succeeded: no configuration to recommend\",\"best\":null}",
                     0, NULL);
    mp_error_clear(&err);
    assert_int_equal(mp_report_capacity_plan(rep, 10, 0.2, &err), MP_ENOTFOUND);
    assert_string_equal(err.msg, "experiment 'e1' has no recommended configuration, to plan for: "
                                 "it ended FAILED (none of the 5 trials succeeded: no "
                                 "configuration to recommend)");
    json_decref(rep);
    rep = json_loads("{\"name\":\"e1\",\"state\":\"INTERRUPTED\",\"best\":null}", 0, NULL);
    mp_error_clear(&err);
    assert_int_equal(mp_report_no_best(rep, "", &err), MP_ENOTFOUND);
    assert_string_equal(err.msg, "experiment 'e1' has no recommended configuration yet");
    json_decref(rep);
    rep = json_loads("{\"best\":{\"metrics\":{\"accuracy\":0.9}}}", 0, NULL);
    assert_int_equal(mp_report_capacity_plan(rep, 10, 0.2, &err), MP_EINVALID);
    json_decref(rep);
}

/* A confirmed recommendation is sized on its mean throughput over its measurements, not on the
 * search's figure (the luckiest one): 1000 requests/s with 20 % headroom on the search's 308.75
 * was 4 replicas; on the confirmed 260.65 it is 5. */
static void capacity_plan_confirmed_mean(void **state)
{
    (void)state;
    json_t *rep = json_loads("{\"best\":{\"metrics\":{\"throughput_rps\":308.75},"
                             "\"confirmed\":{\"mean\":8248.4,\"throughput_rps\":260.65}}}",
                             0, NULL);
    assert_non_null(rep);
    struct mp_error err = {0};
    assert_int_equal(mp_report_capacity_plan(rep, 1000, 0.2, &err), 0);
    const json_t *plan = json_object_get(rep, "capacity_plan");
    assert_float_equal(json_number_value(json_object_get(plan, "replica_rps")), 260.65, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(plan, "replicas")), 5);
    json_decref(rep);
}

/* A configuration measured as 3 pods (role instances) serves 450 requests/s in all, 150 per pod,
 * for 1.5 $/h in all: 900 requests/s with 20 % headroom is 8 pods at 0.5 $/h each (it was 3
 * "replicas" of 450, which a Deployment runs as 3 pods serving 450). */
static void capacity_plan_pods(void **state)
{
    (void)state;
    json_t *rep = json_loads("{\"best\":{\"pods\":3,\"metrics\":{\"throughput_rps\":450,"
                             "\"cost_per_hour\":1.5}}}",
                             0, NULL);
    assert_non_null(rep);
    struct mp_error err = {0};
    assert_int_equal(mp_report_capacity_plan(rep, 900, 0.2, &err), 0);
    const json_t *plan = json_object_get(rep, "capacity_plan");
    assert_float_equal(json_number_value(json_object_get(plan, "replica_rps")), 150, 1e-9);
    assert_int_equal(json_integer_value(json_object_get(plan, "replicas")), 8);
    assert_float_equal(json_number_value(json_object_get(plan, "cost_per_hour")), 4, 1e-9);
    json_decref(rep);
}

/* The replicas are those of the exact quotient: 100 requests/s with 10 % headroom on 10 each is
 * 11 replicas, though 100 * (1 + 0.1) / 10 is 11.000000000000002 in doubles (ceil: 12). */
static void capacity_plan_exact(void **state)
{
    (void)state;
    static const struct {
        double rps, target, headroom;
        json_int_t replicas;
    } cases[] = {
        {10, 100, 0.1, 11}, {40, 400, 0.1, 11}, {70, 700, 0.1, 11}, {10, 200, 0.1, 22},
        {10, 100, 0.2, 12}, {10, 101, 0.1, 12}, {40, 10, 0.2, 1},   {3, 10, 0, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[128];
        snprintf(text, sizeof(text), "{\"best\":{\"metrics\":{\"throughput_rps\":%g}}}",
                 cases[i].rps);
        json_t *rep = json_loads(text, 0, NULL);
        struct mp_error err = {0};
        assert_int_equal(mp_report_capacity_plan(rep, cases[i].target, cases[i].headroom, &err), 0);
        json_int_t got =
            json_integer_value(json_object_get(json_object_get(rep, "capacity_plan"), "replicas"));
        if (got != cases[i].replicas) {
            fail_msg("%g requests/s, headroom %g, %g each: %lld replicas, expected %lld",
                     cases[i].target, cases[i].headroom, cases[i].rps, (long long)got,
                     (long long)cases[i].replicas);
        }
        json_decref(rep);
    }
}

/* What print renders of the report in json. Owned. */
static char *rendered(void (*print)(FILE *, const json_t *), const char *json)
{
    json_t *rep = json_loads(json, 0, NULL);
    assert_non_null(rep);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    print(f, rep);
    fclose(f);
    json_decref(rep);
    return text;
}

/* A trial's note: the failure class and its reason, or the reason alone (a cancelled trial has
 * no class), never a reason after a bare ': '. */
static void trial_notes(void **state)
{
    (void)state;
    char *text =
        rendered(mp_report_print_trials,
                 "{\"parameters\":[\"cpu\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
                 "{\"number\":1,\"state\":\"CANCELLED\",\"failure\":null,\"reason\":\"stopped\","
                 "\"params\":{\"cpu\":1},\"metrics\":{}},"
                 "{\"number\":2,\"state\":\"FAILED\",\"failure\":\"OOM_KILLED\",\"reason\":\"oom\","
                 "\"params\":{\"cpu\":2},\"metrics\":{}},"
                 "{\"number\":3,\"state\":\"SUCCEEDED\",\"recommended\":true,"
                 "\"params\":{\"cpu\":3},\"metrics\":{}},"
                 "{\"number\":4,\"state\":\"SUCCEEDED\",\"recommended\":true,\"settled\":false,"
                 "\"params\":{\"cpu\":4},\"metrics\":{}}]}");
    /* Parts are separated, never followed, by "; " (a recommended trial read "recommended; "). */
    if (!strstr(text, "  1  stopped\n") || !strstr(text, "  2  OOM_KILLED: oom\n") ||
        !strstr(text, "  3  recommended\n") ||
        !strstr(text, "  4  recommended; unsettled measurement\n")) {
        fail_msg("notes: %s", text);
    }
    free(text);
    /* An unfinished experiment's best is the best so far, as its heading and export say (the
     * table said "recommended"). */
    text = rendered(mp_report_print_trials,
                    "{\"state\":\"INTERRUPTED\",\"parameters\":[\"cpu\"],"
                    "\"objective\":{\"metric\":\"t\"},\"trials\":["
                    "{\"number\":1,\"state\":\"SUCCEEDED\",\"recommended\":true,"
                    "\"params\":{\"cpu\":3},\"metrics\":{}}]}");
    if (!strstr(text, "  3  best so far\n") || !strstr(text, "*: best so far\n") ||
        strstr(text, "recommended")) {
        fail_msg("notes of an unfinished experiment: %s", text);
    }
    free(text);
}

/* An unsettled search measurement of the recommended trial is a warning unless the trial was
 * confirmed: then the confirmed figures stand and the note says the search's figure is the
 * unsettled one (it read as if the confirmed figures were uncertain). */
static void unsettled_recommendation(void **state)
{
    (void)state;
#define UNSETTLED_BEST(confirmed)                                                                  \
    "{\"objective\":{\"metric\":\"t\",\"direction\":\"maximize\"},\"best\":{\"number\":2,"         \
    "\"settled\":false,\"params\":{\"cpu\":1},\"metrics\":{\"t\":10},\"search_value\":"            \
    "10" confirmed "}}"
    char *text = rendered(mp_report_print_recommendation, UNSETTLED_BEST(""));
    if (!strstr(text, "Warning: the search's measurement below did not settle; its figures are "
                      "uncertain.\nMeasured in the search (trial 2):")) {
        fail_msg("unconfirmed: %s", text);
    }
    free(text);
    text =
        rendered(mp_report_print_recommendation,
                 UNSETTLED_BEST(",\"confirmed\":{\"runs\":5,\"passes\":5,\"mean\":9,\"stddev\":0.5,"
                                "\"min\":8.5,\"max\":9.6,\"interval\":0.02}"));
    if (!strstr(text, "Confirmed over 5 measurements") ||
        !strstr(text, "Note: the search's measurement below did not settle; the confirmed figures "
                      "above do not depend on it.\nMeasured in the search (trial 2):") ||
        strstr(text, "Warning")) {
        fail_msg("confirmed: %s", text);
    }
    free(text);
    /* A confirmed mean whose interval stayed wider than max_uncertainty (max_runs reached) was
     * shown as any other: the warning says the measurements disagree. */
#define WIDE_BEST(interval)                                                                        \
    "{\"objective\":{\"metric\":\"t\",\"direction\":\"maximize\"},\"confirmation\":{\"state\":"    \
    "\"done\",\"max_uncertainty\":0.05},\"best\":{\"number\":2,\"settled\":true,\"params\":{},"    \
    "\"metrics\":{},\"search_value\":10,\"confirmed\":{\"runs\":5,\"passes\":5,\"mean\":9,"        \
    "\"stddev\":2,\"min\":7,\"max\":12,\"interval\":" interval "}}}"
    text = rendered(mp_report_print_recommendation, WIDE_BEST("0.27"));
    if (!strstr(text, "Warning: the measurements disagree: the 95 % interval of the mean is wider "
                      "than algorithm.confirm.max_uncertainty (+-5.0 %)")) {
        fail_msg("wide interval: %s", text);
    }
    free(text);
    text = rendered(mp_report_print_recommendation, WIDE_BEST("0.04"));
    if (strstr(text, "Warning")) {
        fail_msg("narrow interval: %s", text);
    }
    free(text);
#undef WIDE_BEST
#undef UNSETTLED_BEST
    /* Without a best: none met the constraints, or none has finished (a run interrupted before
     * its first trial ended said the former). */
    text = rendered(mp_report_print_recommendation,
                    "{\"best\":null,\"counts\":{\"succeeded\":0,\"failed\":0,\"running\":3}}");
    assert_string_equal(text, "No recommendation yet: no trial has finished.\n");
    free(text);
    text = rendered(mp_report_print_recommendation,
                    "{\"best\":null,\"counts\":{\"succeeded\":2,\"failed\":4}}");
    assert_string_equal(text, "No recommendation: no trial met the objective and constraints.\n");
    free(text);
    /* Every trial failed (a wrong port: each one STARTUP_TIMEOUT): no constraint was the cause,
     * though it said "no trial met the objective and constraints". */
    text = rendered(mp_report_print_recommendation,
                    "{\"best\":null,\"counts\":{\"succeeded\":0,\"failed\":4}}");
    assert_string_equal(text,
                        "No recommendation: every trial failed; 'morphling show' gives each one's "
                        "reason.\n");
    free(text);
    /* A search that ended before any trial (its configurations priced out) has none to come: it
     * said "yet". */
    text = rendered(mp_report_print_recommendation,
                    "{\"state\":\"FAILED\",\"best\":null,\"counts\":{\"succeeded\":0,"
                    "\"failed\":0}}");
    assert_string_equal(text, "No recommendation: the search ended before any trial ran.\n");
    free(text);
}

/* A parameter's column is as wide as its longest value, so the columns stay aligned. */
static void trial_columns(void **state)
{
    (void)state;
    char *text = rendered(
        mp_report_print_trials,
        "{\"parameters\":[\"m\",\"cpu\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
        "{\"number\":1,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"resnet50\",\"cpu\":0.5},"
        "\"metrics\":{\"t\":10}},"
        "{\"number\":2,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"a\",\"cpu\":12.25},"
        "\"metrics\":{\"t\":20}}]}");
    if (!strstr(text, "objective         m    cpu  note\n") ||
        !strstr(text, "10)  resnet50    0.5\n") || !strstr(text, "20)         a  12.25\n")) {
        fail_msg("columns: %s", text);
    }
    free(text);
}

/* A column of Chinese values stays aligned: each character takes two terminal columns (it took
 * one, and the column ran two past the others). */
static void wide_columns(void **state)
{
    (void)state;
    char *text =
        rendered(mp_report_print_trials,
                 "{\"parameters\":[\"m\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
                 "{\"number\":1,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"\u4e2d\u6587\"},"
                 "\"metrics\":{\"t\":1}},"
                 "{\"number\":2,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"abcde\"},"
                 "\"metrics\":{\"t\":2}}]}");
    if (!strstr(text, "objective      m  note\n") ||
        !strstr(text, "(1)   \xe4\xb8\xad\xe6\x96\x87\n") || !strstr(text, "(2)  abcde\n")) {
        fail_msg("wide: %s", text);
    }
    free(text);
}

/* list's columns stay under their headings whatever the widths of names and trial counts: a
 * 63-character name, or an exhausted grid's "768/2000", pushed the rest of its row out of line. */
static void list_columns(void **state)
{
    (void)state;
    char *text = rendered(
        mp_report_print_list,
        "[{\"id\":1,\"name\":\"a23456789012345678901234567890123456789012345678901234567890123\","
        "\"state\":\"SUCCEEDED\",\"algorithm\":\"grid\",\"max_trials\":2000,"
        "\"counts\":{\"total\":768,\"running\":0,\"pending\":0},\"best_value\":1.5,"
        "\"created_at\":\"2026-12-07T05:10:39Z\"},"
        "{\"id\":2,\"name\":\"b\",\"state\":\"RUNNING\",\"algorithm\":\"bo\",\"max_trials\":4,"
        "\"counts\":{\"total\":2,\"running\":1,\"pending\":0},\"best_value\":null,"
        "\"created_at\":\"2026-12-07T05:11:00Z\"}]");
    char *lines[3] = {text, NULL, NULL};
    for (int i = 1; i < 3; i++) {
        char *nl = lines[i - 1] ? strchr(lines[i - 1], '\n') : NULL;
        lines[i] = nl ? nl + 1 : NULL;
    }
    if (!lines[2]) {
        fail_msg("list: %s", text);
    }
    /* Where "state" and "created" begin in the header, each row has its value. */
    const char *head = lines[0];
    size_t state_at = (size_t)(strstr(head, "state") - head);
    size_t created_at = (size_t)(strstr(head, "created") - head);
    size_t trials_end = (size_t)(strstr(head, "trials") - head) + strlen("trials");
    const char *want[2][3] = {{"SUCCEEDED", "2026-12-07T05:10:39Z", "768/2000"},
                              {"RUNNING", "2026-12-07T05:11:00Z", "1/4"}};
    for (int r = 0; r < 2; r++) {
        const char *row = lines[r + 1];
        if (strncmp(row + state_at, want[r][0], strlen(want[r][0])) != 0 ||
            strncmp(row + created_at, want[r][1], strlen(want[r][1])) != 0 ||
            strncmp(row + trials_end - strlen(want[r][2]), want[r][2], strlen(want[r][2])) != 0) {
            fail_msg("list row %d out of line:\n%s", r + 1, text);
        }
    }
    free(text);
}

/* Stored text reaches the terminal escaped: a crashed service's colored log in a reason, a
 * categorical value with a bidirectional override or a zero-width space (they went out raw: the
 * escape sequences ran, and the override reversed the rest of the line). A reason keeps its
 * lines; the columns stay aligned on the escaped text. */
static void terminal_text(void **state)
{
    (void)state;
    char *text =
        rendered(mp_report_print_trials,
                 "{\"parameters\":[\"m\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
                 "{\"number\":1,\"state\":\"FAILED\",\"failure\":\"CRASHED\","
                 "\"reason\":\"stderr ends with:\\n\\u001b[31mboom\\u001b[0m\\u009b2J\","
                 "\"params\":{\"m\":\"\\u202eevil\"},\"metrics\":{}},"
                 "{\"number\":2,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"zw\\u200bsp\\u2066\"},"
                 "\"metrics\":{\"t\":1}},"
                 "{\"number\":3,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"a\\tb\\nc\"},"
                 "\"metrics\":{\"t\":2}}]}");
    if (!strstr(text, "  \\u202eevil  CRASHED: stderr ends with:\n"
                      "\\x1b[31mboom\\x1b[0m\\u009b2J\n") ||
        !strstr(text, "  zw\\u200bsp\\u2066\n") || !strstr(text, "     a\\x09b\\x0ac\n") ||
        strchr(text, '\x1b') || strstr(text, "\xe2\x80\xae") || strstr(text, "\xe2\x80\x8b")) {
        fail_msg("trials: %s", text);
    }
    free(text);
    /* A column of accented values stays aligned: a character is one column, whatever its bytes. */
    text = rendered(mp_report_print_trials,
                    "{\"parameters\":[\"m\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
                    "{\"number\":1,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"\u00e9t\u00e9\"},"
                    "\"metrics\":{\"t\":1}},"
                    "{\"number\":2,\"state\":\"SUCCEEDED\",\"params\":{\"m\":\"abc\"},"
                    "\"metrics\":{\"t\":2}}]}");
    if (!strstr(text, "objective    m  note\n") || !strstr(text, "(1)  \xc3\xa9t\xc3\xa9\n") ||
        !strstr(text, "(2)  abc\n")) {
        fail_msg("accented: %s", text);
    }
    free(text);
    text = rendered(mp_report_print_recommendation,
                    "{\"objective\":{\"metric\":\"t\",\"direction\":\"maximize\"},"
                    "\"best\":{\"number\":2,\"params\":{\"m\":\"\\u001b]0;x\\u0007\"},"
                    "\"metrics\":{\"t\":1},\"search_value\":1}}");
    if (!strstr(text, "  m                          \\x1b]0;x\\x07\n")) {
        fail_msg("recommendation: %s", text);
    }
    free(text);
}

/* CSV cells: RFC 4180 quoting; text a spreadsheet would run as a formula starts with an
 * apostrophe, while numbers (negative ones too) and a lone "-" stay as they are. A metric that is
 * not finite (null) is an empty cell, as a surface reads one not measured (it was "-", which the
 * replay of the export refused: expected a number). */
static void csv_cells(void **state)
{
    (void)state;
    char *text = rendered(
        mp_report_write_csv,
        "{\"parameters\":[\"@p\",\"q\"],\"objective\":{\"metric\":\"t\"},\"trials\":["
        "{\"number\":1,\"state\":\"SUCCEEDED\",\"failure\":null,"
        "\"params\":{\"@p\":\"=HYPERLINK(\\\"x\\\")\",\"q\":\"a,b\"},\"metrics\":{\"t\":-2.5}},"
        "{\"number\":2,\"state\":\"SUCCEEDED\",\"failure\":null,"
        "\"params\":{\"@p\":\"-3\",\"q\":\"+1+2\"},\"metrics\":{\"t\":null}},"
        "{\"number\":3,\"state\":\"SUCCEEDED\",\"failure\":null,"
        "\"params\":{\"@p\":\"-\",\"q\":\"\\tx\"},\"metrics\":{\"t\":1}}]}");
    assert_string_equal(text, "number,state,failure,\"'@p\",q,t\n"
                              "1,SUCCEEDED,,\"'=HYPERLINK(\"\"x\"\")\",\"a,b\",-2.5\n"
                              "2,SUCCEEDED,,-3,\"'+1+2\",\n"
                              "3,SUCCEEDED,,-,\"'\tx\",1\n");
    free(text);
}

static void pareto_from_report(void **state)
{
    (void)state;
    json_t *rep =
        json_loads("{\"trials\": ["
                   "{\"number\":1,\"state\":\"SUCCEEDED\",\"metrics\":{\"t\":10,\"p\":5}},"
                   "{\"number\":2,\"state\":\"FAILED\",\"metrics\":{\"t\":99,\"p\":1}},"
                   "{\"number\":3,\"state\":\"SUCCEEDED\",\"metrics\":{\"t\":20,\"p\":9}},"
                   "{\"number\":4,\"state\":\"SUCCEEDED\",\"metrics\":{\"t\":5,\"p\":9}},"
                   "{\"number\":5,\"state\":\"SUCCEEDED\",\"metrics\":{\"t\":30}}]}",
                   0, NULL);
    assert_non_null(rep);
    json_t *front = mp_report_pareto(rep, "t", true, "p", false);
    char *text = json_dumps(front, JSON_COMPACT);
    assert_string_equal(text, "[1,3]");
    free(text);
    json_decref(front);
    front = mp_report_pareto(rep, "absent", true, "p", false);
    assert_int_equal(json_array_size(front), 0);
    json_decref(front);
    json_decref(rep);
}

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
        cmocka_unit_test(pareto_flags),
        cmocka_unit_test(pareto_from_report),
        cmocka_unit_test(capacity_plan_limits),
        cmocka_unit_test(capacity_plan_exact),
        cmocka_unit_test(capacity_plan_confirmed_mean),
        cmocka_unit_test(capacity_plan_pods),
        cmocka_unit_test(trial_notes),
        cmocka_unit_test(csv_cells),
        cmocka_unit_test(trial_columns),
        cmocka_unit_test(wide_columns),
        cmocka_unit_test(list_columns),
        cmocka_unit_test(terminal_text),
        cmocka_unit_test(unsettled_recommendation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
