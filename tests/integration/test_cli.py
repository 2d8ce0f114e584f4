"""The hookq admin CLI (SPEC 2): runs the built `hookq` binary against a real
producer (and a real worker for the delivery test) and checks its output,
its --json output and its exit codes: 0 ok, 1 the API answered an error,
2 usage/config error, 3 the API cannot be reached.

Every command runs against the real API: events get, deliveries list,
resend of a real dead delivery, recover --since, stats and stats --watch
(ended by SIGINT, exit 0), each also with --json (which must parse)."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, TOKEN, Producer, Receiver, Redis, Worker, hex_sig, run, run_cli, standard_verify, tmpdir, wait_for  # noqa: E402,E501

R = Redis()
P = Producer(R)
API = "http://%s:%d" % (P.host, P.port)
HOOKQ = os.path.join(BIN, "hookq")
_worker = []


def worker():
    """One worker, started by the first test that needs deliveries to happen."""
    if not _worker:
        _worker.append(Worker(R))
    return _worker[0]


def hookq(*args, token=TOKEN, api=API, stdin=None, timeout=30):
    """harness.run_cli against this file's producer."""
    return run_cli(args, api, token, stdin=stdin, timeout=timeout)


def ok(*args, **kw):
    rc, out, err = hookq(*args, **kw)
    assert rc == 0, (args, rc, out, err)
    assert err == "", (args, err)
    return out


def ok_json(*args, **kw):
    return json.loads(ok(*args, "--json", **kw))


def fails(code, *args, **kw):
    rc, out, err = hookq(*args, **kw)
    assert rc == code, (args, "expected exit %d" % code, rc, out, err)
    assert err.startswith("hookq: "), (args, err)
    return out, err


def api_error_line(err, status):
    """The first stderr line is "hookq: <status> <code>: <message>"."""
    line = err.splitlines()[0]
    prefix = "hookq: %d " % status
    assert line.startswith(prefix), (line, status)
    code, _, msg = line[len(prefix):].partition(": ")
    assert code and " " not in code and msg, line
    return code, msg


def ep_id_from_table(out, url):
    for line in out.splitlines()[1:]:
        if url in line:
            return line.split()[0]
    raise AssertionError("no row for %s in\n%s" % (url, out))


# ---------------------------------------------------------------- help and usage

def test_help_everywhere():
    out = ok("--help", token=None, api=None)
    for cmd in ["endpoints create", "endpoints list", "endpoints get", "endpoints update", "endpoints delete",
                "endpoints rotate", "endpoints test", "send", "events get", "deliveries list", "resend",
                "recover", "stats"]:
        assert cmd in out, (cmd, out)
        sub = ok(*cmd.split(), "--help", token=None, api=None)
        assert sub.startswith("usage: hookq %s" % cmd), sub
        assert "Exit codes:" in sub and "--token" in sub, sub
    for word in ["Exit codes", "HOOKQ_API_URL", "HOOKQ_API_TOKEN", "--json"]:
        assert word in out, word
    assert "--auth-type" in ok("endpoints", "create", "--help", token=None)
    assert "--interval" in ok("help", "stats", token=None)
    assert "rotate" in ok("endpoints", "--help", token=None)
    assert ok("--version", token=None).startswith("hookq ")


def test_usage_errors_exit_2():
    cases = [
        [],
        ["frobnicate"],
        ["endpoints"],
        ["endpoints", "frob"],
        ["endpoints", "list", "--org", "o", "--bogus"],
        ["endpoints", "list"],                               # --org required
        ["endpoints", "list", "--org"],                      # missing value
        ["endpoints", "list", "--org", "a", "--org", "b"],   # given twice
        ["endpoints", "create", "--url", "http://127.0.0.1:9/x"],  # no --org
        ["endpoints", "create", "--org", "o", "--url", "http://h/x", "--timeout-ms", "abc"],
        ["endpoints", "create", "--org", "o", "--url", "http://h/x", "--active", "--inactive"],
        ["endpoints", "create", "--org", "o", "--url", "http://h/x", "--header", "novalue"],
        ["endpoints", "create", "--data", "{not json"],
        ["endpoints", "create", "--data", "[1]"],
        ["endpoints", "get"],
        ["endpoints", "get", "a", "b"],
        ["endpoints", "update", "ep_x"],                     # nothing to update
        ["endpoints", "test", "ep_x"],                       # no --type
        ["send", "--org", "o", "--type", "a.b"],             # no --data
        ["send", "--org", "o", "--type", "a.b", "--data", "[1]"],
        ["deliveries", "list", "ep_x", "--status", "bogus"],
        ["deliveries", "list", "ep_x", "--limit", "-1"],
        ["recover", "ep_x"],
        ["recover", "ep_x", "--since", "yesterday"],
        ["stats", "--interval", "1"],                        # needs --watch
        ["stats", "--watch", "--interval", "0"],
        ["stats", "--json=1"],
    ]
    for args in cases:
        out, err = fails(2, *args)
        assert out == "", (args, out)
    # no token at all
    _, err = fails(2, "endpoints", "list", "--org", "o", token=None)
    assert "HOOKQ_API_TOKEN" in err, err
    # a bad API URL
    _, err = fails(2, "endpoints", "list", "--org", "o", api="localhost:8080")
    assert "HOOKQ_API_URL" in err, err


def test_wrong_token_is_exit_1_with_message():
    out, err = fails(1, "endpoints", "list", "--org", "o", token="wrong-token")
    code, msg = api_error_line(err, 401)
    assert code and msg, err
    assert "wrong-token" not in err and TOKEN not in err, err  # the token is never printed
    assert out == ""


def test_api_down_is_exit_3():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    _, err = fails(3, "endpoints", "list", "--org", "o", api="http://127.0.0.1:%d" % port)
    assert "cannot reach" in err, err
    _, err = fails(3, "stats", api="http://127.0.0.1:%d" % port)


def test_validation_error_is_exit_1():
    _, err = fails(1, "endpoints", "create", "--org", "cli-val", "--url", "ftp://example.com/x")
    code, msg = api_error_line(err, 422)
    assert "url" in err, err
    _, err = fails(1, "send", "--org", "cli-val", "--type", "bad type", "--data", "{}")
    api_error_line(err, 422)
    assert "type" in err, err
    _, err = fails(1, "endpoints", "get", "ep_doesnotexist000")
    api_error_line(err, 404)


# ---------------------------------------------------------------- endpoints

def test_endpoint_lifecycle():
    org = "cli-life"
    url = "http://127.0.0.1:9/life"
    out = ok("endpoints", "create", "--org", org, "--url", url, "--name", "Sales hook",
             "--events", "lead.*, invoice.paid", "--header", "X-Team: sales", "--header", "X-Env:test",
             "--auth-token", "s3cr3t-bearer", "--timeout-ms", "5000", "--signature-header", "X-CRM-Signature",
             "--description", "made by the cli test")
    assert "whsec_" in out, out
    ep = [l.split(None, 1)[1] for l in out.splitlines() if l.startswith("id:")][0]
    assert ep.startswith("ep_"), out

    st, j = P.api("GET", "/v1/endpoints/" + ep)
    assert st == 200, (st, j)
    assert j["name"] == "Sales hook" and j["url"] == url, j
    assert j["events"] == ["lead.*", "invoice.paid"], j
    assert j["auth"]["type"] == "bearer", j
    assert j["timeout_ms"] == 5000 and j["signature_header"] == "X-CRM-Signature", j
    assert j["description"] == "made by the cli test", j
    assert j["headers"] in ({"X-Team": "sales", "X-Env": "test"},
                            [["X-Team", "sales"], ["X-Env", "test"]]), j

    out = ok("endpoints", "list", "--org", org)
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "URL", "EVENTS", "STATE"], lines
    row = [l for l in lines if l.startswith(ep)]
    assert row and url in row[0] and "lead.*,invoice.paid" in row[0] and row[0].split()[-1] == "active", out
    # columns are aligned: every cell of the URL column starts at the same offset
    col = lines[0].index("URL")
    assert all(l[col:].startswith("http") for l in lines[1:]), out

    out = ok("endpoints", "get", ep)
    assert "Sales hook" in out and "s3cr3t-bearer" not in out and "whsec_" not in out, out
    ok("endpoints", "get", ep, "--org", org)
    _, err = fails(1, "endpoints", "get", ep, "--org", "someone-else")
    api_error_line(err, 404)

    out = ok("endpoints", "update", ep, "--inactive", "--name", "Renamed", "--events", "*")
    assert "Renamed" in out, out
    st, j = P.api("GET", "/v1/endpoints/" + ep)
    assert j["is_active"] is False and j["name"] == "Renamed" and j["events"] == ["*"], j
    assert j["url"] == url, j  # untouched
    row = [l for l in ok("endpoints", "list", "--org", org).splitlines() if l.startswith(ep)][0]
    assert row.split()[-1] == "inactive", row
    ok("endpoints", "update", ep, "--active")
    st, j = P.api("GET", "/v1/endpoints/" + ep)
    assert j["is_active"] is True, j

    out = ok("endpoints", "rotate", ep)
    assert "whsec_" in out, out
    rot = ok_json("endpoints", "rotate", ep, "--secret", "my-own-secret-0123456789")
    assert rot["secret"] == "my-own-secret-0123456789", rot

    assert ok("endpoints", "delete", ep).strip() == "deleted " + ep
    _, err = fails(1, "endpoints", "get", ep)
    api_error_line(err, 404)
    assert ep not in ok("endpoints", "list", "--org", org)


def test_create_from_data_with_flag_override():
    org = "cli-data"
    body = {"org_id": org, "url": "http://127.0.0.1:9/data", "name": "from data", "events": ["a.b"]}
    j = ok_json("endpoints", "create", "--data", json.dumps(body), "--name", "from flag")
    assert j["name"] == "from flag" and j["events"] == ["a.b"] and j["secret"], j
    d = tmpdir()
    path = os.path.join(d, "ep.json")
    with open(path, "w") as f:
        json.dump(dict(body, url="http://127.0.0.1:9/file"), f)
    j = ok_json("endpoints", "create", "--data", "@" + path)
    assert j["url"] == "http://127.0.0.1:9/file", j
    j = ok_json("endpoints", "create", "--data", "-", stdin=json.dumps(dict(body, name="stdin")).encode())
    assert j["name"] == "stdin", j
    j = ok_json("endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/basic",
                "--auth-username", "u", "--auth-password", "p")
    assert j["auth"]["type"] == "basic", j
    j = ok_json("endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/key", "--auth-key", "k")
    assert j["auth"]["type"] == "api_key", j


def test_json_output_parses_and_global_flags_anywhere():
    org = "cli-json"
    j = ok_json("endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/j")
    assert j["id"].startswith("ep_") and j["secret"].startswith("whsec_"), j
    lst = ok_json("endpoints", "list", "--org", org)
    assert [e["id"] for e in lst["data"]] == [j["id"]], lst
    # global flags before the command words, and between them
    out = ok("--json", "--api", API, "endpoints", "--token", TOKEN, "list", "--org", org)
    assert json.loads(out) == lst
    g = ok_json("endpoints", "get", j["id"])
    assert g["id"] == j["id"] and "secret" not in g, g
    s = ok_json("send", "--org", org, "--type", "lead.created", "--data", '{"n":1}')
    assert s["id"].startswith("evt_") and s["deliveries"] == 1, s


# ---------------------------------------------------------------- events

def test_send_is_delivered():
    rcv = Receiver()
    org = "cli-send"
    ep = ok_json("endpoints", "create", "--org", org, "--url", rcv.url("/in"), "--events", "lead.*")
    worker()
    out = ok("send", "--org", org, "--type", "lead.converted", "--data", '{"lead":{"id":"ld_1","name":"Zoë"}}',
             "--id", "evt_cli_send_1", "--created-at", "2026-04-12T15:32:11Z")
    assert "evt_cli_send_1" in out and "deliveries" in out, out
    req = rcv.wait(1)[0]
    body = json.loads(req.body)
    assert body == {"id": "evt_cli_send_1", "type": "lead.converted", "created_at": "2026-04-12T15:32:11Z",
                    "org_id": org, "data": {"lead": {"id": "ld_1", "name": "Zoë"}}}, body
    assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], req.body)
    assert standard_verify(ep["secret"], req)
    # idempotent on (org, id): a repeat enqueues nothing more
    again = ok_json("send", "--org", org, "--type", "lead.converted", "--data", '{"lead":{"id":"ld_1"}}',
                    "--id", "evt_cli_send_1")
    assert again["id"] == "evt_cli_send_1", again
    # data from stdin
    ok("send", "--org", org, "--type", "lead.created", "--data", "-", stdin=b'{"from":"stdin"}')
    reqs = rcv.wait(2)
    assert json.loads(reqs[-1].body)["data"] == {"from": "stdin"}

    # events get: the event, a table of its deliveries, a table of the attempts
    wait_for(lambda: "delivered" in hookq("events", "get", "evt_cli_send_1", "--org", org)[1], 10,
             "events get to show the delivery as delivered")
    out = ok("events", "get", "evt_cli_send_1", "--org", org)
    assert "evt_cli_send_1" in out and ep["id"] in out and "lead.converted" in out, out
    lines = out.splitlines()
    head = [l for l in lines if l.startswith("DELIVERY")]
    assert head and head[0].split()[:3] == ["DELIVERY", "ENDPOINT", "STATE"], out
    row = [l for l in lines if l.startswith("dlv_")]
    assert row and row[0].split()[1] == ep["id"] and row[0].split()[2] == "delivered", out
    assert [l for l in lines if l.startswith("TIME")], out
    j = ok_json("events", "get", "evt_cli_send_1", "--org", org)
    assert j["id"] == "evt_cli_send_1" and j["deliveries"][0]["state"] == "delivered", j
    assert j["deliveries"][0]["endpoint_id"] == ep["id"] and j["data"] == {"lead": {"id": "ld_1", "name": "Zoë"}}
    _, err = fails(1, "events", "get", "evt_cli_send_1", "--org", "someone-else")
    api_error_line(err, 404)

    # the endpoint's attempt log
    out = ok("deliveries", "list", ep["id"], "--status", "all", "--limit", "10")
    assert out.splitlines()[0].split()[:3] == ["TIME", "DELIVERY", "#"], out
    assert "delivered" in out, out
    # the receiver got both before the worker recorded the second outcome
    wait_for(lambda: len(ok_json("deliveries", "list", ep["id"], "--status", "delivered")["data"]) >= 2, 10,
             "both outcomes in the attempt log")
    j = ok_json("deliveries", "list", ep["id"], "--status", "delivered")
    assert isinstance(j["data"], list) and len(j["data"]) == 2, j
    assert all(e["status"] == "delivered" for e in j["data"]), j
    # paging: --limit 1 prints the cursor to continue with
    j = ok_json("deliveries", "list", ep["id"], "--limit", "1")
    assert len(j["data"]) == 1 and j["next_cursor"], j
    out = ok("deliveries", "list", ep["id"], "--limit", "1")
    assert j["next_cursor"] in out, out
    j2 = ok_json("deliveries", "list", ep["id"], "--limit", "1", "--cursor", j["next_cursor"])
    assert j2["data"][0]["log_id"] != j["data"][0]["log_id"], (j, j2)
    _, err = fails(1, "deliveries", "list", ep["id"], "--cursor", "nope")
    api_error_line(err, 422)

    # test event to this endpoint only
    j = ok_json("endpoints", "test", ep["id"], "--type", "lead.created")
    assert j["deliveries"] == 1, j
    req = rcv.wait(3)[-1]
    assert json.loads(req.body)["data"]["test"] is True, req.body
    out = ok("endpoints", "test", ep["id"], "--type", "lead.created")
    assert "evt_" in out, out
    rcv.wait(4)
    _, err = fails(1, "endpoints", "test", ep["id"], "--type", "bad type")
    api_error_line(err, 422)
    rcv.close()


class Switch:
    def __init__(self, status):
        self.status = status

    def __call__(self, req):
        return self.status, {}, b"answer %d" % self.status


def dead_events(org, ep_id, n):
    """Publishes n events and waits until each delivery is dead; returns the delivery ids."""
    ids = []
    for i in range(n):
        ids.append(ok_json("send", "--org", org, "--type", "deal.won", "--data", '{"i":%d}' % i)["id"])
    dids = []
    for eid in ids:
        j = wait_for(lambda: (lambda j: j if j["deliveries"][0]["state"] == "dead" else None)(
            ok_json("events", "get", eid)), 20, "dead delivery of " + eid)
        dids.append(j["deliveries"][0]["id"])
    return ids, dids


def test_resend_and_recover_real_dead_deliveries():
    worker()
    sw = Switch(500)
    rcv = Receiver(sw)
    org = "cli-dead"
    ep = ok_json("endpoints", "create", "--org", org, "--url", rcv.url(), "--retry-schedule", "1s")
    eids, dids = dead_events(org, ep["id"], 3)
    assert rcv.count() == 6, rcv.count()
    out = ok("deliveries", "list", ep["id"], "--status", "dead")
    assert sum(1 for l in out.splitlines() if " dead " in l) == 3, out
    # resend one: exit 0, re-delivered
    sw.status = 200
    out = ok("resend", dids[0])
    assert dids[0] in out and "pending" in out, out
    wait_for(lambda: ok_json("events", "get", eids[0])["deliveries"][0]["state"] == "delivered", 15,
             "the re-sent delivery to be delivered")
    j = ok_json("resend", dids[0])          # a delivered one can be re-sent too
    assert j == {"id": dids[0], "state": "pending"}, j
    # recover the other two: a duration ago, then RFC 3339 (nothing left)
    out = ok("recover", ep["id"], "--since", "1h")
    assert "recovered 2" in out, out
    for eid in eids[1:]:
        wait_for(lambda: ok_json("events", "get", eid)["deliveries"][0]["state"] == "delivered", 15,
                 "recovered delivery of " + eid)
    j = ok_json("recover", ep["id"], "--since", "2026-01-01T00:00:00Z")
    assert j == {"recovered": 0}, j
    out = ok("recover", ep["id"], "--since", "30m")
    assert "recovered 0" in out, out
    # errors: unknown ids are exit 1 with the API's 404 line
    _, err = fails(1, "resend", "dlv_doesnotexist000")
    assert api_error_line(err, 404)[0] == "not_found", err
    _, err = fails(1, "recover", "ep_doesnotexist000", "--since", "1h")
    api_error_line(err, 404)
    out, err = fails(1, "events", "get", "evt_doesnotexist", "--json")
    api_error_line(err, 404)
    assert json.loads(out)["error"]["code"] == "not_found", out
    rcv.close()


def test_resend_of_queued_delivery_is_409():
    worker()
    import threading
    gate = threading.Event()

    def slow(req):
        gate.wait(10)
        return 200, {}, b"ok"
    rcv = Receiver(slow)
    org = "cli-queued"
    ep = ok_json("endpoints", "create", "--org", org, "--url", rcv.url())
    eid = ok_json("send", "--org", org, "--type", "a.b", "--data", "{}")["id"]
    rcv.wait(1)
    did = ok_json("events", "get", eid)["deliveries"][0]["id"]
    _, err = fails(1, "resend", did)
    assert api_error_line(err, 409)[0] == "already_queued", err
    gate.set()
    wait_for(lambda: ok_json("events", "get", eid)["deliveries"][0]["state"] == "delivered", 15, "delivered")
    assert ep["id"]
    rcv.close()


# ---------------------------------------------------------------- stats

def test_stats_prints():
    worker()
    j = wait_for(lambda: (lambda j: j if j["live_workers"] >= 1 else None)(ok_json("stats")), 15,
                 "a live worker in the stats")
    assert len(j["shards"]) == 4 and j["totals"]["events"] >= 1, j
    out = ok("stats")
    lines = out.splitlines()
    assert lines[0].split() == ["SHARD", "STREAM", "LAG", "PENDING", "RETRY", "NEXT", "DUE", "DEAD"], out
    rows = [l.split() for l in lines[1:6]]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "all"], out
    # the "all" row sums the shards; RETRY shows the retry-set size
    for col in (1, 2, 3, 4, 6):
        assert int(rows[4][col]) == sum(int(r[col]) for r in rows[:4]), (col, out)
    assert "Live workers: 1" in out and "Totals:" in out, out
    w = j["workers"][0]
    assert w["id"] in out and w["host"] in out, out
    # a scheduled retry shows its due time as "in ..."
    org = "cli-stats-retry"
    rcv = Receiver(Switch(503))
    ok_json("endpoints", "create", "--org", org, "--url", rcv.url(), "--retry-schedule", "1h")
    ok_json("send", "--org", org, "--type", "a.b", "--data", "{}")
    wait_for(lambda: ok_json("stats")["totals"]["retry_scheduled"] >= 1, 15, "a scheduled retry")
    out = ok("stats")
    allrow = [l.split() for l in out.splitlines() if l.startswith("all")][0]
    assert int(allrow[4]) >= 1 and allrow[5] == "in", out
    rcv.close()


def test_stats_watch_redraws_and_ctrl_c_exits_0():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_API_")}
    env.update(HOOKQ_API_URL=API, HOOKQ_API_TOKEN=TOKEN)
    d = tmpdir()
    outp = os.path.join(d, "watch.out")
    with open(outp, "wb") as f:
        p = subprocess.Popen([HOOKQ, "stats", "--watch", "--interval", "0.2"], env=env, stdout=f,
                             stderr=subprocess.PIPE, start_new_session=True)
    try:
        def text():
            with open(outp, "rb") as f:
                return f.read().decode()
        def views():
            return text().count("hookq stats ")
        wait_for(lambda: views() >= 3 or p.poll() is not None, 15, "three refreshes")
        assert p.poll() is None, (p.returncode, p.stderr.read().decode())
        out = text()
        assert "\x1b[2J" not in out, "no clear-screen when stdout is not a tty"
        assert "SHARD" in out and "Throughput" in out, out
        os.killpg(p.pid, signal.SIGINT)
        assert p.wait(10) == 0
        assert p.stderr.read() == b""
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        p.stderr.close()


def test_stats_watch_json_lines_and_sigterm():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_API_")}
    env.update(HOOKQ_API_URL=API, HOOKQ_API_TOKEN=TOKEN)
    p = subprocess.Popen([HOOKQ, "stats", "--watch", "--interval", "200ms", "--json"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        lines = []
        while len(lines) < 3:
            line = p.stdout.readline()
            assert line, (p.poll(), p.stderr.read())
            lines.append(json.loads(line))
        assert all("shards" in j and "totals" in j for j in lines), lines
        os.killpg(p.pid, signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        p.stdout.close()
        p.stderr.close()
    # --watch against an API that is down: the first refresh fails, exit 3
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    fails(3, "stats", "--watch", api="http://127.0.0.1:%d" % port)
    fails(1, "stats", "--watch", token="wrong-token")


def test_json_everywhere_parses():
    org = "cli-json-all"
    rcv = Receiver()
    ep = ok_json("endpoints", "create", "--org", org, "--url", rcv.url())
    cmds = [
        ["endpoints", "list", "--org", org], ["endpoints", "get", ep["id"]],
        ["endpoints", "update", ep["id"], "--name", "n"], ["endpoints", "rotate", ep["id"]],
        ["endpoints", "test", ep["id"], "--type", "a.b"],
        ["send", "--org", org, "--type", "a.b", "--data", "{}"],
        ["deliveries", "list", ep["id"]], ["recover", ep["id"], "--since", "1h"], ["stats"],
    ]
    for args in cmds:
        j = ok_json(*args)
        assert isinstance(j, dict), (args, j)
    eid = ok_json("send", "--org", org, "--type", "a.b", "--data", "{}", "--id", "evt_cli_json_all")["id"]
    assert ok_json("events", "get", eid)["id"] == eid
    # the API's error answer is printed as JSON on stdout too, exit 1
    out, err = fails(1, "endpoints", "get", "ep_nope", "--json")
    assert json.loads(out)["error"]["code"] == "not_found", out
    out, err = fails(1, "endpoints", "create", "--org", org, "--url", "ftp://x/y", "--json")
    assert json.loads(out)["error"]["field"] == "url", out
    rc, out, err = hookq("endpoints", "delete", ep["id"], "--json")
    assert rc == 0 and err == "", (rc, out, err)
    if out.strip():
        json.loads(out)
    rcv.close()


run([
    test_help_everywhere,
    test_usage_errors_exit_2,
    test_wrong_token_is_exit_1_with_message,
    test_api_down_is_exit_3,
    test_validation_error_is_exit_1,
    test_endpoint_lifecycle,
    test_create_from_data_with_flag_override,
    test_json_output_parses_and_global_flags_anywhere,
    test_send_is_delivered,
    test_resend_and_recover_real_dead_deliveries,
    test_resend_of_queued_delivery_is_409,
    test_stats_prints,
    test_stats_watch_redraws_and_ctrl_c_exits_0,
    test_stats_watch_json_lines_and_sigterm,
    test_json_everywhere_parses,
])
