/* hiredis async <-> libuv adapter. Debian's hiredis 0.14.1 adapter drops poll
 * errors; this one forwards a poll error to hiredis as readable+writable so
 * the failure surfaces as a disconnect. Owns a uv_poll_t freed in its close
 * callback (after hiredis calls cleanup). */
#ifndef HQ_REDIS_UV_H
#define HQ_REDIS_UV_H
#include <uv.h>
#include <hiredis/async.h>

/* Attaches ac to loop. Returns 0, or -1 if ac already has an adapter or the
 * poll handle cannot be initialised. */
int hq_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
