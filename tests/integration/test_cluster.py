"""Redis Cluster and Sentinel (issue 7): the core end-to-end checks on a
3-master/3-replica cluster this file starts itself (tests/cluster/cluster.py:
free loopback ports, AOF with appendfsync always), then faults under load:
kill -9 of a master (its replica is promoted; producer and workers follow),
a slot migration with `redis-cli --cluster reshard`, and a Sentinel
failover. The producer runs with HOOKQ_REDIS_WAIT=1, so an event it
acknowledged (202) is on a replica too and no failover can lose it: every
acknowledged event must reach the receiver. HOOKQ_LONG=1 runs more load."""
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
from harness import (TOKEN, Producer, Receiver, Worker, hex_sig, hgetall, run,  # noqa: E402
                     scripted, wait_for)
import cluster  # noqa: E402

LONG = os.environ.get("HOOKQ_LONG") == "1"
SHARDS = 16
C = cluster.Cluster(masters=3, replicas=1)
ENV = dict(HOOKQ_SHARDS=str(SHARDS))
P = Producer(C, HOOKQ_REDIS_WAIT="1", **ENV)
W = Worker(C, "worker-1", HOOKQ_RETRY_SCHEDULE="1s,1s", **ENV)


def stream(s):
    return "hq:{%d}:stream" % s


def org_on_shard(s, prefix="org"):
    """An org id whose shard (FNV-1a % SHARDS) is s."""
    for i in range(100000):
        o = "%s-%d" % (prefix, i)
        h = 2166136261
        for ch in o.encode():
            h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
        if h % SHARDS == s:
            return o
    raise AssertionError("no org for shard %d" % s)


def delivered_ids(rc):
    with rc.lock:
        return {r.header("X-Webhook-Id") for r in rc.requests}


class Load:
    """Publishes events to the given orgs until stopped; each event is
    retried with the same id until the producer answers 202 (503 while the
    cluster fails over). .acked holds the ids answered 202."""

    def __init__(self, orgs, prefix):
        self.orgs, self.prefix = orgs, prefix
        self.acked, self.statuses = [], {}
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def post(self, body):
        c = http.client.HTTPConnection(P.host, P.port, timeout=30)
        try:
            c.request("POST", "/v1/events", body=json.dumps(body),
                      headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            return r.status
        except OSError:
            return 0
        finally:
            c.close()

    def loop(self):
        i = 0
        while not self.stop_ev.is_set():
            org = self.orgs[i % len(self.orgs)]
            eid = "%s-%d" % (self.prefix, i)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                st = self.post({"org_id": org, "type": "load.tick", "id": eid, "data": {"i": i}})
                self.statuses[st] = self.statuses.get(st, 0) + 1
                if st == 202:
                    self.acked.append(eid)
                    break
                time.sleep(0.1)
            i += 1
            time.sleep(0.005)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(90)
        return list(self.acked)


# ---------------------------------------------------------------- core


def test_keys_live_on_the_slot_owner():
    for s in range(SHARDS):
        key = stream(s)
        owner = C.master_of_key(key)
        assert cluster.tcp_cmd(owner, "EXISTS", key) == 1, (s, owner)
        assert cluster.tcp_cmd(owner, "XINFO", "GROUPS", key)[0][1] == "workers"
    # the shards are spread over every master
    assert len({C.master_of_key(stream(s)) for s in range(SHARDS)}) == 3
    # the function library is on every master
    for p in C.masters():
        libs = cluster.tcp_cmd(p, "FUNCTION", "LIST", "LIBRARYNAME", "hookq")
        assert libs and libs[0][1] == "hookq", (p, libs)


def test_publish_signed_delivery_on_every_node():
    rc = Receiver()
    orgs = [org_on_shard(s, "sig") for s in range(SHARDS)]
    eps = {o: P.endpoint(o, rc.url("/" + o), events=["lead.*"]) for o in orgs}
    ids = {P.publish(o, "lead.created", {"org": o})["id"]: o for o in orgs}
    reqs = rc.wait(SHARDS, 30)
    assert {r.header("X-Webhook-Id") for r in reqs} == set(ids)
    for r in reqs:
        o = ids[r.header("X-Webhook-Id")]
        assert r.path == "/" + o
        assert r.header("X-Webhook-Signature") == "sha256=" + hex_sig(eps[o]["secret"], r.body)
        assert json.loads(r.body)["org_id"] == o
    rc.close()


def test_retries_then_dead():
    rc = Receiver(scripted([500, 500, 500]))
    org = org_on_shard(7, "dead")
    P.endpoint(org, rc.url(), events=["*"])
    eid = P.publish(org, "deal.lost", {"x": 1})["id"]
    reqs = rc.wait(3, 30)
    assert [r.header("X-Webhook-Attempt") for r in reqs[:3]] == ["1", "2", "3"]
    dl = C.cmd("HGET", "hq:{7}:ev:%s:%s" % (org, eid), "dl")
    assert dl, "event hash missing on the cluster"
    wait_for(lambda: C.cmd("HGET", "hq:{7}:dlv:" + dl, "st") == "dead", 20, "the delivery to be dead")
    assert hgetall(C, "hq:{7}:dlv:" + dl)["n"] == "3"
    assert C.cmd("ZCARD", "hq:{7}:dead") >= 1
    rc.close()


def test_batch_and_stats():
    rc = Receiver()
    orgs = [org_on_shard(s, "batch") for s in range(SHARDS)]
    for o in orgs:
        P.endpoint(o, rc.url(), events=["*"])
    events = [{"org_id": orgs[i % SHARDS], "type": "t.x", "data": {"i": i}} for i in range(64)]
    st, j = P.api("POST", "/v1/events/batch", {"events": events})
    assert st in (200, 202, 207), (st, j)
    assert all(r["status"] == 202 for r in j["results"]), j
    ids = {r["id"] for r in j["results"]}
    wait_for(lambda: ids <= delivered_ids(rc), 30, "every batch event delivered")
    st, j = P.api("GET", "/v1/stats")
    assert st == 200 and len(j["shards"]) == SHARDS, (st, j)
    rc.close()


def test_other_shard_count_is_refused():
    from harness import Proc, base_env
    env = base_env(C, HOOKQ_API_TOKEN=TOKEN, HOOKQ_LISTEN="127.0.0.1:0", HOOKQ_SHARDS="8")
    p = Proc("hookq-producer", env, "producer-8")
    assert p.proc.wait(20) == 2
    assert "HOOKQ_SHARDS" in p.logtext(), p.logtext()
    env = base_env(C, HOOKQ_LISTEN="127.0.0.1:0", HOOKQ_SHARDS="8")
    w = Proc("hookq-worker", env, "worker-8")
    assert w.proc.wait(20) == 2
    assert "HOOKQ_SHARDS" in w.logtext(), w.logtext()


# ---------------------------------------------------------------- faults


def test_master_killed_under_load():
    rc = Receiver()
    orgs = [org_on_shard(s, "fo") for s in range(SHARDS)]
    for o in orgs:
        P.endpoint(o, rc.url(), events=["*"])
    w2 = Worker(C, "worker-2", **ENV)
    load = Load(orgs, "fo")
    wait_for(lambda: len(load.acked) >= 30, 30, "load running")
    victim = C.master_of_key(stream(0))
    replica = C.kill_master(victim)
    t0 = time.monotonic()
    C.wait_promoted(replica, 30)
    # the promoted master has no replica left, so with HOOKQ_REDIS_WAIT=1 its
    # shards answer 503 until one is back: restart the killed node (it
    # rejoins as the new master's replica), as an operator would
    C.restart(victim)
    C.wait_ok(masters=3, timeout=30)
    # the producer follows: new events are accepted again within seconds
    n = len(load.acked)
    wait_for(lambda: len(load.acked) >= n + 30, 30, "publishing to resume after the failover")
    took = time.monotonic() - t0
    time.sleep(3 if LONG else 1)
    acked = load.stop()
    wait_for(lambda: set(acked) <= delivered_ids(rc), 60,
             "every acknowledged event delivered (%d acked)" % len(acked))
    print("    failover: %d events acknowledged, publishing resumed %.1fs after the kill; statuses %s"
          % (len(acked), took, load.statuses))
    assert w2.stop() == 0
    rc.close()


def test_reshard_under_load():
    rc = Receiver()
    orgs = [org_on_shard(s, "rs") for s in range(SHARDS)]
    for o in orgs:
        P.endpoint(o, rc.url(), events=["*"])
    load = Load(orgs, "rs")
    wait_for(lambda: len(load.acked) >= 30, 30, "load running")
    # move the slots of shards 14 and 10 (115 and 247) and more to another master
    src = C.master_of_slot(115)
    dst = [p for p in C.masters() if p != src][0]
    C.reshard(src, dst, 300)
    assert C.master_of_slot(115) == dst and C.master_of_slot(247) == dst
    n = len(load.acked)
    wait_for(lambda: len(load.acked) >= n + 30, 30, "publishing to go on after the reshard")
    acked = load.stop()
    wait_for(lambda: set(acked) <= delivered_ids(rc), 60,
             "every acknowledged event delivered (%d acked)" % len(acked))
    assert cluster.tcp_cmd(dst, "EXISTS", stream(14)) == 1
    rc.close()


def test_sentinel_failover_loses_nothing():
    S = cluster.Sentinel()
    try:
        p = Producer(S, HOOKQ_REDIS_WAIT="1", HOOKQ_PREFIX="sq")
        w = Worker(S, "worker-s", HOOKQ_PREFIX="sq")
        rc = Receiver()
        p.endpoint("org-s", rc.url(), events=["*"])
        first = p.publish("org-s", "a.b", {"before": True})["id"]
        rc.wait(1, 20)
        global P
        saved, P = P, p
        try:
            load = Load(["org-s"], "sen")
            wait_for(lambda: len(load.acked) >= 20, 30, "load running")
            S.failover()
            n = len(load.acked)
            wait_for(lambda: len(load.acked) >= n + 20, 30, "publishing to resume after the failover")
            acked = load.stop()
        finally:
            P = saved
        wait_for(lambda: set(acked) | {first} <= delivered_ids(rc), 60,
                 "every acknowledged event delivered (%d acked)" % len(acked))
        assert w.stop() == 0
        rc.close()
    finally:
        S.stop()


if __name__ == "__main__":
    try:
        run([test_keys_live_on_the_slot_owner, test_publish_signed_delivery_on_every_node, test_retries_then_dead,
             test_batch_and_stats, test_other_shard_count_is_refused, test_master_killed_under_load,
             test_reshard_under_load, test_sentinel_failover_loses_nothing])
    finally:
        C.stop()
