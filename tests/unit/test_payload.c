/* Unit tests for hq_payload: the three body formats, byte for byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hq_payload.h"

static const char data[] = "{\"name\":\"Zo\\\"\xc3\xa9\",\"n\":1}";

static hq_event_view view(void)
{
    hq_event_view ev = {
        .id = "evt_0123456789abcdef01234567",
        .type = "lead.converted",
        .org_id = "ab12-cd34",
        .created_at = "2026-04-12T15:32:11Z",
        .ts_ms = 1776007931000LL,
        .data = data,
        .data_len = sizeof data - 1,
    };
    return ev;
}

static void test_hookq(void **state)
{
    (void)state;
    hq_event_view ev = view();
    hq_buf b;
    hq_buf_init(&b, 0);
    assert_int_equal(hq_payload_build(HQ_FMT_HOOKQ, &ev, &b), 0);
    assert_string_equal(b.data, "{\"id\":\"evt_0123456789abcdef01234567\",\"type\":\"lead.converted\","
                                "\"created_at\":\"2026-04-12T15:32:11Z\",\"org_id\":\"ab12-cd34\",\"data\":"
                                "{\"name\":\"Zo\\\"\xc3\xa9\",\"n\":1}}");
    hq_buf_free(&b);
}

static void test_event_payload(void **state)
{
    (void)state;
    hq_event_view ev = view();
    hq_buf b;
    hq_buf_init(&b, 0);
    assert_int_equal(hq_payload_build(HQ_FMT_EVENT_PAYLOAD, &ev, &b), 0);
    assert_string_equal(b.data, "{\"event\":\"lead.converted\",\"timestamp\":\"2026-04-12T15:32:11.000Z\","
                                "\"payload\":{\"name\":\"Zo\\\"\xc3\xa9\",\"n\":1}}");
    hq_buf_free(&b);
}

static void test_event_data(void **state)
{
    (void)state;
    hq_event_view ev = view();
    ev.created_at = "2026-04-12T15:32:11.250Z";
    ev.ts_ms += 250;
    hq_buf b;
    hq_buf_init(&b, 0);
    assert_int_equal(hq_payload_build(HQ_FMT_EVENT_DATA, &ev, &b), 0);
    assert_string_equal(b.data, "{\"event\":\"lead.converted\",\"timestamp\":\"2026-04-12T15:32:11.250Z\","
                                "\"data\":{\"name\":\"Zo\\\"\xc3\xa9\",\"n\":1}}");
    hq_buf_reset(&b);
    assert_int_equal(hq_payload_build(HQ_FMT_EVENT_PAYLOAD, &ev, &b), 0);
    assert_non_null(strstr(b.data, "\"timestamp\":\"2026-04-12T15:32:11.250Z\""));
    hq_buf_free(&b);
}

static void test_escaping_and_cap(void **state)
{
    (void)state;
    hq_event_view ev = view();
    ev.org_id = "o\"rg\n";
    hq_buf b;
    hq_buf_init(&b, 0);
    assert_int_equal(hq_payload_build(HQ_FMT_HOOKQ, &ev, &b), 0);
    assert_non_null(strstr(b.data, "\"org_id\":\"o\\\"rg\\n\""));
    size_t full = b.len;
    hq_buf_free(&b);
    hq_buf_init(&b, full - 1);
    hq_buf_puts(&b, "x");
    assert_int_equal(hq_payload_build(HQ_FMT_HOOKQ, &ev, &b), HQ_ETOOBIG);
    assert_string_equal(b.data, "x");
    hq_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hookq),
        cmocka_unit_test(test_event_payload),
        cmocka_unit_test(test_event_data),
        cmocka_unit_test(test_escaping_and_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
