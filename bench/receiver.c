/* bench/receiver: a fast local webhook sink for benchmarks (issue 5).
 *
 * One libuv loop, one TCP listener on 127.0.0.1 (port 0 by default; the port
 * is printed to stdout as the first line), http_parser per connection. Every
 * POST is answered 200 with keep-alive, after an optional fixed latency kept
 * on a uv timer (so thousands of requests can wait at once), or 500 for a
 * deterministic fraction of requests (hash of X-Webhook-Id, path and
 * X-Webhook-Attempt, so a retry of a failed attempt gets a fresh draw).
 * With --secret the X-Webhook-Signature header (sha256=<hex HMAC-SHA256 of the
 * body>) is verified for every request. Each request's arrival time
 * (CLOCK_REALTIME, microseconds), status, attempt, X-Webhook-Id and path are
 * kept in memory and written as TSV to --log on exit; a JSON summary goes to
 * --out. GET on any path answers the live counters as JSON, which is how
 * scripts/bench polls for completion. Exit on SIGINT/SIGTERM or after
 * --exit-after N POSTs.
 *
 * "done" counts distinct (id, path) pairs whose outcome is final: answered 2xx,
 * or failed on an attempt >= --max-attempts. This is a benchmark tool, not part
 * of hookq: it aborts on allocation failure and keeps everything until exit. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <uv.h>
#include <http_parser.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>

#define HDR_MAX 256      /* longest header value we keep (id, signature, attempt) */
#define BODY_MAX (1u << 20)

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) { fprintf(stderr, "receiver: out of memory (%zu bytes)\n", n); abort(); }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) { fprintf(stderr, "receiver: out of memory (%zu bytes)\n", n); abort(); }
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 0x100000001b3ULL; }
    return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

/* ---- options and global counters (one receiver per process) ---- */

static struct {
    int port;
    unsigned latency_ms;
    double fail_rate;
    const char *fail_path;       /* fail only paths starting with this (NULL = all) */
    const char *secret;
    const char *sig_header;
    const char *out;
    const char *log;
    long long exit_after;
    long max_attempts;
} opt = { 0, 0, 0.0, NULL, NULL, "X-Webhook-Signature", NULL, NULL, 0, 0 };

static struct {
    long long posts, ok, failed, bad_sig, missing_sig, gets, expect100, conns, parse_errors;
    long long done, dupes;
    int64_t first_us, last_us, start_us;
} st;

struct rec { int64_t t_us; uint32_t path; uint16_t status; uint16_t attempt; char *id; };
static struct rec *recs;
static size_t nrecs, caprecs;
static char **paths;             /* interned request paths; rec.path indexes this */
static size_t npaths;

/* Open-addressing set of 64-bit hashes of final (id, path) pairs; 0 = empty. */
static uint64_t *doneset;
static size_t donecap, donelen;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_signal_t sigint_h, sigterm_h;
static EVP_MAC_CTX *mac_template;
static int stopping;

/* Inserts h; returns 1 if it was new. */
static int doneset_add(uint64_t h)
{
    if (h == 0) h = 1;
    if ((donelen + 1) * 2 > donecap) {
        size_t ncap = donecap ? donecap * 2 : 1 << 16;
        uint64_t *n = calloc(ncap, sizeof *n);
        if (!n) abort();
        for (size_t i = 0; i < donecap; i++) {
            if (!doneset[i]) continue;
            size_t j = doneset[i] & (ncap - 1);
            while (n[j]) j = (j + 1) & (ncap - 1);
            n[j] = doneset[i];
        }
        free(doneset);
        doneset = n;
        donecap = ncap;
    }
    size_t j = h & (donecap - 1);
    while (doneset[j]) {
        if (doneset[j] == h) return 0;
        j = (j + 1) & (donecap - 1);
    }
    doneset[j] = h;
    donelen++;
    return 1;
}

static uint32_t intern_path(const char *p)
{
    for (size_t i = npaths; i > 0; i--)
        if (strcmp(paths[i - 1], p) == 0) return (uint32_t)(i - 1);
    paths = xrealloc(paths, (npaths + 1) * sizeof *paths);
    paths[npaths] = xstrdup(p);
    return (uint32_t)npaths++;
}

/* ---- connections ---- */

struct conn {
    uv_tcp_t tcp;
    http_parser parser;
    int refs;                    /* 1 for the open socket + 1 per pending delayed response */
    int closing;
    /* current request */
    int hdr_state;               /* 0 none, 1 in field, 2 in value */
    char field[64];
    size_t field_len;
    int which;                   /* header being captured: 0 none, 1 id, 2 sig, 3 attempt, 4 expect */
    char id[HDR_MAX], sig[HDR_MAX], attempt[16], url[HDR_MAX];
    size_t id_len, sig_len, attempt_len, url_len;
    int expect;
    EVP_MAC_CTX *mac;
};

struct pending { uv_timer_t timer; struct conn *c; int status; };

static const char RESP_200[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok";
static const char RESP_500[] =
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nConnection: keep-alive\r\n\r\nfail";
static const char RESP_100[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void conn_unref(struct conn *c);

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (c->mac) EVP_MAC_CTX_free(c->mac);
    free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
    conn_unref(c);
}

/* Drops one reference; the last one closes the socket and frees c in the close cb. */
static void conn_unref(struct conn *c)
{
    if (--c->refs == 0) uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

struct wreq { uv_write_t w; char *heap; };

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    free(r->heap);
    free(r);
}

/* Writes len bytes of a static (or copied) buffer; tries the fast path first. */
static void conn_write(struct conn *c, const char *buf, size_t len)
{
    if (c->closing) return;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)len) return;
    if (n < 0 && n != UV_EAGAIN) { conn_close(c); return; }
    if (n < 0) n = 0;
    /* The caller's buffer may be on its stack: the slow path writes a copy. */
    struct wreq *r = xmalloc(sizeof *r);
    r->heap = xmalloc(len - (size_t)n);
    memcpy(r->heap, buf + n, len - (size_t)n);
    b = uv_buf_init(r->heap, (unsigned)(len - (size_t)n));
    if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(r->heap);
        free(r);
        conn_close(c);
    }
}

static void write_stats_json(FILE *f);

static void send_status(struct conn *c, int status)
{
    if (status == 200) conn_write(c, RESP_200, sizeof RESP_200 - 1);
    else conn_write(c, RESP_500, sizeof RESP_500 - 1);
}

static void on_pending_closed(uv_handle_t *h)
{
    struct pending *p = h->data;
    conn_unref(p->c);
    free(p);
}

static void on_latency(uv_timer_t *t)
{
    struct pending *p = t->data;
    send_status(p->c, p->status);
    uv_close((uv_handle_t *)t, on_pending_closed);
}

static void shutdown_now(void);

/* ---- http_parser callbacks ---- */

static void append(char *dst, size_t *len, size_t cap, const char *at, size_t n)
{
    if (*len + n >= cap) n = *len < cap - 1 ? cap - 1 - *len : 0;
    memcpy(dst + *len, at, n);
    *len += n;
    dst[*len] = 0;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    c->hdr_state = 0;
    c->field_len = c->id_len = c->sig_len = c->attempt_len = c->url_len = 0;
    c->id[0] = c->sig[0] = c->attempt[0] = c->url[0] = 0;
    c->expect = 0;
    c->which = 0;
    if (mac_template) {
        if (c->mac) EVP_MAC_CTX_free(c->mac);
        c->mac = EVP_MAC_CTX_dup(mac_template);
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    append(c->url, &c->url_len, sizeof c->url, at, n);
    return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->hdr_state != 1) { c->field_len = 0; c->field[0] = 0; c->hdr_state = 1; }
    append(c->field, &c->field_len, sizeof c->field, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->hdr_state != 2) {
        c->hdr_state = 2;
        if (strcasecmp(c->field, "X-Webhook-Id") == 0) c->which = 1;
        else if (strcasecmp(c->field, opt.sig_header) == 0) c->which = 2;
        else if (strcasecmp(c->field, "X-Webhook-Attempt") == 0) c->which = 3;
        else if (strcasecmp(c->field, "Expect") == 0) c->which = 4;
        else c->which = 0;
    }
    switch (c->which) {
    case 1: append(c->id, &c->id_len, sizeof c->id, at, n); break;
    case 2: append(c->sig, &c->sig_len, sizeof c->sig, at, n); break;
    case 3: append(c->attempt, &c->attempt_len, sizeof c->attempt, at, n); break;
    case 4: if (n >= 3 && strncasecmp(at, "100", 3) == 0) c->expect = 1; break;
    default: break;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    if (c->expect) {
        st.expect100++;
        conn_write(c, RESP_100, sizeof RESP_100 - 1);
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->mac) EVP_MAC_update(c->mac, (const unsigned char *)at, n);
    return 0;
}

/* Verifies "sha256=<hex>" (or bare hex) against the body's HMAC. */
static int signature_ok(struct conn *c)
{
    unsigned char mac[64];
    size_t len = 0;
    if (!c->mac || EVP_MAC_final(c->mac, mac, &len, sizeof mac) != 1) return 0;
    const char *s = c->sig;
    if (strncmp(s, "sha256=", 7) == 0) s += 7;
    /* The header may hold several space-separated signatures (rotation). */
    static const char hx[] = "0123456789abcdef";
    char want[129];
    for (size_t i = 0; i < len; i++) { want[2 * i] = hx[mac[i] >> 4]; want[2 * i + 1] = hx[mac[i] & 15]; }
    want[2 * len] = 0;
    while (*s) {
        while (*s == ' ' || *s == ',') s++;
        if (strncmp(s, "sha256=", 7) == 0) s += 7;
        size_t l = strcspn(s, " ,");
        if (l == 2 * len && CRYPTO_memcmp(s, want, l) == 0) return 1;
        s += l;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    int64_t t = now_us();
    if (p->method != HTTP_POST) {
        st.gets++;
        char body[768];
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);
        write_stats_json(f);
        fclose(f);
        int n = snprintf(body, sizeof body,
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                         "Connection: keep-alive\r\n\r\n", blen);
        conn_write(c, body, (size_t)n);
        conn_write(c, buf, blen);
        free(buf);
        return 0;
    }
    st.posts++;
    if (!st.first_us) st.first_us = t;
    st.last_us = t;
    if (opt.secret) {
        if (!c->sig_len) st.missing_sig++;
        else if (!signature_ok(c)) st.bad_sig++;
    }
    long attempt = c->attempt_len ? strtol(c->attempt, NULL, 10) : 1;
    char *q = strchr(c->url, '?');
    if (q) *q = 0;
    int status = 200;
    if (opt.fail_rate > 0 && (!opt.fail_path || strncmp(c->url, opt.fail_path, strlen(opt.fail_path)) == 0)) {
        uint64_t h = fnv1a(FNV_INIT, c->id, c->id_len);
        h = fnv1a(h, c->url, strlen(c->url));
        h = fnv1a(h, &attempt, sizeof attempt);
        h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ULL; h ^= h >> 32;
        if ((double)(h >> 11) / 9007199254740992.0 < opt.fail_rate) status = 500;
    }
    if (status == 200) st.ok++; else st.failed++;
    if (status == 200 || (opt.max_attempts > 0 && attempt >= opt.max_attempts)) {
        uint64_t h = fnv1a(FNV_INIT, c->id, c->id_len);
        h = fnv1a(h, "\n", 1);
        h = fnv1a(h, c->url, strlen(c->url));
        if (doneset_add(h)) st.done++; else st.dupes++;
    }
    if (nrecs == caprecs) {
        caprecs = caprecs ? caprecs * 2 : 1 << 16;
        recs = xrealloc(recs, caprecs * sizeof *recs);
    }
    recs[nrecs++] = (struct rec){ t, intern_path(c->url), (uint16_t)status,
                                  (uint16_t)(attempt > 0 && attempt < 65535 ? attempt : 0),
                                  c->id_len ? xstrdup(c->id) : NULL };
    if (opt.latency_ms) {
        struct pending *pd = xmalloc(sizeof *pd);
        pd->c = c;
        pd->status = status;
        c->refs++;
        uv_timer_init(loop, &pd->timer);
        pd->timer.data = pd;
        uv_timer_start(&pd->timer, on_latency, opt.latency_ms, 0);
    } else {
        send_status(c, status);
    }
    if (opt.exit_after > 0 && st.posts >= opt.exit_after) shutdown_now();
    return 0;
}

static http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static char readbuf[65536];

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    *b = uv_buf_init(readbuf, sizeof readbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) { conn_close(c); return; }
    if (n == 0) return;
    size_t used = http_parser_execute(&c->parser, &settings, b->base, (size_t)n);
    if (c->parser.upgrade || used != (size_t)n || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
        st.parse_errors++;
        conn_close(c);
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0) return;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->refs = 1;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) { uv_close((uv_handle_t *)&c->tcp, on_conn_closed); return; }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    st.conns++;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* ---- output ---- */

static void write_stats_json(FILE *f)
{
    double el = st.last_us > st.first_us ? (double)(st.last_us - st.first_us) / 1e6 : 0;
    fprintf(f,
            "{\"count\":%lld,\"ok\":%lld,\"failed\":%lld,\"done\":%lld,\"duplicates\":%lld,"
            "\"bad_signatures\":%lld,\"missing_signatures\":%lld,\"expect_100\":%lld,"
            "\"connections\":%lld,\"parse_errors\":%lld,\"first_us\":%" PRId64 ",\"last_us\":%" PRId64 ","
            "\"elapsed_s\":%.6f,\"requests_per_s\":%.1f}\n",
            st.posts, st.ok, st.failed, st.done, st.dupes, st.bad_sig, st.missing_sig, st.expect100,
            st.conns, st.parse_errors, st.first_us, st.last_us, el, el > 0 ? (double)(st.posts - 1) / el : 0.0);
}

static void write_outputs(void)
{
    if (opt.out) {
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.tmp", opt.out);
        FILE *f = fopen(tmp, "w");
        if (f) { write_stats_json(f); fclose(f); rename(tmp, opt.out); }
        else fprintf(stderr, "receiver: %s: %s\n", tmp, strerror(errno));
    }
    if (opt.log) {
        FILE *f = fopen(opt.log, "w");
        if (!f) { fprintf(stderr, "receiver: %s: %s\n", opt.log, strerror(errno)); return; }
        static char fbuf[1 << 16];
        setvbuf(f, fbuf, _IOFBF, sizeof fbuf);
        for (size_t i = 0; i < nrecs; i++)
            fprintf(f, "%" PRId64 "\t%u\t%u\t%s\t%s\n", recs[i].t_us, recs[i].status, recs[i].attempt,
                    recs[i].id ? recs[i].id : "-", paths[recs[i].path]);
        fclose(f);
    }
}

static void shutdown_now(void)
{
    if (stopping) return;
    stopping = 1;
    write_outputs();
    fflush(stdout);
    /* Benchmark tool: no graceful drain needed; exit right away. */
    _exit(0);
}

static void on_signal(uv_signal_t *h, int sig)
{
    shutdown_now();
}

static void usage(void)
{
    fprintf(stderr,
            "usage: receiver [--port P] [--latency-ms MS] [--fail-rate P] [--fail-path PREFIX]\n"
            "                [--max-attempts N] [--secret S] [--sig-header NAME]\n"
            "                [--out summary.json] [--log requests.tsv] [--exit-after N]\n"
            "Prints the listening port as the first stdout line. GET any path -> live counters.\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(); return 0; }
        if (!v) { usage(); return 2; }
        i++;
        char *end = NULL;
        errno = 0;
        if (strcmp(a, "--port") == 0) opt.port = (int)strtol(v, &end, 10);
        else if (strcmp(a, "--latency-ms") == 0) opt.latency_ms = (unsigned)strtoul(v, &end, 10);
        else if (strcmp(a, "--fail-rate") == 0) opt.fail_rate = strtod(v, &end);
        else if (strcmp(a, "--fail-path") == 0) opt.fail_path = v;
        else if (strcmp(a, "--max-attempts") == 0) opt.max_attempts = strtol(v, &end, 10);
        else if (strcmp(a, "--secret") == 0) opt.secret = v;
        else if (strcmp(a, "--sig-header") == 0) opt.sig_header = v;
        else if (strcmp(a, "--out") == 0) opt.out = v;
        else if (strcmp(a, "--log") == 0) opt.log = v;
        else if (strcmp(a, "--exit-after") == 0) opt.exit_after = strtoll(v, &end, 10);
        else { fprintf(stderr, "receiver: unknown option %s\n", a); usage(); return 2; }
        if (end && (*end || errno)) { fprintf(stderr, "receiver: bad value for %s: '%s'\n", a, v); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    if (opt.secret) {
        EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
        mac_template = m ? EVP_MAC_CTX_new(m) : NULL;
        OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                                OSSL_PARAM_construct_end() };
        if (!mac_template || EVP_MAC_init(mac_template, (const unsigned char *)opt.secret,
                                          strlen(opt.secret), params) != 1) {
            fprintf(stderr, "receiver: cannot set up HMAC-SHA256\n");
            return 1;
        }
        EVP_MAC_free(m);
    }
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", opt.port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 4096, on_connection);
    if (rc != 0) { fprintf(stderr, "receiver: listen: %s\n", uv_strerror(rc)); return 1; }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &sl);
    printf("%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);
    st.start_us = now_us();
    uv_signal_init(loop, &sigint_h);
    uv_signal_start(&sigint_h, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm_h);
    uv_signal_start(&sigterm_h, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    shutdown_now();
    return 0;
}
