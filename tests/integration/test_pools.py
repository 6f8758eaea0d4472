"""DuckLakePool on the real test cluster: the operator (a host process, admin
kubeconfig) keeps warm `worker serve` pods for a catalog, scales them on what the pods report
through GET /status (and the gateway's queue length), drains before deleting, recycles worn-out
pods and replaces crashed ones; the gateway (a host process) routes queries to them.

The tests share one catalog `lake` (SQLite metadata on a PV, data in MinIO) and run in order:
one writable pool `lake-pool` is sized, loaded, shrunk, recycled and has a pod killed; then it is
deleted and a read-only pool takes its place."""
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import uuid

import pyarrow as pa
import pyarrow.ipc
import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401
from operator_harness import GROUP, VERSION, catalog, operator, s3_secret, table, wait_for  # noqa: E402,F401
from services import free_port  # noqa: E402
from test_gateway import Gateway, secret  # noqa: E402

TOKEN = "client-" + uuid.uuid4().hex
POOL_LABELS = "app.kubernetes.io/component=pool-worker,featherman.dev/pool="


def pool(name, catalog_name, read_only=False, **spec):
    s = {"catalogRef": {"name": catalog_name, "readOnly": read_only}}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DuckLakePool", "metadata": {"name": name}, "spec": s}


def metric(text, name, pool_key):
    m = re.search(rf'^{re.escape(name)}{{pool="{re.escape(pool_key)}"}} ([0-9.e+-]+)$', text, re.M)
    return float(m.group(1)) if m else None


class Env:
    pass


@pytest.fixture(scope="module")
def lake(kube_cluster, operator, minio):
    kc = kube_cluster
    e = Env()
    e.kc, e.op = kc, operator
    e.ns = ns = kc.namespace("pool")
    kc.core.create_namespaced_secret(ns, s3_secret())
    kc.apply(json.dumps(secret("featherman-query-tokens", {"a": TOKEN})), ns)
    bucket = f"pool-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("lake", minio, bucket))
    operator.create(ns, table("orders", "lake", [{"name": "id", "type": "BIGINT"}, {"name": "country", "type": "VARCHAR"}]))
    operator.wait_condition(ns, "DuckLakeTable", "orders", "Ready", timeout=240)
    e.tmp = tempfile.mkdtemp(prefix="fm-pool-")
    port = free_port()
    # the operator creates the internal token Secret with the first pool; the gateway reads it on demand
    e.gw = Gateway(["--listen", f"127.0.0.1:{port}", "--namespace", ns, "--kubeconfig", kc.kubeconfig,
                    "--image", "featherman:test", "--token-refresh-ms", "300", "--no-fallback"], TOKEN, port, e.tmp)
    e.metrics = lambda: requests.get(f"http://127.0.0.1:{operator.port}/metrics", timeout=5).text
    try:
        yield e
    finally:
        logs = e.gw.stop(check=False)
        print(logs[-3000:], file=sys.stderr)
        assert e.gw.proc.returncode == 0, f"gateway exited with {e.gw.proc.returncode}:\n{logs[-6000:]}"
        assert TOKEN not in logs
        kc.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def pods(e, name):
    return [p for p in e.kc.core.list_namespaced_pod(e.ns, label_selector=POOL_LABELS + name).items
            if not p.metadata.deletion_timestamp]


def ready_pods(e, name):
    return [p for p in pods(e, name) if any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
            and not (p.metadata.annotations or {}).get("featherman.dev/draining")]


def status(e, name):
    return e.op.get(e.ns, "DuckLakePool", name).get("status", {})


def wait_status(e, name, what, pred, timeout=120):
    try:
        return wait_for(lambda: pred(status(e, name)), timeout, what)
    except AssertionError:
        raise AssertionError(f"{what}: status {json.dumps(status(e, name), indent=1)}\n"
                             f"events: {e.op.events(e.ns, name)}\n--- operator log:\n{e.op.logs()[-5000:]}") from None


def q(e, sql, **kw):
    return e.gw.query(sql, catalog="lake", **kw)


def test_pool_refused_on_duckdb_metadata_and_waits_for_its_catalog(lake, minio):
    e = lake
    bucket = f"pool-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    duck = catalog("duck", minio, bucket, metadata={"type": "duckdb"})
    # paused: the operator leaves the catalog alone (no volume: the test cluster has few PVs);
    # the pool is refused on the catalog's spec alone
    duck["metadata"]["annotations"] = {"featherman.dev/reconcile": "paused"}
    e.op.create(e.ns, duck)
    e.op.create(e.ns, pool("duck-pool", "duck"))
    c = e.op.wait_condition(e.ns, "DuckLakePool", "duck-pool", "Ready", status="False",
                            reason="UnsupportedMetadataBackend")
    assert "sqlite" in c["message"] and "postgres" in c["message"], c
    assert status(e, "duck-pool")["phase"] == "Failed"
    # a pool whose catalog does not exist (yet) waits, saying why
    e.op.create(e.ns, pool("orphan-pool", "nope"))
    c = e.op.wait_condition(e.ns, "DuckLakePool", "orphan-pool", "Ready", status="False", reason="CatalogNotReady")
    assert "nope" in c["message"]
    assert e.op.condition(e.ns, "DuckLakePool", "orphan-pool", "CatalogReady")["reason"] == "CatalogNotFound"
    time.sleep(2)
    assert not pods(e, "duck-pool") and not pods(e, "orphan-pool")
    e.op.delete(e.ns, "DuckLakePool", "duck-pool")
    e.op.delete(e.ns, "DuckLakePool", "orphan-pool")


def test_min_size_pods_ready_and_queries_in_every_format(lake):
    e = lake
    e.op.create(e.ns, pool("lake-pool", "lake", minSize=2, maxSize=4, scaleInterval="2s", stabilizationWindow="6s",
                           scaleUpRate=1, scaleDownRate=1, targetUtilization=1,
                           queue={"maxLength": 100, "maxWaitTime": "90s"}, maxQueryDuration="60s",
                           template={"resources": {"limits": {"memory": "1Gi", "cpu": "1"}}}))
    e.op.wait_condition(e.ns, "DuckLakePool", "lake-pool", "Ready", timeout=120)
    st = wait_status(e, "lake-pool", "phase Ready, current 2",
                     lambda s: s if s.get("phase") == "Ready" and s.get("current") == 2 else None)
    assert st["desired"] == 2 and st["idle"] == 2 and st["busy"] == 0 and st["queueLength"] == 0
    assert st["observedGeneration"] == e.op.get(e.ns, "DuckLakePool", "lake-pool")["metadata"]["generation"]
    ps = ready_pods(e, "lake-pool")
    assert len(ps) == 2
    for p in ps:
        assert re.fullmatch(r"lake-pool-[bcdfghjklmnpqrstvwxz2456789]{5}", p.metadata.name), p.metadata.name
        assert p.metadata.labels["featherman.dev/catalog"] == "lake"
        assert p.metadata.owner_references[0].kind == "DuckLakePool"
        c = p.spec.containers[0]
        assert c.args[:4] == ["worker", "serve", "--slots", "1"] and "--threads" in c.args
        assert c.args[c.args.index("--memory-limit") + 1] == "819MiB"
        assert p.spec.termination_grace_period_seconds >= 60
        assert c.security_context.read_only_root_filesystem and p.spec.security_context.run_as_non_root
    out = json.loads(e.kc.kubectl("get", "pdb", "lake-pool", "-n", e.ns, "-o", "json"))
    assert out["spec"]["minAvailable"] == 2 and out["metadata"]["ownerReferences"][0]["name"] == "lake-pool"
    tok = e.kc.core.read_namespaced_secret("featherman-internal-token", e.ns)
    assert tok.metadata.labels["app.kubernetes.io/managed-by"] == "featherman-operator"
    # queries through the gateway
    r = q(e, "INSERT INTO orders SELECT range, CASE WHEN range % 2 = 0 THEN 'nl' ELSE 'de' END FROM range(1000)")
    assert r.status_code == 200, r.text
    assert r.headers["X-Featherman-Pod"].startswith("lake-pool-")
    r = q(e, "SELECT country, count(*) AS n FROM orders GROUP BY country ORDER BY country", fmt="csv")
    assert r.status_code == 200 and r.text.replace("\r\n", "\n") == "country,n\nde,500\nnl,500\n", r.text
    r = q(e, "SELECT id FROM orders WHERE id < 3 ORDER BY id", fmt="ndjson")
    assert [json.loads(x) for x in r.text.splitlines()] == [{"id": 0}, {"id": 1}, {"id": 2}]
    r = q(e, "SELECT * FROM orders ORDER BY id", fmt="arrow")
    t = pa.ipc.open_stream(r.content).read_all()
    assert t.num_rows == 1000 and t.column_names == ["id", "country"]
    m = e.metrics()
    assert metric(m, "ducklake_pool_size_current", f"{e.ns}/lake-pool") == 2, m
    assert metric(m, "ducklake_pool_size_desired", f"{e.ns}/lake-pool") == 2
    assert metric(m, "ducklake_pool_pods_idle", f"{e.ns}/lake-pool") is not None
    assert metric(m, "ducklake_pool_queue_length", f"{e.ns}/lake-pool") == 0


def calibrate(e, seconds):
    """rows of `SELECT sum(range) FROM range(n)` that take about `seconds` on one pool pod"""
    n = 50_000_000
    while True:
        t0 = time.time()
        r = q(e, f"SELECT sum(range) AS s FROM range({n})", fmt="ndjson")
        dt = time.time() - t0
        assert r.status_code == 200, r.text
        if dt > 0.5 or n > 10**11:
            return int(n * seconds / dt)
        n *= 4


def test_load_scales_up_to_max_then_back_to_min_without_killing_queries(lake):
    e = lake
    n = calibrate(e, 6)
    results, lock = [], threading.Lock()

    def run():
        r = q(e, f"SELECT sum(range) AS s FROM range({n})", fmt="ndjson", timeout=300)
        with lock:
            results.append((r.status_code, r.text, r.headers.get("X-Featherman-Pod")))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    seen_max, seen_metric = 0, 0
    t_end = time.time() + 120
    while any(t.is_alive() for t in threads) and time.time() < t_end:
        s = status(e, "lake-pool")
        seen_max = max(seen_max, s.get("current", 0), s.get("desired", 0))
        cur = metric(e.metrics(), "ducklake_pool_size_current", f"{e.ns}/lake-pool") or 0
        seen_metric = max(seen_metric, cur)
        assert len(pods(e, "lake-pool")) <= 4 + 4  # live pods ≤ maxSize (+ pods finishing a drain)
        time.sleep(0.3)
    for t in threads:
        t.join(300)
    expected = str(n * (n - 1) // 2)
    assert len(results) == 8
    for code, text, _ in results:
        assert code == 200, text
        assert json.loads(text)["s"] in (int(expected), expected), text
    assert seen_max == 4, f"the pool never reached maxSize: {seen_max}; events {e.op.events(e.ns, 'lake-pool')}"
    assert seen_metric >= 3
    assert len({p for _, _, p in results}) >= 3, results  # the queued queries ran on the new pods
    ups = [ev for ev in e.op.events(e.ns, "lake-pool") if ev.startswith("ScaleUp")]
    assert ups and all("created 1 pod(s)" in ev for ev in ups), ups  # scaleUpRate 1 per scaleInterval
    # after the load: back to minSize once the stabilization window has passed, one pod at a time,
    # while short queries keep succeeding
    stop, errors, served = threading.Event(), [], [0]

    def trickle():
        while not stop.is_set():
            r = q(e, "SELECT count(*) AS n FROM orders", fmt="ndjson")
            if r.status_code != 200:
                errors.append(r.text)
            else:
                served[0] += 1
            time.sleep(0.1)

    tr = threading.Thread(target=trickle)
    tr.start()
    try:
        wait_status(e, "lake-pool", "back to minSize",
                    lambda s: s if s.get("current") == 2 and s.get("desired") == 2 and s.get("phase") == "Ready"
                    else None, timeout=120)
        wait_for(lambda: len(pods(e, "lake-pool")) == 2, 90, "drained pods deleted")
    finally:
        stop.set()
        tr.join(60)
    assert not errors, errors[:3]
    assert served[0] > 0
    downs = [ev for ev in e.op.events(e.ns, "lake-pool") if ev.startswith("ScaleDown")]
    assert downs, e.op.events(e.ns, "lake-pool")
    assert metric(e.metrics(), "ducklake_pool_size_current", f"{e.ns}/lake-pool") == 2


def test_max_queries_recycles_pods_while_queries_succeed(lake):
    e = lake
    before = {p.metadata.name for p in pods(e, "lake-pool")}
    e.op.patch(e.ns, "DuckLakePool", "lake-pool", {"spec": {"maxQueries": 3}})
    served_by = set()
    deadline = time.time() + 120
    while time.time() < deadline:
        r = q(e, "SELECT count(*) AS n FROM orders", fmt="ndjson")
        assert r.status_code == 200, r.text
        assert json.loads(r.text) == {"n": 1000}
        served_by.add(r.headers["X-Featherman-Pod"])
        if len(served_by - before) >= 2:
            break
        time.sleep(0.2)
    assert len(served_by - before) >= 2, (served_by, before, e.op.events(e.ns, "lake-pool"))
    assert any(ev.startswith("Recycle") for ev in e.op.events(e.ns, "lake-pool"))
    e.op.patch(e.ns, "DuckLakePool", "lake-pool", {"spec": {"maxQueries": 0}})
    wait_status(e, "lake-pool", "Ready with 2 pods after recycling",
                lambda s: s if s.get("phase") == "Ready" and s.get("current") == 2 else None)


def test_template_change_rolls_out_one_pod_at_a_time(lake):
    e = lake
    wait_status(e, "lake-pool", "Ready with 2 pods",
                lambda s: s if s.get("phase") == "Ready" and s.get("current") == 2 else None)
    before = {p.metadata.name for p in pods(e, "lake-pool")}
    e.op.patch(e.ns, "DuckLakePool", "lake-pool", {"spec": {"template": {"env": [{"name": "ROLLOUT", "value": "2"}]}}})

    def rolled():
        ps = ready_pods(e, "lake-pool")
        new = [p for p in ps if p.metadata.name not in before]
        ok = len(new) == 2 and all(any(v.name == "ROLLOUT" and v.value == "2" for v in p.spec.containers[0].env)
                                   for p in new)
        return ok
    deadline = time.time() + 240
    while time.time() < deadline and not rolled():
        r = q(e, "SELECT count(*) AS n FROM orders", fmt="ndjson")  # queries keep working during the rollout
        assert r.status_code == 200, r.text
        time.sleep(0.3)
    assert rolled(), (before, [p.metadata.name for p in pods(e, "lake-pool")], e.op.events(e.ns, "lake-pool"))
    assert any(ev.startswith("RollingUpdate") for ev in e.op.events(e.ns, "lake-pool"))
    wait_status(e, "lake-pool", "Ready with 2 pods after the rollout",
                lambda s: s if s.get("phase") == "Ready" and s.get("current") == 2 else None)


def test_killed_pod_is_replaced(lake):
    e = lake
    wait_for(lambda: len(ready_pods(e, "lake-pool")) == 2, 90, "2 ready pods")
    victim = ready_pods(e, "lake-pool")[0].metadata.name
    pid = e.kc.pod_pid(e.ns, victim, "featherman")
    assert pid
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: victim not in {p.metadata.name for p in pods(e, "lake-pool")}
             and len(ready_pods(e, "lake-pool")) == 2, 120, "the killed pod replaced")
    assert any(ev.startswith("PodFailed") and victim in ev for ev in e.op.events(e.ns, "lake-pool"))
    r = q(e, "SELECT count(*) AS n FROM orders", fmt="ndjson")
    assert r.status_code == 200 and json.loads(r.text) == {"n": 1000}, r.text


def test_read_only_pool_refuses_writes(lake):
    e = lake
    e.op.delete(e.ns, "DuckLakePool", "lake-pool")
    wait_for(lambda: not pods(e, "lake-pool"), 120, "the pool's pods to go with it")
    e.op.create(e.ns, pool("lake-ro", "lake", read_only=True, minSize=1, maxSize=1))
    wait_status(e, "lake-ro", "read-only pool Ready",
                lambda s: s if s.get("phase") == "Ready" and s.get("current") == 1 else None)
    p = ready_pods(e, "lake-ro")[0]
    assert "--read-only" in p.spec.containers[0].args
    r = q(e, "INSERT INTO orders VALUES (5000, 'xx')")
    assert r.status_code == 403 and r.json()["error"]["code"] == "refused", r.text
    assert "read-only" in r.json()["error"]["message"], r.text
    r = q(e, "SELECT count(*) AS n FROM orders", fmt="ndjson")
    assert r.status_code == 200 and json.loads(r.text) == {"n": 1000}, r.text
    assert r.headers["X-Featherman-Pod"] == p.metadata.name
