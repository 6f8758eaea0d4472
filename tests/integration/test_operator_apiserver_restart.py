"""The operator (informers, watches, leader Lease) survives an API server restart: a catalog made
before is kept, and changes made after the restart are seen and reconciled without restarting the
operator."""
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import cluster  # noqa: E402
from fixture import kube_cluster  # noqa: E402,F401
from operator_harness import Operator, catalog, s3_secret, table  # noqa: E402


def test_operator_survives_an_api_server_restart(kube_cluster, minio):
    op = Operator(kube_cluster)
    try:
        ns = kube_cluster.namespace("restart")
        kube_cluster.core.create_namespaced_secret(ns, s3_secret())
        bucket = f"rs-{uuid.uuid4().hex[:8]}"
        minio.make_bucket(bucket)
        op.create(ns, catalog("before", minio, bucket, prefix="before"))
        op.wait_condition(ns, "DuckLakeCatalog", "before", "Ready", timeout=180)
        cluster.restart_apiserver(down_s=5)
        assert op.proc.poll() is None, "the operator died with the API server:\n" + op.logs()[-4000:]
        op.create(ns, catalog("after", minio, bucket, prefix="after"))
        op.create(ns, table("t", "before", [{"name": "x", "type": "INT"}]))
        op.wait_condition(ns, "DuckLakeCatalog", "after", "Ready", timeout=180)
        op.wait_condition(ns, "DuckLakeTable", "t", "Ready", timeout=180)
    finally:
        rc = op.stop()
    assert rc == 0, op.logs()[-6000:]
