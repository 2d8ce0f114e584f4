"""The hookq admin CLI (SPEC 2): runs the built `hookq` binary against a real
producer (and a real worker for the delivery test) and checks its output,
its --json output and its exit codes: 0 ok, 1 the API answered an error,
2 usage/config error, 3 the API cannot be reached.

Routes of SPEC 6 that the producer answers 501 for now (events get,
deliveries list, resend, recover, stats) are checked to be handled cleanly
(exit 1, one "hookq: 501 not_implemented: ..." line); the assertions marked
TIGHTEN LATER accept that answer and must require success once the routes
exist."""
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, TOKEN, Producer, Receiver, Redis, Worker, hex_sig, run, standard_verify, tmpdir, wait_for  # noqa: E402,E501

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
    """Runs hookq with HOOKQ_API_URL/HOOKQ_API_TOKEN set (None = unset).
    Returns (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_API_")}
    if api is not None:
        env["HOOKQ_API_URL"] = api
    if token is not None:
        env["HOOKQ_API_TOKEN"] = token
    p = subprocess.run([HOOKQ] + list(args), env=env, input=stdin, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


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


def not_implemented_yet(rc, err):
    """TIGHTEN LATER: the producer answers 501 for the SPEC 6 inspection routes
    for now. The CLI must then exit 1 with one clean error line. Returns True
    when that is what happened (the caller skips its success checks)."""
    if rc == 1 and "hookq: 501 " in err:
        code, _ = api_error_line(err, 501)
        assert code == "not_implemented", err
        return True
    return False


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

    # events get: the event and its delivery to this endpoint
    rc, out, err = hookq("events", "get", "evt_cli_send_1", "--org", org)
    if not not_implemented_yet(rc, err):  # TIGHTEN LATER: require rc == 0
        assert rc == 0, (rc, out, err)
        assert "evt_cli_send_1" in out and ep["id"] in out, out
        wait_for(lambda: "delivered" in hookq("events", "get", "evt_cli_send_1", "--org", org)[1], 10,
                 "events get to show the delivery as delivered")
        j = ok_json("events", "get", "evt_cli_send_1", "--org", org)
        assert "evt_cli_send_1" in json.dumps(j), j

    # the endpoint's attempt log
    rc, out, err = hookq("deliveries", "list", ep["id"], "--status", "all", "--limit", "10")
    if not not_implemented_yet(rc, err):  # TIGHTEN LATER: require rc == 0
        assert rc == 0, (rc, out, err)
        assert out.splitlines()[0].split()[:3] == ["TIME", "DELIVERY", "#"], out
        assert "delivered" in out, out
        j = ok_json("deliveries", "list", ep["id"], "--status", "delivered")
        assert isinstance(j["data"], list) and j["data"], j

    # test event to this endpoint only
    rc, out, err = hookq("endpoints", "test", ep["id"], "--type", "lead.created")
    if not not_implemented_yet(rc, err):  # TIGHTEN LATER: require rc == 0
        assert rc == 0, (rc, out, err)
        rcv.wait(3)
    rcv.close()


def test_resend_and_recover_handle_answers():
    org = "cli-dead"
    ep = ok_json("endpoints", "create", "--org", org, "--url", "http://127.0.0.1:9/x")
    # TIGHTEN LATER: resend of a real dead delivery must exit 0 and re-deliver
    rc, out, err = hookq("resend", "dlv_doesnotexist000")
    if not not_implemented_yet(rc, err):
        assert rc == 1, (rc, out, err)
        api_error_line(err, 404)
    rc, out, err = hookq("recover", ep["id"], "--since", "1h")
    if not not_implemented_yet(rc, err):  # TIGHTEN LATER: require rc == 0
        assert rc == 0, (rc, out, err)
        assert "recovered 0" in out, out
        j = ok_json("recover", ep["id"], "--since", "2026-01-01T00:00:00Z")
        assert j["recovered"] == 0, j
    rc, out, err = hookq("events", "get", "evt_doesnotexist")
    if not not_implemented_yet(rc, err):
        assert rc == 1, (rc, out, err)
        api_error_line(err, 404)


# ---------------------------------------------------------------- stats

def test_stats_prints():
    rc, out, err = hookq("stats")
    if not_implemented_yet(rc, err):  # TIGHTEN LATER: require rc == 0
        assert out == ""
        return
    assert rc == 0, (rc, out, err)
    assert out.strip(), out
    assert "SHARD" in out or "shards" in out, out
    j = ok_json("stats")
    assert isinstance(j, dict) and "shards" in j, j


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
        # TIGHTEN LATER: while GET /v1/stats answers 501, --watch exits 1 at once
        first = wait_for(lambda: views() >= 1 or p.poll() is not None, 10, "a first view or an exit")
        if p.poll() is not None:
            err = p.stderr.read().decode()
            assert not_implemented_yet(p.returncode, err), (p.returncode, err)
            return
        wait_for(lambda: views() >= 3, 10, "three refreshes")
        assert first
        out = text()
        assert "\x1b[2J" not in out, "no clear-screen when stdout is not a tty"
        assert "Throughput" in out or "SHARD" in out, out
        os.killpg(p.pid, signal.SIGINT)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
        p.stderr.close()


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
    test_resend_and_recover_handle_answers,
    test_stats_prints,
    test_stats_watch_redraws_and_ctrl_c_exits_0,
])
