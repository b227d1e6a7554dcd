/* SPDX-License-Identifier: Apache-2.0 */
/* Entry point of the example inference server: reads settings from MP_SERVER_* environment
 * variables, then from flags (which win), and runs the server. */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"

#ifndef INFER_DEFAULT_MODEL_DIR
#define INFER_DEFAULT_MODEL_DIR "."
#endif
#define OCR_DEFAULT_MODEL_DIR "/usr/share/tesseract-ocr/5/tessdata"

enum flag_type { FLAG_INT, FLAG_STR, FLAG_MODEL };

struct flag {
    const char *name; /* long flag without "--"; the variable is MP_SERVER_<NAME> */
    enum flag_type type;
    size_t offset; /* into struct server_config */
    int64_t min, max;
    const char *help;
};

#define CFG(field) offsetof(struct server_config, field)

static const struct flag flags[] = {
    {"model", FLAG_MODEL, CFG(model), 0, 0, "fmnist (XGBoost) or ocr (Tesseract)"},
    {"model-dir", FLAG_STR, CFG(model_dir), 0, 0,
     "fmnist: directory of fmnist.ubj; ocr: tessdata directory"},
    {"workers", FLAG_INT, CFG(workers), 1, 256, "worker threads, one model instance each (1)"},
    {"omp-threads", FLAG_INT, CFG(omp_threads), 1, 256,
     "threads inside one inference: XGBoost nthread / OMP_THREAD_LIMIT\n"
     "                       (OMP_NUM_THREADS, else 1)"},
    {"max-batch", FLAG_INT, CFG(max_batch), 1, 1024, "largest batch a worker takes (1)"},
    {"batch-timeout-us", FLAG_INT, CFG(batch_timeout_us), 0, 10000000,
     "longest wait for a batch to fill, microseconds (0)"},
    {"queue-limit", FLAG_INT, CFG(queue_limit), 1, 1000000,
     "requests waiting for a worker before 503 (64)"},
    {"host", FLAG_STR, CFG(host), 0, 0, "IPv4 address to listen on (127.0.0.1)"},
    {"port", FLAG_INT, CFG(port), 0, 65535, "TCP port; 0 picks one (8500)"},
    {"listen-fd", FLAG_INT, CFG(listen_fd), -1, 65535,
     "serve an inherited listening socket instead of --port (-1)"},
    {"max-body-bytes", FLAG_INT, CFG(max_body_bytes), 1024, 1 << 30,
     "largest request body (16777216)"},
    {"nonce", FLAG_STR, CFG(nonce), 0, 0, "echoed in X-Morphling-Nonce on /healthz"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: inference-server [--FLAG VALUE]...\n"
               "Every flag can also be set as MP_SERVER_<FLAG> (upper case, '-' -> '_').\n");
    for (size_t i = 0; i < MP_ARRAY_LEN(flags); i++) {
        fprintf(f, "  --%-18s %s\n", flags[i].name, flags[i].help);
    }
}

/* Stores value into the field of flag f; prints why on failure. */
static int set_flag(struct server_config *cfg, const struct flag *f, const char *value,
                    const char *from)
{
    char *field = (char *)cfg + f->offset;
    if (f->type == FLAG_STR) {
        *(const char **)(void *)field = value;
        return 0;
    }
    if (f->type == FLAG_MODEL) {
        if (model_kind_parse(value, (enum model_kind *)(void *)field) != 0) {
            fprintf(stderr, "inference-server: %s: '%s' is not fmnist or ocr\n", from, value);
            return -1;
        }
        return 0;
    }
    int64_t v = 0;
    if (mp_parse_int64(value, &v) != 0 || v < f->min || v > f->max) {
        fprintf(stderr, "inference-server: %s: '%s' is not an integer in %lld..%lld\n", from, value,
                (long long)f->min, (long long)f->max);
        return -1;
    }
    *(int64_t *)(void *)field = v;
    return 0;
}

static int read_env(struct server_config *cfg)
{
    for (size_t i = 0; i < MP_ARRAY_LEN(flags); i++) {
        char name[64] = "MP_SERVER_";
        size_t n = strlen(name);
        for (const char *p = flags[i].name; *p != 0 && n + 1 < sizeof(name); p++) {
            name[n++] = *p == '-' ? '_' : (char)(*p - ('a' <= *p && *p <= 'z' ? 32 : 0));
        }
        name[n] = 0;
        const char *v = getenv(name);
        if (v != NULL && set_flag(cfg, &flags[i], v, name) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Returns 0 to run, 1 to exit 0 (help shown), -1 for a usage error. */
static int read_args(struct server_config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("inference-server (morphling) %s\n", MP_VERSION);
            return 1;
        }
        const struct flag *f = NULL;
        const char *value = NULL;
        for (size_t k = 0; k < MP_ARRAY_LEN(flags) && a[0] == '-' && a[1] == '-'; k++) {
            size_t n = strlen(flags[k].name);
            if (strncmp(a + 2, flags[k].name, n) == 0 && (a[2 + n] == 0 || a[2 + n] == '=')) {
                f = &flags[k];
                value = a[2 + n] == '=' ? a + 3 + n : (i + 1 < argc ? argv[++i] : NULL);
                break;
            }
        }
        if (f == NULL || value == NULL) {
            fprintf(stderr, "inference-server: %s '%s'\n",
                    f == NULL ? "unknown argument" : "missing value for", a);
            usage(stderr);
            return -1;
        }
        if (set_flag(cfg, f, value, a) != 0) {
            return -1;
        }
    }
    return 0;
}

/* libgomp reads OMP_THREAD_LIMIT once, when it is loaded, and Tesseract's parallel loops ask
 * for a fixed team size; the only way to cap them is the variable, so set it and re-execute. */
static void limit_openmp(const struct server_config *cfg, char **argv)
{
    char want[24];
    snprintf(want, sizeof(want), "%lld", (long long)cfg->omp_threads);
    const char *have = getenv("OMP_THREAD_LIMIT");
    if (have != NULL && strcmp(have, want) == 0) {
        return;
    }
    setenv("OMP_THREAD_LIMIT", want, 1);
    execv("/proc/self/exe", argv);
    fprintf(stderr, "inference-server: re-exec for OMP_THREAD_LIMIT failed (%s); continuing\n",
            strerror(errno));
}

int main(int argc, char **argv)
{
    struct server_config cfg = {
        .model = MODEL_FMNIST,
        .model_dir = NULL,
        .workers = 1,
        .omp_threads = 1,
        .max_batch = 1,
        .batch_timeout_us = 0,
        .queue_limit = 64,
        .host = "127.0.0.1",
        .port = 8500,
        .listen_fd = -1,
        .max_body_bytes = 16 << 20,
        .nonce = NULL,
    };
    /* The usual OpenMP variable gives the default, so a spec setting only OMP_NUM_THREADS
     * gets what it expects; MP_SERVER_OMP_THREADS and --omp-threads win over it. */
    const char *omp = getenv("OMP_NUM_THREADS");
    int64_t n = 0;
    if (omp != NULL && mp_parse_int64(omp, &n) == 0 && n >= 1 && n <= 256) {
        cfg.omp_threads = n;
    }
    if (read_env(&cfg) != 0) {
        return 2;
    }
    int rc = read_args(&cfg, argc, argv);
    if (rc != 0) {
        return rc > 0 ? 0 : 2;
    }
    struct in_addr host;
    if (inet_pton(AF_INET, cfg.host, &host) != 1) {
        fprintf(stderr, "inference-server: --host '%s' is not an IPv4 address\n", cfg.host);
        return 2;
    }
    if (cfg.model_dir == NULL) {
        cfg.model_dir = cfg.model == MODEL_FMNIST ? INFER_DEFAULT_MODEL_DIR : OCR_DEFAULT_MODEL_DIR;
    }
    if (cfg.model == MODEL_OCR) {
        limit_openmp(&cfg, argv);
    }
    model_global_init();
    return server_run(&cfg);
}
