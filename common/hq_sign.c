/* hq_sign: HMAC-SHA256 signatures (plain hex and Standard Webhooks "v1,"
 * base64), webhook secrets, strict base64, the CSPRNG and constant-time
 * comparison, all on top of OpenSSL 3. The Standard Webhooks signature is
 * byte-compatible with the standardwebhooks/svix libraries. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "hq_alloc.h"
#include "hq_sign.h"

static void sign_fail(void)
{
    static const char m[] = "hookq: OpenSSL digest failed\n";
    ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
    (void)w;
    abort();
}

/* A digest algorithm and a context for it, fetched once per thread and
 * reused: OpenSSL 3's one-shot functions (HMAC(), SHA1()) look the
 * algorithm up and allocate a context on every call, which costs as much as
 * hashing a 1 KiB body. */
struct mdcache {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

/* c's context, (re)initialised for its algorithm `name`; aborts on failure. */
static EVP_MD_CTX *md_begin(struct mdcache *c, const char *name)
{
    if (!c->ctx) {
        c->md = EVP_MD_fetch(NULL, name, NULL);
        c->ctx = EVP_MD_CTX_new();
        if (!c->md || !c->ctx)
            sign_fail();
    }
    if (!EVP_DigestInit_ex2(c->ctx, c->md, NULL))
        sign_fail();
    return c->ctx;
}

/* HMAC-SHA256 (RFC 2104) over the concatenation of n parts. */
static void hmac_parts(const void *key, size_t keylen, const void *const *parts, const size_t *lens, int n,
                       unsigned char out[HQ_SHA256_LEN])
{
    static __thread struct mdcache sha256;
    unsigned char k0[64], pad[64], inner[HQ_SHA256_LEN];
    unsigned int ol = 0;
    EVP_MD_CTX *ctx;
    memset(k0, 0, sizeof k0);
    if (keylen > sizeof k0) {
        ctx = md_begin(&sha256, "SHA256");
        if (!EVP_DigestUpdate(ctx, key, keylen) || !EVP_DigestFinal_ex(ctx, k0, &ol))
            sign_fail();
    } else if (keylen) {
        memcpy(k0, key, keylen);
    }
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k0[i] ^ 0x36;
    ctx = md_begin(&sha256, "SHA256");
    if (!EVP_DigestUpdate(ctx, pad, sizeof pad))
        sign_fail();
    for (int i = 0; i < n; i++)
        if (lens[i] && !EVP_DigestUpdate(ctx, parts[i], lens[i]))
            sign_fail();
    if (!EVP_DigestFinal_ex(ctx, inner, &ol))
        sign_fail();
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k0[i] ^ 0x5c;
    ctx = md_begin(&sha256, "SHA256");
    if (!EVP_DigestUpdate(ctx, pad, sizeof pad) || !EVP_DigestUpdate(ctx, inner, sizeof inner) ||
        !EVP_DigestFinal_ex(ctx, out, &ol))
        sign_fail();
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(pad, sizeof pad);
}

void hq_sha1_parts(const void *const *parts, const size_t *lens, int n, unsigned char out[HQ_SHA1_LEN])
{
    static __thread struct mdcache sha1;
    EVP_MD_CTX *ctx = md_begin(&sha1, "SHA1");
    unsigned int ol = 0;
    for (int i = 0; i < n; i++)
        if (lens[i] && !EVP_DigestUpdate(ctx, parts[i], lens[i]))
            sign_fail();
    if (!EVP_DigestFinal_ex(ctx, out, &ol))
        sign_fail();
}

void hq_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[HQ_SHA256_LEN])
{
    const void *parts[1] = { msg };
    size_t lens[1] = { msglen };
    hmac_parts(key, keylen, parts, lens, 1, out);
}

void hq_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void hq_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char *out)
{
    unsigned char mac[HQ_SHA256_LEN];
    hq_hmac_sha256(key, keylen, msg, msglen, mac);
    hq_hex(mac, sizeof mac, out);
}

/* "v1," + base64(HMAC(key, msg_id "." ts "." body)); out >= 48 bytes. */
void hq_sign_standard(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts_sec,
                      const char *body, size_t bodylen, char *out)
{
    char ts[32];
    int tl = snprintf(ts, sizeof ts, ".%lld.", (long long)ts_sec);
    unsigned char mac[HQ_SHA256_LEN];
    const void *parts[3] = { msg_id, ts, body };
    size_t lens[3] = { strlen(msg_id), tl > 0 ? (size_t)tl : 0, bodylen };
    hmac_parts(key, keylen, parts, lens, 3, mac);
    memcpy(out, "v1,", 3);
    hq_base64_encode(mac, sizeof mac, out + 3);
}

/* The signing key of a secret: the decoded bytes of "whsec_<base64>" when the
 * base64 is valid and decodes to 1..HQ_SECRET_MAX bytes, else the secret's
 * own bytes (at most HQ_SECRET_MAX). Returns the key length. */
size_t hq_secret_key(const char *secret, unsigned char *key)
{
    size_t n = strlen(secret);
    if (n > 6 && strncmp(secret, "whsec_", 6) == 0) {
        size_t bl = n - 6;
        if (bl % 4 == 0 && 3 * (bl / 4) <= HQ_SECRET_MAX) {
            long k = hq_base64_decode(secret + 6, bl, key);
            if (k > 0) return (size_t)k;
        }
    }
    if (n > HQ_SECRET_MAX) n = HQ_SECRET_MAX;
    memcpy(key, secret, n);
    return n;
}

/* "whsec_" + base64(32 random bytes): 6 + 44 chars + NUL. */
void hq_secret_generate(char *out)
{
    unsigned char raw[32];
    hq_random_bytes(raw, sizeof raw);
    memcpy(out, "whsec_", 6);
    hq_base64_encode(raw, sizeof raw, out + 6);
    OPENSSL_cleanse(raw, sizeof raw);
}

/* 1 when s is 16..256 printable ASCII (0x20..0x7e: spaces too, SPEC §4a), else 0. */
int hq_secret_valid(const char *s)
{
    if (!s) return 0;
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++, n++) {
        if (*p < 0x20 || *p > 0x7e) return 0;
        if (n >= 256) return 0;
    }
    return n >= 16 && n <= 256;
}

size_t hq_base64_encode(const void *in, size_t n, char *out)
{
    if (n == 0) { out[0] = '\0'; return 0; }
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return (size_t)len;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Strict decoding: length a multiple of 4, standard alphabet only, '='
 * padding only at the end (at most two), no whitespace. Returns the decoded
 * length or -1. */
long hq_base64_decode(const char *in, size_t len, unsigned char *out)
{
    if (len == 0) return 0;
    if (len % 4 != 0 || len > (size_t)0x7fffffff) return -1;
    size_t pad = 0;
    if (in[len - 1] == '=') pad++;
    if (in[len - 2] == '=') pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)in[i])) return -1;
    /* Non-canonical encodings (stray bits in the last char) are rejected so
     * each byte string has exactly one accepted spelling. */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (pad) {
        int v = (int)(strchr(alpha, in[len - pad - 1]) - alpha);
        if (pad == 1 && (v & 0x3) != 0) return -1;
        if (pad == 2 && (v & 0xf) != 0) return -1;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len);
    if (n < 0) return -1;
    return (long)n - (long)pad;
}

void hq_random_bytes(void *out, size_t n)
{
    if (n == 0) return;
    if (RAND_bytes(out, (int)n) != 1) {
        static const char m[] = "hookq: RAND_bytes failed (CSPRNG unavailable)\n";
        ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
        (void)w;
        abort();
    }
}

void hq_random_hex(char *out, size_t nbytes)
{
    unsigned char buf[64];
    size_t done = 0;
    while (done < nbytes) {
        size_t k = nbytes - done < sizeof buf ? nbytes - done : sizeof buf;
        hq_random_bytes(buf, k);
        hq_hex(buf, k, out + 2 * done);
        done += k;
    }
    out[2 * nbytes] = '\0';
}

/* 1 when equal; timing depends only on the lengths. */
int hq_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen) return 0;
    if (alen == 0) return 1;
    return CRYPTO_memcmp(a, b, alen) == 0;
}
