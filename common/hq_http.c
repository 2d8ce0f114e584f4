/* hq_http: a small HTTP/1.1 server on libuv and http_parser 2.9, used for the
 * producer's API and every process's /metrics, /healthz and /readyz.
 *
 * Each connection parses one request at a time: the parser is paused when a
 * request is complete, the request is handed to the handler, and parsing of
 * any pipelined bytes resumes only once the handler has answered. Responses
 * therefore go out in request order with no response queue. Bytes that
 * arrive while a request waits for its answer are buffered up to
 * HTTP_INBUF_MAX, after which reading stops until the answer is written.
 *
 * Limits: request line + headers at most HTTP_HEADER_MAX bytes (431), body at
 * most max_body bytes (413, answered as soon as the Content-Length or the
 * running chunked total says so, without buffering more of the body). Every
 * error answer and every "Connection: close" ends with a graceful close: the
 * write side is shut down and input is discarded until the peer closes or
 * HTTP_DRAIN_MS passes, so the client reads the answer instead of a reset.
 * An idle connection is closed after HTTP_IDLE_MS.
 *
 * Ownership: a connection owns its stream and timer handles and is freed when
 * both close callbacks have run and no request is waiting for an answer. */
#include "hq_fmacros.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <http_parser.h>
#include <jansson.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_http.h"
#include "hq_log.h"

#define HTTP_HEADER_MAX (32 * 1024)
#define HTTP_MAX_HEADERS 128
#define HTTP_IDLE_MS 60000
#define HTTP_DRAIN_MS 2000
#define HTTP_INBUF_MAX (1024 * 1024)
#define HTTP_READ_CHUNK (64 * 1024)

typedef struct conn conn;

struct hq_http_server {
    uv_loop_t *loop;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } l;                         /* the listener; open until hq_http_close */
    int is_unix;
    char *unix_path;             /* unlinked on close */
    int port;
    size_t max_body;
    hq_http_handler handler;
    void *arg;
    conn *conns;                 /* every connection not yet freed */
    int closing;
    int listener_open;
    void (*close_cb)(void *);
    void *close_arg;
    void (*error_cb)(int status, void *arg);   /* hq_http_on_error */
};

enum hdr_state { HS_NONE, HS_FIELD, HS_VALUE };

struct conn {
    hq_http_server *srv;
    conn *prev, *next;           /* in srv->conns */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } h;
    uv_timer_t timer;            /* idle timeout, then the drain deadline */
    uv_shutdown_t shut;
    http_parser parser;
    hq_buf in;                   /* received bytes not yet parsed */
    /* the request being parsed or answered */
    hq_http_req req;
    hq_buf url, body, hname, hval;
    enum hdr_state hs;
    int hdr_cap;
    int msg_done;                /* on_message_complete ran: req is ready */
    int keep_alive;              /* answer keeps the connection open */
    int http10;
    int is_head;
    int reject;                  /* status to answer from a parser callback (413/431/400) */
    int busy;                    /* req handed to the handler, not yet answered */
    int in_process;              /* inside process(): respond must not recurse */
    int reading;                 /* uv_read_start active */
    int draining;                /* last answer queued: discard input, close when written+EOF */
    int shut_started;
    int peer_eof;                /* the peer closed its write side */
    int closing;                 /* uv_close called on both handles */
    int handles;                 /* open handles (stream, timer) */
    int writes;                  /* uv_write requests in flight */
};

typedef struct wreq {
    uv_write_t w;
    conn *c;
    char *data;
} wreq;

static void process(conn *c);
static void conn_close(conn *c);

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 207: return "Multi-Status";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

/* ---- request state ---- */

/* Frees everything the current request holds and readies the parser state
 * for the next message. */
static void req_reset(conn *c)
{
    hq_http_req *r = &c->req;
    for (int i = 0; i < r->nhdrs; i++) {
        hq_free(r->hdr_names[i]);
        hq_free(r->hdr_values[i]);
    }
    hq_free(r->hdr_names);
    hq_free(r->hdr_values);
    hq_free(r->path);
    hq_free(r->query);
    memset(r, 0, sizeof *r);
    r->priv = c;
    hq_buf_free(&c->url);
    hq_buf_free(&c->body);
    hq_buf_free(&c->hname);
    hq_buf_free(&c->hval);
    c->hs = HS_NONE;
    c->hdr_cap = 0;
    c->msg_done = 0;
    c->is_head = 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s (and '+' as space when plus) into a new
 * string. Invalid escapes are kept literally. */
static char *pct_decode(const char *s, size_t n, int plus)
{
    char *out = hq_malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else if (plus && s[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
    return out;
}

static void push_header(conn *c)
{
    hq_http_req *r = &c->req;
    if (r->nhdrs == c->hdr_cap) {
        c->hdr_cap = c->hdr_cap ? c->hdr_cap * 2 : 16;
        r->hdr_names = hq_realloc(r->hdr_names, sizeof(char *) * (size_t)c->hdr_cap);
        r->hdr_values = hq_realloc(r->hdr_values, sizeof(char *) * (size_t)c->hdr_cap);
    }
    char *name = hq_buf_steal(&c->hname, NULL);
    for (char *p = name; *p; p++) *p = (char)tolower((unsigned char)*p);
    r->hdr_names[r->nhdrs] = name;
    r->hdr_values[r->nhdrs] = hq_buf_steal(&c->hval, NULL);
    r->nhdrs++;
}

/* ---- http_parser callbacks (parser->data = conn) ---- */

static int on_message_begin(http_parser *p)
{
    conn *c = p->data;
    req_reset(c);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    conn *c = p->data;
    if (hq_buf_append(&c->url, at, len) != 0) {
        c->reject = 431;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    conn *c = p->data;
    if (c->hs == HS_VALUE) push_header(c);
    if (c->req.nhdrs >= HTTP_MAX_HEADERS) {
        c->reject = 431;
        http_parser_pause(p, 1);
        return 0;
    }
    hq_buf_append(&c->hname, at, len);
    c->hs = HS_FIELD;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    conn *c = p->data;
    hq_buf_append(&c->hval, at, len);
    c->hs = HS_VALUE;
    return 0;
}

/* Writes raw bytes (copied) to the connection. */
static void conn_write(conn *c, const char *data, size_t len);

static int on_headers_complete(http_parser *p)
{
    conn *c = p->data;
    hq_http_req *r = &c->req;
    if (c->hs == HS_VALUE || c->hs == HS_FIELD) push_header(c);
    c->hs = HS_NONE;
    r->method = http_method_str((enum http_method)p->method);
    c->is_head = p->method == HTTP_HEAD;
    c->http10 = p->http_major == 1 && p->http_minor == 0;

    const char *u = c->url.data ? c->url.data : "";
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (http_parser_parse_url(u, c->url.len, p->method == HTTP_CONNECT, &pu) != 0 ||
        !(pu.field_set & (1 << UF_PATH))) {
        c->reject = 400;
        http_parser_pause(p, 1);
        return 0;
    }
    r->path = pct_decode(u + pu.field_data[UF_PATH].off, pu.field_data[UF_PATH].len, 0);
    if (pu.field_set & (1 << UF_QUERY))
        r->query = hq_strndup(u + pu.field_data[UF_QUERY].off, pu.field_data[UF_QUERY].len);

    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        p->content_length > (uint64_t)c->srv->max_body) {
        c->reject = 413;
        http_parser_pause(p, 1);
        return 0;
    }
    const char *expect = hq_http_header(r, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && !c->http10)
        conn_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    conn *c = p->data;
    if (hq_buf_append(&c->body, at, len) != 0) {
        c->reject = 413;
        http_parser_pause(p, 1);
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn *c = p->data;
    c->keep_alive = http_should_keep_alive(p);
    c->msg_done = 1;
    http_parser_pause(p, 1);
    return 0;
}

static http_parser_settings g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- connection lifecycle ---- */

static void conn_free(conn *c)
{
    hq_http_server *s = c->srv;
    req_reset(c);
    hq_buf_free(&c->in);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    hq_free(c);
    if (s->closing && !s->conns && !s->listener_open) {
        void (*cb)(void *) = s->close_cb;
        void *arg = s->close_arg;
        hq_free(s->unix_path);
        hq_free(s);
        if (cb) cb(arg);
    }
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles == 0 && !c->busy) conn_free(c);
}

static void conn_close(conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    if (c->reading) uv_read_stop(&c->h.stream);
    c->reading = 0;
    uv_timer_stop(&c->timer);
    uv_close(&c->h.handle, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_conn_handle_closed);
}

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->busy) {
        uv_timer_start(&c->timer, on_timer, HTTP_IDLE_MS, 0);
        return;
    }
    conn_close(c);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    conn *c = sr->data;
    if (c->closing) return;
    if (status < 0 || c->peer_eof) {
        conn_close(c);
        return;
    }
    /* keep discarding input until EOF or the drain deadline */
    uv_timer_start(&c->timer, on_timer, HTTP_DRAIN_MS, 0);
}

/* Once the last answer is written, shut the write side down gracefully. */
static void maybe_shutdown(conn *c)
{
    if (c->closing || !c->draining || c->busy || c->writes > 0 || c->shut_started) return;
    if (c->peer_eof) {
        conn_close(c);
        return;
    }
    c->shut_started = 1;
    c->shut.data = c;
    if (uv_shutdown(&c->shut, &c->h.stream, on_shutdown) != 0) conn_close(c);
}

static void on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    hq_free(wr->data);
    hq_free(wr);
    c->writes--;
    if (c->closing) return;
    if (status < 0) {
        conn_close(c);
        return;
    }
    maybe_shutdown(c);
}

static void conn_write_owned(conn *c, char *data, size_t len)
{
    if (c->closing) {
        hq_free(data);
        return;
    }
    wreq *wr = hq_calloc(1, sizeof *wr);
    wr->c = c;
    wr->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned int)len);
    if (uv_write(&wr->w, &c->h.stream, &b, 1, on_write) != 0) {
        hq_free(data);
        hq_free(wr);
        conn_close(c);
        return;
    }
    c->writes++;
}

static void conn_write(conn *c, const char *data, size_t len)
{
    conn_write_owned(c, hq_strndup(data, len), len);
}

/* Serializes and queues one response. */
static void write_response(conn *c, int status, const char *ctype, const char *extra,
                           const char *body, size_t len, int keep_alive)
{
    hq_buf b;
    hq_buf_init(&b, 0);
    hq_buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, reason_phrase(status));
    if (ctype && len > 0) hq_buf_printf(&b, "Content-Type: %s\r\n", ctype);
    hq_buf_printf(&b, "Content-Length: %zu\r\n", (status == 204 || status == 304) ? (size_t)0 : len);
    if (!keep_alive) hq_buf_puts(&b, "Connection: close\r\n");
    else if (c->http10) hq_buf_puts(&b, "Connection: keep-alive\r\n");
    if (extra) hq_buf_puts(&b, extra);
    hq_buf_puts(&b, "\r\n");
    if (body && len > 0 && !c->is_head && status != 204 && status != 304)
        hq_buf_append(&b, body, len);
    size_t n;
    char *data = hq_buf_steal(&b, &n);
    conn_write_owned(c, data, n);
}

/* Answers a protocol-level error (400/413/431) and closes gracefully. */
static void answer_error(conn *c, int status)
{
    char body[256];
    const char *code = status == 413 ? "payload_too_large"
                     : status == 431 ? "headers_too_large" : "bad_request";
    const char *msg = status == 413 ? "request body exceeds the size limit"
                    : status == 431 ? "request headers exceed the size limit"
                    : "malformed HTTP request";
    int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    write_response(c, status, "application/json", NULL, body, (size_t)n, 0);
    if (c->srv->error_cb)
        c->srv->error_cb(status, c->srv->arg);
    hq_debug("http protocol error", "status", status == 413 ? "413" : status == 431 ? "431" : "400");
    c->draining = 1;
    c->keep_alive = 0;
    hq_buf_reset(&c->in);
    maybe_shutdown(c);
}

static void dispatch(conn *c)
{
    hq_http_req *r = &c->req;
    if (!c->body.data) hq_buf_append(&c->body, "", 0);
    r->body = c->body.data ? c->body.data : (char *)"";
    r->body_len = c->body.len;
    r->priv = c;
    c->busy = 1;
    c->srv->handler(r, c->srv->arg);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    buf->base = hq_malloc(HTTP_READ_CHUNK);
    buf->len = HTTP_READ_CHUNK;
}

static void start_reading(conn *c);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    if (nread < 0) {
        hq_free(buf->base);
        c->peer_eof = 1;
        if (c->reading) uv_read_stop(&c->h.stream);
        c->reading = 0;
        if (c->busy || c->writes > 0) {
            /* an answer is pending or still being written: close after it */
            c->keep_alive = 0;
            c->draining = 1;
            maybe_shutdown(c);
            return;
        }
        conn_close(c);
        return;
    }
    if (nread > 0 && !c->draining) {
        hq_buf_append(&c->in, buf->base, (size_t)nread);
        if (!c->busy) uv_timer_start(&c->timer, on_timer, HTTP_IDLE_MS, 0);
    }
    hq_free(buf->base);
    if (!c->draining) process(c);
}

static void start_reading(conn *c)
{
    if (c->reading || c->closing || c->peer_eof) return;
    if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0) c->reading = 1;
    else conn_close(c);
}

/* Parses buffered input, one request at a time, while no request is waiting
 * for its answer. */
static void process(conn *c)
{
    if (c->in_process) return;
    c->in_process = 1;
    while (!c->closing && !c->busy && !c->draining && c->in.len > 0) {
        size_t n = http_parser_execute(&c->parser, &g_settings, c->in.data, c->in.len);
        if (n > c->in.len) n = c->in.len;
        memmove(c->in.data, c->in.data + n, c->in.len - n);
        c->in.len -= n;
        c->in.data[c->in.len] = '\0';
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (c->reject) {
            answer_error(c, c->reject);
            break;
        }
        if (e == HPE_PAUSED) {
            http_parser_pause(&c->parser, 0);
            if (c->msg_done) {
                c->msg_done = 0;
                dispatch(c);
            }
            continue;
        }
        if (e != HPE_OK) {
            answer_error(c, e == HPE_HEADER_OVERFLOW ? 431 : 400);
            break;
        }
        if (n == 0) break;
    }
    c->in_process = 0;
    if (c->closing || c->draining) return;
    if (c->in.len > HTTP_INBUF_MAX) {
        if (c->reading) uv_read_stop(&c->h.stream);
        c->reading = 0;
    } else {
        start_reading(c);
    }
}

static void on_connection(uv_stream_t *ls, int status)
{
    hq_http_server *s = ls->data;
    if (status < 0 || s->closing) return;
    conn *c = hq_calloc(1, sizeof *c);
    c->srv = s;
    int rc = s->is_unix ? uv_pipe_init(s->loop, &c->h.pipe, 0) : uv_tcp_init(s->loop, &c->h.tcp);
    if (rc != 0) {
        hq_free(c);
        return;
    }
    c->h.handle.data = c;
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    hq_buf_init(&c->in, 0);
    hq_buf_init(&c->url, HTTP_HEADER_MAX);
    hq_buf_init(&c->body, s->max_body);
    hq_buf_init(&c->hname, HTTP_HEADER_MAX);
    hq_buf_init(&c->hval, HTTP_HEADER_MAX);
    c->req.priv = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(ls, &c->h.stream) != 0) {
        conn_close(c);
        return;
    }
    if (!s->is_unix) uv_tcp_nodelay(&c->h.tcp, 1);
    uv_timer_start(&c->timer, on_timer, HTTP_IDLE_MS, 0);
    start_reading(c);
}

/* ---- public API ---- */

const char *hq_http_header(const hq_http_req *r, const char *name)
{
    for (int i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdr_names[i], name) == 0) return r->hdr_values[i];
    return NULL;
}

int hq_http_query(const hq_http_req *r, const char *name, char *out, size_t outlen)
{
    if (!r->query) return 0;
    const char *p = r->query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seg);
        size_t klen = eq ? (size_t)(eq - p) : seg;
        char *k = pct_decode(p, klen, 1);
        int match = strcmp(k, name) == 0;
        hq_free(k);
        if (match) {
            char *v = eq ? pct_decode(eq + 1, seg - klen - 1, 1) : hq_strdup("");
            if (outlen > 0) snprintf(out, outlen, "%s", v);
            hq_free(v);
            return 1;
        }
        if (!end) break;
        p = end + 1;
    }
    return 0;
}

void hq_http_respond(hq_http_req *req, int status, const char *content_type,
                     const char *extra_headers, const char *body, size_t len)
{
    conn *c = req->priv;
    if (!c || !c->busy) return;   /* answered twice: ignore */
    c->busy = 0;
    if (c->closing) {
        /* the connection went away while the handler worked */
        if (c->handles == 0) conn_free(c);
        return;
    }
    int keep = c->keep_alive && !c->draining && !c->srv->closing;
    write_response(c, status, content_type, extra_headers, body, len, keep);
    req_reset(c);
    if (!keep) {
        c->draining = 1;
        hq_buf_reset(&c->in);
        start_reading(c);      /* keep reading (and discarding) until EOF */
        maybe_shutdown(c);
        return;
    }
    uv_timer_start(&c->timer, on_timer, HTTP_IDLE_MS, 0);
    process(c);
}

void hq_http_error(hq_http_req *req, int status, const char *code, const char *msg)
{
    json_t *o = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg ? msg : "");
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) hq_http_respond(req, status, "application/json", NULL, s, strlen(s));
    else hq_http_respond(req, status, "application/json", NULL, "{}", 2);
    free(s);
    json_decref(o);
}

static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err, size_t errlen)
{
    char host[256];
    const char *colon;
    const char *hs, *he;
    if (listen[0] == '[') {
        he = strchr(listen, ']');
        if (!he || he[1] != ':') goto bad;
        hs = listen + 1;
        colon = he + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon) goto bad;
        hs = listen;
        he = colon;
    }
    size_t hl = (size_t)(he - hs);
    if (hl >= sizeof host) goto bad;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (!host[0]) snprintf(host, sizeof host, "0.0.0.0");
    const char *ps = colon + 1;
    if (!*ps || strlen(ps) > 5) goto bad;
    long port = 0;
    for (const char *q = ps; *q; q++) {
        if (!isdigit((unsigned char)*q)) goto bad;
        port = port * 10 + (*q - '0');
    }
    if (port > 65535) goto bad;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0) return 0;
bad:
    snprintf(err, errlen, "invalid listen address '%s' (use host:port, [v6]:port or unix:/path)", listen);
    return -1;
}

static void on_listener_closed(uv_handle_t *h)
{
    hq_http_server *s = h->data;
    s->listener_open = 0;
    if (s->is_unix && s->unix_path) unlink(s->unix_path);
    if (!s->conns) {
        void (*cb)(void *) = s->close_cb;
        void *arg = s->close_arg;
        hq_free(s->unix_path);
        hq_free(s);
        if (cb) cb(arg);
    }
}

static void on_listener_closed_free(uv_handle_t *h)
{
    hq_free(h->data);
}

hq_http_server *hq_http_listen(uv_loop_t *loop, const char *listen, size_t max_body,
                               hq_http_handler handler, void *arg, char *err, size_t errlen)
{
    static int parser_limit_set;
    if (!parser_limit_set) {
        http_parser_set_max_header_size(HTTP_HEADER_MAX);
        parser_limit_set = 1;
    }
    hq_http_server *s = hq_calloc(1, sizeof *s);
    s->loop = loop;
    s->max_body = max_body;
    s->handler = handler;
    s->arg = arg;
    int rc;
    if (strncmp(listen, "unix:", 5) == 0) {
        const char *path = listen + 5;
        if (strncmp(path, "//", 2) == 0) path += 2;   /* also accept unix:///path */
        if (!*path) {
            snprintf(err, errlen, "invalid listen address '%s' (use unix:/path)", listen);
            hq_free(s);
            return NULL;
        }
        s->is_unix = 1;
        s->unix_path = hq_strdup(path);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path);
        uv_pipe_init(loop, &s->l.pipe, 0);
        s->l.handle.data = s;
        rc = uv_pipe_bind(&s->l.pipe, path);
    } else {
        struct sockaddr_storage ss;
        if (parse_listen(listen, &ss, err, errlen) != 0) {
            hq_free(s);
            return NULL;
        }
        uv_tcp_init(loop, &s->l.tcp);
        s->l.handle.data = s;
        rc = uv_tcp_bind(&s->l.tcp, (const struct sockaddr *)&ss, 0);
    }
    if (rc == 0) rc = uv_listen(&s->l.stream, 511, on_connection);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on '%s': %s", listen, uv_strerror(rc));
        if (s->is_unix) hq_free(s->unix_path);
        s->unix_path = NULL;
        uv_close(&s->l.handle, on_listener_closed_free);
        return NULL;
    }
    s->listener_open = 1;
    if (!s->is_unix) {
        struct sockaddr_storage ss;
        int len = sizeof ss;
        if (uv_tcp_getsockname(&s->l.tcp, (struct sockaddr *)&ss, &len) == 0) {
            if (ss.ss_family == AF_INET) s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            else if (ss.ss_family == AF_INET6) s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
    }
    return s;
}

void hq_http_on_error(hq_http_server *s, void (*cb)(int status, void *arg))
{
    s->error_cb = cb;
}

int hq_http_port(const hq_http_server *s)
{
    return s ? s->port : 0;
}

void hq_http_close(hq_http_server *s, void (*cb)(void *), void *arg)
{
    if (!s || s->closing) return;
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    /* closing connections may free them; walk with a saved next pointer */
    for (conn *c = s->conns; c;) {
        conn *next = c->next;
        conn_close(c);
        c = next;
    }
    uv_close(&s->l.handle, on_listener_closed);
}
