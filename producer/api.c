/* The producer's request plumbing: the router (producer_handle), bearer-token
 * auth, JSON answers and error bodies, the synchronous Redis command wrapper
 * (reconnect at most once per request and at most every 250 ms; function
 * library reload on "Function not found"), and endpoint lookup by id. Route
 * code in events.c, endpoints.c and inspect.c builds on these helpers
 * (documented in producer.h). */
#include "hq_fmacros.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_cluster.h"
#include "hq_id.h"
#include "hq_json.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "hq_sign.h"
#include "eventtypes.h"
#include "inspect.h"
#include "producer.h"
#include "ui.h"

#define RECONNECT_MIN_NS (250ull * 1000 * 1000)

/* ---- Redis ---- */

void producer_cmd_init(producer_cmd *c)
{
    c->argc = 0;
    c->vargv = NULL;
    c->vlen = NULL;
}

void producer_cmd_vec(producer_cmd *c, int argc, const char **argv, const size_t *len)
{
    c->argc = argc;
    c->vargv = argv;
    c->vlen = len;
}

void producer_cmd_addn(producer_cmd *c, const char *s, size_t n)
{
    if (c->vargv || c->argc >= PRODUCER_CMD_MAX_ARGS) {
        hq_error("too many Redis command arguments");
        abort();
    }
    c->argv[c->argc] = s;
    c->len[c->argc] = n;
    c->argc++;
}

void producer_cmd_add(producer_cmd *c, const char *s)
{
    producer_cmd_addn(c, s, strlen(s));
}

void producer_tag(const struct producer *p, int shard, char *out)
{
    hq_key_tag(out, HQ_KEY_MAX, p->cfg.prefix, shard);
}

static void abort_pending(struct producer *p, int retry);
static void drain_pending(struct producer *p);
static void rpoll_close(struct producer *p);

void producer_redis_drop(struct producer *p)
{
    abort_pending(p, 0);
    rpoll_close(p);
    if (p->rc) redisFree(p->rc);
    p->rc = NULL;
    if (p->cluster) hq_cluster_free(p->cluster);
    p->cluster = NULL;
}

static void count_redis_error(struct producer *p)
{
    if (p->m_redis_errors) hq_metric_add(p->m_redis_errors, 1);
}

static int cluster_ensure(struct producer *p);

/* One connection attempt per request at most, and none within
 * RECONNECT_MIN_NS of the last: while Redis is down every request answers
 * 503 at once instead of each waiting for a connect timeout. Records the
 * attempt when it allows one. */
static int connect_allowed(struct producer *p)
{
    uint64_t now = hq_mono_ns();
    if (p->req_reconnected) return 0;
    if (p->last_connect_ns && now - p->last_connect_ns < RECONNECT_MIN_NS) return 0;
    p->req_reconnected = 1;
    p->last_connect_ns = now;
    return 1;
}

int producer_redis_ensure(struct producer *p)
{
    if (p->rurl.kind == HQ_REDIS_CLUSTER) return cluster_ensure(p);
    drain_pending(p);
    if (p->rc && !p->rc->err) return 0;
    producer_redis_drop(p);
    if (!connect_allowed(p)) return -1;
    char err[256];
    redisContext *c = hq_redis_connect(&p->rurl, (int)p->cfg.redis_timeout_ms, err, sizeof err);
    if (!c) {
        hq_warn("redis connect failed", "error", err);
        count_redis_error(p);
        return -1;
    }
    if (hq_redis_load_functions(c, err, sizeof err) != 0) {
        hq_warn("redis function load failed", "error", err);
        count_redis_error(p);
        redisFree(c);
        return -1;
    }
    /* after a Redis restart without persistence the groups are gone too;
     * recreate them before anything is published into a fresh stream */
    if (producer_ensure_groups(p, c, err, sizeof err) != 0) {
        hq_warn("redis consumer group setup failed", "error", err);
        count_redis_error(p);
        redisFree(c);
        return -1;
    }
    p->rc = c;
    hq_info("redis connected");
    return 0;
}

/* Redis Cluster: XGROUP CREATE per shard, each routed to the master owning
 * the shard's slot (pipelined per node by hq_cluster_pipeline). */
static int cluster_ensure_groups(struct producer *p, char *err, size_t errlen)
{
    int n = (int)p->cfg.shards;
    char (*keys)[HQ_KEY_MAX] = hq_calloc((size_t)n, HQ_KEY_MAX);
    const char **argv = hq_calloc((size_t)n * 6, sizeof *argv);
    hq_cluster_cmd *cmds = hq_calloc((size_t)n, sizeof *cmds);
    redisReply **out = hq_calloc((size_t)n, sizeof *out);
    for (int s = 0; s < n; s++) {
        hq_key(keys[s], HQ_KEY_MAX, p->cfg.prefix, s, "stream");
        const char *a[] = { "XGROUP", "CREATE", keys[s], HQ_GROUP, "0", "MKSTREAM" };
        memcpy(argv + s * 6, a, sizeof a);
        cmds[s].argc = 6;
        cmds[s].argv = argv + s * 6;
    }
    int rc = hq_cluster_pipeline(p->cluster, cmds, n, out, err, errlen);
    for (int s = 0; rc == 0 && s < n; s++) {
        if (out[s]->type == REDIS_REPLY_ERROR && strncmp(out[s]->str, "BUSYGROUP", 9) != 0) {
            snprintf(err, errlen, "XGROUP CREATE %s: %s", keys[s], out[s]->str);
            rc = -1;
        }
    }
    for (int s = 0; s < n; s++)
        if (out[s]) freeReplyObject(out[s]);
    hq_free(out);
    hq_free(cmds);
    hq_free(argv);
    hq_free(keys);
    return rc;
}

/* Redis Cluster: a client exists and knows the topology. A new client (at
 * start or after producer_redis_drop) loads the functions on every master
 * and makes sure every shard's group exists, like a plain reconnect does.
 * Failovers and slot moves are followed inside hq_cluster, without a drop. */
static int cluster_ensure(struct producer *p)
{
    if (p->cluster) return 0;
    if (!connect_allowed(p)) return -1;
    char err[256];
    hq_cluster *c = hq_cluster_new(&p->rurl, (int)p->cfg.redis_timeout_ms);
    hq_cluster_set_wait(c, (int)p->cfg.redis_wait, (int)p->cfg.redis_timeout_ms / 2);
    p->cluster = c;
    if (hq_cluster_refresh(c, err, sizeof err) != 0 || hq_cluster_load_functions(c, err, sizeof err) != 0 ||
        cluster_ensure_groups(p, err, sizeof err) != 0) {
        hq_warn("redis cluster setup failed", "error", err);
        count_redis_error(p);
        producer_redis_drop(p);
        return -1;
    }
    hq_info("redis cluster connected", "masters", hq_cluster_master_addr(c, 0));
    return 0;
}

int producer_ensure_groups(struct producer *p, redisContext *c, char *err, size_t errlen)
{
    if (p->rurl.kind == HQ_REDIS_CLUSTER && !c) return cluster_ensure_groups(p, err, errlen);
    int n = (int)p->cfg.shards;
    char (*keys)[HQ_KEY_MAX] = hq_calloc((size_t)n, HQ_KEY_MAX);
    int rc = 0;
    for (int s = 0; s < n; s++) {
        hq_key(keys[s], HQ_KEY_MAX, p->cfg.prefix, s, "stream");
        const char *argv[] = { "XGROUP", "CREATE", keys[s], HQ_GROUP, "0", "MKSTREAM" };
        redisAppendCommandArgv(c, 6, argv, NULL);
    }
    for (int s = 0; s < n; s++) {
        void *v = NULL;
        if (redisGetReply(c, &v) != REDIS_OK || !v) {
            snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection lost");
            rc = -1;
            break;
        }
        redisReply *r = v;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0 && rc == 0) {
            snprintf(err, errlen, "XGROUP CREATE %s: %s", keys[s], r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    hq_free(keys);
    return rc;
}

/* After a failed call: 1 if the connection was found closed (EOF, reset,
 * broken pipe), so a fresh connection may simply retry; 0 for timeouts and
 * everything else. */
static int failure_is_stale(const redisContext *c, int saved_errno)
{
    if (c->err == REDIS_ERR_EOF) return 1;
    if (c->err == REDIS_ERR_IO)
        return saved_errno == ECONNRESET || saved_errno == EPIPE || saved_errno == ENOTCONN;
    return 0;
}

static void log_failure(const redisContext *c)
{
    hq_warn("redis command failed", "error", c->errstr[0] ? c->errstr : "connection lost");
}

/* Reloads the library after "Function not found". 0 or -1 (connection dropped). */
static int reload_functions(struct producer *p)
{
    char err[256];
    hq_warn("redis functions missing; reloading");
    if (hq_redis_load_functions(p->rc, err, sizeof err) != 0) {
        hq_warn("redis function load failed", "error", err);
        producer_redis_drop(p);
        return -1;
    }
    return 0;
}

/* Redis Cluster: one command through hq_cluster (routing, redirects,
 * function reload per node). NULL when the cluster is unavailable. */
static redisReply *cluster_cmd(struct producer *p, const producer_cmd *cmd)
{
    if (producer_redis_ensure(p) != 0) {
        count_redis_error(p);
        return NULL;
    }
    char err[256];
    redisReply *r = hq_cluster_command(p->cluster, cmd->argc, PRODUCER_CMD_ARGV(cmd), PRODUCER_CMD_LEN(cmd), err,
                                      sizeof err);
    if (!r) {
        hq_warn("redis command failed", "error", err);
        count_redis_error(p);
    }
    return r;
}

/* HOOKQ_REDIS_WAIT > 0 (plain and Sentinel connections): WAIT for that many
 * replicas after a command. 1 when fewer confirmed (or the connection
 * failed; it is then dropped): the write is on the master only and a
 * failover could lose it, so the caller answers 503 and the client's retry
 * (idempotent for publishes) decides. */
static int replicas_short(struct producer *p)
{
    char n[16], t[24];
    snprintf(n, sizeof n, "%lld", p->cfg.redis_wait);
    snprintf(t, sizeof t, "%lld", (long long)(p->cfg.redis_timeout_ms / 2));
    const char *argv[] = { "WAIT", n, t };
    redisReply *r = redisCommandArgv(p->rc, 3, argv, NULL);
    if (!r) {
        log_failure(p->rc);
        producer_redis_drop(p);
        return 1;
    }
    int shortfall = r->type != REDIS_REPLY_INTEGER || r->integer < p->cfg.redis_wait;
    if (shortfall)
        hq_warn("redis WAIT: too few replicas confirmed the write", "error",
                r->type == REDIS_REPLY_ERROR ? r->str : "");
    freeReplyObject(r);
    return shortfall;
}

/* redis-sentinel:// only: an error reply saying the node we hold is no
 * longer the master (after a failover it was turned into a replica, and a
 * replica refuses writes). Drops the connection so the next attempt asks
 * the sentinels again. 1 if so. */
static int demoted(struct producer *p, const redisReply *r)
{
    if (p->rurl.kind != HQ_REDIS_SENTINEL || strncmp(r->str, "READONLY", 8) != 0) return 0;
    hq_warn("redis master was demoted (Sentinel failover); reconnecting");
    producer_redis_drop(p);
    p->last_connect_ns = 0;
    return 1;
}

redisReply *producer_redis_cmd(struct producer *p, const producer_cmd *cmd)
{
    if (p->rurl.kind == HQ_REDIS_CLUSTER) return cluster_cmd(p, cmd);
    int reloaded = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (producer_redis_ensure(p) != 0) {
            count_redis_error(p);
            return NULL;
        }
        errno = 0;
        redisReply *r = redisCommandArgv(p->rc, cmd->argc, PRODUCER_CMD_ARGV(cmd), PRODUCER_CMD_LEN(cmd));
        int saved = errno;
        if (!r) {
            int stale = failure_is_stale(p->rc, saved);
            log_failure(p->rc);
            producer_redis_drop(p);
            if (stale && !p->req_reconnected) continue;
            count_redis_error(p);
            return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR && hq_redis_is_nofunc(r->str) && !reloaded) {
            freeReplyObject(r);
            reloaded = 1;
            if (reload_functions(p) != 0) {
                count_redis_error(p);
                return NULL;
            }
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR && demoted(p, r)) {
            freeReplyObject(r);
            continue; /* reconnects through Sentinel to the new master */
        }
        if (p->cfg.redis_wait > 0 && replicas_short(p)) {
            freeReplyObject(r);
            count_redis_error(p);
            return NULL;
        }
        return r;
    }
    count_redis_error(p);
    return NULL;
}

/* After "Function not found" replies in out: reloads the library and
 * re-runs just the commands that failed, one by one (a rare path). 0, or -1
 * with every reply freed and the connection dropped. */
static int rerun_nofunc(struct producer *p, const producer_cmd *cmds, int n, redisReply **out)
{
    if (reload_functions(p) != 0) {
        for (int i = 0; i < n; i++) freeReplyObject(out[i]);
        count_redis_error(p);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!(out[i]->type == REDIS_REPLY_ERROR && hq_redis_is_nofunc(out[i]->str))) continue;
        freeReplyObject(out[i]);
        out[i] = redisCommandArgv(p->rc, cmds[i].argc, PRODUCER_CMD_ARGV(&cmds[i]), PRODUCER_CMD_LEN(&cmds[i]));
        if (!out[i]) {
            log_failure(p->rc);
            for (int j = 0; j < n; j++)
                if (j != i && out[j]) freeReplyObject(out[j]);
            producer_redis_drop(p);
            count_redis_error(p);
            return -1;
        }
    }
    return 0;
}

/* Redis Cluster: the pipeline is split per node and reassembled in order. */
static int cluster_pipeline(struct producer *p, const producer_cmd *cmds, int n, redisReply **out)
{
    if (producer_redis_ensure(p) != 0) {
        count_redis_error(p);
        return -1;
    }
    hq_cluster_cmd *cc = hq_calloc((size_t)n, sizeof *cc);
    for (int i = 0; i < n; i++) {
        cc[i].argc = cmds[i].argc;
        cc[i].argv = PRODUCER_CMD_ARGV(&cmds[i]);
        cc[i].lens = PRODUCER_CMD_LEN(&cmds[i]);
    }
    char err[256];
    int rc = hq_cluster_pipeline(p->cluster, cc, n, out, err, sizeof err);
    hq_free(cc);
    if (rc != 0) {
        hq_warn("redis pipeline failed", "error", err);
        count_redis_error(p);
    }
    return rc;
}

int producer_redis_pipeline(struct producer *p, const producer_cmd *cmds, int n, redisReply **out)
{
    if (n <= 0) return 0;
    if (p->rurl.kind == HQ_REDIS_CLUSTER) return cluster_pipeline(p, cmds, n, out);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (producer_redis_ensure(p) != 0) {
            count_redis_error(p);
            return -1;
        }
        for (int i = 0; i < n; i++)
            redisAppendCommandArgv(p->rc, cmds[i].argc, PRODUCER_CMD_ARGV(&cmds[i]), PRODUCER_CMD_LEN(&cmds[i]));
        int got = 0, saved = 0;
        for (; got < n; got++) {
            void *r = NULL;
            errno = 0;
            if (redisGetReply(p->rc, &r) != REDIS_OK || !r) {
                saved = errno;
                break;
            }
            out[got] = r;
        }
        if (got < n) {
            for (int i = 0; i < got; i++) freeReplyObject(out[i]);
            int stale = failure_is_stale(p->rc, saved) && got == 0;
            log_failure(p->rc);
            producer_redis_drop(p);
            if (stale && !p->req_reconnected) continue;
            count_redis_error(p);
            return -1;
        }
        int nofunc = 0, ro = 0;
        for (int i = 0; i < n; i++) {
            if (out[i]->type == REDIS_REPLY_ERROR && hq_redis_is_nofunc(out[i]->str)) nofunc++;
            if (out[i]->type == REDIS_REPLY_ERROR && demoted(p, out[i])) ro++;
        }
        if (ro) {
            for (int i = 0; i < n; i++) freeReplyObject(out[i]);
            continue; /* nothing was written: reconnect through Sentinel and redo */
        }
        if (p->cfg.redis_wait > 0 && replicas_short(p)) {
            for (int i = 0; i < n; i++) freeReplyObject(out[i]);
            count_redis_error(p);
            return -1;
        }
        return nofunc ? rerun_nofunc(p, cmds, n, out) : 0;
    }
    count_redis_error(p);
    return -1;
}

/* ---- pipelined commands answered from the loop ----
 * producer_redis_pipeline_async writes a pipeline on the one connection and
 * queues it (pend_*); the readable callback hands the replies, in order, to
 * the pipelines at the head of the queue; a complete one moves to ready_*
 * and its callback runs from the loop (never from inside another helper, so
 * a callback may use every helper). A synchronous helper first reads the
 * replies still due (drain_pending): it then owns an idle connection. */

enum { PEND_WAIT, PEND_DONE, PEND_FAIL, PEND_RETRY };

/* Pipelines in flight at most: past that a batch waits for them (the
 * synchronous path), which bounds the bodies held and stops reading new
 * requests the way a synchronous producer does. A few keep Redis busy. */
#define PEND_MAX 8

typedef struct producer_pending {
    struct producer_pending *next;
    const producer_cmd *cmds;
    int n, got;
    redisReply **out;
    int state;                   /* PEND_*: RETRY = nothing answered on a closed connection */
    producer_pipeline_cb cb;
    void *arg;
} producer_pending;

static void run_ready(struct producer *p);

static void on_ready_timer(uv_timer_t *t)
{
    run_ready(t->data);
}

static void ready_push(struct producer *p, producer_pending *op)
{
    op->next = NULL;
    if (p->ready_tail) p->ready_tail->next = op;
    else p->ready_head = op;
    p->ready_tail = op;
    if (!p->in_ready && p->async_on) uv_timer_start(&p->rready, on_ready_timer, 0, 0);
}

static void on_rpoll_closed(uv_handle_t *h)
{
    hq_free(h);
}

/* Closes the readable watch (before its socket is closed). */
static void rpoll_close(struct producer *p)
{
    if (!p->rpoll) return;
    uv_close((uv_handle_t *)p->rpoll, on_rpoll_closed);
    p->rpoll = NULL;
}

/* Every pipeline in flight fails (its replies so far freed), or, with
 * retry, one with no reply yet is run again synchronously (the connection
 * was found closed before answering it, as producer_redis_pipeline retries). */
static void abort_pending(struct producer *p, int retry)
{
    producer_pending *op;
    while ((op = p->pend_head)) {
        p->pend_head = op->next;
        p->npend--;
        if (retry && op->got == 0) {
            op->state = PEND_RETRY;
        } else {
            for (int i = 0; i < op->got; i++) freeReplyObject(op->out[i]);
            op->got = 0;
            op->state = PEND_FAIL;
            count_redis_error(p);
        }
        ready_push(p, op);
    }
    p->pend_tail = NULL;
    if (p->async_on) uv_timer_stop(&p->rtimeout);
    if (p->rpoll) uv_poll_stop(p->rpoll);
}

/* After a failed read or write on the connection with pipelines in flight. */
static void connection_failed(struct producer *p, int saved_errno)
{
    int stale = failure_is_stale(p->rc, saved_errno);
    log_failure(p->rc);
    abort_pending(p, stale);
    producer_redis_drop(p);
}

/* One reply, for the pipeline at the head of the queue. */
static void take_reply(struct producer *p, redisReply *r)
{
    producer_pending *op = p->pend_head;
    op->out[op->got++] = r;
    if (op->got < op->n) return;
    p->pend_head = op->next;
    if (!p->pend_head) p->pend_tail = NULL;
    p->npend--;
    op->state = PEND_DONE;
    ready_push(p, op);
}

/* Reads every reply still due, blocking (the synchronous helpers' entry). */
static void drain_pending(struct producer *p)
{
    while (p->pend_head) {
        void *r = NULL;
        errno = 0;
        if (redisGetReply(p->rc, &r) != REDIS_OK || !r) {
            connection_failed(p, errno);
            return;
        }
        take_reply(p, r);
    }
    if (p->async_on) uv_timer_stop(&p->rtimeout);
    if (p->rpoll) uv_poll_stop(p->rpoll);
}

static void on_redis_readable(uv_poll_t *h, int status, int events);

/* 1 if a read on rc's socket returns at once: data, end of file or a
 * pending socket error (a reset). */
static int socket_ready(const struct producer *p)
{
    struct pollfd pfd = { .fd = p->rc ? p->rc->fd : -1, .events = POLLIN };
    return pfd.fd >= 0 && poll(&pfd, 1, 0) == 1;
}

/* HOOKQ_REDIS_TIMEOUT passed on the loop's clock with replies still due.
 * Libuv runs timers before it polls, so after the loop was held up (a long
 * blocking write, the process descheduled or stopped) replies that arrived
 * meanwhile may be waiting unread: those are read first, and only a socket
 * with nothing to read fails the pipelines in flight. */
static void on_redis_timeout(uv_timer_t *t)
{
    struct producer *p = t->data;
    if (!p->pend_head) return;
    if (p->rpoll && socket_ready(p)) {
        on_redis_readable(p->rpoll, 0, UV_READABLE);
        return;
    }
    hq_warn("redis command failed", "error", "timeout waiting for a reply");
    abort_pending(p, 0);
    producer_redis_drop(p);
    run_ready(p);
}

static void on_redis_readable(uv_poll_t *h, int status, int events)
{
    struct producer *p = h->data;
    (void)events;
    if (!p->pend_head || !p->rc) return;
    /* libuv reports POLLERR (e.g. the peer reset the connection) as a
     * negative status and stops the watch. The read below tells what it
     * was, as the synchronous path learns it: replies that came first, then
     * the socket's error (ECONNRESET: a stale connection, whose unanswered
     * pipelines are retried) */
    if (status < 0 && socket_ready(p)) {
        status = 0;
        uv_poll_start(h, UV_READABLE, on_redis_readable);
    }
    errno = 0;
    if (status < 0 || redisBufferRead(p->rc) != REDIS_OK) {
        connection_failed(p, status < 0 ? EIO : errno);
        run_ready(p);
        return;
    }
    while (p->pend_head) {
        void *r = NULL;
        if (redisGetReplyFromReader(p->rc, &r) != REDIS_OK) {
            connection_failed(p, 0);
            break;
        }
        if (!r) break;
        take_reply(p, r);
    }
    if (p->pend_head) {
        uv_update_time(p->loop);
        uv_timer_start(&p->rtimeout, on_redis_timeout, (uint64_t)p->cfg.redis_timeout_ms, 0);
    } else {
        uv_timer_stop(&p->rtimeout);
        if (p->rpoll) uv_poll_stop(p->rpoll);
    }
    run_ready(p);
}

/* A pipeline whose replies are all in: what producer_redis_pipeline does
 * after reading them (a demoted master: redo; missing functions: reload and
 * re-run the failed commands). 0 or -1 (out then holds nothing). */
static int settle(struct producer *p, producer_pending *op)
{
    int odd = 0, nofunc = 0, ro = 0;
    for (int i = 0; i < op->n && !odd; i++)
        odd = op->out[i]->type == REDIS_REPLY_ERROR &&
              (hq_redis_is_nofunc(op->out[i]->str) || strncmp(op->out[i]->str, "READONLY", 8) == 0);
    if (!odd) return 0;
    /* the rare paths below use the connection synchronously (and may drop
     * it): first take in what is still due on it */
    drain_pending(p);
    for (int i = 0; i < op->n; i++) {
        if (op->out[i]->type == REDIS_REPLY_ERROR && hq_redis_is_nofunc(op->out[i]->str)) nofunc++;
        if (op->out[i]->type == REDIS_REPLY_ERROR && demoted(p, op->out[i])) ro++;
    }
    if (ro) {
        for (int i = 0; i < op->n; i++) freeReplyObject(op->out[i]);
        return producer_redis_pipeline(p, op->cmds, op->n, op->out);
    }
    if (!nofunc) return 0;
    if (!p->rc) {
        for (int i = 0; i < op->n; i++) freeReplyObject(op->out[i]);
        count_redis_error(p);
        return -1;
    }
    return rerun_nofunc(p, op->cmds, op->n, op->out);
}

static void run_ready(struct producer *p)
{
    if (p->in_ready) return;
    p->in_ready = 1;
    producer_pending *op;
    while ((op = p->ready_head)) {
        p->ready_head = op->next;
        if (!p->ready_head) p->ready_tail = NULL;
        p->req_reconnected = 0;
        int rc = op->state == PEND_DONE    ? settle(p, op)
                 : op->state == PEND_RETRY ? producer_redis_pipeline(p, op->cmds, op->n, op->out)
                                           : -1;
        op->cb(p, op->arg, rc, op->out);
        hq_free(op);
    }
    p->in_ready = 0;
}

void producer_redis_pipeline_async(struct producer *p, const producer_cmd *cmds, int n, redisReply **out,
                                   producer_pipeline_cb cb, void *arg)
{
    if (n <= 0 || !p->async_on || p->stopping || p->rurl.kind == HQ_REDIS_CLUSTER || p->cfg.redis_wait > 0 ||
        !p->rc || p->rc->err || p->npend >= PEND_MAX) {
        int rc = producer_redis_pipeline(p, cmds, n, out);
        cb(p, arg, rc, out);
        return;
    }
    producer_pending *op = hq_calloc(1, sizeof *op);
    op->cmds = cmds;
    op->n = n;
    op->out = out;
    op->cb = cb;
    op->arg = arg;
    for (int i = 0; i < n; i++)
        redisAppendCommandArgv(p->rc, cmds[i].argc, PRODUCER_CMD_ARGV(&cmds[i]), PRODUCER_CMD_LEN(&cmds[i]));
    /* a blocking write: while Redis still runs the calls before, it returns
     * once Redis has read far enough; the loop then goes on with the next
     * request while Redis runs these */
    int done = 0;
    errno = 0;
    while (!done)
        if (redisBufferWrite(p->rc, &done) != REDIS_OK) break;
    if (!done) {
        /* this pipeline may be partly written: as producer_redis_pipeline,
         * retried only when the connection was found closed */
        int saved = errno, stale = failure_is_stale(p->rc, saved);
        connection_failed(p, saved);
        op->state = stale ? PEND_RETRY : PEND_FAIL;
        if (!stale) count_redis_error(p);
        ready_push(p, op);
        return;
    }
    op->state = PEND_WAIT;
    int was_idle = !p->pend_head;
    if (p->pend_tail) p->pend_tail->next = op;
    else p->pend_head = op;
    p->pend_tail = op;
    p->npend++;
    if (!p->rpoll) {
        p->rpoll = hq_calloc(1, sizeof *p->rpoll);
        int prc = uv_poll_init(p->loop, p->rpoll, p->rc->fd);
        if (prc != 0) {
            /* cannot watch the socket: wait for these replies here (the
             * callbacks still run from the loop) */
            hq_warn("redis socket cannot be polled; waiting for the replies", "error", uv_strerror(prc));
            hq_free(p->rpoll);
            p->rpoll = NULL;
            drain_pending(p);
            return;
        }
        p->rpoll->data = p;
        /* uv_poll_init made the socket non-blocking; hiredis' synchronous
         * calls (and their timeouts) need it blocking */
        int fl = fcntl(p->rc->fd, F_GETFL);
        if (fl != -1) (void)fcntl(p->rc->fd, F_SETFL, fl & ~O_NONBLOCK);
    }
    if (was_idle) {
        uv_poll_start(p->rpoll, UV_READABLE, on_redis_readable);
        uv_update_time(p->loop); /* the write may have blocked a while */
        uv_timer_start(&p->rtimeout, on_redis_timeout, (uint64_t)p->cfg.redis_timeout_ms, 0);
    }
}

void producer_redis_async_init(struct producer *p)
{
    uv_timer_init(p->loop, &p->rtimeout);
    uv_timer_init(p->loop, &p->rready);
    p->rtimeout.data = p->rready.data = p;
    p->async_on = 1;
}

void producer_redis_async_close(struct producer *p)
{
    if (!p->async_on) return;
    drain_pending(p);
    run_ready(p);
    rpoll_close(p);
    uv_timer_stop(&p->rtimeout);
    uv_timer_stop(&p->rready);
    uv_close((uv_handle_t *)&p->rtimeout, NULL);
    uv_close((uv_handle_t *)&p->rready, NULL);
    p->async_on = 0;
}

int producer_reply_failed(struct producer *p, const redisReply *r)
{
    if (!r) return 1;
    if (r->type == REDIS_REPLY_ERROR) {
        hq_warn("redis error reply", "error", r->str);
        count_redis_error(p);
        return 1;
    }
    return 0;
}

/* ---- responses ---- */

/* Counts an answer in hookq_http_requests_total{code}; also the HTTP
 * server's own answers to requests it could not parse or would not read
 * (400, 413, 431: hq_http_on_error). */
void producer_count_answer(int status, void *arg)
{
    struct producer *p = arg;
    char labels[32];
    snprintf(labels, sizeof labels, "code=\"%d\"", status);
    hq_metric *m = hq_metrics_get(p->metrics, HQ_COUNTER, "hookq_http_requests_total",
                                  "HTTP requests answered by the producer, by status code", labels, NULL, 0);
    if (m) hq_metric_add(m, 1);
}

void producer_respond(struct producer *p, hq_http_req *req, int status, const char *ctype,
                      const char *extra_headers, const char *body, size_t len)
{
    producer_count_answer(status, p);
    p->last_status = status;
    hq_http_respond(req, status, ctype, extra_headers, body, len);
}

void producer_json(struct producer *p, hq_http_req *req, int status, json_t *body, const char *extra_headers)
{
    if (!body) {
        producer_respond(p, req, status, NULL, extra_headers, NULL, 0);
        return;
    }
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s) {
        producer_respond(p, req, 500, "application/json", NULL,
                         "{\"error\":{\"code\":\"internal\",\"message\":\"cannot encode the answer\"}}", 67);
        return;
    }
    producer_respond(p, req, status, "application/json", extra_headers, s, strlen(s));
    free(s);
}

json_t *producer_error_obj(const char *code, const char *msg, const char *field)
{
    json_t *e = json_object();
    json_object_set_new(e, "code", json_string(code));
    json_object_set_new(e, "message", json_string(msg ? msg : ""));
    if (field && *field) json_object_set_new(e, "field", json_string(field));
    json_t *o = json_object();
    json_object_set_new(o, "error", e);
    return o;
}

void producer_error(struct producer *p, hq_http_req *req, int status, const char *code,
                    const char *msg, const char *field)
{
    const char *extra = NULL;
    if (status == 401) extra = "WWW-Authenticate: Bearer\r\n";
    else if (status == 503) extra = "Retry-After: 1\r\n";
    producer_json(p, req, status, producer_error_obj(code, msg, field), extra);
}

void producer_unavailable(struct producer *p, hq_http_req *req)
{
    producer_error(p, req, 503, "redis_unavailable", "Redis is unavailable; retry shortly", NULL);
}

void producer_method_not_allowed(struct producer *p, hq_http_req *req, const char *allow)
{
    char extra[128];
    snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
    char msg[160];
    snprintf(msg, sizeof msg, "method %s is not allowed here (allowed: %s)", req->method, allow);
    producer_json(p, req, 405, producer_error_obj("method_not_allowed", msg, NULL), extra);
}

void producer_not_found(struct producer *p, hq_http_req *req, const char *msg)
{
    producer_error(p, req, 404, "not_found", msg, NULL);
}

json_t *producer_parse_body(struct producer *p, hq_http_req *req, int empty_ok)
{
    if (empty_ok) {
        size_t i = 0;
        while (i < req->body_len && strchr(" \t\r\n", req->body[i])) i++;
        if (i == req->body_len) return json_object();
    }
    json_error_t jerr;
    json_t *v = hq_json_parse(req->body, req->body_len, &jerr);
    if (!v) {
        char msg[400];
        snprintf(msg, sizeof msg, "invalid JSON: %s at line %d column %d position %d", jerr.text, jerr.line,
                 jerr.column, jerr.position);
        producer_error(p, req, 400, "malformed_json", msg, NULL);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        producer_error(p, req, 400, "invalid_body", "the request body must be a JSON object", NULL);
        return NULL;
    }
    return v;
}

/* ---- endpoints ---- */

void producer_ep_free(producer_ep *e)
{
    hq_endpoint_free(&e->ep);
    memset(e, 0, sizeof *e);
}

static int64_t reply_ll(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_STRING) return 0;
    long long v;
    if (hq_parse_ll(r->str, &v) != 0) return 0;
    return v;
}

int producer_ep_parse(const struct producer *p, const redisReply *r, int shard, producer_ep *out)
{
    memset(out, 0, sizeof *out);
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != PRODUCER_EP_NFIELDS) return -1;
    const redisReply *cfg = r->element[0];
    if (cfg->type != REDIS_REPLY_STRING) return 0;  /* gone */
    char why[300];
    int lr = hq_endpoint_from_storage(cfg->str, cfg->len, p->keyring, &out->ep, why, sizeof why);
    if (lr == -1) return -1;
    if (lr != 0) hq_warn("stored endpoint secrets cannot be decrypted", "error", why);
    const redisReply *act = r->element[1];
    out->ep.is_active = act->type == REDIS_REPLY_STRING ? strcmp(act->str, "1") == 0 : out->ep.is_active;
    hq_free(out->ep.disabled_reason);
    out->ep.disabled_reason = NULL;
    out->ep.disabled_ms = 0;
    if (r->element[2]->type == REDIS_REPLY_STRING && r->element[2]->len > 0)
        out->ep.disabled_reason = hq_strndup(r->element[2]->str, r->element[2]->len);
    out->ep.disabled_ms = reply_ll(r->element[3]);
    out->fails = reply_ll(r->element[4]);
    out->ff_ms = reply_ll(r->element[5]);
    out->ok_ms = reply_ll(r->element[6]);
    if (r->element[7]->type == REDIS_REPLY_STRING)
        snprintf(out->ver, sizeof out->ver, "%s", r->element[7]->str);
    out->shard = shard;
    return 1;
}

void producer_ep_hmget(const struct producer *p, int shard, const char *id, char *key, producer_cmd *cmd)
{
    hq_key(key, HQ_KEY_MAX, p->cfg.prefix, shard, "ep:%s", id);
    producer_cmd_init(cmd);
    producer_cmd_add(cmd, "HMGET");
    producer_cmd_add(cmd, key);
    producer_cmd_add(cmd, "cfg");
    producer_cmd_add(cmd, "act");
    producer_cmd_add(cmd, "dis_reason");
    producer_cmd_add(cmd, "dis_at");
    producer_cmd_add(cmd, "fails");
    producer_cmd_add(cmd, "ff");
    producer_cmd_add(cmd, "ok_at");
    producer_cmd_add(cmd, "ver");
}

int producer_ep_load(struct producer *p, hq_http_req *req, const char *id, producer_ep *out)
{
    memset(out, 0, sizeof *out);
    int shard = strlen(id) < 32 && strncmp(id, "ep_", 3) == 0 ? hq_shard_of_id(id, (int)p->cfg.shards) : -1;
    if (shard < 0) {
        producer_not_found(p, req, "no endpoint with this id");
        return -1;
    }
    char key[HQ_KEY_MAX];
    producer_cmd cmd;
    producer_ep_hmget(p, shard, id, key, &cmd);
    redisReply *r = producer_redis_cmd(p, &cmd);
    if (producer_reply_failed(p, r)) {
        if (r) freeReplyObject(r);
        producer_unavailable(p, req);
        return -1;
    }
    int rc = producer_ep_parse(p, r, shard, out);
    freeReplyObject(r);
    if (rc < 0) {
        hq_error("stored endpoint cannot be loaded", "endpoint", id);
        producer_error(p, req, 500, "internal", "the stored endpoint cannot be read", NULL);
        return -1;
    }
    char org[4 * 128 + 2];   /* the longest org (128 characters of 4 bytes), and one byte to tell a longer value */
    if (rc == 0 || strcmp(out->ep.id, id) != 0 ||
        (hq_http_query(req, "org_id", org, sizeof org) && strcmp(org, out->ep.org_id) != 0)) {
        producer_ep_free(out);
        producer_not_found(p, req, "no endpoint with this id");
        return -1;
    }
    return 0;
}

static json_t *ms_or_null(int64_t ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    hq_rfc3339(ms, buf);
    return json_string(buf);
}

json_t *producer_ep_view(const producer_ep *e, int include_secret)
{
    json_t *o = hq_endpoint_to_api(&e->ep, include_secret);
    json_t *h = json_object();
    json_object_set_new(h, "consecutive_failures", json_integer(e->fails));
    json_object_set_new(h, "failing_since", e->fails > 0 ? ms_or_null(e->ff_ms) : json_null());
    json_object_set_new(h, "last_success_at", ms_or_null(e->ok_ms));
    json_object_set_new(o, "health", h);
    return o;
}

/* ---- router ---- */

static int check_auth(struct producer *p, hq_http_req *req)
{
    const char *h = hq_http_header(req, "authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        const char *t = h + 7;
        while (*t == ' ') t++;
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
        if (n > 0 && hq_ct_equal(t, n, p->cfg.api_token, strlen(p->cfg.api_token))) return 1;
    }
    producer_error(p, req, 401, "unauthorized",
                   h ? "invalid bearer token" : "missing Authorization: Bearer <token> header", NULL);
    return 0;
}

static int is_get(const hq_http_req *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static void route_health(struct producer *p, hq_http_req *req)
{
    const char *path = req->path;
    if (!is_get(req)) {
        producer_method_not_allowed(p, req, "GET, HEAD");
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        producer_json(p, req, 200, json_pack("{s:s}", "status", "ok"), NULL);
    } else if (strcmp(path, "/readyz") == 0) {
        producer_cmd cmd;
        producer_cmd_init(&cmd);
        producer_cmd_add(&cmd, "PING");
        redisReply *r = producer_redis_cmd(p, &cmd);
        int ok = !producer_reply_failed(p, r);
        if (r) freeReplyObject(r);
        if (ok) producer_json(p, req, 200, json_pack("{s:s}", "status", "ok"), NULL);
        else producer_error(p, req, 503, "redis_unavailable", "Redis does not answer PING", NULL);
    } else {
        hq_buf b;
        hq_buf_init(&b, 0);
        hq_metrics_render(p->metrics, &b);
        producer_respond(p, req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, b.data ? b.data : "",
                         b.len);
        hq_buf_free(&b);
    }
}

static void route_v1(struct producer *p, hq_http_req *req)
{
    const char *path = req->path;
    if (!check_auth(p, req)) return;
    int post = strcmp(req->method, "POST") == 0;
    if (strcmp(path, "/v1/events") == 0) {
        if (post) producer_events_post(p, req);
        else producer_method_not_allowed(p, req, "POST");
        return;
    }
    if (strcmp(path, "/v1/events/batch") == 0) {
        /* GET is GET /v1/events/{id} of an event whose id is "batch" */
        if (post) producer_events_batch(p, req);
        else if (strcmp(req->method, "GET") == 0 && producer_inspect_route(p, req, path)) {}
        else producer_method_not_allowed(p, req, "GET, POST");
        return;
    }
    if (strncmp(path, "/v1/endpoints", 13) == 0 && (path[13] == '\0' || path[13] == '/')) {
        if (producer_endpoints_route(p, req, path + 13)) return;
    }
    if (producer_inspect_route(p, req, path)) return;
    if (producer_event_types_route(p, req, path)) return;
    producer_not_found(p, req, "no such route");
}

void producer_handle(hq_http_req *req, void *arg)
{
    struct producer *p = arg;
    p->req_reconnected = 0;
    p->last_status = 0;
    int debug = hq_log_enabled(HQ_LOG_DEBUG);
    char path[256] = "";
    const char *method = req->method;
    uint64_t t0 = debug ? hq_mono_ns() : 0;
    if (debug) snprintf(path, sizeof path, "%s", req->path);

    if (strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/readyz") == 0 ||
        strcmp(req->path, "/metrics") == 0)
        route_health(p, req);
    else if (strncmp(req->path, "/v1/", 4) == 0)
        route_v1(p, req);
    else if (!producer_ui_route(p, req))
        producer_not_found(p, req, "no such route");

    if (debug) {
        char st[16], ms[32];
        snprintf(st, sizeof st, "%d", p->last_status);
        snprintf(ms, sizeof ms, "%.3f", (double)(hq_mono_ns() - t0) / 1e6);
        hq_debug("request", "method", method, "path", path, "status", st, "ms", ms);
    }
}
