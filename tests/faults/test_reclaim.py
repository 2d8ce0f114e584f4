"""Fault injection, reclaim edge cases (SPEC 7, docs/redis-keys.md): a
pending entry whose stream data was deleted under a dead worker is recorded
as lost (never silently dropped), and an entry that keeps being claimed
without an outcome ends dead as poison after HOOKQ_MAX_CLAIMS claims."""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import Ledger, Timer, World, quiet, wait_for  # noqa: E402
from checker import check, delivery_id, recording, shard_of_id, tag  # noqa: E402
from harness import Receiver, hgetall, metric, run  # noqa: E402


def test_deleted_stream_data_is_recorded_lost():
    t = Timer("lost")
    W = World()
    release = threading.Event()

    def respond(req):
        if not release.is_set():
            release.wait(30)
            return None, {}, b""   # the worker holding it is dead by now
        return 200, {}, b"ok"
    rc = quiet(Receiver(recording(respond)))
    try:
        ep = W.endpoint("org-lost", "/l", rc=rc)
        a = W.worker("lost-a")
        L = Ledger()
        for _ in range(3):
            assert L.publish(W.P, "org-lost", prefix="l")[0] == 202
        rc.wait(3, 15)      # all three are in flight at worker a
        a.kill9()
        # someone deletes one pending entry's stream data under the dead worker
        victim = L.accepted[0][1]
        T = tag(shard_of_id(ep))
        did = delivery_id("org-lost", victim, ep)
        sid = W.R.cmd("HGET", T + "dlv:" + did, "sid")
        assert W.R.cmd("XDEL", T + "stream", sid) == 1
        release.set()
        t.lap("worker a killed, stream entry %s of %s deleted" % (sid, victim))
        b = W.worker("lost-b")
        st = check(W.R, L.expected(W.eps_of), W.endpoints, lost={(victim, ep)}, timeout=30)
        assert st["lost"] == 1, st
        assert W.R.cmd("ZSCORE", T + "dead", "lost:" + sid) is not None
        assert W.R.cmd("HEXISTS", T + "lost", sid) == 1
        assert hgetall(W.R, T + "stats").get("lost") == "1", hgetall(W.R, T + "stats")
        wait_for(lambda: "reclaim found dead entries" in b.logtext(), 10, "a log line about the lost entry")
        m = wait_for(lambda: (lambda s: s if metric(s, "hookq_reclaimed_total") >= 2 else None)(b.get("/metrics")[1]),
                     10, "hookq_reclaimed_total to count the two other entries")
        assert metric(m, "hookq_reclaim_dead_total", 'reason="lost"') == 1, m
        t.lap("lost:%s in the dead set, stats lost=1, reclaimed_total=%d"
              % (sid, metric(m, "hookq_reclaimed_total")))
        # an operator can re-send the lost delivery by its id (the delivery
        # hash still names the vanished entry in sid)
        st, j = W.P.api("POST", "/v1/deliveries/%s/resend" % did)
        assert st == 202, (st, j)
        wait_for(lambda: W.R.cmd("HGET", T + "dlv:" + did, "st") == "delivered", 15, "the re-sent lost delivery")
        assert W.R.cmd("ZSCORE", T + "dead", "lost:" + sid) is None
        assert W.R.cmd("HEXISTS", T + "lost", sid) == 0
        st = check(W.R, L.expected(W.eps_of), W.endpoints, timeout=15)
        assert st["dead"] == 0 and st["lost"] == 0, st
        t.lap("re-sent and delivered; lost record cleared")
    finally:
        W.stop()
        rc.close()
    t.lap("done")


def test_poison_entry_ends_dead_after_max_claims():
    t = Timer("poison")
    W = World()
    poison = "evt_p_000001"
    cur = {"w": None}
    started = threading.Event()   # cur["w"] is set (the worker may claim before its constructor returns)

    def respond(req):
        if req.header("X-Webhook-Id") == poison:
            # whoever holds the poison entry dies while holding it
            started.wait(20)
            os.killpg(cur["w"].proc.pid, signal.SIGKILL)
            return None, {}, b""
        return 200, {}, b"ok"
    rc = quiet(Receiver(recording(respond)))
    try:
        ep = W.endpoint("org-poison", "/p", rc=rc)
        L = Ledger()
        assert L.publish(W.P, "org-poison", prefix="p")[0] == 202
        T = tag(shard_of_id(ep))
        did = delivery_id("org-poison", poison, ep)
        n = 0
        while W.R.cmd("HGET", T + "dlv:" + did, "st") != "dead":
            n += 1
            assert n <= 4, "still not dead after %d workers" % n
            started.clear()
            cur["w"] = W.worker("poison-%d" % n, HOOKQ_MAX_CLAIMS="2")
            started.set()
            wait_for(lambda: cur["w"].proc.poll() is not None or
                     W.R.cmd("HGET", T + "dlv:" + did, "st") == "dead", 20, "a claim of the poison entry")
        h = hgetall(W.R, T + "dlv:" + did)
        t.lap("dead after %d claims (%d workers started): %s" % (rc.count(), n, h.get("reason")))
        assert h["reason"].startswith("poison"), h
        assert W.R.cmd("TTL", T + "dlv:" + did) > 0   # final: expires like any dead delivery
        assert W.R.cmd("ZSCORE", T + "dead", did) is not None
        assert rc.count() == 2, rc.count()     # claimed exactly HOOKQ_MAX_CLAIMS times
        m = cur["w"].get("/metrics")[1]
        assert metric(m, "hookq_reclaim_dead_total", 'reason="poison"') == 1, m
        # the worker that declared it poison keeps delivering the rest
        for _ in range(5):
            assert L.publish(W.P, "org-poison", prefix="p")[0] == 202
        st = check(W.R, L.expected(W.eps_of), W.endpoints, timeout=20)
        assert st["dead"] == 1, st
    finally:
        W.stop()
        rc.close()
    t.lap("done")


if __name__ == "__main__":
    run([test_deleted_stream_data_is_recorded_lost, test_poison_entry_ends_dead_after_max_claims])
