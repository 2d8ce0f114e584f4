/* http: libcurl's multi socket API driven by the worker's libuv loop.
 *
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION: one
 * uv_poll_t per socket, in a struct sockctx found by fd) and when to call it
 * back (CURLMOPT_TIMERFUNCTION: one uv_timer_t per lane, see struct lane). A
 * poll error (status < 0) is passed on as CURL_CSELECT_ERR (with IN and OUT,
 * so curl still reads an answer that came before a reset), never ignored,
 * and after every curl_multi_socket_action finished transfers are drained
 * with curl_multi_info_read (both are bugs of curl's multi-uv.c example). A connection socket keeps its uv_poll_t from the first time
 * curl watches it until curl closes it (CURLOPT_CLOSESOCKETFUNCTION), across
 * the CURL_POLL_REMOVE/re-add curl does around every reuse (see struct
 * sockctx); other sockets' polls are closed on CURL_POLL_REMOVE. libcurl
 * 7.88 closes a socket whose connect never finished with a plain close(),
 * without CURLOPT_CLOSESOCKETFUNCTION (curl PR #11439), so no poll may
 * outlive curl's interest in such a socket, and every sockctx remembers
 * which file it watches (st_dev/st_ino): see struct sockctx.
 *
 * Easy handles are pooled and never reset: the options every request shares
 * are set once when a handle is created (easy_new), the per-request ones by
 * delivery_start; connections live in the multi's pool (CURLMOPT_MAXCONNECTS
 * = concurrency). Every handle gets the SSRF guard: CURLOPT_OPENSOCKETFUNCTION
 * sees the address actually being connected to and refuses loopback,
 * private, link-local, CGNAT, multicast, broadcast and reserved addresses
 * (also in their IPv4-mapped/compatible/NAT64/6to4 IPv6 forms) unless
 * HOOKQ_ALLOW_PRIVATE_NETWORKS=1 or the address is in HOOKQ_ALLOW_CIDRS.
 * Handles never follow redirects, use no proxy, speak only http/https with
 * TLS >= 1.2, send no Accept-Encoding and never decode a response. */
#include "hq_fmacros.h"
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "hq_alloc.h"
#include "hq_log.h"
#include "worker.h"

/* Transfers are spread over "lanes", each its own multi handle with its own
 * connection cache: libcurl 7.88 looks for a reusable connection by walking
 * every connection to the host, busy ones included, so one multi holding
 * thousands of in-flight transfers to one receiver pays O(in flight) per
 * request start. A transfer goes to the first lane with fewer than LANE_CAP
 * running (lane 0 alone below that, keeping reuse high); lanes =
 * ceil(concurrency / LANE_CAP). */
#define LANE_CAP 128

struct lane {
    struct hq_worker *w;
    CURLM *multi;
    uv_timer_t timer;
    int running;                   /* transfers added and not removed */
};

/* The file an fd names (fstat's st_dev, st_ino): see struct sockctx. */
struct fdid {
    dev_t dev;
    ino_t ino;
};

/* What http.c keeps per easy handle (its CURLOPT_PRIVATE, and the data
 * pointer of its callbacks, which find the delivery as ez->d: set once when
 * the handle is made, not per request). */
struct easy {
    CURL *c;
    struct delivery *d;    /* the delivery whose transfer uses it; NULL in the pool */
    uint64_t url_gen;      /* epcfg.url_gen of the CURLU it was given; 0 none */
    long timeout_ms;       /* CURLOPT_TIMEOUT_MS and _CONNECTTIMEOUT_MS it has; 0 none */
    curl_socket_t opened;  /* the last socket on_opensocket opened for its transfer, */
    struct fdid opened_id; /* and its file; CURL_SOCKET_BAD none (see prove_opened) */
    char errbuf[CURL_ERROR_SIZE];   /* its CURLOPT_ERRORBUFFER */
};

static uint64_t url_gen_next = 1;

static struct easy *easy_of(CURL *c)
{
    struct easy *ez = NULL;
    curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&ez);
    return ez;
}

/* One per socket fd curl asked us to watch. A connection socket (opened by
 * on_opensocket, closed by on_closesocket) keeps its sockctx and its started
 * uv_poll_t for its whole life: libcurl 7.88 sends CURL_POLL_REMOVE whenever
 * a connection goes idle into its cache and asks for it again when the next
 * transfer reuses it, and closing and re-creating the poll each time costs
 * five syscalls per request (uv_poll_init_socket probes the fd with
 * epoll_ctl ADD+DEL and sets O_NONBLOCK again; start ADDs, close DELs). An
 * idle socket that waited for a response stays polled for UV_READABLE,
 * which costs nothing until the peer closes it or sends something unasked;
 * then the poll is stopped (see on_poll) and curl finds the dead connection
 * when it next looks at it. Its fd is only closed by on_closesocket, which
 * closes the poll first.
 * Other sockets (the threaded resolver's socketpair) are closed on
 * CURL_POLL_REMOVE as before, because curl closes them without telling us.
 *
 * libcurl 7.88 also closes a connection socket without on_closesocket when
 * its connect never finished (connect timeout, transfer removed mid-connect,
 * the losing address of a happy-eyeballs connect; fixed in curl 8.2, PR
 * #11439), telling us only CURL_POLL_REMOVE, in the same curl call. A poll
 * left on such an fd would, once the number is reused by another file
 * (resolver socketpair, status-server client, Redis reconnect), take that
 * file's events (libuv dispatches by fd number) and its epoll registration
 * (libuv's poll stop/start/close do EPOLL_CTL_DEL on the number). So:
 * - only a socket that is ours (opened by on_opensocket: same st_dev/st_ino
 *   now as then), still open and idle after waiting for a response
 *   (UV_READABLE) keeps its poll on CURL_POLL_REMOVE; any other sockctx is
 *   closed then, while the fd is still curl's or free;
 * - a sockctx found for an fd curl hands us again after it went idle, or
 *   whose idle poll fires, is checked against the file it was made for;
 *   a stale one is closed (inside curl: the number is curl's) or, outside
 *   curl, dropped without any epoll_ctl on the number (sock_forget);
 * - on_opensocket re-points a sockctx it finds under a fresh fd to the new
 *   socket: curl keeps its per-fd-number state across the close and may not
 *   ask again for a number it already watched.
 * The identity check (an fstat: ~1.3 per delivery and ~2 % of the worker's
 * CPU when it ran on every CURL_POLL_REMOVE and re-add) stops once a socket
 * is proven: a transfer that opened it got its whole response over it
 * (prove_opened), so its connect finished (TCP and TLS), and libcurl 7.88
 * closes such a socket only through on_closesocket (the plain close() is
 * for sockets whose connect never finished). A proven socket is not checked
 * again when it idles or is reused. A sockctx re-pointed to a fresh socket
 * by on_opensocket is unproven. */
struct sockctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct hq_worker *w;
    struct lane *lane;             /* the multi that last asked for this socket */
    int events;                    /* UV_READABLE|UV_WRITABLE the poll runs with; 0 stopped */
    int want;                      /* what curl last asked for (on_socket), even while stopped */
    int wanted;                    /* curl watches it (between CURL_POLL_IN/OUT and _REMOVE) */
    int ours;                      /* a connection socket: closed through on_closesocket */
    int proven;                    /* ours, connected, identity checked once (see above) */
    struct fdid id;                /* the file the poll was made for */
    struct sockctx *prev, *next;   /* w->socks, while not closing */
};

/* fd -> sockctx (NULL: none), fd -> "opened by on_opensocket" and the
 * identity of the socket on_opensocket opened there, process wide like the
 * fds themselves; grown on demand. */
static struct sockctx **fd_ctx;
static unsigned char *fd_ours;
static struct fdid *fd_id;
static size_t fd_cap;

static void fd_grow(curl_socket_t fd)
{
    if ((size_t)fd < fd_cap)
        return;
    size_t n = fd_cap ? fd_cap : 64;
    while (n <= (size_t)fd)
        n *= 2;
    fd_ctx = hq_realloc(fd_ctx, n * sizeof *fd_ctx);
    fd_ours = hq_realloc(fd_ours, n);
    fd_id = hq_realloc(fd_id, n * sizeof *fd_id);
    memset(fd_ctx + fd_cap, 0, (n - fd_cap) * sizeof *fd_ctx);
    memset(fd_ours + fd_cap, 0, n - fd_cap);
    memset(fd_id + fd_cap, 0, (n - fd_cap) * sizeof *fd_id);
    fd_cap = n;
}

static struct sockctx *fd_lookup(curl_socket_t fd)
{
    return fd >= 0 && (size_t)fd < fd_cap ? fd_ctx[fd] : NULL;
}

/* The identity of the file fd refers to now; -1 if fd is not open. */
static int fd_ident(curl_socket_t fd, struct fdid *id)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -1;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    return 0;
}

static int fdid_eq(const struct fdid *a, const struct fdid *b)
{
    return a->dev == b->dev && a->ino == b->ino;
}

/* 1 if sc's fd still refers to the file its poll was made for. */
static int sock_same(const struct sockctx *sc)
{
    struct fdid id;
    return fd_ident(sc->fd, &id) == 0 && fdid_eq(&id, &sc->id);
}

/* 1 if fd is a socket on_opensocket opened and it is still that socket. */
static int fd_is_ours(curl_socket_t fd, const struct fdid *id)
{
    return (size_t)fd < fd_cap && fd_ours[fd] && fdid_eq(&fd_id[fd], id);
}

static void sock_forget(struct hq_worker *w, struct sockctx *sc);

static void warn_stale(curl_socket_t fd)
{
    char n[16];
    snprintf(n, sizeof n, "%d", (int)fd);
    hq_warn("http: dropping the poll of a socket closed without the close callback", "fd", n);
}

/* A transfer ended: if it opened a connection and got its whole response
 * over it (rc CURLE_OK), that socket finished its connect and, still the
 * file on_opensocket opened, is proven (see struct sockctx). A connection
 * it reused was proven by the transfer that opened it, or stays unproven
 * (checked on every idle and re-add, as before). */
static void prove_opened(struct easy *ez, CURLcode rc)
{
    if (ez->opened == CURL_SOCKET_BAD)
        return;
    struct sockctx *sc = rc == CURLE_OK ? fd_lookup(ez->opened) : NULL;
    if (sc && sc->ours && !sc->proven && fdid_eq(&sc->id, &ez->opened_id) && sock_same(sc))
        sc->proven = 1;
    ez->opened = CURL_SOCKET_BAD;
}

static void check_done(struct lane *ln)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(ln->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *e = m->easy_handle;
        CURLcode rc = m->data.result;
        struct easy *ez = easy_of(e);
        struct delivery *d = ez ? ez->d : NULL;
        if (ez)
            prove_opened(ez, rc);
        if (d) {
            delivery_http_done(d, rc);  /* removes e from the multi */
        } else {
            curl_multi_remove_handle(ln->multi, e);
            ln->running--;
        }
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct sockctx *sc = h->data;
    struct lane *ln = sc->lane;
    int flags = 0, running;
    if (!sc->wanted) {
        /* an idle cached connection became readable (closed by the peer, or
         * data nobody asked for): stop watching it; curl's liveness check
         * closes it when it next considers the connection. If its fd is no
         * longer that socket (closed behind our back, never expected), the
         * event is not ours and the number may be another owner's. */
        if (!sock_same(sc)) {
            warn_stale(sc->fd);
            sock_forget(sc->w, sc);
            return;
        }
        uv_poll_stop(&sc->poll);
        sc->events = 0;
        return;
    }
    if (status < 0) {
        /* POLLERR (libuv says UV_EBADF and has stopped this poll): the peer
         * reset the connection, often right after answering (a receiver
         * that refuses, or answers, before reading a large body). ERR alone
         * makes curl fail the transfer without reading that answer; with IN
         * and OUT it reads what was received first and then meets the
         * error itself, as curl's own poll loop does (POLLERR = readable). */
        flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
        sc->events = 0;   /* stopped: a later request for events restarts it */
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    curl_multi_socket_action(ln->multi, sc->fd, flags, &running);
    check_done(ln);
}

static void on_sock_closed(uv_handle_t *h)
{
    hq_free(h->data);
}

static void sock_unlink(struct hq_worker *w, struct sockctx *sc)
{
    if (sc->prev) sc->prev->next = sc->next;
    else w->socks = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
    sc->prev = sc->next = NULL;
    if (fd_lookup(sc->fd) == sc) {
        fd_ctx[sc->fd] = NULL;
        fd_ours[sc->fd] = 0;
    }
}

/* Forgets sc and closes its poll (freed in the close callback). Must run
 * while its fd is still its socket, or is closed, or belongs to curl (inside
 * a curl callback): uv_poll_stop/uv_close do EPOLL_CTL_DEL on the fd number
 * and drop it from the events of the current loop iteration. */
static void sock_unlink_close(struct hq_worker *w, struct sockctx *sc)
{
    sock_unlink(w, sc);
    uv_poll_stop(&sc->poll);
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);
}

/* Forgets a sockctx whose fd was closed behind our back and may now be
 * another file, watched by another handle of this loop: closes its poll
 * without any epoll_ctl on that number (the kernel dropped the closed
 * file's registration by itself). libuv 1.44 has no API for this, so the
 * watcher is taken out of the loop by hand, through the fields uv.h exposes
 * (loop->watchers/nfds, uv__io_t watcher_queue/pevents/events/fd) exactly
 * as uv__io_stop does, and uv_close then runs on a private /dev/null fd
 * (its EPOLL_CTL_DEL fails with EPERM: never registered). */
static void sock_forget(struct hq_worker *w, struct sockctx *sc)
{
    uv_loop_t *loop = w->loop;
    uv__io_t *io = &sc->poll.io_watcher;
    sock_unlink(w, sc);
    if (io->fd >= 0 && (unsigned)io->fd < loop->nwatchers && loop->watchers[io->fd] == io) {
        loop->watchers[io->fd] = NULL;
        loop->nfds--;
    }
    void **q = io->watcher_queue;
    if (q[0] != (void *)q) {
        /* QUEUE_REMOVE + QUEUE_INIT: q[0] next, q[1] prev */
        ((void **)q[1])[0] = q[0];
        ((void **)q[0])[1] = q[1];
        q[0] = q[1] = (void *)q;
    }
    io->pevents = 0;
    io->events = 0;
    sc->events = 0;
    int dummy = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (dummy < 0) {
        /* inert now (in no libuv list); leaked rather than touch the fd */
        hq_error("http: cannot open /dev/null to drop a stale poll; leaking it");
        return;
    }
    io->fd = dummy;
    uv_close((uv_handle_t *)&sc->poll, on_sock_closed);   /* uses io->fd now only */
    close(dummy);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct lane *ln = userp;
    struct hq_worker *w = ln->w;
    struct sockctx *sc = fd_lookup(s);
    (void)e;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        if (!sc)
            return 0;
        /* idle in curl's connection cache (the usual case: our socket, it
         * waited for a response, UV_READABLE, still open): keep the poll
         * running. Anything else (a connect attempt curl gave up on and may
         * already have closed without on_closesocket, the resolver's
         * socketpair) is closed now, while the number is still curl's. */
        if (sc->ours && sc->events == UV_READABLE && (sc->proven || sock_same(sc))) {
            sc->wanted = 0;
            return 0;
        }
        sock_unlink_close(w, sc);
        return 0;
    }
    if (sc && !sc->wanted && !sc->proven && !sock_same(sc)) {
        /* an idle socket's number now names another file curl watches: the
         * old one was closed behind our back (never expected, see struct
         * sockctx); the number is curl's, so closing the poll is safe. A
         * proven socket is still its file (see struct sockctx). */
        warn_stale(s);
        sock_unlink_close(w, sc);
        sc = NULL;
    }
    if (!sc) {
        struct fdid id;
        if (fd_ident(s, &id) != 0) {
            hq_error("http: curl asked to watch a socket that is not open");
            return -1;
        }
        sc = hq_calloc(1, sizeof *sc);
        sc->fd = s;
        sc->w = w;
        sc->id = id;
        int r = uv_poll_init_socket(w->loop, &sc->poll, s);
        if (r != 0) {
            hq_error("uv_poll_init_socket failed", "error", uv_strerror(r));
            hq_free(sc);
            return -1;
        }
        sc->poll.data = sc;
        sc->ours = fd_is_ours(s, &id);
        sc->next = w->socks;
        if (w->socks) w->socks->prev = sc;
        w->socks = sc;
        fd_grow(s);
        fd_ctx[s] = sc;
    }
    sc->lane = ln;
    sc->wanted = 1;
    int ev = 0;
    if (what & CURL_POLL_IN) ev |= UV_READABLE;
    if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
    sc->want = ev;
    if (ev != sc->events) {
        uv_poll_start(&sc->poll, ev, on_poll);
        sc->events = ev;
    }
    return 0;
}

static void on_curl_timer(uv_timer_t *t)
{
    struct lane *ln = t->data;
    int running;
    curl_multi_socket_action(ln->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(ln);
}

/* CURLMOPT_TIMERFUNCTION: -1 stops the timer; 0 means "as soon as
 * possible", which we do from the loop (never call curl back from here). */
static int on_timer_set(CURLM *m, long timeout_ms, void *userp)
{
    struct lane *ln = userp;
    (void)m;
    if (timeout_ms < 0)
        uv_timer_stop(&ln->timer);
    else
        uv_timer_start(&ln->timer, on_curl_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- SSRF guard ----
 * Every address curl is about to connect to passes through on_opensocket,
 * after DNS resolution and after curl's own parsing of odd IPv4 spellings
 * (2130706433, 0x7f.1, 127.1, [::ffff:127.0.0.1]), so one check on the
 * binary address covers every spelling and DNS rebinding (a name that
 * resolved to a public address at validation time and to 127.0.0.1 now is
 * judged by the address actually dialled). Connections are only reused for
 * the same host and port, and were checked when they were opened. */

/* HOOKQ_ALLOW_CIDRS: addresses in these networks are allowed even when they
 * are not public. Process-wide, set once at start. IPv4 networks are kept
 * as IPv4 (an IPv4-mapped IPv6 address is matched as IPv4). */
struct cidr {
    int v6;              /* 0: a[0..3] IPv4, 1: a[0..15] IPv6 */
    uint8_t a[16];
    int plen;
};
static struct cidr *allow_list;
static int allow_n;

/* Why an IPv4 address (host order) is not a public target, or NULL. */
static const char *v4_reason(uint32_t a)
{
    uint8_t b0 = (uint8_t)(a >> 24), b1 = (uint8_t)(a >> 16), b2 = (uint8_t)(a >> 8);
    if (b0 == 0) return "\"this network\" 0.0.0.0/8";
    if (b0 == 10) return "private 10.0.0.0/8";
    if (b0 == 127) return "loopback";
    if (b0 == 100 && (b1 & 0xc0) == 64) return "CGNAT shared 100.64.0.0/10";
    if (b0 == 169 && b1 == 254) return "link-local";
    if (b0 == 172 && (b1 & 0xf0) == 16) return "private 172.16.0.0/12";
    if (b0 == 192 && b1 == 168) return "private 192.168.0.0/16";
    if (b0 == 192 && b1 == 0 && b2 == 0) return "reserved 192.0.0.0/24";
    if (b0 == 192 && b1 == 0 && b2 == 2) return "documentation 192.0.2.0/24";
    if (b0 == 192 && b1 == 88 && b2 == 99) return "6to4 relay 192.88.99.0/24";
    if (b0 == 198 && (b1 & 0xfe) == 18) return "benchmarking 198.18.0.0/15";
    if (b0 == 198 && b1 == 51 && b2 == 100) return "documentation 198.51.100.0/24";
    if (b0 == 203 && b1 == 0 && b2 == 113) return "documentation 203.0.113.0/24";
    if ((b0 & 0xf0) == 224) return "multicast";
    if (a == 0xffffffffu) return "broadcast";
    if ((b0 & 0xf0) == 240) return "reserved 240.0.0.0/4";
    return NULL;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Why an IPv6 address is not a public target, or NULL. Forms that embed an
 * IPv4 address (mapped, SIIT, NAT64, 6to4) are judged by that address;
 * *v4 is set to it when the form is IPv4-mapped (for the allow-list). */
static const char *v6_reason(const uint8_t *a, int *mapped, uint32_t *v4)
{
    static const uint8_t zero[12] = { 0 };
    static const uint8_t map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    static const uint8_t siit[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0 };
    static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0 };
    *mapped = 0;
    if (memcmp(a, zero, 12) == 0) {
        uint32_t t = be32(a + 12);
        if (t == 0) return "unspecified ::";
        if (t == 1) return "loopback ::1";
        return "IPv4-compatible IPv6 ::/96";
    }
    if (memcmp(a, map, 12) == 0) {
        *mapped = 1;
        *v4 = be32(a + 12);
        return v4_reason(*v4) ? "IPv4-mapped non-public address" : NULL;
    }
    if (memcmp(a, siit, 12) == 0)
        return v4_reason(be32(a + 12)) ? "IPv4-translated non-public address" : NULL;
    if (memcmp(a, nat64, 12) == 0)
        return v4_reason(be32(a + 12)) ? "NAT64 of a non-public address" : NULL;
    if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xff && a[3] == 0x9b && a[4] == 0 && a[5] == 1)
        return "NAT64 local-use 64:ff9b:1::/48";
    if ((a[0] & 0xfe) == 0xfc) return "unique local fc00::/7";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "link-local fe80::/10";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return "site-local fec0::/10";
    if (a[0] == 0xff) return "multicast";
    if ((a[0] & 0xe0) != 0x20) return "reserved (not global unicast 2000::/3)";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8) return "documentation 2001:db8::/32";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) return "reserved 2001::/23 (Teredo, ORCHID...)";
    if (a[0] == 0x20 && a[1] == 0x02)
        return v4_reason(be32(a + 2)) ? "6to4 of a non-public address" : NULL;
    if (a[0] == 0x3f && a[1] == 0xff && (a[2] & 0xf0) == 0) return "documentation 3fff::/20";
    return NULL;
}

static int prefix_match(const uint8_t *a, const uint8_t *net, int plen)
{
    int full = plen / 8, rest = plen % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return 0;
    if (rest) {
        uint8_t m = (uint8_t)(0xff << (8 - rest));
        if ((a[full] & m) != (net[full] & m))
            return 0;
    }
    return 1;
}

/* 1 when the address is in HOOKQ_ALLOW_CIDRS. */
static int allowed(int v6, const uint8_t *a)
{
    for (int i = 0; i < allow_n; i++)
        if (allow_list[i].v6 == v6 && prefix_match(a, allow_list[i].a, allow_list[i].plen))
            return 1;
    return 0;
}

/* Why the address must not be connected to, or NULL when it may be: public,
 * in the allow-list, or private networks allowed. */
static const char *addr_refused(const struct hq_worker *w, const struct sockaddr *sa)
{
    if (w->allow_private)
        return NULL;
    if (sa->sa_family == AF_INET) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr.s_addr;
        const char *why = v4_reason(be32(a));
        return why && !allowed(0, a) ? why : NULL;
    }
    if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        int mapped;
        uint32_t v4 = 0;
        const char *why = v6_reason(a, &mapped, &v4);
        if (!why)
            return NULL;
        if (mapped && allowed(0, a + 12))
            return NULL;
        return allowed(1, a) ? NULL : why;
    }
    return "not an IP address";
}

static curl_socket_t on_opensocket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct easy *ez = clientp;
    struct delivery *d = ez->d;
    (void)purpose;
    if (!d)
        return CURL_SOCKET_BAD;   /* no transfer of ours (never expected) */
    const char *why = addr_refused(d->w, &a->addr);
    if (why) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
        d->blocked = 1;
        snprintf(d->blocked_addr, sizeof d->blocked_addr, "%s", ip);
        d->blocked_why = why;
        return CURL_SOCKET_BAD;
    }
    curl_socket_t fd = socket(a->family, a->socktype, a->protocol);
    if (fd < 0)
        return fd;
    struct fdid id;
    if (fd_ident(fd, &id) != 0) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    /* a fresh fd number: whatever we kept under it belonged to a socket curl
     * closed without on_closesocket within this curl call (libcurl 7.88: the
     * previous address of this connect). If curl still watches the number,
     * it keeps doing so for the new socket without asking again: the poll
     * moves to the new socket (stop: EPOLL_CTL_DEL on the fresh fd, a no-op;
     * start: ADD). Otherwise it goes. */
    struct sockctx *old = fd_lookup(fd);
    if (old && old->wanted) {
        uv_poll_stop(&old->poll);
        old->id = id;
        old->ours = 1;
        old->proven = 0;
        /* what curl asked for, also when libuv stopped the poll on the
         * old socket's error (on_poll): curl will not ask again */
        if (old->want) {
            uv_poll_start(&old->poll, old->want, on_poll);
            old->events = old->want;
        }
    } else if (old) {
        sock_unlink_close(d->w, old);
    }
    fd_grow(fd);
    fd_ours[fd] = 1;
    fd_id[fd] = id;
    ez->opened = fd;
    ez->opened_id = id;
    return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION of every handle: curl is done with one of our
 * connection sockets. Its poll is closed first (see sock_unlink_close). */
static int on_closesocket(void *clientp, curl_socket_t fd)
{
    struct hq_worker *w = clientp;
    struct sockctx *sc = fd_lookup(fd);
    if (sc)
        sock_unlink_close(w, sc);
    if (fd >= 0 && (size_t)fd < fd_cap)
        fd_ours[fd] = 0;
    return close(fd);
}

/* Parses one "addr/len" item (len required, host bits must be zero). */
static int parse_cidr(const char *s, size_t n, struct cidr *c)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    if (!slash || !slash[1] || strlen(slash + 1) > 3)
        return -1;
    *slash = '\0';
    int plen = 0;
    for (const char *p = slash + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        plen = plen * 10 + (*p - '0');
    }
    if (slash[1] == '0' && slash[2])
        return -1;  /* no leading zeros */
    memset(c, 0, sizeof *c);
    if (inet_pton(AF_INET, buf, c->a) == 1) {
        c->v6 = 0;
        if (plen > 32) return -1;
    } else if (inet_pton(AF_INET6, buf, c->a) == 1) {
        c->v6 = 1;
        if (plen > 128) return -1;
    } else {
        return -1;
    }
    c->plen = plen;
    uint8_t net[16];
    memset(net, 0, sizeof net);
    memcpy(net, c->a, (size_t)(plen / 8));
    if (plen % 8)
        net[plen / 8] = (uint8_t)(c->a[plen / 8] & (0xff << (8 - plen % 8)));
    if (memcmp(net, c->a, c->v6 ? 16 : 4) != 0)
        return -1;  /* host bits set: "10.0.0.1/8" is a mistake, not a network */
    return 0;
}

int http_allow_cidrs(const char *spec, char *err, size_t errlen)
{
    hq_free(allow_list);
    allow_list = NULL;
    allow_n = 0;
    if (!spec || !spec[0])
        return 0;
    size_t cap = 1;
    for (const char *p = spec; *p; p++)
        if (*p == ',') cap++;
    allow_list = hq_calloc(cap, sizeof *allow_list);
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *q = p;
        size_t m = n;
        while (m && (*q == ' ' || *q == '\t')) q++, m--;
        while (m && (q[m - 1] == ' ' || q[m - 1] == '\t')) m--;
        if (parse_cidr(q, m, &allow_list[allow_n]) != 0) {
            snprintf(err, errlen, "HOOKQ_ALLOW_CIDRS: invalid value '%s': '%.*s' is not a network "
                     "(use e.g. 10.0.0.0/8,fd00::/8; address/prefix with no host bits set)",
                     spec, (int)m, q);
            hq_free(allow_list);
            allow_list = NULL;
            allow_n = 0;
            return -1;
        }
        allow_n++;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void http_blocked_error(const struct delivery *d, char *out, size_t n)
{
    snprintf(out, n, "blocked: refused to connect to %s (%s): not a public address "
             "(HOOKQ_ALLOW_PRIVATE_NETWORKS=0 and not in HOOKQ_ALLOW_CIDRS)",
             d->blocked_addr, d->blocked_why ? d->blocked_why : "not public");
}

/* The lanes array is freed once the last lane timer has closed. */
static void on_lane_timer_closed(uv_handle_t *h)
{
    struct lane *ln = h->data;
    struct hq_worker *w = ln->w;
    if (--w->closing_lanes == 0) {
        hq_free(w->lanes);
        w->lanes = NULL;
        w->nlanes = 0;
    }
}

int http_init(struct hq_worker *w)
{
    w->nlanes = (w->concurrency + LANE_CAP - 1) / LANE_CAP;
    if (w->nlanes < 1)
        w->nlanes = 1;
    w->lanes = hq_calloc((size_t)w->nlanes, sizeof *w->lanes);
    for (int i = 0; i < w->nlanes; i++) {
        struct lane *ln = &w->lanes[i];
        ln->w = w;
        ln->multi = curl_multi_init();
        if (!ln->multi)
            return -1;
        uv_timer_init(w->loop, &ln->timer);
        ln->timer.data = ln;
        curl_multi_setopt(ln->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(ln->multi, CURLMOPT_SOCKETDATA, ln);
        curl_multi_setopt(ln->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
        curl_multi_setopt(ln->multi, CURLMOPT_TIMERDATA, ln);
        curl_multi_setopt(ln->multi, CURLMOPT_MAXCONNECTS,
                          (long)(w->concurrency < LANE_CAP ? w->concurrency : LANE_CAP));
    }
    w->multi = w->lanes[0].multi;
    w->easy_free = hq_calloc((size_t)w->concurrency, sizeof *w->easy_free);
    return 0;
}

/* CURLOPT_WRITEFUNCTION and _HEADERFUNCTION of every handle: the data
 * pointer is the handle's struct easy; the delivery's own callbacks
 * (delivery.c) get ez->d. */
static size_t on_body(char *p, size_t sz, size_t nm, void *ud)
{
    struct easy *ez = ud;
    return ez->d ? delivery_on_body(ez->d, p, sz * nm) : 0;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud)
{
    struct easy *ez = ud;
    return ez->d ? delivery_on_header(ez->d, p, sz * nm) : 0;
}

/* A new pooled handle with the options that never change between requests
 * (set once: a reused handle keeps its options, so nothing is reset or
 * parsed again per request). No proxy is ever used, and none is taken from
 * the environment: CURLOPT_PROXY "" disables the proxy and CURLOPT_NOPROXY
 * "*" spares curl reading no_proxy/NO_PROXY from the environment on every
 * request. */
static CURL *easy_new(struct hq_worker *w)
{
    CURL *c = curl_easy_init();
    if (!c) {
        hq_error("curl_easy_init failed");
        abort();
    }
    struct easy *ez = hq_calloc(1, sizeof *ez);
    ez->c = c;
    ez->opened = CURL_SOCKET_BAD;
    curl_easy_setopt(c, CURLOPT_PRIVATE, (char *)ez);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    /* the response body is recorded raw: no Accept-Encoding is sent and a
     * Content-Encoding the receiver sends anyway is never decoded (no
     * decompression bomb); chunked transfer coding is still undone */
    curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    /* a receive buffer of 1 KiB (curl's minimum), not its default 16 KiB:
     * every pooled handle keeps one, a webhook answer is mostly a status
     * line and a few headers, and a longer one just takes more reads.
     * slow5k (5,000 in flight): worker peak RSS 93-105 -> 73-82 MiB. */
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 1024L);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, ez);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
    curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, w);
    if (w->ca_file && w->ca_file[0])
        curl_easy_setopt(c, CURLOPT_CAINFO, w->ca_file);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ez);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ez);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ez->errbuf);
    return c;
}

static void easy_cleanup(CURL *c)
{
    struct easy *ez = easy_of(c);
    curl_easy_setopt(c, CURLOPT_CURLU, NULL);   /* may point at a freed epcfg's */
    curl_easy_cleanup(c);
    hq_free(ez);
}

CURL *http_easy(struct hq_worker *w, struct delivery *d)
{
    CURL *c = w->neasy_free ? w->easy_free[--w->neasy_free] : easy_new(w);
    struct easy *ez = easy_of(c);
    ez->d = d;
    ez->errbuf[0] = '\0';
    ez->opened = CURL_SOCKET_BAD;
    return c;
}

void http_set_timeout(struct delivery *d, long ms)
{
    struct easy *ez = easy_of(d->easy);
    if (ez->timeout_ms != ms) {
        curl_easy_setopt(d->easy, CURLOPT_TIMEOUT_MS, ms);
        curl_easy_setopt(d->easy, CURLOPT_CONNECTTIMEOUT_MS, ms);
        ez->timeout_ms = ms;
    }
}

const char *http_errbuf(const struct delivery *d)
{
    return d->easy ? easy_of(d->easy)->errbuf : "";
}

void http_set_url(struct delivery *d, struct epcfg *cfg)
{
    struct easy *ez = easy_of(d->easy);
    if (!cfg->uh_tried) {
        /* the flags curl itself parses CURLOPT_URL with */
        cfg->uh_tried = 1;
        cfg->uh = curl_url();
        if (cfg->uh && curl_url_set(cfg->uh, CURLUPART_URL, cfg->e.url,
                                    CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
            curl_url_cleanup(cfg->uh);
            cfg->uh = NULL;
        }
        if (cfg->uh)
            cfg->url_gen = url_gen_next++;
    }
    if (!cfg->uh) {
        curl_easy_setopt(d->easy, CURLOPT_CURLU, NULL);
        curl_easy_setopt(d->easy, CURLOPT_URL, cfg->e.url);
        ez->url_gen = 0;
    } else if (ez->url_gen != cfg->url_gen) {
        /* CURLOPT_URL NULL drops the URL text curl derived from the
         * previous CURLU; it is derived again from this one */
        curl_easy_setopt(d->easy, CURLOPT_URL, NULL);
        curl_easy_setopt(d->easy, CURLOPT_CURLU, cfg->uh);
        ez->url_gen = cfg->url_gen;
    }
}

int http_add(struct hq_worker *w, struct delivery *d)
{
    int best = 0;
    for (int i = 0; i < w->nlanes; i++) {
        if (w->lanes[i].running < LANE_CAP) {
            best = i;
            break;
        }
        if (w->lanes[i].running < w->lanes[best].running)
            best = i;
    }
    struct lane *ln = &w->lanes[best];
    CURLMcode rc = curl_multi_add_handle(ln->multi, d->easy);
    if (rc != CURLM_OK) {
        hq_error("curl_multi_add_handle failed", "error", curl_multi_strerror(rc));
        return -1;
    }
    ln->running++;
    d->lane = best + 1;
    return 0;
}

void http_release(struct hq_worker *w, struct delivery *d)
{
    CURL *c = d->easy;
    if (!c)
        return;
    d->easy = NULL;
    if (d->lane > 0) {
        struct lane *ln = &w->lanes[d->lane - 1];
        curl_multi_remove_handle(ln->multi, c);
        ln->running--;
        d->lane = 0;
    }
    easy_of(c)->d = NULL;
    if (w->neasy_free < w->concurrency)
        w->easy_free[w->neasy_free++] = c;
    else
        easy_cleanup(c);
}

void http_abort_all(struct hq_worker *w)
{
    while (w->if_head)
        delivery_abort(w->if_head);
}

/* Tears down curl; every transfer must be gone (http_abort_all). */
void http_close(struct hq_worker *w)
{
    if (!w->lanes || !w->multi)
        return;   /* never initialised, or already closing */
    for (struct sockctx *sc = w->socks, *next; sc; sc = next) {
        next = sc->next;
        if (!sock_same(sc)) {
            sock_forget(w, sc);   /* closed behind our back: the number may be Redis's */
            continue;
        }
        uv_poll_stop(&sc->poll);
        sc->events = 0;
    }
    /* closes every cached connection through on_closesocket */
    for (int i = 0; i < w->nlanes; i++)
        if (w->lanes[i].multi)
            curl_multi_cleanup(w->lanes[i].multi);
    w->multi = NULL;
    while (w->socks)
        sock_unlink_close(w, w->socks);
    for (int i = 0; i < w->neasy_free; i++)
        easy_cleanup(w->easy_free[i]);
    w->neasy_free = 0;
    hq_free(w->easy_free);
    w->easy_free = NULL;
    for (int i = 0; i < w->nlanes; i++) {
        uv_timer_stop(&w->lanes[i].timer);
        uv_close((uv_handle_t *)&w->lanes[i].timer, on_lane_timer_closed);
    }
    w->closing_lanes = w->nlanes;
    hq_free(allow_list);
    allow_list = NULL;
    allow_n = 0;
    hq_free(fd_ctx);
    hq_free(fd_ours);
    hq_free(fd_id);
    fd_ctx = NULL;
    fd_ours = NULL;
    fd_id = NULL;
    fd_cap = 0;
}
