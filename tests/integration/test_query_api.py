"""The query protocol of `featherman local` end to end: formats, errors before and during
streaming, authentication, limits. pyarrow and DuckDB's Python package check what we send."""
import csv
import io
import json
import socket
import threading
import time

import pyarrow as pa
import pyarrow.ipc
import pytest
import requests

from featherman import start_local

LAKE = """
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeCatalog
metadata:
  name: lake
spec:
  metadata:
    type: sqlite
---
apiVersion: ducklake.featherman.dev/v1alpha1
kind: DuckLakeTable
metadata:
  name: events
spec:
  catalogRef: lake
  name: events
  columns:
    - {name: id, type: BIGINT, nullable: false}
    - {name: name, type: VARCHAR}
    - {name: amount, type: "DECIMAL(10,2)"}
    - {name: "at", type: TIMESTAMP}
"""


@pytest.fixture(scope="module")
def srv():
    s = start_local(LAKE)
    r = s.query("INSERT INTO events VALUES (1, 'a', 1.50, '2024-01-02 03:04:05'), (2, 'b,\"c\"', NULL, NULL), "
                "(3, NULL, -7.25, '1999-12-31 23:59:59.123456')")
    assert r.status_code == 200, r.text
    yield s
    s.stop()


def test_csv_is_rfc4180_with_header(srv):
    r = srv.query("SELECT id, name, amount FROM events ORDER BY id")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert r.headers["X-Featherman-Query-Id"]
    assert r.headers["X-Featherman-Pod"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["id", "name", "amount"]
    assert rows[1] == ["1", "a", "1.50"]
    assert rows[2] == ["2", 'b,"c"', ""]
    assert r.text.split("\r\n")[2] == '2,"b,""c""",'


def test_ndjson_rows(srv):
    rows = srv.rows('SELECT id, name, amount, "at" FROM events ORDER BY id')
    assert rows[0] == {"id": 1, "name": "a", "amount": 1.50, "at": "2024-01-02 03:04:05"}
    assert rows[1]["name"] == 'b,"c"' and rows[1]["amount"] is None
    assert rows[2]["at"] == "1999-12-31 23:59:59.123456"


def test_arrow_read_by_pyarrow(srv):
    r = srv.query("SELECT * FROM events ORDER BY id", fmt="arrow")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    t = pa.ipc.open_stream(r.content).read_all()
    assert t.column_names == ["id", "name", "amount", "at"]
    assert t.schema.field("id").type == pa.int64()
    assert t.schema.field("amount").type == pa.decimal128(10, 2)
    assert t.column("id").to_pylist() == [1, 2, 3]
    assert t.column("name").to_pylist() == ["a", 'b,"c"', None]


def test_accept_header_chooses_format(srv):
    r = srv.query("SELECT 42 AS x", headers={"Accept": "application/x-ndjson"})
    assert r.headers["Content-Type"].startswith("application/x-ndjson")
    assert json.loads(r.text) == {"x": 42}


def test_every_lake_type_through_arrow_matches_duckdb(srv):
    sql = ("SELECT 1::TINYINT a, 2::SMALLINT b, 3::INTEGER c, 4::BIGINT d, 5::HUGEINT e, 1.5::DOUBLE f, "
           "12.345::DECIMAL(18,3) g, true h, 'x' i, '\\xAA'::BLOB j, DATE '2024-02-29' k, TIME '12:34:56' l, "
           "TIMESTAMP '2024-01-01 00:00:00' m, TIMESTAMPTZ '2024-01-01 00:00:00+00' n, [1, NULL, 3] o, "
           "{'p': 1, 'q': 'r'} s, NULL::INTEGER t, 'e3a5b1b8-6f5a-4f4e-9a0e-1f2b3c4d5e6f'::UUID u")
    t = pa.ipc.open_stream(srv.query(sql, fmt="arrow").content).read_all()
    import duckdb
    want = duckdb.sql(sql).arrow()
    want = want.read_all() if hasattr(want, "read_all") else want
    assert t.column_names == want.column_names
    for name in t.column_names:
        assert t.column(name).to_pylist() == want.column(name).to_pylist(), name


def test_multi_chunk_result_streams_whole(srv):
    r = srv.query("SELECT range AS i, 'v' || range AS s FROM range(100000)", fmt="arrow")
    t = pa.ipc.open_stream(r.content).read_all()
    assert t.num_rows == 100000
    assert t.column("i").to_pylist()[-1] == 99999
    r = srv.query("SELECT range AS i FROM range(50000)")
    assert r.text.count("\r\n") == 50001


def test_zero_rows_still_have_header_and_schema(srv):
    assert srv.query("SELECT id, name FROM events WHERE false").text == "id,name\r\n"
    t = pa.ipc.open_stream(srv.query("SELECT id FROM events WHERE false", fmt="arrow").content).read_all()
    assert t.num_rows == 0 and t.column_names == ["id"]


@pytest.mark.parametrize("case", [
    ("no token", dict(headers={}), 401, "bearer token is required"),
    ("wrong token", dict(token="nope"), 401, "bearer token is required"),
    ("malformed JSON", dict(data="{\"sql\": "), 400, "not valid JSON"),
    ("missing sql", dict(json={"catalog": "lake"}), 400, "\\\"sql\\\" is required"),
    ("unknown catalog", dict(json={"sql": "SELECT 1", "catalog": "nope"}), 404, "unknown catalog"),
    ("syntax error", dict(json={"sql": "SELEC 1"}), 400, "Parser Error"),
    ("unknown table", dict(json={"sql": "SELECT * FROM missing_table"}), 400, "missing_table"),
    ("unsupported format", dict(json={"sql": "SELECT 1", "format": "xml"}), 400, "format"),
    ("oversized body", dict(json={"sql": "SELECT '" + "x" * (2 << 20) + "'"}), 413, "larger than"),
])
def test_bad_requests_get_clear_errors_and_the_server_keeps_serving(srv, case):
    name, kw, status, needle = case
    headers = {"Authorization": f"Bearer {kw.pop('token', srv.token)}"}
    if "headers" in kw:
        headers = kw.pop("headers")
    r = requests.post(srv.url + "/query", headers=headers, timeout=30, **kw)
    assert r.status_code == status, (name, r.status_code, r.text)
    body = r.json()
    assert set(body["error"]) == {"code", "message"}
    assert needle.replace("\\\"", '"') in body["error"]["message"], body
    assert srv.query("SELECT 1").status_code == 200


def test_wrong_method_and_path(srv):
    assert requests.get(srv.url + "/query", timeout=5).status_code == 405
    assert requests.get(srv.url + "/nope", timeout=5).status_code == 404


def test_error_after_streaming_began_is_visible(srv):
    # rows stream first, then DuckDB raises: the chunked stream must not end cleanly
    sql = "SELECT CASE WHEN range < 300000 THEN range ELSE error('boom at the end') END AS v FROM range(400000)"
    r = srv.query(sql, stream=True)
    assert r.status_code == 200
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in r.iter_content(65536):
            pass
    assert srv.query("SELECT 1").status_code == 200


def test_timeout_is_504_and_cancels(srv):
    t0 = time.time()
    r = srv.query("SELECT count(*) FROM range(100000000000) a", timeout_ms=300)
    assert r.status_code == 504, r.text
    assert r.json()["error"]["code"] == "timeout"
    assert time.time() - t0 < 20
    assert srv.query("SELECT 1").status_code == 200


def test_client_disconnect_cancels_the_query(srv):
    body = json.dumps({"sql": "SELECT count(*) FROM range(100000000000) a, range(10) b"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srv.token.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    time.sleep(0.5)
    assert requests.get(srv.url + "/status", timeout=5).json()["busy"] >= 1
    s.close()
    deadline = time.time() + 15
    while requests.get(srv.url + "/status", timeout=5).json()["busy"] != 0:
        assert time.time() < deadline, "the query kept running after its client left"
        time.sleep(0.1)
    assert 'featherman_query_errors_total{stage="cancelled"}' in requests.get(srv.url + "/metrics", timeout=5).text


def test_status_health_and_metrics(srv):
    st = requests.get(srv.url + "/status", timeout=5).json()
    assert st["role"] == "local" and st["slots"] >= 1 and "startedAt" in st and st["queriesServed"] >= 1
    assert st["catalogs"][0]["name"] == "lake"
    assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
    assert requests.get(srv.url + "/readyz", timeout=5).status_code == 200
    m = requests.get(srv.url + "/metrics", timeout=5).text
    for name in ["featherman_queries_total", "featherman_query_duration_seconds_bucket",
                 "featherman_queries_in_flight", "featherman_query_errors_total"]:
        assert name in m


def test_queueing_when_all_slots_are_busy():
    s = start_local(LAKE, args=["--slots", "1"])
    try:
        results = {}

        def slow():
            results["slow"] = s.query("SELECT count(*) FROM range(300000000)")
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.2)
        r = s.query("SELECT 7 AS x", fmt="ndjson")   # waits for the slot, then runs
        th.join()
        assert r.status_code == 200 and json.loads(r.text) == {"x": 7}
        assert results["slow"].status_code == 200
    finally:
        s.stop()


def test_second_server_on_a_port_in_use_is_refused(srv):
    # a second `featherman local` on the same port must fail at start, not share the port and
    # half the requests with the first (its own state: the first one's lake is not the question)
    import os
    import subprocess
    import tempfile

    from featherman import binary, env, write_manifests
    state = tempfile.mkdtemp(prefix="fm-second-")
    write_manifests(os.path.join(state, "manifests"), LAKE)
    p = subprocess.run([binary(), "local", "--manifests", os.path.join(state, "manifests"),
                        "--state", os.path.join(state, "state"), "--listen", f"127.0.0.1:{srv.port}", "--no-sandbox"],
                       capture_output=True, text=True, timeout=120, env=env(FEATHERMAN_TOKEN="another-token"))
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert f"cannot listen on 127.0.0.1:{srv.port}: address already in use" in out, out
    assert "LeakSanitizer" not in out, out
    for _ in range(20):  # every request still reaches the first server
        r = srv.query("SELECT 1 AS x", fmt="ndjson")
        assert r.status_code == 200 and r.headers["X-Featherman-Query-Id"]


def test_errors_carry_the_standard_headers(srv):
    for r in (requests.get(srv.url + "/nope", timeout=5),
              requests.post(srv.url + "/query", json={"sql": "SELECT 1"}, timeout=5),
              srv.query("SELEC 1")):
        assert r.status_code >= 400
        assert r.headers["X-Featherman-Pod"] and r.headers["X-Featherman-Query-Id"], r.headers
        assert set(r.json()["error"]) == {"code", "message"}
