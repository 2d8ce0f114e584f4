/* Secrets at rest: AES-256-GCM sealing of short values (endpoint secrets,
 * auth passwords, keys and tokens) under a master keyring from
 * HOOKQ_MASTER_KEY. A sealed value is text:
 *     "enc:v1:<kid>:<base64(nonce[12] | ciphertext | tag[16])>"
 * with a random nonce per value and additional authenticated data binding it
 * to its place (endpoint id and field name), so a sealed value copied to
 * another endpoint or field does not open. The keyring holds one or more
 * keys; the first seals, all open (that is how keys rotate). */
#ifndef HQ_CRYPTO_H
#define HQ_CRYPTO_H
#include <stddef.h>

#define HQ_CRYPTO_PREFIX "enc:v1:"
#define HQ_CRYPTO_KID_MAX 32       /* key id: 1..32 of [A-Za-z0-9_.-] */
#define HQ_CRYPTO_KEYS_MAX 16

#define HQ_CRYPTO_EFORMAT (-1)     /* not a well-formed sealed value */
#define HQ_CRYPTO_EKID (-2)        /* sealed under a key id the keyring lacks */
#define HQ_CRYPTO_EAUTH (-3)       /* tampered, or opened with the wrong AAD */

typedef struct hq_keyring hq_keyring;

/* Parses "<kid>:<base64 of 32 bytes>[,<kid>:<base64>...]". On 0, *out is a
 * new keyring (free with hq_keyring_free). On -1, err holds a sentence that
 * never contains key material. */
int hq_keyring_parse(const char *spec, hq_keyring **out, char *err, size_t errlen);
/* Wipes and frees; NULL is fine. */
void hq_keyring_free(hq_keyring *kr);
/* The key id new values are sealed with. */
const char *hq_keyring_current(const hq_keyring *kr);

/* 1 if value has the sealed form's prefix, else 0. */
int hq_crypto_is_sealed(const char *value);
/* Seals len bytes of plain with the current key; aad_a and aad_b (e.g.
 * endpoint id and field name; NULL = "") are authenticated, not stored.
 * Returns a new NUL-terminated string (hq_free). */
char *hq_crypto_seal(const hq_keyring *kr, const void *plain, size_t len, const char *aad_a, const char *aad_b);
/* Opens a sealed value with the same aad_a/aad_b. On 0, *plain is a new
 * NUL-terminated string of *plen bytes (hq_free; *plen may be NULL). Else
 * HQ_CRYPTO_EFORMAT, HQ_CRYPTO_EKID or HQ_CRYPTO_EAUTH with a sentence in err
 * (naming the key id, never key material or plaintext). kr may be NULL:
 * every sealed value then fails with HQ_CRYPTO_EKID. */
int hq_crypto_open(const hq_keyring *kr, const char *sealed, const char *aad_a, const char *aad_b, char **plain,
                   size_t *plen, char *err, size_t errlen);

#endif
