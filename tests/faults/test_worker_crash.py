"""Fault injection, workers (SPEC 7 "at least once"): kill -9 of random
workers in a loop under load, and a crash between an endpoint's 2xx and the
worker's ack. Each test ends with checker.check(). Seeded: set
HOOKQ_FAULT_SEED to replay a run."""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import Ledger, Publisher, Timer, World, quiet, wait_for  # noqa: E402
from checker import Monitor, check, recording, answered_2xx  # noqa: E402
from harness import Receiver, run  # noqa: E402

SEED = int(os.environ.get("HOOKQ_FAULT_SEED", "20261126"))


def test_kill9_random_workers_under_load():
    t = Timer("kill9-loop")
    rnd = random.Random(SEED)
    print("  seed %d" % SEED, flush=True)
    W = World()
    try:
        W.endpoint("org-a", "/a1")
        W.endpoint("org-b", "/b1")
        W.endpoint("org-b", "/b2")
        workers = [W.worker("w%d" % i) for i in range(3)]
        L = Ledger()
        mon = Monitor(W.R)

        def step(P, ledger):
            ledger.publish_batch(P, [("org-a" if k % 2 else "org-b", "lead.created") for k in range(50)])
            return 50
        pub = Publisher(W.P, L, step, limit=2000, pause=0.1)
        kills = 0
        while pub.is_alive() or kills < 6:
            time.sleep(rnd.uniform(0.4, 1.2))
            v = rnd.randrange(len(workers))
            workers[v].kill9()
            kills += 1
            workers[v] = W.worker("w%d-%d" % (v, kills))
        pub.join(60)
        t.lap("published %d events (%s), %d workers killed" % (pub.sent, L.statuses, kills))
        assert L.statuses.get(202) == 2000, L.statuses
        st = check(W.R, L.expected(W.eps_of), W.endpoints, timeout=45)
        assert st["dead"] == 0, st
        t.lap("settled; %d stream/retry snapshots taken during the run" % mon.stop())
        for w in workers:
            assert w.stop() == 0, w.logtext()[-2000:]
    finally:
        W.stop()
    t.lap("done")


def test_crash_between_2xx_and_ack():
    t = Timer("2xx-then-crash")
    W = World()
    target = "evt_c_000005"
    state = {"worker": None, "stopped": False}
    lock = threading.Lock()

    def respond(req):
        with lock:
            first = req.header("X-Webhook-Id") == target and not state["stopped"]
            if first:
                state["stopped"] = True
        if first:
            # freeze the worker before it can read the answer, answer 200,
            # then kill it: the 2xx reached the endpoint, the ack never Redis
            a = state["worker"]
            os.killpg(a.proc.pid, signal.SIGSTOP)
            threading.Timer(0.5, a.kill9).start()
        return 200, {}, b"ok"
    rc = quiet(Receiver(recording(respond)))
    try:
        W.endpoint("org-c", "/c", rc=rc)
        state["worker"] = W.worker("crash-a")
        L = Ledger()
        for _ in range(10):
            st, j = L.publish(W.P, "org-c", prefix="c")
            assert st == 202, (st, j)
        wait_for(lambda: state["worker"].proc.poll() is not None, 15, "worker a killed after answering 200")
        t.lap("worker a SIGKILLed after the 200 for %s" % target)
        for _ in range(10):
            L.publish(W.P, "org-c", prefix="c")
        W.worker("crash-b")
        check(W.R, L.expected(W.eps_of), W.endpoints, timeout=30)
        got = answered_2xx(W.endpoints)
        n = got[(W.subs["org-c"][0], target)]
        # the entry was never acked, so worker b delivered it again: a duplicate, not a loss
        assert n >= 2, n
        t.lap("%s answered 2xx %d times (duplicate after the crash, as documented)" % (target, n))
    finally:
        W.stop()
        rc.close()
    t.lap("done")


if __name__ == "__main__":
    run([test_kill9_random_workers_under_load, test_crash_between_2xx_and_ack])
