"""Ingest (SPEC 3): validation and status codes, atomic fan-out, org
isolation, idempotency, batch; against a real Redis and the real producer."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Redis, hgetall, run  # noqa: E402

R = Redis()
P = Producer(R, HOOKQ_MAX_BODY="64KiB")


def stream_entries(r):
    out = []
    for s in range(4):
        out += r.cmd("XRANGE", "hq:{%d}:stream" % s, "-", "+") or []
    return out


def test_auth_required():
    st, j, h, _ = P.request("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}}, token=None)
    assert st == 401, st
    assert j["error"]["code"], j
    st, j = P.api("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}}, token="wrong")
    assert st == 401, st


def test_malformed_json_is_400_with_position():
    st, j, _, _ = P.request("POST", "/v1/events", raw=b'{"type": "a.b", "org_id": ')
    assert st == 400, st
    msg = j["error"]["message"]
    assert "line" in msg or "position" in msg, msg


def test_invalid_fields_are_422_naming_the_field():
    cases = [
        ({"org_id": "o", "data": {}}, "type"),
        ({"type": "lead..created", "org_id": "o", "data": {}}, "type"),
        ({"type": "lead created", "org_id": "o", "data": {}}, "type"),
        ({"type": "x" * 129, "org_id": "o", "data": {}}, "type"),
        ({"type": "lead.created", "data": {}}, "org_id"),
        ({"type": "lead.created", "org_id": "", "data": {}}, "org_id"),
        ({"type": "lead.created", "org_id": "o"}, "data"),
        ({"type": "lead.created", "org_id": "o", "data": [1]}, "data"),
        ({"type": "lead.created", "org_id": "o", "data": {}, "created_at": "yesterday"}, "created_at"),
        ({"type": "lead.created", "org_id": "o", "data": {}, "id": ""}, "id"),
    ]
    for body, field in cases:
        st, j = P.api("POST", "/v1/events", body)
        assert st == 422, (body, st, j)
        assert field in json.dumps(j["error"]), (body, j)


def test_valid_types():
    for t in ["lead.created", "lead.stageChanged", "deal.stage.changed", "form.response.created", "ping"]:
        st, j = P.api("POST", "/v1/events", {"type": t, "org_id": "types-org", "data": {}})
        assert st == 202, (t, st, j)
        assert j["id"].startswith("evt_") and len(j["id"]) >= 28, j
        assert j["deliveries"] == 0, j


def test_body_too_large_is_413():
    big = {"type": "a.b", "org_id": "o", "data": {"x": "y" * (70 * 1024)}}
    st, _, _, _ = P.request("POST", "/v1/events", big)
    assert st == 413, st


def test_fanout_matches_patterns_and_isolates_orgs():
    url = "http://127.0.0.1:9/never"
    P.endpoint("org-a", url, events=["lead.*"])
    P.endpoint("org-a", url, events=["lead.created"])
    P.endpoint("org-a", url, events=["*"])
    P.endpoint("org-a", url, events=["invoice.paid"])
    P.endpoint("org-a", url, events=["lead.*"], is_active=False)
    P.endpoint("org-b", url, events=["*"])
    before = len(stream_entries(R))
    j = P.publish("org-a", "lead.created", {"n": 1})
    assert j["deliveries"] == 3, j
    j = P.publish("org-a", "lead.stage.changed", {"n": 2})
    assert j["deliveries"] == 2, j
    j = P.publish("org-a", "invoice.paid", {"n": 3})
    assert j["deliveries"] == 2, j
    j = P.publish("org-b", "lead.created", {"n": 4})
    assert j["deliveries"] == 1, j
    j = P.publish("org-c", "lead.created", {"n": 5})
    assert j["deliveries"] == 0, j
    assert len(stream_entries(R)) - before == 8


def test_idempotent_on_org_and_id():
    P.endpoint("org-idem", "http://127.0.0.1:9/x", events=["*"])
    body = {"type": "lead.created", "org_id": "org-idem", "id": "evt_client_1", "data": {"a": 1}}
    st1, j1 = P.api("POST", "/v1/events", body)
    before = len(stream_entries(R))
    st2, j2 = P.api("POST", "/v1/events", body)
    assert st1 == 202 and st2 == 202, (st1, st2)
    assert j1 == j2, (j1, j2)
    assert len(stream_entries(R)) == before, "a repeat must enqueue nothing"
    # same id in another org is another event
    P.endpoint("org-idem2", "http://127.0.0.1:9/x", events=["*"])
    body["org_id"] = "org-idem2"
    st3, j3 = P.api("POST", "/v1/events", body)
    assert st3 == 202 and j3["deliveries"] == 1, j3
    assert len(stream_entries(R)) == before + 1


def test_created_at_kept_and_defaulted():
    st, j = P.api("POST", "/v1/events", {"type": "a.b", "org_id": "org-ts", "id": "e-ts",
                                         "created_at": "2026-04-12T15:32:11Z", "data": {}})
    assert st == 202
    ev = None
    for s in range(4):
        ev = hgetall(R, "hq:{%d}:ev:org-ts:e-ts" % s) or ev
    assert ev and ev["ca"] == "2026-04-12T15:32:11Z", ev


def test_idempotency_window_is_at_least_24h():
    """SPEC 3: ingest is idempotent on (org_id, id) for at least 24 h, even
    when the retention is shorter: the event (the idempotency record) lives
    max(HOOKQ_RETENTION, 24h)."""
    p2 = Producer(R, HOOKQ_RETENTION="1h")
    st, j = p2.api("POST", "/v1/events", {"type": "a.b", "org_id": "org-24h", "id": "e-24h", "data": {}})
    assert st == 202, (st, j)
    ttls = [R.cmd("TTL", "hq:{%d}:ev:org-24h:e-24h" % s) for s in range(4)]
    ttl = max(ttls)
    assert ttl >= 86400 - 60, ttls
    p2.stop()


def test_batch_results_in_order():
    events = [{"type": "lead.created", "org_id": "org-batch", "data": {"i": i}} for i in range(5)]
    events.insert(2, {"type": "bad type", "org_id": "org-batch", "data": {}})
    st, j = P.api("POST", "/v1/events/batch", {"events": events})
    assert st in (200, 202, 207), st
    res = j["results"]
    assert len(res) == 6
    assert res[2]["status"] == 422 and "type" in json.dumps(res[2]), res[2]
    assert all(r["status"] == 202 for i, r in enumerate(res) if i != 2), res
    st, j = P.api("POST", "/v1/events/batch", {"events": []})
    assert st == 422, st
    st, j = P.api("POST", "/v1/events/batch", {"events": [{"type": "a", "org_id": "o", "data": {}}] * 1001})
    assert st in (413, 422), st


def test_redis_down_is_503_then_recovers():
    R.kill()
    st, j, h, _ = P.request("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}})
    assert st == 503, st
    assert "Retry-After" in h, h
    R.start()
    from harness import wait_for
    wait_for(lambda: P.api("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}})[0] == 202,
             10, "producer to recover")


def test_healthz_and_metrics():
    st, _, _, body = P.request("GET", "/healthz", token=None)
    assert st == 200
    st, _, _, body = P.request("GET", "/metrics", token=None)
    assert st == 200 and b"hookq_events_ingested_total" in body, body[:200]


if __name__ == "__main__":
    run([test_auth_required, test_malformed_json_is_400_with_position,
         test_invalid_fields_are_422_naming_the_field, test_valid_types, test_body_too_large_is_413,
         test_fanout_matches_patterns_and_isolates_orgs, test_idempotent_on_org_and_id,
         test_created_at_kept_and_defaulted, test_idempotency_window_is_at_least_24h,
         test_batch_results_in_order,
         test_healthz_and_metrics, test_redis_down_is_503_then_recovers])
