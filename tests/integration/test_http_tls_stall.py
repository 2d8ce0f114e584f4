"""The worker's socket bookkeeping (worker/http.c) when a connect finishes
at the TCP level but the TLS handshake never does: curl then watches the
socket for reading alone (waiting for the server's hello), and libcurl 7.88
may close it without the close callback when the attempt times out. The
poll on that fd must go with it: the number is reused at once (here by
curl's threaded-resolver socketpair for a name that does not resolve, and
by fresh connections), and a stale poll would take the new owner's events.
A connection socket is identity-checked (fstat) only until it has carried
a response; this exercises the sockets that never get that far.

Each round: a delivery to an https endpoint whose server accepts and never
answers (handshake timeout), then one whose name does not resolve; then the
status port must answer, a healthy endpoint must still get its deliveries
over reused connections, and at the end the worker must exit cleanly."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Receiver, Redis, Worker, run, wait_for  # noqa: E402

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_CONCURRENCY="4", HOOKQ_RETRY_SCHEDULE="1h")
RECV = Receiver()


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


def test_tls_handshake_timeout_then_dns_failure():
    ls, held, port = silent_tls_server()
    try:
        P.endpoint("org-good", RECV.url())
        sent = 0
        for rnd in range(2):
            for i in range(3):
                P.publish("org-good", "t.good", {"r": rnd, "i": i, "before": 1})
            sent += 3
            RECV.wait(sent, timeout=30)
            org_a, org_b = "org-tls-%d" % rnd, "org-dns-%d" % rnd
            P.endpoint(org_a, "https://127.0.0.1:%d/hook" % port, timeout_ms=1000)
            a = first_attempt(P.publish(org_a, "t.a", {"r": rnd})["id"], org_a)
            assert a.get("http_status") is None, a   # the handshake timed out
            P.endpoint(org_b, "http://no-such-host.invalid/hook", timeout_ms=3000)
            b = first_attempt(P.publish(org_b, "t.b", {"r": rnd})["id"], org_b)
            assert b.get("http_status") is None, b   # no such host
            status_answers()
            for i in range(3):
                P.publish("org-good", "t.good", {"r": rnd, "i": i})
            sent += 3
            RECV.wait(sent, timeout=30)
            status_answers()
    finally:
        for c in held:
            c.close()
        ls.close()


def test_worker_exits_cleanly():
    assert W.stop() == 0, W.logtext()[-2000:]   # clean exit (and no sanitizer report)


if __name__ == "__main__":
    run([test_tls_handshake_timeout_then_dns_failure, test_worker_exits_cleanly])
