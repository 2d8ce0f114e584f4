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
#include <string.h>
#include <stdio.h>
#include "hq_alloc.h"
#include "hq_log.h"
#include "worker.h"

#define EP_IDLE_MS (10 * 60 * 1000)

void epcfg_unref(struct epcfg *c)
{
    if (c && --c->refs == 0) {
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
        if (hq_endpoint_from_storage(cfg, cfglen, &c->e) != 0) {
            hq_error("endpoint config unreadable", "endpoint", ep->id, "ver", ver);
            hq_free(c);
            epcfg_unref(ep->cfg);
            ep->cfg = NULL;
            strcpy(ep->ver, "0");
            return;
        }
        epcfg_unref(ep->cfg);
        ep->cfg = c;
        snprintf(ep->ver, sizeof ep->ver, "%s", ver);
    } else if (strcmp(ep->ver, ver) != 0) {
        /* cannot happen (replies are ordered); force a reload next time */
        strcpy(ep->ver, "0");
    }
    (void)w;
}

/* Takes one token of the endpoint's rate limit (per worker), refilled
 * continuously at rate_limit_per_sec with a burst of one second's worth.
 * Returns 1 when the attempt may start. */
static int take_token(struct hq_worker *w, struct epentry *ep)
{
    int rate = ep->cfg ? ep->cfg->e.rate_limit_per_sec : 0;
    if (rate <= 0)
        return 1;
    int64_t now = hq_now_ms();
    if (ep->tok_ms == 0) {
        ep->tokens = rate;
    } else {
        ep->tokens += (double)(now - ep->tok_ms) * rate / 1000.0;
        if (ep->tokens > rate)
            ep->tokens = rate;
    }
    ep->tok_ms = now;
    if (ep->tokens < 1) {
        if (!ep->rl_blocked) {
            ep->rl_blocked = 1;
            w->rl_blocked++;
        }
        return 0;
    }
    ep->tokens -= 1;
    return 1;
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
        delivery_start(d);
    }
    ep->pumping = 0;
}

void epcache_submit(struct hq_worker *w, struct delivery *d)
{
    struct epentry *ep = d->ep;
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

void epcache_release(struct hq_worker *w, struct epentry *ep)
{
    ep->inflight--;
    ep->last_used_ms = hq_now_ms();
    pump(w, ep);
}

static void pump_limited_one(const char *key, void *val, void *arg)
{
    struct hq_worker *w = arg;
    struct epentry *ep = val;
    (void)key;
    if (!ep->rl_blocked)
        return;
    ep->rl_blocked = 0;
    w->rl_blocked--;
    pump(w, ep);
}

void epcache_pump_limited(struct hq_worker *w)
{
    if (w->rl_blocked > 0)
        strmap_each(&w->eps, pump_limited_one, w);
}

static void sweep_one(const char *key, void *val, void *arg)
{
    struct hq_worker *w = arg;
    struct epentry *ep = val;
    int64_t now = hq_now_ms();
    if (ep->refs == 0 && ep->inflight == 0 && !ep->wait_head &&
        (w->closing || now - ep->last_used_ms > EP_IDLE_MS)) {
        strmap_del(&w->eps, key);
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
