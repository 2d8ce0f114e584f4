/* Unit tests for hq_log: captures stderr and checks the JSON and text lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "hq_log.h"

static FILE *tmp;
static int saved;

static void begin(void)
{
    tmp = tmpfile();
    saved = dup(2);
    dup2(fileno(tmp), 2);
}

static void end(char *buf, size_t n)
{
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    size_t got = fread(buf, 1, n - 1, tmp);
    buf[got] = '\0';
    fclose(tmp);
}

static void test_json_lines(void **state)
{
    (void)state;
    char out[4096];
    hq_log_setup("worker", 1, HQ_LOG_INFO);
    begin();
    hq_debug("hidden");
    hq_info("delivered", "endpoint", "ep_1", "note", "quote\" back\\ nl\n ctl\x01 \xc3\xa9");
    hq_error("boom");
    end(out, sizeof out);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t err;
    json_t *v = json_loads(out, 0, &err);
    if (!v) fail_msg("not JSON: %s (%s)", out, err.text);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "info");
    assert_string_equal(json_string_value(json_object_get(v, "component")), "worker");
    assert_string_equal(json_string_value(json_object_get(v, "msg")), "delivered");
    assert_string_equal(json_string_value(json_object_get(v, "endpoint")), "ep_1");
    assert_string_equal(json_string_value(json_object_get(v, "note")), "quote\" back\\ nl\n ctl\x01 \xc3\xa9");
    assert_null(json_object_get(v, "src"));
    const char *ts = json_string_value(json_object_get(v, "ts"));
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[23], 'Z');
    assert_memory_equal(out, "{\"ts\":", 6);
    json_decref(v);
    char *line2 = nl + 1;
    assert_null(strstr(line2, "hidden"));
    v = json_loads(line2, JSON_DISABLE_EOF_CHECK, &err);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "level")), "error");
    assert_non_null(strstr(json_string_value(json_object_get(v, "src")), "test_log.c:"));
    json_decref(v);
}

static void test_text_lines(void **state)
{
    (void)state;
    char out[4096];
    hq_log_setup("producer", 0, HQ_LOG_DEBUG);
    begin();
    hq_debug("started", "port", "8080", "name", "a b");
    end(out, sizeof out);
    assert_int_equal(out[24], ' ');
    assert_string_equal(out + 25, "debug producer: started port=8080 name=\"a b\"\n");
    assert_true(hq_log_enabled(HQ_LOG_DEBUG));
    hq_log_setup("producer", 0, HQ_LOG_WARN);
    assert_false(hq_log_enabled(HQ_LOG_INFO));
    assert_true(hq_log_enabled(HQ_LOG_ERROR));
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    char out[1024];
    hq_log_setup("worker", 1, HQ_LOG_INFO);
    begin();
    hq_warn("bad", "body", "a\xff\xc3(\xed\xa0\x80z\xf0\x9f\x98\x80");
    end(out, sizeof out);
    json_error_t err;
    json_t *v = json_loads(out, 0, &err);
    if (!v) fail_msg("not JSON: %s (%s)", out, err.text);
    assert_string_equal(json_string_value(json_object_get(v, "body")),
                        "a\xef\xbf\xbd\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\xf0\x9f\x98\x80");
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_text_lines),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
