"""Hostile input and secrets (issue 4): the producer against malformed,
oversized, slow and garbage requests over raw sockets (after each it still
answers a valid POST /v1/events with 202); endpoint secrets sealed at rest
with HOOKQ_MASTER_KEY (and what happens when a key is missing); Redis AUTH
with a password and an ACL user from HOOKQ_REDIS_URL."""
import base64
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import (BIN, TOKEN, Producer, Receiver, Redis, Worker, hex_sig, run,  # noqa: E402
                     standard_verify, tmpdir, wait_for, _procs)

R = Redis()
P = Producer(R)
KEY1 = "k1:" + base64.b64encode(bytes(range(32))).decode()
KEY2 = "k2:" + base64.b64encode(bytes(range(32, 64))).decode()


# ---------------------------------------------------------------- raw sockets
def connect(timeout=10):
    s = socket.create_connection((P.host, P.port), timeout=timeout)
    return s


def read_all(s, limit=1 << 20):
    """Reads until the server closes (or the timeout); returns the bytes."""
    out = b""
    try:
        while len(out) < limit:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def raw(data, timeout=10, shut=True):
    """Sends bytes on a fresh connection, half-closes, returns the answer."""
    s = connect(timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if shut:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        return read_all(s)
    finally:
        s.close()


def status_of(resp):
    if not resp.startswith(b"HTTP/1."):
        return None
    return int(resp.split(b" ", 2)[1])


def post_bytes(body, extra=b"", ctype=b"application/json"):
    return (b"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode() +
            b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: " + str(len(body)).encode() +
            b"\r\nConnection: close\r\n" + extra + b"\r\n" + body)


def still_alive():
    """The producer is running and accepts a valid event."""
    assert P.proc.poll() is None, "producer died:\n" + P.logtext()[-3000:]
    st, j = P.api("POST", "/v1/events", {"org_id": "hostile", "type": "probe.ok", "data": {"x": 1}})
    assert st == 202, (st, j)


# ---------------------------------------------------------------- hostile HTTP
def test_garbage_bytes():
    for junk in (b"\x00\xff\xfe garbage \r\n\r\n", os.urandom(4096), b"\r\n" * 100, b"GET\r\n\r\n",
                 b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200)):  # a TLS hello
        resp = raw(junk)
        assert resp == b"" or status_of(resp) == 400, resp[:200]
    still_alive()


def test_invalid_request_lines():
    for line in (b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"G\x00T / HTTP/1.1\r\n\r\n",
                 b"GET  HTTP/1.1\r\n\r\n", b"GET /\x01 HTTP/1.1\r\n\r\n", b"POST /v1/events HTTP/1.1 extra\r\n\r\n",
                 b"GET http://[::1 HTTP/1.1\r\n\r\n", b"\r\n\r\nGET / HTTP/1.1\r\nHost\r\n\r\n"):
        resp = raw(line)
        st = status_of(resp)
        # refused (4xx) or closed; http_parser takes any HTTP/d.d, so 9.9 may be answered
        assert st is None or 400 <= st < 500 or b"9.9" in line and st < 500, (line, resp[:200])
    still_alive()


def test_huge_headers_431():
    resp = raw(b"GET /v1/stats HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024) + b"\r\n\r\n")
    assert status_of(resp) == 431, resp[:200]
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
    resp = raw(b"GET /v1/stats HTTP/1.1\r\n" + many + b"\r\n")
    assert status_of(resp) == 431, resp[:200]
    resp = raw(b"GET /" + b"a" * (64 * 1024) + b" HTTP/1.1\r\n\r\n")
    assert status_of(resp) in (414, 431), resp[:200]
    still_alive()


def test_huge_bodies_413():
    big = b'{"org_id":"o","type":"a.b","data":{"x":"' + b"a" * (300 * 1024) + b'"}}'
    resp = raw(post_bytes(big))
    assert status_of(resp) == 413, resp[:200]
    # announced but never sent: answered from the Content-Length alone
    resp = raw(b"POST /v1/events HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() +
               b"\r\nContent-Length: 99999999999\r\n\r\n")
    assert status_of(resp) == 413, resp[:200]
    # chunked past the cap
    chunks = b"".join(b"10000\r\n" + b"a" * 0x10000 + b"\r\n" for _ in range(6)) + b"0\r\n\r\n"
    resp = raw(b"POST /v1/events HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() +
               b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
    assert status_of(resp) == 413, resp[:200]
    still_alive()


def test_bad_chunked_and_length_mismatch():
    head = b"POST /v1/events HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n"
    for body in (b"zz\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffffff\r\nx\r\n", b"-5\r\nhello\r\n0\r\n\r\n",
                 b"5\r\nhelloXX0\r\n\r\n", b"5;ext=\x00\r\nhello\r\n0\r\n\r\n"):
        resp = raw(head + b"Transfer-Encoding: chunked\r\n\r\n" + body)
        st = status_of(resp)
        assert st is None or st in (400, 413), (body, resp[:200])
    # both framings at once, and conflicting lengths
    resp = raw(head + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")
    assert status_of(resp) in (None, 400), resp[:200]
    resp = raw(head + b"Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello12")
    assert status_of(resp) in (None, 400), resp[:200]
    resp = raw(head + b"Content-Length: abc\r\n\r\n")
    assert status_of(resp) in (None, 400), resp[:200]
    # shorter body than announced, then EOF: no answer needed, no hang
    t0 = time.monotonic()
    resp = raw(head + b"Content-Length: 100\r\n\r\n{\"a\":1}")
    assert time.monotonic() - t0 < 8, "a truncated body held the connection"
    # longer body than announced: the rest is a (bad) next request
    body = json.dumps({"org_id": "hostile", "type": "len.mismatch", "data": {}}).encode()
    resp = raw(head + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body + b"GARBAGE")
    assert status_of(resp) == 202, resp[:300]
    still_alive()


def test_slowloris_does_not_block_others():
    s = connect(30)
    try:
        s.sendall(b"POST /v1/events HTTP/1.1\r\n")
        # a header trickling in at about one byte per second...
        trickle = b"X-Slow: " + b"a" * 4
        for i, ch in enumerate(trickle):
            s.sendall(bytes([ch]))
            t0 = time.monotonic()
            # ...while a valid request on another connection is answered within 1 s
            st, j = P.api("POST", "/v1/events", {"org_id": "hostile", "type": "during.slow", "data": {"i": i}})
            assert st == 202, (st, j)
            assert time.monotonic() - t0 < 1.0, "a request waited %.2fs behind a slow client" % (time.monotonic() - t0)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    finally:
        s.close()
    still_alive()


def test_many_idle_connections():
    socks = []
    try:
        for _ in range(200):
            socks.append(connect(10))
        for s in socks[:50]:
            s.sendall(b"GET /v1/stats HTTP/1.1\r\n")   # half a request each
        t0 = time.monotonic()
        still_alive()
        assert time.monotonic() - t0 < 5, "slow while 200 connections idle"
    finally:
        for s in socks:
            s.close()
    still_alive()


def test_invalid_utf8_and_nul_in_json():
    for body in (b'{"org_id":"o","type":"a.b","data":{"x":"\xff\xfe"}}',
                 b'{"org_id":"o\xc3","type":"a.b","data":{}}',
                 b'{"org_id":"o","type":"a.b","data":{"x":"\xed\xa0\x80"}}',    # UTF-16 surrogate as UTF-8
                 b'{"org_id":"o","type":"a.b","data":{"x":"\xc0\xaf"}}',        # overlong
                 b'{"org_id":"o","type":"a.b","data":{}}\x00',
                 b'{"org_id":"o\x00","type":"a.b","data":{}}',
                 b'\x00{"org_id":"o","type":"a.b","data":{}}'):
        resp = raw(post_bytes(body))
        assert status_of(resp) == 400, (body, resp[:300])
    # escaped NULs are valid JSON: in data they are kept, in fields refused by name
    resp = raw(post_bytes(b'{"org_id":"o\\u0000x","type":"a.b","data":{}}'))
    assert status_of(resp) == 422 and b"org_id" in resp, resp[:300]
    resp = raw(post_bytes(b'{"org_id":"hostile","type":"a.b","data":{"x":"a\\u0000b"}}'))
    assert status_of(resp) == 202, resp[:300]
    resp = raw(post_bytes(b'{"org_id":"hostile","type":"a.b","data":{"x":"\\ud800"}}'))
    assert status_of(resp) in (400, 202), resp[:300]
    still_alive()


def test_deeply_nested_json():
    for depth in (10000, 100000):
        body = b'{"org_id":"o","type":"a.b","data":' + b'[' * depth + b']' * depth + b'}'
        resp = raw(post_bytes(body))
        assert status_of(resp) == 400, resp[:300]
        body = b'{"org_id":"o","type":"a.b","data":' + b'{"a":' * depth + b'1' + b'}' * depth + b'}'
        resp = raw(post_bytes(body[:200 * 1024]))
        assert status_of(resp) in (400, 413), resp[:300]
    # also as an endpoint body
    body = b'{"org_id":"o","url":"http://x/","headers":' + b'[' * 10000 + b']' * 10000 + b'}'
    resp = raw(b"POST /v1/endpoints HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode() +
               b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert status_of(resp) == 400, resp[:300]
    still_alive()


def test_auth_header_garbage():
    for auth in (b"Bearer", b"Bearer ", b"bearer " + TOKEN.encode() + b"x", b"Basic " + TOKEN.encode(),
                 b"Bearer " + b"\xff" * 100, b"Bearer " + TOKEN.encode()[:-1], b"Bearer " + b"A" * 8000):
        resp = raw(b"POST /v1/events HTTP/1.1\r\nAuthorization: " + auth + b"\r\nContent-Length: 2\r\n\r\n{}")
        assert status_of(resp) == 401, (auth[:40], resp[:200])
    still_alive()


# ---------------------------------------------------------------- secrets at rest
def hget_cfg(r, ep_id):
    shard = int(ep_id[-3:], 16) % 4
    return r.cmd("HGET", "hq:{%d}:ep:%s" % (shard, ep_id), "cfg")


def test_master_key_seals_secrets_and_deliveries_verify():
    r = Redis()
    p = Producer(r, HOOKQ_MASTER_KEY=KEY2 + "," + KEY1)
    w = Worker(r, HOOKQ_MASTER_KEY=KEY1 + "," + KEY2)  # any order: all keys open
    rc = Receiver()
    try:
        ep = p.endpoint("sealed-org", rc.url("/s"), events=["*"],
                        auth={"type": "basic", "username": "alice", "password": "pw-Sup3rSecret!"})
        ep2 = p.endpoint("sealed-org", rc.url("/t"), events=["*"], auth={"type": "bearer", "token": "tok-Zz9-secret"},
                         secret="my-own-secret-value-42")
        for e, needles in ((ep, [ep["secret"], "pw-Sup3rSecret!"]), (ep2, ["my-own-secret-value-42", "tok-Zz9"])):
            cfg = hget_cfg(r, e["id"])
            assert cfg, e["id"]
            for n in needles:
                assert n not in cfg, (n, cfg)
            doc = json.loads(cfg)
            assert doc["secret"].startswith("enc:v1:k2:"), doc["secret"]
            assert doc.get("sealed") is True
        assert "alice" in hget_cfg(r, ep["id"])  # the username is not a secret
        p.publish("sealed-org", "lead.created", {"n": 1})
        got = {q.path: q for q in rc.wait(2)}
        s, t = got["/s"], got["/t"]
        assert s.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], s.body)
        assert standard_verify(ep["secret"], s)
        assert s.header("Authorization") == "Basic " + base64.b64encode(b"alice:pw-Sup3rSecret!").decode()
        assert t.header("X-Webhook-Signature") == "sha256=" + hex_sig("my-own-secret-value-42", t.body)
        assert t.header("Authorization") == "Bearer tok-Zz9-secret"
        # rotation re-seals both secrets; deliveries carry both signatures
        st, j = p.api("POST", "/v1/endpoints/%s/rotate-secret" % ep["id"], {})
        assert st == 200, (st, j)
        cfg = hget_cfg(r, ep["id"])
        assert j["secret"] not in cfg and ep["secret"] not in cfg
        assert json.loads(cfg)["old_secret"].startswith("enc:v1:")
        p.publish("sealed-org", "lead.created", {"n": 2})
        q = [x for x in rc.wait(4) if x.path == "/s"][-1]
        assert standard_verify(j["secret"], q) and standard_verify(ep["secret"], q)
        # PATCH keeps the sealed credentials working
        st, j2 = p.api("PATCH", "/v1/endpoints/" + ep["id"], {"name": "renamed"})
        assert st == 200, (st, j2)
        assert "pw-Sup3rSecret!" not in hget_cfg(r, ep["id"])
        # nothing secret in the logs either
        for proc in (p, w):
            log = proc.logtext()
            for n in ("pw-Sup3rSecret!", "tok-Zz9-secret", "my-own-secret-value-42", ep["secret"], KEY1[3:], KEY2[3:]):
                assert n not in log, (proc.name, n)
        assert "HOOKQ_MASTER_KEY is not set" not in p.logtext()
    finally:
        rc.close()
        w.stop()
        p.stop()


def test_unknown_key_id_fails_attempt_not_process():
    r = Redis()
    p = Producer(r, HOOKQ_MASTER_KEY=KEY1)
    rc = Receiver()
    ep = p.endpoint("kid-org", rc.url("/k"), events=["*"])
    p.stop()
    # a producer and a worker that only hold k2
    p2 = Producer(r, HOOKQ_MASTER_KEY=KEY2)
    w = Worker(r, HOOKQ_MASTER_KEY=KEY2, HOOKQ_RETRY_SCHEDULE="1s,1s")
    try:
        st, j = p2.api("GET", "/v1/endpoints/" + ep["id"])
        assert st == 200 and j["id"] == ep["id"] and "secret" not in j, (st, j)
        st, j = p2.api("GET", "/v1/endpoints?org_id=kid-org")
        assert st == 200 and len(j["data"]) == 1, (st, j)
        st, j = p2.api("PATCH", "/v1/endpoints/" + ep["id"], {"name": "x"})
        assert st == 500 and "HOOKQ_MASTER_KEY" in j["error"]["message"], (st, j)
        assert "k1:" + KEY1[3:] not in hget_cfg(r, ep["id"])
        ev = p2.publish("kid-org", "a.b", {})

        def attempt_error():
            st, j = p2.api("GET", "/v1/events/%s?org_id=kid-org" % ev["id"])
            if st != 200 or not j["deliveries"] or not j["deliveries"][0]["attempts"]:
                return None
            return j["deliveries"][0]["attempts"][0]
        a = wait_for(attempt_error, 20, "a failed attempt")
        assert a["status"] == "failed", a
        assert "decrypt" in a["error"] and "'k1'" in a["error"], a
        assert rc.count() == 0
        assert w.proc.poll() is None and p2.proc.poll() is None
        # add k1 back: the retry goes through
        w.stop()
        w2 = Worker(r, HOOKQ_MASTER_KEY=KEY2 + "," + KEY1, HOOKQ_RETRY_SCHEDULE="1s,1s")
        try:
            req = rc.wait(1, timeout=30)[0]
            assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], req.body)
        finally:
            w2.stop()
    finally:
        rc.close()
        if w.proc.poll() is None:
            w.stop()
        p2.stop()


def run_bin(binary, env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    e.update({"HOOKQ_API_TOKEN": "t", "HOOKQ_LISTEN": "127.0.0.1:0", "HOOKQ_LOG_FORMAT": "json"})
    e.update(env)
    p = subprocess.Popen([os.path.join(BIN, binary)], env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    _procs.append(p)
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return None, out.decode(), err.decode()
    return p.returncode, out.decode(), err.decode()


def test_bad_master_key_exits_2():
    raw_key = base64.b64encode(b"\x07" * 16).decode()
    for binary in ("hookq-producer", "hookq-worker"):
        for bad in ("nokid", "k1:" + raw_key, "k1:not base64!", "k1:" + KEY1[3:] + ",k1:" + KEY2[3:],
                    "bad id:" + KEY1[3:], KEY1 + ","):
            code, out, err = run_bin(binary, {"HOOKQ_REDIS_URL": R.url, "HOOKQ_MASTER_KEY": bad})
            assert code == 2, (binary, bad, code, err)
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1 and "HOOKQ_MASTER_KEY" in lines[0], (binary, err)
            assert raw_key not in err and KEY1[3:] not in err and KEY2[3:] not in err, err


def test_no_master_key_warns_once():
    log = P.logtext()
    assert log.count("HOOKQ_MASTER_KEY is not set") == 1, log[:2000]


# ---------------------------------------------------------------- Redis AUTH
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_redis_auth_password_and_acl_user():
    port = free_port()
    d = tmpdir()
    rproc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                              "--appendonly", "no", "--maxmemory-policy", "noeviction", "--requirepass", "def-Pa55",
                              "--user", "hookq", "on", ">acl-Pa55w0rd", "~*", "&*", "+@all"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    _procs.append(rproc)

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                c.sendall(b"AUTH def-Pa55\r\nPING\r\n")
                got = b""
                while b"PONG" not in got:
                    b = c.recv(100)
                    if not b:
                        return False
                    got += b
                return True
        except OSError:
            return False
    wait_for(up, 15, "redis-server with a password on 127.0.0.1:%d" % port)

    class r:   # what Producer/Worker need of a Redis: its url
        url = "redis://:def-Pa55@127.0.0.1:%d/0" % port
    rc = Receiver()
    try:
        for url in ("redis://hookq:acl-Pa55w0rd@127.0.0.1:%d/0" % port, "redis://:def-Pa55@127.0.0.1:%d/0" % port):
            env = {"HOOKQ_REDIS_URL": url}
            p = Producer(r, **env)
            w = Worker(r, **env)
            try:
                ep = p.endpoint("auth-org", rc.url("/a"), events=["*"])
                n = rc.count()
                p.publish("auth-org", "a.b", {"u": url[-8:]})
                req = rc.wait(n + 1)[-1]
                assert req.header("X-Webhook-Signature") == "sha256=" + hex_sig(ep["secret"], req.body)
                st, j = p.api("DELETE", "/v1/endpoints/" + ep["id"])
                assert st == 204, (st, j)
                for proc in (p, w):
                    log = proc.logtext()
                    assert "acl-Pa55w0rd" not in log and "def-Pa55" not in log, log[-2000:]
            finally:
                w.stop()
                p.stop()
        for binary in ("hookq-producer", "hookq-worker"):
            for url in ("redis://hookq:wrong-Pw1@127.0.0.1:%d/0" % port, "redis://:wrong-Pw2@127.0.0.1:%d/0" % port,
                        "redis://nobody:acl-Pa55w0rd@127.0.0.1:%d/0" % port):
                code, out, err = run_bin(binary, {"HOOKQ_REDIS_URL": url, "HOOKQ_SHARDS": "4"})
                assert code == 2, (binary, url, code, err)
                assert "HOOKQ_REDIS_URL" in err, err
                assert "wrong-Pw" not in err and "acl-Pa55w0rd" not in err and "wrong-Pw" not in out, err
    finally:
        rc.close()
        rproc.kill()
        rproc.wait(10)


if __name__ == "__main__":
    run([test_garbage_bytes, test_invalid_request_lines, test_huge_headers_431, test_huge_bodies_413,
         test_bad_chunked_and_length_mismatch, test_slowloris_does_not_block_others, test_many_idle_connections,
         test_invalid_utf8_and_nul_in_json, test_deeply_nested_json, test_auth_header_garbage,
         test_master_key_seals_secrets_and_deliveries_verify, test_unknown_key_id_fails_attempt_not_process,
         test_bad_master_key_exits_2, test_no_master_key_warns_once, test_redis_auth_password_and_acl_user])
