/* libFuzzer target: the HTTP request path of common/hq_http.c, through its
 * public API only. One server listens on a unix socket in a private temp
 * dir; each input is written by a client socket (then its write side shut
 * down) and the libuv loop runs until the server has answered and closed the
 * connection. The handler reads headers and query parameters and answers,
 * so parsing, limits (431/413/400), pipelining, HEAD, 100-continue and the
 * graceful close all run on fuzzed bytes. A connection the server never
 * closes after the client's EOF is reported as a bug (abort). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>
#include "hq_http.h"
#include "hq_log.h"

#define MAX_BODY 4096

static uv_loop_t *g_loop;
static char g_path[256];
static int g_requests;

static void handler(hq_http_req *req, void *arg)
{
    (void)arg;
    g_requests++;
    char q[64];
    const char *ct = hq_http_header(req, "content-type");
    int has = hq_http_query(req, "org_id", q, sizeof q);
    hq_http_query(req, "", q, sizeof q);
    if (req->body_len > MAX_BODY) abort();          /* the cap must hold */
    if (req->body[req->body_len] != '\0') abort();  /* NUL-terminated as promised */
    char body[160];
    int n = snprintf(body, sizeof body, "{\"path_len\":%zu,\"body_len\":%zu,\"ct\":%d,\"q\":%d}",
                     strlen(req->path), req->body_len, ct != NULL, has);
    if (req->path[0] == '/' && req->path[1] == 'e') hq_http_error(req, 404, "not_found", req->path);
    else hq_http_respond(req, 200, "application/json", "X-Test: 1\r\n", body, (size_t)n);
}

static char g_dir[64];

static void cleanup(void)
{
    unlink(g_path);
    rmdir(g_dir);
}

static void setup(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/hookq-fuzz-http-XXXXXX");
    if (!mkdtemp(g_dir)) abort();
    atexit(cleanup);
    const char *dir = g_dir;
    snprintf(g_path, sizeof g_path, "%s/s", dir);
    char listen[300], err[256];
    snprintf(listen, sizeof listen, "unix:%s", g_path);
    g_loop = uv_default_loop();
    hq_log_setup("fuzz", 1, HQ_LOG_ERROR);
    if (!hq_http_listen(g_loop, listen, MAX_BODY, handler, NULL, err, sizeof err)) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
}

/* Reads and discards what the server sent; 1 once it closed. */
static int drain(int fd)
{
    char buf[8192];
    for (;;) {
        ssize_t k = read(fd, buf, sizeof buf);
        if (k > 0) continue;
        if (k == 0) return 1;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return 1;   /* ECONNRESET and the like: closed */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_loop) setup();
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) abort();
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g_path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) abort();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    size_t off = 0;
    int closed = 0;
    long spins = 0;
    while (off < size && !closed) {
        ssize_t k = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (k > 0) off += (size_t)k;
        else if (k < 0 && errno != EAGAIN && errno != EINTR) break;   /* server closed early */
        uv_run(g_loop, UV_RUN_NOWAIT);
        closed = drain(fd);
        if (++spins > 200000) abort();
    }
    shutdown(fd, SHUT_WR);
    /* the server must answer and close within a bounded number of turns */
    for (spins = 0; !closed; spins++) {
        uv_run(g_loop, UV_RUN_NOWAIT);
        closed = drain(fd);
        if (closed) break;
        struct pollfd p = { fd, POLLIN, 0 };
        poll(&p, 1, spins < 100 ? 0 : 1);
        if (spins > 20000) {
            fprintf(stderr, "fuzz_http: the server did not close the connection after the client's EOF\n");
            abort();
        }
    }
    close(fd);
    for (int i = 0; i < 4; i++) uv_run(g_loop, UV_RUN_NOWAIT);   /* close callbacks */
    return 0;
}
