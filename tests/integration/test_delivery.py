"""Delivery (SPEC 4, 7): the exact request, both signatures, auth options,
outcomes (2xx, 3xx, 410, Retry-After), retries on the schedule and dead
letters; real Redis, real producer and worker, real HTTP receivers."""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (SRC, Producer, compact, delivery_hashes, Receiver, Redis, Worker, hex_sig, metric,  # noqa: E402
                     run, scripted, standard_verify, wait_for)

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s")


def test_request_is_exact_and_signed():
    rc = Receiver()
    ep = P.endpoint("org-exact", rc.url("/in"), events=["lead.*"])
    secret = ep["secret"]
    assert secret.startswith("whsec_"), secret
    data = {"lead": {"id": "ld_1", "name": "Zoë 中文 😀", "amount": 24000, "tags": ["a/b", "</x>"]},
            "z": None, "a": True, "m": {"b": 1, "a": 2}}
    j = P.publish("org-exact", "lead.converted", data, id="evt_exact_1", created_at="2026-04-12T15:32:11Z")
    assert j["deliveries"] == 1
    req = rc.wait(1)[0]
    expected = (b'{"id":"evt_exact_1","type":"lead.converted","created_at":"2026-04-12T15:32:11Z",'
                b'"org_id":"org-exact","data":' + compact(data) + b"}")
    assert req.body == expected, (req.body, expected)
    assert req.path == "/in"
    assert req.header("Content-Type") == "application/json"
    assert re.match(r"^hookq/\d+\.\d+\.\d+", req.header("User-Agent")), req.header("User-Agent")
    assert req.header("X-Webhook-Id") == "evt_exact_1"
    assert req.header("X-Webhook-Event") == "lead.converted"
    assert req.header("X-Webhook-Attempt") == "1"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", req.header("X-Webhook-Timestamp")), req.headers
    assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(secret, req.body), req.headers
    assert standard_verify(secret, req), req.headers
    assert abs(int(req.header("webhook-timestamp")) - time.time()) < 30
    assert req.header("Expect") is None and req.header("Accept-Encoding") is None, req.headers
    # a wrong secret does not verify
    assert req.header("X-Webhook-Signature") != "sha256=" + hex_sig(secret + "x", req.body)
    rc.close()


def test_auth_options_and_custom_headers():
    rc = Receiver()
    P.endpoint("org-auth", rc.url("/basic"), events=["*"], auth={"type": "basic", "username": "u", "password": "p@ss"})
    P.endpoint("org-auth", rc.url("/key"), events=["*"], auth={"type": "api_key", "key": "k-123"})
    P.endpoint("org-auth", rc.url("/bearer"), events=["*"], auth={"type": "bearer", "token": "tok-9"},
               headers={"X-Team": "sales"}, signature_header="X-BottleCRM-Signature")
    P.endpoint("org-auth", rc.url("/none"), events=["*"], auth={"type": "none"})
    P.publish("org-auth", "deal.won", {"x": 1})
    by = {r.path: r for r in rc.wait(4)}
    assert by["/basic"].header("Authorization") == "Basic dTpwQHNz", by["/basic"].headers
    assert by["/key"].header("X-API-KEY") == "k-123"
    assert by["/bearer"].header("Authorization") == "Bearer tok-9"
    assert by["/bearer"].header("X-Team") == "sales"
    assert by["/bearer"].header("X-BottleCRM-Signature", ).startswith("sha256=")
    assert by["/bearer"].header("X-Webhook-Signature") is None
    assert by["/none"].header("Authorization") is None and by["/none"].header("X-API-KEY") is None
    rc.close()


def test_retries_then_success_with_same_body():
    rc = Receiver(scripted([500, 503]))
    P.endpoint("org-retry", rc.url(), events=["*"])
    t0 = time.time()
    P.publish("org-retry", "invoice.paid", {"i": 1})
    reqs = rc.wait(3, timeout=20)
    assert [r.header("X-Webhook-Attempt") for r in reqs] == ["1", "2", "3"], [r.headers for r in reqs]
    assert reqs[0].body == reqs[1].body == reqs[2].body
    # schedule 1s,1s with +-10% jitter
    assert reqs[1].time - reqs[0].time >= 0.85, reqs[1].time - reqs[0].time
    assert reqs[2].time - reqs[1].time >= 0.85
    assert time.time() - t0 < 15
    d = wait_for(lambda: [x for x in delivery_hashes(R, org="org-retry") if x["st"] == "delivered"], 10, "delivered state")
    assert d[0]["n"] == "3", d
    assert "a1" in d[0] and json.loads(d[0]["a1"])["http_status"] == 500, d[0]
    rc.close()


def test_dead_after_last_attempt():
    rc = Receiver(lambda req: (500, {}, b"nope"))
    P.endpoint("org-dead", rc.url(), events=["*"])
    P.publish("org-dead", "invoice.paid", {"i": 2})
    rc.wait(3, timeout=20)
    d = wait_for(lambda: [x for x in delivery_hashes(R, org="org-dead") if x["st"] == "dead"], 10, "dead state")
    did = d[0]["_key"].rsplit(":", 1)[1]
    shard = re.search(r"\{(\d+)\}", d[0]["_key"]).group(1)
    assert R.cmd("ZSCORE", "hq:{%s}:dead" % shard, did) is not None
    time.sleep(2.5)  # the schedule has no further step: no 4th attempt may come
    assert rc.count() == 3, rc.count()
    att = json.loads(d[0]["a3"])
    assert att["http_status"] == 500 and "nope" in att["response_body"], att
    rc.close()


def test_per_endpoint_schedule():
    rc = Receiver(lambda req: (500, {}, b""))
    P.endpoint("org-sched", rc.url(), events=["*"], retry_schedule="1s")
    P.publish("org-sched", "a.b", {})
    rc.wait(2, timeout=15)
    wait_for(lambda: [x for x in delivery_hashes(R, org="org-sched") if x["st"] == "dead"], 10, "dead state")
    time.sleep(1.5)
    assert rc.count() == 2, rc.count()
    rc.close()


def test_redirect_is_a_failure_and_not_followed():
    rc = Receiver(lambda req: (302, {"Location": "/elsewhere"}, b"") if req.path == "/r" else (200, {}, b""))
    P.endpoint("org-redir", rc.url("/r"), events=["*"], retry_schedule="1s")
    P.publish("org-redir", "a.b", {})
    rc.wait(2, timeout=15)
    time.sleep(0.5)
    assert all(r.path == "/r" for r in rc.requests), [r.path for r in rc.requests]
    rc.close()


def test_410_disables_endpoint():
    rc = Receiver(lambda req: (410, {}, b"gone"))
    ep = P.endpoint("org-gone", rc.url(), events=["*"])
    P.publish("org-gone", "a.b", {})
    rc.wait(1)
    st, j = wait_for(lambda: (lambda r: r if r[1] and r[1].get("is_active") is False else None)(
        P.api("GET", "/v1/endpoints/" + ep["id"])), 10, "endpoint disabled")
    assert j["disabled_reason"], j
    d = wait_for(lambda: [x for x in delivery_hashes(R, org="org-gone") if x["st"] == "dead"], 10, "dead state")
    assert d
    # no new deliveries to a disabled endpoint
    assert P.publish("org-gone", "a.b", {})["deliveries"] == 0
    time.sleep(1.5)
    assert rc.count() == 1
    rc.close()


def test_retry_after_is_honoured():
    rc = Receiver(scripted([429], {"Retry-After": "3"}))
    P.endpoint("org-ra", rc.url(), events=["*"], retry_schedule="1s,10s")
    P.publish("org-ra", "a.b", {})
    reqs = rc.wait(2, timeout=20)
    gap = reqs[1].time - reqs[0].time
    assert gap >= 2.9, gap
    rc.close()


def test_older_library_reloaded_mid_rollout():
    """An older process reloads its library (FUNCTION LOAD REPLACE) while
    this worker runs: the older library has no hookq_complete_v2, so the
    worker is told "Function not found", loads its own again and records
    the outcome, nothing stuck in the PEL."""
    rc = Receiver()
    P.endpoint("org-roll", rc.url(), events=["*"])
    with open(os.path.join(SRC, "common", "hookq.lua")) as f:
        lib = f.read()
    old = lib.replace("redis.register_function('hookq_complete_v2', complete)\n", "")
    assert old != lib
    R.cmd("FUNCTION", "LOAD", "REPLACE", old)
    P.publish("org-roll", "a.b", {"n": 1}, id="evt_roll_1")
    rc.wait(1)
    wait_for(lambda: any(h.get("st") == "delivered" for h in delivery_hashes(R, eid="evt_roll_1")), 20,
             "the delivery recorded as delivered")
    names = str(R.cmd("FUNCTION", "LIST", "LIBRARYNAME", "hookq"))
    assert "hookq_complete_v2" in names, names
    rc.close()


def test_worker_metrics_count_outcomes():
    st, body = W.get("/metrics")
    assert st == 200
    assert metric(body, "hookq_deliveries_total", 'outcome="delivered"') >= 3, body
    assert metric(body, "hookq_attempts_total", 'class="5xx"') >= 3, body
    assert "hookq_attempt_duration_seconds_bucket" in body
    st, _ = W.get("/healthz")
    assert st == 200
    st, _ = W.get("/readyz")
    assert st == 200


if __name__ == "__main__":
    run([test_request_is_exact_and_signed, test_auth_options_and_custom_headers,
         test_retries_then_success_with_same_body, test_dead_after_last_attempt, test_per_endpoint_schedule,
         test_redirect_is_a_failure_and_not_followed, test_410_disables_endpoint, test_retry_after_is_honoured,
         test_older_library_reloaded_mid_rollout, test_worker_metrics_count_outcomes])
