/* The Redis key layout (docs/redis-keys.md). Every key of shard s starts with
 * "<prefix>:{<s>}:" so that all keys one script touches share a hash tag. */
#ifndef HQ_KEYS_H
#define HQ_KEYS_H
#include <stddef.h>

#define HQ_KEY_MAX 512
#define HQ_GROUP "workers"

/* Longest HOOKQ_PREFIX: keys stay well within HQ_KEY_MAX. */
#define HQ_PREFIX_MAX 64

/* 0 when prefix can start every key: 1..HQ_PREFIX_MAX printable ASCII
 * characters, no space, no '{' or '}' (a brace would move every shard's
 * hash tag, so all shards would share one Redis Cluster slot); else -1
 * with why in err. */
int hq_prefix_check(const char *prefix, char *err, size_t errlen);

/* An event's key "<tag>ev:<org>:<id>", with every '%' and ':' of org
 * written %25 and %3A, so the org part ends at the first ':' after "ev:"
 * (an event id may hold ':'; without this, org "a:b" with id "c" and org
 * "a" with id "b:c" shared one key). Orgs without '%' or ':' keep the key
 * they always had. Truncated to n bytes (NUL included); returns the full
 * length, at most strlen(tag) + 3 * strlen(org) + strlen(id) + 4. */
size_t hq_event_key(char *out, size_t n, const char *tag, const char *org, const char *id);

/* "<prefix>:{<shard>}:" */
void hq_key_tag(char *out, size_t n, const char *prefix, int shard);
/* "<prefix>:{<shard>}:<suffix>", suffix printf-formatted. */
void hq_key(char *out, size_t n, const char *prefix, int shard, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Global (untagged) key "<prefix>:<suffix>". */
void hq_key_global(char *out, size_t n, const char *prefix, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
