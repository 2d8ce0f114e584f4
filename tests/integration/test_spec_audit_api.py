"""SPEC audit from outside (SPEC 2, 3, 5, 6): contract points the other
integration files leave unchecked, driven the way a black-box suite would
(real redis-server, real binaries, real HTTP; no timing assertions).

Three mismatches the audit found are pinned here: an exit-2 error of the
producer was not the only line on stderr (a warning logged during startup
came first), and an org_id of 128 four-byte characters (valid) made its
events unreadable and failed the ?org_id= check (off-by-one buffers), and a given secret with a
space (printable ASCII, SPEC 4a) was refused with 422. The
other tests pin contract points nothing else checked: HOOKQ_REQUIRE_HTTPS,
HOOKQ_MAX_BODY on every route, the idempotent repeat of a different body,
generated ids, created_at normalisation."""
import os
import re
import socket
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Receiver, Redis, Worker, hgetall, run, run_binary, wait_for  # noqa: E402

R = Redis()


start = run_binary


def good_env(redis=R, **kw):
    env = {"HOOKQ_REDIS_URL": redis.url, "HOOKQ_API_TOKEN": "t", "HOOKQ_LISTEN": "127.0.0.1:0",
           "HOOKQ_PREFIX": "audit", "HOOKQ_SHARDS": "4"}
    env.update(kw)
    return env


def one_line_exit_2(binary, env, var, value):
    """SPEC 2: a bad value gets a one-line error naming the variable and the
    value, and exit code 2 -- nothing else on stderr."""
    code, out, err = start(binary, env)
    lines = [l for l in err.splitlines() if l.strip()]
    assert code == 2, (binary, var, value, code, err)
    assert len(lines) == 1, (var, value, err)
    assert var in lines[0] and value in lines[0], (var, value, lines[0])


def stream_total(r, prefix="hq"):
    return sum(r.cmd("XLEN", "%s:{%d}:stream" % (prefix, s)) for s in range(4))


# ---------------------------------------------------------------- SPEC 2

def test_bad_listen_address_is_one_line():
    # without HOOKQ_MASTER_KEY the producer warns about clear-text secrets;
    # that warning must not come before the exit-2 line of HOOKQ_LISTEN
    for value in ("127.0.0.1:abc", "nonsense", "127.0.0.1:99999"):
        one_line_exit_2("hookq-producer", good_env(HOOKQ_LISTEN=value), "HOOKQ_LISTEN", value)


def test_listen_address_in_use_is_one_line():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        value = "127.0.0.1:%d" % s.getsockname()[1]
        one_line_exit_2("hookq-producer", good_env(HOOKQ_LISTEN=value), "HOOKQ_LISTEN", value)
    finally:
        s.close()


def test_shard_mismatch_on_evicting_redis_is_one_line():
    # a Redis whose maxmemory-policy may evict keys draws a warning; a bad
    # HOOKQ_SHARDS found afterwards must still be the only line
    r = Redis(extra=["--maxmemory-policy", "allkeys-lru"])
    r.cmd("HSET", "audit:meta", "shards", "4")
    one_line_exit_2("hookq-producer", good_env(r, HOOKQ_SHARDS="5"), "HOOKQ_SHARDS", "5")
    r.kill()


# ---------------------------------------------------------------- SPEC 3

P = Producer(R, HOOKQ_MAX_BODY="4KiB")


def test_max_body_applies_to_every_post_route():
    """SPEC 3: a body over HOOKQ_MAX_BODY is 413, whatever the route; one
    of exactly HOOKQ_MAX_BODY bytes is read."""
    st, ep = P.api("POST", "/v1/endpoints", {"org_id": "o-max", "url": "https://example.com/h"})
    assert st == 201, (st, ep)
    limit = 4096

    def body(n):
        head, tail = b'{"type":"a.b","org_id":"o-max","data":{"x":"', b'"}}'
        return head + b"y" * (n - len(head) - len(tail)) + tail
    st, j, _, _ = P.request("POST", "/v1/events", raw=body(limit))
    assert st == 202, (st, j)
    for path in ("/v1/events", "/v1/events/batch", "/v1/endpoints", "/v1/endpoints/%s" % ep["id"],
                 "/v1/endpoints/%s/rotate-secret" % ep["id"], "/v1/endpoints/%s/recover" % ep["id"]):
        method = "PATCH" if path.endswith(ep["id"]) else "POST"
        st, j, _, _ = P.request(method, path, raw=body(limit + 1))
        assert st == 413, (path, st, j)


def test_repeat_with_another_body_answers_the_first_and_enqueues_nothing():
    """SPEC 3: a repeat of (org_id, id) returns the first answer -- even when
    its body differs and the org's endpoints changed since -- and enqueues
    nothing."""
    st, _ = P.api("POST", "/v1/endpoints", {"org_id": "o-rep", "url": "https://example.com/a",
                                            "events": ["lead.*"]})
    assert st == 201
    first = P.publish("o-rep", "lead.created", {"n": 1}, id="rep-1")
    assert first == {"id": "rep-1", "deliveries": 1}, first
    st, _ = P.api("POST", "/v1/endpoints", {"org_id": "o-rep", "url": "https://example.com/b"})
    assert st == 201
    before = stream_total(R)
    for body in ({"type": "lead.created", "org_id": "o-rep", "id": "rep-1", "data": {"n": 2}},
                 {"type": "deal.won", "org_id": "o-rep", "id": "rep-1", "data": {}}):
        st, j, h, _ = P.request("POST", "/v1/events", body)
        assert st == 202 and j == first, (st, j)
        assert h.get("Idempotent-Replayed") == "true", h
    st, j = P.api("POST", "/v1/events/batch", {"events": [{"type": "x.y", "org_id": "o-rep", "id": "rep-1",
                                                           "data": {}}]})
    assert st == 202, (st, j)
    assert j["results"] == [{"status": 202, "id": "rep-1", "deliveries": 1, "replayed": True}], j
    assert stream_total(R) == before, "a repeat must enqueue nothing"
    st, ev = P.api("GET", "/v1/events/rep-1?org_id=o-rep")
    assert st == 200 and ev["type"] == "lead.created" and ev["data"] == {"n": 1}, ev


def test_generated_ids_and_answer_shape():
    """SPEC 3: without an id the producer makes evt_ + 24 or more random
    hex/base32 characters; the answer is exactly {"id", "deliveries"}."""
    ids = set()
    for _ in range(20):
        st, j, h, _ = P.request("POST", "/v1/events", {"type": "a.b", "org_id": "o-ids", "data": {}})
        assert st == 202 and set(j) == {"id", "deliveries"} and j["deliveries"] == 0, (st, j)
        assert h.get("Content-Type", "").startswith("application/json"), h
        assert re.fullmatch(r"evt_[a-z0-9]{24,}", j["id"]), j
        ids.add(j["id"])
    st, j = P.api("POST", "/v1/events/batch", {"events": [{"type": "a.b", "org_id": "o-ids", "data": {}}] * 20})
    assert st == 202, (st, j)
    for r in j["results"]:
        assert re.fullmatch(r"evt_[a-z0-9]{24,}", r["id"]), r
        ids.add(r["id"])
    assert len(ids) == 40, "generated ids must be unique"


def test_longest_org_id_is_readable_back():
    """SPEC 3: org_id is 1-128 characters -- 128 characters of four UTF-8
    bytes each (512 bytes) included. An event of such an org can be read
    back (SPEC 6), and its endpoint passes the ?org_id= tenancy check."""
    org = "\U0001F600" * 128
    q = "?org_id=" + quote(org, safe="")
    st, ep = P.api("POST", "/v1/endpoints", {"org_id": org, "url": "https://example.com/h"})
    assert st == 201, (st, ep)
    assert P.publish(org, "a.b", {"k": 1}, id="emoji-org-1") == {"id": "emoji-org-1", "deliveries": 1}
    for path in ("/v1/events/emoji-org-1", "/v1/events/emoji-org-1" + q):
        st, ev = P.api("GET", path)
        assert st == 200 and ev["org_id"] == org and len(ev["deliveries"]) == 1, (path, st, ev)
    st, j = P.api("GET", "/v1/events/emoji-org-1?org_id=" + quote(org + "x", safe=""))
    assert st == 404, (st, j)
    for path in ("/v1/endpoints/%s%s" % (ep["id"], q), "/v1/endpoints/%s/deliveries%s" % (ep["id"], q)):
        st, j = P.api("GET", path)
        assert st == 200, (path, st, j)
    st, j = P.api("GET", "/v1/endpoints/%s?org_id=%s" % (ep["id"], quote(org[:-1], safe="")))
    assert st == 404, (st, j)
    st, j = P.api("POST", "/v1/deliveries/%s/resend%s" % (ev["deliveries"][0]["id"], q))
    assert st in (202, 409), (st, j)   # found: re-enqueued, or still queued (no worker runs here)


def test_created_at_is_stored_in_utc():
    """SPEC 3: created_at is RFC 3339 UTC; an offset is converted, not
    kept; what is not RFC 3339 is 422 naming created_at."""
    for i, (given, stored) in enumerate((("2026-04-12T15:32:11Z", "2026-04-12T15:32:11Z"),
                                         ("2026-04-12T17:32:11+02:00", "2026-04-12T15:32:11Z"),
                                         ("2026-04-12T15:32:11.250Z", "2026-04-12T15:32:11.250Z"))):
        P.publish("o-ca", "a.b", {}, id="ca-%d" % i, created_at=given)
        st, ev = P.api("GET", "/v1/events/ca-%d?org_id=o-ca" % i)
        assert st == 200 and ev["created_at"] == stored, (given, ev)
    for bad in ("2026-04-12 15:32:11Z", "2026-04-12T15:32:11", "2026-02-30T00:00:00Z", "yesterday", 1776007931, ""):
        st, j = P.api("POST", "/v1/events", {"type": "a.b", "org_id": "o-ca", "data": {}, "created_at": bad})
        assert st == 422 and j["error"]["field"] == "created_at", (bad, st, j)


# ---------------------------------------------------------------- SPEC 5

def test_require_https_on_create_and_patch():
    """SPEC 5: URLs must be http or https with a host; https only when
    HOOKQ_REQUIRE_HTTPS=1 -- on create and on PATCH."""
    st, j = P.api("POST", "/v1/endpoints", {"org_id": "o-tls", "url": "http://example.com/h"})
    assert st == 201, (st, j)
    p = Producer(R, HOOKQ_REQUIRE_HTTPS="1")
    try:
        st, j = p.api("POST", "/v1/endpoints", {"org_id": "o-tls", "url": "http://example.com/h"})
        assert st == 422 and j["error"]["field"] == "url", (st, j)
        st, ep = p.api("POST", "/v1/endpoints", {"org_id": "o-tls", "url": "https://example.com/h"})
        assert st == 201, (st, ep)
        st, j = p.api("PATCH", "/v1/endpoints/" + ep["id"], {"url": "http://example.com/h"})
        assert st == 422 and j["error"]["field"] == "url", (st, j)
        st, j = p.api("GET", "/v1/endpoints/" + ep["id"])
        assert st == 200 and j["url"] == "https://example.com/h", j
    finally:
        p.stop()


def test_secret_may_contain_spaces():
    """SPEC 4a: a given secret is 16-256 printable ASCII (0x20-0x7e, so a
    space too) and is used as is, on create and on rotate."""
    secret = "my webhook secret 2026"
    st, j = P.api("POST", "/v1/endpoints", {"org_id": "o-sec", "url": "https://example.com/h", "secret": secret})
    assert st == 201 and j["secret"] == secret, (st, j)
    st, r = P.api("POST", "/v1/endpoints/%s/rotate-secret" % j["id"], {"secret": "another one, with spaces"})
    assert st == 200 and r["secret"] == "another one, with spaces", (st, r)
    cfg = hgetall(R, "hq:{%d}:ep:%s" % (int(j["id"][-3:], 16), j["id"]))["cfg"]
    assert "another one, with spaces" in cfg, cfg


def test_worker_is_live_before_its_first_delivery():
    """SPEC 6: GET /v1/stats counts live workers. A worker's first heartbeat
    goes out as its Redis connection is ready, before the load of what it
    claims (the same connection, outside Redis Cluster), so a receiver that
    asks the stats while its first delivery is in flight sees it; it used to
    wait for the first cron tick, after the first deliveries."""
    seen = []

    def respond(req):
        st, j = P.api("GET", "/v1/stats")
        seen.append(j["live_workers"] if st == 200 else ("status", st))
        return 200, {}, b"ok"
    rcv = Receiver(respond)
    st, ep = P.api("POST", "/v1/endpoints", {"org_id": "o-live", "url": rcv.url("/h")})
    assert st == 201, (st, ep)
    P.publish("o-live", "a.b", {"n": 1})
    w = Worker(R, "worker-live")
    try:
        wait_for(lambda: seen, 20, "the first delivery")
        assert seen[0] == 1, seen
    finally:
        w.stop()
        rcv.close()


def test_event_with_id_batch_is_readable():
    """SPEC 3/6: a client-given event id may be "batch"; GET /v1/events/batch
    is then that event (POST stays the batch route; other methods are 405
    naming both)."""
    st, j = P.api("POST", "/v1/events", {"org_id": "o-batchid", "type": "a.b", "data": {"k": 1}, "id": "batch"})
    assert st == 202 and j["id"] == "batch", (st, j)
    st, j = P.api("GET", "/v1/events/batch")
    assert st == 200 and j["id"] == "batch" and j["org_id"] == "o-batchid", (st, j)
    st, j, h, _ = P.request("PUT", "/v1/events/batch", {})
    assert st == 405 and "POST" in h.get("Allow", "") and "GET" in h.get("Allow", ""), (st, j, h)


if __name__ == "__main__":
    tests = [test_bad_listen_address_is_one_line, test_listen_address_in_use_is_one_line,
             test_shard_mismatch_on_evicting_redis_is_one_line, test_max_body_applies_to_every_post_route,
             test_repeat_with_another_body_answers_the_first_and_enqueues_nothing,
             test_generated_ids_and_answer_shape, test_longest_org_id_is_readable_back,
             test_created_at_is_stored_in_utc,
             test_require_https_on_create_and_patch, test_secret_may_contain_spaces,
             test_worker_is_live_before_its_first_delivery, test_event_with_id_batch_is_readable]
    run(tests)
