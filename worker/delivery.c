/* delivery: one attempt of one delivery, from request to outcome.
 *
 * delivery_start builds the request exactly as SPEC 4 and 4a describe (body
 * per the endpoint's payload format, shared across the batch's deliveries of
 * the same event; X-Webhook-* headers; the configurable signature header;
 * Standard Webhooks headers; auth and custom headers) and hands it to http.c.
 * delivery_http_done classifies the result (2xx delivered, 410 gone, else a
 * failure retried per schedule or dead after the last step), writes the
 * attempt record JSON that hookq_complete stores, and queues the outcome for
 * the worker's once-per-iteration flush. Nothing here blocks or talks to
 * Redis. Secrets, auth values and signatures never reach the logs, and the
 * attempt record shows them as "[redacted]". */
#include "hq_fmacros.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "hq_alloc.h"
#include "hq_json.h"
#include "hq_log.h"
#include "hq_payload.h"
#include "hq_retry.h"
#include "hq_sign.h"
#include "worker.h"

#ifndef HOOKQ_VERSION
#define HOOKQ_VERSION "0.0.0"
#endif

enum { C_2XX, C_3XX, C_4XX, C_5XX, C_TIMEOUT, C_CONNECT, C_TLS, C_BLOCKED, C_OTHER };
static const char *class_names[] = { "2xx", "3xx", "4xx", "5xx", "timeout", "connect", "tls",
                                     "blocked", "other" };

void event_unref(struct event *ev)
{
    if (!ev || --ev->refs > 0)
        return;
    for (int i = 0; i < 3; i++)
        hq_free(ev->body[i]);
    hq_free(ev->data);
    hq_free(ev);   /* id, org, type, ca: same allocation */
}

void event_data_release(struct event *ev)
{
    if (ev && --ev->data_users == 0) {
        /* every holder has its body: the payload is not read again (at 5,000
         * in flight this was ~1 KiB per delivery held for the whole attempt) */
        hq_free(ev->data);
        ev->data = NULL;
    }
}

void event_data_done(struct delivery *d)
{
    if (!d->ev || !d->ev_data)
        return;
    d->ev_data = 0;
    event_data_release(d->ev);
}

/* The body for format f, built on first use and kept with the event. The
 * caller holds ev's data (delivery.ev_data). */
static const char *event_body(struct event *ev, enum hq_payload_format f, size_t *len)
{
    if ((int)f < 0 || f > 2)
        f = HQ_FMT_HOOKQ;
    if (!ev->body[f]) {
        if (!ev->data) {
            /* a holder's count went wrong: sending "{}" would be a silent
             * wrong payload, so stop here */
            hq_error("internal: event payload freed while a body was still to be built", "event", ev->id);
            abort();
        }
        hq_event_view v = { ev->id, ev->type, ev->org, ev->ca, ev->ts, ev->data, ev->data_len };
        /* sized once: the envelope's fields plus room for its keys and a
         * timestamp, so the usual body is built without a realloc */
        size_t est = ev->data_len + strlen(ev->id) + strlen(ev->type) + strlen(ev->org) + strlen(ev->ca) + 128;
        hq_buf b;
        hq_buf_init(&b, 0);
        b.data = hq_malloc(est);
        b.data[0] = '\0';
        b.cap = est;
        hq_payload_build(f, &v, &b);
        ev->body[f] = hq_buf_steal(&b, &ev->body_len[f]);
    }
    *len = ev->body_len[f];
    return ev->body[f];
}

/* The attempt record is written into one scratch buffer kept between
 * records (the worker is single-threaded) with plain memcpy, then copied
 * out exactly once (record_json). */
static char *rb;
static size_t rb_len, rb_cap;

/* Room for n more bytes (and a NUL) at rb + rb_len. */
static char *rb_room(size_t n)
{
    if (rb_len + n + 1 > rb_cap) {
        size_t c = rb_cap ? rb_cap : 2048;
        while (c < rb_len + n + 1)
            c *= 2;
        rb = hq_realloc(rb, c);
        rb_cap = c;
    }
    return rb + rb_len;
}

static void rb_put(const void *p, size_t n)
{
    memcpy(rb_room(n), p, n);
    rb_len += n;
}

#define RB_LIT(s) rb_put(s, sizeof(s) - 1)

/* 1 for the bytes hq_json_write_string escapes: controls, '"' and '\'. */
static const unsigned char json_esc[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* The length of the longest prefix of u[0..n) with no byte json_esc marks,
 * eight bytes at a time: a word holds such a byte when one of its bytes is
 * below 0x20 or equals '"' or '\\' (the usual "has a byte less than" and
 * "has a zero byte" tests: never a miss, a rare false alarm only sends that
 * word through the table). */
static size_t json_plain(const unsigned char *u, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, q, b;
        memcpy(&x, u + i, 8);
        q = x ^ (ONES * '"');
        b = x ^ (ONES * '\\');
        if (((x - ONES * 0x20) & ~x & HIGHS) | ((q - ONES) & ~q & HIGHS) | ((b - ONES) & ~b & HIGHS))
            break;
    }
    while (i < n && !json_esc[u[i]])
        i++;
    return i;
}

/* Appends s[0..n) as a JSON string, byte for byte what hq_json_write_string
 * writes; in one copy when nothing needs escaping (the usual case). */
static void rb_json(const char *s, size_t n)
{
    size_t i = json_plain((const unsigned char *)s, n);
    if (i < n) {
        hq_buf t;
        hq_buf_init(&t, 0);
        hq_json_write_string(&t, s, n);
        rb_put(t.data, t.len);
        hq_buf_free(&t);
        return;
    }
    char *o = rb_room(n + 2);
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    rb_len += n + 2;
}

/* Appends s as JSON string, replacing each invalid UTF-8 byte by U+FFFD. */
static void rb_lossy(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] < 0x80)
        i++;
    if (i == n) {   /* ASCII: nothing to replace */
        rb_json((const char *)s, n);
        return;
    }
    hq_buf clean;
    hq_buf_init(&clean, 0);
    hq_buf_append(&clean, s, i);
    while (i < n) {
        unsigned char c = s[i];
        size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) { hq_buf_putc(&clean, (char)c); i++; continue; }
        else if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
        else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
        else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
        int ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) ok = 0;
            else cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
            ok = 0;
        if (ok) {
            hq_buf_append(&clean, s + i, len);
            i += len;
        } else {
            hq_buf_puts(&clean, "\xef\xbf\xbd");
            i++;
        }
    }
    rb_json(clean.data ? clean.data : "", clean.len);
    hq_buf_free(&clean);
}

static void rb_str(const char *s)
{
    if (s)
        rb_json(s, strlen(s));
    else
        RB_LIT("null");
}


static void rb_i64(int64_t v)
{
    char *p = rb_room(24);   /* may move rb */
    rb_len = (size_t)(hq_i64_dec(p, v) - rb);
}

/* hq_rfc3339 and hq_rfc3339_ms of the same second, formatted once per
 * second: "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes), or with ".mmm"
 * (out >= 25 bytes) when with_ms. */
static void rfc3339(int64_t ms, char *out, int with_ms)
{
    static int64_t sec = INT64_MIN;
    static char text[21];
    int64_t s = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    if (s != sec) {
        hq_rfc3339(s * 1000, text);
        sec = s;
    }
    if (!with_ms) {
        memcpy(out, text, 21);
        return;
    }
    int milli = (int)(ms - s * 1000);
    memcpy(out, text, 19);
    out[19] = '.';
    out[20] = (char)('0' + milli / 100);
    out[21] = (char)('0' + milli / 10 % 10);
    out[22] = (char)('0' + milli % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

/* ---- request headers ----
 * The header lines go to curl in as few curl_slist nodes as possible: curl
 * compares the start of every node against the names it handles itself
 * (Host, Accept, Content-Type, Content-Length, Expect, ...) several times per
 * request and formats each node separately, so hookq's own headers
 * (Content-Type through the auth header) are one node of "name: value" lines
 * joined by CRLF, which curl sends verbatim: the bytes on the wire are the
 * same as with one node per header. Content-Type opens that node, so curl,
 * which only looks at the start of a node, still sees it and adds no
 * form-urlencoded type of its own (one node fewer: -1.2k instructions per
 * request, callgrind). Every custom header, and the "Expect:" and "Accept:"
 * that switch off curl's defaults, stay nodes of their own, so curl still
 * sees each of them (a custom header with a blank value is left out, as
 * curl would drop it). Values with CR or LF are never sent.
 *
 * The node texts are gathered in one scratch buffer kept between requests
 * (ht: "...\0" each, written with memcpy, names and values measured once)
 * and then copied, with their curl_slist nodes, into one allocation
 * (hdr_block): no malloc per header. The worker is single-threaded. Only
 * names and values that come from the event or the endpoint are checked for
 * CR, LF (and a colon in a name); hookq's own names and the values it
 * formats (timestamps, numbers, hex and base64) cannot hold them. The
 * attempt record's request_headers are written from that block when the
 * attempt ends (rb_request_headers). */
static char *ht;             /* the node texts: "...\0" each */
static size_t ht_len, ht_cap;
static int hdr_n;
static int hdr_merging;      /* the last node takes more lines */

/* Room for n more bytes at ht + ht_len. */
static char *ht_room(size_t n)
{
    if (ht_len + n > ht_cap) {
        size_t c = ht_cap ? ht_cap : 1024;
        while (c < ht_len + n)
            c *= 2;
        ht = hq_realloc(ht, c);
        ht_cap = c;
    }
    return ht + ht_len;
}

/* Bytes that may not be sent: 1 = CR or LF (never in a name or a value),
 * 2 = ':' (never in a name). */
static const unsigned char hdr_bad[256] = { ['\r'] = 1, ['\n'] = 1, [':'] = 2 };

/* 1 when s[0..n) may be a header value (no CR or LF). */
static int value_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++)
        if (hdr_bad[u[i]] & 1)
            return 0;
    return 1;
}

/* 1 when s[0..n) may be a header name (no CR, LF or colon). */
static int name_ok(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++)
        if (hdr_bad[u[i]])
            return 0;
    return 1;
}

/* Appends "name: value" (no terminator). */
static void hdr_put(const char *name, size_t nl, const char *value, size_t vl)
{
    char *p = ht_room(nl + 2 + vl + 3);   /* + CRLF or NUL of the caller */
    memcpy(p, name, nl);
    p[nl] = ':';
    p[nl + 1] = ' ';
    memcpy(p + nl + 2, value, vl);
    ht_len += nl + 2 + vl;
}

static void hdr_end_node(void)
{
    *ht_room(1) = '\0';
    ht_len++;
}

/* A header as a node of its own; the caller checked name and value. */
static void hdr_node_n(const char *name, size_t nl, const char *value, size_t vl)
{
    hdr_put(name, nl, value, vl);
    hdr_end_node();
    hdr_n++;
    hdr_merging = 0;
}

/* A header as a node of its own, unless name or value may not be sent or
 * the value is blank (empty, or spaces and tabs only): curl leaves such a
 * node out of the request, so it is left out here too and the attempt
 * record (written from these nodes) shows what was sent. */
static void hdr_node(const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value), i = 0;
    while (i < vl && (value[i] == ' ' || value[i] == '\t'))
        i++;
    if (i < vl && name_ok(name, nl) && value_ok(value, vl))
        hdr_node_n(name, nl, value, vl);
}

/* A header of hookq's own whose name and value the caller checked (or that
 * cannot hold a CR, LF or a colon in its name): one more line of the merged
 * node. An empty value gets a node of its own (curl drops a blank header
 * only when it is a whole node). */
static void hdr_merge_n(const char *name, size_t nl, const char *value, size_t vl)
{
    if (!vl) {
        hdr_node_n(name, nl, value, vl);
        return;
    }
    if (hdr_merging) {
        ht_len--;                       /* reopen the node: its NUL becomes CRLF */
        char *p = ht_room(2);
        p[0] = '\r';
        p[1] = '\n';
        ht_len += 2;
    } else {
        hdr_n++;
        hdr_merging = 1;
    }
    hdr_put(name, nl, value, vl);
    hdr_end_node();
}

#define HDR_LIT(name, value, vl) hdr_merge_n(name, sizeof(name) - 1, value, vl)

/* hdr_merge_n for a name or value that may hold what may not be sent: such
 * a header is left out. */
static void hdr_merge(const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (name_ok(name, nl) && value_ok(value, vl))
        hdr_merge_n(name, nl, value, vl);
}

/* A node curl reads as "do not send your default of this header". */
static void hdr_off(const char *line, size_t n)
{
    memcpy(ht_room(n + 1), line, n + 1);
    ht_len += n + 1;
    hdr_n++;
    hdr_merging = 0;
}

/* One block: hdr_n curl_slist nodes, then the text they point into. Freed
 * with hq_free (the block starts with the first node). */
static struct curl_slist *hdr_block(void)
{
    if (!hdr_n)
        return NULL;
    size_t nodes = (size_t)hdr_n * sizeof(struct curl_slist);
    char *blk = hq_malloc(nodes + ht_len + 1);
    struct curl_slist *v = (struct curl_slist *)blk;
    char *t = blk + nodes;
    memcpy(t, ht, ht_len);
    for (int i = 0; i < hdr_n; i++) {
        v[i].data = t;
        v[i].next = i + 1 < hdr_n ? &v[i + 1] : NULL;
        t += strlen(t) + 1;
    }
    return v;
}

/* 1 when the attempt record shows this request header as "[redacted]":
 * the signature headers (sig: the endpoint's, sigl its length) and the auth
 * headers, also as custom headers. */
static int hdr_redacted(const char *sig, size_t sigl, const char *name, size_t n)
{
    static const struct { const char *s; size_t n; } fixed[] = {
        { "webhook-signature", 17 }, { "Authorization", 13 }, { "X-API-KEY", 9 },
    };
    if (n == sigl && strncasecmp(sig, name, n) == 0)
        return 1;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (n == fixed[i].n && strncasecmp(fixed[i].s, name, n) == 0)
            return 1;
    return 0;
}

/* Appends the request headers of d (its header block, without the last two
 * nodes, "Expect:" and "Accept:") as a JSON object, secrets redacted. Lines
 * are "name: value" (build_headers wrote them; no value holds a CR). */
static void rb_request_headers(const struct delivery *d, const hq_endpoint *e)
{
    const char *sig = e && e->signature_header && e->signature_header[0] ? e->signature_header
                                                                        : "X-Webhook-Signature";
    size_t sigl = strlen(sig);
    RB_LIT("{");
    int first = 1;
    for (const struct curl_slist *n = d->hdrs; n && n->next && n->next->next; n = n->next) {
        const char *line = n->data;
        for (;;) {
            const char *end = strchr(line, '\r');
            size_t len = end ? (size_t)(end - line) : strlen(line);
            const char *colon = memchr(line, ':', len);
            if (colon) {
                size_t nl = (size_t)(colon - line);
                const char *v = colon + 2 <= line + len ? colon + 2 : line + len;
                if (!first)
                    RB_LIT(",");
                first = 0;
                rb_json(line, nl);
                RB_LIT(":");
                if (hdr_redacted(sig, sigl, line, nl))
                    RB_LIT("\"[redacted]\"");
                else
                    rb_json(v, (size_t)(line + len - v));
            }
            if (!end)
                break;
            line = end + 2;
        }
    }
    RB_LIT("}");
}

static void build_headers(struct delivery *d, const hq_endpoint *e, const char *body, size_t len)
{
    char buf[1024], ts[40];
    struct event *ev = d->ev;
    size_t idl = strlen(ev->id), tyl = strlen(ev->type);
    int id_ok = value_ok(ev->id, idl);
    ht_len = 0;
    hdr_n = 0;
    hdr_merging = 0;
    HDR_LIT("Content-Type", "application/json", 16);   /* first line of the merged node */
    HDR_LIT("User-Agent", "hookq/" HOOKQ_VERSION, sizeof("hookq/" HOOKQ_VERSION) - 1);
    if (id_ok)
        HDR_LIT("X-Webhook-Id", ev->id, idl);
    if (value_ok(ev->type, tyl))
        HDR_LIT("X-Webhook-Event", ev->type, tyl);
    rfc3339(d->at_ms, ts, 0);
    HDR_LIT("X-Webhook-Timestamp", ts, strlen(ts));
    HDR_LIT("X-Webhook-Attempt", buf, (size_t)(hq_i64_dec(buf, d->n) - buf));

    int rotating = e->old_secret && e->old_secret[0] && d->at_ms < e->old_secret_until_ms;
    const char *secret = e->secret ? e->secret : "";
    const char *sigsecret = rotating ? e->old_secret : secret;
    if (e->signature_format != HQ_SIG_NONE) {
        char *p = buf;
        if (e->signature_format == HQ_SIG_SHA256_HEX) {
            memcpy(p, "sha256=", 7);
            p += 7;
        }
        hq_hmac_sha256_hex(sigsecret, strlen(sigsecret), body, len, p);
        const char *sh = e->signature_header && e->signature_header[0] ? e->signature_header
                                                                      : "X-Webhook-Signature";
        size_t shl = strlen(sh);
        if (name_ok(sh, shl))
            hdr_merge_n(sh, shl, buf, (size_t)(p - buf) + 64);
    }
    if (id_ok)
        HDR_LIT("webhook-id", ev->id, idl);
    int64_t tsec = d->at_ms / 1000;
    HDR_LIT("webhook-timestamp", buf, (size_t)(hq_i64_dec(buf, tsec) - buf));
    unsigned char key[HQ_SECRET_MAX + 8];
    char sig_new[128], sig_old[128];
    size_t kl = hq_secret_key(secret, key);
    hq_sign_standard(key, kl, ev->id, tsec, body, len, sig_new);
    if (rotating) {
        kl = hq_secret_key(e->old_secret, key);
        hq_sign_standard(key, kl, ev->id, tsec, body, len, sig_old);
        snprintf(buf, sizeof buf, "%s %s", sig_old, sig_new);
        HDR_LIT("webhook-signature", buf, strlen(buf));
    } else {
        HDR_LIT("webhook-signature", sig_new, strlen(sig_new));
    }
    memset(key, 0, sizeof key);

    switch (e->auth_type) {
    case HQ_AUTH_BASIC: {
        const char *u = e->auth_username ? e->auth_username : "";
        const char *p = e->auth_password ? e->auth_password : "";
        size_t ul = strlen(u), pl = strlen(p);
        char *up = hq_malloc(ul + pl + 2);
        memcpy(up, u, ul);
        up[ul] = ':';
        memcpy(up + ul + 1, p, pl);
        char *b64 = hq_malloc(4 * ((ul + pl + 3) / 3) + 8 + 6);
        memcpy(b64, "Basic ", 6);
        size_t bl = hq_base64_encode(up, ul + pl + 1, b64 + 6);
        HDR_LIT("Authorization", b64, 6 + bl);   /* base64: nothing to check */
        memset(up, 0, ul + pl + 1);
        memset(b64, 0, 6 + bl);
        hq_free(up);
        hq_free(b64);
        break;
    }
    case HQ_AUTH_API_KEY:
        hdr_merge("X-API-KEY", e->auth_key ? e->auth_key : "");
        break;
    case HQ_AUTH_BEARER: {
        /* "Bearer " + the whole token (the API takes up to 4096 bytes: a
         * cut token is a 401 on every attempt); in buf when it fits */
        const char *k = e->auth_key ? e->auth_key : "";
        size_t kn = strlen(k);
        char *bt = 7 + kn < sizeof buf ? buf : hq_malloc(7 + kn);
        memcpy(bt, "Bearer ", 7);
        memcpy(bt + 7, k, kn);
        if (value_ok(bt, 7 + kn))
            HDR_LIT("Authorization", bt, 7 + kn);
        if (bt != buf) {
            memset(bt, 0, 7 + kn);
            hq_free(bt);
        }
        break;
    }
    default:
        break;
    }
    for (int i = 0; i < e->nheaders; i++)
        hdr_node(e->headers[i].name, e->headers[i].value ? e->headers[i].value : "");
    /* no curl defaults: no Expect: 100-continue, no Accept */
    hdr_off("Expect:", 7);
    hdr_off("Accept:", 7);
    d->hdrs = hdr_block();
    memset(buf, 0, sizeof buf);
    memset(ht, 0, ht_len);   /* it held the auth value */
}

size_t delivery_on_body(struct delivery *d, const char *p, size_t n)
{
    if (d->resp_total + n > RESP_MAX) {
        d->resp_total += n;
        return 0;  /* abort: a worker never reads more than 64 KiB */
    }
    d->resp_total += n;
    if (d->resp.len < RESP_KEEP) {
        size_t k = RESP_KEEP - d->resp.len;
        hq_buf_append(&d->resp, p, n < k ? n : k);
    }
    return n;
}

size_t delivery_on_header(struct delivery *d, const char *p, size_t n)
{
    d->resp_total += n;        /* the head counts towards the 64 KiB read cap */
    if (d->resp_total > RESP_MAX)
        return 0;              /* abort: CURLE_WRITE_ERROR, head incomplete */
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        /* a new status line (also after 1xx): reset what we captured */
        d->retry_after_ms = -1;
        d->status_line[0] = '\0';
        d->head_done = 0;
        const char *q = memchr(p, ' ', n);
        if (q) {
            q++;
            const char *end = p + n;
            const char *r = memchr(q, ' ', (size_t)(end - q));
            if (r) {
                r++;
                size_t l = (size_t)(end - r);
                while (l && (r[l - 1] == '\r' || r[l - 1] == '\n'))
                    l--;
                if (l >= sizeof d->status_line)
                    l = sizeof d->status_line - 1;
                memcpy(d->status_line, r, l);
                d->status_line[l] = '\0';
            }
        }
    } else if (n <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        d->head_done = 1;   /* the blank line: a complete response head */
    } else if (n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[128];
        size_t i = 12, l;
        while (i < n && (p[i] == ' ' || p[i] == '\t'))
            i++;
        l = n - i;
        while (l && (p[i + l - 1] == '\r' || p[i + l - 1] == '\n' || p[i + l - 1] == ' '))
            l--;
        if (l < sizeof v) {
            memcpy(v, p + i, l);
            v[l] = '\0';
            d->retry_after_ms = hq_retry_after_parse(v, hq_now_ms());
        }
    }
    return n;
}

static double rnd01(void)
{
    return (double)random() / ((double)RAND_MAX + 1.0);
}

/* Builds the attempt record JSON (hookq_complete stores it as a<n>). e is
 * the endpoint config the request was built from (may be NULL). */
static char *record_json(struct delivery *d, const hq_endpoint *e, const char *status, int code,
                         int64_t latency_ms, const char *err, const char *cls, const char *url,
                         int64_t next_ms)
{
    char ts[40];
    rb_len = 0;
    RB_LIT("{\"attempt\":");
    rb_i64(d->n);
    rfc3339(d->at_ms, ts, 1);
    RB_LIT(",\"at\":\"");
    rb_put(ts, 24);
    RB_LIT("\",\"status\":\"");
    rb_put(status, strlen(status));
    RB_LIT("\",\"http_status\":");
    if (code > 0)
        rb_i64(code);
    else
        RB_LIT("null");
    RB_LIT(",\"latency_ms\":");
    rb_i64(latency_ms);
    RB_LIT(",\"error\":");
    rb_str(err);
    RB_LIT(",\"class\":");
    rb_str(cls);
    RB_LIT(",\"url\":");
    rb_str(url);
    RB_LIT(",\"request_headers\":");
    if (d->hdrs)
        rb_request_headers(d, e);
    else
        RB_LIT("{}");
    RB_LIT(",\"response_body\":");
    rb_lossy((const unsigned char *)(d->resp.data ? d->resp.data : ""), d->resp.len);
    RB_LIT(",\"worker\":");
    rb_str(d->w->id);
    RB_LIT(",\"next_attempt_at\":");
    if (next_ms > 0) {
        hq_rfc3339(next_ms, ts);
        rb_str(ts);
    } else {
        RB_LIT("null");
    }
    RB_LIT("}");
    char *rec = hq_malloc(rb_len + 1);
    memcpy(rec, rb, rb_len);
    rec[rb_len] = '\0';
    return rec;
}

static void count_outcome(struct hq_worker *w, const char *outcome)
{
    if (strcmp(outcome, "delivered") == 0) { hq_metric_add(w->m_out_delivered, 1); w->n_delivered++; }
    else if (strcmp(outcome, "retry") == 0) { hq_metric_add(w->m_out_retry, 1); w->n_failed++; }
    else if (strcmp(outcome, "dead") == 0) { hq_metric_add(w->m_out_dead, 1); w->n_dead++; }
    else if (strcmp(outcome, "gone") == 0) { hq_metric_add(w->m_out_gone, 1); w->n_dead++; }
    else hq_metric_add(w->m_out_cancelled, 1);
}

/* Ends an attempt: decides the outcome from (code, class, error), records
 * it and frees the endpoint slot. cfg may be NULL (config unreadable). */
static void finish(struct delivery *d, int code, int cls, const char *err, int64_t latency_ms)
{
    struct hq_worker *w = d->w;
    const hq_endpoint *e = d->cfg ? &d->cfg->e : NULL;
    const hq_schedule *sched = e && e->has_schedule ? &e->schedule : &w->schedule;
    int64_t now = hq_now_ms();
    const char *outcome, *status;
    int64_t due = 0;
    char reason[512] = "";

    if (cls == C_2XX) {
        outcome = "delivered";
        status = "delivered";
    } else if (code == 410) {
        outcome = "gone";
        status = "dead";
        snprintf(reason, sizeof reason, "%s", err);
        d->ep->act = 0;
        hq_free(d->ep->dis_reason);
        d->ep->dis_reason = hq_strdup("endpoint answered 410 Gone");
    } else {
        int64_t delay = hq_retry_delay(sched, d->r, rnd01());
        if (delay < 0) {
            outcome = "dead";
            status = "dead";
            snprintf(reason, sizeof reason, "%s after %d attempts", err, d->n);
        } else {
            if ((code == 429 || code == 503) && d->retry_after_ms >= 0)
                delay = hq_retry_combine(sched, delay, d->retry_after_ms);
            outcome = "retry";
            status = "failed";
            due = now + delay;
        }
    }
    hq_metric_add(w->m_class[cls], 1);
    hq_metric_observe(w->m_duration, (double)latency_ms / 1000.0);
    count_outcome(w, outcome);
    d->outcome = outcome;
    d->due_ms = due;
    d->code = code;
    d->reason = reason[0] ? hq_strdup(reason) : NULL;   /* NULL is sent as "" */
    d->record = record_json(d, e, status, code, latency_ms, cls == C_2XX ? NULL : err, class_names[cls],
                            e ? e->url : NULL, due);
    hq_free(d->hdrs);   /* one block, see hdr_block */
    d->hdrs = NULL;
    if (hq_log_enabled(HQ_LOG_DEBUG)) {
        char cs[16], ls[32];
        snprintf(cs, sizeof cs, "%d", code);
        snprintf(ls, sizeof ls, "%lld", (long long)latency_ms);
        hq_debug("attempt", "delivery", d->did, "endpoint", d->epid, "outcome", outcome,
                 "class", class_names[cls], "code", cs, "latency_ms", ls, "error",
                 cls == C_2XX ? "" : err);
    }
    epcfg_unref(d->cfg);
    d->cfg = NULL;
    struct epentry *ep = d->ep;
    worker_outcome(d);
    epcache_release(w, ep, latency_ms);
}

/* Unlinks from the in-flight list. */
static void inflight_unlink(struct delivery *d)
{
    struct hq_worker *w = d->w;
    if (d->iprev) d->iprev->inext = d->inext;
    else w->if_head = d->inext;
    if (d->inext) d->inext->iprev = d->iprev;
    d->iprev = d->inext = NULL;
    w->http_inflight--;
}

void delivery_start(struct delivery *d)
{
    struct hq_worker *w = d->w;
    struct epentry *ep = d->ep;
    d->state = DLV_INFLIGHT;
    d->iprev = NULL;
    d->inext = w->if_head;
    if (w->if_head) w->if_head->iprev = d;
    w->if_head = d;
    w->http_inflight++;
    d->at_ms = hq_now_ms();
    d->t0_ns = hq_mono_ns();
    d->retry_after_ms = -1;
    d->head_done = 0;
    hq_buf_init(&d->resp, 0);

    if (!ep->cfg) {
        inflight_unlink(d);
        finish(d, 0, C_OTHER, ep->cfg_err[0] ? ep->cfg_err : "endpoint config unreadable", 0);
        return;
    }
    d->cfg = ep->cfg;
    d->cfg->refs++;
    const hq_endpoint *e = &d->cfg->e;
    size_t len;
    const char *body = event_body(d->ev, e->payload_format, &len);
    event_data_done(d);
    build_headers(d, e, body, len);

    int64_t t = e->timeout_ms > 0 ? e->timeout_ms : w->timeout_ms;
    if (t > w->claim_idle_ms - 1000)
        t = w->claim_idle_ms - 1000;
    if (t < 100)
        t = 100;
    CURL *c = http_easy(w, d);
    d->easy = c;
    /* every per-request option a previous request on this pooled handle set
     * is set again here (http_easy does not reset the handle; callbacks,
     * their data and the error buffer are the handle's own, set once) */
    http_set_url(d, d->cfg);
    http_set_timeout(d, (long)t);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);   /* implies POST */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, d->hdrs);
    if (http_add(w, d) != 0)
        delivery_http_done(d, CURLE_FAILED_INIT);
}

static int curl_class(CURLcode rc, int blocked)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return C_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
        return blocked ? C_BLOCKED : C_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return C_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return C_TLS;
    default:
        return blocked ? C_BLOCKED : C_OTHER;
    }
}

/* The transfer ended. A received final response head decides the outcome
 * even if the body then failed (e.g. aborted at 64 KiB): the receiver
 * answered. A status line whose head never completed (slowloris, reset, or
 * a connection closed inside the head, which libcurl reports as CURLE_OK)
 * is no answer: the transfer error decides. */
void delivery_http_done(struct delivery *d, CURLcode rc)
{
    struct hq_worker *w = d->w;
    long code = 0;
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    if (d->easy) {
        curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
        const char *eb = http_errbuf(d);   /* the handle goes back to the pool below */
        if (eb[0])
            snprintf(errbuf, sizeof errbuf, "%s", eb);
    }
    int64_t latency = (int64_t)((hq_mono_ns() - d->t0_ns) / 1000000);
    http_release(w, d);
    inflight_unlink(d);

    char err[CURL_ERROR_SIZE + 128];
    int cls;
    if (code >= 200 && d->head_done) {
        cls = code < 300 ? C_2XX : code < 400 ? C_3XX : code < 500 ? C_4XX : code < 600 ? C_5XX : C_OTHER;
        /* "<code> <reason phrase>" (or "HTTP <code>"), without printf */
        char *p = err;
        if (!d->status_line[0]) {
            memcpy(p, "HTTP ", 5);
            p += 5;
        }
        p = hq_i64_dec(p, code);
        if (d->status_line[0]) {
            size_t l = strlen(d->status_line);   /* < sizeof status_line (128) */
            *p++ = ' ';
            memcpy(p, d->status_line, l);
            p += l;
        }
        *p = '\0';
    } else {
        code = 0;
        cls = curl_class(rc, d->blocked);
        if (cls == C_BLOCKED)
            http_blocked_error(d, err, sizeof err);
        else if (rc == CURLE_WRITE_ERROR && d->resp_total > RESP_MAX)
            snprintf(err, sizeof err, "response head larger than %d KiB", RESP_MAX / 1024);
        else if (rc == CURLE_OUT_OF_MEMORY && !d->head_done && d->resp_total > 0)
            snprintf(err, sizeof err, "response head too large (a header line over libcurl's limit)");
        else if (rc == CURLE_OK)
            snprintf(err, sizeof err, "connection closed inside the response head");
        else if (errbuf[0])
            snprintf(err, sizeof err, "%s", errbuf);
        else
            snprintf(err, sizeof err, "%s", curl_easy_strerror(rc));
    }
    finish(d, (int)code, cls, err, latency);
}

/* Aborted on shutdown: frees the transfer, no outcome (stays pending). */
void delivery_abort(struct delivery *d)
{
    struct hq_worker *w = d->w;
    http_release(w, d);
    inflight_unlink(d);
    hq_free(d->hdrs);   /* one block, see hdr_block */
    d->hdrs = NULL;
    epcfg_unref(d->cfg);
    d->cfg = NULL;
    d->ep->inflight--;
    delivery_free(d);
}

void delivery_defer(struct delivery *d, int64_t delay_ms)
{
    struct hq_worker *w = d->w;
    d->at_ms = hq_now_ms();
    d->outcome = "defer";
    d->due_ms = d->at_ms + delay_ms;
    d->code = 0;
    hq_metric_add(w->m_deferred, 1);
    hq_debug("deferred: endpoint backlog full", "delivery", d->did, "endpoint", d->epid);
    worker_outcome(d);
}

void delivery_finish_noattempt(struct delivery *d, const char *outcome, const char *reason)
{
    struct hq_worker *w = d->w;
    d->at_ms = hq_now_ms();
    d->outcome = strcmp(outcome, "cancel") == 0 ? "cancel" : "dead";
    d->due_ms = 0;
    d->code = 0;
    d->reason = hq_strdup(reason);
    d->record = record_json(d, d->ep && d->ep->cfg ? &d->ep->cfg->e : NULL, "dead", 0, 0, reason, "other",
                            d->ep && d->ep->cfg ? d->ep->cfg->e.url : NULL, 0);
    count_outcome(w, d->outcome);
    hq_debug("no attempt", "delivery", d->did, "endpoint", d->epid, "outcome", d->outcome,
             "reason", reason);
    worker_outcome(d);
}
