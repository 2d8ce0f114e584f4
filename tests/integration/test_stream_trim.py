"""How finished entries leave a shard stream (docs/redis-keys.md, `T stream`):
hookq_complete XACKs them and trims the stream from below (XTRIM MINID ~
under the oldest entry still pending in the group) instead of XDELeting
each one; entries far above a long-pending one are still deleted. Pending
and unread entries always keep their data, the group's lag stays countable
(no tombstones), and GET /v1/stats reports the queue depth as lag +
pending while the stream may still hold finished entries. The Redis runs
with stream-node-max-entries 4 so that trimming (whole nodes) shows on a
few entries."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import SRC, Producer, Receiver, Redis, Worker, run, wait_for  # noqa: E402,F401
from streamfx import KEEP, R, claim, complete, drained_stats, group, ids, now, publish, shard  # noqa: E402,F401


def test_acked_entries_below_the_oldest_pending_one_are_trimmed():
    t = shard(1)
    sids = publish(t, 12)                      # three nodes of 4
    got = claim(t)
    # everything but the 6th: nodes 1 (entries 1-4) is wholly below it
    assert complete(t, got, sids[:5] + sids[6:]) == 11
    assert ids(t) == sids[4:], ids(t)          # node 2 holds the pending 6th: kept whole
    g = group(t)
    assert g["pending"] == 1 and g["lag"] == 0, g
    # the pending entry kept its data: a reclaim gets it, not a "lost" one
    r = R.cmd("XAUTOCLAIM", t + "stream", "workers", "c2", 0, "0-0")
    assert [e[0] for e in r[1]] == [sids[5]] and r[2] == [], r
    # unread entries are never trimmed, whatever is acked
    more = publish(t, 3)
    assert complete(t, {sids[5]: got[sids[5]]}, [sids[5]]) == 1
    g = group(t)
    assert g["pending"] == 0 and g["lag"] == 3, g
    assert set(more) <= set(ids(t)), ids(t)
    # with nothing pending, the floor is the newest entry acked: every node
    # wholly below the newest completion goes, unread entries stay
    got2 = claim(t)
    later = publish(t, 2)
    assert complete(t, got2, more) == 3
    left = ids(t)
    assert left and left[-2:] == later and sids[0] not in left and len(left) <= 6, left
    g = group(t)
    assert g["pending"] == 0 and g["lag"] == 2, g
    # nothing pending and the batch acked the stream's last entry: every entry
    # was read and acked, and an idle shard's stream is empty
    got3 = claim(t)
    assert complete(t, got3, later) == 2
    assert ids(t) == [] and R.cmd("XLEN", t + "stream") == 0
    g = group(t)
    assert g["pending"] == 0 and g["lag"] == 0, g


def test_entries_far_above_a_long_pending_one_are_deleted():
    t = shard(2)
    first = publish(t, 1)
    time.sleep(2.2)                            # more than TRIM_PIN_MS of stream time
    later = publish(t, 3)
    got = claim(t)
    assert complete(t, got, later) == 3
    assert ids(t) == first, ids(t)             # XDELeted: the pending first entry pins the floor
    g = group(t)
    assert g["pending"] == 1, g
    assert complete(t, got, first) == 1
    assert group(t)["pending"] == 0


def test_older_workers_layout_trims_too():
    t = shard(3)
    sids = publish(t, 9)
    got = claim(t)
    assert complete(t, got, sids[:8], old_layout=True) == 8
    left = ids(t)
    assert sids[0] not in left and sids[8] in left, left
    assert R.cmd("HGET", t + "dlv:" + got[sids[0]]["d"], "st") == "delivered"


def test_stats_show_the_queue_depth_after_a_drain():
    r2 = Redis(extra=("--stream-node-max-entries", "4"))
    P = Producer(r2)
    W = Worker(r2)
    rc = Receiver()
    try:
        n = 40
        j = drained_stats(P, rc, "org-trim", n, 30)
        for s in j["shards"]:
            # the lag came from Redis (no tombstones), not from the fallback
            g = r2.cmd("XINFO", "GROUPS", "hq:{%d}:stream" % s["shard"]) if s["stream_length"] else None
            if g:
                gd = dict(zip(g[0][0::2], g[0][1::2]))
                assert gd["lag"] == 0 and gd["pending"] == 0, gd
            assert s["stream_length"] < n, s   # finished entries were trimmed (nodes of 4)
    finally:
        W.stop()
        P.stop()
        rc.close()
        r2.kill()



def test_a_poisoned_entry_that_pinned_others_leaves_an_empty_stream():
    t = shard(4)
    publish(t, 3)
    a = claim(t, "c1", 1)                      # never completed: pins the floor
    b = claim(t, "c2")
    assert complete(t, b) == 2
    assert len(ids(t)) == 3, ids(t)            # the acked two sit above the pending one
    r = R.cmd("FCALL", "hookq_reclaim", 2, t + "stream", t + "dead", t, "c3", 0, 100, 1, now(), KEEP, "0-0")
    assert r[2] == 1, r                        # claimed once = max claims: poison, dead
    g = group(t)
    assert g["pending"] == 0 and g["lag"] == 0, g
    assert ids(t) == [] and R.cmd("XLEN", t + "stream") == 0, ids(t)
    assert list(a)[0] not in ids(t)

run([test_acked_entries_below_the_oldest_pending_one_are_trimmed, test_a_poisoned_entry_that_pinned_others_leaves_an_empty_stream, test_entries_far_above_a_long_pending_one_are_deleted,
     test_older_workers_layout_trims_too, test_stats_show_the_queue_depth_after_a_drain])
