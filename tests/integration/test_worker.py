"""`featherman worker job` and `worker serve`, runnable without Kubernetes: the same catalog
operations local mode uses, reports in the termination message, 409 when every slot is busy,
read-only workers refusing writes, --once for the Job fallback."""
import json
import os
import tempfile
import threading
import time
import uuid

import pyarrow.parquet as pq
import pytest

from featherman import Server, run_job
from services import MinIO, free_port


def catalog(minio, bucket, name="lake", meta_path=None):
    spec = {"metadata": {"type": "sqlite"}, "dataInliningRowLimit": 0,
            "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "data", "useSSL": False,
                            "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}
    if meta_path:
        spec["metadata"]["path"] = meta_path
    return {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog",
            "metadata": {"name": name}, "spec": spec}


def table(columns, materialize=None, partitioning=None):
    spec = {"catalogRef": "lake", "name": "orders", "columns": columns}
    if partitioning:
        spec["format"] = {"partitioning": partitioning}
    if materialize:
        spec["materializeTo"] = materialize
    return {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable",
            "metadata": {"name": "orders"}, "spec": spec}


CREDS = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}


@pytest.fixture()
def lake(minio):
    bucket = f"w-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp(prefix="fm-worker-")
    meta = os.path.join(state, "meta", "lake.sqlite")
    return bucket, state, catalog(minio, bucket, meta_path=meta)


def serve(cat, state, *extra, token="worker-token-abc"):
    spec = os.path.join(state, "catalog.json")
    with open(spec, "w") as f:
        json.dump(cat, f)
    port = free_port()
    return Server(["worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{port}",
                   "--state", os.path.join(state, "serve-" + uuid.uuid4().hex[:6])] + list(extra),
                  token, port, state, extra_env=dict(CREDS, FEATHERMAN_TOKEN=token))


def test_jobs_init_ddl_materialize(minio, lake):
    bucket, state, cat = lake
    code, msg, err = run_job("init", cat, state=state, extra_env=CREDS)
    assert code == 0, (msg, err)
    assert msg["engineVersion"] == "v1.5.5" and msg["formatVersion"] and msg["tableCount"] == 0
    cols = [{"name": "id", "type": "INTEGER"}, {"name": "country", "type": "VARCHAR"}]
    code, msg, err = run_job("ddl", cat, table(cols), state=state, extra_env=CREDS)
    assert code == 0, (msg, err)
    assert msg["action"] == "created" and [c["name"] for c in msg["columns"]] == ["id", "country"]
    # change the spec: add a column, widen id, partition by country
    cols2 = [{"name": "id", "type": "BIGINT"}, {"name": "country", "type": "VARCHAR"}, {"name": "qty", "type": "INTEGER"}]
    code, msg, err = run_job("ddl", cat, table(cols2, partitioning=["country"]), state=state, extra_env=CREDS)
    assert code == 0, (msg, err)
    assert msg["action"] == "altered"
    assert [(c["name"], c["type"]) for c in msg["columns"]] == [("id", "BIGINT"), ("country", "VARCHAR"), ("qty", "INTEGER")]
    # a change DuckLake cannot make is refused and changes nothing
    bad = [{"name": "id", "type": "VARCHAR"}, {"name": "country", "type": "VARCHAR"}, {"name": "qty", "type": "INTEGER"}]
    code, msg, err = run_job("ddl", cat, table(bad, partitioning=["country"]), state=state, extra_env=CREDS)
    assert code == 1 and "id" in msg["error"]["message"] and "VARCHAR" in msg["error"]["message"], msg

    srv = serve(cat, state)
    try:
        r = srv.query("INSERT INTO orders SELECT range, CASE WHEN range < 5 THEN 'nl' ELSE 'de' END, 1 "
                      "FROM range(10)")
        assert r.status_code == 200, r.text
    finally:
        srv.stop()
    mat = {"enabled": True, "sql": "SELECT country, count(*) AS cnt FROM orders GROUP BY country ORDER BY country",
           "destination": {"bucket": bucket, "prefix": "exports/top"}, "format": {"type": "parquet", "compression": "ZSTD"}}
    code, msg, err = run_job("materialize", cat, table(cols2, materialize=mat, partitioning=["country"]), state=state,
                             extra_env=CREDS)
    assert code == 0, (msg, err)
    assert msg["rows"] == 2 and msg["files"] == 1 and msg["location"].startswith(f"s3://{bucket}/exports/top/")
    key = msg["location"][len(f"s3://{bucket}/"):]
    assert key in minio.list(bucket, "exports/")
    body = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    import io
    t = pq.read_table(io.BytesIO(body))
    assert t.to_pylist() == [{"country": "de", "cnt": 5}, {"country": "nl", "cnt": 5}]
    # bad SQL in materializeTo: DuckDB's message reaches the report
    mat["sql"] = "SELECT nope FROM orders"
    code, msg, err = run_job("materialize", cat, table(cols2, materialize=mat), state=state, extra_env=CREDS)
    assert code == 1 and "nope" in msg["error"]["message"]
    mat["sql"] = "SELECT 1; DROP TABLE orders"
    code, msg, err = run_job("materialize", cat, table(cols2, materialize=mat), state=state, extra_env=CREDS)
    assert code == 1 and "single SELECT" in msg["error"]["message"]


def test_serve_answers_409_when_its_slot_is_busy_and_read_only_refuses_writes(minio, lake):
    bucket, state, cat = lake
    assert run_job("init", cat, state=state, extra_env=CREDS)[0] == 0
    cols = [{"name": "id", "type": "INTEGER"}]
    assert run_job("ddl", cat, table(cols), state=state, extra_env=CREDS)[0] == 0
    srv = serve(cat, state, "--read-only", "--slots", "1")
    try:
        assert srv.query("SELECT 1").status_code == 200
        r = srv.query("INSERT INTO orders VALUES (1)")
        assert r.status_code == 403 and "read" in r.json()["error"]["message"].lower(), r.text
        assert srv.rows("SELECT count(*) AS n FROM orders") == [{"n": 0}]
        out = {}
        th = threading.Thread(target=lambda: out.setdefault(
            "r", srv.query("SELECT max(hash(range)) FROM range(3000000000)")))
        th.start()
        import requests
        deadline = time.time() + 30  # wait until the long query holds the only slot
        while srv.status()["busy"] < 1:
            assert time.time() < deadline and th.is_alive(), "the long query never took the slot"
            time.sleep(0.01)
        busy = srv.query("SELECT 1")  # another one is turned away
        th.join()
        assert out["r"].status_code == 200, out["r"].text
        assert busy is not None and busy.status_code == 409, busy.text
        st = srv.query  # noqa
        import requests
        status = srv.status()
        assert status["role"] == "worker" and status["slots"] == 1 and status["catalogs"][0]["readOnly"] is True
    finally:
        srv.stop()


def test_serve_once_exits_after_one_query(minio, lake):
    bucket, state, cat = lake
    assert run_job("init", cat, state=state, extra_env=CREDS)[0] == 0
    srv = serve(cat, state, "--once")
    r = srv.query("SELECT 5 AS v", fmt="ndjson")
    assert r.json() == {"v": 5}
    srv.proc.wait(30)
    assert srv.proc.returncode == 0
    srv.stop()


def test_serve_refuses_a_missing_catalog_instead_of_creating_one(minio):
    bucket = f"w-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp()
    cat = catalog(minio, bucket, meta_path=os.path.join(state, "absent.sqlite"))
    spec = os.path.join(state, "catalog.json")
    with open(spec, "w") as f:
        json.dump(cat, f)
    import subprocess
    from featherman import binary, env
    p = subprocess.run([binary(), "worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{free_port()}",
                        "--state", state], capture_output=True, text=True, timeout=60,
                       env=env(FEATHERMAN_TOKEN="t", **CREDS))
    assert p.returncode != 0 and "cannot attach catalog lake" in p.stderr, p.stderr
