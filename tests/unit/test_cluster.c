/* Unit tests for hq_cluster's pure parts: key slots (values from Redis's
 * CLUSTER KEYSLOT and its documentation), the first key of a command, and
 * MOVED/ASK parsing. The client itself is tested against a real cluster in
 * tests/integration/test_cluster.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "hq_cluster.h"

static int slot(const char *k)
{
    return hq_cluster_keyslot(k, strlen(k));
}

static void test_keyslot(void **state)
{
    (void)state;
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("{user1000}.following"), 3443);
    assert_int_equal(slot("{user1000}.followers"), 3443);
    assert_int_equal(slot("hookq:{0}:stream"), 13907);
    assert_int_equal(slot("hq:{15}:ep:abc"), 4178);
    assert_int_equal(slot("a{}b"), 13694);   /* empty tag: the whole key */
    assert_int_equal(slot("{}{x}"), 3257);   /* only the first '{' counts */
    assert_int_equal(slot("x{"), 3596);      /* unclosed: the whole key */
    for (int s = 0; s < 64; s++) {
        char k[64];
        snprintf(k, sizeof k, "any:{%d}:dlv:x", s);
        assert_int_equal(slot(k), hq_cluster_shard_slot("any", s));
    }
}

static void test_cmd_key(void **state)
{
    (void)state;
    size_t n = 0;
    const char *a1[] = { "FCALL", "hookq_publish", "4", "hq:{1}:ev:o:e", "x" };
    assert_string_equal(hq_cluster_cmd_key(5, a1, NULL, &n), "hq:{1}:ev:o:e");
    assert_int_equal(n, 13);
    const char *a2[] = { "FCALL", "f", "0", "arg" };
    assert_null(hq_cluster_cmd_key(4, a2, NULL, &n));
    const char *a3[] = { "XGROUP", "CREATE", "hq:{2}:stream", "workers", "0", "MKSTREAM" };
    assert_string_equal(hq_cluster_cmd_key(6, a3, NULL, &n), "hq:{2}:stream");
    const char *a4[] = { "XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s1", "s2", ">", ">" };
    assert_string_equal(hq_cluster_cmd_key(11, a4, NULL, &n), "s1");
    const char *a5[] = { "PING" };
    assert_null(hq_cluster_cmd_key(1, a5, NULL, &n));
    const char *a6[] = { "function", "LOAD", "REPLACE", "lib" };
    assert_null(hq_cluster_cmd_key(4, a6, NULL, &n));
    const char *a7[] = { "HGETALL", "hq:{3}:dlv:x" };
    assert_string_equal(hq_cluster_cmd_key(2, a7, NULL, &n), "hq:{3}:dlv:x");
    const char *a8[] = { "XINFO", "GROUPS", "hq:{4}:stream" };
    assert_string_equal(hq_cluster_cmd_key(3, a8, NULL, &n), "hq:{4}:stream");
}

static void test_redirect(void **state)
{
    (void)state;
    int ask = -1, s = 0, port = 0;
    char host[64];
    assert_true(hq_cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", &ask, &s, host, sizeof host, &port));
    assert_int_equal(ask, 0);
    assert_int_equal(s, 3999);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6381);
    assert_true(hq_cluster_parse_redirect("ASK 1 ::1:7000", &ask, &s, host, sizeof host, &port));
    assert_int_equal(ask, 1);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_false(hq_cluster_parse_redirect("ERR nope", &ask, &s, host, sizeof host, &port));
    assert_false(hq_cluster_parse_redirect("MOVED 99999 h:1", &ask, &s, host, sizeof host, &port));
    assert_false(hq_cluster_parse_redirect("MOVED 1 h:", &ask, &s, host, sizeof host, &port));
    assert_true(hq_cluster_is_transient("TRYAGAIN Multiple keys request during rehashing of slot"));
    assert_true(hq_cluster_is_transient("CLUSTERDOWN The cluster is down"));
    assert_false(hq_cluster_is_transient("ERR wrong number of arguments"));
}

static void test_sentinel_url(void **state)
{
    (void)state;
    hq_redis_url u;
    char err[128];
    assert_int_equal(hq_redis_url_parse("redis-sentinel://127.0.0.1:1,127.0.0.1:2/mymaster", &u, err, sizeof err),
                     0);
    assert_int_equal(u.kind, HQ_REDIS_SENTINEL);
    assert_string_equal(u.master, "mymaster");
    assert_string_equal(u.seeds, "127.0.0.1:1,127.0.0.1:2");
    hq_redis_url n;
    hq_cluster_node_url(&u, "10.0.0.1", 7001, &n);
    assert_int_equal(n.kind, HQ_REDIS_TCP);
    assert_string_equal(n.host, "10.0.0.1");
    assert_int_equal(n.port, 7001);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyslot),
        cmocka_unit_test(test_cmd_key),
        cmocka_unit_test(test_redirect),
        cmocka_unit_test(test_sentinel_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
