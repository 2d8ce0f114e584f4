/* Event ingest (SPEC 3): POST /v1/events and POST /v1/events/batch.
 * An event is validated, its data canonicalised (hq_json_dumps), and fanned
 * out atomically by FCALL hookq_publish on the org's shard: either every
 * delivery is enqueued or none, so a Redis failure is answered 503 with
 * nothing partial left behind. Ingest is idempotent on (org_id, id): a repeat
 * returns the first answer (with Idempotent-Replayed: true). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_id.h"
#include "hq_json.h"
#include "hq_log.h"
#include "hq_match.h"
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
    hq_free(e->data);
    e->data = NULL;
}

int producer_event_validate(json_t *ev, producer_event *out, char *field, size_t fieldlen, char *msg,
                            size_t msglen)
{
    memset(out, 0, sizeof *out);
#define FAIL(f, ...) do { snprintf(field, fieldlen, "%s", f); snprintf(msg, msglen, __VA_ARGS__); return -1; } while (0)
    if (!json_is_object(ev)) FAIL("event", "an event must be a JSON object");
    const char *type = hq_json_str(json_object_get(ev, "type"));
    if (!type || !hq_type_valid(type))
        FAIL("type", "type is required: 1-128 characters, dot-separated segments of [A-Za-z0-9_] (e.g. lead.created)");
    const char *org = hq_json_str(json_object_get(ev, "org_id"));
    if (!org_valid(org)) FAIL("org_id", "org_id is required: a string of 1-%d characters", EVENT_ORG_MAX);
    json_t *data = json_object_get(ev, "data");
    if (!json_is_object(data)) FAIL("data", "data is required and must be a JSON object");
    json_t *idv = json_object_get(ev, "id");
    if (idv && !json_is_null(idv)) {
        const char *id = hq_json_str(idv);
        if (!id || !hq_event_id_valid(id))
            FAIL("id", "id must be 1-%d characters of [A-Za-z0-9_.:-]", EVENT_ID_MAX);
        snprintf(out->id, sizeof out->id, "%s", id);
    } else {
        hq_id_event(out->id);
    }
    json_t *cav = json_object_get(ev, "created_at");
    if (cav && !json_is_null(cav)) {
        const char *ca = hq_json_str(cav);
        int64_t ms;
        int frac = 0;
        if (!ca || hq_parse_rfc3339(ca, &ms, &frac) != 0 || ms < 0 || ms > 253402300799999LL)
            FAIL("created_at", "created_at must be an RFC 3339 timestamp such as 2026-04-12T15:32:11Z");
        out->ts_ms = ms;
        if (frac) hq_rfc3339_ms(ms, out->ca);
        else hq_rfc3339(ms, out->ca);
    } else {
        out->ts_ms = hq_now_ms() / 1000 * 1000;
        hq_rfc3339(out->ts_ms, out->ca);
    }
#undef FAIL
    out->type = type;
    out->org = org;
    out->data = hq_json_dumps(data, &out->data_len);
    return 0;
}

void producer_publish_cmd(struct producer *p, const producer_event *ev, const char *only_ep, const char *test,
                          producer_publish_bufs *b, producer_cmd *cmd)
{
    int shard = hq_shard_of_org(ev->org, (int)p->cfg.shards);
    producer_tag(p, shard, b->tag);
    snprintf(b->k_ev, sizeof b->k_ev, "%sev:%s:%s", b->tag, ev->org, ev->id);
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

void producer_events_post(struct producer *p, hq_http_req *req)
{
    json_t *body = producer_parse_body(p, req, 0);
    if (!body) return;
    producer_event ev;
    char field[64], msg[256];
    if (producer_event_validate(body, &ev, field, sizeof field, msg, sizeof msg) != 0) {
        producer_error(p, req, 422, "validation_failed", msg, field);
        json_decref(body);
        return;
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
    json_decref(body);
}

void producer_events_batch(struct producer *p, hq_http_req *req)
{
    json_t *body = producer_parse_body(p, req, 0);
    if (!body) return;
    json_t *arr = json_object_get(body, "events");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > BATCH_MAX) {
        producer_error(p, req, 422, "validation_failed", "events must be an array of 1 to 1000 events", "events");
        json_decref(body);
        return;
    }
    size_t n = json_array_size(arr);
    producer_event *evs = hq_calloc(n, sizeof *evs);
    int *valid = hq_calloc(n, sizeof *valid);
    json_t **errs = hq_calloc(n, sizeof *errs);
    producer_publish_bufs *bufs = hq_calloc(n, sizeof *bufs);
    producer_cmd *cmds = hq_calloc(n, sizeof *cmds);
    int *cmd_of = hq_calloc(n, sizeof *cmd_of);
    redisReply **replies = hq_calloc(n, sizeof *replies);
    int ncmd = 0;
    for (size_t i = 0; i < n; i++) {
        char field[64], msg[256];
        if (producer_event_validate(json_array_get(arr, i), &evs[i], field, sizeof field, msg, sizeof msg) != 0) {
            errs[i] = producer_error_obj("validation_failed", msg, field);
            continue;
        }
        valid[i] = 1;
        cmd_of[i] = ncmd;
        producer_publish_cmd(p, &evs[i], "", "0", &bufs[ncmd], &cmds[ncmd]);
        ncmd++;
    }
    if (producer_redis_pipeline(p, cmds, ncmd, replies) != 0) {
        producer_unavailable(p, req);
        goto out;
    }
    int accepted_any = 0;
    for (int i = 0; i < ncmd; i++) {
        long long d;
        if (replies[i]->type != REDIS_REPLY_ERROR && producer_publish_result(replies[i], &d) > 0) accepted_any = 1;
    }
    if (ncmd > 0 && !accepted_any) {
        /* Redis refused every event (e.g. OOM): nothing was accepted, so the
         * whole batch can be retried as is */
        for (int i = 0; i < ncmd; i++) {
            producer_reply_failed(p, replies[i]);
            freeReplyObject(replies[i]);
        }
        producer_unavailable(p, req);
        goto out;
    }
    json_t *results = json_array();
    int all_ok = 1;
    for (size_t i = 0; i < n; i++) {
        json_t *item;
        if (!valid[i]) {
            item = errs[i];
            errs[i] = NULL;
            json_object_set_new(item, "status", json_integer(422));
            all_ok = 0;
        } else {
            redisReply *r = replies[cmd_of[i]];
            long long d;
            int kind = producer_reply_failed(p, r) ? -1 : producer_publish_result(r, &d);
            if (kind == 1 || kind == 2) {
                item = json_object();
                json_object_set_new(item, "status", json_integer(202));
                json_object_set_new(item, "id", json_string(evs[i].id));
                json_object_set_new(item, "deliveries", json_integer(d));
                if (kind == 2) json_object_set_new(item, "replayed", json_true());
                if (kind == 1) hq_metric_add(p->m_ingested, 1);
            } else {
                item = producer_error_obj("redis_unavailable", "Redis could not accept this event; retry it", NULL);
                json_object_set_new(item, "status", json_integer(503));
                all_ok = 0;
            }
        }
        /* put "status" first for readability */
        json_t *ordered = json_object();
        json_object_set(ordered, "status", json_object_get(item, "status"));
        json_object_del(item, "status");
        json_object_update(ordered, item);
        json_decref(item);
        json_array_append_new(results, ordered);
    }
    for (int i = 0; i < ncmd; i++) freeReplyObject(replies[i]);
    producer_json(p, req, all_ok ? 202 : 207, json_pack("{s:o}", "results", results), NULL);
out:
    for (size_t i = 0; i < n; i++) {
        producer_event_free(&evs[i]);
        json_decref(errs[i]);
    }
    hq_free(evs);
    hq_free(valid);
    hq_free(errs);
    hq_free(bufs);
    hq_free(cmds);
    hq_free(cmd_of);
    hq_free(replies);
    json_decref(body);
}
