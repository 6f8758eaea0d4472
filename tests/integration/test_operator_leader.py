"""Operator replicas: one leads (the Lease), the others wait; when the leader dies without
releasing the Lease, a standby takes over after it expires and reconciles; a leader stopped with
SIGTERM releases the Lease and a standby leads within seconds."""
import os
import re
import signal
import sys
import time
import uuid

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401
from operator_harness import GROUP, VERSION, Operator, catalog, s3_secret, table, wait_for  # noqa: E402


def leader_metric(op):
    try:
        m = requests.get(f"http://127.0.0.1:{op.port}/metrics", timeout=2).text
    except requests.RequestException:
        return None
    for line in m.splitlines():
        if line.startswith("featherman_operator_leader "):
            return int(line.split()[1])
    return None


def test_standby_takes_over_when_the_leader_dies(kube_cluster, minio):
    a = Operator(kube_cluster)
    b = None
    try:
        wait_for(lambda: leader_metric(a) == 1, 60, "the first operator to lead")
        b = Operator(kube_cluster)
        wait_for(lambda: leader_metric(b) == 0, 30, "the second operator to stand by")
        time.sleep(3)
        assert leader_metric(b) == 0 and leader_metric(a) == 1
        a.proc.send_signal(signal.SIGKILL)  # no release: the standby must wait for the lease to expire
        a.proc.wait()
        t0 = time.time()
        wait_for(lambda: leader_metric(b) == 1, 60, "the standby to take over")
        took = time.time() - t0
        assert took < 40, took
        ns = kube_cluster.namespace("lead")
        kube_cluster.core.create_namespaced_secret(ns, s3_secret())
        bucket = f"ld-{uuid.uuid4().hex[:8]}"
        minio.make_bucket(bucket)
        b.create(ns, catalog("after", minio, bucket))
        b.wait_condition(ns, "DuckLakeCatalog", "after", "Ready", timeout=180)
        # SIGTERM releases the Lease: a third replica leads within a few seconds, not a lease duration
        c = Operator(kube_cluster)
        wait_for(lambda: leader_metric(c) == 0, 30, "the third operator to stand by")
        t0 = time.time()
        rc = b.stop()
        assert rc == 0, b.logs()[-4000:]
        b = None
        wait_for(lambda: leader_metric(c) == 1, 30, "the third operator to lead")
        assert time.time() - t0 < 10, time.time() - t0
        assert c.stop() == 0, c.logs()[-4000:]
    finally:
        if b:
            rc = b.stop()
            assert rc == 0, b.logs()[-4000:]
        a.stop()


def reconciles(op, controller):
    m = requests.get(f"http://127.0.0.1:{op.port}/metrics", timeout=5).text
    return sum(int(v) for v in re.findall(
        rf'^controller_runtime_reconcile_total{{controller="{controller}",result="[a-z_]+"}} (\d+)$', m, re.M))


def test_a_new_leader_reconciles_only_with_synced_caches(kube_cluster, minio):
    """A start or failover must not show tables and pools a half-listed world: workers start only
    after every informer has synced, so no table or pool of an existing, Ready catalog is ever
    marked CatalogNotFound by the new leader (read from what the API server stored: Events and
    the conditions' transition times)."""
    ns = kube_cluster.namespace("sync")
    kube_cluster.core.create_namespaced_secret(ns, s3_secret())
    bucket = f"sy-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    a = Operator(kube_cluster)
    b = None
    tables = [f"t{i}" for i in range(6)]
    try:
        a.create(ns, catalog("cat", minio, bucket))
        a.wait_condition(ns, "DuckLakeCatalog", "cat", "Ready", timeout=180)
        for t in tables:
            a.create(ns, table(t, "cat", [{"name": "x", "type": "INT"}]))
        a.create(ns, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DuckLakePool", "metadata": {"name": "pool"},
                      "spec": {"catalogRef": {"name": "cat"}, "minSize": 0, "maxSize": 1}})
        for t in tables:
            a.wait_condition(ns, "DuckLakeTable", t, "Ready", timeout=240)
        a.wait_condition(ns, "DuckLakePool", "pool", "CatalogReady", timeout=120)
        before = {t: a.condition(ns, "DuckLakeTable", t, "Ready")["lastTransitionTime"] for t in tables}
        pool_before = a.condition(ns, "DuckLakePool", "pool", "CatalogReady")["lastTransitionTime"]
        assert a.stop() == 0, a.logs()[-4000:]
        b = Operator(kube_cluster)
        # the new leader has looked at every table and the pool
        wait_for(lambda: leader_metric(b) == 1, 60, "the new operator to lead")
        wait_for(lambda: reconciles(b, "ducklaketable") >= len(tables) and reconciles(b, "ducklakepool") >= 1, 120,
                 "the new leader to reconcile every table and the pool")
        for t in tables:
            c = b.condition(ns, "DuckLakeTable", t, "Ready")
            assert c["status"] == "True" and c["lastTransitionTime"] == before[t], (t, c)
            ev = b.events(ns, t)
            assert not [e for e in ev if "does not exist" in e or "CatalogNotFound" in e], (t, ev)
        c = b.condition(ns, "DuckLakePool", "pool", "CatalogReady")
        assert c["status"] == "True" and c["lastTransitionTime"] == pool_before, c
        ev = b.events(ns, "pool")
        assert not [e for e in ev if "not found" in e], ev
        assert "caches synced" in b.logs()
    finally:
        if b:
            rc = b.stop()
            assert rc == 0, b.logs()[-4000:]
        a.stop()
