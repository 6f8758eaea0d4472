"""Starting the real featherman binary for tests: `featherman local` on a directory of manifests,
`featherman worker serve` / `worker job`. The binary is $FEATHERMAN_BIN (the test command points
it at the AddressSanitizer + UBSan build), else build/featherman."""
import json
import os
import signal
import subprocess
import tempfile
import textwrap
import time

import requests

from services import ROOT, free_port

# LeakSanitizer cannot check a Landlock-confined process: without LANDLOCK_RESTRICT_SELF_TSYNC
# (kernel ABI < 8) every thread is confined in a domain of its own, and LSan's tracer may not
# ptrace threads of another domain, so it cannot suspend them and reports false leaks. Confined
# processes therefore run with detect_leaks=0; test_leaks.py checks the same roles unconfined.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:exitcode=66:abort_on_error=0",
    "LSAN_OPTIONS": "print_suppressions=0",  # suppressions are compiled in (src/base/san_defaults.c)
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
}


def binary():
    return os.environ.get("FEATHERMAN_BIN", os.path.join(ROOT, "build", "featherman"))


def env(sandboxed=False, **extra):
    e = dict(os.environ)
    e.update(SAN_ENV)
    e.update({k: str(v) for k, v in extra.items() if v is not None})
    if sandboxed and not e.get("FEATHERMAN_NO_SANDBOX"):
        e["ASAN_OPTIONS"] = e["ASAN_OPTIONS"].replace("detect_leaks=1", "detect_leaks=0")
    return e


class Server:
    """A running query server (local or worker serve) with a client for its API."""

    def __init__(self, args, token, port, state, extra_env=None, expect_ready=True):
        self.token, self.port, self.state = token, port, state
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = os.path.join(state, "featherman.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary()] + args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env(sandboxed="--no-sandbox" not in args, **(extra_env or {})))
        if expect_ready:
            self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"featherman exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise TimeoutError("featherman did not become ready:\n" + self.logs())

    def logs(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def query(self, sql, fmt=None, catalog=None, token=None, timeout_ms=None, headers=None, stream=False, **kw):
        body = {"sql": sql}
        if fmt:
            body["format"] = fmt
        if catalog:
            body["catalog"] = catalog
        if timeout_ms:
            body["timeoutMs"] = timeout_ms
        h = {"Authorization": f"Bearer {token or self.token}"}
        h.update(headers or {})
        return requests.post(self.url + "/query", json=body, headers=h, stream=stream, timeout=kw.get("timeout", 120))

    def status(self):
        """GET /status, which needs the server's own token"""
        r = requests.get(self.url + "/status", headers={"Authorization": f"Bearer {self.token}"}, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def rows(self, sql, catalog=None):
        r = self.query(sql, fmt="ndjson", catalog=catalog)
        assert r.status_code == 200, r.text
        return [json.loads(line) for line in r.text.splitlines() if line]

    def stop(self, check=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        logs = self.logs()
        if check:
            assert self.proc.returncode == 0, f"featherman exited with {self.proc.returncode}:\n{logs[-6000:]}"
            assert self.token not in logs, "the token appeared in the logs"
        return logs


def write_manifests(directory, text):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "lake.yaml"), "w") as f:
        f.write(textwrap.dedent(text))


def start_local(manifests_text, token="test-token-0123456789", state=None, args=(), extra_env=None, expect_ready=True):
    state = state or tempfile.mkdtemp(prefix="fm-local-")
    mdir = os.path.join(state, "manifests")
    write_manifests(mdir, manifests_text)
    port = free_port()
    return Server(["local", "--manifests", mdir, "--state", os.path.join(state, "state"),
                   "--listen", f"127.0.0.1:{port}"] + list(args), token, port, state,
                  extra_env=dict(FEATHERMAN_TOKEN=token, **(extra_env or {})), expect_ready=expect_ready)


def run_local_expect_failure(manifests_text, timeout=60):
    """featherman local on manifests that must be refused: returns (exit code, output)."""
    state = tempfile.mkdtemp(prefix="fm-bad-")
    mdir = os.path.join(state, "manifests")
    write_manifests(mdir, manifests_text)
    p = subprocess.run([binary(), "local", "--manifests", mdir, "--state", os.path.join(state, "state"),
                        "--listen", f"127.0.0.1:{free_port()}"], capture_output=True, text=True, timeout=timeout,
                       env=env(FEATHERMAN_TOKEN="t"))
    return p.returncode, p.stdout + p.stderr


def run_job(op, catalog_doc, table_doc=None, state=None, extra_env=None):
    state = state or tempfile.mkdtemp(prefix="fm-job-")
    cat = os.path.join(state, "catalog.json")
    with open(cat, "w") as f:
        json.dump(catalog_doc, f)
    args = [binary(), "worker", "job", op, "--catalog-spec", cat, "--state", state]
    if table_doc is not None:
        tab = os.path.join(state, "table.json")
        with open(tab, "w") as f:
            json.dump(table_doc, f)
        args += ["--table-spec", tab]
    term = os.path.join(state, "termination-log")
    p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       env=env(sandboxed=op == "materialize", FEATHERMAN_TERMINATION_LOG=term, **(extra_env or {})))
    with open(term) as f:
        message = json.loads(f.read())
    return p.returncode, message, p.stderr
