"""The operator's memory at rest with 100 custom resources of each kind in its caches (target
≤ 10 MiB; Go operators: 30-130 MiB), and the test cluster's start-up time.

    python3 bench/operator_rss.py [path/to/featherman]

Starts a private test cluster (no pod runner: the objects are paused with the annotation
featherman.dev/reconcile: paused, so the operator caches and reconciles them but starts no Jobs
or Pods), applies the CRDs, creates 100 DuckLakeCatalogs, 100 DuckLakeTables and 100
DuckLakePools, lets the release operator sync and settle, and reads VmRSS / VmHWM from /proc."""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
os.environ.setdefault("FEATHERMAN_CLUSTER_DIR", os.path.join(tempfile.gettempdir(), "fm-bench-cluster"))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
import cluster  # noqa: E402

N = int(os.environ.get("BENCH_CRS", "100"))
PAUSED = {"featherman.dev/reconcile": "paused"}


def proc_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "featherman")
    cluster.down(quiet=True)
    t0 = time.time()
    info = cluster.up(with_runner=False)
    up_cold = time.time() - t0
    t0 = time.time()
    cluster.up(with_runner=False)
    up_reuse = time.time() - t0
    bins = cluster.binaries()
    kube = info["kubeconfig"]

    def kubectl(*args, stdin=None):
        return subprocess.run([bins["kubectl"], "--kubeconfig", kube, *args], input=stdin, capture_output=True,
                              text=True, check=True).stdout

    kubectl("apply", "-k", os.path.join(ROOT, "config", "crd"))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    docs = []
    for i in range(N):
        meta = {"name": f"c{i:03d}", "namespace": "default", "annotations": PAUSED}
        docs.append({"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeCatalog", "metadata": meta,
                     "spec": {"objectStore": {"bucket": f"bucket-{i:03d}", "credentialsSecret": {"name": "s3"}}}})
        docs.append({"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakeTable",
                     "metadata": dict(meta, name=f"t{i:03d}"),
                     "spec": {"catalogRef": f"c{i:03d}", "name": f"t{i:03d}",
                              "columns": [{"name": "id", "type": "BIGINT"}, {"name": "s", "type": "VARCHAR"}]}})
        docs.append({"apiVersion": "ducklake.featherman.dev/v1alpha1", "kind": "DuckLakePool",
                     "metadata": dict(meta, name=f"p{i:03d}"), "spec": {"catalogRef": {"name": f"c{i:03d}"}}})
    kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in docs))
    env = dict(os.environ, KUBECONFIG=kube)
    log = open(os.path.join(tempfile.gettempdir(), "fm-bench-operator.log"), "w")
    p = subprocess.Popen([binary, "operator", "--listen", "127.0.0.1:18081", "--no-leader-elect"], stdout=log,
                         stderr=subprocess.STDOUT, env=env)
    try:
        time.sleep(20)  # sync, reconcile every object once (paused: a status write each), settle
        samples = []
        for _ in range(10):
            samples.append(proc_kib(p.pid, "VmRSS"))
            time.sleep(1)
        hwm = proc_kib(p.pid, "VmHWM")
        anon, file_ = proc_kib(p.pid, "RssAnon"), proc_kib(p.pid, "RssFile")
        threads = proc_kib(p.pid, "Threads")
    finally:
        p.terminate()
        p.wait(30)
        cluster.down(quiet=True)
    samples.sort()
    print(f"test cluster up from an empty state dir: {up_cold:.1f} s; reusing a running one: {up_reuse:.2f} s")
    print(f"operator with {N} catalogs + {N} tables + {N} pools cached: RSS median {samples[len(samples) // 2] / 1024:.1f} "
          f"MiB (min {samples[0] / 1024:.1f}, max {samples[-1] / 1024:.1f}), peak {hwm / 1024:.1f} MiB, {threads} threads; "
          f"anonymous {anon / 1024:.1f} MiB, file-backed {file_ / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
