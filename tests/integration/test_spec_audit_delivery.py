"""SPEC 4, 4a and 7 audited from outside: what a receiver sees. Each seed
document in shared/seeds/ gets a receiver written from the document alone
(its printed verifier where it gives one, in the language it gives it) and
hookq's deliveries to it are checked where the other suites do not look:
retries and test events through the document's own verifier, long
credentials, the attempt log's request headers against the wire,
Retry-After on 503 capped at the schedule's last step. Real Redis,
producer, worker and HTTP receivers on loopback; every wait is bounded."""
import base64
import hashlib
import hmac
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from harness import (Producer, Receiver, Redis, Worker, delivery_hashes, metric, run, scripted,  # noqa: E402
                     standard_verify, tmpdir, wait_for)

R = Redis()
P = Producer(R)
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s", HOOKQ_TIMEOUT="5s")


# ---------------------------------------------------------------- helpers
def NodeRecv(name, src, *args):
    """A Node receiver from the source text `src` (an ES module) in its own
    process (harness.ReceiverProc)."""
    d = tmpdir()
    with open(os.path.join(d, "serve.mjs"), "w") as f:
        f.write(NODE_SERVE)
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(src)
    return harness.ReceiverProc(["node", path] + list(args), name)


# Plumbing shared by the Node receivers: raw body, then handle(req, raw) ->
# [status, info]; one JSON line per request.
NODE_SERVE = r"""
import http from "node:http";
export function serve(handle) {
  const srv = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let status, info;
      try { [status, info] = handle(req, raw); } catch (e) { status = 500; info = { error: String(e) }; }
      console.log(JSON.stringify({ status, headers: req.headers, body_b64: raw.toString("base64"), ...info }));
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "OK" : "no");
    });
  });
  srv.listen(0, "127.0.0.1", () => console.log(String(srv.address().port)));
}
"""

# Seed 000 (BottleCRM): the document's Node.js verifier as printed; the
# receiver reads the raw body and X-BottleCRM-Signature. "BottleCRM may
# retry a delivery on 5xx": the first sight of an id is answered 503, the
# retry (same id) is verified and answered 200 or 401.
BOTTLE_NODE = r"""
import crypto from "node:crypto";
import { serve } from "./serve.mjs";
export function verify(body, header, secret) {
const expected = "sha256=" + crypto
.createHmac("sha256", secret)
.update(body)
.digest("hex");
return crypto.timingSafeEqual(
Buffer.from(expected), Buffer.from(header)
);
}
const seen = new Set();
serve((req, raw) => {
  const secret = process.argv[2];
  const header = req.headers["x-bottlecrm-signature"] || "";
  let ok = false;
  try { ok = verify(raw, header, secret); } catch (e) { ok = false; }
  const id = JSON.parse(raw.toString("utf8")).id;
  if (!seen.has(id)) { seen.add(id); return [503, { verified: ok, id }]; }
  return [ok ? 200 : 401, { verified: ok, id }];
});
"""

# Seed 004 (ConnectGain): the document's express example; express.json() is
# JSON.parse of the UTF-8 body, the HMAC is over JSON.stringify(req.body).
# "Webhooks may be retried": a body whose data has {"fail_first": true} is
# answered 500 the first time its X-Webhook-Id is seen.
CONNECTGAIN_NODE = r"""
import crypto from "node:crypto";
import { serve } from "./serve.mjs";
const seen = new Set();
serve((req, raw) => {
  req.body = JSON.parse(raw.toString("utf8"));
  const signature = req.headers['x-webhook-signature'];
  const secret = process.argv[2];
  const hmac = crypto.createHmac('sha256', secret);
  hmac.update(JSON.stringify(req.body));
  const computedSignature = hmac.digest('hex');
  if (signature !== computedSignature) {
    return [401, { verified: false }];
  }
  const { event, data } = req.body;
  const id = req.headers['x-webhook-id'];
  if (data && data.fail_first && !seen.has(id)) { seen.add(id); return [500, { verified: true, event }]; }
  return [200, { verified: true, event }];
});
"""


def states(ep_id):
    return [h.get("st") for h in delivery_hashes(R, ep=ep_id)]


def wait_state(ep_id, st, n=1, timeout=20):
    return wait_for(lambda: (lambda d: d if len(d) >= n else None)(
        [h for h in delivery_hashes(R, ep=ep_id) if h.get("st") == st]), timeout,
        "%d %s deliveries of %s (have %r)" % (n, st, ep_id, states(ep_id)))


def bottle_verify(body_bytes, header, secret):
    """Seed 000's Python verifier, as printed."""
    expected = "sha256=" + hmac.new(
        secret.encode(), body_bytes, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, header)


TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


# ---------------------------------------------------------------- 002 Bolten
def test_002_bolten_long_bearer_token_is_sent_whole():
    """Bolten: "Authorization: Bearer <token>". The API accepts tokens up to
    4096 characters (a JWT is often 1-2 KB); the receiver compares the
    header with the token it issued, so any cut is a 401 on every attempt."""
    for n in (1100, 4096):
        token = "eyJhbGciOiJIUzI1NiJ9." + "x" * (n - 21)
        assert len(token) == n
        rc = Receiver(lambda req, t=token: (200, {}, b"ok") if req.header("Authorization") == "Bearer " + t
                      else (401, {}, b"bad token"))
        org = "bolten-jwt-%d" % n
        ep = P.endpoint(org, rc.url("/bolten"), events=["opportunity.won"], auth={"type": "bearer", "token": token},
                        retry_schedule="1s")
        P.publish(org, "opportunity.won", {"opportunity": {"id": 981}})
        req = rc.wait(1)[0]
        got = req.header("Authorization") or ""
        assert got == "Bearer " + token, (n, len(got))
        wait_state(ep["id"], "delivered")
        rc.close()


def test_002_bolten_long_api_key_and_basic_credentials_are_sent_whole():
    """The other two options at the API's 4096-character limit."""
    key, user, pw = "K" * 4096, "u" * 2000, "p:" * 2048
    rc = Receiver()
    P.endpoint("bolten-long", rc.url("/key"), events=["*"], auth={"type": "api_key", "key": key})
    P.endpoint("bolten-long", rc.url("/basic"), events=["*"], auth={"type": "basic", "username": user, "password": pw})
    P.publish("bolten-long", "opportunity.won", {})
    by = {r.path: r for r in rc.wait(2)}
    assert by["/key"].header("X-API-KEY") == key
    assert by["/basic"].header("Authorization") == "Basic " + base64.b64encode((user + ":" + pw).encode()).decode()
    rc.close()


# ---------------------------------------------------------------- custom headers
def test_attempt_log_request_headers_are_what_was_sent():
    """SPEC 4: custom static headers; the attempt record lists the request
    headers. A custom header configured with a blank value ({"X-Flag": ""},
    accepted by the API) is not sent (libcurl drops a blank header), so the
    record must not list it either: every header the record lists (secrets
    aside) reached the receiver with that value, and every custom header
    the receiver got is in the record."""
    rc = Receiver()
    ep = P.endpoint("hdr-empty", rc.url("/h"), events=["*"], headers={"X-Flag": "", "X-Blank": "  ", "X-Team": "sales"})
    P.publish("hdr-empty", "a.b", {"n": 1})
    req = rc.wait(1)[0]
    assert req.header("X-Team") == "sales", req.headers
    d = wait_state(ep["id"], "delivered")[0]
    logged = json.loads(d["a1"])["request_headers"]
    for k, v in logged.items():
        if v != "[redacted]":
            assert req.header(k) == v, (k, v, req.headers, logged)
    got = {k.lower() for k, _ in req.headers} - {"host", "content-length"}
    assert got == {k.lower() for k in logged}, (got, logged)
    rc.close()


# ---------------------------------------------------------------- 000 BottleCRM
BOTTLE_DATA = {"lead": {"id": "ld_1", "title": "Zoë 中文 😀", "email": "a/b@example.com"},
               "opportunity": {"id": "op_1", "name": "</script>", "amount": 24000, "big": 12345678901234567890}}


def test_000_bottlecrm_verifiers_on_retries_and_test_event():
    """BottleCRM retries on 5xx; every attempt carries the same body and
    X-BottleCRM-Signature (id for de-duplication), a fresh
    X-Webhook-Timestamp and a Standard Webhooks signature over that
    attempt's timestamp. The document's Node verifier (raw body) accepts
    the retry; its Python verifier accepts every attempt; the Send test
    event delivery goes through the same path."""
    ep = P.endpoint("bottle-audit", "http://127.0.0.1:1/x", events=["lead.converted", "opportunity.won"],
                    signature_header="X-BottleCRM-Signature")
    rc = NodeRecv("bottle.mjs", BOTTLE_NODE, ep["secret"])  # the secret shown once, at creation
    st, j = P.api("PATCH", "/v1/endpoints/" + ep["id"], {"url": rc.url("/webhooks/bottlecrm")})
    assert st == 200, (st, j)
    P.publish("bottle-audit", "lead.converted", BOTTLE_DATA, id="evt_bottle_r1", created_at="2026-04-12T15:32:11Z")
    reqs = rc.wait(2)
    assert [r["status"] for r in reqs] == [503, 200], reqs
    assert all(r["verified"] for r in reqs), reqs
    assert reqs[0]["body"] == reqs[1]["body"]
    h1, h2 = reqs[0]["headers"], reqs[1]["headers"]
    assert h1["x-bottlecrm-signature"] == h2["x-bottlecrm-signature"]
    assert (h1["x-webhook-attempt"], h2["x-webhook-attempt"]) == ("1", "2"), (h1, h2)
    assert h1["x-webhook-id"] == h2["x-webhook-id"] == h1["webhook-id"] == "evt_bottle_r1"
    for r in reqs:
        h = r["headers"]
        assert bottle_verify(r["body"], h["x-bottlecrm-signature"], ep["secret"]), h
        assert TS_RE.match(h["x-webhook-timestamp"]), h
        assert standard_verify(ep["secret"], harness.Received("POST", "/", list(h.items()), r["body"])), h
    # the data as JavaScript reads and writes it: 12345678901234567890 is the double 12345678901234567000
    exp = dict(BOTTLE_DATA, opportunity=dict(BOTTLE_DATA["opportunity"], big=12345678901234567000))
    assert json.loads(reqs[1]["body"])["data"] == exp, reqs[1]["body"]
    wait_state(ep["id"], "delivered")
    # Send test event: a synthetic payload for a subscribed type
    st, j = P.api("POST", "/v1/endpoints/%s/test" % ep["id"], {"type": "opportunity.won"})
    assert st == 202, (st, j)
    reqs = rc.wait(4)
    assert [r["status"] for r in reqs[2:]] == [503, 200] and all(r["verified"] for r in reqs), reqs
    body = json.loads(reqs[3]["body"])
    assert list(body) == ["id", "type", "created_at", "org_id", "data"] and body["type"] == "opportunity.won", body
    assert body["id"] == j["id"] and body["org_id"] == "bottle-audit", body
    rc.close()


# ---------------------------------------------------------------- 003 event catalogue
def test_003_event_payload_identical_across_retries_with_millis():
    """{"event","timestamp","payload"}: the timestamp is the event's time
    with milliseconds, so a retry carries the same one (not the attempt's
    time); camelCase and multi-segment types; nested data passed through."""
    rc = Receiver(scripted([500, 502]))
    ep = P.endpoint("catalogue-audit", rc.url(), events=["deal.*", "form.*"], payload_format="event_payload",
                    retry_schedule="1s,1s")
    payload = {"id": "rec_1", "formId": "frm_1", "data": {"name": "Jane", "nested": {"a": [1, {"b": None}]}},
               "createdAt": "2025-01-15T10:30:00.000Z"}
    P.publish("catalogue-audit", "form.response.created", payload, created_at="2025-01-15T10:30:00.042Z")
    reqs = rc.wait(3)
    exp = (b'{"event":"form.response.created","timestamp":"2025-01-15T10:30:00.042Z","payload":'
           + json.dumps(payload, separators=(",", ":")).encode() + b"}")
    assert all(r.body == exp for r in reqs), [r.body for r in reqs]
    assert [r.header("X-Webhook-Attempt") for r in reqs] == ["1", "2", "3"]
    assert all(r.header("X-Webhook-Event") == "form.response.created" for r in reqs)
    wait_state(ep["id"], "delivered")
    st, j = P.api("POST", "/v1/endpoints/%s/test" % ep["id"], {"type": "deal.stageChanged"})
    assert st == 202, (st, j)
    r = rc.wait(4)[3]
    body = json.loads(r.body)
    assert list(body) == ["event", "timestamp", "payload"] and body["event"] == "deal.stageChanged", body
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", body["timestamp"]), body
    rc.close()


# ---------------------------------------------------------------- 004 ConnectGain
CG_SECRET = "your-secret-here"


def test_004_connectgain_express_verifier_on_retry_and_test_event():
    """The document's express verifier (HMAC over JSON.stringify(req.body))
    on a retried delivery whose data has unicode, escaped slashes, big and
    float numbers and nesting, and on the test event; with no secret
    configured (signature_format none) the header is not sent at all."""
    rc = NodeRecv("connectgain.mjs", CONNECTGAIN_NODE, CG_SECRET)
    ep = P.endpoint("cg-audit", rc.url(), events=["contact.created", "deal.stage.changed"], payload_format="event_data",
                    signature_format="hex", secret=CG_SECRET, timeout_ms=5000, retry_schedule="1s")
    raw = ('{"type":"deal.stage.changed","org_id":"cg-audit","created_at":"2024-01-15T10:30:00Z","data":'
           '{"fail_first":true,"id":"d\\/1","name":"Zo\\u00eb \u4e2d","amount":1.50,"big":9007199254740993,'
           '"e":1E3,"stage":{"from":"New","to":"Won","path":["a","b"]}}}')
    st, j, _, _ = P.request("POST", "/v1/events", raw=raw.encode())
    assert st == 202, (st, j)
    reqs = rc.wait(2)
    assert [r["status"] for r in reqs] == [500, 200] and all(r["verified"] for r in reqs), reqs
    assert reqs[0]["body"] == reqs[1]["body"]
    assert reqs[1]["body"].startswith(b'{"event":"deal.stage.changed","timestamp":"2024-01-15T10:30:00Z","data":'), \
        reqs[1]["body"]
    for r in reqs:
        assert r["headers"]["x-webhook-event"] == "deal.stage.changed"
        assert TS_RE.match(r["headers"]["x-webhook-timestamp"]), r["headers"]
    wait_state(ep["id"], "delivered")
    st, j = P.api("POST", "/v1/endpoints/%s/test" % ep["id"], {"type": "contact.created"})
    assert st == 202, (st, j)
    r = rc.wait(3)[2]
    assert r["status"] == 200 and r["verified"] and r["event"] == "contact.created", r
    rc.close()
    # "X-Webhook-Signature: HMAC signature (if secret is set)"
    plain = Receiver()
    P.endpoint("cg-nosecret", plain.url(), events=["contact.created"], payload_format="event_data",
               signature_format="none")
    P.publish("cg-nosecret", "contact.created", {"id": "c1"})
    req = plain.wait(1)[0]
    assert req.header("X-Webhook-Signature") is None, req.headers
    assert req.header("X-Webhook-Event") == "contact.created" and TS_RE.match(req.header("X-Webhook-Timestamp"))
    plain.close()


class EarlyAnswer:
    """A receiver that answers as soon as it has the request head, without
    reading the body, and closes: what a naive handler does, and what any
    server does that refuses a request early (401, 410, 413). Closing with
    the body unread makes the kernel reset the connection while the worker
    is still sending a large body; the answer was sent first."""

    def __init__(self, status):
        self.status, self.count = status, 0
        self.srv = harness.RawServer(self._answer, threaded=False, backlog=16)

    def _answer(self, c):
        harness.read_head(c)           # the head only: the body stays unread
        self.count += 1
        c.sendall(b"HTTP/1.1 %d Answer\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope" % self.status)
        c.close()

    def url(self):
        return "http://127.0.0.1:%d/early" % self.srv.port

    def close(self):
        self.srv.close()


def test_early_answer_before_the_body_is_read_is_the_outcome():
    """SPEC 4: 2xx delivered, 410 disables the endpoint, any other status is
    recorded. A receiver that answers before reading a large body (and so
    resets the connection) still answered: its status decides, as with
    curl(1), not a transport error. (When the reset reaches the worker
    between its poll and its next send, libcurl fails the send before it
    reads: "Send failure", and the next attempt answers; rare, more so on a
    busy box. So the outcome is judged on the last attempt, of three.)"""
    big = {"pad": "x" * 200000}
    for status in (200, 401, 410):
        rc = EarlyAnswer(status)
        org = "early-%d" % status
        ep = P.endpoint(org, rc.url(), events=["*"], retry_schedule="1s,1s")
        P.publish(org, "a.b", big)
        want = "delivered" if status == 200 else "dead"
        d = wait_state(ep["id"], want, timeout=40)[0]
        tries = [json.loads(d["a%d" % i]) for i in range(1, int(d["n"]) + 1)]
        # each attempt got the answer, or lost the race above; never "select/poll returned error" (the
        # answer dropped on the poll's error, before the fix)
        for a in tries:
            assert a["http_status"] == status or (a["error"] or "").startswith("Send failure"), \
                (status, a["http_status"], a["error"], a["class"])
        assert tries[-1]["http_status"] == status, tries
        if status == 410:
            st, j = P.api("GET", "/v1/endpoints/" + ep["id"])
            assert j["is_active"] is False and rc.count == int(d["n"]), (j, rc.count, d["n"])
        rc.close()


# ---------------------------------------------------------------- SPEC 4 outcomes
def test_503_retry_after_is_capped_at_the_last_step():
    """429/503 with Retry-After: retry no earlier than it says, capped at
    the schedule's last step: an hour asked, a 2 s last step given, so the
    retry comes (bounded wait) and the delivery is delivered."""
    rc = Receiver(scripted([503], {"Retry-After": "3600"}))
    ep = P.endpoint("ra-cap", rc.url(), events=["*"], retry_schedule="1s,2s")
    P.publish("ra-cap", "a.b", {})
    reqs = rc.wait(2, timeout=30)
    assert reqs[1].header("X-Webhook-Attempt") == "2"
    assert reqs[1].time - reqs[0].time >= 1.75, reqs[1].time - reqs[0].time  # not before the (capped) ask
    wait_state(ep["id"], "delivered")
    rc.close()


def test_idle_endpoint_takes_a_burst_without_deferring():
    """SPEC 7 (one slow endpoint never slows the others, and a fast one is
    not taken for slow): a healthy endpoint that sat idle gets a burst far
    larger than its concurrency. The worker's pace estimate used to count
    the idle time as one long attempt (time since the last attempt ended,
    once every slot was busy), so most of the burst was handed back to the
    retry set for up to a minute. Own Redis and worker: 4 slots per
    endpoint, so a burst of 100 needs the pace to be right (a 4 s attempt
    allows 8 waiting; the receiver's real pace, thousands)."""
    r = Redis()
    p = Producer(r)
    w = Worker(r, "worker-idle", HOOKQ_ENDPOINT_CONCURRENCY="4")
    rcv = Receiver()

    def deferred():
        st, text = w.get("/metrics")
        assert st == 200
        return metric(text, "hookq_deferred_total")
    try:
        p.endpoint("org-idle", rcv.url("/idle"), events=["*"])
        p.publish("org-idle", "a.b", {"warm": 1})
        rcv.wait(1)
        time.sleep(4)                      # idle, far longer than any attempt
        d0 = deferred()
        st, j = p.api("POST", "/v1/events/batch",
                      {"events": [{"org_id": "org-idle", "type": "a.b", "data": {"i": i}} for i in range(100)]})
        assert st == 202, (st, j)
        rcv.wait(101, 30)
        assert deferred() == d0, "an idle healthy endpoint's burst was deferred: %d" % (deferred() - d0)
    finally:
        assert w.stop() == 0
        p.stop()
        rcv.close()
        r.kill()

if __name__ == "__main__":
    run([test_002_bolten_long_bearer_token_is_sent_whole,
         test_002_bolten_long_api_key_and_basic_credentials_are_sent_whole,
         test_attempt_log_request_headers_are_what_was_sent,
         test_000_bottlecrm_verifiers_on_retries_and_test_event,
         test_003_event_payload_identical_across_retries_with_millis,
         test_004_connectgain_express_verifier_on_retry_and_test_event,
         test_early_answer_before_the_body_is_read_is_the_outcome,
         test_503_retry_after_is_capped_at_the_last_step,
         test_idle_endpoint_takes_a_burst_without_deferring])
