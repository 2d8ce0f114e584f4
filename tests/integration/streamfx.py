"""Fixtures for the tests that call hookq_complete directly on a shard stream
(test_stream_trim.py, test_trim_review.py): a Redis with the function
library loaded and stream-node-max-entries 4 (so trimming, which drops whole
nodes, shows on a few entries), and helpers to publish, claim and complete
entries the way a worker does; and drained_stats, for the tests that run
the whole system."""
import os
import time

from harness import SRC, Redis, wait_for

R = Redis(extra=("--stream-node-max-entries", "4"))
with open(os.path.join(SRC, "common", "hookq.lua")) as f:
    R.cmd("FUNCTION", "LOAD", "REPLACE", f.read())
KEEP = 86400
N = [0]


def now():
    return int(time.time() * 1000)


def shard(s):
    """A fresh shard tag (each test its own stream and group) with one endpoint subscribed to everything."""
    t = "hq:{%d}:" % s
    R.cmd("XGROUP", "CREATE", t + "stream", "workers", "0", "MKSTREAM")
    R.cmd("FCALL", "hookq_ep_put", 2, t + "ep:ep_t%03x" % s, t + "org:o:eps", "ep_t%03x" % s, "{}", " * ", "1",
          "o", now(), "create")
    return t


def publish(t, k):
    """k events of org o on shard tag t, one entry each; returns the entry ids in order."""
    for _ in range(k):
        N[0] += 1
        eid = "e%d" % N[0]
        R.cmd("FCALL", "hookq_publish", 4, t + "ev:o:" + eid, t + "org:o:eps", t + "stream", t + "eid:" + eid,
              t, "o", eid, "a.b", "2026-01-01T00:00:00Z", 0, "{}", now(), KEEP, "000", "", "0")
    return ids(t)[-k:]


def claim(t, consumer="c1", count=1000):
    """{sid: fields} of up to count new entries, read as consumer."""
    out = {}
    for _, ents in R.cmd("XREADGROUP", "GROUP", "workers", consumer, "COUNT", count, "STREAMS", t + "stream",
                         ">") or []:
        for sid, f in ents:
            out[sid] = dict(zip(f[0::2], f[1::2]))
    return out


def complete(t, got, sids=None, old_layout=False, loglen=1000, outcome="delivered"):
    """hookq_complete_v2 (or the older workers' 11-field hookq_complete) for
    the entries sids (default: all of got, in order) with one outcome."""
    args = [t, now(), KEEP, loglen, 0]
    if not old_layout:
        args.append("0")
    due = now() + 3600000 if outcome in ("retry", "defer") else 0
    for sid in (list(got) if sids is None else sids):
        f = got[sid]
        args += [sid, f["d"], f["e"], f["k"]] + ([] if old_layout else [""])
        args += [f["n"], f["r"], outcome, due, "{}", 200 if outcome == "delivered" else 500, ""]
    return R.cmd("FCALL", "hookq_complete" if old_layout else "hookq_complete_v2", 3, t + "stream", t + "retry",
                 t + "dead", *args)


def group(t):
    g = R.cmd("XINFO", "GROUPS", t + "stream")[0]
    return dict(zip(g[0::2], g[1::2]))


def ids(t):
    return [sid for sid, _ in R.cmd("XRANGE", t + "stream", "-", "+")]


def drained_stats(P, rc, org, n, timeout):
    """Publishes n events of org through the API to one endpoint at receiver
    rc, waits until rc got them all and GET /v1/stats shows every delivery
    recorded, nothing pending or lagging; returns that answer."""
    P.endpoint(org, rc.url(), events=["*"])
    for i in range(n):
        P.publish(org, "a.b", {"i": i})
    rc.wait(n, timeout)

    def settled():
        st, j = P.api("GET", "/v1/stats")
        assert st == 200, (st, j)
        tot = j["totals"]
        return j if tot["delivered"] == n and not tot["pending"] and not tot["lag"] else None
    return wait_for(settled, 30, "every delivery recorded")
