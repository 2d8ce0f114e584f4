"""SPEC audit, operations side (SPEC 2 and 8, docs/cli.md, docs/operations.md,
docs/redis-keys.md, deploy/): what a black-box suite driving the binaries
exactly as the documents say would check and the other tests did not.

The hookq CLI: every variable has its matching long flag (HOOKQ_API_URL ->
--api-url, HOOKQ_API_TOKEN -> --api-token, as the producer and worker name
theirs), a bad --api URL is a configuration error (exit 2, one line naming
the variable and the value) rather than "unreachable" (3), every bad input
is one line on stderr, and a value that cannot be sent (not UTF-8) is an
error rather than a field silently left out. Metrics: every outcome and
attempt class moves as the receivers answer, latencies land in the right
histogram buckets. Redis monitoring keys: the stats counters match what
happened, a worker removes its heartbeat when it stops. deploy/: the KEDA
triggers name streams and the group a worker configured from the shipped
ConfigMap really creates.

Real Redis, real binaries, real HTTP receivers; no timing assertions."""
import json
import os
import re
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (SRC, TOKEN, Producer, Receiver, Redis, Worker, hgetall, metric, run, run_cli,  # noqa: E402
                     wait_for)

R = Redis()
P = Producer(R)
API = "http://%s:%d" % (P.host, P.port)
_worker = []


def worker():
    if not _worker:
        _worker.append(Worker(R, HOOKQ_RETRY_SCHEDULE="1s", HOOKQ_TIMEOUT="2s"))
    return _worker[0]


def hookq(*args, token=TOKEN, api=API, timeout=30):
    """harness.run_cli against this file's producer (args may be bytes)."""
    return run_cli(args, api, token, timeout=timeout)


def one_line_error(err):
    assert err.startswith("hookq: "), err
    assert err.endswith("\n") and err.count("\n") == 1, "not one line: %r" % err
    return err


# ---------------------------------------------------------------- CLI configuration

def test_cli_variables_have_matching_long_flags():
    """SPEC 2: each variable has a matching long flag; the producer and the
    worker spell it as the variable without HOOKQ_, lower case, dashes."""
    j = None
    for args in (["--api-url", API, "--api-token", TOKEN, "stats", "--json"],
                 ["stats", "--json", "--api-url=" + API, "--api-token=" + TOKEN],
                 ["--api-token", TOKEN, "endpoints", "--api-url", API, "list", "--org", "o", "--json"]):
        rc, out, err = hookq(*args, token=None, api=None)
        assert rc == 0 and err == "", (args, rc, out, err)
        j = json.loads(out)
    assert j == {"data": []}, j
    # the flag wins over the variable, as for --api/--token
    rc, out, err = hookq("--api-url", API, "stats", "--json", api="http://127.0.0.1:1")
    assert rc == 0, (rc, err)
    rc, _, err = hookq("--api-token", "wrong-token", "stats", token=TOKEN)
    assert rc == 1 and " 401 " in err, (rc, err)
    # a flag and its alias together are a flag given twice
    rc, out, err = hookq("--api", API, "--api-url", API, "stats")
    assert rc == 2 and out == "", (rc, out, err)
    one_line_error(err)
    help_text = hookq("--help", token=None, api=None)[1]
    for v, f in (("HOOKQ_API_URL", "--api-url"), ("HOOKQ_API_TOKEN", "--api-token")):
        line = [l for l in help_text.splitlines() if v in l and f in l]
        assert line, "--help does not pair %s with %s:\n%s" % (v, f, help_text)
    assert "--api-url" in hookq("stats", "--help", token=None, api=None)[1]


def test_cli_bad_api_url_is_a_config_error():
    """docs/cli.md: "a bad --api URL" exits 2; SPEC 2: one line naming the
    variable and the value. Not 3 (the API is not unreachable, the URL is bad)."""
    for bad in ("http://", "http://[::1", "http://127.0.0.1:99999", "http://a b:8080", "localhost:8080",
                "ftp://127.0.0.1:8080", "http://127.0.0.1:8080/?x=1", "http://127.0.0.1:8080/#frag",
                "http://127.0.0.1:8080/#", "http://127.0.0.1:8080/?"):   # curl drops an empty fragment or query
        for how in ("env", "flag"):
            if how == "env":
                rc, out, err = hookq("stats", api=bad)
            else:
                rc, out, err = hookq("stats", "--api-url", bad, api=None)
            assert rc == 2, (bad, how, rc, err)
            assert out == "", (bad, out)
            one_line_error(err)
            assert "HOOKQ_API_URL" in err and bad in err, (bad, err)
            assert "cannot reach" not in err, err
    # still fine: upper-case scheme, a path prefix, a trailing slash
    for good in (API.replace("http://", "HTTP://"), API + "/"):
        rc, out, err = hookq("stats", "--json", api=good)
        assert rc == 0, (good, rc, err)


def test_cli_errors_are_one_line():
    """Bad input: one clear line on stderr, the documented exit code, nothing on stdout."""
    cases = [
        (2, ["frobnicate"], {}),
        (2, ["endpoints"], {}),
        (2, ["endpoints", "frob"], {}),
        (2, ["events"], {}),
        (2, ["endpoints", "list", "--org", "o", "--bogus"], {}),
        (2, ["endpoints", "list"], {}),
        (2, ["stats", "--interval", "1"], {}),
        (2, ["help", "nope"], {}),
        (2, ["--json"], {}),
        (2, ["stats"], {"token": None}),
        (2, ["stats"], {"api": "ftp://x"}),
        (2, ["send", "--org", "o", "--type", "a.b", "--data", "{bad"], {}),
        (1, ["endpoints", "get", "ep_nope"], {}),
        (3, ["stats"], {"api": "http://127.0.0.1:1"}),
    ]
    for code, args, kw in cases:
        rc, out, err = hookq(*args, **kw)
        assert rc == code, (args, rc, err)
        assert out == "", (args, out)
        one_line_error(err)
    rc, _, err = hookq("stats", token=None)
    assert "HOOKQ_API_TOKEN" in err, err


def test_cli_values_that_are_not_utf8_are_refused():
    """A value JSON cannot carry is a usage error, never a field silently
    left out of the request (the endpoint would be created without it)."""
    org = "audit-ops-utf8"
    cases = [
        ["endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/u", "--name", b"bad\xffname"],
        ["endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/u", "--header", b"X-A: \xff"],
        ["endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/u", "--header", b"X-\xff: v"],
        ["endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/u", "--events", b"a.\xff,b.c"],
        ["endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/u", "--auth-token", b"t\xff"],
        ["send", "--org", org, "--type", b"a.\xff", "--data", "{}"],
        ["send", "--org", b"o\xff", "--type", "a.b", "--data", "{}"],
        ["endpoints", "test", "ep_x", "--type", b"a.\xff"],
        ["endpoints", "rotate", "ep_x", "--secret", b"0123456789abcdef\xff"],
    ]
    for args in cases:
        rc, out, err = hookq(*args)
        assert rc == 2, (args, rc, out, err)
        assert out == "", (args, out)
        one_line_error(err)
        assert "UTF-8" in err, err
    st, j = P.api("GET", "/v1/endpoints?org_id=" + org)
    assert st == 200 and j["data"] == [], j


# ---------------------------------------------------------------- metrics and monitoring keys

def worker_metrics():
    st, text = worker().get("/metrics")
    assert st == 200
    return text


def test_outcomes_and_classes_move_with_what_receivers_answer():
    """Each answer moves its own series of hookq_deliveries_total{outcome}
    and hookq_attempts_total{class}; the stats counters of docs/redis-keys.md
    and the heartbeat totals follow."""
    w = worker()
    org = "audit-ops-classes"
    gate = threading.Event()
    recv = {
        "ok": Receiver(lambda req: (200, {}, b"ok")),
        "redirect": Receiver(lambda req: (302, {"Location": "http://127.0.0.1:9/elsewhere"}, b"")),
        "missing": Receiver(lambda req: (404, {}, b"no")),
        "broken": Receiver(lambda req: (500, {}, b"no")),
        "gone": Receiver(lambda req: (410, {}, b"gone")),
        "slow": Receiver(lambda req: (gate.wait(15), (200, {}, b"late"))[1]),
    }
    for name, rc in recv.items():
        P.endpoint(org, rc.url(), events=[name + ".*"], retry_schedule="1s")
    P.endpoint(org, "http://127.0.0.1:1/refused", events=["refused.*"], retry_schedule="1s")

    def shard_stats():
        tot = {}
        for s in range(4):
            for k, v in hgetall(R, "hq:{%d}:stats" % s).items():
                tot[k] = tot.get(k, 0) + int(v)
        return tot
    m0, s0 = worker_metrics(), shard_stats()
    for name in list(recv) + ["refused"]:
        P.publish(org, name + ".x", {"n": name})
    # 2 attempts each for 302, 404, 500, timeout, refused (schedule 1s: then dead), 1 for 200 and 410
    want_class = {"2xx": 1, "3xx": 2, "4xx": 3, "5xx": 2, "timeout": 2, "connect": 2}
    want_outcome = {"delivered": 1, "retry": 5, "dead": 5, "gone": 1}

    def settled():
        m = worker_metrics()
        done = all(metric(m, "hookq_deliveries_total", 'outcome="%s"' % o) -
                   metric(m0, "hookq_deliveries_total", 'outcome="%s"' % o) >= n for o, n in want_outcome.items())
        return m if done else None
    m1 = wait_for(settled, 40, "every outcome to be counted")
    gate.set()
    for o, n in want_outcome.items():
        d = metric(m1, "hookq_deliveries_total", 'outcome="%s"' % o) - \
            metric(m0, "hookq_deliveries_total", 'outcome="%s"' % o)
        assert d == n, (o, d, n)
    for c, n in want_class.items():
        d = metric(m1, "hookq_attempts_total", 'class="%s"' % c) - metric(m0, "hookq_attempts_total", 'class="%s"' % c)
        assert d == n, (c, d, n)
    # every attempt is observed once; the two timeouts (cut at 2 s) are above le="1"
    def bucket(m, le):
        return metric(m, "hookq_attempt_duration_seconds_bucket", 'le="%s"' % le)
    assert bucket(m1, "+Inf") - bucket(m0, "+Inf") == 12, (bucket(m1, "+Inf"), bucket(m0, "+Inf"))
    assert metric(m1, "hookq_attempt_duration_seconds_count") - \
        metric(m0, "hookq_attempt_duration_seconds_count") == 12
    assert bucket(m1, "1") - bucket(m0, "1") <= 10, (bucket(m1, "1"), bucket(m0, "1"))
    assert metric(m1, "hookq_attempt_duration_seconds_sum") - metric(m0, "hookq_attempt_duration_seconds_sum") >= 4
    # Redis: the shards' stats hashes and the worker's heartbeat totals
    s1 = shard_stats()
    for k, n in (("events", 7), ("deliveries", 7), ("delivered", 1), ("failed", 5), ("dead", 6)):
        assert s1.get(k, 0) - s0.get(k, 0) == n, (k, s0, s1)
    hb_key = "hq:worker:" + R.cmd("ZRANGE", "hq:workers", 0, -1)[0]

    def hb_caught_up():
        h = hgetall(R, hb_key)
        return h if int(h.get("dead", 0)) >= 6 and int(h.get("delivered", 0)) >= 1 else None
    h = wait_for(hb_caught_up, 15, "the heartbeat totals")
    assert int(h["failed"]) >= 5, h
    assert 0 < R.cmd("TTL", hb_key) <= 15
    # the gauges of shared state: the dead sets
    wait_for(lambda: metric(worker_metrics(), "hookq_dead") >= 6, 15, "hookq_dead")
    recv["slow"].wait(2)
    for rc in recv.values():
        rc.close()
    assert w.proc.poll() is None


def test_stopped_worker_removes_its_heartbeat():
    """docs/redis-keys.md: <prefix>:worker:<id> (TTL 15 s) and <prefix>:workers
    list live workers: one that stops cleanly is gone from both at once."""
    w = Worker(R, name="w-leaving", HOOKQ_WORKER_ID="audit-ops-leaving")
    wait_for(lambda: R.cmd("ZSCORE", "hq:workers", "audit-ops-leaving") is not None, 15, "its heartbeat")
    h = wait_for(lambda: hgetall(R, "hq:worker:audit-ops-leaving") or None, 15, "its heartbeat hash")
    assert h["id"] == "audit-ops-leaving" and int(h["pid"]) == w.proc.pid, h
    assert 0 < R.cmd("TTL", "hq:worker:audit-ops-leaving") <= 15
    assert w.stop() == 0
    assert R.cmd("EXISTS", "hq:worker:audit-ops-leaving") == 0
    assert R.cmd("ZSCORE", "hq:workers", "audit-ops-leaving") is None
    st, j = P.api("GET", "/v1/stats")
    assert "audit-ops-leaving" not in [x["id"] for x in j["workers"]], j


# ---------------------------------------------------------------- deploy/

def test_keda_triggers_name_the_streams_a_worker_creates():
    """deploy/k8s/keda.yaml: one redis-streams trigger per shard stream with
    the consumer group the workers use. A worker started with the shipped
    ConfigMap's prefix and shard count creates exactly those streams and
    that group (checked in Redis, not against a pattern)."""
    try:
        import yaml
    except ImportError:
        raise AssertionError("python3-yaml is missing (scripts/deps installs it)")
    k8s = os.path.join(SRC, "deploy", "k8s")
    with open(os.path.join(k8s, "configmap.yaml")) as f:
        cm = yaml.safe_load(f)["data"]
    with open(os.path.join(k8s, "keda.yaml")) as f:
        so = [d for d in yaml.safe_load_all(f) if d and d["kind"] == "ScaledObject"][0]
    r = Redis()
    w = Worker(r, name="w-keda", HOOKQ_PREFIX=cm["HOOKQ_PREFIX"], HOOKQ_SHARDS=cm["HOOKQ_SHARDS"])
    wait_for(lambda: w.get("/readyz")[0] == 200, 15, "the worker to be ready")
    streams = set()
    for t in so["spec"]["triggers"]:
        md = t["metadata"]
        assert t["type"] == "redis-streams", t
        groups = r.cmd("XINFO", "GROUPS", md["stream"])
        names = [dict(zip(g[0::2], g[1::2]))["name"] for g in groups]
        assert md["consumerGroup"] in names, (md, names)
        assert int(md.get("databaseIndex", "0")) == 0
        streams.add(md["stream"])
    created = set()
    cursor = "0"
    while True:
        cursor, keys = r.cmd("SCAN", cursor, "TYPE", "stream", "COUNT", 1000)
        created |= {k for k in keys if re.fullmatch(re.escape(cm["HOOKQ_PREFIX"]) + r":\{\d+\}:stream", k)}
        if cursor == "0":
            break
    assert streams == created, (sorted(streams - created), sorted(created - streams))
    assert len(streams) == int(cm["HOOKQ_SHARDS"])
    assert w.stop() == 0
    r.kill()


def test_http_requests_total_counts_the_servers_own_answers():
    """docs/operations.md: hookq_http_requests_total counts API requests by
    status, also those the HTTP server answers by itself (a body over
    HOOKQ_MAX_BODY: 413; a malformed request: 400; headers too large: 431),
    which never reach the API's handlers."""
    p = Producer(R, HOOKQ_MAX_BODY="1KiB")

    def scrape():
        st, body = p.request("GET", "/metrics", token=None)[0], p.request("GET", "/metrics", token=None)[3]
        assert st == 200, st
        return body.decode()

    def raw(data):
        import socket
        s = socket.create_connection((p.host, p.port), timeout=10)
        try:
            s.sendall(data)
            return s.recv(65536).split(b" ", 2)[1]
        finally:
            s.close()
    m0 = scrape()
    big = b"{" + b" " * 2048 + b"}"
    assert raw(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
               b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big) + big) == b"413"
    assert raw(b"GET /v1/stats HTTP/1.1\r\nHost x\r\n\r\n") == b"400"
    assert raw(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n") == b"431"
    m1 = scrape()
    for code in ("413", "400", "431"):
        d = metric(m1, "hookq_http_requests_total", 'code="%s"' % code) - \
            metric(m0, "hookq_http_requests_total", 'code="%s"' % code)
        assert d == 1, (code, d)
    assert p.stop() == 0


def test_processes_still_healthy():
    assert P.proc.poll() is None
    if _worker:
        assert _worker[0].proc.poll() is None
        assert _worker[0].stop() == 0
    assert P.stop() == 0


run([
    test_cli_variables_have_matching_long_flags,
    test_cli_bad_api_url_is_a_config_error,
    test_cli_errors_are_one_line,
    test_cli_values_that_are_not_utf8_are_refused,
    test_outcomes_and_classes_move_with_what_receivers_answer,
    test_stopped_worker_removes_its_heartbeat,
    test_keda_triggers_name_the_streams_a_worker_creates,
    test_http_requests_total_counts_the_servers_own_answers,
    test_processes_still_healthy,
])
