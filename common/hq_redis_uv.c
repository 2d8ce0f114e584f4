/* hq_redis_uv: attaches a hiredis 0.14.1 async context to a libuv loop.
 *
 * Modelled on upstream hiredis's current adapters/libuv.h, with the fix that
 * Debian 12's copy lacks (hiredis commit 9ce15c4): a poll error (status < 0)
 * is not swallowed but forwarded to hiredis as readable+writable, so the
 * failed read/connect check surfaces as an error and the context is torn down
 * through hiredis's own disconnect path (never a silent hang).
 *
 * Ownership: the adapter struct owns one uv_poll_t. hiredis calls cleanup
 * exactly once, from __redisAsyncFree, before it closes the fd; cleanup
 * detaches the context and uv_close()s the poll handle, and the struct is
 * freed in the close callback (libuv handle.rst). */
#include "hq_fmacros.h"
#include <string.h>
#include "hq_alloc.h"
#include "hq_redis_uv.h"

struct hq_redis_uv {
    redisAsyncContext *ac;  /* NULL once hiredis called cleanup */
    uv_poll_t poll;
    int events;             /* UV_READABLE|UV_WRITABLE currently wanted */
    int started;            /* events the poll was last started with; 0 stopped:
                             * uv_poll_start always re-registers the fd (an
                             * epoll_ctl DEL at once, an ADD on the next loop
                             * turn), so hiredis asking for write again for
                             * every queued command must not restart it */
};

/* Poll callback: dispatches to hiredis. A read handler may free the context
 * (cleanup then clears p->ac), so p->ac is re-checked before the write. */
static void on_poll(uv_poll_t *h, int status, int events)
{
    struct hq_redis_uv *p = h->data;
    if (status < 0) {
        p->started = 0;                     /* libuv stopped the poll itself */
        events = UV_READABLE | UV_WRITABLE; /* let hiredis discover the error */
    }
    if (p->ac && (events & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (events & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void update(struct hq_redis_uv *p)
{
    if (p->events == p->started)
        return;
    p->started = p->events;
    if (p->events)
        uv_poll_start(&p->poll, p->events, on_poll);
    else
        uv_poll_stop(&p->poll);
}

static void add_read(void *privdata)
{
    struct hq_redis_uv *p = privdata;
    p->events |= UV_READABLE;
    update(p);
}

static void del_read(void *privdata)
{
    struct hq_redis_uv *p = privdata;
    p->events &= ~UV_READABLE;
    update(p);
}

static void add_write(void *privdata)
{
    struct hq_redis_uv *p = privdata;
    p->events |= UV_WRITABLE;
    update(p);
}

static void del_write(void *privdata)
{
    struct hq_redis_uv *p = privdata;
    p->events &= ~UV_WRITABLE;
    update(p);
}

static void on_close(uv_handle_t *h)
{
    hq_free(h->data);
}

/* Called by hiredis while freeing the context, before the fd is closed:
 * uv_close stops the watcher synchronously, so the fd is unpolled in time. */
static void cleanup(void *privdata)
{
    struct hq_redis_uv *p = privdata;
    p->ac = NULL;
    p->events = 0;
    uv_close((uv_handle_t *)&p->poll, on_close);
}

/* Attaches ac to loop; must be called before redisAsyncSetConnectCallback
 * (which asks for the first write event). Returns 0 or -1. */
int hq_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return -1;
    struct hq_redis_uv *p = hq_calloc(1, sizeof *p);
    if (uv_poll_init_socket(loop, &p->poll, ac->c.fd) != 0) {
        hq_free(p);
        return -1;
    }
    p->ac = ac;
    p->started = 0;
    p->poll.data = p;
    ac->ev.data = p;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}
