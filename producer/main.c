/* hookq-producer: the HTTP front door (SPEC 2, 3, 5, 8). This file holds the
 * configuration table, startup and shutdown:
 *   parse config (exit 2 on any bad value) -> connect to Redis (exit 2 when
 *   unreachable) -> load the function library -> check maxmemory-policy ->
 *   record/verify the shard count in <prefix>:meta -> create every shard's
 *   consumer group -> listen -> run the loop until SIGTERM/SIGINT -> close
 *   the server and signal handles, free everything, uv_loop_close() == 0.
 * Requests are handled in api.c and the route files. */
#include "hq_fmacros.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include "hq_alloc.h"
#include "hq_cluster.h"
#include "hq_config.h"
#include "hq_id.h"
#include "hq_keys.h"
#include "hq_log.h"
#include "hq_metrics.h"
#include "eventtypes.h"
#include "producer.h"
#include "ui.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

#define DAY_MS (86400LL * 1000)

static void die2(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die2(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", PRODUCER_NAME);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static int token_valid(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80 || !(isalnum((unsigned char)*s) || strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

static enum hq_log_level level_of(const char *s)
{
    if (strcmp(s, "debug") == 0) return HQ_LOG_DEBUG;
    if (strcmp(s, "warn") == 0) return HQ_LOG_WARN;
    if (strcmp(s, "error") == 0) return HQ_LOG_ERROR;
    return HQ_LOG_INFO;
}

/* Runs one startup command on p->rc; exits 2 naming HOOKQ_REDIS_URL when
 * Redis fails. Returns the reply (never NULL). */
static redisReply *startup_cmd(struct producer *p, const char *url, int argc, const char **argv)
{
    if (p->cluster) { /* redis-cluster://: routed to the key's master */
        char err[256];
        redisReply *r = hq_cluster_command(p->cluster, argc, argv, NULL, err, sizeof err);
        if (!r) die2("HOOKQ_REDIS_URL: '%s': %s", url, err);
        return r;
    }
    redisReply *r = redisCommandArgv(p->rc, argc, argv, NULL);
    if (!r) die2("HOOKQ_REDIS_URL: '%s': %s", url, p->rc->errstr[0] ? p->rc->errstr : "connection lost");
    return r;
}

/* redis-cluster://: reads the slot map from the seeds and loads the function
 * library on every master (functions are per node). Exits 2 on failure. */
static void cluster_startup(struct producer *p, const char *url)
{
    char err[512];
    p->cluster = hq_cluster_new(&p->rurl, (int)p->cfg.redis_timeout_ms);
    hq_cluster_set_wait(p->cluster, (int)p->cfg.redis_wait, (int)p->cfg.redis_timeout_ms / 2);
    p->last_connect_ns = hq_mono_ns();
    if (hq_cluster_refresh(p->cluster, err, sizeof err) != 0)
        die2("HOOKQ_REDIS_URL: cannot read the cluster topology from '%s': %s", url, err);
    if (hq_cluster_load_functions(p->cluster, err, sizeof err) != 0)
        die2("HOOKQ_REDIS_URL: cannot load the hookq function library into '%s' (Redis >= 7.0 needed): %s", url,
             err);
}

/* redis-cluster://: checks every master's maxmemory-policy and logs the
 * cluster's size. Run after every exit-2 check, so that those stay the one
 * line on stderr. */
static void cluster_report(struct producer *p)
{
    char err[512];
    int n = hq_cluster_nmasters(p->cluster);
    for (int i = 0; i < n; i++) {
        redisContext *rc = hq_cluster_master(p->cluster, i, err, sizeof err);
        if (rc && hq_redis_check_noeviction(rc) == 0)
            hq_warn("Redis maxmemory-policy is not noeviction on a cluster master: Redis may silently drop "
                    "queued deliveries; set maxmemory-policy noeviction", "node",
                    hq_cluster_master_addr(p->cluster, i));
    }
    char nb[16];
    snprintf(nb, sizeof nb, "%d", n);
    hq_info("redis cluster", "masters", nb);
}

/* <prefix>:meta records the shard count; a different HOOKQ_SHARDS refuses to run. */
static void check_shards(struct producer *p, const char *url)
{
    char key[HQ_KEY_MAX], n[24], now[24];
    hq_key_global(key, sizeof key, p->cfg.prefix, "meta");
    snprintf(n, sizeof n, "%lld", p->cfg.shards);
    snprintf(now, sizeof now, "%lld", (long long)hq_now_ms());
    const char *a1[] = { "HSETNX", key, "shards", n };
    freeReplyObject(startup_cmd(p, url, 4, a1));
    const char *a2[] = { "HSETNX", key, "created", now };
    freeReplyObject(startup_cmd(p, url, 4, a2));
    const char *a3[] = { "HGET", key, "shards" };
    redisReply *r = startup_cmd(p, url, 3, a3);
    if (r->type == REDIS_REPLY_ERROR) die2("HOOKQ_REDIS_URL: '%s': %s", url, r->str);
    if (r->type == REDIS_REPLY_STRING && strcmp(r->str, n) != 0)
        die2("HOOKQ_SHARDS: %s does not match the %s shards recorded in Redis (%s); "
             "use HOOKQ_SHARDS=%s or another HOOKQ_PREFIX",
             n, r->str, key, r->str);
    freeReplyObject(r);
}

static void on_http_closed(void *arg)
{
    struct producer *p = arg;
    p->http = NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct producer *p = h->data;
    if (p->stopping) return;
    p->stopping = 1;
    hq_info("shutting down", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    uv_signal_stop(&p->sigterm);
    uv_signal_stop(&p->sigint);
    uv_close((uv_handle_t *)&p->sigterm, NULL);
    uv_close((uv_handle_t *)&p->sigint, NULL);
    /* answers the batch publishes still waiting for Redis first */
    producer_redis_async_close(p);
    if (p->http) hq_http_close(p->http, on_http_closed, p);
}

int main(int argc, char **argv)
{
    static struct producer prod;
    struct producer *p = &prod;
    struct producer_config *c = &p->cfg;
    signal(SIGPIPE, SIG_IGN);
    /* the workers' settings of SPEC 2's table: checked here too, so a bad
     * value is an exit-2 error wherever it is given (not used otherwise) */
    int64_t w_timeout = 0;
    long long w_conc = 0, w_epconc = 0;
    int w_private = 0;

    const hq_opt opts[] = {
        { "HOOKQ_REDIS_URL", "redis-url", HQ_OPT_STR, "redis://127.0.0.1:6379/0", 0, 0, 0, NULL,
          "redis://[user:pass@]host:port/db, unix:///path/to/sock[?db=N], "
          "redis-cluster://[user:pass@]host:port[,host:port...], redis-sentinel://host:port[,...]/<master>",
          &c->redis_url },
        { "HOOKQ_PREFIX", "prefix", HQ_OPT_STR, "hookq", 0, 0, 0, NULL, "prefix of every Redis key", &c->prefix },
        { "HOOKQ_SHARDS", "shards", HQ_OPT_INT, "16", 0, 1, HQ_SHARDS_MAX, NULL,
          "number of shards (streams); must match what Redis records", &c->shards },
        { "HOOKQ_LISTEN", "listen", HQ_OPT_STR, "127.0.0.1:8080", 0, 0, 0, NULL,
          "API listen address: host:port or unix:/path", &c->listen },
        { "HOOKQ_API_TOKEN", "api-token", HQ_OPT_STR, NULL, 1, 0, 0, NULL,
          "bearer token required by every /v1 route", &c->api_token },
        { "HOOKQ_MAX_BODY", "max-body", HQ_OPT_SIZE, "256KiB", 0, 1024, 64LL * 1024 * 1024, NULL,
          "largest accepted request body", &c->max_body },
        { "HOOKQ_REQUIRE_HTTPS", "require-https", HQ_OPT_BOOL, "0", 0, 0, 0, NULL,
          "only accept https endpoint URLs", &c->require_https },
        { "HOOKQ_PAYLOAD_FORMAT", "payload-format", HQ_OPT_ENUM, "hookq", 0, 0, 0, "hookq|event_payload|event_data",
          "default payload format of new endpoints", &c->payload_format },
        { "HOOKQ_SIGNATURE_HEADER", "signature-header", HQ_OPT_STR, "X-Webhook-Signature", 0, 0, 0, NULL,
          "default signature header of new endpoints", &c->signature_header },
        { "HOOKQ_SIGNATURE_FORMAT", "signature-format", HQ_OPT_ENUM, "sha256=hex", 0, 0, 0, "sha256=hex|hex|none",
          "default signature format of new endpoints", &c->signature_format },
        { "HOOKQ_RETRY_SCHEDULE", "retry-schedule", HQ_OPT_SCHEDULE, "1m,5m,30m,2h,6h", 0, 0, 0, NULL,
          "delays after attempts 1..n (validated here; used by workers)", &c->retry_schedule },
        { "HOOKQ_TIMEOUT", "timeout", HQ_OPT_DURATION, "10s", 0, 100, 30000, NULL,
          "per-attempt timeout (validated here; used by workers)", &w_timeout },
        { "HOOKQ_CONCURRENCY", "concurrency", HQ_OPT_INT, "1024", 0, 1, 100000, NULL,
          "deliveries in flight per worker (validated here; used by workers)", &w_conc },
        { "HOOKQ_ENDPOINT_CONCURRENCY", "endpoint-concurrency", HQ_OPT_INT, "32", 0, 1, 100000, NULL,
          "deliveries in flight per endpoint per worker (validated here; used by workers)", &w_epconc },
        { "HOOKQ_ALLOW_PRIVATE_NETWORKS", "allow-private-networks", HQ_OPT_BOOL, "0", 0, 0, 0, NULL,
          "allow delivery to loopback/private addresses (validated here; used by workers)", &w_private },
        { "HOOKQ_RETENTION", "retention", HQ_OPT_DURATION, "7d", 0, 1000, 3650 * DAY_MS, NULL,
          "how long events and delivery records are kept (at least 24h for idempotency)", &c->retention_ms },
        { "HOOKQ_ROTATION_OVERLAP", "rotation-overlap", HQ_OPT_DURATION, "24h", 0, 0, 365 * DAY_MS, NULL,
          "how long a rotated-out secret keeps signing", &c->rotation_overlap_ms },
        { "HOOKQ_REDIS_TIMEOUT", "redis-timeout", HQ_OPT_DURATION, "2s", 0, 10, 60000, NULL,
          "Redis connect and command timeout", &c->redis_timeout_ms },
        { "HOOKQ_REDIS_WAIT", "redis-wait", HQ_OPT_INT, "0", 0, 0, 16, NULL,
          "replicas that must confirm every write (WAIT) before the API answers; 0 = don't wait "
          "(see docs/scaling.md: what a failover can lose)", &c->redis_wait },
        { "HOOKQ_MASTER_KEY", "master-key", HQ_OPT_STR, NULL, 0, 0, 0, NULL,
          "<kid>:<base64 of 32 bytes>[,<kid>:<base64>...]: seals endpoint secrets in Redis (AES-256-GCM); "
          "the first key seals, all open (rotation). Unset: stored in clear",
          &c->master_key },
        { "HOOKQ_EVENT_TYPES", "event-types", HQ_OPT_STR, "", 0, 0, 0, NULL,
          "comma-separated event types declared for every org (the console's event catalogue)",
          &producer_event_types_env },
        { "HOOKQ_UI_DIR", "ui-dir", HQ_OPT_STR, "", 0, 0, 0, NULL,
          "serve the web console (/ui/) from this directory instead of the copy built into the binary",
          &producer_ui_dir },
        { "HOOKQ_LOG_FORMAT", "log-format", HQ_OPT_ENUM, "json", 0, 0, 0, "json|text", "log format", &c->log_format },
        { "HOOKQ_LOG_LEVEL", "log-level", HQ_OPT_ENUM, "info", 0, 0, 0, "debug|info|warn|error", "minimum log level",
          &c->log_level },
        { NULL, NULL, 0, NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    char err[512];
    int rc = hq_config_parse(opts, argc, argv, PRODUCER_NAME,
                             "hookq HTTP API: ingest events, manage endpoints, inspect deliveries.", NULL, err,
                             sizeof err);
    if (rc == 1) {
        hq_config_free(opts);
        return 0;
    }
    if (rc < 0) {
        hq_config_free(opts);
        die2("%s", err);
    }
    hq_log_setup("producer", strcmp(c->log_format, "json") == 0, level_of(c->log_level));
    if (!token_valid(c->signature_header))
        die2("HOOKQ_SIGNATURE_HEADER: invalid value '%s': must be a valid HTTP header name", c->signature_header);
    if (!c->api_token[0]) die2("HOOKQ_API_TOKEN is required");
    if (producer_event_types_check(err, sizeof err) != 0 || producer_ui_check(err, sizeof err) != 0) die2("%s", err);
    if (c->master_key && c->master_key[0] && hq_keyring_parse(c->master_key, &p->keyring, err, sizeof err) != 0)
        die2("HOOKQ_MASTER_KEY: invalid value: %s", err);   /* never echo the key */
    if (hq_prefix_check(c->prefix, err, sizeof err) != 0)
        die2("HOOKQ_PREFIX: invalid value '%s': %s", c->prefix, err);

    char shown[1200];
    int noeviction = 1;   /* hq_redis_check_noeviction's answer, logged once listening */
    hq_redis_url_redact(c->redis_url, shown, sizeof shown);
    if (hq_redis_url_parse(c->redis_url, &p->rurl, err, sizeof err) != 0)
        die2("HOOKQ_REDIS_URL: invalid value '%s': %s", shown, err);
    if (p->rurl.kind == HQ_REDIS_CLUSTER) {
        cluster_startup(p, shown);
    } else {
        p->rc = hq_redis_connect(&p->rurl, (int)c->redis_timeout_ms, err, sizeof err);
        if (!p->rc) die2("HOOKQ_REDIS_URL: cannot connect to '%s': %s", shown, err);
        p->last_connect_ns = hq_mono_ns();
        if (hq_redis_load_functions(p->rc, err, sizeof err) != 0)
            die2("HOOKQ_REDIS_URL: cannot load the hookq function library into '%s' (Redis >= 7.0 needed): %s", shown,
                 err);
        noeviction = hq_redis_check_noeviction(p->rc);
    }
    check_shards(p, shown);
    if (producer_ensure_groups(p, p->rc, err, sizeof err) != 0)
        die2("HOOKQ_REDIS_URL: '%s': %s", shown, err);

    p->epdef.payload_format = c->payload_format;
    p->epdef.signature_header = c->signature_header;
    p->epdef.signature_format = c->signature_format;
    p->epdef.require_https = c->require_https;
    p->keep_seconds = c->retention_ms / 1000;
    if (p->keep_seconds < 86400) p->keep_seconds = 86400;

    p->metrics = hq_metrics_new();
    p->m_ingested = hq_metrics_get(p->metrics, HQ_COUNTER, "hookq_events_ingested_total",
                                   "Events accepted and fanned out (repeats of an id not counted)", NULL, NULL, 0);
    hq_metrics_get(p->metrics, HQ_COUNTER, "hookq_http_requests_total",
                   "HTTP requests answered by the producer, by status code", "code=\"200\"", NULL, 0);
    p->m_redis_errors = hq_metrics_get(p->metrics, HQ_COUNTER, "hookq_redis_errors_total",
                                       "Redis commands that failed (connection errors and error replies)", NULL,
                                       NULL, 0);
    hq_metric *bi = hq_metrics_get(p->metrics, HQ_GAUGE, "hookq_build_info", "Build information",
                                   "version=\"" HOOKQ_VERSION "\",component=\"producer\"", NULL, 0);
    hq_metric_set(bi, 1);

    p->loop = uv_default_loop();
    p->http = hq_http_listen(p->loop, c->listen, (size_t)c->max_body, producer_handle, p, err, sizeof err);
    if (!p->http) die2("HOOKQ_LISTEN: %s", err);
    hq_http_on_error(p->http, producer_count_answer);

    /* the warnings only now, after every exit-2 check, so those stay one-line */
    if (p->cluster)
        cluster_report(p);
    else if (noeviction == 0)
        hq_warn("Redis maxmemory-policy is not noeviction: Redis may silently drop queued deliveries; "
                "set maxmemory-policy noeviction");
    else if (noeviction < 0)
        hq_info("cannot read Redis maxmemory-policy (CONFIG refused); make sure it is noeviction");
    if (!p->keyring)
        hq_warn("HOOKQ_MASTER_KEY is not set: endpoint secrets and credentials are stored in Redis in clear");
    char addr[300];
    if (strncmp(c->listen, "unix:", 5) == 0) {
        snprintf(addr, sizeof addr, "%s", c->listen);
    } else {
        const char *colon = strrchr(c->listen, ':');
        snprintf(addr, sizeof addr, "%.*s:%d", (int)(colon - c->listen), c->listen, hq_http_port(p->http));
    }
    hq_info("listening", "addr", addr);

    producer_redis_async_init(p);
    uv_signal_init(p->loop, &p->sigterm);
    uv_signal_init(p->loop, &p->sigint);
    p->sigterm.data = p->sigint.data = p;
    uv_signal_start(&p->sigterm, on_signal, SIGTERM);
    uv_signal_start(&p->sigint, on_signal, SIGINT);

    uv_run(p->loop, UV_RUN_DEFAULT);

    producer_redis_drop(p);
    hq_metrics_free(p->metrics);
    producer_event_types_free();
    hq_keyring_free(p->keyring);
    int lc = uv_loop_close(p->loop);
    if (lc != 0) hq_error("event loop still has open handles at exit", "error", uv_strerror(lc));
    hq_info("stopped");
    hq_config_free(opts);
    return lc == 0 ? 0 : 1;
}
