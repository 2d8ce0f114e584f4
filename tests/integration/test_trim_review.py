"""Review of the lazy stream trim and the packed attempt log (docs/redis-keys.md,
`T stream` and `T eplog`), on hookq_complete called directly:
  * several workers finishing out of order leave an idle shard with XLEN 0
    (api.md: stream_length is 0 on an idle shard);
  * the trim finds the oldest pending entry without walking every consumer
    the group ever had (XPENDING summary is O(consumers); a group keeps
    every worker name it ever saw);
  * the attempt log's storage stays within the documented bound (the newest
    L attempts plus about L/4 and one entry) when one-attempt and
    several-attempt entries alternate, and the API still returns exactly
    the newest L attempts."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Producer, Receiver, Redis, Worker, run, wait_for  # noqa: E402,F401
from streamfx import KEEP, R, claim, complete, drained_stats, group, ids, now, publish, shard  # noqa: E402,F401


def test_idle_shard_is_empty_after_out_of_order_completions():
    t = shard(1)
    publish(t, 10)
    a = claim(t, "w1", 5)
    b = claim(t, "w2", 5)
    assert complete(t, b) == 5          # w2 first: w1's entries still pending
    assert complete(t, a) == 5          # then w1: nothing pending, nothing unread
    g = dict(zip(*[iter(R.cmd("XINFO", "GROUPS", t + "stream")[0])] * 2))
    assert g["pending"] == 0 and g["lag"] == 0, g
    assert R.cmd("XLEN", t + "stream") == 0, R.cmd("XRANGE", t + "stream", "-", "+")
    # and with unread entries behind: those stay, every read one goes
    publish(t, 6)
    a = claim(t, "w1", 3)
    b = claim(t, "w2", 3)
    publish(t, 2)
    assert complete(t, b) == 3 and complete(t, a) == 3
    left = R.cmd("XRANGE", t + "stream", "-", "+")
    assert len(left) >= 2 and len(left) <= 2 + 3, left
    assert claim(t, "w3") and True


def test_trim_cost_does_not_grow_with_dead_consumers():
    t = shard(2)
    # a group keeps every consumer name it ever saw (workers are <host>-<pid>)
    for i in range(0, 10000, 500):
        R.cmd("EVAL", "for i = ARGV[1], ARGV[1] + 499 do redis.call('XGROUP', 'CREATECONSUMER', KEYS[1], "
              "'workers', 'gone-' .. i) end", 1, t + "stream", i)
    publish(t, 40)
    a = claim(t, "w1", 20)
    R.cmd("CONFIG", "RESETSTAT")
    for k in range(20):
        b = claim(t, "w2", 1)
        assert complete(t, b) == 1          # w1's entries stay pending: the pending path
    st = R.cmd("INFO", "commandstats")
    xp = [ln for ln in st.split("\r\n") if ln.startswith("cmdstat_xpending:")]
    assert xp, st
    per = float(xp[0].split("usec_per_call=")[1].split(",")[0])
    # the summary form walks all 10,000 consumers (~250 us here); a seek is ~1 us
    assert per < 60, xp
    assert complete(t, a) == 20
    assert R.cmd("XLEN", t + "stream") == 0


def log_attempts(key):
    n = 0
    for _, f in R.cmd("XRANGE", key, "-", "+"):
        d = dict(zip(f[0::2], f[1::2]))
        n += 1 + len(d.get("m", "").split()) // 4
    return n


def test_attempt_log_storage_bound_with_mixed_entries():
    t = shard(3)
    key = t + "eplog:ep_r003"
    L = 8
    for _ in range(40):
        publish(t, 1)
        assert complete(t, claim(t, "w1"), loglen=L) == 1      # one attempt
        publish(t, 3)
        assert complete(t, claim(t, "w1"), loglen=L) == 3      # three in one entry
    stored = log_attempts(key)
    # docs/redis-keys.md: the newest L attempts plus at most about L/4 and one entry
    # docs/redis-keys.md: at most L entries; the several-attempt ones hold at most about
    # 1.25 L attempts and one entry, so about 2.25 L in all when the kinds alternate
    assert R.cmd("XLEN", key) <= L and stored <= L + L + L // 4 + 3, (stored, R.cmd("XLEN", key))


def log_exact(r2, P, L):
    """Batches of 1, 3 and 2 attempts, failed and delivered rounds, log length
    L: every page size and filter gives exactly the newest L attempts."""
    ep = P.endpoint("org-rv%d" % L, "http://127.0.0.1:9/hook", events=["*"])
    epid = ep["id"]
    t = "hq:{%d}:" % int(epid[-3:], 16)
    expect = []
    for rnd in range(6):
        for k in (1, 3, 2):
            for i in range(k):
                P.publish("org-rv%d" % L, "a.b", {"i": i})
            got = {}
            for _, ents in r2.cmd("XREADGROUP", "GROUP", "workers", "t1", "COUNT", 1000, "STREAMS",
                                  t + "stream", ">") or []:
                for sid, f in ents:
                    got[sid] = dict(zip(f[0::2], f[1::2]))
            assert len(got) == k
            outcome = "delivered" if rnd % 2 else "retry"
            args = [t, now(), KEEP, L, 0, "0"]
            for sid, f in got.items():
                args += [sid, f["d"], f["e"], f["k"], "", f["n"], f["r"], outcome, now() + 3600000, "{}",
                         200 if outcome == "delivered" else 500, ""]
                expect.append((f["d"], "delivered" if outcome == "delivered" else "failed"))
            assert r2.cmd("FCALL", "hookq_complete_v2", 3, t + "stream", t + "retry", t + "dead", *args) == k
    want = list(reversed(expect))[:L]
    for limit in (1, 2, 250):
        for status in ("all", "failed", "delivered", "dead"):
            out, _ = P.attempt_log(epid, limit, status)
            w = [x for x in want if status == "all" or x[1] == status]
            assert out == w, (L, limit, status, out, w)


def test_attempt_log_api_exact_with_mixed_entries():
    r2 = Redis()
    P = Producer(r2)
    try:
        for L in (3, 5):
            log_exact(r2, P, L)
    finally:
        P.stop()
        r2.kill()


def test_two_workers_leave_idle_shards_empty():
    r2 = Redis(extra=("--stream-node-max-entries", "8"))
    P = Producer(r2)
    rc = Receiver()
    W = [Worker(r2, "w%d" % i, HOOKQ_BATCH="4") for i in range(2)]
    try:
        n = 120
        j = drained_stats(P, rc, "org-two", n, 60)
        # api.md: stream_length is 0 on an idle shard
        assert all(s["stream_length"] == 0 for s in j["shards"]), j["shards"]
    finally:
        for w in W:
            w.stop()
        P.stop()
        rc.close()
        r2.kill()


run([test_idle_shard_is_empty_after_out_of_order_completions, test_trim_cost_does_not_grow_with_dead_consumers,
     test_attempt_log_storage_bound_with_mixed_entries, test_attempt_log_api_exact_with_mixed_entries,
     test_two_workers_leave_idle_shards_empty])
