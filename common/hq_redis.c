/* hq_redis: Redis connection settings (URL parsing), synchronous connections
 * for the producer, CLI and tests (connect with timeout, AUTH, SELECT), and
 * loading of hookq's function library (common/hookq.lua, embedded in the
 * binary at build time as hq_lua_library). Library code: never prints,
 * reports failures as text in the caller's buffer. */
#include "hq_fmacros.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "hq_redis.h"
#include "hq_cluster.h"

static int hexv(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes n bytes of s into out (outlen bytes). 0 or -1 (too long). */
static int decode_into(const char *s, size_t n, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%' && i + 2 < n && hexv((unsigned char)s[i + 1]) >= 0 &&
            hexv((unsigned char)s[i + 2]) >= 0) {
            ch = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        }
        if (j + 1 >= outlen) return -1;
        out[j++] = ch;
    }
    out[j] = '\0';
    return 0;
}

/* Strict decimal of n bytes into *v within [min, max]. 0 or -1. */
static int parse_num(const char *s, size_t n, long min, long max, long *v)
{
    if (n == 0 || n > 9) return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x < min || x > max) return -1;
    *v = x;
    return 0;
}

/* Parses "user:pass@" (if any) at the front of [s, end); advances *s past it. */
static int parse_userinfo(const char **s, const char *end, hq_redis_url *u)
{
    const char *at = NULL;
    for (const char *p = *s; p < end; p++)
        if (*p == '@') at = p;
    if (!at) return 0;
    const char *colon = memchr(*s, ':', (size_t)(at - *s));
    if (colon) {
        if (decode_into(*s, (size_t)(colon - *s), u->user, sizeof u->user) != 0) return -1;
        if (decode_into(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass) != 0) return -1;
    } else {
        if (decode_into(*s, (size_t)(at - *s), u->user, sizeof u->user) != 0) return -1;
    }
    *s = at + 1;
    return 0;
}

/* "host:port" or "[v6]:port" (port optional when defport > 0). */
static int parse_hostport(const char *s, size_t n, char *host, size_t hostlen, int *port, int defport)
{
    const char *hs = s, *he, *ps = NULL;
    const char *end = s + n;
    if (n > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', n);
        if (!rb) return -1;
        hs = s + 1;
        he = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') return -1;
            ps = rb + 2;
        }
    } else {
        const char *colon = memchr(s, ':', n);
        he = colon ? colon : end;
        if (colon) ps = colon + 1;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl >= hostlen) return -1;
    memcpy(host, hs, hl);
    host[hl] = '\0';
    if (ps) {
        long v;
        if (parse_num(ps, (size_t)(end - ps), 1, 65535, &v) != 0) return -1;
        *port = (int)v;
    } else {
        if (defport <= 0) return -1;
        *port = defport;
    }
    return 0;
}

/* Validates a comma-separated seed list and copies it into u->seeds. */
static int parse_seeds(const char *s, size_t n, hq_redis_url *u)
{
    if (n == 0 || n >= sizeof u->seeds) return -1;
    const char *p = s, *end = s + n;
    int first = 1;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *se = comma ? comma : end;
        char host[256];
        int port;
        if (parse_hostport(p, (size_t)(se - p), host, sizeof host, &port, 0) != 0) return -1;
        if (first) {
            snprintf(u->host, sizeof u->host, "%s", host);
            u->port = port;
            first = 0;
        }
        p = comma ? comma + 1 : end;
        if (comma && p == end) return -1;
    }
    memcpy(u->seeds, s, n);
    u->seeds[n] = '\0';
    return 0;
}

int hq_redis_url_parse(const char *url, hq_redis_url *out, char *err, size_t errlen)
{
    hq_redis_url u;
    memset(&u, 0, sizeof u);
    u.port = 6379;
    const char *s;
    if (!url || !*url) {
        snprintf(err, errlen, "empty Redis URL");
        return -1;
    }
    if (strncmp(url, "redis://", 8) == 0) {
        u.kind = HQ_REDIS_TCP;
        s = url + 8;
        const char *end = s + strcspn(s, "/?#");
        if (parse_userinfo(&s, end, &u) != 0) goto bad;
        if (parse_hostport(s, (size_t)(end - s), u.host, sizeof u.host, &u.port, 6379) != 0) goto bad;
        if (*end == '/') {
            const char *d = end + 1;
            size_t dl = strcspn(d, "?#");
            if (dl > 0) {
                long v;
                if (parse_num(d, dl, 0, 1000000, &v) != 0) goto bad;
                u.db = (int)v;
            }
            if (d[dl]) goto bad;
        } else if (*end) {
            goto bad;
        }
    } else if (strncmp(url, "unix://", 7) == 0 || strncmp(url, "unix:/", 6) == 0) {
        u.kind = HQ_REDIS_UNIX;
        s = url + (strncmp(url, "unix://", 7) == 0 ? 7 : 5);
        if (*s != '/') goto bad;
        size_t pl = strcspn(s, "?");
        if (pl >= sizeof u.path || pl < 2) goto bad;
        memcpy(u.path, s, pl);
        u.path[pl] = '\0';
        if (s[pl] == '?') {
            const char *q = s + pl + 1;
            if (strncmp(q, "db=", 3) != 0) goto bad;
            long v;
            if (parse_num(q + 3, strlen(q + 3), 0, 1000000, &v) != 0) goto bad;
            u.db = (int)v;
        }
    } else if (strncmp(url, "redis-cluster://", 16) == 0) {
        u.kind = HQ_REDIS_CLUSTER;
        s = url + 16;
        const char *end = s + strcspn(s, "/?#");
        if (parse_userinfo(&s, end, &u) != 0) goto bad;
        if (parse_seeds(s, (size_t)(end - s), &u) != 0) goto bad;
        if (*end && !(end[0] == '/' && end[1] == '\0')) goto bad;
    } else if (strncmp(url, "redis-sentinel://", 17) == 0) {
        u.kind = HQ_REDIS_SENTINEL;
        s = url + 17;
        const char *slash = strchr(s, '/');
        if (!slash) goto bad;
        if (parse_userinfo(&s, slash, &u) != 0) goto bad;
        if (parse_seeds(s, (size_t)(slash - s), &u) != 0) goto bad;
        const char *m = slash + 1;
        size_t ml = strcspn(m, "/?#");
        if (ml == 0 || ml >= sizeof u.master) goto bad;
        memcpy(u.master, m, ml);
        u.master[ml] = '\0';
        if (m[ml] == '/') {
            long v;
            if (parse_num(m + ml + 1, strlen(m + ml + 1), 0, 1000000, &v) != 0) goto bad;
            u.db = (int)v;
        } else if (m[ml]) {
            goto bad;
        }
    } else {
        snprintf(err, errlen, "unknown scheme (use redis://, unix://, redis-cluster:// or redis-sentinel://)");
        return -1;
    }
    *out = u;
    return 0;
bad:
    snprintf(err, errlen, "invalid Redis URL");
    return -1;
}

/* Runs one command on c; returns 0 or -1 with "<what>: <error>" in err. */
static int simple(redisContext *c, const char *what, int argc, const char **argv, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "%s: %s", what, c->errstr[0] ? c->errstr : "connection lost");
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s: %s", what, r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

redisContext *hq_redis_connect(const hq_redis_url *u, int timeout_ms, char *err, size_t errlen)
{
    if (u->kind == HQ_REDIS_CLUSTER) {
        snprintf(err, errlen, "redis-cluster:// is a cluster, not a single connection (use hq_cluster)");
        return NULL;
    }
    if (u->kind == HQ_REDIS_SENTINEL) /* resolve the master now, on every (re)connect */
        return hq_sentinel_connect(u, timeout_ms, err, errlen);
    if (timeout_ms <= 0) timeout_ms = 2000;
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    redisContext *c = u->kind == HQ_REDIS_UNIX ? redisConnectUnixWithTimeout(u->path, tv)
                                               : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection failed");
        redisFree(c);
        return NULL;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(err, errlen, "cannot set socket timeout");
        redisFree(c);
        return NULL;
    }
    if (u->pass[0] || u->user[0]) {
        const char *argv[3] = { "AUTH", u->user, u->pass };
        int rc = u->user[0] ? simple(c, "AUTH", 3, argv, err, errlen)
                            : (argv[1] = u->pass, simple(c, "AUTH", 2, argv, err, errlen));
        if (rc != 0) {
            redisFree(c);
            return NULL;
        }
    }
    if (u->db != 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = { "SELECT", db };
        if (simple(c, "SELECT", 2, argv, err, errlen) != 0) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

int hq_redis_load_functions(redisContext *c, char *err, size_t errlen)
{
    const char *argv[3] = { "FUNCTION", "LOAD", "REPLACE" };
    size_t lens[4] = { 8, 4, 7, hq_lua_library_len };
    const char *av[4] = { argv[0], argv[1], argv[2], hq_lua_library };
    redisReply *r = redisCommandArgv(c, 4, av, lens);
    if (!r) {
        snprintf(err, errlen, "FUNCTION LOAD: %s", c->errstr[0] ? c->errstr : "connection lost");
        return -1;
    }
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "FUNCTION LOAD: %s", r->str);
        rc = -1;
    }
    freeReplyObject(r);
    return rc;
}

int hq_redis_is_nofunc(const char *errstr)
{
    return errstr && strstr(errstr, "Function not found") != NULL;
}

int hq_redis_check_noeviction(redisContext *c)
{
    const char *argv[3] = { "CONFIG", "GET", "maxmemory-policy" };
    redisReply *r = redisCommandArgv(c, 3, argv, NULL);
    if (!r) return -1;
    int rc = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_STRING)
        rc = strcmp(r->element[1]->str, "noeviction") == 0;
    freeReplyObject(r);
    return rc;
}

/* See hq_redis.h. */
void hq_redis_url_redact(const char *url, char *out, size_t n)
{
    snprintf(out, n, "%s", url);
    char *s = strstr(out, "://");
    if (!s) return;
    s += 3;
    /* the last '@' of the whole value, not of the authority alone: this
     * runs on URLs the parser refused, e.g. for a password holding a raw
     * '/', '?' or '#' (over-redacting a path is harmless) */
    char *at = strrchr(s, '@');
    if (!at) return;
    char *colon = memchr(s, ':', (size_t)(at - s));
    if (!colon) return;
    char tmp[2048];
    int k = snprintf(tmp, sizeof tmp, "%.*s:***%s", (int)(colon - out), out, at);
    if (k < 0 || (size_t)k >= sizeof tmp) return;
    memcpy(out, tmp, (size_t)k + 1 <= n ? (size_t)k + 1 : n);
    out[n - 1] = '\0';
}
