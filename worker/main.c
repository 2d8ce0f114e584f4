/* hookq-worker: the delivery daemon (SPEC 1, 4, 7, 9).
 *
 * This file is the process shell: the configuration table (environment
 * variables with matching flags, --help generated from it), the checks that
 * must fail fast with exit code 2 (bad values, Redis unreachable, a shard
 * count that differs from the one recorded in <prefix>:meta), signal
 * handling (the first SIGTERM/SIGINT drains and exits 0, a second one exits
 * 1 at once) and the final accounting (uv_loop_close must find no handle
 * left open). The loop itself is worker.c. */
#include "hq_fmacros.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include "hq_alloc.h"
#include "hq_cluster.h"
#include "hq_config.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "worker.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

#define DAY_MS (86400LL * 1000)

static struct hq_worker W;

static void on_signal(uv_signal_t *s, int signum)
{
    struct hq_worker *w = s->data;
    if (w->stopping) {
        hq_warn("second signal: exiting now", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT");
        _exit(1);
    }
    worker_stop(w);
}

/* What we print for the Redis URL: never the password. */
static void url_display(const hq_redis_url *u, char *out, size_t n)
{
    if (u->kind == HQ_REDIS_UNIX)
        snprintf(out, n, "unix://%s", u->path);
    else if (u->kind == HQ_REDIS_CLUSTER)
        snprintf(out, n, "redis-cluster://%s", u->seeds);
    else if (u->kind == HQ_REDIS_SENTINEL)
        snprintf(out, n, "redis-sentinel://%s/%s", u->seeds, u->master);
    else
        snprintf(out, n, "redis://%s:%d/%d", u->host, u->port, u->db);
}

/* Judges the reply to HGET <prefix>:meta shards (why = the connection's error
 * when there is no reply). 0 when it matches HOOKQ_SHARDS; else -1 with err. */
static int meta_shards_ok(const struct hq_worker *w, const redisReply *r, const char *why, const char *disp,
                          const char *meta, char *err, size_t errlen)
{
    char shards[16];
    snprintf(shards, sizeof shards, "%d", w->shards);
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "HOOKQ_REDIS_URL: '%s': %s", disp, r ? r->str : why);
        return -1;
    }
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, shards) != 0) {
        snprintf(err, errlen, "HOOKQ_SHARDS: %d does not match the %s shards recorded in %s",
                 w->shards, r->str, meta);
        return -1;
    }
    return 0;
}

/* redis-cluster://: the same checks through hq_cluster: the slot map is
 * read from the seeds, the meta key is checked on its master and the
 * function library is loaded on every master. */
static int startup_check_cluster(struct hq_worker *w, const char *disp, char *err, size_t errlen)
{
    char e[256], meta[HQ_KEY_MAX], now[24], shards[16];
    hq_cluster *c = hq_cluster_new(&w->url, 2000);
    if (hq_cluster_refresh(c, e, sizeof e) != 0) {
        snprintf(err, errlen, "HOOKQ_REDIS_URL: cannot read the cluster topology from '%s': %s", disp, e);
        hq_cluster_free(c);
        return -1;
    }
    hq_key_global(meta, sizeof meta, w->prefix, "meta");
    snprintf(now, sizeof now, "%lld", (long long)hq_now_ms());
    snprintf(shards, sizeof shards, "%d", w->shards);
    const char *a1[] = { "HSETNX", meta, "shards", shards };
    const char *a2[] = { "HSETNX", meta, "created", now };
    const char *a3[] = { "HGET", meta, "shards" };
    redisReply *r = hq_cluster_command(c, 4, a1, NULL, e, sizeof e);
    if (r) freeReplyObject(r);
    r = hq_cluster_command(c, 4, a2, NULL, e, sizeof e);
    if (r) freeReplyObject(r);
    r = hq_cluster_command(c, 3, a3, NULL, e, sizeof e);
    int rc = meta_shards_ok(w, r, e, disp, meta, err, errlen);
    if (r) freeReplyObject(r);
    if (rc == 0 && hq_cluster_load_functions(c, e, sizeof e) != 0) {
        snprintf(err, errlen, "HOOKQ_REDIS_URL: '%s': cannot load the function library: %s", disp, e);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < hq_cluster_nmasters(c); i++) {
        redisContext *m = hq_cluster_master(c, i, e, sizeof e);
        if (m && hq_redis_check_noeviction(m) == 0)
            hq_warn("Redis maxmemory-policy is not noeviction on a cluster master: queued deliveries can be "
                    "evicted and lost", "node", hq_cluster_master_addr(c, i));
    }
    hq_cluster_free(c);
    return rc;
}

/* Connects synchronously once: Redis must be reachable at start, the shard
 * count must match <prefix>:meta (recorded by the first process), and the
 * function library is loaded. Returns 0, or -1 with err (exit 2). */
static int startup_check(struct hq_worker *w, char *err, size_t errlen)
{
    char e[256], disp[1400];
    url_display(&w->url, disp, sizeof disp);
    if (w->url.kind == HQ_REDIS_CLUSTER)
        return startup_check_cluster(w, disp, err, errlen);
    redisContext *c = hq_redis_connect(&w->url, 2000, e, sizeof e);
    if (!c) {
        snprintf(err, errlen, "HOOKQ_REDIS_URL: cannot connect to '%s': %s", disp, e);
        return -1;
    }
    char meta[HQ_KEY_MAX], now[24], shards[16];
    hq_key_global(meta, sizeof meta, w->prefix, "meta");
    snprintf(now, sizeof now, "%lld", (long long)hq_now_ms());
    snprintf(shards, sizeof shards, "%d", w->shards);
    redisReply *r = redisCommand(c, "HSETNX %s shards %s", meta, shards);
    if (r) freeReplyObject(r);
    r = redisCommand(c, "HSETNX %s created %s", meta, now);
    if (r) freeReplyObject(r);
    r = redisCommand(c, "HGET %s shards", meta);
    int rc = meta_shards_ok(w, r, c->errstr, disp, meta, err, errlen);
    if (r) freeReplyObject(r);
    if (rc == 0 && hq_redis_load_functions(c, e, sizeof e) != 0) {
        snprintf(err, errlen, "HOOKQ_REDIS_URL: '%s': cannot load the function library: %s", disp, e);
        rc = -1;
    }
    if (rc == 0 && hq_redis_check_noeviction(c) == 0)
        hq_warn("Redis maxmemory-policy is not noeviction: queued deliveries can be evicted and lost");
    redisFree(c);
    return rc;
}

int main(int argc, char **argv)
{
    struct hq_worker *w = &W;
    char *redis_url = NULL, *log_format = NULL, *log_level = NULL, *allow_cidrs = NULL, *master_key = NULL;
    long long shards = 0, conc = 0, epconc = 0, max_claims = 0, attempt_log = 0;
    char err[512];
    hq_opt opts[] = {
        { "HOOKQ_REDIS_URL", "redis-url", HQ_OPT_STR, "redis://127.0.0.1:6379/0", 0, 0, 0, NULL,
          "Redis: redis://[user:pass@]host:port/db, unix:///path, "
          "redis-cluster://[user:pass@]host:port[,host:port...] or redis-sentinel://host:port[,...]/<master>",
          &redis_url },
        { "HOOKQ_PREFIX", "prefix", HQ_OPT_STR, "hookq", 0, 0, 0, NULL, "prefix of every Redis key", &w->prefix },
        { "HOOKQ_SHARDS", "shards", HQ_OPT_INT, "16", 0, 1, 4096, NULL,
          "number of shards (must match the installation)", &shards },
        { "HOOKQ_LISTEN", "listen", HQ_OPT_STR, "127.0.0.1:9464", 0, 0, 0, NULL,
          "address for /metrics /healthz /readyz (host:port, port 0, or unix:/path)", &w->listen },
        { "HOOKQ_CONCURRENCY", "concurrency", HQ_OPT_INT, "1024", 0, 1, 100000, NULL,
          "deliveries claimed/in flight per worker", &conc },
        { "HOOKQ_ENDPOINT_CONCURRENCY", "endpoint-concurrency", HQ_OPT_INT, "32", 0, 1, 100000, NULL,
          "deliveries in flight per endpoint per worker", &epconc },
        { "HOOKQ_RETRY_SCHEDULE", "retry-schedule", HQ_OPT_SCHEDULE, "1m,5m,30m,2h,6h", 0, 0, 0, NULL,
          "delays after failed attempts; attempts = entries + 1", &w->schedule },
        { "HOOKQ_TIMEOUT", "timeout", HQ_OPT_DURATION, "10s", 0, 100, 30000, NULL,
          "per-attempt timeout (an endpoint may lower it)", &w->timeout_ms },
        { "HOOKQ_CLAIM_IDLE", "claim-idle", HQ_OPT_DURATION, "60s", 0, 200, 7 * DAY_MS, NULL,
          "idle time after which another worker's claimed entry is reclaimed (> HOOKQ_TIMEOUT)",
          &w->claim_idle_ms },
        { "HOOKQ_MAX_CLAIMS", "max-claims", HQ_OPT_INT, "5", 0, 1, 1000, NULL,
          "claims without an outcome after which an entry is dead (poison)", &max_claims },
        { "HOOKQ_DRAIN_TIMEOUT", "drain-timeout", HQ_OPT_DURATION, "30s", 0, 0, 3600000, NULL,
          "on SIGTERM, how long in-flight attempts may finish", &w->drain_ms },
        { "HOOKQ_DISABLE_AFTER", "disable-after", HQ_OPT_DURATION, "5d", 0, 0, 3650 * DAY_MS, NULL,
          "disable an endpoint whose attempts all failed this long (0 = never)", &w->disable_after_ms },
        { "HOOKQ_RETENTION", "retention", HQ_OPT_DURATION, "7d", 0, 1000, 3650 * DAY_MS, NULL,
          "how long finished deliveries and attempt logs are kept", &w->retention_ms },
        { "HOOKQ_ATTEMPT_LOG", "attempt-log", HQ_OPT_INT, "1000", 0, 1, 10000000, NULL,
          "attempts kept per endpoint", &attempt_log },
        { "HOOKQ_ALLOW_PRIVATE_NETWORKS", "allow-private-networks", HQ_OPT_BOOL, "0", 0, 0, 0, NULL,
          "allow delivery to loopback/private/link-local addresses (dev and tests only)", &w->allow_private },
        { "HOOKQ_ALLOW_CIDRS", "allow-cidrs", HQ_OPT_STR, "", 0, 0, 0, NULL,
          "networks delivered to even when private (comma-separated CIDRs, e.g. 10.1.0.0/16,fd00::/8)",
          &allow_cidrs },
        { "HOOKQ_CA_FILE", "ca-file", HQ_OPT_STR, NULL, 0, 0, 0, NULL,
          "CA bundle for HTTPS endpoints (default: the system's)", &w->ca_file },
        { "HOOKQ_WORKER_ID", "worker-id", HQ_OPT_STR, NULL, 0, 0, 0, NULL,
          "consumer name in the group (default <hostname>-<pid>)", &w->id },
        { "HOOKQ_MASTER_KEY", "master-key", HQ_OPT_STR, NULL, 0, 0, 0, NULL,
          "<kid>:<base64 of 32 bytes>[,...]: keys that open sealed endpoint secrets (same value as the producer's)",
          &master_key },
        { "HOOKQ_LOG_FORMAT", "log-format", HQ_OPT_ENUM, "json", 0, 0, 0, "json|text", "log format", &log_format },
        { "HOOKQ_LOG_LEVEL", "log-level", HQ_OPT_ENUM, "info", 0, 0, 0, "debug|info|warn|error",
          "minimum log level", &log_level },
        { 0 },
    };
    int rc = hq_config_parse(opts, argc, argv, "hookq-worker",
                             "hookq delivery worker: claims deliveries from Redis and POSTs them.",
                             NULL, err, sizeof err);
    if (rc == 1) {
        hq_config_free(opts);
        return 0;
    }
    if (rc != 0) {
        fprintf(stderr, "hookq-worker: %s\n", err);
        hq_config_free(opts);
        return 2;
    }
    w->shards = (int)shards;
    w->concurrency = (int)conc;
    w->ep_concurrency = (int)epconc;
    w->max_claims = (int)max_claims;
    w->attempt_log = (int)attempt_log;
    enum hq_log_level lvl = HQ_LOG_INFO;
    if (strcmp(log_level, "debug") == 0) lvl = HQ_LOG_DEBUG;
    else if (strcmp(log_level, "warn") == 0) lvl = HQ_LOG_WARN;
    else if (strcmp(log_level, "error") == 0) lvl = HQ_LOG_ERROR;
    hq_log_setup("worker", strcmp(log_format, "json") == 0, lvl);

    int exit_code = 0;
    if (hq_prefix_check(w->prefix, err, sizeof err) != 0) {
        fprintf(stderr, "hookq-worker: HOOKQ_PREFIX: invalid value '%s': %s\n", w->prefix, err);
        exit_code = 2;
        goto out_config;
    }
    if (w->claim_idle_ms <= w->timeout_ms) {
        char a[32], b[32];
        hq_format_duration(w->claim_idle_ms, a, sizeof a);
        hq_format_duration(w->timeout_ms, b, sizeof b);
        fprintf(stderr, "hookq-worker: HOOKQ_CLAIM_IDLE: invalid value '%s': must be longer than "
                        "HOOKQ_TIMEOUT (%s)\n", a, b);
        exit_code = 2;
        goto out_config;
    }
    if (w->ca_file && w->ca_file[0] && access(w->ca_file, R_OK) != 0) {
        /* else every HTTPS attempt would fail, one by one, until dead */
        fprintf(stderr, "hookq-worker: HOOKQ_CA_FILE: invalid value '%s': %s\n", w->ca_file, strerror(errno));
        exit_code = 2;
        goto out_config;
    }
    if (http_allow_cidrs(allow_cidrs, err, sizeof err) != 0) {
        fprintf(stderr, "hookq-worker: %s\n", err);
        exit_code = 2;
        goto out_config;
    }
    if (master_key && master_key[0] && hq_keyring_parse(master_key, &w->keyring, err, sizeof err) != 0) {
        fprintf(stderr, "hookq-worker: HOOKQ_MASTER_KEY: invalid value: %s\n", err);   /* never echo the key */
        exit_code = 2;
        goto out_config;
    }
    if (hq_redis_url_parse(redis_url, &w->url, err, sizeof err) != 0) {
        char shown[1200];
        hq_redis_url_redact(redis_url, shown, sizeof shown);
        fprintf(stderr, "hookq-worker: HOOKQ_REDIS_URL: invalid value '%s': %s\n", shown, err);
        exit_code = 2;
        goto out_config;
    }
    if (gethostname(w->host, sizeof w->host - 1) != 0)
        strcpy(w->host, "unknown");
    if (!w->id || !w->id[0]) {
        char id[320];
        snprintf(id, sizeof id, "%s-%d", w->host, (int)getpid());
        hq_free(w->id);
        w->id = hq_strdup(id);
    }
    if (startup_check(w, err, sizeof err) != 0) {
        fprintf(stderr, "hookq-worker: %s\n", err);
        exit_code = 2;
        goto out_config;
    }
    if (w->claim_idle_ms < 31000) {
        /* an endpoint's timeout_ms may ask for up to 30 s; delivery.c cuts
         * every attempt to HOOKQ_CLAIM_IDLE - 1 s so no live claim is
         * reclaimed: say so once rather than silently (after every exit-2
         * check, so those stay one line) */
        char a[32], b[32];
        hq_format_duration(w->claim_idle_ms, a, sizeof a);
        hq_format_duration(w->claim_idle_ms - 1000, b, sizeof b);
        hq_warn("HOOKQ_CLAIM_IDLE is under 31s: endpoint timeouts above HOOKQ_CLAIM_IDLE - 1s are cut to it",
                "claim_idle", a, "attempt_timeout_max", b);
    }

    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)(hq_now_ms() ^ (getpid() << 16)));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_init(&loop, &w->sigterm);
    uv_signal_init(&loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, on_signal, SIGTERM);
    uv_signal_start(&w->sigint, on_signal, SIGINT);
    if (worker_init(w, &loop) != 0)
        _exit(2);
    if (status_listen(w) != 0)
        _exit(2);
    {
        char sh[16], cc[16], disp[1400];
        snprintf(sh, sizeof sh, "%d", w->shards);
        snprintf(cc, sizeof cc, "%d", w->concurrency);
        url_display(&w->url, disp, sizeof disp);
        hq_info("started", "version", HOOKQ_VERSION, "worker", w->id, "redis", disp, "shards", sh,
                "concurrency", cc);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    worker_free(w);
    int lc = uv_loop_close(&loop);
    if (lc != 0) {
        hq_error("handles left open at exit", "error", uv_strerror(lc));
        exit_code = 1;
    }
    curl_global_cleanup();
    hq_info("stopped", "worker", w->id);
out_config:
    hq_keyring_free(w->keyring);
    w->keyring = NULL;
    hq_config_free(opts);
    return exit_code;
}
