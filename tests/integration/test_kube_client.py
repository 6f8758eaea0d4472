"""The C Kubernetes client (src/kube/) against the real API server of the test cluster
(tests/cluster/README.md): CRUD with 409/404/422 mapping, pagination, server-side apply, the
status subresource, watches (re-watch, bookmarks, relist on 410 Gone), the informer, Events,
in-cluster config with a real ServiceAccount token, and Lease leader election between processes.

The C side lives in tests/unit/test_kube_live.c: tests named kube_live_* in the unit-test binary,
inert unless FM_KUBE_LIVE_NS is set. They run in the AddressSanitizer + UBSan build."""
import base64
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from featherman import SAN_ENV  # noqa: E402
from services import ROOT  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
from fixture import kube_cluster  # noqa: E402,F401  (the session fixture)

UNIT = os.path.join(ROOT, "build", "asan", "unit_tests")


@pytest.fixture(scope="module")
def ns(kube_cluster):
    return kube_cluster.namespace("kc")


def live_env(kube_cluster, namespace, **extra):
    e = dict(os.environ)
    e.update(SAN_ENV)
    for k in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "FEATHERMAN_SA_DIR", "FEATHERMAN_ROOT"):
        e.pop(k, None)
    e["KUBECONFIG"] = kube_cluster.kubeconfig
    e["FM_KUBE_LIVE_NS"] = namespace
    e.update({k: str(v) for k, v in extra.items()})
    return e


def run_live(name, env, timeout=180):
    assert os.path.exists(UNIT), "build/asan/unit_tests is missing: run make asan"
    p = subprocess.run([UNIT, name], capture_output=True, text=True, env=env, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-6000:]
    assert p.stdout.strip().splitlines()[-1] == "1 passed, 0 failed", out[-6000:]
    assert "  live: " in p.stderr, "the live test did not run:\n" + out[-6000:]
    return out


@pytest.mark.parametrize("name", ["kube_live_crud", "kube_live_status_subresource", "kube_live_watch",
                                  "kube_live_informer_and_events"])
def test_client(kube_cluster, ns, name):
    out = run_live(name, live_env(kube_cluster, ns))
    assert "failed:" not in out, out[-6000:]


def test_in_cluster_config(kube_cluster):
    """A "pod" of ours: in-cluster config from a service-account directory with a real bound
    token, the CA and the namespace; RBAC lets it edit its own namespace only."""
    namespace = kube_cluster.namespace("kci")
    kube_cluster.kubectl("create", "serviceaccount", "fm-kube-test", "-n", namespace)
    kube_cluster.kubectl("create", "rolebinding", "fm-kube-test-edit", "--clusterrole=edit",
                         f"--serviceaccount={namespace}:fm-kube-test", "-n", namespace)
    token = kube_cluster.kubectl("create", "token", "fm-kube-test", "-n", namespace).strip()
    ca_data = kube_cluster.kubectl("config", "view", "--raw", "--minify", "-o",
                                   "jsonpath={.clusters[0].cluster.certificate-authority-data}").strip()
    if ca_data:
        ca = base64.b64decode(ca_data)
    else:
        with open(kube_cluster.kubectl("config", "view", "--raw", "--minify", "-o",
                                       "jsonpath={.clusters[0].cluster.certificate-authority}").strip(), "rb") as f:
            ca = f.read()
    with tempfile.TemporaryDirectory() as sa:
        for name, data in (("token", token.encode()), ("ca.crt", ca), ("namespace", namespace.encode())):
            with open(os.path.join(sa, name), "wb") as f:
                f.write(data)
        env = live_env(kube_cluster, namespace, FEATHERMAN_SA_DIR=sa, KUBERNETES_SERVICE_HOST="127.0.0.1",
                       KUBERNETES_SERVICE_PORT=kube_cluster.api_port)
        env.pop("KUBECONFIG")
        run_live("kube_live_in_cluster", env)


class Candidate:
    """One leader-election process (kube_live_leader_proc) and the lines it prints."""

    def __init__(self, kube_cluster, namespace, ident, tmp):
        self.ident = ident
        self.stop_file = os.path.join(tmp, f"stop-{ident}")
        self.lines = queue.Queue()
        self.seen = []
        self.proc = subprocess.Popen([UNIT, "kube_live_leader_proc"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env=live_env(kube_cluster, namespace, FM_KUBE_LEADER_ID=ident,
                                                  FM_KUBE_LEADER_STOP=self.stop_file))
        self.stderr = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line.strip())

    def _pump_err(self):
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_line(self, text, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.seen:
                return True
            try:
                self.seen.append(self.lines.get(timeout=0.1))
            except queue.Empty:
                pass
        return text in self.seen

    def drain(self):
        while True:
            try:
                self.seen.append(self.lines.get_nowait())
            except queue.Empty:
                return self.seen

    def stop(self):
        open(self.stop_file, "w").close()
        rc = self.proc.wait(timeout=30)
        assert rc == 0, "".join(self.stderr)[-4000:]

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=10)

    def log(self):
        return "\n".join(self.drain()) + "\n" + "".join(self.stderr)[-3000:]


def lease(kube_cluster, namespace):
    return json.loads(kube_cluster.kubectl("get", "lease", "fm-test-leader", "-n", namespace, "-o", "json"))["spec"]


def test_leader_election_two_processes(kube_cluster):
    """4 s lease / 3 s renew deadline / 0.5 s retry: one leader at a time, a release hands over at
    once, a crashed leader's lease is taken over only after it expires."""
    namespace = kube_cluster.namespace("kcl")
    with tempfile.TemporaryDirectory() as tmp:
        a = Candidate(kube_cluster, namespace, "a", tmp)
        b = c = None
        try:
            assert a.wait_line("leading a", 30), a.log()
            b = Candidate(kube_cluster, namespace, "b", tmp)
            assert b.wait_line("candidate b", 30), b.log()
            assert not b.wait_line("leading b", 6), "two leaders at once:\n" + b.log()
            spec = lease(kube_cluster, namespace)
            assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 4
            transitions = spec.get("leaseTransitions", 0)

            t0 = time.time()
            a.stop()  # releases the lease
            assert "released a" in a.drain()
            assert b.wait_line("leading b", 10), b.log()
            assert time.time() - t0 < 4, "a released lease should not have to expire first"
            spec = lease(kube_cluster, namespace)
            assert spec["holderIdentity"] == "b"
            assert spec["leaseTransitions"] == transitions + 1

            c = Candidate(kube_cluster, namespace, "c", tmp)
            assert c.wait_line("candidate c", 30), c.log()
            time.sleep(1)
            b.kill()  # a crash: no release
            t0 = time.time()
            assert c.wait_line("leading c", 20), c.log()
            waited = time.time() - t0
            assert waited >= 2, f"took over a live-looking lease after {waited:.1f}s"
            assert lease(kube_cluster, namespace)["holderIdentity"] == "c"
            c.stop()
            assert lease(kube_cluster, namespace)["holderIdentity"] == ""
        finally:
            for cand in (a, b, c):
                if cand and cand.proc.poll() is None:
                    cand.kill()
