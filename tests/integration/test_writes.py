"""Writes tell the truth, and concurrent writers all succeed. Every write is checked against the
lake itself, read afterwards by DuckDB's own Python package: a write answered 200 is there
exactly once, a write answered with an error left nothing, and no write is ever half there."""
import concurrent.futures
import os
import socket
import uuid

import pytest
import requests

from featherman import start_local
from services import Postgres
from test_backends import python_duckdb

N_WRITERS = 3
M_INSERTS = 8


def manifests(metadata):
    return f"""
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
  dataInliningRowLimit: 0
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata: {{name: w}}
spec:
  catalogRef: lake
  name: w
  columns:
    - {{name: writer, type: INTEGER}}
    - {{name: k, type: INTEGER}}
"""


def lake_rows(srv, meta, pg=None):
    """(writer, k, count) of the stopped server's lake, read by an independent DuckDB"""
    con = python_duckdb()
    con.execute("LOAD ducklake")
    if meta == "postgres":
        con.execute("LOAD postgres_scanner")
        target = (f"ducklake:postgres:dbname={pg[1]} host=127.0.0.1 port={pg[0].port} user={Postgres.USER} "
                  f"password={Postgres.PASSWORD}")
        opts = "(METADATA_SCHEMA 'lake_meta', READ_ONLY)"
    else:
        con.execute("LOAD sqlite_scanner")
        f = os.path.join(srv.state, "state", "lake", "metadata." + ("sqlite" if meta == "sqlite" else "ducklake"))
        target = ("ducklake:sqlite:" if meta == "sqlite" else "ducklake:") + f
        opts = "(READ_ONLY)"
    con.execute(f"ATTACH '{target}' AS l {opts}")
    return con.execute("SELECT writer, k, count(*) FROM l.w GROUP BY ALL ORDER BY ALL").fetchall()


def metadata_for(meta, postgres):
    if meta != "postgres":
        return f"{{type: {meta}}}", None
    db = f"w_{uuid.uuid4().hex[:8]}"
    postgres.create_db(db)
    return (f"{{type: postgres, host: 127.0.0.1, port: {postgres.port}, database: {db}, user: {Postgres.USER}, "
            f"schema: lake_meta, passwordSecret: {{name: pg}}, sslMode: disable}}"), (postgres, db)


@pytest.fixture
def pg_if_needed(request):
    if request.node.callspec.params["meta"] == "postgres":
        return request.getfixturevalue("postgres")
    return None


@pytest.mark.parametrize("meta", ["sqlite", "duckdb", "postgres"])
def test_n_writers_m_inserts_all_succeed_and_land_exactly_once(meta, pg_if_needed):
    metadata, pg = metadata_for(meta, pg_if_needed)
    srv = start_local(manifests(metadata), args=["--slots", "4", "--no-sandbox"])
    try:
        def writer(wid):
            out = []
            for k in range(M_INSERTS):
                r = srv.query(f"INSERT INTO w VALUES ({wid}, {k})", fmt="ndjson")
                out.append((r.status_code, r.text))
            return out

        def reader():
            # reads go on while the writers are serialized
            return [srv.query("SELECT count(*) AS n FROM w", fmt="ndjson").status_code for _ in range(M_INSERTS)]

        with concurrent.futures.ThreadPoolExecutor(N_WRITERS + 1) as ex:
            futs = [ex.submit(writer, w) for w in range(N_WRITERS)]
            reads = ex.submit(reader)
            results = [f.result() for f in futs]
            assert set(reads.result()) == {200}
        for res in results:
            for status, text in res:
                assert status == 200 and text.strip() == '{"Count":1}', text
        # and the server still serves, writes included
        assert srv.rows("SELECT count(*) AS n FROM w") == [{"n": N_WRITERS * M_INSERTS}]
        r = srv.query("INSERT INTO w VALUES (99, 0)")
        assert r.status_code == 200, r.text
    finally:
        srv.stop()
    want = sorted([(w, k, 1) for w in range(N_WRITERS) for k in range(M_INSERTS)] + [(99, 0, 1)])
    assert lake_rows(srv, meta, pg) == want


def post_raw(port, token, body):
    """a request whose client closes its socket right after sending: it never reads the answer"""
    s = socket.create_connection(("127.0.0.1", port))
    data = body.encode()
    s.sendall((f"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n").encode() + data)
    s.close()


def test_writes_racing_their_timeouts_and_disconnects_land_all_or_nothing():
    srv = start_local(manifests("{type: sqlite}"), args=["--slots", "3", "--no-sandbox"])
    rows_per_write = 20000
    acked, failed, abandoned = set(), set(), set()
    try:
        def one(i):
            sql = f"INSERT INTO w SELECT {i}, range FROM range({rows_per_write})"
            if i % 4 == 3:
                post_raw(srv.port, srv.token, '{"sql": "%s"}' % sql)
                return i, "abandoned", ""
            # a quarter has all the time it needs, the rest race deadlines of 1 to 60 ms
            timeout = 60000 if i % 4 == 0 else 1 + (i * 7) % 60
            try:
                r = srv.query(sql, fmt="ndjson", timeout_ms=timeout)
            except requests.RequestException as e:  # a broken stream would be a lie about the write
                return i, "broken", str(e)
            return i, r.status_code, r.text

        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            for i, status, text in ex.map(one, range(48)):
                assert status != "broken", text
                if status == "abandoned":
                    abandoned.add(i)
                elif status == 200:
                    assert text.strip() == '{"Count":%d}' % rows_per_write, text
                    acked.add(i)
                else:
                    assert status == 504, text
                    failed.add(i)
        # the server keeps serving, and writing, after all that
        assert srv.rows("SELECT 1 AS one") == [{"one": 1}]
        r = srv.query("INSERT INTO w VALUES (1000, 0)")
        assert r.status_code == 200, r.text
    finally:
        srv.stop()
    con_rows = lake_rows(srv, "sqlite")
    per_write = {}
    for writer, _k, n in con_rows:
        per_write[writer] = per_write.get(writer, 0) + n
    assert per_write.pop(1000) == 1
    for w in acked:
        assert per_write.get(w) == rows_per_write, (w, per_write.get(w))
    for w in failed:
        assert w not in per_write, f"write {w} was answered with an error but landed"
    for w, n in per_write.items():
        assert n == rows_per_write, f"write {w} landed partly: {n} rows"
        assert w in acked or w in abandoned
    assert {i for i in range(48) if i % 4 == 0} <= acked
    print(f"acknowledged {len(acked)}, timed out {len(failed)}, abandoned {len(abandoned)} "
          f"(of which landed {len([w for w in abandoned if w in per_write])})")
