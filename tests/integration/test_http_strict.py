"""The HTTP layer's strictness and bounds on real servers (`featherman local` and `worker serve`),
over raw sockets on 127.0.0.1: ambiguous framing is refused and never runs a hidden request,
/status needs the server's token while /metrics does not, stored tokens are trimmed and
presented ones compared exactly, idle and half-open unauthenticated connections above the old
breaking point (1,000) neither starve /healthz, /readyz nor a query and are closed by their
timeout, a client that stops reading a result is cut off at its deadline with its slot freed, and
an engine error quoting the object store's URL reaches the client without it."""
import json
import os
import select
import socket
import tempfile
import time
import uuid

import pytest
import requests

from featherman import Server, run_job, start_local
from services import MinIO, free_port

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
  name: t
spec:
  catalogRef: lake
  name: t
  columns:
    - {name: id, type: BIGINT}
"""

IDLE = 1200  # above the 1,000 connections that used to starve a server


@pytest.fixture(scope="module")
def local():
    s = start_local(LAKE, args=["--slots", "2"])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def worker(minio):
    bucket = f"h-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp(prefix="fm-strict-")
    creds = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}
    cat = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": "lake"},
           "spec": {"metadata": {"type": "sqlite", "path": os.path.join(state, "meta", "lake.sqlite")},
                    "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "data", "useSSL": False,
                                    "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}}
    code, msg, err = run_job("init", cat, state=state, extra_env=creds)
    assert code == 0, (msg, err)
    spec = os.path.join(state, "catalog.json")
    with open(spec, "w") as f:
        json.dump(cat, f)
    port = free_port()
    token = "worker-token-" + uuid.uuid4().hex
    s = Server(["worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{port}", "--slots", "2",
                "--state", os.path.join(state, "serve")], token, port, state,
               extra_env=dict(creds, FEATHERMAN_TOKEN=token))
    yield s
    s.stop()


@pytest.fixture(params=["local", "worker"])
def srv(request):
    return request.getfixturevalue(request.param)


def raw(srv, data, wait=10):
    """sends raw bytes; returns (answer, closed by the server)"""
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(wait)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return out, True
            out += d
    except socket.timeout:
        return out, False
    finally:
        s.close()


def post(srv, headers, body):
    return (b"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + srv.token.encode() +
            b"\r\nContent-Type: application/json\r\n" + headers + b"\r\n" + body)


def chunked(body):
    return b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


def test_ambiguous_framing_is_refused_and_closed(local):
    srv = local
    before = srv.rows("SELECT count(*) AS n FROM t")[0]["n"]
    hidden = json.dumps({"sql": "INSERT INTO t VALUES (666)"}).encode()
    visible = json.dumps({"sql": "SELECT 1"}).encode()
    # the smuggled request sits where one parser sees a body and another the next request
    smuggle = chunked(visible) + post(srv, b"Content-Length: %d\r\n" % len(hidden), hidden)
    cases = [
        (b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(chunked(visible)), smuggle,
         "both Content-Length and Transfer-Encoding"),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", smuggle, "both Content-Length and Transfer-Encoding"),
        (b"Content-Length: %d\r\nContent-Length: 3\r\n" % len(visible), visible, "more than one Content-Length"),
        (b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(visible), len(visible)), visible,
         "more than one Content-Length"),
        (b"Transfer-Encoding: gzip\r\n", visible, "is not supported"),
        (b"Transfer-Encoding: chunked, identity\r\n", chunked(visible), "is not supported"),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", smuggle, "more than one Transfer-Encoding"),
        (b"Transfer-Encoding : chunked\r\n", smuggle, "contains whitespace"),
        (b"Transfer-Encoding\t: chunked\r\n", smuggle, "contains whitespace"),
        (b"Content-Length : %d\r\n" % len(visible), visible, "contains whitespace"),
    ]
    for headers, body, why in cases:
        out, closed = raw(srv, post(srv, headers, body))
        assert out.startswith(b"HTTP/1.1 400 "), (headers, out)
        assert closed, headers
        assert b"Connection: close" in out and why.encode() in out, out
        assert out.count(b"HTTP/1.1") == 1, out  # nothing after the refusal was read as a request
    # an unambiguous request on a raw socket still works, chunked or with a length
    out, _ = raw(srv, post(srv, b"Transfer-Encoding: chunked\r\nConnection: close\r\n", chunked(visible)))
    assert out.startswith(b"HTTP/1.1 200 "), out
    assert srv.rows("SELECT count(*) AS n FROM t")[0]["n"] == before  # the hidden INSERT never ran


@pytest.mark.parametrize("connection", [b"Connection: close\r\n", b""])
@pytest.mark.parametrize("sql", ["SELECT 42 AS answer", "SELECT count(*) AS answer FROM range(3000000000)"])
def test_half_closed_client_with_a_whole_request_is_answered(srv, connection, sql):
    body = json.dumps({"sql": sql, "format": "csv"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.settimeout(60)
    s.sendall(post(srv, b"Content-Length: %d\r\n" % len(body) + connection, body))
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    # an interim "100 Continue" may come first (it tells a closed socket from a half-closed one)
    if out.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"):
        out = out[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    assert out.startswith(b"HTTP/1.1 200 ") and b"answer\r\n" in out and out.endswith(b"0\r\n\r\n"), out


def test_a_client_that_closes_before_the_answer_cancels_its_query(srv):
    body = json.dumps({"sql": "SELECT count(*) FROM range(100000000000) a, range(10) b"}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(post(srv, b"Content-Length: %d\r\n" % len(body), body))
    deadline = time.time() + 15
    while srv.status()["busy"] < 1:
        assert time.time() < deadline
        time.sleep(0.05)
    s.close()
    deadline = time.time() + 15
    while srv.status()["busy"] != 0:
        assert time.time() < deadline, "the query kept running after its client left"
        time.sleep(0.1)


def test_status_needs_the_token_and_metrics_does_not(srv):
    r = requests.get(srv.url + "/status", timeout=5)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = requests.get(srv.url + "/status", headers={"Authorization": "Bearer wrong"}, timeout=5)
    assert r.status_code == 401
    assert srv.status()["catalogs"][0]["name"] == "lake"
    m = requests.get(srv.url + "/metrics", timeout=5)
    assert m.status_code == 200 and "featherman_http_unauthenticated_connections" in m.text
    # no names beyond the catalog's: every label value is a catalog, an endpoint, a state, a code
    for line in m.text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        labels = line[line.index("{") + 1:line.index("}")]
        for kv in labels.split(","):
            k, v = kv.split("=", 1)
            assert k in ("catalog", "state", "endpoint", "code", "format", "stage", "le"), line


def test_tokens_are_trimmed_when_stored_and_exact_when_presented():
    s = start_local(LAKE, token=" \tspaced-token-0123\r\n")
    try:
        ok = requests.post(s.url + "/query", json={"sql": "SELECT 1"},
                           headers={"Authorization": "Bearer spaced-token-0123"}, timeout=30)
        assert ok.status_code == 200, ok.text
        for sent in ("spaced-token-0123 ", " \tspaced-token-0123\r\n".strip("\r\n"), "spaced-token-0123\t"):
            r = requests.post(s.url + "/query", json={"sql": "SELECT 1"},
                              headers={"Authorization": "Bearer " + sent}, timeout=30)
            assert r.status_code == 401, (sent, r.text)
    finally:
        s.token = "spaced-token-0123"
        s.stop()


def test_idle_and_half_open_connections_do_not_starve_the_server(srv):
    socks = []
    try:
        for i in range(IDLE):
            c = socket.create_connection(("127.0.0.1", srv.port))
            if i % 2:
                c.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\n")  # headers that never end
            socks.append(c)
        # everything still answers, without waiting for the idle ones to go away
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(srv.url + "/readyz", timeout=5).status_code == 200
        r = srv.query("SELECT 7 AS x", fmt="csv", timeout=10)
        assert r.status_code == 200 and r.text.splitlines() == ["x", "7"], r.text
        m = requests.get(srv.url + "/metrics", timeout=5).text
        evicted = [ln for ln in m.splitlines() if ln.startswith("featherman_http_connections_evicted_total ")]
        assert evicted and int(evicted[0].split()[1]) >= IDLE - 256, evicted
        # every idle one is closed by the server: evicted, or after the unauthenticated timeout
        by_fd = {c.fileno(): c for c in socks}
        p = select.poll()
        for fd in by_fd:
            p.register(fd, select.POLLIN)
        deadline = time.time() + 60
        while by_fd:
            assert time.time() < deadline, f"{len(by_fd)} idle connections still open after 60 s"
            for fd, _ in p.poll(1000):
                try:
                    closed = by_fd[fd].recv(4096) == b""
                except ConnectionError:
                    closed = True
                if closed:
                    p.unregister(fd)
                    del by_fd[fd]
    finally:
        for c in socks:
            c.close()
    assert srv.query("SELECT 1").status_code == 200


def test_a_client_that_stops_reading_is_cut_off_at_its_deadline(srv):
    body = json.dumps({"sql": "SELECT repeat('x', 1000) AS s FROM range(100000000)", "format": "csv",
                       "timeoutMs": 2000}).encode()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.port))
    s.settimeout(30)
    t0 = time.time()
    s.sendall(post(srv, b"Content-Length: %d\r\n" % len(body), body))
    assert s.recv(512).startswith(b"HTTP/1.1 200 ")
    # reads nothing more: the slot is freed once the deadline passed, the connection closed
    deadline = time.time() + 30
    while srv.status()["busy"] != 0:
        assert time.time() < deadline, "the slot stayed busy past the query's deadline"
        time.sleep(0.1)
    freed_after = time.time() - t0
    got = b""
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            got += d
    except ConnectionError:
        pass
    s.close()
    assert not got.endswith(b"0\r\n\r\n")  # a broken stream, never a whole-looking one
    assert srv.query("SELECT 1").status_code == 200
    print(f"slot freed {freed_after:.1f} s after the request (timeoutMs 2000)")


def test_error_bodies_do_not_carry_the_object_store_url(minio):
    """a worker whose object store is unreachable: the error names what failed, not where"""
    bucket = f"h-{uuid.uuid4().hex[:8]}"
    minio.make_bucket(bucket)
    state = tempfile.mkdtemp(prefix="fm-strict-url-")
    creds = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there

    def cat(endpoint):
        return {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog",
                "metadata": {"name": "lake"},
                "spec": {"metadata": {"type": "sqlite", "path": os.path.join(state, "meta", "lake.sqlite")},
                         "dataInliningRowLimit": 0,
                         "objectStore": {"endpoint": endpoint, "bucket": bucket, "prefix": "data", "useSSL": False,
                                         "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}}

    code, msg, err = run_job("init", cat(minio.endpoint), state=state, extra_env=creds)
    assert code == 0, (msg, err)
    tbl = {"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": "t"},
           "spec": {"catalogRef": "lake", "name": "t", "columns": [{"name": "id", "type": "BIGINT"}]}}
    code, msg, err = run_job("ddl", cat(minio.endpoint), tbl, state=state, extra_env=creds)
    assert code == 0, (msg, err)
    spec = os.path.join(state, "dead.json")
    with open(spec, "w") as f:
        json.dump(cat(dead), f)
    port = free_port()
    token = "worker-token-" + uuid.uuid4().hex
    s = Server(["worker", "serve", "--catalog-spec", spec, "--listen", f"127.0.0.1:{port}",
                "--state", os.path.join(state, "serve")], token, port, state,
               extra_env=dict(creds, FEATHERMAN_TOKEN=token))
    try:
        r = s.query("INSERT INTO t VALUES (1)", timeout_ms=20000)
        assert r.status_code >= 400, r.text
        body = r.text
        assert dead not in body and "http://" not in body and bucket not in body.replace("s3://" + bucket, ""), body
        assert r.json()["error"]["message"], body
    finally:
        logs = s.stop()
    assert dead in logs  # the whole message is in the server's log
