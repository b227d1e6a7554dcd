/* SPDX-License-Identifier: Apache-2.0 */
/* The example inference server: settings (flags and MP_SERVER_* environment variables) and the
 * server loop (one epoll I/O thread, a bounded batching queue, worker threads each owning a
 * model instance). README.md beside this file documents flags, endpoints and metrics.
 *
 * Ownership: struct server_config borrows its strings (argv/environ outlive the server).
 * Thread-safety: server_run is called once, from the main thread. */
#ifndef INFER_SERVER_H
#define INFER_SERVER_H

#include <stdint.h>

#include "model.h"

struct server_config {
    enum model_kind model;
    const char *model_dir;
    int64_t workers;
    int64_t omp_threads;
    int64_t max_batch;
    int64_t batch_timeout_us;
    int64_t queue_limit;
    const char *host; /* IPv4 address to listen on */
    int64_t port;
    int64_t listen_fd; /* -1, or an inherited listening socket used instead of --port */
    int64_t max_body_bytes;
    const char *nonce;
};

/* Serves until SIGTERM or SIGINT, then drains in-flight requests and returns the exit code
 * (0 after a clean shutdown, 1 if the model or the socket could not be set up). */
int server_run(const struct server_config *cfg);

#endif
