#!/usr/bin/env python3
"""The test-only pod runner: a tiny kubelet + scheduler for the featherman test cluster.

It registers one Node, keeps its Lease fresh, binds every unscheduled Pod to that node and runs
the containers of the Pods bound to it as local processes. The contract the featherman binary
sees (paths, env, addresses) is described in tests/cluster/README.md. Test tooling, not product.

Configuration (env): FEATHERMAN_CLUSTER_DIR (the state dir `cluster.py up` made),
FEATHERMAN_BIN (what images matching *featherman* run), FEATHERMAN_NODE_NAME,
FEATHERMAN_POD_IP_PREFIX (default 127.0.0.), FEATHERMAN_PODRUNNER_ALLOW_HOST_IMAGES=1 (tests
only: image "busybox-test" runs the command as a host executable), FEATHERMAN_PODRUNNER_BACKOFF
(first restart back-off in seconds, default 10, doubling up to 300), FEATHERMAN_PODRUNNER_PASSENV
(comma-separated extra variables handed from the runner's env to every container).
"""
import base64
import datetime
import fnmatch
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import requests
import urllib3

STATE = os.path.abspath(os.environ.get("FEATHERMAN_CLUSTER_DIR", "/tmp/featherman-cluster"))
NODE = os.environ.get("FEATHERMAN_NODE_NAME", "featherman-node")
IP_PREFIX = os.environ.get("FEATHERMAN_POD_IP_PREFIX", "127.0.0.")
ALLOW_HOST_IMAGES = os.environ.get("FEATHERMAN_PODRUNNER_ALLOW_HOST_IMAGES") == "1"
HOST_IMAGE = "busybox-test"
BACKOFF = float(os.environ.get("FEATHERMAN_PODRUNNER_BACKOFF", "10"))
PASSENV = ["ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS", "LANG", "TZ", "FEATHERMAN_EXTENSION_DIR"] + \
    [v for v in os.environ.get("FEATHERMAN_PODRUNNER_PASSENV", "").split(",") if v]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
LEASE_SECONDS = 40
RENEW_EVERY = 10

log = logging.getLogger("podrunner")


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def featherman_bin():
    return os.path.abspath(os.environ.get("FEATHERMAN_BIN", os.path.join(
        os.path.dirname(__file__), "..", "..", "build", "featherman")))


# --- API access --------------------------------------------------------------------------------

class Api:
    def __init__(self, info):
        self.base = info["server"]
        self.port = info["api_port"]
        self.s = requests.Session()
        self.s.trust_env = False  # never a proxy for 127.0.0.1
        self.s.verify = info["ca"]
        self.s.cert = (info["admin_cert"], info["admin_key"])

    def req(self, method, path, body=None, ctype="application/json", ok=(200, 201, 202), **params):
        r = self.s.request(method, self.base + path, params=params or None,
                           data=None if body is None else json.dumps(body),
                           headers={"Content-Type": ctype}, timeout=30)
        if r.status_code not in ok:
            raise ApiError(r.status_code, f"{method} {path}: {r.status_code} {r.text[:500]}")
        return r.json() if r.content else {}

    def get(self, path, **params):
        return self.req("GET", path, **params)

    def get_opt(self, path):
        try:
            return self.get(path)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    def post(self, path, body, **kw):
        return self.req("POST", path, body, **kw)

    def merge_patch(self, path, body):
        return self.req("PATCH", path, body, ctype="application/merge-patch+json")

    def delete(self, path, body=None, ok=(200, 202, 404, 409)):
        return self.req("DELETE", path, body, ok=ok)

    def watch(self, path, rv):
        r = self.s.get(self.base + path, params={"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                                                 "timeoutSeconds": "240"}, stream=True, timeout=(10, 300))
        if r.status_code == 410:
            raise ApiError(410, "gone")
        if r.status_code != 200:
            raise ApiError(r.status_code, r.text[:300])
        try:
            for line in r.iter_lines():
                if line:
                    yield json.loads(line)
        finally:
            r.close()


class ApiError(Exception):
    def __init__(self, code, msg):
        super().__init__(msg)
        self.code = code


# --- pod IPs -----------------------------------------------------------------------------------

class IpPool:
    def __init__(self):
        self.lock = threading.Lock()
        self.used = {}  # ip -> pod uid
        self.next = 2

    def take(self, uid, prefer=None):
        with self.lock:
            for ip, owner in self.used.items():
                if owner == uid:
                    return ip
            if prefer and prefer.startswith(IP_PREFIX) and prefer not in self.used:
                self.used[prefer] = uid  # a Pod this runner (or its predecessor) started keeps its address
                return prefer
            for _ in range(253):
                n = self.next
                self.next = 2 if self.next >= 254 else self.next + 1
                ip = f"{IP_PREFIX}{n}"
                if ip not in self.used:
                    self.used[ip] = uid
                    return ip
            raise RuntimeError("no free pod address left")

    def release(self, uid):
        with self.lock:
            for ip in [i for i, o in self.used.items() if o == uid]:
                del self.used[ip]


# --- a container's process -----------------------------------------------------------------------

class ConfigError(Exception):
    """A container cannot be started yet or at all: reason + message as the kubelet reports them."""

    def __init__(self, reason, message, fatal=False):
        super().__init__(message)
        self.reason, self.message, self.fatal = reason, message, fatal


def resolve_image(image, command, args):
    """Returns the argv to run, or raises ConfigError(ErrImagePull/RunContainerError)."""
    name = image.split("@")[0]
    repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    if fnmatch.fnmatch(repo, "*featherman*"):
        binary = featherman_bin()
        if not os.access(binary, os.X_OK):
            raise ConfigError("ErrImagePull", f"image {image!r} maps to FEATHERMAN_BIN={binary}, which is not an "
                              "executable (build featherman first)", fatal=True)
        if command:
            if os.path.basename(command[0]) not in ("featherman", "kubectl-featherman"):
                raise ConfigError("RunContainerError", f"exec: {command[0]!r}: executable file not found in image "
                                  f"{image!r} (the featherman image holds only /featherman)", fatal=True)
            return [binary] + list(command[1:]) + list(args or [])
        return [binary] + list(args or [])
    if ALLOW_HOST_IMAGES and repo.rsplit("/", 1)[-1] == HOST_IMAGE:
        argv = list(command or []) + list(args or [])
        if not argv:
            raise ConfigError("RunContainerError", f"image {image!r} has no entrypoint: give a command", fatal=True)
        exe = shutil.which(argv[0])
        if not exe:
            raise ConfigError("RunContainerError", f"exec: {argv[0]!r}: executable file not found", fatal=True)
        return [exe] + argv[1:]
    raise ConfigError("ErrImagePull", f"image {image!r} is not available in the featherman test cluster: only images "
                      "matching *featherman* run (as $FEATHERMAN_BIN)", fatal=True)


def expand(value, env):
    """Kubernetes $(VAR) expansion; $$ escapes."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", sub, value)


class Container:
    def __init__(self, pod, spec, init=False):
        self.pod, self.spec, self.name, self.init = pod, spec, spec["name"], init
        self.proc = None
        self.started_at = None
        self.restart_count = 0
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.ready = False
        self.next_start = 0.0
        self.backoff = BACKOFF
        self.probe = {"ready": Probe(spec.get("readinessProbe")), "live": Probe(spec.get("livenessProbe")),
                      "startup": Probe(spec.get("startupProbe"))}
        self.done = False  # terminated and never restarted again
        self.log_path = os.path.join(pod.dir, f"{self.name}.log")
        self.pid_path = os.path.join(pod.dir, f"{self.name}.pid")
        self.term_file = None

    def start(self, argv, env, cwd):
        tm = self.spec.get("terminationMessagePath") or "/dev/termination-log"
        self.term_file = self.pod.host_path(tm)
        os.makedirs(os.path.dirname(self.term_file), exist_ok=True)
        open(self.term_file, "w").close()
        logf = open(self.log_path, "ab")
        logf.write(f"--- {now()} start #{self.restart_count}: {' '.join(argv)}\n".encode())
        logf.flush()
        try:
            self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as e:
            logf.close()
            raise ConfigError("RunContainerError", f"cannot start {argv[0]}: {e}")
        logf.close()
        with open(self.pid_path, "w") as f:
            f.write(str(self.proc.pid))
        self.started_at = now()
        self.state = {"running": {"startedAt": self.started_at}}
        self.ready = False
        for p in self.probe.values():
            p.reset()
        log.info("%s/%s: started %s (pid %d)", self.pod.key, self.name, argv[0], self.proc.pid)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def reap(self):
        """If the process ended: record its terminated state and return True."""
        if self.proc is None or self.proc.poll() is None:
            return False
        code = self.proc.returncode
        if code < 0:
            code = 128 - code
        # the process group may have children left: end them with it
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        msg = self.termination_message(code)
        term = {"exitCode": code, "reason": "Completed" if code == 0 else "Error", "startedAt": self.started_at,
                "finishedAt": now(), "containerID": f"featherman://{self.proc.pid}"}
        if msg:
            term["message"] = msg
        self.state = {"terminated": term}
        self.ready = False
        log.info("%s/%s: exited with %d", self.pod.key, self.name, code)
        self.proc = None
        return True

    def termination_message(self, code):
        msg = ""
        try:
            with open(self.term_file, "rb") as f:
                msg = f.read(4096).decode("utf-8", "replace")
        except OSError:
            pass
        if not msg and code != 0 and self.spec.get("terminationMessagePolicy") == "FallbackToLogsOnError":
            try:
                with open(self.log_path, "rb") as f:
                    f.seek(0, 2)
                    f.seek(max(0, f.tell() - 2048))
                    lines = f.read().decode("utf-8", "replace").splitlines()
                msg = "\n".join(ln for ln in lines[-80:] if not ln.startswith("--- "))
            except OSError:
                pass
        return msg

    def status(self):
        st = {"name": self.name, "image": self.spec.get("image", ""), "imageID": f"featherman-local://{self.spec.get('image', '')}",
              "ready": bool(self.ready), "restartCount": self.restart_count, "state": self.state,
              "started": "running" in self.state}
        if self.last_state:
            st["lastState"] = self.last_state
        if "running" in self.state or "terminated" in self.state:
            st["containerID"] = self.state.get("terminated", {}).get("containerID") or \
                (f"featherman://{self.proc.pid}" if self.proc else "featherman://0")
        return st


class Probe:
    def __init__(self, spec):
        self.spec = spec
        self.reset()

    def reset(self):
        self.ok = None
        self.successes = self.failures = 0
        self.next = 0.0
        self.armed_at = time.time()

    def due(self):
        if not self.spec:
            return False
        t = time.time()
        if t < self.armed_at + self.spec.get("initialDelaySeconds", 0) or t < self.next:
            return False
        self.next = t + self.spec.get("periodSeconds", 10)
        return True

    def run(self, container, pod):
        s = self.spec
        timeout = s.get("timeoutSeconds", 1)
        ok = False
        try:
            if "httpGet" in s:
                h = s["httpGet"]
                host = h.get("host") or pod.ip
                port = pod.port_number(container, h.get("port"))
                scheme = h.get("scheme", "HTTP").lower()
                headers = {x["name"]: x["value"] for x in h.get("httpHeaders", [])}
                with requests.Session() as sess:
                    sess.trust_env = False
                    r = sess.get(f"{scheme}://{host}:{port}{h.get('path', '/')}", headers=headers, timeout=timeout,
                                 verify=False, allow_redirects=False)
                ok = 200 <= r.status_code < 400
            elif "tcpSocket" in s:
                t = s["tcpSocket"]
                with socket.create_connection((t.get("host") or pod.ip, pod.port_number(container, t.get("port"))),
                                              timeout=timeout):
                    ok = True
            elif "exec" in s:
                argv = resolve_image(container.spec.get("image", ""), s["exec"].get("command"), None)
                ok = subprocess.run(argv, env=pod.env_cache.get(container.name), cwd=pod.rootfs, timeout=timeout,
                                    capture_output=True).returncode == 0
            else:
                ok = True  # grpc probes: not supported, treated as passing
        except Exception:  # noqa: BLE001 - a failing probe is a result, not an error
            ok = False
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= s.get("successThreshold", 1):
                self.ok = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= s.get("failureThreshold", 3):
                self.ok = False
        return self.ok


# --- a pod ---------------------------------------------------------------------------------------

class PodWorker(threading.Thread):
    def __init__(self, runner, pod):
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.r, self.api = runner, runner.api
        self.pod = pod
        self.ns, self.pname, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.key = f"{self.ns}/{self.pname}"
        self.dir = os.path.join(STATE, "pods", f"{self.ns}_{self.pname}")
        self.rootfs = os.path.join(self.dir, "root")
        self.ip = None
        self.deleting = threading.Event()
        self.update = threading.Event()
        self.env_cache = {}
        spec = pod["spec"]
        self.policy = spec.get("restartPolicy", "Always")
        self.inits = [Container(self, c, init=True) for c in spec.get("initContainers", [])]
        self.containers = [Container(self, c) for c in spec.get("containers", [])]
        self.phase = "Pending"
        self.reason = self.message = None
        self.start_time = None
        self.last_status = None
        self.failed_status, self.retry_at = None, 0.0
        self.finished = False

    # paths -----------------------------------------------------------------
    def host_path(self, container_path):
        return os.path.join(self.rootfs, container_path.lstrip("/"))

    def port_number(self, container, port):
        if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
            return int(port)
        for p in container.spec.get("ports", []):
            if p.get("name") == port:
                return p["containerPort"]
        raise ValueError(f"no port named {port}")

    # volumes ---------------------------------------------------------------
    def write_files(self, d, files, mode):
        """files: list of (relative path, bytes, mode or None)."""
        os.makedirs(d, exist_ok=True)
        for rel, data, m in files:
            p = os.path.join(d, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, m if m is not None else mode)

    def key_files(self, data, items, optional, what):
        """data: key -> bytes. items: optional [{key, path, mode}]."""
        if items:
            out = []
            for it in items:
                if it["key"] not in data:
                    if optional:
                        continue
                    raise ConfigError("CreateContainerConfigError", f"{what}: key {it['key']!r} not found")
                out.append((it["path"], data[it["key"]], it.get("mode")))
            return out
        return [(k, v, None) for k, v in data.items()]

    def source_data(self, kind, name, optional):
        if kind == "secret":
            obj = self.api.get_opt(f"/api/v1/namespaces/{self.ns}/secrets/{name}")
            if obj is None:
                if optional:
                    return {}
                raise ConfigError("CreateContainerConfigError", f"secret {name!r} not found")
            return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        obj = self.api.get_opt(f"/api/v1/namespaces/{self.ns}/configmaps/{name}")
        if obj is None:
            if optional:
                return {}
            raise ConfigError("CreateContainerConfigError", f"configmap {name!r} not found")
        d = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
        d.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        return d

    def field_value(self, path):
        m = self.pod["metadata"]
        simple = {"metadata.name": m["name"], "metadata.namespace": m["namespace"], "metadata.uid": m["uid"],
                  "spec.nodeName": NODE, "spec.serviceAccountName": self.pod["spec"].get("serviceAccountName", "default"),
                  "status.podIP": self.ip, "status.podIPs": self.ip, "status.hostIP": "127.0.0.1",
                  "status.hostIPs": "127.0.0.1"}
        if path in simple:
            return simple[path]
        mm = re.match(r"metadata\.(labels|annotations)\['([^']+)'\]$", path)
        if mm:
            return (m.get(mm.group(1)) or {}).get(mm.group(2), "")
        if path in ("metadata.labels", "metadata.annotations"):
            return "\n".join(f'{k}="{v}"' for k, v in sorted((m.get(path.split(".")[1]) or {}).items()))
        raise ConfigError("CreateContainerConfigError", f"unsupported fieldRef {path!r}", fatal=True)

    def resource_value(self, ref):
        cname = ref.get("containerName")
        c = next((c for c in self.pod["spec"]["containers"] if not cname or c["name"] == cname), {})
        res = c.get("resources", {})
        kind, what = ref["resource"].split(".", 1)
        v = (res.get(kind) or {}).get(what) or (res.get("limits") or {}).get(what, "0")
        return str(v)

    def sa_token(self, audience=None, expiration=3607):
        sa = self.pod["spec"].get("serviceAccountName") or "default"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": expiration,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.pname, "uid": self.uid}}}
        if audience:
            body["spec"]["audiences"] = [audience]
        try:
            r = self.api.post(f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token", body)
        except ApiError as e:
            raise ConfigError("CreateContainerConfigError", f"token for service account {sa!r}: {e}")
        return r["status"]["token"].encode()

    def volume_dir(self, vol):
        """Materializes one volume; returns its host directory (or file path for hostPath files)."""
        name = vol["name"]
        d = os.path.join(self.dir, "volumes", name)
        if "emptyDir" in vol:
            os.makedirs(d, exist_ok=True)
            return d
        if "hostPath" in vol:
            p = vol["hostPath"]["path"]
            if vol["hostPath"].get("type") in ("DirectoryOrCreate", None, "") and not os.path.exists(p):
                os.makedirs(p, exist_ok=True)
            return p
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            pvc = self.api.get_opt(f"/api/v1/namespaces/{self.ns}/persistentvolumeclaims/{claim}")
            if pvc is None:
                raise ConfigError("CreateContainerConfigError", f"persistentvolumeclaim {claim!r} not found")
            pvname = pvc["spec"].get("volumeName")
            if not pvname or pvc.get("status", {}).get("phase") != "Bound":
                raise ConfigError("ContainerCreating", f"persistentvolumeclaim {claim!r} is not bound yet")
            pv = self.api.get(f"/api/v1/persistentvolumes/{pvname}")
            hp = (pv["spec"].get("hostPath") or pv["spec"].get("local") or {}).get("path")
            if not hp:
                raise ConfigError("CreateContainerConfigError", f"persistent volume {pvname} has no hostPath", fatal=True)
            os.makedirs(hp, exist_ok=True)
            return hp
        mode = None
        if "secret" in vol:
            s = vol["secret"]
            data = self.source_data("secret", s["secretName"], s.get("optional", False))
            mode = s.get("defaultMode", 0o644)
            files = self.key_files(data, s.get("items"), s.get("optional", False), f"secret {s['secretName']!r}")
        elif "configMap" in vol:
            c = vol["configMap"]
            data = self.source_data("configmap", c["name"], c.get("optional", False))
            mode = c.get("defaultMode", 0o644)
            files = self.key_files(data, c.get("items"), c.get("optional", False), f"configmap {c['name']!r}")
        elif "downwardAPI" in vol:
            mode = vol["downwardAPI"].get("defaultMode", 0o644)
            files = self.downward_files(vol["downwardAPI"].get("items", []))
        elif "projected" in vol:
            mode = vol["projected"].get("defaultMode", 0o644)
            files = []
            for src in vol["projected"].get("sources", []):
                if "serviceAccountToken" in src:
                    t = src["serviceAccountToken"]
                    files.append((t["path"], self.sa_token(t.get("audience"), t.get("expirationSeconds", 3607)), None))
                elif "configMap" in src:
                    c = src["configMap"]
                    data = self.source_data("configmap", c["name"], c.get("optional", False))
                    files += self.key_files(data, c.get("items"), c.get("optional", False), f"configmap {c['name']!r}")
                elif "secret" in src:
                    s = src["secret"]
                    data = self.source_data("secret", s["name"], s.get("optional", False))
                    files += self.key_files(data, s.get("items"), s.get("optional", False), f"secret {s['name']!r}")
                elif "downwardAPI" in src:
                    files += self.downward_files(src["downwardAPI"].get("items", []))
        else:
            raise ConfigError("CreateContainerConfigError", f"volume {name!r}: unsupported volume type", fatal=True)
        shutil.rmtree(d, ignore_errors=True)
        self.write_files(d, files, mode)
        return d

    def downward_files(self, items):
        out = []
        for it in items:
            if "fieldRef" in it:
                v = self.field_value(it["fieldRef"]["fieldPath"])
            else:
                v = self.resource_value(it["resourceFieldRef"])
            out.append((it["path"], str(v).encode(), it.get("mode")))
        return out

    def mount_volumes(self):
        vols = {}
        for v in self.pod["spec"].get("volumes", []):
            vols[v["name"]] = self.volume_dir(v)
        for c in self.inits + self.containers:
            for m in c.spec.get("volumeMounts", []):
                if m["name"] not in vols:
                    raise ConfigError("CreateContainerConfigError", f"volumeMount {m['name']!r}: no such volume", fatal=True)
                src = vols[m["name"]]
                if m.get("subPath"):
                    src = os.path.join(src, m["subPath"])
                    if not os.path.exists(src):
                        os.makedirs(src, exist_ok=True)
                dst = self.host_path(m["mountPath"])
                if os.path.islink(dst) or os.path.isfile(dst):
                    os.unlink(dst)
                elif os.path.isdir(dst):
                    shutil.rmtree(dst)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                os.symlink(src, dst)

    # env ---------------------------------------------------------------------
    def container_env(self, c):
        api_port = str(self.api.port)
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.rootfs,
               "HOSTNAME": self.pname}
        for k in PASSENV:
            if k in os.environ:
                env[k] = os.environ[k]
        env.update({"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": api_port,
                    "KUBERNETES_SERVICE_PORT_HTTPS": api_port, "KUBERNETES_PORT": f"tcp://127.0.0.1:{api_port}",
                    "FEATHERMAN_ROOT": self.rootfs, "POD_IP": self.ip, "POD_NAME": self.pname,
                    "POD_NAMESPACE": self.ns})
        if any(m["mountPath"].rstrip("/") == SA_DIR for m in c.spec.get("volumeMounts", [])):
            env["FEATHERMAN_SA_DIR"] = self.host_path(SA_DIR)  # = $FEATHERMAN_ROOT + SA_DIR, for convenience
        for ef in c.spec.get("envFrom", []):
            prefix = ef.get("prefix", "")
            if "configMapRef" in ef:
                ref = ef["configMapRef"]
                data = self.source_data("configmap", ref["name"], ref.get("optional", False))
            else:
                ref = ef["secretRef"]
                data = self.source_data("secret", ref["name"], ref.get("optional", False))
            for k, v in data.items():
                env[prefix + k] = v.decode("utf-8", "replace")
        for e in c.spec.get("env", []):
            if "value" in e:
                env[e["name"]] = expand(e["value"], env)
                continue
            vf = e.get("valueFrom")
            if not vf:
                env[e["name"]] = ""
                continue
            if "fieldRef" in vf:
                env[e["name"]] = str(self.field_value(vf["fieldRef"]["fieldPath"]))
            elif "resourceFieldRef" in vf:
                env[e["name"]] = self.resource_value(vf["resourceFieldRef"])
            else:
                kind, ref = ("secret", vf["secretKeyRef"]) if "secretKeyRef" in vf else ("configmap", vf["configMapKeyRef"])
                optional = ref.get("optional", False)
                data = self.source_data(kind, ref["name"], optional)
                if ref["key"] in data:
                    env[e["name"]] = data[ref["key"]].decode("utf-8", "replace")
                elif not optional:
                    raise ConfigError("CreateContainerConfigError", f"couldn't find key {ref['key']} in {kind} "
                                      f"{self.ns}/{ref['name']}")
        self.env_cache[c.name] = env
        return env

    def start_container(self, c):
        argv = resolve_image(c.spec.get("image", ""), c.spec.get("command"), c.spec.get("args"))
        env = self.container_env(c)
        argv = [argv[0]] + [expand(a, env) for a in argv[1:]]
        cwd = self.host_path(c.spec["workingDir"]) if c.spec.get("workingDir") else self.rootfs
        os.makedirs(cwd, exist_ok=True)
        c.start(argv, env, cwd)

    # status --------------------------------------------------------------------
    def conditions(self, cur):
        old = {c["type"]: c for c in (cur.get("status", {}).get("conditions") or [])}
        all_c = self.inits + self.containers
        initialized = all(c.done and "terminated" in c.state and c.state["terminated"]["exitCode"] == 0 for c in self.inits)
        cready = bool(self.containers) and all(c.ready for c in self.containers) and self.phase == "Running"
        want = {"PodReadyToStartContainers": self.ip is not None, "Initialized": initialized,
                "ContainersReady": cready, "Ready": cready}
        out = [old["PodScheduled"]] if "PodScheduled" in old else []
        for t, v in want.items():
            s = "True" if v else "False"
            o = old.get(t)
            c = {"type": t, "status": s,
                 "lastTransitionTime": o["lastTransitionTime"] if o and o.get("status") == s and o.get("lastTransitionTime") else now(),
                 "lastProbeTime": None}
            if not v and t in ("ContainersReady", "Ready"):
                notready = [x.name for x in self.containers if not x.ready]
                if self.phase in ("Succeeded", "Failed"):
                    c["reason"] = "PodCompleted"
                elif notready:
                    c["reason"] = "ContainersNotReady"
                    c["message"] = f"containers with unready status: [{' '.join(notready)}]"
            if not v and t == "Initialized" and self.inits:
                c["reason"] = "ContainersNotInitialized"
            out.append(c)
        del all_c
        return out

    def write_status(self, force=False):
        cur = self.r.pods.get(self.uid) or self.pod
        st = {"phase": self.phase, "hostIP": "127.0.0.1", "hostIPs": [{"ip": "127.0.0.1"}],
              "conditions": self.conditions(cur),
              "containerStatuses": [c.status() for c in self.containers]}
        if self.inits:
            st["initContainerStatuses"] = [c.status() for c in self.inits]
        if self.ip:
            st["podIP"] = self.ip
            st["podIPs"] = [{"ip": self.ip}]
        if self.start_time:
            st["startTime"] = self.start_time
        st["reason"] = self.reason
        st["message"] = self.message
        comparable = json.dumps({k: v for k, v in st.items() if k != "conditions"}, sort_keys=True) + \
            json.dumps([(c["type"], c["status"]) for c in st["conditions"]])
        if comparable == self.last_status and not force:
            return
        if comparable == self.failed_status and time.time() < self.retry_at:
            return  # the same update failed a moment ago: retry it at most every 2 s
        try:
            self.api.merge_patch(f"/api/v1/namespaces/{self.ns}/pods/{self.pname}/status", {"status": st})
            self.last_status = comparable
        except ApiError as e:
            if e.code == 404:
                self.deleting.set()
                return
            if comparable != self.failed_status:
                log.warning("%s: status update failed: %s", self.key, e)
            self.failed_status, self.retry_at = comparable, time.time() + 2

    def compute_phase(self):
        cs = self.containers
        if self.phase in ("Succeeded", "Failed"):
            return
        if any(c.running() for c in cs):
            self.phase = "Running"
            return
        if cs and all(c.done for c in cs):
            codes = [c.state["terminated"]["exitCode"] for c in cs]
            self.phase = "Succeeded" if all(x == 0 for x in codes) else "Failed"
        elif self.phase == "Running" and all("terminated" in c.state or "waiting" in c.state for c in cs):
            self.phase = "Running"  # restarting (back-off): stays Running as with a kubelet

    # lifecycle -----------------------------------------------------------------
    def fail(self, reason, message, container=None):
        """A container that can never start: the Pod fails with the kubelet's reason."""
        log.info("%s: failing: %s: %s", self.key, reason, message)
        for c in self.inits + self.containers:
            if c is container or (container is None and not c.done):
                c.state = {"waiting": {"reason": reason, "message": message}}
                c.done = True
        self.phase, self.reason, self.message = "Failed", reason, message
        self.write_status()

    def after_exit(self, c):
        """Decides about a container that just ended."""
        code = c.state["terminated"]["exitCode"]
        restart = self.policy == "Always" or (self.policy == "OnFailure" and code != 0)
        if c.init and code == 0:
            restart = False
        if not restart:
            c.done = True
            return
        c.last_state = {"terminated": c.state["terminated"]}
        c.restart_count += 1
        delay = c.backoff
        c.backoff = min(c.backoff * 2, 300)
        c.next_start = time.time() + delay
        c.state = {"waiting": {"reason": "CrashLoopBackOff",
                               "message": f"back-off {int(delay)}s restarting failed container={c.name} pod={self.pname}"}}

    def stop_all(self, grace):
        live = [c for c in self.inits + self.containers if c.running()]
        for c in live:
            c.signal(signal.SIGTERM)
        deadline = time.time() + grace
        while time.time() < deadline and any(c.running() for c in live):
            time.sleep(0.05)
        for c in live:
            if c.running():
                log.info("%s/%s: grace period over, SIGKILL", self.key, c.name)
                c.signal(signal.SIGKILL)
        for c in live:
            if c.proc:
                try:
                    c.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
                c.reap()
                c.done = True

    def prepare(self):
        uid_file = os.path.join(self.dir, ".uid")
        if os.path.exists(uid_file):
            with open(uid_file) as f:
                if f.read().strip() != self.uid:
                    shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.rootfs, exist_ok=True)
        with open(uid_file, "w") as f:
            f.write(self.uid)
        self.ip = "127.0.0.1" if self.pod["spec"].get("hostNetwork") else self.r.ips.take(self.uid, (self.pod.get("status") or {}).get("podIP"))
        self.start_time = now()
        self.started = time.time()
        for c in self.inits + self.containers:  # image check first: a bad image fails fast
            resolve_image(c.spec.get("image", ""), c.spec.get("command"), None)
        self.mount_volumes()

    def run(self):
        try:
            self.loop()
        except Exception as e:  # noqa: BLE001
            log.exception("%s: pod worker crashed", self.key)
            try:
                self.stop_all(2)
                self.fail("RunnerError", f"featherman pod runner: {e}")
            except Exception:  # noqa: BLE001
                pass
        finally:
            self.finished = True

    def loop(self):
        # 1. volumes and image checks; configuration errors are retried until they clear
        while True:
            if self.deleting.is_set():
                return self.finish_delete()
            try:
                self.prepare()
                break
            except ConfigError as e:
                if e.fatal:
                    self.fail(e.reason, e.message)
                    return self.wait_delete()
                for c in self.inits + self.containers:
                    c.state = {"waiting": {"reason": e.reason, "message": e.message}}
                self.write_status()
                self.deleting.wait(2)
        if self.inits:
            for c in self.containers:
                c.state = {"waiting": {"reason": "PodInitializing"}}
        self.write_status()
        # 2. init containers, one after the other
        for c in self.inits:
            while not c.done:
                if self.deleting.is_set():
                    return self.finish_delete()
                if not c.running() and time.time() >= c.next_start and "running" not in c.state:
                    try:
                        self.start_container(c)
                    except ConfigError as e:
                        if e.fatal:
                            self.fail(e.reason, e.message, c)
                            return self.wait_delete()
                        c.state = {"waiting": {"reason": e.reason, "message": e.message}}
                        c.next_start = time.time() + 2
                    self.write_status()
                if c.reap():
                    self.after_exit(c)
                    if c.done and c.state.get("terminated", {}).get("exitCode", 0) != 0:
                        self.phase = "Failed"
                        self.write_status()
                        return self.wait_delete()
                    self.write_status()
                self.deleting.wait(0.1)
        # 3. the containers
        while True:
            if self.deleting.is_set():
                return self.finish_delete()
            for c in self.containers:
                if c.done:
                    continue
                if c.reap():
                    self.after_exit(c)
                elif not c.running() and time.time() >= c.next_start:
                    try:
                        self.start_container(c)
                    except ConfigError as e:
                        if e.fatal:
                            self.stop_all(self.grace())
                            self.fail(e.reason, e.message, c)
                            return self.wait_delete()
                        c.state = {"waiting": {"reason": e.reason, "message": e.message}}
                        c.next_start = time.time() + 2
                if c.running():
                    self.probe(c)
            self.compute_phase()
            deadline = self.pod["spec"].get("activeDeadlineSeconds")
            if deadline and self.phase not in ("Succeeded", "Failed") and time.time() - self.started > deadline:
                log.info("%s: active deadline of %ss exceeded", self.key, deadline)
                self.stop_all(self.grace())
                self.phase, self.reason = "Failed", "DeadlineExceeded"
                self.message = f"Pod was active on the node longer than the specified deadline ({deadline}s)"
            self.write_status()
            if self.phase in ("Succeeded", "Failed"):
                self.r.ips.release(self.uid)
                return self.wait_delete()
            self.deleting.wait(0.1)

    def probe(self, c):
        st = c.probe["startup"]
        if st.spec and st.ok is not True:
            if st.due():
                st.run(c, self)
            if st.ok is False:
                self.kill_unhealthy(c, "startup")
            return
        lv = c.probe["live"]
        if lv.spec and lv.due() and lv.run(c, self) is False:
            self.kill_unhealthy(c, "liveness")
            return
        rd = c.probe["ready"]
        if not rd.spec:
            c.ready = True
        elif rd.due():
            c.ready = bool(rd.run(c, self))

    def kill_unhealthy(self, c, which):
        log.info("%s/%s: %s probe failed, restarting", self.key, c.name, which)
        c.signal(signal.SIGTERM)
        deadline = time.time() + self.grace()
        while time.time() < deadline and c.running():
            time.sleep(0.05)
        c.signal(signal.SIGKILL)

    def grace(self):
        cur = self.r.pods.get(self.uid) or self.pod
        g = cur["metadata"].get("deletionGracePeriodSeconds")
        if g is None:
            g = cur["spec"].get("terminationGracePeriodSeconds", 30)
        return max(0, int(g))

    def wait_delete(self):
        self.deleting.wait()
        return self.finish_delete()

    def finish_delete(self):
        g = self.grace()
        log.info("%s: deleting (grace %ss)", self.key, g)
        self.stop_all(g)
        if self.phase not in ("Succeeded", "Failed"):
            codes = [c.state.get("terminated", {}).get("exitCode", 1) for c in self.containers]
            self.phase = "Succeeded" if codes and all(x == 0 for x in codes) and self.policy != "Always" else "Failed"
        self.write_status()
        self.r.ips.release(self.uid)
        self.api.delete(f"/api/v1/namespaces/{self.ns}/pods/{self.pname}",
                        {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                         "preconditions": {"uid": self.uid}})
        log.info("%s: deleted", self.key)


# --- the kubelet's log endpoint (for pods/log, `kubectl logs`) ------------------------------------------

class LogServer:
    """HTTPS on 127.0.0.1 with a CA-signed certificate; only clients with a CA-signed certificate
    (the API server's kubelet client certificate) get in. Serves
    GET /containerLogs/<ns>/<pod>/<container>?tailLines=&limitBytes=&follow= from <container>.log."""

    def __init__(self, runner):
        import http.server
        import ssl
        pki = os.path.join(STATE, "pki")
        self.runner = runner
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.serve(self)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(pki, "kubelet.crt"), os.path.join(pki, "kubelet.key"))
        ctx.load_verify_locations(os.path.join(pki, "ca.crt"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, name="kubelet-logs", daemon=True).start()

    @staticmethod
    def lines_of(data):
        return [ln for ln in data.splitlines(keepends=True) if not ln.startswith(b"--- ")]

    def serve(self, h):
        from urllib.parse import parse_qs, urlparse
        u = urlparse(h.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        parts = u.path.strip("/").split("/")
        if u.path in ("/healthz", "/readyz"):
            return self.reply(h, 200, b"ok")
        if len(parts) != 4 or parts[0] != "containerLogs":
            return self.reply(h, 404, b"not found: only /containerLogs/<ns>/<pod>/<container> is served here")
        ns, pod, cont = parts[1:]
        path = os.path.join(STATE, "pods", f"{ns}_{pod}", f"{cont}.log")
        if not os.path.exists(path):
            return self.reply(h, 404, f"no log for container {cont} of pod {ns}/{pod}".encode())
        with open(path, "rb") as f:
            lines = self.lines_of(f.read())
            if "tailLines" in q:
                n = int(q["tailLines"])
                lines = lines[-n:] if n > 0 else []
            body = b"".join(lines)
            if "limitBytes" in q:
                body = body[:int(q["limitBytes"])]
            h.send_response(200)
            h.send_header("Content-Type", "text/plain")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()

            def chunk(b):
                if b:
                    h.wfile.write(b"%x\r\n%s\r\n" % (len(b), b))
                    h.wfile.flush()
            try:
                chunk(body)
                if q.get("follow") in ("true", "1"):
                    pending = b""
                    while self.container_running(ns, pod, cont):
                        data = f.read()
                        if data:
                            pending += data
                            whole, _, pending = pending.rpartition(b"\n")
                            if whole:
                                chunk(b"".join(self.lines_of(whole + b"\n")))
                        else:
                            time.sleep(0.2)
                    chunk(b"".join(self.lines_of(pending + f.read())))
                h.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass

    def container_running(self, ns, pod, cont):
        for w in list(self.runner.workers.values()):
            if w.ns == ns and w.pname == pod:
                return any(c.name == cont and (c.running() or not c.done) for c in w.inits + w.containers) \
                    and not w.finished
        return False

    @staticmethod
    def reply(h, code, body):
        h.send_response(code)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


# --- the node and the watch loop -------------------------------------------------------------------

class Runner:
    def __init__(self, info):
        self.info = info
        self.api = Api(info)
        self.ips = IpPool()
        self.pods = {}     # uid -> latest pod object
        self.workers = {}  # uid -> PodWorker
        self.stop = threading.Event()

    def node_object(self):
        cap = {"cpu": os.environ.get("FEATHERMAN_NODE_CPU", "16"), "memory": os.environ.get("FEATHERMAN_NODE_MEMORY", "64Gi"),
               "pods": "110", "ephemeral-storage": "100Gi"}
        return {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
                                                      "kubernetes.io/arch": "amd64", "featherman.dev/test-node": "true"}},
                "spec": {}, "status": {"capacity": cap, "allocatable": cap}}

    def node_status(self):
        t = now()
        conds = [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "featherman pod runner is ready"}]
        for typ, reason in (("MemoryPressure", "KubeletHasSufficientMemory"), ("DiskPressure", "KubeletHasNoDiskPressure"),
                            ("PIDPressure", "KubeletHasSufficientPID")):
            conds.append({"type": typ, "status": "False", "reason": reason, "message": ""})
        for c in conds:
            c["lastHeartbeatTime"] = t
            c["lastTransitionTime"] = self.started
        cap = self.node_object()["status"]["capacity"]
        return {"status": {"conditions": conds, "capacity": cap, "allocatable": cap,
                           "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
                           "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
                           "nodeInfo": {"machineID": "featherman", "systemUUID": "featherman", "bootID": self.started,
                                        "kernelVersion": os.uname().release, "osImage": "featherman test pod runner",
                                        "containerRuntimeVersion": "featherman://local",
                                        "kubeletVersion": self.version, "kubeProxyVersion": "", "operatingSystem": "linux",
                                        "architecture": "amd64"}}}

    def register(self):
        self.started = now()
        self.kubelet_port = 0
        if os.path.exists(os.path.join(STATE, "pki", "kubelet.crt")):
            self.kubelet_port = LogServer(self).port
        self.version = self.api.get("/version").get("gitVersion", "v0.0.0")
        if self.api.get_opt(f"/api/v1/nodes/{NODE}") is None:
            self.api.post("/api/v1/nodes", self.node_object())
        self.api.merge_patch(f"/api/v1/nodes/{NODE}/status", self.node_status())
        self.renew_lease()
        log.info("node %s registered (%s)", NODE, self.version)

    def renew_lease(self):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}"
        spec = {"holderIdentity": NODE, "leaseDurationSeconds": LEASE_SECONDS, "renewTime": now_micro()}
        try:
            self.api.merge_patch(path, {"spec": spec})
        except ApiError as e:
            if e.code != 404:
                raise
            node = self.api.get(f"/api/v1/nodes/{NODE}")
            self.api.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": NODE, "namespace": "kube-node-lease", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": NODE, "uid": node["metadata"]["uid"]}]},
                "spec": spec})

    def heartbeat(self):
        n = 0
        while not self.stop.wait(RENEW_EVERY):
            try:
                self.renew_lease()
                n += 1
                if n % 6 == 0:  # node status every minute, as the kubelet's report frequency
                    self.api.merge_patch(f"/api/v1/nodes/{NODE}/status", self.node_status())
            except Exception as e:  # noqa: BLE001
                log.warning("heartbeat failed: %s", e)

    def bind(self, pod):
        m = pod["metadata"]
        if pod["spec"].get("schedulingGates"):
            return
        try:
            self.api.post(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}/binding", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": m["name"], "uid": m["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}})
            log.info("bound %s/%s to %s", m["namespace"], m["name"], NODE)
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("binding %s/%s failed: %s", m["namespace"], m["name"], e)

    def handle(self, typ, pod):
        m = pod["metadata"]
        uid = m["uid"]
        if typ == "DELETED":
            self.pods.pop(uid, None)
            w = self.workers.pop(uid, None)
            if w:
                w.deleting.set()
            self.ips.release(uid)
            return
        self.pods[uid] = pod
        node = pod["spec"].get("nodeName")
        if not node:
            if not m.get("deletionTimestamp"):
                self.bind(pod)
            return
        if node != NODE:
            return
        w = self.workers.get(uid)
        phase = pod.get("status", {}).get("phase")
        if w is None:
            if phase in ("Succeeded", "Failed"):
                # finished before this runner started (or ran it already): only deletion is left
                if m.get("deletionTimestamp"):
                    self.api.delete(f"/api/v1/namespaces/{m['namespace']}/pods/{m['name']}",
                                    {"gracePeriodSeconds": 0, "preconditions": {"uid": uid}})
                return
            w = PodWorker(self, pod)
            self.workers[uid] = w
            if m.get("deletionTimestamp"):
                w.deleting.set()
            w.start()
        if m.get("deletionTimestamp"):
            w.deleting.set()

    def safe_handle(self, typ, pod):
        try:
            self.handle(typ, pod)
        except Exception:  # noqa: BLE001 - one odd Pod must not stop the runner
            log.exception("handling %s of pod %s/%s", typ, pod.get("metadata", {}).get("namespace"),
                          pod.get("metadata", {}).get("name"))

    def cleanup_workers(self):
        for uid in [u for u, w in self.workers.items() if w.finished and u not in self.pods]:
            del self.workers[uid]

    def watch_pods(self):
        while not self.stop.is_set():
            try:
                lst = self.api.get("/api/v1/pods")
                seen = set()
                for p in lst.get("items", []):
                    seen.add(p["metadata"]["uid"])
                    self.safe_handle("ADDED", p)
                for uid in [u for u in list(self.pods) if u not in seen]:
                    self.safe_handle("DELETED", self.pods[uid])
                rv = lst["metadata"]["resourceVersion"]
                while not self.stop.is_set():
                    for ev in self.api.watch("/api/v1/pods", rv):
                        obj = ev.get("object", {})
                        if ev["type"] == "ERROR":
                            if obj.get("code") == 410:
                                raise ApiError(410, "gone")
                            raise ApiError(obj.get("code", 500), obj.get("message", "watch error"))
                        rv = obj["metadata"]["resourceVersion"]
                        if ev["type"] != "BOOKMARK":
                            self.safe_handle(ev["type"], obj)
                    self.cleanup_workers()
            except ApiError as e:
                if e.code != 410:
                    log.warning("pod watch: %s; relisting", e)
                    time.sleep(1)
            except (requests.RequestException, ValueError) as e:
                log.warning("pod watch interrupted: %s; relisting", e)
                time.sleep(1)

    def shutdown(self, *_):
        log.info("stopping: ending every pod process")
        self.stop.set()
        for w in list(self.workers.values()):
            for c in w.inits + w.containers:
                c.signal(signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline and any(c.running() for w in self.workers.values() for c in w.inits + w.containers):
            time.sleep(0.1)
        for w in list(self.workers.values()):
            for c in w.inits + w.containers:
                c.signal(signal.SIGKILL)
        os._exit(0)

    def run(self):
        self.register()
        threading.Thread(target=self.heartbeat, name="heartbeat", daemon=True).start()
        with open(os.path.join(STATE, "podrunner.ready"), "w") as f:
            f.write(NODE)
        self.watch_pods()


def main():
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(threadName)s: %(message)s", stream=sys.stdout)
    urllib3.disable_warnings()
    with open(os.path.join(STATE, "cluster.json")) as f:
        info = json.load(f)
    r = Runner(info)
    signal.signal(signal.SIGTERM, r.shutdown)
    signal.signal(signal.SIGINT, r.shutdown)
    log.info("featherman pod runner: node %s, FEATHERMAN_BIN=%s, state %s", NODE, featherman_bin(), STATE)
    r.run()


if __name__ == "__main__":
    main()
