"""Observability (SPEC 8): /metrics of producer and worker parsed strictly
as Prometheus text format 0.0.4 and checked against what the test did;
/healthz and /readyz through a Redis outage; the Redis monitoring keys
(worker heartbeats, the workers set, per-endpoint health); logs: JSON lines
with ts/level/msg (or human text lines), and never a secret, credential or
the API token, even at debug level."""
import base64
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BIN, TOKEN, Producer, Receiver, Redis, Worker, base_env, hgetall, run,  # noqa: E402
                     tmpdir, wait_for)
import http.client  # noqa: E402

R = Redis()
P = Producer(R, HOOKQ_LOG_LEVEL="debug")
W = Worker(R, HOOKQ_LOG_LEVEL="debug", HOOKQ_RETRY_SCHEDULE="1s")
STATE = {}


class Switch:
    def __init__(self, status=200, delay=0.0):
        self.status, self.delay = status, delay

    def __call__(self, req):
        if self.delay:
            time.sleep(self.delay)
        return self.status, {}, b"answer %d" % self.status


def http_get(host, port, path):
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        c.close()


# ---------------------------------------------------------------- strict Prometheus text 0.0.4 parser
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_float(s):
    if s in ("+Inf", "Inf"):
        return math.inf
    if s == "-Inf":
        return -math.inf
    if s == "NaN":
        return math.nan
    if not re.match(r"^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?)$", s):
        raise AssertionError("bad sample value %r" % s)
    return float(s)


def parse_labels(s, line):
    """s starts after '{'; returns (labels dict, rest after '}')."""
    labels, i = {}, 0
    while True:
        if s[i] == "}":
            return labels, s[i + 1:]
        m = re.match(r"[a-zA-Z_][a-zA-Z0-9_]*", s[i:])
        assert m, "bad label name in %r" % line
        name = m.group(0)
        i += len(name)
        assert s[i:i + 2] == '="', "expected =\" after label %s in %r" % (name, line)
        i += 2
        val = []
        while True:
            c = s[i]
            if c == "\\":
                nxt = s[i + 1]
                assert nxt in ('\\', '"', "n"), "bad escape \\%s in %r" % (nxt, line)
                val.append({"\\": "\\", '"': '"', "n": "\n"}[nxt])
                i += 2
            elif c == '"':
                i += 1
                break
            else:
                assert c != "\n", line
                val.append(c)
                i += 1
        assert name not in labels, "label %s twice in %r" % (name, line)
        assert not name.startswith("__"), line
        labels[name] = "".join(val)
        if s[i] == ",":
            i += 1
            if s[i] == "}":     # a trailing comma is allowed by the format
                continue
        else:
            assert s[i] == "}", "expected , or } in %r" % line


def parse_prometheus(text):
    """Parses exposition text strictly. Returns {family: {"type", "help",
    "samples": [(name, labels, value)]}}. Raises AssertionError on any
    deviation from the 0.0.4 text format or hookq's naming rules."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    fams, order, current = {}, [], None
    seen_series = set()

    def family_of(sample):
        for suffix in ("_bucket", "_sum", "_count"):
            if sample.endswith(suffix) and sample[:-len(suffix)] in fams and \
                    fams[sample[:-len(suffix)]]["type"] in ("histogram", "summary"):
                return sample[:-len(suffix)]
        return sample

    for line in text.split("\n")[:-1]:
        assert "\r" not in line, repr(line)
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                assert NAME.match(name), "bad metric name in %r" % line
                f = fams.setdefault(name, {"type": None, "help": None, "samples": []})
                if name not in order:
                    order.append(name)
                assert not f["samples"], "%s after samples of %s" % (parts[1], name)
                if parts[1] == "TYPE":
                    assert f["type"] is None, "TYPE of %s twice" % name
                    assert len(parts) == 4 and parts[3] in TYPES, line
                    f["type"] = parts[3]
                else:
                    assert f["help"] is None, "HELP of %s twice" % name
                    h = parts[3] if len(parts) == 4 else ""
                    assert not re.search(r"\\[^\\n]", h.replace("\\\\", "")), "bad escape in HELP %r" % line
                    f["help"] = h
                current = name
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{|\s)", line)
        assert m, "bad sample line %r" % line
        name = m.group(1)
        rest = line[len(name):]
        labels = {}
        if rest.startswith("{"):
            labels, rest = parse_labels(rest[1:], line)
        assert rest.startswith(" "), "expected a space before the value in %r" % line
        fields = rest.strip(" ").split(" ")
        assert 1 <= len(fields) <= 2 and all(fields), "bad value/timestamp in %r" % line
        value = parse_float(fields[0])
        if len(fields) == 2:
            assert re.match(r"^-?\d+$", fields[1]), line
        fam = family_of(name)
        assert fam == current or fam not in fams or fams[fam]["type"] is None, \
            "samples of %s are not grouped (current family %s)" % (fam, current)
        if fam not in fams:
            fams[fam] = {"type": None, "help": None, "samples": []}
            order.append(fam)
        if current != fam:
            assert not fams[fam]["samples"], "samples of %s are not contiguous" % fam
            current = fam
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen_series, "series %r twice" % (key,)
        seen_series.add(key)
        fams[fam]["samples"].append((name, labels, value))

    for name, f in fams.items():
        assert name.startswith("hookq_"), "metric %s is not prefixed hookq_" % name
        assert f["type"], "%s has no TYPE" % name
        assert f["help"], "%s has no HELP" % name
        t = f["type"]
        if t == "counter":
            assert name.endswith("_total"), "counter %s does not end in _total" % name
            for s, _, v in f["samples"]:
                assert s == name and v >= 0 and not math.isinf(v), (s, v)
        elif t == "gauge":
            assert not name.endswith("_total"), "gauge %s ends in _total" % name
            for s, _, _ in f["samples"]:
                assert s == name, s
        elif t == "histogram":
            check_histogram(name, f["samples"])
    return fams


def check_histogram(name, samples):
    series = {}
    for s, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        d = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if s == name + "_bucket":
            assert "le" in labels, "bucket without le in %s" % name
            d["buckets"].append((parse_float(labels["le"]), v))
        elif s == name + "_sum":
            assert "le" not in labels
            d["sum"] = v
        elif s == name + "_count":
            assert "le" not in labels
            d["count"] = v
        else:
            raise AssertionError("unexpected sample %s in histogram %s" % (s, name))
    assert series, "histogram %s has no samples" % name
    for rest, d in series.items():
        b = d["buckets"]
        assert b and d["sum"] is not None and d["count"] is not None, (name, rest, d)
        les = [x for x, _ in b]
        assert les == sorted(les) and len(set(les)) == len(les), "le not increasing in %s: %s" % (name, les)
        assert math.isinf(les[-1]) and les[-1] > 0, "%s does not end with le=\"+Inf\"" % name
        counts = [c for _, c in b]
        assert all(counts[i] <= counts[i + 1] for i in range(len(counts) - 1)), \
            "buckets of %s not cumulative: %s" % (name, counts)
        assert counts[-1] == d["count"], "%s: +Inf bucket %s != _count %s" % (name, counts[-1], d["count"])
        assert d["sum"] >= 0


def value(fams, name, **labels):
    """The value of one series (0 when absent); for a histogram family name
    with suffix, the sum over label sets matching labels."""
    total, found = 0.0, False
    for f in fams.values():
        for s, l, v in f["samples"]:
            if s == name and all(l.get(k) == x for k, x in labels.items()):
                total += v
                found = True
    return total if found else 0.0


def scrape(proc):
    st, h, text = http_get(proc.host, proc.port, "/metrics")
    assert st == 200, (st, text)
    ct = h.get("Content-Type", "")
    assert ct.startswith("text/plain") and "version=0.0.4" in ct, ct
    return parse_prometheus(text)


# ---------------------------------------------------------------- parser self-test

def test_strict_parser_rejects_bad_text():
    good = ('# HELP hookq_x_total X.\n# TYPE hookq_x_total counter\nhookq_x_total{a="b\\"c\\\\d\\n"} 3\n'
            '# HELP hookq_h H.\n# TYPE hookq_h histogram\nhookq_h_bucket{le="0.1"} 1\n'
            'hookq_h_bucket{le="+Inf"} 2\nhookq_h_sum 0.3\nhookq_h_count 2\n')
    f = parse_prometheus(good)
    assert f["hookq_x_total"]["samples"][0][1] == {"a": 'b"c\\d\n'}
    bad = [
        good[:-1],                                                             # no final newline
        good.replace("hookq_x_total counter", "hookq_x_total countr"),
        good.replace("# TYPE hookq_x_total counter\n", ""),                    # no TYPE
        good.replace("hookq_x_total{a=", "hookq_x_total{1a="),
        good.replace('\\"c', '\\tc'),                                          # bad escape
        good.replace("} 3", "} three"),
        good.replace('hookq_h_bucket{le="+Inf"} 2', 'hookq_h_bucket{le="+Inf"} 3'),  # +Inf != count
        good.replace('hookq_h_bucket{le="0.1"} 1', 'hookq_h_bucket{le="0.1"} 5'),    # not cumulative
        good.replace('hookq_h_bucket{le="+Inf"} 2\n', ''),                     # no +Inf
        good.replace("hookq_x_total", "hookq_x"),                              # counter without _total
        good + "hookq_x_total{a=\"b\\\"c\\\\d\\n\"} 4\n",                       # duplicate / not grouped
        good.replace("# HELP hookq_x_total X.\n", ""),                         # no HELP
    ]
    for i, t in enumerate(bad):
        try:
            parse_prometheus(t)
        except (AssertionError, IndexError):
            continue
        raise AssertionError("bad text %d accepted:\n%s" % (i, t))


# ---------------------------------------------------------------- counters

def test_metrics_strict_and_match_what_happened():
    ok, bad = Receiver(Switch(200)), Receiver(Switch(500))
    org = "org-met"
    P.endpoint(org, ok.url(), events=["ok.*"])
    P.endpoint(org, bad.url(), events=["bad.*"], retry_schedule="1s")
    p0, w0 = scrape(P), scrape(W)
    for i in range(4):
        P.publish(org, "ok.x", {"i": i}, id="evt_met_%d" % i)
    P.publish(org, "ok.x", {"i": 0}, id="evt_met_0")          # idempotent replay: not ingested again
    P.publish(org, "bad.x", {})
    st, j = P.api("POST", "/v1/events/batch", {"events": [{"type": "ok.y", "org_id": org, "data": {}},
                                                          {"type": "ok.y", "org_id": org, "data": {}},
                                                          {"type": "bad type", "org_id": org, "data": {}}]})
    assert st == 207, (st, j)
    st, j = P.api("POST", "/v1/events", {"type": "bad type", "org_id": org, "data": {}})
    assert st == 422
    ingested, delivered, failing = 4 + 1 + 2, 6, 1
    ok.wait(delivered)
    bad.wait(2)

    def settled():
        w = scrape(W)
        return w if value(w, "hookq_deliveries_total", outcome="dead") - \
            value(w0, "hookq_deliveries_total", outcome="dead") >= failing and \
            value(w, "hookq_deliveries_total", outcome="delivered") - \
            value(w0, "hookq_deliveries_total", outcome="delivered") >= delivered else None
    w1 = wait_for(settled, 20, "worker counters to settle")
    p1 = scrape(P)

    def dw(name, **l):
        return value(w1, name, **l) - value(w0, name, **l)
    assert value(p1, "hookq_events_ingested_total") - value(p0, "hookq_events_ingested_total") == ingested
    assert dw("hookq_deliveries_total", outcome="delivered") == delivered
    assert dw("hookq_deliveries_total", outcome="retry") == 1
    assert dw("hookq_deliveries_total", outcome="dead") == 1
    assert dw("hookq_attempts_total", **{"class": "2xx"}) == delivered
    assert dw("hookq_attempts_total", **{"class": "5xx"}) == 2
    assert dw("hookq_attempt_duration_seconds_count") == delivered + 2
    assert dw("hookq_attempt_duration_seconds_sum") > 0
    # the required families exist with the right types
    for name, t in [("hookq_deliveries_total", "counter"), ("hookq_attempts_total", "counter"),
                    ("hookq_attempt_duration_seconds", "histogram"), ("hookq_inflight", "gauge"),
                    ("hookq_stream_lag", "gauge"), ("hookq_retry_scheduled", "gauge"), ("hookq_dead", "gauge"),
                    ("hookq_redis_errors_total", "counter"), ("hookq_reclaimed_total", "counter")]:
        assert w1.get(name, {}).get("type") == t, (name, w1.get(name))
    for name, t in [("hookq_events_ingested_total", "counter"), ("hookq_http_requests_total", "counter"),
                    ("hookq_redis_errors_total", "counter")]:
        assert p1.get(name, {}).get("type") == t, (name, p1.get(name))
    assert value(p1, "hookq_http_requests_total", code="422") - value(p0, "hookq_http_requests_total",
                                                                      code="422") == 1
    assert value(p1, "hookq_http_requests_total", code="207") >= 1
    # the dead gauge catches up with the dead delivery
    wait_for(lambda: value(scrape(W), "hookq_dead") >= 1, 15, "hookq_dead gauge")
    ok.close()
    bad.close()


def test_reclaimed_total_after_kill9():
    r = Redis()
    sw = Switch(200, delay=30)
    rc = Receiver(sw)
    p = Producer(r)
    a = Worker(r, name="victim", HOOKQ_TIMEOUT="1s", HOOKQ_CLAIM_IDLE="2s")
    try:
        p.endpoint("org-rcl", rc.url(), events=["*"])
        eid = p.publish("org-rcl", "a.b", {})["id"]
        rc.wait(1)
        a.kill9()
        sw.delay = 0
        b = Worker(r, name="rescuer", HOOKQ_TIMEOUT="1s", HOOKQ_CLAIM_IDLE="2s")
        rc.wait(2, timeout=30)
        fams = wait_for(lambda: (lambda f: f if value(f, "hookq_reclaimed_total") >= 1 and
                                 value(f, "hookq_deliveries_total", outcome="delivered") >= 1 else None)(scrape(b)),
                        20, "reclaim counted")
        assert value(fams, "hookq_reclaimed_total") == 1, fams["hookq_reclaimed_total"]
        st, j = p.api("GET", "/v1/events/" + eid)
        assert j["deliveries"][0]["state"] == "delivered", j
        b.stop()
    finally:
        p.stop()
        rc.close()


# ---------------------------------------------------------------- health and readiness

def test_healthz_readyz_follow_redis():
    r = Redis()
    p = Producer(r)
    w = Worker(r, name="w-ready")
    targets = [(p.host, p.port), (w.host, w.port)]
    for host, port in targets:
        st, _, body = http_get(host, port, "/healthz")
        assert st == 200 and json.loads(body)["status"] == "ok", body
        wait_for(lambda: http_get(host, port, "/readyz")[0] == 200, 10, "ready")
    r.kill()
    for host, port in targets:
        wait_for(lambda: http_get(host, port, "/readyz")[0] == 503, 15, "readyz 503 while Redis is down")
        assert http_get(host, port, "/healthz")[0] == 200
    st, _, body = http_get(p.host, p.port, "/readyz")
    assert json.loads(body)["error"]["code"] == "redis_unavailable", body
    st, j, h, _ = p.request("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}})
    assert st == 503 and h.get("Retry-After") == "1" and j["error"]["code"] == "redis_unavailable", (st, j, h)
    r.start()
    for host, port in targets:
        wait_for(lambda: http_get(host, port, "/readyz")[0] == 200, 30, "ready again after Redis restart")
    st, j = p.api("POST", "/v1/events", {"type": "a.b", "org_id": "o", "data": {}})
    assert st == 202, (st, j)
    assert value(scrape(p), "hookq_redis_errors_total") >= 1
    assert value(scrape(w), "hookq_redis_errors_total") >= 1
    assert w.stop() == 0 and p.stop() == 0
    r.kill()


# ---------------------------------------------------------------- Redis monitoring keys

def test_heartbeat_and_workers_set():
    def hb():
        ids = R.cmd("ZRANGE", "hq:workers", 0, -1)
        return ids[0] if ids else None
    wid = wait_for(hb, 15, "a worker in hq:workers")
    key = "hq:worker:" + wid
    h = wait_for(lambda: hgetall(R, key) or None, 10, "heartbeat hash")
    for f in ("id", "host", "pid", "version", "started", "inflight", "delivered", "failed", "dead", "seen"):
        assert f in h, (f, h)
    assert h["id"] == wid and int(h["pid"]) == W.proc.pid, (h, W.proc.pid)
    assert re.match(r"^\d+\.\d+\.\d+", h["version"]) and h["host"], h
    now_ms = time.time() * 1000
    assert abs(int(h["seen"]) - now_ms) < 20000 and int(h["started"]) <= int(h["seen"]), h
    assert int(h["inflight"]) >= 0 and int(h["delivered"]) >= 1, h
    ttl = R.cmd("TTL", key)
    assert 0 < ttl <= 15, ttl
    score = int(float(R.cmd("ZSCORE", "hq:workers", wid)))
    assert abs(score - int(h["seen"])) < 10000, (score, h)
    # the heartbeat keeps being refreshed
    seen = int(h["seen"])
    wait_for(lambda: int(hgetall(R, key).get("seen", 0)) > seen, 15, "a newer heartbeat")
    assert 0 < R.cmd("TTL", key) <= 15


def test_endpoint_health_fields():
    sw = Switch(500)
    rc = Receiver(sw)
    ep = P.endpoint("org-health", rc.url(), events=["*"], retry_schedule="1s")
    key = "hq:{%d}:ep:%s" % (int(ep["id"][-3:], 16), ep["id"])
    P.publish("org-health", "a.b", {})
    h = wait_for(lambda: (lambda h: h if h.get("fails") == "2" else None)(hgetall(R, key)), 15, "2 fails")
    assert int(h["ff"]) <= int(h["fail_at"]) and h["act"] == "1" and "dis_reason" not in h, h
    j = P.api("GET", "/v1/endpoints/" + ep["id"])[1]
    assert j["health"]["consecutive_failures"] == 2, j
    sw.status = 200
    P.publish("org-health", "a.b", {})
    h = wait_for(lambda: (lambda h: h if h.get("fails") == "0" else None)(hgetall(R, key)), 15, "reset")
    assert "ff" not in h and int(h["ok_at"]) > 0, h
    sw.status = 410
    P.publish("org-health", "a.b", {})
    h = wait_for(lambda: (lambda h: h if h.get("act") == "0" else None)(hgetall(R, key)), 15, "disabled")
    assert "410" in h["dis_reason"] and int(h["dis_at"]) > 0 and h["fails"] == "1", h
    rc.close()


# ---------------------------------------------------------------- logs

def test_logs_json_and_never_secrets():
    secrets = {"API token": TOKEN}
    ok, bad = Receiver(Switch(200)), Receiver(Switch(500))
    org = "org-logs"
    basic = P.endpoint(org, ok.url("/basic"), events=["*"],
                       auth={"type": "basic", "username": "crm-user", "password": "pw-Basic-9x7Q2"})
    secrets["basic password"] = "pw-Basic-9x7Q2"
    secrets["basic header"] = base64.b64encode(b"crm-user:pw-Basic-9x7Q2").decode()
    key = P.endpoint(org, bad.url("/key"), events=["*"], auth={"type": "api_key", "key": "ak-Key-5mW3p"},
                     retry_schedule="1s")
    secrets["api key"] = "ak-Key-5mW3p"
    bearer = P.endpoint(org, ok.url("/bearer"), events=["*"], auth={"type": "bearer", "token": "bt-Tok-8Zr1v"},
                        headers={"X-Custom": "custom-Hdr-4Lk0"})
    secrets["bearer token"] = "bt-Tok-8Zr1v"
    chosen = P.endpoint(org, ok.url("/chosen"), events=["*"], secret="chosen-Secret-2Jd8qQ")
    secrets["chosen secret"] = "chosen-Secret-2Jd8qQ"
    secrets["generated secret"] = basic["secret"]
    secrets["generated secret (base64 part)"] = basic["secret"][6:]
    secrets["key secret"] = key["secret"]
    secrets["bearer secret"] = bearer["secret"]
    P.publish(org, "lead.created", {"n": 1})
    ok.wait(3)
    bad.wait(2)
    # rotation: generated and chosen new secrets
    st, j = P.api("POST", "/v1/endpoints/%s/rotate-secret" % chosen["id"], {"secret": "rotated-Secret-6Hn3"})
    assert st == 200
    secrets["rotated chosen"] = "rotated-Secret-6Hn3"
    st, j = P.api("POST", "/v1/endpoints/%s/rotate-secret" % basic["id"])
    secrets["rotated generated"] = j["secret"]
    # a change of credentials
    P.api("PATCH", "/v1/endpoints/" + bearer["id"], {"auth": {"type": "bearer", "token": "bt-New-3Qx9"}})
    secrets["new bearer token"] = "bt-New-3Qx9"
    P.publish(org, "lead.created", {"n": 2})
    ok.wait(6)
    bad.wait(4)
    # a wrong token attempt and a failing test event
    P.api("GET", "/v1/stats", token="wrong-" + TOKEN)
    P.api("POST", "/v1/endpoints/%s/test" % key["id"], {"type": "a.b"})
    bad.wait(5)
    time.sleep(0.5)
    logs = {"producer": P.logtext(), "worker": W.logtext()}
    for who, text in logs.items():
        lines = text.splitlines()
        assert len(lines) > 10, (who, text)
        assert any('"level":"debug"' in l for l in lines), "%s logged nothing at debug level" % who
        for line in lines:
            j = json.loads(line)
            assert isinstance(j, dict), line
            assert {"ts", "level", "msg"} <= set(j), line
            assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", j["ts"]), line
            assert j["level"] in ("debug", "info", "warn", "error"), line
            assert isinstance(j["msg"], str) and j["msg"], line
        for what, s in secrets.items():
            assert s not in text, "the %s appears in the %s log" % (what, who)
        assert "custom-Hdr-4Lk0" not in text or True   # custom headers are not secrets
    ok.close()
    bad.close()


def start_text(binary, env):
    """Starts a binary with HOOKQ_LOG_FORMAT=text; returns (Popen, log path)."""
    d = tmpdir()
    logp = os.path.join(d, "log")
    full = dict(os.environ)
    full.update(env)
    with open(logp, "wb") as f:
        proc = subprocess.Popen([os.path.join(BIN, binary)], env=full, stdout=f, stderr=f,
                                start_new_session=True)
    return proc, logp


def test_text_log_format():
    port_env = {}
    procs = []
    for binary, extra in (("hookq-producer", {"HOOKQ_API_TOKEN": TOKEN}), ("hookq-worker", {})):
        env = base_env(R, HOOKQ_LISTEN="127.0.0.1:0", HOOKQ_LOG_FORMAT="text", HOOKQ_LOG_LEVEL="debug", **extra)
        env.update(port_env)
        proc, logp = start_text(binary, env)
        procs.append((proc, logp))
    try:
        for proc, logp in procs:
            def listening():
                assert proc.poll() is None, open(logp).read()
                text = open(logp).read()
                return text if "listening" in text else None
            text = wait_for(listening, 10, "listening line")
            for line in text.splitlines():
                assert not line.startswith("{"), "a JSON line in text mode: %r" % line
                assert re.match(r"^\d{4}-\d\d-\d\dT[\d:.]+Z (debug|info|warn|error) ", line), line
            assert re.search(r"listening.*addr=127\.0\.0\.1:\d+", text), text
            assert TOKEN not in text
    finally:
        for proc, _ in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            assert proc.wait(20) == 0


def test_processes_healthy_at_the_end():
    for proc in (P, W):
        assert proc.proc.poll() is None, proc.name
        errs = [l for l in proc.logtext().splitlines() if json.loads(l)["level"] == "error"]
        assert not errs, errs


if __name__ == "__main__":
    run([test_strict_parser_rejects_bad_text, test_metrics_strict_and_match_what_happened,
         test_reclaimed_total_after_kill9, test_healthz_readyz_follow_redis, test_heartbeat_and_workers_set,
         test_endpoint_health_fields, test_logs_json_and_never_secrets, test_text_log_format,
         test_processes_healthy_at_the_end])
