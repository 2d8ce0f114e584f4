"""Throwaway Redis Cluster and Sentinel setups for hookq's tests and bench.

Cluster(masters=3, replicas=1): redis-server --cluster-enabled yes on free
loopback ports (each port p is picked by binding port 0, and p + 10000, the
cluster bus port, is checked free too), AOF with appendfsync always, joined
with `redis-cli --cluster create ... --cluster-replicas 1 --cluster-yes`,
ready once every node reports cluster_state:ok and agrees on the masters.

Sentinel(): one master, one replica and three sentinels on free loopback
ports, ready once every sentinel sees the replica and the other sentinels.

Both give .url (redis-cluster://... / redis-sentinel://.../hookq) and .cmd()
(a small RESP client; the cluster one follows MOVED/ASK), and register their
processes with the integration harness so they die with the test.
Run this file directly to start a cluster and print its URL (Ctrl-C stops).
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import RedisError, _encode, _read, tmpdir, wait_for  # noqa: E402


def free_port(bus=False):
    """A loopback port free now (and, with bus, port + 10000 too)."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if not bus:
            return p
        if p + 10000 > 65535:
            continue
        b = socket.socket()
        try:
            b.bind(("127.0.0.1", p + 10000))
        except OSError:
            continue
        finally:
            b.close()
        return p
    raise RuntimeError("no free port pair")


def tcp_cmd(port, *args, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(_encode(args))
        return _read(s.makefile("rb"))
    finally:
        s.close()


def _keyslot(key):
    if isinstance(key, str):
        key = key.encode()
    s = key.find(b"{")
    if s >= 0:
        e = key.find(b"}", s + 1)
        if e > s + 1:
            key = key[s + 1:e]
    crc = 0
    for ch in key:
        crc ^= ch << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc % 16384


keyslot = _keyslot


class Node:
    def __init__(self, port, d, proc):
        self.port, self.dir, self.proc = port, d, proc

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        """kill -9 the server (its whole process group) and reap it."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except OSError:
                pass

    def cmd(self, *args):
        return tcp_cmd(self.port, *args)


def _start_server(d, port, args, name="redis"):
    log = open(os.path.join(d, name + ".log"), "ab")
    proc = subprocess.Popen(["redis-server"] + args, stdout=log, stderr=log, start_new_session=True, cwd=d)
    harness._procs.append(proc)

    def up():
        if proc.poll() is not None:
            raise AssertionError("%s on port %d exited; see %s" % (name, port, d))
        try:
            return tcp_cmd(port, "PING", timeout=2) == "PONG"
        except (OSError, RedisError):
            return False
    wait_for(up, 15, "%s on port %d" % (name, port))
    return proc


class Cluster:
    """A Redis Cluster of `masters` masters with `replicas` replicas each."""

    def __init__(self, masters=3, replicas=1, node_timeout=2000, fsync="always", appendonly=True):
        self.node_timeout = node_timeout
        self.fsync = fsync
        self.appendonly = appendonly
        self.nodes = []
        for _ in range(masters * (1 + replicas)):
            self.nodes.append(self._start(free_port(bus=True)))
        addrs = ["127.0.0.1:%d" % n.port for n in self.nodes]
        out = subprocess.run(["redis-cli", "--cluster", "create"] + addrs +
                             ["--cluster-replicas", str(replicas), "--cluster-yes"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        if out.returncode != 0:
            raise AssertionError("redis-cli --cluster create failed:\n" + out.stdout.decode(errors="replace"))
        self.wait_ok(masters=masters, timeout=30)

    def _start(self, port, d=None):
        d = d or tmpdir()
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--cluster-enabled", "yes", "--cluster-config-file", os.path.join(d, "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout),
                "--cluster-require-full-coverage", "no",
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", self.fsync,
                "--maxmemory-policy", "noeviction"]
        return Node(port, d, _start_server(d, port, args))

    # ---- state
    @property
    def url(self):
        return "redis-cluster://" + ",".join("127.0.0.1:%d" % n.port for n in self.nodes[:3])

    def live(self):
        return [n for n in self.nodes if n.alive()]

    def node(self, port):
        for n in self.nodes:
            if n.port == port:
                return n
        return None

    def slots(self):
        """slot ranges -> master port, from a live node: [(start, end, port)]."""
        for n in self.live():
            try:
                return [(r[0], r[1], r[2][1]) for r in n.cmd("CLUSTER", "SLOTS")]
            except (OSError, RedisError):
                continue
        raise AssertionError("no live cluster node answers CLUSTER SLOTS")

    def masters(self):
        return sorted({p for _, _, p in self.slots()})

    def master_of_slot(self, slot):
        for a, b, p in self.slots():
            if a <= slot <= b:
                return p
        return None

    def master_of_key(self, key):
        return self.master_of_slot(_keyslot(key))

    def replica_of(self, master_port):
        n = self.node(master_port)
        myid = n.cmd("CLUSTER", "MYID")
        for m in self.live():
            if m.port == master_port:
                continue
            try:
                info = m.cmd("INFO", "replication")
            except (OSError, RedisError):
                continue
            if "role:slave" in info and ("master_port:%d" % master_port) in info:
                return m.port
        raise AssertionError("no replica of %d (%s)" % (master_port, myid))

    def wait_ok(self, masters=None, timeout=30):
        def ok():
            seen = None
            for n in self.live():
                try:
                    info = n.cmd("CLUSTER", "INFO")
                except (OSError, RedisError):
                    return False
                if "cluster_state:ok" not in info:
                    return False
                try:
                    m = tuple(sorted({r[2][1] for r in n.cmd("CLUSTER", "SLOTS")}))
                except (OSError, RedisError):
                    return False
                if seen is None:
                    seen = m
                elif m != seen:
                    return False
            if masters is not None and (seen is None or len(seen) != masters):
                return False
            if seen is None or not all(self.node(p) and self.node(p).alive() for p in seen):
                return False
            # every live replica is in sync with its master (WAIT would fail otherwise)
            for n in self.live():
                if n.port in seen:
                    continue
                try:
                    info = n.cmd("INFO", "replication")
                except (OSError, RedisError):
                    return False
                if "role:slave" in info and "master_link_status:up" not in info:
                    return False
            return True
        wait_for(ok, timeout, "the cluster to be ok, consistent and replicated", interval=0.1)

    def cmd(self, *args):
        """Runs a command on the owner of its first key (args[1]); follows MOVED/ASK."""
        port = self.master_of_key(args[1]) if len(args) > 1 else self.live()[0].port
        asking = False
        for _ in range(10):
            try:
                if asking:
                    s = socket.create_connection(("127.0.0.1", port), timeout=10)
                    try:
                        s.sendall(_encode(("ASKING",)) + _encode(args))
                        f = s.makefile("rb")
                        _read(f)
                        return _read(f)
                    finally:
                        s.close()
                return tcp_cmd(port, *args)
            except RedisError as e:
                msg = str(e)
                if msg.startswith("MOVED ") or msg.startswith("ASK "):
                    port = int(msg.rsplit(":", 1)[1])
                    asking = msg.startswith("ASK ")
                    continue
                if msg.startswith("TRYAGAIN") or msg.startswith("CLUSTERDOWN"):
                    time.sleep(0.1)
                    continue
                raise
        raise AssertionError("too many redirections for %r" % (args,))

    def each_master(self, *args):
        return [tcp_cmd(p, *args) for p in self.masters()]

    def scan(self, pattern):
        """Keys matching pattern on every master."""
        out = []
        for p in self.masters():
            cursor = "0"
            while True:
                cursor, keys = tcp_cmd(p, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
                out.extend(keys)
                if cursor == "0":
                    break
        return out

    # ---- faults
    def kill_master(self, port):
        """kill -9 a master; returns its replica's port (promoted later)."""
        rep = self.replica_of(port)
        self.node(port).kill()
        return rep

    def restart(self, port):
        """Starts a killed node again (same port, data and nodes.conf): it
        rejoins the cluster, as a replica of whoever took over its slots."""
        n = self.node(port)
        i = self.nodes.index(n)
        self.nodes[i] = self._start(port, n.dir)
        return self.nodes[i]

    def wait_promoted(self, port, timeout=30):
        def promoted():
            try:
                return "role:master" in tcp_cmd(port, "INFO", "replication")
            except (OSError, RedisError):
                return False
        wait_for(promoted, timeout, "replica %d to be promoted" % port, interval=0.1)

    def reshard(self, from_port, to_port, nslots, timeout=120):
        """redis-cli --cluster reshard: move nslots from one master to another."""
        ids = {}
        for p in (from_port, to_port):
            ids[p] = tcp_cmd(p, "CLUSTER", "MYID")
        out = subprocess.run(["redis-cli", "--cluster", "reshard", "127.0.0.1:%d" % from_port,
                              "--cluster-from", ids[from_port], "--cluster-to", ids[to_port],
                              "--cluster-slots", str(nslots), "--cluster-yes"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if out.returncode != 0:
            raise AssertionError("reshard failed:\n" + out.stdout.decode(errors="replace")[-3000:])
        return out.stdout.decode(errors="replace")

    def migrate_slot(self, slot, to_port, timeout=120):
        """Moves one slot (and its keys) to to_port the way redis-cli does:
        IMPORTING/MIGRATING, MIGRATE in batches, then SETSLOT NODE everywhere."""
        src = self.master_of_slot(slot)
        if src == to_port:
            return
        dst_id = tcp_cmd(to_port, "CLUSTER", "MYID")
        src_id = tcp_cmd(src, "CLUSTER", "MYID")
        tcp_cmd(to_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
        tcp_cmd(src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
        while True:
            keys = tcp_cmd(src, "CLUSTER", "GETKEYSINSLOT", slot, 10)
            if not keys:
                break
            tcp_cmd(src, "MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
        for p in self.masters():
            tcp_cmd(p, "CLUSTER", "SETSLOT", slot, "NODE", dst_id)

    def stop(self):
        for n in self.nodes:
            n.kill()


class Sentinel:
    """One master, one replica, three sentinels watching master `name`."""

    def __init__(self, name="hookq", down_after=1000):
        self.name = name
        base = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                "--maxmemory-policy", "noeviction"]
        self.data = []
        mp = free_port()
        d = tmpdir()
        self.data.append(Node(mp, d, _start_server(d, mp, ["--port", str(mp), "--dir", d] + base)))
        rp = free_port()
        d = tmpdir()
        self.data.append(Node(rp, d, _start_server(d, rp, ["--port", str(rp), "--dir", d,
                                                           "--replicaof", "127.0.0.1", str(mp)] + base)))
        wait_for(lambda: "master_link_status:up" in tcp_cmd(rp, "INFO", "replication"), 15, "replica link")
        self.sentinels = []
        for _ in range(3):
            sp = free_port()
            d = tmpdir()
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\n" % (sp, d))
                f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (name, mp))
                f.write("sentinel down-after-milliseconds %s %d\n" % (name, down_after))
                f.write("sentinel failover-timeout %s 10000\n" % name)
                f.write("sentinel parallel-syncs %s 1\n" % name)
            log = open(os.path.join(d, "sentinel.log"), "ab")
            proc = subprocess.Popen(["redis-server", conf, "--sentinel"], stdout=log, stderr=log,
                                    start_new_session=True, cwd=d)
            harness._procs.append(proc)
            self.sentinels.append(Node(sp, d, proc))
        # peers are found through hello messages on the master (every 2 s),
        # the replica through the master's INFO (every 10 s): allow for a
        # loaded machine, and show the sentinel's log if it never happens
        for s in self.sentinels:
            try:
                wait_for(lambda: self._sees_all(s), 60, "sentinel %d to see its peers and the replica" % s.port,
                         interval=0.2)
            except AssertionError:
                with open(os.path.join(s.dir, "sentinel.log"), "rb") as f:
                    sys.stderr.write(f.read().decode(errors="replace")[-3000:])
                raise

    def _sees_all(self, s):
        try:
            reps = tcp_cmd(s.port, "SENTINEL", "REPLICAS", self.name)
            peers = tcp_cmd(s.port, "SENTINEL", "SENTINELS", self.name)
        except (OSError, RedisError):
            return False
        # quorum 2 of 3: one known peer is enough to be elected and fail over
        return len(reps) >= 1 and len(peers) >= 1

    @property
    def url(self):
        return "redis-sentinel://" + ",".join("127.0.0.1:%d" % s.port for s in self.sentinels) + "/" + self.name

    def master_port(self):
        addr = tcp_cmd(self.sentinels[0].port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
        return int(addr[1])

    def cmd(self, *args):
        return tcp_cmd(self.master_port(), *args)

    def failover(self, timeout=30):
        """SENTINEL FAILOVER; waits until the old replica is master and every sentinel agrees."""
        old = self.master_port()
        tcp_cmd(self.sentinels[0].port, "SENTINEL", "FAILOVER", self.name)

        def done():
            try:
                ports = {int(tcp_cmd(s.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)[1])
                         for s in self.sentinels}
                if len(ports) != 1 or old in ports:
                    return False
                return "role:master" in tcp_cmd(ports.pop(), "INFO", "replication")
            except (OSError, RedisError):
                return False
        wait_for(done, timeout, "sentinel failover", interval=0.1)
        return self.master_port()

    def stop(self):
        for n in self.data + self.sentinels:
            n.kill()


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "cluster"
    c = Sentinel() if kind == "sentinel" else Cluster()
    print(c.url, flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    c.stop()
