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
#include "hq_time.h"

#define RESP_KEEP 4096          /* response bytes kept for the attempt log */
#define RESP_MAX (64 * 1024)    /* response bytes read at most */

/* ---- strmap.c ---- */
typedef struct strmap_ent {
    struct strmap_ent *next;
    char *key;      /* owned copy */
    void *val;
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
 * The body of each payload format is built at most once and shared. */
struct event {
    int refs;
    char *id, *org, *type, *ca, *data;
    size_t data_len;
    int64_t ts;
    char *body[3];      /* per enum hq_payload_format, NULL until built */
    size_t body_len[3];
};

/* A parsed endpoint config; refcounted so a cache update never frees a
 * config an in-flight attempt still uses. */
struct epcfg {
    int refs;
    hq_endpoint e;
};

struct delivery;

/* One cached endpoint. Lives while deliveries reference it or while it was
 * used recently (evicted by epcache_sweep). */
struct epentry {
    char *id;
    char ver[32];          /* cached version; "0" = none */
    struct epcfg *cfg;     /* NULL if never loaded or unparsable */
    int act;               /* 1 active, 0 disabled */
    char *dis_reason;      /* "" when active */
    int inflight;          /* HTTP attempts running (<= endpoint concurrency) */
    int refs;              /* deliveries pointing here */
    struct delivery *wait_head, *wait_tail;  /* FIFO of WAITING deliveries */
    int nwait;
    int pumping;           /* pump() is running: re-entrant calls return */
    double tokens;         /* rate limit bucket (rate_limit_per_sec > 0) */
    int64_t tok_ms;        /* last refill */
    int rl_blocked;        /* waiters held back by the rate limit; cron pumps */
    int64_t last_used_ms;
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
    struct epcfg *cfg;              /* ref while INFLIGHT */
    int load_ev, load_ep;           /* indices in the load reply */

    /* the attempt (INFLIGHT) */
    CURL *easy;
    struct curl_slist *hdrs;
    hq_buf reqhdrs;                 /* request headers as JSON object, redacted */
    char errbuf[CURL_ERROR_SIZE];
    hq_buf resp;                    /* first RESP_KEEP bytes of the body */
    size_t resp_total;
    int64_t retry_after_ms;         /* -1 = none */
    char status_line[128];          /* reason phrase of the final status */
    int blocked;                    /* SSRF guard refused an address */
    char blocked_addr[64];
    int64_t at_ms;                  /* attempt start, wall clock */
    uint64_t t0_ns;

    /* the outcome (DONE) */
    const char *outcome;            /* delivered|retry|dead|gone|cancel */
    int64_t due_ms;
    char *record;                   /* attempt record JSON */
    int code;
    char *reason;                   /* "" or why it is dead/cancelled */
};

/* A hiredis async connection with its reconnect/deadline timer. */
struct conn {
    struct hq_worker *w;
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
};

struct shard_q {
    struct delivery *load_head, *load_tail;  /* LOADING, not yet sent */
    struct delivery *done_head, *done_tail;  /* DONE, not yet sent */
    int nload, ndone;
    char reclaim_cursor[48];
    char *stream, *retry, *dead, *tag;  /* key names (owned) */
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
    char host[256];
    int64_t started_ms;
    int64_t keep_s;                /* max(retention, 86400) */

    /* Redis */
    struct conn reader, cmd;
    int groups_ok;                 /* consumer groups exist */
    int need_groups, need_fload;   /* recreate groups / reload functions */
    int read_pending;
    int promote_pending, reclaim_pending, sample_pending;
    int64_t cmd_hold_until;        /* backoff of cmd traffic after an error reply */
    int64_t read_hold_until;       /* backoff of reads after an error reply */
    int load_inflight, complete_inflight;  /* hookq_load / hookq_complete sent, unanswered */
    long long sample_lag_tmp;      /* lag of the shard being sampled, -1 unknown */
    struct shard_q *sq;
    const char **xread_argv;       /* prebuilt XREADGROUP argv */
    size_t *xread_lens;
    int xread_argc;

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

    /* timers and handles */
    uv_timer_t cron;
    uv_prepare_t prepare;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    int64_t last_promote, last_reclaim, last_heartbeat, last_sample, last_sweep;

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
void worker_free(struct hq_worker *w);
/* Queues a DONE delivery for hookq_complete (per shard, flushed once per loop
 * iteration). */
void worker_outcome(struct delivery *d);
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
/* Decides an outcome without an HTTP attempt (event missing, endpoint
 * missing or disabled): outcome is "dead" or "cancel". */
void delivery_finish_noattempt(struct delivery *d, const char *outcome, const char *reason);
/* Releases a finished event body/objects. */
void event_unref(struct event *ev);

/* ---- epcache.c ---- */
struct epentry *epcache_get(struct hq_worker *w, const char *epid); /* creates; refs++ */
void epcache_unref(struct hq_worker *w, struct epentry *ep);
/* Applies a hookq_load endpoint element: ver, cfg JSON or NULL, act, reason. */
void epcache_update(struct hq_worker *w, struct epentry *ep, const char *ver,
                    const char *cfg, size_t cfglen, int act, const char *reason);
/* Queues d (loaded) on its endpoint and starts what the caps allow. */
void epcache_submit(struct hq_worker *w, struct delivery *d);
/* An attempt of ep ended: frees its slot and starts the next waiter. */
void epcache_release(struct hq_worker *w, struct epentry *ep);
/* Drops idle entries and, on shutdown, every waiter (without outcome). */
void epcache_sweep(struct hq_worker *w, int64_t now);
void epcache_drop_waiters(struct hq_worker *w);
/* Starts waiters held back by a rate limit whose bucket has refilled (cron). */
void epcache_pump_limited(struct hq_worker *w);
void epcache_free(struct hq_worker *w);
void epcfg_unref(struct epcfg *c);

/* ---- status.c ---- */
/* /metrics, /healthz, /readyz on HOOKQ_LISTEN. 0 or -1 (message logged). */
int status_listen(struct hq_worker *w);

/* ---- http.c ---- */
int http_init(struct hq_worker *w);
/* An easy handle with the process-wide options (SSRF guard, no redirects,
 * no proxy, CA file) set; d is its private pointer. */
CURL *http_easy(struct hq_worker *w, struct delivery *d);
/* Adds a configured easy handle; 0 or -1 (then the caller finishes d). */
int http_add(struct hq_worker *w, struct delivery *d);
/* Removes d's transfer and returns its easy handle to the pool. */
void http_release(struct hq_worker *w, struct delivery *d);
/* Aborts every running transfer; their deliveries are freed without outcome. */
void http_abort_all(struct hq_worker *w);
void http_close(struct hq_worker *w);

#endif
