"""SSRF guard (SPEC 2 HOOKQ_ALLOW_PRIVATE_NETWORKS, docs/security.md).

Workers here run with HOOKQ_ALLOW_PRIVATE_NETWORKS=0, next to a receiver on
127.0.0.1. Every spelling of a loopback target (decimal, hex, short form,
IPv4-mapped IPv6, 0.0.0.0, names that resolve to 127.0.0.1) must end as an
attempt of class "blocked" with an error saying why, and the receiver must
get nothing. HOOKQ_ALLOW_CIDRS lets deliberate internal targets through.

DNS rebinding: the guard judges the address curl actually connects to
(CURLOPT_OPENSOCKETFUNCTION, after resolution), never the URL text or an
earlier lookup. A name whose resolution turns into 127.0.0.1 is therefore
refused at connect time whatever it resolved to before; "localhost" and this
machine's host name (both resolving to 127.0.0.1 here) prove the path."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import BIN, Producer, Receiver, Redis, Worker, base_env, metric, run, wait_for  # noqa: E402


def attempts_by_endpoint(P, evid, org):
    st, j = P.api("GET", "/v1/events/%s?org_id=%s" % (evid, org))
    assert st == 200, (st, j)
    return {d["endpoint_id"]: d.get("attempts") or [] for d in j["deliveries"]}


def loopback_names():
    """Host names that resolve to 127.0.0.1 on this machine."""
    out = ["localhost"]
    for name in (socket.gethostname(),):
        try:
            if name and name != "localhost" and socket.gethostbyname(name).startswith("127."):
                out.append(name)
        except OSError:
            pass
    return out


def test_every_loopback_spelling_is_blocked():
    R = Redis()
    P = Producer(R)
    W = Worker(R, HOOKQ_ALLOW_PRIVATE_NETWORKS="0")
    rc = Receiver()
    port = rc.port
    urls = ["http://127.0.0.1:%d/a" % port,
            "http://2130706433:%d/b" % port,          # decimal
            "http://0x7f.1:%d/c" % port,              # hex, short form
            "http://0x7f000001:%d/d" % port,          # hex
            "http://017700000001:%d/e" % port,        # octal
            "http://127.1:%d/f" % port,               # short form
            "http://0.0.0.0:%d/g" % port,             # "this host" reaches loopback on Linux
            "http://[::ffff:127.0.0.1]:%d/h" % port,  # IPv4-mapped IPv6
            "http://[::ffff:7f00:1]:%d/i" % port,
            "http://[::1]:%d/j" % port]
    urls += ["http://%s:%d/n%d" % (n, port, i) for i, n in enumerate(loopback_names())]
    eps = {}
    for u in urls:
        ep = P.endpoint("org-ssrf", u, events=["*"])
        eps[ep["id"]] = u
    j = P.publish("org-ssrf", "lead.created", {"x": 1})
    assert j["deliveries"] == len(urls), j

    def all_attempted():
        a = attempts_by_endpoint(P, j["id"], "org-ssrf")
        return a if all(a.get(e) for e in eps) else None
    a = wait_for(all_attempted, 20, "a first attempt on every endpoint")
    for epid, url in eps.items():
        first = a[epid][0]
        assert first["class"] == "blocked", (url, first)
        assert first["status"] == "failed", (url, first)
        assert first["http_status"] is None, (url, first)
        err = first["error"]
        assert err.startswith("blocked: refused to connect to "), (url, err)
        assert "not a public address" in err and "HOOKQ_ALLOW_PRIVATE_NETWORKS=0" in err, (url, err)
        assert ("loopback" in err or "this network" in err or "IPv4-mapped" in err), (url, err)
    _, body = W.get("/metrics")
    assert metric(body, "hookq_attempts_total", 'class="blocked"') >= len(urls), body
    assert rc.count() == 0, [r.path for r in rc.requests]
    # the retries are blocked just the same
    wait_for(lambda: metric(W.get("/metrics")[1], "hookq_attempts_total", 'class="blocked"') >= 2 * len(urls),
             20, "the retries")
    assert rc.count() == 0
    assert W.stop() == 0, W.logtext()[-2000:]
    P.stop()
    rc.close()


def test_allow_cidrs_lets_internal_targets_through():
    R = Redis()
    P = Producer(R)
    W = Worker(R, HOOKQ_ALLOW_PRIVATE_NETWORKS="0", HOOKQ_ALLOW_CIDRS="10.0.0.0/8, 127.0.0.0/8,fd00::/8")
    rc = Receiver()
    port = rc.port
    paths = {"/plain": "http://127.0.0.1:%d/plain",
             "/decimal": "http://2130706433:%d/decimal",
             "/mapped": "http://[::ffff:127.0.0.1]:%d/mapped",
             "/name": "http://localhost:%d/name"}
    for p, u in paths.items():
        P.endpoint("org-allow", u % port, events=["*"])
    P.publish("org-allow", "lead.created", {"x": 1})
    got = rc.wait(len(paths), 20)
    assert sorted(r.path for r in got) == sorted(paths), [r.path for r in got]
    _, body = W.get("/metrics")
    assert metric(body, "hookq_attempts_total", 'class="blocked"') == 0, body
    assert W.stop() == 0, W.logtext()[-2000:]
    P.stop()
    rc.close()


def test_allow_cidrs_outside_the_list_still_blocked():
    R = Redis()
    P = Producer(R)
    W = Worker(R, HOOKQ_ALLOW_PRIVATE_NETWORKS="0", HOOKQ_ALLOW_CIDRS="127.0.0.2/32,::1/128")
    rc = Receiver()
    ep = P.endpoint("org-part", rc.url("/x"), events=["*"])
    j = P.publish("org-part", "lead.created", {"x": 1})
    a = wait_for(lambda: attempts_by_endpoint(P, j["id"], "org-part").get(ep["id"]), 20, "an attempt")
    assert a[0]["class"] == "blocked" and "127.0.0.1" in a[0]["error"], a[0]
    assert rc.count() == 0
    assert W.stop() == 0, W.logtext()[-2000:]
    P.stop()
    rc.close()


def test_bad_allow_cidrs_exits_2_naming_it():
    R = Redis()
    for bad in ["10.0.0.0", "10.0.0.1/8", "10.0.0.0/33", "fd00::/129", "fd00::1/8", "abc/8", "10.0.0.0/8,,",
                ",", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8x", "300.0.0.0/8", "10.0.0.0/ 8"]:
        env = dict(os.environ)
        env.update(base_env(R, HOOKQ_LISTEN="127.0.0.1:0", HOOKQ_ALLOW_CIDRS=bad))
        p = subprocess.run([os.path.join(BIN, "hookq-worker")], env=env, capture_output=True, timeout=20)
        err = p.stderr.decode()
        assert p.returncode == 2, (bad, p.returncode, err)
        assert "HOOKQ_ALLOW_CIDRS" in err and bad in err, (bad, err)
        assert len(err.strip().splitlines()) == 1, (bad, err)
    # the flag form is checked the same way
    env = dict(os.environ)
    env.update(base_env(R, HOOKQ_LISTEN="127.0.0.1:0"))
    p = subprocess.run([os.path.join(BIN, "hookq-worker"), "--allow-cidrs=1.2.3.4/40"], env=env,
                       capture_output=True, timeout=20)
    assert p.returncode == 2 and "HOOKQ_ALLOW_CIDRS" in p.stderr.decode(), p.stderr
    p = subprocess.run([os.path.join(BIN, "hookq-worker"), "--help"], capture_output=True, timeout=20)
    assert b"HOOKQ_ALLOW_CIDRS" in p.stdout + p.stderr


if __name__ == "__main__":
    run([test_every_loopback_spelling_is_blocked, test_allow_cidrs_lets_internal_targets_through,
         test_allow_cidrs_outside_the_list_still_blocked, test_bad_allow_cidrs_exits_2_naming_it])
