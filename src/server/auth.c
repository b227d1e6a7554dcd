/* SPDX-License-Identifier: Apache-2.0 */
/* Request checks: loopback listeners, Host (DNS rebinding), Origin (cross-site requests) and
 * tokens. Rules: docs/api.md, "Security". */
#include "server/server.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool mp_server_host_is_loopback(const char *host)
{
    if (strcmp(host, "localhost") == 0) {
        return true;
    }
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
    }
    return false;
}

int mp_server_parse_listen(const char *listen, char *host, size_t host_len, unsigned *port,
                           struct mp_error *err)
{
    const char *colon = NULL;
    const char *h = listen;
    size_t hl = 0;
    if (listen[0] == '[') {
        const char *end = strchr(listen, ']');
        if (!end || end[1] != ':') {
            return mp_error_set(err, MP_EINVALID, "--listen '%s': expected [ADDRESS]:PORT", listen);
        }
        h = listen + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon) {
            return mp_error_set(err, MP_EINVALID, "--listen '%s': expected HOST:PORT", listen);
        }
        hl = (size_t)(colon - listen);
    }
    int64_t p = 0;
    if (hl == 0 || hl >= host_len || mp_parse_int64(colon + 1, &p) != 0 || p < 0 || p > 65535) {
        return mp_error_set(err, MP_EINVALID,
                            "--listen '%s': expected HOST:PORT with a port 0-65535", listen);
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

bool mp_server_host_allowed(const char *host_header, unsigned port, const char *extra)
{
    if (!host_header) {
        return false;
    }
    static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < MP_ARRAY_LEN(names); i++) {
        char want[64];
        snprintf(want, sizeof(want), "%s:%u", names[i], port);
        if (strcasecmp(host_header, want) == 0) {
            return true;
        }
    }
    /* Host names are case-insensitive (RFC 9110, 4.2.3): a --public-host written
     * "Tuner.lan:9000" behind a proxy that lowercases it must still match. */
    return extra && strcasecmp(host_header, extra) == 0;
}

bool mp_server_origin_allowed(const char *origin, const char *host_header)
{
    if (!origin) {
        return true;
    }
    if (!host_header) {
        return false;
    }
    /* https: the same host behind a TLS-terminating proxy. */
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest && strcasecmp(rest, host_header) == 0;
}

bool mp_server_token_ok(const char *authorization, const char *token)
{
    /* The scheme is case-insensitive (RFC 9110, 11.1), then 1*SP (RFC 6750, 2.1). */
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0) {
        return false;
    }
    const char *given = authorization + 7;
    while (*given == ' ') {
        given++;
    }
    /* A field value ends before its trailing whitespace (RFC 9110, 5.5), which libmicrohttpd
     * leaves in: "Bearer TOKEN " from a script was refused. */
    size_t n = strlen(given);
    while (n > 0 && (given[n - 1] == ' ' || given[n - 1] == '\t')) {
        n--;
    }
    char *trimmed = mp_xstrndup(given, n);
    bool ok = mp_server_token_equal(trimmed, token);
    free(trimmed);
    return ok;
}

bool mp_server_token_equal(const char *given, const char *token)
{
    /* An empty token matches nothing (serve never holds one: the token file's minimum length),
     * so that an empty header value never authenticates. */
    if (!given || !token || !*token) {
        return false;
    }
    size_t gl = strlen(given);
    size_t tl = strlen(token);
    /* Compare every byte of the expected token whatever the input, so timing does not reveal
     * how long a matching prefix was. */
    unsigned char diff = (unsigned char)(gl != tl);
    for (size_t i = 0; i < tl; i++) {
        unsigned char g = i < gl ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)token[i]);
    }
    return diff == 0;
}
