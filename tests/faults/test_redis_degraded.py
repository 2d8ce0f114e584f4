"""Fault injection, a degraded Redis (SPEC 3 "never a partial fan-out",
SPEC 7 "Redis restarts and failovers are survived"):

* Redis frozen with SIGSTOP: worker /readyz turns 503 within a bounded time,
  the worker does not spin (CPU time from /proc), the producer answers 503,
  and after SIGCONT everything recovers;
* FUNCTION FLUSH (the functions equivalent of SCRIPT FLUSH) again and again
  under load: processes reload the library, nothing is lost;
* maxmemory with noeviction: the producer answers 503, never a partial
  fan-out; after maxmemory is raised it recovers.
Each test ends with checker.check()."""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import Ledger, Publisher, Timer, World, cpu_seconds, post, wait_for  # noqa: E402
from checker import Monitor, answered_2xx, check, delivery_id, pipeline, shard_of_id, tag  # noqa: E402
from harness import run  # noqa: E402

SEED = int(os.environ.get("HOOKQ_FAULT_SEED", "20261126"))
PAUSE_S = 5.0


def readyz(w):
    try:
        return w.get("/readyz")[0]
    except OSError:
        return None


def test_redis_sigstop_pause():
    t = Timer("sigstop")
    W = World(producer_kw=dict(HOOKQ_REDIS_TIMEOUT="1s"))
    try:
        W.endpoint("org-pause", "/p")
        w = W.worker("pause-a")
        L = Ledger()
        wait_for(lambda: readyz(w) == 200, 10, "worker ready")
        for _ in range(20):
            assert L.publish(W.P, "org-pause", prefix="p")[0] == 202
        cpu0 = cpu_seconds(w.proc.pid)
        W.R.kill(signal.SIGSTOP)
        t0 = time.monotonic()
        try:
            t.lap("redis SIGSTOPped")
            st, j = L.publish(W.P, "org-pause", prefix="p")
            took = time.monotonic() - t0
            t.lap("producer answered %s in %.2fs" % (st, took))
            assert st == 503, (st, j)
            wait_for(lambda: readyz(w) == 503, 4.5, "worker /readyz to answer 503 while Redis is frozen")
            t_unready = time.monotonic() - t0
            t.lap("worker /readyz 503 after %.2fs" % t_unready)
            while time.monotonic() - t0 < PAUSE_S:
                assert L.publish(W.P, "org-pause", prefix="p")[0] == 503
            cpu = cpu_seconds(w.proc.pid) - cpu0
            t.lap("worker CPU during the %.1fs pause: %.3fs" % (time.monotonic() - t0, cpu))
            assert cpu < 1.0, cpu
            assert w.proc.poll() is None and W.P.proc.poll() is None
        finally:
            W.R.kill(signal.SIGCONT)
        wait_for(lambda: readyz(w) == 200, 15, "worker ready again after SIGCONT")
        t.lap("worker ready again")
        wait_for(lambda: post(W.P, "/v1/endpoints", {"org_id": "org-probe", "url": "http://127.0.0.1:9/x"})[0] == 201,
                 15, "producer answering again")
        for _ in range(20):
            assert L.publish(W.P, "org-pause", prefix="p")[0] == 202
        n503 = len(L.rejected)
        # a 503 after a Redis timeout is an unknown outcome (the FCALL may run
        # once Redis wakes up); the client re-sends with the same id and gets
        # one answer, never a second fan-out
        T = tag(shard_of_id(W.subs["org-pause"][0]))
        replayed = sum(pipeline(W.R, [("EXISTS", T + "ev:%s:%s" % (o, e)) for o, e, _ in L.rejected]))
        L.retry_rejected(W.P)
        t.lap("answers: %s; %d of the %d refused events had been enqueued after all" % (L.statuses, replayed, n503))
        check(W.R, L.expected(W.eps_of), W.endpoints, timeout=30)
        got = answered_2xx(W.endpoints)
        assert all(got.get((W.subs["org-pause"][0], e), 0) >= 1 for o, e, _, _ in L.accepted)
    finally:
        W.stop()
    t.lap("done")


def test_function_flush_under_load():
    t = Timer("function-flush")
    rnd = random.Random(SEED)
    print("  seed %d" % SEED, flush=True)
    W = World()
    try:
        W.endpoint("org-ff", "/f1")
        W.endpoint("org-ff2", "/f2")
        W.endpoint("org-ff2", "/f3")
        W.worker("ff-a")
        W.worker("ff-b")
        L = Ledger()
        mon = Monitor(W.R)

        def step(P, ledger):
            ledger.publish_batch(P, [("org-ff" if k % 3 else "org-ff2", "lead.created") for k in range(20)])
            ledger.publish(P, "org-ff2", prefix="s")
            return 21
        pub = Publisher(W.P, L, step, pause=0.02)
        flushes = 0
        t_end = time.monotonic() + 6
        while time.monotonic() < t_end:
            time.sleep(rnd.uniform(0.05, 0.3))
            W.R.cmd("FUNCTION", "FLUSH")
            flushes += 1
        pub.stop()
        t.lap("%d FUNCTION FLUSH; answers %s" % (flushes, L.statuses))
        assert set(L.statuses) <= {202, 503}, L.statuses
        gone = pipeline(W.R, [("EXISTS", tag(shard_of_id(W.subs[o][0])) + "ev:%s:%s" % (o, e))
                              for o, e, s in L.rejected])
        assert not any(gone), "an event answered 503 exists"
        check(W.R, L.expected(W.eps_of), W.endpoints, timeout=40)
        mon.stop()
    finally:
        W.stop()
    t.lap("done")


def test_maxmemory_noeviction_never_partial():
    t = Timer("maxmemory")
    W = World()
    try:
        for i in range(5):
            W.endpoint("org-oom", "/o%d" % i)
        W.worker("oom-a")
        L = Ledger()
        big = {"pad": "x" * 2000}
        for _ in range(20):
            assert L.publish(W.P, "org-oom", prefix="o", data=big)[0] == 202
        info = W.R.cmd("INFO", "memory")
        used = int([ln for ln in info.splitlines() if ln.startswith("used_memory:")][0].split(":")[1])
        W.R.cmd("CONFIG", "SET", "maxmemory", used + 256 * 1024)
        t.lap("maxmemory set to used + 256 KiB (%d)" % (used + 256 * 1024))
        n503 = 0
        deadline = time.monotonic() + 30
        while n503 < 30:
            assert time.monotonic() < deadline, "no 503 after 30s: %s" % L.statuses
            st, j = L.publish(W.P, "org-oom", prefix="o", data=big)
            assert st in (202, 503), (st, j)
            if st == 503:
                n503 += 1
        # a batch at the limit: each item is enqueued whole or refused (503
        # for the batch when Redis refused them all, else 207 per item);
        # workers finishing deliveries free memory, so some may get in
        st = L.publish_batch(W.P, [("org-oom", "lead.created")] * 10, prefix="ob")
        assert st in (503, 207, 202), st
        t.lap("at the limit: answers %s" % L.statuses)
        W.R.cmd("CONFIG", "SET", "maxmemory", 0)
        for _ in range(20):
            assert L.publish(W.P, "org-oom", prefix="o", data=big)[0] == 202
        t.lap("limit raised: answers %s" % L.statuses)
        T = tag(shard_of_id(W.subs["org-oom"][0]))
        eps = W.eps_of("org-oom", None)
        # accepted: exactly 5 deliveries each
        ns = pipeline(W.R, [("HGET", T + "ev:org-oom:" + e, "n") for o, e, _, _ in L.accepted])
        assert len(ns) == len(L.accepted) and L.statuses.get(503, 0) >= 30, L.statuses
        assert all(n == "5" for n in ns), ns
        # refused: no event hash, no delivery hash
        cmds = []
        for o, e, s in L.rejected:
            cmds.append(("EXISTS", T + "ev:org-oom:" + e))
            cmds += [("EXISTS", T + "dlv:" + delivery_id(o, e, ep, eps)) for ep in eps]
        assert not any(pipeline(W.R, cmds)), "an event answered 503 left data behind"
        check(W.R, L.expected(W.eps_of), W.endpoints, timeout=40)
    finally:
        W.stop()
    t.lap("done")


if __name__ == "__main__":
    run([test_redis_sigstop_pause, test_function_flush_under_load, test_maxmemory_noeviction_never_partial])
