/* A small HTTP/1.1 server on libuv and http_parser, for the producer API and
 * every process's /metrics, /healthz and /readyz. Keep-alive, pipelining in
 * order, bounded header and body sizes (413 past max_body, 431 past the
 * header cap), idle timeout. A handler answers synchronously with
 * hq_http_respond (or later: the request stays valid until it answers). */
#ifndef HQ_HTTP_H
#define HQ_HTTP_H
#include <stddef.h>
#include <uv.h>

typedef struct hq_http_server hq_http_server;

typedef struct hq_http_req {
    const char *method;     /* "GET", "POST", ... */
    char *path;             /* decoded path without the query, e.g. "/v1/events" */
    char *query;            /* raw query string without '?', or NULL */
    char **hdr_names;       /* lowercased */
    char **hdr_values;
    int nhdrs;
    char *body;             /* NUL-terminated, body_len bytes */
    size_t body_len;
    void *priv;             /* server-private */
} hq_http_req;

/* Returns the value of a header (name compared case-insensitively) or NULL. */
const char *hq_http_header(const hq_http_req *r, const char *name);
/* Copies the URL-decoded value of query parameter `name` into out; returns 1
 * if present, 0 if absent. */
int hq_http_query(const hq_http_req *r, const char *name, char *out, size_t outlen);

typedef void (*hq_http_handler)(hq_http_req *req, void *arg);

/* Listens on "host:port" (port 0 allowed) or "unix:/path". Returns NULL with
 * err on failure. */
hq_http_server *hq_http_listen(uv_loop_t *loop, const char *listen, size_t max_body,
                               hq_http_handler handler, void *arg, char *err, size_t errlen);
/* cb(status, the listen arg) is called for every answer the server gives
 * by itself, without the handler (400, 413, 431), e.g. to count it. */
void hq_http_on_error(hq_http_server *s, void (*cb)(int status, void *arg));
/* The port actually bound (for port 0), or 0 for unix sockets. */
int hq_http_port(const hq_http_server *s);
/* Answers a request exactly once. extra_headers: NULL or "Name: value\r\n"... */
void hq_http_respond(hq_http_req *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t len);
/* JSON error in the API's form: {"error":{"code":code,"message":msg}}. */
void hq_http_error(hq_http_req *req, int status, const char *code, const char *msg);
/* Stops listening and closes every connection; cb(arg) runs once all handles
 * are closed and the server is freed. */
void hq_http_close(hq_http_server *s, void (*cb)(void *), void *arg);

#endif
