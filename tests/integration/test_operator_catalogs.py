"""The operator makes catalogs and tables real on the real test cluster: Jobs run
`featherman worker job`, data goes to MinIO, and DuckDB's own Python package attaches the lake
the operator created to check it independently."""
import io
import os
import sys
import uuid

import duckdb
import pyarrow.parquet as pq
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401
from operator_harness import catalog, operator, s3_secret, table, wait_for  # noqa: E402,F401
from services import MinIO  # noqa: E402

EXT = os.environ.get("FEATHERMAN_EXTENSION_DIR")


def lake_duckdb(kc, ns, cat, minio, bucket, prefix="lake", read_only=True):
    """DuckDB's Python package on the lake: the SQLite metadata from the PV's directory, data in MinIO."""
    pvc = kc.core.read_namespaced_persistent_volume_claim(f"{cat}-metadata", ns)
    pv = kc.core.read_persistent_volume(pvc.spec.volume_name)
    meta = os.path.join(pv.spec.host_path.path, cat, "metadata.sqlite")
    assert os.path.exists(meta), meta
    con = duckdb.connect(config={"extension_directory": EXT, "autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    con.execute("LOAD ducklake; LOAD httpfs; LOAD sqlite_scanner")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")
    ro = ", READ_ONLY" if read_only else ""
    data = f"s3://{bucket}/" + (f"{prefix}/" if prefix else "")
    con.execute(f"ATTACH 'ducklake:sqlite:{meta}' AS lk (DATA_PATH '{data}'{ro})")
    return con


def columns(con, t):
    return con.execute(f"SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'lk' "
                       f"AND table_name = '{t}' ORDER BY column_index").fetchall()


@pytest.fixture()
def ns(kube_cluster, minio):
    n = kube_cluster.namespace("op")
    kube_cluster.core.create_namespaced_secret(n, s3_secret())
    return n


def test_catalog_and_table_become_ready_and_duckdb_sees_them(operator, kube_cluster, minio, ns):
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("sales", minio, bucket))
    operator.create(ns, table("orders", "sales", [
        {"name": "id", "type": "BIGINT", "nullable": False},
        {"name": "country", "type": "VARCHAR"},
        {"name": "created_at", "type": "TIMESTAMP"},
        {"name": "weird \"name\"; DROP TABLE x; --", "type": "INT"}],
        format={"partitioning": ["country", "day(created_at)"], "compression": "ZSTD"}))
    operator.wait_condition(ns, "DuckLakeCatalog", "sales", "Ready", timeout=180)
    st = operator.get(ns, "DuckLakeCatalog", "sales")["status"]
    assert st["phase"] == "Ready" and st["engineVersion"] == "v1.5.5" and st["formatVersion"]
    assert {c["type"]: c["status"] for c in st["conditions"]}["ObjectStoreReady"] == "True"
    operator.wait_condition(ns, "DuckLakeTable", "orders", "Ready", timeout=180)
    tst = operator.get(ns, "DuckLakeTable", "orders")["status"]
    assert [c["name"] for c in tst["columns"]] == ["id", "country", "created_at", "weird \"name\"; DROP TABLE x; --"]
    # independent check: DuckDB's Python package on the metadata in the PV and the data in MinIO
    con = lake_duckdb(kube_cluster, ns, "sales", minio, bucket)
    assert columns(con, "orders") == [("id", "BIGINT"), ("country", "VARCHAR"), ("created_at", "TIMESTAMP"),
                                      ("weird \"name\"; DROP TABLE x; --", "INTEGER")]
    assert con.execute("SELECT count(*) FROM lk.orders").fetchone() == (0,)
    con.close()
    events = operator.events(ns, "sales")
    assert any(e.startswith("Ready") for e in events), events


def test_table_changes_apply_and_refused_changes_say_why(operator, kube_cluster, minio, ns):
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("lake2", minio, bucket))
    cols = [{"name": "id", "type": "INTEGER"}, {"name": "country", "type": "VARCHAR"}]
    operator.create(ns, table("t", "lake2", cols))
    operator.wait_condition(ns, "DuckLakeTable", "t", "Ready", timeout=180)
    # add a column, widen id, partition by country
    operator.patch(ns, "DuckLakeTable", "t", {"spec": {"columns": [
        {"name": "id", "type": "BIGINT"}, {"name": "country", "type": "VARCHAR"}, {"name": "qty", "type": "INTEGER"}],
        "format": {"partitioning": ["country"]}}})
    gen = operator.get(ns, "DuckLakeTable", "t")["metadata"]["generation"]
    wait_for(lambda: (lambda c: c and c["status"] == "True" and c["observedGeneration"] == gen)(
        operator.condition(ns, "DuckLakeTable", "t", "Applied")), 180, "the change to be applied")
    con = lake_duckdb(kube_cluster, ns, "lake2", minio, bucket)
    assert columns(con, "t") == [("id", "BIGINT"), ("country", "VARCHAR"), ("qty", "INTEGER")]
    con.close()
    assert operator.get(ns, "DuckLakeTable", "t")["status"]["partitioning"] == '("country")'
    # an incompatible type change: refused, with the reason, and the table stays as it was
    operator.patch(ns, "DuckLakeTable", "t", {"spec": {"columns": [
        {"name": "id", "type": "VARCHAR"}, {"name": "country", "type": "VARCHAR"}, {"name": "qty", "type": "INTEGER"}]}})
    c = operator.wait_condition(ns, "DuckLakeTable", "t", "Ready", status="False", reason="ChangeRefused", timeout=180)
    assert "id" in c["message"] and "VARCHAR" in c["message"], c
    con = lake_duckdb(kube_cluster, ns, "lake2", minio, bucket)
    assert columns(con, "t") == [("id", "BIGINT"), ("country", "VARCHAR"), ("qty", "INTEGER")]
    con.close()


def test_missing_secret_is_a_condition_then_recovers(operator, kube_cluster, minio):
    ns = kube_cluster.namespace("op")
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("nosecret", minio, bucket))
    c = operator.wait_condition(ns, "DuckLakeCatalog", "nosecret", "ObjectStoreReady", status="False",
                                reason="SecretNotFound")
    assert "s3-creds" in c["message"]
    kube_cluster.core.create_namespaced_secret(ns, s3_secret())
    operator.wait_condition(ns, "DuckLakeCatalog", "nosecret", "Ready", timeout=180)


def test_unreachable_object_store_is_a_condition(operator, kube_cluster, minio, ns):
    from services import free_port
    cat = catalog("dead", minio, "dead-bucket")
    cat["spec"]["objectStore"]["endpoint"] = f"127.0.0.1:{free_port()}"
    operator.create(ns, cat)
    c = operator.wait_condition(ns, "DuckLakeCatalog", "dead", "ObjectStoreReady", status="False",
                                reason="ObjectStoreUnreachable", timeout=180)
    assert "127.0.0.1" in c["message"]
    assert MinIO.SECRET_KEY not in str(operator.get(ns, "DuckLakeCatalog", "dead"))
    assert MinIO.SECRET_KEY not in operator.logs()


def test_two_catalogs_cannot_share_a_prefix(operator, kube_cluster, minio, ns):
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("first", minio, bucket, prefix="shared"))
    operator.wait_condition(ns, "DuckLakeCatalog", "first", "Ready", timeout=180)
    operator.create(ns, catalog("second", minio, bucket, prefix="shared"))
    c = operator.wait_condition(ns, "DuckLakeCatalog", "second", "Ready", status="False", reason="PrefixInUse")
    assert f"{ns}/first" in c["message"]


def test_materialize_to_parquet_and_bad_sql(operator, kube_cluster, minio, ns):
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("mat", minio, bucket))
    mat = {"enabled": True, "sql": "SELECT range AS n, range * 2 AS twice FROM range(5)",
           "destination": {"bucket": bucket, "prefix": "exports/nums"}, "format": {"type": "parquet"}}
    operator.create(ns, table("nums", "mat", [{"name": "n", "type": "BIGINT"}], materializeTo=mat))
    operator.wait_condition(ns, "DuckLakeTable", "nums", "Materialized", timeout=240)
    lm = operator.get(ns, "DuckLakeTable", "nums")["status"]["lastMaterialization"]
    assert lm["rows"] == 5 and lm["files"] == 1 and lm["location"].startswith(f"s3://{bucket}/exports/nums/")
    key = lm["location"][len(f"s3://{bucket}/"):]
    body = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).to_pylist() == [{"n": i, "twice": 2 * i} for i in range(5)]
    # a bad query: DuckDB's message in the condition
    mat["sql"] = "SELECT no_such_column FROM nums"
    operator.patch(ns, "DuckLakeTable", "nums", {"spec": {"materializeTo": mat}})
    c = operator.wait_condition(ns, "DuckLakeTable", "nums", "Materialized", status="False",
                                reason="MaterializationFailed", timeout=240)
    assert "no_such_column" in c["message"], c


def test_deletion_retain_keeps_the_volume_and_delete_removes_data(operator, kube_cluster, minio, ns):
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("keep", minio, bucket, prefix="keep"))
    operator.create(ns, table("k", "keep", [{"name": "x", "type": "INT"}]))
    operator.wait_condition(ns, "DuckLakeTable", "k", "Ready", timeout=180)
    # the catalog waits for its tables
    operator.delete(ns, "DuckLakeCatalog", "keep")
    operator.wait_condition(ns, "DuckLakeCatalog", "keep", "Ready", status="False", reason="WaitingForTables")
    operator.delete(ns, "DuckLakeTable", "k")
    operator.wait_gone(ns, "DuckLakeTable", "k")
    operator.wait_gone(ns, "DuckLakeCatalog", "keep")
    pvc = kube_cluster.core.read_namespaced_persistent_volume_claim("keep-metadata", ns)
    assert not pvc.metadata.owner_references  # retained: the garbage collector leaves it

    operator.create(ns, catalog("gone", minio, bucket, prefix="gone", deletionPolicy="delete"))
    operator.create(ns, table("g", "gone", [{"name": "x", "type": "INT"}], deletionPolicy="delete"))
    operator.wait_condition(ns, "DuckLakeTable", "g", "Ready", timeout=180)
    con = lake_duckdb(kube_cluster, ns, "gone", minio, bucket, prefix="gone", read_only=False)
    con.execute("INSERT INTO lk.g SELECT range FROM range(1000)")
    con.close()
    assert [k for k in minio.list(bucket, "gone/") if k.endswith(".parquet")]
    operator.delete(ns, "DuckLakeTable", "g")
    operator.delete(ns, "DuckLakeCatalog", "gone")
    operator.wait_gone(ns, "DuckLakeCatalog", "gone", timeout=240)
    assert [k for k in minio.list(bucket, "gone/") if k.endswith(".parquet")] == []


def test_paused_objects_can_still_be_deleted_and_their_cleanup_runs(operator, kube_cluster, minio, ns):
    """Deletion comes before the pause check: a paused table's DROP runs and its finalizer goes,
    a paused catalog releases its volume and goes."""
    bucket = f"op-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("paused", minio, bucket, prefix="paused"))
    operator.create(ns, table("p", "paused", [{"name": "x", "type": "INT"}], deletionPolicy="delete"))
    operator.wait_condition(ns, "DuckLakeTable", "p", "Ready", timeout=180)
    for kind, name in (("DuckLakeTable", "p"), ("DuckLakeCatalog", "paused")):
        operator.patch(ns, kind, name, {"metadata": {"annotations": {"featherman.dev/reconcile": "paused"}}})
        operator.wait_condition(ns, kind, name, "ReconciliationPaused")
    operator.delete(ns, "DuckLakeTable", "p")
    operator.wait_gone(ns, "DuckLakeTable", "p", timeout=180)
    assert any(e.startswith("Dropped") for e in operator.events(ns, "p")), operator.events(ns, "p")
    con = lake_duckdb(kube_cluster, ns, "paused", minio, bucket, prefix="paused")
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = 'lk' AND table_name = 'p'"
                       ).fetchone() == (0,)
    con.close()
    operator.delete(ns, "DuckLakeCatalog", "paused")
    operator.wait_gone(ns, "DuckLakeCatalog", "paused")
    assert any(e.startswith("Retained") for e in operator.events(ns, "paused")), operator.events(ns, "paused")
    pvc = kube_cluster.core.read_namespaced_persistent_volume_claim("paused-metadata", ns)
    assert not pvc.metadata.owner_references
