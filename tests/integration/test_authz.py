"""Authorization on DuckDB's own parse: every attack below is refused with 403 and a message naming
what was refused, on `featherman local` (SQLite metadata, local disk) and on `worker serve
--read-only` (SQLite metadata, MinIO data). After each one the lake is unchanged (row count and
sum through the server, and DuckDB's Python package attaching the lake's files beside it); at the
end the server stops, the files are read once more, and the server restarts and serves. Ordinary work (reads, writes, DDL of tables/views/schemas) still
runs."""
import glob
import json
import os
import tempfile
import uuid

import duckdb
import pytest

from featherman import Server, run_job, start_local
from services import MinIO, free_port

EXT = os.environ.get("FEATHERMAN_EXTENSION_DIR", os.path.expanduser("~/.cache/featherman/duckdb-1.5.5/extensions"))

LAKE = """
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: lake}
spec: {metadata: {type: sqlite}}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {name: t}
spec:
  catalogRef: lake
  name: t
  columns: [{name: x, type: INTEGER}]
"""

ROWS = [{"n": 3, "s": 6}]


def python_duckdb():
    return duckdb.connect(config={"extension_directory": EXT, "autoinstall_known_extensions": False,
                                  "autoload_known_extensions": False})


def attacks(meta, data, other):
    """(name, SQL) pairs; {meta} is the metadata file, {data} the data path, {other} a foreign SQLite file"""
    tf = f"sqlite_scan('{other}', 'secret')"
    out = tempfile.mkdtemp()
    base = [
        # COPY in every direction and form
        ("COPY over the metadata file", f"COPY (SELECT 'x') TO '{meta}' (FORMAT csv, USE_TMP_FILE false)"),
        ("COPY over the metadata file, upper case options", f"copy (select 'x') to '{meta}' (format 'CSV', header)"),
        ("COPY a table over its data", f"COPY t TO '{data}x.parquet' (FORMAT parquet)"),
        ("COPY partitioned OVERWRITE into the data dir",
         f"COPY (SELECT 1 AS a) TO '{data}' (FORMAT parquet, PARTITION_BY (a), OVERWRITE)"),
        ("COPY OVERWRITE_OR_IGNORE", f"COPY (SELECT 1 AS a) TO '{data}' (FORMAT parquet, PARTITION_BY (a), OVERWRITE_OR_IGNORE)"),
        ("COPY to a path outside", f"COPY t TO '{out}/stolen.csv'"),
        ("COPY FROM a file", "COPY t FROM '/etc/passwd'"),
        ("EXPORT DATABASE", f"EXPORT DATABASE '{out}/exp'"),
        ("IMPORT DATABASE", f"IMPORT DATABASE '{out}/exp'"),
        ("COPY FROM DATABASE", "COPY FROM DATABASE lake TO memory"),
        # the lexer-disagreement family: whatever whitespace or comment, DuckDB's parse is what is checked
        ("-- comment ended by CR", f"--\rSELECT * FROM {tf}"),
        ("-- comment ended by CRLF", f"-- x\r\nSELECT * FROM {tf}"),
        ("form feed", f"SELECT\f* FROM\f{tf}"),
        ("vertical tab", f"SELECT\v* FROM\v{tf}"),
        ("nested block comments", f"/* a /* b */ c */ SELECT * FROM {tf}"),
        ("comment inside the call", f"SELECT * FROM sqlite_scan/**/('{other}', 'secret')"),
        ("quoted upper-case name", f"SELECT * FROM \"SQLITE_SCAN\"('{other}', 'secret')"),
        ("qualified name", f"SELECT * FROM system.main.sqlite_scan('{other}', 'secret')"),
        ("no-break space", f"SELECT\u00a0* FROM {tf}"),
        ("scanner in a scalar subquery", f"SELECT (SELECT count(*) FROM {tf})"),
        ("scanner in a CTE", f"WITH x AS (SELECT * FROM {tf}) SELECT * FROM x"),
        ("scanner in a lateral join", f"SELECT * FROM t, LATERAL (SELECT * FROM {tf})"),
        ("scanner in an INSERT source", f"INSERT INTO t SELECT 1 FROM {tf}"),
        ("sqlite_attach", f"CALL sqlite_attach('{other}')"),
        ("ATTACH sqlite", f"ATTACH 'sqlite:{other}' AS o"),
        ("ATTACH a file", f"ATTACH '{out}/o.duckdb' AS o"),
        ("DETACH the lake", "DETACH lake"),
        # file readers and URL forms
        ("read_csv /etc/passwd", "SELECT * FROM read_csv('/etc/passwd')"),
        ("read_text", "SELECT * FROM read_text('/etc/hostname')"),
        ("read_blob of the metadata", f"SELECT * FROM read_blob('{meta}')"),
        ("read_parquet with ..", f"SELECT * FROM read_parquet('{data}../other/x.parquet')"),
        ("read_parquet s3 with endpoint override", "SELECT * FROM read_parquet('s3://b/p/x.parquet?s3_endpoint=evil:1')"),
        ("read_json", "SELECT * FROM read_json('/etc/os-release')"),
        ("glob", "SELECT * FROM glob('/etc/*')"),
        ("parquet_metadata", f"SELECT * FROM parquet_metadata('{data}*.parquet')"),
        ("sniff_csv", "SELECT * FROM sniff_csv('/etc/passwd')"),
        ("file as a table name", "SELECT * FROM '/etc/passwd.csv'"),
        ("parquet as a table name", f"SELECT * FROM '{data}x.parquet'"),
        ("s3 URL as a quoted table name", "SELECT * FROM \"s3://bucket/x.parquet\""),
        # logging, secrets, settings, environment
        ("enable_logging", "CALL enable_logging('QueryLog')"),
        ("enable_logging to a bad path", "CALL enable_logging(storage_path => '/nonexistent')"),
        ("enable_logging in FROM", "SELECT * FROM enable_logging('HTTP')"),
        ("duckdb_logs", "SELECT * FROM duckdb_logs"),
        ("duckdb_logs()", "SELECT * FROM duckdb_logs()"),
        ("write_log", "SELECT write_log('x')"),
        ("duckdb_secrets", "SELECT * FROM duckdb_secrets()"),
        ("duckdb_secrets unredacted", "SELECT * FROM duckdb_secrets(redact=false)"),
        ("which_secret", "SELECT * FROM which_secret('s3://b/x', 's3')"),
        ("CREATE SECRET", "CREATE OR REPLACE SECRET fm_s3 (TYPE s3, KEY_ID 'a', SECRET 'b', ENDPOINT 'evil:9')"),
        ("DROP SECRET", "DROP SECRET fm_s3"),
        ("duckdb_settings", "SELECT * FROM duckdb_settings()"),
        ("duckdb_settings view", "SELECT * FROM duckdb_settings"),
        ("pg_settings", "SELECT * FROM pg_settings"),
        ("current_setting", "SELECT current_setting('allowed_directories')"),
        ("getenv", "SELECT getenv('HOME')"),
        ("duckdb_databases (paths)", "SELECT * FROM duckdb_databases()"),
        ("duckdb_databases view", "SELECT * FROM duckdb_databases"),
        ("duckdb_extensions", "SELECT * FROM duckdb_extensions()"),
        ("SHOW a setting", "SHOW allowed_directories"),
        ("dynamic SQL", "SELECT * FROM query('SELECT 1')"),
        ("query_table", "SELECT * FROM query_table('t')"),
        ("serialized plan", "SELECT * FROM json_execute_serialized_sql('{}')"),
        ("sleep", "SELECT sleep_ms(1)"),
        # other catalogs
        ("metadata catalog read", "SELECT * FROM __ducklake_metadata_lake.ducklake_table"),
        ("metadata catalog, quoted, three parts", 'SELECT * FROM "__ducklake_metadata_lake".main.ducklake_snapshot'),
        ("metadata catalog write", "UPDATE __ducklake_metadata_lake.ducklake_snapshot SET schema_version = 99"),
        ("metadata catalog delete", "DELETE FROM __ducklake_metadata_lake.main.ducklake_data_file"),
        ("metadata catalog in a subquery", "SELECT (SELECT count(*) FROM __DUCKLAKE_METADATA_LAKE.ducklake_table)"),
        ("metadata catalog DESCRIBE", "DESCRIBE __ducklake_metadata_lake.ducklake_table"),
        ("metadata catalog DROP", "DROP TABLE __ducklake_metadata_lake.ducklake_snapshot"),
        ("system catalog", "SELECT * FROM system.main.duckdb_settings"),
        ("temp catalog", "CREATE TABLE temp.main.x AS SELECT 1"),
        ("memory catalog", "CREATE TABLE memory.main.x AS SELECT 1"),
        ("memory two-part", "CREATE TABLE memory.x AS SELECT 1"),
        ("information_schema", "SELECT * FROM information_schema.tables"),
        ("USE another catalog", "USE memory"),
        # connection state that would outlive the request
        ("CREATE TEMP VIEW", "CREATE TEMP VIEW t AS SELECT 42 AS x"),
        ("CREATE TEMPORARY TABLE", "CREATE TEMPORARY TABLE t2 AS SELECT 1"),
        ("CREATE TEMP MACRO", "CREATE TEMP MACRO upper(x) AS 'pwned'"),
        ("CREATE MACRO", "CREATE MACRO m(x) AS x"),
        ("CREATE TABLE MACRO", "CREATE MACRO tm() AS TABLE SELECT 1"),
        ("CREATE FUNCTION", "CREATE FUNCTION f(x) AS x + 1"),
        ("CREATE TYPE", "CREATE TYPE mood AS ENUM ('a', 'b')"),
        ("CREATE SEQUENCE", "CREATE SEQUENCE seq"),
        ("CREATE INDEX", "CREATE INDEX i ON t (x)"),
        ("SET", "SET memory_limit = '100GB'"),
        ("SET VARIABLE", "SET VARIABLE x = 1"),
        ("RESET", "RESET lock_configuration"),
        ("SET search_path", "SET search_path = 'memory.main'"),
        ("PREPARE", "PREPARE p AS SELECT 1"),
        ("EXECUTE", "EXECUTE p"),
        ("PRAGMA", "PRAGMA enable_profiling"),
        ("PRAGMA table_info of the metadata", "PRAGMA table_info('__ducklake_metadata_lake.ducklake_table')"),
        ("LOAD", "LOAD httpfs"),
        ("INSTALL", "INSTALL spatial"),
        ("UPDATE EXTENSIONS", "UPDATE EXTENSIONS"),
        ("CHECKPOINT", "CHECKPOINT"),
        ("VACUUM", "VACUUM"),
        ("ANALYZE", "ANALYZE"),
        # the lake's maintenance and the default schema
        ("cleanup_old_files", "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)"),
        ("cleanup_old_files in FROM", "SELECT * FROM ducklake_cleanup_old_files('lake', cleanup_all => true)"),
        ("expire_snapshots", "CALL ducklake_expire_snapshots('lake', older_than => now())"),
        ("merge_adjacent_files", "CALL ducklake_merge_adjacent_files('lake')"),
        ("delete_orphaned_files", "CALL ducklake_delete_orphaned_files('lake', cleanup_all => true)"),
        ("set_option", "CALL ducklake_set_option('lake', 'data_inlining_row_limit', 0)"),
        ("add_data_files", f"CALL ducklake_add_data_files('lake', 't', '{data}x.parquet')"),
        ("DROP SCHEMA main", "DROP SCHEMA main CASCADE"),
        ("DROP SCHEMA lake.main", "DROP SCHEMA lake.main CASCADE"),
        ("DROP SCHEMA \"MAIN\"", "DROP SCHEMA \"MAIN\" CASCADE"),
        ("DROP SCHEMA IF EXISTS main", "DROP SCHEMA IF EXISTS main"),
        ("ALTER a table into another catalog's schema", "ALTER TABLE t SET SCHEMA memory"),
        ("CREATE SCHEMA named like the metadata catalog", "CREATE SCHEMA __ducklake_metadata_lake"),
        ("checkpoint function", "CALL checkpoint()"),
    ]
    wrapped = []
    for name, sql in [("COPY", f"COPY (SELECT 'x') TO '{meta}' (FORMAT csv)"), ("SET", "SET threads = 1"),
                      ("scanner", f"SELECT * FROM {tf}"), ("DROP SCHEMA main", "DROP SCHEMA main CASCADE"),
                      ("metadata", "UPDATE __ducklake_metadata_lake.ducklake_snapshot SET schema_version = 99"),
                      ("TEMP VIEW", "CREATE TEMP VIEW v AS SELECT 1"), ("PREPARE", "PREPARE p AS SELECT 1")]:
        wrapped += [
            (f"EXPLAIN {name}", f"EXPLAIN {sql}"),
            (f"EXPLAIN ANALYZE {name}", f"EXPLAIN ANALYZE {sql}"),
            (f"EXPLAIN (ANALYZE) {name}", f"EXPLAIN (ANALYZE) {sql}"),
            (f"second statement {name}", f"SELECT 1; {sql}"),
            (f"after an INSERT {name}", f"INSERT INTO t VALUES (100); {sql}"),
            (f"after a comment {name}", f"/* x */ -- y\r{sql}"),
        ]
    return base + wrapped


ALLOWED = [
    "SELECT 1",
    "SELECT count(*), sum(x) FROM t",
    "SELECT * FROM lake.main.t ORDER BY x",
    "WITH a AS (SELECT x FROM t) SELECT sum(x) OVER (ORDER BY x), row_number() OVER () FROM a",
    "SELECT * FROM range(3) r, generate_series(1, 2) g",
    "SELECT unnest([1, 2, 3])",
    "SELECT * FROM unnest([1, 2])",
    "SELECT upper('a'), list_transform([1, 2], x -> x + 1), {'a': 1}, [1, 2][1], now() IS NOT NULL, random() < 2",
    "SELECT 'sqlite_scan(' AS not_a_call, 1 AS query",
    "DESCRIBE t",
    "SHOW TABLES",
    "SHOW ALL TABLES",
    "SUMMARIZE t",
    "EXPLAIN SELECT * FROM t",
    "EXPLAIN ANALYZE SELECT * FROM t",
    "SELECT * FROM ducklake_snapshots('lake')",
    "SELECT * FROM ducklake_table_info('lake')",
    "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'",
    "SELECT * FROM duckdb_columns WHERE table_name = 't'",
]


def check_refused(srv, name, sql):
    r = srv.query(sql)
    assert r.status_code in (400, 403), (name, r.status_code, r.text)
    msg = r.json()["error"]["message"]
    assert msg, name
    assert "do not read" not in r.text and "root:" not in r.text, (name, r.text)
    return r


class LakeReader:
    """DuckDB's Python package on the lake's own files, beside the running server (SQLite metadata
    allows concurrent readers): each check attaches afresh, so a destroyed metadata file or a
    missing data file shows."""

    def __init__(self, meta, data, minio=None):
        self.meta, self.data = meta, data
        self.con = python_duckdb()
        self.con.execute("LOAD ducklake; LOAD sqlite_scanner")
        if minio:
            self.con.execute("LOAD httpfs")
            self.con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                             f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")

    def rows(self):
        self.con.execute(f"ATTACH 'ducklake:sqlite:{self.meta}' AS lk (DATA_PATH '{self.data}', READ_ONLY)")
        try:
            return self.con.execute("SELECT count(*), sum(x) FROM lk.t").fetchall()
        finally:
            self.con.execute("DETACH lk")


def lake_intact(srv):
    assert srv.rows("SELECT count(*) AS n, sum(x) AS s FROM t") == ROWS
    assert srv.query("SELECT 1").status_code == 200
    if getattr(srv, "reader", None):
        assert srv.reader.rows() == [(3, 6)]


@pytest.fixture(scope="module")
def other_sqlite():
    import sqlite3
    other = os.path.join(tempfile.mkdtemp(), "other.sqlite")
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE secret (v TEXT)")
    c.execute("INSERT INTO secret VALUES ('do not read')")
    c.commit()
    c.close()
    return other


@pytest.fixture(scope="module")
def local(other_sqlite):
    s = start_local(LAKE)
    assert s.query("INSERT INTO t VALUES (1), (2), (3)").status_code == 200
    meta = glob.glob(os.path.join(s.state, "state", "lake", "metadata.sqlite"))[0]
    s.meta, s.data = meta, os.path.join(s.state, "state", "lake", "data") + "/"
    s.reader = LakeReader(s.meta, s.data)
    yield s
    s.stop()


def test_every_attack_is_refused_on_local_and_the_lake_is_intact(local, other_sqlite):
    size = os.path.getsize(local.meta)
    for name, sql in attacks(local.meta, local.data, other_sqlite):
        check_refused(local, name, sql)
        lake_intact(local)
    assert os.path.getsize(local.meta) >= size
    assert not [f for f in os.listdir(local.data) if f.startswith("x") or f.startswith("a=")]


def test_refusals_name_what_and_the_scope(local, other_sqlite):
    def msg(sql):
        r = local.query(sql)
        assert r.status_code == 403, (sql, r.text)
        return r.json()["error"]["message"]
    assert "COPY is not allowed through the query API" in msg(f"COPY t TO '{local.data}y.csv'")
    assert "function sqlite_scan is not allowed through the query API" in msg(
        f"--\rSELECT * FROM sqlite_scan('{other_sqlite}', 'secret')")
    assert "function enable_logging is not allowed" in msg("CALL enable_logging('QueryLog')")
    assert "function ducklake_cleanup_old_files is not allowed" in msg(
        "CALL ducklake_cleanup_old_files('lake', cleanup_all => true)")
    assert "default schema main" in msg("DROP SCHEMA main CASCADE")
    assert "__ducklake_metadata_lake" in msg("SELECT * FROM __ducklake_metadata_lake.ducklake_table")
    assert "SET is not allowed" in msg("SET VARIABLE x = 1")
    assert "CREATE TEMP VIEW is not allowed" in msg("CREATE TEMP VIEW v AS SELECT 1")
    assert "PREPARE is not allowed" in msg("PREPARE p AS SELECT 1")
    assert "SET is not allowed" in msg("EXPLAIN ANALYZE SET threads = 1")
    assert "function getenv is not allowed" in msg("SELECT getenv('HOME')")


def test_a_refused_request_leaves_nothing_behind(local):
    # the INSERT before the refused statement never ran: the whole request is authorized first
    r = local.query("INSERT INTO t VALUES (100); COPY t TO '/tmp/fm-authz-never.csv'")
    assert r.status_code == 403, r.text
    lake_intact(local)
    assert not os.path.exists("/tmp/fm-authz-never.csv")


def test_ordinary_work_still_runs(local):
    for sql in ALLOWED:
        r = local.query(sql)
        assert r.status_code == 200, (sql, r.text)
    ddl = [
        "CREATE SCHEMA s",
        "CREATE TABLE s.u (a INTEGER, b VARCHAR)",
        "INSERT INTO s.u VALUES (1, 'x'), (2, 'y')",
        "UPDATE s.u SET b = upper(b) WHERE a = 1",
        "DELETE FROM s.u WHERE a = 2",
        "ALTER TABLE s.u ADD COLUMN c INTEGER",
        "CREATE VIEW s.v AS SELECT a, b FROM s.u",
        "CREATE TABLE s.w AS SELECT * FROM s.v",
        "BEGIN; INSERT INTO s.u VALUES (3, 'z', 1); COMMIT",
        "EXPLAIN ANALYZE INSERT INTO s.u VALUES (4, 'q', 2)",
        "DROP VIEW s.v",
        "DROP TABLE s.w",
        "DROP TABLE s.u",
        "DROP SCHEMA s",
    ]
    for sql in ddl:
        r = local.query(sql)
        assert r.status_code == 200, (sql, r.text)
    lake_intact(local)


def test_the_lake_reads_back_and_the_server_restarts(local, other_sqlite):
    # everything above, then: stop, read the files with DuckDB's own Python package, start again
    state = local.state
    local.reader = None
    local.stop()
    con = python_duckdb()
    con.execute("LOAD ducklake; LOAD sqlite_scanner")
    con.execute(f"ATTACH 'ducklake:sqlite:{local.meta}' AS lk (DATA_PATH '{local.data}', READ_ONLY)")
    assert con.execute("SELECT count(*), sum(x) FROM lk.t").fetchall() == [(3, 6)]
    assert con.execute("SELECT count(*) FROM duckdb_schemas() WHERE database_name = 'lk' AND schema_name = 'main'"
                       ).fetchall() == [(1,)]
    con.close()
    again = start_local(LAKE, state=state)
    try:
        lake_intact(again)
        # a fresh connection state: nothing the attacks tried is visible
        assert again.rows("SELECT upper('a') AS u") == [{"u": "A"}]
    finally:
        again.stop()


# ---- worker serve --read-only, data in MinIO ----

CREDS = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}


def serve(cat, state, *extra, token="worker-token-abc"):
    spec = os.path.join(state, "catalog.json")
    with open(spec, "w") as f:
        json.dump(cat, f)
    port = free_port()
    return Server(["worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{port}",
                   "--state", os.path.join(state, "serve-" + uuid.uuid4().hex[:6])] + list(extra),
                  token, port, state, extra_env=dict(CREDS, FEATHERMAN_TOKEN=token))


@pytest.fixture(scope="module")
def readonly(minio):
    bucket = f"authz-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp(prefix="fm-authz-")
    meta = os.path.join(state, "meta", "lake.sqlite")
    cat = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": "lake"},
           "spec": {"metadata": {"type": "sqlite", "path": meta}, "dataInliningRowLimit": 0,
                    "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "data", "useSSL": False,
                                    "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}}
    tab = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": "t"},
           "spec": {"catalogRef": "lake", "name": "t", "columns": [{"name": "x", "type": "INTEGER"}]}}
    assert run_job("init", cat, state=state, extra_env=CREDS)[0] == 0
    assert run_job("ddl", cat, tab, state=state, extra_env=CREDS)[0] == 0
    rw = serve(cat, state)
    assert rw.query("INSERT INTO t VALUES (1), (2), (3)").status_code == 200
    rw.stop()
    # two slots: requests here are sequential, and a slot is released just after its response ends
    srv = serve(cat, state, "--read-only", "--slots", "2")
    srv.cat, srv.meta, srv.bucket = cat, meta, bucket
    srv.data = f"s3://{bucket}/data/"
    srv.reader = LakeReader(meta, srv.data, minio)
    yield srv
    srv.stop()


def test_every_attack_is_refused_on_a_read_only_worker(readonly, other_sqlite, minio):
    size = os.path.getsize(readonly.meta)
    objects = sorted(minio.list(readonly.bucket, "data/"))
    for name, sql in attacks(readonly.meta, readonly.data, other_sqlite):
        check_refused(readonly, name, sql)
        lake_intact(readonly)
    assert os.path.getsize(readonly.meta) == size
    assert sorted(minio.list(readonly.bucket, "data/")) == objects


def test_a_read_only_worker_grants_the_read_scope_only(readonly):
    for sql in ["INSERT INTO t VALUES (9)", "UPDATE t SET x = 0", "DELETE FROM t",
                "EXPLAIN ANALYZE INSERT INTO t VALUES (9)", "SELECT 1; DELETE FROM t"]:
        r = readonly.query(sql)
        assert r.status_code == 403, (sql, r.text)
        m = r.json()["error"]["message"]
        assert "needs the write scope" in m and "read-only" in m, (sql, m)
    for sql in ["CREATE TABLE z (a INT)", "DROP TABLE t", "CREATE SCHEMA s", "ALTER TABLE t ADD COLUMN y INT"]:
        r = readonly.query(sql)
        assert r.status_code == 403 and "needs the admin scope" in r.json()["error"]["message"], (sql, r.text)
    for sql in ["SELECT * FROM t", "DESCRIBE t", "SHOW TABLES", "SELECT * FROM ducklake_snapshots('lake')",
                "EXPLAIN ANALYZE SELECT count(*) FROM t"]:
        assert readonly.query(sql).status_code == 200, sql
    lake_intact(readonly)


def test_the_read_only_lake_reads_back_and_the_worker_restarts(readonly, minio):
    readonly.reader = None
    readonly.stop()
    con = python_duckdb()
    con.execute("LOAD ducklake; LOAD httpfs; LOAD sqlite_scanner")
    con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{MinIO.ACCESS_KEY}', SECRET '{MinIO.SECRET_KEY}', "
                f"ENDPOINT '{minio.endpoint}', USE_SSL false, URL_STYLE 'path')")
    con.execute(f"ATTACH 'ducklake:sqlite:{readonly.meta}' AS lk (DATA_PATH '{readonly.data}', READ_ONLY)")
    assert con.execute("SELECT count(*), sum(x) FROM lk.t").fetchall() == [(3, 6)]
    con.close()
    again = serve(readonly.cat, readonly.state, "--read-only", "--slots", "2")
    try:
        lake_intact(again)
    finally:
        again.stop()


# ---- Postgres metadata: the scanner's functions would run as the catalog's role ----

def test_postgres_metadata_attacks_are_refused(postgres):
    from services import Postgres
    from test_backends import manifests
    db = f"authz_{uuid.uuid4().hex[:8]}"
    postgres.create_db(db)
    postgres.psql("CREATE TABLE unrelated (v TEXT); INSERT INTO unrelated VALUES ('keep me')", db=db)
    meta = (f"{{type: postgres, host: 127.0.0.1, port: {postgres.port}, database: {db}, user: {Postgres.USER}, "
            f"schema: lake_meta, passwordSecret: {{name: pg}}, sslMode: disable}}")
    srv = start_local(manifests(meta))
    conn = f"host=127.0.0.1 port={postgres.port} dbname={db} user={Postgres.USER} password={Postgres.PASSWORD}"
    try:
        assert srv.query("INSERT INTO sales SELECT range, 'eu', 1.0 FROM range(10)").status_code == 200
        for name, sql in [
            ("postgres_query on the catalog's secret", "SELECT * FROM postgres_query('fm_pg', 'SELECT 1')"),
            ("postgres_query through the metadata catalog", "SELECT * FROM postgres_query('__ducklake_metadata_lake', "
                                                           "'SELECT * FROM unrelated')"),
            ("postgres_execute", "CALL postgres_execute('__ducklake_metadata_lake', 'DROP TABLE unrelated')"),
            ("postgres_scan to any host", f"SELECT * FROM postgres_scan('{conn}', 'public', 'unrelated')"),
            ("postgres_attach", f"CALL postgres_attach('{conn}')"),
            ("ATTACH postgres", f"ATTACH '{conn}' AS p (TYPE postgres)"),
            ("-- CR then the scanner", "--\rSELECT * FROM postgres_query('fm_pg', 'SELECT 1')"),
            ("unrelated table through the metadata catalog", "SELECT * FROM __ducklake_metadata_lake.unrelated"),
            ("metadata schema", "SELECT * FROM __ducklake_metadata_lake.lake_meta.ducklake_snapshot"),
            ("write the metadata", "DELETE FROM __ducklake_metadata_lake.lake_meta.ducklake_data_file"),
            ("replace the Postgres secret", "CREATE OR REPLACE SECRET fm_pg (TYPE postgres, HOST 'evil')"),
            ("secrets", "SELECT * FROM duckdb_secrets()"),
            ("DROP SCHEMA main", "DROP SCHEMA main CASCADE"),
        ]:
            r = srv.query(sql)
            assert r.status_code in (400, 403), (name, r.status_code, r.text)
            assert "keep me" not in r.text and Postgres.PASSWORD not in r.text, (name, r.text)
            assert srv.rows("SELECT count(*) AS n FROM sales") == [{"n": 10}], name
        assert "keep me" in postgres.psql("SELECT v FROM unrelated", db=db)
    finally:
        srv.stop()
