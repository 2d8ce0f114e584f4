/* Unit tests for hq_endpoint: API validation (create and PATCH), the exact
 * round trip of the stored form, the API view (no secrets), and the
 * subscription string. Also hq_redis_url_parse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "hq_alloc.h"
#include "hq_endpoint.h"
#include "hq_json.h"
#include "hq_redis.h"

static const hq_endpoint_defaults defs = { "hookq", "X-Webhook-Signature", "sha256=hex", 0 };

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *v = hq_json_parse(s, strlen(s), &e);
    if (!v) fail_msg("bad test JSON: %s: %s", s, e.text);
    return v;
}

/* Creates from JSON text; returns 0/-1 and the field on error. */
static int create(const char *text, hq_endpoint *out, char *field)
{
    char msg[300];
    json_t *in = J(text);
    int rc = hq_endpoint_from_api(in, NULL, &defs, out, field, 160, msg, sizeof msg);
    json_decref(in);
    return rc;
}

static void expect_field(const char *text, const char *field)
{
    hq_endpoint e;
    char f[160] = "";
    if (create(text, &e, f) == 0) {
        hq_endpoint_free(&e);
        fail_msg("accepted: %s", text);
    }
    assert_string_equal(f, field);
}

static void test_create_minimal_defaults(void **state)
{
    (void)state;
    hq_endpoint e;
    char f[160];
    assert_int_equal(create("{\"org_id\":\"o1\",\"url\":\"https://example.com/h\"}", &e, f), 0);
    assert_string_equal(e.org_id, "o1");
    assert_string_equal(e.url, "https://example.com/h");
    assert_int_equal(e.nevents, 1);
    assert_string_equal(e.events[0], "*");
    assert_true(e.is_active);
    assert_int_equal(e.auth_type, HQ_AUTH_NONE);
    assert_string_equal(e.signature_header, "X-Webhook-Signature");
    assert_int_equal(e.signature_format, HQ_SIG_SHA256_HEX);
    assert_int_equal(e.payload_format, HQ_FMT_HOOKQ);
    assert_non_null(e.secret);
    assert_memory_equal(e.secret, "whsec_", 6);
    assert_false(e.has_schedule);
    assert_int_equal(e.timeout_ms, 0);
    char *sub = hq_endpoint_sub(&e);
    assert_string_equal(sub, " * ");
    hq_free(sub);
    hq_endpoint_free(&e);
}

static void test_validation_fields(void **state)
{
    (void)state;
    expect_field("{\"url\":\"https://a.b/\"}", "org_id");
    expect_field("{\"org_id\":\"\",\"url\":\"https://a.b/\"}", "org_id");
    expect_field("{\"org_id\":\"o\"}", "url");
    expect_field("{\"org_id\":\"o\",\"url\":\"ftp://a.b/\"}", "url");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://u:p@a.b/\"}", "url");
    expect_field("{\"org_id\":\"o\",\"url\":\"https:///nohost\"}", "url");
    expect_field("{\"org_id\":\"o\",\"url\":\"not a url\"}", "url");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"events\":[]}", "events");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"events\":[\"a.b\",\"a..b\"]}", "events[1]");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"is_active\":1}", "is_active");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"auth\":{\"type\":\"digest\"}}", "auth.type");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"auth\":{\"type\":\"basic\",\"username\":\"u\"}}",
                 "auth.password");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"auth\":{\"type\":\"bearer\"}}", "auth.token");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"auth\":{\"type\":\"api_key\"}}", "auth.key");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"headers\":{\"Content-Type\":\"x\"}}",
                 "headers.Content-Type");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"headers\":{\"X-Webhook-Foo\":\"x\"}}",
                 "headers.X-Webhook-Foo");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"headers\":{\"X-A\":\"a\\r\\nb\"}}", "headers.X-A");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"headers\":{\"bad name\":\"x\"}}", "headers");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"auth\":{\"type\":\"bearer\",\"token\":\"t\"},"
                 "\"headers\":{\"Authorization\":\"x\"}}",
                 "headers.Authorization");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"signature_header\":\"X-Sig\","
                 "\"headers\":{\"x-sig\":\"x\"}}",
                 "headers.x-sig");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"signature_header\":\"Bad Header\"}",
                 "signature_header");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"signature_format\":\"base64\"}", "signature_format");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"payload_format\":\"xml\"}", "payload_format");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"secret\":\"short\"}", "secret");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"retry_schedule\":\"1m,x\"}", "retry_schedule");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"timeout_ms\":999}", "timeout_ms");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"timeout_ms\":1500.5}", "timeout_ms");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"rate_limit_per_sec\":-1}", "rate_limit_per_sec");
    expect_field("{\"org_id\":\"o\",\"url\":\"https://a.b/\",\"name\":5}", "name");
}

static void test_require_https(void **state)
{
    (void)state;
    hq_endpoint_defaults d = defs;
    d.require_https = 1;
    char f[160], msg[300];
    hq_endpoint e;
    json_t *in = J("{\"org_id\":\"o\",\"url\":\"http://a.b/\"}");
    assert_int_equal(hq_endpoint_from_api(in, NULL, &d, &e, f, sizeof f, msg, sizeof msg), -1);
    assert_string_equal(f, "url");
    json_decref(in);
    in = J("{\"org_id\":\"o\",\"url\":\"https://a.b/\"}");
    assert_int_equal(hq_endpoint_from_api(in, NULL, &d, &e, f, sizeof f, msg, sizeof msg), 0);
    hq_endpoint_free(&e);
    json_decref(in);
}

static const char *FULL =
    "{\"org_id\":\"ab12-cd34\",\"name\":\"Slack \\u00e9\",\"url\":\"https://hooks.example.com/x?y=1\","
    "\"events\":[\"opportunity.won\",\"lead.*\"],\"is_active\":false,"
    "\"auth\":{\"type\":\"basic\",\"username\":\"user\",\"password\":\"pa:ss\"},"
    "\"headers\":{\"X-Team\":\"sales\",\"X-Other\":\"a\\\"b\"},"
    "\"signature_header\":\"X-BottleCRM-Signature\",\"signature_format\":\"hex\","
    "\"payload_format\":\"event_data\",\"secret\":\"my-secret-0123456789\","
    "\"retry_schedule\":\"1m,5m,30m,2h,24h\",\"timeout_ms\":10000,\"rate_limit_per_sec\":50,"
    "\"description\":\"desc\"}";

static void assert_same(const hq_endpoint *a, const hq_endpoint *b)
{
    char *sa = hq_endpoint_to_storage(a, NULL);
    char *sb = hq_endpoint_to_storage(b, NULL);
    assert_string_equal(sa, sb);
    hq_free(sa);
    hq_free(sb);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->org_id, b->org_id);
    assert_int_equal(a->nevents, b->nevents);
    assert_int_equal(a->nheaders, b->nheaders);
    assert_int_equal(a->auth_type, b->auth_type);
    assert_int_equal(a->has_schedule, b->has_schedule);
    assert_int_equal(a->schedule.n, b->schedule.n);
    for (int i = 0; i < a->schedule.n; i++) assert_int_equal(a->schedule.delay_ms[i], b->schedule.delay_ms[i]);
    assert_int_equal(a->old_secret_until_ms, b->old_secret_until_ms);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->updated_ms, b->updated_ms);
}

static void test_storage_round_trip(void **state)
{
    (void)state;
    hq_endpoint e, back;
    char f[160];
    assert_int_equal(create(FULL, &e, f), 0);
    snprintf(e.id, sizeof e.id, "ep_0123456789abcdef01234005");
    e.created_ms = 1760000000123;
    e.updated_ms = 1760000000456;
    e.old_secret = hq_strdup("whsec_old");
    e.old_secret_until_ms = 1760086400456;
    char *s = hq_endpoint_to_storage(&e, NULL);
    assert_int_equal(hq_endpoint_from_storage(s, strlen(s), NULL, &back, NULL, 0), 0);
    assert_same(&e, &back);
    assert_string_equal(back.auth_username, "user");
    assert_string_equal(back.auth_password, "pa:ss");
    assert_string_equal(back.secret, "my-secret-0123456789");
    assert_string_equal(back.old_secret, "whsec_old");
    assert_string_equal(back.headers[1].name, "X-Other");
    assert_string_equal(back.headers[1].value, "a\"b");
    assert_string_equal(back.name, "Slack \xc3\xa9");
    assert_int_equal(back.signature_format, HQ_SIG_HEX);
    assert_int_equal(back.payload_format, HQ_FMT_EVENT_DATA);
    assert_int_equal(back.timeout_ms, 10000);
    assert_int_equal(back.rate_limit_per_sec, 50);
    assert_false(back.is_active);
    assert_int_equal(back.schedule.delay_ms[4], 86400000);

    /* copy is deep and equal */
    hq_endpoint cp;
    hq_endpoint_copy(&cp, &back);
    assert_same(&cp, &e);
    hq_endpoint_free(&cp);

    /* API view: no password, no secret unless asked */
    json_t *v = hq_endpoint_to_api(&back, 0);
    char *vs = json_dumps(v, JSON_COMPACT);
    assert_null(strstr(vs, "pa:ss"));
    assert_null(strstr(vs, "my-secret"));
    assert_null(strstr(vs, "whsec_old"));
    assert_non_null(strstr(vs, "\"auth\":{\"type\":\"basic\",\"username\":\"user\"}"));
    assert_non_null(strstr(vs, "\"retry_schedule\":\"1m,5m,30m,2h,"));
    assert_non_null(strstr(vs, "\"created_at\":\"2025-10-09T"));
    free(vs);
    json_decref(v);
    v = hq_endpoint_to_api(&back, 1);
    assert_string_equal(json_string_value(json_object_get(v, "secret")), "my-secret-0123456789");
    json_decref(v);

    char *sub = hq_endpoint_sub(&back);
    assert_string_equal(sub, " opportunity.won lead.* ");
    hq_free(sub);
    hq_free(s);
    hq_endpoint_free(&back);
    hq_endpoint_free(&e);
}

static void test_storage_rejects_garbage(void **state)
{
    (void)state;
    hq_endpoint e;
    assert_int_equal(hq_endpoint_from_storage("nope", 4, NULL, &e, NULL, 0), -1);
    assert_int_equal(hq_endpoint_from_storage("{}", 2, NULL, &e, NULL, 0), -1);
    const char *noid = "{\"org_id\":\"o\",\"url\":\"https://a/\",\"events\":[],\"secret\":\"s\"}";
    assert_int_equal(hq_endpoint_from_storage(noid, strlen(noid), NULL, &e, NULL, 0), -1);
}

static void test_patch(void **state)
{
    (void)state;
    hq_endpoint base, out;
    char f[160], msg[300];
    assert_int_equal(create(FULL, &base, f), 0);
    json_t *in = J("{\"name\":null,\"events\":[\"a.b\"],\"timeout_ms\":null,\"retry_schedule\":null,"
                   "\"auth\":{\"type\":\"api_key\",\"value\":\"k1\"}}");
    assert_int_equal(hq_endpoint_from_api(in, &base, &defs, &out, f, sizeof f, msg, sizeof msg), 0);
    json_decref(in);
    assert_null(out.name);
    assert_int_equal(out.nevents, 1);
    assert_int_equal(out.timeout_ms, 0);
    assert_false(out.has_schedule);
    assert_int_equal(out.auth_type, HQ_AUTH_API_KEY);
    assert_string_equal(out.auth_key, "k1");
    assert_null(out.auth_password);
    assert_string_equal(out.secret, base.secret);           /* unchanged */
    assert_string_equal(out.url, base.url);
    assert_int_equal(out.rate_limit_per_sec, 50);
    hq_endpoint_free(&out);

    in = J("{\"secret\":\"another-secret-123456\"}");
    assert_int_equal(hq_endpoint_from_api(in, &base, &defs, &out, f, sizeof f, msg, sizeof msg), -1);
    assert_string_equal(f, "secret");
    json_decref(in);
    in = J("{\"org_id\":\"other\"}");
    assert_int_equal(hq_endpoint_from_api(in, &base, &defs, &out, f, sizeof f, msg, sizeof msg), -1);
    assert_string_equal(f, "org_id");
    json_decref(in);
    /* switching auth to bearer makes a custom Authorization header reserved */
    in = J("{\"headers\":{\"Authorization\":\"x\"}}");
    assert_int_equal(hq_endpoint_from_api(in, &base, &defs, &out, f, sizeof f, msg, sizeof msg), -1);
    assert_string_equal(f, "headers.Authorization");
    json_decref(in);
    hq_endpoint_free(&base);
}

static void test_format_names(void **state)
{
    (void)state;
    enum hq_payload_format pf;
    enum hq_sig_format sf;
    assert_int_equal(hq_payload_format_parse("event_payload", &pf), 0);
    assert_int_equal(pf, HQ_FMT_EVENT_PAYLOAD);
    assert_string_equal(hq_payload_format_name(pf), "event_payload");
    assert_int_equal(hq_payload_format_parse("json", &pf), -1);
    assert_int_equal(hq_sig_format_parse("none", &sf), 0);
    assert_string_equal(hq_sig_format_name(sf), "none");
    assert_int_equal(hq_sig_format_parse("sha1", &sf), -1);
    assert_string_equal(hq_auth_type_name(HQ_AUTH_BEARER), "bearer");
}

static void test_redis_url(void **state)
{
    (void)state;
    hq_redis_url u;
    char err[200];
    assert_int_equal(hq_redis_url_parse("redis://127.0.0.1:6379/0", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, HQ_REDIS_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_int_equal(hq_redis_url_parse("redis://user:p%40ss@redis.local/3", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.pass, "p@ss");
    assert_string_equal(u.host, "redis.local");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 3);
    assert_int_equal(hq_redis_url_parse("redis://:pw@[::1]:7000", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.pass, "pw");
    assert_string_equal(u.user, "");
    assert_int_equal(hq_redis_url_parse("unix:///tmp/r.sock?db=2", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, HQ_REDIS_UNIX);
    assert_string_equal(u.path, "/tmp/r.sock");
    assert_int_equal(u.db, 2);
    assert_int_equal(hq_redis_url_parse("redis-cluster://a:7000,b:7001", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, HQ_REDIS_CLUSTER);
    assert_string_equal(u.seeds, "a:7000,b:7001");
    assert_null(hq_redis_connect(&u, 100, err, sizeof err));
    assert_non_null(strstr(err, "use hq_cluster"));  /* a cluster is reached through common/hq_cluster.c */
    assert_int_equal(hq_redis_url_parse("redis-sentinel://s1:26379,s2:26379/mymaster", &u, err, sizeof err), 0);
    assert_int_equal(u.kind, HQ_REDIS_SENTINEL);
    assert_string_equal(u.master, "mymaster");
    assert_int_equal(hq_redis_url_parse("http://x", &u, err, sizeof err), -1);
    assert_int_equal(hq_redis_url_parse("redis://h:99999", &u, err, sizeof err), -1);
    assert_int_equal(hq_redis_url_parse("redis://h/x", &u, err, sizeof err), -1);
    assert_int_equal(hq_redis_url_parse("redis-sentinel://s1:1", &u, err, sizeof err), -1);
    assert_true(hq_redis_is_nofunc("ERR Function not found"));
    assert_false(hq_redis_is_nofunc("ERR other"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_minimal_defaults),
        cmocka_unit_test(test_validation_fields),
        cmocka_unit_test(test_require_https),
        cmocka_unit_test(test_storage_round_trip),
        cmocka_unit_test(test_storage_rejects_garbage),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_format_names),
        cmocka_unit_test(test_redis_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
