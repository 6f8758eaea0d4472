"""A clean connection per request: whatever one request leaves on its slot's connection — an open
or aborted transaction, a USE, a failed statement — is invisible to the next request on the same
slot. `featherman local --slots 1` makes every request land on the one slot."""
import pytest

from featherman import start_local

MANIFESTS = """
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: lake}
spec:
  metadata: {type: sqlite}
  dataInliningRowLimit: 0
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {name: t}
spec:
  catalogRef: lake
  name: t
  columns:
    - {name: id, type: INTEGER}
"""


@pytest.fixture(scope="module")
def srv():
    s = start_local(MANIFESTS, args=["--slots", "1", "--no-sandbox"])
    yield s
    s.stop()


def count(srv):
    return srv.rows("SELECT count(*) AS n FROM t")[0]["n"]


def test_a_transaction_left_open_is_rolled_back_and_gone(srv):
    before = count(srv)
    r = srv.query("BEGIN TRANSACTION; INSERT INTO t VALUES (1)")
    assert r.status_code == 200, r.text
    assert count(srv) == before
    # a transaction still open on the connection would refuse this BEGIN
    r = srv.query("BEGIN TRANSACTION; SELECT 42 AS x")
    assert r.status_code == 200, r.text


def test_an_aborted_transaction_does_not_poison_the_slot(srv):
    r = srv.query("BEGIN TRANSACTION; INSERT INTO t VALUES ('not a number')")
    assert r.status_code == 400, r.text
    for _ in range(3):
        assert srv.rows("SELECT 1 AS one") == [{"one": 1}]


def test_a_failed_statement_leaves_nothing(srv):
    r = srv.query("SELECT * FROM no_such_table")
    assert r.status_code == 400 and "no_such_table" in r.text
    assert srv.rows("SELECT 2 AS two") == [{"two": 2}]


def test_use_of_another_schema_does_not_reach_the_next_request(srv):
    r = srv.query("CREATE SCHEMA IF NOT EXISTS other")
    assert r.status_code == 200, r.text
    r = srv.query("CREATE TABLE IF NOT EXISTS other.t (x VARCHAR)")
    assert r.status_code == 200, r.text
    r = srv.query("USE lake.other")
    # whether or not USE is admitted, the next request resolves t in the default schema
    assert r.status_code in (200, 403), r.text
    assert srv.rows("SELECT current_schema() AS s") == [{"s": "main"}]
    r = srv.query("INSERT INTO t VALUES (7)")
    assert r.status_code == 200, r.text
    assert srv.rows("SELECT count(*) AS n FROM t WHERE id = 7")[0]["n"] >= 1


def test_a_write_that_commits_answers_200_with_its_whole_body(srv):
    before = count(srv)
    r = srv.query("INSERT INTO t SELECT range FROM range(10)", fmt="ndjson")
    assert r.status_code == 200, r.text
    assert r.text.strip() == '{"Count":10}'
    assert count(srv) == before + 10


@pytest.mark.parametrize("sql", ["BEGIN TRANSACTION", "COMMIT", "ROLLBACK", "BEGIN; INSERT INTO t VALUES (5); COMMIT; BEGIN"])
def test_transaction_statements_alone_answer_cleanly_and_leave_nothing_open(srv, sql):
    before = count(srv)
    r = srv.query(sql)  # requests reads the whole body: a broken stream raises here
    assert r.status_code in (200, 400), r.text
    # no transaction is open on the slot now: this BEGIN would fail inside one
    r = srv.query("BEGIN TRANSACTION; SELECT 1 AS one")
    assert r.status_code == 200, r.text
    assert count(srv) == before + (1 if "VALUES (5); COMMIT" in sql else 0)


TWO_CATALOGS = """
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: good}
spec:
  metadata: {type: sqlite}
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata: {name: bad}
spec:
  metadata: {type: sqlite}
"""


def test_a_broken_catalog_at_start_is_reported_and_the_others_serve():
    import os
    import tempfile

    import requests

    state = tempfile.mkdtemp(prefix="fm-broken-")
    srv = start_local(TWO_CATALOGS, state=state, args=["--no-sandbox"])
    try:
        assert srv.query("CREATE TABLE t AS SELECT 1 AS x", catalog="good").status_code == 200
    finally:
        srv.stop()
    with open(os.path.join(state, "state", "bad", "metadata.sqlite"), "wb") as f:
        f.write(b"this is not a database, just thirty-odd bytes\n")
    srv = start_local(TWO_CATALOGS, state=state, args=["--no-sandbox"])
    try:
        assert srv.rows("SELECT x FROM t", catalog="good") == [{"x": 1}]
        r = srv.query("SELECT 1", catalog="bad")
        assert r.status_code == 503, r.text
        msg = r.json()["error"]["message"]
        assert 'catalog "bad" is unavailable' in msg and "not a database" in msg, msg
        ready = requests.get(srv.url + "/readyz", timeout=10)
        assert ready.status_code == 200
        assert "catalog bad unavailable:" in ready.text and "good" not in ready.text, ready.text
        # a request naming no catalog is not silently sent to the one that works
        r = srv.query("SELECT 1")
        assert r.status_code == 400 and "2 catalogs" in r.text, r.text
    finally:
        logs = srv.stop()
    assert "catalog bad" in logs and "the other catalogs are served" in logs
