"""Deployment files: deploy/ checked offline against the code and each other.

No Docker engine, Kubernetes cluster or Prometheus is needed. Every YAML file
under deploy/ must parse; the Kubernetes manifests, the compose file, the
Prometheus config and alert rules, the Grafana dashboard and the Dockerfile
are checked for the facts hookq relies on (ports, probe paths, grace period
longer than the drain timeout, KEDA trigger per shard stream, AOF and
noeviction, build packages in step with scripts/deps). The shipped
redis.conf is loaded by a real redis-server. When the binaries are built
(HOOKQ_BIN_DIR), a Redis + producer + worker are started and every metric the
dashboard and the alerts use must appear in their /metrics output, every
HOOKQ_ variable the deploy files set must be one the binaries know (--help),
and every shared library they link must come from a package the runtime
image installs. promtool, when present, also checks the PromQL.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

try:
    import yaml
except ImportError:  # scripts/deps installs python3-yaml
    yaml = None

ROOT = os.path.abspath(harness.SRC)
DEPLOY = os.path.join(ROOT, "deploy")
K8S = os.path.join(DEPLOY, "k8s")

# The metric families hookq exports (SPEC section 8; docs/operations.md).
METRICS = {
    "hookq_events_ingested_total", "hookq_http_requests_total", "hookq_deliveries_total",
    "hookq_attempts_total", "hookq_attempt_duration_seconds", "hookq_inflight", "hookq_stream_lag",
    "hookq_retry_scheduled", "hookq_dead", "hookq_reclaimed_total", "hookq_redis_errors_total",
    "hookq_build_info",
}
HISTOGRAMS = {"hookq_attempt_duration_seconds"}
METRIC_RE = re.compile(r"\bhookq_[a-z0-9_]+")
# Packages scripts/deps installs that the image build does not need.
NOT_FOR_BUILD = {"redis-server", "redis-tools", "valgrind", "curl", "nodejs", "python3-yaml"}
# Always present in debian:12-slim.
BASE_PKGS = {"libc6", "libgcc-s1"}


def need_yaml():
    assert yaml is not None, "python3-yaml is missing (scripts/deps installs it)"


def read(*parts):
    with open(os.path.join(*parts)) as f:
        return f.read()


def yaml_docs(path):
    need_yaml()
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def yaml_files(top):
    out = []
    for d, _, files in os.walk(top):
        out += [os.path.join(d, f) for f in files if f.endswith((".yml", ".yaml"))]
    return sorted(out)


def duration_s(v):
    """'45', '30s', '2m', '1h', '5d' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", str(v))
    assert m, "bad duration %r" % v
    n = float(m.group(1))
    return n * {"ms": 0.001, None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def metric_names(expr):
    """hookq_ metric families an expression names (_bucket/_sum/_count folded)."""
    out = set()
    for n in METRIC_RE.findall(expr):
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and n[: -len(suf)] in HISTOGRAMS:
                n = n[: -len(suf)]
        out.add(n)
    return out


# ---------------------------------------------------------------- Kubernetes
def k8s_objects():
    objs = {}
    for p in yaml_files(K8S):
        if os.path.basename(p) == "kustomization.yaml":
            continue
        for d in yaml_docs(p):
            key = (d["kind"], d["metadata"]["name"])
            assert key not in objs, "duplicate %s %s" % key
            objs[key] = d
    return objs


def container(dep):
    cs = dep["spec"]["template"]["spec"]["containers"]
    assert len(cs) == 1, "one container per hookq pod"
    return cs[0]


def env_of(c):
    return {e["name"]: e for e in c.get("env", [])}


def probe_port(c, probe):
    port = probe["httpGet"]["port"]
    if isinstance(port, int):
        return port
    for p in c["ports"]:
        if p.get("name") == port:
            return p["containerPort"]
    raise AssertionError("probe names unknown port %r" % port)


def config_map(objs):
    return objs[("ConfigMap", "hookq-config")]["data"]


def test_yaml_parses():
    need_yaml()
    files = yaml_files(DEPLOY)
    assert len(files) >= 9, files
    for p in files:
        docs = yaml_docs(p)
        assert docs, "%s holds no YAML document" % p
        for d in docs:
            assert isinstance(d, dict), "%s: top level is not a mapping" % p


def test_kustomization_lists_every_manifest():
    k = yaml_docs(os.path.join(K8S, "kustomization.yaml"))[0]
    assert k["kind"] == "Kustomization"
    assert "namespace" not in k, "manifests stay namespace-agnostic (kubectl apply -n ...)"
    listed = set(k["resources"])
    present = {os.path.basename(p) for p in yaml_files(K8S)} - {"kustomization.yaml"}
    assert listed == present, "kustomization resources %s != files %s" % (sorted(listed), sorted(present))
    for obj in k8s_objects().values():
        assert "namespace" not in obj["metadata"], "%s names a namespace" % obj["metadata"]["name"]
    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", K8S], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        kinds = re.findall(r"^kind: (\w+)", r.stdout, re.M)
        assert len(kinds) == len(k8s_objects()), kinds


def check_pod(objs, dep, port, cmd):
    c = container(dep)
    spec = dep["spec"]["template"]["spec"]
    assert c["command"] == [cmd], c["command"]
    assert [p["containerPort"] for p in c["ports"]] == [port], c["ports"]
    assert probe_port(c, c["readinessProbe"]) == port and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert probe_port(c, c["livenessProbe"]) == port and c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    env = env_of(c)
    assert env["HOOKQ_LISTEN"]["value"] == "0.0.0.0:%d" % port, env["HOOKQ_LISTEN"]
    sel = dep["spec"]["selector"]["matchLabels"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in sel.items()), (sel, labels)
    ann = dep["spec"]["template"]["metadata"].get("annotations", {})
    assert ann.get("prometheus.io/port") == str(port), ann
    # Non-root, matching the image's user.
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, psc
    csc = c["securityContext"]
    assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True, csc
    assert c["resources"]["requests"] and c["resources"]["limits"], c["resources"]
    # Configuration comes from the ConfigMap and Secret that exist, by keys they hold.
    for ef in c.get("envFrom", []):
        assert ("ConfigMap", ef["configMapRef"]["name"]) in objs, ef
    secret = objs[("Secret", "hookq-secrets")]["stringData"]
    for e in env.values():
        ref = e.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == "hookq-secrets" and ref["key"] in secret, ref
    assert "HOOKQ_REDIS_URL" in env, "HOOKQ_REDIS_URL comes from the Secret"
    for p in objs.values():  # Services and PDBs select these pods
        if p["kind"] in ("Service", "PodDisruptionBudget") and p["metadata"]["name"] == dep["metadata"]["name"]:
            s = p["spec"]["selector"]
            s = s.get("matchLabels", s)
            assert all(labels.get(k) == v for k, v in s.items()), (p["kind"], s)
    return c, env


def test_k8s_producer():
    objs = k8s_objects()
    dep = objs[("Deployment", "hookq-producer")]
    c, env = check_pod(objs, dep, 8080, "hookq-producer")
    assert env["HOOKQ_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"] == "HOOKQ_API_TOKEN"
    svc = objs[("Service", "hookq-producer")]
    (port,) = svc["spec"]["ports"]
    assert port["port"] == 8080 and port["targetPort"] in (8080, "http"), port


def test_k8s_worker():
    objs = k8s_objects()
    dep = objs[("Deployment", "hookq-worker")]
    c, env = check_pod(objs, dep, 9464, "hookq-worker")
    assert "HOOKQ_API_TOKEN" not in env, "workers do not need the API token"
    assert "replicas" not in dep["spec"], "KEDA owns the worker replica count"
    cm = config_map(objs)
    grace = dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    drain = duration_s(cm["HOOKQ_DRAIN_TIMEOUT"])
    assert grace > drain, "terminationGracePeriodSeconds %s must exceed HOOKQ_DRAIN_TIMEOUT %ss" % (grace, drain)
    assert duration_s(cm["HOOKQ_CLAIM_IDLE"]) > 30, "claim idle must exceed the longest attempt (30s)"
    pdb = objs[("PodDisruptionBudget", "hookq-worker")]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"].get("maxUnavailable") or pdb["spec"].get("minAvailable"), pdb["spec"]
    svc = objs[("Service", "hookq-worker")]
    assert [p["port"] for p in svc["spec"]["ports"]] == [9464]


def test_k8s_config_values():
    objs = k8s_objects()
    cm = config_map(objs)
    for k, v in cm.items():
        assert k.startswith("HOOKQ_"), k
        assert isinstance(v, str), "ConfigMap values are strings: %s=%r" % (k, v)
    assert cm["HOOKQ_ALLOW_PRIVATE_NETWORKS"] == "0"
    assert cm["HOOKQ_LOG_FORMAT"] == "json"
    secret = objs[("Secret", "hookq-secrets")]
    assert set(secret["stringData"]) >= {"HOOKQ_API_TOKEN", "HOOKQ_REDIS_URL"}
    assert not set(cm) & set(secret["stringData"]), "a variable is both in the ConfigMap and the Secret"


def test_keda_scaled_object():
    objs = k8s_objects()
    so = objs[("ScaledObject", "hookq-worker")]
    assert so["apiVersion"].startswith("keda.sh/")
    ref = so["spec"]["scaleTargetRef"]
    assert ref["name"] == "hookq-worker" and ref.get("kind", "Deployment") == "Deployment"
    assert ("Deployment", ref["name"]) in objs
    assert so["spec"]["minReplicaCount"] >= 1, "workers also promote retries: never scale to zero"
    assert so["spec"]["maxReplicaCount"] >= so["spec"]["minReplicaCount"]
    cm = config_map(objs)
    prefix, shards = cm["HOOKQ_PREFIX"], int(cm["HOOKQ_SHARDS"])
    seen = set()
    secret = objs[("Secret", "hookq-secrets")]["stringData"]
    for t in so["spec"]["triggers"]:
        assert t["type"] == "redis-streams", t["type"]
        md = t["metadata"]
        assert md["consumerGroup"] == "workers", md
        m = re.fullmatch(re.escape(prefix) + r":\{(\d+)\}:stream", md["stream"])
        assert m, "stream %r is not <prefix>:{<shard>}:stream" % md["stream"]
        seen.add(int(m.group(1)))
        counts = [md[k] for k in ("lagCount", "pendingEntriesCount") if k in md]
        assert counts and all(isinstance(v, str) and int(v) > 0 for v in counts), md
        assert "address" in md or "addressFromEnv" in md or "authenticationRef" in t, t
        if "authenticationRef" in t:
            ta = objs[("TriggerAuthentication", t["authenticationRef"]["name"])]
            params = {r["parameter"] for r in ta["spec"]["secretTargetRef"]}
            assert "address" in params or "host" in params, params
            for r in ta["spec"]["secretTargetRef"]:
                assert r["name"] == "hookq-secrets" and r["key"] in secret, r
    assert seen == set(range(shards)), "one trigger per shard stream: have %s" % sorted(seen)


# ---------------------------------------------------------------- compose, Prometheus, Grafana
def compose():
    return yaml_docs(os.path.join(DEPLOY, "docker-compose.yml"))[0]


def env_map(svc):
    e = svc.get("environment", {})
    if isinstance(e, list):
        e = dict(x.split("=", 1) for x in e)
    return e


def test_compose():
    c = compose()
    svcs = c["services"]
    assert {"redis", "producer", "worker", "prometheus", "grafana"} <= set(svcs), sorted(svcs)
    r = svcs["redis"]
    assert r["image"].startswith("redis:7")
    cmd = " ".join(r["command"]) if isinstance(r["command"], list) else r["command"]
    conf = redis_conf()
    eff = dict(conf)
    for k, v in re.findall(r"--([a-z-]+) (\S+)", cmd):
        eff[k] = v
    assert eff["appendonly"] == "yes" and eff["maxmemory-policy"] == "noeviction", eff
    assert re.fullmatch(r"always|everysec|\$\{HOOKQ_REDIS_APPENDFSYNC:-(always|everysec)\}", eff["appendfsync"])
    assert any(str(v).endswith(":/data") for v in r["volumes"]), "Redis data needs a volume"
    assert any(str(v).startswith("./redis/redis.conf:") for v in r["volumes"]), "the shipped redis.conf is used"
    p, w = svcs["producer"], svcs["worker"]
    assert env_map(p)["HOOKQ_LISTEN"] == "0.0.0.0:8080"
    assert env_map(w)["HOOKQ_LISTEN"] == "0.0.0.0:9464"
    assert "HOOKQ_API_TOKEN" in env_map(p) and ":?" in env_map(p)["HOOKQ_API_TOKEN"], \
        "no default API token is shipped"
    for s in (p, w):
        assert env_map(s)["HOOKQ_REDIS_URL"].startswith("redis://redis:6379")
        assert s["build"]["dockerfile"] == "deploy/Dockerfile" and s["build"]["context"] == ".."
    assert w["command"] == ["hookq-worker"] and p["command"] == ["hookq-producer"]
    assert w["deploy"]["replicas"] >= 3
    drain = duration_s(env_map(w).get("HOOKQ_DRAIN_TIMEOUT", "30s"))
    assert duration_s(w["stop_grace_period"]) > drain
    # Every bind-mounted file exists.
    for name, s in svcs.items():
        for v in s.get("volumes", []):
            src = str(v).split(":", 1)[0]
            if src.startswith("."):
                assert os.path.exists(os.path.join(DEPLOY, src)), "%s mounts missing %s" % (name, src)
    prom_mounts = [str(v).split(":")[1] for v in svcs["prometheus"]["volumes"]]
    prom = yaml_docs(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))[0]
    for rf in prom["rule_files"]:
        assert rf in prom_mounts, "rule file %s is not mounted into Prometheus" % rf
    if shutil.which("docker-compose"):
        env = dict(os.environ, HOOKQ_API_TOKEN="x")
        res = subprocess.run(["docker-compose", "-f", os.path.join(DEPLOY, "docker-compose.yml"), "config", "-q"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert res.returncode == 0, res.stderr


def test_prometheus_config():
    prom = yaml_docs(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))[0]
    assert [os.path.basename(r) for r in prom["rule_files"]] == ["alerts.yml"]
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    ports = {}
    for name in ("hookq-producer", "hookq-worker"):
        j = jobs[name]
        assert j.get("metrics_path", "/metrics") == "/metrics"
        for sc in j.get("static_configs", []):
            ports.setdefault(name, set()).update(int(t.rsplit(":", 1)[1]) for t in sc["targets"])
        for sd in j.get("dns_sd_configs", []):
            ports.setdefault(name, set()).add(int(sd["port"]))
    assert ports == {"hookq-producer": {8080}, "hookq-worker": {9464}}, ports
    svcs = compose()["services"]
    assert svcs["producer"]["command"] == ["hookq-producer"]
    for sd in jobs["hookq-worker"].get("dns_sd_configs", []):
        assert sd["names"] == ["worker"]


def dashboard():
    with open(os.path.join(DEPLOY, "grafana", "hookq.json")) as f:
        return json.load(f)


def dashboard_exprs():
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                out.append((p["title"], t["expr"]))
            walk(p.get("panels", []))
    walk(dashboard()["panels"])
    return out


def alert_rules():
    doc = yaml_docs(os.path.join(DEPLOY, "prometheus", "alerts.yml"))[0]
    return [r for g in doc["groups"] for r in g["rules"]]


def used_metrics():
    used = set()
    for _, e in dashboard_exprs():
        used |= metric_names(e)
    for r in alert_rules():
        used |= metric_names(r["expr"])
    return used


def test_dashboard():
    d = dashboard()
    assert d["title"] == "hookq" and d["uid"]
    exprs = dashboard_exprs()
    assert len(exprs) >= 15, len(exprs)
    used = set()
    for title, e in exprs:
        names = metric_names(e)
        unknown = names - METRICS
        assert not unknown, "panel %r uses unknown metrics %s" % (title, sorted(unknown))
        used |= names
    want = {"hookq_deliveries_total", "hookq_attempt_duration_seconds", "hookq_stream_lag",
            "hookq_retry_scheduled", "hookq_dead", "hookq_inflight", "hookq_events_ingested_total",
            "hookq_redis_errors_total", "hookq_attempts_total"}
    assert want <= used, "dashboard lacks %s" % sorted(want - used)
    all_e = " ".join(e for _, e in exprs)
    for q in ("0.5", "0.95", "0.99"):
        assert re.search(r"histogram_quantile\(%s0*, sum by \(le\) \(rate\(hookq_attempt_duration_seconds_bucket"
                         % re.escape(q), all_e), "no p%s latency" % q
    assert 'by (instance) (hookq_inflight' in all_e, "no per-worker in-flight panel"
    # Every panel uses the dashboard's data source variable.
    ds_vars = {v["name"] for v in d["templating"]["list"] if v["type"] == "datasource"}
    for p in d["panels"]:
        if p["type"] != "row":
            assert p["datasource"]["uid"] in {"${%s}" % v for v in ds_vars}, p["title"]
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    prov = os.path.join(DEPLOY, "grafana", "provisioning")
    dss = yaml_docs(os.path.join(prov, "datasources", "prometheus.yml"))[0]["datasources"]
    assert dss[0]["type"] == "prometheus" and dss[0]["url"] == "http://prometheus:9090"
    prov_path = yaml_docs(os.path.join(prov, "dashboards", "hookq.yml"))[0]["providers"][0]["options"]["path"]
    mounts = [str(v) for v in compose()["services"]["grafana"]["volumes"]]
    assert any(m.startswith("./grafana/hookq.json:" + prov_path + "/") for m in mounts), mounts


def test_alert_rules():
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    for r in rules:
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r
        assert r["annotations"]["summary"], r["alert"]
        unknown = metric_names(r["expr"]) - METRICS
        assert not unknown, "%s uses unknown metrics %s" % (r["alert"], sorted(unknown))
        for job in re.findall(r'job="([^"]+)"', r["expr"]):
            assert job in ("hookq-producer", "hookq-worker"), job
    exprs = {r["alert"]: re.sub(r"\s+", " ", r["expr"]) for r in rules}
    assert any('absent(up{job="hookq-worker"} == 1)' in e for e in exprs.values()), "no live-worker alert"
    assert any("hookq_redis_errors_total" in e for e in exprs.values())
    assert any('outcome=~"dead' in e or "hookq_dead" in e for e in exprs.values())
    lag = [r for r in rules if "hookq_stream_lag" in r["expr"]]
    assert lag and any(duration_s(r["for"]) >= 600 for r in lag), "lag alert must hold for 10m"
    assert any("hookq_attempts_total" in e or "delivered" in e for e in exprs.values()), "no success-rate alert"
    assert len(names) == len(rules), "duplicate alert names"


def test_promql_with_promtool():
    """Syntax of every PromQL expression (dashboard and alerts), when promtool is installed."""
    if not shutil.which("promtool"):
        print("     (promtool not installed: skipped)")
        return
    d = harness.tmpdir()
    r = subprocess.run(["promtool", "check", "rules", os.path.join(DEPLOY, "prometheus", "alerts.yml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    rules = [{"record": "hookq:check_%d" % i, "expr": e.replace("$__rate_interval", "5m")}
             for i, (_, e) in enumerate(dashboard_exprs())]
    path = os.path.join(d, "dash.yml")
    with open(path, "w") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
    r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    cfg = os.path.join(d, "prometheus.yml")
    shutil.copy(os.path.join(DEPLOY, "prometheus", "alerts.yml"), os.path.join(d, "alerts.yml"))
    with open(cfg, "w") as f:
        f.write(read(DEPLOY, "prometheus", "prometheus.yml").replace("/etc/prometheus/alerts.yml", "alerts.yml"))
    r = subprocess.run(["promtool", "check", "config", cfg], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


# ---------------------------------------------------------------- Redis config
def redis_conf():
    conf = {}
    for line in read(DEPLOY, "redis", "redis.conf").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        k, _, v = line.partition(" ")
        conf[k.lower()] = v.strip().strip('"')
    return conf


def test_redis_conf_loads():
    conf = redis_conf()
    assert conf["appendonly"] == "yes"
    assert conf["appendfsync"] == "always", "the shipped config keeps every acknowledged write"
    assert conf["maxmemory-policy"] == "noeviction"
    assert conf["no-appendfsync-on-rewrite"] == "no"
    assert conf.get("maxmemory", "0") != "0", "set a maxmemory: noeviction needs a limit to answer 503 before OOM"
    assert "dir" not in conf, "dir is the container's working directory (/data)"
    # A real redis-server accepts the file and ends up with those settings.
    d = harness.tmpdir()
    sock = os.path.join(d, "redis.sock")
    log = open(os.path.join(d, "redis.log"), "ab")
    proc = subprocess.Popen(["redis-server", os.path.join(DEPLOY, "redis", "redis.conf"), "--port", "0",
                             "--unixsocket", sock, "--unixsocketperm", "700", "--maxmemory", "64mb"],
                            cwd=d, stdout=log, stderr=log, start_new_session=True)
    harness._procs.append(proc)
    r = harness.Redis.__new__(harness.Redis)
    r.sock = sock

    def up():
        if proc.poll() is not None:
            raise AssertionError("redis-server refused deploy/redis/redis.conf:\n" + read(d, "redis.log"))
        return r._ping()
    harness.wait_for(up, 10, "redis-server with deploy/redis/redis.conf")
    for k, v in (("appendonly", "yes"), ("appendfsync", "always"), ("maxmemory-policy", "noeviction"),
                 ("no-appendfsync-on-rewrite", "no"), ("save", "")):
        assert r.cmd("CONFIG", "GET", k) == [k, v], (k, r.cmd("CONFIG", "GET", k))
    assert os.path.isdir(os.path.join(d, "appendonlydir")), "AOF not written in the working directory"
    r.cmd("SET", "k", "v")
    try:
        r.cmd("SHUTDOWN")
    except OSError:
        pass
    proc.wait(10)


# ---------------------------------------------------------------- Dockerfile
def deps_pkgs():
    m = re.search(r"^pkgs=\(([^)]*)\)", read(ROOT, "scripts", "deps"), re.M)
    assert m, "no pkgs=(...) in scripts/deps"
    return set(m.group(1).split())


def dockerfile_stages():
    """[(from line, [instructions with continuations joined])]"""
    text = re.sub(r"\\\n", " ", read(DEPLOY, "Dockerfile"))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def apt_installed(instrs):
    pkgs = set()
    for i in instrs:
        for m in re.finditer(r"apt-get install ((?:\s*-\S+)*)((?:\s+[a-z0-9][a-z0-9.+-]+)+)", i):
            pkgs |= set(m.group(2).split())
    return pkgs


def test_dockerfile():
    stages = dockerfile_stages()
    assert len(stages) == 2, [s[0] for s in stages]
    (bfrom, build), (rfrom, run) = stages
    assert re.fullmatch(r"FROM debian:12 AS build", bfrom), bfrom
    assert re.fullmatch(r"FROM debian:12-slim AS \w+", rfrom), rfrom
    # The build stage installs what scripts/deps installs for building...
    need = deps_pkgs() - NOT_FOR_BUILD
    have = apt_installed(build)
    assert need <= have, "build stage lacks %s (from scripts/deps)" % sorted(need - have)
    # ...and builds with the same commands as everyone else.
    assert any(re.search(r"(^|\s)\./scripts/build release(\s|$)", i) for i in build), \
        "the build stage must run ./scripts/build release"
    # Runtime: libraries only, non-root, ports, health check, default command.
    rpk = apt_installed(run)
    want = {"libhiredis0.14", "libuv1", "libcurl4", "libssl3", "libjansson4", "libhttp-parser2.9",
            "ca-certificates", "curl"}
    assert want <= rpk, sorted(want - rpk)
    assert not [p for p in rpk if p.endswith("-dev")], rpk
    joined = "\n".join(run)
    assert re.search(r"useradd .*--uid 10001 .*hookq", joined), "no hookq user with uid 10001"
    users = [i.split(None, 1)[1] for i in run if i.startswith("USER ")]
    assert users and users[-1].split(":")[0] in ("10001", "hookq") and users[-1] != "root", users
    expose = {p for i in run if i.startswith("EXPOSE ") for p in i.split()[1:]}
    assert expose == {"8080", "9464"}, expose
    hc = [i for i in run if i.startswith("HEALTHCHECK ")]
    assert hc and "/healthz" in hc[0] and "curl" in hc[0], hc
    assert 'CMD ["hookq-producer"]' in run, "default command is the producer"
    assert any(i.startswith("COPY --from=build") and i.split()[-1] == "/usr/local/bin/" for i in run)


def binaries_built():
    return all(os.access(os.path.join(harness.BIN, b), os.X_OK) for b in ("hookq-producer", "hookq-worker"))


def test_runtime_image_has_every_linked_library():
    """Each shared library the binaries link comes from a package the runtime stage installs."""
    if not binaries_built() or not shutil.which("readelf") or not shutil.which("dpkg"):
        print("     (binaries, readelf or dpkg missing: skipped)")
        return
    rpk = apt_installed(dockerfile_stages()[1][1]) | BASE_PKGS
    for b in ("hookq-producer", "hookq-worker", "hookq"):
        path = os.path.join(harness.BIN, b)
        if not os.access(path, os.X_OK):
            continue
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", path], capture_output=True, text=True).stdout)
        assert needed, b
        where = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", path], capture_output=True,
                                                                        text=True).stdout, re.M))
        for lib in needed:
            if re.match(r"lib(asan|ubsan|tsan|lsan)\.so", lib):
                continue  # sanitizer builds (build-asan); the image is a release build
            assert lib in where, "%s: %s not resolved" % (b, lib)
            cands = [where[lib], os.path.realpath(where[lib])]
            cands += [("/usr" + c) if not c.startswith("/usr/") else c[4:] for c in list(cands)]
            pkg = None
            for c in cands:
                r = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
                if r.returncode == 0:
                    pkg = r.stdout.split(":", 1)[0].strip()
                    break
            assert pkg, "%s: no package owns %s" % (b, where[lib])
            assert pkg in rpk, "%s links %s from %s, which the runtime image does not install" % (b, lib, pkg)


# ---------------------------------------------------------------- live processes
def families(text):
    fam = set()
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            fam.add(m.group(1))
        elif line and not line.startswith("#"):
            name = line.split("{", 1)[0].split(" ", 1)[0]
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf):
                    fam.add(name[: -len(suf)])
            fam.add(name)
    return fam


def deploy_env_vars():
    """Every HOOKQ_ variable the deploy files set."""
    names = set(config_map(k8s_objects()))
    for s in compose()["services"].values():
        names |= {k for k in env_map(s) if k.startswith("HOOKQ_")}
    for obj in k8s_objects().values():
        if obj["kind"] == "Deployment":
            names |= {k for k in env_of(container(obj)) if k.startswith("HOOKQ_")}
    return names


def test_live_metrics_and_variables():
    """The running binaries export every metric the dashboard and alerts use,
    and know every variable the deploy files set."""
    if not binaries_built():
        print("     (binaries not built in %s: skipped)" % harness.BIN)
        return
    helptext = ""
    for b in ("hookq-producer", "hookq-worker"):
        r = subprocess.run([os.path.join(harness.BIN, b), "--help"], capture_output=True, text=True, timeout=10)
        helptext += r.stdout + r.stderr
    unknown = sorted(v for v in deploy_env_vars() if not re.search(r"\b%s\b" % v, helptext))
    assert not unknown, "deploy files set variables the binaries do not document: %s" % unknown
    # Both processes get the whole ConfigMap, as envFrom gives it to them.
    cm = config_map(k8s_objects())
    redis = harness.Redis()
    prod = harness.Producer(redis, **cm)
    work = harness.Worker(redis, **cm)
    for proc, get in ((prod, lambda p: prod.request("GET", p, token=None)[::3]), (work, work.get)):
        for path in ("/healthz", "/readyz"):
            harness.wait_for(lambda: get(path)[0] == 200, 15, "%s %s to answer 200" % (proc.name, path))
    st, ptext = prod.request("GET", "/metrics", token=None)[::3]
    assert st == 200
    ptext = ptext.decode()
    st, wtext = work.get("/metrics")
    assert st == 200
    exported = families(ptext) | families(wtext)
    missing = sorted(used_metrics() - exported)
    assert not missing, "the dashboard/alerts use metrics no process exports: %s" % missing
    missing = sorted(METRICS - exported)
    assert not missing, "SPEC metrics exported by neither process: %s" % missing
    work.stop()
    prod.stop()


harness.run([
    test_yaml_parses,
    test_kustomization_lists_every_manifest,
    test_k8s_producer,
    test_k8s_worker,
    test_k8s_config_values,
    test_keda_scaled_object,
    test_compose,
    test_prometheus_config,
    test_dashboard,
    test_alert_rules,
    test_promql_with_promtool,
    test_redis_conf_loads,
    test_dockerfile,
    test_runtime_image_has_every_linked_library,
    test_live_metrics_and_variables,
])
