"""Every metadata backend (SQLite, DuckDB file, Postgres) with data on local disk and in MinIO.
Independent clients check the result: an S3 client lists the Parquet objects we wrote, and
DuckDB's own Python package (1.5.5, the same format version) attaches the lake and reads it."""
import os
import uuid

import duckdb
import pytest

from featherman import start_local
from services import MinIO, Postgres

EXT = os.path.expanduser("~/.cache/featherman/duckdb-1.5.5/extensions")


def python_duckdb():
    return duckdb.connect(config={"extension_directory": os.environ.get("FEATHERMAN_EXTENSION_DIR", EXT),
                                  "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})


def manifests(metadata, store=None, extra=""):
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: s3-credentials}}
stringData:
  AWS_ACCESS_KEY_ID: {MinIO.ACCESS_KEY}
  AWS_SECRET_ACCESS_KEY: {MinIO.SECRET_KEY}
---
apiVersion: v1
kind: Secret
metadata: {{name: pg}}
stringData:
  password: {Postgres.PASSWORD}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {{name: lake}}
spec:
  metadata: {metadata}
  {store or ''}
  dataInliningRowLimit: 0
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: sales}}
spec:
  catalogRef: lake
  name: sales
  columns:
    - {{name: id, type: INTEGER}}
    - {{name: region, type: VARCHAR}}
    - {{name: amount, type: DOUBLE}}
  format:
    compression: ZSTD
    partitioning: [region]
{extra}
"""


def store(minio, bucket, prefix):
    return (f"objectStore: {{endpoint: '{minio.endpoint}', bucket: {bucket}, prefix: {prefix}, useSSL: false, "
            f"urlStyle: path, credentialsSecret: {{name: s3-credentials}}}}")


def load_and_check(srv):
    r = srv.query("INSERT INTO sales SELECT range, CASE WHEN range % 2 = 0 THEN 'eu' ELSE 'us' END, range * 1.5 "
                  "FROM range(1000)")
    assert r.status_code == 200, r.text
    assert srv.rows("SELECT region, count(*) AS n, sum(amount) AS s FROM sales GROUP BY region ORDER BY region") == [
        {"region": "eu", "n": 500, "s": 374250.0}, {"region": "us", "n": 500, "s": 375000.0}]


@pytest.mark.parametrize("meta", ["sqlite", "duckdb"])
def test_file_metadata_with_data_in_minio(minio, meta):
    bucket = f"lake-{meta}-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    srv = start_local(manifests(f"{{type: {meta}}}", store(minio, bucket, "warehouse")))
    try:
        load_and_check(srv)
        keys = minio.list(bucket, "warehouse/")
        parquet = [k for k in keys if k.endswith(".parquet")]
        assert parquet, keys
        assert any("region=eu" in k for k in parquet), parquet  # partitioned by region
        # the metadata file's place in the state directory (duckdb_databases() is not open to queries)
        meta_file = os.path.join(srv.state, "state", "lake", "metadata." + ("sqlite" if meta == "sqlite" else "ducklake"))
        assert os.path.exists(meta_file), meta_file
        meta_path = ("sqlite:" if meta == "sqlite" else "") + meta_file
    finally:
        srv.stop()
    # an independent DuckDB attaches the same lake and sees the same rows
    con = python_duckdb()
    con.execute("LOAD ducklake; LOAD httpfs; LOAD sqlite_scanner")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")
    con.execute(f"ATTACH 'ducklake:{meta_path}' AS l (READ_ONLY)")
    assert con.execute("SELECT count(*), sum(amount) FROM l.sales").fetchone() == (1000, 749250.0)
    cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name='l' "
                       "AND table_name='sales' ORDER BY column_index").fetchall()
    assert cols == [("id", "INTEGER"), ("region", "VARCHAR"), ("amount", "DOUBLE")]


def test_postgres_metadata_with_data_in_minio(minio, postgres):
    db = f"lake_{uuid.uuid4().hex[:8]}"
    postgres.create_db(db)
    bucket = f"lake-pg-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    meta = (f"{{type: postgres, host: 127.0.0.1, port: {postgres.port}, database: {db}, user: {Postgres.USER}, "
            f"schema: lake_meta, passwordSecret: {{name: pg}}, sslMode: disable}}")
    srv = start_local(manifests(meta, store(minio, bucket, "pg/")))
    try:
        load_and_check(srv)
        assert [k for k in minio.list(bucket, "pg/") if k.endswith(".parquet")]
        logs = srv.logs()
    finally:
        srv.stop()
    assert Postgres.PASSWORD not in logs and MinIO.SECRET_KEY not in logs
    # the metadata lives in its own schema of that database
    assert "ducklake_snapshot" in postgres.psql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'lake_meta'", db=db)
    con = python_duckdb()
    con.execute("LOAD ducklake; LOAD httpfs; LOAD postgres_scanner")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")
    con.execute(f"ATTACH 'ducklake:postgres:dbname={db} host=127.0.0.1 port={postgres.port} user={Postgres.USER} "
                f"password={Postgres.PASSWORD}' AS l (METADATA_SCHEMA 'lake_meta', READ_ONLY)")
    assert con.execute("SELECT count(*) FROM l.sales").fetchone() == (1000,)


def test_local_disk_data_and_restart_is_idempotent():
    import tempfile
    state = tempfile.mkdtemp()
    text = manifests("{type: sqlite}")
    srv = start_local(text, state=state)
    try:
        load_and_check(srv)
    finally:
        srv.stop()
    srv = start_local(text, state=state)   # same manifests again: nothing is recreated, rows survive
    try:
        assert srv.rows("SELECT count(*) AS n FROM sales") == [{"n": 1000}]
    finally:
        srv.stop()


def test_data_inlining_is_real_and_flushes(minio):
    bucket = f"inline-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    text = manifests("{type: sqlite}", store(minio, bucket, "lake")).replace("dataInliningRowLimit: 0",
                                                                               "dataInliningRowLimit: 10")
    srv = start_local(text)
    try:
        assert srv.query("INSERT INTO sales VALUES (1, 'eu', 1.0), (2, 'us', 2.0)").status_code == 200
        assert not [k for k in minio.list(bucket) if k.endswith(".parquet")], "small insert should be inlined"
        assert srv.rows("SELECT count(*) AS n FROM sales") == [{"n": 2}]
        r = srv.query("CALL ducklake_flush_inlined_data('lake')")
        assert r.status_code == 200, r.text
        assert [k for k in minio.list(bucket) if k.endswith(".parquet")]
        assert srv.rows("SELECT count(*) AS n FROM sales") == [{"n": 2}]
    finally:
        srv.stop()


def test_encrypted_catalog_writes_unreadable_parquet(minio):
    bucket = f"enc-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    text = manifests("{type: sqlite}", store(minio, bucket, "lake")).replace(
        "dataInliningRowLimit: 0", "dataInliningRowLimit: 0\n  encryption: {enabled: true}")
    srv = start_local(text)
    try:
        load_and_check(srv)
        key = [k for k in minio.list(bucket) if k.endswith(".parquet")][0]
        body = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body[:4] == b"PARE", "encrypted Parquet files start with PARE"
    finally:
        srv.stop()


def test_changed_object_store_prefix_is_refused_with_what_to_fix(minio):
    # DuckLake keeps the data path it was created with; a spec that moves it elsewhere must not
    # silently open an empty lake, and the message names both places and the spec field
    import tempfile
    bucket = f"lake-moved-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp()
    srv = start_local(manifests("{type: sqlite}", store(minio, bucket, "warehouse")), state=state)
    try:
        load_and_check(srv)
    finally:
        srv.stop()
    srv = start_local(manifests("{type: sqlite}", store(minio, bucket, "elsewhere")), state=state, expect_ready=False)
    assert srv.proc.wait(120) == 1
    out = srv.stop(check=False)
    assert f'created with its data at \\"s3://{bucket}/warehouse/\\"' in out, out
    assert f's3://{bucket}/elsewhere/' in out and "spec.objectStore (bucket, prefix)" in out
    assert "OVERRIDE_DATA_PATH" not in out
