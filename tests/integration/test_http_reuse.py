"""The worker's HTTP path across connection reuse (worker/http.c,
worker/delivery.c): the exact header block on the wire (hookq's own headers
go to curl as one merged node, which must not change a byte of what the
receiver sees), keep-alive reuse of one connection by pooled, never-reset
easy handles, and idle kept-alive connections the peer closes or writes to
unasked: the next delivery must go out on a fresh connection, and an idle
socket that turned readable must not make the worker spin. The servers are
raw sockets so the tests see the bytes and the connections."""
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import Producer, Redis, Worker, delivery_hashes, read_request, run, wait_for  # noqa: E402

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_TIMEOUT="3s", HOOKQ_RETRY_SCHEDULE="1s,1s,1s")


class RawServer:
    """Keep-alive HTTP/1.1 sink on raw sockets. Records every request's head
    (bytes) and counts connections; after each response `after(conn)` may
    misbehave (close, write garbage)."""

    def __init__(self, after=None, status=b"200 OK"):
        self.heads, self.conns = [], 0
        self.lock = threading.Lock()
        self.after, self.status = after, status
        self.srv = harness.RawServer(self._serve)

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.srv.port, path)

    def _serve(self, c):
        with self.lock:
            self.conns += 1
        buf = b""
        try:
            while True:
                r = read_request(c, buf)
                if r is None:
                    return
                head, _, buf = r
                with self.lock:
                    self.heads.append(head)
                c.sendall(b"HTTP/1.1 " + self.status + b"\r\nContent-Length: 2\r\n\r\nok")
                if self.after and self.after(c) == "closed":
                    return
        except OSError:
            return
        finally:
            c.close()

    def count(self):
        with self.lock:
            return len(self.heads)

    def close(self):
        self.srv.close()


def lines(head):
    return head.decode().split("\r\n")


def test_header_block_is_exact():
    s = RawServer()
    P.endpoint("org-hdr", s.url("/h"), events=["*"], auth={"type": "bearer", "token": "tok_1"},
               headers={"X-Team": "sales", "Accept": "application/json", "X-Empty": ""})
    P.endpoint("org-hdr", s.url("/k"), events=["*"], auth={"type": "api_key", "key": "k-1"},
               signature_header="X-Crm-Signature", signature_format="hex")
    P.publish("org-hdr", "lead.created", {"a": 1}, id="evt_hdr1")
    wait_for(lambda: s.count() >= 2, 15, "two requests")
    heads = {lines(h)[0]: lines(h)[1:] for h in s.heads}
    names = lambda ls: [x.split(":", 1)[0] for x in ls]  # noqa: E731
    h = heads["POST /h HTTP/1.1"]
    assert names(h) == ["Host", "Content-Type", "User-Agent", "X-Webhook-Id", "X-Webhook-Event",
                        "X-Webhook-Timestamp", "X-Webhook-Attempt", "X-Webhook-Signature", "webhook-id",
                        "webhook-timestamp", "webhook-signature", "Authorization", "X-Team", "Accept",
                        "Content-Length"], h
    assert "Authorization: Bearer tok_1" in h and "Accept: application/json" in h, h
    assert "X-Webhook-Id: evt_hdr1" in h and "X-Webhook-Event: lead.created" in h, h
    assert all(re.fullmatch(r"[A-Za-z-]+: \S.*", x) for x in h), h   # no blank header, no stray CR/LF
    k = heads["POST /k HTTP/1.1"]
    assert names(k) == ["Host", "Content-Type", "User-Agent", "X-Webhook-Id", "X-Webhook-Event",
                        "X-Webhook-Timestamp", "X-Webhook-Attempt", "X-Crm-Signature", "webhook-id",
                        "webhook-timestamp", "webhook-signature", "X-API-KEY", "Content-Length"], k
    assert re.fullmatch(r"X-Crm-Signature: [0-9a-f]{64}", k[7]), k
    s.close()


def test_one_connection_is_reused():
    s = RawServer()
    P.endpoint("org-reuse", s.url(), events=["*"])
    for i in range(20):
        P.publish("org-reuse", "a.b", {"i": i})
        wait_for(lambda: s.count() >= i + 1, 15, "request %d" % (i + 1))
    assert s.conns == 1, s.conns
    attempts = [re.search(r"\r\nX-Webhook-Attempt: (\d+)", h.decode()).group(1) for h in s.heads]
    assert attempts == ["1"] * 20, attempts
    s.close()


def worker_cpu():
    f = open("/proc/%d/stat" % W.proc.pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def check_idle_peer(after, org, n=4):
    s = RawServer(after)
    P.endpoint(org, s.url(), events=["*"])
    for i in range(n):
        P.publish(org, "a.b", {"i": i})
        wait_for(lambda: s.count() >= i + 1, 15, "request %d" % (i + 1))
        time.sleep(0.4)   # the peer acts on the idle connection meanwhile
    # every delivery ended delivered, each on a connection the peer had not spoilt
    wait_for(lambda: [m.get("st") for m in deliveries(org)] == ["delivered"] * n, 15, "%d delivered" % n)
    # an idle socket that turned readable is no busy loop: the worker sleeps
    c0, t0 = worker_cpu(), time.monotonic()
    time.sleep(2)
    assert worker_cpu() - c0 < 0.5 * (time.monotonic() - t0), "worker spins on an idle socket"
    assert W.proc.poll() is None
    s.close()
    return s


def deliveries(org):
    return delivery_hashes(R, org=org)


def test_peer_closes_idle_connection():
    def close_soon(c):
        time.sleep(0.1)
        return "closed"
    s = check_idle_peer(close_soon, "org-close")
    assert s.conns >= 4, s.conns   # never a request on a connection the peer had closed


def test_peer_writes_to_idle_connection():
    def garbage(c):
        time.sleep(0.1)
        c.sendall(b"unasked bytes\r\n")
    check_idle_peer(garbage, "org-garbage")


def test_worker_exits_cleanly():
    assert W.stop() == 0, W.logtext()[-2000:]   # clean exit (and no sanitizer report)


if __name__ == "__main__":
    run([test_header_block_is_exact, test_one_connection_is_reused, test_peer_closes_idle_connection,
         test_peer_writes_to_idle_connection, test_worker_exits_cleanly])
