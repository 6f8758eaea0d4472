"""`featherman gateway` against the real test cluster (tests/cluster): pool pods are created here
by hand (Pods with the labels of src/k8s/k8s_names.h running `featherman worker serve --slots 1`, the
catalog in MinIO with its SQLite metadata on a hostPath PersistentVolume), the gateway runs as a
local process with the cluster's kubeconfig and finds them through the API.

Pool `lake-pool` (catalog `lake`): queue maxLength 1, maxWaitTime 3s, maxQueryDuration 4s.
Catalog `sea` has no pool: the Job fallback serves it."""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import pyarrow as pa
import pyarrow.ipc
import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401  (the session fixture)

from featherman import Server, binary, env, run_job  # noqa: E402
from services import ROOT, MinIO, free_port  # noqa: E402

GROUP = "ducklake.featherman.dev"
INTERNAL = "internal-" + uuid.uuid4().hex
TOKEN_A = "client-a-" + uuid.uuid4().hex
TOKEN_B = "client-b-" + uuid.uuid4().hex
INFINITE = "SELECT count(*) FROM range(10000000000000)"


def catalog_cr(name, minio, bucket):
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakeCatalog", "metadata": {"name": name},
            "spec": {"metadata": {"type": "sqlite"},
                     "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "data", "useSSL": False,
                                     "urlStyle": "path", "credentialsSecret": {"name": "s3"}}}}


def table_cr(catalog):
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakeTable", "metadata": {"name": "orders"},
            "spec": {"catalogRef": catalog, "name": "orders",
                     "columns": [{"name": "id", "type": "BIGINT"}, {"name": "country", "type": "VARCHAR"}]}}


def secret(name, data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def pool_pod(name, catalog, pool, cr):
    s3 = [{"name": var, "valueFrom": {"secretKeyRef": {"name": "s3", "key": key}}}
          for var, key in (("FEATHERMAN_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
                           ("FEATHERMAN_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"))]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": "featherman",
                                                  "app.kubernetes.io/component": "pool-worker",
                                                  "app.kubernetes.io/managed-by": "featherman-operator",
                                                  "featherman.dev/pool": pool, "featherman.dev/catalog": catalog}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 5,
                     "containers": [{
                         "name": "featherman", "image": "featherman", "args": ["worker", "serve", "--slots", "1"],
                         "env": [{"name": "FEATHERMAN_CATALOG_SPEC", "value": json.dumps(cr)},
                                 {"name": "FEATHERMAN_STATE", "value": "/var/lib/featherman"},
                                 {"name": "FEATHERMAN_TOKEN",
                                  "valueFrom": {"secretKeyRef": {"name": "featherman-internal-token", "key": "token"}}}]
                         + s3,
                         "ports": [{"name": "query", "containerPort": 8080}],
                         "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1},
                         "volumeMounts": [{"name": "catalog", "mountPath": "/var/lib/featherman"}]}],
                     "volumes": [{"name": "catalog", "persistentVolumeClaim": {"claimName": f"{catalog}-metadata"}}]}}


class Gateway(Server):
    """The gateway as a local process; LeakSanitizer on (the gateway applies no Landlock sandbox)."""

    def __init__(self, args, token, port, state):
        self.token, self.port, self.state = token, port, state
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(state, "gateway.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary(), "gateway"] + args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env(sandboxed=False))
        self.wait_ready()

    def metrics(self):
        return requests.get(self.url + "/metrics", timeout=5).text


def metric(text, name, labels=""):
    m = re.search(rf"^{re.escape(name)}{{?{re.escape(labels)}}}? ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else None


class Env:
    pass


@pytest.fixture(scope="module")
def gw(kube_cluster, minio):
    kc = kube_cluster
    e = Env()
    e.kc = kc
    e.ns = ns = kc.namespace("gw")
    kc.kubectl("apply", "-k", os.path.join(ROOT, "config", "crd"))
    kc.kubectl("wait", "--for", "condition=Established", "--timeout", "60s",
               *[f"crd/{p}.{GROUP}" for p in ("ducklakecatalogs", "ducklakepools", "ducklaketables")])
    kc.wait(lambda: subprocess.run([kc.kubectl_bin, "--kubeconfig", kc.kubeconfig, "get", "dlc,dlp", "-n", ns],
                                   capture_output=True).returncode == 0, 30, "CRD discovery")
    creds = {"FEATHERMAN_S3_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "FEATHERMAN_S3_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}
    e.tmp = tempfile.mkdtemp(prefix="fm-gw-")
    e.crs = {}
    for cat in ("lake", "sea"):
        bucket = f"gw-{cat}-{uuid.uuid4().hex[:8]}"
        minio.make_bucket(bucket)
        cr = catalog_cr(cat, minio, bucket)
        e.crs[cat] = cr
        state = os.path.join(e.tmp, cat)
        os.makedirs(state)
        # the catalog and its table, created on the host in the directory the PV points at
        code, msg, err = run_job("init", cr, state=state, extra_env=creds)
        assert code == 0, (msg, err)
        code, msg, err = run_job("ddl", cr, table_cr(cat), state=state, extra_env=creds)
        assert code == 0, (msg, err)
        pv = f"fm-gw-{ns}-{cat}"
        kc.apply(json.dumps({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                                      "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "",
                                      "hostPath": {"path": state},
                                      "claimRef": {"namespace": ns, "name": f"{cat}-metadata"}}}))
        kc.apply(json.dumps({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "metadata": {"name": f"{cat}-metadata"},
                             "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": pv,
                                      "resources": {"requests": {"storage": "1Gi"}}}}), ns)
        kc.apply(json.dumps(cr), ns)
    kc.apply(json.dumps(secret("s3", {"AWS_ACCESS_KEY_ID": MinIO.ACCESS_KEY,
                                      "AWS_SECRET_ACCESS_KEY": MinIO.SECRET_KEY})), ns)
    kc.apply(json.dumps(secret("featherman-internal-token", {"token": INTERNAL})), ns)
    kc.apply(json.dumps(secret("featherman-query-tokens", {"a": TOKEN_A})), ns)
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/v1alpha1", "kind": "DuckLakePool", "metadata": {"name": "lake-pool"},
                         "spec": {"catalogRef": {"name": "lake"}, "minSize": 1, "maxSize": 2,
                                  "queue": {"maxLength": 1, "maxWaitTime": "3s"}, "maxQueryDuration": "4s"}}), ns)
    kc.apply(json.dumps(pool_pod("lake-w1", "lake", "lake-pool", e.crs["lake"])), ns)
    e.pod_ip = {}
    e.wait_pod_ready = lambda name: kc.wait(lambda: _ready_ip(kc, ns, name), 90, f"pod {name} Ready")
    e.pod_ip["lake-w1"] = e.wait_pod_ready("lake-w1")
    port = free_port()
    e.gw = Gateway(["--listen", f"127.0.0.1:{port}", "--namespace", ns, "--kubeconfig", kc.kubeconfig,
                    "--image", "featherman", "--token-refresh-ms", "300", "--fallback-wait-ms", "90000"],
                   TOKEN_A, port, e.tmp)
    try:
        yield e
    finally:
        logs = e.gw.stop(check=False)
        print(logs[-4000:], file=sys.stderr)
        assert e.gw.proc.returncode == 0, f"gateway exited with {e.gw.proc.returncode}:\n{logs[-6000:]}"
        for t in (INTERNAL, TOKEN_A, TOKEN_B):
            assert t not in logs, "a token appeared in the gateway's log"
        kc.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def _ready_ip(kc, ns, name):
    p = kc.core.read_namespaced_pod(name, ns)
    ready = any(c.type == "Ready" and c.status == "True" for c in (p.status.conditions or []))
    return p.status.pod_ip if ready and p.status.pod_ip else None


def pod_status(ip):
    return requests.get(f"http://{ip}:8080/status", timeout=5).json()


def q(e, sql, catalog="lake", **kw):
    return e.gw.query(sql, catalog=catalog, **kw)


def test_formats_through_the_gateway(gw):
    r = q(gw, "INSERT INTO orders SELECT range, CASE WHEN range % 2 = 0 THEN 'nl' ELSE 'de' END FROM range(1000)")
    assert r.status_code == 200, r.text
    assert r.headers["X-Featherman-Pod"] == "lake-w1" and r.headers["X-Featherman-Query-Id"]
    r = q(gw, "SELECT country, count(*) AS n FROM orders GROUP BY country ORDER BY country", fmt="csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv"), r.text
    assert r.text.replace("\r\n", "\n") == "country,n\nde,500\nnl,500\n"
    r = q(gw, "SELECT id FROM orders WHERE id < 3 ORDER BY id", fmt="ndjson")
    assert r.headers["Content-Type"] == "application/x-ndjson"
    assert [json.loads(x) for x in r.text.splitlines()] == [{"id": 0}, {"id": 1}, {"id": 2}]
    r = q(gw, "SELECT * FROM orders ORDER BY id", headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert r.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    t = pa.ipc.open_stream(r.content).read_all()
    assert t.num_rows == 1000 and t.column_names == ["id", "country"]
    # a big streamed result passes through intact
    r = q(gw, "SELECT range AS v FROM range(2000000)", fmt="arrow")
    assert pa.ipc.open_stream(r.content).read_all().column("v").to_pylist()[-1] == 1999999
    # errors of the pod pass through; the gateway's own before any pod
    r = q(gw, "SELEC 1")
    assert r.status_code == 400 and r.json()["error"]["code"], r.text
    assert q(gw, "SELECT 1", catalog="nope").status_code == 404
    r = requests.post(gw.gw.url + "/query", data="{\"sql\":", headers={"Authorization": f"Bearer {TOKEN_A}"}, timeout=10)
    assert r.status_code == 400
    r = requests.post(gw.gw.url + "/query", data=b"x" * (2 << 20), headers={"Authorization": f"Bearer {TOKEN_A}"},
                      timeout=10)
    assert r.status_code == 413
    m = gw.gw.metrics()
    assert metric(m, "featherman_queries_total", 'format="csv",code="200"') >= 1
    assert metric(m, "featherman_queries_total", 'format="arrow",code="200"') >= 2
    assert 'ducklake_pool_query_duration_seconds_count{pool="lake-pool"}' in m
    assert 'ducklake_pool_queue_length{pool="lake-pool"} 0' in m


def test_tokens_are_required_and_rotate_without_restart(gw):
    before = pod_status(gw.pod_ip["lake-w1"])["queriesServed"]
    for tok in (None, "wrong", TOKEN_A + "x", ""):
        h = {"Authorization": f"Bearer {tok}"} if tok is not None else {}
        r = requests.post(gw.gw.url + "/query", json={"sql": "SELECT 1", "catalog": "lake"}, headers=h, timeout=10)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert pod_status(gw.pod_ip["lake-w1"])["queriesServed"] == before  # no pod touched
    # direct calls to a pool pod without the internal token are refused
    for h in ({}, {"Authorization": f"Bearer {TOKEN_A}"}):
        r = requests.post(f"http://{gw.pod_ip['lake-w1']}:8080/query", json={"sql": "SELECT 1"}, headers=h, timeout=10)
        assert r.status_code == 401
    # rotation: add a key, then remove the old one
    kc, ns = gw.kc, gw.ns
    kc.kubectl("patch", "secret", "featherman-query-tokens", "-n", ns, "--type", "merge", "-p",
               json.dumps({"data": {"b": base64.b64encode(TOKEN_B.encode()).decode()}}))
    kc.wait(lambda: q(gw, "SELECT 1", token=TOKEN_B).status_code == 200, 10, "the new token to work")
    assert q(gw, "SELECT 1", token=TOKEN_A).status_code == 200
    kc.kubectl("patch", "secret", "featherman-query-tokens", "-n", ns, "--type", "json", "-p",
               json.dumps([{"op": "remove", "path": "/data/a"}]))
    kc.wait(lambda: q(gw, "SELECT 1", token=TOKEN_A).status_code == 401, 10, "the old token to be refused")
    assert q(gw, "SELECT 1", token=TOKEN_B).status_code == 200
    gw.gw.token = TOKEN_B


def _bg(fn):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("r", fn()))
    th.start()
    return th, out


def _wait_queue(gw, n, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if metric(gw.gw.metrics(), "ducklake_pool_queue_length", 'pool="lake-pool"') == n:
            return
        time.sleep(0.02)
    raise AssertionError(f"queue length never reached {n}")


def _wait_busy(gw, ip, busy, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pod_status(ip)["busy"] == busy:
            return
        time.sleep(0.02)
    raise AssertionError(f"pod {ip} never had busy={busy}")


def test_second_query_waits_in_the_queue_then_runs(gw):
    ip = gw.pod_ip["lake-w1"]
    th1, o1 = _bg(lambda: q(gw, INFINITE, timeout_ms=1500))  # holds the only slot for 1.5 s
    _wait_busy(gw, ip, 1)
    t0 = time.time()
    th2, o2 = _bg(lambda: q(gw, "SELECT 42 AS v", fmt="ndjson"))
    _wait_queue(gw, 1)
    th1.join()
    th2.join()
    assert o1["r"].status_code == 504, o1["r"].text  # the worker's own time limit (timeoutMs) ended it
    assert o2["r"].status_code == 200 and o2["r"].json() == {"v": 42}, o2["r"].text
    assert time.time() - t0 >= 0.8
    m = gw.gw.metrics()
    assert metric(m, "ducklake_pool_wait_duration_seconds_bucket", 'pool="lake-pool",le="0.5"') < \
        metric(m, "ducklake_pool_wait_duration_seconds_count", 'pool="lake-pool"')


def test_queue_full_429_and_max_wait_503(gw):
    ip = gw.pod_ip["lake-w1"]
    th1, o1 = _bg(lambda: q(gw, INFINITE))  # runs into maxQueryDuration (4 s)
    _wait_busy(gw, ip, 1)
    t0 = time.time()
    th2, o2 = _bg(lambda: q(gw, "SELECT 1"))
    _wait_queue(gw, 1)
    r = q(gw, "SELECT 1")  # maxLength 1: full
    assert r.status_code == 429 and r.json()["error"]["code"] == "queue_full", r.text
    th2.join()
    waited = time.time() - t0
    assert o2["r"].status_code == 503, o2["r"].text
    assert 2.5 <= waited < 6, waited  # maxWaitTime 3s
    th1.join()
    # maxQueryDuration: 504 to the client, and the pod is idle again
    assert o1["r"].status_code == 504 and o1["r"].json()["error"]["code"] == "timeout", o1["r"].text
    _wait_busy(gw, ip, 0)
    assert q(gw, "SELECT 7 AS v", fmt="ndjson").json() == {"v": 7}


def test_max_query_duration_on_a_streaming_query_breaks_the_stream(gw):
    ip = gw.pod_ip["lake-w1"]
    r = q(gw, "SELECT range FROM range(100000000000)", stream=True, fmt="csv")
    assert r.status_code == 200
    got, broken = 0, False
    try:
        for chunk in r.iter_content(65536):
            got += len(chunk)
            time.sleep(0.05)  # a slow reader: the stream is still going at maxQueryDuration
    except requests.exceptions.ChunkedEncodingError:
        broken = True
    assert broken and got > 0
    _wait_busy(gw, ip, 0)
    assert q(gw, "SELECT 1").status_code == 200


def test_client_disconnect_frees_the_pod(gw):
    import socket
    ip = gw.pod_ip["lake-w1"]
    body = json.dumps({"sql": INFINITE, "catalog": "lake"}).encode()
    s = socket.create_connection(("127.0.0.1", gw.gw.port))
    s.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + gw.gw.token.encode() +
              b"\r\nContent-Type: application/json\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    _wait_busy(gw, ip, 1)
    s.close()
    t0 = time.time()
    _wait_busy(gw, ip, 0, timeout=3)
    assert time.time() - t0 < 2


def test_pod_killed_mid_query_then_next_query_on_another_pod(gw):
    kc, ns = gw.kc, gw.ns
    kc.apply(json.dumps(pool_pod("lake-w2", "lake", "lake-pool", gw.crs["lake"])), ns)
    gw.pod_ip["lake-w2"] = gw.wait_pod_ready("lake-w2")
    r = q(gw, "SELECT range FROM range(100000000000)", stream=True, fmt="csv")
    assert r.status_code == 200
    victim = r.headers["X-Featherman-Pod"]
    it = r.iter_content(65536)
    next(it)
    os.kill(kc.pod_pid(ns, victim, "featherman"), signal.SIGKILL)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in it:
            pass
    other = "lake-w2" if victim == "lake-w1" else "lake-w1"
    for _ in range(3):
        r = q(gw, "SELECT count(*) AS n FROM orders", fmt="ndjson")
        assert r.status_code == 200 and r.json() == {"n": 1000}, r.text
        assert r.headers["X-Featherman-Pod"] == other


def test_catalog_without_pool_falls_back_to_a_job(gw):
    r = q(gw, "SELECT count(*) AS n FROM orders", catalog="sea", fmt="ndjson", timeout=180)
    assert r.status_code == 200, r.text
    assert r.json() == {"n": 0}
    pod = r.headers["X-Featherman-Pod"]
    assert pod.startswith("sea-query-")
    jobs = gw.kc.batch.list_namespaced_job(gw.ns, label_selector="app.kubernetes.io/component=query-once").items
    assert len(jobs) == 1 and jobs[0].metadata.labels["featherman.dev/catalog"] == "sea"
    spec = jobs[0].spec
    assert spec.ttl_seconds_after_finished and spec.active_deadline_seconds and spec.backoff_limit == 0
    # the one-shot worker exits after its query: the Job completes
    gw.kc.wait(lambda: gw.kc.job_condition(gw.ns, jobs[0].metadata.name) == "Complete", 60, "the Job to complete")


def test_gateway_manifests_are_accepted_by_the_api_server(gw):
    out = gw.kc.kubectl("apply", "--dry-run=server", "-n", gw.ns, "-k", os.path.join(ROOT, "config", "gateway"))
    for kind in ("serviceaccount", "role", "rolebinding", "deployment", "service", "networkpolicy"):
        assert kind in out, out


def test_lock_down_holds_through_the_gateway(gw):
    # the engine's refusals reach the client through the gateway, and nothing changes
    for sql in ["SELECT * FROM read_csv('/etc/passwd')",
                "COPY (SELECT 1) TO '/tmp/fm-gw-escape.csv'",
                "INSTALL sqlite",
                "LOAD postgres_scanner",
                "SET enable_external_access = true",
                "ATTACH '/tmp/fm-gw-other.db' AS other",
                "SELECT * FROM sqlite_scan('/etc/hostname', 'x')",
                "SELECT * FROM read_text('/var/run/secrets/kubernetes.io/serviceaccount/token')"]:
        r = q(gw, sql)
        assert r.status_code in (400, 403), (sql, r.status_code, r.text)
        assert r.json()["error"]["message"], sql
    assert not os.path.exists("/tmp/fm-gw-escape.csv")
    assert q(gw, "SELECT count(*) FROM orders").status_code == 200


def test_gateway_restart_rebuilds_its_view_and_serves(gw):
    old = gw.gw
    logs = old.stop(check=False)
    assert old.proc.returncode == 0, logs[-4000:]
    port = free_port()
    gw.gw = Gateway(["--listen", f"127.0.0.1:{port}", "--namespace", gw.ns, "--kubeconfig", gw.kc.kubeconfig,
                     "--image", "featherman", "--token-refresh-ms", "300", "--fallback-wait-ms", "90000"],
                    old.token, port, gw.tmp)
    r = q(gw, "SELECT count(*) AS n FROM orders", fmt="ndjson")
    assert r.status_code == 200, r.text
    assert r.headers["X-Featherman-Pod"]


def test_gateway_errors_carry_the_standard_headers(gw):
    # the gateway's own answers name the gateway's pod; a pod's answers name that pod
    import socket
    me = os.environ.get("POD_NAME") or socket.gethostname()
    for r in (requests.post(gw.gw.url + "/query", json={"sql": "SELECT 1", "catalog": "lake"}, timeout=10),
              q(gw, "SELECT 1", catalog="nope"),
              requests.get(gw.gw.url + "/nope", timeout=10)):
        assert r.status_code in (401, 404), r.text
        assert r.headers["X-Featherman-Pod"] == me and r.headers["X-Featherman-Query-Id"], r.headers
        assert set(r.json()["error"]) == {"code", "message"}
    r = q(gw, "SELEC 1")
    assert r.status_code == 400 and r.headers["X-Featherman-Pod"].startswith("lake-w"), r.headers
    assert r.headers["X-Featherman-Query-Id"].startswith("q-"), r.headers  # the pod's id passes through


def test_second_gateway_on_a_port_in_use_is_refused(gw):
    p = subprocess.run([binary(), "gateway", "--listen", f"127.0.0.1:{gw.gw.port}", "--namespace", gw.ns,
                        "--kubeconfig", gw.kc.kubeconfig, "--token-refresh-ms", "300"],
                       capture_output=True, text=True, timeout=120, env=env(sandboxed=False))
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert f"cannot listen on 127.0.0.1:{gw.gw.port}: address already in use" in out, out
    assert "LeakSanitizer" not in out, out
    for _ in range(10):  # every query still reaches the first gateway
        assert q(gw, "SELECT 1").status_code == 200


@pytest.mark.parametrize("args, needle", [
    (["--worker-port", "80x"], '--worker-port: expected an integer from 1 to 65535, got "80x"'),
    (["--drain-ms", "-5"], '--drain-ms: expected a duration'),
    (["--max-body", "lots"], '--max-body: expected a size'),
    (["--listen", "nowhere"], '--listen: expected ADDR:PORT, got "nowhere"'),
])
def test_malformed_gateway_flag_is_refused_with_its_name(args, needle):
    # refused before anything starts: no cluster needed
    p = subprocess.run([binary(), "gateway"] + args, capture_output=True, text=True, timeout=60, env=env())
    assert p.returncode == 2, p.stdout + p.stderr
    assert needle in p.stderr, p.stderr
