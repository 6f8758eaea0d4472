"""The operator under test: the CRDs applied to the test cluster, `featherman operator` running
as a host process with the cluster's admin kubeconfig (leader election on), and helpers to read
custom resources and wait for their conditions. Job and pool Pods run through the pod runner,
which maps the image `featherman` to $FEATHERMAN_BIN."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from featherman import binary, env
from services import ROOT, free_port

GROUP, VERSION = "ducklake.featherman.dev", "v1alpha1"
PLURAL = {"DuckLakeCatalog": "ducklakecatalogs", "DuckLakeTable": "ducklaketables", "DuckLakePool": "ducklakepools"}


class Operator:
    def __init__(self, kc):
        self.kc = kc
        import kubernetes
        self.custom = kubernetes.client.CustomObjectsApi(kc.client)
        kc.kubectl("apply", "-k", os.path.join(ROOT, "config", "crd"))
        for plural in PLURAL.values():
            kc.wait(lambda p=plural: any(c.type == "Established" and c.status == "True" for c in (
                kubernetes.client.ApiextensionsV1Api(kc.client).read_custom_resource_definition(
                    f"{p}.{GROUP}").status.conditions or [])), 60, f"CRD {plural} established")
        self.port = free_port()
        self.log_path = tempfile.mktemp(prefix="fm-operator-", suffix=".log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary(), "operator", "--image", "featherman:test", "--listen", f"127.0.0.1:{self.port}",
             "--lease-namespace", "default"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env(KUBECONFIG=kc.kubeconfig))

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def add_pv(self):
        """One more hostPath PersistentVolume: the cluster starts with a few, and every file-backed
        catalog binds one (retained ones stay bound), so each test catalog brings its own."""
        import uuid
        name = f"fm-test-pv-{uuid.uuid4().hex[:8]}"
        d = os.path.join(self.kc.state, "pv", name)
        os.makedirs(d, exist_ok=True)
        self.kc.core.create_persistent_volume({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                     "hostPath": {"path": d, "type": "DirectoryOrCreate"}}})

    # custom resources ---------------------------------------------------------------
    def create(self, ns, obj):
        if obj["kind"] == "DuckLakeCatalog" and obj["spec"].get("metadata", {}).get("type", "sqlite") != "postgres":
            self.add_pv()
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL[obj["kind"]], obj)

    def get(self, ns, kind, name):
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL[kind], name)

    def patch(self, ns, kind, name, patch):
        return self.custom.patch_namespaced_custom_object(GROUP, VERSION, ns, PLURAL[kind], name, patch)

    def delete(self, ns, kind, name):
        return self.custom.delete_namespaced_custom_object(GROUP, VERSION, ns, PLURAL[kind], name)

    def condition(self, ns, kind, name, ctype):
        obj = self.get(ns, kind, name)
        for c in obj.get("status", {}).get("conditions", []):
            if c["type"] == ctype:
                return c
        return None

    def wait_condition(self, ns, kind, name, ctype, status="True", reason=None, timeout=120):
        def ok():
            c = self.condition(ns, kind, name, ctype)
            return c if c and c["status"] == status and (reason is None or c["reason"] == reason) else None
        try:
            return self.kc.wait(ok, timeout, f"{kind} {ns}/{name} {ctype}={status} {reason or ''}")
        except AssertionError as e:
            obj = self.get(ns, kind, name)
            raise AssertionError(f"{e}\n--- object status:\n{json.dumps(obj.get('status'), indent=1)}\n"
                                 f"--- operator log (tail):\n{self.logs()[-4000:]}") from None

    def wait_gone(self, ns, kind, name, timeout=120):
        import kubernetes

        def gone():
            try:
                self.get(ns, kind, name)
                return False
            except kubernetes.client.ApiException as e:
                return e.status == 404
        self.kc.wait(gone, timeout, f"{kind} {ns}/{name} to be deleted")

    def events(self, ns, name):
        return [e.reason + ": " + (e.message or "") for e in
                self.kc.core.list_namespaced_event(ns, field_selector=f"involvedObject.name={name}").items]


@pytest.fixture(scope="module")
def operator(kube_cluster):
    op = Operator(kube_cluster)
    yield op
    rc = op.stop()
    logs = op.logs()
    assert rc == 0, f"the operator exited with {rc}:\n{logs[-6000:]}"


def s3_secret(name="s3-creds"):
    from services import MinIO
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
            "stringData": {"AWS_ACCESS_KEY_ID": MinIO.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": MinIO.SECRET_KEY}}


def catalog(name, minio, bucket, prefix="lake", metadata=None, **spec):
    s = {"metadata": metadata or {"type": "sqlite"},
         "objectStore": {"endpoint": minio.endpoint, "bucket": bucket, "prefix": prefix, "useSSL": False,
                         "credentialsSecret": {"name": "s3-creds"}},
         "dataInliningRowLimit": 0}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DuckLakeCatalog", "metadata": {"name": name}, "spec": s}


def table(name, catalog_name, columns, **spec):
    s = {"catalogRef": catalog_name, "name": name, "columns": columns}
    s.update(spec)
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "DuckLakeTable", "metadata": {"name": name}, "spec": s}


def wait_for(fn, timeout=60, what="a condition", interval=0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
