"""Inspection API (SPEC 5, 6): GET /v1/events/{id}, the endpoint attempt log
with cursor pagination, resend, recover and /v1/stats, against a real Redis,
producer, worker and HTTP receivers; plus a check that every route in
docs/openapi.yaml exists in the producer."""
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Producer, Receiver, Redis, Worker, hgetall, run, wait_for  # noqa: E402

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s")
SHARDS = 4
UNKNOWN_EP = "ep_" + "0" * 21 + "001"
UNKNOWN_DLV = "dlv_" + "0" * 21 + "002"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATE = {}


class Switch:
    """A receiver answer that a test can change: status and a delay."""

    def __init__(self, status=500, delay=0.0):
        self.status, self.delay = status, delay

    def __call__(self, req):
        if self.delay:
            time.sleep(self.delay)
        return self.status, {}, b"answer %d" % self.status


def get_event(eid, org=None):
    path = "/v1/events/" + eid + ("?org_id=" + org if org else "")
    return P.api("GET", path)


def event_when(eid, pred, timeout=20, what="event state"):
    def cond():
        st, j = get_event(eid)
        return j if st == 200 and pred(j) else None
    return wait_for(cond, timeout, what)


def log_page(epid, **q):
    qs = "&".join("%s=%s" % kv for kv in q.items())
    return P.api("GET", "/v1/endpoints/%s/deliveries%s" % (epid, "?" + qs if qs else ""))


def stats():
    st, j = P.api("GET", "/v1/stats")
    assert st == 200, (st, j)
    return j


def assert_error(st, j, status, code, field=None):
    assert st == status, (st, j)
    assert j and j["error"]["code"] == code, j
    assert isinstance(j["error"]["message"], str) and j["error"]["message"], j
    if field:
        assert j["error"].get("field") == field, j


def test_event_retrying_then_dead_with_every_attempt():
    sw = Switch(500)
    rc = Receiver(sw)
    ep = P.endpoint("org-insp", rc.url("/in"), events=["invoice.*"])
    before = stats()["totals"]
    data = {"n": 1, "f": 0.1, "e": 1e21, "s": "Zoë", "nested": {"b": [1, 2], "a": None}}
    j = P.publish("org-insp", "invoice.paid", data, id="evt_insp_1", created_at="2026-04-12T15:32:11Z")
    assert j["deliveries"] == 1
    ev = event_when("evt_insp_1", lambda e: e["deliveries"][0]["state"] == "retrying", 15, "retrying")
    d = ev["deliveries"][0]
    assert RFC3339.match(d["next_attempt_at"]), d
    assert d["attempts_made"] == 1 and d["last_status"] == 500 and len(d["attempts"]) == 1, d
    assert d["dead_reason"] is None
    ev = event_when("evt_insp_1", lambda e: e["deliveries"][0]["state"] == "dead", 20, "dead")
    assert ev["id"] == "evt_insp_1" and ev["org_id"] == "org-insp" and ev["type"] == "invoice.paid", ev
    assert ev["created_at"] == "2026-04-12T15:32:11Z"
    assert ev["data"] == data, ev["data"]
    # numbers come back as they were delivered (no 0.10000000000000001)
    _, _, _, raw = P.request("GET", "/v1/events/evt_insp_1")
    assert b'"f":0.1,' in raw, raw
    d = ev["deliveries"][0]
    assert d["endpoint_id"] == ep["id"] and d["id"].startswith("dlv_"), d
    assert d["next_attempt_at"] is None and d["attempts_made"] == 3 and d["last_status"] == 500, d
    assert d["dead_reason"], d
    # created when the event was accepted (not its created_at), updated by its last outcome
    assert RFC3339.match(d["created_at"]) and d["created_at"] > ev["created_at"], d
    assert RFC3339.match(d["updated_at"]) and d["updated_at"] >= d["created_at"], d
    assert [a["attempt"] for a in d["attempts"]] == [1, 2, 3], d["attempts"]
    assert [a["status"] for a in d["attempts"]] == ["failed", "failed", "dead"], d["attempts"]
    for a in d["attempts"]:
        assert a["http_status"] == 500 and "answer 500" in a["response_body"], a
        assert RFC3339.match(a["at"]) and isinstance(a["latency_ms"], int), a
        assert isinstance(a["request_headers"], dict), a
    # the org given explicitly, and a wrong org
    st, j2 = get_event("evt_insp_1", "org-insp")
    assert st == 200 and j2["deliveries"][0]["state"] == "dead", (st, j2)
    assert_error(*get_event("evt_insp_1", "org-other"), 404, "not_found")
    after = stats()["totals"]
    assert after["events"] >= before["events"] + 1 and after["deliveries"] >= before["deliveries"] + 1
    assert after["failed"] >= before["failed"] + 2 and after["dead_total"] >= before["dead_total"] + 1, after
    assert after["dead"] >= 1
    STATE.update(sw=sw, rc=rc, ep=ep, did=d["id"])


def test_resend_dead_delivery_is_delivered():
    sw, did = STATE["sw"], STATE["did"]
    sw.status = 200
    st, j = P.api("POST", "/v1/deliveries/%s/resend" % did)
    assert st == 202 and j == {"id": did, "state": "pending"}, (st, j)
    ev = event_when("evt_insp_1", lambda e: e["deliveries"][0]["state"] == "delivered", 15, "delivered")
    d = ev["deliveries"][0]
    assert d["attempts_made"] == 4 and d["last_status"] == 200 and d["dead_reason"] is None, d
    assert [a["http_status"] for a in d["attempts"]] == [500, 500, 500, 200], d["attempts"]
    assert STATE["rc"].count() == 4
    # a delivered delivery can be re-sent too
    st, j = P.api("POST", "/v1/deliveries/%s/resend" % did)
    assert st == 202, (st, j)
    STATE["rc"].wait(5)
    event_when("evt_insp_1", lambda e: e["deliveries"][0]["attempts_made"] == 5 and
               e["deliveries"][0]["state"] == "delivered", 15, "second resend delivered")
    # wrong org and unknown ids
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend?org_id=org-other" % did), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend" % UNKNOWN_DLV), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/nonsense/resend"), 404, "not_found")


def test_deliveries_log_pagination_and_filters():
    epid = STATE["ep"]["id"]
    # 5 attempts: failed, failed, dead, delivered, delivered (oldest first)
    seen, cursor, pages = [], None, 0
    while True:
        q = {"limit": 1}
        if cursor:
            q["cursor"] = cursor
        st, j = log_page(epid, **q)
        assert st == 200, (st, j)
        assert len(j["data"]) <= 1
        seen += j["data"]
        pages += 1
        cursor = j["next_cursor"]
        if not cursor:
            break
        assert pages < 20
    assert [e["attempt"] for e in seen] == [5, 4, 3, 2, 1], seen
    assert [e["status"] for e in seen] == ["delivered", "delivered", "dead", "failed", "failed"], seen
    assert [e["http_status"] for e in seen] == [200, 200, 500, 500, 500]
    for e in seen:
        assert e["delivery_id"] == STATE["did"] and e["event_id"] == "evt_insp_1", e
        assert e["event_type"] == "invoice.paid" and RFC3339.match(e["at"]), e
        assert isinstance(e["latency_ms"], int) and isinstance(e["request_headers"], dict), e
        assert "answer" in e["response_body"], e
    assert seen[2]["next_attempt_at"] is None and RFC3339.match(seen[3]["next_attempt_at"]), seen
    assert seen[3]["error"], seen[3]
    # one page with everything; the default limit
    st, j = log_page(epid)
    assert st == 200 and len(j["data"]) == 5 and j["next_cursor"] is None, j
    # a page of 2 then the rest
    st, j = log_page(epid, limit=2)
    assert len(j["data"]) == 2 and j["next_cursor"], j
    st, j2 = log_page(epid, limit=250, cursor=j["next_cursor"])
    assert [e["attempt"] for e in j2["data"]] == [3, 2, 1] and j2["next_cursor"] is None, j2
    # filters
    by = {}
    for s in ("failed", "dead", "delivered", "all"):
        st, j = log_page(epid, status=s)
        assert st == 200, (st, j)
        by[s] = [e["status"] for e in j["data"]]
    assert by["failed"] == ["dead", "failed", "failed"], by
    assert by["dead"] == ["dead"] and by["delivered"] == ["delivered", "delivered"], by
    assert len(by["all"]) == 5
    st, j = log_page(epid, status="failed", limit=2)
    assert len(j["data"]) == 2 and j["next_cursor"], j
    st, j = log_page(epid, status="failed", limit=2, cursor=j["next_cursor"])
    assert [e["attempt"] for e in j["data"]] == [1] and j["next_cursor"] is None, j
    # validation, unknown endpoint, wrong org
    assert_error(*log_page(epid, status="bogus"), 422, "validation_failed", "status")
    assert_error(*log_page(epid, limit=0), 422, "validation_failed", "limit")
    assert_error(*log_page(epid, limit=251), 422, "validation_failed", "limit")
    assert_error(*log_page(epid, limit="x"), 422, "validation_failed", "limit")
    assert_error(*log_page(epid, cursor="nope"), 422, "validation_failed", "cursor")
    assert_error(*log_page(UNKNOWN_EP), 404, "not_found")
    assert_error(*log_page(epid, org_id="org-other"), 404, "not_found")
    st, j = log_page(epid, org_id="org-insp")
    assert st == 200 and len(j["data"]) == 5


def test_in_flight_and_already_queued():
    sw = Switch(200, delay=3.0)
    rc = Receiver(sw)
    P.endpoint("org-slow", rc.url(), events=["*"])
    P.publish("org-slow", "lead.created", {"x": 1}, id="evt_slow_1")
    rc.wait(1)
    ev = event_when("evt_slow_1", lambda e: e["deliveries"][0]["state"] == "in_flight", 5, "in_flight")
    did = ev["deliveries"][0]["id"]
    # not attempted yet: its times are the event's acceptance (the delivery
    # record keeps none of its own until its first outcome)
    d = ev["deliveries"][0]
    assert RFC3339.match(d["created_at"]) and d["updated_at"] == d["created_at"], d
    assert d["attempts_made"] == 0 and d["attempts"] == [], d
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend" % did), 409, "already_queued")
    s = stats()
    assert s["totals"]["pending"] >= 1, s["totals"]
    event_when("evt_slow_1", lambda e: e["deliveries"][0]["state"] == "delivered", 10, "delivered")
    rc.close()


def test_recover_since():
    sw = Switch(500)
    rc = Receiver(sw)
    ep = P.endpoint("org-rec", rc.url(), events=["*"], retry_schedule="1s")
    t0 = time.time()
    for i in range(3):
        P.publish("org-rec", "deal.won", {"i": i}, id="evt_rec_%d" % i)
    for i in range(3):
        event_when("evt_rec_%d" % i, lambda e: e["deliveries"][0]["state"] == "dead", 20, "dead %d" % i)
    path = "/v1/endpoints/%s/recover" % ep["id"]
    # validation first
    assert_error(*P.api("POST", path, {}), 422, "validation_failed", "since")
    assert_error(*P.api("POST", path, {"since": "yesterday"}), 422, "validation_failed", "since")
    assert_error(*P.api("POST", path, {"since": 5}), 422, "validation_failed", "since")
    st, j, _, _ = P.request("POST", path, raw=b"")
    assert_error(st, j, 422, "validation_failed", "since")
    assert_error(*P.api("POST", path, raw=b"{nope"), 400, "malformed_json")
    assert_error(*P.api("POST", "/v1/endpoints/%s/recover" % UNKNOWN_EP, {"since": "2020-01-01T00:00:00Z"}),
                 404, "not_found")
    assert_error(*P.api("POST", path + "?org_id=org-other", {"since": "2020-01-01T00:00:00Z"}), 404, "not_found")
    # nothing died after a time in the future
    st, j = P.api("POST", path, {"since": "2099-01-01T00:00:00Z"})
    assert st == 202 and j == {"recovered": 0}, (st, j)
    sw.status = 200
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 - 60))
    st, j = P.api("POST", path, {"since": since})
    assert st == 202 and j == {"recovered": 3}, (st, j)
    for i in range(3):
        event_when("evt_rec_%d" % i, lambda e: e["deliveries"][0]["state"] == "delivered", 15, "delivered %d" % i)
    # nothing dead any more
    st, j = P.api("POST", path, {"since": since})
    assert st == 202 and j == {"recovered": 0}, (st, j)
    rc.close()


def test_resend_after_payload_expired_is_410():
    rc = Receiver(Switch(500))
    P.endpoint("org-exp", rc.url(), events=["*"], retry_schedule="1s")
    P.publish("org-exp", "a.b", {}, id="evt_exp_1")
    ev = event_when("evt_exp_1", lambda e: e["deliveries"][0]["state"] == "dead", 20, "dead")
    did = ev["deliveries"][0]["id"]
    shard = int(did[-3:], 16)
    assert R.cmd("DEL", "hq:{%d}:ev:org-exp:evt_exp_1" % shard) == 1
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend" % did), 410, "payload_expired")
    assert_error(*get_event("evt_exp_1"), 404, "not_found")
    rc.close()


def test_retry_scheduled_in_stats_and_event():
    rc = Receiver(Switch(503))
    P.endpoint("org-later", rc.url(), events=["*"], retry_schedule="1h")
    P.publish("org-later", "a.b", {}, id="evt_later_1")
    ev = event_when("evt_later_1", lambda e: e["deliveries"][0]["state"] == "retrying", 15, "retrying")
    d = ev["deliveries"][0]
    due = time.mktime(time.strptime(d["next_attempt_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 3000 < due - time.time() < 4000, d
    s = stats()
    assert len(s["shards"]) == SHARDS and [x["shard"] for x in s["shards"]] == list(range(SHARDS)), s
    assert s["totals"]["retry_scheduled"] >= 1 and RFC3339.match(s["totals"]["next_retry_at"]), s["totals"]
    sh = [x for x in s["shards"] if x["retry_scheduled"] > 0]
    assert sh and all(RFC3339.match(x["next_retry_at"]) for x in sh), sh
    for x in s["shards"]:
        for k in ("stream_length", "lag", "pending", "retry_scheduled", "dead"):
            assert isinstance(x[k], int) and x[k] >= 0, x
        if x["retry_scheduled"] == 0:
            assert x["next_retry_at"] is None, x
    t = s["totals"]
    for k in ("stream_length", "lag", "pending", "retry_scheduled", "dead", "events", "deliveries", "delivered",
              "failed", "dead_total", "cancelled", "lost"):
        assert isinstance(t[k], int), (k, t)
    assert t["stream_length"] == sum(x["stream_length"] for x in s["shards"])
    assert t["dead"] == sum(x["dead"] for x in s["shards"])
    rc.close()


def test_stats_workers_and_counters_move():
    s = wait_for(lambda: (lambda j: j if j["live_workers"] >= 1 and j["workers"][0].get("delivered", 0) >= 1
                          else None)(stats()), 15, "a live worker's heartbeat")
    assert s["live_workers"] == len(s["workers"]) == 1, s
    w = s["workers"][0]
    assert w["id"] and w["host"] and isinstance(w["pid"], int) and w["version"], w
    assert RFC3339.match(w["last_seen_at"]) and RFC3339.match(w["started_at"]), w
    assert isinstance(w["delivered"], int) and w["delivered"] >= 1, w
    before = s["totals"]
    P.publish("org-stats-none", "a.b", {})      # no endpoints: an event, no delivery
    rc = Receiver()
    P.endpoint("org-stats", rc.url(), events=["*"])
    P.publish("org-stats", "a.b", {})
    rc.wait(1)
    after = wait_for(lambda: (lambda t: t if t["delivered"] >= before["delivered"] + 1 else None)(
        stats()["totals"]), 10, "delivered counter")
    assert after["events"] == before["events"] + 2, (before, after)
    assert after["deliveries"] == before["deliveries"] + 1, (before, after)
    # the stats hash counters are the sums of the shards' hashes
    tot = 0
    for sh in range(SHARDS):
        tot += int(hgetall(R, "hq:{%d}:stats" % sh).get("events", 0))
    assert tot == after["events"]
    rc.close()


def test_ambiguous_event_id_needs_org():
    P.publish("org-amb-1", "a.b", {"o": 1}, id="evt_shared")
    P.publish("org-amb-2", "a.b", {"o": 2}, id="evt_shared")
    assert_error(*get_event("evt_shared"), 409, "ambiguous")
    st, j = get_event("evt_shared", "org-amb-2")
    assert st == 200 and j["org_id"] == "org-amb-2" and j["data"] == {"o": 2} and j["deliveries"] == [], j
    st, j = get_event("evt_shared", "org-amb-1")
    assert st == 200 and j["data"] == {"o": 1}, j


def test_unknown_ids_and_methods():
    assert_error(*get_event("evt_does_not_exist"), 404, "not_found")
    assert_error(*get_event("evt%20bad"), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend" % UNKNOWN_DLV), 404, "not_found")
    assert_error(*log_page("ep_short"), 404, "not_found")
    st, j, h, _ = P.request("DELETE", "/v1/stats")
    assert_error(st, j, 405, "method_not_allowed")
    assert "GET" in h.get("Allow", ""), h
    assert_error(*P.api("GET", "/v1/deliveries/%s/resend" % UNKNOWN_DLV), 405, "method_not_allowed")
    assert_error(*P.api("POST", "/v1/events/evt_x"), 405, "method_not_allowed")
    st, j = P.api("GET", "/v1/stats", token="wrong")
    assert_error(st, j, 401, "unauthorized")
    st, j = P.api("GET", "/v1/events/evt_insp_1", token=None)
    assert_error(st, j, 401, "unauthorized")


# ---------------------------------------------------------------- docs/openapi.yaml
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def openapi_routes(text):
    """[(path, method)] from the `paths:` section, without a YAML library:
    paths are the keys indented by 2 under `paths:`, methods the keys
    indented by 4 below each path."""
    routes, in_paths, path = [], False, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0:
            in_paths = line.rstrip() == "paths:"
            path = None
            continue
        if not in_paths:
            continue
        m = re.match(r"^  (/[^:\s]*):\s*$", line)
        if indent == 2 and m:
            path = m.group(1).strip("'\"")
            continue
        m = re.match(r"^    ([a-z]+):", line)
        if indent == 4 and m and path and m.group(1) in METHODS:
            routes.append((path, m.group(1).upper()))
    return routes


def test_openapi_lists_every_route_and_each_exists():
    with open(os.path.join(SRC, "docs", "openapi.yaml")) as f:
        text = f.read()
    routes = openapi_routes(text)
    try:
        import yaml  # optional: cross-check the extractor when PyYAML is installed
    except ImportError:
        yaml = None
    if yaml:
        doc = yaml.safe_load(text)
        assert doc["openapi"].startswith("3.0"), doc["openapi"]
        want = sorted((p, m.upper()) for p, ops in doc["paths"].items() for m in ops if m in METHODS)
        assert sorted(routes) == want, (routes, want)
    expected = {("/v1/events", "POST"), ("/v1/events/batch", "POST"), ("/v1/events/{id}", "GET"),
                ("/v1/endpoints", "GET"), ("/v1/endpoints", "POST"), ("/v1/endpoints/{id}", "GET"),
                ("/v1/endpoints/{id}", "PATCH"), ("/v1/endpoints/{id}", "DELETE"),
                ("/v1/endpoints/{id}/rotate-secret", "POST"), ("/v1/endpoints/{id}/test", "POST"),
                ("/v1/endpoints/{id}/deliveries", "GET"), ("/v1/endpoints/{id}/recover", "POST"),
                ("/v1/deliveries/{id}/resend", "POST"), ("/v1/stats", "GET"), ("/healthz", "GET"),
                ("/readyz", "GET"), ("/metrics", "GET")}
    assert expected <= set(routes), expected - set(routes)
    ids = {"/v1/events/": "evt_openapi_unknown", "/v1/deliveries/": UNKNOWN_DLV, "/v1/endpoints/": UNKNOWN_EP}
    for path, method in routes:
        url = path
        for prefix, val in ids.items():
            if url.startswith(prefix):
                url = url.replace("{id}", val)
        assert "{" not in url, url
        st, j, _, _ = P.request(method, url, raw=b"{}" if method in ("POST", "PATCH") else None)
        what = "%s %s -> %s %s" % (method, path, st, j)
        assert st not in (405, 501), what
        if st == 404:
            # an unknown id is fine; an unknown route is not
            assert j and j["error"]["code"] == "not_found" and j["error"]["message"] != "no such route", what
    # and the router's own answer for a route that does not exist, for contrast
    st, j = P.api("GET", "/v1/nothing-here")
    assert st == 404 and j["error"]["message"] == "no such route", (st, j)


if __name__ == "__main__":
    run([test_event_retrying_then_dead_with_every_attempt, test_resend_dead_delivery_is_delivered,
         test_deliveries_log_pagination_and_filters, test_in_flight_and_already_queued, test_recover_since,
         test_resend_after_payload_expired_is_410, test_retry_scheduled_in_stats_and_event,
         test_stats_workers_and_counters_move, test_ambiguous_event_id_needs_org, test_unknown_ids_and_methods,
         test_openapi_lists_every_route_and_each_exists])
