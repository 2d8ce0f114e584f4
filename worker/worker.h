/* The worker process: one libuv loop driving two hiredis async connections
 * ("reader" for the blocking XREADGROUP, "cmd" for every other command) and a
 * libcurl multi handle. This header holds the structs the worker's files
 * share and the functions they call across files:
 *   main.c      configuration, startup checks, signals, exit codes
 *   worker.c    the loop: Redis connections, reads, load/complete batching, cron
 *   delivery.c  one delivery: building the request, deciding the outcome
 *   http.c      libcurl multi on libuv, easy-handle pool, SSRF guard
 *   epcache.c   endpoint config cache and per-endpoint in-flight FIFOs
 *   strmap.c    a small string-keyed hash map
 *
 * Delivery lifecycle inside one worker (docs/architecture.md has the whole
 * picture):
 *   LOADING  claimed (XREADGROUP or reclaim); waiting for hookq_load
 *   WAITING  loaded; queued in its endpoint's FIFO for an in-flight slot
 *   INFLIGHT an HTTP attempt is running
 *   DONE     outcome decided; queued for hookq_complete (acks the entry)
 * A delivery is freed when its outcome is recorded, or without an outcome on
 * shutdown (the entry then stays pending and another worker reclaims it). */
#ifndef HQ_WORKER_H
#define HQ_WORKER_H
#include "hq_fmacros.h"
#include <stdint.h>
#include <uv.h>
#include <curl/curl.h>
#include <hiredis/async.h>
#include "hq_buf.h"
#include "hq_endpoint.h"
#include "hq_http.h"
#include "hq_metrics.h"
#include "hq_redis.h"
#include "hq_cluster.h"
#include "hq_time.h"

#define RESP_KEEP 4096          /* response bytes kept for the attempt log */
#define RESP_MAX (64 * 1024)    /* response bytes read at most */

/* ---- strmap.c ---- */
typedef struct strmap_ent {
    struct strmap_ent *next;
    void *val;
    char key[];     /* copy, in the same allocation */
} strmap_ent;

typedef struct strmap {
    strmap_ent **b;
    size_t nb;      /* bucket count, power of two */
    size_t n;       /* entries */
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);                          /* frees keys, not values */
void *strmap_get(const strmap *m, const char *key);
void strmap_put(strmap *m, const char *key, void *val); /* insert or replace */
void *strmap_del(strmap *m, const char *key);         /* returns the old value */
/* Calls fn for every entry; fn may strmap_del the entry it is given. */
void strmap_each(strmap *m, void (*fn)(const char *key, void *val, void *arg), void *arg);

/* ---- shared objects ---- */

/* An event as hookq_load returned it, shared by the deliveries of one batch.
 * The body of each payload format is built at most once and shared. id, org,
 * type and ca live in the event's own allocation (worker.c handle_load);
 * data is freed as soon as no holder still has to build a body from it. */
struct event {
    int refs;
    char *id, *org, *type, *ca, *data;
    size_t data_len;
    int data_users;     /* holders whose body is not built yet: deliveries (their
                           ev_data) and, while handle_load runs, the load batch */
    int64_t ts;
    char *body[3];      /* per enum hq_payload_format, NULL until built */
    size_t body_len[3];
};

/* A parsed endpoint config; refcounted so a cache update never frees a
 * config an in-flight attempt still uses. */
struct epcfg {
    int refs;
    hq_endpoint e;
    /* e.url parsed once for curl (http.c, http_set_url): NULL until the
     * first attempt, or when curl rejects the URL (then CURLOPT_URL is used
     * and curl reports why); url_gen names this parse process-wide, so a
     * pooled easy handle knows whether it already has it */
    CURLU *uh;
    uint64_t url_gen;
    int uh_tried;
};

struct delivery;

/* One cached endpoint. Lives while deliveries reference it or while it was
 * used recently (evicted by epcache_sweep). */
struct epentry {
    char *id;
    char ver[32];          /* cached version; "0" = none */
    struct epcfg *cfg;     /* NULL if never loaded or unparsable */
    char cfg_err[200];     /* why the last load left cfg NULL ("" = none) */
    int act;               /* 1 active, 0 disabled */
    char *dis_reason;      /* "" when active */
    int inflight;          /* HTTP attempts running (<= endpoint concurrency) */
    int refs;              /* deliveries pointing here */
    struct delivery *wait_head, *wait_tail;  /* FIFO of WAITING deliveries */
    int nwait;
    int pumping;           /* pump() is running: re-entrant calls return */
    /* shared rate limit (rate_limit_per_sec > 0; epcache.c, hookq_rate) */
    int64_t rl_sec;        /* unix second the grant belongs to */
    int rl_grant;          /* attempts granted for rl_sec, not started yet */
    int rl_asking;         /* a hookq_rate call is outstanding, for rl_wanted */
    int rl_wanted;
    int rl_done;           /* rl_sec's window is used up for this worker */
    int rl_blocked;        /* waiters held back by the rate limit; cron pumps */
    int64_t last_used_ms;
    /* latency estimate (epcache.c, backlog_cap): EWMA of attempt durations
     * and when an attempt last ended; 0 = none yet */
    double lat_ewma_ms;
    int64_t last_done_ms;
    int64_t first_start_ms;  /* when its first attempt here started */
    int64_t full_since_ms;   /* when its in-flight count last reached HOOKQ_ENDPOINT_CONCURRENCY */
};

enum dlv_state { DLV_LOADING, DLV_WAITING, DLV_INFLIGHT, DLV_DONE };

struct hq_worker;

struct delivery {
    struct hq_worker *w;
    struct delivery *next;          /* link in exactly one list for its state */
    struct delivery *iprev, *inext; /* in-flight list (INFLIGHT only) */
    enum dlv_state state;
    int shard;
    char *sid, *did, *epid, *evkey; /* from the stream entry */
    int n, r;                       /* attempt number, step in round */
    int reclaimed;
    int64_t claimed_ms;
    struct epentry *ep;             /* ref (epentry.refs) */
    struct event *ev;               /* ref, NULL when the event is missing */
    int ev_data;                    /* counted in ev->data_users (no body built yet) */
    struct epcfg *cfg;              /* ref while INFLIGHT */
    int load_ev, load_ep;           /* indices in the load reply */

    /* the attempt (INFLIGHT) */
    CURL *easy;
    int lane;                       /* http.c: 1 + lane index while added */
    struct curl_slist *hdrs;        /* request headers, one block (delivery.c hdr_block);
                                       the attempt record's request_headers come from it */
    hq_buf resp;                    /* first RESP_KEEP bytes of the body */
    size_t resp_total;
    int64_t retry_after_ms;         /* -1 = none */
    char status_line[128];          /* reason phrase of the final status */
    int head_done;                  /* the head of the last response ended (blank line) */
    int blocked;                    /* SSRF guard refused an address */
    char blocked_addr[64];
    const char *blocked_why;        /* static text: why it was refused */
    int64_t at_ms;                  /* attempt start, wall clock */
    uint64_t t0_ns;

    /* the outcome (DONE) */
    const char *outcome;            /* delivered|retry|dead|gone|cancel|defer */
    int64_t due_ms;
    char *record;                   /* attempt record JSON */
    int code;
    char *reason;                   /* "" or why it is dead/cancelled */
};

struct rlane;

/* The chunks the reply objects of one connection's reader are carved from
 * (worker.c, "reply objects"). Zeroed = empty. */
struct rarena {
    struct rchunk *cur;
    int live;                      /* roots not freed yet (0 or 1) */
};

/* A hiredis async connection with its reconnect/deadline timer. */
struct conn {
    struct hq_worker *w;
    struct rlane *rl;              /* the Redis lane it belongs to (where it connects) */
    const char *name;              /* "reader" | "cmd" */
    redisAsyncContext *ac;         /* NULL while down; never used after disconnect */
    int ready;                     /* setup commands done */
    int setup_left;
    int dying;                     /* redisAsyncFree requested */
    int64_t connect_ms;            /* when the current connect started */
    int64_t backoff_ms;
    int64_t extra_ms;              /* allowed reply time beyond the deadline (BLOCK) */
    struct rcmd *q_head, *q_tail;  /* outstanding commands in send order */
    uv_timer_t timer;              /* reconnect backoff, then deadline checks */
    int stopped;                   /* no reconnects (shutdown) */
    struct rarena arena;           /* reply objects of its (one) context */
};

struct shard_q {
    struct delivery *load_head, *load_tail;  /* LOADING, not yet sent */
    struct delivery *done_head, *done_tail;  /* DONE, not yet sent */
    int nload, ndone;
    char reclaim_cursor[48];
    char *stream, *retry, *dead, *tag;  /* key names (owned) */
};

/* A Redis lane (not http.c's curl lanes): a reader and a cmd connection
 * serving some shards. On a single Redis (redis://, unix://,
 * redis-sentinel://) one lane serves every shard. On Redis Cluster a multi-stream XREADGROUP would cross slots, so each
 * shard has its own lane, connected to the master owning the shard's slot,
 * plus two cmd-only lanes for the global heartbeat keys (<prefix>:worker:<id>
 * and <prefix>:workers, each in its own slot). A lane whose slot moves to
 * another master (failover, resharding) reconnects there. */
struct rlane {
    struct hq_worker *w;
    int first, nshards;            /* shards [first, first + nshards); 0 = cmd only */
    int slot;                      /* cluster: the slot it follows; -1 otherwise */
    char host[256];                /* TCP target (cluster: the slot's master; */
    int port;                      /*   sentinel: resolved on every connect) */
    struct conn reader, cmd;
    int read_pending;
    int64_t read_hold_until;       /* backoff of reads after an error reply */
    const char **xread_argv;       /* prebuilt XREADGROUP argv over its shards */
    size_t *xread_lens;
    int xread_argc;
};

struct hq_worker {
    uv_loop_t *loop;

    /* configuration (main.c fills it) */
    char *redis_url_s;
    hq_redis_url url;
    char *prefix;
    int shards;
    char *listen;
    int concurrency, ep_concurrency;
    hq_schedule schedule;
    int64_t timeout_ms, claim_idle_ms, drain_ms, disable_after_ms, retention_ms;
    int max_claims, attempt_log;
    int allow_private;
    char *ca_file;
    char *id;
    hq_keyring *keyring;           /* HOOKQ_MASTER_KEY: opens sealed endpoint secrets; NULL = none */
    char host[256];
    int64_t started_ms;
    int64_t keep_s;                /* max(retention, 86400) */

    /* Redis */
    struct rlane *rlanes;          /* nrlanes; single Redis: 1, cluster: shards + 2 */
    int nrlanes;
    int cluster;                   /* HOOKQ_REDIS_URL is redis-cluster:// */
    int hb_lane, zs_lane;          /* lanes of <prefix>:worker:<id> and <prefix>:workers */
    int need_topology;             /* cluster: re-read CLUSTER SLOTS soon */
    int64_t topo_next_ms, topo_backoff_ms;
    hq_cluster_map map;            /* cluster: the last slot map (nnodes 0 = none yet) */
    int groups_ok;                 /* consumer groups exist */
    int need_groups, need_fload;   /* recreate groups / reload functions */
    int promote_pending, reclaim_pending, sample_pending;
    int64_t cmd_hold_until;        /* backoff of cmd traffic after an error reply */
    int load_inflight, complete_inflight;  /* hookq_load / hookq_complete sent, unanswered */
    long long sample_lag_tmp;      /* lag of the shard being sampled, -1 unknown */
    long long sample_pend_tmp;     /* its group's pending count (XINFO GROUPS) */
    struct shard_q *sq;

    /* deliveries */
    int claimed;                   /* delivery structs alive */
    int http_inflight;
    int rl_blocked;                /* endpoints with rate-limited waiters */
    strmap held;                   /* sid -> delivery */
    strmap eps;                    /* epid -> epentry */
    struct delivery *if_head;      /* in-flight list */

    /* HTTP */
    CURLM *multi;
    uv_timer_t curl_timer;
    CURL **easy_free;
    int neasy_free;
    struct sockctx *socks;         /* live socket contexts */
    struct lane *lanes;            /* http.c: multi handles */
    int nlanes, closing_lanes;

    /* timers and handles */
    uv_timer_t cron;
    uv_prepare_t prepare;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    int64_t last_promote, last_reclaim, last_heartbeat, last_sample, last_sweep, last_shed;

    hq_http_server *http;

    /* shutdown */
    int stopping;                  /* 1 after the first signal */
    int drained;                   /* in-flight attempts finished or aborted */
    int64_t final_deadline_ms;     /* give up flushing outcomes after this */
    int closing;                   /* handles being closed */
    int exit_code;

    /* totals for the heartbeat */
    long long n_delivered, n_failed, n_dead;

    /* metrics */
    hq_metrics *metrics;
    hq_metric *m_out_delivered, *m_out_retry, *m_out_dead, *m_out_gone, *m_out_cancelled;
    hq_metric *m_deferred;           /* hookq_deferred_total */
    hq_metric *m_class[9];
    hq_metric *m_duration, *m_inflight, *m_lag, *m_retry, *m_dead, *m_reclaimed,
              *m_redis_errors, *m_build;
    double s_lag, s_retry, s_dead;  /* sums while sampling */
};

/* ---- worker.c ---- */
int worker_init(struct hq_worker *w, uv_loop_t *loop);
void worker_stop(struct hq_worker *w);
/* 1 while both Redis connections are up, functions loaded, groups present. */
int worker_ready(struct hq_worker *w);
/* The cmd connection serving shard s (for commands on its keys), or NULL
 * when the shard's owner is unknown (cluster failover in progress). */
struct conn *worker_cmd_conn(struct hq_worker *w, int shard);
void worker_free(struct hq_worker *w);
/* Queues a DONE delivery for hookq_complete (per shard, flushed once per loop
 * iteration). */
void worker_outcome(struct delivery *d);
/* Hands a WAITING-to-be delivery back to the shard's retry set, due after
 * delay_ms, without using an attempt: its endpoint's backlog at this worker
 * is full (a slow or black-holed endpoint must not hold the worker's slots). */
void delivery_defer(struct delivery *d, int64_t delay_ms);
/* Frees a delivery and its references; releases its claim slot. */
void delivery_free(struct delivery *d);

/* ---- delivery.c ---- */
/* Starts the HTTP attempt of a loaded delivery (its endpoint has a free
 * slot). Always ends in delivery_finish, possibly synchronously. */
void delivery_start(struct delivery *d);
/* Shutdown: drops a running attempt without an outcome and frees d. */
void delivery_abort(struct delivery *d);
/* Called by http.c when the transfer ended (CURLE_* result). */
void delivery_http_done(struct delivery *d, CURLcode rc);
/* curl's body and header callbacks of d's transfer (through http.c): n
 * bytes at p; returns n, or 0 to abort the transfer (64 KiB read cap). */
size_t delivery_on_body(struct delivery *d, const char *p, size_t n);
size_t delivery_on_header(struct delivery *d, const char *p, size_t n);
/* Decides an outcome without an HTTP attempt (event missing, endpoint
 * missing or disabled): outcome is "dead" or "cancel". */
void delivery_finish_noattempt(struct delivery *d, const char *outcome, const char *reason);
/* Releases a finished event body/objects. */
void event_unref(struct event *ev);
/* Drops one holder of ev's data (ev->data_users); the data is freed with the
 * last one. ev may be NULL. */
void event_data_release(struct event *ev);
/* d no longer needs its event's data (its body is built, or it is being
 * freed): event_data_release once. Idempotent. */
void event_data_done(struct delivery *d);

/* ---- epcache.c ---- */
struct epentry *epcache_get(struct hq_worker *w, const char *epid); /* creates; refs++ */
void epcache_unref(struct hq_worker *w, struct epentry *ep);
/* Applies a hookq_load endpoint element: ver, cfg JSON or NULL, act, reason. */
void epcache_update(struct hq_worker *w, struct epentry *ep, const char *ver,
                    const char *cfg, size_t cfglen, int act, const char *reason);
/* Queues d (loaded) on its endpoint and starts what the caps allow. */
void epcache_submit(struct hq_worker *w, struct delivery *d);
/* An attempt of ep ended: frees its slot and starts the next waiter. */
/* An attempt of ep ended after latency_ms: frees its slot, updates the
 * endpoint's latency estimate, starts the next waiter. */
void epcache_release(struct hq_worker *w, struct epentry *ep, int64_t latency_ms);
/* Drops idle entries and, on shutdown, every waiter (without outcome). */
void epcache_sweep(struct hq_worker *w, int64_t now);
void epcache_drop_waiters(struct hq_worker *w);
/* Starts waiters held back by a rate limit whose bucket has refilled (cron). */
void epcache_pump_limited(struct hq_worker *w);
/* Defers the waiters of every endpoint beyond its current backlog cap
 * (cron, once a second). */
void epcache_shed(struct hq_worker *w);
void epcache_free(struct hq_worker *w);
void epcfg_unref(struct epcfg *c);

/* ---- status.c ---- */
/* /metrics, /healthz, /readyz on HOOKQ_LISTEN. 0 or -1 (message logged). */
int status_listen(struct hq_worker *w);

/* ---- http.c ---- */
int http_init(struct hq_worker *w);
/* A pooled easy handle with the process-wide options (SSRF guard, no
 * redirects, no proxy, CA file) and its own callbacks (delivery_on_body,
 * delivery_on_header; their data is the handle's, which knows d) and error
 * buffer set, for d's transfer (check_done finds d from the handle). It is
 * not reset between requests: the caller sets every per-request option (URL
 * via http_set_url, timeouts via http_set_timeout, body, headers) each time. */
CURL *http_easy(struct hq_worker *w, struct delivery *d);
/* CURLOPT_TIMEOUT_MS and CURLOPT_CONNECTTIMEOUT_MS of d's handle = ms (set
 * only when the handle has another value). */
void http_set_timeout(struct delivery *d, long ms);
/* The error text curl left in d's handle ("" when none); read it before
 * http_release. */
const char *http_errbuf(const struct delivery *d);
/* Points d's handle at cfg's URL: the parsed CURLU kept with cfg (set only
 * when the handle had another one), so curl does not parse the URL again
 * for every request. */
void http_set_url(struct delivery *d, struct epcfg *cfg);
/* Adds a configured easy handle; 0 or -1 (then the caller finishes d). */
int http_add(struct hq_worker *w, struct delivery *d);
/* Removes d's transfer and returns its easy handle to the pool. */
void http_release(struct hq_worker *w, struct delivery *d);
/* Aborts every running transfer; their deliveries are freed without outcome. */
void http_abort_all(struct hq_worker *w);
void http_close(struct hq_worker *w);
/* Parses HOOKQ_ALLOW_CIDRS ("10.0.0.0/8,fd00::/8"; "" = none) into the
 * process-wide allow-list of the SSRF guard. 0, or -1 with a one-line error
 * naming the variable and the value (exit 2). */
int http_allow_cidrs(const char *spec, char *err, size_t errlen);
/* The error text of an attempt the SSRF guard refused (d->blocked). */
void http_blocked_error(const struct delivery *d, char *out, size_t n);

#endif
