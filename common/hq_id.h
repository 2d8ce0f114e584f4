/* Ids and shards. An org maps to a shard by FNV-1a 32 of its id modulo the
 * shard count. Ids hookq makes for endpoints and deliveries end in three hex
 * digits naming their shard ("ep_" + 21 hex + "00a"), so any id can be found
 * with no lookup. Event ids are "evt_" + 24 random hex (no shard: events are
 * addressed by org and id). */
#ifndef HQ_ID_H
#define HQ_ID_H
#include <stdint.h>
#include <stddef.h>

#define HQ_SHARDS_MAX 4096
#define HQ_ID_LEN 64

uint32_t hq_fnv1a(const char *s, size_t n);
int hq_shard_of_org(const char *org, int nshards);
/* Shard encoded in an id's last three hex digits, or -1 if malformed or >= nshards. */
int hq_shard_of_id(const char *id, int nshards);
/* "ep_" + 21 random hex + shard as 3 hex digits. out >= HQ_ID_LEN. */
void hq_id_endpoint(int shard, char *out);
/* "evt_" + 24 random hex. out >= HQ_ID_LEN. */
void hq_id_event(char *out);

/* The first delivery of an event has the id "dlv_" + this digest + the
 * shard's 3 hex digits; its others hash it with their position (see
 * store_event in common/hookq.lua; hookq_publish_batch_v2 takes the digest
 * from the producer): the first HQ_DIGEST_LEN lowercase hex digits of
 * SHA-1(org NUL event id), NUL-terminated. out >= HQ_DIGEST_LEN + 1. */
#define HQ_DIGEST_LEN 21
void hq_event_digest(const char *org, const char *eid, char *out);

#endif
