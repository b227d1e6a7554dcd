/* SPDX-License-Identifier: Apache-2.0 */
/* A scripted HTTP(S) server for the Kubernetes client's unit tests (libmicrohttpd, one thread
 * per connection, on 127.0.0.1): every request takes the next scripted answer (a reply, a reply
 * held until released, a watch stream fed by the test, or a dropped connection) and is recorded
 * with its method, URI, headers, body and client certificate. Also temporary folders and
 * certificates made with the openssl command. */
#ifndef MP_KUBE_FAKE_H
#define MP_KUBE_FAKE_H

#include <stdbool.h>
#include <stddef.h>

enum kf_tls { KF_HTTP, KF_HTTPS, KF_HTTPS_CLIENT_CA };

enum kf_kind {
    KF_REPLY,  /* status, headers, body */
    KF_HOLD,   /* the reply, once kf_release is called */
    KF_STREAM, /* 200 with a chunked body fed by kf_stream_send */
    KF_DROP,   /* close the connection without an answer */
};

struct kf_answer {
    enum kf_kind kind;
    int status;
    const char *body;
    const char *retry_after; /* Retry-After header value, or NULL */
};

/* What a request carried. */
struct kf_request {
    char *method;
    char *uri; /* path and query as sent */
    char *authorization;
    char *content_type;
    char *body;
    char *client_cn; /* verified client certificate's CN, or NULL */
    unsigned connection;
};

struct kf_server;

/* Folder with ca.crt/key, server.crt/key (IP 127.0.0.1), client.crt/key (CN alice, O devs)
 * and other-ca.crt (a CA that signed nothing here). */
void kf_make_certs(const char *dir);

struct kf_server *kf_start(enum kf_tls tls, const char *cert_dir);
const char *kf_url(const struct kf_server *s);
/* Ends held replies and streams, stops the server, frees everything. */
void kf_stop(struct kf_server *s);

void kf_push(struct kf_server *s, int status, const char *body);
void kf_push_answer(struct kf_server *s, const struct kf_answer *a);
/* Queues a stream answer; returns its number (0, 1, ...) for kf_stream_*. */
int kf_push_stream(struct kf_server *s);
void kf_stream_send(struct kf_server *s, int stream, const char *text);
void kf_stream_end(struct kf_server *s, int stream);  /* a clean end of the body */
void kf_stream_drop(struct kf_server *s, int stream); /* an abrupt close */
/* The answer for requests when the script is empty (default: 599 "unscripted"). */
void kf_set_default(struct kf_server *s, int status, const char *body);
void kf_release(struct kf_server *s);

/* Waits (up to a minute, then fails the test) until at least n requests arrived. */
void kf_wait_requests(struct kf_server *s, size_t n);
/* Waits until stream `stream` is open (its request arrived). */
void kf_wait_stream(struct kf_server *s, int stream);
size_t kf_count(struct kf_server *s);
/* Request i (0-based); the copy is owned by the server until kf_stop. */
const struct kf_request *kf_req(struct kf_server *s, size_t i);
unsigned kf_connections(struct kf_server *s);

/* Test files. */
char *kf_tmpdir(void);
void kf_write(const char *dir, const char *name, const char *text);
char *kf_read(const char *path); /* whole file or NULL; owned */
void kf_rmtree(const char *dir);

#endif
