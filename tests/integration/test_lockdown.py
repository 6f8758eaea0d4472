"""SQL is code: every engine behind the query API is locked down before the first query. Each
escape attempt is refused with a clear error, and the lake is unchanged afterwards."""
import os
import sqlite3
import tempfile

import pytest

from featherman import start_local

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


@pytest.fixture(scope="module")
def srv():
    s = start_local(LAKE)
    assert s.query("INSERT INTO t VALUES (1), (2)").status_code == 200
    other = os.path.join(tempfile.mkdtemp(), "other.sqlite")
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE secret (v TEXT)")
    c.execute("INSERT INTO secret VALUES ('do not read')")
    c.commit()
    c.close()
    s.other_sqlite = other
    yield s
    s.stop()


def attempts(srv):
    out = tempfile.mkdtemp()
    return [
        ("COPY to a path outside the lake", f"COPY t TO '{out}/stolen.csv'"),
        ("read /etc/passwd", "SELECT * FROM read_csv('/etc/passwd')"),
        ("read the service-account token", "SELECT * FROM read_text('/var/run/secrets/kubernetes.io/serviceaccount/token')"),
        ("glob the file system", "SELECT * FROM glob('/etc/*')"),
        ("INSTALL", "INSTALL spatial"),
        ("LOAD", "LOAD httpfs"),
        ("SET a locked option", "SET memory_limit = '100GB'"),
        ("SET external access back on", "SET enable_external_access = true"),
        ("RESET lock_configuration", "RESET lock_configuration"),
        ("ATTACH another file", f"ATTACH '{out}/other.duckdb' AS o"),
        ("ATTACH through the sqlite scanner", f"ATTACH 'sqlite:{srv.other_sqlite}' AS o"),
        ("sqlite_scan of another file", f"SELECT * FROM sqlite_scan('{srv.other_sqlite}', 'secret')"),
        ("sqlite_scan hidden in a CTE", f"WITH x AS (SELECT * FROM \"SQLITE_SCAN\"('{srv.other_sqlite}', 'secret')) SELECT * FROM x"),
        ("dynamic SQL through query()", "SELECT * FROM query('SELECT 1')"),
        ("DETACH the lake", "DETACH lake"),
        ("PRAGMA", "PRAGMA enable_profiling"),
        ("CREATE SECRET", "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')"),
        ("unredacted secrets", "SELECT * FROM duckdb_secrets(redact=false)"),
        ("second statement escapes", "SELECT 1; COPY t TO '/tmp/x.csv'"),
    ]


def test_escapes_are_refused_and_nothing_changes(srv):
    for name, sql in attempts(srv):
        r = srv.query(sql)
        assert r.status_code in (400, 403), (name, r.status_code, r.text)
        msg = r.json()["error"]["message"]
        assert msg, name
        assert "do not read" not in r.text and "root:" not in r.text, name
    assert srv.rows("SELECT count(*) AS n FROM t") == [{"n": 2}]
    assert not os.path.exists("/tmp/x.csv") or os.path.getmtime("/tmp/x.csv") < 0


def test_refusals_name_what_was_refused(srv):
    assert "ATTACH" in srv.query("ATTACH 'x.db' AS o").json()["error"]["message"]
    assert "sqlite_scan" in srv.query(f"SELECT * FROM sqlite_scan('{srv.other_sqlite}', 'secret')").json()["error"]["message"]


def test_ordinary_work_still_works(srv):
    assert srv.query("CREATE TABLE scratch AS SELECT 1 AS y").status_code == 200
    assert srv.rows("SELECT count(*) AS n FROM scratch") == [{"n": 1}]
    assert srv.query("SELECT 'sqlite_scan(' AS not_a_call, 1 AS query").status_code == 200
    assert srv.query("DROP TABLE scratch").status_code == 200


def test_status_reports_the_sandbox(srv):
    st = srv.status()
    assert "sandboxed" in st
