/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests for src/surface: which columns are parameters and which the objective, for a trial
 * export, a surface with morphling's metrics, a plain table, named columns, and the errors when
 * the columns cannot be told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "surface/surface.h"
#include "trial/trial.h"

static struct mp_surface *parse(const char *text)
{
    struct mp_surface *s = NULL;
    struct mp_error err = {0};
    if (mp_surface_parse(text, strlen(text), "s.csv", &s, &err) != 0) {
        fail_msg("parse: %s", err.msg);
    }
    return s;
}

/* "a,b" from the chosen parameter columns, and the objective's name. */
static void names(const struct mp_surface *s, const struct mp_surface_columns *c, char *buf,
                  size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < c->n_params; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, "%s%s", i ? "," : "", s->header[c->params[i]]);
    }
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, " -> %s", s->header[c->objective]);
}

static void expect(const char *csv, const char *const *params, size_t n, const char *objective,
                   const char *want)
{
    struct mp_surface *s = parse(csv);
    struct mp_surface_columns c;
    struct mp_error err = {0};
    char got[256];
    int rc = mp_surface_columns(s, params, n, objective, &c, &err);
    if (rc != 0) {
        fail_msg("columns of [%s]: %s", csv, err.msg);
    }
    names(s, &c, got, sizeof(got));
    assert_string_equal(got, want);
    mp_surface_columns_release(&c);
    mp_surface_free(s);
}

static void expect_error(const char *csv, const char *const *params, size_t n,
                         const char *objective, const char *needle)
{
    struct mp_surface *s = parse(csv);
    struct mp_surface_columns c;
    struct mp_error err = {0};
    assert_int_equal(mp_surface_columns(s, params, n, objective, &c, &err), MP_EINVALID);
    if (!strstr(err.msg, needle)) {
        fail_msg("[%s] not in [%s]", needle, err.msg);
    }
    mp_surface_free(s);
}

static void a_trial_export_is_recognised(void **state)
{
    (void)state;
    const char *csv = "number,state,failure,cpu,workers,throughput_rps,p99_ms,"
                      "throughput_per_cost\n"
                      "1,SUCCEEDED,,0.5,1,100,20,2000\n"
                      "2,FAILED,SLO_VIOLATED,1,1,150,300,1500\n"
                      "3,CANCELLED,,1,2,,,\n"
                      "4,FAILED,CRASHED,2,2,,,\n";
    struct mp_surface *s = parse(csv);
    assert_true(s->is_export);
    assert_int_equal(s->n_rows, 3); /* the CANCELLED row measured nothing */
    mp_surface_free(s);
    expect(csv, NULL, 0, NULL, "cpu,workers -> throughput_per_cost");
    expect(csv, NULL, 0, "p99_ms", "cpu,workers -> p99_ms");
    const char *const named[] = {"workers"};
    expect(csv, named, 1, "throughput_rps", "workers -> throughput_rps");
}

static void metrics_bound_the_parameters(void **state)
{
    (void)state;
    /* examples/surfaces/synthetic-classifier.csv: parameters, metrics, failure. */
    const char *csv = "cpu,memory,batch,throughput_rps,p99_ms,error_rate,failure\n"
                      "0.5,512,1,63.27,44.45,0,\n"
                      "1,512,1,,,,OOM_KILLED\n";
    expect(csv, NULL, 0, NULL, "cpu,memory,batch -> throughput_rps");
    /* A plain table without morphling's metrics: every column but the last. */
    expect("share,mode,value,score\n0.1,fast,3,0.5\n0.2,slow,4,0.7\n", NULL, 0, NULL,
           "share,mode,value -> score");
    expect("a,b,value,failure\n1,2,3,\n2,2,,CRASHED\n", NULL, 0, NULL, "a,b -> value");
}

static void columns_that_cannot_be_told_apart_are_errors(void **state)
{
    (void)state;
    /* An export whose metrics morphling does not know. */
    expect_error("number,state,failure,a,b,score\n1,SUCCEEDED,,1,2,3\n", NULL, 0, "score",
                 "name the parameters with --params");
    /* A metric taken for a parameter: its empty cell in a failed row gives it away. */
    expect_error("a,latency,score,failure\n1,5,3,\n2,,,CRASHED\n", NULL, 0, "score",
                 "parameter column 'latency' is empty: it looks like a metric");
    const char *const typo[] = {"cpux"};
    expect_error("cpu,score\n1,2\n", typo, 1, NULL,
                 "no parameter column 'cpux'; did you mean 'cpu'?");
    expect_error("cpu,score\n1,2\n", NULL, 0, "scor", "did you mean 'score'?");
    expect_error("cpu,mode\n1,a\n", NULL, 0, "mode",
                 "s.csv:2: objective column 'mode': expected a number, got \"a\"");
    expect_error("cpu,score,failure\n1,2,CRASHED\n", NULL, 0, NULL, "has no value on any row");
    const char *const twice[] = {"cpu", "cpu"};
    expect_error("cpu,score\n1,2\n", twice, 2, NULL, "named twice");
    /* A trial export's number, state and failure are no metrics (number replayed as failed
     * trials only). */
    const char *const export_csv = "number,state,failure,cpu,throughput_rps\n1,SUCCEEDED,,1,5\n";
    expect_error(export_csv, NULL, 0, "number", "column 'number' of a trial export is no metric");
    expect_error(export_csv, NULL, 0, "failure", "column 'failure' of a trial export is no metric");
    const char *const objective[] = {"score"};
    expect_error("cpu,score\n1,2\n", objective, 1, NULL, "cannot be a parameter");
}

static void metric_units(void **state)
{
    (void)state;
    assert_string_equal(mp_metric_unit("throughput_rps"), "req/s");
    assert_string_equal(mp_metric_unit("p99_ms"), "ms");
    assert_string_equal(mp_metric_unit("p999_ms_upper"), "ms");
    assert_string_equal(mp_metric_unit("latency_mean_us"), "us");
    assert_string_equal(mp_metric_unit("latency_p50_us_upper"), "us");
    assert_string_equal(mp_metric_unit("cost_per_million_requests"), "$");
    assert_null(mp_metric_unit("p98_ms"));
    assert_null(mp_metric_unit("p99_msx"));
    assert_null(mp_metric_unit("latency_p99_ms"));
    assert_null(mp_metric_unit("score"));
}

/* Cells are numbers by the spec's rule (decimal only): "0x10" is text, so its column is
 * categorical, while 1e-3, .5, -2 and 1E6 are numbers. */
static void numbers_are_decimal(void **state)
{
    (void)state;
    struct mp_surface *s = parse("a,b,y\n0x10,1e-3,1\n2,.5,2\n3,-2,3\n4,1E6,4\n");
    assert_false(s->numeric[0]);
    assert_true(s->numeric[1]);
    assert_true(s->numbers[1 * s->n_cols + 1] == 0.5);
    assert_true(s->numbers[3 * s->n_cols + 1] == 1e6);
    mp_surface_free(s);
}

static void expect_parse_error(const char *csv, const char *want)
{
    struct mp_surface *s = NULL;
    struct mp_error err = {0};
    int rc = mp_surface_parse(csv, strlen(csv), "s.csv", &s, &err);
    if (rc == 0 || !strstr(err.msg, want)) {
        fail_msg("[%s]: rc %d, error [%s] does not contain [%s]", csv, rc, err.msg, want);
    }
    mp_surface_free(s);
}

/* What the reader refuses, naming the line (and column where it can), and what it forgives: a
 * byte-order mark, blank lines (rows keep their file line numbers). */
static void reading_checks_the_text(void **state)
{
    (void)state;
    struct mp_surface *s = parse("\xef\xbb\xbfx,throughput_rps\n1,10\n\n2,20\n");
    assert_string_equal(s->header[0], "x");
    assert_int_equal(mp_surface_column(s, "x"), 0);
    assert_int_equal(s->n_rows, 2);
    assert_int_equal(s->lines[0], 2);
    assert_int_equal(s->lines[1], 4);
    assert_int_equal(s->header_col[1], 3);
    mp_surface_free(s);
    expect_parse_error("a,\xff\n1,5\n", "s.csv:1:3: not valid UTF-8 text (byte 0xff)");
    expect_parse_error("a,b\n1,caf\xc3\n", "s.csv:2:6: not valid UTF-8");
    expect_parse_error("a,b\n1,\xc0\xaf\n", "s.csv:2:3: not valid UTF-8");     /* overlong '/' */
    expect_parse_error("a,b\n1,\xed\xa0\x80\n", "s.csv:2:3: not valid UTF-8"); /* surrogate */
    s = parse("a,b\n1,caf\xc3\xa9 \xf0\x9f\x9a\x80\n");
    assert_string_equal(s->cells[1], "caf\xc3\xa9 \xf0\x9f\x9a\x80");
    mp_surface_free(s);
    /* Blanks around a field are dropped, also around quotes; inside quotes they are the value
     * (a quoted " " was read as an empty cell, and `a, "x"` was a quote inside a field). */
    s = parse(" a , \"b c\" \n 1 ,\" \"\n2,\t\"x,y\"\t\n");
    assert_string_equal(s->header[0], "a");
    assert_string_equal(s->header[1], "b c");
    assert_string_equal(s->cells[0], "1");
    assert_string_equal(s->cells[1], " ");
    assert_string_equal(s->cells[3], "x,y");
    mp_surface_free(s);
    expect_parse_error("a,b\n1, \"x\" y\n", "s.csv:2:8: text after a closing quote");
    /* Line ends are LF or CRLF: a file of CR line ends read as one header line whose names held
     * the rows ("b\r1"), and a replay said the objective column '4' had no value. */
    expect_parse_error("a,b\r1,2\r3,4\r", "s.csv:1:4: carriage return inside a line");
    expect_parse_error("a,b\r\n1,\"x\ry\"\r\n", "s.csv:2:5: carriage return inside a line");
    /* The header's and the rows' shape errors name the column too. */
    expect_parse_error("a, b ,a\n1,2,3\n",
                       "s.csv:1:7: duplicate column \"a\" (column 1 is one too)");
    expect_parse_error("a,,b\n1,2,3\n", "s.csv:1:3: column 2 has an empty name");
    expect_parse_error("a,b\n1,2\n1,2, 3,4\n",
                       "s.csv:3:5: expected 2 fields like the header, got 4");
    expect_parse_error("a,b,c\n1,2\n", "s.csv:2:4: expected 3 fields like the header, got 2");
    s = parse("a,b\r\n1,2\r\n");
    assert_string_equal(s->cells[1], "2");
    mp_surface_free(s);
}

/* A failure cell is empty or a failure class; other text is an error listing the classes. */
static void failure_cells_name_a_class(void **state)
{
    (void)state;
    struct mp_surface *s = parse("x,y,failure\n1,10,OOM_KILLED\n2,,\n");
    assert_string_equal(s->cells[2], "OOM_KILLED");
    mp_surface_free(s);
    expect_parse_error("x,y,failure\n1,10,\n\n2,20,BOGUS\n",
                       "s.csv:4: column 'failure': unknown failure class \"BOGUS\" (expected "
                       "STARTUP_TIMEOUT, CRASHED, OOM_KILLED,");
    expect_parse_error("x,y,failure\n1,10,NONE\n", "unknown failure class \"NONE\"");
    expect_parse_error("x,y,failure\n1,10,oom_killed\n", "or nothing for a row that succeeded");
    /* A trial export's unmeasured rows are dropped before the check; line numbers stay. */
    s = parse("number,state,failure,x,throughput_rps\n1,RUNNING,,1,\n2,FAILED,CRASHED,2,\n"
              "3,SUCCEEDED,,3,7\n");
    assert_int_equal(s->n_rows, 2);
    assert_int_equal(s->lines[0], 3);
    mp_surface_free(s);
    /* An export's state and failure class agree: a FAILED row without a class replayed as a
     * success (its value the surface's optimum), a SUCCEEDED one with a class as a failure. */
    expect_parse_error("number,state,failure,x,throughput_rps\n1,SUCCEEDED,,1,5\n"
                       "2,FAILED,,2,9\n",
                       "s.csv:3: column 'failure': empty, but the state is FAILED (a failed "
                       "trial names its failure class)");
    expect_parse_error("number,state,failure,x,throughput_rps\n1,SUCCEEDED,SLO_VIOLATED,1,5\n",
                       "s.csv:2: column 'failure': SLO_VIOLATED, but the state is SUCCEEDED");
    /* Trial states outside an export (its first columns moved, or 'failure' left out) were
     * ignored: the FAILED rows replayed as successes. Another text column of that name is no
     * trial's state. */
    expect_parse_error("x,state,throughput_rps\n1,SUCCEEDED,5\n2,FAILED,9\n",
                       "s.csv:2: column 'state': SUCCEEDED, a trial's state, in a file that is "
                       "not a trial export");
    expect_parse_error("x,state,failure,throughput_rps\n1,,,5\n2,FAILED,CRASHED,\n",
                       "s.csv:3: column 'state': FAILED");
    s = parse("x,state,throughput_rps\n1,CA,5\n2,NY,9\n");
    assert_int_equal(s->n_rows, 2);
    mp_surface_free(s);
}

/* A line break inside a quoted field (RFC 4180; a trial export writes a value with one) is part
 * of the field, and the rows after it keep their line numbers (it was "unterminated quoted
 * field"). */
static void quoted_line_breaks(void **state)
{
    (void)state;
    struct mp_surface *s = parse("x,y\n\"a\nb \"\"c\"\"\",1\nd,2\n");
    assert_int_equal(s->n_rows, 2);
    assert_string_equal(s->cells[0], "a\nb \"c\"");
    assert_int_equal(s->lines[0], 2);
    assert_int_equal(s->lines[1], 4);
    mp_surface_free(s);
    expect_parse_error("x,y\n1,2\n\"a\n,3\n", "s.csv:3:1: unterminated quoted field");
    expect_parse_error("x,y\n\"a\nb\",1\nd\",2\n", "s.csv:4:2: quote inside an unquoted field");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_trial_export_is_recognised),
        cmocka_unit_test(metrics_bound_the_parameters),
        cmocka_unit_test(columns_that_cannot_be_told_apart_are_errors),
        cmocka_unit_test(metric_units),
        cmocka_unit_test(numbers_are_decimal),
        cmocka_unit_test(reading_checks_the_text),
        cmocka_unit_test(failure_cells_name_a_class),
        cmocka_unit_test(quoted_line_breaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
