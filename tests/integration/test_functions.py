"""The Redis function library (common/hookq.lua) called directly, for the
edge cases no process run reaches easily: malformed poison entries, dead-set
pruning, the TTL of an event resent before any attempt, which outcomes a
batch of hookq_complete records when some of its entries already left the
PEL."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Redis, RedisError, hgetall, run  # noqa: E402

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
    R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, now(), KEEP, 1000, 0, 0)
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
    assert R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, now(), KEEP, 1000, 0, 0,
                 e[0], f["d"], f["e"], f["k"], "", f["n"], f["r"], "delivered", 0, "{}", 200, "") == 1
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


def claim(consumer, *eids):
    """Reads every new entry as consumer; returns {event id: (sid, fields)} of those named."""
    out = {}
    for _, ents in R.cmd("XREADGROUP", "GROUP", "workers", consumer, "COUNT", 100, "STREAMS", STREAM, ">") or []:
        for sid, f in ents:
            f = dict(zip(f[0::2], f[1::2]))
            eid = f["k"].rsplit(":", 1)[1]
            if eid in eids:
                out[eid] = (sid, f)
    assert sorted(out) == sorted(eids), out
    return out


def complete(flag, *attempts):
    """hookq_complete with (sid, fields, outcome, record) attempts, the worker's layout."""
    args = [T, now(), KEEP, 1000, 0, flag]
    for sid, f, outcome, rec in attempts:
        args += [sid, f["d"], f["e"], f["k"], "", f["n"], f["r"], outcome, now() + 60000, rec, 200, ""]
    return R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, *args)


def dlv(f, field):
    return R.cmd("HGET", T + "dlv:" + f["d"], field)


def test_complete_first_outcome_wins_after_a_reclaim():
    for flag in (0, 1):
        a, b = "w%da" % flag, "w%db" % flag
        publish("o3", a)
        publish("o3", b)
        got = claim("c1", a, b)
        # c2 reclaims a and records it first
        assert R.cmd("XCLAIM", STREAM, "workers", "c2", 0, got[a][0], "JUSTID") == [got[a][0]]
        assert complete(flag, (got[a][0], got[a][1], "delivered", '{"by":"c2"}')) == 1
        # c1's batch: a is no longer pending (skipped), b is recorded
        assert complete(flag, (got[a][0], got[a][1], "retry", '{"by":"c1"}'),
                        (got[b][0], got[b][1], "delivered", '{"by":"c1"}')) == 1
        assert dlv(got[a][1], "st") == "delivered" and dlv(got[a][1], "a1") == '{"by":"c2"}'
        assert R.cmd("ZSCORE", RETRY, got[a][1]["d"]) is None
        assert dlv(got[b][1], "st") == "delivered" and dlv(got[b][1], "a1") == '{"by":"c1"}'
        assert R.cmd("XPENDING", STREAM, "workers")[0] == 0
        # (acked entries leave the stream by trimming, later: test_stream_trim.py)


def test_complete_skips_an_entry_recorded_lost():
    publish("o4", "l1")
    publish("o4", "l2")
    got = claim("c1", "l1", "l2")
    sid = got["l1"][0]
    assert R.cmd("XDEL", STREAM, sid) == 1
    r = reclaim("c2", max_claims=10)   # the deleted pending entry is recorded lost; l2 moves to c2
    assert r[3] == 1 and R.cmd("HEXISTS", T + "lost", sid) == 1, r
    # the first recorded outcome (lost) wins over c1's late one; l2 is recorded
    assert complete(0, (sid, got["l1"][1], "delivered", "{}"),
                    (got["l2"][0], got["l2"][1], "delivered", "{}")) == 1
    assert dlv(got["l1"][1], "st") == "pending" and dlv(got["l2"][1], "st") == "delivered"
    R.cmd("HDEL", T + "lost", sid)
    R.cmd("ZREM", DEAD, "lost:" + sid)


def test_complete_records_a_pending_entry_whose_data_is_gone():
    publish("o5", "g1")
    got = claim("c1", "g1")
    assert R.cmd("XDEL", STREAM, got["g1"][0]) == 1   # still in the PEL, no reclaim yet
    assert complete(0, (got["g1"][0], got["g1"][1], "delivered", "{}")) == 1
    assert dlv(got["g1"][1], "st") == "delivered"
    assert R.cmd("XPENDING", STREAM, "workers")[0] == 0


def test_complete_accepts_the_layout_of_older_workers():
    # 11 fields per attempt from ARGV[6], no cluster flag, no event id
    publish("o6", "u1")
    got = claim("c1", "u1")
    sid, f = got["u1"]
    assert R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, now(), KEEP, 1000, 0,
                 sid, f["d"], f["e"], f["k"], f["n"], f["r"], "retry", now() + 60000, "{}", 500, "") == 1
    assert dlv(f, "st") == "retrying" and R.cmd("ZSCORE", RETRY, f["d"]) is not None
    R.cmd("ZREM", RETRY, f["d"])


def test_complete_health_is_written_once_a_second_while_healthy():
    ep = T + "ep:ep_x000"
    publish("o7", "h1")
    publish("o7", "h2")
    publish("o7", "h3")
    got = claim("c1", "h1", "h2", "h3")
    sec = (now() // 1000 + 10) * 1000   # a second to come: nothing else writes in it

    def done(eid, at, outcome="delivered"):
        sid, f = got[eid]
        return R.cmd("FCALL", "hookq_complete", 3, STREAM, RETRY, DEAD, T, at, KEEP, 1000, 0, 0,
                     sid, f["d"], f["e"], f["k"], "", f["n"], f["r"], outcome, at + 60000, "{}", 200, "")
    R.cmd("HSET", ep, "fails", "0", "ok_at", sec - 1)
    R.cmd("HDEL", ep, "ff", "fail_at")
    assert done("h1", sec + 100) == 1
    assert R.cmd("HGET", ep, "ok_at") == str(sec + 100)   # a new second: written
    assert done("h2", sec + 900) == 1
    assert R.cmd("HGET", ep, "ok_at") == str(sec + 100)   # same second, still healthy: as it was
    assert done("h3", sec + 950, "retry") == 1           # a failure is always written
    h = hgetall(R, ep)
    assert h["fails"] == "1" and h["ff"] == str(sec + 950) and h["fail_at"] == str(sec + 950), h
    R.cmd("ZREM", RETRY, got["h3"][1]["d"])


if __name__ == "__main__":
    run([test_malformed_poison_entry_does_not_break_reclaim, test_dead_set_is_pruned_after_the_retention,
         test_event_resent_before_any_attempt_keeps_a_ttl, test_recover_is_bounded,
         test_endpoint_update_from_a_stale_read_is_refused, test_complete_first_outcome_wins_after_a_reclaim,
         test_complete_skips_an_entry_recorded_lost, test_complete_records_a_pending_entry_whose_data_is_gone,
         test_complete_accepts_the_layout_of_older_workers,
         test_complete_health_is_written_once_a_second_while_healthy])
