/* status: the worker's own HTTP endpoint (HOOKQ_LISTEN) for operators and
 * orchestrators: /metrics (Prometheus text), /healthz (the process runs its
 * loop) and /readyz (200 only while both Redis connections are up, the
 * function library is loaded and the consumer groups exist; 503 otherwise,
 * also while draining). */
#include "hq_fmacros.h"
#include <stdio.h>
#include <string.h>
#include "hq_log.h"
#include "worker.h"

static void on_request(hq_http_req *req, void *arg)
{
    struct hq_worker *w = arg;
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        hq_http_error(req, 405, "method_not_allowed", "only GET is supported here");
        return;
    }
    if (strcmp(req->path, "/metrics") == 0) {
        hq_buf b;
        hq_buf_init(&b, 0);
        hq_metric_set(w->m_inflight, (double)w->http_inflight);
        hq_metrics_render(w->metrics, &b);
        hq_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
                        b.data ? b.data : "", b.len);
        hq_buf_free(&b);
    } else if (strcmp(req->path, "/healthz") == 0) {
        hq_http_respond(req, 200, "application/json", NULL, "{\"status\":\"ok\"}", 15);
    } else if (strcmp(req->path, "/readyz") == 0) {
        if (worker_ready(w))
            hq_http_respond(req, 200, "application/json", NULL, "{\"status\":\"ready\"}", 18);
        else
            hq_http_respond(req, 503, "application/json", NULL, "{\"status\":\"not ready\"}", 22);
    } else {
        hq_http_error(req, 404, "not_found", "no such route");
    }
}

int status_listen(struct hq_worker *w)
{
    char err[256];
    w->http = hq_http_listen(w->loop, w->listen, 4096, on_request, w, err, sizeof err);
    if (!w->http) {
        fprintf(stderr, "hookq-worker: HOOKQ_LISTEN: %s\n", err);
        return -1;
    }
    char addr[300];
    int port = hq_http_port(w->http);
    if (strncmp(w->listen, "unix:", 5) == 0 || port == 0) {
        snprintf(addr, sizeof addr, "%s", w->listen);
    } else {
        const char *colon = strrchr(w->listen, ':');
        int hl = colon ? (int)(colon - w->listen) : (int)strlen(w->listen);
        snprintf(addr, sizeof addr, "%.*s:%d", hl, w->listen, port);
    }
    hq_info("listening", "addr", addr);
    return 0;
}
