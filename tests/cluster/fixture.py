"""pytest fixtures for the featherman test cluster (tests/cluster/README.md).

    sys.path.insert(0, <repo>/tests/cluster)
    from fixture import kube_cluster  # noqa: F401  (registers the session fixture)

`kube_cluster` starts the cluster (or reuses a running one in $FEATHERMAN_CLUSTER_DIR), (re)starts
the pod runner with this session's $FEATHERMAN_BIN, and yields a KubeCluster. `kubelet_cluster`
starts (or reuses) the kubelet cluster (`up --kubelet`, state in $FEATHERMAN_KUBELET_CLUSTER_DIR,
default /tmp/featherman-kubelet-cluster) and yields a KubeCluster with `import_image(tarball)`.
At the end of the session each cluster goes down, unless FEATHERMAN_KEEP_CLUSTER=1."""
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster  # noqa: E402


class KubeCluster:
    def __init__(self, info):
        import kubernetes
        self.info = info
        self.kubeconfig = info["kubeconfig"]
        self.server = info["server"]
        self.api_port = info["api_port"]
        self.state = info["state"]
        self.node = info["node"]
        self.kubectl_bin = info["bins"]["kubectl"]
        self.client = kubernetes.config.new_client_from_config(config_file=self.kubeconfig)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.batch = kubernetes.client.BatchV1Api(self.client)
        self.discovery = kubernetes.client.DiscoveryV1Api(self.client)
        self.kubernetes = kubernetes

    # helpers -------------------------------------------------------------------
    def kubectl(self, *args, stdin=None, check=True):
        p = subprocess.run([self.kubectl_bin, "--kubeconfig", self.kubeconfig, *args], input=stdin,
                           capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        return p.stdout

    def apply(self, manifest, namespace=None):
        args = ["apply", "-f", "-"] + (["-n", namespace] if namespace else [])
        return self.kubectl(*args, stdin=manifest)

    def wait(self, fn, timeout=60, what="a condition", interval=0.2):
        """Polls fn() until it returns something truthy (returned); ApiException 404 counts as falsy."""
        deadline = time.time() + timeout
        last_err = None
        while time.time() < deadline:
            try:
                v = fn()
                if v:
                    return v
            except self.kubernetes.client.ApiException as e:
                last_err = e
                if e.status != 404:
                    raise
            time.sleep(interval)
        node_log = "kubelet" if self.info.get("mode") == "kubelet" else "podrunner"
        raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last: {last_err})" if last_err else "")
                             + f"\n--- {node_log} log (tail):\n" + self.log_tail(node_log, 40))

    def log_tail(self, component, n=40):
        try:
            with open(os.path.join(self.state, "logs", f"{component}.log"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def namespace(self, prefix="t"):
        """A fresh namespace whose default service account exists (Pods need it)."""
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.core.create_namespace({"metadata": {"name": name}})
        self.wait(lambda: self.core.read_namespaced_service_account("default", name), 60, f"serviceaccount {name}/default")
        return name

    def pod_dir(self, namespace, pod):
        return os.path.join(self.state, "pods", f"{namespace}_{pod}")

    def pod_root(self, namespace, pod):
        return os.path.join(self.pod_dir(namespace, pod), "root")

    def pod_log(self, namespace, pod, container):
        try:
            with open(os.path.join(self.pod_dir(namespace, pod), f"{container}.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def pod_pid(self, namespace, pod, container):
        try:
            with open(os.path.join(self.pod_dir(namespace, pod), f"{container}.pid")) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def job_condition(self, namespace, name):
        """'Complete' / 'Failed' once the Job finished, else None."""
        j = self.batch.read_namespaced_job_status(name, namespace)
        for c in (j.status.conditions or []):
            if c.type in ("Complete", "Failed") and c.status == "True":
                return c.type
        return None

    def pods_of_job(self, namespace, job):
        return self.core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items

    def runner_log(self):
        return cluster.log_tail("podrunner", 200)


def _runner_env(info):
    env = {"FEATHERMAN_PODRUNNER_ALLOW_HOST_IMAGES": "1", "FEATHERMAN_PODRUNNER_BACKOFF": "1"}
    # Pods of two test clusters on one machine (developers running suites side by side) must not
    # share loopback addresses: each cluster takes its own 127.K.0.0/24, K from its state dir.
    if "FEATHERMAN_POD_IP_PREFIX" not in os.environ:
        import zlib
        env["FEATHERMAN_POD_IP_PREFIX"] = f"127.{1 + zlib.crc32(info['state'].encode()) % 250}.0."
    try:  # the sanitizer options the integration tests give featherman, for featherman in Pods too
        from featherman import SAN_ENV
        env.update({k: v for k, v in SAN_ENV.items() if k not in os.environ})
    except ImportError:
        pass
    return env


@pytest.fixture(scope="session")
def kube_cluster():
    try:
        info = cluster.up(with_runner=False)
        cluster.start_runner(info, env_extra=_runner_env(info))
    except cluster.ClusterError as e:
        pytest.fail(f"the test cluster did not start: {e}", pytrace=False)
    kc = KubeCluster(info)
    kc.ip_prefix = os.environ.get("FEATHERMAN_POD_IP_PREFIX") or _runner_env(info)["FEATHERMAN_POD_IP_PREFIX"]
    kc.wait(lambda: any(c.type == "Ready" and c.status == "True"
                        for c in (kc.core.read_node(kc.node).status.conditions or [])), 30, "the node to be Ready")
    yield kc
    if os.environ.get("FEATHERMAN_KEEP_CLUSTER") == "1":
        print(f"\nkeeping the test cluster: . {os.path.join(info['state'], 'env')}", file=sys.stderr)
        return
    cluster.down(quiet=True)


def dump(obj):
    return json.dumps(obj, indent=1, default=str)


class KubeletCluster(KubeCluster):
    """The kubelet cluster: real Pods of real images, addresses on the node's bridge."""

    def __init__(self, info, env):
        super().__init__(info)
        self.env = env
        self.node_ip = info["node_ip"]

    def cluster_py(self, *args, timeout=600):
        return subprocess.run([sys.executable, os.path.join(cluster.HERE, "cluster.py"), *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def import_image(self, tarball):
        p = self.cluster_py("import-image", tarball)
        if p.returncode != 0:
            raise AssertionError(f"importing {tarball} failed:\n{p.stderr}")


@pytest.fixture(scope="session")
def kubelet_cluster():
    state = os.path.abspath(os.environ.get("FEATHERMAN_KUBELET_CLUSTER_DIR", cluster.KUBELET_STATE))
    env = dict(os.environ, FEATHERMAN_CLUSTER_DIR=state)
    p = subprocess.run([sys.executable, os.path.join(cluster.HERE, "cluster.py"), "up", "--kubelet"], env=env,
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        pytest.fail(f"the kubelet test cluster did not start:\n{p.stderr}", pytrace=False)
    with open(os.path.join(state, "cluster.json")) as f:
        kc = KubeletCluster(json.load(f), env)
    yield kc
    if os.environ.get("FEATHERMAN_KEEP_CLUSTER") == "1":
        print(f"\nkeeping the kubelet test cluster: . {os.path.join(state, 'env')}", file=sys.stderr)
        return
    kc.cluster_py("down")
