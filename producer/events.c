/* Event ingest (SPEC 3): POST /v1/events and POST /v1/events/batch.
 * An event is validated, its data canonicalised (hq_json_dumps), and fanned
 * out atomically on the org's shard: by FCALL hookq_publish for one event,
 * by one FCALL hookq_publish_batch_v2 per shard for a batch. Either every
 * delivery of an event is enqueued or none, so a Redis failure is answered
 * 503 with nothing partial left behind. Ingest is idempotent on (org_id,
 * id): a repeat returns the first answer (with Idempotent-Replayed: true, or
 * "replayed": true in a batch). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_buf.h"
#include "hq_id.h"
#include "hq_json.h"
#include "hq_log.h"
#include "hq_match.h"
#include "hq_sign.h"
#include "evscan.h"
#include "producer.h"

#define EVENT_ID_MAX 128
#define EVENT_ORG_MAX 128
#define BATCH_MAX 1000

static int org_valid(const char *s)
{
    if (!s || !*s || hq_utf8_len(s) > EVENT_ORG_MAX) return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

void producer_event_free(producer_event *e)
{
    hq_free(e->data_owned);
    e->data_owned = NULL;
    e->data = NULL;
}

/* Defaults shared by the events of one batch: generated ids, drawn from one
 * CSPRNG call per 64 ids (hq_id_event's form, "evt_" + 24 random hex), and
 * the default created_at (the request's time, whole seconds). */
typedef struct event_defaults {
    int64_t ts_ms;
    char ca[40];
    char pool[24 * 64 + 1];
    int left;                    /* unused ids at the start of pool */
} event_defaults;

static void defaults_init(event_defaults *d)
{
    d->ts_ms = hq_now_ms() / 1000 * 1000;
    hq_rfc3339(d->ts_ms, d->ca);
    d->left = 0;
}

static void defaults_id(event_defaults *d, char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (d->left == 0) {
        unsigned char rnd[12 * 64];
        hq_random_bytes(rnd, sizeof rnd);
        for (size_t k = 0; k < sizeof rnd; k++) {
            d->pool[2 * k] = hex[rnd[k] >> 4];
            d->pool[2 * k + 1] = hex[rnd[k] & 15];
        }
        d->left = 64;
    }
    d->left--;
    memcpy(out, "evt_", 4);
    memcpy(out + 4, d->pool + 24 * d->left, 24);
    out[28] = '\0';
}

/* The checks of an event's fields (SPEC 3), the first failing one named in
 * field and msg. type, org: the string values, or NULL (missing, not a
 * string, or holding a NUL byte). id_given/ca_given: the member is present
 * and not null; id/ca are then its string value, or NULL when it is not a
 * string (invalid). A missing id or created_at comes from d (d NULL: a
 * fresh id, now). Fills out except its data, which the caller sets; type
 * and org are borrowed. 0 or -1. */
static int event_check(const char *type, const char *org, int data_object, int id_given, const char *id,
                       int ca_given, const char *ca, event_defaults *d, producer_event *out, char *field,
                       size_t fieldlen, char *msg, size_t msglen)
{
    memset(out, 0, sizeof *out);
#define FAIL(f, ...) do { snprintf(field, fieldlen, "%s", f); snprintf(msg, msglen, __VA_ARGS__); return -1; } while (0)
    if (!type || !hq_type_valid(type))
        FAIL("type", "type is required: 1-128 characters, dot-separated segments of [A-Za-z0-9_] (e.g. lead.created)");
    if (!org_valid(org)) FAIL("org_id", "org_id is required: a string of 1-%d characters", EVENT_ORG_MAX);
    if (!data_object) FAIL("data", "data is required and must be a JSON object");
    if (id_given) {
        if (!id || !hq_event_id_valid(id))
            FAIL("id", "id must be 1-%d characters of [A-Za-z0-9_.:-]", EVENT_ID_MAX);
        snprintf(out->id, sizeof out->id, "%s", id);
    } else if (d) {
        defaults_id(d, out->id);
    } else {
        hq_id_event(out->id);
    }
    if (ca_given) {
        int64_t ms;
        int frac = 0;
        if (!ca || hq_parse_rfc3339(ca, &ms, &frac) != 0 || ms < 0 || ms > 253402300799999LL)
            FAIL("created_at", "created_at must be an RFC 3339 timestamp such as 2026-04-12T15:32:11Z");
        out->ts_ms = ms;
        if (frac) hq_rfc3339_ms(ms, out->ca);
        else hq_rfc3339(ms, out->ca);
    } else if (d) {
        out->ts_ms = d->ts_ms;
        memcpy(out->ca, d->ca, sizeof out->ca);
    } else {
        out->ts_ms = hq_now_ms() / 1000 * 1000;
        hq_rfc3339(out->ts_ms, out->ca);
    }
#undef FAIL
    out->type = type;
    out->org = org;
    return 0;
}

/* producer_event_validate with the batch's defaults (d may be NULL). */
static int validate_json(json_t *ev, event_defaults *d, producer_event *out, char *field, size_t fieldlen,
                         char *msg, size_t msglen)
{
    if (!json_is_object(ev)) {
        memset(out, 0, sizeof *out);
        snprintf(field, fieldlen, "event");
        snprintf(msg, msglen, "an event must be a JSON object");
        return -1;
    }
    json_t *data = json_object_get(ev, "data");
    json_t *idv = json_object_get(ev, "id"), *cav = json_object_get(ev, "created_at");
    int id_given = idv && !json_is_null(idv), ca_given = cav && !json_is_null(cav);
    if (event_check(hq_json_str(json_object_get(ev, "type")), hq_json_str(json_object_get(ev, "org_id")),
                    json_is_object(data), id_given, id_given ? hq_json_str(idv) : NULL, ca_given,
                    ca_given ? hq_json_str(cav) : NULL, d, out, field, fieldlen, msg, msglen) != 0)
        return -1;
    out->data = out->data_owned = hq_json_dumps(data, &out->data_len);
    return 0;
}

int producer_event_validate(json_t *ev, producer_event *out, char *field, size_t fieldlen, char *msg,
                            size_t msglen)
{
    return validate_json(ev, NULL, out, field, fieldlen, msg, msglen);
}

/* A scanned string field as a NUL-terminated copy at *pos (advanced), or
 * NULL when it is not a string. */
static const char *scanned_str(const evscan_field *f, char **pos)
{
    if (f->kind != EVSCAN_STRING) return NULL;
    char *s = *pos;
    memcpy(s, f->s, f->len);
    s[f->len] = '\0';
    *pos += f->len + 1;
    return s;
}

/* validate_json for an event found by producer_evscan_batch; its data text
 * is borrowed (from the body or canon). */
static int validate_scanned(const evscan_event *e, const hq_buf *canon, char **pos, event_defaults *d,
                            producer_event *out, char *field, size_t fieldlen, char *msg, size_t msglen)
{
    const char *type = scanned_str(&e->type, pos), *org = scanned_str(&e->org, pos);
    const char *id = scanned_str(&e->id, pos), *ca = scanned_str(&e->created_at, pos);
    int id_given = e->id.kind == EVSCAN_STRING || e->id.kind == EVSCAN_OTHER;
    int ca_given = e->created_at.kind == EVSCAN_STRING || e->created_at.kind == EVSCAN_OTHER;
    if (event_check(type, org, e->data_object, id_given, id, ca_given, ca, d, out, field, fieldlen, msg,
                    msglen) != 0)
        return -1;
    out->data = e->data ? e->data : canon->data + e->data_off;
    out->data_len = e->data_len;
    return 0;
}

void producer_publish_cmd(struct producer *p, const producer_event *ev, const char *only_ep, const char *test,
                          producer_publish_bufs *b, producer_cmd *cmd)
{
    int shard = hq_shard_of_org(ev->org, (int)p->cfg.shards);
    producer_tag(p, shard, b->tag);
    hq_event_key(b->k_ev, sizeof b->k_ev, b->tag, ev->org, ev->id);
    snprintf(b->k_eps, sizeof b->k_eps, "%sorg:%s:eps", b->tag, ev->org);
    snprintf(b->k_stream, sizeof b->k_stream, "%sstream", b->tag);
    snprintf(b->k_eid, sizeof b->k_eid, "%seid:%s", b->tag, ev->id);
    snprintf(b->ts, sizeof b->ts, "%lld", (long long)ev->ts_ms);
    snprintf(b->now, sizeof b->now, "%lld", (long long)hq_now_ms());
    snprintf(b->keep, sizeof b->keep, "%lld", (long long)p->keep_seconds);
    snprintf(b->shard, sizeof b->shard, "%03x", (unsigned)shard);
    producer_cmd_init(cmd);
    producer_cmd_add(cmd, "FCALL");
    producer_cmd_add(cmd, "hookq_publish");
    producer_cmd_add(cmd, "4");
    producer_cmd_add(cmd, b->k_ev);
    producer_cmd_add(cmd, b->k_eps);
    producer_cmd_add(cmd, b->k_stream);
    producer_cmd_add(cmd, b->k_eid);
    producer_cmd_add(cmd, b->tag);
    producer_cmd_add(cmd, ev->org);
    producer_cmd_add(cmd, ev->id);
    producer_cmd_add(cmd, ev->type);
    producer_cmd_add(cmd, ev->ca);
    producer_cmd_add(cmd, b->ts);
    producer_cmd_addn(cmd, ev->data, ev->data_len);
    producer_cmd_add(cmd, b->now);
    producer_cmd_add(cmd, b->keep);
    producer_cmd_add(cmd, b->shard);
    producer_cmd_add(cmd, only_ep ? only_ep : "");
    producer_cmd_add(cmd, test ? test : "0");
}

int producer_publish_result(const redisReply *r, long long *deliveries)
{
    *deliveries = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    *deliveries = r->element[1]->integer;
    if (strcmp(r->element[0]->str, "new") == 0) return 1;
    if (strcmp(r->element[0]->str, "dup") == 0) return 2;
    if (strcmp(r->element[0]->str, "noep") == 0) return 3;
    return -1;
}

static json_t *accepted(const char *id, long long n)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "deliveries", json_integer(n));
    return o;
}

/* POST /v1/events. The body is read by the fast path (evscan.c), or by
 * jansson when that declines (which also answers malformed bodies). */
void producer_events_post(struct producer *p, hq_http_req *req)
{
    hq_buf canon;
    hq_buf_init(&canon, 0);
    evscan_event sc;
    json_t *body = NULL;
    char *strs = NULL, *pos;
    producer_event ev;
    char field[64], msg[256];
    int rc;
    if (producer_evscan_event(req->body, req->body_len, &sc, &canon) == 0) {
        pos = strs = hq_malloc(req->body_len + 5);
        rc = validate_scanned(&sc, &canon, &pos, NULL, &ev, field, sizeof field, msg, sizeof msg);
    } else {
        body = producer_parse_body(p, req, 0);
        if (!body) {
            hq_buf_free(&canon);
            return;
        }
        rc = producer_event_validate(body, &ev, field, sizeof field, msg, sizeof msg);
    }
    if (rc != 0) {
        producer_error(p, req, 422, "validation_failed", msg, field);
        goto out;
    }
    producer_publish_bufs b;
    producer_cmd cmd;
    producer_publish_cmd(p, &ev, "", "0", &b, &cmd);
    redisReply *r = producer_redis_cmd(p, &cmd);
    long long n;
    int kind = producer_reply_failed(p, r) ? -1 : producer_publish_result(r, &n);
    if (kind < 0 || kind == 3) {
        if (r && r->type != REDIS_REPLY_ERROR) hq_error("unexpected hookq_publish reply");
        producer_unavailable(p, req);
    } else {
        if (kind == 1) hq_metric_add(p->m_ingested, 1);
        producer_json(p, req, 202, accepted(ev.id, n), kind == 2 ? "Idempotent-Replayed: true\r\n" : NULL);
    }
    if (r) freeReplyObject(r);
    producer_event_free(&ev);
out:
    hq_free(strs);
    hq_buf_free(&canon);
    json_decref(body);
}

/* ---- POST /v1/events/batch ---- */

/* Events per FCALL hookq_publish_batch: one call per shard and batch, split
 * past this many events so that one call keeps Redis busy for a few
 * milliseconds at most (~25 µs per 1 KiB event), not tens (a worker's
 * commands wait meanwhile). Larger calls save nothing measurable. */
#define CALL_MAX 200

/* Per batch item: what the answer says. */
enum { ITEM_INVALID, ITEM_NEW, ITEM_REPLAY, ITEM_UNAVAILABLE };

/* A batch being published: its events and their answers, by position. */
typedef struct batch {
    int n;
    producer_event *evs;
    int *kinds;                  /* ITEM_* */
    long long *dels;             /* deliveries (ITEM_NEW, ITEM_REPLAY) */
    json_t **errs;               /* ITEM_INVALID: the error object (owned) */
    int *shard;                  /* valid events: the org's shard */
    char (*ts)[24];              /* valid events: created_at ms as text */
    char (*dg)[HQ_DIGEST_LEN + 1]; /* valid events: hq_event_digest */
    char **evkey;                /* valid events: "<tag>ev:<org>:<id>" (into one allocation) */
} batch;

/* One FCALL hookq_publish_batch: up to CALL_MAX events of one shard, in
 * batch order. */
typedef struct shard_call {
    int shard;
    int n;
    const int *ev;               /* their positions (a slice of the plan's order) */
    char tag[HQ_KEY_MAX];
    char stream[HQ_KEY_MAX + 16];
    char hex[8];
    char nkeys[16];              /* FCALL's numkeys: 1 + n */
} shard_call;

/* Decimal text of v into out (>= 21 bytes), NUL-terminated; returns its length. */
static size_t ll_text(long long v, char *out)
{
    char *e = hq_i64_dec(out, v);
    *e = '\0';
    return (size_t)(e - out);
}

/* Groups the valid events by shard, keeping the batch order within each,
 * into calls of at most CALL_MAX events (shards in order of their first
 * event). order (b->n ints) receives the positions the calls point into.
 * Returns the calls (hq_free) and their number in *ncalls. */
static shard_call *plan_calls(struct producer *p, const batch *b, int *order, int *ncalls)
{
    int nshards = (int)p->cfg.shards, nseen = 0;
    int *count = hq_calloc((size_t)nshards, sizeof *count);
    int *at = hq_calloc((size_t)nshards, sizeof *at);
    int *seen = hq_calloc((size_t)nshards, sizeof *seen);   /* shards in order of first event */
    for (int i = 0; i < b->n; i++)
        if (b->kinds[i] != ITEM_INVALID && count[b->shard[i]]++ == 0) seen[nseen++] = b->shard[i];
    int total = 0, nc = 0;
    for (int k = 0; k < nseen; k++) {
        at[seen[k]] = total;
        total += count[seen[k]];
        nc += (count[seen[k]] + CALL_MAX - 1) / CALL_MAX;
    }
    for (int i = 0; i < b->n; i++)
        if (b->kinds[i] != ITEM_INVALID) order[at[b->shard[i]]++] = i;
    shard_call *calls = hq_calloc(nc ? (size_t)nc : 1, sizeof *calls);
    int c = 0, off = 0;
    for (int k = 0; k < nseen; k++) {
        int s = seen[k];
        for (int done = 0; done < count[s]; done += CALL_MAX, c++) {
            shard_call *sc = &calls[c];
            sc->shard = s;
            sc->n = count[s] - done < CALL_MAX ? count[s] - done : CALL_MAX;
            sc->ev = order + off + done;
            ll_text(1 + sc->n, sc->nkeys);
            producer_tag(p, s, sc->tag);
            snprintf(sc->stream, sizeof sc->stream, "%sstream", sc->tag);
            snprintf(sc->hex, sizeof sc->hex, "%03x", (unsigned)s);
        }
        off += count[s];
    }
    hq_free(count);
    hq_free(at);
    hq_free(seen);
    *ncalls = nc;
    return calls;
}

/* FCALL hookq_publish_batch_v2 <1+n> <stream> <event key>... <tag> <now>
 * <keep> <shard> then 7 per event, into argv/lens (8 + 8n slots; borrowed
 * strings). The event keys are b->evkey's. */
static void call_cmd(const shard_call *sc, const batch *b, const char *now, const char *keep, const char **argv,
                     size_t *lens, producer_cmd *cmd)
{
    size_t k = 0;
#define ARG(s, l) (argv[k] = (s), lens[k] = (l), k++)
    ARG("FCALL", 5);
    ARG("hookq_publish_batch_v2", 22);
    ARG(sc->nkeys, strlen(sc->nkeys));
    ARG(sc->stream, strlen(sc->stream));
    for (int j = 0; j < sc->n; j++) ARG(b->evkey[sc->ev[j]], strlen(b->evkey[sc->ev[j]]));
    ARG(sc->tag, strlen(sc->tag));
    ARG(now, strlen(now));
    ARG(keep, strlen(keep));
    ARG(sc->hex, strlen(sc->hex));
    for (int j = 0; j < sc->n; j++) {
        int i = sc->ev[j];
        const producer_event *e = &b->evs[i];
        ARG(e->org, strlen(e->org));
        ARG(e->id, strlen(e->id));
        ARG(e->type, strlen(e->type));
        ARG(e->ca, strlen(e->ca));
        ARG(b->ts[i], strlen(b->ts[i]));
        ARG(e->data, e->data_len);
        ARG(b->dg[i], HQ_DIGEST_LEN);
    }
#undef ARG
    producer_cmd_vec(cmd, (int)k, argv, lens);
}

/* Reads one call's reply into the answers of its events: 0, or -1 when the
 * call failed or the reply is not one integer per event (its events stay
 * ITEM_UNAVAILABLE). */
static int call_reply(struct producer *p, const redisReply *r, const shard_call *c, batch *b)
{
    if (producer_reply_failed(p, r)) return -1;
    int ok = r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)c->n;
    for (int j = 0; ok && j < c->n; j++) ok = r->element[j]->type == REDIS_REPLY_INTEGER;
    if (!ok) {
        hq_error("unexpected hookq_publish_batch reply");
        return -1;
    }
    for (int j = 0; j < c->n; j++) {
        long long v = r->element[j]->integer;
        b->kinds[c->ev[j]] = v >= 0 ? ITEM_NEW : ITEM_REPLAY;
        b->dels[c->ev[j]] = v >= 0 ? v : -1 - v;
    }
    return 0;
}

/* Appends item i of the answer: {"status":202,"id":...,"deliveries":N
 * [,"replayed":true]} or {"status":422|503,"error":{...}}. */
static void answer_item(hq_buf *out, const batch *b, int i)
{
    char num[24];
    if (b->kinds[i] == ITEM_NEW || b->kinds[i] == ITEM_REPLAY) {
        (void)hq_buf_append(out, "{\"status\":202,\"id\":", 19);
        (void)hq_json_write_string(out, b->evs[i].id, strlen(b->evs[i].id));
        (void)hq_buf_append(out, ",\"deliveries\":", 14);
        (void)hq_buf_append(out, num, ll_text(b->dels[i], num));
        if (b->kinds[i] == ITEM_REPLAY) (void)hq_buf_append(out, ",\"replayed\":true", 16);
        (void)hq_buf_putc(out, '}');
        return;
    }
    json_t *e = b->errs[i] ? json_incref(b->errs[i])
                           : producer_error_obj("redis_unavailable", "Redis could not accept this event; retry it",
                                                NULL);
    char *s = json_dumps(json_object_get(e, "error"), JSON_COMPACT);
    (void)hq_buf_printf(out, "{\"status\":%d,\"error\":%s}", b->kinds[i] == ITEM_INVALID ? 422 : 503,
                        s ? s : "null");
    free(s);
    json_decref(e);
}

/* A batch whose calls are in flight (producer_redis_pipeline_async):
 * everything its commands borrow, until batch_answer has answered. */
typedef struct batch_job {
    hq_http_req *req;
    batch b;
    int nvalid, ncalls;
    shard_call *calls;
    producer_cmd *cmds;
    redisReply **replies;
    const char **argv;
    size_t *lens;
    char *keymem;                /* the event keys */
    int *order;
    char *strs;                  /* the scanned events' string fields */
    evscan_event *scanned;
    hq_buf canon;                /* data texts the scan had to rewrite */
    json_t *body;                /* the jansson fallback's parse, or NULL */
    char now[24], keep[24];
} batch_job;

static void batch_job_free(batch_job *j)
{
    batch *b = &j->b;
    for (int i = 0; i < b->n; i++) {
        producer_event_free(&b->evs[i]);
        json_decref(b->errs[i]);
    }
    hq_free(b->evs);
    hq_free(b->kinds);
    hq_free(b->dels);
    hq_free(b->errs);
    hq_free(b->shard);
    hq_free(b->ts);
    hq_free(b->dg);
    hq_free(b->evkey);
    hq_free(j->keymem);
    hq_free(j->order);
    hq_free(j->calls);
    hq_free(j->cmds);
    hq_free(j->replies);
    hq_free(j->argv);
    hq_free(j->lens);
    hq_free(j->strs);
    hq_free(j->scanned);
    hq_buf_free(&j->canon);
    json_decref(j->body);
    hq_free(j);
}

/* The calls' replies are in (rc 0) or Redis failed (rc -1): answers the
 * batch and frees the job. */
static void batch_answer(struct producer *p, void *arg, int rc, redisReply **replies)
{
    batch_job *j = arg;
    batch *b = &j->b;
    if (rc != 0) {
        producer_unavailable(p, j->req);
        batch_job_free(j);
        return;
    }
    int accepted = 0, fresh = 0;
    for (int c = 0; c < j->ncalls; c++) {
        if (call_reply(p, replies[c], &j->calls[c], b) != 0) continue;
        for (int k = 0; k < j->calls[c].n; k++) {
            accepted++;
            fresh += b->kinds[j->calls[c].ev[k]] == ITEM_NEW;
        }
    }
    for (int c = 0; c < j->ncalls; c++)
        if (replies[c]) freeReplyObject(replies[c]);
    if (j->nvalid > 0 && accepted == 0) {
        /* Redis refused every event (e.g. OOM): nothing was accepted, so the
         * whole batch can be retried as is */
        producer_unavailable(p, j->req);
        batch_job_free(j);
        return;
    }
    if (fresh) hq_metric_add(p->m_ingested, fresh);
    hq_buf resp;
    hq_buf_init(&resp, 0);
    (void)hq_buf_puts(&resp, "{\"results\":[");
    for (int i = 0; i < b->n; i++) {
        if (i) (void)hq_buf_putc(&resp, ',');
        answer_item(&resp, b, i);
    }
    (void)hq_buf_puts(&resp, "]}");
    hq_http_req *req = j->req;
    int status = accepted == b->n ? 202 : 207;
    batch_job_free(j); /* before answering: the answer may start the next request */
    producer_respond(p, req, status, "application/json", NULL, resp.data, resp.len);
    hq_buf_free(&resp);
}

/* POST /v1/events/batch. The body is read by the fast path (evscan.c), or
 * by jansson when that declines (which also answers malformed bodies). The
 * valid events are published by FCALL hookq_publish_batch_v2, one call per
 * shard (per CALL_MAX events), all pipelined; each call keeps the batch's
 * order within its shard, so a repeat inside the batch is a replay exactly
 * as with one publish after the other. A call Redis refuses makes its
 * events 503 while the others' results stand (207); if no event at all was
 * accepted the whole answer is 503 (the batch can be retried as is).
 * The calls are sent without waiting (producer_redis_pipeline_async):
 * batch_answer answers once Redis has, and meanwhile the loop reads and
 * parses the next request. */
void producer_events_batch(struct producer *p, hq_http_req *req)
{
    batch_job *j = hq_calloc(1, sizeof *j);
    j->req = req;
    hq_buf_init(&j->canon, 0);
    json_t *arr = NULL;
    int n = producer_evscan_batch(req->body, req->body_len, BATCH_MAX, &j->scanned, &j->canon);
    if (n < 0) {
        j->body = producer_parse_body(p, req, 0);
        if (!j->body) {
            batch_job_free(j);
            return;
        }
        arr = json_object_get(j->body, "events");
        if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > BATCH_MAX) {
            producer_error(p, req, 422, "validation_failed", "events must be an array of 1 to 1000 events",
                           "events");
            batch_job_free(j);
            return;
        }
        n = (int)json_array_size(arr);
    }
    batch *b = &j->b;
    *b = (batch){ n, hq_calloc((size_t)n, sizeof *b->evs), hq_calloc((size_t)n, sizeof *b->kinds),
                  hq_calloc((size_t)n, sizeof *b->dels), hq_calloc((size_t)n, sizeof *b->errs),
                  hq_calloc((size_t)n, sizeof *b->shard), hq_calloc((size_t)n, sizeof *b->ts),
                  hq_calloc((size_t)n, sizeof *b->dg), hq_calloc((size_t)n, sizeof *b->evkey) };
    /* the scanned events' string fields, NUL-terminated: at most the body's
     * bytes plus 4 NULs per event */
    j->strs = j->scanned ? hq_malloc(req->body_len + 4 * (size_t)n + 1) : NULL;
    char *pos = j->strs;
    event_defaults defs;
    defaults_init(&defs);
    for (int i = 0; i < n; i++) {
        char field[64], msg[256];
        int rc = j->scanned ? validate_scanned(&j->scanned[i], &j->canon, &pos, &defs, &b->evs[i], field,
                                               sizeof field, msg, sizeof msg)
                            : validate_json(json_array_get(arr, (size_t)i), &defs, &b->evs[i], field,
                                            sizeof field, msg, sizeof msg);
        if (rc != 0) {
            b->errs[i] = producer_error_obj("validation_failed", msg, field);
            b->kinds[i] = ITEM_INVALID;
            continue;
        }
        b->kinds[i] = ITEM_UNAVAILABLE; /* until its call answers */
        b->shard[i] = hq_shard_of_org(b->evs[i].org, (int)p->cfg.shards);
        ll_text(b->evs[i].ts_ms, b->ts[i]);
        hq_event_digest(b->evs[i].org, b->evs[i].id, b->dg[i]);
        j->nvalid++;
    }

    j->order = hq_calloc((size_t)n, sizeof *j->order);
    j->calls = plan_calls(p, b, j->order, &j->ncalls);
    int ncalls = j->ncalls;
    shard_call *calls = j->calls;
    /* the event keys (hq_event_key: "<tag>ev:<org>:<id>", '%' and ':' of
     * the org escaped), in one allocation */
    size_t keybytes = 1;
    for (int c = 0; c < ncalls; c++)
        for (int k = 0; k < calls[c].n; k++) {
            const producer_event *e = &b->evs[calls[c].ev[k]];
            keybytes += strlen(calls[c].tag) + 3 * strlen(e->org) + strlen(e->id) + 5;
        }
    char *kp = j->keymem = hq_malloc(keybytes);
    char *kend = kp + keybytes;
    for (int c = 0; c < ncalls; c++)
        for (int k = 0; k < calls[c].n; k++) {
            int i = calls[c].ev[k];
            b->evkey[i] = kp;
            kp += hq_event_key(kp, (size_t)(kend - kp), calls[c].tag, b->evs[i].org, b->evs[i].id) + 1;
        }
    j->cmds = hq_calloc(ncalls ? (size_t)ncalls : 1, sizeof *j->cmds);
    j->replies = hq_calloc(ncalls ? (size_t)ncalls : 1, sizeof *j->replies);
    size_t nargs = (size_t)ncalls * 8 + (size_t)j->nvalid * 8;
    j->argv = hq_calloc(nargs ? nargs : 1, sizeof *j->argv);
    j->lens = hq_calloc(nargs ? nargs : 1, sizeof *j->lens);
    ll_text(hq_now_ms(), j->now);
    ll_text(p->keep_seconds, j->keep);
    for (int c = 0, k = 0; c < ncalls; k += 8 + 8 * calls[c].n, c++)
        call_cmd(&calls[c], b, j->now, j->keep, j->argv + k, j->lens + k, &j->cmds[c]);
    producer_redis_pipeline_async(p, j->cmds, ncalls, j->replies, batch_answer, j);
}
