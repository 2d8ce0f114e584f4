"""The web console (issue 10): static files under /ui/ (Content-Type, CSP and
the other security headers, no directory traversal, 404s, GET / -> /ui/),
the event catalogue GET/POST/DELETE /v1/event-types and HOOKQ_EVENT_TYPES
validation, and then the console walked in a real browser: Debian's chromium
driven by puppeteer-core (tests/browser/console.test.mjs) against this file's
Redis, producer, worker and the script's own receiver.

The browser test never skips: when chromium, node or npm is missing it FAILS
with the reason (install them with scripts/deps). puppeteer-core is installed
into tests/browser/node_modules on first use (PUPPETEER_SKIP_DOWNLOAD=1: no
browser download). Screenshots go to tests/artifacts/console-<build dir>/."""
import http.client
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, SRC, TOKEN, Producer, Redis, Worker, run, tmpdir, wait_for  # noqa: E402,F401

TYPES = "lead.created,lead.converted,deal.won,invoice.paid"
R = Redis()
P = Producer(R, HOOKQ_EVENT_TYPES=TYPES)
W = Worker(R, HOOKQ_RETRY_SCHEDULE="1s,1s")
BROWSER_DIR = os.path.join(SRC, "tests", "browser")
CHROMIUM = os.environ.get("HOOKQ_CHROMIUM", "/usr/bin/chromium")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def raw_get(path, method="GET"):
    """GET with the path sent exactly as given (no client normalisation)."""
    c = http.client.HTTPConnection(P.host, P.port, timeout=10)
    c.putrequest(method, path, skip_accept_encoding=True)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def test_static_files_types_and_security_headers():
    want = {"/ui/": "text/html; charset=utf-8", "/ui/index.html": "text/html; charset=utf-8",
            "/ui/app.js": "text/javascript; charset=utf-8", "/ui/style.css": "text/css; charset=utf-8",
            "/ui/icon.svg": "image/svg+xml"}
    for path, ctype in want.items():
        st, h, body = raw_get(path)
        assert st == 200 and h["content-type"] == ctype, (path, st, h)
        assert h["content-security-policy"] == CSP, h
        assert h["x-content-type-options"] == "nosniff" and h["referrer-policy"] == "no-referrer", h
        assert body, path
    st, h, body = raw_get("/ui/index.html")
    html = body.decode()
    # no inline script or style, nothing from elsewhere
    assert "<script type=\"module\" src=\"app.js\"></script>" in html
    assert "<script>" not in html and "style=" not in html and "http://" not in html and "https://" not in html
    for name in os.listdir(os.path.join(SRC, "ui")):
        with open(os.path.join(SRC, "ui", name), encoding="utf-8") as f:
            text = f.read()
        assert "https://" not in text.replace("https://crm.example.com", "") or name.endswith(".md"), name
        assert "innerHTML" not in text and "eval(" not in text, name
    st, h, _ = raw_get("/ui/index.html", "HEAD")
    assert st == 200 and int(h["content-length"]) == len(body), (st, h)


def test_redirects_404_and_no_traversal():
    st, h, _ = raw_get("/")
    assert st == 302 and h["location"] == "/ui/", (st, h)
    st, h, _ = raw_get("/ui")
    assert st in (301, 302) and h["location"] == "/ui/", (st, h)
    for path in ["/ui/nope.js", "/ui/../CMakeLists.txt", "/ui/../../../../etc/passwd", "/ui/%2e%2e/CMakeLists.txt",
                 "/ui/%2e%2e%2fCMakeLists.txt", "/ui/..%2f..%2fetc%2fpasswd", "/ui/.hidden.js", "/ui/sub/app.js",
                 "/ui//etc/passwd", "/ui/CMakeLists.txt", "/ui/app.js/", "/ui/%2fetc%2fpasswd",
                 "/ui/....//....//etc/passwd"]:
        st, h, body = raw_get(path)
        assert st == 404, (path, st, body[:100])
        assert b"root:" not in body and b"cmake_minimum_required" not in body, path
    st, h, _ = raw_get("/ui/app.js", "POST")
    assert st == 405 and "GET" in h.get("allow", ""), (st, h)
    # static files need no token; the API still does
    st, _, _ = raw_get("/v1/stats")
    assert st == 401


def test_ui_dir_override_and_its_traversal():
    d = tmpdir()
    os.mkdir(os.path.join(d, "ui"))
    with open(os.path.join(d, "ui", "index.html"), "w") as f:
        f.write("<!doctype html><title>custom</title>")
    with open(os.path.join(d, "secret.txt"), "w") as f:
        f.write("do not serve")
    os.symlink(os.path.join(d, "secret.txt"), os.path.join(d, "ui", "link.txt"))
    p2 = Producer(R, HOOKQ_UI_DIR=os.path.join(d, "ui"), HOOKQ_EVENT_TYPES=" a.b , c.d")
    try:
        st, _, _, body = p2.request("GET", "/ui/", token=None)
        assert st == 200 and b"custom" in body, (st, body)
        st, j = p2.api("GET", "/v1/event-types?org_id=x")
        assert [d["type"] for d in j["data"]] == ["a.b", "c.d"], j
        for path in ["/ui/link.txt", "/ui/../secret.txt", "/ui/%2e%2e%2fsecret.txt", "/ui/app.js"]:
            c = http.client.HTTPConnection(p2.host, p2.port, timeout=10)
            c.putrequest("GET", path)
            c.endheaders()
            r = c.getresponse()
            body = r.read()
            c.close()
            assert r.status == 404 and b"do not serve" not in body, (path, r.status)
    finally:
        rc = p2.stop()
    assert rc == 0, "producer exit %s (a leak under ASan?):\n%s" % (rc, p2.logtext()[-3000:])
    env = dict(os.environ, HOOKQ_REDIS_URL=R.url, HOOKQ_API_TOKEN=TOKEN, HOOKQ_UI_DIR=os.path.join(d, "missing"))
    r = subprocess.run([os.path.join(BIN, "hookq-producer")], env=env, capture_output=True, timeout=20)
    assert r.returncode == 2 and b"HOOKQ_UI_DIR" in r.stderr, (r.returncode, r.stderr)


def test_event_types_catalogue():
    st, j = P.api("GET", "/v1/event-types?org_id=cat-org")
    assert st == 200, (st, j)
    assert j["data"] == [{"type": t, "source": "declared"} for t in sorted(TYPES.split(","))], j
    st, j = P.api("POST", "/v1/event-types", {"org_id": "cat-org", "type": "quote.sent"})
    assert st == 201 and j["type"] == "quote.sent" and j["source"] == "declared", (st, j)
    st, j = P.api("POST", "/v1/event-types", {"org_id": "cat-org", "type": "quote.sent"})
    assert st == 200, (st, j)
    st, j = P.api("POST", "/v1/event-types", {"org_id": "cat-org", "type": "bad type"})
    assert st == 422 and j["error"]["field"] == "type", (st, j)
    st, j = P.api("POST", "/v1/event-types", {"type": "a.b"})
    assert st == 422 and j["error"]["field"] == "org_id", (st, j)
    st, j = P.api("GET", "/v1/event-types")
    assert st == 422 and j["error"]["field"] == "org_id", (st, j)
    P.publish("cat-org", "form.response.created", {"x": 1})
    P.publish("cat-org", "deal.won", {"x": 1})
    P.publish("other-org", "only.there", {"x": 1})
    st, j = P.api("GET", "/v1/event-types?org_id=cat-org")
    got = {d["type"]: d["source"] for d in j["data"]}
    assert got["form.response.created"] == "seen" and got["deal.won"] == "declared" and got["quote.sent"] == "declared", j
    assert "only.there" not in got, j
    assert [d["type"] for d in j["data"]] == sorted(got), j
    st, _, _, _ = P.request("DELETE", "/v1/event-types?org_id=cat-org&type=quote.sent")
    assert st == 204
    st, j = P.api("DELETE", "/v1/event-types?org_id=cat-org&type=quote.sent")
    assert st == 404, (st, j)
    st, j = P.api("DELETE", "/v1/event-types?org_id=cat-org&type=deal.won")
    assert st == 422, (st, j)
    st, j = P.api("PUT", "/v1/event-types")
    assert st == 405, (st, j)
    st, j = P.api("GET", "/v1/event-types?org_id=cat-org", token="wrong")
    assert st == 401
    env = dict(os.environ, HOOKQ_REDIS_URL=R.url, HOOKQ_API_TOKEN=TOKEN, HOOKQ_EVENT_TYPES="lead.created,bad type")
    r = subprocess.run([os.path.join(BIN, "hookq-producer")], env=env, capture_output=True, timeout=20)
    assert r.returncode == 2 and b"HOOKQ_EVENT_TYPES" in r.stderr and b"bad type" in r.stderr, (r.returncode, r.stderr)


def ensure_puppeteer():
    """Installs puppeteer-core into tests/browser/node_modules if missing. Raises with the reason."""
    if not os.path.exists(CHROMIUM):
        raise AssertionError("chromium not found at %s: install Debian's chromium (scripts/deps --browser); "
                             "the console tests need a real browser" % CHROMIUM)
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise AssertionError("%s not found: install nodejs and npm (scripts/deps --browser)" % tool)
    if os.path.exists(os.path.join(BROWSER_DIR, "node_modules", "puppeteer-core", "package.json")):
        return
    env = dict(os.environ, PUPPETEER_SKIP_DOWNLOAD="1", PUPPETEER_SKIP_CHROMIUM_DOWNLOAD="1")
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=BROWSER_DIR, env=env,
                       capture_output=True, timeout=240)
    if r.returncode != 0:
        raise AssertionError("npm install of puppeteer-core failed (exit %d):\n%s%s"
                             % (r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")))


def test_console_in_a_real_browser():
    ensure_puppeteer()
    # one directory per build (console-build, console-build-asan, ...) so runs never clobber each other
    art = os.path.join(SRC, "tests", "artifacts", "console-" + os.path.basename(os.path.abspath(BIN)))
    os.makedirs(art, exist_ok=True)
    for f in os.listdir(art):
        if f.endswith(".png"):
            os.remove(os.path.join(art, f))
    env = dict(os.environ, HOOKQ_URL="http://%s:%d" % (P.host, P.port), HOOKQ_TOKEN=TOKEN, HOOKQ_ARTIFACTS=art,
               HOOKQ_CHROMIUM=CHROMIUM)
    proc = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "console.test.mjs")], cwd=BROWSER_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, _ = proc.communicate()
        raise AssertionError("the browser test did not finish in 240 s:\n" + out.decode(errors="replace"))
    text = out.decode(errors="replace")
    for line in text.splitlines():
        print("  browser: " + line, flush=True)
    assert proc.returncode == 0, "browser test failed (exit %d); screenshots in %s" % (proc.returncode, art)


if __name__ == "__main__":
    run([test_static_files_types_and_security_headers, test_redirects_404_and_no_traversal,
         test_ui_dir_override_and_its_traversal, test_event_types_catalogue, test_console_in_a_real_browser])
