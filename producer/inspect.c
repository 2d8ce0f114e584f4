/* Inspection routes of the producer (SPEC 5, 6): what happened to an event
 * and each of its deliveries (GET /v1/events/{id}), an endpoint's attempt log
 * (GET /v1/endpoints/{id}/deliveries), manual re-sends (POST
 * /v1/deliveries/{id}/resend, POST /v1/endpoints/{id}/recover) and the queue
 * overview (GET /v1/stats). Reads are plain pipelined Redis commands on the
 * keys of docs/redis-keys.md (one round trip per kind of command); the two
 * writes are the atomic functions hookq_resend and hookq_recover. Every
 * answer goes through producer_respond / producer_json / producer_error
 * (producer.h); 200 bodies are written as canonical JSON (answer()). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_match.h"
#include "hq_id.h"
#include "hq_json.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "inspect.h"

#define EVENT_ID_MAX 128
#define ORG_MAX_BYTES 512        /* 128 characters of up to 4 UTF-8 bytes */
#define ORG_BUF (ORG_MAX_BYTES + 2) /* an org: one byte more shows a longer (truncated) value */
#define BIGKEY (HQ_KEY_MAX * 3)  /* keys holding an org and an event id */
#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 250
#define LOG_BATCH 200            /* attempt-log entries read per XREVRANGE */
#define LOG_SCAN_MAX 20000       /* entries scanned per request at most */
#define LOG_EXACT_MAX 10000      /* logs up to this length: pages counted from the newest */
#define WORKER_LIVE_MS 15000     /* heartbeat TTL: seen within it = live */

/* ---- small helpers ---- */

/* 1 if path is prefix + one non-empty segment + suffix (suffix may be "");
 * the segment is copied into id (< idlen bytes, else no match). */
static int match_id(const char *path, const char *prefix, const char *suffix, char *id, size_t idlen)
{
    size_t pl = strlen(prefix), sl = strlen(suffix), n = strlen(path);
    if (n <= pl + sl || strncmp(path, prefix, pl) != 0 || strcmp(path + n - sl, suffix) != 0) return 0;
    const char *s = path + pl;
    size_t l = n - pl - sl;
    if (memchr(s, '/', l) != NULL || l >= idlen) return 0;
    memcpy(id, s, l);
    id[l] = '\0';
    return 1;
}

/* Value of field `name` in a flat HGETALL / XINFO-style array reply, or NULL. */
static const redisReply *hfield(const redisReply *h, const char *name)
{
    if (!h || h->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const redisReply *k = h->element[i];
        if (k->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0) return h->element[i + 1];
    }
    return NULL;
}

/* String value of a reply element, or NULL (nil, missing, not a string). */
static const char *rstr(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : NULL;
}

/* Integer of a string or integer reply; dflt when absent or unparsable. */
static long long rll(const redisReply *r, long long dflt)
{
    if (!r) return dflt;
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    long long v;
    if (r->type == REDIS_REPLY_STRING && hq_parse_ll(r->str, &v) == 0) return v;
    if (r->type == REDIS_REPLY_STRING && r->str[0] == '-' && hq_parse_ll(r->str + 1, &v) == 0) return -v;
    return dflt;
}

static json_t *time_or_null(long long ms)
{
    if (ms <= 0) return json_null();
    char buf[40];
    hq_rfc3339(ms, buf);
    return json_string(buf);
}

/* Parses stored JSON text (canonical, written by hookq) for an answer. Read
 * with hq_json_parse and written back by answer() with hq_json_dumps, an
 * event's data comes out byte for byte as it was delivered (numbers
 * included). Never NULL: unreadable text comes back as a JSON string. */
static json_t *stored_json(const char *s, size_t len)
{
    json_error_t err;
    json_t *v = hq_json_parse(s, len, &err);
    if (!v) v = json_stringn(s, len);
    return v ? v : json_null();
}

/* Answers with o (stolen) in canonical JSON, so stored documents keep their
 * numbers as delivered (jansson's own dump prints 0.1 as 0.10000000000000001). */
static void answer(struct producer *p, hq_http_req *req, int status, json_t *o)
{
    size_t len = 0;
    char *s = hq_json_dumps(o, &len);
    json_decref(o);
    if (!s) {
        producer_error(p, req, 500, "internal", "cannot encode the answer", NULL);
        return;
    }
    producer_respond(p, req, status, "application/json", NULL, s, len);
    hq_free(s);
}

static void free_replies(redisReply **rs, int n)
{
    for (int i = 0; i < n; i++)
        if (rs[i]) freeReplyObject(rs[i]);
}

/* 1 if every reply of a pipeline is usable, else 0 (and counts errors). */
static int replies_ok(struct producer *p, redisReply **rs, int n)
{
    for (int i = 0; i < n; i++)
        if (producer_reply_failed(p, rs[i])) return 0;
    return 1;
}

/* Runs n commands pipelined into rs. If Redis is unavailable or any reply
 * is an error, answers 503 itself, frees what came back and returns -1. */
static int pipeline_all(struct producer *p, hq_http_req *req, const producer_cmd *cmds, int n, redisReply **rs)
{
    if (producer_redis_pipeline(p, cmds, n, rs) != 0) {
        producer_unavailable(p, req);
        return -1;
    }
    if (!replies_ok(p, rs, n)) {
        free_replies(rs, n);
        producer_unavailable(p, req);
        return -1;
    }
    return 0;
}

/* Shard of a hookq id with the given prefix ("dlv_", "ep_"), or -1. */
static int shard_of(const struct producer *p, const char *id, const char *prefix)
{
    if (strncmp(id, prefix, strlen(prefix)) != 0 || strlen(id) >= HQ_ID_LEN) return -1;
    return hq_shard_of_id(id, (int)p->cfg.shards);
}

/* ---- GET /v1/events/{id} ---- */

/* Finds the org (and so the shard) that published event `id`. With
 * ?org_id= that org is taken as is. Without it every shard's eid:<id> set
 * is read in one pipeline. Returns 0 with org (>= ORG_BUF bytes) and
 * *shard set; or answers (404, 409 ambiguous, 503) and returns -1. */
static int event_locate(struct producer *p, hq_http_req *req, const char *id, char *org, int *shard)
{
    if (hq_http_query(req, "org_id", org, ORG_BUF)) {
        if (!org[0] || strlen(org) > ORG_MAX_BYTES) {
            producer_not_found(p, req, "no event with this id");
            return -1;
        }
        *shard = hq_shard_of_org(org, (int)p->cfg.shards);
        return 0;
    }
    int n = (int)p->cfg.shards;
    producer_cmd *cmds = hq_calloc((size_t)n, sizeof *cmds);
    char (*keys)[BIGKEY] = hq_calloc((size_t)n, BIGKEY);
    redisReply **rs = hq_calloc((size_t)n, sizeof *rs);
    int rc = -1;
    for (int s = 0; s < n; s++) {
        char tag[HQ_KEY_MAX];
        producer_tag(p, s, tag);
        snprintf(keys[s], BIGKEY, "%seid:%s", tag, id);
        producer_cmd_init(&cmds[s]);
        producer_cmd_add(&cmds[s], "SMEMBERS");
        producer_cmd_add(&cmds[s], keys[s]);
    }
    if (pipeline_all(p, req, cmds, n, rs) != 0)
        goto out;
    int found = 0;
    for (int s = 0; s < n; s++) {
        if (rs[s]->type != REDIS_REPLY_ARRAY) continue;
        for (size_t i = 0; i < rs[s]->elements; i++) {
            const char *o = rstr(rs[s]->element[i]);
            if (!o || strlen(o) > ORG_MAX_BYTES) continue;
            if (found++ == 0) {
                snprintf(org, ORG_BUF, "%s", o);
                *shard = s;
            }
        }
    }
    free_replies(rs, n);
    if (found == 0) {
        producer_not_found(p, req, "no event with this id");
    } else if (found > 1) {
        producer_error(p, req, 409, "ambiguous",
                       "several orgs published an event with this id; pass org_id", "org_id");
    } else {
        rc = 0;
    }
out:
    hq_free(rs);
    hq_free(keys);
    hq_free(cmds);
    return rc;
}

/* The attempts a<1..n> of a delivery hash (HGETALL reply), parsed, in
 * attempt order. Missing numbers (a poisoned or cancelled attempt records
 * none) are skipped. */
static json_t *delivery_attempts(const redisReply *h)
{
    json_t *arr = json_array();
    long long n = rll(hfield(h, "n"), 0);
    if (n > 10000) n = 10000;
    for (long long k = 1; k <= n; k++) {
        char f[32];
        snprintf(f, sizeof f, "a%lld", k);
        const redisReply *a = hfield(h, f);
        if (a && a->type == REDIS_REPLY_STRING) json_array_append_new(arr, stored_json(a->str, a->len));
    }
    return arr;
}

/* One delivery of GET /v1/events/{id}; inflight: the stream entry is
 * claimed by a worker (in the group's PEL); ev: the event's hash, whose
 * created is the delivery's (a delivery hash of this version has none, nor
 * an upd before its first outcome; see store_event in common/hookq.lua). */
static json_t *delivery_view(const char *did, const redisReply *h, const redisReply *ev, int inflight)
{
    const char *st = rstr(hfield(h, "st"));
    if (!st) st = "pending";
    if (strcmp(st, "pending") == 0 && inflight) st = "in_flight";
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(did));
    const char *ep = rstr(hfield(h, "ep"));
    json_object_set_new(o, "endpoint_id", ep ? json_string(ep) : json_null());
    json_object_set_new(o, "state", json_string(st));
    json_object_set_new(o, "next_attempt_at",
                        strcmp(st, "retrying") == 0 ? time_or_null(rll(hfield(h, "due"), 0)) : json_null());
    json_object_set_new(o, "attempts_made", json_integer(rll(hfield(h, "n"), 0)));
    long long code = rll(hfield(h, "code"), 0);
    json_object_set_new(o, "last_status", code > 0 ? json_integer(code) : json_null());
    const char *reason = rstr(hfield(h, "reason"));
    json_object_set_new(o, "dead_reason",
                        reason && *reason && (strcmp(st, "dead") == 0 || strcmp(st, "cancelled") == 0)
                            ? json_string(reason) : json_null());
    long long created = rll(hfield(h, "created"), rll(hfield(ev, "created"), 0));
    json_object_set_new(o, "created_at", time_or_null(created));
    json_object_set_new(o, "updated_at", time_or_null(rll(hfield(h, "upd"), created)));
    json_object_set_new(o, "attempts", delivery_attempts(h));
    return o;
}

static void route_event(struct producer *p, hq_http_req *req, const char *id)
{
    if (!hq_event_id_valid(id)) {
        producer_not_found(p, req, "no event with this id");
        return;
    }
    char org[ORG_BUF];
    int shard = 0;
    if (event_locate(p, req, id, org, &shard) != 0) return;

    char tag[HQ_KEY_MAX], evkey[BIGKEY], stream[HQ_KEY_MAX + 16];
    producer_tag(p, shard, tag);
    hq_event_key(evkey, sizeof evkey, tag, org, id);
    snprintf(stream, sizeof stream, "%sstream", tag);
    redisReply *ev = NULL;
    /* an org with '%' or ':' had its event keys unescaped before 2026-11-27:
     * such an event is read from that key when the escaped one is empty */
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            if (ev->elements != 0 || !strpbrk(org, "%:")) break;
            freeReplyObject(ev);
            snprintf(evkey, sizeof evkey, "%sev:%s:%s", tag, org, id);
        }
        producer_cmd cmd;
        producer_cmd_init(&cmd);
        producer_cmd_add(&cmd, "HGETALL");
        producer_cmd_add(&cmd, evkey);
        ev = producer_redis_cmd(p, &cmd);
        if (producer_reply_failed(p, ev) || ev->type != REDIS_REPLY_ARRAY) {
            if (ev) freeReplyObject(ev);
            producer_unavailable(p, req);
            return;
        }
    }
    const char *eorg = rstr(hfield(ev, "org"));
    if (ev->elements == 0 || !eorg || strcmp(eorg, org) != 0) {
        freeReplyObject(ev);
        producer_not_found(p, req, "no event with this id");
        return;
    }

    /* the delivery ids, space-separated in "dl" */
    const char *dl = rstr(hfield(ev, "dl"));
    char *dlcopy = hq_strdup(dl ? dl : "");
    int m = 0;
    for (char *s = dlcopy; *s; s++)
        if (*s != ' ' && (s == dlcopy || s[-1] == ' ')) m++;
    char **dids = hq_calloc(m ? (size_t)m : 1, sizeof *dids);
    m = 0;
    for (char *save = NULL, *t = strtok_r(dlcopy, " ", &save); t; t = strtok_r(NULL, " ", &save)) dids[m++] = t;

    producer_cmd *cmds = hq_calloc(m ? (size_t)m : 1, sizeof *cmds);
    char (*keys)[HQ_KEY_MAX + 64] = hq_calloc(m ? (size_t)m : 1, HQ_KEY_MAX + 64);
    redisReply **hs = hq_calloc(m ? (size_t)m : 1, sizeof *hs);
    redisReply **pend = hq_calloc(m ? (size_t)m : 1, sizeof *pend);
    int *pidx = hq_calloc(m ? (size_t)m : 1, sizeof *pidx);
    int npend = 0, have_hs = 0;
    for (int i = 0; i < m; i++) {
        snprintf(keys[i], HQ_KEY_MAX + 64, "%sdlv:%s", tag, dids[i]);
        producer_cmd_init(&cmds[i]);
        producer_cmd_add(&cmds[i], "HGETALL");
        producer_cmd_add(&cmds[i], keys[i]);
    }
    if (producer_redis_pipeline(p, cmds, m, hs) != 0) goto unavailable;
    have_hs = 1;
    if (!replies_ok(p, hs, m)) goto unavailable;

    /* pending deliveries whose entry a worker holds are in flight */
    for (int i = 0; i < m; i++) {
        const char *st = rstr(hfield(hs[i], "st"));
        const char *sid = rstr(hfield(hs[i], "sid"));
        if (!st || strcmp(st, "pending") != 0 || !sid) {
            pidx[i] = -1;
            continue;
        }
        pidx[i] = npend;
        producer_cmd_init(&cmds[npend]);
        producer_cmd_add(&cmds[npend], "XPENDING");
        producer_cmd_add(&cmds[npend], stream);
        producer_cmd_add(&cmds[npend], HQ_GROUP);
        producer_cmd_add(&cmds[npend], sid);
        producer_cmd_add(&cmds[npend], sid);
        producer_cmd_add(&cmds[npend], "1");
        npend++;
    }
    if (producer_redis_pipeline(p, cmds, npend, pend) != 0) {
        npend = 0;
        goto unavailable;
    }

    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(id));
    json_object_set_new(o, "org_id", json_string(org));
    const char *type = rstr(hfield(ev, "type"));
    json_object_set_new(o, "type", type ? json_string(type) : json_null());
    const char *ca = rstr(hfield(ev, "ca"));
    json_object_set_new(o, "created_at", ca ? json_string(ca) : json_null());
    const redisReply *data = hfield(ev, "data");
    json_object_set_new(o, "data", data && data->type == REDIS_REPLY_STRING ? stored_json(data->str, data->len)
                                                                            : json_null());
    const char *test = rstr(hfield(ev, "test"));
    json_object_set_new(o, "test", json_boolean(test && strcmp(test, "1") == 0));
    json_t *arr = json_array();
    for (int i = 0; i < m; i++) {
        if (hs[i]->type != REDIS_REPLY_ARRAY || hs[i]->elements == 0) continue;  /* expired */
        int inflight = 0;
        if (pidx[i] >= 0) {
            const redisReply *r = pend[pidx[i]];
            inflight = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
        }
        json_array_append_new(arr, delivery_view(dids[i], hs[i], ev, inflight));
    }
    json_object_set_new(o, "deliveries", arr);
    answer(p, req, 200, o);
    goto out;

unavailable:
    producer_unavailable(p, req);
out:
    if (have_hs) free_replies(hs, m);
    free_replies(pend, npend);
    hq_free(pidx);
    hq_free(pend);
    hq_free(hs);
    hq_free(keys);
    hq_free(cmds);
    hq_free(dids);
    hq_free(dlcopy);
    freeReplyObject(ev);
}

/* ---- GET /v1/endpoints/{id}/deliveries ---- */

enum log_filter { F_ALL, F_FAILED, F_DEAD, F_DELIVERED };

/* An attempt-log position usable as a cursor: "ms-seq" (a stream id, both
 * parts decimal: the newest attempt of that entry) or "ms-seq-i" (its i-th
 * attempt after the newest, i >= 1). The entry id goes to sid (>= 48
 * bytes), i to *sub (0 for "ms-seq"). 1 if valid. */
static int log_pos_parse(const char *s, char *sid, long long *sub)
{
    const char *d1 = strchr(s, '-');
    if (!d1 || d1 == s || !d1[1] || strlen(s) > 41) return 0;
    const char *d2 = strchr(d1 + 1, '-');
    const char *end = d2 ? d2 : s + strlen(s);
    if (end == d1 + 1) return 0;
    for (const char *c = s; c < end; c++)
        if (c != d1 && (*c < '0' || *c > '9')) return 0;
    *sub = 0;
    if (d2) {
        if (!d2[1] || d2[1] == '0') return 0;
        for (const char *c = d2 + 1; *c; c++)
            if (*c < '0' || *c > '9') return 0;
        if (hq_parse_ll(d2 + 1, sub) != 0 || *sub < 1) return 0;
    }
    memcpy(sid, s, (size_t)(end - s));
    sid[end - s] = '\0';
    return 1;
}

/* Whether an attempt-log status passes the filter: failed = every
 * unsuccessful attempt (failed, i.e. will retry, and dead). */
static int filter_pass(enum log_filter f, const char *s)
{
    if (!s) return f == F_ALL;
    switch (f) {
    case F_ALL: return 1;
    case F_FAILED: return strcmp(s, "failed") == 0 || strcmp(s, "dead") == 0;
    case F_DEAD: return strcmp(s, "dead") == 0;
    case F_DELIVERED: return strcmp(s, "delivered") == 0;
    }
    return 0;
}

/* One selected attempt; the strings point into the XREVRANGE reply or the
 * split copy of an entry's `m` field that holds them (both kept until the
 * answer is built). id is its log_id: the entry's stream id for the
 * entry's newest attempt, "<stream id>-<i>" for the i-th after it. */
struct log_pick {
    char id[64];
    const char *d, *n, *s, *c;
    long long t;
};

/* Copies a string/null member of attempt record `a` into o under `name`. */
static void copy_member(json_t *o, const char *name, json_t *a, json_t *dflt)
{
    json_t *v = a ? json_object_get(a, name) : NULL;
    if (v) {
        json_object_set(o, name, v);
        json_decref(dflt);
    } else {
        json_object_set_new(o, name, dflt);
    }
}

/* One attempt of the log; h: HMGET dlv a<n> eid type ev (nil fields when
 * the delivery expired); evh: when the delivery hash has no eid (those of
 * this version, see store_event in common/hookq.lua), HMGET of its event
 * id type, else NULL. */
static json_t *log_view(const struct log_pick *e, const redisReply *h, const redisReply *evh)
{
    int hok = h && h->type == REDIS_REPLY_ARRAY && h->elements == 4;
    const redisReply *ar = hok ? h->element[0] : NULL;
    json_t *a = ar && ar->type == REDIS_REPLY_STRING ? stored_json(ar->str, ar->len) : NULL;
    if (a && !json_is_object(a)) {
        json_decref(a);
        a = NULL;
    }
    json_t *o = json_object();
    json_object_set_new(o, "delivery_id", json_string(e->d));
    const char *eid = hok ? rstr(h->element[1]) : NULL;
    const char *type = hok ? rstr(h->element[2]) : NULL;
    if (!eid && evh && evh->type == REDIS_REPLY_ARRAY && evh->elements == 2) {
        eid = rstr(evh->element[0]);
        type = rstr(evh->element[1]);
    }
    json_object_set_new(o, "event_id", eid ? json_string(eid) : json_null());
    json_object_set_new(o, "event_type", type ? json_string(type) : json_null());
    long long n = 0;
    if (e->n && hq_parse_ll(e->n, &n) != 0) n = 0;
    json_object_set_new(o, "attempt", json_integer(n));
    json_object_set_new(o, "status", e->s ? json_string(e->s) : json_null());
    long long c = 0;
    if (e->c && hq_parse_ll(e->c, &c) != 0) c = 0;
    json_object_set_new(o, "http_status", c > 0 ? json_integer(c) : json_null());
    char ts[40];
    hq_rfc3339_ms(e->t, ts);
    copy_member(o, "at", a, json_string(ts));
    copy_member(o, "latency_ms", a, json_null());
    copy_member(o, "error", a, json_null());
    copy_member(o, "response_body", a, json_null());
    copy_member(o, "request_headers", a, json_null());
    copy_member(o, "next_attempt_at", a, json_null());
    json_object_set_new(o, "log_id", json_string(e->id));
    json_decref(a);
    return o;
}

/* The log's length in attempts, `L` of its newest entry, or -1 (none, or
 * an entry of the older layout) (docs/redis-keys.md, `T eplog`). 0, or -1
 * when Redis failed. */
static int log_length(struct producer *p, const char *logkey, long long *len)
{
    producer_cmd cmd;
    producer_cmd_init(&cmd);
    producer_cmd_add(&cmd, "XREVRANGE");
    producer_cmd_add(&cmd, logkey);
    producer_cmd_add(&cmd, "+");
    producer_cmd_add(&cmd, "-");
    producer_cmd_add(&cmd, "COUNT");
    producer_cmd_add(&cmd, "1");
    redisReply *r = producer_redis_cmd(p, &cmd);
    if (producer_reply_failed(p, r) || r->type != REDIS_REPLY_ARRAY) {
        if (r) freeReplyObject(r);
        return -1;
    }
    *len = -1;
    if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        *len = rll(hfield(r->element[0]->element[1], "L"), -1);
    freeReplyObject(r);
    return 0;
}

/* "ms-seq" as two numbers; 0 if it is not one. */
static int sid_split(const char *s, unsigned long long *ms, unsigned long long *seq)
{
    char *end;
    *ms = strtoull(s, &end, 10);
    if (end == s || *end != '-') return 0;
    const char *p2 = end + 1;
    *seq = strtoull(p2, &end, 10);
    return end != p2;
}

/* Whether attempt k of entry sid is newer than, or is, the cursor's. */
static int at_or_before_cursor(const char *sid, int k, unsigned long long cms, unsigned long long cseq,
                               long long csub)
{
    unsigned long long ms, seq;
    if (!sid_split(sid, &ms, &seq)) return 0;
    if (ms != cms) return ms > cms;
    if (seq != cseq) return seq > cseq;
    return k <= csub;
}

/* GET /v1/endpoints/{id}/deliveries. An entry holds one attempt (d n s c t)
 * or, written by one hookq_complete, several: its newest in d n s c and
 * the older ones in `m` ("d n s c" each, oldest first); `L` is the log's
 * length in attempts. Attempts are listed newest first, only the newest L
 * of the log (it may hold a few more): so a page after a cursor is found by
 * counting from the newest attempt - while L is at most LOG_EXACT_MAX;
 * beyond that (or without L, a log of the older layout only) the scan
 * starts at the cursor, as it always did, and nothing is cut. */
static void route_log(struct producer *p, hq_http_req *req, const char *epid)
{
    char v[64];
    enum log_filter f = F_ALL;
    if (hq_http_query(req, "status", v, sizeof v)) {
        if (strcmp(v, "all") == 0) f = F_ALL;
        else if (strcmp(v, "failed") == 0) f = F_FAILED;
        else if (strcmp(v, "dead") == 0) f = F_DEAD;
        else if (strcmp(v, "delivered") == 0) f = F_DELIVERED;
        else {
            producer_error(p, req, 422, "validation_failed", "status must be one of failed, dead, delivered, all",
                           "status");
            return;
        }
    }
    long long limit = LIST_LIMIT_DEFAULT;
    if (hq_http_query(req, "limit", v, sizeof v)) {
        if (hq_parse_ll(v, &limit) != 0 || limit < 1 || limit > LIST_LIMIT_MAX) {
            producer_error(p, req, 422, "validation_failed", "limit must be an integer from 1 to 250", "limit");
            return;
        }
    }
    char cursor[64] = "", csid[64] = "";
    long long csub = -1;
    if (hq_http_query(req, "cursor", cursor, sizeof cursor) && cursor[0] && !log_pos_parse(cursor, csid, &csub)) {
        producer_error(p, req, 422, "validation_failed", "cursor must be a next_cursor value of a previous page",
                       "cursor");
        return;
    }
    producer_ep ep;
    if (producer_ep_load(p, req, epid, &ep) != 0) return;

    char logkey[HQ_KEY_MAX + 64], tag[HQ_KEY_MAX];
    producer_tag(p, ep.shard, tag);
    snprintf(logkey, sizeof logkey, "%seplog:%s", tag, epid);
    long long cutoff = p->cfg.retention_ms > 0 ? hq_now_ms() - p->cfg.retention_ms : 0;

    /* Scan newest first (from the newest entry, or the cursor's; skipping
     * what previous pages had) until limit+1 attempts pass the filter (the
     * extra one only says whether there is a next page), the log ends, an
     * attempt is past the log's length or an entry is older than the
     * retention. */
    int nreplies = 0, capr = 8, nm = 0, capm = 0;
    redisReply **replies = hq_calloc((size_t)capr, sizeof *replies);
    char **mbufs = NULL;
    struct log_pick *picks = hq_calloc((size_t)limit + 1, sizeof *picks);
    int npick = 0, scanned = 0, done = 0, past = 0;
    long long loglen = -1, rank = -1;
    unsigned long long cms = 0, cseq = 0;
    int fromtop = 1;   /* scanning from the newest entry: rank counts every attempt */
    redisReply **hs = NULL, **evhs = NULL;
    int *evat = NULL;
    producer_cmd *cmds = NULL;
    char (*keys)[HQ_KEY_MAX + 64] = NULL;
    char (*fields)[32] = NULL;
    char start[80];
    snprintf(start, sizeof start, "+");
    if (csid[0]) {
        if (log_length(p, logkey, &loglen) != 0) {
            producer_unavailable(p, req);
            goto out;
        }
        sid_split(csid, &cms, &cseq);
        if (loglen < 0 || loglen > LOG_EXACT_MAX) {
            fromtop = 0;
            snprintf(start, sizeof start, "%s", csid);   /* inclusive: the rest of that entry */
        }
    }
    while (!done && npick <= limit && scanned < LOG_SCAN_MAX) {
        producer_cmd cmd;
        char count[16];
        snprintf(count, sizeof count, "%d", LOG_BATCH);
        producer_cmd_init(&cmd);
        producer_cmd_add(&cmd, "XREVRANGE");
        producer_cmd_add(&cmd, logkey);
        producer_cmd_add(&cmd, start);
        producer_cmd_add(&cmd, "-");
        producer_cmd_add(&cmd, "COUNT");
        producer_cmd_add(&cmd, count);
        redisReply *r = producer_redis_cmd(p, &cmd);
        if (producer_reply_failed(p, r) || r->type != REDIS_REPLY_ARRAY) {
            if (r) freeReplyObject(r);
            producer_unavailable(p, req);
            goto out;
        }
        if (nreplies == capr) {
            capr *= 2;
            replies = hq_realloc(replies, (size_t)capr * sizeof *replies);
        }
        replies[nreplies++] = r;
        if (r->elements < LOG_BATCH) done = 1;
        for (size_t i = 0; i < r->elements && npick <= limit; i++) {
            const redisReply *e = r->element[i];
            scanned++;
            if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
                continue;
            const char *sid = e->element[0]->str;
            snprintf(start, sizeof start, "(%s", sid);
            const redisReply *fv = e->element[1];
            if (!csid[0] && scanned == 1) loglen = rll(hfield(fv, "L"), -1);
            long long t = rll(hfield(fv, "t"), 0);
            if (t <= 0) t = strtoll(sid, NULL, 10);
            if (t < cutoff) {
                done = 1;
                break;
            }
            /* the entry's attempts, newest first: d n s c, then m backwards */
            const char *at[4] = { rstr(hfield(fv, "d")), rstr(hfield(fv, "n")), rstr(hfield(fv, "s")),
                                  rstr(hfield(fv, "c")) };
            char **tok = NULL;
            int ntok = 0;
            const char *m = rstr(hfield(fv, "m"));
            if (m && *m) {
                if (nm == capm) {
                    capm = capm ? capm * 2 : 8;
                    mbufs = hq_realloc(mbufs, (size_t)capm * sizeof *mbufs);
                }
                char *copy = mbufs[nm++] = hq_strdup(m);
                size_t cap = 1;
                for (const char *c = m; *c; c++)
                    if (*c == ' ') cap++;
                tok = hq_calloc(cap, sizeof *tok);
                for (char *save = NULL, *t2 = strtok_r(copy, " ", &save); t2; t2 = strtok_r(NULL, " ", &save))
                    tok[ntok++] = t2;
                ntok -= ntok % 4;
            }
            int natt = 1 + ntok / 4;
            for (int k = 0; k < natt && npick <= limit; k++) {
                const char *const *a4 = k == 0 ? at : (const char *const *)&tok[4 * (natt - 1 - k)];
                rank++;
                if (fromtop && loglen > 0 && rank >= loglen) {
                    past = 1;
                    break;
                }
                /* on a previous page */
                if (csid[0] && at_or_before_cursor(sid, k, cms, cseq, csub)) continue;
                if (!a4[0] || !filter_pass(f, a4[2])) continue;
                struct log_pick *pk = &picks[npick++];
                if (k == 0) snprintf(pk->id, sizeof pk->id, "%s", sid);
                else snprintf(pk->id, sizeof pk->id, "%s-%d", sid, k);
                pk->d = a4[0];
                pk->n = a4[1];
                pk->s = a4[2];
                pk->c = a4[3];
                pk->t = t;
            }
            hq_free(tok);
            if (past) {
                done = 1;
                break;
            }
        }
    }
    int more = npick > limit;
    int nout = more ? (int)limit : npick;

    /* join with each delivery's attempt record */
    hs = hq_calloc(nout ? (size_t)nout : 1, sizeof *hs);
    cmds = hq_calloc(nout ? (size_t)nout : 1, sizeof *cmds);
    keys = hq_calloc(nout ? (size_t)nout : 1, HQ_KEY_MAX + 64);
    fields = hq_calloc(nout ? (size_t)nout : 1, 32);
    for (int i = 0; i < nout; i++) {
        snprintf(keys[i], HQ_KEY_MAX + 64, "%sdlv:%s", tag, picks[i].d);
        snprintf(fields[i], 32, "a%s", picks[i].n ? picks[i].n : "0");
        producer_cmd_init(&cmds[i]);
        producer_cmd_add(&cmds[i], "HMGET");
        producer_cmd_add(&cmds[i], keys[i]);
        producer_cmd_add(&cmds[i], fields[i]);
        producer_cmd_add(&cmds[i], "eid");
        producer_cmd_add(&cmds[i], "type");
        producer_cmd_add(&cmds[i], "ev");
    }
    if (pipeline_all(p, req, cmds, nout, hs) != 0)
        goto out;
    /* then the event id and type of deliveries that keep only their event's key */
    evhs = hq_calloc(nout ? (size_t)nout : 1, sizeof *evhs);
    evat = hq_calloc(nout ? (size_t)nout : 1, sizeof *evat);
    int nev = 0;
    for (int i = 0; i < nout; i++) {
        evat[i] = -1;
        const redisReply *h = hs[i];
        if (h->type != REDIS_REPLY_ARRAY || h->elements != 4 || rstr(h->element[1]) || !rstr(h->element[3]))
            continue;
        evat[i] = nev;
        producer_cmd_init(&cmds[nev]);
        producer_cmd_add(&cmds[nev], "HMGET");
        producer_cmd_add(&cmds[nev], h->element[3]->str);
        producer_cmd_add(&cmds[nev], "id");
        producer_cmd_add(&cmds[nev], "type");
        nev++;
    }
    if (nev > 0 && pipeline_all(p, req, cmds, nev, evhs) != 0) {
        free_replies(hs, nout);
        goto out;
    }
    json_t *data = json_array();
    for (int i = 0; i < nout; i++)
        json_array_append_new(data, log_view(&picks[i], hs[i], evat[i] >= 0 ? evhs[evat[i]] : NULL));
    free_replies(evhs, nev);
    free_replies(hs, nout);
    json_t *o = json_object();
    json_object_set_new(o, "data", data);
    json_object_set_new(o, "next_cursor", more && nout > 0 ? json_string(picks[nout - 1].id) : json_null());
    answer(p, req, 200, o);
out:
    hq_free(evat);
    hq_free(evhs);
    hq_free(fields);
    hq_free(keys);
    hq_free(cmds);
    hq_free(hs);
    hq_free(picks);
    for (int i = 0; i < nm; i++) hq_free(mbufs[i]);
    hq_free(mbufs);
    free_replies(replies, nreplies);
    hq_free(replies);
    producer_ep_free(&ep);
}

/* ---- POST /v1/deliveries/{id}/resend and /v1/endpoints/{id}/recover ---- */

/* Buffers a requeue command borrows; they must outlive it. */
struct requeue_bufs {
    char tag[HQ_KEY_MAX], stream[HQ_KEY_MAX + 16], retry[HQ_KEY_MAX + 16], dead[HQ_KEY_MAX + 16];
    char now[24], since[24];
};

/* Fills cmd with "FCALL fn 3 stream retry dead tag arg [since] now" for
 * hookq_resend (since < 0: no since argument) or hookq_recover. */
static void requeue_cmd(struct producer *p, int shard, const char *fn, const char *arg, long long since,
                        struct requeue_bufs *b, producer_cmd *cmd)
{
    producer_tag(p, shard, b->tag);
    snprintf(b->stream, sizeof b->stream, "%sstream", b->tag);
    snprintf(b->retry, sizeof b->retry, "%sretry", b->tag);
    snprintf(b->dead, sizeof b->dead, "%sdead", b->tag);
    snprintf(b->now, sizeof b->now, "%lld", (long long)hq_now_ms());
    snprintf(b->since, sizeof b->since, "%lld", since);
    producer_cmd_init(cmd);
    producer_cmd_add(cmd, "FCALL");
    producer_cmd_add(cmd, fn);
    producer_cmd_add(cmd, "3");
    producer_cmd_add(cmd, b->stream);
    producer_cmd_add(cmd, b->retry);
    producer_cmd_add(cmd, b->dead);
    producer_cmd_add(cmd, b->tag);
    producer_cmd_add(cmd, arg);
    if (since >= 0) producer_cmd_add(cmd, b->since);
    producer_cmd_add(cmd, b->now);
}

static void route_resend(struct producer *p, hq_http_req *req, const char *did)
{
    int shard = shard_of(p, did, "dlv_");
    if (shard < 0) {
        producer_not_found(p, req, "no delivery with this id");
        return;
    }
    /* with ?org_id= the delivery must belong to that org */
    char org[ORG_BUF];
    if (hq_http_query(req, "org_id", org, sizeof org)) {
        char key[HQ_KEY_MAX + 64], tag[HQ_KEY_MAX];
        producer_tag(p, shard, tag);
        snprintf(key, sizeof key, "%sdlv:%s", tag, did);
        producer_cmd cmd;
        producer_cmd_init(&cmd);
        producer_cmd_add(&cmd, "HGET");
        producer_cmd_add(&cmd, key);
        producer_cmd_add(&cmd, "org");
        redisReply *r = producer_redis_cmd(p, &cmd);
        if (producer_reply_failed(p, r)) {
            if (r) freeReplyObject(r);
            producer_unavailable(p, req);
            return;
        }
        int same = rstr(r) && strcmp(r->str, org) == 0;
        freeReplyObject(r);
        if (!same) {
            producer_not_found(p, req, "no delivery with this id");
            return;
        }
    }
    struct requeue_bufs b;
    producer_cmd cmd;
    requeue_cmd(p, shard, "hookq_resend", did, -1, &b, &cmd);
    redisReply *r = producer_redis_cmd(p, &cmd);
    const char *res = producer_reply_failed(p, r) ? NULL : rstr(r);
    if (!res) {
        producer_unavailable(p, req);
    } else if (strcmp(res, "ok") == 0) {
        producer_json(p, req, 202, json_pack("{s:s,s:s}", "id", did, "state", "pending"), NULL);
    } else if (strcmp(res, "pending") == 0) {
        producer_error(p, req, 409, "already_queued", "this delivery is already queued or in flight", NULL);
    } else if (strcmp(res, "nodelivery") == 0) {
        producer_not_found(p, req, "no delivery with this id");
    } else if (strcmp(res, "noevent") == 0) {
        producer_error(p, req, 410, "payload_expired",
                       "the event payload of this delivery has expired; it cannot be re-sent", NULL);
    } else {
        hq_error("unexpected hookq_resend reply", "reply", res);
        producer_error(p, req, 500, "internal", "unexpected answer from Redis", NULL);
    }
    if (r) freeReplyObject(r);
}

static void route_recover(struct producer *p, hq_http_req *req, const char *epid)
{
    json_t *body = producer_parse_body(p, req, 1);
    if (!body) return;
    json_t *sv = json_object_get(body, "since");
    const char *since = json_string_value(sv);
    int64_t since_ms = 0;
    int frac = 0;
    if (!since || strlen(since) != json_string_length(sv) || hq_parse_rfc3339(since, &since_ms, &frac) != 0) {
        json_decref(body);
        producer_error(p, req, 422, "validation_failed",
                       "since is required: an RFC 3339 timestamp such as 2026-04-12T15:32:11Z", "since");
        return;
    }
    json_decref(body);
    if (since_ms < 0) since_ms = 0;
    producer_ep ep;
    if (producer_ep_load(p, req, epid, &ep) != 0) return;
    struct requeue_bufs b;
    producer_cmd cmd;
    requeue_cmd(p, ep.shard, "hookq_recover", epid, since_ms, &b, &cmd);
    redisReply *r = producer_redis_cmd(p, &cmd);
    if (producer_reply_failed(p, r) || r->type != REDIS_REPLY_INTEGER)
        producer_unavailable(p, req);
    else
        producer_json(p, req, 202, json_pack("{s:I}", "recovered", (json_int_t)r->integer), NULL);
    if (r) freeReplyObject(r);
    producer_ep_free(&ep);
}

/* ---- GET /v1/stats ---- */

#define STATS_PER_SHARD 6  /* XLEN, XINFO GROUPS, ZCARD retry, ZRANGE retry, ZCARD dead, HGETALL stats */

static const char *const counter_names[][2] = {
    /* stats hash field, totals name */
    { "events", "events" },       { "deliveries", "deliveries" }, { "delivered", "delivered" },
    { "failed", "failed" },       { "dead", "dead_total" },       { "cancelled", "cancelled" },
    { "lost", "lost" },
};
#define NCOUNTERS ((int)(sizeof counter_names / sizeof counter_names[0]))

/* The heartbeat hash as JSON: integers as numbers, plus started_at and
 * last_seen_at in RFC 3339. */
static json_t *worker_view(const redisReply *h)
{
    json_t *o = json_object();
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        const char *k = rstr(h->element[i]), *v = rstr(h->element[i + 1]);
        if (!k || !v) continue;
        long long n;
        if (strcmp(k, "id") != 0 && strcmp(k, "host") != 0 && strcmp(k, "version") != 0 && hq_parse_ll(v, &n) == 0)
            json_object_set_new(o, k, json_integer(n));
        else
            json_object_set_new(o, k, json_string(v));
    }
    json_object_set_new(o, "started_at", time_or_null(rll(hfield(h, "started"), 0)));
    json_object_set_new(o, "last_seen_at", time_or_null(rll(hfield(h, "seen"), 0)));
    return o;
}

/* The group "workers" of an XINFO GROUPS reply, or NULL. */
static const redisReply *group_info(const redisReply *r)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i < r->elements; i++) {
        const char *name = rstr(hfield(r->element[i], "name"));
        if (name && strcmp(name, HQ_GROUP) == 0) return r->element[i];
    }
    return NULL;
}

static void route_stats(struct producer *p, hq_http_req *req)
{
    int ns = (int)p->cfg.shards, n = ns * STATS_PER_SHARD;
    producer_cmd *cmds = hq_calloc((size_t)n, sizeof *cmds);
    char (*keys)[HQ_KEY_MAX + 16] = hq_calloc((size_t)ns * 4, HQ_KEY_MAX + 16);
    redisReply **rs = hq_calloc((size_t)n, sizeof *rs);
    redisReply *wids = NULL, **whs = NULL;
    producer_cmd *wcmds = NULL;
    char (*wkeys)[HQ_KEY_MAX + 64] = NULL;
    int nw = 0, have_rs = 0;
    for (int s = 0; s < ns; s++) {
        char tag[HQ_KEY_MAX];
        producer_tag(p, s, tag);
        char *k_stream = keys[s * 4], *k_retry = keys[s * 4 + 1], *k_dead = keys[s * 4 + 2], *k_stats = keys[s * 4 + 3];
        snprintf(k_stream, HQ_KEY_MAX + 16, "%sstream", tag);
        snprintf(k_retry, HQ_KEY_MAX + 16, "%sretry", tag);
        snprintf(k_dead, HQ_KEY_MAX + 16, "%sdead", tag);
        snprintf(k_stats, HQ_KEY_MAX + 16, "%sstats", tag);
        producer_cmd *c = &cmds[s * STATS_PER_SHARD];
        for (int j = 0; j < STATS_PER_SHARD; j++) producer_cmd_init(&c[j]);
        producer_cmd_add(&c[0], "XLEN");
        producer_cmd_add(&c[0], k_stream);
        producer_cmd_add(&c[1], "XINFO");
        producer_cmd_add(&c[1], "GROUPS");
        producer_cmd_add(&c[1], k_stream);
        producer_cmd_add(&c[2], "ZCARD");
        producer_cmd_add(&c[2], k_retry);
        producer_cmd_add(&c[3], "ZRANGE");
        producer_cmd_add(&c[3], k_retry);
        producer_cmd_add(&c[3], "0");
        producer_cmd_add(&c[3], "0");
        producer_cmd_add(&c[3], "WITHSCORES");
        producer_cmd_add(&c[4], "ZCARD");
        producer_cmd_add(&c[4], k_dead);
        producer_cmd_add(&c[5], "HGETALL");
        producer_cmd_add(&c[5], k_stats);
    }
    if (producer_redis_pipeline(p, cmds, n, rs) != 0) goto unavailable;
    have_rs = 1;
    for (int i = 0; i < n; i++) {
        /* XINFO GROUPS on a missing stream answers "ERR no such key": not a failure */
        if (i % STATS_PER_SHARD == 1 && rs[i]->type == REDIS_REPLY_ERROR) continue;
        if (producer_reply_failed(p, rs[i])) goto unavailable;
    }

    /* live workers: heartbeat within the TTL, and the hash still there */
    char wzkey[HQ_KEY_MAX], minscore[32];
    hq_key_global(wzkey, sizeof wzkey, p->cfg.prefix, "workers");
    snprintf(minscore, sizeof minscore, "(%lld", (long long)(hq_now_ms() - WORKER_LIVE_MS));
    producer_cmd zc;
    producer_cmd_init(&zc);
    producer_cmd_add(&zc, "ZRANGEBYSCORE");
    producer_cmd_add(&zc, wzkey);
    producer_cmd_add(&zc, minscore);
    producer_cmd_add(&zc, "+inf");
    wids = producer_redis_cmd(p, &zc);
    if (producer_reply_failed(p, wids) || wids->type != REDIS_REPLY_ARRAY) goto unavailable;
    nw = (int)wids->elements;
    whs = hq_calloc(nw ? (size_t)nw : 1, sizeof *whs);
    wcmds = hq_calloc(nw ? (size_t)nw : 1, sizeof *wcmds);
    wkeys = hq_calloc(nw ? (size_t)nw : 1, HQ_KEY_MAX + 64);
    for (int i = 0; i < nw; i++) {
        const char *wid = rstr(wids->element[i]);
        hq_key_global(wkeys[i], HQ_KEY_MAX + 64, p->cfg.prefix, "worker:%s", wid ? wid : "");
        producer_cmd_init(&wcmds[i]);
        producer_cmd_add(&wcmds[i], "HGETALL");
        producer_cmd_add(&wcmds[i], wkeys[i]);
    }
    if (producer_redis_pipeline(p, wcmds, nw, whs) != 0) {
        nw = 0;
        goto unavailable;
    }
    if (!replies_ok(p, whs, nw)) goto unavailable;

    json_t *shards = json_array();
    long long t_len = 0, t_lag = 0, t_pend = 0, t_retry = 0, t_dead = 0;
    long long counters[NCOUNTERS] = { 0 };
    long long next_min = -1;
    for (int s = 0; s < ns; s++) {
        redisReply **r = &rs[s * STATS_PER_SHARD];
        long long len = r[0]->type == REDIS_REPLY_INTEGER ? r[0]->integer : 0;
        const redisReply *g = group_info(r[1]);
        long long pending = rll(hfield(g, "pending"), 0);
        const redisReply *lagr = hfield(g, "lag");
        long long lag;
        /* Redis cannot count the lag across XDELeted entries (nil; rare
         * since hookq_complete trims acked entries instead of deleting
         * them, docs/redis-keys.md): then stream_length - pending, an upper
         * bound, as the stream may still hold finished entries not trimmed
         * yet */
        if (lagr && lagr->type == REDIS_REPLY_INTEGER) lag = lagr->integer;
        else lag = len - pending > 0 ? len - pending : 0;
        long long retry = r[2]->type == REDIS_REPLY_INTEGER ? r[2]->integer : 0;
        long long next = -1;
        if (r[3]->type == REDIS_REPLY_ARRAY && r[3]->elements == 2) {
            const char *sc = rstr(r[3]->element[1]);
            if (sc) next = strtoll(sc, NULL, 10);
        }
        long long dead = r[4]->type == REDIS_REPLY_INTEGER ? r[4]->integer : 0;
        for (int c = 0; c < NCOUNTERS; c++) counters[c] += rll(hfield(r[5], counter_names[c][0]), 0);
        json_t *o = json_object();
        json_object_set_new(o, "shard", json_integer(s));
        json_object_set_new(o, "stream_length", json_integer(len));
        json_object_set_new(o, "lag", g ? json_integer(lag) : json_null());
        json_object_set_new(o, "pending", json_integer(pending));
        json_object_set_new(o, "retry_scheduled", json_integer(retry));
        json_object_set_new(o, "next_retry_at", next >= 0 ? time_or_null(next) : json_null());
        json_object_set_new(o, "dead", json_integer(dead));
        json_array_append_new(shards, o);
        t_len += len;
        t_lag += g ? lag : len;
        t_pend += pending;
        t_retry += retry;
        t_dead += dead;
        if (next >= 0 && (next_min < 0 || next < next_min)) next_min = next;
    }
    json_t *totals = json_object();
    json_object_set_new(totals, "stream_length", json_integer(t_len));
    json_object_set_new(totals, "lag", json_integer(t_lag));
    json_object_set_new(totals, "pending", json_integer(t_pend));
    json_object_set_new(totals, "retry_scheduled", json_integer(t_retry));
    json_object_set_new(totals, "next_retry_at", time_or_null(next_min));
    json_object_set_new(totals, "dead", json_integer(t_dead));
    for (int c = 0; c < NCOUNTERS; c++) json_object_set_new(totals, counter_names[c][1], json_integer(counters[c]));
    json_t *workers = json_array();
    for (int i = 0; i < nw; i++)
        if (whs[i]->type == REDIS_REPLY_ARRAY && whs[i]->elements > 0)
            json_array_append_new(workers, worker_view(whs[i]));
    json_t *o = json_object();
    json_object_set_new(o, "shards", shards);
    json_object_set_new(o, "totals", totals);
    json_object_set_new(o, "live_workers", json_integer((json_int_t)json_array_size(workers)));
    json_object_set_new(o, "workers", workers);
    answer(p, req, 200, o);
    goto out;

unavailable:
    producer_unavailable(p, req);
out:
    if (whs) free_replies(whs, nw);
    hq_free(wkeys);
    hq_free(wcmds);
    hq_free(whs);
    if (wids) freeReplyObject(wids);
    if (have_rs) free_replies(rs, n);
    hq_free(rs);
    hq_free(keys);
    hq_free(cmds);
}

/* ---- router ---- */

int producer_inspect_route(struct producer *p, hq_http_req *req, const char *path)
{
    enum { R_STATS, R_LOG, R_RECOVER, R_RESEND, R_EVENT } route;
    const char *allow;
    /* ids of any length match here; each route answers 404 for a malformed one */
    char id[HQ_KEY_MAX];
    id[0] = '\0';
    if (strcmp(path, "/v1/stats") == 0) {
        route = R_STATS;
        allow = "GET";
    } else if (match_id(path, "/v1/endpoints/", "/deliveries", id, sizeof id)) {
        route = R_LOG;
        allow = "GET";
    } else if (match_id(path, "/v1/endpoints/", "/recover", id, sizeof id)) {
        route = R_RECOVER;
        allow = "POST";
    } else if (match_id(path, "/v1/deliveries/", "/resend", id, sizeof id)) {
        route = R_RESEND;
        allow = "POST";
    } else if (match_id(path, "/v1/events/", "", id, sizeof id)) {
        route = R_EVENT;
        allow = "GET";
    } else {
        return 0;
    }
    int is_get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    if (strcmp(allow, "GET") == 0 ? !is_get : strcmp(req->method, allow) != 0) {
        producer_method_not_allowed(p, req, strcmp(allow, "GET") == 0 ? "GET, HEAD" : allow);
        return 1;
    }
    switch (route) {
    case R_STATS: route_stats(p, req); break;
    case R_LOG: route_log(p, req, id); break;
    case R_RECOVER: route_recover(p, req, id); break;
    case R_RESEND: route_resend(p, req, id); break;
    case R_EVENT: route_event(p, req, id); break;
    }
    return 1;
}
