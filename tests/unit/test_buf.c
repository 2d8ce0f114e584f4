/* Unit tests for hq_buf and hq_alloc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "hq_alloc.h"
#include "hq_buf.h"

static void test_basic(void **state)
{
    (void)state;
    hq_buf b;
    hq_buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(hq_buf_puts(&b, "hello"), 0);
    assert_int_equal(hq_buf_putc(&b, ' '), 0);
    assert_int_equal(hq_buf_printf(&b, "%d-%s", 42, "x"), 0);
    assert_string_equal(b.data, "hello 42-x");
    assert_int_equal(b.len, 10);
    assert_int_equal(hq_buf_append(&b, "\0z", 2), 0);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "hello 42-x\0z", 13);
    hq_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    hq_buf_free(&b);
    assert_null(b.data);
}

static void test_growth_and_printf_long(void **state)
{
    (void)state;
    hq_buf b;
    hq_buf_init(&b, 0);
    char big[5000];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    for (int i = 0; i < 10; i++) assert_int_equal(hq_buf_printf(&b, "%s|", big), 0);
    assert_int_equal(b.len, 10 * 5000);
    assert_int_equal(b.data[4999], '|');
    assert_int_equal(b.data[b.len], '\0');
    hq_buf_free(&b);
}

static void test_cap(void **state)
{
    (void)state;
    hq_buf b;
    hq_buf_init(&b, 8);
    assert_int_equal(hq_buf_puts(&b, "12345"), 0);
    assert_int_equal(hq_buf_puts(&b, "6789"), HQ_ETOOBIG);
    assert_string_equal(b.data, "12345");
    assert_int_equal(hq_buf_printf(&b, "%s", "abcd"), HQ_ETOOBIG);
    assert_string_equal(b.data, "12345");
    assert_int_equal(hq_buf_puts(&b, "678"), 0);
    assert_int_equal(b.len, 8);
    assert_int_equal(hq_buf_putc(&b, 'x'), HQ_ETOOBIG);
    hq_buf_free(&b);
    assert_int_equal(b.max, 8);
    assert_int_equal(hq_buf_printf(&b, "%0300d", 1), HQ_ETOOBIG);
    assert_int_equal(b.len, 0);
    hq_buf_free(&b);
}

static void test_steal(void **state)
{
    (void)state;
    hq_buf b;
    hq_buf_init(&b, 0);
    size_t len = 99;
    char *s = hq_buf_steal(&b, &len);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    hq_free(s);
    hq_buf_puts(&b, "abc");
    s = hq_buf_steal(&b, &len);
    assert_string_equal(s, "abc");
    assert_int_equal(len, 3);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    hq_free(s);
}

static void test_i64_dec(void **state)
{
    (void)state;
    const long long v[] = { 0, 7, -1, 10, 1783036800123LL, LLONG_MAX, LLONG_MIN };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char want[32], got[32];
        snprintf(want, sizeof want, "%lld", v[i]);
        memset(got, 'x', sizeof got);
        char *e = hq_i64_dec(got, v[i]);
        assert_int_equal(e - got, (long)strlen(want));
        assert_int_equal(*e, 'x');   /* no terminator written */
        *e = '\0';
        assert_string_equal(got, want);
    }
}

static void test_alloc(void **state)
{
    (void)state;
    char *s = hq_strdup("abc");
    assert_string_equal(s, "abc");
    hq_free(s);
    s = hq_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    hq_free(s);
    s = hq_strndup("ab", 10);
    assert_string_equal(s, "ab");
    hq_free(s);
    int *p = hq_calloc(4, sizeof(int));
    assert_int_equal(p[3], 0);
    p = hq_realloc(p, 100 * sizeof(int));
    p[99] = 1;
    hq_free(p);
    hq_free(NULL);
    void *z = hq_malloc(0);
    assert_non_null(z);
    hq_free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic), cmocka_unit_test(test_growth_and_printf_long), cmocka_unit_test(test_cap),
        cmocka_unit_test(test_steal), cmocka_unit_test(test_alloc), cmocka_unit_test(test_i64_dec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
