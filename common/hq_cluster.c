/* hq_cluster: hookq's own small Redis Cluster layer (Debian's hiredis 0.14.1
 * has no cluster support) and Sentinel resolution.
 *
 * Cluster: every per-shard key carries the shard's hash tag, so every command
 * and every function call hookq sends touches one slot; routing a command is
 * "find its first key, hash it, send it to the master owning that slot". The
 * slot map comes from CLUSTER SLOTS (asked of any known node, then the seeds)
 * and is refreshed on MOVED, on a dead connection and on CLUSTERDOWN. ASK is
 * answered with ASKING + the command on the target, without touching the map.
 * Functions are per node: "Function not found" loads the library on that
 * node and retries (a promoted replica has them already, through
 * replication, but a node added by resharding may not).
 *
 * Sentinel: SENTINEL get-master-addr-by-name on each sentinel in turn; the
 * address found is then used as a plain redis:// URL. The caller re-resolves
 * after every connection loss (hq_redis_connect does it on every connect). */
#include "hq_fmacros.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "hq_alloc.h"
#include "hq_cluster.h"
#include "hq_log.h"
#include "hq_time.h"

/* CRC16-CCITT (XMODEM), the table Redis uses in src/crc16.c. */
static const uint16_t crc16tab[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50a5, 0x60c6, 0x70e7, 0x8108, 0x9129, 0xa14a, 0xb16b, 0xc18c,
    0xd1ad, 0xe1ce, 0xf1ef, 0x1231, 0x0210, 0x3273, 0x2252, 0x52b5, 0x4294, 0x72f7, 0x62d6, 0x9339, 0x8318,
    0xb37b, 0xa35a, 0xd3bd, 0xc39c, 0xf3ff, 0xe3de, 0x2462, 0x3443, 0x0420, 0x1401, 0x64e6, 0x74c7, 0x44a4,
    0x5485, 0xa56a, 0xb54b, 0x8528, 0x9509, 0xe5ee, 0xf5cf, 0xc5ac, 0xd58d, 0x3653, 0x2672, 0x1611, 0x0630,
    0x76d7, 0x66f6, 0x5695, 0x46b4, 0xb75b, 0xa77a, 0x9719, 0x8738, 0xf7df, 0xe7fe, 0xd79d, 0xc7bc, 0x48c4,
    0x58e5, 0x6886, 0x78a7, 0x0840, 0x1861, 0x2802, 0x3823, 0xc9cc, 0xd9ed, 0xe98e, 0xf9af, 0x8948, 0x9969,
    0xa90a, 0xb92b, 0x5af5, 0x4ad4, 0x7ab7, 0x6a96, 0x1a71, 0x0a50, 0x3a33, 0x2a12, 0xdbfd, 0xcbdc, 0xfbbf,
    0xeb9e, 0x9b79, 0x8b58, 0xbb3b, 0xab1a, 0x6ca6, 0x7c87, 0x4ce4, 0x5cc5, 0x2c22, 0x3c03, 0x0c60, 0x1c41,
    0xedae, 0xfd8f, 0xcdec, 0xddcd, 0xad2a, 0xbd0b, 0x8d68, 0x9d49, 0x7e97, 0x6eb6, 0x5ed5, 0x4ef4, 0x3e13,
    0x2e32, 0x1e51, 0x0e70, 0xff9f, 0xefbe, 0xdfdd, 0xcffc, 0xbf1b, 0xaf3a, 0x9f59, 0x8f78, 0x9188, 0x81a9,
    0xb1ca, 0xa1eb, 0xd10c, 0xc12d, 0xf14e, 0xe16f, 0x1080, 0x00a1, 0x30c2, 0x20e3, 0x5004, 0x4025, 0x7046,
    0x6067, 0x83b9, 0x9398, 0xa3fb, 0xb3da, 0xc33d, 0xd31c, 0xe37f, 0xf35e, 0x02b1, 0x1290, 0x22f3, 0x32d2,
    0x4235, 0x5214, 0x6277, 0x7256, 0xb5ea, 0xa5cb, 0x95a8, 0x8589, 0xf56e, 0xe54f, 0xd52c, 0xc50d, 0x34e2,
    0x24c3, 0x14a0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405, 0xa7db, 0xb7fa, 0x8799, 0x97b8, 0xe75f, 0xf77e,
    0xc71d, 0xd73c, 0x26d3, 0x36f2, 0x0691, 0x16b0, 0x6657, 0x7676, 0x4615, 0x5634, 0xd94c, 0xc96d, 0xf90e,
    0xe92f, 0x99c8, 0x89e9, 0xb98a, 0xa9ab, 0x5844, 0x4865, 0x7806, 0x6827, 0x18c0, 0x08e1, 0x3882, 0x28a3,
    0xcb7d, 0xdb5c, 0xeb3f, 0xfb1e, 0x8bf9, 0x9bd8, 0xabbb, 0xbb9a, 0x4a75, 0x5a54, 0x6a37, 0x7a16, 0x0af1,
    0x1ad0, 0x2ab3, 0x3a92, 0xfd2e, 0xed0f, 0xdd6c, 0xcd4d, 0xbdaa, 0xad8b, 0x9de8, 0x8dc9, 0x7c26, 0x6c07,
    0x5c64, 0x4c45, 0x3ca2, 0x2c83, 0x1ce0, 0x0cc1, 0xef1f, 0xff3e, 0xcf5d, 0xdf7c, 0xaf9b, 0xbfba, 0x8fd9,
    0x9ff8, 0x6e17, 0x7e36, 0x4e55, 0x5e74, 0x2e93, 0x3eb2, 0x0ed1, 0x1ef0,
};

static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc16tab[((crc >> 8) ^ (unsigned char)buf[i]) & 0x00FF]);
    return crc;
}

int hq_cluster_keyslot(const char *key, size_t len)
{
    size_t s, e;
    for (s = 0; s < len; s++)
        if (key[s] == '{') break;
    if (s == len) return crc16(key, len) & 16383;
    for (e = s + 1; e < len; e++)
        if (key[e] == '}') break;
    if (e == len || e == s + 1) return crc16(key, len) & 16383;
    return crc16(key + s + 1, e - s - 1) & 16383;
}

int hq_cluster_shard_slot(const char *prefix, int shard)
{
    char tag[32];
    int n = snprintf(tag, sizeof tag, "%d", shard);
    (void)prefix; /* the tag is "{<s>}" whatever the prefix */
    return crc16(tag, (size_t)n) & 16383;
}

static size_t arglen(const char **argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

static int arg_is(const char **argv, const size_t *lens, int i, const char *word)
{
    size_t n = arglen(argv, lens, i);
    return n == strlen(word) && strncasecmp(argv[i], word, n) == 0;
}

const char *hq_cluster_cmd_key(int argc, const char **argv, const size_t *lens, size_t *klen)
{
    static const char *nokey[] = { "PING", "FUNCTION", "CONFIG", "CLUSTER", "INFO", "SCRIPT", "ROLE",
                                   "AUTH", "SELECT", "TIME", "DBSIZE", "ECHO", "HELLO", "CLIENT",
                                   "ASKING", "READONLY", "WAIT", "COMMAND", NULL };
    if (argc < 1) return NULL;
    for (int i = 0; nokey[i]; i++)
        if (arg_is(argv, lens, 0, nokey[i])) return NULL;
    int k = 1;
    if (arg_is(argv, lens, 0, "FCALL") || arg_is(argv, lens, 0, "FCALL_RO") || arg_is(argv, lens, 0, "EVAL") ||
        arg_is(argv, lens, 0, "EVALSHA") || arg_is(argv, lens, 0, "EVAL_RO") ||
        arg_is(argv, lens, 0, "EVALSHA_RO")) {
        if (argc < 4 || arg_is(argv, lens, 2, "0")) return NULL;
        k = 3;
    } else if (arg_is(argv, lens, 0, "XGROUP") || arg_is(argv, lens, 0, "XINFO") ||
               arg_is(argv, lens, 0, "OBJECT") || arg_is(argv, lens, 0, "MEMORY")) {
        k = 2;
    } else if (arg_is(argv, lens, 0, "XREAD") || arg_is(argv, lens, 0, "XREADGROUP")) {
        k = -1;
        for (int i = 1; i < argc - 1; i++)
            if (arg_is(argv, lens, i, "STREAMS")) {
                k = i + 1;
                break;
            }
        if (k < 0) return NULL;
    }
    if (k >= argc) return NULL;
    *klen = arglen(argv, lens, k);
    return argv[k];
}

int hq_cluster_parse_redirect(const char *errstr, int *ask, int *slot, char *host, size_t hostlen, int *port)
{
    if (!errstr) return 0;
    const char *p;
    if (strncmp(errstr, "MOVED ", 6) == 0) {
        *ask = 0;
        p = errstr + 6;
    } else if (strncmp(errstr, "ASK ", 4) == 0) {
        *ask = 1;
        p = errstr + 4;
    } else {
        return 0;
    }
    char *end;
    long s = strtol(p, &end, 10);
    if (end == p || *end != ' ' || s < 0 || s >= HQ_CLUSTER_SLOTS) return 0;
    p = end + 1;
    const char *colon = strrchr(p, ':');
    if (!colon || colon == p || (size_t)(colon - p) >= hostlen) return 0;
    long pt = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || pt <= 0 || pt > 65535) return 0;
    size_t hl = (size_t)(colon - p);
    if (p[0] == '[' && hl >= 2 && p[hl - 1] == ']') { /* [v6]:port */
        memcpy(host, p + 1, hl - 2);
        host[hl - 2] = '\0';
    } else {
        memcpy(host, p, hl);
        host[hl] = '\0';
    }
    *slot = (int)s;
    *port = (int)pt;
    return 1;
}

int hq_cluster_is_transient(const char *errstr)
{
    return errstr && (strncmp(errstr, "CLUSTERDOWN", 11) == 0 || strncmp(errstr, "TRYAGAIN", 8) == 0 ||
                      strncmp(errstr, "LOADING", 7) == 0 || strncmp(errstr, "MASTERDOWN", 10) == 0 ||
                      strstr(errstr, "non local key") != NULL ||
                      strstr(errstr, "not the owner of the slot") != NULL);
}

/* ---- slot map ---- */

void hq_cluster_node_url(const hq_redis_url *u, const char *host, int port, hq_redis_url *out)
{
    memset(out, 0, sizeof *out);
    out->kind = HQ_REDIS_TCP;
    snprintf(out->host, sizeof out->host, "%s", host);
    out->port = port;
    memcpy(out->user, u->user, sizeof out->user);
    memcpy(out->pass, u->pass, sizeof out->pass);
    out->db = u->kind == HQ_REDIS_SENTINEL ? u->db : 0;
}

void hq_cluster_map_free(hq_cluster_map *m)
{
    hq_free(m->nodes);
    m->nodes = NULL;
    m->nnodes = 0;
}

int hq_cluster_map_find(const hq_cluster_map *m, const char *host, int port)
{
    for (int i = 0; i < m->nnodes; i++)
        if (m->nodes[i].port == port && strcmp(m->nodes[i].host, host) == 0) return i;
    return -1;
}

static int map_add(hq_cluster_map *m, const char *host, int port)
{
    int i = hq_cluster_map_find(m, host, port);
    if (i >= 0) return i;
    m->nodes = hq_realloc(m->nodes, (size_t)(m->nnodes + 1) * sizeof *m->nodes);
    snprintf(m->nodes[m->nnodes].host, sizeof m->nodes[0].host, "%s", host);
    m->nodes[m->nnodes].port = port;
    return m->nnodes++;
}

/* Parses a CLUSTER SLOTS reply from the node at asked_host into m. 0 or -1. */
static int parse_slots(const redisReply *r, const char *asked_host, hq_cluster_map *m)
{
    if (r->type != REDIS_REPLY_ARRAY) return -1;
    for (int s = 0; s < HQ_CLUSTER_SLOTS; s++) m->slot[s] = -1;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) return -1;
        const redisReply *a = e->element[0], *b = e->element[1], *n = e->element[2];
        if (a->type != REDIS_REPLY_INTEGER || b->type != REDIS_REPLY_INTEGER || n->type != REDIS_REPLY_ARRAY ||
            n->elements < 2 || n->element[0]->type != REDIS_REPLY_STRING ||
            n->element[1]->type != REDIS_REPLY_INTEGER)
            return -1;
        if (a->integer < 0 || b->integer >= HQ_CLUSTER_SLOTS || a->integer > b->integer) return -1;
        /* an empty or "?" endpoint means "the address you reached me at" */
        const char *host = n->element[0]->str;
        if (!host[0] || strcmp(host, "?") == 0) host = asked_host;
        int idx = map_add(m, host, (int)n->element[1]->integer);
        for (long long s = a->integer; s <= b->integer; s++) m->slot[s] = (int16_t)idx;
    }
    return 0;
}

/* Tries one node for CLUSTER SLOTS. 0 (map filled) or -1 with err. */
static int fetch_from(const hq_redis_url *u, const char *host, int port, int timeout_ms, hq_cluster_map *out,
                      char *err, size_t errlen)
{
    hq_redis_url nu;
    hq_cluster_node_url(u, host, port, &nu);
    redisContext *c = hq_redis_connect(&nu, timeout_ms, err, errlen);
    if (!c) return -1;
    redisReply *r = redisCommand(c, "CLUSTER SLOTS");
    int rc = -1;
    if (!r) {
        snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: %s", host, port, c->errstr[0] ? c->errstr : "connection lost");
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: %s", host, port, r->str);
    } else if (parse_slots(r, host, out) != 0) {
        snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: unexpected reply", host, port);
        hq_cluster_map_free(out);
    } else if (out->nnodes == 0) {
        snprintf(err, errlen, "CLUSTER SLOTS on %s:%d: no slot is assigned", host, port);
    } else {
        rc = 0;
    }
    if (r) freeReplyObject(r);
    redisFree(c);
    return rc;
}

int hq_cluster_map_fetch(const hq_redis_url *u, const hq_cluster_map *prev, int timeout_ms, hq_cluster_map *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    snprintf(err, errlen, "no seed node");
    if (prev) {
        for (int i = 0; i < prev->nnodes; i++)
            if (fetch_from(u, prev->nodes[i].host, prev->nodes[i].port, timeout_ms, out, err, errlen) == 0)
                return 0;
    }
    const char *p = u->seeds;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[300], host[256];
        int port = 0;
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        char *colon = strrchr(one, ':');
        if (colon) {
            *colon = '\0';
            port = atoi(colon + 1);
            const char *h = one;
            if (h[0] == '[') {
                h++;
                char *rb = strchr(one, ']');
                if (rb) *rb = '\0';
            }
            snprintf(host, sizeof host, "%s", h);
            if (fetch_from(u, host, port, timeout_ms, out, err, errlen) == 0) return 0;
        }
        p += n;
        if (*p == ',') p++;
    }
    return -1;
}

/* ---- synchronous client ---- */

struct hq_cluster {
    hq_redis_url url;
    int timeout_ms;
    int have_map;
    hq_cluster_map map;
    redisContext **conn;   /* conn[i] for map.nodes[i], NULL = not connected */
    uint64_t last_refresh_ns;
    char addr[300];
    int wait_replicas, wait_ms;   /* WAIT after every command (0 = off) */
};

void hq_cluster_set_wait(hq_cluster *c, int replicas, int timeout_ms)
{
    c->wait_replicas = replicas > 0 ? replicas : 0;
    c->wait_ms = timeout_ms > 0 ? timeout_ms : 1000;
}

/* Appends WAIT when configured. */
static void append_wait(hq_cluster *c, redisContext *rc)
{
    if (c->wait_replicas > 0) redisAppendCommand(rc, "WAIT %d %d", c->wait_replicas, c->wait_ms);
}

/* Reads the WAIT reply (when configured): 0 if enough replicas confirmed,
 * 1 if too few (err set), -1 if the connection failed. */
static int read_wait(hq_cluster *c, redisContext *rc, int node, char *err, size_t errlen)
{
    if (c->wait_replicas <= 0) return 0;
    void *v = NULL;
    if (redisGetReply(rc, &v) != REDIS_OK || !v) return -1;
    redisReply *r = v;
    int rc2 = 0;
    if (r->type != REDIS_REPLY_INTEGER || r->integer < c->wait_replicas) {
        snprintf(err, errlen, "%s: WAIT: %lld of %d replicas confirmed", hq_cluster_master_addr(c, node),
                 r->type == REDIS_REPLY_INTEGER ? r->integer : -1LL, c->wait_replicas);
        rc2 = 1;
    }
    freeReplyObject(r);
    return rc2;
}

hq_cluster *hq_cluster_new(const hq_redis_url *u, int timeout_ms)
{
    hq_cluster *c = hq_calloc(1, sizeof *c);
    c->url = *u;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    return c;
}

void hq_cluster_disconnect(hq_cluster *c)
{
    for (int i = 0; i < c->map.nnodes; i++) {
        if (c->conn[i]) redisFree(c->conn[i]);
        c->conn[i] = NULL;
    }
}

void hq_cluster_free(hq_cluster *c)
{
    if (!c) return;
    hq_cluster_disconnect(c);
    hq_free(c->conn);
    hq_cluster_map_free(&c->map);
    hq_free(c);
}

int hq_cluster_refresh(hq_cluster *c, char *err, size_t errlen)
{
    hq_cluster_map m;
    c->last_refresh_ns = hq_mono_ns();
    if (hq_cluster_map_fetch(&c->url, c->have_map ? &c->map : NULL, c->timeout_ms, &m, err, errlen) != 0)
        return -1;
    redisContext **conn = hq_calloc((size_t)m.nnodes, sizeof *conn);
    for (int i = 0; i < c->map.nnodes; i++) {
        int j = hq_cluster_map_find(&m, c->map.nodes[i].host, c->map.nodes[i].port);
        if (j >= 0) conn[j] = c->conn[i];
        else if (c->conn[i]) redisFree(c->conn[i]);
    }
    hq_free(c->conn);
    hq_cluster_map_free(&c->map);
    c->map = m;
    c->conn = conn;
    c->have_map = 1;
    return 0;
}

/* Refreshes unless one just happened (a burst of redirects costs one read). */
static void refresh_soon(hq_cluster *c)
{
    char err[256];
    if (c->have_map && hq_mono_ns() - c->last_refresh_ns < 50ull * 1000 * 1000) return;
    if (hq_cluster_refresh(c, err, sizeof err) != 0) hq_debug("cluster map refresh failed", "error", err);
}

/* Index of host:port, added (unowning any slot) when the map does not know it yet. */
static int node_index(hq_cluster *c, const char *host, int port)
{
    int i = hq_cluster_map_find(&c->map, host, port);
    if (i >= 0) return i;
    i = map_add(&c->map, host, port);
    c->conn = hq_realloc(c->conn, (size_t)c->map.nnodes * sizeof *c->conn);
    c->conn[i] = NULL;
    return i;
}

int hq_cluster_nmasters(hq_cluster *c)
{
    char err[256];
    if (!c->have_map && hq_cluster_refresh(c, err, sizeof err) != 0) return 0;
    return c->map.nnodes;
}

const char *hq_cluster_master_addr(hq_cluster *c, int i)
{
    if (i < 0 || i >= c->map.nnodes) return "?";
    snprintf(c->addr, sizeof c->addr, "%s:%d", c->map.nodes[i].host, c->map.nodes[i].port);
    return c->addr;
}

redisContext *hq_cluster_master(hq_cluster *c, int i, char *err, size_t errlen)
{
    if (i < 0 || i >= c->map.nnodes) {
        snprintf(err, errlen, "no such cluster node");
        return NULL;
    }
    if (c->conn[i] && c->conn[i]->err) {
        redisFree(c->conn[i]);
        c->conn[i] = NULL;
    }
    if (!c->conn[i]) {
        hq_redis_url nu;
        hq_cluster_node_url(&c->url, c->map.nodes[i].host, c->map.nodes[i].port, &nu);
        char e[256];
        c->conn[i] = hq_redis_connect(&nu, c->timeout_ms, e, sizeof e);
        if (!c->conn[i]) {
            snprintf(err, errlen, "%s:%d: %s", c->map.nodes[i].host, c->map.nodes[i].port, e);
            return NULL;
        }
    }
    return c->conn[i];
}

int hq_cluster_slot_master(hq_cluster *c, int slot)
{
    char err[256];
    if (!c->have_map && hq_cluster_refresh(c, err, sizeof err) != 0) return -1;
    if (slot < 0) return c->map.nnodes > 0 ? 0 : -1;
    if (c->map.slot[slot] < 0) refresh_soon(c);
    return c->map.slot[slot];
}

int hq_cluster_load_functions(hq_cluster *c, char *err, size_t errlen)
{
    int n = hq_cluster_nmasters(c);
    if (n == 0) {
        snprintf(err, errlen, "cluster topology unknown");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char e[256];
        redisContext *rc = hq_cluster_master(c, i, e, sizeof e);
        if (!rc) {
            snprintf(err, errlen, "%s", e);
            return -1;
        }
        if (hq_redis_load_functions(rc, e, sizeof e) != 0) {
            snprintf(err, errlen, "%s: %s", hq_cluster_master_addr(c, i), e);
            return -1;
        }
    }
    return 0;
}

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Sends one command to node i (with ASKING first when ask). Returns the reply
 * or NULL; *sent tells whether the command may have reached the node. */
static redisReply *send_to(hq_cluster *c, int i, int ask, int argc, const char **argv, const size_t *lens,
                           int *sent, char *err, size_t errlen)
{
    *sent = 0;
    redisContext *rc = hq_cluster_master(c, i, err, errlen);
    if (!rc) return NULL;
    if (ask) redisAppendCommand(rc, "ASKING");
    redisAppendCommandArgv(rc, argc, argv, lens);
    append_wait(c, rc);
    void *v = NULL;
    if (ask) {
        if (redisGetReply(rc, &v) != REDIS_OK || !v) goto lost;
        freeReplyObject(v);
        v = NULL;
    }
    if (redisGetReply(rc, &v) != REDIS_OK || !v) goto lost;
    int wr = read_wait(c, rc, i, err, errlen);
    if (wr < 0) {
        freeReplyObject(v);
        goto lost;
    }
    if (wr > 0 && ((redisReply *)v)->type != REDIS_REPLY_ERROR) {
        /* applied on the master, not confirmed by a replica (an error
         * reply, e.g. a redirect, wrote nothing: handled by the caller) */
        freeReplyObject(v);
        *sent = 1;
        return NULL;
    }
    return v;
lost:
    /* EOF on a connection we had kept: the command never ran (the node had
     * closed it earlier); anything else (timeout) may have run */
    *sent = rc->err != REDIS_ERR_EOF;
    snprintf(err, errlen, "%s: %s", hq_cluster_master_addr(c, i), rc->errstr[0] ? rc->errstr : "connection lost");
    redisFree(rc);
    c->conn[i] = NULL;
    return NULL;
}

redisReply *hq_cluster_command(hq_cluster *c, int argc, const char **argv, const size_t *lens, char *err,
                               size_t errlen)
{
    size_t klen = 0;
    const char *key = hq_cluster_cmd_key(argc, argv, lens, &klen);
    int slot = key ? hq_cluster_keyslot(key, klen) : -1;
    int target = -1, ask = 0, reloaded = 0;
    uint64_t give_up = hq_mono_ns() + (uint64_t)c->timeout_ms * 1000000ull;
    snprintf(err, errlen, "cluster unavailable");
    for (int attempt = 0; attempt < 16; attempt++) {
        if (attempt > 0 && hq_mono_ns() > give_up) break;
        if (target < 0) {
            target = hq_cluster_slot_master(c, slot);
            if (target < 0) {
                snprintf(err, errlen, "no cluster node owns slot %d", slot);
                refresh_soon(c);
                nap_ms(50);
                continue;
            }
        }
        int sent = 0;
        redisReply *r = send_to(c, target, ask, argc, argv, lens, &sent, err, errlen);
        if (!r) {
            /* node gone (failover in progress?): re-read the map; retry only
             * when the command cannot have run */
            refresh_soon(c);
            if (sent) return NULL;
            target = -1;
            ask = 0;
            nap_ms(attempt == 0 ? 0 : 100);
            continue;
        }
        if (r->type != REDIS_REPLY_ERROR) return r;
        int is_ask, rslot, rport;
        char rhost[256];
        if (hq_cluster_parse_redirect(r->str, &is_ask, &rslot, rhost, sizeof rhost, &rport)) {
            freeReplyObject(r);
            if (!is_ask) {
                refresh_soon(c);
                int j = node_index(c, rhost, rport);
                c->map.slot[rslot] = (int16_t)j; /* trust the redirect even if the map lags */
            }
            target = node_index(c, rhost, rport);
            ask = is_ask;
            continue;
        }
        if (hq_cluster_is_transient(r->str)) {
            snprintf(err, errlen, "%s", r->str);
            freeReplyObject(r);
            if (strncmp(err, "CLUSTERDOWN", 11) == 0 || strncmp(err, "MASTERDOWN", 10) == 0) {
                c->last_refresh_ns = 0;
                refresh_soon(c);
                target = -1;
            }
            nap_ms(20 + 20 * attempt);
            continue;
        }
        if (hq_redis_is_nofunc(r->str) && !reloaded) {
            freeReplyObject(r);
            reloaded = 1;
            char e[256];
            redisContext *rc = hq_cluster_master(c, target, e, sizeof e);
            if (!rc || hq_redis_load_functions(rc, e, sizeof e) != 0) {
                snprintf(err, errlen, "%s", e);
                return NULL;
            }
            hq_warn("redis functions missing on a cluster node; reloaded", "node", hq_cluster_master_addr(c, target));
            continue;
        }
        return r;
    }
    return NULL;
}

int hq_cluster_pipeline(hq_cluster *c, const hq_cluster_cmd *cmds, int n, redisReply **out, char *err,
                        size_t errlen)
{
    if (n <= 0) return 0;
    if (!c->have_map && hq_cluster_refresh(c, err, errlen) != 0) return -1;
    int *node = hq_malloc((size_t)n * sizeof *node);
    for (int pass = 0; pass < 2; pass++) {
        uint64_t seen = c->last_refresh_ns;
        for (int i = 0; i < n; i++) {
            size_t klen = 0;
            const char *key = hq_cluster_cmd_key(cmds[i].argc, cmds[i].argv, cmds[i].lens, &klen);
            node[i] = hq_cluster_slot_master(c, key ? hq_cluster_keyslot(key, klen) : -1);
            out[i] = NULL;
        }
        if (seen == c->last_refresh_ns) break; /* else indices may predate a new map: redo */
    }
    /* one pipeline per node, in command order within each node */
    int nn = c->map.nnodes;
    for (int t = 0; t < nn; t++) {
        int cnt = 0;
        for (int i = 0; i < n; i++) cnt += node[i] == t;
        if (!cnt) continue;
        char e[256];
        redisContext *rc = hq_cluster_master(c, t, e, sizeof e);
        if (!rc) continue; /* retried one by one below */
        for (int i = 0; i < n; i++)
            if (node[i] == t) redisAppendCommandArgv(rc, cmds[i].argc, cmds[i].argv, cmds[i].lens);
        append_wait(c, rc);
        for (int i = 0; i <= n; i++) {
            if (i < n && node[i] != t) continue;
            void *v = NULL;
            int wr = 0;
            if (i == n) { /* the node's WAIT, after all its commands */
                wr = read_wait(c, rc, t, err, errlen);
                if (wr == 0) break;
                if (wr > 0) {
                    for (int j = 0; j < n; j++)
                        if (out[j]) freeReplyObject(out[j]), out[j] = NULL;
                    hq_free(node);
                    return -1;
                }
            }
            if (wr < 0 || redisGetReply(rc, &v) != REDIS_OK || !v) {
                redisFree(rc);
                c->conn[t] = NULL;
                /* commands unanswered may or may not have run: fail the
                 * whole pipeline (the producer answers 503; a client's
                 * retry of a publish is idempotent) */
                for (int j = 0; j < n; j++)
                    if (out[j]) freeReplyObject(out[j]), out[j] = NULL;
                snprintf(err, errlen, "%s: connection lost", hq_cluster_master_addr(c, t));
                refresh_soon(c);
                hq_free(node);
                return -1;
            }
            out[i] = v;
        }
    }
    /* anything unroutable, redirected, transient or missing functions: redo
     * through the single-command path, which knows all of that */
    for (int i = 0; i < n; i++) {
        if (out[i] && out[i]->type != REDIS_REPLY_ERROR) continue;
        if (out[i]) {
            int a, s, pt;
            char h[256];
            if (!hq_cluster_parse_redirect(out[i]->str, &a, &s, h, sizeof h, &pt) &&
                !hq_cluster_is_transient(out[i]->str) && !hq_redis_is_nofunc(out[i]->str))
                continue;
            freeReplyObject(out[i]);
        }
        out[i] = hq_cluster_command(c, cmds[i].argc, cmds[i].argv, cmds[i].lens, err, errlen);
        if (!out[i]) {
            for (int j = 0; j < n; j++)
                if (out[j]) freeReplyObject(out[j]), out[j] = NULL;
            hq_free(node);
            return -1;
        }
    }
    hq_free(node);
    return 0;
}

/* ---- Sentinel ---- */

int hq_sentinel_resolve(const hq_redis_url *u, int timeout_ms, hq_redis_url *out, char *err, size_t errlen)
{
    snprintf(err, errlen, "no sentinel answered");
    const char *p = u->seeds;
    while (*p) {
        size_t n = strcspn(p, ",");
        char one[300];
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        p += n;
        if (*p == ',') p++;
        char *colon = strrchr(one, ':');
        if (!colon) continue;
        *colon = '\0';
        hq_redis_url su;
        memset(&su, 0, sizeof su);
        su.kind = HQ_REDIS_TCP;
        snprintf(su.host, sizeof su.host, "%s", one[0] == '[' ? one + 1 : one);
        char *rb = strchr(su.host, ']');
        if (rb) *rb = '\0';
        su.port = atoi(colon + 1);
        /* sentinels usually run without the data nodes' password */
        char e[256];
        redisContext *c = hq_redis_connect(&su, timeout_ms, e, sizeof e);
        if (!c) {
            snprintf(err, errlen, "sentinel %s:%d: %s", su.host, su.port, e);
            continue;
        }
        const char *argv[3] = { "SENTINEL", "get-master-addr-by-name", u->master };
        redisReply *r = redisCommandArgv(c, 3, argv, NULL);
        int ok = 0;
        if (!r) {
            snprintf(err, errlen, "sentinel %s:%d: %s", su.host, su.port, c->errstr);
        } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
                   r->element[1]->type == REDIS_REPLY_STRING) {
            hq_cluster_node_url(u, r->element[0]->str, atoi(r->element[1]->str), out);
            out->db = u->db;
            ok = out->port > 0;
        } else if (r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "sentinel %s:%d: %s", su.host, su.port, r->str);
        } else {
            snprintf(err, errlen, "sentinel %s:%d does not know master '%s'", su.host, su.port, u->master);
        }
        if (r) freeReplyObject(r);
        redisFree(c);
        if (ok) return 0;
    }
    return -1;
}

/* 1 if ROLE says master, 0 if not, -1 on error. */
static int is_master(redisContext *c)
{
    redisReply *r = redisCommand(c, "ROLE");
    if (!r) return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 && r->element[0]->type == REDIS_REPLY_STRING)
        rc = strcmp(r->element[0]->str, "master") == 0;
    freeReplyObject(r);
    return rc;
}

redisContext *hq_sentinel_connect(const hq_redis_url *u, int timeout_ms, char *err, size_t errlen)
{
    if (timeout_ms <= 0) timeout_ms = 2000;
    uint64_t give_up = hq_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
    for (int attempt = 0;; attempt++) {
        hq_redis_url mu;
        if (hq_sentinel_resolve(u, timeout_ms, &mu, err, errlen) == 0) {
            char e[256];
            redisContext *c = hq_redis_connect(&mu, timeout_ms, e, sizeof e);
            if (!c) {
                snprintf(err, errlen, "master %s:%d: %s", mu.host, mu.port, e);
            } else {
                int m = is_master(c);
                if (m == 1) return c;
                snprintf(err, errlen, "%s:%d is not a master (failover in progress)", mu.host, mu.port);
                redisFree(c);
            }
        }
        if (hq_mono_ns() > give_up || attempt >= 20) return NULL;
        nap_ms(100);
    }
}
