/* worker: the delivery loop. One libuv loop runs everything:
 *
 *  - two hiredis async connections (hq_redis_uv adapter) per lane: "reader"
 *    only ever has one blocking XREADGROUP outstanding over its shards'
 *    streams; "cmd" carries the rest (hookq_load, hookq_complete, the cron's
 *    promote/reclaim/heartbeat/sampling). Each connection has a deadline
 *    (5 s beyond any BLOCK time) and reconnects with backoff (100 ms doubling
 *    to 5 s); on connect it sends PING, AUTH/SELECT per the URL and, on cmd,
 *    FUNCTION LOAD REPLACE and XGROUP CREATE for every shard.
 *  - a uv_prepare_t (drive) that runs once per loop iteration, before the
 *    loop blocks, and batches: one load per shard for the entries claimed
 *    since the last iteration (MULTI, hookq_load for the endpoints, an HMGET
 *    per event, EXEC), one hookq_complete per shard for the outcomes decided
 *    since (Redis beforeSleep style), and the next read as soon as claim
 *    slots are free.
 *  - one cron timer (100 ms) with run_with_period-style periods.
 *  - every connection's replies are built in an arena of its own ("reply
 *    objects" below) rather than one malloc per reply element.
 *
 * Redis lanes (struct rlane in worker.h): on a single Redis one lane
 * carries every shard, as described above. On Redis Cluster each shard has
 * its own lane, connected
 * to the master owning the shard's slot (one XREADGROUP may not span slots),
 * and the heartbeat keys have one cmd-only lane each. MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN and connection losses make the cron re-read the slot map
 * (CLUSTER SLOTS, blocking, short timeout, with backoff); a lane whose slot
 * moved reconnects to the new owner, and the commands that failed (loads,
 * outcomes) are put back and go again, to the new owner.
 *
 * Outcomes are never dropped while the process runs: a failed flush puts
 * them back and they go again after the reconnect. If the process dies, the
 * entries are still pending in Redis and another worker reclaims them (a
 * duplicate attempt, which the at-least-once contract allows). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stddef.h>
#include "hq_alloc.h"
#include "hq_id.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "hq_redis_uv.h"
#include "worker.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

#define REPLY_DEADLINE_MS 5000
#define BLOCK_MS 1000
#define LOAD_BATCH 256
#define COMPLETE_BATCH 200
#define CRON_MS 100
#define HOLD_MS 1000

/* The lane serving shard s: the only one on a single Redis, its own on a
 * cluster. */
#define RLANE(w, s) ((w)->cluster ? (s) : 0)

enum rkind { R_SETUP, R_FLOAD, R_GROUP, R_READ, R_LOAD, R_COMPLETE, R_PROMOTE, R_RECLAIM,
             R_SAMPLE, R_OTHER };

/* One command in flight on a connection; the reply callback's privdata. */
struct rcmd {
    struct rcmd *next;
    struct conn *c;
    enum rkind kind;
    int setup;                 /* part of the connect sequence */
    int64_t sent_ms;
    int shard;
    int sub;                   /* R_SAMPLE: which command */
    struct delivery *list;     /* R_LOAD / R_COMPLETE batch (linked by next) */
    int nlist;
    int nev, nep;              /* R_LOAD: unique keys */
    struct epentry **eps;
};

static void conn_connect(struct conn *c);
static void drive(struct hq_worker *w);

/* ------------------------------------------------------------------ */
/* lists */

static void list_push(struct delivery **head, struct delivery **tail, struct delivery *d)
{
    d->next = NULL;
    if (*tail) (*tail)->next = d;
    else *head = d;
    *tail = d;
}

/* Puts a whole batch back at the front (it was sent first, so it goes first). */
static void list_prepend(struct delivery **head, struct delivery **tail, struct delivery *list)
{
    if (!list)
        return;
    struct delivery *last = list;
    while (last->next)
        last = last->next;
    last->next = *head;
    *head = list;
    if (!*tail)
        *tail = last;
}

/* ------------------------------------------------------------------ */
/* reply objects, allocated from a per-connection arena
 *
 * hiredis 0.14's default reader allocates every reply element on its own
 * (a calloc for the redisReply, a malloc for its string, a calloc for an
 * array's element vector) and freeReplyObject frees them one by one: a
 * claimed delivery arrives as ~18 strings and 2 arrays (XREADGROUP entry,
 * HMGET of its event), ~45 allocations and as many frees per delivery in
 * hiredis alone, interleaved with the long-lived allocations of in-flight
 * deliveries (heap fragmentation at 5,000 in flight; with the single
 * allocations of deliveries and events below, the worker's allocation
 * calls per delivery went from ~106 to ~47, heaptrack of slow5k). The
 * reader of every worker connection (the arena lives in its struct conn,
 * which has at most one hiredis context at a time) is given these functions
 * instead (redisReplyObjectFunctions): the objects of one reply are carved
 * out of a chain of chunks, in the same redisReply layout hiredis and the
 * worker read, and freeing the reply's root (hiredis does that right after
 * the reply callback returns) rewinds the arena, keeping one chunk for the
 * next reply.
 *
 * Contract: a reply (and every pointer into it) is valid only until its
 * callback returns, as with hiredis' own objects; nothing in the worker
 * keeps one. A reader parses one reply at a time and frees it before it
 * builds the next, so an arena holds at most one live root; it still
 * counts them and rewinds only when none is left. Each object carries a
 * small header naming its arena and whether it is a root: freeObject on a
 * non-root (hiredis never does that) is ignored. Under AddressSanitizer no
 * chunk is kept, so a use after the callback is caught. */

#define RCHUNK (16 * 1024)      /* bytes per chunk (a larger object gets its own) */

#if defined(__SANITIZE_ADDRESS__)
#define KEEP_CHUNK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEEP_CHUNK 0
#endif
#endif
#ifndef KEEP_CHUNK
#define KEEP_CHUNK 1
#endif

struct rchunk {
    struct rchunk *next;        /* the chunk filled before this one */
    size_t cap, used;
    _Alignas(16) unsigned char data[];
};

/* What precedes every redisReply handed to hiredis. */
struct robj {
    struct rarena *a;
    int root;                   /* created with no parent task */
    _Alignas(16) redisReply r;
};

/* n bytes (16-aligned) from a's current chunk, or from a new one (at least
 * RCHUNK; a larger object gets a chunk of its own). Aborts on OOM. */
static void *ar_alloc(struct rarena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct rchunk *c = a->cur;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > RCHUNK - sizeof *c ? n : RCHUNK - sizeof *c;
        c = hq_malloc(sizeof *c + cap);
        c->cap = cap;
        c->used = 0;
        c->next = a->cur;
        a->cur = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

/* Frees every chunk but one of the standard size (kept, emptied). */
static void ar_rewind(struct rarena *a)
{
    struct rchunk *keep = NULL;
    for (struct rchunk *c = a->cur, *next; c; c = next) {
        next = c->next;
        if (KEEP_CHUNK && !keep && c->cap == RCHUNK - sizeof *c) {
            keep = c;
            continue;
        }
        hq_free(c);
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->cur = keep;
}

/* A zeroed redisReply of type t->type with extra bytes after it, linked into
 * its parent array. */
static redisReply *ar_obj(const redisReadTask *t, size_t extra)
{
    struct rarena *a = t->privdata;
    struct robj *o = ar_alloc(a, sizeof *o + extra);
    o->a = a;
    o->root = t->parent == NULL;
    memset(&o->r, 0, sizeof o->r);
    o->r.type = t->type;
    if (o->root) {
        a->live++;
    } else {
        redisReply *p = t->parent->obj;
        if (p && p->type == REDIS_REPLY_ARRAY && (size_t)t->idx < p->elements)
            p->element[t->idx] = &o->r;
    }
    return &o->r;
}

/* hiredis' createString/createArray/createInteger/createNil: the same
 * objects its defaults build, the string and the element vector right after
 * the redisReply in the same carve. */
static void *ar_string(const redisReadTask *t, char *s, size_t len)
{
    redisReply *r = ar_obj(t, len + 1);
    char *buf = (char *)(r + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    return r;
}

static void *ar_array(const redisReadTask *t, int elements)
{
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = ar_obj(t, n * sizeof(redisReply *));
    r->elements = n;
    if (n) {
        r->element = (redisReply **)(r + 1);
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    return r;
}

static void *ar_integer(const redisReadTask *t, long long v)
{
    redisReply *r = ar_obj(t, 0);
    r->integer = v;
    return r;
}

static void *ar_nil(const redisReadTask *t)
{
    return ar_obj(t, 0);
}

/* hiredis' freeObject: called with the root of a reply once its callback
 * returned (or with a half-built root when the reader fails or is freed). */
static void ar_free(void *p)
{
    if (!p)
        return;
    struct robj *o = (struct robj *)((char *)p - offsetof(struct robj, r));
    if (!o->root)
        return;
    struct rarena *a = o->a;
    if (--a->live <= 0) {
        a->live = 0;
        ar_rewind(a);
    }
}

static redisReplyObjectFunctions ar_fns = {
    ar_string, ar_array, ar_integer, ar_nil, ar_free,
};

/* Makes ac's reader build its replies in a; a must outlive ac. */
static void reply_arena_attach(redisAsyncContext *ac, struct rarena *a)
{
    ac->c.reader->fn = &ar_fns;
    ac->c.reader->privdata = a;
}

/* Frees a's chunks (worker_free: no context uses it any more). */
static void reply_arena_free(struct rarena *a)
{
    for (struct rchunk *c = a->cur, *next; c; c = next) {
        next = c->next;
        hq_free(c);
    }
    a->cur = NULL;
    a->live = 0;
}

/* ------------------------------------------------------------------ */
/* deliveries */

/* Writes v in decimal and a NUL at p (room for 21 bytes); returns the NUL.
 * snprintf was a tenth of the worker's own per-delivery Redis work. */
static char *put_dec(char *p, long long v)
{
    p = hq_i64_dec(p, v);
    *p = '\0';
    return p;
}

/* The held-set key "<shard>/<sid>": stream ids are unique per stream only,
 * so two shards' streams can hand out the same id in the same millisecond. */
static void held_key(char *out, size_t n, int shard, const char *sid)
{
    char *p = put_dec(out, shard);
    size_t room = n - (size_t)(p - out) - 2, l = strlen(sid);
    *p++ = '/';
    if (l > room)
        l = room;
    memcpy(p, sid, l);
    p[l] = '\0';
}

void delivery_free(struct delivery *d)
{
    struct hq_worker *w = d->w;
    char hk[80];
    if (d->sid) {
        held_key(hk, sizeof hk, d->shard, d->sid);
        if (strmap_get(&w->held, hk) == d)
            strmap_del(&w->held, hk);
    }
    epcache_unref(w, d->ep);
    event_data_done(d);
    event_unref(d->ev);
    epcfg_unref(d->cfg);
    hq_free(d->hdrs);   /* one block (delivery.c hdr_block) */
    hq_buf_free(&d->resp);
    /* sid, did, epid and evkey live in d's own allocation (add_entry) */
    hq_free(d->record);
    hq_free(d->reason);
    hq_free(d);
    w->claimed--;
}

void worker_outcome(struct delivery *d)
{
    struct hq_worker *w = d->w;
    struct shard_q *q = &w->sq[d->shard];
    d->state = DLV_DONE;
    list_push(&q->done_head, &q->done_tail, d);
    q->ndone++;
}

static const char *field(redisReply *f, const char *name)
{
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (f->element[i]->type == REDIS_REPLY_STRING && strcmp(f->element[i]->str, name) == 0 &&
            f->element[i + 1]->type == REDIS_REPLY_STRING)
            return f->element[i + 1]->str;
    return NULL;
}

/* A claimed stream entry [id, [f, v, ...]] becomes a LOADING delivery. */
static void add_entry(struct hq_worker *w, int shard, redisReply *e, int reclaimed)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *sid = e->element[0]->str;
    redisReply *f = e->element[1];
    if (f->type != REDIS_REPLY_ARRAY)
        return;  /* deleted entry */
    char hk[80];
    held_key(hk, sizeof hk, shard, sid);
    if (strmap_get(&w->held, hk))
        return;  /* ours already (a reclaim of our own long wait) */
    const char *did = field(f, "d"), *epid = field(f, "e"), *evk = field(f, "k");
    const char *ns = field(f, "n"), *rs = field(f, "r");
    long long n = 0, r = 0;
    if (!did || !epid || !evk || !ns || !rs || hq_parse_ll(ns, &n) != 0 || hq_parse_ll(rs, &r) != 0) {
        hq_warn("malformed stream entry ignored", "id", sid);
        return;
    }
    /* the four strings follow the struct in one allocation */
    size_t ls = strlen(sid) + 1, ld = strlen(did) + 1, le = strlen(epid) + 1, lk = strlen(evk) + 1;
    struct delivery *d = hq_calloc(1, sizeof *d + ls + ld + le + lk);
    char *p = (char *)(d + 1);
    d->sid = memcpy(p, sid, ls);
    d->did = memcpy(p += ls, did, ld);
    d->epid = memcpy(p += ld, epid, le);
    d->evkey = memcpy(p += le, evk, lk);
    d->w = w;
    d->shard = shard;
    d->n = (int)n;
    d->r = (int)r;
    d->reclaimed = reclaimed;
    d->claimed_ms = hq_now_ms();
    d->state = DLV_LOADING;
    d->ep = epcache_get(w, epid);
    hq_buf_init(&d->resp, 0);
    strmap_put(&w->held, hk, d);
    w->claimed++;
    struct shard_q *q = &w->sq[shard];
    list_push(&q->load_head, &q->load_tail, d);
    q->nload++;
    if (reclaimed)
        hq_metric_add(w->m_reclaimed, 1);
}

/* ------------------------------------------------------------------ */
/* connections */

static void conn_down(struct conn *c);

static void count_error(struct hq_worker *w)
{
    hq_metric_add(w->m_redis_errors, 1);
}

/* Drops the connection. Safe inside reply callbacks (hiredis defers the
 * free). Never used from the connect callback. */
static void conn_kill(struct conn *c, const char *why)
{
    if (!c->ac || c->dying)
        return;
    redisAsyncContext *ac = c->ac;
    int connected = (ac->c.flags & REDIS_CONNECTED) != 0;
    if (why)
        hq_warn("redis connection dropped", "conn", c->name, "reason", why);
    c->dying = 1;
    redisAsyncFree(ac);
    if (!connected && c->ac == ac) {
        /* no disconnect callback for a context that never connected */
        c->ac = NULL;
        conn_down(c);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    (void)h;
}

static void on_reconnect(uv_timer_t *t)
{
    conn_connect(t->data);
}

/* The context is gone (freed by hiredis). Schedules a reconnect unless the
 * worker is stopping this connection. */
static void conn_down(struct conn *c)
{
    c->ac = NULL;
    c->ready = 0;
    c->dying = 0;
    if (c->w->cluster && !c->stopped)
        c->w->need_topology = 1;  /* the master may be gone: ask the others */
    if (c->stopped) {
        if (!uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, on_timer_closed);
        return;
    }
    uv_timer_start(&c->timer, on_reconnect, (uint64_t)c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > 5000)
        c->backoff_ms = 5000;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    if (status != REDIS_OK) {
        hq_warn("redis connect failed", "conn", c->name, "error", ac->errstr);
        count_error(c->w);
        /* hiredis frees ac after we return */
        conn_down(c);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    if (!c->stopped && !c->dying) {
        hq_warn("redis disconnected", "conn", c->name, "error", ac->errstr ? ac->errstr : "");
        count_error(c->w);
    }
    (void)status;
    conn_down(c);
}

/* Deadline check: an outstanding reply older than 5 s (plus the BLOCK time
 * on the reader) means the server or the network hangs: reconnect. */
static void on_deadline(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->ac && c->q_head && hq_now_ms() - c->q_head->sent_ms > REPLY_DEADLINE_MS + c->extra_ms)
        conn_kill(c, "reply deadline passed");
}

static void on_reply(redisAsyncContext *ac, void *reply, void *priv);

/* Writes v in decimal followed by CRLF; returns the end. */
static char *put_uint(char *p, size_t v)
{
    char t[24];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = t[--n];
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

/* Room for the RESP of one command (put_cmd writes at most this). */
static size_t cmd_room(int argc, const size_t *lens)
{
    size_t total = 16;
    for (int i = 0; i < argc; i++)
        total += lens[i] + 24;
    return total;
}

/* Writes the RESP of one command at p; returns the end. Formatted here in
 * one allocation: hiredis' own formatter grows an sds argument by argument
 * (dozens of reallocs for a batch). */
static char *put_cmd(char *p, int argc, const char **argv, const size_t *lens)
{
    *p++ = '*';
    p = put_uint(p, (size_t)argc);
    for (int i = 0; i < argc; i++) {
        *p++ = '$';
        p = put_uint(p, lens[i]);
        memcpy(p, argv[i], lens[i]);
        p += lens[i];
        *p++ = '\r';
        *p++ = '\n';
    }
    return p;
}

static void conn_track(struct conn *c, struct rcmd *rc)
{
    rc->c = c;
    rc->sent_ms = hq_now_ms();
    rc->next = NULL;
    if (c->q_tail) c->q_tail->next = rc;
    else c->q_head = rc;
    c->q_tail = rc;
}

/* Sends a command. 0, or -1 when the connection is down (the caller keeps
 * ownership of rc and of whatever it carries). */
static int conn_send(struct conn *c, struct rcmd *rc, int argc, const char **argv, const size_t *lens)
{
    if (!c->ac || c->dying)
        return -1;
    char *buf = hq_malloc(cmd_room(argc, lens));
    char *p = put_cmd(buf, argc, argv, lens);
    *p = '\0'; /* hiredis 0.14 peeks past a short command's name (cmd_room leaves room) */
    int r = redisAsyncFormattedCommand(c->ac, on_reply, rc, buf, (size_t)(p - buf));
    hq_free(buf);
    if (r != REDIS_OK)
        return -1;
    conn_track(c, rc);
    return 0;
}

/* Sends ncmd commands as one transaction (MULTI ... EXEC): argv and lens
 * hold them one after another, argc[i] arguments each. rc gets EXEC's reply:
 * an array of their replies, or an error (EXECABORT when one was refused
 * while queued, e.g. MOVED); the MULTI and QUEUED replies are dropped. 0, or
 * -1 when the connection is down (as conn_send). */
static int conn_send_tx(struct conn *c, struct rcmd *rc, int ncmd, const int *argc, const char **argv,
                        const size_t *lens)
{
    static const char multi[] = "*1\r\n$5\r\nMULTI\r\n", exec[] = "*1\r\n$4\r\nEXEC\r\n";
    if (!c->ac || c->dying)
        return -1;
    if (redisAsyncFormattedCommand(c->ac, NULL, NULL, multi, sizeof multi - 1) != REDIS_OK)
        return -1;
    size_t room = 0, off = 0;
    for (int i = 0; i < ncmd; off += (size_t)argc[i++]) {
        size_t n = cmd_room(argc[i], lens + off);
        if (n > room) room = n;
    }
    char *buf = hq_malloc(room);
    int r = REDIS_OK;
    off = 0;
    for (int i = 0; i < ncmd && r == REDIS_OK; off += (size_t)argc[i++]) {
        char *p = put_cmd(buf, argc[i], argv + off, lens + off);
        *p = '\0';
        r = redisAsyncFormattedCommand(c->ac, NULL, NULL, buf, (size_t)(p - buf));
    }
    hq_free(buf);
    if (r == REDIS_OK)
        r = redisAsyncFormattedCommand(c->ac, on_reply, rc, exec, sizeof exec - 1);
    if (r != REDIS_OK) {
        /* half a transaction may be queued: this connection is done */
        conn_kill(c, "transaction not queued");
        return -1;
    }
    conn_track(c, rc);
    return 0;
}

static struct rcmd *rcmd_new(enum rkind k, int shard)
{
    struct rcmd *rc = hq_calloc(1, sizeof *rc);
    rc->kind = k;
    rc->shard = shard;
    return rc;
}

/* Sends a command built from C strings (no binary data). */
static int conn_sendv(struct conn *c, struct rcmd *rc, int argc, const char **argv)
{
    size_t lens[32];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    int r = conn_send(c, rc, argc, argv, lens);
    if (r != 0)
        hq_free(rc);
    return r;
}

static void send_fload(struct hq_worker *w, struct conn *c, int setup)
{
    struct rcmd *rc = rcmd_new(R_FLOAD, -1);
    rc->setup = setup;
    const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", hq_lua_library };
    size_t lens[] = { 8, 4, 7, hq_lua_library_len };
    if (conn_send(c, rc, 4, argv, lens) != 0)
        hq_free(rc);
    else if (setup)
        c->setup_left++;
    w->need_fload = 0;
}

static void send_groups(struct hq_worker *w, struct conn *c, int setup)
{
    for (int s = c->rl->first; s < c->rl->first + c->rl->nshards; s++) {
        struct rcmd *rc = rcmd_new(R_GROUP, s);
        rc->setup = setup;
        const char *argv[] = { "XGROUP", "CREATE", w->sq[s].stream, HQ_GROUP, "0", "MKSTREAM" };
        if (conn_sendv(c, rc, 6, argv) == 0 && setup)
            c->setup_left++;
    }
    w->need_groups = 0;
}

/* Where c's lane connects: the URL's host (single Redis), the master the
 * sentinels name now (Sentinel: asked on every connect, blocking briefly),
 * or the slot's master in the last map (cluster). 0, or -1 when unknown. */
static int rlane_target(struct conn *c)
{
    struct hq_worker *w = c->w;
    struct rlane *l = c->rl;
    if (w->url.kind == HQ_REDIS_SENTINEL) {
        hq_redis_url mu;
        char err[256];
        if (hq_sentinel_resolve(&w->url, 500, &mu, err, sizeof err) != 0) {
            hq_warn("sentinel: no master address", "conn", c->name, "error", err);
            return -1;
        }
        snprintf(l->host, sizeof l->host, "%s", mu.host);
        l->port = mu.port;
        return 0;
    }
    if (!w->cluster)
        return 0;
    int m = w->map.nnodes > 0 ? w->map.slot[l->slot] : -1;
    if (m < 0)
        return -1;  /* not yet known (or no owner): the cron refreshes the map */
    snprintf(l->host, sizeof l->host, "%s", w->map.nodes[m].host);
    l->port = w->map.nodes[m].port;
    return 0;
}

static void conn_connect(struct conn *c)
{
    struct hq_worker *w = c->w;
    redisAsyncContext *ac;
    if (c->stopped)
        return;
    if (rlane_target(c) != 0) {
        conn_down(c);
        return;
    }
    if (w->url.kind == HQ_REDIS_UNIX)
        ac = redisAsyncConnectUnix(w->url.path);
    else
        ac = redisAsyncConnect(c->rl->host, c->rl->port);
    if (!ac || ac->err) {
        hq_warn("redis connect failed", "conn", c->name, "error", ac ? ac->errstr : "out of memory");
        count_error(w);
        if (ac)
            redisAsyncFree(ac);
        conn_down(c);
        return;
    }
    if (hq_redis_uv_attach(ac, w->loop) != 0) {
        redisAsyncFree(ac);
        conn_down(c);
        return;
    }
    ac->data = c;
    reply_arena_attach(ac, &c->arena);
    c->ac = ac;
    c->ready = 0;
    c->dying = 0;
    c->setup_left = 0;
    c->connect_ms = hq_now_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);

    /* The connect sequence is queued now and written once connected. */
    char db[16];
    struct rcmd *rc;
    if (w->url.pass[0]) {
        rc = rcmd_new(R_SETUP, -1);
        rc->setup = 1;
        if (w->url.user[0]) {
            const char *argv[] = { "AUTH", w->url.user, w->url.pass };
            if (conn_sendv(c, rc, 3, argv) == 0) c->setup_left++;
        } else {
            const char *argv[] = { "AUTH", w->url.pass };
            if (conn_sendv(c, rc, 2, argv) == 0) c->setup_left++;
        }
    }
    if (w->url.db != 0) {
        snprintf(db, sizeof db, "%d", w->url.db);
        rc = rcmd_new(R_SETUP, -1);
        rc->setup = 1;
        const char *argv[] = { "SELECT", db };
        if (conn_sendv(c, rc, 2, argv) == 0) c->setup_left++;
    }
    rc = rcmd_new(R_SETUP, -1);
    rc->setup = 1;
    const char *ping[] = { "PING" };
    if (conn_sendv(c, rc, 1, ping) == 0) c->setup_left++;
    if (c == &c->rl->cmd) {
        send_fload(w, c, 1);
        send_groups(w, c, 1);
    }
    uv_timer_start(&c->timer, on_deadline, 500, 500);
}

static void cron_heartbeat(struct hq_worker *w, int64_t now);

static void conn_ready(struct conn *c)
{
    struct hq_worker *w = c->w;
    c->ready = 1;
    c->backoff_ms = 100;
    if (c == &c->rl->cmd) {
        w->groups_ok = 1;
        w->cmd_hold_until = 0;
        /* the heartbeat's connections: the worker shows in GET /v1/stats
         * (live_workers) as soon as it can claim, not a cron tick later */
        if (!w->stopping && (c == &w->rlanes[w->hb_lane].cmd || c == &w->rlanes[w->zs_lane].cmd))
            cron_heartbeat(w, hq_now_ms());
    }
    hq_info("redis connected", "conn", c->name);
}

/* ------------------------------------------------------------------ */
/* replies */

static int is_err(redisReply *r, const char *prefix)
{
    return r && r->type == REDIS_REPLY_ERROR && r->str && strncmp(r->str, prefix, strlen(prefix)) == 0;
}

/* Reacts to an error reply: missing functions are reloaded, a missing
 * consumer group is recreated, everything is counted; cmd traffic holds off
 * for a second so a persistent error does not spin. */
static void reply_error(struct hq_worker *w, redisReply *r, const char *what, int hold)
{
    count_error(w);
    if (hq_redis_is_nofunc(r->str)) {
        w->need_fload = 1;
        hq_warn("redis functions missing, reloading", "cmd", what);
        return;
    }
    if (is_err(r, "NOGROUP")) {
        w->groups_ok = 0;
        w->need_groups = 1;
        hq_warn("consumer group missing, recreating", "cmd", what);
        return;
    }
    if (w->cluster && (is_err(r, "MOVED") || is_err(r, "ASK") || hq_cluster_is_transient(r->str))) {
        /* a slot moved or is moving, or a failover is under way: re-read
         * the map; what failed goes again shortly, to the right master */
        hq_info("redis cluster is changing", "cmd", what, "error", r->str);
        w->need_topology = 1;
        if (hold)
            w->cmd_hold_until = hq_now_ms() + 100;
        return;
    }
    if (w->url.kind == HQ_REDIS_SENTINEL && is_err(r, "READONLY")) {
        /* our master was demoted by a failover: reconnect through Sentinel */
        hq_warn("redis master was demoted; reconnecting through Sentinel", "cmd", what);
        for (int i = 0; i < w->nrlanes; i++) {
            conn_kill(&w->rlanes[i].cmd, NULL);
            conn_kill(&w->rlanes[i].reader, NULL);
        }
        return;
    }
    hq_error("redis error", "cmd", what, "error", r->str);
    if (hold)
        w->cmd_hold_until = hq_now_ms() + HOLD_MS;
}

static void handle_read(struct hq_worker *w, struct rlane *l, redisReply *r)
{
    l->read_pending = 0;
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        reply_error(w, r, "XREADGROUP", 0);
        /* "UNBLOCKED the stream key no longer exists" and NOGROUP: the next
         * read (after the groups are recreated) can go right away */
        l->read_hold_until = hq_now_ms() + (w->need_groups || w->need_topology || is_err(r, "UNBLOCKED") ? 100
                                                                                                          : HOLD_MS);
        if (is_err(r, "UNBLOCKED")) {
            w->groups_ok = 0;
            w->need_groups = 1;
        }
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY)
        return;  /* nil: BLOCK timed out */
    size_t plen = strlen(w->prefix);
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *st = r->element[i];
        if (st->type != REDIS_REPLY_ARRAY || st->elements < 2 || st->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const char *name = st->element[0]->str;
        int shard = (strlen(name) > plen + 2) ? atoi(name + plen + 2) : -1;
        if (shard < 0 || shard >= w->shards)
            continue;
        redisReply *ents = st->element[1];
        if (ents->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t j = 0; j < ents->elements; j++)
            if (!w->stopping)
                add_entry(w, shard, ents->element[j], 0);
    }
}

static void free_list(struct delivery *d)
{
    while (d) {
        struct delivery *nx = d->next;
        delivery_free(d);
        d = nx;
    }
}

static char *reply_str(redisReply *r, size_t *len)
{
    if (!r || r->type != REDIS_REPLY_STRING) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = r->len;
    char *s = hq_malloc(r->len + 1);
    memcpy(s, r->str, r->len);
    s[r->len] = '\0';
    return s;
}

static void handle_load(struct hq_worker *w, struct rcmd *rc, redisReply *r)
{
    struct shard_q *q = &w->sq[rc->shard];
    /* EXEC's reply: [hookq_load (the endpoints), HMGET of each event] */
    redisReply *epr = r && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)(1 + rc->nev) ? r->element[0]
                                                                                               : NULL;
    if (!epr || epr->type != REDIS_REPLY_ARRAY || epr->elements != (size_t)rc->nep) {
        redisReply *err = r && r->type == REDIS_REPLY_ERROR ? r : epr && epr->type == REDIS_REPLY_ERROR ? epr : NULL;
        if (err && w->cluster && is_err(err, "EXECABORT")) {
            /* a queued read was refused: most likely MOVED/ASK/TRYAGAIN
             * (whose replies the transaction drops): as reply_error does */
            count_error(w);
            hq_info("redis cluster is changing", "cmd", "hookq_load", "error", err->str);
            w->need_topology = 1;
            w->cmd_hold_until = hq_now_ms() + 100;
        } else if (err) {
            reply_error(w, err, "hookq_load", 1);
        } else if (r) {
            hq_error("unexpected hookq_load reply");
        }
        if (w->stopping || w->closing) {
            free_list(rc->list);
        } else {
            list_prepend(&q->load_head, &q->load_tail, rc->list);
            q->nload += rc->nlist;
        }
        return;
    }
    struct event **evs = hq_calloc((size_t)rc->nev + 1, sizeof *evs);
    char *missing = hq_calloc((size_t)rc->nep + 1, 1);
    for (int i = 0; i < rc->nev; i++) {
        redisReply *e = r->element[1 + i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 6 || e->element[0]->type != REDIS_REPLY_STRING)
            continue;   /* missing (every field nil) */
        /* id, org, type and ca ("" when missing) follow the struct in one
         * allocation; data is its own, freed once every body is built */
        size_t l[4];
        for (int k = 0; k < 4; k++)
            l[k] = e->element[k]->type == REDIS_REPLY_STRING ? e->element[k]->len : 0;
        struct event *ev = hq_calloc(1, sizeof *ev + l[0] + l[1] + l[2] + l[3] + 4);
        char *p = (char *)(ev + 1);
        char **dst[4] = { &ev->id, &ev->org, &ev->type, &ev->ca };
        for (int k = 0; k < 4; k++) {
            *dst[k] = p;
            if (l[k])
                memcpy(p, e->element[k]->str, l[k]);
            p[l[k]] = '\0';
            p += l[k] + 1;
        }
        ev->refs = 1;
        ev->data_users = 1;   /* the batch's own hold: released after every delivery took its own */
        long long tsv = 0;
        if (e->element[4]->type == REDIS_REPLY_STRING)
            hq_parse_ll(e->element[4]->str, &tsv);
        ev->ts = tsv;
        ev->data = reply_str(e->element[5], &ev->data_len);
        if (!ev->data) ev->data = hq_strdup("{}"), ev->data_len = 2;
        evs[i] = ev;
    }
    for (int j = 0; j < rc->nep; j++) {
        redisReply *e = epr->element[j];
        struct epentry *ep = rc->eps[j];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 4 || e->element[0]->type != REDIS_REPLY_STRING) {
            missing[j] = 1;
            epcfg_unref(ep->cfg);
            ep->cfg = NULL;
            strcpy(ep->ver, "0");
            continue;
        }
        const char *act = e->element[2]->type == REDIS_REPLY_STRING ? e->element[2]->str : "0";
        const char *why = e->element[3]->type == REDIS_REPLY_STRING ? e->element[3]->str : "";
        redisReply *cfg = e->element[1];
        epcache_update(w, ep, e->element[0]->str, cfg->type == REDIS_REPLY_STRING ? cfg->str : NULL,
                       cfg->type == REDIS_REPLY_STRING ? cfg->len : 0, strcmp(act, "1") == 0, why);
    }
    struct delivery *d = rc->list;
    rc->list = NULL;
    while (d) {
        struct delivery *nx = d->next;
        d->next = NULL;
        if (evs[d->load_ev]) {
            /* also when no attempt is made: hookq_complete gets its id */
            d->ev = evs[d->load_ev];
            d->ev->refs++;
            d->ev->data_users++;   /* until its body is built (event_data_done) */
            d->ev_data = 1;
        }
        if (w->stopping) {
            delivery_free(d);   /* not started: stays pending for a reclaim */
        } else if (missing[d->load_ep]) {
            delivery_finish_noattempt(d, "cancel", "endpoint deleted");
        } else if (!d->ev) {
            delivery_finish_noattempt(d, "dead", "payload lost: event expired or deleted");
        } else if (!d->ep->act) {
            char reason[512];
            snprintf(reason, sizeof reason, "endpoint disabled%s%s", d->ep->dis_reason[0] ? ": " : "",
                     d->ep->dis_reason);
            delivery_finish_noattempt(d, "dead", reason);
        } else {
            epcache_submit(w, d);
        }
        d = nx;
    }
    for (int i = 0; i < rc->nev; i++) {
        event_data_release(evs[i]);
        event_unref(evs[i]);
    }
    hq_free(evs);
    hq_free(missing);
}

static void handle_complete(struct hq_worker *w, struct rcmd *rc, redisReply *r)
{
    struct shard_q *q = &w->sq[rc->shard];
    w->complete_inflight--;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            reply_error(w, r, "hookq_complete_v2", 1);
        if (w->closing) {
            free_list(rc->list);  /* entries stay pending: reclaimed elsewhere */
        } else {
            list_prepend(&q->done_head, &q->done_tail, rc->list);
            q->ndone += rc->nlist;
        }
        rc->list = NULL;
        return;
    }
    free_list(rc->list);
    rc->list = NULL;
}

static const char reclaim_dead_help[] =
    "Entries reclaim ended as dead: poison (claimed too often), lost (stream data gone).";

static void handle_reclaim(struct hq_worker *w, struct rcmd *rc, redisReply *r)
{
    w->reclaim_pending--;
    if (!r)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        reply_error(w, r, "hookq_reclaim", 1);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 4)
        return;
    struct shard_q *q = &w->sq[rc->shard];
    if (r->element[0]->type == REDIS_REPLY_STRING)
        snprintf(q->reclaim_cursor, sizeof q->reclaim_cursor, "%s", r->element[0]->str);
    redisReply *ents = r->element[1];
    if (ents->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j < ents->elements; j++)
            if (!w->stopping)
                add_entry(w, rc->shard, ents->element[j], 1);
    long long poisoned = r->element[2]->type == REDIS_REPLY_INTEGER ? r->element[2]->integer : 0;
    long long lost = r->element[3]->type == REDIS_REPLY_INTEGER ? r->element[3]->integer : 0;
    if (poisoned || lost) {
        hq_metric_add(hq_metrics_get(w->metrics, HQ_COUNTER, "hookq_reclaim_dead_total", reclaim_dead_help,
                                     "reason=\"poison\"", NULL, 0), (double)poisoned);
        hq_metric_add(hq_metrics_get(w->metrics, HQ_COUNTER, "hookq_reclaim_dead_total", reclaim_dead_help,
                                     "reason=\"lost\"", NULL, 0), (double)lost);
        char ps[24], ls[24], ss[16];
        snprintf(ps, sizeof ps, "%lld", poisoned);
        snprintf(ls, sizeof ls, "%lld", lost);
        snprintf(ss, sizeof ss, "%d", rc->shard);
        hq_warn("reclaim found dead entries", "shard", ss, "poisoned", ps, "lost", ls);
    }
}

static void handle_sample(struct hq_worker *w, struct rcmd *rc, redisReply *r)
{
    w->sample_pending--;
    if (r && r->type == REDIS_REPLY_ERROR && rc->sub != 0)
        count_error(w);
    if (r) {
        switch (rc->sub) {
        case 0: /* XINFO GROUPS */
            w->sample_lag_tmp = -1;
            w->sample_pend_tmp = 0;
            if (r->type == REDIS_REPLY_ARRAY)
                for (size_t i = 0; i < r->elements; i++) {
                    redisReply *g = r->element[i];
                    if (g->type != REDIS_REPLY_ARRAY) continue;
                    const char *nm = field(g, "name");
                    if (!nm || strcmp(nm, HQ_GROUP) != 0) continue;
                    for (size_t k = 0; k + 1 < g->elements; k += 2) {
                        if (g->element[k]->type != REDIS_REPLY_STRING || g->element[k + 1]->type != REDIS_REPLY_INTEGER)
                            continue;
                        if (strcmp(g->element[k]->str, "lag") == 0)
                            w->sample_lag_tmp = g->element[k + 1]->integer;
                        else if (strcmp(g->element[k]->str, "pending") == 0)
                            w->sample_pend_tmp = g->element[k + 1]->integer;
                    }
                }
            break;
        case 1: /* XLEN - pending: the fallback when lag is unknown (an upper
                 * bound: finished entries stay until trimmed, see hookq_complete) */
            if (w->sample_lag_tmp >= 0)
                w->s_lag += (double)w->sample_lag_tmp;
            else if (r->type == REDIS_REPLY_INTEGER && r->integer > w->sample_pend_tmp)
                w->s_lag += (double)(r->integer - w->sample_pend_tmp);
            break;
        case 2:
            if (r->type == REDIS_REPLY_INTEGER) w->s_retry += (double)r->integer;
            break;
        case 3:
            if (r->type == REDIS_REPLY_INTEGER) w->s_dead += (double)r->integer;
            break;
        }
    }
    if (w->sample_pending == 0 && r) {
        hq_metric_set(w->m_lag, w->s_lag);
        hq_metric_set(w->m_retry, w->s_retry);
        hq_metric_set(w->m_dead, w->s_dead);
    }
}

static void rcmd_unlink(struct conn *c, struct rcmd *rc)
{
    struct rcmd **pp = &c->q_head, *prev = NULL;
    for (; *pp; prev = *pp, pp = &(*pp)->next)
        if (*pp == rc) {
            *pp = rc->next;
            if (c->q_tail == rc)
                c->q_tail = prev;
            return;
        }
}

/* Every reply comes here (reply == NULL when the context is being freed). */
static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct rcmd *rc = priv;
    struct conn *c = rc->c;
    struct hq_worker *w = c->w;
    redisReply *r = reply;
    (void)ac;
    rcmd_unlink(c, rc);

    if (rc->setup) {
        int ok = r && (r->type != REDIS_REPLY_ERROR || is_err(r, "BUSYGROUP"));
        if (r && !ok) {
            count_error(w);
            hq_error("redis setup command failed", "conn", c->name, "error", r->str);
            conn_kill(c, NULL);
        } else if (ok && --c->setup_left == 0 && !c->dying) {
            conn_ready(c);
        }
        hq_free(rc);
        return;
    }
    switch (rc->kind) {
    case R_READ:
        handle_read(w, c->rl, r);
        break;
    case R_LOAD:
        w->load_inflight--;
        handle_load(w, rc, r);
        break;
    case R_COMPLETE:
        handle_complete(w, rc, r);
        break;
    case R_FLOAD:
        if (r && r->type == REDIS_REPLY_ERROR) {
            reply_error(w, r, "FUNCTION LOAD", 1);
            w->need_fload = 1;
        } else if (!r) {
            w->need_fload = 1;
        }
        break;
    case R_GROUP:
        if (r && r->type == REDIS_REPLY_ERROR && !is_err(r, "BUSYGROUP")) {
            reply_error(w, r, "XGROUP CREATE", 1);
            w->need_groups = 1;
        } else if (!r) {
            w->need_groups = 1;
        } else if (!w->need_groups) {
            w->groups_ok = 1;
        }
        break;
    case R_PROMOTE:
        w->promote_pending--;
        if (r && r->type == REDIS_REPLY_ERROR)
            reply_error(w, r, "hookq_promote", 1);
        break;
    case R_RECLAIM:
        handle_reclaim(w, rc, r);
        break;
    case R_SAMPLE:
        handle_sample(w, rc, r);
        break;
    default:
        if (r && r->type == REDIS_REPLY_ERROR)
            reply_error(w, r, "heartbeat", 1);
        break;
    }
    hq_free(rc->eps);
    hq_free(rc);
}

/* ------------------------------------------------------------------ */
/* batching (once per loop iteration) */

/* Index of s among names[0..*n), added at the end if absent. slots is an
 * open-addressing table of DEDUP_SLOTS (>= 2 * LOAD_BATCH) entries holding
 * index + 1 (0 = free), zeroed by the caller: no allocation per key. */
#define DEDUP_SLOTS 512
_Static_assert(DEDUP_SLOTS >= 2 * LOAD_BATCH && (DEDUP_SLOTS & (DEDUP_SLOTS - 1)) == 0, "DEDUP_SLOTS");
static int dedup(const char **names, int *slots, int *n, const char *s)
{
    uint32_t h = hq_fnv1a(s, strlen(s)) & (DEDUP_SLOTS - 1);
    while (slots[h]) {
        if (strcmp(names[slots[h] - 1], s) == 0)
            return slots[h] - 1;
        h = (h + 1) & (DEDUP_SLOTS - 1);
    }
    names[*n] = s;
    slots[h] = ++*n;
    return *n - 1;
}

/* The event fields the worker reads (HMGET, in this order). */
static const char *const ev_fields[] = { "id", "org", "type", "ca", "ts", "data" };

static void send_loads(struct hq_worker *w, int s)
{
    struct shard_q *q = &w->sq[s];
    while (q->load_head) {
        struct delivery *batch = NULL, *tail = NULL;
        int nb = 0;
        while (q->load_head && nb < LOAD_BATCH) {
            struct delivery *d = q->load_head;
            q->load_head = d->next;
            if (!q->load_head) q->load_tail = NULL;
            list_push(&batch, &tail, d);
            nb++;
        }
        q->nload -= nb;
        const char **evnames = hq_calloc((size_t)nb, sizeof *evnames);
        const char **epnames = hq_calloc((size_t)nb, sizeof *epnames);
        struct epentry **eps = hq_calloc((size_t)nb, sizeof *eps);
        int evslots[DEDUP_SLOTS] = { 0 }, epslots[DEDUP_SLOTS] = { 0 };
        int nev = 0, nep = 0;
        for (struct delivery *d = batch; d; d = d->next) {
            d->load_ev = dedup(evnames, evslots, &nev, d->evkey);
            int j = nep;
            d->load_ep = dedup(epnames, epslots, &nep, d->epid);
            if (nep > j)
                eps[j] = d->ep;
        }
        hq_free(epnames);
        /* One transaction: hookq_load for the endpoints (a config only when
         * the cached version is stale), then a plain HMGET per event. Read
         * through a function, every reply value becomes a Lua string first
         * (Redis' Lua hashes each one byte by byte), which cost Redis more
         * than the reads themselves. */
        int ncmd = 1 + nev;
        int *argcs = hq_calloc((size_t)ncmd, sizeof *argcs);
        int argc = 4 + 2 * nep + 8 * nev;
        const char **argv = hq_calloc((size_t)argc, sizeof *argv);
        size_t *lens = hq_calloc((size_t)argc, sizeof *lens);
        char **own = hq_calloc((size_t)nep, sizeof *own);
        char nkeys[16];
        snprintf(nkeys, sizeof nkeys, "%d", nep);
        int a = 0;
        argv[a++] = "FCALL";
        argv[a++] = "hookq_load";
        argv[a++] = nkeys;
        for (int j = 0; j < nep; j++) {
            size_t l = strlen(q->tag) + 3 + strlen(eps[j]->id) + 1;
            own[j] = hq_malloc(l);
            snprintf(own[j], l, "%sep:%s", q->tag, eps[j]->id);
            argv[a++] = own[j];
        }
        argv[a++] = "0";   /* no event keys: read below */
        for (int j = 0; j < nep; j++)
            argv[a++] = eps[j]->ver;
        argcs[0] = a;
        for (int i = 0; i < nev; i++) {
            argv[a++] = "HMGET";
            argv[a++] = evnames[i];
            for (size_t f = 0; f < sizeof ev_fields / sizeof *ev_fields; f++)
                argv[a++] = ev_fields[f];
            argcs[1 + i] = 8;
        }
        for (int i = 0; i < argc; i++)
            lens[i] = strlen(argv[i]);
        struct rcmd *rc = rcmd_new(R_LOAD, s);
        rc->list = batch;
        rc->nlist = nb;
        rc->nev = nev;
        rc->nep = nep;
        rc->eps = eps;
        int sent = conn_send_tx(&w->rlanes[RLANE(w, s)].cmd, rc, ncmd, argcs, argv, lens);
        for (int j = 0; j < nep; j++)
            hq_free(own[j]);
        hq_free(own);
        hq_free(argcs);
        hq_free(argv);
        hq_free(lens);
        hq_free(evnames);
        if (sent != 0) {
            hq_free(rc->eps);
            hq_free(rc);
            list_prepend(&q->load_head, &q->load_tail, batch);
            q->nload += nb;
            return;
        }
        w->load_inflight++;
    }
}

static void send_completes(struct hq_worker *w, int s)
{
    struct shard_q *q = &w->sq[s];
    int64_t now = hq_now_ms();
    while (q->done_head) {
        struct delivery *batch = NULL, *tail = NULL;
        int nb = 0;
        while (q->done_head && nb < COMPLETE_BATCH) {
            struct delivery *d = q->done_head;
            q->done_head = d->next;
            if (!q->done_head) q->done_tail = NULL;
            list_push(&batch, &tail, d);
            nb++;
        }
        q->ndone -= nb;
        int argc = 12 + 12 * nb;
        const char **argv = hq_calloc((size_t)argc, sizeof *argv);
        size_t *lens = hq_calloc((size_t)argc, sizeof *lens);
        char (*nums)[24] = hq_calloc((size_t)nb * 4 + 4, 24);
        int a = 0, k = 0;
        argv[a++] = "FCALL";
        argv[a++] = "hookq_complete_v2";
        argv[a++] = "3";
        argv[a++] = q->stream;
        argv[a++] = q->retry;
        argv[a++] = q->dead;
        argv[a++] = q->tag;
        put_dec(nums[k], now);
        argv[a++] = nums[k++];
        put_dec(nums[k], w->keep_s);
        argv[a++] = nums[k++];
        put_dec(nums[k], w->attempt_log);
        argv[a++] = nums[k++];
        put_dec(nums[k], w->disable_after_ms);
        argv[a++] = nums[k++];
        argv[a++] = w->cluster ? "1" : "0";   /* read every key first (slot migrations) */
        for (struct delivery *d = batch; d; d = d->next) {
            argv[a++] = d->sid;
            argv[a++] = d->did;
            argv[a++] = d->epid;
            argv[a++] = d->evkey;
            argv[a++] = d->ev ? d->ev->id : "";
            put_dec(nums[k], d->n);
            argv[a++] = nums[k++];
            put_dec(nums[k], d->r);
            argv[a++] = nums[k++];
            argv[a++] = d->outcome;
            put_dec(nums[k], d->due_ms);
            argv[a++] = nums[k++];
            argv[a++] = d->record ? d->record : "{}";
            put_dec(nums[k], d->code);
            argv[a++] = nums[k++];
            argv[a++] = d->reason ? d->reason : "";
        }
        for (int i = 0; i < a; i++)
            lens[i] = strlen(argv[i]);
        struct rcmd *rc = rcmd_new(R_COMPLETE, s);
        rc->list = batch;
        rc->nlist = nb;
        int sent = conn_send(&w->rlanes[RLANE(w, s)].cmd, rc, a, argv, lens);
        hq_free(argv);
        hq_free(lens);
        hq_free(nums);
        if (sent != 0) {
            hq_free(rc);
            list_prepend(&q->done_head, &q->done_tail, batch);
            q->ndone += nb;
            return;
        }
        w->complete_inflight++;
    }
}

/* The next XREADGROUP, when the reader is idle and claim slots are free.
 * COUNT applies per stream, so it is the free slots spread over the shards
 * (rounded up): the overshoot is bounded by the shard count. */
static void maybe_read(struct hq_worker *w, struct rlane *l)
{
    if (w->stopping || !l->nshards || !l->reader.ready || !l->cmd.ready || l->read_pending || !w->groups_ok ||
        w->need_fload || hq_now_ms() < l->read_hold_until)
        return;
    int free_slots = w->concurrency - w->claimed;
    if (free_slots <= 0)
        return;
    int count = (free_slots + w->shards - 1) / w->shards;
    if (count > 512) count = 512;
    if (count < 1) count = 1;
    char cnt[16];
    snprintf(cnt, sizeof cnt, "%d", count);
    l->xread_argv[5] = cnt;
    l->xread_lens[5] = strlen(cnt);
    struct rcmd *rc = rcmd_new(R_READ, -1);
    if (conn_send(&l->reader, rc, l->xread_argc, l->xread_argv, l->xread_lens) != 0) {
        hq_free(rc);
        return;
    }
    l->read_pending = 1;
}

static void begin_close(struct hq_worker *w);

static void shutdown_progress(struct hq_worker *w)
{
    int64_t now = hq_now_ms();
    if (!w->drained) {
        if (w->http_inflight > 0)
            return;
        w->drained = 1;
        uv_timer_stop(&w->drain_timer);
        w->final_deadline_ms = now + REPLY_DEADLINE_MS;
    }
    int pending_out = 0;
    for (int s = 0; s < w->shards; s++)
        pending_out += w->sq[s].ndone;
    if ((pending_out == 0 && w->complete_inflight == 0 && w->load_inflight == 0) ||
        now > w->final_deadline_ms) {
        if (pending_out || w->complete_inflight)
            hq_warn("outcomes not recorded at exit; their entries will be reclaimed");
        begin_close(w);
    }
}

static void drive(struct hq_worker *w)
{
    if (w->closing)
        return;
    int64_t now = hq_now_ms();
    if (now >= w->cmd_hold_until) {
        int fload = w->need_fload, groups = w->need_groups;
        for (int i = 0; i < w->nrlanes; i++) {
            struct conn *c = &w->rlanes[i].cmd;
            if (!c->ready)
                continue;
            if (fload)
                send_fload(w, c, 0);
            if (groups && w->rlanes[i].nshards)
                send_groups(w, c, 0);
        }
        for (int s = 0; s < w->shards; s++) {
            if (!w->rlanes[RLANE(w, s)].cmd.ready)
                continue;  /* kept until its lane is back */
            if (w->sq[s].load_head && !w->stopping)
                send_loads(w, s);
            if (w->sq[s].done_head)
                send_completes(w, s);
        }
    }
    if (w->stopping) {
        /* loads not sent yet are dropped: nothing was attempted */
        for (int s = 0; s < w->shards; s++) {
            struct shard_q *q = &w->sq[s];
            if (q->load_head) {
                free_list(q->load_head);
                q->load_head = q->load_tail = NULL;
                q->nload = 0;
            }
        }
        shutdown_progress(w);
    } else {
        for (int i = 0; i < w->nrlanes; i++)
            maybe_read(w, &w->rlanes[i]);
    }
}

static void on_prepare(uv_prepare_t *p)
{
    drive(p->data);
}

/* ------------------------------------------------------------------ */
/* cron */

static int due(int64_t now, int64_t *last, int64_t period)
{
    if (now - *last >= period) {
        *last = now;
        return 1;
    }
    return 0;
}

static void cron_promote(struct hq_worker *w, int64_t now)
{
    char nows[24];
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    for (int s = 0; s < w->shards; s++) {
        struct shard_q *q = &w->sq[s];
        const char *argv[] = { "FCALL", "hookq_promote", "2", q->retry, q->stream, q->tag, nows, "500" };
        if (!w->rlanes[RLANE(w, s)].cmd.ready)
            continue;
        if (conn_sendv(&w->rlanes[RLANE(w, s)].cmd, rcmd_new(R_PROMOTE, s), 8, argv) == 0)
            w->promote_pending++;
    }
}

static void cron_reclaim(struct hq_worker *w, int64_t now)
{
    int free_slots = w->concurrency - w->claimed;
    if (free_slots <= 0)
        return;
    char nows[24], idle[24], cnt[16], maxc[16], keep[24];
    snprintf(nows, sizeof nows, "%lld", (long long)now);
    snprintf(idle, sizeof idle, "%lld", (long long)w->claim_idle_ms);
    /* the free slots are shared by every shard, as in maybe_read: one tick
     * never claims more than HOOKQ_CONCURRENCY allows (+ shards - 1) */
    int per = (free_slots + w->shards - 1) / w->shards;
    snprintf(cnt, sizeof cnt, "%d", per < 100 ? per : 100);
    snprintf(maxc, sizeof maxc, "%d", w->max_claims);
    snprintf(keep, sizeof keep, "%lld", (long long)w->keep_s);
    for (int s = 0; s < w->shards; s++) {
        struct shard_q *q = &w->sq[s];
        const char *argv[] = { "FCALL", "hookq_reclaim", "2", q->stream, q->dead, q->tag, w->id, idle,
                               cnt, maxc, nows, keep, q->reclaim_cursor };
        if (!w->rlanes[RLANE(w, s)].cmd.ready)
            continue;
        if (conn_sendv(&w->rlanes[RLANE(w, s)].cmd, rcmd_new(R_RECLAIM, s), 13, argv) == 0)
            w->reclaim_pending++;
    }
}

struct keepalive_ctx {
    struct hq_worker *w;
    int64_t now;
    hq_buf *ids;    /* per shard: space-separated sids (rebuilt into argv) */
};

static void keepalive_one(const char *key, void *val, void *arg)
{
    struct keepalive_ctx *k = arg;
    struct delivery *d = val;
    /* in-flight ones too: an attempt that started late in its claim may run
     * up to its timeout (< HOOKQ_CLAIM_IDLE) past it */
    if (k->now - d->claimed_ms < k->w->claim_idle_ms / 2)
        return;
    d->claimed_ms = k->now;
    (void)key;
    hq_buf_puts(&k->ids[d->shard], d->sid);
    hq_buf_putc(&k->ids[d->shard], ' ');
}

/* Deliveries held long (waiting for an endpoint slot, or an attempt that
 * started late) stay claimed: XCLAIM JUSTID resets their idle time so no
 * other worker reclaims them while this one is alive. */
static void cron_keepalive(struct hq_worker *w, int64_t now)
{
    struct keepalive_ctx k = { w, now, hq_calloc((size_t)w->shards, sizeof(hq_buf)) };
    strmap_each(&w->held, keepalive_one, &k);
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)(w->claim_idle_ms / 4));
    for (int s = 0; s < w->shards; s++) {
        if (!k.ids[s].len) continue;
        int n = 0;
        for (size_t i = 0; i < k.ids[s].len; i++)
            if (k.ids[s].data[i] == ' ') n++;
        const char **argv = hq_calloc((size_t)n + 8, sizeof *argv);
        size_t *lens = hq_calloc((size_t)n + 8, sizeof *lens);
        int a = 0;
        argv[a++] = "XCLAIM";
        argv[a++] = w->sq[s].stream;
        argv[a++] = HQ_GROUP;
        argv[a++] = w->id;
        argv[a++] = idle;
        char *save = NULL;
        for (char *t = strtok_r(k.ids[s].data, " ", &save); t; t = strtok_r(NULL, " ", &save))
            argv[a++] = t;
        argv[a++] = "JUSTID";
        for (int i = 0; i < a; i++)
            lens[i] = strlen(argv[i]);
        struct rcmd *rc = rcmd_new(R_OTHER, s);
        if (conn_send(&w->rlanes[RLANE(w, s)].cmd, rc, a, argv, lens) != 0)
            hq_free(rc);
        hq_free(argv);
        hq_free(lens);
        hq_buf_free(&k.ids[s]);
    }
    hq_free(k.ids);
}

static void cron_heartbeat(struct hq_worker *w, int64_t now)
{
    char key[HQ_KEY_MAX], zkey[HQ_KEY_MAX], pid[16], started[24], infl[16], del[24], fail[24],
         dead[24], seen[24], ttl[8], old[24];
    hq_key_global(key, sizeof key, w->prefix, "worker:%s", w->id);
    hq_key_global(zkey, sizeof zkey, w->prefix, "workers");
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(started, sizeof started, "%lld", (long long)w->started_ms);
    snprintf(infl, sizeof infl, "%d", w->http_inflight);
    snprintf(del, sizeof del, "%lld", w->n_delivered);
    snprintf(fail, sizeof fail, "%lld", w->n_failed);
    snprintf(dead, sizeof dead, "%lld", w->n_dead);
    snprintf(seen, sizeof seen, "%lld", (long long)now);
    snprintf(ttl, sizeof ttl, "15");
    snprintf(old, sizeof old, "%lld", (long long)(now - 60000));
    const char *hset[] = { "HSET", key, "id", w->id, "host", w->host, "pid", pid, "version", HOOKQ_VERSION,
                           "started", started, "inflight", infl, "delivered", del, "failed", fail,
                           "dead", dead, "seen", seen };
    struct conn *hc = &w->rlanes[w->hb_lane].cmd, *zc = &w->rlanes[w->zs_lane].cmd;
    if (hc->ready) {
        conn_sendv(hc, rcmd_new(R_OTHER, -1), 22, hset);
        const char *exp[] = { "EXPIRE", key, ttl };
        conn_sendv(hc, rcmd_new(R_OTHER, -1), 3, exp);
    }
    if (zc->ready) {
        const char *zadd[] = { "ZADD", zkey, seen, w->id };
        conn_sendv(zc, rcmd_new(R_OTHER, -1), 4, zadd);
        const char *prune[] = { "ZREMRANGEBYSCORE", zkey, "-inf", old };
        conn_sendv(zc, rcmd_new(R_OTHER, -1), 4, prune);
    }
}

static void cron_sample(struct hq_worker *w)
{
    w->s_lag = w->s_retry = w->s_dead = 0;
    for (int s = 0; s < w->shards; s++) {
        struct shard_q *q = &w->sq[s];
        const char *a0[] = { "XINFO", "GROUPS", q->stream };
        const char *a1[] = { "XLEN", q->stream };
        const char *a2[] = { "ZCARD", q->retry };
        const char *a3[] = { "ZCARD", q->dead };
        struct conn *c = &w->rlanes[RLANE(w, s)].cmd;
        struct rcmd *rc;
        if (!c->ready)
            continue;
        rc = rcmd_new(R_SAMPLE, s); rc->sub = 0;
        if (conn_sendv(c, rc, 3, a0) == 0) w->sample_pending++;
        rc = rcmd_new(R_SAMPLE, s); rc->sub = 1;
        if (conn_sendv(c, rc, 2, a1) == 0) w->sample_pending++;
        rc = rcmd_new(R_SAMPLE, s); rc->sub = 2;
        if (conn_sendv(c, rc, 2, a2) == 0) w->sample_pending++;
        rc = rcmd_new(R_SAMPLE, s); rc->sub = 3;
        if (conn_sendv(c, rc, 2, a3) == 0) w->sample_pending++;
    }
}

static int any_cmd_ready(struct hq_worker *w)
{
    for (int i = 0; i < w->nrlanes; i++)
        if (w->rlanes[i].cmd.ready)
            return 1;
    return 0;
}

/* Makes c connect to its lane's (new) target: a live connection is dropped
 * (and reconnects at once), a down one retries now instead of after its
 * backoff. */
static void conn_retarget(struct conn *c)
{
    if (c->stopped)
        return;
    c->backoff_ms = 100;
    if (c->ac)
        conn_kill(c, "slot moved to another master");
    else if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_reconnect, 0, 0);
}

/* Points lane l at the master that owns its slot in the map just read; a
 * lane whose master changed drops its connections and reconnects there
 * (its failed commands are put back by their reply handlers). */
static void rlane_follow(struct hq_worker *w, struct rlane *l)
{
    int m = w->map.slot[l->slot];
    if (m < 0)
        return;
    if (l->port == w->map.nodes[m].port && strcmp(l->host, w->map.nodes[m].host) == 0)
        return;
    snprintf(l->host, sizeof l->host, "%s", w->map.nodes[m].host);
    l->port = w->map.nodes[m].port;
    conn_retarget(&l->reader);
    conn_retarget(&l->cmd);
}

/* Cluster: re-reads the slot map when something hinted at a change, or
 * while a lane is down (its master may have failed over), at most every
 * 500 ms and with backoff (to 2 s) while no node answers. Blocking: each
 * node asked may take up to 300 ms (connect + CLUSTER SLOTS). */
static void cron_topology(struct hq_worker *w, int64_t now)
{
    int down = 0;
    for (int i = 0; i < w->nrlanes; i++)
        if (!w->rlanes[i].cmd.ready || (w->rlanes[i].nshards && !w->rlanes[i].reader.ready))
            down = 1;
    if ((!w->need_topology && !down) || now < w->topo_next_ms)
        return;
    hq_cluster_map m;
    char err[256];
    if (hq_cluster_map_fetch(&w->url, w->map.nnodes ? &w->map : NULL, 300, &m, err, sizeof err) != 0) {
        hq_warn("redis cluster: cannot read the slot map", "error", err);
        count_error(w);
        w->topo_backoff_ms = w->topo_backoff_ms ? w->topo_backoff_ms * 2 : 250;
        if (w->topo_backoff_ms > 2000)
            w->topo_backoff_ms = 2000;
        w->topo_next_ms = now + w->topo_backoff_ms;
        return;
    }
    w->topo_backoff_ms = 0;
    w->topo_next_ms = now + 500;
    w->need_topology = 0;
    hq_cluster_map_free(&w->map);
    w->map = m;
    for (int i = 0; i < w->nrlanes; i++)
        rlane_follow(w, &w->rlanes[i]);
}

static void on_cron(uv_timer_t *t)
{
    struct hq_worker *w = t->data;
    int64_t now = hq_now_ms();
    int64_t reclaim_every = w->claim_idle_ms / 4 > 1000 ? w->claim_idle_ms / 4 : 1000;
    hq_metric_set(w->m_inflight, (double)w->http_inflight);
    if (!w->stopping)
        epcache_pump_limited(w);
    if (!w->stopping && due(now, &w->last_shed, 1000))
        epcache_shed(w);
    if (w->cluster && !w->stopping)
        cron_topology(w, now);
    if (w->stopping || !any_cmd_ready(w) || now < w->cmd_hold_until)
        return;
    if (due(now, &w->last_promote, 200) && w->promote_pending == 0)
        cron_promote(w, now);
    if (due(now, &w->last_reclaim, reclaim_every)) {
        if (w->reclaim_pending == 0 && w->groups_ok)
            cron_reclaim(w, now);
        cron_keepalive(w, now);
    }
    if (due(now, &w->last_heartbeat, 5000))
        cron_heartbeat(w, now);
    if (due(now, &w->last_sample, 5000) && w->sample_pending == 0)
        cron_sample(w);
    if (due(now, &w->last_sweep, 60000))
        epcache_sweep(w, now);
}

/* ------------------------------------------------------------------ */
/* shutdown */

static void on_drain_timeout(uv_timer_t *t)
{
    struct hq_worker *w = t->data;
    if (w->drained)
        return;
    char n[16];
    snprintf(n, sizeof n, "%d", w->http_inflight);
    hq_warn("drain timeout: aborting attempts; their entries stay pending", "aborted", n);
    http_abort_all(w);
    w->drained = 1;
    w->final_deadline_ms = hq_now_ms() + REPLY_DEADLINE_MS;
}

void worker_stop(struct hq_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    char n[16];
    snprintf(n, sizeof n, "%d", w->http_inflight);
    hq_info("stopping: draining in-flight attempts", "inflight", n);
    for (int i = 0; i < w->nrlanes; i++) {
        struct conn *rd = &w->rlanes[i].reader;
        rd->stopped = 1;
        if (rd->ac)
            conn_kill(rd, NULL);
        else if (!uv_is_closing((uv_handle_t *)&rd->timer))
            uv_close((uv_handle_t *)&rd->timer, on_timer_closed);
    }
    epcache_drop_waiters(w);
    uv_timer_start(&w->drain_timer, on_drain_timeout, (uint64_t)w->drain_ms, 0);
}

static void on_http_closed(void *arg)
{
    (void)arg;
}

static void begin_close(struct hq_worker *w)
{
    w->closing = 1;
    /* whatever is left has no recorded outcome: pending for a reclaim */
    for (int s = 0; s < w->shards; s++) {
        struct shard_q *q = &w->sq[s];
        free_list(q->load_head);
        free_list(q->done_head);
        q->load_head = q->load_tail = q->done_head = q->done_tail = NULL;
        q->nload = q->ndone = 0;
    }
    http_abort_all(w);
    http_close(w);
    if (w->http) {
        hq_http_close(w->http, on_http_closed, w);
        w->http = NULL;
    }
    uv_close((uv_handle_t *)&w->cron, NULL);
    uv_close((uv_handle_t *)&w->prepare, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    /* remove our heartbeat, then let hiredis flush and disconnect */
    char key[HQ_KEY_MAX], zkey[HQ_KEY_MAX];
    hq_key_global(key, sizeof key, w->prefix, "worker:%s", w->id);
    hq_key_global(zkey, sizeof zkey, w->prefix, "workers");
    const char *del[] = { "DEL", key };
    const char *zrem[] = { "ZREM", zkey, w->id };
    if (w->rlanes[w->hb_lane].cmd.ac && w->rlanes[w->hb_lane].cmd.ready)
        conn_sendv(&w->rlanes[w->hb_lane].cmd, rcmd_new(R_OTHER, -1), 2, del);
    if (w->rlanes[w->zs_lane].cmd.ac && w->rlanes[w->zs_lane].cmd.ready)
        conn_sendv(&w->rlanes[w->zs_lane].cmd, rcmd_new(R_OTHER, -1), 3, zrem);
    for (int i = 0; i < w->nrlanes; i++) {
        struct conn *c = &w->rlanes[i].cmd;
        c->stopped = 1;
        if (c->ac && c->ready)
            redisAsyncDisconnect(c->ac);   /* on_disconnect closes the timer */
        else if (c->ac)
            conn_kill(c, NULL);
        else if (!uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
}

/* ------------------------------------------------------------------ */
/* setup */

static void conn_init(struct hq_worker *w, struct rlane *l, struct conn *c, const char *name, int64_t extra)
{
    memset(c, 0, sizeof *c);
    c->w = w;
    c->rl = l;
    c->name = name;
    c->backoff_ms = 100;
    c->extra_ms = extra;
    uv_timer_init(w->loop, &c->timer);
    c->timer.data = c;
}

static hq_metric *counter(struct hq_worker *w, const char *name, const char *help, const char *labels)
{
    return hq_metrics_get(w->metrics, HQ_COUNTER, name, help, labels, NULL, 0);
}

static hq_metric *gauge(struct hq_worker *w, const char *name, const char *help)
{
    return hq_metrics_get(w->metrics, HQ_GAUGE, name, help, NULL, NULL, 0);
}

static void metrics_init(struct hq_worker *w)
{
    static const char *classes[] = { "2xx", "3xx", "4xx", "5xx", "timeout", "connect", "tls", "blocked", "other" };
    static const double bounds[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30 };
    const char *dh = "Deliveries by outcome.";
    w->metrics = hq_metrics_new();
    w->m_out_delivered = counter(w, "hookq_deliveries_total", dh, "outcome=\"delivered\"");
    w->m_out_retry = counter(w, "hookq_deliveries_total", dh, "outcome=\"retry\"");
    w->m_out_dead = counter(w, "hookq_deliveries_total", dh, "outcome=\"dead\"");
    w->m_out_gone = counter(w, "hookq_deliveries_total", dh, "outcome=\"gone\"");
    w->m_out_cancelled = counter(w, "hookq_deliveries_total", dh, "outcome=\"cancelled\"");
    w->m_deferred = counter(w, "hookq_deferred_total",
                            "Deliveries handed back to the retry set because their endpoint's backlog was full", NULL);
    for (int i = 0; i < 9; i++) {
        char l[32];
        snprintf(l, sizeof l, "class=\"%s\"", classes[i]);
        w->m_class[i] = counter(w, "hookq_attempts_total", "Delivery attempts by result class.", l);
    }
    w->m_duration = hq_metrics_get(w->metrics, HQ_HISTOGRAM, "hookq_attempt_duration_seconds",
                                   "Duration of delivery attempts.", NULL, bounds, 12);
    w->m_inflight = gauge(w, "hookq_inflight", "HTTP attempts in flight in this worker.");
    w->m_lag = gauge(w, "hookq_stream_lag", "Entries not yet read by the consumer group, all shards.");
    w->m_retry = gauge(w, "hookq_retry_scheduled", "Deliveries waiting in the retry sets, all shards.");
    w->m_dead = gauge(w, "hookq_dead", "Dead deliveries, all shards.");
    w->m_reclaimed = counter(w, "hookq_reclaimed_total", "Entries reclaimed from other consumers.", NULL);
    /* series exist from the start (0); handle_reclaim adds to them */
    counter(w, "hookq_reclaim_dead_total", reclaim_dead_help, "reason=\"poison\"");
    counter(w, "hookq_reclaim_dead_total", reclaim_dead_help, "reason=\"lost\"");
    w->m_redis_errors = counter(w, "hookq_redis_errors_total", "Redis errors and disconnects.", NULL);
    w->m_build = hq_metrics_get(w->metrics, HQ_GAUGE, "hookq_build_info", "Build information.",
                                "version=\"" HOOKQ_VERSION "\"", NULL, 0);
    hq_metric_set(w->m_build, 1);
}

/* A connection whose oldest outstanding reply is older than this (beyond
 * its BLOCK time) counts as stalled for /readyz: a frozen Redis makes the
 * worker unready in ~2 s, long before the reply deadline drops the link. */
#define READY_STALL_MS 2000

static int conn_stalled(const struct conn *c, int64_t now)
{
    return c->q_head && now - c->q_head->sent_ms > READY_STALL_MS + c->extra_ms;
}

/* 1 when both connections are up and answering, functions loaded and
 * groups present. */
int worker_ready(struct hq_worker *w)
{
    int64_t now = hq_now_ms();
    if (w->stopping || !w->groups_ok || w->need_fload)
        return 0;
    for (int i = 0; i < w->nrlanes; i++) {
        struct rlane *l = &w->rlanes[i];
        if (!l->cmd.ready || conn_stalled(&l->cmd, now) ||
            (l->nshards && (!l->reader.ready || conn_stalled(&l->reader, now))))
            return 0;
    }
    return 1;
}

struct conn *worker_cmd_conn(struct hq_worker *w, int shard)
{
    if (shard < 0 || shard >= w->shards)
        return NULL;
    return &w->rlanes[RLANE(w, shard)].cmd;
}

/* Sets up every handle on loop and starts connecting. The configuration
 * fields must be filled. 0 or -1 (listen failure, logged). */
int worker_init(struct hq_worker *w, uv_loop_t *loop)
{
    w->loop = loop;
    w->started_ms = hq_now_ms();
    w->keep_s = w->retention_ms / 1000 > 86400 ? w->retention_ms / 1000 : 86400;
    strmap_init(&w->held);
    strmap_init(&w->eps);
    metrics_init(w);
    w->sq = hq_calloc((size_t)w->shards, sizeof *w->sq);
    w->cluster = w->url.kind == HQ_REDIS_CLUSTER;
    w->nrlanes = w->cluster ? w->shards + 2 : 1;
    w->rlanes = hq_calloc((size_t)w->nrlanes, sizeof *w->rlanes);
    for (int i = 0; i < w->nrlanes; i++) {
        struct rlane *l = &w->rlanes[i];
        l->w = w;
        l->slot = -1;
        snprintf(l->host, sizeof l->host, "%s", w->url.host);
        l->port = w->url.port;
        if (!w->cluster) {
            l->first = 0;
            l->nshards = w->shards;
        } else if (i < w->shards) {
            l->first = i;
            l->nshards = 1;
            l->slot = hq_cluster_shard_slot(w->prefix, i);
        }
    }
    if (w->cluster) {
        char k[HQ_KEY_MAX];
        w->hb_lane = w->shards;
        w->zs_lane = w->shards + 1;
        hq_key_global(k, sizeof k, w->prefix, "worker:%s", w->id);
        w->rlanes[w->hb_lane].slot = hq_cluster_keyslot(k, strlen(k));
        hq_key_global(k, sizeof k, w->prefix, "workers");
        w->rlanes[w->zs_lane].slot = hq_cluster_keyslot(k, strlen(k));
        char err[256];
        if (hq_cluster_map_fetch(&w->url, NULL, 2000, &w->map, err, sizeof err) != 0) {
            hq_error("redis cluster: cannot read the slot map", "error", err);
            return -1;
        }
    }
    const char *head[] = { "XREADGROUP", "GROUP", HQ_GROUP, w->id, "COUNT", "1", "BLOCK", "1000", "STREAMS" };
    for (int i = 0; i < w->nrlanes; i++) {
        struct rlane *l = &w->rlanes[i];
        l->xread_argc = 9 + 2 * l->nshards;
        l->xread_argv = hq_calloc((size_t)l->xread_argc, sizeof *l->xread_argv);
        l->xread_lens = hq_calloc((size_t)l->xread_argc, sizeof *l->xread_lens);
        for (int j = 0; j < 9; j++)
            l->xread_argv[j] = head[j];
    }
    for (int s = 0; s < w->shards; s++) {
        struct shard_q *q = &w->sq[s];
        char k[HQ_KEY_MAX];
        hq_key(k, sizeof k, w->prefix, s, "stream");
        q->stream = hq_strdup(k);
        hq_key(k, sizeof k, w->prefix, s, "retry");
        q->retry = hq_strdup(k);
        hq_key(k, sizeof k, w->prefix, s, "dead");
        q->dead = hq_strdup(k);
        hq_key_tag(k, sizeof k, w->prefix, s);
        q->tag = hq_strdup(k);
        strcpy(q->reclaim_cursor, "0-0");
        struct rlane *l = &w->rlanes[RLANE(w, s)];
        l->xread_argv[9 + (s - l->first)] = q->stream;
        l->xread_argv[9 + l->nshards + (s - l->first)] = ">";
    }
    for (int i = 0; i < w->nrlanes; i++)
        for (int j = 0; j < w->rlanes[i].xread_argc; j++)
            w->rlanes[i].xread_lens[j] = strlen(w->rlanes[i].xread_argv[j]);

    if (http_init(w) != 0) {
        hq_error("curl_multi_init failed");
        return -1;
    }
    for (int i = 0; i < w->nrlanes; i++) {
        conn_init(w, &w->rlanes[i], &w->rlanes[i].reader, "reader", BLOCK_MS);
        conn_init(w, &w->rlanes[i], &w->rlanes[i].cmd, "cmd", 0);
    }
    uv_timer_init(loop, &w->cron);
    w->cron.data = w;
    uv_timer_init(loop, &w->drain_timer);
    w->drain_timer.data = w;
    uv_prepare_init(loop, &w->prepare);
    w->prepare.data = w;
    uv_prepare_start(&w->prepare, on_prepare);
    uv_timer_start(&w->cron, on_cron, CRON_MS, CRON_MS);
    w->last_heartbeat = w->last_sample = -1000000;  /* first ones right away */
    w->last_promote = w->last_reclaim = w->last_sweep = w->started_ms;
    for (int i = 0; i < w->nrlanes; i++) {
        conn_connect(&w->rlanes[i].cmd);
        if (w->rlanes[i].nshards)
            conn_connect(&w->rlanes[i].reader);
        else
            w->rlanes[i].reader.stopped = 1;  /* cmd-only lane: no reader */
    }
    return 0;
}

/* Frees what outlives the loop; call after uv_run returned. */
void worker_free(struct hq_worker *w)
{
    epcache_free(w);
    strmap_free(&w->held);
    for (int s = 0; s < w->shards && w->sq; s++) {
        hq_free(w->sq[s].stream);
        hq_free(w->sq[s].retry);
        hq_free(w->sq[s].dead);
        hq_free(w->sq[s].tag);
    }
    hq_free(w->sq);
    for (int i = 0; i < w->nrlanes; i++) {
        hq_free(w->rlanes[i].xread_argv);
        hq_free(w->rlanes[i].xread_lens);
        reply_arena_free(&w->rlanes[i].reader.arena);
        reply_arena_free(&w->rlanes[i].cmd.arena);
    }
    hq_free(w->rlanes);
    hq_cluster_map_free(&w->map);
    hq_metrics_free(w->metrics);
}
