"""The attempt log with several attempts per entry (docs/redis-keys.md,
`T eplog`): hookq_complete writes one entry per endpoint per call, and
GET /v1/endpoints/{id}/deliveries expands them: the newest HOOKQ_ATTEMPT_LOG
attempts exactly, newest first, pages joined by next_cursor without gaps or
repeats, the status filter, and entries of the older one-attempt layout
(written by workers of earlier versions) read as before. hookq_complete is
called directly here with batches of chosen sizes and outcomes, on entries
the test claims itself (no worker runs)."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import Producer, Redis, run  # noqa: E402

R = Redis()
P = Producer(R)
KEEP = 7 * 86400
ORG = "org-alog"


def now():
    return int(time.time() * 1000)


EP = P.endpoint(ORG, "http://127.0.0.1:9/hook", events=["*"])
EPID = EP["id"]
T = "hq:{%d}:" % int(EPID[-3:], 16)
LOGKEY = T + "eplog:" + EPID
STATUS = {"delivered": "delivered", "retry": "failed", "dead": "dead"}


def publish(k):
    for i in range(k):
        P.publish(ORG, "a.b", {"i": i})
    out = []
    for _, ents in R.cmd("XREADGROUP", "GROUP", "workers", "t1", "COUNT", 1000, "STREAMS", T + "stream", ">") or []:
        for sid, f in ents:
            out.append((sid, dict(zip(f[0::2], f[1::2]))))
    assert len(out) == k, out
    return out


def complete(batch, loglen):
    """batch: [(sid, fields, outcome)]; one hookq_complete_v2 call."""
    args = [T, now(), KEEP, loglen, 0, "0"]
    for sid, f, outcome in batch:
        code = 200 if outcome == "delivered" else 500
        args += [sid, f["d"], f["e"], f["k"], "", f["n"], f["r"], outcome, now() + 3600000,
                 '{"attempt":%s,"status":"%s"}' % (f["n"], STATUS[outcome]), code, "gave up" if outcome == "dead" else ""]
    assert R.cmd("FCALL", "hookq_complete_v2", 3, T + "stream", T + "retry", T + "dead", *args) == len(batch)


def pages(limit, status="all"):
    """Every page of the log; returns [(delivery id, status)] in order and the page count."""
    return P.attempt_log(EPID, limit, status)


def test_batched_entries_read_newest_first_capped_with_cursors():
    # older layout first: one attempt per entry, no q/L (an earlier worker)
    legacy = publish(3)
    R.cmd("XACK", T + "stream", "workers", *[s for s, _ in legacy])
    for sid, f in legacy:
        R.cmd("XADD", LOGKEY, "*", "d", f["d"], "n", "1", "s", "delivered", "c", "200", "t", now())
    # then batches of 1, 4, 7 and 2 attempts, mixed outcomes
    ents = publish(14)
    outcomes = ["delivered", "retry", "dead"]
    order = []
    pos = 0
    for size in (1, 4, 7, 2):
        batch = [(s, f, outcomes[(pos + j) % 3]) for j, (s, f) in enumerate(ents[pos:pos + size])]
        complete(batch, 1000)
        order += [(f["d"], STATUS[o]) for _, f, o in batch]
        pos += size
    stored = R.cmd("XRANGE", LOGKEY, "-", "+")
    assert len(stored) == 3 + 4, stored      # 3 legacy entries, one per call
    newest_first = list(reversed([(f["d"], "delivered") for _, f in legacy] + order))
    for limit in (1, 2, 3, 5, 250):
        got, n = pages(limit)
        assert got == newest_first, (limit, got, newest_first)
    # the status filter, across entries and pages
    for status, keep in (("delivered", {"delivered"}), ("failed", {"failed", "dead"}), ("dead", {"dead"})):
        got, _ = pages(2, status)
        assert got == [x for x in newest_first if x[1] in keep], (status, got)
    # an attempt record is joined to each attempt (a<n> of its delivery)
    st, j = P.api("GET", "/v1/endpoints/%s/deliveries?limit=250" % EPID)
    assert all(d["event_id"] and d["http_status"] in (200, 500) for d in j["data"]), j
    assert [d["log_id"] for d in j["data"]][:3] == [stored[-1][0], stored[-1][0] + "-1", stored[-2][0]], j
    # a cursor naming a position inside an entry that was trimmed since still continues
    st, j = P.api("GET", "/v1/endpoints/%s/deliveries?cursor=%s-3" % (EPID, stored[0][0]))
    assert st == 200, j
    for bad in ("1-2-0", "1-2-x", "1--2", "x", "1-2-"):
        st, j = P.api("GET", "/v1/endpoints/%s/deliveries?cursor=%s" % (EPID, bad))
        assert st == 422 and j["error"]["field"] == "cursor", (bad, st, j)


def test_log_returns_exactly_the_newest_n_attempts():
    R.cmd("DEL", LOGKEY)
    ents = publish(23)
    pos, order = 0, []
    for size in (5, 1, 6, 3, 8):
        batch = [(s, f, "delivered") for s, f in ents[pos:pos + size]]
        complete(batch, 5)
        order += [f["d"] for _, f, _ in batch]
        pos += size
        got, _ = pages(2)
        want = list(reversed(order))[:5]
        assert [d for d, _ in got] == want, (size, got, want)
    # storage: at most 5 entries, holding at least the newest 5 attempts
    stored = R.cmd("XRANGE", LOGKEY, "-", "+")
    held = sum(1 + len(dict(zip(f[0::2], f[1::2])).get("m", "").split()) // 4 for _, f in stored)
    assert len(stored) <= 5 and held >= 5, stored


def test_log_storage_stays_near_its_length():
    # many small batches past a length of 40: trimmed at checkpoints to about
    # 40 + 40/4 + one entry attempts, never fewer than the newest 40
    R.cmd("DEL", LOGKEY)
    ents = publish(200)
    pos = 0
    for size in (3, 1, 4, 2, 5) * 20:
        if pos >= len(ents):
            break
        complete([(s, f, "delivered") for s, f in ents[pos:pos + size]], 40)
        pos = min(pos + size, len(ents))
        stored = R.cmd("XRANGE", LOGKEY, "-", "+")
        held = sum(1 + len(dict(zip(f[0::2], f[1::2])).get("m", "").split()) // 4 for _, f in stored)
        assert min(pos, 40) <= held <= 40 + 10 + 2 * 5, (pos, held)
    got, _ = pages(250)
    assert len(got) == 40, len(got)
    assert [d for d, _ in got] == [f["d"] for _, f in reversed(ents[pos - 40:pos])]


def test_pages_start_at_the_cursor_without_a_known_length():
    # only entries of the older layout (no L): pages as before
    R.cmd("DEL", LOGKEY)
    legacy = publish(5)
    R.cmd("XACK", T + "stream", "workers", *[s for s, _ in legacy])
    for sid, f in legacy:
        R.cmd("XADD", LOGKEY, "*", "d", f["d"], "n", "1", "s", "failed", "c", "500", "t", now())
    got, n = pages(2)
    assert got == [(f["d"], "failed") for _, f in reversed(legacy)] and n == 3, (got, n)
    # a length past LOG_EXACT_MAX: pages start at the cursor too, entries expanded
    ents = publish(9)
    complete([(s, f, "delivered") for s, f in ents[:4]], 20000)
    complete([(s, f, "delivered") for s, f in ents[4:]], 20000)
    got, n = pages(3)
    want = [(f["d"], "delivered") for _, f in reversed(ents)] + [(f["d"], "failed") for _, f in reversed(legacy)]
    assert got == want and n == 5, (got, want)


run([test_batched_entries_read_newest_first_capped_with_cursors, test_log_returns_exactly_the_newest_n_attempts,
     test_log_storage_stays_near_its_length, test_pages_start_at_the_cursor_without_a_known_length])
