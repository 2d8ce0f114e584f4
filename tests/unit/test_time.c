/* Unit tests for hq_time: RFC 3339 (expected ms from Python's datetime),
 * durations, schedules and strict integers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hq_time.h"

static void test_format(void **state)
{
    (void)state;
    char out[32];
    hq_rfc3339(1776007931000LL, out);
    assert_string_equal(out, "2026-04-12T15:32:11Z");
    hq_rfc3339_ms(1700000000123LL, out);
    assert_string_equal(out, "2023-11-14T22:13:20.123Z");
    hq_rfc3339_ms(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    hq_rfc3339_ms(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    hq_rfc3339(1709251199999LL, out);
    assert_string_equal(out, "2024-02-29T23:59:59Z");
}

static void test_parse_good(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ms; int frac; } good[] = {
        { "2026-04-12T15:32:11Z", 1776007931000LL, 0 },
        { "2024-02-29T23:59:59.999Z", 1709251199999LL, 1 },
        { "2026-04-12T15:32:11+02:00", 1776000731000LL, 0 },
        { "1970-01-01T00:00:00Z", 0, 0 },
        { "2000-03-01T00:00:00-05:30", 951888600000LL, 0 },
        { "1969-12-31T23:59:59.5Z", -500, 1 },
        { "9999-12-31T23:59:59Z", 253402300799000LL, 0 },
        { "2026-04-12t15:32:11z", 1776007931000LL, 0 },
        { "2026-04-12T15:32:11.123456789Z", 1776007931123LL, 1 },
        { "2026-04-12T15:32:11.1Z", 1776007931100LL, 1 },
        { "2000-02-29T00:00:00Z", 951782400000LL, 0 },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = 42;
        int frac = -1;
        if (hq_parse_rfc3339(good[i].s, &ms, &frac) != 0) fail_msg("rejected %s", good[i].s);
        if (ms != good[i].ms) fail_msg("%s: got %lld want %lld", good[i].s, (long long)ms, (long long)good[i].ms);
        assert_int_equal(frac, good[i].frac);
    }
}

static void test_parse_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "2026-04-12", "2026-04-12T15:32:11", "2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-04-00T00:00:00Z", "2026-04-12T24:00:00Z", "2026-04-12T23:60:00Z",
        "2026-04-12T23:59:60Z", "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-04-12 15:32:11Z",
        "2026-04-12T15:32:11.Z", "2026-04-12T15:32:11Z ", " 2026-04-12T15:32:11Z", "2026-4-12T15:32:11Z",
        "2026-04-12T15:32:11+0200", "2026-04-12T15:32:11+24:00", "2026-04-12T15:32:11+02:60",
        "2026-04-12T15:32:11UTC", "+2026-04-12T15:32:11Z", "2026-04-12T15:32:11ZZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (hq_parse_rfc3339(bad[i], &ms, NULL) == 0) fail_msg("accepted '%s'", bad[i]);
    }
    int64_t ms;
    assert_int_equal(hq_parse_rfc3339(NULL, &ms, NULL), -1);
}

static void test_roundtrip(void **state)
{
    (void)state;
    char out[32];
    for (int64_t t = -86400000LL * 800; t < 86400000LL * 365 * 400; t += 86400000LL * 7 + 3601234) {
        int64_t back;
        hq_rfc3339_ms(t, out);
        assert_int_equal(hq_parse_rfc3339(out, &back, NULL), 0);
        assert_int_equal(back, t);
    }
}

static void test_duration(void **state)
{
    (void)state;
    static const struct { const char *s; int64_t ms; } good[] = {
        { "500ms", 500 }, { "10s", 10000 }, { "1m", 60000 }, { "2h", 7200000 }, { "7d", 604800000 },
        { "30", 30000 }, { "0", 0 }, { "0ms", 0 }, { "9223372036854775807ms", INT64_MAX },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t ms = -1;
        if (hq_parse_duration(good[i].s, &ms) != 0) fail_msg("rejected %s", good[i].s);
        assert_int_equal(ms, good[i].ms);
    }
    static const char *bad[] = { "", "-1s", "+1s", " 1s", "1s ", "1 s", "1.5s", "s", "1x", "1sec", "1S",
                                 "9223372036854775808ms", "9223372036854775807s", "106751991167301d", "1m5s" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        if (hq_parse_duration(bad[i], &ms) == 0) fail_msg("accepted '%s'", bad[i]);
    }
    char out[32];
    hq_format_duration(60000, out, sizeof out);
    assert_string_equal(out, "1m");
    hq_format_duration(10000, out, sizeof out);
    assert_string_equal(out, "10s");
    hq_format_duration(500, out, sizeof out);
    assert_string_equal(out, "500ms");
    hq_format_duration(86400000, out, sizeof out);
    assert_string_equal(out, "1d");
    hq_format_duration(65000, out, sizeof out);
    assert_string_equal(out, "65s");
    hq_format_duration(0, out, sizeof out);
    assert_string_equal(out, "0s");
}

static void test_schedule(void **state)
{
    (void)state;
    hq_schedule s;
    assert_int_equal(hq_parse_schedule("1m,5m,30m,2h,6h", &s), 0);
    assert_int_equal(s.n, 5);
    assert_int_equal(s.delay_ms[0], 60000);
    assert_int_equal(s.delay_ms[4], 6 * 3600000);
    char out[256];
    hq_format_schedule(&s, out, sizeof out);
    assert_string_equal(out, "1m,5m,30m,2h,6h");
    assert_int_equal(hq_parse_schedule("90s,1500ms", &s), 0);
    hq_format_schedule(&s, out, sizeof out);
    assert_string_equal(out, "90s,1500ms");
    static const char *bad[] = { "", ",", "1m,", ",1m", "1m,,2m", "0s", "1m,0", "1m, 5m", "x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s.n = 77;
        if (hq_parse_schedule(bad[i], &s) == 0) fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(s.n, 77);
    }
    char many[256] = "";
    for (int i = 0; i < HQ_SCHEDULE_MAX; i++) strcat(many, i ? ",1s" : "1s");
    assert_int_equal(hq_parse_schedule(many, &s), 0);
    assert_int_equal(s.n, HQ_SCHEDULE_MAX);
    strcat(many, ",1s");
    assert_int_equal(hq_parse_schedule(many, &s), -1);
}

static void test_parse_ll(void **state)
{
    (void)state;
    long long v;
    assert_int_equal(hq_parse_ll("123", &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(hq_parse_ll("-5", &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(hq_parse_ll("9223372036854775807", &v), 0);
    assert_int_equal(hq_parse_ll("9223372036854775808", &v), -1);
    assert_int_equal(hq_parse_ll("", &v), -1);
    assert_int_equal(hq_parse_ll("-", &v), -1);
    assert_int_equal(hq_parse_ll("+1", &v), -1);
    assert_int_equal(hq_parse_ll(" 1", &v), -1);
    assert_int_equal(hq_parse_ll("1 ", &v), -1);
    assert_int_equal(hq_parse_ll("1e3", &v), -1);
    assert_int_equal(hq_parse_ll("0x10", &v), -1);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = hq_now_ms();
    assert_true(now > 1700000000000LL);
    uint64_t a = hq_mono_ns(), b = hq_mono_ns();
    assert_true(b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),     cmocka_unit_test(test_parse_good), cmocka_unit_test(test_parse_bad),
        cmocka_unit_test(test_roundtrip),  cmocka_unit_test(test_duration),   cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_parse_ll),   cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
