/* bench/baseline: the reference sender for issue 5 — what a bare libcurl
 * multi client does on this machine, with no Redis and no queue.
 *
 * It keeps N signed POSTs in flight (default 64) against one URL for D seconds
 * and prints requests/s. It is built like hookq's worker so the comparison is
 * fair: one libuv loop driving curl's multi socket API, one easy handle per
 * in-flight slot (reused, so connections are kept alive), socket polls kept
 * while a connection idles between requests (as the worker does), and per request the
 * headers hookq sends: a fresh X-Webhook-Id and timestamp, X-Webhook-Signature
 * (sha256=hex HMAC-SHA256 of the body keyed by --secret) and the Standard
 * Webhooks signature (base64 HMAC-SHA256 over id.timestamp.body) — two HMACs
 * computed per request. The body is --size bytes (default 1024) of JSON whose
 * id differs per request.
 *
 * Output: one human line on stderr and one JSON line on stdout:
 * {"requests":…, "ok":…, "errors":…, "seconds":…, "requests_per_s":…}. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <uv.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/core_names.h>

static struct {
    const char *url;
    int inflight;
    double seconds;
    size_t size;
    const char *secret;
    int fresh_conn;
    int poll_mode;               /* 1: curl_multi_perform + curl_multi_poll loop instead of libuv */
} opt = { NULL, 64, 10.0, 1024, "bench_secret_0123456789abcdef", 0, 0 };

static uv_loop_t *loop;
static CURLM *multi;
static uv_timer_t curl_timer, stop_timer;
static EVP_MAC_CTX *mac_template;
static int stopping;
static long long n_started, n_ok, n_err, n_status_bad;
static uint64_t t_start_ns, t_end_ns;
static int active;

struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    char *body;
    size_t body_len;
    char err[CURL_ERROR_SIZE];
};
static struct slot *slots;

struct sock_ctx { uv_poll_t poll; curl_socket_t fd; int ev, idle, conn; };

static void hmac(const char *data1, size_t l1, const char *data2, size_t l2, unsigned char *out, size_t *outlen)
{
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(mac_template);
    EVP_MAC_update(c, (const unsigned char *)data1, l1);
    if (l2) EVP_MAC_update(c, (const unsigned char *)data2, l2);
    EVP_MAC_final(c, out, outlen, 64);
    EVP_MAC_CTX_free(c);
}

static void check_done(void);

/* Prepares slot s for its next request: new id, body, timestamp, two HMACs. */
static void slot_arm(struct slot *s)
{
    static const char hx[] = "0123456789abcdef";
    char id[48], ts[32], ts_unix[24], h[512];
    long long seq = n_started++;
    snprintf(id, sizeof id, "evt_bench%015lld", seq);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(ts_unix, sizeof ts_unix, "%lld", (long long)now);

    int n = snprintf(s->body, opt.size + 1,
                     "{\"id\":\"%s\",\"type\":\"bench.event\",\"created_at\":\"%s\",\"org_id\":\"bench\",\"data\":{\"blob\":\"",
                     id, ts);
    size_t len = (size_t)n;
    while (len + 3 < opt.size) s->body[len++] = 'x';
    memcpy(s->body + len, "\"}}", 3);
    len += 3;
    s->body_len = len;

    unsigned char mac[64];
    size_t ml = 0;
    hmac(s->body, s->body_len, NULL, 0, mac, &ml);
    char hexsig[140] = "X-Webhook-Signature: sha256=";
    size_t o = strlen(hexsig);
    for (size_t i = 0; i < ml; i++) { hexsig[o++] = hx[mac[i] >> 4]; hexsig[o++] = hx[mac[i] & 15]; }
    hexsig[o] = 0;

    /* Standard Webhooks: base64(HMAC(id.timestamp.body)). */
    char prefix[96];
    int pl = snprintf(prefix, sizeof prefix, "%s.%s.", id, ts_unix);
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(mac_template);
    EVP_MAC_update(c, (const unsigned char *)prefix, (size_t)pl);
    EVP_MAC_update(c, (const unsigned char *)s->body, s->body_len);
    EVP_MAC_final(c, mac, &ml, sizeof mac);
    EVP_MAC_CTX_free(c);
    char b64[100];
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)ml);

    if (s->hdrs) curl_slist_free_all(s->hdrs);
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, "Content-Type: application/json");
    l = curl_slist_append(l, "User-Agent: hookq-baseline/0.1");
    l = curl_slist_append(l, "Expect:");
    l = curl_slist_append(l, "Accept:");
    snprintf(h, sizeof h, "X-Webhook-Id: %s", id); l = curl_slist_append(l, h);
    l = curl_slist_append(l, "X-Webhook-Event: bench.event");
    snprintf(h, sizeof h, "X-Webhook-Timestamp: %s", ts); l = curl_slist_append(l, h);
    l = curl_slist_append(l, "X-Webhook-Attempt: 1");
    l = curl_slist_append(l, hexsig);
    snprintf(h, sizeof h, "webhook-id: %s", id); l = curl_slist_append(l, h);
    snprintf(h, sizeof h, "webhook-timestamp: %s", ts_unix); l = curl_slist_append(l, h);
    snprintf(h, sizeof h, "webhook-signature: v1,%s", b64); l = curl_slist_append(l, h);
    s->hdrs = l;

    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)s->body_len);
    curl_multi_add_handle(multi, s->easy);
    active++;
}

static size_t discard(char *p, size_t sz, size_t n, void *u) { return sz * n; }

static void drain_done(void)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL *e = m->easy_handle;
        struct slot *s = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
        long code = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
        if (m->data.result != CURLE_OK) {
            n_err++;
            if (n_err <= 5) fprintf(stderr, "baseline: %s\n", s->err[0] ? s->err : curl_easy_strerror(m->data.result));
        } else if (code >= 200 && code < 300) n_ok++;
        else n_status_bad++;
        curl_multi_remove_handle(multi, e);
        active--;
        if (!stopping) slot_arm(s);
    }
    check_done();
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *c = p->data;
    int flags = 0;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(multi, c->fd, flags, &running);
    drain_done();
}

static void on_curl_timeout(uv_timer_t *t)
{
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain_done();
}

static int timer_cb(CURLM *m, long ms, void *u)
{
    if (ms < 0) uv_timer_stop(&curl_timer);
    else uv_timer_start(&curl_timer, on_curl_timeout, (uint64_t)ms, 0);
    return 0;
}

static void on_poll_closed(uv_handle_t *h) { free(h->data); }

/* Socket contexts by fd. As in hookq's worker (worker/http.c): a socket's
 * uv_poll lives from the first time curl watches it until curl closes it.
 * libcurl 7.88 says CURL_POLL_REMOVE whenever a kept-alive connection goes
 * idle and re-adds it on reuse; closing and re-creating the poll each time
 * costs ~6 epoll_ctl per request, which is the integration's cost, not
 * curl's. An idle socket keeps polling for readable (no syscall) and is
 * stopped if it turns readable while idle (peer closed it). */
static struct sock_ctx **byfd;
static int nbyfd;

static struct sock_ctx *ctx_of(curl_socket_t fd, int create)
{
    if (fd >= nbyfd) {
        if (!create) return NULL;
        int n = fd * 2 + 16;
        byfd = realloc(byfd, (size_t)n * sizeof *byfd);
        if (!byfd) abort();
        memset(byfd + nbyfd, 0, (size_t)(n - nbyfd) * sizeof *byfd);
        nbyfd = n;
    }
    if (!byfd[fd] && create) {
        struct sock_ctx *c = calloc(1, sizeof *c);
        if (!c) abort();
        c->fd = fd;
        uv_poll_init_socket(loop, &c->poll, fd);
        c->poll.data = c;
        byfd[fd] = c;
    }
    return byfd[fd];
}

static void on_idle_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *c = p->data;
    uv_poll_stop(&c->poll);
    c->ev = 0;
}

static int socket_cb(CURL *e, curl_socket_t fd, int what, void *u, void *sockp)
{
    struct sock_ctx *c = ctx_of(fd, what != CURL_POLL_REMOVE);
    if (what == CURL_POLL_REMOVE) {
        if (c && (!c->conn || c->ev != UV_READABLE)) {
            /* not a connection (e.g. a resolver's socketpair), or one that
             * did not wait for a response (a connect curl gave up on):
             * libcurl 7.88 closes those without the close callback (curl PR
             * #11439), so the poll must not outlive curl's interest */
            byfd[fd] = NULL;
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, on_poll_closed);
        } else if (c && c->ev) {
            /* idle: keep watching for readable, but only to notice a close */
            c->idle = 1;
            uv_poll_start(&c->poll, UV_READABLE, on_idle_poll);
            c->ev = UV_READABLE;
        }
        return 0;
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    if (ev != c->ev || c->idle) uv_poll_start(&c->poll, ev, on_poll);
    c->ev = ev;
    c->idle = 0;
    return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: marks connection sockets (closed through
 * close_cb). */
static curl_socket_t open_cb(void *u, curlsocktype purpose, struct curl_sockaddr *a)
{
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd >= 0) {
        struct sock_ctx *c = ctx_of(fd, 0);
        if (c && c->idle) {
            /* a fresh fd under an idle poll: its socket was closed behind
             * our back; the poll goes (DEL on the fresh fd is a no-op) */
            byfd[fd] = NULL;
            uv_poll_stop(&c->poll);
            uv_close((uv_handle_t *)&c->poll, on_poll_closed);
        } else if (c) {
            /* curl still watches this number: move the poll to the new
             * socket (curl may not ask again for a number it watches) */
            uv_poll_stop(&c->poll);
            if (c->ev) uv_poll_start(&c->poll, c->ev, on_poll);
        }
        c = ctx_of(fd, 1);
        c->conn = 1;
    }
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: the poll goes before the fd does. */
static int close_cb(void *u, curl_socket_t fd)
{
    struct sock_ctx *c = ctx_of(fd, 0);
    if (c) {
        byfd[fd] = NULL;
        uv_poll_stop(&c->poll);
        uv_close((uv_handle_t *)&c->poll, on_poll_closed);
    }
    return close(fd);
}

static void on_stop(uv_timer_t *t)
{
    stopping = 1;
    t_end_ns = uv_hrtime();
    check_done();
}

static void check_done(void)
{
    if (stopping && active == 0 && !opt.poll_mode) {
        uv_timer_stop(&curl_timer);
        uv_stop(loop);
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: baseline --url URL [--inflight N=64] [--seconds D=10] [--size BYTES=1024]\n"
                    "                [--secret S] [--fresh-conn] [--poll-loop]\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(); return 0; }
        if (strcmp(a, "--fresh-conn") == 0) { opt.fresh_conn = 1; continue; }
        if (strcmp(a, "--poll-loop") == 0) { opt.poll_mode = 1; continue; }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (!v) { usage(); return 2; }
        char *end = NULL;
        if (strcmp(a, "--url") == 0) opt.url = v;
        else if (strcmp(a, "--inflight") == 0) opt.inflight = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--seconds") == 0) opt.seconds = strtod(v, &end);
        else if (strcmp(a, "--size") == 0) opt.size = strtoul(v, &end, 10);
        else if (strcmp(a, "--secret") == 0) opt.secret = v;
        else { fprintf(stderr, "baseline: unknown option %s\n", a); usage(); return 2; }
        if (end && *end) { fprintf(stderr, "baseline: bad value for %s: '%s'\n", a, v); return 2; }
    }
    if (!opt.url || opt.inflight < 1 || opt.seconds <= 0 || opt.size < 160) { usage(); return 2; }

    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    mac_template = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                            OSSL_PARAM_construct_end() };
    if (!mac_template ||
        EVP_MAC_init(mac_template, (const unsigned char *)opt.secret, strlen(opt.secret), params) != 1) {
        fprintf(stderr, "baseline: cannot set up HMAC-SHA256\n");
        return 1;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    loop = uv_default_loop();
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)opt.inflight * 2);
    uv_timer_init(loop, &curl_timer);
    uv_timer_init(loop, &stop_timer);

    slots = calloc((size_t)opt.inflight, sizeof *slots);
    if (!slots) abort();
    for (int i = 0; i < opt.inflight; i++) {
        struct slot *s = &slots[i];
        s->body = malloc(opt.size + 1);
        if (!s->body) abort();
        s->easy = curl_easy_init();
        curl_easy_setopt(s->easy, CURLOPT_URL, opt.url);
        curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
        curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, s->err);
        curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(s->easy, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(s->easy, CURLOPT_OPENSOCKETFUNCTION, open_cb);
        curl_easy_setopt(s->easy, CURLOPT_CLOSESOCKETFUNCTION, close_cb);
        if (opt.fresh_conn) curl_easy_setopt(s->easy, CURLOPT_FORBID_REUSE, 1L);
    }
    t_start_ns = uv_hrtime();
    for (int i = 0; i < opt.inflight; i++) slot_arm(&slots[i]);
    if (opt.poll_mode) {
        /* Reference for the reference: the classic multi_perform loop, no libuv. */
        curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, NULL);
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, NULL);
        uint64_t deadline = t_start_ns + (uint64_t)(opt.seconds * 1e9);
        int running = 1;
        while (active > 0) {
            curl_multi_perform(multi, &running);
            if (!stopping && uv_hrtime() >= deadline) { stopping = 1; t_end_ns = uv_hrtime(); }
            drain_done();
            if (active > 0) curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
    } else {
        uv_timer_start(&stop_timer, on_stop, (uint64_t)(opt.seconds * 1000), 0);
        uv_run(loop, UV_RUN_DEFAULT);
    }

    double secs = (double)(t_end_ns - t_start_ns) / 1e9;
    long long done = n_ok + n_err + n_status_bad;
    double rps = (double)done / ((double)(uv_hrtime() - t_start_ns) / 1e9);
    fprintf(stderr, "baseline: %s inflight=%d size=%zu: %lld requests in %.2fs = %.0f req/s (ok %lld, errors %lld, non-2xx %lld)\n",
            opt.url, opt.inflight, opt.size, done, secs, rps, n_ok, n_err, n_status_bad);
    printf("{\"url\":\"%s\",\"inflight\":%d,\"size\":%zu,\"requests\":%lld,\"ok\":%lld,\"errors\":%lld,"
           "\"non_2xx\":%lld,\"seconds\":%.3f,\"requests_per_s\":%.1f}\n",
           opt.url, opt.inflight, opt.size, done, n_ok, n_err, n_status_bad, secs, rps);

    for (int i = 0; i < opt.inflight; i++) {
        curl_easy_cleanup(slots[i].easy);
        curl_slist_free_all(slots[i].hdrs);
        free(slots[i].body);
    }
    curl_multi_cleanup(multi);
    free(slots);
    EVP_MAC_CTX_free(mac_template);
    EVP_MAC_free(m);
    curl_global_cleanup();
    return (n_ok > 0) ? 0 : 1;
}
