/* http: libcurl's multi socket API driven by the worker's libuv loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll_t per socket, in a struct sockctx curl keeps with
 * curl_multi_assign) and when to call it back (CURLMOPT_TIMERFUNCTION: one
 * uv_timer_t). A poll error (status < 0) is passed on as CURL_CSELECT_ERR,
 * never ignored, and after every curl_multi_socket_action finished transfers
 * are drained with curl_multi_info_read (both are bugs of curl's multi-uv.c
 * example). On CURL_POLL_REMOVE the poll is stopped and closed; curl closes
 * the fd itself.
 *
 * Easy handles are pooled (curl_easy_reset keeps their connection and DNS
 * caches warm; connections live in the multi's pool, CURLMOPT_MAXCONNECTS =
 * concurrency). Every handle gets the SSRF guard: CURLOPT_OPENSOCKETFUNCTION
 * sees the address actually being connected to and refuses loopback,
 * private, link-local, CGNAT, multicast and reserved addresses (also in their
 * IPv4-mapped/compatible IPv6 forms) unless HOOKQ_ALLOW_PRIVATE_NETWORKS=1. */
#include "hq_fmacros.h"
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "hq_alloc.h"
#include "hq_log.h"
#include "worker.h"

struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct hq_worker *w;
    struct sockctx *prev, *next;   /* w->socks, while not closing */
};

static void check_done(struct hq_worker *w)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(w->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        struct delivery *d = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&d);
        if (d)
            delivery_http_done(d, rc);  /* removes e from the multi */
        else
            curl_multi_remove_handle(w->multi, e);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockctx *sc = h->data;
    struct hq_worker *w = sc->w;
    int flags = 0, running;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(w->multi, sc->fd, flags, &running);
    check_done(w);
}

static void on_sock_closed(uv_handle_t *h)
{
    hq_free(h->data);
}

static void sock_unlink_close(struct hq_worker *w, struct sockctx *sc)
{
    if (sc->prev) sc->prev->next = sc->next;
    else w->socks = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
    sc->prev = sc->next = NULL;
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct hq_worker *w = userp;
    struct sockctx *sc = socketp;
    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            curl_multi_assign(w->multi, s, NULL);
            sock_unlink_close(w, sc);
        }
        return 0;
    }
    if (!sc) {
        sc = hq_calloc(1, sizeof *sc);
        sc->fd = s;
        sc->w = w;
        int r = uv_poll_init_socket(w->loop, &sc->poll, s);
        if (r != 0) {
            hq_error("uv_poll_init_socket failed", "error", uv_strerror(r));
            hq_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        sc->next = w->socks;
        if (w->socks) w->socks->prev = sc;
        w->socks = sc;
        curl_multi_assign(w->multi, s, sc);
    }
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    uv_poll_start(&sc->poll, ev, on_poll);
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    struct hq_worker *w = t->data;
    int running;
    curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(w);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as
 * possible", which we do from the loop (never call curl back from here). */
static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    struct hq_worker *w = userp;
    (void)m;
    if (timeout_ms < 0)
        uv_timer_stop(&w->curl_timer);
    else
        uv_timer_start(&w->curl_timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static int v4_private(uint32_t a)
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16);
    if (b0 == 0 || b0 == 10 || b0 == 127) return 1;
    if (b0 == 100 && (b1 & 0xc0) == 64) return 1;        /* 100.64/10 */
    if (b0 == 169 && b1 == 254) return 1;
    if (b0 == 172 && (b1 & 0xf0) == 16) return 1;
    if (b0 == 192 && b1 == 168) return 1;
    if (b0 >= 224) return 1;                              /* multicast, 240/4, broadcast */
    return 0;
}

/* 1 when the address must not be connected to (SPEC 2, HOOKQ_ALLOW_PRIVATE_NETWORKS). */
static int addr_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return v4_private(ntohl(in->sin_addr.s_addr));
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const uint8_t zero[12] = { 0 };
        static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
        uint32_t v4 = ((uint32_t)a[12] << 24) | ((uint32_t)a[13] << 16) | ((uint32_t)a[14] << 8) | a[15];
        if (memcmp(a, zero, 12) == 0)
            return 1;   /* ::, ::1 and IPv4-compatible forms: never a public target */
        if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
            return v4_private(v4);
        if ((a[0] & 0xfe) == 0xfc) return 1;                 /* fc00::/7 */
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return 1; /* fe80::/10 */
        if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return 1; /* fec0::/10 (site-local) */
        if (a[0] == 0xff) return 1;                          /* multicast */
        return 0;
    }
    return 1;  /* anything else (unix sockets...) is not a webhook target */
}

static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct delivery *d = clientp;
    if (!d->w->allow_private && addr_private(&a->addr)) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
        d->blocked = 1;
        snprintf(d->blocked_addr, sizeof d->blocked_addr, "%s", ip);
        return CURL_SOCKET_BAD;
    }
    (void)purpose;
    return socket(a->family, a->socktype, a->protocol);
}

int http_init(struct hq_worker *w)
{
    w->multi = curl_multi_init();
    if (!w->multi)
        return -1;
    uv_timer_init(w->loop, &w->curl_timer);
    w->curl_timer.data = w;
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
    curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->concurrency);
    w->easy_free = hq_calloc((size_t)w->concurrency, sizeof *w->easy_free);
    return 0;
}

CURL *http_easy(struct hq_worker *w, struct delivery *d)
{
    CURL *c = w->neasy_free ? w->easy_free[--w->neasy_free] : curl_easy_init();
    if (!c) {
        hq_error("curl_easy_init failed");
        abort();
    }
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)d);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PROXY, "");       /* no proxy from the environment */
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, d);
    if (w->ca_file && w->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_file);
    return c;
}

int http_add(struct hq_worker *w, struct delivery *d)
{
    CURLMcode rc = curl_multi_add_handle(w->multi, d->easy);
    if (rc != CURLM_OK) {
        hq_error("curl_multi_add_handle failed", "error", curl_multi_strerror(rc));
        return -1;
    }
    return 0;
}

void http_release(struct hq_worker *w, struct delivery *d)
{
    CURL *c = d->easy;
    if (!c)
        return;
    d->easy = NULL;
    curl_multi_remove_handle(w->multi, c);  /* no-op if never added */
    curl_easy_reset(c);
    if (w->neasy_free < w->concurrency)
        w->easy_free[w->neasy_free++] = c;
    else
        curl_easy_cleanup(c);
}

void http_abort_all(struct hq_worker *w)
{
    while (w->if_head)
        delivery_abort(w->if_head);
}

/* Tears down curl; every transfer must be gone (http_abort_all). */
void http_close(struct hq_worker *w)
{
    if (!w->multi)
        return;
    for (struct sockctx *sc = w->socks; sc; sc = sc->next)
        uv_poll_stop(&sc->poll);
    curl_multi_cleanup(w->multi);
    w->multi = NULL;
    while (w->socks)
        sock_unlink_close(w, w->socks);
    for (int i = 0; i < w->neasy_free; i++)
        curl_easy_cleanup(w->easy_free[i]);
    w->neasy_free = 0;
    hq_free(w->easy_free);
    w->easy_free = NULL;
    uv_timer_stop(&w->curl_timer);
    uv_close((uv_handle_t *)&w->curl_timer, NULL);
}
