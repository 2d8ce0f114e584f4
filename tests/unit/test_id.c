/* Unit tests for hq_id and hq_keys (FNV values computed with Python). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "hq_id.h"
#include "hq_keys.h"

static void test_fnv(void **state)
{
    (void)state;
    assert_int_equal(hq_fnv1a("", 0), 2166136261u);
    assert_int_equal(hq_fnv1a("a", 1), 3826002220u);
    assert_int_equal(hq_fnv1a("ab12-cd34", 9), 2338395172u);
    assert_int_equal(hq_shard_of_org("ab12-cd34", 16), 4);
    assert_int_equal(hq_shard_of_org("org_1", 16), 9);
    assert_int_equal(hq_shard_of_org("org_1", 1), 0);
    assert_int_equal(hq_shard_of_org("a", 4096), (int)(3826002220u % 4096));
}

static void test_endpoint_id(void **state)
{
    (void)state;
    for (int shard = 0; shard < HQ_SHARDS_MAX; shard += 37) {
        char id[HQ_ID_LEN];
        hq_id_endpoint(shard, id);
        assert_int_equal(strlen(id), 27);
        assert_memory_equal(id, "ep_", 3);
        for (int i = 3; i < 27; i++) assert_non_null(strchr("0123456789abcdef", id[i]));
        char tail[4];
        snprintf(tail, sizeof tail, "%03x", shard);
        assert_string_equal(id + 24, tail);
        assert_int_equal(hq_shard_of_id(id, HQ_SHARDS_MAX), shard);
    }
    char a[HQ_ID_LEN], b[HQ_ID_LEN];
    hq_id_endpoint(10, a);
    hq_id_endpoint(10, b);
    assert_string_not_equal(a, b);
    assert_string_equal(a + 24, "00a");
}

static void test_shard_of_id(void **state)
{
    (void)state;
    assert_int_equal(hq_shard_of_id("dlv_abc00a", 16), 10);
    assert_int_equal(hq_shard_of_id("dlv_abc00f", 16), 15);
    assert_int_equal(hq_shard_of_id("dlv_abc010", 16), -1);
    assert_int_equal(hq_shard_of_id("dlv_abc010", 17), 16);
    assert_int_equal(hq_shard_of_id("dlv_abc00A", 16), -1);
    assert_int_equal(hq_shard_of_id("dlv_abc0g0", 16), -1);
    assert_int_equal(hq_shard_of_id("00a", 16), -1);
    assert_int_equal(hq_shard_of_id("", 16), -1);
    assert_int_equal(hq_shard_of_id(NULL, 16), -1);
    assert_int_equal(hq_shard_of_id("x000", 1), 0);
}

static void test_event_id(void **state)
{
    (void)state;
    char a[HQ_ID_LEN], b[HQ_ID_LEN];
    hq_id_event(a);
    hq_id_event(b);
    assert_int_equal(strlen(a), 28);
    assert_memory_equal(a, "evt_", 4);
    for (int i = 4; i < 28; i++) assert_non_null(strchr("0123456789abcdef", a[i]));
    assert_string_not_equal(a, b);
}

/* the event's part of its delivery ids: the first 21 hex digits of
 * SHA-1(org NUL id), as hookq_publish computes it in Lua */
static void test_event_digest(void **state)
{
    (void)state;
    char d[HQ_DIGEST_LEN + 1];
    hq_event_digest("ab12-cd34", "evt_1", d);
    assert_string_equal(d, "80082a9f53a45347e53f7");
    hq_event_digest("", "", d);
    assert_string_equal(d, "5ba93c9db0cff93f52b52");
}

static void test_keys(void **state)
{
    (void)state;
    char k[HQ_KEY_MAX];
    hq_key_tag(k, sizeof k, "hookq", 7);
    assert_string_equal(k, "hookq:{7}:");
    hq_key(k, sizeof k, "hookq", 12, "ev:%s:%s", "org1", "evt_1");
    assert_string_equal(k, "hookq:{12}:ev:org1:evt_1");
    hq_key(k, sizeof k, "p", 0, "stream");
    assert_string_equal(k, "p:{0}:stream");
    hq_key_global(k, sizeof k, "hookq", "worker:%s", "w1");
    assert_string_equal(k, "hookq:worker:w1");
    hq_key_global(k, sizeof k, "hookq", "meta");
    assert_string_equal(k, "hookq:meta");
    char small[8];
    hq_key(small, sizeof small, "hookq", 1, "stream");
    assert_string_equal(small, "hookq:{");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv),      cmocka_unit_test(test_endpoint_id), cmocka_unit_test(test_shard_of_id),
        cmocka_unit_test(test_event_id), cmocka_unit_test(test_event_digest), cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
