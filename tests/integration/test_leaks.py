"""No leaks in the long-running roles: `featherman local` and `featherman worker serve`, built with
AddressSanitizer, serve a workload that crosses every path (each format, errors before and
during streaming, timeouts, disconnects, refused statements, bad requests, concurrency) and then
exit; LeakSanitizer turns any leak into exit code 66, which Server.stop refuses.
They run with --no-sandbox because LSan cannot suspend threads that Landlock confined in
domains of their own (see featherman.py); the sandboxed runs are covered by the other tests."""
import json
import os
import socket
import tempfile
import threading
import time

import pyarrow as pa
import pyarrow.ipc
import requests

from featherman import Server, start_local
from services import free_port

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
  columns:
    - {name: id, type: BIGINT}
    - {name: tags, type: "VARCHAR[]"}
    - {name: s, type: "STRUCT(a INTEGER, b VARCHAR)"}
"""


def workload(srv):
    assert srv.query("INSERT INTO t SELECT range, ['x', 'y'], {'a': 1, 'b': 'z'} FROM range(5000)").status_code == 200
    for fmt in ("csv", "ndjson", "arrow"):
        r = srv.query("SELECT * FROM t ORDER BY id", fmt=fmt)
        assert r.status_code == 200, r.text
    t = pa.ipc.open_stream(srv.query("SELECT * FROM t", fmt="arrow").content).read_all()
    assert t.num_rows == 5000
    assert srv.query("SELEC 1").status_code == 400
    assert srv.query("SELECT * FROM read_csv('/etc/passwd')").status_code in (400, 403)
    assert srv.query("ATTACH '/tmp/x.db' AS x").status_code in (400, 403)
    assert srv.query("SELECT 1", token="wrong").status_code == 401
    assert requests.post(srv.url + "/query", data="{\"sql\":", timeout=10,
                         headers={"Authorization": f"Bearer {srv.token}"}).status_code == 400
    assert srv.query("SELECT count(*) FROM range(100000000000)", timeout_ms=200).status_code == 504
    # an error after the first bytes
    r = srv.query("SELECT CASE WHEN range < 300000 THEN range ELSE error('late') END FROM range(400000)", stream=True)
    try:
        for _ in r.iter_content(65536):
            pass
    except requests.exceptions.ChunkedEncodingError:
        pass
    # a client that leaves mid-query
    body = json.dumps({"sql": "SELECT count(*) FROM range(100000000000)"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srv.token.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    time.sleep(0.3)
    s.close()
    # concurrency
    errors = []

    def many():
        for _ in range(10):
            r = srv.query("SELECT sum(id) AS s FROM t", fmt="ndjson")
            if r.status_code not in (200, 409):
                errors.append(r.text)
    ths = [threading.Thread(target=many) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    assert not errors, errors
    for path in ("/status", "/metrics", "/healthz", "/readyz"):
        assert requests.get(srv.url + path, headers={"Authorization": f"Bearer {srv.token}"}, timeout=5).status_code == 200


def test_local_has_no_leaks():
    srv = start_local(LAKE, args=["--no-sandbox", "--slots", "2"])
    try:
        workload(srv)
    finally:
        srv.stop()  # asserts exit code 0: LeakSanitizer exits 66 on a leak


def test_worker_serve_has_no_leaks():
    state = tempfile.mkdtemp(prefix="fm-leak-")
    cat = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog",
           "metadata": {"name": "lake"}, "spec": {"metadata": {"type": "sqlite"}}}
    tab = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": "t"},
           "spec": {"catalogRef": "lake", "name": "t", "columns": [
               {"name": "id", "type": "BIGINT"}, {"name": "tags", "type": "VARCHAR[]"},
               {"name": "s", "type": "STRUCT(a INTEGER, b VARCHAR)"}]}}
    from featherman import run_job
    assert run_job("init", cat, state=state)[0] == 0
    assert run_job("ddl", cat, tab, state=state)[0] == 0
    spec = os.path.join(state, "catalog.json")
    with open(spec, "w") as f:
        json.dump(cat, f)
    port = free_port()
    srv = Server(["worker", "serve", "--no-sandbox", "--catalog-spec", spec, "--state", state, "--slots", "2",
                  "--listen", f"127.0.0.1:{port}"], "leak-token", port, state,
                 extra_env={"FEATHERMAN_TOKEN": "leak-token"})
    try:
        workload(srv)
    finally:
        srv.stop()
