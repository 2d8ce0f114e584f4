"""The Redis function library (common/hookq.lua) called directly, for the
edge cases no process run reaches easily: malformed poison entries, dead-set
pruning, the TTL of an event resent before any attempt."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Redis, RedisError, run  # noqa: E402

R = Redis()
with open(os.path.join(SRC, "common", "hookq.lua")) as f:
    R.cmd("FUNCTION", "LOAD", "REPLACE", f.read())
T = "hq:{0}:"
STREAM, RETRY, DEAD = T + "stream", T + "retry", T + "dead"
R.cmd("XGROUP", "CREATE", STREAM, "workers", "0", "MKSTREAM")
KEEP = 86400


def now():
    return int(time.time() * 1000)


def reclaim(consumer, max_claims=1):
    return R.cmd("FCALL", "hookq_reclaim", 2, STREAM, DEAD, T, consumer, 0, 100, max_claims, now(), KEEP, "0-0")


def publish(org, eid):
    R.cmd("FCALL", "hookq_ep_put", 2, T + "ep:ep_x000", T + "org:%s:eps" % org, "ep_x000", "{}", " * ", "1",
          org, now(), "create")
    return R.cmd("FCALL", "hookq_publish", 4, T + "ev:%s:%s" % (org, eid), T + "org:%s:eps" % org, STREAM,
                 T + "eid:" + eid, T, org, eid, "a.b", "2026-01-01T00:00:00Z", 0, "{}", now(), KEEP, "000", "", "0")


def test_malformed_poison_entry_does_not_break_reclaim():
    sid = R.cmd("XADD", STREAM, "*", "junk", "1")
    R.cmd("XREADGROUP", "GROUP", "workers", "c1", "COUNT", 10, "STREAMS", STREAM, ">")
    r = reclaim("c2")  # claimed once already: poison
    assert r[2] == 1 and R.cmd("ZSCORE", DEAD, "lost:" + sid) is not None, r
    assert R.cmd("XPENDING", STREAM, "workers")[0] == 0
    reclaim("c2")  # and the next call still works
    R.cmd("ZREM", DEAD, "lost:" + sid)


def test_dead_set_is_pruned_after_the_retention():
    old = now() - (KEEP + 10) * 1000
    R.cmd("ZADD", DEAD, old, "dlv_gone000")
    R.cmd("ZADD", DEAD, now(), "dlv_fresh000")
    R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, now(), KEEP, 1000, 0)
    assert R.cmd("ZSCORE", DEAD, "dlv_gone000") is None
    assert R.cmd("ZSCORE", DEAD, "dlv_fresh000") is not None
    R.cmd("ZREM", DEAD, "dlv_fresh000")


def test_event_resent_before_any_attempt_keeps_a_ttl():
    assert publish("o1", "e1")[0] == "new"
    R.cmd("XREADGROUP", "GROUP", "workers", "c1", "COUNT", 10, "STREAMS", STREAM, ">")
    reclaim("c2")  # poison on its first claim: dead with n = 0
    dlv = [d for d in R.cmd("ZRANGE", DEAD, 0, -1) if d.startswith("dlv_")]
    assert len(dlv) == 1, dlv
    assert R.cmd("FCALL", "hookq_resend", 3, STREAM, RETRY, DEAD, T, dlv[0], now()) == "ok"
    ttl = R.cmd("TTL", T + "ev:o1:e1")
    assert ttl > KEEP - 60, ttl
    # the re-enqueued entry completes as delivered: the event still expires
    e = R.cmd("XREADGROUP", "GROUP", "workers", "c1", "COUNT", 10, "STREAMS", STREAM, ">")[0][1][0]
    f = dict(zip(e[1][0::2], e[1][1::2]))
    assert R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, now(), KEEP, 1000, 0,
                 e[0], f["d"], f["e"], f["k"], f["n"], f["r"], "delivered", 0, "{}", 200, "") == 1
    assert R.cmd("TTL", T + "ev:o1:e1") > 0
    assert R.cmd("HGET", T + "dlv:" + dlv[0], "st") == "delivered"


def test_recover_is_bounded():
    try:
        n = R.cmd("FCALL", "hookq_recover", 3, STREAM, RETRY, DEAD, T, "ep_none000", 0, now())
    except RedisError as e:
        raise AssertionError(e)
    assert n == 0


def test_endpoint_update_from_a_stale_read_is_refused():
    k, eps = T + "ep:ep_v000", T + "org:ov:eps"
    v1 = R.cmd("FCALL", "hookq_ep_put", 2, k, eps, "ep_v000", "{}", " * ", "1", "ov", now(), "create")
    v2 = R.cmd("FCALL", "hookq_ep_put", 2, k, eps, "ep_v000", '{"a":1}', " * ", "1", "ov", now(), "update", v1)
    assert v2 == v1 + 1, (v1, v2)
    # a second writer that read v1 (e.g. a PATCH racing a rotation) loses
    assert R.cmd("FCALL", "hookq_ep_put", 2, k, eps, "ep_v000", '{"b":2}', " * ", "1", "ov", now(), "update",
                 v1) == -2
    assert R.cmd("HGET", k, "cfg") == '{"a":1}'


if __name__ == "__main__":
    run([test_malformed_poison_entry_does_not_break_reclaim, test_dead_set_is_pruned_after_the_retention,
         test_event_resent_before_any_attempt_keeps_a_ttl, test_recover_is_bounded,
         test_endpoint_update_from_a_stale_read_is_refused])
