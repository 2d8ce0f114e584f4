"""Compatibility (SPEC 4a, issue 9): hookq speaks each seed CRM's existing
webhook contract by configuration alone. For every document in
shared/seeds/ a receiver written from that document (tests/compat/) runs as
its own process (python3 or node); hookq delivers the document's own example
event to it; the receiver must verify it, the body bytes must be what the
document shows, and the delivery must be recorded delivered in Redis. Plus
the negative cases: wrong secret, signature_format none, unknown formats and
short secrets rejected, per-endpoint schedules and deployment defaults."""
import hashlib
import hmac
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import (Producer, Received, Receiver, Redis, Worker, compact, delivery_hashes, run,  # noqa: E402
                     standard_verify,
                     tmpdir, wait_for)

CAPTURE = os.environ.get("HOOKQ_COMPAT_CAPTURE")  # optional file collecting what receivers got
COMPAT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "compat")

R = Redis()
P = Producer(R)
# The deployment's default schedule: 4 attempts, 1 s apart. Endpoints below
# override it; a per-endpoint schedule must win.
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s,1s", HOOKQ_TIMEOUT="5s")


# ---------------------------------------------------------------- helpers
def RecvProc(script, *args):
    """A receiver from tests/compat/ in its own process: python3 for .py,
    node for .mjs."""
    exe = "node" if script.endswith(".mjs") else sys.executable
    return harness.ReceiverProc([exe, os.path.join(COMPAT, script)] + list(args), script, capture=CAPTURE)


def deliveries(ep_id):
    """The delivery hashes (hq:{s}:dlv:*) of one endpoint."""
    return delivery_hashes(R, ep=ep_id)


def wait_state(ep_id, st, n=1, timeout=15):
    return wait_for(lambda: (lambda d: d if len(d) >= n else None)(
        [x for x in deliveries(ep_id) if x.get("st") == st]), timeout,
        "%d %s deliveries of %s (have %r)" % (n, st, ep_id, [x.get("st") for x in deliveries(ep_id)]))


def hmac_hex(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def attempt(d, n):
    return json.loads(d["a%d" % n])


def assert_common_headers(req, typ):
    h = req["headers"]
    assert h.get("content-type") == "application/json", h
    assert h.get("x-webhook-event") == typ, h
    assert h.get("x-webhook-id"), h
    assert h.get("x-webhook-attempt") == "1", h
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", h.get("x-webhook-timestamp", "")), h


def receiver_ok(req):
    assert req["ok"] is True and req["status"] == 200, req


# ---------------------------------------------------------------- 000 BottleCRM
# The document's own lead.converted example ("…" is in the document).
BOTTLE_DATA = {
    "lead": {"id": "…", "title": "…", "email": "…"},
    "account": {"id": "…", "name": "…"},
    "contact": {"id": "…", "email": "…"},
    "opportunity": {"id": "…", "name": "…", "amount": 24000},
}


def bottlecrm_case(script, org):
    secret_file = os.path.join(tmpdir(), "secret")
    rc = RecvProc(script, "@" + secret_file)
    ep = P.endpoint(org, rc.url("/webhooks/bottlecrm"), events=["lead.created", "lead.converted", "opportunity.won"],
                    signature_header="X-BottleCRM-Signature")
    assert ep["secret"].startswith("whsec_"), ep  # "shown once when you create the webhook"
    with open(secret_file, "w") as f:
        f.write(ep["secret"])
    j = P.publish(org, "lead.converted", BOTTLE_DATA, id="evt_1a2b3c", created_at="2026-04-12T15:32:11Z")
    assert j["deliveries"] == 1, j
    req = rc.wait(1)[0]
    receiver_ok(req)
    expected = (b'{"id":"evt_1a2b3c","type":"lead.converted","created_at":"2026-04-12T15:32:11Z","org_id":"'
                + org.encode() + b'","data":' + compact(BOTTLE_DATA) + b"}")
    assert req["body"] == expected, (req["body"], expected)
    h = req["headers"]
    assert h["x-bottlecrm-signature"] == "sha256=" + hmac_hex(ep["secret"], expected), h
    assert "x-webhook-signature" not in h, h  # renamed, not duplicated
    assert_common_headers(req, "lead.converted")
    assert h["x-webhook-id"] == "evt_1a2b3c", h
    d = wait_state(ep["id"], "delivered")
    assert d[0]["n"] == "1", d
    # the UI's "Send test event": a synthetic event of a subscribed type, also verified
    st, j = P.api("POST", "/v1/endpoints/%s/test" % ep["id"], {"type": "opportunity.won"})
    assert st in (200, 202), (st, j)
    req = rc.wait(2)[1]
    receiver_ok(req)
    assert json.loads(req["body"])["type"] == "opportunity.won", req["body"]
    rc.close()


def test_000_bottlecrm_python_verifier():
    bottlecrm_case("bottlecrm_receiver.py", "ab12-cd34-py")


def test_000_bottlecrm_node_verifier():
    bottlecrm_case("bottlecrm_receiver.mjs", "ab12-cd34-node")


def test_000_wrong_secret_is_401_and_not_delivered():
    for script in ("bottlecrm_receiver.py", "bottlecrm_receiver.mjs"):
        org = "bottle-wrong-" + script.rsplit(".", 1)[1]
        rc = RecvProc(script, "whsec_not-the-secret-of-this-endpoint")
        ep = P.endpoint(org, rc.url(), events=["*"], signature_header="X-BottleCRM-Signature", retry_schedule="1s")
        P.publish(org, "lead.converted", BOTTLE_DATA)
        reqs = rc.wait(2)
        assert all(r["status"] == 401 and r["ok"] is False for r in reqs), reqs
        d = wait_state(ep["id"], "dead")[0]
        assert d["n"] == "2", d
        assert attempt(d, 1)["http_status"] == 401 and attempt(d, 2)["http_status"] == 401, d
        assert not [x for x in deliveries(ep["id"]) if x["st"] == "delivered"]
        rc.close()


# ---------------------------------------------------------------- 001 SalesOS
SALESOS_SCHEDULE = "1m,5m,30m,2h,24h"


def schedule_seconds(text):
    """"1m,5m,30m,2h,24h" -> [60, 300, 1800, 7200, 86400]: GET may print a
    step in another unit (24h as 1d); the schedule must be the same."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    out = []
    for step in text.split(","):
        m = re.match(r"^\s*(\d+(?:\.\d+)?)(ms|s|m|h|d)\s*$", step)
        assert m, (text, step)
        out.append(float(m.group(1)) * units[m.group(2)])
    return out


def salesos_endpoint(org, url, **kw):
    return P.endpoint(org, url, events=["lead.*", "contact.*", "opportunity.*"],
                      retry_schedule=SALESOS_SCHEDULE, timeout_ms=30000, **kw)


def test_001_salesos_signed_and_delivered():
    secret_file = os.path.join(tmpdir(), "secret")
    rc = RecvProc("salesos_receiver.py", "@" + secret_file)
    ep = salesos_endpoint("salesos-org", rc.url())
    with open(secret_file, "w") as f:
        f.write(ep["secret"])
    st, j = P.api("GET", "/v1/endpoints/" + ep["id"])
    assert st == 200, (st, j)
    assert schedule_seconds(j["retry_schedule"]) == schedule_seconds(SALESOS_SCHEDULE), j
    assert j["timeout_ms"] == 30000, j
    assert "secret" not in j, j
    data = {"lead": {"id": "ld_8842", "name": "Acme GmbH", "email": "ops@acme.example"}}
    P.publish("salesos-org", "lead.created", data, id="evt_salesos_1", created_at="2026-04-12T15:32:11Z")
    req = rc.wait(1)[0]
    receiver_ok(req)
    assert req["body"] == (b'{"id":"evt_salesos_1","type":"lead.created","created_at":"2026-04-12T15:32:11Z",'
                           b'"org_id":"salesos-org","data":' + compact(data) + b"}"), req["body"]
    assert_common_headers(req, "lead.created")
    wait_state(ep["id"], "delivered")
    rc.close()


def test_001_salesos_schedule_drives_first_retry():
    """Retry 1 after 1 minute (not the worker's 1 s default): the failed
    delivery is parked ~60 s (+-10 %) ahead."""
    rc = Receiver(lambda req: (500, {}, b"down"))
    ep = salesos_endpoint("salesos-retry", rc.url())
    P.publish("salesos-retry", "lead.created", {"lead": {"id": "ld_1"}})
    rc.wait(1)
    d = wait_state(ep["id"], "retrying")[0]
    left = int(d["due"]) / 1000.0 - time.time()
    assert 50 <= left <= 67, (left, d)
    time.sleep(1.5)  # the worker's default (1 s) must not apply
    assert rc.count() == 1, rc.count()
    rc.close()


def test_001_salesos_30s_timeout_allows_slow_receiver():
    """"Your endpoint must respond with a 2xx status code within 30 seconds":
    timeout_ms 30000 lets a 6 s answer succeed although the worker's
    HOOKQ_TIMEOUT is 5 s."""
    rc = Receiver(lambda req: (time.sleep(6), (200, {}, b"ok"))[1])
    ep = salesos_endpoint("salesos-slow", rc.url())
    P.publish("salesos-slow", "lead.created", {"lead": {"id": "ld_2"}})
    d = wait_state(ep["id"], "delivered", timeout=20)[0]
    assert d["n"] == "1", d
    rc.close()


def test_per_endpoint_schedule_drives_retries():
    """retry_schedule "2s" on the endpoint: exactly 2 attempts ~2 s apart,
    then dead - although the worker's default is 1s,1s,1s (4 attempts)."""
    rc = Receiver(lambda req: (500, {}, b""))
    ep = P.endpoint("sched-org", rc.url(), events=["*"], retry_schedule="2s")
    st, j = P.api("GET", "/v1/endpoints/" + ep["id"])
    assert schedule_seconds(j["retry_schedule"]) == [2], j
    P.publish("sched-org", "a.b", {})
    reqs = rc.wait(2, timeout=15)
    gap = reqs[1].time - reqs[0].time
    assert 1.75 <= gap <= 3.0, gap
    wait_state(ep["id"], "dead")
    time.sleep(2.5)
    assert rc.count() == 2, rc.count()
    rc.close()


# ---------------------------------------------------------------- 002 Bolten
def test_002_bolten_auth_options():
    modes = [
        ("none", (), {"type": "none"}),
        ("basic", ("bolten-user", "p@ss:w0rd"), {"type": "basic", "username": "bolten-user", "password": "p@ss:w0rd"}),
        ("api_key", ("YOUR_SECRET_KEY",), {"type": "api_key", "key": "YOUR_SECRET_KEY"}),
        ("bearer", ("tok-bolten-9",), {"type": "bearer", "token": "tok-bolten-9"}),
    ]
    rcs, eps = [], []
    for mode, creds, auth in modes:
        rc = RecvProc("bolten_receiver.py", mode, *creds)
        eps.append(P.endpoint("bolten-org", rc.url("/bolten/" + mode), name="Slack Notifications for Won Deals",
                              events=["opportunity.won", "opportunity.transitioned"], auth=auth))
        rcs.append(rc)
    data = {"opportunity": {"id": 981, "title": "Website redesign", "value": 12000.5, "stage": "Won"},
            "contact": {"name": "Maria", "email": "maria@example.com"}}
    j = P.publish("bolten-org", "opportunity.won", data)
    assert j["deliveries"] == 4, j
    for (mode, _, _), rc, ep in zip(modes, rcs, eps):
        req = rc.wait(1)[0]
        assert req["ok"] and req["status"] == 200, (mode, req)
        assert json.loads(req["body"])["data"] == data, (mode, req["body"])
        assert_common_headers(req, "opportunity.won")
        wait_state(ep["id"], "delivered")
        rc.close()
    # the wrong key is refused and the delivery is not counted delivered
    rc = RecvProc("bolten_receiver.py", "api_key", "THE_RIGHT_KEY")
    ep = P.endpoint("bolten-bad", rc.url(), events=["*"], auth={"type": "api_key", "key": "A_WRONG_KEY"},
                    retry_schedule="1s")
    P.publish("bolten-bad", "opportunity.won", data)
    assert all(r["status"] == 401 for r in rc.wait(2)), rc.reqs
    d = wait_state(ep["id"], "dead")[0]
    assert attempt(d, 1)["http_status"] == 401, d
    rc.close()


# ---------------------------------------------------------------- 003 event catalogue
# The document's lead.created example, verbatim (the e-mail address is as the
# published page shows it).
DOC_003_LEAD_CREATED = """{
  "event": "lead.created",
  "timestamp": "2025-01-15T10:30:00.000Z",
  "payload": {
    "id": "ld_abc123",
    "name": "Jane Smith",
    "mobile": "+1234567890",
    "email": "[email protected]",
    "secondaryMobile": null,
    "title": "Product Demo Request",
    "value": 5000,
    "source": "Website",
    "createdAt": "2025-01-15T10:30:00.000Z",
    "website": null,
    "archived": false,
    "stage": "New",
    "stageId": 1,
    "customFields": {},
    "ownerId": 42,
    "ownerName": "John Doe"
  }
}"""
DOC_003_FORM_RESPONSE = """{
  "event": "form.response.created",
  "timestamp": "2025-01-15T10:30:00.000Z",
  "payload": {
    "id": "rec_mno678",
    "formId": "frm_pqr901",
    "data": {
      "name": "Jane Smith",
      "email": "[email protected]",
      "message": "I'd like to learn more about your services."
    },
    "createdAt": "2025-01-15T10:30:00.000Z"
  }
}"""


def test_003_event_payload_envelope():
    rc = RecvProc("eventcatalogue_receiver.py")
    ep = P.endpoint("catalogue-org", rc.url(), events=["lead.*", "form.*"], payload_format="event_payload")
    st, j = P.api("GET", "/v1/endpoints/" + ep["id"])
    assert j["payload_format"] == "event_payload", j
    doc = json.loads(DOC_003_LEAD_CREATED)
    P.publish("catalogue-org", doc["event"], doc["payload"], created_at="2025-01-15T10:30:00Z")
    req = rc.wait(1)[0]
    receiver_ok(req)
    # byte for byte the document's example, compacted
    assert req["body"] == compact(doc), (req["body"], compact(doc))
    assert_common_headers(req, "lead.created")
    assert req["headers"]["x-webhook-signature"] == "sha256=" + hmac_hex(ep["secret"], req["body"]), req["headers"]
    assert standard_verify(ep["secret"], Received("POST", req["path"], list(req["headers"].items()), req["body"]))
    # camelCase and multi-segment types, created_at with and without millis
    P.publish("catalogue-org", "lead.stageChanged", dict(doc["payload"], stage="Qualified", stageId=2),
              created_at="2025-01-15T10:30:00.123Z")
    form = json.loads(DOC_003_FORM_RESPONSE)
    P.publish("catalogue-org", form["event"], form["payload"], created_at="2025-01-15T10:30:00Z")
    P.publish("catalogue-org", "lead.updated", doc["payload"])  # created_at defaults to now
    reqs = rc.wait(4)
    for r in reqs:
        receiver_ok(r)
    by = {json.loads(r["body"])["event"]: r for r in reqs}
    assert json.loads(by["lead.stageChanged"]["body"])["timestamp"] == "2025-01-15T10:30:00.123Z", by
    assert by["form.response.created"]["body"] == compact(form), by["form.response.created"]["body"]
    wait_state(ep["id"], "delivered", n=4)
    rc.close()


# ---------------------------------------------------------------- 004 ConnectGain
CG_SECRET = "your-secret-here"  # the document's own example secret: exactly 16 characters
CG_DATA = {"id": "uuid-here", "first_name": "John", "last_name": "Doe", "organization_id": "org-uuid"}


def connectgain_endpoint(org, url, **kw):
    fields = dict(name="My Integration", events=["contact.created", "deal.stage.changed"],
                  payload_format="event_data", signature_format="hex", secret=CG_SECRET, timeout_ms=5000,
                  is_active=True)
    fields.update(kw)
    return P.endpoint(org, url, **fields)


def test_004_connectgain_node_and_python():
    rcs = [RecvProc("connectgain_receiver.mjs", CG_SECRET), RecvProc("connectgain_receiver.py", CG_SECRET)]
    eps = [connectgain_endpoint("connectgain-org", rc.url("/webhooks")) for rc in rcs]
    assert eps[0]["secret"] == CG_SECRET, eps[0]
    st, j = P.api("GET", "/v1/endpoints/" + eps[0]["id"])
    assert (j["payload_format"], j["signature_format"], j["timeout_ms"]) == ("event_data", "hex", 5000), j
    P.publish("connectgain-org", "contact.created", CG_DATA, created_at="2024-01-15T10:30:00Z")
    expected = b'{"event":"contact.created","timestamp":"2024-01-15T10:30:00Z","data":' + compact(CG_DATA) + b"}"
    for rc in rcs:
        req = rc.wait(1)[0]
        receiver_ok(req)
        assert req["body"] == expected, (rc.name, req["body"], expected)
        h = req["headers"]
        assert h["x-webhook-signature"] == hmac_hex(CG_SECRET, expected), h  # bare hex
        # a user-chosen secret keys the Standard Webhooks signature with its raw bytes
        assert standard_verify(CG_SECRET, Received("POST", req["path"], list(h.items()), req["body"])), h
        assert_common_headers(req, "contact.created")
    # a deal.stage.changed event and the "Testing Webhooks" test event
    P.publish("connectgain-org", "deal.stage.changed", {"id": "deal-uuid", "stage": {"from": "New", "to": "Won"}})
    for ep in eps:
        st, j = P.api("POST", "/v1/endpoints/%s/test" % ep["id"], {"type": "contact.created"})
        assert st in (200, 202), (st, j)
    for rc in rcs:
        reqs = rc.wait(3)
        for r in reqs:
            receiver_ok(r)
            body = json.loads(r["body"])
            assert list(body) == ["event", "timestamp", "data"], body
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", body["timestamp"]), body
    for ep in eps:
        wait_state(ep["id"], "delivered", n=3)
    for rc in rcs:
        rc.close()


def test_004_reserialising_verifier_strings_and_numbers():
    """The Node verifier hashes JSON.stringify(JSON.parse(body)); SPEC 4a:
    hookq's body already is that, for any data the CRM publishes."""
    rc = RecvProc("connectgain_receiver.mjs", CG_SECRET)
    ep = connectgain_endpoint("cg-edge", rc.url(), events=["*"], retry_schedule="1s")
    raw = ('{"type":"contact.updated","org_id":"cg-edge","data":{'
           '"name":"Zo\\u00eb \u4e2d\u6587 \U0001F600","path":"a\\/b","html":"</script>","ls":"x\\u2028y",'
           '"ctl":"\\u0001\\n\\t\\"\\\\","int":24000,"f":1.5,"tenth":0.1,"one":1.0,"e3":1e3,"big":1e21,"small":1e-7,'
           '"huge":123456789012345678901234567890,"neg":-0.0,"arr":[true,false,null,{}],"obj":{"z":1,"a":2}}}')
    st, j, _, _ = P.request("POST", "/v1/events", raw=raw.encode())
    assert st == 202, (st, j)
    req = rc.wait(1)[0]
    assert req["ok"] and req.get("canonical") is True, (req, req["body"])
    wait_state(ep["id"], "delivered")
    rc.close()


def test_004_reserialising_verifier_integer_like_keys():
    """JS orders integer-like keys first, ascending; a body with
    {"b":..,"10":..,"2":..} re-serialises to {"2":..,"10":..,"b":..}.
    SPEC 4a wants the body to equal JSON.stringify(JSON.parse(body))."""
    rc = RecvProc("connectgain_receiver.mjs", CG_SECRET)
    ep = connectgain_endpoint("cg-keys", rc.url(), events=["*"], retry_schedule="1s")
    raw = b'{"type":"contact.updated","org_id":"cg-keys","data":{"b":1,"10":2,"2":3,"a":{"1":"x","0":"y"}}}'
    st, j, _, _ = P.request("POST", "/v1/events", raw=raw)
    assert st == 202, (st, j)
    req = rc.wait(1)[0]
    assert req["ok"] and req.get("canonical") is True, (req, req["body"])
    wait_state(ep["id"], "delivered")
    rc.close()


def test_deployment_defaults_reproduce_connectgain():
    """A whole deployment for ConnectGain: HOOKQ_PAYLOAD_FORMAT=event_data,
    HOOKQ_SIGNATURE_FORMAT=hex on the producer; the endpoint JSON carries
    only the user's secret."""
    p2 = Producer(R, HOOKQ_PAYLOAD_FORMAT="event_data", HOOKQ_SIGNATURE_FORMAT="hex",
                  HOOKQ_SIGNATURE_HEADER="X-Webhook-Signature")
    rc = RecvProc("connectgain_receiver.py", CG_SECRET)
    ep = p2.endpoint("cg-deploy", rc.url(), events=["contact.created"], secret=CG_SECRET)
    st, j = p2.api("GET", "/v1/endpoints/" + ep["id"])
    assert (j["payload_format"], j["signature_format"], j["signature_header"]) == \
        ("event_data", "hex", "X-Webhook-Signature"), j
    p2.publish("cg-deploy", "contact.created", CG_DATA, created_at="2024-01-15T10:30:00Z")
    req = rc.wait(1)[0]
    receiver_ok(req)
    assert req["body"] == b'{"event":"contact.created","timestamp":"2024-01-15T10:30:00Z","data":' + \
        compact(CG_DATA) + b"}", req["body"]
    wait_state(ep["id"], "delivered")
    # another header name from the deployment default
    p3 = Producer(R, HOOKQ_SIGNATURE_HEADER="X-BottleCRM-Signature")
    secret_file = os.path.join(tmpdir(), "secret")
    rc2 = RecvProc("bottlecrm_receiver.py", "@" + secret_file)
    ep2 = p3.endpoint("bottle-deploy", rc2.url(), events=["*"])
    with open(secret_file, "w") as f:
        f.write(ep2["secret"])
    p3.publish("bottle-deploy", "lead.converted", BOTTLE_DATA)
    receiver_ok(rc2.wait(1)[0])
    rc.close()
    rc2.close()
    p2.stop()
    p3.stop()


# ---------------------------------------------------------------- negative cases
def test_signature_format_none_omits_the_header():
    rc = Receiver()
    P.endpoint("nosig-org", rc.url("/plain"), events=["*"], signature_format="none")
    P.endpoint("nosig-org", rc.url("/renamed"), events=["*"], signature_format="none",
               signature_header="X-BottleCRM-Signature")
    P.publish("nosig-org", "contact.created", CG_DATA)
    by = {r.path: r for r in rc.wait(2)}
    for path, r in by.items():
        assert r.header("X-Webhook-Signature") is None, (path, r.headers)
        assert r.header("X-BottleCRM-Signature") is None, (path, r.headers)
        for h in ("X-Webhook-Id", "X-Webhook-Event", "X-Webhook-Timestamp", "X-Webhook-Attempt"):
            assert r.header(h), (path, h, r.headers)
    rc.close()


def test_unknown_formats_are_422_naming_the_field():
    cases = [({"payload_format": "xml"}, "payload_format"), ({"payload_format": "EVENT_DATA"}, "payload_format"),
             ({"payload_format": 1}, "payload_format"), ({"signature_format": "base64"}, "signature_format"),
             ({"signature_format": "sha1=hex"}, "signature_format"), ({"signature_format": ""}, "signature_format")]
    for fields, name in cases:
        body = {"org_id": "bad-org", "url": "http://127.0.0.1:1/x", "events": ["*"]}
        body.update(fields)
        st, j = P.api("POST", "/v1/endpoints", body)
        assert st == 422, (fields, st, j)
        assert name in json.dumps(j["error"]), (fields, j)
    ep = P.endpoint("bad-org", "http://127.0.0.1:1/x", events=["*"])
    st, j = P.api("PATCH", "/v1/endpoints/" + ep["id"], {"signature_format": "base64"})
    assert st == 422 and "signature_format" in json.dumps(j["error"]), (st, j)


def test_secret_rules():
    url = "http://127.0.0.1:1/x"
    for bad in ("0123456789abcde", "", "has a tab\tin it!!!", "é-not-ascii-secret-123", "x" * 257, 12345678901234567):
        st, j = P.api("POST", "/v1/endpoints", {"org_id": "sec-org", "url": url, "events": ["*"], "secret": bad})
        assert st == 422, (bad, st, j)
        assert "secret" in json.dumps(j["error"]), (bad, j)
    for good in ("0123456789abcdef", "x" * 256, CG_SECRET):
        ep = P.endpoint("sec-org", url, events=["*"], secret=good)
        assert ep["secret"] == good, ep
    # and on rotate
    st, j = P.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], {"secret": "short"})
    assert st == 422 and "secret" in json.dumps(j["error"]), (st, j)
    st, j = P.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], {"secret": "a-new-secret-of-mine"})
    assert st in (200, 201) and j["secret"] == "a-new-secret-of-mine", (st, j)


if __name__ == "__main__":
    run([test_000_bottlecrm_python_verifier, test_000_bottlecrm_node_verifier,
         test_000_wrong_secret_is_401_and_not_delivered,
         test_001_salesos_signed_and_delivered, test_001_salesos_schedule_drives_first_retry,
         test_001_salesos_30s_timeout_allows_slow_receiver, test_per_endpoint_schedule_drives_retries,
         test_002_bolten_auth_options, test_003_event_payload_envelope,
         test_004_connectgain_node_and_python, test_004_reserialising_verifier_strings_and_numbers,
         test_004_reserialising_verifier_integer_like_keys, test_deployment_defaults_reproduce_connectgain,
         test_signature_format_none_omits_the_header, test_unknown_formats_are_422_naming_the_field,
         test_secret_rules])
