"""Worker memory handling (issue 5, third pass): replies are parsed into a
per-connection arena (worker.c "reply objects"), an event's payload is freed
once every delivery holding it has built its body, and the event's strings
share one allocation. These tests check that the bytes on the wire stay
exact through all of that: many events in one claim and load batch, payloads
larger than an arena chunk, one event fanned out to endpoints with different
payload formats whose attempts start at different times, and a delivery that
is retried (reloads its event)."""
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Receiver, Redis, Worker, compact, hex_sig, run, scripted, wait_for  # noqa: E402

R = Redis()
P = Producer(R)


def hookq_body(ev_id, typ, created_at, org, data):
    return (b'{"id":"' + ev_id.encode() + b'","type":"' + typ.encode() + b'","created_at":"' +
            created_at.encode() + b'","org_id":"' + org.encode() + b'","data":' + compact(data) + b"}")


def test_many_events_in_one_batch_and_large_payloads():
    """Published before the worker starts: the worker claims them in a few
    large XREADGROUP replies and loads them in batches of 256, so replies far
    larger than an arena chunk (16 KiB) are parsed, including single strings
    larger than a chunk."""
    rc = Receiver()
    rc.server.socket.listen(1024)   # many connections at once (the default backlog is 5)
    org = "org-mem-batch"
    ep = P.endpoint(org, rc.url("/m"), events=["*"])
    created = "2026-05-01T10:00:00Z"
    events, expected = [], {}
    for i in range(600):
        data = {"i": i, "s": "x" * (i % 50), "u": "Zoë 中文 😀"}
        if i % 150 == 7:
            data["big"] = "b" * (40000 + i)   # one string over two arena chunks
        ev_id = "evt_mem_%04d" % i
        events.append({"id": ev_id, "type": "mem.batch", "org_id": org, "data": data, "created_at": created})
        expected[ev_id] = hookq_body(ev_id, "mem.batch", created, org, data)
    for k in range(0, len(events), 200):
        st, j = P.api("POST", "/v1/events/batch", {"events": events[k:k + 200]})
        assert st == 202, (st, j)
    w = Worker(R, name="worker-batch", HOOKQ_CONCURRENCY="400", HOOKQ_ENDPOINT_CONCURRENCY="400")
    try:
        def ids():
            with rc.lock:
                return {r.header("X-Webhook-Id") for r in rc.requests}
        # at least once: a request on a connection the receiver dropped may
        # be sent again, so only every id arriving is required
        wait_for(lambda: ids() == set(expected), 60, "every event at the receiver")
        for r in list(rc.requests):
            ev_id = r.header("X-Webhook-Id")
            assert r.body == expected[ev_id], (ev_id, r.body[:200], expected[ev_id][:200])
            assert r.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], r.body)
            assert r.header("X-Webhook-Event") == "mem.batch"
    finally:
        w.stop()
        rc.close()


def test_fanout_formats_started_at_different_times():
    """One event, three endpoints with different payload formats. The
    event_data endpoint answers its first request only after the other
    endpoints have received the second event, so that event's event_data
    body is built after the other holders have built theirs (and, had the
    payload been freed too early, would be wrong or missing)."""
    org = "org-mem-fanout"
    gate = threading.Event()

    def slow_first(req):
        if req.header("X-Webhook-Id") == "evt_fan_1":
            gate.wait(20)
        return 200, {}, b"ok"

    ra, rb, rs = Receiver(), Receiver(), Receiver(slow_first)
    P.endpoint(org, ra.url("/hookq"), events=["*"])
    P.endpoint(org, rb.url("/payload"), events=["*"], payload_format="event_payload")
    P.endpoint(org, rs.url("/data"), events=["*"], payload_format="event_data")
    w = Worker(R, name="worker-fanout", HOOKQ_ENDPOINT_CONCURRENCY="1", HOOKQ_TIMEOUT="15s", HOOKQ_CLAIM_IDLE="30s")
    try:
        d1 = {"n": 1, "name": "first"}
        d2 = {"n": 2, "nested": {"b": [1, 2, {"c": None}], "a": "é"}}
        created = "2026-05-02T11:22:33Z"
        P.publish(org, "fan.out", d1, id="evt_fan_1", created_at=created)
        wait_for(lambda: rs.count() >= 1, 15, "the slow endpoint to hold the first event")
        P.publish(org, "fan.out", d2, id="evt_fan_2", created_at=created)
        ra.wait(2)
        rb.wait(2)
        assert rs.count() == 1, rs.count()   # the second event waits behind the first
        gate.set()
        reqs = rs.wait(2)
        byid = {r.header("X-Webhook-Id"): r for r in reqs}
        assert byid["evt_fan_2"].body == (b'{"event":"fan.out","timestamp":"' + created.encode() +
                                          b'","data":' + compact(d2) + b"}"), byid["evt_fan_2"].body
        assert byid["evt_fan_1"].body == (b'{"event":"fan.out","timestamp":"' + created.encode() +
                                          b'","data":' + compact(d1) + b"}")
        pay = {r.header("X-Webhook-Id"): r for r in rb.requests}
        assert pay["evt_fan_2"].body == (b'{"event":"fan.out","timestamp":"2026-05-02T11:22:33.000Z","payload":' +
                                         compact(d2) + b"}"), pay["evt_fan_2"].body
        hk = {r.header("X-Webhook-Id"): r for r in ra.requests}
        assert hk["evt_fan_2"].body == hookq_body("evt_fan_2", "fan.out", created, org, d2)
        assert hk["evt_fan_1"].body == hookq_body("evt_fan_1", "fan.out", created, org, d1)
    finally:
        gate.set()
        w.stop()
        for r in (ra, rb, rs):
            r.close()


def test_retry_reloads_the_payload():
    """A failed attempt's payload was freed with its delivery; the retry is
    a new claim that loads the event again and sends the same bytes."""
    rc = Receiver(scripted([500]))
    org = "org-mem-retry"
    P.endpoint(org, rc.url("/r"), events=["*"])
    w = Worker(R, name="worker-retry", HOOKQ_RETRY_SCHEDULE="1s,1s")
    try:
        data = {"k": "v" * 3000, "list": list(range(50))}
        P.publish(org, "mem.retry", data, id="evt_mem_retry", created_at="2026-05-03T00:00:00Z")
        reqs = rc.wait(2, timeout=20)
        assert reqs[0].body == reqs[1].body == hookq_body("evt_mem_retry", "mem.retry", "2026-05-03T00:00:00Z",
                                                          org, data)
        assert [r.header("X-Webhook-Attempt") for r in reqs[:2]] == ["1", "2"]
        def attempts():
            st, j = P.api("GET", "/v1/events/evt_mem_retry")
            assert st == 200, (st, j)
            a = j["deliveries"][0]["attempts"]
            return a if len(a) >= 2 else None
        a = wait_for(attempts, 15, "both attempts recorded")
        # the attempt record's request headers come from the sent header
        # block (Content-Type opens hookq's merged header node)
        for att in a:
            h = att["request_headers"]
            assert list(h)[:3] == ["Content-Type", "User-Agent", "X-Webhook-Id"], json.dumps(h)
            assert h["Content-Type"] == "application/json" and h["X-Webhook-Id"] == "evt_mem_retry", h
            assert h["X-Webhook-Signature"] == "[redacted]" and h["webhook-signature"] == "[redacted]", h
        assert sorted(x["attempt"] for x in a) == [1, 2], a
    finally:
        w.stop()
        rc.close()


if __name__ == "__main__":
    run([test_many_events_in_one_batch_and_large_payloads, test_fanout_formats_started_at_different_times,
         test_retry_reloads_the_payload])
