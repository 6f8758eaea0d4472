"""The operator with every metadata backend and the sample catalog (config/samples), the catalog write lock,
Job hygiene as the API server stores it, and what only the operator can refuse (a type the CRD
pattern lets through but the type grammar does not)."""
import os
import sys
import uuid

import duckdb
import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401
from operator_harness import catalog, operator, s3_secret, table, wait_for  # noqa: E402,F401
from services import ROOT, MinIO  # noqa: E402
from test_operator_catalogs import lake_duckdb  # noqa: E402

EXT = os.environ.get("FEATHERMAN_EXTENSION_DIR")


@pytest.fixture()
def ns(kube_cluster, minio):
    n = kube_cluster.namespace("opb")
    kube_cluster.core.create_namespaced_secret(n, s3_secret())
    return n


def test_the_seed_catalog_example_with_minio(operator, kube_cluster, minio, ns):
    with open(os.path.join(ROOT, "config", "samples", "ducklakecatalog.yaml")) as f:
        cat = yaml.safe_load(f)
    bucket = f"seed-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    cat["spec"]["objectStore"].update({"endpoint": minio.endpoint, "bucket": bucket, "useSSL": False})
    kube_cluster.core.create_namespaced_secret(ns, s3_secret("s3-credentials"))
    operator.create(ns, cat)
    operator.wait_condition(ns, "DuckLakeCatalog", "example", "Ready", timeout=180)
    pvc = kube_cluster.core.read_namespaced_persistent_volume_claim("example-metadata", ns)
    assert pvc.spec.storage_class_name == "standard" and pvc.spec.resources.requests["storage"] == "10Gi"
    with open(os.path.join(ROOT, "config", "samples", "ducklaketable.yaml")) as f:
        tab = yaml.safe_load(f)
    tab["spec"]["materializeTo"]["destination"]["bucket"] = bucket
    operator.create(ns, tab)
    operator.wait_condition(ns, "DuckLakeTable", "users", "Ready", timeout=180)
    con = lake_duckdb(kube_cluster, ns, "example", minio, bucket, prefix="", read_only=False)
    cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'lk' "
                       "AND table_name = 'users' ORDER BY column_index").fetchall()
    assert cols == [("id", "INTEGER"), ("name", "VARCHAR"), ("country", "VARCHAR"), ("created_at", "TIMESTAMP")]
    parts = con.execute("SELECT transform FROM __ducklake_metadata_lk.ducklake_partition_column "
                        "ORDER BY partition_key_index").fetchall()
    assert parts == [("day",)]
    con.execute("INSERT INTO lk.users VALUES (1, 'Ada', 'GB', '2024-01-05 09:00:00'), (2, 'Bo', 'NL', now())")
    con.close()
    # the data went to MinIO, under the catalog's prefix (the sample keeps DuckLake's
    # default of inlining small inserts: so flush before looking)
    con = lake_duckdb(kube_cluster, ns, "example", minio, bucket, prefix="", read_only=False)
    con.execute("CALL ducklake_flush_inlined_data('lk')")
    con.close()
    assert any(k.endswith(".parquet") for k in minio.list(bucket, "")), minio.list(bucket, "")


def test_postgres_and_duckdb_file_catalogs(operator, kube_cluster, minio, postgres, ns):
    bucket = f"be-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    db = f"cat_{uuid.uuid4().hex[:6]}"
    postgres.create_db(db)
    from services import Postgres
    kube_cluster.core.create_namespaced_secret(ns, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pg"},
                                                    "stringData": {"password": Postgres.PASSWORD}})
    pg = {"type": "postgres", "host": "127.0.0.1", "port": postgres.port, "database": db, "user": Postgres.USER,
          "schema": "lake_meta", "passwordSecret": {"name": "pg"}, "sslMode": "disable"}
    operator.create(ns, catalog("pgcat", minio, bucket, prefix="pg", metadata=pg))
    operator.create(ns, catalog("filecat", minio, bucket, prefix="file", metadata={"type": "duckdb"}))
    for cat in ("pgcat", "filecat"):
        operator.create(ns, table(f"t-{cat}", cat, [{"name": "id", "type": "BIGINT"}, {"name": "s", "type": "VARCHAR"}],
                                  format={"partitioning": ["bucket(4, id)"]}))
    for cat in ("pgcat", "filecat"):
        operator.wait_condition(ns, "DuckLakeCatalog", cat, "Ready", timeout=180)
        operator.wait_condition(ns, "DuckLakeTable", f"t-{cat}", "Ready", timeout=180)
    assert not any(p.metadata.name.startswith("pgcat") for p in
                   kube_cluster.core.list_namespaced_persistent_volume_claim(ns).items)  # Postgres: no volume
    # DuckDB's Python package on the Postgres metadata
    con = duckdb.connect(config={"extension_directory": EXT, "autoinstall_known_extensions": False,
                                 "autoload_known_extensions": False})
    con.execute("LOAD ducklake; LOAD httpfs; LOAD postgres_scanner")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")
    con.execute(f"ATTACH 'ducklake:postgres:host=127.0.0.1 port={postgres.port} dbname={db} user={Postgres.USER} "
                f"password={Postgres.PASSWORD}' AS lk (DATA_PATH 's3://{bucket}/pg/', METADATA_SCHEMA 'lake_meta', READ_ONLY)")
    assert con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = 'lk' AND table_name = 't-pgcat' "
                       "ORDER BY column_index").fetchall() == [("id",), ("s",)]
    con.close()
    # the DuckDB-file catalog: its metadata file in the PV
    pvc = kube_cluster.core.read_namespaced_persistent_volume_claim("filecat-metadata", ns)
    pv = kube_cluster.core.read_persistent_volume(pvc.spec.volume_name)
    assert os.path.exists(os.path.join(pv.spec.host_path.path, "filecat", "metadata.ducklake"))


def test_writers_to_a_file_catalog_take_turns(operator, kube_cluster, minio, ns):
    bucket = f"lk-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("locked", minio, bucket))
    operator.wait_condition(ns, "DuckLakeCatalog", "locked", "Ready", timeout=180)
    names = [f"t{i}" for i in range(4)]
    for n in names:
        operator.create(ns, table(n, "locked", [{"name": "x", "type": "INT"}]))
    for n in names:
        operator.wait_condition(ns, "DuckLakeTable", n, "Ready", timeout=240)
    jobs = [j for j in kube_cluster.batch.list_namespaced_job(ns).items
            if j.metadata.labels.get("featherman.dev/operation") in ("ddl", "init")]
    spans = sorted((j.status.start_time, j.status.completion_time) for j in jobs)
    for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
        assert e1 <= s2, f"two writers of one file catalog overlapped: {spans}"
    # hygiene as the API server stores it
    j = jobs[0]
    assert j.metadata.owner_references[0].controller and j.spec.backoff_limit == 0
    assert j.spec.active_deadline_seconds and j.spec.ttl_seconds_after_finished
    c = j.spec.template.spec.containers[0]
    assert c.termination_message_policy == "FallbackToLogsOnError"
    assert c.security_context.read_only_root_filesystem and not c.security_context.allow_privilege_escalation
    assert j.spec.template.spec.security_context.run_as_non_root
    assert all(e.value is None or "SECRET" not in e.name for e in c.env)
    assert MinIO.SECRET_KEY not in str(j.to_dict())


def test_a_type_only_the_grammar_refuses(operator, kube_cluster, minio, ns):
    bucket = f"gr-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    operator.create(ns, catalog("gram", minio, bucket))
    operator.create(ns, table("bad", "gram", [{"name": "x", "type": "INTEGER(5)"}]))
    c = operator.wait_condition(ns, "DuckLakeTable", "bad", "Ready", status="False", reason="InvalidSpec", timeout=120)
    assert "INTEGER(5)" in c["message"] or "columns[0].type" in c["message"], c
