"""Helpers shared by the fault-injection tests (tests/faults/test_*.py): a
fresh world per test (Redis, producer, receivers with recorded answers),
publishing with client-supplied ids while keeping the producer's answer for
each, /proc CPU time, and a per-test timer. Built on
tests/integration/harness.py."""
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOKEN, Producer, Receiver, Redis, RedisError, Worker, wait_for  # noqa: E402,F401
import checker  # noqa: E402

# every fault test runs workers with short timeouts so reclaims happen fast
FAST = dict(HOOKQ_TIMEOUT="2s", HOOKQ_CLAIM_IDLE="3s", HOOKQ_RETRY_SCHEDULE="1s,1s,1s,1s,1s",
            HOOKQ_DRAIN_TIMEOUT="3s")


def post(P, path, body, timeout=30):
    """One API call; (status, json) or (None, error text) when the producer
    could not be reached or did not answer."""
    try:
        c = http.client.HTTPConnection(P.host, P.port, timeout=timeout)
        c.request("POST", path, body=json.dumps(body).encode(),
                  headers={"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        text = r.read()
        c.close()
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, None
    except (OSError, http.client.HTTPException) as e:
        return None, str(e)


class Ledger:
    """What the producer answered, per event id (client-supplied ids)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = []      # (org, id, deliveries, answer time)
        self.rejected = []      # (org, id, status)
        self.unknown = []       # (org, id, error)
        self.statuses = {}
        self.seq = 0

    def next_id(self, prefix):
        with self.lock:
            self.seq += 1
            return "evt_%s_%06d" % (prefix, self.seq)

    def note(self, org, eid, status, n=None):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 202:
                self.accepted.append((org, eid, n, time.monotonic()))
            elif status is None:
                self.unknown.append((org, eid, n))
            else:
                self.rejected.append((org, eid, status))

    def publish(self, P, org, typ="lead.created", prefix="f", data=None):
        eid = self.next_id(prefix)
        st, j = post(P, "/v1/events", {"org_id": org, "type": typ, "id": eid, "data": data or {"i": eid}})
        self.note(org, eid, st, j.get("deliveries") if st == 202 and j else None)
        return st, j

    def retry_rejected(self, P, typ="lead.created"):
        """Re-sends every refused event with its same id, as a client should
        after a 503 (ingest is idempotent on (org, id)); each must now be
        accepted (a 503 after a Redis timeout is an unknown outcome: the
        first attempt may have been enqueued after all)."""
        with self.lock:
            todo, self.rejected = self.rejected, []
        for org, eid, _ in todo:
            st, j = post(P, "/v1/events", {"org_id": org, "type": typ, "id": eid, "data": {"i": eid}})
            assert st == 202, (eid, st, j)
            self.note(org, eid, st, j.get("deliveries"))
        return len(todo)

    def publish_batch(self, P, items, prefix="b"):
        """items: [(org, type)]. Records each item's own answer."""
        evs = [{"org_id": org, "type": typ, "id": self.next_id(prefix), "data": {"k": k}}
               for k, (org, typ) in enumerate(items)]
        st, j = post(P, "/v1/events/batch", {"events": evs})
        if st in (202, 207) and j:
            for ev, res in zip(evs, j["results"]):
                self.note(ev["org_id"], ev["id"], res["status"], res.get("deliveries"))
        else:
            for ev in evs:
                self.note(ev["org_id"], ev["id"], st if st is not None else None)
        return st

    def expected(self, eps_of):
        """(org, id, [endpoint ids]) for every accepted event; eps_of(org, id, n)
        gives the subscribed endpoint ids and must agree with n."""
        out = []
        for org, eid, n, _ in self.accepted:
            eps = eps_of(org, eid)
            assert n == len(eps), (eid, n, eps)
            out.append((org, eid, eps))
        return out


def single(org, prefix, typ="lead.created"):
    """A Publisher step: one event; backs off 20 ms after a non-202 answer."""
    def step(P, ledger):
        st, _ = ledger.publish(P, org, typ, prefix)
        if st != 202:
            time.sleep(0.02)
        return 1
    return step


class Publisher(threading.Thread):
    """Publishes in a loop until stopped (or until limit events were sent)."""

    def __init__(self, P, ledger, step, limit=None, pause=0.0):
        super().__init__(daemon=True)
        self.P, self.ledger, self.step, self.limit, self.pause = P, ledger, step, limit, pause
        self.stopped = threading.Event()
        self.sent = 0
        self.start()

    def run(self):
        while not self.stopped.is_set() and (self.limit is None or self.sent < self.limit):
            self.sent += self.step(self.P, self.ledger)
            if self.pause:
                time.sleep(self.pause)

    def stop(self):
        self.stopped.set()
        self.join(60)
        assert not self.is_alive(), "publisher did not stop"


def cpu_seconds(pid):
    """utime + stime of a process from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / os.sysconf("SC_CLK_TCK")


class FRedis(Redis):
    """harness.Redis whose start() also waits through "-LOADING" (a restart
    on a non-empty AOF answers PING with that error for a moment; the
    harness's own _ping lets it escape)."""

    def _ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except (OSError, RedisError):
            return False


def quiet(rc):
    """Killed workers reset their connections; the receiver's server would
    print a traceback for each one."""
    rc.server.handle_error = lambda *a: None
    return rc


class World:
    """A fresh Redis + producer + a recording receiver per test; stop() tears
    down everything it started."""

    def __init__(self, redis_kw=None, producer_kw=None):
        self.R = FRedis(**(redis_kw or {}))
        self.P = Producer(self.R, **(producer_kw or {}))
        self.rc = quiet(Receiver(checker.recording(checker.ok200)))
        self.workers = []
        self.endpoints = {}   # epid -> (receiver, path)
        self.subs = {}        # org -> [epid] (every endpoint subscribes to "*")

    def endpoint(self, org, path, rc=None):
        rc = rc or self.rc
        ep = self.P.endpoint(org, rc.url(path), events=["*"])
        self.endpoints[ep["id"]] = (rc, path)
        self.subs.setdefault(org, []).append(ep["id"])
        return ep["id"]

    def eps_of(self, org, eid):
        return sorted(self.subs.get(org, []))

    def worker(self, name, **kw):
        env = dict(FAST)
        env.update(kw)
        w = Worker(self.R, name, **env)
        self.workers.append(w)
        return w

    def stop(self):
        for w in self.workers:
            if w.proc.poll() is None:
                try:
                    w.kill9()
                except OSError:
                    pass
        if self.P.proc.poll() is None:
            self.P.kill9()
        try:
            self.rc.close()
        except OSError:
            pass
        if self.R.proc.poll() is None:
            self.R.kill()


class Timer:
    def __init__(self, name):
        self.name = name
        self.t0 = time.monotonic()

    def lap(self, what):
        print("  [%s] %6.2fs %s" % (self.name, time.monotonic() - self.t0, what), flush=True)

    def elapsed(self):
        return time.monotonic() - self.t0
