/* epcache: the worker's endpoint cache and per-endpoint concurrency.
 *
 * hookq_load returns, per endpoint, its version and the stored config only
 * when the version we sent is stale, so a busy endpoint's JSON is parsed once
 * per change rather than once per delivery. Each entry also carries the
 * endpoint's in-flight count and a FIFO of loaded deliveries waiting for a
 * slot (HOOKQ_ENDPOINT_CONCURRENCY per worker): one slow endpoint can hold
 * at most that many of the worker's slots in HTTP, the rest of its
 * deliveries wait here (still claimed) and never block other endpoints. */
#include "hq_fmacros.h"
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "hq_alloc.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "worker.h"

#define EP_IDLE_MS (10 * 60 * 1000)

void epcfg_unref(struct epcfg *c)
{
    if (c && --c->refs == 0) {
        if (c->uh)
            curl_url_cleanup(c->uh);
        hq_endpoint_free(&c->e);
        hq_free(c);
    }
}

/* Finds or creates the entry for epid and takes a reference. */
struct epentry *epcache_get(struct hq_worker *w, const char *epid)
{
    struct epentry *ep = strmap_get(&w->eps, epid);
    if (!ep) {
        ep = hq_calloc(1, sizeof *ep);
        ep->id = hq_strdup(epid);
        strcpy(ep->ver, "0");
        ep->act = 1;
        ep->dis_reason = hq_strdup("");
        strmap_put(&w->eps, epid, ep);
    }
    ep->refs++;
    ep->last_used_ms = hq_now_ms();
    return ep;
}

void epcache_unref(struct hq_worker *w, struct epentry *ep)
{
    (void)w;
    if (ep)
        ep->refs--;
}

/* Applies one endpoint element of a hookq_load reply. cfg == NULL means the
 * version we sent is current. An unparsable config leaves the entry without
 * cfg and its version "0" so the next load fetches it again. */
void epcache_update(struct hq_worker *w, struct epentry *ep, const char *ver,
                    const char *cfg, size_t cfglen, int act, const char *reason)
{
    ep->act = act;
    hq_free(ep->dis_reason);
    ep->dis_reason = hq_strdup(reason ? reason : "");
    if (cfg) {
        struct epcfg *c = hq_calloc(1, sizeof *c);
        c->refs = 1;
        int lr = hq_endpoint_from_storage(cfg, cfglen, w->keyring, &c->e, ep->cfg_err, sizeof ep->cfg_err);
        if (lr != 0) {
            /* corrupt, or secrets sealed under a key we lack: attempts fail
             * with cfg_err as their error and retry on schedule */
            hq_error("endpoint config unreadable", "endpoint", ep->id, "ver", ver, "error", ep->cfg_err);
            if (lr == HQ_EP_ESEALED) hq_endpoint_free(&c->e);
            hq_free(c);
            epcfg_unref(ep->cfg);
            ep->cfg = NULL;
            strcpy(ep->ver, "0");
            return;
        }
        epcfg_unref(ep->cfg);
        ep->cfg = c;
        ep->cfg_err[0] = '\0';
        snprintf(ep->ver, sizeof ep->ver, "%s", ver);
    } else if (strcmp(ep->ver, ver) != 0) {
        /* cannot happen (replies are ordered); force a reload next time */
        strcpy(ep->ver, "0");
    }
    (void)w;
}

static void pump(struct hq_worker *w, struct epentry *ep);

static void rl_hold(struct hq_worker *w, struct epentry *ep)
{
    if (!ep->rl_blocked) {
        ep->rl_blocked = 1;
        w->rl_blocked++;
    }
}

/* hookq_rate answered (reply NULL: the connection went away). A grant is
 * only used within the second it was counted in; whatever was not granted
 * waits for the next second (the cron pumps held endpoints). */
static void on_rate_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct epentry *ep = priv;
    struct hq_worker *w = ac->data ? ((struct conn *)ac->data)->w : NULL;
    redisReply *r = reply;
    int64_t asked_sec = ep->rl_sec;
    ep->rl_asking = 0;
    ep->refs--;
    if (!w || w->stopping || w->closing)
        return;
    if (r && r->type == REDIS_REPLY_INTEGER && hq_now_ms() / 1000 == asked_sec) {
        ep->rl_grant += (int)r->integer;
        ep->rl_done = r->integer < ep->rl_wanted;  /* the window is used up */
    } else {
        if (r && r->type == REDIS_REPLY_ERROR)
            hq_warn("hookq_rate failed; rate-limited endpoint waits a second", "endpoint", ep->id,
                    "error", r->str);
        ep->rl_done = 1;   /* late, failed or lost: try again next second */
    }
    if (ep->rl_done)
        rl_hold(w, ep);
    pump(w, ep);
}

/* Asks hookq_rate for `wanted` attempts in the current second. */
static void rl_ask(struct hq_worker *w, struct epentry *ep, int wanted, int rate)
{
    struct conn *c = ep->wait_head ? worker_cmd_conn(w, ep->wait_head->shard) : NULL;
    if (!c || !c->ac || !c->ready || c->dying || !ep->wait_head) {
        ep->rl_done = 1;
        rl_hold(w, ep);
        return;
    }
    char key[HQ_KEY_MAX + 160], lim[16], want[16];
    snprintf(key, sizeof key, "%srl:%s:%lld", w->sq[ep->wait_head->shard].tag, ep->id,
             (long long)ep->rl_sec);
    snprintf(lim, sizeof lim, "%d", rate);
    snprintf(want, sizeof want, "%d", wanted);
    const char *argv[] = { "FCALL", "hookq_rate", "1", key, lim, want };
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (redisAsyncCommandArgv(c->ac, on_rate_reply, ep, 6, argv, lens) != REDIS_OK) {
        ep->rl_done = 1;
        rl_hold(w, ep);
        return;
    }
    ep->rl_asking = 1;
    ep->rl_wanted = wanted;
    ep->refs++;             /* the entry outlives the reply */
}

/* The endpoint's shared rate limit (rate_limit_per_sec, across every
 * worker): one fixed window per unix second counted in Redis by
 * hookq_rate. The worker asks for as many attempts as it could start now
 * (waiting deliveries, bounded by free slots and the limit) and starts
 * what it is granted; the rest waits for the next second, when the cron
 * (100 ms) pumps the endpoint again: no busy loop, one round trip per
 * endpoint per second in steady state. Returns 1 when one attempt may
 * start now. */
static int take_token(struct hq_worker *w, struct epentry *ep)
{
    int rate = ep->cfg ? ep->cfg->e.rate_limit_per_sec : 0;
    if (rate <= 0)
        return 1;
    int64_t sec = hq_now_ms() / 1000;
    if (ep->rl_asking)
        return 0;
    if (ep->rl_sec != sec) {
        ep->rl_sec = sec;      /* grants of a past second are void */
        ep->rl_grant = 0;
        ep->rl_done = 0;
    }
    if (ep->rl_grant > 0) {
        ep->rl_grant--;
        return 1;
    }
    if (ep->rl_done) {
        rl_hold(w, ep);
        return 0;
    }
    int wanted = ep->nwait;
    if (wanted > w->ep_concurrency - ep->inflight)
        wanted = w->ep_concurrency - ep->inflight;
    if (wanted > rate)
        wanted = rate;
    if (wanted > 0)
        rl_ask(w, ep, wanted, rate);
    return 0;
}

/* Starts waiters while the endpoint has free slots. A waiter of an endpoint
 * that got disabled meanwhile (410 seen by this worker) ends dead. */
static void pump(struct hq_worker *w, struct epentry *ep)
{
    if (ep->pumping)
        return;   /* a start that finished synchronously: the outer loop goes on */
    ep->pumping = 1;
    while (ep->wait_head && !w->stopping) {
        struct delivery *d = ep->wait_head;
        if (ep->act && (ep->inflight >= w->ep_concurrency || !take_token(w, ep)))
            break;
        ep->wait_head = d->next;
        if (!ep->wait_head)
            ep->wait_tail = NULL;
        ep->nwait--;
        d->next = NULL;
        if (!ep->act) {
            char reason[512];
            snprintf(reason, sizeof reason, "endpoint disabled%s%s", ep->dis_reason[0] ? ": " : "",
                     ep->dis_reason);
            delivery_finish_noattempt(d, "dead", reason);
            continue;
        }
        ep->inflight++;
        if (!ep->first_start_ms)
            ep->first_start_ms = hq_now_ms();
        if (ep->inflight == w->ep_concurrency)
            ep->full_since_ms = hq_now_ms();
        delivery_start(d);
    }
    ep->pumping = 0;
}

/* How long an attempt of ep takes, as far as this worker can tell: the
 * EWMA of finished attempts, but at least the time since the last one ended
 * while every slot is busy (a black hole finishes nothing until its
 * timeout, so its estimate grows before any attempt has ended). */
static double latency_estimate(struct epentry *ep, int64_t now, int cap)
{
    double est = ep->lat_ewma_ms;
    /* the slots' busy period starts when they last filled up: an attempt
     * that ended before (an idle endpoint's last one) says nothing of now */
    int64_t since = ep->last_done_ms > ep->full_since_ms ? ep->last_done_ms : ep->full_since_ms;
    if (ep->inflight >= cap && since > 0 && (double)(now - since) > est)
        est = (double)(now - since);
    return est;
}

/* How many loaded deliveries may wait for one endpoint at this worker: what
 * it can work off in about BACKLOG_HORIZON_MS at its estimated pace, at
 * least twice its concurrency (but never more than half of what the rest of
 * the pool leaves) and at least 1 (so an endpoint with a free slot always
 * gets its delivery: at 0 nothing would start, and nothing would ever end
 * to tell its pace), at most everything. The pace is unknown until one of
 * its attempts has ended (a black hole's first backlog must not fill the
 * pool before its first timeout), and never faster than its rate limit
 * (waiting for tokens holds claim slots as surely as a slow answer does).
 * Past that, deliveries are handed back to the retry set (delivery_defer),
 * at submission and again by epcache_shed when the estimate has grown, so a
 * slow, black-holed or rate-limited endpoint cannot hold the slots other
 * endpoints need, while a fast one may still use them all. */
#define BACKLOG_HORIZON_MS 1000.0

static int backlog_cap(struct hq_worker *w, struct epentry *ep, int64_t now)
{
    int cap = w->ep_concurrency;
    double est = latency_estimate(ep, now, cap);
    double n;
    if (est >= 1.0)
        n = cap * BACKLOG_HORIZON_MS / est;
    else
        n = ep->last_done_ms ? (double)w->concurrency : 0.0;
    int rate = ep->cfg ? ep->cfg->e.rate_limit_per_sec : 0;
    if (rate > 0 && n > rate * BACKLOG_HORIZON_MS / 1000.0)
        n = rate * BACKLOG_HORIZON_MS / 1000.0;
    double lo = 2.0 * cap, share = (w->concurrency - cap) / 2.0;
    if (lo > share) lo = share;
    if (lo < 1.0) lo = 1.0;   /* a delivery that can start at once is never deferred */
    if (n < lo) n = lo;
    if (n > w->concurrency) n = w->concurrency;
    return (int)n;
}

/* When a deferred delivery comes back: about when the backlog ahead of it
 * has drained at the endpoint's pace (and its rate limit), 1 s..60 s, with
 * +-10 % jitter. */
static int64_t defer_delay(struct hq_worker *w, struct epentry *ep, int64_t now)
{
    double est = latency_estimate(ep, now, w->ep_concurrency);
    int64_t t = (int64_t)(est * (ep->nwait + 1) / w->ep_concurrency);
    int rate = ep->cfg ? ep->cfg->e.rate_limit_per_sec : 0;
    if (rate > 0 && (int64_t)((ep->nwait + 1) * 1000.0 / rate) > t)
        t = (int64_t)((ep->nwait + 1) * 1000.0 / rate);
    if (t < 1000) t = 1000;
    if (t > 60000) t = 60000;
    return t * 9 / 10 + (int64_t)(random() % (t / 5 + 1));
}

void epcache_submit(struct hq_worker *w, struct delivery *d)
{
    struct epentry *ep = d->ep;
    int64_t now = hq_now_ms();
    if (ep->act && !w->stopping && ep->nwait >= backlog_cap(w, ep, now)) {
        delivery_defer(d, defer_delay(w, ep, now));
        return;
    }
    d->state = DLV_WAITING;
    d->next = NULL;
    if (ep->wait_tail)
        ep->wait_tail->next = d;
    else
        ep->wait_head = d;
    ep->wait_tail = d;
    ep->nwait++;
    ep->last_used_ms = hq_now_ms();
    pump(w, ep);
}

void epcache_release(struct hq_worker *w, struct epentry *ep, int64_t latency_ms)
{
    ep->inflight--;
    ep->last_used_ms = hq_now_ms();
    ep->last_done_ms = ep->last_used_ms;
    ep->lat_ewma_ms = ep->lat_ewma_ms <= 0 ? (double)latency_ms
                                           : 0.8 * ep->lat_ewma_ms + 0.2 * (double)latency_ms;
    pump(w, ep);
}

static void pump_limited_one(const char *key, void *val, void *arg)
{
    struct hq_worker *w = arg;
    struct epentry *ep = val;
    (void)key;
    if (!ep->rl_blocked || (ep->rl_done && hq_now_ms() / 1000 == ep->rl_sec))
        return;   /* not held, or its second is not over yet */
    ep->rl_blocked = 0;
    w->rl_blocked--;
    pump(w, ep);
}

void epcache_pump_limited(struct hq_worker *w)
{
    if (w->rl_blocked > 0)
        strmap_each(&w->eps, pump_limited_one, w);
}

/* Hands back the waiters of one endpoint beyond its backlog_cap now: the
 * estimate they were admitted under may be stale (an endpoint that was fast
 * and now hangs). The oldest keep their place; the newest are deferred. */
static void shed_one(const char *key, void *val, void *arg)
{
    struct hq_worker *w = arg;
    struct epentry *ep = val;
    (void)key;
    if (!ep->act || !ep->wait_head)
        return;
    int64_t now = hq_now_ms();
    int keep = backlog_cap(w, ep, now);
    if (ep->nwait <= keep)
        return;
    struct delivery **pp = &ep->wait_head, *last = NULL;
    for (int i = 0; i < keep && *pp; i++) {
        last = *pp;
        pp = &last->next;
    }
    struct delivery *rest = *pp;
    *pp = NULL;
    ep->wait_tail = last;
    ep->nwait = keep;
    while (rest) {
        struct delivery *nx = rest->next;
        rest->next = NULL;
        delivery_defer(rest, defer_delay(w, ep, now));
        rest = nx;
    }
}

void epcache_shed(struct hq_worker *w)
{
    strmap_each(&w->eps, shed_one, w);
}

static void sweep_one(const char *key, void *val, void *arg)
{
    struct hq_worker *w = arg;
    struct epentry *ep = val;
    int64_t now = hq_now_ms();
    if (ep->refs == 0 && ep->inflight == 0 && !ep->wait_head &&
        (w->closing || now - ep->last_used_ms > EP_IDLE_MS)) {
        strmap_del(&w->eps, key);
        if (ep->rl_blocked)
            w->rl_blocked--;
        epcfg_unref(ep->cfg);
        hq_free(ep->dis_reason);
        hq_free(ep->id);
        hq_free(ep);
    }
}

void epcache_sweep(struct hq_worker *w, int64_t now)
{
    (void)now;
    strmap_each(&w->eps, sweep_one, w);
}

static void drop_one(const char *key, void *val, void *arg)
{
    (void)key;
    (void)arg;
    struct epentry *ep = val;
    while (ep->wait_head) {
        struct delivery *d = ep->wait_head;
        ep->wait_head = d->next;
        ep->nwait--;
        d->next = NULL;
        delivery_free(d);   /* no outcome: stays pending for a reclaim */
    }
    ep->wait_tail = NULL;
}

void epcache_drop_waiters(struct hq_worker *w)
{
    strmap_each(&w->eps, drop_one, w);
}

/* Frees every entry; call after every delivery is gone. */
void epcache_free(struct hq_worker *w)
{
    w->closing = 1;
    strmap_each(&w->eps, sweep_one, w);
    strmap_free(&w->eps);
}
