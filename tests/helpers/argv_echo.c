/* SPDX-License-Identifier: Apache-2.0 */
/* Test helper: prints its argv and environment as one JSON object
 * {"argv": [...], "env": ["NAME=value", ...], "cwd": "..."} on stdout, so tests can compare
 * what a child received with what was intended, byte for byte. With ARGV_ECHO_OUT set, writes
 * the JSON to that file instead. Exits with ARGV_ECHO_EXIT (default 0). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
    json_t *o = json_object();
    json_t *a = json_array();
    for (int i = 0; i < argc; i++) {
        json_array_append_new(a, json_stringn(argv[i], strlen(argv[i])));
    }
    json_t *e = json_array();
    for (char **p = environ; *p; p++) {
        json_array_append_new(e, json_stringn(*p, strlen(*p)));
    }
    char cwd[4096];
    json_object_set_new(o, "argv", a);
    json_object_set_new(o, "env", e);
    json_object_set_new(o, "cwd", json_string(getcwd(cwd, sizeof(cwd)) ? cwd : ""));
    const char *out = getenv("ARGV_ECHO_OUT");
    FILE *f = out ? fopen(out, "w") : stdout;
    if (!f) {
        perror(out);
        return 1;
    }
    json_dumpf(o, f, JSON_COMPACT | JSON_ENSURE_ASCII);
    fputc('\n', f);
    if (f != stdout) {
        fclose(f);
    }
    fflush(stdout);
    json_decref(o);
    const char *code = getenv("ARGV_ECHO_EXIT");
    return code ? (int)strtol(code, NULL, 10) : 0;
}
