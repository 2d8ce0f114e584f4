/* hq_id: shard mapping and id generation. An org maps to a shard by FNV-1a 32
 * (offset 2166136261, prime 16777619) of its bytes modulo the shard count.
 * Endpoint ids carry their shard in the last three lowercase hex digits
 * ("ep_" + 21 random hex + "%03x"), so hq_shard_of_id finds it without a
 * lookup; event ids are "evt_" + 24 random hex. */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_id.h"
#include "hq_sign.h"

uint32_t hq_fnv1a(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* Shard of an org id; nshards must be >= 1 (treated as 1 otherwise). */
int hq_shard_of_org(const char *org, int nshards)
{
    if (nshards < 1) nshards = 1;
    return (int)(hq_fnv1a(org, strlen(org)) % (uint32_t)nshards);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Shard named by the last three lowercase hex digits of id, or -1 when id is
 * shorter than 4 chars, the digits are not lowercase hex, or the shard is out
 * of range for nshards. */
int hq_shard_of_id(const char *id, int nshards)
{
    if (!id) return -1;
    size_t n = strlen(id);
    if (n < 4) return -1;
    int v = 0;
    for (size_t i = n - 3; i < n; i++) {
        int x = hexval(id[i]);
        if (x < 0) return -1;
        v = v * 16 + x;
    }
    if (v >= nshards) return -1;
    return v;
}

/* "ep_" + 21 random hex + shard as "%03x" (27 chars). */
void hq_id_endpoint(int shard, char *out)
{
    char rnd[23];
    hq_random_hex(rnd, 11); /* 22 hex, 21 used */
    rnd[21] = '\0';
    snprintf(out, HQ_ID_LEN, "ep_%s%03x", rnd, (unsigned)shard & 0xfff);
}

/* "evt_" + 24 random hex (28 chars). */
void hq_id_event(char *out)
{
    char rnd[25];
    hq_random_hex(rnd, 12);
    snprintf(out, HQ_ID_LEN, "evt_%s", rnd);
}

void hq_event_digest(const char *org, const char *eid, char *out)
{
    const void *parts[2] = { org, eid };
    size_t lens[2] = { strlen(org) + 1, strlen(eid) };   /* org's NUL separates them */
    unsigned char d[HQ_SHA1_LEN];
    char hex[2 * HQ_SHA1_LEN + 1];
    hq_sha1_parts(parts, lens, 2, d);
    hq_hex(d, (HQ_DIGEST_LEN + 1) / 2, hex);
    memcpy(out, hex, HQ_DIGEST_LEN);
    out[HQ_DIGEST_LEN] = '\0';
}
