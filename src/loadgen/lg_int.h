/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the load generator's files: the client object built by mp_lg_new() and
 * read (never written) by the worker threads of mp_lg_run(). */
#ifndef MP_LG_INT_H
#define MP_LG_INT_H

#include <sys/resource.h>
#include <sys/socket.h>

#include "loadgen/loadgen.h"

/* Whether c is an RFC 9110 token character (header names, methods); http_parse.c. */
bool mp_lg_is_tchar(char c);

/* One preformatted request (request line, headers and body in one buffer). */
struct lg_request {
    char *data;
    size_t len;
};

struct mp_lg {
    struct mp_lg_url url;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    struct lg_request *requests; /* rotated across sends */
    size_t n_requests;
    bool head;
    bool close_each; /* the requests say Connection: close: none follows on their connection */
    bool has_needle;
    struct mp_lg_http_needle needle;
    struct mp_lg_http_limits limits;
    unsigned threads, connections;
    rlim_t fds; /* the descriptors counted for it (ensure_fds) */
    double rate_rps;
    enum mp_lg_arrival arrival;
    int64_t timeout_ns;
    int64_t late_threshold_ns;
    int expect_status;
    uint64_t seed;
    uint64_t cpu_mask;
};

#endif
