/* The per-org event catalogue behind the console's event checkboxes:
 *   GET    /v1/event-types?org_id=        -> {"data":[{"type","source"}...]}
 *   POST   /v1/event-types {"org_id","type"} -> 201 (200 if already declared)
 *   DELETE /v1/event-types?org_id=&type=  -> 204 (only types registered here)
 * "declared" = HOOKQ_EVENT_TYPES (every org) plus the org's registered set
 * <tag>org:<org>:types; "seen" = types published for the org and not
 * declared (<tag>org:<org>:seen, written by hookq_publish, capped there).
 * Both sets live under the org's shard tag, read with one pipelined round
 * trip. The list is sorted by type. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_json.h"
#include "hq_id.h"
#include "hq_match.h"
#include "eventtypes.h"

#define ORG_MAX_CHARS 128
#define TYPES_MAX 1000          /* registered types per org */

char *producer_event_types_env;
static char **declared;         /* parsed HOOKQ_EVENT_TYPES, sorted */
static int ndeclared;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void producer_event_types_free(void)
{
    for (int i = 0; i < ndeclared; i++) hq_free(declared[i]);
    hq_free(declared);
    declared = NULL;
    ndeclared = 0;
}

int producer_event_types_check(char *err, size_t errlen)
{
    producer_event_types_free();
    const char *s = producer_event_types_env ? producer_event_types_env : "";
    while (*s == ' ') s++;
    if (!*s) return 0;
    int cap = 8;
    declared = hq_calloc((size_t)cap, sizeof *declared);
    for (;;) {
        const char *end = strchr(s, ',');
        size_t n = end ? (size_t)(end - s) : strlen(s);
        while (n > 0 && (s[0] == ' ' || s[0] == '\t')) s++, n--;
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        char *t = hq_strndup(s, n);
        if (!hq_type_valid(t)) {
            snprintf(err, errlen,
                     "HOOKQ_EVENT_TYPES: invalid value '%s': '%s' is not an event type (1-128 characters, "
                     "dot-separated segments of [A-Za-z0-9_], comma-separated)",
                     producer_event_types_env, t);
            hq_free(t);
            producer_event_types_free();
            return -1;
        }
        if (ndeclared == cap) {
            cap *= 2;
            declared = hq_realloc(declared, (size_t)cap * sizeof *declared);
        }
        declared[ndeclared++] = t;
        if (!end) break;
        s = end + 1;
    }
    qsort(declared, (size_t)ndeclared, sizeof *declared, cmp_str);
    return 0;
}

static int org_valid(const char *s)
{
    if (!s || !*s || hq_utf8_len(s) > ORG_MAX_CHARS) return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    return 1;
}

/* The org's two keys into types/seen (each >= 2 * HQ_KEY_MAX). */
static void org_keys(const struct producer *p, const char *org, char *types, char *seen)
{
    char tag[HQ_KEY_MAX];
    producer_tag(p, hq_shard_of_org(org, (int)p->cfg.shards), tag);
    snprintf(types, 2 * HQ_KEY_MAX, "%sorg:%s:types", tag, org);
    snprintf(seen, 2 * HQ_KEY_MAX, "%sorg:%s:seen", tag, org);
}

/* One entry of the answer being built. */
struct entry {
    const char *type;
    int declared;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->type, y->type);
    return c ? c : y->declared - x->declared;   /* declared first among equals */
}

static void add_set(struct entry *out, int *n, const redisReply *r, int decl)
{
    if (!r || r->type != REDIS_REPLY_ARRAY) return;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING) out[(*n)++] = (struct entry){ r->element[i]->str, decl };
}

static void list_types(struct producer *p, hq_http_req *req)
{
    char org[1024];
    if (!hq_http_query(req, "org_id", org, sizeof org) || !org_valid(org)) {
        producer_error(p, req, 422, "validation_failed", "org_id is required: a string of 1-128 characters",
                       "org_id");
        return;
    }
    char k_types[2 * HQ_KEY_MAX], k_seen[2 * HQ_KEY_MAX];
    org_keys(p, org, k_types, k_seen);
    producer_cmd cmds[2];
    producer_cmd_init(&cmds[0]);
    producer_cmd_add(&cmds[0], "SMEMBERS");
    producer_cmd_add(&cmds[0], k_types);
    producer_cmd_init(&cmds[1]);
    producer_cmd_add(&cmds[1], "SMEMBERS");
    producer_cmd_add(&cmds[1], k_seen);
    redisReply *r[2];
    if (producer_redis_pipeline(p, cmds, 2, r) != 0) {
        producer_unavailable(p, req);
        return;
    }
    if (producer_reply_failed(p, r[0]) || producer_reply_failed(p, r[1])) {
        freeReplyObject(r[0]);
        freeReplyObject(r[1]);
        producer_unavailable(p, req);
        return;
    }
    size_t cap = (size_t)ndeclared + r[0]->elements + r[1]->elements + 1;
    struct entry *e = hq_calloc(cap, sizeof *e);
    int n = 0;
    for (int i = 0; i < ndeclared; i++) e[n++] = (struct entry){ declared[i], 1 };
    add_set(e, &n, r[0], 1);
    add_set(e, &n, r[1], 0);
    qsort(e, (size_t)n, sizeof *e, cmp_entry);
    json_t *data = json_array();
    for (int i = 0; i < n; i++) {
        if (i > 0 && strcmp(e[i].type, e[i - 1].type) == 0) continue;
        json_array_append_new(data, json_pack("{s:s,s:s}", "type", e[i].type, "source",
                                              e[i].declared ? "declared" : "seen"));
    }
    hq_free(e);
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    producer_json(p, req, 200, json_pack("{s:o}", "data", data), NULL);
}

/* Validates the org and type of a POST body or DELETE query. 0, or answers 422 and returns -1. */
static int check_fields(struct producer *p, hq_http_req *req, const char *org, const char *type)
{
    if (!org_valid(org)) {
        producer_error(p, req, 422, "validation_failed", "org_id is required: a string of 1-128 characters",
                       "org_id");
        return -1;
    }
    if (!type || !hq_type_valid(type)) {
        producer_error(p, req, 422, "validation_failed",
                       "type is required: 1-128 characters, dot-separated segments of [A-Za-z0-9_] "
                       "(e.g. lead.created)", "type");
        return -1;
    }
    return 0;
}

static int is_env_declared(const char *type)
{
    /* no HOOKQ_EVENT_TYPES: declared is NULL, which bsearch may not get */
    return ndeclared > 0 && bsearch(&type, declared, (size_t)ndeclared, sizeof *declared, cmp_str) != NULL;
}

static void register_type(struct producer *p, hq_http_req *req)
{
    json_t *body = producer_parse_body(p, req, 0);
    if (!body) return;
    const json_t *ov = json_object_get(body, "org_id"), *tv = json_object_get(body, "type");
    const char *org = json_is_string(ov) && strlen(json_string_value(ov)) == json_string_length(ov)
                          ? json_string_value(ov) : NULL;
    const char *type = json_is_string(tv) ? json_string_value(tv) : NULL;
    if (check_fields(p, req, org, type) != 0) {
        json_decref(body);
        return;
    }
    char k_types[2 * HQ_KEY_MAX], k_seen[2 * HQ_KEY_MAX];
    org_keys(p, org, k_types, k_seen);
    producer_cmd cmds[2];
    producer_cmd_init(&cmds[0]);
    producer_cmd_add(&cmds[0], "SCARD");
    producer_cmd_add(&cmds[0], k_types);
    producer_cmd_init(&cmds[1]);
    producer_cmd_add(&cmds[1], "SISMEMBER");
    producer_cmd_add(&cmds[1], k_types);
    producer_cmd_add(&cmds[1], type);
    redisReply *r[2];
    if (producer_redis_pipeline(p, cmds, 2, r) != 0) {
        json_decref(body);
        producer_unavailable(p, req);
        return;
    }
    int failed = producer_reply_failed(p, r[0]) || producer_reply_failed(p, r[1]);
    long long count = failed ? 0 : r[0]->integer, member = failed ? 0 : r[1]->integer;
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    if (failed) {
        json_decref(body);
        producer_unavailable(p, req);
        return;
    }
    if (!member && !is_env_declared(type) && count >= TYPES_MAX) {
        json_decref(body);
        producer_error(p, req, 422, "validation_failed", "this org already has the maximum of 1000 registered types",
                       "type");
        return;
    }
    int added = 0;
    if (!member && !is_env_declared(type)) {
        producer_cmd c;
        producer_cmd_init(&c);
        producer_cmd_add(&c, "SADD");
        producer_cmd_add(&c, k_types);
        producer_cmd_add(&c, type);
        redisReply *a = producer_redis_cmd(p, &c);
        if (producer_reply_failed(p, a)) {
            if (a) freeReplyObject(a);
            json_decref(body);
            producer_unavailable(p, req);
            return;
        }
        added = a->type == REDIS_REPLY_INTEGER && a->integer == 1;
        freeReplyObject(a);
    }
    producer_json(p, req, added ? 201 : 200,
                  json_pack("{s:s,s:s,s:s}", "org_id", org, "type", type, "source", "declared"), NULL);
    json_decref(body);
}

static void unregister_type(struct producer *p, hq_http_req *req)
{
    char org[1024], type[256];
    int has_org = hq_http_query(req, "org_id", org, sizeof org);
    int has_type = hq_http_query(req, "type", type, sizeof type);
    if (check_fields(p, req, has_org ? org : NULL, has_type ? type : NULL) != 0) return;
    if (is_env_declared(type)) {
        producer_error(p, req, 422, "validation_failed",
                       "this type is declared by HOOKQ_EVENT_TYPES for every org and cannot be removed here", "type");
        return;
    }
    char k_types[2 * HQ_KEY_MAX], k_seen[2 * HQ_KEY_MAX];
    org_keys(p, org, k_types, k_seen);
    producer_cmd c;
    producer_cmd_init(&c);
    producer_cmd_add(&c, "SREM");
    producer_cmd_add(&c, k_types);
    producer_cmd_add(&c, type);
    redisReply *a = producer_redis_cmd(p, &c);
    if (producer_reply_failed(p, a)) {
        if (a) freeReplyObject(a);
        producer_unavailable(p, req);
        return;
    }
    int removed = a->type == REDIS_REPLY_INTEGER && a->integer == 1;
    freeReplyObject(a);
    if (!removed) producer_not_found(p, req, "this org has no registered type of that name");
    else producer_json(p, req, 204, NULL, NULL);
}

int producer_event_types_route(struct producer *p, hq_http_req *req, const char *path)
{
    if (strcmp(path, "/v1/event-types") != 0) return 0;
    const char *m = req->method;
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0) list_types(p, req);
    else if (strcmp(m, "POST") == 0) register_type(p, req);
    else if (strcmp(m, "DELETE") == 0) unregister_type(p, req);
    else producer_method_not_allowed(p, req, "GET, POST, DELETE");
    return 1;
}
