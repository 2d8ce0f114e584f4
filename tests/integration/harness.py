"""Test harness for hookq integration tests.

Everything is real: a private redis-server on a unix socket in a temp dir,
the hookq binaries from HOOKQ_BIN_DIR, and HTTP receivers bound to port 0 on
127.0.0.1. No fixed ports, no sleeps as synchronisation: wait_for() polls a
condition with a deadline. Each test file runs its test_* functions in order
and ends with the plain "N passed, N failed" line.
"""
import atexit
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIN = os.environ.get("HOOKQ_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SRC = os.environ.get("HOOKQ_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
TOKEN = "test-token-7f3a9c"
_procs = []
_tmpdirs = []


def _cleanup():
    for p in _procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def tmpdir():
    d = tempfile.mkdtemp(prefix="hookq-test-")
    _tmpdirs.append(d)
    return d


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Polls cond() until it returns a truthy value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- Redis
class RedisError(Exception):
    pass


class Redis:
    """A private redis-server and a minimal RESP client."""

    def __init__(self, extra=(), appendonly=False):
        self.dir = tmpdir()
        self.sock = os.path.join(self.dir, "redis.sock")
        self.extra = list(extra)
        self.appendonly = appendonly
        self.proc = None
        self.start()

    def start(self):
        args = ["redis-server", "--port", "0", "--unixsocket", self.sock, "--unixsocketperm", "700",
                "--dir", self.dir, "--save", "", "--maxmemory-policy", "noeviction",
                "--appendonly", "yes" if self.appendonly else "no"] + self.extra
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        _procs.append(self.proc)
        wait_for(lambda: self._ping(), 10, "redis-server to accept connections")

    def _ping(self):
        try:
            return self.cmd("PING") == "PONG"
        except (OSError, RedisError):  # -LOADING while an AOF is replayed
            return False

    @property
    def url(self):
        return "unix://" + self.sock

    def kill(self, sig=signal.SIGKILL):
        os.killpg(self.proc.pid, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self.proc.wait(10)

    def cmd(self, *args):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.sock)
        try:
            s.sendall(_encode(args))
            f = s.makefile("rb")
            return _read(f)
        finally:
            s.close()


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _read(f):
    line = f.readline()
    if not line:
        raise OSError("connection closed")
    t, rest = line[:1], line[1:-2]
    if t == b"+":
        return rest.decode()
    if t == b"-":
        raise RedisError(rest.decode())
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        try:
            return data.decode()
        except UnicodeDecodeError:
            return data
    if t == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_read(f) for _ in range(n)]
    raise OSError("bad RESP type %r" % t)


def hgetall(r, key):
    v = r.cmd("HGETALL", key) or []
    return dict(zip(v[0::2], v[1::2]))


def delivery_hashes(r, shards=4, prefix="hq", **match):
    """Every delivery hash (<prefix>:{s}:dlv:*) whose fields equal match
    (e.g. org="o1" or ep="ep_..."), each with its key under "_key". A
    delivery hash keeps its event's id, type and creation time only in the
    event hash it names (ev): they are filled in from there as eid, type and
    created, as the API does."""
    out = []
    for s in range(shards):
        cursor = "0"
        while True:
            cursor, keys = r.cmd("SCAN", cursor, "MATCH", "%s:{%d}:dlv:*" % (prefix, s), "COUNT", 1000)
            for k in keys:
                h = hgetall(r, k)
                if "eid" not in h and h.get("ev"):
                    e = hgetall(r, h["ev"])
                    for f, ef in (("eid", "id"), ("type", "type"), ("created", "created")):
                        if ef in e:
                            h[f] = e[ef]
                if all(h.get(f) == v for f, v in match.items()):
                    h["_key"] = k
                    out.append(h)
            if cursor == "0":
                break
    return out


def compact(v):
    """JSON.stringify's bytes for values without floats: no spaces, raw UTF-8."""
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- processes
class Proc:
    """A hookq binary started with an environment; logs go to a file."""

    def __init__(self, binary, env, name=None):
        self.dir = tmpdir()
        self.name = name or binary
        self.logpath = os.path.join(self.dir, self.name + ".log")
        self.binary = binary
        self.env = env
        self.start()

    def start(self):
        env = dict(os.environ)
        env.update({k: str(v) for k, v in self.env.items()})
        self.log = open(self.logpath, "ab")
        self.proc = subprocess.Popen([os.path.join(BIN, self.binary)], env=env, stdout=self.log,
                                     stderr=self.log, start_new_session=True)
        _procs.append(self.proc)

    def logtext(self):
        with open(self.logpath, "rb") as f:
            return f.read().decode(errors="replace")

    def listen_addr(self, timeout=10):
        def find():
            if self.proc.poll() is not None:
                raise AssertionError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.logtext()))
            for line in self.logtext().splitlines():
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if j.get("msg") == "listening" and j.get("addr"):
                    return j["addr"]
            return None
        return wait_for(find, timeout, "%s to listen" % self.name)

    def signal(self, sig):
        os.killpg(self.proc.pid, sig)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def base_env(redis, **kw):
    env = {"HOOKQ_REDIS_URL": redis.url, "HOOKQ_PREFIX": "hq", "HOOKQ_SHARDS": "4",
           "HOOKQ_LOG_FORMAT": "json", "HOOKQ_ALLOW_PRIVATE_NETWORKS": "1"}
    env.update({k: str(v) for k, v in kw.items()})
    return env


class Producer(Proc):
    def __init__(self, redis, **kw):
        env = base_env(redis, HOOKQ_API_TOKEN=TOKEN, HOOKQ_LISTEN="127.0.0.1:0")
        env.update(kw)
        super().__init__("hookq-producer", env, "producer")
        host, port = self.listen_addr().rsplit(":", 1)
        self.host, self.port = host, int(port)

    def request(self, method, path, body=None, token=TOKEN, headers=None, raw=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = None
        return r.status, j, dict(r.getheaders()), text

    def api(self, method, path, body=None, **kw):
        st, j, _, _ = self.request(method, path, body, **kw)
        return st, j

    def attempt_log(self, epid, limit, status="all"):
        """Every page of GET /v1/endpoints/{epid}/deliveries: [(delivery id,
        status)] in order and the number of pages; each page's log ids are
        distinct and its next_cursor is its last log id."""
        out, cursor, n = [], None, 0
        while True:
            q = "/v1/endpoints/%s/deliveries?limit=%d&status=%s" % (epid, limit, status)
            if cursor:
                q += "&cursor=" + cursor
            st, j = self.api("GET", q)
            assert st == 200, (st, j)
            n += 1
            out += [(d["delivery_id"], d["status"]) for d in j["data"]]
            ids = [d["log_id"] for d in j["data"]]
            assert len(set(ids)) == len(ids), ids
            cursor = j["next_cursor"]
            if not cursor:
                return out, n
            assert cursor == ids[-1], (cursor, ids)

    def endpoint(self, org, url, **fields):
        body = {"org_id": org, "url": url}
        body.update(fields)
        st, j = self.api("POST", "/v1/endpoints", body)
        assert st == 201, (st, j)
        return j

    def publish(self, org, typ, data, **fields):
        body = {"org_id": org, "type": typ, "data": data}
        body.update(fields)
        st, j = self.api("POST", "/v1/events", body)
        assert st == 202, (st, j)
        return j


class Worker(Proc):
    def __init__(self, redis, name="worker", **kw):
        env = base_env(redis, HOOKQ_LISTEN="127.0.0.1:0", HOOKQ_RETRY_SCHEDULE="1s,1s",
                       HOOKQ_TIMEOUT="5s", HOOKQ_CLAIM_IDLE="10s", HOOKQ_DRAIN_TIMEOUT="5s")
        env.update({k: str(v) for k, v in kw.items()})
        super().__init__("hookq-worker", env, name)
        host, port = self.listen_addr().rsplit(":", 1)
        self.host, self.port = host, int(port)

    def get(self, path):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body


def metric(text, name, labels=None):
    """Sum of the samples of a metric in Prometheus text, optionally filtered by a label substring."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        series, value = line.rsplit(" ", 1)
        base = series.split("{", 1)[0]
        if base != name:
            continue
        if labels and labels not in series:
            continue
        total += float(value)
    return total


# ---------------------------------------------------------------- receivers
class Received:
    def __init__(self, method, path, headers, body):
        self.method, self.path, self.headers, self.body = method, path, headers, body
        self.time = time.time()

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


class Receiver:
    """An HTTP server on 127.0.0.1:<random> recording every request.

    respond(req) -> (status, headers dict, body bytes) decides the answer;
    by default 200. Set .script to a list of statuses to answer in order
    (then 200), or .respond to a function."""

    def __init__(self, respond=None):
        self.requests = []
        self.lock = threading.Lock()
        self.respond = respond or (lambda req: (200, {}, b"ok"))
        recv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                req = Received("POST", self.path, list(self.headers.items()), body)
                with recv.lock:
                    recv.requests.append(req)
                status, headers, out = recv.respond(req)
                if status is None:  # hang up without answering
                    self.close_connection = True
                    return
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST
            do_PUT = do_POST

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        with self.lock:
            return len(self.requests)

    def wait(self, n, timeout=15):
        wait_for(lambda: self.count() >= n, timeout, "%d requests at the receiver (have %d)" % (n, self.count()))
        with self.lock:
            return list(self.requests)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class ReceiverProc:
    """A receiver in its own process (argv), e.g. one written from a CRM's
    document: its first stdout line is its port, then one JSON line per
    request ({"ok", "status", "headers", "body_b64", ...}; .reqs get "body"
    decoded). capture: a file to append every request to, as received."""

    def __init__(self, argv, name, capture=None):
        self.name, self.capture = name, capture
        self.errpath = os.path.join(tmpdir(), os.path.basename(name) + ".stderr")
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE,
                                     stderr=open(self.errpath, "wb"), start_new_session=True)
        _procs.append(self.proc)  # killed by the cleanup at exit
        self.port = None
        self.reqs = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        wait_for(lambda: self.port or self._died(), 10, "%s to print its port" % name)

    def _died(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited %s: %s" % (self.name, self.proc.returncode, open(self.errpath).read()))
        return None

    def _read(self):
        for line in self.proc.stdout:
            j = json.loads(line)
            if self.port is None:
                self.port = int(j)
                continue
            j["body"] = base64.b64decode(j["body_b64"])
            if self.capture:
                with open(self.capture, "a") as f:
                    f.write(json.dumps(dict(j, receiver=self.name, body=j["body"].decode()), ensure_ascii=False) + "\n")
            with self.lock:
                self.reqs.append(j)

    def url(self, path="/webhooks"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def count(self):
        with self.lock:
            return len(self.reqs)

    def wait(self, n, timeout=20):
        wait_for(lambda: self.count() >= n or self._died(), timeout,
                 "%d requests at %s (have %d)" % (n, self.name, self.count()))
        with self.lock:
            return list(self.reqs)

    def close(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)


class RawServer:
    """A TCP listener on 127.0.0.1:<random> for receivers written by hand
    at the socket level: on_conn(conn) is called for every accepted
    connection, in a thread of its own when threaded, else in the accepting
    thread (one connection at a time). close() stops accepting."""

    def __init__(self, on_conn, threaded=True, backlog=64):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.on_conn, self.threaded = on_conn, threaded
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.threaded:
                threading.Thread(target=self.on_conn, args=(c,), daemon=True).start()
            else:
                self.on_conn(c)

    def close(self):
        self.sock.close()


def read_head(c, buf=b""):
    """Reads socket c until a request head is complete: (head, what came
    after it), or None at EOF."""
    while b"\r\n\r\n" not in buf:
        d = c.recv(65536)
        if not d:
            return None
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def read_request(c, buf=b""):
    """A whole request from socket c (a Content-Length body): (head, body,
    what came after it), or None at EOF."""
    r = read_head(c, buf)
    if r is None:
        return None
    head, rest = r
    m = re.search(rb"\r\nContent-Length: *(\d+)", head, re.I)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        d = c.recv(65536)
        if not d:
            return None
        rest += d
    return head, rest[:n], rest[n:]


def run_cli(args, api, token, stdin=None, timeout=30):
    """Runs the hookq CLI with HOOKQ_API_URL/HOOKQ_API_TOKEN set to api and
    token (None = unset; args may be bytes): (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_API_")}
    if api is not None:
        env["HOOKQ_API_URL"] = api
    if token is not None:
        env["HOOKQ_API_TOKEN"] = token
    p = subprocess.run([os.path.join(BIN, "hookq")] + list(args), env=env, input=stdin, capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def run_binary(binary, env, args=(), timeout=20):
    """Runs a hookq binary to its exit with only env's HOOKQ_* variables:
    (exit code, stdout, stderr)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("HOOKQ_")}
    e.update(env)
    p = subprocess.run([os.path.join(BIN, binary)] + list(args), env=e, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def scripted(statuses, headers=None):
    """A respond() answering the given statuses in order, then 200."""
    lock = threading.Lock()
    seq = list(statuses)

    def respond(req):
        with lock:
            st = seq.pop(0) if seq else 200
        return st, dict(headers or {}), b"status %s" % str(st).encode()
    return respond


# ---------------------------------------------------------------- signatures
def hex_sig(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_verify(secret, req):
    """Standard Webhooks verification, as the standardwebhooks/svix libraries do."""
    if secret.startswith("whsec_"):
        key = base64.b64decode(secret[len("whsec_"):])
    else:
        key = secret.encode()
    mid, ts = req.header("webhook-id"), req.header("webhook-timestamp")
    if not mid or not ts:
        return False
    msg = mid.encode() + b"." + ts.encode() + b"." + req.body
    expected = "v1," + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
    return any(hmac.compare_digest(expected, s) for s in (req.header("webhook-signature") or "").split(" "))


# ---------------------------------------------------------------- runner
def run(tests):
    """Runs the given test functions in order; prints the closing line."""
    only = os.environ.get("HOOKQ_TEST_ONLY")
    passed = failed = 0
    for t in tests:
        if only and only not in t.__name__:
            continue
        t0 = time.monotonic()
        try:
            t()
            passed += 1
            print("ok   %-50s %.2fs" % (t.__name__, time.monotonic() - t0), flush=True)
        except Exception:
            failed += 1
            print("FAIL %s" % t.__name__, flush=True)
            traceback.print_exc()
            sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    _cleanup()
    sys.exit(1 if failed else 0)
