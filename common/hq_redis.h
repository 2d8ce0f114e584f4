/* Redis connection settings, synchronous connections (producer, CLI, tests)
 * and the function library (common/hookq.lua, embedded at build time). */
#ifndef HQ_REDIS_H
#define HQ_REDIS_H
#include <hiredis/hiredis.h>

enum hq_redis_kind { HQ_REDIS_TCP, HQ_REDIS_UNIX, HQ_REDIS_CLUSTER, HQ_REDIS_SENTINEL };

typedef struct hq_redis_url {
    enum hq_redis_kind kind;
    char host[256];
    int port;
    char path[1024];      /* unix socket path */
    char user[128];
    char pass[256];
    int db;
    char seeds[1024];     /* cluster/sentinel: "host:port,host:port" */
    char master[128];     /* sentinel master name */
} hq_redis_url;

/* Accepts redis://[user:pass@]host[:port][/db], unix:///path[?db=N],
 * redis-cluster://[user:pass@]host:port[,host:port...],
 * redis-sentinel://host:port[,...]/<master>. Returns 0 or -1 with err. */
int hq_redis_url_parse(const char *url, hq_redis_url *out, char *err, size_t errlen);
/* url as given, with any password replaced by "***", into out (n bytes),
 * for messages; works on URLs hq_redis_url_parse refuses. */
void hq_redis_url_redact(const char *url, char *out, size_t n);

/* Connects (TCP or unix), with connect/command timeout, AUTH and SELECT.
 * Returns NULL with err on failure. Sentinel: asks the sentinels for the
 * current master on every call (hq_sentinel_connect in hq_cluster.h).
 * Cluster: not a single connection; use hq_cluster (returns NULL here). */
redisContext *hq_redis_connect(const hq_redis_url *u, int timeout_ms, char *err, size_t errlen);

/* Runs AUTH/SELECT on a fresh async context per the URL: the commands to send,
 * as argv arrays; used by the worker after an async connect. n = count. */

/* The library source, and its name for FUNCTION LOAD. */
extern const char hq_lua_library[];
extern const size_t hq_lua_library_len;
/* FUNCTION LOAD REPLACE of the embedded library. 0 or -1 with err. */
int hq_redis_load_functions(redisContext *c, char *err, size_t errlen);
/* True when an error reply means the functions are missing (after a restart
 * or FUNCTION FLUSH): "ERR Function not found". */
int hq_redis_is_nofunc(const char *errstr);

/* Checks maxmemory-policy; returns 1 if it is noeviction, 0 otherwise, -1 on error. */
int hq_redis_check_noeviction(redisContext *c);

#endif
