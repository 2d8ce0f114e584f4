/* Redis Cluster and Sentinel support on top of hiredis 0.14.1 (which has
 * neither): key slots (CRC16 with hash tags), the slot map read with CLUSTER
 * SLOTS, MOVED/ASK parsing, a small synchronous cluster client for the
 * producer and CLI (one connection per master, commands routed by their first
 * key, redirections followed, functions reloaded per node), and Sentinel
 * master resolution. The async worker uses the map and redirect helpers and
 * keeps its own connections. Library code: never prints except through
 * hq_log at debug/warn level. */
#ifndef HQ_CLUSTER_H
#define HQ_CLUSTER_H
#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "hq_redis.h"

#define HQ_CLUSTER_SLOTS 16384

/* CRC16-XMODEM slot of a key, honouring the first non-empty {hash tag}. */
int hq_cluster_keyslot(const char *key, size_t len);
/* Slot of shard s's keys: the slot of "<prefix>:{<s>}:". */
int hq_cluster_shard_slot(const char *prefix, int shard);
/* The first key of a command (argv as for redisCommandArgv; lens may be
 * NULL), or NULL for commands without keys (PING, FUNCTION, CONFIG, ...),
 * which may run on any master. *klen gets its length. */
const char *hq_cluster_cmd_key(int argc, const char **argv, const size_t *lens, size_t *klen);

/* "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381": 1 with the parts
 * filled (ask = 1 for ASK), 0 if errstr is no redirection. */
int hq_cluster_parse_redirect(const char *errstr, int *ask, int *slot, char *host, size_t hostlen, int *port);
/* 1 for errors that mean "the topology is changing, retry shortly":
 * CLUSTERDOWN, TRYAGAIN, and a script that hit a non-local key. */
int hq_cluster_is_transient(const char *errstr);

/* A master node. */
typedef struct hq_cluster_node {
    char host[256];
    int port;
} hq_cluster_node;

/* Who owns which slot, as CLUSTER SLOTS reported it (masters only). */
typedef struct hq_cluster_map {
    int nnodes;
    hq_cluster_node *nodes;          /* nnodes masters (owned) */
    int16_t slot[HQ_CLUSTER_SLOTS];  /* index into nodes, -1 = unassigned */
} hq_cluster_map;

/* Reads the slot map. Asks, in order, the nodes of prev (may be NULL), then
 * the URL's seeds, until one answers CLUSTER SLOTS; each connection uses
 * timeout_ms and the URL's credentials. 0, or -1 with err. On 0 the caller
 * frees out with hq_cluster_map_free. Blocking. */
int hq_cluster_map_fetch(const hq_redis_url *u, const hq_cluster_map *prev, int timeout_ms,
                         hq_cluster_map *out, char *err, size_t errlen);
void hq_cluster_map_free(hq_cluster_map *m);
/* Index of host:port among the map's masters, or -1. */
int hq_cluster_map_find(const hq_cluster_map *m, const char *host, int port);
/* A plain TCP URL for one node, with u's credentials (no db: cluster has db 0). */
void hq_cluster_node_url(const hq_redis_url *u, const char *host, int port, hq_redis_url *out);

/* ---- synchronous client (producer, CLI, tools) ---- */

typedef struct hq_cluster hq_cluster;

/* One command as argv vectors (borrowed). lens may be NULL (strlen). */
typedef struct hq_cluster_cmd {
    int argc;
    const char **argv;
    const size_t *lens;
} hq_cluster_cmd;

/* A client for a redis-cluster:// URL; connects lazily. Never NULL. */
hq_cluster *hq_cluster_new(const hq_redis_url *u, int timeout_ms);
void hq_cluster_free(hq_cluster *c);
/* Makes every command wait for `replicas` replicas of its node to confirm
 * (WAIT replicas timeout_ms, pipelined right behind it): a command whose WAIT
 * falls short fails as unavailable (NULL / -1), since a failover could still
 * lose it. 0 (the default) = don't wait. */
void hq_cluster_set_wait(hq_cluster *c, int replicas, int timeout_ms);
/* Re-reads the slot map (keeps connections to masters that stay). 0 or -1. */
int hq_cluster_refresh(hq_cluster *c, char *err, size_t errlen);
/* Runs one command on the master owning its first key (any master if it has
 * none). Follows MOVED (refreshing the map) and ASK (ASKING on the target),
 * waits out TRYAGAIN/CLUSTERDOWN briefly, reloads the function library on
 * "Function not found" on that node, and retries a command whose connection
 * was found dead before it was sent. Returns the reply (caller frees), which
 * may be an error reply, or NULL with err when the cluster is unavailable. */
redisReply *hq_cluster_command(hq_cluster *c, int argc, const char **argv, const size_t *lens,
                               char *err, size_t errlen);
/* Runs n commands pipelined per node; out[i] gets cmd i's reply, in order,
 * as hq_cluster_command would return it. 0, or -1 with err (every out[i]
 * is then NULL). */
int hq_cluster_pipeline(hq_cluster *c, const hq_cluster_cmd *cmds, int n, redisReply **out,
                        char *err, size_t errlen);
/* Masters known from the last map (refreshing first if there is none). */
int hq_cluster_nmasters(hq_cluster *c);
/* A connected context to master i (connecting if needed), or NULL with err.
 * Owned by the client; valid until the next call on c. */
redisContext *hq_cluster_master(hq_cluster *c, int i, char *err, size_t errlen);
/* "host:port" of master i. */
const char *hq_cluster_master_addr(hq_cluster *c, int i);
/* Master owning a slot (refreshing the map if unknown), or -1. */
int hq_cluster_slot_master(hq_cluster *c, int slot);
/* FUNCTION LOAD REPLACE on every master. 0 or -1 with err. */
int hq_cluster_load_functions(hq_cluster *c, char *err, size_t errlen);
/* Drops every connection (the next command reconnects). */
void hq_cluster_disconnect(hq_cluster *c);

/* ---- Sentinel ---- */

/* Asks the sentinels of a redis-sentinel:// URL (in order) for the master's
 * address (SENTINEL get-master-addr-by-name) and fills out as a plain TCP URL
 * (same credentials and db). 0, or -1 with err. Blocking. */
int hq_sentinel_resolve(const hq_redis_url *u, int timeout_ms, hq_redis_url *out, char *err, size_t errlen);
/* Connects to the current master of a redis-sentinel:// URL and checks with
 * ROLE that it is a master (a demoted one is refused), retrying the
 * resolution a few times within timeout_ms. NULL with err on failure. */
redisContext *hq_sentinel_connect(const hq_redis_url *u, int timeout_ms, char *err, size_t errlen);

#endif
