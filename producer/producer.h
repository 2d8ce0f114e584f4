/* The producer process: one libuv loop, one HTTP server (common/hq_http.c),
 * one hiredis connection. Requests are answered synchronously by the
 * handler, so every helper below may be called from a route handler and
 * returns only when its Redis round trip is done; the one exception is the
 * batch publish, which answers from producer_redis_pipeline_async's
 * callback (Redis works on one batch while the next is read).
 *
 * Files: main.c (config, startup, shutdown), api.c (router, auth, responses,
 * the Redis command wrapper, endpoint lookup), events.c (POST /v1/events and
 * /v1/events/batch), endpoints.c (/v1/endpoints...), inspect.c (event,
 * delivery and stats inspection routes).
 *
 * Conventions for route code:
 *  - Answer every request exactly once, through producer_json /
 *    producer_error / producer_unavailable / producer_respond (they count
 *    hookq_http_requests_total{code}); never call hq_http_respond directly.
 *  - Run Redis commands through producer_redis_cmd / producer_redis_pipeline:
 *    they (re)connect, reload the function library on "Function not found"
 *    and retry once, and return NULL / -1 when Redis is unavailable; answer
 *    that with producer_unavailable (503 + Retry-After: 1).
 *  - An error *reply* (REDIS_REPLY_ERROR) is returned to the caller as a
 *    reply; producer_reply_failed() tells whether a reply is unusable
 *    (NULL or error) and counts it in hookq_redis_errors_total. */
#ifndef HQ_PRODUCER_H
#define HQ_PRODUCER_H
#include <stdint.h>
#include <stddef.h>
#include <uv.h>
#include <jansson.h>
#include <hiredis/hiredis.h>
#include "hq_http.h"
#include "hq_redis.h"
#include "hq_endpoint.h"
#include "hq_metrics.h"
#include "hq_time.h"
#include "hq_keys.h"

#define PRODUCER_NAME "hookq-producer"

/* Configuration, filled from the option table in main.c. Read-only after start. */
struct producer_config {
    char *redis_url;
    char *prefix;
    long long shards;            /* 1..HQ_SHARDS_MAX */
    char *listen;
    char *api_token;
    long long max_body;          /* bytes */
    int require_https;
    char *payload_format;        /* validated: hookq|event_payload|event_data */
    char *signature_header;
    char *signature_format;      /* validated: sha256=hex|hex|none */
    hq_schedule retry_schedule;
    int64_t retention_ms;
    int64_t rotation_overlap_ms;
    int64_t redis_timeout_ms;
    long long redis_wait;        /* replicas that must confirm each command (WAIT), 0 = off */
    char *log_format;
    char *log_level;
    char *master_key;            /* HOOKQ_MASTER_KEY, NULL = secrets stored in clear */
};

struct producer {
    uv_loop_t *loop;
    struct producer_config cfg;
    hq_redis_url rurl;           /* parsed cfg.redis_url */
    hq_endpoint_defaults epdef;  /* deployment defaults for endpoint fields */
    hq_keyring *keyring;         /* parsed cfg.master_key, or NULL */
    int64_t keep_seconds;        /* max(retention, 24h) in seconds: event TTL */

    /* Redis: a synchronous context, NULL while disconnected. */
    redisContext *rc;
    /* redis-cluster:// only: the cluster client (rc stays NULL); NULL while
     * disconnected, recreated (functions and groups ensured) on next use */
    struct hq_cluster *cluster;
    uint64_t last_connect_ns;    /* monotonic time of the last connect attempt */
    int req_reconnected;         /* a reconnect was tried during the current request */

    hq_http_server *http;
    uv_signal_t sigterm, sigint;
    int stopping;
    int last_status;             /* status of the last answer (for the request log) */

    /* Pipelined commands in flight on rc (producer_redis_pipeline_async,
     * api.c): written at once, their replies read from the loop as they
     * arrive, so Redis works on one request's commands while the next
     * request is read and parsed. */
    struct producer_pending *pend_head, *pend_tail;   /* sent, awaiting replies (FIFO) */
    struct producer_pending *ready_head, *ready_tail; /* answered or failed: callbacks due */
    int npend;                   /* pipelines in pend_* */
    uv_poll_t *rpoll;            /* readable watch on rc's socket (heap; closed with rc) */
    uv_timer_t rtimeout;         /* no reply for HOOKQ_REDIS_TIMEOUT while some are due: fail */
    uv_timer_t rready;           /* runs due callbacks from the loop */
    int async_on;                /* the two timers exist and the loop runs */
    int in_ready;                /* callbacks are being run */

    hq_metrics *metrics;
    hq_metric *m_ingested;       /* hookq_events_ingested_total */
    hq_metric *m_redis_errors;   /* hookq_redis_errors_total */
};

/* ---- Redis ---- */

#define PRODUCER_CMD_MAX_ARGS 32

/* One command as an argv vector (binary-safe). The strings are borrowed: they
 * must stay valid until the command has run. A command longer than
 * PRODUCER_CMD_MAX_ARGS (a batch publish) uses caller-owned vectors instead
 * (producer_cmd_vec); read the arguments with PRODUCER_CMD_ARGV/_LEN. */
typedef struct producer_cmd {
    int argc;
    const char *argv[PRODUCER_CMD_MAX_ARGS];
    size_t len[PRODUCER_CMD_MAX_ARGS];
    const char **vargv;          /* NULL, or the argc arguments (borrowed) */
    const size_t *vlen;          /* their lengths, with vargv */
} producer_cmd;

#define PRODUCER_CMD_ARGV(c) ((c)->vargv ? (c)->vargv : (const char **)(c)->argv)
#define PRODUCER_CMD_LEN(c) ((c)->vargv ? (c)->vlen : (const size_t *)(c)->len)

void producer_cmd_init(producer_cmd *c);
/* Appends a NUL-terminated argument. Aborts past PRODUCER_CMD_MAX_ARGS. */
void producer_cmd_add(producer_cmd *c, const char *s);
/* Appends n bytes of s as one argument. */
void producer_cmd_addn(producer_cmd *c, const char *s, size_t n);
/* Makes c the command of argc arguments argv[i] (len[i] bytes each); the
 * vectors and strings are borrowed and must outlive the command. */
void producer_cmd_vec(producer_cmd *c, int argc, const char **argv, const size_t *len);

/* Makes sure a connection exists: reconnects (and reloads the function
 * library) if there is none, at most once per request and at most every
 * 250 ms. 0 or -1 (Redis unavailable). */
int producer_redis_ensure(struct producer *p);
/* Runs one command. Returns the reply (caller frees with freeReplyObject),
 * possibly an error reply, or NULL when Redis is unavailable (the
 * connection is dropped; the next call reconnects). "Function not found"
 * is handled here: functions are reloaded and the command retried once. */
redisReply *producer_redis_cmd(struct producer *p, const producer_cmd *cmd);
/* Runs n commands pipelined (all written, then all replies read). On 0,
 * out[0..n-1] hold the replies (caller frees each). On -1 Redis is
 * unavailable and out holds nothing. */
int producer_redis_pipeline(struct producer *p, const producer_cmd *cmds, int n, redisReply **out);
/* What producer_redis_pipeline_async calls once every reply is in: rc 0
 * with out[0..n-1] the replies (the callback frees each), or rc -1 when
 * Redis is unavailable (out holds nothing). */
typedef void (*producer_pipeline_cb)(struct producer *p, void *arg, int rc, redisReply **out);
/* producer_redis_pipeline without waiting: writes the n commands and
 * returns; cb(p, arg, rc, out) runs from the loop when the replies have
 * arrived, with the same outcomes, reconnects, function reloads and retries
 * as producer_redis_pipeline. cmds (and the strings they borrow) and out
 * (n slots) must stay valid until cb. Redis Cluster, HOOKQ_REDIS_WAIT > 0,
 * no connection yet, shutdown, or 8 pipelines in flight already: runs
 * producer_redis_pipeline (after those) and calls cb before returning. Every other Redis helper first waits for the replies of
 * the commands in flight, so the connection is never shared mid-reply. */
void producer_redis_pipeline_async(struct producer *p, const producer_cmd *cmds, int n, redisReply **out,
                                   producer_pipeline_cb cb, void *arg);
/* Sets up (after the loop exists) and tears down (at shutdown: waits for the
 * commands in flight and runs their callbacks) the asynchronous path. */
void producer_redis_async_init(struct producer *p);
void producer_redis_async_close(struct producer *p);
/* 1 if r is NULL or an error reply (and counts a Redis error), else 0. */
int producer_reply_failed(struct producer *p, const redisReply *r);
/* XGROUP CREATE <tag>stream workers 0 MKSTREAM on every shard (pipelined;
 * BUSYGROUP ignored). Run at start and after every reconnect. 0 or -1 with err. */
int producer_ensure_groups(struct producer *p, redisContext *c, char *err, size_t errlen);
/* Drops the connection (after a protocol surprise); the next call reconnects. */
void producer_redis_drop(struct producer *p);
/* The key tag "<prefix>:{<shard>}:" into out (>= HQ_KEY_MAX). */
void producer_tag(const struct producer *p, int shard, char *out);

/* ---- responses ---- */

/* Counts an answer in hookq_http_requests_total{code} (arg: the producer). */
void producer_count_answer(int status, void *arg);
/* Answers with the given body (any type) and counts the status. */
void producer_respond(struct producer *p, hq_http_req *req, int status, const char *ctype,
                      const char *extra_headers, const char *body, size_t len);
/* Answers JSON; steals the reference to body (NULL = empty body, e.g. 204).
 * extra_headers: NULL or "Name: value\r\n"... */
void producer_json(struct producer *p, hq_http_req *req, int status, json_t *body,
                   const char *extra_headers);
/* {"error":{"code":code,"message":msg[,"field":field]}} */
void producer_error(struct producer *p, hq_http_req *req, int status, const char *code,
                    const char *msg, const char *field);
/* Builds the error object used above (new reference); also used per item in
 * batch answers. */
json_t *producer_error_obj(const char *code, const char *msg, const char *field);
/* 503 {"error":{"code":"redis_unavailable",...}} with Retry-After: 1. */
void producer_unavailable(struct producer *p, hq_http_req *req);
/* 405 with an Allow header ("GET, POST"). */
void producer_method_not_allowed(struct producer *p, hq_http_req *req, const char *allow);
/* 404 not_found with msg. */
void producer_not_found(struct producer *p, hq_http_req *req, const char *msg);
/* Parses the request body as a JSON object (hq_json_parse). On failure answers
 * 400 (malformed_json with parser message and position, or "body must be a
 * JSON object") and returns NULL. An empty body is allowed when
 * empty_ok (returns an empty object). New reference. */
json_t *producer_parse_body(struct producer *p, hq_http_req *req, int empty_ok);

/* ---- endpoints ---- */

/* An endpoint as stored: config plus the hash's live fields. */
typedef struct producer_ep {
    hq_endpoint ep;              /* from cfg; is_active / disabled_* from the hash */
    int shard;
    long long fails;             /* consecutive failed attempts */
    int64_t ff_ms;               /* first failure of the streak, 0 = none */
    int64_t ok_ms;               /* last success, 0 = none */
    char ver[24];                /* the hash's `ver` when loaded: writes check it */
} producer_ep;

/* Builds "HMGET <tag>ep:<id> cfg act dis_reason dis_at fails ff ok_at ver"
 * into cmd; key (>= HQ_KEY_MAX) holds the key and must outlive cmd. */
#define PRODUCER_EP_NFIELDS 8
void producer_ep_hmget(const struct producer *p, int shard, const char *id, char *key, producer_cmd *cmd);
/* Parses that HMGET reply: 1 loaded (caller frees with producer_ep_free),
 * 0 the endpoint does not exist, -1 the stored form is corrupt. Sealed
 * secrets that p->keyring cannot open still load (1) with ep.secret NULL:
 * enough for every view; a route that rewrites the endpoint must check. */
int producer_ep_parse(const struct producer *p, const redisReply *r, int shard, producer_ep *out);
/* Loads endpoint `id`. If the request has ?org_id= it must match. Returns 0;
 * or answers the request itself (404 not_found, 503) and returns -1. On 0
 * the caller frees with producer_ep_free. */
int producer_ep_load(struct producer *p, hq_http_req *req, const char *id, producer_ep *out);
void producer_ep_free(producer_ep *e);
/* The API view with health and the hash fields merged (new reference). */
json_t *producer_ep_view(const producer_ep *e, int include_secret);

/* ---- routes (each returns after answering) ---- */

/* main.c's HTTP handler entry point. */
void producer_handle(hq_http_req *req, void *arg);

void producer_events_post(struct producer *p, hq_http_req *req);
void producer_events_batch(struct producer *p, hq_http_req *req);
/* Endpoint routes: path is everything after "/v1/endpoints" ("" or "/{id}..."). 
 * Returns 1 if answered, 0 if the path is not an endpoint route of this file. */
int producer_endpoints_route(struct producer *p, hq_http_req *req, const char *rest);

/* Validation of an event (shared by /v1/events, batch and the endpoint test
 * route): the fields ready for hookq_publish. */
typedef struct producer_event {
    const char *type;
    const char *org;
    char id[HQ_ID_LEN + 80];     /* given (<=128) or generated */
    char ca[40];                 /* created_at text as stored */
    int64_t ts_ms;
    const char *data;            /* canonical JSON of data: data_owned, or borrowed
                                    (a span of a batch body) when data_owned is NULL */
    size_t data_len;
    char *data_owned;            /* hq_free'd by producer_event_free */
} producer_event;

/* Validates an event object. 0, or -1 with field and msg set (-> 422). */
int producer_event_validate(json_t *ev, producer_event *out, char *field, size_t fieldlen,
                            char *msg, size_t msglen);
void producer_event_free(producer_event *e);
/* Fills cmd with FCALL hookq_publish for ev (only_ep "" = fan out, else that
 * endpoint; test "0"/"1"). The buffers in bufs must outlive the command. */
typedef struct producer_publish_bufs {
    char k_ev[HQ_KEY_MAX * 2];
    char k_eps[HQ_KEY_MAX * 2];
    char k_stream[HQ_KEY_MAX + 16];
    char k_eid[HQ_KEY_MAX * 2];
    char tag[HQ_KEY_MAX];
    char ts[24], now[24], keep[24], shard[8];
} producer_publish_bufs;
void producer_publish_cmd(struct producer *p, const producer_event *ev, const char *only_ep,
                          const char *test, producer_publish_bufs *b, producer_cmd *cmd);
/* Interprets a hookq_publish reply: 1 new, 2 dup, 3 noep, -1 unusable.
 * *deliveries gets the count. */
int producer_publish_result(const redisReply *r, long long *deliveries);

#endif
