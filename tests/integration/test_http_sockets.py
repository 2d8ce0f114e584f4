"""The worker's socket bookkeeping around libcurl (worker/http.c). libcurl
7.88 closes a socket whose connect never finished (connect timeout, transfer
removed mid-connect) with a plain close(), skipping the close callback; the
worker must not keep a poll on that fd number, because the number is reused
at once by the next file: curl's threaded-resolver socketpair (a delivery to
a name that needs DNS), a status-server client, a Redis reconnect. A stale
poll there takes the new owner's events and its epoll registration: the
status port stops answering, deliveries stall, or libuv aborts at shutdown.

Each round: a delivery whose connect times out (a listener with a full
accept queue drops the SYN), then one whose name does not resolve; then the
status port must answer every request, a healthy endpoint must still get
its deliveries, and at the end the worker must exit cleanly. The same again
with a connect that finishes at the TCP level but whose TLS handshake never
does (curl then watches the socket for reading alone, as it watches an idle
kept-alive connection): a connection socket is identity-checked (fstat) on
every idle and re-add until a transfer that opened it got its whole
response, and these sockets never get that far."""
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Receiver, Redis, Worker, run, wait_for  # noqa: E402

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_CONCURRENCY="4", HOOKQ_RETRY_SCHEDULE="1h")
RECV = Receiver()


def full_listener():
    """A listener whose accept queue is full: further connects hang."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    port = hole.getsockname()[1]
    fill = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fill.append(c)
    time.sleep(0.3)
    return hole, fill, port


def silent_tls_server():
    """Accepts connections and reads whatever comes, never answering."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    held = []

    def serve():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            held.append(c)
    threading.Thread(target=serve, daemon=True).start()
    return ls, held, ls.getsockname()[1]


def attempts(evid, org):
    st, j = P.api("GET", "/v1/events/%s?org_id=%s" % (evid, org))
    assert st == 200, (st, j)
    return [a for d in j["deliveries"] for a in (d.get("attempts") or [])]


def first_attempt(evid, org):
    return wait_for(lambda: (attempts(evid, org) or [None])[0], 30,
                    "a first attempt of %s" % evid, interval=0.1)


def status_answers():
    for i in range(3):
        try:
            st, body = W.get("/healthz")   # 10 s socket timeout: a hang fails
        except OSError as e:
            raise AssertionError("status request %d got no answer: %r\n%s"
                                 % (i, e, W.logtext()[-3000:]))
        assert st == 200, (st, body)


GOOD = {"endpoint": None, "sent": 0}


def good_deliveries(rnd, when):
    """Three deliveries to a healthy endpoint (over reused connections) arrive."""
    if GOOD["endpoint"] is None:
        GOOD["endpoint"] = P.endpoint("org-good", RECV.url())
    for i in range(3):
        P.publish("org-good", "t.good", {"r": rnd, "i": i, "when": when})
    GOOD["sent"] += 3
    RECV.wait(GOOD["sent"], timeout=30)


def rounds(kind, url):
    """Two rounds of: a delivery to url that gets no response (kind: what
    stalls), one to a name that does not resolve, then the status port and a
    healthy endpoint must still answer and deliver."""
    for rnd in range(2):
        good_deliveries(rnd, "before")
        org_a, org_b = "org-%s-%d" % (kind, rnd), "org-dns-%s-%d" % (kind, rnd)
        P.endpoint(org_a, url, timeout_ms=1000)
        a = first_attempt(P.publish(org_a, "t.a", {"r": rnd})["id"], org_a)
        assert a.get("http_status") is None, a   # the connect or handshake timed out
        P.endpoint(org_b, "http://no-such-host.invalid/hook", timeout_ms=3000)
        b = first_attempt(P.publish(org_b, "t.b", {"r": rnd})["id"], org_b)
        assert b.get("http_status") is None, b   # no such host
        status_answers()
        good_deliveries(rnd, "after")
        status_answers()


def close_all(socks):
    for c in socks:
        c.close()


def test_connect_timeout_then_dns_failure():
    hole, fill, port = full_listener()
    try:
        rounds("hole", "http://127.0.0.1:%d/hook" % port)
    finally:
        close_all(fill + [hole])


def test_tls_handshake_timeout_then_dns_failure():
    ls, held, port = silent_tls_server()
    try:
        rounds("tls", "https://127.0.0.1:%d/hook" % port)
    finally:
        close_all(held + [ls])


def test_worker_exits_cleanly():
    assert W.stop() == 0, W.logtext()[-2000:]   # clean exit (and no sanitizer report)
    # these sockets are all dropped on CURL_POLL_REMOVE: the identity check
    # behind it (a poll found on a socket closed behind our back) never fires
    assert "closed without the close callback" not in W.logtext(), W.logtext()[-2000:]


if __name__ == "__main__":
    run([test_connect_timeout_then_dns_failure, test_tls_handshake_timeout_then_dns_failure,
         test_worker_exits_cleanly])
