/* Signing and secrets. HMAC-SHA256 and base64 via OpenSSL; random bytes from
 * the OpenSSL CSPRNG. */
#ifndef HQ_SIGN_H
#define HQ_SIGN_H
#include <stddef.h>
#include <stdint.h>

#define HQ_SHA256_LEN 32
#define HQ_SHA1_LEN 20
#define HQ_SECRET_MAX 256

void hq_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
                    unsigned char out[HQ_SHA256_LEN]);
/* SHA-1 of the concatenation of n parts (ids only, never for security). */
void hq_sha1_parts(const void *const *parts, const size_t *lens, int n, unsigned char out[HQ_SHA1_LEN]);
/* Lowercase hex of an HMAC-SHA256(key, msg): out >= 65 bytes. */
void hq_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char *out);

/* Standard Webhooks: "v1," + base64(HMAC-SHA256(key, id "." ts "." body)).
 * out >= 48 bytes. */
void hq_sign_standard(const unsigned char *key, size_t keylen, const char *msg_id, int64_t ts_sec,
                      const char *body, size_t bodylen, char *out);

/* The Standard Webhooks key of a secret: for "whsec_" + valid base64, the
 * decoded bytes; otherwise the secret's own bytes. key >= HQ_SECRET_MAX. */
size_t hq_secret_key(const char *secret, unsigned char *key);
/* A new secret: "whsec_" + base64(32 random bytes). out >= 51 bytes. */
void hq_secret_generate(char *out);
/* Validates a user-chosen secret: 16..256 printable ASCII (0x21..0x7e). */
int hq_secret_valid(const char *s);

/* Base64 (standard alphabet, padded). out >= 4*((n+2)/3)+1. Returns length. */
size_t hq_base64_encode(const void *in, size_t n, char *out);
/* Decodes strictly; returns decoded length or -1. out >= 3*(len/4). */
long hq_base64_decode(const char *in, size_t len, unsigned char *out);

/* Cryptographically random bytes; aborts if the CSPRNG fails. */
void hq_random_bytes(void *out, size_t n);
/* Lowercase hex of n bytes into out (>= 2n+1), NUL-terminated. */
void hq_hex(const unsigned char *in, size_t n, char *out);
/* Lowercase hex of n random bytes into out (>= 2n+1). */
void hq_random_hex(char *out, size_t nbytes);

/* Constant-time comparison of two byte strings (length leak only). 1 if equal. */
int hq_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
