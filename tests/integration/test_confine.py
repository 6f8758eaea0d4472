"""The layers below the authorizer: what a query cannot reach even if it got past it. The metadata
file is out of reach of every user function (COPY, sqlite_scan, ATTACH, logging), read-only
engines run with a read-only view of their metadata and data, credentials do not stay in the
process's environment, secrets and credentials never show in results or error messages, no DuckDB
log is kept, and spill is bounded by --max-temp-size."""
import hashlib
import json
import os
import tempfile
import uuid

import duckdb
import pytest

from featherman import Server, run_job, start_local
from services import MinIO, Postgres, free_port

EXT = os.path.expanduser("~/.cache/featherman/duckdb-1.5.5/extensions")

TABLE = """
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {name: t}
spec:
  catalogRef: lake
  name: t
  columns: [{name: x, type: INTEGER}]
"""


def lake(metadata="{type: sqlite}", store="", secrets=""):
    return f"""{secrets}
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {{name: lake}}
spec:
  metadata: {metadata}
  dataInliningRowLimit: 0
  {store}
""" + TABLE


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def environ_of(proc):
    with open(f"/proc/{proc.pid}/environ", "rb") as f:
        return f.read()


def metadata_attacks(meta):
    d = os.path.dirname(meta)
    return [
        ("COPY over the metadata file", f"COPY (SELECT 'x') TO '{meta}' (FORMAT csv, USE_TMP_FILE false)"),
        ("COPY over the metadata file, default options", f"COPY (SELECT 'x') TO '{meta}'"),
        ("COPY with PARTITION_BY OVERWRITE into its directory",
         f"COPY (SELECT 1 AS a) TO '{d}' (FORMAT parquet, PARTITION_BY (a), OVERWRITE)"),
        ("COPY to the metadata's WAL", f"COPY (SELECT 'x') TO '{meta}-wal' (FORMAT csv)"),
        ("COPY hidden behind a \\r comment", f"--\rCOPY (SELECT 'x') TO '{meta}' (FORMAT csv)"),
        ("COPY in EXPLAIN ANALYZE", f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{meta}' (FORMAT csv)"),
        ("COPY after a SELECT", f"SELECT 1; COPY (SELECT 'x') TO '{meta}' (FORMAT csv)"),
        ("sqlite_scan of the metadata", f"SELECT * FROM sqlite_scan('{meta}', 'ducklake_snapshot')"),
        ("sqlite_query of the metadata", f"SELECT * FROM sqlite_query('{meta}', 'DELETE FROM ducklake_snapshot')"),
        ("ATTACH the metadata", f"ATTACH 'sqlite:{meta}' AS m"),
        ("ATTACH the metadata as DuckDB", f"ATTACH '{meta}' AS m"),
        ("read_blob of the metadata", f"SELECT * FROM read_blob('{meta}')"),
        ("read_text through a relative path", "SELECT * FROM read_text('../lake/metadata.sqlite')"),
        ("write through the metadata catalog", "DELETE FROM __ducklake_metadata_lake.ducklake_snapshot"),
        ("logging into the metadata's directory", f"CALL enable_logging('QueryLog', storage_path => '{d}')"),
        ("logging to a file", f"SELECT * FROM enable_logging(storage => 'file', storage_path => '{d}')"),
        ("logging through SET", "SET enable_logging = true"),
        ("logging type through SET", "SET logging_storage = 'file'"),
        ("HTTP logging", "SET enable_http_logging = true"),
        ("query log path", f"SET log_query_path = '{d}/q.log'"),
        ("read the DuckDB log", "SELECT * FROM duckdb_logs"),
        ("read the DuckDB log, function", "SELECT * FROM duckdb_logs()"),
        ("truncate the DuckDB log", "CALL truncate_duckdb_logs()"),
        ("write_log", "SELECT write_log('x')"),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "duckdb"])
def test_metadata_file_is_out_of_reach(backend):
    srv = start_local(lake(f"{{type: {backend}}}"))
    try:
        assert srv.query("INSERT INTO t VALUES (1), (2), (3)").status_code == 200
        meta = os.path.join(srv.state, "state", "lake", "metadata." + ("sqlite" if backend == "sqlite" else "ducklake"))
        assert os.path.exists(meta)
        srv.stop()  # a stopped server has checkpointed: the file is stable from here on
        before = digest(meta)
        srv = Server(srv.proc.args[1:], srv.token, srv.port, srv.state,
                     extra_env=dict(FEATHERMAN_TOKEN=srv.token))
        for name, sql in metadata_attacks(meta):
            r = srv.query(sql)
            assert r.status_code in (400, 403), (name, r.status_code, r.text)
            assert r.json()["error"]["message"], name
            assert srv.rows("SELECT count(*) AS n, sum(x) AS s FROM t") == [{"n": 3, "s": 6}], name
        assert not [f for f in os.listdir(os.path.dirname(meta)) if f.endswith(".log") or f == "q.log"]
        srv.stop()
        assert digest(meta) == before
        srv = Server(srv.proc.args[1:], srv.token, srv.port, srv.state,
                     extra_env=dict(FEATHERMAN_TOKEN=srv.token))
        assert srv.rows("SELECT count(*) AS n FROM t") == [{"n": 3}]
    finally:
        srv.stop()


def test_secrets_are_never_shown(minio):
    bucket = f"conf-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    store = (f"objectStore: {{endpoint: '{minio.endpoint}', bucket: {bucket}, prefix: d, useSSL: false, "
             f"urlStyle: path, credentialsSecret: {{name: s3}}}}")
    secrets = f"""
apiVersion: v1
kind: Secret
metadata: {{name: s3}}
stringData:
  AWS_ACCESS_KEY_ID: {MinIO.ACCESS_KEY}
  AWS_SECRET_ACCESS_KEY: {MinIO.SECRET_KEY}
---"""
    srv = start_local(lake(store=store, secrets=secrets))
    try:
        assert srv.query("INSERT INTO t VALUES (7)").status_code == 200
        for sql in ["SELECT * FROM duckdb_secrets()", "FROM duckdb_secrets()", "SELECT * FROM duckdb_secrets(redact => true)",
                    "SELECT * FROM duckdb_secrets(redact=false)", "SELECT count(*) FROM duckdb_secrets()",
                    "WITH s AS (SELECT * FROM duckdb_secrets()) SELECT * FROM s",
                    "SELECT * FROM (FROM duckdb_secrets())", "SELECT * FROM system.main.duckdb_secrets()",
                    f"SELECT which_secret('s3://{bucket}/d/x', 's3')",
                    f"SELECT * FROM which_secret('s3://{bucket}/d/x', 's3')",
                    "SELECT current_setting('s3_secret_access_key')", "SELECT * FROM duckdb_settings()",
                    "SELECT getenv('FEATHERMAN_TOKEN')", "SELECT * FROM duckdb_databases()"]:
            r = srv.query(sql)
            assert r.status_code in (400, 403), (sql, r.status_code, r.text)
            for s in (MinIO.ACCESS_KEY, MinIO.SECRET_KEY, srv.token):
                assert s not in r.text, (sql, r.text)
        # a read of an object the store refuses: the error names neither the key nor the secret
        r = srv.query(f"SELECT * FROM read_parquet('s3://{bucket}/d/missing.parquet')")
        assert r.status_code in (400, 403, 500), r.text
        assert MinIO.ACCESS_KEY not in r.text and MinIO.SECRET_KEY not in r.text
        # nothing of the credentials stays in the environment, yet the lake still works
        env = environ_of(srv.proc)
        for s in (MinIO.ACCESS_KEY, MinIO.SECRET_KEY, srv.token):
            assert s.encode() not in env
        assert b"FEATHERMAN_TOKEN=" not in env
        assert srv.rows("SELECT sum(x) AS s FROM t") == [{"s": 7}]
    finally:
        srv.stop()


def test_wrong_s3_secret_is_not_echoed(minio):
    bucket = f"conf-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    wrong = "wrong-secret-" + uuid.uuid4().hex
    store = (f"objectStore: {{endpoint: '{minio.endpoint}', bucket: {bucket}, prefix: d, useSSL: false, "
             f"urlStyle: path, credentialsSecret: {{name: s3}}}}")
    secrets = f"""
apiVersion: v1
kind: Secret
metadata: {{name: s3}}
stringData:
  AWS_ACCESS_KEY_ID: {MinIO.ACCESS_KEY}
  AWS_SECRET_ACCESS_KEY: {wrong}
---"""
    srv = start_local(lake(store=store, secrets=secrets), expect_ready=False)
    try:
        srv.proc.wait(120)
        out = srv.logs()
        assert srv.proc.returncode != 0, out
        assert "lake" in out and wrong not in out and MinIO.ACCESS_KEY not in out, out
    finally:
        srv.stop(check=False)


def test_wrong_postgres_password_is_not_echoed(postgres):
    db = f"lake_{uuid.uuid4().hex[:8]}"
    postgres.create_db(db)
    wrong = "wrong-password-" + uuid.uuid4().hex
    secrets = f"""
apiVersion: v1
kind: Secret
metadata: {{name: pg}}
stringData:
  password: {wrong}
---"""
    meta = (f"{{type: postgres, host: 127.0.0.1, port: {postgres.port}, database: {db}, user: {Postgres.USER}, "
            f"passwordSecret: {{name: pg}}, sslMode: disable}}")
    srv = start_local(lake(meta, secrets=secrets), expect_ready=False)
    try:
        srv.proc.wait(120)
        out = srv.logs()
        assert srv.proc.returncode != 0, out
        assert "lake" in out and wrong not in out, out
    finally:
        srv.stop(check=False)


def worker_catalog(meta_type, meta_path, name="lake"):
    return {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": name},
            "spec": {"metadata": {"type": meta_type, "path": meta_path}, "dataInliningRowLimit": 0}}


def serve(cat, state, *extra, token="worker-token-abc", env=None):
    spec = os.path.join(state, "catalog-%s.json" % uuid.uuid4().hex[:6])
    with open(spec, "w") as f:
        json.dump(cat, f)
    port = free_port()
    return Server(["worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{port}",
                   "--state", os.path.join(state, "serve")] + list(extra),
                  token, port, state, extra_env=dict(env or {}, FEATHERMAN_TOKEN=token))


@pytest.mark.parametrize("meta_type,ext", [("sqlite", "sqlite"), ("duckdb", "ducklake")])
def test_read_only_worker_reads_through_a_read_only_view(meta_type, ext):
    state = tempfile.mkdtemp(prefix="fm-confine-")
    os.makedirs(os.path.join(state, "serve"))
    meta = os.path.join(state, "serve", "lake", "metadata." + ext)  # beneath the worker's own state
    cat = worker_catalog(meta_type, meta)
    code, msg, err = run_job("init", cat, state=os.path.join(state, "serve"))
    assert code == 0, (msg, err)
    w = serve(cat, state, "--slots", "4")
    try:
        assert w.query("CREATE TABLE t (x INTEGER)").status_code == 200
        assert w.query("INSERT INTO t SELECT range FROM range(100)").status_code == 200
    finally:
        w.stop()
    before = digest(meta)
    names_before = sorted(os.listdir(os.path.dirname(meta)))
    ro = serve(cat, state, "--read-only", "--slots", "2")
    try:
        with open(f"/proc/{ro.proc.pid}/status") as f:
            assert "NoNewPrivs:\t1" in f.read()  # the sandbox was applied
        assert ro.rows("SELECT count(*) AS n, sum(x) AS s FROM t") == [{"n": 100, "s": 4950}]
        for name, sql in metadata_attacks(meta) + [("INSERT", "INSERT INTO t VALUES (1)")]:
            r = ro.query(sql)
            assert r.status_code in (400, 403), (name, r.status_code, r.text)
        assert ro.rows("SELECT count(*) AS n FROM t") == [{"n": 100}]
        assert b"worker-token-abc" not in environ_of(ro.proc)
    finally:
        ro.stop()
    assert digest(meta) == before
    # A SQLite lake is kept in WAL mode (writers and readers in one process do not block each other),
    # and SQLite opens the WAL index beside the file before the process confines itself: the only
    # names the read-only worker may add are those sidecars, and it wrote nothing into the log.
    added = set(os.listdir(os.path.dirname(meta))) - set(names_before)
    assert added <= {os.path.basename(meta) + "-wal", os.path.basename(meta) + "-shm"}, added
    wal = meta + "-wal"
    assert not os.path.exists(wal) or wal in [os.path.join(os.path.dirname(meta), n) for n in names_before] \
        or os.path.getsize(wal) == 0, os.path.getsize(wal)
    con = duckdb.connect(config={"extension_directory": os.environ.get("FEATHERMAN_EXTENSION_DIR", EXT),
                                 "autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    prefix = "sqlite:" if meta_type == "sqlite" else ""
    con.execute("LOAD ducklake")
    if meta_type == "sqlite":
        con.execute("LOAD sqlite_scanner")
    con.execute(f"ATTACH 'ducklake:{prefix}{meta}' AS l (READ_ONLY)")
    assert con.execute("SELECT count(*), sum(x) FROM l.t").fetchone() == (100, 4950)


def test_worker_credentials_leave_the_environment(minio):
    bucket = f"conf-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp(prefix="fm-confine-")
    cat = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": "lake"},
           "spec": {"metadata": {"type": "sqlite", "path": os.path.join(state, "meta", "lake.sqlite")},
                    "dataInliningRowLimit": 0,
                    "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "d", "useSSL": False,
                                    "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}}
    creds = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}
    code, msg, err = run_job("init", cat, state=state, extra_env=creds)
    assert code == 0, (msg, err)
    w = serve(cat, state, "--slots", "4", env=creds)  # back-to-back requests: a slot frees just after its answer
    try:
        env = environ_of(w.proc)
        for s in (MinIO.ACCESS_KEY, MinIO.SECRET_KEY, "worker-token-abc"):
            assert s.encode() not in env
        # the object store's port is the one the sandbox lets through: writes and reads work
        assert w.query("CREATE TABLE t (x INTEGER)").status_code == 200
        assert w.query("INSERT INTO t SELECT range FROM range(10)").status_code == 200
        assert w.rows("SELECT sum(x) AS s FROM t") == [{"s": 45}]
        assert [k for k in minio.list(bucket, "d/") if k.endswith(".parquet")]
    finally:
        w.stop()


def test_spill_is_bounded_by_max_temp_size():
    srv = start_local(lake(), args=["--memory-limit", "64MiB", "--max-temp-size", "1MiB", "--slots", "2"])
    try:
        r = srv.query("SELECT count(*) FROM (SELECT m, count(*) FROM "
                      "(SELECT md5(range::VARCHAR) AS m FROM range(5000000)) GROUP BY m)")
        assert r.status_code >= 400, r.text
        msg = r.json()["error"]["message"]
        assert "max_temp_directory_size" in msg, msg
        assert srv.rows("SELECT 1 AS one") == [{"one": 1}]
    finally:
        srv.stop()


def test_bad_max_temp_size_is_refused():
    import subprocess
    from featherman import binary, env
    p = subprocess.run([binary(), "local", "--manifests", "/nonexistent", "--max-temp-size", "lots"],
                       capture_output=True, text=True, env=env())
    assert p.returncode == 2 and "--max-temp-size" in p.stderr, p.stderr


def test_a_huge_string_fails_its_query_not_the_server():
    """repeat() builds its string outside DuckDB's buffer pool, so memory_limit alone does not stop
    it: the data-segment cap turns it into an error for that query. AddressSanitizer's allocator
    aborts instead of failing an allocation, so the cap is compiled out there: this test runs the
    plain build, which is the one shipped."""
    from featherman import ROOT
    plain = os.path.join(ROOT, "build", "featherman")
    state = tempfile.mkdtemp(prefix="fm-confine-")
    mdir = os.path.join(state, "manifests")
    os.makedirs(mdir)
    with open(os.path.join(mdir, "lake.yaml"), "w") as f:
        f.write(lake())
    port = free_port()
    old = os.environ.get("FEATHERMAN_BIN")
    os.environ["FEATHERMAN_BIN"] = plain
    try:
        srv = Server(["local", "--manifests", mdir, "--state", os.path.join(state, "state"), "--listen",
                      f"127.0.0.1:{port}", "--memory-limit", "512MB"], "tok-mem-0123456789", port, state,
                     extra_env=dict(FEATHERMAN_TOKEN="tok-mem-0123456789"))
    finally:
        if old is None:
            del os.environ["FEATHERMAN_BIN"]
        else:
            os.environ["FEATHERMAN_BIN"] = old
    try:
        with open(f"/proc/{srv.proc.pid}/limits") as f:
            data = [l for l in f if l.startswith("Max data size")][0].split()
        assert data[3] != "unlimited" and int(data[3]) < 4 * 1024 ** 3, data
        r = srv.query("SELECT length(repeat('ab', 750000000)) AS n")
        assert r.status_code >= 400 and "Out of Memory" in r.json()["error"]["message"], r.text[:300]
        assert srv.proc.poll() is None
        assert srv.rows("SELECT length(repeat('ab', 1000)) AS n") == [{"n": 2000}]
        assert srv.query("INSERT INTO t SELECT range FROM range(1000)").status_code == 200
        assert srv.rows("SELECT count(*) AS n FROM t") == [{"n": 1000}]
        with open(f"/proc/{srv.proc.pid}/status") as f:
            hwm = int([l for l in f if l.startswith("VmHWM")][0].split()[1]) * 1024
        print(f"peak RSS after the refused 1.5 GB string: {hwm / 2**20:.0f} MiB")
        assert hwm < 2 * 1024 ** 3
    finally:
        srv.stop()
