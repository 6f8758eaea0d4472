"""The install a user makes, on a real node: the kubelet test cluster (tests/cluster/up --kubelet:
kubelet, containerd, runc, CNI bridge, kube-proxy, kube-scheduler) runs the image scripts/image.sh
built, loaded from its tarball. config/crd, config/operator and config/gateway are applied exactly
as shipped (they already name the image the tarball carries), so the operator and the gateway run
as Pods under their own ServiceAccounts and RBAC, with their security contexts, and every Job and
pool Pod the operator makes runs in containerd. MinIO runs on the host, on the node's bridge
address, which Pods reach and nothing outside this machine does.

The flow: a catalog (SQLite metadata on a local PersistentVolume, data in MinIO), a table, a pool
whose Pod turns Ready under the kubelet's probe, rows written and read with a client token through
the gateway's Service (its cluster IP, through kube-proxy), the table materialized to Parquet, and
a catalog without a pool answered by the gateway's fallback Job; then the same for a catalog whose
metadata is in PostgreSQL (on the host, like MinIO). The figures it measures (pool Pod start →
Ready, the steps' times) are printed."""
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import pyarrow.parquet as pq
import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
from fixture import kubelet_cluster  # noqa: E402,F401
from services import ROOT, config, free_port  # noqa: E402

VERSION = open(os.path.join(ROOT, "VERSION")).read().strip()
IMAGE = f"featherman:{VERSION}"
GROUP, CRD_VERSION = "ducklake.featherman.dev", "v1alpha1"
PLURAL = {"DuckLakeCatalog": "ducklakecatalogs", "DuckLakeTable": "ducklaketables", "DuckLakePool": "ducklakepools"}
TOKEN = "client-" + uuid.uuid4().hex
S3_KEY, S3_SECRET = "featherman-e2e", "featherman-e2e-secret-1234"
FIGURES = {}


def figure(name, value):
    FIGURES[name] = value
    print(f"\nfigure: {name} = {value}", file=sys.stderr)


class HostMinIO:
    """MinIO on the node's bridge address: reachable from Pods (their route to the node) and from here."""

    def __init__(self, host):
        self.dir = tempfile.mkdtemp(prefix="fm-e2e-minio-")
        self.endpoint = f"{host}:{free_port()}"
        env = dict(os.environ, MINIO_ROOT_USER=S3_KEY, MINIO_ROOT_PASSWORD=S3_SECRET, MINIO_BROWSER="off",
                   MINIO_UPDATE="off", CI="true")
        self.log = open(os.path.join(self.dir, "minio.log"), "w")
        self.proc = subprocess.Popen([config()["MINIO_BIN"], "server", os.path.join(self.dir, "data"), "--address",
                                      self.endpoint, "--console-address", f"127.0.0.1:{free_port()}", "--quiet"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            assert self.proc.poll() is None, f"MinIO exited: {open(self.log.name).read()}"
            try:
                urllib.request.urlopen(f"http://{self.endpoint}/minio/health/ready", timeout=1)
                break
            except OSError:
                assert time.time() < deadline, "MinIO did not become ready"
                time.sleep(0.2)

    def client(self):
        import boto3
        from botocore.config import Config
        return boto3.client("s3", endpoint_url=f"http://{self.endpoint}", aws_access_key_id=S3_KEY,
                            aws_secret_access_key=S3_SECRET, region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"}))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(kubelet_cluster):
    kc = kubelet_cluster
    t = time.time()
    p = subprocess.run(["nice", os.path.join(ROOT, "scripts", "image.sh")], capture_output=True, text=True, timeout=3600)
    assert p.returncode == 0, p.stdout + p.stderr
    built = dict(line.split("=", 1) for line in p.stdout.splitlines() if "=" in line)
    figure("image build (scripts/image.sh)", f"{time.time() - t:.1f}s")
    t = time.time()
    kc.import_image(built["TARBALL"])
    figure("image import into containerd", f"{time.time() - t:.1f}s")
    import kubernetes
    kc.custom = kubernetes.client.CustomObjectsApi(kc.client)
    kc.apps = kubernetes.client.AppsV1Api(kc.client)
    kc.coord = kubernetes.client.CoordinationV1Api(kc.client)
    return kc


@pytest.fixture(scope="module")
def minio(cluster):
    m = HostMinIO(cluster.node_ip)
    yield m
    m.stop()


class HostPostgres:
    """PostgreSQL on the node's bridge address, admitting password logins from the Pod subnet."""
    USER, PASSWORD = "featherman", "pg-e2e-secret"

    def __init__(self, host, subnet):
        self.host, self.port = host, free_port()
        self.dir = tempfile.mkdtemp(prefix="fm-e2e-pg-")
        pgbin, data, pw = config()["PG_BIN"], os.path.join(self.dir, "data"), os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(self.PASSWORD)
        run_as = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.dir, "postgres")
            os.chmod(self.dir, 0o755)
            shutil.chown(pw, "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        subprocess.run(run_as + [f"{pgbin}/initdb", "-D", data, "-U", self.USER, "--pwfile", pw, "-A", "scram-sha-256",
                                 "--no-sync"], check=True, capture_output=True)
        with open(os.path.join(data, "pg_hba.conf"), "a") as f:
            f.write(f"host all all {subnet} scram-sha-256\n")
        self.proc = subprocess.Popen(run_as + [f"{pgbin}/postgres", "-D", data, "-p", str(self.port), "-h", host,
                                               "-k", self.dir, "-c", "fsync=off"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "pg.log"), "w"))
        deadline = time.time() + 60
        while self.psql("SELECT 1", check=False).returncode != 0:
            assert self.proc.poll() is None and time.time() < deadline, open(os.path.join(self.dir, "pg.log")).read()
            time.sleep(0.2)

    def psql(self, sql, check=True, db="postgres"):
        return subprocess.run([f"{config()['PG_BIN']}/psql", "-h", self.host, "-p", str(self.port), "-U", self.USER,
                               "-d", db, "-v", "ON_ERROR_STOP=1", "-tAc", sql], check=check, capture_output=True,
                              text=True, env=dict(os.environ, PGPASSWORD=self.PASSWORD))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres(cluster):
    pg = HostPostgres(cluster.node_ip, cluster.info["pod_subnet"])
    yield pg
    pg.stop()


def client_namespace(kc, prefix):
    """A namespace with the S3 credentials and client token Secrets a user creates first."""
    ns = kc.namespace(prefix)
    kc.kubectl("create", "secret", "generic", "s3-credentials", "-n", ns,
               f"--from-literal=AWS_ACCESS_KEY_ID={S3_KEY}", f"--from-literal=AWS_SECRET_ACCESS_KEY={S3_SECRET}")
    kc.kubectl("create", "secret", "generic", "featherman-query-tokens", "-n", ns, f"--from-literal=alice={TOKEN}")
    return ns


def install_gateway(kc, ns):
    """config/gateway as shipped into ns; returns the query URL on the Service's cluster IP (kube-proxy; no DNS here)."""
    kc.kubectl("apply", "-n", ns, "-k", os.path.join(ROOT, "config", "gateway"))
    deployment_ready(kc, ns, "featherman-gateway")
    for p in component_pods(kc, ns, "gateway"):
        assert p.spec.service_account_name == "featherman-gateway" and p.spec.containers[0].image == IMAGE
    svc = kc.core.read_namespaced_service("featherman-query", ns)
    return f"http://{svc.spec.cluster_ip}:{svc.spec.ports[0].port}/query"


def post_query(url, sql, catalog, fmt="ndjson", token=TOKEN, timeout=120):
    return requests.post(url, json={"sql": sql, "catalog": catalog, "format": fmt},
                         headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def pool_spec(catalog_name):
    return {"catalogRef": {"name": catalog_name}, "minSize": 1, "maxSize": 2,
            "template": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                                       "limits": {"cpu": "1", "memory": "1Gi"}}}}


def get(kc, ns, kind, name):
    return kc.custom.get_namespaced_custom_object(GROUP, CRD_VERSION, ns, PLURAL[kind], name)


def condition(kc, ns, kind, name, ctype):
    for c in get(kc, ns, kind, name).get("status", {}).get("conditions", []):
        if c["type"] == ctype:
            return c
    return None


def wait_condition(kc, ns, kind, name, ctype, timeout=240):
    def ok():
        c = condition(kc, ns, kind, name, ctype)
        return c if c and c["status"] == "True" else None
    try:
        return kc.wait(ok, timeout, f"{kind} {ns}/{name} {ctype}=True")
    except AssertionError as e:
        raise AssertionError(f"{e}\n--- status: {json.dumps(get(kc, ns, kind, name).get('status'), indent=1)}\n"
                             f"--- operator logs:\n{operator_logs(kc)[-4000:]}") from None


def deployment_ready(kc, ns, name, timeout=240):
    def ok():
        d = kc.apps.read_namespaced_deployment(name, ns)
        return d if (d.status.ready_replicas or 0) == d.spec.replicas and d.status.updated_replicas == d.spec.replicas \
            else None
    try:
        return kc.wait(ok, timeout, f"deployment {ns}/{name} ready")
    except AssertionError as e:
        pods = kc.kubectl("get", "pods", "-n", ns, "-o", "wide")
        raise AssertionError(f"{e}\n{pods}\n{kc.kubectl('describe', 'deployment', name, '-n', ns)}") from None


def component_pods(kc, ns, component):
    return [p for p in kc.core.list_namespaced_pod(ns, label_selector=f"app.kubernetes.io/component={component}").items
            if not p.metadata.deletion_timestamp]


def operator_logs(kc):
    return kc.kubectl("logs", "-n", "featherman-system", "-l", "app.kubernetes.io/component=operator",
                      "--tail=-1", "--prefix", check=False)


def ready(pod):
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def test_the_shipped_manifests_name_the_image_the_build_makes():
    for f in ("config/operator/deployment.yaml", "config/gateway/deployment.yaml"):
        text = open(os.path.join(ROOT, f)).read()
        assert f"image: {IMAGE}" in text, f"{f} does not run {IMAGE}"
        other = {w for w in text.replace('"', " ").split() if w.startswith("featherman:")} - {IMAGE}
        assert not other, f"{f} names other images: {other}"


@pytest.fixture(scope="module")
def installed(cluster):
    """config/crd and config/operator applied as shipped; the operator's Deployment Ready."""
    kc = cluster
    kc.kubectl("apply", "-k", os.path.join(ROOT, "config", "crd"))
    kc.kubectl("wait", "--for=condition=Established", "--timeout=60s", *[f"crd/{p}.{GROUP}" for p in PLURAL.values()])
    existed = kc.kubectl("get", "deployment", "featherman-operator", "-n", "featherman-system", "--ignore-not-found",
                         "-o", "name").strip()
    kc.kubectl("apply", "-k", os.path.join(ROOT, "config", "operator"))
    if existed:  # a kept cluster: the same tag now names the image just imported
        kc.kubectl("rollout", "restart", "deployment/featherman-operator", "-n", "featherman-system")
        kc.kubectl("rollout", "status", "deployment/featherman-operator", "-n", "featherman-system", "--timeout=240s")
    t = time.time()
    deployment_ready(kc, "featherman-system", "featherman-operator")
    figure("operator Deployment applied → 2/2 Ready", f"{time.time() - t:.1f}s")
    return kc


def test_operator_installs_from_config_as_shipped(installed):
    kc = installed
    pods = component_pods(kc, "featherman-system", "operator")
    assert len(pods) == 2
    for p in pods:
        assert p.spec.service_account_name == "featherman-operator"
        assert p.spec.containers[0].image == IMAGE
        assert p.spec.security_context.run_as_user == 65532
        assert p.spec.containers[0].security_context.read_only_root_filesystem
        assert p.status.pod_ip.startswith("10.244.0.")
    # one leader, the other one standing by (the standby has its own address and health port)
    lease = kc.wait(lambda: kc.coord.read_namespaced_lease("featherman-operator", "featherman-system"), 60, "the Lease")
    assert lease.spec.holder_identity.rsplit("-", 1)[0] in {p.metadata.name for p in pods}, lease.spec.holder_identity
    logs = operator_logs(kc)
    assert "forbidden" not in logs.lower(), logs[-4000:]


def test_catalog_tables_pool_and_queries_through_the_gateway_service(installed, minio):
    kc = installed
    ns = client_namespace(kc, "e2e")
    bucket = f"e2e-{uuid.uuid4().hex[:8]}"
    minio.client().create_bucket(Bucket=bucket)

    # catalog → table, each made by a Job of the image
    t = time.time()
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeCatalog", "metadata": {"name": "lake"},
                         "spec": {"objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "lake/",
                                                  "useSSL": False, "credentialsSecret": {"name": "s3-credentials"}}}}), ns)
    columns = [{"name": "id", "type": "INTEGER", "nullable": False}, {"name": "name", "type": "VARCHAR"},
               {"name": "country", "type": "VARCHAR"}, {"name": "created_at", "type": "TIMESTAMP"}]
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeTable", "metadata": {"name": "users"},
                         "spec": {"catalogRef": "lake", "name": "users", "columns": columns,
                                  "format": {"compression": "ZSTD", "partitioning": ["day(created_at)"]}}}), ns)
    wait_condition(kc, ns, "DuckLakeCatalog", "lake", "Ready")
    wait_condition(kc, ns, "DuckLakeTable", "users", "Ready")
    figure("catalog + table applied → Ready (two Jobs)", f"{time.time() - t:.1f}s")

    # the gateway, as shipped, into this namespace
    url = install_gateway(kc, ns)

    # the pool: its Pod turns Ready only if the kubelet's probe reaches the worker
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakePool", "metadata": {"name": "pool"},
                         "spec": pool_spec("lake")}), ns)
    sel = "app.kubernetes.io/component=pool-worker,featherman.dev/pool=pool"
    pod = kc.wait(lambda: next(iter(kc.core.list_namespaced_pod(ns, label_selector=sel).items), None), 120, "a pool Pod")
    seen = time.time()
    try:
        pod = kc.wait(lambda: next((p for p in kc.core.list_namespaced_pod(ns, label_selector=sel).items if ready(p)),
                                   None), 180, "the pool Pod to be Ready", interval=0.05)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{kc.kubectl('describe', 'pods', '-n', ns, '-l', sel)}") from None
    observed = time.time() - seen
    ready_at = next(c.last_transition_time for c in pod.status.conditions if c.type == "Ready")
    figure("pool Pod created → Ready (API timestamps, 1 s resolution)",
           f"{(ready_at - pod.metadata.creation_timestamp).total_seconds():.0f}s")
    figure("pool Pod first listed → Ready observed (polled every 50 ms)", f"{observed:.2f}s")
    c = pod.spec.containers[0]
    assert c.args[c.args.index("--listen") + 1] == "$(POD_IP):8080"
    assert pod.status.pod_ip.startswith("10.244.0.")
    wait_condition(kc, ns, "DuckLakePool", "pool", "Ready")
    pdb = json.loads(kc.kubectl("get", "pdb", "pool", "-n", ns, "-o", "json"))  # policy/v1 under the operator's RBAC
    assert pdb["spec"]["minAvailable"] == 1, pdb

    # a client's queries through the gateway's Service
    def query(sql, fmt="ndjson", token=TOKEN):
        return post_query(url, sql, "lake", fmt, token)
    r = query("INSERT INTO users SELECT range, 'user' || range, CASE WHEN range % 3 = 0 THEN 'nl' ELSE 'de' END, "
              "TIMESTAMP '2026-01-01' + INTERVAL (range % 4) DAY FROM range(300)")
    assert r.status_code == 200, r.text
    assert r.headers.get("X-Featherman-Pod") == pod.metadata.name
    r = query("SELECT country, count(*) AS n FROM users GROUP BY country ORDER BY country")
    assert r.status_code == 200, r.text
    assert [json.loads(x) for x in r.text.splitlines()] == [{"country": "de", "n": 200}, {"country": "nl", "n": 100}]
    times = []
    for _ in range(20):
        t = time.time()
        r = query("SELECT count(*) AS n FROM users WHERE country = 'nl'")
        times.append(time.time() - t)
        assert r.status_code == 200 and json.loads(r.text) == {"n": 100}, r.text
    figure("query through the Service to a warm pool Pod (median of 20)", f"{sorted(times)[10] * 1000:.0f} ms")
    assert query("SELECT 1", token="wrong").status_code == 401

    # materialization of the table, as config/samples/ducklaketable.yaml does it
    mat = {"enabled": True, "sql": "SELECT country, COUNT(*) AS cnt FROM users GROUP BY country ORDER BY country",
           "destination": {"bucket": bucket, "prefix": "top_users/"}, "format": {"type": "parquet", "compression": "ZSTD"}}
    kc.custom.patch_namespaced_custom_object(GROUP, CRD_VERSION, ns, "ducklaketables", "users",
                                             {"spec": {"materializeTo": mat}})
    t = time.time()
    wait_condition(kc, ns, "DuckLakeTable", "users", "Materialized")
    figure("materialization (a Job) → Materialized", f"{time.time() - t:.1f}s")
    lm = get(kc, ns, "DuckLakeTable", "users")["status"]["lastMaterialization"]
    key = lm["location"][len(f"s3://{bucket}/"):]
    body = minio.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert pq.read_table(io.BytesIO(body)).to_pylist() == [{"country": "de", "cnt": 200}, {"country": "nl", "cnt": 100}]

    # a catalog without a pool: the gateway's fallback, a one-off Job it creates under its own RBAC
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeCatalog", "metadata": {"name": "cold"},
                         "spec": {"objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "cold/",
                                                  "useSSL": False, "credentialsSecret": {"name": "s3-credentials"}}}}), ns)
    wait_condition(kc, ns, "DuckLakeCatalog", "cold", "Ready")
    t = time.time()
    r = post_query(url, "SELECT 42 AS answer", "cold", timeout=300)
    assert r.status_code == 200 and json.loads(r.text) == {"answer": 42}, r.text
    figure("query on a catalog without a pool (fallback Job)", f"{time.time() - t:.1f}s")
    once = kc.core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/component=query-once").items
    assert once and r.headers.get("X-Featherman-Pod") in {p.metadata.name for p in once}

    # nobody was refused anything: the shipped RBAC covers what the roles did
    gw_logs = kc.kubectl("logs", "-n", ns, "-l", "app.kubernetes.io/component=gateway", "--tail=-1", check=False)
    for who, logs in (("operator", operator_logs(kc)), ("gateway", gw_logs)):
        assert "forbidden" not in logs.lower(), f"{who}:\n{logs[-4000:]}"
    internal = base64.b64decode(kc.core.read_namespaced_secret("featherman-internal-token", ns).data["token"]).decode()
    assert internal and TOKEN not in gw_logs and internal not in gw_logs


def test_a_postgres_catalog_and_its_pool(installed, minio, postgres):
    """Metadata in Postgres (on the host, reached from Pods over the bridge): no volume, the pool
    Pod keeps its state in an emptyDir."""
    kc = installed
    ns = client_namespace(kc, "e2e-pg")
    bucket = f"e2e-pg-{uuid.uuid4().hex[:8]}"
    minio.client().create_bucket(Bucket=bucket)
    db = f"lakes_{uuid.uuid4().hex[:6]}"
    postgres.psql(f'CREATE DATABASE "{db}"')
    kc.kubectl("create", "secret", "generic", "pg-password", "-n", ns, f"--from-literal=password={postgres.PASSWORD}")
    meta = {"type": "postgres", "host": postgres.host, "port": postgres.port, "database": db, "schema": "sales",
            "user": postgres.USER, "passwordSecret": {"name": "pg-password"}, "sslMode": "disable"}
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeCatalog", "metadata": {"name": "sales"},
                         "spec": {"metadata": meta,
                                  "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "sales/",
                                                  "useSSL": False, "credentialsSecret": {"name": "s3-credentials"}}}}), ns)
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeTable", "metadata": {"name": "orders"},
                         "spec": {"catalogRef": "sales", "name": "orders",
                                  "columns": [{"name": "id", "type": "BIGINT"}, {"name": "amount", "type": "DOUBLE"}]}}), ns)
    wait_condition(kc, ns, "DuckLakeTable", "orders", "Ready")
    assert not kc.core.list_namespaced_persistent_volume_claim(ns).items  # Postgres metadata: no volume
    url = install_gateway(kc, ns)
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakePool", "metadata": {"name": "pool"},
                         "spec": pool_spec("sales")}), ns)
    wait_condition(kc, ns, "DuckLakePool", "pool", "Ready")
    r = post_query(url, "INSERT INTO orders SELECT range, range * 1.5 FROM range(10)", "sales")
    assert r.status_code == 200, r.text
    r = post_query(url, "SELECT count(*) AS n, sum(amount) AS total FROM orders", "sales")
    assert r.status_code == 200 and json.loads(r.text) == {"n": 10, "total": 67.5}, r.text
    assert r.headers.get("X-Featherman-Pod", "").startswith("pool-")
    # the metadata landed in Postgres, in the catalog's schema
    tables = postgres.psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sales'", db=db)
    assert int(tables.stdout) > 0
    # a Postgres catalog without a pool: the fallback Job's worker keeps its state in an emptyDir too
    meta["schema"] = "archive"
    kc.apply(json.dumps({"apiVersion": f"{GROUP}/{CRD_VERSION}", "kind": "DuckLakeCatalog", "metadata": {"name": "archive"},
                         "spec": {"metadata": meta,
                                  "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": "archive/",
                                                  "useSSL": False, "credentialsSecret": {"name": "s3-credentials"}}}}), ns)
    wait_condition(kc, ns, "DuckLakeCatalog", "archive", "Ready")
    r = post_query(url, "SELECT 7 AS seven", "archive", timeout=300)
    assert r.status_code == 200 and json.loads(r.text) == {"seven": 7}, r.text
    for who, logs in (("operator", operator_logs(kc)),
                      ("gateway", kc.kubectl("logs", "-n", ns, "-l", "app.kubernetes.io/component=gateway",
                                             "--tail=-1", check=False))):
        assert "forbidden" not in logs.lower(), f"{who}:\n{logs[-4000:]}"


# --- the kubelet cluster's own refusals ----------------------------------------------------------

def cluster_py(*args, **env):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tests", "cluster", "cluster.py"), *args],
                          env=dict(os.environ, **env), capture_output=True, text=True, timeout=300)


def test_a_second_kubelet_cluster_on_the_machine_is_refused(cluster, tmp_path):
    other = str(tmp_path / "other")
    p = cluster_py("up", "--kubelet", FEATHERMAN_CLUSTER_DIR=other)
    assert p.returncode == 1
    assert f"another kubelet test cluster runs on this machine (state {cluster.state})" in p.stderr, p.stderr
    assert cluster.core.read_node(cluster.node).metadata.name == cluster.node  # the running one is untouched


def test_the_modes_do_not_mix_in_one_state_dir(cluster):
    p = cluster_py("up", FEATHERMAN_CLUSTER_DIR=cluster.state)
    assert p.returncode == 1
    assert "holds a kubelet cluster, not a pod runner one" in p.stderr, p.stderr


def test_import_image_names_what_is_missing(cluster, tmp_path):
    p = cluster_py("import-image", str(tmp_path / "nope.tar"), FEATHERMAN_CLUSTER_DIR=cluster.state)
    assert p.returncode == 1 and f"image tarball missing: {tmp_path / 'nope.tar'}" in p.stderr, p.stderr
    p = cluster_py("import-image", str(tmp_path / "nope.tar"), FEATHERMAN_CLUSTER_DIR=str(tmp_path / "none"))
    assert p.returncode == 1 and f"no kubelet cluster at {tmp_path / 'none'}" in p.stderr, p.stderr


def test_a_missing_node_binary_is_named(cluster, tmp_path):
    bins = tmp_path / "bin"
    bins.mkdir()
    for b in ("kube-apiserver", "kube-controller-manager", "kubectl"):
        (bins / b).symlink_to(cluster.info["bins"][b])
    p = cluster_py("up", "--kubelet", FEATHERMAN_CLUSTER_DIR=str(tmp_path / "state"), FEATHERMAN_K8S_BIN_DIR=str(bins))
    assert p.returncode == 1
    assert f"kubelet binary missing at {bins / 'kubelet'}: run scripts/bootstrap.sh --test" in p.stderr, p.stderr
