"""Fault injection, SPEC audit (SPEC 7 "one slow or dead endpoint never slows
the others", SPEC 7 "at least once" and SPEC 4 "2xx -> delivered"): cases the
other fault files do not cover. All but the last were found failing by the
audit (audit 4; see docs/reliability.md).

* A rate-limited endpoint (rate_limit_per_sec) with a backlog larger than
  HOOKQ_CONCURRENCY, with default concurrency settings: its deliveries wait
  for tokens while still claimed, fill every claim slot of the worker, and
  the worker stops reading, so a fast endpoint of another org gets little
  or nothing until the backlog has trickled out at the rate limit.
* A black-hole endpoint whose backlog arrives before any attempt to it has
  ended (cold start) with a small pool (HOOKQ_CONCURRENCY=16,
  HOOKQ_ENDPOINT_CONCURRENCY=2): the first batches all queue behind its two
  slots and hold the whole pool until the attempts time out.
* The same pool and an endpoint that is fast at first (so the worker lets a
  long queue build up for it) and then hangs: the queue admitted while it
  was fast is never handed back and holds the pool until the timeouts.
* A receiver that closes the connection in the middle of its response head
  (after "HTTP/1.1 200 OK" and part of a header): no complete answer, so
  the attempt must fail and be retried, never count as delivered.
* (Passes; kept as a guard) SIGINT while a receiver never answers: the
  drain deadline aborts the attempts, the worker exits 0, everything it held
  stays pending without a recorded attempt, and another worker delivers it.

No timing thresholds: isolation is judged by order (every fast delivery
arrives before the slow endpoint's next slot or rate window is used up),
the truncated head by the recorded outcome and the retry."""
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from faultlib import Ledger, Receiver, Timer, World, post, quiet, wait_for  # noqa: E402
from checker import check, delivery_id, ok200, recording, shard_of_id, tag  # noqa: E402
from harness import RawServer, hgetall, read_request, run  # noqa: E402


def fast_endpoint_elsewhere(W, slow_ep, path="/fast"):
    """An endpoint of an org whose shard differs from slow_ep's, so the fast
    deliveries never sit behind the slow backlog in one stream: any
    starvation is the worker's, not the stream's order."""
    for i in range(16):
        org = "org-fast-%d" % i
        ep = W.P.endpoint(org, W.rc.url(path), events=["*"])["id"]
        if shard_of_id(ep) != shard_of_id(slow_ep):
            W.endpoints[ep] = (W.rc, path)
            W.subs.setdefault(org, []).append(ep)
            return org, ep
    raise AssertionError("no org on another shard")


def backlog(W, org, n, typ="lead.created"):
    """n events for org, published in batches (nothing else subscribes)."""
    while n > 0:
        k = min(400, n)
        n -= k
        st, j = post(W.P, "/v1/events/batch", {"events": [{"org_id": org, "type": typ, "data": {"k": i}}
                                                          for i in range(k)]})
        assert st == 202, (st, j)


def fast_count(W, ep):
    with W.rc.lock:
        return sum(1 for r in W.rc.requests if r.path == W.endpoints[ep][1] and getattr(r, "answered", 0) == 200)


def delivered(W, L, ep):
    """Every event of L (fanned out to ep alone) ended delivered at ep. (The
    checker cannot be used here: the slow endpoint's backlog is meant to be
    still queued when the test ends.)"""
    T = tag(shard_of_id(ep))
    for org, eid, eps in L.expected(lambda o, e: [ep]):
        wait_for(lambda: W.R.cmd("HGET", T + "dlv:" + delivery_id(org, eid, ep), "st") == "delivered", 20,
                 "%s delivered" % eid)


def fast_first(W, t, org, fast, n, prefix, slow_moved, clock, why):
    """Publishes n events for the fast endpoint (another org's) and waits
    for all of them or for the slow endpoint's clock to move (slow_moved();
    clock says what that is); every fast delivery must have come first, and
    each ends delivered. why: what holding them back would mean."""
    L = Ledger()
    for _ in range(n):
        assert L.publish(W.P, org, prefix=prefix)[0] == 202
    wait_for(lambda: fast_count(W, fast) >= n or slow_moved(), 60,
             "the fast endpoint's %d deliveries or %s" % (n, clock))
    got = fast_count(W, fast)
    t.lap("fast endpoint: %d of %d delivered before %s" % (got, n, clock))
    assert got == n, "%s: %d of %d fast deliveries before %s" % (why, got, n, clock)
    delivered(W, L, fast)


def test_rate_limited_backlog_leaves_the_pool_to_others():
    t = Timer("rate-limit-isolation")
    W = World()
    rl = quiet(Receiver(recording(ok200)))
    try:
        slow = W.P.endpoint("org-rl", rl.url("/rl"), events=["*"], rate_limit_per_sec=1)["id"]
        org, fast = fast_endpoint_elsewhere(W, slow)
        backlog(W, "org-rl", 1200)
        # default HOOKQ_CONCURRENCY (1024) and HOOKQ_ENDPOINT_CONCURRENCY (32)
        W.worker("rl-a")
        wait_for(lambda: rl.count() >= 1, 20, "the rate-limited endpoint's first attempt")
        n0 = rl.count()
        t.lap("1200 events for the endpoint limited to 1/s; it has had %d" % n0)
        # the rate-limited endpoint is the clock: 1 attempt a second
        fast_first(W, t, org, fast, 30, "r", lambda: rl.count() >= n0 + 8, "8 more rate-limited attempts",
                   "a rate-limited backlog starved another org's endpoint")
    finally:
        W.stop()
        rl.close()
    t.lap("done")


class BlackHole:
    """Accepts connections, reads whatever comes and never answers."""

    def __init__(self):
        self.accepted = 0
        self.conns = []
        self.lock = threading.Lock()
        self.srv = RawServer(self._hold, threaded=False, backlog=256)

    def _hold(self, c):
        with self.lock:
            self.accepted += 1
            self.conns.append(c)

    def url(self):
        return "http://127.0.0.1:%d/hole" % self.srv.port

    def close(self):
        self.srv.close()
        for c in self.conns:
            c.close()


def test_black_hole_cold_backlog_leaves_the_pool_to_others():
    t = Timer("black-hole-cold-start")
    W = World()
    hole = BlackHole()
    try:
        slow = W.P.endpoint("org-hole", hole.url(), events=["*"])["id"]
        org, fast = fast_endpoint_elsewhere(W, slow)
        backlog(W, "org-hole", 100)
        # the black hole's attempts end only at the 10 s timeout: until then
        # it has held exactly its 2 slots, whatever else happens
        W.worker("hole-a", HOOKQ_CONCURRENCY="16", HOOKQ_ENDPOINT_CONCURRENCY="2", HOOKQ_TIMEOUT="10s",
                 HOOKQ_CLAIM_IDLE="12s")
        wait_for(lambda: hole.accepted >= 2, 20, "the black hole to hold its two slots")
        fast_first(W, t, org, fast, 20, "h", lambda: hole.accepted > 2, "the black hole's first timeout",
                   "a black hole's backlog held the pool")
    finally:
        W.stop()
        hole.close()
    t.lap("done")


def test_endpoint_turning_black_hole_releases_the_pool():
    t = Timer("turns-black-hole")
    W = World()
    lock = threading.Lock()
    seen = {"n": 0, "hung": 0}
    gone = threading.Event()

    def respond(req):
        # fast for its first 40 requests (so the worker trusts it with a long
        # queue), then a black hole: accepts, reads, never answers
        with lock:
            seen["n"] += 1
            hang = seen["n"] > 40
            seen["hung"] += hang
        if hang:
            gone.wait(60)
            return None, {}, b""
        return 200, {}, b"ok"
    rc = quiet(Receiver(recording(respond)))
    try:
        slow = W.P.endpoint("org-turns", rc.url("/turns"), events=["*"])["id"]
        org, fast = fast_endpoint_elsewhere(W, slow)
        backlog(W, "org-turns", 300)
        W.worker("turns-a", HOOKQ_CONCURRENCY="16", HOOKQ_ENDPOINT_CONCURRENCY="2", HOOKQ_TIMEOUT="10s",
                 HOOKQ_CLAIM_IDLE="12s")
        # until its first hanging attempts time out (10 s) it has exactly 2
        wait_for(lambda: seen["hung"] >= 2, 20, "the endpoint to hang on its two slots")
        t.lap("the endpoint turned into a black hole after %d requests" % (seen["n"] - seen["hung"]))
        fast_first(W, t, org, fast, 20, "t", lambda: seen["hung"] > 2, "the hung endpoint's first timeout",
                   "the queue an endpoint built up while it was fast held the pool after it hung")
    finally:
        gone.set()
        W.stop()
        rc.close()
    t.lap("done")


def test_sigint_while_a_receiver_hangs_leaves_the_attempts_pending():
    """SPEC 7 graceful shutdown with an attempt that cannot finish: the
    drain deadline aborts it, the worker exits 0, the aborted deliveries
    stay pending (no attempt recorded, not in the retry set) and another
    worker reclaims and delivers them. (Passes; the other shutdown test only
    drains attempts that finish in time.)"""
    t = Timer("sigint-hang")
    W = World()
    release = threading.Event()

    def respond(req):
        if not release.is_set():
            release.wait(60)
            return None, {}, b""
        return 200, {}, b"ok"
    rc = quiet(Receiver(recording(respond)))
    try:
        ep = W.endpoint("org-hang", "/hang", rc=rc)
        a = W.worker("hang-a", HOOKQ_DRAIN_TIMEOUT="1s", HOOKQ_ENDPOINT_CONCURRENCY="2")
        L = Ledger()
        for _ in range(5):
            assert L.publish(W.P, "org-hang", prefix="g")[0] == 202
        rc.wait(2, 15)      # two attempts hang, three wait for a slot
        a.signal(signal.SIGINT)
        code = a.proc.wait(30)
        t.lap("worker exited %s with two attempts hanging" % code)
        assert code == 0, a.logtext()[-2000:]
        T = tag(shard_of_id(ep))
        hs = [hgetall(W.R, T + "dlv:" + delivery_id(o, e, ep)) for o, e, _, _ in L.accepted]
        assert all(h.get("st") == "pending" and h.get("n") == "0" and "a1" not in h for h in hs), hs
        assert W.R.cmd("ZCARD", T + "retry") == 0
        assert W.R.cmd("XPENDING", T + "stream", "workers")[0] == 5
        release.set()
        W.worker("hang-b")
        st = check(W.R, L.expected(W.eps_of), W.endpoints, timeout=30)
        assert st["dead"] == 0, st
    finally:
        release.set()
        W.stop()
        rc.close()
    t.lap("done")


class HalfHead:
    """Per event id: the first request gets a response head cut off by the
    server (FIN) after `prefix`; later ones a complete 200. Records the
    X-Webhook-Attempt of every request per event."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.seen = {}
        self.lock = threading.Lock()
        self.srv = RawServer(self._serve)

    def url(self):
        return "http://127.0.0.1:%d/half" % self.srv.port

    def _serve(self, c):
        try:
            c.settimeout(10)
            r = read_request(c)
            if r is None:
                return
            hdr = {}
            for line in r[0].split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                hdr[k.strip().lower().decode()] = v.strip().decode()
            eid = hdr.get("x-webhook-id")
            with self.lock:
                first = eid not in self.seen
                self.seen.setdefault(eid, []).append(int(hdr.get("x-webhook-attempt", "0")))
            if first:
                c.sendall(self.prefix)
                c.shutdown(socket.SHUT_WR)
                time.sleep(0.2)
            else:
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.srv.close()


def test_response_head_cut_off_is_not_delivered():
    t = Timer("half-head")
    W = World()
    cases = {"mid-header": HalfHead(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl"),
             "status-line-only": HalfHead(b"HTTP/1.1 200 OK\r\n")}
    try:
        eps = {name: W.P.endpoint("org-half", s.url(), events=["*"])["id"] for name, s in cases.items()}
        W.worker("half-a")
        L = Ledger()
        st, j = L.publish(W.P, "org-half", prefix="hh")
        assert st == 202 and j["deliveries"] == 2, (st, j)
        eid = j["id"]
        allep = sorted(eps.values())

        def settled():
            hs = {n: hgetall(W.R, tag(shard_of_id(ep)) + "dlv:" + delivery_id("org-half", eid, ep, allep))
                  for n, ep in eps.items()}
            return hs if all(h.get("st") in ("delivered", "dead") for h in hs.values()) else None
        hs = wait_for(settled, 30, "both deliveries to end")
        for name, s in cases.items():
            with s.lock:
                attempts = list(s.seen.get(eid, []))
            t.lap("%s: requests (attempt numbers) %s, final st=%s after n=%s"
                  % (name, attempts, hs[name]["st"], hs[name].get("n")))
        for name, s in cases.items():
            with s.lock:
                attempts = list(s.seen.get(eid, []))
            # the first answer was cut off inside its head: not an answer, so
            # the delivery must have been attempted again (and then succeeded)
            assert hs[name]["st"] == "delivered" and attempts[:2] == [1, 2], (
                "%s: a response head cut off by the server counted as delivered (attempts %s, st=%s, n=%s)"
                % (name, attempts, hs[name]["st"], hs[name].get("n")))
    finally:
        W.stop()
        for s in cases.values():
            s.close()
    t.lap("done")


if __name__ == "__main__":
    run([test_rate_limited_backlog_leaves_the_pool_to_others, test_black_hole_cold_backlog_leaves_the_pool_to_others,
         test_endpoint_turning_black_hole_releases_the_pool, test_sigint_while_a_receiver_hangs_leaves_the_attempts_pending,
         test_response_head_cut_off_is_not_delivered])
