"""Batch publishes answered asynchronously (issue 5): POST /v1/events/batch
writes its FCALLs to Redis and answers when their replies arrive
(producer_redis_pipeline_async), while the producer reads and serves other
requests. Checked here: many batches in flight at once each get their own
answers (ids, order, replays) while single publishes and reads go through
the same connection; batches queued behind a busy (stopped) Redis, more
than the producer keeps in flight, are answered once it resumes; the library flushed under batches in flight is
reloaded and every event published once; a Redis restarted behind the
producer's back is reconnected to without an error; a Redis silent past
HOOKQ_REDIS_TIMEOUT turns the batches waiting on it into 503s, and a retry
of the same batch is a replay or a first publish, never a double; SIGTERM
answers the batches still waiting before the producer exits. Through a
proxy in front of Redis: a connection reset under batches in flight (what
a Redis closing with unread input, e.g. a master demoted by Sentinel,
sends) is retried on a new connection as the synchronous path does, and
replies that arrived while the producer was stopped past the timeout are
answers, not a timeout. Clients that hang up while their batch waits, and
requests pipelined on one connection (answered in order), are checked too."""
import contextlib
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import TOKEN, Producer, Redis, hgetall, run, wait_for  # noqa: E402

R = Redis()
P = Producer(R)
ORGS = ["org-a", "org-b", "org-c", "org-d", "org-e"]
for _o in ORGS:
    P.endpoint(_o, "http://127.0.0.1:9/hook", events=["*"])


def batch(prefix, n, repeat_of=None):
    """n events with ids prefix-0..n-1 over the orgs; repeat_of: ids to
    append again (replays)."""
    evs = [{"type": "lead.created", "org_id": ORGS[k % len(ORGS)], "id": "%s-%d" % (prefix, k),
            "data": {"k": k, "p": prefix, "blob": "x" * 200}} for k in range(n)]
    for e in repeat_of or []:
        evs.append(dict(e))
    return evs


def post_batch(evs, out, key, prod=None):
    st, j, _, _ = (prod or P).request("POST", "/v1/events/batch", {"events": evs})
    out[key] = (st, j)


def start_posts(batches, out, prod=None):
    """One thread per batch posting it to prod (default P), out[k] = (status,
    body) of batches[k]; returns the threads, started."""
    threads = [threading.Thread(target=post_batch, args=(evs, out, k, prod)) for k, evs in enumerate(batches)]
    for th in threads:
        th.start()
    return threads


def join_all(threads, timeout=60):
    for th in threads:
        th.join(timeout)


@contextlib.contextmanager
def redis_stopped():
    """Redis stopped (SIGSTOP) for the block: it reads nothing, answers nothing."""
    R.kill(signal.SIGSTOP)
    try:
        yield
    finally:
        R.kill(signal.SIGCONT)


def check_answer(evs, st, j, replayed_from=None, deliveries=1):
    """A 202 whose results follow evs; items at index >= replayed_from are replays."""
    assert st == 202, (st, j)
    res = j["results"]
    assert len(res) == len(evs), (len(res), len(evs))
    for k, (e, r) in enumerate(zip(evs, res)):
        assert r["status"] == 202 and r["id"] == e["id"] and r["deliveries"] == deliveries, (k, r)
        want = replayed_from is not None and k >= replayed_from
        assert r.get("replayed", False) == want, (k, r)


def stored(org, eid):
    return hgetall(R, "hq:{%d}:ev:%s:%s" % (shard_of(org), org, eid))


def shard_of(org):
    h = 2166136261
    for b in org.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % 4


def test_many_batches_in_flight_each_get_their_own_answer():
    out, threads, sent = {}, [], {}
    for t in range(8):
        first = batch("c%d" % t, 60)
        evs = first + [dict(e) for e in first[:7]]  # replays inside the batch
        sent[t] = evs
        threads.append(threading.Thread(target=post_batch, args=(evs, out, t)))
    singles = {}

    def single(k):
        singles[k] = P.api("POST", "/v1/events", {"type": "a.b", "org_id": "org-a", "id": "s-%d" % k,
                                                   "data": {"k": k}})

    threads += [threading.Thread(target=single, args=(k,)) for k in range(6)]
    reads = {}
    threads += [threading.Thread(target=lambda k=k: reads.__setitem__(k, P.api("GET", "/v1/endpoints?org_id=org-a")))
                for k in range(4)]
    for th in threads:
        th.start()
    join_all(threads)
    for t in range(8):
        check_answer(sent[t], *out[t], replayed_from=60)
    for k in range(6):
        st, j = singles[k]
        assert st == 202 and j["id"] == "s-%d" % k, (st, j)
    for k in range(4):
        assert reads[k][0] == 200, reads[k]
    e = stored("org-b", "c3-1")
    assert e["id"] == "c3-1" and '"p":"c3"' in e["data"] and e["n"] == "1", e
    # a second round of the same batches: every item a replay
    out2 = {}
    join_all(start_posts([sent[t] for t in range(8)], out2))
    for t in range(8):
        check_answer(sent[t], *out2[t], replayed_from=0)


def test_batches_queued_behind_a_stopped_redis_are_answered_when_it_resumes():
    out = {}
    with redis_stopped():
        # more than the 8 pipelines the producer keeps in flight: the
        # rest wait for those (synchronously) and are answered too
        threads = start_posts([batch("q%d" % t, 30) for t in range(12)], out)
        time.sleep(0.5)
    join_all(threads)
    for t in range(12):
        check_answer(batch("q%d" % t, 30), *out[t])


def test_flushed_functions_under_batches_in_flight_are_reloaded():
    R.cmd("FUNCTION", "FLUSH")
    out = {}
    join_all(start_posts([batch("f%d" % t, 40) for t in range(4)], out))
    for t in range(4):
        check_answer(batch("f%d" % t, 40), *out[t])
    assert stored("org-c", "f2-2")["n"] == "1"


def test_a_restarted_redis_is_reconnected_to():
    R.kill()
    R.start()  # empty: no functions, no groups, no endpoints; the producer's connection is dead
    time.sleep(0.3)  # past the producer's reconnect throttle (250 ms)
    out = {}
    post_batch(batch("r", 20), out, 0)  # the first command on the dead connection
    check_answer(batch("r", 20), *out[0], deliveries=0)
    assert stored("org-a", "r-0")["n"] == "0"
    for o in ORGS:
        P.endpoint(o, "http://127.0.0.1:9/hook", events=["*"])


def test_a_silent_redis_past_the_timeout_is_503_and_the_retry_publishes_once():
    P2 = Producer(R, HOOKQ_REDIS_TIMEOUT="300ms")
    try:
        evs = batch("t", 25)
        st, j, _, _ = P2.request("POST", "/v1/events/batch", {"events": evs})
        check_answer(evs, st, j)  # connected and working
        evs = batch("u", 25)
        out = {}
        with redis_stopped():
            join_all(start_posts([evs], out, P2), 30)
        st, j = out[0]
        assert st == 503, (st, j)
        # Redis may still run what it had read: the retry is then a replay
        def retried():
            st, j, _, _ = P2.request("POST", "/v1/events/batch", {"events": evs})
            return (st, j) if st == 202 else None
        st, j = wait_for(retried, 15, "the retried batch to be accepted")
        assert [r["id"] for r in j["results"]] == [e["id"] for e in evs]
        assert all(r["status"] == 202 and r["deliveries"] == 1 for r in j["results"]), j
        assert len(set(r.get("replayed", False) for r in j["results"])) == 1, j  # one call: all or none
        for e in evs:
            assert stored(e["org_id"], e["id"])["n"] == "1"
        assert int(R.cmd("HGET", "hq:{%d}:stats" % shard_of("org-a"), "events")) > 0
    finally:
        P2.stop()


def test_sigterm_answers_the_batches_still_waiting():
    P3 = Producer(R)
    evs = batch("z", 20)
    out = {}
    with redis_stopped():
        threads = start_posts([evs], out, P3)
        time.sleep(0.3)
        P3.signal(signal.SIGTERM)
        time.sleep(0.3)
    join_all(threads, 30)
    check_answer(evs, *out[0])
    assert P3.proc.wait(20) == 0, P3.logtext()


class Proxy:
    """A TCP front for the Redis unix socket. While hold is set, what the
    producer sends is kept back (held counts its bytes); reset() closes
    the producer's side of every connection with an RST and drops what was
    held, so Redis never sees it."""

    def __init__(self, target):
        self.target = target
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(16)
        self.port = self.ls.getsockname()[1]
        self.lock = threading.Lock()
        self.hold = False
        self.held = 0
        self.down = 0
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def _accept(self):
        while True:
            try:
                c, _ = self.ls.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            u.connect(self.target)
            conn = {"c": c, "u": u, "dead": False}
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._up, args=(conn,), daemon=True).start()
            threading.Thread(target=self._down, args=(conn,), daemon=True).start()

    def _up(self, conn):
        try:
            while True:
                d = conn["c"].recv(65536)
                if not d:
                    break
                counted = False
                while True:
                    with self.lock:
                        if conn["dead"]:
                            raise OSError("reset")
                        if not self.hold:
                            break
                        if not counted:
                            self.held += len(d)
                            counted = True
                    time.sleep(0.005)
                conn["u"].sendall(d)
        except OSError:
            pass
        conn["u"].close()

    def _down(self, conn):
        try:
            while True:
                d = conn["u"].recv(65536)
                if not d:
                    break
                conn["c"].sendall(d)
                with self.lock:
                    self.down += len(d)
        except OSError:
            pass

    def reset(self):
        with self.lock:
            for conn in self.conns:
                conn["dead"] = True
                try:
                    conn["c"].setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn["c"].close()
                except OSError:
                    pass
            self.conns = []

    def close(self):
        self.ls.close()
        self.reset()


def test_a_reset_connection_under_batches_in_flight_is_retried():
    """An RST (libuv: POLLERR) is read as what it is, ECONNRESET: a stale
    connection, so the batches with no reply yet are sent again on a new
    connection, as producer_redis_pipeline does, not answered 503."""
    X = Proxy(R.sock)
    P4 = Producer(R, HOOKQ_REDIS_URL=X.url)
    time.sleep(0.3)  # past the reconnect throttle (250 ms) of the startup connection
    try:
        out = {}
        X.hold = True
        threads = start_posts([batch("x%d" % t, 10) for t in range(3)], out, P4)
        wait_for(lambda: X.held > 0, 15, "the producer to write a batch")
        time.sleep(0.2)
        X.reset()  # nothing held reached Redis
        X.hold = False
        join_all(threads, 30)
        for t in range(3):
            check_answer(batch("x%d" % t, 10), *out[t])  # 202, first publishes, not replays
            assert stored("org-a", "x%d-0" % t)["n"] == "1"
        assert "Connection reset by peer" in P4.logtext()
    finally:
        P4.stop()
        X.close()


def test_replies_that_arrived_while_the_producer_was_stopped_are_not_a_timeout():
    """libuv runs timers before it polls: a producer held up past
    HOOKQ_REDIS_TIMEOUT (stopped, descheduled, a long blocking write) must
    read the replies that arrived meanwhile before it declares a timeout."""
    X = Proxy(R.sock)
    P5 = Producer(R, HOOKQ_REDIS_URL=X.url, HOOKQ_REDIS_TIMEOUT="1s")
    try:
        evs = batch("y", 10)
        out = {}
        X.hold = True
        threads = start_posts([evs], out, P5)
        wait_for(lambda: X.held > 0, 15, "the producer to write the batch")
        P5.signal(signal.SIGSTOP)
        try:
            down = X.down
            X.hold = False
            wait_for(lambda: X.down > down, 15, "Redis to answer")
            time.sleep(1.5)  # past the timeout, the answer waiting in the socket
        finally:
            P5.signal(signal.SIGCONT)
        join_all(threads, 30)
        check_answer(evs, *out[0])
    finally:
        P5.stop()
        X.close()


def raw_request(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    head = ("%s %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (method, path, TOKEN, len(data)))
    return head.encode() + data


def read_response(f):
    status = int(f.readline().split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, value = line.decode().split(":", 1)
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, json.loads(f.read(length))


def test_pipelined_requests_on_one_connection_are_answered_in_order():
    sent, data = [], b""
    for i in range(5):
        evs = batch("p%d" % i, i + 1)
        data += raw_request("POST", "/v1/events/batch", {"events": evs})
        sent.append(("batch", evs))
        data += raw_request("GET", "/v1/events/p%d-0?org_id=org-a" % i)
        sent.append(("get", "p%d-0" % i))
        one = {"type": "a.b", "org_id": "org-b", "id": "p1-%d" % i, "data": {}}
        data += raw_request("POST", "/v1/events", one)
        sent.append(("one", one["id"]))
    s = socket.create_connection((P.host, P.port), timeout=30)
    try:
        s.sendall(data)
        f = s.makefile("rb")
        for kind, what in sent:
            st, j = read_response(f)
            if kind == "batch":
                check_answer(what, st, j)
            elif kind == "get":
                assert st == 200 and j["id"] == what, (st, j)
            else:
                assert st == 202 and j["id"] == what, (st, j)
    finally:
        s.close()


def test_clients_gone_while_their_batches_wait():
    """The request outlives its connection until its batch is answered (no
    use after free under ASan); the events are published all the same."""
    socks = []
    with redis_stopped():
        for t in range(10):  # more than the pipelines kept in flight
            s = socket.create_connection((P.host, P.port), timeout=30)
            s.sendall(raw_request("POST", "/v1/events/batch", {"events": batch("g%d" % t, 5)}))
            socks.append(s)
        time.sleep(0.3)
        for s in socks:
            s.close()
        time.sleep(0.1)
    wait_for(lambda: all(stored("org-a", "g%d-0" % t).get("n") == "1" for t in range(10)), 15,
             "the abandoned batches to be published")
    st, j = P.api("GET", "/v1/endpoints?org_id=org-a")
    assert st == 200, (st, j)
    assert P.proc.poll() is None


if __name__ == "__main__":
    run([test_many_batches_in_flight_each_get_their_own_answer,
         test_batches_queued_behind_a_stopped_redis_are_answered_when_it_resumes,
         test_flushed_functions_under_batches_in_flight_are_reloaded,
         test_a_restarted_redis_is_reconnected_to,
         test_a_silent_redis_past_the_timeout_is_503_and_the_retry_publishes_once,
         test_sigterm_answers_the_batches_still_waiting,
         test_a_reset_connection_under_batches_in_flight_is_retried,
         test_replies_that_arrived_while_the_producer_was_stopped_are_not_a_timeout,
         test_pipelined_requests_on_one_connection_are_answered_in_order,
         test_clients_gone_while_their_batches_wait])
