"""Batch ingest (issue 5): POST /v1/events/batch publishes each shard's
events with one FCALL hookq_publish_batch_v2, and reads most bodies with the
producer's own scanner (producer/evscan.c) instead of jansson. Checked here:
hookq_publish_batch_v2 (and hookq_publish_batch, an older producer's call)
writes exactly what hookq_publish called event by event writes, delivery
ids included (random workloads: repeats, several orgs, patterns, inactive
endpoints, the seen-types cap); the API keeps per-item results in order,
replays (also of a repeat inside one batch), 207 when a shard's call fails
while the other shards' events stay accepted; and an event's stored data is
the same canonical JSON whichever way the body was read (scanner, jansson,
single POST)."""
import hashlib
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Producer, Redis, RedisError, hgetall, run  # noqa: E402

R = Redis()
P = Producer(R)
with open(os.path.join(SRC, "common", "hookq.lua")) as f:
    LIB = f.read()
SHARDS = 4  # the harness's HOOKQ_SHARDS


def shard_of(org):
    h = 2166136261
    for b in org.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % SHARDS


def sha1_21(s):
    return hashlib.sha1(s.encode()).hexdigest()[:21]


def digest(org, eid):
    """An event's digest (hq_event_digest): its first delivery's id is
    "dlv_" + this + the shard; the others hash it with their position."""
    return sha1_21(org + "\0" + eid)


def dump(r, prefix):
    """Every key under prefix with its content (stream ids and `sid`
    fields left out: they are times), TTLs rounded to 10 s."""
    out = {}
    for k in sorted(r.cmd("KEYS", prefix + "*")):
        t = r.cmd("TYPE", k)
        if t == "hash":
            h = r.cmd("HGETALL", k)
            d = dict(zip(h[::2], h[1::2]))
            d.pop("sid", None)
            v = d
        elif t == "set":
            v = sorted(r.cmd("SMEMBERS", k))
        elif t == "stream":
            v = [e[1] for e in r.cmd("XRANGE", k, "-", "+")]
        else:
            v = t
        ttl = r.cmd("TTL", k)
        out[k[len(prefix):]] = (v, ttl if ttl < 0 else round(ttl, -1))
    return out


def test_batch_function_writes_what_single_publishes_write():
    # a: hookq_publish per event; b: hookq_publish_batch (an older
    # producer's call); c: hookq_publish_batch_v2 with the digests given
    a, b, c = Redis(), Redis(), Redis()
    for r in (a, b, c):
        r.cmd("FUNCTION", "LOAD", "REPLACE", LIB)
    T = "x:{2}:"
    rnd = random.Random(7)
    orgs = ["o%d" % i for i in range(4)]
    subs = [" * ", " lead.* ", " deal.* ", " a b.c ", " deal.x.* lead.won "]
    types = ["lead.created", "lead.won", "deal.x.y", "a", "b.c", "t.1", "t.2"]
    for r in (a, b, c):
        for o in orgs:
            for k in range(orgs.index(o) + 1):
                ep = "ep_%s_%d" % (o, k)
                r.cmd("SADD", T + "org:%s:eps" % o, ep)
                r.cmd("HSET", T + "ep:" + ep, "act", "1" if k % 3 else "0", "sub", subs[(k + len(o)) % 5])
        for i in range(996):  # o1 is 4 types short of the seen-types cap
            r.cmd("SADD", T + "org:o1:seen", "pre%d" % i)
    now, keep = "1700000000000", "86400"
    for _ in range(15):
        evs = [(rnd.choice(orgs), "e%d" % rnd.randint(0, 60), rnd.choice(types), "2026-01-01T00:00:00Z",
                "1767225600000", '{"i":%d}' % rnd.randint(0, 9)) for _ in range(rnd.randint(1, 30))]
        want = []
        for (o, eid, typ, ca, ts, data) in evs:
            r = a.cmd("FCALL", "hookq_publish", 4, T + "ev:%s:%s" % (o, eid), T + "org:%s:eps" % o, T + "stream",
                      T + "eid:" + eid, T, o, eid, typ, ca, ts, data, now, keep, "002", "", "0")
            want.append(r[1] if r[0] == "new" else -1 - r[1])
        ks = [T + "ev:%s:%s" % (e[0], e[1]) for e in evs]
        got = b.cmd("FCALL", "hookq_publish_batch", 1 + len(ks), T + "stream", *ks, T, now, keep, "002",
                    *[x for e in evs for x in e])
        assert got == want, (got, want)
        got = c.cmd("FCALL", "hookq_publish_batch_v2", 1 + len(ks), T + "stream", *ks, T, now, keep, "002",
                    *[x for e in evs for x in e + (digest(e[0], e[1]),)])
        assert got == want, (got, want)
    da, db, dc = dump(a, T), dump(b, T), dump(c, T)
    assert da == db, sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))[:5]
    assert da == dc, sorted(k for k in set(da) | set(dc) if da.get(k) != dc.get(k))[:5]
    assert len(db["org:o1:seen"][0]) == 1000
    # delivery ids: "dlv_" + the event's digest (first target) or its hash with the position + shard
    for k, (v, _) in da.items():
        if k.startswith("ev:"):
            h = digest(v["org"], v["id"])
            want = ["dlv_%s002" % (h if j == 0 else sha1_21("%s/%d" % (h, j))) for j in range(int(v["n"]))]
            assert v.get("dl", "").split() == want, (k, v.get("dl"), want)
            for j, did in enumerate(want):
                d = da["dlv:" + did][0]
                assert d["ev"] == T + k and d["st"] == "pending", d
                assert not {"r", "upd", "eid", "type", "created"} & set(d) and d["n"] == "0", d
    try:
        c.cmd("FCALL", "hookq_publish_batch_v2", 2, T + "stream", T + "ev:o0:short", T, now, keep, "002",
              "o0", "short", "a", "2026-01-01T00:00:00Z", "1767225600000", "{}", "abc")
        raise AssertionError("a short digest was taken")
    except RedisError as e:
        assert "digest" in str(e), e
    assert c.cmd("EXISTS", T + "ev:o0:short") == 0


def test_batch_spans_shards_in_order_with_replays():
    orgs = ["bs-%d" % i for i in range(12)]
    assert len({shard_of(o) for o in orgs}) == SHARDS
    for o in orgs:
        P.endpoint(o, "http://127.0.0.1:9/", events=["*"])
    events = [{"type": "t.x", "org_id": orgs[i % 12], "id": "bs-e%d" % (i % 20), "data": {"i": i}}
              for i in range(30)]
    events.insert(5, {"type": "bad type", "org_id": "bs-0", "data": {}})
    st, j = P.api("POST", "/v1/events/batch", {"events": events})
    assert st == 207, (st, j)
    res = j["results"]
    assert len(res) == 31 and res[5]["status"] == 422 and res[5]["error"]["field"] == "type", res[5]
    rest = res[:5] + res[6:]
    assert all(r["status"] == 202 and r["deliveries"] == 1 for r in rest), rest
    # ids repeat from the 21st event on, each time with another org: not a
    # replay (ingest is idempotent on (org_id, id))
    seen = set()
    for ev, r in zip(events[:5] + events[6:], rest):
        key = (ev["org_id"], ev["id"])
        assert r["id"] == ev["id"]
        assert r.get("replayed", False) == (key in seen), (ev, r)
        seen.add(key)
    st, j = P.api("POST", "/v1/events/batch", {"events": events[:3]})
    assert st == 202 and all(r.get("replayed") for r in j["results"]), j
    # a repeat inside one batch is a replay of the first
    st, j = P.api("POST", "/v1/events/batch", {"events": [
        {"type": "t.y", "org_id": "bs-1", "id": "twice", "data": {}},
        {"type": "t.y", "org_id": "bs-1", "id": "twice", "data": {"other": 1}}]})
    assert st == 202, (st, j)
    assert "replayed" not in j["results"][0] and j["results"][1]["replayed"] is True, j
    assert j["results"][1]["deliveries"] == j["results"][0]["deliveries"] == 1, j
    ev = hgetall(R, "hq:{%d}:ev:bs-1:twice" % shard_of("bs-1"))
    assert ev["data"] == "{}", ev


def test_older_library_reloaded_mid_rollout():
    """An older process put back its library, which has no
    hookq_publish_batch_v2: the producer is told "Function not found", loads
    its own again and publishes the batch, with the same delivery ids."""
    old = LIB.replace("redis.register_function('hookq_publish_batch_v2',", "local _ = (")
    assert old != LIB
    R.cmd("FUNCTION", "LOAD", "REPLACE", old)
    org = "bs-roll"
    P.endpoint(org, "http://127.0.0.1:9/x", events=["*"])
    st, j = P.api("POST", "/v1/events/batch", {"events": [
        {"type": "t.r", "org_id": org, "id": "roll%d" % i, "data": {}} for i in range(3)]})
    assert st == 202 and all(r["status"] == 202 and r["deliveries"] == 1 for r in j["results"]), (st, j)
    assert "hookq_publish_batch_v2" in str(R.cmd("FUNCTION", "LIST", "LIBRARYNAME", "hookq"))
    for i in range(3):
        ev = hgetall(R, "hq:{%d}:ev:%s:roll%d" % (shard_of(org), org, i))
        assert ev["dl"] == "dlv_%s%03x" % (digest(org, "roll%d" % i), shard_of(org)), ev


def test_never_attempted_delivery_resent_by_an_older_library():
    """A delivery hash published by this library must stay re-sendable by
    the previous one, which an older process puts back mid-rollout (FUNCTION
    LOAD REPLACE on connect): its hookq_resend/hookq_recover computes the
    next attempt as n + 1 with no default. Here a lost delivery (its stream
    entry deleted while pending, recorded as lost by hookq_reclaim) that was
    never attempted: the older resend must re-queue it, not fail after it
    dropped the lost record (a failed function keeps what it wrote, and the
    delivery would then stay "pending" for ever, never re-sendable)."""
    old = LIB.replace("tonumber(f[4] or '0') + 1", "tonumber(f[4]) + 1")
    assert old != LIB
    r = Redis()
    r.cmd("FUNCTION", "LOAD", "REPLACE", LIB)
    T = "x:{1}:"
    r.cmd("XGROUP", "CREATE", T + "stream", "workers", "$", "MKSTREAM")
    r.cmd("FCALL", "hookq_ep_put", 2, T + "ep:ep_a001", T + "org:o:eps", "ep_a001", "{}", " * ", "1", "o", "1",
          "create")
    r.cmd("FCALL", "hookq_publish", 4, T + "ev:o:e1", T + "org:o:eps", T + "stream", T + "eid:e1", T, "o", "e1",
          "t.x", "2026-01-01T00:00:00Z", "1767225600000", "{}", "1000", "86400", "001", "", "0")
    did = r.cmd("HGET", T + "ev:o:e1", "dl")
    sid = r.cmd("XREADGROUP", "GROUP", "workers", "w1", "COUNT", 10, "STREAMS", T + "stream", ">")[0][1][0][0]
    r.cmd("XDEL", T + "stream", sid)
    got = r.cmd("FCALL", "hookq_reclaim", 2, T + "stream", T + "dead", T, "w2", "0", "10", "5", "3000", "86400",
                "0-0")
    assert got[3] == 1 and hgetall(r, T + "lost") == {sid: "3000"}, got
    r.cmd("FUNCTION", "LOAD", "REPLACE", old)
    got = r.cmd("FCALL", "hookq_resend", 3, T + "stream", T + "retry", T + "dead", T, did, "5000")
    assert got == "ok", got
    e = r.cmd("XRANGE", T + "stream", "-", "+")
    assert len(e) == 1 and dict(zip(e[0][1][::2], e[0][1][1::2]))["n"] == "1", e
    assert hgetall(r, T + "lost") == {} and r.cmd("HGET", T + "dlv:" + did, "sid") == e[0][0]
    r.kill()


def test_a_batch_bigger_than_one_call():
    """More events of one shard than one call takes (CALL_MAX, 200): the
    calls keep the order, so a repeat in a later call is still a replay;
    generated ids are distinct and in hq_id_event's form."""
    P.endpoint("big", "http://127.0.0.1:9/", events=["*"])
    events = [{"type": "t.big", "org_id": "big", "data": {"i": i}} for i in range(450)]
    for i in (10, 250, 420):
        events[i]["id"] = "big-%d" % i
    events[300]["id"], events[449]["id"] = "big-10", "big-250"
    st, j = P.api("POST", "/v1/events/batch", {"events": events})
    assert st == 202, (st, j)
    res = j["results"]
    assert [i for i, r in enumerate(res) if r.get("replayed")] == [300, 449], res[300]
    ids = [r["id"] for r in res]
    gen = [x for i, x in enumerate(ids) if "id" not in events[i]]
    assert len(set(gen)) == len(gen) == 445 and all(re.fullmatch("evt_[0-9a-f]{24}", x) for x in gen), gen[:3]
    assert int(R.cmd("HGET", "hq:{%d}:stats" % shard_of("big"), "events")) >= 448


def test_a_failing_shard_gets_503_and_the_others_stay_accepted():
    good, bad = "fs-good", None
    for i in range(100):
        if shard_of("fs-bad%d" % i) != shard_of(good):
            bad = "fs-bad%d" % i
            break
    P.endpoint(good, "http://127.0.0.1:9/", events=["*"])
    # the bad org's endpoint set is not a set: its shard's call fails while
    # reading, before writing anything
    R.cmd("SET", "hq:{%d}:org:%s:eps" % (shard_of(bad), bad), "x")
    events = [{"type": "t.z", "org_id": good if i % 2 else bad, "data": {"i": i}} for i in range(6)]
    st, j = P.api("POST", "/v1/events/batch", {"events": events})
    assert st == 207, (st, j)
    for i, r in enumerate(j["results"]):
        if i % 2:
            assert r["status"] == 202 and r["deliveries"] == 1, r
        else:
            assert r["status"] == 503 and r["error"]["code"] == "redis_unavailable", r
    # nothing of the failed call was written
    assert R.cmd("EXISTS", "hq:{%d}:org:%s:seen" % (shard_of(bad), bad)) == 0
    # every event refused: the whole answer is 503, as before
    st, j, h, _ = P.request("POST", "/v1/events/batch", {"events": [events[0], events[2]]})
    assert st == 503 and h.get("Retry-After") == "1", (st, j)
    R.cmd("DEL", "hq:{%d}:org:%s:eps" % (shard_of(bad), bad))


def stored_data(org, eid):
    return hgetall(R, "hq:{%d}:ev:%s:%s" % (shard_of(org), org, eid))["data"]


def test_stored_data_is_canonical_whichever_way_the_body_is_read():
    datas = [
        '{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
        '{ "a" : 1 ,\n\t"b" : [ 1.50, -0, 1e2, 1E-7, 0.1, 123456789012345678, 5e-324 ] }',
        '{"s":"caf\\u00e9 \\ud83d\\ude00 \\/ \\" \\\\ \\n \\u0001 \\u2028","r":"raw é 😀 \u007f"}',
        '{"x":{"y":{"z":[[[]]],"w":{}}},"n":-12.5e+3}',
        '{"dup":1,"dup":2,"k":3}',            # the scanner declines: jansson path
        '{"10":"a","2":"b","x":"c"}',          # array-index keys: jansson path
        '{"k\\u0065y":1}',                     # an escaped key: jansson path
    ]
    for n, d in enumerate(datas):
        expect = json.dumps(json.loads(d), separators=(",", ":"), ensure_ascii=False)
        if n == 5:
            expect = '{"2":"b","10":"a","x":"c"}'
        # a batch of two (the second malformed only in a later field)
        body = ('{"events":[{"type":"c.d","org_id":"canon","id":"b%d","data":%s},'
                '{"type":"c.d","org_id":"canon","id":"c%d","data":%s}]}' % (n, d, n, d))
        st, j, _, _ = P.request("POST", "/v1/events/batch", raw=body.encode())
        assert st == 202, (n, st, j)
        st, j, _, _ = P.request("POST", "/v1/events", raw=('{"type":"c.d","org_id":"canon","id":"s%d","data":%s}'
                                                           % (n, d)).encode())
        assert st == 202, (n, st, j)
        got = [stored_data("canon", p + str(n)) for p in "bcs"]
        assert got[0] == got[1] == got[2], (n, got)
        if n != 1:  # 123456789012345678 is a double in JSON.parse
            assert json.loads(got[0]) == json.loads(d), (n, got[0])
        if n not in (1, 3):  # Python writes 100.0 and 1e-07 where JS writes 100 and 1e-7
            assert got[0] == expect, (n, got[0], expect)
    assert stored_data("canon", "b1") == '{"a":1,"b":[1.5,0,100,1e-7,0.1,123456789012345680,5e-324]}'


def test_malformed_batches_keep_their_answers():
    cases = [
        (b'{"events":[{"type":"a.b","org_id":"o","data":{}}', 400),
        (b'{"events":[{"type":"a.b","org_id":"o","data":{"a":01}}]}', 400),
        (b'{"events":[{"type":"a.b","org_id":"o","data":{"a":"\xff"}}]}', 400),
        (b'{"events":[{"type":"a.b","org_id":"o","data":{"a":1e999}}]}', 400),
        (b'{"events":[]}', 422),
        (b'{"events":{}}', 422),
        (b'{"other":[]}', 422),
        (b'[1]', 400),
    ]
    for body, want in cases:
        st, j, _, _ = P.request("POST", "/v1/events/batch", raw=body)
        assert st == want, (body, st, j)
    st, j, _, _ = P.request("POST", "/v1/events/batch", raw=b'{"events":[5,{"type":"a.b","org_id":"o","data":[]}]}')
    assert st == 207, (st, j)
    assert [r["error"]["field"] for r in j["results"]] == ["event", "data"], j


if __name__ == "__main__":
    run([test_batch_function_writes_what_single_publishes_write, test_batch_spans_shards_in_order_with_replays,
         test_older_library_reloaded_mid_rollout, test_never_attempted_delivery_resent_by_an_older_library,
         test_a_batch_bigger_than_one_call,
         test_a_failing_shard_gets_503_and_the_others_stay_accepted,
         test_stored_data_is_canonical_whichever_way_the_body_is_read, test_malformed_batches_keep_their_answers])
