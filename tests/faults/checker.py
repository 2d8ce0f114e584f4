"""The fault suite's end-of-test checker (SPEC 7, "at least once").

check() is given the Redis, the receivers (through the endpoint map) and the
list of events the producer answered 2xx with the endpoints each one was
fanned out to, and polls until the system has settled, then asserts:

  * every accepted (event, endpoint) pair was answered 2xx by that endpoint's
    receiver at least once (duplicates allowed), OR is a visible dead delivery
    (delivery hash st=dead and member of the shard's dead set), OR - only for
    pairs the test made lost on purpose - its stream entry is recorded as
    "lost:<stream id>" in the dead set;
  * every delivery hash ended delivered or dead (nothing left pending/retrying);
  * the PEL of every shard's consumer group is empty and every stream entry
    has been read by it (entries are XACKed when their outcome is recorded
    and trimmed later, docs/redis-keys.md);
  * no delivery has a live stream entry (unread, or pending in the PEL) and
    is in the retry set (checked on an atomic MULTI snapshot; Monitor samples the same
    invariant while a test runs);
  * the retry sets are empty (the run has finished, not paused between steps).

Receivers record what they answered: wrap a respond() with recording() so a
request only counts once a 2xx was actually answered.
"""
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import _encode, _read, RedisError  # noqa: E402

PREFIX = "hq"
SHARDS = 4
GROUP = "workers"


def tag(shard):
    return "%s:{%d}:" % (PREFIX, shard)


def shard_of_id(i):
    return int(i[-3:], 16)


def delivery_id(org, eid, epid, eps=None):
    """The id a publish gives the delivery of event (org, eid) to epid, one of
    the event's endpoints eps (all of them; default: epid alone): the digest
    h of (org, eid) for the first of them in sorted order, the digest of h
    and its position for the others."""
    h = hashlib.sha1(("%s\0%s" % (org, eid)).encode()).hexdigest()[:21]
    pos = sorted(eps).index(epid) if eps else 0
    if pos:
        h = hashlib.sha1(("%s/%d" % (h, pos)).encode()).hexdigest()[:21]
    return "dlv_" + h + "%03x" % shard_of_id(epid)


def pipeline(R, cmds):
    """Sends every command on one connection and returns the replies in order
    (an error reply is returned as a RedisError instance, not raised)."""
    if not cmds:
        return []
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(R.sock)
    try:
        s.sendall(b"".join(_encode(c) for c in cmds))
        f = s.makefile("rb")
        out = []
        for _ in cmds:
            try:
                out.append(_read(f))
            except RedisError as e:
                out.append(e)
        return out
    finally:
        s.close()


def recording(respond):
    """Wraps a Receiver respond() so each request remembers what it was answered."""
    def wrapped(req):
        st, h, b = respond(req)
        req.answered = st
        return st, h, b
    return wrapped


def ok200(req):
    return 200, {}, b"ok"


def answered_2xx(endpoints):
    """{(epid, event id): count of 2xx answers} over every endpoint's receiver."""
    got = {}
    by_rc = {}
    for epid, (rc, path) in endpoints.items():
        by_rc.setdefault(id(rc), (rc, {}))[1][path] = epid
    for rc, paths in by_rc.values():
        with rc.lock:
            reqs = list(rc.requests)
        for r in reqs:
            st = getattr(r, "answered", None)
            if st is None or not (200 <= st < 300) or r.path not in paths:
                continue
            k = (paths[r.path], r.header("X-Webhook-Id"))
            got[k] = got.get(k, 0) + 1
    return got


def _sid(s):
    ms, _, seq = s.partition("-")
    return (int(ms), int(seq or 0))


def snapshot(R):
    """Atomic view of every shard: the delivery ids of its live stream
    entries (pending in the group, or not read yet: hookq_complete trims
    acked entries lazily, so the stream may still hold finished ones), retry
    set, PEL size, number of live entries."""
    out = []
    for s in range(SHARDS):
        t = tag(s)
        rep = pipeline(R, [("MULTI",), ("XRANGE", t + "stream", "-", "+"), ("ZRANGE", t + "retry", 0, -1),
                           ("XPENDING", t + "stream", GROUP, "-", "+", 1000000),
                           ("XINFO", "GROUPS", t + "stream"), ("EXEC",)])
        ex = rep[-1]
        if isinstance(ex, Exception) or ex is None:
            raise AssertionError("snapshot of shard %d failed: %r" % (s, rep))
        xr, retry, pend, groups = ex
        pel = set() if isinstance(pend, Exception) else {p[0] for p in pend or []}
        last = None
        if not isinstance(groups, Exception):
            for g in groups or []:
                gd = dict(zip(g[0::2], g[1::2]))
                if gd.get("name") == GROUP:
                    last = _sid(gd["last-delivered-id"])
        in_stream = {}
        for sid, fields in xr or []:
            if sid not in pel and last is not None and _sid(sid) <= last:
                continue   # read and acked: finished, waiting to be trimmed
            if fields:
                f = dict(zip(fields[0::2], fields[1::2]))
                in_stream[f.get("d")] = sid
        live = sum(1 for sid, _ in xr or [] if sid in pel or last is None or _sid(sid) > last)
        out.append({"stream": in_stream, "retry": set(retry or []), "pel": len(pel), "live": live})
    return out


def both_in_stream_and_retry(snap):
    bad = []
    for s, sh in enumerate(snap):
        for d in set(sh["stream"]) & sh["retry"]:
            bad.append("shard %d: %s is in the stream (%s) and in the retry set" % (s, d, sh["stream"][d]))
    return bad


class Monitor:
    """Samples the stream/retry exclusivity invariant while a test runs."""

    def __init__(self, R, period=0.25):
        self.R, self.period = R, period
        self.violations = []
        self.samples = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop.wait(self.period):
            try:
                self.violations += both_in_stream_and_retry(snapshot(self.R))
                self.samples += 1
            except Exception:  # Redis down, paused or loading on purpose: nothing to sample
                pass

    def stop(self):
        self._stop.set()
        self.thread.join(10)
        assert not self.violations, self.violations[:10]
        return self.samples


def _problems(R, accepted, endpoints, lost, settle_retry):
    problems = []
    got = answered_2xx(endpoints)
    missing = []  # (org, eid, epid, did)
    for org, eid, eps in accepted:
        for epid in eps:
            if epid not in endpoints:
                raise AssertionError("endpoint %s of event %s has no receiver in the map" % (epid, eid))
            if (eid, epid) in lost:
                missing.append((org, eid, epid, delivery_id(org, eid, epid, eps), True))
            elif got.get((epid, eid), 0) == 0:
                missing.append((org, eid, epid, delivery_id(org, eid, epid, eps), False))
    stats = {"pairs": sum(len(e) for _, _, e in accepted), "dead": 0, "lost": 0,
             "duplicates": sum(c - 1 for c in got.values() if c > 1)}
    if missing:
        cmds = []
        for org, eid, epid, did, _ in missing:
            t = tag(shard_of_id(epid))
            cmds.append(("HMGET", t + "dlv:" + did, "st", "sid", "reason"))
            cmds.append(("ZSCORE", t + "dead", did))
        reps = pipeline(R, cmds)
        lost_cmds = []
        for i, (org, eid, epid, did, is_lost) in enumerate(missing):
            st, sid, reason = reps[2 * i]
            indead = reps[2 * i + 1] is not None
            if is_lost:
                lost_cmds.append((eid, epid, ("ZSCORE", tag(shard_of_id(epid)) + "dead", "lost:%s" % sid)))
            elif st == "dead" and indead:
                stats["dead"] += 1
            else:
                problems.append("%s -> %s (%s): not answered 2xx and not dead (st=%s, in dead set=%s, reason=%s)"
                                % (eid, epid, did, st, indead, reason))
        if lost_cmds:
            for (eid, epid, _), rep in zip(lost_cmds, pipeline(R, [c for _, _, c in lost_cmds])):
                if rep is None:
                    problems.append("%s -> %s: deleted on purpose but not recorded as lost" % (eid, epid))
                else:
                    stats["lost"] += 1
    if problems:
        return problems, stats
    # final state of every delivery hash (lost ones stay "pending": their entry vanished)
    keys = [(tag(shard_of_id(epid)) + "dlv:" + delivery_id(org, eid, epid, eps), eid, epid)
            for org, eid, eps in accepted for epid in eps if (eid, epid) not in lost]
    for (k, eid, epid), st in zip(keys, pipeline(R, [("HGET", k, "st") for k, _, _ in keys])):
        if st not in ("delivered", "dead"):
            problems.append("%s -> %s: delivery hash %s has st=%s" % (eid, epid, k, st))
            if len(problems) > 20:
                break
    snap = snapshot(R)
    problems += both_in_stream_and_retry(snap)
    for s, sh in enumerate(snap):
        if sh["pel"]:
            problems.append("shard %d: %d entries still pending in the group" % (s, sh["pel"]))
        if sh["live"]:
            problems.append("shard %d: %d stream entries not yet read or still pending" % (s, sh["live"]))
        if settle_retry and sh["retry"]:
            problems.append("shard %d: %d deliveries still in the retry set" % (s, len(sh["retry"])))
    return problems, stats


def check(R, accepted, endpoints, lost=(), timeout=40.0, settle_retry=True):
    """Waits up to timeout seconds for the at-least-once invariants to hold.

    accepted: iterable of (org, event id, [endpoint ids]) the producer answered 2xx.
    endpoints: {endpoint id: (Receiver, path)}.
    lost: {(event id, endpoint id)} whose stream data the test deleted.
    Returns stats: pairs, dead, lost, duplicates."""
    accepted = list(accepted)
    lost = set(lost)
    deadline = time.monotonic() + timeout
    while True:
        problems, stats = _problems(R, accepted, endpoints, lost, settle_retry)
        if not problems:
            print("  checker: %(pairs)d deliveries ok, %(dead)d dead, %(lost)d lost, "
                  "%(duplicates)d duplicate 2xx" % stats, flush=True)
            return stats
        if time.monotonic() > deadline:
            raise AssertionError("checker: %d problems after %.0fs, first ones:\n  %s"
                                 % (len(problems), timeout, "\n  ".join(problems[:15])))
        time.sleep(0.3)
