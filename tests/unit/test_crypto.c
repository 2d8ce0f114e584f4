/* Unit tests for hq_crypto (secrets at rest): keyring parsing and its error
 * messages (never echoing key material), AES-256-GCM seal/open round trips,
 * fresh nonces, tamper detection, wrong AAD, unknown key ids, rotation; and
 * the endpoint's stored form with a keyring (no plaintext in the document,
 * values bound to endpoint and field, partial load when a key is missing). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "hq_alloc.h"
#include "hq_crypto.h"
#include "hq_endpoint.h"
#include "hq_json.h"

/* base64 of 32 bytes 0x00..0x1f, and of 32 bytes 0x20..0x3f */
#define K1 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define K2 "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static hq_keyring *ring(const char *spec)
{
    hq_keyring *kr = NULL;
    char err[256];
    if (hq_keyring_parse(spec, &kr, err, sizeof err) != 0) fail_msg("keyring %s: %s", spec, err);
    return kr;
}

static void test_keyring_parse(void **state)
{
    (void)state;
    hq_keyring *kr = ring("k1:" K1);
    assert_string_equal(hq_keyring_current(kr), "k1");
    hq_keyring_free(kr);
    kr = ring("2026-01_b:" K2 ",k1:" K1);
    assert_string_equal(hq_keyring_current(kr), "2026-01_b");
    hq_keyring_free(kr);
    hq_keyring_free(NULL);

    static const char *bad[] = {
        "",
        "k1",
        "k1:",
        ":" K1,
        "k 1:" K1,
        "k1:" K1 ",",
        "k1:" K1 ",k1:" K2,                                   /* duplicate id */
        "k1:AAECAwQFBgcICQoLDA0ODw==",                        /* 16 bytes */
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",     /* no padding */
        "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x",
        "k1:!AECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "abcdefghijabcdefghijabcdefghijabc:" K1,              /* 33-char id */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        kr = (hq_keyring *)1;
        assert_int_equal(hq_keyring_parse(bad[i], &kr, err, sizeof err), -1);
        assert_null(kr);
        assert_true(err[0] != '\0');
        /* the message never repeats key material */
        assert_null(strstr(err, "AAECAwQF"));
        assert_null(strstr(err, "ICEiIyQl"));
    }
    char err[256];
    assert_int_equal(hq_keyring_parse(NULL, &kr, err, sizeof err), -1);
}

static void test_seal_open(void **state)
{
    (void)state;
    hq_keyring *kr = ring("k1:" K1);
    const char *vals[] = { "whsec_abc", "", "p\xc3\xa9:ss word", "x" };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        char *s = hq_crypto_seal(kr, vals[i], strlen(vals[i]), "ep_1", "secret");
        assert_true(hq_crypto_is_sealed(s));
        assert_int_equal(strncmp(s, "enc:v1:k1:", 10), 0);
        if (strlen(vals[i]) >= 8) assert_null(strstr(s, vals[i]));   /* short ones may occur in base64 by chance */
        char *p = NULL, err[200];
        size_t n = 99;
        assert_int_equal(hq_crypto_open(kr, s, "ep_1", "secret", &p, &n, err, sizeof err), 0);
        assert_int_equal(n, strlen(vals[i]));
        assert_string_equal(p, vals[i]);
        hq_free(p);
        hq_free(s);
    }
    /* embedded NUL bytes survive (length-based) */
    char *s = hq_crypto_seal(kr, "a\0b", 3, "ep_1", "secret");
    char *p;
    size_t n;
    char err[200];
    assert_int_equal(hq_crypto_open(kr, s, "ep_1", "secret", &p, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);
    hq_free(p);
    hq_free(s);
    /* a fresh nonce per value: the same plaintext seals differently */
    char *a = hq_crypto_seal(kr, "same", 4, "ep_1", "secret");
    char *b = hq_crypto_seal(kr, "same", 4, "ep_1", "secret");
    assert_string_not_equal(a, b);
    assert_memory_not_equal(a + 10, b + 10, 16);  /* the nonce is the first 16 base64 chars */
    hq_free(a);
    hq_free(b);
    assert_false(hq_crypto_is_sealed("whsec_x"));
    assert_false(hq_crypto_is_sealed(NULL));
    hq_keyring_free(kr);
}

static void test_tamper(void **state)
{
    (void)state;
    hq_keyring *kr = ring("k1:" K1);
    char *s = hq_crypto_seal(kr, "the-password-123", 16, "ep_1", "auth.password");
    size_t len = strlen(s);
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    /* change every base64 character of nonce, ciphertext and tag in turn */
    for (size_t i = 10; i < len; i++) {
        if (s[i] == '=') continue;
        char *t = hq_strdup(s);
        const char *pos = strchr(alpha, t[i]);
        t[i] = alpha[(pos - alpha + 1) % 64];
        char *p = (char *)1, err[200];
        int rc = hq_crypto_open(kr, t, "ep_1", "auth.password", &p, NULL, err, sizeof err);
        assert_true(rc == HQ_CRYPTO_EAUTH || rc == HQ_CRYPTO_EFORMAT);
        assert_null(p);
        assert_null(strstr(err, "the-password"));
        hq_free(t);
    }
    /* truncations and garbage */
    char *p, err[200];
    for (size_t cut = 10; cut < len; cut += 3) {
        char *t = hq_strndup(s, cut);
        assert_true(hq_crypto_open(kr, t, "ep_1", "auth.password", &p, NULL, err, sizeof err) < 0);
        hq_free(t);
    }
    assert_int_equal(hq_crypto_open(kr, "enc:v1:k1:", "a", "b", &p, NULL, err, sizeof err), HQ_CRYPTO_EFORMAT);
    assert_int_equal(hq_crypto_open(kr, "enc:v1:k1:AAAA", "a", "b", &p, NULL, err, sizeof err), HQ_CRYPTO_EFORMAT);
    assert_int_equal(hq_crypto_open(kr, "enc:v1:", "a", "b", &p, NULL, err, sizeof err), HQ_CRYPTO_EFORMAT);
    assert_int_equal(hq_crypto_open(kr, "enc:v1:k1", "a", "b", &p, NULL, err, sizeof err), HQ_CRYPTO_EFORMAT);
    assert_int_equal(hq_crypto_open(kr, "plain", "a", "b", &p, NULL, err, sizeof err), HQ_CRYPTO_EFORMAT);
    /* wrong AAD: another endpoint, another field */
    assert_int_equal(hq_crypto_open(kr, s, "ep_2", "auth.password", &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    assert_int_equal(hq_crypto_open(kr, s, "ep_1", "secret", &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    assert_int_equal(hq_crypto_open(kr, s, "ep_1auth", ".password", &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    assert_int_equal(hq_crypto_open(kr, s, NULL, NULL, &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    hq_free(s);
    hq_keyring_free(kr);
}

static void test_kid_and_rotation(void **state)
{
    (void)state;
    hq_keyring *old = ring("k1:" K1);
    hq_keyring *rot = ring("k2:" K2 ",k1:" K1);
    hq_keyring *other = ring("k2:" K2);
    hq_keyring *liar = ring("k1:" K2);  /* same id, different key */
    char *s1 = hq_crypto_seal(old, "v-one", 5, "ep", "secret");
    char *s2 = hq_crypto_seal(rot, "v-two", 5, "ep", "secret");
    assert_int_equal(strncmp(s2, "enc:v1:k2:", 10), 0);
    char *p, err[200];
    /* every key of the ring opens; the first seals */
    assert_int_equal(hq_crypto_open(rot, s1, "ep", "secret", &p, NULL, err, sizeof err), 0);
    assert_string_equal(p, "v-one");
    hq_free(p);
    assert_int_equal(hq_crypto_open(rot, s2, "ep", "secret", &p, NULL, err, sizeof err), 0);
    assert_string_equal(p, "v-two");
    hq_free(p);
    /* unknown kid: named in the message */
    assert_int_equal(hq_crypto_open(other, s1, "ep", "secret", &p, NULL, err, sizeof err), HQ_CRYPTO_EKID);
    assert_non_null(strstr(err, "'k1'"));
    assert_int_equal(hq_crypto_open(NULL, s1, "ep", "secret", &p, NULL, err, sizeof err), HQ_CRYPTO_EKID);
    /* a different key under the same id fails authentication */
    assert_int_equal(hq_crypto_open(liar, s1, "ep", "secret", &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    /* relabelling the kid of a value does not open it with the other key */
    char *t = hq_strdup(s2);
    t[8] = '1';  /* enc:v1:k2: -> enc:v1:k1: */
    assert_int_equal(hq_crypto_open(rot, t, "ep", "secret", &p, NULL, err, sizeof err), HQ_CRYPTO_EAUTH);
    hq_free(t);
    hq_free(s1);
    hq_free(s2);
    hq_keyring_free(old);
    hq_keyring_free(rot);
    hq_keyring_free(other);
    hq_keyring_free(liar);
}

static void make_ep(hq_endpoint *e, const char *id)
{
    static const hq_endpoint_defaults defs = { "hookq", "X-Webhook-Signature", "sha256=hex", 0 };
    const char *txt = "{\"org_id\":\"o1\",\"url\":\"https://x.example/h\",\"events\":[\"*\"],"
                      "\"auth\":{\"type\":\"basic\",\"username\":\"alice\",\"password\":\"hunter2-pass\"},"
                      "\"secret\":\"my-secret-0123456789\"}";
    json_error_t je;
    json_t *in = hq_json_parse(txt, strlen(txt), &je);
    char f[160], m[300];
    assert_int_equal(hq_endpoint_from_api(in, NULL, &defs, e, f, sizeof f, m, sizeof m), 0);
    json_decref(in);
    snprintf(e->id, sizeof e->id, "%s", id);
    e->old_secret = hq_strdup("whsec_oldoldoldold");
    e->old_secret_until_ms = 1760000000000;
}

static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *out = hq_malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return out;
}

/* The value of "key":"..." in doc (a copy). */
static char *json_str_of(const char *doc, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *a = strstr(doc, pat);
    assert_non_null(a);
    a += strlen(pat);
    return hq_strndup(a, strcspn(a, "\""));
}

static void test_endpoint_sealed_storage(void **state)
{
    (void)state;
    hq_keyring *kr = ring("k1:" K1);
    hq_endpoint e, back;
    make_ep(&e, "ep_0123456789abcdef01234001");
    char *doc = hq_endpoint_to_storage(&e, kr);
    assert_null(strstr(doc, "hunter2"));
    assert_null(strstr(doc, "my-secret"));
    assert_null(strstr(doc, "oldoldold"));
    assert_non_null(strstr(doc, "\"sealed\":true"));
    assert_non_null(strstr(doc, "\"username\":\"alice\""));
    assert_non_null(strstr(doc, "\"secret\":\"enc:v1:k1:"));

    char err[300];
    assert_int_equal(hq_endpoint_from_storage(doc, strlen(doc), kr, &back, err, sizeof err), 0);
    assert_string_equal(back.secret, "my-secret-0123456789");
    assert_string_equal(back.old_secret, "whsec_oldoldoldold");
    assert_string_equal(back.auth_password, "hunter2-pass");
    assert_string_equal(back.auth_username, "alice");
    hq_endpoint_free(&back);

    /* no keyring, or a keyring without k1: loads without the secrets */
    hq_keyring *other = ring("k9:" K2);
    const hq_keyring *rings[] = { NULL, other };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(hq_endpoint_from_storage(doc, strlen(doc), rings[i], &back, err, sizeof err),
                         HQ_EP_ESEALED);
        assert_null(back.secret);
        assert_null(back.old_secret);
        assert_null(back.auth_password);
        assert_string_equal(back.url, "https://x.example/h");
        assert_string_equal(back.auth_username, "alice");
        assert_non_null(strstr(err, "'k1'"));
        assert_non_null(strstr(err, "ep_0123456789abcdef01234001"));
        hq_endpoint_free(&back);
    }

    /* values moved between fields, or to another endpoint, do not open */
    char *sec = json_str_of(doc, "secret");
    char *old = json_str_of(doc, "old_secret");
    char *sw1 = replace(doc, sec, "@@");
    char *sw2 = replace(sw1, old, sec);
    char *swapped = replace(sw2, "@@", old);
    assert_int_equal(hq_endpoint_from_storage(swapped, strlen(swapped), kr, &back, err, sizeof err), HQ_EP_ESEALED);
    assert_null(back.secret);
    hq_endpoint_free(&back);
    hq_endpoint e2;
    make_ep(&e2, "ep_0123456789abcdef01234002");
    char *doc2 = hq_endpoint_to_storage(&e2, kr);
    char *sec2 = json_str_of(doc2, "secret");
    char *moved = replace(doc2, sec2, sec);
    assert_int_equal(hq_endpoint_from_storage(moved, strlen(moved), kr, &back, err, sizeof err), HQ_EP_ESEALED);
    hq_endpoint_free(&back);
    /* a clear value inside a sealed document is corrupt */
    char *clear = replace(doc, sec, "my-secret-0123456789");
    assert_int_equal(hq_endpoint_from_storage(clear, strlen(clear), kr, &back, err, sizeof err), -1);

    /* a document stored in clear still loads with a keyring (migration) */
    char *plain = hq_endpoint_to_storage(&e, NULL);
    assert_non_null(strstr(plain, "hunter2-pass"));
    assert_null(strstr(plain, "\"sealed\""));
    assert_int_equal(hq_endpoint_from_storage(plain, strlen(plain), kr, &back, err, sizeof err), 0);
    assert_string_equal(back.secret, "my-secret-0123456789");
    hq_endpoint_free(&back);
    /* a clear secret that looks sealed stays a clear secret */
    hq_free(e.secret);
    e.secret = hq_strdup("enc:v1:k1:notreallysealed");
    hq_free(plain);
    plain = hq_endpoint_to_storage(&e, NULL);
    assert_int_equal(hq_endpoint_from_storage(plain, strlen(plain), kr, &back, err, sizeof err), 0);
    assert_string_equal(back.secret, "enc:v1:k1:notreallysealed");
    hq_endpoint_free(&back);

    hq_free(plain);
    hq_free(clear);
    hq_free(moved);
    hq_free(sec2);
    hq_free(doc2);
    hq_endpoint_free(&e2);
    hq_free(swapped);
    hq_free(sw2);
    hq_free(sw1);
    hq_free(old);
    hq_free(sec);
    hq_free(doc);
    hq_endpoint_free(&e);
    hq_keyring_free(other);
    hq_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_parse),
        cmocka_unit_test(test_seal_open),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_kid_and_rotation),
        cmocka_unit_test(test_endpoint_sealed_storage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
