/* libFuzzer target: the parsers that read operator and API input as text:
 * durations, retry schedules, sizes, RFC 3339 times, Redis URLs, master
 * keyrings, sealed values, event types and subscription patterns, base64.
 * The first byte picks the parser, the rest (NUL-terminated) is its input.
 * Parsers that have a canonical rendering must round-trip it. A JSON body
 * (selector 'e') also goes through hq_endpoint_from_api. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hq_alloc.h"
#include "hq_config.h"
#include "hq_crypto.h"
#include "hq_endpoint.h"
#include "hq_json.h"
#include "hq_match.h"
#include "hq_redis.h"
#include "hq_sign.h"
#include "hq_time.h"

static hq_keyring *g_kr;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (!g_kr) {
        char err[200];
        if (hq_keyring_parse("fz:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", &g_kr, err, sizeof err) != 0)
            abort();
    }
    unsigned sel = data[0] % 11;
    char *s = hq_strndup((const char *)data + 1, size - 1);   /* stops at an embedded NUL */
    char err[512], buf[1024];
    switch (sel) {
    case 0: {
        int64_t ms, back;
        if (hq_parse_duration(s, &ms) == 0) {
            if (ms < 0) abort();
            hq_format_duration(ms, buf, sizeof buf);
            if (hq_parse_duration(buf, &back) != 0 || back != ms) {
                fprintf(stderr, "duration %s -> %lld -> %s does not round-trip\n", s, (long long)ms, buf);
                abort();
            }
        }
        break;
    }
    case 1: {
        hq_schedule sc, back;
        if (hq_parse_schedule(s, &sc) == 0) {
            if (sc.n < 1 || sc.n > HQ_SCHEDULE_MAX) abort();
            hq_format_schedule(&sc, buf, sizeof buf);
            if (hq_parse_schedule(buf, &back) != 0 || back.n != sc.n ||
                memcmp(back.delay_ms, sc.delay_ms, sizeof(int64_t) * (size_t)sc.n) != 0) {
                fprintf(stderr, "schedule %s -> %s does not round-trip\n", s, buf);
                abort();
            }
        }
        break;
    }
    case 2: {
        long long v;
        if (hq_parse_size(s, &v) == 0 && v < 0) abort();
        if (hq_parse_ll(s, &v) == 0) {
            snprintf(buf, sizeof buf, "%lld", v);
            (void)buf;
        }
        break;
    }
    case 3: {
        int64_t ms;
        int frac;
        if (hq_parse_rfc3339(s, &ms, &frac) == 0 && ms >= 0 && ms <= 253402300799999LL) {
            int64_t back;
            int f2;
            hq_rfc3339_ms(ms, buf);
            if (hq_parse_rfc3339(buf, &back, &f2) != 0 || back != ms) {
                fprintf(stderr, "time %s -> %s does not round-trip\n", s, buf);
                abort();
            }
        }
        break;
    }
    case 4: {
        hq_redis_url u;
        if (hq_redis_url_parse(s, &u, err, sizeof err) == 0) {
            if (memchr(u.host, 0, sizeof u.host) == NULL || memchr(u.pass, 0, sizeof u.pass) == NULL ||
                memchr(u.path, 0, sizeof u.path) == NULL || memchr(u.user, 0, sizeof u.user) == NULL)
                abort();
        } else if (!err[0]) {
            abort();
        }
        break;
    }
    case 5: {
        hq_keyring *kr;
        if (hq_keyring_parse(s, &kr, err, sizeof err) == 0) {
            char *sealed = hq_crypto_seal(kr, "x", 1, "a", "b");
            char *plain;
            if (hq_crypto_open(kr, sealed, "a", "b", &plain, NULL, err, sizeof err) != 0 || strcmp(plain, "x"))
                abort();
            hq_free(plain);
            hq_free(sealed);
            hq_keyring_free(kr);
        }
        break;
    }
    case 6: {
        char *plain;
        size_t n;
        int rc = hq_crypto_open(g_kr, s, "a", "b", &plain, &n, err, sizeof err);
        if (rc == 0) hq_free(plain);   /* forging a valid tag would be a finding, but not a crash */
        else if (rc != HQ_CRYPTO_EFORMAT && rc != HQ_CRYPTO_EKID && rc != HQ_CRYPTO_EAUTH) abort();
        break;
    }
    case 7: {
        /* "pattern\ntype" */
        char *nl = strchr(s, '\n');
        if (nl) {
            *nl = '\0';
            if (hq_pattern_valid(s) && hq_type_valid(nl + 1)) (void)hq_pattern_match(s, nl + 1);
            if (hq_type_valid(nl + 1) && !hq_pattern_match(nl + 1, nl + 1) && hq_pattern_valid(nl + 1)) abort();
        }
        (void)hq_type_valid(s);
        (void)hq_pattern_valid(s);
        break;
    }
    case 8: {
        size_t n = strlen(s);
        unsigned char *out = hq_malloc(3 * (n / 4) + 4);
        long k = hq_base64_decode(s, n, out);
        if (k >= 0) {
            char *enc = hq_malloc(4 * (((size_t)k + 2) / 3) + 1);
            size_t el = hq_base64_encode(out, (size_t)k, enc);
            if (el != n || memcmp(enc, s, n) != 0) {
                fprintf(stderr, "base64 %s does not round-trip\n", s);
                abort();
            }
            hq_free(enc);
        }
        hq_free(out);
        (void)hq_secret_valid(s);
        unsigned char key[300];
        if (hq_secret_valid(s)) (void)hq_secret_key(s, key);
        break;
    }
    case 9: {
        int64_t ms;
        char out[64];
        if (hq_parse_duration(s, &ms) == 0) hq_format_duration(ms, out, 3);   /* tiny buffer */
        hq_schedule sc;
        if (hq_parse_schedule(s, &sc) == 0) hq_format_schedule(&sc, out, 5);
        break;
    }
    default: {
        json_error_t je;
        json_t *in = hq_json_parse((const char *)data + 1, size - 1, &je);
        if (in) {
            static const hq_endpoint_defaults defs = { "event_data", "X-Sig", "hex", 1 };
            hq_endpoint e;
            char field[160], msg[300];
            if (hq_endpoint_from_api(in, NULL, &defs, &e, field, sizeof field, msg, sizeof msg) == 0)
                hq_endpoint_free(&e);
            json_decref(in);
        }
        break;
    }
    }
    hq_free(s);
    return 0;
}
