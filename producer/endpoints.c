/* Endpoint routes (SPEC 5, 4a): create, list, get, patch, delete, rotate the
 * secret, and send a test event. Validation and the stored/API forms live in
 * common/hq_endpoint.c; every write is one FCALL hookq_ep_put / hookq_ep_del
 * on the org's shard. An endpoint id names its shard (last three hex
 * digits), so lookups by id need no index. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_id.h"
#include "hq_log.h"
#include "hq_match.h"
#include "hq_sign.h"
#include "producer.h"

#define ORG_MAX 128

static int validation_error(struct producer *p, hq_http_req *req, const char *field, const char *msg)
{
    producer_error(p, req, 422, "validation_failed", msg, field);
    return 0;
}

/* The fields a client may send on create and PATCH (SPEC 5, 4a), and the
 * read-only fields of the API view, which are accepted and ignored so that a
 * GET answer can be edited and sent back. */
static const char *const writable_fields[] = {
    "org_id", "name", "description", "url", "events", "is_active", "auth", "headers", "signature_header",
    "signature_format", "payload_format", "secret", "retry_schedule", "timeout_ms", "rate_limit_per_sec", NULL
};
static const char *const readonly_fields[] = {
    "id", "created_at", "updated_at", "disabled_reason", "disabled_at", "health", NULL
};

/* Answers 422 naming the first field of body that an endpoint does not have
 * (a typo such as "event" must not silently subscribe to everything).
 * Returns 1 if it answered, else 0. */
static int reject_unknown_field(struct producer *p, hq_http_req *req, json_t *body)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        int known = 0;
        for (int i = 0; writable_fields[i] && !known; i++) known = strcmp(k, writable_fields[i]) == 0;
        for (int i = 0; readonly_fields[i] && !known; i++) known = strcmp(k, readonly_fields[i]) == 0;
        if (!known) {
            char msg[300], f[160];
            snprintf(f, sizeof f, "%.150s", k);
            snprintf(msg, sizeof msg, "unknown field %s: an endpoint has no such field", f);
            validation_error(p, req, f, msg);
            return 1;
        }
    }
    return 0;
}

/* FCALL hookq_ep_put for e (mode "create" or "update"). An update carries
 * the version its read saw (ver), so a concurrent change (another PATCH, a
 * rotation, a worker disabling the endpoint) is not overwritten. Returns 1
 * written, 0 gone (update of a deleted endpoint), 2 changed meanwhile, -1
 * Redis unavailable. */
static int ep_put(struct producer *p, const hq_endpoint *e, const char *mode, const char *ver)
{
    int shard = hq_shard_of_id(e->id, (int)p->cfg.shards);
    char k_ep[HQ_KEY_MAX], k_eps[HQ_KEY_MAX * 2], now[24];
    hq_key(k_ep, sizeof k_ep, p->cfg.prefix, shard, "ep:%s", e->id);
    hq_key(k_eps, sizeof k_eps, p->cfg.prefix, shard, "org:%s:eps", e->org_id);
    snprintf(now, sizeof now, "%lld", (long long)e->updated_ms);
    char *cfg = hq_endpoint_to_storage(e, p->keyring);
    char *sub = hq_endpoint_sub(e);
    producer_cmd cmd;
    producer_cmd_init(&cmd);
    producer_cmd_add(&cmd, "FCALL");
    producer_cmd_add(&cmd, "hookq_ep_put");
    producer_cmd_add(&cmd, "2");
    producer_cmd_add(&cmd, k_ep);
    producer_cmd_add(&cmd, k_eps);
    producer_cmd_add(&cmd, e->id);
    producer_cmd_add(&cmd, cfg);
    producer_cmd_add(&cmd, sub);
    producer_cmd_add(&cmd, e->is_active ? "1" : "0");
    producer_cmd_add(&cmd, e->org_id);
    producer_cmd_add(&cmd, now);
    producer_cmd_add(&cmd, mode);
    producer_cmd_add(&cmd, ver ? ver : "");
    redisReply *r = producer_redis_cmd(p, &cmd);
    int rc;
    if (producer_reply_failed(p, r) || r->type != REDIS_REPLY_INTEGER) rc = -1;
    else rc = r->integer == -2 ? 2 : r->integer < 0 ? 0 : 1;
    if (r) freeReplyObject(r);
    hq_free(cfg);
    hq_free(sub);
    return rc;
}

static void conflict(struct producer *p, hq_http_req *req)
{
    producer_error(p, req, 409, "conflict",
                   "the endpoint changed while this request was applied; read it again and retry", NULL);
}

static void ep_create(struct producer *p, hq_http_req *req)
{
    json_t *body = producer_parse_body(p, req, 0);
    if (!body) return;
    if (reject_unknown_field(p, req, body)) {
        json_decref(body);
        return;
    }
    producer_ep pe;
    memset(&pe, 0, sizeof pe);
    char field[160], msg[300];
    if (hq_endpoint_from_api(body, NULL, &p->epdef, &pe.ep, field, sizeof field, msg, sizeof msg) != 0) {
        validation_error(p, req, field, msg);
        json_decref(body);
        return;
    }
    json_decref(body);
    pe.shard = hq_shard_of_org(pe.ep.org_id, (int)p->cfg.shards);
    hq_id_endpoint(pe.shard, pe.ep.id);
    pe.ep.created_ms = pe.ep.updated_ms = hq_now_ms();
    int rc = ep_put(p, &pe.ep, "create", NULL);
    if (rc <= 0) producer_unavailable(p, req);
    else producer_json(p, req, 201, producer_ep_view(&pe, 1), NULL);
    producer_ep_free(&pe);
}

static int cmp_ep(const void *a, const void *b)
{
    const producer_ep *x = a, *y = b;
    if (x->ep.created_ms != y->ep.created_ms) return x->ep.created_ms < y->ep.created_ms ? -1 : 1;
    return strcmp(x->ep.id, y->ep.id);
}

static void ep_list(struct producer *p, hq_http_req *req)
{
    char org[600];
    if (!hq_http_query(req, "org_id", org, sizeof org) || !org[0] || strlen(org) > ORG_MAX * 4) {
        validation_error(p, req, "org_id", "the org_id query parameter is required");
        return;
    }
    int shard = hq_shard_of_org(org, (int)p->cfg.shards);
    char k_eps[HQ_KEY_MAX * 2];
    hq_key(k_eps, sizeof k_eps, p->cfg.prefix, shard, "org:%s:eps", org);
    producer_cmd cmd;
    producer_cmd_init(&cmd);
    producer_cmd_add(&cmd, "SMEMBERS");
    producer_cmd_add(&cmd, k_eps);
    redisReply *ids = producer_redis_cmd(p, &cmd);
    if (producer_reply_failed(p, ids) || ids->type != REDIS_REPLY_ARRAY) {
        if (ids) freeReplyObject(ids);
        producer_unavailable(p, req);
        return;
    }
    int n = (int)ids->elements;
    producer_cmd *cmds = hq_calloc(n ? (size_t)n : 1, sizeof *cmds);
    char (*keys)[HQ_KEY_MAX] = hq_calloc(n ? (size_t)n : 1, HQ_KEY_MAX);
    redisReply **rs = hq_calloc(n ? (size_t)n : 1, sizeof *rs);
    producer_ep *eps = hq_calloc(n ? (size_t)n : 1, sizeof *eps);
    int neps = 0;
    for (int i = 0; i < n; i++) producer_ep_hmget(p, shard, ids->element[i]->str, keys[i], &cmds[i]);
    if (producer_redis_pipeline(p, cmds, n, rs) != 0) {
        producer_unavailable(p, req);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        producer_ep e;
        int rc = producer_ep_parse(p, rs[i], shard, &e);
        if (rc == 1 && strcmp(e.ep.org_id, org) == 0) eps[neps++] = e;
        else if (rc == 1) producer_ep_free(&e);
        else if (rc < 0) hq_warn("stored endpoint cannot be loaded", "endpoint", ids->element[i]->str);
        freeReplyObject(rs[i]);
    }
    qsort(eps, (size_t)neps, sizeof *eps, cmp_ep);
    json_t *data = json_array();
    for (int i = 0; i < neps; i++) json_array_append_new(data, producer_ep_view(&eps[i], 0));
    producer_json(p, req, 200, json_pack("{s:o}", "data", data), NULL);
out:
    for (int i = 0; i < neps; i++) producer_ep_free(&eps[i]);
    hq_free(eps);
    hq_free(rs);
    hq_free(keys);
    hq_free(cmds);
    freeReplyObject(ids);
}

static void ep_patch(struct producer *p, hq_http_req *req, producer_ep *cur)
{
    json_t *body = producer_parse_body(p, req, 0);
    if (!body) return;
    if (reject_unknown_field(p, req, body)) {
        json_decref(body);
        return;
    }
    producer_ep ne;
    memset(&ne, 0, sizeof ne);
    char field[160], msg[300];
    if (hq_endpoint_from_api(body, &cur->ep, &p->epdef, &ne.ep, field, sizeof field, msg, sizeof msg) != 0) {
        validation_error(p, req, field, msg);
        json_decref(body);
        return;
    }
    json_decref(body);
    ne.shard = cur->shard;
    ne.ep.updated_ms = hq_now_ms();
    /* the hash's live fields are authoritative; cfg keeps none of them */
    char *reason = ne.ep.disabled_reason;
    int64_t dis_ms = ne.ep.disabled_ms;
    ne.ep.disabled_reason = NULL;
    ne.ep.disabled_ms = 0;
    int rc = ep_put(p, &ne.ep, "update", cur->ver);
    /* hookq_ep_put clears the disabled reason and the failure streak only
     * when it re-activates the endpoint; otherwise both stay as they are */
    ne.ok_ms = cur->ok_ms;
    if (ne.ep.is_active && cur->ep.is_active) {
        ne.fails = cur->fails;
        ne.ff_ms = cur->ff_ms;
        hq_free(reason);
    } else if (!ne.ep.is_active) {
        ne.ep.disabled_reason = reason;
        ne.ep.disabled_ms = dis_ms;
        ne.fails = cur->fails;
        ne.ff_ms = cur->ff_ms;
    } else {
        hq_free(reason);
    }
    if (rc < 0) producer_unavailable(p, req);
    else if (rc == 0) producer_not_found(p, req, "no endpoint with this id");
    else if (rc == 2) conflict(p, req);
    else producer_json(p, req, 200, producer_ep_view(&ne, 0), NULL);
    producer_ep_free(&ne);
}

static void ep_delete(struct producer *p, hq_http_req *req, producer_ep *cur)
{
    char k_ep[HQ_KEY_MAX], k_eps[HQ_KEY_MAX * 2], k_log[HQ_KEY_MAX];
    hq_key(k_ep, sizeof k_ep, p->cfg.prefix, cur->shard, "ep:%s", cur->ep.id);
    hq_key(k_eps, sizeof k_eps, p->cfg.prefix, cur->shard, "org:%s:eps", cur->ep.org_id);
    hq_key(k_log, sizeof k_log, p->cfg.prefix, cur->shard, "eplog:%s", cur->ep.id);
    producer_cmd cmd;
    producer_cmd_init(&cmd);
    producer_cmd_add(&cmd, "FCALL");
    producer_cmd_add(&cmd, "hookq_ep_del");
    producer_cmd_add(&cmd, "3");
    producer_cmd_add(&cmd, k_ep);
    producer_cmd_add(&cmd, k_eps);
    producer_cmd_add(&cmd, k_log);
    producer_cmd_add(&cmd, cur->ep.id);
    redisReply *r = producer_redis_cmd(p, &cmd);
    if (producer_reply_failed(p, r) || r->type != REDIS_REPLY_INTEGER) producer_unavailable(p, req);
    else if (r->integer == 0) producer_not_found(p, req, "no endpoint with this id");
    else producer_json(p, req, 204, NULL, NULL);
    if (r) freeReplyObject(r);
}

static void ep_rotate(struct producer *p, hq_http_req *req, producer_ep *cur)
{
    json_t *body = producer_parse_body(p, req, 1);
    if (!body) return;
    char secret[HQ_SECRET_MAX + 1];
    json_t *sv = json_object_get(body, "secret");
    if (sv && !json_is_null(sv)) {
        const char *s = json_string_value(sv);
        if (!json_is_string(sv) || strlen(s) != json_string_length(sv) || !hq_secret_valid(s)) {
            validation_error(p, req, "secret", "secret must be 16-256 printable ASCII characters");
            json_decref(body);
            return;
        }
        snprintf(secret, sizeof secret, "%s", s);
    } else {
        hq_secret_generate(secret);
    }
    json_decref(body);
    hq_endpoint *e = &cur->ep;
    int64_t now = hq_now_ms();
    hq_free(e->old_secret);
    e->old_secret = NULL;
    e->old_secret_until_ms = 0;
    if (p->cfg.rotation_overlap_ms > 0) {
        e->old_secret = e->secret;
        e->old_secret_until_ms = now + p->cfg.rotation_overlap_ms;
    } else {
        hq_free(e->secret);
    }
    e->secret = hq_strdup(secret);
    e->updated_ms = now;
    hq_free(e->disabled_reason);
    e->disabled_reason = NULL;
    e->disabled_ms = 0;
    int rc = ep_put(p, e, "update", cur->ver);
    if (rc < 0) {
        producer_unavailable(p, req);
        return;
    }
    if (rc == 2) {
        conflict(p, req);
        return;
    }
    if (rc == 0) {
        producer_not_found(p, req, "no endpoint with this id");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "secret", json_string(secret));
    if (e->old_secret) {
        char ts[40];
        hq_rfc3339(e->old_secret_until_ms, ts);
        json_object_set_new(o, "old_secret_expires_at", json_string(ts));
    } else {
        json_object_set_new(o, "old_secret_expires_at", json_null());
    }
    producer_json(p, req, 200, o, NULL);
}

static void ep_test(struct producer *p, hq_http_req *req, producer_ep *cur)
{
    json_t *body = producer_parse_body(p, req, 1);
    if (!body) return;
    const char *type = NULL;
    json_t *tv = json_object_get(body, "type");
    if (tv && !json_is_null(tv)) {
        type = json_string_value(tv);
        if (!json_is_string(tv) || strlen(type) != json_string_length(tv) || !hq_type_valid(type)) {
            validation_error(p, req, "type",
                             "type must be 1-128 characters, dot-separated segments of [A-Za-z0-9_]");
            json_decref(body);
            return;
        }
    } else {
        for (int i = 0; i < cur->ep.nevents && !type; i++)
            if (!strchr(cur->ep.events[i], '*')) type = cur->ep.events[i];
        if (!type) type = "webhook.test";
    }
    json_t *data = json_object();
    json_object_set_new(data, "test", json_true());
    json_object_set_new(data, "message", json_string("This is a test event from hookq"));
    json_object_set_new(data, "endpoint_id", json_string(cur->ep.id));
    json_t *ev = json_object();
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "org_id", json_string(cur->ep.org_id));
    json_object_set_new(ev, "data", data);
    json_decref(body);
    producer_event pev;
    char field[64], msg[256];
    if (producer_event_validate(ev, &pev, field, sizeof field, msg, sizeof msg) != 0) {
        validation_error(p, req, field, msg);
        json_decref(ev);
        return;
    }
    producer_publish_bufs b;
    producer_cmd cmd;
    producer_publish_cmd(p, &pev, cur->ep.id, "1", &b, &cmd);
    redisReply *r = producer_redis_cmd(p, &cmd);
    long long n;
    int kind = producer_reply_failed(p, r) ? -1 : producer_publish_result(r, &n);
    if (kind == 3) producer_not_found(p, req, "no endpoint with this id");
    else if (kind < 0) producer_unavailable(p, req);
    else producer_json(p, req, 202, json_pack("{s:s,s:I}", "id", pev.id, "deliveries", (json_int_t)n), NULL);
    if (r) freeReplyObject(r);
    producer_event_free(&pev);
    json_decref(ev);
}

int producer_endpoints_route(struct producer *p, hq_http_req *req, const char *rest)
{
    const char *m = req->method;
    int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
        if (strcmp(m, "POST") == 0) ep_create(p, req);
        else if (get) ep_list(p, req);
        else producer_method_not_allowed(p, req, "GET, POST");
        return 1;
    }
    /* rest = "/{id}" or "/{id}/action" */
    const char *id = rest + 1;
    const char *slash = strchr(id, '/');
    size_t idlen = slash ? (size_t)(slash - id) : strlen(id);
    const char *action = slash ? slash + 1 : "";
    if (idlen == 0 || idlen >= HQ_ID_LEN) return 0;
    enum { A_ONE, A_ROTATE, A_TEST } a;
    if (!slash) a = A_ONE;
    else if (strcmp(action, "rotate-secret") == 0) a = A_ROTATE;
    else if (strcmp(action, "test") == 0) a = A_TEST;
    else return 0;
    char idbuf[HQ_ID_LEN];
    memcpy(idbuf, id, idlen);
    idbuf[idlen] = '\0';

    if (a == A_ONE && !get && strcmp(m, "PATCH") != 0 && strcmp(m, "DELETE") != 0) {
        producer_method_not_allowed(p, req, "GET, PATCH, DELETE");
        return 1;
    }
    if (a != A_ONE && strcmp(m, "POST") != 0) {
        producer_method_not_allowed(p, req, "POST");
        return 1;
    }
    producer_ep cur;
    if (producer_ep_load(p, req, idbuf, &cur) != 0) return 1;
    if (!cur.ep.secret && (a == A_ROTATE || strcmp(m, "PATCH") == 0)) {
        /* sealed under a key HOOKQ_MASTER_KEY lacks: rewriting would lose them */
        producer_error(p, req, 500, "internal",
                       "the endpoint's stored secrets cannot be decrypted with HOOKQ_MASTER_KEY", NULL);
        producer_ep_free(&cur);
        return 1;
    }
    if (a == A_ROTATE) ep_rotate(p, req, &cur);
    else if (a == A_TEST) ep_test(p, req, &cur);
    else if (get) producer_json(p, req, 200, producer_ep_view(&cur, 0), NULL);
    else if (strcmp(m, "PATCH") == 0) ep_patch(p, req, &cur);
    else ep_delete(p, req, &cur);
    producer_ep_free(&cur);
    return 1;
}
