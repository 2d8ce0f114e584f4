/* Unit tests for hq_match: event type and pattern rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "hq_match.h"

static void test_types(void **state)
{
    (void)state;
    assert_true(hq_type_valid("lead.created"));
    assert_true(hq_type_valid("a"));
    assert_true(hq_type_valid("Lead_1.stage.changed_2"));
    assert_false(hq_type_valid(""));
    assert_false(hq_type_valid(NULL));
    assert_false(hq_type_valid(".a"));
    assert_false(hq_type_valid("a."));
    assert_false(hq_type_valid("a..b"));
    assert_false(hq_type_valid("a-b"));
    assert_false(hq_type_valid("a b"));
    assert_false(hq_type_valid("a.*"));
    assert_false(hq_type_valid("*"));
    assert_false(hq_type_valid("caf\xc3\xa9"));
    char t[200];
    memset(t, 'x', 128);
    t[128] = '\0';
    assert_true(hq_type_valid(t));
    t[128] = 'x';
    t[129] = '\0';
    assert_false(hq_type_valid(t));
}

static void test_patterns(void **state)
{
    (void)state;
    assert_true(hq_pattern_valid("*"));
    assert_true(hq_pattern_valid("lead.*"));
    assert_true(hq_pattern_valid("lead.stage.*"));
    assert_true(hq_pattern_valid("lead.created"));
    assert_false(hq_pattern_valid(""));
    assert_false(hq_pattern_valid(".*"));
    assert_false(hq_pattern_valid("lead*"));
    assert_false(hq_pattern_valid("*.created"));
    assert_false(hq_pattern_valid("lead.*.x"));
    assert_false(hq_pattern_valid("lead..*"));
    assert_false(hq_pattern_valid("**"));
    assert_false(hq_pattern_valid("lead.**"));
}

static void test_match(void **state)
{
    (void)state;
    assert_true(hq_pattern_match("*", "lead.created"));
    assert_true(hq_pattern_match("lead.*", "lead.created"));
    assert_true(hq_pattern_match("lead.*", "lead.stage.changed"));
    assert_false(hq_pattern_match("lead.*", "lead"));
    assert_false(hq_pattern_match("lead.*", "leads.x"));
    assert_false(hq_pattern_match("lead.*", "xlead.created"));
    assert_true(hq_pattern_match("lead.created", "lead.created"));
    assert_false(hq_pattern_match("lead.created", "lead.created.x"));
    assert_false(hq_pattern_match("lead.created", "lead"));
    assert_true(hq_pattern_match("lead.stage.*", "lead.stage.changed"));
    assert_false(hq_pattern_match("lead.stage.*", "lead.created"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
