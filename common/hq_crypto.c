/* hq_crypto: AES-256-GCM sealing of secrets at rest (see hq_crypto.h for the
 * format). OpenSSL EVP does the cipher; this file does the envelope: key id,
 * a fresh random 12-byte nonce per value, the 16-byte tag, base64, and the
 * additional authenticated data "hookq:v1" NUL kid NUL aad_a NUL aad_b, which
 * ties a value to its key id, endpoint and field. Keys live only in the
 * keyring struct and are wiped on free; no function here logs or returns key
 * material or plaintext in an error. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "hq_alloc.h"
#include "hq_crypto.h"
#include "hq_sign.h"

#define NONCE_LEN 12
#define TAG_LEN 16
#define KEY_LEN 32
#define SEALED_MAX (64 * 1024)     /* longest sealed text accepted */

struct hq_keyring {
    int n;                                   /* 1..HQ_CRYPTO_KEYS_MAX; [0] seals */
    char kid[HQ_CRYPTO_KEYS_MAX][HQ_CRYPTO_KID_MAX + 1];
    unsigned char key[HQ_CRYPTO_KEYS_MAX][KEY_LEN];
};

static int kid_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
}

/* Length of the key id at the start of s (at most max bytes looked at), or 0
 * if s does not start with a valid one. */
static size_t kid_len(const char *s, size_t max)
{
    size_t i = 0;
    while (i < max && s[i] && kid_char(s[i])) i++;
    return i >= 1 && i <= HQ_CRYPTO_KID_MAX ? i : 0;
}

int hq_keyring_parse(const char *spec, hq_keyring **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty; expected <kid>:<base64 of 32 bytes>[,<kid>:<base64>...]");
        return -1;
    }
    hq_keyring *kr = hq_calloc(1, sizeof *kr);
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int idx = kr->n + 1;
        if (kr->n == HQ_CRYPTO_KEYS_MAX) {
            snprintf(err, errlen, "more than %d keys", HQ_CRYPTO_KEYS_MAX);
            goto bad;
        }
        size_t kl = kid_len(p, len);
        if (kl == 0 || kl >= len || p[kl] != ':') {
            snprintf(err, errlen,
                     "key %d: expected <kid>:<base64 of 32 bytes> with a key id of 1-%d characters [A-Za-z0-9_.-]",
                     idx, HQ_CRYPTO_KID_MAX);
            goto bad;
        }
        memcpy(kr->kid[kr->n], p, kl);
        kr->kid[kr->n][kl] = '\0';
        for (int i = 0; i < kr->n; i++)
            if (strcmp(kr->kid[i], kr->kid[kr->n]) == 0) {
                snprintf(err, errlen, "key id '%s' appears twice", kr->kid[i]);
                goto bad;
            }
        const char *b64 = p + kl + 1;
        size_t bl = len - kl - 1;
        unsigned char raw[48];
        long k = bl == 44 ? hq_base64_decode(b64, bl, raw) : -1;
        if (k != KEY_LEN) {
            OPENSSL_cleanse(raw, sizeof raw);
            snprintf(err, errlen, "key '%s': the key must be the base64 of exactly 32 bytes (44 characters)",
                     kr->kid[kr->n]);
            goto bad;
        }
        memcpy(kr->key[kr->n], raw, KEY_LEN);
        OPENSSL_cleanse(raw, sizeof raw);
        kr->n++;
        if (!end) break;
        p = end + 1;
    }
    *out = kr;
    return 0;
bad:
    hq_keyring_free(kr);
    return -1;
}

void hq_keyring_free(hq_keyring *kr)
{
    if (!kr) return;
    OPENSSL_cleanse(kr, sizeof *kr);
    hq_free(kr);
}

const char *hq_keyring_current(const hq_keyring *kr)
{
    return kr->kid[0];
}

int hq_crypto_is_sealed(const char *value)
{
    return value && strncmp(value, HQ_CRYPTO_PREFIX, sizeof HQ_CRYPTO_PREFIX - 1) == 0;
}

/* Feeds the AAD into ctx (encrypt or decrypt: both use EVP_CipherUpdate). */
static int feed_aad(EVP_CIPHER_CTX *ctx, const char *kid, const char *a, const char *b)
{
    const char *parts[4] = { "hookq:v1", kid, a ? a : "", b ? b : "" };
    int outl;
    for (int i = 0; i < 4; i++) {
        /* the NUL terminator separates the parts unambiguously */
        if (EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)parts[i], (int)strlen(parts[i]) + 1) != 1)
            return -1;
    }
    return 0;
}

char *hq_crypto_seal(const hq_keyring *kr, const void *plain, size_t len, const char *aad_a, const char *aad_b)
{
    if (len > SEALED_MAX) abort();   /* callers bound their values far below this */
    size_t rawlen = NONCE_LEN + len + TAG_LEN;
    unsigned char *raw = hq_malloc(rawlen);
    hq_random_bytes(raw, NONCE_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, kr->key[0], raw) != 1 || feed_aad(ctx, kr->kid[0], aad_a, aad_b) != 0 ||
        EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &outl, plain, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + outl, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len) != 1) {
        fprintf(stderr, "hq_crypto_seal: OpenSSL AES-256-GCM failed\n");
        abort();
    }
    EVP_CIPHER_CTX_free(ctx);
    size_t pre = strlen(HQ_CRYPTO_PREFIX) + strlen(kr->kid[0]) + 1;
    char *out = hq_malloc(pre + 4 * ((rawlen + 2) / 3) + 1);
    snprintf(out, pre + 1, "%s%s:", HQ_CRYPTO_PREFIX, kr->kid[0]);
    hq_base64_encode(raw, rawlen, out + pre);
    OPENSSL_cleanse(raw, rawlen);
    hq_free(raw);
    return out;
}

int hq_crypto_open(const hq_keyring *kr, const char *sealed, const char *aad_a, const char *aad_b, char **plain,
                   size_t *plen, char *err, size_t errlen)
{
    *plain = NULL;
    if (plen) *plen = 0;
    if (!hq_crypto_is_sealed(sealed)) {
        snprintf(err, errlen, "not a sealed value");
        return HQ_CRYPTO_EFORMAT;
    }
    const char *p = sealed + strlen(HQ_CRYPTO_PREFIX);
    size_t total = strlen(p);
    size_t kl = kid_len(p, total);
    if (kl == 0 || p[kl] != ':' || total > SEALED_MAX) {
        snprintf(err, errlen, "malformed sealed value");
        return HQ_CRYPTO_EFORMAT;
    }
    char kid[HQ_CRYPTO_KID_MAX + 1];
    memcpy(kid, p, kl);
    kid[kl] = '\0';
    int ki = -1;
    for (int i = 0; kr && i < kr->n; i++)
        if (strcmp(kr->kid[i], kid) == 0) ki = i;
    if (ki < 0) {
        snprintf(err, errlen, "sealed with key id '%s', which HOOKQ_MASTER_KEY does not hold", kid);
        return HQ_CRYPTO_EKID;
    }
    const char *b64 = p + kl + 1;
    size_t bl = total - kl - 1;
    unsigned char *raw = hq_malloc(3 * (bl / 4) + 3);
    long rawlen = hq_base64_decode(b64, bl, raw);
    if (rawlen < NONCE_LEN + TAG_LEN) {
        hq_free(raw);
        snprintf(err, errlen, "malformed sealed value");
        return HQ_CRYPTO_EFORMAT;
    }
    size_t clen = (size_t)rawlen - NONCE_LEN - TAG_LEN;
    char *out = hq_malloc(clen + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, fin = 0, ok = 0;
    if (ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1 &&
        EVP_DecryptInit_ex(ctx, NULL, NULL, kr->key[ki], raw) == 1 && feed_aad(ctx, kid, aad_a, aad_b) == 0 &&
        EVP_DecryptUpdate(ctx, (unsigned char *)out, &outl, raw + NONCE_LEN, (int)clen) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + clen) == 1 &&
        EVP_DecryptFinal_ex(ctx, (unsigned char *)out + outl, &fin) == 1)
        ok = 1;
    EVP_CIPHER_CTX_free(ctx);
    hq_free(raw);
    if (!ok) {
        OPENSSL_cleanse(out, clen + 1);
        hq_free(out);
        snprintf(err, errlen, "sealed value (key id '%s') fails authentication: tampered or moved", kid);
        return HQ_CRYPTO_EAUTH;
    }
    out[clen] = '\0';
    *plain = out;
    if (plen) *plen = clen;
    return 0;
}
