"""Endpoint management (SPEC 5): the secret is shown once, PATCH of every
field reaches the next delivery, rotate-secret with its overlap, the test
route, DELETE with deliveries still queued, automatic disabling (failing too
long, 410 Gone) and re-enabling, the bounded attempt log, and tenancy (a
wrong org or an unknown id is always 404, every error has one shape).

Three independent stacks (Redis + producer + worker) so that settings that
change a whole process (HOOKQ_DISABLE_AFTER, HOOKQ_ATTEMPT_LOG,
HOOKQ_RETENTION) do not leak into the other tests."""
import base64
import calendar
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BIN, TOKEN, Producer, Receiver, Redis, Worker, hex_sig, hgetall, run,  # noqa: E402
                     standard_verify, wait_for)

OVERLAP_S = 5
R = Redis()
P = Producer(R, HOOKQ_ROTATION_OVERLAP="%ds" % OVERLAP_S)
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s")
UNKNOWN_EP = "ep_" + "0" * 21 + "001"
UNKNOWN_DLV = "dlv_" + "0" * 21 + "002"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
_stacks = {}


class Switch:
    """A receiver answer a test can change: status, delay, headers."""

    def __init__(self, status=200, delay=0.0):
        self.status, self.delay = status, delay

    def __call__(self, req):
        if self.delay:
            time.sleep(self.delay)
        return self.status, {}, b"answer %d" % self.status


def epoch(ts):
    return calendar.timegm(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S"))


def assert_error(st, j, status, code=None, field=None):
    assert st == status, (st, j)
    assert isinstance(j, dict) and list(j) == ["error"], j
    e = j["error"]
    assert set(e) <= {"code", "message", "field"} and {"code", "message"} <= set(e), e
    assert isinstance(e["code"], str) and e["code"] and isinstance(e["message"], str) and e["message"], e
    if code:
        assert e["code"] == code, e
    if field:
        assert e.get("field") == field, e


def event(p, eid, org=None):
    st, j = p.api("GET", "/v1/events/%s%s" % (eid, "?org_id=" + org if org else ""))
    return j if st == 200 else None


def event_when(p, eid, pred, timeout=20, what="event state"):
    return wait_for(lambda: (lambda j: j if j and pred(j) else None)(event(p, eid)), timeout, what)


def get_ep(p, epid):
    st, j = p.api("GET", "/v1/endpoints/" + epid)
    assert st == 200, (st, j)
    return j


def patch(p, epid, body):
    st, j = p.api("PATCH", "/v1/endpoints/" + epid, body)
    assert st == 200, (body, st, j)
    assert "secret" not in j, j
    return j


def shard_of(id_):
    return int(id_[-3:], 16)


def stack(name, producer_env=None, **worker_env):
    """A separate Redis, producer and worker, started on first use."""
    if name not in _stacks:
        r = Redis()
        p = Producer(r, **(producer_env or {}))
        w = Worker(r, name="worker-" + name, **worker_env)
        _stacks[name] = (r, p, w)
    return _stacks[name]


def no_error_logs(proc):
    bad = []
    for line in proc.logtext().splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if j.get("level") in ("error", "fatal"):
            bad.append(line)
    assert not bad, bad


# ---------------------------------------------------------------- secret shown once

def test_secret_shown_once():
    ep = P.endpoint("org-sec", "http://127.0.0.1:9/x", events=["*"])
    assert ep["secret"].startswith("whsec_") and len(base64.b64decode(ep["secret"][6:])) == 32, ep
    _, _, _, raw = P.request("GET", "/v1/endpoints/" + ep["id"])
    assert ep["secret"].encode() not in raw and b'"secret"' not in raw, raw
    _, _, _, raw = P.request("GET", "/v1/endpoints?org_id=org-sec")
    assert ep["secret"].encode() not in raw and b'"secret"' not in raw, raw
    j = patch(P, ep["id"], {"name": "renamed"})
    assert j["name"] == "renamed"
    # a chosen secret on create is returned once too, and never again
    ep2 = P.endpoint("org-sec", "http://127.0.0.1:9/y", secret="chosen-secret-0123456789")
    assert ep2["secret"] == "chosen-secret-0123456789"
    _, _, _, raw = P.request("GET", "/v1/endpoints?org_id=org-sec")
    assert b"chosen-secret-0123456789" not in raw, raw
    # the secret cannot be changed by PATCH
    assert_error(*P.api("PATCH", "/v1/endpoints/" + ep["id"], {"secret": "another-secret-0123456789"}),
                 422, "validation_failed", "secret")


# ---------------------------------------------------------------- PATCH

def test_patch_each_field_reaches_next_delivery():
    sa, sb = Switch(), Switch()
    a, b = Receiver(sa), Receiver(sb)
    org = "org-patch"
    ep = P.endpoint(org, a.url("/a"), events=["lead.*"], retry_schedule="1s,1s")
    epid = ep["id"]
    n = [0]

    def send(typ="lead.created", want=1):
        n[0] += 1
        j = P.publish(org, typ, {"n": n[0]})
        assert j["deliveries"] == want, (typ, j)
        return j["id"]

    def last_b(count):
        return b.wait(count)[-1]

    send()
    a.wait(1)
    # url
    patch(P, epid, {"url": b.url("/b")})
    send()
    req = last_b(1)
    assert req.path == "/b" and a.count() == 1
    # events: fan-out follows the new subscription at once
    patch(P, epid, {"events": ["deal.*"]})
    send("lead.created", want=0)
    send("deal.won")
    req = last_b(2)
    assert json.loads(req.body)["type"] == "deal.won"
    # auth: basic, api_key, bearer, none
    patch(P, epid, {"auth": {"type": "basic", "username": "u", "password": "pw-basic-1"}})
    send("deal.won")
    req = last_b(3)
    assert req.header("Authorization") == "Basic " + base64.b64encode(b"u:pw-basic-1").decode(), req.headers
    patch(P, epid, {"auth": {"type": "api_key", "key": "key-123"}})
    send("deal.won")
    req = last_b(4)
    assert req.header("X-API-KEY") == "key-123" and req.header("Authorization") is None, req.headers
    patch(P, epid, {"auth": {"type": "bearer", "token": "tok-456"}})
    send("deal.won")
    req = last_b(5)
    assert req.header("Authorization") == "Bearer tok-456" and req.header("X-API-KEY") is None, req.headers
    j = patch(P, epid, {"auth": {"type": "none"}})
    assert j["auth"] == {"type": "none"}, j
    send("deal.won")
    req = last_b(6)
    assert req.header("Authorization") is None, req.headers
    # headers: set, then replaced
    patch(P, epid, {"headers": {"X-Team": "sales", "X-Env": "test"}})
    send("deal.won")
    req = last_b(7)
    assert req.header("X-Team") == "sales" and req.header("X-Env") == "test", req.headers
    patch(P, epid, {"headers": {"X-Env": "prod"}})
    send("deal.won")
    req = last_b(8)
    assert req.header("X-Team") is None and req.header("X-Env") == "prod", req.headers
    # signature_header and signature_format
    patch(P, epid, {"signature_header": "X-CRM-Signature"})
    send("deal.won")
    req = last_b(9)
    assert req.header("X-CRM-Signature") == "sha256=" + hex_sig(ep["secret"], req.body), req.headers
    assert req.header("X-Webhook-Signature") is None
    patch(P, epid, {"signature_format": "hex"})
    send("deal.won")
    req = last_b(10)
    assert req.header("X-CRM-Signature") == hex_sig(ep["secret"], req.body), req.headers
    # payload_format
    patch(P, epid, {"payload_format": "event_data"})
    send("deal.won")
    req = last_b(11)
    body = json.loads(req.body)
    assert list(body) == ["event", "timestamp", "data"] and body["event"] == "deal.won", body
    patch(P, epid, {"payload_format": None, "signature_header": None, "signature_format": None})
    send("deal.won")
    req = last_b(12)
    assert list(json.loads(req.body)) == ["id", "type", "created_at", "org_id", "data"], req.body
    assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], req.body)
    # is_active: paused endpoints get no fan-out; re-activated ones do
    j = patch(P, epid, {"is_active": False})
    assert j["is_active"] is False and j["disabled_reason"] is None, j
    send("deal.won", want=0)
    patch(P, epid, {"is_active": True})
    send("deal.won")
    last_b(13)
    # timeout_ms and retry_schedule: a slow receiver now times out, and the
    # next attempt is due per the new schedule
    patch(P, epid, {"timeout_ms": 1000, "retry_schedule": "1h"})
    sb.delay = 2.5
    eid = send("deal.won")
    ev = event_when(P, eid, lambda e: e["deliveries"][0]["state"] == "retrying", 20, "timed-out attempt")
    d = ev["deliveries"][0]
    att = d["attempts"][0]
    assert att["http_status"] is None and att["error"], att
    assert 3000 < epoch(d["next_attempt_at"]) - time.time() < 4000, d
    sb.delay = 0
    # rate_limit_per_sec: 4 deliveries at 1/s take at least ~3 s
    patch(P, epid, {"timeout_ms": None, "retry_schedule": None, "rate_limit_per_sec": 1})
    before = b.count()
    for _ in range(4):
        send("deal.won")
    reqs = b.wait(before + 4, timeout=30)[before:]
    spread = reqs[-1].time - reqs[0].time
    assert spread >= 2.0, "4 deliveries at 1/s arrived within %.2fs" % spread
    j = get_ep(P, epid)
    assert j["rate_limit_per_sec"] == 1 and j["timeout_ms"] in (0, None) and j["retry_schedule"] is None, j
    a.close()
    b.close()


def test_patch_invalid_or_unknown_field_is_422_naming_it():
    ep = P.endpoint("org-patch-bad", "http://127.0.0.1:9/x")
    path = "/v1/endpoints/" + ep["id"]
    cases = [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": 5}, "url"),
        ({"events": []}, "events"),
        ({"events": ["lead.*", "bad type"]}, "events[1]"),
        ({"auth": {"type": "magic"}}, "auth.type"),
        ({"auth": {"type": "bearer"}}, "auth.token"),
        ({"auth": {"type": "basic", "password": "x"}}, "auth.username"),
        ({"headers": {"X-A": 1}}, "headers.X-A"),
        ({"headers": {"Content-Type": "text/plain"}}, "headers.Content-Type"),
        ({"is_active": "yes"}, "is_active"),
        ({"timeout_ms": 50}, "timeout_ms"),
        ({"timeout_ms": 1500.5}, "timeout_ms"),
        ({"rate_limit_per_sec": -1}, "rate_limit_per_sec"),
        ({"signature_header": "bad header"}, "signature_header"),
        ({"signature_format": "base64"}, "signature_format"),
        ({"payload_format": "xml"}, "payload_format"),
        ({"retry_schedule": "soon"}, "retry_schedule"),
        ({"org_id": "another-org"}, "org_id"),
        ({"secret": "a-new-secret-0123456789"}, "secret"),
        ({"colour": "blue"}, "colour"),
        ({"event": ["lead.created"]}, "event"),
    ]
    for body, field in cases:
        assert_error(*P.api("PATCH", path, body), 422, "validation_failed", field)
    # nothing changed
    j = get_ep(P, ep["id"])
    assert j["url"] == "http://127.0.0.1:9/x" and j["events"] == ["*"] and j["is_active"] is True, j
    # an unknown field on create is refused as well; read-only fields of the view are accepted
    assert_error(*P.api("POST", "/v1/endpoints", {"org_id": "o", "url": "http://127.0.0.1:9/x", "evnts": ["*"]}),
                 422, "validation_failed", "evnts")
    view = dict(j, name="sent back")
    j2 = patch(P, ep["id"], view)
    assert j2["name"] == "sent back" and j2["id"] == ep["id"], j2
    assert_error(*P.api("PATCH", path, raw=b"{nope"), 400, "malformed_json")
    assert_error(*P.api("PATCH", path, raw=b"[1]"), 400, "invalid_body")


# ---------------------------------------------------------------- rotate-secret

class _OneSig:
    """A view of a received request with a single webhook-signature value."""

    def __init__(self, req, value):
        self.req, self.value, self.body = req, value, req.body

    def header(self, name):
        return self.value if name.lower() == "webhook-signature" else self.req.header(name)


def sigs_ok(req, secrets):
    """webhook-signature has one space-separated value per secret, and each
    value verifies (Standard Webhooks) with exactly one of them."""
    vals = (req.header("webhook-signature") or "").split(" ")
    assert len(vals) == len(secrets), (vals, secrets)
    for v in vals:
        assert v.startswith("v1,"), v
        matches = [s for s in secrets if standard_verify(s, _OneSig(req, v))]
        assert len(matches) == 1, (v, secrets)
    for s in secrets:
        assert standard_verify(s, req), s


def test_rotate_secret_overlap_then_switch():
    rc = Receiver()
    org = "org-rot"
    gen = P.endpoint(org, rc.url("/gen"), events=["*"])
    chosen = P.endpoint(org, rc.url("/chosen"), events=["*"], secret="first-chosen-secret-123")
    t0 = time.time()
    st, j = P.api("POST", "/v1/endpoints/%s/rotate-secret" % gen["id"])
    assert st == 200 and set(j) == {"secret", "old_secret_expires_at"}, (st, j)
    new_gen = j["secret"]
    assert new_gen.startswith("whsec_") and new_gen != gen["secret"], j
    exp = epoch(j["old_secret_expires_at"])
    assert t0 - 1 <= exp <= time.time() + OVERLAP_S + 1, (t0, j)
    st, j2 = P.api("POST", "/v1/endpoints/%s/rotate-secret" % chosen["id"], {"secret": "second-chosen-secret-456"})
    assert st == 200 and j2["secret"] == "second-chosen-secret-456", (st, j2)
    exp = max(exp, epoch(j2["old_secret_expires_at"]))
    assert_error(*P.api("POST", "/v1/endpoints/%s/rotate-secret" % chosen["id"], {"secret": "short"}),
                 422, "validation_failed", "secret")
    assert_error(*P.api("POST", "/v1/endpoints/%s/rotate-secret" % chosen["id"], {"secret": 12}),
                 422, "validation_failed", "secret")
    # the new secret is never shown again
    _, _, _, raw = P.request("GET", "/v1/endpoints?org_id=" + org)
    assert new_gen.encode() not in raw and b"second-chosen" not in raw and b"first-chosen" not in raw, raw
    # during the overlap: two signatures, both verify; X-Webhook-Signature keeps the old secret
    P.publish(org, "lead.created", {"phase": "overlap"})
    reqs = rc.wait(2)
    assert time.time() < exp, "the overlap ended before the deliveries (machine too slow?)"
    by = {r.path: r for r in reqs}
    sigs_ok(by["/gen"], [gen["secret"], new_gen])
    sigs_ok(by["/chosen"], ["first-chosen-secret-123", "second-chosen-secret-456"])
    assert by["/gen"].header("X-Webhook-Signature") == "sha256=" + hex_sig(gen["secret"], by["/gen"].body)
    assert by["/chosen"].header("X-Webhook-Signature") == \
        "sha256=" + hex_sig("first-chosen-secret-123", by["/chosen"].body)
    # after the overlap: only the new secret
    wait_for(lambda: time.time() > exp + 1.5, OVERLAP_S + 5, "the rotation overlap to end", 0.1)
    P.publish(org, "lead.created", {"phase": "after"})
    reqs = rc.wait(4)[2:]
    by = {r.path: r for r in reqs}
    sigs_ok(by["/gen"], [new_gen])
    sigs_ok(by["/chosen"], ["second-chosen-secret-456"])
    assert not standard_verify(gen["secret"], by["/gen"])
    assert by["/gen"].header("X-Webhook-Signature") == "sha256=" + hex_sig(new_gen, by["/gen"].body)
    assert by["/chosen"].header("X-Webhook-Signature") == \
        "sha256=" + hex_sig("second-chosen-secret-456", by["/chosen"].body)
    rc.close()


def test_rotate_default_overlap_is_24h():
    p24 = Producer(R)   # HOOKQ_ROTATION_OVERLAP unset: the default
    try:
        ep = p24.endpoint("org-rot24", "http://127.0.0.1:9/x")
        t0 = time.time()
        st, j = p24.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"])
        assert st == 200, (st, j)
        left = epoch(j["old_secret_expires_at"]) - t0
        assert 86400 - 120 < left < 86400 + 120, j
    finally:
        p24.stop()


# ---------------------------------------------------------------- test route

def test_test_event_reaches_only_this_endpoint():
    ra, rb = Receiver(), Receiver()
    org = "org-test"
    a = P.endpoint(org, ra.url(), events=["lead.*"])
    P.endpoint(org, rb.url(), events=["lead.*", "*"])
    st, j = P.api("POST", "/v1/endpoints/%s/test" % a["id"], {"type": "lead.created"})
    assert st == 202 and j["deliveries"] == 1 and j["id"].startswith("evt_"), (st, j)
    req = ra.wait(1)[0]
    body = json.loads(req.body)
    assert body["type"] == "lead.created" and body["id"] == j["id"] and body["org_id"] == org, body
    assert body["data"]["test"] is True and body["data"]["endpoint_id"] == a["id"], body
    assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(a["secret"], req.body)
    ev = event_when(P, j["id"], lambda e: e["deliveries"] and e["deliveries"][0]["state"] == "delivered", 15,
                    "test event delivered")
    assert ev["test"] is True and [d["endpoint_id"] for d in ev["deliveries"]] == [a["id"]], ev
    # a normal event of the same type reaches both: b is subscribed, it only got nothing from /test
    P.publish(org, "lead.created", {"real": True})
    ra.wait(2)
    got = rb.wait(1)
    assert len(got) == 1 and json.loads(got[0].body)["data"] == {"real": True}, [r.body for r in got]
    ev2 = event(P, json.loads(got[0].body)["id"])
    assert ev2["test"] is False, ev2
    # default type: the first exact subscribed type, else webhook.test
    st, j = P.api("POST", "/v1/endpoints/%s/test" % a["id"])
    assert st == 202, (st, j)
    assert json.loads(ra.wait(3)[-1].body)["type"] == "webhook.test"
    # invalid type, malformed body
    for bad in ("bad type", "", "a..b", 5, "x" * 129):
        assert_error(*P.api("POST", "/v1/endpoints/%s/test" % a["id"], {"type": bad}), 422, "validation_failed",
                     "type")
    assert_error(*P.api("POST", "/v1/endpoints/%s/test" % a["id"], raw=b"{x"), 400, "malformed_json")
    assert rb.count() == 1
    ra.close()
    rb.close()


# ---------------------------------------------------------------- DELETE

def test_delete_with_pending_deliveries_cancels_them():
    hang, fail = Switch(200, delay=4.0), Switch(500)
    rh, rf = Receiver(hang), Receiver(fail)
    org = "org-del"
    eh = P.endpoint(org, rh.url(), events=["a.*"], timeout_ms=2000, retry_schedule="1s,1s,1s")
    ef = P.endpoint(org, rf.url(), events=["b.*"], retry_schedule="2s,2s,2s")
    e_in_flight = P.publish(org, "a.x", {"i": 1})["id"]
    rh.wait(1)
    e_retry = [P.publish(org, "b.x", {"i": i})["id"] for i in range(3)]
    for eid in e_retry:
        event_when(P, eid, lambda e: e["deliveries"][0]["state"] == "retrying", 15, "retrying")
    event_when(P, e_in_flight, lambda e: e["deliveries"][0]["state"] == "in_flight", 10, "in flight")
    for ep in (eh, ef):
        st, j, _, raw = P.request("DELETE", "/v1/endpoints/" + ep["id"])
        assert st == 204 and raw == b"", (st, raw)
        assert_error(*P.api("GET", "/v1/endpoints/" + ep["id"]), 404, "not_found")
        assert_error(*P.api("DELETE", "/v1/endpoints/" + ep["id"]), 404, "not_found")
    for eid in [e_in_flight] + e_retry:
        ev = event_when(P, eid, lambda e: e["deliveries"][0]["state"] == "cancelled", 20, "cancelled " + eid)
        d = ev["deliveries"][0]
        assert d["dead_reason"] and "deleted" in d["dead_reason"] and d["next_attempt_at"] is None, d
    # the endpoint's keys are gone and stay gone
    time.sleep(0.5)
    for ep in (eh, ef):
        s = shard_of(ep["id"])
        for k in ("ep:", "eplog:"):
            assert R.cmd("EXISTS", "hq:{%d}:%s%s" % (s, k, ep["id"])) == 0, k
        assert R.cmd("SISMEMBER", "hq:{%d}:org:%s:eps" % (s, org), ep["id"]) == 0
        assert R.cmd("ZSCORE", "hq:{%d}:retry" % s, ev["deliveries"][0]["id"]) is None
    st, j = P.api("GET", "/v1/endpoints?org_id=" + org)
    assert st == 200 and j["data"] == [], j
    assert W.proc.poll() is None, "the worker died"
    no_error_logs(W)
    n = rf.count() + rh.count()
    time.sleep(2.5)   # longer than the retry steps: nothing is attempted any more
    assert rf.count() + rh.count() == n
    rh.close()
    rf.close()


# ---------------------------------------------------------------- automatic disabling

def dis_stack():
    return stack("dis", HOOKQ_DISABLE_AFTER="3s", HOOKQ_RETRY_SCHEDULE="1s,1s,1s,1s,1s")


def test_disabled_after_failing_too_long_and_reenabled():
    r2, p2, w2 = dis_stack()
    sw = Switch(500)
    rc = Receiver(sw)
    org = "org-dis"
    ep = p2.endpoint(org, rc.url(), events=["*"], retry_schedule="1s,1s,1s,1s,1s")
    eid = p2.publish(org, "lead.created", {})["id"]
    j = wait_for(lambda: (lambda e: e if not e["is_active"] else None)(get_ep(p2, ep["id"])), 30, "auto-disable")
    assert j["disabled_reason"] and "failed" in j["disabled_reason"], j
    assert RFC3339.match(j["disabled_at"]), j
    assert j["health"]["consecutive_failures"] >= 4 and RFC3339.match(j["health"]["failing_since"]), j
    assert epoch(j["disabled_at"]) - epoch(j["health"]["failing_since"]) >= 2, j
    # the listing shows it too, and the CLI
    st, lst = p2.api("GET", "/v1/endpoints?org_id=" + org)
    assert lst["data"][0]["disabled_reason"] == j["disabled_reason"], lst
    env = dict(os.environ, HOOKQ_API_URL="http://%s:%d" % (p2.host, p2.port), HOOKQ_API_TOKEN=TOKEN)
    out = subprocess.run([os.path.join(BIN, "hookq"), "endpoints", "get", ep["id"]], env=env,
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    text = out.stdout.decode()
    assert j["disabled_reason"] in text and "disabled_at" in text, text
    out = subprocess.run([os.path.join(BIN, "hookq"), "endpoints", "list", "--org", org], env=env,
                         capture_output=True, timeout=30)
    assert out.stdout.decode().splitlines()[1].split()[-1] == "disabled", out
    # the queued delivery ends dead, naming the reason; no new fan-out
    ev = event_when(p2, eid, lambda e: e["deliveries"][0]["state"] == "dead", 20, "dead")
    assert "disabled" in ev["deliveries"][0]["dead_reason"], ev
    assert p2.publish(org, "lead.created", {})["deliveries"] == 0
    # re-enable: the reason and the streak are cleared, deliveries flow again
    sw.status = 200
    j = patch(p2, ep["id"], {"is_active": True})
    assert j["is_active"] is True and j["disabled_reason"] is None and j["disabled_at"] is None, j
    assert j["health"]["consecutive_failures"] == 0 and j["health"]["failing_since"] is None, j
    j = get_ep(p2, ep["id"])
    assert j["is_active"] is True and j["disabled_reason"] is None and j["disabled_at"] is None, j
    n = rc.count()
    assert p2.publish(org, "lead.created", {})["deliveries"] == 1
    rc.wait(n + 1)
    wait_for(lambda: get_ep(p2, ep["id"])["health"]["last_success_at"], 10, "last_success_at")
    rc.close()


def test_success_in_between_resets_the_streak():
    r2, p2, w2 = dis_stack()
    lock = threading.Lock()
    script = [500, 500, 200, 500, 500, 200]

    def respond(req):
        with lock:
            st = script.pop(0) if script else 200
        return st, {}, b"s"
    rc = Receiver(respond)
    org = "org-streak"
    ep = p2.endpoint(org, rc.url(), events=["*"], retry_schedule="1s,1s,1s,1s,1s")
    e1 = p2.publish(org, "a.b", {"n": 1})["id"]
    event_when(p2, e1, lambda e: e["deliveries"][0]["state"] == "delivered", 20, "first delivered")
    j = get_ep(p2, ep["id"])
    assert j["health"]["consecutive_failures"] == 0 and j["health"]["last_success_at"], j
    time.sleep(1.2)   # failures now span more than HOOKQ_DISABLE_AFTER in total, never in one streak
    e2 = p2.publish(org, "a.b", {"n": 2})["id"]
    ev = event_when(p2, e2, lambda e: e["deliveries"][0]["state"] == "delivered", 20, "second delivered")
    assert [a["http_status"] for a in ev["deliveries"][0]["attempts"]] == [500, 500, 200], ev
    j = get_ep(p2, ep["id"])
    assert j["is_active"] is True and j["disabled_reason"] is None, j
    assert j["health"]["consecutive_failures"] == 0, j
    rc.close()


def test_410_disables_with_reason_and_patch_reenables():
    r2, p2, w2 = dis_stack()
    sw = Switch(410)
    rc = Receiver(sw)
    org = "org-gone"
    ep = p2.endpoint(org, rc.url(), events=["*"])
    eid = p2.publish(org, "a.b", {})["id"]
    ev = event_when(p2, eid, lambda e: e["deliveries"][0]["state"] == "dead", 15, "dead after 410")
    assert ev["deliveries"][0]["attempts_made"] == 1 and ev["deliveries"][0]["last_status"] == 410, ev
    j = get_ep(p2, ep["id"])
    assert j["is_active"] is False and "410" in j["disabled_reason"] and RFC3339.match(j["disabled_at"]), j
    assert p2.publish(org, "a.b", {})["deliveries"] == 0
    # PATCH of another field keeps it disabled
    j = patch(p2, ep["id"], {"name": "still gone"})
    assert j["is_active"] is False and "410" in j["disabled_reason"], j
    sw.status = 200
    j = patch(p2, ep["id"], {"is_active": True})
    assert j["is_active"] is True and j["disabled_reason"] is None, j
    assert p2.publish(org, "a.b", {})["deliveries"] == 1
    rc.wait(2)
    # a dead delivery of the re-enabled endpoint can be recovered
    st, j = p2.api("POST", "/v1/endpoints/%s/recover" % ep["id"], {"since": "2020-01-01T00:00:00Z"})
    assert st == 202 and j["recovered"] == 1, (st, j)
    event_when(p2, eid, lambda e: e["deliveries"][0]["state"] == "delivered", 15, "recovered")
    rc.close()


# ---------------------------------------------------------------- attempt log bounds

def test_attempt_log_bounded_by_count_and_retention():
    r3, p3, w3 = stack("log", producer_env={"HOOKQ_RETENTION": "4s"}, HOOKQ_ATTEMPT_LOG="5",
                       HOOKQ_RETENTION="4s")
    rc = Receiver()
    org = "org-log"
    ep = p3.endpoint(org, rc.url(), events=["*"])
    key = "hq:{%d}:eplog:%s" % (shard_of(ep["id"]), ep["id"])
    ids = [p3.publish(org, "a.b", {"i": i})["id"] for i in range(12)]
    rc.wait(12)
    for eid in ids:
        event_when(p3, eid, lambda e: e["deliveries"][0]["state"] == "delivered", 15, "delivered")
    # an entry holds the attempts one hookq_complete logged (docs/redis-keys.md): at
    # most 5 entries, holding at least the 5 newest attempts
    ents = r3.cmd("XRANGE", key, "-", "+")
    stored = sum(1 + len(dict(zip(f[0::2], f[1::2])).get("m", "").split()) // 4 for _, f in ents)
    assert len(ents) <= 5 and stored >= 5, ents
    st, j = p3.api("GET", "/v1/endpoints/%s/deliveries?limit=250" % ep["id"])
    assert st == 200 and len(j["data"]) == 5 and j["next_cursor"] is None, j
    got = [e["event_id"] for e in j["data"]]
    assert len(set(got)) == 5 and set(got) <= set(ids), (got, ids)   # the 5 newest (order is not guaranteed)
    t_last = time.time()
    # older than HOOKQ_RETENTION: no longer returned
    wait_for(lambda: time.time() > t_last + 4.5, 10, "retention to pass", 0.1)
    st, j = p3.api("GET", "/v1/endpoints/%s/deliveries" % ep["id"])
    assert st == 200 and j["data"] == [] and j["next_cursor"] is None, j
    # a new attempt shows up alone
    p3.publish(org, "a.b", {"i": "new"})
    rc.wait(13)
    j = wait_for(lambda: (lambda j: j if j["data"] else None)(
        p3.api("GET", "/v1/endpoints/%s/deliveries" % ep["id"])[1]), 10, "the new attempt in the log")
    assert len(j["data"]) == 1, j
    rc.close()


# ---------------------------------------------------------------- tenancy and errors

def test_wrong_org_and_unknown_ids_are_404_everywhere():
    sw = Switch(500)
    rc = Receiver(sw)
    org = "org-ten"
    ep = P.endpoint(org, rc.url(), events=["*"], retry_schedule="1s")
    eid = P.publish(org, "a.b", {"x": 1}, id="evt_tenancy_1")["id"]
    ev = event_when(P, eid, lambda e: e["deliveries"][0]["state"] == "dead", 20, "dead")
    did = ev["deliveries"][0]["id"]
    e, d = ep["id"], did
    routes = [
        ("GET", "/v1/endpoints/%s", None), ("PATCH", "/v1/endpoints/%s", {"name": "x"}),
        ("DELETE", "/v1/endpoints/%s", None), ("POST", "/v1/endpoints/%s/rotate-secret", {}),
        ("POST", "/v1/endpoints/%s/test", {"type": "a.b"}), ("GET", "/v1/endpoints/%s/deliveries", None),
        ("POST", "/v1/endpoints/%s/recover", {"since": "2020-01-01T00:00:00Z"}),
    ]
    n_before = rc.count()
    for method, path, body in routes:
        for q in ("?org_id=someone-else", "?org_id=" + org.upper(), "?org_id="):
            if q == "?org_id=":
                continue
            assert_error(*P.api(method, (path % e) + q, body), 404, "not_found")
        assert_error(*P.api(method, path % UNKNOWN_EP, body), 404, "not_found")
        assert_error(*P.api(method, path % "ep_short", body), 404, "not_found")
        assert_error(*P.api(method, path % "../../v1/stats", body), 404)
    assert_error(*P.api("GET", "/v1/events/%s?org_id=someone-else" % eid), 404, "not_found")
    assert_error(*P.api("GET", "/v1/events/evt_unknown_0001"), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend?org_id=someone-else" % d), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/%s/resend" % UNKNOWN_DLV), 404, "not_found")
    assert_error(*P.api("POST", "/v1/deliveries/x/resend"), 404, "not_found")
    # nothing was changed through the wrong org
    j = get_ep(P, e)
    assert j["name"] is None and j["is_active"] is True, j
    st, j = P.api("GET", "/v1/events/%s?org_id=%s" % (eid, org))
    assert st == 200 and j["deliveries"][0]["state"] == "dead", j
    time.sleep(0.5)
    assert rc.count() == n_before, "a wrong-org route caused a delivery"
    # the error answers of other kinds have the same shape
    assert_error(*P.api("GET", "/v1/endpoints"), 422, "validation_failed", "org_id")
    assert_error(*P.api("GET", "/v1/endpoints/%s" % e, token="nope"), 401, "unauthorized")
    assert_error(*P.api("PUT", "/v1/endpoints/%s" % e, {}), 405, "method_not_allowed")
    assert_error(*P.api("POST", "/v1/endpoints", raw=b"{"), 400, "malformed_json")
    assert_error(*P.api("GET", "/v1/nope"), 404, "not_found")
    assert_error(*P.api("GET", "/nope"), 404, "not_found")
    rc.close()


def test_processes_healthy_at_the_end():
    for proc in [W] + [s[2] for s in _stacks.values()]:
        assert proc.proc.poll() is None, proc.name
        no_error_logs(proc)
    for proc in [P] + [s[1] for s in _stacks.values()]:
        assert proc.proc.poll() is None, proc.name
        no_error_logs(proc)


if __name__ == "__main__":
    run([test_secret_shown_once, test_patch_each_field_reaches_next_delivery,
         test_patch_invalid_or_unknown_field_is_422_naming_it, test_rotate_secret_overlap_then_switch,
         test_rotate_default_overlap_is_24h, test_test_event_reaches_only_this_endpoint,
         test_delete_with_pending_deliveries_cancels_them, test_disabled_after_failing_too_long_and_reenabled,
         test_success_in_between_resets_the_streak, test_410_disables_with_reason_and_patch_reenables,
         test_attempt_log_bounded_by_count_and_retention, test_wrong_org_and_unknown_ids_are_404_everywhere,
         test_processes_healthy_at_the_end])
