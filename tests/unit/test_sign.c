/* Unit tests for hq_sign: Standard Webhooks spec vector, plain hex HMAC
 * (expected values computed with Python's hmac module), secrets, base64. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "hq_sign.h"

static void test_standard_webhooks_vector(void **state)
{
    (void)state;
    unsigned char key[HQ_SECRET_MAX];
    size_t kl = hq_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", key);
    assert_int_equal(kl, 24);
    const char *body = "{\"test\": 2432232314}";
    char sig[64];
    hq_sign_standard(key, kl, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body), sig);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_standard_raw_secret(void **state)
{
    (void)state;
    unsigned char key[HQ_SECRET_MAX];
    size_t kl = hq_secret_key("my-plain-secret-123", key);
    assert_int_equal(kl, 19);
    assert_memory_equal(key, "my-plain-secret-123", 19);
    char sig[64];
    hq_sign_standard(key, kl, "msg_1", 1700000000, "{}", 2, sig);
    assert_string_equal(sig, "v1,ewUMl175deGXK9iZfILHmb27I1m93CkGzQMIkzkpuE4=");
    /* whsec_ with invalid base64: the raw bytes are the key */
    kl = hq_secret_key("whsec_not*base64!", key);
    assert_int_equal(kl, 17);
    assert_memory_equal(key, "whsec_not*base64!", 17);
}

static void test_hmac_hex(void **state)
{
    (void)state;
    char hex[65];
    const char *secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"test\": 2432232314}";
    hq_hmac_sha256_hex(secret, strlen(secret), body, strlen(body), hex);
    assert_string_equal(hex, "80ec8a89ce3cd22133a1066caecb4d04fea7467657c8514d717ec42c38a5c94c");
    hq_hmac_sha256_hex("my-plain-secret-123", 19, "{\"id\":\"evt_1\"}", 14, hex);
    assert_string_equal(hex, "9a913a75572963685c52324808f444cb291a0a55917238b42e47563af9859e54");
    hq_hmac_sha256_hex("", 0, "", 0, hex);
    assert_string_equal(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_base64(void **state)
{
    (void)state;
    char out[64];
    unsigned char dec[64];
    assert_int_equal(hq_base64_encode("", 0, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(hq_base64_encode("f", 1, out), 4);
    assert_string_equal(out, "Zg==");
    assert_int_equal(hq_base64_encode("fo", 2, out), 4);
    assert_string_equal(out, "Zm8=");
    assert_int_equal(hq_base64_encode("foobar", 6, out), 8);
    assert_string_equal(out, "Zm9vYmFy");
    assert_int_equal(hq_base64_decode("Zg==", 4, dec), 1);
    assert_memory_equal(dec, "f", 1);
    assert_int_equal(hq_base64_decode("Zm8=", 4, dec), 2);
    assert_memory_equal(dec, "fo", 2);
    assert_int_equal(hq_base64_decode("Zm9vYmFy", 8, dec), 6);
    assert_memory_equal(dec, "foobar", 6);
    assert_int_equal(hq_base64_decode("", 0, dec), 0);
    /* strictness */
    assert_int_equal(hq_base64_decode("Zg=", 3, dec), -1);
    assert_int_equal(hq_base64_decode("Zg", 2, dec), -1);
    assert_int_equal(hq_base64_decode("Z===", 4, dec), -1);
    assert_int_equal(hq_base64_decode("=Zg=", 4, dec), -1);
    assert_int_equal(hq_base64_decode("Zh==", 4, dec), -1);   /* stray bits */
    assert_int_equal(hq_base64_decode("Zm 9", 4, dec), -1);
    assert_int_equal(hq_base64_decode("Zm9-", 4, dec), -1);
    assert_int_equal(hq_base64_decode("Zg==Zg==", 8, dec), -1);
}

static void test_secret_generate(void **state)
{
    (void)state;
    char a[64], b[64];
    hq_secret_generate(a);
    hq_secret_generate(b);
    assert_int_equal(strlen(a), 50);
    assert_memory_equal(a, "whsec_", 6);
    assert_string_not_equal(a, b);
    assert_true(hq_secret_valid(a));
    unsigned char key[HQ_SECRET_MAX];
    assert_int_equal(hq_secret_key(a, key), 32);
}

static void test_secret_valid(void **state)
{
    (void)state;
    assert_true(hq_secret_valid("0123456789abcdef"));
    assert_false(hq_secret_valid("0123456789abcde"));
    assert_true(hq_secret_valid("0123456789 abcdef"));   /* a space is printable ASCII */
    assert_false(hq_secret_valid("0123456789\tabcdef"));
    assert_false(hq_secret_valid("0123456789abcdef\x7f"));
    assert_false(hq_secret_valid("0123456789abcdef\xc3\xa9"));
    assert_false(hq_secret_valid(NULL));
    char big[300];
    memset(big, 'a', 256);
    big[256] = '\0';
    assert_true(hq_secret_valid(big));
    big[256] = 'a';
    big[257] = '\0';
    assert_false(hq_secret_valid(big));
}

static void test_random_and_ct(void **state)
{
    (void)state;
    char h1[33], h2[33];
    hq_random_hex(h1, 16);
    hq_random_hex(h2, 16);
    assert_int_equal(strlen(h1), 32);
    assert_string_not_equal(h1, h2);
    for (int i = 0; i < 32; i++) assert_true(strchr("0123456789abcdef", h1[i]) != NULL);
    assert_true(hq_ct_equal("abc", 3, "abc", 3));
    assert_false(hq_ct_equal("abc", 3, "abd", 3));
    assert_false(hq_ct_equal("abc", 3, "abcd", 4));
    assert_true(hq_ct_equal("", 0, "", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_webhooks_vector),
        cmocka_unit_test(test_standard_raw_secret),
        cmocka_unit_test(test_hmac_hex),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_secret_generate),
        cmocka_unit_test(test_secret_valid),
        cmocka_unit_test(test_random_and_ct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
