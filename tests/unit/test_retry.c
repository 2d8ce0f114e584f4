/* Unit tests for hq_retry: jittered delays, Retry-After, combining. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "hq_retry.h"

static void test_delay(void **state)
{
    (void)state;
    hq_schedule s;
    assert_int_equal(hq_parse_schedule("1m,5m,30m", &s), 0);
    assert_int_equal(hq_retry_delay(&s, 1, 0.5), 60000);
    assert_int_equal(hq_retry_delay(&s, 1, 0.0), 54000);
    assert_true(hq_retry_delay(&s, 1, 0.9999999) <= 66000);
    assert_true(hq_retry_delay(&s, 1, 0.9999999) > 65990);
    assert_int_equal(hq_retry_delay(&s, 2, 0.5), 300000);
    assert_int_equal(hq_retry_delay(&s, 3, 0.25), 1710000);
    assert_int_equal(hq_retry_delay(&s, 4, 0.5), -1);
    assert_int_equal(hq_retry_delay(&s, 0, 0.5), 60000);
    assert_int_equal(hq_retry_delay(&s, 1, -3), 54000);
    assert_true(hq_retry_delay(&s, 1, 7) <= 66000);
}

static void test_retry_after(void **state)
{
    (void)state;
    const int64_t now = 1445412480000LL; /* Wed, 21 Oct 2015 07:28:00 GMT */
    assert_int_equal(hq_retry_after_parse("120", now), 120000);
    assert_int_equal(hq_retry_after_parse("0", now), 0);
    assert_int_equal(hq_retry_after_parse(" 5 ", now), 5000);
    assert_int_equal(hq_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now), 0);
    assert_int_equal(hq_retry_after_parse("Wed, 21 Oct 2015 07:29:30 GMT", now), 90000);
    assert_int_equal(hq_retry_after_parse("Thu, 22 Oct 2015 07:28:00 GMT", now), 86400000);
    assert_int_equal(hq_retry_after_parse("Tue, 20 Oct 2015 07:28:00 GMT", now), 0);
    assert_int_equal(hq_retry_after_parse("Thu, 29 Feb 2024 00:00:00 GMT", 0), 1709164800000LL);
    assert_int_equal(hq_retry_after_parse("", now), -1);
    assert_int_equal(hq_retry_after_parse(NULL, now), -1);
    assert_int_equal(hq_retry_after_parse("-5", now), -1);
    assert_int_equal(hq_retry_after_parse("1.5", now), -1);
    assert_int_equal(hq_retry_after_parse("5s", now), -1);
    assert_int_equal(hq_retry_after_parse("soon", now), -1);
    assert_int_equal(hq_retry_after_parse("Wed, 21 Oct 2015 07:28:00 UTC", now), -1);
    assert_int_equal(hq_retry_after_parse("Wed, 32 Oct 2015 07:28:00 GMT", now), -1);
    assert_int_equal(hq_retry_after_parse("Wed, 21 Foo 2015 07:28:00 GMT", now), -1);
    assert_int_equal(hq_retry_after_parse("Wed, 21 Oct 2015 24:28:00 GMT", now), -1);
    assert_int_equal(hq_retry_after_parse("Wed, 29 Feb 2015 07:28:00 GMT", now), -1);
    assert_int_equal(hq_retry_after_parse("Wednesday, 21-Oct-15 07:28:00 GMT", now), -1);
    assert_true(hq_retry_after_parse("99999999999999999999999", now) > 0);
}

static void test_combine(void **state)
{
    (void)state;
    hq_schedule s;
    assert_int_equal(hq_parse_schedule("1m,5m,30m", &s), 0);
    assert_int_equal(hq_retry_combine(&s, 60000, -1), 60000);
    assert_int_equal(hq_retry_combine(&s, 60000, 120000), 120000);
    assert_int_equal(hq_retry_combine(&s, 60000, 1000), 60000);
    assert_int_equal(hq_retry_combine(&s, 60000, 86400000), 1800000);
    assert_int_equal(hq_retry_combine(&s, 1900000, 86400000), 1900000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_delay),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_combine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
